//! A local HTTP server of one document whose content the test changes (a metadata aggregate, a
//! service catalogue), on a free port; and the signed metadata aggregates it may publish.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use std::sync::{Arc, Mutex};

/// What the server answers: the bytes published last, or 503 when none (`go_down`).
#[derive(Clone, Default)]
pub struct Publisher(Arc<Mutex<Option<Vec<u8>>>>);

impl Publisher {
    pub fn publish(&self, text: &str) {
        *self.0.lock().unwrap() = Some(text.as_bytes().to_vec());
    }
    pub fn go_down(&self) {
        *self.0.lock().unwrap() = None;
    }
}

async fn serve(State(p): State<Publisher>) -> axum::response::Response {
    match p.0.lock().unwrap().clone() {
        Some(bytes) => bytes.into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// A server publishing at `path` (`/aggregate.xml`); its URL.
pub async fn start_publisher(path: &str) -> (Publisher, String) {
    let publisher = Publisher::default();
    let app = axum::Router::new()
        .route(path, axum::routing::get(serve))
        .with_state(publisher.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (publisher, url)
}

/// A signed metadata aggregate as the scheme publishes one: edition `sequence`, valid until
/// `valid_until`, with its `cache_duration`, of `entities` (EntityDescriptors), signed by `key`.
pub fn signed_aggregate(
    sequence: u64,
    valid_until: chrono::DateTime<chrono::Utc>,
    cache_duration: &str,
    entities: &[&str],
    key: &poort::keys::SigningKey,
) -> String {
    let id = format!("_aggregate-{sequence}");
    let unsigned = format!(
        r#"<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="{id}" Name="urn:etoegang:1.13:T:{sequence}" validUntil="{until}" cacheDuration="{cache_duration}">{template}{entities}</md:EntitiesDescriptor>"#,
        until = valid_until.format("%Y-%m-%dT%H:%M:%SZ"),
        template = poort::saml::dsig::template(&id, key),
        entities = entities.concat(),
    );
    poort::saml::dsig::sign(&unsigned, key).unwrap()
}
