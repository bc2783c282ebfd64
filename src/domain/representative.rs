//! Bevoegd vertegenwoordigers (directors, as an extract of the trade register names them) and
//! the rule by which one is recognised in what an AD asserts at login: the same person when
//! their names and birth date match, compared as follows (docs/DOMAIN.md says the same).
//!
//! - Names are compared folded: compatibility decomposition with the marks dropped (é → e,
//!   ĳ → ij) and the few letters that do not decompose spelled out (ß → ss, ø → o, æ → ae,
//!   ł → l), lowercase, every character that is no letter or digit (apostrophe, hyphen, dot,
//!   comma) a space, runs of spaces one.
//! - The family name: its particles (van, de, der, 't, ter, …) are moved to the front wherever
//!   they stand, in their order, and the spaces removed, so "de Vries", "Vries, de" and
//!   "De  Vries" are all `devries`, and "van 't Hof" and "Hof, van 't" both `vanthof`. The
//!   caller joins an AD's separate infix (FamilyNameInfix) to the family name first.
//! - The first name: the first of the extract's given names equals the first word of the AD's
//!   FirstName ("Jan Pieter" matches FirstName "Jan" and "Jan P.").
//! - The birth date: equal (the AD's `YYYY-MM-DD` or `YYYYMMDD`).
//!
//! Two rows of one extract are the same person when all their given names (not only the
//! first), their family names and birth dates are equal under the same folding: twins named
//! "Jan Pieter" and "Jan Willem" are two people, and both match an AD's "Jan", which the
//! register treats as ambiguous and binds neither.
//!
//! Pure functions: no I/O, no clock.

use chrono::NaiveDate;
use unicode_normalization::UnicodeNormalization;

/// Family-name particles (tussenvoegsels and their foreign kin), folded.
const PARTICLES: &[&str] = &[
    "aan", "auf", "bij", "d", "da", "das", "de", "del", "della", "den", "der", "des", "di", "do",
    "dos", "du", "het", "in", "l", "la", "le", "les", "onder", "op", "over", "s", "t", "te", "ten",
    "ter", "uit", "van", "vd", "voor", "vom", "von", "zu", "zum", "zur",
];

/// `text` folded: marks dropped, lowercase, punctuation a space, one space between words.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfkd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        let spelled: &str = match c {
            'ß' => "ss",
            'ø' | 'Ø' => "o",
            'æ' | 'Æ' => "ae",
            'œ' | 'Œ' => "oe",
            'ł' | 'Ł' => "l",
            'đ' | 'Đ' => "d",
            'þ' | 'Þ' => "th",
            'ı' => "i",
            _ => {
                if c.is_alphanumeric() {
                    out.extend(c.to_lowercase());
                } else {
                    out.push(' ');
                }
                continue;
            }
        };
        out.push_str(spelled);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The first given name, folded; `None` when there is none.
pub fn first_name_key(given_names: &str) -> Option<String> {
    fold(given_names)
        .split(' ')
        .next()
        .filter(|w| !w.is_empty())
        .map(str::to_string)
}

/// The family name as compared: particles first, in their order, then the rest, without
/// spaces; `None` when there is nothing.
pub fn family_name_key(family_name: &str) -> Option<String> {
    let folded = fold(family_name);
    let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
    if words.is_empty() {
        return None;
    }
    let (particles, rest): (Vec<&str>, Vec<&str>) =
        words.iter().partition(|w| PARTICLES.contains(w));
    // A name of particles only ("Van", say) is a name, not a prefix.
    if rest.is_empty() {
        return Some(words.concat());
    }
    Some(format!("{}{}", particles.concat(), rest.concat()))
}

/// A birth date as the trade register and ADs write it: `YYYY-MM-DD` (or `YYYYMMDD`), a real
/// date.
pub fn parse_birth_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10)
        .or_else(|| {
            (text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| NaiveDate::parse_from_str(text, "%Y%m%d").ok())
                .flatten()
        })
}

/// A person as a row of an extract names them, folded: all given names, the family name's key
/// and the birth date. Two rows with equal keys are the same person.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtractKey {
    pub given_names: String,
    pub family_name: String,
    pub date_of_birth: NaiveDate,
}

impl ExtractKey {
    /// The key of a row, or `None` when a name is empty or the date is not one.
    pub fn of(given_names: &str, family_name: &str, date_of_birth: &str) -> Option<ExtractKey> {
        let given_names = fold(given_names);
        if given_names.is_empty() {
            return None;
        }
        Some(ExtractKey {
            given_names,
            family_name: family_name_key(family_name)?,
            date_of_birth: parse_birth_date(date_of_birth)?,
        })
    }
}

/// What an AD asserted of a person, as the rule compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asserted {
    first_name: String,
    family_name: String,
    date_of_birth: NaiveDate,
}

impl Asserted {
    /// From the AD's FirstName, FamilyName (with its infix) and DateOfBirth; `None` when one
    /// is missing or the date is not one (then nobody matches).
    pub fn of(first_name: &str, family_name: &str, date_of_birth: &str) -> Option<Asserted> {
        Some(Asserted {
            first_name: first_name_key(first_name)?,
            family_name: family_name_key(family_name)?,
            date_of_birth: parse_birth_date(date_of_birth)?,
        })
    }

    pub fn date_of_birth(&self) -> NaiveDate {
        self.date_of_birth
    }

    /// Whether the extract's row (given names, family name, birth date) is this person.
    pub fn matches(&self, given_names: &str, family_name: &str, date_of_birth: &str) -> bool {
        parse_birth_date(date_of_birth) == Some(self.date_of_birth)
            && family_name_key(family_name).as_deref() == Some(self.family_name.as_str())
            && first_name_key(given_names).as_deref() == Some(self.first_name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_drops_marks_case_and_punctuation() {
        assert_eq!(fold("  Renée   Zoë-Anne "), "renee zoe anne");
        assert_eq!(fold("Ĳsbrand"), "ijsbrand");
        assert_eq!(fold("Strauß Søren Æsa Łukasz"), "strauss soren aesa lukasz");
        assert_eq!(fold("O'Brien"), "o brien");
    }

    #[test]
    fn particles_move_to_the_front_and_spaces_go() {
        for name in ["de Vries", "Vries, de", "De  Vries", "Vries de", "de vries"] {
            assert_eq!(family_name_key(name).as_deref(), Some("devries"), "{name}");
        }
        for name in ["van 't Hof", "Hof, van 't", "Van ’t Hof"] {
            assert_eq!(family_name_key(name).as_deref(), Some("vanthof"), "{name}");
        }
        assert_eq!(
            family_name_key("van der Berg").as_deref(),
            Some("vanderberg")
        );
        assert_eq!(family_name_key("Berg").as_deref(), Some("berg"));
        assert_eq!(family_name_key("Van").as_deref(), Some("van"));
        assert_eq!(family_name_key(" - "), None);
    }

    #[test]
    fn birth_dates_are_real_dates() {
        assert!(parse_birth_date("1980-02-29").is_some());
        assert!(parse_birth_date("19800229").is_some());
        assert!(parse_birth_date("1981-02-29").is_none());
        assert!(parse_birth_date("1980-2-3").is_none());
        assert!(parse_birth_date("29-02-1980").is_none());
        assert!(parse_birth_date("").is_none());
    }

    #[test]
    fn the_first_given_name_the_family_name_and_the_birth_date_decide() {
        let ad = Asserted::of("Jan", "de Vries", "1970-05-01").unwrap();
        assert!(ad.matches("Jan Pieter", "Vries, de", "1970-05-01"));
        assert!(ad.matches("JAN", "De Vries", "1970-05-01"));
        assert!(!ad.matches("Jan", "de Vries", "1970-05-02"), "another date");
        assert!(!ad.matches("Pieter Jan", "de Vries", "1970-05-01"));
        assert!(
            !ad.matches("Jan", "Vries", "1970-05-01"),
            "the particle counts"
        );
        let accented = Asserted::of("Jose Maria", "Munoz", "19700501").unwrap();
        assert!(accented.matches("José", "Muñoz", "1970-05-01"));
        assert!(Asserted::of("", "Vries", "1970-05-01").is_none());
        assert!(Asserted::of("Jan", "Vries", "1970-13-01").is_none());
    }

    #[test]
    fn rows_are_the_same_person_on_all_given_names() {
        let a = ExtractKey::of("Jan Pieter", "de Vries", "1970-05-01").unwrap();
        let b = ExtractKey::of("jan  pieter", "Vries, de", "1970-05-01").unwrap();
        let twin = ExtractKey::of("Jan Willem", "de Vries", "1970-05-01").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, twin);
        assert!(ExtractKey::of(" ", "Vries", "1970-05-01").is_none());
    }
}
