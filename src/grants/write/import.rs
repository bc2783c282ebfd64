//! Imports of grants: many at once, all or nothing, every bad row reported with its line; and the
//! same check without writing.

use super::grants::{insert_grant, GrantRequest};
use super::Actor;
use crate::config::ServiceConfig;
use crate::domain::grant::{GrantStatus, IdentityKey, Touched};
use crate::grants::db::Tx;
use crate::grants::error::{ImportError, WriteError};
use crate::grants::sql::SqlRegister;
use std::collections::BTreeSet;

/// One grant of an import, with the line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    pub line: usize,
    pub request: GrantRequest,
    pub status: GrantStatus,
}

impl SqlRegister {
    /// Adds many grants at once, all or nothing: every row is checked as [`Self::add_grant`]
    /// checks one (including against the rows before it), every bad row is reported with its
    /// line, and nothing is written unless all are good.
    pub async fn import_grants(
        &self,
        actor: &Actor,
        catalogue: &[ServiceConfig],
        rows: &[ImportRow],
    ) -> Result<(Vec<String>, Touched), ImportError> {
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let (ids, links, bad) = insert_rows(tx, actor, catalogue, rows).await?;
        if !bad.is_empty() {
            return Err(ImportError::Rows(bad));
        }
        transaction.commit().await?;
        Ok((ids, Touched { links }))
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
        let mut tx = self.pool().begin().await?;
        let (_, _, bad) = insert_rows(&mut tx, actor, catalogue, rows).await?;
        tx.rollback().await?;
        Ok(bad)
    }
}

/// What an import inserted: the grants' IDs and the links they touch; and the rows refused,
/// with their lines.
type Inserted = (Vec<String>, BTreeSet<IdentityKey>, Vec<(usize, WriteError)>);

async fn insert_rows(
    tx: &mut Tx,
    actor: &Actor,
    catalogue: &[ServiceConfig],
    rows: &[ImportRow],
) -> Result<Inserted, ImportError> {
    let mut ids = Vec::with_capacity(rows.len());
    let mut links = BTreeSet::new();
    let mut bad = Vec::new();
    for row in rows {
        match insert_grant(tx, actor, catalogue, &row.request, row.status).await {
            Ok((id, touched)) => {
                ids.push(id);
                links.extend(touched);
            }
            Err(WriteError::Database(e)) => return Err(ImportError::Database(e)),
            Err(e) => bad.push((row.line, e)),
        }
    }
    Ok((ids, links, bad))
}
