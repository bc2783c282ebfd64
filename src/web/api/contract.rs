//! The router and the OpenAPI document made from one list: each operation is added once, by
//! its handler and the `#[utoipa::path]` description beside it, and lands in both, with the
//! same method and path (what utoipa-axum's `OpenApiRouter` does for utoipa 5). What the
//! router serves is also kept as a list, so a test can hold it against the document.

use crate::web::AppState;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter};
use axum::Router;
use std::sync::Arc;
use utoipa::openapi::path::PathItemType;
use utoipa::openapi::OpenApi;

/// The API's router and its document, grown together.
pub struct Contract {
    router: Router<Arc<AppState>>,
    document: OpenApi,
    served: Vec<(Method, String)>,
}

impl Contract {
    /// Starts from a document with no paths yet (its info, components and security).
    pub fn new(document: OpenApi) -> Contract {
        Contract {
            router: Router::new(),
            document,
            served: Vec::new(),
        }
    }

    /// Serves `handler` at the method and path its description `_doc` (the unit struct
    /// `#[utoipa::path]` makes) documents, and documents it.
    pub fn operation<P, H, T>(mut self, _doc: P, handler: H) -> Contract
    where
        P: utoipa::Path,
        H: Handler<T, Arc<AppState>>,
        T: 'static,
    {
        let path = P::path();
        let item = P::path_item(None);
        for kind in item.operations.keys() {
            let method = method_of(kind);
            // Every method utoipa can name is one axum can filter on.
            if let Ok(filter) = MethodFilter::try_from(method.clone()) {
                self.router = self.router.route(&path, on(filter, handler.clone()));
                self.served.push((method, path.clone()));
            }
        }
        let paths = &mut self.document.paths.paths;
        match paths.get_mut(&path) {
            Some(existing) => existing.operations.extend(item.operations),
            None => {
                paths.insert(path, item);
            }
        }
        self
    }

    /// The operations the router serves: method and path, as the document writes the path.
    pub fn served(&self) -> &[(Method, String)] {
        &self.served
    }

    pub fn document(&self) -> &OpenApi {
        &self.document
    }

    pub fn into_parts(self) -> (Router<Arc<AppState>>, OpenApi) {
        (self.router, self.document)
    }
}

fn method_of(kind: &PathItemType) -> Method {
    match kind {
        PathItemType::Get => Method::GET,
        PathItemType::Post => Method::POST,
        PathItemType::Put => Method::PUT,
        PathItemType::Delete => Method::DELETE,
        PathItemType::Options => Method::OPTIONS,
        PathItemType::Head => Method::HEAD,
        PathItemType::Patch => Method::PATCH,
        PathItemType::Trace => Method::TRACE,
        PathItemType::Connect => Method::CONNECT,
    }
}
