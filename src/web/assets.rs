//! The one stylesheet every page links: the NL Design System components and default theme
//! (vendored in `assets/vendor/nlds/` by `scripts/vendor-nlds.sh`), poort's own few rules
//! (`assets/poort.css`) and the supplier's `[theme]` tokens last, so they win. It is served at a
//! path named by a hash of its content: cached by browsers for a year, and a changed theme or
//! poort version is a new path. poort serves nothing else under `/assets/`.

use super::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

const COMPONENTS: &str = include_str!("../../assets/vendor/nlds/components.css");
const TOKENS: &str = include_str!("../../assets/vendor/nlds/tokens.css");
const POORT: &str = include_str!("../../assets/poort.css");

/// The classes of a page's root element: the Utrecht root component, the default theme's
/// tokens and the supplier's.
pub const ROOT_CLASSES: &str = "utrecht-root voorbeeld-theme poort-theme";

#[derive(Debug, Clone)]
pub struct Stylesheet {
    path: String,
    body: axum::body::Bytes,
}

impl Stylesheet {
    /// The stylesheet with the supplier's theme, or what is wrong with `[theme]`.
    pub fn new(
        theme: &crate::config::ThemeConfig,
    ) -> Result<Stylesheet, crate::config::ThemeError> {
        let body = [COMPONENTS, TOKENS, POORT, &theme.css()?].concat();
        let hash = hex::encode(&openssl::sha::sha256(body.as_bytes())[..8]);
        Ok(Stylesheet {
            path: format!("/assets/poort-{hash}.css"),
            body: body.into(),
        })
    }

    /// Where the pages link it: `/assets/poort-<hash>.css`.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// `GET /assets/{file}`: the stylesheet under its current name; anything else is not found (an
/// old name too: a page is never cached, so it asks for the current one).
pub async fn stylesheet(State(state): State<Arc<AppState>>, Path(file): Path<String>) -> Response {
    let sheet = state.pages.stylesheet();
    if sheet.path().strip_prefix("/assets/") != Some(file.as_str()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        sheet.body.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ThemeConfig;

    #[test]
    fn the_path_follows_the_content() {
        let plain = Stylesheet::new(&ThemeConfig::default()).unwrap();
        assert!(plain.path().starts_with("/assets/poort-") && plain.path().ends_with(".css"));
        assert_eq!(plain.path().len(), "/assets/poort-.css".len() + 16);
        let body = String::from_utf8(plain.body().to_vec()).unwrap();
        assert!(body.contains(".utrecht-button"));
        assert!(body.contains(".voorbeeld-theme {"));

        let mut theme = ThemeConfig::default();
        theme
            .tokens
            .insert("--basis-color-accent-1-bg-default".into(), "#154273".into());
        let themed = Stylesheet::new(&theme).unwrap();
        assert_ne!(themed.path(), plain.path());
        let body = String::from_utf8(themed.body().to_vec()).unwrap();
        // The supplier's tokens come last, so they win over the default theme's.
        let (default_at, supplier_at) = (
            body.find(".voorbeeld-theme {").unwrap(),
            body.find(".poort-theme {").unwrap(),
        );
        assert!(default_at < supplier_at);
        assert!(body.ends_with("  --basis-color-accent-1-bg-default: #154273;\n}\n"));
    }
}
