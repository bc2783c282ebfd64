//! Enveloped XML signatures (XML-DSig) through xmlsec, by way of samael's crypto provider.
//!
//! Signing: the caller places [`template`] as the right child of the element to sign; [`sign`]
//! fills in the first template of the document. Verification: [`verify`] checks every signature
//! with keys from metadata only (never a key carried in the message), refuses anything but
//! RSA-SHA256 / ECDSA-SHA256 with SHA-256 digests, and returns what was actually signed (xmlsec's
//! pre-digest bytes). Callers read the message only from those bytes: that is the defence against
//! signature wrapping, since unsigned content can no longer be mistaken for signed content.

use super::c14n;
use super::xml::{self, NS_DS};
use crate::keys::{SigAlg, SigningKey};
use base64::Engine;
use openssl::hash::MessageDigest;
use roxmltree::Node;
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};

const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

#[derive(Debug, thiserror::Error)]
pub enum DsigError {
    #[error("the message is not signed")]
    Unsigned,
    #[error("signature algorithm {0} is not accepted (use RSA-SHA256 or ECDSA-SHA256)")]
    Algorithm(String),
    #[error("digest algorithm {0} is not accepted (use SHA-256)")]
    Digest(String),
    #[error("signature does not reference the element that contains it")]
    Reference,
    #[error("signature uses a transform or canonicalization that is not accepted: {0}")]
    Transform(String),
    #[error("signature is not valid with any key in the sender's metadata")]
    Invalid,
    #[error("the sender's metadata has no signing key")]
    NoKey,
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A signature template for the element whose `ID` is `id`. Place it where the schema wants
/// ds:Signature (in SAML: right after the Issuer).
pub fn template(id: &str, key: &SigningKey) -> String {
    let cert = base64::engine::general_purpose::STANDARD.encode(&key.cert_der);
    format!(
        concat!(
            r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>"#,
            r#"<ds:CanonicalizationMethod Algorithm="{c14n}"/>"#,
            r#"<ds:SignatureMethod Algorithm="{alg}"/>"#,
            r##"<ds:Reference URI="#{id}"><ds:Transforms>"##,
            r#"<ds:Transform Algorithm="{env}"/><ds:Transform Algorithm="{c14n}"/>"#,
            r#"</ds:Transforms><ds:DigestMethod Algorithm="{sha256}"/><ds:DigestValue/>"#,
            r#"</ds:Reference></ds:SignedInfo><ds:SignatureValue/>"#,
            r#"<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate>"#,
            r#"</ds:X509Data></ds:KeyInfo></ds:Signature>"#
        ),
        c14n = EXC_C14N,
        alg = key.alg.uri(),
        id = xml::escape(id),
        env = ENVELOPED,
        sha256 = SHA256,
        cert = cert,
    )
}

/// Signs the first unfilled signature template in `document` (see [`template`]).
///
/// poort canonicalizes its own documents itself ([`c14n`]) and signs with the key it loaded at
/// start, instead of handing them to xmlsec, which would decode the private key again for every
/// signature. What it produces is verified by xmlsec in the tests and by foreign peers.
pub fn sign(document: &str, key: &SigningKey) -> Result<String, DsigError> {
    let document = strip_declaration(document);
    let sign_err = |what: &str| DsigError::Sign(what.to_string());
    let unfilled = |n: Node<'_, '_>| xml::is(n, NS_DS, "DigestValue") && xml::text(n).is_empty();

    // 1. The digest of the signed element, without its (enveloped) signature.
    let with_digest = {
        let doc = xml::parse(document).map_err(|e| DsigError::Sign(e.to_string()))?;
        let digest_node = doc
            .descendants()
            .find(|n| unfilled(*n))
            .ok_or_else(|| sign_err("no signature template"))?;
        let signature = digest_node
            .ancestors()
            .find(|n| xml::is(*n, NS_DS, "Signature"))
            .ok_or_else(|| sign_err("DigestValue outside a Signature"))?;
        let signed = signature
            .parent()
            .filter(|p| p.is_element())
            .ok_or_else(|| sign_err("signature template has no parent element"))?;
        // The template must announce what this function computes.
        check_shape(signature, signed.attribute("ID").unwrap_or_default())?;
        let announced = xml::child(signature, NS_DS, "SignedInfo")
            .and_then(|si| xml::child(si, NS_DS, "SignatureMethod"))
            .and_then(|m| m.attribute("Algorithm"));
        if announced != Some(key.alg.uri()) {
            return Err(DsigError::Algorithm(
                announced.unwrap_or_default().to_string(),
            ));
        }
        let canonical = c14n::canonicalize(signed, Some(signature));
        let digest = openssl::hash::hash(MessageDigest::sha256(), canonical.as_bytes())
            .map_err(|e| DsigError::Sign(e.to_string()))?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
        let r = digest_node.range();
        format!(
            "{}<ds:DigestValue>{b64}</ds:DigestValue>{}",
            &document[..r.start],
            &document[r.end..]
        )
    };

    // 2. The signature over the canonical SignedInfo.
    let doc = xml::parse(&with_digest).map_err(|e| DsigError::Sign(e.to_string()))?;
    let value_node = doc
        .descendants()
        .find(|n| xml::is(*n, NS_DS, "SignatureValue") && xml::text(*n).is_empty())
        .ok_or_else(|| sign_err("no SignatureValue in the template"))?;
    let signed_info = value_node
        .parent()
        .and_then(|sig| xml::child(sig, NS_DS, "SignedInfo"))
        .ok_or_else(|| sign_err("no SignedInfo in the template"))?;
    let canonical = c14n::canonicalize(signed_info, None);
    let raw = key
        .sign_bytes(canonical.as_bytes())
        .map_err(|e| DsigError::Sign(e.to_string()))?;
    let value = match key.alg {
        SigAlg::RsaSha256 => raw,
        // XML-DSig wants ECDSA as r || s, each 32 bytes for P-256.
        SigAlg::EcdsaSha256 => {
            let sig = openssl::ecdsa::EcdsaSig::from_der(&raw)
                .map_err(|e| DsigError::Sign(e.to_string()))?;
            let mut rs = sig
                .r()
                .to_vec_padded(32)
                .map_err(|e| DsigError::Sign(e.to_string()))?;
            rs.extend(
                sig.s()
                    .to_vec_padded(32)
                    .map_err(|e| DsigError::Sign(e.to_string()))?,
            );
            rs
        }
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(value);
    let r = value_node.range();
    Ok(format!(
        "{}<ds:SignatureValue>{b64}</ds:SignatureValue>{}",
        &with_digest[..r.start],
        &with_digest[r.end..]
    ))
}

/// Drops a leading `<?xml ...?>` declaration, so the result can be embedded in another document.
pub fn strip_declaration(xml: &str) -> &str {
    let trimmed = xml.trim_start();
    match trimmed.strip_prefix("<?xml") {
        Some(rest) => match rest.find("?>") {
            Some(end) => rest[end + 2..].trim_start(),
            None => trimmed,
        },
        None => trimmed,
    }
}

extern "C" {
    // From libxmlsec1 (linked through samael): turns off the default error printer.
    fn xmlSecErrorsDefaultCallbackEnableOutput(enabled: std::os::raw::c_int);
}

/// xmlsec prints every failed verification to stderr, bypassing the logs; poort reports the
/// outcome itself as a typed error, with a reference number, so that output is switched off.
fn quiet_xmlsec() {
    static QUIET: std::sync::Once = std::sync::Once::new();
    // SAFETY: sets one int in libxmlsec1; no pointers are passed.
    QUIET.call_once(|| unsafe { xmlSecErrorsDefaultCallbackEnableOutput(0) });
}

/// Checks the shape of a ds:Signature before any cryptography: one reference, to the element
/// that contains the signature, with only the enveloped and exclusive-c14n transforms, SHA-256.
pub fn check_shape(signature: Node<'_, '_>, parent_id: &str) -> Result<(), DsigError> {
    let signed_info = xml::child(signature, NS_DS, "SignedInfo").ok_or(DsigError::Unsigned)?;
    let c14n = xml::child(signed_info, NS_DS, "CanonicalizationMethod")
        .and_then(|n| n.attribute("Algorithm"))
        .unwrap_or_default();
    if c14n != EXC_C14N {
        return Err(DsigError::Transform(c14n.to_string()));
    }
    let alg = xml::child(signed_info, NS_DS, "SignatureMethod")
        .and_then(|n| n.attribute("Algorithm"))
        .unwrap_or_default();
    if SigAlg::from_uri(alg).is_none() {
        return Err(DsigError::Algorithm(alg.to_string()));
    }
    let mut references = xml::children(signed_info, NS_DS, "Reference");
    let reference = references.next().ok_or(DsigError::Reference)?;
    if references.next().is_some() || reference.attribute("URI") != Some(&format!("#{parent_id}")) {
        return Err(DsigError::Reference);
    }
    if let Some(transforms) = xml::child(reference, NS_DS, "Transforms") {
        for t in xml::children(transforms, NS_DS, "Transform") {
            let a = t.attribute("Algorithm").unwrap_or_default();
            if a != ENVELOPED && a != EXC_C14N {
                return Err(DsigError::Transform(a.to_string()));
            }
        }
    }
    let digest = xml::child(reference, NS_DS, "DigestMethod")
        .and_then(|n| n.attribute("Algorithm"))
        .unwrap_or_default();
    if digest != SHA256 {
        return Err(DsigError::Digest(digest.to_string()));
    }
    Ok(())
}

/// Verifies every signature in `document` against `certs` (DER, from metadata) and returns the
/// signed bytes: the one signed element, or the signed Response when both Response and Assertion
/// are signed. Callers must have checked the shape of each signature with [`check_shape`].
pub fn verify(document: &str, certs: &[Vec<u8>]) -> Result<String, DsigError> {
    reduce(document, certs, ReduceMode::PreDigest)
}

/// Verifies every signature in `document` (an enveloping message such as an ArtifactResponse,
/// whose own signature covers a message that may carry signatures of its own) and returns the
/// document reduced to what the signatures cover. [`verify`]'s pre-digest output cannot serve
/// here: it yields one signed element only, and picks the inner Response when there are several.
/// Callers must have checked the shape of each signature and read values only from the result.
pub fn verify_with_nested(document: &str, certs: &[Vec<u8>]) -> Result<String, DsigError> {
    reduce(document, certs, ReduceMode::ValidateAndMarkNoAncestors)
        .map(|s| strip_declaration(&s).to_string())
}

/// Why a document signed as a whole (a service catalogue, a metadata aggregate) was refused
/// before any of its content was read.
#[derive(Debug)]
pub enum RootRefusal {
    Malformed(String),
    /// The root element is not the one expected.
    Root,
    Unsigned,
    /// The signature's shape or algorithms.
    Shape(DsigError),
    /// It does not verify with the trust certificates.
    NotTrusted,
}

/// Verifies a document signed by one enveloped signature on its root element `(ns, local)`,
/// with the `trust` certificates only (never a key it carries), and returns the signed bytes:
/// the root without its signature, the only text callers may read content from.
pub fn verify_signed_root(
    text: &str,
    (ns, local): (&str, &str),
    trust: &[Vec<u8>],
) -> Result<String, RootRefusal> {
    let received = xml::parse_signed_document(text).map_err(|e| {
        RootRefusal::Malformed(match e {
            xml::XmlError::Malformed(detail) => detail,
            other => other.to_string(),
        })
    })?;
    let root = received.root_element();
    if !xml::is(root, ns, local) {
        return Err(RootRefusal::Root);
    }
    let signature = c14n::enveloped_signature(root).ok_or(RootRefusal::Unsigned)?;
    check_shape(signature, root.attribute("ID").unwrap_or_default()).map_err(RootRefusal::Shape)?;
    verify(text, trust).map_err(|e| match e {
        DsigError::Invalid => RootRefusal::NotTrusted,
        other => RootRefusal::Shape(other),
    })
}

/// xmlsec with the keys from metadata and RSA-SHA256 / ECDSA-SHA256 only.
fn reduce(document: &str, certs: &[Vec<u8>], mode: ReduceMode) -> Result<String, DsigError> {
    quiet_xmlsec();
    if certs.is_empty() {
        return Err(DsigError::NoKey);
    }
    let certs: Vec<CertificateDer> = certs
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    let allowed = [
        AllowedSignatureAlgorithm::RsaSha256,
        AllowedSignatureAlgorithm::EcdsaSha256,
    ];
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(document, &certs, mode, Some(&allowed))
        .map_err(|_| DsigError::Invalid)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::x509::{X509NameBuilder, X509};

    /// A throwaway RSA-2048 key with a self-signed certificate.
    pub(crate) fn test_key() -> SigningKey {
        let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "test").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let cert = b.build();
        SigningKey::from_pem(
            &key.private_key_to_pem_pkcs8().unwrap(),
            &cert.to_pem().unwrap(),
            std::path::Path::new("k"),
            std::path::Path::new("c"),
        )
        .unwrap()
    }

    fn doc(key: &SigningKey) -> String {
        format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0"><saml:Issuer>me</saml:Issuer>{}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:Response>"#,
            template("_r1", key)
        )
    }

    #[test]
    fn sign_then_verify_returns_signed_bytes() {
        let key = test_key();
        let signed = sign(&doc(&key), &key).unwrap();
        let parsed = xml::parse(&signed).unwrap();
        let sig = parsed
            .descendants()
            .find(|n| xml::is(*n, NS_DS, "Signature"))
            .unwrap();
        check_shape(sig, "_r1").unwrap();
        let signed_bytes = verify(&signed, std::slice::from_ref(&key.cert_der)).unwrap();
        assert!(signed_bytes.contains("ID=\"_r1\""));
        assert!(
            !signed_bytes.contains("SignatureValue"),
            "enveloped signature removed"
        );
    }

    #[test]
    fn tampered_or_foreign_key_fails() {
        let key = test_key();
        let signed = sign(&doc(&key), &key).unwrap();
        let tampered = signed.replace(">me<", ">you<");
        assert!(matches!(
            verify(&tampered, std::slice::from_ref(&key.cert_der)),
            Err(DsigError::Invalid)
        ));
        let other = test_key();
        assert!(matches!(
            verify(&signed, std::slice::from_ref(&other.cert_der)),
            Err(DsigError::Invalid)
        ));
        assert!(matches!(verify(&signed, &[]), Err(DsigError::NoKey)));
    }

    #[test]
    fn sha1_is_refused_by_shape_and_by_verify() {
        let key = test_key();
        let sha1_doc = doc(&key)
            .replace(SHA256, "http://www.w3.org/2000/09/xmldsig#sha1")
            .replace(key.alg.uri(), "http://www.w3.org/2000/09/xmldsig#rsa-sha1");
        // poort's own signer refuses to fill a SHA-1 template; xmlsec makes a real one.
        assert!(matches!(
            sign(&sha1_doc, &key),
            Err(DsigError::Algorithm(_))
        ));
        let signed = Crypto::sign_xml(&sha1_doc, &key.key_der).unwrap();
        let parsed = xml::parse(strip_declaration(&signed)).unwrap();
        let sig = parsed
            .descendants()
            .find(|n| xml::is(*n, NS_DS, "Signature"))
            .unwrap();
        assert!(matches!(
            check_shape(sig, "_r1"),
            Err(DsigError::Algorithm(_))
        ));
        assert!(verify(&signed, std::slice::from_ref(&key.cert_der)).is_err());
    }
}
