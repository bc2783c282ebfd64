//! An organisation's bevoegd vertegenwoordigers over the operator API: its list (never with
//! dates of birth), and putting its extract, which replaces the list (the same person keeps
//! their ID and binding).

use super::access::Operator;
use super::wire::{Extract, ExtractApplied, Representatives};
use super::{OperatorReadProblems, OperatorWriteProblems};
use crate::web::api::bodies::Body;
use crate::web::api::problem::Problem;
use crate::web::AppState;
use axum::extract::{Path, State};
use axum::Json;
use std::sync::Arc;

/// The organisation's directors.
#[utoipa::path(get, path = "/api/v1/operator/organisations/{kvk}/representatives", tag = "operator",
    security(("operator" = [])),
    params(("kvk" = String, Path, description = "the organisation's KvK number")),
    responses((status = 200, description = "its directors", body = Representatives), OperatorReadProblems))]
pub async fn get_representatives(
    State(state): State<Arc<AppState>>,
    Operator(_): Operator,
    Path(kvk): Path<String>,
) -> Result<Json<Representatives>, Problem> {
    let list = state.registry.sql().representatives(&kvk).await?;
    Ok(Json(Representatives::of(&list)))
}

/// Put the organisation's extract of the trade register: its whole current list of directors.
/// All or nothing: every refused entry is named by its number (from 1) in the detail; the
/// first one's reason is the problem's.
#[utoipa::path(put, path = "/api/v1/operator/organisations/{kvk}/representatives", tag = "operator",
    security(("operator" = [])),
    params(("kvk" = String, Path, description = "the organisation's KvK number")),
    request_body = Extract,
    responses((status = 200, description = "the list replaced", body = ExtractApplied), OperatorWriteProblems))]
pub async fn put_representatives(
    State(state): State<Arc<AppState>>,
    Operator(actor): Operator,
    Path(kvk): Path<String>,
    Body(extract): Body<Extract>,
) -> Result<Json<ExtractApplied>, Problem> {
    let rows = extract.rows();
    let applied = state
        .operations()
        .replace_representatives(&actor, &kvk, &rows)
        .await?;
    let list = state.registry.sql().representatives(&kvk).await?;
    Ok(Json(ExtractApplied {
        kept: applied.kept,
        added: applied.added,
        removed: applied.removed,
        items: Representatives::of(&list).items,
    }))
}
