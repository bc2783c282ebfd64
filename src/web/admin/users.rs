//! Users: the list (searched, filtered, paged by the database) with status and last login, a
//! member's page (details, roles, blocks for the organisation or one group, the invitation,
//! removal with confirmation) and the invitation form. Every change goes through
//! `admin::members::Services`, as the API's do; a refused change comes back next to its field
//! with what was typed kept.

use super::*;
use crate::admin::members::MemberError;
use crate::grants::{
    MemberDetails, MemberQuery, MemberStatus, MemberView, NewInvitation, WriteError,
};
use axum::extract::{Path, Query};
use minijinja::context;
use serde::Serialize;
use std::collections::BTreeMap;

pub(super) const NOTICES: &[(&str, &str, &str)] = &[
    ("invited", "De uitnodiging is verstuurd.", "The invitation was sent."),
    (
        "invited-no-mail",
        "De gebruiker is uitgenodigd, maar de e-mail kon niet worden verstuurd. Verstuur de uitnodiging later opnieuw.",
        "The user was invited, but the e-mail could not be sent. Send the invitation again later.",
    ),
    ("saved", "De wijzigingen zijn opgeslagen.", "The changes were saved."),
    ("blocked", "De gebruiker is geblokkeerd; inloggen voor deze organisatie lukt niet meer.", "The user is blocked and can no longer log in for this organisation."),
    ("unblocked", "De blokkade is opgeheven.", "The block was lifted."),
    ("removed", "De gebruiker is verwijderd uit de organisatie.", "The user was removed from the organisation."),
    ("resent", "Er is een nieuwe uitnodiging verstuurd; de vorige link werkt niet meer.", "A new invitation was sent; the previous link no longer works."),
    ("withdrawn", "De uitnodiging is ingetrokken.", "The invitation was withdrawn."),
];

pub(super) fn routes() -> axum::Router<Arc<AppState>> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/admin/users", get(list))
        .route("/admin/users/new", get(invite_form).post(invite_submit))
        .route("/admin/users/{person}", get(show))
        .route("/admin/users/{person}/details", post(details))
        .route("/admin/users/{person}/roles", post(roles))
        .route("/admin/users/{person}/block", post(block))
        .route("/admin/users/{person}/unblock", post(unblock))
        .route(
            "/admin/users/{person}/groups/{group}/{action}",
            post(group_block),
        )
        .route(
            "/admin/users/{person}/remove",
            get(confirm_remove).post(remove),
        )
        .route(
            "/admin/users/{person}/invitation/{action}",
            post(invitation),
        )
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    status: Option<String>,
    page: Option<usize>,
}

/// `GET /admin/users`: the members the session sees, 50 a page.
pub async fn list(admin: Admin, Query(q): Query<ListQuery>) -> Page {
    let status = q
        .status
        .as_deref()
        .and_then(|s| s.parse::<MemberStatus>().ok());
    let paging = Paging::asked(q.page);
    let query = MemberQuery {
        search: q.q.clone(),
        status,
        ..Default::default()
    };
    let listed = admin
        .services()
        .list(&admin.session, query, paging.offset(), Paging::ROWS)
        .await;
    let (members, total) = listed.or_failed(&admin, "users list")?;
    let filters = [
        ("q", q.q.clone().unwrap_or_default()),
        (
            "status",
            status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        ),
    ];
    let rows: Vec<minijinja::Value> = members.iter().map(|m| member_row(admin.lang, m)).collect();
    Ok(admin.page(
        "admin/users.html",
        context! {
            title => admin.lang.pick("Gebruikers", "Users"),
            members => rows,
            total => total,
            search => q.q.clone().unwrap_or_default(),
            status => status.map(MemberStatus::as_str).unwrap_or(""),
            may_invite => admin.changes_anything(),
            may_link => admin.manages(),
            ..paging.context(total, "/admin/users", &filters),
        },
    ))
}

fn status_label(lang: Lang, status: MemberStatus) -> &'static str {
    match status {
        MemberStatus::Invited => lang.pick("uitgenodigd", "invited"),
        MemberStatus::Active => lang.pick("actief", "active"),
        MemberStatus::Blocked => lang.pick("geblokkeerd", "blocked"),
    }
}

fn when(lang: Lang, at: Option<chrono::DateTime<Utc>>) -> String {
    match at {
        Some(at) => at.format("%Y-%m-%d %H:%M UTC").to_string(),
        None => lang.pick("nog nooit", "never").to_string(),
    }
}

fn member_row(lang: Lang, m: &MemberView) -> minijinja::Value {
    let roles: Vec<&str> = m.roles.iter().map(|r| r.as_str()).collect();
    context! {
        person => m.person,
        name => m.name.clone().unwrap_or_else(|| m.person.clone()),
        email => m.email,
        phone => m.phone,
        language => m.language.as_deref().unwrap_or("nl"),
        roles => roles,
        status => m.status.as_str(),
        status_label => status_label(lang, m.status),
        groups => m.groups,
        last_login => when(lang, m.last_login),
    }
}

/// What was typed into a member's forms, kept when one comes back with errors.
#[derive(Debug, Default, Serialize)]
struct Typed {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    language: Option<String>,
    roles: Option<Vec<String>>,
}

/// A member's page, with errors next to their fields (422) or without (200).
async fn member_page(
    admin: &Admin,
    person: &str,
    typed: Typed,
    errors: BTreeMap<&'static str, String>,
) -> Page {
    let state = &admin.state;
    let member = admin.services().member(&admin.session, person).await;
    let member = member.map_err(|e| unseen(admin, "user page", e))?;
    let sql = state.registry.sql();
    let invitation = sql
        .invitation_of(&admin.session.organisation.kvk, person)
        .await
        .or_failed(admin, "user page")?
        .filter(|i| !i.accepted && member.status == MemberStatus::Invited);
    let now = Utc::now();
    let invitation = invitation.map(|i| {
        context! {
            id => i.id,
            email => i.email,
            expires => i.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            open => !i.withdrawn && i.expires_at > now,
            expired => !i.withdrawn && i.expires_at <= now,
            withdrawn => i.withdrawn,
        }
    });
    let mut roles = assignable_roles(&admin.session);
    // A hoofdbeheerder's box stays visible (unticking it is the roles form's to refuse).
    if member.roles.contains(&Role::Hoofdbeheerder) && !roles.contains(&"hoofdbeheerder") {
        roles.insert(0, "hoofdbeheerder");
    }
    let is_self = member.person == admin.session.person_id;
    let ctx = context! {
        title => member.name.clone().unwrap_or_else(|| member.person.clone()),
        member => member_row(admin.lang, &member),
        invitation => invitation,
        all_roles => roles,
        typed => typed,
        errors => errors,
        manages => admin.manages(),
        changes => admin.changes_anything(),
        is_self => is_self,
    };
    Ok(admin.form_page("admin/user.html", ctx))
}

fn not_found(admin: &Admin) -> Stop {
    admin.stop(
        StatusCode::NOT_FOUND,
        ("Gebruiker niet gevonden", "User not found"),
        (
            "Deze gebruiker hoort niet bij uw organisatie, of u mag hem niet zien.",
            "This user is not in your organisation, or you may not see them.",
        ),
    )
}

/// A member the session cannot look at: not found (or outside its view), or a failure.
fn unseen(admin: &Admin, what: &str, e: MemberError) -> Stop {
    match e {
        MemberError::NotFound => not_found(admin),
        e => admin.failed(what, &e),
    }
}

/// `GET /admin/users/{person}`.
pub async fn show(admin: Admin, Path(person): Path<String>) -> Page {
    member_page(&admin, &person, Typed::default(), BTreeMap::new()).await
}

/// A refused change as (field, text) for the form, or `None` when it is nobody's input.
fn field_error(lang: Lang, e: &WriteError) -> Option<(&'static str, String)> {
    use WriteError as W;
    let (field, nl, en): (&str, &str, &str) = match e {
        W::Empty { .. } => ("name", "Vul een naam in.", "Enter a name."),
        W::InvalidEmail(_) => (
            "email",
            "Dit is geen geldig e-mailadres.",
            "This is not a valid e-mail address.",
        ),
        W::DuplicateEmail { .. } => (
            "email",
            "Er is in deze organisatie al een gebruiker met dit e-mailadres.",
            "This organisation already has a user with this e-mail address.",
        ),
        W::SharedPerson(_) => (
            "name",
            "Deze persoon is ook lid van een andere organisatie; zijn gegevens kunnen hier niet worden gewijzigd.",
            "This person is also a member of another organisation; their details cannot be changed here.",
        ),
        W::LastHoofdbeheerder(_) => (
            "roles",
            "De organisatie moet minstens één hoofdbeheerder houden.",
            "The organisation must keep at least one hoofdbeheerder.",
        ),
        W::NotAllowed { .. } => (
            "roles",
            "Alleen een hoofdbeheerder mag hoofdbeheerders en beheerders aanstellen of verwijderen.",
            "Only a hoofdbeheerder may appoint or remove hoofdbeheerders and beheerders.",
        ),
        W::UnknownGroup { .. } => ("groups", "Onbekende groep.", "Unknown group."),
        W::RemoveSelf => (
            "remove",
            "U kunt uzelf niet verwijderen.",
            "You cannot remove yourself.",
        ),
        _ => return None,
    };
    Some((field, lang.pick(nl, en).to_string()))
}

/// The answer to a refused change on a member's page: next to its field, or a failure page.
async fn refused(admin: &Admin, person: &str, typed: Typed, e: MemberError) -> Page {
    match e {
        MemberError::NotFound => Err(not_found(admin)),
        // Refused by role: for a beheerder that is appointing (answered next to the roles); a
        // groepsbeheerder or lezer may not do this at all.
        MemberError::Write(WriteError::NotAllowed { .. }) if !admin.manages() => {
            Err(admin.not_allowed())
        }
        MemberError::Write(e) => match field_error(admin.lang, &e) {
            Some((field, text)) => {
                let errors = BTreeMap::from([(field, text)]);
                member_page(admin, person, typed, errors).await
            }
            None if matches!(e, WriteError::NotAllowed { .. }) => Err(admin.not_allowed()),
            None => Err(admin.failed("user change", &e)),
        },
    }
}

/// `POST /admin/users/{person}/details`: name, e-mail address, phone, language.
pub async fn details(admin: Admin, Path(person): Path<String>, body: axum::body::Bytes) -> Page {
    let form = admin.form(&body)?;
    let details = MemberDetails {
        name: form.text("name"),
        email: form.text("email"),
        phone: Some(form.text("phone")),
        language: Some(form.text("language")),
    };
    match admin
        .services()
        .update(&admin.session, &person, &details)
        .await
    {
        Ok(_) => Ok(done(&format!("/admin/users/{person}"), "saved")),
        Err(e) => {
            let typed = Typed {
                name: Some(details.name),
                email: Some(details.email),
                phone: details.phone,
                language: details.language,
                roles: None,
            };
            refused(&admin, &person, typed, e).await
        }
    }
}

/// `POST /admin/users/{person}/roles`.
pub async fn roles(admin: Admin, Path(person): Path<String>, body: axum::body::Bytes) -> Page {
    let form = admin.form(&body)?;
    let typed_roles = form.all("role");
    let typed = || Typed {
        roles: Some(typed_roles.clone()),
        ..Default::default()
    };
    let roles = match parse_roles(admin.lang, &typed_roles) {
        Ok(roles) => roles,
        Err(errors) => return member_page(&admin, &person, typed(), errors).await,
    };
    match admin
        .services()
        .set_roles(&admin.session, &person, &roles)
        .await
    {
        Ok(_) => Ok(done(&format!("/admin/users/{person}"), "saved")),
        Err(e) => refused(&admin, &person, typed(), e).await,
    }
}

async fn set_blocked(admin: Admin, person: &str, body: &[u8], blocked: bool) -> Page {
    admin.form(body)?;
    match admin
        .services()
        .set_blocked(&admin.session, person, blocked)
        .await
    {
        Ok(_) => Ok(done(
            &format!("/admin/users/{person}"),
            if blocked { "blocked" } else { "unblocked" },
        )),
        Err(e) => refused(&admin, person, Typed::default(), e).await,
    }
}

/// `POST /admin/users/{person}/block`: for the whole organisation (nothing is deleted).
pub async fn block(admin: Admin, Path(person): Path<String>, body: axum::body::Bytes) -> Page {
    set_blocked(admin, &person, &body, true).await
}

/// `POST /admin/users/{person}/unblock`.
pub async fn unblock(admin: Admin, Path(person): Path<String>, body: axum::body::Bytes) -> Page {
    set_blocked(admin, &person, &body, false).await
}

/// `POST /admin/users/{person}/groups/{group}/block` or `/unblock`: for that group only.
pub async fn group_block(
    admin: Admin,
    Path((person, group, action)): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> Page {
    admin.form(&body)?;
    let blocked = match action.as_str() {
        "block" => true,
        "unblock" => false,
        _ => return Err(not_found(&admin)),
    };
    match admin
        .services()
        .set_blocked_in_group(&admin.session, &person, &group, blocked)
        .await
    {
        Ok(_) => Ok(done(
            &format!("/admin/users/{person}"),
            if blocked { "blocked" } else { "unblocked" },
        )),
        Err(e) => refused(&admin, &person, Typed::default(), e).await,
    }
}

/// `GET /admin/users/{person}/remove`: asks for confirmation first.
pub async fn confirm_remove(admin: Admin, Path(person): Path<String>) -> Page {
    let member = admin.services().member(&admin.session, &person).await;
    let member = member.map_err(|e| unseen(&admin, "remove user", e))?;
    admin.require(admin.manages())?;
    let name = member.name.clone().unwrap_or_else(|| member.person.clone());
    let (nl, en) = (
        format!("{name} verwijderen uit {}? Hun rollen, groepen en de machtigingen die zij hier hebben verdwijnen; het logboek houdt bij wat er was. Dit kan niet ongedaan worden gemaakt.", admin.session.organisation.name),
        format!("Remove {name} from {}? Their roles, groups and the grants they hold here go; the audit trail keeps what there was. This cannot be undone.", admin.session.organisation.name),
    );
    Ok(admin.page(
        "admin/confirm.html",
        context! {
            title => admin.lang.pick("Gebruiker verwijderen", "Remove user"),
            question => admin.lang.pick(&nl, &en),
            action => format!("/admin/users/{person}/remove"),
            confirm_label => admin.lang.pick("Ja, verwijderen", "Yes, remove"),
            back => format!("/admin/users/{person}"),
        },
    ))
}

/// `POST /admin/users/{person}/remove`.
pub async fn remove(admin: Admin, Path(person): Path<String>, body: axum::body::Bytes) -> Page {
    admin.form(&body)?;
    match admin.services().remove(&admin.session, &person).await {
        Ok(()) => Ok(done("/admin/users", "removed")),
        Err(e) => refused(&admin, &person, Typed::default(), e).await,
    }
}

/// `POST /admin/users/{person}/invitation/resend` or `/withdraw`.
pub async fn invitation(
    admin: Admin,
    Path((person, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Page {
    let form = admin.form(&body)?;
    if let Err(e) = admin.services().member(&admin.session, &person).await {
        return refused(&admin, &person, Typed::default(), e).await;
    }
    let id = form.text("invitation");
    let services = admin.services();
    let outcome = match action.as_str() {
        "resend" => services
            .resend_invitation(&admin.session, &id)
            .await
            .map(|(_, sent)| if sent { "resent" } else { "invited-no-mail" }),
        "withdraw" => services
            .withdraw_invitation(&admin.session, &id)
            .await
            .map(|()| "withdrawn"),
        _ => return Err(not_found(&admin)),
    };
    match outcome {
        Ok(notice) => Ok(done(&format!("/admin/users/{person}"), notice)),
        Err(WriteError::NotAllowed { .. }) => Err(admin.not_allowed()),
        Err(
            e @ (WriteError::InvitationUnknown
            | WriteError::InvitationUsed
            | WriteError::InvitationWithdrawn),
        ) => {
            let errors = BTreeMap::from([("invitation", e.to_string())]);
            member_page(&admin, &person, Typed::default(), errors).await
        }
        Err(e) => Err(admin.failed("invitation", &e)),
    }
}

/// What was typed into the invitation form (kept when the form comes back with errors).
#[derive(Debug, Clone, Default, Serialize)]
struct InviteTyped {
    name: String,
    email: String,
    phone: String,
    language: String,
    roles: Vec<String>,
    groups: Vec<String>,
}

async fn invite_page(
    admin: &Admin,
    typed: &InviteTyped,
    errors: BTreeMap<&'static str, String>,
) -> Page {
    let state = &admin.state;
    let mut roles = assignable_roles(&admin.session);
    let sql = state.registry.sql();
    let kvk = &admin.session.organisation.kvk;
    // A groepsbeheerder invites plain users into the groups they administer.
    let groups = if admin.manages() {
        sql.organisation_summary(kvk).await.map(|view| view.groups)
    } else {
        roles = vec!["gebruiker"];
        sql.administered_groups(kvk, &admin.session.person_id).await
    };
    let groups = groups.or_failed(admin, "invitation form")?;
    let ctx = context! {
        title => admin.lang.pick("Gebruiker uitnodigen", "Invite a user"),
        values => typed,
        errors => errors,
        all_roles => roles,
        all_groups => groups,
    };
    Ok(admin.form_page("admin/invite.html", ctx))
}

/// `GET /admin/users/new`: the invitation form.
pub async fn invite_form(admin: Admin) -> Page {
    admin.require(admin.changes_anything())?;
    let typed = InviteTyped {
        language: admin.lang.code().to_string(),
        roles: vec!["gebruiker".into()],
        ..Default::default()
    };
    invite_page(&admin, &typed, BTreeMap::new()).await
}

/// `POST /admin/users/new`: invites, or shows the form again with what was typed and each
/// error next to its field.
pub async fn invite_submit(admin: Admin, body: axum::body::Bytes) -> Page {
    let form = admin.form(&body)?;
    admin.require(admin.changes_anything())?;
    let typed = InviteTyped {
        name: form.text("name"),
        email: form.text("email"),
        phone: form.text("phone"),
        language: form.text("language"),
        roles: form.all("role"),
        groups: form.all("group"),
    };
    let roles = match parse_roles(admin.lang, &typed.roles) {
        Ok(roles) => roles,
        Err(errors) => return invite_page(&admin, &typed, errors).await,
    };
    let new = NewInvitation {
        name: typed.name.clone(),
        email: typed.email.clone(),
        language: Some(if typed.language == "en" { "en" } else { "nl" }.to_string()),
        phone: Some(typed.phone.clone()).filter(|p| !p.is_empty()),
        roles,
        groups: typed.groups.clone(),
    };
    match admin.services().invite(&admin.session, &new).await {
        Ok((invitation, sent)) => Ok(done(
            &format!("/admin/users/{}", invitation.person),
            if sent { "invited" } else { "invited-no-mail" },
        )),
        Err(WriteError::NotAllowed { .. }) if !admin.manages() => {
            let text = admin.lang.pick(
                "Kies een of meer groepen die u beheert: u nodigt gebruikers uit in uw eigen groepen, met de rol gebruiker.",
                "Choose one or more groups you administer: you invite users into your own groups, with the role gebruiker.",
            );
            let errors = BTreeMap::from([("groups", text.to_string())]);
            invite_page(&admin, &typed, errors).await
        }
        Err(e) => match field_error(admin.lang, &e) {
            Some((field, text)) => {
                invite_page(&admin, &typed, BTreeMap::from([(field, text)])).await
            }
            None => Err(admin.failed("invite", &e)),
        },
    }
}
