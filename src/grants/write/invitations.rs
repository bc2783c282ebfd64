//! Invitations: an administrator invites a colleague by name and e-mail address; the person
//! and their membership exist at once (status: invited), and the first login through the
//! e-mailed link (valid 24 hours, usable once) binds the identity the AD asserts to them. After
//! that they log in directly. Only a hash of the link's secret is stored.

use super::Touching;
use super::{activate_if_pending, authorise, commit_recorded, commit_touching, email_free};
use super::{group_named, member_roles};
use super::{insert_link, insert_membership, link_holder, organisation, Actor, Need, Record};
use crate::domain::grant::{IdentityKey, Organisation, Role, Touched};
use crate::grants::check::check_email;
use crate::grants::db::{sql, Tx};
use crate::grants::error::WriteError;
use crate::grants::sql::SqlRegister;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

/// How long an invitation link can be used.
pub const INVITATION_LIFETIME: TimeDelta = TimeDelta::hours(24);

/// Who to invite.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct NewInvitation {
    pub name: String,
    pub email: String,
    /// `nl` or `en`, for the e-mails.
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Groups of the organisation (by name) the person joins.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// A made (or renewed) invitation, with the link's secret: returned once, never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invitation {
    pub id: String,
    pub person: String,
    pub organisation: Organisation,
    pub name: String,
    pub email: String,
    pub language: Option<String>,
    #[serde(skip)]
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// What accepting bound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accepted {
    pub person: String,
    pub name: Option<String>,
    pub organisation: Organisation,
    /// The member's roles in the organisation (an administrator's are told to its bevoegd
    /// vertegenwoordigers).
    pub roles: Vec<Role>,
    /// The organisation was waiting for this hoofdbeheerder's first login and is active now.
    pub activated: bool,
}

/// An invitation as resending it needs it: the invited person, their name and language, the
/// address it went to, and whether it was used or withdrawn.
#[derive(sqlx::FromRow)]
struct SentInvitation {
    person_id: String,
    name: Option<String>,
    language: Option<String>,
    email: String,
    accepted: bool,
    withdrawn: bool,
}

/// The stored form of a link's secret.
pub fn token_hash(token: &str) -> String {
    hex::encode(openssl::sha::sha256(token.as_bytes()))
}

fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The open invitation behind a link's secret: (id, person, organisation, organisation ID), or
/// why it cannot be used.
async fn invitation_row(
    tx: &mut Tx,
    token: &str,
    now: DateTime<Utc>,
) -> Result<(String, String, Organisation, String), WriteError> {
    type Row = (
        String,
        Option<String>,
        String,
        String,
        Option<String>,
        String,
        DateTime<Utc>,
        bool,
        bool,
        bool,
    );
    let row: Option<Row> = sql(
        "SELECT i.id, i.person_id, o.id, o.kvk, o.rsin, o.name, i.expires_at, \
                    i.accepted_at IS NOT NULL, i.withdrawn_at IS NOT NULL, \
                    o.activated_at IS NULL \
               FROM invitations i JOIN organisations o ON o.id = i.organisation_id \
              WHERE i.token_hash = $1",
    )
    .bind(token_hash(token))
    .fetch_optional(tx)
    .await?;
    let (id, person, org_id, kvk, rsin, name, expires_at, accepted, withdrawn, pending) =
        row.ok_or(WriteError::InvitationUnknown)?;
    if accepted {
        return Err(WriteError::InvitationUsed);
    }
    if withdrawn {
        return Err(WriteError::InvitationWithdrawn);
    }
    if expires_at <= now {
        // In an organisation not yet active, only the operator can send a new link.
        return Err(if pending {
            WriteError::ActivationExpired
        } else {
            WriteError::InvitationExpired
        });
    }
    let person = person.ok_or(WriteError::InvitationUnknown)?;
    Ok((id, person, Organisation { kvk, rsin, name }, org_id))
}

/// Makes the invited person, their membership (with its roles and groups) and the invitation
/// with a new link, with its audit row, inside the caller's transaction: for an
/// administrator's invitation and for an organisation registered with its hoofdbeheerder.
pub(super) async fn insert_invitation(
    tx: &mut Tx,
    actor: &Actor,
    org_id: &str,
    kvk: &str,
    org_name: &str,
    new: &NewInvitation,
    now: DateTime<Utc>,
) -> Result<Invitation, WriteError> {
    let name = new.name.trim();
    let email = new.email.trim();
    if name.is_empty() {
        return Err(WriteError::Empty { what: "name" });
    }
    check_email(email)?;
    email_free(tx, org_id, kvk, email, None).await?;
    let person = uuid::Uuid::new_v4().to_string();
    sql(
        "INSERT INTO persons (id, name, email, created_at, language, phone) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&person)
    .bind(name)
    .bind(email)
    .bind(now)
    .bind(new.language.as_deref())
    .bind(new.phone.as_deref())
    .execute(&mut *tx)
    .await?;
    let membership = insert_membership(tx, &person, org_id, kvk, &new.roles, now).await?;
    for group in &new.groups {
        let group_id = group_named(tx, org_id, kvk, group).await?;
        sql(
            "INSERT INTO group_members (membership_id, group_id, organisation_id, blocked) \
             VALUES ($1, $2, $3, FALSE) ON CONFLICT DO NOTHING",
        )
        .bind(&membership)
        .bind(&group_id)
        .bind(org_id)
        .execute(&mut *tx)
        .await?;
    }
    let id = uuid::Uuid::new_v4().to_string();
    let token = new_token();
    let expires_at = now + INVITATION_LIFETIME;
    sql(
        "INSERT INTO invitations (id, organisation_id, email, token_hash, created_by, \
         created_at, expires_at, person_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(org_id)
    .bind(email)
    .bind(token_hash(&token))
    .bind(actor.name())
    .bind(now)
    .bind(expires_at)
    .bind(&person)
    .execute(&mut *tx)
    .await?;
    Record::new(actor, org_id, "invitation.create")
        .after(&(&id, &person, name, email, &new.roles, &new.groups))
        .append(tx)
        .await?;
    Ok(Invitation {
        id,
        person,
        organisation: Organisation {
            kvk: kvk.to_string(),
            rsin: None,
            name: org_name.to_string(),
        },
        name: name.to_string(),
        email: email.to_string(),
        language: new.language.clone(),
        token,
        expires_at,
    })
}

/// A new link for the open invitation `id` of the organisation (internal ID, KvK number,
/// name), valid 24 hours again; the old link stops working. Its audit row is `action`.
pub(super) async fn renew_invitation(
    tx: &mut Tx,
    actor: &Actor,
    (org_id, kvk, org_name): (&str, &str, &str),
    id: &str,
    action: &str,
    now: DateTime<Utc>,
) -> Result<Invitation, WriteError> {
    let row: Option<SentInvitation> = sql("SELECT i.person_id, p.name, p.language, i.email, \
                i.accepted_at IS NOT NULL AS accepted, i.withdrawn_at IS NOT NULL AS withdrawn \
           FROM invitations i JOIN persons p ON p.id = i.person_id \
          WHERE i.id = $1 AND i.organisation_id = $2")
    .bind(id)
    .bind(org_id)
    .fetch_optional(&mut *tx)
    .await?;
    let SentInvitation {
        person_id: person,
        name,
        language,
        email,
        accepted,
        withdrawn,
    } = row.ok_or(WriteError::InvitationUnknown)?;
    if accepted {
        return Err(WriteError::InvitationUsed);
    }
    if withdrawn {
        return Err(WriteError::InvitationWithdrawn);
    }
    let token = new_token();
    let expires_at = now + INVITATION_LIFETIME;
    sql("UPDATE invitations SET token_hash = $1, expires_at = $2 WHERE id = $3")
        .bind(token_hash(&token))
        .bind(expires_at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Record::new(actor, org_id, action)
        .after(&(id, &email))
        .append(tx)
        .await?;
    Ok(Invitation {
        id: id.to_string(),
        person,
        organisation: Organisation {
            kvk: kvk.to_string(),
            rsin: None,
            name: org_name.to_string(),
        },
        name: name.unwrap_or_default(),
        email,
        language,
        token,
        expires_at,
    })
}

impl SqlRegister {
    /// Invites a person to an organisation with these roles.
    pub async fn invite(
        &self,
        actor: &Actor,
        kvk: &str,
        new: &NewInvitation,
        now: DateTime<Utc>,
    ) -> Result<(Invitation, Touched), WriteError> {
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let (org_id, org_name) = organisation(tx, kvk).await?;
        let need = Need::to_give(&new.roles);
        // A groepsbeheerder invites plain users into groups they administer.
        let into_groups = need == Need::Manage
            && !new.groups.is_empty()
            && new.roles.iter().all(|r| *r == Role::Gebruiker);
        if into_groups {
            for group in &new.groups {
                let id: Option<String> =
                    sql("SELECT id FROM groups WHERE organisation_id = $1 AND name = $2")
                        .bind(&org_id)
                        .bind(group)
                        .scalar_optional(&mut *tx)
                        .await?;
                // Permission first: an unknown group is only named to whoever may know.
                let need = Need::ManageGroup(id.as_deref());
                authorise(tx, actor, &org_id, kvk, need, "invite users").await?;
            }
        } else {
            authorise(tx, actor, &org_id, kvk, need, "invite users").await?;
        }
        let invitation = insert_invitation(tx, actor, &org_id, kvk, &org_name, new, now).await?;
        commit_touching(transaction, invitation, Touching::Nobody).await
    }

    /// A new link for an open invitation (the old one stops working), valid 24 hours again.
    pub async fn resend_invitation(
        &self,
        actor: &Actor,
        kvk: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(Invitation, Touched), WriteError> {
        let (mut transaction, org_id, org_name) = self
            .begin_in(actor, kvk, Need::Manage, "resend invitations")
            .await?;
        let tx = &mut transaction;
        let invitation = renew_invitation(
            tx,
            actor,
            (&org_id, kvk, &org_name),
            id,
            "invitation.resend",
            now,
        )
        .await?;
        commit_touching(transaction, invitation, Touching::Nobody).await
    }

    /// Withdraws an open invitation: its link stops working (the invited member stays, without
    /// an identity, until deleted).
    pub async fn withdraw_invitation(
        &self,
        actor: &Actor,
        kvk: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<((), Touched), WriteError> {
        let (mut transaction, org_id, _) = self
            .begin_in(actor, kvk, Need::Manage, "withdraw invitations")
            .await?;
        let tx = &mut transaction;
        let changed = sql(
            "UPDATE invitations SET withdrawn_at = $1 WHERE id = $2 AND organisation_id = $3 \
             AND accepted_at IS NULL AND withdrawn_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(&org_id)
        .execute(&mut *tx)
        .await?;
        if changed == 0 {
            return Err(WriteError::InvitationUnknown);
        }
        let record = Record::new(actor, &org_id, "invitation.withdraw").after(&id);
        commit_recorded(transaction, record, (), Touching::Nobody).await
    }

    /// Whether a link's invitation can still be accepted (checked before sending the person to
    /// their AD, and again, atomically, by [`SqlRegister::accept_invitation`]).
    pub async fn open_invitation(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Organisation, WriteError> {
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let (_, _, organisation, _) = invitation_row(tx, token, now).await?;
        transaction.commit().await?;
        Ok::<_, WriteError>(organisation)
    }

    /// Binds the identity the AD asserted to the invited person, once.
    pub async fn accept_invitation(
        &self,
        token: &str,
        idp: &str,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<(Accepted, Touched), WriteError> {
        let actor = Actor::Invitee(format!("{idp}#{subject}"));
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let (id, person, organisation, org_id) = invitation_row(tx, token, now).await?;
        match link_holder(tx, idp, subject).await? {
            Some(h) if h != person => {
                return Err(WriteError::LinkTaken {
                    idp: idp.to_string(),
                    subject: subject.to_string(),
                    person: h,
                })
            }
            Some(_) => {}
            None => insert_link(tx, idp, subject, &person, now).await?,
        }
        sql("UPDATE invitations SET accepted_at = $1, accepted_by = $2 WHERE id = $3")
            .bind(now)
            .bind(&person)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        let name: Option<String> = sql("SELECT name FROM persons WHERE id = $1")
            .bind(&person)
            .scalar(&mut *tx)
            .await?;
        Record::new(&actor, &org_id, "invitation.accept")
            .after(&(&id, &person, idp, subject))
            .append(tx)
            .await?;
        let roles = member_roles(tx, &person, &org_id).await?;
        // The appointed hoofdbeheerder's first login activates an organisation waiting for it.
        let activated = roles.contains(&Role::Hoofdbeheerder)
            && activate_if_pending(tx, &actor, &org_id, now).await?;
        let touched = [IdentityKey::new(idp, subject)].into_iter().collect();
        let accepted = Accepted {
            person,
            name,
            organisation,
            roles,
            activated,
        };
        commit_touching(transaction, accepted, Touching::Links(touched)).await
    }
}
