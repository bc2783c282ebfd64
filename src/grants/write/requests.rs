//! Requests and their sign-off: a person asks an organisation for an extra grant, to be linked to
//! it, or to renew one of their grants; someone who may sign (an administrator within their
//! rights and level, or a bevoegd vertegenwoordiger) approves, perhaps lowering level and
//! validity, or declines with a reason; a director with joint authority signs first of two where
//! the organisation says so; the requester may withdraw; after 30 days undecided it expires.
//!
//! Who may sign is the domain's rule (`domain::request::sign`); this file finds the signer's
//! capacities in the register, tries them from the widest, stores what the signature did and, on
//! an approval, makes the grants, renews the grant or makes the membership, all in one
//! transaction with its audit rows.

use super::grants::{insert_grant, renew_one, GrantRequest, Renewal};
use super::{
    admin_level, commit_recorded, find_membership, insert_membership, links_of, member_of,
    organisation, Actor, Record, Touching, LINKS_OF_PERSON,
};
use crate::config::ServiceConfig;
use crate::domain::grant::{GrantStatus, Role, Scope, Touched};
use crate::domain::level::Level;
use crate::domain::request::{
    sign, Authority, Capacity, RequestKind, RequestState, SignOffPolicy, SignRefusal, SignedOff,
    Signer, Validity, Verdict, REPRESENTATIVE_LEVEL, REQUEST_LIFETIME,
};
use crate::grants::check::{check_kvk, check_scope};
use crate::grants::db::{sql, Args, Sql, Tx};
use crate::grants::error::WriteError;
use crate::grants::read::requests::{stored_request, stored_requests};
use crate::grants::sql::{scope_columns, SqlRegister};
use crate::grants::views::{Holder, RequestView};
use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What a person asks for, as Mijn poort and the API take it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRequest {
    /// KvK number of the organisation asked.
    pub organisation: String,
    pub kind: RequestKind,
    /// Why, in the requester's words (optional).
    #[serde(default)]
    pub motivation: Option<String>,
}

/// What a signature did, with the request as it now stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedRequest {
    pub request: RequestView,
    pub signed: SignedOff,
    /// The grants an approval made (a grant request) or renewed (a renewal).
    pub grants: Vec<String>,
}

/// The longest motivation or reason kept.
const TEXT_LIMIT: usize = 2000;

fn trimmed(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| t.chars().take(TEXT_LIMIT).collect())
}

/// A grant's end `validity` years after `from`.
fn ends(from: DateTime<Utc>, validity: Validity) -> Result<DateTime<Utc>, WriteError> {
    from.checked_add_months(Months::new(validity.years() * 12))
        .ok_or(WriteError::RenewalYears(validity.years()))
}

impl SqlRegister {
    /// `person` asks: checks what is asked (a member asking for grants within the catalogue; a
    /// non-member asking to be linked; the holder renewing their own grant), refuses a second
    /// open request for the same link or renewal, stores it with its audit row.
    pub async fn ask(
        &self,
        person: &str,
        new: &NewRequest,
        catalogue: &[ServiceConfig],
        now: DateTime<Utc>,
    ) -> Result<(RequestView, Touched), WriteError> {
        let kvk = new.organisation.trim();
        check_kvk(kvk)?;
        let actor = Actor::Signer(person.to_string());
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let org = standing(tx, kvk).await?;
        if !org.active {
            return Err(WriteError::OrganisationNotActive(kvk.to_string()));
        }
        let org_id = org.id;
        // What is asked, checked; and for a link or a renewal the grant (`""` for a link) that
        // a second open request must not name again.
        let (level, validity, grant_id, once_per) = match &new.kind {
            RequestKind::Grant {
                scopes,
                level,
                validity,
            } => {
                member_of(tx, person, &org_id, kvk).await?;
                if scopes.is_empty() {
                    return Err(WriteError::Empty { what: "scope" });
                }
                for scope in scopes {
                    check_scope(scope, catalogue)?;
                }
                (Some(*level), Some(*validity), None, None)
            }
            RequestKind::Link => {
                if find_membership(tx, person, &org_id).await?.is_some() {
                    return Err(WriteError::DuplicateMember {
                        person: person.to_string(),
                        organisation: kvk.to_string(),
                    });
                }
                (None, None, None, Some(""))
            }
            RequestKind::Renewal {
                grant_id, validity, ..
            } => {
                let membership = member_of(tx, person, &org_id, kvk).await?;
                // Only a grant of the person's own membership: a group's grant is the group's.
                let held: Option<(String, String)> =
                    sql("SELECT level, status FROM grants WHERE id = $1 AND membership_id = $2")
                        .bind(grant_id)
                        .bind(&membership)
                        .fetch_optional(&mut *tx)
                        .await?;
                let (level, status) =
                    held.ok_or_else(|| WriteError::UnknownGrant(grant_id.clone()))?;
                if status == "revoked" {
                    return Err(WriteError::GrantRevoked(grant_id.clone()));
                }
                let level: Level = level
                    .parse()
                    .map_err(|_| WriteError::UnknownGrant(grant_id.clone()))?;
                // A renewal keeps the grant's level, whatever the form said.
                let once = Some(grant_id.as_str());
                (Some(level), Some(*validity), Some(grant_id.clone()), once)
            }
        };
        if let Some(grant) = once_per {
            let existing: Option<String> = sql(
                "SELECT id FROM requests WHERE person_id = $1 AND organisation_id = $2 \
                 AND kind = $3 AND COALESCE(grant_id, '') = $4 \
                 AND state IN ('open', 'awaiting_second') AND expires_at > $5",
            )
            .bind(person)
            .bind(&org_id)
            .bind(new.kind.as_str())
            .bind(grant)
            .bind(now)
            .scalar_optional(&mut *tx)
            .await?;
            if let Some(existing) = existing {
                return Err(WriteError::DuplicateRequest(existing));
            }
        }
        let id = uuid::Uuid::new_v4().to_string();
        sql(
            "INSERT INTO requests (id, organisation_id, person_id, kind, grant_id, level, \
             validity_years, motivation, state, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $10)",
        )
        .bind(&id)
        .bind(&org_id)
        .bind(person)
        .bind(new.kind.as_str())
        .bind(grant_id)
        .bind(level.map(|l| l.to_string()))
        .bind(validity.map(|v| v.years() as i32))
        .bind(trimmed(new.motivation.as_deref()))
        .bind(now)
        .bind(now + REQUEST_LIFETIME)
        .execute(&mut *tx)
        .await?;
        if let RequestKind::Grant { scopes, .. } = &new.kind {
            for (position, scope) in scopes.iter().enumerate() {
                let (kind, provider, service) = scope_columns(scope);
                sql(
                    "INSERT INTO request_scopes (request_id, position, scope_kind, provider, \
                     service_uuid) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&id)
                .bind(i32::try_from(position).unwrap_or(i32::MAX))
                .bind(kind)
                .bind(provider)
                .bind(service)
                .execute(&mut *tx)
                .await?;
            }
        }
        let record = Record::new(&actor, &org_id, "request.create").after(&(&id, &new.kind));
        let view = stored_request(tx, &id, now).await?;
        commit_recorded(transaction, record, view, Touching::Nobody).await
    }

    /// `signer`, logged in at `session_level`, signs request `id` off with `verdict`. A request
    /// the signer has no capacity for is "unknown", as one that does not exist.
    pub async fn sign_request(
        &self,
        signer: &str,
        session_level: Level,
        id: &str,
        verdict: &Verdict,
        catalogue: &[ServiceConfig],
        now: DateTime<Utc>,
    ) -> Result<(SignedRequest, Touched), WriteError> {
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let view = stored_request(tx, id, now).await?;
        let request = &view.request;
        let org = standing(tx, &request.organisation).await?;
        let org_id = org.id;
        let capacities = capacities(tx, signer, &org_id, request, session_level, now).await?;
        if capacities.is_empty() {
            // No standing in the organisation: the requester is told why, anyone else sees no
            // such request.
            return Err(if signer == request.requester {
                WriteError::SignRefused(SignRefusal::OwnRequest)
            } else {
                WriteError::RequestUnknown
            });
        }
        // From the widest capacity to the narrowest; if all refuse, the first refusal says why.
        let mut refusal = None;
        let mut signed = None;
        for capacity in capacities {
            let attempt = capacity.and_then(|capacity| {
                let who = Signer {
                    person: signer.to_string(),
                    capacity,
                };
                let policy = SignOffPolicy {
                    joint_needs_two: org.joint_needs_two,
                };
                sign(request, &who, verdict, policy, now).map(|done| (done, who))
            });
            match attempt {
                Ok(done) => {
                    signed = Some(done);
                    break;
                }
                Err(why) => {
                    refusal.get_or_insert(why);
                }
            }
        }
        let Some((signed, who)) = signed else {
            return Err(WriteError::SignRefused(
                refusal.unwrap_or(SignRefusal::NotPending),
            ));
        };
        let actor = Actor::Signer(signer.to_string());
        let state = crate::domain::request::next_state(&signed, &who);
        let mut made = Vec::new();
        let mut touched = BTreeSet::new();
        if let SignedOff::Approved(granted) = &signed {
            (made, touched) =
                carry_out(tx, &actor, (&org_id, &view), *granted, catalogue, now).await?;
        }
        let (first, reason, decided) = match &state {
            RequestState::AwaitingSecondSignature { first } => (Some(first.clone()), None, false),
            RequestState::Declined { reason } => (None, Some(reason.clone()), true),
            _ => (None, None, true),
        };
        let granted = match &signed {
            SignedOff::Approved(granted) => *granted,
            _ => None,
        };
        sql(
            "UPDATE requests SET state = $1, first_signer = COALESCE($2, first_signer), \
             reason = $3, decided_at = $4, decided_by = $5, granted_level = $6, \
             granted_validity = $7 WHERE id = $8",
        )
        .bind(state.as_str())
        .bind(first)
        .bind(reason)
        .bind(decided.then_some(now))
        .bind(decided.then(|| actor.name()))
        .bind(granted.map(|(l, _)| l.to_string()))
        .bind(granted.map(|(_, v)| v.years() as i32))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let action = match &signed {
            SignedOff::Approved(_) => "request.approve",
            SignedOff::FirstOfTwo => "request.sign_first",
            SignedOff::Declined { .. } => "request.decline",
        };
        let record = Record::new(&actor, &org_id, action)
            .before(&(id, request.state.as_str()))
            .after(&(id, &state, &who.capacity, &made));
        let request = stored_request(tx, id, now).await?;
        let signed = SignedRequest {
            request,
            signed,
            grants: made,
        };
        commit_recorded(transaction, record, signed, Touching::Links(touched)).await
    }

    /// The requester takes their open request back.
    pub async fn withdraw_request(
        &self,
        person: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(RequestView, Touched), WriteError> {
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let view = stored_request(tx, id, now).await?;
        if view.request.requester != person {
            return Err(WriteError::NotTheRequester);
        }
        match &view.request.state {
            s if s.is_open() => {}
            RequestState::Expired => return Err(WriteError::SignRefused(SignRefusal::Expired)),
            _ => return Err(WriteError::SignRefused(SignRefusal::NotPending)),
        }
        let (org_id, _) = organisation(tx, &view.request.organisation).await?;
        let actor = Actor::Signer(person.to_string());
        sql(
            "UPDATE requests SET state = 'withdrawn', decided_at = $1, decided_by = $2 \
             WHERE id = $3",
        )
        .bind(now)
        .bind(actor.name())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let record = Record::new(&actor, &org_id, "request.withdraw").after(&id);
        let view = stored_request(tx, id, now).await?;
        commit_recorded(transaction, record, view, Touching::Nobody).await
    }

    /// Marks every request still open after its 30 days as expired, with an audit row each;
    /// the requests it marked (for the mails).
    pub async fn expire_requests(
        &self,
        now: DateTime<Utc>,
    ) -> Result<(Vec<RequestView>, Touched), WriteError> {
        let mut transaction = self.pool().begin_write().await?;
        let tx = &mut transaction;
        let due: Vec<(String, String)> = sql("SELECT id, organisation_id FROM requests \
             WHERE state IN ('open', 'awaiting_second') AND expires_at <= $1 \
             ORDER BY expires_at, id")
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let actor = Actor::Operator("request-expiry".into());
        let mut expired = Vec::new();
        // In batches, each one UPDATE and one read (an IN list stays well within what both
        // databases bind); the audit trail keeps a row per request.
        for batch in due.chunks(500) {
            let ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
            let mut args = Args::default();
            let (at, by) = (args.push(now), args.push(actor.name()));
            let list = args.list(ids.iter().map(String::as_str));
            Sql::assembled(
                format!(
                    "UPDATE requests SET state = 'expired', decided_at = {at}, \
                     decided_by = {by} WHERE id IN ({list})"
                ),
                args,
            )
            .execute(&mut *tx)
            .await?;
            for (id, org_id) in batch {
                Record::new(&actor, org_id, "request.expire")
                    .after(id)
                    .append(tx)
                    .await?;
            }
            expired.extend(stored_requests(tx, &ids, now).await?);
        }
        super::commit_touching(transaction, expired, Touching::Nobody).await
    }
}

/// What a request's writes need of its organisation, read once: its internal ID, whether it is
/// active, and its setting for directors with joint authority.
struct Standing {
    id: String,
    active: bool,
    joint_needs_two: bool,
}

async fn standing(tx: &mut Tx, kvk: &str) -> Result<Standing, WriteError> {
    let found: Option<(String, Option<DateTime<Utc>>, bool)> =
        sql("SELECT id, activated_at, joint_needs_two FROM organisations WHERE kvk = $1")
            .bind(kvk)
            .fetch_optional(tx)
            .await?;
    let (id, activated_at, joint_needs_two) =
        found.ok_or_else(|| WriteError::UnknownOrganisation(kvk.to_string()))?;
    Ok(Standing {
        id,
        active: activated_at.is_some(),
        joint_needs_two,
    })
}

/// Every capacity in which `signer` might sign `request` of organisation `org_id`, widest first:
/// a director with sole authority, an administrator (their level capped by the login's), a
/// director with joint authority. A capacity the login's level rules out is its refusal.
async fn capacities(
    tx: &mut Tx,
    signer: &str,
    org_id: &str,
    request: &crate::domain::request::Request,
    session_level: Level,
    now: DateTime<Utc>,
) -> Result<Vec<Result<Capacity, SignRefusal>>, WriteError> {
    let authorities: Vec<String> =
        sql("SELECT authority FROM representatives WHERE person_id = $1 AND organisation_id = $2")
            .bind(signer)
            .bind(org_id)
            .scalars(&mut *tx)
            .await?;
    let director = |authority: Authority| {
        if session_level >= REPRESENTATIVE_LEVEL {
            Ok(Capacity::Representative(authority))
        } else {
            Err(SignRefusal::RepresentativeLevel {
                reached: session_level,
            })
        }
    };
    let mut out = Vec::new();
    if authorities.iter().any(|a| a == "sole") {
        out.push(director(Authority::Sole));
    }
    let roles: Vec<String> = sql(
        "SELECT r.role FROM membership_roles r JOIN memberships m ON m.id = r.membership_id \
         WHERE m.person_id = $1 AND m.organisation_id = $2 AND NOT m.blocked",
    )
    .bind(signer)
    .bind(org_id)
    .scalars(&mut *tx)
    .await?;
    let role = [Role::Hoofdbeheerder, Role::Beheerder, Role::Groepsbeheerder]
        .into_iter()
        .find(|r| roles.iter().any(|x| x == r.as_str()));
    if let Some(role) = role {
        let manages_requester = role != Role::Groepsbeheerder || {
            let found: Option<i32> = sql(
                "SELECT 1 FROM group_members ga JOIN memberships ma ON ma.id = ga.membership_id \
                   JOIN group_members gr ON gr.group_id = ga.group_id AND NOT gr.blocked \
                   JOIN memberships mr ON mr.id = gr.membership_id \
                  WHERE ma.person_id = $1 AND ga.admin AND NOT ga.blocked AND NOT ma.blocked \
                    AND ga.organisation_id = $3 AND mr.person_id = $2",
            )
            .bind(signer)
            .bind(&request.requester)
            .bind(org_id)
            .scalar_optional(&mut *tx)
            .await?;
            found.is_some()
        };
        // Their own level in the organisation, no higher than the login reached. Without a
        // usable grant of their own they give none (declining and linking need no level).
        let own = admin_level(tx, signer, org_id, now).await?;
        let level = own.map_or(Level::Eh2, |own| own.min(session_level));
        if own.is_some() || request.kind.asks().is_none() {
            out.push(Ok(Capacity::Administrator {
                role,
                level,
                manages_requester,
            }));
        } else {
            out.push(Err(SignRefusal::AboveOwnLevel {
                asked: request.kind.asks().map_or(level, |(l, _)| l),
                own: level,
            }));
        }
    }
    if authorities.iter().any(|a| a == "joint") {
        out.push(director(Authority::Joint));
    }
    // Keep refusals only where there is some capacity at all: no relation is "unknown".
    if out.iter().all(|c| c.is_err()) && roles.is_empty() && authorities.is_empty() {
        out.clear();
    }
    Ok(out)
}

/// What an approval makes: the grants asked for (one per scope, from now for the validity
/// given), the renewed grant, or the membership; their IDs and whose grant sets changed.
async fn carry_out(
    tx: &mut Tx,
    actor: &Actor,
    (org_id, view): (&str, &RequestView),
    granted: Option<(Level, Validity)>,
    catalogue: &[ServiceConfig],
    now: DateTime<Utc>,
) -> Result<(Vec<String>, BTreeSet<crate::domain::grant::IdentityKey>), WriteError> {
    let request = &view.request;
    let kvk = request.organisation.as_str();
    let person = request.requester.as_str();
    let mut made = Vec::new();
    match (&request.kind, granted) {
        (RequestKind::Grant { scopes, .. }, Some((level, validity))) => {
            for scope in scopes {
                let grant = GrantRequest {
                    id: None,
                    organisation: kvk.to_string(),
                    holder: Holder::Person(person.to_string()),
                    scope: Scope::clone(scope),
                    level,
                    valid_from: now,
                    valid_until: ends(now, validity)?,
                };
                let (id, _) =
                    insert_grant(tx, actor, catalogue, &grant, GrantStatus::Active).await?;
                made.push(id);
            }
        }
        (RequestKind::Renewal { grant_id, .. }, Some((level, validity))) => {
            // From its current end (or now, once ended) for the years given, but never more than
            // the 5 years from now a grant may run.
            let until: Option<DateTime<Utc>> = sql("SELECT valid_until FROM grants WHERE id = $1")
                .bind(grant_id)
                .scalar_optional(&mut *tx)
                .await?;
            let until = until.ok_or_else(|| WriteError::UnknownGrant(grant_id.clone()))?;
            let wanted = ends(until.max(now), validity)?;
            let until = wanted.min(ends(now, Validity::FiveYears)?);
            renew_one(tx, actor, grant_id, Renewal::Until(until), now).await?;
            // Approved at a lower level than the grant had: the renewed grant has that level.
            sql("UPDATE grants SET level = $1 WHERE id = $2 AND level <> $1")
                .bind(level.to_string())
                .bind(grant_id)
                .execute(&mut *tx)
                .await?;
            made.push(grant_id.clone());
        }
        (RequestKind::Link, _) => {
            insert_membership(tx, person, org_id, kvk, &[Role::Gebruiker], now).await?;
        }
        _ => {}
    }
    let touched = links_of(tx, LINKS_OF_PERSON, person).await?;
    Ok((made, touched))
}
