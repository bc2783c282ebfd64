//! The benchmark's register: one person P with `memberships` organisations and `grants` grants
//! spread over them, a long audit trail, their own requests; one organisation O (P's first,
//! where P is hoofdbeheerder and a bound bevoegd vertegenwoordiger) with `open` open requests
//! from as many other members and `decided` decided ones; and other organisations' requests that
//! P may not sign, so the lists must find P's among many.
//!
//! Rows are drawn in memory here and written by `bulk.rs`.

use crate::bulk::{n, t, write, Table, V};
use crate::Error;
use chrono::{DateTime, TimeDelta, Utc};
use poort::grants::Pool;
use std::time::Instant;

/// The AD that P's and everybody's identities come from, and a second one P also uses.
const AD: &str = "urn:etoegang:AD:00000099990000000003:entities:1";
const OTHER_AD: &str = "urn:etoegang:AD:00000099990000000004:entities:1";

/// How much of everything to make.
#[derive(Debug, Clone, clap::Args)]
pub struct Sizes {
    /// P's organisations (the first is O).
    #[arg(long, default_value_t = 50)]
    pub memberships: usize,
    /// P's grants, spread over their memberships.
    #[arg(long, default_value_t = 500)]
    pub grants: usize,
    /// O's open requests, each from another member of O.
    #[arg(long, default_value_t = 10_000)]
    pub open: usize,
    /// O's decided requests (approved, declined, withdrawn, expired).
    #[arg(long, default_value_t = 10_000)]
    pub decided: usize,
    /// Login rows in the audit trail by P's identities.
    #[arg(long, default_value_t = 5_000)]
    pub own_logins: usize,
    /// Login rows by other people's identities.
    #[arg(long, default_value_t = 200_000)]
    pub other_logins: usize,
    /// Open requests in 500 organisations P has nothing to do with.
    #[arg(long, default_value_t = 20_000)]
    pub other_requests: usize,
}

/// A service of the catalogue, as the rows name it.
pub struct Service {
    pub id: String,
    pub uuid: String,
    pub provider: String,
}

/// What the measurements need to know of the register.
pub struct Filled {
    pub person: String,
    pub person_name: String,
    /// O's KvK number.
    pub kvk: String,
    /// One of O's open requests.
    pub request: String,
    /// Rows written per table.
    pub rows: Vec<(&'static str, usize)>,
    pub seconds: f64,
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

const LEVELS: [&str; 4] = ["EH2", "EH2+", "EH3", "EH4"];
const YEARS: [i32; 3] = [1, 3, 5];

/// The register being drawn.
struct Register<'a> {
    now: DateTime<Utc>,
    services: &'a [Service],
    organisations: Table,
    persons: Table,
    identity_links: Table,
    memberships: Table,
    roles: Table,
    groups: Table,
    group_members: Table,
    grants: Table,
    representatives: Table,
    requests: Table,
    request_scopes: Table,
    invitations: Table,
    link_requests: Table,
    audit: Table,
    organisations_made: usize,
}

impl<'a> Register<'a> {
    fn new(now: DateTime<Utc>, services: &'a [Service]) -> Self {
        Register {
            now,
            services,
            organisations: Table::new(
                "organisations",
                &["id", "kvk", "name", "created_at", "activated_at"],
            ),
            persons: Table::new(
                "persons",
                &["id", "name", "email", "created_at", "language"],
            ),
            identity_links: Table::new(
                "identity_links",
                &["idp", "subject", "person_id", "created_at"],
            ),
            memberships: Table::new(
                "memberships",
                &[
                    "id",
                    "person_id",
                    "organisation_id",
                    "blocked",
                    "created_at",
                    "last_login_at",
                ],
            ),
            roles: Table::new("membership_roles", &["membership_id", "role"]),
            groups: Table::new("groups", &["id", "organisation_id", "name", "created_at"]),
            group_members: Table::new(
                "group_members",
                &[
                    "membership_id",
                    "group_id",
                    "organisation_id",
                    "blocked",
                    "admin",
                ],
            ),
            grants: Table::new(
                "grants",
                &[
                    "id",
                    "organisation_id",
                    "membership_id",
                    "scope_kind",
                    "provider",
                    "service_uuid",
                    "level",
                    "valid_from",
                    "valid_until",
                    "status",
                    "created_by",
                    "created_at",
                    "last_used_at",
                ],
            ),
            representatives: Table::new(
                "representatives",
                &[
                    "id",
                    "organisation_id",
                    "given_names",
                    "family_name",
                    "date_of_birth",
                    "authority",
                    "person_id",
                    "imported_at",
                    "bound_at",
                ],
            ),
            requests: Table::new(
                "requests",
                &[
                    "id",
                    "organisation_id",
                    "person_id",
                    "kind",
                    "grant_id",
                    "level",
                    "validity_years",
                    "motivation",
                    "state",
                    "first_signer",
                    "created_at",
                    "expires_at",
                    "decided_at",
                    "decided_by",
                    "reason",
                    "granted_level",
                    "granted_validity",
                ],
            ),
            request_scopes: Table::new(
                "request_scopes",
                &[
                    "request_id",
                    "position",
                    "scope_kind",
                    "provider",
                    "service_uuid",
                ],
            ),
            invitations: Table::new(
                "invitations",
                &[
                    "id",
                    "organisation_id",
                    "email",
                    "token_hash",
                    "created_by",
                    "created_at",
                    "expires_at",
                    "accepted_at",
                    "accepted_by",
                    "person_id",
                ],
            ),
            link_requests: Table::new(
                "link_requests",
                &[
                    "id",
                    "organisation_id",
                    "other_organisation_id",
                    "email",
                    "roles",
                    "requested_by",
                    "created_at",
                    "expires_at",
                    "decided_at",
                    "decided_by",
                    "outcome",
                ],
            ),
            audit: Table::new(
                "audit",
                &["at", "actor", "organisation_id", "action", "after"],
            ),
            organisations_made: 0,
        }
    }

    fn days_ago(&self, days: i64) -> DateTime<Utc> {
        self.now - TimeDelta::days(days)
    }

    /// A new organisation: (ID, KvK number).
    fn organisation(&mut self, name: String) -> (String, String) {
        let (id, kvk) = (
            uuid(),
            format!("{:08}", 30_000_000 + self.organisations_made),
        );
        self.organisations_made += 1;
        let made = self.days_ago(900);
        self.organisations
            .row([t(&id), t(&kvk), t(name), V::At(made), V::NAt(Some(made))]);
        (id, kvk)
    }

    fn person(&mut self, id: &str, name: &str, email: &str, subjects: &[(&str, &str)]) {
        let made = self.days_ago(800);
        self.persons
            .row([t(id), t(name), t(email), V::At(made), n(Some("nl"))]);
        for (idp, subject) in subjects {
            self.identity_links
                .row([t(*idp), t(*subject), t(id), V::At(made)]);
        }
    }

    /// A membership with its roles; its ID.
    fn membership(&mut self, person: &str, organisation: &str, roles: &[&str]) -> String {
        let id = uuid();
        self.memberships.row([
            t(&id),
            t(person),
            t(organisation),
            V::B(false),
            V::At(self.days_ago(700)),
            V::NAt(Some(self.days_ago(3))),
        ]);
        for role in roles {
            self.roles.row([t(&id), t(*role)]);
        }
        id
    }

    /// The `k`-th kind of scope: one service, all of a provider's, or all services.
    fn scope(&self, k: usize) -> (&'static str, Option<String>, Option<String>) {
        let service = &self.services[k % self.services.len()];
        match k % 7 {
            5 => ("provider", Some(service.provider.clone()), None),
            6 => ("all_services", None, None),
            _ => ("service", None, Some(service.uuid.clone())),
        }
    }

    /// A grant held by `membership`, varied by `k`: mostly active, some revoked, some ended,
    /// some ending within two months; its ID.
    fn grant(&mut self, organisation: &str, membership: &str, k: usize) -> String {
        let id = format!("g-{}", uuid::Uuid::new_v4().simple());
        let (kind, provider, service) = self.scope(k);
        let years = i64::from(YEARS[k % 3]);
        let (from, status) = match k % 10 {
            // ended last month
            0 => (self.days_ago(years * 365 + 30), "active"),
            1 => (self.days_ago(100), "revoked"),
            // ends within two months: renewable
            2 => (self.days_ago(years * 365 - 40), "active"),
            _ => (self.days_ago((k as i64 * 7) % 300 + 1), "active"),
        };
        self.grants.row([
            t(&id),
            t(organisation),
            t(membership),
            t(kind),
            V::N(provider),
            V::N(service),
            t(LEVELS[k % 4]),
            V::At(from),
            V::At(from + TimeDelta::days(years * 365)),
            t(status),
            t("bench"),
            V::At(from),
            V::NAt((!k.is_multiple_of(3)).then(|| self.days_ago((k % 60) as i64))),
        ]);
        id
    }

    /// A request of `person` to `organisation`, its kind varied by `k` (a link, a renewal of
    /// `renews` when given, or a grant of one to three scopes), in `state`; its ID.
    #[allow(clippy::too_many_arguments)]
    fn request(
        &mut self,
        organisation: &str,
        person: &str,
        k: usize,
        renews: Option<&str>,
        created: DateTime<Utc>,
        state: &'static str,
        decider: &str,
        first_signer: Option<&str>,
    ) -> String {
        let id = uuid();
        let kind = match (renews, k % 20) {
            (Some(_), _) => "renewal",
            (None, 0) => "link",
            _ => "grant",
        };
        let (level, years) = if kind == "link" {
            (None, None)
        } else {
            (Some(LEVELS[k % 4]), Some(YEARS[k % 3]))
        };
        let decided = matches!(state, "approved" | "declined" | "withdrawn" | "expired");
        let decided_at = decided.then(|| created + TimeDelta::days(2));
        self.requests.row([
            t(&id),
            t(organisation),
            t(person),
            t(kind),
            n(renews),
            n(level),
            V::I(years),
            n((k.is_multiple_of(2)).then_some("Nodig voor de aangifte van de klant.")),
            t(state),
            n(first_signer),
            V::At(created),
            V::At(created + TimeDelta::days(30)),
            V::NAt(decided_at),
            n((decided && state != "withdrawn" && state != "expired").then_some(decider)),
            n((state == "declined").then_some("Niet nodig voor uw werk.")),
            n((state == "approved").then_some(LEVELS[k % 3])),
            V::I((state == "approved").then_some(1)),
        ]);
        if kind == "grant" {
            for position in 0..(k % 3 + 1) {
                let (scope, provider, service) = self.scope(k + position);
                self.request_scopes.row([
                    t(&id),
                    V::I(Some(position as i32)),
                    t(scope),
                    V::N(provider),
                    V::N(service),
                ]);
            }
        }
        id
    }

    /// A login decision in the trail.
    fn login(&mut self, at: DateTime<Utc>, actor: &str, organisation: Option<&str>, k: usize) {
        let service = &self.services[k % self.services.len()];
        let (action, detail) = match k % 10 {
            0 => (
                "login.refused",
                serde_json::json!({ "reason": "no_grant", "service": service.id,
                    "requester": service.provider, "reference": format!("ref-{k:08}") }),
            ),
            1 => (
                "admin.login",
                serde_json::json!({ "grant": format!("g-{k}"), "level": "EH3",
                    "service": "urn:poort:admin", "reference": format!("ref-{k:08}") }),
            ),
            _ => (
                "login.allowed",
                serde_json::json!({ "grant": format!("g-{k}"), "level": "EH3",
                    "service": service.id, "requester": service.provider,
                    "reference": format!("ref-{k:08}") }),
            ),
        };
        self.audit.row([
            V::At(at),
            t(actor),
            n(organisation),
            t(action),
            t(detail.to_string()),
        ]);
    }
}

/// Fills the (freshly migrated) register behind `pool`.
pub async fn fill(pool: &Pool, sizes: &Sizes, services: &[Service]) -> Result<Filled, Error> {
    let started = Instant::now();
    let now = Utc::now();
    let mut r = Register::new(now, services);

    // P, with two identities (two ADs).
    let p = uuid();
    let p_name = "Petra de Vries".to_string();
    let (p_subject, p_other_subject) = (format!("s-{}", uuid()), format!("s-{}", uuid()));
    r.person(
        &p,
        &p_name,
        "petra.devries@voorbeeld.nl",
        &[
            (AD, p_subject.as_str()),
            (OTHER_AD, p_other_subject.as_str()),
        ],
    );
    let p_actors = [
        format!("identity:{AD}#{p_subject}"),
        format!("identity:{OTHER_AD}#{p_other_subject}"),
    ];

    // Everybody else: O's requesters, who also ask elsewhere and log in.
    let others: Vec<(String, String)> = (0..sizes.open.max(1))
        .map(|_| (uuid(), format!("s-{}", uuid())))
        .collect();
    for (i, (id, subject)) in others.iter().enumerate() {
        r.person(
            id,
            &format!("Medewerker {i}"),
            &format!("medewerker{i}@voorbeeld.nl"),
            &[(AD, subject.as_str())],
        );
    }

    // P's organisations. O first: hoofdbeheerder and a bound director (sole authority). Then a
    // mix: hoofdbeheerder, beheerder, gebruiker, and gebruiker plus groepsbeheerder of a team
    // whose members ask.
    let mut p_organisations: Vec<(String, String)> = Vec::new();
    let mut p_memberships: Vec<String> = Vec::new();
    for m in 0..sizes.memberships.max(1) {
        let (org, kvk) = r.organisation(format!("Organisatie {m:02} B.V."));
        let roles: &[&str] = match (m, m % 4) {
            (0, _) | (_, 0) => &["hoofdbeheerder", "gebruiker"],
            (_, 1) => &["beheerder"],
            (_, 2) => &["gebruiker"],
            _ => &["gebruiker", "groepsbeheerder"],
        };
        let membership = r.membership(&p, &org, roles);
        if m % 4 == 3 {
            let group = uuid();
            r.groups
                .row([t(&group), t(&org), t("Team"), V::At(r.days_ago(600))]);
            r.group_members
                .row([t(&membership), t(&group), t(&org), V::B(false), V::B(true)]);
            for j in 0..10 {
                let (person, _) = &others[(m * 10 + j) % others.len()];
                let member = r.membership(person, &org, &["gebruiker"]);
                r.group_members
                    .row([t(&member), t(&group), t(&org), V::B(false), V::B(false)]);
                let created = r.days_ago((j % 25) as i64 + 1);
                r.request(&org, person, j + 2, None, created, "open", "", None);
            }
        } else if m > 0 {
            // Open requests of non-members (links and grants): visible to P only where P
            // administers.
            for j in 0..5 {
                let (person, _) = &others[(m * 7 + j) % others.len()];
                let created = r.days_ago((j * 5) as i64 + 1);
                r.request(&org, person, j * 20 + m, None, created, "open", "", None);
            }
        }
        p_organisations.push((org, kvk));
        p_memberships.push(membership);
    }
    let (o, o_kvk) = p_organisations[0].clone();
    r.representatives.row([
        t(uuid()),
        t(&o),
        t("Petra"),
        t("de Vries"),
        t("1975-04-12"),
        t("sole"),
        t(&p),
        V::At(r.days_ago(400)),
        V::NAt(Some(r.days_ago(300))),
    ]);

    // P's grants, spread over their memberships.
    for g in 0..sizes.grants {
        let m = g % p_memberships.len();
        let (org, membership) = (p_organisations[m].0.clone(), p_memberships[m].clone());
        r.grant(&org, &membership, g);
    }

    // P's own requests: a few open, more decided.
    for k in 0..12 {
        let (org, _) = p_organisations[(k * 3 + 1) % p_organisations.len()].clone();
        let state = [
            "open",
            "approved",
            "declined",
            "withdrawn",
            "expired",
            "approved",
        ][k % 6];
        let created = r.days_ago(if state == "open" {
            2 + k as i64
        } else {
            40 + 30 * k as i64
        });
        let decider = others[k % others.len()].0.clone();
        r.request(&org, &p, k + 2, None, created, state, &decider, None);
    }

    // O: every other person a member (gebruiker); one in twenty holds a grant they ask to renew.
    // Their open requests over the last 29 days, two at a time at the same instant (the keyset
    // paging's tie on the ID); then decided ones, older; and twenty waiting for a second director.
    let span = 29 * 24 * 3600;
    let mut o_request = String::new();
    for (i, (person, _)) in others.iter().enumerate().take(sizes.open) {
        let membership = r.membership(person, &o, &["gebruiker"]);
        let renews = (i % 20 == 1).then(|| r.grant(&o, &membership, i + 3));
        let created = now - TimeDelta::seconds(span - (i / 2 * span as usize / sizes.open) as i64);
        let id = r.request(&o, person, i, renews.as_deref(), created, "open", "", None);
        if i == sizes.open / 2 {
            o_request = id;
        }
    }
    for i in 0..sizes.decided {
        let (person, _) = &others[i % others.len()];
        let state = ["approved", "declined", "withdrawn", "expired"][i % 4];
        let created = r.days_ago(31 + (i % 370) as i64);
        r.request(&o, person, i + 2, None, created, state, &p, None);
    }
    for i in 0..20 {
        let (person, _) = &others[(i * 13) % others.len()];
        let (director, _) = &others[(i * 13 + 1) % others.len()];
        let created = r.days_ago((i % 20) as i64 + 1);
        r.request(
            &o,
            person,
            i + 2,
            None,
            created,
            "awaiting_second",
            "",
            Some(director),
        );
    }

    // 500 organisations P has nothing to do with, with open requests of their own.
    let strangers: Vec<String> = (0..500)
        .map(|s| r.organisation(format!("Bedrijf {s:03} B.V.")).0)
        .collect();
    for i in 0..sizes.other_requests {
        let (person, _) = &others[(i * 7) % others.len()];
        let created = r.days_ago((i % 29) as i64 + 1);
        r.request(
            &strangers[i % strangers.len()],
            person,
            i + 2,
            None,
            created,
            "open",
            "",
            None,
        );
    }

    // Invitations (accepted, most of them) and link requests; two open invitations and one link
    // request name P's e-mail address, as other organisations sent them.
    for i in 0..2_000 {
        let (person, _) = &others[i % others.len()];
        let org = &strangers[i % strangers.len()];
        let made = r.days_ago((i % 300) as i64 + 2);
        r.invitations.row([
            t(uuid()),
            t(org),
            t(format!("medewerker{}@voorbeeld.nl", i % others.len())),
            t(format!("hash-{}", uuid())),
            t("bench"),
            V::At(made),
            V::At(made + TimeDelta::days(1)),
            V::NAt(Some(made + TimeDelta::hours(3))),
            n(Some(person.as_str())),
            n(Some(person.as_str())),
        ]);
    }
    for i in 0..2 {
        let invited = uuid();
        r.person(
            &invited,
            "Petra de Vries",
            "Petra.deVries@voorbeeld.nl",
            &[],
        );
        let made = now - TimeDelta::hours(2 + i);
        r.invitations.row([
            t(uuid()),
            t(&strangers[i as usize]),
            t("Petra.deVries@voorbeeld.nl"),
            t(format!("hash-{}", uuid())),
            t("bench"),
            V::At(made),
            V::At(made + TimeDelta::days(1)),
            V::NAt(None),
            n(None::<String>),
            n(Some(invited.as_str())),
        ]);
    }
    for i in 0..501 {
        let (org, other) = (
            &strangers[i % 500],
            &p_organisations[i % p_organisations.len()].0,
        );
        let made = r.days_ago(if i == 500 { 1 } else { (i % 200) as i64 + 20 });
        let email = if i == 500 {
            "petra.devries@voorbeeld.nl".to_string()
        } else {
            format!("medewerker{i}@voorbeeld.nl")
        };
        r.link_requests.row([
            t(uuid()),
            t(org),
            t(other),
            t(email),
            t("gebruiker"),
            t("bench"),
            V::At(made),
            V::At(made + TimeDelta::days(14)),
            V::NAt((i < 500).then(|| made + TimeDelta::days(1))),
            n((i < 500).then_some("bench")),
            n((i < 500).then_some("approved")),
        ]);
    }

    // The trail: everybody's logins over the last two years, oldest first, P's among them.
    let total = sizes.own_logins + sizes.other_logins;
    let step = (2 * 365 * 24 * 3600) as f64 / total.max(1) as f64;
    let every = total / sizes.own_logins.max(1);
    let mut own = 0;
    for k in 0..total {
        let at = now - TimeDelta::seconds(((total - k) as f64 * step) as i64);
        if own < sizes.own_logins && k.is_multiple_of(every.max(1)) {
            let org = p_organisations[k % p_organisations.len()].0.clone();
            r.login(at, &p_actors[own % 2], Some(&org), k);
            own += 1;
        } else {
            let (_, subject) = &others[k % others.len()];
            let actor = format!("identity:{AD}#{subject}");
            let org = (!k.is_multiple_of(10)).then(|| strangers[k % strangers.len()].clone());
            r.login(at, &actor, org.as_deref(), k);
        }
    }

    let tables = vec![
        r.organisations,
        r.persons,
        r.identity_links,
        r.memberships,
        r.roles,
        r.groups,
        r.group_members,
        r.grants,
        r.representatives,
        r.requests,
        r.request_scopes,
        r.invitations,
        r.link_requests,
        r.audit,
    ];
    let rows = tables.iter().map(|t| (t.name, t.rows())).collect();
    write(pool, tables).await?;
    Ok(Filled {
        person: p,
        person_name: p_name,
        kvk: o_kvk,
        request: o_request,
        rows,
        seconds: started.elapsed().as_secs_f64(),
    })
}
