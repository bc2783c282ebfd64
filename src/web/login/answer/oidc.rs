//! The answer to an OpenID Connect client: an authorization code for the allowed login, kept
//! in the flow store until `/oidc/token` redeems it, at the client's verified redirect URI.

use super::super::flow::PendingFlow;
use crate::domain::decision::Candidate;
use crate::domain::login::AnswerTo;
use crate::web::errors::LoginError;
use crate::web::AppState;
use chrono::{Duration, Utc};

use crate::oidc::authorization_response;
use crate::oidc::code::{CodeGrant, MAX_CODE_LIFETIME_SECONDS};
use serde_json::json;

/// Turns an allowed login into an authorization code; the URI to send the browser to.
pub(in crate::web::login) async fn issue_code(
    state: &AppState,
    flow: &PendingFlow,
    candidate: &Candidate,
) -> Result<String, LoginError> {
    let internal = |e: &dyn std::fmt::Display| LoginError::Internal(e.to_string());
    let AnswerTo::Oidc {
        client_id,
        redirect_uri,
        state: client_state,
        nonce,
        code_challenge,
        scope,
    } = &flow.intent.answer
    else {
        return Err(LoginError::Internal("not an OpenID Connect login".into()));
    };
    let result = flow.result.as_ref().ok_or(LoginError::UnknownFlow)?;
    // Pairwise: stable for one client, unrelated between clients.
    let sub = state
        .pseudonyms
        .pseudonym(client_id, &result.idp, &result.subject)
        .map_err(|e| internal(&e))?;
    let mut claims = json!({
        "iss": state.config.issuer(),
        "sub": sub,
        "aud": client_id,
        "auth_time": result.authn_instant.timestamp(),
        "acr": candidate.level_used.uri(),
        "represents": {
            "sub": candidate.organisation.kvk,
            "sub_id_type": "urn:nl-eid-gdi:1.0:id:KvKnr",
            "name": candidate.organisation.name,
        },
        "service_id": flow.service.service_id,
        "service_uuid": flow.service.uuid,
        "roles": candidate.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    let grant = CodeGrant {
        client_id: client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        code_challenge: code_challenge.clone(),
        claims,
        scope: scope.clone(),
    };
    let code = hex::encode(rand::random::<[u8; 32]>());
    let bytes = serde_json::to_vec(&grant).map_err(|e| internal(&e))?;
    let now = Utc::now();
    state
        .flows
        .put(
            &format!("oidc-code:{code}"),
            bytes,
            now + Duration::seconds(
                state
                    .config
                    .oidc
                    .code_lifetime_seconds
                    .clamp(1, MAX_CODE_LIFETIME_SECONDS),
            ),
        )
        .await
        .map_err(|e| internal(&e))?;
    Ok(authorization_response(
        redirect_uri,
        state.config.issuer(),
        &[
            ("code", &code),
            ("state", client_state.as_deref().unwrap_or_default()),
        ],
    ))
}
