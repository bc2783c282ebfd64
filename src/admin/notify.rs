//! Notices by e-mail: a grant revoked (to the people who held it), a user blocked (to them),
//! grants expiring within two months (to the organisation's hoofdbeheerders and beheerders, once
//! per validity period), and an administrator appointed (to the organisation's bevoegd
//! vertegenwoordigers bound to a person). People without an e-mail address get none. Notices are queued in the
//! register's mail outbox (the mail worker sends them); one that cannot be queued is logged,
//! without its address.
//!
//! The expiry reminders are a periodic job that every replica schedules and one runs:
//! [`ReminderJob`] runs them only while it holds the `reminders` lease
//! ([`crate::grants::lease`]), and each grant is marked reminded in the same transaction that
//! queues its mails, so a grant is reminded once however many runs see it due.

use crate::grants::db::{sql, Pool};
use crate::grants::lease::Lease;
use crate::grants::{RepresentativeBinding, Role};
use crate::mail::{self, Mail, Mailer, Recipient};
use chrono::{DateTime, TimeDelta, Utc};

/// Reminders go out this long before a grant ends.
pub const REMIND_BEFORE: TimeDelta = TimeDelta::days(61);

type PersonRow = (Option<String>, Option<String>, Option<String>);

fn recipients(rows: Vec<PersonRow>) -> Vec<Recipient> {
    rows.into_iter()
        .filter_map(|(name, email, language)| {
            Some(Recipient {
                name,
                email: email.filter(|e| !e.is_empty())?,
                language,
            })
        })
        .collect()
}

const HOLDERS: &str = "\
SELECT p.name, p.email, p.language FROM grants g
  JOIN memberships m ON m.id = g.membership_id JOIN persons p ON p.id = m.person_id
 WHERE g.id = $1
UNION
SELECT p.name, p.email, p.language FROM grants g
  JOIN group_members gm ON gm.group_id = g.group_id
  JOIN memberships m ON m.id = gm.membership_id JOIN persons p ON p.id = m.person_id
 WHERE g.id = $1";

/// The holder of a grant held by a membership (a group's grant is renewed by its administrators).
const OWN_HOLDER: &str = "\
SELECT p.name, p.email, p.language FROM grants g
  JOIN memberships m ON m.id = g.membership_id JOIN persons p ON p.id = m.person_id
 WHERE g.id = $1";

const PERSON: &str = "SELECT name, email, language FROM persons WHERE id = $1";

const MANAGERS: &str = "\
SELECT DISTINCT p.name, p.email, p.language FROM memberships m
  JOIN membership_roles r ON r.membership_id = m.id
  JOIN organisations o ON o.id = m.organisation_id
  JOIN persons p ON p.id = m.person_id
 WHERE o.kvk = $1 AND r.role IN ('hoofdbeheerder', 'beheerder') AND NOT m.blocked";

/// A grant was revoked: tell the people who held it. How many notices were queued.
pub async fn grant_revoked(
    pool: &Pool,
    mailer: &Mailer,
    grant: &str,
    organisation: &str,
) -> Result<usize, sqlx::Error> {
    let mails: Vec<Mail> = recipients(sql(HOLDERS).bind(grant).fetch_all(pool).await?)
        .iter()
        .map(|r| r.mail(
            (format!("Machtiging ingetrokken ({organisation})"), format!("Beste {},\n\nUw machtiging {grant} namens {organisation} is ingetrokken. U kunt daarmee niet meer inloggen bij de diensten die zij dekte.\n\nVragen? Neem contact op met de beheerder van uw organisatie.\n", r.dear())),
            (format!("Authorisation revoked ({organisation})"), format!("Dear {},\n\nYour authorisation {grant} on behalf of {organisation} has been revoked. You can no longer log in with it to the services it covered.\n\nQuestions? Contact your organisation's administrator.\n", r.dear())),
        ))
        .collect();
    Ok(mailer.enqueue_all(mails).await)
}

/// A member was blocked for the whole organisation: tell them. How many notices were queued.
pub async fn member_blocked(
    pool: &Pool,
    mailer: &Mailer,
    person: &str,
    organisation: &str,
) -> Result<usize, sqlx::Error> {
    let mails: Vec<Mail> = recipients(sql(PERSON).bind(person).fetch_all(pool).await?)
        .iter()
        .map(|r| r.mail(
            (format!("Toegang geblokkeerd ({organisation})"), format!("Beste {},\n\nUw toegang namens {organisation} is geblokkeerd. U kunt niet meer namens deze organisatie inloggen tot een beheerder de blokkade opheft.\n", r.dear())),
            (format!("Access blocked ({organisation})"), format!("Dear {},\n\nYour access on behalf of {organisation} has been blocked. You cannot log in on its behalf until an administrator lifts the block.\n", r.dear())),
        ))
        .collect();
    Ok(mailer.enqueue_all(mails).await)
}

/// The organisation's directors bound to a person, but `$2` (the appointee).
const REPRESENTATIVES: &str = "\
SELECT DISTINCT p.name, p.email, p.language FROM representatives r
  JOIN organisations o ON o.id = r.organisation_id
  JOIN persons p ON p.id = r.person_id
 WHERE o.kvk = $1 AND r.person_id <> $2";

/// The administrator's role among `roles` that its bevoegd vertegenwoordigers hear of: the
/// highest of hoofdbeheerder and beheerder.
pub fn appointed_role(roles: &[Role]) -> Option<Role> {
    [Role::Hoofdbeheerder, Role::Beheerder]
        .into_iter()
        .find(|r| roles.contains(r))
}

/// `person` became hoofdbeheerder or beheerder (`role`) of organisation `kvk` (by a role
/// change, an accepted invitation or link request, an activation, or a sole director's binding
/// at login): tell its bevoegd vertegenwoordigers who are bound to a person with an e-mail
/// address, but the appointee. How many notices were queued.
pub async fn administrator_appointed(
    pool: &Pool,
    mailer: &Mailer,
    kvk: &str,
    person: &str,
    role: Role,
) -> Result<usize, sqlx::Error> {
    let directors = recipients(
        sql(REPRESENTATIVES)
            .bind(kvk)
            .bind(person)
            .fetch_all(pool)
            .await?,
    );
    if directors.is_empty() {
        return Ok(0);
    }
    let organisation: Option<String> = sql("SELECT name FROM organisations WHERE kvk = $1")
        .bind(kvk)
        .scalar_optional(pool)
        .await?;
    let organisation = organisation.unwrap_or_else(|| kvk.to_string());
    let appointee: Option<Option<String>> = sql("SELECT name FROM persons WHERE id = $1")
        .bind(person)
        .scalar_optional(pool)
        .await?;
    let appointee = appointee.flatten().unwrap_or_default();
    let (role_nl, role_en) = match role {
        Role::Hoofdbeheerder => ("hoofdbeheerder", "main administrator (hoofdbeheerder)"),
        _ => ("beheerder", "administrator (beheerder)"),
    };
    let mails: Vec<Mail> = directors
        .iter()
        .map(|r| r.mail(
            (format!("Nieuwe {role_nl} voor {organisation}"), format!("Beste {},\n\n{appointee} is {role_nl} geworden van {organisation} bij eHerkenning (poort). Een {role_nl} stelt gebruikers aan en geeft machtigingen namens de organisatie.\n\nU ontvangt dit bericht als bevoegd vertegenwoordiger van {organisation}. Klopt dit niet? Neem dan contact op met de beheerder van poort.\n", r.dear())),
            (format!("New {role_en} for {organisation}"), format!("Dear {},\n\n{appointee} has become {role_en} of {organisation} for eHerkenning (poort). An administrator appoints users and gives authorisations on behalf of the organisation.\n\nYou receive this message as a legal representative (bevoegd vertegenwoordiger) of {organisation}. Is this not right? Then contact poort's operator.\n", r.dear())),
        ))
        .collect();
    Ok(mailer.enqueue_all(mails).await)
}

/// Tells the bevoegd vertegenwoordigers of organisation `kvk` when `person`, with `before` as
/// their roles, now holds a higher administrator's role (beheerder, or hoofdbeheerder) with
/// `after`. Logged, by organisation and person ID, when it fails; the change itself stands.
pub async fn if_appointed(
    pool: &Pool,
    mailer: &Mailer,
    kvk: &str,
    person: &str,
    (before, after): (&[Role], &[Role]),
) {
    let rank = |roles: &[Role]| match appointed_role(roles) {
        Some(Role::Hoofdbeheerder) => 2,
        Some(_) => 1,
        None => 0,
    };
    let Some(role) = appointed_role(after).filter(|_| rank(after) > rank(before)) else {
        return;
    };
    if let Err(e) = administrator_appointed(pool, mailer, kvk, person, role).await {
        tracing::error!(organisation = %kvk, person = %person, "appointment notice: {e}");
    }
}

/// After `SqlRegister::bind_representative`: the directors of each organisation where the
/// bound person became hoofdbeheerder are told. How many notices were queued; a failure is
/// logged by organisation and person ID.
pub async fn representatives_bound(
    pool: &Pool,
    mailer: &Mailer,
    bindings: &[RepresentativeBinding],
) -> usize {
    let mut queued = 0;
    for b in bindings.iter().filter(|b| b.became_hoofdbeheerder) {
        let kvk = &b.organisation.kvk;
        match administrator_appointed(pool, mailer, kvk, &b.person, Role::Hoofdbeheerder).await {
            Ok(n) => queued += n,
            Err(e) => {
                tracing::error!(organisation = %kvk, person = %b.person, "appointment notice: {e}")
            }
        }
    }
    queued
}

type ExpiringRow = (String, String, String, DateTime<Utc>);
/// A grant due for a reminder, and its end.
type Expiring = (String, DateTime<Utc>);

const EXPIRING: &str = "\
SELECT g.id, o.kvk, o.name, g.valid_until FROM grants g
  JOIN organisations o ON o.id = g.organisation_id
 WHERE g.status = 'active' AND g.reminded_at IS NULL AND g.valid_until > $1 AND g.valid_until <= $2
 ORDER BY o.kvk, g.valid_until";

/// Marks a grant reminded unless another run marked it first.
const MARK: &str = "UPDATE grants SET reminded_at = $1 WHERE id = $2 AND reminded_at IS NULL";

/// The reminder to one manager, listing the grants.
fn reminder(r: &Recipient, name: &str, grants: &[Expiring]) -> Mail {
    let list: String = grants
        .iter()
        .map(|(id, until)| format!("- {id}: {}\n", until.format("%Y-%m-%d")))
        .collect();
    r.mail(
        (format!("Machtigingen verlopen binnenkort ({name})"), format!("Beste {},\n\nDeze machtigingen van {name} verlopen binnen twee maanden:\n{list}\nVerleng ze in de beheermodule met 1, 3 of 5 jaar als ze nodig blijven.\n", r.dear())),
        (format!("Authorisations expire soon ({name})"), format!("Dear {},\n\nThese authorisations of {name} expire within two months:\n{list}\nRenew them in the admin module by 1, 3 or 5 years if they are still needed.\n", r.dear())),
    )
}

/// The reminder to a grant's holder, with the link that asks for its renewal.
fn holder_reminder(
    r: &Recipient,
    name: &str,
    grant: &str,
    until: DateTime<Utc>,
    link: &str,
) -> Mail {
    let day = until.format("%Y-%m-%d");
    r.mail(
        (format!("Uw machtiging verloopt binnenkort ({name})"), format!("Beste {},\n\nUw machtiging {grant} namens {name} verloopt op {day}.\n\nHeeft u haar nog nodig? Vraag met één klik verlenging aan (u logt eerst in):\n{link}\n", r.dear())),
        (format!("Your authorisation expires soon ({name})"), format!("Dear {},\n\nYour authorisation {grant} on behalf of {name} expires on {day}.\n\nStill needed? Ask for its renewal in one click (you log in first):\n{link}\n", r.dear())),
    )
}

/// In one transaction: marks the grants no other run has marked yet, and queues the managers'
/// mails naming those. The grants it marked.
async fn mark_and_queue(
    pool: &Pool,
    grants: &[Expiring],
    name: &str,
    managers: &[Recipient],
    renew_at: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<Expiring>, sqlx::Error> {
    // The first statement writes, so SQLite takes its write lock at once (a read first could
    // not upgrade after another replica's commit).
    let mut tx = pool.begin().await?;
    let mut marked = Vec::new();
    for (id, until) in grants {
        let changed = sql(MARK).bind(now).bind(id).execute(&mut tx).await?;
        if changed > 0 {
            marked.push((id.clone(), *until));
        }
    }
    if !marked.is_empty() {
        // Queued for now by the clock, whatever moment the run is for.
        let queued = Utc::now();
        for r in managers {
            mail::queue_in(&mut tx, &reminder(r, name, &marked), queued).await?;
        }
        if let Some(renew_at) = renew_at {
            for (grant, until) in &marked {
                let holders = recipients(sql(OWN_HOLDER).bind(grant).fetch_all(&mut tx).await?);
                let link = format!("{renew_at}{grant}");
                for r in holders.iter().filter(|r| mail::is_usable_address(&r.email)) {
                    let mail = holder_reminder(r, name, grant, *until, &link);
                    mail::queue_in(&mut tx, &mail, queued).await?;
                }
            }
        }
    }
    tx.commit().await?;
    Ok(marked)
}

/// Queues the "expires within two months" reminders that are due: one mail per organisation to
/// its hoofdbeheerders and beheerders, listing the grants; each grant is reminded once per
/// validity period (a grant another run reminded meanwhile is left out). Returns how many grants
/// this call reminded.
pub async fn remind_expiring(
    pool: &Pool,
    mailer: &Mailer,
    now: DateTime<Utc>,
) -> Result<usize, sqlx::Error> {
    remind(pool, mailer, now, None).await
}

/// [`remind_expiring`], and with `renew_at` each grant's holder reminded too, with the link
/// that asks for its renewal.
pub async fn remind(
    pool: &Pool,
    mailer: &Mailer,
    now: DateTime<Utc>,
    renew_at: Option<&str>,
) -> Result<usize, sqlx::Error> {
    let horizon = now + REMIND_BEFORE;
    let due: Vec<ExpiringRow> = sql(EXPIRING)
        .bind(now)
        .bind(horizon)
        .fetch_all(pool)
        .await?;
    let mut reminded = 0;
    let mut by_org: std::collections::BTreeMap<(String, String), Vec<Expiring>> =
        Default::default();
    for (id, kvk, name, until) in due {
        by_org.entry((kvk, name)).or_default().push((id, until));
    }
    for ((kvk, name), grants) in by_org {
        let managers: Vec<Recipient> = recipients(sql(MANAGERS).bind(&kvk).fetch_all(pool).await?)
            .into_iter()
            .filter(|r| mail::is_usable_address(&r.email))
            .collect();
        // Marked whether or not a mail goes: without managers with an address there is nobody
        // to tell, and trying daily would only repeat itself.
        let marked = mark_and_queue(pool, &grants, &name, &managers, renew_at, now).await?;
        if !marked.is_empty() && !managers.is_empty() {
            mailer.wake();
        }
        reminded += marked.len();
    }
    Ok(reminded)
}

/// The name of the reminders' lease.
pub const REMINDER_LEASE: &str = "reminders";

/// The expiry reminders as a periodic job: every replica schedules it, the one that holds the
/// `reminders` lease runs it.
#[derive(Debug, Clone)]
pub struct ReminderJob {
    mailer: Mailer,
    lease: Lease,
    every: std::time::Duration,
    /// Where a holder asks for renewal (`…/mijn/renew/`, the grant's ID appended): with it,
    /// each grant's holder gets a reminder of their own with that link.
    renew_at: Option<String>,
}

impl ReminderJob {
    /// The job for `holder` (unique per process), run every `every`. The lease lasts two
    /// periods: the holder renews it at each run, and when it stops, another replica takes over
    /// within two periods.
    pub fn new(mailer: Mailer, holder: &str, every: std::time::Duration) -> ReminderJob {
        let lease = Lease::for_period(mailer.pool().clone(), REMINDER_LEASE, holder, every);
        ReminderJob {
            mailer,
            lease,
            every,
            renew_at: None,
        }
    }

    /// Also reminds each grant's holder, with the link to ask for its renewal in Mijn poort
    /// (`renew_at` + the grant's ID).
    pub fn with_renewal_links(mut self, renew_at: &str) -> ReminderJob {
        self.renew_at = Some(renew_at.to_string());
        self
    }

    /// One run at `now`: the number of grants reminded, or `None` when another replica holds
    /// the lease.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<Option<usize>, sqlx::Error> {
        if !self.lease.acquire(now).await? {
            return Ok(None);
        }
        remind(
            self.mailer.pool(),
            &self.mailer,
            now,
            self.renew_at.as_deref(),
        )
        .await
        .map(Some)
    }

    /// Runs at start, then every `every`, for as long as the process lives.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        crate::grants::lease::spawn_every(self.every, move || {
            let job = self.clone();
            async move {
                match job.run_once(Utc::now()).await {
                    Ok(None) | Ok(Some(0)) => {}
                    Ok(Some(n)) => tracing::info!(grants = n, "expiry reminders queued"),
                    Err(e) => tracing::error!("expiry reminders: {e}"),
                }
            }
        })
    }
}
