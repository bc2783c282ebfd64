//! Members of an organisation: added with roles, their roles replaced, blocked or unblocked,
//! their details corrected, removed.

use super::{
    add_roles, authorise, commit_recorded, email_free, insert_membership, links_of, member_of,
    organisation, person_known, update_member_row, Actor, Need, Record, Touching, LINKS_OF_PERSON,
};
use crate::domain::grant::{Role, Touched};
use crate::grants::check::check_email;
use crate::grants::db::{sql, Tx};
use crate::grants::error::WriteError;
use crate::grants::sql::SqlRegister;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A member's own details, as an administrator may correct them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct MemberDetails {
    pub name: String,
    pub email: String,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
}

impl SqlRegister {
    /// Makes a person a member of an organisation with these roles.
    pub async fn add_member(
        &self,
        actor: &Actor,
        kvk: &str,
        person: &str,
        roles: &[Role],
    ) -> Result<((), Touched), WriteError> {
        let (mut transaction, org_id, _) = self
            .begin_in(actor, kvk, Need::Manage, "add members")
            .await?;
        let tx = &mut transaction;
        if !person_known(tx, person).await? {
            return Err(WriteError::UnknownPerson(person.to_string()));
        }
        insert_membership(tx, person, &org_id, kvk, roles, Utc::now()).await?;
        let record = Record::new(actor, &org_id, "member.add").after(&(person, roles));
        commit_recorded(transaction, record, (), Touching::Person(person)).await
    }

    /// Replaces a member's roles.
    // Takes what `add_member` takes on purpose: both name a member and the roles they get.
    pub async fn set_roles(
        &self,
        actor: &Actor,
        kvk: &str,
        person: &str,
        roles: &[Role],
    ) -> Result<((), Touched), WriteError> {
        let (mut transaction, org_id, _) = self
            .begin_in(actor, kvk, Need::Manage, "change roles")
            .await?;
        let tx = &mut transaction;
        let membership = member_of(tx, person, &org_id, kvk).await?;
        let before: Vec<String> = sql("SELECT role FROM membership_roles WHERE membership_id = $1")
            .bind(&membership)
            .scalars(&mut *tx)
            .await?;
        // Giving or taking an administrator's role is the hoofdbeheerder's.
        if before.iter().any(|r| administrator(r))
            || roles.iter().any(|r| administrator(r.as_str()))
        {
            let changes_admin = before.iter().filter(|r| administrator(r)).count()
                != roles.iter().filter(|r| administrator(r.as_str())).count()
                || roles
                    .iter()
                    .any(|r| administrator(r.as_str()) && !before.iter().any(|b| b == r.as_str()));
            if changes_admin {
                may_appoint(tx, actor, &org_id, kvk, "appoint administrators").await?;
            }
        }
        let had = hoofdbeheerders(tx, &org_id).await?;
        sql("DELETE FROM membership_roles WHERE membership_id = $1")
            .bind(&membership)
            .execute(&mut *tx)
            .await?;
        add_roles(tx, &membership, roles).await?;
        keep_a_hoofdbeheerder(tx, actor, &org_id, kvk, had).await?;
        let record = Record::new(actor, &org_id, "member.roles")
            .before(&(person, before))
            .after(&(person, roles));
        commit_recorded(transaction, record, (), Touching::Person(person)).await
    }

    /// Blocks or unblocks a member in the whole organisation (nothing is deleted).
    pub async fn set_member_blocked(
        &self,
        actor: &Actor,
        kvk: &str,
        person: &str,
        blocked: bool,
    ) -> Result<((), Touched), WriteError> {
        let (mut transaction, org_id, _) = self
            .begin_in(actor, kvk, Need::Manage, "block members")
            .await?;
        let tx = &mut transaction;
        let had = hoofdbeheerders(tx, &org_id).await?;
        let update = sql(
            "UPDATE memberships SET blocked = $1 WHERE person_id = $2 AND organisation_id = $3",
        )
        .bind(blocked)
        .bind(person)
        .bind(&org_id);
        update_member_row(tx, update, kvk, || format!("person {person}")).await?;
        if blocked {
            keep_a_hoofdbeheerder(tx, actor, &org_id, kvk, had).await?;
        }
        let action = if blocked {
            "member.block"
        } else {
            "member.unblock"
        };
        let record = Record::new(actor, &org_id, action)
            .before(&(person, !blocked))
            .after(&(person, blocked));
        commit_recorded(transaction, record, (), Touching::Person(person)).await
    }

    /// Corrects a member's name, e-mail address, phone or language. A person who is also a
    /// member elsewhere keeps their details there too, so only an organisation that has them
    /// alone may change them ([`WriteError::SharedPerson`]).
    pub async fn update_member(
        &self,
        actor: &Actor,
        kvk: &str,
        person: &str,
        details: &MemberDetails,
    ) -> Result<((), Touched), WriteError> {
        let name = details.name.trim();
        let email = details.email.trim();
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let (org_id, _) = organisation(tx, kvk).await?;
        let group = admin_group_of(tx, actor, person, &org_id).await?;
        let need = Need::ManageGroup(group.as_deref());
        authorise(tx, actor, &org_id, kvk, need, "change users").await?;
        member_of(tx, person, &org_id, kvk).await?;
        if name.is_empty() {
            return Err(WriteError::Empty { what: "name" });
        }
        check_email(email)?;
        let elsewhere: i64 =
            sql("SELECT COUNT(*) FROM memberships WHERE person_id = $1 AND organisation_id <> $2")
                .bind(person)
                .bind(&org_id)
                .scalar(&mut *tx)
                .await?;
        if elsewhere > 0 {
            return Err(WriteError::SharedPerson(person.to_string()));
        }
        email_free(tx, &org_id, kvk, email, Some(person)).await?;
        type Row = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let before: Row = sql("SELECT name, email, phone, language FROM persons WHERE id = $1")
            .bind(person)
            .fetch_one(&mut *tx)
            .await?;
        let phone = details
            .phone
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty());
        let language = match details.language.as_deref() {
            Some("en") => Some("en"),
            Some(_) => Some("nl"),
            None => before.3.as_deref(),
        };
        sql("UPDATE persons SET name = $1, email = $2, phone = $3, language = $4 WHERE id = $5")
            .bind(name)
            .bind(email)
            .bind(phone)
            .bind(language)
            .bind(person)
            .execute(&mut *tx)
            .await?;
        let record = Record::new(actor, &org_id, "member.update")
            .before(&(person, &before))
            .after(&(person, (name, email, phone, language)));
        // A name is not part of anyone's grant set: nothing cached changes.
        commit_recorded(transaction, record, (), Touching::Nobody).await
    }

    /// Removes a member from the organisation: their roles, group places, the grants they hold
    /// here and an open invitation go; the person, their other memberships and the audit trail
    /// stay. An administrator cannot remove themselves nor the last hoofdbeheerder.
    pub async fn remove_member(
        &self,
        actor: &Actor,
        kvk: &str,
        person: &str,
        now: DateTime<Utc>,
    ) -> Result<((), Touched), WriteError> {
        let (mut transaction, org_id, _) = self
            .begin_in(actor, kvk, Need::Manage, "remove users")
            .await?;
        let tx = &mut transaction;
        if *actor == Actor::Admin(person.to_string()) {
            return Err(WriteError::RemoveSelf);
        }
        let membership = member_of(tx, person, &org_id, kvk).await?;
        let roles: Vec<String> = sql("SELECT role FROM membership_roles WHERE membership_id = $1")
            .bind(&membership)
            .scalars(&mut *tx)
            .await?;
        if roles.iter().any(|r| administrator(r)) {
            may_appoint(tx, actor, &org_id, kvk, "remove administrators").await?;
        }
        let touched = links_of(tx, LINKS_OF_PERSON, person).await?;
        let had = hoofdbeheerders(tx, &org_id).await?;
        let grants: Vec<String> = sql("SELECT id FROM grants WHERE membership_id = $1 ORDER BY id")
            .bind(&membership)
            .scalars(&mut *tx)
            .await?;
        sql("DELETE FROM grants WHERE membership_id = $1")
            .bind(&membership)
            .execute(&mut *tx)
            .await?;
        sql(
            "UPDATE invitations SET withdrawn_at = $1 WHERE person_id = $2 \
             AND organisation_id = $3 AND accepted_at IS NULL AND withdrawn_at IS NULL",
        )
        .bind(now)
        .bind(person)
        .bind(&org_id)
        .execute(&mut *tx)
        .await?;
        sql("DELETE FROM memberships WHERE id = $1")
            .bind(&membership)
            .execute(&mut *tx)
            .await?;
        keep_a_hoofdbeheerder(tx, actor, &org_id, kvk, had).await?;
        let record =
            Record::new(actor, &org_id, "member.remove").before(&(person, &roles, &grants));
        commit_recorded(transaction, record, (), Touching::Links(touched)).await
    }
}

/// Whether a stored role is an administrator's: hoofdbeheerder or beheerder.
fn administrator(role: &str) -> bool {
    role == "hoofdbeheerder" || role == "beheerder"
}

/// Fails unless the actor may do `action` to an administrator's role: giving, taking or removing
/// one is the hoofdbeheerder's.
async fn may_appoint(
    tx: &mut Tx,
    actor: &Actor,
    org_id: &str,
    kvk: &str,
    action: &'static str,
) -> Result<(), WriteError> {
    authorise(tx, actor, org_id, kvk, Need::Appoint, action).await
}

/// How many unblocked hoofdbeheerders the organisation has.
async fn hoofdbeheerders(tx: &mut Tx, org_id: &str) -> Result<i64, WriteError> {
    Ok(sql(
        "SELECT COUNT(*) FROM memberships m JOIN membership_roles r ON r.membership_id = m.id \
         WHERE m.organisation_id = $1 AND r.role = 'hoofdbeheerder' AND NOT m.blocked",
    )
    .bind(org_id)
    .scalar(tx)
    .await?)
}

/// Fails when an administrator's change left an organisation that had a hoofdbeheerder
/// (`had` of them before) without any; operators may, e.g. to block a departed one.
async fn keep_a_hoofdbeheerder(
    tx: &mut Tx,
    actor: &Actor,
    org_id: &str,
    kvk: &str,
    had: i64,
) -> Result<(), WriteError> {
    if matches!(actor, Actor::Admin(_)) && had > 0 && hoofdbeheerders(tx, org_id).await? == 0 {
        return Err(WriteError::LastHoofdbeheerder(kvk.to_string()));
    }
    Ok(())
}

/// A group of the organisation that `person` is in and the acting administrator administers
/// (the first by ID), so that a groepsbeheerder may act on members of their groups.
async fn admin_group_of(
    tx: &mut Tx,
    actor: &Actor,
    person: &str,
    org_id: &str,
) -> Result<Option<String>, WriteError> {
    Ok(match actor {
        Actor::Admin(admin) => {
            let found: Option<String> = sql("SELECT gm.group_id FROM group_members gm \
                       JOIN memberships m ON m.id = gm.membership_id \
                      WHERE m.person_id = $1 AND m.organisation_id = $3 AND gm.group_id IN ( \
                        SELECT a.group_id FROM group_members a \
                          JOIN memberships am ON am.id = a.membership_id \
                         WHERE am.person_id = $2 AND a.admin AND NOT a.blocked) \
                      ORDER BY gm.group_id LIMIT 1")
            .bind(person)
            .bind(admin)
            .bind(org_id)
            .scalar_optional(tx)
            .await?;
            found
        }
        _ => None,
    })
}
