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
    let arrived = by_redirect(&state, &query.unwrap_or_default());
    proceed(&state, ctx, arrived).await
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
    let arrived = by_post(&state, form);
    proceed(&state, ctx, arrived).await
}

/// A DV's request as it arrived: an AuthnRequest of a known DV whose signature (where there is
/// one, or must be one) holds, or an artifact that stands for one.
enum Arrived {
    Request {
        dv: Arc<SpMetadata>,
        request: Box<AuthnRequest>,
        delivered: Delivered,
        relay_state: Option<String>,
    },
    Artifact {
        saml_art: String,
        relay_state: Option<String>,
    },
}

impl Arrived {
    /// A verified AuthnRequest, its signature over the binding (`signed`) or none.
    fn request(
        dv: Arc<SpMetadata>,
        request: AuthnRequest,
        signed: bool,
        relay_state: Option<String>,
    ) -> Arrived {
        let delivered = if signed {
            Delivered::Signed
        } else {
            Delivered::Unsigned
        };
        Arrived::Request {
            dv,
            request: Box::new(request),
            delivered,
            relay_state,
        }
    }
}

/// Starts the login a request asks for; a request that could not be read or verified gets a
/// page only (its DV is not known to be who it says, so nothing goes back to it).
async fn proceed(
    state: &Arc<AppState>,
    ctx: Ctx,
    arrived: Result<Arrived, LoginError>,
) -> Response {
    match arrived {
        Ok(Arrived::Request {
            dv,
            request,
            delivered,
            relay_state,
        }) => start(state, ctx, &dv, *request, delivered, relay_state).await,
        Ok(Arrived::Artifact {
            saml_art,
            relay_state,
        }) => match resolve_artifact(state, &saml_art, relay_state.as_deref()).await {
            Ok((dv, request)) => {
                start(state, ctx, &dv, request, Delivered::ByArtifact, relay_state).await
            }
            Err(e) => fail(state, &ctx, e, None).await,
        },
        Err(e) => fail(state, &ctx, e, None).await,
    }
}

/// `GET /saml/sso`: the HTTP-Redirect binding (`SAMLRequest`, its detached signature), or the
/// HTTP-Artifact binding by GET (`SAMLart`).
fn by_redirect(state: &AppState, query: &str) -> Result<Arrived, LoginError> {
    let art: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "SAMLart" || k == "RelayState")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let single = |name| {
        crate::saml::artifact::single(&art, name).map_err(|e| LoginError::BadMessage(e.to_string()))
    };
    if let Some(saml_art) = single("SAMLart")? {
        let relay_state = single("RelayState")?.map(str::to_string);
        return Ok(Arrived::Artifact {
            saml_art: saml_art.to_string(),
            relay_state,
        });
    }
    let message = RedirectMessage::decode(query, "SAMLRequest").map_err(|e| match e {
        binding::BindingError::RelayStateTooLong => LoginError::RelayStateTooLong,
        e => LoginError::BadMessage(e.to_string()),
    })?;
    let request =
        AuthnRequest::parse(&message.xml).map_err(|e| LoginError::BadMessage(e.to_string()))?;
    let dv = known_dv(state, &request.issuer)?;
    if message.is_signed() {
        let keys: Vec<_> = dv
            .signing_keys
            .iter()
            .map(|c| c.public_key.clone())
            .collect();
        message
            .verify(&keys)
            .map_err(|e| LoginError::Unverifiable(e.to_string()))?;
    } else if signature_required(state, &dv) {
        return Err(LoginError::Unverifiable("unsigned request".into()));
    }
    let signed = message.is_signed();
    Ok(Arrived::request(dv, request, signed, message.relay_state))
}

/// `POST /saml/sso`: the HTTP-POST binding (an enveloped signature), or the HTTP-Artifact
/// binding by POST.
fn by_post(state: &AppState, form: SsoForm) -> Result<Arrived, LoginError> {
    if let Some(saml_art) = form.saml_art {
        if form.saml_request.is_some() {
            return Err(LoginError::BadMessage(
                "both SAMLRequest and SAMLart".into(),
            ));
        }
        return Ok(Arrived::Artifact {
            saml_art,
            relay_state: form.relay_state,
        });
    }
    let raw = form
        .saml_request
        .ok_or_else(|| LoginError::BadMessage("no SAMLRequest".into()))?;
    relay_state_fits(form.relay_state.as_deref())?;
    let text = binding::decode_post(&raw).map_err(|e| LoginError::BadMessage(e.to_string()))?;
    let parsed = AuthnRequest::parse(&text).map_err(|e| LoginError::BadMessage(e.to_string()))?;
    let dv = known_dv(state, &parsed.issuer)?;
    let request = if parsed.has_signature {
        let certs: Vec<Vec<u8>> = dv.signing_keys.iter().map(|c| c.der.clone()).collect();
        let verified = AuthnRequest::verify_enveloped(&text, &certs)
            .map_err(|e| LoginError::Unverifiable(e.to_string()))?;
        if verified.issuer != dv.entity_id {
            return Err(LoginError::Unverifiable("issuer changed".into()));
        }
        verified
    } else if signature_required(state, &dv) {
        return Err(LoginError::Unverifiable("unsigned request".into()));
    } else {
        parsed
    };
    let signed = request.has_signature;
    Ok(Arrived::request(dv, request, signed, form.relay_state))
}

/// A DV's AuthnRequest by artifact (Artifact-Artifact): resolved at the DV over the back
/// channel, whose signed ArtifactResponse vouches for it.
async fn resolve_artifact(
    state: &AppState,
    saml_art: &str,
    relay_state: Option<&str>,
) -> Result<(Arc<SpMetadata>, AuthnRequest), LoginError> {
    relay_state_fits(relay_state)?;
    artifact::resolve_dv_request(state, saml_art).await
}

fn relay_state_fits(relay_state: Option<&str>) -> Result<(), LoginError> {
    if relay_state.is_some_and(|r| r.len() > MAX_RELAY_STATE) {
        return Err(LoginError::RelayStateTooLong);
    }
    Ok(())
}

/// The DV an AuthnRequest names as its issuer, from trusted metadata.
fn known_dv(state: &AppState, issuer: &str) -> Result<Arc<SpMetadata>, LoginError> {
    state
        .metadata()
        .sps
        .get(issuer)
        .cloned()
        .ok_or_else(|| LoginError::UnknownRequester(issuer.to_string()))
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
            requested_attributes: Vec::new(),
            identifiers: Vec::new(),
        },
        ServiceRef {
            service_id: String::new(),
            uuid: String::new(),
            provider: dv.entity_id.clone(),
            level: crate::domain::level::Level::Eh4,
        },
        (String::new(), String::new()),
    );
    match check_request(state, dv, &request, delivered, &mut flow).await {
        Ok(()) => {
            tracing::info!(
                reference = %ctx.reference, flow = %flow.id, dv = %dv.entity_id,
                service = %flow.service.service_id, level = %flow.intent.required_level,
                "login started"
            );
            begin(state, ctx, flow).await
        }
        Err(e) => fail(state, &ctx, e, Some(&flow)).await,
    }
}

/// Every check of a known DV's request once its answer can go back to the DV (a refusal is
/// then a SAML status at its ACS): Destination, age, service, level, passivity, the ADs it
/// allows, a request ID used once. Fills in the flow's service, level and ADs.
async fn check_request(
    state: &AppState,
    dv: &SpMetadata,
    request: &AuthnRequest,
    delivered: Delivered,
    flow: &mut PendingFlow,
) -> Result<(), LoginError> {
    let now = Utc::now();
    let cfg = &state.config;
    let skew = Duration::seconds(cfg.saml.clock_skew_seconds);
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
        return Err(e);
    }
    let max_age = Duration::seconds(cfg.saml.request_max_age_seconds);
    if request.issue_instant > now + skew || request.issue_instant + max_age + skew < now {
        let e = refuse(
            RequestProblem::Stale,
            "IssueInstant outside the accepted window".into(),
        );
        return Err(e);
    }
    let Some(service) = resolve_service(state, dv, request) else {
        let e = refuse(
            RequestProblem::UnknownService,
            "AttributeConsumingServiceIndex names no service in the catalogue".into(),
        );
        return Err(e);
    };
    flow.intent.service_id = service.id.clone();
    flow.service = ServiceRef {
        service_id: service.id.clone(),
        uuid: service.uuid.clone(),
        provider: service.provider.clone(),
        level: service.level,
    };
    flow.service_name = (service.name_nl.clone(), service.name_en.clone());
    // The attributes its catalogue entry asks for, and those the DV's metadata names for it.
    let in_metadata = dv
        .attribute_consuming_services
        .iter()
        .find(|acs| acs.service_ids.contains(&service.id))
        .or_else(|| dv.attribute_consuming_service(request.attribute_consuming_service_index))
        .map(|acs| acs.requested_attributes.as_slice())
        .unwrap_or_default();
    flow.intent.requested_attributes = service.asks_for(in_metadata);
    flow.intent.identifiers = service
        .identifier_types(&flow.intent.requested_attributes)
        .map_err(|named| {
            refuse(
                RequestProblem::UnknownService,
                format!(
                    "the service accepts only organisation identifiers poort cannot give ({named})"
                ),
            )
        })?;
    let requested = request
        .requested_level()
        .map_err(|e| refuse(RequestProblem::UnknownLevel, e.to_string()))?;
    match requested {
        Some((level, _)) if level > service.level => {
            let e = refuse(
                RequestProblem::LevelAboveCatalogue,
                format!(
                    "Requested level {level} is above the service's level {}",
                    service.level
                ),
            );
            return Err(e);
        }
        Some((level, comparison)) => {
            flow.intent.required_level = level;
            flow.intent.comparison = comparison;
        }
        None => flow.intent.required_level = service.level,
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
        return Err(e);
    }
    flow.intent.allowed_idps = idps;
    // A request ID is accepted once per DV.
    let replay_key = format!("request:{}:{}", dv.entity_id, request.id);
    let first_use = state
        .replay
        .first_use(&replay_key, request.issue_instant + max_age + skew * 2, now)
        .await
        .map_err(|e| LoginError::Internal(e.to_string()))?;
    if !first_use {
        return Err(refuse(
            RequestProblem::Replayed,
            "AuthnRequest ID already used".into(),
        ));
    }
    Ok(())
}

/// The catalogue's service the request names. As the afsprakenstelsel's *DV metadata for HM*
/// has it, the AttributeConsumingService the request names (by index, or the one marked
/// `isDefault="true"`) holds a RequestedAttribute whose Name is the ServiceID; the catalogue
/// entry must be offered by this DV. A DV whose metadata names no ServiceID there is matched by
/// the catalogue's `acs_index` (poort's earlier configuration).
fn resolve_service(
    state: &AppState,
    dv: &SpMetadata,
    request: &AuthnRequest,
) -> Option<crate::config::ServiceConfig> {
    let catalogue = state.catalogue();
    let offered = |s: &&crate::config::ServiceConfig| s.provider == dv.entity_id;
    if let Some(id) = dv.service_id(request.attribute_consuming_service_index) {
        return catalogue
            .iter()
            .filter(offered)
            .find(|s| s.id == id)
            .cloned();
    }
    let all: Vec<_> = catalogue.iter().filter(offered).collect();
    let found = match request.attribute_consuming_service_index {
        Some(index) => all.into_iter().find(|s| s.acs_index == index),
        None => (all.len() == 1).then(|| all[0]),
    };
    found.cloned()
}
