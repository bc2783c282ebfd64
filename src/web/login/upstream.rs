//! Choosing an AD, and poort -> AD: the signed AuthnRequest over the AD's binding.

use super::artifact;
use super::flow::{load, save, Ctx, FlowQuery, PendingFlow, UpstreamOidcSecrets};
use super::refusal::{settle, Stop, WithFlow};
use crate::metadata::IdpMetadata;
use crate::saml::binding::{self};
use crate::saml::sp::{self};
use crate::saml::xml;
use crate::web::cookies;
use crate::web::errors::{LoginError, RequestProblem};
use crate::web::i18n::Lang;
use crate::web::pages::{IdpChoice, PostForm};
use crate::web::AppState;
use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use serde::Deserialize;
use std::sync::Arc;

pub async fn choose_idp(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let last = cookies::read(&headers, cookies::LAST_IDP).and_then(|v| hex::decode(v).ok());
    let step = choice_page(&state, &ctx, &q.flow, last).await;
    settle(&state, &ctx, step).await
}

/// The page with the ADs this login may use, the one chosen last first.
async fn choice_page(
    state: &AppState,
    ctx: &Ctx,
    flow: &str,
    last: Option<Vec<u8>>,
) -> Result<Response, Stop> {
    let flow = load(state, ctx, flow, false).await?;
    let mut choices: Vec<IdpChoice> = state
        .metadata()
        .idps
        .iter()
        .map(|i| (i.entity_id.as_str(), i.display_name(ctx.lang.code())))
        .chain(
            state
                .upstream_oidc
                .iter()
                .map(|p| (p.issuer(), p.display_name(ctx.lang.code()))),
        )
        .filter(|(id, _)| flow.intent.allowed_idps.iter().any(|a| a == id))
        .map(|(id, name)| IdpChoice {
            entity_id: id.to_string(),
            name: name.to_string(),
            last: last.as_deref() == Some(id.as_bytes()),
        })
        .collect();
    // The last choice comes first.
    choices.sort_by_key(|c| !c.last);
    let service = ctx.lang.pick(&flow.service_name.0, &flow.service_name.1);
    Ok(state
        .pages
        .choose_idp(ctx.lang, &flow.id, &choices, service))
}

#[derive(Deserialize)]
pub struct IdpForm {
    flow: String,
    idp: String,
    /// "Onthoud mijn keuze": present when ticked.
    remember: Option<String>,
}

pub async fn chosen_idp(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<IdpForm>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let step = chosen(&state, &ctx, &form).await;
    let mut response = settle(&state, &ctx, step).await;
    // Unticked: an earlier remembered choice is forgotten at once. Ticked: remembered only
    // after the AD has authenticated the person (`remember_choice`).
    if form.remember.is_none() {
        cookies::set_login(&state, &mut response, cookies::LAST_IDP, "", 0);
    }
    response
}

/// Whether the AD must authenticate the person anew: the requester forces it, or its `max_age`
/// would not accept an AD session of unknown age.
fn fresh_authn(flow: &PendingFlow) -> bool {
    flow.intent.force_authn || flow.max_age_seconds.is_some()
}

/// How long a browser remembers the AD chosen with "Onthoud mijn keuze".
const REMEMBER_SECONDS: i64 = 365 * 24 * 3600;

/// The AD `idp` authenticated the person, who asked poort to remember it ("Onthoud mijn
/// keuze"): the browser keeps it on `response`, whatever poort answers next.
pub(super) fn remember_choice(state: &AppState, idp: &str, response: &mut Response) {
    let value = hex::encode(idp.as_bytes());
    cookies::set_login(state, response, cookies::LAST_IDP, &value, REMEMBER_SECONDS);
}

/// The login sent to the AD the person chose, if this login may use it.
async fn chosen(state: &AppState, ctx: &Ctx, form: &IdpForm) -> Result<Response, Stop> {
    let mut flow = load(state, ctx, &form.flow, false).await?;
    flow.remember_idp = form.remember.is_some();
    if !flow.intent.allowed_idps.contains(&form.idp) {
        return Err(Stop::with_flow(unknown_idp(), &flow));
    }
    send_to_idp(state, ctx, flow, &form.idp).await
}

fn unknown_idp() -> LoginError {
    LoginError::Refused(
        RequestProblem::UnknownIdp,
        "unknown identity provider".into(),
    )
}

#[tracing::instrument(name = "upstream.request", skip_all, fields(ad = %idp_id))]
pub(super) async fn send_to_idp(
    state: &AppState,
    ctx: &Ctx,
    mut flow: PendingFlow,
    idp_id: &str,
) -> Result<Response, Stop> {
    if let Some(provider) = state.upstream_oidc.get(idp_id) {
        return send_to_oidc_idp(state, ctx, flow, provider).await;
    }
    let metadata = state.metadata();
    let Some(idp) = metadata.idps.iter().find(|i| i.entity_id == idp_id) else {
        return Err(Stop::with_flow(unknown_idp(), &flow));
    };
    let upstream_id = xml::new_id();
    flow.idp = Some(idp.entity_id.clone());
    flow.upstream_request_id = Some(upstream_id.clone());
    link_upstream(state, &flow, &upstream_id)
        .await
        .with_flow(&flow)?;
    let response = upstream_request(state, ctx.lang, &flow, idp, &upstream_id)
        .await
        .with_flow(&flow)?;
    tracing::info!(reference = %ctx.reference, flow = %flow.id, idp = %idp.entity_id, "sent to identity provider");
    Ok(response)
}

/// Links the upstream request ID (SAML request ID or OIDC `state`) to the flow, for the answer.
async fn link_upstream(
    state: &AppState,
    flow: &PendingFlow,
    upstream_id: &str,
) -> Result<(), LoginError> {
    save(state, flow).await?;
    state
        .flows
        .put(
            &format!("upstream:{upstream_id}"),
            flow.id.clone().into_bytes(),
            flow.expires_at,
        )
        .await
        .map_err(|e| LoginError::Internal(e.to_string()))
}

/// poort -> OIDC AD: the authorization request with PKCE, state, nonce and acr_values.
async fn send_to_oidc_idp(
    state: &AppState,
    ctx: &Ctx,
    mut flow: PendingFlow,
    provider: &crate::oidc::upstream::UpstreamProvider,
) -> Result<Response, Stop> {
    let request = provider
        .authorization_request(flow.intent.required_level, fresh_authn(&flow))
        .await
        .map_err(upstream_error)
        .with_flow(&flow)?;
    flow.idp = Some(provider.issuer().to_string());
    flow.upstream_request_id = Some(request.state.clone());
    flow.upstream_oidc = Some(UpstreamOidcSecrets {
        nonce: request.nonce,
        pkce_verifier: request.pkce_verifier,
    });
    link_upstream(state, &flow, &request.state)
        .await
        .with_flow(&flow)?;
    tracing::info!(reference = %ctx.reference, flow = %flow.id, idp = %provider.issuer(), "sent to identity provider (OpenID Connect)");
    Ok(Redirect::to(&request.url).into_response())
}

/// How an upstream OIDC problem stops a login.
pub(super) fn upstream_error(e: crate::oidc::upstream::UpstreamError) -> LoginError {
    use crate::oidc::upstream::UpstreamError as U;
    match e {
        U::Unreachable { .. } => LoginError::AdUnavailable(e.to_string()),
        U::Config { .. } => LoginError::Internal(e.to_string()),
        other => LoginError::AdAnswerRejected(other.to_string()),
    }
}

/// The AuthnRequest to a SAML AD in the binding its metadata offers: by artifact to a scheme
/// AD (Artifact-Artifact, afsprakenstelsel *Bindings*: a MUST on the HM-AD interface), else
/// HTTP-Redirect, else HTTP-POST (generic SAML ADs).
async fn upstream_request(
    state: &AppState,
    lang: Lang,
    flow: &PendingFlow,
    idp: &IdpMetadata,
    upstream_id: &str,
) -> Result<Response, LoginError> {
    let internal = |e: &dyn std::fmt::Display| LoginError::Internal(e.to_string());
    let cfg = &state.config;
    let acs = cfg.saml_url("/saml/acs");
    let now = Utc::now();
    let request = |destination: &str, answer_binding: &str, sign: bool| {
        sp::AdRequest {
            id: upstream_id,
            sp_entity_id: &cfg.saml.sp_entity_id,
            destination,
            acs_url: &acs,
            answer_binding,
            level: flow.intent.required_level,
            comparison: flow.intent.comparison,
            force_authn: fresh_authn(flow),
            requested_attributes: &flow.intent.requested_attributes,
            now,
        }
        .write(sign.then_some(&state.signing))
        .map_err(|e| internal(&e))
    };
    // Ask for the answer by artifact from an AD that can give one (it has an
    // ArtifactResolutionService); by POST from the rest.
    let answer_binding = if idp.artifact_resolution.is_empty() {
        xml::BINDING_POST
    } else {
        xml::BINDING_ARTIFACT
    };
    let by_artifact = idp.sso_endpoint(xml::BINDING_ARTIFACT);
    if let Some(endpoint) = by_artifact.filter(|_| idp.speaks_artifact()) {
        let message = request(&endpoint.location, xml::BINDING_ARTIFACT, true)?;
        let art = artifact::issue(state, message, &cfg.saml.sp_entity_id, &idp.entity_id).await?;
        let url = artifact::artifact_url(&endpoint.location, &art, None);
        return Ok(Redirect::to(&url).into_response());
    }
    if let Some(endpoint) = idp.sso_endpoint(xml::BINDING_REDIRECT) {
        let message = request(&endpoint.location, answer_binding, false)?;
        let url = binding::redirect_url(
            &endpoint.location,
            "SAMLRequest",
            &message,
            None,
            &state.signing,
        )
        .map_err(|e| internal(&e))?;
        return Ok(Redirect::to(&url).into_response());
    }
    let endpoint = idp
        .sso_endpoint(xml::BINDING_POST)
        .ok_or_else(|| LoginError::Internal("AD has no usable SSO endpoint".into()))?;
    let message = request(&endpoint.location, answer_binding, true)?;
    let form = PostForm {
        action: endpoint.location.clone(),
        fields: vec![("SAMLRequest".to_string(), binding::encode_post(&message))],
    };
    Ok(state.pages.post_form(lang, &form))
}
