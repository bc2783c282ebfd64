//! The Artifact Resolution Protocol (SAML Core 2.0 §3.5): `ArtifactResolve` asks the issuer of
//! an artifact for its message; `ArtifactResponse` carries it back. Both travel in SOAP on the
//! back channel ([`super::soap`]) and, as the afsprakenstelsel's *Web services* page requires of
//! every message there, both are signed: poort signs what it sends and refuses what is unsigned.
//!
//! Reading follows the rule of the rest of `saml`: shape first (one signature, in its place,
//! referencing its parent), then xmlsec with the peer's metadata keys, then the values are read
//! from what the signature covers only.

use super::dsig::{self, DsigError};
use super::idp::STATUS_SUCCESS;
use super::protocol::{self, ProtocolMessage};
use super::xml::{self, escape, NS_DS, NS_SAML, NS_SAMLP};
use crate::keys::SigningKey;
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Xml(#[from] xml::XmlError),
    #[error("the message is not a SAML 2.0 {0}")]
    NotA(&'static str),
    #[error("the {0} has no {1}")]
    Missing(&'static str, &'static str),
    #[error("the {0} has an invalid {1}")]
    Invalid(&'static str, &'static str),
    #[error("the {0} is not signed")]
    Unsigned(&'static str),
    #[error("a signature sits where none is allowed in the {0}")]
    StraySignature(&'static str),
    #[error("the ArtifactResponse holds {0} messages; it may hold one at most")]
    MessageCount(usize),
    #[error("signature: {0}")]
    Signature(#[from] DsigError),
}

/// A verified `ArtifactResolve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactResolve {
    pub id: String,
    pub issuer: String,
    pub issue_instant: DateTime<Utc>,
    pub destination: Option<String>,
    /// The `samlp:Artifact` value (still to be decoded).
    pub artifact: String,
}

/// A verified `ArtifactResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactResponse {
    pub id: String,
    pub in_response_to: String,
    pub issuer: Option<String>,
    pub issue_instant: DateTime<Utc>,
    /// Top-level status code.
    pub status: String,
    /// The message, as a document of its own, when there is one.
    pub message: Option<String>,
}

/// Writes and signs an `ArtifactResolve` for `artifact` (the `SAMLart` value).
pub fn artifact_resolve(
    issuer: &str,
    destination: &str,
    artifact: &str,
    now: DateTime<Utc>,
    key: &SigningKey,
) -> Result<(String, String), DsigError> {
    let id = xml::new_id();
    let text = ProtocolMessage {
        name: "ArtifactResolve",
        id: &id,
        issue_instant: now,
        attributes: &[("Destination", destination)],
        issuer,
        content: &format!("<samlp:Artifact>{}</samlp:Artifact>", escape(artifact)),
    }
    .signed(key)?;
    Ok((id, text))
}

/// Writes and signs an `ArtifactResponse`. Its own status is always Success (afsprakenstelsel,
/// page *Bindings*; SAML Bindings 2.0 §3.6.6); `message` (already signed, when it is) is
/// embedded as is. An artifact poort will not resolve is answered with an [`error_response`]
/// as the message, which the scheme prefers over SAML Core's bare "no message" (§3.5.3).
pub fn artifact_response(
    issuer: &str,
    in_response_to: &str,
    message: Option<&str>,
    now: DateTime<Utc>,
    key: &SigningKey,
) -> Result<String, DsigError> {
    let content = format!(
        "{}{}",
        protocol::status(STATUS_SUCCESS, None, None),
        message.map(dsig::strip_declaration).unwrap_or_default()
    );
    ProtocolMessage {
        name: "ArtifactResponse",
        id: &xml::new_id(),
        issue_instant: now,
        attributes: &[("InResponseTo", in_response_to)],
        issuer,
        content: &content,
    }
    .signed(key)
}

/// A generic `samlp:Response` carrying a refusal (top-level `top`, second-level `second`, and a
/// message naming the reason), for the inside of an ArtifactResponse. Unsigned: the
/// ArtifactResponse's signature covers it.
pub fn error_response(
    issuer: &str,
    in_response_to: Option<&str>,
    top: &str,
    second: &str,
    why: &str,
    now: DateTime<Utc>,
) -> String {
    let in_response_to = in_response_to.map(|i| ("InResponseTo", i));
    ProtocolMessage {
        name: "Response",
        id: &xml::new_id(),
        issue_instant: now,
        attributes: in_response_to.as_slice(),
        issuer,
        content: &protocol::status(top, Some(second), Some(why)),
    }
    .unsigned()
}

/// The issuer named in an `ArtifactResolve`, read before anything is verified, only to find
/// the keys to verify it with.
pub fn claimed_issuer(text: &str) -> Result<String, ResolveError> {
    let doc = xml::parse(text)?;
    let root = doc.root_element();
    if !xml::is(root, NS_SAMLP, "ArtifactResolve") {
        return Err(ResolveError::NotA("ArtifactResolve"));
    }
    xml::child(root, NS_SAML, "Issuer")
        .map(xml::text)
        .filter(|s| !s.is_empty())
        .ok_or(ResolveError::Missing("ArtifactResolve", "Issuer"))
}

/// The root of `doc` if it is a SAML 2.0 `what`, with its ID.
fn root_of<'a, 'i>(
    doc: &'a roxmltree::Document<'i>,
    what: &'static str,
) -> Result<(roxmltree::Node<'a, 'i>, &'a str), ResolveError> {
    let root = doc.root_element();
    if !xml::is(root, NS_SAMLP, what) || root.attribute("Version") != Some("2.0") {
        return Err(ResolveError::NotA(what));
    }
    let id = root
        .attribute("ID")
        .ok_or(ResolveError::Missing(what, "ID"))?;
    Ok((root, id))
}

/// The verified document's root: the same `what` with the same ID as the envelope, or the
/// signature did not cover what was checked.
fn verified_root<'a, 'i>(
    doc: &'a roxmltree::Document<'i>,
    what: &'static str,
    id: &str,
) -> Result<roxmltree::Node<'a, 'i>, ResolveError> {
    let r = doc.root_element();
    if !xml::is(r, NS_SAMLP, what) || r.attribute("ID") != Some(id) {
        return Err(ResolveError::Signature(DsigError::Reference));
    }
    Ok(r)
}

fn issue_instant(
    node: roxmltree::Node<'_, '_>,
    what: &'static str,
) -> Result<DateTime<Utc>, ResolveError> {
    node.attribute("IssueInstant")
        .ok_or(ResolveError::Missing(what, "IssueInstant"))
        .and_then(|s| xml::parse_instant(s).ok_or(ResolveError::Invalid(what, "IssueInstant")))
}

/// Verifies an `ArtifactResolve` with the sender's certificates and reads it from the signed
/// bytes.
pub fn verify_artifact_resolve(
    text: &str,
    certs: &[Vec<u8>],
) -> Result<ArtifactResolve, ResolveError> {
    const WHAT: &str = "ArtifactResolve";
    let doc = xml::parse(text)?;
    let (_, id) = root_of(&doc, WHAT)?;
    one_signature_on_root(&doc, WHAT, id, |_| false)?;
    let signed = dsig::verify(text, certs)?;
    let signed_doc = xml::parse(&signed)?;
    let r = verified_root(&signed_doc, WHAT, id)?;
    let issuer = xml::child(r, NS_SAML, "Issuer")
        .map(xml::text)
        .filter(|s| !s.is_empty())
        .ok_or(ResolveError::Missing(WHAT, "Issuer"))?;
    let issue_instant = issue_instant(r, WHAT)?;
    let artifacts: Vec<_> = xml::children(r, NS_SAMLP, "Artifact").collect();
    let [artifact] = artifacts.as_slice() else {
        return Err(ResolveError::Missing(WHAT, "single Artifact"));
    };
    Ok(ArtifactResolve {
        id: id.to_string(),
        issuer,
        issue_instant,
        destination: r.attribute("Destination").map(str::to_string),
        artifact: xml::text(*artifact),
    })
}

/// Verifies an `ArtifactResponse` with the sender's certificates. Its own signature must be
/// there (an unsigned one is refused, whatever the message inside carries); signatures inside
/// the one message it holds are verified too, and checked again by whoever reads that message.
pub fn verify_artifact_response(
    text: &str,
    certs: &[Vec<u8>],
) -> Result<ArtifactResponse, ResolveError> {
    const WHAT: &str = "ArtifactResponse";
    let doc = xml::parse(text)?;
    let (root, id) = root_of(&doc, WHAT)?;
    let messages = message_elements(root);
    if messages.len() > 1 {
        // A second message is how a wrapping attack would hide one: there is no second place.
        return Err(ResolveError::MessageCount(messages.len()));
    }
    let message_node = messages.first().copied();
    // Signatures: one directly under the ArtifactResponse; any other only inside its message.
    one_signature_on_root(&doc, WHAT, id, |sig| {
        message_node.is_some_and(|m| sig.ancestors().any(|a| a == m))
    })?;
    let verified = dsig::verify_with_nested(text, certs)?;
    let vdoc = xml::parse(&verified)?;
    let v = verified_root(&vdoc, WHAT, id)?;
    let vmessages = message_elements(v);
    if vmessages.len() != messages.len() {
        return Err(ResolveError::MessageCount(vmessages.len()));
    }
    let status = xml::child(v, NS_SAMLP, "Status")
        .and_then(|s| xml::child(s, NS_SAMLP, "StatusCode"))
        .and_then(|c| c.attribute("Value"))
        .ok_or(ResolveError::Missing(WHAT, "StatusCode"))?;
    let issue_instant = issue_instant(v, WHAT)?;
    Ok(ArtifactResponse {
        id: id.to_string(),
        in_response_to: v
            .attribute("InResponseTo")
            .ok_or(ResolveError::Missing(WHAT, "InResponseTo"))?
            .to_string(),
        issuer: xml::child(v, NS_SAML, "Issuer").map(xml::text),
        issue_instant,
        status: status.to_string(),
        message: vmessages.first().map(|m| xml::standalone(&verified, *m)),
    })
}

/// The elements of an ArtifactResponse after its Status: the message(s) it carries.
fn message_elements<'a, 'i>(root: roxmltree::Node<'a, 'i>) -> Vec<roxmltree::Node<'a, 'i>> {
    root.children()
        .filter(|c| c.is_element())
        .skip_while(|c| !xml::is(*c, NS_SAMLP, "Status"))
        .skip(1)
        .collect()
}

/// Exactly one signature directly under the root, referencing it with the accepted
/// algorithms; any other signature must be one `allowed_elsewhere` accepts.
fn one_signature_on_root(
    doc: &roxmltree::Document<'_>,
    what: &'static str,
    id: &str,
    allowed_elsewhere: impl Fn(roxmltree::Node<'_, '_>) -> bool,
) -> Result<(), ResolveError> {
    let root = doc.root_element();
    let mut own = 0;
    for sig in doc
        .descendants()
        .filter(|n| xml::is(*n, NS_DS, "Signature"))
    {
        if sig.parent() == Some(root) {
            own += 1;
            dsig::check_shape(sig, id)?;
        } else if !allowed_elsewhere(sig) {
            return Err(ResolveError::StraySignature(what));
        }
    }
    match own {
        0 => Err(ResolveError::Unsigned(what)),
        1 => Ok(()),
        _ => Err(ResolveError::StraySignature(what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::dsig::tests::test_key;

    fn signed_response(key: &SigningKey) -> String {
        let id = xml::new_id();
        let text = format!(
            r#"<samlp:Response xmlns:samlp="{NS_SAMLP}" xmlns:saml="{NS_SAML}" ID="{id}" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>peer</saml:Issuer>{}<samlp:Status><samlp:StatusCode Value="{STATUS_SUCCESS}"/></samlp:Status></samlp:Response>"#,
            dsig::template(&id, key)
        );
        dsig::sign(&text, key).unwrap()
    }

    #[test]
    fn resolve_round_trip() {
        let key = test_key();
        let (id, text) =
            artifact_resolve("urn:me", "https://peer/ars", "AAQ=", Utc::now(), &key).unwrap();
        let r = verify_artifact_resolve(&text, std::slice::from_ref(&key.cert_der)).unwrap();
        assert_eq!(
            (r.id, r.issuer, r.artifact),
            (id, "urn:me".into(), "AAQ=".into())
        );
        assert_eq!(r.destination.as_deref(), Some("https://peer/ars"));
        let other = test_key();
        assert!(matches!(
            verify_artifact_resolve(&text, std::slice::from_ref(&other.cert_der)),
            Err(ResolveError::Signature(DsigError::Invalid))
        ));
        let unsigned = text
            .split("<ds:Signature")
            .next()
            .map(|head| {
                let tail = &text[text.find("</ds:Signature>").unwrap() + 15..];
                format!("{head}{tail}")
            })
            .unwrap();
        assert!(matches!(
            verify_artifact_resolve(&unsigned, std::slice::from_ref(&key.cert_der)),
            Err(ResolveError::Unsigned(_))
        ));
    }

    #[test]
    fn response_with_signed_message_verifies_and_yields_it() {
        let key = test_key();
        let inner = signed_response(&key);
        let text = artifact_response("urn:me", "_req", Some(&inner), Utc::now(), &key).unwrap();
        let certs = std::slice::from_ref(&key.cert_der);
        let r = verify_artifact_response(&text, certs).unwrap();
        assert_eq!(r.in_response_to, "_req");
        assert_eq!(r.status, STATUS_SUCCESS);
        let message = r.message.unwrap();
        // The message still verifies on its own, as its sender signed it.
        dsig::verify(&message, certs).unwrap();
        // The outer signature covers the message.
        let tampered = text.replace(">peer<", ">evil<");
        assert!(verify_artifact_response(&tampered, certs).is_err());
        // An empty answer (artifact unknown) is still a signed answer.
        let empty = artifact_response("urn:me", "_req", None, Utc::now(), &key).unwrap();
        assert_eq!(
            verify_artifact_response(&empty, certs).unwrap().message,
            None
        );
    }

    #[test]
    fn response_refusals() {
        let key = test_key();
        let certs = std::slice::from_ref(&key.cert_der);
        let inner = signed_response(&key);
        // Unsigned envelope around a signed message.
        let unsigned = format!(
            r#"<samlp:ArtifactResponse xmlns:samlp="{NS_SAMLP}" ID="_x" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" InResponseTo="_req"><samlp:Status><samlp:StatusCode Value="{STATUS_SUCCESS}"/></samlp:Status>{}</samlp:ArtifactResponse>"#,
            dsig::strip_declaration(&inner)
        );
        assert!(matches!(
            verify_artifact_response(&unsigned, certs),
            Err(ResolveError::Unsigned(_))
        ));
        // Two messages.
        let two = format!("{}{}", inner, signed_response(&key));
        let wrapped = artifact_response("urn:me", "_req", Some(&two), Utc::now(), &key).unwrap();
        assert!(matches!(
            verify_artifact_response(&wrapped, certs),
            Err(ResolveError::MessageCount(2))
        ));
    }
}
