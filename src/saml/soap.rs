//! The SAML SOAP binding (SAML Bindings 2.0 §3.2): SOAP 1.1 envelopes on the back channel over
//! which artifacts are resolved.
//!
//! A received envelope is parsed with the same limits as every inbound message; the one element
//! in its Body is handed on as a document of its own ([`xml::standalone`]), so a signature inside
//! it is verified exactly as its sender made it.

use super::xml::{self, escape};

pub const NS_SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.1's media type (SAML Bindings 2.0 §3.2.2.1 uses SOAP 1.1).
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

#[derive(Debug, thiserror::Error)]
pub enum SoapError {
    #[error(transparent)]
    Xml(#[from] xml::XmlError),
    #[error("the message is not a SOAP 1.1 Envelope")]
    NotEnvelope,
    #[error("the SOAP Envelope has no Body")]
    NoBody,
    #[error("the SOAP Body must hold exactly one element, it holds {0}")]
    BodyCount(usize),
    #[error("the SOAP Body holds a Fault: {0}")]
    Fault(String),
    #[error("a SOAP header the receiver must understand is not understood")]
    MustUnderstand,
}

/// Wraps one message in a SOAP 1.1 envelope.
pub fn envelope(body: &str) -> String {
    format!(
        r#"<soap11:Envelope xmlns:soap11="{NS_SOAP11}"><soap11:Body>{}</soap11:Body></soap11:Envelope>"#,
        super::dsig::strip_declaration(body)
    )
}

/// A SOAP 1.1 Fault (§4.4), for a request that is not even a SOAP message poort can read.
/// `client` says whose fault it is (the requester's) as SOAP's faultcode does.
pub fn fault(client: bool, message: &str) -> String {
    let code = if client { "Client" } else { "Server" };
    envelope(&format!(
        "<soap11:Fault xmlns:soap11=\"{NS_SOAP11}\"><faultcode>soap11:{code}</faultcode><faultstring>{}</faultstring></soap11:Fault>",
        escape(message)
    ))
}

/// The one element of the Body, as a standalone document. A Fault is an error; so is a header
/// marked `mustUnderstand` (SOAP 1.1 §4.2.3), since poort understands none.
pub fn body(text: &str) -> Result<String, SoapError> {
    let doc = xml::parse(text)?;
    let root = doc.root_element();
    if !xml::is(root, NS_SOAP11, "Envelope") {
        return Err(SoapError::NotEnvelope);
    }
    if let Some(header) = xml::child(root, NS_SOAP11, "Header") {
        let must = header.children().filter(|c| c.is_element()).any(|h| {
            matches!(
                h.attribute((NS_SOAP11, "mustUnderstand")),
                Some("1") | Some("true")
            )
        });
        if must {
            return Err(SoapError::MustUnderstand);
        }
    }
    let body = xml::child(root, NS_SOAP11, "Body").ok_or(SoapError::NoBody)?;
    let elements: Vec<_> = body.children().filter(|c| c.is_element()).collect();
    let [element] = elements.as_slice() else {
        return Err(SoapError::BodyCount(elements.len()));
    };
    if xml::is(*element, NS_SOAP11, "Fault") {
        let why = element
            .children()
            .find(|c| c.is_element() && c.tag_name().name() == "faultstring")
            .map(xml::text)
            .unwrap_or_default();
        return Err(SoapError::Fault(why.chars().take(200).collect()));
    }
    Ok(xml::standalone(text, *element))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_inherited_namespaces() {
        let text = format!(
            r#"<s:Envelope xmlns:s="{NS_SOAP11}" xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><s:Header/><s:Body><samlp:ArtifactResolve ID="_a"/></s:Body></s:Envelope>"#
        );
        let inner = body(&text).unwrap();
        let doc = xml::parse(&inner).unwrap();
        assert!(xml::is(
            doc.root_element(),
            xml::NS_SAMLP,
            "ArtifactResolve"
        ));
        // Wrapped again, it comes out with the same element and its own declarations.
        let again = body(&envelope(&inner)).unwrap();
        assert!(again.starts_with("<samlp:ArtifactResolve"), "{again}");
        assert!(again.ends_with(r#"ID="_a"/>"#), "{again}");
    }

    #[test]
    fn refusals() {
        assert!(matches!(body("<a/>"), Err(SoapError::NotEnvelope)));
        let two = envelope("<a/><b/>");
        assert!(matches!(body(&two), Err(SoapError::BodyCount(2))));
        assert!(matches!(body(&envelope("")), Err(SoapError::BodyCount(0))));
        let f = fault(true, "bad <thing>");
        match body(&f) {
            Err(SoapError::Fault(m)) => assert_eq!(m, "bad <thing>"),
            other => panic!("{other:?}"),
        }
        let must = format!(
            r#"<s:Envelope xmlns:s="{NS_SOAP11}"><s:Header><x:h xmlns:x="urn:x" s:mustUnderstand="1"/></s:Header><s:Body><a/></s:Body></s:Envelope>"#
        );
        assert!(matches!(body(&must), Err(SoapError::MustUnderstand)));
        let soap12 = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><a/></s:Body></s:Envelope>"#;
        assert!(matches!(body(soap12), Err(SoapError::NotEnvelope)));
    }
}
