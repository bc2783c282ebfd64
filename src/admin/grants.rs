//! What an administrator does to grants, with its consequences (the register write, which
//! invalidates the cache; the mail to the holders of a revoked grant): called by the pages
//! (`web::admin::grants`) and the JSON API (`web::api`) alike.
//!
//! A grant outside what the session may see (another organisation's, or, for a
//! groepsbeheerder, one not held by their groups or their groups' members) is
//! [`GrantError::NotFound`], never "not allowed": guessing IDs tells nothing. Whether the
//! session may change a grant is the register's decision (its roles check), as for any writer.

use super::members::Services;
use super::AdminSession;
use crate::domain::level::Level;
use crate::grants::{
    Actor, GrantFilter, GrantRecord, GrantRequest, GrantStatus, Holder, ImportError, ImportRow,
    Renewal, Scope, WriteError,
};
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    #[error("no such grant in this organisation")]
    NotFound,
    /// Refused rows of an addition (one per scope, numbered from 1); nothing was added.
    #[error("{} scope(s) refused, nothing added", .0.len())]
    Rows(Vec<(usize, WriteError)>),
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Grants to add: one per scope, all with the same holder, level and validity.
#[derive(Debug, Clone)]
pub struct NewGrants {
    pub holder: Holder,
    pub scopes: Vec<Scope>,
    pub level: Level,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
}

impl Services<'_> {
    /// The filter narrowed to what the session sees: its organisation, and a groepsbeheerder's
    /// groups.
    async fn visible(
        &self,
        session: &AdminSession,
        mut filter: GrantFilter,
    ) -> Result<GrantFilter, WriteError> {
        filter.organisation = Some(session.organisation.kvk.clone());
        filter.groups = self.member_scope(session).await?;
        Ok(filter)
    }

    /// One page of the grants the session sees (`filter` narrows further), and how many match.
    pub async fn list_grants(
        &self,
        session: &AdminSession,
        filter: GrantFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<GrantRecord>, usize), WriteError> {
        let filter = self.visible(session, filter).await?;
        self.registry
            .sql()
            .list_grants_page(&filter, offset, limit)
            .await
    }

    /// A grant the session sees, read by its ID.
    pub async fn grant(&self, session: &AdminSession, id: &str) -> Result<GrantRecord, GrantError> {
        let filter = GrantFilter {
            id: Some(id.to_string()),
            ..Default::default()
        };
        self.list_grants(session, filter, 0, 1)
            .await?
            .0
            .into_iter()
            .next()
            .ok_or(GrantError::NotFound)
    }

    /// Adds one grant per scope, all or nothing; the grants made.
    pub async fn add_grants(
        &self,
        session: &AdminSession,
        new: &NewGrants,
    ) -> Result<Vec<GrantRecord>, GrantError> {
        let rows: Vec<ImportRow> = new
            .scopes
            .iter()
            .enumerate()
            .map(|(i, scope)| ImportRow {
                line: i + 1,
                request: GrantRequest {
                    id: None,
                    organisation: session.organisation.kvk.clone(),
                    holder: new.holder.clone(),
                    scope: scope.clone(),
                    level: new.level,
                    valid_from: new.valid_from,
                    valid_until: new.valid_until,
                },
                status: GrantStatus::Active,
            })
            .collect();
        let sql = self.registry.sql();
        let ids = self
            .registry
            .write(sql.import_grants(&actor(session), &self.catalogue, &rows))
            .await
            .map_err(|e| match e {
                ImportError::Rows(rows) => GrantError::Rows(rows),
                ImportError::Refused(e) => GrantError::Write(e),
                ImportError::Database(e) => GrantError::Write(WriteError::Database(e)),
            })?;
        self.grants(session, &ids).await
    }

    /// Renews grants the session sees by 1, 3 or 5 years, all or nothing.
    pub async fn renew_grants(
        &self,
        session: &AdminSession,
        ids: &[String],
        years: u32,
    ) -> Result<Vec<GrantRecord>, GrantError> {
        self.grants(session, ids).await?;
        let sql = self.registry.sql();
        self.registry
            .write(sql.renew_grants(&actor(session), ids, Renewal::Years(years)))
            .await?;
        self.grants(session, ids).await
    }

    /// Revokes a grant (refused at the gateway from the next login on) and tells its holders,
    /// or makes a revoked or lapsed grant active again.
    pub async fn set_grant_status(
        &self,
        session: &AdminSession,
        id: &str,
        status: GrantStatus,
    ) -> Result<GrantRecord, GrantError> {
        self.grant(session, id).await?;
        let sql = self.registry.sql();
        let actor = actor(session);
        match status {
            GrantStatus::Revoked => {
                self.registry.write(sql.revoke_grant(&actor, id)).await?;
                let notified = super::notify::grant_revoked(
                    sql.pool(),
                    self.mailer,
                    id,
                    &session.organisation.name,
                )
                .await;
                if let Err(e) = notified {
                    // The revocation stands; only the courtesy mail failed.
                    tracing::error!(grant = %id, "revocation notice: {e}");
                }
            }
            GrantStatus::Active => {
                self.registry
                    .write(sql.reactivate_grant(&actor, id))
                    .await?;
            }
        }
        self.grant(session, id).await
    }

    /// Each of `ids`, in order, when the session sees them all.
    async fn grants(
        &self,
        session: &AdminSession,
        ids: &[String],
    ) -> Result<Vec<GrantRecord>, GrantError> {
        // The session's view once (a groepsbeheerder's groups are a query), then one row each.
        let view = self.visible(session, GrantFilter::default()).await?;
        let sql = self.registry.sql();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let filter = GrantFilter {
                id: Some(id.clone()),
                ..view.clone()
            };
            let found = sql.list_grants(&filter).await?.into_iter().next();
            out.push(found.ok_or(GrantError::NotFound)?);
        }
        Ok(out)
    }
}

fn actor(session: &AdminSession) -> Actor {
    Actor::Admin(session.person_id.clone())
}
