//! Who the test persons are, and what in a log line would give one away.

use super::*;

/// What must never be in a log line.
#[derive(Debug, Default)]
pub(crate) struct Personal {
    pub(crate) names: Vec<String>,
    pub(crate) emails: Vec<String>,
    /// Matched as whole words (`anna` is a subject; `g-1234` is not `anna`).
    pub(crate) subjects: Vec<String>,
}

impl Personal {
    /// The development register's persons (names, subjects, any e-mail addresses), the
    /// development AD's test persons, and the OIDC AD's subjects.
    pub(crate) fn of_the_worlds() -> Personal {
        let text = std::fs::read_to_string(common::repo_file("config/grants-dev.toml")).unwrap();
        let file: toml::Value = toml::from_str(&text).unwrap();
        let mut p = Personal::default();
        for person in file["person"].as_array().unwrap() {
            p.names.push(person["name"].as_str().unwrap().to_string());
            if let Some(email) = person.get("email").and_then(|e| e.as_str()) {
                p.emails.push(email.to_string());
            }
            for link in person["links"].as_array().unwrap() {
                p.subjects
                    .push(link["subject"].as_str().unwrap().to_string());
            }
        }
        for t in poort::demo::TEST_PERSONS {
            p.subjects.push(t.subject.to_string());
            p.subjects.push(oidc_subject(t.subject));
        }
        p.subjects.sort();
        p.subjects.dedup();
        p
    }

    /// Why `line` may not be logged (empty: it may).
    pub(crate) fn offences(&self, line: &str) -> Vec<String> {
        let lower = line.to_lowercase();
        let mut found = Vec::new();
        for name in &self.names {
            if lower.contains(&name.to_lowercase()) {
                found.push(format!("the name {name:?}"));
            }
        }
        for email in &self.emails {
            if lower.contains(&email.to_lowercase()) {
                found.push(format!("the e-mail address {email:?}"));
            }
        }
        if let Some(address) = email_like(line) {
            found.push(format!("an e-mail address ({address:?})"));
        }
        for subject in &self.subjects {
            if has_word(&lower, &subject.to_lowercase()) {
                found.push(format!("the AD subject {subject:?}"));
            }
        }
        // A raw SAML message, as XML or base64 ("<saml", "<?xml ").
        for raw in ["<saml", "PHNhbWw", "PD94bWwg"] {
            if line.contains(raw) {
                found.push(format!("a raw SAML message ({raw:?})"));
            }
        }
        found
    }
}

/// The OIDC AD's subject for a development AD test person.
pub(crate) fn oidc_subject(person: &str) -> String {
    format!("ad-subject-{person}")
}

/// Whether `word` occurs in `text` with no letter or digit right before or after it.
pub(crate) fn has_word(text: &str, word: &str) -> bool {
    let bytes = text.as_bytes();
    text.match_indices(word).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| bytes[j]);
        let after = bytes.get(i + word.len()).copied();
        !before.is_some_and(|b| b.is_ascii_alphanumeric())
            && !after.is_some_and(|b| b.is_ascii_alphanumeric())
    })
}

/// Something shaped like an e-mail address (`x@y.z`) in `text`.
pub(crate) fn email_like(text: &str) -> Option<String> {
    let is_local = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    let is_domain = |c: char| c.is_ascii_alphanumeric() || ".-".contains(c);
    for (at, _) in text.match_indices('@') {
        let local: String = text[..at]
            .chars()
            .rev()
            .take_while(|c| is_local(*c))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let domain: String = text[at + 1..]
            .chars()
            .take_while(|c| is_domain(*c))
            .collect();
        let domain = domain.trim_end_matches('.');
        if !local.is_empty()
            && domain.contains('.')
            && domain
                .rsplit('.')
                .next()
                .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
        {
            return Some(format!("{local}@{domain}"));
        }
    }
    None
}
