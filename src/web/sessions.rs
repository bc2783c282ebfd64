//! The browser sessions poort keeps, the admin module's ([`AdminSession`]) and Mijn poort's
//! ([`PersonSession`]): each in the shared flow store (so every replica sees it) under a random
//! ID that is its cookie's value, ended by the idle timeout from its last request or the
//! absolute timeout from the login, whichever comes first. One way to open, read, keep and end
//! them; what a session holds and who may have one is the services' (`admin`, `selfservice`).

use super::{cookies, AppState};
use crate::admin::AdminSession;
use crate::config::Config;
use crate::selfservice::PersonSession;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why there is no session to act in.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("not logged in")]
    None,
    #[error("the session store failed: {0}")]
    Store(String),
}

/// A session as the store keeps it.
pub trait StoredSession: Serialize + DeserializeOwned {
    /// The cookie that carries its ID.
    const COOKIE: &'static str;
    fn store_key(id: &str) -> String;
    fn id(&self) -> &str;
    fn expires_at(&self, config: &Config) -> DateTime<Utc>;
    /// A request came: the idle timeout starts again.
    fn touch(&mut self, now: DateTime<Utc>);
}

impl StoredSession for AdminSession {
    const COOKIE: &'static str = cookies::ADMIN;
    fn store_key(id: &str) -> String {
        AdminSession::store_key(id)
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn expires_at(&self, config: &Config) -> DateTime<Utc> {
        AdminSession::expires_at(self, config)
    }
    fn touch(&mut self, now: DateTime<Utc>) {
        self.last_seen = now;
    }
}

impl StoredSession for PersonSession {
    const COOKIE: &'static str = cookies::MIJN;
    fn store_key(id: &str) -> String {
        PersonSession::store_key(id)
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn expires_at(&self, config: &Config) -> DateTime<Utc> {
        PersonSession::expires_at(self, config)
    }
    fn touch(&mut self, now: DateTime<Utc>) {
        self.last_seen = now;
    }
}

fn store_failed(e: &dyn std::fmt::Display) -> SessionError {
    SessionError::Store(e.to_string())
}

/// The request's session of kind `S`, as stored: none without its cookie, after its end, or when
/// the cookie names another.
pub async fn load<S: StoredSession>(
    state: &AppState,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Result<S, SessionError> {
    let id = cookies::read(headers, S::COOKIE).ok_or(SessionError::None)?;
    let bytes = state
        .flows
        .get(&S::store_key(&id), now)
        .await
        .map_err(|e| store_failed(&e))?
        .ok_or(SessionError::None)?;
    let session: S = serde_json::from_slice(&bytes).map_err(|e| store_failed(&e))?;
    if session.id() != id || session.expires_at(&state.config) <= now {
        return Err(SessionError::None);
    }
    Ok(session)
}

/// Stores `session` until its end (after a change, or to restart its idle timeout).
pub async fn keep<S: StoredSession>(state: &AppState, session: &S) -> Result<(), SessionError> {
    let bytes = serde_json::to_vec(session).map_err(|e| store_failed(&e))?;
    state
        .flows
        .put(
            &S::store_key(session.id()),
            bytes,
            session.expires_at(&state.config),
        )
        .await
        .map_err(|e| store_failed(&e))
}

/// [`load`], with the idle timeout restarted.
pub async fn current<S: StoredSession>(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<S, SessionError> {
    let now = Utc::now();
    let mut session: S = load(state, headers, now).await?;
    session.touch(now);
    keep(state, &session).await?;
    Ok(session)
}

/// A new session stored, and the redirect to `to` that sets its cookie.
pub async fn open<S: StoredSession>(
    state: &AppState,
    session: &S,
    to: &str,
) -> Result<Response, SessionError> {
    keep(state, session).await?;
    let mut response = Redirect::to(to).into_response();
    cookies::set_session(
        state,
        &mut response,
        S::COOKIE,
        session.id(),
        state.config.admin.absolute_timeout_seconds,
    );
    Ok(response)
}

/// Ends the session with this ID everywhere (it lives in the shared store).
pub async fn end<S: StoredSession>(state: &AppState, id: &str) -> Result<(), SessionError> {
    state
        .flows
        .take(&S::store_key(id), Utc::now())
        .await
        .map(|_| ())
        .map_err(|e| store_failed(&e))
}

/// Clears the session's cookie on the answer to its logout.
pub fn clear_cookie<S: StoredSession>(state: &AppState, response: &mut Response) {
    cookies::set_session(state, response, S::COOKIE, "", 0);
}
