//! Activation of organisations (issue 14). An operator registers an organisation with the
//! e-mail address of its appointed hoofdbeheerder: the organisation is not yet active
//! (`activated_at` NULL), the hoofdbeheerder is a member invited with that role, and their
//! invitation link (24 hours, once; only its hash stored) is mailed. Their first login through
//! it binds their identity and activates the organisation in the same transaction
//! (`accept_invitation`, through `activate_if_pending` of `write`); so does the binding of a director
//! with sole authority (`bind_representative`). The operator may send a new link while the
//! organisation waits (the old one stops working), never once it is active.
//!
//! Also here: the organisation's setting that a director with joint authority needs a second
//! director's signature, kept by the operator or the organisation's hoofdbeheerder.

use super::invitations::{insert_invitation, renew_invitation, Invitation, NewInvitation};
use super::organisations::{insert_organisation, NewOrganisation};
use super::Touching;
use super::{commit_recorded, commit_touching, operator_only, organisation, Actor, Need, Record};
use crate::domain::grant::{Role, Touched};
use crate::grants::check::{check_email, check_language};
use crate::grants::db::{sql, Tx};
use crate::grants::error::WriteError;
use crate::grants::sql::SqlRegister;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An organisation to register, with its appointed hoofdbeheerder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRegistration {
    pub kvk: String,
    pub name: String,
    #[serde(default)]
    pub rsin: Option<String>,
    /// The hoofdbeheerder's name, as the mail addresses them.
    pub hoofdbeheerder_name: String,
    /// Where their activation link goes.
    pub hoofdbeheerder_email: String,
    /// `nl` or `en`, for the mails (Dutch when left out).
    #[serde(default)]
    pub language: Option<String>,
}

/// Whether the organisation (internal ID) is waiting for activation.
async fn pending(tx: &mut Tx, org_id: &str) -> Result<bool, WriteError> {
    let activated: Option<DateTime<Utc>> =
        sql("SELECT activated_at FROM organisations WHERE id = $1")
            .bind(org_id)
            .scalar(tx)
            .await?;
    Ok(activated.is_none())
}

impl SqlRegister {
    /// Registers an organisation that is not yet active, with its appointed hoofdbeheerder (a
    /// member invited with that role) and their invitation, whose link activates it (operators
    /// only). The invitation carries the link's secret, for the mail.
    pub async fn register_organisation(
        &self,
        actor: &Actor,
        new: &NewRegistration,
        now: DateTime<Utc>,
    ) -> Result<(Invitation, Touched), WriteError> {
        operator_only(actor, "register organisations")?;
        let language = check_language(new.language.as_deref())?;
        let organisation = NewOrganisation {
            kvk: new.kvk.trim().to_string(),
            rsin: new.rsin.clone().filter(|r| !r.trim().is_empty()),
            name: new.name.trim().to_string(),
            ..NewOrganisation::default()
        };
        // Both refusals about the hoofdbeheerder before anything is written.
        if new.hoofdbeheerder_name.trim().is_empty() {
            return Err(WriteError::Empty {
                what: "hoofdbeheerder's name",
            });
        }
        check_email(new.hoofdbeheerder_email.trim())?;
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let org_id = insert_organisation(tx, &organisation, now, None).await?;
        Record::new(actor, &org_id, "organisation.register")
            .after(&organisation)
            .append(tx)
            .await?;
        let hoofdbeheerder = NewInvitation {
            name: new.hoofdbeheerder_name.clone(),
            email: new.hoofdbeheerder_email.clone(),
            language,
            roles: vec![Role::Hoofdbeheerder],
            ..NewInvitation::default()
        };
        let mut invitation = insert_invitation(
            tx,
            actor,
            &org_id,
            &organisation.kvk,
            &organisation.name,
            &hoofdbeheerder,
            now,
        )
        .await?;
        invitation.organisation.rsin = organisation.rsin.clone();
        commit_touching(transaction, invitation, Touching::Nobody).await
    }

    /// A new activation link for an organisation that is not yet active (operators only): the
    /// open invitation of its appointed hoofdbeheerder, valid 24 hours again; the old link stops
    /// working. [`WriteError::AlreadyActive`] once it is active.
    pub async fn resend_activation(
        &self,
        actor: &Actor,
        kvk: &str,
        now: DateTime<Utc>,
    ) -> Result<(Invitation, Touched), WriteError> {
        operator_only(actor, "resend activation links")?;
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let (org_id, org_name) = organisation(tx, kvk).await?;
        if !pending(tx, &org_id).await? {
            return Err(WriteError::AlreadyActive(kvk.to_string()));
        }
        // The newest open invitation of a hoofdbeheerder of the organisation.
        let id: Option<String> = sql("SELECT i.id FROM invitations i \
               JOIN memberships m ON m.person_id = i.person_id \
                                 AND m.organisation_id = i.organisation_id \
               JOIN membership_roles r ON r.membership_id = m.id \
              WHERE i.organisation_id = $1 AND r.role = 'hoofdbeheerder' \
                AND i.accepted_at IS NULL AND i.withdrawn_at IS NULL \
              ORDER BY i.created_at DESC, i.id LIMIT 1")
        .bind(&org_id)
        .scalar_optional(&mut *tx)
        .await?;
        let id = id.ok_or(WriteError::InvitationUnknown)?;
        let invitation = renew_invitation(
            tx,
            actor,
            (&org_id, kvk, &org_name),
            &id,
            "activation.resend",
            now,
        )
        .await?;
        commit_touching(transaction, invitation, Touching::Nobody).await
    }

    /// Sets whether a director with joint authority needs a second director's signature (an
    /// operator, or the organisation's hoofdbeheerder).
    pub async fn set_joint_needs_two(
        &self,
        actor: &Actor,
        kvk: &str,
        joint_needs_two: bool,
    ) -> Result<((), Touched), WriteError> {
        let (mut transaction, org_id, _) = self
            .begin_in(
                actor,
                kvk,
                Need::Appoint,
                "change the directors' signature setting",
            )
            .await?;
        let tx = &mut transaction;
        let before: bool = sql("SELECT joint_needs_two FROM organisations WHERE id = $1")
            .bind(&org_id)
            .scalar(&mut *tx)
            .await?;
        sql("UPDATE organisations SET joint_needs_two = $1 WHERE id = $2")
            .bind(joint_needs_two)
            .bind(&org_id)
            .execute(&mut *tx)
            .await?;
        let record = Record::new(actor, &org_id, "organisation.joint_signatures")
            .before(&before)
            .after(&joint_needs_two);
        // A sign-off setting is in nobody's grant set.
        commit_recorded(transaction, record, (), Touching::Nobody).await
    }
}
