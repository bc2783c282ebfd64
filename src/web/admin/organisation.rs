//! The organisation page: its name, KvK number and RSIN (from the register, not editable here),
//! whether it is active and since when, its groups, its bevoegd vertegenwoordigers as the trade
//! register names them (authority, bound to a person or not) with the setting whether a director
//! with joint authority needs a second signature (the hoofdbeheerder's to change), and the
//! contact data its administrators keep (checked by `admin::organisation::contact_changes`, as
//! the API's `PATCH /api/v1/organisation`).

use super::*;
use crate::domain::request::Authority;
use crate::grants::{OrganisationStatus, OrganisationView, RepresentativeView, WriteError};
use minijinja::context;
use serde::Serialize;
use std::collections::BTreeMap;

pub(super) const NOTICES: &[(&str, &str, &str)] = &[
    (
        "contact-saved",
        "De contactgegevens zijn opgeslagen.",
        "The contact details were saved.",
    ),
    (
        "joint-saved",
        "De instelling voor ondertekening is opgeslagen.",
        "The signature setting was saved.",
    ),
];

pub(super) fn routes() -> axum::Router<Arc<AppState>> {
    axum::Router::new()
        .route("/admin/organisation", axum::routing::get(show).post(save))
        .route(
            "/admin/organisation/joint-signatures",
            axum::routing::post(save_joint),
        )
}

/// A director as the page lists them.
#[derive(Debug, Serialize)]
struct Director {
    name: String,
    authority: &'static str,
    bound: String,
}

fn directors(lang: Lang, list: &[RepresentativeView]) -> Vec<Director> {
    list.iter()
        .map(|r| Director {
            name: format!("{} {}", r.given_names, r.family_name),
            authority: match r.authority {
                Authority::Sole => lang.pick("Zelfstandig bevoegd", "Sole authority"),
                Authority::Joint => lang.pick("Gezamenlijk bevoegd", "Joint authority"),
            },
            bound: match r.bound_at.filter(|_| r.bound()) {
                Some(at) => format!(
                    "{} {}",
                    lang.pick("Ja, sinds", "Yes, since"),
                    at.format("%Y-%m-%d")
                ),
                None => lang
                    .pick("Nog niet ingelogd", "Not logged in yet")
                    .to_string(),
            },
        })
        .collect()
}

/// The contact fields as typed (kept when the form comes back with errors).
#[derive(Debug, Default, Serialize)]
struct Contact {
    contact_name: String,
    contact_email: String,
    contact_phone: String,
    contact_address: String,
}

impl Contact {
    fn of(view: &OrganisationView) -> Contact {
        Contact {
            contact_name: view.contact_name.clone().unwrap_or_default(),
            contact_email: view.contact_email.clone().unwrap_or_default(),
            contact_phone: view.contact_phone.clone().unwrap_or_default(),
            contact_address: view.contact_address.clone().unwrap_or_default(),
        }
    }
}

async fn page(
    admin: &Admin,
    typed: Option<Contact>,
    errors: BTreeMap<&'static str, String>,
) -> Page {
    let state = &admin.state;
    let kvk = &admin.session.organisation.kvk;
    let sql = state.registry.sql();
    let view = sql.organisation_summary(kvk).await;
    let view = view.or_failed(admin, "organisation page")?;
    let list = sql.representatives(kvk).await;
    let list = list.or_failed(admin, "organisation page")?;
    let lang = admin.lang;
    let status = match (view.status, view.activated_at) {
        (OrganisationStatus::Active, Some(at)) => format!(
            "{} {}",
            lang.pick("Actief sinds", "Active since"),
            at.format("%Y-%m-%d %H:%M UTC")
        ),
        (OrganisationStatus::Active, None) => lang.pick("Actief", "Active").to_string(),
        (OrganisationStatus::PendingActivation, _) => lang
            .pick(
                "Nog niet actief: wacht op de eerste login van de hoofdbeheerder",
                "Not yet active: waiting for the hoofdbeheerder's first login",
            )
            .to_string(),
    };
    let ctx = context! {
        title => lang.pick("Organisatie", "Organisation"),
        view => view,
        status => status,
        directors => directors(lang, &list),
        hoofdbeheerder => admin.session.roles.contains(&crate::grants::Role::Hoofdbeheerder),
        values => typed.unwrap_or_else(|| Contact::of(&view)),
        errors => errors,
        manages => admin.manages(),
    };
    Ok(admin.form_page("admin/organisation.html", ctx))
}

/// `GET /admin/organisation`.
pub async fn show(admin: Admin) -> Page {
    page(&admin, None, BTreeMap::new()).await
}

/// `POST /admin/organisation`: the contact data.
pub async fn save(admin: Admin, body: axum::body::Bytes) -> Page {
    let form = admin.form(&body)?;
    admin.require(admin.manages())?;
    let typed = Contact {
        contact_name: form.text("contact_name"),
        contact_email: form.text("contact_email"),
        contact_phone: form.text("contact_phone"),
        contact_address: form.text("contact_address"),
    };
    let changes = crate::admin::organisation::contact_changes(
        Some(typed.contact_name.clone()),
        Some(typed.contact_email.clone()),
        Some(typed.contact_phone.clone()),
        Some(typed.contact_address.clone()),
    );
    let changes = match changes {
        Ok(c) => c,
        Err((field, problem)) => {
            let text = match problem {
                "too long" => admin.lang.pick("Dit is te lang.", "This is too long."),
                "not an e-mail address" => admin.lang.pick(
                    "Dit is geen geldig e-mailadres.",
                    "This is not a valid e-mail address.",
                ),
                "not a phone number" => admin.lang.pick(
                    "Dit is geen telefoonnummer (cijfers, spaties, +, -, haakjes).",
                    "This is not a phone number (digits, spaces, +, -, brackets).",
                ),
                _ => admin.lang.pick(
                    "Dit veld bevat tekens die niet zijn toegestaan.",
                    "This field contains characters that are not allowed.",
                ),
            };
            let errors = BTreeMap::from([(field, text.to_string())]);
            return page(&admin, Some(typed), errors).await;
        }
    };
    match admin
        .services()
        .update_contact(&admin.session, &changes)
        .await
    {
        Ok(()) => Ok(done("/admin/organisation", "contact-saved")),
        Err(WriteError::NotAllowed { .. }) => Err(admin.not_allowed()),
        Err(e) => Err(admin.failed("organisation contact", &e)),
    }
}

/// `POST /admin/organisation/joint-signatures`: whether a director with joint authority needs
/// a second signature (`joint_needs_two` = `two` or `one`); the hoofdbeheerder's.
pub async fn save_joint(admin: Admin, body: axum::body::Bytes) -> Page {
    let form = admin.form(&body)?;
    let hoofdbeheerder = admin
        .session
        .roles
        .contains(&crate::grants::Role::Hoofdbeheerder);
    admin.require(hoofdbeheerder)?;
    let joint_needs_two = match form.text("joint_needs_two").as_str() {
        "two" => true,
        "one" => false,
        _ => {
            let text = admin
                .lang
                .pick("Kies een van beide.", "Choose one of the two.");
            let errors = BTreeMap::from([("joint_needs_two", text.to_string())]);
            return page(&admin, None, errors).await;
        }
    };
    match admin
        .services()
        .set_joint_needs_two(&admin.session, joint_needs_two)
        .await
    {
        Ok(()) => Ok(done("/admin/organisation", "joint-saved")),
        Err(WriteError::NotAllowed { .. }) => Err(admin.not_allowed()),
        Err(e) => Err(admin.failed("signature setting", &e)),
    }
}
