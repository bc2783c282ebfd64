//! The demo service provider ("demo DV"): starts logins at poort and shows what comes back.
//!
//! Routes: `GET /` (services),
//! `GET /login?service=1&binding=artifact|redirect|post&level=..&force=1`,
//! `POST /acs` (a Response by HTTP-POST, or `SAMLart`), `GET /acs?SAMLart=…&RelayState=…` (the
//! HTTP-Artifact binding by GET), both with a JSON outcome for `?format=json` or
//! `Accept: application/json`; `POST /ars` (the DV's ArtifactResolutionService, SOAP), and
//! `GET /metadata`.
//!
//! With [`DemoBindings::Artifact`] the DV follows the afsprakenstelsel's flow (page *Bindings*):
//! its AuthnRequest goes by artifact, which poort resolves at `/ars`, and its metadata asks for
//! the answer by artifact, which the DV resolves at poort's ArtifactResolutionService (both
//! endpoints from poort's metadata).
//!
//! The Response check is deliberately small, but fails closed: poort's signature (on the
//! Response, the Assertion, or both) is required, the identity is read only from signed bytes,
//! and Destination, InResponseTo, Recipient, Audience and the time window must hold.
//!
//! This file holds the DV itself: its keys, its metadata, poort's metadata (fetched once, at
//! the URL it is given), the AuthnRequests it sends and the entry points of the ACS. The Response
//! checks are in `verify.rs`, the routes and pages in `pages.rs`.

mod logout;
mod pages;
mod verify;

pub use pages::router;
pub use verify::{AcsError, AcsOutcome};

use super::artifact::{self, ArtifactStore};
use super::{metadata, DemoBindings, DemoError, PageError, PeerKeys};
use crate::domain::level::Level;
use crate::keys::SigningKey;
use crate::saml::backchannel::BackChannel;
use crate::saml::protocol::ProtocolMessage;
use crate::saml::xml;
use chrono::{DateTime, Duration, Utc};
use openssl::pkey::{PKey, Private};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;

/// A request the DV sent and still waits for.
#[derive(Debug, Clone)]
struct Sent {
    service_index: u16,
    created: DateTime<Utc>,
}

const SENT_LIFETIME_MINUTES: i64 = 30;
const MAX_SENT: usize = 10_000;

/// The demo DV.
pub struct DemoDv {
    pub entity_id: String,
    pub base_url: String,
    pub poort_base_url: String,
    key: SigningKey,
    encryption_key: PKey<Private>,
    encryption_cert_der: Option<Vec<u8>>,
    /// poort's keys and endpoints: known from construction, or fetched from
    /// `poort_metadata_url` when first needed.
    poort: RwLock<Option<PeerKeys>>,
    poort_metadata_url: String,
    sent: Mutex<HashMap<String, Sent>>,
    counter: AtomicU64,
    pub clock_skew: Duration,
    bindings: DemoBindings,
    /// The AuthnRequests sent by artifact, until poort resolves them.
    artifacts: ArtifactStore,
    /// To resolve poort's artifacts; an error (kept, shown when an artifact comes) if the TLS
    /// client could not be made.
    backchannel: Result<BackChannel, String>,
}

impl DemoDv {
    /// `poort_base_url`: where browsers reach poort. `poort_cert_der`: poort's IdP signing
    /// certificate; without it, it is fetched once from poort's metadata, at
    /// `{poort_base_url}/saml/metadata` unless [`DemoDv::with_poort_metadata_url`] says otherwise
    /// (http:// only).
    pub fn new(
        entity_id: impl Into<String>,
        dv_base_url: impl Into<String>,
        poort_base_url: impl Into<String>,
        signing: SigningKey,
        encryption_key: PKey<Private>,
        poort_cert_der: Option<Vec<u8>>,
    ) -> DemoDv {
        let poort_base_url = poort_base_url.into().trim_end_matches('/').to_string();
        DemoDv {
            entity_id: entity_id.into(),
            base_url: dv_base_url.into().trim_end_matches('/').to_string(),
            poort_metadata_url: format!("{poort_base_url}/saml/metadata"),
            poort_base_url,
            key: signing,
            encryption_key,
            encryption_cert_der: None,
            poort: RwLock::new(poort_cert_der.map(|c| PeerKeys {
                signing_certs: vec![c],
                ..PeerKeys::default()
            })),
            sent: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
            clock_skew: Duration::seconds(60),
            bindings: DemoBindings::PostRedirect,
            artifacts: ArtifactStore::default(),
            backchannel: artifact::back_channel(),
        }
    }

    /// The bindings the DV speaks; they must match the metadata poort has for it.
    pub fn with_bindings(mut self, bindings: DemoBindings) -> DemoDv {
        self.bindings = bindings;
        self
    }

    /// Fetch poort's IdP metadata from `url` instead of `{poort_base_url}/saml/metadata`: for a
    /// DV that reaches poort at another address than browsers do.
    pub fn with_poort_metadata_url(mut self, url: impl Into<String>) -> DemoDv {
        self.poort_metadata_url = url.into();
        self
    }

    /// The certificate of the encryption key, for the metadata served at `/metadata`.
    pub fn with_encryption_cert(mut self, cert_der: Vec<u8>) -> DemoDv {
        self.encryption_cert_der = Some(cert_der);
        self
    }

    /// poort's IdP entity ID: when known, the Response and Assertion Issuer must equal it (it is
    /// also learned from poort's metadata when that is fetched).
    pub fn with_poort_entity_id(self, entity_id: impl Into<String>) -> DemoDv {
        {
            let mut poort = self.poort.write();
            poort.get_or_insert_with(PeerKeys::default).entity_id = Some(entity_id.into());
        }
        self
    }

    pub fn acs_url(&self) -> String {
        format!("{}/acs", self.base_url)
    }

    /// The DV's ArtifactResolutionService, where poort resolves its AuthnRequests.
    pub fn ars_url(&self) -> String {
        format!("{}/ars", self.base_url)
    }

    /// The DV's SingleLogoutService, where poort answers its LogoutRequests.
    pub fn slo_url(&self) -> String {
        format!("{}/slo", self.base_url)
    }

    /// poort's SingleLogoutService, where the DV sends its LogoutRequest.
    pub fn poort_slo_url(&self) -> String {
        format!("{}/saml/slo", self.poort_base_url)
    }

    pub fn poort_sso_url(&self) -> String {
        format!("{}/saml/sso", self.poort_base_url)
    }

    pub fn metadata(&self) -> String {
        let ars = (self.bindings == DemoBindings::Artifact).then(|| self.ars_url());
        metadata::dv_metadata(
            &self.entity_id,
            &self.acs_url(),
            ars.as_deref(),
            Some(&self.slo_url()),
            &self.key.cert_der,
            self.encryption_cert_der.as_deref(),
            &metadata::demo_services(),
        )
    }

    async fn poort_keys(&self) -> Result<PeerKeys, PageError> {
        self.poort_metadata(false).await
    }

    /// poort's keys, and with `endpoints` also its SingleSignOnService and
    /// ArtifactResolutionService: known from construction, else fetched from
    /// `poort_metadata_url` and kept (also when only the certificate was given and endpoints are
    /// needed).
    async fn poort_metadata(&self, endpoints: bool) -> Result<PeerKeys, PageError> {
        let known = self.poort.read().clone();
        if let Some(keys) = known.as_ref().filter(|k| k.suffice(endpoints)) {
            return Ok(keys.clone());
        }
        let mut fetched =
            super::fetch_poort_metadata(&self.poort_metadata_url, "IDPSSODescriptor").await?;
        if let Some(id) = known.and_then(|k| k.entity_id) {
            fetched.entity_id = Some(id);
        }
        *self.poort.write() = Some(fetched.clone());
        Ok(fetched)
    }

    /// Writes an AuthnRequest for service `index` and remembers its ID. With `sign`, it carries
    /// an enveloped signature (HTTP-POST binding).
    pub fn authn_request(
        &self,
        index: u16,
        level: Option<Level>,
        force_authn: bool,
        sign: bool,
    ) -> Result<(String, String), DemoError> {
        self.authn_request_to(&self.poort_sso_url(), index, level, force_authn, sign)
    }

    /// [`DemoDv::authn_request`] with `destination` as its Destination (the SingleSignOnService
    /// it goes to).
    fn authn_request_to(
        &self,
        destination: &str,
        index: u16,
        level: Option<Level>,
        force_authn: bool,
        sign: bool,
    ) -> Result<(String, String), DemoError> {
        let id = xml::new_id();
        let context = level
            .map(|l| {
                format!(
                    r#"<samlp:RequestedAuthnContext Comparison="minimum"><saml:AuthnContextClassRef>{}</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>"#,
                    l.uri()
                )
            })
            .unwrap_or_default();
        let index_text = index.to_string();
        let mut attributes = vec![
            ("Destination", destination),
            ("AssertionConsumerServiceIndex", "0"),
            ("AttributeConsumingServiceIndex", &index_text),
        ];
        if force_authn {
            attributes.push(("ForceAuthn", "true"));
        }
        let request = ProtocolMessage {
            name: "AuthnRequest",
            id: &id,
            issue_instant: Utc::now(),
            attributes: &attributes,
            issuer: &self.entity_id,
            content: &context,
        }
        .write(sign.then_some(&self.key))?;
        let now = Utc::now();
        let mut sent = self.sent.lock();
        sent.retain(|_, s| now - s.created < Duration::minutes(SENT_LIFETIME_MINUTES));
        if sent.len() >= MAX_SENT {
            // A demo: forget the oldest half rather than refuse.
            let mut by_age: Vec<_> = sent.iter().map(|(k, v)| (v.created, k.clone())).collect();
            by_age.sort();
            for (_, k) in by_age.into_iter().take(MAX_SENT / 2) {
                sent.remove(&k);
            }
        }
        sent.insert(
            id.clone(),
            Sent {
                service_index: index,
                created: now,
            },
        );
        Ok((id, request))
    }

    /// Checks a Response (the decoded XML) and, if it holds, forgets its request.
    pub async fn check(
        &self,
        text: &str,
        relay_state: Option<String>,
    ) -> Result<AcsOutcome, PageError> {
        let keys = self.poort_keys().await?;
        let mut outcome = self
            .verify(text, &keys, Utc::now())
            .map_err(|e| PageError::forbidden(format!("Response refused: {e}")))?;
        outcome.relay_state = relay_state;
        self.sent.lock().remove(&outcome.in_response_to);
        Ok(outcome)
    }

    /// Resolves poort's artifact at poort's ArtifactResolutionService and checks the Response
    /// in it exactly as one that came by HTTP-POST.
    pub async fn check_artifact(
        &self,
        saml_art: &str,
        relay_state: Option<String>,
    ) -> Result<AcsOutcome, PageError> {
        let keys = self.poort_metadata(true).await?;
        let message = artifact::resolve_at_poort(
            &self.backchannel,
            &self.entity_id,
            &self.key,
            &keys,
            saml_art,
        )
        .await?;
        self.check(&message, relay_state).await
    }
}
