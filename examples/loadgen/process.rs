//! poort as a child process: its config file, starting it, stopping it.

use crate::artifact::BackChannelMode;
use crate::{
    Args, Error, Protocol, IDP_ENTITY_ID, OIDC_CLIENT, OIDC_REDIRECT, OIDC_SECRET, SERVICES,
    SERVICE_INDEX, SP_ENTITY_ID,
};
use poort::demo::DEMO_DV_ENTITY_ID;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Poort {
    child: Child,
    /// Its own address (where requests to this process go).
    pub base: String,
    pub label: String,
}

impl Poort {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails if poort has exited (with how it ended).
    pub fn alive(&mut self) -> Result<(), Error> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => {
                Err(format!("poort {} exited during the run: {status}", self.label).into())
            }
        }
    }

    /// Stops it as an orchestrator does (SIGTERM: requests finish, queued decisions and spans
    /// are flushed) and waits, at most `limit`, for it to exit; kills it after that.
    pub fn terminate(&mut self, limit: Duration) -> Result<std::process::ExitStatus, Error> {
        Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()?;
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return Err(format!("poort {} did not stop within {limit:?}", self.label).into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// What a poort process is started with beyond the embedded defaults.
#[derive(Clone, Debug, Default)]
pub struct Extra {
    /// `[server] public_url`: the one address of several replicas (a balancer's). Without it,
    /// the process's own.
    pub public_url: Option<String>,
    /// `[register] database`; without it, a SQLite file of this process's own.
    pub database: Option<String>,
    /// `[state]` and `[cache]` in Redis: the URL and the key prefix, shared by the replicas.
    pub redis: Option<(String, String)>,
    /// `[telemetry]`: spans over OTLP/HTTP-protobuf to this endpoint, every login sampled.
    pub otlp: Option<String>,
    /// `[ops] listen`: the ops listener (`/metrics`) at this address; without it, none.
    pub ops_listen: Option<String>,
    /// A `[[metadata_aggregate]]` of ADs.
    pub aggregate: Option<Aggregate>,
    /// `sso_support = true` on the service the DV asks for (`SERVICE_INDEX`): a later login in
    /// a browser with a login session at poort is answered without the AD (`--session-pairs`).
    pub sso_support: bool,
}

/// A `[[metadata_aggregate]]` entry with role `ad`.
#[derive(Clone, Debug)]
pub struct Aggregate {
    pub source: String,
    pub trust_cert: PathBuf,
    pub cache_file: PathBuf,
    pub refresh_seconds: u64,
}

impl Drop for Poort {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(
    dir: &Path,
    repo: &Path,
    port: u16,
    backchannel: Option<BackChannelMode>,
    extra: &Extra,
) -> Result<PathBuf, Error> {
    let certs = dir.join("certs");
    let path = dir.join(format!("poort-{port}.toml"));
    let p = |x: &Path| x.display().to_string();
    let mut text = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
public_url = "{public}"
production = false
max_body_bytes = 262144

[saml]
idp_entity_id = "{IDP_ENTITY_ID}"
sp_entity_id = "{SP_ENTITY_ID}"
sp_metadata_dir = "{sp}"
idp_metadata_dir = "{idp}"
clock_skew_seconds = 60
request_max_age_seconds = 300
assertion_lifetime_seconds = 300
flow_lifetime_seconds = 900

[keys]
signing_key = "{c}/poort-signing.key"
signing_cert = "{c}/poort-signing.crt"
encryption_key = "{c}/poort-encryption.key"
encryption_cert = "{c}/poort-encryption.crt"
pseudonym_secret = "{c}/pseudonym.secret"
dev_certs_dir = "{c}"

[register]
database = "{db}"
seed = "{grants}"
# Each process's own spool (the default is relative to the working folder, shared here).
audit_spool = "{spool}"

[oidc]
keys_dir = "{c}/oidc"

# Every simulated browser comes from 127.0.0.1: limits far above any run.
[limits]
max_pending_flows = 10000000
max_flows_per_client = 10000000
login_starts_per_minute = 100000000
token_requests_per_minute = 100000000
admin_logins_per_minute = 100000000

[[oidc_client]]
client_id = "{OIDC_CLIENT}"
client_secret = "{OIDC_SECRET}"
redirect_uris = ["{OIDC_REDIRECT}"]
service = "urn:etoegang:DV:00000099990000000002:services:{SERVICE_INDEX}"
"#,
        public = extra
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{port}")),
        db = extra
            .database
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", p(&dir.join(format!("register-{port}.db"))))),
        spool = p(&dir.join(format!("audit-spool-{port}.jsonl"))),
        sp = p(&dir.join("sp")),
        idp = p(&dir.join("idp")),
        c = p(&certs),
        grants = p(&repo.join("config/grants-dev.toml")),
    );
    match backchannel {
        // The peers' ArtifactResolutionServices are plain HTTP on loopback (this program).
        Some(BackChannelMode::Http) => {
            text.push_str("\n[backchannel]\nallow_plain_http = true\n");
        }
        Some(BackChannelMode::Tls | BackChannelMode::TlsClose | BackChannelMode::TlsFull) => {
            let tls = dir.join("tls");
            text.push_str(&format!(
                "\n[backchannel]\nclient_cert = \"{}\"\nclient_key = \"{}\"\nca_certs = \"{}\"\n",
                tls.join("poort-client.crt").display(),
                tls.join("poort-client.key").display(),
                tls.join("ca.crt").display(),
            ));
        }
        None => {}
    }
    if let Some((url, prefix)) = &extra.redis {
        // Pending logins, the replay cache and artifacts (`[state]`) and the grant cache
        // (`[cache]`) shared by the replicas, under one prefix.
        for section in ["state", "cache"] {
            text.push_str(&format!(
                "\n[{section}]\nredis_url = \"{url}\"\nprefix = \"{prefix}\"\n"
            ));
        }
    }
    if let Some(endpoint) = &extra.otlp {
        text.push_str(&format!(
            "\n[telemetry]\nenabled = true\nprotocol = \"http/protobuf\"\nendpoint = \
             \"{endpoint}\"\nsampling_ratio = 1.0\n"
        ));
    }
    if let Some(ag) = &extra.aggregate {
        text.push_str(&format!(
            "\n[[metadata_aggregate]]\nsource = \"{}\"\ntrust_cert = \"{}\"\nrole = \"ad\"\n\
             cache_file = \"{}\"\nrefresh_seconds = {}\nretry_seconds = 1\n",
            ag.source,
            ag.trust_cert.display(),
            ag.cache_file.display(),
            ag.refresh_seconds
        ));
    }
    // The service catalogue of config/poort.toml.
    for (index, level) in SERVICES {
        text.push_str(&format!(
            r#"
[[service]]
id = "urn:etoegang:DV:00000099990000000002:services:{index}"
uuid = "5a1d3b0e-8c9f-4f5e-9b1a-00000000000{index}"
name_nl = "Dienst {index}"
name_en = "Service {index}"
provider = "{DEMO_DV_ENTITY_ID}"
acs_index = {index}
level = "{level}"
"#
        ));
        if extra.sso_support && index == SERVICE_INDEX {
            text.push_str("sso_support = true\n");
        }
    }
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Starts `poort serve` on a free port with the config for `a` and `extra`, and waits (at most
/// 20 s) for it to answer.
pub async fn start_poort(a: &Args, dir: &Path, label: &str, extra: &Extra) -> Result<Poort, Error> {
    let port = free_port()?;
    let backchannel = (a.protocol == Protocol::Artifact).then_some(a.backchannel);
    let config = write_config(dir, &a.repo, port, backchannel, extra)?;
    let log = std::fs::File::create(dir.join(format!("poort-{label}.log")))?;
    let mut cmd = Command::new(&a.poort);
    cmd.arg("serve")
        .arg("--config")
        .arg(&config)
        // No ops listener unless asked for: two poorts of one run would want the same port.
        .env(
            "POORT_OPS__LISTEN",
            extra.ops_listen.as_deref().unwrap_or(""),
        )
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // Only the config decides about traces: no OTEL_* of this shell reaches poort.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("OTEL_") {
            cmd.env_remove(key);
        }
    }
    match &a.rust_log {
        Some(filter) => cmd.env("RUST_LOG", filter),
        None => cmd.env_remove("RUST_LOG"),
    };
    let poort = Poort {
        child: cmd.spawn()?,
        base: format!("http://127.0.0.1:{port}"),
        label: label.to_string(),
    };
    let c = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = c.get(format!("{}/saml/metadata", poort.base)).send().await {
            if r.status().is_success() {
                return Ok(poort);
            }
        }
        if Instant::now() > deadline {
            return Err(format!("poort did not become healthy; see poort-{label}.log").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A port nobody listens on now (the OS's pick).
pub fn free_port() -> Result<u16, Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
