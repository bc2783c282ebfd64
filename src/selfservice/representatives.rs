//! Recognising a bevoegd vertegenwoordiger at their first login to Mijn poort: the trade
//! register names a director by name and date of birth, not by an eHerkenning identity, so the
//! login asks the AD for those attributes and the register compares them with the directors it
//! holds (`grants::write`'s binding). The attributes serve only that comparison; they are not
//! kept and never logged.

use crate::domain::attributes::{Attribute, AttributeValue};
use crate::domain::login::AuthnResult;

pub const FIRST_NAME: &str = "urn:etoegang:1.9:attribute:FirstName";
pub const FAMILY_NAME: &str = "urn:etoegang:1.9:attribute:FamilyName";
pub const FAMILY_NAME_INFIX: &str = "urn:etoegang:1.9:attribute:FamilyNameInfix";
pub const DATE_OF_BIRTH: &str = "urn:etoegang:1.9:attribute:DateOfBirth";

/// What a login to Mijn poort asks the AD for.
pub const ATTRIBUTES: [&str; 4] = [FIRST_NAME, FAMILY_NAME_INFIX, FAMILY_NAME, DATE_OF_BIRTH];

/// The person as the AD described them: first name, family name, date of birth.
#[derive(Clone, PartialEq, Eq)]
pub struct Described {
    pub first_name: String,
    pub family_name: String,
    pub date_of_birth: String,
}

impl std::fmt::Debug for Described {
    // Personal data: never in a log line, even by accident.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Described { .. }")
    }
}

fn text<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|a| a.name == name)?
        .values
        .iter()
        .find_map(|v| match v {
            AttributeValue::Text(t) if !t.trim().is_empty() => Some(t.trim()),
            _ => None,
        })
}

/// The person as the AD described them, when it sent a first name, a family name and a date of
/// birth; an infix it sent apart ("van der") goes before the family name, as the trade register
/// writes it.
pub fn described(result: &AuthnResult) -> Option<Described> {
    let a = &result.attributes;
    let family = text(a, FAMILY_NAME)?;
    let family_name = match text(a, FAMILY_NAME_INFIX) {
        Some(infix) => format!("{infix} {family}"),
        None => family.to_string(),
    };
    Some(Described {
        first_name: text(a, FIRST_NAME)?.to_string(),
        family_name,
        date_of_birth: text(a, DATE_OF_BIRTH)?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::level::Level;

    fn result(attributes: &[(&str, &str)]) -> AuthnResult {
        AuthnResult {
            idp: "urn:ad".into(),
            subject: "s".into(),
            level: Level::Eh3,
            authn_instant: chrono::Utc::now(),
            attributes: attributes
                .iter()
                .map(|(name, value)| Attribute {
                    name: (*name).into(),
                    values: vec![AttributeValue::Text((*value).into())],
                    confidential: false,
                })
                .collect(),
        }
    }

    #[test]
    fn a_person_is_described_by_three_attributes_and_an_infix_joins_the_family_name() {
        let full = result(&[
            (FIRST_NAME, "Jan"),
            (FAMILY_NAME_INFIX, "van der"),
            (FAMILY_NAME, "Berg"),
            (DATE_OF_BIRTH, "1970-05-06"),
        ]);
        let d = described(&full).unwrap();
        assert_eq!(
            (
                d.first_name.as_str(),
                d.family_name.as_str(),
                d.date_of_birth.as_str()
            ),
            ("Jan", "van der Berg", "1970-05-06")
        );
        assert_eq!(format!("{d:?}"), "Described { .. }");
        let no_birth = result(&[(FIRST_NAME, "Jan"), (FAMILY_NAME, "Berg")]);
        assert!(described(&no_birth).is_none());
        let blank = result(&[
            (FIRST_NAME, " "),
            (FAMILY_NAME, "Berg"),
            (DATE_OF_BIRTH, "1970-05-06"),
        ]);
        assert!(described(&blank).is_none());
    }
}
