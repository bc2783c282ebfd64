//! Messages to a SAML DV in its binding: a signed Response posted by the page that posts it,
//! or put behind an artifact the DV resolves at poort's ArtifactResolutionService; and the
//! signed error Response a refusal offers the DV.

use super::artifact;
use super::flow::Ctx;
use crate::domain::login::{AnswerTo, AuthnIntent};
use crate::saml::binding::{self};
use crate::saml::idp::{self, SamlStatus};
use crate::web::errors::LoginError;
use crate::web::pages::PostForm;
use crate::web::AppState;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;

/// The signed error Response for a SAML requester, as the form of the error page's button
/// (by artifact when its ACS takes artifacts: the form then posts `SAMLart`).
pub(super) async fn saml_error_form(
    state: &AppState,
    intent: &AuthnIntent,
    status: &SamlStatus,
) -> Result<PostForm, LoginError> {
    let AnswerTo::Saml {
        acs_url,
        request_id,
        ..
    } = &intent.answer
    else {
        return Err(LoginError::Internal("not a SAML login".into()));
    };
    let response = idp::signed_response(
        &state.config.saml.idp_entity_id,
        acs_url,
        request_id,
        Some(status),
        None,
        Utc::now(),
        &state.signing,
    )
    .map_err(|e| LoginError::Internal(e.to_string()))?;
    to_dv(state, intent, response).await
}

/// A signed Response for the requester's ACS, in its binding: the form that posts it, or, by
/// artifact, the form that posts the artifact of it (which [`deliver`] turns into a redirect).
pub(super) async fn to_dv(
    state: &AppState,
    intent: &AuthnIntent,
    response: String,
) -> Result<PostForm, LoginError> {
    let AnswerTo::Saml {
        acs_url,
        relay_state,
        artifact,
        ..
    } = &intent.answer
    else {
        return Err(LoginError::Internal("not a SAML login".into()));
    };
    if !artifact {
        return Ok(post_form(acs_url, &response, relay_state.as_deref()));
    }
    let art = artifact::issue(
        state,
        response,
        &state.config.saml.idp_entity_id,
        &intent.requester,
    )
    .await?;
    let mut fields = vec![("SAMLart".to_string(), art)];
    if let Some(r) = relay_state {
        fields.push(("RelayState".to_string(), r.clone()));
    }
    Ok(PostForm {
        action: acs_url.clone(),
        fields,
    })
}

/// Takes an answer to the DV: an artifact by redirect (HTTP GET, SAML Bindings 2.0 §3.6.3), a
/// posted Response by the page that posts it.
pub(super) fn deliver(state: &AppState, ctx: &Ctx, form: PostForm) -> Response {
    let field = |name: &str| {
        form.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match field("SAMLart") {
        Some(art) => Redirect::to(&artifact::artifact_url(
            &form.action,
            art,
            field("RelayState"),
        ))
        .into_response(),
        None => state.pages.post_form(ctx.lang, &form),
    }
}

pub(super) fn post_form(action: &str, response: &str, relay_state: Option<&str>) -> PostForm {
    let mut fields = vec![("SAMLResponse".to_string(), binding::encode_post(response))];
    if let Some(r) = relay_state {
        fields.push(("RelayState".to_string(), r.to_string()));
    }
    PostForm {
        action: action.to_string(),
        fields,
    }
}
