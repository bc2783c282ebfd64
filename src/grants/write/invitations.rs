//! Invitations: an administrator invites a colleague by name and e-mail address; the person
//! and their membership exist at once (status: invited), and the first login through the
//! e-mailed link (valid 24 hours, usable once) binds the identity the AD asserts to them. After
//! that they log in directly. Only a hash of the link's secret is stored.

use super::*;
use chrono::TimeDelta;

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

/// The newest invitation made for a member, as their page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvitationState {
    pub id: String,
    pub email: String,
    pub expires_at: DateTime<Utc>,
    pub accepted: bool,
    pub withdrawn: bool,
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
}

/// The stored form of a link's secret.
pub fn token_hash(token: &str) -> String {
    hex::encode(openssl::sha::sha256(token.as_bytes()))
}

fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Whether `email` looks like an e-mail address (one `@`-split with a dotted domain, no spaces
/// or control characters, at most 254 bytes): the register's check, shared with the pages.
pub fn is_email_address(email: &str) -> bool {
    email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
}

pub(super) fn check_email(email: &str) -> Result<(), WriteError> {
    if is_email_address(email) {
        Ok(())
    } else {
        Err(WriteError::InvalidEmail(email.to_string()))
    }
}

/// The open invitation behind a link's secret: (id, person, organisation, organisation ID), or
/// why it cannot be used.
macro_rules! invitation_row {
    ($tx:ident, $token:expr, $now:expr) => {{
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
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT i.id, i.person_id, o.id, o.kvk, o.rsin, o.name, i.expires_at, \
                    i.accepted_at IS NOT NULL, i.withdrawn_at IS NOT NULL \
               FROM invitations i JOIN organisations o ON o.id = i.organisation_id \
              WHERE i.token_hash = $1",
        )
        .bind(token_hash($token))
        .fetch_optional(&mut *$tx)
        .await?;
        let (id, person, org_id, kvk, rsin, name, expires_at, accepted, withdrawn) =
            row.ok_or(WriteError::InvitationUnknown)?;
        if accepted {
            return Err(WriteError::InvitationUsed);
        }
        if withdrawn {
            return Err(WriteError::InvitationWithdrawn);
        }
        if expires_at <= $now {
            return Err(WriteError::InvitationExpired);
        }
        let person = person.ok_or(WriteError::InvitationUnknown)?;
        (id, person, Organisation { kvk, rsin, name }, org_id)
    }};
}

const ADMIN_ROLES: [Role; 2] = [Role::Hoofdbeheerder, Role::Beheerder];

impl SqlRegister {
    /// Invites a person to an organisation with these roles.
    pub async fn invite(
        &self,
        actor: &Actor,
        kvk: &str,
        new: &NewInvitation,
        now: DateTime<Utc>,
    ) -> Result<(Invitation, Touched), WriteError> {
        let name = new.name.trim();
        let email = new.email.trim();
        in_tx!(self.pool(), |tx| {
            let (org_id, org_name) = organisation!(tx, kvk);
            // Appointing administrators is the hoofdbeheerder's; other users, any manager's.
            let need = if new.roles.iter().any(|r| ADMIN_ROLES.contains(r)) {
                Need::Appoint
            } else {
                Need::Manage
            };
            // A groepsbeheerder invites plain users into groups they administer.
            let into_groups = need == Need::Manage
                && !new.groups.is_empty()
                && new.roles.iter().all(|r| *r == Role::Gebruiker);
            if into_groups {
                for group in &new.groups {
                    let id: Option<String> = sqlx::query_scalar(
                        "SELECT id FROM groups WHERE organisation_id = $1 AND name = $2",
                    )
                    .bind(&org_id)
                    .bind(group)
                    .fetch_optional(&mut *tx)
                    .await?;
                    // Permission first: an unknown group is only named to whoever may know.
                    authorise!(
                        tx,
                        actor,
                        &org_id,
                        kvk,
                        Need::ManageGroup,
                        id.as_deref(),
                        "invite users"
                    );
                }
            } else {
                authorise!(tx, actor, &org_id, kvk, need, None, "invite users");
            }
            if name.is_empty() {
                return Err(WriteError::Empty { what: "name" });
            }
            check_email(email)?;
            let taken: Option<String> = sqlx::query_scalar(
                "SELECT p.id FROM persons p JOIN memberships m ON m.person_id = p.id \
                 WHERE m.organisation_id = $1 AND lower(p.email) = lower($2)",
            )
            .bind(&org_id)
            .bind(email)
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_some() {
                return Err(WriteError::DuplicateEmail {
                    email: email.to_string(),
                    organisation: kvk.to_string(),
                });
            }
            let person = uuid::Uuid::new_v4().to_string();
            sqlx::query(
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
            let membership = insert_membership!(tx, &person, &org_id, &new.roles, now);
            for group in &new.groups {
                let group_id = group!(tx, &org_id, kvk, group);
                sqlx::query(
                    "INSERT INTO group_members (membership_id, group_id, organisation_id, blocked) \
                     VALUES ($1, $2, $3, FALSE) ON CONFLICT DO NOTHING",
                )
                .bind(&membership)
                .bind(&group_id)
                .bind(&org_id)
                .execute(&mut *tx)
                .await?;
            }
            let id = uuid::Uuid::new_v4().to_string();
            let token = new_token();
            let expires_at = now + INVITATION_LIFETIME;
            sqlx::query(
                "INSERT INTO invitations (id, organisation_id, email, token_hash, created_by, \
                 created_at, expires_at, person_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&id)
            .bind(&org_id)
            .bind(email)
            .bind(token_hash(&token))
            .bind(actor.name())
            .bind(now)
            .bind(expires_at)
            .bind(&person)
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                &org_id,
                "invitation.create",
                None::<String>,
                json(&(&id, &person, name, email, &new.roles, &new.groups))
            );
            let invitation = Invitation {
                id,
                person,
                organisation: Organisation {
                    kvk: kvk.to_string(),
                    rsin: None,
                    name: org_name,
                },
                name: name.to_string(),
                email: email.to_string(),
                language: new.language.clone(),
                token,
                expires_at,
            };
            Ok((invitation, Touched::default()))
        })
    }

    /// A new link for an open invitation (the old one stops working), valid 24 hours again.
    pub async fn resend_invitation(
        &self,
        actor: &Actor,
        kvk: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(Invitation, Touched), WriteError> {
        in_tx!(self.pool(), |tx| {
            let (org_id, org_name) = organisation!(tx, kvk);
            authorise!(
                tx,
                actor,
                &org_id,
                kvk,
                Need::Manage,
                None,
                "resend invitations"
            );
            type Row = (
                String,
                Option<String>,
                Option<String>,
                Option<String>,
                String,
                bool,
                bool,
            );
            let row: Option<Row> = sqlx::query_as(
                "SELECT i.person_id, p.name, p.language, p.email, i.email, \
                        i.accepted_at IS NOT NULL, i.withdrawn_at IS NOT NULL \
                   FROM invitations i JOIN persons p ON p.id = i.person_id \
                  WHERE i.id = $1 AND i.organisation_id = $2",
            )
            .bind(id)
            .bind(&org_id)
            .fetch_optional(&mut *tx)
            .await?;
            let (person, name, language, _, email, accepted, withdrawn) =
                row.ok_or(WriteError::InvitationUnknown)?;
            if accepted {
                return Err(WriteError::InvitationUsed);
            }
            if withdrawn {
                return Err(WriteError::InvitationWithdrawn);
            }
            let token = new_token();
            let expires_at = now + INVITATION_LIFETIME;
            sqlx::query("UPDATE invitations SET token_hash = $1, expires_at = $2 WHERE id = $3")
                .bind(token_hash(&token))
                .bind(expires_at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            audit!(
                tx,
                actor,
                &org_id,
                "invitation.resend",
                None::<String>,
                json(&(id, &email))
            );
            let invitation = Invitation {
                id: id.to_string(),
                person,
                organisation: Organisation {
                    kvk: kvk.to_string(),
                    rsin: None,
                    name: org_name,
                },
                name: name.unwrap_or_default(),
                email,
                language,
                token,
                expires_at,
            };
            Ok((invitation, Touched::default()))
        })
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
        in_tx!(self.pool(), |tx| {
            let (org_id, _) = organisation!(tx, kvk);
            authorise!(
                tx,
                actor,
                &org_id,
                kvk,
                Need::Manage,
                None,
                "withdraw invitations"
            );
            let changed = sqlx::query(
                "UPDATE invitations SET withdrawn_at = $1 WHERE id = $2 AND organisation_id = $3 \
                 AND accepted_at IS NULL AND withdrawn_at IS NULL",
            )
            .bind(now)
            .bind(id)
            .bind(&org_id)
            .execute(&mut *tx)
            .await?;
            if changed.rows_affected() == 0 {
                return Err(WriteError::InvitationUnknown);
            }
            audit!(
                tx,
                actor,
                &org_id,
                "invitation.withdraw",
                None::<String>,
                json(&id)
            );
            Ok(((), Touched::default()))
        })
    }

    /// The newest invitation made for `person` in the organisation, if any.
    pub async fn invitation_of(
        &self,
        kvk: &str,
        person: &str,
    ) -> Result<Option<InvitationState>, WriteError> {
        const SQL: &str = "SELECT i.id, i.email, i.expires_at, i.accepted_at IS NOT NULL, \
                   i.withdrawn_at IS NOT NULL \
              FROM invitations i JOIN organisations o ON o.id = i.organisation_id \
             WHERE o.kvk = $1 AND i.person_id = $2 ORDER BY i.created_at DESC, i.id LIMIT 1";
        type Row = (String, String, DateTime<Utc>, bool, bool);
        let row: Option<Row> = match self.pool() {
            Pool::Sqlite(p) => {
                sqlx::query_as(SQL)
                    .bind(kvk)
                    .bind(person)
                    .fetch_optional(p)
                    .await?
            }
            Pool::Postgres(p) => {
                sqlx::query_as(SQL)
                    .bind(kvk)
                    .bind(person)
                    .fetch_optional(p)
                    .await?
            }
        };
        Ok(row.map(
            |(id, email, expires_at, accepted, withdrawn)| InvitationState {
                id,
                email,
                expires_at,
                accepted,
                withdrawn,
            },
        ))
    }

    /// Whether a link's invitation can still be accepted (checked before sending the person to
    /// their AD, and again, atomically, by [`SqlRegister::accept_invitation`]).
    pub async fn open_invitation(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Organisation, WriteError> {
        in_tx!(self.pool(), |tx| {
            let (_, _, organisation, _) = invitation_row!(tx, token, now);
            Ok::<_, WriteError>(organisation)
        })
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
        in_tx!(self.pool(), |tx| {
            let (id, person, organisation, org_id) = invitation_row!(tx, token, now);
            let holder: Option<String> = sqlx::query_scalar(
                "SELECT person_id FROM identity_links WHERE idp = $1 AND subject = $2",
            )
            .bind(idp)
            .bind(subject)
            .fetch_optional(&mut *tx)
            .await?;
            match holder {
                Some(h) if h != person => {
                    return Err(WriteError::LinkTaken {
                        idp: idp.to_string(),
                        subject: subject.to_string(),
                        person: h,
                    })
                }
                Some(_) => {}
                None => {
                    sqlx::query(
                        "INSERT INTO identity_links (idp, subject, person_id, created_at) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(idp)
                    .bind(subject)
                    .bind(&person)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            sqlx::query("UPDATE invitations SET accepted_at = $1, accepted_by = $2 WHERE id = $3")
                .bind(now)
                .bind(&person)
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            let name: Option<String> = sqlx::query_scalar("SELECT name FROM persons WHERE id = $1")
                .bind(&person)
                .fetch_one(&mut *tx)
                .await?;
            audit!(
                tx,
                actor,
                &org_id,
                "invitation.accept",
                None::<String>,
                json(&(&id, &person, idp, subject))
            );
            let touched = Touched {
                links: [IdentityKey::new(idp, subject)].into_iter().collect(),
            };
            Ok((
                Accepted {
                    person,
                    name,
                    organisation,
                },
                touched,
            ))
        })
    }
}
