//! What every SAML 2.0 protocol message shares (SAML Core 2.0 §3.2): a `samlp:` root with its
//! ID, Version and IssueInstant, the Issuer, the enveloped signature where the schema puts it
//! (right after the Issuer), then the message's own content; and a response's `samlp:Status`.
//! poort and the demo peers write every request and response they send through here.

use super::dsig::{self, DsigError};
use super::xml::{escape, instant, NS_SAML, NS_SAMLP};
use crate::keys::SigningKey;
use chrono::{DateTime, Utc};

/// A SAML 2.0 protocol message, ready to be written.
pub struct ProtocolMessage<'a> {
    /// The root's local name in `samlp:`: `AuthnRequest`, `Response`, `ArtifactResolve`, ….
    pub name: &'static str,
    pub id: &'a str,
    pub issue_instant: DateTime<Utc>,
    /// The root's further attributes, in this order after IssueInstant (values unescaped).
    pub attributes: &'a [(&'a str, &'a str)],
    pub issuer: &'a str,
    /// What follows the Issuer and the signature: the message's own elements, as XML.
    pub content: &'a str,
}

impl ProtocolMessage<'_> {
    /// The message, unsigned.
    pub fn unsigned(&self) -> String {
        self.text("")
    }

    /// The message, signed with `key`.
    pub fn signed(&self, key: &SigningKey) -> Result<String, DsigError> {
        dsig::sign(&self.text(&dsig::template(self.id, key)), key)
    }

    /// The message, signed with `key` when there is one, unsigned otherwise.
    pub fn write(&self, key: Option<&SigningKey>) -> Result<String, DsigError> {
        match key {
            Some(key) => self.signed(key),
            None => Ok(self.unsigned()),
        }
    }

    /// The message with `signature` (a template, or nothing) in its place.
    fn text(&self, signature: &str) -> String {
        let attributes: String = self
            .attributes
            .iter()
            .map(|(name, value)| format!(r#" {name}="{}""#, escape(value)))
            .collect();
        format!(
            concat!(
                r#"<samlp:{name} xmlns:samlp="{samlp}" xmlns:saml="{saml}" ID="{id}" Version="2.0" IssueInstant="{now}"{attributes}>"#,
                r#"<saml:Issuer>{issuer}</saml:Issuer>{signature}{content}</samlp:{name}>"#
            ),
            name = self.name,
            samlp = NS_SAMLP,
            saml = NS_SAML,
            id = escape(self.id),
            now = instant(self.issue_instant),
            attributes = attributes,
            issuer = escape(self.issuer),
            signature = signature,
            content = self.content,
        )
    }
}

/// A response's `samlp:Status`: the top-level code, the second-level one inside it if any, and
/// the message if any.
pub fn status(top: &str, second: Option<&str>, message: Option<&str>) -> String {
    let code = match second {
        None => format!(r#"<samlp:StatusCode Value="{}"/>"#, escape(top)),
        Some(second) => format!(
            r#"<samlp:StatusCode Value="{}"><samlp:StatusCode Value="{}"/></samlp:StatusCode>"#,
            escape(top),
            escape(second)
        ),
    };
    let message = message
        .map(|m| format!("<samlp:StatusMessage>{}</samlp:StatusMessage>", escape(m)))
        .unwrap_or_default();
    format!("<samlp:Status>{code}{message}</samlp:Status>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::dsig::tests::test_key;
    use crate::saml::xml::{self, NS_DS};

    #[test]
    fn writes_the_frame_signed_after_the_issuer() {
        let key = test_key();
        let message = ProtocolMessage {
            name: "ArtifactResolve",
            id: "_a1",
            issue_instant: Utc::now(),
            attributes: &[("Destination", "https://peer/ars?a=1&b=2")],
            issuer: "urn:me",
            content: "<samlp:Artifact>AAQ=</samlp:Artifact>",
        };
        let signed = message.signed(&key).unwrap();
        let doc = xml::parse(&signed).unwrap();
        let root = doc.root_element();
        assert!(xml::is(root, NS_SAMLP, "ArtifactResolve"));
        assert_eq!(root.attribute("ID"), Some("_a1"));
        assert_eq!(
            root.attribute("Destination"),
            Some("https://peer/ars?a=1&b=2")
        );
        let names: Vec<_> = root
            .children()
            .filter(|c| c.is_element())
            .map(|c| c.tag_name().name())
            .collect();
        assert_eq!(names, ["Issuer", "Signature", "Artifact"]);
        dsig::verify(&signed, std::slice::from_ref(&key.cert_der)).unwrap();
        let unsigned = message.unsigned();
        assert!(!unsigned.contains(NS_DS));
    }

    #[test]
    fn status_nests_the_second_code_and_escapes_the_message() {
        assert_eq!(
            status("urn:s", None, None),
            r#"<samlp:Status><samlp:StatusCode Value="urn:s"/></samlp:Status>"#
        );
        assert_eq!(
            status("urn:t", Some("urn:u"), Some("a < b")),
            concat!(
                r#"<samlp:Status><samlp:StatusCode Value="urn:t"><samlp:StatusCode Value="urn:u"/></samlp:StatusCode>"#,
                r#"<samlp:StatusMessage>a &lt; b</samlp:StatusMessage></samlp:Status>"#
            )
        );
    }
}
