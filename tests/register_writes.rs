//! Writes to the register, on SQLite and on a fresh PostgreSQL database: every kind of bad input
//! gets its own error and leaves nothing behind, each write says exactly which identity links it
//! touched, and each is in the audit trail.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use poort::config::ServiceConfig;
use poort::domain::level::Level;
use poort::grants::{
    conformance, Actor, GrantFilter, GrantRequest, GrantStatus, Holder, IdentityKey, ImportError,
    ImportRow, NewOrganisation, OrganisationChanges, Pool, Register, Renewal, Role, Scope,
    SqlRegister, Touched, WriteError,
};

const IDP: &str = "urn:etoegang:AD:00000099990000000003:entities:1";
const S1: &str = "5a1d3b0e-8c9f-4f5e-9b1a-000000000001";
const BAKKERIJ: &str = "12345678";

fn op() -> Actor {
    Actor::Operator("test".into())
}

fn catalogue() -> Vec<ServiceConfig> {
    vec![common::service(1, "EH3"), common::service(2, "EH2+")]
}

fn touched(persons: &[&str]) -> Touched {
    Touched {
        links: persons.iter().map(|p| IdentityKey::new(IDP, *p)).collect(),
    }
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn grant(holder: Holder, level: Level) -> GrantRequest {
    GrantRequest {
        id: None,
        organisation: BAKKERIJ.into(),
        holder,
        scope: Scope::AllServices,
        level,
        valid_from: now() - TimeDelta::days(1),
        valid_until: now() + TimeDelta::days(365),
    }
}

/// Row counts of every table a write may change, to prove a failed write left nothing.
async fn counts(register: &SqlRegister) -> Vec<i64> {
    let tables = [
        "organisations",
        "persons",
        "identity_links",
        "memberships",
        "membership_roles",
        "groups",
        "group_members",
        "grants",
        "audit",
    ];
    let mut out = Vec::new();
    for t in tables {
        let sql = format!("SELECT COUNT(*) FROM {t}");
        let n: i64 = match register.pool() {
            Pool::Sqlite(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(p)
                .await
                .unwrap(),
            Pool::Postgres(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(p)
                .await
                .unwrap(),
        };
        out.push(n);
    }
    out
}

/// Runs a write that must fail, checks the error, and that nothing changed.
macro_rules! refused {
    ($register:expr, $write:expr, $pattern:pat) => {{
        let before = counts($register).await;
        let result = $write.await;
        assert!(
            matches!(result, Err($pattern)),
            "expected {}, got {:?}",
            stringify!($pattern),
            result.as_ref().map(|_| ())
        );
        assert_eq!(
            counts($register).await,
            before,
            "a failed write changed rows"
        );
        // The message is specific (not a bare database error).
        let message = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(!message.starts_with("register database"), "{message}");
    }};
}

async fn audit_actions(register: &SqlRegister) -> Vec<String> {
    let sql = "SELECT action FROM audit ORDER BY id";
    match register.pool() {
        Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
        Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_all(p).await.unwrap(),
    }
}

async fn suite(r: SqlRegister) {
    r.import(&conformance::dev_file()).await.unwrap();
    let cat = catalogue();

    // Organisations.
    let new = |kvk: &str, rsin: Option<&str>| NewOrganisation {
        kvk: kvk.into(),
        rsin: rsin.map(str::to_string),
        name: "Nieuw B.V.".into(),
        ..NewOrganisation::default()
    };
    refused!(
        &r,
        r.create_organisation(&op(), &new("1234567", None)),
        WriteError::InvalidKvk(_)
    );
    refused!(
        &r,
        r.create_organisation(&op(), &new("1234567a", None)),
        WriteError::InvalidKvk(_)
    );
    refused!(
        &r,
        r.create_organisation(&op(), &new("55555555", Some("123456789"))),
        WriteError::InvalidRsin(_)
    );
    refused!(
        &r,
        r.create_organisation(&op(), &new(BAKKERIJ, None)),
        WriteError::DuplicateOrganisation(_)
    );
    refused!(
        &r,
        r.create_organisation(&Actor::Admin("anna".into()), &new("55555555", None)),
        WriteError::OperatorOnly { .. }
    );
    let (_, t) = r
        .create_organisation(&op(), &new("55555555", Some("805123453")))
        .await
        .unwrap();
    assert!(t.is_empty());

    // Identity links.
    refused!(
        &r,
        r.link_person(&op(), "someone", None, IDP, "anna"),
        WriteError::LinkTaken { .. }
    );
    let (_, t) = r
        .link_person(&op(), "gijs", Some("Gijs"), IDP, "gijs")
        .await
        .unwrap();
    assert_eq!(t, touched(&["gijs"]));
    // A second identity of the same person touches both links.
    let (_, t) = r
        .link_person(&op(), "gijs", None, "urn:other-ad", "g-123")
        .await
        .unwrap();
    assert_eq!(
        t.links,
        [
            IdentityKey::new(IDP, "gijs"),
            IdentityKey::new("urn:other-ad", "g-123")
        ]
        .into()
    );

    // Members.
    refused!(
        &r,
        r.add_member(&op(), "99999999", "gijs", &[Role::Gebruiker]),
        WriteError::UnknownOrganisation(_)
    );
    refused!(
        &r,
        r.add_member(&op(), BAKKERIJ, "nobody", &[Role::Gebruiker]),
        WriteError::UnknownPerson(_)
    );
    refused!(
        &r,
        r.add_member(&op(), BAKKERIJ, "anna", &[Role::Gebruiker]),
        WriteError::DuplicateMember { .. }
    );
    // Eva is a gebruiker of the Bakkerij: she may not add members there.
    refused!(
        &r,
        r.add_member(
            &Actor::Admin("eva".into()),
            BAKKERIJ,
            "gijs",
            &[Role::Gebruiker]
        ),
        WriteError::NotAllowed { .. }
    );
    // An administrator of another organisation learns nothing about this one's members:
    // Carla (hoofdbeheerder of Van Dijk) is refused alike for a member, a stranger and a
    // missing group of the Bakkerij.
    for holder in [
        Holder::Person("eva".into()),
        Holder::Person("nobody".into()),
        Holder::Group("Nergens".into()),
    ] {
        refused!(
            &r,
            r.add_grant(
                &Actor::Admin("carla".into()),
                &cat,
                &grant(holder, Level::Eh2)
            ),
            WriteError::NotAllowed { .. }
        );
    }
    // Anna is its hoofdbeheerder: she may.
    let (_, t) = r
        .add_member(
            &Actor::Admin("anna".into()),
            BAKKERIJ,
            "gijs",
            &[Role::Gebruiker],
        )
        .await
        .unwrap();
    assert_eq!(
        t.links,
        [
            IdentityKey::new(IDP, "gijs"),
            IdentityKey::new("urn:other-ad", "g-123")
        ]
        .into()
    );

    // Grants: bad input.
    let mut g = grant(Holder::Person("gijs".into()), Level::Eh3);
    g.valid_until = g.valid_from - TimeDelta::seconds(1);
    refused!(
        &r,
        r.add_grant(&op(), &cat, &g),
        WriteError::EndsBeforeStart { .. }
    );
    let mut g = grant(Holder::Person("gijs".into()), Level::Eh3);
    g.valid_until = g
        .valid_from
        .checked_add_months(chrono::Months::new(60))
        .unwrap()
        + TimeDelta::seconds(1);
    refused!(
        &r,
        r.add_grant(&op(), &cat, &g),
        WriteError::ValidityTooLong { .. }
    );
    let mut g = grant(Holder::Person("gijs".into()), Level::Eh3);
    g.scope = Scope::Service {
        uuid: "00000000-0000-0000-0000-000000000000".into(),
    };
    refused!(
        &r,
        r.add_grant(&op(), &cat, &g),
        WriteError::UnknownService(_)
    );
    g.scope = Scope::Provider {
        provider: "urn:etoegang:DV:00000099990000000099:entities:1".into(),
    };
    refused!(
        &r,
        r.add_grant(&op(), &cat, &g),
        WriteError::UnknownProvider(_)
    );
    // Carla is a member of Van Dijk, not of the Bakkerij.
    refused!(
        &r,
        r.add_grant(
            &op(),
            &cat,
            &grant(Holder::Person("carla".into()), Level::Eh3)
        ),
        WriteError::HolderInOtherOrganisation { .. }
    );
    refused!(
        &r,
        r.add_grant(
            &op(),
            &cat,
            &grant(Holder::Group("Nergens".into()), Level::Eh3)
        ),
        WriteError::UnknownGroup { .. }
    );
    // Anna's own level in the Bakkerij is EH3: she cannot grant EH4.
    refused!(
        &r,
        r.add_grant(
            &Actor::Admin("anna".into()),
            &cat,
            &grant(Holder::Person("gijs".into()), Level::Eh4)
        ),
        WriteError::AboveAdminLevel {
            level: Level::Eh4,
            admin_level: Some(Level::Eh3)
        }
    );

    // A good grant, by Anna at her own level.
    let (gijs_grant, t) = r
        .add_grant(
            &Actor::Admin("anna".into()),
            &cat,
            &grant(Holder::Person("gijs".into()), Level::Eh3),
        )
        .await
        .unwrap();
    assert_eq!(t.links.len(), 2, "both of Gijs's identities");
    let held = r.grants_for(IDP, "gijs").await.unwrap();
    assert_eq!(held.grants.len(), 1);
    assert_eq!(held.grants[0].grant_id, gijs_grant);
    // The same again (overlapping) is a duplicate; another level is not.
    refused!(
        &r,
        r.add_grant(
            &op(),
            &cat,
            &grant(Holder::Person("gijs".into()), Level::Eh3)
        ),
        WriteError::DuplicateGrant { .. }
    );
    let mut explicit = grant(Holder::Person("gijs".into()), Level::Eh2Plus);
    explicit.id = Some(gijs_grant.clone());
    refused!(
        &r,
        r.add_grant(&op(), &cat, &explicit),
        WriteError::DuplicateGrantId(_)
    );

    // Groups.
    let (_, t) = r.create_group(&op(), BAKKERIJ, "Kassa").await.unwrap();
    assert!(t.is_empty());
    refused!(
        &r,
        r.create_group(&op(), BAKKERIJ, "Kassa"),
        WriteError::DuplicateGroup { .. }
    );
    refused!(
        &r,
        r.add_to_group(&op(), BAKKERIJ, "Kassa", "carla", false),
        WriteError::HolderInOtherOrganisation { .. }
    );
    let (_, t) = r
        .add_to_group(&op(), BAKKERIJ, "Kassa", "eva", false)
        .await
        .unwrap();
    assert_eq!(t, touched(&["eva"]));
    r.add_to_group(&op(), BAKKERIJ, "Kassa", "anna", false)
        .await
        .unwrap();
    refused!(
        &r,
        r.add_to_group(&op(), BAKKERIJ, "Kassa", "eva", false),
        WriteError::DuplicateGroupMember { .. }
    );
    let mut group_grant = grant(Holder::Group("Kassa".into()), Level::Eh2Plus);
    group_grant.scope = Scope::Service { uuid: S1.into() };
    let (kassa_grant, t) = r.add_grant(&op(), &cat, &group_grant).await.unwrap();
    assert_eq!(t, touched(&["anna", "eva"]), "every member of the group");
    // Blocking in the group touches only that member.
    let (_, t) = r
        .set_group_member_blocked(&op(), BAKKERIJ, "Kassa", "eva", true)
        .await
        .unwrap();
    assert_eq!(t, touched(&["eva"]));
    let eva = r.grants_for(IDP, "eva").await.unwrap();
    let eva_kassa = eva
        .grants
        .iter()
        .find(|g| g.grant_id == kassa_grant)
        .unwrap();
    assert!(eva_kassa.holder_blocked);

    // Blocking in the organisation.
    let (_, t) = r
        .set_member_blocked(&op(), BAKKERIJ, "gijs", true)
        .await
        .unwrap();
    assert_eq!(t.links.len(), 2);
    assert!(r.grants_for(IDP, "gijs").await.unwrap().grants[0].holder_blocked);
    refused!(
        &r,
        r.set_member_blocked(&op(), BAKKERIJ, "carla", true),
        WriteError::HolderInOtherOrganisation { .. }
    );
    r.set_member_blocked(&op(), BAKKERIJ, "gijs", false)
        .await
        .unwrap();

    // Roles are part of the grant set.
    let (_, t) = r
        .set_roles(&op(), BAKKERIJ, "gijs", &[Role::Beheerder, Role::Gebruiker])
        .await
        .unwrap();
    assert_eq!(t.links.len(), 2);
    assert_eq!(
        r.grants_for(IDP, "gijs").await.unwrap().grants[0].roles,
        [Role::Beheerder, Role::Gebruiker]
    );

    // Revoke, then renew is refused until reactivated.
    let (_, t) = r.revoke_grant(&op(), &kassa_grant).await.unwrap();
    assert_eq!(t, touched(&["anna", "eva"]));
    refused!(
        &r,
        r.revoke_grant(&op(), &kassa_grant),
        WriteError::GrantRevoked(_)
    );
    refused!(
        &r,
        r.renew_grant(&op(), &kassa_grant, Renewal::Years(1)),
        WriteError::GrantRevoked(_)
    );
    r.reactivate_grant(&op(), &kassa_grant).await.unwrap();
    refused!(
        &r,
        r.renew_grant(&op(), &kassa_grant, Renewal::Years(2)),
        WriteError::RenewalYears(2)
    );
    let before = r.list_grants(&GrantFilter::default()).await.unwrap();
    let old_until = before
        .iter()
        .find(|g| g.id == kassa_grant)
        .unwrap()
        .valid_until;
    let (until, t) = r
        .renew_grant(&op(), &kassa_grant, Renewal::Years(3))
        .await
        .unwrap();
    assert_eq!(t, touched(&["anna", "eva"]));
    assert_eq!(
        until,
        old_until
            .checked_add_months(chrono::Months::new(36))
            .unwrap()
    );
    refused!(
        &r,
        r.renew_grant(
            &op(),
            &kassa_grant,
            Renewal::Until(now() + TimeDelta::days(6 * 366))
        ),
        WriteError::ValidityTooLong { .. }
    );
    refused!(
        &r,
        r.revoke_grant(&op(), "no-such-grant"),
        WriteError::UnknownGrant(_)
    );

    // Organisation changes touch every member.
    let (_, t) = r
        .update_organisation(
            &op(),
            BAKKERIJ,
            &OrganisationChanges {
                name: Some("Bakkerij De Gouden Korst".into()),
                ..OrganisationChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        t.links.len(),
        4,
        "anna, eva and gijs's two identities: {t:?}"
    );
    refused!(
        &r,
        r.update_organisation(
            &op(),
            BAKKERIJ,
            &OrganisationChanges {
                rsin: Some(Some("111111111".into())),
                ..OrganisationChanges::default()
            }
        ),
        WriteError::InvalidRsin(_)
    );

    // Listing and showing.
    let bakkerij = r
        .list_grants(&GrantFilter {
            organisation: Some(BAKKERIJ.into()),
            ..GrantFilter::default()
        })
        .await
        .unwrap();
    assert!(bakkerij.iter().all(
        |g| g.organisation.kvk == BAKKERIJ && g.organisation.name == "Bakkerij De Gouden Korst"
    ));
    let ids: Vec<&str> = bakkerij.iter().map(|g| g.id.as_str()).collect();
    assert!(ids.contains(&gijs_grant.as_str()) && ids.contains(&kassa_grant.as_str()));
    let revoked = r
        .list_grants(&GrantFilter {
            status: Some(GrantStatus::Revoked),
            ..GrantFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        revoked.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        ["g-eva-bakkerij"]
    );
    let eva_grants = r
        .list_grants(&GrantFilter {
            person: Some("eva".into()),
            ..GrantFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(eva_grants.len(), 2, "her own and the Kassa group's");
    let view = r.show_organisation(BAKKERIJ).await.unwrap();
    assert_eq!(
        view.members
            .iter()
            .map(|m| m.person.as_str())
            .collect::<Vec<_>>(),
        ["anna", "eva", "gijs"]
    );
    let eva_member = view.members.iter().find(|m| m.person == "eva").unwrap();
    assert_eq!(eva_member.groups, [("Kassa".to_string(), true)]);
    assert_eq!(view.groups, ["Kassa"]);
    assert_eq!((view.grants_active, view.grants_revoked), (3, 1));
    assert!(matches!(
        r.show_organisation("99999999").await,
        Err(WriteError::UnknownOrganisation(_))
    ));

    // Imports: all or nothing, every bad row reported by its line.
    let row = |line: usize, holder: Holder, level: Level| ImportRow {
        line,
        request: GrantRequest {
            scope: Scope::Service { uuid: S1.into() },
            ..grant(holder, level)
        },
        status: GrantStatus::Active,
    };
    let mut over_five_years = row(4, Holder::Person("eva".into()), Level::Eh3);
    over_five_years.request.valid_until =
        over_five_years.request.valid_from + TimeDelta::days(5 * 366);
    let rows = vec![
        row(2, Holder::Person("eva".into()), Level::Eh3),
        row(3, Holder::Person("carla".into()), Level::Eh3),
        over_five_years,
        row(5, Holder::Person("eva".into()), Level::Eh3),
        row(6, Holder::Group("Kassa".into()), Level::Eh4),
        row(7, Holder::Person("nobody".into()), Level::Eh3),
    ];
    let before = counts(&r).await;
    match r.import_grants(&op(), &cat, &rows).await {
        Err(ImportError::Rows(bad)) => {
            let lines: Vec<usize> = bad.iter().map(|(line, _)| *line).collect();
            assert_eq!(lines, [3, 4, 5, 7], "{bad:?}");
            assert!(matches!(
                bad[0].1,
                WriteError::HolderInOtherOrganisation { .. }
            ));
            assert!(matches!(bad[1].1, WriteError::ValidityTooLong { .. }));
            // Line 5 repeats line 2 of the same file.
            assert!(matches!(bad[2].1, WriteError::DuplicateGrant { .. }));
            assert!(matches!(bad[3].1, WriteError::UnknownPerson(_)));
        }
        other => panic!("expected bad rows, got {other:?}"),
    }
    assert_eq!(counts(&r).await, before, "a refused import wrote nothing");
    let good = vec![
        row(2, Holder::Person("eva".into()), Level::Eh3),
        row(3, Holder::Group("Kassa".into()), Level::Eh4),
    ];
    let (ids, t) = r.import_grants(&op(), &cat, &good).await.unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(t, touched(&["anna", "eva"]));

    // A groepsbeheerder manages only the groups they administer, up to their own level.
    r.set_roles(
        &op(),
        BAKKERIJ,
        "eva",
        &[Role::Groepsbeheerder, Role::Gebruiker],
    )
    .await
    .unwrap();
    r.create_group(&op(), BAKKERIJ, "Bezorging").await.unwrap();
    r.add_to_group(&op(), BAKKERIJ, "Bezorging", "eva", true)
        .await
        .unwrap();
    let eva = Actor::Admin("eva".into());
    let (_, t) = r
        .add_grant(
            &eva,
            &cat,
            &grant(Holder::Group("Bezorging".into()), Level::Eh3),
        )
        .await
        .unwrap();
    assert_eq!(t, touched(&["eva"]));
    refused!(
        &r,
        r.add_grant(
            &eva,
            &cat,
            &grant(Holder::Group("Kassa".into()), Level::Eh2)
        ),
        WriteError::NotAllowed { .. }
    );
    refused!(
        &r,
        r.add_grant(
            &eva,
            &cat,
            &grant(Holder::Person("gijs".into()), Level::Eh2)
        ),
        WriteError::NotAllowed { .. }
    );
    refused!(
        &r,
        r.add_grant(
            &eva,
            &cat,
            &grant(Holder::Group("Bezorging".into()), Level::Eh4)
        ),
        WriteError::AboveAdminLevel { .. }
    );

    // A renewal or a reactivation may not bring about a duplicate either.
    let mut first = grant(Holder::Person("gijs".into()), Level::Eh2);
    first.scope = Scope::Service { uuid: S1.into() };
    first.valid_until = now() + TimeDelta::days(30);
    let (first_id, _) = r.add_grant(&op(), &cat, &first).await.unwrap();
    let mut later = first.clone();
    later.valid_from = now() + TimeDelta::days(60);
    later.valid_until = now() + TimeDelta::days(400);
    let (later_id, _) = r.add_grant(&op(), &cat, &later).await.unwrap();
    refused!(
        &r,
        r.renew_grant(&op(), &first_id, Renewal::Years(1)),
        WriteError::DuplicateGrant { .. }
    );
    r.revoke_grant(&op(), &later_id).await.unwrap();
    // With the later one revoked, the same may be given again; the revoked one then stays so.
    r.add_grant(&op(), &cat, &later).await.unwrap();
    refused!(
        &r,
        r.reactivate_grant(&op(), &later_id),
        WriteError::DuplicateGrant { .. }
    );
    assert!(
        r.list_grants(&GrantFilter::default())
            .await
            .unwrap()
            .iter()
            .any(|g| g.id == later_id && g.status == GrantStatus::Revoked),
        "a refused reactivation leaves the grant revoked"
    );

    // Every successful write is in the audit trail, in order.
    let actions = audit_actions(&r).await;
    for expected in [
        "organisation.create",
        "person.link",
        "member.add",
        "grant.add",
        "group.create",
        "group.add_member",
        "group.block_member",
        "member.block",
        "member.unblock",
        "member.roles",
        "grant.revoke",
        "grant.reactivate",
        "grant.renew",
        "organisation.update",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
    assert_eq!(
        actions.len(),
        27,
        "one row per successful write: {actions:?}"
    );
}

#[tokio::test]
async fn writes_on_sqlite() {
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
async fn writes_on_postgres() {
    let pg = common::cluster::FreshPostgres::create();
    let register = SqlRegister::connect_postgres(&pg.url).await.unwrap();
    suite(register.clone()).await;
    register.close().await;
}
