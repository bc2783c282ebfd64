//! The numbers that identify an organisation in the trade register, checked in one place.
//!
//! - KvK number (KvK-nummer): 8 digits; the organisation's number in the trade register.
//! - RSIN (Rechtspersonen en Samenwerkingsverbanden Informatienummer): 9 digits passing the
//!   eleven-test; the legal entity's number for the tax office, kept in the register beside the
//!   KvK number.
//! - Vestigingsnummer: 12 digits; one establishment (branch) of the organisation.

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
    fn vestigingsnummers_are_twelve_digits() {
        assert!(is_vestigingsnummer("000012345678"));
        assert!(!is_vestigingsnummer("12345678"));
        assert!(!is_vestigingsnummer("00001234567a"));
    }
}
