//! Putting poort together from its configuration: keys, metadata, stores, register, routes.

use crate::config::Config;
use crate::grants::{Registry, RegistryError};
use crate::keys::{DecryptionKey, PseudonymSecret, SigningKey};
use crate::metadata::{self, Severity};
use crate::metrics::Metrics;
use crate::saml::{dsig, xml};
use crate::store::{FlowStore, MemoryStore, RedisStore, ReplayCache, StoreError};
use crate::web::{self, AppState};
use chrono::Utc;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),
    #[error("register: {0}")]
    Register(#[from] RegistryError),
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    OidcKeys(#[from] crate::oidc::OidcKeyError),
    #[error(transparent)]
    OidcProvider(#[from] crate::oidc::upstream::UpstreamError),
    #[error("{0}")]
    Mail(String),
    #[error("{0}")]
    BackChannel(String),
    #[error(transparent)]
    Insecure(#[from] crate::web::security::InsecureConfig),
    #[error("[limits] / [server] trusted_proxies: {0}")]
    Limits(#[from] crate::web::limits::LimitsError),
    #[error("production mode refuses development keys ({0})")]
    DevKeysInProduction(String),
    #[error("metadata problems:\n{0}")]
    Metadata(String),
    #[error("pages: {0}")]
    Pages(#[from] minijinja::Error),
    #[error(transparent)]
    Theme(#[from] crate::config::ThemeError),
    #[error("signing poort's metadata: {0}")]
    Sign(#[from] dsig::DsigError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// Inserts a signature template right after the root's start tag (the first child position,
/// where metadata schemas want ds:Signature) and signs.
fn sign_root(unsigned: &str, signing: &SigningKey) -> Result<String, StartError> {
    let doc = xml::parse(unsigned).map_err(|e| StartError::Metadata(e.to_string()))?;
    let root = doc.root_element();
    let id = root
        .attribute("ID")
        .ok_or_else(|| StartError::Metadata("own metadata has no ID".into()))?
        .to_string();
    let start_tag_end = root
        .first_child()
        .map(|c| c.range().start)
        .ok_or_else(|| StartError::Metadata("own metadata is empty".into()))?;
    let with_template = format!(
        "{}{}{}",
        &unsigned[..start_tag_end],
        dsig::template(&id, signing),
        &unsigned[start_tag_end..]
    );
    Ok(dsig::sign(&with_template, signing)?)
}

/// Builds the shared state from config and starts its background tasks (cache upkeep, the
/// writer of grant uses). Metadata files with errors are reported and skipped; good ones
/// still load.
pub async fn build_state(config: Config) -> Result<AppState, StartError> {
    crate::install_crypto_provider();
    let k = &config.keys;
    let signing = SigningKey::load(&k.signing_key, &k.signing_cert)?;
    let decryption = DecryptionKey::load(&k.encryption_key, &k.encryption_cert)?;
    let pseudonyms = PseudonymSecret::load(&k.pseudonym_secret)?;
    if config.server.production {
        for (name, der) in [
            ("signing certificate", &signing.cert_der),
            ("encryption certificate", &decryption.cert_der),
        ] {
            if crate::devcerts::is_dev_cert(der) {
                return Err(StartError::DevKeysInProduction(name.to_string()));
            }
        }
    }
    crate::web::security::check_production(&config)?;
    let limits = web::limits::Limits::from_config(&config)?;
    let now = Utc::now();
    let metrics = Arc::new(Metrics::new(config.ops.per_peer_labels));
    // The folders and the signed aggregates (each from its source, else its last good copy);
    // the aggregates are refreshed in the background from here on.
    let live_metadata = Arc::new(
        crate::federation::LiveMetadata::start(
            &config.saml.sp_metadata_dir,
            &config.saml.idp_metadata_dir,
            &config.metadata_aggregates,
            metrics.clone(),
            now,
        )
        .await,
    );
    crate::federation::spawn_refresh(live_metadata.clone());
    let metadata = live_metadata.now();
    for p in &metadata.problems {
        match p.severity {
            Severity::Error => tracing::error!(file = %p.file.display(), "{}", p.message),
            Severity::Warning => tracing::warn!(file = %p.file.display(), "{}", p.message),
        }
    }
    // The services in use: the `[[service]]` entries and each signed catalogue (from its
    // source, else its last good copy), refreshed in the background from here on and built
    // again when the DV metadata changes. What does not pass is logged and left out.
    let live_catalogue = Arc::new(
        crate::catalogue::LiveCatalogue::start(&config, live_metadata.clone(), metrics.clone())
            .await,
    );
    crate::catalogue::spawn_refresh(live_catalogue.clone());
    let valid_until = now + chrono::Duration::days(7);
    let idp_metadata = sign_root(
        &metadata::publish::idp_metadata(
            &config.saml.idp_entity_id,
            &config.saml_url("/saml/sso"),
            &config.saml_url("/saml/artifact"),
            &config.saml_url("/saml/slo"),
            &signing.cert_der,
            valid_until,
        ),
        &signing,
    )?;
    let sp_metadata = sign_root(
        &metadata::publish::sp_metadata(
            &config.saml.sp_entity_id,
            &config.saml_url("/saml/acs"),
            &config.saml_url("/saml/artifact"),
            &config.saml_url("/saml/slo"),
            &signing.cert_der,
            &decryption.cert_der,
            valid_until,
        ),
        &signing,
    )?;
    let registry = Registry::open_with_metrics(&config, metrics.clone()).await?;
    let grant_uses = registry.spawn_background();
    let login_audit = crate::grants::audit::spawn_decision_writer(
        registry.sql().pool().clone(),
        metrics.clone(),
        config.register.audit_spool.clone(),
        std::time::Duration::from_secs(config.register.audit_retry_seconds),
    );
    // Pending logins and the replay cache: in Redis when one is configured, so that replicas
    // share them; in-process otherwise.
    let (flows, replay): (Arc<dyn FlowStore>, Arc<dyn ReplayCache>) =
        match config.state.redis_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => {
                let store = Arc::new(RedisStore::connect(url, &config.state.prefix)?);
                (store.clone(), store)
            }
            None => {
                let store = Arc::new(MemoryStore::default());
                (store.clone(), store)
            }
        };
    // Outside production the keys are made on first start, like the development certificates.
    let oidc_keys = Arc::new(crate::oidc::LiveKeys::load(
        &config.oidc.keys_dir,
        !config.server.production,
    )?);
    {
        let keys = oidc_keys.clone();
        let every = std::time::Duration::from_secs(config.oidc.keys_reload_seconds.max(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                keys.refresh();
            }
        });
    }
    // Upstream OIDC ADs are discovered on first use, so that one AD being down at start stops
    // nothing but the logins that go to it.
    let upstream_oidc = Arc::new(
        crate::oidc::upstream::UpstreamProviders::new(
            &config.oidc_providers,
            &config.url("/oidc/callback"),
            config.saml.clock_skew_seconds,
        )?
        .with_max_response_bytes(config.limits.upstream_max_response_bytes),
    );
    // Mail goes through the register's outbox: requests queue it, this process's worker (one in
    // every replica, one worker per message) sends it.
    let holder = crate::grants::lease::new_holder_id();
    let mailer = Arc::new(crate::mail::Mailer::new(registry.sql().pool().clone()));
    mailer
        .worker(&config.mail, &holder, metrics.clone())
        .map_err(|e| StartError::Mail(e.to_string()))?
        .spawn();
    let every = config.admin.reminder_interval_seconds;
    if every > 0 {
        // Expiry reminders: at start, then every interval, on the replica holding the lease
        // (each grant is reminded once per period).
        let every = std::time::Duration::from_secs(every);
        crate::admin::notify::ReminderJob::new((*mailer).clone(), &holder, every)
            .with_renewal_links(&config.url("/mijn/renew/"))
            .spawn();
        // Requests not decided within 30 days: marked expired, their requesters told.
        crate::selfservice::expiry::ExpiryJob::new(
            registry.clone(),
            (*mailer).clone(),
            Arc::new(config.clone()),
            &holder,
            every,
        )
        .spawn();
    }
    let backchannel = crate::saml::backchannel::BackChannel::new(&config.backchannel)
        .map_err(|e| StartError::BackChannel(e.to_string()))?;
    // Pending logins count against the caps of [limits] as they are stored and taken.
    let flows = limits.wrap_store(flows);
    Ok(AppState {
        backchannel,
        mailer,
        oidc_keys,
        upstream_oidc,
        register: registry.register(),
        registry,
        grant_uses,
        login_audit,
        metrics,
        flows,
        replay,
        pages: web::pages::Pages::new(web::assets::Stylesheet::new(&config.theme)?)?,
        config,
        live_metadata,
        live_catalogue,
        signing,
        decryption,
        pseudonyms,
        idp_metadata,
        sp_metadata,
        draining: Default::default(),
        limits,
    })
}

/// Serves poort's public routes on an already bound listener until the process is stopped
/// (tests; `poort serve` uses [`crate::server::run`] with the ops listener and signals).
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
) -> Result<(), crate::server::ServeError> {
    crate::server::run(state, listener, None, std::future::pending()).await
}

/// Where `poort demo` serves the demo DV and the development AD.
pub const DEMO_DV_URL: &str = "http://localhost:8081";
pub const DEMO_AD_URL: &str = "http://localhost:8082";

/// `poort demo`: poort plus the demo DV and the development AD, on the ports it prints. The
/// peers speak the scheme's HTTP-Artifact binding (afsprakenstelsel page *Bindings*: DV-HM and
/// HM-AD Artifact-Artifact), so the demo shows the flow a real connection has; the DV's start
/// page still offers HTTP-Redirect and HTTP-POST for the request.
pub async fn run_demo(mut config: Config) -> anyhow::Result<()> {
    use crate::demo::{self, DemoBindings};
    if config.server.production {
        anyhow::bail!("the demo refuses to run in production mode");
    }
    // The peers' ArtifactResolutionServices are on http://localhost: poort may resolve there
    // only with plain http allowed on its back channel (development only).
    if !config.backchannel.allow_plain_http {
        println!(
            "note: [backchannel] allow_plain_http is off; the demo turns it on to resolve the \
             demo peers' artifacts on http://localhost (development only)"
        );
        config.backchannel.allow_plain_http = true;
    }
    let poort_url = config.server.public_url.trim_end_matches('/').to_string();
    let dv_url = DEMO_DV_URL.to_string();
    let ad_url = DEMO_AD_URL.to_string();
    demo::metadata::write_demo_metadata_with(
        &config.keys.dev_certs_dir,
        &config.saml.sp_metadata_dir,
        &config.saml.idp_metadata_dir,
        &dv_url,
        &ad_url,
        DemoBindings::Artifact,
    )?;
    let peers = demo::DemoPeers::from_dir_with(
        &config.keys.dev_certs_dir,
        &dv_url,
        &ad_url,
        &poort_url,
        DemoBindings::Artifact,
    )?;
    let listen = config.server.listen.clone();
    let state = build_state(config).await?;
    let poort_listener = tokio::net::TcpListener::bind(&listen).await?;
    let dv_listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
    let ad_listener = tokio::net::TcpListener::bind("127.0.0.1:8082").await?;
    println!("poort demo is running:");
    println!("  demo service provider (start here): {dv_url}/");
    println!("  development identity provider:      {ad_url}/");
    println!("  poort:                              {poort_url}/saml/metadata");
    println!("  bindings: HTTP-Artifact both ways (DV-HM and HM-AD Artifact-Artifact)");
    println!("  admin module (log in as anna):      {poort_url}/admin");
    println!("  mailbox (invitation e-mails):       {poort_url}/dev/mailbox");
    println!("Press Ctrl-C to stop.");
    let ops_listener = bind_ops(&state.config).await;
    let peers_task = tokio::spawn(async move {
        tokio::try_join!(
            demo::serve(dv_listener, peers.dv_router()),
            demo::serve(ad_listener, peers.ad_router()),
        )
    });
    crate::server::run(
        state,
        poort_listener,
        ops_listener,
        crate::server::termination(),
    )
    .await?;
    peers_task.abort();
    Ok(())
}

/// Binds the ops listener of `[ops] listen` (none when it is empty). A demo or a second
/// process on the same machine may find the port taken: that is reported, and poort serves
/// without it rather than not at all.
pub async fn bind_ops(config: &Config) -> Option<tokio::net::TcpListener> {
    let address = config.ops.listen.trim();
    if address.is_empty() {
        return None;
    }
    match tokio::net::TcpListener::bind(address).await {
        Ok(listener) => {
            tracing::info!(address, "ops listener (metrics, health) listening");
            Some(listener)
        }
        Err(e) => {
            tracing::error!(
                address,
                "ops listener cannot listen, serving without it: {e}"
            );
            None
        }
    }
}

/// On embedded defaults (not production), make development keys when none exist yet, so that
/// `poort serve` runs from a fresh checkout with no other setup.
pub fn prepare_embedded_defaults(config: &Config) -> anyhow::Result<()> {
    if config.server.production {
        return Ok(());
    }
    if !config.keys.signing_key.exists() {
        let made = crate::devcerts::generate(&config.keys.dev_certs_dir, false)?;
        tracing::info!(files = made.len(), dir = %config.keys.dev_certs_dir.display(), "made development keys");
    }
    // With no peers configured at all (a fresh checkout), trust the demo DV and the development
    // AD, so that a newcomer can log in at once (`poort demo` serves them on these ports). A setup
    // that has its own peers is left exactly as it is. The peers speak the scheme's HTTP-Artifact
    // binding, whose artifacts poort resolves at http://localhost: that needs plain http on the
    // back channel, so without it they are trusted for HTTP-Redirect and HTTP-POST only.
    let has_xml = |dir: &std::path::Path| {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .any(|e| e.path().extension().is_some_and(|x| x == "xml"))
            })
            .unwrap_or(false)
    };
    if !has_xml(&config.saml.sp_metadata_dir) && !has_xml(&config.saml.idp_metadata_dir) {
        std::fs::create_dir_all(&config.saml.sp_metadata_dir)?;
        std::fs::create_dir_all(&config.saml.idp_metadata_dir)?;
        let bindings = if config.backchannel.allow_plain_http {
            crate::demo::DemoBindings::Artifact
        } else {
            crate::demo::DemoBindings::PostRedirect
        };
        crate::demo::metadata::write_demo_metadata_with(
            &config.keys.dev_certs_dir,
            &config.saml.sp_metadata_dir,
            &config.saml.idp_metadata_dir,
            DEMO_DV_URL,
            DEMO_AD_URL,
            bindings,
        )?;
        tracing::info!(
            ?bindings,
            "wrote metadata of the demo DV and the development AD"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path) -> Config {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/poort.toml"))
                .unwrap_or_default();
        let mut c: Config = toml::from_str(&text).unwrap();
        c.keys.dev_certs_dir = dir.join("certs");
        c.keys.signing_key = dir.join("certs/poort-signing.key");
        c.saml.sp_metadata_dir = dir.join("sp");
        c.saml.idp_metadata_dir = dir.join("idp");
        c
    }

    #[test]
    fn fresh_setup_trusts_the_demo_peers_but_a_configured_one_is_left_alone() {
        let fresh = tempfile::tempdir().unwrap();
        let c = config(fresh.path());
        prepare_embedded_defaults(&c).unwrap();
        assert!(c.keys.signing_key.exists());
        // config/poort.toml allows plain http on the back channel, so the demo peers are
        // trusted as they run under `poort demo`: by the HTTP-Artifact binding.
        assert!(c.backchannel.allow_plain_http);
        let set = crate::metadata::load(
            &c.saml.sp_metadata_dir,
            &c.saml.idp_metadata_dir,
            Utc::now(),
        );
        assert!(set.problems.is_empty(), "{:?}", set.problems);
        let dv = set.sp(crate::demo::DEMO_DV_ENTITY_ID).unwrap();
        assert!(dv.acs(None).unwrap().is_artifact());
        assert_eq!(
            dv.artifact_resolution[0].location,
            format!("{DEMO_DV_URL}/ars")
        );
        let ad = set.idp(crate::demo::DEV_AD_ENTITY_ID).unwrap();
        assert!(ad.speaks_artifact());
        assert_eq!(
            ad.artifact_resolution[0].location,
            format!("{DEMO_AD_URL}/ars")
        );

        // Without plain http on the back channel the peers' artifacts could not be resolved:
        // they are trusted for HTTP-Redirect and HTTP-POST only.
        let plain = tempfile::tempdir().unwrap();
        let mut c = config(plain.path());
        c.backchannel.allow_plain_http = false;
        prepare_embedded_defaults(&c).unwrap();
        let set = crate::metadata::load(
            &c.saml.sp_metadata_dir,
            &c.saml.idp_metadata_dir,
            Utc::now(),
        );
        assert!(set.problems.is_empty(), "{:?}", set.problems);
        assert!(!set
            .sp(crate::demo::DEMO_DV_ENTITY_ID)
            .unwrap()
            .acs(None)
            .unwrap()
            .is_artifact());
        assert!(!set
            .idp(crate::demo::DEV_AD_ENTITY_ID)
            .unwrap()
            .speaks_artifact());

        let own = tempfile::tempdir().unwrap();
        let c = config(own.path());
        std::fs::create_dir_all(&c.saml.idp_metadata_dir).unwrap();
        std::fs::write(c.saml.idp_metadata_dir.join("their-ad.xml"), "<x/>").unwrap();
        prepare_embedded_defaults(&c).unwrap();
        assert!(!c.saml.sp_metadata_dir.join("demo-dv.xml").exists());
        assert!(!c.saml.idp_metadata_dir.join("dev-ad.xml").exists());

        let prod = tempfile::tempdir().unwrap();
        let mut c = config(prod.path());
        c.server.production = true;
        prepare_embedded_defaults(&c).unwrap();
        assert!(
            !c.keys.signing_key.exists(),
            "production never gets development keys"
        );
    }
}
