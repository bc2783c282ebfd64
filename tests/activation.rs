//! Activation of organisations (issue 14). In the register, on SQLite and PostgreSQL: an
//! organisation registered by an operator waits, with its appointed hoofdbeheerder invited,
//! until that person's first login through the link activates it; a new link makes the old one
//! unusable and is refused once the organisation is active; an expired link says it is an
//! activation link; the hoofdbeheerder appoints a co-hoofdbeheerder and the last one stays.
//! Over HTTP, through a running poort and the development AD: the operator API registers, the
//! mail with the link lands in the outbox, the login through it activates, with its page and
//! audit rows; an expired link gets a clear page; bevoegd vertegenwoordigers are mailed when an
//! administrator is appointed. (The operator API's routes and commands: `tests/operator.rs`.)

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::operator::{call, follow, mails, new_organisation, operator_world, TOKEN};
use common::World;
use poort::grants::{
    Actor, MemberStatus, NewInvitation, NewOrganisation, NewRegistration, OrganisationStatus, Pool,
    Role, SqlRegister, WriteError,
};
use serde_json::{json, Value};

const IDP: &str = "urn:etoegang:AD:00000099990000000003:entities:1";
const NEW_KVK: &str = "55667788";

fn op() -> Actor {
    Actor::Operator("test".into())
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn registration() -> NewRegistration {
    NewRegistration {
        kvk: NEW_KVK.into(),
        name: "Nieuw Bedrijf B.V.".into(),
        rsin: None,
        hoofdbeheerder_name: "Hanna Testpersoon".into(),
        hoofdbeheerder_email: "hanna@nieuw.example".into(),
        language: Some("en".into()),
    }
}

async fn count(pool: &Pool, sql: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match pool {
        Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

async fn actions(pool: &Pool) -> Vec<String> {
    let sql = "SELECT action FROM audit ORDER BY id";
    match pool {
        Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
    }
}

/// Row counts of the tables a registration writes, to prove a refusal wrote nothing.
async fn written(pool: &Pool) -> Vec<i64> {
    let mut out = Vec::new();
    for t in [
        "organisations",
        "persons",
        "memberships",
        "invitations",
        "audit",
    ] {
        out.push(count(pool, &format!("SELECT COUNT(*) FROM {t}")).await);
    }
    out
}

async fn bad_registrations_are_refused_with_their_reason(r: &SqlRegister) {
    let before = written(r.pool()).await;
    let cases: Vec<(NewRegistration, Actor, &str)> = vec![
        (registration(), Actor::Admin("anna".into()), "operator_only"),
        (
            NewRegistration {
                kvk: "12345678".into(),
                ..registration()
            },
            op(),
            "duplicate_organisation",
        ),
        (
            NewRegistration {
                kvk: "123".into(),
                ..registration()
            },
            op(),
            "invalid_kvk",
        ),
        (
            NewRegistration {
                hoofdbeheerder_email: "hanna at nieuw".into(),
                ..registration()
            },
            op(),
            "invalid_email",
        ),
        (
            NewRegistration {
                hoofdbeheerder_name: " ".into(),
                ..registration()
            },
            op(),
            "empty",
        ),
        (
            NewRegistration {
                name: "".into(),
                ..registration()
            },
            op(),
            "empty",
        ),
        (
            NewRegistration {
                language: Some("de".into()),
                ..registration()
            },
            op(),
            "invalid_language",
        ),
    ];
    for (new, actor, reason) in cases {
        let refused = r.register_organisation(&actor, &new, now()).await;
        let e = refused
            .err()
            .unwrap_or_else(|| panic!("{reason}: accepted"));
        assert_eq!(e.reason_code(), reason, "{e}");
    }
    assert_eq!(written(r.pool()).await, before, "a refusal wrote nothing");
}

async fn register_wait_activate(r: &SqlRegister) {
    let pool = r.pool();
    let at = now();
    let (invitation, touched) = r
        .register_organisation(&op(), &registration(), at)
        .await
        .unwrap();
    assert!(touched.is_empty());
    assert_eq!(invitation.expires_at, at + TimeDelta::hours(24));
    assert_eq!(invitation.language.as_deref(), Some("en"));
    assert_eq!(invitation.token.len(), 64);
    // Only the link's hash is stored.
    let stored = count(
        pool,
        &format!(
            "SELECT COUNT(*) FROM invitations WHERE token_hash = '{}'",
            poort::grants::token_hash(&invitation.token)
        ),
    )
    .await;
    assert_eq!(stored, 1);
    let view = r.show_organisation(NEW_KVK).await.unwrap();
    assert_eq!(view.status, OrganisationStatus::PendingActivation);
    assert_eq!(view.activated_at, None);
    let member = &view.members[0];
    assert_eq!(
        (member.roles.clone(), member.status),
        (vec![Role::Hoofdbeheerder], MemberStatus::Invited)
    );
    let pending = r
        .list_organisations(Some(OrganisationStatus::PendingActivation))
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].organisation.kvk, NEW_KVK);
    assert_eq!(
        r.list_organisations(None).await.unwrap().len(),
        4,
        "the three of the seed are active"
    );

    // Once active, a resend is refused; while waiting, a new link replaces the old.
    let refused = r.resend_activation(&op(), "12345678", now()).await;
    assert!(
        matches!(refused, Err(WriteError::AlreadyActive(ref k)) if k == "12345678"),
        "{refused:?}"
    );
    let refused = r
        .resend_activation(&Actor::Admin("anna".into()), NEW_KVK, now())
        .await;
    assert!(matches!(refused, Err(WriteError::OperatorOnly { .. })));
    let (again, _) = r.resend_activation(&op(), NEW_KVK, now()).await.unwrap();
    assert_eq!(again.id, invitation.id);
    assert_ne!(again.token, invitation.token);
    assert!(matches!(
        r.open_invitation(&invitation.token, now()).await,
        Err(WriteError::InvitationUnknown)
    ));
    // Past its 24 hours, the link says it is an activation link that expired.
    let later = now() + TimeDelta::hours(25);
    let expired = r.accept_invitation(&again.token, IDP, "hanna", later).await;
    assert!(
        matches!(expired, Err(WriteError::ActivationExpired)),
        "{expired:?}"
    );
    assert_eq!(
        r.organisation_summary(NEW_KVK).await.unwrap().status,
        OrganisationStatus::PendingActivation
    );

    // The hoofdbeheerder's first login through the link: bound and active, in one go.
    let (accepted, touched) = r
        .accept_invitation(&again.token, IDP, "hanna", now())
        .await
        .unwrap();
    assert!(accepted.activated);
    assert_eq!(accepted.roles, vec![Role::Hoofdbeheerder]);
    assert_eq!(accepted.organisation.kvk, NEW_KVK);
    assert!(touched
        .links
        .contains(&poort::grants::IdentityKey::new(IDP, "hanna")));
    let view = r.organisation_summary(NEW_KVK).await.unwrap();
    assert_eq!(view.status, OrganisationStatus::Active);
    assert!(view.activated_at.is_some());
    let trail = actions(pool).await;
    assert!(trail.ends_with(&[
        "organisation.register".to_string(),
        "invitation.create".to_string(),
        "activation.resend".to_string(),
        "invitation.accept".to_string(),
        "organisation.activate".to_string(),
    ]));
    // Used once; and now active, no new link.
    assert!(matches!(
        r.accept_invitation(&again.token, IDP, "hanna", now()).await,
        Err(WriteError::InvitationUsed)
    ));
    assert!(matches!(
        r.resend_activation(&op(), NEW_KVK, now()).await,
        Err(WriteError::AlreadyActive(_))
    ));
    // An organisation the operator creates directly is active at once.
    r.create_organisation(
        &op(),
        &NewOrganisation {
            kvk: "44556677".into(),
            name: "Direct B.V.".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        r.organisation_summary("44556677").await.unwrap().status,
        OrganisationStatus::Active
    );
}

/// In an active organisation an expired invitation is an invitation, not an activation.
async fn an_expired_invitation_of_an_active_organisation_is_no_activation(r: &SqlRegister) {
    let new = NewInvitation {
        name: "Gijs".into(),
        email: "gijs@bakkerij.example".into(),
        roles: vec![Role::Gebruiker],
        ..Default::default()
    };
    let (i, _) = r.invite(&op(), "12345678", &new, now()).await.unwrap();
    let later = now() + TimeDelta::hours(25);
    assert!(matches!(
        r.accept_invitation(&i.token, IDP, "gijs", later).await,
        Err(WriteError::InvitationExpired)
    ));
}

/// The hoofdbeheerder appoints a co-hoofdbeheerder; the last one can be neither demoted nor
/// blocked by an administrator.
async fn co_hoofdbeheerders_and_the_last_one(r: &SqlRegister) {
    let hanna = r
        .show_organisation(NEW_KVK)
        .await
        .unwrap()
        .members
        .into_iter()
        .find(|m| m.roles.contains(&Role::Hoofdbeheerder))
        .unwrap()
        .person;
    let by_hanna = Actor::Admin(hanna.clone());
    let colleague = NewInvitation {
        name: "Ivo".into(),
        email: "ivo@nieuw.example".into(),
        roles: vec![Role::Gebruiker],
        ..Default::default()
    };
    let (ivo, _) = r
        .invite(&by_hanna, NEW_KVK, &colleague, now())
        .await
        .unwrap();
    let ivo = ivo.person;
    r.set_roles(
        &by_hanna,
        NEW_KVK,
        &ivo,
        &[Role::Hoofdbeheerder, Role::Gebruiker],
    )
    .await
    .unwrap();
    // With two, hanna may step down; then ivo is the last and cannot.
    r.set_roles(&by_hanna, NEW_KVK, &hanna, &[Role::Gebruiker])
        .await
        .unwrap();
    let by_ivo = Actor::Admin(ivo.clone());
    let refused = r
        .set_roles(&by_ivo, NEW_KVK, &ivo, &[Role::Beheerder])
        .await;
    assert!(
        matches!(refused, Err(WriteError::LastHoofdbeheerder(ref k)) if k == NEW_KVK),
        "{refused:?}"
    );
    let refused = r.set_member_blocked(&by_ivo, NEW_KVK, &ivo, true).await;
    assert!(matches!(refused, Err(WriteError::LastHoofdbeheerder(_))));
    // Nor removed: the only one who may remove a hoofdbeheerder is one, and not themselves.
    let refused = r.remove_member(&by_ivo, NEW_KVK, &ivo, now()).await;
    assert!(
        matches!(refused, Err(WriteError::RemoveSelf)),
        "{refused:?}"
    );
    // A gebruiker cannot appoint.
    let refused = r
        .set_roles(
            &Actor::Admin(hanna.clone()),
            NEW_KVK,
            &hanna,
            &[Role::Hoofdbeheerder],
        )
        .await;
    assert!(matches!(refused, Err(WriteError::NotAllowed { .. })));
}

async fn register_suite(r: SqlRegister) {
    r.import(&poort::grants::conformance::dev_file())
        .await
        .unwrap();
    bad_registrations_are_refused_with_their_reason(&r).await;
    register_wait_activate(&r).await;
    an_expired_invitation_of_an_active_organisation_is_no_activation(&r).await;
    co_hoofdbeheerders_and_the_last_one(&r).await;
}

#[tokio::test]
async fn activation_in_the_register_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("register.db");
    register_suite(
        SqlRegister::connect_sqlite(path.to_str().unwrap())
            .await
            .unwrap(),
    )
    .await;
}

#[tokio::test]
async fn activation_in_the_register_on_postgres() {
    let pg = common::cluster::FreshPostgres::create();
    let register = SqlRegister::connect_postgres(&pg.url).await.unwrap();
    register_suite(register.clone()).await;
    register.close().await;
}

async fn audit_of(w: &World, action: &str) -> Vec<String> {
    let sql = "SELECT actor FROM audit WHERE action = $1 ORDER BY id";
    match w.registry.sql().pool() {
        Pool::Sqlite(p) => sqlx::query_scalar(sql).bind(action).fetch_all(p).await,
        Pool::Postgres(p) => sqlx::query_scalar(sql).bind(action).fetch_all(p).await,
    }
    .unwrap()
}

// Over HTTP, through a running poort.

#[tokio::test]
async fn registered_by_the_operator_activated_by_the_hoofdbeheerders_first_login() {
    let w = operator_world().await;
    let before = now();
    let (status, _, made) = call(
        &w,
        None,
        "POST",
        "/api/v1/operator/organisations",
        Some(TOKEN),
        Some(new_organisation(NEW_KVK, "hanna@nieuw.example")),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["organisation"]["status"], "pending_activation");
    assert_eq!(made["organisation"]["activated_at"], Value::Null);
    assert_eq!(made["activation"]["mail_sent"], true);
    assert_eq!(made["activation"]["email"], "hanna@nieuw.example");
    let expires: DateTime<Utc> = made["activation"]["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(expires >= before + TimeDelta::hours(24) && expires <= now() + TimeDelta::hours(24));
    // The register says who registered it: the token, by its hash's start, never itself.
    let actors = audit_of(&w, "organisation.register").await;
    let expected = format!("operator:api-{}", &poort::grants::token_hash(TOKEN)[..12]);
    assert_eq!(actors, vec![expected]);

    // The mail carries the link and until when it works.
    let mail = mails(&w)
        .await
        .into_iter()
        .find(|m| m.contains("hanna@nieuw.example"))
        .expect("the activation mail");
    assert!(
        mail.contains("Activeer Nieuw Bedrijf B.V. voor eHerkenning"),
        "{mail}"
    );
    assert!(
        mail.contains(&expires.format("%Y-%m-%d %H:%M UTC").to_string()),
        "{mail}"
    );
    let link = common::invitation_link(&w, "hanna@nieuw.example").await;
    assert!(mail.contains(&link), "{mail}");

    // Not active until the first login through it; then it is, and the page says so.
    let (_, _, org) = call(
        &w,
        None,
        "GET",
        &format!("/api/v1/operator/organisations/{NEW_KVK}"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(org["status"], "pending_activation");
    let r = follow(&link, "hanna").await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Nieuw Bedrijf B.V. is nu actief en u bent de hoofdbeheerder"),
        "{page}"
    );
    assert!(
        common::unescape(&page).contains("href=\"/admin\""),
        "links to the admin module: {page}"
    );
    let (_, _, org) = call(
        &w,
        None,
        "GET",
        &format!("/api/v1/operator/organisations/{NEW_KVK}"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(org["status"], "active", "{org}");
    assert!(org["activated_at"].is_string(), "{org}");
    let activated = audit_of(&w, "organisation.activate").await;
    assert_eq!(activated, vec!["identity:".to_string() + IDP + "#hanna"]);
    assert_eq!(audit_of(&w, "invitation.accept").await.len(), 1);

    // hanna is its hoofdbeheerder in the admin module, which shows it active.
    let (hanna, _) = common::admin_session(&w, "hanna").await;
    let (_, _, summary) = call(&w, Some(&hanna), "GET", "/api/v1/organisation", None, None).await;
    assert_eq!(summary["organisation"]["kvk"], NEW_KVK);
    assert_eq!(summary["status"], "active");
    let page = common::page(&hanna, format!("{}/admin/organisation", w.poort)).await;
    assert!(page.contains("Actief sinds"), "{page}");

    // The link is used; a new one is refused now that the organisation is active.
    let r = follow(&link, "hanna").await;
    assert_eq!(r.status(), 410);
    let (status, _, p) = call(
        &w,
        None,
        "POST",
        &format!("/api/v1/operator/organisations/{NEW_KVK}/activation/resend"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(
        (status, p["reason"].as_str()),
        (409, Some("already_active")),
        "{p}"
    );
}

#[tokio::test]
async fn an_expired_or_replaced_activation_link_gets_a_clear_page() {
    let w = operator_world().await;
    let path = format!("/api/v1/operator/organisations/{NEW_KVK}/activation/resend");
    let body = new_organisation(NEW_KVK, "hanna@nieuw.example");
    let (status, _, _) = call(
        &w,
        None,
        "POST",
        "/api/v1/operator/organisations",
        Some(TOKEN),
        Some(body),
    )
    .await;
    assert_eq!(status, 201);
    let first = common::invitation_link(&w, "hanna@nieuw.example").await;
    // Sent again: a new link; the first is no longer known.
    let (status, _, sent) = call(&w, None, "POST", &path, Some(TOKEN), None).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["mail_sent"], true);
    let second = common::invitation_link(&w, "hanna@nieuw.example").await;
    assert_ne!(first, second);
    let r = follow(&first, "hanna").await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("niet bekend"));
    // 24 hours later: the page says the activation link expired and who sends a new one.
    common::execute_sql(
        w.registry.sql().pool(),
        &format!(
            "UPDATE invitations SET expires_at = '{}'",
            (now() - TimeDelta::hours(1)).to_rfc3339()
        ),
    )
    .await;
    let r = follow(&second, "hanna").await;
    assert_eq!(r.status(), 410);
    let page = r.text().await.unwrap();
    assert!(page.contains("Activeringslink verlopen"), "{page}");
    assert!(
        page.contains("Vraag de beheerder van poort om een nieuwe link"),
        "{page}"
    );
    let (_, _, org) = call(
        &w,
        None,
        "GET",
        &format!("/api/v1/operator/organisations/{NEW_KVK}"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(org["status"], "pending_activation");
    // A third link works.
    call(&w, None, "POST", &path, Some(TOKEN), None).await;
    let third = common::invitation_link(&w, "hanna@nieuw.example").await;
    let r = follow(&third, "hanna").await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("is nu actief"));
}

/// The mails in the outbox to `address` whose text holds `text`.
async fn mails_to(w: &World, address: &str, text: &str) -> usize {
    mails(w)
        .await
        .iter()
        .filter(|m| m.contains(address) && m.contains(text))
        .count()
}

#[tokio::test]
async fn bevoegd_vertegenwoordigers_are_told_when_an_administrator_is_appointed() {
    let w = operator_world().await;
    let sql = w.registry.sql();
    // eva (a plain user of the Bakkerij, with an address) is one of its directors, bound at
    // her login; so is someone without an address.
    common::execute_sql(
        sql.pool(),
        "UPDATE persons SET email = 'eva@bakkerij.example' WHERE id = 'eva'",
    )
    .await;
    let extract = json!({"representatives": [
        {"given_names": "Eva", "family_name": "Smit", "date_of_birth": "1980-01-01", "authority": "joint"},
        {"given_names": "Daan", "family_name": "Visser", "date_of_birth": "1981-01-01", "authority": "joint"},
        {"given_names": "Gijs", "family_name": "Testpersoon", "date_of_birth": "1980-01-01", "authority": "sole"},
    ]});
    let (status, _, _) = call(
        &w,
        None,
        "PUT",
        "/api/v1/operator/organisations/12345678/representatives",
        Some(TOKEN),
        Some(extract),
    )
    .await;
    assert_eq!(status, 200);
    let bound = w
        .registry
        .write(sql.bind_representative(IDP, "eva", "Eva", "Smit", "1980-01-01", now()))
        .await
        .unwrap();
    assert_eq!(bound.len(), 1);
    w.registry
        .write(sql.bind_representative(IDP, "daan", "Daan", "Visser", "1981-01-01", now()))
        .await
        .unwrap();
    // daan has no e-mail address: a director without one is written to by nobody.
    let no_address = "UPDATE persons SET email = NULL WHERE id = 'daan'";
    match sql.pool() {
        poort::grants::Pool::Sqlite(p) => sqlx::query(no_address).execute(p).await.map(|_| ()),
        poort::grants::Pool::Postgres(p) => sqlx::query(no_address).execute(p).await.map(|_| ()),
    }
    .unwrap();
    let eva = "eva@bakkerij.example";
    const NEW_BEHEERDER: &str = "Nieuwe beheerder voor Bakkerij De Gouden Korst B.V.";
    const NEW_HOOFDBEHEERDER: &str = "Nieuwe hoofdbeheerder voor Bakkerij De Gouden Korst B.V.";

    // anna invites hanna as a plain user, then makes her beheerder: eva is told, once.
    let (anna, csrf) = common::admin_session(&w, "anna").await;
    let invite = |body: Value| {
        anna.post(format!("{}/api/v1/invitations", w.poort))
            .header("X-CSRF-Token", &csrf)
            .json(&body)
            .send()
    };
    let r = invite(json!({"name": "Hanna Testpersoon", "email": "hanna@bakkerij.example", "roles": ["gebruiker"]})).await.unwrap();
    assert_eq!(r.status(), 201);
    let hanna: Value = r.json().await.unwrap();
    let hanna = hanna["person"].as_str().unwrap().to_string();
    let roles = |roles: Value| {
        anna.post(format!("{}/api/v1/members/{hanna}/roles", w.poort))
            .header("X-CSRF-Token", &csrf)
            .json(&json!({ "roles": roles }))
            .send()
    };
    assert_eq!(
        roles(json!(["gebruiker", "lezer"])).await.unwrap().status(),
        200
    );
    assert_eq!(
        mails_to(&w, eva, "Nieuwe").await,
        0,
        "a lezer is no administrator"
    );
    assert_eq!(
        roles(json!(["beheerder", "gebruiker"]))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(mails_to(&w, eva, NEW_BEHEERDER).await, 1);
    let mail = mails(&w)
        .await
        .into_iter()
        .find(|m| m.contains(NEW_BEHEERDER))
        .unwrap();
    assert!(
        mail.contains("Hanna Testpersoon is beheerder geworden"),
        "{mail}"
    );
    // Staying beheerder is no new appointment; becoming hoofdbeheerder is.
    assert_eq!(roles(json!(["beheerder"])).await.unwrap().status(), 200);
    assert_eq!(
        roles(json!(["hoofdbeheerder"])).await.unwrap().status(),
        200
    );
    assert_eq!(mails_to(&w, eva, NEW_BEHEERDER).await, 1);
    assert_eq!(mails_to(&w, eva, NEW_HOOFDBEHEERDER).await, 1);

    // An invitation with an administrator's role, accepted: told at the acceptance.
    let r = invite(json!({"name": "Gijs Testpersoon", "email": "gijs@bakkerij.example", "roles": ["beheerder"]})).await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        mails_to(&w, eva, NEW_BEHEERDER).await,
        1,
        "not while invited"
    );
    let link = common::invitation_link(&w, "gijs@bakkerij.example").await;
    assert_eq!(follow(&link, "gijs").await.status(), 200);
    assert_eq!(mails_to(&w, eva, NEW_BEHEERDER).await, 2);

    // A sole director bound at login (gijs, already a member) becomes hoofdbeheerder: what the
    // lead's login calls after the binding tells eva.
    let bound = w
        .registry
        .write(sql.bind_representative(IDP, "gijs", "Gijs", "Testpersoon", "1980-01-01", now()))
        .await
        .unwrap();
    assert!(bound[0].became_hoofdbeheerder, "{bound:?}");
    let queued = poort::admin::notify::representatives_bound(
        sql.pool(),
        &poort::mail::Mailer::new(sql.pool().clone()),
        &bound,
    )
    .await;
    assert_eq!(
        queued, 1,
        "eva only: daan has no address, gijs is the appointee"
    );
    assert_eq!(mails_to(&w, eva, NEW_HOOFDBEHEERDER).await, 2);
    // Nobody else got these notices.
    let all = mails(&w).await;
    let notices: Vec<&String> = all
        .iter()
        .filter(|m| m.contains("Nieuwe ") && m.contains("voor Bakkerij"))
        .collect();
    assert!(notices.iter().all(|m| m.contains(eva)), "{notices:?}");
}
