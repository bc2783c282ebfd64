//! Requested attributes, identifiers and data minimisation (issue 13, point 3): the AD is asked
//! for what the service asks for, in the afsprakenstelsel's request extension; the DV gets only
//! that (what the AD encrypted, encrypted again to the DV's key) and poort's own attributes,
//! whatever else the AD sends; the organisation is named by the identifiers the service accepts.
//!
//! The AD's answers are written by hand here (`AdResponse`), so that it can send what nobody
//! asked for; the DV's side is read from the raw XML poort posts, with the DV's own key.

mod common;

use common::{dv_answer, service, start_prepared, stopped_at_ad, DvAnswer, World};
use openssl::pkey::{PKey, Private, Public};
use poort::config::{RequestedAttribute, ServiceConfig};
use poort::domain::attributes::{Attribute, AttributeValue};
use poort::saml::idp::{STATUS_REQUEST_DENIED, STATUS_RESPONDER, STATUS_SUCCESS};
use poort::saml::{encrypt, xml};

const FIRST: &str = "urn:etoegang:1.9:attribute:FirstName";
const FAMILY: &str = "urn:etoegang:1.9:attribute:FamilyName";
const BIRTH: &str = "urn:etoegang:1.9:attribute:DateOfBirth";
const LEGAL: &str = "urn:etoegang:core:LegalSubjectID";
const KVK: &str = "urn:etoegang:1.9:EntityConcernedID:KvKnr";
const RSIN: &str = "urn:etoegang:1.9:EntityConcernedID:RSIN";
const NS_ESP: &str = "urn:etoegang:1.9:samlp-extension";
const NS_MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const NS_SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// Service 2 asks for a first name (required) and a date of birth, and (to show poort never
/// asks an AD for it) the LegalSubjectID it answers for itself, and `more`; it accepts
/// `identifiers`.
fn service_2(identifiers: &[&str], more: &[&str]) -> ServiceConfig {
    let mut s = service(2, "EH2+");
    let mut asked = vec![(FIRST, true), (BIRTH, false), (LEGAL, true)];
    asked.extend(more.iter().map(|name| (*name, true)));
    s.requested_attributes = asked
        .iter()
        .map(|(name, required)| RequestedAttribute {
            name: name.to_string(),
            required: *required,
            purpose: None,
        })
        .collect();
    s.entity_concerned_types = identifiers.iter().map(|t| t.to_string()).collect();
    s
}

async fn world(identifiers: &[&str]) -> World {
    world_asking(identifiers, &[]).await
}

async fn world_asking(identifiers: &[&str], more: &[&str]) -> World {
    let service_2 = service_2(identifiers, more);
    start_prepared(move |_, config| {
        config.services = vec![service(1, "EH3"), service_2];
    })
    .await
}

fn pem_key(w: &World, file: &str) -> PKey<Private> {
    PKey::private_key_from_pem(&std::fs::read(w.certs.join(file)).unwrap()).unwrap()
}

fn poort_encryption_key(w: &World) -> PKey<Public> {
    let cert = openssl::x509::X509::from_pem(
        &std::fs::read(w.certs.join("poort-encryption.crt")).unwrap(),
    )
    .unwrap();
    cert.public_key().unwrap()
}

/// The AD's answer to `request` for `subject`, with `attributes`; the confidential ones
/// encrypted to poort's encryption key.
fn ad_answer(w: &World, request: &str, subject: &str, attributes: Vec<Attribute>) -> String {
    let doc = roxmltree::Document::parse(request).unwrap();
    let id = doc.root_element().attribute("ID").unwrap();
    let mut answer = common::ad_response(w, id, subject);
    answer.attributes = attributes;
    answer.attributes_encrypt_to = Some(poort_encryption_key(w));
    answer.build(&common::dev_ad_key(w)).unwrap()
}

/// Everything an AD could send: the requested first name and date of birth (encrypted), a
/// family name nobody asked for, and a LegalSubjectID of its own (poort answers for that).
fn everything() -> Vec<Attribute> {
    let text = |name: &str, value: &str, confidential: bool| Attribute {
        name: name.into(),
        values: vec![AttributeValue::Text(value.into())],
        confidential,
    };
    vec![
        text(FIRST, "Bram", false),
        text(FAMILY, "Jansen", false),
        text(BIRTH, "1980-01-01", true),
        Attribute {
            name: LEGAL.into(),
            values: vec![AttributeValue::NameId {
                qualifier: Some(KVK.into()),
                format: None,
                value: "99999999".into(),
            }],
            confidential: false,
        },
    ]
}

async fn post_acs(w: &World, c: &reqwest::Client, xml: &str) -> String {
    common::post_acs(w, c, xml).await.text().await.unwrap()
}

/// What the DV reads in poort's answer: the plaintext assertion (decrypted with the DV's key),
/// its attributes in the clear by name (each value with its NameQualifier, if a NameID), and
/// its EncryptedAttributes decrypted with the DV's key.
struct Received {
    assertion: String,
    clear: Vec<Named>,
    decrypted: Vec<Named>,
}

/// A value as the DV reads it: its NameQualifier (for a NameID) and its text.
type Value = (Option<String>, String);
/// An attribute's name and values.
type Named = (String, Vec<Value>);

fn values(attribute: roxmltree::Node<'_, '_>) -> Named {
    let name = attribute.attribute("Name").unwrap().to_string();
    let values = attribute
        .children()
        .filter(|v| v.has_tag_name((NS_SAML, "AttributeValue")))
        .map(|v| match v.children().find(|n| n.is_element()) {
            Some(id) => (
                id.attribute("NameQualifier").map(str::to_string),
                id.text().unwrap_or_default().to_string(),
            ),
            None => (None, v.text().unwrap_or_default().to_string()),
        })
        .collect();
    (name, values)
}

fn received(w: &World, answer: &DvAnswer) -> Received {
    assert_eq!(answer.status, STATUS_SUCCESS, "{}", answer.xml);
    let dv_key = pem_key(w, "demo-dv-encryption.key");
    let doc = xml::parse(&answer.xml).unwrap();
    let encrypted = doc
        .descendants()
        .find(|n| n.has_tag_name((NS_SAML, "EncryptedAssertion")))
        .expect("the assertion is encrypted to the DV");
    let assertion = encrypt::decrypt_element(encrypted, &dv_key).unwrap();
    let adoc = roxmltree::Document::parse(&assertion).unwrap();
    let clear = adoc
        .descendants()
        .filter(|n| n.has_tag_name((NS_SAML, "Attribute")))
        .map(values)
        .collect();
    let decrypted = adoc
        .descendants()
        .filter(|n| n.has_tag_name((NS_SAML, "EncryptedAttribute")))
        .map(|enc| {
            let plain = encrypt::decrypt_element(enc, &dv_key).expect("decrypts with the DV's key");
            let pdoc = roxmltree::Document::parse(&plain).unwrap();
            values(pdoc.root_element())
        })
        .collect();
    Received {
        assertion,
        clear,
        decrypted,
    }
}

fn names(attributes: &[Named]) -> Vec<&str> {
    attributes.iter().map(|(n, _)| n.as_str()).collect()
}

fn legal_subject(r: &Received) -> Vec<Value> {
    r.clear
        .iter()
        .find(|(n, _)| n == LEGAL)
        .map(|(_, v)| v.clone())
        .expect("a LegalSubjectID")
}

const POORTS_OWN: [&str; 5] = [
    "urn:etoegang:core:ServiceID",
    "urn:etoegang:core:ServiceUUID",
    "urn:etoegang:core:ActingSubjectID",
    LEGAL,
    "urn:etoegang:1.11:attribute-represented:CompanyName",
];

#[tokio::test]
async fn the_ad_is_asked_for_what_the_service_asks_and_the_dv_gets_only_that() {
    let w = world(&[KVK, RSIN]).await;
    let (c, request) = stopped_at_ad(&w, 2).await;

    // The request extension, read from the request as sent: exactly the service's attributes
    // that the AD can give, none that poort answers for itself.
    let doc = roxmltree::Document::parse(&request).unwrap();
    let list = doc
        .descendants()
        .find(|n| n.has_tag_name((NS_ESP, "RequestedAttributes")))
        .expect("esp:RequestedAttributes in the AuthnRequest");
    assert!(list
        .parent()
        .is_some_and(|p| p.tag_name().name() == "Extensions"));
    let asked: Vec<(&str, &str)> = list
        .children()
        .filter(|n| n.has_tag_name((NS_MD, "RequestedAttribute")))
        .map(|n| {
            (
                n.attribute("Name").unwrap(),
                n.attribute("isRequired").unwrap(),
            )
        })
        .collect();
    assert_eq!(asked, [(FIRST, "true"), (BIRTH, "false")]);

    let answer = post_acs(&w, &c, &ad_answer(&w, &request, "bram", everything())).await;
    let r = received(&w, &dv_answer(&w, &answer));

    // In the clear: poort's own five and the first name; the family name nobody asked for is
    // not there, not even as text; the date of birth only encrypted, to the DV's key.
    let mut expected = POORTS_OWN.to_vec();
    expected.push(FIRST);
    assert_eq!(names(&r.clear), expected);
    assert!(!r.assertion.contains("Jansen") && !r.assertion.contains(FAMILY));
    assert!(!r.assertion.contains("1980-01-01"), "never in the clear");
    assert_eq!(
        r.decrypted,
        [(BIRTH.to_string(), vec![(None, "1980-01-01".to_string())])]
    );
    let first = &r.clear.iter().find(|(n, _)| n == FIRST).unwrap().1;
    assert_eq!(first, &[(None, "Bram".to_string())]);

    // The organisation from the register, not the AD's: Groen Dak has no RSIN, so its KvK
    // number alone, although the service accepts both.
    assert_eq!(legal_subject(&r), [(Some(KVK.into()), "11223344".into())]);
}

#[tokio::test]
async fn a_service_that_asks_for_nothing_gets_nothing_from_the_ad() {
    let w = world(&[KVK, RSIN]).await;
    let (c, request) = stopped_at_ad(&w, 1).await;
    assert!(
        !request.contains(NS_ESP) && !request.contains("Extensions"),
        "nothing asked: {request}"
    );
    let answer = post_acs(&w, &c, &ad_answer(&w, &request, "anna", everything())).await;
    // anna acts for two organisations: she picks the Bakkerij, which has an RSIN too.
    assert!(answer.contains("Bakkerij De Gouden Korst B.V."), "{answer}");
    let answer = common::submit_at(&c, &w.poort, &answer, &[("organisation", "12345678")])
        .await
        .text()
        .await
        .unwrap();
    let r = received(&w, &dv_answer(&w, &answer));
    assert_eq!(names(&r.clear), POORTS_OWN);
    assert!(r.decrypted.is_empty());
    assert!(!r.assertion.contains("Bram") && !r.assertion.contains("Jansen"));
    // Service 1 names no identifier types: the KvK number, as every eHerkenning service takes.
    assert_eq!(legal_subject(&r), [(Some(KVK.into()), "12345678".into())]);
}

/// Both ways a service says it takes the RSIN: its catalogue entry's EntityConcernedTypesAllowed,
/// or asking for `urn:etoegang:1.9:EntityConcernedID:RSIN` as an attribute (as DV metadata does;
/// poort answers that itself, the AD is not asked).
#[tokio::test]
async fn kvk_number_and_rsin_side_by_side_where_the_service_accepts_both() {
    for w in [world(&[KVK, RSIN]).await, world_asking(&[], &[RSIN]).await] {
        kvk_number_and_rsin_side_by_side(&w).await;
    }
}

async fn kvk_number_and_rsin_side_by_side(w: &World) {
    let (c, request) = stopped_at_ad(w, 2).await;
    assert!(!request.contains(RSIN), "not asked of the AD: {request}");
    let answer = post_acs(w, &c, &ad_answer(w, &request, "anna", vec![])).await;
    let answer = common::submit_at(&c, &w.poort, &answer, &[("organisation", "12345678")])
        .await
        .text()
        .await
        .unwrap();
    let r = received(w, &dv_answer(w, &answer));
    assert_eq!(
        legal_subject(&r),
        [
            (Some(KVK.into()), "12345678".into()),
            (Some(RSIN.into()), "805123453".into())
        ],
        "one LegalSubjectID, a NameID per identifier, told apart by NameQualifier"
    );
}

#[tokio::test]
async fn an_rsin_only_service_names_organisations_by_rsin_and_refuses_those_without() {
    let w = world(&[RSIN]).await;

    // anna acts for the Bakkerij (RSIN in the register) and for Van Dijk (none): only the
    // Bakkerij can be named to this service, so no choice is offered.
    let (c, request) = stopped_at_ad(&w, 2).await;
    let answer = post_acs(&w, &c, &ad_answer(&w, &request, "anna", vec![])).await;
    let r = received(&w, &dv_answer(&w, &answer));
    assert_eq!(legal_subject(&r), [(Some(RSIN.into()), "805123453".into())]);
    assert!(
        !r.assertion.contains("12345678"),
        "the KvK number is not asked for"
    );

    // bram's only organisation has no RSIN: refused, and the DV is told why.
    let (c, request) = stopped_at_ad(&w, 2).await;
    let page = post_acs(&w, &c, &ad_answer(&w, &request, "bram", vec![])).await;
    assert!(
        page.contains("RSIN"),
        "the person reads what is missing: {page}"
    );
    let refusal = dv_answer(&w, &page);
    assert_eq!(refusal.status, STATUS_RESPONDER);
    assert_eq!(
        refusal.second_status.as_deref(),
        Some(STATUS_REQUEST_DENIED)
    );
    assert_eq!(
        refusal.status_message.as_deref(),
        Some("No valid authorisation: no_accepted_identifier")
    );
}

#[tokio::test]
async fn a_service_accepting_no_identifier_poort_can_give_is_refused_at_the_request() {
    let w = world(&["urn:etoegang:1.12:EntityConcernedID:BSN"]).await;
    let url = format!("{}/login?service=2&binding=redirect", w.dv);
    let page = common::page(&common::client(), url).await;
    let refusal = dv_answer(&w, &page);
    assert_eq!(
        refusal.status,
        "urn:oasis:names:tc:SAML:2.0:status:Requester"
    );
    let message = refusal.status_message.unwrap_or_default();
    assert!(
        message.contains("organisation identifiers poort cannot give")
            && message.contains("EntityConcernedID:BSN"),
        "{message}"
    );
}
