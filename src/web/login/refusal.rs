//! How a login stops: the refusal recorded and logged with its reference, and told to the
//! requester in its own protocol (an OAuth error at the verified redirect URI, a signed SAML
//! error Response behind the error page's button) and to the person on the error page.

use super::binding::{deliver, saml_error_form};
use super::flow::{Ctx, PendingFlow};
use super::record::audit_decision;
use crate::domain::login::AnswerTo;
use crate::saml::idp::{self, SamlStatus};
use crate::web::errors::LoginError;
use crate::web::AppState;
use axum::response::{IntoResponse, Redirect, Response};

use crate::oidc::authorization_response;

/// Why a step of a login stopped: the error, and the pending flow when the step knew it by then
/// (the requester then hears of the refusal in its own protocol, and the refusal is recorded).
/// Steps return `Result<Response, Stop>` and use `?`; [`settle`] turns a stop into its answer.
#[derive(Debug)]
pub(super) struct Stop {
    error: LoginError,
    flow: Option<Box<PendingFlow>>,
}

/// An error before the flow is known: a page only.
impl From<LoginError> for Stop {
    fn from(error: LoginError) -> Stop {
        Stop { error, flow: None }
    }
}

impl Stop {
    /// `error` in a step of `flow`.
    pub(super) fn with_flow(error: LoginError, flow: &PendingFlow) -> Stop {
        Stop {
            error,
            flow: Some(Box::new(flow.clone())),
        }
    }
}

/// An error of a step of `flow`: `step().await.with_flow(&flow)?`.
pub(super) trait WithFlow<T> {
    fn with_flow(self, flow: &PendingFlow) -> Result<T, Stop>;
}

impl<T> WithFlow<T> for Result<T, LoginError> {
    fn with_flow(self, flow: &PendingFlow) -> Result<T, Stop> {
        self.map_err(|error| Stop::with_flow(error, flow))
    }
}

/// The answer of a step: its own response, or the refusal it stopped with.
pub(super) async fn settle(state: &AppState, ctx: &Ctx, step: Result<Response, Stop>) -> Response {
    match step {
        Ok(response) => response,
        Err(Stop { error, flow }) => fail(state, ctx, error, flow.as_deref()).await,
    }
}

/// Renders an error: logged with its reference; a verified DV also gets its SAML answer.
pub(super) async fn fail(
    state: &AppState,
    ctx: &Ctx,
    err: LoginError,
    flow: Option<&PendingFlow>,
) -> Response {
    tracing::warn!(reference = %ctx.reference, error = %err, "login stopped");
    if let Some(f) = flow {
        let detail = serde_json::json!({ "reason": err.reason_code() });
        audit_decision(state, ctx, f, None, "login.refused", detail);
    }
    // An OpenID Connect client gets the error at its (verified) redirect URI (RFC 6749 4.1.2.1).
    if let Some(AnswerTo::Oidc {
        redirect_uri,
        state: client_state,
        ..
    }) = flow.map(|f| &f.intent.answer)
    {
        let (code, description) = err.oauth_error();
        let description = format!("{description} (reference {})", ctx.reference);
        return Redirect::to(&authorization_response(
            redirect_uri,
            state.config.issuer(),
            &[
                ("error", code),
                ("error_description", &description),
                ("state", client_state.as_deref().unwrap_or_default()),
            ],
        ))
        .into_response();
    }
    let back = match flow {
        Some(f) => match err.saml_status() {
            Some(status) => match saml_error_form(state, &f.intent, &status).await {
                Ok(form) => Some(form),
                Err(e) => {
                    tracing::error!(reference = %ctx.reference, error = %e, "cannot sign error response");
                    None
                }
            },
            None => None,
        },
        None => None,
    };
    let name = flow.map(|f| (f.service_name.0.as_str(), f.service_name.1.as_str()));
    state
        .pages
        .error(ctx.lang, &err.text(name), &ctx.reference, back.as_ref())
}

/// The person cancelled at the AD: the requester hears so in its own protocol (SAML
/// AuthnFailed with "Authentication cancelled", OAuth `access_denied`).
pub(super) async fn cancelled(state: &AppState, ctx: &Ctx, flow: &PendingFlow) -> Response {
    tracing::info!(reference = %ctx.reference, flow = %flow.id, "cancelled at identity provider");
    if let AnswerTo::Oidc { .. } = flow.intent.answer {
        let e = LoginError::AdFailed("the person cancelled the login".into());
        return fail(state, ctx, e, Some(flow)).await;
    }
    let status = SamlStatus {
        top: idp::STATUS_RESPONDER,
        second: Some(idp::STATUS_AUTHN_FAILED),
        message: "Authentication cancelled".to_string(),
    };
    match saml_error_form(state, &flow.intent, &status).await {
        Ok(form) => deliver(state, ctx, form),
        Err(e) => fail(state, ctx, e, None).await,
    }
}
