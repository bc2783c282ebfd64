//! DV -> poort: the AuthnRequest over either binding, checked, and the flow begun.

use super::artifact;
use super::flow::{all_idps, Ctx, PendingFlow};
use super::refusal::fail;
use super::start::begin;
use crate::domain::login::{AnswerTo, AuthnIntent};
use crate::grants::ServiceRef;
use crate::metadata::{AcsEndpoint, SpMetadata};
use crate::saml::binding::{self, RedirectMessage, MAX_RELAY_STATE};
use crate::saml::idp::AuthnRequest;
use crate::web::client::Client;
use crate::web::errors::{LoginError, RequestProblem};
use crate::web::AppState;
use axum::extract::{Form, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{Duration, Utc};
use serde::Deserialize;
use std::sync::Arc;

pub async fn sso_redirect(
    State(state): State<Arc<AppState>>,
    client: Client,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let ctx = Ctx::start(&headers, client);
    let query = query.unwrap_or_default();
    // The HTTP-Artifact binding by GET: `SAMLart` (and RelayState) instead of `SAMLRequest`.
    let art: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "SAMLart" || k == "RelayState")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let single = |name| {
        crate::saml::artifact::single(&art, name).map_err(|e| LoginError::BadMessage(e.to_string()))
    };
    match single("SAMLart") {
        Ok(None) => {}
        Ok(Some(saml_art)) => {
            return match single("RelayState") {
                Ok(relay_state) => {
                    let relay_state = relay_state.map(str::to_string);
                    by_artifact(&state, ctx, saml_art, relay_state).await
                }
                Err(e) => fail(&state, &ctx, e, None).await,
            }
        }
        Err(e) => return fail(&state, &ctx, e, None).await,
    }
    let message = match RedirectMessage::decode(&query, "SAMLRequest") {
        Ok(m) => m,
        Err(binding::BindingError::RelayStateTooLong) => {
            return fail(&state, &ctx, LoginError::RelayStateTooLong, None).await
        }
        Err(e) => return fail(&state, &ctx, LoginError::BadMessage(e.to_string()), None).await,
    };
    let request = match AuthnRequest::parse(&message.xml) {
        Ok(r) => r,
        Err(e) => return fail(&state, &ctx, LoginError::BadMessage(e.to_string()), None).await,
    };
    let Some(dv) = state.metadata.sps.get(&request.issuer) else {
        return fail(
            &state,
            &ctx,
            LoginError::UnknownRequester(request.issuer),
            None,
        )
        .await;
    };
    if message.is_signed() {
        let keys: Vec<_> = dv
            .signing_keys
            .iter()
            .map(|c| c.public_key.clone())
            .collect();
        if let Err(e) = message.verify(&keys) {
            return fail(&state, &ctx, LoginError::Unverifiable(e.to_string()), None).await;
        }
    } else if signature_required(&state, dv) {
        return fail(
            &state,
            &ctx,
            LoginError::Unverifiable("unsigned request".into()),
            None,
        )
        .await;
    }
    let delivered = if message.is_signed() {
        Delivered::Signed
    } else {
        Delivered::Unsigned
    };
    start(&state, ctx, dv, request, delivered, message.relay_state).await
}

#[derive(Deserialize)]
pub struct SsoForm {
    #[serde(rename = "SAMLRequest")]
    saml_request: Option<String>,
    #[serde(rename = "SAMLart")]
    saml_art: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

pub async fn sso_post(
    State(state): State<Arc<AppState>>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<SsoForm>,
) -> Response {
    let ctx = Ctx::start(&headers, client);
    if let Some(saml_art) = form.saml_art {
        if form.saml_request.is_some() {
            let e = LoginError::BadMessage("both SAMLRequest and SAMLart".into());
            return fail(&state, &ctx, e, None).await;
        }
        return by_artifact(&state, ctx, &saml_art, form.relay_state).await;
    }
    let Some(raw) = form.saml_request else {
        return fail(
            &state,
            &ctx,
            LoginError::BadMessage("no SAMLRequest".into()),
            None,
        )
        .await;
    };
    if form
        .relay_state
        .as_ref()
        .is_some_and(|r| r.len() > MAX_RELAY_STATE)
    {
        return fail(&state, &ctx, LoginError::RelayStateTooLong, None).await;
    }
    let text = match binding::decode_post(&raw) {
        Ok(t) => t,
        Err(e) => return fail(&state, &ctx, LoginError::BadMessage(e.to_string()), None).await,
    };
    let parsed = match AuthnRequest::parse(&text) {
        Ok(r) => r,
        Err(e) => return fail(&state, &ctx, LoginError::BadMessage(e.to_string()), None).await,
    };
    let Some(dv) = state.metadata.sps.get(&parsed.issuer) else {
        return fail(
            &state,
            &ctx,
            LoginError::UnknownRequester(parsed.issuer),
            None,
        )
        .await;
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
                .await
            }
            Err(e) => {
                return fail(&state, &ctx, LoginError::Unverifiable(e.to_string()), None).await
            }
        }
    } else if signature_required(&state, dv) {
        return fail(
            &state,
            &ctx,
            LoginError::Unverifiable("unsigned request".into()),
            None,
        )
        .await;
    } else {
        parsed
    };
    let delivered = if request.has_signature {
        Delivered::Signed
    } else {
        Delivered::Unsigned
    };
    start(&state, ctx, dv, request, delivered, form.relay_state).await
}

/// A DV's AuthnRequest by artifact (Artifact-Artifact): resolved at the DV over the back
/// channel, whose signed ArtifactResponse vouches for it.
async fn by_artifact(
    state: &Arc<AppState>,
    ctx: Ctx,
    saml_art: &str,
    relay_state: Option<String>,
) -> Response {
    if relay_state
        .as_ref()
        .is_some_and(|r| r.len() > MAX_RELAY_STATE)
    {
        return fail(state, &ctx, LoginError::RelayStateTooLong, None).await;
    }
    match artifact::resolve_dv_request(state, saml_art).await {
        Ok((dv, request)) => {
            start(state, ctx, dv, request, Delivered::ByArtifact, relay_state).await
        }
        Err(e) => fail(state, &ctx, e, None).await,
    }
}

/// How the AuthnRequest reached poort, which decides what its Destination must say.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Delivered {
    Unsigned,
    /// A signed message on the front channel must name where it is going (SAML Bindings
    /// 2.0 §3.4.5.2, §3.5.5.2).
    Signed,
    /// Resolved over the back channel from the signed ArtifactResponse of a known DV.
    ByArtifact,
}

fn signature_required(state: &AppState, dv: &SpMetadata) -> bool {
    !state
        .config
        .dv(&dv.entity_id)
        .is_some_and(|c| c.allow_unsigned_requests)
}

/// The ACS to answer at, from metadata only: by index, by a URL that matches exactly, by the
/// binding asked for, or the default. The scheme's rule (afsprakenstelsel, *Bindings*: the answer
/// always by artifact) makes an HTTP-Artifact ACS win wherever the request leaves a choice;
/// HTTP-POST serves a DV whose metadata offers nothing else (generic SAML).
fn resolve_acs<'a>(dv: &'a SpMetadata, request: &AuthnRequest) -> Option<&'a AcsEndpoint> {
    let wanted = |a: &&AcsEndpoint| {
        a.is_usable()
            && request
                .protocol_binding
                .as_deref()
                .is_none_or(|b| b == a.binding)
    };
    let artifact_first = |a: &&AcsEndpoint| (!a.is_artifact(), !a.is_default, a.index);
    match (&request.acs_index, &request.acs_url) {
        (Some(_), Some(_)) => None,
        (Some(index), None) => dv.acs.iter().filter(wanted).find(|a| a.index == *index),
        (None, Some(url)) => dv
            .acs
            .iter()
            .filter(wanted)
            .filter(|a| a.location == *url)
            .min_by_key(artifact_first),
        (None, None) => dv.acs.iter().filter(wanted).min_by_key(artifact_first),
    }
}

/// Checks a verified DV's request and begins the flow.
#[tracing::instrument(name = "login.start", skip_all, fields(dv = %dv.entity_id, protocol = "saml"))]
async fn start(
    state: &Arc<AppState>,
    ctx: Ctx,
    dv: &SpMetadata,
    request: AuthnRequest,
    delivered: Delivered,
    relay_state: Option<String>,
) -> Response {
    let Some(acs) = resolve_acs(dv, &request) else {
        return fail(state, &ctx, LoginError::AcsNotInMetadata, None).await;
    };
    let now = Utc::now();
    let cfg = &state.config;
    let skew = Duration::seconds(cfg.saml.clock_skew_seconds);
    // From here on the DV is verified and its ACS known: errors go back to it as SAML statuses.
    let mut flow = PendingFlow::new(
        state,
        &ctx,
        AuthnIntent {
            requester: dv.entity_id.clone(),
            service_id: String::new(),
            required_level: crate::domain::level::Level::Eh4,
            comparison: crate::domain::level::Comparison::Minimum,
            answer: AnswerTo::Saml {
                acs_url: acs.location.clone(),
                request_id: request.id.clone(),
                relay_state,
                artifact: acs.is_artifact(),
            },
            force_authn: request.force_authn,
            is_passive: request.is_passive,
            allowed_idps: Vec::new(),
        },
        ServiceRef {
            service_id: String::new(),
            uuid: String::new(),
            provider: dv.entity_id.clone(),
            level: crate::domain::level::Level::Eh4,
        },
        (String::new(), String::new()),
    );
    let refuse = |p: RequestProblem, msg: String| LoginError::Refused(p, msg);

    let sso_urls = [cfg.url("/saml/sso"), cfg.saml_url("/saml/sso")];
    if request
        .destination
        .as_ref()
        .is_some_and(|d| !sso_urls.contains(d))
        || (delivered == Delivered::Signed && request.destination.is_none())
    {
        let e = refuse(
            RequestProblem::Destination,
            "Destination is not poort's SSO endpoint".into(),
        );
        return fail(state, &ctx, e, Some(&flow)).await;
    }
    let max_age = Duration::seconds(cfg.saml.request_max_age_seconds);
    if request.issue_instant > now + skew || request.issue_instant + max_age + skew < now {
        let e = refuse(
            RequestProblem::Stale,
            "IssueInstant outside the accepted window".into(),
        );
        return fail(state, &ctx, e, Some(&flow)).await;
    }
    let Some(service) = resolve_service(state, dv, &request) else {
        let e = refuse(
            RequestProblem::UnknownService,
            "AttributeConsumingServiceIndex names no service in the catalogue".into(),
        );
        return fail(state, &ctx, e, Some(&flow)).await;
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
            .await
        }
        Ok(Some((level, _))) if level > service.level => {
            let e = refuse(
                RequestProblem::LevelAboveCatalogue,
                format!(
                    "Requested level {level} is above the service's level {}",
                    service.level
                ),
            );
            return fail(state, &ctx, e, Some(&flow)).await;
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
        return fail(state, &ctx, e, Some(&flow)).await;
    }
    let idps: Vec<String> = all_idps(state)
        .into_iter()
        .filter(|id| request.idp_list.is_empty() || request.idp_list.contains(id))
        .collect();
    if idps.is_empty() {
        let e = refuse(
            RequestProblem::NoAvailableIdp,
            "none of the requested identity providers is available".into(),
        );
        return fail(state, &ctx, e, Some(&flow)).await;
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
            return fail(state, &ctx, e, Some(&flow)).await;
        }
        Err(e) => {
            return fail(
                state,
                &ctx,
                LoginError::Internal(e.to_string()),
                Some(&flow),
            )
            .await
        }
    }
    tracing::info!(
        reference = %ctx.reference, flow = %flow.id, dv = %dv.entity_id,
        service = %flow.service.service_id, level = %flow.intent.required_level,
        "login started"
    );
    begin(state, ctx, flow).await
}

/// The catalogue's service the request names. As the afsprakenstelsel's *DV metadata for HM*
/// has it, the AttributeConsumingService the request names (by index, or the one marked
/// `isDefault="true"`) holds a RequestedAttribute whose Name is the ServiceID; the catalogue
/// entry must be offered by this DV. A DV whose metadata names no ServiceID there is matched by
/// the catalogue's `acs_index` (poort's earlier configuration).
fn resolve_service<'a>(
    state: &'a AppState,
    dv: &SpMetadata,
    request: &AuthnRequest,
) -> Option<&'a crate::config::ServiceConfig> {
    let offered = |s: &&crate::config::ServiceConfig| s.provider == dv.entity_id;
    if let Some(id) = dv.service_id(request.attribute_consuming_service_index) {
        return state
            .config
            .services
            .iter()
            .filter(offered)
            .find(|s| s.id == id);
    }
    let all: Vec<_> = state.config.services.iter().filter(offered).collect();
    match request.attribute_consuming_service_index {
        Some(index) => all.into_iter().find(|s| s.acs_index == index),
        None => (all.len() == 1).then(|| all[0]),
    }
}
