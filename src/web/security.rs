//! Secure defaults at the HTTP edge: the headers on every answer, the `__Host-` cookie prefix in
//! production, and the refusal of a plain-http public URL in production.

use crate::config::Config;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::Router;
use std::borrow::Cow;
use tower_http::set_header::SetResponseHeaderLayer;

/// The prefix a browser accepts only on a cookie that is Secure, has `Path=/` and no `Domain`,
/// so that a sibling domain cannot set or overwrite it (RFC 6265bis, *Cookie Name Prefixes*).
pub const HOST_PREFIX: &str = "__Host-";

/// What every poort cookie's name begins with (before any prefix).
const OWN_COOKIES: &str = "poort_";

/// A production setting that would be unsafe.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InsecureConfig {
    #[error(
        "[server] public_url {0} is plain http in production: serve https (tls_cert and tls_key), \
         or set [server] trusted_proxies to the proxy that terminates TLS in front of poort"
    )]
    PlainHttpPublicUrl(String),
    #[error(
        "[backchannel] allow_plain_http is for test set-ups; production resolves artifacts over \
         https only"
    )]
    PlainHttpBackChannel,
}

/// Refuses what production must not run with: a public URL over plain http, unless a trusted
/// proxy terminates TLS in front of poort (then people reach poort over https all the same),
/// and a back channel that may resolve artifacts over plain http.
pub fn check_production(config: &Config) -> Result<(), InsecureConfig> {
    let s = &config.server;
    if s.production && !s.public_url.starts_with("https://") && s.trusted_proxies.is_empty() {
        return Err(InsecureConfig::PlainHttpPublicUrl(s.public_url.clone()));
    }
    // Artifacts and the messages behind them would cross the network unprotected; the
    // afsprakenstelsel's *Web services* page wants TLS with client authentication.
    if s.production && config.backchannel.allow_plain_http {
        return Err(InsecureConfig::PlainHttpBackChannel);
    }
    Ok(())
}

/// Whether browsers reach poort over https: in production always (directly or through a proxy
/// that terminates TLS), otherwise when the public URL says so.
pub fn browsers_use_https(config: &Config) -> bool {
    config.server.production || config.server.public_url.starts_with("https://")
}

/// The name a poort cookie is set under: `__Host-` prefixed in production.
pub fn cookie_name<'a>(config: &Config, name: &'a str) -> Cow<'a, str> {
    if config.server.production {
        Cow::Owned(format!("{HOST_PREFIX}{name}"))
    } else {
        Cow::Borrowed(name)
    }
}

/// In production, poort believes only its `__Host-` cookies: on the way in they lose the prefix
/// (so handlers read one name in every mode), and a poort cookie without it, which a sibling
/// domain may have set, is dropped. Other cookies pass unchanged.
pub async fn host_cookies(mut request: Request) -> Request {
    host_cookie_headers(request.headers_mut());
    request
}

fn host_cookie_headers(headers: &mut HeaderMap) {
    if !headers.contains_key(header::COOKIE) {
        return;
    }
    let kept: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .filter_map(|c| match c.strip_prefix(HOST_PREFIX) {
            Some(own) if own.starts_with(OWN_COOKIES) => Some(own.to_string()),
            _ if c.starts_with(OWN_COOKIES) => None,
            _ => Some(c.to_string()),
        })
        .collect();
    headers.remove(header::COOKIE);
    if let Ok(v) = HeaderValue::from_str(&kept.join("; ")) {
        if !kept.is_empty() {
            headers.insert(header::COOKIE, v);
        }
    }
}

/// The security headers of every answer. Pages set a stricter Content-Security-Policy and
/// Referrer-Policy of their own (`pages.rs`: scripts only by nonce, for the auto-posting forms;
/// `no-referrer`), which are kept; everything else gets `frame-ancestors 'none'` and
/// `same-origin`.
pub fn with_security_headers<S>(router: Router<S>, config: &Config) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let mut router = router
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        ));
    if config.server.public_url.starts_with("https://") {
        router = router.layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("strict-transport-security"),
            HeaderValue::from_static("max-age=31536000"),
        ));
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_refuses_a_plain_http_back_channel() {
        let mut config = Config::load(std::path::Path::new("config/poort.toml")).expect("config");
        config.server.public_url = "https://poort.example".into();
        config.backchannel.allow_plain_http = true;
        assert_eq!(
            check_production(&config),
            Ok(()),
            "outside production it is allowed"
        );
        config.server.production = true;
        assert_eq!(
            check_production(&config),
            Err(InsecureConfig::PlainHttpBackChannel)
        );
        config.backchannel.allow_plain_http = false;
        assert_eq!(check_production(&config), Ok(()));
    }

    fn cookies(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::COOKIE, HeaderValue::from_str(v).expect("cookie"));
        }
        host_cookie_headers(&mut h);
        h
    }

    #[test]
    fn only_prefixed_poort_cookies_are_believed() {
        let h = cookies(&[
            "poort_browser=tossed; other=1",
            "__Host-poort_browser=real; __Host-poort_admin=s",
        ]);
        assert_eq!(
            h.get(header::COOKIE).and_then(|v| v.to_str().ok()),
            Some("other=1; poort_browser=real; poort_admin=s")
        );
        let h = cookies(&["poort_admin=tossed"]);
        assert!(h.get(header::COOKIE).is_none());
        assert!(cookies(&[]).get(header::COOKIE).is_none());
    }

    #[test]
    fn production_with_plain_http_needs_a_proxy_that_terminates_tls() {
        let mut c: Config = toml::from_str(
            r#"
            [server]
            listen = "127.0.0.1:8080"
            public_url = "http://poort.example"
            production = true
            [saml]
            idp_entity_id = "i"
            sp_entity_id = "s"
            sp_metadata_dir = "sp"
            idp_metadata_dir = "idp"
            [keys]
            signing_key = "k"
            signing_cert = "c"
            encryption_key = "k"
            encryption_cert = "c"
            pseudonym_secret = "p"
            "#,
        )
        .expect("config");
        assert_eq!(
            check_production(&c),
            Err(InsecureConfig::PlainHttpPublicUrl(
                "http://poort.example".into()
            ))
        );
        c.server.trusted_proxies = vec!["10.0.0.1".into()];
        assert_eq!(check_production(&c), Ok(()));
        c.server.trusted_proxies.clear();
        c.server.public_url = "https://poort.example".into();
        assert_eq!(check_production(&c), Ok(()));
        c.server.production = false;
        c.server.public_url = "http://localhost:8080".into();
        assert_eq!(check_production(&c), Ok(()));
    }
}
