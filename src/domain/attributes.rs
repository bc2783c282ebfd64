//! Attributes that pass through a login, and which of them a service gets (data minimisation).
//!
//! A service asks for attributes in its catalogue entry (`RequestedAttribute`) or in its
//! metadata; poort asks the identity provider for exactly those and passes on exactly those:
//! whatever else the identity provider sends stops at poort. The attributes poort itself answers
//! for (the service, the person's pseudonym, the organisation) are never taken from an identity
//! provider, whatever it sends under those names.

use super::identifiers::IdentifierType;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An attribute a service asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedAttribute {
    /// The attribute's URN, as in the afsprakenstelsel's attribute catalogue
    /// (`urn:etoegang:1.9:attribute:FirstName`, …).
    pub name: String,
    /// The service cannot do without it (`isRequired`).
    #[serde(default)]
    pub required: bool,
}

/// One value of an attribute: a string, or an identifier in the form of a SAML NameID (the
/// scheme's EntityConcernedID attributes are NameIDs told apart by their NameQualifier).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttributeValue {
    Text(String),
    NameId {
        qualifier: Option<String>,
        format: Option<String>,
        value: String,
    },
}

/// An attribute an identity provider asserted.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: String,
    pub values: Vec<AttributeValue>,
    /// The identity provider sent it encrypted: it goes on only encrypted, to the service's
    /// own key.
    #[serde(default)]
    pub confidential: bool,
}

// Values are personal data: a `{:?}` in a log line shows the attribute's name and how many
// values it has, never the values.
impl fmt::Debug for AttributeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttributeValue::Text(_) => f.write_str("Text(…)"),
            AttributeValue::NameId { qualifier, .. } => {
                write!(f, "NameId({}, …)", qualifier.as_deref().unwrap_or("-"))
            }
        }
    }
}

impl fmt::Debug for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attribute")
            .field("name", &self.name)
            .field("values", &self.values.len())
            .field("confidential", &self.confidential)
            .finish()
    }
}

/// The attributes poort answers for itself, from the catalogue, its pseudonyms and the register.
/// An identity provider's attribute of one of these names is never passed on.
pub const BROKER_ATTRIBUTES: [&str; 6] = [
    "urn:etoegang:core:ServiceID",
    "urn:etoegang:core:ServiceUUID",
    "urn:etoegang:core:ActingSubjectID",
    "urn:etoegang:core:LegalSubjectID",
    "urn:etoegang:1.11:attribute-represented:CompanyName",
    "urn:etoegang:core:IntermediateSubjectID",
];

/// Whether poort answers for an attribute of this name itself: one of [`BROKER_ATTRIBUTES`], or
/// an organisation identifier (`urn:etoegang:<version>:EntityConcernedID:KvKnr` or `:RSIN`): a
/// service that asks for one of those (DV metadata does) is told it in its LegalSubjectID.
pub fn is_broker_attribute(name: &str) -> bool {
    BROKER_ATTRIBUTES.contains(&name) || IdentifierType::from_uri(name).is_some()
}

/// What the identity provider is asked for: the requested attributes poort does not answer for
/// itself, each once, in the order requested.
pub fn to_ask(requested: &[RequestedAttribute]) -> Vec<RequestedAttribute> {
    let mut asked: Vec<RequestedAttribute> = Vec::new();
    for r in requested {
        if is_broker_attribute(&r.name) {
            continue;
        }
        match asked.iter_mut().find(|a| a.name == r.name) {
            Some(a) => a.required |= r.required,
            None => asked.push(r.clone()),
        }
    }
    asked
}

/// What a service gets of what the identity provider asserted: only what it asked for, never
/// an attribute poort answers for itself, each name once (the first the identity provider sent).
pub fn release<'a>(
    requested: &[RequestedAttribute],
    asserted: &'a [Attribute],
) -> Vec<&'a Attribute> {
    let mut released: Vec<&Attribute> = Vec::new();
    for a in asserted {
        let wanted = requested.iter().any(|r| r.name == a.name) && !is_broker_attribute(&a.name);
        if wanted && !released.iter().any(|r| r.name == a.name) {
            released.push(a);
        }
    }
    released
}

/// The required attributes the identity provider did not send (for the log: names only).
pub fn missing<'a>(requested: &'a [RequestedAttribute], asserted: &[Attribute]) -> Vec<&'a str> {
    requested
        .iter()
        .filter(|r| r.required && !is_broker_attribute(&r.name))
        .map(|r| r.name.as_str())
        .filter(|name| !asserted.iter().any(|a| a.name == *name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(name: &str, required: bool) -> RequestedAttribute {
        RequestedAttribute {
            name: name.into(),
            required,
        }
    }

    fn sent(name: &str, value: &str) -> Attribute {
        Attribute {
            name: name.into(),
            values: vec![AttributeValue::Text(value.into())],
            confidential: false,
        }
    }

    const FIRST: &str = "urn:etoegang:1.9:attribute:FirstName";
    const FAMILY: &str = "urn:etoegang:1.9:attribute:FamilyName";
    const BIRTH: &str = "urn:etoegang:1.9:attribute:DateOfBirth";

    #[test]
    fn only_what_was_asked_for_is_released() {
        let asserted = [
            sent(FIRST, "Bram"),
            sent(FAMILY, "Jansen"),
            sent(BIRTH, "1980-01-01"),
        ];
        let released = release(&[asked(FAMILY, true)], &asserted);
        assert_eq!(released.len(), 1);
        assert_eq!(released[0].name, FAMILY);
        assert!(
            release(&[], &asserted).is_empty(),
            "nothing asked, nothing passed on"
        );
    }

    #[test]
    fn attributes_poort_answers_for_are_never_taken_from_the_identity_provider() {
        let asserted = [
            sent("urn:etoegang:core:LegalSubjectID", "99999999"),
            sent(FIRST, "Bram"),
        ];
        let requested = [
            asked("urn:etoegang:core:LegalSubjectID", true),
            asked("urn:etoegang:1.9:EntityConcernedID:RSIN", true),
            asked(FIRST, false),
        ];
        let released = release(&requested, &asserted);
        assert_eq!(
            released.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
            [FIRST]
        );
        assert_eq!(to_ask(&requested), [asked(FIRST, false)]);
    }

    #[test]
    fn a_name_is_released_once_and_asked_once() {
        let asserted = [sent(FIRST, "Bram"), sent(FIRST, "Other")];
        let released = release(&[asked(FIRST, false)], &asserted);
        assert_eq!(released.len(), 1);
        assert_eq!(released[0].values, [AttributeValue::Text("Bram".into())]);
        assert_eq!(
            to_ask(&[asked(FIRST, false), asked(FIRST, true)]),
            [asked(FIRST, true)],
            "asked once, required when any request requires it"
        );
    }

    #[test]
    fn missing_lists_required_attributes_not_sent() {
        let requested = [asked(FIRST, true), asked(FAMILY, false), asked(BIRTH, true)];
        assert_eq!(missing(&requested, &[sent(FIRST, "Bram")]), [BIRTH]);
    }

    #[test]
    fn debug_output_never_shows_values() {
        let a = Attribute {
            name: FIRST.into(),
            values: vec![
                AttributeValue::Text("Bram".into()),
                AttributeValue::NameId {
                    qualifier: Some("q".into()),
                    format: None,
                    value: "12345678".into(),
                },
            ],
            confidential: true,
        };
        let shown = format!("{a:?} {:?}", a.values);
        assert!(
            !shown.contains("Bram") && !shown.contains("12345678"),
            "{shown}"
        );
        assert!(shown.contains(FIRST));
    }
}
