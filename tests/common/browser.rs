//! Driving a real headless Chromium (Debian's chromium and chromedriver, over WebDriver with
//! fantoccini) for the browser journeys, and checking every page it stops at with axe-core
//! (vendored by scripts/vendor-nlds.sh): any WCAG 2.1 A or AA violation fails the test, with the
//! rules, elements and help listed.

use super::World;
use fantoccini::{Client, ClientBuilder, Locator};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// axe-core, run in the page after every navigation.
pub const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");

/// Runs axe-core on the page `c` shows (WCAG 2.0 and 2.1, levels A and AA) and fails with every
/// violation: rule, impact, the elements and what to do.
pub async fn accessible(c: &Client) {
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
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn driver() -> Driver {
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

pub async fn browser(driver: &Driver) -> Client {
    browser_with(driver, true).await
}

/// A Chromium session; without `scripts`, pages run none of their own (axe-core still runs).
pub async fn browser_with(driver: &Driver, scripts: bool) -> Client {
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
pub async fn until_text(c: &Client, text: &str) -> String {
    let source = showing(c, text).await;
    accessible(c).await;
    source
}

/// Waits (bounded) until the page shows `text`; the page source.
pub async fn showing(c: &Client, text: &str) -> String {
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

pub async fn click(c: &Client, css: &str) {
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("no {css}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
}

pub async fn type_into(c: &Client, css: &str, text: &str) {
    let field = c.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Waits (bounded) until the page has an element `css`, checks it with axe-core.
pub async fn until_element(c: &Client, css: &str) {
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
pub async fn choose_dev_ad(c: &Client) {
    until_text(c, "Kies uw inlogmiddel").await;
    click(
        c,
        &format!("input[name=idp][value='{}']", poort::demo::DEV_AD_ENTITY_ID),
    )
    .await;
    click(c, "form[action='/login/idp'] button[type=submit]").await;
}

/// At the development AD: log in as `person` at `level`.
pub async fn at_ad(c: &Client, person: &str, level: &str) {
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("input[name=person]"))
        .await
        .expect("the development AD's page");
    accessible(c).await;
    log_in_at_ad(c, person, level).await;
}

/// The development AD's form: `person` at `level`.
pub async fn log_in_at_ad(c: &Client, person: &str, level: &str) {
    click(c, &format!("input[name=person][value={person}]")).await;
    click(c, &format!("input[name=level][value='{level}']")).await;
    click(c, "button[name=action][value=login]").await;
}

/// A login of `person` at the demo DV for service 1; poort's (or the DV's) final page.
pub async fn service_login(w: &World, c: &Client, person: &str, expect: &str) -> String {
    c.goto(&format!("{}/login?service=1&binding=redirect", w.dv))
        .await
        .unwrap();
    at_ad(c, person, "EH3").await;
    until_text(c, expect).await
}
