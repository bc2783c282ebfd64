//! What an aggregate's attributes say: its `Name` (which version of the scheme, which
//! environment, which edition) and its `cacheDuration`.

use std::time::Duration;

/// An aggregate's `Name`: `urn:etoegang:<scheme version>:<P|T>:<sequence>` for a participant's
/// metadata (page *Metadata for participants*), or `urn:etoegang:<version>:metadata:<P|A>:<sequence>`
/// for the Beheerorganisatie's network metadata (page *Network metadata*).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateName {
    pub version: String,
    /// P (production), T or A (test / acceptance).
    pub environment: String,
    /// Distinguishes editions; a later edition has a higher one.
    pub sequence: u64,
}

impl AggregateName {
    pub fn parse(name: &str) -> Option<AggregateName> {
        let rest = name.strip_prefix("urn:etoegang:")?;
        let parts: Vec<&str> = rest.split(':').collect();
        let (version, environment, sequence) = match parts.as_slice() {
            [v, e, s] => (*v, *e, *s),
            [v, "metadata", e, s] => (*v, *e, *s),
            _ => return None,
        };
        let version_ok = !version.is_empty()
            && version
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !version_ok || !matches!(environment, "P" | "T" | "A") {
            return None;
        }
        Some(AggregateName {
            version: version.to_string(),
            environment: environment.to_string(),
            sequence: sequence.parse().ok()?,
        })
    }

    /// Whether `self` and `other` are editions of the same series (version and environment).
    pub fn same_series(&self, other: &AggregateName) -> bool {
        self.version == other.version && self.environment == other.environment
    }
}

impl std::fmt::Display for AggregateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.version, self.environment, self.sequence)
    }
}

/// An `xs:duration` as `cacheDuration` carries it (`P7D`, `PT6H`, `P1DT12H30M`): days, hours,
/// minutes and seconds. Years and months have no fixed length and are refused, as is a negative
/// duration. Written here because no maintained crate in the tree reads xs:duration, and this is
/// the one place poort needs it.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let rest = text.trim().strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut seconds = 0f64;
    let mut any = false;
    let mut read = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        let mut next_unit = 0;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let at = units[next_unit..].iter().position(|(u, _)| *u == c)? + next_unit;
            let value: f64 = number.parse().ok()?;
            seconds += value * units[at].1;
            number.clear();
            next_unit = at + 1;
            any = true;
        }
        number.is_empty().then_some(())
    };
    read(date, &[('D', 86_400.0)])?;
    if let Some(time) = time {
        read(time, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    (any && seconds.is_finite()).then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_participants_and_of_the_network() {
        let p = AggregateName::parse("urn:etoegang:1.13:P:42").unwrap();
        assert_eq!(
            (p.version.as_str(), p.environment.as_str(), p.sequence),
            ("1.13", "P", 42)
        );
        let n = AggregateName::parse("urn:etoegang:1.13:metadata:A:7").unwrap();
        assert_eq!((n.environment.as_str(), n.sequence), ("A", 7));
        assert!(p.same_series(&AggregateName::parse("urn:etoegang:1.13:P:43").unwrap()));
        assert!(!p.same_series(&AggregateName::parse("urn:etoegang:1.13:T:43").unwrap()));
        for bad in [
            "urn:etoegang:1.13:X:1",
            "urn:etoegang:1.13:P:",
            "urn:etoegang:1.13:P:one",
            "urn:etoegang::P:1",
            "urn:etoegang:1.13:P",
            "urn:other:1.13:P:1",
            "urn:etoegang:1.13:metadata:P:1:2",
        ] {
            assert_eq!(AggregateName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn cache_durations() {
        assert_eq!(parse_duration("P7D"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("PT6H"), Some(Duration::from_secs(6 * 3_600)));
        assert_eq!(
            parse_duration("P1DT12H30M15S"),
            Some(Duration::from_secs(86_400 + 12 * 3_600 + 30 * 60 + 15))
        );
        assert_eq!(parse_duration("PT0.5S"), Some(Duration::from_millis(500)));
        for bad in [
            "", "P", "PT", "7D", "P1M", "P1Y", "-P1D", "PT1H2D", "P1DT", "PT1S1S", "P D",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
