//! Levels of assurance (betrouwbaarheidsniveaus) and their URIs.
//!
//! Pure data: the order of levels, and the mapping to and from the eHerkenning and eIDAS
//! AuthnContextClassRef URIs. EH1 ended in 2021 and is refused when parsed.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A level of assurance, lowest first; `Ord` follows the scheme's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    #[serde(rename = "EH2")]
    Eh2,
    #[serde(rename = "EH2+")]
    Eh2Plus,
    #[serde(rename = "EH3")]
    Eh3,
    #[serde(rename = "EH4")]
    Eh4,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LevelError {
    #[error("level EH1 is no longer accepted (ended in 2021)")]
    Eh1Refused,
    #[error("unknown level of assurance: {0:?}")]
    Unknown(String),
}

pub const EH1_URI: &str = "urn:etoegang:core:assurance-class:loa1";
pub const EIDAS_LOW: &str = "http://eidas.europa.eu/LoA/low";
pub const EIDAS_SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";
pub const EIDAS_HIGH: &str = "http://eidas.europa.eu/LoA/high";

impl Level {
    pub const ALL: [Level; 4] = [Level::Eh2, Level::Eh2Plus, Level::Eh3, Level::Eh4];

    /// The eHerkenning AuthnContextClassRef for this level.
    pub fn uri(self) -> &'static str {
        match self {
            Level::Eh2 => "urn:etoegang:core:assurance-class:loa2",
            Level::Eh2Plus => "urn:etoegang:core:assurance-class:loa2plus",
            Level::Eh3 => "urn:etoegang:core:assurance-class:loa3",
            Level::Eh4 => "urn:etoegang:core:assurance-class:loa4",
        }
    }

    /// The eIDAS level this maps to (EH2 and EH2+ are both "low").
    pub fn eidas_uri(self) -> &'static str {
        match self {
            Level::Eh2 | Level::Eh2Plus => EIDAS_LOW,
            Level::Eh3 => EIDAS_SUBSTANTIAL,
            Level::Eh4 => EIDAS_HIGH,
        }
    }

    /// Parses an eHerkenning or eIDAS level URI. eIDAS "low" maps to EH2, the lower of the two
    /// eHerkenning levels it covers, so that a foreign "low" never passes for EH2+.
    pub fn from_uri(uri: &str) -> Result<Level, LevelError> {
        let uri = uri.trim();
        match uri {
            "urn:etoegang:core:assurance-class:loa2" => Ok(Level::Eh2),
            "urn:etoegang:core:assurance-class:loa2plus" => Ok(Level::Eh2Plus),
            "urn:etoegang:core:assurance-class:loa3" => Ok(Level::Eh3),
            "urn:etoegang:core:assurance-class:loa4" => Ok(Level::Eh4),
            EIDAS_LOW => Ok(Level::Eh2),
            EIDAS_SUBSTANTIAL => Ok(Level::Eh3),
            EIDAS_HIGH => Ok(Level::Eh4),
            EH1_URI => Err(LevelError::Eh1Refused),
            other => Err(LevelError::Unknown(other.to_string())),
        }
    }

    /// The short name people know: EH2, EH2+, EH3, EH4.
    pub fn name(self) -> &'static str {
        match self {
            Level::Eh2 => "EH2",
            Level::Eh2Plus => "EH2+",
            Level::Eh3 => "EH3",
            Level::Eh4 => "EH4",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Level {
    type Err = LevelError;
    /// Accepts the short names (EH2, EH2+, EH3, EH4, case-insensitive) and the URIs.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "EH2" => Ok(Level::Eh2),
            "EH2+" | "EH2PLUS" => Ok(Level::Eh2Plus),
            "EH3" => Ok(Level::Eh3),
            "EH4" => Ok(Level::Eh4),
            "EH1" => Err(LevelError::Eh1Refused),
            _ => Level::from_uri(s),
        }
    }
}

/// How a requester compares its RequestedAuthnContext (SAML `Comparison`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparison {
    /// The level reached must be at least the requested one (the default in eHerkenning).
    Minimum,
    /// The level reached must be exactly the requested one.
    Exact,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_lowest_first() {
        assert!(Level::Eh2 < Level::Eh2Plus);
        assert!(Level::Eh2Plus < Level::Eh3);
        assert!(Level::Eh3 < Level::Eh4);
    }

    #[test]
    fn uris_round_trip() {
        for level in Level::ALL {
            assert_eq!(Level::from_uri(level.uri()), Ok(level));
            assert_eq!(level.name().parse::<Level>(), Ok(level));
        }
    }

    #[test]
    fn eidas_maps_to_lowest_covered_level() {
        assert_eq!(Level::from_uri(EIDAS_LOW), Ok(Level::Eh2));
        assert_eq!(Level::from_uri(EIDAS_SUBSTANTIAL), Ok(Level::Eh3));
        assert_eq!(Level::from_uri(EIDAS_HIGH), Ok(Level::Eh4));
        assert_eq!(Level::Eh2Plus.eidas_uri(), EIDAS_LOW);
    }

    #[test]
    fn eh1_and_unknown_are_refused() {
        assert_eq!(Level::from_uri(EH1_URI), Err(LevelError::Eh1Refused));
        assert_eq!("EH1".parse::<Level>(), Err(LevelError::Eh1Refused));
        assert!(matches!(
            Level::from_uri("urn:oasis:names:tc:SAML:2.0:ac:classes:Password"),
            Err(LevelError::Unknown(_))
        ));
    }
}
