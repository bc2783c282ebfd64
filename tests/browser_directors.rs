//! A bevoegd vertegenwoordiger in a real headless Chromium (helpers and the axe-core check in
//! tests/common/browser.rs): the trade register's extract names a director with sole authority
//! who is unknown to poort; their first login to Mijn poort at EH3, with the name and birth date
//! the AD gives, recognises them: they become the organisation's hoofdbeheerder and can enter
//! the admin module, and the organisation's other director is told. A login below EH3
//! recognises nobody.

mod common;

use common::browser::*;
use poort::grants::{Actor, NewOrganisation, NewRepresentative};

#[tokio::test]
async fn a_sole_director_becomes_hoofdbeheerder_at_their_first_login() {
    let w = common::start().await;
    let sql = w.registry.sql();
    let operator = Actor::Operator("test".into());
    let kvk = "55667788";
    sql.create_organisation(
        &operator,
        &NewOrganisation {
            kvk: kvk.into(),
            name: "Bouwbedrijf Testpersoon B.V.".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // The extract: hanna with sole authority (unknown to poort), bram with joint authority.
    // The development AD describes its test people as <Subject> Testpersoon, born 1980-01-01.
    let director = |given: &str, authority: &str| NewRepresentative {
        given_names: given.into(),
        family_name: "Testpersoon".into(),
        date_of_birth: "1980-01-01".into(),
        authority: authority.into(),
    };
    sql.replace_representatives(
        &operator,
        kvk,
        &[director("Hanna Maria", "sole"), director("Bram", "joint")],
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let d = driver().await;

    // bram, known to poort, is recognised as the joint director: no role comes with that.
    let bram = browser(&d).await;
    bram.goto(&format!("{}/mijn", w.poort)).await.unwrap();
    at_ad(&bram, "bram", "EH3").await;
    let home = until_text(&bram, "Bouwbedrijf Testpersoon B.V.").await;
    assert!(home.contains("bestuurder, gezamenlijk bevoegd"), "{home}");

    // hanna at EH2+: not recognised (a director signs at EH3), so no access yet.
    let hanna = browser(&d).await;
    hanna.goto(&format!("{}/mijn", w.poort)).await.unwrap();
    at_ad(&hanna, "hanna", "EH2+").await;
    until_text(&hanna, "Uw eHerkenningsmiddel is nog niet bekend bij poort").await;
    // At EH3: recognised, hoofdbeheerder of the Bouwbedrijf.
    hanna.goto(&format!("{}/mijn", w.poort)).await.unwrap();
    at_ad(&hanna, "hanna", "EH3").await;
    let home = until_text(&hanna, "Bouwbedrijf Testpersoon B.V.").await;
    assert!(home.contains("hoofdbeheerder"), "{home}");
    assert!(home.contains("bestuurder, alleen bevoegd"), "{home}");

    // She enters the admin module for it.
    hanna.goto(&format!("{}/admin", w.poort)).await.unwrap();
    at_ad(&hanna, "hanna", "EH3").await;
    until_text(&hanna, "Bouwbedrijf Testpersoon B.V. (KvK 55667788)").await;

    // bram, the other director (with an address), is told that an administrator was appointed.
    common::deliver_mail(&w).await;
    bram.goto(&format!("{}/dev/mailbox", w.poort))
        .await
        .unwrap();
    until_text(
        &bram,
        "Nieuwe hoofdbeheerder voor Bouwbedrijf Testpersoon B.V.",
    )
    .await;
    // Bound once: a later login finds nothing left to bind.
    let again = sql
        .bind_representative(
            poort::demo::DEV_AD_ENTITY_ID,
            "hanna",
            "Hanna",
            "Testpersoon",
            "1980-01-01",
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    assert!(again.0.is_empty(), "bound once: {:?}", again.0);
}
