//! The example modules of `wasm/examples`, built for wasm32-unknown-unknown on first use
//! (shared by the test crates that run them; `#[path]`-included).
//!
//! Without the wasm32 target installed the tests that need them say so and pass, unless
//! `STRATUS_WASM_TESTS=require` (set by `scripts/test`, which installs the target).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn root() -> PathBuf {
    // This file is included from crates at different depths: find the repository root.
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("wasm/Cargo.toml").exists() {
        if !dir.pop() {
            panic!(
                "wasm/Cargo.toml not found above {}",
                env!("CARGO_MANIFEST_DIR")
            );
        }
    }
    dir
}

fn target_installed() -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    Command::new(rustc)
        .args([
            "--print",
            "target-libdir",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .is_some_and(|dir| has_rlibs(&dir))
}

fn has_rlibs(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "rlib"))
    })
}

fn build() -> Result<PathBuf, String> {
    if !target_installed() {
        return Err("the wasm32-unknown-unknown target is not installed \
                    (rustup target add wasm32-unknown-unknown)"
            .into());
    }
    let root = root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root.join("wasm"))
        .args(["build", "--release", "--quiet"])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building wasm/ failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(root.join("target/wasm/wasm32-unknown-unknown/release"))
}

/// The bytes of example `name` (`sma_cross`, `rotation`), or `None` (said on stderr)
/// when the wasm target is missing and not required.
pub fn example(name: &str) -> Option<Vec<u8>> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(build) {
        Ok(dir) => Some(
            std::fs::read(dir.join(format!("{name}.wasm")))
                .unwrap_or_else(|e| panic!("{name}.wasm: {e}")),
        ),
        Err(why) => {
            if std::env::var("STRATUS_WASM_TESTS").as_deref() == Ok("require") {
                panic!("STRATUS_WASM_TESTS=require: {why}");
            }
            // Straight to stderr: the harness captures `eprintln!` of a passing test, and
            // a skip must be seen.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "example-module tests SKIPPED: {why} (scripts/test installs it)"
            );
            None
        }
    }
}
