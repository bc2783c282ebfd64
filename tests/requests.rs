//! Requests and their sign-off in the register, on SQLite and on a fresh PostgreSQL database: a
//! person asks for an extra grant, to be linked, for a renewal; an administrator approves within
//! their level (perhaps lowering), declines with a reason; directors sign, jointly where the
//! organisation says so; nobody signs their own; strangers see "unknown"; expiry after 30 days.
//! Each refusal is asserted by its reason, and each step by its audit row.

mod common;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use poort::config::ServiceConfig;
use poort::domain::level::Level;
use poort::domain::request::{
    RequestKind, RequestState, SignRefusal, SignedOff, Validity, Verdict,
};
use poort::grants::{conformance, NewRequest, Pool, Register, Scope, SqlRegister, WriteError};

const BAKKERIJ: &str = "12345678";
const S1: &str = "5a1d3b0e-8c9f-4f5e-9b1a-000000000001";

fn catalogue() -> Vec<ServiceConfig> {
    vec![common::service(1, "EH3"), common::service(2, "EH2+")]
}

async fn run(register: &SqlRegister, statement: &str) {
    let statement = sqlx::AssertSqlSafe(statement.to_string());
    match register.pool() {
        Pool::Sqlite(p) => sqlx::query(statement).execute(p).await.map(|_| ()),
        Pool::Postgres(p) => sqlx::query(statement).execute(p).await.map(|_| ()),
    }
    .unwrap();
}

async fn grant_until(register: &SqlRegister, id: &str) -> DateTime<Utc> {
    let filter = poort::grants::GrantFilter {
        id: Some(id.into()),
        ..Default::default()
    };
    register.list_grants(&filter).await.unwrap()[0].valid_until
}

async fn audit_actions(register: &SqlRegister) -> Vec<String> {
    let sql = "SELECT action FROM audit WHERE action LIKE 'request.%' ORDER BY id";
    match register.pool() {
        Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
    }
}

fn grant_of(level: Level, validity: Validity) -> NewRequest {
    NewRequest {
        organisation: BAKKERIJ.into(),
        kind: RequestKind::Grant {
            scopes: vec![Scope::Service { uuid: S1.into() }],
            level,
            validity,
        },
        motivation: Some("Voor de btw-aangifte".into()),
    }
}

const AS_ASKED: Verdict = Verdict::Approve {
    level: None,
    validity: None,
};

fn refusal<T: std::fmt::Debug>(result: Result<T, WriteError>) -> String {
    match result {
        Err(e) => e.reason_code().to_string(),
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

async fn suite(r: SqlRegister) {
    r.import(&conformance::dev_file()).await.unwrap();
    let cat = catalogue();
    // As the databases keep it: microseconds.
    let now: DateTime<Utc> = Utc::now().trunc_subsecs(6);
    let eh3 = Level::Eh3;

    // Eva (gebruiker at the Bakkerij) asks for service 1 at EH4 for 3 years.
    let (asked, _) = r
        .ask(
            "eva",
            &grant_of(Level::Eh4, Validity::ThreeYears),
            &cat,
            now,
        )
        .await
        .unwrap();
    let id = asked.request.id.clone();
    assert_eq!(asked.request.state, RequestState::Open);
    assert_eq!(asked.organisation.kvk, BAKKERIJ);
    assert_eq!(asked.expires_at, now + TimeDelta::days(30));
    assert_eq!(asked.motivation.as_deref(), Some("Voor de btw-aangifte"));

    // Who may not: Eva herself, and Bram, who has nothing to do with the Bakkerij ("unknown").
    assert_eq!(
        refusal(r.sign_request("eva", eh3, &id, &AS_ASKED, &cat, now).await),
        "own_request"
    );
    assert_eq!(
        refusal(r.sign_request("bram", eh3, &id, &AS_ASKED, &cat, now).await),
        "request_unknown"
    );
    // Anna (hoofdbeheerder, her own level EH3) cannot give EH4, nor raise, nor decline mutely.
    match r.sign_request("anna", eh3, &id, &AS_ASKED, &cat, now).await {
        Err(WriteError::SignRefused(SignRefusal::AboveOwnLevel { asked, own })) => {
            assert_eq!((asked, own), (Level::Eh4, eh3))
        }
        other => panic!("{other:?}"),
    }
    let raised = Verdict::Approve {
        level: None,
        validity: Some(Validity::FiveYears),
    };
    assert_eq!(
        refusal(
            r.sign_request("anna", Level::Eh4, &id, &raised, &cat, now)
                .await
        ),
        "above_own_level"
    );
    let mute = Verdict::Decline {
        reason: "  ".into(),
    };
    assert_eq!(
        refusal(r.sign_request("anna", eh3, &id, &mute, &cat, now).await),
        "no_reason"
    );
    // Her login's level caps her own: at EH2+ she cannot give EH3 either.
    let lowered = Verdict::Approve {
        level: Some(eh3),
        validity: Some(Validity::OneYear),
    };
    assert_eq!(
        refusal(
            r.sign_request("anna", Level::Eh2Plus, &id, &lowered, &cat, now)
                .await
        ),
        "above_own_level"
    );
    // Lowered to EH3 for one year: approved, and the grant exists.
    let (signed, touched) = r
        .sign_request("anna", eh3, &id, &lowered, &cat, now)
        .await
        .unwrap();
    assert_eq!(
        signed.signed,
        SignedOff::Approved(Some((eh3, Validity::OneYear)))
    );
    assert_eq!(signed.request.request.state, RequestState::Approved);
    assert_eq!(signed.request.granted, Some((eh3, Validity::OneYear)));
    assert_eq!(signed.grants.len(), 1);
    assert!(touched.links.iter().any(|l| l.subject == "eva"));
    let eva = r.grants_for(conformance::DEV_IDP, "eva").await.unwrap();
    let made = eva
        .grants
        .iter()
        .find(|g| g.grant_id == signed.grants[0])
        .expect("the approved grant is Eva's");
    assert_eq!(made.level, eh3);
    assert_eq!(made.scope, Scope::Service { uuid: S1.into() });
    let days = (made.valid_until - made.valid_from).num_days();
    assert!((365..=366).contains(&days), "{days}");
    // Signed once, never again.
    assert_eq!(
        refusal(r.sign_request("anna", eh3, &id, &AS_ASKED, &cat, now).await),
        "request_not_pending"
    );

    // A decline carries its reason to the requester's list.
    let (second, _) = r
        .ask(
            "eva",
            &grant_of(Level::Eh2Plus, Validity::OneYear),
            &cat,
            now,
        )
        .await
        .unwrap();
    let no = Verdict::Decline {
        reason: "Niet nodig voor uw functie".into(),
    };
    r.sign_request("anna", eh3, &second.request.id, &no, &cat, now)
        .await
        .unwrap();
    let mine = r.requests_of("eva", 10, now).await.unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(
        mine.iter()
            .find(|v| v.request.id == second.request.id)
            .unwrap()
            .request
            .state,
        RequestState::Declined {
            reason: "Niet nodig voor uw functie".into()
        }
    );

    // What may not be asked: a service outside the catalogue, a grant where one is no member,
    // a link where one is a member already, a renewal of someone else's grant, twice the same.
    let mut unknown = grant_of(eh3, Validity::OneYear);
    unknown.kind = RequestKind::Grant {
        scopes: vec![Scope::Service {
            uuid: "00000000-0000-0000-0000-000000000000".into(),
        }],
        level: eh3,
        validity: Validity::OneYear,
    };
    assert_eq!(
        refusal(r.ask("eva", &unknown, &cat, now).await),
        "unknown_service"
    );
    assert_eq!(
        refusal(
            r.ask("bram", &grant_of(eh3, Validity::OneYear), &cat, now)
                .await
        ),
        "holder_in_other_organisation"
    );
    let link = |kvk: &str| NewRequest {
        organisation: kvk.into(),
        kind: RequestKind::Link,
        motivation: None,
    };
    assert_eq!(
        refusal(r.ask("eva", &link(BAKKERIJ), &cat, now).await),
        "duplicate_member"
    );
    let renewal = |grant: &str| NewRequest {
        organisation: BAKKERIJ.into(),
        kind: RequestKind::Renewal {
            grant_id: grant.into(),
            level: eh3,
            validity: Validity::ThreeYears,
        },
        motivation: None,
    };
    assert_eq!(
        refusal(r.ask("eva", &renewal("g-anna-bakkerij"), &cat, now).await),
        "unknown_grant"
    );
    assert_eq!(
        refusal(r.ask("eva", &renewal("g-eva-bakkerij"), &cat, now).await),
        "grant_revoked"
    );

    // Daan, member of nothing, asks to be linked; Anna approves; he is a gebruiker now.
    let (daan, _) = r.ask("daan", &link(BAKKERIJ), &cat, now).await.unwrap();
    assert_eq!(
        refusal(r.ask("daan", &link(BAKKERIJ), &cat, now).await),
        "duplicate_request"
    );
    let page = r
        .requests_to_sign("anna", None, None, 50, now)
        .await
        .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.requests[0].request.id, daan.request.id);
    assert!(r
        .requests_to_sign("bram", None, None, 50, now)
        .await
        .unwrap()
        .requests
        .is_empty());
    r.sign_request("anna", eh3, &daan.request.id, &AS_ASKED, &cat, now)
        .await
        .unwrap();
    let view = r
        .member(BAKKERIJ, "daan")
        .await
        .unwrap()
        .expect("Daan is a member");
    assert_eq!(view.roles, [poort::grants::Role::Gebruiker]);

    // Directors: Anna's renewal is signed by the Bakkerij's directors. Two with joint authority
    // and the organisation's setting: the first signature waits for the second.
    run(
        &r,
        "UPDATE organisations SET joint_needs_two = TRUE WHERE kvk = '12345678'",
    )
    .await;
    for (id, person) in [("rep-1", "bram"), ("rep-2", "carla")] {
        run(
            &r,
            &format!(
                "INSERT INTO representatives (id, organisation_id, given_names, family_name, \
                 date_of_birth, authority, person_id, imported_at) SELECT '{id}', o.id, 'X', \
                 'Y', '1970-01-01', 'joint', '{person}', o.created_at FROM organisations o \
                 WHERE o.kvk = '12345678'"
            ),
        )
        .await;
    }
    // Her grant ends in 40 days: a renewal by 3 years runs 3 years from that end.
    run(
        &r,
        &format!(
            "UPDATE grants SET valid_until = '{}' WHERE id = 'g-anna-bakkerij'",
            (now + TimeDelta::days(40)).to_rfc3339()
        ),
    )
    .await;
    let (renew, _) = r
        .ask("anna", &renewal("g-anna-bakkerij"), &cat, now)
        .await
        .unwrap();
    let rid = renew.request.id.clone();
    // Joint authority counts only after a login at EH3.
    assert_eq!(
        refusal(
            r.sign_request("bram", Level::Eh2Plus, &rid, &AS_ASKED, &cat, now)
                .await
        ),
        "representative_level"
    );
    let (first, _) = r
        .sign_request("bram", eh3, &rid, &AS_ASKED, &cat, now)
        .await
        .unwrap();
    assert_eq!(first.signed, SignedOff::FirstOfTwo);
    assert_eq!(
        first.request.request.state,
        RequestState::AwaitingSecondSignature {
            first: "bram".into()
        }
    );
    // Not twice by the same director, and it no longer waits for Bram.
    assert_eq!(
        refusal(
            r.sign_request("bram", eh3, &rid, &AS_ASKED, &cat, now)
                .await
        ),
        "same_director"
    );
    assert!(r
        .requests_to_sign("bram", None, None, 50, now)
        .await
        .unwrap()
        .requests
        .is_empty());
    assert_eq!(
        r.requests_to_sign("carla", Some(BAKKERIJ), None, 50, now)
            .await
            .unwrap()
            .total,
        1
    );
    let before = grant_until(&r, "g-anna-bakkerij").await;
    let (second, _) = r
        .sign_request("carla", eh3, &rid, &AS_ASKED, &cat, now)
        .await
        .unwrap();
    assert_eq!(
        second.signed,
        SignedOff::Approved(Some((eh3, Validity::ThreeYears)))
    );
    let after = grant_until(&r, "g-anna-bakkerij").await;
    assert_eq!(
        after.date_naive(),
        before
            .checked_add_months(chrono::Months::new(36))
            .unwrap()
            .date_naive()
    );

    // Withdrawn by the requester only.
    let (third, _) = r
        .ask("eva", &grant_of(eh3, Validity::OneYear), &cat, now)
        .await
        .unwrap();
    assert_eq!(
        refusal(r.withdraw_request("anna", &third.request.id, now).await),
        "not_the_requester"
    );
    let (gone, _) = r
        .withdraw_request("eva", &third.request.id, now)
        .await
        .unwrap();
    assert_eq!(gone.request.state, RequestState::Withdrawn);

    // Expiry: 30 days undecided. It reads as expired at once, is refused, and the job marks it.
    let (old, _) = r
        .ask(
            "eva",
            &grant_of(eh3, Validity::OneYear),
            &cat,
            now - TimeDelta::days(31),
        )
        .await
        .unwrap();
    assert_eq!(
        r.request(&old.request.id, now).await.unwrap().request.state,
        RequestState::Expired
    );
    assert_eq!(
        refusal(
            r.sign_request("anna", eh3, &old.request.id, &AS_ASKED, &cat, now)
                .await
        ),
        "request_expired"
    );
    // One asked earlier still expires first; one still within its 30 days stays open.
    let (older, _) = r
        .ask(
            "eva",
            &grant_of(eh3, Validity::ThreeYears),
            &cat,
            now - TimeDelta::days(40),
        )
        .await
        .unwrap();
    let (recent, _) = r
        .ask(
            "eva",
            &grant_of(eh3, Validity::OneYear),
            &cat,
            now - TimeDelta::days(29),
        )
        .await
        .unwrap();
    let (expired, _) = r.expire_requests(now).await.unwrap();
    let ids: Vec<&str> = expired.iter().map(|v| v.request.id.as_str()).collect();
    assert_eq!(ids, [older.request.id.as_str(), old.request.id.as_str()]);
    for view in &expired {
        assert_eq!(view.request.state, RequestState::Expired);
        assert_eq!(view.decided_at, Some(now));
        assert_eq!(view.decided_by.as_deref(), Some("operator:request-expiry"));
    }
    assert!(r.expire_requests(now).await.unwrap().0.is_empty());
    assert_eq!(
        r.request(&recent.request.id, now)
            .await
            .unwrap()
            .request
            .state,
        RequestState::Open
    );

    assert_eq!(
        audit_actions(&r).await,
        [
            "request.create",
            "request.approve",
            "request.create",
            "request.decline",
            "request.create",
            "request.approve",
            "request.create",
            "request.sign_first",
            "request.approve",
            "request.create",
            "request.withdraw",
            "request.create",
            "request.create",
            "request.create",
            "request.expire",
            "request.expire",
        ]
    );
}

#[tokio::test]
async fn requests_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("register.db");
    suite(
        SqlRegister::connect_sqlite(path.to_str().unwrap())
            .await
            .unwrap(),
    )
    .await;
}

#[tokio::test]
async fn requests_on_postgres() {
    let pg = common::cluster::FreshPostgres::create();
    let register = SqlRegister::connect_postgres(&pg.url).await.unwrap();
    suite(register.clone()).await;
    register.close().await;
}

/// A groepsbeheerder signs for the members of their groups in the groups' own organisation
/// only: a group member's request elsewhere is neither listed nor signable for them, and they
/// get no mail about it.
async fn groups_sign_in_their_organisation(r: SqlRegister) {
    r.import(&conformance::dev_file()).await.unwrap();
    let cat = catalogue();
    let now: DateTime<Utc> = Utc::now().trunc_subsecs(6);
    let (van_dijk, groen_dak) = ("87654321", "11223344");
    // Anna: gebruiker and groepsbeheerder at Van Dijk and at Groen Dak, with a grant of her own
    // at Groen Dak; Carla, hoofdbeheerder at Van Dijk, also a gebruiker at Groen Dak.
    let from = (now - TimeDelta::days(1)).to_rfc3339();
    let until = (now + TimeDelta::days(300)).to_rfc3339();
    for (id, person, kvk) in [
        ("m-anna-groen", "anna", groen_dak),
        ("m-carla-groen", "carla", groen_dak),
    ] {
        run(
            &r,
            &format!(
                "INSERT INTO memberships (id, person_id, organisation_id, blocked, created_at) \
                 SELECT '{id}', '{person}', o.id, FALSE, o.created_at FROM organisations o \
                 WHERE o.kvk = '{kvk}'"
            ),
        )
        .await;
        run(
            &r,
            &format!(
                "INSERT INTO membership_roles (membership_id, role) VALUES ('{id}', 'gebruiker')"
            ),
        )
        .await;
    }
    run(
        &r,
        "INSERT INTO membership_roles (membership_id, role) VALUES ('m-anna-groen', 'groepsbeheerder')",
    )
    .await;
    run(
        &r,
        "INSERT INTO membership_roles (membership_id, role) SELECT m.id, 'groepsbeheerder' \
         FROM memberships m JOIN organisations o ON o.id = m.organisation_id \
         WHERE m.person_id = 'anna' AND o.kvk = '87654321'",
    )
    .await;
    run(
        &r,
        &format!(
            "INSERT INTO grants (id, organisation_id, membership_id, scope_kind, service_uuid, \
             level, valid_from, valid_until, status, created_by, created_at) \
             SELECT 'g-anna-groen', organisation_id, id, 'service', '{S1}', 'EH3', '{from}', \
             '{until}', 'active', 'test', '{from}' FROM memberships WHERE id = 'm-anna-groen'"
        ),
    )
    .await;
    run(
        &r,
        "UPDATE persons SET email = 'anna@example.nl' WHERE id = 'anna'",
    )
    .await;
    // Anna administers the group "Monteurs" at Van Dijk, of which Carla is a member.
    let group = r.add_group(van_dijk, "Monteurs").await.unwrap();
    r.add_group_member(&group, "anna", false).await.unwrap();
    r.add_group_member(&group, "carla", false).await.unwrap();
    run(
        &r,
        "UPDATE group_members SET admin = TRUE WHERE membership_id IN \
         (SELECT id FROM memberships WHERE person_id = 'anna')",
    )
    .await;

    let ask_at = |kvk: &str| NewRequest {
        organisation: kvk.into(),
        ..grant_of(Level::Eh2Plus, Validity::OneYear)
    };
    let (at_van_dijk, _) = r.ask("carla", &ask_at(van_dijk), &cat, now).await.unwrap();
    let (at_groen_dak, _) = r.ask("carla", &ask_at(groen_dak), &cat, now).await.unwrap();
    let (here, elsewhere) = (at_van_dijk.request.id, at_groen_dak.request.id);

    // Listed, visible and mailed where the group is; none of it at Groen Dak.
    let page = r
        .requests_to_sign("anna", None, None, 50, now)
        .await
        .unwrap();
    let listed: Vec<&str> = page
        .requests
        .iter()
        .map(|v| v.request.id.as_str())
        .collect();
    assert_eq!((page.total, listed), (1, vec![here.as_str()]));
    assert_eq!(
        r.requests_to_sign("anna", Some(groen_dak), None, 50, now)
            .await
            .unwrap()
            .total,
        0
    );
    assert!(r.may_sign("anna", &here).await.unwrap());
    assert!(!r.may_sign("anna", &elsewhere).await.unwrap());
    let mailed = |signers: Vec<(String, Option<String>, String, Option<String>)>| {
        signers.into_iter().any(|(id, ..)| id == "anna")
    };
    assert!(mailed(r.signers_of(&here).await.unwrap()));
    assert!(!mailed(r.signers_of(&elsewhere).await.unwrap()));
    // Her role at Groen Dak is no licence for a member of her group at Van Dijk.
    assert_eq!(
        refusal(
            r.sign_request("anna", Level::Eh3, &elsewhere, &AS_ASKED, &cat, now)
                .await
        ),
        "not_their_group"
    );
}

#[tokio::test]
async fn groups_sign_in_their_organisation_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("register.db");
    groups_sign_in_their_organisation(
        SqlRegister::connect_sqlite(path.to_str().unwrap())
            .await
            .unwrap(),
    )
    .await;
}

#[tokio::test]
async fn groups_sign_in_their_organisation_on_postgres() {
    let pg = common::cluster::FreshPostgres::create();
    let register = SqlRegister::connect_postgres(&pg.url).await.unwrap();
    groups_sign_in_their_organisation(register.clone()).await;
    register.close().await;
}
