//! `[login_session]`: the login session poort keeps in a browser for single sign-on between
//! services, within the afsprakenstelsel's limits (docs/SESSIONS.md).

use serde::{Deserialize, Serialize};

/// The login session poort keeps in a browser after an AD's authentication, from which a later
/// login to a service that supports single sign-on may be answered (docs/SESSIONS.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginSessionConfig {
    /// Whether poort keeps login sessions at all; without them every login goes to the AD.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// A session ends after this long unused, in seconds; at most 7200 (the scheme's 2 hours).
    #[serde(default = "default_session_idle")]
    pub idle_seconds: i64,
    /// And this long after the AD's authentication in any case, in seconds; at most 14400 (a
    /// statement "MOET binnen 4 uur ververst worden").
    #[serde(default = "default_session_absolute")]
    pub absolute_seconds: i64,
}

fn yes() -> bool {
    true
}

fn default_session_idle() -> i64 {
    7200
}

fn default_session_absolute() -> i64 {
    14400
}

impl LoginSessionConfig {
    /// What is wrong with the limits: each beyond the scheme's is reported (poort keeps to the
    /// scheme's limit anyway).
    pub fn problems(&self) -> Vec<String> {
        let mut found = Vec::new();
        for (key, value, max) in [
            ("idle_seconds", self.idle_seconds, default_session_idle()),
            (
                "absolute_seconds",
                self.absolute_seconds,
                default_session_absolute(),
            ),
        ] {
            if !(0..=max).contains(&value) {
                found.push(format!(
                    "[login_session] {key} = {value}: between 0 and {max} (the afsprakenstelsel's \
                     limit); poort uses at most {max}"
                ));
            }
        }
        found
    }
}

impl Default for LoginSessionConfig {
    fn default() -> Self {
        LoginSessionConfig {
            enabled: true,
            idle_seconds: default_session_idle(),
            absolute_seconds: default_session_absolute(),
        }
    }
}
