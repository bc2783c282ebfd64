//! The audit trail of the session's organisation: newest first, filtered by action, actor and
//! dates, 50 a page, with before and after values as text people read, and a link to the CSV
//! export (`/api/v1/audit.csv`) with the same filters.

use super::*;
use crate::grants::audit::{AuditFilter, AuditRecord};
use axum::extract::Query;
use chrono::{DateTime, NaiveDate, TimeDelta};
use minijinja::context;
use serde::Serialize;
use std::collections::BTreeMap;

pub(super) fn routes() -> axum::Router<Arc<AppState>> {
    axum::Router::new().route("/admin/audit", axum::routing::get(list))
}

/// Kinds of action to filter on: (prefix, Dutch, English).
const ACTIONS: &[(&str, &str, &str)] = &[
    ("grant.", "machtigingen", "grants"),
    ("member.", "gebruikers", "users"),
    ("group.", "groepen", "groups"),
    ("invitation.", "uitnodigingen", "invitations"),
    ("link.", "koppelverzoeken", "link requests"),
    ("organisation.", "organisatie", "organisation"),
    ("login.", "inloggen bij diensten", "logins to services"),
    (
        "admin.login",
        "inloggen in de beheermodule",
        "logins to the admin module",
    ),
];

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    /// First day, `YYYY-MM-DD`.
    #[serde(default)]
    from: String,
    /// Last day (included), `YYYY-MM-DD`.
    #[serde(default)]
    to: String,
    page: Option<usize>,
}

/// `GET /admin/audit`.
pub async fn list(admin: Admin, Query(q): Query<AuditQuery>) -> Page {
    let state = &admin.state;
    // The trail names everyone in the organisation: not a groepsbeheerder's to read.
    admin.require(admin.session.sees_whole_organisation())?;
    let mut errors: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut date = |field: &'static str, text: &str| -> Option<DateTime<Utc>> {
        if text.trim().is_empty() {
            return None;
        }
        let parsed = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
        if parsed.is_none() {
            let text = admin.lang.pick(
                "Vul een datum in (JJJJ-MM-DD).",
                "Enter a date (YYYY-MM-DD).",
            );
            errors.insert(field, text.to_string());
        }
        parsed
    };
    let since = date("from", &q.from);
    // The last day counts whole: up to the start of the next.
    let until = date("to", &q.to).map(|t| t + TimeDelta::days(1));
    let filter = AuditFilter {
        action: Some(q.action.trim().to_string()).filter(|a| !a.is_empty()),
        actor: Some(q.actor.trim().to_string()).filter(|a| !a.is_empty()),
        since,
        until,
    };
    let paging = Paging::asked(q.page);
    let (entries, total) = if errors.is_empty() {
        let listed = crate::grants::audit::list_page(
            state.registry.sql().pool(),
            &admin.session.organisation.kvk,
            &filter,
            paging.offset(),
            Paging::ROWS,
        )
        .await;
        listed.or_failed(&admin, "audit trail")?
    } else {
        (Vec::new(), 0)
    };
    let rows: Vec<minijinja::Value> = entries.iter().map(entry_row).collect();
    // The same filters for the pages and the CSV export (which takes instants).
    let filters = [
        ("action", filter.action.clone().unwrap_or_default()),
        ("actor", filter.actor.clone().unwrap_or_default()),
    ];
    let mut fields = filters.to_vec();
    fields.push(("from", q.from.trim().to_string()));
    fields.push(("to", q.to.trim().to_string()));
    let mut csv = filters.to_vec();
    csv.push(("since", since.map(|t| t.to_rfc3339()).unwrap_or_default()));
    csv.push(("until", until.map(|t| t.to_rfc3339()).unwrap_or_default()));
    let actions: Vec<(&str, &str)> = ACTIONS
        .iter()
        .map(|(prefix, nl, en)| (*prefix, admin.lang.pick(nl, en)))
        .collect();
    let ctx = context! {
        title => admin.lang.pick("Logboek", "Audit trail"),
        entries => rows,
        total => total,
        values => q,
        errors => errors,
        actions => actions,
        csv => list_url("/api/v1/audit.csv", &csv),
        ..paging.context(total, "/admin/audit", &fields),
    };
    Ok(admin.form_page("admin/audit.html", ctx))
}

fn entry_row(e: &AuditRecord) -> minijinja::Value {
    context! {
        id => e.id,
        at => e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        actor => e.actor,
        action => e.action,
        before => e.before.as_deref().map(readable),
        after => e.after.as_deref().map(readable),
    }
}

/// A before or after value (JSON as the register writes it) as plain text: lists joined,
/// objects as `name: value`; anything else as it is.
fn readable(value: &str) -> String {
    fn text(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::Null => "-".into(),
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(items) => {
                items.iter().map(text).collect::<Vec<_>>().join(", ")
            }
            serde_json::Value::Object(fields) => fields
                .iter()
                .map(|(k, v)| format!("{k}: {}", text(v)))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        }
    }
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(v) => text(&v),
        Err(_) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn values_read_as_text() {
        assert_eq!(readable(r#"["g-1","active"]"#), "g-1, active");
        assert_eq!(
            readable(r#"{"level":"EH3","until":null}"#),
            "level: EH3; until: -"
        );
        assert_eq!(readable("not json"), "not json");
    }
}
