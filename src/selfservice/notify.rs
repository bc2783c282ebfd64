//! The mails of a request's steps, in each recipient's language (Dutch unless `en`): to those
//! who may sign when a request waits (with the link to it in Mijn poort), and to the requester
//! when it is asked, signed once of two, approved, declined (with the reason) or expired. The
//! links lead to Mijn poort, where the reader logs in first: a mail carries no secret.

use crate::domain::request::{RequestKind, RequestState};
use crate::grants::RequestView;
use crate::mail::{Mail, Recipient};

/// What was asked, in words.
pub fn asked_for(request: &RequestView, en: bool) -> String {
    let org = &request.organisation.name;
    match &request.request.kind {
        RequestKind::Grant {
            scopes,
            level,
            validity,
        } => {
            let n = scopes.len();
            if en {
                format!(
                    "an authorisation for {org} ({n} scope{}, level {level}, {} year{})",
                    if n == 1 { "" } else { "s" },
                    validity.years(),
                    if validity.years() == 1 { "" } else { "s" }
                )
            } else {
                format!(
                    "een machtiging namens {org} ({n} bereik{}, niveau {level}, {} jaar)",
                    if n == 1 { "" } else { "en" },
                    validity.years()
                )
            }
        }
        RequestKind::Link => {
            if en {
                format!("access to {org}")
            } else {
                format!("toegang tot {org}")
            }
        }
        RequestKind::Renewal {
            grant_id, validity, ..
        } => {
            if en {
                format!(
                    "renewal of authorisation {grant_id} for {org} by {} year(s)",
                    validity.years()
                )
            } else {
                format!(
                    "verlenging van machtiging {grant_id} namens {org} met {} jaar",
                    validity.years()
                )
            }
        }
    }
}

/// To someone who may sign: a request waits for them.
pub fn waiting(r: &Recipient, request: &RequestView, link: &str) -> Mail {
    let who = request.requester_name.as_deref().unwrap_or("-");
    let dear = r.dear();
    let days = 30;
    r.mail(
        (
            format!("Aanvraag om te tekenen: {}", request.organisation.name),
            format!(
                "Beste {dear},\n\n{who} vraagt om {}.\n\nLog in bij Mijn poort om de aanvraag goed \
                 te keuren of af te wijzen:\n{link}\n\nDe aanvraag vervalt als niemand binnen \
                 {days} dagen beslist.\n",
                asked_for(request, false)
            ),
        ),
        (
            format!("Request to sign: {}", request.organisation.name),
            format!(
                "Dear {dear},\n\n{who} asks for {}.\n\nLog in to Mijn poort to approve or decline \
                 it:\n{link}\n\nThe request expires if nobody decides within {days} days.\n",
                asked_for(request, true)
            ),
        ),
    )
}

/// To the requester: where their request stands now.
pub fn to_requester(r: &Recipient, request: &RequestView, link: &str) -> Option<Mail> {
    let dear = r.dear();
    let what = asked_for(request, r.english());
    let (nl, eng) = match &request.request.state {
        RequestState::Open => (
            format!("Uw aanvraag voor {what} is ontvangen en wacht op een handtekening."),
            format!("Your request for {what} has been received and waits for a signature."),
        ),
        RequestState::AwaitingSecondSignature { .. } => (
            format!("Uw aanvraag voor {what} is door één bestuurder getekend en wacht op de handtekening van een tweede bestuurder."),
            format!("Your request for {what} has been signed by one director and waits for a second director's signature."),
        ),
        RequestState::Approved => {
            let granted = request
                .granted
                .map(|(level, validity)| (format!(" (niveau {level}, {} jaar)", validity.years()), format!(" (level {level}, {} year(s))", validity.years())))
                .unwrap_or_default();
            (
                format!("Uw aanvraag voor {what} is goedgekeurd{}. U kunt er nu mee inloggen.", granted.0),
                format!("Your request for {what} has been approved{}. You can log in with it now.", granted.1),
            )
        }
        RequestState::Declined { reason } => (
            format!("Uw aanvraag voor {what} is afgewezen. De reden: {reason}"),
            format!("Your request for {what} has been declined. The reason: {reason}"),
        ),
        RequestState::Expired => (
            format!("Uw aanvraag voor {what} is vervallen: niemand heeft binnen 30 dagen beslist. U kunt opnieuw aanvragen."),
            format!("Your request for {what} has expired: nobody decided within 30 days. You can ask again."),
        ),
        RequestState::Withdrawn => return None,
    };
    Some(r.mail(
        (
            format!("Uw aanvraag: {}", request.organisation.name),
            format!("Beste {dear},\n\n{nl}\n\nBekijk hem in Mijn poort:\n{link}\n"),
        ),
        (
            format!("Your request: {}", request.organisation.name),
            format!("Dear {dear},\n\n{eng}\n\nSee it in Mijn poort:\n{link}\n"),
        ),
    ))
}
