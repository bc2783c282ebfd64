//! Resolution over the real register, rule by rule: one person per row, their grants written to
//! SQLite and to PostgreSQL, then resolved for a login (register read + decision) at a fixed
//! instant. Covers every rule of docs/DOMAIN.md "Grants (machtigingen)", including a service its
//! provider adds after the grant was given.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use poort::domain::decision::{Decision, DenyReason};
use poort::domain::level::{Comparison, Level};
use poort::domain::login::AuthnResult;
use poort::grants::{
    resolve, GrantEntry, GrantStatus, GrantsFile, IdentityLink, MembershipEntry, NewGrant,
    OrganisationEntry, PersonEntry, Register, Role, Scope, ServiceRef, SqlRegister,
};

const IDP: &str = "urn:etoegang:AD:00000099990000000003:entities:1";
const P: &str = "urn:etoegang:DV:00000099990000000002:entities:1";
const Q: &str = "urn:etoegang:DV:00000099990000000005:entities:1";
const S1: &str = "5a1d3b0e-8c9f-4f5e-9b1a-000000000001";
const S2: &str = "5a1d3b0e-8c9f-4f5e-9b1a-000000000002";
/// A service provider P adds after every grant below was given: in no grant, in no catalogue
/// when the grants were written.
const S_NEW: &str = "5a1d3b0e-8c9f-4f5e-9b1a-0000000000ff";
const O1: &str = "10000001";
const O2: &str = "10000002";

fn now() -> DateTime<Utc> {
    "2026-11-22T12:00:00Z".parse().unwrap()
}

fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

fn service(uuid: &str, provider: &str) -> ServiceRef {
    ServiceRef {
        service_id: format!("urn:test:{uuid}"),
        uuid: uuid.to_string(),
        provider: provider.to_string(),
        level: Level::Eh3,
    }
}

/// One grant of a row's person.
#[derive(Clone)]
struct G {
    org: &'static str,
    scope: Scope,
    level: Level,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    status: GrantStatus,
    last_used: Option<DateTime<Utc>>,
}

fn g(scope: Scope) -> G {
    G {
        org: O1,
        scope,
        level: Level::Eh3,
        from: now() - days(30),
        until: now() + days(365),
        status: GrantStatus::Active,
        last_used: Some(now() - days(1)),
    }
}

fn all() -> Scope {
    Scope::AllServices
}
fn provider(p: &str) -> Scope {
    Scope::Provider {
        provider: p.to_string(),
    }
}
fn one(uuid: &str) -> Scope {
    Scope::Service {
        uuid: uuid.to_string(),
    }
}

/// How the row's person holds their grants.
#[derive(Clone, Copy, PartialEq)]
enum Held {
    /// Through their membership.
    Member { blocked: bool },
    /// Through a group of the organisation.
    Group {
        member_blocked: bool,
        group_blocked: bool,
    },
}

#[derive(Debug, PartialEq)]
enum Expect {
    Allow(&'static str, Level),
    Choose(Vec<&'static str>),
    Deny(DenyReason),
}

struct Row {
    name: &'static str,
    held: Held,
    grants: Vec<G>,
    service: ServiceRef,
    asserted: Level,
    required: Level,
    comparison: Comparison,
    expect: Expect,
}

fn row(name: &'static str, grants: Vec<G>, expect: Expect) -> Row {
    Row {
        name,
        held: Held::Member { blocked: false },
        grants,
        service: service(S1, P),
        asserted: Level::Eh3,
        required: Level::Eh3,
        comparison: Comparison::Minimum,
        expect,
    }
}

fn table() -> Vec<Row> {
    use Expect::*;
    let member_blocked = Held::Member { blocked: true };
    vec![
        row(
            "all services covers any service",
            vec![g(all())],
            Allow(O1, Level::Eh3),
        ),
        row(
            "provider scope covers its service",
            vec![g(provider(P))],
            Allow(O1, Level::Eh3),
        ),
        Row {
            service: service(S_NEW, P),
            ..row(
                "provider scope covers a service the provider adds later",
                vec![g(provider(P))],
                Allow(O1, Level::Eh3),
            )
        },
        row(
            "another provider's scope does not cover",
            vec![g(provider(Q))],
            Deny(DenyReason::NoGrant),
        ),
        row(
            "service scope covers that service",
            vec![g(one(S1))],
            Allow(O1, Level::Eh3),
        ),
        row(
            "service scope covers no other service",
            vec![g(one(S2))],
            Deny(DenyReason::NoGrant),
        ),
        Row {
            service: service(S_NEW, P),
            ..row(
                "service scope does not cover a new service of the same provider",
                vec![g(one(S1))],
                Deny(DenyReason::NoGrant),
            )
        },
        row(
            "grant level below the required level",
            vec![G {
                level: Level::Eh2Plus,
                ..g(all())
            }],
            Deny(DenyReason::GrantLevelTooLow {
                grant_level: Level::Eh2Plus,
                required: Level::Eh3,
            }),
        ),
        Row {
            asserted: Level::Eh4,
            ..row(
                "level used is the lower of asserted and grant",
                vec![g(all())],
                Allow(O1, Level::Eh3),
            )
        },
        Row {
            asserted: Level::Eh4,
            ..row(
                "an EH4 grant with an EH4 login is used at EH4",
                vec![G {
                    level: Level::Eh4,
                    ..g(all())
                }],
                Allow(O1, Level::Eh4),
            )
        },
        Row {
            asserted: Level::Eh2Plus,
            ..row(
                "asserted level below the required level",
                vec![g(all())],
                Deny(DenyReason::LevelTooLow {
                    achieved: Level::Eh2Plus,
                    required: Level::Eh3,
                }),
            )
        },
        Row {
            asserted: Level::Eh4,
            comparison: Comparison::Exact,
            ..row(
                "exact comparison: EH4 asserted for an exact EH3 request",
                vec![g(all())],
                Deny(DenyReason::LevelNotExact {
                    achieved: Level::Eh4,
                    required: Level::Eh3,
                }),
            )
        },
        row(
            "not yet valid",
            vec![G {
                from: now() + days(1),
                until: now() + days(30),
                last_used: None,
                ..g(all())
            }],
            Deny(DenyReason::GrantExpired),
        ),
        row(
            "expired",
            vec![G {
                from: now() - days(400),
                until: now() - days(1),
                ..g(all())
            }],
            Deny(DenyReason::GrantExpired),
        ),
        row(
            "ends exactly now: the end is exclusive",
            vec![G {
                until: now(),
                ..g(all())
            }],
            Deny(DenyReason::GrantExpired),
        ),
        row(
            "starts exactly now: the start is inclusive",
            vec![G {
                from: now(),
                last_used: None,
                ..g(all())
            }],
            Allow(O1, Level::Eh3),
        ),
        row(
            "revoked",
            vec![G {
                status: GrantStatus::Revoked,
                ..g(all())
            }],
            Deny(DenyReason::GrantRevoked),
        ),
        Row {
            held: member_blocked,
            ..row(
                "member blocked in the organisation",
                vec![g(all())],
                Deny(DenyReason::HolderBlocked),
            )
        },
        Row {
            held: Held::Group {
                member_blocked: false,
                group_blocked: false,
            },
            ..row(
                "held through a group",
                vec![g(all())],
                Allow(O1, Level::Eh3),
            )
        },
        Row {
            held: Held::Group {
                member_blocked: false,
                group_blocked: true,
            },
            ..row(
                "member blocked in the group",
                vec![g(all())],
                Deny(DenyReason::HolderBlocked),
            )
        },
        Row {
            held: Held::Group {
                member_blocked: true,
                group_blocked: false,
            },
            ..row(
                "member blocked in the organisation suspends group grants",
                vec![g(all())],
                Deny(DenyReason::HolderBlocked),
            )
        },
        row(
            "unused for more than 24 months: lapsed",
            vec![G {
                from: now() - days(1000),
                until: now() + days(300),
                last_used: Some(now() - days(731)),
                ..g(all())
            }],
            Deny(DenyReason::GrantLapsed),
        ),
        row(
            "unused for exactly 730 days: still usable",
            vec![G {
                from: now() - days(1000),
                until: now() + days(300),
                last_used: Some(now() - days(730)),
                ..g(all())
            }],
            Allow(O1, Level::Eh3),
        ),
        row(
            "never used, valid for more than 24 months: lapsed",
            vec![G {
                from: now() - days(731),
                until: now() + days(300),
                last_used: None,
                ..g(all())
            }],
            Deny(DenyReason::GrantLapsed),
        ),
        row(
            "two organisations: the person chooses",
            vec![
                g(all()),
                G {
                    org: O2,
                    ..g(provider(P))
                },
            ],
            Choose(vec![O1, O2]),
        ),
        row(
            "one organisation, two grants: the higher level wins",
            vec![
                G {
                    level: Level::Eh2Plus,
                    ..g(all())
                },
                G {
                    level: Level::Eh4,
                    ..g(one(S1))
                },
            ],
            Allow(O1, Level::Eh3),
        ),
        row(
            "a usable grant beside an unusable one of another organisation",
            vec![
                G {
                    status: GrantStatus::Revoked,
                    ..g(all())
                },
                G {
                    org: O2,
                    ..g(one(S1))
                },
            ],
            Allow(O2, Level::Eh3),
        ),
        row(
            "several defects: the one closest to working is reported",
            vec![
                G {
                    status: GrantStatus::Revoked,
                    ..g(all())
                },
                G {
                    from: now() - days(400),
                    until: now() - days(1),
                    ..g(provider(P))
                },
                G {
                    level: Level::Eh2,
                    ..g(one(S1))
                },
            ],
            Deny(DenyReason::GrantLevelTooLow {
                grant_level: Level::Eh2,
                required: Level::Eh3,
            }),
        ),
        row("no grant at all", vec![], Deny(DenyReason::NoGrant)),
    ]
}

/// Writes every row's person and grants into the register.
async fn write_table(register: &SqlRegister, rows: &[Row]) {
    let mut file = GrantsFile {
        organisations: vec![
            OrganisationEntry {
                kvk: O1.into(),
                rsin: None,
                name: "Alfa B.V.".into(),
            },
            OrganisationEntry {
                kvk: O2.into(),
                rsin: None,
                name: "Bravo B.V.".into(),
            },
        ],
        ..GrantsFile::default()
    };
    let mut group_rows = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let person = format!("p{i}");
        file.persons.push(PersonEntry {
            id: person.clone(),
            name: Some(row.name.to_string()),
            email: None,
            links: vec![IdentityLink {
                idp: IDP.into(),
                subject: person.clone(),
            }],
        });
        let mut orgs: Vec<&str> = row.grants.iter().map(|g| g.org).collect();
        orgs.sort();
        orgs.dedup();
        for org in orgs {
            file.memberships.push(MembershipEntry {
                person: person.clone(),
                organisation: org.into(),
                roles: vec![Role::Gebruiker],
                blocked: match row.held {
                    Held::Member { blocked } => blocked,
                    Held::Group { member_blocked, .. } => member_blocked,
                },
            });
        }
        if matches!(row.held, Held::Group { .. }) {
            group_rows.push(i);
            continue;
        }
        for (j, g) in row.grants.iter().enumerate() {
            file.grants.push(GrantEntry {
                id: format!("g{i}-{j}"),
                person: person.clone(),
                organisation: g.org.into(),
                scope: g.scope.clone(),
                level: g.level,
                valid_from: g.from,
                valid_until: g.until,
                status: g.status,
                last_used_at: g.last_used,
            });
        }
    }
    register.import(&file).await.unwrap();
    for i in group_rows {
        let row = &rows[i];
        let Held::Group { group_blocked, .. } = row.held else {
            unreachable!()
        };
        for (j, g) in row.grants.iter().enumerate() {
            let group = register
                .add_group(g.org, &format!("group {i}-{j}"))
                .await
                .unwrap();
            register
                .add_group_member(&group, &format!("p{i}"), group_blocked)
                .await
                .unwrap();
            let grant = NewGrant {
                id: format!("g{i}-{j}"),
                scope: g.scope.clone(),
                level: g.level,
                valid_from: g.from,
                valid_until: g.until,
            };
            register.add_group_grant(&group, &grant).await.unwrap();
        }
    }
}

fn outcome(decision: Decision) -> Expect {
    match decision {
        Decision::Allow(c) => {
            Expect::Allow(if c.organisation.kvk == O1 { O1 } else { O2 }, c.level_used)
        }
        Decision::ChooseOrganisation(cs) => Expect::Choose(
            cs.iter()
                .map(|c| if c.organisation.kvk == O1 { O1 } else { O2 })
                .collect(),
        ),
        Decision::Deny(reason) => Expect::Deny(reason),
    }
}

async fn check_table(register: SqlRegister) {
    let rows = table();
    write_table(&register, &rows).await;
    let mut failures = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let result = AuthnResult {
            idp: IDP.into(),
            subject: format!("p{i}"),
            level: row.asserted,
            authn_instant: now(),
            attributes: Vec::new(),
        };
        let decision = resolve(
            &register,
            &result,
            &row.service,
            row.required,
            row.comparison,
            now(),
        )
        .await
        .unwrap();
        let got = outcome(decision);
        if got != row.expect {
            failures.push(format!(
                "{}: expected {:?}, got {got:?}",
                row.name, row.expect
            ));
        }
    }
    // An identity link nobody has: no grant.
    let stranger = AuthnResult {
        idp: IDP.into(),
        subject: "stranger".into(),
        level: Level::Eh4,
        authn_instant: now(),
        attributes: Vec::new(),
    };
    let d = resolve(
        &register,
        &stranger,
        &service(S1, P),
        Level::Eh3,
        Comparison::Minimum,
        now(),
    )
    .await
    .unwrap();
    assert_eq!(outcome(d), Expect::Deny(DenyReason::NoGrant));
    // The register really holds the rows (so the table cannot pass on an empty register).
    let p0 = register.grants_for(IDP, "p0").await.unwrap();
    assert_eq!(p0.grants.len(), 1);
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn resolution_table_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("register.db");
    let register = SqlRegister::connect_sqlite(path.to_str().unwrap())
        .await
        .unwrap();
    check_table(register).await;
}

#[tokio::test]
async fn resolution_table_on_postgres() {
    let pg = common::cluster::FreshPostgres::create();
    let register = SqlRegister::connect_postgres(&pg.url).await.unwrap();
    check_table(register.clone()).await;
    register.close().await;
}
