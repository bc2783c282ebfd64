//! Asking: `GET/POST /mijn/requests/new` (an extra grant at an organisation the person belongs
//! to, or to be linked to another organisation by its KvK number) and `GET/POST
//! /mijn/renew/{grant}` (renewal of one of their grants: the link in the reminder mail, one
//! click after logging in). A refused request shows the form again with what was typed and why.

use super::{day, done, Person};
use crate::domain::grant::Scope;
use crate::domain::level::Level;
use crate::domain::request::{RequestKind, Validity};
use crate::grants::{NewRequest, WriteError};
use crate::selfservice::RequestError;
use crate::web::admin::Fields;
use crate::web::i18n::Lang;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use minijinja::context;

/// What a refusal means to the person who asked, in their words.
pub fn refusal_text(lang: Lang, e: &RequestError) -> String {
    let code = e.reason_code();
    let (nl, en) = match code {
        "invalid_kvk" => ("Een KvK-nummer heeft precies 8 cijfers.", "A KvK number has exactly 8 digits."),
        "unknown_organisation" => ("Er is geen organisatie met dit KvK-nummer bij poort bekend.", "No organisation with this KvK number is known to poort."),
        "organisation_not_active" => ("Deze organisatie is nog niet actief: haar hoofdbeheerder heeft nog niet ingelogd.", "This organisation is not active yet: its hoofdbeheerder has not logged in yet."),
        "duplicate_member" => ("U hoort al bij deze organisatie. Vraag een extra machtiging aan in plaats van een koppeling.", "You already belong to this organisation. Ask for an extra grant instead of a link."),
        "duplicate_request" => ("Hiervoor wacht al een aanvraag van u op een handtekening.", "A request of yours for this already waits for a signature."),
        "holder_in_other_organisation" => ("U hoort niet bij deze organisatie. Vraag eerst een koppeling aan.", "You do not belong to this organisation. Ask to be linked first."),
        "unknown_service" | "unknown_provider" => ("Deze dienst of aanbieder staat niet (meer) in de dienstencatalogus.", "This service or provider is not (or no longer) in the service catalogue."),
        "empty" => ("Kies ten minste één dienst, of alle diensten of een aanbieder.", "Choose at least one service, or all services, or a provider."),
        "unknown_grant" => ("Deze machtiging is niet van u, of bestaat niet.", "This grant is not yours, or does not exist."),
        "grant_revoked" => ("Deze machtiging is ingetrokken; verlengen kan niet.", "This grant has been revoked; it cannot be renewed."),
        _ => ("De aanvraag kon niet worden verwerkt.", "The request could not be handled."),
    };
    lang.pick(nl, en).to_string()
}

/// The form's choices: the organisations the person belongs to, the services and providers.
fn choices(person: &Person, organisations: Vec<(String, String)>) -> minijinja::Value {
    let lang = person.lang;
    let catalogue = person.state.catalogue();
    let services: Vec<(String, String)> = catalogue
        .iter()
        .map(|s| {
            (
                s.uuid.clone(),
                lang.pick(&s.name_nl, &s.name_en).to_string(),
            )
        })
        .collect();
    let mut providers: Vec<(String, String)> = catalogue
        .iter()
        .map(|s| {
            let name = s
                .provider_name
                .clone()
                .unwrap_or_else(|| s.provider.clone());
            (s.provider.clone(), name)
        })
        .collect();
    providers.sort();
    providers.dedup();
    let levels: Vec<&str> = Level::ALL.iter().map(|l| l.name()).collect();
    context! {
        organisations => organisations, services => services, providers => providers,
        levels => levels,
    }
}

async fn own_organisations(person: &Person) -> Result<Vec<(String, String)>, WriteError> {
    let memberships = person
        .state
        .registry
        .sql()
        .own_memberships(&person.session.person_id)
        .await?;
    Ok(memberships
        .into_iter()
        // A member (a bevoegd vertegenwoordiger alone has no roles), not blocked.
        .filter(|m| !m.blocked && !m.roles.is_empty())
        .map(|m| (m.organisation.kvk, m.organisation.name))
        .collect())
}

fn form_page(
    person: &Person,
    organisations: Vec<(String, String)>,
    typed: minijinja::Value,
    error: Option<String>,
) -> Response {
    let lang = person.lang;
    let response = person.page(
        "mijn/request_new.html",
        "/mijn/requests/new",
        context! {
            title => lang.pick("Aanvragen", "Ask"),
            form_error => error,
            typed => typed,
            ..choices(person, organisations)
        },
    );
    response
}

/// `GET /mijn/requests/new`.
pub async fn new_request(person: Person) -> Response {
    match own_organisations(&person).await {
        Ok(organisations) => form_page(&person, organisations, context! {}, None),
        Err(e) => person.failed("request form", &e.redacted()),
    }
}

/// The request the form describes, or what is missing.
fn read_form(lang: Lang, fields: &Fields) -> Result<NewRequest, String> {
    let motivation = Some(fields.text("motivation")).filter(|m| !m.is_empty());
    let kind = fields.text("kind");
    if kind == "link" {
        return Ok(NewRequest {
            organisation: fields.text("kvk"),
            kind: RequestKind::Link,
            motivation,
        });
    }
    let level: Level = fields
        .text("level")
        .parse()
        .map_err(|_| lang.pick("Kies een niveau.", "Choose a level.").to_string())?;
    let validity = validity_of(lang, fields)?;
    let scopes = match fields.text("scope").as_str() {
        "all" => vec![Scope::AllServices],
        "provider" => vec![Scope::Provider {
            provider: fields.text("provider"),
        }],
        _ => fields
            .all("service")
            .into_iter()
            .map(|uuid| Scope::Service { uuid })
            .collect(),
    };
    Ok(NewRequest {
        organisation: fields.text("organisation"),
        kind: RequestKind::Grant {
            scopes,
            level,
            validity,
        },
        motivation,
    })
}

/// The form's `validity` in years: 1, 3 or 5.
fn validity_of(lang: Lang, fields: &Fields) -> Result<Validity, String> {
    fields
        .text("validity")
        .parse()
        .ok()
        .and_then(Validity::from_years)
        .ok_or_else(|| {
            lang.pick(
                "Kies een geldigheid van 1, 3 of 5 jaar.",
                "Choose a validity of 1, 3 or 5 years.",
            )
            .to_string()
        })
}

/// `POST /mijn/requests/new`.
pub async fn ask(person: Person, body: Bytes) -> Response {
    let fields = match person.form(&body) {
        Ok(fields) => fields,
        Err(page) => return page.into_response(),
    };
    let typed = context! {
        kind => fields.text("kind"), organisation => fields.text("organisation"),
        kvk => fields.text("kvk"), scope => fields.text("scope"), provider => fields.text("provider"),
        services => fields.all("service"), level => fields.text("level"),
        validity => fields.text("validity"), motivation => fields.text("motivation"),
    };
    let refused = |error: String| async {
        match own_organisations(&person).await {
            Ok(organisations) => {
                let mut page = form_page(&person, organisations, typed.clone(), Some(error));
                *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                page
            }
            Err(e) => person.failed("request form", &e.redacted()),
        }
    };
    let new = match read_form(person.lang, &fields) {
        Ok(new) => new,
        Err(error) => return refused(error).await,
    };
    match person
        .state
        .self_service()
        .ask(&person.session, &new, Utc::now())
        .await
    {
        Ok(view) => done(&format!("/mijn/requests/{}", view.request.id), "asked"),
        Err(RequestError::Write(WriteError::Database(e))) => person.failed("ask", &e),
        Err(e) => {
            tracing::info!(reason = e.reason_code(), "request refused");
            let text = refusal_text(person.lang, &e);
            refused(text).await
        }
    }
}

fn renewal_page(
    person: &Person,
    grant: &crate::grants::GrantRecord,
    error: Option<String>,
) -> Response {
    let lang = person.lang;
    let catalogue = person.state.catalogue();
    let mut response = person.page(
        "mijn/renew.html",
        "/mijn/requests/new",
        context! {
            title => lang.pick("Verlenging aanvragen", "Ask for renewal"),
            form_error => error.clone(),
            grant => context! {
                id => grant.id, organisation => grant.organisation.name,
                scope => crate::web::admin::grants::scope_label(&catalogue, lang, &grant.scope),
                level => grant.level.name(), valid_until => day(grant.valid_until),
            },
        },
    );
    if error.is_some() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

/// `GET /mijn/renew/{grant}`: the reminder mail's link; one click asks for the renewal.
pub async fn renewal(person: Person, Path(grant): Path<String>) -> Response {
    match person
        .state
        .self_service()
        .own_grant(&person.session, &grant)
        .await
    {
        Ok(Some(g)) => renewal_page(&person, &g, None),
        Ok(None) => not_found(&person),
        Err(e) => person.failed("renewal form", &e.redacted()),
    }
}

/// `POST /mijn/renew/{grant}`.
pub async fn ask_renewal(person: Person, Path(grant): Path<String>, body: Bytes) -> Response {
    let fields = match person.form(&body) {
        Ok(fields) => fields,
        Err(page) => return page.into_response(),
    };
    let g = match person
        .state
        .self_service()
        .own_grant(&person.session, &grant)
        .await
    {
        Ok(Some(g)) => g,
        Ok(None) => return not_found(&person),
        Err(e) => return person.failed("renewal", &e.redacted()),
    };
    // The form always sends one (3 years is ticked); anything else is said, not guessed.
    let validity = match validity_of(person.lang, &fields) {
        Ok(validity) => validity,
        Err(error) => return renewal_page(&person, &g, Some(error)),
    };
    let new = NewRequest {
        organisation: g.organisation.kvk.clone(),
        kind: RequestKind::Renewal {
            grant_id: g.id.clone(),
            level: g.level,
            validity,
        },
        motivation: Some(fields.text("motivation")).filter(|m| !m.is_empty()),
    };
    match person
        .state
        .self_service()
        .ask(&person.session, &new, Utc::now())
        .await
    {
        Ok(view) => done(&format!("/mijn/requests/{}", view.request.id), "asked"),
        Err(RequestError::Write(WriteError::Database(e))) => person.failed("renewal", &e),
        Err(e) => renewal_page(&person, &g, Some(refusal_text(person.lang, &e))),
    }
}

/// What another person's grant or request, or one that does not exist, looks like.
pub fn not_found(person: &Person) -> Response {
    person.state.pages.mijn_message(
        person.lang,
        StatusCode::NOT_FOUND,
        ("Niet gevonden", "Not found"),
        (
            "Dit bestaat niet, of het is niet van u.",
            "This does not exist, or it is not yours.",
        ),
    )
}
