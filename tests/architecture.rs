//! The crate graph, checked: ARCHITECTURE.md's dependency invariants, read from the
//! workspace's manifests so that a change that breaks one fails here, not in review.
//!
//! - Dependencies point inward: every workspace crate sits on a layer and depends only on
//!   crates of lower layers (so no function depends on another, and the core service on
//!   none).
//! - Only `store` knows sqlx, rusqlite and the AWS SDK.
//! - Only the HTTP layers (`api`, the functions, the core service, `stratus`) know HTTP.
//! - `domain` is synchronous and does no I/O; the engine and analytics spawn no tasks.
//! - One name per thing: a package's library is named as the package.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A crate's layer: it may depend only on crates of lower layers.
fn layer(package: &str) -> Option<u8> {
    Some(match package {
        "domain" => 0,
        // `brokers` is an adapter crate like `store`: the ports to the outside world.
        "analytics" | "store" | "brokers" => 1,
        "engine" | "app" => 2,
        // The brokers' stand-ins are HTTP servers (tests and the SDK checks only).
        "api" | "broker-stubs" => 3,
        "auth-fn" | "account-fn" | "orders-fn" | "reports-fn" | "market-fn" | "research-fn"
        | "admin-fn" | "portal-fn" | "core-service" => 4,
        "stratus" => 5,
        _ => return None,
    })
}

/// Outside crates only some layers may use, and which.
const STORAGE: &[&str] = &[
    "sqlx",
    "rusqlite",
    "aws-config",
    "aws-sdk-dynamodb",
    "aws-sdk-kinesis",
];
const HTTP: &[&str] = &[
    "axum",
    "hyper",
    "hyper-util",
    "http",
    "tower",
    "tower-http",
    "lambda_http",
    "lambda_runtime",
    "aws_lambda_events",
];
const ASYNC_RUNTIME: &[&str] = &["tokio", "async-trait", "futures-util"];

struct Package {
    name: String,
    manifest: PathBuf,
    /// The library's name, when the manifest sets one.
    lib: Option<String>,
    /// Normal (not dev or build) dependencies.
    dependencies: Vec<String>,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_toml(path: &Path) -> toml::Table {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn packages() -> Vec<Package> {
    let root = workspace_root();
    let workspace = read_toml(&root.join("Cargo.toml"));
    let members = workspace["workspace"]["members"]
        .as_array()
        .expect("workspace.members");
    members
        .iter()
        .map(|member| {
            let manifest = root
                .join(member.as_str().expect("member path"))
                .join("Cargo.toml");
            let toml = read_toml(&manifest);
            let name = toml["package"]["name"]
                .as_str()
                .expect("package.name")
                .to_owned();
            let lib = toml
                .get("lib")
                .and_then(|lib| lib.get("name"))
                .and_then(|n| n.as_str())
                .map(str::to_owned);
            let dependencies = toml
                .get("dependencies")
                .and_then(|d| d.as_table())
                .map(|d| d.keys().cloned().collect())
                .unwrap_or_default();
            Package {
                name,
                manifest,
                lib,
                dependencies,
            }
        })
        .collect()
}

#[test]
fn every_workspace_crate_has_a_layer_and_depends_only_inward() {
    let packages = packages();
    let layers: BTreeMap<&str, u8> = packages
        .iter()
        .map(|p| {
            let layer = layer(&p.name).unwrap_or_else(|| {
                panic!(
                    "{} ({}) has no layer: give it one in tests/architecture.rs and \
                     ARCHITECTURE.md's crate graph",
                    p.name,
                    p.manifest.display()
                )
            });
            (p.name.as_str(), layer)
        })
        .collect();
    let mut outward = Vec::new();
    for p in &packages {
        for dep in &p.dependencies {
            if let Some(&dep_layer) = layers.get(dep.as_str()) {
                if dep_layer >= layers[p.name.as_str()] {
                    outward.push(format!("{} -> {dep}", p.name));
                }
            }
        }
    }
    assert!(
        outward.is_empty(),
        "dependencies that do not point inward: {outward:?}"
    );
}

#[test]
fn the_core_service_depends_on_no_function() {
    let core = packages()
        .into_iter()
        .find(|p| p.name == "core-service")
        .expect("core-service");
    let functions: Vec<&String> = core
        .dependencies
        .iter()
        .filter(|d| d.ends_with("-fn"))
        .collect();
    assert!(
        functions.is_empty(),
        "core-service depends on {functions:?}"
    );
}

/// The packages that use any of `crates` directly.
fn users_of(packages: &[Package], crates: &[&str]) -> Vec<String> {
    packages
        .iter()
        .filter(|p| p.dependencies.iter().any(|d| crates.contains(&d.as_str())))
        .map(|p| p.name.clone())
        .collect()
}

#[test]
fn only_store_knows_the_databases_and_the_aws_sdk() {
    assert_eq!(users_of(&packages(), STORAGE), ["store"]);
}

#[test]
fn only_the_http_layers_know_http() {
    let packages = packages();
    let users = users_of(&packages, HTTP);
    let inner: Vec<&String> = users.iter().filter(|p| layer(p) < Some(3)).collect();
    assert!(inner.is_empty(), "HTTP below the API layer: {inner:?}");
}

#[test]
fn the_domain_and_the_engine_stay_synchronous() {
    let packages = packages();
    let pure: Vec<Package> = packages
        .into_iter()
        .filter(|p| ["domain", "analytics", "engine"].contains(&p.name.as_str()))
        .collect();
    assert_eq!(pure.len(), 3);
    assert!(
        users_of(&pure, ASYNC_RUNTIME).is_empty(),
        "an async runtime in domain, analytics or engine"
    );
}

#[test]
fn every_library_is_named_as_its_package() {
    let renamed: Vec<String> = packages()
        .into_iter()
        .filter_map(|p| {
            let expected = p.name.replace('-', "_");
            p.lib
                .filter(|lib| *lib != expected)
                .map(|lib| format!("{} (lib {lib})", p.name))
        })
        .collect();
    assert!(renamed.is_empty(), "{renamed:?}");
}
