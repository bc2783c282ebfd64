//! The answer to a login for Mijn poort: a person session, kept in the flow store, and its
//! cookie. The person is the one the identity is linked to; a first login of a bevoegd
//! vertegenwoordiger is recognised by the name and date of birth the AD gave, which binds the
//! identity to the director the trade register names. Anyone else gets a page saying how to
//! get access.

use super::super::flow::{Ctx, PendingFlow};
use crate::domain::login::AuthnResult;
use crate::selfservice::PersonSession;
use crate::web::errors::LoginError;
use crate::web::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;

/// The AD authenticated the person: open their session, or say why there is none.
pub(in crate::web::login) async fn open_person_session(
    state: &AppState,
    ctx: &Ctx,
    flow: &PendingFlow,
    next: &str,
    result: &AuthnResult,
) -> Result<Response, LoginError> {
    let internal = |e: &dyn std::fmt::Display| LoginError::Internal(e.to_string());
    let sql = state.registry.sql();
    // A director the trade register names, at a login that could sign for them (EH3): bound
    // to this identity once their name and birth date match (the first login makes the person;
    // a sole director becomes hoofdbeheerder). Nothing of the attributes is kept or logged.
    if result.level >= crate::domain::request::REPRESENTATIVE_LEVEL {
        if let Some(d) = crate::selfservice::representatives::described(result) {
            let binding = sql.bind_representative(
                &result.idp,
                &result.subject,
                &d.first_name,
                &d.family_name,
                &d.date_of_birth,
                Utc::now(),
            );
            let bound = state
                .registry
                .write(binding)
                .await
                .map_err(|e| internal(&e.redacted()))?;
            if !bound.is_empty() {
                for b in &bound {
                    tracing::info!(reference = %ctx.reference, person = %b.person, organisation = %b.organisation.kvk, hoofdbeheerder = b.became_hoofdbeheerder, activated = b.activated, "bevoegd vertegenwoordiger recognised");
                }
                crate::admin::notify::representatives_bound(sql.pool(), &state.mailer, &bound)
                    .await;
            }
        }
    }
    let found = sql
        .person_of_identity(&result.idp, &result.subject)
        .await
        .map_err(|e| internal(&e.redacted()))?;
    let Some((person, name)) = found else {
        tracing::info!(reference = %ctx.reference, flow = %flow.id, "Mijn poort: identity not known");
        return Ok(state.pages.mijn_message(
            ctx.lang,
            StatusCode::FORBIDDEN,
            ("Nog geen toegang", "No access yet"),
            (
                "Uw eHerkenningsmiddel is nog niet bekend bij poort. Vraag de beheerder van uw organisatie om een uitnodiging; bent u bestuurder, dan herkent poort u zodra de Kamer van Koophandel-gegevens van uw organisatie zijn ingelezen.",
                "Your eHerkenning means is not known to poort yet. Ask your organisation's administrator for an invitation; if you are a director, poort recognises you once your organisation's trade register details have been read in.",
            ),
        ));
    };
    let now = Utc::now();
    let session = PersonSession::new(person, name, result.level, now);
    let response = crate::web::sessions::open(state, &session, next)
        .await
        .map_err(|e| internal(&e))?;
    tracing::info!(reference = %ctx.reference, person = %session.person_id, level = %session.level, "Mijn poort session opened");
    Ok(response)
}
