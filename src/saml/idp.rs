//! poort as identity provider towards DVs: reading their AuthnRequests and writing Responses.

use super::dsig::{self, DsigError};
use super::encrypt::{self, EncryptError};
use super::protocol::{self, ProtocolMessage};
use super::xml::{self, escape, instant, NS_DS, NS_ESP, NS_MD, NS_SAML, NS_SAMLP};
use crate::domain::attributes::{Attribute, AttributeValue, RequestedAttribute};
use crate::domain::identifiers::IdentifierType;
use crate::domain::level::{Comparison, Level};
use crate::keys::SigningKey;
use chrono::{DateTime, Utc};
use openssl::pkey::{PKey, Public};

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Xml(#[from] xml::XmlError),
    #[error("the message is not a SAML 2.0 AuthnRequest")]
    NotAuthnRequest,
    #[error("the AuthnRequest has no {0}")]
    Missing(&'static str),
    #[error("the AuthnRequest has an invalid {0}")]
    Invalid(&'static str),
    #[error("the AuthnRequest carries more than one signature")]
    SignatureCount,
    #[error("signature: {0}")]
    Signature(#[from] DsigError),
}

/// What a DV asks for in its RequestedAuthnContext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedContext {
    /// SAML's Comparison attribute as given (default "exact").
    pub comparison: String,
    pub class_refs: Vec<String>,
}

/// An AuthnRequest from a DV, as parsed (not yet checked against metadata or config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequest {
    pub id: String,
    pub issuer: String,
    pub issue_instant: DateTime<Utc>,
    pub destination: Option<String>,
    pub acs_index: Option<u16>,
    pub acs_url: Option<String>,
    pub protocol_binding: Option<String>,
    pub attribute_consuming_service_index: Option<u16>,
    pub requested_context: Option<RequestedContext>,
    pub force_authn: bool,
    pub is_passive: bool,
    pub idp_list: Vec<String>,
    /// The request extension's `esp:RequestedAttributes`, as poort sends it to ADs (read by the
    /// dev AD; for a DV's request the service catalogue decides what is asked, not this).
    pub requested_attributes: Vec<RequestedAttribute>,
    /// The request carries an enveloped signature (HTTP-POST binding), to be verified.
    pub has_signature: bool,
}

fn bool_attr(node: roxmltree::Node<'_, '_>, name: &'static str) -> Result<bool, RequestError> {
    match node.attribute(name) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(RequestError::Invalid(name)),
    }
}

fn u16_attr(
    node: roxmltree::Node<'_, '_>,
    name: &'static str,
) -> Result<Option<u16>, RequestError> {
    node.attribute(name)
        .map(|v| {
            v.trim()
                .parse::<u16>()
                .map_err(|_| RequestError::Invalid(name))
        })
        .transpose()
}

impl AuthnRequest {
    /// Parses an AuthnRequest.
    pub fn parse(text: &str) -> Result<AuthnRequest, RequestError> {
        let doc = xml::parse(text)?;
        Self::from_root(doc.root_element())
    }

    fn from_root(root: roxmltree::Node<'_, '_>) -> Result<AuthnRequest, RequestError> {
        if !xml::is(root, NS_SAMLP, "AuthnRequest") || root.attribute("Version") != Some("2.0") {
            return Err(RequestError::NotAuthnRequest);
        }
        let id = root.attribute("ID").ok_or(RequestError::Missing("ID"))?;
        let issuer = xml::child(root, NS_SAML, "Issuer")
            .map(xml::text)
            .filter(|s| !s.is_empty())
            .ok_or(RequestError::Missing("Issuer"))?;
        let issue_instant = root
            .attribute("IssueInstant")
            .ok_or(RequestError::Missing("IssueInstant"))
            .and_then(|s| xml::parse_instant(s).ok_or(RequestError::Invalid("IssueInstant")))?;
        let requested_context =
            xml::child(root, NS_SAMLP, "RequestedAuthnContext").map(|rac| RequestedContext {
                comparison: rac.attribute("Comparison").unwrap_or("exact").to_string(),
                class_refs: xml::children(rac, NS_SAML, "AuthnContextClassRef")
                    .map(xml::text)
                    .collect(),
            });
        let idp_list = xml::child(root, NS_SAMLP, "Scoping")
            .and_then(|s| xml::child(s, NS_SAMLP, "IDPList"))
            .map(|list| {
                xml::children(list, NS_SAMLP, "IDPEntry")
                    .filter_map(|e| e.attribute("ProviderID").map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let requested_attributes = xml::child(root, NS_SAMLP, "Extensions")
            .and_then(|e| xml::child(e, NS_ESP, "RequestedAttributes"))
            .map(|list| {
                xml::children(list, NS_MD, "RequestedAttribute")
                    .filter_map(|a| {
                        Some(RequestedAttribute {
                            name: a.attribute("Name")?.to_string(),
                            required: bool_attr(a, "isRequired").unwrap_or(false),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let signatures = xml::children(root, NS_DS, "Signature").count();
        if signatures > 1 {
            return Err(RequestError::SignatureCount);
        }
        Ok(AuthnRequest {
            id: id.to_string(),
            issuer,
            issue_instant,
            destination: root.attribute("Destination").map(str::to_string),
            acs_index: u16_attr(root, "AssertionConsumerServiceIndex")?,
            acs_url: root
                .attribute("AssertionConsumerServiceURL")
                .map(str::to_string),
            protocol_binding: root.attribute("ProtocolBinding").map(str::to_string),
            attribute_consuming_service_index: u16_attr(root, "AttributeConsumingServiceIndex")?,
            requested_context,
            force_authn: bool_attr(root, "ForceAuthn")?,
            is_passive: bool_attr(root, "IsPassive")?,
            idp_list,
            requested_attributes,
            has_signature: signatures == 1,
        })
    }

    /// Verifies the enveloped signature of a request received over HTTP-POST with the DV's
    /// certificates, and re-reads the request from the signed bytes only.
    pub fn verify_enveloped(text: &str, certs: &[Vec<u8>]) -> Result<AuthnRequest, RequestError> {
        let doc = xml::parse(text)?;
        let root = doc.root_element();
        let id = root.attribute("ID").ok_or(RequestError::Missing("ID"))?;
        // Exactly one signature in the whole document, directly under the request.
        let all = doc
            .descendants()
            .filter(|n| xml::is(*n, NS_DS, "Signature"))
            .count();
        let sig = xml::child(root, NS_DS, "Signature").ok_or(DsigError::Unsigned)?;
        if all != 1 {
            return Err(RequestError::SignatureCount);
        }
        dsig::check_shape(sig, id)?;
        let signed = dsig::verify(text, certs)?;
        let signed_doc = xml::parse(&signed)?;
        let request = Self::from_root(signed_doc.root_element())?;
        if request.id != id {
            return Err(RequestError::Signature(DsigError::Reference));
        }
        Ok(AuthnRequest {
            has_signature: true,
            ..request
        })
    }

    /// The level this request asks for, and how to compare: `Ok(None)` when it names none.
    pub fn requested_level(&self) -> Result<Option<(Level, Comparison)>, LevelRequestError> {
        let Some(ctx) = &self.requested_context else {
            return Ok(None);
        };
        let levels: Vec<Level> = ctx
            .class_refs
            .iter()
            .filter_map(|r| Level::from_uri(r).ok())
            .collect();
        let Some(lowest) = levels.iter().min().copied() else {
            return Err(LevelRequestError::NoKnownLevel);
        };
        match ctx.comparison.as_str() {
            "minimum" => Ok(Some((lowest, Comparison::Minimum))),
            "exact" => Ok(Some((lowest, Comparison::Exact))),
            "better" => Level::ALL
                .into_iter()
                .find(|l| *l > lowest)
                .map(|l| Some((l, Comparison::Minimum)))
                .ok_or(LevelRequestError::NoKnownLevel),
            other => Err(LevelRequestError::Comparison(other.to_string())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelRequestError {
    #[error("RequestedAuthnContext names no level of assurance poort knows")]
    NoKnownLevel,
    #[error("RequestedAuthnContext comparison {0:?} is not supported")]
    Comparison(String),
}

/// A SAML status for an error Response: top-level and second-level code, and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlStatus {
    pub top: &'static str,
    pub second: Option<&'static str>,
    pub message: String,
}

pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const STATUS_REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
pub const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
pub const STATUS_AUTHN_FAILED: &str = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed";
pub const STATUS_REQUEST_UNSUPPORTED: &str =
    "urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported";
pub const STATUS_NO_AUTHN_CONTEXT: &str = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext";
pub const STATUS_REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
pub const STATUS_NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
pub const STATUS_NO_AVAILABLE_IDP: &str = "urn:oasis:names:tc:SAML:2.0:status:NoAvailableIDP";

pub const ATTR_SERVICE_ID: &str = "urn:etoegang:core:ServiceID";
pub const ATTR_SERVICE_UUID: &str = "urn:etoegang:core:ServiceUUID";
pub const ATTR_ACTING_SUBJECT_ID: &str = "urn:etoegang:core:ActingSubjectID";
pub const ATTR_LEGAL_SUBJECT_ID: &str = "urn:etoegang:core:LegalSubjectID";
pub const ATTR_COMPANY_NAME: &str = "urn:etoegang:1.11:attribute-represented:CompanyName";
pub const KVK_QUALIFIER: &str = IdentifierType::KvKnr.uri();
const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
const NS_XS: &str = "http://www.w3.org/2001/XMLSchema";
const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Everything a successful Response to a DV says. (Alike in form only to other structs of
/// borrowed inputs, such as the metrics' `LoginEnd`: nothing to share.)
#[derive(Debug, Clone)]
pub struct AssertionContent<'a> {
    pub idp_entity_id: &'a str,
    pub audience: &'a str,
    pub acs_url: &'a str,
    pub in_response_to: &'a str,
    /// Pseudonym of the person, specific to this DV.
    pub pseudonym: &'a str,
    /// The organisation's identifiers the service accepts, KvK number first
    /// ([`crate::domain::identifiers::legal_subject_ids`]): one LegalSubjectID attribute with a
    /// NameID per identifier.
    pub legal_subject: &'a [(IdentifierType, &'a str)],
    pub company_name: &'a str,
    pub service_id: &'a str,
    pub service_uuid: &'a str,
    pub level_used: Level,
    pub authenticating_authority: &'a str,
    pub authn_instant: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub lifetime_seconds: i64,
    /// The identity provider's attributes released to this service, as written by
    /// [`further_attributes`].
    pub further_attributes: &'a str,
}

fn value_xml(value: &AttributeValue) -> String {
    match value {
        AttributeValue::Text(text) => format!(
            r#"<saml:AttributeValue xsi:type="xs:string">{}</saml:AttributeValue>"#,
            escape(text)
        ),
        AttributeValue::NameId {
            qualifier,
            format,
            value,
        } => {
            let attr = |name: &str, v: &Option<String>| {
                v.as_deref()
                    .map(|v| format!(r#" {name}="{}""#, escape(v)))
                    .unwrap_or_default()
            };
            format!(
                r#"<saml:AttributeValue><saml:NameID{}{}>{}</saml:NameID></saml:AttributeValue>"#,
                attr("NameQualifier", qualifier),
                attr("Format", format),
                escape(value)
            )
        }
    }
}

/// A `saml:Attribute`. A `standalone` one declares its namespaces itself, so that it can be
/// encrypted on its own.
fn attribute_xml(name: &str, values: &[AttributeValue], standalone: bool) -> String {
    let namespaces = if standalone {
        format!(r#" xmlns:saml="{NS_SAML}" xmlns:xs="{NS_XS}" xmlns:xsi="{NS_XSI}""#)
    } else {
        String::new()
    };
    let values: String = values.iter().map(value_xml).collect();
    format!(
        r#"<saml:Attribute{namespaces} Name="{}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">{values}</saml:Attribute>"#,
        escape(name)
    )
}

fn text_attribute(name: &str, value: &str) -> String {
    attribute_xml(name, &[AttributeValue::Text(value.to_string())], false)
}

/// The identity provider's attributes as a service gets them, and the names of those withheld.
#[derive(Debug, Default)]
pub struct FurtherAttributes {
    pub xml: String,
    /// Attributes the identity provider sent encrypted, withheld because the DV has no
    /// encryption key: they never go out in the clear.
    pub withheld: Vec<String>,
}

/// Writes the released attributes: in the clear as they came, and those the identity provider
/// encrypted encrypted again, to the DV's key (`saml:EncryptedAttribute`).
pub fn further_attributes(
    released: &[&Attribute],
    dv_key: Option<&PKey<Public>>,
) -> Result<FurtherAttributes, EncryptError> {
    let mut out = FurtherAttributes::default();
    for a in released {
        match (a.confidential, dv_key) {
            (false, _) => out.xml.push_str(&attribute_xml(&a.name, &a.values, false)),
            (true, Some(key)) => out.xml.push_str(&encrypt::encrypt_attribute(
                &attribute_xml(&a.name, &a.values, true),
                key,
            )?),
            (true, None) => out.withheld.push(a.name.clone()),
        }
    }
    Ok(out)
}

/// Writes and signs the assertion (as its own document, so that the signature stays valid once
/// embedded). Returns the signed `saml:Assertion` element.
pub fn signed_assertion(c: &AssertionContent<'_>, key: &SigningKey) -> Result<String, DsigError> {
    let id = xml::new_id();
    let legal_subject: Vec<AttributeValue> = c
        .legal_subject
        .iter()
        .map(|(kind, value)| AttributeValue::NameId {
            qualifier: Some(kind.uri().to_string()),
            format: None,
            value: value.to_string(),
        })
        .collect();
    let not_on_or_after = instant(c.now + chrono::Duration::seconds(c.lifetime_seconds));
    let now = instant(c.now);
    let assertion = format!(
        concat!(
            r#"<saml:Assertion xmlns:saml="{saml}" xmlns:xs="{xs}" xmlns:xsi="{xsi}" ID="{id}" Version="2.0" IssueInstant="{now}">"#,
            r#"<saml:Issuer>{issuer}</saml:Issuer>{sig}"#,
            r#"<saml:Subject><saml:NameID Format="{persistent}" NameQualifier="{issuer}" SPNameQualifier="{audience}">{pseudonym}</saml:NameID>"#,
            r#"<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">"#,
            r#"<saml:SubjectConfirmationData InResponseTo="{irt}" NotOnOrAfter="{noa}" Recipient="{acs}"/>"#,
            r#"</saml:SubjectConfirmation></saml:Subject>"#,
            r#"<saml:Conditions NotBefore="{now}" NotOnOrAfter="{noa}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>"#,
            r#"<saml:AuthnStatement AuthnInstant="{authn}" SessionIndex="{id}"><saml:AuthnContext>"#,
            r#"<saml:AuthnContextClassRef>{level}</saml:AuthnContextClassRef>"#,
            r#"<saml:AuthenticatingAuthority>{ad}</saml:AuthenticatingAuthority>"#,
            r#"</saml:AuthnContext></saml:AuthnStatement>"#,
            r#"<saml:AttributeStatement>{a1}{a2}{a3}{a4}{a5}{further}</saml:AttributeStatement>"#,
            r#"</saml:Assertion>"#
        ),
        saml = NS_SAML,
        xs = NS_XS,
        xsi = NS_XSI,
        id = id,
        now = now,
        issuer = escape(c.idp_entity_id),
        sig = dsig::template(&id, key),
        persistent = NAMEID_PERSISTENT,
        audience = escape(c.audience),
        pseudonym = escape(c.pseudonym),
        irt = escape(c.in_response_to),
        noa = not_on_or_after,
        acs = escape(c.acs_url),
        authn = instant(c.authn_instant),
        level = c.level_used.uri(),
        ad = escape(c.authenticating_authority),
        a1 = text_attribute(ATTR_SERVICE_ID, c.service_id),
        a2 = text_attribute(ATTR_SERVICE_UUID, c.service_uuid),
        a3 = attribute_xml(
            ATTR_ACTING_SUBJECT_ID,
            &[AttributeValue::NameId {
                qualifier: Some(c.idp_entity_id.to_string()),
                format: Some(NAMEID_PERSISTENT.to_string()),
                value: c.pseudonym.to_string(),
            }],
            false
        ),
        a4 = attribute_xml(ATTR_LEGAL_SUBJECT_ID, &legal_subject, false),
        a5 = text_attribute(ATTR_COMPANY_NAME, c.company_name),
        further = c.further_attributes,
    );
    dsig::sign(&assertion, key)
}

/// Writes and signs a Response. `body` is the signed (or encrypted) assertion; `status` is
/// `None` for success.
pub fn signed_response(
    idp_entity_id: &str,
    acs_url: &str,
    in_response_to: &str,
    status: Option<&SamlStatus>,
    body: Option<&str>,
    now: DateTime<Utc>,
    key: &SigningKey,
) -> Result<String, DsigError> {
    let status = match status {
        None => protocol::status(STATUS_SUCCESS, None, None),
        Some(s) => protocol::status(s.top, s.second, Some(&s.message)),
    };
    ProtocolMessage {
        name: "Response",
        id: &xml::new_id(),
        issue_instant: now,
        attributes: &[("Destination", acs_url), ("InResponseTo", in_response_to)],
        issuer: idp_entity_id,
        content: &format!("{status}{}", body.unwrap_or_default()),
    }
    .signed(key)
}
