//! Activation of organisations (issue 14). In the register, on SQLite and PostgreSQL: an
//! organisation registered by an operator waits, with its appointed hoofdbeheerder invited,
//! until that person's first login through the link activates it; a new link makes the old one
//! unusable and is refused once the organisation is active; an expired link says it is an
//! activation link; the hoofdbeheerder appoints a co-hoofdbeheerder and the last one stays.
//! Over HTTP, through a running poort and the development AD: the operator API registers, the
//! mail with the link lands in the outbox, the login through it activates, with its page and
//! audit rows; an expired link gets a clear page; every operator route, its 401s and the
//! refusal of an admin session there (and of a token on the session's routes); bevoegd
//! vertegenwoordigers are mailed when an administrator is appointed.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use poort::grants::{
    Actor, MemberStatus, NewInvitation, NewOrganisation, NewRegistration, OrganisationStatus, Pool,
    Role, SqlRegister, WriteError,
};

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
