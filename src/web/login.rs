//! The login flow over HTTP: DV request in, choice of AD, AD answer in, decision, answer out.

use super::errors::{deny_code, LoginError, RequestProblem};
use super::i18n::Lang;
use super::pages::{IdpChoice, OrgChoice, PostForm};
use super::AppState;
use crate::decision::{decide, Candidate, Decision};
use crate::flow::{AnswerTo, AuthnIntent, AuthnResult};
use crate::grants::ServiceRef;
use crate::metadata::{IdpMetadata, SpMetadata};
use crate::saml::binding::{self, RedirectMessage, MAX_RELAY_STATE};
use crate::saml::idp::{self, AssertionContent, AuthnRequest, SamlStatus};
use crate::saml::sp::{self, AdOutcome, Expectations};
use crate::saml::{encrypt, xml};
use axum::extract::{Form, Query, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const BROWSER_COOKIE: &str = "poort_browser";
const LAST_IDP_COOKIE: &str = "poort_last_idp";

/// A login in progress, kept in the flow store between the person's steps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingFlow {
    pub id: String,
    /// Random value also set as a cookie: the flow continues only in the browser that began it.
    pub browser: String,
    pub intent: AuthnIntent,
    pub service: ServiceRef,
    pub service_name: (String, String),
    pub idp: Option<String>,
    pub upstream_request_id: Option<String>,
    pub result: Option<AuthnResult>,
    pub candidates: Vec<Candidate>,
    pub expires_at: DateTime<Utc>,
}

/// Per-request context: language and the reference number shown to the person and logged.
struct Ctx {
    lang: Lang,
    reference: String,
    browser_cookie: Option<String>,
}

impl Ctx {
    fn new(headers: &HeaderMap) -> Ctx {
        Ctx {
            lang: Lang::from_headers(headers),
            reference: hex::encode(rand::random::<[u8; 5]>()).to_uppercase(),
            browser_cookie: cookie(headers, BROWSER_COOKIE),
        }
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

fn set_cookie(state: &AppState, response: &mut Response, name: &str, value: &str, max_age: i64) {
    // Over https the AD's cross-site POST to the ACS must carry the cookie: SameSite=None; Secure.
    // Plain http (development on localhost) is same-site, where Lax suffices.
    let secure = state.config.server.public_url.starts_with("https://");
    let attrs = if secure {
        "; Secure; SameSite=None"
    } else {
        "; SameSite=Lax"
    };
    let value = format!("{name}={value}; Path=/; HttpOnly; Max-Age={max_age}{attrs}");
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Renders an error: logged with its reference; a verified DV also gets its SAML answer.
fn fail(state: &AppState, ctx: &Ctx, err: LoginError, flow: Option<&PendingFlow>) -> Response {
    tracing::warn!(reference = %ctx.reference, error = %err, "login stopped");
    let back = flow.and_then(|f| {
        let status = err.saml_status()?;
        saml_error_form(state, &f.intent, &status)
            .map_err(|e| tracing::error!(reference = %ctx.reference, error = %e, "cannot sign error response"))
            .ok()
    });
    let name = flow.map(|f| (f.service_name.0.as_str(), f.service_name.1.as_str()));
    state
        .pages
        .error(ctx.lang, &err.text(name), &ctx.reference, back.as_ref())
}

fn saml_error_form(
    state: &AppState,
    intent: &AuthnIntent,
    status: &SamlStatus,
) -> Result<PostForm, LoginError> {
    let AnswerTo::Saml {
        acs_url,
        request_id,
        relay_state,
    } = &intent.answer;
    let response = idp::signed_response(
        &state.config.saml.idp_entity_id,
        acs_url,
        request_id,
        Some(status),
        None,
        Utc::now(),
        &state.signing,
    )
    .map_err(|e| LoginError::Internal(e.to_string()))?;
    Ok(post_form(acs_url, &response, relay_state.as_deref()))
}

fn post_form(action: &str, response: &str, relay_state: Option<&str>) -> PostForm {
    let mut fields = vec![("SAMLResponse".to_string(), binding::encode_post(response))];
    if let Some(r) = relay_state {
        fields.push(("RelayState".to_string(), r.to_string()));
    }
    PostForm {
        action: action.to_string(),
        fields,
    }
}

// ---------------------------------------------------------------------------------------------
// DV -> poort

pub async fn sso_redirect(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let ctx = Ctx::new(&headers);
    let message = match RedirectMessage::decode(query.as_deref().unwrap_or(""), "SAMLRequest") {
        Ok(m) => m,
        Err(binding::BindingError::RelayStateTooLong) => {
            return fail(&state, &ctx, LoginError::RelayStateTooLong, None)
        }
        Err(e) => return fail(&state, &ctx, LoginError::BadMessage(e.to_string()), None),
    };
    let request = match AuthnRequest::parse(&message.xml) {
        Ok(r) => r,
        Err(e) => return fail(&state, &ctx, LoginError::BadMessage(e.to_string()), None),
    };
    let Some(dv) = state.metadata.sps.get(&request.issuer) else {
        return fail(
            &state,
            &ctx,
            LoginError::UnknownRequester(request.issuer),
            None,
        );
    };
    if message.is_signed() {
        let keys: Vec<_> = dv
            .signing_keys
            .iter()
            .map(|c| c.public_key.clone())
            .collect();
        if let Err(e) = message.verify(&keys) {
            return fail(&state, &ctx, LoginError::Unverifiable(e.to_string()), None);
        }
    } else if signature_required(&state, dv) {
        return fail(
            &state,
            &ctx,
            LoginError::Unverifiable("unsigned request".into()),
            None,
        );
    }
    let signed = message.is_signed();
    start(&state, ctx, dv, request, signed, message.relay_state).await
}

#[derive(Deserialize)]
pub struct SsoForm {
    #[serde(rename = "SAMLRequest")]
    saml_request: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

pub async fn sso_post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<SsoForm>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let Some(raw) = form.saml_request else {
        return fail(
            &state,
            &ctx,
            LoginError::BadMessage("no SAMLRequest".into()),
            None,
        );
    };
    if form
        .relay_state
        .as_ref()
        .is_some_and(|r| r.len() > MAX_RELAY_STATE)
    {
        return fail(&state, &ctx, LoginError::RelayStateTooLong, None);
    }
    let text = match binding::decode_post(&raw) {
        Ok(t) => t,
        Err(e) => return fail(&state, &ctx, LoginError::BadMessage(e.to_string()), None),
    };
    let parsed = match AuthnRequest::parse(&text) {
        Ok(r) => r,
        Err(e) => return fail(&state, &ctx, LoginError::BadMessage(e.to_string()), None),
    };
    let Some(dv) = state.metadata.sps.get(&parsed.issuer) else {
        return fail(
            &state,
            &ctx,
            LoginError::UnknownRequester(parsed.issuer),
            None,
        );
    };
    let request = if parsed.has_signature {
        let certs: Vec<Vec<u8>> = dv.signing_keys.iter().map(|c| c.der.clone()).collect();
        match AuthnRequest::verify_enveloped(&text, &certs) {
            Ok(r) if r.issuer == dv.entity_id => r,
            Ok(_) => {
                return fail(
                    &state,
                    &ctx,
                    LoginError::Unverifiable("issuer changed".into()),
                    None,
                )
            }
            Err(e) => return fail(&state, &ctx, LoginError::Unverifiable(e.to_string()), None),
        }
    } else if signature_required(&state, dv) {
        return fail(
            &state,
            &ctx,
            LoginError::Unverifiable("unsigned request".into()),
            None,
        );
    } else {
        parsed
    };
    let signed = request.has_signature;
    start(&state, ctx, dv, request, signed, form.relay_state).await
}

fn signature_required(state: &AppState, dv: &SpMetadata) -> bool {
    !state
        .config
        .dv(&dv.entity_id)
        .is_some_and(|c| c.allow_unsigned_requests)
}

/// The ACS to answer at: by index, or by a URL that exactly matches the metadata, or the default.
fn resolve_acs<'a>(dv: &'a SpMetadata, request: &AuthnRequest) -> Option<&'a str> {
    let post = |b: &str| b == xml::BINDING_POST;
    if let Some(binding) = &request.protocol_binding {
        if !post(binding) {
            return None;
        }
    }
    let found = match (&request.acs_index, &request.acs_url) {
        (Some(_), Some(_)) => None,
        (Some(index), None) => dv.acs.iter().find(|a| a.index == *index),
        (None, Some(url)) => dv
            .acs
            .iter()
            .find(|a| a.location == *url && post(&a.binding)),
        (None, None) => dv
            .acs
            .iter()
            .filter(|a| post(&a.binding))
            .find(|a| a.is_default)
            .or_else(|| {
                dv.acs
                    .iter()
                    .filter(|a| post(&a.binding))
                    .min_by_key(|a| a.index)
            }),
    };
    found
        .filter(|a| post(&a.binding))
        .map(|a| a.location.as_str())
}

/// Checks a verified DV's request and begins the flow.
async fn start(
    state: &Arc<AppState>,
    ctx: Ctx,
    dv: &SpMetadata,
    request: AuthnRequest,
    signed: bool,
    relay_state: Option<String>,
) -> Response {
    let Some(acs_url) = resolve_acs(dv, &request) else {
        return fail(state, &ctx, LoginError::AcsNotInMetadata, None);
    };
    let now = Utc::now();
    let cfg = &state.config;
    let skew = Duration::seconds(cfg.saml.clock_skew_seconds);
    // From here on the DV is verified and its ACS known: errors go back to it as SAML statuses.
    let mut flow = PendingFlow {
        id: xml::new_id(),
        browser: ctx
            .browser_cookie
            .clone()
            .filter(|c| c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit()))
            .unwrap_or_else(|| hex::encode(rand::random::<[u8; 16]>())),
        intent: AuthnIntent {
            requester: dv.entity_id.clone(),
            service_id: String::new(),
            required_level: crate::level::Level::Eh4,
            comparison: crate::level::Comparison::Minimum,
            answer: AnswerTo::Saml {
                acs_url: acs_url.to_string(),
                request_id: request.id.clone(),
                relay_state,
            },
            force_authn: request.force_authn,
            is_passive: request.is_passive,
            allowed_idps: Vec::new(),
        },
        service: ServiceRef {
            service_id: String::new(),
            uuid: String::new(),
            provider: dv.entity_id.clone(),
            level: crate::level::Level::Eh4,
        },
        service_name: (String::new(), String::new()),
        idp: None,
        upstream_request_id: None,
        result: None,
        candidates: Vec::new(),
        expires_at: now + Duration::seconds(cfg.saml.flow_lifetime_seconds),
    };
    let refuse = |p: RequestProblem, msg: String| LoginError::Refused(p, msg);

    let sso_url = cfg.url("/saml/sso");
    if request.destination.as_deref().is_some_and(|d| d != sso_url)
        // A signed message must say where it is going (SAML bindings 3.4.5.2, 3.5.5.2).
        || (signed && request.destination.is_none())
    {
        let e = refuse(
            RequestProblem::Destination,
            "Destination is not poort's SSO endpoint".into(),
        );
        return fail(state, &ctx, e, Some(&flow));
    }
    let max_age = Duration::seconds(cfg.saml.request_max_age_seconds);
    if request.issue_instant > now + skew || request.issue_instant + max_age + skew < now {
        let e = refuse(
            RequestProblem::Stale,
            "IssueInstant outside the accepted window".into(),
        );
        return fail(state, &ctx, e, Some(&flow));
    }
    let Some(service) = resolve_service(state, dv, &request) else {
        let e = refuse(
            RequestProblem::UnknownService,
            "AttributeConsumingServiceIndex names no service in the catalogue".into(),
        );
        return fail(state, &ctx, e, Some(&flow));
    };
    flow.intent.service_id = service.id.clone();
    flow.service = ServiceRef {
        service_id: service.id.clone(),
        uuid: service.uuid.clone(),
        provider: service.provider.clone(),
        level: service.level,
    };
    flow.service_name = (service.name_nl.clone(), service.name_en.clone());
    match request.requested_level() {
        Err(e) => {
            return fail(
                state,
                &ctx,
                refuse(RequestProblem::UnknownLevel, e.to_string()),
                Some(&flow),
            )
        }
        Ok(Some((level, _))) if level > service.level => {
            let e = refuse(
                RequestProblem::LevelAboveCatalogue,
                format!(
                    "Requested level {level} is above the service's level {}",
                    service.level
                ),
            );
            return fail(state, &ctx, e, Some(&flow));
        }
        Ok(Some((level, comparison))) => {
            flow.intent.required_level = level;
            flow.intent.comparison = comparison;
        }
        Ok(None) => flow.intent.required_level = service.level,
    }
    if request.is_passive {
        let e = refuse(
            RequestProblem::Passive,
            "poort cannot log in passively".into(),
        );
        return fail(state, &ctx, e, Some(&flow));
    }
    let idps: Vec<String> = state
        .metadata
        .idps
        .iter()
        .map(|i| i.entity_id.clone())
        .filter(|id| request.idp_list.is_empty() || request.idp_list.contains(id))
        .collect();
    if idps.is_empty() {
        let e = refuse(
            RequestProblem::NoAvailableIdp,
            "none of the requested identity providers is available".into(),
        );
        return fail(state, &ctx, e, Some(&flow));
    }
    flow.intent.allowed_idps = idps;
    // A request ID is accepted once per DV.
    let replay_key = format!("request:{}:{}", dv.entity_id, request.id);
    match state
        .replay
        .first_use(&replay_key, request.issue_instant + max_age + skew * 2, now)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            let e = refuse(
                RequestProblem::Replayed,
                "AuthnRequest ID already used".into(),
            );
            return fail(state, &ctx, e, Some(&flow));
        }
        Err(e) => {
            return fail(
                state,
                &ctx,
                LoginError::Internal(e.to_string()),
                Some(&flow),
            )
        }
    }
    tracing::info!(
        reference = %ctx.reference, flow = %flow.id, dv = %dv.entity_id,
        service = %flow.service.service_id, level = %flow.intent.required_level,
        "login started"
    );
    let mut response = if flow.intent.allowed_idps.len() == 1 {
        let idp = flow.intent.allowed_idps[0].clone();
        send_to_idp(state, &ctx, flow.clone(), &idp).await
    } else {
        match save(state, &flow).await {
            Ok(()) => Redirect::to(&format!("/login/idp?flow={}", flow.id)).into_response(),
            Err(e) => fail(state, &ctx, e, Some(&flow)),
        }
    };
    set_cookie(state, &mut response, BROWSER_COOKIE, &flow.browser, 3600);
    response
}

fn resolve_service<'a>(
    state: &'a AppState,
    dv: &SpMetadata,
    request: &AuthnRequest,
) -> Option<&'a crate::config::ServiceConfig> {
    let offered = state
        .config
        .services
        .iter()
        .filter(|s| s.provider == dv.entity_id);
    match request.attribute_consuming_service_index {
        Some(index) => offered.clone().find(|s| s.acs_index == index),
        None => {
            let all: Vec<_> = offered.collect();
            (all.len() == 1).then(|| all[0])
        }
    }
}

async fn save(state: &AppState, flow: &PendingFlow) -> Result<(), LoginError> {
    let bytes = serde_json::to_vec(flow).map_err(|e| LoginError::Internal(e.to_string()))?;
    state
        .flows
        .put(&format!("flow:{}", flow.id), bytes, flow.expires_at)
        .await
        .map_err(|e| LoginError::Internal(e.to_string()))
}

/// Loads a flow for this browser; `consume` then removes it, so that it is answered at most
/// once. The browser is checked before anything is removed: another browser that knows the flow
/// ID can neither continue nor spoil it.
async fn load(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    consume: bool,
) -> Result<PendingFlow, LoginError> {
    let key = format!("flow:{id}");
    let internal = |e: crate::store::StoreError| LoginError::Internal(e.to_string());
    let bytes = state
        .flows
        .get(&key, Utc::now())
        .await
        .map_err(internal)?
        .ok_or(LoginError::UnknownFlow)?;
    let flow: PendingFlow =
        serde_json::from_slice(&bytes).map_err(|e| LoginError::Internal(e.to_string()))?;
    if ctx.browser_cookie.as_deref() != Some(flow.browser.as_str()) {
        return Err(LoginError::OtherBrowser);
    }
    // Of two concurrent requests from this browser, only one takes the flow.
    if consume
        && state
            .flows
            .take(&key, Utc::now())
            .await
            .map_err(internal)?
            .is_none()
    {
        return Err(LoginError::UnknownFlow);
    }
    Ok(flow)
}

// ---------------------------------------------------------------------------------------------
// Choosing an AD, and poort -> AD

#[derive(Deserialize)]
pub struct FlowQuery {
    flow: String,
}

pub async fn choose_idp(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let flow = match load(&state, &ctx, &q.flow, false).await {
        Ok(f) => f,
        Err(e) => return fail(&state, &ctx, e, None),
    };
    let last = cookie(&headers, LAST_IDP_COOKIE).and_then(|v| hex::decode(v).ok());
    let mut choices: Vec<IdpChoice> = state
        .metadata
        .idps
        .iter()
        .filter(|i| flow.intent.allowed_idps.contains(&i.entity_id))
        .map(|i| IdpChoice {
            entity_id: i.entity_id.clone(),
            name: i.display_name(ctx.lang.code()).to_string(),
            last: last.as_deref() == Some(i.entity_id.as_bytes()),
        })
        .collect();
    // The last choice comes first.
    choices.sort_by_key(|c| !c.last);
    let service = ctx.lang.pick(&flow.service_name.0, &flow.service_name.1);
    state
        .pages
        .choose_idp(ctx.lang, &flow.id, &choices, service)
}

#[derive(Deserialize)]
pub struct IdpForm {
    flow: String,
    idp: String,
}

pub async fn chosen_idp(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<IdpForm>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let flow = match load(&state, &ctx, &form.flow, false).await {
        Ok(f) => f,
        Err(e) => return fail(&state, &ctx, e, None),
    };
    if !flow.intent.allowed_idps.contains(&form.idp) {
        let e = LoginError::Refused(
            RequestProblem::UnknownIdp,
            "unknown identity provider".into(),
        );
        return fail(&state, &ctx, e, Some(&flow));
    }
    let mut response = send_to_idp(&state, &ctx, flow, &form.idp).await;
    set_cookie(
        &state,
        &mut response,
        LAST_IDP_COOKIE,
        &hex::encode(form.idp.as_bytes()),
        365 * 24 * 3600,
    );
    response
}

async fn send_to_idp(state: &AppState, ctx: &Ctx, mut flow: PendingFlow, idp_id: &str) -> Response {
    let Some(idp) = state.metadata.idps.iter().find(|i| i.entity_id == idp_id) else {
        let e = LoginError::Refused(
            RequestProblem::UnknownIdp,
            "unknown identity provider".into(),
        );
        return fail(state, ctx, e, Some(&flow));
    };
    let upstream_id = xml::new_id();
    flow.idp = Some(idp.entity_id.clone());
    flow.upstream_request_id = Some(upstream_id.clone());
    if let Err(e) = save(state, &flow).await {
        return fail(state, ctx, e, Some(&flow));
    }
    let link = state
        .flows
        .put(
            &format!("upstream:{upstream_id}"),
            flow.id.clone().into_bytes(),
            flow.expires_at,
        )
        .await;
    if let Err(e) = link {
        return fail(state, ctx, LoginError::Internal(e.to_string()), Some(&flow));
    }
    match upstream_request(state, ctx.lang, &flow, idp, &upstream_id) {
        Ok(response) => {
            tracing::info!(reference = %ctx.reference, flow = %flow.id, idp = %idp.entity_id, "sent to identity provider");
            response
        }
        Err(e) => fail(state, ctx, e, Some(&flow)),
    }
}

fn upstream_request(
    state: &AppState,
    lang: Lang,
    flow: &PendingFlow,
    idp: &IdpMetadata,
    upstream_id: &str,
) -> Result<Response, LoginError> {
    let internal = |e: &dyn std::fmt::Display| LoginError::Internal(e.to_string());
    let cfg = &state.config;
    let acs = cfg.url("/saml/acs");
    let redirect = idp.sso.iter().find(|e| e.binding == xml::BINDING_REDIRECT);
    let post = idp.sso.iter().find(|e| e.binding == xml::BINDING_POST);
    let now = Utc::now();
    if let Some(endpoint) = redirect {
        let request = sp::authn_request(
            upstream_id,
            &cfg.saml.sp_entity_id,
            &endpoint.location,
            &acs,
            flow.intent.required_level,
            flow.intent.comparison,
            flow.intent.force_authn,
            now,
            None,
        )
        .map_err(|e| internal(&e))?;
        let url = binding::redirect_url(
            &endpoint.location,
            "SAMLRequest",
            &request,
            None,
            &state.signing,
        )
        .map_err(|e| internal(&e))?;
        return Ok(Redirect::to(&url).into_response());
    }
    let endpoint =
        post.ok_or_else(|| LoginError::Internal("AD has no usable SSO endpoint".into()))?;
    let request = sp::authn_request(
        upstream_id,
        &cfg.saml.sp_entity_id,
        &endpoint.location,
        &acs,
        flow.intent.required_level,
        flow.intent.comparison,
        flow.intent.force_authn,
        now,
        Some(&state.signing),
    )
    .map_err(|e| internal(&e))?;
    let form = PostForm {
        action: endpoint.location.clone(),
        fields: vec![("SAMLRequest".to_string(), binding::encode_post(&request))],
    };
    Ok(state.pages.post_form(lang, &form))
}

// ---------------------------------------------------------------------------------------------
// AD -> poort, the decision, and poort -> DV

#[derive(Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
}

pub async fn acs(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<AcsForm>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let Some(raw) = form.saml_response else {
        return fail(
            &state,
            &ctx,
            LoginError::BadMessage("no SAMLResponse".into()),
            None,
        );
    };
    let text = match binding::decode_post(&raw) {
        Ok(t) => t,
        Err(e) => return fail(&state, &ctx, LoginError::BadMessage(e.to_string()), None),
    };
    let irt = match sp::in_response_to(&text) {
        Ok(i) => i,
        Err(e) => return fail(&state, &ctx, LoginError::BadMessage(e.to_string()), None),
    };
    // The link from the upstream request to the flow is single-use: a replayed Response finds
    // nothing here. It is taken only once the flow is known to belong to this browser.
    let link = format!("upstream:{irt}");
    let flow_id = match state.flows.get(&link, Utc::now()).await {
        Ok(Some(id)) => String::from_utf8_lossy(&id).into_owned(),
        Ok(None) => return fail(&state, &ctx, LoginError::UnknownFlow, None),
        Err(e) => return fail(&state, &ctx, LoginError::Internal(e.to_string()), None),
    };
    let mut flow = match load(&state, &ctx, &flow_id, false).await {
        Ok(f) => f,
        Err(e) => return fail(&state, &ctx, e, None),
    };
    match state.flows.take(&link, Utc::now()).await {
        Ok(Some(_)) => {}
        Ok(None) => return fail(&state, &ctx, LoginError::UnknownFlow, None),
        Err(e) => return fail(&state, &ctx, LoginError::Internal(e.to_string()), None),
    }
    if let Err(e) = load(&state, &ctx, &flow_id, true).await {
        return fail(&state, &ctx, e, None);
    }
    let (Some(idp_id), Some(request_id)) = (flow.idp.clone(), flow.upstream_request_id.clone())
    else {
        return fail(&state, &ctx, LoginError::UnknownFlow, None);
    };
    let Some(idp) = state.metadata.idps.iter().find(|i| i.entity_id == idp_id) else {
        return fail(&state, &ctx, LoginError::UnknownFlow, None);
    };
    let certs: Vec<Vec<u8>> = idp.signing_keys.iter().map(|c| c.der.clone()).collect();
    let acs_url = state.config.url("/saml/acs");
    let now = Utc::now();
    let expectations = Expectations {
        idp_entity_id: &idp.entity_id,
        idp_certs: &certs,
        sp_entity_id: &state.config.saml.sp_entity_id,
        acs_url: &acs_url,
        request_id: &request_id,
        decryption_key: &state.decryption.key,
        now,
        clock_skew: Duration::seconds(state.config.saml.clock_skew_seconds),
    };
    let assertion = match sp::check_response(&text, &expectations) {
        Ok(AdOutcome::Authenticated(a)) => a,
        Ok(AdOutcome::Cancelled) => {
            tracing::info!(reference = %ctx.reference, flow = %flow.id, "cancelled at identity provider");
            let status = SamlStatus {
                top: idp::STATUS_RESPONDER,
                second: Some(idp::STATUS_AUTHN_FAILED),
                message: "Authentication cancelled".to_string(),
            };
            return match saml_error_form(&state, &flow.intent, &status) {
                Ok(form) => state.pages.post_form(ctx.lang, &form),
                Err(e) => fail(&state, &ctx, e, None),
            };
        }
        Ok(AdOutcome::Failed { status, .. }) => {
            return fail(&state, &ctx, LoginError::AdFailed(status), Some(&flow))
        }
        Err(e) => {
            return fail(
                &state,
                &ctx,
                LoginError::AdAnswerRejected(e.to_string()),
                Some(&flow),
            )
        }
    };
    let replay_key = format!("assertion:{}:{}", idp.entity_id, assertion.assertion_id);
    match state
        .replay
        .first_use(&replay_key, assertion.not_on_or_after, now)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            let e = LoginError::AdAnswerRejected("assertion replayed".into());
            return fail(&state, &ctx, e, Some(&flow));
        }
        Err(e) => {
            return fail(
                &state,
                &ctx,
                LoginError::Internal(e.to_string()),
                Some(&flow),
            )
        }
    }
    let result = AuthnResult {
        idp: idp.entity_id.clone(),
        subject: assertion.subject,
        level: assertion.level,
        authn_instant: assertion.authn_instant,
    };
    let grants = match state
        .register
        .grants_for(&result.idp, &result.subject)
        .await
    {
        Ok(g) => g,
        Err(e) => {
            return fail(
                &state,
                &ctx,
                LoginError::Internal(e.to_string()),
                Some(&flow),
            )
        }
    };
    let decision = decide(
        flow.intent.required_level,
        flow.intent.comparison,
        &result,
        &flow.service,
        &grants.grants,
        now,
    );
    flow.result = Some(result);
    match decision {
        Decision::Allow(candidate) => answer(&state, &ctx, &flow, &candidate),
        Decision::ChooseOrganisation(candidates) => {
            flow.candidates = candidates;
            match save(&state, &flow).await {
                Ok(()) => {
                    Redirect::to(&format!("/login/organisation?flow={}", flow.id)).into_response()
                }
                Err(e) => fail(&state, &ctx, e, Some(&flow)),
            }
        }
        Decision::Deny(reason) => {
            tracing::info!(reference = %ctx.reference, flow = %flow.id, reason = deny_code(&reason), "login refused");
            fail(&state, &ctx, LoginError::Denied(reason), Some(&flow))
        }
    }
}

pub async fn choose_organisation(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<FlowQuery>,
) -> Response {
    let ctx = Ctx::new(&headers);
    let flow = match load(&state, &ctx, &q.flow, false).await {
        Ok(f) if !f.candidates.is_empty() => f,
        Ok(_) => return fail(&state, &ctx, LoginError::UnknownFlow, None),
        Err(e) => return fail(&state, &ctx, e, None),
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
        Err(e) => return fail(&state, &ctx, e, None),
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
            LoginError::Denied(crate::decision::DenyReason::NoGrant),
            Some(&flow),
        );
    };
    answer(&state, &ctx, &flow, &candidate)
}

/// The signed (and, if the DV has an encryption key, encrypted) answer to the DV.
fn answer(state: &AppState, ctx: &Ctx, flow: &PendingFlow, candidate: &Candidate) -> Response {
    let run = || -> Result<PostForm, LoginError> {
        let internal = |e: &dyn std::fmt::Display| LoginError::Internal(e.to_string());
        let result = flow.result.as_ref().ok_or(LoginError::UnknownFlow)?;
        let dv = state
            .metadata
            .sps
            .get(&flow.intent.requester)
            .ok_or_else(|| LoginError::UnknownRequester(flow.intent.requester.clone()))?;
        let AnswerTo::Saml {
            acs_url,
            request_id,
            relay_state,
        } = &flow.intent.answer;
        let pseudonym = state
            .pseudonyms
            .pseudonym(&dv.entity_id, &result.idp, &result.subject)
            .map_err(|e| internal(&e))?;
        let now = Utc::now();
        let content = AssertionContent {
            idp_entity_id: &state.config.saml.idp_entity_id,
            audience: &dv.entity_id,
            acs_url,
            in_response_to: request_id,
            pseudonym: &pseudonym,
            kvk: &candidate.organisation.kvk,
            company_name: &candidate.organisation.name,
            service_id: &flow.service.service_id,
            service_uuid: &flow.service.uuid,
            level_used: candidate.level_used,
            authenticating_authority: &result.idp,
            authn_instant: result.authn_instant,
            now,
            lifetime_seconds: state.config.saml.assertion_lifetime_seconds,
        };
        let assertion =
            idp::signed_assertion(&content, &state.signing).map_err(|e| internal(&e))?;
        let body = match dv.encryption_keys.first() {
            Some(cert) => encrypt::encrypt_assertion(&assertion, &cert.public_key)
                .map_err(|e| internal(&e))?,
            None => assertion,
        };
        let response = idp::signed_response(
            &state.config.saml.idp_entity_id,
            acs_url,
            request_id,
            None,
            Some(&body),
            now,
            &state.signing,
        )
        .map_err(|e| internal(&e))?;
        tracing::info!(
            reference = %ctx.reference, flow = %flow.id, dv = %dv.entity_id,
            pseudonym = %pseudonym, grant = %candidate.grant_id, level = %candidate.level_used,
            "login allowed"
        );
        Ok(post_form(acs_url, &response, relay_state.as_deref()))
    };
    match run() {
        Ok(form) => state.pages.post_form(ctx.lang, &form),
        Err(e) => fail(state, ctx, e, Some(flow)),
    }
}
