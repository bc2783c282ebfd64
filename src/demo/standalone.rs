//! `poort demo-peers`: the demo DV and the development AD of `poort demo` on their own, beside a
//! poort that runs elsewhere (the compose trial's `demo-peers` container, deploy/compose.yaml).
//!
//! In order: the peers' development keys are made in `--certs-dir` when missing; their metadata
//! is written into `--metadata-dir`/`sp` and `/idp` for poort to trust (each file replaced at
//! once, never half written); then the DV and the AD listen until SIGTERM or Ctrl-C.
//!
//! Two addresses of poort: `--poort-url`, where browsers reach it (the DV sends its
//! AuthnRequests there), and `--poort-metadata-url`, where the peers fetch poort's metadata
//! server-side (`/saml/metadata` for the DV, `/saml/sp/metadata` for the AD;
//! [`DemoPeers::from_dir_fetching`]). The peers fetch over plain `http://` only
//! ([`super::http_get`]), when they first need poort's metadata, and keep it: poort may start
//! after the peers (until then the DV starts no login and says why).

use super::{DemoBindings, DemoError, DemoPeers};
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long requests in flight may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Where the metadata is written first, inside `--metadata-dir` (poort reads only `sp/`, `idp/`).
const STAGING: &str = ".demo-peers-staging";

/// The bindings the peers speak (and their metadata offers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Bindings {
    /// HTTP-Artifact both ways (as `poort demo`); poort must resolve artifacts over plain http.
    Artifact,
    /// HTTP-Redirect and HTTP-POST only (what production poort accepts from http peers).
    PostRedirect,
}

impl From<Bindings> for DemoBindings {
    fn from(b: Bindings) -> DemoBindings {
        match b {
            Bindings::Artifact => DemoBindings::Artifact,
            Bindings::PostRedirect => DemoBindings::PostRedirect,
        }
    }
}

/// The flags of `poort demo-peers`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Address the demo DV listens on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub dv_listen: SocketAddr,
    /// Address the development AD listens on.
    #[arg(long, default_value = "127.0.0.1:8082")]
    pub ad_listen: SocketAddr,
    /// URL at which browsers reach the demo DV (in its metadata).
    #[arg(long, default_value = "http://localhost:8081")]
    pub dv_url: String,
    /// URL at which browsers reach the development AD (in its metadata).
    #[arg(long, default_value = "http://localhost:8082")]
    pub ad_url: String,
    /// URL at which browsers reach poort (its [server] public_url).
    #[arg(long)]
    pub poort_url: String,
    /// URL at which the peers fetch poort's metadata (http:// only); default: --poort-url.
    #[arg(long)]
    pub poort_metadata_url: Option<String>,
    /// Folder the peers' metadata is written into, as sp/demo-dv.xml and idp/dev-ad.xml.
    #[arg(long, default_value = "metadata")]
    pub metadata_dir: PathBuf,
    /// Folder of the peers' development keys; made when missing.
    #[arg(long, default_value = "certs-dev")]
    pub certs_dir: PathBuf,
    /// The SAML bindings the peers speak.
    #[arg(long, value_enum, default_value_t = Bindings::PostRedirect)]
    pub bindings: Bindings,
}

/// Why `poort demo-peers` did not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum PeersError {
    #[error("{flag}: {reason}")]
    Flag { flag: &'static str, reason: String },
    #[error("cannot make the development keys in {dir}")]
    DevCerts {
        dir: String,
        #[source]
        source: crate::devcerts::DevCertsError,
    },
    #[error("cannot write the peers' metadata into {path}")]
    Metadata {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Demo(#[from] DemoError),
    #[error("cannot listen on {address} ({flag})")]
    Listen {
        flag: &'static str,
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot watch for SIGTERM and Ctrl-C")]
    Signals(#[source] std::io::Error),
    #[error("the {peer} stopped serving")]
    Serve {
        peer: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// The flags, checked: URLs without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub dv_url: String,
    pub ad_url: String,
    pub poort_url: String,
    pub poort_metadata_url: String,
    pub bindings: DemoBindings,
}

fn flag(flag: &'static str, reason: impl Into<String>) -> PeersError {
    PeersError::Flag {
        flag,
        reason: reason.into(),
    }
}

/// An absolute http(s) URL of a host, without query, fragment or credentials; answered without
/// a trailing slash.
fn base_url(name: &'static str, value: &str) -> Result<String, PeersError> {
    let parsed = url::Url::parse(value.trim())
        .map_err(|e| flag(name, format!("{value:?} is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(flag(
            name,
            format!("{value:?} is not an http:// or https:// URL"),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(flag(name, format!("{value:?} has no host")));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(flag(
            name,
            format!("{value:?} has a query or fragment; give the base URL only"),
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(flag(name, format!("{value:?} carries credentials")));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

impl Settings {
    /// Checks the flags; nothing is written before they hold.
    pub fn from_args(args: &Args) -> Result<Settings, PeersError> {
        let dv_url = base_url("--dv-url", &args.dv_url)?;
        let ad_url = base_url("--ad-url", &args.ad_url)?;
        let poort_url = base_url("--poort-url", &args.poort_url)?;
        let poort_metadata_url = match &args.poort_metadata_url {
            Some(u) => base_url("--poort-metadata-url", u)?,
            None => poort_url.clone(),
        };
        let bindings = DemoBindings::from(args.bindings);
        if dv_url == ad_url {
            return Err(flag(
                "--ad-url",
                format!("the DV and the AD cannot share one URL ({dv_url})"),
            ));
        }
        if args.dv_listen == args.ad_listen && args.dv_listen.port() != 0 {
            return Err(flag(
                "--ad-listen",
                format!(
                    "the DV and the AD cannot listen on one address ({})",
                    args.dv_listen
                ),
            ));
        }
        if !poort_metadata_url.starts_with("http://") {
            let reason = if args.poort_metadata_url.is_some() {
                format!(
                    "{poort_metadata_url} is not http://: the demo peers fetch poort's metadata \
                     over plain http only"
                )
            } else {
                format!(
                    "the demo peers fetch poort's metadata over plain http only, and --poort-url \
                     ({poort_url}) is not http://; give an http:// address of poort (one that \
                     serves /saml/metadata) with --poort-metadata-url"
                )
            };
            return Err(flag("--poort-metadata-url", reason));
        }
        if bindings == DemoBindings::Artifact && poort_metadata_url != poort_url {
            return Err(flag(
                "--poort-metadata-url",
                "with --bindings artifact the peers resolve poort's artifacts at the \
                 ArtifactResolutionService its metadata names, under --poort-url, so they must \
                 reach poort there; leave --poort-metadata-url out, give it the value of \
                 --poort-url, or use --bindings post-redirect",
            ));
        }
        for (name, dir) in [
            ("--metadata-dir", &args.metadata_dir),
            ("--certs-dir", &args.certs_dir),
        ] {
            if dir.as_os_str().is_empty() {
                return Err(flag(name, "is empty"));
            }
        }
        Ok(Settings {
            dv_url,
            ad_url,
            poort_url,
            poort_metadata_url,
            bindings,
        })
    }
}

/// Runs `poort demo-peers` until SIGTERM or Ctrl-C.
pub async fn run(args: Args) -> Result<(), PeersError> {
    let settings = Settings::from_args(&args)?;
    // Watched from here on: a SIGTERM once the peers answer stops them cleanly.
    let mut signals = Signals::install().map_err(PeersError::Signals)?;

    let made = crate::devcerts::generate(&args.certs_dir, false).map_err(|source| {
        PeersError::DevCerts {
            dir: args.certs_dir.display().to_string(),
            source,
        }
    })?;
    if !made.is_empty() {
        tracing::info!(dir = %args.certs_dir.display(), files = made.len(), "made development keys");
    }
    write_metadata(&args.certs_dir, &args.metadata_dir, &settings)?;
    tracing::info!(
        sp = %args.metadata_dir.join("sp").display(),
        idp = %args.metadata_dir.join("idp").display(),
        bindings = ?settings.bindings,
        "wrote the metadata of the demo DV and the development AD"
    );

    let peers = DemoPeers::from_dir_fetching(
        &args.certs_dir,
        &settings.dv_url,
        &settings.ad_url,
        &settings.poort_url,
        &settings.poort_metadata_url,
        settings.bindings,
    )?;

    let dv_listener = bind("--dv-listen", args.dv_listen).await?;
    let ad_listener = bind("--ad-listen", args.ad_listen).await?;
    tracing::info!(
        dv = %settings.dv_url,
        ad = %settings.ad_url,
        poort = %settings.poort_url,
        poort_metadata = %settings.poort_metadata_url,
        dv_listen = %args.dv_listen,
        ad_listen = %args.ad_listen,
        "demo peers listening"
    );

    let (stop, stopped) = tokio::sync::watch::channel(());
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<()>| async move {
        // Resolves when the sender is dropped.
        let _ = rx.changed().await;
    };
    let mut dv_task = tokio::spawn(
        axum::serve(dv_listener, peers.dv_router())
            .with_graceful_shutdown(until_stopped(stopped.clone()))
            .into_future(),
    );
    let mut ad_task = tokio::spawn(
        axum::serve(ad_listener, peers.ad_router())
            .with_graceful_shutdown(until_stopped(stopped))
            .into_future(),
    );
    let ended = tokio::select! {
        () = signals.recv() => None,
        r = &mut dv_task => Some(server_ended("demo DV", r)),
        r = &mut ad_task => Some(server_ended("development AD", r)),
    };
    drop(stop);
    if let Some(error) = ended {
        dv_task.abort();
        ad_task.abort();
        return Err(error);
    }
    tracing::info!("stopping the demo peers");
    let drain = async {
        let _ = (&mut dv_task).await;
        let _ = (&mut ad_task).await;
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::warn!(
            "requests still open after {}s are cut off",
            SHUTDOWN_GRACE.as_secs()
        );
        dv_task.abort();
        ad_task.abort();
    }
    tracing::info!("demo peers stopped");
    Ok(())
}

/// A server task that ended before it was told to: always an error.
fn server_ended(
    peer: &'static str,
    joined: Result<std::io::Result<()>, tokio::task::JoinError>,
) -> PeersError {
    let source = match joined {
        Ok(Err(e)) => e,
        Ok(Ok(())) => std::io::Error::other("it ended unexpectedly"),
        Err(e) => std::io::Error::other(e.to_string()),
    };
    PeersError::Serve { peer, source }
}

async fn bind(
    flag: &'static str,
    address: SocketAddr,
) -> Result<tokio::net::TcpListener, PeersError> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| PeersError::Listen {
            flag,
            address,
            source,
        })
}

/// Writes the metadata into a staging folder beside `sp/` and `idp/`, then moves each file into
/// place, so that poort never reads a half-written file (also when the peers restart while a
/// replica starts).
fn write_metadata(certs_dir: &Path, dir: &Path, s: &Settings) -> Result<(), PeersError> {
    let staging = dir.join(STAGING);
    let (staged_sp, staged_idp) = (staging.join("sp"), staging.join("idp"));
    super::metadata::write_demo_metadata_with(
        certs_dir,
        &staged_sp,
        &staged_idp,
        &s.dv_url,
        &s.ad_url,
        s.bindings,
    )?;
    for (from, to) in [
        (staged_sp.join("demo-dv.xml"), dir.join("sp")),
        (staged_idp.join("dev-ad.xml"), dir.join("idp")),
    ] {
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| PeersError::Metadata { path, source }
        };
        std::fs::create_dir_all(&to).map_err(io(&to))?;
        let target = match from.file_name() {
            Some(name) => to.join(name),
            None => to.clone(),
        };
        std::fs::rename(&from, &target).map_err(io(&target))?;
    }
    // Empty by now; a leftover folder is harmless (poort reads only sp/ and idp/).
    if let Err(e) = std::fs::remove_dir_all(&staging) {
        tracing::debug!(dir = %staging.display(), "staging folder not removed: {e}");
    }
    Ok(())
}

/// SIGTERM and Ctrl-C, watched from [`Signals::install`] on (not from the first poll, as
/// [`crate::server::termination`]), so that a signal right after the peers answer is not lost.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                term: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.interrupt.recv() => {}
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{DEMO_DV_ENTITY_ID, DEV_AD_ENTITY_ID};
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    /// The flags as clap and then [`Settings::from_args`] take them; a refusal as its message.
    fn settings(flags: &[&str]) -> Result<Settings, String> {
        let mut argv = vec!["demo-peers"];
        argv.extend_from_slice(flags);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        Settings::from_args(&cli.args).map_err(|e| e.to_string())
    }

    fn refused(flags: &[&str]) -> String {
        match settings(flags) {
            Ok(s) => panic!("{flags:?} accepted: {s:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn the_compose_flags_are_accepted() {
        let s = settings(&[
            "--dv-listen",
            "0.0.0.0:8081",
            "--ad-listen",
            "0.0.0.0:8082",
            "--poort-url",
            "https://localhost:8443/",
            "--poort-metadata-url",
            "http://proxy:8080",
            "--bindings",
            "post-redirect",
            "--metadata-dir",
            "/var/lib/poort/metadata",
        ])
        .unwrap();
        assert_eq!(
            s,
            Settings {
                dv_url: "http://localhost:8081".into(),
                ad_url: "http://localhost:8082".into(),
                poort_url: "https://localhost:8443".into(),
                poort_metadata_url: "http://proxy:8080".into(),
                bindings: DemoBindings::PostRedirect,
            }
        );
    }

    #[test]
    fn the_metadata_url_defaults_to_the_poort_url() {
        let s = settings(&[
            "--poort-url",
            "http://localhost:8080",
            "--bindings",
            "artifact",
        ])
        .unwrap();
        assert_eq!(s.poort_metadata_url, "http://localhost:8080");
        assert_eq!(s.bindings, DemoBindings::Artifact);
    }

    #[test]
    fn bad_flags_are_refused_with_the_flag_named() {
        let e = refused(&["--poort-url", "https://localhost:8443"]);
        assert!(
            e.starts_with("--poort-metadata-url:") && e.contains("http"),
            "{e}"
        );
        let e = refused(&[
            "--poort-url",
            "http://a",
            "--poort-metadata-url",
            "https://b",
        ]);
        assert!(e.contains("plain http"), "{e}");
        let e = refused(&[
            "--poort-url",
            "http://a",
            "--poort-metadata-url",
            "http://b",
            "--bindings",
            "artifact",
        ]);
        assert!(e.contains("--bindings artifact"), "{e}");
        assert!(refused(&["--poort-url", "localhost:8080"]).starts_with("--poort-url:"));
        assert!(refused(&["--poort-url", "ftp://x"]).starts_with("--poort-url:"));
        assert!(
            refused(&["--poort-url", "http://x", "--dv-url", "http://d?q=1"])
                .starts_with("--dv-url:")
        );
        assert!(refused(&[
            "--poort-url",
            "http://x",
            "--dv-url",
            "http://localhost:8082"
        ])
        .starts_with("--ad-url:"));
        assert!(refused(&[
            "--poort-url",
            "http://x",
            "--dv-listen",
            "127.0.0.1:9000",
            "--ad-listen",
            "127.0.0.1:9000"
        ])
        .starts_with("--ad-listen:"));
        assert!(
            refused(&["--poort-url", "http://x", "--metadata-dir", ""]).contains("metadata-dir")
        );
        assert!(refused(&["--poort-url", "http://x", "--bindings", "soap"]).contains("soap"));
        assert!(refused(&["--dv-url", "http://x"]).contains("--poort-url"));
    }

    #[test]
    fn metadata_is_moved_into_place_and_poort_loads_it() {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        crate::devcerts::generate(&certs, false).unwrap();
        let out = dir.path().join("metadata");
        let s = settings(&["--poort-url", "http://poort"]).unwrap();
        // Twice: the second run replaces the files of the first.
        for _ in 0..2 {
            write_metadata(&certs, &out, &s).unwrap();
        }
        assert!(!out.join(STAGING).exists());
        let set = crate::metadata::load(&out.join("sp"), &out.join("idp"), chrono::Utc::now());
        assert!(set.problems.is_empty(), "{:?}", set.problems);
        assert!(set.sp(DEMO_DV_ENTITY_ID).is_some() && set.idp(DEV_AD_ENTITY_ID).is_some());
    }
}
