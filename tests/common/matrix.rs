//! What the permission matrices share (tests/admin_permissions.rs for the admin module,
//! tests/mijn_permissions.rs for Mijn poort and `/api/v1/me`): a row per request (method, the
//! route as the OpenAPI document or the router names it, values for its `{…}` segments, the
//! body, and a status for each of `N` actors), `$names` filled in from the world, running a
//! table for every actor with the register compared before and after each refusal, and the
//! check that every route a router file declares has a row.

use super::World;
use poort::grants::Pool;
use std::collections::BTreeMap;

/// One request of a matrix, with the status each of `N` actors gets.
pub struct Row<const N: usize> {
    pub method: &'static str,
    /// The route as the OpenAPI document (API) or the router (pages) names it.
    pub route: &'static str,
    /// A value per `{…}` segment of the route, in order.
    pub args: &'static [&'static str],
    /// JSON (API) or form fields without the CSRF field (pages); may hold `$names`.
    pub body: &'static str,
    /// Status per actor, in the order of the matrix's actors.
    pub expect: [u16; N],
}

pub const fn row<const N: usize>(
    method: &'static str,
    route: &'static str,
    args: &'static [&'static str],
    body: &'static str,
    expect: [u16; N],
) -> Row<N> {
    Row {
        method,
        route,
        args,
        body,
        expect,
    }
}

/// Values for `$names`: the world's, and each actor's own (where a change happens only once).
pub struct Ids<const N: usize> {
    pub shared: BTreeMap<String, String>,
    pub per_role: [BTreeMap<String, String>; N],
}

impl<const N: usize> Ids<N> {
    pub fn fill(&self, role: usize, text: &str) -> String {
        let mut vars: Vec<(&String, &String)> = self
            .shared
            .iter()
            .chain(self.per_role[role].iter())
            .collect();
        // Longest names first, so `$inv_resend_person` is not read as `$inv_resend`.
        vars.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
        let mut out = text.to_string();
        for (k, v) in vars {
            out = out.replace(&format!("${k}"), v);
        }
        assert!(!out.contains('$'), "unfilled name in {text:?}: {out:?}");
        out
    }

    pub fn path(&self, role: usize, r: &Row<N>) -> String {
        let mut args = r.args.iter();
        let path = r
            .route
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    self.fill(role, args.next().expect("a value per {segment}"))
                } else {
                    seg.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        assert!(
            args.next().is_none(),
            "more values than segments: {}",
            r.route
        );
        path
    }
}

/// Runs a register write, which must succeed.
pub async fn write<T, E: std::fmt::Debug>(
    w: &World,
    f: impl std::future::Future<Output = Result<(T, poort::grants::Touched), E>>,
) -> T {
    w.registry.write(f).await.unwrap()
}

/// A session: a client that does not follow redirects, and the CSRF token.
pub struct Session {
    pub client: reqwest::Client,
    pub csrf: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Api,
    Page,
}

/// Sends one request; `csrf` is the token to send with a change (`None`: without it).
pub async fn send(
    w: &World,
    s: &Session,
    kind: Kind,
    method: &str,
    path: &str,
    body: &str,
    csrf: Option<&str>,
) -> (u16, String) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let change = method != reqwest::Method::GET;
    let mut req = s.client.request(method, format!("{}{path}", w.poort));
    match kind {
        Kind::Api => {
            if let (true, Some(t)) = (change, csrf) {
                req = req.header("X-CSRF-Token", t);
            }
            if !body.is_empty() {
                req = req
                    .header("content-type", "application/json")
                    .body(body.to_string());
            }
        }
        Kind::Page if change => {
            let mut fields = String::new();
            if let Some(t) = csrf {
                fields.push_str(&format!("csrf={t}"));
            }
            if !body.is_empty() {
                if !fields.is_empty() {
                    fields.push('&');
                }
                fields.push_str(body);
            }
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(fields);
        }
        Kind::Page => {}
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The register as rows of text (every table but the audit trail, the mail outbox and the
/// cache outbox; without the last-login times the login writer keeps up to date in the
/// background).
pub async fn snapshot(w: &World) -> Vec<String> {
    let Pool::Sqlite(pool) = w.registry.sql().pool() else {
        panic!("the test world runs on SQLite")
    };
    let mut out = Vec::new();
    for table in [
        "organisations",
        "persons",
        "identity_links",
        "memberships",
        "membership_roles",
        "groups",
        "group_members",
        "grants",
        "invitations",
        "link_requests",
        "representatives",
        "requests",
        "request_scopes",
    ] {
        let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT name FROM pragma_table_info('{table}')"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        let row = columns
            .iter()
            .filter(|c| *c != "last_login_at")
            .map(|c| format!("quote({c})"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT {row} FROM {table} ORDER BY 1"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        out.extend(rows.into_iter().map(|r| format!("{table}: {r}")));
    }
    out
}

/// An answer in one line: a page's title and message, or the first 200 characters.
pub fn brief(text: &str) -> String {
    let between = |from: &str, to: &str| {
        let i = text.find(from)? + from.len();
        Some(text[i..i + text[i..].find(to)?].trim().to_string())
    };
    match (between("<title>", "</title>"), between("<p", "</p>")) {
        (Some(title), p) => format!("{title} / <p{}", p.unwrap_or_default()),
        _ => text.chars().take(200).collect(),
    }
}

pub fn is_success(status: u16) -> bool {
    (200..400).contains(&status)
}

/// Runs a table for every actor (named, with their session, in the order of a row's
/// statuses), one after the other: each row's status, and, for a refused change, the register
/// as it was. Also: a change without the CSRF token is refused (403) and changes nothing.
/// Returns every response body, for checks on what they show.
pub async fn run<const N: usize>(
    w: &World,
    ids: &Ids<N>,
    kind: Kind,
    rows: &[Row<N>],
    actors: &[(&str, Session); N],
) -> Vec<String> {
    let mut bodies = Vec::new();
    let mut failures = Vec::new();
    for (i, (role, s)) in actors.iter().enumerate() {
        for r in rows {
            let path = ids.path(i, r);
            let body = ids.fill(i, r.body);
            let change = r.method != "GET";
            // The operator's routes take no cookie, so no CSRF token either: a session is
            // refused there (401) with or without one.
            if change && !r.route.starts_with("/api/v1/operator/") {
                let before = snapshot(w).await;
                let (status, text) = send(w, s, kind, r.method, &path, &body, None).await;
                if status != 403 {
                    failures.push(format!(
                        "{role} {} {path} without CSRF: {status} {text}",
                        r.method
                    ));
                }
                if snapshot(w).await != before {
                    failures.push(format!(
                        "{role} {} {path} without CSRF changed the register",
                        r.method
                    ));
                }
            }
            let before = if change && !is_success(r.expect[i]) {
                Some(snapshot(w).await)
            } else {
                None
            };
            let (status, text) = send(w, s, kind, r.method, &path, &body, Some(&s.csrf)).await;
            if status != r.expect[i] {
                let short = brief(&text);
                failures.push(format!(
                    "{role} {} {path}: expected {}, got {status}: {short}",
                    r.method, r.expect[i]
                ));
            }
            if let Some(before) = before {
                let after = snapshot(w).await;
                if after != before {
                    let gone: Vec<_> = before.iter().filter(|x| !after.contains(x)).collect();
                    let new: Vec<_> = after.iter().filter(|x| !before.contains(x)).collect();
                    failures.push(format!(
                        "{role} {} {path}: refused, yet the register changed: {gone:?} -> {new:?}",
                        r.method
                    ));
                }
            }
            bodies.push(text);
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    bodies
}

/// Whether a route with `{…}` segments (a router pattern) matches a row's route.
pub fn matches(pattern: &str, route: &str) -> bool {
    let (p, r): (Vec<_>, Vec<_>) = (pattern.split('/').collect(), route.split('/').collect());
    p.len() == r.len() && p.iter().zip(&r).all(|(a, b)| a == b || a.starts_with('{'))
}

/// The routes (pattern, methods) a router source file declares with `.route("…", …)`.
pub fn routes_in(file: &str) -> Vec<(String, Vec<&'static str>)> {
    let text = std::fs::read_to_string(super::repo_file(file)).unwrap();
    text.split(".route(")
        .skip(1)
        .filter_map(|chunk| {
            let start = chunk.find('"')? + 1;
            let end = start + chunk[start..].find('"')?;
            let call = &chunk[end..chunk.find(".merge(").unwrap_or(chunk.len())];
            let methods = [
                ("get(", "GET"),
                ("post(", "POST"),
                ("patch(", "PATCH"),
                ("delete(", "DELETE"),
            ]
            .iter()
            .filter(|(f, _)| call.contains(f))
            .map(|(_, m)| *m)
            .collect();
            Some((chunk[start..end].to_string(), methods))
        })
        .collect()
}

/// Every route under `prefixes` that `files` declare has a row in one of `tables`.
pub fn assert_routes_covered<const N: usize>(
    files: &[&str],
    prefixes: &[&str],
    tables: &[&[Row<N>]],
) {
    let mut missing = Vec::new();
    for file in files {
        for (pattern, methods) in routes_in(file) {
            if !prefixes.iter().any(|p| pattern.starts_with(p)) || pattern.contains('*') {
                continue;
            }
            for m in methods {
                let covered = tables
                    .iter()
                    .flat_map(|t| t.iter())
                    .any(|r| r.method == m && matches(&pattern, r.route));
                if !covered {
                    missing.push(format!("{m} {pattern} ({file})"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "routes without a row: {missing:?}");
}
