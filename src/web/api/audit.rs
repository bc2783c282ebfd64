//! The organisation's audit trail over the API: a page of it, newest first, or all of it as
//! CSV; for those who see the whole organisation (not a groepsbeheerder: it names everyone).

use super::access::Reader;
use super::paging::{AuditPage, Params, Window};
use super::problem::{Problem, ReadProblems};
use crate::admin::AdminSession;
use crate::grants::audit::{self, AuditFilter, AuditRecord};
use crate::grants::WriteError;
use crate::web::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::IntoParams;

/// Which entries: every filter narrows.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Actions starting with this (`grant.`, `member.block`).
    action: Option<String>,
    /// Entries by this actor (`person:<id>`).
    actor: Option<String>,
    /// From this instant (RFC 3339 or a date).
    since: Option<String>,
    /// Up to this instant.
    until: Option<String>,
    #[param(minimum = 1)]
    page: Option<usize>,
    #[param(minimum = 1, maximum = 500)]
    per_page: Option<usize>,
}

/// The session's organisation's filter, if the session may read the trail.
fn filter(s: &AdminSession, q: &AuditQuery) -> Result<AuditFilter, Problem> {
    // The trail names everyone in the organisation: not a groepsbeheerder's to read.
    if !s.sees_whole_organisation() {
        return Err(Problem::forbidden(
            "the audit trail is for hoofdbeheerders, beheerders and lezers",
        ));
    }
    let time = |v: &Option<String>, name: &str| {
        v.as_deref()
            .filter(|t| !t.is_empty())
            .map(|t| {
                crate::grants::exchange::parse_instant(t)
                    .map_err(|e| Problem::bad_request(format!("{name}: {e}")))
            })
            .transpose()
    };
    Ok(AuditFilter {
        action: q.action.clone().filter(|a| !a.is_empty()),
        actor: q.actor.clone().filter(|a| !a.is_empty()),
        since: time(&q.since, "since")?,
        until: time(&q.until, "until")?,
    })
}

/// The organisation's audit trail, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "a page of entries", body = AuditPage), ReadProblems))]
pub async fn list_audit(
    State(state): State<Arc<AppState>>,
    Reader(s): Reader,
    Params(q): Params<AuditQuery>,
) -> Result<Json<AuditPage>, Problem> {
    let window = Window::new(q.page, q.per_page)?;
    let filter = filter(&s, &q)?;
    let pool = state.registry.sql().pool();
    // A page is read by the database: a long trail is not read whole for a page of 50.
    let (items, total) = audit::list_page(
        pool,
        &s.organisation.kvk,
        &filter,
        window.offset(),
        window.per_page,
    )
    .await
    .map_err(WriteError::Database)?;
    Ok(Json(window.page(items, total)))
}

/// The same trail as CSV: every matching entry.
#[utoipa::path(get, path = "/api/v1/audit.csv", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "id, at, actor, action, before, after",
        body = String, content_type = "text/csv"), ReadProblems))]
pub async fn audit_csv(
    State(state): State<Arc<AppState>>,
    Reader(s): Reader,
    Params(q): Params<AuditQuery>,
) -> Result<impl IntoResponse, Problem> {
    let filter = filter(&s, &q)?;
    let pool = state.registry.sql().pool();
    let entries = audit::list(pool, &s.organisation.kvk, &filter)
        .await
        .map_err(WriteError::Database)?;
    let bytes =
        csv_of(&entries).map_err(|e| Problem::internal(&e, "the CSV could not be written"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.csv\"",
            ),
        ],
        bytes,
    ))
}

fn csv_of(entries: &[AuditRecord]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["id", "at", "actor", "action", "before", "after"])?;
    for e in entries {
        out.write_record([
            e.id.to_string(),
            e.at.to_rfc3339(),
            e.actor.clone(),
            e.action.clone(),
            e.before.clone().unwrap_or_default(),
            e.after.clone().unwrap_or_default(),
        ])?;
    }
    out.into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}
