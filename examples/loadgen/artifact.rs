//! The artifact peers of `--protocol artifact`: their ArtifactResolutionServices (plain HTTP
//! with axum, or TLS with poort's client certificate), their back channel to poort's, and
//! their metadata.

use crate::login::snippet;
use crate::{Error, IDP_ENTITY_ID, PEER_ARS_INDEX, SERVICES, SP_ENTITY_ID};
use base64::Engine;
use chrono::Utc;
use poort::demo::{DEMO_DV_ENTITY_ID, DEV_AD_ENTITY_ID};
use poort::keys::SigningKey;
use poort::saml::artifact::Artifact;
use poort::saml::{resolve, soap, xml};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One peer's ArtifactResolutionService: the messages it sent by artifact, each handed out
/// once, to poort only, on an ArtifactResolve poort signed.
pub struct Ars {
    pub entity_id: &'static str,
    /// poort's entity ID in the role it has towards this peer: it signs the ArtifactResolves
    /// this peer answers, and the ArtifactResponses this peer gets from poort.
    pub poort: &'static str,
    pub url: String,
    pub key: SigningKey,
    pub poort_certs: Vec<Vec<u8>>,
    issued: parking_lot::Mutex<HashMap<[u8; 20], (String, Instant)>>,
    /// Resolutions that found no message (unknown, used or for another peer).
    pub misses: AtomicU64,
    /// Resolutions that handed out a message: for the AD, each is a login that went to it.
    pub resolved: AtomicU64,
}

impl Ars {
    /// Keeps `message` for poort under a fresh artifact; returns the `SAMLart` value.
    pub fn issue(&self, message: String) -> String {
        let artifact = Artifact::new(self.entity_id, PEER_ARS_INDEX);
        let mut issued = self.issued.lock();
        if issued.len() >= 20_000 {
            // Not resolved within a minute: it never will be (pending flows of the memory part).
            issued.retain(|_, (_, at)| at.elapsed() < Duration::from_secs(60));
        }
        issued.insert(artifact.message_handle, (message, Instant::now()));
        artifact.encode()
    }

    /// Answers a SOAP ArtifactResolve with a signed ArtifactResponse.
    fn answer(&self, body: &[u8]) -> Result<String, Error> {
        let request = soap::body(std::str::from_utf8(body)?)?;
        let resolve = resolve::verify_artifact_resolve(&request, &self.poort_certs)?;
        if resolve.issuer != self.poort {
            return Err(format!("ArtifactResolve from {}", resolve.issuer).into());
        }
        if resolve
            .destination
            .as_deref()
            .is_some_and(|d| d != self.url)
        {
            return Err("ArtifactResolve for another Destination".into());
        }
        let artifact = Artifact::decode(&resolve.artifact)?;
        let message = (artifact.is_from(self.entity_id)
            && artifact.endpoint_index == PEER_ARS_INDEX)
            .then(|| self.issued.lock().remove(&artifact.message_handle))
            .flatten()
            .map(|(m, _)| m);
        let counter = match message {
            Some(_) => &self.resolved,
            None => &self.misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let answer = resolve::artifact_response(
            self.entity_id,
            &resolve.id,
            message.as_deref(),
            Utc::now(),
            &self.key,
        )?;
        Ok(soap::envelope(&answer))
    }
}

async fn ars_endpoint(
    axum::extract::State(ars): axum::extract::State<Arc<Ars>>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (status, text) = match ars.answer(&body) {
        Ok(answer) => (axum::http::StatusCode::OK, answer),
        Err(e) => {
            eprintln!("loadgen: {} refused an ArtifactResolve: {e}", ars.entity_id);
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                soap::fault(true, &e.to_string()),
            )
        }
    };
    (
        status,
        [(axum::http::header::CONTENT_TYPE, soap::CONTENT_TYPE)],
        text,
    )
        .into_response()
}

#[derive(Clone)]
pub struct ArtifactPeers {
    pub dv: Arc<Ars>,
    pub ad: Arc<Ars>,
    /// The DV's ACS (HTTP-Artifact), where poort sends the browser with its answer.
    pub dv_acs: String,
    /// The AD's SingleSignOnService (HTTP-Artifact), where poort sends the browser with its
    /// request (never contacted: the AD resolves the artifact straight away).
    pub ad_sso: String,
    /// The peers' back channel to poort: a new connection for every call.
    pub back: reqwest::Client,
    /// poort's ArtifactResolutionService at its public address; set per poort (or cluster).
    pub poort_ars: String,
}

impl ArtifactPeers {
    /// Resolves poort's artifact at poort's ArtifactResolutionService as `peer` (signed
    /// ArtifactResolve with its key, sent to `send_to`: the replica whose turn it is); returns
    /// the message of the verified ArtifactResponse.
    pub async fn resolve_at_poort(
        &self,
        peer: &Ars,
        art: &str,
        send_to: &str,
    ) -> Result<String, Error> {
        let (id, request) =
            resolve::artifact_resolve(peer.entity_id, &self.poort_ars, art, Utc::now(), &peer.key)?;
        let r = self
            .back
            .post(send_to)
            .header(reqwest::header::CONTENT_TYPE, soap::CONTENT_TYPE)
            .header(
                "SOAPAction",
                "http://www.oasis-open.org/committees/security",
            )
            .body(soap::envelope(&request))
            .send()
            .await?;
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            return Err(format!("poort's ARS answered {status}: {}", snippet(&text)).into());
        }
        let response = resolve::verify_artifact_response(&soap::body(&text)?, &peer.poort_certs)?;
        if response.in_response_to != id
            || response.issuer.as_deref() != Some(peer.poort)
            || response.status != poort::saml::idp::STATUS_SUCCESS
        {
            return Err(format!(
                "poort's ArtifactResponse: InResponseTo ok {}, issuer {:?}, status {}",
                response.in_response_to == id,
                response.issuer,
                response.status
            )
            .into());
        }
        response
            .message
            .ok_or_else(|| "poort's ArtifactResponse holds no message".into())
    }
}

/// Serves the DV's and the AD's ArtifactResolutionServices on a free loopback port, for the
/// whole run: plain HTTP with axum, or with `tls` (see [`BackChannelMode`]) HTTPS that requires
/// poort's client certificate, from threads. Returns the peers with poort's ARS still to be set.
pub async fn artifact_peers(
    dv_key: SigningKey,
    ad_key: SigningKey,
    poort_cert: &[u8],
    tls: Option<(Arc<rustls::ServerConfig>, bool)>,
) -> Result<ArtifactPeers, Error> {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = format!("{scheme}://{}", std_listener.local_addr()?);
    let ars = |entity_id, poort, url: String, key| {
        Arc::new(Ars {
            entity_id,
            poort,
            url,
            key,
            poort_certs: vec![poort_cert.to_vec()],
            issued: Default::default(),
            misses: AtomicU64::new(0),
            resolved: AtomicU64::new(0),
        })
    };
    let dv = ars(
        DEMO_DV_ENTITY_ID,
        IDP_ENTITY_ID,
        format!("{base}/dv/ars"),
        dv_key,
    );
    let ad = ars(
        DEV_AD_ENTITY_ID,
        SP_ENTITY_ID,
        format!("{base}/ad/ars"),
        ad_key,
    );
    match tls {
        Some((config, close)) => {
            let (dv, ad) = (dv.clone(), ad.clone());
            std::thread::spawn(move || serve_tls(std_listener, config, close, dv, ad));
        }
        None => {
            std_listener.set_nonblocking(true)?;
            let listener = tokio::net::TcpListener::from_std(std_listener)?;
            let router = axum::Router::new()
                .route(
                    "/dv/ars",
                    axum::routing::post(ars_endpoint).with_state(dv.clone()),
                )
                .route(
                    "/ad/ars",
                    axum::routing::post(ars_endpoint).with_state(ad.clone()),
                );
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    eprintln!("loadgen: the peers' ArtifactResolutionServices stopped: {e}");
                }
            });
        }
    }
    Ok(ArtifactPeers {
        dv,
        ad,
        dv_acs: format!("{base}/dv/acs"),
        ad_sso: format!("{base}/ad/sso"),
        back: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .build()?,
        poort_ars: String::new(),
    })
}

// ---------------------------------------------------------------------------------------------
// The TLS variant of the peers' ArtifactResolutionServices (`--backchannel tls|tls-close`)

/// How poort reaches the peers' ArtifactResolutionServices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackChannelMode {
    /// Plain HTTP on loopback (`[backchannel] allow_plain_http`), connections kept alive.
    Http,
    /// TLS with poort's client certificate (`client_cert`, `client_key`, `ca_certs`),
    /// connections kept alive by the peers.
    Tls,
    /// The same, but the peers close the connection after each answer: a TLS handshake for
    /// every resolution, resumed (TLS 1.3 session tickets, as servers allow by default) when
    /// poort's client offers it.
    TlsClose,
    /// As `TlsClose`, with resumption off at the peers: a full handshake (server certificate
    /// chain checked, poort's client certificate and its signature) for every resolution.
    TlsFull,
}

/// A throwaway CA (rcgen, RSA-2048 keys from openssl as PKIoverheid certificates have), the
/// peers' server certificate for 127.0.0.1 and poort's client certificate, written to `dir`
/// for poort's `[backchannel]`; returns the peers' TLS server configuration, which requires a
/// client certificate from that CA, and resumes sessions only with `resume`.
pub fn tls_material(dir: &Path, resume: bool) -> Result<Arc<rustls::ServerConfig>, Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose, SanType,
    };
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    poort::install_crypto_provider();
    std::fs::create_dir_all(dir)?;
    let rsa = || -> Result<(String, Vec<u8>), Error> {
        let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048)?)?;
        Ok((
            String::from_utf8(key.private_key_to_pem_pkcs8()?)?,
            key.private_key_to_pkcs8()?,
        ))
    };
    let (ca_pem, _) = rsa()?;
    let ca_key = KeyPair::from_pem(&ca_pem)?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "loadgen back-channel CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let (server_pem, server_der) = rsa()?;
    let mut server = CertificateParams::new(vec!["localhost".to_string()])?;
    server
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    server
        .distinguished_name
        .push(DnType::CommonName, "loadgen peers");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server.signed_by(&KeyPair::from_pem(&server_pem)?, &issuer)?;

    let (client_pem, _) = rsa()?;
    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client
        .distinguished_name
        .push(DnType::CommonName, "poort back channel");
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = client.signed_by(&KeyPair::from_pem(&client_pem)?, &issuer)?;
    std::fs::write(dir.join("ca.crt"), ca_cert.pem())?;
    std::fs::write(dir.join("poort-client.crt"), client_cert.pem())?;
    std::fs::write(dir.join("poort-client.key"), client_pem)?;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca_cert.der().clone())?;
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots)).build()?;
    let mut config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![
                CertificateDer::from(server_cert.der().to_vec()),
                ca_cert.der().clone(),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_der)),
        )?;
    if !resume {
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    }
    Ok(Arc::new(config))
}

/// TLS handshakes the peers completed with poort: full (with poort's client certificate) and
/// resumed.
pub static TLS_FULL: AtomicU64 = AtomicU64::new(0);
pub static TLS_RESUMED: AtomicU64 = AtomicU64::new(0);

/// Accepts TLS connections, one thread each.
fn serve_tls(
    listener: std::net::TcpListener,
    config: Arc<rustls::ServerConfig>,
    close: bool,
    dv: Arc<Ars>,
    ad: Arc<Ars>,
) {
    let failures = Arc::new(AtomicU64::new(0));
    for tcp in listener.incoming().flatten() {
        let (config, dv, ad, failures) = (config.clone(), dv.clone(), ad.clone(), failures.clone());
        std::thread::spawn(move || {
            if let Err(e) = tls_connection(tcp, config, close, &dv, &ad) {
                if failures.fetch_add(1, Ordering::Relaxed) < 5 {
                    eprintln!("loadgen: a TLS connection of the peers failed: {e}");
                }
            }
        });
    }
}

/// HTTP/1.1 over one TLS connection: SOAP requests with a Content-Length, answered in order.
fn tls_connection(
    tcp: std::net::TcpStream,
    config: Arc<rustls::ServerConfig>,
    close: bool,
    dv: &Ars,
    ad: &Ars,
) -> Result<(), Error> {
    use std::io::{Read, Write};
    tcp.set_nodelay(true)?;
    let mut tls = rustls::StreamOwned::new(rustls::ServerConnection::new(config)?, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    if tls.conn.peer_certificates().is_none_or(|c| c.is_empty()) {
        return Err("no client certificate".into());
    }
    match tls.conn.handshake_kind() {
        Some(rustls::HandshakeKind::Resumed) => TLS_RESUMED.fetch_add(1, Ordering::Relaxed),
        _ => TLS_FULL.fetch_add(1, Ordering::Relaxed),
    };
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        // The head, up to the empty line.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = match tls.read(&mut chunk) {
                Ok(n) => n,
                // The client went away between requests (without close_notify).
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && buf.is_empty() => 0,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                return if buf.is_empty() {
                    Ok(())
                } else {
                    Err("connection closed mid-request".into())
                };
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let path = head
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let length: usize = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .ok_or("no Content-Length")?;
        while buf.len() < head_end + length {
            let n = tls.read(&mut chunk)?;
            if n == 0 {
                return Err("connection closed mid-body".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body: Vec<u8> = buf.drain(..head_end + length).skip(head_end).collect();
        let ars = match path.as_str() {
            "/dv/ars" => dv,
            "/ad/ars" => ad,
            _ => return Err(format!("no such path: {path}").into()),
        };
        let (status, text) = match ars.answer(&body) {
            Ok(answer) => ("200 OK", answer),
            Err(e) => {
                eprintln!("loadgen: {} refused an ArtifactResolve: {e}", ars.entity_id);
                (
                    "500 Internal Server Error",
                    soap::fault(true, &e.to_string()),
                )
            }
        };
        write!(
            tls,
            "HTTP/1.1 {status}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n{text}",
            soap::CONTENT_TYPE,
            text.len(),
            if close { "close" } else { "keep-alive" }
        )?;
        tls.flush()?;
        if close {
            tls.conn.send_close_notify();
            tls.flush()?;
            return Ok(());
        }
    }
}

fn key_descriptor(usage: &str, cert_der: &[u8]) -> String {
    format!(
        r#"<md:KeyDescriptor use="{usage}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
        base64::engine::general_purpose::STANDARD.encode(cert_der)
    )
}

/// Metadata of the artifact peers, as scheme peers publish it: the DV with an HTTP-Artifact ACS
/// (the default), its SOAP ArtifactResolutionService, signing and encryption keys, and one
/// AttributeConsumingService per service, named by its ServiceID (*DV metadata for HM*); the AD
/// with an HTTP-Artifact SingleSignOnService, its SOAP ArtifactResolutionService and its
/// signing key. Element order is the schema's (SAML Metadata 2.0 §2.4).
pub fn write_artifact_metadata(
    sp_dir: &Path,
    idp_dir: &Path,
    ap: &ArtifactPeers,
    dv_signing: &[u8],
    dv_encryption: &[u8],
    ad_signing: &[u8],
) -> Result<(), Error> {
    let md = xml::NS_MD;
    let ds = xml::NS_DS;
    let protocol = "urn:oasis:names:tc:SAML:2.0:protocol";
    let ars = |url: &str| {
        format!(
            r#"<md:ArtifactResolutionService Binding="{}" Location="{}" index="{PEER_ARS_INDEX}" isDefault="true"/>"#,
            xml::BINDING_SOAP,
            xml::escape(url)
        )
    };
    let mut dv = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="{md}" xmlns:ds="{ds}" entityID="{DEMO_DV_ENTITY_ID}"><md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="{protocol}">{}{}{}<md:AssertionConsumerService Binding="{}" Location="{}" index="0" isDefault="true"/>"#,
        key_descriptor("signing", dv_signing),
        key_descriptor("encryption", dv_encryption),
        ars(&ap.dv.url),
        xml::BINDING_ARTIFACT,
        xml::escape(&ap.dv_acs),
    );
    for (index, _) in SERVICES {
        dv.push_str(&format!(
            r#"<md:AttributeConsumingService index="{index}"><md:ServiceName xml:lang="en">Service {index}</md:ServiceName><md:RequestedAttribute Name="urn:etoegang:DV:00000099990000000002:services:{index}"/></md:AttributeConsumingService>"#
        ));
    }
    dv.push_str("</md:SPSSODescriptor></md:EntityDescriptor>\n");
    let ad = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="{md}" xmlns:ds="{ds}" entityID="{DEV_AD_ENTITY_ID}"><md:IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="{protocol}">{}{}<md:SingleSignOnService Binding="{}" Location="{}"/></md:IDPSSODescriptor></md:EntityDescriptor>
"#,
        key_descriptor("signing", ad_signing),
        ars(&ap.ad.url),
        xml::BINDING_ARTIFACT,
        xml::escape(&ap.ad_sso),
    );
    std::fs::write(sp_dir.join("load-dv.xml"), dv)?;
    std::fs::write(idp_dir.join("load-ad.xml"), ad)?;
    Ok(())
}
