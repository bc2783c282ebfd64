//! Small XML helpers: namespaces, escaping, and a parser that refuses what SAML never needs.
//!
//! Every inbound message is first parsed here with roxmltree, which refuses DTDs (so no entity
//! expansion and no external entities can ever reach libxml2 or xmlsec).

use roxmltree::{Document, Node, ParsingOptions};

pub const NS_SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const NS_XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
pub const NS_XENC11: &str = "http://www.w3.org/2009/xmlenc11#";
pub const NS_MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// The afsprakenstelsel's request extension (`esp:RequestedAttributes` in `samlp:Extensions`).
pub const NS_ESP: &str = "urn:etoegang:1.9:samlp-extension";

pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
/// SAML Bindings 2.0 §3.6: the message stays with its sender; the browser carries a reference.
pub const BINDING_ARTIFACT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact";
/// SAML Bindings 2.0 §3.2: the back channel on which artifacts are resolved.
pub const BINDING_SOAP: &str = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP";

/// The largest SAML message (decoded) poort parses.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum XmlError {
    #[error("message is larger than {MAX_MESSAGE_BYTES} bytes")]
    TooLarge,
    #[error("message is not valid UTF-8")]
    NotUtf8,
    #[error("message contains a document type declaration, which SAML does not allow")]
    Dtd,
    #[error("message is not well-formed XML: {0}")]
    Malformed(String),
}

/// Parses a SAML message, refusing DTDs, oversized input and malformed XML.
pub fn parse(text: &str) -> Result<Document<'_>, XmlError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(XmlError::TooLarge);
    }
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: 20_000,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => XmlError::Dtd,
        other => XmlError::Malformed(other.to_string()),
    })
}

/// Parses a signed document of the scheme (a service catalogue, a metadata aggregate): DTDs
/// refused like [`parse`], but no limit on its size or node count, which its reader bounds
/// (they hold thousands of entities).
pub fn parse_signed_document(text: &str) -> Result<Document<'_>, XmlError> {
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: u32::MAX,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => XmlError::Dtd,
        other => XmlError::Malformed(other.to_string()),
    })
}

/// Decodes bytes as UTF-8, within the size limit.
pub fn utf8(bytes: &[u8]) -> Result<&str, XmlError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(XmlError::TooLarge);
    }
    std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)
}

/// Is this an element with this namespace and local name?
pub fn is(node: Node<'_, '_>, ns: &str, local: &str) -> bool {
    node.is_element() && node.tag_name().name() == local && node.tag_name().namespace() == Some(ns)
}

/// The child elements with this namespace and local name.
pub fn children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    ns: &'a str,
    local: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children().filter(move |c| is(*c, ns, local))
}

/// The first child element with this namespace and local name.
pub fn child<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    ns: &'a str,
    local: &'a str,
) -> Option<Node<'a, 'input>> {
    children(node, ns, local).next()
}

/// All text inside an element, trimmed.
pub fn text(node: Node<'_, '_>) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<String>()
        .trim()
        .to_string()
}

/// The element `node` of the document `text` as a document of its own: its exact bytes, with
/// the namespace declarations it inherited added to its start tag. Exclusive canonicalization
/// renders only the namespaces an element uses, wherever they were declared, so a signature
/// made inside the larger document still verifies in the extract (unlike re-serialising it,
/// which may rename prefixes).
pub fn standalone(text: &str, node: Node<'_, '_>) -> String {
    let range = node.range();
    let element = &text[range.clone()];
    let tag_end = start_tag_end(element);
    let declared = declared_prefixes(&element[..tag_end]);
    let mut extra = String::new();
    for ns in node.namespaces() {
        let prefix = ns.name().unwrap_or("");
        if prefix == "xml" || declared.iter().any(|d| d == prefix) {
            continue;
        }
        if prefix.is_empty() {
            extra.push_str(&format!(" xmlns=\"{}\"", escape(ns.uri())));
        } else {
            extra.push_str(&format!(" xmlns:{prefix}=\"{}\"", escape(ns.uri())));
        }
    }
    let name_end = element
        .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
        .unwrap_or(element.len());
    format!("{}{extra}{}", &element[..name_end], &element[name_end..])
}

/// Where the start tag of `element` (which begins with '<') ends: past its '>' outside quotes.
fn start_tag_end(element: &str) -> usize {
    let mut quote = None;
    for (i, c) in element.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return i + 1,
            _ => {}
        }
    }
    element.len()
}

/// The prefixes a start tag declares itself ("" for a default namespace).
fn declared_prefixes(start_tag: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = start_tag;
    while let Some(i) = rest.find("xmlns") {
        let preceded_by_space = i > 0 && rest[..i].ends_with(|c: char| c.is_ascii_whitespace());
        let after = &rest[i + 5..];
        if preceded_by_space {
            let name_end = after
                .find(|c: char| c.is_ascii_whitespace() || c == '=')
                .unwrap_or(after.len());
            let name = &after[..name_end];
            if name.is_empty() {
                out.push(String::new());
            } else if let Some(prefix) = name.strip_prefix(':') {
                out.push(prefix.to_string());
            }
        }
        rest = after;
    }
    out
}

/// Escapes text for element content and for double- or single-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Attribute-value normalisation would turn these into spaces: keep them exact.
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

/// A fresh message ID: a letter first (IDs must be NCNames), then 160 random bits.
pub fn new_id() -> String {
    let bytes: [u8; 20] = rand::random();
    format!("_{}", hex::encode(bytes))
}

/// SAML's dateTime format, always UTC with a Z.
pub fn instant(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses a SAML dateTime (xs:dateTime in UTC, with or without fractional seconds).
pub fn parse_instant(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_dtd_and_entities() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
        assert!(matches!(parse(xxe), Err(XmlError::Dtd)));
        let bomb = r#"<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><r>&b;</r>"#;
        assert!(matches!(parse(bomb), Err(XmlError::Dtd)));
    }

    #[test]
    fn refuses_oversized_and_malformed() {
        let big = format!("<r>{}</r>", "a".repeat(MAX_MESSAGE_BYTES));
        assert!(matches!(parse(&big), Err(XmlError::TooLarge)));
        assert!(matches!(parse("<r>"), Err(XmlError::Malformed(_))));
    }

    #[test]
    fn standalone_adds_inherited_namespaces_once() {
        let text = r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" xmlns="urn:d"><a:x xmlns:b="urn:b" k='v>w'><b:y/></a:x></a:r>"#;
        let doc = parse(text).unwrap();
        let x = doc.descendants().find(|n| n.has_tag_name("x")).unwrap();
        let out = standalone(text, x);
        assert!(out.starts_with("<a:x"), "{out}");
        assert_eq!(out.matches("xmlns:b=").count(), 1, "{out}");
        assert!(out.contains(r#"xmlns:a="urn:a""#), "{out}");
        assert!(out.contains(r#"xmlns="urn:d""#), "{out}");
        let again = parse(&out).unwrap();
        assert_eq!(again.root_element().tag_name().namespace(), Some("urn:a"));
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(escape(r#"<a&"b'>"#), "&lt;a&amp;&quot;b&apos;&gt;");
        assert_eq!(escape("a\tb\r\nc"), "a&#9;b&#13;&#10;c");
    }

    #[test]
    fn ids_are_ncnames_and_unique() {
        let a = new_id();
        assert!(a.starts_with('_') && a.len() == 41);
        assert_ne!(a, new_id());
    }
}
