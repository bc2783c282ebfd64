//! The organisation page: when the decision found several organisations the person may act
//! for, they choose one; only one the decision offered can be chosen.

use super::conclude::answer;
use super::flow::{load, Ctx, FlowQuery};
use super::refusal::{settle, Stop, WithFlow};
use crate::domain::decision::DenyReason;
use crate::web::errors::LoginError;
use crate::web::pages::OrgChoice;
use crate::web::AppState;
use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use std::sync::Arc;

pub async fn choose_organisation(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let step = choice_page(&state, &ctx, &q.flow).await;
    settle(&state, &ctx, step).await
}

/// The page with the organisations the decision offered.
async fn choice_page(state: &AppState, ctx: &Ctx, flow: &str) -> Result<Response, Stop> {
    let flow = load(state, ctx, flow, false).await?;
    if flow.candidates.is_empty() {
        return Err(LoginError::UnknownFlow.into());
    }
    let choices: Vec<OrgChoice> = flow
        .candidates
        .iter()
        .map(|c| OrgChoice {
            kvk: c.organisation.kvk.clone(),
            name: c.organisation.name.clone(),
            level: c.level_used.to_string(),
        })
        .collect();
    let service = ctx.lang.pick(&flow.service_name.0, &flow.service_name.1);
    Ok(state
        .pages
        .choose_organisation(ctx.lang, &flow.id, &choices, service))
}

#[derive(Deserialize)]
pub struct OrgForm {
    flow: String,
    organisation: String,
}

pub async fn chosen_organisation(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<OrgForm>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let step = chosen(&state, &ctx, &form).await;
    settle(&state, &ctx, step).await
}

/// The answer for the organisation chosen; only one the decision offered can be chosen.
async fn chosen(state: &AppState, ctx: &Ctx, form: &OrgForm) -> Result<Response, Stop> {
    let flow = load(state, ctx, &form.flow, true).await?;
    let candidate = flow
        .candidates
        .iter()
        .find(|c| c.organisation.kvk == form.organisation)
        .ok_or(LoginError::Denied(DenyReason::NoGrant))
        .with_flow(&flow)?;
    answer(state, ctx, &flow, candidate).await
}
