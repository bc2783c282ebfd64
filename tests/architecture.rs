//! The shape of the tree, checked from the source's own paths (ARCHITECTURE.md, "Invariants"):
//!
//! - **No circles.** No module names another that names it back, at any depth: `web` and `grants`
//!   as much as `web::login` and `web::answer`, or `web::login::flow` and `web::login::conclude`.
//! - **Layers.** Every top-level module sits in one layer and names only modules of its own layer
//!   or the ones below; the domain names nothing else of poort.
//!
//! A reading of text, not of the compiler, in the way `use` paths are written here: `use
//! crate::a::b`, grouped `use crate::{a, b::{c, d}}`, `super::`/`self::` paths, and `crate::a::f()`
//! inline. Unit-test modules at the end of a file are left out (they may reach anywhere). A path
//! in a comment counts too: a doc link to a higher layer is a dependency of the reader's.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers from the bottom up; a module may name modules of its own layer and of lower ones.
const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &["domain"]),
    (
        "foundation",
        &[
            "config",
            "telemetry",
            "metrics",
            "keys",
            "devcerts",
            "http",
            "trust",
            "refresh",
        ],
    ),
    (
        "protocol adapters and stores",
        &[
            "saml",
            "oidc",
            "metadata",
            "catalogue",
            "federation",
            "store",
            "grants",
            "mail",
        ],
    ),
    ("services", &["admin", "selfservice", "login"]),
    ("edge", &["web", "server", "check", "cli", "demo", "app"]),
];

type Module = Vec<String>;

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/web/login/acs.rs` is `web::login::acs`; a `mod.rs` is its folder; `lib.rs` the root.
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// `a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`.
fn expand_use(body: &str) -> Vec<String> {
    let Some(open) = body.find('{') else {
        return vec![body.to_string()];
    };
    let (prefix, inner) = (&body[..open], &body[open + 1..body.len().saturating_sub(1)]);
    let mut parts = Vec::new();
    let (mut depth, mut current) = (0, String::new());
    for ch in inner.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if ch == ',' && depth == 0 {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(ch);
        }
    }
    parts.push(current);
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand_use(&format!("{prefix}{p}")))
        .collect()
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path a file names that starts at `crate`, `super` or `self`.
fn paths_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    // `use` statements, grouped imports expanded.
    let mut rest = text;
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + 4..];
        if before.is_some_and(is_ident) {
            continue;
        }
        let start = rest.trim_start();
        if !(start.starts_with("crate") || start.starts_with("super") || start.starts_with("self"))
        {
            continue;
        }
        if let Some(end) = start.find(';') {
            let body: String = start[..end]
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            found.extend(expand_use(&body));
        }
    }
    // Inline paths: `crate::a::b::f()`, `super::x::Y`.
    for root in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(at) = text[from..].find(root) {
            let begin = from + at;
            from = begin + root.len();
            if text[..begin].chars().next_back().is_some_and(is_ident) {
                continue;
            }
            let end = text[begin..]
                .find(|c: char| !(is_ident(c) || c == ':'))
                .map_or(text.len(), |e| begin + e);
            found.push(text[begin..end].trim_end_matches(':').to_string());
        }
    }
    found
}

/// A file as the reader finds it: `src/web/login/acs.rs`.
fn shown(src: &Path, file: &Path) -> String {
    let root = src.parent().unwrap_or(src);
    file.strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string()
}

fn longest_known(known: &BTreeSet<Module>, parts: &[String]) -> Option<Module> {
    (1..=parts.len())
        .rev()
        .map(|k| parts[..k].to_vec())
        .find(|m| known.contains(m))
}

fn resolve(known: &BTreeSet<Module>, me: &Module, path: &str) -> Option<Module> {
    let mut parts: Vec<String> = path
        .split("::")
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    match parts.first().map(String::as_str) {
        Some("crate") => longest_known(known, &parts[1..]),
        Some("super" | "self") => {
            let mut base = me.clone();
            while let Some(first) = parts.first().map(String::as_str) {
                match first {
                    "super" => {
                        base.pop();
                    }
                    "self" => {}
                    _ => break,
                }
                parts.remove(0);
            }
            base.extend(parts);
            longest_known(known, &base)
        }
        _ => None,
    }
}

/// Module-to-module edges (file level), with one example path per edge for the message.
fn edges(src: &Path) -> (BTreeSet<Module>, BTreeMap<(Module, Module), String>) {
    let mut files = Vec::new();
    source_files(src, &mut files);
    let modules: BTreeMap<Module, PathBuf> = files
        .iter()
        .map(|f| (module_of(src, f), f.clone()))
        .collect();
    let known: BTreeSet<Module> = modules.keys().cloned().collect();
    let mut edges = BTreeMap::new();
    for (me, file) in &modules {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let text = match text.find("#[cfg(test)]\nmod tests") {
            Some(at) => &text[..at],
            None => &text[..],
        };
        for path in paths_in(text) {
            let Some(target) = resolve(&known, me, &path) else {
                continue;
            };
            // Naming your own folder (or yourself) is not a dependency between modules.
            if target.is_empty() || me.starts_with(&target) {
                continue;
            }
            edges
                .entry((me.clone(), target))
                .or_insert_with(|| format!("{} names {path}", shown(src, file)));
        }
    }
    (known, edges)
}

/// Strongly connected groups of two or more modules, with the edges inside each.
fn circles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    // Tarjan, iterative enough for a tree of this size: recursion depth is the longest path.
    struct Walk<'a> {
        graph: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<Module, usize>,
        low: BTreeMap<Module, usize>,
        stack: Vec<Module>,
        on: BTreeSet<Module>,
        found: Vec<Vec<Module>>,
    }
    fn strong(w: &mut Walk, v: &Module) {
        let n = w.index.len();
        w.index.insert(v.clone(), n);
        w.low.insert(v.clone(), n);
        w.stack.push(v.clone());
        w.on.insert(v.clone());
        let next: Vec<Module> = w.graph.get(v).into_iter().flatten().cloned().collect();
        for u in next {
            if !w.index.contains_key(&u) {
                strong(w, &u);
                let low = w.low[v].min(w.low[&u]);
                w.low.insert(v.clone(), low);
            } else if w.on.contains(&u) {
                let low = w.low[v].min(w.index[&u]);
                w.low.insert(v.clone(), low);
            }
        }
        if w.low[v] == w.index[v] {
            let mut group = Vec::new();
            while let Some(u) = w.stack.pop() {
                w.on.remove(&u);
                let last = &u == v;
                group.push(u);
                if last {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                w.found.push(group);
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v) {
            strong(&mut walk, v);
        }
    }
    walk.found
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn name(m: &[String]) -> String {
    m.join("::")
}

#[test]
fn no_module_names_another_that_names_it_back_at_any_depth() {
    let (known, edges) = edges(&src());
    let deepest = known.iter().map(Vec::len).max().unwrap_or(1);
    let mut problems = Vec::new();
    for depth in 1..=deepest {
        let fold = |m: &Module| m[..m.len().min(depth)].to_vec();
        let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        let mut why: BTreeMap<(Module, Module), &String> = BTreeMap::new();
        for ((from, to), example) in &edges {
            let (a, b) = (fold(from), fold(to));
            if a == b || a.starts_with(&b) {
                continue;
            }
            graph.entry(a.clone()).or_default().insert(b.clone());
            why.entry((a, b)).or_insert(example);
        }
        for group in circles(&graph) {
            let members: BTreeSet<&Module> = group.iter().collect();
            let ties: Vec<String> = why
                .iter()
                .filter(|((a, b), _)| members.contains(a) && members.contains(b))
                .map(|((a, b), e)| format!("    {} -> {}: {e}", name(a), name(b)))
                .collect();
            let names: Vec<String> = group.iter().map(|m| name(m)).collect();
            problems.push(format!(
                "circle at depth {depth}: {}\n{}",
                names.join(", "),
                ties.join("\n")
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_module_names_only_its_own_layer_or_lower_ones() {
    let (known, edges) = edges(&src());
    let layer_of = |top: &str| LAYERS.iter().position(|(_, ms)| ms.contains(&top));
    let mut problems = Vec::new();
    for top in known.iter().filter_map(|m| m.first()) {
        if layer_of(top).is_none() {
            problems.push(format!(
                "src/{top} is in no layer: add it to LAYERS in tests/architecture.rs and ARCHITECTURE.md"
            ));
        }
    }
    for ((from, to), example) in &edges {
        let (Some(a), Some(b)) = (from.first(), to.first()) else {
            continue;
        };
        if a == b {
            continue;
        }
        if let (Some(la), Some(lb)) = (layer_of(a), layer_of(b)) {
            if lb > la {
                problems.push(format!(
                    "{a} ({}) names {b} ({}), a layer above it: {example}",
                    LAYERS[la].0, LAYERS[lb].0
                ));
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_domain_names_nothing_else_of_poort() {
    let (_, edges) = edges(&src());
    let outside: Vec<&String> = edges
        .iter()
        .filter(|((from, to), _)| from.first().is_some_and(|m| m == "domain") && to[0] != "domain")
        .map(|(_, example)| example)
        .collect();
    assert!(outside.is_empty(), "{outside:#?}");
}

/// The reading itself: a circle written into a throwaway tree is found, with the names that tie
/// it; so a green run above means there is none, not that nothing was read.
#[test]
fn the_reading_finds_a_circle_it_is_shown() {
    let dir = std::env::temp_dir().join(format!("poort-architecture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let files = [
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        ("a/mod.rs", "mod inner;\nuse crate::b::Thing;\n"),
        ("a/inner.rs", "use super::super::b;\n"),
        (
            "b.rs",
            "use crate::{a::inner::{self, Other}, c};\npub struct Thing;\n",
        ),
        ("c.rs", "pub fn f() { crate::a::g(); }\n"),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("temp dir");
        }
        std::fs::write(path, text).expect("temp file");
    }
    let (_, found) = edges(&dir);
    let pairs: BTreeSet<(String, String)> = found.keys().map(|(a, b)| (name(a), name(b))).collect();
    for pair in [
        ("a", "b"),
        ("a::inner", "b"),
        ("b", "a::inner"),
        ("b", "c"),
        ("c", "a"),
    ] {
        assert!(
            pairs.contains(&(pair.0.to_string(), pair.1.to_string())),
            "{pair:?} missing from {pairs:?}"
        );
    }
    let graph: BTreeMap<Module, BTreeSet<Module>> =
        found.keys().fold(BTreeMap::new(), |mut g, (a, b)| {
            g.entry(a[..1].to_vec())
                .or_default()
                .insert(b[..1].to_vec());
            g
        });
    let groups = circles(&graph);
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(
        groups[0].iter().map(|m| name(m)).collect::<Vec<_>>(),
        ["a", "b", "c"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
