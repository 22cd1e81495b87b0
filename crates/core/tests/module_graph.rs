//! The core's modules form no import circle wider than one module folder (docs/design/architecture.md).
//!
//! A module `m` (a file `src/m.rs` or a folder `src/m/`) depends on `n` when its non-test code
//! names `crate::n`. A circle among top-level modules means two concerns cannot be read, tested
//! or moved apart, so this test fails on any strongly connected group of two or more.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The code of a file without line comments and without its `#[cfg(test)]` tail.
fn production_code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::name` and every name inside `crate::{a, b::c}`.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name = ident(part);
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn collect(dir: &Path, top: &str, graph: &mut Graph) {
    for entry in fs::read_dir(dir).expect("read src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect(&path, top, graph);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let code = production_code(&fs::read_to_string(&path).expect("read source"));
            let deps = graph.entry(top.to_string()).or_default();
            deps.extend(crate_paths(&code).into_iter().filter(|d| d != top));
        }
    }
}

fn module_graph(src: &Path) -> Graph {
    let mut graph = Graph::new();
    for entry in fs::read_dir(src).expect("read src") {
        let path = entry.expect("dir entry").path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name == "lib" {
            continue;
        }
        if path.is_dir() {
            collect(&path, &name, &mut graph);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let code = production_code(&fs::read_to_string(&path).expect("read source"));
            let deps = graph.entry(name.clone()).or_default();
            deps.extend(crate_paths(&code).into_iter().filter(|d| *d != name));
        }
    }
    let known: BTreeSet<String> = graph.keys().cloned().collect();
    for deps in graph.values_mut() {
        deps.retain(|d| known.contains(d));
    }
    graph
}

/// Modules reachable from `from` (not counting `from` unless it is on a circle).
fn reachable(graph: &Graph, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&str> = graph[from].iter().map(String::as_str).collect();
    while let Some(m) = stack.pop() {
        if seen.insert(m.to_string()) {
            stack.extend(graph[m].iter().map(String::as_str));
        }
    }
    seen
}

/// Groups of two or more modules that all reach each other.
fn circles(graph: &Graph) -> Vec<BTreeSet<String>> {
    let reach: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|m| (m, reachable(graph, m))).collect();
    let mut groups: Vec<BTreeSet<String>> = Vec::new();
    for m in graph.keys() {
        let group: BTreeSet<String> = graph
            .keys()
            .filter(|n| *n == m || (reach[m].contains(*n) && reach[*n].contains(m)))
            .cloned()
            .collect();
        if group.len() > 1 && !groups.contains(&group) {
            groups.push(group);
        }
    }
    groups
}

#[test]
fn the_core_has_no_import_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    assert!(graph.contains_key("engine") && graph["engine"].contains("store"));
    let found = circles(&graph);
    assert!(
        found.is_empty(),
        "import circles among the core's modules: {found:?}"
    );
}

#[test]
fn the_circle_finder_finds_a_circle() {
    let mut graph = Graph::new();
    graph.insert("a".into(), ["b".to_string()].into());
    graph.insert("b".into(), ["c".to_string()].into());
    graph.insert("c".into(), ["a".to_string()].into());
    graph.insert("d".into(), ["a".to_string()].into());
    let found = circles(&graph);
    assert_eq!(found, vec![["a", "b", "c"].map(String::from).into()]);
    assert_eq!(
        crate_paths("use crate::{x::Y, z};\nlet q = crate::w::f();"),
        ["w", "x", "z"].map(String::from).into()
    );
}
