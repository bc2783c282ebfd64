//! Requests to link a person who is already known at another organisation: an administrator of
//! organisation A names the other organisation (KvK number) and the person's e-mail address
//! there; an administrator of that organisation approves (the person becomes a member of A with
//! the requested roles, under the identity they already have) or declines.
//!
//! The asking side learns nothing of the other organisation's members: a request is accepted
//! whatever the e-mail address, and only the other side sees it, and only when the address is
//! one of its members'. Unanswered requests expire after [`LINK_REQUEST_LIFETIME`].

use super::*;
use chrono::TimeDelta;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkRequestStatus {
    Pending,
    Approved,
    Declined,
    Withdrawn,
    Expired,
}

impl LinkRequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkRequestStatus::Pending => "pending",
            LinkRequestStatus::Approved => "approved",
            LinkRequestStatus::Declined => "declined",
            LinkRequestStatus::Withdrawn => "withdrawn",
            LinkRequestStatus::Expired => "expired",
        }
    }
}

/// A link request as either side sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkRequest {
    pub id: String,
    /// The organisation that asks.
    pub organisation: Organisation,
    /// The organisation where the person is known.
    pub other: Organisation,
    pub email: String,
    pub roles: Vec<Role>,
    pub requested_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: LinkRequestStatus,
    pub decided_at: Option<DateTime<Utc>>,
    /// The person: for the other side, the member the address names; for the asking side only
    /// once approved.
    pub person: Option<String>,
    /// That person's name, under the same rule.
    pub person_name: Option<String>,
}

type LinkRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
);

/// A [`LinkRow`] whose person is the member the address names, and that member's name.
type IncomingRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
    Option<String>,
);

const LINK_COLUMNS: &str = "r.id, o.kvk, o.rsin, o.name, x.kvk, x.rsin, x.name, r.email, r.roles, \
     r.requested_by, r.created_at, r.expires_at, r.decided_at, r.outcome, r.person_id";

const LINK_FROM: &str = "FROM link_requests r JOIN organisations o ON o.id = r.organisation_id \
     JOIN organisations x ON x.id = r.other_organisation_id";

fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn link_request(r: LinkRow, now: DateTime<Utc>) -> Result<LinkRequest, WriteError> {
    let corrupt = |what: String| WriteError::Database(sqlx::Error::Protocol(what));
    let roles =
        r.8.split(',')
            .filter(|s| !s.is_empty())
            .map(|s| parse_role(s).map_err(|e| corrupt(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
    let status = match r.13.as_deref() {
        None if r.11 <= now => LinkRequestStatus::Expired,
        None => LinkRequestStatus::Pending,
        Some("approved") => LinkRequestStatus::Approved,
        Some("declined") => LinkRequestStatus::Declined,
        Some("withdrawn") => LinkRequestStatus::Withdrawn,
        Some(other) => return Err(corrupt(format!("link request {}: {other:?}", r.0))),
    };
    Ok(LinkRequest {
        id: r.0,
        organisation: Organisation {
            kvk: r.1,
            rsin: r.2,
            name: r.3,
        },
        other: Organisation {
            kvk: r.4,
            rsin: r.5,
            name: r.6,
        },
        email: r.7,
        roles,
        requested_by: r.9,
        created_at: r.10,
        expires_at: r.11,
        status,
        decided_at: r.12,
        person: r.14,
        person_name: None,
    })
}

/// The member of `$org_id` whose e-mail address is `$email` (any case): (person, name).
macro_rules! member_by_email {
    ($tx:ident, $org_id:expr, $email:expr) => {{
        let found: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT p.id, p.name FROM persons p JOIN memberships m ON m.person_id = p.id \
             WHERE m.organisation_id = $1 AND lower(p.email) = lower($2) ORDER BY p.id",
        )
        .bind($org_id)
        .bind($email)
        .fetch_all(&mut *$tx)
        .await?;
        found.into_iter().next()
    }};
}

/// The request `$id` as stored, or [`WriteError::LinkRequestUnknown`].
macro_rules! stored_request {
    ($tx:ident, $id:expr, $now:expr) => {{
        let row: Option<LinkRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {LINK_COLUMNS} {LINK_FROM} WHERE r.id = $1"
        )))
        .bind($id)
        .fetch_optional(&mut *$tx)
        .await?;
        let row = row.ok_or(WriteError::LinkRequestUnknown)?;
        link_request(row, $now)?
    }};
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
        in_tx!(self.pool(), |tx| {
            let (org_id, _) = organisation!(tx, kvk);
            let need = if new
                .roles
                .iter()
                .any(|r| matches!(r, Role::Hoofdbeheerder | Role::Beheerder))
            {
                Need::Appoint
            } else {
                Need::Manage
            };
            authorise!(tx, actor, &org_id, kvk, need, None, "ask to link users");
            check_kvk(other_kvk)?;
            super::invitations::check_email(email)?;
            if other_kvk == kvk {
                return Err(WriteError::LinkOwnOrganisation);
            }
            let (other_id, _) = organisation!(tx, other_kvk);
            let id = uuid::Uuid::new_v4().to_string();
            sqlx::query(
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
            audit!(
                tx,
                actor,
                &org_id,
                "link.request",
                None::<String>,
                json(&(&id, other_kvk, email, &new.roles))
            );
            let request = stored_request!(tx, &id, now);
            Ok((request, Touched::default()))
        })
    }

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
        let incoming_columns = LINK_COLUMNS.replace("r.person_id", "p.id, p.name");
        let incoming_sql = format!(
            "SELECT {incoming_columns} {LINK_FROM} \
               JOIN memberships m ON m.organisation_id = r.other_organisation_id \
               JOIN persons p ON p.id = m.person_id AND lower(p.email) = lower(r.email) \
              WHERE x.kvk = $1 AND r.outcome IS NULL AND r.expires_at > $2 \
              ORDER BY r.created_at, r.id"
        );
        macro_rules! fetch {
            ($p:expr) => {{
                let outgoing: Vec<LinkRow> = sqlx::query_as(sqlx::AssertSqlSafe(outgoing_sql))
                    .bind(kvk)
                    .fetch_all($p)
                    .await?;
                let rows: Vec<IncomingRow> = sqlx::query_as(sqlx::AssertSqlSafe(incoming_sql))
                    .bind(kvk)
                    .bind(now)
                    .fetch_all($p)
                    .await?;
                (outgoing, rows)
            }};
        }
        let (outgoing, incoming) = match self.pool() {
            Pool::Sqlite(p) => fetch!(p),
            Pool::Postgres(p) => fetch!(p),
        };
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
            .map(|r| {
                let name = r.15.clone();
                let link = (
                    r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11, r.12, r.13, r.14,
                );
                let mut request = link_request(link, now)?;
                request.person_name = name;
                Ok(request)
            })
            .collect::<Result<Vec<_>, WriteError>>()?;
        Ok((outgoing, incoming))
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
        in_tx!(self.pool(), |tx| {
            let (org_id, _) = organisation!(tx, kvk);
            authorise!(
                tx,
                actor,
                &org_id,
                kvk,
                Need::Manage,
                None,
                "answer link requests"
            );
            let request = stored_request!(tx, id, now);
            // Another organisation's request, or one naming nobody here: as if it did not exist.
            let Some((person, _)) =
                member_by_email!(tx, &org_id, &request.email).filter(|_| request.other.kvk == kvk)
            else {
                return Err(WriteError::LinkRequestUnknown);
            };
            still_open(&request)?;
            let (asking_id, _) = organisation!(tx, &request.organisation.kvk);
            let mut touched = BTreeSet::new();
            if approve {
                if membership!(tx, &person, &asking_id).is_some() {
                    return Err(WriteError::DuplicateMember {
                        person: person.clone(),
                        organisation: request.organisation.kvk.clone(),
                    });
                }
                insert_membership!(tx, &person, &asking_id, &request.roles, now);
                touched = links!(tx, LINKS_OF_PERSON, &person);
            }
            let outcome = if approve { "approved" } else { "declined" };
            sqlx::query(
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
            audit!(
                tx,
                actor,
                &org_id,
                action,
                None::<String>,
                json(&(id, &request.organisation.kvk, &person))
            );
            audit!(
                tx,
                actor,
                &asking_id,
                action,
                None::<String>,
                json(&(id, kvk, approve.then_some(&person)))
            );
            let mut request = stored_request!(tx, id, now);
            request.person_name = None;
            Ok((request, Touched { links: touched }))
        })
    }

    /// The asking side takes its open request back.
    pub async fn withdraw_link_request(
        &self,
        actor: &Actor,
        kvk: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(LinkRequest, Touched), WriteError> {
        in_tx!(self.pool(), |tx| {
            let (org_id, _) = organisation!(tx, kvk);
            authorise!(
                tx,
                actor,
                &org_id,
                kvk,
                Need::Manage,
                None,
                "withdraw link requests"
            );
            let request = stored_request!(tx, id, now);
            if request.organisation.kvk != kvk {
                return Err(WriteError::LinkRequestUnknown);
            }
            still_open(&request)?;
            sqlx::query(
                "UPDATE link_requests SET outcome = 'withdrawn', decided_at = $1, decided_by = $2 \
                 WHERE id = $3",
            )
            .bind(now)
            .bind(actor.name())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                &org_id,
                "link.withdraw",
                None::<String>,
                json(&id)
            );
            let request = stored_request!(tx, id, now);
            Ok((request, Touched::default()))
        })
    }
}
