//! Single log-out messages (SAML Core 2.0 §3.7, the Single Logout Profile of SAML Profiles 2.0
//! §4.4): a DV's `LogoutRequest` and an AD's `LogoutResponse` read (and, over HTTP-POST, their
//! enveloped signature verified and the message read again from the signed bytes only); poort's
//! own `LogoutRequest` to an AD and `LogoutResponse` to a DV written.
//!
//! The afsprakenstelsel (page *Single Log-out*) makes the use case a MUST for every HM: the DV's
//! logout message goes through the HM to the AD of that login.

use super::dsig::{self, DsigError, RootRefusal};
use super::idp::STATUS_SUCCESS;
use super::protocol::{self, ProtocolMessage};
use super::xml::{self, escape, NS_DS, NS_SAML, NS_SAMLP};
use crate::domain::session::UpstreamNameId;
use crate::keys::SigningKey;
use chrono::{DateTime, Utc};

/// Some parties were not logged out (SAML Core 2.0 §3.2.2.2).
pub const STATUS_PARTIAL_LOGOUT: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";

#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error(transparent)]
    Xml(#[from] xml::XmlError),
    #[error("the message is neither a SAML 2.0 LogoutRequest nor a LogoutResponse")]
    NotLogout,
    #[error("the {0} has no {1}")]
    Missing(&'static str, &'static str),
    #[error("the {0} has an invalid {1}")]
    Invalid(&'static str, &'static str),
    #[error("the message carries a signature elsewhere than directly under its root")]
    SignaturePlace,
    #[error("signature: {0}")]
    Signature(#[from] DsigError),
}

/// A DV's request to end the person's session (as read; not yet checked against config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    pub id: String,
    pub issuer: String,
    pub issue_instant: DateTime<Utc>,
    pub destination: Option<String>,
    pub not_on_or_after: Option<DateTime<Utc>>,
    /// The NameID the DV was given (poort's pseudonym for it). Required by the schema.
    pub name_id: String,
    pub session_indexes: Vec<String>,
}

/// An AD's answer to poort's LogoutRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutResponse {
    pub id: String,
    pub issuer: String,
    pub issue_instant: DateTime<Utc>,
    pub destination: Option<String>,
    pub in_response_to: String,
    /// The top-level status code, and the second-level one if any.
    pub status: (String, Option<String>),
}

impl LogoutResponse {
    /// Whether the AD ended its session.
    pub fn succeeded(&self) -> bool {
        self.status.0 == STATUS_SUCCESS
    }
}

/// A log-out message as it arrived, signed or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutMessage {
    Request(LogoutRequest),
    Response(LogoutResponse),
}

/// A message read, and whether it carries an enveloped signature still to verify.
#[derive(Debug)]
pub struct Parsed {
    pub message: LogoutMessage,
    pub has_signature: bool,
}

impl LogoutMessage {
    /// Reads a LogoutRequest or LogoutResponse. A signature anywhere but directly under the
    /// root is refused before any cryptography.
    pub fn parse(text: &str) -> Result<Parsed, LogoutError> {
        let doc = xml::parse(text)?;
        let root = doc.root_element();
        let all = doc
            .descendants()
            .filter(|n| xml::is(*n, NS_DS, "Signature"))
            .count();
        let under_root = xml::children(root, NS_DS, "Signature").count();
        if all != under_root || under_root > 1 {
            return Err(LogoutError::SignaturePlace);
        }
        Ok(Parsed {
            message: Self::from_root(root)?,
            has_signature: under_root == 1,
        })
    }

    /// Verifies the enveloped signature of a message received over HTTP-POST with the sender's
    /// certificates (from metadata), and reads the message again from the signed bytes only.
    pub fn verify_enveloped(text: &str, certs: &[Vec<u8>]) -> Result<LogoutMessage, LogoutError> {
        let parsed = Self::parse(text)?;
        if !parsed.has_signature {
            return Err(DsigError::Unsigned.into());
        }
        let root_name = match parsed.message {
            LogoutMessage::Request(_) => "LogoutRequest",
            LogoutMessage::Response(_) => "LogoutResponse",
        };
        let signed =
            dsig::verify_signed_root(text, (NS_SAMLP, root_name), certs).map_err(|e| match e {
                RootRefusal::Malformed(m) => LogoutError::Xml(xml::XmlError::Malformed(m)),
                RootRefusal::Root => LogoutError::NotLogout,
                RootRefusal::Unsigned => LogoutError::Signature(DsigError::Unsigned),
                RootRefusal::Shape(e) => LogoutError::Signature(e),
                RootRefusal::NotTrusted => LogoutError::Signature(DsigError::Invalid),
            })?;
        let signed_doc = xml::parse(&signed)?;
        let verified = Self::from_root(signed_doc.root_element())?;
        if verified.id() != parsed.message.id() {
            return Err(DsigError::Reference.into());
        }
        Ok(verified)
    }

    pub fn id(&self) -> &str {
        match self {
            LogoutMessage::Request(r) => &r.id,
            LogoutMessage::Response(r) => &r.id,
        }
    }

    pub fn issuer(&self) -> &str {
        match self {
            LogoutMessage::Request(r) => &r.issuer,
            LogoutMessage::Response(r) => &r.issuer,
        }
    }

    fn from_root(root: roxmltree::Node<'_, '_>) -> Result<LogoutMessage, LogoutError> {
        let what = if xml::is(root, NS_SAMLP, "LogoutRequest") {
            "LogoutRequest"
        } else if xml::is(root, NS_SAMLP, "LogoutResponse") {
            "LogoutResponse"
        } else {
            return Err(LogoutError::NotLogout);
        };
        if root.attribute("Version") != Some("2.0") {
            return Err(LogoutError::Invalid(what, "Version"));
        }
        let id = root
            .attribute("ID")
            .filter(|s| !s.is_empty())
            .ok_or(LogoutError::Missing(what, "ID"))?
            .to_string();
        let issuer = xml::child(root, NS_SAML, "Issuer")
            .map(xml::text)
            .filter(|s| !s.is_empty())
            .ok_or(LogoutError::Missing(what, "Issuer"))?;
        let issue_instant = root
            .attribute("IssueInstant")
            .ok_or(LogoutError::Missing(what, "IssueInstant"))
            .and_then(|s| {
                xml::parse_instant(s).ok_or(LogoutError::Invalid(what, "IssueInstant"))
            })?;
        let destination = root.attribute("Destination").map(str::to_string);
        if what == "LogoutRequest" {
            let not_on_or_after = root
                .attribute("NotOnOrAfter")
                .map(|s| xml::parse_instant(s).ok_or(LogoutError::Invalid(what, "NotOnOrAfter")))
                .transpose()?;
            let name_id = xml::child(root, NS_SAML, "NameID")
                .map(xml::text)
                .filter(|s| !s.is_empty())
                .ok_or(LogoutError::Missing(what, "NameID"))?;
            let session_indexes = xml::children(root, NS_SAMLP, "SessionIndex")
                .map(xml::text)
                .collect();
            return Ok(LogoutMessage::Request(LogoutRequest {
                id,
                issuer,
                issue_instant,
                destination,
                not_on_or_after,
                name_id,
                session_indexes,
            }));
        }
        let in_response_to = root
            .attribute("InResponseTo")
            .filter(|s| !s.is_empty())
            .ok_or(LogoutError::Missing(what, "InResponseTo"))?
            .to_string();
        let code = xml::child(root, NS_SAMLP, "Status")
            .and_then(|s| xml::child(s, NS_SAMLP, "StatusCode"))
            .ok_or(LogoutError::Missing(what, "Status"))?;
        let top = code
            .attribute("Value")
            .ok_or(LogoutError::Invalid(what, "StatusCode"))?
            .to_string();
        let second = xml::child(code, NS_SAMLP, "StatusCode")
            .and_then(|c| c.attribute("Value"))
            .map(str::to_string);
        Ok(LogoutMessage::Response(LogoutResponse {
            id,
            issuer,
            issue_instant,
            destination,
            in_response_to,
            status: (top, second),
        }))
    }
}

/// A LogoutRequest to send: poort's to the AD of a session (the AD's own NameID, with its Format
/// and qualifiers as the AD sent it, and SessionIndex); the demo DV's to poort.
pub struct OutgoingLogoutRequest<'a> {
    pub id: &'a str,
    pub issuer: &'a str,
    pub destination: &'a str,
    pub name_id: &'a UpstreamNameId,
    pub session_index: Option<&'a str>,
    pub now: DateTime<Utc>,
    /// How long the AD may act on it.
    pub not_on_or_after: DateTime<Utc>,
}

impl OutgoingLogoutRequest<'_> {
    /// The request; with `sign_enveloped` it carries an enveloped signature (HTTP-POST),
    /// otherwise the redirect binding signs the query.
    pub fn write(&self, sign_enveloped: Option<&SigningKey>) -> Result<String, DsigError> {
        let n = self.name_id;
        let attr = |name: &str, v: &Option<String>| {
            v.as_deref()
                .map(|v| format!(r#" {name}="{}""#, escape(v)))
                .unwrap_or_default()
        };
        let session_index = self
            .session_index
            .map(|s| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape(s)))
            .unwrap_or_default();
        let content = format!(
            "<saml:NameID{}{}{}>{}</saml:NameID>{session_index}",
            attr("NameQualifier", &n.name_qualifier),
            attr("SPNameQualifier", &n.sp_name_qualifier),
            attr("Format", &n.format),
            escape(&n.value),
        );
        let not_on_or_after = xml::instant(self.not_on_or_after);
        ProtocolMessage {
            name: "LogoutRequest",
            id: self.id,
            issue_instant: self.now,
            attributes: &[
                ("Destination", self.destination),
                ("NotOnOrAfter", &not_on_or_after),
            ],
            issuer: self.issuer,
            content: &content,
        }
        .write(sign_enveloped)
    }
}

/// A LogoutResponse to send: poort's to a DV, the dev AD's to poort. `status` is the top-level
/// code and an optional second one.
pub struct OutgoingLogoutResponse<'a> {
    pub issuer: &'a str,
    pub destination: &'a str,
    pub in_response_to: &'a str,
    pub status: (&'a str, Option<&'a str>),
    pub now: DateTime<Utc>,
}

impl OutgoingLogoutResponse<'_> {
    pub fn write(&self, sign_enveloped: Option<&SigningKey>) -> Result<String, DsigError> {
        ProtocolMessage {
            name: "LogoutResponse",
            id: &xml::new_id(),
            issue_instant: self.now,
            attributes: &[
                ("Destination", self.destination),
                ("InResponseTo", self.in_response_to),
            ],
            issuer: self.issuer,
            content: &protocol::status(self.status.0, self.status.1, None),
        }
        .write(sign_enveloped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::dsig::tests::test_key;

    fn name_id() -> UpstreamNameId {
        UpstreamNameId {
            value: "ad-subject-1".into(),
            format: Some("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified".into()),
            name_qualifier: Some("urn:ad".into()),
            sp_name_qualifier: None,
        }
    }

    #[test]
    fn poorts_request_to_the_ad_reads_back_signed_and_unsigned() {
        let key = test_key();
        let now = Utc::now();
        let request = OutgoingLogoutRequest {
            id: "_lr1",
            issuer: "urn:poort:sp",
            destination: "https://ad.example/slo?x=1&y=2",
            name_id: &name_id(),
            session_index: Some("_s1"),
            now,
            not_on_or_after: now + chrono::Duration::minutes(5),
        };
        let signed = request.write(Some(&key)).unwrap();
        let verified =
            LogoutMessage::verify_enveloped(&signed, std::slice::from_ref(&key.cert_der)).unwrap();
        let LogoutMessage::Request(r) = verified else {
            panic!("not a request")
        };
        assert_eq!(r.id, "_lr1");
        assert_eq!(r.issuer, "urn:poort:sp");
        assert_eq!(
            r.destination.as_deref(),
            Some("https://ad.example/slo?x=1&y=2")
        );
        assert_eq!(r.name_id, "ad-subject-1");
        assert_eq!(r.session_indexes, ["_s1"]);
        assert!(signed.contains(r#"NameQualifier="urn:ad""#));
        let unsigned = request.write(None).unwrap();
        let parsed = LogoutMessage::parse(&unsigned).unwrap();
        assert!(!parsed.has_signature);
    }

    #[test]
    fn a_response_to_the_dv_says_its_status_and_a_tampered_one_is_refused() {
        let key = test_key();
        let response = OutgoingLogoutResponse {
            issuer: "urn:poort:idp",
            destination: "https://dv.example/slo",
            in_response_to: "_dv-req",
            status: (STATUS_SUCCESS, None),
            now: Utc::now(),
        }
        .write(Some(&key))
        .unwrap();
        let certs = std::slice::from_ref(&key.cert_der);
        let LogoutMessage::Response(r) = LogoutMessage::verify_enveloped(&response, certs).unwrap()
        else {
            panic!("not a response")
        };
        assert!(r.succeeded());
        assert_eq!(r.in_response_to, "_dv-req");
        let tampered = response.replace("_dv-req", "_other");
        assert!(matches!(
            LogoutMessage::verify_enveloped(&tampered, certs),
            Err(LogoutError::Signature(DsigError::Invalid))
        ));
        let partial = OutgoingLogoutResponse {
            issuer: "urn:poort:idp",
            destination: "https://dv.example/slo",
            in_response_to: "_dv-req",
            status: (
                crate::saml::idp::STATUS_RESPONDER,
                Some(STATUS_PARTIAL_LOGOUT),
            ),
            now: Utc::now(),
        }
        .write(None)
        .unwrap();
        let LogoutMessage::Response(r) = LogoutMessage::parse(&partial).unwrap().message else {
            panic!("not a response")
        };
        assert!(!r.succeeded());
        assert_eq!(r.status.1.as_deref(), Some(STATUS_PARTIAL_LOGOUT));
    }

    #[test]
    fn what_is_not_a_logout_message_or_lacks_a_part_says_so() {
        let authn = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_a" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"/>"#;
        assert!(matches!(
            LogoutMessage::parse(authn),
            Err(LogoutError::NotLogout)
        ));
        let no_name = r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>urn:dv</saml:Issuer></samlp:LogoutRequest>"#;
        assert!(matches!(
            LogoutMessage::parse(no_name),
            Err(LogoutError::Missing("LogoutRequest", "NameID"))
        ));
        let nested = r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="_a" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>urn:dv</saml:Issuer><saml:NameID>x<ds:Signature/></saml:NameID></samlp:LogoutRequest>"#;
        assert!(matches!(
            LogoutMessage::parse(nested),
            Err(LogoutError::SignaturePlace)
        ));
    }
}
