//! `/oidc/logout`, poort's `end_session_endpoint` (OpenID Connect RP-Initiated Logout 1.0), by
//! GET and by POST: the client is known from `id_token_hint` (an ID token poort issued, verified
//! with poort's keys; an expired one is still a hint) or `client_id`; `post_logout_redirect_uri`
//! is followed only when registered for that client, exactly; without an `id_token_hint` for
//! the person of this browser's session, poort first asks whether to log out (§2: the OP MUST
//! ask then), so that no other site can log a person out by a link.

use super::{log_out, page, refused, Ctx, Refusal, ReturnTo};
use crate::config::OidcClientConfig;
use crate::domain::session::LoginSession;
use crate::web::pages::PostForm;
use crate::web::AppState;
use axum::extract::{Form, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Utc;
use serde_json::Value;
use std::sync::Arc;

/// The parameters of a log-out request (§2), each at most once.
#[derive(Debug, Default)]
struct Params {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    /// The answer to poort's question, bound to this browser's session.
    confirm: Option<String>,
}

impl Params {
    fn read(pairs: Vec<(String, String)>) -> Result<Params, Refusal> {
        let mut p = Params::default();
        for (name, value) in pairs {
            let slot = match name.as_str() {
                "id_token_hint" => &mut p.id_token_hint,
                "client_id" => &mut p.client_id,
                "post_logout_redirect_uri" => &mut p.post_logout_redirect_uri,
                "state" => &mut p.state,
                "confirm" => &mut p.confirm,
                // ui_locales, logout_hint and extensions: not used.
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(Refusal::BadOidcRequest(format!(
                    "parameter {name} appears more than once"
                )));
            }
        }
        Ok(p)
    }

    /// The request again, for the confirmation form.
    fn fields(&self) -> Vec<(String, String)> {
        [
            ("id_token_hint", &self.id_token_hint),
            ("client_id", &self.client_id),
            ("post_logout_redirect_uri", &self.post_logout_redirect_uri),
            ("state", &self.state),
        ]
        .into_iter()
        .filter_map(|(n, v)| v.as_ref().map(|v| (n.to_string(), v.clone())))
        .collect()
    }
}

/// `GET /oidc/logout`.
#[tracing::instrument(name = "logout.oidc", skip_all)]
pub async fn end_session(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    handle(&state, &headers, pairs).await
}

/// `POST /oidc/logout` (form-encoded), as GET.
#[tracing::instrument(name = "logout.oidc", skip_all)]
pub async fn end_session_form(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    handle(&state, &headers, pairs).await
}

async fn handle(state: &AppState, headers: &HeaderMap, pairs: Vec<(String, String)>) -> Response {
    let ctx = Ctx::new(headers);
    let browser = page::browser_name(headers);
    let checked = Params::read(pairs).and_then(|p| {
        let hint = p
            .id_token_hint
            .as_deref()
            .map(|t| hint_claims(state, t))
            .transpose()?;
        let client = client_of(state, &p, hint.as_ref())?;
        let redirect = redirect_of(&p, client)?.map(str::to_string);
        Ok((p, hint, client, redirect))
    });
    let (params, hint, client, redirect) = match checked {
        Ok(checked) => checked,
        Err(refusal) => return refused(state, &ctx, "oidc", refusal),
    };
    let session = super::session::current(state, &ctx, Utc::now()).await;
    if let Some(session) = &session {
        let hinted = hint
            .as_ref()
            .zip(client)
            .is_some_and(|(claims, c)| names_the_person(state, claims, c, session));
        let confirmed = params
            .confirm
            .as_deref()
            .is_some_and(|c| c == confirmation(session));
        if !hinted && !confirmed {
            let mut fields = params.fields();
            fields.push(("confirm".into(), confirmation(session)));
            let form = PostForm {
                action: "/oidc/logout".into(),
                fields,
            };
            return page::confirm(state, &ctx, form);
        }
    }
    if let Some(c) = client {
        tracing::info!(reference = %ctx.reference, client = %c.client_id, "log-out asked by an OpenID Connect client");
    }
    let return_to = ReturnTo::Oidc {
        redirect,
        state: params.state.clone(),
    };
    log_out(state, &ctx, return_to, browser).await
}

/// The claims of an ID token poort issued (signature with poort's keys, `iss` poort); its
/// expiry does not matter: a hint names who was logged in.
fn hint_claims(state: &AppState, token: &str) -> Result<Value, Refusal> {
    let claims = state.oidc_keys.get().verify(token).ok_or_else(|| {
        Refusal::BadOidcRequest("id_token_hint is not an ID token of poort's".into())
    })?;
    if claims["iss"] != state.config.issuer() {
        return Err(Refusal::BadOidcRequest(
            "id_token_hint was issued by another provider".into(),
        ));
    }
    Ok(claims)
}

/// The client the request comes from: `client_id`, or the audience of the hint; both must
/// agree and name a registered client.
fn client_of<'a>(
    state: &'a AppState,
    params: &Params,
    hint: Option<&Value>,
) -> Result<Option<&'a OidcClientConfig>, Refusal> {
    let audience: Vec<&str> = match hint.map(|h| &h["aud"]) {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(all)) => all.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let id = match (params.client_id.as_deref(), audience.as_slice()) {
        (Some(id), []) => id,
        (Some(id), aud) if aud.contains(&id) => id,
        (Some(_), _) => {
            return Err(Refusal::BadOidcRequest(
                "client_id is not the audience of id_token_hint".into(),
            ))
        }
        (None, [one]) => one,
        (None, []) => return Ok(None),
        (None, _) => {
            return Err(Refusal::BadOidcRequest(
                "id_token_hint has several audiences: name the client_id".into(),
            ))
        }
    };
    state
        .config
        .oidc_clients
        .iter()
        .find(|c| c.client_id == id)
        .map(Some)
        .ok_or_else(|| Refusal::BadOidcRequest("unknown client_id".into()))
}

/// `post_logout_redirect_uri`, only when registered for the client, exactly.
fn redirect_of<'p>(
    params: &'p Params,
    client: Option<&OidcClientConfig>,
) -> Result<Option<&'p str>, Refusal> {
    let Some(uri) = params.post_logout_redirect_uri.as_deref() else {
        return Ok(None);
    };
    match client {
        Some(c) if c.post_logout_redirect_uris.iter().any(|r| r == uri) => Ok(Some(uri)),
        Some(_) => Err(Refusal::BadOidcRequest(
            "post_logout_redirect_uri is not registered for this client".into(),
        )),
        None => Err(Refusal::BadOidcRequest(
            "post_logout_redirect_uri needs client_id or id_token_hint".into(),
        )),
    }
}

/// Whether the hint's `sub` is the person of this session, as this client knows them.
fn names_the_person(
    state: &AppState,
    claims: &Value,
    client: &OidcClientConfig,
    session: &LoginSession,
) -> bool {
    state
        .pseudonyms
        .pseudonym(
            &client.client_id,
            &session.authn.idp,
            &session.authn.subject,
        )
        .is_ok_and(|sub| claims["sub"] == sub.as_str())
}

/// The answer to poort's question, bound to the session: another site, which cannot read the
/// session's ID, cannot give it.
fn confirmation(session: &LoginSession) -> String {
    let digest = openssl::sha::sha256(format!("poort-logout-confirm:{}", session.id).as_bytes());
    hex::encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_is_read_once_and_a_repeated_one_is_refused() {
        let pairs = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let p = Params::read(pairs(&[
            ("client_id", "rp"),
            ("state", "s1"),
            ("ui_locales", "nl"),
        ]))
        .unwrap();
        assert_eq!(p.client_id.as_deref(), Some("rp"));
        assert_eq!(
            p.fields(),
            [
                ("client_id".to_string(), "rp".to_string()),
                ("state".to_string(), "s1".to_string())
            ]
        );
        let twice = Params::read(pairs(&[("state", "a"), ("state", "b")]));
        assert!(matches!(twice, Err(Refusal::BadOidcRequest(m)) if m.contains("state")));
    }
}
