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

use super::artifact::{self, artifact_url, single, ArtifactStore};
use super::{
    auto_post, metadata, page, parse_form, parse_peer_metadata, DemoBindings, DemoError, PageError,
    PeerKeys, DEMO_SERVICES,
};
use crate::keys::SigningKey;
use crate::level::Level;
use crate::saml::backchannel::BackChannel;
use crate::saml::binding;
use crate::saml::dsig::{self, DsigError};
use crate::saml::encrypt::{self, EncryptError};
use crate::saml::idp::{
    ATTR_ACTING_SUBJECT_ID, ATTR_COMPANY_NAME, ATTR_LEGAL_SUBJECT_ID, ATTR_SERVICE_ID,
    ATTR_SERVICE_UUID, STATUS_SUCCESS,
};
use crate::saml::xml::{self, escape, instant, BINDING_ARTIFACT, NS_DS, NS_SAML, NS_SAMLP};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use openssl::pkey::{PKey, Private};
use parking_lot::{Mutex, RwLock};
use roxmltree::Node;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Why the demo DV refused a Response.
#[derive(Debug, thiserror::Error)]
pub enum AcsError {
    #[error(transparent)]
    Xml(#[from] xml::XmlError),
    #[error("the message is not a SAML 2.0 Response")]
    NotResponse,
    #[error("the Response has no {0}")]
    Missing(&'static str),
    #[error("Destination {0:?} is not this DV's ACS")]
    Destination(Option<String>),
    #[error("InResponseTo {0:?} is not a request this DV sent (or it was answered already)")]
    InResponseTo(Option<String>),
    #[error("Issuer {0:?} is not poort")]
    Issuer(String),
    #[error("the Response is not signed by poort")]
    Unsigned,
    #[error("signature: {0}")]
    Signature(#[from] DsigError),
    #[error("encrypted content: {0}")]
    Encryption(#[from] EncryptError),
    #[error("the Response must hold exactly one assertion, directly under it")]
    AssertionCount,
    #[error("a signature sits where none is allowed")]
    StraySignature,
    #[error("no bearer SubjectConfirmation for this DV's ACS and request")]
    SubjectConfirmation,
    #[error("Audience does not name this DV")]
    Audience,
    #[error("the assertion is not yet valid")]
    NotYetValid,
    #[error("the assertion has expired")]
    Expired,
    #[error("{0} is not a valid time")]
    Time(&'static str),
}

/// What the demo DV learned from a Response (shown as a page, or as JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcsOutcome {
    pub success: bool,
    /// Top-level status code, and the second-level one if any.
    pub status: String,
    pub second_status: Option<String>,
    pub status_message: Option<String>,
    pub issuer: Option<String>,
    pub in_response_to: String,
    pub relay_state: Option<String>,
    /// The AttributeConsumingServiceIndex of the request this answers.
    pub service_index: Option<u16>,
    /// The Subject's NameID (decrypted if it was an EncryptedID).
    pub name_id: Option<String>,
    pub acting_subject_id: Option<String>,
    pub legal_subject_id: Option<String>,
    pub company_name: Option<String>,
    pub service_id: Option<String>,
    pub service_uuid: Option<String>,
    /// The AuthnContextClassRef.
    pub level: Option<String>,
    pub authenticating_authority: Vec<String>,
    /// Every attribute, by name (NameID and EncryptedID values as their text).
    pub attributes: BTreeMap<String, Vec<String>>,
    pub response_signed: bool,
    pub assertion_signed: bool,
    pub assertion_encrypted: bool,
}

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
    poort: RwLock<Option<PeerKeys>>,
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
    /// `poort_cert_der`: poort's IdP signing certificate; without it, it is fetched once from
    /// `{poort_base_url}/saml/metadata` (http:// only).
    pub fn new(
        entity_id: impl Into<String>,
        dv_base_url: impl Into<String>,
        poort_base_url: impl Into<String>,
        signing: SigningKey,
        encryption_key: PKey<Private>,
        poort_cert_der: Option<Vec<u8>>,
    ) -> DemoDv {
        DemoDv {
            entity_id: entity_id.into(),
            base_url: dv_base_url.into().trim_end_matches('/').to_string(),
            poort_base_url: poort_base_url.into().trim_end_matches('/').to_string(),
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

    pub fn poort_sso_url(&self) -> String {
        format!("{}/saml/sso", self.poort_base_url)
    }

    pub fn metadata(&self) -> String {
        let services = metadata::demo_services();
        let enc = self.encryption_cert_der.as_deref();
        match self.bindings {
            DemoBindings::PostRedirect => metadata::demo_dv_metadata(
                &self.entity_id,
                &self.acs_url(),
                &self.key.cert_der,
                enc,
                &services,
            ),
            DemoBindings::Artifact => metadata::demo_dv_artifact_metadata(
                &self.entity_id,
                &self.acs_url(),
                &self.ars_url(),
                &self.key.cert_der,
                enc,
                &services,
            ),
        }
    }

    async fn poort_keys(&self) -> Result<PeerKeys, PageError> {
        self.poort_metadata(false).await
    }

    /// poort's keys, and with `endpoints` also its SingleSignOnService and
    /// ArtifactResolutionService: known from construction, else fetched once from
    /// `{poort}/saml/metadata` (also when only the certificate was given and endpoints are
    /// needed).
    async fn poort_metadata(&self, endpoints: bool) -> Result<PeerKeys, PageError> {
        let known = self.poort.read().clone();
        if let Some(keys) = known.as_ref().filter(|k| {
            !k.signing_certs.is_empty() && (!endpoints || !k.artifact_resolution.is_empty())
        }) {
            return Ok(keys.clone());
        }
        let url = format!("{}/saml/metadata", self.poort_base_url);
        let gateway = |e: DemoError| PageError::new(StatusCode::BAD_GATEWAY, e.to_string());
        let text = super::http_get(&url).await.map_err(gateway)?;
        let mut fetched = parse_peer_metadata(&text, "IDPSSODescriptor").map_err(gateway)?;
        if fetched.signing_certs.is_empty() {
            return Err(gateway(DemoError::NoCertificate(url)));
        }
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
        let request = format!(
            concat!(
                r#"<samlp:AuthnRequest xmlns:samlp="{samlp}" xmlns:saml="{saml}" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{dest}" AssertionConsumerServiceIndex="0" AttributeConsumingServiceIndex="{index}"{force}>"#,
                r#"<saml:Issuer>{issuer}</saml:Issuer>{sig}{context}</samlp:AuthnRequest>"#
            ),
            samlp = NS_SAMLP,
            saml = NS_SAML,
            id = id,
            now = instant(Utc::now()),
            dest = escape(destination),
            index = index,
            force = if force_authn {
                r#" ForceAuthn="true""#
            } else {
                ""
            },
            issuer = escape(&self.entity_id),
            sig = if sign {
                dsig::template(&id, &self.key)
            } else {
                String::new()
            },
            context = context,
        );
        let request = if sign {
            dsig::sign(&request, &self.key)?
        } else {
            request
        };
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

    /// The checks, without side effects.
    pub fn verify(
        &self,
        text: &str,
        poort: &PeerKeys,
        now: DateTime<Utc>,
    ) -> Result<AcsOutcome, AcsError> {
        let certs = &poort.signing_certs;
        let doc = xml::parse(text)?;
        let root = doc.root_element();
        if !xml::is(root, NS_SAMLP, "Response") || root.attribute("Version") != Some("2.0") {
            return Err(AcsError::NotResponse);
        }
        let response_id = root.attribute("ID").ok_or(AcsError::Missing("ID"))?;
        let acs = self.acs_url();
        let destination = root.attribute("Destination");
        if destination != Some(acs.as_str()) && destination != Some(&format!("{acs}?alt=1")) {
            return Err(AcsError::Destination(destination.map(str::to_string)));
        }
        let irt = root.attribute("InResponseTo");
        let service_index = irt
            .and_then(|id| self.sent.lock().get(id).map(|s| s.service_index))
            .ok_or_else(|| AcsError::InResponseTo(irt.map(str::to_string)))?;
        let irt = irt.unwrap_or_default().to_string();

        // Shape: at most one (encrypted) assertion, directly under the Response; signatures only
        // directly under the Response or that assertion, each referencing its parent.
        let assertions: Vec<Node> = doc.descendants().filter(|n| is_assertion(*n)).collect();
        if assertions.len() > 1 || assertions.iter().any(|a| a.parent() != Some(root)) {
            return Err(AcsError::AssertionCount);
        }
        for sig in doc
            .descendants()
            .filter(|n| xml::is(*n, NS_DS, "Signature"))
        {
            let parent = sig.parent().ok_or(AcsError::StraySignature)?;
            if parent != root && Some(&parent) != assertions.first() {
                return Err(AcsError::StraySignature);
            }
            dsig::check_shape(sig, parent.attribute("ID").ok_or(AcsError::Missing("ID"))?)?;
        }
        let response_signed = xml::child(root, NS_DS, "Signature").is_some();

        // From here on, read the Response from the signed bytes if it is signed.
        let signed_response = if response_signed {
            let signed = dsig::verify(text, certs)?;
            let signed_doc = xml::parse(&signed)?;
            let r = signed_doc.root_element();
            if !xml::is(r, NS_SAMLP, "Response") || r.attribute("ID") != Some(response_id) {
                return Err(AcsError::Signature(DsigError::Reference));
            }
            signed
        } else {
            text.to_string()
        };
        let rdoc = xml::parse(&signed_response)?;
        let rroot = rdoc.root_element();
        let mut outcome = AcsOutcome {
            in_response_to: irt.clone(),
            service_index: Some(service_index),
            response_signed,
            issuer: xml::child(rroot, NS_SAML, "Issuer").map(xml::text),
            ..AcsOutcome::default()
        };
        if let (Some(issuer), Some(expected)) = (&outcome.issuer, &poort.entity_id) {
            if issuer != expected {
                return Err(AcsError::Issuer(issuer.clone()));
            }
        }
        let status = xml::child(rroot, NS_SAMLP, "Status").ok_or(AcsError::Missing("Status"))?;
        let top =
            xml::child(status, NS_SAMLP, "StatusCode").ok_or(AcsError::Missing("StatusCode"))?;
        outcome.status = top.attribute("Value").unwrap_or_default().to_string();
        outcome.second_status = xml::child(top, NS_SAMLP, "StatusCode")
            .and_then(|c| c.attribute("Value"))
            .map(str::to_string);
        outcome.status_message = xml::child(status, NS_SAMLP, "StatusMessage").map(xml::text);
        if outcome.status != STATUS_SUCCESS {
            // An error carries no identity, but must still come from poort.
            if !response_signed {
                return Err(AcsError::Unsigned);
            }
            return Ok(outcome);
        }

        let inner = rroot
            .children()
            .find(|n| is_assertion(*n))
            .ok_or(AcsError::AssertionCount)?;
        if xml::is(inner, NS_SAML, "EncryptedAssertion") {
            outcome.assertion_encrypted = true;
            let plain = encrypt::decrypt_assertion(inner, &self.encryption_key)?;
            let plain_doc = xml::parse(&plain)?;
            let trusted = if xml::child(plain_doc.root_element(), NS_DS, "Signature").is_some() {
                outcome.assertion_signed = true;
                verify_standalone(&plain, certs)?
            } else if response_signed {
                plain
            } else {
                return Err(AcsError::Unsigned);
            };
            let adoc = xml::parse(&trusted)?;
            self.read_assertion(adoc.root_element(), &irt, poort, now, &mut outcome)?;
        } else if response_signed {
            // The signed Response covers the assertion (and dsig::verify checked its own
            // signature too, if it has one).
            outcome.assertion_signed = xml::child(inner, NS_DS, "Signature").is_some();
            self.read_assertion(inner, &irt, poort, now, &mut outcome)?;
        } else {
            let envelope_assertion = assertions.first().ok_or(AcsError::AssertionCount)?;
            if xml::child(*envelope_assertion, NS_DS, "Signature").is_none() {
                return Err(AcsError::Unsigned);
            }
            outcome.assertion_signed = true;
            let signed = dsig::verify(text, certs)?;
            let adoc = xml::parse(&signed)?;
            let a = adoc.root_element();
            if !xml::is(a, NS_SAML, "Assertion")
                || a.attribute("ID") != envelope_assertion.attribute("ID")
            {
                return Err(AcsError::Signature(DsigError::Reference));
            }
            self.read_assertion(a, &irt, poort, now, &mut outcome)?;
        }
        outcome.success = true;
        Ok(outcome)
    }

    /// Checks a trusted assertion and copies what it says into `out`.
    fn read_assertion(
        &self,
        a: Node<'_, '_>,
        irt: &str,
        poort: &PeerKeys,
        now: DateTime<Utc>,
        out: &mut AcsOutcome,
    ) -> Result<(), AcsError> {
        let skew = self.clock_skew;
        if !xml::is(a, NS_SAML, "Assertion") {
            return Err(AcsError::AssertionCount);
        }
        let issuer = xml::child(a, NS_SAML, "Issuer")
            .map(xml::text)
            .ok_or(AcsError::Missing("Assertion Issuer"))?;
        if poort.entity_id.as_ref().is_some_and(|e| *e != issuer) {
            return Err(AcsError::Issuer(issuer));
        }
        let subject = xml::child(a, NS_SAML, "Subject").ok_or(AcsError::Missing("Subject"))?;
        out.name_id = self.identifier(subject)?;

        let acs = self.acs_url();
        let confirmed = xml::children(subject, NS_SAML, "SubjectConfirmation")
            .filter(|sc| sc.attribute("Method") == Some("urn:oasis:names:tc:SAML:2.0:cm:bearer"))
            .filter_map(|sc| xml::child(sc, NS_SAML, "SubjectConfirmationData"))
            .any(|d| {
                let recipient = d.attribute("Recipient");
                (recipient == Some(acs.as_str()) || recipient == Some(&format!("{acs}?alt=1")))
                    && d.attribute("InResponseTo") == Some(irt)
                    && d.attribute("NotOnOrAfter")
                        .and_then(xml::parse_instant)
                        .is_some_and(|t| now < t + skew)
            });
        if !confirmed {
            return Err(AcsError::SubjectConfirmation);
        }

        let conditions =
            xml::child(a, NS_SAML, "Conditions").ok_or(AcsError::Missing("Conditions"))?;
        if time(conditions, "NotBefore")?.is_some_and(|t| now + skew < t) {
            return Err(AcsError::NotYetValid);
        }
        match time(conditions, "NotOnOrAfter")? {
            Some(t) if now < t + skew => {}
            Some(_) => return Err(AcsError::Expired),
            None => return Err(AcsError::Missing("Conditions NotOnOrAfter")),
        }
        let restrictions: Vec<_> =
            xml::children(conditions, NS_SAML, "AudienceRestriction").collect();
        if restrictions.is_empty()
            || !restrictions.iter().all(|r| {
                xml::children(*r, NS_SAML, "Audience").any(|x| xml::text(x) == self.entity_id)
            })
        {
            return Err(AcsError::Audience);
        }

        if let Some(context) = xml::child(a, NS_SAML, "AuthnStatement")
            .and_then(|s| xml::child(s, NS_SAML, "AuthnContext"))
        {
            out.level = xml::child(context, NS_SAML, "AuthnContextClassRef").map(xml::text);
            out.authenticating_authority =
                xml::children(context, NS_SAML, "AuthenticatingAuthority")
                    .map(xml::text)
                    .collect();
        }
        for statement in xml::children(a, NS_SAML, "AttributeStatement") {
            for attr in xml::children(statement, NS_SAML, "Attribute") {
                let Some(name) = attr.attribute("Name") else {
                    continue;
                };
                let mut values = Vec::new();
                for v in xml::children(attr, NS_SAML, "AttributeValue") {
                    values.push(self.identifier(v)?.unwrap_or_else(|| xml::text(v)));
                }
                out.attributes
                    .entry(name.to_string())
                    .or_default()
                    .extend(values);
            }
        }
        let first = |name: &str| out.attributes.get(name).and_then(|v| v.first()).cloned();
        out.acting_subject_id = first(ATTR_ACTING_SUBJECT_ID);
        out.legal_subject_id = first(ATTR_LEGAL_SUBJECT_ID);
        out.company_name = first(ATTR_COMPANY_NAME);
        out.service_id = first(ATTR_SERVICE_ID);
        out.service_uuid = first(ATTR_SERVICE_UUID);
        Ok(())
    }

    /// The NameID (or decrypted EncryptedID) directly under `node`, as text.
    fn identifier(&self, node: Node<'_, '_>) -> Result<Option<String>, AcsError> {
        if let Some(n) = xml::child(node, NS_SAML, "NameID") {
            return Ok(Some(xml::text(n)));
        }
        let Some(enc) = xml::child(node, NS_SAML, "EncryptedID") else {
            return Ok(None);
        };
        let plain = encrypt::decrypt_assertion(enc, &self.encryption_key)?;
        let doc = xml::parse(&plain)?;
        Ok(Some(xml::text(doc.root_element())))
    }
}

fn is_assertion(n: Node<'_, '_>) -> bool {
    xml::is(n, NS_SAML, "Assertion") || xml::is(n, NS_SAML, "EncryptedAssertion")
}

fn time(node: Node<'_, '_>, name: &'static str) -> Result<Option<DateTime<Utc>>, AcsError> {
    node.attribute(name)
        .map(|v| xml::parse_instant(v).ok_or(AcsError::Time(name)))
        .transpose()
}

/// A standalone (decrypted) assertion with exactly one signature, its own: the signed bytes.
fn verify_standalone(plain: &str, certs: &[Vec<u8>]) -> Result<String, AcsError> {
    let doc = xml::parse(plain)?;
    let root = doc.root_element();
    let id = root
        .attribute("ID")
        .ok_or(AcsError::Missing("Assertion ID"))?;
    let sigs: Vec<_> = doc
        .descendants()
        .filter(|n| xml::is(*n, NS_DS, "Signature"))
        .collect();
    match sigs.as_slice() {
        [sig] if sig.parent() == Some(root) => dsig::check_shape(*sig, id)?,
        _ => return Err(AcsError::StraySignature),
    }
    let signed = dsig::verify(plain, certs)?;
    if xml::parse(&signed)?.root_element().attribute("ID") != Some(id) {
        return Err(AcsError::Signature(DsigError::Reference));
    }
    Ok(signed)
}

/// The demo DV's routes.
pub fn router(state: Arc<DemoDv>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/login", get(login))
        .route("/acs", get(acs_get).post(acs))
        .route("/ars", axum::routing::post(ars))
        .route("/metadata", get(metadata_route))
        .with_state(state)
}

async fn metadata_route(State(dv): State<Arc<DemoDv>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        dv.metadata(),
    )
        .into_response()
}

/// How the DV sends its AuthnRequest to poort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendBy {
    /// HTTP-Artifact: the browser carries `SAMLart`; poort resolves it at `/ars`.
    Artifact,
    Redirect,
    Post,
}

impl SendBy {
    fn value(self) -> &'static str {
        match self {
            SendBy::Artifact => "artifact",
            SendBy::Redirect => "redirect",
            SendBy::Post => "post",
        }
    }

    /// What the DV offers in `bindings`, the default first.
    fn offered(bindings: DemoBindings) -> &'static [SendBy] {
        match bindings {
            DemoBindings::Artifact => &[SendBy::Artifact, SendBy::Redirect, SendBy::Post],
            DemoBindings::PostRedirect => &[SendBy::Redirect, SendBy::Post],
        }
    }
}

async fn index(State(dv): State<Arc<DemoDv>>) -> Html<String> {
    let mut bindings = String::new();
    for (i, b) in SendBy::offered(dv.bindings).iter().enumerate() {
        let label = match b {
            SendBy::Artifact => "HTTP-Artifact (afsprakenstelsel / the scheme's binding)",
            SendBy::Redirect => "HTTP-Redirect",
            SendBy::Post => "HTTP-POST",
        };
        bindings.push_str(&format!(
            r#"<option value="{}"{}>{label}</option>"#,
            b.value(),
            if i == 0 { " selected" } else { "" }
        ));
    }
    let mut services = String::new();
    for s in DEMO_SERVICES {
        let mut levels =
            String::from(r#"<option value="" selected>catalogusniveau / catalogue level</option>"#);
        for l in Level::ALL {
            levels.push_str(&format!(
                r#"<option value="{0}">{0} (minimum)</option>"#,
                l.name()
            ));
        }
        services.push_str(&format!(
            concat!(
                "<form method=\"get\" action=\"{action}\"><fieldset><legend>{nl} <span class=\"en\">/ {en}</span></legend>",
                "<p class=\"hint\"><code>{sid}</code> — {level}</p>",
                "<input type=\"hidden\" name=\"service\" value=\"{index}\">",
                "<label>Binding van het verzoek <span class=\"en\">/ Binding of the request</span> <select name=\"binding\">{bindings}</select></label><br>",
                "<label><input type=\"checkbox\" name=\"force\" value=\"1\"> ForceAuthn</label><br>",
                "<label>Niveau <span class=\"en\">/ Level</span> <select name=\"level\">{levels}</select></label><br>",
                "<button type=\"submit\">Inloggen bij {nl} <span class=\"en\">/ Log in to {en}</span></button>",
                "</fieldset></form>"
            ),
            action = escape(&format!("{}/login", dv.base_url)),
            nl = escape(s.name_nl),
            en = escape(s.name_en),
            sid = escape(s.service_id),
            level = s.level,
            index = s.index,
            bindings = bindings,
            levels = levels,
        ));
    }
    let answer = match dv.bindings {
        DemoBindings::Artifact => {
            "Het antwoord komt per artefact. <span class=\"en\">The answer comes by artifact.</span>"
        }
        DemoBindings::PostRedirect => {
            "Het antwoord komt per HTTP-POST. <span class=\"en\">The answer comes by HTTP-POST.</span>"
        }
    };
    let body = format!(
        "<h1>Demo-dienstverlener <span class=\"en\">/ Demo service provider</span></h1>\
<p class=\"hint\">Logt in via poort op <code>{}</code>. {answer}</p>{services}",
        escape(&dv.poort_base_url)
    );
    page("Demo-dienstverlener / Demo service provider", &body)
}

async fn login(
    State(dv): State<Arc<DemoDv>>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = query.unwrap_or_default();
    let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let index: u16 = get("service")
        .and_then(|s| s.parse().ok())
        .filter(|i| DEMO_SERVICES.iter().any(|s| s.index == *i))
        .ok_or_else(|| PageError::bad_request("unknown service; pick one on the start page"))?;
    let level = match get("level") {
        None | Some("catalogue") => None,
        Some(l) => Some(
            l.parse::<Level>()
                .map_err(|e| PageError::bad_request(format!("level: {e}")))?,
        ),
    };
    let force = matches!(get("force"), Some("1" | "on" | "true"));
    let offered = SendBy::offered(dv.bindings);
    let by = match get("binding") {
        None => offered.first().copied().unwrap_or(SendBy::Redirect),
        Some(b) => *offered.iter().find(|o| o.value() == b).ok_or_else(|| {
            let names: Vec<&str> = offered.iter().map(|o| o.value()).collect();
            PageError::bad_request(format!(
                "unknown binding {b:?}; this demo DV sends by {}",
                names.join(", ")
            ))
        })?,
    };
    let relay = format!("demo-{}", dv.counter.fetch_add(1, Ordering::Relaxed) + 1);
    match by {
        SendBy::Artifact => {
            let keys = dv.poort_metadata(true).await?;
            let gateway = |what: &str| {
                PageError::new(
                    StatusCode::BAD_GATEWAY,
                    format!("poort's metadata has no {what}; send the request by binding=redirect or binding=post"),
                )
            };
            let poort_id = keys.entity_id.clone().ok_or_else(|| gateway("entity ID"))?;
            let sso = keys
                .sso_location(BINDING_ARTIFACT)
                .ok_or_else(|| gateway("HTTP-Artifact SingleSignOnService"))?;
            // Signed as well: the ArtifactResponse vouches for it, and poort checks a signature
            // the request carries.
            let (_, request) = dv
                .authn_request_to(sso, index, level, force, true)
                .map_err(|e| PageError::internal(format!("cannot write the AuthnRequest: {e}")))?;
            let art = dv.artifacts.issue(&dv.entity_id, request, &poort_id);
            let url = artifact_url(sso, &art, Some(&relay))?;
            Ok(Redirect::to(&url).into_response())
        }
        SendBy::Post => {
            let (_, request) = dv
                .authn_request(index, level, force, true)
                .map_err(|e| PageError::internal(format!("cannot write the AuthnRequest: {e}")))?;
            Ok(auto_post(
                &dv.poort_sso_url(),
                "SAMLRequest",
                &binding::encode_post(&request),
                Some(&relay),
            )
            .into_response())
        }
        SendBy::Redirect => {
            let (_, request) = dv
                .authn_request(index, level, force, false)
                .map_err(|e| PageError::internal(format!("cannot write the AuthnRequest: {e}")))?;
            let url = binding::redirect_url(
                &dv.poort_sso_url(),
                "SAMLRequest",
                &request,
                Some(&relay),
                &dv.key,
            )
            .map_err(|e| PageError::internal(format!("cannot sign the AuthnRequest: {e}")))?;
            Ok(Redirect::to(&url).into_response())
        }
    }
}

fn wants_json(query: Option<&str>, headers: &HeaderMap) -> bool {
    let by_query = query.is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "format" && v == "json")
    });
    let by_header = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    by_query || by_header
}

/// A `SAMLart` is 60 characters; anything much longer is refused before decoding.
const MAX_ARTIFACT: usize = 1024;

/// The outcome as JSON or as a page.
fn show(outcome: &AcsOutcome, json: bool) -> Response {
    if json {
        return Json(outcome).into_response();
    }
    outcome_page(outcome).into_response()
}

/// `POST /acs`: a Response (HTTP-POST) or an artifact (HTTP-Artifact by POST).
async fn acs(
    State(dv): State<Arc<DemoDv>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let json = wants_json(query.as_deref(), &headers);
    let form = parse_form(&body).map_err(|e| e.as_json(json))?;
    let relay_state = form.get("RelayState").cloned();
    if relay_state
        .as_ref()
        .is_some_and(|r| r.len() > binding::MAX_RELAY_STATE)
    {
        return Err(PageError::bad_request("RelayState is too long").as_json(json));
    }
    let outcome = match (form.get("SAMLResponse"), form.get("SAMLart")) {
        (Some(raw), None) => {
            let text = binding::decode_post(raw).map_err(|e| {
                PageError::bad_request(format!("cannot decode the Response: {e}")).as_json(json)
            })?;
            dv.check(&text, relay_state).await
        }
        (None, Some(art)) if art.len() <= MAX_ARTIFACT => dv.check_artifact(art, relay_state).await,
        (None, Some(_)) => Err(PageError::bad_request("SAMLart is too long")),
        (Some(_), Some(_)) => Err(PageError::bad_request(
            "the form holds both SAMLResponse and SAMLart",
        )),
        (None, None) => Err(PageError::bad_request(
            "no SAMLResponse or SAMLart in the form",
        )),
    }
    .map_err(|e| e.as_json(json))?;
    Ok(show(&outcome, json))
}

/// `GET /acs?SAMLart=…&RelayState=…`: poort's answer by artifact (HTTP GET, SAML Bindings 2.0
/// §3.6.3).
async fn acs_get(
    State(dv): State<Arc<DemoDv>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let json = wants_json(query.as_deref(), &headers);
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    let art = single(&params, "SAMLart", MAX_ARTIFACT)
        .and_then(|a| {
            a.ok_or_else(|| {
                PageError::bad_request(
                    "no SAMLart in the query (the ACS takes an artifact by GET, or a Response or artifact by POST)",
                )
            })
        })
        .map_err(|e| e.as_json(json))?;
    let relay_state =
        single(&params, "RelayState", binding::MAX_RELAY_STATE).map_err(|e| e.as_json(json))?;
    let outcome = dv
        .check_artifact(&art, relay_state)
        .await
        .map_err(|e| e.as_json(json))?;
    Ok(show(&outcome, json))
}

/// `POST /ars`: the DV's ArtifactResolutionService, where poort resolves the AuthnRequests the
/// DV sent by artifact.
async fn ars(State(dv): State<Arc<DemoDv>>, body: Bytes) -> Response {
    let poort = match dv.poort_keys().await {
        Ok(k) => k,
        Err(e) => return artifact::server_fault(&dv.entity_id, &e.message),
    };
    let url = dv.ars_url();
    let ars = artifact::Ars {
        me: &dv.entity_id,
        key: &dv.key,
        url: &url,
        poort: &poort,
        store: &dv.artifacts,
    };
    artifact::answer_resolve(&ars, &body, Utc::now())
}

fn outcome_page(o: &AcsOutcome) -> Html<String> {
    let row =
        |k: &str, v: &str| format!("<tr><th>{}</th><td><code>{}</code></td></tr>", k, escape(v));
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
    let mut rows = String::new();
    if o.success {
        rows.push_str(&row(
            "ActingSubjectID (pseudoniem / pseudonym)",
            &opt(&o.acting_subject_id),
        ));
        rows.push_str(&row("LegalSubjectID (KvK)", &opt(&o.legal_subject_id)));
        rows.push_str(&row("CompanyName", &opt(&o.company_name)));
        rows.push_str(&row("ServiceID", &opt(&o.service_id)));
        rows.push_str(&row("ServiceUUID", &opt(&o.service_uuid)));
        rows.push_str(&row("Niveau / Level", &opt(&o.level)));
        rows.push_str(&row(
            "AuthenticatingAuthority",
            &o.authenticating_authority.join(", "),
        ));
        rows.push_str(&row("NameID", &opt(&o.name_id)));
        let signed = match (o.response_signed, o.assertion_signed) {
            (true, true) => "Response + Assertion",
            (true, false) => "Response",
            _ => "Assertion",
        };
        rows.push_str(&row("Ondertekend / Signed", signed));
        rows.push_str(&row(
            "Versleuteld / Encrypted",
            if o.assertion_encrypted {
                "ja / yes"
            } else {
                "nee / no"
            },
        ));
    } else {
        rows.push_str(&row("Status", &o.status));
        rows.push_str(&row(
            "Tweede status / Second status",
            &opt(&o.second_status),
        ));
        rows.push_str(&row("StatusMessage", &opt(&o.status_message)));
    }
    rows.push_str(&row("Issuer", &opt(&o.issuer)));
    rows.push_str(&row("InResponseTo", &o.in_response_to));
    rows.push_str(&row("RelayState", &opt(&o.relay_state)));
    let title = if o.success {
        "Ingelogd <span class=\"en\">/ Logged in</span>"
    } else {
        "Niet ingelogd <span class=\"en\">/ Not logged in</span>"
    };
    let body =
        format!("<h1>{title}</h1><table>{rows}</table><p><a href=\"./\">Opnieuw / Again</a></p>");
    page("Demo-dienstverlener / Demo service provider", &body)
}
