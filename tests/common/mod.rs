//! A whole world for end-to-end tests: poort, the demo DV and the development AD, each on a free
//! localhost port, with fresh keys and metadata in a temporary folder.

#![allow(dead_code)]

use poort::config::{Config, GrantsConfig, KeysConfig, SamlConfig, ServerConfig, ServiceConfig};
use std::collections::HashMap;
use std::path::PathBuf;

pub struct World {
    pub poort: String,
    pub dv: String,
    pub ad: String,
    pub dir: tempfile::TempDir,
    pub certs: PathBuf,
    pub config: Config,
}

pub fn repo_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

pub fn service(index: u16, level: &str) -> ServiceConfig {
    ServiceConfig {
        id: format!("urn:etoegang:DV:00000099990000000002:services:{index}"),
        uuid: format!("5a1d3b0e-8c9f-4f5e-9b1a-00000000000{index}"),
        name_nl: format!("Dienst {index}"),
        name_en: format!("Service {index}"),
        provider: poort::demo::DEMO_DV_ENTITY_ID.to_string(),
        acs_index: index,
        level: level.parse().unwrap(),
    }
}

pub async fn start() -> World {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    poort::devcerts::generate(&certs, false).unwrap();
    let sp_dir = dir.path().join("sp");
    let idp_dir = dir.path().join("idp");
    std::fs::create_dir_all(&sp_dir).unwrap();
    std::fs::create_dir_all(&idp_dir).unwrap();
    let bind = || async { tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap() };
    let (pl, dl, al) = (bind().await, bind().await, bind().await);
    let url = |l: &tokio::net::TcpListener| format!("http://{}", l.local_addr().unwrap());
    let (poort, dv, ad) = (url(&pl), url(&dl), url(&al));
    poort::demo::metadata::write_demo_metadata(&certs, &sp_dir, &idp_dir, &dv, &ad).unwrap();
    let config = Config {
        server: ServerConfig {
            listen: pl.local_addr().unwrap().to_string(),
            public_url: poort.clone(),
            production: false,
            max_body_bytes: 256 * 1024,
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
        },
        keys: KeysConfig {
            signing_key: certs.join("poort-signing.key"),
            signing_cert: certs.join("poort-signing.crt"),
            encryption_key: certs.join("poort-encryption.key"),
            encryption_cert: certs.join("poort-encryption.crt"),
            pseudonym_secret: certs.join("pseudonym.secret"),
            dev_certs_dir: certs.clone(),
        },
        grants: GrantsConfig {
            file: repo_file("config/grants-dev.toml"),
        },
        services: vec![service(1, "EH3"), service(2, "EH2+")],
        dvs: vec![],
    };
    let state = poort::app::build_state(config.clone()).unwrap();
    tokio::spawn(poort::app::serve(state, pl));
    let peers = poort::demo::DemoPeers::from_dir(&certs, &dv, &ad, &poort).unwrap();
    tokio::spawn(poort::demo::serve(dl, peers.dv_router()));
    tokio::spawn(poort::demo::serve(al, peers.ad_router()));
    World {
        poort,
        dv,
        ad,
        dir,
        certs,
        config,
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()
        .unwrap()
}

pub fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The first form of a page: its action and its hidden fields.
pub fn form(html: &str) -> (String, HashMap<String, String>) {
    let start = html.find("<form").expect("page has a form");
    let tag_end = start + html[start..].find('>').unwrap();
    let action = attr(&html[start..tag_end], "action").unwrap_or_default();
    let mut fields = HashMap::new();
    let mut rest = &html[start..];
    while let Some(i) = rest.find("<input") {
        let end = i + rest[i..].find('>').unwrap();
        let tag = &rest[i..end];
        if tag.contains("type=\"hidden\"") {
            if let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value")) {
                fields.insert(n, v);
            }
        }
        rest = &rest[end..];
    }
    (unescape(&action), fields)
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let i = tag.find(&key)? + key.len();
    let j = tag[i..].find('"')?;
    Some(unescape(&tag[i..i + j]))
}

/// Posts a page's form as a browser would.
pub async fn submit(
    client: &reqwest::Client,
    html: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    submit_at(client, "", html, extra).await
}

/// Posts a page's form; a relative action is resolved against `base`.
pub async fn submit_at(
    client: &reqwest::Client,
    base: &str,
    html: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let (mut action, mut fields) = form(html);
    if action.starts_with('/') {
        action = format!("{base}{action}");
    }
    for (k, v) in extra {
        fields.insert(k.to_string(), v.to_string());
    }
    client.post(&action).form(&fields).send().await.unwrap()
}
