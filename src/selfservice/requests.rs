//! What a person does in Mijn poort, with its consequences (the register write, the cache, the
//! mails): one function per action, called by the pages and the API alike. A request the
//! person neither made nor may sign is [`RequestError::NotFound`], as one that does not exist.

use super::notify;
use super::PersonSession;
use crate::domain::request::{SignedOff, Verdict};
use crate::grants::read::mine::{Concerning, OwnLogin, OwnMembership};
use crate::grants::{
    GrantFilter, GrantRecord, NewRequest, Registry, RequestPage, RequestView, SignedRequest,
    WriteError,
};
use crate::mail::Mailer;
use crate::mail::Recipient;
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("no such request")]
    NotFound,
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl RequestError {
    /// A short code for the refusal, for the API and logs.
    pub fn reason_code(&self) -> &'static str {
        match self {
            RequestError::NotFound => "request_unknown",
            RequestError::Write(e) => e.reason_code(),
        }
    }
}

/// Everything Mijn poort's start page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    pub memberships: Vec<OwnMembership>,
    pub grants: Vec<GrantRecord>,
    pub logins: Vec<OwnLogin>,
    pub requests: Vec<RequestView>,
    pub concerning: Vec<Concerning>,
    /// How many requests wait for this person's signature.
    pub to_sign: i64,
}

/// How many of their own recent logins and decided requests a person sees.
pub const RECENT: i64 = 10;

/// The register, the mailer, the config and the services in use: what the actions need besides
/// the session.
pub struct SelfService<'a> {
    pub registry: &'a Registry,
    pub mailer: &'a Mailer,
    pub config: &'a crate::config::Config,
    /// The services in use when the request began (requested scopes are checked against them).
    pub catalogue: std::sync::Arc<Vec<crate::config::ServiceConfig>>,
}

impl SelfService<'_> {
    /// The start page's contents.
    pub async fn overview(
        &self,
        session: &PersonSession,
        now: DateTime<Utc>,
    ) -> Result<Overview, WriteError> {
        let sql = self.registry.sql();
        let person = session.person_id.as_str();
        let filter = GrantFilter {
            person: Some(person.to_string()),
            ..Default::default()
        };
        Ok(Overview {
            memberships: sql.own_memberships(person).await?,
            grants: sql.list_grants(&filter).await?,
            logins: sql.own_logins(person, RECENT).await?,
            requests: sql.requests_of(person, RECENT, now).await?,
            concerning: sql.concerning(person, now).await?,
            to_sign: sql
                .requests_to_sign(person, None, None, 0, now)
                .await?
                .total,
        })
    }

    /// One request: the person's own, or one they may sign.
    pub async fn request(
        &self,
        session: &PersonSession,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<RequestView, RequestError> {
        let sql = self.registry.sql();
        let view = match sql.request(id, now).await {
            Err(WriteError::RequestUnknown) => return Err(RequestError::NotFound),
            other => other?,
        };
        if view.request.requester == session.person_id
            || sql.may_sign(&session.person_id, id).await?
        {
            Ok(view)
        } else {
            Err(RequestError::NotFound)
        }
    }

    /// The person's own grant `id`: held by them, not by a group they are in. Another's grant
    /// is `None`, as one that does not exist.
    pub async fn own_grant(
        &self,
        session: &PersonSession,
        id: &str,
    ) -> Result<Option<GrantRecord>, WriteError> {
        let filter = GrantFilter {
            id: Some(id.to_string()),
            person: Some(session.person_id.clone()),
            ..Default::default()
        };
        let found = self.registry.sql().list_grants(&filter).await?;
        Ok(found.into_iter().find(
            |g| matches!(&g.holder, crate::grants::Holder::Person(p) if *p == session.person_id),
        ))
    }

    /// The requests waiting for the person's signature, `limit` from `after` on.
    pub async fn to_sign(
        &self,
        session: &PersonSession,
        organisation: Option<&str>,
        after: Option<&(DateTime<Utc>, String)>,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<RequestPage, WriteError> {
        self.registry
            .sql()
            .requests_to_sign(&session.person_id, organisation, after, limit, now)
            .await
    }

    /// The person asks; they and everyone who may sign are mailed.
    pub async fn ask(
        &self,
        session: &PersonSession,
        new: &NewRequest,
        now: DateTime<Utc>,
    ) -> Result<RequestView, RequestError> {
        let sql = self.registry.sql();
        let view = self
            .registry
            .write(sql.ask(&session.person_id, new, &self.catalogue, now))
            .await?;
        tracing::info!(request = %view.request.id, organisation = %view.organisation.kvk, kind = view.request.kind.as_str(), "request made");
        self.mail_requester(&view).await;
        self.mail_signers(&view).await;
        Ok(view)
    }

    /// The person signs a request off; the requester (and, after a first of two signatures,
    /// the other directors) are mailed.
    pub async fn sign(
        &self,
        session: &PersonSession,
        id: &str,
        verdict: &Verdict,
        now: DateTime<Utc>,
    ) -> Result<SignedRequest, RequestError> {
        let sql = self.registry.sql();
        let written = sql.sign_request(
            &session.person_id,
            session.level,
            id,
            verdict,
            &self.catalogue,
            now,
        );
        let signed = match self.registry.write(written).await {
            Err(WriteError::RequestUnknown) => return Err(RequestError::NotFound),
            other => other?,
        };
        tracing::info!(request = %id, organisation = %signed.request.organisation.kvk, outcome = signed.request.request.state.as_str(), "request signed");
        self.mail_requester(&signed.request).await;
        if signed.signed == SignedOff::FirstOfTwo {
            self.mail_signers(&signed.request).await;
        }
        Ok(signed)
    }

    /// The person withdraws their own request.
    pub async fn withdraw(
        &self,
        session: &PersonSession,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<RequestView, RequestError> {
        let sql = self.registry.sql();
        let written = sql.withdraw_request(&session.person_id, id, now);
        match self.registry.write(written).await {
            Err(WriteError::RequestUnknown | WriteError::NotTheRequester) => {
                Err(RequestError::NotFound)
            }
            other => Ok(other?),
        }
    }

    /// Marks the requests past their 30 days expired and mails their requesters; how many.
    pub async fn expire(&self, now: DateTime<Utc>) -> Result<usize, WriteError> {
        let sql = self.registry.sql();
        let expired = self.registry.write(sql.expire_requests(now)).await?;
        for view in &expired {
            self.mail_requester(view).await;
        }
        Ok(expired.len())
    }

    fn link(&self, id: &str) -> String {
        self.config.url(&format!("/mijn/requests/{id}"))
    }

    async fn mail_requester(&self, view: &RequestView) {
        let Some(email) = view.requester_email.clone().filter(|e| !e.is_empty()) else {
            return;
        };
        let r = Recipient {
            name: view.requester_name.clone(),
            email,
            language: view.requester_language.clone(),
        };
        let mails = notify::to_requester(&r, view, &self.link(&view.request.id));
        self.mailer.enqueue_all(mails).await;
    }

    async fn mail_signers(&self, view: &RequestView) {
        let signers = match self.registry.sql().signers_of(&view.request.id).await {
            Ok(signers) => signers,
            Err(e) => {
                tracing::error!(request = %view.request.id, "signers not found for the mail: {}", e.redacted());
                return;
            }
        };
        let link = self.link(&view.request.id);
        let mails = signers.into_iter().map(|(_, name, email, language)| {
            notify::waiting(
                &Recipient {
                    name,
                    email,
                    language,
                },
                view,
                &link,
            )
        });
        self.mailer.enqueue_all(mails).await;
    }
}
