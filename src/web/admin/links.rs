//! Link requests: ask another organisation to link one of its members to this one (by KvK
//! number and the person's e-mail address there), answer the requests of other organisations
//! that name a member of this one, and withdraw an open request. Hoofdbeheerders and
//! beheerders only (the requests carry e-mail addresses).

use super::*;
use crate::grants::{LinkRequest, NewLinkRequest, WriteError};
use axum::extract::Path;
use minijinja::context;
use serde::Serialize;
use std::collections::BTreeMap;

pub(super) const NOTICES: &[(&str, &str, &str)] = &[
    (
        "link-requested",
        "Het verzoek is verstuurd. Een beheerder van de andere organisatie moet het goedkeuren.",
        "The request was sent. An administrator of the other organisation must approve it.",
    ),
    (
        "link-approved",
        "Goedgekeurd: de persoon is nu ook lid van de vragende organisatie.",
        "Approved: the person is now also a member of the asking organisation.",
    ),
    (
        "link-declined",
        "Het verzoek is afgewezen.",
        "The request was declined.",
    ),
    (
        "link-withdrawn",
        "Het verzoek is ingetrokken.",
        "The request was withdrawn.",
    ),
];

pub(super) fn routes() -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/admin/links", get(show).post(request))
        .route("/admin/links/{id}/{action}", post(answer))
}

#[derive(Debug, Default, Serialize)]
struct Typed {
    kvk: String,
    email: String,
    roles: Vec<String>,
}

fn status_label(lang: Lang, r: &LinkRequest) -> &'static str {
    use crate::grants::LinkRequestStatus as S;
    match r.status {
        S::Pending => lang.pick("wacht op goedkeuring", "awaiting approval"),
        S::Approved => lang.pick("goedgekeurd", "approved"),
        S::Declined => lang.pick("afgewezen", "declined"),
        S::Withdrawn => lang.pick("ingetrokken", "withdrawn"),
        S::Expired => lang.pick("verlopen", "expired"),
    }
}

fn row(lang: Lang, r: &LinkRequest) -> minijinja::Value {
    let roles: Vec<&str> = r.roles.iter().map(|r| r.as_str()).collect();
    context! {
        id => r.id,
        organisation => r.organisation,
        other => r.other,
        email => r.email,
        roles => roles,
        created => r.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        expires => r.expires_at.format("%Y-%m-%d").to_string(),
        pending => r.status == crate::grants::LinkRequestStatus::Pending,
        status => r.status.as_str(),
        status_label => status_label(lang, r),
        person_name => r.person_name,
    }
}

async fn page(admin: &Admin, typed: Typed, errors: BTreeMap<&'static str, String>) -> Page {
    admin.require(admin.manages())?;
    let listed = admin.services().link_requests(&admin.session).await;
    let (outgoing, incoming) = listed.or_failed(admin, "link requests")?;
    let roles = assignable_roles(&admin.session);
    let ctx = context! {
        title => admin.lang.pick("Koppelverzoeken", "Link requests"),
        outgoing => outgoing.iter().map(|r| row(admin.lang, r)).collect::<Vec<_>>(),
        incoming => incoming.iter().map(|r| row(admin.lang, r)).collect::<Vec<_>>(),
        values => typed,
        errors => errors,
        all_roles => roles,
    };
    Ok(admin.form_page("admin/links.html", ctx))
}

/// `GET /admin/links`.
pub async fn show(admin: Admin) -> Page {
    let typed = Typed {
        roles: vec!["gebruiker".into()],
        ..Default::default()
    };
    page(&admin, typed, BTreeMap::new()).await
}

/// `POST /admin/links`: a new request, or the form again with each error next to its field.
pub async fn request(admin: Admin, body: axum::body::Bytes) -> Page {
    let form = admin.form(&body)?;
    let typed = Typed {
        kvk: form.text("kvk"),
        email: form.text("email"),
        roles: form.all("role"),
    };
    let lang = admin.lang;
    let roles = match parse_roles(lang, &typed.roles) {
        Ok(roles) => roles,
        Err(errors) => return page(&admin, typed, errors).await,
    };
    let new = NewLinkRequest {
        kvk: typed.kvk.clone(),
        email: typed.email.clone(),
        roles,
    };
    let refusal = match admin.services().request_link(&admin.session, &new).await {
        Ok(_) => return Ok(done("/admin/links", "link-requested")),
        Err(e) => e,
    };
    let Some((field, nl, en)) = field_error(&refusal) else {
        return Err(admin.failed("link request", &refusal));
    };
    let errors = BTreeMap::from([(field, lang.pick(nl, en).to_string())]);
    page(&admin, typed, errors).await
}

/// A refused request as (field, Dutch, English) for the form, or `None` when it is nobody's
/// input.
fn field_error(e: &WriteError) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match e {
        WriteError::InvalidKvk(_) => (
            "kvk",
            "Een KvK-nummer heeft precies 8 cijfers.",
            "A KvK number has exactly 8 digits.",
        ),
        WriteError::UnknownOrganisation(_) => (
            "kvk",
            "Er is geen organisatie met dit KvK-nummer bij poort.",
            "poort knows no organisation with this KvK number.",
        ),
        WriteError::LinkOwnOrganisation => (
            "kvk",
            "Dit is uw eigen organisatie; nodig de persoon hier uit.",
            "This is your own organisation; invite the person here instead.",
        ),
        WriteError::InvalidEmail(_) => (
            "email",
            "Dit is geen geldig e-mailadres.",
            "This is not a valid e-mail address.",
        ),
        WriteError::NotAllowed { .. } => (
            "roles",
            "Alleen een hoofdbeheerder mag hoofdbeheerders en beheerders aanstellen.",
            "Only a hoofdbeheerder may appoint hoofdbeheerders and beheerders.",
        ),
        _ => return None,
    })
}

/// `POST /admin/links/{id}/approve`, `/decline` (requests naming a member here) or `/withdraw`
/// (this organisation's own).
pub async fn answer(
    admin: Admin,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Page {
    admin.form(&body)?;
    use crate::admin::links::LinkAnswer;
    let outcome = match LinkAnswer::parse(&action) {
        Some(answer) => admin
            .services()
            .answer_link(&admin.session, &id, answer)
            .await
            .map(|_| match answer {
                LinkAnswer::Approve => "link-approved",
                LinkAnswer::Decline => "link-declined",
                LinkAnswer::Withdraw => "link-withdrawn",
            }),
        None => Err(WriteError::LinkRequestUnknown),
    };
    match outcome {
        Ok(notice) => Ok(done("/admin/links", notice)),
        Err(WriteError::NotAllowed { .. }) => Err(admin.not_allowed()),
        Err(WriteError::LinkRequestUnknown) => Err(admin.stop(
            StatusCode::NOT_FOUND,
            ("Verzoek niet gevonden", "Request not found"),
            (
                "Dit koppelverzoek bestaat niet voor uw organisatie.",
                "This link request does not exist for your organisation.",
            ),
        )),
        Err(
            e @ (WriteError::LinkRequestDecided(_)
            | WriteError::LinkRequestExpired
            | WriteError::DuplicateMember { .. }),
        ) => {
            let text = match e {
                WriteError::LinkRequestExpired => admin
                    .lang
                    .pick("Dit verzoek is verlopen.", "This request has expired."),
                WriteError::DuplicateMember { .. } => admin.lang.pick(
                    "Deze persoon is al lid van de vragende organisatie.",
                    "This person is already a member of the asking organisation.",
                ),
                _ => admin.lang.pick(
                    "Op dit verzoek is al gereageerd.",
                    "This request was already answered.",
                ),
            };
            let errors = BTreeMap::from([("answer", text.to_string())]);
            page(&admin, Typed::default(), errors).await
        }
        Err(e) => Err(admin.failed("link answer", &e)),
    }
}
