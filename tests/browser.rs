//! The admin journeys in a real headless Chromium (Debian's chromium and chromedriver, driven
//! over WebDriver with fantoccini): an administrator invites a colleague in the admin module, the
//! colleague accepts through the e-mailed link, gets a grant (given in the admin module) and logs
//! in to a demo service; then blocked, and with the grant revoked (in the admin module), the login
//! is refused with the right page; an expired invitation link shows a clear page. Scripts run as
//! in any browser (the auto-posting forms of the SAML bindings), cookies and redirects are the
//! browser's own.
//!
//! Every page a journey stops at is checked with axe-core (vendored by scripts/vendor-nlds.sh):
//! any WCAG 2.1 A or AA violation fails the test, with the rules, elements and help listed.
//! `every_kind_of_page_passes_axe` visits what the other journeys do not: the choice of AD and of
//! organisation, an error page, every admin page and an unknown invitation link.

mod common;

use common::browser::*;
use common::World;
use fantoccini::Locator;
use poort::grants::Actor;
use std::time::Duration;

#[tokio::test]
async fn invite_accept_grant_login_then_block_and_revoke_are_refused() {
    let w = common::start().await;
    let d = driver().await;
    let admin = browser(&d).await;

    // anna, hoofdbeheerder of the Bakkerij, logs in to the admin module and invites gijs.
    admin.goto(&format!("{}/admin", w.poort)).await.unwrap();
    at_ad(&admin, "anna", "EH3").await;
    until_text(&admin, "Bakkerij De Gouden Korst B.V.").await;
    click(&admin, "a[href='/admin/users/new']").await;
    type_into(&admin, "#name", "Gijs de Boer").await;
    type_into(&admin, "#email", "gijs@bakkerij.example").await;
    click(
        &admin,
        "form[action='/admin/users/new'] button[type=submit]",
    )
    .await;
    until_text(&admin, "De uitnodiging is verstuurd.").await;
    // His page says he is invited, with the link's validity.
    let member_page = admin.current_url().await.unwrap();
    let person = member_page
        .path()
        .strip_prefix("/admin/users/")
        .unwrap()
        .to_string();
    until_text(&admin, "uitgenodigd").await;

    // gijs, in his own browser, opens the mail and follows the link.
    let gijs = browser(&d).await;
    common::deliver_mail(&w).await;
    gijs.goto(&format!("{}/dev/mailbox", w.poort))
        .await
        .unwrap();
    until_text(&gijs, "gijs@bakkerij.example").await;
    click(&gijs, "a[href*='/admin/invitation/']").await;
    at_ad(&gijs, "gijs", "EH3").await;
    until_text(
        &gijs,
        "uw eHerkenningsmiddel is nu gekoppeld aan Bakkerij De Gouden Korst B.V.",
    )
    .await;

    // He has no grant yet: refused. Given one, he logs in to the service for the Bakkerij.
    service_login(&w, &gijs, "gijs", "Inloggen niet gelukt").await;
    // anna grants him all services from the users page's link: the form starts with him as
    // holder, her own level, today and a year from now.
    admin
        .goto(&format!("{}/admin/grants/new?person={person}", w.poort))
        .await
        .unwrap();
    until_text(&admin, "Machtiging toevoegen").await;
    click(&admin, "input[name=scope][value=all]").await;
    click(
        &admin,
        "form[action='/admin/grants/new'] button[type=submit]",
    )
    .await;
    until_text(&admin, "De machtiging is toegevoegd").await;
    let page = service_login(&w, &gijs, "gijs", "12345678").await;
    assert!(page.contains("Bakkerij De Gouden Korst B.V."), "{page}");

    // anna sees him active now, with his last login, and blocks him: the next login is
    // refused with the block's page.
    admin.goto(member_page.as_str()).await.unwrap();
    until_text(&admin, "actief").await;
    click(&admin, "form[action$='/block'] button").await;
    until_text(&admin, "De gebruiker is geblokkeerd").await;
    service_login(
        &w,
        &gijs,
        "gijs",
        "Uw account bij deze organisatie is geblokkeerd.",
    )
    .await;
    // Unblocked but the grant revoked: refused with the revocation's page.
    click(&admin, "form[action$='/unblock'] button").await;
    until_text(&admin, "De blokkade is opgeheven.").await;
    // anna revokes his grant from the list, after confirming.
    admin
        .goto(&format!("{}/admin/grants?person={person}", w.poort))
        .await
        .unwrap();
    click(&admin, "a.revoke").await;
    until_text(&admin, "Ja, intrekken").await;
    click(&admin, "form[action$='/revoke'] button").await;
    until_text(&admin, "De machtiging is ingetrokken").await;
    service_login(&w, &gijs, "gijs", "is ingetrokken").await;

    admin.close().await.unwrap();
    gijs.close().await.unwrap();
}

#[tokio::test]
async fn an_expired_invitation_link_shows_a_clear_page() {
    let w = common::start().await;
    let d = driver().await;
    let sql = w.registry.sql();
    let new = poort::grants::NewInvitation {
        name: "Hanna".into(),
        email: "hanna@bakkerij.example".into(),
        language: Some("nl".into()),
        phone: None,
        roles: vec![],
        groups: vec![],
    };
    let made = w
        .registry
        .write(sql.invite(
            &Actor::Operator("test".into()),
            "12345678",
            &new,
            chrono::Utc::now(),
        ))
        .await
        .unwrap();
    common::execute_sql(
        sql.pool(),
        "UPDATE invitations SET expires_at = '2000-01-01 00:00:00+00:00'",
    )
    .await;
    let c = browser(&d).await;
    c.goto(&format!("{}/admin/invitation/{}", w.poort, made.token))
        .await
        .unwrap();
    let page = until_text(&c, "Uitnodiging verlopen").await;
    assert!(page.contains("24 uur"), "{page}");
    c.close().await.unwrap();
}

const SECOND_AD: &str = "urn:etoegang:AD:00000099990000000004:entities:1";

/// A world with a second AD, so that poort asks which one.
async fn two_ads() -> World {
    common::start_prepared(|p, _| {
        let pem = std::fs::read(p.certs.join("dev-ad-signing.crt")).unwrap();
        let der = openssl::x509::X509::from_pem(&pem)
            .unwrap()
            .to_der()
            .unwrap();
        let md = poort::demo::metadata::dev_ad_metadata(
            SECOND_AD,
            &format!("{}/second/sso", p.ad),
            &der,
            "Tweede inlogmiddel",
            "Second means of login",
        );
        std::fs::write(p.idp_dir.join("second-ad.xml"), md).unwrap();
    })
    .await
}

#[tokio::test]
async fn every_kind_of_page_passes_axe() {
    let w = two_ads().await;
    let d = driver().await;
    let c = browser(&d).await;

    // A service login: poort's choice of AD, the AD, poort's choice of organisation, the DV.
    c.goto(&format!("{}/login?service=1&binding=redirect", w.dv))
        .await
        .unwrap();
    choose_dev_ad(&c).await;
    at_ad(&c, "anna", "EH3").await;
    until_text(&c, "Kies de organisatie").await;
    click(&c, "input[name=organisation][value='12345678']").await;
    click(&c, "form[action='/login/organisation'] button[type=submit]").await;
    until_text(&c, "12345678").await;

    // Single log-out's pages: the question (no id_token_hint for this session), poort's own
    // "logged out" once the AD answered, and the scheme's page when there is no session.
    c.goto(&format!("{}/oidc/logout", w.poort)).await.unwrap();
    until_text(&c, "Wilt u uitloggen?").await;
    click(&c, "form[action='/oidc/logout'] button[type=submit]").await;
    until_text(&c, "U bent uitgelogd bij poort en bij").await;
    c.goto(&format!("{}/oidc/logout", w.poort)).await.unwrap();
    until_text(&c, "Uitloggen is momenteel niet mogelijk").await;

    // An error page.
    c.goto(&format!("{}/login/idp?flow=unknown", w.poort))
        .await
        .unwrap();
    until_text(&c, "Referentienummer").await;

    // Every page of the admin module, a form with its errors, a confirmation, logging out.
    c.goto(&format!("{}/admin", w.poort)).await.unwrap();
    choose_dev_ad(&c).await;
    at_ad(&c, "anna", "EH3").await;
    until_text(&c, "Bakkerij De Gouden Korst B.V.").await;
    for (path, text) in [
        ("/admin/users", "Gebruiker uitnodigen"),
        ("/admin/users/new", "Uitnodiging versturen"),
        ("/admin/grants", "Machtiging toevoegen"),
        ("/admin/grants/new", "Voor welke diensten"),
        ("/admin/audit", "Downloaden als CSV"),
        ("/admin/organisation", "Contactgegevens"),
        ("/admin/links", "Nieuw verzoek"),
    ] {
        c.goto(&format!("{}{path}", w.poort)).await.unwrap();
        until_text(&c, text).await;
    }
    c.goto(&format!("{}/admin/users/new", w.poort))
        .await
        .unwrap();
    click(&c, "form[action='/admin/users/new'] button[type=submit]").await;
    until_element(&c, "input#name[aria-invalid=true]").await;
    c.goto(&format!("{}/admin/users", w.poort)).await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::LinkText("Eva Smit"))
        .await
        .expect("Eva in the list")
        .click()
        .await
        .unwrap();
    until_text(&c, "Rollen in deze organisatie").await;
    click(&c, "a[href$='/remove']").await;
    until_text(&c, "Ja, verwijderen").await;
    // The language switch: the same page in English, and back.
    c.goto(&format!("{}/admin/users?status=active", w.poort))
        .await
        .unwrap();
    click(&c, "a[hreflang=en]").await;
    let page = until_text(&c, "Invite a user").await;
    assert!(page.contains("<html lang=\"en\""), "{page}");
    assert!(c
        .current_url()
        .await
        .unwrap()
        .as_str()
        .ends_with("/admin/users?status=active"));
    click(&c, "a[hreflang=nl]").await;
    until_text(&c, "Gebruiker uitnodigen").await;
    click(&c, "form[action='/admin/logout'] button").await;
    until_text(&c, "U bent uitgelogd").await;
    c.close().await.unwrap();

    // Without scripts, the auto-posting forms of the bindings show their button, and the login
    // goes on with it. (axe-core needs scripts: these pages were checked above.)
    let c = browser_with(&d, false).await;
    c.goto(&format!("{}/login?service=1&binding=redirect", w.dv))
        .await
        .unwrap();
    showing(&c, "Kies uw inlogmiddel").await;
    click(
        &c,
        &format!("input[name=idp][value='{}']", poort::demo::DEV_AD_ENTITY_ID),
    )
    .await;
    click(&c, "form[action='/login/idp'] button[type=submit]").await;
    log_in_at_ad(&c, "anna", "EH3").await;
    // The AD's own auto-posting form, then poort's choice.
    showing(&c, "U wordt doorgestuurd").await;
    click(&c, "button[type=submit]").await;
    showing(&c, "Kies de organisatie").await;
    click(&c, "input[name=organisation][value='12345678']").await;
    click(&c, "form[action='/login/organisation'] button[type=submit]").await;
    let post_form = showing(&c, "JavaScript staat uit").await;
    click(&c, "form#saml button[type=submit]").await;
    showing(&c, "12345678").await;
    c.close().await.unwrap();

    // poort's auto-posting form, checked by axe-core in a session with scripts: written into a
    // page of poort's own origin, whose policy keeps its script (with a stale nonce) from
    // posting it away.
    let c = browser(&d).await;
    c.goto(&format!("{}/login/idp?flow=unknown", w.poort))
        .await
        .unwrap();
    showing(&c, "Referentienummer").await;
    c.execute(
        "document.open(); document.write(arguments[0]); document.close();",
        vec![post_form.into()],
    )
    .await
    .unwrap();
    until_element(&c, "form#saml button[type=submit]").await;
    c.close().await.unwrap();
}
