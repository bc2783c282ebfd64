//! The answer to a SAML DV: the signed (and, when the DV has an encryption key, encrypted)
//! Response with the assertion for the chosen organisation, in the DV's binding.

use super::super::binding::{deliver, to_dv};
use super::super::flow::{Ctx, PendingFlow};
use super::super::record::allowed;
use crate::domain::attributes::release;
use crate::domain::decision::Candidate;
use crate::domain::identifiers::legal_subject_ids;
use crate::domain::login::AnswerTo;
use crate::saml::encrypt;
use crate::saml::idp::{self, AssertionContent};
use crate::web::errors::LoginError;
use crate::web::AppState;
use axum::response::Response;
use chrono::Utc;

/// The assertion for `candidate`, signed (and encrypted to the DV when it has an encryption
/// key) inside a signed Response; delivered as the page that posts it or by artifact.
#[tracing::instrument(name = "answer.sign", skip_all, fields(dv = %flow.intent.requester))]
pub(in crate::web::login) async fn saml_answer(
    state: &AppState,
    ctx: &Ctx,
    flow: &PendingFlow,
    candidate: &Candidate,
) -> Result<Response, LoginError> {
    let run = || -> Result<String, LoginError> {
        let internal = |e: &dyn std::fmt::Display| LoginError::Internal(e.to_string());
        let result = flow.result.as_ref().ok_or(LoginError::UnknownFlow)?;
        let metadata = state.metadata();
        let dv = metadata
            .sps
            .get(&flow.intent.requester)
            .ok_or_else(|| LoginError::UnknownRequester(flow.intent.requester.clone()))?;
        let AnswerTo::Saml {
            acs_url,
            request_id,
            ..
        } = &flow.intent.answer
        else {
            return Err(LoginError::Internal("not a SAML login".into()));
        };
        let pseudonym = state
            .pseudonyms
            .pseudonym(&dv.entity_id, &result.idp, &result.subject)
            .map_err(|e| internal(&e))?;
        let now = Utc::now();
        let organisation = &candidate.organisation;
        let legal_subject = legal_subject_ids(
            &organisation.kvk,
            organisation.rsin.as_deref(),
            &flow.intent.identifiers,
        );
        // Only what the service asked for; what came encrypted goes on encrypted, to the DV.
        let released = release(&flow.intent.requested_attributes, &result.attributes);
        let dv_key = dv.encryption_keys.first().map(|cert| &cert.public_key);
        let further = idp::further_attributes(&released, dv_key).map_err(|e| internal(&e))?;
        if !further.withheld.is_empty() {
            tracing::warn!(
                reference = %ctx.reference, dv = %dv.entity_id, withheld = ?further.withheld,
                "attributes the identity provider encrypted are withheld: the DV has no encryption key"
            );
        }
        let content = AssertionContent {
            idp_entity_id: &state.config.saml.idp_entity_id,
            audience: &dv.entity_id,
            acs_url,
            in_response_to: request_id,
            pseudonym: &pseudonym,
            legal_subject: &legal_subject,
            company_name: &organisation.name,
            service_id: &flow.service.service_id,
            service_uuid: &flow.service.uuid,
            level_used: candidate.level_used,
            authenticating_authority: &result.idp,
            authn_instant: result.authn_instant,
            now,
            lifetime_seconds: state.config.saml.assertion_lifetime_seconds,
            further_attributes: &further.xml,
        };
        let assertion =
            idp::signed_assertion(&content, &state.signing).map_err(|e| internal(&e))?;
        let body = match dv_key {
            Some(key) => encrypt::encrypt_assertion(&assertion, key).map_err(|e| internal(&e))?,
            None => assertion,
        };
        let response = idp::signed_response(
            &state.config.saml.idp_entity_id,
            acs_url,
            request_id,
            None,
            Some(&body),
            now,
            &state.signing,
        )
        .map_err(|e| internal(&e))?;
        state.grant_uses.used(&candidate.grant_id, now);
        allowed(state, ctx, flow, candidate);
        tracing::info!(
            reference = %ctx.reference, flow = %flow.id, dv = %dv.entity_id,
            pseudonym = %pseudonym, grant = %candidate.grant_id, level = %candidate.level_used,
            "login allowed"
        );
        Ok(response)
    };
    let delivered = match run() {
        Ok(response) => to_dv(state, &flow.intent, response).await,
        Err(e) => Err(e),
    };
    delivered.map(|form| deliver(state, ctx, form))
}
