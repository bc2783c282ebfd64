//! Demo peers for development and tests: a demo service provider ("demo DV") that logs people in
//! through poort, and a development identity provider ("dev AD") with fixed test persons.
//!
//! Both are plain axum routers with their own key material; they share nothing with poort's
//! gateway code except the SAML primitives (XML, signatures, bindings, encryption). They are for
//! development only: the dev AD authenticates anybody as any test person.

pub mod ad;
pub mod ad_response;
pub mod artifact;
pub mod dv;
pub mod metadata;
pub mod standalone;

pub use ad::DevAd;
pub use ad_response::{AdResponse, AdStatus};
pub use dv::{AcsOutcome, DemoDv};

use crate::keys::{KeyError, SigningKey};
use crate::saml::xml::{self, escape, NS_DS, NS_MD};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use base64::Engine;
use openssl::pkey::{PKey, Private, Public};
use std::path::Path;
use std::sync::Arc;

/// Which SAML bindings the demo peers speak: what their metadata offers and how they send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DemoBindings {
    /// HTTP-Redirect and HTTP-POST only, as a generic SAML peer: the DV's ACS takes HTTP-POST,
    /// the AD's SSO HTTP-Redirect and HTTP-POST, and neither has an ArtifactResolutionService.
    /// The test harness runs the peers this way.
    #[default]
    PostRedirect,
    /// The afsprakenstelsel's flow (page *Bindings*): HTTP-Artifact both ways. The DV sends its
    /// AuthnRequest by artifact and takes the answer by artifact (its ACS index 0); the AD takes
    /// poort's AuthnRequest by artifact and answers by artifact; each serves an
    /// ArtifactResolutionService at `/ars`. POST and Redirect stay available beside it.
    /// `poort demo` runs the peers this way.
    Artifact,
}

/// The demo DV's entity ID (config and grants files depend on it).
pub const DEMO_DV_ENTITY_ID: &str = "urn:etoegang:DV:00000099990000000002:entities:1";
/// The dev AD's entity ID (config and grants files depend on it).
pub const DEV_AD_ENTITY_ID: &str = "urn:etoegang:AD:00000099990000000003:entities:1";

/// A service of the demo DV: its AttributeConsumingService index, ServiceID and names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoService {
    pub index: u16,
    pub service_id: &'static str,
    pub name_nl: &'static str,
    pub name_en: &'static str,
    /// The catalogue level, for display only.
    pub level: &'static str,
}

/// The demo DV's services.
pub const DEMO_SERVICES: [DemoService; 2] = [
    DemoService {
        index: 1,
        service_id: "urn:etoegang:DV:00000099990000000002:services:1",
        name_nl: "Belastingaangifte (demo)",
        name_en: "Tax return (demo)",
        level: "EH3",
    },
    DemoService {
        index: 2,
        service_id: "urn:etoegang:DV:00000099990000000002:services:2",
        name_nl: "Vergunning aanvragen (demo)",
        name_en: "Apply for a permit (demo)",
        level: "EH2+",
    },
];

/// A test person of the dev AD: the subject it asserts, and what the grants file holds for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestPerson {
    pub subject: &'static str,
    pub hint_nl: &'static str,
    pub hint_en: &'static str,
}

/// The dev AD's test persons (the grants file for development depends on these subjects).
pub const TEST_PERSONS: [TestPerson; 8] = [
    TestPerson {
        subject: "anna",
        hint_nl: "mag handelen voor twee organisaties",
        hint_en: "may act for two organisations",
    },
    TestPerson {
        subject: "bram",
        hint_nl: "machtiging EH2+ alleen voor dienst 1",
        hint_en: "grant at EH2+ for service 1 only",
    },
    TestPerson {
        subject: "carla",
        hint_nl: "machtiging verlopen",
        hint_en: "grant expired",
    },
    TestPerson {
        subject: "daan",
        hint_nl: "geen machtiging",
        hint_en: "no grant",
    },
    TestPerson {
        subject: "eva",
        hint_nl: "machtiging ingetrokken",
        hint_en: "grant revoked",
    },
    TestPerson {
        subject: "femke",
        hint_nl: "geblokkeerd lid",
        hint_en: "blocked member",
    },
    TestPerson {
        subject: "gijs",
        hint_nl: "nieuwe collega: nog onbekend, volgt eerst een uitnodigingslink",
        hint_en: "new colleague: not known yet, follows an invitation link first",
    },
    TestPerson {
        subject: "hanna",
        hint_nl: "nieuwe collega: nog onbekend",
        hint_en: "new colleague: not known yet",
    },
];

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("keys: {0}")]
    Key(#[from] KeyError),
    #[error("crypto: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
    #[error("signature: {0}")]
    Dsig(#[from] crate::saml::dsig::DsigError),
    #[error("encryption: {0}")]
    Encrypt(#[from] crate::saml::encrypt::EncryptError),
    #[error("binding: {0}")]
    Binding(#[from] crate::saml::binding::BindingError),
    #[error("XML: {0}")]
    Xml(#[from] xml::XmlError),
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot fetch {url}: {reason}")]
    Fetch { url: String, reason: String },
    #[error("metadata at {0} has no usable signing certificate")]
    NoCertificate(String),
}

/// An error page: a status code and a message, shown as HTML (or JSON where asked for).
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
    pub json: bool,
}

impl PageError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError {
            status,
            message: message.into(),
            json: false,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> PageError {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn forbidden(message: impl Into<String>) -> PageError {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn internal(message: impl Into<String>) -> PageError {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn as_json(mut self, json: bool) -> PageError {
        self.json = json;
        self
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if self.json {
            let body = serde_json::json!({ "success": false, "error": self.message });
            return (self.status, axum::Json(body)).into_response();
        }
        let body = format!(
            "<h1>Fout / Error {}</h1><p class=\"error\">{}</p>",
            self.status.as_u16(),
            escape(&self.message)
        );
        (self.status, page("Fout / Error", &body)).into_response()
    }
}

const CSS: &str =
    "body{font-family:system-ui,sans-serif;max-width:50em;margin:2em auto;padding:0 1em;\
line-height:1.4}h1{font-size:1.4em}fieldset{margin:1em 0}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}\
.error{color:#a00}.hint{color:#555}.en{color:#555;font-style:italic}code{word-break:break-all}\
button{margin:.25em .5em .25em 0;padding:.3em 1em}";

/// A complete HTML page around `body` (already escaped where needed).
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"nl\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title><style>{CSS}</style></head><body>{body}</body></html>",
        escape(title)
    ))
}

/// An HTTP-POST binding page: a form with the message that submits itself, with a visible button
/// for browsers without JavaScript.
pub fn auto_post(
    action: &str,
    param: &str,
    message_b64: &str,
    relay_state: Option<&str>,
) -> Html<String> {
    let relay = relay_state
        .map(|r| {
            format!(
                r#"<input type="hidden" name="RelayState" value="{}">"#,
                escape(r)
            )
        })
        .unwrap_or_default();
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"nl\"><head><meta charset=\"utf-8\"><title>Doorsturen / Redirecting</title>\
<style>{CSS}</style></head><body onload=\"document.forms[0].submit()\">\
<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"{param}\" value=\"{msg}\">{relay}\
<p>U wordt doorgestuurd. <span class=\"en\" lang=\"en\">You are being redirected.</span></p>\
<button type=\"submit\">Doorgaan / Continue</button></form></body></html>",
        action = escape(action),
        param = escape(param),
        msg = escape(message_b64),
    ))
}

/// Parses an `application/x-www-form-urlencoded` body; a field given twice is an error.
pub(crate) fn parse_form(
    body: &[u8],
) -> Result<std::collections::HashMap<String, String>, PageError> {
    if body.len() > 512 * 1024 {
        return Err(PageError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "form too large",
        ));
    }
    let mut out = std::collections::HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if out.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(PageError::bad_request(format!(
                "field {k} appears more than once"
            )));
        }
    }
    Ok(out)
}

/// The public key in a DER certificate.
pub fn public_key_of(cert_der: &[u8]) -> Result<PKey<Public>, DemoError> {
    Ok(openssl::x509::X509::from_der(cert_der)?.public_key()?)
}

/// What a peer learns from poort's metadata: its entity ID, certificates and the endpoints the
/// HTTP-Artifact binding needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerKeys {
    pub entity_id: Option<String>,
    pub signing_certs: Vec<Vec<u8>>,
    pub encryption_cert: Option<Vec<u8>>,
    /// `md:SingleSignOnService`s as (Binding, Location) (an IDPSSODescriptor's).
    pub sso: Vec<(String, String)>,
    /// `md:ArtifactResolutionService`s with the SOAP binding, as (index, Location).
    pub artifact_resolution: Vec<(u16, String)>,
    /// `md:SingleLogoutService`s as (Binding, Location).
    pub slo: Vec<(String, String)>,
}

impl PeerKeys {
    /// The Location of the first SingleSignOnService with `binding`.
    pub fn sso_location(&self, binding: &str) -> Option<&str> {
        self.sso
            .iter()
            .find(|(b, _)| b == binding)
            .map(|(_, l)| l.as_str())
    }

    /// The Location of the first SingleLogoutService with `binding`.
    pub fn slo_location(&self, binding: &str) -> Option<&str> {
        self.slo
            .iter()
            .find(|(b, _)| b == binding)
            .map(|(_, l)| l.as_str())
    }

    /// The Location of the ArtifactResolutionService with `index` (an artifact's EndpointIndex).
    pub fn ars_location(&self, index: u16) -> Option<&str> {
        self.artifact_resolution
            .iter()
            .find(|(i, _)| *i == index)
            .map(|(_, l)| l.as_str())
    }

    /// Whether these keys do without fetching poort's metadata: a signing certificate, and with
    /// `endpoints` also an ArtifactResolutionService.
    fn suffice(&self, endpoints: bool) -> bool {
        !self.signing_certs.is_empty() && (!endpoints || !self.artifact_resolution.is_empty())
    }
}

/// A message poort sent by HTTP-Redirect: signed, with a key from poort's metadata.
pub(crate) fn signed_by_poort(
    message: &crate::saml::binding::RedirectMessage,
    keys: &PeerKeys,
    what: &str,
) -> Result<(), PageError> {
    if !message.is_signed() {
        return Err(PageError::forbidden(format!("the {what} is not signed")));
    }
    let public: Vec<PKey<Public>> = keys
        .signing_certs
        .iter()
        .filter_map(|c| public_key_of(c).ok())
        .collect();
    message
        .verify(&public)
        .map_err(|e| PageError::forbidden(format!("the {what} signature: {e}")))
}

/// A query string as (name, value) pairs; a name given twice keeps its last value.
pub(crate) fn query_params(query: &str) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Fetches poort's metadata at `url` and reads what its `descriptor` says; a 502 page when it
/// cannot be fetched or names no signing certificate.
async fn fetch_poort_metadata(url: &str, descriptor: &str) -> Result<PeerKeys, PageError> {
    let gateway = |e: DemoError| PageError::new(StatusCode::BAD_GATEWAY, e.to_string());
    let text = http_get(url).await.map_err(gateway)?;
    let keys = parse_peer_metadata(&text, descriptor).map_err(gateway)?;
    if keys.signing_certs.is_empty() {
        return Err(gateway(DemoError::NoCertificate(url.to_string())));
    }
    Ok(keys)
}

/// Reads entity ID, certificates and endpoints from the `descriptor` (IDPSSODescriptor or
/// SPSSODescriptor) of a metadata document. A KeyDescriptor without `use` counts for both signing
/// and encryption. An ArtifactResolutionService without a valid index or with another binding
/// than SOAP is left out: the artifact binding resolves over SOAP only (SAML Bindings 2.0 §3.6).
pub fn parse_peer_metadata(text: &str, descriptor: &str) -> Result<PeerKeys, DemoError> {
    let doc = xml::parse(text)?;
    let root = doc.root_element();
    let entity = if xml::is(root, NS_MD, "EntityDescriptor") {
        root
    } else {
        xml::child(root, NS_MD, "EntityDescriptor")
            .ok_or(xml::XmlError::Malformed("no EntityDescriptor".into()))?
    };
    let mut keys = PeerKeys {
        entity_id: entity.attribute("entityID").map(str::to_string),
        ..PeerKeys::default()
    };
    let b64 = &base64::engine::general_purpose::STANDARD;
    for role in xml::children(entity, NS_MD, descriptor) {
        for kd in xml::children(role, NS_MD, "KeyDescriptor") {
            let Some(cert) = kd
                .descendants()
                .find(|n| xml::is(*n, NS_DS, "X509Certificate"))
                .map(xml::text)
            else {
                continue;
            };
            let cleaned: String = cert.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let Ok(der) = b64.decode(cleaned) else {
                continue;
            };
            match kd.attribute("use") {
                Some("signing") => keys.signing_certs.push(der),
                Some("encryption") => keys.encryption_cert = Some(der),
                _ => {
                    keys.signing_certs.push(der.clone());
                    keys.encryption_cert.get_or_insert(der);
                }
            }
        }
        for sso in xml::children(role, NS_MD, "SingleSignOnService") {
            if let (Some(b), Some(l)) = (sso.attribute("Binding"), sso.attribute("Location")) {
                keys.sso.push((b.to_string(), l.to_string()));
            }
        }
        for slo in xml::children(role, NS_MD, "SingleLogoutService") {
            if let (Some(b), Some(l)) = (slo.attribute("Binding"), slo.attribute("Location")) {
                keys.slo.push((b.to_string(), l.to_string()));
            }
        }
        for ars in xml::children(role, NS_MD, "ArtifactResolutionService") {
            let index = ars.attribute("index").and_then(|i| i.parse::<u16>().ok());
            if let (Some(index), Some(xml::BINDING_SOAP), Some(l)) =
                (index, ars.attribute("Binding"), ars.attribute("Location"))
            {
                keys.artifact_resolution.push((index, l.to_string()));
            }
        }
    }
    Ok(keys)
}

/// A minimal HTTP/1.0 GET for `http://` URLs (development only: fetching poort's metadata from
/// a local instance). Answers the body of a 200 response, at most 1 MiB, 10 s timeouts.
pub async fn http_get(url: &str) -> Result<String, DemoError> {
    let fail = |reason: &str| DemoError::Fetch {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let parsed = url::Url::parse(url).map_err(|_| fail("not a URL"))?;
    if parsed.scheme() != "http" {
        return Err(fail("only http:// URLs can be fetched by the demo peers"));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| fail("no host"))?
        .to_string();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let path = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nAccept: application/samlmetadata+xml, application/xml\r\nConnection: close\r\n\r\n"
    );
    let address = format!("{host}:{port}");
    let raw = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        use std::io::{Read, Write};
        use std::net::ToSocketAddrs;
        let timeout = std::time::Duration::from_secs(10);
        let addr = address
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other("host not found"))?;
        let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.write_all(request.as_bytes())?;
        let mut raw = Vec::new();
        stream.take(1024 * 1024 + 1).read_to_end(&mut raw)?;
        Ok(raw)
    })
    .await
    .map_err(|e| fail(&e.to_string()))?
    .map_err(|e| fail(&e.to_string()))?;
    if raw.len() > 1024 * 1024 {
        return Err(fail("response too large"));
    }
    let text = String::from_utf8(raw).map_err(|_| fail("response is not UTF-8"))?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| fail("malformed HTTP response"))?;
    let status_line = head.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) != Some("200") {
        return Err(fail(status_line));
    }
    Ok(body.to_string())
}

/// Both demo peers.
pub struct DemoPeers {
    pub dv: Arc<DemoDv>,
    pub ad: Arc<DevAd>,
}

/// A file's bytes; the path named in the error.
fn read(path: &Path) -> Result<Vec<u8>, DemoError> {
    std::fs::read(path).map_err(|source| DemoError::Io {
        path: path.display().to_string(),
        source,
    })
}

impl DemoPeers {
    /// Loads the peers' keys from the files `poort dev-certs` writes in `certs_dir`
    /// (demo-dv-signing, demo-dv-encryption, dev-ad-signing). poort's certificates are fetched
    /// from its metadata on first use (`{poort_url}/saml/metadata` for the DV,
    /// `{poort_url}/saml/sp/metadata` for the AD). The peers speak HTTP-Redirect and HTTP-POST
    /// only ([`DemoBindings::PostRedirect`]).
    pub fn from_dir(
        certs_dir: &Path,
        dv_url: &str,
        ad_url: &str,
        poort_url: &str,
    ) -> Result<DemoPeers, DemoError> {
        Self::from_dir_with(
            certs_dir,
            dv_url,
            ad_url,
            poort_url,
            DemoBindings::PostRedirect,
        )
    }

    /// Like [`DemoPeers::from_dir`], with the peers speaking `bindings` (which must match the
    /// metadata poort trusts for them: [`metadata::write_demo_metadata_with`]).
    pub fn from_dir_with(
        certs_dir: &Path,
        dv_url: &str,
        ad_url: &str,
        poort_url: &str,
        bindings: DemoBindings,
    ) -> Result<DemoPeers, DemoError> {
        Self::from_dir_fetching(certs_dir, dv_url, ad_url, poort_url, poort_url, bindings)
    }

    /// Like [`DemoPeers::from_dir_with`], for a poort that the peers reach at another address
    /// than browsers do: the DV sends browsers to `poort_url`, and both peers fetch poort's
    /// metadata under `poort_metadata_url` (`/saml/metadata`, `/saml/sp/metadata`).
    pub fn from_dir_fetching(
        certs_dir: &Path,
        dv_url: &str,
        ad_url: &str,
        poort_url: &str,
        poort_metadata_url: &str,
        bindings: DemoBindings,
    ) -> Result<DemoPeers, DemoError> {
        let dv_signing = SigningKey::load(
            &certs_dir.join("demo-dv-signing.key"),
            &certs_dir.join("demo-dv-signing.crt"),
        )?;
        let dv_encryption: PKey<Private> =
            PKey::private_key_from_pem(&read(&certs_dir.join("demo-dv-encryption.key"))?)?;
        let dv_encryption_cert =
            metadata::read_cert_der(&certs_dir.join("demo-dv-encryption.crt"))?;
        let ad_signing = SigningKey::load(
            &certs_dir.join("dev-ad-signing.key"),
            &certs_dir.join("dev-ad-signing.crt"),
        )?;
        let metadata_url = poort_metadata_url.trim_end_matches('/');
        let dv = DemoDv::new(
            DEMO_DV_ENTITY_ID,
            dv_url,
            poort_url,
            dv_signing,
            dv_encryption,
            None,
        )
        .with_poort_metadata_url(format!("{metadata_url}/saml/metadata"))
        .with_encryption_cert(dv_encryption_cert)
        .with_bindings(bindings);
        let ad = DevAd::new(DEV_AD_ENTITY_ID, ad_url, ad_signing, None)
            .with_poort_metadata_url(format!("{metadata_url}/saml/sp/metadata"))
            .with_bindings(bindings);
        Ok(DemoPeers {
            dv: Arc::new(dv),
            ad: Arc::new(ad),
        })
    }

    pub fn dv_router(&self) -> Router {
        dv::router(self.dv.clone())
    }

    pub fn ad_router(&self) -> Router {
        ad::router(self.ad.clone())
    }
}

/// Serves `router` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(listener, router).await
}
