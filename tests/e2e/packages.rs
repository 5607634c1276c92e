//! The SDKs are packages of their ecosystems: each installs into a clean
//! directory from the repository alone (an npm tarball, a wheel built from
//! pyproject.toml, a crate whose package carries its WIT), and a TypeScript
//! workflow that imports the installed package builds and runs.

use std::path::Path;
use std::process::Command;

use weft_e2e::serde_json::json;
use weft_e2e::{repo, run_ok as ok, weft_bin, Host};

#[test]
fn the_js_package_installs_from_its_tarball_and_a_ts_workflow_importing_it_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    ok(Command::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(work)
        .arg(repo().join("guest-sdk/js")));
    let tarball = work.join("weft-sdk-0.1.0.tgz");
    assert!(tarball.is_file());

    // A TypeScript project that depends on the package from its tarball
    // (as it would on a registry's version: `--sdk 0.1.0`; its tools come
    // from PATH).
    ok(Command::new(weft_bin())
        .args(["new", "pkg-flow", "--lang", "ts", "--sdk", "0.1.0"])
        .current_dir(work));
    let project = work.join("pkg-flow");
    let manifest = std::fs::read_to_string(project.join("package.json")).unwrap();
    assert!(manifest.contains(r#""weft-sdk": "0.1.0""#), "{manifest}");
    std::fs::write(
        project.join("package.json"),
        r#"{"name": "pkg-flow", "private": true, "type": "module"}"#,
    )
    .unwrap();
    ok(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund"])
        .arg(&tarball)
        .current_dir(&project));
    assert!(project
        .join("node_modules/weft-sdk/src/workflow.d.ts")
        .is_file());
    let text = std::fs::read_to_string(project.join("src/workflow.ts")).unwrap();
    assert!(text.contains("from 'weft-sdk/workflow'"));
    ok(Command::new(weft_bin()).arg("build").current_dir(&project));

    // The test module is importable by its package name.
    let said = ok(Command::new("node")
        .args([
            "-e",
            "import('weft-sdk/testing').then(m => console.log(m.CONTRACT))",
        ])
        .current_dir(&project));
    assert!(said.trim().starts_with("0."), "{said}");

    let host = Host::start();
    host.cli_ok(&["deploy", &project.join("pkg-flow.wasm").to_string_lossy()]);
    let (_, r) = host.run_execution("pkg-flow", json!({"name": "package"}));
    assert_eq!(r["output"], "Hello, package!", "{r}");
}

#[test]
fn the_python_package_installs_from_pyproject_into_a_clean_venv() {
    let tmp = tempfile::tempdir().unwrap();
    // From a clean copy: an in-tree build leaves build/ behind.
    let copy = tmp.path().join("src");
    copy_tree(&repo().join("guest-sdk/python"), &copy);
    let venv = tmp.path().join("venv");
    ok(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    ok(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .arg(&copy));
    let said = ok(Command::new(venv.join("bin/python")).args([
        "-c",
        "import importlib.util, weft_testing, weft_worker; \
         print(weft_testing.CONTRACT, importlib.util.find_spec('weft').origin)",
    ]));
    assert!(
        said.contains("0.") && said.contains("weft/__init__.py"),
        "{said}"
    );
}

#[test]
fn the_rust_crate_packages_with_its_wit() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let said = ok(Command::new(cargo)
        .args(["package", "--list", "--allow-dirty", "-p", "weft-sdk"])
        .current_dir(repo()));
    for file in ["wit/weft.wit", "README.md", "src/lib.rs"] {
        assert!(said.lines().any(|l| l == file), "{file} missing:\n{said}");
    }
}

pub(crate) fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let name = e.file_name();
        if name == "build" || name == "__pycache__" || name.to_string_lossy().ends_with(".egg-info")
        {
            continue;
        }
        let path = e.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}
