//! Organisations: one with its contact data, groups and grant counts (counted by the database),
//! with or without its members.

use super::members::MemberQuery;
use crate::domain::grant::Organisation;
use crate::grants::db::sql;
use crate::grants::error::WriteError;
use crate::grants::sql::SqlRegister;
use crate::grants::views::OrganisationView;
use chrono::Utc;

/// An organisation as stored.
#[derive(sqlx::FromRow)]
struct OrganisationRow {
    id: String,
    kvk: String,
    rsin: Option<String>,
    name: String,
    contact_name: Option<String>,
    contact_email: Option<String>,
    contact_phone: Option<String>,
    contact_address: Option<String>,
}

impl SqlRegister {
    /// An organisation with its members, groups and grant counts.
    pub async fn show_organisation(&self, kvk: &str) -> Result<OrganisationView, WriteError> {
        let mut view = self.organisation_summary(kvk).await?;
        let (members, _) = self
            .list_members(kvk, &MemberQuery::default(), 0, usize::MAX)
            .await?;
        view.members = members;
        Ok(view)
    }

    /// An organisation with its contact data, groups and grant counts, without its members
    /// (who may be 10,000: [`SqlRegister::list_members`] pages them).
    pub async fn organisation_summary(&self, kvk: &str) -> Result<OrganisationView, WriteError> {
        let now = Utc::now();
        let mut transaction = self.pool().begin().await?;
        let tx = &mut transaction;
        let org: Option<OrganisationRow> = sql(
            "SELECT id, kvk, rsin, name, contact_name, contact_email, contact_phone, \
             contact_address FROM organisations WHERE kvk = $1",
        )
        .bind(kvk)
        .fetch_optional(&mut *tx)
        .await?;
        let org = org.ok_or_else(|| WriteError::UnknownOrganisation(kvk.to_string()))?;
        let groups: Vec<String> =
            sql("SELECT name FROM groups WHERE organisation_id = $1 ORDER BY name")
                .bind(&org.id)
                .scalars(&mut *tx)
                .await?;
        // Counted by the database: an organisation may hold 100,000 grants.
        let (revoked, expired, all): (i64, i64, i64) = sql(
            "SELECT CAST(COALESCE(SUM(CASE WHEN status = 'revoked' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(CASE WHEN status <> 'revoked' AND valid_until <= $2 \
                                      THEN 1 ELSE 0 END), 0) AS BIGINT), \
                    COUNT(*) \
               FROM grants WHERE organisation_id = $1",
        )
        .bind(&org.id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let mut view = OrganisationView {
            organisation: Organisation {
                kvk: org.kvk,
                rsin: org.rsin,
                name: org.name,
            },
            contact_name: org.contact_name,
            contact_email: org.contact_email,
            contact_phone: org.contact_phone,
            contact_address: org.contact_address,
            members: Vec::new(),
            groups,
            grants_active: 0,
            grants_revoked: 0,
            grants_expired: 0,
        };
        view.grants_revoked = revoked;
        view.grants_expired = expired;
        view.grants_active = all - revoked - expired;
        transaction.commit().await?;
        Ok(view)
    }
}
