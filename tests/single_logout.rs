//! Single log-out (issue 15, afsprakenstelsel page *Single Log-out*; docs/SESSIONS.md): a DV's
//! LogoutRequest and an OpenID Connect client's RP-initiated log-out end the browser's session
//! at poort and go on to the AD of that session, which answers; the requester gets its answer.
//! The OIDC side is driven by the `openidconnect` crate (discovery with `end_session_endpoint`,
//! its `LogoutRequest`); the SAML side by the demo DV and the development AD (pysaml2 drives it
//! in tests/interop). Refusals say why.

mod common;

use common::oidc_rp::{client_config, param, token, walk};
use common::{browser, World};
use openidconnect::core::CoreIdToken;
use openidconnect::{
    ClientId, CsrfToken, IssuerUrl, LogoutRequest, PostLogoutRedirectUrl,
    ProviderMetadataWithLogout,
};
use poort::config::OidcClientConfig;
use std::str::FromStr;

const CLIENT: &str = "rp-logout";
const SECRET: &str = "a-long-client-secret-for-log-outs";
const RP_CB: &str = "https://rp.example/cb";
const LOGGED_OUT: &str = "https://rp.example/logged-out";
const VERIFIER: &str = "a-pkce-verifier-that-is-long-enough-for-rfc-7636-aaaaaaa";

/// poort with a client for service 2 (EH2+, where bram acts for one organisation) that may be
/// sent back to `LOGGED_OUT` after its log-out; both services take part in single sign-on.
async fn world() -> World {
    common::start_prepared(|_, config| {
        for service in &mut config.services {
            service.sso_support = true;
        }
        config.oidc_clients.push(OidcClientConfig {
            service: "5a1d3b0e-8c9f-4f5e-9b1a-000000000002".into(),
            post_logout_redirect_uris: vec![LOGGED_OUT.into()],
            ..client_config(CLIENT, Some(SECRET), RP_CB)
        });
    })
    .await
}

fn pkce() -> String {
    use base64::Engine;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(openssl::sha::sha256(VERIFIER.as_bytes()));
    format!("&code_challenge={challenge}&code_challenge_method=S256")
}

/// Where a passive login (`prompt=none`) of the client in this browser ends: a code while the
/// session lasts, `login_required` after.
async fn passive(w: &World, c: &reqwest::Client) -> String {
    let url =
        common::oidc_rp::authorize_url(&w.poort, CLIENT, RP_CB, &format!("{}&prompt=none", pkce()));
    let r = c.get(&url).send().await.unwrap();
    r.headers()["location"].to_str().unwrap().to_string()
}

/// bram logged in at the client through the development AD: his browser (no redirects
/// followed) and his ID token.
async fn bram_logged_in(w: &World) -> (reqwest::Client, String) {
    let (plain, follow) = browser();
    let url = common::oidc_rp::authorize_url(&w.poort, CLIENT, RP_CB, &pkce());
    let location = walk((&plain, &follow), &w.poort, &url, ("bram", "EH2+"), None).await;
    let code = param(&location, "code").unwrap_or_else(|| panic!("no code: {location}"));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", RP_CB),
        ("code_verifier", VERIFIER),
    ];
    let (status, body) = token(w, &form, Some((CLIENT, SECRET))).await;
    assert_eq!(status, 200, "{body}");
    (plain, body["id_token"].as_str().unwrap().to_string())
}

/// poort's end_session_endpoint as the openidconnect crate discovers it.
async fn end_session(w: &World) -> openidconnect::EndSessionUrl {
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let meta =
        ProviderMetadataWithLogout::discover_async(IssuerUrl::new(w.poort.clone()).unwrap(), &http)
            .await
            .unwrap();
    let url = meta
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("discovery names an end_session_endpoint");
    assert_eq!(url.url().as_str(), format!("{}/oidc/logout", w.poort));
    url
}

/// Follows redirects by hand from `url`, every Location, until one leaves for `stop` (a place
/// outside the test world) or a page comes: the URLs passed and the last response.
async fn follow(
    c: &reqwest::Client,
    url: String,
    stop: Option<&str>,
) -> (Vec<String>, reqwest::Response) {
    let mut seen = vec![url.clone()];
    let mut r = c.get(&url).send().await.unwrap();
    while r.status().is_redirection() {
        let to = r.headers()["location"].to_str().unwrap().to_string();
        seen.push(to.clone());
        if stop.is_some_and(|s| to.starts_with(s)) {
            break;
        }
        r = c.get(&to).send().await.unwrap();
    }
    (seen, r)
}

fn cookie_cleared(r: &reqwest::Response, name: &str) -> bool {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.starts_with(&format!("{name}=;")) && v.contains("Max-Age=0"))
}

#[tokio::test]
async fn an_oidc_log_out_with_its_id_token_goes_through_the_ad_and_back_to_the_client() {
    let w = world().await;
    let (plain, id_token) = bram_logged_in(&w).await;
    let id_token = CoreIdToken::from_str(&id_token).unwrap();
    // The session answers a passive login before the log-out.
    let to = passive(&w, &plain).await;
    assert!(param(&to, "code").is_some(), "{to}");
    let logout = LogoutRequest::from(end_session(&w).await)
        .set_id_token_hint(&id_token)
        .set_client_id(ClientId::new(CLIENT.into()))
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(LOGGED_OUT.into()).unwrap())
        .set_state(CsrfToken::new("st-out".into()))
        .http_get_url();

    // poort ends its session (cookie cleared) and sends its LogoutRequest to the AD.
    let r = plain.get(logout.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert!(cookie_cleared(&r, "poort_session"));
    let to_ad = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        to_ad.starts_with(&format!("{}/slo?SAMLRequest=", w.ad)),
        "{to_ad}"
    );
    // The AD answers; poort sends the browser to the client, with its state.
    let (seen, _) = follow(&plain, to_ad, Some(LOGGED_OUT)).await;
    let last = seen.last().unwrap();
    // (at the SingleLogoutService poort's metadata publishes, with the framework version)
    assert!(
        seen[1].starts_with(&format!("{}/saml/slo/1.13?SAMLResponse=", w.poort)),
        "{seen:?}"
    );
    assert!(last.starts_with(LOGGED_OUT), "{seen:?}");
    assert_eq!(param(last, "state").as_deref(), Some("st-out"));

    // The session is gone: prompt=none cannot be answered any more.
    let to = passive(&w, &plain).await;
    assert_eq!(
        param(&to, "error").as_deref(),
        Some("login_required"),
        "{to}"
    );
    assert!(
        param(&to, "error_description").unwrap().contains("(none)"),
        "{to}"
    );
}

#[tokio::test]
async fn without_an_id_token_for_this_person_poort_asks_first_and_refuses_what_is_not_registered() {
    let w = world().await;
    let (plain, _) = bram_logged_in(&w).await;
    let endpoint = end_session(&w).await;
    let by_client = LogoutRequest::from(endpoint.clone())
        .set_client_id(ClientId::new(CLIENT.into()))
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(LOGGED_OUT.into()).unwrap())
        .http_get_url();

    // No id_token_hint: the question, and nothing ended yet.
    let r = plain.get(by_client.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(!cookie_cleared(&r, "poort_session"));
    let page = r.text().await.unwrap();
    assert!(page.contains("Wilt u uitloggen?"), "{page}");
    let (action, fields) = common::form(&page);
    assert_eq!(action, "/oidc/logout");
    // A made-up answer is asked again; the page's own answer logs out.
    let mut forged = fields.clone();
    forged.insert("confirm".into(), "0".repeat(32));
    let r = plain
        .post(format!("{}/oidc/logout", w.poort))
        .form(&forged)
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("Wilt u uitloggen?"));
    let r = plain
        .post(format!("{}/oidc/logout", w.poort))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(cookie_cleared(&r, "poort_session"));
    let (seen, _) = follow(
        &plain,
        r.headers()["location"].to_str().unwrap().into(),
        Some(LOGGED_OUT),
    )
    .await;
    assert!(seen.last().unwrap().starts_with(LOGGED_OUT), "{seen:?}");

    // A redirect URI not registered for the client: refused, saying so, never followed.
    let elsewhere = LogoutRequest::from(endpoint.clone())
        .set_client_id(ClientId::new(CLIENT.into()))
        .set_post_logout_redirect_uri(
            PostLogoutRedirectUrl::new("https://evil.example/".into()).unwrap(),
        )
        .http_get_url();
    let r = plain.get(elsewhere.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("uitlogverzoek van de dienst is niet geldig"),
        "{page}"
    );
    // An unknown client and an id_token_hint poort did not sign: refused too.
    for bad in [
        format!("{}?client_id=nobody", endpoint.url()),
        format!("{}?id_token_hint=a.b.c", endpoint.url()),
    ] {
        let r = plain.get(&bad).send().await.unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }

    // No session any more: the scheme's page, with the way back to the client.
    let r = plain
        .get(by_client.as_str())
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = common::unescape(&r.text().await.unwrap());
    assert!(
        page.contains("Uitloggen is momenteel niet mogelijk."),
        "{page}"
    );
    assert!(
        page.contains(
            "Sluit alle Firefox-vensters om de beveiliging van uw informatie te waarborgen."
        ),
        "{page}"
    );
    assert!(page.contains(&format!("href=\"{LOGGED_OUT}\"")), "{page}");
}

#[tokio::test]
async fn a_saml_log_out_from_the_demo_dv_goes_through_the_ad_and_back_to_the_dv() {
    let w = world().await;
    let (plain, follow_all) = browser();
    let ad_page = common::dv_to_ad(&follow_all, &w.dv, 2, "redirect").await;
    let answer = common::through_ad(&follow_all, &ad_page, "bram", "EH2+").await;
    let verdict = common::to_dv(&follow_all, &answer.text().await.unwrap()).await;
    assert_eq!(verdict["success"], true, "{verdict}");
    let name_id = verdict["name_id"].as_str().unwrap();
    let session_index = verdict["session_index"].as_str().unwrap();

    let start = format!(
        "{}/logout?name_id={name_id}&session_index={session_index}",
        w.dv
    );
    let (seen, last) = follow(&plain, start, None).await;
    // DV -> poort -> AD -> poort -> DV, each a signed message checked by its receiver.
    let stops: Vec<&str> = seen
        .iter()
        .map(|u| u.split('?').next().unwrap_or_default())
        .collect();
    assert_eq!(
        stops,
        [
            format!("{}/logout", w.dv),
            format!("{}/saml/slo", w.poort),
            format!("{}/slo", w.ad),
            format!("{}/saml/slo/1.13", w.poort),
            format!("{}/slo", w.dv),
        ],
        "{seen:?}"
    );
    let page = last.text().await.unwrap();
    assert!(page.contains("Uitgelogd"), "{page}");
    assert!(
        page.contains("urn:oasis:names:tc:SAML:2.0:status:Success"),
        "{page}"
    );

    // The same LogoutRequest again: refused as used.
    let r = plain.get(&seen[1]).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("al eerder gebruikt"));
    // The AD's LogoutResponse again: poort waits for it no more.
    let r = plain.get(&seen[3]).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("wacht niet (meer)"));
}
