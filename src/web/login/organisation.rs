//! The organisation page: when the decision found several organisations the person may act
//! for, they choose one; only one the decision offered can be chosen.

use super::conclude::answer;
use super::flow::{load, Ctx, FlowQuery};
use super::refusal::fail;
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
    let flow = match load(&state, &ctx, &q.flow, false).await {
        Ok(f) if !f.candidates.is_empty() => f,
        Ok(_) => return fail(&state, &ctx, LoginError::UnknownFlow, None).await,
        Err(e) => return fail(&state, &ctx, e, None).await,
    };
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
    state
        .pages
        .choose_organisation(ctx.lang, &flow.id, &choices, service)
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
    let flow = match load(&state, &ctx, &form.flow, true).await {
        Ok(f) => f,
        Err(e) => return fail(&state, &ctx, e, None).await,
    };
    // Only an organisation the decision offered can be chosen.
    let Some(candidate) = flow
        .candidates
        .iter()
        .find(|c| c.organisation.kvk == form.organisation)
        .cloned()
    else {
        return fail(
            &state,
            &ctx,
            LoginError::Denied(crate::domain::decision::DenyReason::NoGrant),
            Some(&flow),
        )
        .await;
    };
    answer(&state, &ctx, &flow, &candidate).await
}
