//! The core's layering (docs/architecture.md, "The core's layers"), checked from the source:
//! no two files depend on each other through any chain, `domain` uses neither `transport` nor
//! `client`, and `transport` does not use `client`. Inside the crate, code names items by their
//! layer path (`crate::domain::error::Error`), never through the crate root's aliases, so the
//! root stays a facade that nothing inside depends on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every module file under `src`, as its module path (`domain::policy::cron`), with its text
/// up to its unit tests (a test module may use anything).
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut out = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap().with_extension("");
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
            parts.pop();
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let text = match text.find("#[cfg(test)]\nmod tests") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        // Comments may name any module; only code counts.
        let code: Vec<&str> = text
            .lines()
            .map(|l| l.trim_start())
            .filter(|l| !l.starts_with("//"))
            .collect();
        out.insert(parts.join("::"), code.join("\n"));
    }
    out
}

/// The longest known module that `path` (segments after `crate::`) starts with.
fn resolve(path: &[&str], known: &BTreeMap<String, String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| known.contains_key(m))
}

/// The modules `text` refers to through `crate::…` and `super::…` paths, including those in
/// `use` groups (`use crate::transport::{body::Body, Request}`).
fn references(module: &str, text: &str, known: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    let parent: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
    let parent = &parent[..parent.len().saturating_sub(1)];
    for (anchor, base) in [("crate::", Vec::new()), ("super::", parent.to_vec())] {
        let mut rest = text;
        while let Some(i) = rest.find(anchor) {
            let preceded = rest[..i]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            rest = &rest[i + anchor.len()..];
            if preceded {
                continue;
            }
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let mut path = base.clone();
            path.extend(rest[..end].split("::").filter(|s| !s.is_empty()));
            // A `use` group: each member may name a deeper module.
            if rest[end..].starts_with('{') {
                let close = rest[end..].find('}').map_or(rest.len(), |c| end + c);
                for member in rest[end + 1..close].split(',') {
                    let member = member.trim();
                    let mut p = path.clone();
                    p.extend(member.split("::").filter(|s| !s.is_empty()));
                    if let Some(m) = resolve(&p, known) {
                        refs.insert(m);
                    }
                }
            }
            if let Some(m) = resolve(&path, known) {
                refs.insert(m);
            } else if base.is_empty() {
                refs.insert(format!("<root>::{}", path.first().copied().unwrap_or("")));
            }
        }
    }
    refs.remove(module);
    refs
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let known = modules();
    known
        .iter()
        .filter(|(m, _)| !m.is_empty())
        .map(|(m, text)| (m.clone(), references(m, text, &known)))
        .collect()
}

#[test]
fn no_module_reaches_the_crate_root() {
    for (module, refs) in graph() {
        for r in refs {
            assert!(
                !r.starts_with("<root>::") || r == "<root>::VERSION",
                "{module} uses {r}: name it by its layer path instead of the root alias"
            );
            assert!(!r.is_empty(), "{module} depends on the crate root");
        }
    }
}

#[test]
fn layers_point_one_way() {
    let rank = |m: &str| match m.split("::").next() {
        Some("domain") => 0,
        Some("transport") => 1,
        Some("client") => 2,
        _ => 3,
    };
    for (module, refs) in graph() {
        for r in refs.iter().filter(|r| !r.starts_with("<root>")) {
            assert!(
                rank(r) <= rank(&module),
                "{module} (a lower layer) uses {r} (a higher one)"
            );
        }
    }
}

#[test]
fn no_import_cycle() {
    let g = graph();
    // Depth-first search with colours; a grey node reached again closes a cycle.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) {
        match state.get(n).copied().unwrap_or(0) {
            2 => return,
            1 => {
                let start = stack.iter().position(|s| s == n).unwrap();
                panic!("import cycle: {} -> {n}", stack[start..].join(" -> "));
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for next in g.get(n).into_iter().flatten() {
            if g.contains_key(next) {
                visit(next, g, state, stack);
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
    }
    // The parser sees real edges (else every check above would pass vacuously).
    assert!(
        g["domain::error"].contains("domain::plan"),
        "{:?}",
        g["domain::error"]
    );
    assert!(g["client::management"].contains("domain::ensure"));
    let mut state = BTreeMap::new();
    for n in g.keys() {
        visit(n, &g, &mut state, &mut Vec::new());
    }
    // The check itself must be able to fail: the old layout's cycle is found.
    let mut old = BTreeMap::new();
    old.insert("error".to_string(), BTreeSet::from(["diff".to_string()]));
    old.insert("diff".to_string(), BTreeSet::from(["error".to_string()]));
    let caught = std::panic::catch_unwind(|| {
        let mut state = BTreeMap::new();
        visit("error", &old, &mut state, &mut Vec::new());
    });
    assert!(caught.is_err());
}
