//! The HTTP-Redirect binding at poort's /saml/sso: the detached signature is verified over the
//! query's raw bytes as received (SAML bindings 3.4.4.1), queries are written by hand here.

mod common;

use base64::Engine;
use common::{dv_key, start, start_prepared, World};
use flate2::write::DeflateEncoder;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use poort::config::ServiceConfig;
use poort::demo::DEMO_DV_ENTITY_ID;
use poort::keys::SigningKey;
use poort::saml::xml::{self, escape, instant, NS_SAML, NS_SAMLP};
use std::io::Write;

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
const EC_DV: &str = "urn:etoegang:DV:00000099990000000005:entities:1";
const EC_SERVICE: &str = "urn:etoegang:DV:00000099990000000005:services:1";

/// A correct AuthnRequest from `issuer` for its service 1.
fn request_xml(w: &World, issuer: &str) -> String {
    format!(
        concat!(
            r#"<samlp:AuthnRequest xmlns:samlp="{}" xmlns:saml="{}" ID="{}" Version="2.0" IssueInstant="{}" Destination="{}/saml/sso" AssertionConsumerServiceIndex="0" AttributeConsumingServiceIndex="1">"#,
            r#"<saml:Issuer>{}</saml:Issuer></samlp:AuthnRequest>"#
        ),
        NS_SAMLP,
        NS_SAML,
        xml::new_id(),
        instant(chrono::Utc::now()),
        w.poort,
        escape(issuer)
    )
}

fn deflate_b64(data: &[u8]) -> String {
    let mut d = DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    d.write_all(data).unwrap();
    base64::engine::general_purpose::STANDARD.encode(d.finish().unwrap())
}

/// Percent-encodes all but RFC 3986's unreserved characters ('~' stays as it is), with lower-
/// or upper-case hex digits.
fn encode(value: &str, lower: bool) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else if lower {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The raw (already encoded) parameters of a redirect query.
struct Query {
    request: String,
    relay: Option<String>,
    sig_alg: String,
}

impl Query {
    fn new(xml: &str, relay: Option<&str>, alg: &str, lower: bool) -> Query {
        Query {
            request: encode(&deflate_b64(xml.as_bytes()), lower),
            relay: relay.map(|r| encode(r, lower)),
            sig_alg: encode(alg, lower),
        }
    }

    /// The signed octets: the raw values in the binding's fixed order.
    fn octets(&self) -> String {
        let mut s = format!("SAMLRequest={}", self.request);
        if let Some(r) = &self.relay {
            s.push_str(&format!("&RelayState={r}"));
        }
        s.push_str(&format!("&SigAlg={}", self.sig_alg));
        s
    }
}

async fn get(w: &World, query: &str) -> reqwest::Response {
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    c.get(format!("{}/saml/sso?{query}", w.poort))
        .send()
        .await
        .unwrap()
}

/// poort accepted the request and sent the person to the dev AD.
async fn accepted(w: &World, query: &str) {
    let r = get(w, query).await;
    let status = r.status();
    let loc = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    let body = r.text().await.unwrap();
    assert_eq!(status, 303, "{query}\n{body}");
    assert!(loc.unwrap().starts_with(&format!("{}/sso?", w.ad)));
}

/// poort refused the request with a page and no redirect; it still answers afterwards.
async fn refused(w: &World, query: &str) -> String {
    let r = get(w, query).await;
    assert_eq!(r.status(), 400, "{query}");
    assert!(r.headers().get("location").is_none(), "never a redirect");
    let page = r.text().await.unwrap();
    assert!(page.contains("Referentienummer"), "{page}");
    assert!(!page.contains("SAMLResponse"), "{page}");
    let health = reqwest::get(format!("{}/saml/metadata", w.poort))
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "poort still serves");
    page
}

#[tokio::test]
async fn lower_case_escapes_and_unescaped_tilde_verify_as_received() {
    let w = start().await;
    let key = dv_key(&w);
    let q = Query::new(
        &request_xml(&w, DEMO_DV_ENTITY_ID),
        Some("to~the/page?x=1"),
        RSA_SHA256,
        true,
    );
    assert!(q.sig_alg.starts_with("http%3a%2f%2f"), "{}", q.sig_alg);
    assert!(q.relay.as_ref().unwrap().contains("to~the%2fpage"));
    let signed = q.octets();
    let sig = encode(&b64(&key.sign_bytes(signed.as_bytes()).unwrap()), true);
    accepted(&w, &format!("{signed}&Signature={sig}")).await;

    // The same values with upper-case escapes in SigAlg decode to the same text, but they are
    // not the bytes that were signed: refused. (poort does not re-encode the query.)
    let upper = signed.replace("http%3a%2f%2f", "http%3A%2F%2F");
    assert_ne!(upper, signed);
    refused(&w, &format!("{upper}&Signature={sig}")).await;
    // An escaped '~' likewise.
    let tilde = signed.replace("to~the", "to%7Ethe");
    refused(&w, &format!("{tilde}&Signature={sig}")).await;
}

#[tokio::test]
async fn rsa_sha1_is_refused() {
    let w = start().await;
    let key = dv_key(&w);
    let q = Query::new(&request_xml(&w, DEMO_DV_ENTITY_ID), None, RSA_SHA1, false);
    let signed = q.octets();
    let mut signer = Signer::new(MessageDigest::sha1(), &key.key).unwrap();
    signer.update(signed.as_bytes()).unwrap();
    let sig = encode(&b64(&signer.sign_to_vec().unwrap()), false);
    refused(&w, &format!("{signed}&Signature={sig}")).await;
}

#[tokio::test]
async fn signature_without_sig_alg_is_refused_without_panic() {
    let w = start().await;
    let key = dv_key(&w);
    let q = Query::new(&request_xml(&w, DEMO_DV_ENTITY_ID), None, RSA_SHA256, false);
    let signed = q.octets();
    let sig = encode(&b64(&key.sign_bytes(signed.as_bytes()).unwrap()), false);
    let without = format!("SAMLRequest={}&Signature={sig}", q.request);
    refused(&w, &without).await;
    // An empty SigAlg is no better.
    refused(
        &w,
        &format!("SAMLRequest={}&SigAlg=&Signature={sig}", q.request),
    )
    .await;
    // The complete query is still fine.
    accepted(&w, &format!("{signed}&Signature={sig}")).await;
}

#[tokio::test]
async fn reordered_parameters_still_verify() {
    let w = start().await;
    let key = dv_key(&w);
    for order in 0..3 {
        let q = Query::new(
            &request_xml(&w, DEMO_DV_ENTITY_ID),
            Some("state 1"),
            RSA_SHA256,
            false,
        );
        let sig = encode(&b64(&key.sign_bytes(q.octets().as_bytes()).unwrap()), false);
        let relay = q.relay.clone().unwrap();
        let query = match order {
            0 => format!(
                "SigAlg={}&SAMLRequest={}&RelayState={relay}&Signature={sig}",
                q.sig_alg, q.request
            ),
            1 => format!(
                "Signature={sig}&RelayState={relay}&SigAlg={}&SAMLRequest={}",
                q.sig_alg, q.request
            ),
            // Unknown parameters are left out of the signed octets.
            _ => format!(
                "utm=1&SAMLRequest={}&x=y&RelayState={relay}&SigAlg={}&Signature={sig}",
                q.request, q.sig_alg
            ),
        };
        accepted(&w, &query).await;
    }
}

#[tokio::test]
async fn duplicate_parameters_are_refused() {
    let w = start().await;
    let key = dv_key(&w);
    let q = Query::new(&request_xml(&w, DEMO_DV_ENTITY_ID), None, RSA_SHA256, false);
    let signed = q.octets();
    let sig = encode(&b64(&key.sign_bytes(signed.as_bytes()).unwrap()), false);
    let other = encode(
        &deflate_b64(request_xml(&w, DEMO_DV_ENTITY_ID).as_bytes()),
        false,
    );
    refused(
        &w,
        &format!("{signed}&Signature={sig}&SAMLRequest={}", q.request),
    )
    .await;
    refused(&w, &format!("SAMLRequest={other}&{signed}&Signature={sig}")).await;
    refused(&w, &format!("{signed}&Signature={sig}&Signature={sig}")).await;
    refused(
        &w,
        &format!("{signed}&SigAlg={}&Signature={sig}", q.sig_alg),
    )
    .await;
}

#[tokio::test]
async fn deflate_bomb_is_refused() {
    let w = start().await;
    // 1 MiB of XML-ish text deflates to about a kilobyte.
    let mut bomb = b"<samlp:AuthnRequest>".to_vec();
    bomb.resize(1024 * 1024, b' ');
    let encoded = deflate_b64(&bomb);
    assert!(encoded.len() < 4 * 1024, "{}", encoded.len());
    let page = refused(&w, &format!("SAMLRequest={}", encode(&encoded, false))).await;
    assert!(page.contains("beschadigd"), "{page}");
    // Just over the 128 KiB limit is refused as well; a correct request of course is not.
    let mut over = vec![b' '; 128 * 1024 + 1];
    over[..20].copy_from_slice(b"<samlp:AuthnRequest>");
    refused(
        &w,
        &format!("SAMLRequest={}", encode(&deflate_b64(&over), false)),
    )
    .await;
}

/// An EC P-256 key with a self-signed certificate.
fn ec_key() -> SigningKey {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = openssl::x509::X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "EC test DV").unwrap();
    let name = name.build();
    let mut b = openssl::x509::X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(
        &openssl::bn::BigNum::from_u32(7)
            .unwrap()
            .to_asn1_integer()
            .unwrap(),
    )
    .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let cert = b.build();
    let key = SigningKey::from_pem(
        &key.private_key_to_pem_pkcs8().unwrap(),
        &cert.to_pem().unwrap(),
        std::path::Path::new("ec.key"),
        std::path::Path::new("ec.crt"),
    )
    .unwrap();
    assert_eq!(key.alg.uri(), ECDSA_SHA256);
    key
}

/// ECDSA's DER signature as XML-DSig's raw r||s (32 bytes each for P-256).
fn raw_r_s(der: &[u8]) -> Vec<u8> {
    let sig = openssl::ecdsa::EcdsaSig::from_der(der).unwrap();
    let mut out = sig.r().to_vec_padded(32).unwrap();
    out.extend(sig.s().to_vec_padded(32).unwrap());
    out
}

#[tokio::test]
async fn ecdsa_p256_signatures_verify_as_der_and_as_raw() {
    let key = ec_key();
    let cert = key.cert_der.clone();
    let w = start_prepared(|p, config| {
        let md = poort::demo::metadata::demo_dv_metadata(
            EC_DV,
            &format!("{}/acs", p.dv),
            &cert,
            None,
            &[(1, EC_SERVICE, "EC-dienst", "EC service")],
        );
        std::fs::write(p.sp_dir.join("ec-dv.xml"), md).unwrap();
        config.services.push(ServiceConfig::new(
            EC_SERVICE,
            "5a1d3b0e-8c9f-4f5e-9b1a-0000000000e1",
            ("EC-dienst", "EC service"),
            EC_DV,
            1,
            "EH3".parse().unwrap(),
        ));
    })
    .await;

    // poort's own encoder: a DER signature.
    let url = poort::saml::binding::redirect_url(
        &format!("{}/saml/sso", w.poort),
        "SAMLRequest",
        &request_xml(&w, EC_DV),
        Some("ec"),
        &key,
    )
    .unwrap();
    accepted(&w, url.split_once('?').unwrap().1).await;

    for raw in [false, true] {
        let q = Query::new(&request_xml(&w, EC_DV), None, ECDSA_SHA256, false);
        let signed = q.octets();
        let der = key.sign_bytes(signed.as_bytes()).unwrap();
        let sig = if raw { raw_r_s(&der) } else { der };
        if raw {
            assert_eq!(sig.len(), 64);
        }
        accepted(
            &w,
            &format!("{signed}&Signature={}", encode(&b64(&sig), false)),
        )
        .await;

        // The same signature over other bytes does not verify.
        let q2 = Query::new(&request_xml(&w, EC_DV), None, ECDSA_SHA256, false);
        refused(
            &w,
            &format!("{}&Signature={}", q2.octets(), encode(&b64(&sig), false)),
        )
        .await;
    }
    // An ECDSA signature under an RSA SigAlg is refused.
    let q = Query::new(&request_xml(&w, EC_DV), None, RSA_SHA256, false);
    let sig = key.sign_bytes(q.octets().as_bytes()).unwrap();
    refused(
        &w,
        &format!("{}&Signature={}", q.octets(), encode(&b64(&sig), false)),
    )
    .await;
}
