//! The numbers that identify an organisation in the trade register, checked in one place.
//!
//! - KvK number (KvK-nummer): 8 digits; the organisation's number in the trade register.
//! - RSIN (Rechtspersonen en Samenwerkingsverbanden Informatienummer): 9 digits passing the
//!   eleven-test; the legal entity's number for the tax office, kept in the register beside the
//!   KvK number.
//! - Vestigingsnummer: 12 digits; one establishment (branch) of the organisation.
//!
//! And how a service is told which organisation it deals with: the LegalSubjectID carries the
//! identifiers the service's catalogue entry accepts (EntityConcernedTypesAllowed), each a
//! NameID told apart by its NameQualifier (afsprakenstelsel, *Identificerende kenmerken*; since
//! 1.13 a KvK number and an RSIN may stand side by side).

use serde::{Deserialize, Serialize};

/// A kind of organisation identifier a service may accept (an EntityConcernedID type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum IdentifierType {
    /// `urn:etoegang:1.9:EntityConcernedID:KvKnr`
    KvKnr,
    /// `urn:etoegang:1.9:EntityConcernedID:RSIN`
    Rsin,
}

impl IdentifierType {
    /// The NameQualifier the scheme gives it.
    pub const fn uri(self) -> &'static str {
        match self {
            IdentifierType::KvKnr => "urn:etoegang:1.9:EntityConcernedID:KvKnr",
            IdentifierType::Rsin => "urn:etoegang:1.9:EntityConcernedID:RSIN",
        }
    }

    /// Reads `urn:etoegang:<version>:EntityConcernedID:<type>`, whatever the version; `None`
    /// for a type poort cannot give an organisation (BSN, Pseudo, eIDAS identifiers, …).
    pub fn from_uri(uri: &str) -> Option<IdentifierType> {
        let rest = uri.strip_prefix("urn:etoegang:")?;
        let (_version, kind) = rest.split_once(":EntityConcernedID:")?;
        match kind {
            "KvKnr" => Some(IdentifierType::KvKnr),
            "RSIN" => Some(IdentifierType::Rsin),
            _ => None,
        }
    }

    /// The word people read for it.
    pub const fn label(self) -> &'static str {
        match self {
            IdentifierType::KvKnr => "KvK-nummer",
            IdentifierType::Rsin => "RSIN",
        }
    }
}

/// The identifiers a service that accepts `accepted` is given of an organisation: KvK number
/// first, then the RSIN where the register has one. A service that names no type gets the KvK
/// number (what every eHerkenning service accepts). Empty when the organisation has none of
/// the accepted kinds: that organisation cannot be named to this service.
pub fn legal_subject_ids<'a>(
    kvk: &'a str,
    rsin: Option<&'a str>,
    accepted: &[IdentifierType],
) -> Vec<(IdentifierType, &'a str)> {
    let accepts = |t: IdentifierType| {
        if accepted.is_empty() {
            t == IdentifierType::KvKnr
        } else {
            accepted.contains(&t)
        }
    };
    let mut ids = Vec::new();
    if accepts(IdentifierType::KvKnr) && !kvk.is_empty() {
        ids.push((IdentifierType::KvKnr, kvk));
    }
    if let Some(rsin) = rsin.filter(|r| accepts(IdentifierType::Rsin) && !r.is_empty()) {
        ids.push((IdentifierType::Rsin, rsin));
    }
    ids
}

/// A KvK number: exactly 8 digits (leading zeros are part of it).
pub fn is_kvk(kvk: &str) -> bool {
    kvk.len() == 8 && kvk.bytes().all(|b| b.is_ascii_digit())
}

/// An RSIN: 9 digits passing the eleven-test (elfproef): the first eight digits weighted 9 down
/// to 2, the last weighted -1, and the sum divisible by 11. All zeros passes the sum but is no
/// number, so it is refused too.
pub fn is_rsin(rsin: &str) -> bool {
    if rsin.len() != 9 || !rsin.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let digits = rsin.bytes().map(|b| i64::from(b - b'0'));
    if digits.clone().all(|d| d == 0) {
        return false;
    }
    let sum: i64 = digits
        .zip([9, 8, 7, 6, 5, 4, 3, 2, -1])
        .map(|(d, w)| d * w)
        .sum();
    sum % 11 == 0
}

/// A vestigingsnummer: exactly 12 digits.
pub fn is_vestigingsnummer(number: &str) -> bool {
    number.len() == 12 && number.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kvk_numbers_are_eight_digits() {
        assert!(is_kvk("12345678"));
        assert!(is_kvk("01234567"));
        for bad in [
            "1234567",
            "123456789",
            "1234567a",
            "",
            "１２３４５６７８",
            " 2345678",
        ] {
            assert!(!is_kvk(bad), "{bad:?}");
        }
    }

    #[test]
    fn rsins_pass_the_eleven_test() {
        // 1*9 + 2*8 + 3*7 + 4*6 + 5*5 + 6*4 + 7*3 + 8*2 - 2 = 154 = 14 * 11.
        for good in ["123456782", "805123453", "002101282", "111222333"] {
            assert!(is_rsin(good), "{good}");
        }
        for bad in [
            "123456789",
            "805123454",
            "000000000",
            "80512345",
            "8051234530",
            "80512345a",
            "+05123453",
            "",
        ] {
            assert!(!is_rsin(bad), "{bad:?}");
        }
    }

    #[test]
    fn identifier_types_read_any_scheme_version() {
        assert_eq!(
            IdentifierType::from_uri("urn:etoegang:1.9:EntityConcernedID:KvKnr"),
            Some(IdentifierType::KvKnr)
        );
        assert_eq!(
            IdentifierType::from_uri("urn:etoegang:1.13:EntityConcernedID:RSIN"),
            Some(IdentifierType::Rsin)
        );
        assert_eq!(
            IdentifierType::from_uri("urn:etoegang:1.12:EntityConcernedID:BSN"),
            None
        );
        assert_eq!(
            IdentifierType::from_uri("urn:other:EntityConcernedID:KvKnr"),
            None
        );
        for t in [IdentifierType::KvKnr, IdentifierType::Rsin] {
            assert_eq!(IdentifierType::from_uri(t.uri()), Some(t));
        }
    }

    #[test]
    fn a_service_gets_the_identifiers_it_accepts_that_the_register_has() {
        use IdentifierType::{KvKnr, Rsin};
        let rsin = Some("805123453");
        assert_eq!(
            legal_subject_ids("12345678", rsin, &[]),
            [(KvKnr, "12345678")]
        );
        assert_eq!(
            legal_subject_ids("12345678", rsin, &[Rsin, KvKnr]),
            [(KvKnr, "12345678"), (Rsin, "805123453")]
        );
        assert_eq!(
            legal_subject_ids("12345678", rsin, &[Rsin]),
            [(Rsin, "805123453")]
        );
        assert_eq!(
            legal_subject_ids("12345678", None, &[KvKnr, Rsin]),
            [(KvKnr, "12345678")]
        );
        assert!(legal_subject_ids("12345678", None, &[Rsin]).is_empty());
    }

    #[test]
    fn vestigingsnummers_are_twelve_digits() {
        assert!(is_vestigingsnummer("000012345678"));
        assert!(!is_vestigingsnummer("12345678"));
        assert!(!is_vestigingsnummer("00001234567a"));
    }
}
