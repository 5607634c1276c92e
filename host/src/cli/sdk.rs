//! `weft sdk`: the guest SDK packages this weft carries, written out as the
//! packages of their ecosystems (a crate, a Python distribution, an npm
//! package) so that projects depend on them by path, with no registry and no
//! network. `weft new` writes them to the default place and points the new
//! project's manifest there.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::project::{embedded, Lang};

/// The version of the SDK packages: the weft release they came with.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The Rust SDK's manifest outside the weft workspace: the same package,
/// with the fields it inherits there written out.
const RUST_MANIFEST: &str = r#"[package]
name = "weft-sdk"
version = "{{version}}"
edition = "2021"
description = "Write weft workflows and activities in Rust"
license = "Apache-2.0"
readme = "README.md"

[features]
workflow = []
activity = []

[dependencies]
serde = { version = "1", features = ["derive"] }
serde_json = "1"
wit-bindgen = { version = "0.61", default-features = false, features = ["macros", "realloc"] }
"#;

/// The test environment's crate (`weft-testing`) outside the workspace.
const RUST_TESTING_MANIFEST: &str = r#"[package]
name = "weft-testing"
version = "{{version}}"
edition = "2021"
description = "A test environment for weft workflows: a private host with a manual clock, time skipping, activity mocks and the replay check, for cargo test"
license = "Apache-2.0"

[dependencies]
reqwest = { version = "0.12", default-features = false, features = ["blocking", "json"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
tempfile = "3"
thiserror = "2"
"#;

/// The directory of one language's package under an SDK directory (a
/// `weft sdk` directory, or a weft checkout's `guest-sdk`).
pub fn package_dir(sdk: &Path, lang: Lang) -> PathBuf {
    sdk.join(match lang {
        Lang::Rust => "rust",
        Lang::Python => "python",
        Lang::Js | Lang::Ts => "js",
    })
}

/// Where `weft sdk` and `weft new` put the packages: `$WEFT_HOME/sdk/V`,
/// `WEFT_HOME` defaulting to `~/.weft`.
pub fn default_dir() -> Result<PathBuf> {
    let home = match std::env::var_os("WEFT_HOME") {
        Some(h) if !h.is_empty() => PathBuf::from(h),
        _ => match std::env::var_os("HOME") {
            Some(h) if !h.is_empty() => PathBuf::from(h).join(".weft"),
            _ => bail!(
                "neither WEFT_HOME nor HOME is set, so there is no default place for the SDK \
                 packages: set WEFT_HOME, or give `--dir` (`weft sdk`) or `--sdk` (`weft new`)"
            ),
        },
    };
    Ok(home.join("sdk").join(VERSION))
}

/// The files of the three packages: (path under the SDK directory, text).
fn files() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, text) in embedded::FILES {
        let dest = if let Some(rel) = path.strip_prefix("guest-sdk/") {
            rel.to_string()
        } else if let Some(rel) = path.strip_prefix("wit/") {
            // The crate carries the contract its bindings are made from.
            format!("rust/wit/{rel}")
        } else {
            continue;
        };
        out.push((dest, text.to_string()));
    }
    out.push((
        "rust/Cargo.toml".into(),
        RUST_MANIFEST.replace("{{version}}", VERSION),
    ));
    out.push((
        "rust-testing/Cargo.toml".into(),
        RUST_TESTING_MANIFEST.replace("{{version}}", VERSION),
    ));
    out.sort();
    out
}

/// Writes the packages under `dir` (files that differ are replaced, whole,
/// through a temporary name, so a build reading them never sees half a
/// file). Returns `dir`, absolute.
pub fn write(dir: &Path) -> Result<PathBuf> {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    for (rel, text) in files() {
        let path = dir.join(&rel);
        if std::fs::read(&path).is_ok_and(|old| old == text.as_bytes()) {
            continue;
        }
        let parent = path.parent().unwrap_or(&dir);
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        let tmp = parent.join(format!(
            ".{}.{}.tmp",
            path.file_name().unwrap_or_default().to_string_lossy(),
            std::process::id()
        ));
        std::fs::write(&tmp, &text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(dir)
}

/// `weft sdk [--dir DIR]`.
pub fn run(dir: Option<PathBuf>) -> Result<i32> {
    let dir = match dir {
        Some(d) => d,
        None => default_dir()?,
    };
    let dir = write(&dir)?;
    println!("weft SDK {VERSION} in {}", dir.display());
    println!(
        "  rust    {}  (weft-sdk = {{ path = \"…\" }})",
        dir.join("rust").display()
    );
    println!(
        "  python  {}  (pip install …)",
        dir.join("python").display()
    );
    println!("  js, ts  {}  (npm install …)", dir.join("js").display());
    Ok(0)
}

/// What a new project depends on: the packages in a directory, or a
/// version from the ecosystem's registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dependency {
    Path(PathBuf),
    Version(String),
}

impl Dependency {
    /// `--sdk SPEC`: an existing directory holding the packages (`rust/`,
    /// `python/`, `js/`), or a version such as `0.1.0`.
    pub fn parse(spec: &str) -> Result<Dependency> {
        let path = Path::new(spec);
        if path.is_dir() {
            let abs = path
                .canonicalize()
                .with_context(|| format!("reading {}", path.display()))?;
            if !["rust", "python", "js"]
                .iter()
                .any(|l| abs.join(l).is_dir())
            {
                bail!(
                    "{} holds no weft SDK packages (rust/, python/, js/): give the directory \
                     `weft sdk` wrote, or a weft checkout's guest-sdk/",
                    abs.display()
                );
            }
            return Ok(Dependency::Path(abs));
        }
        let is_version = spec.split('.').count() == 3
            && spec
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        if is_version && spec != VERSION {
            bail!(
                "--sdk {spec}: this weft carries the SDK {VERSION} and builds against its \
                 contract; use --sdk {VERSION}, or the weft of release {spec}"
            );
        }
        if is_version {
            return Ok(Dependency::Version(spec.to_string()));
        }
        bail!(
            "--sdk {spec:?} is neither a directory nor a version: give the directory `weft sdk` \
             wrote (or a weft checkout's guest-sdk/), or a version such as {VERSION}"
        )
    }
}

/// The SDK package a project's manifest names by path, when it names one:
/// `weft-sdk = { path = "…" }` in Cargo.toml, a `weft-sdk @ file:///…`
/// requirement or a relative path line (`../sdk/python`) in
/// requirements.txt, `"weft-sdk": "file:…"` in package.json. Relative
/// paths are the project directory's.
pub fn path_in_manifest(project_dir: &Path, lang: Lang) -> Option<PathBuf> {
    match lang {
        Lang::Python => {
            let text = std::fs::read_to_string(project_dir.join("requirements.txt")).ok()?;
            text.lines().find_map(|l| {
                let l = l.trim();
                if l.starts_with("./") || l.starts_with("../") {
                    return Some(project_dir.join(l));
                }
                let (name, url) = l.split_once('@')?;
                if name.trim() != "weft-sdk" {
                    return None;
                }
                let path = url.trim().strip_prefix("file://")?;
                Some(PathBuf::from(path.replace("%20", " ").replace("%25", "%")))
            })
        }
        Lang::Js | Lang::Ts => {
            let text = std::fs::read_to_string(project_dir.join("package.json")).ok()?;
            let json: serde_json::Value = serde_json::from_str(&text).ok()?;
            ["dependencies", "devDependencies"].iter().find_map(|k| {
                let spec = json[k]["weft-sdk"].as_str()?.strip_prefix("file:")?;
                Some(project_dir.join(spec))
            })
        }
        Lang::Rust => {
            let text = std::fs::read_to_string(project_dir.join("Cargo.toml")).ok()?;
            text.lines().find_map(|l| {
                let rest = l.trim().strip_prefix("weft-sdk")?;
                let (_, after) = rest.split_once("path")?;
                let value = after.trim_start().strip_prefix('=')?.trim_start();
                let value = value.strip_prefix('"')?;
                let end = value.find('"')?;
                Some(project_dir.join(&value[..end]))
            })
        }
    }
}

/// `path` relative to `base` (both absolute), when they share a directory
/// below the root: how a project names an SDK directory in the same tree
/// (a repository), so the two move together. `None` when they share only
/// the root (a project names a checkout elsewhere by its absolute path).
pub fn relative(path: &Path, base: &Path) -> Option<PathBuf> {
    let path: Vec<_> = path.components().collect();
    let base: Vec<_> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    if common < 2 {
        return None;
    }
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for c in &path[common..] {
        out.push(c);
    }
    Some(out)
}

/// `path` with its `..` resolved by name (for messages: the directory a
/// relative dependency points at).
pub fn tidy(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The packages `weft sdk` writes are the repository's, file for file
    /// (only the crate's manifest is made standalone).
    #[test]
    fn the_written_packages_are_the_repositorys() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dir = write(tmp.path()).unwrap();
        let mut compared = 0;
        for (rel, text) in files() {
            assert_eq!(std::fs::read_to_string(dir.join(&rel)).unwrap(), text);
            if rel.ends_with("/Cargo.toml") {
                continue;
            }
            let source = if let Some(wit) = rel.strip_prefix("rust/wit/") {
                repo.join("wit").join(wit)
            } else {
                repo.join("guest-sdk").join(&rel)
            };
            assert_eq!(std::fs::read_to_string(&source).unwrap(), text, "{rel}");
            compared += 1;
        }
        for must in [
            "rust/src/lib.rs",
            "rust/wit/weft.wit",
            "rust-testing/Cargo.toml",
            "rust-testing/src/lib.rs",
            "python/pyproject.toml",
            "python/weft/__init__.py",
            "python/weft_testing.py",
            "js/package.json",
            "js/src/workflow.js",
            "js/weft-testing.mjs",
        ] {
            assert!(dir.join(must).is_file(), "{must}");
        }
        assert!(compared > 20);
        // Written again: nothing changes, nothing left behind.
        write(tmp.path()).unwrap();
        let leftovers = walk(&dir)
            .into_iter()
            .filter(|p| p.ends_with(".tmp"))
            .count();
        assert_eq!(leftovers, 0);
    }

    /// The three packages say the version this weft writes them under.
    #[test]
    fn the_packages_carry_weft_s_version() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let pyproject = std::fs::read_to_string(repo.join("guest-sdk/python/pyproject.toml"));
        assert!(pyproject
            .unwrap()
            .contains(&format!("version = \"{VERSION}\"")));
        let init = std::fs::read_to_string(repo.join("guest-sdk/python/weft/__init__.py"));
        assert!(init
            .unwrap()
            .contains(&format!("__version__ = \"{VERSION}\"")));
        let package: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(repo.join("guest-sdk/js/package.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(package["version"], VERSION);
    }

    #[test]
    fn sdk_specs() {
        assert_eq!(
            Dependency::parse(VERSION).unwrap(),
            Dependency::Version(VERSION.into())
        );
        let err = Dependency::parse("9.9.9").unwrap_err().to_string();
        assert!(
            err.contains(&format!("this weft carries the SDK {VERSION}")),
            "{err}"
        );
        let err = Dependency::parse("latest").unwrap_err().to_string();
        assert!(err.contains("neither a directory nor a version"), "{err}");
        let tmp = tempfile::tempdir().unwrap();
        let err = Dependency::parse(&tmp.path().to_string_lossy())
            .unwrap_err()
            .to_string();
        assert!(err.contains("holds no weft SDK packages"), "{err}");
        std::fs::create_dir(tmp.path().join("js")).unwrap();
        assert!(matches!(
            Dependency::parse(&tmp.path().to_string_lossy()).unwrap(),
            Dependency::Path(_)
        ));
    }

    #[test]
    fn the_path_a_manifest_names() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        assert_eq!(path_in_manifest(dir, Lang::Python), None);
        std::fs::write(
            dir.join("requirements.txt"),
            "# the SDK\nrequests==2\nweft-sdk @ file:///my%20sdk/100%25/python\n",
        )
        .unwrap();
        assert_eq!(
            path_in_manifest(dir, Lang::Python),
            Some(PathBuf::from("/my sdk/100%/python"))
        );
        std::fs::write(dir.join("requirements.txt"), "weft-sdk==0.1.0\n").unwrap();
        assert_eq!(path_in_manifest(dir, Lang::Python), None);
        std::fs::write(
            dir.join("package.json"),
            r#"{"dependencies": {"weft-sdk": "file:../sdk/js"}}"#,
        )
        .unwrap();
        assert_eq!(path_in_manifest(dir, Lang::Js), Some(dir.join("../sdk/js")));
        std::fs::write(
            dir.join("package.json"),
            r#"{"dependencies": {"weft-sdk": "0.1.0"}}"#,
        )
        .unwrap();
        assert_eq!(path_in_manifest(dir, Lang::Ts), None);
        std::fs::write(dir.join("requirements.txt"), "# x\n../sdk/python\n").unwrap();
        assert_eq!(
            path_in_manifest(dir, Lang::Python),
            Some(dir.join("../sdk/python"))
        );
        std::fs::write(
            dir.join("Cargo.toml"),
            "[dependencies]\nweft-sdk = { path = \"../sdk/rust\", features = [\"workflow\"] }\n",
        )
        .unwrap();
        assert_eq!(
            path_in_manifest(dir, Lang::Rust),
            Some(dir.join("../sdk/rust"))
        );
        std::fs::write(
            dir.join("Cargo.toml"),
            "[dependencies]\nweft-sdk = { version = \"0.1.0\" }\n",
        )
        .unwrap();
        assert_eq!(path_in_manifest(dir, Lang::Rust), None);
    }

    #[test]
    fn relative_paths() {
        let rel = |a: &str, b: &str| relative(Path::new(a), Path::new(b));
        assert_eq!(rel("/r/sdk", "/r/app"), Some(PathBuf::from("../sdk")));
        assert_eq!(rel("/r/app/sdk", "/r/app"), Some(PathBuf::from("sdk")));
        assert_eq!(
            rel("/r/x/sdk", "/r/a/b"),
            Some(PathBuf::from("../../x/sdk"))
        );
        assert_eq!(rel("/x/sdk", "/r/a/b"), None);
        assert_eq!(
            tidy(Path::new("/r/app/../sdk/./python")),
            PathBuf::from("/r/sdk/python")
        );
    }

    fn walk(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.to_string_lossy().into_owned());
            }
        }
        out
    }
}
