//! End-to-end logins over HTTP, as a browser does them: demo DV -> poort -> development AD ->
//! poort -> demo DV, with a cookie-keeping client.

mod common;

use common::{client, start, submit, to_dv, World};
use serde_json::Value;

/// Starts a login at the DV and returns the AD's page.
async fn to_ad(w: &World, c: &reqwest::Client, service: u16, binding: &str) -> String {
    let r = c
        .get(format!(
            "{}/login?service={service}&binding={binding}",
            w.dv
        ))
        .send()
        .await
        .unwrap();
    let mut html = r.text().await.unwrap();
    // The POST binding goes through an auto-submitting form.
    if binding == "post" {
        html = submit(c, &html, &[]).await.text().await.unwrap();
    }
    assert!(
        html.contains("name=\"pending\""),
        "AD page expected, got: {html}"
    );
    html
}

/// Logs in at the AD and brings its answer to poort; returns poort's page.
async fn at_ad(
    c: &reqwest::Client,
    ad_page: &str,
    person: &str,
    level: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut fields = vec![("person", person), ("level", level), ("action", "login")];
    fields.extend_from_slice(extra);
    let to_poort = submit(c, ad_page, &fields).await.text().await.unwrap();
    submit(c, &to_poort, &[]).await
}

#[tokio::test]
async fn redirect_binding_with_organisation_choice() {
    let w = start().await;
    let c = client();
    let ad_page = to_ad(&w, &c, 1, "redirect").await;
    let r = at_ad(&c, &ad_page, "anna", "EH3", &[("sign", "assertion")]).await;
    assert!(r.url().path().starts_with("/login/organisation"));
    let choice = r.text().await.unwrap();
    assert!(
        choice.contains("Bakkerij De Gouden Korst B.V.")
            && choice.contains("Installatiebedrijf Van Dijk")
    );
    let answer = common::submit_at(&c, &w.poort, &choice, &[("organisation", "12345678")])
        .await
        .text()
        .await
        .unwrap();
    let v = to_dv(&c, &answer).await;
    assert_eq!(v["success"], true, "{v}");
    assert_eq!(v["legal_subject_id"], "12345678");
    assert_eq!(v["company_name"], "Bakkerij De Gouden Korst B.V.");
    assert_eq!(v["level"], "urn:etoegang:core:assurance-class:loa3");
    assert_eq!(
        v["service_id"],
        "urn:etoegang:DV:00000099990000000002:services:1"
    );
    assert_eq!(v["service_uuid"], "5a1d3b0e-8c9f-4f5e-9b1a-000000000001");
    assert_eq!(
        v["authenticating_authority"][0],
        poort::demo::DEV_AD_ENTITY_ID
    );
    let pseudonym = v["acting_subject_id"].as_str().unwrap().to_string();
    assert_eq!(pseudonym.len(), 64);

    // The pseudonym is stable across logins; a forged organisation choice is refused.
    let ad_page = to_ad(&w, &c, 1, "redirect").await;
    let choice = at_ad(&c, &ad_page, "anna", "EH3", &[])
        .await
        .text()
        .await
        .unwrap();
    let forged = common::submit_at(&c, &w.poort, &choice, &[("organisation", "11223344")]).await;
    assert_eq!(forged.status(), 403);
    let ad_page = to_ad(&w, &c, 1, "redirect").await;
    let choice = at_ad(&c, &ad_page, "anna", "EH3", &[])
        .await
        .text()
        .await
        .unwrap();
    let answer = common::submit_at(&c, &w.poort, &choice, &[("organisation", "87654321")])
        .await
        .text()
        .await
        .unwrap();
    let v = to_dv(&c, &answer).await;
    assert_eq!(v["legal_subject_id"], "87654321");
    assert_eq!(v["acting_subject_id"], pseudonym.as_str());
}

#[tokio::test]
async fn post_binding_with_signed_response_and_single_organisation() {
    let w = start().await;
    let c = client();
    let ad_page = to_ad(&w, &c, 2, "post").await;
    let r = at_ad(&c, &ad_page, "bram", "EH2+", &[("sign", "response")]).await;
    let v = to_dv(&c, &r.text().await.unwrap()).await;
    assert_eq!(v["success"], true, "{v}");
    assert_eq!(v["legal_subject_id"], "11223344");
    assert_eq!(v["level"], "urn:etoegang:core:assurance-class:loa2plus");
}

#[tokio::test]
async fn both_signed_and_encrypted_assertion() {
    let w = start().await;
    let c = client();
    let ad_page = to_ad(&w, &c, 2, "redirect").await;
    assert!(
        ad_page.contains("name=\"encrypt\""),
        "AD learned poort's encryption key"
    );
    let r = at_ad(
        &c,
        &ad_page,
        "bram",
        "EH3",
        &[("sign", "both"), ("encrypt", "1")],
    )
    .await;
    let v = to_dv(&c, &r.text().await.unwrap()).await;
    assert_eq!(v["success"], true, "{v}");
    // Level used is min(authenticated EH3, grant EH2+).
    assert_eq!(v["level"], "urn:etoegang:core:assurance-class:loa2plus");
    // The demo DV has an encryption key in its metadata: poort encrypted the assertion to it.
    assert_eq!(v["assertion_encrypted"], true);
}

/// A refusal shows a page (status, words) and offers the way back with a SAML error status.
async fn refused(person: &str, level: &str, lang: &str) -> (u16, String, Value) {
    let w = start().await;
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .default_headers({
            let mut h = reqwest::header::HeaderMap::new();
            h.insert("accept-language", lang.parse().unwrap());
            h
        })
        .build()
        .unwrap();
    let ad_page = to_ad(&w, &c, 1, "redirect").await;
    let r = at_ad(&c, &ad_page, person, level, &[]).await;
    let status = r.status().as_u16();
    let page = r.text().await.unwrap();
    let v = to_dv(&c, &page).await;
    (status, page, v)
}

#[tokio::test]
async fn level_too_low_is_explained_and_reported() {
    let (status, page, v) = refused("anna", "EH2", "nl").await;
    assert_eq!(status, 403);
    assert!(
        page.contains("betrouwbaarheidsniveau EH2") && page.contains("EH3"),
        "{page}"
    );
    assert!(page.contains("Referentienummer"));
    assert_eq!(v["success"], false);
    assert_eq!(v["status"], "urn:oasis:names:tc:SAML:2.0:status:Responder");
    assert_eq!(
        v["second_status"],
        "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"
    );
}

#[tokio::test]
async fn no_grant_in_english() {
    let (status, page, v) = refused("daan", "EH3", "en-GB,en;q=0.9").await;
    assert_eq!(status, 403);
    assert!(
        page.contains("not authorised") && page.contains("Reference number"),
        "{page}"
    );
    assert_eq!(
        v["second_status"],
        "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"
    );
}

#[tokio::test]
async fn expired_revoked_blocked_and_grant_level() {
    for (person, words, level) in [
        ("carla", "verlopen", "EH3"),
        ("eva", "ingetrokken", "EH3"),
        ("femke", "geblokkeerd", "EH4"),
        ("bram", "niveau EH2+", "EH3"),
    ] {
        let (status, page, v) = refused(person, level, "nl").await;
        assert_eq!(status, 403, "{person}");
        assert!(page.contains(words), "{person}: {page}");
        assert_eq!(
            v["second_status"], "urn:oasis:names:tc:SAML:2.0:status:RequestDenied",
            "{person}"
        );
    }
}

#[tokio::test]
async fn cancel_at_the_ad_goes_back_to_the_dv() {
    let w = start().await;
    let c = client();
    let ad_page = to_ad(&w, &c, 1, "redirect").await;
    let to_poort = submit(
        &c,
        &ad_page,
        &[("person", "anna"), ("level", "EH3"), ("action", "cancel")],
    )
    .await
    .text()
    .await
    .unwrap();
    let answer = submit(&c, &to_poort, &[]).await.text().await.unwrap();
    let v = to_dv(&c, &answer).await;
    assert_eq!(v["success"], false);
    assert_eq!(
        v["second_status"],
        "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
    );
    assert_eq!(v["status_message"], "Authentication cancelled");
}

#[tokio::test]
async fn replayed_ad_response_is_refused() {
    let w = start().await;
    let c = client();
    let ad_page = to_ad(&w, &c, 2, "redirect").await;
    let to_poort = submit(
        &c,
        &ad_page,
        &[("person", "bram"), ("level", "EH3"), ("action", "login")],
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(submit(&c, &to_poort, &[]).await.status(), 200);
    let again = submit(&c, &to_poort, &[]).await;
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("Inlogsessie verlopen"));
}

#[tokio::test]
async fn metadata_is_published_and_signed() {
    let w = start().await;
    let c = client();
    for path in ["/saml/metadata", "/saml/sp/metadata"] {
        let text = c
            .get(format!("{}{path}", w.poort))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let key = poort::keys::SigningKey::load(
            &w.certs.join("poort-signing.key"),
            &w.certs.join("poort-signing.crt"),
        )
        .unwrap();
        let signed = poort::saml::dsig::verify(&text, std::slice::from_ref(&key.cert_der)).unwrap();
        assert!(signed.contains("EntityDescriptor"), "{path}");
    }
}
