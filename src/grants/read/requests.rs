//! Requests as people list them: the requester's own (Mijn poort), the ones a person may sign off
//! (the approvals list, across every organisation where they administer or represent), one by ID,
//! and who may sign a request (for the mails). A stored request still open after its 30 days reads
//! as expired, before the expiry job has marked it.

use crate::domain::grant::{Organisation, Scope};
use crate::domain::level::Level;
use crate::domain::request::{Request, RequestKind, RequestState, Validity};
use crate::grants::db::{sql, Args, On, Sql, Tx};
use crate::grants::error::{corrupt, WriteError};
use crate::grants::sql::{scope_from_columns, SqlRegister};
use crate::grants::views::{RequestPage, RequestView};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::str::FromStr;

/// A request as stored, with its organisation and requester.
#[derive(sqlx::FromRow)]
struct RequestRow {
    id: String,
    person_id: String,
    kvk: String,
    rsin: Option<String>,
    org_name: String,
    kind: String,
    grant_id: Option<String>,
    level: Option<String>,
    validity_years: Option<i32>,
    motivation: Option<String>,
    state: String,
    first_signer: Option<String>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
    decided_by: Option<String>,
    reason: Option<String>,
    granted_level: Option<String>,
    granted_validity: Option<i32>,
    requester_name: Option<String>,
    requester_email: Option<String>,
    requester_language: Option<String>,
}

const COLUMNS: &str = "r.id, r.person_id, o.kvk, o.rsin, o.name AS org_name, r.kind, r.grant_id, \
     r.level, r.validity_years, r.motivation, r.state, r.first_signer, r.created_at, \
     r.expires_at, r.decided_at, r.decided_by, r.reason, r.granted_level, r.granted_validity, \
     p.name AS requester_name, p.email AS requester_email, p.language AS requester_language";

const FROM: &str = "FROM requests r JOIN organisations o ON o.id = r.organisation_id \
     JOIN persons p ON p.id = r.person_id";

/// Requests `$1` (a person) signs: any of an organisation where they are hoofdbeheerder or
/// beheerder of an unblocked membership or a bound bevoegd vertegenwoordiger; and, as
/// groepsbeheerder, the open non-link requests of their groups' members in the groups'
/// organisation. Uncorrelated subqueries, each run once (a correlated one ran for every open
/// request in the register).
const SIGNS_IN: &str = "(r.organisation_id IN (SELECT m.organisation_id FROM memberships m \
        JOIN membership_roles mr ON mr.membership_id = m.id \
       WHERE m.person_id = $1 AND NOT m.blocked AND mr.role IN ('hoofdbeheerder', 'beheerder') \
     UNION SELECT organisation_id FROM representatives WHERE person_id = $1) \
     OR (r.kind <> 'link' AND r.state = 'open' AND (r.organisation_id, r.person_id) IN \
        (SELECT ga.organisation_id, mr.person_id FROM group_members ga \
        JOIN memberships ma ON ma.id = ga.membership_id \
        JOIN group_members gr ON gr.group_id = ga.group_id AND NOT gr.blocked \
        JOIN memberships mr ON mr.id = gr.membership_id \
       WHERE ma.person_id = $1 AND ga.admin AND NOT ga.blocked AND NOT ma.blocked)))";

/// The organisations where `$1` signs anything (SIGNS_IN's, the groups' included).
const SIGNING_ORGANISATIONS: &str = "SELECT m.organisation_id FROM memberships m \
        JOIN membership_roles mr ON mr.membership_id = m.id \
       WHERE m.person_id = $1 AND NOT m.blocked AND mr.role IN ('hoofdbeheerder', 'beheerder') \
     UNION SELECT organisation_id FROM representatives WHERE person_id = $1 \
     UNION SELECT ga.organisation_id FROM group_members ga \
        JOIN memberships ma ON ma.id = ga.membership_id \
       WHERE ma.person_id = $1 AND ga.admin AND NOT ga.blocked AND NOT ma.blocked";

/// Still waiting for `$1`'s signature at `$2`: open (or waiting for a second director, which
/// only another director gives), not theirs, not expired.
const WAITING_FOR: &str = "r.state IN ('open', 'awaiting_second') AND r.expires_at > $2 \
     AND r.person_id <> $1 AND (r.first_signer IS NULL OR r.first_signer <> $1) \
     AND (r.state = 'open' OR r.organisation_id IN \
          (SELECT organisation_id FROM representatives WHERE person_id = $1))";

fn level(text: &str, id: &str) -> Result<Level, WriteError> {
    Level::from_str(text).map_err(|e| corrupt(format!("request {id}: {e}")))
}

fn validity(years: i32, id: &str) -> Result<Validity, WriteError> {
    u32::try_from(years)
        .ok()
        .and_then(Validity::from_years)
        .ok_or_else(|| corrupt(format!("request {id}: validity of {years} years")))
}

fn view(
    r: RequestRow,
    scopes: &mut HashMap<String, Vec<Scope>>,
    now: DateTime<Utc>,
) -> Result<RequestView, WriteError> {
    let id = r.id.as_str();
    let asked = |l: &Option<String>, v: Option<i32>| -> Result<(Level, Validity), WriteError> {
        match (l, v) {
            (Some(l), Some(v)) => Ok((level(l, id)?, validity(v, id)?)),
            _ => Err(corrupt(format!("request {id}: no level or validity"))),
        }
    };
    let kind = match r.kind.as_str() {
        "grant" => {
            let (level, validity) = asked(&r.level, r.validity_years)?;
            RequestKind::Grant {
                scopes: scopes.remove(id).unwrap_or_default(),
                level,
                validity,
            }
        }
        "link" => RequestKind::Link,
        "renewal" => {
            let (level, validity) = asked(&r.level, r.validity_years)?;
            let grant_id = r
                .grant_id
                .clone()
                .ok_or_else(|| corrupt(format!("request {id}: renewal of no grant")))?;
            RequestKind::Renewal {
                grant_id,
                level,
                validity,
            }
        }
        other => return Err(corrupt(format!("request {id}: kind {other:?}"))),
    };
    let state = match r.state.as_str() {
        "open" | "awaiting_second" if r.expires_at <= now => RequestState::Expired,
        "open" => RequestState::Open,
        "awaiting_second" => RequestState::AwaitingSecondSignature {
            first: r.first_signer.clone().unwrap_or_default(),
        },
        "approved" => RequestState::Approved,
        "declined" => RequestState::Declined {
            reason: r.reason.clone().unwrap_or_default(),
        },
        "withdrawn" => RequestState::Withdrawn,
        "expired" => RequestState::Expired,
        other => return Err(corrupt(format!("request {id}: state {other:?}"))),
    };
    let granted = match (&r.granted_level, r.granted_validity) {
        (Some(_), Some(_)) => Some(asked(&r.granted_level, r.granted_validity)?),
        _ => None,
    };
    Ok(RequestView {
        request: Request {
            id: r.id,
            requester: r.person_id,
            organisation: r.kvk.clone(),
            kind,
            created_at: r.created_at,
            state,
        },
        organisation: Organisation {
            kvk: r.kvk,
            rsin: r.rsin,
            name: r.org_name,
        },
        requester_name: r.requester_name,
        requester_email: r.requester_email,
        requester_language: r.requester_language,
        motivation: r.motivation,
        expires_at: r.expires_at,
        decided_at: r.decided_at,
        decided_by: r.decided_by,
        granted,
    })
}

/// The requests `rows` as views, with the scopes of the grant requests among them (one query).
async fn views<'c>(
    on: impl Into<On<'c>>,
    rows: Vec<RequestRow>,
    now: DateTime<Utc>,
) -> Result<Vec<RequestView>, WriteError> {
    let mut scopes: HashMap<String, Vec<Scope>> = HashMap::new();
    let grant_requests: Vec<&str> = rows
        .iter()
        .filter(|r| r.kind == "grant")
        .map(|r| r.id.as_str())
        .collect();
    if !grant_requests.is_empty() {
        let mut args = Args::default();
        let list = args.list(grant_requests.iter().copied());
        let stored: Vec<(String, String, Option<String>, Option<String>)> = Sql::assembled(
            format!(
                "SELECT request_id, scope_kind, provider, service_uuid FROM request_scopes \
                 WHERE request_id IN ({list}) ORDER BY request_id, position"
            ),
            args,
        )
        .fetch_all(on)
        .await?;
        for (request, kind, provider, service) in stored {
            let found = scope_from_columns(&kind, provider, service)
                .ok_or_else(|| corrupt(format!("request {request}: scope {kind:?}")))?;
            scopes.entry(request).or_default().push(found);
        }
    }
    rows.into_iter()
        .map(|r| view(r, &mut scopes, now))
        .collect()
}

/// The request `id` as stored, read inside a write's transaction, or
/// [`WriteError::RequestUnknown`].
pub(in crate::grants) async fn stored_request(
    tx: &mut Tx,
    id: &str,
    now: DateTime<Utc>,
) -> Result<RequestView, WriteError> {
    let row = request_row(&mut *tx, id).await?;
    one(views(tx, vec![row], now).await?)
}

/// The requests `ids` as stored, read inside a write's transaction, in the order of their
/// expiry; IDs not found are left out.
pub(in crate::grants) async fn stored_requests(
    tx: &mut Tx,
    ids: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<RequestView>, WriteError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = Args::default();
    let list = args.list(ids.iter().map(String::as_str));
    let rows: Vec<RequestRow> = Sql::assembled(
        format!("SELECT {COLUMNS} {FROM} WHERE r.id IN ({list}) ORDER BY r.expires_at, r.id"),
        args,
    )
    .fetch_all(&mut *tx)
    .await?;
    views(tx, rows, now).await
}

async fn request_row<'c>(on: impl Into<On<'c>>, id: &str) -> Result<RequestRow, WriteError> {
    let row: Option<RequestRow> = Sql::assembled(
        format!("SELECT {COLUMNS} {FROM} WHERE r.id = $1"),
        Args::default(),
    )
    .bind(id)
    .fetch_optional(on)
    .await?;
    row.ok_or(WriteError::RequestUnknown)
}

fn one(mut views: Vec<RequestView>) -> Result<RequestView, WriteError> {
    views.pop().ok_or(WriteError::RequestUnknown)
}

impl SqlRegister {
    /// One request, whoever's it is: the caller decides whether the reader may see it.
    pub async fn request(&self, id: &str, now: DateTime<Utc>) -> Result<RequestView, WriteError> {
        let row = request_row(self.pool(), id).await?;
        one(views(self.pool(), vec![row], now).await?)
    }

    /// The person's own requests, newest first: every open one and the `recent` newest others.
    pub async fn requests_of(
        &self,
        person: &str,
        recent: i64,
        now: DateTime<Utc>,
    ) -> Result<Vec<RequestView>, WriteError> {
        let rows: Vec<RequestRow> = Sql::assembled(
            format!(
                "SELECT {COLUMNS} {FROM} WHERE r.id IN (\
                   SELECT id FROM requests WHERE person_id = $1 \
                      AND state IN ('open', 'awaiting_second') \
                   UNION SELECT id FROM (SELECT id FROM requests WHERE person_id = $1 \
                      ORDER BY created_at DESC, id LIMIT $2) recent) \
                 ORDER BY r.created_at DESC, r.id"
            ),
            Args::default(),
        )
        .bind(person)
        .bind(recent)
        .fetch_all(self.pool())
        .await?;
        views(self.pool(), rows, now).await
    }

    /// The requests waiting for `person`'s signature, oldest first, `limit` from `after` on,
    /// in the organisation `kvk` only when given; with `limit` 0 only how many wait.
    pub async fn requests_to_sign(
        &self,
        person: &str,
        kvk: Option<&str>,
        after: Option<&(DateTime<Utc>, String)>,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<RequestPage, WriteError> {
        // The organisations first, as values: both databases then read only their requests by
        // the organisation index (a subquery inside SIGNS_IN's OR kept PostgreSQL scanning every
        // request), and someone who signs nowhere, most people, costs one small query.
        let organisations: Vec<String> = sql(SIGNING_ORGANISATIONS)
            .bind(person)
            .scalars(self.pool())
            .await?;
        if organisations.is_empty() {
            return Ok(RequestPage {
                requests: Vec::new(),
                total: 0,
                next: None,
            });
        }
        let mut args = Args::default();
        args.push(person);
        args.push(now);
        // The count and the page's IDs come from `requests` alone; only the page's rows are
        // joined.
        let list = args.list(organisations);
        let mut filter = format!("r.organisation_id IN ({list}) AND {WAITING_FOR} AND {SIGNS_IN}");
        if let Some(kvk) = kvk {
            filter += &format!(
                " AND r.organisation_id = (SELECT id FROM organisations WHERE kvk = {})",
                args.push(kvk)
            );
        }
        let total: i64 = Sql::assembled(
            format!("SELECT COUNT(*) FROM requests r WHERE {filter}"),
            args.clone(),
        )
        .scalar(self.pool())
        .await?;
        if limit <= 0 {
            // Only the count (the start page's "N wait for your signature").
            return Ok(RequestPage {
                requests: Vec::new(),
                total,
                next: None,
            });
        }
        if let Some((at, id)) = after {
            let at_mark = args.push(*at);
            let id_mark = args.push(id.as_str());
            filter += &format!(
                " AND (r.created_at > {at_mark} OR (r.created_at = {at_mark} AND r.id > {id_mark}))"
            );
        }
        let limit_mark = args.push(limit + 1);
        let mut rows: Vec<RequestRow> = Sql::assembled(
            format!(
                "SELECT {COLUMNS} {FROM} WHERE r.id IN (SELECT r.id FROM requests r \
                   WHERE {filter} ORDER BY r.created_at, r.id LIMIT {limit_mark}) \
                 ORDER BY r.created_at, r.id"
            ),
            args,
        )
        .fetch_all(self.pool())
        .await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let next = rows
            .last()
            .filter(|_| more)
            .map(|r| (r.created_at, r.id.clone()));
        let requests = views(self.pool(), rows, now).await?;
        Ok(RequestPage {
            requests,
            total,
            next,
        })
    }

    /// Whether `person` may sign `request` off in some capacity (or could have, had it still
    /// been open): what makes a request visible to someone other than its requester.
    pub async fn may_sign(&self, person: &str, request: &str) -> Result<bool, WriteError> {
        let found: Option<i32> = Sql::assembled(
            format!("SELECT 1 {FROM} WHERE r.id = $2 AND r.person_id <> $1 AND {SIGNS_IN}"),
            Args::default(),
        )
        .bind(person)
        .bind(request)
        .scalar_optional(self.pool())
        .await?;
        Ok(found.is_some())
    }

    /// Who may sign `request` off now and has an e-mail address: (person, name, e-mail,
    /// language), for the mails that tell them a request waits. After a first of two
    /// signatures, only the other directors.
    pub async fn signers_of(
        &self,
        request: &str,
    ) -> Result<Vec<(String, Option<String>, String, Option<String>)>, WriteError> {
        Ok(sql(
            "SELECT DISTINCT s.id, s.name, s.email, s.language FROM persons s \
               JOIN requests r ON r.id = $1 \
              WHERE s.email IS NOT NULL AND s.id <> r.person_id \
                AND (r.first_signer IS NULL OR s.id <> r.first_signer) \
                AND (r.state = 'open' OR s.id IN (SELECT person_id FROM representatives \
                  WHERE organisation_id = r.organisation_id AND person_id IS NOT NULL)) AND (\
                s.id IN (SELECT m.person_id FROM memberships m \
                   JOIN membership_roles mr ON mr.membership_id = m.id \
                  WHERE m.organisation_id = r.organisation_id AND NOT m.blocked \
                    AND mr.role IN ('hoofdbeheerder', 'beheerder')) \
                OR s.id IN (SELECT person_id FROM representatives \
                  WHERE organisation_id = r.organisation_id AND person_id IS NOT NULL) \
                OR (r.kind <> 'link' AND s.id IN (SELECT ma.person_id FROM group_members ga \
                   JOIN memberships ma ON ma.id = ga.membership_id \
                   JOIN group_members gr ON gr.group_id = ga.group_id \
                   JOIN memberships mq ON mq.id = gr.membership_id \
                  WHERE ga.admin AND NOT ga.blocked AND NOT ma.blocked \
                    AND ga.organisation_id = r.organisation_id \
                    AND mq.person_id = r.person_id))) \
              ORDER BY s.id",
        )
        .bind(request)
        .fetch_all(self.pool())
        .await?)
    }
}
