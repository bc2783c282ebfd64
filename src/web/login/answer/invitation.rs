//! The answer to a login that began at an invitation link: the identity bound to the invited
//! person (once, within 24 hours), or a page that says why the link cannot be used.

use super::super::flow::{Ctx, PendingFlow};
use crate::domain::login::AuthnResult;
use crate::web::errors::LoginError;
use crate::web::AppState;
use axum::response::Response;
use chrono::Utc;

pub(in crate::web::login) fn invitation_unusable(
    state: &AppState,
    ctx: &Ctx,
    e: &crate::grants::WriteError,
) -> Response {
    use crate::grants::WriteError as W;
    let (status, title, text) = match e {
        W::InvitationExpired => (
            axum::http::StatusCode::GONE,
            ("Uitnodiging verlopen", "Invitation expired"),
            ("Deze uitnodigingslink is verlopen: hij is 24 uur geldig. Vraag de beheerder van uw organisatie om u opnieuw uit te nodigen.",
             "This invitation link has expired: it is valid for 24 hours. Ask your organisation's administrator to invite you again."),
        ),
        W::ActivationExpired => (
            axum::http::StatusCode::GONE,
            ("Activeringslink verlopen", "Activation link expired"),
            ("Deze link om uw organisatie te activeren is verlopen: hij is 24 uur geldig. De organisatie is nog niet actief. Vraag de beheerder van poort om een nieuwe link.",
             "This link to activate your organisation has expired: it is valid for 24 hours. The organisation is not active yet. Ask poort's operator for a new link."),
        ),
        W::InvitationUsed => (
            axum::http::StatusCode::GONE,
            ("Uitnodiging al gebruikt", "Invitation already used"),
            ("Deze uitnodigingslink is al gebruikt. U kunt nu direct inloggen bij de diensten en de beheermodule.",
             "This invitation link has already been used. You can now log in directly at the services and the admin module."),
        ),
        W::InvitationWithdrawn => (
            axum::http::StatusCode::GONE,
            ("Uitnodiging ingetrokken", "Invitation withdrawn"),
            ("Deze uitnodiging is ingetrokken door de beheerder van de organisatie.",
             "This invitation was withdrawn by the organisation's administrator."),
        ),
        W::InvitationUnknown => (
            axum::http::StatusCode::NOT_FOUND,
            ("Uitnodiging onbekend", "Invitation not known"),
            ("Deze uitnodigingslink is niet bekend. Controleer of u de hele link uit de e-mail gebruikt, of vraag om een nieuwe uitnodiging.",
             "This invitation link is not known. Check that you used the whole link from the e-mail, or ask for a new invitation."),
        ),
        W::LinkTaken { .. } => (
            axum::http::StatusCode::CONFLICT,
            ("Inlogmiddel al in gebruik", "Means of login already in use"),
            ("Met dit inlogmiddel is al een andere gebruiker bekend. Gebruik uw eigen eHerkenningsmiddel, of neem contact op met de beheerder van uw organisatie.",
             "This means of login already belongs to another user. Use your own eHerkenning means, or contact your organisation's administrator."),
        ),
        other => {
            tracing::error!(reference = %ctx.reference, reason = other.reason_code(), "invitation: {}", other.redacted());
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                ("Er ging iets mis", "Something went wrong"),
                ("De uitnodiging kon nu niet worden verwerkt. Probeer het over enkele minuten opnieuw.",
                 "The invitation could not be handled now. Try again in a few minutes."),
            )
        }
    };
    state.pages.admin_message(ctx.lang, status, title, text)
}

/// The AD authenticated the person who followed an invitation link: bind their identity.
pub(in crate::web::login) async fn accept_invitation(
    state: &AppState,
    ctx: &Ctx,
    flow: &PendingFlow,
    token: &str,
    result: &AuthnResult,
) -> Result<Response, LoginError> {
    if result.level < flow.intent.required_level {
        let reason = crate::domain::decision::DenyReason::LevelTooLow {
            achieved: result.level,
            required: flow.intent.required_level,
        };
        return Err(LoginError::Denied(reason));
    }
    let sql = state.registry.sql();
    let accepted = state
        .registry
        .write(sql.accept_invitation(token, &result.idp, &result.subject, Utc::now()))
        .await;
    Ok(match accepted {
        Ok(a) => {
            tracing::info!(reference = %ctx.reference, person = %a.person, organisation = %a.organisation.kvk, activated = a.activated, "invitation accepted");
            // An administrator appointed: the organisation's bevoegd vertegenwoordigers hear.
            let (pool, kvk) = (sql.pool(), &a.organisation.kvk);
            let roles = (&[][..], a.roles.as_slice());
            crate::admin::notify::if_appointed(pool, &state.mailer, kvk, &a.person, roles).await;
            let name = a.name.unwrap_or_default();
            if a.activated {
                let org = &a.organisation.name;
                return Ok(state.pages.admin_message_to(
                    ctx.lang,
                    axum::http::StatusCode::OK,
                    ("Organisatie geactiveerd", "Organisation activated"),
                    (
                        &format!("{name}, {org} is nu actief en u bent de hoofdbeheerder. Uw eHerkenningsmiddel is gekoppeld: in de beheermodule stelt u gebruikers aan, geeft u machtigingen en kunt u andere hoofdbeheerders aanstellen."),
                        &format!("{name}, {org} is now active and you are its hoofdbeheerder (main administrator). Your eHerkenning means is linked: in the admin module you appoint users, give authorisations and may appoint other hoofdbeheerders."),
                    ),
                    ("/admin", ("Naar de beheermodule", "To the admin module")),
                ));
            }
            state.pages.admin_message(
                ctx.lang,
                axum::http::StatusCode::OK,
                ("Welkom", "Welcome"),
                (
                    &format!("{name}, uw eHerkenningsmiddel is nu gekoppeld aan {}. Voortaan logt u direct in bij de diensten.", a.organisation.name),
                    &format!("{name}, your eHerkenning means is now linked to {}. From now on you log in directly at the services.", a.organisation.name),
                ),
            )
        }
        Err(e) => {
            // By its code only: a taken link's error names the AD subject.
            tracing::info!(reference = %ctx.reference, flow = %flow.id, reason = e.reason_code(), "invitation not accepted");
            invitation_unusable(state, ctx, &e)
        }
    })
}
