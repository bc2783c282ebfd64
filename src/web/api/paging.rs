//! Lists a page at a time: the query parameters (`page` from 1, `per_page` 1 to 500, default
//! 50), read by [`Params`] so that a malformed query is a 400 problem too, and the page a list
//! answers with its total.

use super::problem::Problem;
use super::wire::{AuditEntry, Grant, Member};
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Query parameters, or a 400 problem naming what is wrong with them.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| Params(q))
            .map_err(|e| Problem::bad_request(e.body_text()))
    }
}

/// One page of a list, and how many items match in all.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[aliases(MemberPage = Page<Member>, GrantPage = Page<Grant>, AuditPage = Page<AuditEntry>)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// From 1.
    pub page: usize,
    pub per_page: usize,
    /// Items that match, on all pages.
    pub total: usize,
}

/// Which page: `page` from 1 (default 1), `per_page` from 1 to 500 (default 50).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub page: usize,
    pub per_page: usize,
}

impl Window {
    pub fn new(page: Option<usize>, per_page: Option<usize>) -> Result<Window, Problem> {
        let per_page = per_page.unwrap_or(50);
        if !(1..=500).contains(&per_page) {
            return Err(Problem::bad_request("per_page must be between 1 and 500"));
        }
        Ok(Window {
            page: page.unwrap_or(1).max(1),
            per_page,
        })
    }

    /// How many items come before this page.
    pub fn offset(&self) -> usize {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// The page of these items, out of `total`.
    pub fn page<T, V: Into<T>>(&self, items: Vec<V>, total: usize) -> Page<T> {
        Page {
            items: items.into_iter().map(Into::into).collect(),
            page: self.page,
            per_page: self.per_page,
            total,
        }
    }
}
