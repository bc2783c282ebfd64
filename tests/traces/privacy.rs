//! What must never be in a span: the test persons' names, subjects, e-mail addresses and KvK numbers.

use super::*;

/// Every test person's name (and each part of it), subject and e-mail address, and every KvK
/// number (and RSIN) in the development register, and the development AD's test subjects; and
/// the register's grant IDs, identifiers logs and traces may carry (ARCHITECTURE.md, "Privacy
/// in logs"), though the development register names them after their persons
/// (`g-bram-groendak-s2`).
pub(crate) fn personal_data() -> (BTreeSet<String>, Vec<String>) {
    let text = std::fs::read_to_string(common::repo_file("config/grants-dev.toml")).unwrap();
    let register: toml::Value = toml::from_str(&text).unwrap();
    let mut words = BTreeSet::new();
    let list = |key: &str| {
        register
            .get(key)
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default()
    };
    for person in list("person") {
        if let Some(name) = person.get("name").and_then(|v| v.as_str()) {
            words.insert(name.to_string());
            // Each part of the name, but not particles such as "de" or "van".
            let particle = |w: &str| ["de", "van", "der", "den", "ter", "ten"].contains(&w);
            words.extend(
                name.split_whitespace()
                    .filter(|w| !particle(&w.to_lowercase()))
                    .map(str::to_string),
            );
        }
        if let Some(id) = person.get("id").and_then(|v| v.as_str()) {
            words.insert(id.to_string());
        }
        for link in person
            .get("links")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(subject) = link.get("subject").and_then(|v| v.as_str()) {
                words.insert(subject.to_string());
            }
        }
    }
    for organisation in list("organisation") {
        for key in ["kvk", "rsin"] {
            if let Some(n) = organisation.get(key).and_then(|v| v.as_str()) {
                words.insert(n.to_string());
            }
        }
    }
    // Any e-mail address anywhere in the file.
    fn strings(v: &toml::Value, out: &mut Vec<String>) {
        match v {
            toml::Value::String(s) => out.push(s.clone()),
            toml::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            toml::Value::Table(t) => t.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    strings(&register, &mut all);
    words.extend(all.into_iter().filter(|s| s.contains('@')));
    words.extend(
        poort::demo::TEST_PERSONS
            .iter()
            .map(|p| p.subject.to_string()),
    );
    let grant_ids = list("grant")
        .iter()
        .filter_map(|g| g.get("id").and_then(|v| v.as_str()))
        .map(str::to_lowercase)
        .collect();
    (words, grant_ids)
}

/// Every string a span says, outside its IDs: name, attribute keys and values, events, links'
/// attributes, status message and resource.
pub(crate) fn texts(span: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Number(n) => out.push(n.to_string()),
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            Value::Object(o) => o.iter().for_each(|(k, v)| {
                out.push(k.clone());
                walk(v, out);
            }),
            _ => {}
        }
    }
    let mut out = vec![name(span).to_string()];
    for key in ["attributes", "events", "resource"] {
        walk(&span[key], &mut out);
    }
    for link in span["links"].as_array().into_iter().flatten() {
        walk(&link["attributes"], &mut out);
    }
    walk(&span["status"]["message"], &mut out);
    out
}

/// No span says anything personal: a multi-word value (a full name, an e-mail address) nowhere
/// in any text; a single word (a subject, a first name, a KvK number) not as a word of its own,
/// once grant IDs are taken out.
pub(crate) fn assert_no_personal_data(spans: &[Value]) {
    let (personal, grant_ids) = personal_data();
    assert!(personal.contains("bram") && personal.contains("Anna de Vries"));
    for span in spans {
        for text in texts(span) {
            let mut lower = text.to_lowercase();
            for id in &grant_ids {
                lower = lower.replace(id.as_str(), " ");
            }
            let words: BTreeSet<&str> = lower
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect();
            for p in &personal {
                let p = p.to_lowercase();
                let whole_word = p.chars().all(char::is_alphanumeric);
                let leaks = if whole_word {
                    words.contains(p.as_str())
                } else {
                    lower.contains(&p)
                };
                assert!(
                    !leaks,
                    "span {} carries personal data {p:?} in {text:?}:\n{}",
                    name(span),
                    describe(&[span])
                );
            }
        }
    }
}
