//! The Response the development AD sends, built from knobs: [`AdResponse`] writes it, and every
//! field is a knob, so that security tests can craft wrong answers (foreign audience, stale
//! times, unknown levels, unsigned, ...). The dev AD (`ad.rs`) sends the correct one.

use super::DemoError;
use crate::domain::attributes::Attribute;
use crate::domain::level::Level;
use crate::keys::SigningKey;
use crate::saml::idp::{further_attributes, STATUS_AUTHN_FAILED, STATUS_RESPONDER, STATUS_SUCCESS};
use crate::saml::protocol::{self, ProtocolMessage};
use crate::saml::xml::{self, escape, instant, NS_SAML};
use crate::saml::{dsig, encrypt};
use chrono::{DateTime, Duration, Utc};
use openssl::pkey::{PKey, Public};

/// The status an [`AdResponse`] carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdStatus {
    Success,
    /// Responder / AuthnFailed, StatusMessage "Authentication cancelled".
    Cancel,
    /// Any other failure: top-level and optional second-level code, and a message.
    Failure {
        top: String,
        second: Option<String>,
        message: String,
    },
}

/// A Response from the dev AD, built from knobs. `None` in an optional field leaves that
/// attribute or element out.
#[derive(Clone)]
pub struct AdResponse {
    pub issuer: String,
    /// Response `Destination`.
    pub destination: Option<String>,
    /// Response and SubjectConfirmationData `InResponseTo`.
    pub in_response_to: Option<String>,
    /// SubjectConfirmationData `Recipient`.
    pub recipient: Option<String>,
    /// The one Audience; `None` leaves out the AudienceRestriction.
    pub audience: Option<String>,
    /// The NameID of the subject.
    pub subject: String,
    /// AuthnContextClassRef, as a string so tests can send unknown or EH1 levels.
    pub level_uri: String,
    pub issue_instant: DateTime<Utc>,
    pub authn_instant: DateTime<Utc>,
    /// Conditions NotBefore and SubjectConfirmationData NotBefore (the latter only if
    /// `confirmation_not_before` is set).
    pub not_before: DateTime<Utc>,
    /// Conditions and SubjectConfirmationData NotOnOrAfter.
    pub not_on_or_after: DateTime<Utc>,
    pub confirmation_not_before: bool,
    /// Fixed IDs (for replay tests); `None` gives fresh ones.
    pub response_id: Option<String>,
    pub assertion_id: Option<String>,
    /// Sign the Response. An error Response (no assertion) is signed when either flag is set.
    pub sign_response: bool,
    pub sign_assertion: bool,
    /// Encrypt the (signed) assertion to this RSA key.
    pub encrypt_to: Option<PKey<Public>>,
    /// The AttributeStatement (left out when empty). A confidential attribute is sent as an
    /// EncryptedAttribute to `attributes_encrypt_to` (in the clear when that is `None`).
    pub attributes: Vec<Attribute>,
    pub attributes_encrypt_to: Option<PKey<Public>>,
    pub status: AdStatus,
}

impl std::fmt::Debug for AdResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdResponse")
            .field("issuer", &self.issuer)
            .field("destination", &self.destination)
            .field("in_response_to", &self.in_response_to)
            .field("subject", &self.subject)
            .field("level_uri", &self.level_uri)
            .field("sign_response", &self.sign_response)
            .field("sign_assertion", &self.sign_assertion)
            .field("encrypted", &self.encrypt_to.is_some())
            .field("attributes", &self.attributes)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";

fn opt_attr(name: &str, value: Option<&str>) -> String {
    value
        .map(|v| format!(r#" {name}="{}""#, escape(v)))
        .unwrap_or_default()
}

impl AdResponse {
    /// A correct, successful answer: Destination and Recipient = `acs_url`, Audience =
    /// `sp_entity_id`, valid from now for five minutes, assertion signed, not encrypted.
    pub fn new(
        issuer: &str,
        acs_url: &str,
        in_response_to: &str,
        sp_entity_id: &str,
        subject: &str,
        level: Level,
    ) -> AdResponse {
        let now = Utc::now();
        AdResponse {
            issuer: issuer.to_string(),
            destination: Some(acs_url.to_string()),
            in_response_to: Some(in_response_to.to_string()),
            recipient: Some(acs_url.to_string()),
            audience: Some(sp_entity_id.to_string()),
            subject: subject.to_string(),
            level_uri: level.uri().to_string(),
            issue_instant: now,
            authn_instant: now,
            not_before: now,
            not_on_or_after: now + Duration::minutes(5),
            confirmation_not_before: false,
            response_id: None,
            assertion_id: None,
            sign_response: false,
            sign_assertion: true,
            encrypt_to: None,
            attributes: Vec::new(),
            attributes_encrypt_to: None,
            status: AdStatus::Success,
        }
    }

    /// The same answer, as a cancellation.
    pub fn cancelled(mut self) -> AdResponse {
        self.status = AdStatus::Cancel;
        self
    }

    /// The `saml:Assertion`, signed if `sign_assertion`, as a standalone element.
    pub fn assertion(&self, key: &SigningKey) -> Result<String, DemoError> {
        let id = self.assertion_id.clone().unwrap_or_else(xml::new_id);
        let sig = if self.sign_assertion {
            dsig::template(&id, key)
        } else {
            String::new()
        };
        let audience = self
            .audience
            .as_deref()
            .map(|a| {
                format!(
                    "<saml:AudienceRestriction><saml:Audience>{}</saml:Audience></saml:AudienceRestriction>",
                    escape(a)
                )
            })
            .unwrap_or_default();
        let attributes = if self.attributes.is_empty() {
            String::new()
        } else {
            let all: Vec<&Attribute> = self.attributes.iter().collect();
            let written = if self.attributes_encrypt_to.is_some() {
                further_attributes(&all, self.attributes_encrypt_to.as_ref())?.xml
            } else {
                // No key to encrypt to: everything in the clear.
                let clear: Vec<Attribute> = self
                    .attributes
                    .iter()
                    .map(|a| Attribute {
                        confidential: false,
                        ..a.clone()
                    })
                    .collect();
                further_attributes(&clear.iter().collect::<Vec<_>>(), None)?.xml
            };
            format!("<saml:AttributeStatement>{written}</saml:AttributeStatement>")
        };
        let sc_not_before = if self.confirmation_not_before {
            format!(r#" NotBefore="{}""#, instant(self.not_before))
        } else {
            String::new()
        };
        let assertion = format!(
            concat!(
                r#"<saml:Assertion xmlns:saml="{saml}" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="{id}" Version="2.0" IssueInstant="{now}">"#,
                r#"<saml:Issuer>{issuer}</saml:Issuer>{sig}"#,
                r#"<saml:Subject><saml:NameID Format="{persistent}">{subject}</saml:NameID>"#,
                r#"<saml:SubjectConfirmation Method="{bearer}"><saml:SubjectConfirmationData{irt}{sc_nb} NotOnOrAfter="{noa}"{recipient}/>"#,
                r#"</saml:SubjectConfirmation></saml:Subject>"#,
                r#"<saml:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}">{audience}</saml:Conditions>"#,
                r#"<saml:AuthnStatement AuthnInstant="{authn}" SessionIndex="{id}"><saml:AuthnContext>"#,
                r#"<saml:AuthnContextClassRef>{level}</saml:AuthnContextClassRef>"#,
                r#"</saml:AuthnContext></saml:AuthnStatement>{attributes}</saml:Assertion>"#
            ),
            saml = NS_SAML,
            id = escape(&id),
            now = instant(self.issue_instant),
            issuer = escape(&self.issuer),
            sig = sig,
            persistent = PERSISTENT,
            subject = escape(&self.subject),
            bearer = BEARER,
            irt = opt_attr("InResponseTo", self.in_response_to.as_deref()),
            sc_nb = sc_not_before,
            noa = instant(self.not_on_or_after),
            recipient = opt_attr("Recipient", self.recipient.as_deref()),
            nb = instant(self.not_before),
            audience = audience,
            authn = instant(self.authn_instant),
            level = escape(&self.level_uri),
            attributes = attributes,
        );
        if self.sign_assertion {
            Ok(dsig::sign(&assertion, key)?)
        } else {
            Ok(assertion)
        }
    }

    /// The complete `samlp:Response`.
    pub fn build(&self, key: &SigningKey) -> Result<String, DemoError> {
        let id = self.response_id.clone().unwrap_or_else(xml::new_id);
        let (status, body, sign) = match &self.status {
            AdStatus::Success => {
                let assertion = self.assertion(key)?;
                let body = match &self.encrypt_to {
                    Some(recipient) => encrypt::encrypt_assertion(&assertion, recipient)?,
                    None => assertion,
                };
                (
                    protocol::status(STATUS_SUCCESS, None, None),
                    body,
                    self.sign_response,
                )
            }
            AdStatus::Cancel => (
                protocol::status(
                    STATUS_RESPONDER,
                    Some(STATUS_AUTHN_FAILED),
                    Some("Authentication cancelled"),
                ),
                String::new(),
                self.sign_response || self.sign_assertion,
            ),
            AdStatus::Failure {
                top,
                second,
                message,
            } => (
                protocol::status(top, second.as_deref(), Some(message)),
                String::new(),
                self.sign_response || self.sign_assertion,
            ),
        };
        let attributes: Vec<_> = [
            ("Destination", self.destination.as_deref()),
            ("InResponseTo", self.in_response_to.as_deref()),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect();
        Ok(ProtocolMessage {
            name: "Response",
            id: &id,
            issue_instant: self.issue_instant,
            attributes: &attributes,
            issuer: &self.issuer,
            content: &format!("{status}{body}"),
        }
        .write(sign.then_some(key))?)
    }
}
