//! Upstream OpenID Connect ADs, played by a small provider built from public libraries
//! (tests/common/oidc_ad.rs): all four protocol combinations through the same decision and
//! pages, and every way an AD's answer must be refused.

mod common;

use common::oidc_ad::{Fault, TestAd};
use common::oidc_rp::{client_config, param, token, verify};
use common::{browser, client, submit_at, to_dv, World};
use poort::config::OidcProviderConfig;
use poort::grants::write::Actor;
use serde_json::Value;

const RP: &str = "rp-upstream";
const RP_SECRET: &str = "a-long-client-secret-for-upstream-tests";
const RP_CB: &str = "https://rp.example/cb";

async fn world(ad: &TestAd, change: impl FnOnce(&mut OidcProviderConfig)) -> World {
    let mut provider = ad.config();
    change(&mut provider);
    let w = common::start_prepared(|_, config| {
        config.oidc_providers = vec![provider];
        config.oidc_clients = vec![client_config(RP, Some(RP_SECRET), RP_CB)];
    })
    .await;
    // The same persons as at the SAML AD, now also known by their subject at the OIDC AD.
    let operator = Actor::Operator("test".into());
    for person in ["anna", "bram", "daan", "femke"] {
        let subject = format!("ad-subject-{person}");
        let sql = w.registry.sql();
        w.registry
            .write(sql.link_person(&operator, person, None, &ad.issuer, &subject))
            .await
            .unwrap();
    }
    w
}

/// Picks an identity provider on poort's choice page (a following client lands wherever that
/// leads).
async fn choose_idp(w: &World, c: &reqwest::Client, page: &str, idp: &str) -> reqwest::Response {
    assert!(
        page.contains("name=\"idp\""),
        "choice page expected: {page}"
    );
    submit_at(c, &w.poort, page, &[("idp", idp)]).await
}

/// A SAML DV's login (service 1, EH3) through the OIDC AD; poort's last page (the answer form,
/// the organisation choice, or an error).
async fn saml_dv_via_oidc_ad(w: &World, ad: &TestAd, c: &reqwest::Client) -> reqwest::Response {
    let page = common::page(c, format!("{}/login?service=1&binding=redirect", w.dv)).await;
    choose_idp(w, c, &page, &ad.issuer).await
}

/// The client's PKCE pair (RFC 7636 appendix B): poort requires PKCE of every client.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The client's authorization request (service 1), with PKCE.
fn authorize_url(w: &World, extra: &str) -> String {
    format!(
        "{}/oidc/authorize?response_type=code&scope=openid&client_id={RP}&redirect_uri={}\
         &code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        w.poort,
        url::form_urlencoded::byte_serialize(RP_CB.as_bytes()).collect::<String>()
    )
}

/// Starts an OIDC client's login, picks the OIDC AD and lets it answer: the callback URL the AD
/// sends the browser (`plain`, which follows no redirects) back to.
async fn to_callback(
    w: &World,
    ad: &TestAd,
    plain: &reqwest::Client,
    follow: &reqwest::Client,
) -> String {
    let url = authorize_url(w, "&state=rp-state");
    let page = follow.get(&url).send().await.unwrap().text().await.unwrap();
    let r = choose_idp(w, plain, &page, &ad.issuer).await;
    let to_ad = r.headers()["location"].to_str().unwrap().to_string();
    let r = plain.get(&to_ad).send().await.unwrap();
    r.headers()["location"].to_str().unwrap().to_string()
}

/// An OIDC client's login (service 1) through the OIDC AD, with the organisation chosen when
/// asked; the Location poort finally sends the browser to.
async fn oidc_dv_via_oidc_ad(w: &World, ad: &TestAd, org: Option<&str>) -> String {
    let (plain, follow) = browser();
    let url = authorize_url(w, "&state=rp-state&nonce=rp-nonce");
    let page = follow.get(&url).send().await.unwrap().text().await.unwrap();
    let mut r = choose_idp(w, &plain, &page, &ad.issuer).await;
    // poort -> AD -> poort's callback -> (organisation page | redirect to the client).
    for _ in 0..3 {
        let location = r.headers()["location"].to_str().unwrap().to_string();
        if location.starts_with(RP_CB) {
            return location;
        }
        let next = if location.starts_with('/') {
            format!("{}{location}", w.poort)
        } else {
            location
        };
        r = plain.get(&next).send().await.unwrap();
        if r.status() == 200 {
            let page = r.text().await.unwrap();
            r = submit_at(&plain, &w.poort, &page, &[("organisation", org.unwrap())]).await;
        }
    }
    assert_eq!(r.status(), 303);
    r.headers()["location"].to_str().unwrap().to_string()
}

async fn redeem(w: &World, location: &str) -> Value {
    let code = param(location, "code").expect("a code");
    let (status, body) = token(
        w,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", RP_CB),
            ("code_verifier", VERIFIER),
        ],
        Some((RP, RP_SECRET)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    verify(w, body["id_token"].as_str().unwrap()).await
}

#[tokio::test]
async fn saml_dv_with_oidc_ad() {
    let ad = TestAd::start().await;
    let w = world(&ad, |_| {}).await;
    let c = client();
    let r = saml_dv_via_oidc_ad(&w, &ad, &c).await;
    assert!(
        r.url().path().starts_with("/login/organisation"),
        "{}",
        r.url()
    );
    // What poort asked the AD: code flow with PKCE S256, state, nonce, and its own acr values
    // for EH3 and above, lowest first.
    let asked = ad.last_authorize();
    assert_eq!(asked["response_type"], "code");
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(asked["code_challenge"].len(), 43);
    assert!(asked["nonce"].len() >= 16 && asked["state"].len() >= 16);
    assert_eq!(asked["acr_values"], "30 40");
    assert_eq!(asked["redirect_uri"], format!("{}/oidc/callback", w.poort));
    assert!(asked["scope"].split(' ').any(|s| s == "openid"));

    let choice = r.text().await.unwrap();
    let answer = submit_at(&c, &w.poort, &choice, &[("organisation", "87654321")])
        .await
        .text()
        .await
        .unwrap();
    let v = to_dv(&c, &answer).await;
    assert_eq!(v["success"], true, "{v}");
    assert_eq!(v["legal_subject_id"], "87654321");
    assert_eq!(v["level"], "urn:etoegang:core:assurance-class:loa3");
    assert_eq!(v["authenticating_authority"][0], ad.issuer.as_str());
}

#[tokio::test]
async fn oidc_dv_with_oidc_ad_and_a_proprietary_acr() {
    let ad = TestAd::start().await;
    let w = world(&ad, |_| {}).await;
    // "40" is this AD's own value for EH4; the level used is min(EH4, grant EH3) = EH3.
    ad.set(|c| c.acr = Some("40".into()));
    let location = oidc_dv_via_oidc_ad(&w, &ad, Some("12345678")).await;
    assert_eq!(param(&location, "state").as_deref(), Some("rp-state"));
    let claims = redeem(&w, &location).await;
    assert_eq!(claims["nonce"], "rp-nonce");
    assert_eq!(claims["acr"], "urn:etoegang:core:assurance-class:loa3");
    assert_eq!(claims["represents"]["sub"], "12345678");
    assert_eq!(
        claims["service_id"],
        "urn:etoegang:DV:00000099990000000002:services:1"
    );
    let first_sub = claims["sub"].as_str().unwrap().to_string();
    // The same person again: the same pairwise subject.
    let location = oidc_dv_via_oidc_ad(&w, &ad, Some("87654321")).await;
    let claims = redeem(&w, &location).await;
    assert_eq!(claims["sub"], first_sub.as_str());
    assert_eq!(claims["represents"]["sub"], "87654321");
}

/// From poort's choice page through the development SAML AD as anna at EH3: poort's
/// organisation page.
async fn anna_at_the_saml_ad(w: &World, c: &reqwest::Client, choice_page: &str) -> String {
    let saml_ad = poort::demo::DEV_AD_ENTITY_ID;
    let ad_page = choose_idp(w, c, choice_page, saml_ad)
        .await
        .text()
        .await
        .unwrap();
    let r = common::through_ad(c, &ad_page, "anna", "EH3").await;
    r.text().await.unwrap()
}

/// The four combinations in one world, each through the same register: anna logs in to
/// service 1 for Installatiebedrijf Van Dijk and every requester learns the same organisation
/// and level.
#[tokio::test]
async fn all_four_protocol_combinations() {
    let ad = TestAd::start().await;
    let w = world(&ad, |_| {}).await;
    let saml_ad = poort::demo::DEV_AD_ENTITY_ID;
    // 1. SAML DV -> SAML AD.
    let c = client();
    let page = common::page(&c, format!("{}/login?service=1&binding=redirect", w.dv)).await;
    let choice = anna_at_the_saml_ad(&w, &c, &page).await;
    let answer = submit_at(&c, &w.poort, &choice, &[("organisation", "87654321")])
        .await
        .text()
        .await
        .unwrap();
    let v = to_dv(&c, &answer).await;
    assert_eq!(
        (v["success"].clone(), v["legal_subject_id"].clone()),
        (true.into(), "87654321".into()),
        "{v}"
    );
    assert_eq!(v["authenticating_authority"][0], saml_ad);

    // 2. OIDC DV -> SAML AD.
    let (plain, follow) = browser();
    let url = authorize_url(&w, "&state=s2");
    let page = follow.get(&url).send().await.unwrap().text().await.unwrap();
    let choice = anna_at_the_saml_ad(&w, &follow, &page).await;
    let r = submit_at(&plain, &w.poort, &choice, &[("organisation", "87654321")]).await;
    let claims = redeem(&w, r.headers()["location"].to_str().unwrap()).await;
    assert_eq!(claims["represents"]["sub"], "87654321");
    assert_eq!(claims["acr"], "urn:etoegang:core:assurance-class:loa3");

    // 3. SAML DV -> OIDC AD.
    let c = client();
    let choice = saml_dv_via_oidc_ad(&w, &ad, &c).await.text().await.unwrap();
    let answer = submit_at(&c, &w.poort, &choice, &[("organisation", "87654321")])
        .await
        .text()
        .await
        .unwrap();
    let v = to_dv(&c, &answer).await;
    assert_eq!(v["legal_subject_id"], "87654321", "{v}");
    assert_eq!(v["authenticating_authority"][0], ad.issuer.as_str());

    // 4. OIDC DV -> OIDC AD.
    let location = oidc_dv_via_oidc_ad(&w, &ad, Some("87654321")).await;
    let claims = redeem(&w, &location).await;
    assert_eq!(claims["represents"]["sub"], "87654321");
    assert_eq!(claims["acr"], "urn:etoegang:core:assurance-class:loa3");
}

/// The OAuth error an OIDC client gets when the AD's answer is refused.
async fn refused(w: &World, ad: &TestAd) -> (String, String) {
    let location = oidc_dv_via_oidc_ad(w, ad, None).await;
    assert_eq!(param(&location, "state").as_deref(), Some("rp-state"));
    assert!(param(&location, "code").is_none(), "{location}");
    (
        param(&location, "error").unwrap(),
        param(&location, "error_description").unwrap(),
    )
}

#[tokio::test]
async fn bad_id_tokens_are_refused_each_for_its_reason() {
    let ad = TestAd::start().await;
    let w = world(&ad, |_| {}).await;
    for (fault, reason) in [
        (Fault::AlgNone, "id_token_unsigned"),
        (Fault::WrongKey, "id_token_signature"),
        (Fault::Hmac, "id_token_algorithm"),
        (Fault::WrongIssuer, "id_token_issuer"),
        (Fault::WrongAudience, "id_token_audience"),
        (Fault::WrongNonce, "id_token_nonce"),
        (Fault::Expired, "id_token_expired"),
    ] {
        ad.set(|c| c.fault = fault);
        let (error, description) = refused(&w, &ad).await;
        assert_eq!(error, "access_denied", "{fault:?}");
        assert!(
            description.contains(reason),
            "{fault:?}: expected {reason} in {description:?}"
        );
    }
    // And the same AD with a good token logs in (the refusals were the faults, not the setup).
    ad.set(|c| c.fault = Fault::None);
    let location = oidc_dv_via_oidc_ad(&w, &ad, Some("12345678")).await;
    assert!(param(&location, "code").is_some(), "{location}");
}

#[tokio::test]
async fn a_saml_dv_gets_authn_failed_for_a_forged_upstream_token() {
    let ad = TestAd::start().await;
    let w = world(&ad, |_| {}).await;
    ad.set(|c| c.fault = Fault::AlgNone);
    let c = client();
    let page = saml_dv_via_oidc_ad(&w, &ad, &c).await;
    assert_eq!(page.status(), 400);
    let v = to_dv(&c, &page.text().await.unwrap()).await;
    assert_eq!(v["success"], false);
    assert_eq!(v["status"], "urn:oasis:names:tc:SAML:2.0:status:Responder");
    assert_eq!(
        v["second_status"],
        "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
    );
}

#[tokio::test]
async fn level_too_low_unknown_acr_and_no_grant_are_refused() {
    let ad = TestAd::start().await;
    let w = world(&ad, |_| {}).await;
    // EH2 at the AD for a service at EH3.
    ad.set(|c| c.acr = Some("20".into()));
    let (error, description) = refused(&w, &ad).await;
    assert_eq!(error, "access_denied");
    assert!(description.starts_with("level_too_low "), "{description}");
    // A value this AD has no level for.
    ad.set(|c| c.acr = Some("99".into()));
    let (_, description) = refused(&w, &ad).await;
    assert!(description.contains("acr"), "{description}");
    // No acr at all.
    ad.set(|c| c.acr = None);
    let (_, description) = refused(&w, &ad).await;
    assert!(description.contains("acr"), "{description}");
    // daan has no grant.
    ad.set(|c| {
        c.acr = Some("30".into());
        c.subject = "ad-subject-daan".into();
    });
    let (error, description) = refused(&w, &ad).await;
    assert_eq!(error, "access_denied");
    assert!(description.starts_with("no_grant "), "{description}");
    // A subject the register does not know at all.
    ad.set(|c| c.subject = "somebody-else".into());
    let (_, description) = refused(&w, &ad).await;
    assert!(description.starts_with("no_grant "), "{description}");
}

#[tokio::test]
async fn cancel_at_the_ad_reaches_the_client_as_access_denied() {
    let ad = TestAd::start().await;
    let w = world(&ad, |_| {}).await;
    ad.set(|c| c.error = Some("access_denied".into()));
    let (error, description) = refused(&w, &ad).await;
    assert_eq!(error, "access_denied");
    assert!(description.contains("cancelled"), "{description}");
    // A SAML DV hears "Authentication cancelled".
    let c = client();
    let page = saml_dv_via_oidc_ad(&w, &ad, &c).await.text().await.unwrap();
    let v = to_dv(&c, &page).await;
    assert_eq!(v["status_message"], "Authentication cancelled");
}

#[tokio::test]
async fn a_replayed_or_forged_callback_finds_no_login() {
    let ad = TestAd::start().await;
    let w = world(&ad, |_| {}).await;
    let (plain, follow) = browser();
    let callback = to_callback(&w, &ad, &plain, &follow).await;
    // A forged state finds nothing.
    let forged = callback.replace("state=", "state=x");
    let r = plain.get(&forged).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Inlogsessie verlopen"));
    // Another browser with the real callback is refused and spoils nothing.
    let (other, _) = browser();
    let r = other.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 403);
    // The real one works once; replayed, it finds no login.
    let r = plain.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.url());
    let r = plain.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_mixed_up_issuer_in_the_callback_is_refused() {
    let ad = TestAd::start().await;
    let w = world(&ad, |_| {}).await;
    let (plain, follow) = browser();
    let callback = to_callback(&w, &ad, &plain, &follow).await;
    let r = plain
        .get(format!("{callback}&iss=https%3A%2F%2Fimpostor.example"))
        .send()
        .await
        .unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
    assert!(param(&location, "error_description")
        .unwrap()
        .contains("impostor"));
    assert_eq!(
        ad.control.lock().unwrap().token_requests,
        0,
        "no code redeemed"
    );
}

#[tokio::test]
async fn userinfo_when_configured_must_name_the_same_subject() {
    let ad = TestAd::start().await;
    let w = world(&ad, |p| p.userinfo = true).await;
    let location = oidc_dv_via_oidc_ad(&w, &ad, Some("12345678")).await;
    assert!(param(&location, "code").is_some(), "{location}");
    assert_eq!(ad.control.lock().unwrap().userinfo_requests, 1);
    ad.set(|c| c.userinfo_subject = Some("ad-subject-daan".into()));
    let (error, description) = refused(&w, &ad).await;
    assert_eq!(error, "access_denied");
    assert!(description.contains("userinfo"), "{description}");
}

#[tokio::test]
async fn a_rotated_ad_key_is_fetched_at_once_and_unknown_keys_cannot_make_poort_hammer_the_ad() {
    let ad = TestAd::start().await;
    let w = world(&ad, |_| {}).await;
    let jwks = || ad.control.lock().unwrap().jwks_requests;
    // The first login discovers the AD and fetches its keys.
    let location = oidc_dv_via_oidc_ad(&w, &ad, Some("12345678")).await;
    assert!(param(&location, "code").is_some());
    assert_eq!(jwks(), 1);
    // The AD rotates: a token under the new kid makes poort fetch the keys again, and passes.
    ad.set(|c| {
        c.publish_rotated = true;
        c.fault = Fault::RotatedKey;
    });
    let location = oidc_dv_via_oidc_ad(&w, &ad, Some("12345678")).await;
    assert!(param(&location, "code").is_some(), "{location}");
    assert_eq!(jwks(), 2);
    // Tokens under kids nobody publishes are refused without another fetch (at most one per
    // 30 s), so forged tokens cannot make poort hammer the AD.
    ad.set(|c| c.fault = Fault::UnknownKid);
    for _ in 0..2 {
        let (_, description) = refused(&w, &ad).await;
        assert!(
            description.contains("id_token_unknown_key"),
            "{description}"
        );
    }
    assert_eq!(jwks(), 2);
}

#[tokio::test]
async fn client_secret_post_and_a_wrong_secret() {
    let ad = TestAd::start().await;
    let w = world(&ad, |p| {
        p.token_endpoint_auth_method = Some("client_secret_post".into())
    })
    .await;
    let location = oidc_dv_via_oidc_ad(&w, &ad, Some("12345678")).await;
    assert!(param(&location, "code").is_some(), "{location}");

    let ad2 = TestAd::start().await;
    let w2 = world(&ad2, |p| p.client_secret = Some("not-the-secret".into())).await;
    let (error, description) = refused(&w2, &ad2).await;
    assert_eq!(error, "access_denied");
    assert!(description.contains("invalid_client"), "{description}");
}

#[tokio::test]
async fn an_unreachable_ad_gets_a_clear_answer() {
    let ad = TestAd::start().await;
    let w = world(&ad, |p| p.issuer = "http://127.0.0.1:9".into()).await;
    let (plain, follow) = browser();
    let url = authorize_url(&w, "&state=rp-state");
    let page = follow.get(&url).send().await.unwrap().text().await.unwrap();
    let r = choose_idp(&w, &plain, &page, "http://127.0.0.1:9").await;
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("temporarily_unavailable")
    );
}
