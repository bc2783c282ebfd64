//! The activation journey in a real headless Chromium: an organisation the operator registered
//! (over the operator API) is activated by its hoofdbeheerder's first login through the mailed
//! link; the admin module then shows it active, and the hoofdbeheerder keeps the directors'
//! signature setting there. An expired activation link shows its own page. axe-core checks
//! every page the journey stops at (WCAG 2.1 A and AA).

mod common;

use common::browser::*;
use common::operator::{operator_world, TOKEN};
use common::World;
use serde_json::json;

async fn register(w: &World, kvk: &str, name: &str, email: &str) {
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/operator/organisations", w.poort))
        .bearer_auth(TOKEN)
        .json(&json!({"kvk": kvk, "name": name,
                      "hoofdbeheerder": {"name": "Hanna Testpersoon", "email": email}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn the_hoofdbeheerders_first_login_through_the_mailed_link_activates_the_organisation() {
    let w = operator_world().await;
    register(&w, "55667788", "Nieuw Bedrijf B.V.", "hanna@nieuw.example").await;
    let d = driver().await;
    let hanna = browser(&d).await;

    // hanna opens the mail and follows the link; her first login activates the organisation.
    common::deliver_mail(&w).await;
    hanna
        .goto(&format!("{}/dev/mailbox", w.poort))
        .await
        .unwrap();
    until_text(&hanna, "Activeer Nieuw Bedrijf B.V. voor eHerkenning").await;
    click(&hanna, "a[href*='/admin/invitation/']").await;
    at_ad(&hanna, "hanna", "EH3").await;
    until_text(
        &hanna,
        "Nieuw Bedrijf B.V. is nu actief en u bent de hoofdbeheerder",
    )
    .await;

    // On to the admin module, where the organisation is active and she keeps the setting.
    click(&hanna, "a[href='/admin']").await;
    at_ad(&hanna, "hanna", "EH3").await;
    until_text(&hanna, "Nieuw Bedrijf B.V.").await;
    click(&hanna, "a[href='/admin/organisation']").await;
    until_text(&hanna, "Actief sinds").await;
    until_text(
        &hanna,
        "Het Handelsregister noemt nog geen bevoegd vertegenwoordigers",
    )
    .await;
    click(&hanna, "input[name=joint_needs_two][value=two]").await;
    click(
        &hanna,
        "form[action='/admin/organisation/joint-signatures'] button[type=submit]",
    )
    .await;
    until_text(&hanna, "De instelling voor ondertekening is opgeslagen.").await;
    assert!(
        w.registry
            .sql()
            .sign_off_policy("55667788")
            .await
            .unwrap()
            .joint_needs_two
    );

    // Another organisation's link, 24 hours on: its own page.
    register(&w, "44556677", "Later B.V.", "ivo@later.example").await;
    let link = common::invitation_link(&w, "ivo@later.example").await;
    common::execute_sql(
        w.registry.sql().pool(),
        &format!(
            "UPDATE invitations SET expires_at = '{}' WHERE accepted_at IS NULL",
            (chrono::Utc::now() - chrono::TimeDelta::hours(1)).to_rfc3339()
        ),
    )
    .await;
    let ivo = browser(&d).await;
    ivo.goto(&link).await.unwrap();
    until_text(&ivo, "Activeringslink verlopen").await;

    hanna.close().await.unwrap();
    ivo.close().await.unwrap();
}
