//! Recognising a bevoegd vertegenwoordiger at their first login to Mijn poort: the trade
//! register names a director by name and date of birth, not by an eHerkenning identity, so the
//! login asks the AD for those attributes and the register compares them with the directors it
//! holds (`grants::write`'s binding). The attributes serve only that comparison; they are not
//! kept and never logged.

use crate::domain::attributes::{Attribute, AttributeValue};
use crate::domain::login::AuthnResult;

pub const FIRST_NAME: &str = "urn:etoegang:1.9:attribute:FirstName";
pub const FAMILY_NAME: &str = "urn:etoegang:1.9:attribute:FamilyName";
pub const DATE_OF_BIRTH: &str = "urn:etoegang:1.9:attribute:DateOfBirth";

/// What a login to Mijn poort asks the AD for.
pub const ATTRIBUTES: [&str; 3] = [FIRST_NAME, FAMILY_NAME, DATE_OF_BIRTH];

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

/// The three attributes, when the AD sent all of them.
pub fn described(result: &AuthnResult) -> Option<Described> {
    let a = &result.attributes;
    Some(Described {
        first_name: text(a, FIRST_NAME)?.to_string(),
        family_name: text(a, FAMILY_NAME)?.to_string(),
        date_of_birth: text(a, DATE_OF_BIRTH)?.to_string(),
    })
}
