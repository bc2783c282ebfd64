//! The `poort` command as built: dev-certs, check, and serve (production refusal, environment
//! overrides).

mod common;

use poort::config::{CacheConfig, Config, KeysConfig, RegisterConfig, SamlConfig, ServerConfig};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Longest any command may take before the test gives up on it (a bound, not a pause).
const LIMIT: Duration = Duration::from_secs(120);

fn poort() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_poort"));
    c.env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("POORT_SERVER__PUBLIC_URL");
    c
}

/// Runs a command to its end (killed after [`LIMIT`]).
fn run(mut cmd: Command, dir: &Path) -> Output {
    cmd.current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(LIMIT) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("poort did not finish within {LIMIT:?}");
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const FILES: [&str; 11] = [
    "poort-signing.key",
    "poort-signing.crt",
    "poort-encryption.key",
    "poort-encryption.crt",
    "demo-dv-signing.key",
    "demo-dv-signing.crt",
    "demo-dv-encryption.key",
    "demo-dv-encryption.crt",
    "dev-ad-signing.key",
    "dev-ad-signing.crt",
    "pseudonym.secret",
];

#[test]
fn dev_certs_makes_the_files_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("certs");
    let mut cmd = poort();
    cmd.args(["dev-certs", "--dir"]).arg(&dir);
    let out = run(cmd, tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let before: Vec<Vec<u8>> = FILES
        .iter()
        .map(|f| {
            assert!(stdout.contains(f), "{f} reported: {stdout}");
            std::fs::read(dir.join(f)).unwrap_or_else(|_| panic!("{f} written"))
        })
        .collect();
    let key = poort::keys::SigningKey::load(
        &dir.join("poort-signing.key"),
        &dir.join("poort-signing.crt"),
    )
    .unwrap();
    assert!(poort::devcerts::is_dev_cert(&key.cert_der));

    // Again: nothing is replaced.
    let mut cmd = poort();
    cmd.args(["dev-certs", "--dir"]).arg(&dir);
    let out = run(cmd, tmp.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("already exist"), "{stdout}");
    assert!(!stdout.contains("wrote"), "{stdout}");
    for (f, old) in FILES.iter().zip(&before) {
        assert_eq!(&std::fs::read(dir.join(f)).unwrap(), old, "{f} unchanged");
    }
}

/// A complete setup in `dir`: development keys, demo metadata, and a config file using them.
fn setup(dir: &Path) -> (PathBuf, Config) {
    let certs = dir.join("certs");
    let sp = dir.join("metadata/sp");
    let idp = dir.join("metadata/idp");
    poort::devcerts::generate(&certs, false).unwrap();
    poort::demo::metadata::write_demo_metadata(
        &certs,
        &sp,
        &idp,
        "http://localhost:8081",
        "http://localhost:8082",
    )
    .unwrap();
    let config = Config {
        server: ServerConfig {
            listen: "127.0.0.1:0".into(),
            public_url: "http://localhost:8080".into(),
            production: false,
            max_body_bytes: 256 * 1024,
            ..ServerConfig::default()
        },
        saml: SamlConfig {
            idp_entity_id: "urn:etoegang:HM:00000099990000000001:entities:1".into(),
            sp_entity_id: "urn:etoegang:HM:00000099990000000001:entities:2".into(),
            sp_metadata_dir: sp,
            idp_metadata_dir: idp,
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
        register: RegisterConfig {
            database: format!("sqlite://{}", dir.join("data/register.db").display()),
            seed: Some(common::repo_file("config/grants-dev.toml")),
            audit_spool: dir.join("data/audit-spool.jsonl"),
            ..RegisterConfig::default()
        },
        cache: CacheConfig::default(),
        state: Default::default(),
        services: vec![common::service(1, "EH3"), common::service(2, "EH2+")],
        catalogues: vec![],
        metadata_aggregates: vec![],
        dvs: vec![],
        oidc_clients: vec![],
        oidc_providers: vec![],
        backchannel: Default::default(),
        ops: Default::default(),
        log: Default::default(),
        telemetry: Default::default(),
        limits: Default::default(),
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
    let path = dir.join("poort.toml");
    write_config(&path, &config);
    (path, config)
}

fn write_config(path: &Path, config: &Config) {
    std::fs::write(path, toml::to_string(config).unwrap()).unwrap();
}

fn check(config: &Path, dir: &Path) -> (i32, String) {
    let mut cmd = poort();
    cmd.args(["check", "--config"]).arg(config);
    let out = run(cmd, dir);
    (out.status.code().unwrap(), text(&out.stdout))
}

#[test]
fn check_passes_a_good_setup() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, _) = setup(tmp.path());
    let (code, stdout) = check(&path, tmp.path());
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("0 error(s)"), "{stdout}");
    assert!(!stdout.contains("error:"), "{stdout}");
}

/// The line of `stdout` that names `file` and says `what`.
fn finding<'a>(stdout: &'a str, file: &Path, what: &str) -> &'a str {
    let file = file.display().to_string();
    stdout
        .lines()
        .find(|l| l.starts_with("error: ") && l.contains(&file) && l.contains(what))
        .unwrap_or_else(|| panic!("no error about {what:?} in {file}:\n{stdout}"))
}

#[test]
fn check_reports_each_problem_with_its_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, mut config) = setup(tmp.path());
    // A DV metadata file with a DTD inside.
    let dtd = config.saml.sp_metadata_dir.join("with-dtd.xml");
    std::fs::write(
        &dtd,
        concat!(
            r#"<?xml version="1.0"?><!DOCTYPE md:EntityDescriptor [<!ENTITY e "x">]>"#,
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="urn:etoegang:DV:00000099990000000066:entities:1">&e;</md:EntityDescriptor>"#
        ),
    )
    .unwrap();
    // An AD metadata file whose certificate is not base64.
    let good = std::fs::read_to_string(config.saml.idp_metadata_dir.join("dev-ad.xml")).unwrap();
    let start = good.find("<ds:X509Certificate>").unwrap() + "<ds:X509Certificate>".len();
    let end = good.find("</ds:X509Certificate>").unwrap();
    let bad_cert = config.saml.idp_metadata_dir.join("bad-cert.xml");
    std::fs::write(
        &bad_cert,
        format!("{}!!not*base64!!{}", &good[..start], &good[end..]).replace(
            poort::demo::DEV_AD_ENTITY_ID,
            "urn:etoegang:AD:00000099990000000008:entities:1",
        ),
    )
    .unwrap();
    // A service whose provider has no metadata.
    let orphan = "urn:etoegang:DV:00000099990000000077:entities:1";
    let mut service = common::service(3, "EH3");
    service.provider = orphan.into();
    config.services.push(service);
    // OpenID Connect clients with problems.
    config.oidc_clients = vec![
        poort::config::OidcClientConfig {
            client_id: "rp-1".into(),
            client_secret: Some("a-secret-long-enough-for-production-use".into()),
            public_key: Some(tmp.path().join("missing.pem")),
            redirect_uris: vec!["https://rp.example/cb#frag".into()],
            post_logout_redirect_uris: Vec::new(),
            service: "urn:nowhere:services:9".into(),
            id_token_signed_response_alg: Some("HS256".into()),
            allow_without_pkce: false,
        },
        poort::config::OidcClientConfig {
            client_id: "rp-1".into(),
            client_secret: None,
            public_key: None,
            redirect_uris: vec!["not a url".into()],
            post_logout_redirect_uris: Vec::new(),
            service: common::service(1, "EH3").id,
            id_token_signed_response_alg: None,
            allow_without_pkce: false,
        },
    ];
    // Upstream OIDC ADs with problems: `none` allowed, an issuer twice, an unknown auth method.
    let provider = |issuer: &str| poort::config::OidcProviderConfig {
        issuer: issuer.into(),
        name_nl: "AD".into(),
        name_en: "AD".into(),
        client_id: "poort".into(),
        client_secret: Some("s".into()),
        token_endpoint_auth_method: None,
        allowed_algs: vec!["RS256".into()],
        scopes: vec![],
        userinfo: false,
        acr: Default::default(),
        discovery_refresh_seconds: 3600,
    };
    let mut with_none = provider("https://ad-1.example");
    with_none.allowed_algs = vec!["RS256".into(), "none".into()];
    let mut bad_auth = provider("https://ad-2.example");
    bad_auth.token_endpoint_auth_method = Some("tls_client_auth".into());
    config.oidc_providers = vec![with_none, provider("https://ad-1.example"), bad_auth];
    // An operator API token pasted where its hash belongs, beside a good hash.
    config.operator.api_token_sha256 = vec![
        "the-token-itself".into(),
        poort::grants::token_hash("the-token-itself"),
    ];
    // A register database poort cannot open.
    config.register.database = "mysql://db.example/poort".into();
    // A key file that is not there.
    let missing = tmp.path().join("certs/missing.key");
    config.keys.signing_key = missing.clone();
    write_config(&path, &config);
    // An outdated section, which loading ignores.
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n[grants]\nfile = \"config/grants-dev.toml\"\n");
    std::fs::write(&path, text).unwrap();

    let (code, stdout) = check(&path, tmp.path());
    assert_eq!(code, 1, "{stdout}");
    finding(&stdout, &path, "unknown section [grants]");
    finding(&stdout, &dtd, "DOCTYPE");
    finding(&stdout, &bad_cert, "base64");
    finding(&stdout, &path, orphan);
    finding(&stdout, &missing, "cannot read");
    finding(&stdout, &path, "mysql://db.example/poort");
    for what in [
        "client rp-1: service urn:nowhere:services:9 is not in the catalogue",
        "has a fragment",
        "not both",
        "HS256",
        "client_id appears twice",
        "\"not a url\" is not an absolute URL",
        "identity provider https://ad-1.example: ID-token algorithm none is never accepted",
        "identity provider https://ad-1.example: issuer appears twice",
        "identity provider https://ad-2.example: token_endpoint_auth_method tls_client_auth",
        "[operator] api_token_sha256 entry 1: not 64 hexadecimal digits",
    ] {
        finding(&stdout, &path, what);
    }
    assert!(
        !stdout.contains("the-token-itself"),
        "a token is never repeated"
    );
    assert!(!stdout.contains("api_token_sha256 entry 2"), "{stdout}");
    let summary = stdout.lines().last().unwrap();
    assert!(
        summary.ends_with("warning(s)") && !summary.starts_with("0 error(s)"),
        "{summary}"
    );
    let errors: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(errors >= 4, "{stdout}");
}

#[test]
fn production_refuses_development_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, mut config) = setup(tmp.path());
    config.server.production = true;
    write_config(&path, &config);

    let mut cmd = poort();
    cmd.args(["serve", "--config"]).arg(&path);
    let out = run(cmd, tmp.path());
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("development keys"), "{stderr}");

    // `poort check` says the same, naming the certificate.
    let (code, stdout) = check(&path, tmp.path());
    assert_eq!(code, 1, "{stdout}");
    finding(
        &stdout,
        &config.keys.signing_cert,
        "development certificate in production mode",
    );
}

/// A running `poort serve`, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn environment_overrides_the_public_url() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, mut config) = setup(tmp.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    config.server.listen = format!("127.0.0.1:{port}");
    config.server.public_url = format!("http://127.0.0.1:{port}");
    let ops_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    config.ops.listen = format!("127.0.0.1:{ops_port}");
    write_config(&path, &config);
    let overridden = "https://poort.override.example";

    let mut cmd = poort();
    cmd.args(["serve", "--config"])
        .arg(&path)
        .env("POORT_SERVER__PUBLIC_URL", overridden)
        .current_dir(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut server = Server(cmd.spawn().unwrap());

    // Wait for its "listening" log line (bounded), then for /healthz.
    let stdout = server.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    loop {
        match rx.recv_timeout(LIMIT) {
            Ok(line) if line.contains("poort listening") => break,
            Ok(line) => log.push_str(&format!("{line}\n")),
            Err(e) => panic!("poort serve did not start ({e}):\n{log}"),
        }
    }
    let base = format!("http://127.0.0.1:{port}");
    let ops = format!("http://127.0.0.1:{ops_port}");
    let health = reqwest::get(format!("{ops}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    let ready = reqwest::get(format!("{ops}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let public = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(
        public.status(),
        404,
        "health and metrics are not on the public port"
    );

    let idp = reqwest::get(format!("{base}/saml/metadata"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        idp.contains(&format!(r#"Location="{overridden}/saml/sso/1.13""#)),
        "{idp}"
    );
    assert!(!idp.contains(&config.server.public_url), "{idp}");
    let sp = reqwest::get(format!("{base}/saml/sp/metadata"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        sp.contains(&format!(r#"Location="{overridden}/saml/acs/1.13""#)),
        "{sp}"
    );
    drop(server);
}
