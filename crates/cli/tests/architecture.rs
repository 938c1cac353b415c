//! docs/ARCHITECTURE.md's table of crate edges is the workspace's: every `lrdist-*`
//! dependency in a crate's Cargo.toml is in the table, and nothing else is.

use std::collections::{BTreeMap, BTreeSet};

mod common;
use common::workspace;

/// crate → the lrdist crates its Cargo.toml depends on (normal dependencies only).
fn cargo_edges() -> BTreeMap<String, BTreeSet<String>> {
    let mut edges = BTreeMap::new();
    for entry in std::fs::read_dir(workspace().join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut deps = BTreeSet::new();
        let mut section = String::new();
        for line in manifest.lines().map(str::trim) {
            if line.starts_with('[') {
                section = line.to_string();
            } else if section == "[dependencies]" {
                if let Some(dep) = line.strip_prefix("lrdist-") {
                    let dep: String = dep.chars().take_while(|c| c.is_alphanumeric()).collect();
                    deps.insert(dep);
                }
            }
        }
        edges.insert(name, deps);
    }
    edges
}

/// The same, from the table under "Every edge" in docs/ARCHITECTURE.md.
fn documented_edges() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(workspace().join("docs/ARCHITECTURE.md")).unwrap();
    let table = doc
        .split("| crate | depends on |")
        .nth(1)
        .expect("ARCHITECTURE.md has the table of edges");
    let mut edges = BTreeMap::new();
    for line in table.lines().skip(2) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 3 {
            break;
        }
        let deps: BTreeSet<String> = match cells[2] {
            "(no lrdist crate)" => BTreeSet::new(),
            list => list.split(',').map(|d| d.trim().to_string()).collect(),
        };
        for name in cells[1].split(',') {
            edges.insert(name.trim().to_string(), deps.clone());
        }
    }
    edges
}

#[test]
fn the_documented_crate_edges_are_the_manifests() {
    let cargo = cargo_edges();
    assert!(cargo.len() >= 9, "{cargo:?}");
    assert_eq!(documented_edges(), cargo);
}
