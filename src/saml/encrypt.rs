//! XML Encryption of assertions and attributes: RSA-OAEP key transport with AES-GCM content
//! encryption.
//!
//! poort encrypts assertions to DVs whose metadata has an encryption key, and decrypts assertions
//! that ADs encrypt to poort; an attribute an AD encrypts is decrypted and encrypted again to
//! the DV (`saml:EncryptedAttribute`). RSA PKCS#1 v1.5 key transport and CBC content encryption from peers
//! are refused (padding-oracle attacks); only the GCM modes are accepted.

use super::xml::{self, NS_DS, NS_SAML, NS_XENC, NS_XENC11};
use base64::Engine;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Padding;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};

const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
const MGF1_SHA1: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha1";
const SHA1_DIGEST: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

#[derive(Debug, thiserror::Error)]
pub enum EncryptError {
    #[error("content encryption {0} is not accepted (use AES-GCM)")]
    ContentAlgorithm(String),
    #[error("key transport {0} is not accepted (use RSA-OAEP)")]
    KeyAlgorithm(String),
    #[error("the encrypted element is malformed: {0}")]
    Malformed(&'static str),
    #[error("the encrypted element cannot be decrypted with poort's key")]
    Decrypt,
    #[error("the encryption key is not an RSA key")]
    NotRsa,
    #[error("crypto: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

/// Encrypts a serialized `saml:Assertion` to `recipient` (RSA public key from the DV's metadata)
/// and returns a `saml:EncryptedAssertion` element.
pub fn encrypt_assertion(
    assertion: &str,
    recipient: &PKey<Public>,
) -> Result<String, EncryptError> {
    encrypt_as("EncryptedAssertion", assertion, recipient)
}

/// Encrypts a serialized standalone `saml:Attribute` (it declares its own namespaces) to
/// `recipient` and returns a `saml:EncryptedAttribute` element.
pub fn encrypt_attribute(
    attribute: &str,
    recipient: &PKey<Public>,
) -> Result<String, EncryptError> {
    encrypt_as("EncryptedAttribute", attribute, recipient)
}

/// `plain` encrypted to `recipient` inside a `saml:<wrapper>` element.
fn encrypt_as(
    wrapper: &str,
    plain: &str,
    recipient: &PKey<Public>,
) -> Result<String, EncryptError> {
    let rsa = recipient.rsa().map_err(|_| EncryptError::NotRsa)?;
    let cipher = Cipher::aes_256_gcm();
    let key: [u8; 32] = rand::random();
    let iv: [u8; 12] = rand::random();
    let mut tag = [0u8; 16];
    let ciphertext = encrypt_aead(cipher, &key, Some(&iv), &[], plain.as_bytes(), &mut tag)?;
    // xmlenc 1.1: the CipherValue of AES-GCM is IV || ciphertext || tag.
    let mut value = Vec::with_capacity(iv.len() + ciphertext.len() + tag.len());
    value.extend_from_slice(&iv);
    value.extend_from_slice(&ciphertext);
    value.extend_from_slice(&tag);
    let mut wrapped = vec![0u8; rsa.size() as usize];
    let n = rsa.public_encrypt(&key, &mut wrapped, Padding::PKCS1_OAEP)?;
    wrapped.truncate(n);
    let b64 = &base64::engine::general_purpose::STANDARD;
    // XML Encryption's own template: alike in form only to the assertion's in `idp`.
    Ok(format!(
        concat!(
            r#"<saml:{wrapper} xmlns:saml="{saml}">"#,
            r#"<xenc:EncryptedData xmlns:xenc="{xenc}" Type="http://www.w3.org/2001/04/xmlenc#Element">"#,
            r#"<xenc:EncryptionMethod Algorithm="{aes}"/>"#,
            r#"<ds:KeyInfo xmlns:ds="{ds}"><xenc:EncryptedKey>"#,
            r#"<xenc:EncryptionMethod Algorithm="{oaep}"><ds:DigestMethod Algorithm="{sha1}"/></xenc:EncryptionMethod>"#,
            r#"<xenc:CipherData><xenc:CipherValue>{key}</xenc:CipherValue></xenc:CipherData>"#,
            r#"</xenc:EncryptedKey></ds:KeyInfo>"#,
            r#"<xenc:CipherData><xenc:CipherValue>{value}</xenc:CipherValue></xenc:CipherData>"#,
            r#"</xenc:EncryptedData></saml:{wrapper}>"#
        ),
        wrapper = wrapper,
        saml = NS_SAML,
        xenc = NS_XENC,
        aes = AES256_GCM,
        ds = NS_DS,
        oaep = RSA_OAEP_MGF1P,
        sha1 = SHA1_DIGEST,
        key = b64.encode(wrapped),
        value = b64.encode(value),
    ))
}

/// Decrypts a `saml:EncryptedAssertion` or `saml:EncryptedAttribute` element (as a parsed node)
/// with poort's key and returns the plaintext, which the caller parses (and, for an assertion,
/// verifies) like any other.
pub fn decrypt_element(
    encrypted: roxmltree::Node<'_, '_>,
    key: &PKey<Private>,
) -> Result<String, EncryptError> {
    let data = xml::child(encrypted, NS_XENC, "EncryptedData")
        .ok_or(EncryptError::Malformed("no EncryptedData"))?;
    let content_alg = xml::child(data, NS_XENC, "EncryptionMethod")
        .and_then(|m| m.attribute("Algorithm"))
        .unwrap_or_default();
    let cipher = match content_alg {
        AES256_GCM => Cipher::aes_256_gcm(),
        AES128_GCM => Cipher::aes_128_gcm(),
        other => return Err(EncryptError::ContentAlgorithm(other.to_string())),
    };
    // The EncryptedKey sits in EncryptedData's KeyInfo, or beside EncryptedData (both are used).
    let encrypted_key = xml::child(data, NS_DS, "KeyInfo")
        .and_then(|ki| xml::child(ki, NS_XENC, "EncryptedKey"))
        .or_else(|| xml::child(encrypted, NS_XENC, "EncryptedKey"))
        .ok_or(EncryptError::Malformed("no EncryptedKey"))?;
    let key_method = xml::child(encrypted_key, NS_XENC, "EncryptionMethod")
        .ok_or(EncryptError::Malformed("no key EncryptionMethod"))?;
    let key_alg = key_method.attribute("Algorithm").unwrap_or_default();
    if key_alg != RSA_OAEP_MGF1P && key_alg != RSA_OAEP {
        return Err(EncryptError::KeyAlgorithm(key_alg.to_string()));
    }
    // Only the default OAEP parameters (SHA-1 digest, MGF1 with SHA-1) are supported.
    let digest_ok = xml::child(key_method, NS_DS, "DigestMethod")
        .and_then(|d| d.attribute("Algorithm"))
        .is_none_or(|a| a == SHA1_DIGEST);
    let mgf_ok = xml::child(key_method, NS_XENC11, "MGF")
        .and_then(|d| d.attribute("Algorithm"))
        .is_none_or(|a| a == MGF1_SHA1);
    if !digest_ok || !mgf_ok {
        return Err(EncryptError::KeyAlgorithm(format!(
            "{key_alg} with non-default parameters"
        )));
    }
    let wrapped = cipher_value(encrypted_key)?;
    let rsa = key.rsa().map_err(|_| EncryptError::NotRsa)?;
    let mut content_key = vec![0u8; rsa.size() as usize];
    let n = rsa
        .private_decrypt(&wrapped, &mut content_key, Padding::PKCS1_OAEP)
        .map_err(|_| EncryptError::Decrypt)?;
    content_key.truncate(n);
    if content_key.len() != cipher.key_len() {
        return Err(EncryptError::Decrypt);
    }
    let value = cipher_value(data)?;
    if value.len() < 12 + 16 {
        return Err(EncryptError::Malformed("ciphertext too short"));
    }
    let (iv, rest) = value.split_at(12);
    let (ciphertext, tag) = rest.split_at(rest.len() - 16);
    let plain = decrypt_aead(cipher, &content_key, Some(iv), &[], ciphertext, tag)
        .map_err(|_| EncryptError::Decrypt)?;
    String::from_utf8(plain).map_err(|_| EncryptError::Malformed("plaintext is not UTF-8"))
}

fn cipher_value(node: roxmltree::Node<'_, '_>) -> Result<Vec<u8>, EncryptError> {
    let value = xml::child(node, NS_XENC, "CipherData")
        .and_then(|cd| xml::child(cd, NS_XENC, "CipherValue"))
        .ok_or(EncryptError::Malformed("no CipherValue"))?;
    let text: String = xml::text(value)
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| EncryptError::Malformed("CipherValue is not base64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let rsa = openssl::rsa::Rsa::generate(2048).unwrap();
        let private = PKey::from_rsa(rsa).unwrap();
        let public = PKey::public_key_from_der(&private.public_key_to_der().unwrap()).unwrap();
        let assertion =
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a"/>"#;
        let enc = encrypt_assertion(assertion, &public).unwrap();
        let doc = xml::parse(&enc).unwrap();
        assert_eq!(
            decrypt_element(doc.root_element(), &private).unwrap(),
            assertion
        );

        // A flipped ciphertext byte fails the GCM tag.
        let doc = xml::parse(&enc).unwrap();
        let value_node = doc
            .descendants()
            .rfind(|n| xml::is(*n, NS_XENC, "CipherValue"))
            .unwrap();
        let b64 = xml::text(value_node);
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(&b64)
            .unwrap();
        bytes[20] ^= 1;
        let tampered = enc.replace(
            &b64,
            &base64::engine::general_purpose::STANDARD.encode(bytes),
        );
        let doc = xml::parse(&tampered).unwrap();
        assert!(matches!(
            decrypt_element(doc.root_element(), &private),
            Err(EncryptError::Decrypt)
        ));

        // CBC content encryption is refused outright.
        let cbc = enc.replace(AES256_GCM, "http://www.w3.org/2001/04/xmlenc#aes256-cbc");
        let doc = xml::parse(&cbc).unwrap();
        assert!(matches!(
            decrypt_element(doc.root_element(), &private),
            Err(EncryptError::ContentAlgorithm(_))
        ));
    }
}
