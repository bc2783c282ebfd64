//! Log lines: readable text, or one JSON object a line, each with the request's trace ID, flow
//! and reference number (from [`super::correlation`]). Written by hand because
//! tracing-subscriber's formatters cannot add values that are not span fields.

use super::correlation;
use serde_json::{Map, Value};
use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The format of `[log] format`.
#[derive(Debug, Clone, Copy)]
pub struct LineFormat {
    pub json: bool,
}

#[derive(Default)]
struct Fields {
    message: Option<String>,
    fields: Map<String, Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        } else if !field.name().starts_with("log.") {
            self.fields.insert(field.name().to_string(), value);
        }
    }
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let ids = correlation::line_ids();
        let spans: Vec<&str> = ctx
            .event_scope()
            .map(|scope| scope.from_root().map(|s| s.name()).collect())
            .unwrap_or_default();
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        if self.json {
            let mut line = Map::new();
            line.insert("time".into(), Value::from(time));
            line.insert("level".into(), Value::from(meta.level().as_str()));
            line.insert("target".into(), Value::from(meta.target()));
            line.insert(
                "message".into(),
                Value::from(fields.message.unwrap_or_default()),
            );
            for (key, value) in [
                ("trace_id", ids.trace_id),
                ("flow_id", ids.flow),
                ("reference", ids.reference),
            ] {
                if let Some(v) = value {
                    line.insert(key.into(), Value::from(v));
                }
            }
            if !spans.is_empty() {
                line.insert("span".into(), Value::from(spans.join(":")));
            }
            if !fields.fields.is_empty() {
                line.insert("fields".into(), Value::Object(fields.fields));
            }
            let text = serde_json::to_string(&Value::Object(line)).map_err(|_| fmt::Error)?;
            writeln!(writer, "{text}")
        } else {
            write!(
                writer,
                "{time} {:>5} {}",
                meta.level().as_str(),
                meta.target()
            )?;
            if !spans.is_empty() {
                write!(writer, " [{}]", spans.join(":"))?;
            }
            write!(writer, ": {}", fields.message.unwrap_or_default())?;
            for (key, value) in &fields.fields {
                match value {
                    Value::String(s) => write!(writer, " {key}={s}")?,
                    other => write!(writer, " {key}={other}")?,
                }
            }
            for (key, value) in [
                ("trace_id", ids.trace_id),
                ("flow", ids.flow),
                ("ref", ids.reference),
            ] {
                if let Some(v) = value {
                    write!(writer, " {key}={v}")?;
                }
            }
            writer.write_char('\n')
        }
    }
}
