//! Reproducible draws for the generator: one random stream per table, unique numbers without
//! remembering which were used, valid RSINs, and Dutch-looking names.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One random stream per table, derived from the seed.
pub fn stream(seed: u64, table: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ table.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// A bijection of `0..modulus` (`i -> (a * i + b) mod modulus` with `a` coprime to the
/// modulus), drawn from `rng`: unique numbers without remembering which were used.
pub struct Permutation {
    a: u64,
    b: u64,
    modulus: u64,
}

impl Permutation {
    /// `modulus` must have no prime factors other than 2, 3 and 5 (as 9 × 10^7 has), so that
    /// "not divisible by 2, 3 or 5" means coprime.
    pub fn draw(rng: &mut StdRng, modulus: u64) -> Permutation {
        let a = loop {
            let a = rng.random_range(1..modulus);
            if a % 2 != 0 && a % 3 != 0 && a % 5 != 0 {
                break a;
            }
        };
        Permutation {
            a,
            b: rng.random_range(0..modulus),
            modulus,
        }
    }

    pub fn at(&self, i: u64) -> u64 {
        ((u128::from(self.a) * u128::from(i) + u128::from(self.b)) % u128::from(self.modulus))
            as u64
    }
}

/// The RSIN whose first eight digits are `prefix` (10,000,000 ..= 99,999,999), when the
/// eleven-test leaves a single check digit for it (10 of 11 prefixes).
pub fn rsin_from_prefix(prefix: u64) -> Option<String> {
    let digits = prefix.to_string();
    let sum: u64 = digits
        .bytes()
        .zip([9u64, 8, 7, 6, 5, 4, 3, 2])
        .map(|(d, w)| u64::from(d - b'0') * w)
        .sum();
    // 9·d1 + … + 2·d8 − d9 ≡ 0 (mod 11)
    let check = sum % 11;
    (check < 10).then(|| format!("{digits}{check}"))
}

pub const NAME_WORDS: [&str; 24] = [
    "Bakkerij",
    "Bouwbedrijf",
    "Transport",
    "Adviesbureau",
    "Installatietechniek",
    "Zorggroep",
    "Handelsonderneming",
    "Schildersbedrijf",
    "Administratiekantoor",
    "Garage",
    "Kwekerij",
    "Drukkerij",
    "Stichting",
    "Vereniging",
    "Architectenbureau",
    "Loonbedrijf",
    "Groothandel",
    "Hoveniersbedrijf",
    "Reisbureau",
    "Metaalbewerking",
    "Accountants",
    "Dierenkliniek",
    "Softwarehuis",
    "Notariskantoor",
];
pub const FAMILY_NAMES: [&str; 24] = [
    "De Jong",
    "Jansen",
    "De Vries",
    "Van den Berg",
    "Van Dijk",
    "Bakker",
    "Janssen",
    "Visser",
    "Smit",
    "Meijer",
    "De Boer",
    "Mulder",
    "De Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Van Leeuwen",
    "Dekker",
    "Brouwer",
    "De Wit",
    "Dijkstra",
    "Smits",
    "De Graaf",
];
pub const GIVEN_NAMES: [&str; 16] = [
    "Anna", "Bram", "Carla", "Daan", "Eva", "Femke", "Gert", "Hanna", "Ivo", "Joke", "Kees",
    "Lotte", "Milan", "Noor", "Otto", "Pien",
];
pub const LEGAL_FORMS: [&str; 4] = ["B.V.", "V.O.F.", "N.V.", ""];
pub const GROUP_NAMES: [&str; 8] = [
    "Boekhouding",
    "Inkoop",
    "Personeelszaken",
    "Vergunningen",
    "Belastingen",
    "Subsidies",
    "Juridische zaken",
    "ICT",
];

#[cfg(test)]
mod tests {
    use super::*;
    use poort::domain::identifiers::is_rsin;

    #[test]
    fn rsins_pass_the_eleven_test_and_prefixes_are_kept() {
        let mut made = 0;
        for prefix in 10_000_000..10_001_000 {
            if let Some(rsin) = rsin_from_prefix(prefix) {
                assert!(is_rsin(&rsin), "{rsin}");
                assert!(rsin.starts_with(&prefix.to_string()));
                made += 1;
            }
        }
        assert!(made > 880, "{made} of 1000 prefixes");
    }

    #[test]
    fn permutations_are_bijections() {
        let mut rng = StdRng::seed_from_u64(3);
        let p = Permutation::draw(&mut rng, 3_000);
        let mut seen = std::collections::HashSet::new();
        for i in 0..3_000 {
            assert!(seen.insert(p.at(i)));
        }
    }
}
