//! Exclusive XML canonicalization (xml-exc-c14n, without comments) of poort's OWN documents, for
//! signing them without going through xmlsec.
//!
//! Why: xmlsec loads the private key from DER on every signature, which costs OpenSSL 3 more than
//! the RSA operation itself. poort writes the documents it signs, so it can canonicalize them
//! with this small implementation and sign with a key loaded once. Verification of what peers
//! send stays with xmlsec. Limitation (fine for documents poort writes): each namespace URI is
//! bound to one prefix, since roxmltree resolves names to URIs.

use super::xml::NS_DS;
use roxmltree::{Node, NodeType};

/// The exclusive canonical form of `element`, leaving out the subtree `exclude` (the enveloped
/// signature) if given.
pub fn canonicalize(element: Node<'_, '_>, exclude: Option<Node<'_, '_>>) -> String {
    let mut out = String::with_capacity(4096);
    // (prefix, uri) pairs rendered by output ancestors, innermost last.
    let mut rendered: Vec<(String, String)> = Vec::new();
    write_element(element, exclude, &mut rendered, &mut out);
    out
}

fn prefix_of(node: Node<'_, '_>, uri: Option<&str>) -> Option<String> {
    let uri = uri?;
    // The prefix bound to this URI in scope; a default namespace gives "".
    node.namespaces()
        .find(|ns| ns.uri() == uri)
        .map(|ns| ns.name().unwrap_or("").to_string())
}

fn write_element(
    node: Node<'_, '_>,
    exclude: Option<Node<'_, '_>>,
    rendered: &mut Vec<(String, String)>,
    out: &mut String,
) {
    let name = node.tag_name();
    let prefix = prefix_of(node, name.namespace()).unwrap_or_default();
    let qname = |p: &str, local: &str| {
        if p.is_empty() {
            local.to_string()
        } else {
            format!("{p}:{local}")
        }
    };

    // Namespaces visibly utilized here: the element's own, and its attributes' (not xml:).
    let mut needed: Vec<(String, String)> = Vec::new();
    match name.namespace() {
        Some(uri) => needed.push((prefix.clone(), uri.to_string())),
        None => needed.push((String::new(), String::new())),
    }
    let mut attrs: Vec<(String, String, String, String)> = Vec::new(); // (uri, local, qname, value)
    for a in node.attributes() {
        let uri = a.namespace().unwrap_or("");
        let aq = if uri.is_empty() {
            a.name().to_string()
        } else if uri == "http://www.w3.org/XML/1998/namespace" {
            format!("xml:{}", a.name())
        } else {
            let p = prefix_of(node, Some(uri)).unwrap_or_default();
            needed.push((p.clone(), uri.to_string()));
            qname(&p, a.name())
        };
        attrs.push((
            uri.to_string(),
            a.name().to_string(),
            aq,
            a.value().to_string(),
        ));
    }
    needed.sort();
    needed.dedup();
    let depth = rendered.len();
    let mut decls = String::new();
    for (p, uri) in &needed {
        let current = rendered
            .iter()
            .rev()
            .find(|(rp, _)| rp == p)
            .map(|(_, u)| u.as_str());
        // An unprefixed element with no namespace needs xmlns="" only if a default is in force.
        let in_force = current.unwrap_or("");
        if in_force == uri {
            continue;
        }
        if p.is_empty() {
            decls.push_str(&format!(" xmlns=\"{}\"", escape_attr(uri)));
        } else {
            decls.push_str(&format!(" xmlns:{p}=\"{}\"", escape_attr(uri)));
        }
        rendered.push((p.clone(), uri.clone()));
    }
    attrs.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));

    let q = qname(&prefix, name.name());
    out.push('<');
    out.push_str(&q);
    out.push_str(&decls);
    for (_, _, aq, value) in &attrs {
        out.push(' ');
        out.push_str(aq);
        out.push_str("=\"");
        out.push_str(&escape_attr(value));
        out.push('"');
    }
    out.push('>');
    for child in node.children() {
        if Some(child) == exclude {
            continue;
        }
        match child.node_type() {
            NodeType::Element => write_element(child, exclude, rendered, out),
            NodeType::Text => out.push_str(&escape_text(child.text().unwrap_or(""))),
            NodeType::PI => {
                if let Some(pi) = child.pi() {
                    out.push_str("<?");
                    out.push_str(pi.target);
                    if let Some(v) = pi.value {
                        out.push(' ');
                        out.push_str(v);
                    }
                    out.push_str("?>");
                }
            }
            NodeType::Comment | NodeType::Root => {}
        }
    }
    out.push_str("</");
    out.push_str(&q);
    out.push('>');
    rendered.truncate(depth);
}

// Not `xml::escape`, deliberately: canonical XML (C14N 1.0 §2.3) fixes which characters are
// escaped, and how, byte for byte; the digest depends on it, so it is not free to follow `escape`.
fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// The first ds:Signature child of `element`, which the enveloped-signature transform removes.
pub fn enveloped_signature<'a, 'input>(element: Node<'a, 'input>) -> Option<Node<'a, 'input>> {
    element.children().find(|c| {
        c.is_element()
            && c.tag_name().name() == "Signature"
            && c.tag_name().namespace() == Some(NS_DS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n(xml: &str) -> String {
        let doc = roxmltree::Document::parse(xml).unwrap();
        canonicalize(doc.root_element(), None)
    }

    #[test]
    fn known_exclusive_forms() {
        // Empty elements expand; attributes sort by namespace URI then name; unused
        // namespace declarations disappear; used ones move to where they are used.
        assert_eq!(
            c14n(
                r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" xmlns:x="urn:x" z="1" b:y="2" a="3"><b:c/></a:r>"#
            ),
            r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" a="3" z="1" b:y="2"><b:c></b:c></a:r>"#
        );
        assert_eq!(
            c14n(r#"<r xmlns="urn:d"><s xmlns="">t &amp; &lt; &gt; "q"</s></r>"#),
            r#"<r xmlns="urn:d"><s xmlns="">t &amp; &lt; &gt; "q"</s></r>"#
        );
        assert_eq!(
            c14n("<r a=\"&quot;&amp;&lt;>\"><!-- gone --><x xml:lang=\"nl\"/></r>"),
            "<r a=\"&quot;&amp;&lt;>\"><x xml:lang=\"nl\"></x></r>"
        );
        // A declaration repeated by a child is not rendered twice.
        assert_eq!(
            c14n(r#"<p:r xmlns:p="urn:p"><p:c xmlns:p="urn:p"/></p:r>"#),
            r#"<p:r xmlns:p="urn:p"><p:c></p:c></p:r>"#
        );
    }
}
