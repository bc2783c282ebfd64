//! The options of a DV's AuthnRequest, each sent by hand to poort's /saml/sso and followed to
//! where poort sends the person: the level asked for and how to compare it, IsPassive,
//! ForceAuthn, Scoping, the choice between identity providers, the ACS, RelayState, the time
//! window, replays, Destination, unsigned requests, and a flow continued in another browser.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{
    browser, dv_answer, dv_key, start, start_prepared, upstream_request, DvAnswer, World,
};
use poort::config::DvConfig;
use poort::demo::{DEMO_DV_ENTITY_ID, DEV_AD_ENTITY_ID};
use poort::domain::level::Comparison;
use poort::keys::SigningKey;
use poort::saml::binding;
use poort::saml::idp::{
    STATUS_NO_AUTHN_CONTEXT, STATUS_NO_AVAILABLE_IDP, STATUS_NO_PASSIVE, STATUS_REQUESTER,
    STATUS_REQUEST_DENIED, STATUS_REQUEST_UNSUPPORTED, STATUS_RESPONDER, STATUS_SUCCESS,
};
use poort::saml::xml::{self, escape, instant, NS_SAML, NS_SAMLP, NS_XENC};
use poort::saml::{dsig, encrypt};

const LOA1: &str = "urn:etoegang:core:assurance-class:loa1";
const LOA2: &str = "urn:etoegang:core:assurance-class:loa2";
const LOA2PLUS: &str = "urn:etoegang:core:assurance-class:loa2plus";
const LOA3: &str = "urn:etoegang:core:assurance-class:loa3";
const LOA4: &str = "urn:etoegang:core:assurance-class:loa4";
const SECOND_AD: &str = "urn:etoegang:AD:00000099990000000004:entities:1";

/// An AuthnRequest from the demo DV, written by hand; every attribute is a knob.
#[derive(Clone)]
struct Req {
    id: String,
    issuer: String,
    issue_instant: DateTime<Utc>,
    destination: Option<String>,
    acs_index: Option<u16>,
    acs_url: Option<String>,
    protocol_binding: Option<String>,
    service: Option<u16>,
    /// Comparison and AuthnContextClassRefs.
    context: Option<(&'static str, Vec<&'static str>)>,
    force_authn: bool,
    is_passive: bool,
    idp_list: Vec<String>,
}

impl Req {
    /// A correct request for `service`, answered at ACS index 0.
    fn new(w: &World, service: u16) -> Req {
        Req {
            id: xml::new_id(),
            issuer: DEMO_DV_ENTITY_ID.to_string(),
            issue_instant: Utc::now(),
            destination: Some(format!("{}/saml/sso", w.poort)),
            acs_index: Some(0),
            acs_url: None,
            protocol_binding: None,
            service: Some(service),
            context: None,
            force_authn: false,
            is_passive: false,
            idp_list: Vec::new(),
        }
    }

    fn level(mut self, comparison: &'static str, refs: &[&'static str]) -> Req {
        self.context = Some((comparison, refs.to_vec()));
        self
    }

    /// The XML, with an enveloped signature when `key` is given.
    fn xml(&self, key: Option<&SigningKey>) -> String {
        let attr = |name: &str, v: Option<String>| {
            v.map(|v| format!(r#" {name}="{}""#, escape(&v)))
                .unwrap_or_default()
        };
        let context = self
            .context
            .as_ref()
            .map(|(cmp, refs)| {
                let refs: String = refs
                    .iter()
                    .map(|r| format!("<saml:AuthnContextClassRef>{r}</saml:AuthnContextClassRef>"))
                    .collect();
                format!(
                    r#"<samlp:RequestedAuthnContext Comparison="{cmp}">{refs}</samlp:RequestedAuthnContext>"#
                )
            })
            .unwrap_or_default();
        let scoping = if self.idp_list.is_empty() {
            String::new()
        } else {
            let entries: String = self
                .idp_list
                .iter()
                .map(|i| format!(r#"<samlp:IDPEntry ProviderID="{}"/>"#, escape(i)))
                .collect();
            format!("<samlp:Scoping><samlp:IDPList>{entries}</samlp:IDPList></samlp:Scoping>")
        };
        let request = format!(
            concat!(
                r#"<samlp:AuthnRequest xmlns:samlp="{samlp}" xmlns:saml="{saml}" ID="{id}" Version="2.0" IssueInstant="{now}"{dest}{acs_index}{acs_url}{binding}{service}{force}{passive}>"#,
                r#"<saml:Issuer>{issuer}</saml:Issuer>{sig}{context}{scoping}</samlp:AuthnRequest>"#
            ),
            samlp = NS_SAMLP,
            saml = NS_SAML,
            id = escape(&self.id),
            now = instant(self.issue_instant),
            dest = attr("Destination", self.destination.clone()),
            acs_index = attr(
                "AssertionConsumerServiceIndex",
                self.acs_index.map(|i| i.to_string())
            ),
            acs_url = attr("AssertionConsumerServiceURL", self.acs_url.clone()),
            binding = attr("ProtocolBinding", self.protocol_binding.clone()),
            service = attr(
                "AttributeConsumingServiceIndex",
                self.service.map(|i| i.to_string())
            ),
            force = attr("ForceAuthn", self.force_authn.then(|| "true".to_string())),
            passive = attr("IsPassive", self.is_passive.then(|| "true".to_string())),
            issuer = escape(&self.issuer),
            sig = key.map(|k| dsig::template(&self.id, k)).unwrap_or_default(),
            context = context,
            scoping = scoping,
        );
        match key {
            Some(k) => dsig::sign(&request, k).unwrap(),
            None => request,
        }
    }
}

/// Sends `req` over the HTTP-Redirect binding, signed with the demo DV's key.
async fn redirect(
    w: &World,
    c: &reqwest::Client,
    req: &Req,
    relay: Option<&str>,
) -> reqwest::Response {
    let url = binding::redirect_url(
        &format!("{}/saml/sso", w.poort),
        "SAMLRequest",
        &req.xml(None),
        relay,
        &dv_key(w),
    )
    .unwrap();
    c.get(url).send().await.unwrap()
}

/// Sends `req` over the HTTP-POST binding, with an enveloped signature when `signed`.
async fn post(
    w: &World,
    c: &reqwest::Client,
    req: &Req,
    relay: Option<&str>,
    signed: bool,
) -> reqwest::Response {
    let key = dv_key(w);
    let xml = req.xml(signed.then_some(&key));
    let mut fields = vec![("SAMLRequest", binding::encode_post(&xml))];
    if let Some(r) = relay {
        fields.push(("RelayState", r.to_string()));
    }
    c.post(format!("{}/saml/sso", w.poort))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("a redirect expected, got {}", r.status()))
        .to_str()
        .unwrap()
        .to_string()
}

/// poort sent the person straight to the dev AD: returns the redirect URL and poort's request.
fn to_ad(w: &World, r: &reqwest::Response) -> (String, poort::saml::idp::AuthnRequest) {
    assert_eq!(r.status(), 303, "a redirect to the AD expected");
    let loc = location(r);
    assert!(loc.starts_with(&format!("{}/sso?", w.ad)), "{loc}");
    let request = upstream_request(&loc);
    (loc, request)
}

/// poort stopped with an error page (HTTP `status`) that carries a signed SAML error for the DV.
async fn refused(w: &World, r: reqwest::Response, status: u16) -> DvAnswer {
    assert_eq!(r.status(), status);
    assert!(r.headers().get("location").is_none(), "never a redirect");
    let answer = dv_answer(w, &r.text().await.unwrap());
    assert_eq!(answer.action, format!("{}/acs", w.dv));
    answer
}

/// poort stopped with a page only: nothing goes back to an unverified DV.
async fn page_only(r: reqwest::Response, status: u16) -> String {
    assert_eq!(r.status(), status);
    assert!(r.headers().get("location").is_none(), "never a redirect");
    let page = r.text().await.unwrap();
    assert!(!page.contains("SAMLResponse"), "{page}");
    assert!(page.contains("Referentienummer"), "{page}");
    page
}

fn codes(a: &DvAnswer) -> (&str, Option<&str>) {
    (a.status.as_str(), a.second_status.as_deref())
}

/// Logs in at the dev AD (the page at `ad_url`) as `person` at `level`, and brings the answer to
/// poort with the redirect-following client; returns poort's last page.
async fn at_ad(
    follow: &reqwest::Client,
    ad_url: &str,
    person: &str,
    level: &str,
) -> reqwest::Response {
    let ad_page = follow
        .get(ad_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ad_page.contains("name=\"pending\""), "{ad_page}");
    let to_poort = common::submit(
        follow,
        &ad_page,
        &[("person", person), ("level", level), ("action", "login")],
    )
    .await
    .text()
    .await
    .unwrap();
    common::submit(follow, &to_poort, &[]).await
}

/// The assertion in a successful answer, decrypted with the demo DV's key; returns its
/// AuthnContextClassRef and ServiceID.
fn assertion_level(w: &World, answer: &DvAnswer) -> (String, String) {
    assert_eq!(answer.status, STATUS_SUCCESS, "{}", answer.xml);
    let doc = xml::parse(&answer.xml).unwrap();
    let encrypted = doc
        .descendants()
        .find(|n| xml::is(*n, NS_SAML, "EncryptedAssertion"))
        .expect("an encrypted assertion");
    assert!(xml::child(encrypted, NS_XENC, "EncryptedData").is_some());
    let key = openssl::pkey::PKey::private_key_from_pem(
        &std::fs::read(w.certs.join("demo-dv-encryption.key")).unwrap(),
    )
    .unwrap();
    let plain = encrypt::decrypt_element(encrypted, &key).unwrap();
    let adoc = xml::parse(&plain).unwrap();
    let text_of = |local: &str| {
        adoc.descendants()
            .find(|n| xml::is(*n, NS_SAML, local))
            .map(xml::text)
            .unwrap_or_default()
    };
    let service = adoc
        .descendants()
        .find(|n| {
            xml::is(*n, NS_SAML, "Attribute")
                && n.attribute("Name") == Some("urn:etoegang:core:ServiceID")
        })
        .map(xml::text)
        .unwrap_or_default();
    (text_of("AuthnContextClassRef"), service)
}

#[tokio::test]
async fn minimum_below_the_catalogue_is_asked_upstream_and_used() {
    let w = start().await;
    let (c, follow) = browser();
    let req = Req::new(&w, 1).level("minimum", &[LOA2]);
    let r = redirect(&w, &c, &req, None).await;
    let (ad_url, upstream) = to_ad(&w, &r);
    let ctx = upstream
        .requested_context
        .clone()
        .expect("a RequestedAuthnContext");
    assert_eq!(ctx.comparison, "minimum");
    assert_eq!(ctx.class_refs, vec![LOA2.to_string()]);
    assert_eq!(
        upstream.requested_level().unwrap(),
        Some((poort::domain::level::Level::Eh2, Comparison::Minimum))
    );

    // anna holds EH3 grants for two organisations; the AD asserts EH2: allowed at EH2.
    let r = at_ad(&follow, &ad_url, "anna", "EH2").await;
    assert!(
        r.url().path().starts_with("/login/organisation"),
        "{}",
        r.url()
    );
    let choice = r.text().await.unwrap();
    assert!(choice.contains("EH2"), "{choice}");
    let page = common::submit_at(&follow, &w.poort, &choice, &[("organisation", "12345678")])
        .await
        .text()
        .await
        .unwrap();
    let answer = dv_answer(&w, &page);
    assert_eq!(answer.in_response_to.as_deref(), Some(req.id.as_str()));
    let (level, service) = assertion_level(&w, &answer);
    assert_eq!(level, LOA2, "level used is EH2");
    assert_eq!(service, "urn:etoegang:DV:00000099990000000002:services:1");
}

#[tokio::test]
async fn level_above_the_catalogue_is_request_unsupported() {
    let w = start().await;
    let (c, _) = browser();
    let req = Req::new(&w, 1).level("minimum", &[LOA4]);
    let a = refused(&w, redirect(&w, &c, &req, None).await, 400).await;
    assert_eq!(
        codes(&a),
        (STATUS_REQUESTER, Some(STATUS_REQUEST_UNSUPPORTED))
    );
    assert_eq!(a.in_response_to.as_deref(), Some(req.id.as_str()));
    assert_eq!(a.destination.as_deref(), Some(a.action.as_str()));
}

#[tokio::test]
async fn exact_level_is_asked_upstream_and_enforced() {
    let w = start().await;
    // POST binding with an enveloped signature.
    let (c, follow) = browser();
    let req = Req::new(&w, 2).level("exact", &[LOA2PLUS]);
    let r = post(&w, &c, &req, None, true).await;
    let (ad_url, upstream) = to_ad(&w, &r);
    let ctx = upstream.requested_context.expect("a RequestedAuthnContext");
    assert_eq!(ctx.comparison, "exact");
    assert_eq!(ctx.class_refs, vec![LOA2PLUS.to_string()]);

    // The AD asserts EH3 where exactly EH2+ was asked: refused.
    let r = at_ad(&follow, &ad_url, "bram", "EH3").await;
    let a = refused(&w, r, 403).await;
    assert_eq!(codes(&a), (STATUS_RESPONDER, Some(STATUS_NO_AUTHN_CONTEXT)));
    assert_eq!(a.in_response_to.as_deref(), Some(req.id.as_str()));

    // The same request answered at exactly EH2+ goes through.
    let req = Req::new(&w, 2).level("exact", &[LOA2PLUS]);
    let (ad_url, _) = to_ad(&w, &post(&w, &c, &req, None, true).await);
    let r = at_ad(&follow, &ad_url, "bram", "EH2+").await;
    assert_eq!(r.status(), 200);
    let a = dv_answer(&w, &r.text().await.unwrap());
    assert_eq!(assertion_level(&w, &a).0, LOA2PLUS);
}

#[tokio::test]
async fn unknown_level_and_eh1_are_no_authn_context() {
    let w = start().await;
    let (c, _) = browser();
    for refs in [
        &["urn:oasis:names:tc:SAML:2.0:ac:classes:Password"][..],
        &[LOA1][..],
    ] {
        let req = Req::new(&w, 1).level("minimum", refs);
        let a = refused(&w, redirect(&w, &c, &req, None).await, 400).await;
        assert_eq!(
            codes(&a),
            (STATUS_REQUESTER, Some(STATUS_NO_AUTHN_CONTEXT)),
            "{refs:?}"
        );
    }
}

#[tokio::test]
async fn is_passive_is_no_passive() {
    let w = start().await;
    let (c, _) = browser();
    let req = Req {
        is_passive: true,
        ..Req::new(&w, 1)
    };
    let a = refused(&w, redirect(&w, &c, &req, Some("passive")).await, 400).await;
    assert_eq!(codes(&a), (STATUS_RESPONDER, Some(STATUS_NO_PASSIVE)));
    assert_eq!(a.relay_state.as_deref(), Some("passive"));
}

#[tokio::test]
async fn force_authn_is_passed_upstream() {
    let w = start().await;
    let (c, _) = browser();
    let plain = Req::new(&w, 1);
    let (_, upstream) = to_ad(&w, &redirect(&w, &c, &plain, None).await);
    assert!(!upstream.force_authn);
    let forced = Req {
        force_authn: true,
        ..Req::new(&w, 1)
    };
    let (loc, upstream) = to_ad(&w, &post(&w, &c, &forced, None, true).await);
    assert!(upstream.force_authn);
    let query = loc.split_once('?').unwrap().1;
    let xml = binding::RedirectMessage::decode(query, "SAMLRequest")
        .unwrap()
        .xml;
    assert!(xml.contains(r#"ForceAuthn="true""#), "{xml}");
    // No level asked: the catalogue level goes upstream.
    let ctx = upstream.requested_context.unwrap();
    assert_eq!(ctx.class_refs, vec![LOA3.to_string()]);
}

#[tokio::test]
async fn idp_list_with_only_unknown_ads_is_no_available_idp() {
    let w = start().await;
    let (c, _) = browser();
    let req = Req {
        idp_list: vec!["urn:etoegang:AD:00000099990000000009:entities:1".into()],
        ..Req::new(&w, 1)
    };
    let a = refused(&w, redirect(&w, &c, &req, None).await, 400).await;
    assert_eq!(codes(&a), (STATUS_RESPONDER, Some(STATUS_NO_AVAILABLE_IDP)));
}

/// A world with a second AD ("Tweede inlogmiddel"), whose SSO endpoint is `{ad}/second/sso`.
async fn two_ads() -> World {
    start_prepared(|p, _| {
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

/// Starts a login that lands on the choice page: returns the page's path and query.
async fn to_choice(w: &World, c: &reqwest::Client) -> String {
    let r = redirect(w, c, &Req::new(w, 1), None).await;
    assert_eq!(r.status(), 303);
    let loc = location(&r);
    assert!(loc.starts_with("/login/idp?flow="), "{loc}");
    loc
}

fn flow_of(path: &str) -> String {
    path.split_once("flow=").unwrap().1.to_string()
}

#[tokio::test]
async fn the_choice_of_ad_is_remembered_only_when_the_person_asks_and_the_ad_authenticated() {
    let w = two_ads().await;
    let (c, follow) = browser();
    let choice_path = to_choice(&w, &c).await;
    let page = c
        .get(format!("{}{choice_path}", w.poort))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (first, second) = (
        page.find("Test-inlogmiddel (ontwikkeling)")
            .expect("dev AD listed"),
        page.find("Tweede inlogmiddel").expect("second AD listed"),
    );
    assert!(first < second, "sorted by Dutch name before any choice");
    assert!(page.contains("Kies uw inlogmiddel"));
    assert!(!page.contains("onthouden"));
    // "Onthoud mijn keuze" is offered, ticked: the person's choice to make.
    assert!(
        page.contains(r#"id="remember" type="checkbox" name="remember" value="1" checked"#),
        "{page}"
    );
    assert!(page.contains("Onthoud mijn keuze"), "{page}");
    // In English, the English display names.
    let en = c
        .get(format!("{}{choice_path}", w.poort))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        en.contains("Test login (development)") && en.contains("Second means of login"),
        "{en}"
    );
    assert!(en.contains("Choose how to log in") && !en.contains("Tweede inlogmiddel"));

    // Choosing the second AD sends the person there, with poort's request.
    let r = c
        .post(format!("{}/login/idp", w.poort))
        .form(&[
            ("flow", flow_of(&choice_path)),
            ("idp", SECOND_AD.into()),
            ("remember", "1".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let loc = location(&r);
    assert!(loc.starts_with(&format!("{}/second/sso?", w.ad)), "{loc}");
    let upstream = upstream_request(&loc);
    assert_eq!(upstream.issuer, w.config.saml.sp_entity_id);
    assert_eq!(
        upstream.destination.as_deref(),
        Some(format!("{}/second/sso", w.ad).as_str())
    );

    // Nothing is remembered before the AD has authenticated the person.
    let world = &w;
    let choice_page = |c: &reqwest::Client| {
        let c = c.clone();
        let poort = w.poort.clone();
        async move {
            let path = to_choice(world, &c).await;
            let page = c
                .get(format!("{poort}{path}"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            (path, page)
        }
    };
    let (choice_path, page) = choice_page(&c).await;
    assert!(!page.contains("onthouden"), "{page}");

    // Ticked, and the AD authenticates: the next login offers that AD first, remembered.
    let r = c
        .post(format!("{}/login/idp", w.poort))
        .form(&[
            ("flow", flow_of(&choice_path).as_str()),
            ("idp", DEV_AD_ENTITY_ID),
            ("remember", "1"),
        ])
        .send()
        .await
        .unwrap();
    at_ad(&follow, &location(&r), "anna", "EH3").await;
    let (choice_path, page) = choice_page(&c).await;
    assert!(
        page.contains("Test-inlogmiddel (ontwikkeling) — onthouden"),
        "{page}"
    );
    assert_eq!(page.matches("onthouden").count(), 1);
    assert!(
        page.contains(r#"name="remember" value="1" checked"#),
        "{page}"
    );

    // Unticked: the remembered choice is forgotten at once.
    let r = c
        .post(format!("{}/login/idp", w.poort))
        .form(&[("flow", flow_of(&choice_path).as_str()), ("idp", SECOND_AD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, page) = choice_page(&c).await;
    assert!(!page.contains("onthouden"), "{page}");

    // An IDPList naming one of them skips the page.
    for (idp, sso) in [
        (DEV_AD_ENTITY_ID, format!("{}/sso?", w.ad)),
        (SECOND_AD, format!("{}/second/sso?", w.ad)),
    ] {
        let req = Req {
            idp_list: vec![idp.to_string(), "urn:etoegang:AD:0:entities:9".into()],
            ..Req::new(&w, 1)
        };
        let r = redirect(&w, &c, &req, None).await;
        assert_eq!(r.status(), 303);
        assert!(location(&r).starts_with(&sso), "{idp}");
    }
}

#[tokio::test]
async fn a_flow_continued_in_another_browser_is_refused() {
    let w = two_ads().await;
    let (c, follow) = browser();
    let stranger = common::client();

    // The choice of AD.
    let choice_path = to_choice(&w, &c).await;
    let flow = flow_of(&choice_path);
    let r = stranger
        .get(format!("{}{choice_path}", w.poort))
        .send()
        .await
        .unwrap();
    assert!(page_only(r, 403).await.contains("andere browser"));
    let r = stranger
        .post(format!("{}/login/idp", w.poort))
        .form(&[("flow", flow.as_str()), ("idp", DEV_AD_ENTITY_ID)])
        .send()
        .await
        .unwrap();
    page_only(r, 403).await;

    // The browser that began it goes on, to the choice of organisation.
    let r = c
        .post(format!("{}/login/idp", w.poort))
        .form(&[("flow", flow.as_str()), ("idp", DEV_AD_ENTITY_ID)])
        .send()
        .await
        .unwrap();
    let ad_url = location(&r);
    let r = at_ad(&follow, &ad_url, "anna", "EH3").await;
    let org_url = r.url().to_string();
    assert!(
        r.url().path().starts_with("/login/organisation"),
        "{org_url}"
    );
    let choice = r.text().await.unwrap();
    let r = stranger.get(&org_url).send().await.unwrap();
    page_only(r, 403).await;
    // The stranger's GET left the flow alone: the browser that began it finishes the login.
    let page = common::submit_at(&follow, &w.poort, &choice, &[("organisation", "12345678")])
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(dv_answer(&w, &page).status, STATUS_SUCCESS);
}

/// Anna's login waits at the choice of organisation: returns that page's URL and the page.
async fn at_organisation_choice(
    w: &World,
    c: &reqwest::Client,
    follow: &reqwest::Client,
) -> (String, String) {
    let choice_path = to_choice(w, c).await;
    let r = c
        .post(format!("{}/login/idp", w.poort))
        .form(&[
            ("flow", flow_of(&choice_path).as_str()),
            ("idp", DEV_AD_ENTITY_ID),
        ])
        .send()
        .await
        .unwrap();
    let r = at_ad(follow, &location(&r), "anna", "EH3").await;
    assert!(r.url().path().starts_with("/login/organisation"));
    (r.url().to_string(), r.text().await.unwrap())
}

#[tokio::test]
async fn another_browsers_organisation_choice_is_forbidden() {
    let w = two_ads().await;
    let (c, follow) = browser();
    let (org_url, _) = at_organisation_choice(&w, &c, &follow).await;
    let r = common::client()
        .post(format!("{}/login/organisation", w.poort))
        .form(&[
            ("flow", flow_of(&org_url).as_str()),
            ("organisation", "12345678"),
        ])
        .send()
        .await
        .unwrap();
    assert!(page_only(r, 403).await.contains("andere browser"));
}

#[tokio::test]
async fn another_browsers_post_does_not_use_up_the_flow() {
    let w = two_ads().await;
    let (c, follow) = browser();
    let stranger = common::client();
    let (org_url, choice) = at_organisation_choice(&w, &c, &follow).await;
    let r = stranger
        .post(format!("{}/login/organisation", w.poort))
        .form(&[
            ("flow", flow_of(&org_url).as_str()),
            ("organisation", "12345678"),
        ])
        .send()
        .await
        .unwrap();
    page_only(r, 403).await;
    let r = common::submit_at(&follow, &w.poort, &choice, &[("organisation", "12345678")]).await;
    let page = r.text().await.unwrap();
    assert!(
        !page.contains("Inlogsessie verlopen"),
        "the owner's flow was destroyed by the stranger's POST"
    );
    assert_eq!(dv_answer(&w, &page).status, STATUS_SUCCESS);
}

/// A complete login of bram for service 2 at EH2+ from a request sent with `send`.
async fn bram_logs_in(w: &World, follow: &reqwest::Client, r: reqwest::Response) -> DvAnswer {
    let (ad_url, _) = to_ad(w, &r);
    let r = at_ad(follow, &ad_url, "bram", "EH2+").await;
    assert_eq!(r.status(), 200);
    dv_answer(w, &r.text().await.unwrap())
}

#[tokio::test]
async fn acs_by_index_and_by_exact_url() {
    let w = start().await;
    let (c, follow) = browser();
    // Index 1 in the DV's metadata is `{dv}/acs?alt=1`.
    let req = Req {
        acs_index: Some(1),
        ..Req::new(&w, 2)
    };
    let a = bram_logs_in(&w, &follow, redirect(&w, &c, &req, None).await).await;
    let alt = format!("{}/acs?alt=1", w.dv);
    assert_eq!(a.status, STATUS_SUCCESS);
    assert_eq!(
        (a.action.as_str(), a.destination.as_deref()),
        (alt.as_str(), Some(alt.as_str()))
    );

    // A URL that exactly matches the metadata.
    let req = Req {
        acs_index: None,
        acs_url: Some(format!("{}/acs", w.dv)),
        protocol_binding: Some(xml::BINDING_POST.into()),
        ..Req::new(&w, 2)
    };
    let a = bram_logs_in(&w, &follow, post(&w, &c, &req, None, true).await).await;
    assert_eq!(a.status, STATUS_SUCCESS);
    assert_eq!(a.action, format!("{}/acs", w.dv));

    // An index the metadata does not have: a page, no redirect, nothing posted anywhere.
    let req = Req {
        acs_index: Some(7),
        ..Req::new(&w, 2)
    };
    let page = page_only(redirect(&w, &c, &req, None).await, 400).await;
    assert!(!page.contains("<form"), "{page}");
    // A URL that is not exactly in the metadata (a trailing slash) is refused the same way.
    let req = Req {
        acs_index: None,
        acs_url: Some(format!("{}/acs/", w.dv)),
        ..Req::new(&w, 2)
    };
    page_only(redirect(&w, &c, &req, None).await, 400).await;
}

#[tokio::test]
async fn relay_state_of_80_odd_bytes_comes_back_byte_for_byte() {
    let w = start().await;
    let (c, follow) = browser();
    let mut relay = String::from("a b&c=d%20e~f+g/h?i#j'k\"l<m>n;é€😀 ");
    while relay.len() < 80 {
        relay.push('z');
    }
    assert_eq!(relay.len(), 80);
    // HTTP-Redirect binding.
    let r = redirect(&w, &c, &Req::new(&w, 2), Some(&relay)).await;
    let a = bram_logs_in(&w, &follow, r).await;
    assert_eq!(a.status, STATUS_SUCCESS);
    assert_eq!(
        a.relay_state.as_deref().map(str::as_bytes),
        Some(relay.as_bytes())
    );
    // HTTP-POST binding.
    let r = post(&w, &c, &Req::new(&w, 2), Some(&relay), true).await;
    let a = bram_logs_in(&w, &follow, r).await;
    assert_eq!(
        a.relay_state.as_deref().map(str::as_bytes),
        Some(relay.as_bytes())
    );
    // An error answer carries it back too.
    let req = Req {
        is_passive: true,
        ..Req::new(&w, 2)
    };
    let a = refused(&w, redirect(&w, &c, &req, Some(&relay)).await, 400).await;
    assert_eq!(a.relay_state.as_deref(), Some(relay.as_str()));
}

#[tokio::test]
async fn stale_and_replayed_requests_are_refused() {
    let w = start().await;
    let (c, _) = browser();
    let stale = Req {
        issue_instant: Utc::now() - Duration::minutes(10),
        ..Req::new(&w, 1)
    };
    let a = refused(&w, redirect(&w, &c, &stale, None).await, 400).await;
    assert_eq!(a.status, STATUS_REQUESTER);
    let future = Req {
        issue_instant: Utc::now() + Duration::minutes(10),
        ..Req::new(&w, 1)
    };
    let a = refused(&w, redirect(&w, &c, &future, None).await, 400).await;
    assert_eq!(a.status, STATUS_REQUESTER);

    let once = Req::new(&w, 1);
    to_ad(&w, &redirect(&w, &c, &once, None).await);
    let a = refused(&w, redirect(&w, &c, &once, None).await, 400).await;
    assert_eq!(codes(&a), (STATUS_REQUESTER, Some(STATUS_REQUEST_DENIED)));
    // Also when it comes back over the other binding.
    let a = refused(&w, post(&w, &c, &once, None, true).await, 400).await;
    assert_eq!(codes(&a), (STATUS_REQUESTER, Some(STATUS_REQUEST_DENIED)));
}

#[tokio::test]
async fn destination_elsewhere_is_refused() {
    let w = start().await;
    let (c, _) = browser();
    let req = Req {
        destination: Some("https://elsewhere.example/saml/sso".into()),
        ..Req::new(&w, 1)
    };
    let a = refused(&w, redirect(&w, &c, &req, None).await, 400).await;
    assert_eq!(a.status, STATUS_REQUESTER);
    let a = refused(&w, post(&w, &c, &req, None, true).await, 400).await;
    assert_eq!(a.status, STATUS_REQUESTER);
}

/// The request without signature, over both bindings.
async fn unsigned(w: &World, c: &reqwest::Client) -> (reqwest::Response, reqwest::Response) {
    let req = Req::new(w, 1);
    let url = binding::redirect_url(
        &format!("{}/saml/sso", w.poort),
        "SAMLRequest",
        &req.xml(None),
        None,
        &dv_key(w),
    )
    .unwrap();
    let url = url.split("&SigAlg=").next().unwrap().to_string();
    assert!(!url.contains("Signature"));
    let by_redirect = c.get(url).send().await.unwrap();
    let by_post = post(w, c, &Req::new(w, 1), None, false).await;
    (by_redirect, by_post)
}

#[tokio::test]
async fn unsigned_requests_only_where_configured() {
    let w = start_prepared(|_, config| {
        config.dvs.push(DvConfig {
            entity_id: DEMO_DV_ENTITY_ID.into(),
            allow_unsigned_requests: true,
        });
    })
    .await;
    let (c, _) = browser();
    let (by_redirect, by_post) = unsigned(&w, &c).await;
    to_ad(&w, &by_redirect);
    to_ad(&w, &by_post);

    let w = start().await;
    let (by_redirect, by_post) = unsigned(&w, &c).await;
    assert!(page_only(by_redirect, 400)
        .await
        .contains("niet worden gecontroleerd"));
    assert!(page_only(by_post, 400)
        .await
        .contains("niet worden gecontroleerd"));
}

#[tokio::test]
async fn signed_post_request_without_destination_is_refused() {
    let w = start().await;
    let (c, _) = browser();
    let req = Req {
        destination: None,
        ..Req::new(&w, 1)
    };
    let a = refused(&w, post(&w, &c, &req, None, true).await, 400).await;
    assert_eq!(a.status, STATUS_REQUESTER);
}

#[tokio::test]
async fn signed_redirect_request_without_destination_is_refused() {
    let w = start().await;
    let (c, _) = browser();
    let req = Req {
        destination: None,
        ..Req::new(&w, 1)
    };
    let a = refused(&w, redirect(&w, &c, &req, None).await, 400).await;
    assert_eq!(a.status, STATUS_REQUESTER);
}
