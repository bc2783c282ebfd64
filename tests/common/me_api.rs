//! A person's own API (`/api/v1/me`) as tests call it: a person logged in to Mijn poort through
//! the development AD, their requests with the CSRF token, and a problem read by its reason
//! code (tests/api_me.rs, tests/api_me_signing.rs).

use super::World;
use serde_json::{json, Value};

pub const BAKKERIJ: &str = "12345678";
pub const VAN_DIJK: &str = "87654321";
pub const GROEN_DAK: &str = "11223344";
pub const S1: &str = "5a1d3b0e-8c9f-4f5e-9b1a-000000000001";
pub const S2: &str = "5a1d3b0e-8c9f-4f5e-9b1a-000000000002";

/// A person logged in to Mijn poort.
pub struct Person {
    pub c: reqwest::Client,
    pub csrf: String,
    pub poort: String,
}

pub async fn log_in(w: &World, person: &str, level: &str) -> Person {
    let (c, csrf) = super::mijn_session(w, person, level).await;
    Person {
        c,
        csrf,
        poort: w.poort.clone(),
    }
}

pub async fn answer(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let problem = r
        .headers()
        .get("content-type")
        .is_some_and(|v| v == "application/problem+json");
    let text = r.text().await.unwrap();
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"));
    assert_eq!(problem, status >= 400, "{status}: {value}");
    (status, value)
}

impl Person {
    pub async fn get(&self, path: &str) -> (u16, Value) {
        answer(self.c.get(format!("{}{path}", self.poort))).await
    }

    /// A change with the session's CSRF token; `body` as JSON unless `Null` (no body).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_with(path, body, Some(&self.csrf.clone())).await
    }

    pub async fn post_with(&self, path: &str, body: Value, csrf: Option<&str>) -> (u16, Value) {
        let mut r = self.c.post(format!("{}{path}", self.poort));
        if let Some(t) = csrf {
            r = r.header("X-CSRF-Token", t);
        }
        if !body.is_null() {
            r = r.json(&body);
        }
        answer(r).await
    }

    pub async fn ask(&self, body: Value) -> String {
        let (status, made) = self.post("/api/v1/me/requests", body).await;
        assert_eq!(status, 201, "{made}");
        made["id"].as_str().unwrap().to_string()
    }
}

/// The answer is a problem with this status and reason code.
#[track_caller]
pub fn refused(answer: &(u16, Value), status: u16, reason: &str) {
    let (got, p) = answer;
    assert_eq!((*got, p["reason"].as_str()), (status, Some(reason)), "{p}");
    assert_eq!(p["status"], *got, "{p}");
    assert!(
        p["reference"].as_str().is_some_and(|r| !r.is_empty()),
        "{p}"
    );
}

/// A problem without its reference number (which differs every time).
pub fn without_reference(p: &Value) -> Value {
    let mut p = p.clone();
    p.as_object_mut().unwrap().remove("reference");
    p
}

pub fn grant_body(kvk: &str, scope: Value, level: &str, years: u32) -> Value {
    json!({"kind": "grant", "organisation": kvk, "scope": scope, "level": level,
           "validity_years": years, "motivation": "Voor de btw-aangifte"})
}

pub fn service(uuid: &str) -> Value {
    json!({"services": [uuid]})
}
