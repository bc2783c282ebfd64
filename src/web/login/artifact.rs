//! The HTTP-Artifact binding at poort's edge (SAML Bindings 2.0 §3.6; afsprakenstelsel page
//! *Bindings*: HM-AD Artifact-Artifact, the answer to a DV always by artifact).
//!
//! poort as **issuer**: a message for a peer (a Response for a DV, an AuthnRequest for an AD)
//! waits in the shared flow store under a fresh artifact, and the browser carries only the
//! artifact. poort's ArtifactResolutionService hands each message out once, within
//! `[saml] artifact_lifetime_seconds`, to the peer it was issued to, on a signed request from
//! that peer; any replica can answer, as the store is shared.
//!
//! poort as **resolver**: a `SAMLart` from a DV (its AuthnRequest) or an AD (its Response) names
//! its issuer by SourceID; poort resolves it at that peer's ArtifactResolutionService from
//! metadata over the back channel, and the message inside then goes through every check a
//! message by any other binding goes through.

use crate::metadata::publish::POORT_ARS_INDEX;
use crate::metadata::{IdpMetadata, SpMetadata};
use crate::saml::artifact::Artifact;
use crate::saml::backchannel::{Peer, Resolver};
use crate::saml::idp::{self, AuthnRequest};
use crate::saml::xml;
use crate::saml::{resolve, soap};
use crate::web::errors::LoginError;
use crate::web::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Kept this long past expiry, so a late or second resolution is told apart from a guess.
const AFTERLIFE_SECONDS: i64 = 300;

/// What an artifact poort issued stands for.
#[derive(Serialize, Deserialize)]
struct Issued {
    message: String,
    /// poort's entity ID in the role it issued the message in (the artifact's SourceID).
    issuer: String,
    /// The only peer that may resolve it.
    recipient: String,
    expires_at: DateTime<Utc>,
    /// The `traceparent` of the login that issued it: its resolution joins that trace.
    #[serde(default)]
    trace: Option<String>,
}

fn key(artifact: &Artifact) -> String {
    format!("artifact:{}", artifact.store_key())
}

fn used_key(artifact: &Artifact) -> String {
    format!("artifact-used:{}", artifact.store_key())
}

/// Puts `message` from poort (as `issuer`) for `recipient` behind a fresh artifact; returns
/// the `SAMLart` value.
pub(super) async fn issue(
    state: &AppState,
    message: String,
    issuer: &str,
    recipient: &str,
) -> Result<String, LoginError> {
    let artifact = Artifact::new(issuer, POORT_ARS_INDEX);
    let expires_at = Utc::now() + Duration::seconds(state.config.saml.artifact_lifetime_seconds);
    let issued = Issued {
        message,
        issuer: issuer.to_string(),
        recipient: recipient.to_string(),
        expires_at,
        trace: Some(crate::telemetry::traceparent()),
    };
    let bytes = serde_json::to_vec(&issued).map_err(|e| LoginError::Internal(e.to_string()))?;
    state
        .flows
        .put(
            &key(&artifact),
            bytes,
            expires_at + Duration::seconds(AFTERLIFE_SECONDS),
        )
        .await
        .map_err(|e| LoginError::Internal(e.to_string()))?;
    Ok(artifact.encode())
}

/// `url?SAMLart=…&RelayState=…`: the artifact by HTTP GET (SAML Bindings 2.0 §3.6.3). A
/// RelayState is returned exactly as received, also when it is empty.
pub(super) fn artifact_url(endpoint: &str, artifact: &str, relay_state: Option<&str>) -> String {
    crate::saml::artifact::url(endpoint, artifact, relay_state)
        .unwrap_or_else(|_| endpoint.to_string())
}

/// Why poort's ArtifactResolutionService will not hand a message out. Each has its own code,
/// in the answer and in the log. The demo peers' `NotHandedOut` (src/demo/artifact.rs) reads
/// alike on purpose: they stand in for outside parties, so they share no code with poort's.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the ArtifactResolve is not readable: {0}")]
    Unreadable(String),
    #[error("the requester is not a trusted peer")]
    UnknownPeer,
    #[error("the ArtifactResolve is not validly signed by the requester: {0}")]
    Signature(String),
    #[error("the ArtifactResolve's Destination is not poort's ArtifactResolutionService")]
    Destination,
    #[error("the ArtifactResolve's IssueInstant is outside the accepted window")]
    Stale,
    #[error("the artifact is malformed: {0}")]
    Malformed(String),
    #[error("the artifact's SourceID is not poort's")]
    SourceId,
    #[error("the artifact's EndpointIndex {0} is not poort's ArtifactResolutionService")]
    EndpointIndex(u16),
    #[error("the artifact is unknown")]
    Unknown,
    #[error("the artifact has already been resolved")]
    AlreadyResolved,
    #[error("the artifact has expired")]
    Expired,
    #[error("the artifact was issued to another peer")]
    OtherPeer,
    #[error("the state store is unavailable")]
    Store,
}

impl Refusal {
    /// The reason code, in the answer and the log.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Unreadable(_) => "artifact_resolve_unreadable",
            Refusal::UnknownPeer => "artifact_unknown_peer",
            Refusal::Signature(_) => "artifact_resolve_signature",
            Refusal::Destination => "artifact_resolve_destination",
            Refusal::Stale => "artifact_resolve_stale",
            Refusal::Malformed(_) => "artifact_malformed",
            Refusal::SourceId => "artifact_source_id",
            Refusal::EndpointIndex(_) => "artifact_endpoint_index",
            Refusal::Unknown => "artifact_unknown",
            Refusal::AlreadyResolved => "artifact_already_resolved",
            Refusal::Expired => "artifact_expired",
            Refusal::OtherPeer => "artifact_other_peer",
            Refusal::Store => "artifact_store_unavailable",
        }
    }
}

/// `POST /saml/artifact`: poort's ArtifactResolutionService (SOAP 1.1).
pub async fn artifact_resolution_service(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Response, Response> {
    let reference = crate::telemetry::new_reference();
    let soap_fault = |why: String| {
        tracing::warn!(reference = %reference, reason = "artifact_soap_fault", "artifact resolution refused: {why}");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, soap::CONTENT_TYPE)],
            soap::fault(true, &format!("{why} (reference {reference})")),
        )
            .into_response()
    };
    let text = xml::utf8(&body).map_err(|e| soap_fault(e.to_string()))?;
    let request = soap::body(text).map_err(|e| soap_fault(e.to_string()))?;
    // The request's ID, for InResponseTo: read before verification, only to address the answer.
    let request_id = xml::parse(&request)
        .ok()
        .and_then(|d| d.root_element().attribute("ID").map(str::to_string));
    let Some(request_id) = request_id else {
        return Err(soap_fault(
            "the SOAP Body holds no ArtifactResolve with an ID".into(),
        ));
    };
    let now = Utc::now();
    let (peer, outcome) = hand_out(&state, &request, now).await;
    // poort answers in the role the peer knows it by: IdP to a DV, SP to an AD.
    let responder = match &peer {
        Some(p) if state.metadata().idp(p).is_some() => &state.config.saml.sp_entity_id,
        _ => &state.config.saml.idp_entity_id,
    };
    let message = match outcome {
        Ok(message) => {
            tracing::info!(reference = %reference, peer = %peer.as_deref().unwrap_or("-"), "artifact resolved");
            state.metrics.artifact_resolution("resolved");
            message
        }
        Err(refusal) => {
            state.metrics.artifact_resolution(refusal.code());
            tracing::warn!(
                reference = %reference, peer = %peer.as_deref().unwrap_or("-"),
                reason = refusal.code(), "artifact resolution refused: {refusal}"
            );
            resolve::error_response(
                responder,
                Some(&request_id),
                idp::STATUS_REQUESTER,
                idp::STATUS_REQUEST_DENIED,
                &format!("{} ({}; reference {reference})", refusal, refusal.code()),
                now,
            )
        }
    };
    let answer =
        resolve::artifact_response(responder, &request_id, Some(&message), now, &state.signing)
            .map_err(|e| {
                tracing::error!(reference = %reference, error = %e, "cannot sign ArtifactResponse");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    [(header::CONTENT_TYPE, soap::CONTENT_TYPE)],
                    soap::fault(false, &format!("internal error (reference {reference})")),
                )
                    .into_response()
            })?;
    let answer = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, soap::CONTENT_TYPE)],
        soap::envelope(&answer),
    );
    Ok(answer.into_response())
}

/// Checks an ArtifactResolve and takes the message it asks for. Returns the verified
/// requester (when known) beside the outcome, for the log.
async fn hand_out(
    state: &AppState,
    request: &str,
    now: DateTime<Utc>,
) -> (Option<String>, Result<String, Refusal>) {
    match verified(state, request) {
        Ok(resolve) => {
            let peer = Some(resolve.issuer.clone());
            (peer, take_for(state, &resolve, now).await)
        }
        Err((peer, refusal)) => (peer, Err(refusal)),
    }
}

/// An ArtifactResolve whose signature is its claimed issuer's; or why not, beside the peer
/// when the answer may name it.
fn verified(
    state: &AppState,
    request: &str,
) -> Result<resolve::ArtifactResolve, (Option<String>, Refusal)> {
    let claimed =
        resolve::claimed_issuer(request).map_err(|e| (None, Refusal::Unreadable(e.to_string())))?;
    let certs: Vec<Vec<u8>> = if let Some(dv) = state.metadata().sps.get(&claimed) {
        dv.signing_keys.iter().map(|c| c.der.clone()).collect()
    } else if let Some(ad) = state.metadata().idp(&claimed) {
        ad.signing_keys.iter().map(|c| c.der.clone()).collect()
    } else {
        return Err((None, Refusal::UnknownPeer));
    };
    match resolve::verify_artifact_resolve(request, &certs) {
        Ok(r) if r.issuer == claimed => Ok(r),
        Ok(_) => Err((None, Refusal::Signature("issuer changed".into()))),
        // Named, so the answer comes in the role this peer knows poort by.
        Err(e) => Err((Some(claimed), Refusal::Signature(e.to_string()))),
    }
}

async fn take_for(
    state: &AppState,
    resolve: &resolve::ArtifactResolve,
    now: DateTime<Utc>,
) -> Result<String, Refusal> {
    let cfg = &state.config;
    if let Some(d) = &resolve.destination {
        let ours = [cfg.url("/saml/artifact"), cfg.saml_url("/saml/artifact")];
        if !ours.contains(d) {
            return Err(Refusal::Destination);
        }
    }
    let skew = Duration::seconds(cfg.saml.clock_skew_seconds);
    let max_age = Duration::seconds(cfg.saml.request_max_age_seconds);
    if resolve.issue_instant > now + skew || resolve.issue_instant + max_age + skew < now {
        return Err(Refusal::Stale);
    }
    let artifact =
        Artifact::decode(&resolve.artifact).map_err(|e| Refusal::Malformed(e.to_string()))?;
    if !artifact.is_from(&cfg.saml.idp_entity_id) && !artifact.is_from(&cfg.saml.sp_entity_id) {
        return Err(Refusal::SourceId);
    }
    if artifact.endpoint_index != POORT_ARS_INDEX {
        return Err(Refusal::EndpointIndex(artifact.endpoint_index));
    }
    let stored = state
        .flows
        .get(&key(&artifact), now)
        .await
        .map_err(|_| Refusal::Store)?;
    let Some(bytes) = stored else {
        let used = state
            .flows
            .get(&used_key(&artifact), now)
            .await
            .map_err(|_| Refusal::Store)?;
        return Err(if used.is_some() {
            Refusal::AlreadyResolved
        } else {
            Refusal::Unknown
        });
    };
    let issued: Issued = serde_json::from_slice(&bytes).map_err(|_| Refusal::Store)?;
    if let Some(trace) = &issued.trace {
        crate::telemetry::continue_trace(trace);
    }
    if issued.recipient != resolve.issuer {
        // Left in place: a peer that guesses or steals an artifact cannot spend it for the
        // peer it was meant for.
        return Err(Refusal::OtherPeer);
    }
    if !artifact.is_from(&issued.issuer) {
        return Err(Refusal::SourceId);
    }
    if issued.expires_at <= now {
        return Err(Refusal::Expired);
    }
    // Of two concurrent resolutions, one takes it (SAML Core 2.0 §3.5.3: one-time use).
    let taken = state
        .flows
        .take(&key(&artifact), now)
        .await
        .map_err(|_| Refusal::Store)?;
    if taken.is_none() {
        return Err(Refusal::AlreadyResolved);
    }
    let _ = state
        .flows
        .put(
            &used_key(&artifact),
            Vec::new(),
            issued.expires_at + Duration::seconds(AFTERLIFE_SECONDS),
        )
        .await;
    Ok(issued.message)
}

/// A peer named by an artifact's SourceID, as the resolver needs it.
struct Issuer<'a> {
    /// "dv" or "ad", for the metrics.
    role: &'static str,
    entity_id: &'a str,
    artifact_resolution: &'a [crate::metadata::IndexedEndpoint],
    certs: Vec<Vec<u8>>,
    /// poort's entity ID in the role this peer knows it by: IdP to a DV, SP to an AD.
    me: &'a str,
}

impl<'a> Issuer<'a> {
    fn dv(state: &'a AppState, dv: &'a SpMetadata) -> Issuer<'a> {
        let me = &state.config.saml.idp_entity_id;
        let (id, ars) = (&dv.entity_id, &dv.artifact_resolution);
        Issuer::new("dv", me, id, ars, &dv.signing_keys)
    }

    fn ad(state: &'a AppState, ad: &'a IdpMetadata) -> Issuer<'a> {
        let me = &state.config.saml.sp_entity_id;
        let (id, ars) = (&ad.entity_id, &ad.artifact_resolution);
        Issuer::new("ad", me, id, ars, &ad.signing_keys)
    }

    fn new(
        role: &'static str,
        me: &'a str,
        entity_id: &'a str,
        artifact_resolution: &'a [crate::metadata::IndexedEndpoint],
        keys: &[crate::metadata::PeerCert],
    ) -> Issuer<'a> {
        Issuer {
            role,
            entity_id,
            artifact_resolution,
            certs: keys.iter().map(|c| c.der.clone()).collect(),
            me,
        }
    }
}

/// Why an artifact could not be resolved at its issuer.
enum Unresolved {
    /// The peer's metadata has no ArtifactResolutionService with the artifact's EndpointIndex.
    NoEndpoint(u16),
    BackChannel(crate::saml::backchannel::BackChannelError),
}

/// Resolves `saml_art` at `peer`'s ArtifactResolutionService: the one message of the peer's
/// verified ArtifactResponse.
async fn resolve_at(
    state: &AppState,
    peer: &Issuer<'_>,
    artifact: &Artifact,
    saml_art: &str,
) -> Result<String, Unresolved> {
    let label = |outcome: &Result<String, Unresolved>| match outcome {
        Ok(_) => "resolved",
        Err(Unresolved::BackChannel(e)) if e.is_unavailable() => "unavailable",
        Err(_) => "rejected",
    };
    let resolving = std::time::Instant::now();
    let outcome = crate::telemetry::timed(
        "artifact.resolve",
        resolve_at_peer(state, peer, artifact, saml_art),
        |outcome| {
            vec![
                opentelemetry::KeyValue::new("peer.role", peer.role.to_string()),
                opentelemetry::KeyValue::new("peer.entity_id", peer.entity_id.to_string()),
                opentelemetry::KeyValue::new("outcome", label(outcome)),
            ]
        },
    )
    .await;
    state.metrics.step("artifact_resolve", resolving);
    let label = label(&outcome);
    state.metrics.backchannel_resolution(peer.role, label);
    outcome
}

async fn resolve_at_peer(
    state: &AppState,
    peer: &Issuer<'_>,
    artifact: &Artifact,
    saml_art: &str,
) -> Result<String, Unresolved> {
    let ars = crate::metadata::artifact_resolution_service(
        peer.artifact_resolution,
        artifact.endpoint_index,
    )
    .ok_or(Unresolved::NoEndpoint(artifact.endpoint_index))?;
    let answer = state
        .backchannel
        .resolve(
            &Resolver {
                issuer: peer.me,
                key: &state.signing,
            },
            &Peer {
                entity_id: peer.entity_id,
                ars_url: &ars.location,
                certs: &peer.certs,
            },
            saml_art,
            Utc::now(),
        )
        .await
        .map_err(Unresolved::BackChannel)?;
    Ok(answer.message.unwrap_or_default())
}

/// A DV's AuthnRequest by artifact: resolved at the DV's ArtifactResolutionService and
/// verified. The DV is known from the artifact's SourceID.
pub(super) async fn resolve_dv_request(
    state: &AppState,
    saml_art: &str,
) -> Result<(Arc<SpMetadata>, AuthnRequest), LoginError> {
    let artifact = Artifact::decode(saml_art).map_err(|e| LoginError::BadMessage(e.to_string()))?;
    let dv = state
        .metadata()
        .sp_by_source_id(&artifact.source_id)
        .cloned();
    let dv = dv.ok_or_else(|| {
        LoginError::UnknownRequester("an artifact from an unknown SourceID".into())
    })?;
    let peer = Issuer::dv(state, &dv);
    let text = resolve_at(state, &peer, &artifact, saml_art)
        .await
        .map_err(|e| match e {
            Unresolved::NoEndpoint(i) => LoginError::Unverifiable(format!(
                "the requester's metadata has no ArtifactResolutionService with index {i}"
            )),
            Unresolved::BackChannel(e) => {
                LoginError::Unverifiable(format!("the artifact was not resolved: {e}"))
            }
        })?;
    let parsed = AuthnRequest::parse(&text).map_err(|e| LoginError::BadMessage(e.to_string()))?;
    // The signed ArtifactResponse vouches for the request; a signature of its own must hold too.
    let request = if parsed.has_signature {
        AuthnRequest::verify_enveloped(&text, &peer.certs)
            .map_err(|e| LoginError::Unverifiable(e.to_string()))?
    } else {
        parsed
    };
    if request.issuer != dv.entity_id {
        return Err(LoginError::Unverifiable(
            "the resolved AuthnRequest names another issuer".into(),
        ));
    }
    Ok((dv, request))
}

/// An AD's Response by artifact: resolved at the AD's ArtifactResolutionService. Returns the
/// AD and the Response, which the caller checks in full.
pub(super) async fn resolve_ad_response(
    state: &AppState,
    saml_art: &str,
) -> Result<(Arc<IdpMetadata>, String), LoginError> {
    let artifact = Artifact::decode(saml_art).map_err(|e| LoginError::BadMessage(e.to_string()))?;
    let ad = state
        .metadata()
        .idp_by_source_id(&artifact.source_id)
        .cloned();
    let ad = ad.ok_or_else(|| {
        LoginError::BadMessage("an artifact from an unknown identity provider".into())
    })?;
    let text = resolve_at(state, &Issuer::ad(state, &ad), &artifact, saml_art)
        .await
        .map_err(|e| match e {
            Unresolved::NoEndpoint(i) => LoginError::AdAnswerRejected(format!(
                "the identity provider's metadata has no ArtifactResolutionService with index {i}"
            )),
            Unresolved::BackChannel(e) if e.is_unavailable() => {
                LoginError::AdUnavailable(e.to_string())
            }
            Unresolved::BackChannel(e) => LoginError::AdAnswerRejected(e.to_string()),
        })?;
    Ok((ad, text))
}
