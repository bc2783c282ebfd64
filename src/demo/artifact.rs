//! The HTTP-Artifact binding for the demo peers (SAML Bindings 2.0 §3.6; afsprakenstelsel page
//! *Bindings*), built on the same primitives as poort's own: [`Artifact`], the signed
//! ArtifactResolve / ArtifactResponse of [`resolve`], the SOAP envelope of [`soap`] and the
//! [`BackChannel`].
//!
//! As **issuer**, a peer keeps each message it sends by artifact in an [`ArtifactStore`] and hands
//! it out at its ArtifactResolutionService ([`answer_resolve`]): once, for a short time, to poort
//! only, on an ArtifactResolve poort signed with the key in its metadata.
//!
//! As **resolver**, a peer resolves poort's artifact at the ArtifactResolutionService poort's
//! metadata names ([`resolve_at_poort`]); the message inside is then checked exactly as if it had
//! come by POST.

use super::{PageError, PeerKeys};
use crate::config::BackChannelConfig;
use crate::keys::SigningKey;
use crate::saml::artifact::Artifact;
use crate::saml::backchannel::{BackChannel, Peer, Resolver};
use crate::saml::{resolve, soap, xml};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use parking_lot::Mutex;
use std::collections::HashMap;

/// The `index` of each demo peer's one ArtifactResolutionService, and so the EndpointIndex of
/// the artifacts it issues.
pub const PEER_ARS_INDEX: u16 = 0;
/// How long an issued artifact can be resolved (SAML Core 2.0 §3.5.3: "the shortest practical
/// time"; poort resolves as soon as the browser arrives).
const ARTIFACT_LIFETIME_SECONDS: i64 = 60;
/// A used or expired artifact is remembered this long, so that a second resolution is logged as
/// such rather than as a guess.
const AFTERLIFE_SECONDS: i64 = 300;
/// Clock skew and age accepted for an ArtifactResolve's IssueInstant.
const SKEW_SECONDS: i64 = 60;
const MAX_AGE_SECONDS: i64 = 300;
/// A demo's bound on memory: beyond it the oldest artifacts are forgotten.
const MAX_ISSUED: usize = 10_000;

/// The back channel the demo peers resolve poort's artifacts over. Plain `http://` is allowed:
/// the demo peers and a local poort talk over http://localhost. Development only, like the
/// peers themselves; poort's own back channel refuses plain http unless configured to.
pub fn back_channel() -> Result<BackChannel, String> {
    crate::install_crypto_provider();
    BackChannel::new(&BackChannelConfig {
        allow_plain_http: true,
        ..Default::default()
    })
    .map_err(|e| e.to_string())
}

/// A message waiting to be resolved.
struct Issued {
    message: String,
    /// The only entity that may resolve it.
    recipient: String,
    expires_at: DateTime<Utc>,
}

/// Why an artifact was not handed out (logged; the requester gets an ArtifactResponse without
/// a message, as SAML Core 2.0 §3.5.3 prescribes, and learns nothing more).
///
/// Deliberately not the `Refusal` of poort's own ArtifactResolutionService, though the reasons
/// read alike: the demo peer is an independent issuer that poort's ArtifactResolve is tested
/// against.
#[derive(Debug, thiserror::Error)]
enum NotHandedOut {
    #[error("the artifact is malformed: {0}")]
    Malformed(String),
    #[error("the artifact's SourceID is not this peer's")]
    SourceId,
    #[error("the artifact's EndpointIndex {0} is not this peer's ArtifactResolutionService")]
    EndpointIndex(u16),
    #[error("the artifact is unknown")]
    Unknown,
    #[error("the artifact has already been resolved")]
    AlreadyResolved,
    #[error("the artifact has expired")]
    Expired,
    #[error("the artifact was issued to another entity")]
    OtherRecipient,
}

/// The messages a peer has sent by artifact, each resolvable once.
#[derive(Default)]
pub struct ArtifactStore {
    /// By [`Artifact::store_key`], which does not reveal the handle.
    issued: Mutex<HashMap<String, Issued>>,
    /// Resolved or expired artifacts, until they are forgotten.
    spent: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl ArtifactStore {
    /// Keeps `message` for `recipient` under a fresh artifact from `issuer` (this peer's entity
    /// ID); returns the `SAMLart` value.
    pub fn issue(&self, issuer: &str, message: String, recipient: &str) -> String {
        let artifact = Artifact::new(issuer, PEER_ARS_INDEX);
        let now = Utc::now();
        let mut issued = self.issued.lock();
        self.prune(&mut issued, now);
        if issued.len() >= MAX_ISSUED {
            // A demo: forget the oldest half rather than refuse to log anybody in.
            let mut by_age: Vec<_> = issued
                .iter()
                .map(|(k, v)| (v.expires_at, k.clone()))
                .collect();
            by_age.sort();
            for (_, k) in by_age.into_iter().take(MAX_ISSUED / 2) {
                issued.remove(&k);
            }
        }
        issued.insert(
            artifact.store_key(),
            Issued {
                message,
                recipient: recipient.to_string(),
                expires_at: now + Duration::seconds(ARTIFACT_LIFETIME_SECONDS),
            },
        );
        artifact.encode()
    }

    /// Moves expired artifacts to the spent list and forgets old spent ones.
    fn prune(&self, issued: &mut HashMap<String, Issued>, now: DateTime<Utc>) {
        let mut spent = self.spent.lock();
        issued.retain(|k, v| {
            let live = v.expires_at > now;
            if !live {
                spent.insert(k.clone(), v.expires_at);
            }
            live
        });
        spent.retain(|_, at| *at + Duration::seconds(AFTERLIFE_SECONDS) > now);
    }

    /// Takes the message behind `artifact` for `requester`, once.
    fn take(
        &self,
        me: &str,
        artifact: &str,
        requester: &str,
        now: DateTime<Utc>,
    ) -> Result<String, NotHandedOut> {
        let artifact =
            Artifact::decode(artifact).map_err(|e| NotHandedOut::Malformed(e.to_string()))?;
        if !artifact.is_from(me) {
            return Err(NotHandedOut::SourceId);
        }
        if artifact.endpoint_index != PEER_ARS_INDEX {
            return Err(NotHandedOut::EndpointIndex(artifact.endpoint_index));
        }
        let key = artifact.store_key();
        let mut issued = self.issued.lock();
        let Some(entry) = issued.get(&key) else {
            let spent = self.spent.lock().contains_key(&key);
            return Err(if spent {
                NotHandedOut::AlreadyResolved
            } else {
                NotHandedOut::Unknown
            });
        };
        if entry.recipient != requester {
            // Left in place: whoever guessed or stole it cannot spend it for poort.
            return Err(NotHandedOut::OtherRecipient);
        }
        let expired = entry.expires_at <= now;
        let taken = issued.remove(&key);
        self.spent.lock().insert(key, now);
        match taken {
            Some(_) if expired => Err(NotHandedOut::Expired),
            Some(entry) => Ok(entry.message),
            None => Err(NotHandedOut::Unknown),
        }
    }
}

/// Who answers at an ArtifactResolutionService, and whom it answers. (Alike in form only to
/// other structs of borrowed inputs, such as the metrics' `LoginEnd`: nothing to share.)
pub struct Ars<'a> {
    /// The peer's entity ID (the SourceID of its artifacts and the Issuer of its answers).
    pub me: &'a str,
    pub key: &'a SigningKey,
    /// Where the ArtifactResolutionService is, as its metadata says (the Destination to expect).
    pub url: &'a str,
    /// poort, the only requester: its entity ID in the role it resolves in (when known) and its
    /// signing certificates from its metadata.
    pub poort: &'a PeerKeys,
    pub store: &'a ArtifactStore,
}

/// A SOAP 1.1 Fault (HTTP 500, as SOAP 1.1 §6.2 wants): for a request that is not a readable,
/// verified ArtifactResolve from poort. The reason is for whoever reads the requester's log.
fn fault(me: &str, why: String) -> Response {
    tracing::warn!(peer = %me, "artifact resolution refused: {why}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, soap::CONTENT_TYPE)],
        soap::fault(true, &why),
    )
        .into_response()
}

/// A SOAP 1.1 Fault for a problem on this side (poort's metadata could not be fetched).
pub fn server_fault(me: &str, why: &str) -> Response {
    tracing::warn!(peer = %me, "artifact resolution failed: {why}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, soap::CONTENT_TYPE)],
        soap::fault(false, why),
    )
        .into_response()
}

/// `POST /ars`: answers poort's ArtifactResolve. A request that is not poort's, signed with
/// poort's metadata key, addressed here and fresh gets a SOAP Fault; for an artifact that is
/// not (or no longer) here the signed ArtifactResponse holds no message.
pub fn answer_resolve(ars: &Ars<'_>, body: &[u8], now: DateTime<Utc>) -> Response {
    let text = match xml::utf8(body) {
        Ok(t) => t,
        Err(e) => return fault(ars.me, e.to_string()),
    };
    let request = match soap::body(text) {
        Ok(r) => r,
        Err(e) => return fault(ars.me, e.to_string()),
    };
    let claimed = match resolve::claimed_issuer(&request) {
        Ok(i) => i,
        Err(e) => return fault(ars.me, e.to_string()),
    };
    // Only poort may resolve: by its entity ID when known, and always by its key.
    if ars.poort.entity_id.as_ref().is_some_and(|p| *p != claimed) {
        return fault(
            ars.me,
            format!("{claimed} may not resolve artifacts here; only poort may"),
        );
    }
    if ars.poort.signing_certs.is_empty() {
        return fault(ars.me, "poort's signing key is not known".into());
    }
    let verified = match resolve::verify_artifact_resolve(&request, &ars.poort.signing_certs) {
        Ok(r) if r.issuer == claimed => r,
        Ok(_) => {
            return fault(
                ars.me,
                "the signed Issuer differs from the claimed one".into(),
            )
        }
        Err(e) => {
            return fault(
                ars.me,
                format!("the ArtifactResolve is not validly signed by poort: {e}"),
            )
        }
    };
    if verified
        .destination
        .as_deref()
        .is_some_and(|d| d != ars.url)
    {
        return fault(
            ars.me,
            "the ArtifactResolve's Destination is not this ArtifactResolutionService".into(),
        );
    }
    let skew = Duration::seconds(SKEW_SECONDS);
    if verified.issue_instant > now + skew
        || verified.issue_instant + Duration::seconds(MAX_AGE_SECONDS) + skew < now
    {
        return fault(
            ars.me,
            "the ArtifactResolve's IssueInstant is outside the accepted window".into(),
        );
    }
    let message = match ars
        .store
        .take(ars.me, &verified.artifact, &verified.issuer, now)
    {
        Ok(m) => {
            tracing::info!(peer = %ars.me, requester = %verified.issuer, "artifact resolved");
            Some(m)
        }
        Err(why) => {
            tracing::warn!(peer = %ars.me, requester = %verified.issuer, "artifact not handed out: {why}");
            None
        }
    };
    match resolve::artifact_response(ars.me, &verified.id, message.as_deref(), now, ars.key) {
        Ok(answer) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, soap::CONTENT_TYPE)],
            soap::envelope(&answer),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(peer = %ars.me, "cannot sign the ArtifactResponse: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, soap::CONTENT_TYPE)],
                soap::fault(false, "cannot sign the ArtifactResponse"),
            )
                .into_response()
        }
    }
}

/// Resolves poort's artifact (`SAMLart`) at the ArtifactResolutionService poort's metadata
/// names for its EndpointIndex, as `me` with `key`; returns the one message, verified as part
/// of poort's signed ArtifactResponse. The caller checks the message in full.
pub async fn resolve_at_poort(
    backchannel: &Result<BackChannel, String>,
    me: &str,
    key: &SigningKey,
    poort: &PeerKeys,
    saml_art: &str,
) -> Result<String, PageError> {
    let artifact = Artifact::decode(saml_art)
        .map_err(|e| PageError::bad_request(format!("SAMLart is not a SAML artifact: {e}")))?;
    let poort_id = poort.entity_id.as_deref().ok_or_else(|| {
        PageError::new(
            StatusCode::BAD_GATEWAY,
            "poort's entity ID is not known (its metadata names none)",
        )
    })?;
    if !artifact.is_from(poort_id) {
        return Err(PageError::bad_request(
            "the artifact is not poort's (its SourceID names another issuer)",
        ));
    }
    let ars = poort
        .ars_location(artifact.endpoint_index)
        .ok_or_else(|| {
            PageError::bad_request(format!(
                "the artifact's EndpointIndex {} names no ArtifactResolutionService in poort's metadata",
                artifact.endpoint_index
            ))
        })?;
    let channel = backchannel
        .as_ref()
        .map_err(|e| PageError::internal(format!("the back channel is not available: {e}")))?;
    let resolver = Resolver { issuer: me, key };
    let peer = Peer {
        entity_id: poort_id,
        ars_url: ars,
        certs: &poort.signing_certs,
    };
    match channel
        .resolve(&resolver, &peer, saml_art, Utc::now())
        .await
    {
        Ok(answer) => {
            let message = answer.message.ok_or_else(|| {
                PageError::forbidden("poort's ArtifactResponse holds no message for this artifact")
            })?;
            match refusal_in(&message, &answer.in_response_to) {
                Some(why) => Err(PageError::forbidden(format!(
                    "poort did not hand out the artifact: {why}"
                ))),
                None => Ok(message),
            }
        }
        Err(e) if e.is_unavailable() => Err(PageError::new(
            StatusCode::BAD_GATEWAY,
            format!("cannot resolve the artifact at poort: {e}"),
        )),
        Err(e) => Err(PageError::forbidden(format!(
            "cannot resolve the artifact at poort: {e}"
        ))),
    }
}

/// poort answers an artifact it will not hand out with an error Response inside its signed
/// ArtifactResponse, addressed to the ArtifactResolve itself (`InResponseTo` = its ID), as the
/// afsprakenstelsel prefers over an empty answer. Told apart from a real answer (which answers
/// the AuthnRequest), so the person sees poort's reason, not a confusing Destination error.
fn refusal_in(message: &str, resolve_id: &str) -> Option<String> {
    let doc = xml::parse(message).ok()?;
    let root = doc.root_element();
    if !xml::is(root, xml::NS_SAMLP, "Response")
        || root.attribute("InResponseTo") != Some(resolve_id)
    {
        return None;
    }
    let status = xml::child(root, xml::NS_SAMLP, "Status")?;
    let code = xml::child(status, xml::NS_SAMLP, "StatusCode")?.attribute("Value")?;
    if code == crate::saml::idp::STATUS_SUCCESS {
        return None;
    }
    Some(
        xml::child(status, xml::NS_SAMLP, "StatusMessage")
            .map(xml::text)
            .unwrap_or_else(|| code.to_string()),
    )
}

/// `endpoint?SAMLart=…[&RelayState=…]`, the artifact by HTTP GET ([`crate::saml::artifact::url`]).
pub fn artifact_url(
    endpoint: &str,
    saml_art: &str,
    relay_state: Option<&str>,
) -> Result<String, PageError> {
    crate::saml::artifact::url(endpoint, saml_art, relay_state)
        .map_err(|e| PageError::internal(format!("{endpoint:?} is not a URL: {e}")))
}

/// The value of `name` in a query or form, at most once: a parameter given twice is refused,
/// as is a value longer than `max`.
pub fn single(
    params: &[(String, String)],
    name: &str,
    max: usize,
) -> Result<Option<String>, PageError> {
    match crate::saml::artifact::single(params, name) {
        Err(e) => Err(PageError::bad_request(e.to_string())),
        Ok(Some(v)) if v.len() > max => Err(PageError::bad_request(format!("{name} is too long"))),
        Ok(v) => Ok(v.map(str::to_string)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_artifact_once_to_its_recipient_only() {
        let store = ArtifactStore::default();
        let now = Utc::now();
        let art = store.issue("urn:me", "<m/>".into(), "urn:poort");
        assert!(matches!(
            store.take("urn:me", &art, "urn:other", now),
            Err(NotHandedOut::OtherRecipient)
        ));
        assert_eq!(
            store.take("urn:me", &art, "urn:poort", now).unwrap(),
            "<m/>"
        );
        assert!(matches!(
            store.take("urn:me", &art, "urn:poort", now),
            Err(NotHandedOut::AlreadyResolved)
        ));
        let foreign = Artifact::new("urn:someone-else", PEER_ARS_INDEX).encode();
        assert!(matches!(
            store.take("urn:me", &foreign, "urn:poort", now),
            Err(NotHandedOut::SourceId)
        ));
        let index = Artifact::new("urn:me", 3).encode();
        assert!(matches!(
            store.take("urn:me", &index, "urn:poort", now),
            Err(NotHandedOut::EndpointIndex(3))
        ));
        let unknown = Artifact::new("urn:me", PEER_ARS_INDEX).encode();
        assert!(matches!(
            store.take("urn:me", &unknown, "urn:poort", now),
            Err(NotHandedOut::Unknown)
        ));
        assert!(matches!(
            store.take("urn:me", "garbage!", "urn:poort", now),
            Err(NotHandedOut::Malformed(_))
        ));
        let late = store.issue("urn:me", "<m/>".into(), "urn:poort");
        let later = now + Duration::seconds(ARTIFACT_LIFETIME_SECONDS + 1);
        assert!(matches!(
            store.take("urn:me", &late, "urn:poort", later),
            Err(NotHandedOut::Expired)
        ));
    }

    #[test]
    fn poorts_refusal_is_told_apart_from_an_answer() {
        let refusal = resolve::error_response(
            "urn:poort",
            Some("_resolve"),
            crate::saml::idp::STATUS_REQUESTER,
            crate::saml::idp::STATUS_REQUEST_DENIED,
            "the artifact is unknown (artifact_unknown)",
            Utc::now(),
        );
        assert_eq!(
            refusal_in(&refusal, "_resolve").as_deref(),
            Some("the artifact is unknown (artifact_unknown)")
        );
        // An error Response for the DV's own request is an answer, shown as such.
        assert_eq!(refusal_in(&refusal, "_other"), None);
        assert_eq!(refusal_in("<samlp:AuthnRequest/>", "_resolve"), None);
        assert_eq!(refusal_in("not xml", "_resolve"), None);
    }

    #[test]
    fn artifact_urls_and_single_parameters() {
        assert_eq!(
            artifact_url("http://x/acs?a=1", "AA+/=", Some("r s")).unwrap(),
            "http://x/acs?a=1&SAMLart=AA%2B%2F%3D&RelayState=r+s"
        );
        assert!(artifact_url("not a url", "x", None).is_err());
        let params = vec![
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
            ("b".to_string(), "3".to_string()),
        ];
        assert_eq!(single(&params, "a", 10).unwrap().as_deref(), Some("1"));
        assert_eq!(single(&params, "c", 10).unwrap(), None);
        assert!(single(&params, "b", 10).is_err());
        assert!(single(&params, "a", 0).is_err());
    }
}
