//! SAML artifacts (SAML Bindings 2.0 §3.6.4): the reference a browser carries in place of a
//! message under the HTTP-Artifact binding, which the receiver resolves over SOAP at the sender.
//!
//! Only type code 0x0004 exists in SAML 2.0 and the afsprakenstelsel (page *Bindings*) uses it:
//! `TypeCode (2) || EndpointIndex (2) || SourceID (20) || MessageHandle (20)`, base64-encoded.
//! The SourceID is the SHA-1 hash of the issuer's entity ID (§3.6.4: a collision-resistant
//! identifier the receiver maps to the issuer's metadata); the MessageHandle is 20 random bytes,
//! so an artifact cannot be guessed (§3.6.4: "cryptographically strong random or pseudorandom").
//! SHA-1 here only names an entity; it is never used to sign or verify anything.

use base64::Engine;

/// Type code 0x0004 (SAML Bindings 2.0 §3.6.4.1).
pub const TYPE_CODE: [u8; 2] = [0x00, 0x04];
/// The encoded artifact is 44 bytes; base64 of that is 60 characters.
const LENGTH: usize = 44;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtifactError {
    #[error("the artifact is not valid base64")]
    Base64,
    #[error("the artifact is {0} bytes long, not 44 (type 0x0004)")]
    Length(usize),
    #[error("the artifact's type code is {0:#06x}, not 0x0004")]
    TypeCode(u16),
    #[error("{0} appears more than once")]
    Duplicate(String),
}

/// A type 0x0004 artifact.
#[derive(Clone, PartialEq, Eq)]
pub struct Artifact {
    /// The index of the issuer's ArtifactResolutionService that resolves it.
    pub endpoint_index: u16,
    /// SHA-1 of the issuer's entity ID.
    pub source_id: [u8; 20],
    pub message_handle: [u8; 20],
}

// The handle is a bearer secret until resolved: never print it.
impl std::fmt::Debug for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifact")
            .field("endpoint_index", &self.endpoint_index)
            .field("source_id", &hex::encode(self.source_id))
            .finish_non_exhaustive()
    }
}

impl Artifact {
    /// A fresh artifact from `issuer` (an entity ID), resolvable at its ArtifactResolutionService
    /// with index `endpoint_index`.
    pub fn new(issuer: &str, endpoint_index: u16) -> Artifact {
        Artifact {
            endpoint_index,
            source_id: source_id(issuer),
            message_handle: rand::random(),
        }
    }

    /// The `SAMLart` value.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(LENGTH);
        bytes.extend_from_slice(&TYPE_CODE);
        bytes.extend_from_slice(&self.endpoint_index.to_be_bytes());
        bytes.extend_from_slice(&self.source_id);
        bytes.extend_from_slice(&self.message_handle);
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Reads a `SAMLart` value; anything but a well-formed type 0x0004 artifact is refused.
    pub fn decode(value: &str) -> Result<Artifact, ArtifactError> {
        let value = value.trim();
        // A valid artifact is 60 characters: refuse anything much longer before decoding it.
        if value.len() > 2 * LENGTH * 4 / 3 {
            return Err(ArtifactError::Length(value.len() * 3 / 4));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| ArtifactError::Base64)?;
        if bytes.len() != LENGTH {
            return Err(ArtifactError::Length(bytes.len()));
        }
        let type_code = u16::from_be_bytes([bytes[0], bytes[1]]);
        if type_code != u16::from_be_bytes(TYPE_CODE) {
            return Err(ArtifactError::TypeCode(type_code));
        }
        let mut source_id = [0u8; 20];
        source_id.copy_from_slice(&bytes[4..24]);
        let mut message_handle = [0u8; 20];
        message_handle.copy_from_slice(&bytes[24..44]);
        Ok(Artifact {
            endpoint_index: u16::from_be_bytes([bytes[2], bytes[3]]),
            source_id,
            message_handle,
        })
    }

    /// Was this artifact issued by `entity_id`?
    pub fn is_from(&self, entity_id: &str) -> bool {
        self.source_id == source_id(entity_id)
    }

    /// A key for stores and logs that does not reveal the handle (it is a bearer secret until
    /// resolved): the SHA-256 of the handle, in hex.
    pub fn store_key(&self) -> String {
        hex::encode(openssl::sha::sha256(&self.message_handle))
    }
}

/// The SourceID of an entity: SHA-1 of its entity ID (SAML Bindings 2.0 §3.6.4.1).
pub fn source_id(entity_id: &str) -> [u8; 20] {
    openssl::sha::sha1(entity_id.as_bytes())
}

/// `endpoint?SAMLart=…[&RelayState=…]`, the artifact by HTTP GET (SAML Bindings 2.0 §3.6.3),
/// added to whatever query the endpoint already has. A RelayState is sent exactly as given, also
/// when it is empty.
pub fn url(
    endpoint: &str,
    saml_art: &str,
    relay_state: Option<&str>,
) -> Result<String, url::ParseError> {
    let mut url = url::Url::parse(endpoint)?;
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("SAMLart", saml_art);
        if let Some(r) = relay_state {
            pairs.append_pair("RelayState", r);
        }
    }
    Ok(url.to_string())
}

/// The value of `name` (`SAMLart`, `RelayState`) among the parameters of a query or form, which
/// may carry each once (SAML Bindings 2.0 §3.6.3): a parameter given twice is refused.
pub fn single<'a>(
    params: &'a [(String, String)],
    name: &str,
) -> Result<Option<&'a str>, ArtifactError> {
    let mut values = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
    match (values.next(), values.next()) {
        (v, None) => Ok(v.map(String::as_str)),
        _ => Err(ArtifactError::Duplicate(name.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let a = Artifact::new("urn:etoegang:HM:00000099990000000001:entities:1", 3);
        let encoded = a.encode();
        assert_eq!(encoded.len(), 60);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&encoded)
            .unwrap();
        assert_eq!(&raw[0..2], &[0, 4]);
        assert_eq!(
            &raw[2..4],
            &[0, 3],
            "EndpointIndex as two bytes, big-endian"
        );
        assert_eq!(
            hex::encode(&raw[4..24]),
            // sha1 of the entity ID, computed independently with `sha1sum`.
            hex::encode(openssl::sha::sha1(
                b"urn:etoegang:HM:00000099990000000001:entities:1"
            ))
        );
        let back = Artifact::decode(&encoded).unwrap();
        assert_eq!(back, a);
        assert!(back.is_from("urn:etoegang:HM:00000099990000000001:entities:1"));
        assert!(!back.is_from("urn:etoegang:HM:00000099990000000001:entities:2"));
    }

    #[test]
    fn handles_are_random() {
        let a = Artifact::new("x", 0);
        let b = Artifact::new("x", 0);
        assert_ne!(a.message_handle, b.message_handle);
        assert_ne!(a.store_key(), b.store_key());
    }

    #[test]
    fn refuses_what_is_not_type_4() {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        assert_eq!(Artifact::decode("not base64!"), Err(ArtifactError::Base64));
        assert_eq!(
            Artifact::decode(&b64(&[0u8; 43])),
            Err(ArtifactError::Length(43))
        );
        let mut t1 = vec![0u8; 44];
        t1[1] = 1;
        assert_eq!(Artifact::decode(&b64(&t1)), Err(ArtifactError::TypeCode(1)));
        // pysaml2 7.5 writes the EndpointIndex as the ASCII text "00": that is index 0x3030.
        let mut ascii = vec![0u8, 4, b'0', b'0'];
        ascii.extend_from_slice(&[7u8; 40]);
        assert_eq!(
            Artifact::decode(&b64(&ascii)).unwrap().endpoint_index,
            0x3030
        );
        assert!(matches!(
            Artifact::decode(&"A".repeat(10_000)),
            Err(ArtifactError::Length(_))
        ));
    }
}
