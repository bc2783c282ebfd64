//! poort as service provider towards ADs: writing AuthnRequests and checking their Responses.
//!
//! A Response is accepted only when every check holds (fail closed). The message is read from
//! the bytes covered by a verified signature; the unsigned envelope is used only to find the
//! pending flow and to check Destination, never for identity data.

use super::dsig::{self, DsigError};
use super::encrypt::{self, EncryptError};
use super::idp::{STATUS_AUTHN_FAILED, STATUS_SUCCESS};
use super::protocol::ProtocolMessage;
use super::xml::{self, NS_DS, NS_SAML, NS_SAMLP};
use crate::domain::attributes::{self, Attribute, AttributeValue, RequestedAttribute};
use crate::domain::level::{Comparison, Level, LevelError};
use crate::domain::session::{UpstreamNameId, UpstreamSession};
use crate::keys::SigningKey;
use chrono::{DateTime, Duration, Utc};
use openssl::pkey::{PKey, Private};

/// An AuthnRequest to an AD. (Alike in form only to other structs of borrowed inputs, such as
/// the assertion's `AssertionContent`: nothing to share.)
#[derive(Debug, Clone)]
pub struct AdRequest<'a> {
    pub id: &'a str,
    pub sp_entity_id: &'a str,
    pub destination: &'a str,
    pub acs_url: &'a str,
    /// The ProtocolBinding the AD is asked to answer with.
    pub answer_binding: &'a str,
    pub level: Level,
    pub comparison: Comparison,
    pub force_authn: bool,
    /// The attributes the service asks for: asked of the AD in the afsprakenstelsel's request
    /// extension (`samlp:Extensions/esp:RequestedAttributes`, pages *Interface specifications
    /// HM-AD* and HM-MR), except those poort answers for itself.
    pub requested_attributes: &'a [RequestedAttribute],
    pub now: DateTime<Utc>,
}

impl<'a> AdRequest<'a> {
    /// A request at `level` (minimum), answered by HTTP-POST, without ForceAuthn and asking
    /// for no attributes; the other fields are set on the value.
    pub fn new(
        id: &'a str,
        sp_entity_id: &'a str,
        destination: &'a str,
        acs_url: &'a str,
        level: Level,
        now: DateTime<Utc>,
    ) -> AdRequest<'a> {
        AdRequest {
            id,
            sp_entity_id,
            destination,
            acs_url,
            answer_binding: xml::BINDING_POST,
            level,
            comparison: Comparison::Minimum,
            force_authn: false,
            requested_attributes: &[],
            now,
        }
    }

    /// The request. With `sign_enveloped` it carries an enveloped signature (HTTP-POST and
    /// HTTP-Artifact bindings); otherwise the redirect binding signs the query.
    pub fn write(&self, sign_enveloped: Option<&SigningKey>) -> Result<String, DsigError> {
        let comparison = match self.comparison {
            Comparison::Minimum => "minimum",
            Comparison::Exact => "exact",
        };
        let mut attributes = vec![
            ("Destination", self.destination),
            ("AssertionConsumerServiceURL", self.acs_url),
            ("ProtocolBinding", self.answer_binding),
        ];
        if self.force_authn {
            attributes.push(("ForceAuthn", "true"));
        }
        // Extensions come before RequestedAuthnContext (SAML Core's schema order).
        let content = format!(
            r#"{}<samlp:RequestedAuthnContext Comparison="{comparison}"><saml:AuthnContextClassRef>{}</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>"#,
            requested_attributes_extension(self.requested_attributes),
            self.level.uri()
        );
        ProtocolMessage {
            name: "AuthnRequest",
            id: self.id,
            issue_instant: self.now,
            attributes: &attributes,
            issuer: self.sp_entity_id,
            content: &content,
        }
        .write(sign_enveloped)
    }
}

/// `samlp:Extensions` asking for the attributes, or nothing when none is to be asked.
fn requested_attributes_extension(requested: &[RequestedAttribute]) -> String {
    let asked = attributes::to_ask(requested);
    if asked.is_empty() {
        return String::new();
    }
    let items: String = asked
        .iter()
        .map(|a| {
            format!(
                r#"<md:RequestedAttribute Name="{}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri" isRequired="{}"/>"#,
                xml::escape(&a.name),
                a.required
            )
        })
        .collect();
    format!(
        r#"<samlp:Extensions><esp:RequestedAttributes xmlns:esp="{}" xmlns:md="{}">{items}</esp:RequestedAttributes></samlp:Extensions>"#,
        xml::NS_ESP,
        xml::NS_MD
    )
}

#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    #[error(transparent)]
    Xml(#[from] xml::XmlError),
    #[error("the message is not a SAML 2.0 Response")]
    NotResponse,
    #[error("the Response has no {0}")]
    Missing(&'static str),
    #[error("the Response must hold exactly one assertion")]
    AssertionCount,
    #[error("a signature sits where none is allowed")]
    StraySignature,
    #[error("neither the Response nor the Assertion is signed")]
    Unsigned,
    #[error("signature: {0}")]
    Signature(#[from] DsigError),
    #[error("encrypted assertion: {0}")]
    Encryption(#[from] EncryptError),
    #[error("Destination {0:?} is not poort's ACS")]
    Destination(Option<String>),
    #[error("Recipient {0:?} is not poort's ACS")]
    Recipient(Option<String>),
    #[error("InResponseTo does not match the pending login")]
    InResponseTo,
    #[error("Issuer {0:?} is not the identity provider the person was sent to")]
    Issuer(String),
    #[error("Audience does not name poort")]
    Audience,
    #[error("the assertion is not yet valid")]
    NotYetValid,
    #[error("the assertion has expired")]
    Expired,
    #[error("the assertion has no usable bearer SubjectConfirmation")]
    SubjectConfirmation,
    #[error("AuthnContextClassRef: {0}")]
    Level(#[from] LevelError),
    #[error("{0} is not a valid time")]
    Time(&'static str),
    #[error("an EncryptedAttribute does not hold a saml:Attribute")]
    EncryptedAttribute,
}

/// What the AD said, after every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdOutcome {
    Authenticated(VerifiedAssertion),
    /// The person cancelled at the AD.
    Cancelled,
    /// The AD reports a failure (status codes kept for the logs).
    Failed {
        status: String,
        message: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub assertion_id: String,
    pub subject: String,
    /// The AD's session, as a log-out message to it must name it: the NameID with its
    /// attributes, and the AuthnStatement's SessionIndex.
    pub upstream: UpstreamSession,
    pub level: Level,
    pub authn_instant: DateTime<Utc>,
    /// Until when the assertion ID must be remembered against replay.
    pub not_on_or_after: DateTime<Utc>,
    /// The attributes of its AttributeStatements, those sent encrypted decrypted (and marked
    /// confidential).
    pub attributes: Vec<Attribute>,
}

/// What the Response is checked against.
pub struct Expectations<'a> {
    pub idp_entity_id: &'a str,
    pub idp_certs: &'a [Vec<u8>],
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub request_id: &'a str,
    pub decryption_key: &'a PKey<Private>,
    pub now: DateTime<Utc>,
    pub clock_skew: Duration,
}

/// Reads InResponseTo from the envelope, to find the pending flow. Nothing else is trusted yet.
pub fn in_response_to(text: &str) -> Result<String, ResponseError> {
    let doc = xml::parse(text)?;
    let root = doc.root_element();
    if !xml::is(root, NS_SAMLP, "Response") {
        return Err(ResponseError::NotResponse);
    }
    root.attribute("InResponseTo")
        .map(str::to_string)
        .ok_or(ResponseError::Missing("InResponseTo"))
}

/// Checks a Response from an AD against `exp`.
pub fn check_response(text: &str, exp: &Expectations<'_>) -> Result<AdOutcome, ResponseError> {
    let doc = xml::parse(text)?;
    let root = doc.root_element();
    if !xml::is(root, NS_SAMLP, "Response") || root.attribute("Version") != Some("2.0") {
        return Err(ResponseError::NotResponse);
    }
    let response_id = root.attribute("ID").ok_or(ResponseError::Missing("ID"))?;
    if root.attribute("Destination") != Some(exp.acs_url) {
        return Err(ResponseError::Destination(
            root.attribute("Destination").map(str::to_string),
        ));
    }
    if root.attribute("InResponseTo") != Some(exp.request_id) {
        return Err(ResponseError::InResponseTo);
    }
    if let Some(issuer) = xml::child(root, NS_SAML, "Issuer").map(xml::text) {
        if issuer != exp.idp_entity_id {
            return Err(ResponseError::Issuer(issuer));
        }
    }

    // Shape: exactly one (encrypted) assertion, directly under the Response, and signatures only
    // directly under the Response or that assertion. Wrapping attacks need a second copy
    // somewhere; there is none to be had.
    let assertions: Vec<_> = doc
        .descendants()
        .filter(|n| xml::is(*n, NS_SAML, "Assertion") || xml::is(*n, NS_SAML, "EncryptedAssertion"))
        .collect();
    let response_sig = xml::child(root, NS_DS, "Signature");
    let status = xml::child(root, NS_SAMLP, "Status").ok_or(ResponseError::Missing("Status"))?;
    let top_status = xml::child(status, NS_SAMLP, "StatusCode")
        .and_then(|c| c.attribute("Value"))
        .ok_or(ResponseError::Missing("StatusCode"))?;

    if top_status != STATUS_SUCCESS {
        // An error Response carries no identity; if signed, the signature must still hold.
        if let Some(sig) = response_sig {
            dsig::check_shape(sig, response_id)?;
            dsig::verify(text, exp.idp_certs)?;
        }
        return Ok(error_outcome(status));
    }

    let [assertion] = assertions.as_slice() else {
        return Err(ResponseError::AssertionCount);
    };
    if assertion.parent() != Some(root) {
        return Err(ResponseError::AssertionCount);
    }
    for sig in doc
        .descendants()
        .filter(|n| xml::is(*n, NS_DS, "Signature"))
    {
        let parent = sig.parent().ok_or(ResponseError::StraySignature)?;
        if parent != root && parent != *assertion {
            return Err(ResponseError::StraySignature);
        }
        let parent_id = parent.attribute("ID").ok_or(ResponseError::Missing("ID"))?;
        dsig::check_shape(sig, parent_id)?;
    }

    // The trusted assertion: from the bytes a verified signature covers.
    let assertion_xml: String = if response_sig.is_some() {
        let signed = dsig::verify(text, exp.idp_certs)?;
        let signed_doc = xml::parse(&signed)?;
        let signed_root = signed_doc.root_element();
        if !xml::is(signed_root, NS_SAMLP, "Response")
            || signed_root.attribute("ID") != Some(response_id)
        {
            return Err(ResponseError::Signature(DsigError::Reference));
        }
        let inner = signed_root
            .children()
            .find(|n| {
                xml::is(*n, NS_SAML, "Assertion") || xml::is(*n, NS_SAML, "EncryptedAssertion")
            })
            .ok_or(ResponseError::AssertionCount)?;
        if xml::is(inner, NS_SAML, "EncryptedAssertion") {
            let plain = encrypt::decrypt_element(inner, exp.decryption_key)?;
            verify_if_signed(&plain, exp.idp_certs)?
        } else {
            // Read it in place: the signed Response covers it.
            return check_assertion(inner, exp).map(AdOutcome::Authenticated);
        }
    } else if xml::is(*assertion, NS_SAML, "EncryptedAssertion") {
        let plain = encrypt::decrypt_element(*assertion, exp.decryption_key)?;
        verify_assertion(&plain, exp.idp_certs)?
    } else {
        if xml::child(*assertion, NS_DS, "Signature").is_none() {
            return Err(ResponseError::Unsigned);
        }
        let signed = dsig::verify(text, exp.idp_certs)?;
        let signed_doc = xml::parse(&signed)?;
        if !xml::is(signed_doc.root_element(), NS_SAML, "Assertion")
            || signed_doc.root_element().attribute("ID") != assertion.attribute("ID")
        {
            return Err(ResponseError::Signature(DsigError::Reference));
        }
        signed
    };
    let assertion_doc = xml::parse(&assertion_xml)?;
    check_assertion(assertion_doc.root_element(), exp).map(AdOutcome::Authenticated)
}

/// A decrypted assertion inside a signed Response: its own signature, if any, must hold too.
fn verify_if_signed(plain: &str, certs: &[Vec<u8>]) -> Result<String, ResponseError> {
    let doc = xml::parse(plain)?;
    if xml::child(doc.root_element(), NS_DS, "Signature").is_some() {
        verify_assertion(plain, certs)
    } else {
        Ok(plain.to_string())
    }
}

/// A standalone assertion that must carry its own valid signature.
fn verify_assertion(plain: &str, certs: &[Vec<u8>]) -> Result<String, ResponseError> {
    let doc = xml::parse(plain)?;
    let root = doc.root_element();
    if !xml::is(root, NS_SAML, "Assertion") {
        return Err(ResponseError::AssertionCount);
    }
    let id = root.attribute("ID").ok_or(ResponseError::Missing("ID"))?;
    let sigs: Vec<_> = doc
        .descendants()
        .filter(|n| xml::is(*n, NS_DS, "Signature"))
        .collect();
    let [sig] = sigs.as_slice() else {
        return Err(if sigs.is_empty() {
            ResponseError::Unsigned
        } else {
            ResponseError::StraySignature
        });
    };
    if sig.parent() != Some(root) {
        return Err(ResponseError::StraySignature);
    }
    dsig::check_shape(*sig, id)?;
    let signed = dsig::verify(plain, certs)?;
    let signed_doc = xml::parse(&signed)?;
    if signed_doc.root_element().attribute("ID") != Some(id) {
        return Err(ResponseError::Signature(DsigError::Reference));
    }
    Ok(signed)
}

fn error_outcome(status: roxmltree::Node<'_, '_>) -> AdOutcome {
    let top = xml::child(status, NS_SAMLP, "StatusCode");
    let second = top
        .and_then(|t| xml::child(t, NS_SAMLP, "StatusCode"))
        .and_then(|c| c.attribute("Value"));
    let message = xml::child(status, NS_SAMLP, "StatusMessage").map(xml::text);
    let cancelled = second == Some(STATUS_AUTHN_FAILED)
        && message
            .as_deref()
            .is_some_and(|m| m.to_ascii_lowercase().contains("cancel"));
    if cancelled {
        AdOutcome::Cancelled
    } else {
        let status = [top.and_then(|t| t.attribute("Value")), second]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" / ");
        AdOutcome::Failed { status, message }
    }
}

fn time_attr(
    node: roxmltree::Node<'_, '_>,
    name: &'static str,
) -> Result<Option<DateTime<Utc>>, ResponseError> {
    node.attribute(name)
        .map(|v| xml::parse_instant(v).ok_or(ResponseError::Time(name)))
        .transpose()
}

/// The checks on a trusted (signed, decrypted) assertion.
fn check_assertion(
    a: roxmltree::Node<'_, '_>,
    exp: &Expectations<'_>,
) -> Result<VerifiedAssertion, ResponseError> {
    let skew = exp.clock_skew;
    let assertion_id = a
        .attribute("ID")
        .ok_or(ResponseError::Missing("Assertion ID"))?;
    let issuer = xml::child(a, NS_SAML, "Issuer")
        .map(xml::text)
        .ok_or(ResponseError::Missing("Assertion Issuer"))?;
    if issuer != exp.idp_entity_id {
        return Err(ResponseError::Issuer(issuer));
    }
    let subject = xml::child(a, NS_SAML, "Subject").ok_or(ResponseError::Missing("Subject"))?;
    let name_id_node = xml::child(subject, NS_SAML, "NameID");
    let name_id = name_id_node
        .map(xml::text)
        .filter(|s| !s.is_empty())
        .ok_or(ResponseError::Missing("NameID"))?;
    let upstream_name_id = name_id_node.map(|n| UpstreamNameId {
        value: name_id.clone(),
        format: n.attribute("Format").map(str::to_string),
        name_qualifier: n.attribute("NameQualifier").map(str::to_string),
        sp_name_qualifier: n.attribute("SPNameQualifier").map(str::to_string),
    });

    // A bearer confirmation for us, for this request, still valid.
    let mut confirmed = false;
    let mut confirmation_error = ResponseError::SubjectConfirmation;
    for sc in xml::children(subject, NS_SAML, "SubjectConfirmation") {
        if sc.attribute("Method") != Some("urn:oasis:names:tc:SAML:2.0:cm:bearer") {
            continue;
        }
        let Some(data) = xml::child(sc, NS_SAML, "SubjectConfirmationData") else {
            continue;
        };
        if data.attribute("Recipient") != Some(exp.acs_url) {
            confirmation_error =
                ResponseError::Recipient(data.attribute("Recipient").map(str::to_string));
            continue;
        }
        if data.attribute("InResponseTo") != Some(exp.request_id) {
            confirmation_error = ResponseError::InResponseTo;
            continue;
        }
        match time_attr(data, "NotOnOrAfter")? {
            Some(t) if exp.now < t + skew => {}
            Some(_) => {
                confirmation_error = ResponseError::Expired;
                continue;
            }
            None => continue,
        }
        if time_attr(data, "NotBefore")?.is_some_and(|t| exp.now + skew < t) {
            confirmation_error = ResponseError::NotYetValid;
            continue;
        }
        confirmed = true;
        break;
    }
    if !confirmed {
        return Err(confirmation_error);
    }

    let conditions =
        xml::child(a, NS_SAML, "Conditions").ok_or(ResponseError::Missing("Conditions"))?;
    if time_attr(conditions, "NotBefore")?.is_some_and(|t| exp.now + skew < t) {
        return Err(ResponseError::NotYetValid);
    }
    let not_on_or_after = time_attr(conditions, "NotOnOrAfter")?
        .ok_or(ResponseError::Missing("Conditions NotOnOrAfter"))?;
    if exp.now >= not_on_or_after + skew {
        return Err(ResponseError::Expired);
    }
    // Every AudienceRestriction must name us (they are ANDed).
    let restrictions: Vec<_> = xml::children(conditions, NS_SAML, "AudienceRestriction").collect();
    if restrictions.is_empty()
        || !restrictions.iter().all(|r| {
            xml::children(*r, NS_SAML, "Audience").any(|aud| xml::text(aud) == exp.sp_entity_id)
        })
    {
        return Err(ResponseError::Audience);
    }

    let statement =
        xml::child(a, NS_SAML, "AuthnStatement").ok_or(ResponseError::Missing("AuthnStatement"))?;
    let authn_instant =
        time_attr(statement, "AuthnInstant")?.ok_or(ResponseError::Missing("AuthnInstant"))?;
    let class_ref = xml::child(statement, NS_SAML, "AuthnContext")
        .and_then(|c| xml::child(c, NS_SAML, "AuthnContextClassRef"))
        .map(xml::text)
        .ok_or(ResponseError::Missing("AuthnContextClassRef"))?;
    let level = Level::from_uri(&class_ref)?;
    let session_index = statement.attribute("SessionIndex").map(str::to_string);
    let mut attributes = Vec::new();
    for statement in xml::children(a, NS_SAML, "AttributeStatement") {
        for node in statement.children().filter(|n| n.is_element()) {
            if xml::is(node, NS_SAML, "Attribute") {
                attributes.extend(read_attribute(node, false));
            } else if xml::is(node, NS_SAML, "EncryptedAttribute") {
                let plain = encrypt::decrypt_element(node, exp.decryption_key)?;
                let doc = xml::parse(&plain)?;
                let root = doc.root_element();
                if !xml::is(root, NS_SAML, "Attribute") {
                    return Err(ResponseError::EncryptedAttribute);
                }
                attributes.extend(read_attribute(root, true));
            }
        }
    }
    Ok(VerifiedAssertion {
        assertion_id: assertion_id.to_string(),
        subject: name_id,
        upstream: UpstreamSession {
            name_id: upstream_name_id,
            session_index,
        },
        level,
        authn_instant,
        not_on_or_after: not_on_or_after + skew,
        attributes,
    })
}

/// A `saml:Attribute` as poort keeps it: string values and NameID values. A value of another
/// shape (a structure poort cannot pass on faithfully) is left out, and an attribute left with
/// no value is dropped; the log names the attribute, never a value.
fn read_attribute(node: roxmltree::Node<'_, '_>, confidential: bool) -> Option<Attribute> {
    let name = node.attribute("Name")?;
    let mut values = Vec::new();
    for value in xml::children(node, NS_SAML, "AttributeValue") {
        let elements: Vec<_> = value.children().filter(|n| n.is_element()).collect();
        match elements.as_slice() {
            [] => values.push(AttributeValue::Text(xml::text(value))),
            [id] if xml::is(*id, NS_SAML, "NameID") => values.push(AttributeValue::NameId {
                qualifier: id.attribute("NameQualifier").map(str::to_string),
                format: id.attribute("Format").map(str::to_string),
                value: xml::text(*id),
            }),
            _ => tracing::warn!(
                attribute = name,
                "an attribute value of an unknown shape is left out"
            ),
        }
    }
    (!values.is_empty()).then(|| Attribute {
        name: name.to_string(),
        values,
        confidential,
    })
}
