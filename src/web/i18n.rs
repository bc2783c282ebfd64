//! Dutch and English texts for the pages a person sees: the language chosen with the pages'
//! language switch (a cookie), else the preferred one in Accept-Language.

use super::{cookies, AppState};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Nl,
    En,
}

impl Lang {
    /// The language chosen with the language switch, else the preferred of Dutch and English in
    /// Accept-Language (by q-value); Dutch by default.
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        if let Some(chosen) = cookies::read(headers, cookies::LANG).and_then(|c| Lang::parse(&c)) {
            return chosen;
        }
        let Some(value) = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
        else {
            return Lang::Nl;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in value.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let q = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = if tag == "nl" || tag.starts_with("nl-") {
                Lang::Nl
            } else if tag == "en" || tag.starts_with("en-") {
                Lang::En
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::Nl)
    }

    /// `nl` or `en`.
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "nl" => Some(Lang::Nl),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
        }
    }

    /// Picks the text in this language.
    pub fn pick<'a>(self, nl: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Nl => nl,
            Lang::En => en,
        }
    }
}

#[derive(serde::Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// `GET /lang/{nl|en}?back=PATH`: the language switch. Remembers the choice and goes back to the
/// page it was made on: a path on poort only, never elsewhere.
pub async fn choose(
    State(state): State<Arc<AppState>>,
    Path(code): Path<String>,
    Query(q): Query<Back>,
) -> Response {
    let Some(lang) = Lang::parse(&code) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let back = q
        .back
        .filter(|b| is_local_path(b))
        .unwrap_or_else(|| "/admin".into());
    let mut response = Redirect::to(&back).into_response();
    cookies::set_language(&state, &mut response, lang.code());
    response
}

/// A path on this site: `/…`, but not `//host` or `/\host` (which browsers read as another
/// site), and nothing a header cannot carry.
fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.len() <= 2048
        && path.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn lang(v: &str) -> Lang {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::ACCEPT_LANGUAGE,
            HeaderValue::from_str(v).unwrap(),
        );
        Lang::from_headers(&h)
    }

    #[test]
    fn picks_by_quality() {
        assert_eq!(lang("en-GB,en;q=0.9"), Lang::En);
        assert_eq!(lang("nl-NL,nl;q=0.9,en;q=0.8"), Lang::Nl);
        assert_eq!(lang("de-DE,en;q=0.5,nl;q=0.7"), Lang::Nl);
        assert_eq!(lang("fr"), Lang::Nl);
        assert_eq!(Lang::from_headers(&HeaderMap::new()), Lang::Nl);
    }

    #[test]
    fn the_switch_wins_over_accept_language() {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("nl-NL"),
        );
        h.insert(
            axum::http::header::COOKIE,
            HeaderValue::from_static("other=1; poort_lang=en"),
        );
        assert_eq!(Lang::from_headers(&h), Lang::En);
        h.insert(
            axum::http::header::COOKIE,
            HeaderValue::from_static("poort_lang=fr"),
        );
        assert_eq!(Lang::from_headers(&h), Lang::Nl);
    }

    #[test]
    fn the_switch_goes_back_only_to_a_page_of_poort() {
        assert!(is_local_path("/login/idp?flow=abc"));
        assert!(is_local_path("/admin/users?q=de%20Boer"));
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "",
            "admin",
            "/a b",
        ] {
            assert!(!is_local_path(bad), "{bad:?}");
        }
    }
}
