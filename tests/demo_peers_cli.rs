//! `poort demo-peers` as built: the demo DV and the development AD on their own, as the compose
//! trial runs them. They make their keys, write their metadata, answer, log people in through a
//! poort that browsers and the peers reach at different addresses, and stop on SIGTERM.

mod common;

use common::cluster::free_port;
use poort::demo::{DEMO_DV_ENTITY_ID, DEV_AD_ENTITY_ID};
use poort::metadata::{BINDING_HTTP_POST, BINDING_HTTP_REDIRECT};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest the peers may take to start or to stop (a bound, not a pause).
const LIMIT: Duration = Duration::from_secs(90);

/// A running `poort demo-peers`, with its output kept for failure messages; killed when dropped.
struct Peers {
    child: Child,
    output: Arc<Mutex<String>>,
    dv: String,
    ad: String,
    metadata: PathBuf,
    certs: PathBuf,
}

impl Drop for Peers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keep(stream: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut stream = stream;
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
}

fn poort_command(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_poort"));
    c.current_dir(dir)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Starts `poort demo-peers` on free ports, with its files under `dir`.
fn start_peers(dir: &Path, poort_url: &str, poort_metadata_url: &str) -> Peers {
    let (dv_port, ad_port) = (free_port(), free_port());
    let (dv, ad) = (
        format!("http://127.0.0.1:{dv_port}"),
        format!("http://127.0.0.1:{ad_port}"),
    );
    let (metadata, certs) = (dir.join("metadata"), dir.join("certs"));
    let mut cmd = poort_command(dir);
    cmd.arg("demo-peers")
        .args(["--dv-listen", &format!("127.0.0.1:{dv_port}")])
        .args(["--ad-listen", &format!("127.0.0.1:{ad_port}")])
        .args(["--dv-url", &dv, "--ad-url", &ad])
        .args(["--poort-url", poort_url])
        .args(["--poort-metadata-url", poort_metadata_url])
        .arg("--metadata-dir")
        .arg(&metadata)
        .arg("--certs-dir")
        .arg(&certs)
        .args(["--bindings", "post-redirect"]);
    let mut child = cmd.spawn().unwrap();
    let output = Arc::new(Mutex::new(String::new()));
    keep(child.stdout.take().unwrap(), output.clone());
    keep(child.stderr.take().unwrap(), output.clone());
    Peers {
        child,
        output,
        dv,
        ad,
        metadata,
        certs,
    }
}

impl Peers {
    fn log(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Panics with the peers' output when they have exited.
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("poort demo-peers exited ({status}):\n{}", self.log());
        }
    }

    fn files(&self) -> (PathBuf, PathBuf) {
        (
            self.metadata.join("sp/demo-dv.xml"),
            self.metadata.join("idp/dev-ad.xml"),
        )
    }

    /// Waits (bounded) until both metadata files are written.
    fn wait_for_files(&mut self) {
        let start = Instant::now();
        loop {
            let (sp, idp) = self.files();
            if sp.is_file() && idp.is_file() {
                return;
            }
            self.assert_running();
            assert!(
                start.elapsed() < LIMIT,
                "no metadata after {LIMIT:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits (bounded) until `url` answers 200; its body.
    async fn wait_for(&mut self, url: &str) -> String {
        let start = Instant::now();
        loop {
            if let Ok(r) = reqwest::get(url).await {
                if r.status() == 200 {
                    return r.text().await.unwrap();
                }
            }
            self.assert_running();
            assert!(
                start.elapsed() < LIMIT,
                "{url} did not answer within {LIMIT:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and waits (bounded) for the exit.
    fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < LIMIT,
                "no exit {LIMIT:?} after SIGTERM:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[tokio::test]
async fn writes_metadata_serves_the_peers_and_stops_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    // Nothing listens at poort's metadata URL: the peers start all the same.
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let mut peers = start_peers(tmp.path(), "https://poort.test:8443", &nobody);
    peers.wait_for_files();
    let dv_metadata = peers.wait_for(&format!("{}/metadata", peers.dv)).await;
    let ad_metadata = peers.wait_for(&format!("{}/metadata", peers.ad)).await;

    // The keys were made, and the metadata poort trusts is what the peers serve.
    for name in [
        "demo-dv-signing.crt",
        "demo-dv-encryption.key",
        "dev-ad-signing.key",
    ] {
        assert!(peers.certs.join(name).is_file(), "{name} made");
    }
    let (sp_file, idp_file) = peers.files();
    assert_eq!(std::fs::read_to_string(&sp_file).unwrap(), dv_metadata);
    assert_eq!(std::fs::read_to_string(&idp_file).unwrap(), ad_metadata);
    let set = poort::metadata::load(
        &peers.metadata.join("sp"),
        &peers.metadata.join("idp"),
        chrono::Utc::now(),
    );
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    let dv = set.sp(DEMO_DV_ENTITY_ID).expect("the DV's metadata");
    let acs = dv.acs(Some(0)).unwrap();
    assert_eq!(acs.location, format!("{}/acs", peers.dv));
    assert_eq!(acs.binding, BINDING_HTTP_POST);
    assert!(dv.artifact_resolution.is_empty(), "post-redirect: no ARS");
    let ad = set.idp(DEV_AD_ENTITY_ID).expect("the AD's metadata");
    assert!(!ad.speaks_artifact());
    assert_eq!(
        ad.sso_endpoint(BINDING_HTTP_REDIRECT).unwrap().location,
        format!("{}/sso", peers.ad)
    );
    let parsed = poort::metadata::parse_document(
        &dv_metadata,
        &sp_file,
        poort::metadata::Role::Sp,
        chrono::Utc::now(),
    );
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);

    // Without poort's metadata the DV starts no login, and says why.
    let start = reqwest::get(format!("{}/login?service=1", peers.dv))
        .await
        .unwrap();
    assert_eq!(start.status(), 502);
    let page = start.text().await.unwrap();
    assert!(
        page.contains("cannot log anybody in before it has poort"),
        "{page}"
    );
    assert!(page.contains(&nobody), "the metadata URL is named: {page}");
    let index = reqwest::get(format!("{}/", peers.dv)).await.unwrap();
    assert_eq!(index.status(), 200, "the start page answers");

    let status = peers.terminate();
    assert!(
        status.success(),
        "exit 0 after SIGTERM: {status}\n{}",
        peers.log()
    );
    assert!(reqwest::get(format!("{}/metadata", peers.dv))
        .await
        .is_err());
}

/// The compose trial's set-up: browsers reach poort at one address (here `poort.test`, which only
/// the test's browser resolves), the peers fetch its metadata at another. A whole login through
/// poort works, so both peers fetched poort's metadata at the second address.
#[tokio::test]
async fn a_login_runs_through_poort_that_the_peers_reach_at_another_address() {
    let tmp = tempfile::tempdir().unwrap();
    let mut peers: Option<Peers> = None;
    let mut poort_port = 0u16;
    let world = common::start_prepared(|p, config| {
        let internal = p.poort.clone();
        poort_port = internal
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .unwrap();
        let public = format!("http://poort.test:{poort_port}");
        config.server.public_url = public.clone();
        let mut started = start_peers(tmp.path(), &public, &internal);
        // poort reads the peers' metadata when it starts: the files come first.
        started.wait_for_files();
        config.saml.sp_metadata_dir = started.metadata.join("sp");
        config.saml.idp_metadata_dir = started.metadata.join("idp");
        peers = Some(started);
    })
    .await;
    let mut peers = peers.unwrap();
    peers.wait_for(&format!("{}/metadata", peers.dv)).await;

    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::limited(10))
        .resolve(
            "poort.test",
            std::net::SocketAddr::from(([127, 0, 0, 1], poort_port)),
        )
        .build()
        .unwrap();
    // DV -> poort (at poort.test) -> AD.
    let r = browser
        .get(format!("{}/login?service=2&binding=redirect", peers.dv))
        .send()
        .await
        .unwrap();
    let ad_page = r.text().await.unwrap();
    assert!(
        ad_page.contains("name=\"pending\""),
        "AD page expected: {ad_page}\n{}",
        peers.log()
    );
    // AD -> poort -> DV.
    let to_poort = common::submit(
        &browser,
        &ad_page,
        &[
            ("person", "bram"),
            ("level", "EH2+"),
            ("action", "login"),
            ("sign", "response"),
        ],
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        to_poort.contains(&format!("http://poort.test:{poort_port}/")),
        "the AD answers to poort's public address: {to_poort}"
    );
    let poort_page = common::submit(&browser, &to_poort, &[])
        .await
        .text()
        .await
        .unwrap();
    let v = common::to_dv(&browser, &poort_page).await;
    assert_eq!(v["success"], true, "{v}\n{}", peers.log());
    assert_eq!(v["legal_subject_id"], "11223344");
    assert_eq!(v["level"], "urn:etoegang:core:assurance-class:loa2plus");

    assert!(peers.terminate().success(), "{}", peers.log());
    drop(world);
}

#[test]
fn bad_flags_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (metadata, certs) = (tmp.path().join("metadata"), tmp.path().join("certs"));
    let cases: [(&[&str], &str); 3] = [
        // https cannot be fetched by the peers, and no other address was given.
        (
            &["--poort-url", "https://localhost:8443"],
            "--poort-metadata-url",
        ),
        (
            &[
                "--poort-url",
                "https://localhost:8443",
                "--poort-metadata-url",
                "http://proxy:8080",
                "--bindings",
                "artifact",
            ],
            "--bindings artifact",
        ),
        (
            &[
                "--poort-url",
                "http://localhost:8080",
                "--dv-url",
                "localhost:8081",
            ],
            "--dv-url",
        ),
    ];
    for (flags, named) in cases {
        let mut cmd = poort_command(tmp.path());
        cmd.arg("demo-peers")
            .args(flags)
            .arg("--metadata-dir")
            .arg(&metadata)
            .arg("--certs-dir")
            .arg(&certs);
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flags:?} accepted");
        assert!(stderr.contains(named), "{flags:?}: {stderr}");
        assert!(
            !metadata.exists() && !certs.exists(),
            "{flags:?} wrote files"
        );
    }
}
