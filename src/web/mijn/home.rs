//! `GET /mijn`: the start page. The person's organisations (roles, whether they represent it,
//! whether it is active yet), their grants (scope in words, level, validity, days to expiry, and
//! whether it lapses for want of use), their requests, their recent logins, and what other
//! organisations sent that names them.

use super::{day, notice_text, Person};
use crate::admin::notify::REMIND_BEFORE;
use crate::domain::decision::LAPSE_AFTER;
use crate::domain::grant::GrantStatus;
use crate::web::admin::grants::scope_label;
use axum::extract::Query;
use axum::response::Response;
use chrono::Utc;
use minijinja::context;
use std::collections::HashMap;

pub async fn home(person: Person, Query(query): Query<HashMap<String, String>>) -> Response {
    let now = Utc::now();
    let state = &person.state;
    let lang = person.lang;
    let overview = match state.self_service().overview(&person.session, now).await {
        Ok(overview) => overview,
        Err(e) => return person.failed("overview", &e.redacted()),
    };
    let catalogue = state.catalogue();
    let memberships: Vec<minijinja::Value> = overview
        .memberships
        .iter()
        .map(|m| {
            let roles: Vec<&str> = m.roles.iter().map(|r| r.as_str()).collect();
            let authority = m.authority.as_deref().map(|a| match a {
                "sole" => lang.pick("bestuurder, alleen bevoegd", "director, sole authority"),
                _ => lang.pick(
                    "bestuurder, gezamenlijk bevoegd",
                    "director, joint authority",
                ),
            });
            context! {
                name => m.organisation.name, kvk => m.organisation.kvk, roles => roles,
                blocked => m.blocked, active => m.active, authority => authority,
            }
        })
        .collect();
    let grants: Vec<minijinja::Value> = overview
        .grants
        .iter()
        .map(|g| {
            let days = (g.valid_until - now).num_days();
            let in_force = g.status == GrantStatus::Active && g.valid_from <= now && now < g.valid_until;
            let status = match g.status {
                GrantStatus::Revoked => lang.pick("ingetrokken", "revoked"),
                _ if g.valid_until <= now => lang.pick("verlopen", "expired"),
                _ if g.valid_from > now => lang.pick("nog niet geldig", "not yet valid"),
                _ => lang.pick("actief", "active"),
            };
            // Lapses when unused for 24 months: when that happens, if it is not used before.
            let lapses = g.last_used_at.unwrap_or(g.valid_from) + LAPSE_AFTER;
            let held_by_me = matches!(&g.holder, crate::grants::Holder::Person(p) if *p == person.session.person_id);
            context! {
                id => g.id, organisation => g.organisation.name, kvk => g.organisation.kvk,
                scope => scope_label(&catalogue, lang, &g.scope), level => g.level.name(),
                valid_until => day(g.valid_until), status => status, in_force => in_force,
                days => in_force.then_some(days),
                lapses => (in_force && lapses < g.valid_until).then(|| day(lapses)),
                renewable => in_force && held_by_me && g.valid_until - now <= REMIND_BEFORE,
            }
        })
        .collect();
    let requests: Vec<minijinja::Value> = overview
        .requests
        .iter()
        .map(|r| super::sign::request_row(lang, &catalogue, r))
        .collect();
    let logins: Vec<minijinja::Value> = overview
        .logins
        .iter()
        .map(|l| {
            let service = l.service.as_deref().map(|id| {
                catalogue
                    .iter()
                    .find(|s| s.id == id)
                    .map(|s| lang.pick(&s.name_nl, &s.name_en).to_string())
                    .unwrap_or_else(|| match l.action.as_str() {
                        "admin.login" => lang.pick("Beheermodule", "Admin module").to_string(),
                        "mijn.login" => "Mijn poort".to_string(),
                        _ => id.to_string(),
                    })
            });
            let outcome = match l.action.as_str() {
                "login.refused" => lang.pick("geweigerd", "refused"),
                _ => lang.pick("toegestaan", "allowed"),
            };
            context! {
                at => l.at.format("%Y-%m-%d %H:%M").to_string(), service => service,
                organisation => l.organisation, outcome => outcome, reason => l.reason,
            }
        })
        .collect();
    let concerning: Vec<minijinja::Value> = overview
        .concerning
        .iter()
        .map(|c| {
            let what = match c.kind {
                "invitation" => lang.pick("Uitnodiging van", "Invitation from"),
                _ => lang.pick("Koppelverzoek van", "Link request from"),
            };
            context! { what => what, organisation => c.organisation.name, kvk => c.organisation.kvk, until => day(c.expires_at) }
        })
        .collect();
    person.page(
        "mijn/home.html",
        "/mijn",
        context! {
            title => "Mijn poort",
            notice_text => notice_text(lang, query.get("notice").map(String::as_str)),
            memberships => memberships,
            grants => grants,
            requests => requests,
            logins => logins,
            concerning => concerning,
            to_sign => overview.to_sign,
        },
    )
}
