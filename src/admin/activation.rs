//! What an operator does to organisations, with its consequences, for the command line and the
//! operator API alike: registering an organisation with its appointed hoofdbeheerder (the
//! activation mail queued in the outbox), sending a new activation link, and the directors'
//! extract and signature setting (register writes run through the registry, so that a write
//! made on one replica is invalidated on all).
//!
//! A mail that cannot be queued is logged by the invitation's ID, never by its address; the
//! operator can send the link again.

use crate::config::Config;
use crate::grants::{
    Actor, ExtractApplied, ImportError, Invitation, NewRegistration, NewRepresentative, Registry,
    RepresentativeRow, WriteError,
};
use crate::mail::Mailer;
use chrono::Utc;

/// The register, the mailer and the public URL: what the operator's actions need.
pub struct Operations<'a> {
    pub registry: &'a Registry,
    pub mailer: &'a Mailer,
    pub config: &'a Config,
}

impl Operations<'_> {
    /// Registers an organisation that waits for its hoofdbeheerder, and queues their
    /// activation mail; the invitation and whether the mail was queued.
    pub async fn register(
        &self,
        actor: &Actor,
        new: &NewRegistration,
    ) -> Result<(Invitation, bool), WriteError> {
        let sql = self.registry.sql();
        let invitation = self
            .registry
            .write(sql.register_organisation(actor, new, Utc::now()))
            .await?;
        tracing::info!(organisation = %invitation.organisation.kvk, invitation = %invitation.id, "organisation registered, waiting for activation");
        let sent = self.mail_activation(&invitation).await;
        Ok((invitation, sent))
    }

    /// A new activation link for an organisation still waiting (the old one stops working),
    /// mailed at once.
    pub async fn resend_activation(
        &self,
        actor: &Actor,
        kvk: &str,
    ) -> Result<(Invitation, bool), WriteError> {
        let sql = self.registry.sql();
        let invitation = self
            .registry
            .write(sql.resend_activation(actor, kvk, Utc::now()))
            .await?;
        let sent = self.mail_activation(&invitation).await;
        Ok((invitation, sent))
    }

    /// Queues the activation mail (the mail worker of a running poort sends it); whether it
    /// was queued.
    pub async fn mail_activation(&self, i: &Invitation) -> bool {
        let link = self.config.url(&format!("/admin/invitation/{}", i.token));
        let mail = crate::mail::activation(
            i.language.as_deref(),
            &i.name,
            &i.email,
            &i.organisation.name,
            &link,
            i.expires_at,
        );
        match self.mailer.enqueue(&mail).await {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(invitation = %i.id, "activation mail: {e}");
                false
            }
        }
    }

    /// Imports extracts of the trade register: each organisation's rows replace its list.
    pub async fn import_representatives(
        &self,
        actor: &Actor,
        rows: &[RepresentativeRow],
    ) -> Result<Vec<ExtractApplied>, ImportError> {
        let sql = self.registry.sql();
        self.registry
            .write(sql.import_representatives(actor, rows, Utc::now()))
            .await
    }

    /// Replaces one organisation's directors.
    pub async fn replace_representatives(
        &self,
        actor: &Actor,
        kvk: &str,
        list: &[NewRepresentative],
    ) -> Result<ExtractApplied, ImportError> {
        let sql = self.registry.sql();
        self.registry
            .write(sql.replace_representatives(actor, kvk, list, Utc::now()))
            .await
    }

    /// Whether a director with joint authority needs a second signature.
    pub async fn set_joint_needs_two(
        &self,
        actor: &Actor,
        kvk: &str,
        joint_needs_two: bool,
    ) -> Result<(), WriteError> {
        let sql = self.registry.sql();
        self.registry
            .write(sql.set_joint_needs_two(actor, kvk, joint_needs_two))
            .await
    }
}
