//! The HTTP edge: routes, shared state, and the handlers of the login flow.

pub mod admin;
pub mod api;
pub mod assets;
pub mod client;
pub mod cookies;
pub mod errors;
pub mod i18n;
pub mod limits;
mod login;
pub mod mijn;
pub mod oidc;
pub mod ops;
pub mod pages;
pub mod security;
pub mod sessions;
mod templates;
pub mod timeout;
pub mod trace;

use crate::config::{Config, ServiceConfig};
use crate::grants::{Register, Registry, UsageRecorder};
use crate::keys::{DecryptionKey, PseudonymSecret, SigningKey};
use crate::metadata::MetadataSet;
use crate::metrics::Metrics;
use crate::store::{FlowStore, ReplayCache};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;
use tower_http::set_header::SetResponseHeaderLayer;

/// Everything a handler needs. Immutable after start; the stores hold what changes.
pub struct AppState {
    pub config: Config,
    /// The trusted metadata, swapped whole when an aggregate is refreshed: take it once per
    /// request with [`AppState::metadata`].
    pub live_metadata: Arc<crate::federation::LiveMetadata>,
    /// The services in use, swapped whole when a catalogue is refreshed: take them once per
    /// request with [`AppState::catalogue`]. (`config.services` holds only the config file's.)
    pub live_catalogue: Arc<crate::catalogue::LiveCatalogue>,
    pub signing: SigningKey,
    pub decryption: DecryptionKey,
    pub pseudonyms: PseudonymSecret,
    /// What logins read grants from: the register behind its cache.
    pub register: Arc<dyn Register>,
    /// The register for writes, listings and upkeep.
    pub registry: Registry,
    /// Where logins hand the grant they used, written off the hot path.
    pub grant_uses: UsageRecorder,
    /// Where login decisions go on their way to the audit trail, off the hot path.
    pub login_audit: crate::grants::audit::DecisionRecorder,
    /// E-mail to people: SMTP, or the outbox folder.
    pub mailer: Arc<crate::mail::Mailer>,
    pub metrics: Arc<Metrics>,
    /// poort's ID-token signing keys (as OpenID Provider).
    pub oidc_keys: Arc<crate::oidc::LiveKeys>,
    /// Upstream identity providers that speak OpenID Connect.
    pub upstream_oidc: Arc<crate::oidc::upstream::UpstreamProviders>,
    /// The SOAP back channel on which poort resolves peers' artifacts.
    pub backchannel: crate::saml::backchannel::BackChannel,
    pub flows: Arc<dyn FlowStore>,
    pub replay: Arc<dyn ReplayCache>,
    pub pages: pages::Pages,
    /// poort's signed IdP and SP metadata, made once at start.
    pub idp_metadata: String,
    pub sp_metadata: String,
    /// Set when shutdown begins: readiness answers 503 from then on.
    pub draining: Arc<ops::Draining>,
    /// `[limits]`: rate limits and caps on pending logins, and the trusted proxies.
    pub limits: limits::Limits,
}

impl AppState {
    /// The trusted metadata now: one snapshot, for the request at hand.
    pub fn metadata(&self) -> Arc<MetadataSet> {
        self.live_metadata.now()
    }

    /// The services in use now: one snapshot, for the request at hand.
    pub fn catalogue(&self) -> Arc<Vec<ServiceConfig>> {
        self.live_catalogue.services()
    }

    /// The operator's actions (command line and operator API) over this state's register,
    /// mailer and public URL.
    pub fn operations(&self) -> crate::admin::activation::Operations<'_> {
        crate::admin::activation::Operations {
            registry: &self.registry,
            mailer: &self.mailer,
            config: &self.config,
        }
    }

    /// The admin module's service layer over this state's register, mailer and the services in
    /// use now.
    /// Mijn poort's actions, as its pages and the API call them.
    pub fn self_service(&self) -> crate::selfservice::SelfService<'_> {
        crate::selfservice::SelfService {
            registry: &self.registry,
            mailer: &self.mailer,
            config: &self.config,
            catalogue: self.catalogue(),
        }
    }

    pub fn services(&self) -> crate::admin::members::Services<'_> {
        crate::admin::members::Services {
            registry: &self.registry,
            mailer: &self.mailer,
            config: &self.config,
            catalogue: self.catalogue(),
        }
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.server.max_body_bytes;
    // The SAML endpoints at their stable paths and, where they differ, at the paths published
    // with the framework version (afsprakenstelsel, *Interface specifications web*). The SSO
    // endpoint starts logins, so it goes with the other starts below.
    let mut saml = Router::new();
    let mut sso = Router::new();
    for base in ["/saml/sso", "/saml/acs", "/saml/artifact", "/saml/slo"] {
        let versioned = state.config.saml.endpoint_path(base);
        let paths = if versioned == base {
            vec![base.to_string()]
        } else {
            vec![base.to_string(), versioned]
        };
        for path in paths {
            match base {
                "/saml/sso" => {
                    sso = sso.route(&path, get(login::sso_redirect).post(login::sso_post))
                }
                "/saml/acs" => {
                    saml = saml.route(&path, get(login::acs_artifact_get).post(login::acs))
                }
                "/saml/slo" => {
                    saml = saml.route(&path, get(login::slo_redirect).post(login::slo_post))
                }
                _ => {
                    saml = saml.route(
                        &path,
                        axum::routing::post(login::artifact_resolution_service),
                    )
                }
            }
        }
    }
    // What anonymous clients start logins at: rate-limited per client address; the admin
    // module's login also by its own, lower limit.
    let admin_login = Router::new()
        .route("/admin/login", get(login::admin_login))
        .route("/mijn/login", get(login::self_service_login))
        .route_layer(from_fn_with_state(state.clone(), limits::admin_logins));
    let starts = sso
        .route(
            "/oidc/authorize",
            get(login::authorize).post(login::authorize_form),
        )
        .route("/admin/invitation/{token}", get(login::invitation_link))
        .merge(admin_login)
        .route_layer(from_fn_with_state(state.clone(), limits::login_starts));
    // Metadata, discovery and keys may be cached; every other answer is for one browser or one
    // peer only (afsprakenstelsel, *Interface specifications web*: no-cache, no-store).
    let cacheable = Router::new()
        .route("/saml/metadata", get(idp_metadata))
        .route("/saml/sp/metadata", get(sp_metadata))
        .route("/.well-known/openid-configuration", get(oidc::discovery))
        .route("/oidc/jwks", get(oidc::jwks))
        // The stylesheet sets its own long cache life: its path changes with its content.
        .route("/assets/{file}", get(assets::stylesheet));
    let mut router = Router::new()
        .merge(saml)
        .merge(starts)
        .route("/login/idp", get(login::choose_idp).post(login::chosen_idp))
        .route(
            "/login/organisation",
            get(login::choose_organisation).post(login::chosen_organisation),
        )
        .merge(admin::routes())
        .merge(mijn::routes());
    // The development mailbox: never in production, and only while mail goes to the outbox.
    if admin::mailbox_served(&state.config) {
        router = router.route("/dev/mailbox", get(admin::mailbox));
    }
    let router = router
        .merge(api::router())
        .route("/oidc/token", axum::routing::post(oidc::token))
        .route("/oidc/callback", get(login::oidc_callback))
        .route(
            "/oidc/logout",
            get(login::end_session).post(login::end_session_form),
        )
        .route("/oidc/userinfo", get(oidc::userinfo).post(oidc::userinfo))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::PRAGMA,
            HeaderValue::from_static("no-cache"),
        ))
        .merge(cacheable)
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(limit));
    let router = router
        .route("/lang/{code}", get(i18n::choose))
        .layer(axum::middleware::from_fn(pages::remember_page));
    let mut router = security::with_security_headers(router, &state.config);
    if state.config.server.production {
        router = router.layer(axum::middleware::map_request(security::host_cookies));
    }
    router.with_state(state)
}

async fn idp_metadata(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        state.idp_metadata.clone(),
    )
}

async fn sp_metadata(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        state.sp_metadata.clone(),
    )
}
