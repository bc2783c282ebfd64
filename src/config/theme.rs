//! `[theme]`: a supplier's look for poort's pages, as NL Design System design tokens (CSS custom
//! properties) that override the default theme's. Checked strictly, since they end up in the
//! stylesheet every page links: a name is `--` and lowercase words, a value is colours, lengths,
//! numbers, font names and a few functions, so nothing can end the declaration, open a rule,
//! load something or run anything.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The class poort's pages carry for the supplier's tokens; the vendored stylesheet comes first,
/// so these win over the default theme's.
pub const THEME_CLASS: &str = "poort-theme";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThemeConfig {
    /// A token file: `--name: value;` declarations, optionally in one `selector { … }` block
    /// (as NL Design System token packages write them), with `/* comments */`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_file: Option<PathBuf>,
    /// Tokens set here, after (and over) those of `tokens_file`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tokens: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThemeError {
    #[error("[theme] token name {name:?}: {why}")]
    Name { name: String, why: &'static str },
    #[error("[theme] token {name}: value {value:?} {why}")]
    Value {
        name: String,
        value: String,
        why: &'static str,
    },
    #[error("[theme] tokens_file {path}: {why}")]
    File { path: PathBuf, why: String },
}

const MAX_NAME: usize = 120;
const MAX_VALUE: usize = 200;
/// The functions a token value may call: references, arithmetic and colours. Not `url()` or
/// `image()` and the like, which would load something.
const FUNCTIONS: &[&str] = &[
    "var",
    "calc",
    "min",
    "max",
    "clamp",
    "rgb",
    "rgba",
    "hsl",
    "hsla",
    "oklch",
    "color-mix",
];

impl ThemeConfig {
    /// The supplier's tokens as CSS (empty when none), or what is wrong with them.
    pub fn css(&self) -> Result<String, ThemeError> {
        let mut tokens: Vec<(String, String)> = match &self.tokens_file {
            Some(path) => read_tokens_file(path)?,
            None => Vec::new(),
        };
        tokens.extend(self.tokens.iter().map(|(n, v)| (n.clone(), v.clone())));
        if tokens.is_empty() {
            return Ok(String::new());
        }
        let mut css = format!("/* [theme] of poort's configuration */\n.{THEME_CLASS} {{\n");
        for (name, value) in &tokens {
            check_name(name)?;
            check_value(name, value)?;
            css.push_str(&format!("  {name}: {};\n", value.trim()));
        }
        css.push_str("}\n");
        Ok(css)
    }
}

fn check_name(name: &str) -> Result<(), ThemeError> {
    let bad = |why| {
        Err(ThemeError::Name {
            name: name.to_string(),
            why,
        })
    };
    let Some(rest) = name.strip_prefix("--") else {
        return bad("a design token is a CSS custom property: it begins with --");
    };
    if name.len() > MAX_NAME {
        return bad("is longer than 120 characters");
    }
    if !rest.starts_with(|c: char| c.is_ascii_lowercase()) {
        return bad("must begin with -- and a lowercase letter");
    }
    if !rest
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return bad("may hold only lowercase letters, digits and hyphens");
    }
    Ok(())
}

fn check_value(name: &str, value: &str) -> Result<(), ThemeError> {
    let bad = |why| {
        Err(ThemeError::Value {
            name: name.to_string(),
            value: value.to_string(),
            why,
        })
    };
    let value = value.trim();
    if value.is_empty() {
        return bad("is empty");
    }
    if value.len() > MAX_VALUE {
        return bad("is longer than 200 characters");
    }
    if value.contains("/*") || value.contains("*/") {
        return bad("holds a comment");
    }
    let (mut depth, mut quote, mut word) = (0usize, None::<char>, String::new());
    for c in value.chars() {
        if let Some(q) = quote {
            // Inside a quoted font name: letters, digits, spaces and hyphens only.
            if c == q {
                quote = None;
            } else if !(c.is_ascii_alphanumeric() || c == ' ' || c == '-') {
                return bad("has a quoted part with more than letters, digits, spaces and hyphens");
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' => {
                if !FUNCTIONS.contains(&word.to_ascii_lowercase().as_str()) {
                    return bad("calls a function other than var, calc, min, max, clamp, rgb(a), hsl(a), oklch or color-mix");
                }
                depth += 1;
            }
            ')' => {
                if depth == 0 {
                    return bad("closes a parenthesis it did not open");
                }
                depth -= 1;
            }
            c if c.is_ascii_alphanumeric() || "#%.,-+*/ _".contains(c) => {}
            _ => {
                return bad("may hold only letters, digits, spaces, # % . , - + * / _, quoted font names and parentheses of the allowed functions")
            }
        }
        if c.is_ascii_alphanumeric() || c == '-' {
            word.push(c);
        } else {
            word.clear();
        }
    }
    if quote.is_some() {
        return bad("has an unclosed quote");
    }
    if depth != 0 {
        return bad("has an unclosed parenthesis");
    }
    Ok(())
}

/// The declarations of a token file, in order. The file may wrap them in one block (a theme
/// class, `:root`); anything else (a second rule, an at-rule) is refused.
fn read_tokens_file(path: &Path) -> Result<Vec<(String, String)>, ThemeError> {
    let file_error = |why: String| ThemeError::File {
        path: path.to_path_buf(),
        why,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
    let mut body = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("/*") {
        body.push_str(&rest[..start]);
        let end = rest[start + 2..]
            .find("*/")
            .ok_or_else(|| file_error("a comment is not closed".into()))?;
        rest = &rest[start + 2 + end + 2..];
    }
    body.push_str(rest);
    let mut inner = body.trim();
    if let Some(open) = inner.find('{') {
        let selector = inner[..open].trim();
        if selector.is_empty()
            || !selector
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        {
            return Err(file_error(format!(
                "the block's selector {selector:?} is not a single class or :root"
            )));
        }
        inner = inner[open + 1..]
            .trim_end()
            .strip_suffix('}')
            .ok_or_else(|| file_error("the block is not closed by a final }".into()))?;
        if inner.contains('{') || inner.contains('}') {
            return Err(file_error(
                "holds more than one block: only token declarations are read".into(),
            ));
        }
    }
    let mut tokens = Vec::new();
    for declaration in inner.split(';').map(str::trim).filter(|d| !d.is_empty()) {
        let (name, value) = declaration.split_once(':').ok_or_else(|| {
            file_error(format!(
                "{declaration:?} is not a --name: value declaration"
            ))
        })?;
        tokens.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn theme(tokens: &[(&str, &str)]) -> ThemeConfig {
        ThemeConfig {
            tokens_file: None,
            tokens: tokens
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn refusal(name: &str, value: &str) -> String {
        theme(&[(name, value)]).css().unwrap_err().to_string()
    }

    #[test]
    fn tokens_become_one_rule_for_the_theme_class() {
        let css = theme(&[
            ("--basis-color-action-1-inverse-bg-default", "#154273"),
            (
                "--basis-text-font-family-default",
                "'Noto Sans', system-ui, sans-serif",
            ),
            ("--basis-space-inline-md", "calc(0.5rem + 2px)"),
            (
                "--voorbeeld-accent",
                "var(--basis-color-accent-1-bg-default)",
            ),
        ])
        .css()
        .unwrap();
        assert!(css.starts_with("/* [theme] of poort's configuration */\n.poort-theme {\n"));
        assert!(css.contains("  --basis-color-action-1-inverse-bg-default: #154273;\n"));
        assert!(css.contains("  --basis-space-inline-md: calc(0.5rem + 2px);\n"));
        assert!(css.ends_with("}\n"));
        assert_eq!(theme(&[]).css().unwrap(), "");
    }

    #[test]
    fn names_must_be_custom_properties() {
        assert!(refusal("color", "red").contains("begins with --"));
        assert!(refusal("--Basis", "red").contains("lowercase letter"));
        assert!(refusal("--basis_color", "red").contains("only lowercase letters"));
        assert!(refusal("--a}body{x", "red").contains("only lowercase letters"));
    }

    #[test]
    fn values_cannot_break_out_of_the_declaration() {
        for (value, why) in [
            ("red; } body { display: none", "may hold only"),
            ("red }", "may hold only"),
            ("url(https://evil.example/x.png)", "other than var"),
            ("image(x)", "other than var"),
            ("expression(alert(1))", "other than var"),
            ("'Noto Sans", "unclosed quote"),
            ("'a;b'", "quoted part"),
            ("calc(1px", "unclosed parenthesis"),
            ("1px)", "closes a parenthesis"),
            ("red /* x */", "comment"),
            ("red !important", "may hold only"),
            ("\\7d", "may hold only"),
            ("<\\/style>", "may hold only"),
            ("", "is empty"),
        ] {
            let message = refusal("--basis-color", value);
            assert!(message.contains(why), "{value:?}: {message}");
            assert!(
                message.starts_with("[theme] token --basis-color: value"),
                "{message}"
            );
        }
    }

    #[test]
    fn a_token_file_is_read_as_declarations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("theme.css");
        std::fs::write(
            &path,
            "/* supplier */\n.example-theme {\n  --basis-color-accent-1-bg-default: #154273;\n  --basis-page-max-inline-size: 1000px;\n}\n",
        )
        .unwrap();
        let mut t = theme(&[("--basis-page-max-inline-size", "900px")]);
        t.tokens_file = Some(path.clone());
        let css = t.css().unwrap();
        assert!(css.contains("--basis-color-accent-1-bg-default: #154273;"));
        // The config's own tokens come after the file's, so they win.
        let (file, config) = (css.find("1000px").unwrap(), css.find("900px").unwrap());
        assert!(file < config);

        for (text, why) in [
            (".a { --x: red; } .b { --y: blue; }", "more than one block"),
            ("@import url(x.css);", "not a --name: value"),
            ("body > p { --x: red; }", "not a single class"),
            (".a { --x: red;", "not closed"),
            ("/* open", "comment is not closed"),
            (".a { --x: url(x) }", "other than var"),
        ] {
            std::fs::write(&path, text).unwrap();
            let message = t.css().unwrap_err().to_string();
            assert!(message.contains(why), "{text:?}: {message}");
        }
        t.tokens_file = Some(dir.path().join("missing.css"));
        assert!(t.css().unwrap_err().to_string().contains("missing.css"));
    }
}
