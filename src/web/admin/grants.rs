//! Grants: the list (filtered and paged by the database) with renewal of many at once,
//! revocation (after confirmation) and reactivation per row, and the form that adds grants for
//! one or more services of the catalogue. Every change goes through `admin::grants` (the
//! `Services` the API uses too); a refused addition comes back next to its field with what was
//! typed kept.

use super::*;
use crate::admin::grants::{GrantError, NewGrants};
use crate::config::ServiceConfig;
use crate::domain::level::Level;
use crate::grants::{GrantFilter, GrantRecord, GrantStatus, Holder, MemberQuery, Scope};
use axum::extract::{Path, Query};
use chrono::{DateTime, Months, NaiveDate};
use minijinja::context;
use serde::Serialize;
use std::collections::BTreeMap;

pub(super) const NOTICES: &[(&str, &str, &str)] = &[
    (
        "granted",
        "De machtiging is toegevoegd; zij geldt meteen.",
        "The grant was added; it takes effect at once.",
    ),
    (
        "renewed",
        "De gekozen machtigingen zijn verlengd.",
        "The selected grants were renewed.",
    ),
    (
        "revoked",
        "De machtiging is ingetrokken; inloggen ermee lukt meteen niet meer. De houders krijgen een e-mail.",
        "The grant was revoked; logging in with it fails at once. Its holders get an e-mail.",
    ),
    (
        "reactivated",
        "De machtiging is weer actief.",
        "The grant is active again.",
    ),
];

pub(super) fn routes() -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/admin/grants", get(list))
        .route("/admin/grants/new", get(new_form).post(new_submit))
        .route("/admin/grants/renew", post(renew))
        .route(
            "/admin/grants/{id}/revoke",
            get(confirm_revoke).post(revoke),
        )
        .route("/admin/grants/{id}/reactivate", post(reactivate))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// `active`, `inactive` (ended or revoked), or anything else: all.
    status: Option<String>,
    person: Option<String>,
    /// A ServiceUUID of the catalogue.
    service: Option<String>,
    q: Option<String>,
    page: Option<usize>,
}

/// `GET /admin/grants`: the grants the session sees, 50 a page.
pub async fn list(admin: Admin, Query(q): Query<ListQuery>) -> Page {
    let state = &admin.state;
    let now = Utc::now();
    let status = match q.status.as_deref() {
        Some("active") => "active",
        Some("inactive") => "inactive",
        _ => "",
    };
    let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let catalogue = state.catalogue();
    let service = nonempty(&q.service).and_then(|uuid| catalogue.iter().find(|s| s.uuid == uuid));
    let paging = Paging::asked(q.page);
    let filter = GrantFilter {
        person: nonempty(&q.person),
        service: service.map(crate::grants::ServiceRef::from),
        search: nonempty(&q.q),
        in_force: match status {
            "active" => Some((true, now)),
            "inactive" => Some((false, now)),
            _ => None,
        },
        ..Default::default()
    };
    let listed = admin
        .services()
        .list_grants(&admin.session, filter, paging.offset(), Paging::ROWS)
        .await;
    let (grants, total) = listed.or_failed(&admin, "grants list")?;
    let filters = [
        ("status", status.to_string()),
        ("person", nonempty(&q.person).unwrap_or_default()),
        (
            "service",
            service.map(|s| s.uuid.clone()).unwrap_or_default(),
        ),
        ("q", nonempty(&q.q).unwrap_or_default()),
    ];
    let rows: Vec<minijinja::Value> = grants
        .iter()
        .map(|g| grant_row(&catalogue, admin.lang, g, now))
        .collect();
    let services: Vec<(String, String)> = catalogue
        .iter()
        .map(|s| (s.uuid.clone(), service_name(admin.lang, s).to_string()))
        .collect();
    Ok(admin.page(
        "admin/grants.html",
        context! {
            title => admin.lang.pick("Machtigingen", "Grants"),
            grants => rows,
            total => total,
            status => status,
            person => nonempty(&q.person).unwrap_or_default(),
            service => service.map(|s| s.uuid.clone()).unwrap_or_default(),
            services => services,
            search => nonempty(&q.q).unwrap_or_default(),
            changes => admin.changes_anything(),
            new_link => match nonempty(&q.person) {
                Some(p) => format!(
                    "/admin/grants/new?{}",
                    url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("person", &p)
                        .finish()
                ),
                None => "/admin/grants/new".to_string(),
            },
            ..paging.context(total, "/admin/grants", &filters),
        },
    ))
}

fn service_name(lang: Lang, s: &ServiceConfig) -> &str {
    lang.pick(&s.name_nl, &s.name_en)
}

/// A scope in words, services by their names in `catalogue`.
pub fn scope_label(catalogue: &[ServiceConfig], lang: Lang, scope: &Scope) -> String {
    match scope {
        Scope::AllServices => lang.pick("alle diensten", "all services").to_string(),
        Scope::Provider { provider } => format!(
            "{} {provider}",
            lang.pick("alle diensten van aanbieder", "all services of provider")
        ),
        Scope::Service { uuid } => catalogue
            .iter()
            .find(|s| &s.uuid == uuid)
            .map(|s| service_name(lang, s).to_string())
            // A service taken out of the catalogue still shows what the grant names.
            .unwrap_or_else(|| uuid.clone()),
    }
}

fn grant_row(
    catalogue: &[ServiceConfig],
    lang: Lang,
    g: &GrantRecord,
    now: DateTime<Utc>,
) -> minijinja::Value {
    let (status, label) = match g.status {
        GrantStatus::Revoked => ("revoked", lang.pick("ingetrokken", "revoked")),
        GrantStatus::Active if g.valid_until <= now => {
            ("expired", lang.pick("verlopen", "expired"))
        }
        GrantStatus::Active if g.valid_from > now => {
            ("future", lang.pick("nog niet geldig", "not yet valid"))
        }
        GrantStatus::Active => ("active", lang.pick("actief", "active")),
    };
    let (person, group) = match &g.holder {
        Holder::Person(p) => (Some(p.clone()), None),
        Holder::Group(name) => (None, Some(name.clone())),
    };
    context! {
        id => g.id,
        person => person,
        group => group,
        holder => match &g.holder {
            Holder::Person(p) => g.holder_name.clone().unwrap_or_else(|| p.clone()),
            Holder::Group(name) => format!("{} {name}", lang.pick("groep", "group")),
        },
        scope => scope_label(catalogue, lang, &g.scope),
        level => g.level.name(),
        valid_from => day(g.valid_from),
        valid_until => day(g.valid_until),
        status => status,
        status_label => label,
        last_used => g.last_used_at.map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| lang.pick("nog nooit", "never").to_string()),
        may_reactivate => status == "revoked" || status == "expired",
        may_revoke => g.status == GrantStatus::Active,
    }
}

fn not_found(admin: &Admin) -> Stop {
    admin.stop(
        StatusCode::NOT_FOUND,
        ("Machtiging niet gevonden", "Grant not found"),
        (
            "Deze machtiging hoort niet bij uw organisatie, of u mag haar niet zien.",
            "This grant is not in your organisation, or you may not see it.",
        ),
    )
}

/// A refused change that has no field to sit next to: not found, not allowed, a conflict
/// (said on a page), or a failure.
fn refused(admin: &Admin, what: &str, e: GrantError) -> Stop {
    use crate::grants::WriteError as W;
    match e {
        GrantError::NotFound | GrantError::Write(W::UnknownGrant(_)) => not_found(admin),
        GrantError::Write(W::NotAllowed { .. }) => admin.not_allowed(),
        GrantError::Write(
            e @ (W::AboveAdminLevel { .. }
            | W::DuplicateGrant { .. }
            | W::GrantRevoked(_)
            | W::RenewalYears(_)),
        ) => {
            let (nl, en) = match &e {
                W::AboveAdminLevel { .. } => (
                    "Dit niveau is hoger dan uw eigen niveau; er is niets gewijzigd.",
                    "This level is above your own level; nothing was changed.",
                ),
                W::DuplicateGrant { .. } => (
                    "Er is al een machtiging die hetzelfde geeft in dezelfde periode; er is niets gewijzigd.",
                    "Another grant already gives the same for the same period; nothing was changed.",
                ),
                W::GrantRevoked(_) => (
                    "Deze machtiging is ingetrokken; heractiveer haar eerst. Er is niets gewijzigd.",
                    "This grant is revoked; reactivate it first. Nothing was changed.",
                ),
                _ => (
                    "Verleng met 1, 3 of 5 jaar; er is niets gewijzigd.",
                    "Renew by 1, 3 or 5 years; nothing was changed.",
                ),
            };
            // As the API answers: above one's level is not allowed, the rest conflicts.
            let status = if matches!(e, W::AboveAdminLevel { .. }) {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::CONFLICT
            };
            admin.stop(status, ("Niet uitgevoerd", "Not done"), (nl, en))
        }
        e @ (GrantError::Write(_) | GrantError::Rows(_)) => admin.failed(what, &e),
    }
}

/// A form that changes grants: it must carry the session's CSRF token, and the session's roles
/// must allow changes at all (a lezer's never do; the register decides the rest).
fn change_form(admin: &Admin, body: &[u8]) -> Result<Fields, Stop> {
    let form = admin.form(body)?;
    admin.require(admin.changes_anything())?;
    Ok(form)
}

/// `POST /admin/grants/renew`: the checked grants (`grant`, repeated) by `years`, all or
/// nothing.
pub async fn renew(admin: Admin, body: axum::body::Bytes) -> Page {
    let form = change_form(&admin, &body)?;
    let ids = form.all("grant");
    let years = form.text("years").parse::<u32>().unwrap_or(0);
    if ids.is_empty() {
        return Err(admin.stop(
            StatusCode::UNPROCESSABLE_ENTITY,
            ("Niets gekozen", "Nothing selected"),
            (
                "Kies eerst een of meer machtigingen om te verlengen.",
                "Select one or more grants to renew first.",
            ),
        ));
    }
    match admin
        .services()
        .renew_grants(&admin.session, &ids, years)
        .await
    {
        Ok(_) => Ok(done("/admin/grants", "renewed")),
        Err(e) => Err(refused(&admin, "renew grants", e)),
    }
}

/// `GET /admin/grants/{id}/revoke`: asks for confirmation first.
pub async fn confirm_revoke(admin: Admin, Path(id): Path<String>) -> Page {
    let grant = admin.services().grant(&admin.session, &id).await;
    let grant = grant.map_err(|e| refused(&admin, "revoke grant", e))?;
    admin.require(admin.changes_anything())?;
    let holder = match &grant.holder {
        Holder::Person(p) => grant.holder_name.clone().unwrap_or_else(|| p.clone()),
        Holder::Group(g) => g.clone(),
    };
    let scope = scope_label(&admin.state.catalogue(), admin.lang, &grant.scope);
    let (nl, en) = (
        format!("De machtiging van {holder} voor {scope} intrekken? Inloggen ermee lukt daarna meteen niet meer; de houders krijgen een e-mail. U kunt haar later heractiveren."),
        format!("Revoke {holder}'s grant for {scope}? Logging in with it fails at once; its holders get an e-mail. You can reactivate it later."),
    );
    Ok(admin.page(
        "admin/confirm.html",
        context! {
            title => admin.lang.pick("Machtiging intrekken", "Revoke grant"),
            question => admin.lang.pick(&nl, &en),
            action => format!("/admin/grants/{id}/revoke"),
            confirm_label => admin.lang.pick("Ja, intrekken", "Yes, revoke"),
            back => "/admin/grants",
        },
    ))
}

/// `POST /admin/grants/{id}/revoke`.
pub async fn revoke(admin: Admin, Path(id): Path<String>, body: axum::body::Bytes) -> Page {
    set_status(admin, &id, &body, GrantStatus::Revoked).await
}

/// `POST /admin/grants/{id}/reactivate`: an expired or revoked grant.
pub async fn reactivate(admin: Admin, Path(id): Path<String>, body: axum::body::Bytes) -> Page {
    set_status(admin, &id, &body, GrantStatus::Active).await
}

async fn set_status(admin: Admin, id: &str, body: &[u8], status: GrantStatus) -> Page {
    change_form(&admin, body)?;
    let changed = admin
        .services()
        .set_grant_status(&admin.session, id, status)
        .await;
    match (changed, status) {
        (Ok(_), GrantStatus::Revoked) => Ok(done("/admin/grants", "revoked")),
        (Ok(_), GrantStatus::Active) => Ok(done("/admin/grants", "reactivated")),
        (Err(e), _) => Err(refused(&admin, "grant status", e)),
    }
}

/// What was typed into the form that adds grants (kept when it comes back with errors).
#[derive(Debug, Clone, Default, Serialize)]
struct Typed {
    /// `person:<ID>` or `group:<name>`.
    holder: String,
    /// `all`, `provider` or `services`.
    scope: String,
    provider: String,
    services: Vec<String>,
    level: String,
    valid_from: String,
    valid_until: String,
}

/// Members listed as holders on the form; a larger organisation picks from the users page
/// (`?person=`).
const HOLDER_CHOICES: usize = 1000;

async fn new_page(admin: &Admin, typed: &Typed, errors: BTreeMap<&'static str, String>) -> Page {
    let state = &admin.state;
    let services = admin.services();
    let (members, _) = services
        .list(&admin.session, MemberQuery::default(), 0, HOLDER_CHOICES)
        .await
        .or_failed(admin, "grant form")?;
    let scope = services.member_scope(&admin.session).await;
    let groups = match scope.or_failed(admin, "grant form")? {
        Some(own) => own,
        None => {
            let kvk = &admin.session.organisation.kvk;
            let view = state.registry.sql().organisation_summary(kvk).await;
            view.or_failed(admin, "grant form")?.groups
        }
    };
    let members: Vec<(String, String)> = members
        .into_iter()
        .map(|m| {
            let name = m.name.unwrap_or_else(|| m.person.clone());
            (format!("person:{}", m.person), name)
        })
        .collect();
    let groups: Vec<(String, String)> = groups
        .into_iter()
        .map(|g| (format!("group:{g}"), g))
        .collect();
    let services_in_use = services.catalogue.clone();
    let mut providers: Vec<&str> = services_in_use
        .iter()
        .map(|s| s.provider.as_str())
        .collect();
    providers.sort_unstable();
    providers.dedup();
    let catalogue: Vec<minijinja::Value> = services_in_use
        .iter()
        .map(|s| {
            context! {
                uuid => s.uuid,
                name => service_name(admin.lang, s),
                provider => s.provider,
                level => s.level.name(),
            }
        })
        .collect();
    // Typed services the catalogue does not know stay on the form, next to their error.
    let unknown_services: Vec<&String> = typed
        .services
        .iter()
        .filter(|u| !services_in_use.iter().any(|s| &s.uuid == *u))
        .collect();
    let levels: Vec<&str> = Level::ALL.iter().map(|l| l.name()).collect();
    let ctx = context! {
        title => admin.lang.pick("Machtiging toevoegen", "Add a grant"),
        values => typed,
        errors => errors,
        members => members,
        groups => groups,
        providers => providers,
        catalogue => catalogue,
        unknown_services => unknown_services,
        levels => levels,
    };
    Ok(admin.form_page("admin/grant_new.html", ctx))
}

/// `GET /admin/grants/new`: the form, for today until a year from now (`?person=` chooses the
/// holder).
pub async fn new_form(admin: Admin, Query(q): Query<ListQuery>) -> Page {
    admin.require(admin.changes_anything())?;
    let today = Utc::now().date_naive();
    let typed = Typed {
        holder: q.person.map(|p| format!("person:{p}")).unwrap_or_default(),
        scope: "services".into(),
        level: admin.session.level.name().to_string(),
        valid_from: today.to_string(),
        valid_until: today
            .checked_add_months(Months::new(12))
            .unwrap_or(today)
            .to_string(),
        ..Default::default()
    };
    new_page(&admin, &typed, BTreeMap::new()).await
}

/// The field a refused addition is said next to, and what is said.
fn field_error(lang: Lang, e: &crate::grants::WriteError) -> Option<(&'static str, String)> {
    use crate::grants::WriteError as W;
    let (field, nl, en): (&str, String, String) = match e {
        W::UnknownPerson(_) | W::HolderInOtherOrganisation { .. } | W::UnknownGroup { .. } => (
            "holder",
            "Deze houder hoort niet bij uw organisatie.".into(),
            "This holder is not in your organisation.".into(),
        ),
        W::UnknownService(uuid) => (
            "scope",
            format!("Dienst {uuid} staat niet in de dienstencatalogus."),
            format!("Service {uuid} is not in the service catalogue."),
        ),
        W::UnknownProvider(p) => (
            "scope",
            format!("Aanbieder {p} staat niet in de dienstencatalogus."),
            format!("Provider {p} is not in the service catalogue."),
        ),
        W::DuplicateGrant { existing } => (
            "scope",
            format!(
                "Deze houder heeft hiervoor al een machtiging in dezelfde periode ({existing})."
            ),
            format!("This holder already has a grant for this in the same period ({existing})."),
        ),
        W::AboveAdminLevel { admin_level, .. } => {
            let own = admin_level.map(|l| l.name()).unwrap_or("-");
            (
                "level",
                format!("Dit niveau is hoger dan uw eigen niveau ({own})."),
                format!("This level is above your own level ({own})."),
            )
        }
        W::EndsBeforeStart { .. } => (
            "valid_until",
            "De einddatum ligt voor de begindatum.".into(),
            "The end date is before the start date.".into(),
        ),
        W::ValidityTooLong { .. } => (
            "valid_until",
            "Een machtiging geldt hoogstens 5 jaar.".into(),
            "A grant is valid for at most 5 years.".into(),
        ),
        _ => return None,
    };
    Some((field, lang.pick(&nl, &en).to_string()))
}

/// The grants the form asks for, or each bad field with what is wrong.
fn parse_new(lang: Lang, typed: &Typed) -> Result<NewGrants, BTreeMap<&'static str, String>> {
    let mut errors = BTreeMap::new();
    let mut bad = |field: &'static str, nl: &str, en: &str| {
        errors.insert(field, lang.pick(nl, en).to_string());
    };
    let holder = match typed.holder.split_once(':') {
        Some(("person", p)) if !p.is_empty() => Some(Holder::Person(p.to_string())),
        Some(("group", g)) if !g.is_empty() => Some(Holder::Group(g.to_string())),
        _ => {
            bad(
                "holder",
                "Kies een gebruiker of groep.",
                "Choose a user or group.",
            );
            None
        }
    };
    let scopes = match typed.scope.as_str() {
        "all" => vec![Scope::AllServices],
        "provider" if !typed.provider.is_empty() => vec![Scope::Provider {
            provider: typed.provider.clone(),
        }],
        "services" if !typed.services.is_empty() => typed
            .services
            .iter()
            .map(|uuid| Scope::Service { uuid: uuid.clone() })
            .collect(),
        _ => {
            bad(
                "scope",
                "Kies alle diensten, een aanbieder, of een of meer diensten.",
                "Choose all services, a provider, or one or more services.",
            );
            Vec::new()
        }
    };
    let level = typed.level.parse::<Level>().ok();
    if level.is_none() {
        bad("level", "Kies een niveau.", "Choose a level.");
    }
    let date = |text: &str| {
        NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
    };
    let valid_from = date(&typed.valid_from);
    if valid_from.is_none() {
        bad(
            "valid_from",
            "Vul een datum in (JJJJ-MM-DD).",
            "Enter a date (YYYY-MM-DD).",
        );
    }
    let valid_until = date(&typed.valid_until);
    if valid_until.is_none() {
        bad(
            "valid_until",
            "Vul een datum in (JJJJ-MM-DD).",
            "Enter a date (YYYY-MM-DD).",
        );
    }
    match (holder, level, valid_from, valid_until) {
        (Some(holder), Some(level), Some(valid_from), Some(valid_until)) if errors.is_empty() => {
            Ok(NewGrants {
                holder,
                scopes,
                level,
                valid_from,
                valid_until,
            })
        }
        _ => Err(errors),
    }
}

/// `POST /admin/grants/new`: adds one grant per chosen scope (all or nothing), or shows the
/// form again with what was typed and each error next to its field.
pub async fn new_submit(admin: Admin, body: axum::body::Bytes) -> Page {
    let form = change_form(&admin, &body)?;
    let typed = Typed {
        holder: form.text("holder"),
        scope: form.text("scope"),
        provider: form.text("provider"),
        services: form.all("service"),
        level: form.text("level"),
        valid_from: form.text("valid_from"),
        valid_until: form.text("valid_until"),
    };
    let new = match parse_new(admin.lang, &typed) {
        Ok(new) => new,
        Err(errors) => return new_page(&admin, &typed, errors).await,
    };
    let refusal = match admin.services().add_grants(&admin.session, &new).await {
        Ok(_) => return Ok(done("/admin/grants", "granted")),
        Err(e) => e,
    };
    let errors = field_errors(admin.lang, refusal).map_err(|e| refused(&admin, "add grant", e))?;
    new_page(&admin, &typed, errors).await
}

/// A refused addition's errors next to their fields (the first for each field), or the
/// refusal that has no field to sit next to.
fn field_errors(lang: Lang, e: GrantError) -> Result<BTreeMap<&'static str, String>, GrantError> {
    let refusals = match e {
        GrantError::Write(e) => vec![e],
        GrantError::Rows(rows) => rows.into_iter().map(|(_, e)| e).collect(),
        e => return Err(e),
    };
    let mut errors = BTreeMap::new();
    for e in refusals {
        match field_error(lang, &e) {
            Some((field, text)) => {
                errors.entry(field).or_insert(text);
            }
            None => return Err(GrantError::Write(e)),
        }
    }
    Ok(errors)
}
