//! The register commands as built: organisations, identities, members, grants, listing,
//! export and import (round trip, all-or-nothing with every bad line), and explain.

mod common;

use poort::config::Config;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const IDP: &str = "urn:etoegang:AD:00000099990000000003:entities:1";

/// A config on a fresh, empty SQLite register in `dir`.
fn config_in(dir: &Path, name: &str) -> PathBuf {
    let text = std::fs::read_to_string(common::repo_file("config/poort.toml")).unwrap();
    let mut config: Config = toml::from_str(&text).unwrap();
    config.register.database = format!("sqlite://{}", dir.join(format!("{name}.db")).display());
    config.register.seed = None;
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    path
}

fn poort(config: &Path, args: &[&str]) -> Output {
    let (group, rest) = args.split_first().unwrap();
    Command::new(env!("CARGO_BIN_EXE_poort"))
        .arg(group)
        .arg("--config")
        .arg(config)
        .args(rest)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn ok(config: &Path, args: &[&str]) -> String {
    let out = poort(config, args);
    assert!(
        out.status.success(),
        "poort {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail; its stderr.
fn fails(config: &Path, args: &[&str]) -> String {
    let out = poort(config, args);
    assert!(!out.status.success(), "poort {args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

/// `grants add` for the Bakkerij at EH3, with more arguments.
fn add<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["grants", "add", "--org", "12345678", "--level", "EH3"];
    args.extend_from_slice(extra);
    args
}

/// An organisation with Anna as hoofdbeheerder, in the register of `config`.
fn bakkerij(config: &Path) {
    ok(
        config,
        &[
            "org",
            "create",
            "--kvk",
            "12345678",
            "--name",
            "Bakkerij",
            "--rsin",
            "805123453",
        ],
    );
    ok(
        config,
        &[
            "person",
            "link",
            "--person",
            "anna",
            "--idp",
            IDP,
            "--subject",
            "anna",
            "--name",
            "Anna",
        ],
    );
    ok(
        config,
        &[
            "member",
            "add",
            "--org",
            "12345678",
            "--person",
            "anna",
            "--role",
            "hoofdbeheerder",
            "--role",
            "gebruiker",
        ],
    );
    ok(
        config,
        &["group", "create", "--org", "12345678", "--name", "Kassa"],
    );
    ok(
        config,
        &[
            "group", "add", "--org", "12345678", "--group", "Kassa", "--person", "anna",
        ],
    );
}

#[test]
fn register_commands_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path(), "a");
    bakkerij(&config);

    // Bad input: one clear line each, nothing written.
    assert!(fails(
        &config,
        &["org", "create", "--kvk", "1234567", "--name", "X"]
    )
    .contains("KvK"));
    assert!(fails(
        &config,
        &[
            "org",
            "create",
            "--kvk",
            "55555555",
            "--name",
            "X",
            "--rsin",
            "123456789"
        ]
    )
    .contains("RSIN"));
    let err = fails(
        &config,
        &add(&[
            "--person",
            "anna",
            "--scope",
            "all",
            "--from",
            "2026-01-01",
            "--until",
            "2031-01-02",
        ]),
    );
    assert!(err.contains("longer than 5 years"), "{err}");
    let err = fails(
        &config,
        &add(&[
            "--person",
            "anna",
            "--scope",
            "service:00000000-0000-0000-0000-000000000000",
            "--years",
            "1",
        ]),
    );
    assert!(err.contains("no service with ServiceUUID"), "{err}");
    let err = fails(
        &config,
        &add(&["--person", "bram", "--scope", "all", "--years", "1"]),
    );
    assert!(err.contains("no person bram"), "{err}");

    // Grants held by Anna and by her group.
    ok(
        &config,
        &add(&[
            "--person",
            "anna",
            "--scope",
            "all",
            "--from",
            "2026-01-01",
            "--years",
            "4",
            "--id",
            "g-anna",
        ]),
    );
    ok(
        &config,
        &[
            "grants",
            "add",
            "--org",
            "12345678",
            "--group",
            "Kassa",
            "--level",
            "EH2+",
            "--scope",
            "service:5a1d3b0e-8c9f-4f5e-9b1a-000000000002",
            "--from",
            "2026-01-01",
            "--until",
            "2028-01-01",
            "--id",
            "g-kassa",
        ],
    );
    let err = fails(
        &config,
        &add(&[
            "--person",
            "anna",
            "--scope",
            "all",
            "--from",
            "2026-06-01",
            "--years",
            "1",
        ]),
    );
    assert!(err.contains("already gives this holder"), "{err}");
    let list = ok(&config, &["grants", "list", "--org", "12345678"]);
    assert!(
        list.contains("g-anna") && list.contains("g-kassa") && list.contains("2 grant(s)"),
        "{list}"
    );
    let show = ok(&config, &["org", "show", "12345678"]);
    assert!(
        show.contains("anna")
            && show.contains("hoofdbeheerder,gebruiker")
            && show.contains("Kassa"),
        "{show}"
    );

    // Explain: allowed, rule by rule; after a revocation refused, saying which rule.
    let explain = ok(
        &config,
        &[
            "grants",
            "explain",
            "--person",
            "anna",
            "--service",
            "urn:etoegang:DV:00000099990000000002:services:1",
        ],
    );
    assert!(explain.contains("grant g-anna"), "{explain}");
    assert!(
        explain.contains("ok  scope covers the service"),
        "{explain}"
    );
    assert!(
        explain.contains("decision: ALLOWED for Bakkerij (12345678) at EH3 with grant g-anna"),
        "{explain}"
    );
    ok(&config, &["grants", "revoke", "g-anna"]);
    let explain = ok(
        &config,
        &[
            "grants",
            "explain",
            "--person",
            "anna",
            "--service",
            "5a1d3b0e-8c9f-4f5e-9b1a-000000000001",
        ],
    );
    assert!(explain.contains("NO  grant is active"), "{explain}");
    assert!(
        explain.contains("decision: REFUSED (grant_revoked)"),
        "{explain}"
    );
    // Service 2 is still covered by the Kassa group's grant.
    let explain = ok(
        &config,
        &[
            "grants",
            "explain",
            "--person",
            "anna",
            "--service",
            "5a1d3b0e-8c9f-4f5e-9b1a-000000000002",
            "--level",
            "EH2+",
        ],
    );
    assert!(
        explain.contains("decision: ALLOWED for Bakkerij (12345678) at EH2+ with grant g-kassa"),
        "{explain}"
    );

    // Export, then import into a fresh register: the same grants come back.
    let csv = dir.path().join("grants.csv");
    let json = dir.path().join("grants.json");
    ok(
        &config,
        &[
            "grants",
            "export",
            "--format",
            "csv",
            "--output",
            csv.to_str().unwrap(),
        ],
    );
    ok(
        &config,
        &[
            "grants",
            "export",
            "--format",
            "json",
            "--output",
            json.to_str().unwrap(),
        ],
    );
    for (name, file) in [("b", &csv), ("c", &json)] {
        let fresh = config_in(dir.path(), name);
        bakkerij(&fresh);
        let out = ok(&fresh, &["grants", "import", file.to_str().unwrap()]);
        assert!(out.contains("imported 2 grant(s)"), "{out}");
        assert_eq!(
            ok(&fresh, &["grants", "export", "--format", "csv"]),
            std::fs::read_to_string(&csv).unwrap(),
            "round trip through {name}"
        );
    }
}

#[test]
fn an_import_with_bad_rows_reports_each_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(dir.path(), "a");
    bakkerij(&config);
    let file = dir.path().join("grants.csv");
    std::fs::write(
        &file,
        "organisation,person,group,scope,provider,service_uuid,level,valid_from,valid_until\n\
         12345678,anna,,all_services,,,EH3,2026-01-01,2027-01-01\n\
         12345678,anna,,all_services,,,EH3,2026-01-01,2032-01-01\n\
         12345678,anna,,service,,5a1d3b0e-8c9f-4f5e-9b1a-000000000002,EH3,2026-01-01,2027-01-01\n\
         12345678,bram,,all_services,,,EH3,2026-01-01,2027-01-01\n\
         12345678,,Kassa,provider,urn:etoegang:DV:00000099990000000002:entities:1,,EH4,2026-01-01,2027-01-01\n\
         99999999,anna,,all_services,,,EH2,2026-01-01,2027-01-01\n",
    )
    .unwrap();
    // Line 3 does not read; the register refuses lines 5 and 7: one report names all three.
    let err = fails(&config, &["grants", "import", file.to_str().unwrap()]);
    for expected in [
        "line 3: valid_until",
        "line 5: no person bram",
        "line 7: no organisation with KvK number 99999999",
    ] {
        assert!(err.contains(expected), "{expected:?} in {err}");
    }
    assert!(err.contains("3 bad row(s)"), "{err}");
    assert!(
        !err.contains("line 2:") && !err.contains("line 4:") && !err.contains("line 6:"),
        "{err}"
    );
    assert!(
        ok(&config, &["grants", "list"]).contains("0 grant(s)"),
        "checking the rows that read wrote nothing"
    );
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("2032-01-01", "2027-01-01");
    std::fs::write(&file, text).unwrap();
    let err = fails(&config, &["grants", "import", file.to_str().unwrap()]);
    // Line 3 repeats line 2; bram does not exist; 99999999 is no organisation.
    for expected in [
        "line 3: grant",
        "already gives this holder",
        "line 5: no person bram",
        "line 7: no organisation with KvK number 99999999",
    ] {
        assert!(err.contains(expected), "{expected:?} in {err}");
    }
    assert!(err.contains("3 bad row(s)"), "{err}");
    assert!(
        !err.contains("line 2:") && !err.contains("line 4:") && !err.contains("line 6:"),
        "{err}"
    );
    let list = ok(&config, &["grants", "list"]);
    assert!(list.contains("0 grant(s)"), "nothing imported: {list}");
}
