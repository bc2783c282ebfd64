//! Bevoegd vertegenwoordigers: an organisation's, as its latest extract of the trade register
//! gave them (never with their date of birth), and the organisations a person represents.

use crate::domain::grant::Organisation;
use crate::domain::request::Authority;
use crate::grants::db::sql;
use crate::grants::error::{corrupt, WriteError};
use crate::grants::sql::SqlRegister;
use crate::grants::views::RepresentativeView;
use chrono::{DateTime, Utc};

/// An authority as stored.
pub(crate) fn authority_text(authority: Authority) -> &'static str {
    match authority {
        Authority::Sole => "sole",
        Authority::Joint => "joint",
    }
}

/// A stored authority; anything else is a corrupt row.
pub(crate) fn stored_authority(text: &str) -> Result<Authority, WriteError> {
    match text {
        "sole" => Ok(Authority::Sole),
        "joint" => Ok(Authority::Joint),
        other => Err(corrupt(format!("representative authority {other:?}"))),
    }
}

type RepresentativeRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<DateTime<Utc>>,
);

impl SqlRegister {
    /// The organisation's bevoegd vertegenwoordigers, by family name and given names.
    pub async fn representatives(&self, kvk: &str) -> Result<Vec<RepresentativeView>, WriteError> {
        let mut transaction = self.pool().begin().await?;
        let tx = &mut transaction;
        let org: Option<String> = sql("SELECT id FROM organisations WHERE kvk = $1")
            .bind(kvk)
            .scalar_optional(&mut *tx)
            .await?;
        let org = org.ok_or_else(|| WriteError::UnknownOrganisation(kvk.to_string()))?;
        let rows: Vec<RepresentativeRow> = sql(
            "SELECT id, given_names, family_name, authority, person_id, bound_at \
             FROM representatives WHERE organisation_id = $1 \
             ORDER BY family_name, given_names, id",
        )
        .bind(&org)
        .fetch_all(&mut *tx)
        .await?;
        transaction.commit().await?;
        rows.into_iter()
            .map(
                |(id, given_names, family_name, authority, person, bound_at)| {
                    Ok(RepresentativeView {
                        id,
                        given_names,
                        family_name,
                        authority: stored_authority(&authority)?,
                        person,
                        bound_at,
                    })
                },
            )
            .collect()
    }

    /// The organisations `person` is bound to as a bevoegd vertegenwoordiger, with their
    /// authority there, by KvK number.
    pub async fn represented_by(
        &self,
        person: &str,
    ) -> Result<Vec<(Organisation, Authority)>, WriteError> {
        type Row = (String, Option<String>, String, String);
        let rows: Vec<Row> = sql(
            "SELECT o.kvk, o.rsin, o.name, r.authority FROM representatives r \
             JOIN organisations o ON o.id = r.organisation_id \
             WHERE r.person_id = $1 ORDER BY o.kvk",
        )
        .bind(person)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(kvk, rsin, name, authority)| {
                Ok((
                    Organisation { kvk, rsin, name },
                    stored_authority(&authority)?,
                ))
            })
            .collect()
    }

    /// The authority of `person` as bevoegd vertegenwoordiger of organisation `kvk`, if they
    /// are one (bound).
    pub async fn representative_authority(
        &self,
        kvk: &str,
        person: &str,
    ) -> Result<Option<Authority>, WriteError> {
        let found: Option<String> = sql("SELECT r.authority FROM representatives r \
             JOIN organisations o ON o.id = r.organisation_id \
             WHERE o.kvk = $1 AND r.person_id = $2 ORDER BY r.id LIMIT 1")
        .bind(kvk)
        .bind(person)
        .scalar_optional(self.pool())
        .await?;
        found.as_deref().map(stored_authority).transpose()
    }
}
