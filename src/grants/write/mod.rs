//! Writes to the register, one file per thing they act on: organisations (and their
//! activation), people (identity links), members, groups, grants, imports of grants,
//! invitations, link requests and bevoegd vertegenwoordigers.
//!
//! Every write runs in one transaction (nothing half-written), checks its input with a specific
//! [`WriteError`] for each way it can be wrong (the checks are in [`super::check`]), appends to
//! the audit trail in the same transaction, and returns what it [`Touched`]: the identity links
//! whose grant sets may have changed, computed inside the transaction so that it matches what
//! was committed. Run writes through [`super::Registry::write`], which invalidates those links in
//! the cache afterwards.
//!
//! This file holds who writes ([`Actor`]) and the steps every write shares inside its
//! transaction: finding the organisation, membership or group it names, checking the actor's
//! roles and level (the opening step, `SqlRegister::begin_in` or `authorised_group`), the audit
//! row (`Record`), and committing with the links it touched (the closing step, `commit_recorded`
//! or `commit_touching`). A write may read back what it wrote as the listings show it
//! (`super::read`); the listings never call a write.

use super::audit::{append, AuditEntry};
use super::db::{sql, Sql, Tx};
use super::error::WriteError;
use super::read::people::{
    HOLDERS_OF_GRANT, LINKS_OF_GROUP, LINKS_OF_ORGANISATION, LINKS_OF_PERSON,
};
use super::sql::SqlRegister;
use crate::domain::grant::{IdentityKey, Role, Touched};
use crate::domain::level::Level;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeSet;
use std::str::FromStr;

mod activation;
mod grants;
mod groups;
mod import;
mod invitations;
mod links;
mod members;
mod organisations;
mod people;
mod representatives;
mod requests;

pub use activation::NewRegistration;
pub use grants::{GrantRequest, Renewal};
pub use import::ImportRow;
pub use invitations::{token_hash, Accepted, Invitation, NewInvitation, INVITATION_LIFETIME};
pub use links::{NewLinkRequest, LINK_REQUEST_LIFETIME};
pub use members::MemberDetails;
pub use organisations::{NewOrganisation, OrganisationChanges};
pub use representatives::{NewRepresentative, RepresentativeBinding, RepresentativeRow};
pub use requests::{NewRequest, SignedRequest};

/// Who writes: an operator (the command line) or an administrator of the organisation, who may
/// do only what their roles allow and grant only up to their own level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Operator(String),
    Admin(String),
    /// Someone at their own login, accepting an invitation or recognised as a bevoegd
    /// vertegenwoordiger: their identity at the AD (`<AD>#<subject>`).
    Invitee(String),
    /// A person asking, or signing a request off, by register ID: what they may do is checked
    /// by the request's rules (`domain::request`), not by the roles an administrator needs.
    Signer(String),
}

impl Actor {
    /// As recorded in the audit trail and `created_by`.
    pub fn name(&self) -> String {
        match self {
            Actor::Operator(name) => format!("operator:{name}"),
            Actor::Admin(person) | Actor::Signer(person) => format!("person:{person}"),
            Actor::Invitee(identity) => format!("identity:{identity}"),
        }
    }
}

/// Fails unless the actor is an operator.
fn operator_only(actor: &Actor, action: &'static str) -> Result<(), WriteError> {
    if matches!(actor, Actor::Operator(_)) {
        Ok(())
    } else {
        Err(WriteError::OperatorOnly {
            actor: actor.name(),
            action,
        })
    }
}

/// A value as the audit trail keeps it.
fn json<T: Serialize>(value: &T) -> Option<String> {
    serde_json::to_string(value).ok()
}

/// Maps a unique-constraint violation to the error the caller names; other errors pass.
fn unique_or(e: sqlx::Error, duplicate: impl FnOnce() -> WriteError) -> WriteError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => duplicate(),
        _ => WriteError::Database(e),
    }
}

/// Identity links of every person selected by `query` (one of the `LINKS_OF_…` statements,
/// one parameter).
async fn links_of(
    tx: &mut Tx,
    query: &'static str,
    param: &str,
) -> Result<BTreeSet<IdentityKey>, WriteError> {
    let rows: Vec<(String, String)> = sql(query).bind(param).fetch_all(tx).await?;
    Ok(rows
        .into_iter()
        .map(|(idp, subject)| IdentityKey { idp, subject })
        .collect())
}

/// One row a write appends to the audit trail: who did what in which organisation, before and
/// after (as JSON).
struct Record<'a> {
    actor: &'a Actor,
    organisation: Option<&'a str>,
    action: &'a str,
    before: Option<String>,
    after: Option<String>,
}

impl<'a> Record<'a> {
    /// `action` by `actor` in the organisation with internal ID `organisation`.
    fn new(actor: &'a Actor, organisation: &'a str, action: &'a str) -> Record<'a> {
        Record {
            actor,
            organisation: Some(organisation),
            action,
            before: None,
            after: None,
        }
    }

    /// `action` by `actor`, in no organisation (linking an identity to a person).
    fn outside_organisations(actor: &'a Actor, action: &'a str) -> Record<'a> {
        Record {
            actor,
            organisation: None,
            action,
            before: None,
            after: None,
        }
    }

    fn before<T: Serialize>(self, value: &T) -> Record<'a> {
        Record {
            before: json(value),
            ..self
        }
    }

    fn after<T: Serialize>(self, value: &T) -> Record<'a> {
        Record {
            after: json(value),
            ..self
        }
    }

    /// Appends the row, inside the write's transaction.
    async fn append(self, tx: &mut Tx) -> Result<(), WriteError> {
        let actor = self.actor.name();
        let entry = AuditEntry {
            at: Utc::now(),
            actor: &actor,
            organisation_id: self.organisation,
            action: self.action,
            before: self.before.as_deref(),
            after: self.after.as_deref(),
        };
        Ok(append(tx.into(), entry).await?)
    }
}

/// Whose grant sets a write may have changed, as its closing step reads them.
enum Touching<'a> {
    /// Nobody's: names, contact data, invitations and link requests are in no grant set.
    Nobody,
    /// The person's, by register ID.
    Person(&'a str),
    /// Every member's of the organisation, by internal ID.
    Organisation(&'a str),
    /// Every holder's of the grant.
    HoldersOf(&'a str),
    /// These identity links, gathered while writing (before a removal, say).
    Links(BTreeSet<IdentityKey>),
}

/// The closing step of a write: commits, and returns `value` with the identity links of the
/// people it touched, read inside the transaction so that they match what was committed.
async fn commit_touching<T>(
    mut transaction: Tx,
    value: T,
    touching: Touching<'_>,
) -> Result<(T, Touched), WriteError> {
    let tx = &mut transaction;
    let links = match touching {
        Touching::Nobody => BTreeSet::new(),
        Touching::Person(person) => links_of(tx, LINKS_OF_PERSON, person).await?,
        Touching::Organisation(org_id) => links_of(tx, LINKS_OF_ORGANISATION, org_id).await?,
        Touching::HoldersOf(grant) => links_of(tx, HOLDERS_OF_GRANT, grant).await?,
        Touching::Links(links) => links,
    };
    transaction.commit().await?;
    Ok((value, Touched { links }))
}

/// The closing step of most writes: their audit row, then [`commit_touching`].
async fn commit_recorded<T>(
    mut transaction: Tx,
    record: Record<'_>,
    value: T,
    touching: Touching<'_>,
) -> Result<(T, Touched), WriteError> {
    record.append(&mut transaction).await?;
    commit_touching(transaction, value, touching).await
}

/// The organisation's internal ID and name, or [`WriteError::UnknownOrganisation`].
async fn organisation(tx: &mut Tx, kvk: &str) -> Result<(String, String), WriteError> {
    let found: Option<(String, String)> = sql("SELECT id, name FROM organisations WHERE kvk = $1")
        .bind(kvk)
        .fetch_optional(tx)
        .await?;
    found.ok_or_else(|| WriteError::UnknownOrganisation(kvk.to_string()))
}

/// The membership ID of a person in an organisation, if any.
async fn find_membership(
    tx: &mut Tx,
    person: &str,
    org_id: &str,
) -> Result<Option<String>, WriteError> {
    Ok(
        sql("SELECT id FROM memberships WHERE person_id = $1 AND organisation_id = $2")
            .bind(person)
            .bind(org_id)
            .scalar_optional(tx)
            .await?,
    )
}

/// Whether the register knows the person with this ID.
async fn person_known(tx: &mut Tx, person: &str) -> Result<bool, WriteError> {
    let found: Option<String> = sql("SELECT id FROM persons WHERE id = $1")
        .bind(person)
        .scalar_optional(tx)
        .await?;
    Ok(found.is_some())
}

/// The person an identity (AD entity + subject) is linked to, if any.
async fn link_holder(tx: &mut Tx, idp: &str, subject: &str) -> Result<Option<String>, WriteError> {
    Ok(
        sql("SELECT person_id FROM identity_links WHERE idp = $1 AND subject = $2")
            .bind(idp)
            .bind(subject)
            .scalar_optional(tx)
            .await?,
    )
}

/// Links an identity (AD entity + subject) to a person.
async fn insert_link(
    tx: &mut Tx,
    idp: &str,
    subject: &str,
    person: &str,
    now: DateTime<Utc>,
) -> Result<(), WriteError> {
    sql("INSERT INTO identity_links (idp, subject, person_id, created_at) VALUES ($1, $2, $3, $4)")
        .bind(idp)
        .bind(subject)
        .bind(person)
        .bind(now)
        .execute(tx)
        .await?;
    Ok(())
}

/// The membership ID of a person in an organisation, or the refusal that they are none.
async fn member_of(
    tx: &mut Tx,
    person: &str,
    org_id: &str,
    kvk: &str,
) -> Result<String, WriteError> {
    find_membership(tx, person, org_id)
        .await?
        .ok_or_else(|| not_a_member(format!("person {person}"), kvk))
}

/// The refusal that `holder` (a person, perhaps in a group) is no member of organisation `kvk`.
fn not_a_member(holder: String, kvk: &str) -> WriteError {
    WriteError::HolderInOtherOrganisation {
        holder,
        organisation: kvk.to_string(),
    }
}

/// Runs `update`, a change to one member of organisation `kvk`; one that changes nothing found
/// no such member ([`not_a_member`], naming `holder`).
async fn update_member_row(
    tx: &mut Tx,
    update: Sql<'_>,
    kvk: &str,
    holder: impl FnOnce() -> String,
) -> Result<(), WriteError> {
    if update.execute(tx).await? == 0 {
        return Err(not_a_member(holder(), kvk));
    }
    Ok(())
}

/// The roles of `person`'s membership of `org_id`, highest first (none when no member).
async fn member_roles(tx: &mut Tx, person: &str, org_id: &str) -> Result<Vec<Role>, WriteError> {
    let stored: Vec<String> = sql(
        "SELECT r.role FROM membership_roles r JOIN memberships m ON m.id = r.membership_id \
         WHERE m.person_id = $1 AND m.organisation_id = $2",
    )
    .bind(person)
    .bind(org_id)
    .scalars(tx)
    .await?;
    let mut roles = Vec::with_capacity(stored.len());
    for text in &stored {
        let role = Role::from_str(text)
            .map_err(|_| super::error::corrupt(format!("membership role {text:?}")))?;
        roles.push(role);
    }
    roles.sort_by_key(|r| Role::ALL.iter().position(|x| x == r));
    Ok(roles)
}

/// Activates the organisation (internal ID) if it is still waiting, with its audit row; whether
/// it did. Inside the caller's transaction.
async fn activate_if_pending(
    tx: &mut Tx,
    actor: &Actor,
    org_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, WriteError> {
    let changed =
        sql("UPDATE organisations SET activated_at = $1 WHERE id = $2 AND activated_at IS NULL")
            .bind(now)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
    if changed == 0 {
        return Ok(false);
    }
    Record::new(actor, org_id, "organisation.activate")
        .after(&now)
        .append(tx)
        .await?;
    Ok(true)
}

/// Gives a membership these roles (on top of those it has).
async fn add_roles(tx: &mut Tx, membership: &str, roles: &[Role]) -> Result<(), WriteError> {
    for role in roles {
        sql(
            "INSERT INTO membership_roles (membership_id, role) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(membership)
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Makes `person` a member of `org_id` (KvK number `kvk`) with `roles` (unblocked); the
/// membership's ID, or [`WriteError::DuplicateMember`] if they are one already.
async fn insert_membership(
    tx: &mut Tx,
    person: &str,
    org_id: &str,
    kvk: &str,
    roles: &[Role],
    now: DateTime<Utc>,
) -> Result<String, WriteError> {
    let membership = uuid::Uuid::new_v4().to_string();
    sql(
        "INSERT INTO memberships (id, person_id, organisation_id, blocked, created_at) \
         VALUES ($1, $2, $3, FALSE, $4)",
    )
    .bind(&membership)
    .bind(person)
    .bind(org_id)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        unique_or(e, || WriteError::DuplicateMember {
            person: person.to_string(),
            organisation: kvk.to_string(),
        })
    })?;
    add_roles(tx, &membership, roles).await?;
    Ok(membership)
}

/// The members of `org_id` whose e-mail address is `email` (any case): (person, name), by ID.
async fn members_by_email(
    tx: &mut Tx,
    org_id: &str,
    email: &str,
) -> Result<Vec<(String, Option<String>)>, WriteError> {
    Ok(sql(
        "SELECT p.id, p.name FROM persons p JOIN memberships m ON m.person_id = p.id \
         WHERE m.organisation_id = $1 AND lower(p.email) = lower($2) ORDER BY p.id",
    )
    .bind(org_id)
    .bind(email)
    .fetch_all(tx)
    .await?)
}

/// Fails with [`WriteError::DuplicateEmail`] when a member of `org_id` (KvK number `kvk`) other
/// than `except` has the e-mail address `email` (any case): one address, one member.
async fn email_free(
    tx: &mut Tx,
    org_id: &str,
    kvk: &str,
    email: &str,
    except: Option<&str>,
) -> Result<(), WriteError> {
    let members = members_by_email(tx, org_id, email).await?;
    if members
        .iter()
        .any(|(person, _)| Some(person.as_str()) != except)
    {
        return Err(WriteError::DuplicateEmail {
            email: email.to_string(),
            organisation: kvk.to_string(),
        });
    }
    Ok(())
}

/// A group's ID by organisation and name, or [`WriteError::UnknownGroup`].
async fn group_named(
    tx: &mut Tx,
    org_id: &str,
    kvk: &str,
    name: &str,
) -> Result<String, WriteError> {
    let found: Option<String> =
        sql("SELECT id FROM groups WHERE organisation_id = $1 AND name = $2")
            .bind(org_id)
            .bind(name)
            .scalar_optional(tx)
            .await?;
    found.ok_or_else(|| WriteError::UnknownGroup {
        organisation: kvk.to_string(),
        group: name.to_string(),
    })
}

/// What an administrator may do, checked against their roles in the organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need<'a> {
    /// Users and grants of the whole organisation: hoofdbeheerder or beheerder.
    Manage,
    /// Users and grants of one group (its ID, when there is one): also a groepsbeheerder who
    /// administers that group.
    ManageGroup(Option<&'a str>),
    /// Appointing hoofdbeheerders and beheerders: hoofdbeheerder only.
    Appoint,
}

impl Need<'_> {
    /// What giving these roles needs: appointing administrators is the hoofdbeheerder's, other
    /// roles any manager's.
    fn to_give(roles: &[Role]) -> Need<'static> {
        if roles
            .iter()
            .any(|r| matches!(r, Role::Hoofdbeheerder | Role::Beheerder))
        {
            Need::Appoint
        } else {
            Need::Manage
        }
    }
}

/// Fails unless the actor may do `action` ([`Need`]) in the organisation. Operators and invitees
/// pass (an invitee's write checks its invitation).
async fn authorise(
    tx: &mut Tx,
    actor: &Actor,
    org_id: &str,
    kvk: &str,
    need: Need<'_>,
    action: &'static str,
) -> Result<(), WriteError> {
    let Actor::Admin(person) = actor else {
        return Ok(());
    };
    let roles: Vec<String> = sql(
        "SELECT r.role FROM membership_roles r JOIN memberships m ON m.id = r.membership_id \
         WHERE m.person_id = $1 AND m.organisation_id = $2 AND NOT m.blocked",
    )
    .bind(person)
    .bind(org_id)
    .scalars(&mut *tx)
    .await?;
    let has = |r: &str| roles.iter().any(|x| x == r);
    let mut allowed = match need {
        Need::Appoint => has("hoofdbeheerder"),
        _ => has("hoofdbeheerder") || has("beheerder"),
    };
    if !allowed && has("groepsbeheerder") {
        if let Need::ManageGroup(Some(group)) = need {
            let in_group: Option<i32> = sql("SELECT 1 FROM group_members gm JOIN memberships m \
                 ON m.id = gm.membership_id \
                 WHERE gm.group_id = $1 AND m.person_id = $2 AND gm.admin \
                   AND NOT gm.blocked")
            .bind(group)
            .bind(person)
            .scalar_optional(&mut *tx)
            .await?;
            allowed = in_group.is_some();
        }
    }
    if allowed {
        Ok(())
    } else {
        Err(WriteError::NotAllowed {
            actor: actor.name(),
            action,
            organisation: kvk.to_string(),
        })
    }
}

impl SqlRegister {
    /// The opening step of a write on the whole organisation `kvk`: its transaction, and the
    /// organisation's ID and name, once the actor may do `action` there.
    async fn begin_in(
        &self,
        actor: &Actor,
        kvk: &str,
        need: Need<'_>,
        action: &'static str,
    ) -> Result<(Tx, String, String), WriteError> {
        let mut transaction = self.pool().begin_write().await?;
        let (org_id, name) = organisation(&mut transaction, kvk).await?;
        authorise(&mut transaction, actor, &org_id, kvk, need, action).await?;
        Ok((transaction, org_id, name))
    }
}

/// The ID of the organisation's group named `group`, once the actor may do `action` in that
/// group (a groepsbeheerder of it may): the opening step of a write on one group.
async fn authorised_group(
    tx: &mut Tx,
    actor: &Actor,
    org_id: &str,
    kvk: &str,
    group: &str,
    action: &'static str,
) -> Result<String, WriteError> {
    let group_id = group_named(tx, org_id, kvk, group).await?;
    let need = Need::ManageGroup(Some(group_id.as_str()));
    authorise(tx, actor, org_id, kvk, need, action).await?;
    Ok(group_id)
}

/// Fails unless an administrator's own level reaches `level`: the highest level among their
/// own active, currently valid grants in the organisation (held directly or through a group),
/// leaving out what a block suspends.
async fn within_admin_level(
    tx: &mut Tx,
    actor: &Actor,
    org_id: &str,
    level: Level,
) -> Result<(), WriteError> {
    let Actor::Admin(person) = actor else {
        return Ok(());
    };
    let admin_level = admin_level(tx, person, org_id, Utc::now()).await?;
    if admin_level.is_none_or(|own| level > own) {
        return Err(WriteError::AboveAdminLevel { level, admin_level });
    }
    Ok(())
}

/// A person's own level in an organisation at `now`: the highest level among their active,
/// currently valid grants there (held directly or through a group), leaving out what a block
/// suspends; `None` without any.
async fn admin_level(
    tx: &mut Tx,
    person: &str,
    org_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Level>, WriteError> {
    let rows: Vec<(String, DateTime<Utc>, DateTime<Utc>)> =
        sql("SELECT g.level, g.valid_from, g.valid_until FROM grants g \
           JOIN memberships m ON m.id = g.membership_id \
          WHERE m.person_id = $1 AND m.organisation_id = $2 AND g.status = 'active' \
            AND NOT m.blocked \
         UNION ALL \
         SELECT g.level, g.valid_from, g.valid_until FROM grants g \
           JOIN group_members gm ON gm.group_id = g.group_id \
           JOIN memberships m ON m.id = gm.membership_id \
          WHERE m.person_id = $1 AND m.organisation_id = $2 AND g.status = 'active' \
            AND NOT m.blocked AND NOT gm.blocked")
        .bind(person)
        .bind(org_id)
        .fetch_all(tx)
        .await?;
    Ok(rows
        .iter()
        .filter(|(_, from, until)| *from <= now && now < *until)
        .filter_map(|(level, _, _)| Level::from_str(level).ok())
        .max())
}
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
