//! The development identity provider ("dev AD"): anybody may log in as one of the fixed test
//! persons at the level they choose. Development and tests only.
//!
//! Routes: `GET /sso` (HTTP-Redirect binding, or `SAMLart` by GET), `POST /sso` (HTTP-POST
//! binding, or `SAMLart` by POST), `POST /login` (the person's choice), `POST /ars` (the AD's
//! ArtifactResolutionService, SOAP), `GET /metadata`.
//!
//! With [`DemoBindings::Artifact`] the AD speaks HM-AD Artifact-Artifact (afsprakenstelsel page
//! *Bindings*): it resolves poort's artifact at poort's ArtifactResolutionService (from poort's
//! SP metadata), and answers a request that asks for HTTP-Artifact with a redirect that carries
//! its own artifact, which poort resolves at `/ars`.
//!
//! [`AdResponse`] writes the Response; every field is a knob, so that security tests can craft
//! wrong answers (foreign audience, stale times, unknown levels, unsigned, ...).

use super::artifact::{self, artifact_url, single, ArtifactStore};
use super::{
    auto_post, metadata, page, parse_form, public_key_of, DemoBindings, DemoError, PageError,
    PeerKeys, TEST_PERSONS,
};
use crate::domain::level::Level;
use crate::keys::SigningKey;
use crate::saml::backchannel::BackChannel;
use crate::saml::binding::{self, RedirectMessage};
use crate::saml::idp::{AuthnRequest, STATUS_AUTHN_FAILED, STATUS_RESPONDER, STATUS_SUCCESS};
use crate::saml::xml::{self, escape, instant, BINDING_ARTIFACT, NS_SAML, NS_SAMLP};
use crate::saml::{dsig, encrypt};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use openssl::pkey::{PKey, Public};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::Arc;

/// The status an [`AdResponse`] carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdStatus {
    Success,
    /// Responder / AuthnFailed, StatusMessage "Authentication cancelled".
    Cancel,
    /// Any other failure: top-level and optional second-level code, and a message.
    Failure {
        top: String,
        second: Option<String>,
        message: String,
    },
}

/// A Response from the dev AD, built from knobs. `None` in an optional field leaves that
/// attribute or element out.
#[derive(Clone)]
pub struct AdResponse {
    pub issuer: String,
    /// Response `Destination`.
    pub destination: Option<String>,
    /// Response and SubjectConfirmationData `InResponseTo`.
    pub in_response_to: Option<String>,
    /// SubjectConfirmationData `Recipient`.
    pub recipient: Option<String>,
    /// The one Audience; `None` leaves out the AudienceRestriction.
    pub audience: Option<String>,
    /// The NameID of the subject.
    pub subject: String,
    /// AuthnContextClassRef, as a string so tests can send unknown or EH1 levels.
    pub level_uri: String,
    pub issue_instant: DateTime<Utc>,
    pub authn_instant: DateTime<Utc>,
    /// Conditions NotBefore and SubjectConfirmationData NotBefore (the latter only if
    /// `confirmation_not_before` is set).
    pub not_before: DateTime<Utc>,
    /// Conditions and SubjectConfirmationData NotOnOrAfter.
    pub not_on_or_after: DateTime<Utc>,
    pub confirmation_not_before: bool,
    /// Fixed IDs (for replay tests); `None` gives fresh ones.
    pub response_id: Option<String>,
    pub assertion_id: Option<String>,
    /// Sign the Response. An error Response (no assertion) is signed when either flag is set.
    pub sign_response: bool,
    pub sign_assertion: bool,
    /// Encrypt the (signed) assertion to this RSA key.
    pub encrypt_to: Option<PKey<Public>>,
    pub status: AdStatus,
}

impl std::fmt::Debug for AdResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdResponse")
            .field("issuer", &self.issuer)
            .field("destination", &self.destination)
            .field("in_response_to", &self.in_response_to)
            .field("subject", &self.subject)
            .field("level_uri", &self.level_uri)
            .field("sign_response", &self.sign_response)
            .field("sign_assertion", &self.sign_assertion)
            .field("encrypted", &self.encrypt_to.is_some())
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";

fn opt_attr(name: &str, value: Option<&str>) -> String {
    value
        .map(|v| format!(r#" {name}="{}""#, escape(v)))
        .unwrap_or_default()
}

impl AdResponse {
    /// A correct, successful answer: Destination and Recipient = `acs_url`, Audience =
    /// `sp_entity_id`, valid from now for five minutes, assertion signed, not encrypted.
    pub fn new(
        issuer: &str,
        acs_url: &str,
        in_response_to: &str,
        sp_entity_id: &str,
        subject: &str,
        level: Level,
    ) -> AdResponse {
        let now = Utc::now();
        AdResponse {
            issuer: issuer.to_string(),
            destination: Some(acs_url.to_string()),
            in_response_to: Some(in_response_to.to_string()),
            recipient: Some(acs_url.to_string()),
            audience: Some(sp_entity_id.to_string()),
            subject: subject.to_string(),
            level_uri: level.uri().to_string(),
            issue_instant: now,
            authn_instant: now,
            not_before: now,
            not_on_or_after: now + Duration::minutes(5),
            confirmation_not_before: false,
            response_id: None,
            assertion_id: None,
            sign_response: false,
            sign_assertion: true,
            encrypt_to: None,
            status: AdStatus::Success,
        }
    }

    /// The same answer, as a cancellation.
    pub fn cancelled(mut self) -> AdResponse {
        self.status = AdStatus::Cancel;
        self
    }

    /// The `saml:Assertion`, signed if `sign_assertion`, as a standalone element.
    pub fn assertion(&self, key: &SigningKey) -> Result<String, DemoError> {
        let id = self.assertion_id.clone().unwrap_or_else(xml::new_id);
        let sig = if self.sign_assertion {
            dsig::template(&id, key)
        } else {
            String::new()
        };
        let audience = self
            .audience
            .as_deref()
            .map(|a| {
                format!(
                    "<saml:AudienceRestriction><saml:Audience>{}</saml:Audience></saml:AudienceRestriction>",
                    escape(a)
                )
            })
            .unwrap_or_default();
        let sc_not_before = if self.confirmation_not_before {
            format!(r#" NotBefore="{}""#, instant(self.not_before))
        } else {
            String::new()
        };
        let assertion = format!(
            concat!(
                r#"<saml:Assertion xmlns:saml="{saml}" ID="{id}" Version="2.0" IssueInstant="{now}">"#,
                r#"<saml:Issuer>{issuer}</saml:Issuer>{sig}"#,
                r#"<saml:Subject><saml:NameID Format="{persistent}">{subject}</saml:NameID>"#,
                r#"<saml:SubjectConfirmation Method="{bearer}"><saml:SubjectConfirmationData{irt}{sc_nb} NotOnOrAfter="{noa}"{recipient}/>"#,
                r#"</saml:SubjectConfirmation></saml:Subject>"#,
                r#"<saml:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}">{audience}</saml:Conditions>"#,
                r#"<saml:AuthnStatement AuthnInstant="{authn}" SessionIndex="{id}"><saml:AuthnContext>"#,
                r#"<saml:AuthnContextClassRef>{level}</saml:AuthnContextClassRef>"#,
                r#"</saml:AuthnContext></saml:AuthnStatement></saml:Assertion>"#
            ),
            saml = NS_SAML,
            id = escape(&id),
            now = instant(self.issue_instant),
            issuer = escape(&self.issuer),
            sig = sig,
            persistent = PERSISTENT,
            subject = escape(&self.subject),
            bearer = BEARER,
            irt = opt_attr("InResponseTo", self.in_response_to.as_deref()),
            sc_nb = sc_not_before,
            noa = instant(self.not_on_or_after),
            recipient = opt_attr("Recipient", self.recipient.as_deref()),
            nb = instant(self.not_before),
            audience = audience,
            authn = instant(self.authn_instant),
            level = escape(&self.level_uri),
        );
        if self.sign_assertion {
            Ok(dsig::sign(&assertion, key)?)
        } else {
            Ok(assertion)
        }
    }

    /// The complete `samlp:Response`.
    pub fn build(&self, key: &SigningKey) -> Result<String, DemoError> {
        let id = self.response_id.clone().unwrap_or_else(xml::new_id);
        let (status, body, sign) = match &self.status {
            AdStatus::Success => {
                let assertion = self.assertion(key)?;
                let body = match &self.encrypt_to {
                    Some(recipient) => encrypt::encrypt_assertion(&assertion, recipient)?,
                    None => assertion,
                };
                (
                    format!(r#"<samlp:StatusCode Value="{STATUS_SUCCESS}"/>"#),
                    body,
                    self.sign_response,
                )
            }
            AdStatus::Cancel => (
                status_xml(
                    STATUS_RESPONDER,
                    Some(STATUS_AUTHN_FAILED),
                    "Authentication cancelled",
                ),
                String::new(),
                self.sign_response || self.sign_assertion,
            ),
            AdStatus::Failure {
                top,
                second,
                message,
            } => (
                status_xml(top, second.as_deref(), message),
                String::new(),
                self.sign_response || self.sign_assertion,
            ),
        };
        let sig = if sign {
            dsig::template(&id, key)
        } else {
            String::new()
        };
        let response = format!(
            concat!(
                r#"<samlp:Response xmlns:samlp="{samlp}" xmlns:saml="{saml}" ID="{id}" Version="2.0" IssueInstant="{now}"{dest}{irt}>"#,
                r#"<saml:Issuer>{issuer}</saml:Issuer>{sig}<samlp:Status>{status}</samlp:Status>{body}</samlp:Response>"#
            ),
            samlp = NS_SAMLP,
            saml = NS_SAML,
            id = escape(&id),
            now = instant(self.issue_instant),
            dest = opt_attr("Destination", self.destination.as_deref()),
            irt = opt_attr("InResponseTo", self.in_response_to.as_deref()),
            issuer = escape(&self.issuer),
            sig = sig,
            status = status,
            body = body,
        );
        if sign {
            Ok(dsig::sign(&response, key)?)
        } else {
            Ok(response)
        }
    }
}

fn status_xml(top: &str, second: Option<&str>, message: &str) -> String {
    let second = second
        .map(|s| format!(r#"<samlp:StatusCode Value="{}"/>"#, escape(s)))
        .unwrap_or_default();
    format!(
        r#"<samlp:StatusCode Value="{}">{second}</samlp:StatusCode><samlp:StatusMessage>{}</samlp:StatusMessage>"#,
        escape(top),
        escape(message)
    )
}

/// A login waiting for the person's choice.
#[derive(Debug, Clone)]
struct Pending {
    request_id: String,
    sp_entity_id: String,
    acs_url: String,
    relay_state: Option<String>,
    requested: Option<Level>,
    /// Answer by artifact (the request asked for HTTP-Artifact and this AD publishes an
    /// ArtifactResolutionService); else by HTTP-POST.
    by_artifact: bool,
    created: DateTime<Utc>,
}

const PENDING_LIFETIME_MINUTES: i64 = 30;
const MAX_PENDING: usize = 10_000;

/// The dev AD.
pub struct DevAd {
    pub entity_id: String,
    pub base_url: String,
    key: SigningKey,
    /// poort's keys: known from construction, or fetched from `poort_metadata_url`.
    poort: RwLock<Option<PeerKeys>>,
    poort_metadata_url: Option<String>,
    pending: Mutex<HashMap<String, Pending>>,
    bindings: DemoBindings,
    /// The Responses sent by artifact, until poort resolves them.
    artifacts: ArtifactStore,
    /// To resolve poort's artifacts; an error (kept, shown when an artifact comes) if the TLS
    /// client could not be made.
    backchannel: Result<BackChannel, String>,
}

impl DevAd {
    /// `poort_cert_der`: poort's SP signing certificate; when known, AuthnRequests must be signed
    /// with it. Without it (and without [`DevAd::with_poort_metadata_url`]) requests are accepted
    /// unverified.
    pub fn new(
        entity_id: impl Into<String>,
        base_url: impl Into<String>,
        signing: SigningKey,
        poort_cert_der: Option<Vec<u8>>,
    ) -> DevAd {
        DevAd {
            entity_id: entity_id.into(),
            base_url: base_url.into().trim_end_matches('/').to_string(),
            key: signing,
            poort: RwLock::new(poort_cert_der.map(|c| PeerKeys {
                signing_certs: vec![c],
                ..PeerKeys::default()
            })),
            poort_metadata_url: None,
            pending: Mutex::new(HashMap::new()),
            bindings: DemoBindings::PostRedirect,
            artifacts: ArtifactStore::default(),
            backchannel: artifact::back_channel(),
        }
    }

    /// The bindings the AD speaks; they must match the metadata poort has for it.
    pub fn with_bindings(mut self, bindings: DemoBindings) -> DevAd {
        self.bindings = bindings;
        self
    }

    /// Fetch poort's certificates from its SP metadata (`{poort}/saml/sp/metadata`) on first
    /// use, when they were not given.
    pub fn with_poort_metadata_url(mut self, url: impl Into<String>) -> DevAd {
        self.poort_metadata_url = Some(url.into());
        self
    }

    /// poort's encryption certificate: offered as "encrypt the assertion" on the login page.
    pub fn with_poort_encryption_cert(self, cert_der: Vec<u8>) -> DevAd {
        {
            let mut poort = self.poort.write();
            poort.get_or_insert_with(PeerKeys::default).encryption_cert = Some(cert_der);
        }
        self
    }

    pub fn sso_url(&self) -> String {
        format!("{}/sso", self.base_url)
    }

    /// The AD's ArtifactResolutionService, where poort resolves its answers.
    pub fn ars_url(&self) -> String {
        format!("{}/ars", self.base_url)
    }

    pub fn metadata(&self) -> String {
        let ars = (self.bindings == DemoBindings::Artifact).then(|| self.ars_url());
        metadata::ad_metadata(
            &self.entity_id,
            &self.sso_url(),
            ars.as_deref(),
            &self.key.cert_der,
            metadata::DEV_AD_NAMES.0,
            metadata::DEV_AD_NAMES.1,
        )
    }

    pub fn signing_cert_der(&self) -> &[u8] {
        &self.key.cert_der
    }

    async fn poort_keys(&self) -> Result<Option<PeerKeys>, PageError> {
        self.poort_metadata(false).await
    }

    /// poort's SP keys, and with `endpoints` also its ArtifactResolutionService: known from
    /// construction, else fetched from `poort_metadata_url` (also when only the certificate was
    /// given and the endpoints are needed).
    async fn poort_metadata(&self, endpoints: bool) -> Result<Option<PeerKeys>, PageError> {
        let known = self.poort.read().clone();
        if known.as_ref().is_some_and(|k| k.suffice(endpoints)) {
            return Ok(known);
        }
        let Some(url) = &self.poort_metadata_url else {
            return Ok(known);
        };
        let mut fetched = super::fetch_poort_metadata(url, "SPSSODescriptor").await?;
        if let Some(old) = known {
            if fetched.encryption_cert.is_none() {
                fetched.encryption_cert = old.encryption_cert;
            }
        }
        *self.poort.write() = Some(fetched.clone());
        Ok(Some(fetched))
    }

    fn remember(
        &self,
        request: &AuthnRequest,
        relay_state: Option<String>,
    ) -> Result<String, PageError> {
        let acs_url = request.acs_url.clone().ok_or_else(|| {
            PageError::bad_request(
                "the AuthnRequest has no AssertionConsumerServiceURL (the dev AD needs one)",
            )
        })?;
        let requested = request
            .requested_context
            .as_ref()
            .and_then(|c| c.class_refs.iter().find_map(|r| Level::from_uri(r).ok()));
        let key = xml::new_id();
        let now = Utc::now();
        let mut pending = self.pending.lock();
        pending.retain(|_, p| now - p.created < Duration::minutes(PENDING_LIFETIME_MINUTES));
        if pending.len() >= MAX_PENDING {
            return Err(PageError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "too many pending logins",
            ));
        }
        pending.insert(
            key.clone(),
            Pending {
                request_id: request.id.clone(),
                sp_entity_id: request.issuer.clone(),
                acs_url,
                relay_state,
                requested,
                by_artifact: self.bindings == DemoBindings::Artifact
                    && request.protocol_binding.as_deref() == Some(BINDING_ARTIFACT),
                created: now,
            },
        );
        Ok(key)
    }
}

/// The dev AD's routes.
pub fn router(state: Arc<DevAd>) -> Router {
    Router::new()
        .route("/sso", get(sso_redirect).post(sso_post))
        .route("/login", axum::routing::post(login))
        .route("/ars", axum::routing::post(ars))
        .route("/metadata", get(metadata_route))
        .with_state(state)
}

async fn metadata_route(State(ad): State<Arc<DevAd>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        ad.metadata(),
    )
        .into_response()
}

/// A `SAMLart` is 60 characters; anything much longer is refused before decoding.
const MAX_ARTIFACT: usize = 1024;

async fn sso_redirect(
    State(ad): State<Arc<DevAd>>,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, PageError> {
    let query = query.ok_or_else(|| PageError::bad_request("no SAMLRequest in the query"))?;
    // The HTTP-Artifact binding by GET: `SAMLart` instead of `SAMLRequest`.
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Some(art) = single(&params, "SAMLart", MAX_ARTIFACT)? {
        if params.iter().any(|(k, _)| k == "SAMLRequest") {
            return Err(PageError::bad_request(
                "the query holds both SAMLRequest and SAMLart",
            ));
        }
        let relay_state = single(&params, "RelayState", binding::MAX_RELAY_STATE)?;
        return by_artifact(&ad, &art, relay_state).await;
    }
    let message = RedirectMessage::decode(&query, "SAMLRequest")
        .map_err(|e| PageError::bad_request(format!("cannot decode the request: {e}")))?;
    let verified = match ad.poort_keys().await? {
        Some(keys) if !keys.signing_certs.is_empty() => {
            if !message.is_signed() {
                return Err(PageError::forbidden("the AuthnRequest is not signed"));
            }
            let public: Vec<PKey<Public>> = keys
                .signing_certs
                .iter()
                .filter_map(|c| public_key_of(c).ok())
                .collect();
            message
                .verify(&public)
                .map_err(|e| PageError::forbidden(format!("the AuthnRequest signature: {e}")))?;
            true
        }
        _ => false,
    };
    let request = AuthnRequest::parse(&message.xml)
        .map_err(|e| PageError::bad_request(format!("not a usable AuthnRequest: {e}")))?;
    let key = ad.remember(&request, message.relay_state.clone())?;
    Ok(login_page(&ad, &key, &request, verified))
}

async fn sso_post(State(ad): State<Arc<DevAd>>, body: Bytes) -> Result<Html<String>, PageError> {
    let form = parse_form(&body)?;
    let relay_state = form.get("RelayState").cloned();
    if relay_state
        .as_ref()
        .is_some_and(|r| r.len() > binding::MAX_RELAY_STATE)
    {
        return Err(PageError::bad_request("RelayState is too long"));
    }
    let raw = match (form.get("SAMLRequest"), form.get("SAMLart")) {
        (Some(raw), None) => raw,
        (None, Some(art)) if art.len() <= MAX_ARTIFACT => {
            return by_artifact(&ad, art, relay_state).await
        }
        (None, Some(_)) => return Err(PageError::bad_request("SAMLart is too long")),
        (Some(_), Some(_)) => {
            return Err(PageError::bad_request(
                "the form holds both SAMLRequest and SAMLart",
            ))
        }
        (None, None) => return Err(PageError::bad_request("no SAMLRequest in the form")),
    };
    let text = binding::decode_post(raw)
        .map_err(|e| PageError::bad_request(format!("cannot decode the request: {e}")))?;
    let (request, verified) = match ad.poort_keys().await? {
        Some(keys) if !keys.signing_certs.is_empty() => (
            AuthnRequest::verify_enveloped(&text, &keys.signing_certs)
                .map_err(|e| PageError::forbidden(format!("the AuthnRequest signature: {e}")))?,
            true,
        ),
        _ => (
            AuthnRequest::parse(&text)
                .map_err(|e| PageError::bad_request(format!("not a usable AuthnRequest: {e}")))?,
            false,
        ),
    };
    let key = ad.remember(&request, relay_state)?;
    Ok(login_page(&ad, &key, &request, verified))
}

/// poort's AuthnRequest by artifact (HM-AD Artifact-Artifact): resolved at poort's
/// ArtifactResolutionService; poort's signed ArtifactResponse vouches for it, and a signature of
/// its own must hold too.
async fn by_artifact(
    ad: &DevAd,
    saml_art: &str,
    relay_state: Option<String>,
) -> Result<Html<String>, PageError> {
    let keys = ad.poort_metadata(true).await?.ok_or_else(|| {
        PageError::new(
            StatusCode::BAD_GATEWAY,
            "poort's metadata is not known, so its artifact cannot be resolved",
        )
    })?;
    let text = artifact::resolve_at_poort(&ad.backchannel, &ad.entity_id, &ad.key, &keys, saml_art)
        .await?;
    let parsed = AuthnRequest::parse(&text)
        .map_err(|e| PageError::bad_request(format!("not a usable AuthnRequest: {e}")))?;
    let request = if parsed.has_signature {
        AuthnRequest::verify_enveloped(&text, &keys.signing_certs)
            .map_err(|e| PageError::forbidden(format!("the AuthnRequest signature: {e}")))?
    } else {
        parsed
    };
    if keys
        .entity_id
        .as_ref()
        .is_some_and(|p| *p != request.issuer)
    {
        return Err(PageError::forbidden(format!(
            "the resolved AuthnRequest is issued by {:?}, not by poort",
            request.issuer
        )));
    }
    let key = ad.remember(&request, relay_state)?;
    Ok(login_page(ad, &key, &request, true))
}

/// `POST /ars`: the AD's ArtifactResolutionService, where poort resolves the AD's answers.
async fn ars(State(ad): State<Arc<DevAd>>, body: Bytes) -> Response {
    let poort = match ad.poort_keys().await {
        Ok(Some(k)) => k,
        Ok(None) => {
            return artifact::server_fault(&ad.entity_id, "poort's signing key is not known")
        }
        Err(e) => return artifact::server_fault(&ad.entity_id, &e.message),
    };
    let url = ad.ars_url();
    let ars = artifact::Ars {
        me: &ad.entity_id,
        key: &ad.key,
        url: &url,
        poort: &poort,
        store: &ad.artifacts,
    };
    artifact::answer_resolve(&ars, &body, Utc::now())
}

fn login_page(
    ad: &DevAd,
    pending_key: &str,
    request: &AuthnRequest,
    verified: bool,
) -> Html<String> {
    let requested = request
        .requested_context
        .as_ref()
        .and_then(|c| c.class_refs.iter().find_map(|r| Level::from_uri(r).ok()));
    let preselect = requested.unwrap_or(Level::Eh3);
    let mut persons = String::new();
    for (i, p) in TEST_PERSONS.iter().enumerate() {
        persons.push_str(&format!(
            r#"<label><input type="radio" name="person" value="{s}"{checked}> <b>{s}</b> <span class="hint">— {nl} <span class="en">/ {en}</span></span></label><br>"#,
            s = escape(p.subject),
            checked = if i == 0 { " checked" } else { "" },
            nl = escape(p.hint_nl),
            en = escape(p.hint_en),
        ));
    }
    let mut levels = String::new();
    for l in Level::ALL {
        levels.push_str(&format!(
            r#"<label><input type="radio" name="level" value="{n}"{checked}> {n}</label> "#,
            n = l.name(),
            checked = if l == preselect { " checked" } else { "" },
        ));
    }
    let can_encrypt = ad
        .poort
        .read()
        .as_ref()
        .is_some_and(|k| k.encryption_cert.is_some());
    let encrypt = if can_encrypt {
        r#"<label><input type="checkbox" name="encrypt" value="1"> Assertion versleutelen <span class="en">/ Encrypt the assertion</span></label>"#
    } else {
        ""
    };
    let body = format!(
        concat!(
            "<h1>Test-inlogmiddel <span class=\"en\">/ Test login</span></h1>",
            "<p class=\"hint\">Alleen voor ontwikkeling. <span class=\"en\">Development only.</span></p>",
            "<table><tr><th>Aanvrager / Requester</th><td><code>{issuer}</code></td></tr>",
            "<tr><th>Gevraagd niveau / Requested level</th><td>{requested}</td></tr>",
            "<tr><th>Handtekening / Signature</th><td>{verified}</td></tr></table>",
            "<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"pending\" value=\"{pending}\">",
            "<fieldset><legend>Testpersoon / Test person</legend>{persons}</fieldset>",
            "<fieldset><legend>Niveau / Level</legend>{levels}</fieldset>",
            "<fieldset><legend>Ondertekening / Signing</legend>",
            "<label><input type=\"radio\" name=\"sign\" value=\"assertion\" checked> Assertion</label> ",
            "<label><input type=\"radio\" name=\"sign\" value=\"response\"> Response</label> ",
            "<label><input type=\"radio\" name=\"sign\" value=\"both\"> Beide / Both</label> {encrypt}</fieldset>",
            "<button type=\"submit\" name=\"action\" value=\"login\">Inloggen / Log in</button>",
            "<button type=\"submit\" name=\"action\" value=\"cancel\">Annuleren / Cancel</button>",
            "</form>"
        ),
        issuer = escape(&request.issuer),
        requested = requested.map(|l| l.name()).unwrap_or("—"),
        verified = if verified {
            "geverifieerd / verified"
        } else {
            "niet gecontroleerd (sleutel van poort onbekend) / not checked (poort's key unknown)"
        },
        action = escape(&format!("{}/login", ad.base_url)),
        pending = escape(pending_key),
        persons = persons,
        levels = levels,
        encrypt = encrypt,
    );
    page("Test-inlogmiddel / Test login", &body)
}

async fn login(State(ad): State<Arc<DevAd>>, body: Bytes) -> Result<Response, PageError> {
    let form = parse_form(&body)?;
    let field = |name: &str| form.get(name).map(String::as_str);
    let pending_key = field("pending").ok_or_else(|| PageError::bad_request("no pending login"))?;
    let pending = ad.pending.lock().remove(pending_key).ok_or_else(|| {
        PageError::bad_request("unknown or expired login; start again at the service")
    })?;
    let mut response = AdResponse::new(
        &ad.entity_id,
        &pending.acs_url,
        &pending.request_id,
        &pending.sp_entity_id,
        "",
        pending.requested.unwrap_or(Level::Eh3),
    );
    match field("action").unwrap_or("login") {
        "cancel" => {
            response.status = AdStatus::Cancel;
        }
        "login" => {
            let person =
                field("person").ok_or_else(|| PageError::bad_request("pick a test person"))?;
            if !TEST_PERSONS.iter().any(|p| p.subject == person) {
                return Err(PageError::bad_request(format!(
                    "unknown test person {person:?}"
                )));
            }
            response.subject = person.to_string();
            let level: Level = field("level")
                .ok_or_else(|| PageError::bad_request("pick a level"))?
                .parse()
                .map_err(|e| PageError::bad_request(format!("level: {e}")))?;
            response.level_uri = level.uri().to_string();
        }
        other => return Err(PageError::bad_request(format!("unknown action {other:?}"))),
    }
    (response.sign_response, response.sign_assertion) = match field("sign").unwrap_or("assertion") {
        "assertion" => (false, true),
        "response" => (true, false),
        "both" => (true, true),
        other => {
            return Err(PageError::bad_request(format!(
                "unknown signing choice {other:?}"
            )))
        }
    };
    if field("encrypt").is_some_and(|v| v == "1" || v == "on") {
        let cert = ad
            .poort
            .read()
            .as_ref()
            .and_then(|k| k.encryption_cert.clone())
            .ok_or_else(|| PageError::bad_request("poort's encryption key is not known"))?;
        response.encrypt_to = Some(
            public_key_of(&cert)
                .map_err(|e| PageError::internal(format!("poort's encryption key: {e}")))?,
        );
    }
    let xml = response
        .build(&ad.key)
        .map_err(|e| PageError::internal(format!("cannot write the Response: {e}")))?;
    if pending.by_artifact {
        // HM-AD Artifact-Artifact: the browser carries only the artifact; poort resolves it at
        // this AD's ArtifactResolutionService.
        let art = ad
            .artifacts
            .issue(&ad.entity_id, xml, &pending.sp_entity_id);
        let url = artifact_url(&pending.acs_url, &art, pending.relay_state.as_deref())?;
        return Ok(Redirect::to(&url).into_response());
    }
    Ok(auto_post(
        &pending.acs_url,
        "SAMLResponse",
        &binding::encode_post(&xml),
        pending.relay_state.as_deref(),
    )
    .into_response())
}
