//! poort's cookies: reading one from a request, and setting each with the attributes it needs.
//! In production every name is `__Host-` prefixed (the router strips the prefix again from what
//! comes in, so [`read`] takes one name in every mode) and every cookie is Secure.

use super::{security, AppState};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;

/// Binds a pending login to the browser that began it (a random value also kept in the flow).
pub const BROWSER: &str = "poort_browser";
/// The AD the person chose last, preselected on the AD choice page.
pub const LAST_IDP: &str = "poort_last_idp";
/// The login session at poort: what an AD's authentication left, for single sign-on and
/// single log-out (`web::login::session`).
pub const LOGIN_SESSION: &str = "poort_session";
/// The admin session (path `/`: the pages under `/admin` and the API under `/api/v1` share it).
pub const ADMIN: &str = "poort_admin";
/// The Mijn poort session (path `/`: the pages under `/mijn` and the API under `/api/v1/me`).
pub const MIJN: &str = "poort_mijn";
/// The language the person chose with the pages' language switch, over Accept-Language.
pub const LANG: &str = "poort_lang";

/// The value of the cookie `name` in a request.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
}

/// Sets a cookie of a login in progress ([`BROWSER`], [`LAST_IDP`]).
pub fn set_login(state: &AppState, response: &mut Response, name: &str, value: &str, max_age: i64) {
    // Over https the AD's cross-site POST to the ACS must carry the cookie: SameSite=None; Secure.
    // Plain http (development on localhost) is same-site, where Lax suffices. Production is
    // https to the browser even behind a proxy that terminates TLS.
    let attrs = if security::browsers_use_https(&state.config) {
        "; Secure; SameSite=None"
    } else {
        "; SameSite=Lax"
    };
    append(state, response, name, value, max_age, attrs);
}

/// Sets (or, with `max_age` 0, clears) a session's cookie (`ADMIN`, `MIJN`): SameSite=Lax,
/// because the login reaches the module by a redirect that began with the AD's cross-site POST;
/// forms are protected by the CSRF token, not by SameSite.
pub fn set_session(
    state: &AppState,
    response: &mut Response,
    name: &str,
    value: &str,
    max_age: i64,
) {
    let secure = if security::browsers_use_https(&state.config) {
        "; SameSite=Lax; Secure"
    } else {
        "; SameSite=Lax"
    };
    append(state, response, name, value, max_age, secure);
}

/// Sets the chosen language for a year: SameSite=Lax, since it matters only to pages reached on
/// poort's own site or by a top-level navigation.
pub fn set_language(state: &AppState, response: &mut Response, code: &str) {
    set_session(state, response, LANG, code, 365 * 24 * 3600);
}

fn append(
    state: &AppState,
    response: &mut Response,
    name: &str,
    value: &str,
    max_age: i64,
    attrs: &str,
) {
    let name = security::cookie_name(&state.config, name);
    let value = format!("{name}={value}; Path=/; HttpOnly; Max-Age={max_age}{attrs}");
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}
