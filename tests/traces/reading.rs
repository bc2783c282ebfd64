//! Reading traces: spans by name, route and replica, and what one login's trace must hold.

use super::*;

pub(crate) fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"].get(key)
}

pub(crate) fn attr_str<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    attr(span, key).and_then(Value::as_str)
}

pub(crate) fn name(span: &Value) -> &str {
    span["name"].as_str().unwrap_or_default()
}

/// Is this a request span (one per request, `http.route` set)?
pub(crate) fn route(span: &Value) -> Option<&str> {
    attr_str(span, "http.route")
}

/// Is this the request span of `step`, at its plain or its versioned route (`/saml/acs/1.13`)?
pub(crate) fn at(span: &Value, step: &str) -> bool {
    route(span).is_some_and(|r| {
        r == step
            || r.strip_prefix(step)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// Which replica exported the span, by its resource's `service.instance.id`.
pub(crate) fn replica_of(span: &Value) -> Option<usize> {
    let id = span["resource"]["service.instance.id"].as_str()?;
    (0..2).find(|i| instance(*i) == id)
}

/// A short list of a trace's spans, for failure messages.
pub(crate) fn describe(spans: &[&Value]) -> String {
    spans
        .iter()
        .map(|s| {
            format!(
                "  {} span={} parent={} via={} instance={} attributes={} events={}",
                name(s),
                s["span_id"].as_str().unwrap_or_default(),
                s["parent_span_id"].as_str().unwrap_or_default(),
                s["transport"].as_str().unwrap_or_default(),
                s["resource"]["service.instance.id"].as_str().unwrap_or("-"),
                s["attributes"],
                s["events"]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The spans of the trace whose root request span has `first_route`: waited for (bounded, by
/// polling the receiver's file) until every name in `names` and a request span of every step
/// is in it, from both replicas.
pub(crate) async fn trace_of(
    receiver: &Receiver,
    first_route: &str,
    names: &[&str],
    steps: &[(&str, usize)],
) -> Vec<Value> {
    let deadline = Instant::now() + SPANS_LIMIT;
    loop {
        let spans = receiver.spans();
        let trace_id = spans
            .iter()
            .find(|s| at(s, first_route))
            .and_then(|s| s["trace_id"].as_str())
            .map(str::to_string);
        let trace: Vec<Value> = match &trace_id {
            Some(id) => spans
                .into_iter()
                .filter(|s| s["trace_id"].as_str() == Some(id.as_str()))
                .collect(),
            None => Vec::new(),
        };
        let seen: BTreeSet<&str> = trace.iter().map(name).collect();
        let transports: BTreeSet<&str> = trace
            .iter()
            .filter_map(|s| s["transport"].as_str())
            .collect();
        let every_step = steps
            .iter()
            .all(|(step, _)| trace.iter().any(|s| at(s, step)));
        if names.iter().all(|n| seen.contains(n)) && transports.len() == 2 && every_step {
            return trace;
        }
        if Instant::now() >= deadline {
            // Give what arrived: the assertions say what is missing.
            return trace;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A span expected in a login's trace: its name, and the attributes it must carry (a value, or
/// `None` for any non-empty value).
pub(crate) type Expected<'a> = (&'a str, &'a [(&'a str, Option<&'a str>)]);

/// Everything the issue asks of one login's trace. `steps` are the request spans the login
/// makes, each with the replica the balancer sends it to; `expected` the other spans by name,
/// each with the attributes it must carry (a value, or `None` for any non-empty value).
pub(crate) fn assert_one_trace(trace: &[Value], steps: &[(&str, usize)], expected: &[Expected]) {
    let all: Vec<&Value> = trace.iter().collect();
    let listing = describe(&all);
    assert!(!trace.is_empty(), "no trace arrived for {steps:?}");

    // One trace ID (trace_of collected by it; checked again for the record).
    let ids: BTreeSet<&str> = trace
        .iter()
        .filter_map(|s| s["trace_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 1, "one trace ID:\n{listing}");

    // Parent and child: one root, the first request's span; every other parent is in the trace.
    let by_id: BTreeMap<&str, &Value> = trace
        .iter()
        .map(|s| (s["span_id"].as_str().unwrap(), s))
        .collect();
    let roots: Vec<&Value> = trace
        .iter()
        .filter(|s| s["parent_span_id"].as_str().unwrap_or_default().is_empty())
        .collect();
    assert_eq!(roots.len(), 1, "exactly one root span:\n{listing}");
    assert!(
        at(roots[0], steps[0].0),
        "the root is the login's first request, {}:\n{listing}",
        steps[0].0
    );
    for span in trace {
        let parent = span["parent_span_id"].as_str().unwrap_or_default();
        assert!(
            parent.is_empty() || by_id.contains_key(parent),
            "{}'s parent {parent} is not in the trace:\n{listing}",
            name(span)
        );
    }

    // Spans from both replicas: each request span from the replica the balancer sent it to,
    // named by its resource and arriving by that replica's transport.
    for (step, replica) in steps {
        let requests: Vec<&Value> = trace.iter().filter(|s| at(s, step)).collect();
        assert!(
            !requests.is_empty(),
            "no request span for {step} in the trace:\n{listing}"
        );
        for r in requests {
            assert_eq!(r["kind"], "SPAN_KIND_SERVER", "{step}:\n{listing}");
            assert!(
                attr(r, "http.response.status_code").is_some()
                    && attr_str(r, "http.request.method").is_some(),
                "{step}: method and status:\n{listing}"
            );
            assert_eq!(
                r["transport"].as_str(),
                Some(transport(*replica)),
                "{step} exported by replica {replica}:\n{listing}"
            );
            assert_eq!(
                replica_of(r),
                Some(*replica),
                "{step}: service.instance.id of replica {replica}:\n{listing}"
            );
        }
    }
    let replicas: BTreeSet<Option<usize>> = trace.iter().map(replica_of).collect();
    assert_eq!(
        replicas,
        BTreeSet::from([Some(0), Some(1)]),
        "spans from both replicas:\n{listing}"
    );
    // A request continued on replica 1 hangs under a span replica 0 made.
    let crossing = trace.iter().any(|s| {
        replica_of(s) == Some(1)
            && route(s).is_some()
            && by_id
                .get(s["parent_span_id"].as_str().unwrap_or_default())
                .is_some_and(|p| replica_of(p) == Some(0))
    });
    assert!(
        crossing,
        "a request span of replica 1 is a child of replica 0's:\n{listing}"
    );

    // The steps' spans, with their attributes, each inside the trace's tree.
    for (span_name, attributes) in expected {
        let found: Vec<&Value> = trace.iter().filter(|s| name(s) == *span_name).collect();
        assert!(
            !found.is_empty(),
            "no {span_name} span in the trace:\n{listing}"
        );
        for span in found {
            assert!(
                !span["parent_span_id"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty(),
                "{span_name} has a parent:\n{listing}"
            );
            for (key, want) in *attributes {
                let got = attr(span, key).map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
                match (want, got) {
                    (_, None) => panic!("{span_name} lacks attribute {key}:\n{listing}"),
                    (None, Some(got)) => {
                        assert!(!got.is_empty(), "{span_name}.{key} is empty:\n{listing}")
                    }
                    (Some(want), Some(got)) => {
                        assert_eq!(got, *want, "{span_name}.{key}:\n{listing}")
                    }
                }
            }
        }
    }
}
