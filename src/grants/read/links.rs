//! Link requests as either side lists them: the asking organisation sees its own requests, the
//! other sees the open ones that name one of its members (and who that is).

use crate::domain::grant::{Organisation, Role};
use crate::grants::db::{Args, Sql, Tx};
use crate::grants::error::corrupt;
use crate::grants::error::WriteError;
use crate::grants::sql::{parse_role, SqlRegister};
use crate::grants::views::{LinkRequest, LinkRequestStatus};
use chrono::{DateTime, Utc};

/// A link request as stored, with both organisations (`other_…`: where the person is known);
/// `person_name` is the name of the member the address names (only the other side's listing
/// selects it).
#[derive(sqlx::FromRow)]
struct LinkRow {
    id: String,
    kvk: String,
    rsin: Option<String>,
    name: String,
    other_kvk: String,
    other_rsin: Option<String>,
    other_name: String,
    email: String,
    roles: String,
    requested_by: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
    outcome: Option<String>,
    person_id: Option<String>,
    person_name: Option<String>,
}

const LINK_COLUMNS: &str = "r.id, o.kvk, o.rsin, o.name, x.kvk AS other_kvk, \
     x.rsin AS other_rsin, x.name AS other_name, r.email, r.roles, r.requested_by, r.created_at, \
     r.expires_at, r.decided_at, r.outcome, r.person_id, CAST(NULL AS TEXT) AS person_name";

const LINK_FROM: &str = "FROM link_requests r JOIN organisations o ON o.id = r.organisation_id \
     JOIN organisations x ON x.id = r.other_organisation_id";

/// Roles as a link request stores them: comma-separated.
pub(in crate::grants) fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// A stored request as its sides see it (expired when its time is up unanswered).
fn link_request(r: LinkRow, now: DateTime<Utc>) -> Result<LinkRequest, WriteError> {
    let roles = r
        .roles
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse_role(s).map_err(|e| corrupt(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let status = match r.outcome.as_deref() {
        None if r.expires_at <= now => LinkRequestStatus::Expired,
        None => LinkRequestStatus::Pending,
        Some("approved") => LinkRequestStatus::Approved,
        Some("declined") => LinkRequestStatus::Declined,
        Some("withdrawn") => LinkRequestStatus::Withdrawn,
        Some(other) => return Err(corrupt(format!("link request {}: {other:?}", r.id))),
    };
    Ok(LinkRequest {
        id: r.id,
        organisation: Organisation {
            kvk: r.kvk,
            rsin: r.rsin,
            name: r.name,
        },
        other: Organisation {
            kvk: r.other_kvk,
            rsin: r.other_rsin,
            name: r.other_name,
        },
        email: r.email,
        roles,
        requested_by: r.requested_by,
        created_at: r.created_at,
        expires_at: r.expires_at,
        status,
        decided_at: r.decided_at,
        person: r.person_id,
        person_name: r.person_name,
    })
}

/// The request `id` as stored, or [`WriteError::LinkRequestUnknown`].
pub(in crate::grants) async fn stored_request(
    tx: &mut Tx,
    id: &str,
    now: DateTime<Utc>,
) -> Result<LinkRequest, WriteError> {
    let row: Option<LinkRow> = Sql::assembled(
        format!("SELECT {LINK_COLUMNS} {LINK_FROM} WHERE r.id = $1"),
        Args::default(),
    )
    .bind(id)
    .fetch_optional(tx)
    .await?;
    link_request(row.ok_or(WriteError::LinkRequestUnknown)?, now)
}

impl SqlRegister {
    /// The organisation's requests: those it made (newest first), and the open requests of
    /// other organisations that name one of its members.
    pub async fn link_requests(
        &self,
        kvk: &str,
        now: DateTime<Utc>,
    ) -> Result<(Vec<LinkRequest>, Vec<LinkRequest>), WriteError> {
        let outgoing_sql = format!(
            "SELECT {LINK_COLUMNS} {LINK_FROM} WHERE o.kvk = $1 ORDER BY r.created_at DESC, r.id"
        );
        // The member named, in place of the stored person (empty while open), and their name.
        let incoming_columns = LINK_COLUMNS.replace(
            "r.person_id, CAST(NULL AS TEXT) AS person_name",
            "p.id AS person_id, p.name AS person_name",
        );
        let incoming_sql = format!(
            "SELECT {incoming_columns} {LINK_FROM} \
               JOIN memberships m ON m.organisation_id = r.other_organisation_id \
               JOIN persons p ON p.id = m.person_id AND lower(p.email) = lower(r.email) \
              WHERE x.kvk = $1 AND r.outcome IS NULL AND r.expires_at > $2 \
              ORDER BY r.created_at, r.id"
        );
        let outgoing: Vec<LinkRow> = Sql::assembled(outgoing_sql, Args::default())
            .bind(kvk)
            .fetch_all(self.pool())
            .await?;
        let incoming: Vec<LinkRow> = Sql::assembled(incoming_sql, Args::default())
            .bind(kvk)
            .bind(now)
            .fetch_all(self.pool())
            .await?;
        let outgoing = outgoing
            .into_iter()
            .map(|r| {
                let mut request = link_request(r, now)?;
                if request.status != LinkRequestStatus::Approved {
                    request.person = None;
                }
                Ok(request)
            })
            .collect::<Result<Vec<_>, WriteError>>()?;
        let incoming = incoming
            .into_iter()
            .map(|r| link_request(r, now))
            .collect::<Result<Vec<_>, WriteError>>()?;
        Ok((outgoing, incoming))
    }
}
