//! poort: an identity broker between service providers (DV) and identity providers (AD).
//!
//! See `ARCHITECTURE.md` for the bird's-eye view and the codemap.

pub mod admin;
pub mod app;
pub mod catalogue;
pub mod check;
pub mod cli;
pub mod config;
pub mod demo;
pub mod devcerts;
pub mod domain;
pub mod federation;
pub mod grants;
pub mod http;
pub mod keys;
pub mod mail;
pub mod metadata;
pub mod metrics;
pub mod oidc;
pub mod refresh;
pub mod saml;
pub mod selfservice;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod trust;
pub mod web;

/// Selects rustls's crypto provider (ring) for the whole process. Several of poort's crates use
/// rustls; when a build enables more than one provider (test tools bring aws-lc-rs), rustls
/// cannot choose by itself and would panic at the first TLS connection. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
