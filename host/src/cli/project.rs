//! `weft new` and `weft build`: guest projects in Rust, Python and
//! JavaScript. A project carries its SDK and the WIT package under `.weft/`
//! (written by `weft new`), and `weft.toml` says its name, language and kind,
//! so `weft build` knows which tool to run and how.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::sdk;

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
fn sdk_dependency(dependency: &sdk::Dependency, lang: Lang) -> String {
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

fn check_name(name: &str) -> Result<()> {
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

fn write(path: &Path, text: &str) -> Result<()> {
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

/// `weft build [DIR] [--out FILE]`.
pub fn build(dir: &Path, out: Option<PathBuf>) -> Result<i32> {
    let project = Project::detect(dir)?;
    let out = out.unwrap_or_else(|| project.dir.join(format!("{}.wasm", project.name)));
    let out = std::path::absolute(&out).unwrap_or(out);
    let started = std::time::Instant::now();
    match project.lang {
        Lang::Rust => build_rust(&project, &out)?,
        Lang::Python => build_python(&project, &out)?,
        Lang::Js => build_js(&project, &out)?,
        Lang::Ts => build_ts(&project, &out)?,
    }
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    println!(
        "built {} ({} bytes, {:.1} s)",
        out.display(),
        size,
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// Runs a build tool in the project directory; a missing tool gets the
/// command that installs it.
fn run_tool(project: &Project, program: &Path, args: &[&str], install: &str) -> Result<()> {
    let mut command = Command::new(program);
    command.args(args).current_dir(&project.dir);
    // In a terminal: a spinner while the tool works (a JS or Python build
    // takes tens of seconds), its output shown only if it fails. Piped: the
    // tool's output streams as it comes.
    let status = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let name = program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let spinner =
            super::progress::Spinner::start(format!("{name}: building {}", project.dir.display()));
        let out = command.output();
        drop(spinner);
        out.map(|o| {
            if !o.status.success() {
                eprint!("{}", String::from_utf8_lossy(&o.stdout));
                eprint!("{}", String::from_utf8_lossy(&o.stderr));
            }
            o.status
        })
    } else {
        command.status()
    };
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => bail!(
            "{} failed ({s}) building {}: see its output above",
            program.display(),
            project.dir.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "{} is not installed (or not on PATH): {install}",
            program.display()
        ),
        Err(e) => bail!("could not run {}: {e}", program.display()),
    }
}

fn build_rust(project: &Project, out: &Path) -> Result<()> {
    if let Some(path) = sdk::path_in_manifest(&project.dir, Lang::Rust) {
        check_sdk_path(project, &path, "Cargo.toml")?;
    }
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    if let Ok(o) = installed {
        if !String::from_utf8_lossy(&o.stdout).contains("wasm32-wasip2") {
            bail!(
                "the Rust target wasm32-wasip2 is not installed: run `rustup target add \
                 wasm32-wasip2`"
            );
        }
    }
    run_tool(
        project,
        Path::new("cargo"),
        &["build", "--release", "--target", "wasm32-wasip2"],
        "install Rust with rustup (https://rustup.rs), then `rustup target add wasm32-wasip2`",
    )?;
    let built = cargo_target_dir(project)
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", project.name.replace('-', "_")));
    if !built.is_file() {
        bail!(
            "cargo built no {} (is the crate a `cdylib` named {}?)",
            built.display(),
            project.name
        );
    }
    std::fs::copy(&built, out)
        .with_context(|| format!("copying {} to {}", built.display(), out.display()))?;
    Ok(())
}

/// Where cargo puts this project's artifacts, as cargo itself says (a
/// workspace, `CARGO_TARGET_DIR` or a `.cargo/config` may move them).
fn cargo_target_dir(project: &Project) -> PathBuf {
    let said = Command::new("cargo")
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(&project.dir)
        .output()
        .ok()
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok())
        .and_then(|v| v["target_directory"].as_str().map(PathBuf::from));
    said.unwrap_or_else(|| project.dir.join("target"))
}

/// Python's own parser over the project's `.py` files, before the
/// component build (which takes seconds and reports a syntax error late and
/// unclearly): `app.py:12:5: invalid syntax`. Skipped without python3.
const PY_SYNTAX_CHECK: &str = r#"
import ast, os, sys
for root, dirs, files in os.walk("."):
    dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
    for f in files:
        if f.endswith(".py"):
            path = os.path.relpath(os.path.join(root, f))
            try:
                ast.parse(open(path, encoding="utf-8").read(), path)
            except SyntaxError as e:
                print(f"{e.filename}:{e.lineno}:{e.offset}: {e.msg}")
                print((e.text or "").rstrip())
                sys.exit(1)
"#;

/// Runs a syntax check; its complaint (first lines) as an error.
fn syntax_check(project: &Project, program: &str, args: &[&str]) -> Result<()> {
    let Ok(out) = Command::new(program)
        .args(args)
        .current_dir(&project.dir)
        .output()
    else {
        return Ok(()); // no checker here: the build tool reports it
    };
    if out.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    bail!(
        "a syntax error in {}:\n{}",
        project.dir.display(),
        text.trim()
    )
}

fn build_python(project: &Project, out: &Path) -> Result<()> {
    syntax_check(project, "python3", &["-c", PY_SYNTAX_CHECK])?;
    let kind = project.kind.unwrap_or(Kind::Workflow).as_str();
    let out = out.to_string_lossy();
    let mut args = vec![
        "-d",
        ".weft/wit",
        "-w",
        kind,
        "componentize",
        "app",
        "-p",
        ".",
    ];
    // The SDK: the path requirements.txt names, or (a project made before
    // the SDK was a package) its copy in .weft/sdk; else componentize-py
    // finds it in the Python environment's site-packages.
    let named = sdk::path_in_manifest(&project.dir, Lang::Python);
    let sdk_path = match &named {
        Some(path) => {
            check_sdk_path(project, path, "requirements.txt")?;
            Some(path.to_string_lossy().into_owned())
        }
        None if project.has_sdk_copy() => Some(".weft/sdk".to_string()),
        None => {
            let found = Command::new("python3")
                .args(["-c", "import weft"])
                .current_dir(&project.dir)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
            if found.is_ok_and(|s| !s.success()) {
                bail!(
                    "the weft Python SDK is not installed here and {}/requirements.txt names no \
                     path to it: `pip install -r requirements.txt` (into the environment \
                     componentize-py runs in), or name the package's directory there \
                     (`weft-sdk @ file:///…/python`; `weft sdk` writes it)",
                    project.dir.display()
                );
            }
            None
        }
    };
    if let Some(path) = &sdk_path {
        args.extend(["-p", path]);
    }
    args.extend(["-o", &out]);
    run_tool(
        project,
        Path::new("componentize-py"),
        &args,
        &format!("run `pip install componentize-py=={COMPONENTIZE_PY}`"),
    )
}

/// The SDK package a manifest names by path (its directory, or a
/// tarball or wheel made from it) must be there.
fn check_sdk_path(project: &Project, path: &Path, manifest: &str) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    let path = sdk::tidy(path);
    let sdk_dir = path.parent().unwrap_or(&path);
    bail!(
        "{}/{manifest} depends on the weft SDK package at {}, which is not there: write it \
         with `weft sdk --dir {}`, or change {manifest} to where the package is",
        project.dir.display(),
        path.display(),
        sdk_dir.display()
    )
}

/// A tool from the project's `node_modules/.bin`, else from PATH.
fn node_tool(project: &Project, name: &str) -> PathBuf {
    let local = project.dir.join("node_modules/.bin").join(name);
    if local.is_file() {
        local
    } else {
        PathBuf::from(name)
    }
}

fn build_js(project: &Project, out: &Path) -> Result<()> {
    let kind = project.kind.unwrap_or(Kind::Workflow).as_str();
    js_syntax_check(project)?;
    if project.has_sdk_copy() {
        // A project made before the SDK was a package imports its copy by
        // relative path: componentize-js reads it as it stands.
        return componentize_js(project, &format!("src/{kind}.js"), out);
    }
    let install = npm_install_hint(project, false);
    check_js_sdk(project, &install)?;
    let bundle = bundle(project, &format!("src/{kind}.js"), &install)?;
    componentize_js(project, &bundle, out)
}

/// What `npm install` brings, for a missing tool's message.
fn npm_install_hint(project: &Project, ts: bool) -> String {
    let typescript = if ts {
        format!("typescript@{TYPESCRIPT}, ")
    } else {
        String::new()
    };
    format!(
        "run `npm install` in {} (it installs weft-sdk, {typescript}esbuild@{ESBUILD} and \
         componentize-js@{COMPONENTIZE_JS})",
        project.dir.display()
    )
}

/// esbuild bundles the entry module with the SDK package (imported by its
/// name, `weft-sdk/workflow`) into one module under `.weft/build/`, which
/// componentize-js builds (it resolves no package names itself).
fn bundle(project: &Project, entry: &str, install: &str) -> Result<String> {
    let kind = project.kind.unwrap_or(Kind::Workflow).as_str();
    let bundle = format!(".weft/build/{kind}.js");
    run_tool(
        project,
        &node_tool(project, "esbuild"),
        &[
            entry,
            "--bundle",
            "--format=esm",
            "--platform=neutral",
            "--target=es2022",
            // The host's imports (the WIT interfaces) stay imports.
            "--external:weft:*",
            "--external:wasi:*",
            "--log-level=warning",
            &format!("--outfile={bundle}"),
        ],
        install,
    )?;
    Ok(bundle)
}

/// The SDK package a JavaScript project depends on is there and installed.
fn check_js_sdk(project: &Project, install: &str) -> Result<()> {
    if let Some(path) = sdk::path_in_manifest(&project.dir, Lang::Js) {
        check_sdk_path(project, &path, "package.json")?;
    }
    let installed = project
        .dir
        .ancestors()
        .any(|d| d.join("node_modules/weft-sdk/package.json").is_file());
    if !installed
        && std::fs::read_to_string(project.dir.join("package.json"))
            .is_ok_and(|t| t.contains("\"weft-sdk\""))
    {
        bail!("the weft SDK package is not installed in this project: {install}");
    }
    Ok(())
}

/// TypeScript: tsc type-checks the project (its tsconfig.json), esbuild
/// bundles `src/KIND.ts` with the SDK into one JavaScript module under
/// `.weft/build/`, and that is built as a JavaScript component.
fn build_ts(project: &Project, out: &Path) -> Result<()> {
    let kind = project.kind.unwrap_or(Kind::Workflow).as_str();
    let install = npm_install_hint(project, true);
    if !project.has_sdk_copy() {
        check_js_sdk(project, &install)?;
    }
    run_tool(
        project,
        &node_tool(project, "tsc"),
        &["--noEmit", "--pretty", "false", "-p", "."],
        &install,
    )
    .map_err(|e| {
        if e.to_string().contains("not installed") {
            e
        } else {
            anyhow::anyhow!(
                "{e:#}\n(the type errors are listed above: file(line,column): error TSnnnn)"
            )
        }
    })?;
    let bundle = bundle(project, &format!("src/{kind}.ts"), &install)?;
    componentize_js(project, &bundle, out)
}

fn componentize_js(project: &Project, entry: &str, out: &Path) -> Result<()> {
    let kind = project.kind.unwrap_or(Kind::Workflow).as_str();
    let program = node_tool(project, "componentize-js");
    let out = out.to_string_lossy();
    // Workflows get no HTTP at all; activities keep `fetch` (limited to the
    // hosts opened at deploy). `--disable` must come before `--out`.
    let disable: &[&str] = match project.kind.unwrap_or(Kind::Workflow) {
        Kind::Workflow => &["--disable", "http", "fetch-event"],
        Kind::Activity => &["--disable", "fetch-event"],
    };
    let mut args = vec!["--wit", ".weft/wit", "--world-name", kind];
    args.extend_from_slice(disable);
    args.extend_from_slice(&["--out", &out, entry]);
    run_tool(
        project,
        &program,
        &args,
        &format!(
            "run `npm install` in {} (it installs @bytecodealliance/componentize-js@{COMPONENTIZE_JS})",
            project.dir.display()
        ),
    )
}

/// Node's parser over the project's `src/*.js` (`node --check`), before the
/// component build: `src/workflow.js:12` and the message, at once. Skipped
/// without node.
fn js_syntax_check(project: &Project) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(project.dir.join("src")) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "js") {
            let rel = path.strip_prefix(&project.dir).unwrap_or(&path).to_owned();
            let Ok(out) = Command::new("node")
                .arg("--check")
                .arg(&rel)
                .current_dir(&project.dir)
                .output()
            else {
                return Ok(());
            };
            if !out.status.success() {
                let text = String::from_utf8_lossy(&out.stderr);
                // Node names the place (`file:///…/src/workflow.js:12`), then
                // the line, a caret, and the error.
                let place = text.lines().next().unwrap_or_default();
                let place = place
                    .rsplit_once(&*rel.to_string_lossy())
                    .map(|(_, line)| format!("{}{line}", rel.display()))
                    .unwrap_or_else(|| place.to_owned());
                let error = text
                    .lines()
                    .find(|l| l.contains("Error"))
                    .unwrap_or_default();
                let code: Vec<&str> = text.lines().skip(1).take(2).collect();
                bail!(
                    "a syntax error in {}: {place}: {error}\n{}",
                    project.dir.display(),
                    code.join("\n")
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
