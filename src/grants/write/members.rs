//! Members of an organisation: added with roles, their roles replaced, blocked or unblocked,
//! their details corrected, removed.

use super::{
    add_roles, audit, authorise, authorised_organisation, commit_touching, json, links_of,
    member_of, organisation, person_known, unique_or, Actor, Need, LINKS_OF_PERSON,
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
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let (org_id, _) =
            authorised_organisation(tx, actor, kvk, Need::Manage, "add members").await?;
        if !person_known(tx, person).await? {
            return Err(WriteError::UnknownPerson(person.to_string()));
        }
        let id = uuid::Uuid::new_v4().to_string();
        sql(
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
        add_roles(tx, &id, roles).await?;
        audit(
            tx,
            actor,
            Some(&org_id),
            "member.add",
            None,
            json(&(person, roles)),
        )
        .await?;
        commit_touching(transaction, (), LINKS_OF_PERSON, person).await
    }

    /// Replaces a member's roles.
    pub async fn set_roles(
        &self,
        actor: &Actor,
        kvk: &str,
        person: &str,
        roles: &[Role],
    ) -> Result<((), Touched), WriteError> {
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let (org_id, _) =
            authorised_organisation(tx, actor, kvk, Need::Manage, "change roles").await?;
        let membership = member_of(tx, person, &org_id, kvk).await?;
        let before: Vec<String> = sql("SELECT role FROM membership_roles WHERE membership_id = $1")
            .bind(&membership)
            .scalars(&mut *tx)
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
                authorise(
                    tx,
                    actor,
                    &org_id,
                    kvk,
                    Need::Appoint,
                    None,
                    "appoint administrators",
                )
                .await?;
            }
        }
        let had = hoofdbeheerders(tx, &org_id).await?;
        sql("DELETE FROM membership_roles WHERE membership_id = $1")
            .bind(&membership)
            .execute(&mut *tx)
            .await?;
        add_roles(tx, &membership, roles).await?;
        keep_a_hoofdbeheerder(tx, actor, &org_id, kvk, had).await?;
        audit(
            tx,
            actor,
            Some(&org_id),
            "member.roles",
            json(&(person, before)),
            json(&(person, roles)),
        )
        .await?;
        commit_touching(transaction, (), LINKS_OF_PERSON, person).await
    }

    /// Blocks or unblocks a member in the whole organisation (nothing is deleted).
    pub async fn set_member_blocked(
        &self,
        actor: &Actor,
        kvk: &str,
        person: &str,
        blocked: bool,
    ) -> Result<((), Touched), WriteError> {
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let (org_id, _) =
            authorised_organisation(tx, actor, kvk, Need::Manage, "block members").await?;
        let had = hoofdbeheerders(tx, &org_id).await?;
        let changed = sql(
            "UPDATE memberships SET blocked = $1 WHERE person_id = $2 AND organisation_id = $3",
        )
        .bind(blocked)
        .bind(person)
        .bind(&org_id)
        .execute(&mut *tx)
        .await?;
        if changed == 0 {
            return Err(WriteError::HolderInOtherOrganisation {
                holder: format!("person {person}"),
                organisation: kvk.to_string(),
            });
        }
        if blocked {
            keep_a_hoofdbeheerder(tx, actor, &org_id, kvk, had).await?;
        }
        let action = if blocked {
            "member.block"
        } else {
            "member.unblock"
        };
        audit(
            tx,
            actor,
            Some(&org_id),
            action,
            json(&(person, !blocked)),
            json(&(person, blocked)),
        )
        .await?;
        commit_touching(transaction, (), LINKS_OF_PERSON, person).await
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
        authorise(
            tx,
            actor,
            &org_id,
            kvk,
            Need::ManageGroup,
            group.as_deref(),
            "change users",
        )
        .await?;
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
        let taken: Option<String> = sql(
            "SELECT p.id FROM persons p JOIN memberships m ON m.person_id = p.id \
             WHERE m.organisation_id = $1 AND lower(p.email) = lower($2) AND p.id <> $3",
        )
        .bind(&org_id)
        .bind(email)
        .bind(person)
        .scalar_optional(&mut *tx)
        .await?;
        if taken.is_some() {
            return Err(WriteError::DuplicateEmail {
                email: email.to_string(),
                organisation: kvk.to_string(),
            });
        }
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
        audit(
            tx,
            actor,
            Some(&org_id),
            "member.update",
            json(&(person, &before)),
            json(&(person, (name, email, phone, language))),
        )
        .await?;
        transaction.commit().await?;
        // A name is not part of anyone's grant set: nothing cached changes.
        Ok(((), Touched::default()))
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
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let (org_id, _) =
            authorised_organisation(tx, actor, kvk, Need::Manage, "remove users").await?;
        if *actor == Actor::Admin(person.to_string()) {
            return Err(WriteError::RemoveSelf);
        }
        let membership = member_of(tx, person, &org_id, kvk).await?;
        let roles: Vec<String> = sql("SELECT role FROM membership_roles WHERE membership_id = $1")
            .bind(&membership)
            .scalars(&mut *tx)
            .await?;
        if roles
            .iter()
            .any(|r| r == "hoofdbeheerder" || r == "beheerder")
        {
            authorise(
                tx,
                actor,
                &org_id,
                kvk,
                Need::Appoint,
                None,
                "remove administrators",
            )
            .await?;
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
        audit(
            tx,
            actor,
            Some(&org_id),
            "member.remove",
            json(&(person, &roles, &grants)),
            None,
        )
        .await?;
        transaction.commit().await?;
        Ok(((), Touched { links: touched }))
    }
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
