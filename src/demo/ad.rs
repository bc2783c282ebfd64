//! The development identity provider ("dev AD"): anybody may log in as one of the fixed test
//! persons at the level they choose. Development and tests only.
//!
//! Routes: `GET /sso` (HTTP-Redirect binding, or `SAMLart` by GET), `POST /sso` (HTTP-POST
//! binding, or `SAMLart` by POST), `POST /login` (the person's choice), `POST /ars` (the AD's
//! ArtifactResolutionService, SOAP), `GET /slo` (poort's LogoutRequest), `GET /metadata`.
//!
//! With [`DemoBindings::Artifact`] the AD speaks HM-AD Artifact-Artifact (afsprakenstelsel page
//! *Bindings*): it resolves poort's artifact at poort's ArtifactResolutionService (from poort's
//! SP metadata), and answers a request that asks for HTTP-Artifact with a redirect that carries
//! its own artifact, which poort resolves at `/ars`.
//!
//! Its answers are written by [`AdResponse`] (`ad_response.rs`).

use super::ad_response::{AdResponse, AdStatus};
use super::artifact::{self, artifact_url, single, ArtifactStore};
use super::{
    auto_post, metadata, page, parse_form, public_key_of, DemoBindings, PageError, PeerKeys,
    TEST_PERSONS,
};
use crate::domain::attributes::{Attribute, AttributeValue};
use crate::domain::level::Level;
use crate::keys::SigningKey;
use crate::saml::backchannel::BackChannel;
use crate::saml::binding::{self, RedirectMessage};
use crate::saml::idp::{AuthnRequest, STATUS_SUCCESS};
use crate::saml::logout::{LogoutMessage, OutgoingLogoutResponse};
use crate::saml::xml::{self, escape, BINDING_ARTIFACT};
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

/// A login waiting for the person's choice.
#[derive(Debug, Clone)]
struct Pending {
    request_id: String,
    sp_entity_id: String,
    acs_url: String,
    relay_state: Option<String>,
    requested: Option<Level>,
    /// The attributes poort asked for (the request extension).
    attributes: Vec<String>,
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

    /// The AD's SingleLogoutService, where poort forwards a log-out.
    pub fn slo_url(&self) -> String {
        format!("{}/slo", self.base_url)
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
            Some(&self.slo_url()),
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
                attributes: request
                    .requested_attributes
                    .iter()
                    .map(|a| a.name.clone())
                    .collect(),
                by_artifact: self.bindings == DemoBindings::Artifact
                    && request.protocol_binding.as_deref() == Some(BINDING_ARTIFACT),
                created: now,
            },
        );
        Ok(key)
    }
}

/// What the dev AD knows of a test person, beyond the subject: made-up names and a date of
/// birth, which it sends encrypted (as ADs send data a DV must keep to itself).
fn person_attributes(subject: &str) -> Vec<Attribute> {
    let text = |name: &str, value: String, confidential: bool| Attribute {
        name: name.to_string(),
        values: vec![AttributeValue::Text(value)],
        confidential,
    };
    let mut first = subject.to_string();
    if let Some(c) = first.get_mut(0..1) {
        c.make_ascii_uppercase();
    }
    vec![
        text("urn:etoegang:1.9:attribute:FirstName", first, false),
        text(
            "urn:etoegang:1.9:attribute:FamilyName",
            "Testpersoon".into(),
            false,
        ),
        text(
            "urn:etoegang:1.9:attribute:DateOfBirth",
            "1980-01-01".into(),
            true,
        ),
    ]
}

/// The dev AD's routes.
pub fn router(state: Arc<DevAd>) -> Router {
    Router::new()
        .route("/sso", get(sso_redirect).post(sso_post))
        .route("/login", axum::routing::post(login))
        .route("/ars", axum::routing::post(ars))
        .route("/slo", get(slo))
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
            super::signed_by_poort(&message, &keys, "AuthnRequest")?;
            true
        }
        _ => false,
    };
    let request = AuthnRequest::parse(&message.xml)
        .map_err(|e| PageError::bad_request(format!("not a usable AuthnRequest: {e}")))?;
    let key = ad.remember(&request, message.relay_state.clone())?;
    Ok(login_page(&ad, &key, &request, verified))
}

/// `GET /slo`: poort's LogoutRequest (HTTP-Redirect), signed with poort's SP key like its
/// AuthnRequests. The dev AD keeps no session of its own, so there is nothing to end: it answers
/// at once with its signed LogoutResponse at poort's SingleLogoutService (from poort's SP
/// metadata), or, knowing none, shows the scheme's message of an AD (afsprakenstelsel page
/// *Single Log-out*).
async fn slo(
    State(ad): State<Arc<DevAd>>,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = query.ok_or_else(|| PageError::bad_request("no SAMLRequest in the query"))?;
    let message = RedirectMessage::decode(&query, "SAMLRequest")
        .map_err(|e| PageError::bad_request(format!("cannot decode the LogoutRequest: {e}")))?;
    let keys = ad
        .poort_metadata(true)
        .await?
        .filter(|k| !k.signing_certs.is_empty())
        .ok_or_else(|| PageError::forbidden("poort's signing key is not known to the dev AD"))?;
    super::signed_by_poort(&message, &keys, "LogoutRequest")?;
    let LogoutMessage::Request(request) = LogoutMessage::parse(&message.xml)
        .map_err(|e| PageError::bad_request(format!("not a LogoutRequest: {e}")))?
        .message
    else {
        return Err(PageError::bad_request(
            "a LogoutResponse, not a LogoutRequest",
        ));
    };
    let Some(slo) = keys.slo_location(xml::BINDING_REDIRECT) else {
        let body = "<h1>Uitgelogd <span class=\"en\" lang=\"en\">/ Logged out</span></h1>\
            <p>U bent uitgelogd bij de dienst en bij het test-inlogmiddel. Als u van andere diensten gebruik heeft gemaakt, moet u daar zelf nog uitloggen. U kunt ook alle browservensters sluiten.</p>";
        return Ok(page("Test-inlogmiddel / Test login", body).into_response());
    };
    let response = OutgoingLogoutResponse {
        issuer: &ad.entity_id,
        destination: slo,
        in_response_to: &request.id,
        status: (STATUS_SUCCESS, None),
        now: Utc::now(),
    }
    .write(None)
    .map_err(|e| PageError::internal(format!("cannot write the LogoutResponse: {e}")))?;
    let url = binding::redirect_url(
        slo,
        "SAMLResponse",
        &response,
        message.relay_state.as_deref(),
        &ad.key,
    )
    .map_err(|e| PageError::internal(format!("cannot sign the LogoutResponse: {e}")))?;
    Ok(Redirect::to(&url).into_response())
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
            "<h1>Test-inlogmiddel <span class=\"en\" lang=\"en\">/ Test login</span></h1>",
            "<p class=\"hint\">Alleen voor ontwikkeling. <span class=\"en\" lang=\"en\">Development only.</span></p>",
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
            response.attributes = person_attributes(person)
                .into_iter()
                .filter(|a| pending.attributes.contains(&a.name))
                .collect();
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
    let poort_encryption_key = || -> Result<Option<PKey<Public>>, PageError> {
        let cert = ad
            .poort
            .read()
            .as_ref()
            .and_then(|k| k.encryption_cert.clone());
        cert.map(|cert| {
            public_key_of(&cert)
                .map_err(|e| PageError::internal(format!("poort's encryption key: {e}")))
        })
        .transpose()
    };
    // Confidential attributes go encrypted to poort when its key is known.
    response.attributes_encrypt_to = poort_encryption_key()?;
    if field("encrypt").is_some_and(|v| v == "1" || v == "on") {
        response.encrypt_to = Some(
            poort_encryption_key()?
                .ok_or_else(|| PageError::bad_request("poort's encryption key is not known"))?,
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
