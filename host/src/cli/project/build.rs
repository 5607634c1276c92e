//! `weft build`: runs the language's build tool on a project (cargo,
//! componentize-py, tsc and esbuild, componentize-js), after checking that the
//! SDK package it depends on is there, and names what to install when a tool
//! is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::{Kind, Lang, Project, COMPONENTIZE_JS, COMPONENTIZE_PY, ESBUILD, TYPESCRIPT};
use crate::cli::sdk;

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
        let spinner = crate::cli::progress::Spinner::start(format!(
            "{name}: building {}",
            project.dir.display()
        ));
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
