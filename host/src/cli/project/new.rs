//! `weft new`: a workflow or activity project from the embedded templates,
//! depending on its language's SDK package.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use super::{check_name, embedded, write, Kind, Lang, COMPONENTIZE_JS, ESBUILD, TYPESCRIPT};
use crate::cli::sdk;

/// `weft new NAME --lang L --kind K [--dir DIR] [--sdk SPEC]`.
pub fn new(
    name: &str,
    lang: Lang,
    kind: Kind,
    dir: Option<PathBuf>,
    sdk_spec: Option<&str>,
) -> Result<i32> {
    check_name(name)?;
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    if dir.exists()
        && dir
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{} already exists and is not empty: pick another name or --dir",
            dir.display()
        );
    }
    // The project depends on the SDK package: by default the one this weft
    // carries, written where `weft sdk` puts it.
    let dependency = match sdk_spec {
        Some(spec) => sdk::Dependency::parse(spec)?,
        None => sdk::Dependency::Path(sdk::write(&sdk::default_dir()?)?),
    };
    if let sdk::Dependency::Path(sdk_dir) = &dependency {
        let package = sdk::package_dir(sdk_dir, lang);
        if !package.is_dir() {
            bail!(
                "{} has no {} SDK package ({} is missing)",
                sdk_dir.display(),
                lang.as_str(),
                package.display()
            );
        }
    }
    let ident = name.replace('-', "_");
    // A directory given with --sdk is named relative to the project when
    // they share a tree (an SDK directory in the same repository: the two
    // move together); otherwise, and for the per-user default, by its
    // absolute path.
    let named = match (&dependency, sdk_spec) {
        (sdk::Dependency::Path(sdk_dir), Some(_)) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let project = dir
                .canonicalize()
                .with_context(|| format!("reading {}", dir.display()))?;
            sdk::Dependency::Path(sdk::relative(sdk_dir, &project).unwrap_or(sdk_dir.clone()))
        }
        _ => dependency.clone(),
    };
    let dependency_text = sdk_dependency(&named, lang);
    let template = format!("templates/{}-{}/", lang.as_str(), kind.as_str());
    let mut written = 0;
    for (path, text) in embedded::FILES {
        if let Some(rel) = path.strip_prefix(&template) {
            let text = text
                .replace("{{name}}", name)
                .replace("{{ident}}", &ident)
                .replace("{{sdk}}", &dependency_text);
            write(&dir.join(rel), &text)?;
            written += 1;
        }
    }
    if written == 0 {
        bail!("this weft has no {template} template");
    }
    // The WIT package the project is built against (componentize-py and
    // componentize-js read it; the Rust crate carries its own).
    for (path, text) in embedded::FILES {
        if let Some(rel) = path.strip_prefix("wit/") {
            write(&dir.join(".weft/wit").join(rel), text)?;
        }
    }
    write(
        &dir.join("weft.toml"),
        &format!(
            "# Written by `weft new`; `weft build` reads it.\nname = \"{name}\"\nlang = \"{}\"\nkind = \"{}\"\n",
            lang.as_str(),
            kind.as_str()
        ),
    )?;
    println!(
        "created {} ({} {}) in {}",
        name,
        lang.as_str(),
        kind.as_str(),
        dir.display()
    );
    match &dependency {
        sdk::Dependency::Path(p) => println!(
            "it depends on the weft SDK package in {}",
            sdk::package_dir(p, lang).display()
        ),
        sdk::Dependency::Version(v) => {
            println!("it depends on the weft SDK package {v} from a package registry");
            println!(
                "note: weft's SDK packages are not on the public registries (PyPI's `weft-sdk` \
                 is another project): serve them from your own registry or index"
            );
        }
    }
    println!("next:");
    println!("  cd {}", dir.display());
    match lang {
        Lang::Python if matches!(dependency, sdk::Dependency::Version(_)) => {
            println!("  pip install -r requirements.txt   # weft-sdk, from your index")
        }
        Lang::Js => println!(
            "  npm install      # weft-sdk, componentize-js {COMPONENTIZE_JS}, esbuild {ESBUILD}"
        ),
        Lang::Ts => println!(
            "  npm install      # weft-sdk, componentize-js {COMPONENTIZE_JS}, typescript {TYPESCRIPT}, esbuild {ESBUILD}"
        ),
        _ => {}
    }
    println!("  weft build       # -> {name}.wasm");
    if kind == Kind::Workflow {
        match lang {
            Lang::Python => println!(
                "  pytest           # tests/: a private host, time skipped (pip install pytest)"
            ),
            Lang::Js | Lang::Ts => {
                println!("  node --test tests/   # tests/: a private host, time skipped")
            }
            Lang::Rust => {}
        }
    }
    println!("  weft deploy {name}.wasm");
    Ok(0)
}

/// How the project's manifest names the SDK package: what replaces
/// `{{sdk}}` in the templates (a Cargo dependency's source, an npm
/// dependency's spec, a pip requirement).
pub(super) fn sdk_dependency(dependency: &sdk::Dependency, lang: Lang) -> String {
    match dependency {
        sdk::Dependency::Path(dir) => {
            let package = sdk::package_dir(dir, lang);
            let path = package.to_string_lossy();
            match lang {
                // A TOML basic string escapes as a JSON string does.
                Lang::Rust => format!("path = {}", serde_json::Value::from(path.as_ref())),
                Lang::Js | Lang::Ts => {
                    let spec = serde_json::Value::from(format!("file:{path}")).to_string();
                    spec.trim_matches('"').to_string()
                }
                // A relative path is a line of its own (pip reads it
                // from the project directory); an absolute one a file URL,
                // with what would end or break it escaped.
                Lang::Python if package.is_relative() => {
                    if path.starts_with("../") {
                        path.into_owned()
                    } else {
                        format!("./{path}")
                    }
                }
                Lang::Python => format!(
                    "weft-sdk @ file://{}",
                    path.replace('%', "%25").replace(' ', "%20")
                ),
            }
        }
        sdk::Dependency::Version(v) => match lang {
            Lang::Rust => format!("version = \"{v}\""),
            Lang::Js | Lang::Ts => v.clone(),
            Lang::Python => format!("weft-sdk=={v}"),
        },
    }
}
