//! `weft new` and `weft build`: for each language, the workflow and activity
//! projects a user gets build with the right tool as they stand, deploy, and
//! run (the activity called by the Rust `polling` workflow).

use std::path::Path;
use std::process::Command;

use weft_e2e::serde_json::{self as serde_json, json};
use weft_e2e::{guest, weft_bin, Host};

fn weft(dir: &Path, args: &[&str]) -> String {
    weft_e2e::run_ok(&mut weft_command(dir, args))
}

fn weft_command(dir: &Path, args: &[&str]) -> Command {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| weft_e2e::repo().join("target"));
    let mut cmd = Command::new(weft_bin());
    cmd.args(args).current_dir(dir);
    // `weft new` writes the SDK packages under WEFT_HOME (not the user's
    // ~/.weft); Rust projects share one target directory, so their
    // dependencies compile once per suite run.
    cmd.env("WEFT_HOME", target.join("e2e-weft-home"));
    if args.first() == Some(&"build") {
        cmd.env("CARGO_TARGET_DIR", target.join("template-build"));
    }
    cmd
}

/// `npm install` in a JavaScript or TypeScript project: the SDK package
/// (a link to the directory its package.json names) and the build tools
/// (from npm's cache once the suite has installed them for guest-sdk/js).
fn npm_install(project: &Path) {
    weft_e2e::run_ok(
        Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--prefer-offline",
                "--loglevel=error",
            ])
            .current_dir(project),
    );
}

/// Creates, builds, deploys and runs a workflow and an activity project.
fn new_projects_run(lang: &str, activity_name: &str) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let work = tmp.path();
    let wf = format!("{lang}-flow");
    let acts = format!("{lang}-acts");
    let said = weft(work, &["new", &wf, "--lang", lang]);
    assert!(said.contains("weft build"), "{said}");
    weft(work, &["new", &acts, "--lang", lang, "--kind", "activity"]);
    assert!(work.join(&wf).join("weft.toml").is_file());
    assert!(work.join(&wf).join(".weft/wit/weft.wit").is_file());
    // The project depends on the SDK package; no copy of it is inside.
    assert!(!work.join(&wf).join(".weft/sdk").exists());
    let (manifest, package) = match lang {
        "rust" => ("Cargo.toml", "rust"),
        "python" => ("requirements.txt", "python"),
        _ => ("package.json", "js"),
    };
    let text = std::fs::read_to_string(work.join(&wf).join(manifest)).unwrap();
    assert!(
        text.contains(&format!("e2e-weft-home/sdk/0.1.0/{package}")),
        "{manifest}: {text}"
    );
    assert!(
        said.contains("depends on the weft SDK package in"),
        "{said}"
    );
    if lang == "js" || lang == "ts" {
        npm_install(&work.join(&wf));
        npm_install(&work.join(&acts));
    }

    let built = weft(&work.join(&wf), &["build"]);
    assert!(built.contains(&format!("{wf}.wasm")), "{built}");
    weft(&work.join(&acts), &["build"]);

    // The workflow project's own test, with the test environment it came
    // with, as its README line says to run it.
    let runner: Option<&[&str]> = match lang {
        "python" => Some(&["pytest", "-q", "tests"]),
        "js" | "ts" => Some(&["node", "--test", "tests/"]),
        _ => None,
    };
    if let Some([program, args @ ..]) = runner {
        let out = Command::new(program)
            .args(args)
            .current_dir(work.join(&wf))
            .env("WEFT_BIN", weft_bin())
            // The host the template's test starts compiles into the suite's
            // cache, so the deploy below finds the component compiled.
            .env("WEFT_COMPILE_CACHE", weft_e2e::compile_cache())
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{lang}: the template's test failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            said.contains(program),
            "the next steps name {program}: {said}"
        );
    }

    let host = Host::start();
    host.cli_ok(&[
        "deploy",
        &work.join(&wf).join(format!("{wf}.wasm")).to_string_lossy(),
    ]);
    host.cli_ok(&[
        "deploy",
        &work
            .join(&acts)
            .join(format!("{acts}.wasm"))
            .to_string_lossy(),
    ]);
    host.cli_ok(&["deploy", &guest("polling").to_string_lossy()]);

    template_greets(&host, &wf, json!({"name": "world"}));
    // Issue 16: no input at all runs too (the template's defaults).
    template_greets(&host, &wf, serde_json::Value::Null);

    let id = host.start_execution(
        "polling",
        json!({"mode": "call", "activity": activity_name, "args": "world"}),
    );
    let r = host.wait_result(&id);
    assert!(
        r["output"]
            .as_str()
            .is_some_and(|s| s.starts_with("Hello, world!")),
        "{activity_name}: {r}"
    );
}

/// Runs a template workflow to its end and checks its greeting.
fn template_greets(host: &Host, workflow: &str, input: serde_json::Value) {
    let id = host.start_execution(workflow, input.clone());
    // Templates may sleep on a durable timer: move the clock until done.
    host.eventually("the template workflow to finish", |h| {
        h.advance(1_000);
        h.result_now(&id)["status"] != "running"
    });
    let r = host.result_now(&id);
    assert_eq!(r["output"], "Hello, world!", "{workflow} with {input}: {r}");
}

/// Projects made before the SDK became a dependency, with a copy of it
/// under `.weft/sdk/` imported by relative path (`tests/golden/projects-v1`),
/// still build as they stand and run.
#[test]
fn projects_with_the_sdk_copied_in_still_build_and_run() {
    let tmp = tempfile::tempdir().unwrap();
    let host = Host::start();
    for name in ["old-py-flow", "old-js-flow"] {
        let project = tmp.path().join(name);
        crate::packages::copy_tree(
            &weft_e2e::repo().join("tests/golden/projects-v1").join(name),
            &project,
        );
        assert!(project.join(".weft/sdk").is_dir());
        weft(&project, &["build"]);
        host.cli_ok(&[
            "deploy",
            &project.join(format!("{name}.wasm")).to_string_lossy(),
        ]);
        template_greets(&host, name, json!({"name": "world"}));
    }
}

#[test]
fn rust_projects_from_weft_new_build_deploy_and_run() {
    new_projects_run("rust", "rust-acts.hello");
}

#[test]
fn python_projects_from_weft_new_build_deploy_and_run() {
    new_projects_run("python", "python-acts.hello");
}

#[test]
fn js_projects_from_weft_new_build_deploy_and_run() {
    new_projects_run("js", "js-acts.hello");
}

/// `weft new --sdk DIR` depends on the packages in DIR (here the checkout's
/// `guest-sdk/`), `--sdk VERSION` on a registry's; a project whose SDK
/// directory is gone is refused with the command that writes it again.
#[test]
fn a_project_depends_on_the_sdk_it_is_given() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let checkout = weft_e2e::repo().join("guest-sdk").canonicalize().unwrap();
    weft(
        work,
        &[
            "new",
            "co-flow",
            "--lang",
            "python",
            "--sdk",
            &checkout.to_string_lossy(),
        ],
    );
    let requirements = std::fs::read_to_string(work.join("co-flow/requirements.txt")).unwrap();
    let line = format!("weft-sdk @ file://{}", checkout.join("python").display());
    assert!(requirements.lines().any(|l| l == line), "{requirements}");
    weft(&work.join("co-flow"), &["build"]);
    let host = Host::start();
    host.cli_ok(&[
        "deploy",
        &work.join("co-flow/co-flow.wasm").to_string_lossy(),
    ]);
    let (_, r) = host.run_execution("co-flow", json!({"name": "checkout"}));
    assert_eq!(r["output"], "Hello, checkout!", "{r}");

    weft(
        work,
        &["new", "reg-flow", "--lang", "rust", "--sdk", "0.1.0"],
    );
    let cargo = std::fs::read_to_string(work.join("reg-flow/Cargo.toml")).unwrap();
    assert!(
        cargo.contains(r#"weft-sdk = { version = "0.1.0", features = ["workflow"] }"#),
        "{cargo}"
    );

    // An SDK directory in the project's own tree (`weft sdk --dir`, as in
    // a repository) is named relative to the project: the two move
    // together. Then it is gone.
    let tree = work.join("repo");
    let said = weft(work, &["sdk", "--dir", &tree.join("sdk").to_string_lossy()]);
    assert!(said.contains("weft SDK 0.1.0 in"), "{said}");
    weft(&tree, &["new", "gone", "--lang", "python", "--sdk", "sdk"]);
    weft(&tree, &["new", "rs-gone", "--lang", "rust", "--sdk", "sdk"]);
    let requirements = std::fs::read_to_string(tree.join("gone/requirements.txt")).unwrap();
    assert!(
        requirements.lines().any(|l| l == "../sdk/python"),
        "{requirements}"
    );
    let cargo = std::fs::read_to_string(tree.join("rs-gone/Cargo.toml")).unwrap();
    assert!(
        cargo.contains(r#"weft-sdk = { path = "../sdk/rust", "#),
        "{cargo}"
    );
    let moved = work.join("moved");
    std::fs::rename(&tree, &moved).unwrap();
    let sdk = moved.canonicalize().unwrap().join("sdk");
    std::fs::remove_dir_all(&sdk).unwrap();
    for (project, manifest) in [("gone", "requirements.txt"), ("rs-gone", "Cargo.toml")] {
        let out = weft_command(&moved.join(project), &["build"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("{manifest} depends on the weft SDK package at"))
                && err.contains("which is not there")
                && err.contains(&format!("weft sdk --dir {}", sdk.display())),
            "{err}"
        );
    }
    // The command it names puts the packages back.
    weft(work, &["sdk", "--dir", &sdk.to_string_lossy()]);
    assert!(sdk.join("python/weft/__init__.py").is_file());
    assert!(sdk.join("rust/wit/weft.wit").is_file());
    assert!(sdk.join("rust-testing/src/lib.rs").is_file());
    let err = Command::new(weft_bin())
        .args(["new", "nope", "--lang", "js", "--sdk", "latest"])
        .current_dir(work)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&err.stderr);
    assert!(err.contains("neither a directory nor a version"), "{err}");
    let err = Command::new(weft_bin())
        .args(["new", "nope", "--lang", "js", "--sdk", "9.9.9"])
        .current_dir(work)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&err.stderr);
    assert!(err.contains("this weft carries the SDK 0.1.0"), "{err}");
}

/// TypeScript projects: `weft build` type-checks (tsc), bundles (esbuild)
/// and builds the component; the workflow and the activity run.
#[test]
fn ts_projects_from_weft_new_build_deploy_and_run() {
    new_projects_run("ts", "ts-acts.hello");
}

/// A type error stops `weft build` before any component is built, with the
/// file, the line and the TypeScript error.
#[test]
fn weft_build_reports_a_type_error_with_its_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    weft(work, &["new", "ts-typo", "--lang", "ts"]);
    npm_install(&work.join("ts-typo"));
    let src = work.join("ts-typo/src/workflow.ts");
    let text = std::fs::read_to_string(&src).unwrap();
    let broken = text.replacen("ctx.log(`greeted ${name}`);", "ctx.log(42);", 1);
    assert_ne!(broken, text, "the template logs its greeting");
    std::fs::write(&src, broken).unwrap();
    let out = Command::new(weft_bin())
        .arg("build")
        .current_dir(work.join("ts-typo"))
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("src/workflow.ts(") && said.contains("error TS2345"),
        "{said}"
    );
    assert!(!work.join("ts-typo/ts-typo.wasm").exists());
}

#[test]
fn weft_build_names_what_is_missing() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = Command::new(weft_bin())
        .args(["build"])
        .current_dir(tmp.path())
        .output()
        .expect("run weft");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("weft new NAME --lang"), "{err}");

    // A Python project on a machine without componentize-py: the error
    // names the tool and the command that installs it.
    weft(tmp.path(), &["new", "lonely", "--lang", "python"]);
    let out = Command::new(weft_bin())
        .args(["build"])
        .current_dir(tmp.path().join("lonely"))
        .env("PATH", "/nonexistent")
        .output()
        .expect("run weft");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("componentize-py") && err.contains("pip install componentize-py=="),
        "{err}"
    );
    // A TypeScript project before `npm install`: the error says the SDK
    // package is not installed and names the install, and says nothing of
    // type errors (there were none).
    weft(tmp.path(), &["new", "lonely-ts", "--lang", "ts"]);
    let out = weft_command(&tmp.path().join("lonely-ts"), &["build"])
        .env("PATH", "/nonexistent")
        .output()
        .expect("run weft");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the weft SDK package is not installed in this project")
            && err.contains("npm install"),
        "{err}"
    );
    assert!(!err.contains("type errors"), "{err}");

    let out = Command::new(weft_bin())
        .args(["new", "Bad_Name", "--lang", "js"])
        .current_dir(tmp.path())
        .output()
        .expect("run weft");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a usable project name"));
}

/// Issue 16: `weft build --out x.wasm` then `weft deploy x.wasm` created a
/// workflow type named `x`, and the deploy did not say which version it
/// made. The name now comes from the project's `weft.toml` (the file's
/// directory or one above it); the answer names the version.
#[test]
fn deploy_takes_the_type_name_from_weft_toml_and_names_the_version() {
    let host = Host::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("weft.toml"),
        "name = \"greeter\"\nlang = \"rust\"\nkind = \"workflow\"\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let file = dir.path().join("out").join("x.wasm");
    std::fs::copy(guest("order-v1"), &file).unwrap();
    let out = host.cli_ok(&["deploy", &file.to_string_lossy()]);
    assert!(
        out.starts_with("workflow type greeter -> module") && out.contains("(version 1;"),
        "{out}"
    );
    std::fs::copy(guest("order-v2"), &file).unwrap();
    let out = host.cli_ok(&["deploy", &file.to_string_lossy()]);
    assert!(
        out.contains("greeter") && out.contains("(version 2;"),
        "{out}"
    );
    let types = host.get("/v1/workflow-types")["workflow_types"].clone();
    assert_eq!(types.as_array().unwrap().len(), 1, "no type `x`: {types}");
    // `--name` still decides.
    let out = host.cli_ok(&["deploy", &file.to_string_lossy(), "--name", "other"]);
    assert!(out.starts_with("workflow type other -> module"), "{out}");
    // What is deployed, and which versions: `weft modules`, `weft types`.
    host.cli_ok(&["deploy", &guest("hello-activities").to_string_lossy()]);
    let modules = host.cli_ok(&["modules"]);
    assert_eq!(
        modules.lines().count(),
        4,
        "a header, three modules: {modules}"
    );
    assert!(
        modules.contains("type greeter") && modules.contains("more)"),
        "{modules}"
    );
    let types: serde_json::Value =
        serde_json::from_str(&host.cli_ok(&["types", "--json"])).unwrap();
    let greeter = types["workflow_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "greeter")
        .cloned()
        .expect("greeter");
    assert_eq!(greeter["current_version"], 2, "{types}");
    assert_eq!(greeter["versions"], 2, "{types}");
    assert!(host.cli_ok(&["types"]).contains("greeter"));
}

/// Issue 16: a Python syntax error surfaced after a long build as an
/// AssertionError of the build tool, and a JavaScript one late and without
/// its place. `weft build` now checks the syntax first, with the language's
/// own parser, and names the file, the line and the error, before any
/// component tool runs.
#[test]
fn weft_build_reports_a_syntax_error_with_its_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    weft(work, &["new", "py-broken", "--lang", "python"]);
    weft(work, &["new", "js-broken", "--lang", "js"]);
    let app = work.join("py-broken/app.py");
    let text = std::fs::read_to_string(&app).unwrap();
    std::fs::write(&app, text.replacen("-> str:", "-> str", 1)).unwrap();
    let js = work.join("js-broken/src/workflow.js");
    let text = std::fs::read_to_string(&js).unwrap();
    std::fs::write(&js, text.replacen("?? 'world';", "?? ('world';", 1)).unwrap();
    for (dir, place, error) in [
        ("py-broken", "app.py:", "-> str\n"),
        ("js-broken", "src/workflow.js:", "SyntaxError"),
    ] {
        let out = Command::new(weft_bin())
            .arg("build")
            .current_dir(work.join(dir))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("a syntax error in") && err.contains(place) && err.contains(error),
            "{dir}: {err}"
        );
    }
}
