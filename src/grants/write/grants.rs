//! Grants: added (to a member or a group, checked against the catalogue, the holder, duplicates
//! and the granting administrator's own level), renewed, revoked and reactivated.

use super::{
    authorise, authorised_group, commit_recorded, commit_touching, find_membership, links_of,
    organisation, person_known, unique_or, within_admin_level, Actor, Need, Record, Touching,
    HOLDERS_OF_GRANT, LINKS_OF_GROUP, LINKS_OF_PERSON,
};
use crate::config::ServiceConfig;
use crate::domain::grant::{validity_limit, GrantStatus, IdentityKey, Scope, Touched};
use crate::domain::level::Level;
use crate::grants::check::{check_kvk, check_scope, check_validity, renewal_years};
use crate::grants::db::{sql, Tx};
use crate::grants::error::{corrupt, WriteError};
use crate::grants::sql::{scope_columns, status_text, SqlRegister};
use crate::grants::views::Holder;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeSet;
use std::str::FromStr;

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

impl SqlRegister {
    /// Adds a grant; its ID. Checks the validity, the scope against the catalogue, that the
    /// holder belongs to the organisation, that no active grant already gives the same, and,
    /// for an administrator, their roles and their own level.
    pub async fn add_grant(
        &self,
        actor: &Actor,
        catalogue: &[ServiceConfig],
        request: &GrantRequest,
    ) -> Result<(String, Touched), WriteError> {
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let (id, links) = insert_grant(tx, actor, catalogue, request, GrantStatus::Active).await?;
        commit_touching(transaction, id, Touching::Links(links)).await
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
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let new_until = renew_one(tx, actor, grant, renewal, now).await?;
        commit_touching(transaction, new_until, Touching::HoldersOf(grant)).await
    }

    /// Renews many grants at once, all or nothing (each checked as [`Self::renew_grant`]).
    pub async fn renew_grants(
        &self,
        actor: &Actor,
        grants: &[String],
        renewal: Renewal,
    ) -> Result<(Vec<DateTime<Utc>>, Touched), WriteError> {
        let now = Utc::now();
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let mut ends = Vec::new();
        let mut links = BTreeSet::new();
        for grant in grants {
            ends.push(renew_one(tx, actor, grant.as_str(), renewal, now).await?);
            links.extend(links_of(tx, HOLDERS_OF_GRANT, grant.as_str()).await?);
        }
        commit_touching(transaction, ends, Touching::Links(links)).await
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
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let (org_id, level, current, from, until) =
            authorised_grant(tx, actor, grant, "change grants").await?;
        let (action, last_used) = match status {
            GrantStatus::Revoked => {
                if current == "revoked" {
                    return Err(WriteError::GrantRevoked(grant.to_string()));
                }
                ("grant.revoke", None)
            }
            GrantStatus::Active => {
                within_admin_level(tx, actor, &org_id, level).await?;
                no_overlap_with_others(tx, grant, from, until).await?;
                ("grant.reactivate", Some(Utc::now()))
            }
        };
        sql(
            "UPDATE grants SET status = $1, last_used_at = COALESCE($2, last_used_at) \
             WHERE id = $3",
        )
        .bind(status_text(status))
        .bind(last_used)
        .bind(grant)
        .execute(&mut *tx)
        .await?;
        let record = Record::new(actor, &org_id, action)
            .before(&(grant, &current))
            .after(&(grant, status_text(status)));
        commit_recorded(transaction, record, (), Touching::HoldersOf(grant)).await
    }
}

/// A grant as a change to it needs it: organisation ID, KvK number, level, status, validity and
/// group (if a group holds it).
type GrantRow = (
    String,
    String,
    Level,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<String>,
);

async fn grant_row(tx: &mut Tx, grant: &str) -> Result<GrantRow, WriteError> {
    type Row = (
        String,
        String,
        String,
        String,
        DateTime<Utc>,
        DateTime<Utc>,
        Option<String>,
    );
    let row: Option<Row> = sql(
        "SELECT g.organisation_id, o.kvk, g.level, g.status, g.valid_from, g.valid_until, \
             g.group_id FROM grants g JOIN organisations o ON o.id = g.organisation_id \
             WHERE g.id = $1",
    )
    .bind(grant)
    .fetch_optional(tx)
    .await?;
    let row = row.ok_or_else(|| WriteError::UnknownGrant(grant.to_string()))?;
    let level = Level::from_str(&row.2).map_err(|e| corrupt(e.to_string()))?;
    Ok((row.0, row.1, level, row.3, row.4, row.5, row.6))
}

/// The grant as a change to it needs it (organisation ID, level, status, validity), once the
/// actor may do `action` to it: manage its organisation, or the group that holds it.
async fn authorised_grant(
    tx: &mut Tx,
    actor: &Actor,
    grant: &str,
    action: &'static str,
) -> Result<(String, Level, String, DateTime<Utc>, DateTime<Utc>), WriteError> {
    let (org_id, kvk, level, status, from, until, group_id) = grant_row(tx, grant).await?;
    let need = match group_id.as_deref() {
        Some(group) => Need::ManageGroup(Some(group)),
        None => Need::Manage,
    };
    authorise(tx, actor, &org_id, &kvk, need, action).await?;
    Ok((org_id, level, status, from, until))
}

/// Fails with [`WriteError::DuplicateGrant`] if one of `active` (ID and validity of active
/// grants with the same holder, scope and level) overlaps the period `from`..`until`.
fn no_overlap(
    active: &[(String, DateTime<Utc>, DateTime<Utc>)],
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<(), WriteError> {
    match active
        .iter()
        .find(|(_, other_from, other_until)| *other_from < until && from < *other_until)
    {
        Some((existing, _, _)) => Err(WriteError::DuplicateGrant {
            existing: existing.clone(),
        }),
        None => Ok(()),
    }
}

async fn no_overlap_with_others(
    tx: &mut Tx,
    grant: &str,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<(), WriteError> {
    let others: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = sql(
        "SELECT o.id, o.valid_from, o.valid_until FROM grants g JOIN grants o \
               ON o.organisation_id = g.organisation_id AND o.level = g.level \
              AND o.scope_kind = g.scope_kind \
              AND COALESCE(o.provider, '') = COALESCE(g.provider, '') \
              AND COALESCE(o.service_uuid, '') = COALESCE(g.service_uuid, '') \
              AND COALESCE(o.membership_id, '') = COALESCE(g.membership_id, '') \
              AND COALESCE(o.group_id, '') = COALESCE(g.group_id, '') \
             WHERE g.id = $1 AND o.id <> g.id AND o.status = 'active'",
    )
    .bind(grant)
    .fetch_all(tx)
    .await?;
    no_overlap(&others, from, until)
}

pub(super) async fn insert_grant(
    tx: &mut Tx,
    actor: &Actor,
    catalogue: &[ServiceConfig],
    request: &GrantRequest,
    status: GrantStatus,
) -> Result<(String, BTreeSet<IdentityKey>), WriteError> {
    check_validity(request.valid_from, request.valid_until)?;
    check_scope(&request.scope, catalogue)?;
    let kvk = request.organisation.as_str();
    check_kvk(kvk)?;
    let id = match &request.id {
        Some(id) if id.trim().is_empty() => return Err(WriteError::Empty { what: "grant ID" }),
        Some(id) => id.clone(),
        None => format!("g-{}", uuid::Uuid::new_v4().simple()),
    };
    let (kind, provider, service_uuid) = scope_columns(&request.scope);
    let (org_id, _) = organisation(tx, kvk).await?;
    // An administrator must administer this organisation before anything about its
    // members or groups is told: otherwise the errors below would say whether a person
    // or group exists in an organisation they have no rights in.
    if let Actor::Admin(admin) = actor {
        let roles: Vec<String> = sql("SELECT r.role FROM membership_roles r \
                     JOIN memberships m ON m.id = r.membership_id \
                     WHERE m.person_id = $1 AND m.organisation_id = $2 AND NOT m.blocked \
                       AND r.role IN ('hoofdbeheerder', 'beheerder', 'groepsbeheerder')")
        .bind(admin)
        .bind(&org_id)
        .scalars(&mut *tx)
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
            let membership = match find_membership(tx, person, &org_id).await? {
                Some(m) => m,
                None => {
                    return Err(if person_known(tx, person).await? {
                        WriteError::HolderInOtherOrganisation {
                            holder: request.holder.to_string(),
                            organisation: kvk.to_string(),
                        }
                    } else {
                        WriteError::UnknownPerson(person.clone())
                    });
                }
            };
            authorise(tx, actor, &org_id, kvk, Need::Manage, "add grants").await?;
            let links = links_of(tx, LINKS_OF_PERSON, person).await?;
            (Some(membership), None, links)
        }
        Holder::Group(name) => {
            let group_id = authorised_group(tx, actor, &org_id, kvk, name, "add grants").await?;
            let links = links_of(tx, LINKS_OF_GROUP, &group_id).await?;
            (None, Some(group_id), links)
        }
    };
    within_admin_level(tx, actor, &org_id, request.level).await?;
    // The same holder, scope and level, active, for an overlapping period: a duplicate.
    let same: Vec<(String, DateTime<Utc>, DateTime<Utc>)> =
        sql("SELECT id, valid_from, valid_until FROM grants \
                  WHERE organisation_id = $1 AND status = 'active' AND level = $2 \
                    AND scope_kind = $3 AND COALESCE(provider, '') = $4 \
                    AND COALESCE(service_uuid, '') = $5 \
                    AND COALESCE(membership_id, '') = $6 AND COALESCE(group_id, '') = $7")
        .bind(&org_id)
        .bind(request.level.to_string())
        .bind(kind)
        .bind(provider.clone().unwrap_or_default())
        .bind(service_uuid.clone().unwrap_or_default())
        .bind(membership_id.clone().unwrap_or_default())
        .bind(group_id.clone().unwrap_or_default())
        .fetch_all(&mut *tx)
        .await?;
    no_overlap(&same, request.valid_from, request.valid_until)?;
    // Checked before inserting: on PostgreSQL a failed statement would end the whole
    // transaction, and an import reports every bad row.
    let taken: Option<String> = sql("SELECT id FROM grants WHERE id = $1")
        .bind(&id)
        .scalar_optional(&mut *tx)
        .await?;
    if taken.is_some() {
        return Err(WriteError::DuplicateGrantId(id.clone()));
    }
    sql(
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
    .bind(status_text(status))
    .bind(actor.name())
    .bind(Utc::now())
    .execute(&mut *tx)
    .await
    .map_err(|e| unique_or(e, || WriteError::DuplicateGrantId(id.clone())))?;
    Record::new(actor, &org_id, "grant.add")
        .after(&(&id, request))
        .append(tx)
        .await?;
    Ok((id, touched))
}

pub(super) async fn renew_one(
    tx: &mut Tx,
    actor: &Actor,
    grant: &str,
    renewal: Renewal,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, WriteError> {
    let (org_id, level, status, from, until) =
        authorised_grant(tx, actor, grant, "renew grants").await?;
    within_admin_level(tx, actor, &org_id, level).await?;
    if status == "revoked" {
        return Err(WriteError::GrantRevoked(grant.to_string()));
    }
    let new_until = match renewal {
        Renewal::Until(until) => until,
        Renewal::Years(n) => {
            let base = until.max(now);
            base.checked_add_months(renewal_years(n)?)
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
    no_overlap_with_others(tx, grant, new_from, new_until).await?;
    sql("UPDATE grants SET valid_from = $1, valid_until = $2, reminded_at = NULL WHERE id = $3")
        .bind(new_from)
        .bind(new_until)
        .bind(grant)
        .execute(&mut *tx)
        .await?;
    Record::new(actor, &org_id, "grant.renew")
        .before(&(grant, from, until))
        .after(&(grant, new_from, new_until))
        .append(tx)
        .await?;
    Ok(new_until)
}
