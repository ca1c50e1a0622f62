//! The hexagon's dependency rule, read from `cargo metadata`: core stays free of I/O
//! crates, and no adapter depends on another adapter.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Crates whose presence in core's closure means core does I/O.
const IO_CRATES: &[&str] = &[
    "tokio",
    "poem",
    "poem-openapi",
    "sea-orm",
    "sea-orm-migration",
    "sqlx",
    "reqwest",
    "hyper",
    "octocrab",
    "gitlab",
    "openidconnect",
];
const IO_PREFIXES: &[&str] = &["aws-", "azure_", "google-cloud-", "gcloud-"];

struct Graph {
    /// package id -> name
    names: BTreeMap<String, String>,
    /// package id -> ids of its normal (non-dev, non-build) dependencies
    normal_deps: BTreeMap<String, Vec<String>>,
    /// workspace member name -> id
    members: BTreeMap<String, String>,
    /// workspace member name -> manifest path
    manifests: BTreeMap<String, String>,
}

fn graph() -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let mut g = Graph {
        names: BTreeMap::new(),
        normal_deps: BTreeMap::new(),
        members: BTreeMap::new(),
        manifests: BTreeMap::new(),
    };
    let members: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for pkg in meta["packages"].as_array().expect("packages") {
        let id = pkg["id"].as_str().expect("id").to_string();
        let name = pkg["name"].as_str().expect("name").to_string();
        if members.contains(id.as_str()) {
            g.members.insert(name.clone(), id.clone());
            g.manifests.insert(
                name.clone(),
                pkg["manifest_path"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        }
        g.names.insert(id, name);
    }
    for node in meta["resolve"]["nodes"].as_array().expect("resolve nodes") {
        let id = node["id"].as_str().expect("node id").to_string();
        let deps = node["deps"]
            .as_array()
            .map(|deps| {
                deps.iter()
                    .filter(|d| {
                        d["dep_kinds"]
                            .as_array()
                            .is_some_and(|kinds| kinds.iter().any(|k| k["kind"].is_null()))
                    })
                    .filter_map(|d| d["pkg"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        g.normal_deps.insert(id, deps);
    }
    g
}

impl Graph {
    fn closure(&self, member: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![self.members[member].clone()];
        while let Some(id) = stack.pop() {
            for dep in self.normal_deps.get(&id).into_iter().flatten() {
                if seen.insert(dep.clone()) {
                    stack.push(dep.clone());
                }
            }
        }
        seen.into_iter().map(|id| self.names[&id].clone()).collect()
    }

    fn direct(&self, member: &str) -> BTreeSet<String> {
        self.normal_deps[&self.members[member]]
            .iter()
            .map(|id| self.names[id].clone())
            .collect()
    }

    fn adapters(&self) -> Vec<String> {
        self.manifests
            .iter()
            .filter(|(_, path)| path.contains("/adapters/"))
            .map(|(name, _)| name.clone())
            .collect()
    }
}

#[test]
fn core_depends_on_no_io_crate() {
    let g = graph();
    let closure = g.closure("tfr-core");
    let bad: Vec<&String> = closure
        .iter()
        .filter(|name| {
            IO_CRATES.contains(&name.as_str()) || IO_PREFIXES.iter().any(|p| name.starts_with(p))
        })
        .collect();
    assert!(bad.is_empty(), "tfr-core pulls I/O crates: {bad:?}");
    assert!(
        !closure.iter().any(|n| n.starts_with("tfr-")),
        "tfr-core depends on another tfr crate: {closure:?}"
    );
}

#[test]
fn no_adapter_depends_on_another_adapter() {
    let g = graph();
    let adapters = g.adapters();
    assert!(
        adapters.len() >= 5,
        "expected the adapter crates, found {adapters:?}"
    );
    for adapter in &adapters {
        let direct = g.direct(adapter);
        let others: Vec<&String> = adapters
            .iter()
            .filter(|a| *a != adapter && direct.contains(*a))
            .collect();
        assert!(
            others.is_empty(),
            "{adapter} depends on adapter(s) {others:?}"
        );
    }
}

#[test]
fn ports_depend_only_on_core_inside_the_workspace() {
    let g = graph();
    let tfr_deps: Vec<String> = g
        .closure("tfr-ports")
        .into_iter()
        .filter(|n| n.starts_with("tfr-"))
        .collect();
    assert_eq!(
        tfr_deps,
        vec!["tfr-core".to_string()],
        "tfr-ports may depend on tfr-core only"
    );
}
