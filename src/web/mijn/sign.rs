//! Requests one by one and signing off: `GET /mijn/requests/{id}` (the requester's own, with
//! withdraw; or one the person may sign, with approve, perhaps lowering level and validity, and
//! decline with a reason), and `GET /mijn/approvals` (what waits for their signature, oldest
//! first, a page at a time, across their organisations or for one).

use super::ask::not_found;
use super::{day, done, notice_text, Person};
use crate::config::ServiceConfig;
use crate::domain::level::Level;
use crate::domain::request::{RequestKind, RequestState, SignedOff, Validity, Verdict};
use crate::grants::{RequestView, WriteError};
use crate::selfservice::RequestError;
use crate::web::admin::grants::scope_label;
use crate::web::admin::Fields;
use crate::web::i18n::Lang;
use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use minijinja::context;
use std::collections::HashMap;

/// How many requests a page of the approvals list shows.
pub const PAGE_ROWS: i64 = 50;

/// What is asked, in words.
fn asked_text(lang: Lang, catalogue: &[ServiceConfig], view: &RequestView) -> String {
    match &view.request.kind {
        RequestKind::Grant { scopes, .. } => {
            let scopes: Vec<String> = scopes
                .iter()
                .map(|s| scope_label(catalogue, lang, s))
                .collect();
            format!(
                "{}: {}",
                lang.pick("Machtiging", "Grant"),
                scopes.join(", ")
            )
        }
        RequestKind::Link => lang
            .pick("Koppeling met de organisatie", "Link to the organisation")
            .to_string(),
        RequestKind::Renewal { grant_id, .. } => {
            format!(
                "{} {grant_id}",
                lang.pick("Verlenging van machtiging", "Renewal of grant")
            )
        }
    }
}

fn state_text(lang: Lang, state: &RequestState) -> &'static str {
    match state {
        RequestState::Open => lang.pick("wacht op handtekening", "waiting for a signature"),
        RequestState::AwaitingSecondSignature { .. } => lang.pick(
            "wacht op tweede bestuurder",
            "waiting for a second director",
        ),
        RequestState::Approved => lang.pick("goedgekeurd", "approved"),
        RequestState::Declined { .. } => lang.pick("afgewezen", "declined"),
        RequestState::Withdrawn => lang.pick("ingetrokken", "withdrawn"),
        RequestState::Expired => lang.pick("vervallen", "expired"),
    }
}

/// A request as a row of a list.
pub fn request_row(
    lang: Lang,
    catalogue: &[ServiceConfig],
    view: &RequestView,
) -> minijinja::Value {
    let asks = view.request.kind.asks();
    context! {
        id => view.request.id, organisation => view.organisation.name,
        kvk => view.organisation.kvk, what => asked_text(lang, catalogue, view),
        level => asks.map(|(l, _)| l.name()), years => asks.map(|(_, v)| v.years()),
        state => view.request.state.as_str(), state_text => state_text(lang, &view.request.state),
        created => day(view.request.created_at), expires => day(view.expires_at),
        requester => view.requester_name,
        reason => match &view.request.state { RequestState::Declined { reason } => Some(reason.clone()), _ => None },
        granted => view.granted.map(|(l, v)| format!("{} · {} {}", l.name(), v.years(), lang.pick("jaar", "year(s)"))),
    }
}

/// `GET /mijn/requests/{id}`.
pub async fn request(
    person: Person,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let now = Utc::now();
    let view = match person
        .state
        .self_service()
        .request(&person.session, &id, now)
        .await
    {
        Ok(view) => view,
        Err(RequestError::NotFound) => return not_found(&person),
        Err(e) => return person.failed("request", &e),
    };
    let notice = notice_text(person.lang, query.get("notice").map(String::as_str));
    request_page(&person, &view, notice, None, now)
}

fn request_page(
    person: &Person,
    view: &RequestView,
    notice: Option<&str>,
    error: Option<String>,
    now: DateTime<Utc>,
) -> Response {
    let lang = person.lang;
    let catalogue = person.state.catalogue();
    let own = view.request.requester == person.session.person_id;
    let open = view.request.is_pending(now);
    // Lowering, never raising: the levels and validities up to what was asked.
    let (levels, validities): (Vec<&str>, Vec<u32>) = match view.request.kind.asks() {
        Some((level, validity)) => (
            Level::ALL
                .iter()
                .filter(|l| **l <= level)
                .map(|l| l.name())
                .collect(),
            Validity::ALL
                .iter()
                .filter(|v| **v <= validity)
                .map(|v| v.years())
                .collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    let mut response = person.page(
        "mijn/request.html",
        if own { "/mijn" } else { "/mijn/approvals" },
        context! {
            title => lang.pick("Aanvraag", "Request"),
            notice_text => notice,
            form_error => error.clone(),
            request => request_row(lang, &catalogue, view),
            motivation => view.motivation,
            requester_email => (!own).then_some(view.requester_email.clone()),
            own => own,
            may_withdraw => own && open,
            may_sign => !own && open,
            levels => levels,
            validities => validities,
        },
    );
    if error.is_some() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

/// `POST /mijn/requests/{id}/withdraw`.
pub async fn withdraw(person: Person, Path(id): Path<String>, body: Bytes) -> Response {
    if let Err(page) = person.form(&body) {
        return page.into_response();
    }
    let now = Utc::now();
    match person
        .state
        .self_service()
        .withdraw(&person.session, &id, now)
        .await
    {
        Ok(_) => done("/mijn", "withdrawn"),
        Err(RequestError::NotFound) => not_found(&person),
        Err(RequestError::Write(WriteError::Database(e))) => person.failed("withdraw", &e),
        Err(e) => refused(&person, &id, &e, now).await,
    }
}

/// The request's page again, saying why the action was refused.
async fn refused(person: &Person, id: &str, e: &RequestError, now: DateTime<Utc>) -> Response {
    tracing::info!(request = %id, reason = e.reason_code(), "sign-off refused");
    refused_with(person, id, sign_refusal_text(person.lang, e), now).await
}

/// The request's page again, with `text` saying what was wrong.
async fn refused_with(person: &Person, id: &str, text: String, now: DateTime<Utc>) -> Response {
    match person
        .state
        .self_service()
        .request(&person.session, id, now)
        .await
    {
        Ok(view) => request_page(person, &view, None, Some(text), now),
        Err(_) => not_found(person),
    }
}

/// Why a signature was refused, in the signer's words.
pub fn sign_refusal_text(lang: Lang, e: &RequestError) -> String {
    let (nl, en) = match e.reason_code() {
        "request_not_pending" => ("Over deze aanvraag is al beslist.", "This request has already been decided."),
        "request_expired" => ("Deze aanvraag is vervallen: er is niet binnen 30 dagen over beslist.", "This request has expired: it was not decided within 30 days."),
        "own_request" => ("U kunt uw eigen aanvraag niet tekenen.", "You cannot sign your own request."),
        "not_an_administrator" => ("Met uw rol kunt u geen aanvragen tekenen.", "Your role cannot sign requests."),
        "not_their_group" => ("Als groepsbeheerder tekent u alleen voor leden van uw groepen.", "As a groepsbeheerder you sign only for the members of your groups."),
        "link_needs_beheerder" => ("Een koppeling tekent een beheerder of bestuurder, geen groepsbeheerder.", "A link is signed by an administrator or director, not a groepsbeheerder."),
        "above_own_level" => ("U kunt geen machtiging geven boven uw eigen niveau. Kies een lager niveau, of laat een ander tekenen.", "You cannot give a grant above your own level. Choose a lower level, or let someone else sign."),
        "raised" => ("Een goedkeuring mag niveau en geldigheid verlagen, niet verhogen.", "An approval may lower the level and validity, not raise them."),
        "no_reason" => ("Geef een reden voor de afwijzing.", "Give a reason for the decline."),
        "same_director" => ("De tweede handtekening moet van een andere bestuurder komen.", "The second signature must come from another director."),
        "representative_level" => ("Als bestuurder tekent u na inloggen op niveau EH3 of hoger. Log opnieuw in met zo'n middel.", "As a director you sign after logging in at level EH3 or higher. Log in again with such a means."),
        "duplicate_grant" => ("De aanvrager heeft al een gelijke machtiging voor deze periode.", "The requester already holds the same grant for this period."),
        _ => ("De handtekening kon niet worden verwerkt.", "The signature could not be handled."),
    };
    lang.pick(nl, en).to_string()
}

/// `POST /mijn/requests/{id}/sign`: `decision=approve` (with `level`, `validity` at most as
/// asked) or `decision=decline` (with `reason`).
pub async fn sign(person: Person, Path(id): Path<String>, body: Bytes) -> Response {
    let fields = match person.form(&body) {
        Ok(fields) => fields,
        Err(page) => return page.into_response(),
    };
    let now = Utc::now();
    let verdict = match verdict_of(&fields) {
        Ok(verdict) => verdict,
        // Only a form poort did not write sends these: nothing is signed on a guess.
        Err((nl, en)) => {
            tracing::info!(request = %id, "sign-off form not understood");
            return refused_with(&person, &id, person.lang.pick(nl, en).to_string(), now).await;
        }
    };
    match person
        .state
        .self_service()
        .sign(&person.session, &id, &verdict, now)
        .await
    {
        Ok(signed) => {
            let notice = match signed.signed {
                SignedOff::Approved(_) => "approved",
                SignedOff::FirstOfTwo => "first_of_two",
                SignedOff::Declined { .. } => "declined",
            };
            done(&format!("/mijn/requests/{id}"), notice)
        }
        Err(RequestError::NotFound) => not_found(&person),
        Err(RequestError::Write(WriteError::Database(e))) => person.failed("sign", &e),
        Err(e) => refused(&person, &id, &e, now).await,
    }
}

/// The signature the form asks for: `decision` approve or decline; an approval's `level` and
/// `validity` (years) left empty mean "as asked". A value the form never offers is refused, in
/// the signer's words, rather than read as "as asked".
fn verdict_of(fields: &Fields) -> Result<Verdict, (&'static str, &'static str)> {
    match fields.text("decision").as_str() {
        "decline" => Ok(Verdict::Decline {
            reason: fields.text("reason"),
        }),
        "approve" => {
            let level = match fields.text("level").as_str() {
                "" => None,
                text => Some(text.parse::<Level>().map_err(|_| {
                    (
                        "Dit niveau bestaat niet. Kies een niveau uit de lijst.",
                        "There is no such level. Choose a level from the list.",
                    )
                })?),
            };
            let validity = match fields.text("validity").as_str() {
                "" => None,
                text => Some(text.parse().ok().and_then(Validity::from_years).ok_or((
                    "Kies een geldigheid van 1, 3 of 5 jaar.",
                    "Choose a validity of 1, 3 or 5 years.",
                ))?),
            };
            Ok(Verdict::Approve { level, validity })
        }
        _ => Err(("Kies goedkeuren of afwijzen.", "Choose approve or decline.")),
    }
}

/// `GET /mijn/approvals?organisation=&after=`: what waits for the person's signature.
pub async fn approvals(person: Person, Query(query): Query<HashMap<String, String>>) -> Response {
    let now = Utc::now();
    let lang = person.lang;
    // A KvK number, or no filter.
    let organisation = query
        .get("organisation")
        .filter(|k| k.len() == 8 && k.bytes().all(|b| b.is_ascii_digit()))
        .cloned();
    // `after` is the last row of the previous page: `<RFC 3339>~<ID>`.
    let after = query.get("after").and_then(|a| {
        let (at, id) = a.split_once('~')?;
        let at = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc);
        Some((at, id.to_string()))
    });
    let service = person.state.self_service();
    let page = match service
        .to_sign(
            &person.session,
            organisation.as_deref(),
            after.as_ref(),
            PAGE_ROWS,
            now,
        )
        .await
    {
        Ok(page) => page,
        Err(e) => return person.failed("approvals", &e.redacted()),
    };
    let catalogue = person.state.catalogue();
    let rows: Vec<minijinja::Value> = page
        .requests
        .iter()
        .map(|r| request_row(lang, &catalogue, r))
        .collect();
    let next = page.next.as_ref().map(|(at, id)| {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        if let Some(kvk) = &organisation {
            url.append_pair("organisation", kvk);
        }
        url.append_pair("after", &format!("{}~{id}", at.to_rfc3339()));
        format!("/mijn/approvals?{}", url.finish())
    });
    person.page(
        "mijn/approvals.html",
        "/mijn/approvals",
        context! {
            title => lang.pick("Te tekenen", "To sign"),
            requests => rows,
            total => page.total,
            organisation => organisation,
            next => next,
            first => after.is_some().then_some(match &organisation {
                Some(kvk) => format!("/mijn/approvals?organisation={kvk}"),
                None => "/mijn/approvals".to_string(),
            }),
        },
    )
}
