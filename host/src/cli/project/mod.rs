//! `weft new` and `weft build`: guest projects in Rust, Python, JavaScript
//! and TypeScript. A project depends on its language's SDK package (see
//! `cli::sdk`), carries the WIT package under `.weft/` (written by `weft
//! new`), and `weft.toml` says its name, language and kind, so `weft build`
//! knows which tool to run and how. `new.rs` writes projects; `build.rs`
//! builds them.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

mod build;
mod new;

pub use build::build;
pub use new::new;

pub(super) mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// The tool versions the SDKs are tested with.
pub const COMPONENTIZE_PY: &str = "0.25.1";
pub const COMPONENTIZE_JS: &str = "0.23.0";
pub const TYPESCRIPT: &str = "5.9.3";
pub const ESBUILD: &str = "0.28.2";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
    /// TypeScript: type-checked by tsc, bundled by esbuild, then built as
    /// JavaScript.
    Ts,
}

impl Lang {
    fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
            Lang::Ts => "ts",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Workflow,
    Activity,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Workflow => "workflow",
            Kind::Activity => "activity",
        }
    }
}

pub(super) fn check_name(name: &str) -> Result<()> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        bail!(
            "{name:?} is not a usable project name: use lowercase letters, digits and `-`, \
             starting with a letter (it names the crate or package, the component and the \
             workflow type)"
        );
    }
    Ok(())
}

pub(super) fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// What `weft build` learns about a project.
#[derive(Debug)]
struct Project {
    dir: PathBuf,
    name: String,
    lang: Lang,
    kind: Option<Kind>,
}

impl Project {
    /// A project made before the SDK was a package: a copy of it under
    /// `.weft/sdk/`, imported by relative path.
    fn has_sdk_copy(&self) -> bool {
        self.dir.join(".weft/sdk").is_dir()
    }

    /// From `weft.toml`, or from the files when there is none (a Rust
    /// crate, or a JavaScript package that says its kind).
    fn detect(dir: &Path) -> Result<Project> {
        if !dir.is_dir() {
            bail!("{} is not a directory", dir.display());
        }
        let dir_name = dir
            .canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "component".into());
        let manifest = dir.join("weft.toml");
        if manifest.is_file() {
            let text = std::fs::read_to_string(&manifest)
                .with_context(|| format!("reading {}", manifest.display()))?;
            let field = |key: &str| toml_string(&text, key);
            let lang = match field("lang").as_deref() {
                Some("rust") => Lang::Rust,
                Some("python") => Lang::Python,
                Some("js") => Lang::Js,
                Some("ts") => Lang::Ts,
                other => bail!(
                    "{}: `lang` is {other:?}; it must be \"rust\", \"python\", \"js\" or \"ts\"",
                    manifest.display()
                ),
            };
            let kind = match field("kind").as_deref() {
                Some("workflow") => Some(Kind::Workflow),
                Some("activity") => Some(Kind::Activity),
                None if lang == Lang::Rust => None,
                other => bail!(
                    "{}: `kind` is {other:?}; it must be \"workflow\" or \"activity\"",
                    manifest.display()
                ),
            };
            return Ok(Project {
                dir: std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()),
                name: field("name").unwrap_or(dir_name),
                lang,
                kind,
            });
        }
        if dir.join("Cargo.toml").is_file() {
            let text = std::fs::read_to_string(dir.join("Cargo.toml"))?;
            return Ok(Project {
                dir: std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()),
                name: toml_string(&text, "name").unwrap_or(dir_name),
                lang: Lang::Rust,
                kind: None,
            });
        }
        bail!(
            "{} has no weft.toml and no Cargo.toml: create a project with `weft new NAME --lang \
             rust|python|js|ts`, or add a weft.toml with name, lang and kind",
            dir.display()
        )
    }
}

/// The name in the `weft.toml` of the project `file` was built in: the
/// nearest one in the file's directory or above it.
pub fn project_name_near(file: &Path) -> Option<String> {
    let file = std::path::absolute(file).ok()?;
    file.parent()?.ancestors().find_map(|dir| {
        let text = std::fs::read_to_string(dir.join("weft.toml")).ok()?;
        toml_string(&text, "name")
    })
}

/// The first `key = "value"` line (enough for weft.toml and a crate's name).
fn toml_string(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        if k.trim() != key {
            return None;
        }
        Some(v.trim().trim_matches('"').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::new::sdk_dependency;
    use super::*;
    use crate::cli::sdk;

    #[test]
    fn every_template_and_sdk_is_embedded() {
        for lang in ["rust", "python", "js", "ts"] {
            for kind in ["workflow", "activity"] {
                let prefix = format!("templates/{lang}-{kind}/");
                assert!(
                    embedded::FILES.iter().any(|(p, _)| p.starts_with(&prefix)),
                    "no {prefix}"
                );
            }
        }
        for tree in [
            "wit/",
            "guest-sdk/rust/src/",
            "guest-sdk/python/weft/",
            "guest-sdk/js/src/",
        ] {
            assert!(
                embedded::FILES.iter().any(|(p, _)| p.starts_with(tree)),
                "no {tree}"
            );
        }
    }

    #[test]
    fn names_and_manifests() {
        assert!(check_name("order-flow2").is_ok());
        assert!(check_name("Order").is_err());
        assert!(check_name("2fast").is_err());
        assert!(check_name("a_b").is_err());
        let text = "# c\nname = \"shop\"\nlang = \"python\"\n";
        assert_eq!(toml_string(text, "lang").as_deref(), Some("python"));
        assert_eq!(toml_string(text, "kind"), None);
    }

    /// What `weft new` writes for `{{sdk}}` in each manifest.
    #[test]
    fn sdk_dependencies_in_each_manifest() {
        let dir = sdk::Dependency::Path(PathBuf::from("/opt/we\"ft/sdk"));
        assert_eq!(
            sdk_dependency(&dir, Lang::Rust),
            r#"path = "/opt/we\"ft/sdk/rust""#
        );
        assert_eq!(sdk_dependency(&dir, Lang::Ts), r#"file:/opt/we\"ft/sdk/js"#);
        assert_eq!(
            sdk_dependency(&dir, Lang::Python),
            "weft-sdk @ file:///opt/we\"ft/sdk/python"
        );
        let beside = sdk::Dependency::Path(PathBuf::from("../sdk"));
        assert_eq!(sdk_dependency(&beside, Lang::Python), "../sdk/python");
        assert_eq!(sdk_dependency(&beside, Lang::Js), "file:../sdk/js");
        assert_eq!(
            sdk_dependency(&beside, Lang::Rust),
            r#"path = "../sdk/rust""#
        );
        let inside = sdk::Dependency::Path(PathBuf::from("vendor/sdk"));
        assert_eq!(sdk_dependency(&inside, Lang::Python), "./vendor/sdk/python");
        let spaced = sdk::Dependency::Path(PathBuf::from("/my sdk/100%"));
        assert_eq!(
            sdk_dependency(&spaced, Lang::Python),
            "weft-sdk @ file:///my%20sdk/100%25/python"
        );
        let version = sdk::Dependency::Version("0.2.0".into());
        assert_eq!(sdk_dependency(&version, Lang::Rust), r#"version = "0.2.0""#);
        assert_eq!(sdk_dependency(&version, Lang::Js), "0.2.0");
        assert_eq!(sdk_dependency(&version, Lang::Python), "weft-sdk==0.2.0");
        // Every template says where the dependency goes.
        for lang in ["rust", "python", "js", "ts"] {
            for kind in ["workflow", "activity"] {
                let prefix = format!("templates/{lang}-{kind}/");
                assert!(
                    embedded::FILES
                        .iter()
                        .any(|(p, t)| p.starts_with(&prefix) && t.contains("{{sdk}}")),
                    "{prefix} names no {{{{sdk}}}}"
                );
            }
        }
    }
}
