//! Writes to the register: organisations, persons, members, groups and grants.
//!
//! Every write runs in one transaction (nothing half-written), checks its input with a specific
//! [`WriteError`] for each way it can be wrong, appends to the audit trail in the same
//! transaction, and returns what it [`Touched`]: the identity links whose grant sets may have
//! changed, computed inside the transaction so that it matches what was committed. Run writes
//! through [`super::Registry::write`], which invalidates those links in the cache afterwards.

use super::db::Pool;
use super::sql::{parse_role, scope_columns, status_text, SqlRegister};
use crate::config::ServiceConfig;
use crate::domain::grant::{
    validity_limit, GrantStatus, IdentityKey, Organisation, Role, Scope, Touched,
};
use crate::domain::identifiers::{is_kvk, is_rsin};
use crate::domain::level::Level;
use chrono::{DateTime, Months, Utc};
use serde::Serialize;
use std::collections::BTreeSet;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("invalid KvK number {0:?}: a KvK number has exactly 8 digits")]
    InvalidKvk(String),
    #[error("invalid RSIN {0:?}: an RSIN has 9 digits and passes the eleven-test")]
    InvalidRsin(String),
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("validity ends ({until}) before it starts ({from})")]
    EndsBeforeStart {
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    #[error("validity from {from} until {until} is longer than 5 years")]
    ValidityTooLong {
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    #[error("renewal by {0} years: choose 1, 3 or 5")]
    RenewalYears(u32),
    #[error("no service with ServiceUUID {0} in the service catalogue")]
    UnknownService(String),
    #[error("no provider {0} in the service catalogue")]
    UnknownProvider(String),
    #[error("no organisation with KvK number {0}")]
    UnknownOrganisation(String),
    #[error("no person {0}")]
    UnknownPerson(String),
    #[error("no group {group:?} in organisation {organisation}")]
    UnknownGroup { organisation: String, group: String },
    #[error("no grant {0}")]
    UnknownGrant(String),
    #[error("an organisation with KvK number {0} already exists")]
    DuplicateOrganisation(String),
    #[error("person {person} is already a member of organisation {organisation}")]
    DuplicateMember {
        person: String,
        organisation: String,
    },
    #[error("organisation {organisation} already has a group {group:?}")]
    DuplicateGroup { organisation: String, group: String },
    #[error("person {person} is already in group {group:?}")]
    DuplicateGroupMember { person: String, group: String },
    #[error("identity {subject:?} at {idp} is already linked to person {person}")]
    LinkTaken {
        idp: String,
        subject: String,
        person: String,
    },
    #[error(
        "grant {existing} already gives this holder this scope and level for an overlapping period"
    )]
    DuplicateGrant { existing: String },
    #[error("a grant with ID {0} already exists")]
    DuplicateGrantId(String),
    #[error("level {level} is above the granting administrator's own level ({})", admin_level.map(|l| l.to_string()).unwrap_or_else(|| "none".into()))]
    AboveAdminLevel {
        level: Level,
        admin_level: Option<Level>,
    },
    #[error("{holder} is not a member of organisation {organisation}")]
    HolderInOtherOrganisation {
        holder: String,
        organisation: String,
    },
    #[error("{actor} may not {action} in organisation {organisation}")]
    NotAllowed {
        actor: String,
        action: &'static str,
        organisation: String,
    },
    #[error("{actor} may not {action}: only an operator may")]
    OperatorOnly { actor: String, action: &'static str },
    #[error("organisation {0} must keep at least one hoofdbeheerder")]
    LastHoofdbeheerder(String),
    #[error("{0:?} is not an e-mail address")]
    InvalidEmail(String),
    #[error("{email} is already the e-mail address of a user of organisation {organisation}")]
    DuplicateEmail { email: String, organisation: String },
    #[error("no such invitation")]
    InvitationUnknown,
    #[error("this invitation has already been used")]
    InvitationUsed,
    #[error("this invitation has expired")]
    InvitationExpired,
    #[error("this invitation was withdrawn")]
    InvitationWithdrawn,
    #[error("grant {0} is revoked; reactivate it first")]
    GrantRevoked(String),
    #[error("person {0} is also a member of another organisation; their details cannot be changed from here")]
    SharedPerson(String),
    #[error("administrators cannot remove themselves")]
    RemoveSelf,
    #[error("an organisation cannot link its own members")]
    LinkOwnOrganisation,
    #[error("no such link request")]
    LinkRequestUnknown,
    #[error("this link request was already {0}")]
    LinkRequestDecided(String),
    #[error("this link request has expired")]
    LinkRequestExpired,
    #[error("register database: {0}")]
    Database(#[from] sqlx::Error),
}

impl WriteError {
    /// A short code for the refusal (`link_taken`, `duplicate_email`, …), for logs and metrics.
    pub fn reason_code(&self) -> &'static str {
        use WriteError as W;
        match self {
            W::InvalidKvk(_) => "invalid_kvk",
            W::InvalidRsin(_) => "invalid_rsin",
            W::Empty { .. } => "empty",
            W::EndsBeforeStart { .. } => "ends_before_start",
            W::ValidityTooLong { .. } => "validity_too_long",
            W::RenewalYears(_) => "renewal_years",
            W::UnknownService(_) => "unknown_service",
            W::UnknownProvider(_) => "unknown_provider",
            W::UnknownOrganisation(_) => "unknown_organisation",
            W::UnknownPerson(_) => "unknown_person",
            W::UnknownGroup { .. } => "unknown_group",
            W::UnknownGrant(_) => "unknown_grant",
            W::DuplicateOrganisation(_) => "duplicate_organisation",
            W::DuplicateMember { .. } => "duplicate_member",
            W::DuplicateGroup { .. } => "duplicate_group",
            W::DuplicateGroupMember { .. } => "duplicate_group_member",
            W::LinkTaken { .. } => "link_taken",
            W::DuplicateGrant { .. } => "duplicate_grant",
            W::DuplicateGrantId(_) => "duplicate_grant_id",
            W::AboveAdminLevel { .. } => "above_admin_level",
            W::HolderInOtherOrganisation { .. } => "holder_in_other_organisation",
            W::NotAllowed { .. } => "not_allowed",
            W::OperatorOnly { .. } => "operator_only",
            W::LastHoofdbeheerder(_) => "last_hoofdbeheerder",
            W::InvalidEmail(_) => "invalid_email",
            W::DuplicateEmail { .. } => "duplicate_email",
            W::InvitationUnknown => "invitation_unknown",
            W::InvitationUsed => "invitation_used",
            W::InvitationExpired => "invitation_expired",
            W::InvitationWithdrawn => "invitation_withdrawn",
            W::GrantRevoked(_) => "grant_revoked",
            W::SharedPerson(_) => "shared_person",
            W::RemoveSelf => "remove_self",
            W::LinkOwnOrganisation => "link_own_organisation",
            W::LinkRequestUnknown => "link_request_unknown",
            W::LinkRequestDecided(_) => "link_request_decided",
            W::LinkRequestExpired => "link_request_expired",
            W::Database(_) => "database",
        }
    }

    /// The error as a log line may carry it: register IDs, organisation KvK numbers and codes,
    /// never what a person typed or is known by (e-mail addresses, AD subjects, an invitee's
    /// identity, an operator's name). The full text stays for the admin's page, the API's
    /// answer and the operator's terminal.
    pub fn redacted(&self) -> RedactedWriteError<'_> {
        RedactedWriteError(self)
    }
}

/// [`WriteError::redacted`]: the refusal without personal data.
#[derive(Debug, Clone, Copy)]
pub struct RedactedWriteError<'a>(&'a WriteError);

impl std::fmt::Display for RedactedWriteError<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use WriteError as W;
        // An actor is `person:<register ID>` (said), or an operator's name or an invitee's
        // AD identity (not said).
        let actor = |a: &str| -> String {
            match a.strip_prefix("person:") {
                Some(_) => a.to_string(),
                None => a.split(':').next().unwrap_or("someone").to_string(),
            }
        };
        let code = self.0.reason_code();
        match self.0 {
            // What someone typed or is known by: the code says what was wrong.
            W::InvalidKvk(_) | W::InvalidRsin(_) | W::InvalidEmail(_) => {
                write!(f, "{code}: the value is not usable")
            }
            W::LinkTaken { idp, person, .. } => write!(
                f,
                "{code}: the identity at {idp} is already linked to person {person}"
            ),
            W::DuplicateEmail { organisation, .. } => write!(
                f,
                "{code}: the e-mail address is already that of a user of organisation \
                 {organisation}"
            ),
            W::NotAllowed {
                actor: a,
                action,
                organisation,
            } => write!(
                f,
                "{code}: {} may not {action} in organisation {organisation}",
                actor(a)
            ),
            W::OperatorOnly { actor: a, action } => {
                write!(f, "{code}: {} may not {action}", actor(a))
            }
            // The rest names register IDs, organisations, groups, grants and dates only.
            other => write!(f, "{code}: {other}"),
        }
    }
}

/// One grant of an import, with the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    pub line: usize,
    pub request: GrantRequest,
    pub status: GrantStatus,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{} row(s) refused, nothing imported:\n{}", .0.len(), .0.iter().map(|(line, e)| format!("line {line}: {e}")).collect::<Vec<_>>().join("\n"))]
    Rows(Vec<(usize, WriteError)>),
    #[error("register database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Who writes: an operator (the command line) or an administrator of the organisation, who may
/// do only what their roles allow and grant only up to their own level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Operator(String),
    Admin(String),
    /// Someone accepting an invitation: their identity at the AD (`<AD>#<subject>`).
    Invitee(String),
}

impl Actor {
    /// As recorded in the audit trail and `created_by`.
    pub fn name(&self) -> String {
        match self {
            Actor::Operator(name) => format!("operator:{name}"),
            Actor::Admin(person) => format!("person:{person}"),
            Actor::Invitee(identity) => format!("identity:{identity}"),
        }
    }
}

/// A new organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NewOrganisation {
    pub kvk: String,
    pub rsin: Option<String>,
    pub name: String,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
}

/// Changes to an organisation; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OrganisationChanges {
    pub name: Option<String>,
    pub rsin: Option<Option<String>>,
    pub contact_name: Option<Option<String>>,
    pub contact_email: Option<Option<String>>,
    pub contact_phone: Option<Option<String>>,
    pub contact_address: Option<Option<String>>,
}

/// Who holds a grant: a person's membership of the organisation, or a group of it (by name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Holder {
    Person(String),
    Group(String),
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Holder::Person(p) => write!(f, "person {p}"),
            Holder::Group(g) => write!(f, "group {g:?}"),
        }
    }
}

/// A grant to add.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantRequest {
    /// `None`: the register makes one.
    pub id: Option<String>,
    /// KvK number.
    pub organisation: String,
    pub holder: Holder,
    pub scope: Scope,
    pub level: Level,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
}

/// How to renew a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// Valid from now until this instant.
    Until(DateTime<Utc>),
    /// By 1, 3 or 5 years beyond its current end (or beyond now, when it has ended).
    Years(u32),
}

/// A grant as listed and exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantRecord {
    pub id: String,
    pub organisation: Organisation,
    pub holder: Holder,
    pub scope: Scope,
    pub level: Level,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub status: GrantStatus,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_by: Option<String>,
    /// The holding person's name, for lists (`None` for a group, or a person without one).
    pub holder_name: Option<String>,
}

/// Which grants to list; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantFilter {
    /// KvK number.
    pub organisation: Option<String>,
    /// Grants this person holds, directly or through a group.
    pub person: Option<String>,
    pub status: Option<GrantStatus>,
    /// Grants whose scope covers this catalogue service (by ServiceUUID).
    pub service: Option<crate::grants::ServiceRef>,
    /// One grant by its ID.
    pub id: Option<String>,
    /// In force at this instant (active and not ended) or not (revoked or ended).
    pub in_force: Option<(bool, DateTime<Utc>)>,
    /// Part of the holder's name (the person's or the group's), case-insensitive.
    pub search: Option<String>,
    /// Only grants held by these groups (by name) or by their members: a groepsbeheerder's view.
    pub groups: Option<Vec<String>>,
}

/// A value bound to a query built from the filters in use.
enum SqlArg {
    Text(String),
    Time(DateTime<Utc>),
}

/// The values of such a query, numbered as they are added (`$1`, `$2`, …).
#[derive(Default)]
struct SqlArgs(Vec<SqlArg>);

impl SqlArgs {
    fn text(&mut self, value: &str) -> String {
        self.0.push(SqlArg::Text(value.to_string()));
        format!("${}", self.0.len())
    }

    fn time(&mut self, value: DateTime<Utc>) -> String {
        self.0.push(SqlArg::Time(value));
        format!("${}", self.0.len())
    }
}

/// A `LIKE` pattern (escape `\`) matching `text` anywhere, case-folded.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// A member as shown with their organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberView {
    pub person: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub language: Option<String>,
    pub roles: Vec<Role>,
    pub blocked: bool,
    pub status: MemberStatus,
    /// The last login allowed for this organisation (any service, the admin module included).
    pub last_login: Option<DateTime<Utc>>,
    /// Groups of the organisation the member is in, and whether they are blocked there.
    pub groups: Vec<(String, bool)>,
}

/// An organisation with its members, groups and grant counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrganisationView {
    pub organisation: Organisation,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_address: Option<String>,
    pub members: Vec<MemberView>,
    pub groups: Vec<String>,
    pub grants_active: i64,
    pub grants_revoked: i64,
    /// Active grants whose validity has ended.
    pub grants_expired: i64,
}

pub fn check_kvk(kvk: &str) -> Result<(), WriteError> {
    if is_kvk(kvk) {
        Ok(())
    } else {
        Err(WriteError::InvalidKvk(kvk.to_string()))
    }
}

pub fn check_rsin(rsin: &str) -> Result<(), WriteError> {
    if is_rsin(rsin) {
        Ok(())
    } else {
        Err(WriteError::InvalidRsin(rsin.to_string()))
    }
}

/// A validity period: ends after it starts, at most 5 years long.
pub fn check_validity(from: DateTime<Utc>, until: DateTime<Utc>) -> Result<(), WriteError> {
    if until <= from {
        return Err(WriteError::EndsBeforeStart { from, until });
    }
    match validity_limit(from) {
        Some(limit) if until <= limit => Ok(()),
        _ => Err(WriteError::ValidityTooLong { from, until }),
    }
}

/// A scope must name what the catalogue knows: a service by its UUID, or a provider that offers
/// at least one service (later services of that provider are covered too).
pub fn check_scope(scope: &Scope, catalogue: &[ServiceConfig]) -> Result<(), WriteError> {
    match scope {
        Scope::AllServices => Ok(()),
        Scope::Provider { provider } => {
            if catalogue.iter().any(|s| &s.provider == provider) {
                Ok(())
            } else {
                Err(WriteError::UnknownProvider(provider.clone()))
            }
        }
        Scope::Service { uuid } => {
            if catalogue.iter().any(|s| &s.uuid == uuid) {
                Ok(())
            } else {
                Err(WriteError::UnknownService(uuid.clone()))
            }
        }
    }
}

fn json<T: Serialize>(value: &T) -> Option<String> {
    serde_json::to_string(value).ok()
}

fn years(n: u32) -> Result<Months, WriteError> {
    match n {
        1 | 3 | 5 => Ok(Months::new(n * 12)),
        other => Err(WriteError::RenewalYears(other)),
    }
}

/// Runs `$body` in a transaction on either backend, committing when it finishes without `?`
/// returning early (an early return drops the transaction, which rolls it back).
macro_rules! in_tx {
    ($pool:expr, |$tx:ident| $body:block) => {
        match $pool {
            // IMMEDIATE: the write lock from the start, so that another connection's commit
            // between this transaction's first read and its first write cannot fail it.
            Pool::Sqlite(p) => {
                let mut $tx = p.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            Pool::Postgres(p) => {
                let mut $tx = p.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

/// Identity links of every person selected by `$sql` (one parameter).
macro_rules! links {
    ($tx:ident, $sql:expr, $param:expr) => {{
        let rows: Vec<(String, String)> = sqlx::query_as($sql)
            .bind($param)
            .fetch_all(&mut *$tx)
            .await?;
        rows.into_iter()
            .map(|(idp, subject)| IdentityKey { idp, subject })
            .collect::<BTreeSet<IdentityKey>>()
    }};
}

const LINKS_OF_PERSON: &str = "SELECT idp, subject FROM identity_links WHERE person_id = $1";
const LINKS_OF_GROUP: &str = "SELECT l.idp, l.subject FROM group_members gm \
    JOIN memberships m ON m.id = gm.membership_id \
    JOIN identity_links l ON l.person_id = m.person_id WHERE gm.group_id = $1";
/// Identity links of everyone who holds a grant: its member, or every member of its group.
pub(super) const HOLDERS_OF_GRANT: &str = "SELECT l.idp, l.subject FROM grants g \
       JOIN memberships m ON m.id = g.membership_id \
       JOIN identity_links l ON l.person_id = m.person_id WHERE g.id = $1 \
     UNION \
     SELECT l.idp, l.subject FROM grants g \
       JOIN group_members gm ON gm.group_id = g.group_id \
       JOIN memberships m ON m.id = gm.membership_id \
       JOIN identity_links l ON l.person_id = m.person_id WHERE g.id = $1";
const LINKS_OF_ORGANISATION: &str = "SELECT l.idp, l.subject FROM memberships m \
    JOIN identity_links l ON l.person_id = m.person_id WHERE m.organisation_id = $1";

/// Appends one audit row.
macro_rules! audit {
    ($tx:ident, $actor:expr, $org:expr, $action:expr, $before:expr, $after:expr) => {{
        let actor = $actor.name();
        let organisation: Option<&String> = $org.into();
        let organisation = organisation.map(String::as_str);
        let before: Option<String> = $before;
        let after: Option<String> = $after;
        crate::grants::audit::AuditLog::append_audit(
            &mut *$tx,
            crate::grants::audit::AuditEntry {
                at: Utc::now(),
                actor: &actor,
                organisation_id: organisation,
                action: $action,
                before: before.as_deref(),
                after: after.as_deref(),
            },
        )
        .await?;
    }};
}

/// The organisation's internal ID and name, or [`WriteError::UnknownOrganisation`].
macro_rules! organisation {
    ($tx:ident, $kvk:expr) => {{
        let found: Option<(String, String)> =
            sqlx::query_as("SELECT id, name FROM organisations WHERE kvk = $1")
                .bind($kvk)
                .fetch_optional(&mut *$tx)
                .await?;
        found.ok_or_else(|| WriteError::UnknownOrganisation($kvk.to_string()))?
    }};
}

/// How many unblocked hoofdbeheerders the organisation has: administrators cannot leave an
/// organisation that has one without any (operators can, e.g. to block a departed one).
macro_rules! hoofdbeheerders {
    ($tx:ident, $org_id:expr) => {{
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM memberships m JOIN membership_roles r ON r.membership_id = m.id \
             WHERE m.organisation_id = $1 AND r.role = 'hoofdbeheerder' AND NOT m.blocked",
        )
        .bind($org_id)
        .fetch_one(&mut *$tx)
        .await?;
        n
    }};
}

/// The membership ID of a person in an organisation, if any.
macro_rules! membership {
    ($tx:ident, $person:expr, $org_id:expr) => {{
        let found: Option<String> = sqlx::query_scalar(
            "SELECT id FROM memberships WHERE person_id = $1 AND organisation_id = $2",
        )
        .bind($person)
        .bind($org_id)
        .fetch_optional(&mut *$tx)
        .await?;
        found
    }};
}

/// Makes `$person` a member of `$org_id` with `$roles` (unblocked); the membership's ID.
macro_rules! insert_membership {
    ($tx:ident, $person:expr, $org_id:expr, $roles:expr, $now:expr) => {{
        let membership = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO memberships (id, person_id, organisation_id, blocked, created_at) \
             VALUES ($1, $2, $3, FALSE, $4)",
        )
        .bind(&membership)
        .bind($person)
        .bind($org_id)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
        for role in $roles {
            sqlx::query(
                "INSERT INTO membership_roles (membership_id, role) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&membership)
            .bind(role.as_str())
            .execute(&mut *$tx)
            .await?;
        }
        membership
    }};
}

/// A group's ID by organisation and name, or [`WriteError::UnknownGroup`].
macro_rules! group {
    ($tx:ident, $org_id:expr, $kvk:expr, $name:expr) => {{
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM groups WHERE organisation_id = $1 AND name = $2")
                .bind($org_id)
                .bind($name)
                .fetch_optional(&mut *$tx)
                .await?;
        found.ok_or_else(|| WriteError::UnknownGroup {
            organisation: $kvk.to_string(),
            group: $name.to_string(),
        })?
    }};
}

/// What an administrator may do, checked against their roles in the organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Users and grants of the whole organisation: hoofdbeheerder or beheerder.
    Manage,
    /// Users and grants of one group: also a groepsbeheerder who administers that group.
    ManageGroup,
    /// Appointing hoofdbeheerders and beheerders: hoofdbeheerder only.
    Appoint,
}

/// Fails unless the actor may do `$action` ([`Need`]) in the organisation; for group work
/// `$group` is the group's ID.
macro_rules! authorise {
    ($tx:ident, $actor:expr, $org_id:expr, $kvk:expr, $need:expr, $group:expr, $action:expr) => {
        if let Actor::Admin(person) = $actor {
            let roles: Vec<String> = sqlx::query_scalar(
                "SELECT r.role FROM membership_roles r JOIN memberships m ON m.id = r.membership_id \
                 WHERE m.person_id = $1 AND m.organisation_id = $2 AND NOT m.blocked",
            )
            .bind(person)
            .bind($org_id)
            .fetch_all(&mut *$tx)
            .await?;
            let has = |r: &str| roles.iter().any(|x| x == r);
            let mut allowed = match $need {
                Need::Appoint => has("hoofdbeheerder"),
                _ => has("hoofdbeheerder") || has("beheerder"),
            };
            if !allowed && $need == Need::ManageGroup && has("groepsbeheerder") {
                let group: Option<&str> = $group;
                if let Some(group) = group {
                    let in_group: Option<i32> = sqlx::query_scalar(
                        "SELECT 1 FROM group_members gm JOIN memberships m \
                         ON m.id = gm.membership_id \
                         WHERE gm.group_id = $1 AND m.person_id = $2 AND gm.admin \
                           AND NOT gm.blocked",
                    )
                    .bind(group)
                    .bind(person)
                    .fetch_optional(&mut *$tx)
                    .await?;
                    allowed = in_group.is_some();
                }
            }
            if !allowed {
                return Err(WriteError::NotAllowed {
                    actor: $actor.name(),
                    action: $action,
                    organisation: $kvk.to_string(),
                });
            }
        }
    };
}

/// Fails unless an administrator's own level reaches `$level`: the highest level among their
/// own active, currently valid grants in the organisation (held directly or through a group),
/// leaving out what a block suspends.
macro_rules! within_admin_level {
    ($tx:ident, $actor:expr, $org_id:expr, $level:expr) => {
        if let Actor::Admin(person) = $actor {
            let now = Utc::now();
            let rows: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
                "SELECT g.level, g.valid_from, g.valid_until FROM grants g \
                   JOIN memberships m ON m.id = g.membership_id \
                  WHERE m.person_id = $1 AND m.organisation_id = $2 AND g.status = 'active' \
                    AND NOT m.blocked \
                 UNION ALL \
                 SELECT g.level, g.valid_from, g.valid_until FROM grants g \
                   JOIN group_members gm ON gm.group_id = g.group_id \
                   JOIN memberships m ON m.id = gm.membership_id \
                  WHERE m.person_id = $1 AND m.organisation_id = $2 AND g.status = 'active' \
                    AND NOT m.blocked AND NOT gm.blocked",
            )
            .bind(person)
            .bind($org_id)
            .fetch_all(&mut *$tx)
            .await?;
            let admin_level = rows
                .iter()
                .filter(|(_, from, until)| *from <= now && now < *until)
                .filter_map(|(level, _, _)| Level::from_str(level).ok())
                .max();
            if admin_level.is_none_or(|own| $level > own) {
                return Err(WriteError::AboveAdminLevel {
                    level: $level,
                    admin_level,
                });
            }
        }
    };
}

/// A grant's organisation ID, KvK, level, status, validity and group (if a group holds it),
/// or [`WriteError::UnknownGrant`].
macro_rules! grant_row {
    ($tx:ident, $grant:expr) => {{
        type Row = (
            String,
            String,
            String,
            String,
            DateTime<Utc>,
            DateTime<Utc>,
            Option<String>,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT g.organisation_id, o.kvk, g.level, g.status, g.valid_from, g.valid_until, \
             g.group_id FROM grants g JOIN organisations o ON o.id = g.organisation_id \
             WHERE g.id = $1",
        )
        .bind($grant)
        .fetch_optional(&mut *$tx)
        .await?;
        let row = row.ok_or_else(|| WriteError::UnknownGrant($grant.to_string()))?;
        let level = Level::from_str(&row.2)
            .map_err(|e| WriteError::Database(sqlx::Error::Protocol(e.to_string())))?;
        (row.0, row.1, level, row.3, row.4, row.5, row.6)
    }};
}

/// Fails with [`WriteError::DuplicateGrant`] when another active grant gives the same holder
/// the same scope and level for a period overlapping `$from`..`$until`: what [`insert_grant!`]
/// refuses for a new grant, a renewal or reactivation must not bring about either.
macro_rules! no_overlap_with_others {
    ($tx:ident, $grant:expr, $from:expr, $until:expr) => {{
        let others: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
            "SELECT o.id, o.valid_from, o.valid_until FROM grants g JOIN grants o \
               ON o.organisation_id = g.organisation_id AND o.level = g.level \
              AND o.scope_kind = g.scope_kind \
              AND COALESCE(o.provider, '') = COALESCE(g.provider, '') \
              AND COALESCE(o.service_uuid, '') = COALESCE(g.service_uuid, '') \
              AND COALESCE(o.membership_id, '') = COALESCE(g.membership_id, '') \
              AND COALESCE(o.group_id, '') = COALESCE(g.group_id, '') \
             WHERE g.id = $1 AND o.id <> g.id AND o.status = 'active'",
        )
        .bind($grant)
        .fetch_all(&mut *$tx)
        .await?;
        let (from, until): (DateTime<Utc>, DateTime<Utc>) = ($from, $until);
        if let Some((existing, _, _)) = others
            .iter()
            .find(|(_, other_from, other_until)| *other_from < until && from < *other_until)
        {
            return Err(WriteError::DuplicateGrant {
                existing: existing.clone(),
            });
        }
    }};
}

/// Identity links of everyone who holds a grant: its member, or every member of its group.
macro_rules! holders {
    ($tx:ident, $grant:expr) => {{
        links!($tx, HOLDERS_OF_GRANT, $grant)
    }};
}

/// Checks one grant and inserts it inside the caller's transaction, with its audit row: the
/// grant's ID and the identity links it touches. Shared by [`SqlRegister::add_grant`] and
/// [`SqlRegister::import_grants`].
macro_rules! insert_grant {
    ($tx:ident, $actor:expr, $catalogue:expr, $request:expr, $status:expr) => {
        async {
            let actor: &Actor = $actor;
            let catalogue: &[ServiceConfig] = $catalogue;
            let request: &GrantRequest = $request;
            check_validity(request.valid_from, request.valid_until)?;
            check_scope(&request.scope, catalogue)?;
            let kvk = request.organisation.as_str();
            check_kvk(kvk)?;
            let id = match &request.id {
                Some(id) if id.trim().is_empty() => {
                    return Err(WriteError::Empty { what: "grant ID" })
                }
                Some(id) => id.clone(),
                None => format!("g-{}", uuid::Uuid::new_v4().simple()),
            };
            let (kind, provider, service_uuid) = scope_columns(&request.scope);
            let (org_id, _) = organisation!($tx, kvk);
            // An administrator must administer this organisation before anything about its
            // members or groups is told: otherwise the errors below would say whether a person
            // or group exists in an organisation they have no rights in.
            if let Actor::Admin(admin) = actor {
                let roles: Vec<String> = sqlx::query_scalar(
                    "SELECT r.role FROM membership_roles r \
                     JOIN memberships m ON m.id = r.membership_id \
                     WHERE m.person_id = $1 AND m.organisation_id = $2 AND NOT m.blocked \
                       AND r.role IN ('hoofdbeheerder', 'beheerder', 'groepsbeheerder')",
                )
                .bind(admin)
                .bind(&org_id)
                .fetch_all(&mut *$tx)
                .await?;
                if roles.is_empty() {
                    return Err(WriteError::NotAllowed {
                        actor: actor.name(),
                        action: "add grants",
                        organisation: kvk.to_string(),
                    });
                }
            }
            // The holder: a membership or a group, of this organisation.
            let (membership_id, group_id, touched) = match &request.holder {
                Holder::Person(person) => {
                    let membership = match membership!($tx, person, &org_id) {
                        Some(m) => m,
                        None => {
                            let known: Option<String> =
                                sqlx::query_scalar("SELECT id FROM persons WHERE id = $1")
                                    .bind(person)
                                    .fetch_optional(&mut *$tx)
                                    .await?;
                            return Err(match known {
                                None => WriteError::UnknownPerson(person.clone()),
                                Some(_) => WriteError::HolderInOtherOrganisation {
                                    holder: request.holder.to_string(),
                                    organisation: kvk.to_string(),
                                },
                            });
                        }
                    };
                    authorise!($tx, actor, &org_id, kvk, Need::Manage, None, "add grants");
                    let links = links!($tx, LINKS_OF_PERSON, person);
                    (Some(membership), None, links)
                }
                Holder::Group(name) => {
                    let group_id = group!($tx, &org_id, kvk, name);
                    authorise!(
                        $tx,
                        actor,
                        &org_id,
                        kvk,
                        Need::ManageGroup,
                        Some(group_id.as_str()),
                        "add grants"
                    );
                    let links = links!($tx, LINKS_OF_GROUP, &group_id);
                    (None, Some(group_id), links)
                }
            };
            within_admin_level!($tx, actor, &org_id, request.level);
            // The same holder, scope and level, active, for an overlapping period: a duplicate.
            let same: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
                "SELECT id, valid_from, valid_until FROM grants \
                  WHERE organisation_id = $1 AND status = 'active' AND level = $2 \
                    AND scope_kind = $3 AND COALESCE(provider, '') = $4 \
                    AND COALESCE(service_uuid, '') = $5 \
                    AND COALESCE(membership_id, '') = $6 AND COALESCE(group_id, '') = $7",
            )
            .bind(&org_id)
            .bind(request.level.to_string())
            .bind(kind)
            .bind(provider.clone().unwrap_or_default())
            .bind(service_uuid.clone().unwrap_or_default())
            .bind(membership_id.clone().unwrap_or_default())
            .bind(group_id.clone().unwrap_or_default())
            .fetch_all(&mut *$tx)
            .await?;
            if let Some((existing, _, _)) = same
                .iter()
                .find(|(_, from, until)| *from < request.valid_until && request.valid_from < *until)
            {
                return Err(WriteError::DuplicateGrant {
                    existing: existing.clone(),
                });
            }
            // Checked before inserting: on PostgreSQL a failed statement would end the whole
            // transaction, and an import reports every bad row.
            let taken: Option<String> = sqlx::query_scalar("SELECT id FROM grants WHERE id = $1")
                .bind(&id)
                .fetch_optional(&mut *$tx)
                .await?;
            if taken.is_some() {
                return Err(WriteError::DuplicateGrantId(id.clone()));
            }
            sqlx::query(
                "INSERT INTO grants (id, organisation_id, membership_id, group_id, scope_kind, \
                 provider, service_uuid, level, valid_from, valid_until, status, created_by, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(&id)
            .bind(&org_id)
            .bind(&membership_id)
            .bind(&group_id)
            .bind(kind)
            .bind(&provider)
            .bind(&service_uuid)
            .bind(request.level.to_string())
            .bind(request.valid_from)
            .bind(request.valid_until)
            .bind(status_text($status))
            .bind(actor.name())
            .bind(Utc::now())
            .execute(&mut *$tx)
            .await
            .map_err(|e| unique_or(e, || WriteError::DuplicateGrantId(id.clone())))?;
            audit!(
                $tx,
                actor,
                &org_id,
                "grant.add",
                None::<String>,
                json(&(&id, request))
            );
            Ok::<_, WriteError>((id, touched))
        }
        .await
    };
}

/// Renews one grant inside the caller's transaction: its new end, after the same checks as
/// [`SqlRegister::renew_grant`].
macro_rules! renew_one {
    ($tx:ident, $actor:expr, $grant:expr, $renewal:expr, $now:expr) => {{
        let (actor, grant, renewal, now): (&Actor, &str, Renewal, DateTime<Utc>) =
            ($actor, $grant, $renewal, $now);
        let (org_id, kvk, level, status, from, until, group_id) = grant_row!($tx, grant);
        authorise!(
            $tx,
            actor,
            &org_id,
            &kvk,
            if group_id.is_some() {
                Need::ManageGroup
            } else {
                Need::Manage
            },
            group_id.as_deref(),
            "renew grants"
        );
        within_admin_level!($tx, actor, &org_id, level);
        if status == "revoked" {
            return Err(WriteError::GrantRevoked(grant.to_string()));
        }
        let new_until = match renewal {
            Renewal::Until(until) => until,
            Renewal::Years(n) => {
                let base = until.max(now);
                base.checked_add_months(years(n)?)
                    .ok_or(WriteError::ValidityTooLong { from: now, until })?
            }
        };
        // The period keeps its start unless the new end is more than 5 years after it;
        // then the renewal starts a new period today.
        let new_from = match validity_limit(from) {
            Some(limit) if new_until <= limit => from,
            _ => now,
        };
        check_validity(new_from, new_until)?;
        no_overlap_with_others!($tx, grant, new_from, new_until);
        sqlx::query(
            "UPDATE grants SET valid_from = $1, valid_until = $2, reminded_at = NULL WHERE id = $3",
        )
        .bind(new_from)
        .bind(new_until)
        .bind(grant)
        .execute(&mut *$tx)
        .await?;
        audit!(
            $tx,
            actor,
            &org_id,
            "grant.renew",
            json(&(grant, from, until)),
            json(&(grant, new_from, new_until))
        );
        new_until
    }};
}

/// Inserts import rows inside the caller's transaction: the IDs and links of the good rows and
/// every bad row with its line; a database failure returns [`ImportError::Database`] at once.
macro_rules! insert_rows {
    ($tx:ident, $actor:expr, $catalogue:expr, $rows:expr) => {{
        let rows: &[ImportRow] = $rows;
        let mut ids = Vec::with_capacity(rows.len());
        let mut links = BTreeSet::new();
        let mut bad = Vec::new();
        for row in rows {
            match insert_grant!($tx, $actor, $catalogue, &row.request, row.status) {
                Ok((id, touched)) => {
                    ids.push(id);
                    links.extend(touched);
                }
                Err(WriteError::Database(e)) => return Err(ImportError::Database(e)),
                Err(e) => bad.push((row.line, e)),
            }
        }
        (ids, links, bad)
    }};
}

/// Maps a unique-constraint violation to the error the caller names; other errors pass.
fn unique_or(e: sqlx::Error, duplicate: impl FnOnce() -> WriteError) -> WriteError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => duplicate(),
        _ => WriteError::Database(e),
    }
}

impl SqlRegister {
    /// Adds an organisation (operators only).
    pub async fn create_organisation(
        &self,
        actor: &Actor,
        new: &NewOrganisation,
    ) -> Result<(String, Touched), WriteError> {
        if !matches!(actor, Actor::Operator(_)) {
            return Err(WriteError::OperatorOnly {
                actor: actor.name(),
                action: "create organisations",
            });
        }
        check_kvk(&new.kvk)?;
        if let Some(rsin) = &new.rsin {
            check_rsin(rsin)?;
        }
        if new.name.trim().is_empty() {
            return Err(WriteError::Empty {
                what: "organisation name",
            });
        }
        let id = uuid::Uuid::new_v4().to_string();
        in_tx!(self.pool(), |tx| {
            sqlx::query(
                "INSERT INTO organisations (id, kvk, rsin, name, contact_name, contact_email, \
                 contact_phone, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&id)
            .bind(&new.kvk)
            .bind(&new.rsin)
            .bind(new.name.trim())
            .bind(&new.contact_name)
            .bind(&new.contact_email)
            .bind(&new.contact_phone)
            .bind(Utc::now())
            .execute(&mut *tx)
            .await
            .map_err(|e| unique_or(e, || WriteError::DuplicateOrganisation(new.kvk.clone())))?;
            audit!(
                tx,
                actor,
                &id,
                "organisation.create",
                None::<String>,
                json(new)
            );
        });
        Ok((id, Touched::default()))
    }

    /// Changes an organisation's name, RSIN or contact data. Its name and RSIN are part of
    /// every member's grant set, so all members are touched.
    pub async fn update_organisation(
        &self,
        actor: &Actor,
        kvk: &str,
        changes: &OrganisationChanges,
    ) -> Result<((), Touched), WriteError> {
        if let Some(Some(rsin)) = &changes.rsin {
            check_rsin(rsin)?;
        }
        if changes.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
            return Err(WriteError::Empty {
                what: "organisation name",
            });
        }
        in_tx!(self.pool(), |tx| {
            let (org_id, _) = organisation!(tx, kvk);
            authorise!(
                tx,
                actor,
                &org_id,
                kvk,
                Need::Manage,
                None,
                "change the organisation"
            );
            type Row = (
                String,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
            );
            let before: Row = sqlx::query_as(
                "SELECT name, rsin, contact_name, contact_email, contact_phone, contact_address \
                 FROM organisations WHERE id = $1",
            )
            .bind(&org_id)
            .fetch_one(&mut *tx)
            .await?;
            let after: Row = (
                changes
                    .name
                    .as_ref()
                    .map(|n| n.trim().to_string())
                    .unwrap_or_else(|| before.0.clone()),
                changes.rsin.clone().unwrap_or_else(|| before.1.clone()),
                changes
                    .contact_name
                    .clone()
                    .unwrap_or_else(|| before.2.clone()),
                changes
                    .contact_email
                    .clone()
                    .unwrap_or_else(|| before.3.clone()),
                changes
                    .contact_phone
                    .clone()
                    .unwrap_or_else(|| before.4.clone()),
                changes
                    .contact_address
                    .clone()
                    .unwrap_or_else(|| before.5.clone()),
            );
            sqlx::query(
                "UPDATE organisations SET name = $1, rsin = $2, contact_name = $3, \
                 contact_email = $4, contact_phone = $5, contact_address = $6 WHERE id = $7",
            )
            .bind(&after.0)
            .bind(&after.1)
            .bind(&after.2)
            .bind(&after.3)
            .bind(&after.4)
            .bind(&after.5)
            .bind(&org_id)
            .execute(&mut *tx)
            .await?;
            let touched = links!(tx, LINKS_OF_ORGANISATION, &org_id);
            audit!(
                tx,
                actor,
                &org_id,
                "organisation.update",
                json(&before),
                json(&after)
            );
            Ok(((), Touched { links: touched }))
        })
    }

    /// Links an identity (AD entity + subject) to a person, creating the person when new
    /// (operators only). The link's cached answer ("nobody") is touched.
    pub async fn link_person(
        &self,
        actor: &Actor,
        person: &str,
        name: Option<&str>,
        idp: &str,
        subject: &str,
    ) -> Result<((), Touched), WriteError> {
        if !matches!(actor, Actor::Operator(_)) {
            return Err(WriteError::OperatorOnly {
                actor: actor.name(),
                action: "link identities",
            });
        }
        for (what, value) in [
            ("person ID", person),
            ("AD entity ID", idp),
            ("subject", subject),
        ] {
            if value.trim().is_empty() {
                return Err(WriteError::Empty { what });
            }
        }
        in_tx!(self.pool(), |tx| {
            let holder: Option<String> = sqlx::query_scalar(
                "SELECT person_id FROM identity_links WHERE idp = $1 AND subject = $2",
            )
            .bind(idp)
            .bind(subject)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(holder) = holder {
                return Err(WriteError::LinkTaken {
                    idp: idp.to_string(),
                    subject: subject.to_string(),
                    person: holder,
                });
            }
            let exists: Option<String> = sqlx::query_scalar("SELECT id FROM persons WHERE id = $1")
                .bind(person)
                .fetch_optional(&mut *tx)
                .await?;
            let now = Utc::now();
            if exists.is_none() {
                sqlx::query("INSERT INTO persons (id, name, created_at) VALUES ($1, $2, $3)")
                    .bind(person)
                    .bind(name)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            } else if let Some(name) = name {
                sqlx::query("UPDATE persons SET name = $1 WHERE id = $2")
                    .bind(name)
                    .bind(person)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO identity_links (idp, subject, person_id, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(idp)
            .bind(subject)
            .bind(person)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                None::<&String>,
                "person.link",
                None::<String>,
                json(&(person, idp, subject))
            );
            let mut touched = links!(tx, LINKS_OF_PERSON, person);
            touched.insert(IdentityKey::new(idp, subject));
            Ok(((), Touched { links: touched }))
        })
    }

    /// Makes a person a member of an organisation with these roles.
    pub async fn add_member(
        &self,
        actor: &Actor,
        kvk: &str,
        person: &str,
        roles: &[Role],
    ) -> Result<((), Touched), WriteError> {
        in_tx!(self.pool(), |tx| {
            let (org_id, _) = organisation!(tx, kvk);
            authorise!(tx, actor, &org_id, kvk, Need::Manage, None, "add members");
            let exists: Option<String> = sqlx::query_scalar("SELECT id FROM persons WHERE id = $1")
                .bind(person)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(WriteError::UnknownPerson(person.to_string()));
            }
            let id = uuid::Uuid::new_v4().to_string();
            sqlx::query(
                "INSERT INTO memberships (id, person_id, organisation_id, blocked, created_at) \
                 VALUES ($1, $2, $3, FALSE, $4)",
            )
            .bind(&id)
            .bind(person)
            .bind(&org_id)
            .bind(Utc::now())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                unique_or(e, || WriteError::DuplicateMember {
                    person: person.to_string(),
                    organisation: kvk.to_string(),
                })
            })?;
            for role in roles {
                sqlx::query(
                    "INSERT INTO membership_roles (membership_id, role) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&id)
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
            }
            audit!(
                tx,
                actor,
                &org_id,
                "member.add",
                None::<String>,
                json(&(person, roles))
            );
            Ok((
                (),
                Touched {
                    links: links!(tx, LINKS_OF_PERSON, person),
                },
            ))
        })
    }

    /// Replaces a member's roles.
    pub async fn set_roles(
        &self,
        actor: &Actor,
        kvk: &str,
        person: &str,
        roles: &[Role],
    ) -> Result<((), Touched), WriteError> {
        in_tx!(self.pool(), |tx| {
            let (org_id, _) = organisation!(tx, kvk);
            authorise!(tx, actor, &org_id, kvk, Need::Manage, None, "change roles");
            let membership = membership!(tx, person, &org_id).ok_or_else(|| {
                WriteError::HolderInOtherOrganisation {
                    holder: format!("person {person}"),
                    organisation: kvk.to_string(),
                }
            })?;
            let before: Vec<String> =
                sqlx::query_scalar("SELECT role FROM membership_roles WHERE membership_id = $1")
                    .bind(&membership)
                    .fetch_all(&mut *tx)
                    .await?;
            // Giving or taking an administrator's role is the hoofdbeheerder's.
            let admin = |r: &str| r == "hoofdbeheerder" || r == "beheerder";
            if before.iter().any(|r| admin(r)) || roles.iter().any(|r| admin(r.as_str())) {
                let changes_admin = before.iter().filter(|r| admin(r)).count()
                    != roles.iter().filter(|r| admin(r.as_str())).count()
                    || roles
                        .iter()
                        .any(|r| admin(r.as_str()) && !before.iter().any(|b| b == r.as_str()));
                if changes_admin {
                    authorise!(
                        tx,
                        actor,
                        &org_id,
                        kvk,
                        Need::Appoint,
                        None,
                        "appoint administrators"
                    );
                }
            }
            let had = hoofdbeheerders!(tx, &org_id);
            sqlx::query("DELETE FROM membership_roles WHERE membership_id = $1")
                .bind(&membership)
                .execute(&mut *tx)
                .await?;
            for role in roles {
                sqlx::query(
                    "INSERT INTO membership_roles (membership_id, role) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&membership)
                .bind(role.as_str())
                .execute(&mut *tx)
                .await?;
            }
            if matches!(actor, Actor::Admin(_)) && had > 0 && hoofdbeheerders!(tx, &org_id) == 0 {
                return Err(WriteError::LastHoofdbeheerder(kvk.to_string()));
            }
            audit!(
                tx,
                actor,
                &org_id,
                "member.roles",
                json(&(person, before)),
                json(&(person, roles))
            );
            Ok((
                (),
                Touched {
                    links: links!(tx, LINKS_OF_PERSON, person),
                },
            ))
        })
    }

    /// Blocks or unblocks a member in the whole organisation (nothing is deleted).
    pub async fn set_member_blocked(
        &self,
        actor: &Actor,
        kvk: &str,
        person: &str,
        blocked: bool,
    ) -> Result<((), Touched), WriteError> {
        in_tx!(self.pool(), |tx| {
            let (org_id, _) = organisation!(tx, kvk);
            authorise!(tx, actor, &org_id, kvk, Need::Manage, None, "block members");
            let had = hoofdbeheerders!(tx, &org_id);
            let changed = sqlx::query(
                "UPDATE memberships SET blocked = $1 WHERE person_id = $2 AND organisation_id = $3",
            )
            .bind(blocked)
            .bind(person)
            .bind(&org_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Err(WriteError::HolderInOtherOrganisation {
                    holder: format!("person {person}"),
                    organisation: kvk.to_string(),
                });
            }
            if blocked
                && matches!(actor, Actor::Admin(_))
                && had > 0
                && hoofdbeheerders!(tx, &org_id) == 0
            {
                return Err(WriteError::LastHoofdbeheerder(kvk.to_string()));
            }
            let action = if blocked {
                "member.block"
            } else {
                "member.unblock"
            };
            audit!(
                tx,
                actor,
                &org_id,
                action,
                json(&(person, !blocked)),
                json(&(person, blocked))
            );
            Ok((
                (),
                Touched {
                    links: links!(tx, LINKS_OF_PERSON, person),
                },
            ))
        })
    }

    /// Adds a group to an organisation; its ID.
    pub async fn create_group(
        &self,
        actor: &Actor,
        kvk: &str,
        name: &str,
    ) -> Result<(String, Touched), WriteError> {
        if name.trim().is_empty() {
            return Err(WriteError::Empty { what: "group name" });
        }
        let id = uuid::Uuid::new_v4().to_string();
        in_tx!(self.pool(), |tx| {
            let (org_id, _) = organisation!(tx, kvk);
            authorise!(tx, actor, &org_id, kvk, Need::Manage, None, "create groups");
            sqlx::query(
                "INSERT INTO groups (id, organisation_id, name, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(&id)
            .bind(&org_id)
            .bind(name.trim())
            .bind(Utc::now())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                unique_or(e, || WriteError::DuplicateGroup {
                    organisation: kvk.to_string(),
                    group: name.to_string(),
                })
            })?;
            audit!(
                tx,
                actor,
                &org_id,
                "group.create",
                None::<String>,
                json(&name)
            );
        });
        Ok((id, Touched::default()))
    }

    /// Puts a member of the organisation in one of its groups; `admin` makes them an
    /// administrator of the group (with the groepsbeheerder role, they manage it).
    pub async fn add_to_group(
        &self,
        actor: &Actor,
        kvk: &str,
        group: &str,
        person: &str,
        admin: bool,
    ) -> Result<((), Touched), WriteError> {
        in_tx!(self.pool(), |tx| {
            let (org_id, _) = organisation!(tx, kvk);
            let group_id = group!(tx, &org_id, kvk, group);
            authorise!(
                tx,
                actor,
                &org_id,
                kvk,
                Need::ManageGroup,
                Some(group_id.as_str()),
                "change the group"
            );
            let membership = membership!(tx, person, &org_id).ok_or_else(|| {
                WriteError::HolderInOtherOrganisation {
                    holder: format!("person {person}"),
                    organisation: kvk.to_string(),
                }
            })?;
            sqlx::query(
                "INSERT INTO group_members (membership_id, group_id, organisation_id, blocked, \
                 admin) VALUES ($1, $2, $3, FALSE, $4)",
            )
            .bind(&membership)
            .bind(&group_id)
            .bind(&org_id)
            .bind(admin)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                unique_or(e, || WriteError::DuplicateGroupMember {
                    person: person.to_string(),
                    group: group.to_string(),
                })
            })?;
            audit!(
                tx,
                actor,
                &org_id,
                "group.add_member",
                None::<String>,
                json(&(group, person, admin))
            );
            Ok((
                (),
                Touched {
                    links: links!(tx, LINKS_OF_PERSON, person),
                },
            ))
        })
    }

    /// Blocks or unblocks a member for one group only: that group's grants are suspended for
    /// them, their own grants are not.
    pub async fn set_group_member_blocked(
        &self,
        actor: &Actor,
        kvk: &str,
        group: &str,
        person: &str,
        blocked: bool,
    ) -> Result<((), Touched), WriteError> {
        in_tx!(self.pool(), |tx| {
            let (org_id, _) = organisation!(tx, kvk);
            let group_id = group!(tx, &org_id, kvk, group);
            authorise!(
                tx,
                actor,
                &org_id,
                kvk,
                Need::ManageGroup,
                Some(group_id.as_str()),
                "block group members"
            );
            let changed = sqlx::query(
                "UPDATE group_members SET blocked = $1 WHERE group_id = $2 AND membership_id = \
                 (SELECT id FROM memberships WHERE person_id = $3 AND organisation_id = $4)",
            )
            .bind(blocked)
            .bind(&group_id)
            .bind(person)
            .bind(&org_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Err(WriteError::HolderInOtherOrganisation {
                    holder: format!("person {person} (in group {group:?})"),
                    organisation: kvk.to_string(),
                });
            }
            let action = if blocked {
                "group.block_member"
            } else {
                "group.unblock_member"
            };
            audit!(
                tx,
                actor,
                &org_id,
                action,
                json(&(group, person, !blocked)),
                json(&(group, person, blocked))
            );
            Ok((
                (),
                Touched {
                    links: links!(tx, LINKS_OF_PERSON, person),
                },
            ))
        })
    }

    /// Adds a grant; its ID. Checks the validity, the scope against the catalogue, that the
    /// holder belongs to the organisation, that no active grant already gives the same, and,
    /// for an administrator, their roles and their own level.
    pub async fn add_grant(
        &self,
        actor: &Actor,
        catalogue: &[ServiceConfig],
        request: &GrantRequest,
    ) -> Result<(String, Touched), WriteError> {
        in_tx!(self.pool(), |tx| {
            let (id, links) = insert_grant!(tx, actor, catalogue, request, GrantStatus::Active)?;
            Ok((id, Touched { links }))
        })
    }

    /// Adds many grants at once, all or nothing: every row is checked as [`Self::add_grant`]
    /// checks one (including against the rows before it), every bad row is reported with its
    /// line, and nothing is written unless all are good.
    pub async fn import_grants(
        &self,
        actor: &Actor,
        catalogue: &[ServiceConfig],
        rows: &[ImportRow],
    ) -> Result<(Vec<String>, Touched), ImportError> {
        in_tx!(self.pool(), |tx| {
            let (ids, links, bad) = insert_rows!(tx, actor, catalogue, rows);
            if !bad.is_empty() {
                return Err(ImportError::Rows(bad));
            }
            Ok((ids, Touched { links }))
        })
    }

    /// Every row [`Self::import_grants`] would refuse, with its line, writing nothing: the rows
    /// go in as an import would put them (so each is also checked against the rows before it),
    /// in a transaction that is always rolled back. For a file with rows that did not even
    /// read, so that one report names every bad row.
    pub async fn check_grants(
        &self,
        actor: &Actor,
        catalogue: &[ServiceConfig],
        rows: &[ImportRow],
    ) -> Result<Vec<(usize, WriteError)>, ImportError> {
        match self.pool() {
            Pool::Sqlite(p) => {
                let mut tx = p.begin().await?;
                let (_, _, bad) = insert_rows!(tx, actor, catalogue, rows);
                tx.rollback().await?;
                Ok(bad)
            }
            Pool::Postgres(p) => {
                let mut tx = p.begin().await?;
                let (_, _, bad) = insert_rows!(tx, actor, catalogue, rows);
                tx.rollback().await?;
                Ok(bad)
            }
        }
    }

    /// Renews a grant: valid from now until the new end. An administrator may renew only up to
    /// their own level.
    pub async fn renew_grant(
        &self,
        actor: &Actor,
        grant: &str,
        renewal: Renewal,
    ) -> Result<(DateTime<Utc>, Touched), WriteError> {
        let now = Utc::now();
        in_tx!(self.pool(), |tx| {
            let new_until = renew_one!(tx, actor, grant, renewal, now);
            let touched = holders!(tx, grant);
            Ok((new_until, Touched { links: touched }))
        })
    }

    /// Renews many grants at once, all or nothing (each checked as [`Self::renew_grant`]).
    pub async fn renew_grants(
        &self,
        actor: &Actor,
        grants: &[String],
        renewal: Renewal,
    ) -> Result<(Vec<DateTime<Utc>>, Touched), WriteError> {
        let now = Utc::now();
        in_tx!(self.pool(), |tx| {
            let mut ends = Vec::new();
            let mut links = BTreeSet::new();
            for grant in grants {
                ends.push(renew_one!(tx, actor, grant.as_str(), renewal, now));
                links.extend(holders!(tx, grant.as_str()));
            }
            Ok((ends, Touched { links }))
        })
    }

    /// Revokes a grant: refused at every replica from the next login on.
    pub async fn revoke_grant(
        &self,
        actor: &Actor,
        grant: &str,
    ) -> Result<((), Touched), WriteError> {
        self.set_grant_status(actor, grant, GrantStatus::Revoked)
            .await
    }

    /// Makes a revoked or lapsed grant active again, as if used today (so a lapse restarts).
    pub async fn reactivate_grant(
        &self,
        actor: &Actor,
        grant: &str,
    ) -> Result<((), Touched), WriteError> {
        self.set_grant_status(actor, grant, GrantStatus::Active)
            .await
    }

    async fn set_grant_status(
        &self,
        actor: &Actor,
        grant: &str,
        status: GrantStatus,
    ) -> Result<((), Touched), WriteError> {
        in_tx!(self.pool(), |tx| {
            let (org_id, kvk, level, current, from, until, group_id) = grant_row!(tx, grant);
            authorise!(
                tx,
                actor,
                &org_id,
                &kvk,
                if group_id.is_some() {
                    Need::ManageGroup
                } else {
                    Need::Manage
                },
                group_id.as_deref(),
                "change grants"
            );
            let (action, last_used) = match status {
                GrantStatus::Revoked => {
                    if current == "revoked" {
                        return Err(WriteError::GrantRevoked(grant.to_string()));
                    }
                    ("grant.revoke", None)
                }
                GrantStatus::Active => {
                    within_admin_level!(tx, actor, &org_id, level);
                    no_overlap_with_others!(tx, grant, from, until);
                    ("grant.reactivate", Some(Utc::now()))
                }
            };
            sqlx::query(
                "UPDATE grants SET status = $1, last_used_at = COALESCE($2, last_used_at) \
                 WHERE id = $3",
            )
            .bind(status_text(status))
            .bind(last_used)
            .bind(grant)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                &org_id,
                action,
                json(&(grant, &current)),
                json(&(grant, status_text(status)))
            );
            let touched = holders!(tx, grant);
            Ok(((), Touched { links: touched }))
        })
    }

    /// Grants matching the filter, by organisation name, then ID.
    pub async fn list_grants(&self, filter: &GrantFilter) -> Result<Vec<GrantRecord>, WriteError> {
        Ok(self.grants_where(filter, None).await?.0)
    }

    /// One page of the grants matching the filter (`offset`, `limit`), and how many match in
    /// all: the database pages, so an organisation with 100,000 grants reads only the page.
    pub async fn list_grants_page(
        &self,
        filter: &GrantFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<GrantRecord>, usize), WriteError> {
        self.grants_where(filter, Some((offset, limit))).await
    }

    async fn grants_where(
        &self,
        filter: &GrantFilter,
        page: Option<(usize, usize)>,
    ) -> Result<(Vec<GrantRecord>, usize), WriteError> {
        // Only the filters in use become SQL (a generic `$1 = '' OR …` would keep SQLite from
        // its indexes), and a page is chosen by grant ID first, joining only its 50 rows: an
        // organisation's 100,000 grants are counted and skipped in the index alone.
        let mut args = SqlArgs::default();
        let mut conds: Vec<String> = Vec::new();
        if let Some(kvk) = &filter.organisation {
            let p = args.text(kvk);
            conds.push(format!(
                "g.organisation_id = (SELECT id FROM organisations WHERE kvk = {p})"
            ));
        }
        if let Some(status) = filter.status {
            let p = args.text(status_text(status));
            conds.push(format!("g.status = {p}"));
        }
        if let Some(person) = &filter.person {
            let p = args.text(person);
            conds.push(format!(
                "(g.membership_id IN (SELECT id FROM memberships WHERE person_id = {p}) \
                  OR g.group_id IN (SELECT gm.group_id FROM group_members gm \
                     JOIN memberships pm ON pm.id = gm.membership_id WHERE pm.person_id = {p}))"
            ));
        }
        if let Some(id) = &filter.id {
            let p = args.text(id);
            conds.push(format!("g.id = {p}"));
        }
        if let Some(service) = &filter.service {
            let (provider, uuid) = (args.text(&service.provider), args.text(&service.uuid));
            conds.push(format!(
                "(g.scope_kind = 'all_services' \
                  OR (g.scope_kind = 'provider' AND g.provider = {provider}) \
                  OR (g.scope_kind = 'service' AND g.service_uuid = {uuid}))"
            ));
        }
        if let Some((in_force, at)) = filter.in_force {
            let p = args.time(at);
            conds.push(if in_force {
                format!("(g.status = 'active' AND g.valid_until > {p})")
            } else {
                format!("(g.status = 'revoked' OR g.valid_until <= {p})")
            });
        }
        let search = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if let Some(text) = search {
            let p = args.text(&like_pattern(text));
            conds.push(format!(
                "lower(COALESCE(p.name, gr.name, '')) LIKE {p} ESCAPE '\\'"
            ));
        }
        if let Some(groups) = &filter.groups {
            let marks: Vec<String> = groups.iter().map(|g| args.text(g)).collect();
            let list = if marks.is_empty() {
                "NULL".to_string()
            } else {
                marks.join(", ")
            };
            conds.push(format!(
                "(g.group_id IN (SELECT id FROM groups WHERE organisation_id = g.organisation_id \
                                 AND name IN ({list})) \
                  OR g.membership_id IN (SELECT gm.membership_id FROM group_members gm \
                     JOIN groups sg ON sg.id = gm.group_id \
                    WHERE sg.organisation_id = g.organisation_id AND sg.name IN ({list})))"
            ));
        }
        let filters = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        // Within one organisation the ID orders alone (and an index serves it).
        let by_organisation = filter.organisation.is_none();
        let order = if by_organisation {
            " ORDER BY o.name, g.id"
        } else {
            " ORDER BY g.id"
        };
        let mut joins = String::new();
        if by_organisation {
            joins.push_str(" JOIN organisations o ON o.id = g.organisation_id");
        }
        if search.is_some() {
            joins.push_str(
                " LEFT JOIN memberships m ON m.id = g.membership_id \
                  LEFT JOIN persons p ON p.id = m.person_id \
                  LEFT JOIN groups gr ON gr.id = g.group_id",
            );
        }
        const COLUMNS: &str = "SELECT g.id, o.kvk, o.rsin, o.name, m.person_id, gr.name, \
            g.scope_kind, g.provider, g.service_uuid, g.level, g.valid_from, g.valid_until, \
            g.status, g.last_used_at, g.created_by, p.name \
            FROM grants g JOIN organisations o ON o.id = g.organisation_id \
            LEFT JOIN memberships m ON m.id = g.membership_id \
            LEFT JOIN persons p ON p.id = m.person_id \
            LEFT JOIN groups gr ON gr.id = g.group_id";
        let (sql, count_sql) = match page {
            Some((offset, limit)) => (
                format!(
                    "{COLUMNS} WHERE g.id IN (SELECT g.id FROM grants g{joins}{filters}{order} \
                     LIMIT {limit} OFFSET {offset}){order}"
                ),
                Some(format!("SELECT COUNT(*) FROM grants g{joins}{filters}")),
            ),
            None => (format!("{COLUMNS}{filters}{order}"), None),
        };
        macro_rules! bound {
            ($q:expr) => {{
                let mut q = $q;
                for arg in &args.0 {
                    q = match arg {
                        SqlArg::Text(t) => q.bind(t.clone()),
                        SqlArg::Time(t) => q.bind(*t),
                    };
                }
                q
            }};
        }
        macro_rules! fetch {
            ($p:expr) => {{
                let rows: Vec<GrantRow> = bound!(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())))
                    .fetch_all($p)
                    .await?;
                let total: Option<i64> = match &count_sql {
                    Some(count_sql) => Some(
                        bound!(sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.clone())))
                            .fetch_one($p)
                            .await?,
                    ),
                    None => None,
                };
                (rows, total)
            }};
        }
        let (rows, total) = match self.pool() {
            Pool::Sqlite(p) => fetch!(p),
            Pool::Postgres(p) => fetch!(p),
        };
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(grant_record(r)?);
        }
        let total = total.map_or(out.len(), |t| usize::try_from(t).unwrap_or(0));
        Ok((out, total))
    }

    /// The identity links of a person (empty for an unknown person).
    pub async fn identity_links(&self, person: &str) -> Result<Vec<IdentityKey>, WriteError> {
        let rows: Vec<(String, String)> = match self.pool() {
            Pool::Sqlite(p) => {
                sqlx::query_as(LINKS_OF_PERSON)
                    .bind(person)
                    .fetch_all(p)
                    .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_as(LINKS_OF_PERSON)
                    .bind(person)
                    .fetch_all(p)
                    .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(|(idp, subject)| IdentityKey { idp, subject })
            .collect())
    }

    /// An organisation with its members, groups and grant counts.
    pub async fn show_organisation(&self, kvk: &str) -> Result<OrganisationView, WriteError> {
        let mut view = self.organisation_summary(kvk).await?;
        let (members, _) = self
            .list_members(kvk, &MemberQuery::default(), 0, usize::MAX)
            .await?;
        view.members = members;
        Ok(view)
    }

    /// An organisation with its contact data, groups and grant counts, without its members
    /// (who may be 10,000: [`SqlRegister::list_members`] pages them).
    pub async fn organisation_summary(&self, kvk: &str) -> Result<OrganisationView, WriteError> {
        let now = Utc::now();
        in_tx!(self.pool(), |tx| {
            type OrgRow = (
                String,
                String,
                Option<String>,
                String,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
            );
            let org: Option<OrgRow> = sqlx::query_as(
                "SELECT id, kvk, rsin, name, contact_name, contact_email, contact_phone, \
                 contact_address FROM organisations WHERE kvk = $1",
            )
            .bind(kvk)
            .fetch_optional(&mut *tx)
            .await?;
            let org = org.ok_or_else(|| WriteError::UnknownOrganisation(kvk.to_string()))?;
            let groups: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM groups WHERE organisation_id = $1 ORDER BY name",
            )
            .bind(&org.0)
            .fetch_all(&mut *tx)
            .await?;
            // Counted by the database: an organisation may hold 100,000 grants.
            let (revoked, expired, all): (i64, i64, i64) = sqlx::query_as(
                "SELECT CAST(COALESCE(SUM(CASE WHEN status = 'revoked' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                        CAST(COALESCE(SUM(CASE WHEN status <> 'revoked' AND valid_until <= $2 \
                                          THEN 1 ELSE 0 END), 0) AS BIGINT), \
                        COUNT(*) \
                   FROM grants WHERE organisation_id = $1",
            )
            .bind(&org.0)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            let mut view = OrganisationView {
                organisation: Organisation {
                    kvk: org.1,
                    rsin: org.2,
                    name: org.3,
                },
                contact_name: org.4,
                contact_email: org.5,
                contact_phone: org.6,
                contact_address: org.7,
                members: Vec::new(),
                groups,
                grants_active: 0,
                grants_revoked: 0,
                grants_expired: 0,
            };
            view.grants_revoked = revoked;
            view.grants_expired = expired;
            view.grants_active = all - revoked - expired;
            Ok::<_, WriteError>(view)
        })
    }
}

/// A row of the grant listing query.
type GrantRow = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
);

fn grant_record(r: GrantRow) -> Result<GrantRecord, WriteError> {
    let corrupt = |what: String| WriteError::Database(sqlx::Error::Protocol(what));
    let scope = match (r.6.as_str(), r.7, r.8) {
        ("all_services", None, None) => Scope::AllServices,
        ("provider", Some(provider), None) => Scope::Provider { provider },
        ("service", None, Some(uuid)) => Scope::Service { uuid },
        (kind, _, _) => return Err(corrupt(format!("grant {}: scope {kind:?}", r.0))),
    };
    let holder = match (r.4, r.5) {
        (Some(person), None) => Holder::Person(person),
        (None, Some(group)) => Holder::Group(group),
        _ => return Err(corrupt(format!("grant {}: no single holder", r.0))),
    };
    let level = Level::from_str(&r.9).map_err(|e| corrupt(format!("grant {}: {e}", r.0)))?;
    let status = match r.12.as_str() {
        "active" => GrantStatus::Active,
        "revoked" => GrantStatus::Revoked,
        other => return Err(corrupt(format!("grant {}: status {other:?}", r.0))),
    };
    let record = GrantRecord {
        id: r.0,
        organisation: Organisation {
            kvk: r.1,
            rsin: r.2,
            name: r.3,
        },
        holder,
        scope,
        level,
        valid_from: r.10,
        valid_until: r.11,
        status,
        last_used_at: r.13,
        created_by: r.14,
        holder_name: r.15,
    };
    Ok(record)
}

mod invitations;
mod links;
mod members;
pub use invitations::{
    is_email_address, token_hash, Accepted, Invitation, InvitationState, NewInvitation,
    INVITATION_LIFETIME,
};
pub use links::{LinkRequest, LinkRequestStatus, NewLinkRequest};
pub use members::{MemberDetails, MemberQuery, MemberStatus};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redacted_refusal_keeps_its_code_and_references_but_no_personal_data() {
        let cases = [
            (
                WriteError::LinkTaken {
                    idp: "urn:etoegang:AD:00000099990000000003:entities:1".into(),
                    subject: "anna-subject".into(),
                    person: "5f0c0b9e-person".into(),
                },
                "anna-subject",
                "link_taken",
                Some("5f0c0b9e-person"),
            ),
            (
                WriteError::DuplicateEmail {
                    email: "anna@bakkerij.example".into(),
                    organisation: "12345678".into(),
                },
                "anna@bakkerij.example",
                "duplicate_email",
                Some("12345678"),
            ),
            (
                WriteError::InvalidEmail("anna de vries at bakkerij".into()),
                "anna de vries",
                "invalid_email",
                None,
            ),
            (
                WriteError::NotAllowed {
                    actor: Actor::Invitee("urn:ad#anna-subject".into()).name(),
                    action: "accept invitations",
                    organisation: "12345678".into(),
                },
                "anna-subject",
                "not_allowed",
                Some("identity may not accept invitations"),
            ),
            (
                WriteError::OperatorOnly {
                    actor: Actor::Operator("adevries".into()).name(),
                    action: "link identities",
                },
                "adevries",
                "operator_only",
                Some("operator may not"),
            ),
        ];
        for (e, personal, code, kept) in cases {
            let full = e.to_string();
            let redacted = e.redacted().to_string();
            assert!(full.contains(personal), "the page's text keeps it: {full}");
            assert!(!redacted.contains(personal), "{redacted}");
            assert!(redacted.starts_with(code), "{redacted}");
            assert_eq!(e.reason_code(), code);
            if let Some(kept) = kept {
                assert!(redacted.contains(kept), "{redacted}");
            }
        }
        // An administrator is named by their register ID.
        let e = WriteError::NotAllowed {
            actor: Actor::Admin("5f0c0b9e-person".into()).name(),
            action: "add grants",
            organisation: "12345678".into(),
        };
        assert_eq!(
            e.redacted().to_string(),
            "not_allowed: person:5f0c0b9e-person may not add grants in organisation 12345678"
        );
    }
}
