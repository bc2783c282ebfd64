//! Checks of what a write is given, in one place: KvK numbers and RSINs (the domain's own checks,
//! turned into the register's typed refusals), validity periods (the domain's 5-year limit),
//! scopes against the service catalogue, renewal periods, e-mail addresses, languages, and a
//! bevoegd vertegenwoordiger's authority and date of birth.

use super::error::WriteError;
use crate::config::ServiceConfig;
use crate::domain::grant::{validity_limit, Scope};
use crate::domain::identifiers::{is_kvk, is_rsin};
use chrono::{DateTime, Months, Utc};

pub fn check_kvk(kvk: &str) -> Result<(), WriteError> {
    if is_kvk(kvk) {
        Ok(())
    } else {
        Err(WriteError::InvalidKvk(kvk.to_string()))
    }
}

pub fn check_rsin(rsin: &str) -> Result<(), WriteError> {
    if is_rsin(rsin) {
        Ok(())
    } else {
        Err(WriteError::InvalidRsin(rsin.to_string()))
    }
}

/// A validity period: ends after it starts, at most 5 years long.
pub fn check_validity(from: DateTime<Utc>, until: DateTime<Utc>) -> Result<(), WriteError> {
    if until <= from {
        return Err(WriteError::EndsBeforeStart { from, until });
    }
    match validity_limit(from) {
        Some(limit) if until <= limit => Ok(()),
        _ => Err(WriteError::ValidityTooLong { from, until }),
    }
}

/// A scope must name what the catalogue knows: a service by its UUID, or a provider that offers
/// at least one service (later services of that provider are covered too).
pub fn check_scope(scope: &Scope, catalogue: &[ServiceConfig]) -> Result<(), WriteError> {
    match scope {
        Scope::AllServices => Ok(()),
        Scope::Provider { provider } => {
            if catalogue.iter().any(|s| &s.provider == provider) {
                Ok(())
            } else {
                Err(WriteError::UnknownProvider(provider.clone()))
            }
        }
        Scope::Service { uuid } => {
            if catalogue.iter().any(|s| &s.uuid == uuid) {
                Ok(())
            } else {
                Err(WriteError::UnknownService(uuid.clone()))
            }
        }
    }
}

/// A renewal by `n` years: 1, 3 or 5.
pub fn renewal_years(n: u32) -> Result<Months, WriteError> {
    match n {
        1 | 3 | 5 => Ok(Months::new(n * 12)),
        other => Err(WriteError::RenewalYears(other)),
    }
}

/// Whether `email` looks like an e-mail address (one `@`-split with a dotted domain, no spaces
/// or control characters, at most 254 bytes): the register's check, shared with the pages.
pub fn is_email_address(email: &str) -> bool {
    email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
}

pub fn check_email(email: &str) -> Result<(), WriteError> {
    if is_email_address(email) {
        Ok(())
    } else {
        Err(WriteError::InvalidEmail(email.to_string()))
    }
}

/// A language for mails: `nl` or `en`; none is Dutch.
pub fn check_language(language: Option<&str>) -> Result<Option<String>, WriteError> {
    match language.map(str::trim) {
        None | Some("") => Ok(None),
        Some(l @ ("nl" | "en")) => Ok(Some(l.to_string())),
        Some(other) => Err(WriteError::InvalidLanguage(other.to_string())),
    }
}

/// A bevoegd vertegenwoordiger's authority as an extract writes it: `sole` or `joint` (any
/// case).
pub fn check_authority(text: &str) -> Result<crate::domain::request::Authority, WriteError> {
    use crate::domain::request::Authority;
    match text.trim().to_ascii_lowercase().as_str() {
        "sole" => Ok(Authority::Sole),
        "joint" => Ok(Authority::Joint),
        _ => Err(WriteError::InvalidAuthority(text.to_string())),
    }
}

/// A date of birth: a real date written `YYYY-MM-DD`, not after `today`; as stored.
pub fn check_date_of_birth(text: &str, today: chrono::NaiveDate) -> Result<String, WriteError> {
    let trimmed = text.trim();
    let date = chrono::NaiveDate::parse_from_str(trimmed, "%Y-%m-%d")
        .ok()
        .filter(|_| trimmed.len() == 10)
        .ok_or_else(|| WriteError::InvalidDateOfBirth(text.to_string()))?;
    if date > today {
        return Err(WriteError::DateOfBirthInFuture(trimmed.to_string()));
    }
    Ok(date.format("%Y-%m-%d").to_string())
}
