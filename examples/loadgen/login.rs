//! One login, played as DV and AD (and as OIDC client), against one poort or several
//! replicas: every HTTP request of a login names its hop (0, 1, 2, …), and with several
//! replicas hop `h` of login `n` goes to replica `(n + h) % replicas`, so each step of a login
//! lands on another replica than the step before (the worst a balancer can do to shared state),
//! and every replica gets the same mix of steps.

use crate::artifact::ArtifactPeers;
use crate::{
    Error, Protocol, OIDC_CLIENT, OIDC_REDIRECT, OIDC_SECRET, PERSON, PERSON_KVK, PKCE_CHALLENGE,
    PKCE_VERIFIER, SERVICE_INDEX, SP_ENTITY_ID,
};
use chrono::Utc;
use poort::demo::ad_response::AdResponse;
use poort::demo::dv::DemoDv;
use poort::demo::{PeerKeys, DEV_AD_ENTITY_ID};
use poort::domain::level::Level;
use poort::keys::SigningKey;
use poort::saml::binding::{self, RedirectMessage};
use poort::saml::idp::AuthnRequest;
use poort::saml::xml;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub struct Peers {
    pub dv_key: SigningKey,
    pub ad_key: SigningKey,
    pub poort_keys: PeerKeys,
}

pub struct Target {
    pub peers: Arc<Peers>,
    /// The demo DV's request writer and Response check, pointed at poort's public address.
    pub dv: DemoDv,
    pub sso: String,
    pub acs: String,
    /// poort's public address (`[server] public_url`), as the messages name it.
    pub base: String,
    /// Where requests go: the replicas' own addresses (one: the public address itself).
    pub replicas: Vec<String>,
    /// Requests sent to each replica.
    pub sent: Vec<AtomicU64>,
    pub protocol: Protocol,
    /// Keep connections to poort open between requests.
    pub keep_alive: bool,
    /// Where poort sends the browser to the AD (its SSO endpoint in the AD's metadata).
    pub ad_sso: String,
    /// `--protocol artifact`: the peers' ArtifactResolutionServices and back channel.
    pub artifact: Option<Arc<ArtifactPeers>>,
    /// poort's ID-token keys (read from its key folder) for checking answers.
    pub oidc_keys: Option<poort::oidc::ProviderKeys>,
}

impl Target {
    /// Where hop `hop` of a login goes: `url`, an address under poort's public address, at the
    /// replica whose turn it is (see the module's comment).
    pub fn route(&self, url: &str, hop: usize) -> String {
        let i = hop % self.replicas.len();
        self.sent[i].fetch_add(1, Ordering::Relaxed);
        match url.strip_prefix(&self.base) {
            Some(rest) if self.replicas.len() > 1 => format!("{}{rest}", self.replicas[i]),
            _ => url.to_string(),
        }
    }
}

/// A browser (cookies kept, redirects not followed). Without `keep_alive` every request opens a
/// new connection.
pub fn client(keep_alive: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(if keep_alive { 4 } else { 0 })
        .build()
        .expect("http client")
}

/// The DV's AuthnRequest for service `SERVICE_INDEX` as the browser brings it to poort: its ID,
/// and the URL: with `--protocol artifact` enveloped-signed and kept behind an artifact at the
/// DV's ArtifactResolutionService (`SAMLart`), else signed over the HTTP-Redirect binding.
pub fn dv_request(t: &Target) -> Result<(String, String), Error> {
    match &t.artifact {
        Some(ap) => {
            let (id, request) = t.dv.authn_request(SERVICE_INDEX, None, false, true)?;
            let art = ap.dv.issue(request);
            Ok((id, with_artifact(&t.sso, &art)?))
        }
        None => {
            let (id, request) = t.dv.authn_request(SERVICE_INDEX, None, false, false)?;
            let url =
                binding::redirect_url(&t.sso, "SAMLRequest", &request, None, &t.peers.dv_key)?;
            Ok((id, url))
        }
    }
}

/// Step 1 (hop `n`): the DV's request to poort; returns what the AD gets from poort: the ID of
/// poort's request (HTTP-Redirect), or poort's artifact (`--protocol artifact`).
pub async fn begin(t: &Target, c: &reqwest::Client, n: usize) -> Result<String, Error> {
    let url = match (t.protocol, &t.artifact) {
        (Protocol::Oidc, _) => format!(
            "{}/oidc/authorize?response_type=code&scope=openid&client_id={OIDC_CLIENT}\
             &redirect_uri={}&state=s&nonce=n&code_challenge={PKCE_CHALLENGE}\
             &code_challenge_method=S256",
            t.base,
            url::form_urlencoded::byte_serialize(OIDC_REDIRECT.as_bytes()).collect::<String>()
        ),
        _ => dv_request(t)?.1,
    };
    let mut r = c.get(t.route(&url, n)).send().await?;
    if let Some(flow) = choice(&r) {
        // poort knows more ADs (`--aggregate-refresh`) and sends the browser to its AD choice:
        // the person picks the AD played here. The page itself is not fetched: with thousands
        // of ADs in an aggregate it would be what is measured.
        let chosen = format!("{}/login/idp", t.base);
        r = c
            .post(t.route(&chosen, n))
            .form(&[("flow", flow.as_str()), ("idp", DEV_AD_ENTITY_ID)])
            .send()
            .await?;
    }
    let status = r.status();
    let location = r
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    let body = r.text().await?;
    let location = match location {
        Some(l) if status.is_redirection() && l.starts_with(&t.ad_sso) => l,
        _ => {
            return Err(format!(
                "/saml/sso: expected a redirect to the AD, got {status}: {}",
                snippet(&body)
            )
            .into())
        }
    };
    if t.protocol == Protocol::Artifact {
        return query_value(&location, "SAMLart")
            .ok_or_else(|| format!("no SAMLart in the redirect to the AD: {location}").into());
    }
    let query = location.split_once('?').ok_or("no query")?.1;
    let message = RedirectMessage::decode(query, "SAMLRequest")?;
    Ok(AuthnRequest::parse(&message.xml)?.id)
}

/// The flow of a redirect to poort's AD choice page, if `r` is one.
fn choice(r: &reqwest::Response) -> Option<String> {
    let location = r.headers().get(reqwest::header::LOCATION)?.to_str().ok()?;
    let flow = location.strip_prefix("/login/idp?flow=")?;
    r.status().is_redirection().then(|| flow.to_string())
}

/// Steps 1 and 2 of login `n` up to poort's answer to the AD's Response.
pub async fn through_ad(
    t: &Target,
    c: &reqwest::Client,
    n: usize,
) -> Result<reqwest::Response, Error> {
    let upstream = begin(t, c, n).await?;
    if let Some(ap) = &t.artifact {
        // The AD resolves poort's artifact at poort's ArtifactResolutionService.
        let message = ap
            .resolve_at_poort(&ap.ad, &upstream, &t.route(&ap.poort_ars, n + 1))
            .await?;
        let request = AuthnRequest::parse(&message)?;
        if !request.has_signature || request.issuer != SP_ENTITY_ID {
            return Err(format!(
                "poort's AuthnRequest: signed {}, issuer {}",
                request.has_signature, request.issuer
            )
            .into());
        }
        let acs = request
            .acs_url
            .ok_or("poort's AuthnRequest names no ACS URL")?;
        let mut answer = AdResponse::new(
            DEV_AD_ENTITY_ID,
            &acs,
            &request.id,
            SP_ENTITY_ID,
            PERSON,
            Level::Eh3,
        );
        answer.sign_response = true;
        answer.sign_assertion = true;
        let art = ap.ad.issue(answer.build(&ap.ad.key)?);
        let url = t.route(&with_artifact(&acs, &art)?, n + 2);
        return Ok(c.get(url).send().await?);
    }
    let response = AdResponse::new(
        DEV_AD_ENTITY_ID,
        &t.acs,
        &upstream,
        SP_ENTITY_ID,
        PERSON,
        Level::Eh3,
    )
    .build(&t.peers.ad_key)?;
    let r = c
        .post(t.route(&t.acs, n + 1))
        .form(&[("SAMLResponse", binding::encode_post(&response))])
        .send()
        .await?;
    Ok(r)
}

/// Steps 1 and 2: whole login `n`; with `verify`, the answer is checked in full as the DV.
pub async fn login(t: &Target, c: &reqwest::Client, n: usize, verify: bool) -> Result<(), Error> {
    let r = through_ad(t, c, n).await?;
    if t.protocol == Protocol::Oidc {
        return redeem(t, c, r, verify, n + 2).await;
    }
    to_dv(t, r, n + 3, verify, "/saml/acs").await?;
    Ok(())
}

/// A later login in a browser that has a login session at poort (`--session-pairs`): the DV's
/// request alone (hop `n`), which poort must answer from the session, straight to the DV. A
/// redirect to the AD (or to the AD choice) fails the login: the session was not used.
pub async fn from_session(
    t: &Target,
    c: &reqwest::Client,
    n: usize,
    verify: bool,
) -> Result<(), Error> {
    let (id, url) = dv_request(t)?;
    let r = c.get(t.route(&url, n)).send().await?;
    let location = r
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default();
    if r.status().is_redirection()
        && (location.starts_with(&t.ad_sso) || location.starts_with("/login/idp"))
    {
        return Err(format!(
            "second login: poort sent the browser to the AD, the login session was not used: \
             {}",
            snippet(location)
        )
        .into());
    }
    let answered = to_dv(t, r, n + 1, verify, "/saml/sso").await?;
    if let Some(in_response_to) = answered.filter(|irt| *irt != id) {
        return Err(format!(
            "second login: the answer is InResponseTo {in_response_to}, the request was {id}"
        )
        .into());
    }
    Ok(())
}

/// poort's answer `r` at `at` on its way to the DV: its auto-post form, or (`--protocol
/// artifact`) its redirect to the DV's ACS with an artifact, resolved at poort as hop `hop`.
/// With `verify`, the Response is checked in full as the DV (signed, assertion encrypted,
/// Success for KvK `PERSON_KVK`), and its InResponseTo returned.
async fn to_dv(
    t: &Target,
    r: reqwest::Response,
    hop: usize,
    verify: bool,
    at: &str,
) -> Result<Option<String>, Error> {
    let status = r.status();
    let location = r
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .map(str::to_string);
    let page = r.text().await?;
    let answer = match &t.artifact {
        // poort answers by artifact at the DV's ACS; the DV resolves it at poort.
        Some(ap) => match location.filter(|l| status.is_redirection() && l.starts_with(&ap.dv_acs))
        {
            Some(l) => {
                let art = query_value(&l, "SAMLart").ok_or("no SAMLart in the answer")?;
                let ars = t.route(&ap.poort_ars, hop);
                Some(ap.resolve_at_poort(&ap.dv, &art, &ars).await?)
            }
            None => None,
        },
        None => hidden_field(&page, "SAMLResponse")
            .filter(|_| status == reqwest::StatusCode::OK)
            .map(|a| binding::decode_post(&a))
            .transpose()?,
    };
    let Some(xml) = answer else {
        return Err(format!(
            "{at}: expected the answer to the DV, got {status}: {}",
            snippet(&page)
        )
        .into());
    };
    if verify {
        let outcome = t.dv.verify(&xml, &t.peers.poort_keys, Utc::now())?;
        if !outcome.success || outcome.legal_subject_id.as_deref() != Some(PERSON_KVK) {
            return Err(
                format!("answer to the DV is not a Success for {PERSON_KVK}: {outcome:?}").into(),
            );
        }
        if !(outcome.assertion_encrypted && outcome.response_signed) {
            return Err(format!("answer to the DV not signed and encrypted: {outcome:?}").into());
        }
        return Ok(Some(outcome.in_response_to));
    } else if !is_success(&xml) {
        // A refusal reaches the DV as a Response too (by either binding).
        return Err(format!("answer to the DV is not a Success: {}", snippet(&xml)).into());
    }
    Ok(None)
}

/// A `samlp:Response` with top-level status Success.
fn is_success(text: &str) -> bool {
    let Ok(doc) = xml::parse(text) else {
        return false;
    };
    let root = doc.root_element();
    xml::is(root, xml::NS_SAMLP, "Response")
        && xml::child(root, xml::NS_SAMLP, "Status")
            .and_then(|s| xml::child(s, xml::NS_SAMLP, "StatusCode"))
            .and_then(|c| c.attribute("Value"))
            == Some(poort::saml::idp::STATUS_SUCCESS)
}

/// `endpoint?SAMLart=…` (HTTP-Artifact by GET).
pub fn with_artifact(endpoint: &str, artifact: &str) -> Result<String, Error> {
    let mut url = url::Url::parse(endpoint)?;
    url.query_pairs_mut().append_pair("SAMLart", artifact);
    Ok(url.into())
}

pub fn query_value(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find_map(|(k, v)| (k == name).then(|| v.into_owned()))
}

/// OIDC steps 3 and 4: the code at the redirect URI, redeemed at the token endpoint (hop `hop`).
async fn redeem(
    t: &Target,
    c: &reqwest::Client,
    r: reqwest::Response,
    verify: bool,
    hop: usize,
) -> Result<(), Error> {
    let code = code_from(r).await?;
    token_request(t, c, &code, verify, hop).await
}

/// OIDC step 3: the code from poort's redirect to the client.
pub async fn code_from(r: reqwest::Response) -> Result<String, Error> {
    let status = r.status();
    let location = r
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let code = url::Url::parse(&location).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
    });
    match code.filter(|_| status.is_redirection()) {
        Some(code) => Ok(code),
        None => {
            let body = r.text().await?;
            Err(format!(
                "/saml/acs: expected a redirect with a code, got {status} {location}: {}",
                snippet(&body)
            )
            .into())
        }
    }
}

/// OIDC step 4: the token request (client_secret_basic, PKCE verifier), as hop `hop`.
pub async fn token_request(
    t: &Target,
    c: &reqwest::Client,
    code: &str,
    verify: bool,
    hop: usize,
) -> Result<(), Error> {
    let r = c
        .post(t.route(&format!("{}/oidc/token", t.base), hop))
        .basic_auth(OIDC_CLIENT, Some(OIDC_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", OIDC_REDIRECT),
            ("code_verifier", PKCE_VERIFIER),
        ])
        .send()
        .await?;
    let status = r.status();
    let body: serde_json::Value = r.json().await?;
    let Some(id_token) = body["id_token"].as_str().filter(|_| status.is_success()) else {
        return Err(format!("/oidc/token: {status} {body}").into());
    };
    if verify {
        let claims = t
            .oidc_keys
            .as_ref()
            .and_then(|k| k.verify(id_token))
            .ok_or("the ID token does not verify with poort's keys")?;
        if claims["represents"]["sub"] != PERSON_KVK {
            return Err(format!("ID token represents {}", claims["represents"]).into());
        }
    }
    Ok(())
}

pub fn snippet(s: &str) -> String {
    let s: String = s.chars().take(300).collect();
    s.replace('\n', " ")
}

fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn hidden_field(html: &str, name: &str) -> Option<String> {
    let key = format!("name=\"{name}\" value=\"");
    let i = html.find(&key)? + key.len();
    let j = html[i..].find('"')?;
    Some(unescape(&html[i..i + j]))
}
