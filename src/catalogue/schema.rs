//! Validation against the catalogue's XML schema (`schemas/service-catalogue-1.13.xsd`), with
//! libxml2 (through the `libxml` crate, already linked for xmlsec): no Rust crate validates XSD.

use libxml::parser::Parser;
use libxml::schemas::{SchemaParserContext, SchemaValidationContext};

const XSD: &str = include_str!("../../schemas/service-catalogue-1.13.xsd");

/// At most this many schema findings are reported; the first ones say what is wrong.
const MAX_FINDINGS: usize = 10;

/// Checks `text` against the schema; each finding with its line.
pub fn validate(text: &str) -> Result<(), Vec<String>> {
    let document = Parser::default()
        .parse_string(text)
        .map_err(|e| vec![format!("not well-formed XML: {e:?}")])?;
    let mut parser = SchemaParserContext::from_buffer(XSD);
    let mut context = SchemaValidationContext::from_parser(&mut parser).map_err(|errors| {
        vec![format!(
            "the built-in schema does not load: {}",
            describe(&errors)
        )]
    })?;
    context.validate_document(&document).map_err(|errors| {
        errors
            .iter()
            .take(MAX_FINDINGS)
            .map(|e| {
                let message = e.message.as_deref().unwrap_or("invalid").trim().to_string();
                match e.line {
                    Some(line) => format!("line {line}: {message}"),
                    None => message,
                }
            })
            .collect()
    })
}

fn describe(errors: &[libxml::error::StructuredError]) -> String {
    errors
        .iter()
        .filter_map(|e| e.message.as_deref())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; ")
}
