//! The register's member listing and the admin module's member writes, on SQLite and on a
//! fresh PostgreSQL database: search, status and group filters and paging by the database;
//! correcting details; removing a member; link requests between organisations. Each refusal
//! is its own error and leaves every table as it was.

mod common;

use chrono::{TimeDelta, Utc};
use poort::grants::{
    conformance, Actor, LinkRequestStatus, MemberDetails, MemberQuery, MemberStatus, NewInvitation,
    NewLinkRequest, Pool, Role, SqlRegister, WriteError,
};

const BAKKERIJ: &str = "12345678";
const VAN_DIJK: &str = "87654321";

fn op() -> Actor {
    Actor::Operator("test".into())
}

fn admin(person: &str) -> Actor {
    Actor::Admin(person.into())
}

async fn counts(r: &SqlRegister) -> Vec<i64> {
    let mut out = Vec::new();
    for t in [
        "persons",
        "memberships",
        "membership_roles",
        "group_members",
        "grants",
        "invitations",
        "link_requests",
        "audit",
    ] {
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {t}"));
        out.push(match r.pool() {
            Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
            Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        });
    }
    out
}

macro_rules! refused {
    ($r:expr, $write:expr, $pattern:pat) => {{
        let before = counts($r).await;
        let result = $write.await;
        assert!(
            matches!(result, Err($pattern)),
            "expected {}, got {:?}",
            stringify!($pattern),
            result.as_ref().map(|_| ())
        );
        assert_eq!(counts($r).await, before, "a refused write changed rows");
    }};
}

async fn names(
    r: &SqlRegister,
    query: &MemberQuery,
    offset: usize,
    limit: usize,
) -> (Vec<String>, usize) {
    let (members, total) = r
        .list_members(BAKKERIJ, query, offset, limit)
        .await
        .unwrap();
    (
        members
            .into_iter()
            .map(|m| m.name.unwrap_or(m.person))
            .collect(),
        total,
    )
}

async fn suite(r: SqlRegister) {
    r.import(&conformance::dev_file()).await.unwrap();
    let now = Utc::now();
    for (name, email) in [
        ("Zoë 100% Zeker", "zoe@bakkerij.example"),
        ("Bart_Bakker", "bart@bakkerij.example"),
        ("Cees", "cees@bakkerij.example"),
    ] {
        let new = NewInvitation {
            name: name.into(),
            email: email.into(),
            roles: vec![Role::Gebruiker],
            ..Default::default()
        };
        r.invite(&op(), BAKKERIJ, &new, now).await.unwrap();
    }
    r.create_group(&op(), BAKKERIJ, "Winkel").await.unwrap();
    r.add_to_group(&op(), BAKKERIJ, "Winkel", "eva", false)
        .await
        .unwrap();

    // Listing: by name, paged; the count is of all that match.
    let all = MemberQuery::default();
    let (page, total) = names(&r, &all, 0, 2).await;
    assert_eq!(total, 5);
    assert_eq!(page, ["Anna de Vries", "Bart_Bakker"]);
    let (page, _) = names(&r, &all, 4, 2).await;
    assert_eq!(page, ["Zoë 100% Zeker"]);
    // Search: any case, part of name or address; %, _ are literal.
    let search = |s: &str| MemberQuery {
        search: Some(s.into()),
        ..Default::default()
    };
    assert_eq!(
        names(&r, &search("BAKKERIJ.EX"), 0, 10).await.1,
        5,
        "the invited have addresses, and anna and eva from the development register"
    );
    assert_eq!(
        names(&r, &search("100%"), 0, 10).await.0,
        ["Zoë 100% Zeker"]
    );
    assert_eq!(names(&r, &search("t_b"), 0, 10).await.0, ["Bart_Bakker"]);
    assert_eq!(names(&r, &search("%"), 0, 10).await.0, ["Zoë 100% Zeker"]);
    assert_eq!(names(&r, &search("x_x"), 0, 10).await.1, 0);
    // Status and group filters.
    let status = |s| MemberQuery {
        status: Some(s),
        ..Default::default()
    };
    assert_eq!(names(&r, &status(MemberStatus::Invited), 0, 10).await.1, 3);
    assert_eq!(
        names(&r, &status(MemberStatus::Active), 0, 10).await.0,
        ["Anna de Vries", "Eva Smit"]
    );
    r.set_member_blocked(&op(), BAKKERIJ, "eva", true)
        .await
        .unwrap();
    assert_eq!(
        names(&r, &status(MemberStatus::Blocked), 0, 10).await.0,
        ["Eva Smit"]
    );
    r.set_member_blocked(&op(), BAKKERIJ, "eva", false)
        .await
        .unwrap();
    let in_groups = |g: &[&str]| MemberQuery {
        groups: Some(g.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    };
    assert_eq!(
        names(&r, &in_groups(&["Winkel"]), 0, 10).await.0,
        ["Eva Smit"]
    );
    assert_eq!(
        names(&r, &in_groups(&[]), 0, 10).await.1,
        0,
        "no groups: nobody"
    );
    let eva = r.member(BAKKERIJ, "eva").await.unwrap().unwrap();
    assert_eq!(eva.groups, vec![("Winkel".to_string(), false)]);
    assert_eq!(eva.status, MemberStatus::Active);
    assert!(
        r.member(BAKKERIJ, "carla").await.unwrap().is_none(),
        "Van Dijk's"
    );

    // Details: checked, unique address within the organisation, not for a shared person.
    let details = |name: &str, email: &str| MemberDetails {
        name: name.into(),
        email: email.into(),
        phone: Some("06 12345678".into()),
        language: Some("en".into()),
    };
    refused!(
        &r,
        r.update_member(
            &admin("anna"),
            BAKKERIJ,
            "eva",
            &details("", "eva@x.example")
        ),
        WriteError::Empty { .. }
    );
    refused!(
        &r,
        r.update_member(&admin("anna"), BAKKERIJ, "eva", &details("Eva", "eva@")),
        WriteError::InvalidEmail(_)
    );
    refused!(
        &r,
        r.update_member(
            &admin("anna"),
            BAKKERIJ,
            "eva",
            &details("Eva", "CEES@bakkerij.example")
        ),
        WriteError::DuplicateEmail { .. }
    );
    refused!(
        &r,
        r.update_member(
            &admin("anna"),
            BAKKERIJ,
            "anna",
            &details("Anna", "anna@x.example")
        ),
        WriteError::SharedPerson(_)
    );
    refused!(
        &r,
        r.update_member(
            &admin("eva"),
            BAKKERIJ,
            "eva",
            &details("Eva", "eva@x.example")
        ),
        WriteError::NotAllowed { .. }
    );
    refused!(
        &r,
        r.update_member(
            &admin("carla"),
            BAKKERIJ,
            "eva",
            &details("Eva", "eva@x.example")
        ),
        WriteError::NotAllowed { .. }
    );
    refused!(
        &r,
        r.update_member(
            &admin("anna"),
            BAKKERIJ,
            "carla",
            &details("Carla", "c@x.example")
        ),
        WriteError::HolderInOtherOrganisation { .. }
    );
    let (_, touched) = r
        .update_member(
            &admin("anna"),
            BAKKERIJ,
            "eva",
            &details(" Eva Smit ", "eva@bakkerij.example"),
        )
        .await
        .unwrap();
    assert!(touched.links.is_empty(), "a name is in nobody's grant set");
    let eva = r.member(BAKKERIJ, "eva").await.unwrap().unwrap();
    assert_eq!(
        (
            eva.name.as_deref(),
            eva.email.as_deref(),
            eva.language.as_deref()
        ),
        (Some("Eva Smit"), Some("eva@bakkerij.example"), Some("en"))
    );

    // Link requests: the asking side names a KvK number and an address.
    let ask = |kvk: &str, email: &str, roles: Vec<Role>| NewLinkRequest {
        kvk: kvk.into(),
        email: email.into(),
        roles,
    };
    let user = || vec![Role::Gebruiker];
    refused!(
        &r,
        r.request_link(
            &admin("carla"),
            VAN_DIJK,
            &ask("1234567", "eva@bakkerij.example", user()),
            now
        ),
        WriteError::InvalidKvk(_)
    );
    refused!(
        &r,
        r.request_link(
            &admin("carla"),
            VAN_DIJK,
            &ask(VAN_DIJK, "eva@bakkerij.example", user()),
            now
        ),
        WriteError::LinkOwnOrganisation
    );
    refused!(
        &r,
        r.request_link(
            &admin("carla"),
            VAN_DIJK,
            &ask("99999999", "eva@bakkerij.example", user()),
            now
        ),
        WriteError::UnknownOrganisation(_)
    );
    refused!(
        &r,
        r.request_link(
            &admin("carla"),
            VAN_DIJK,
            &ask(BAKKERIJ, "eva", user()),
            now
        ),
        WriteError::InvalidEmail(_)
    );
    refused!(
        &r,
        r.request_link(
            &admin("anna"),
            VAN_DIJK,
            &ask(BAKKERIJ, "eva@bakkerij.example", user()),
            now
        ),
        WriteError::NotAllowed { .. }
    );
    let (to_eva, _) = r
        .request_link(
            &admin("carla"),
            VAN_DIJK,
            &ask(BAKKERIJ, "EVA@bakkerij.example", user()),
            now,
        )
        .await
        .unwrap();
    let (to_nobody, _) = r
        .request_link(
            &admin("carla"),
            VAN_DIJK,
            &ask(BAKKERIJ, "nobody@x.example", user()),
            now,
        )
        .await
        .unwrap();
    assert_eq!(to_eva.status, LinkRequestStatus::Pending);
    // Each side's view: the asker sees both without persons; the Bakkerij only the one
    // naming its member, with who it is.
    let (outgoing, incoming) = r.link_requests(VAN_DIJK, now).await.unwrap();
    assert_eq!((outgoing.len(), incoming.len()), (2, 0));
    assert!(outgoing.iter().all(|q| q.person.is_none()));
    let (outgoing, incoming) = r.link_requests(BAKKERIJ, now).await.unwrap();
    assert_eq!(outgoing.len(), 0);
    assert_eq!(incoming.len(), 1);
    assert_eq!(incoming[0].person.as_deref(), Some("eva"));
    assert_eq!(incoming[0].person_name.as_deref(), Some("Eva Smit"));
    // Nobody answers a request naming nobody; only the other side answers; only the asker
    // withdraws.
    refused!(
        &r,
        r.decide_link_request(&admin("anna"), BAKKERIJ, &to_nobody.id, true, now),
        WriteError::LinkRequestUnknown
    );
    refused!(
        &r,
        r.decide_link_request(&admin("carla"), VAN_DIJK, &to_eva.id, true, now),
        WriteError::LinkRequestUnknown
    );
    refused!(
        &r,
        r.decide_link_request(&admin("eva"), BAKKERIJ, &to_eva.id, true, now),
        WriteError::NotAllowed { .. }
    );
    refused!(
        &r,
        r.withdraw_link_request(&admin("anna"), BAKKERIJ, &to_eva.id, now),
        WriteError::LinkRequestUnknown
    );
    // Expired requests cannot be approved.
    let later = now + TimeDelta::days(15);
    refused!(
        &r,
        r.decide_link_request(&admin("anna"), BAKKERIJ, &to_eva.id, true, later),
        WriteError::LinkRequestExpired
    );
    let (approved, touched) = r
        .decide_link_request(&admin("anna"), BAKKERIJ, &to_eva.id, true, now)
        .await
        .unwrap();
    assert_eq!(approved.status, LinkRequestStatus::Approved);
    assert_eq!(touched.links.len(), 1, "eva's identity: her grant set grew");
    let at_van_dijk = r.member(VAN_DIJK, "eva").await.unwrap().unwrap();
    assert_eq!(at_van_dijk.roles, vec![Role::Gebruiker]);
    refused!(
        &r,
        r.decide_link_request(&admin("anna"), BAKKERIJ, &to_eva.id, false, now),
        WriteError::LinkRequestDecided(_)
    );
    let (outgoing, _) = r.link_requests(VAN_DIJK, now).await.unwrap();
    let seen = outgoing.iter().find(|q| q.id == to_eva.id).unwrap();
    assert_eq!(
        seen.person.as_deref(),
        Some("eva"),
        "approved: the asker learns who"
    );
    r.withdraw_link_request(&admin("carla"), VAN_DIJK, &to_nobody.id, now)
        .await
        .unwrap();
    refused!(
        &r,
        r.withdraw_link_request(&admin("carla"), VAN_DIJK, &to_nobody.id, now),
        WriteError::LinkRequestDecided(_)
    );
    // eva is now in two organisations: her details are no longer the Bakkerij's alone.
    refused!(
        &r,
        r.update_member(
            &admin("anna"),
            BAKKERIJ,
            "eva",
            &details("Eva", "eva@bakkerij.example")
        ),
        WriteError::SharedPerson(_)
    );

    // Removal: not oneself, not the last hoofdbeheerder; the member's grants go, the person
    // and their other memberships stay.
    refused!(
        &r,
        r.remove_member(&admin("anna"), BAKKERIJ, "anna", now),
        WriteError::RemoveSelf
    );
    refused!(
        &r,
        r.remove_member(&admin("eva"), BAKKERIJ, "anna", now),
        WriteError::NotAllowed { .. }
    );
    refused!(
        &r,
        r.remove_member(&op(), BAKKERIJ, "carla", now),
        WriteError::HolderInOtherOrganisation { .. }
    );
    let (_, touched) = r
        .remove_member(&admin("anna"), BAKKERIJ, "eva", now)
        .await
        .unwrap();
    assert_eq!(touched.links.len(), 1);
    assert!(r.member(BAKKERIJ, "eva").await.unwrap().is_none());
    assert!(r.member(VAN_DIJK, "eva").await.unwrap().is_some());
    assert!(r
        .list_grants(&Default::default())
        .await
        .unwrap()
        .iter()
        .all(|g| g.id != "g-eva-bakkerij"));
    // An invited member removed: their open invitation is withdrawn with them.
    let cees = names(&r, &search("cees"), 0, 1).await;
    assert_eq!(cees.1, 1);
    let cees = r
        .list_members(BAKKERIJ, &search("cees"), 0, 1)
        .await
        .unwrap()
        .0
        .remove(0)
        .person;
    r.remove_member(&admin("anna"), BAKKERIJ, &cees, now)
        .await
        .unwrap();
    let state = r.invitation_of(BAKKERIJ, &cees).await.unwrap().unwrap();
    assert!(state.withdrawn && !state.accepted);
}

#[tokio::test]
async fn members_on_sqlite() {
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
async fn members_on_postgres() {
    let pg = common::cluster::FreshPostgres::create();
    let register = SqlRegister::connect_postgres(&pg.url).await.unwrap();
    suite(register.clone()).await;
    register.close().await;
}
