//! Organisations over the operator API: register one with its appointed hoofdbeheerder (the
//! activation mail goes out at once), send the activation link again, show one with its
//! status, and keep its directors' signature setting; through `admin::activation`, as the
//! command line does.

use super::access::Operator;
use super::wire::{Activation, JointSignatures, NewRegistration, OperatorOrganisation, Registered};
use super::{OperatorReadProblems, OperatorWriteProblems};
use crate::web::api::bodies::Body;
use crate::web::api::problem::Problem;
use crate::web::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use std::sync::Arc;

/// The organisation as the operator sees it.
async fn shown(state: &AppState, kvk: &str) -> Result<Json<OperatorOrganisation>, Problem> {
    let view = state.registry.sql().organisation_summary(kvk).await?;
    Ok(Json((&view).into()))
}

/// Register an organisation that is not yet active, with its appointed hoofdbeheerder; their
/// activation link (24 hours, once) is mailed at once, and their first login through it
/// activates the organisation.
#[utoipa::path(post, path = "/api/v1/operator/organisations", tag = "operator",
    security(("operator" = [])), request_body = NewRegistration,
    responses((status = 201, description = "registered, waiting for activation", body = Registered), OperatorWriteProblems))]
pub async fn register_organisation(
    State(state): State<Arc<AppState>>,
    Operator(actor): Operator,
    Body(new): Body<NewRegistration>,
) -> Result<(StatusCode, Json<Registered>), Problem> {
    let (invitation, sent) = state.operations().register(&actor, &new.into()).await?;
    let Json(organisation) = shown(&state, &invitation.organisation.kvk).await?;
    let activation = Activation::of(&invitation, sent);
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            organisation,
            activation,
        }),
    ))
}

/// An organisation with its status.
#[utoipa::path(get, path = "/api/v1/operator/organisations/{kvk}", tag = "operator",
    security(("operator" = [])),
    params(("kvk" = String, Path, description = "the organisation's KvK number")),
    responses((status = 200, description = "the organisation", body = OperatorOrganisation), OperatorReadProblems))]
pub async fn get_organisation(
    State(state): State<Arc<AppState>>,
    Operator(_): Operator,
    Path(kvk): Path<String>,
) -> Result<Json<OperatorOrganisation>, Problem> {
    shown(&state, &kvk).await
}

/// A new activation link for an organisation still waiting; the old link stops working.
/// Refused (409, `already_active`) once the organisation is active.
#[utoipa::path(post, path = "/api/v1/operator/organisations/{kvk}/activation/resend", tag = "operator",
    security(("operator" = [])),
    params(("kvk" = String, Path, description = "the organisation's KvK number")),
    responses((status = 200, description = "a new link mailed", body = Activation), OperatorWriteProblems))]
pub async fn resend_activation(
    State(state): State<Arc<AppState>>,
    Operator(actor): Operator,
    Path(kvk): Path<String>,
) -> Result<Json<Activation>, Problem> {
    let (invitation, sent) = state.operations().resend_activation(&actor, &kvk).await?;
    Ok(Json(Activation::of(&invitation, sent)))
}

/// Whether a director with joint authority needs a second director's signature.
#[utoipa::path(put, path = "/api/v1/operator/organisations/{kvk}/joint-signatures", tag = "operator",
    security(("operator" = [])),
    params(("kvk" = String, Path, description = "the organisation's KvK number")),
    request_body = JointSignatures,
    responses((status = 200, description = "the organisation as changed", body = OperatorOrganisation), OperatorWriteProblems))]
pub async fn set_joint_signatures(
    State(state): State<Arc<AppState>>,
    Operator(actor): Operator,
    Path(kvk): Path<String>,
    Body(body): Body<JointSignatures>,
) -> Result<Json<OperatorOrganisation>, Problem> {
    state
        .operations()
        .set_joint_needs_two(&actor, &kvk, body.joint_needs_two)
        .await?;
    shown(&state, &kvk).await
}
