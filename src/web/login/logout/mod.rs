//! Single log-out (afsprakenstelsel page *Single Log-out*, a MUST for every HM): a DV's SAML
//! LogoutRequest (`saml`) or an OpenID Connect client's RP-initiated log-out (`oidc`) ends the
//! browser's login session at poort and goes on to the AD of that session as poort's own signed
//! LogoutRequest (its NameID and SessionIndex as the AD gave them). When the AD answers with a
//! LogoutResponse, the requester gets its answer (a LogoutResponse at the DV's
//! SingleLogoutService, the client's registered `post_logout_redirect_uri`) or poort's page says
//! the person is logged out. When poort finds no AD to send the message to (no session in this
//! browser, or its AD takes no log-out messages), it shows the scheme's page "Uitloggen is
//! momenteel niet mogelijk…" (`page`).

mod oidc;
mod page;
mod saml;

pub use oidc::{end_session, end_session_form};
pub use saml::{slo_post, slo_redirect};

use super::flow::Ctx;
use super::session;
use crate::domain::session::LoginSession;
use crate::metadata::{logout_endpoint, IdpMetadata};
use crate::saml::binding;
use crate::saml::logout::OutgoingLogoutRequest;
use crate::saml::xml;
use crate::web::pages::{ErrorText, PostForm};
use crate::web::AppState;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How long poort waits for the AD's LogoutResponse.
const AD_ANSWER_WITHIN: Duration = Duration::minutes(10);

/// Who asked for the log-out, and where it ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
enum ReturnTo {
    /// A DV's LogoutRequest: answered with a LogoutResponse at its SingleLogoutService (or, when
    /// its metadata lists none, by poort's page).
    Saml {
        dv: String,
        request_id: String,
        relay_state: Option<String>,
    },
    /// An OpenID Connect client: its registered `post_logout_redirect_uri` with `state`, or
    /// poort's page when it named none.
    Oidc {
        redirect: Option<String>,
        state: Option<String>,
    },
}

impl ReturnTo {
    fn protocol(&self) -> &'static str {
        match self {
            ReturnTo::Saml { .. } => "saml",
            ReturnTo::Oidc { .. } => "oidc",
        }
    }
}

/// A log-out sent on to an AD, waiting for its LogoutResponse (flow store, `logout:{ID of
/// poort's LogoutRequest}`).
#[derive(Debug, Serialize, Deserialize)]
struct PendingLogout {
    ad: String,
    return_to: ReturnTo,
    /// The trace of the request that began the log-out: the AD's answer continues it.
    trace: String,
}

fn pending_key(request_id: &str) -> String {
    format!("logout:{request_id}")
}

/// How a way back to the requester is offered: a link (HTTP-Redirect binding, a client's
/// redirect URI) or a form (HTTP-POST binding).
#[derive(Debug, Clone)]
enum Back {
    Link(String),
    Form(PostForm),
}

impl Back {
    /// A SAML message to `location` on its binding: a form (HTTP-POST; the caller signed the
    /// message itself) or a link (HTTP-Redirect; the query is signed here). `param` is
    /// `SAMLRequest` or `SAMLResponse`.
    fn saml(
        state: &AppState,
        location: &str,
        by_post: bool,
        param: &str,
        message: &str,
        relay_state: Option<&str>,
    ) -> Result<Back, binding::BindingError> {
        if !by_post {
            let url = binding::redirect_url(location, param, message, relay_state, &state.signing)?;
            return Ok(Back::Link(url));
        }
        let mut fields = vec![(param.to_string(), binding::encode_post(message))];
        if let Some(r) = relay_state {
            fields.push(("RelayState".into(), r.to_string()));
        }
        Ok(Back::Form(PostForm {
            action: location.to_string(),
            fields,
        }))
    }

    /// Sends the browser there at once.
    fn go(self, state: &AppState, ctx: &Ctx) -> Response {
        match self {
            Back::Link(url) => Redirect::to(&url).into_response(),
            Back::Form(form) => state.pages.post_form(ctx.lang, &form),
        }
    }
}

/// Why a log-out message was refused: each says what was wrong, on a page with a reference.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("malformed log-out message: {0}")]
    BadMessage(String),
    #[error("log-out message from an unknown party ({0})")]
    UnknownPeer(String),
    #[error("log-out message could not be verified: {0}")]
    Unverifiable(String),
    #[error("log-out message is not addressed to poort (Destination)")]
    Destination,
    #[error("log-out message is too old or from the future")]
    Stale,
    #[error("log-out message was already used")]
    Replayed,
    #[error("LogoutResponse for no log-out poort is waiting for")]
    UnknownLogout,
    #[error("log-out request refused: {0}")]
    BadOidcRequest(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Refusal {
    fn code(&self) -> &'static str {
        match self {
            Refusal::BadMessage(_) => "bad_message",
            Refusal::UnknownPeer(_) => "unknown_peer",
            Refusal::Unverifiable(_) => "unverifiable",
            Refusal::Destination => "destination",
            Refusal::Stale => "stale",
            Refusal::Replayed => "replayed",
            Refusal::UnknownLogout => "unknown_logout",
            Refusal::BadOidcRequest(_) => "bad_request",
            Refusal::Internal(_) => "internal",
        }
    }

    fn text(&self) -> ErrorText {
        let title = ("Uitloggen niet gelukt", "Log-out failed");
        let back = (
            "Sluit alle browservensters om de beveiliging van uw informatie te waarborgen. Blijft dit gebeuren, neem dan contact op met de dienst en noem het referentienummer.",
            "Close all browser windows to keep your information safe. If this keeps happening, contact the service and quote the reference number.",
        );
        let (status, what): (StatusCode, (&str, &str)) = match self {
            Refusal::BadMessage(_) => (
                StatusCode::BAD_REQUEST,
                ("Het uitlogbericht van de dienst kon niet worden gelezen.", "The service's log-out message could not be read."),
            ),
            Refusal::UnknownPeer(_) => (
                StatusCode::BAD_REQUEST,
                ("Het uitlogbericht komt van een partij die niet bij poort is aangesloten.", "The log-out message comes from a party that is not connected to poort."),
            ),
            Refusal::Unverifiable(_) => (
                StatusCode::BAD_REQUEST,
                ("De ondertekening van het uitlogbericht klopt niet of ontbreekt.", "The log-out message's signature is wrong or missing."),
            ),
            Refusal::Destination => (
                StatusCode::BAD_REQUEST,
                ("Het uitlogbericht is niet voor poort bedoeld.", "The log-out message is not meant for poort."),
            ),
            Refusal::Stale => (
                StatusCode::BAD_REQUEST,
                ("Het uitlogbericht is verlopen.", "The log-out message has expired."),
            ),
            Refusal::Replayed => (
                StatusCode::BAD_REQUEST,
                ("Dit uitlogbericht is al eerder gebruikt.", "This log-out message was used before."),
            ),
            Refusal::UnknownLogout => (
                StatusCode::BAD_REQUEST,
                ("poort wacht niet (meer) op dit antwoord van uw inlogmiddel; uw sessie bij poort is wel beëindigd.", "poort is not (or no longer) waiting for this answer of your identity provider; your session at poort has ended."),
            ),
            Refusal::BadOidcRequest(_) => (
                StatusCode::BAD_REQUEST,
                ("Het uitlogverzoek van de dienst is niet geldig.", "The service's log-out request is not valid."),
            ),
            Refusal::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ("Er ging bij poort iets mis.", "Something went wrong at poort."),
            ),
        };
        ErrorText {
            status,
            title,
            what: (what.0.to_string(), what.1.to_string()),
            todo: (back.0.to_string(), back.1.to_string()),
        }
    }
}

/// A refused log-out message: logged and counted by its code (never its content), and a page.
fn refused(state: &AppState, ctx: &Ctx, protocol: &str, refusal: Refusal) -> Response {
    tracing::warn!(reference = %ctx.reference, reason = refusal.code(), "log-out refused: {refusal}");
    state.metrics.logout(protocol, "refused");
    state
        .pages
        .error(ctx.lang, &refusal.text(), &ctx.reference, None)
}

/// Ends the browser's session and sends the log-out on to its AD; when no AD can be told, the
/// scheme's page. Cookies are cleared either way.
async fn log_out(
    state: &AppState,
    ctx: &Ctx,
    return_to: ReturnTo,
    browser: Option<&str>,
) -> Response {
    let now = Utc::now();
    let protocol = return_to.protocol();
    let ended = session::end(state, ctx, now).await;
    let mut response = match ended {
        Some(ended) => match forward_to_ad(state, ctx, &ended, return_to, now).await {
            Ok(response) => {
                tracing::info!(reference = %ctx.reference, ad = %ended.authn.idp, "log-out sent on to the identity provider");
                state.metrics.logout(protocol, "forwarded");
                response
            }
            Err(return_to) => not_possible(state, ctx, return_to, Some(&ended.authn.idp), browser),
        },
        None => not_possible(state, ctx, return_to, None, browser),
    };
    session::clear_cookies(state, &mut response);
    response
}

/// No AD to send the log-out to: the scheme's page, with the way back to the requester.
fn not_possible(
    state: &AppState,
    ctx: &Ctx,
    return_to: ReturnTo,
    ad: Option<&str>,
    browser: Option<&str>,
) -> Response {
    tracing::info!(
        reference = %ctx.reference, ad = ad.unwrap_or("-"), session = ad.is_some(),
        "log-out: no identity provider to send it to"
    );
    state.metrics.logout(return_to.protocol(), "not_possible");
    let back = way_back(state, &return_to, false);
    page::not_possible(state, ctx, browser, back)
}

/// poort's LogoutRequest to the session's AD, when that AD takes log-out messages (a
/// SingleLogoutService in its metadata) and named the person in its answer; `Err` gives the
/// requester back when it cannot be sent.
async fn forward_to_ad(
    state: &AppState,
    ctx: &Ctx,
    ended: &LoginSession,
    return_to: ReturnTo,
    now: DateTime<Utc>,
) -> Result<Response, ReturnTo> {
    let metadata = state.metadata();
    let Some(idp) = metadata.idp(&ended.authn.idp) else {
        return Err(return_to);
    };
    let (Some(endpoint), Some(name_id)) =
        (logout_endpoint(&idp.slo), ended.upstream.name_id.as_ref())
    else {
        return Err(return_to);
    };
    let id = xml::new_id();
    let by_post = endpoint.binding == xml::BINDING_POST;
    let message = OutgoingLogoutRequest {
        id: &id,
        issuer: &state.config.saml.sp_entity_id,
        destination: &endpoint.location,
        name_id,
        session_index: ended.upstream.session_index.as_deref(),
        now,
        not_on_or_after: now + AD_ANSWER_WITHIN,
    }
    .write(by_post.then_some(&state.signing));
    let message = match message {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(reference = %ctx.reference, "log-out request not signed: {e}");
            return Err(return_to);
        }
    };
    let pending = PendingLogout {
        ad: idp.entity_id.clone(),
        return_to,
        trace: crate::telemetry::traceparent(),
    };
    let stored = match serde_json::to_vec(&pending) {
        Ok(bytes) => state
            .flows
            .put(&pending_key(&id), bytes, now + AD_ANSWER_WITHIN)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = stored {
        tracing::error!(reference = %ctx.reference, "pending log-out not kept: {e}");
        return Err(pending.return_to);
    }
    let back = match Back::saml(
        state,
        &endpoint.location,
        by_post,
        "SAMLRequest",
        &message,
        None,
    ) {
        Ok(back) => back,
        Err(e) => {
            tracing::error!(reference = %ctx.reference, "log-out request not signed: {e}");
            return Err(pending.return_to);
        }
    };
    Ok(back.go(state, ctx))
}

/// The AD's LogoutResponse to poort's LogoutRequest `in_response_to`, from `ad` (verified by
/// the caller): the pending log-out taken (once), then the requester answered.
async fn ad_answered(
    state: &AppState,
    ctx: &Ctx,
    ad: &IdpMetadata,
    in_response_to: &str,
    succeeded: bool,
) -> Response {
    let now = Utc::now();
    let pending = match state.flows.take(&pending_key(in_response_to), now).await {
        Ok(Some(bytes)) => serde_json::from_slice::<PendingLogout>(&bytes).ok(),
        Ok(None) => None,
        Err(e) => return refused(state, ctx, "saml", Refusal::Internal(e.to_string())),
    };
    let Some(pending) = pending.filter(|p| p.ad == ad.entity_id) else {
        return refused(state, ctx, "saml", Refusal::UnknownLogout);
    };
    crate::telemetry::continue_trace(&pending.trace);
    let protocol = pending.return_to.protocol();
    let outcome = if succeeded { "completed" } else { "ad_failed" };
    tracing::info!(reference = %ctx.reference, ad = %ad.entity_id, outcome, "log-out answered by the identity provider");
    state.metrics.logout(protocol, outcome);
    let ad_name = ad.display_name(ctx.lang.code()).to_string();
    match way_back(state, &pending.return_to, succeeded) {
        Some(back) => back.go(state, ctx),
        None => page::logged_out(state, ctx, &ad_name, succeeded),
    }
}

/// The way back to the requester: the DV's LogoutResponse (Success when every party logged
/// out, else PartialLogout) at its SingleLogoutService, or the client's registered redirect URI.
fn way_back(state: &AppState, return_to: &ReturnTo, all_logged_out: bool) -> Option<Back> {
    match return_to {
        ReturnTo::Saml {
            dv,
            request_id,
            relay_state,
        } => saml::answer_dv(
            state,
            dv,
            request_id,
            relay_state.as_deref(),
            all_logged_out,
        ),
        ReturnTo::Oidc { redirect, state: s } => {
            let mut url = url::Url::parse(redirect.as_deref()?).ok()?;
            if let Some(s) = s {
                url.query_pairs_mut().append_pair("state", s);
            }
            Some(Back::Link(url.into()))
        }
    }
}
