//! The demo DV's checks of a Response: small, but failing closed (see the module above).

use super::DemoDv;
use crate::demo::PeerKeys;
use crate::saml::dsig::{self, DsigError};
use crate::saml::encrypt::{self, EncryptError};
use crate::saml::idp::{
    ATTR_ACTING_SUBJECT_ID, ATTR_COMPANY_NAME, ATTR_LEGAL_SUBJECT_ID, ATTR_SERVICE_ID,
    ATTR_SERVICE_UUID, STATUS_SUCCESS,
};
use crate::saml::xml::{self, NS_DS, NS_SAML, NS_SAMLP};
use chrono::{DateTime, Utc};
use roxmltree::Node;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Why the demo DV refused a Response.
///
/// Deliberately not poort's own `ResponseError` (its check as SP), though many reasons read
/// alike: the demo DV checks poort from outside, so poort's code must not decide its verdict.
#[derive(Debug, thiserror::Error)]
pub enum AcsError {
    #[error(transparent)]
    Xml(#[from] xml::XmlError),
    #[error("the message is not a SAML 2.0 Response")]
    NotResponse,
    #[error("the Response has no {0}")]
    Missing(&'static str),
    #[error("Destination {0:?} is not this DV's ACS")]
    Destination(Option<String>),
    #[error("InResponseTo {0:?} is not a request this DV sent (or it was answered already)")]
    InResponseTo(Option<String>),
    #[error("Issuer {0:?} is not poort")]
    Issuer(String),
    #[error("the Response is not signed by poort")]
    Unsigned,
    #[error("signature: {0}")]
    Signature(#[from] DsigError),
    #[error("encrypted content: {0}")]
    Encryption(#[from] EncryptError),
    #[error("the Response must hold exactly one assertion, directly under it")]
    AssertionCount,
    #[error("a signature sits where none is allowed")]
    StraySignature,
    #[error("no bearer SubjectConfirmation for this DV's ACS and request")]
    SubjectConfirmation,
    #[error("Audience does not name this DV")]
    Audience,
    #[error("the assertion is not yet valid")]
    NotYetValid,
    #[error("the assertion has expired")]
    Expired,
    #[error("{0} is not a valid time")]
    Time(&'static str),
}

/// What the demo DV learned from a Response (shown as a page, or as JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcsOutcome {
    pub success: bool,
    /// Top-level status code, and the second-level one if any.
    pub status: String,
    pub second_status: Option<String>,
    pub status_message: Option<String>,
    pub issuer: Option<String>,
    pub in_response_to: String,
    pub relay_state: Option<String>,
    /// The AttributeConsumingServiceIndex of the request this answers.
    pub service_index: Option<u16>,
    /// The Subject's NameID (decrypted if it was an EncryptedID).
    pub name_id: Option<String>,
    /// The AuthnStatement's SessionIndex, for the DV's LogoutRequest.
    #[serde(default)]
    pub session_index: Option<String>,
    pub acting_subject_id: Option<String>,
    pub legal_subject_id: Option<String>,
    pub company_name: Option<String>,
    pub service_id: Option<String>,
    pub service_uuid: Option<String>,
    /// The AuthnContextClassRef.
    pub level: Option<String>,
    pub authenticating_authority: Vec<String>,
    /// Every attribute, by name (NameID and EncryptedID values as their text).
    pub attributes: BTreeMap<String, Vec<String>>,
    pub response_signed: bool,
    pub assertion_signed: bool,
    pub assertion_encrypted: bool,
}

impl DemoDv {
    /// The checks, without side effects.
    pub fn verify(
        &self,
        text: &str,
        poort: &PeerKeys,
        now: DateTime<Utc>,
    ) -> Result<AcsOutcome, AcsError> {
        let certs = &poort.signing_certs;
        let doc = xml::parse(text)?;
        let root = doc.root_element();
        if !xml::is(root, NS_SAMLP, "Response") || root.attribute("Version") != Some("2.0") {
            return Err(AcsError::NotResponse);
        }
        let response_id = root.attribute("ID").ok_or(AcsError::Missing("ID"))?;
        let acs = self.acs_url();
        let destination = root.attribute("Destination");
        if destination != Some(acs.as_str()) && destination != Some(&format!("{acs}?alt=1")) {
            return Err(AcsError::Destination(destination.map(str::to_string)));
        }
        let irt = root.attribute("InResponseTo");
        let service_index = irt
            .and_then(|id| self.sent.lock().get(id).map(|s| s.service_index))
            .ok_or_else(|| AcsError::InResponseTo(irt.map(str::to_string)))?;
        let irt = irt.unwrap_or_default().to_string();

        // Shape: at most one (encrypted) assertion, directly under the Response; signatures only
        // directly under the Response or that assertion, each referencing its parent.
        let assertions: Vec<Node> = doc.descendants().filter(|n| is_assertion(*n)).collect();
        if assertions.len() > 1 || assertions.iter().any(|a| a.parent() != Some(root)) {
            return Err(AcsError::AssertionCount);
        }
        for sig in doc
            .descendants()
            .filter(|n| xml::is(*n, NS_DS, "Signature"))
        {
            let parent = sig.parent().ok_or(AcsError::StraySignature)?;
            if parent != root && Some(&parent) != assertions.first() {
                return Err(AcsError::StraySignature);
            }
            dsig::check_shape(sig, parent.attribute("ID").ok_or(AcsError::Missing("ID"))?)?;
        }
        let response_signed = xml::child(root, NS_DS, "Signature").is_some();

        // From here on, read the Response from the signed bytes if it is signed.
        let signed_response = if response_signed {
            let signed = dsig::verify(text, certs)?;
            let signed_doc = xml::parse(&signed)?;
            let r = signed_doc.root_element();
            if !xml::is(r, NS_SAMLP, "Response") || r.attribute("ID") != Some(response_id) {
                return Err(AcsError::Signature(DsigError::Reference));
            }
            signed
        } else {
            text.to_string()
        };
        let rdoc = xml::parse(&signed_response)?;
        let rroot = rdoc.root_element();
        let mut outcome = AcsOutcome {
            in_response_to: irt.clone(),
            service_index: Some(service_index),
            response_signed,
            issuer: xml::child(rroot, NS_SAML, "Issuer").map(xml::text),
            ..AcsOutcome::default()
        };
        if let (Some(issuer), Some(expected)) = (&outcome.issuer, &poort.entity_id) {
            if issuer != expected {
                return Err(AcsError::Issuer(issuer.clone()));
            }
        }
        let status = xml::child(rroot, NS_SAMLP, "Status").ok_or(AcsError::Missing("Status"))?;
        let top =
            xml::child(status, NS_SAMLP, "StatusCode").ok_or(AcsError::Missing("StatusCode"))?;
        outcome.status = top.attribute("Value").unwrap_or_default().to_string();
        outcome.second_status = xml::child(top, NS_SAMLP, "StatusCode")
            .and_then(|c| c.attribute("Value"))
            .map(str::to_string);
        outcome.status_message = xml::child(status, NS_SAMLP, "StatusMessage").map(xml::text);
        if outcome.status != STATUS_SUCCESS {
            // An error carries no identity, but must still come from poort.
            if !response_signed {
                return Err(AcsError::Unsigned);
            }
            return Ok(outcome);
        }

        let inner = rroot
            .children()
            .find(|n| is_assertion(*n))
            .ok_or(AcsError::AssertionCount)?;
        if xml::is(inner, NS_SAML, "EncryptedAssertion") {
            outcome.assertion_encrypted = true;
            let plain = encrypt::decrypt_element(inner, &self.encryption_key)?;
            let plain_doc = xml::parse(&plain)?;
            let trusted = if xml::child(plain_doc.root_element(), NS_DS, "Signature").is_some() {
                outcome.assertion_signed = true;
                verify_standalone(&plain, certs)?
            } else if response_signed {
                plain
            } else {
                return Err(AcsError::Unsigned);
            };
            let adoc = xml::parse(&trusted)?;
            self.read_assertion(adoc.root_element(), &irt, poort, now, &mut outcome)?;
        } else if response_signed {
            // The signed Response covers the assertion (and dsig::verify checked its own
            // signature too, if it has one).
            outcome.assertion_signed = xml::child(inner, NS_DS, "Signature").is_some();
            self.read_assertion(inner, &irt, poort, now, &mut outcome)?;
        } else {
            let envelope_assertion = assertions.first().ok_or(AcsError::AssertionCount)?;
            if xml::child(*envelope_assertion, NS_DS, "Signature").is_none() {
                return Err(AcsError::Unsigned);
            }
            outcome.assertion_signed = true;
            let signed = dsig::verify(text, certs)?;
            let adoc = xml::parse(&signed)?;
            let a = adoc.root_element();
            if !xml::is(a, NS_SAML, "Assertion")
                || a.attribute("ID") != envelope_assertion.attribute("ID")
            {
                return Err(AcsError::Signature(DsigError::Reference));
            }
            self.read_assertion(a, &irt, poort, now, &mut outcome)?;
        }
        outcome.success = true;
        Ok(outcome)
    }

    /// Checks a trusted assertion and copies what it says into `out`.
    fn read_assertion(
        &self,
        a: Node<'_, '_>,
        irt: &str,
        poort: &PeerKeys,
        now: DateTime<Utc>,
        out: &mut AcsOutcome,
    ) -> Result<(), AcsError> {
        let skew = self.clock_skew;
        if !xml::is(a, NS_SAML, "Assertion") {
            return Err(AcsError::AssertionCount);
        }
        let issuer = xml::child(a, NS_SAML, "Issuer")
            .map(xml::text)
            .ok_or(AcsError::Missing("Assertion Issuer"))?;
        if poort.entity_id.as_ref().is_some_and(|e| *e != issuer) {
            return Err(AcsError::Issuer(issuer));
        }
        let subject = xml::child(a, NS_SAML, "Subject").ok_or(AcsError::Missing("Subject"))?;
        out.name_id = self.identifier(subject)?;

        let acs = self.acs_url();
        let confirmed = xml::children(subject, NS_SAML, "SubjectConfirmation")
            .filter(|sc| sc.attribute("Method") == Some("urn:oasis:names:tc:SAML:2.0:cm:bearer"))
            .filter_map(|sc| xml::child(sc, NS_SAML, "SubjectConfirmationData"))
            .any(|d| {
                let recipient = d.attribute("Recipient");
                (recipient == Some(acs.as_str()) || recipient == Some(&format!("{acs}?alt=1")))
                    && d.attribute("InResponseTo") == Some(irt)
                    && d.attribute("NotOnOrAfter")
                        .and_then(xml::parse_instant)
                        .is_some_and(|t| now < t + skew)
            });
        if !confirmed {
            return Err(AcsError::SubjectConfirmation);
        }

        let conditions =
            xml::child(a, NS_SAML, "Conditions").ok_or(AcsError::Missing("Conditions"))?;
        if time(conditions, "NotBefore")?.is_some_and(|t| now + skew < t) {
            return Err(AcsError::NotYetValid);
        }
        match time(conditions, "NotOnOrAfter")? {
            Some(t) if now < t + skew => {}
            Some(_) => return Err(AcsError::Expired),
            None => return Err(AcsError::Missing("Conditions NotOnOrAfter")),
        }
        let restrictions: Vec<_> =
            xml::children(conditions, NS_SAML, "AudienceRestriction").collect();
        if restrictions.is_empty()
            || !restrictions.iter().all(|r| {
                xml::children(*r, NS_SAML, "Audience").any(|x| xml::text(x) == self.entity_id)
            })
        {
            return Err(AcsError::Audience);
        }

        let statement = xml::child(a, NS_SAML, "AuthnStatement");
        out.session_index = statement
            .and_then(|s| s.attribute("SessionIndex"))
            .map(str::to_string);
        if let Some(context) = statement.and_then(|s| xml::child(s, NS_SAML, "AuthnContext")) {
            out.level = xml::child(context, NS_SAML, "AuthnContextClassRef").map(xml::text);
            out.authenticating_authority =
                xml::children(context, NS_SAML, "AuthenticatingAuthority")
                    .map(xml::text)
                    .collect();
        }
        for statement in xml::children(a, NS_SAML, "AttributeStatement") {
            for attr in xml::children(statement, NS_SAML, "Attribute") {
                self.read_attribute(attr, out)?;
            }
            // What the AD sent encrypted, poort encrypts again to this DV's key.
            for enc in xml::children(statement, NS_SAML, "EncryptedAttribute") {
                let plain = encrypt::decrypt_element(enc, &self.encryption_key)?;
                let doc = xml::parse(&plain)?;
                self.read_attribute(doc.root_element(), out)?;
            }
        }
        let first = |name: &str| out.attributes.get(name).and_then(|v| v.first()).cloned();
        out.acting_subject_id = first(ATTR_ACTING_SUBJECT_ID);
        out.legal_subject_id = first(ATTR_LEGAL_SUBJECT_ID);
        out.company_name = first(ATTR_COMPANY_NAME);
        out.service_id = first(ATTR_SERVICE_ID);
        out.service_uuid = first(ATTR_SERVICE_UUID);
        Ok(())
    }

    fn read_attribute(&self, attr: Node<'_, '_>, out: &mut AcsOutcome) -> Result<(), AcsError> {
        let Some(name) = attr.attribute("Name") else {
            return Ok(());
        };
        let mut values = Vec::new();
        for v in xml::children(attr, NS_SAML, "AttributeValue") {
            values.push(self.identifier(v)?.unwrap_or_else(|| xml::text(v)));
        }
        out.attributes
            .entry(name.to_string())
            .or_default()
            .extend(values);
        Ok(())
    }

    /// The NameID (or decrypted EncryptedID) directly under `node`, as text.
    fn identifier(&self, node: Node<'_, '_>) -> Result<Option<String>, AcsError> {
        if let Some(n) = xml::child(node, NS_SAML, "NameID") {
            return Ok(Some(xml::text(n)));
        }
        let Some(enc) = xml::child(node, NS_SAML, "EncryptedID") else {
            return Ok(None);
        };
        let plain = encrypt::decrypt_element(enc, &self.encryption_key)?;
        let doc = xml::parse(&plain)?;
        Ok(Some(xml::text(doc.root_element())))
    }
}

fn is_assertion(n: Node<'_, '_>) -> bool {
    xml::is(n, NS_SAML, "Assertion") || xml::is(n, NS_SAML, "EncryptedAssertion")
}

fn time(node: Node<'_, '_>, name: &'static str) -> Result<Option<DateTime<Utc>>, AcsError> {
    node.attribute(name)
        .map(|v| xml::parse_instant(v).ok_or(AcsError::Time(name)))
        .transpose()
}

/// A standalone (decrypted) assertion with exactly one signature, its own: the signed bytes.
fn verify_standalone(plain: &str, certs: &[Vec<u8>]) -> Result<String, AcsError> {
    let doc = xml::parse(plain)?;
    let root = doc.root_element();
    let id = root
        .attribute("ID")
        .ok_or(AcsError::Missing("Assertion ID"))?;
    let sigs: Vec<_> = doc
        .descendants()
        .filter(|n| xml::is(*n, NS_DS, "Signature"))
        .collect();
    match sigs.as_slice() {
        [sig] if sig.parent() == Some(root) => dsig::check_shape(*sig, id)?,
        _ => return Err(AcsError::StraySignature),
    }
    let signed = dsig::verify(plain, certs)?;
    if xml::parse(&signed)?.root_element().attribute("ID") != Some(id) {
        return Err(AcsError::Signature(DsigError::Reference));
    }
    Ok(signed)
}
