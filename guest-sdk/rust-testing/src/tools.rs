//! The `weft` binary: finding it, checking its contract, `weft replay`,
//! and building a Rust workflow crate into a component.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, TestError, CONTRACT};

/// `WEFT_BIN`, else `weft` on PATH.
pub fn weft_bin() -> PathBuf {
    std::env::var_os("WEFT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("weft"))
}

pub(crate) fn check_contract(binary: &Path) -> Result<()> {
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .map_err(|e| {
            TestError::Setup(format!(
                "cannot run {} ({e}): set WEFT_BIN to the weft you test with, or put it on PATH",
                binary.display()
            ))
        })?;
    let said = String::from_utf8_lossy(&out.stdout);
    let have = said
        .split("weft:workflow@")
        .nth(1)
        .map(|v| v.trim_end_matches(|c: char| !c.is_ascii_digit()))
        .map(version)
        .ok_or_else(|| {
            TestError::Setup(format!(
                "{} --version says {:?}, which names no guest contract: use a newer weft",
                binary.display(),
                said.trim()
            ))
        })?;
    let want = version(CONTRACT);
    if have.0 != want.0 || have.1 != want.1 || have < want {
        return Err(TestError::Setup(format!(
            "{} provides contract {}.{}.{}, this environment needs {CONTRACT}: use a weft \
             built for it",
            binary.display(),
            have.0,
            have.1,
            have.2
        )));
    }
    Ok(())
}

fn version(text: &str) -> (u32, u32, u32) {
    let mut parts = text.split('.').map(|p| p.parse().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

/// Replays a history file, or every `.json` history under a directory,
/// against `module` offline (`weft replay`); the report, or an error with
/// each divergence.
pub fn replay(module: &Path, histories: &Path) -> Result<String> {
    let flag = if histories.is_dir() {
        "--dir"
    } else {
        "--history"
    };
    let cache = std::env::var_os("WEFT_COMPILE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("weft-test-compile-cache"));
    let out = Command::new(weft_bin())
        .env("WEFT_COMPILE_CACHE", cache)
        .arg("replay")
        .arg(flag)
        .arg(histories)
        .arg("--module")
        .arg(module)
        .output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(TestError::Setup(format!(
            "replay of {} against {} failed:\n{text}",
            histories.display(),
            module.display()
        )));
    }
    Ok(text)
}

/// Builds the Rust workflow crate in `crate_dir` to a component, in its own
/// target directory (`target/weft-test`, so the `cargo test` running now
/// does not wait for its own lock), and returns the component's path.
pub fn build_component(crate_dir: &Path) -> Result<PathBuf> {
    let target = crate_dir.join("target/weft-test");
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(crate_dir)
        .output()?;
    if !out.status.success() {
        return Err(TestError::Setup(format!(
            "building {} failed:\n{}",
            crate_dir.display(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml"))?;
    let name = manifest
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "name").then(|| v.trim().trim_matches('"').to_owned())
        })
        .ok_or_else(|| TestError::Setup("the crate's Cargo.toml names no package".into()))?;
    let built = target.join(format!(
        "wasm32-wasip2/release/{}.wasm",
        name.replace('-', "_")
    ));
    if !built.is_file() {
        return Err(TestError::Setup(format!(
            "cargo built no {} (is the crate a cdylib?)",
            built.display()
        )));
    }
    // Named as the package is (dashes kept): `module()` deploys it under
    // the workflow type `weft build` and `weft.toml` would give it.
    let wasm = target.join(format!("{name}.wasm"));
    std::fs::copy(&built, &wasm)?;
    Ok(wasm)
}
