//! A login's trace as a real OTLP receiver gets it: two `poort serve` replicas behind a balancer
//! that sends each login's first step to replica 0 and the rest to replica 1 export their spans
//! to a receiver built on the OpenTelemetry project's own protobuf definitions and gRPC
//! (`tests/otel/receiver.py`, PyPI `opentelemetry-proto` and `grpcio` in `tests/otel/.venv`),
//! replica 0 over OTLP/gRPC and replica 1 over OTLP/HTTP-protobuf. A SAML login (HTTP-Redirect
//! and HTTP-POST), an OIDC login and a SAML Artifact-Artifact login must each arrive as one
//! trace: spans from both replicas, every parent present, the expected spans with their
//! attributes, and no test person's name, e-mail address, KvK number or subject anywhere in any
//! span.

#[path = "../common/mod.rs"]
mod common;
mod privacy;
mod reading;
mod receiver;

use common::cluster::{
    in_redis, login, sqlite_register, start_balanced_with, Outcome, ThrowawayRedis,
};
use common::oidc_rp::{authorize_url, client_config, param, walk};
use poort::config::{Config, OtlpProtocol, TelemetryConfig};
use poort::demo::DemoBindings;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use privacy::*;
use reading::*;
use receiver::*;

/// Longest the receiver may take to start (a bound, not a pause).
const LIMIT: Duration = Duration::from_secs(60);
/// Longest a login's spans may take to arrive (a bound: batches go every 100 ms).
const SPANS_LIMIT: Duration = Duration::from_secs(20);

const DEV_AD: &str = "urn:etoegang:AD:00000099990000000003:entities:1";
const DEMO_DV: &str = "urn:etoegang:DV:00000099990000000002:entities:1";

const CLIENT: &str = "rp-traced";
const SECRET: &str = "a-long-client-secret-for-tests";
const RP_CB: &str = "https://rp.example/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

// ---------------------------------------------------------------------------------------------
// The cluster: two replicas, shared state in Redis, telemetry to the receiver.

struct Traced {
    receiver: Receiver,
    cluster: common::cluster::Cluster,
    _redis: ThrowawayRedis,
    _dir: tempfile::TempDir,
}

/// What replica `i` is called in its spans' resource (`service.instance.id`, set through the
/// standard `OTEL_RESOURCE_ATTRIBUTES`, as a deployment would).
fn instance(i: usize) -> String {
    format!("poort-replica-{i}")
}

/// How replica `i` exports: replica 0 over gRPC, replica 1 over HTTP/protobuf.
fn transport(i: usize) -> &'static str {
    if i == 0 {
        "grpc"
    } else {
        "http/protobuf"
    }
}

async fn traced_cluster(bindings: DemoBindings) -> Traced {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(dir.path());
    let redis = ThrowawayRedis::start();
    let (cache, state) = in_redis(&redis);
    let register = sqlite_register(&dir);
    let (grpc, http) = (receiver.grpc, receiver.http);
    let tweak = move |i: usize, config: &mut Config, env: &mut Vec<(String, String)>| {
        let (protocol, port) = if i == 0 {
            (OtlpProtocol::Grpc, grpc)
        } else {
            (OtlpProtocol::HttpProtobuf, http)
        };
        config.telemetry = TelemetryConfig {
            enabled: true,
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            protocol,
            sampling_ratio: 1.0,
            ..TelemetryConfig::default()
        };
        config
            .oidc_clients
            .push(client_config(CLIENT, Some(SECRET), RP_CB));
        env.push((
            "OTEL_RESOURCE_ATTRIBUTES".into(),
            format!("service.instance.id={}", instance(i)),
        ));
        // Batches every 100 ms instead of every 5 s: the test waits less.
        env.push(("OTEL_BSP_SCHEDULE_DELAY".into(), "100".into()));
    };
    let cluster = start_balanced_with(2, register, cache, state, bindings, &tweak).await;
    Traced {
        receiver,
        cluster,
        _redis: redis,
        _dir: dir,
    }
}

// ---------------------------------------------------------------------------------------------
// The logins.

/// The trace of a login by `dv` through the development AD whose first step is `steps[0]`,
/// waited for and checked by [`assert_one_trace`]: its start, the AD's request and answer, the
/// decision (with `outcome`, or any) and the grants it read, each with its attributes, and the
/// login's `more` spans.
async fn assert_login_trace(
    receiver: &Receiver,
    steps: &[(&str, usize)],
    (dv, outcome): (&str, Option<&str>),
    more: &[Expected<'_>],
) -> Vec<Value> {
    let by_dv = [("dv", Some(dv))];
    let by_ad = [("ad", Some(DEV_AD))];
    let decision = [
        ("dv", Some(dv)),
        ("ad", Some(DEV_AD)),
        ("level.required", None),
        ("level.asserted", None),
        ("outcome", outcome),
    ];
    let cache = [("cache", None)];
    let mut expected: Vec<Expected> = vec![
        ("login.start", &by_dv),
        ("upstream.request", &by_ad),
        ("ad_answer.verify", &by_ad),
        ("login.decision", &decision),
        ("grants.resolve", &cache),
    ];
    expected.extend_from_slice(more);
    let names: Vec<&str> = expected.iter().map(|(name, _)| *name).collect();
    let trace = trace_of(receiver, steps[0].0, &names, steps).await;
    assert_one_trace(&trace, steps, &expected);
    trace
}

#[tokio::test]
async fn a_saml_login_across_replicas_arrives_as_one_trace() {
    let t = traced_cluster(DemoBindings::PostRedirect).await;
    let dv = &t.cluster.replicas[0].dv;
    assert_eq!(
        login(dv, "bram", "EH2+", 2).await,
        Outcome::Allowed("11223344".into())
    );
    let steps = [("/saml/sso", 0), ("/saml/acs", 1)];
    assert_login_trace(
        &t.receiver,
        &steps,
        (DEMO_DV, Some("allowed")),
        &[("answer.sign", &[("dv", Some(DEMO_DV))])],
    )
    .await;
    // Nothing personal in any span the receiver got, in this login's trace or any other.
    assert_no_personal_data(&t.receiver.spans());
}

#[tokio::test]
async fn an_oidc_login_across_replicas_arrives_as_one_trace() {
    let t = traced_cluster(DemoBindings::PostRedirect).await;
    let front = t.cluster.replicas[0].poort.clone();
    // A browser that opens a new connection for every request, so that the balancer sees each.
    let (plain, follow) = common::browser_without_reuse();
    let pkce = format!("&code_challenge={CHALLENGE}&code_challenge_method=S256");
    let authorize = authorize_url(&front, CLIENT, RP_CB, &pkce);
    // anna acts for two organisations: poort asks which.
    let location = walk(
        (&plain, &follow),
        &front,
        &authorize,
        ("anna", "EH3"),
        Some("12345678"),
    )
    .await;
    assert!(location.starts_with(RP_CB), "{location}");
    let code = param(&location, "code").expect("a code");
    // The client redeems it (its own request, its own trace).
    let token = reqwest::Client::new()
        .post(format!("{front}/oidc/token"))
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", RP_CB),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    let body: Value = token.json().await.unwrap();
    assert!(body["id_token"].is_string(), "{body}");

    let steps = [
        ("/oidc/authorize", 0),
        ("/saml/acs", 1),
        ("/login/organisation", 1),
    ];
    assert_login_trace(&t.receiver, &steps, (CLIENT, None), &[]).await;
    assert_no_personal_data(&t.receiver.spans());
}

/// The privacy check itself finds a name, a subject and a KvK number wherever a span says
/// them, and lets grant IDs, entity IDs and pseudonyms through.
#[test]
fn the_privacy_check_finds_personal_data() {
    let span = |attributes: Value, events: Value| {
        serde_json::json!({
            "name": "login.decision",
            "attributes": attributes,
            "events": events,
            "resource": {"service.name": "poort"},
            "links": [],
            "status": {"message": ""},
        })
    };
    let clean = span(
        serde_json::json!({"dv": DEMO_DV, "ad": DEV_AD, "outcome": "allowed"}),
        serde_json::json!([{"name": "login allowed", "attributes": {
            "grant": "g-bram-groendak-s2", "pseudonym": "31a9fdb6", "level": "EH2+"}}]),
    );
    assert_no_personal_data(&[clean]);
    for leak in [
        span(
            serde_json::json!({"subject": "bram"}),
            serde_json::json!([]),
        ),
        span(
            serde_json::json!({}),
            serde_json::json!([{"name": "login of Anna de Vries", "attributes": {}}]),
        ),
        span(
            serde_json::json!({}),
            serde_json::json!([{"name": "x", "attributes": {"kvk": "11223344"}}]),
        ),
        span(
            serde_json::json!({"who": "urn:x:femke"}),
            serde_json::json!([]),
        ),
    ] {
        let caught =
            std::panic::catch_unwind(|| assert_no_personal_data(std::slice::from_ref(&leak)));
        assert!(caught.is_err(), "not caught: {leak}");
    }
}

/// The afsprakenstelsel's own flow, Artifact-Artifact on both sides: the artifacts poort
/// resolves (at the DV on replica 0, at the AD on replica 1) and those resolved at poort (by the
/// AD and the DV, on replica 1) are in the login's one trace too.
#[tokio::test]
async fn an_artifact_login_across_replicas_arrives_as_one_trace() {
    let t = traced_cluster(DemoBindings::Artifact).await;
    let dv = &t.cluster.replicas[0].dv;
    // A browser that opens a new connection for every request, and asks the DV for its verdict
    // as JSON.
    let c = common::asking_json()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let ad_page = common::dv_to_ad(&c, dv, 2, "artifact").await;
    let r = common::log_in_at_ad(&c, &ad_page, "bram", "EH2+").await;
    assert_eq!(r.url().path(), "/acs", "the DV's ACS, by artifact");
    let verdict: Value = r.json().await.unwrap();
    assert_eq!(verdict["success"], true, "{verdict}");
    assert_eq!(verdict["legal_subject_id"], "11223344", "{verdict}");

    let steps = [("/saml/sso", 0), ("/saml/artifact", 1), ("/saml/acs", 1)];
    let trace = assert_login_trace(
        &t.receiver,
        &steps,
        (DEMO_DV, Some("allowed")),
        &[
            (
                "artifact.resolve",
                &[
                    ("peer.role", None),
                    ("peer.entity_id", None),
                    ("outcome", Some("resolved")),
                ],
            ),
            ("answer.sign", &[("dv", Some(DEMO_DV))]),
        ],
    )
    .await;
    // poort resolved twice: the DV's request on replica 0, the AD's answer on replica 1, each
    // under that request's span.
    let resolved: BTreeSet<(Option<usize>, &str, &str)> = trace
        .iter()
        .filter(|s| name(s) == "artifact.resolve")
        .map(|s| {
            (
                replica_of(s),
                attr_str(s, "peer.entity_id").unwrap_or_default(),
                attr_str(s, "peer.role").unwrap_or_default(),
            )
        })
        .collect();
    let entities: Vec<(Option<usize>, &str)> = resolved.iter().map(|(r, e, _)| (*r, *e)).collect();
    assert_eq!(
        entities,
        [(Some(0), DEMO_DV), (Some(1), DEV_AD)],
        "artifact.resolve at the DV on replica 0, at the AD on replica 1: {resolved:?}"
    );
    assert_no_personal_data(&t.receiver.spans());
}
