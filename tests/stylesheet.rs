//! The pages' one stylesheet and their language switch, as a browser meets them: the page links
//! the stylesheet at its hashed path, the stylesheet is served there (and only there) as CSS
//! cached for a year, with the supplier's `[theme]` tokens last; the page's policy allows styles
//! from poort only; the switch remembers the language and goes back to the page, never away.

mod common;

use reqwest::header;

/// The stylesheet path a page links.
fn linked_stylesheet(page: &str) -> String {
    let marker = "<link rel=\"stylesheet\" href=\"";
    let start = page.find(marker).expect("a stylesheet link") + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn pages_link_one_immutable_stylesheet_with_the_suppliers_theme() {
    let w = common::start_prepared(|_, config| {
        config.theme.tokens.insert(
            "--basis-color-action-1-inverse-bg-default".into(),
            "#154273".into(),
        );
    })
    .await;
    let c = common::client();
    let r = c
        .get(format!("{}/login/idp?flow=unknown", w.poort))
        .send()
        .await
        .unwrap();
    let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("style-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let page = r.text().await.unwrap();
    assert!(
        !page.contains("<style") && !page.contains("style=\""),
        "{page}"
    );
    let path = linked_stylesheet(&common::unescape(&page));
    assert!(
        path.starts_with("/assets/poort-") && path.ends_with(".css"),
        "{path}"
    );

    let r = c.get(format!("{}{path}", w.poort)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert_eq!(
        r.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let css = r.text().await.unwrap();
    assert!(css.contains(".utrecht-button {"), "the components");
    assert!(css.contains(".voorbeeld-theme {"), "the default tokens");
    assert!(
        css.ends_with(".poort-theme {\n  --basis-color-action-1-inverse-bg-default: #154273;\n}\n"),
        "the supplier's tokens, last: {}",
        &css[css.len() - 200..]
    );

    // Another name under /assets/ is nothing, an older stylesheet's included.
    for other in [
        "/assets/poort-0000000000000000.css",
        "/assets/axe.min.js",
        "/assets/../config/poort.toml",
    ] {
        let r = c.get(format!("{}{other}", w.poort)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{other}");
    }
}

#[tokio::test]
async fn a_theme_that_could_break_out_of_css_stops_the_start() {
    let w = common::start().await;
    let mut config = w.config.clone();
    config.theme.tokens.insert(
        "--basis-color-accent-1-bg-default".into(),
        "red; } body { display: none".into(),
    );
    let e = poort::app::build_state(config)
        .await
        .err()
        .expect("refused");
    assert!(
        e.to_string().starts_with(
            "[theme] token --basis-color-accent-1-bg-default: value \"red; } body { display: none\" may hold only"
        ),
        "{e}"
    );
}

#[tokio::test]
async fn the_language_switch_goes_back_to_the_page_and_nowhere_else() {
    let w = common::start().await;
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Where the switch leads back to the same page, the page offers it.
    let page =
        common::unescape(&common::page(&c, format!("{}/login/idp?flow=unknown", w.poort)).await);
    assert!(page.contains("<html lang=\"nl\""), "{page}");
    assert!(
        page.contains("href=\"/lang/en?back=/login/idp%3Fflow%3Dunknown\" hreflang=\"en\" lang=\"en\">English</a>"),
        "{page}"
    );
    let r = c
        .get(format!(
            "{}/lang/en?back=/login/idp%3Fflow%3Dunknown",
            w.poort
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()[header::LOCATION], "/login/idp?flow=unknown");
    let cookie = r.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("poort_lang=en; Path=/"), "{cookie}");
    let page = common::page(&c, format!("{}/login/idp?flow=unknown", w.poort)).await;
    assert!(page.contains("<html lang=\"en\""), "{page}");
    assert!(page.contains("What can you do?"), "{page}");
    assert!(
        page.contains("hreflang=\"nl\" lang=\"nl\">Nederlands</a>"),
        "{page}"
    );

    // Never to another site, and only Dutch or English.
    for back in [
        "https://evil.example/",
        "//evil.example/",
        "/%5Cevil.example",
    ] {
        let r = c
            .get(format!("{}/lang/nl?back={back}", w.poort))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{back}");
        assert_eq!(r.headers()[header::LOCATION], "/admin", "{back}");
    }
    let r = c
        .get(format!("{}/lang/fr?back=/admin", w.poort))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // An endpoint that takes a one-time message does not offer it: going back would replay it.
    let page = common::page(&c, format!("{}/saml/sso?SAMLRequest=garbage", w.poort)).await;
    assert!(page.contains("Referentienummer"), "back in Dutch: {page}");
    assert!(!page.contains("/lang/"), "{page}");
}
