//! What the API answers, as its own wire types: each is the contract a client is generated
//! from, converted with `From` from the register's view types, so that a change to the
//! register's structs shows up here instead of silently in the API's bodies. The likeness of
//! these structs to the register's is deliberate (the split of wire types from server logic
//! that kanidm's `proto` crate makes); `duplicates` lists them, and that is expected. Each twin
//! says so where it is declared.

use crate::grants;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::{ArrayBuilder, ObjectBuilder, OneOfBuilder, RefOr, Schema, SchemaType};
use utoipa::ToSchema;

// Wire twin of `grants::Role`, kept apart on purpose (see the module doc).
/// A role of a member in an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Hoofdbeheerder,
    Beheerder,
    Groepsbeheerder,
    Gebruiker,
    Lezer,
}

impl From<grants::Role> for Role {
    fn from(r: grants::Role) -> Role {
        match r {
            grants::Role::Hoofdbeheerder => Role::Hoofdbeheerder,
            grants::Role::Beheerder => Role::Beheerder,
            grants::Role::Groepsbeheerder => Role::Groepsbeheerder,
            grants::Role::Gebruiker => Role::Gebruiker,
            grants::Role::Lezer => Role::Lezer,
        }
    }
}

impl From<Role> for grants::Role {
    fn from(r: Role) -> grants::Role {
        match r {
            Role::Hoofdbeheerder => grants::Role::Hoofdbeheerder,
            Role::Beheerder => grants::Role::Beheerder,
            Role::Groepsbeheerder => grants::Role::Groepsbeheerder,
            Role::Gebruiker => grants::Role::Gebruiker,
            Role::Lezer => grants::Role::Lezer,
        }
    }
}

pub(crate) fn roles<R: Copy, W: From<R>>(roles: &[R]) -> Vec<W> {
    roles.iter().map(|r| W::from(*r)).collect()
}

// Wire twin of `domain::level::Level`, kept apart on purpose (see the module doc).
/// A level of assurance, by its eHerkenning name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Level {
    #[serde(rename = "EH2")]
    Eh2,
    #[serde(rename = "EH2+")]
    Eh2Plus,
    #[serde(rename = "EH3")]
    Eh3,
    #[serde(rename = "EH4")]
    Eh4,
}

impl From<crate::domain::level::Level> for Level {
    fn from(l: crate::domain::level::Level) -> Level {
        use crate::domain::level::Level as L;
        match l {
            L::Eh2 => Level::Eh2,
            L::Eh2Plus => Level::Eh2Plus,
            L::Eh3 => Level::Eh3,
            L::Eh4 => Level::Eh4,
        }
    }
}

// Wire twin of `grants::Organisation`, kept apart on purpose (see the module doc).
/// An organisation: KvK number, RSIN, name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Organisation {
    /// KvK number: 8 digits.
    pub kvk: String,
    /// RSIN: 9 digits.
    pub rsin: Option<String>,
    pub name: String,
}

impl From<&grants::Organisation> for Organisation {
    fn from(o: &grants::Organisation) -> Organisation {
        Organisation {
            kvk: o.kvk.clone(),
            rsin: o.rsin.clone(),
            name: o.name.clone(),
        }
    }
}

/// Who is acting, for which organisation, and the CSRF token every change must carry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Session {
    /// The acting person's ID.
    pub person: String,
    pub organisation: Organisation,
    pub roles: Vec<Role>,
    /// The level the admin login reached.
    pub level: Level,
    /// For the `X-CSRF-Token` header of every change.
    pub csrf_token: String,
}

impl From<&crate::admin::AdminSession> for Session {
    fn from(s: &crate::admin::AdminSession) -> Session {
        Session {
            person: s.person_id.clone(),
            organisation: (&s.organisation).into(),
            roles: roles(&s.roles),
            level: s.level.into(),
            csrf_token: s.csrf.clone(),
        }
    }
}

// Wire twin of `grants::OrganisationStatus`, kept apart on purpose (see the module doc).
/// Where an organisation stands: registered by an operator and waiting for its appointed
/// hoofdbeheerder's first login, or active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrganisationStatus {
    PendingActivation,
    Active,
}

impl From<grants::OrganisationStatus> for OrganisationStatus {
    fn from(s: grants::OrganisationStatus) -> OrganisationStatus {
        match s {
            grants::OrganisationStatus::PendingActivation => OrganisationStatus::PendingActivation,
            grants::OrganisationStatus::Active => OrganisationStatus::Active,
        }
    }
}

// Wire twin of `grants::OrganisationView`, kept apart on purpose (see the module doc).
/// The organisation acted for: status, contact data, groups and counts of its grants.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrganisationSummary {
    pub organisation: Organisation,
    pub status: OrganisationStatus,
    /// When it became active.
    pub activated_at: Option<DateTime<Utc>>,
    /// A director with joint authority needs a second director's signature.
    pub joint_needs_two: bool,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_address: Option<String>,
    /// The organisation's groups, by name.
    pub groups: Vec<String>,
    pub grants_active: i64,
    pub grants_revoked: i64,
    /// Active grants whose validity has ended.
    pub grants_expired: i64,
}

impl From<grants::OrganisationView> for OrganisationSummary {
    fn from(v: grants::OrganisationView) -> OrganisationSummary {
        OrganisationSummary {
            organisation: (&v.organisation).into(),
            status: v.status.into(),
            activated_at: v.activated_at,
            joint_needs_two: v.joint_needs_two,
            contact_name: v.contact_name,
            contact_email: v.contact_email,
            contact_phone: v.contact_phone,
            contact_address: v.contact_address,
            groups: v.groups,
            grants_active: v.grants_active,
            grants_revoked: v.grants_revoked,
            grants_expired: v.grants_expired,
        }
    }
}

// Wire twin of `grants::MemberStatus`, kept apart on purpose (see the module doc).
/// Where a member stands in the organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// Invited, not logged in yet.
    Invited,
    Active,
    /// Blocked for the whole organisation.
    Blocked,
}

impl From<grants::MemberStatus> for MemberStatus {
    fn from(s: grants::MemberStatus) -> MemberStatus {
        match s {
            grants::MemberStatus::Invited => MemberStatus::Invited,
            grants::MemberStatus::Active => MemberStatus::Active,
            grants::MemberStatus::Blocked => MemberStatus::Blocked,
        }
    }
}

/// A group the member is in, as `[name, blocked in that group]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMembership(pub String, pub bool);

// A pair is an array of two in JSON; OpenAPI 3.0 has no tuples, so it is said by hand.
impl<'s> ToSchema<'s> for GroupMembership {
    fn schema() -> (&'s str, RefOr<Schema>) {
        let item = OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(SchemaType::String))
            .item(ObjectBuilder::new().schema_type(SchemaType::Boolean));
        let pair = ArrayBuilder::new()
            .items(item)
            .min_items(Some(2))
            .max_items(Some(2))
            .description(Some("[group name, blocked in that group]"));
        ("GroupMembership", pair.into())
    }
}

// Wire twin of `grants::MemberView`, kept apart on purpose (see the module doc).
/// A member of the organisation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Member {
    /// The person's ID.
    pub person: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// `nl` or `en`.
    pub language: Option<String>,
    pub roles: Vec<Role>,
    /// Blocked for the whole organisation.
    pub blocked: bool,
    pub status: MemberStatus,
    /// The last login allowed for this organisation.
    pub last_login: Option<DateTime<Utc>>,
    pub groups: Vec<GroupMembership>,
}

impl From<grants::MemberView> for Member {
    fn from(m: grants::MemberView) -> Member {
        Member {
            person: m.person,
            name: m.name,
            email: m.email,
            phone: m.phone,
            language: m.language,
            roles: roles(&m.roles),
            blocked: m.blocked,
            status: m.status.into(),
            last_login: m.last_login,
            groups: m
                .groups
                .into_iter()
                .map(|(g, b)| GroupMembership(g, b))
                .collect(),
        }
    }
}

// Wire twin of `grants::Holder`, kept apart on purpose (see the module doc).
/// Who holds a grant: a member (person ID) or a group (name).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Holder {
    Person(String),
    Group(String),
}

// Wire twin of `grants::Scope`, kept apart on purpose (see the module doc).
/// What a grant covers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// All services of all providers.
    AllServices,
    /// All services of one provider (DV entity ID).
    Provider { provider: String },
    /// One service, by its ServiceUUID.
    Service { uuid: String },
}

impl From<&grants::Scope> for Scope {
    fn from(s: &grants::Scope) -> Scope {
        match s {
            grants::Scope::AllServices => Scope::AllServices,
            grants::Scope::Provider { provider } => Scope::Provider {
                provider: provider.clone(),
            },
            grants::Scope::Service { uuid } => Scope::Service { uuid: uuid.clone() },
        }
    }
}

// Wire twin of `grants::GrantStatus`, kept apart on purpose (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    Active,
    Revoked,
}

// Wire twin of `grants::GrantRecord`, kept apart on purpose (see the module doc).
/// A grant (machtiging) of the organisation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Grant {
    pub id: String,
    pub holder: Holder,
    pub scope: Scope,
    pub level: Level,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub status: GrantStatus,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&grants::GrantRecord> for Grant {
    fn from(g: &grants::GrantRecord) -> Grant {
        Grant {
            id: g.id.clone(),
            holder: match &g.holder {
                grants::Holder::Person(p) => Holder::Person(p.clone()),
                grants::Holder::Group(n) => Holder::Group(n.clone()),
            },
            scope: (&g.scope).into(),
            level: g.level.into(),
            valid_from: g.valid_from,
            valid_until: g.valid_until,
            status: match g.status {
                grants::GrantStatus::Active => GrantStatus::Active,
                grants::GrantStatus::Revoked => GrantStatus::Revoked,
            },
            last_used_at: g.last_used_at,
        }
    }
}

/// Grants made or renewed at once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Grants {
    pub items: Vec<Grant>,
}

impl Grants {
    pub(crate) fn of(records: &[grants::GrantRecord]) -> Grants {
        Grants {
            items: records.iter().map(Grant::from).collect(),
        }
    }
}

// Wire twin of `grants::Invitation`, kept apart on purpose (see the module doc).
/// An invitation made or sent again.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Invitation {
    pub id: String,
    /// The invited person's ID (a member with status `invited`).
    pub person: String,
    pub name: String,
    pub email: String,
    pub language: Option<String>,
    /// The link works until then, once.
    pub expires_at: DateTime<Utc>,
    /// Whether the e-mail with the link was queued.
    pub mail_sent: bool,
}

impl Invitation {
    pub(crate) fn of(i: &grants::Invitation, mail_sent: bool) -> Invitation {
        Invitation {
            id: i.id.clone(),
            person: i.person.clone(),
            name: i.name.clone(),
            email: i.email.clone(),
            language: i.language.clone(),
            expires_at: i.expires_at,
            mail_sent,
        }
    }
}

/// A withdrawn invitation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Withdrawn {
    pub id: String,
    /// Always `true`.
    pub withdrawn: bool,
}

// Wire twin of `grants::LinkRequestStatus`, kept apart on purpose (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkRequestStatus {
    Pending,
    Approved,
    Declined,
    Withdrawn,
    Expired,
}

// Wire twin of `grants::LinkRequest`, kept apart on purpose (see the module doc).
/// A request to link a person known at another organisation, as either side sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LinkRequest {
    pub id: String,
    /// The organisation that asks.
    pub organisation: Organisation,
    /// The organisation where the person is known.
    pub other: Organisation,
    pub email: String,
    pub roles: Vec<Role>,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: LinkRequestStatus,
    pub decided_at: Option<DateTime<Utc>>,
    /// The person: for the other side, the member the address names; for the asking side
    /// only once approved.
    pub person: Option<String>,
    pub person_name: Option<String>,
}

impl From<grants::LinkRequest> for LinkRequest {
    fn from(r: grants::LinkRequest) -> LinkRequest {
        use grants::LinkRequestStatus as S;
        LinkRequest {
            id: r.id,
            organisation: (&r.organisation).into(),
            other: (&r.other).into(),
            email: r.email,
            roles: roles(&r.roles),
            requested_by: r.requested_by,
            created_at: r.created_at,
            expires_at: r.expires_at,
            status: match r.status {
                S::Pending => LinkRequestStatus::Pending,
                S::Approved => LinkRequestStatus::Approved,
                S::Declined => LinkRequestStatus::Declined,
                S::Withdrawn => LinkRequestStatus::Withdrawn,
                S::Expired => LinkRequestStatus::Expired,
            },
            decided_at: r.decided_at,
            person: r.person,
            person_name: r.person_name,
        }
    }
}

/// The link requests this organisation made, and the open ones naming one of its members.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LinkRequests {
    pub outgoing: Vec<LinkRequest>,
    pub incoming: Vec<LinkRequest>,
}

// Wire twin of `grants::audit::AuditRecord`, kept apart on purpose (see the module doc).
/// One entry of the audit trail.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `person:<id>`, `identity:<AD>#<subject>`, `operator:<name>`, ...
    pub actor: String,
    /// `member.block`, `grant.status`, `admin.login`, ...
    pub action: String,
    /// JSON of what was there before, if anything.
    pub before: Option<String>,
    /// JSON of what is there after, if anything.
    pub after: Option<String>,
}

impl From<grants::audit::AuditRecord> for AuditEntry {
    fn from(e: grants::audit::AuditRecord) -> AuditEntry {
        AuditEntry {
            id: e.id,
            at: e.at,
            actor: e.actor,
            action: e.action,
            before: e.before,
            after: e.after,
        }
    }
}
