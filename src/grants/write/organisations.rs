//! Organisations: created by an operator, their name, RSIN and contact data changed by their
//! administrators. (Registering one that its hoofdbeheerder activates is `activation.rs`.)

use super::{commit_recorded, operator_only, unique_or, Actor, Need, Record, Touching};
use crate::domain::grant::Touched;
use crate::grants::check::{check_kvk, check_rsin};
use crate::grants::db::{sql, Tx};
use crate::grants::error::WriteError;
use crate::grants::sql::SqlRegister;
use chrono::{DateTime, Utc};
use serde::Serialize;

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

/// Checks and inserts a new organisation, active from `activated_at` (`None`: waiting for its
/// hoofdbeheerder's first login); its internal ID.
pub(super) async fn insert_organisation(
    tx: &mut Tx,
    new: &NewOrganisation,
    now: DateTime<Utc>,
    activated_at: Option<DateTime<Utc>>,
) -> Result<String, WriteError> {
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
    sql(
        "INSERT INTO organisations (id, kvk, rsin, name, contact_name, contact_email, \
         contact_phone, created_at, activated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(&new.kvk)
    .bind(&new.rsin)
    .bind(new.name.trim())
    .bind(&new.contact_name)
    .bind(&new.contact_email)
    .bind(&new.contact_phone)
    .bind(now)
    .bind(activated_at)
    .execute(tx)
    .await
    .map_err(|e| unique_or(e, || WriteError::DuplicateOrganisation(new.kvk.clone())))?;
    Ok(id)
}

impl SqlRegister {
    /// Adds an organisation, active at once (operators only).
    pub async fn create_organisation(
        &self,
        actor: &Actor,
        new: &NewOrganisation,
    ) -> Result<(String, Touched), WriteError> {
        operator_only(actor, "create organisations")?;
        let now = Utc::now();
        let mut transaction = self.pool().begin_write().await?;
        let id = insert_organisation(&mut transaction, new, now, Some(now)).await?;
        let record = Record::new(actor, &id, "organisation.create").after(new);
        commit_recorded(transaction, record, id.clone(), Touching::Nobody).await
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
        let (mut transaction, org_id, _) = self
            .begin_in(actor, kvk, Need::Manage, "change the organisation")
            .await?;
        let tx = &mut transaction;
        type Row = (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let before: Row = sql(
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
        sql(
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
        let record = Record::new(actor, &org_id, "organisation.update")
            .before(&before)
            .after(&after);
        commit_recorded(transaction, record, (), Touching::Organisation(&org_id)).await
    }
}
