//! The decision over its whole table. Expected outcomes come from explicit tables and a small
//! oracle written here from the rules in docs/DOMAIN.md, "How the decision picks" (level ranks
//! as numbers, not `Level`'s `Ord`), never from `decide` itself.

use chrono::{DateTime, TimeDelta, Utc};
use poort::domain::decision::{
    decide, explain, identifiable, Candidate, Decision, DenyReason, GrantVerdict,
};
use poort::domain::identifiers::IdentifierType;
use poort::domain::level::{Comparison, Level};
use poort::domain::login::AuthnResult;
use poort::grants::{GrantStatus, HeldGrant, Organisation, Role, Scope, ServiceRef};

const AD: &str = "urn:etoegang:AD:00000099990000000003:entities:1";
const DV: &str = "urn:etoegang:DV:00000099990000000002:entities:1";
const OTHER_DV: &str = "urn:etoegang:DV:00000099990000000009:entities:1";
const UUID_1: &str = "5a1d3b0e-8c9f-4f5e-9b1a-000000000001";
const UUID_2: &str = "5a1d3b0e-8c9f-4f5e-9b1a-000000000002";

use Comparison::{Exact, Minimum};
use Level::{Eh2, Eh2Plus, Eh3, Eh4};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn now() -> DateTime<Utc> {
    t("2026-11-22T12:00:00Z")
}

fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

fn org(kvk: &str, name: &str) -> Organisation {
    Organisation {
        kvk: kvk.into(),
        rsin: None,
        name: name.into(),
    }
}

fn bakkerij() -> Organisation {
    org("12345678", "Bakkerij De Gouden Korst B.V.")
}

fn service_1() -> ServiceRef {
    ServiceRef {
        service_id: "urn:etoegang:DV:00000099990000000002:services:1".into(),
        uuid: UUID_1.into(),
        provider: DV.into(),
        level: Eh3,
    }
}

/// An active grant for all services, EH4, valid 2026-2030, used yesterday: usable unless a
/// test changes one thing.
fn grant(id: &str, organisation: Organisation) -> HeldGrant {
    HeldGrant {
        grant_id: id.into(),
        organisation,
        scope: Scope::AllServices,
        level: Eh4,
        valid_from: t("2026-01-01T00:00:00Z"),
        valid_until: t("2030-12-31T00:00:00Z"),
        status: GrantStatus::Active,
        holder_blocked: false,
        last_used_at: Some(now() - days(1)),
        roles: vec![Role::Gebruiker],
    }
}

fn authn(level: Level) -> AuthnResult {
    AuthnResult {
        idp: AD.into(),
        subject: "anna".into(),
        level,
        authn_instant: now(),
        attributes: Vec::new(),
    }
}

fn run(
    required: Level,
    comparison: Comparison,
    achieved: Level,
    service: &ServiceRef,
    grants: &[HeldGrant],
    at: DateTime<Utc>,
) -> Decision {
    decide(required, comparison, &authn(achieved), service, grants, at)
}

/// Decides service 1 at EH3 (minimum), asserted EH3, now.
fn run_eh3(grants: &[HeldGrant]) -> Decision {
    run(Eh3, Minimum, Eh3, &service_1(), grants, now())
}

fn allow(g: &HeldGrant, level_used: Level) -> Decision {
    Decision::Allow(candidate(g, level_used))
}

fn candidate(g: &HeldGrant, level_used: Level) -> Candidate {
    Candidate {
        organisation: g.organisation.clone(),
        grant_id: g.grant_id.clone(),
        level_used,
        roles: g.roles.clone(),
    }
}

fn deny(reason: DenyReason) -> Decision {
    Decision::Deny(reason)
}

// ---------------------------------------------------------------------------------------------
// Levels: achieved x grant x required x comparison.

/// The scheme's order, as plain numbers.
fn rank(level: Level) -> u8 {
    match level {
        Eh2 => 0,
        Eh2Plus => 1,
        Eh3 => 2,
        Eh4 => 3,
    }
}

/// min(achieved, grant) written out: rows achieved, columns grant, both EH2, EH2+, EH3, EH4.
const LEVEL_USED: [[Level; 4]; 4] = [
    [Eh2, Eh2, Eh2, Eh2],
    [Eh2, Eh2Plus, Eh2Plus, Eh2Plus],
    [Eh2, Eh2Plus, Eh3, Eh3],
    [Eh2, Eh2Plus, Eh3, Eh4],
];

fn expected_for_levels(
    achieved: Level,
    grant_level: Level,
    required: Level,
    comparison: Comparison,
    g: &HeldGrant,
) -> Decision {
    match comparison {
        Minimum if rank(achieved) < rank(required) => {
            return deny(DenyReason::LevelTooLow { achieved, required })
        }
        Exact if rank(achieved) != rank(required) => {
            return deny(DenyReason::LevelNotExact { achieved, required })
        }
        _ => {}
    }
    let used = LEVEL_USED[rank(achieved) as usize][rank(grant_level) as usize];
    let reaches = match comparison {
        Minimum => rank(used) >= rank(required),
        Exact => rank(used) == rank(required),
    };
    if reaches {
        allow(g, used)
    } else {
        deny(DenyReason::GrantLevelTooLow {
            grant_level,
            required,
        })
    }
}

#[test]
fn every_level_combination() {
    let mut checked = 0;
    for achieved in Level::ALL {
        for grant_level in Level::ALL {
            for required in Level::ALL {
                for comparison in [Minimum, Exact] {
                    let g = HeldGrant {
                        level: grant_level,
                        ..grant("g", bakkerij())
                    };
                    let got = run(
                        required,
                        comparison,
                        achieved,
                        &service_1(),
                        std::slice::from_ref(&g),
                        now(),
                    );
                    let want = expected_for_levels(achieved, grant_level, required, comparison, &g);
                    assert_eq!(
                        got, want,
                        "achieved {achieved}, grant {grant_level}, required {required}, {comparison:?}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 4 * 4 * 4 * 2);
}

/// (achieved, grant, required, comparison, expected: Ok(level used) or Err(reason))
type LevelRow = (Level, Level, Level, Comparison, Result<Level, DenyReason>);

#[test]
fn level_rows_written_out() {
    // (achieved, grant, required, comparison, expected: Ok(level used) or Err(reason))
    use DenyReason::{GrantLevelTooLow, LevelNotExact, LevelTooLow};
    #[rustfmt::skip]
    let rows: &[LevelRow] = &[
        (Eh3, Eh3, Eh3, Minimum, Ok(Eh3)),
        (Eh4, Eh4, Eh3, Minimum, Ok(Eh4)),
        (Eh4, Eh3, Eh2Plus, Minimum, Ok(Eh3)),
        (Eh3, Eh4, Eh3, Minimum, Ok(Eh3)),
        (Eh2Plus, Eh4, Eh2, Minimum, Ok(Eh2Plus)),
        (Eh2, Eh2, Eh2, Exact, Ok(Eh2)),
        (Eh3, Eh4, Eh3, Exact, Ok(Eh3)),
        (Eh2Plus, Eh4, Eh3, Minimum, Err(LevelTooLow { achieved: Eh2Plus, required: Eh3 })),
        (Eh2, Eh4, Eh2Plus, Minimum, Err(LevelTooLow { achieved: Eh2, required: Eh2Plus })),
        (Eh4, Eh4, Eh3, Exact, Err(LevelNotExact { achieved: Eh4, required: Eh3 })),
        (Eh2, Eh4, Eh3, Exact, Err(LevelNotExact { achieved: Eh2, required: Eh3 })),
        (Eh3, Eh2, Eh2Plus, Exact, Err(LevelNotExact { achieved: Eh3, required: Eh2Plus })),
        (Eh4, Eh2Plus, Eh3, Minimum, Err(GrantLevelTooLow { grant_level: Eh2Plus, required: Eh3 })),
        (Eh2Plus, Eh2, Eh2Plus, Exact, Err(GrantLevelTooLow { grant_level: Eh2, required: Eh2Plus })),
        (Eh4, Eh3, Eh4, Minimum, Err(GrantLevelTooLow { grant_level: Eh3, required: Eh4 })),
    ];
    for (achieved, grant_level, required, comparison, expected) in rows.iter().cloned() {
        let g = HeldGrant {
            level: grant_level,
            ..grant("g", bakkerij())
        };
        let want = match expected {
            Ok(used) => allow(&g, used),
            Err(reason) => deny(reason),
        };
        let got = run(required, comparison, achieved, &service_1(), &[g], now());
        assert_eq!(
            got, want,
            "{achieved} {grant_level} {required} {comparison:?}"
        );
    }
}

#[test]
fn asserted_level_is_checked_before_grants() {
    assert_eq!(
        run(Eh3, Minimum, Eh2Plus, &service_1(), &[], now()),
        deny(DenyReason::LevelTooLow {
            achieved: Eh2Plus,
            required: Eh3
        })
    );
    let revoked = HeldGrant {
        status: GrantStatus::Revoked,
        ..grant("g", bakkerij())
    };
    assert_eq!(
        run(Eh3, Exact, Eh4, &service_1(), &[revoked], now()),
        deny(DenyReason::LevelNotExact {
            achieved: Eh4,
            required: Eh3
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Scope.

#[test]
fn each_scope_kind_with_matching_and_other_services() {
    let s1 = service_1();
    let s2_other_provider = ServiceRef {
        service_id: "urn:etoegang:DV:00000099990000000009:services:1".into(),
        uuid: UUID_2.into(),
        provider: OTHER_DV.into(),
        level: Eh3,
    };
    // (scope, covers service 1, covers the other provider's service)
    let rows = [
        (Scope::AllServices, true, true),
        (
            Scope::Provider {
                provider: DV.into(),
            },
            true,
            false,
        ),
        (
            Scope::Provider {
                provider: OTHER_DV.into(),
            },
            false,
            true,
        ),
        (
            Scope::Service {
                uuid: UUID_1.into(),
            },
            true,
            false,
        ),
        (
            Scope::Service {
                uuid: UUID_2.into(),
            },
            false,
            true,
        ),
        // A ServiceID is not a ServiceUUID, and a provider is not a service.
        (
            Scope::Service {
                uuid: s1.service_id.clone(),
            },
            false,
            false,
        ),
        (Scope::Service { uuid: DV.into() }, false, false),
        (
            Scope::Provider {
                provider: UUID_1.into(),
            },
            false,
            false,
        ),
    ];
    for (scope, covers_1, covers_other) in rows {
        let g = HeldGrant {
            scope: scope.clone(),
            ..grant("g", bakkerij())
        };
        for (service, covers) in [(&s1, covers_1), (&s2_other_provider, covers_other)] {
            let want = if covers {
                allow(&g, Eh3)
            } else {
                deny(DenyReason::NoGrant)
            };
            let got = run(Eh3, Minimum, Eh3, service, std::slice::from_ref(&g), now());
            assert_eq!(got, want, "{scope:?} for {}", service.service_id);
            let verdict = explain(Eh3, Minimum, Eh3, service, &g, now());
            let want_verdict = if covers {
                GrantVerdict::Usable { level_used: Eh3 }
            } else {
                GrantVerdict::NotCovering
            };
            assert_eq!(
                verdict, want_verdict,
                "{scope:?} for {}",
                service.service_id
            );
        }
    }
}

#[test]
fn provider_scope_covers_a_service_added_later() {
    let g = HeldGrant {
        scope: Scope::Provider {
            provider: DV.into(),
        },
        ..grant("g", bakkerij())
    };
    // Neither this ServiceID nor this UUID existed when the grant was registered.
    let added_later = ServiceRef {
        service_id: "urn:etoegang:DV:00000099990000000002:services:77".into(),
        uuid: "0b7c2f4e-1111-4222-8333-944445555666".into(),
        provider: DV.into(),
        level: Eh2Plus,
    };
    assert_eq!(
        run(
            Eh2Plus,
            Minimum,
            Eh3,
            &added_later,
            std::slice::from_ref(&g),
            now()
        ),
        allow(&g, Eh3)
    );
    // The same service offered by another provider is not covered.
    let elsewhere = ServiceRef {
        provider: OTHER_DV.into(),
        ..added_later
    };
    assert_eq!(
        run(Eh2Plus, Minimum, Eh3, &elsewhere, &[g], now()),
        deny(DenyReason::NoGrant)
    );
}

#[test]
fn no_grants_at_all() {
    assert_eq!(run_eh3(&[]), deny(DenyReason::NoGrant));
}

// ---------------------------------------------------------------------------------------------
// Validity, status, blocking, lapse.

#[test]
fn validity_window_is_half_open() {
    let from = t("2026-03-01T00:00:00Z");
    let until = t("2027-03-01T00:00:00Z");
    let g = HeldGrant {
        valid_from: from,
        valid_until: until,
        last_used_at: None,
        ..grant("g", bakkerij())
    };
    let second = TimeDelta::seconds(1);
    let rows = [
        ("long before", from - days(30), false),
        ("just before", from - second, false),
        ("at valid_from", from, true),
        ("inside", from + days(100), true),
        ("just before the end", until - second, true),
        ("at valid_until", until, false),
        ("after", until + second, false),
        ("long after", until + days(300), false),
    ];
    for (what, at, usable) in rows {
        let want = if usable {
            allow(&g, Eh3)
        } else {
            deny(DenyReason::GrantExpired)
        };
        let got = run(
            Eh3,
            Minimum,
            Eh3,
            &service_1(),
            std::slice::from_ref(&g),
            at,
        );
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn status_and_blocking() {
    let active = grant("g", bakkerij());
    assert_eq!(run_eh3(std::slice::from_ref(&active)), allow(&active, Eh3));
    let revoked = HeldGrant {
        status: GrantStatus::Revoked,
        ..active.clone()
    };
    assert_eq!(run_eh3(&[revoked]), deny(DenyReason::GrantRevoked));
    let blocked = HeldGrant {
        holder_blocked: true,
        ..active
    };
    assert_eq!(run_eh3(&[blocked]), deny(DenyReason::HolderBlocked));
}

#[test]
fn lapse_boundary() {
    let second = TimeDelta::seconds(1);
    // (what, valid_from, last_used_at, lapsed)
    let rows = [
        (
            "used yesterday",
            now() - days(1000),
            Some(now() - days(1)),
            false,
        ),
        (
            "used exactly 730 days ago",
            now() - days(1000),
            Some(now() - days(730)),
            false,
        ),
        (
            "used 730 days and a second ago",
            now() - days(1000),
            Some(now() - days(730) - second),
            true,
        ),
        (
            "used 731 days ago",
            now() - days(1000),
            Some(now() - days(731)),
            true,
        ),
        (
            "never used, valid for exactly 730 days",
            now() - days(730),
            None,
            false,
        ),
        (
            "never used, valid for 731 days",
            now() - days(731),
            None,
            true,
        ),
        (
            "never used, valid since last week",
            now() - days(7),
            None,
            false,
        ),
    ];
    for (what, valid_from, last_used_at, lapsed) in rows {
        let g = HeldGrant {
            valid_from,
            valid_until: valid_from + days(4 * 365),
            last_used_at,
            ..grant("g", bakkerij())
        };
        let want = if lapsed {
            deny(DenyReason::GrantLapsed)
        } else {
            allow(&g, Eh3)
        };
        assert_eq!(run_eh3(std::slice::from_ref(&g)), want, "{what}");
    }
}

// ---------------------------------------------------------------------------------------------
// Several organisations, and the winning grant per organisation.

#[test]
fn one_organisation_allows_several_let_the_person_choose() {
    let van_dijk = org("87654321", "Installatiebedrijf Van Dijk");
    let groen_dak = org("11223344", "Stichting Groen Dak");
    let a = grant("g-a", groen_dak);
    let b = grant("g-b", van_dijk);
    let c = grant("g-c", bakkerij());
    assert_eq!(run_eh3(std::slice::from_ref(&a)), allow(&a, Eh3));
    // Sorted by organisation name, whatever the order of the grants.
    let want = Decision::ChooseOrganisation(vec![
        candidate(&c, Eh3),
        candidate(&b, Eh3),
        candidate(&a, Eh3),
    ]);
    assert_eq!(run_eh3(&[a.clone(), b.clone(), c.clone()]), want);
    assert_eq!(run_eh3(&[c.clone(), a.clone(), b.clone()]), want);
    // An organisation whose grant cannot be used is not offered.
    let b_revoked = HeldGrant {
        status: GrantStatus::Revoked,
        ..b
    };
    assert_eq!(
        run_eh3(&[a.clone(), b_revoked, c.clone()]),
        Decision::ChooseOrganisation(vec![candidate(&c, Eh3), candidate(&a, Eh3)])
    );
    let c_other_service = HeldGrant {
        scope: Scope::Service {
            uuid: UUID_2.into(),
        },
        ..c
    };
    assert_eq!(run_eh3(&[c_other_service, a.clone()]), allow(&a, Eh3));
}

#[test]
fn equal_names_are_sorted_by_kvk() {
    let x = grant("g-x", org("90000001", "Bouwbedrijf Jansen"));
    let y = grant("g-y", org("10000009", "Bouwbedrijf Jansen"));
    assert_eq!(
        run_eh3(&[x.clone(), y.clone()]),
        Decision::ChooseOrganisation(vec![candidate(&y, Eh3), candidate(&x, Eh3)])
    );
}

#[test]
fn winning_grant_per_organisation() {
    let base = |id: &str, level: Level, until: &str, roles: Vec<Role>| HeldGrant {
        level,
        valid_until: t(until),
        roles,
        ..grant(id, bakkerij())
    };
    let high = base("g-high", Eh4, "2027-01-01T00:00:00Z", vec![Role::Beheerder]);
    let long = base("g-long", Eh3, "2030-12-31T00:00:00Z", vec![Role::Lezer]);
    let short = base(
        "g-short",
        Eh3,
        "2028-01-01T00:00:00Z",
        vec![Role::Gebruiker],
    );
    let twin_b = base("g-b", Eh3, "2030-12-31T00:00:00Z", vec![Role::Gebruiker]);
    let twin_a = base(
        "g-a",
        Eh3,
        "2030-12-31T00:00:00Z",
        vec![Role::Hoofdbeheerder],
    );

    // (asserted level, grants, winner, level used)
    let rows: Vec<(Level, Vec<&HeldGrant>, &HeldGrant, Level)> = vec![
        // Asserted EH4: the EH4 grant gives the highest level used, despite ending sooner.
        (Eh4, vec![&long, &high, &short], &high, Eh4),
        // Asserted EH3: all are used at EH3; the one valid longest wins.
        (Eh3, vec![&high, &short, &long], &long, Eh3),
        (Eh3, vec![&short, &high], &short, Eh3),
        // Full tie: smallest grant ID.
        (Eh3, vec![&twin_b, &twin_a], &twin_a, Eh3),
        (Eh3, vec![&twin_a, &twin_b], &twin_a, Eh3),
        (Eh4, vec![&twin_b, &long, &twin_a], &twin_a, Eh3),
    ];
    for (achieved, grants, winner, used) in rows {
        let grants: Vec<HeldGrant> = grants.into_iter().cloned().collect();
        for order in [false, true] {
            let mut grants = grants.clone();
            if order {
                grants.reverse();
            }
            let got = run(Eh3, Minimum, achieved, &service_1(), &grants, now());
            // Roles come from the winning grant.
            assert_eq!(
                got,
                allow(winner, used),
                "{achieved}, winner {}",
                winner.grant_id
            );
        }
    }

    // Unusable grants never win, even with better tie-breakers.
    let blocked_high = HeldGrant {
        holder_blocked: true,
        ..high.clone()
    };
    assert_eq!(
        run(
            Eh3,
            Minimum,
            Eh4,
            &service_1(),
            &[blocked_high, short.clone()],
            now()
        ),
        allow(&short, Eh3)
    );

    // Winners per organisation, then the choice.
    let van_dijk_low = HeldGrant {
        level: Eh3,
        ..grant("g-vd-1", org("87654321", "Installatiebedrijf Van Dijk"))
    };
    let van_dijk_high = HeldGrant {
        grant_id: "g-vd-2".into(),
        level: Eh4,
        roles: vec![Role::Beheerder],
        ..van_dijk_low.clone()
    };
    assert_eq!(
        run(
            Eh3,
            Minimum,
            Eh4,
            &service_1(),
            &[
                van_dijk_low,
                short.clone(),
                van_dijk_high.clone(),
                high.clone()
            ],
            now()
        ),
        Decision::ChooseOrganisation(vec![candidate(&high, Eh4), candidate(&van_dijk_high, Eh4)])
    );
}

// ---------------------------------------------------------------------------------------------
// Reason precedence.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Flaw {
    LevelTooLow,
    Blocked,
    Lapsed,
    Expired,
    Revoked,
}

/// Most useful to the person first: the order DESIGN's precedence rule gives.
const PRECEDENCE: [Flaw; 5] = [
    Flaw::LevelTooLow,
    Flaw::Blocked,
    Flaw::Lapsed,
    Flaw::Expired,
    Flaw::Revoked,
];

fn reason(flaw: Flaw) -> DenyReason {
    match flaw {
        Flaw::LevelTooLow => DenyReason::GrantLevelTooLow {
            grant_level: Eh2Plus,
            required: Eh3,
        },
        Flaw::Blocked => DenyReason::HolderBlocked,
        Flaw::Lapsed => DenyReason::GrantLapsed,
        Flaw::Expired => DenyReason::GrantExpired,
        Flaw::Revoked => DenyReason::GrantRevoked,
    }
}

fn flawed(id: &str, flaws: &[Flaw]) -> HeldGrant {
    let mut g = grant(id, bakkerij());
    for flaw in flaws {
        match flaw {
            Flaw::LevelTooLow => g.level = Eh2Plus,
            Flaw::Blocked => g.holder_blocked = true,
            Flaw::Lapsed => {
                g.valid_from = now() - days(1000);
                g.last_used_at = None;
            }
            Flaw::Expired => g.valid_until = now() - days(1),
            Flaw::Revoked => g.status = GrantStatus::Revoked,
        }
    }
    g
}

fn subsets() -> impl Iterator<Item = Vec<Flaw>> {
    (1u32..32).map(|mask| {
        PRECEDENCE
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, f)| *f)
            .collect()
    })
}

#[test]
fn each_flaw_alone() {
    for flaw in PRECEDENCE {
        assert_eq!(
            run_eh3(&[flawed("g", &[flaw])]),
            deny(reason(flaw)),
            "{flaw:?}"
        );
    }
}

#[test]
fn several_grants_report_the_one_closest_to_working() {
    for flaws in subsets() {
        // One grant per flaw, each with only that flaw; the most useful reason is reported.
        let grants: Vec<HeldGrant> = flaws
            .iter()
            .enumerate()
            .map(|(i, f)| flawed(&format!("g{i}"), &[*f]))
            .collect();
        let want = deny(reason(flaws[0]));
        assert_eq!(run_eh3(&grants), want, "{flaws:?}");
        let mut reversed = grants.clone();
        reversed.reverse();
        assert_eq!(run_eh3(&reversed), want, "{flaws:?} reversed");

        // A usable grant next to them wins.
        let mut with_usable = grants;
        let usable = grant("g-ok", bakkerij());
        with_usable.push(usable.clone());
        assert_eq!(
            run_eh3(&with_usable),
            allow(&usable, Eh3),
            "{flaws:?} + usable"
        );
    }
}

#[test]
fn one_grant_with_several_flaws_reports_its_worst() {
    for flaws in subsets() {
        // Fixing anything but the worst flaw would not make this grant work.
        let worst = *flaws.last().unwrap();
        let g = flawed("g", &flaws);
        assert_eq!(
            run_eh3(std::slice::from_ref(&g)),
            deny(reason(worst)),
            "{flaws:?}"
        );
        assert_eq!(
            explain(Eh3, Minimum, Eh3, &service_1(), &g, now()),
            GrantVerdict::Unusable(reason(worst)),
            "{flaws:?}"
        );
    }
}

#[test]
fn combined_grants_compare_their_own_worst_flaws() {
    // A revoked grant with a low level counts as revoked; a merely blocked grant is closer.
    let grants = [
        flawed("g1", &[Flaw::Revoked, Flaw::LevelTooLow]),
        flawed("g2", &[Flaw::Blocked]),
    ];
    assert_eq!(run_eh3(&grants), deny(DenyReason::HolderBlocked));
    let grants = [
        flawed("g1", &[Flaw::Expired, Flaw::Blocked]),
        flawed("g2", &[Flaw::Lapsed, Flaw::LevelTooLow]),
    ];
    assert_eq!(run_eh3(&grants), deny(DenyReason::GrantLapsed));
}

#[test]
fn level_too_low_reports_the_highest_grant_level() {
    let grants: Vec<HeldGrant> = [Eh2, Eh2Plus, Eh3]
        .into_iter()
        .map(|level| HeldGrant {
            level,
            ..grant(&format!("g-{level}"), bakkerij())
        })
        .collect();
    for order in [false, true] {
        let mut grants = grants.clone();
        if order {
            grants.reverse();
        }
        assert_eq!(
            run(Eh4, Minimum, Eh4, &service_1(), &grants, now()),
            deny(DenyReason::GrantLevelTooLow {
                grant_level: Eh3,
                required: Eh4
            })
        );
    }
}

#[test]
fn grants_for_other_services_do_not_give_reasons() {
    let elsewhere = |g: HeldGrant| HeldGrant {
        scope: Scope::Service {
            uuid: UUID_2.into(),
        },
        ..g
    };
    // Only a non-covering grant: no grant, however close to working it is.
    assert_eq!(
        run_eh3(&[elsewhere(flawed("g1", &[Flaw::LevelTooLow]))]),
        deny(DenyReason::NoGrant)
    );
    assert_eq!(
        run_eh3(&[elsewhere(grant("g0", bakkerij()))]),
        deny(DenyReason::NoGrant)
    );
    // A non-covering grant's flaw does not outrank a covering grant's.
    assert_eq!(
        run_eh3(&[
            elsewhere(flawed("g1", &[Flaw::LevelTooLow])),
            flawed("g2", &[Flaw::Revoked]),
        ]),
        deny(DenyReason::GrantRevoked)
    );
}

/// The rule-by-rule explanation agrees with the verdict for every kind of grant: a grant is
/// usable exactly when every rule holds, and otherwise its first failing rule is its reason.
#[test]
fn rule_checks_agree_with_explain() {
    use poort::domain::decision::rule_checks;
    let now = now();
    let svc = service_1();
    let base = || grant("g", bakkerij());
    let variants = [
        base(),
        HeldGrant {
            level: Eh2,
            ..base()
        },
        HeldGrant {
            status: GrantStatus::Revoked,
            ..base()
        },
        HeldGrant {
            holder_blocked: true,
            ..base()
        },
        HeldGrant {
            valid_until: now - days(1),
            ..base()
        },
        HeldGrant {
            valid_from: now + days(1),
            last_used_at: None,
            ..base()
        },
        HeldGrant {
            last_used_at: Some(now - days(731)),
            ..base()
        },
        HeldGrant {
            scope: Scope::Provider {
                provider: "urn:other".into(),
            },
            ..base()
        },
        // Several defects: the first rule that fails decides.
        HeldGrant {
            status: GrantStatus::Revoked,
            holder_blocked: true,
            level: Eh2,
            ..base()
        },
    ];
    for (n, g) in variants.iter().enumerate() {
        let checks = rule_checks(Eh3, Minimum, Eh4, &svc, g, now);
        assert_eq!(checks.len(), 6);
        let verdict = explain(Eh3, Minimum, Eh4, &svc, g, now);
        let first_failed = checks.iter().position(|c| !c.passed);
        match (verdict, first_failed) {
            (GrantVerdict::Usable { .. }, None) => {}
            (GrantVerdict::NotCovering, Some(0)) => {}
            (GrantVerdict::Unusable(reason), Some(i)) => {
                let expected = match i {
                    1 => DenyReason::GrantRevoked,
                    2 => DenyReason::GrantExpired,
                    3 => DenyReason::GrantLapsed,
                    4 => DenyReason::HolderBlocked,
                    5 => DenyReason::GrantLevelTooLow {
                        grant_level: g.level,
                        required: Eh3,
                    },
                    _ => panic!("variant {n}: rule {i}"),
                };
                assert_eq!(reason, expected, "variant {n}");
            }
            (v, f) => panic!("variant {n}: verdict {v:?}, first failing rule {f:?}"),
        }
    }
}

/// Rule 5: an organisation the service cannot be named (none of the identifiers it accepts is
/// in the register) is no candidate; when none is left, the refusal says which it accepts.
#[test]
fn organisations_the_service_cannot_be_told_about_are_no_candidates() {
    use IdentifierType::{KvKnr, Rsin};
    let with_rsin = Organisation {
        rsin: Some("805123453".into()),
        ..org("23456789", "Aannemer B.V.")
    };
    let grants = [grant("g1", bakkerij()), grant("g2", with_rsin.clone())];
    let both = decide(Eh3, Minimum, &authn(Eh3), &service_1(), &grants, now());
    assert!(matches!(&both, Decision::ChooseOrganisation(cs) if cs.len() == 2));

    // KvK number accepted (or nothing named): both stay.
    for accepted in [&[][..], &[KvKnr][..], &[KvKnr, Rsin][..]] {
        assert_eq!(identifiable(both.clone(), accepted), both, "{accepted:?}");
    }
    // RSIN only: the one organisation with an RSIN is allowed outright.
    match identifiable(both.clone(), &[Rsin]) {
        Decision::Allow(c) => assert_eq!(c.organisation, with_rsin),
        other => panic!("{other:?}"),
    }
    // RSIN only, and no organisation has one: refused, naming what the service accepts.
    let only_bakkerij = decide(Eh3, Minimum, &authn(Eh3), &service_1(), &grants[..1], now());
    assert_eq!(
        identifiable(only_bakkerij, &[Rsin]),
        Decision::Deny(DenyReason::NoAcceptedIdentifier {
            accepted: vec![Rsin]
        })
    );
    // A refusal stays the refusal it was.
    let denied = Decision::Deny(DenyReason::NoGrant);
    assert_eq!(identifiable(denied.clone(), &[Rsin]), denied);
}
