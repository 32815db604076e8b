//! No module import circles (issue #17): in the server, the app and the agent, the modules
//! (one per file) and the `crate::…` / `super::…` paths each one uses form a graph without
//! a cycle. A module's own `mod` declarations are not uses, nor is its `#[cfg(test)] mod`;
//! a path counts for the deepest module it names. Fails with the cycles it found and the
//! uses that make them.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

/// Every module file of a crate: its path (`a::b`, `""` for the root) and its text.
fn modules(src: &Path) -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = vec![];
    walk(src, &mut files);
    let mut out = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(src).unwrap_or(&f).with_extension("");
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(
            parts.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            parts.pop();
        }
        if parts.first().is_some_and(|p| p == "bin") {
            continue;
        }
        let mut text = std::fs::read_to_string(&f).unwrap_or_default();
        // A file's test module uses the file (`super::*`) and whatever it tests with: not
        // the production graph.
        if let Some(i) = text.find("#[cfg(test)]\nmod ") {
            text.truncate(i);
        }
        out.insert(parts.join("::"), text);
    }
    out
}

/// The paths a file names, as segment lists: from `use` trees (grouped ones expanded) and
/// from paths written inline.
fn paths_in(text: &str) -> Vec<Vec<String>> {
    let mut out = vec![];
    let code: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    // `use` trees.
    let mut rest = code.as_str();
    while let Some(i) = rest.find("use ") {
        let before = rest[..i].chars().last();
        rest = &rest[i + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let end = rest.find(';').unwrap_or(rest.len());
        expand(&rest[..end], &mut vec![], &mut out);
        rest = &rest[end..];
    }
    // Inline paths.
    for start in ["crate::", "super::"] {
        let mut s = code.as_str();
        while let Some(i) = s.find(start) {
            let before = s[..i].chars().last();
            let tail = &s[i..];
            let len = tail
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(tail.len());
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                out.push(
                    tail[..len]
                        .split("::")
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned)
                        .collect(),
                );
            }
            s = &tail[len.max(1)..];
        }
    }
    out
}

/// Expands one use tree (`a::{b, c::{d}}`) under `prefix`.
fn expand(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    // Split at top-level commas when the tree is a group.
    if let Some(inner) = tree.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..i], prefix, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], prefix, out);
        return;
    }
    match tree.find("::") {
        Some(i) if !tree[..i].contains('{') => {
            prefix.push(tree[..i].trim().to_owned());
            expand(&tree[i + 2..], prefix, out);
            prefix.pop();
        }
        _ => {
            let last = tree.split_whitespace().next().unwrap_or("");
            let mut p = prefix.clone();
            if !last.is_empty() && last != "self" && last != "*" {
                p.push(last.to_owned());
            }
            out.push(p);
        }
    }
}

/// The module a path names, from the module `here` (`None`: another crate, or the module
/// itself).
fn target(here: &str, path: &[String], mods: &BTreeMap<String, String>) -> Option<String> {
    let mut segs: Vec<String> = match path.first().map(String::as_str) {
        Some("crate") => path[1..].to_vec(),
        Some("super") => {
            let mut base: Vec<String> = if here.is_empty() {
                vec![]
            } else {
                here.split("::").map(str::to_owned).collect()
            };
            let mut rest = path;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            base
        }
        _ => return None,
    };
    while !segs.is_empty() {
        let name = segs.join("::");
        if mods.contains_key(&name) {
            return (name != here).then_some(name);
        }
        segs.pop();
    }
    None
}

/// Each circle as its modules with the uses among them (`a -> b, c`).
fn cycles(src: &Path) -> Vec<Vec<String>> {
    let (found, edges) = graph(src);
    found
        .into_iter()
        .map(|scc| {
            scc.iter()
                .map(|m| {
                    let to: Vec<&str> = edges[m]
                        .iter()
                        .filter(|t| scc.contains(t))
                        .map(String::as_str)
                        .collect();
                    format!("{m} -> {}", to.join(", "))
                })
                .collect()
        })
        .collect()
}

type Edges = BTreeMap<String, BTreeSet<String>>;

fn graph(src: &Path) -> (Vec<Vec<String>>, Edges) {
    let mods = modules(src);
    let mut edges: Edges = BTreeMap::new();
    for (m, text) in &mods {
        let e = edges.entry(m.clone()).or_default();
        for p in paths_in(text) {
            if let Some(t) = target(m, &p, &mods) {
                // `super::*` in a test module is the file itself; a root re-export is not
                // a use of the crate root.
                if !t.is_empty() {
                    e.insert(t);
                }
            }
        }
    }
    // Strongly connected components (Tarjan).
    struct T<'a> {
        edges: &'a Edges,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        on: BTreeSet<String>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit(t: &mut T<'_>, v: &str) {
        t.index.insert(v.to_owned(), t.next);
        t.low.insert(v.to_owned(), t.next);
        t.next += 1;
        t.stack.push(v.to_owned());
        t.on.insert(v.to_owned());
        let succ: Vec<String> = t.edges.get(v).into_iter().flatten().cloned().collect();
        for w in succ {
            if !t.index.contains_key(&w) {
                visit(t, &w);
                let lw = t.low[&w];
                let lv = t.low[v];
                t.low.insert(v.to_owned(), lv.min(lw));
            } else if t.on.contains(&w) {
                let iw = t.index[&w];
                let lv = t.low[v];
                t.low.insert(v.to_owned(), lv.min(iw));
            }
        }
        if t.low[v] == t.index[v] {
            let mut scc = vec![];
            while let Some(w) = t.stack.pop() {
                t.on.remove(&w);
                let done = w == v;
                scc.push(w);
                if done {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                t.found.push(scc);
            }
        }
    }
    let mut t = T {
        edges: &edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: vec![],
        on: BTreeSet::new(),
        next: 0,
        found: vec![],
    };
    let nodes: Vec<String> = edges.keys().cloned().collect();
    for v in nodes {
        if !t.index.contains_key(&v) {
            visit(&mut t, &v);
        }
    }
    let found = t.found;
    (found, edges)
}

fn crate_src(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
        .join("src")
}

#[test]
fn the_parser_sees_grouped_uses_and_super() {
    let text = "use crate::{a::b, c::{d::E, f}};\nuse super::g;\nfn x() { crate::h::i(); }";
    let mut got = paths_in(text);
    got.sort();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    for want in [
        s(&["crate", "a", "b"]),
        s(&["crate", "c", "d", "E"]),
        s(&["crate", "c", "f"]),
        s(&["super", "g"]),
        s(&["crate", "h", "i"]),
    ] {
        assert!(got.contains(&want), "{want:?} in {got:?}");
    }
}

#[test]
fn a_circle_is_found() {
    let dir = std::env::temp_dir().join(format!("ecpa-modgraph-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("b")).unwrap();
    std::fs::write(dir.join("lib.rs"), "pub mod a; pub mod b;").unwrap();
    std::fs::write(dir.join("a.rs"), "use crate::b::c::X;").unwrap();
    std::fs::write(dir.join("b/mod.rs"), "pub mod c;").unwrap();
    std::fs::write(dir.join("b/c.rs"), "fn f() { crate::a::g(); }").unwrap();
    let found = cycles(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        found,
        vec![vec!["a -> b::c".to_string(), "b::c -> a".to_string()]]
    );
}

#[test]
fn no_module_import_circles() {
    for name in ["server", "app", "agent", "domain", "cardproto", "hsm-sim"] {
        let found = cycles(&crate_src(name));
        assert!(found.is_empty(), "{name}: module circles {found:#?}");
    }
}
