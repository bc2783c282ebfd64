//! Attacks on poort's login flow: each must be refused with the right answer.

mod common;

use common::{client, start, World};
use poort::demo::ad_response::AdResponse;
use poort::domain::level::Level;
use poort::keys::SigningKey;
use poort::saml::binding;
use poort::saml::idp::AuthnRequest;
use poort::saml::{dsig, xml};

const SUBJECT: &str = "bram";

fn ad_key(w: &World) -> SigningKey {
    common::dev_ad_key(w)
}

/// Starts a login for service 2 and stops where poort sends the person to the AD: returns the
/// client (with poort's cookie) and the ID of poort's request to the AD.
async fn pending(w: &World) -> (reqwest::Client, String) {
    let (c, request) = common::stopped_at_ad(w, 2).await;
    (c, AuthnRequest::parse(&request).unwrap().id)
}

fn good(w: &World, request_id: &str) -> AdResponse {
    common::ad_response(w, request_id, SUBJECT)
}

async fn post_acs(w: &World, c: &reqwest::Client, xml: &str) -> (u16, String) {
    let r = common::post_acs(w, c, xml).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Refused at poort: an error page, and no signed success goes to the DV.
fn assert_refused(case: &str, (status, page): &(u16, String)) {
    assert_eq!(*status, 400, "{case}: {page}");
    assert!(page.contains("Referentienummer"), "{case}: {page}");
    assert!(
        !page.contains(&binding::encode_post("status:Success")),
        "{case}"
    );
}

#[tokio::test]
async fn bad_ad_answers_are_refused() {
    let w = start().await;
    let key = ad_key(&w);

    // The harness can succeed: a correct answer goes through.
    let (c, id) = pending(&w).await;
    let ok = post_acs(&w, &c, &good(&w, &id).build(&key).unwrap()).await;
    assert_eq!(ok.0, 200, "{}", ok.1);

    let now = chrono::Utc::now();
    let foreign = {
        let d = tempfile::tempdir().unwrap();
        poort::devcerts::generate(d.path(), false).unwrap();
        SigningKey::load(
            &d.path().join("dev-ad-signing.key"),
            &d.path().join("dev-ad-signing.crt"),
        )
        .unwrap()
    };
    type Variant = Box<dyn Fn(AdResponse) -> AdResponse>;
    let variants: Vec<(&str, Variant)> = vec![
        (
            "wrong audience",
            Box::new(|r| AdResponse {
                audience: Some("urn:evil".into()),
                ..r
            }),
        ),
        (
            "no audience",
            Box::new(|r| AdResponse {
                audience: None,
                ..r
            }),
        ),
        (
            "wrong destination",
            Box::new(|r| AdResponse {
                destination: Some("https://evil.example/acs".into()),
                ..r
            }),
        ),
        (
            "wrong recipient",
            Box::new(|r| AdResponse {
                recipient: Some("https://evil.example/acs".into()),
                ..r
            }),
        ),
        (
            "expired",
            Box::new(move |r| AdResponse {
                not_before: now - chrono::Duration::minutes(20),
                not_on_or_after: now - chrono::Duration::minutes(10),
                ..r
            }),
        ),
        (
            "not yet valid",
            Box::new(move |r| AdResponse {
                not_before: now + chrono::Duration::minutes(10),
                ..r
            }),
        ),
        (
            "unsigned",
            Box::new(|r| AdResponse {
                sign_assertion: false,
                sign_response: false,
                ..r
            }),
        ),
        (
            "wrong issuer",
            Box::new(|r| AdResponse {
                issuer: "urn:etoegang:AD:00000099990000000009:entities:1".into(),
                ..r
            }),
        ),
        (
            "EH1 level",
            Box::new(|r| AdResponse {
                level_uri: "urn:etoegang:core:assurance-class:loa1".into(),
                ..r
            }),
        ),
        (
            "unknown level",
            Box::new(|r| AdResponse {
                level_uri: "urn:oasis:names:tc:SAML:2.0:ac:classes:Password".into(),
                ..r
            }),
        ),
    ];
    for (case, variant) in variants {
        let (c, id) = pending(&w).await;
        let xml = variant(good(&w, &id)).build(&key).unwrap();
        assert_refused(case, &post_acs(&w, &c, &xml).await);
    }

    // Signed with a key that is not in the AD's metadata (its own certificate in KeyInfo).
    let (c, id) = pending(&w).await;
    let xml = good(&w, &id).build(&foreign).unwrap();
    assert_refused("key not in metadata", &post_acs(&w, &c, &xml).await);

    // Assertion's InResponseTo differs from the (unsigned) envelope's.
    let (c, id) = pending(&w).await;
    let xml = AdResponse {
        in_response_to: Some("_other".into()),
        ..good(&w, &id)
    }
    .build(&key)
    .unwrap();
    let xml = xml.replacen(
        "InResponseTo=\"_other\"",
        &format!("InResponseTo=\"{id}\""),
        1,
    );
    assert_refused("assertion InResponseTo", &post_acs(&w, &c, &xml).await);

    // SHA-1: an unsigned answer signed on the Response with RSA-SHA1 / SHA-1 digests.
    let (c, id) = pending(&w).await;
    let unsigned = AdResponse {
        sign_assertion: false,
        ..good(&w, &id)
    }
    .build(&key)
    .unwrap();
    let doc = xml::parse(&unsigned).unwrap();
    let rid = doc.root_element().attribute("ID").unwrap().to_string();
    let template = dsig::template(&rid, &key)
        .replace(
            "http://www.w3.org/2001/04/xmlenc#sha256",
            "http://www.w3.org/2000/09/xmldsig#sha1",
        )
        .replace(key.alg.uri(), "http://www.w3.org/2000/09/xmldsig#rsa-sha1");
    let with = unsigned.replacen("</saml:Issuer>", &format!("</saml:Issuer>{template}"), 1);
    // poort's signer refuses SHA-1 templates; xmlsec makes a real SHA-1 signature.
    use samael::crypto::CryptoProvider;
    let sha1 = samael::crypto::Crypto::sign_xml(&with, &key.key_der).unwrap();
    assert!(sha1.contains("xmldsig#rsa-sha1") && !sha1.contains("<ds:SignatureValue/>"));
    assert_refused("SHA-1", &post_acs(&w, &c, &sha1).await);
}

#[tokio::test]
async fn replayed_assertion_id_is_refused() {
    let w = start().await;
    let key = ad_key(&w);
    let (c, id) = pending(&w).await;
    let first = AdResponse {
        assertion_id: Some("_fixed-assertion".into()),
        ..good(&w, &id)
    };
    assert_eq!(post_acs(&w, &c, &first.build(&key).unwrap()).await.0, 200);
    // A new login, answered with the same assertion ID.
    let (c, id) = pending(&w).await;
    let second = AdResponse {
        assertion_id: Some("_fixed-assertion".into()),
        ..good(&w, &id)
    };
    assert_refused(
        "replay",
        &post_acs(&w, &c, &second.build(&key).unwrap()).await,
    );
}

#[tokio::test]
async fn signature_wrapping_is_refused() {
    let w = start().await;
    let key = ad_key(&w);
    // Each variant takes a correctly signed answer for bram and tries to slip in anna.
    let (_, id0) = pending(&w).await;
    let _ = id0;
    type Wrap = fn(&str) -> String;
    let evil = |signed_assertion: &str| -> String {
        signed_assertion
            .replace(">bram<", ">anna<")
            .replacen(" ID=\"", " ID=\"evil", 1)
    };
    let _ = evil;
    let wraps: Vec<(&str, Wrap)> = vec![
        // XSW: a second, unsigned assertion before the signed one.
        ("second assertion first", |r| {
            let (a, b) = assertion_bounds(r);
            let original = &r[a..b];
            let forged = strip_signature(&original.replace(">bram<", ">anna<"))
                .replacen(" ID=\"", " ID=\"x", 1);
            format!("{}{}{}", &r[..a], forged, &r[a..])
        }),
        // XSW: a second assertion after the signed one.
        ("second assertion last", |r| {
            let (a, b) = assertion_bounds(r);
            let forged = strip_signature(&r[a..b].replace(">bram<", ">anna<"))
                .replacen(" ID=\"", " ID=\"x", 1);
            format!("{}{}{}", &r[..b], forged, &r[b..])
        }),
        // XSW: the signed assertion hidden in Extensions, a forged one in its place.
        ("original in Extensions", |r| {
            let (a, b) = assertion_bounds(r);
            let original = &r[a..b];
            let forged = strip_signature(&original.replace(">bram<", ">anna<"))
                .replacen(" ID=\"", " ID=\"x", 1);
            let issuer_end = r.find("</saml:Issuer>").unwrap() + "</saml:Issuer>".len();
            format!(
                "{}<samlp:Extensions>{}</samlp:Extensions>{}{}{}",
                &r[..issuer_end],
                original,
                &r[issuer_end..a],
                forged,
                &r[b..]
            )
        }),
        // XSW: the forged assertion carries the original signature, the original sits inside it.
        ("original inside forged", |r| {
            let (a, b) = assertion_bounds(r);
            let original = &r[a..b];
            let forged = original
                .replace(">bram<", ">anna<")
                .replacen(" ID=\"", " ID=\"x", 1);
            let close = forged.rfind("</saml:Assertion>").unwrap();
            let nested = format!("{}{}{}", &forged[..close], original, &forged[close..]);
            format!("{}{}{}", &r[..a], nested, &r[b..])
        }),
        // Same ID twice: forged copy with the original's ID.
        ("duplicate ID", |r| {
            let (a, b) = assertion_bounds(r);
            let forged = strip_signature(&r[a..b].replace(">bram<", ">anna<"));
            format!("{}{}{}", &r[..a], forged, &r[a..])
        }),
        // The signed assertion, edited in place.
        ("edited signed assertion", |r| r.replace(">bram<", ">anna<")),
        // Signature removed from the assertion, and nothing else signed.
        ("signature stripped", |r| strip_signature(r)),
        // A comment splits the NameID (signed text stays the same after c14n drops comments).
        ("comment in NameID", |r| {
            r.replace(">bram<", ">br<!---->am<")
        }),
    ];
    for (case, wrap) in wraps {
        let (c, id) = pending(&w).await;
        let signed = good(&w, &id).build(&key).unwrap();
        let wrapped = wrap(&signed);
        assert_ne!(wrapped, signed, "{case}: the wrap changed nothing");
        let (status, page) = post_acs(&w, &c, &wrapped).await;
        // Refused, or (comment case) accepted only as the real subject: never as anna.
        if status == 200 {
            let (_, fields) = common::form(&page);
            let body = String::from_utf8(base64_decode(&fields["SAMLResponse"])).unwrap();
            assert!(
                !body.contains("Bakkerij") && !body.contains("12345678"),
                "{case}: accepted as anna"
            );
        } else {
            assert_refused(case, &(status, page));
        }
    }

    // Response signed too: wrapping the whole Response in a forged one.
    let (c, id) = pending(&w).await;
    let signed = AdResponse {
        sign_response: true,
        ..good(&w, &id)
    }
    .build(&key)
    .unwrap();
    let forged =
        strip_signature(&signed.replace(">bram<", ">anna<")).replacen(" ID=\"", " ID=\"x", 1);
    let close = forged.rfind("</samlp:Response>").unwrap();
    let nested = format!(
        "{}<samlp:Extensions>{}</samlp:Extensions>{}",
        &forged[..close],
        dsig::strip_declaration(&signed),
        &forged[close..]
    );
    assert_refused("response wrapped", &post_acs(&w, &c, &nested).await);
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn assertion_bounds(r: &str) -> (usize, usize) {
    let a = r.find("<saml:Assertion").unwrap();
    let b = r.rfind("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    (a, b)
}

fn strip_signature(s: &str) -> String {
    match (s.find("<ds:Signature"), s.find("</ds:Signature>")) {
        (Some(a), Some(b)) => format!("{}{}", &s[..a], &s[b + "</ds:Signature>".len()..]),
        _ => s.to_string(),
    }
}

#[tokio::test]
async fn hostile_input_is_refused_without_redirect() {
    let w = start().await;
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sso = format!("{}/saml/sso", w.poort);
    let acs = format!("{}/saml/acs", w.poort);
    let page = |r: reqwest::Response| async move {
        let s = r.status().as_u16();
        assert!(r.headers().get("location").is_none(), "never a redirect");
        (s, r.text().await.unwrap())
    };

    // Malformed base64, deflate, no message.
    let (s, p) = page(
        c.get(format!("{sso}?SAMLRequest=%%%"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400, "{p}");
    let (s, _) = page(
        c.get(format!("{sso}?SAMLRequest=bm90LWRlZmxhdGU%3D"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = page(c.get(sso.clone()).send().await.unwrap()).await;
    assert_eq!(s, 400);
    let (s, _) = page(
        c.post(&acs)
            .form(&[("SAMLResponse", "!!not base64!!")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);

    // DTD, entity expansion, XXE.
    for doc in [
        r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" InResponseTo="&x;"/>"#,
        r#"<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" InResponseTo="&c;"/>"#,
    ] {
        let (s, p) = page(
            c.post(&acs)
                .form(&[("SAMLResponse", binding::encode_post(doc))])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 400, "{p}");
        assert!(!p.contains("root:"), "no file contents leak");
    }

    // Oversized body.
    let big = "A".repeat(300 * 1024);
    let r = c
        .post(&acs)
        .form(&[("SAMLResponse", big)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    // Unknown issuer, unsigned request, ACS URL not in metadata, RelayState over 80 bytes.
    let dv_key = SigningKey::load(
        &w.certs.join("demo-dv-signing.key"),
        &w.certs.join("demo-dv-signing.crt"),
    )
    .unwrap();
    let request = |issuer: &str, acs_url: &str| {
        let id = xml::new_id();
        poort::saml::sp::AdRequest::new(&id, issuer, &sso, acs_url, Level::Eh3, chrono::Utc::now())
            .write(None)
            .unwrap()
    };
    let dv_acs = format!("{}/acs", w.dv);
    let unknown = binding::redirect_url(
        &sso,
        "SAMLRequest",
        &request("urn:etoegang:DV:00000000000000000666:entities:1", &dv_acs),
        None,
        &dv_key,
    )
    .unwrap();
    let (s, p) = page(c.get(unknown).send().await.unwrap()).await;
    assert_eq!(s, 400);
    assert!(p.contains("niet aangesloten"), "{p}");

    let good_request = request(poort::demo::DEMO_DV_ENTITY_ID, &dv_acs);
    let unsigned =
        binding::redirect_url(&sso, "SAMLRequest", &good_request, None, &dv_key).unwrap();
    let unsigned = unsigned.split("&SigAlg=").next().unwrap().to_string();
    let (s, p) = page(c.get(unsigned).send().await.unwrap()).await;
    assert_eq!(s, 400);
    assert!(p.contains("niet worden gecontroleerd"), "{p}");

    let wrong_key =
        binding::redirect_url(&sso, "SAMLRequest", &good_request, None, &ad_key(&w)).unwrap();
    let (s, _) = page(c.get(wrong_key).send().await.unwrap()).await;
    assert_eq!(s, 400);

    let evil_acs = binding::redirect_url(
        &sso,
        "SAMLRequest",
        &request(poort::demo::DEMO_DV_ENTITY_ID, "https://evil.example/acs"),
        None,
        &dv_key,
    )
    .unwrap();
    let (s, p) = page(c.get(evil_acs).send().await.unwrap()).await;
    assert_eq!(s, 400);
    assert!(
        !p.contains("evil.example"),
        "never sent to an unverified URL"
    );

    let long_relay = "r".repeat(81);
    let relay = binding::redirect_url(
        &sso,
        "SAMLRequest",
        &good_request,
        Some(&long_relay),
        &dv_key,
    )
    .unwrap();
    let (s, _) = page(c.get(relay).send().await.unwrap()).await;
    assert_eq!(s, 400);
    let _ = client();
}
