//! Requests to link a person who is already known at another organisation: an administrator of
//! organisation A names the other organisation (KvK number) and the person's e-mail address
//! there; an administrator of that organisation approves (the person becomes a member of A with
//! the requested roles, under the identity they already have) or declines.
//!
//! The asking side learns nothing of the other organisation's members: a request is accepted
//! whatever the e-mail address, and only the other side sees it, and only when the address is
//! one of its members'. Unanswered requests expire after [`LINK_REQUEST_LIFETIME`].

use super::{
    commit_recorded, find_membership, insert_membership, links_of, members_by_email, organisation,
    Actor, Need, Record, Touching, LINKS_OF_PERSON,
};
use crate::domain::grant::{Role, Touched};
use crate::grants::check::{check_email, check_kvk};
use crate::grants::db::sql;
use crate::grants::error::WriteError;
use crate::grants::read::links::{roles_text, stored_request};
use crate::grants::sql::SqlRegister;
use crate::grants::views::{LinkRequest, LinkRequestStatus};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use std::collections::BTreeSet;

pub const LINK_REQUEST_LIFETIME: TimeDelta = TimeDelta::days(14);

/// A request as an administrator makes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct NewLinkRequest {
    /// KvK number of the organisation where the person is known.
    pub kvk: String,
    /// The person's e-mail address there.
    pub email: String,
    #[serde(default)]
    pub roles: Vec<Role>,
}

/// Fails unless the request is still open.
fn still_open(request: &LinkRequest) -> Result<(), WriteError> {
    match request.status {
        LinkRequestStatus::Pending => Ok(()),
        LinkRequestStatus::Expired => Err(WriteError::LinkRequestExpired),
        other => Err(WriteError::LinkRequestDecided(other.as_str().to_string())),
    }
}

impl SqlRegister {
    /// Asks the organisation `new.kvk` to link its member with address `new.email` to `kvk`.
    pub async fn request_link(
        &self,
        actor: &Actor,
        kvk: &str,
        new: &NewLinkRequest,
        now: DateTime<Utc>,
    ) -> Result<(LinkRequest, Touched), WriteError> {
        let other_kvk = new.kvk.trim();
        let email = new.email.trim();
        let need = Need::to_give(&new.roles);
        let (mut transaction, org_id, _) =
            self.begin_in(actor, kvk, need, "ask to link users").await?;
        let tx = &mut transaction;
        check_kvk(other_kvk)?;
        check_email(email)?;
        if other_kvk == kvk {
            return Err(WriteError::LinkOwnOrganisation);
        }
        let (other_id, _) = organisation(tx, other_kvk).await?;
        let id = uuid::Uuid::new_v4().to_string();
        sql(
            "INSERT INTO link_requests (id, organisation_id, other_organisation_id, email, \
             roles, requested_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(&org_id)
        .bind(&other_id)
        .bind(email)
        .bind(roles_text(&new.roles))
        .bind(actor.name())
        .bind(now)
        .bind(now + LINK_REQUEST_LIFETIME)
        .execute(&mut *tx)
        .await?;
        let record =
            Record::new(actor, &org_id, "link.request").after(&(&id, other_kvk, email, &new.roles));
        let request = stored_request(tx, &id, now).await?;
        commit_recorded(transaction, record, request, Touching::Nobody).await
    }

    /// The other side's answer: approving makes the member it names a member of the asking
    /// organisation with the requested roles (nothing else of theirs is shared).
    pub async fn decide_link_request(
        &self,
        actor: &Actor,
        kvk: &str,
        id: &str,
        approve: bool,
        now: DateTime<Utc>,
    ) -> Result<(LinkRequest, Touched), WriteError> {
        let (mut transaction, org_id, _) = self
            .begin_in(actor, kvk, Need::Manage, "answer link requests")
            .await?;
        let tx = &mut transaction;
        let request = stored_request(tx, id, now).await?;
        // Another organisation's request, or one naming nobody here: as if it did not exist.
        let named = members_by_email(tx, &org_id, &request.email).await?;
        let Some((person, _)) = named
            .into_iter()
            .next()
            .filter(|_| request.other.kvk == kvk)
        else {
            return Err(WriteError::LinkRequestUnknown);
        };
        still_open(&request)?;
        let (asking_id, _) = organisation(tx, &request.organisation.kvk).await?;
        let mut touched = BTreeSet::new();
        if approve {
            if find_membership(tx, &person, &asking_id).await?.is_some() {
                return Err(WriteError::DuplicateMember {
                    person: person.clone(),
                    organisation: request.organisation.kvk.clone(),
                });
            }
            let asking_kvk = &request.organisation.kvk;
            insert_membership(tx, &person, &asking_id, asking_kvk, &request.roles, now).await?;
            touched = links_of(tx, LINKS_OF_PERSON, &person).await?;
        }
        let outcome = if approve { "approved" } else { "declined" };
        sql(
            "UPDATE link_requests SET outcome = $1, decided_at = $2, decided_by = $3, \
             person_id = $4 WHERE id = $5",
        )
        .bind(outcome)
        .bind(now)
        .bind(actor.name())
        .bind(approve.then_some(person.as_str()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let action = if approve {
            "link.approve"
        } else {
            "link.decline"
        };
        // Both organisations' trails show the answer.
        Record::new(actor, &org_id, action)
            .after(&(id, &request.organisation.kvk, &person))
            .append(tx)
            .await?;
        let record =
            Record::new(actor, &asking_id, action).after(&(id, kvk, approve.then_some(&person)));
        let mut request = stored_request(tx, id, now).await?;
        request.person_name = None;
        commit_recorded(transaction, record, request, Touching::Links(touched)).await
    }

    /// The asking side takes its open request back.
    pub async fn withdraw_link_request(
        &self,
        actor: &Actor,
        kvk: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(LinkRequest, Touched), WriteError> {
        let (mut transaction, org_id, _) = self
            .begin_in(actor, kvk, Need::Manage, "withdraw link requests")
            .await?;
        let tx = &mut transaction;
        let request = stored_request(tx, id, now).await?;
        if request.organisation.kvk != kvk {
            return Err(WriteError::LinkRequestUnknown);
        }
        still_open(&request)?;
        sql(
            "UPDATE link_requests SET outcome = 'withdrawn', decided_at = $1, decided_by = $2 \
             WHERE id = $3",
        )
        .bind(now)
        .bind(actor.name())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let record = Record::new(actor, &org_id, "link.withdraw").after(&id);
        let request = stored_request(tx, id, now).await?;
        commit_recorded(transaction, record, request, Touching::Nobody).await
    }
}
