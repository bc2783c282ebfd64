//! Groups of an organisation: created, members put in them (perhaps as the group's
//! administrator), a member blocked for one group only.

use super::{authorised_group, commit_recorded, member_of, organisation};
use super::{unique_or, Actor, Need, Record, Touching};
use crate::domain::grant::Touched;
use crate::grants::db::sql;
use crate::grants::error::WriteError;
use crate::grants::sql::SqlRegister;
use chrono::Utc;

impl SqlRegister {
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
        let (mut transaction, org_id, _) = self
            .begin_in(actor, kvk, Need::Manage, "create groups")
            .await?;
        let tx = &mut transaction;
        sql("INSERT INTO groups (id, organisation_id, name, created_at) VALUES ($1, $2, $3, $4)")
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
        let record = Record::new(actor, &org_id, "group.create").after(&name);
        commit_recorded(transaction, record, id, Touching::Nobody).await
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
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let (org_id, _) = organisation(tx, kvk).await?;
        let group_id = authorised_group(tx, actor, &org_id, kvk, group, "change the group").await?;
        let membership = member_of(tx, person, &org_id, kvk).await?;
        sql(
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
        let record = Record::new(actor, &org_id, "group.add_member").after(&(group, person, admin));
        commit_recorded(transaction, record, (), Touching::Person(person)).await
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
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let (org_id, _) = organisation(tx, kvk).await?;
        let group_id =
            authorised_group(tx, actor, &org_id, kvk, group, "block group members").await?;
        let changed = sql(
            "UPDATE group_members SET blocked = $1 WHERE group_id = $2 AND membership_id = \
             (SELECT id FROM memberships WHERE person_id = $3 AND organisation_id = $4)",
        )
        .bind(blocked)
        .bind(&group_id)
        .bind(person)
        .bind(&org_id)
        .execute(&mut *tx)
        .await?;
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
        let record = Record::new(actor, &org_id, action)
            .before(&(group, person, !blocked))
            .after(&(group, person, blocked));
        commit_recorded(transaction, record, (), Touching::Person(person)).await
    }
}
