//! AD -> poort: the Response checked, the decision, the organisation choice, and the signed
//! answer to the DV.

use super::artifact;
use super::conclude::conclude;
use super::flow::{take_upstream_flow, Ctx};
use super::refusal::{cancelled, settle, Stop, WithFlow};
use crate::domain::attributes::release;
use crate::domain::login::AuthnResult;
use crate::metadata::IdpMetadata;
use crate::saml::binding::{self};
use crate::saml::sp::{self, AdOutcome, Expectations};
use crate::web::errors::LoginError;
use crate::web::AppState;
use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{Duration, Utc};
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "SAMLart")]
    saml_art: Option<String>,
}

/// `POST /saml/acs`: a Response (HTTP-POST) or an artifact (HTTP-Artifact by POST).
pub async fn acs(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Form(form): Form<AcsForm>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let acs_url = state.config.url(uri.path());
    let step = match (form.saml_response, form.saml_art) {
        (Some(raw), None) => posted(&state, &ctx, &raw, &acs_url).await,
        (None, Some(art)) => by_artifact(&state, &ctx, &art, &acs_url).await,
        (Some(_), Some(_)) => {
            Err(LoginError::BadMessage("both SAMLResponse and SAMLart".into()).into())
        }
        (None, None) => Err(LoginError::BadMessage("no SAMLResponse or SAMLart".into()).into()),
    };
    settle(&state, &ctx, step).await
}

#[derive(Deserialize)]
pub struct ArtifactQuery {
    #[serde(rename = "SAMLart")]
    saml_art: Option<String>,
}

/// `GET /saml/acs?SAMLart=…`: an AD's artifact by HTTP GET.
pub async fn acs_artifact_get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(q): Query<ArtifactQuery>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let acs_url = state.config.url(uri.path());
    let step = match q.saml_art {
        Some(art) => by_artifact(&state, &ctx, &art, &acs_url).await,
        None => Err(LoginError::BadMessage("no SAMLart".into()).into()),
    };
    settle(&state, &ctx, step).await
}

/// An AD's answer by HTTP-POST.
async fn posted(state: &AppState, ctx: &Ctx, raw: &str, acs_url: &str) -> Result<Response, Stop> {
    let text = binding::decode_post(raw).map_err(|e| LoginError::BadMessage(e.to_string()))?;
    check_ad_answer(state, ctx, &text, None, acs_url).await
}

/// An AD's answer by artifact: resolved at the AD, then checked like any other.
async fn by_artifact(
    state: &AppState,
    ctx: &Ctx,
    art: &str,
    acs_url: &str,
) -> Result<Response, Stop> {
    let (ad, text) = artifact::resolve_ad_response(state, art).await?;
    check_ad_answer(state, ctx, &text, Some(&ad), acs_url).await
}

/// Checks an AD's Response (from whichever binding) and concludes the login. `from` is the AD
/// whose ArtifactResolutionService gave it, when it came by artifact.
async fn check_ad_answer(
    state: &AppState,
    ctx: &Ctx,
    text: &str,
    from: Option<&IdpMetadata>,
    acs_url: &str,
) -> Result<Response, Stop> {
    let irt = sp::in_response_to(text).map_err(|e| LoginError::BadMessage(e.to_string()))?;
    let flow = take_upstream_flow(state, ctx, &irt).await?;
    let (Some(idp_id), Some(request_id)) = (flow.idp.clone(), flow.upstream_request_id.clone())
    else {
        return Err(LoginError::UnknownFlow.into());
    };
    if from.is_some_and(|f| f.entity_id != idp_id) {
        let e = LoginError::AdAnswerRejected(
            "the artifact comes from another identity provider than the login went to".into(),
        );
        return Err(Stop::with_flow(e, &flow));
    }
    // The AD's metadata may have been withdrawn (a refreshed aggregate) since the login began:
    // then the login ends cleanly, its requester told, instead of trusting keys no longer listed.
    let metadata = state.metadata();
    let Some(idp) = from.or_else(|| metadata.idp(&idp_id).map(|i| &**i)) else {
        let e = LoginError::AdAnswerRejected(
            "the identity provider of this login is no longer in the trusted metadata".into(),
        );
        return Err(Stop::with_flow(e, &flow));
    };
    let certs: Vec<Vec<u8>> = idp.signing_keys.iter().map(|c| c.der.clone()).collect();
    let now = Utc::now();
    let expectations = Expectations {
        idp_entity_id: &idp.entity_id,
        idp_certs: &certs,
        sp_entity_id: &state.config.saml.sp_entity_id,
        acs_url,
        request_id: &request_id,
        decryption_key: &state.decryption.key,
        now,
        clock_skew: Duration::seconds(state.config.saml.clock_skew_seconds),
    };
    let verifying = std::time::Instant::now();
    let checked = tracing::info_span!("ad_answer.verify", ad = %idp.entity_id, protocol = "saml")
        .in_scope(|| sp::check_response(text, &expectations));
    state.metrics.step("ad_answer_verify", verifying);
    let outcome = checked
        .map_err(|e| LoginError::AdAnswerRejected(e.to_string()))
        .with_flow(&flow)?;
    let assertion = match outcome {
        AdOutcome::Authenticated(a) => a,
        AdOutcome::Cancelled => return Ok(cancelled(state, ctx, &flow).await),
        AdOutcome::Failed { status, .. } => {
            return Err(Stop::with_flow(LoginError::AdFailed(status), &flow))
        }
    };
    let replay_key = format!("assertion:{}:{}", idp.entity_id, assertion.assertion_id);
    let first_use = state
        .replay
        .first_use(&replay_key, assertion.not_on_or_after, now)
        .await
        .map_err(|e| LoginError::Internal(e.to_string()))
        .with_flow(&flow)?;
    if !first_use {
        let e = LoginError::AdAnswerRejected("assertion replayed".into());
        return Err(Stop::with_flow(e, &flow));
    }
    let mut flow = flow;
    flow.upstream_session = assertion.upstream;
    let result = AuthnResult {
        idp: idp.entity_id.clone(),
        subject: assertion.subject,
        level: assertion.level,
        authn_instant: assertion.authn_instant,
        // What the service did not ask for stops here: it is not even kept with the flow.
        attributes: release(&flow.intent.requested_attributes, &assertion.attributes)
            .into_iter()
            .cloned()
            .collect(),
    };
    conclude(state, ctx, flow, result, now).await
}
