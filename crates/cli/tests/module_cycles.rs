//! No crate has an import circle between its modules (issue 17): every module's
//! `crate::`/`super::` references in library code, and a search for a cycle among them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

mod common;
use common::workspace;

/// module → the sibling modules it names (`crate::m`, `super::m` at the top level, or a
/// `use` of them), in library code: comments and `#[cfg(test)]` parts left out.
fn module_edges(src_dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    let mut stack = vec![src_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let reexports = reexports(src_dir);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(src_dir).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let library = without_test_items(&text);
        let deps = edges.entry(top.clone()).or_default();
        for line in library.lines().map(str::trim) {
            if line.starts_with("//") {
                continue;
            }
            let line = line.split("//").next().unwrap();
            for prefix in ["crate::", "super::"] {
                for part in line.split(prefix).skip(1) {
                    let name: String = part
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    // `super::` inside a nested module names its parent, not a sibling
                    let nested = prefix == "super::" && rel.components().count() > 1;
                    // `crate::Type` re-exported by lib.rs names the module defining it
                    let name = reexports.get(&name).cloned().unwrap_or(name);
                    if !name.is_empty() && name != top && !nested {
                        deps.insert(name);
                    }
                }
            }
        }
    }
    let names: BTreeSet<String> = edges.keys().cloned().collect();
    for deps in edges.values_mut() {
        deps.retain(|d| names.contains(d));
    }
    edges
}

/// `text` without its `#[cfg(test)]` items (the attribute and the braced item after it),
/// so library code after a test module still counts.
fn without_test_items(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let Some(open) = after.find('{') else {
            return out;
        };
        let mut depth = 0usize;
        let mut end = after.len();
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Names lib.rs re-exports (`pub use module::{A, B}` / `pub use module::A`) → their module.
fn reexports(src_dir: &Path) -> BTreeMap<String, String> {
    let lib = std::fs::read_to_string(src_dir.join("lib.rs")).unwrap_or_default();
    let mut map = BTreeMap::new();
    for stmt in lib.split(';') {
        let stmt = stmt.trim();
        let Some(path) = stmt
            .rsplit("pub use ")
            .next()
            .filter(|_| stmt.contains("pub use "))
        else {
            continue;
        };
        let path = path
            .trim_start_matches("crate::")
            .trim_start_matches("self::");
        let Some((module, names)) = path.split_once("::") else {
            continue;
        };
        let names = names.trim().trim_start_matches('{').trim_end_matches('}');
        for name in names.split(',') {
            let name = name.trim().split(" as ").last().unwrap_or("").trim();
            let first = name.split("::").next().unwrap_or("");
            if !first.is_empty() && first != "*" {
                map.insert(first.to_string(), module.to_string());
            }
        }
    }
    map
}

#[test]
fn test_items_are_cut_and_reexports_name_their_module() {
    let text =
        "use crate::a;\n#[cfg(test)]\nmod tests {\n fn f() { crate::b(); }\n}\nuse crate::c;\n";
    let kept = without_test_items(text);
    assert!(
        kept.contains("crate::a") && kept.contains("crate::c"),
        "{kept}"
    );
    assert!(!kept.contains("crate::b"), "{kept}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lib.rs"),
        "pub use runner::{RunContext, RunRequest};\npub use record::append as write_record;\n",
    )
    .unwrap();
    let map = reexports(dir.path());
    assert_eq!(map["RunRequest"], "runner");
    assert_eq!(map["RunContext"], "runner");
    assert_eq!(map["write_record"], "record");
}

/// One cycle among the modules, if there is one (as a path a -> b -> ... -> a).
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        m: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut cycle = path[at..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for next in edges.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|m| visit(m, edges, &mut Vec::new(), &mut done))
}

#[test]
fn the_cycle_finder_finds_a_cycle() {
    let e = |pairs: &[(&str, &str)]| {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in pairs {
            m.entry(a.to_string()).or_default().insert(b.to_string());
            m.entry(b.to_string()).or_default();
        }
        m
    };
    assert_eq!(find_cycle(&e(&[("a", "b"), ("b", "c")])), None);
    let c = find_cycle(&e(&[("a", "b"), ("b", "c"), ("c", "a")])).unwrap();
    assert_eq!(c.first(), c.last());
    assert_eq!(c.len(), 4);
}

#[test]
fn no_crate_has_an_import_circle_between_its_modules() {
    let mut cycles = Vec::new();
    for entry in std::fs::read_dir(workspace().join("crates")).unwrap() {
        let src = entry.unwrap().path().join("src");
        if !src.is_dir() {
            continue;
        }
        if let Some(cycle) = find_cycle(&module_edges(&src)) {
            cycles.push(format!("{}: {}", src.display(), cycle.join(" -> ")));
        }
    }
    assert!(cycles.is_empty(), "import circles:\n{}", cycles.join("\n"));
}
