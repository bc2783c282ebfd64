//! Bevoegd vertegenwoordigers in the register, on SQLite and on a fresh PostgreSQL database:
//! an extract replaces an organisation's list (the same person keeps their ID and binding),
//! every bad row is refused with its own reason and nothing is written, the trail counts
//! without naming anyone; at a login the AD's attributes bind a director by the matching rule
//! (first name, family name with its particles, birth date), an ambiguous match binds nobody,
//! a director with sole authority becomes hoofdbeheerder and activates a waiting organisation,
//! one with joint authority gets no role; and the organisation's joint-signature setting.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use poort::domain::request::{Authority, SignOffPolicy};
use poort::grants::{
    conformance, Actor, IdentityKey, ImportError, NewRegistration, NewRepresentative,
    OrganisationStatus, Pool, RepresentativeRow, Role, SqlRegister, WriteError,
};

const IDP: &str = "urn:etoegang:AD:00000099990000000003:entities:1";
const BAKKERIJ: &str = "12345678";
const VAN_DIJK: &str = "87654321";
const GROEN_DAK: &str = "11223344";

fn op() -> Actor {
    Actor::Operator("test".into())
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn rep(given: &str, family: &str, born: &str, authority: &str) -> NewRepresentative {
    NewRepresentative {
        given_names: given.into(),
        family_name: family.into(),
        date_of_birth: born.into(),
        authority: authority.into(),
    }
}

fn row(line: usize, kvk: &str, r: NewRepresentative) -> RepresentativeRow {
    RepresentativeRow {
        line,
        kvk: kvk.into(),
        representative: r,
    }
}

async fn count(pool: &Pool, sql: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    match pool {
        Pool::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
        Pool::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await.unwrap(),
    }
}

/// The audit rows with `action`: (organisation's internal ID, after).
async fn audit(pool: &Pool, action: &str) -> Vec<(Option<String>, Option<String>)> {
    let sql = "SELECT organisation_id, after FROM audit WHERE action = $1 ORDER BY id";
    match pool {
        Pool::Sqlite(p) => sqlx::query_as(sql).bind(action).fetch_all(p).await.unwrap(),
        Pool::Postgres(p) => sqlx::query_as(sql).bind(action).fetch_all(p).await.unwrap(),
    }
}

/// The roles of a person in an organisation.
async fn roles(r: &SqlRegister, kvk: &str, person: &str) -> Vec<Role> {
    r.show_organisation(kvk)
        .await
        .unwrap()
        .members
        .into_iter()
        .find(|m| m.person == person)
        .map(|m| m.roles)
        .unwrap_or_default()
}

async fn import_replaces_the_list_and_keeps_who_stays(r: &SqlRegister) {
    let pool = r.pool();
    let (applied, touched) = r
        .import_representatives(
            &op(),
            &[
                row(2, BAKKERIJ, rep("Anna", "de Vries", "1970-05-01", "sole")),
                row(3, BAKKERIJ, rep("Piet", "Bakker", "1965-01-31", "joint")),
                row(4, VAN_DIJK, rep("Carla", "Bakker", "1980-12-24", "JOINT")),
                row(5, BAKKERIJ, rep("Kees", "Visser", "1990-07-07", "joint")),
            ],
            now(),
        )
        .await
        .unwrap();
    assert!(touched.is_empty(), "directors are in nobody's grant set");
    assert_eq!(applied.len(), 2, "{applied:?}");
    assert_eq!(
        (applied[0].kvk.as_str(), applied[0].added, applied[0].kept),
        (BAKKERIJ, 3, 0)
    );
    assert_eq!((applied[1].kvk.as_str(), applied[1].added), (VAN_DIJK, 1));
    let before = r.representatives(BAKKERIJ).await.unwrap();
    let anna = before.iter().find(|v| v.given_names == "Anna").unwrap();
    assert_eq!(anna.authority, Authority::Sole);
    assert!(!anna.bound());

    // anna logs in: bound to her person (she is hoofdbeheerder already).
    let (bound, _) = r
        .bind_representative(IDP, "anna", "Anna", "de Vries", "1970-05-01", now())
        .await
        .unwrap();
    assert_eq!(bound.len(), 1, "{bound:?}");
    assert_eq!(bound[0].person, "anna");
    assert!(!bound[0].became_hoofdbeheerder, "she was one already");

    // The next extract: Anna again (written otherwise), now joint; Kees again; Piet gone; Lies
    // new. Van Dijk's list is not in it and stays.
    let (applied, _) = r
        .import_representatives(
            &op(),
            &[
                row(2, BAKKERIJ, rep("ANNA", "Vries, de", "1970-05-01", "joint")),
                row(3, BAKKERIJ, rep("Kees", "Visser", "1990-07-07", "joint")),
                row(4, BAKKERIJ, rep("Lies", "Smit", "1985-03-03", "sole")),
            ],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        (applied[0].kept, applied[0].added, applied[0].removed),
        (2, 1, 1)
    );
    let after = r.representatives(BAKKERIJ).await.unwrap();
    assert_eq!(after.len(), 3);
    let anna_after = after.iter().find(|v| v.given_names == "ANNA").unwrap();
    assert_eq!(anna_after.id, anna.id, "the same person keeps their ID");
    assert_eq!(anna_after.person.as_deref(), Some("anna"), "and binding");
    assert_eq!(
        anna_after.authority,
        Authority::Joint,
        "as the extract says"
    );
    assert_eq!(
        anna_after.family_name, "Vries, de",
        "spelled as the extract"
    );
    assert!(!after.iter().any(|v| v.given_names == "Piet"));
    assert_eq!(r.representatives(VAN_DIJK).await.unwrap().len(), 1);

    // Each import wrote one row per organisation, with counts and without names or dates.
    let rows = audit(pool, "representatives.import").await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    let last = rows.last().unwrap().1.clone().unwrap();
    assert_eq!(last, "[2,1,1]");
    for (_, after) in &rows {
        let after = after.clone().unwrap_or_default();
        for personal in ["Anna", "Vries", "1970"] {
            assert!(!after.contains(personal), "{after}");
        }
    }

    // Through the API's form: one organisation's whole list; an empty one clears it.
    let (applied, _) = r
        .replace_representatives(&op(), VAN_DIJK, &[], now())
        .await
        .unwrap();
    assert_eq!(applied.removed, 1);
    assert!(r.representatives(VAN_DIJK).await.unwrap().is_empty());
}

async fn every_bad_row_is_refused_with_its_reason_and_nothing_is_written(r: &SqlRegister) {
    let pool = r.pool();
    let before = (
        count(pool, "SELECT COUNT(*) FROM representatives").await,
        count(pool, "SELECT COUNT(*) FROM audit").await,
    );
    let tomorrow = (now() + TimeDelta::days(1)).format("%Y-%m-%d").to_string();
    let rows = [
        row(2, BAKKERIJ, rep("Goed", "Persoon", "1970-01-01", "sole")),
        row(3, "99999999", rep("Wie", "Dan", "1970-01-01", "sole")),
        row(4, "1234", rep("Wie", "Dan", "1970-01-01", "sole")),
        row(5, BAKKERIJ, rep(" ", "Leeg", "1970-01-01", "sole")),
        row(6, BAKKERIJ, rep("Leeg", "", "1970-01-01", "sole")),
        row(7, BAKKERIJ, rep("Feb", "Dertig", "1970-02-30", "sole")),
        row(8, BAKKERIJ, rep("Los", "Datum", "01-01-1970", "sole")),
        row(9, BAKKERIJ, rep("Nog", "Niet", &tomorrow, "sole")),
        row(10, BAKKERIJ, rep("Beide", "Tegelijk", "1970-01-01", "both")),
        row(11, BAKKERIJ, rep("goed", "persoon", "1970-01-01", "joint")),
    ];
    let refused = r.import_representatives(&op(), &rows, now()).await;
    let Err(ImportError::Rows(bad)) = refused else {
        panic!("refused by row expected: {refused:?}");
    };
    let reasons: Vec<(usize, &str)> = bad.iter().map(|(l, e)| (*l, e.reason_code())).collect();
    assert_eq!(
        reasons,
        vec![
            (3, "unknown_organisation"),
            (4, "invalid_kvk"),
            (5, "empty"),
            (6, "empty"),
            (7, "invalid_date_of_birth"),
            (8, "invalid_date_of_birth"),
            (9, "date_of_birth_in_future"),
            (10, "invalid_authority"),
            (11, "duplicate_representative"),
        ]
    );
    let text = |line: usize| bad.iter().find(|(l, _)| *l == line).unwrap().1.to_string();
    assert!(text(5).contains("given names"), "{}", text(5));
    assert!(text(6).contains("family name"), "{}", text(6));
    assert!(text(11).contains("row 2"), "names the first: {}", text(11));
    // A log line of the refusal carries no date of birth.
    let dated = &bad.iter().find(|(l, _)| *l == 7).unwrap().1;
    assert!(!dated.redacted().to_string().contains("1970"));
    assert_eq!(
        (
            count(pool, "SELECT COUNT(*) FROM representatives").await,
            count(pool, "SELECT COUNT(*) FROM audit").await,
        ),
        before,
        "nothing written"
    );

    // Only an operator imports; an unknown organisation is refused as a whole through the
    // one-organisation form.
    let admin = Actor::Admin("anna".into());
    let refused = r
        .replace_representatives(&admin, BAKKERIJ, &[], now())
        .await;
    assert!(
        matches!(
            refused,
            Err(ImportError::Refused(WriteError::OperatorOnly { .. }))
        ),
        "{refused:?}"
    );
    let refused = r
        .replace_representatives(&op(), "99999999", &[], now())
        .await;
    assert!(
        matches!(
            refused,
            Err(ImportError::Refused(WriteError::UnknownOrganisation(_)))
        ),
        "{refused:?}"
    );
}

async fn the_matching_rule_binds_whom_it_should(r: &SqlRegister) {
    let pool = r.pool();
    // A waiting organisation with a sole and a joint director, and twins in another.
    let registration = NewRegistration {
        kvk: "55667788".into(),
        name: "Wachtend B.V.".into(),
        hoofdbeheerder_name: "Hanna Testpersoon".into(),
        hoofdbeheerder_email: "hanna@wachtend.example".into(),
        ..Default::default()
    };
    r.register_organisation(&op(), &registration, now())
        .await
        .unwrap();
    r.import_representatives(
        &op(),
        &[
            row(
                1,
                "55667788",
                rep("Jan Pieter", "Berg, van den", "1960-06-15", "sole"),
            ),
            row(2, "55667788", rep("Marie", "Émond", "1962-02-02", "joint")),
            row(
                3,
                GROEN_DAK,
                rep("Jan Pieter", "de Boer", "1975-04-04", "joint"),
            ),
            row(
                4,
                GROEN_DAK,
                rep("Jan Willem", "de Boer", "1975-04-04", "joint"),
            ),
            row(5, GROEN_DAK, rep("Marie", "Emond", "1962-02-02", "sole")),
        ],
        now(),
    )
    .await
    .unwrap();

    // Another birth date: nobody, nothing written.
    let audit_rows = count(pool, "SELECT COUNT(*) FROM audit").await;
    let (bound, touched) = r
        .bind_representative(IDP, "jan-b", "Jan", "van den Berg", "1960-06-16", now())
        .await
        .unwrap();
    assert!(bound.is_empty() && touched.is_empty(), "{bound:?}");
    // Missing attributes or a date that is none: nobody either.
    for (first, family, born) in [
        ("", "van den Berg", "1960-06-15"),
        ("Jan", "van den Berg", "15-06-1960"),
    ] {
        let (bound, _) = r
            .bind_representative(IDP, "jan-b", first, family, born, now())
            .await
            .unwrap();
        assert!(bound.is_empty(), "{first} {family} {born}");
    }
    assert_eq!(count(pool, "SELECT COUNT(*) FROM audit").await, audit_rows);
    assert_eq!(
        count(pool, "SELECT COUNT(*) FROM persons WHERE name LIKE 'Jan%'").await,
        0
    );

    // The particles in front, another first given name left out: the sole director of the
    // waiting organisation. A person is made and linked; they become hoofdbeheerder and the
    // organisation is active.
    let actions = [
        "person.link",
        "representative.bind",
        "member.appoint",
        "organisation.activate",
    ];
    let mut trail = Vec::new();
    for action in actions {
        trail.push(audit(pool, action).await.len());
    }
    let (bound, touched) = r
        .bind_representative(IDP, "jan-b", "Jan", "van den Berg", "19600615", now())
        .await
        .unwrap();
    assert_eq!(bound.len(), 1, "{bound:?}");
    let b = &bound[0];
    assert_eq!(b.organisation.kvk, "55667788");
    assert_eq!(b.authority, Authority::Sole);
    assert!(b.became_hoofdbeheerder && b.activated, "{b:?}");
    assert!(touched.links.contains(&IdentityKey::new(IDP, "jan-b")));
    let person = b.person.clone();
    let name: String = {
        let sql = "SELECT name FROM persons WHERE id = $1";
        match pool {
            Pool::Sqlite(p) => sqlx::query_scalar(sql).bind(&person).fetch_one(p).await,
            Pool::Postgres(p) => sqlx::query_scalar(sql).bind(&person).fetch_one(p).await,
        }
        .unwrap()
    };
    assert_eq!(
        name, "Jan Pieter Berg, van den",
        "named as the extract names him"
    );
    assert_eq!(
        roles(r, "55667788", &person).await,
        vec![Role::Hoofdbeheerder]
    );
    let view = r.organisation_summary("55667788").await.unwrap();
    assert_eq!(view.status, OrganisationStatus::Active);
    assert!(view.activated_at.is_some());
    for (action, before) in actions.into_iter().zip(trail) {
        assert_eq!(audit(pool, action).await.len(), before + 1, "{action}");
    }
    // Bound once: the same login binds nothing again.
    let (again, _) = r
        .bind_representative(IDP, "jan-b", "Jan", "van den Berg", "1960-06-15", now())
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");

    // Twins with the same first given name in one organisation: neither is bound there; the
    // same attributes bind a single match elsewhere. Folded diacritics match ("Émond").
    let (bound, _) = r
        .bind_representative(IDP, "jan-twin", "Jan", "de Boer", "1975-04-04", now())
        .await
        .unwrap();
    assert!(bound.is_empty(), "ambiguous: {bound:?}");
    let (bound, _) = r
        .bind_representative(IDP, "marie", "Marie", "Emond", "1962-02-02", now())
        .await
        .unwrap();
    let kvks: Vec<(&str, Authority, bool)> = bound
        .iter()
        .map(|b| {
            (
                b.organisation.kvk.as_str(),
                b.authority,
                b.became_hoofdbeheerder,
            )
        })
        .collect();
    assert_eq!(
        kvks,
        vec![
            (GROEN_DAK, Authority::Sole, true),
            ("55667788", Authority::Joint, false),
        ]
    );
    assert_eq!(
        bound[0].person, bound[1].person,
        "one person for one identity"
    );
    // Joint authority: bound, no role, no membership.
    assert!(roles(r, "55667788", &bound[1].person).await.is_empty());
    assert!(!bound[1].activated);
    assert_eq!(
        r.represented_by(&bound[0].person).await.unwrap().len(),
        2,
        "she represents both"
    );
    assert_eq!(
        r.representative_authority("55667788", &bound[0].person)
            .await
            .unwrap(),
        Some(Authority::Joint)
    );
}

async fn a_joint_director_leaves_a_waiting_organisation_waiting(r: &SqlRegister) {
    let registration = NewRegistration {
        kvk: "44556677".into(),
        name: "Samen B.V.".into(),
        hoofdbeheerder_name: "Hanna".into(),
        hoofdbeheerder_email: "hanna@samen.example".into(),
        ..Default::default()
    };
    r.register_organisation(&op(), &registration, now())
        .await
        .unwrap();
    r.replace_representatives(
        &op(),
        "44556677",
        &[rep("Tom", "Jansen", "1971-01-01", "joint")],
        now(),
    )
    .await
    .unwrap();
    let (bound, _) = r
        .bind_representative(IDP, "tom", "Tom", "Jansen", "1971-01-01", now())
        .await
        .unwrap();
    assert_eq!(bound.len(), 1);
    assert!(!bound[0].became_hoofdbeheerder && !bound[0].activated);
    let view = r.organisation_summary("44556677").await.unwrap();
    assert_eq!(view.status, OrganisationStatus::PendingActivation);
}

async fn the_joint_signature_setting(r: &SqlRegister) {
    assert_eq!(
        r.sign_off_policy(BAKKERIJ).await.unwrap(),
        SignOffPolicy {
            joint_needs_two: false
        }
    );
    r.set_joint_needs_two(&op(), BAKKERIJ, true).await.unwrap();
    assert!(r.sign_off_policy(BAKKERIJ).await.unwrap().joint_needs_two);
    // The hoofdbeheerder may; a gebruiker (eva) may not.
    r.set_joint_needs_two(&Actor::Admin("anna".into()), BAKKERIJ, false)
        .await
        .unwrap();
    let refused = r
        .set_joint_needs_two(&Actor::Admin("eva".into()), BAKKERIJ, true)
        .await;
    assert!(
        matches!(refused, Err(WriteError::NotAllowed { .. })),
        "{refused:?}"
    );
    assert!(!r.sign_off_policy(BAKKERIJ).await.unwrap().joint_needs_two);
    assert!(matches!(
        r.sign_off_policy("99999999").await,
        Err(WriteError::UnknownOrganisation(_))
    ));
    let rows = audit(r.pool(), "organisation.joint_signatures").await;
    assert_eq!(rows.len(), 2);
}

async fn suite(r: SqlRegister) {
    r.import(&conformance::dev_file()).await.unwrap();
    import_replaces_the_list_and_keeps_who_stays(&r).await;
    every_bad_row_is_refused_with_its_reason_and_nothing_is_written(&r).await;
    the_matching_rule_binds_whom_it_should(&r).await;
    a_joint_director_leaves_a_waiting_organisation_waiting(&r).await;
    the_joint_signature_setting(&r).await;
}

#[tokio::test]
async fn representatives_on_sqlite() {
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
async fn representatives_on_postgres() {
    let pg = common::cluster::FreshPostgres::create();
    let register = SqlRegister::connect_postgres(&pg.url).await.unwrap();
    suite(register.clone()).await;
    register.close().await;
}

#[test]
fn the_representatives_commands() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(common::repo_file("config/poort.toml")).unwrap();
    let mut config: poort::config::Config = toml::from_str(&text).unwrap();
    config.register.database = format!("sqlite://{}", dir.path().join("register.db").display());
    config.register.seed = Some(common::repo_file("config/grants-dev.toml"));
    config.register.audit_spool = dir.path().join("audit-spool.jsonl");
    let path = dir.path().join("poort.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_poort"))
            .arg("representatives")
            .arg("--config")
            .arg(&path)
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let file = dir.path().join("extract.csv");
    // Bad lines: every one named, nothing imported.
    std::fs::write(
        &file,
        "kvk,given_names,family_name,date_of_birth,authority\n\
         12345678,Anna,de Vries,1970-05-01,sole\n\
         12345678,Piet,Bakker,1965-02-30,joint\n\
         99999999,Kees,Visser,1990-07-07,joint\n\
         87654321,Carla,Bakker,1980-12-24,both\n",
    )
    .unwrap();
    let (ok, _, err) = run(&["import", file.to_str().unwrap()]);
    assert!(!ok);
    for expected in [
        "line 3: \"1965-02-30\" is not a date of birth",
        "line 4: no organisation with KvK number 99999999",
        "line 5: authority \"both\"",
    ] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
    let (_, list, _) = run(&["list", "--kvk", "12345678"]);
    assert!(list.trim().is_empty(), "nothing imported: {list}");
    // A file that does not read: every bad line.
    std::fs::write(&file, "kvk,given_names\n12345678,Anna\n").unwrap();
    let (ok, _, err) = run(&["import", file.to_str().unwrap()]);
    assert!(!ok && err.contains("header must be"), "{err}");

    // Good: two organisations in one file.
    std::fs::write(
        &file,
        "kvk,given_names,family_name,date_of_birth,authority\n\
         12345678,Anna,de Vries,1970-05-01,sole\n\
         12345678,Piet,Bakker,1965-01-31,joint\n\
         87654321,Carla,Bakker,1980-12-24,joint\n",
    )
    .unwrap();
    let (ok, out, err) = run(&["import", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        out.contains("organisation 12345678: 0 kept, 2 added, 0 removed"),
        "{out}"
    );
    assert!(
        out.contains("organisation 87654321: 0 kept, 1 added, 0 removed"),
        "{out}"
    );
    assert!(
        !err.contains("Anna") && !err.contains("1970"),
        "no personal data logged: {err}"
    );
    let (_, list, _) = run(&["list", "--kvk", "12345678"]);
    let anna = list.lines().find(|l| l.contains("Anna de Vries")).unwrap();
    assert!(
        anna.contains("sole") && anna.contains("not bound"),
        "{list}"
    );
    assert!(!list.contains("1970"), "never the date of birth: {list}");
    let (_, json, _) = run(&["list", "--kvk", "12345678", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    let (ok, _, err) = run(&["list", "--kvk", "99999999"]);
    assert!(!ok && err.contains("no organisation"), "{err}");
}

#[tokio::test]
async fn the_admin_modules_organisation_page_lists_the_directors_and_keeps_the_setting() {
    let w = common::start().await;
    let sql = w.registry.sql();
    sql.import_representatives(
        &op(),
        &[
            row(1, BAKKERIJ, rep("Anna", "de Vries", "1970-05-01", "sole")),
            row(2, BAKKERIJ, rep("Eva", "Smit", "1980-01-01", "joint")),
        ],
        now(),
    )
    .await
    .unwrap();
    w.registry
        .write(sql.bind_representative(IDP, "eva", "Eva", "Smit", "1980-01-01", now()))
        .await
        .unwrap();
    let (anna, csrf) = common::admin_session(&w, "anna").await;
    let url = format!("{}/admin/organisation", w.poort);
    let page = common::unescape(&common::page(&anna, &url).await);
    for expected in [
        "Actief sinds",
        "Bevoegd vertegenwoordigers",
        "Anna de Vries</td><td class=\"utrecht-table__cell\">Zelfstandig bevoegd</td><td class=\"utrecht-table__cell\">Nog niet ingelogd",
        "Eva Smit</td><td class=\"utrecht-table__cell\">Gezamenlijk bevoegd</td><td class=\"utrecht-table__cell\">Ja, sinds",
        "action=\"/admin/organisation/joint-signatures\"",
    ] {
        assert!(page.contains(expected), "{expected}: {page}");
    }
    assert!(!page.contains("1970-05-01"), "never a date of birth");
    // The hoofdbeheerder sets it: a second signature is needed.
    let post = |value: &str| {
        anna.post(format!("{url}/joint-signatures"))
            .form(&[("csrf", csrf.as_str()), ("joint_needs_two", value)])
            .send()
    };
    let r = post("two").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r
        .url()
        .query()
        .unwrap_or_default()
        .contains("notice=joint-saved"));
    assert!(sql.sign_off_policy(BAKKERIJ).await.unwrap().joint_needs_two);
    let page = common::unescape(&r.text().await.unwrap());
    assert!(
        page.contains("De instelling voor ondertekening is opgeslagen."),
        "{page}"
    );
    assert!(
        page.contains("value=\"two\" checked"),
        "the choice as stored: {page}"
    );
    // Neither choice: said next to the question, nothing changed.
    let r = post("").await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("Kies een van beide."));
    assert!(sql.sign_off_policy(BAKKERIJ).await.unwrap().joint_needs_two);
    // In English too.
    let page = anna
        .get(&url)
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Legal representatives") && page.contains("Joint authority"),
        "{page}"
    );
}
