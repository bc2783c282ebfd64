//! Several `poort serve` processes sharing one register and one cache, each with its own demo DV
//! and development AD (served by the test process), plus a throwaway redis-server the test
//! can stop, freeze and restart, and fresh PostgreSQL databases.

use poort::config::{
    CacheConfig, Config, KeysConfig, RegisterConfig, SamlConfig, ServerConfig, ServiceConfig,
    StateConfig,
};
use poort::demo::DemoBindings;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest a process may take to start (a bound, not a pause).
const START_LIMIT: Duration = Duration::from_secs(60);

/// A port nobody listens on now, for a process the test starts that must know its port before
/// it binds. It is drawn below the kernel's ephemeral range: a port the OS hands out (to a
/// `bind(0)` or to an outgoing connection of a parallel test) could be taken again between this
/// check and the child's bind, which once made a replica fail with "Address already in use". A
/// port is never handed out twice by one test binary.
pub fn free_port() -> u16 {
    use rand::Rng;
    use std::sync::Mutex;
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let low = ephemeral_range_start().clamp(2048, 65535);
    let (from, to) = (low.saturating_sub(16384).max(1024), low);
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for _ in 0..10_000 {
        let port = rand::rng().random_range(from..to);
        if given.contains(&port) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
    panic!("no free port below the ephemeral range {from}..{to}");
}

/// The first port of the kernel's ephemeral range (Linux's default when it cannot be read).
fn ephemeral_range_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

/// A redis-server of the test's own, on a free port, keeping nothing on disk.
pub struct ThrowawayRedis {
    pub port: u16,
    child: Option<Child>,
}

impl ThrowawayRedis {
    pub fn start() -> ThrowawayRedis {
        Self::start_on(free_port())
    }

    pub fn start_on(port: u16) -> ThrowawayRedis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server is required for this test ({e})"));
        let redis = ThrowawayRedis {
            port,
            child: Some(child),
        };
        let deadline = Instant::now() + START_LIMIT;
        while !redis.answers() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Whether it answers PING now.
    pub fn answers(&self) -> bool {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        if s.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    /// Freezes the server: connections stay open, nothing answers, everything it holds stays.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    /// Kills it; what it held is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.thaw();
        }
        self.kill();
    }
}

/// A fresh PostgreSQL database on the local server (`POORT_TEST_POSTGRES` names the
/// maintenance database), dropped when this is dropped.
pub struct FreshPostgres {
    pub url: String,
    admin_url: String,
    name: String,
}

impl FreshPostgres {
    pub fn create() -> FreshPostgres {
        let admin_url = std::env::var("POORT_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
        let name = format!("poort_test_{}", uuid::Uuid::new_v4().simple());
        psql(&admin_url, &format!("CREATE DATABASE {name}"));
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&name);
        FreshPostgres {
            url: url.to_string(),
            admin_url,
            name,
        }
    }
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .unwrap_or_else(|e| panic!("psql is required for this test ({e})"));
    assert!(
        out.status.success(),
        "PostgreSQL is required for this test and refused {sql:?} at {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for FreshPostgres {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &self.admin_url,
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// One `poort serve` process with its own demo DV and development AD.
pub struct Replica {
    /// The address people and peers use (the balancer's, behind one).
    pub poort: String,
    /// The replica's own address.
    pub direct: String,
    /// Its ops listener (metrics, health).
    pub ops: String,
    pub dv: String,
    pub ad: String,
    pub config_path: PathBuf,
    child: Child,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    /// Sends it SIGTERM (a graceful shutdown).
    pub fn terminate(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM");
    }

    /// Kills it outright (SIGKILL): nothing it held in memory survives.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits (bounded) for the process to exit and returns its status.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "poort did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its `/readyz`: the status and the JSON body.
    pub async fn readiness(&self) -> (u16, serde_json::Value) {
        let r = reqwest::get(format!("{}/readyz", self.ops)).await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// The text of its `/metrics`.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.ops))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The value of one counter in its `/metrics`.
    pub async fn counter(&self, name: &str) -> u64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
            .trim()
            .parse()
            .unwrap()
    }
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub certs: PathBuf,
    pub replicas: Vec<Replica>,
}

impl Cluster {
    /// The config file of replica `i` (for `poort` commands acting as another process).
    pub fn config(&self, i: usize) -> &Path {
        &self.replicas[i].config_path
    }
}

fn service(index: u16, level: &str) -> ServiceConfig {
    super::service(index, level)
}

/// Starts `n` poort processes on `register`, `cache` and `state`, each with its own address,
/// demo DV and development AD.
pub async fn start_cluster(
    n: usize,
    register: RegisterConfig,
    cache: CacheConfig,
    state: StateConfig,
) -> Cluster {
    let bindings = DemoBindings::PostRedirect;
    start(n, register, cache, state, false, bindings, &|_, _, _| {}).await
}

/// Starts `n` poort processes behind one address, as behind a load balancer that sends the steps
/// of one login to different replicas (see [`split_steps`]). One demo DV and one development
/// AD talk to that address.
pub async fn start_balanced(
    n: usize,
    register: RegisterConfig,
    cache: CacheConfig,
    state: StateConfig,
) -> Cluster {
    let bindings = DemoBindings::PostRedirect;
    start(n, register, cache, state, true, bindings, &|_, _, _| {}).await
}

/// What a test changes in replica `i` before it starts: its config, and the environment of its
/// process (added to the test's own).
pub type Tweak<'a> = &'a dyn Fn(usize, &mut Config, &mut Vec<(String, String)>);

/// Like [`start_balanced`], with the demo peers speaking `bindings` (with
/// [`DemoBindings::Artifact`] poort resolves their artifacts over plain http on 127.0.0.1), and
/// `tweak` applied to each replica's config and environment (telemetry pointed at a test's
/// receiver, an OIDC client, `OTEL_*` variables).
pub async fn start_balanced_with(
    n: usize,
    register: RegisterConfig,
    cache: CacheConfig,
    state: StateConfig,
    bindings: DemoBindings,
    tweak: Tweak<'_>,
) -> Cluster {
    start(n, register, cache, state, true, bindings, tweak).await
}

/// Sends the first step of every login (the DV's request at `/saml/sso`, an OIDC client's at
/// `/oidc/authorize`) to the first backend and everything else to the last, so that a login
/// always crosses replicas: the worst a load balancer can do. The client opens a new connection
/// per request, so the request line is the first thing on each connection.
async fn split_steps(front: tokio::net::TcpListener, backends: Vec<String>) {
    while let Ok((mut inbound, _)) = front.accept().await {
        let backends = backends.clone();
        tokio::spawn(async move {
            let mut head = [0u8; 64];
            let Ok(n) = inbound.peek(&mut head).await else {
                return;
            };
            let line = String::from_utf8_lossy(&head[..n]);
            let first = line.contains(" /saml/sso") || line.contains(" /oidc/authorize");
            let backend = if first {
                &backends[0]
            } else {
                &backends[backends.len() - 1]
            };
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(backend).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

async fn start(
    n: usize,
    register: RegisterConfig,
    cache: CacheConfig,
    state: StateConfig,
    balanced: bool,
    bindings: DemoBindings,
    tweak: Tweak<'_>,
) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    poort::devcerts::generate(&certs, false).unwrap();
    let url = |l: &tokio::net::TcpListener| format!("http://{}", l.local_addr().unwrap());
    let front = if balanced {
        Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
    } else {
        None
    };
    let mut shared_peers = None;
    let mut backends = Vec::new();
    let mut replicas = Vec::new();
    for i in 0..n {
        let sp_dir = dir.path().join(format!("sp-{i}"));
        let idp_dir = dir.path().join(format!("idp-{i}"));
        std::fs::create_dir_all(&sp_dir).unwrap();
        std::fs::create_dir_all(&idp_dir).unwrap();
        let port = free_port();
        let ops_port = free_port();
        let poort = match &front {
            Some(front) => url(front),
            None => format!("http://127.0.0.1:{port}"),
        };
        backends.push(format!("127.0.0.1:{port}"));
        // Behind one address, all replicas share one DV and one AD.
        let (dv, ad, listeners) = match &shared_peers {
            Some((dv, ad)) => (String::clone(dv), String::clone(ad), None),
            None => {
                let dl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let al = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let (dv, ad) = (url(&dl), url(&al));
                if balanced {
                    shared_peers = Some((dv.clone(), ad.clone()));
                }
                (dv, ad, Some((dl, al)))
            }
        };
        poort::demo::metadata::write_demo_metadata_with(
            &certs, &sp_dir, &idp_dir, &dv, &ad, bindings,
        )
        .unwrap();
        let mut config = Config {
            server: ServerConfig {
                listen: format!("127.0.0.1:{port}"),
                public_url: poort.clone(),
                production: false,
                max_body_bytes: 256 * 1024,
                ..ServerConfig::default()
            },
            saml: SamlConfig {
                idp_entity_id: "urn:etoegang:HM:00000099990000000001:entities:1".into(),
                sp_entity_id: "urn:etoegang:HM:00000099990000000001:entities:2".into(),
                sp_metadata_dir: sp_dir,
                idp_metadata_dir: idp_dir,
                clock_skew_seconds: 60,
                request_max_age_seconds: 300,
                assertion_lifetime_seconds: 300,
                flow_lifetime_seconds: 900,
                artifact_lifetime_seconds: 60,
                framework_version: "1.13".into(),
            },
            keys: KeysConfig {
                signing_key: certs.join("poort-signing.key"),
                signing_cert: certs.join("poort-signing.crt"),
                encryption_key: certs.join("poort-encryption.key"),
                encryption_cert: certs.join("poort-encryption.crt"),
                pseudonym_secret: certs.join("pseudonym.secret"),
                dev_certs_dir: certs.clone(),
            },
            register: register.clone(),
            cache: cache.clone(),
            state: state.clone(),
            services: vec![service(1, "EH3"), service(2, "EH2+")],
            catalogues: vec![],
            metadata_aggregates: vec![],
            dvs: vec![],
            oidc_clients: vec![],
            oidc_providers: vec![],
            backchannel: Default::default(),
            ops: poort::config::OpsConfig {
                listen: format!("127.0.0.1:{ops_port}"),
                ..Default::default()
            },
            log: Default::default(),
            telemetry: Default::default(),
            limits: super::test_limits(),
            theme: Default::default(),
            operator: Default::default(),
            login_session: Default::default(),
            admin: Default::default(),
            mail: Default::default(),
            oidc: poort::config::OidcConfig {
                keys_dir: certs.join("oidc"),
                ..Default::default()
            },
        };
        // The peers are on http://127.0.0.1: resolving their artifacts needs plain http.
        config.backchannel.allow_plain_http = bindings == DemoBindings::Artifact;
        let mut env = Vec::new();
        tweak(i, &mut config, &mut env);
        let config_path = dir.path().join(format!("poort-{i}.toml"));
        std::fs::write(&config_path, toml::to_string(&config).unwrap()).unwrap();
        let child = spawn_serve(&config_path, dir.path(), &env);
        if let Some((dl, al)) = listeners {
            let peers =
                poort::demo::DemoPeers::from_dir_with(&certs, &dv, &ad, &poort, bindings).unwrap();
            tokio::spawn(poort::demo::serve(dl, peers.dv_router()));
            tokio::spawn(poort::demo::serve(al, peers.ad_router()));
        }
        replicas.push(Replica {
            poort,
            direct: format!("http://127.0.0.1:{port}"),
            ops: format!("http://127.0.0.1:{ops_port}"),
            dv,
            ad,
            config_path,
            child,
        });
    }
    if let Some(front) = front {
        tokio::spawn(split_steps(front, backends));
    }
    Cluster {
        dir,
        certs,
        replicas,
    }
}

/// Spawns `poort serve` (with `env` added to its environment) and waits (bounded) for its
/// "listening" line.
fn spawn_serve(config: &Path, dir: &Path, env: &[(String, String)]) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_poort"))
        .args(["serve", "--config"])
        .arg(config)
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // Keep the log visible for failing tests; stop forwarding once nobody listens.
            eprintln!("[poort] {line}");
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + START_LIMIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("poort listening") => return child,
            Ok(_) => {}
            Err(e) => {
                let _ = child.kill();
                panic!("poort serve did not start ({e})");
            }
        }
    }
}

/// What a login came to, as the person sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The DV accepted poort's answer for this organisation (KvK number).
    Allowed(String),
    /// poort asks which organisation.
    ChooseOrganisation,
    /// poort refused: the HTTP status and the page.
    Refused(u16, String),
}

/// A cookie-keeping client that opens a new connection for every request, so that behind a
/// balancer each step may land on another replica.
pub fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// One whole login of `person` at `level` to service `service` through the DV at `dv`.
pub async fn login(dv: &str, person: &str, level: &str, service: u16) -> Outcome {
    let c = fresh_client();
    let ad_page = super::dv_to_ad(&c, dv, service, "redirect").await;
    finish(&c, &ad_page, person, level).await
}

/// The rest of a login begun by `c` at the development AD's page: `person` logs in at `level`,
/// poort answers, and the DV gives its verdict on an answer poort sent.
pub async fn finish(c: &reqwest::Client, ad_page: &str, person: &str, level: &str) -> Outcome {
    let r = super::through_ad(c, ad_page, person, level).await;
    if r.url().path().starts_with("/login/organisation") {
        return Outcome::ChooseOrganisation;
    }
    let status = r.status().as_u16();
    let page = r.text().await.unwrap();
    if status != 200 {
        return Outcome::Refused(status, page);
    }
    let v = super::to_dv(c, &page).await;
    assert_eq!(v["success"], true, "DV verdict on a 200 answer: {v}");
    Outcome::Allowed(v["legal_subject_id"].as_str().unwrap().to_string())
}

/// A register on a SQLite file in `dir`, seeded from the development grants.
pub fn sqlite_register(dir: &tempfile::TempDir) -> RegisterConfig {
    RegisterConfig {
        database: format!("sqlite://{}", dir.path().join("register.db").display()),
        seed: Some(super::repo_file("config/grants-dev.toml")),
        audit_spool: dir.path().join("audit-spool.jsonl"),
        ..RegisterConfig::default()
    }
}

/// Grant cache and login state in `redis`, under a prefix of their own.
pub fn in_redis(redis: &ThrowawayRedis) -> (CacheConfig, StateConfig) {
    let prefix = format!("poort-test-{}", uuid::Uuid::new_v4().simple());
    (
        CacheConfig {
            redis_url: Some(redis.url()),
            prefix: prefix.clone(),
            ..CacheConfig::default()
        },
        StateConfig {
            redis_url: Some(redis.url()),
            prefix,
        },
    )
}
