//! poort as artifact resolver: the SOAP back channel to a peer's ArtifactResolutionService.
//!
//! The afsprakenstelsel's *Web services* page sets the security of this channel: TLS (1.2 or
//! newer) with poort authenticated by its client certificate, the peer's server certificate
//! checked, and every message signed. poort signs its `ArtifactResolve` and refuses an
//! `ArtifactResponse` that is unsigned, not from the peer, not for this request, or holds more
//! than one message. A peer cannot hold poort up or fill its memory: the whole exchange has a
//! timeout and the answer a size cap, read as it arrives.

use super::resolve::{self, ArtifactResponse, ResolveError};
use super::soap::{self, SoapError};
use crate::config::BackChannelConfig;
use crate::keys::SigningKey;
use chrono::{DateTime, Utc};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BackChannelError {
    #[error("back-channel configuration: {0}")]
    Config(String),
    #[error("{0} is not https (plain http is allowed only with [backchannel] allow_plain_http)")]
    PlainHttp(String),
    #[error("the peer's ArtifactResolutionService did not answer within {0} s")]
    Timeout(u64),
    #[error("the peer's ArtifactResolutionService could not be reached: {0}")]
    Unreachable(String),
    #[error("the peer's ArtifactResolutionService answered HTTP {0}")]
    Status(u16),
    #[error("the peer's answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the peer's answer is not UTF-8")]
    NotUtf8,
    #[error("the peer's answer: {0}")]
    Soap(#[from] SoapError),
    #[error("the peer's ArtifactResponse: {0}")]
    Response(#[from] ResolveError),
    #[error("the peer's ArtifactResponse answers another request")]
    InResponseTo,
    #[error("the peer's ArtifactResponse names another issuer")]
    Issuer,
    #[error("the peer's ArtifactResponse has status {0}")]
    NotSuccess(String),
    #[error("the peer's ArtifactResponse holds no message (artifact unknown, used or expired)")]
    NoMessage,
    #[error("signing the ArtifactResolve failed: {0}")]
    Sign(String),
}

impl BackChannelError {
    /// The peer could not be reached or did not answer in time, rather than answered wrongly.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            BackChannelError::Timeout(_)
                | BackChannelError::Unreachable(_)
                | BackChannelError::Status(_)
        )
    }
}

/// The HTTP client of the back channel, made once at start.
pub struct BackChannel {
    client: reqwest::Client,
    timeout: u64,
    max_bytes: usize,
    allow_plain_http: bool,
}

/// Who asks, and with which key: poort's entity ID in the role the artifact was sent to.
pub struct Resolver<'a> {
    pub issuer: &'a str,
    pub key: &'a SigningKey,
}

/// The peer that issued the artifact.
pub struct Peer<'a> {
    pub entity_id: &'a str,
    pub ars_url: &'a str,
    pub certs: &'a [Vec<u8>],
}

impl BackChannel {
    pub fn new(cfg: &BackChannelConfig) -> Result<BackChannel, BackChannelError> {
        // rustls needs its process-wide provider before the first client is built.
        crate::install_crypto_provider();
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            BackChannelError::Config(format!("{what}: {e}"))
        };
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .min_tls_version(reqwest::tls::Version::TLS_1_2)
            .timeout(Duration::from_secs(cfg.timeout_seconds.max(1)))
            .connect_timeout(Duration::from_secs(cfg.timeout_seconds.max(1)))
            // An ArtifactResolutionService answers where it is asked; a redirect is a fault.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!cfg.allow_plain_http);
        match (&cfg.client_cert, &cfg.client_key) {
            (Some(cert), Some(key)) => {
                let mut pem = std::fs::read(cert).map_err(|e| bad("client_cert", &e))?;
                pem.push(b'\n');
                pem.extend(std::fs::read(key).map_err(|e| bad("client_key", &e))?);
                let identity =
                    reqwest::Identity::from_pem(&pem).map_err(|e| bad("client certificate", &e))?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => {
                return Err(BackChannelError::Config(
                    "give both client_cert and client_key, or neither".into(),
                ))
            }
        }
        if let Some(path) = &cfg.ca_certs {
            let pem = std::fs::read(path).map_err(|e| bad("ca_certs", &e))?;
            for cert in
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad("ca_certs", &e))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        Ok(BackChannel {
            client: builder.build().map_err(|e| bad("TLS client", &e))?,
            timeout: cfg.timeout_seconds.max(1),
            max_bytes: cfg.max_response_bytes,
            allow_plain_http: cfg.allow_plain_http,
        })
    }

    /// Resolves `artifact` (the `SAMLart` value) at the peer and returns the verified
    /// ArtifactResponse with its one message, which the caller must still check in full.
    pub async fn resolve(
        &self,
        me: &Resolver<'_>,
        peer: &Peer<'_>,
        artifact: &str,
        now: DateTime<Utc>,
    ) -> Result<ArtifactResponse, BackChannelError> {
        let (request_id, request) =
            resolve::artifact_resolve(me.issuer, peer.ars_url, artifact, now, me.key)
                .map_err(|e| BackChannelError::Sign(e.to_string()))?;
        let answer = self.post(peer.ars_url, soap::envelope(&request)).await?;
        let body = soap::body(&answer)?;
        let response = resolve::verify_artifact_response(&body, peer.certs)?;
        if response.in_response_to != request_id {
            return Err(BackChannelError::InResponseTo);
        }
        if response
            .issuer
            .as_deref()
            .is_some_and(|i| i != peer.entity_id)
        {
            return Err(BackChannelError::Issuer);
        }
        if response.status != super::idp::STATUS_SUCCESS {
            return Err(BackChannelError::NotSuccess(response.status));
        }
        if response.message.is_none() {
            return Err(BackChannelError::NoMessage);
        }
        Ok(response)
    }

    /// Posts a SOAP envelope and reads the answer, within the time and size limits.
    async fn post(&self, url: &str, envelope: String) -> Result<String, BackChannelError> {
        if !self.allow_plain_http && !url.starts_with("https://") {
            return Err(BackChannelError::PlainHttp(url.to_string()));
        }
        let work = async {
            let mut request = self.client.post(url);
            // The peer may continue the login's trace (W3C Trace Context).
            if let Some(traceparent) = crate::telemetry::outgoing_traceparent() {
                request = request.header("traceparent", traceparent);
            }
            let mut response = request
                .header(reqwest::header::CONTENT_TYPE, soap::CONTENT_TYPE)
                // SAML Bindings 2.0 §3.2.2.1: a SOAPAction header MAY be sent, with this value.
                .header(
                    "SOAPAction",
                    "http://www.oasis-open.org/committees/security",
                )
                .body(envelope)
                .send()
                .await
                .map_err(|e| self.transport_error(e))?;
            let status = response.status();
            let body = crate::http::read_capped(&mut response, self.max_bytes)
                .await
                .map_err(|e| self.transport_error(e))?
                .ok_or(BackChannelError::TooLarge(self.max_bytes))?;
            // A SOAP fault comes with HTTP 500: read it for its reason.
            if !status.is_success() && status != reqwest::StatusCode::INTERNAL_SERVER_ERROR {
                return Err(BackChannelError::Status(status.as_u16()));
            }
            String::from_utf8(body).map_err(|_| BackChannelError::NotUtf8)
        };
        // reqwest's timeout covers each request; this one covers the whole exchange, body
        // included, whatever a slow peer does.
        tokio::time::timeout(Duration::from_secs(self.timeout), work)
            .await
            .map_err(|_| BackChannelError::Timeout(self.timeout))?
    }

    fn transport_error(&self, e: reqwest::Error) -> BackChannelError {
        if e.is_timeout() {
            return BackChannelError::Timeout(self.timeout);
        }
        // The chain of causes names the TLS or connection problem; no message content.
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            reason = format!("{reason}: {s}");
            source = s.source();
        }
        BackChannelError::Unreachable(reason)
    }
}
