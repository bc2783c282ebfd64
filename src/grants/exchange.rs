//! Grants as exchanged with people and other systems: CSV and JSON, the same columns in both.
//!
//! ```csv
//! id,organisation,person,group,scope,provider,service_uuid,level,valid_from,valid_until,status
//! ,12345678,anna,,all_services,,,EH3,2026-01-01,2030-12-31,active
//! ,12345678,,Kassa,service,,5a1d3b0e-8c9f-4f5e-9b1a-000000000001,EH2+,2026-01-01,2027-01-01,
//! ```
//!
//! Reading checks each row on its own (the register checks the rest when importing) and reports
//! every bad row with its line, never only the first. Writing produces what reading accepts.

use crate::domain::grant::{validity_limit, GrantStatus, Scope};
use crate::domain::identifiers::is_kvk;
use crate::domain::level::Level;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

/// The columns, in the order written.
pub const COLUMNS: [&str; 11] = [
    "id",
    "organisation",
    "person",
    "group",
    "scope",
    "provider",
    "service_uuid",
    "level",
    "valid_from",
    "valid_until",
    "status",
];

/// One grant as exchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    /// Empty on import: the register makes one.
    pub id: Option<String>,
    /// KvK number.
    pub organisation: String,
    /// The holder: a person (their membership) or a group of the organisation, exactly one.
    pub person: Option<String>,
    pub group: Option<String>,
    pub scope: Scope,
    pub level: Level,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub status: GrantStatus,
}

/// A bad row: its line in the file and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A row as written in either format: every field text, absent or empty when not given.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRow {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    organisation: Option<String>,
    #[serde(default)]
    person: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default)]
    service_uuid: Option<String>,
    #[serde(default)]
    level: Option<String>,
    #[serde(default)]
    valid_from: Option<String>,
    #[serde(default)]
    valid_until: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// RFC 3339, or a plain date meaning midnight UTC (as people write validity dates).
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("{text:?} is not a date (YYYY-MM-DD) or an RFC 3339 instant"))
}

fn instant(field: &str, text: &str) -> Result<DateTime<Utc>, String> {
    parse_instant(text).map_err(|e| format!("{field} {e}"))
}

fn day(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Every problem of one row, or the row.
fn check(raw: RawRow) -> Result<GrantRow, Vec<String>> {
    let mut problems = Vec::new();
    let organisation = match given(&raw.organisation) {
        Some(kvk) if is_kvk(kvk) => kvk.to_string(),
        Some(kvk) => {
            problems.push(format!(
                "organisation {kvk:?} is not a KvK number (8 digits)"
            ));
            String::new()
        }
        None => {
            problems.push("organisation (KvK number) is missing".into());
            String::new()
        }
    };
    let person = given(&raw.person).map(str::to_string);
    let group = given(&raw.group).map(str::to_string);
    if person.is_some() == group.is_some() {
        problems.push("give exactly one holder: person or group".into());
    }
    let provider = given(&raw.provider).map(str::to_string);
    let service_uuid = given(&raw.service_uuid).map(str::to_string);
    let scope = match (given(&raw.scope), provider, service_uuid) {
        (Some("all_services"), None, None) => Some(Scope::AllServices),
        (Some("provider"), Some(provider), None) => Some(Scope::Provider { provider }),
        (Some("service"), None, Some(uuid)) => Some(Scope::Service { uuid }),
        (Some(kind @ ("all_services" | "provider" | "service")), _, _) => {
            problems.push(match kind {
                "all_services" => "scope all_services takes no provider or service_uuid".into(),
                "provider" => "scope provider needs a provider and no service_uuid".into(),
                _ => "scope service needs a service_uuid and no provider".into(),
            });
            None
        }
        (Some(other), _, _) => {
            problems.push(format!(
                "scope {other:?}: use all_services, provider or service"
            ));
            None
        }
        (None, _, _) => {
            problems.push("scope is missing".into());
            None
        }
    };
    let level = match given(&raw.level).map(str::parse::<Level>) {
        Some(Ok(level)) => Some(level),
        Some(Err(e)) => {
            problems.push(e.to_string());
            None
        }
        None => {
            problems.push("level is missing".into());
            None
        }
    };
    let mut time = |field: &str, value: &Option<String>| match given(value) {
        Some(text) => instant(field, text).map_err(|e| problems.push(e)).ok(),
        None => {
            problems.push(format!("{field} is missing"));
            None
        }
    };
    let valid_from = time("valid_from", &raw.valid_from);
    let valid_until = time("valid_until", &raw.valid_until);
    if let (Some(from), Some(until)) = (valid_from, valid_until) {
        if until <= from {
            problems.push(format!(
                "valid_until {} is not after valid_from {}",
                day(&until),
                day(&from)
            ));
        } else if validity_limit(from).is_none_or(|l| until > l) {
            problems.push(format!(
                "valid_until {} is more than 5 years after valid_from {}",
                day(&until),
                day(&from)
            ));
        }
    }
    let status = match given(&raw.status) {
        None | Some("active") => Some(GrantStatus::Active),
        Some("revoked") => Some(GrantStatus::Revoked),
        Some(other) => {
            problems.push(format!("status {other:?}: use active or revoked"));
            None
        }
    };
    match (scope, level, valid_from, valid_until, status) {
        (Some(scope), Some(level), Some(valid_from), Some(valid_until), Some(status))
            if problems.is_empty() =>
        {
            Ok(GrantRow {
                id: given(&raw.id).map(str::to_string),
                organisation,
                person,
                group,
                scope,
                level,
                valid_from,
                valid_until,
                status,
            })
        }
        _ => Err(problems),
    }
}

/// What reading a file gave: the rows that read, each with its line, and every row that did not.
/// An import reports the bad rows together with what the register says of the good ones, so
/// that one report names every bad row of a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub rows: Vec<(usize, GrantRow)>,
    /// By line.
    pub errors: Vec<RowError>,
}

impl Parsed {
    /// The rows when every row read, or every bad row.
    pub fn into_result(self) -> Result<Vec<(usize, GrantRow)>, Vec<RowError>> {
        if self.errors.is_empty() {
            Ok(self.rows)
        } else {
            Err(self.errors)
        }
    }
}

fn collect(rows: Vec<(usize, Result<GrantRow, Vec<String>>)>, mut errors: Vec<RowError>) -> Parsed {
    let mut good = Vec::new();
    for (line, row) in rows {
        match row {
            Ok(row) => good.push((line, row)),
            Err(problems) => errors.push(RowError {
                line,
                message: problems.join("; "),
            }),
        }
    }
    errors.sort_by_key(|e| e.line);
    Parsed { rows: good, errors }
}

/// Reads grants from CSV with a header row; each row comes with its line in the file.
pub fn parse_csv(text: &str) -> Result<Vec<(usize, GrantRow)>, Vec<RowError>> {
    read_csv(text).into_result()
}

/// Reads grants from a JSON array of objects with the CSV's column names; each row comes with
/// the line its object starts on.
pub fn parse_json(text: &str) -> Result<Vec<(usize, GrantRow)>, Vec<RowError>> {
    read_json(text).into_result()
}

/// Reads CSV with a header row: the rows that read and the rows that did not, by line.
pub fn read_csv(text: &str) -> Parsed {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return collect(
                Vec::new(),
                vec![RowError {
                    line: 1,
                    message: format!("no header row: {e}"),
                }],
            )
        }
    };
    let unknown: Vec<&str> = headers.iter().filter(|h| !COLUMNS.contains(h)).collect();
    if !unknown.is_empty() {
        return collect(
            Vec::new(),
            vec![RowError {
                line: 1,
                message: format!(
                    "unknown column(s) {}; the columns are {}",
                    unknown.join(", "),
                    COLUMNS.join(",")
                ),
            }],
        );
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                let field = |name: &str| {
                    headers
                        .iter()
                        .position(|h| h == name)
                        .and_then(|i| record.get(i))
                        .map(str::to_string)
                };
                let raw = RawRow {
                    id: field("id"),
                    organisation: field("organisation"),
                    person: field("person"),
                    group: field("group"),
                    scope: field("scope"),
                    provider: field("provider"),
                    service_uuid: field("service_uuid"),
                    level: field("level"),
                    valid_from: field("valid_from"),
                    valid_until: field("valid_until"),
                    status: field("status"),
                };
                rows.push((line, check(raw)));
            }
            Err(e) => errors.push(RowError {
                line: e.position().map_or(0, |p| p.line() as usize),
                message: format!("unreadable row: {e}"),
            }),
        }
    }
    collect(rows, errors)
}

/// Reads a JSON array of objects: the rows that read and the rows that did not, each by the
/// line its object starts on.
pub fn read_json(text: &str) -> Parsed {
    let values: Vec<&serde_json::value::RawValue> = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return collect(
                Vec::new(),
                vec![RowError {
                    line: e.line(),
                    message: format!("not a JSON array of grants: {e}"),
                }],
            )
        }
    };
    let base = text.as_ptr() as usize;
    let mut rows = Vec::new();
    for value in values {
        // Raw values borrow from `text`: their offset gives their line.
        let offset = (value.get().as_ptr() as usize).saturating_sub(base);
        let line = text[..offset.min(text.len())].matches('\n').count() + 1;
        let row = match serde_json::from_str::<RawRow>(value.get()) {
            Ok(raw) => check(raw),
            Err(e) => Err(vec![e.to_string()]),
        };
        rows.push((line, row));
    }
    collect(rows, Vec::new())
}

fn raw(row: &GrantRow) -> RawRow {
    let (kind, provider, uuid) = match &row.scope {
        Scope::AllServices => ("all_services", None, None),
        Scope::Provider { provider } => ("provider", Some(provider.clone()), None),
        Scope::Service { uuid } => ("service", None, Some(uuid.clone())),
    };
    RawRow {
        id: row.id.clone(),
        organisation: Some(row.organisation.clone()),
        person: row.person.clone(),
        group: row.group.clone(),
        scope: Some(kind.to_string()),
        provider,
        service_uuid: uuid,
        level: Some(row.level.to_string()),
        valid_from: Some(day(&row.valid_from)),
        valid_until: Some(day(&row.valid_until)),
        status: Some(
            match row.status {
                GrantStatus::Active => "active",
                GrantStatus::Revoked => "revoked",
            }
            .to_string(),
        ),
    }
}

/// Writes grants as CSV, header first, columns in [`COLUMNS`] order.
pub fn to_csv(rows: &[GrantRow]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing into memory only fails on an I/O error, which a Vec does not have.
    let _ = writer.write_record(COLUMNS);
    for row in rows {
        let r = raw(row);
        let fields = [
            r.id,
            r.organisation,
            r.person,
            r.group,
            r.scope,
            r.provider,
            r.service_uuid,
            r.level,
            r.valid_from,
            r.valid_until,
            r.status,
        ];
        let _ = writer.write_record(fields.iter().map(|f| f.as_deref().unwrap_or("")));
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Writes grants as a JSON array, one object per line, absent fields left out.
pub fn to_json(rows: &[GrantRow]) -> String {
    let mut out = String::from("[\n");
    for (i, row) in rows.iter().enumerate() {
        let value = serde_json::to_value(raw(row)).unwrap_or_default();
        let trimmed: serde_json::Map<String, serde_json::Value> = value
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        out.push_str("  ");
        out.push_str(&serde_json::to_string(&trimmed).unwrap_or_default());
        if i + 1 < rows.len() {
            out.push(',');
        }
        out.push('\n');
    }
    out.push_str("]\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn rows() -> Vec<GrantRow> {
        vec![
            GrantRow {
                id: Some("g-1".into()),
                organisation: "12345678".into(),
                person: Some("anna".into()),
                group: None,
                scope: Scope::AllServices,
                level: Level::Eh3,
                valid_from: t("2026-01-01T00:00:00Z"),
                valid_until: t("2030-12-31T00:00:00Z"),
                status: GrantStatus::Active,
            },
            GrantRow {
                id: None,
                organisation: "12345678".into(),
                person: None,
                group: Some("Kassa, \"voor\"".into()),
                scope: Scope::Service {
                    uuid: "5a1d3b0e-8c9f-4f5e-9b1a-000000000001".into(),
                },
                level: Level::Eh2Plus,
                valid_from: t("2026-01-01T08:30:00Z"),
                valid_until: t("2027-01-01T00:00:00Z"),
                status: GrantStatus::Revoked,
            },
            GrantRow {
                id: Some("g-3".into()),
                organisation: "87654321".into(),
                person: Some("carla".into()),
                group: None,
                scope: Scope::Provider {
                    provider: "urn:etoegang:DV:00000099990000000002:entities:1".into(),
                },
                level: Level::Eh4,
                valid_from: t("2026-01-01T00:00:00Z"),
                valid_until: t("2031-01-01T00:00:00Z"),
                status: GrantStatus::Active,
            },
        ]
    }

    fn only_rows(parsed: Vec<(usize, GrantRow)>) -> Vec<GrantRow> {
        parsed.into_iter().map(|(_, r)| r).collect()
    }

    #[test]
    fn csv_and_json_round_trip() {
        let csv = to_csv(&rows());
        assert_eq!(only_rows(parse_csv(&csv).unwrap()), rows(), "{csv}");
        let json = to_json(&rows());
        let parsed = parse_json(&json).unwrap();
        assert_eq!(
            parsed.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
            [2, 3, 4]
        );
        assert_eq!(only_rows(parsed), rows(), "{json}");
    }

    #[test]
    fn every_bad_csv_row_is_reported_with_its_line() {
        let text = "\
organisation,person,group,scope,provider,service_uuid,level,valid_from,valid_until,status
12345678,anna,,all_services,,,EH3,2026-01-01,2030-12-31,active
1234567,anna,,all_services,,,EH3,2026-01-01,2030-12-31,
12345678,anna,,all_services,,,EH3,2026-01-01,2031-01-02,
12345678,anna,,all_services,,,EH3,2026-01-01,2031-01-01,
12345678,anna,Kassa,provider,,,EH1,2026-01-01,2027-01-01,gone
12345678,,\"Kassa\nnieuw\",all_services,,,EH2+,2026-01-01,2027-01-01,
12345678,bram,,service,,,EH3,2026-13-01,2027-01-01,
";
        let errors = parse_csv(text).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [3, 4, 6, 9], "{errors:?}");
        assert!(errors[0].message.contains("KvK"));
        assert!(
            errors[1].message.contains("more than 5 years"),
            "{}",
            errors[1]
        );
        // One line, every problem of it.
        assert!(errors[2].message.contains("exactly one holder"));
        assert!(errors[2]
            .message
            .contains("scope provider needs a provider"));
        assert!(errors[2].message.contains("EH1"));
        assert!(errors[2].message.contains("status \"gone\""));
        // The quoted field over two lines (7 and 8) keeps the next line's number right.
        assert!(errors[3].message.contains("service_uuid"));
        assert!(errors[3].message.contains("2026-13-01"));
        assert_eq!(
            errors[0].to_string(),
            format!("line 3: {}", errors[0].message)
        );
    }

    #[test]
    fn reading_keeps_the_rows_that_read_beside_the_bad_ones() {
        let parsed = read_csv(
            "organisation,person,scope,level,valid_from,valid_until\n\
             12345678,anna,all_services,EH3,2026-01-01,2027-01-01\n\
             1234,anna,all_services,EH3,2026-01-01,2027-01-01\n\
             12345678,bram,all_services,EH2,2026-01-01,2027-01-01\n",
        );
        let lines: Vec<usize> = parsed.rows.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [2, 4]);
        assert_eq!(parsed.rows[1].1.person.as_deref(), Some("bram"));
        let bad: Vec<usize> = parsed.errors.iter().map(|e| e.line).collect();
        assert_eq!(bad, [3]);
        assert!(parsed.into_result().is_err());
    }

    #[test]
    fn exactly_five_years_is_allowed_a_day_more_is_not() {
        let head = "organisation,person,scope,level,valid_from,valid_until\n";
        assert!(parse_csv(&format!(
            "{head}12345678,anna,all_services,EH3,2026-03-01,2031-03-01\n"
        ))
        .is_ok());
        assert!(parse_csv(&format!(
            "{head}12345678,anna,all_services,EH3,2026-03-01,2031-03-02\n"
        ))
        .is_err());
        assert!(parse_csv(&format!(
            "{head}12345678,anna,all_services,EH3,2026-03-01,2026-03-01\n"
        ))
        .unwrap_err()[0]
            .message
            .contains("not after"));
    }

    #[test]
    fn unknown_columns_and_fields_are_refused() {
        let errors = parse_csv("organisation,persoon\n12345678,anna\n").unwrap_err();
        assert_eq!(errors[0].line, 1);
        assert!(errors[0].message.contains("persoon"));
        let errors = parse_json(
            "[\n  {\"organisation\": \"12345678\", \"person\": \"anna\", \"scope\": \"all_services\",\n   \"level\": \"EH3\", \"valid_from\": \"2026-01-01\", \"valid_until\": \"2027-01-01\"},\n  {\"organisation\": \"12345678\", \"holder\": \"anna\"}\n]",
        )
        .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 4);
        assert!(errors[0].message.contains("holder"), "{}", errors[0]);
        let errors = parse_json("[{\"organisation\": ").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("not a JSON array"));
    }
}
