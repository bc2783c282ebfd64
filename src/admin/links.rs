//! Link requests and the organisation's contact data as administrators change them: the same
//! calls for the pages and the API (the register checks roles; see `grants::write::links`).

use super::members::Services;
use super::AdminSession;
use crate::grants::{
    Actor, LinkRequest, LinkRequestStatus, NewLinkRequest, OrganisationChanges, WriteError,
};
use chrono::Utc;

/// An answer to a link request: the other side approves or declines, the asking side withdraws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAnswer {
    Approve,
    Decline,
    Withdraw,
}

impl LinkAnswer {
    /// From the last segment of `…/link-requests/{id}/{action}`.
    pub fn parse(action: &str) -> Option<LinkAnswer> {
        match action {
            "approve" => Some(LinkAnswer::Approve),
            "decline" => Some(LinkAnswer::Decline),
            "withdraw" => Some(LinkAnswer::Withdraw),
            _ => None,
        }
    }
}

fn actor(session: &AdminSession) -> Actor {
    Actor::Admin(session.person_id.clone())
}

impl Services<'_> {
    /// The requests the organisation made, and the open ones naming one of its members.
    pub async fn link_requests(
        &self,
        session: &AdminSession,
    ) -> Result<(Vec<LinkRequest>, Vec<LinkRequest>), WriteError> {
        self.registry
            .sql()
            .link_requests(&session.organisation.kvk, Utc::now())
            .await
    }

    pub async fn request_link(
        &self,
        session: &AdminSession,
        new: &NewLinkRequest,
    ) -> Result<LinkRequest, WriteError> {
        let sql = self.registry.sql();
        let kvk = &session.organisation.kvk;
        self.registry
            .write(sql.request_link(&actor(session), kvk, new, Utc::now()))
            .await
    }

    pub async fn answer_link(
        &self,
        session: &AdminSession,
        id: &str,
        answer: LinkAnswer,
    ) -> Result<LinkRequest, WriteError> {
        let sql = self.registry.sql();
        let (who, kvk, now) = (actor(session), &session.organisation.kvk, Utc::now());
        let written = match answer {
            LinkAnswer::Withdraw => sql.withdraw_link_request(&who, kvk, id, now).await,
            decision => {
                let approve = decision == LinkAnswer::Approve;
                sql.decide_link_request(&who, kvk, id, approve, now).await
            }
        };
        let request = self.registry.write(async { written }).await?;
        // Approved with an administrator's role: the organisation's bevoegd vertegenwoordigers
        // hear of it.
        if let (LinkRequestStatus::Approved, Some(person)) = (request.status, &request.person) {
            let (pool, org) = (sql.pool(), &request.organisation.kvk);
            let roles = (&[][..], request.roles.as_slice());
            super::notify::if_appointed(pool, self.mailer, org, person, roles).await;
        }
        Ok(request)
    }

    /// Changes the organisation's contact data (checked by `admin::organisation`).
    pub async fn update_contact(
        &self,
        session: &AdminSession,
        changes: &OrganisationChanges,
    ) -> Result<(), WriteError> {
        let sql = self.registry.sql();
        let kvk = &session.organisation.kvk;
        self.registry
            .write(sql.update_organisation(&actor(session), kvk, changes))
            .await
    }
}
