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

use common::World;
use fantoccini::{Client, ClientBuilder, Locator};
use poort::grants::Actor;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// axe-core, run in the page after every navigation.
const AXE: &str = include_str!("vendor/axe-core/axe.min.js");

/// Runs axe-core on the page `c` shows (WCAG 2.0 and 2.1, levels A and AA) and fails with every
/// violation: rule, impact, the elements and what to do.
async fn accessible(c: &Client) {
    let url = c.current_url().await.unwrap();
    c.execute(&format!("{AXE}\n;window.axe = axe;"), vec![])
        .await
        .unwrap_or_else(|e| panic!("axe-core did not load on {url}: {e}"));
    let result = c
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
              .then(r => done(r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(n => n.target.join(" ") + " — " + n.failureSummary.replace(/\n/g, " ")),
              }))))
              .catch(e => done([{ id: "axe-error", impact: "", help: String(e), targets: [] }]));"#,
            vec![],
        )
        .await
        .unwrap_or_else(|e| panic!("axe-core did not run on {url}: {e}"));
    let violations = result.as_array().cloned().unwrap_or_default();
    if !violations.is_empty() {
        let list: Vec<String> = violations
            .iter()
            .map(|v| {
                format!(
                    "- {} ({}): {}\n    {}",
                    v["id"].as_str().unwrap_or_default(),
                    v["impact"].as_str().unwrap_or_default(),
                    v["help"].as_str().unwrap_or_default(),
                    v["targets"]
                        .as_array()
                        .map(|t| t
                            .iter()
                            .map(|x| x.as_str().unwrap_or_default())
                            .collect::<Vec<_>>()
                            .join("\n    "))
                        .unwrap_or_default()
                )
            })
            .collect();
        panic!(
            "WCAG 2.1 A/AA violations on {url}:\n{}\n{}",
            list.join("\n"),
            c.source().await.unwrap_or_default()
        );
    }
}

/// A chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is required (scripts/setup.sh --test installs chromium-driver)");
    let url = format!("http://127.0.0.1:{port}");
    // Ready when it answers /status (bounded).
    let started = std::time::Instant::now();
    loop {
        if let Ok(r) = reqwest::get(format!("{url}/status")).await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Driver { child, url }
}

async fn browser(driver: &Driver) -> Client {
    browser_with(driver, true).await
}

/// A Chromium session; without `scripts`, pages run none of their own (axe-core still runs).
async fn browser_with(driver: &Driver, scripts: bool) -> Client {
    poort::install_crypto_provider();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--lang=nl-NL",
                     // The design system scrolls smoothly; WebDriver clicks where an element
                     // is, not where it is going.
                     "--force-prefers-reduced-motion"],
            "prefs": {"intl.accept_languages": "nl-NL,nl",
                      "profile.managed_default_content_settings.javascript": if scripts { 1 } else { 2 }},
        }),
    );
    ClientBuilder::rustls()
        .expect("TLS roots")
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Waits (bounded) until the page shows `text`, checks it with axe-core; the page source.
async fn until_text(c: &Client, text: &str) -> String {
    let source = showing(c, text).await;
    accessible(c).await;
    source
}

/// Waits (bounded) until the page shows `text`; the page source.
async fn showing(c: &Client, text: &str) -> String {
    let xpath = format!("//*[contains(normalize-space(.), \"{text}\")]");
    let found = c
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::XPath(&xpath))
        .await;
    let source = c.source().await.unwrap();
    assert!(found.is_ok(), "the page never showed {text:?}: {source}");
    source
}

async fn click(c: &Client, css: &str) {
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
}

async fn type_into(c: &Client, css: &str, text: &str) {
    let field = c.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Waits (bounded) until the page has an element `css`, checks it with axe-core.
async fn until_element(c: &Client, css: &str) {
    let found = c
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await;
    let source = c.source().await.unwrap();
    assert!(found.is_ok(), "the page never had {css}: {source}");
    accessible(c).await;
}

/// At poort's choice of AD: the development AD.
async fn choose_dev_ad(c: &Client) {
    until_text(c, "Kies uw inlogmiddel").await;
    click(
        c,
        &format!("input[name=idp][value='{}']", poort::demo::DEV_AD_ENTITY_ID),
    )
    .await;
    click(c, "form[action='/login/idp'] button[type=submit]").await;
}

/// At the development AD: log in as `person` at `level`.
async fn at_ad(c: &Client, person: &str, level: &str) {
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("input[name=person]"))
        .await
        .expect("the development AD's page");
    accessible(c).await;
    log_in_at_ad(c, person, level).await;
}

/// The development AD's form: `person` at `level`.
async fn log_in_at_ad(c: &Client, person: &str, level: &str) {
    click(c, &format!("input[name=person][value={person}]")).await;
    click(c, &format!("input[name=level][value='{level}']")).await;
    click(c, "button[name=action][value=login]").await;
}

/// A login of `person` at the demo DV for service 1; poort's (or the DV's) final page.
async fn service_login(w: &World, c: &Client, person: &str, expect: &str) -> String {
    c.goto(&format!("{}/login?service=1&binding=redirect", w.dv))
        .await
        .unwrap();
    at_ad(c, person, "EH3").await;
    until_text(c, expect).await
}

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
