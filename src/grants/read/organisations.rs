//! Organisations: one with its status, contact data, groups and grant counts (counted by the
//! database), with or without its members; all of them as the operator lists them; the setting
//! that decides its directors' sign-off.

use super::members::MemberQuery;
use crate::domain::grant::Organisation;
use crate::domain::request::SignOffPolicy;
use crate::grants::db::sql;
use crate::grants::error::WriteError;
use crate::grants::sql::SqlRegister;
use crate::grants::views::{OrganisationListing, OrganisationStatus, OrganisationView};
use chrono::{DateTime, Utc};

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
    activated_at: Option<DateTime<Utc>>,
    joint_needs_two: bool,
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
             contact_address, activated_at, joint_needs_two FROM organisations WHERE kvk = $1",
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
            status: OrganisationStatus::of(org.activated_at),
            activated_at: org.activated_at,
            joint_needs_two: org.joint_needs_two,
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

    /// Every organisation, by KvK number, with its status; only those with `status` when given.
    pub async fn list_organisations(
        &self,
        status: Option<OrganisationStatus>,
    ) -> Result<Vec<OrganisationListing>, WriteError> {
        type Row = (
            String,
            Option<String>,
            String,
            Option<DateTime<Utc>>,
            DateTime<Utc>,
        );
        let rows: Vec<Row> =
            sql("SELECT kvk, rsin, name, activated_at, created_at FROM organisations ORDER BY kvk")
                .fetch_all(self.pool())
                .await?;
        Ok(rows
            .into_iter()
            .map(
                |(kvk, rsin, name, activated_at, created_at)| OrganisationListing {
                    organisation: Organisation { kvk, rsin, name },
                    status: OrganisationStatus::of(activated_at),
                    activated_at,
                    created_at,
                },
            )
            .filter(|o| status.is_none_or(|s| o.status == s))
            .collect())
    }

    /// The organisation's setting for its directors' signatures.
    pub async fn sign_off_policy(&self, kvk: &str) -> Result<SignOffPolicy, WriteError> {
        let found: Option<bool> = sql("SELECT joint_needs_two FROM organisations WHERE kvk = $1")
            .bind(kvk)
            .scalar_optional(self.pool())
            .await?;
        let joint_needs_two =
            found.ok_or_else(|| WriteError::UnknownOrganisation(kvk.to_string()))?;
        Ok(SignOffPolicy { joint_needs_two })
    }
}
