//! What an administrator does to users, with its consequences (the register write, the cache,
//! the e-mail): one function per action, called by the pages (`web::admin::users`) and the JSON
//! API (`web::api`) alike, so both behave and check the same.
//!
//! A member outside what the session may see (another organisation's, or outside a
//! groepsbeheerder's groups) is [`MemberError::NotFound`], never "not allowed": guessing IDs
//! tells nothing.

use super::AdminSession;
use crate::grants::{
    Actor, Invitation, MemberDetails, MemberQuery, MemberStatus, MemberView, NewInvitation,
    Registry, Role, WriteError,
};
use crate::mail::Mailer;
use chrono::Utc;

#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error("no such member in this organisation")]
    NotFound,
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// The register, the mailer, the public URL and the services in use: what the actions need
/// besides the session.
pub struct Services<'a> {
    pub registry: &'a Registry,
    pub mailer: &'a Mailer,
    pub config: &'a crate::config::Config,
    /// The services in use when the request began (grants are checked against them).
    pub catalogue: std::sync::Arc<Vec<crate::config::ServiceConfig>>,
}

impl Services<'_> {
    fn actor(session: &AdminSession) -> Actor {
        Actor::Admin(session.person_id.clone())
    }

    /// The groups whose members the session sees: `None` for everyone (hoofdbeheerder,
    /// beheerder, lezer); a groepsbeheerder sees the groups they administer (not every group
    /// they are merely in, nor one they are blocked in).
    pub async fn member_scope(
        &self,
        session: &AdminSession,
    ) -> Result<Option<Vec<String>>, WriteError> {
        if session.sees_whole_organisation() {
            return Ok(None);
        }
        let groups = self
            .registry
            .sql()
            .administered_groups(&session.organisation.kvk, &session.person_id)
            .await?;
        Ok(Some(groups))
    }

    /// One page of the members the session sees.
    pub async fn list(
        &self,
        session: &AdminSession,
        mut query: MemberQuery,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<MemberView>, usize), WriteError> {
        query.groups = self.member_scope(session).await?;
        self.registry
            .sql()
            .list_members(&session.organisation.kvk, &query, offset, limit)
            .await
    }

    /// How many members the session sees are active, invited and blocked (in that order).
    pub async fn count_by_status(&self, session: &AdminSession) -> Result<[usize; 3], WriteError> {
        let groups = self.member_scope(session).await?;
        let mut counts = [0; 3];
        for (count, status) in counts.iter_mut().zip([
            MemberStatus::Active,
            MemberStatus::Invited,
            MemberStatus::Blocked,
        ]) {
            let query = MemberQuery {
                status: Some(status),
                groups: groups.clone(),
                ..Default::default()
            };
            let sql = self.registry.sql();
            *count = sql
                .list_members(&session.organisation.kvk, &query, 0, 0)
                .await?
                .1;
        }
        Ok(counts)
    }

    /// A member the session may see.
    pub async fn member(
        &self,
        session: &AdminSession,
        person: &str,
    ) -> Result<MemberView, MemberError> {
        let query = MemberQuery {
            person: Some(person.to_string()),
            ..Default::default()
        };
        self.list(session, query, 0, 1)
            .await?
            .0
            .into_iter()
            .next()
            .ok_or(MemberError::NotFound)
    }

    /// Invites a person; the invitation and whether its e-mail went out.
    pub async fn invite(
        &self,
        session: &AdminSession,
        new: &NewInvitation,
    ) -> Result<(Invitation, bool), WriteError> {
        let sql = self.registry.sql();
        let invitation = self
            .registry
            .write(sql.invite(
                &Self::actor(session),
                &session.organisation.kvk,
                new,
                Utc::now(),
            ))
            .await?;
        let sent = self.mail_invitation(&invitation).await;
        Ok((invitation, sent))
    }

    /// A new link for an open invitation (the old one stops working), mailed at once.
    pub async fn resend_invitation(
        &self,
        session: &AdminSession,
        id: &str,
    ) -> Result<(Invitation, bool), WriteError> {
        let sql = self.registry.sql();
        let invitation = self
            .registry
            .write(sql.resend_invitation(
                &Self::actor(session),
                &session.organisation.kvk,
                id,
                Utc::now(),
            ))
            .await?;
        let sent = self.mail_invitation(&invitation).await;
        Ok((invitation, sent))
    }

    pub async fn withdraw_invitation(
        &self,
        session: &AdminSession,
        id: &str,
    ) -> Result<(), WriteError> {
        let sql = self.registry.sql();
        self.registry
            .write(sql.withdraw_invitation(
                &Self::actor(session),
                &session.organisation.kvk,
                id,
                Utc::now(),
            ))
            .await
    }

    /// Queues the invitation mail (the mail worker sends it); whether it was queued (a failure
    /// is logged, by the invitation's id: the admin can resend).
    pub async fn mail_invitation(&self, i: &Invitation) -> bool {
        let link = self.config.url(&format!("/admin/invitation/{}", i.token));
        let mail = crate::mail::invitation(
            i.language.as_deref(),
            &i.name,
            &i.email,
            &i.organisation.name,
            &link,
        );
        match self.mailer.enqueue(&mail).await {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(invitation = %i.id, "invitation mail: {e}");
                false
            }
        }
    }

    /// Blocks or unblocks a member for the whole organisation; a blocked member is told.
    pub async fn set_blocked(
        &self,
        session: &AdminSession,
        person: &str,
        blocked: bool,
    ) -> Result<MemberView, MemberError> {
        self.member(session, person).await?;
        let sql = self.registry.sql();
        let kvk = &session.organisation.kvk;
        self.registry
            .write(sql.set_member_blocked(&Self::actor(session), kvk, person, blocked))
            .await?;
        if blocked {
            let notified = super::notify::member_blocked(
                sql.pool(),
                self.mailer,
                person,
                &session.organisation.name,
            )
            .await;
            if let Err(e) = notified {
                tracing::error!(person = %person, "block notice: {e}");
            }
        }
        self.member(session, person).await
    }

    /// Blocks or unblocks a member in one group only.
    pub async fn set_blocked_in_group(
        &self,
        session: &AdminSession,
        person: &str,
        group: &str,
        blocked: bool,
    ) -> Result<MemberView, MemberError> {
        let member = self.member(session, person).await?;
        if !member.groups.iter().any(|(g, _)| g == group) {
            return Err(MemberError::NotFound);
        }
        let sql = self.registry.sql();
        self.registry
            .write(sql.set_group_member_blocked(
                &Self::actor(session),
                &session.organisation.kvk,
                group,
                person,
                blocked,
            ))
            .await?;
        self.member(session, person).await
    }

    pub async fn set_roles(
        &self,
        session: &AdminSession,
        person: &str,
        roles: &[Role],
    ) -> Result<MemberView, MemberError> {
        let before = self.member(session, person).await?.roles;
        let sql = self.registry.sql();
        let kvk = &session.organisation.kvk;
        self.registry
            .write(sql.set_roles(&Self::actor(session), kvk, person, roles))
            .await?;
        let after = self.member(session, person).await?;
        // An administrator appointed: the organisation's bevoegd vertegenwoordigers hear of it.
        let roles = (before.as_slice(), after.roles.as_slice());
        super::notify::if_appointed(sql.pool(), self.mailer, kvk, person, roles).await;
        Ok(after)
    }

    pub async fn update(
        &self,
        session: &AdminSession,
        person: &str,
        details: &MemberDetails,
    ) -> Result<MemberView, MemberError> {
        self.member(session, person).await?;
        let sql = self.registry.sql();
        self.registry
            .write(sql.update_member(
                &Self::actor(session),
                &session.organisation.kvk,
                person,
                details,
            ))
            .await?;
        self.member(session, person).await
    }

    /// Removes a member (their grants here and open invitation go; the trail stays).
    pub async fn remove(&self, session: &AdminSession, person: &str) -> Result<(), MemberError> {
        self.member(session, person).await?;
        let sql = self.registry.sql();
        self.registry
            .write(sql.remove_member(
                &Self::actor(session),
                &session.organisation.kvk,
                person,
                Utc::now(),
            ))
            .await?;
        Ok(())
    }
}
