//! `cargo xtask`: the project's two commands and their helpers.
//!
//! - `cargo xtask demo [--exit] [--debug]`: builds the (release) host and the examples, starts a
//!   host on `target/demo-data`, deploys the examples and runs `hello`.
//! - `cargo xtask test`: builds everything and runs the whole suite (CI runs
//!   exactly this through `.ci/run`).
//! - `cargo xtask guests`: builds the Rust example components into
//!   `target/guests/` (`test` also builds the Python and JavaScript ones,
//!   installing componentize-py and componentize-js first).
//! - `cargo xtask bench [ARGS]`: the benchmarks on a release build.
//!
//! Only the standard library: this must build before anything else works.

mod postgres;

use std::env;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const WASM_TARGET: &str = "wasm32-wasip2";

/// The examples, deployed by the demo.
const EXAMPLES: &[&str] = &[
    "hello",
    "hello-activities",
    "timer-fanout",
    "misbehave",
    "subscription",
    "approval",
    "trip-booking",
    "batch",
    "batch-worker",
    "iterate",
    "polling",
];

/// A component to build for wasm.
struct Guest {
    package: &'static str,
    /// Cargo features to build it with.
    features: &'static str,
    /// The file cargo writes.
    built: &'static str,
    /// Its name under `target/guests/`.
    name: &'static str,
}

const fn guest(
    package: &'static str,
    features: &'static str,
    built: &'static str,
    name: &'static str,
) -> Guest {
    Guest {
        package,
        features,
        built,
        name,
    }
}

/// Everything built for wasm. Each is built in its own cargo invocation: a
/// workflow crate and an activity crate enable different features of
/// `weft-sdk`, and one invocation would unify them.
const GUESTS: &[Guest] = &[
    guest("hello", "", "hello.wasm", "hello"),
    guest(
        "hello-activities",
        "",
        "hello_activities.wasm",
        "hello-activities",
    ),
    guest("timer-fanout", "", "timer_fanout.wasm", "timer-fanout"),
    guest("misbehave", "", "misbehave.wasm", "misbehave"),
    guest("subscription", "", "subscription.wasm", "subscription"),
    guest("approval", "", "approval.wasm", "approval"),
    guest("trip-booking", "", "trip_booking.wasm", "trip-booking"),
    guest("batch", "", "batch.wasm", "batch"),
    guest("batch", "worker", "batch.wasm", "batch-worker"),
    guest("iterate", "", "iterate.wasm", "iterate"),
    guest("polling", "", "polling.wasm", "polling"),
    // The `order` workflow in its four versions.
    guest("versioning", "", "versioning.wasm", "order-v1"),
    guest("versioning", "v2", "versioning.wasm", "order-v2"),
    guest("versioning", "v3", "versioning.wasm", "order-v3"),
    guest(
        "versioning",
        "v2-broken",
        "versioning.wasm",
        "order-v2-broken",
    ),
    // Test fixtures: components the host must refuse.
    guest("cli-command", "", "cli-command.wasm", "cli-command"),
    guest("extra-import", "", "extra_import.wasm", "extra-import"),
    guest("future-import", "", "future_import.wasm", "future-import"),
    // Test fixture: the rare paths (tests/e2e/corners.rs).
    guest("corners", "", "corners.wasm", "corners"),
    guest("corners", "v2", "corners.wasm", "corners-v2"),
    // Test fixture: a second activity component claiming `greet` (tests/e2e/activities.rs).
    guest(
        "rival-activities",
        "",
        "rival_activities.wasm",
        "rival-activities",
    ),
    // Test fixture: signal handlers in Rust (tests/e2e/api.rs).
    guest("handlers", "", "handlers.wasm", "handlers"),
    // Test fixture: the verification runner's workflow (bench/src/verify), two builds.
    guest("kitchen-sink", "", "kitchen_sink.wasm", "kitchen-sink"),
    guest("kitchen-sink", "v2", "kitchen_sink.wasm", "kitchen-sink-v2"),
];

/// The Python and JavaScript tools, pinned (the same versions `weft new`
/// projects ask for).
const COMPONENTIZE_PY: &str = "0.25.1";

/// The test runner of the Python test environment's tests.
const PYTEST: &str = "9.2.0";

/// A Python or JavaScript component: (name under `target/guests/`, language,
/// world, source: the app directory for Python, the entry file for JS).
const POLYGLOT: &[(&str, &str, &str, &str)] = &[
    ("py-hello", "python", "workflow", "examples/python/hello"),
    (
        "py-subscription",
        "python",
        "workflow",
        "examples/python/subscription",
    ),
    (
        "py-activities",
        "python",
        "activity",
        "examples/python/activities",
    ),
    (
        "js-hello",
        "js",
        "workflow",
        "examples/js/hello/workflow.js",
    ),
    (
        "js-trip-booking",
        "js",
        "workflow",
        "examples/js/trip-booking/workflow.js",
    ),
    (
        "js-parent",
        "js",
        "workflow",
        "examples/js/parent/workflow.js",
    ),
    (
        "js-activities",
        "js",
        "activity",
        "examples/js/activities/activities.js",
    ),
    // Test fixtures: the workflow API in each language (tests/e2e/api.rs).
    ("py-api", "python", "workflow", "tests/fixtures/py-api"),
    (
        "js-api",
        "js",
        "workflow",
        "tests/fixtures/js-api/workflow.js",
    ),
    // TypeScript twins of the JavaScript examples (examples/ts).
    (
        "ts-trip-booking",
        "ts",
        "workflow",
        "examples/ts/trip-booking/workflow.ts",
    ),
    (
        "ts-activities",
        "ts",
        "activity",
        "examples/ts/activities/activities.ts",
    ),
];

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let (cmd, rest) = match args.split_first() {
        Some((c, r)) => (c.as_str(), r),
        None => ("help", &[][..]),
    };
    let outcome = match cmd {
        "guests" => guests().map(|_| ()),
        "demo" => demo(rest),
        "test" => test(rest),
        "bench" => bench(rest),
        "help" | "--help" | "-h" => {
            println!("usage: cargo xtask <demo [--exit] [--debug] | test | guests | bench [ARGS]>");
            Ok(())
        }
        other => Err(format!(
            "unknown command `{other}`; run `cargo xtask help` for the list"
        )),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn cargo() -> Command {
    let mut c = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    c
}

/// Prints a step's title with the time since the first step, so a log
/// shows where a slow run spent its time.
fn step(title: &str) {
    static BEGAN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let at = BEGAN.get_or_init(Instant::now).elapsed().as_secs();
    eprintln!("\n==> {title} [{}:{:02}]", at / 60, at % 60);
}

fn run(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed ({status})"))
    }
}

/// Installs the wasm target unless it is already there.
fn ensure_wasm_target() -> Result {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| {
            format!("cannot run rustup ({e}); install Rust with rustup from https://rustup.rs")
        })?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    step(&format!("installing the {WASM_TARGET} target"));
    run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

/// Builds every example component and copies it to `target/guests/<crate>.wasm`.
fn guests() -> Result<PathBuf> {
    ensure_wasm_target()?;
    let out = target_dir().join("guests");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    for g in GUESTS {
        step(&format!("building the {} component", g.name));
        run(cargo()
            .args([
                "build",
                "--release",
                "--target",
                WASM_TARGET,
                "-p",
                g.package,
            ])
            .args(["--features", g.features]))?;
        let built = target_dir().join(WASM_TARGET).join("release").join(g.built);
        let dest = out.join(format!("{}.wasm", g.name));
        std::fs::copy(&built, &dest)
            .map_err(|e| format!("cannot copy {} to {}: {e}", built.display(), dest.display()))?;
    }
    Ok(out)
}

/// Installs componentize-py (in a venv under `target/tools/`) and
/// componentize-js (`npm ci` in `guest-sdk/js`, from its lockfile) unless they are
/// there; returns the directories to put on PATH.
fn polyglot_tools() -> Result<Vec<PathBuf>> {
    let venv = target_dir().join("tools/py");
    let py_bin = venv.join("bin");
    let componentize_py = py_bin.join("componentize-py");
    let wanted = format!("componentize-py {COMPONENTIZE_PY}");
    let have = Command::new(&componentize_py)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    if have != wanted {
        step(&format!(
            "installing {wanted} (PyPI) into {}",
            venv.display()
        ));
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(py_bin.join("pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("componentize-py=={COMPONENTIZE_PY}"),
        ]))?;
    }
    // The Python test environment's own tests run under pytest.
    if !py_bin.join("pytest").exists() {
        step(&format!(
            "installing pytest {PYTEST} (PyPI) into {}",
            venv.display()
        ));
        run(Command::new(py_bin.join("pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("pytest=={PYTEST}"),
        ]))?;
    }
    let sdk_js = root().join("guest-sdk/js");
    let js_bin = sdk_js.join("node_modules/.bin");
    if ["componentize-js", "tsc", "esbuild"]
        .iter()
        .any(|tool| !js_bin.join(tool).exists())
    {
        step("installing componentize-js, typescript and esbuild (npm, from guest-sdk/js/package-lock.json)");
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&sdk_js))?;
    }
    Ok(vec![py_bin, js_bin])
}

/// PATH with `dirs` in front.
fn path_with(dirs: &[PathBuf]) -> std::ffi::OsString {
    let mut all: Vec<PathBuf> = dirs.to_vec();
    if let Some(p) = env::var_os("PATH") {
        all.extend(env::split_paths(&p));
    }
    env::join_paths(all).expect("PATH entries without separators")
}

/// The newest modification time of the files under `path`.
fn newest(path: &Path) -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .flatten()
        .filter(|e| e.file_name() != "__pycache__" && e.file_name() != "node_modules")
        .filter_map(|e| newest(&e.path()))
        .max()
}

/// Builds the Python and JavaScript examples into `out`, each only when a
/// source, its SDK or the WIT changed since its last build.
fn polyglot_guests(out: &Path, tools: &[PathBuf]) -> Result {
    let path = path_with(tools);
    // The TypeScript examples share one tsconfig: type-checked once.
    let mut typechecked = false;
    for (name, lang, world, source) in POLYGLOT {
        let dest = out.join(format!("{name}.wasm"));
        let sdk = if *lang == "python" {
            "guest-sdk/python/weft"
        } else {
            "guest-sdk/js/src"
        };
        let src_dir = root().join(source);
        let src_dir = if src_dir.is_file() {
            src_dir.parent().map(Path::to_path_buf).unwrap_or(src_dir)
        } else {
            src_dir
        };
        let inputs = [src_dir, root().join(sdk), root().join("wit")];
        let built_at = std::fs::metadata(&dest).and_then(|m| m.modified()).ok();
        if built_at.is_some() && inputs.iter().filter_map(|p| newest(p)).max() <= built_at {
            continue;
        }
        step(&format!("building the {name} component ({lang})"));
        // TypeScript: type-checked with the examples' tsconfig, bundled
        // into one module, then built as JavaScript (as `weft build` does).
        let bundle;
        let source: &str = if *lang == "ts" {
            if !typechecked {
                run(Command::new("tsc")
                    .args(["--noEmit", "--pretty", "false", "-p", "examples/ts"])
                    .current_dir(root())
                    .env("PATH", &path))?;
                typechecked = true;
            }
            bundle = target_dir().join("ts-bundles").join(format!("{name}.js"));
            run(Command::new("esbuild")
                .arg(source)
                .args([
                    "--bundle",
                    "--format=esm",
                    "--platform=neutral",
                    "--target=es2022",
                    "--external:weft:*",
                    "--external:wasi:*",
                    "--log-level=warning",
                ])
                .arg(format!("--outfile={}", bundle.display()))
                .current_dir(root())
                .env("PATH", &path))?;
            bundle
                .to_str()
                .ok_or("a target directory that is not UTF-8")?
        } else {
            source
        };
        let mut c = if *lang == "python" {
            let mut c = Command::new("componentize-py");
            c.args(["-q", "-d", "wit", "-w", world, "componentize", "app", "-p"])
                .arg(source)
                .args(["-p", "guest-sdk/python", "-o"])
                .arg(&dest);
            c
        } else {
            let mut c = Command::new("componentize-js");
            c.args(["--wit", "wit", "--world-name", world]);
            if *world == "workflow" {
                c.args(["--disable", "http", "fetch-event"]);
            } else {
                c.args(["--disable", "fetch-event"]);
            }
            c.arg("--out").arg(&dest).arg(source);
            c
        };
        run(c.current_dir(root()).env("PATH", &path))?;
    }
    Ok(())
}

fn build_host(release: bool) -> Result<PathBuf> {
    step("building the host");
    let mut c = cargo();
    c.args(["build", "-p", "weft"]);
    if release {
        c.arg("--release");
    }
    run(&mut c)?;
    Ok(target_dir()
        .join(if release { "release" } else { "debug" })
        .join(format!("weft{}", env::consts::EXE_SUFFIX)))
}

fn demo(args: &[String]) -> Result {
    let exit = args.iter().any(|a| a == "--exit") || env::var_os("CI").is_some();
    let listen = args
        .iter()
        .position(|a| a == "--listen")
        .and_then(|i| args.get(i + 1))
        .map_or("127.0.0.1:7700", String::as_str);
    let guests = guests()?;
    // A user's first host is the release build (the debug one is ten times
    // slower and 500 MB); the suite's demo step reuses its debug build.
    let weft = build_host(!args.iter().any(|a| a == "--debug"))?;
    let data = match args.iter().position(|a| a == "--data") {
        Some(i) => PathBuf::from(args.get(i + 1).ok_or("--data needs a directory")?),
        None => target_dir().join("demo-data"),
    };
    step(&format!("starting a host on {}", data.display()));
    let mut host = Command::new(&weft)
        .args(["server", "--data"])
        .arg(&data)
        .args(["--listen", listen])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", weft.display()))?;
    let url = match demo_run(&weft, &guests, &mut host) {
        Ok(url) => url,
        Err(e) => {
            stop(&mut host);
            return Err(e);
        }
    };
    if exit {
        stop(&mut host);
        return Ok(());
    }
    println!("\nThe host keeps running at {url}: open {url}/ in a browser for its web UI, or try");
    println!("  {} list --server {url}", weft.display());
    println!("(`cargo install --path host --locked` puts `weft` on your PATH.)");
    println!("Stop it with Ctrl-C.");
    let _ = host.wait();
    Ok(())
}

/// Deploys the examples and runs `hello`; returns the host's URL.
fn demo_run(weft: &Path, guests: &Path, host: &mut Child) -> Result<String> {
    let stdout = host.stdout.take().expect("stdout is piped");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .map_err(|e| format!("cannot read the host's output: {e}"))?;
    let Some(url) = first.trim().strip_prefix("listening on ") else {
        return Err(
            "the host did not start (see its log above): is the port taken, or another host \
             running on the same data directory?"
                .into(),
        );
    };
    let url = url.to_string();
    let client = |args: &[&str]| -> Result<String> {
        let out = Command::new(weft)
            .args(args)
            .env("WEFT_SERVER", &url)
            .output()
            .map_err(|e| format!("cannot run weft: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!(
                "weft {} failed: {}{}",
                args.join(" "),
                text,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(text)
    };
    step("deploying the examples");
    for g in EXAMPLES {
        let file = guests.join(format!("{g}.wasm"));
        print!("{}", client(&["deploy", &file.to_string_lossy()])?);
    }
    step("running hello");
    let started = Instant::now();
    let out = client(&[
        "start",
        "hello",
        "--input",
        r#"{"name": "world"}"#,
        "--wait",
    ])?;
    let mut lines = out.lines();
    let id = lines.next().unwrap_or_default();
    let result = lines.collect::<Vec<_>>().join("\n");
    println!("execution {id} -> {result}");
    println!(
        "({} ms; `weft history {id}` shows its events)",
        started.elapsed().as_millis()
    );
    if result != r#""HELLO, WORLD!""# {
        return Err(format!(
            "hello returned {result}, expected \"HELLO, WORLD!\""
        ));
    }
    Ok(url)
}

fn stop(host: &mut Child) {
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .args(["-TERM", &host.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = host.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = host.kill();
    let _ = host.wait();
}

/// The UI's end-to-end tests drive the distribution's Chromium through its
/// WebDriver (`chromedriver`): installed with apt when absent (nothing is
/// downloaded from elsewhere).
fn ensure_browser() -> Result {
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
    };
    if on_path("chromedriver") && (on_path("chromium") || on_path("chromium-browser")) {
        return Ok(());
    }
    step("installing chromium and chromium-driver (apt) for the UI tests");
    apt_install(&["chromium", "chromium-driver"])
}

/// Installs the distribution's `packages` (with sudo unless root).
fn apt_install(packages: &[&str]) -> Result {
    let apt = |args: &[&str]| {
        let mut c = if postgres::is_root() {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run(&mut apt(&["update", "-qq"]))?;
    run(apt(&["install", "-y", "-qq"]).args(packages))
}

/// End-to-end tests the PostgreSQL run leaves out (name filters), and why:
/// each is about the embedded file itself, or starts its own hosts on
/// redb data directories it brings.
const POSTGRES_SKIPS: &[(&str, &str)] = &[
    (
        "storage::",
        "the disk under the redb file: a full disk, compaction",
    ),
    (
        "golden",
        "data directories written by older builds (redb files)",
    ),
    (
        "projects::",
        "`weft new` and `weft build` of each language: the build tools, not the store (their \
         deploy and run are what every other test does)",
    ),
    (
        "packages::",
        "the SDKs installed as packages from a clean directory: packaging, not the store",
    ),
    (
        "ui::",
        "the web UI in a browser: the same API calls the other tests make on PostgreSQL",
    ),
];

/// The end-to-end tests run a third time, on stores of four partitions
/// (one host each: `cluster::`, `postgres::` and `verify::` test hosts on
/// a store of one, and are not among them).
const PARTITIONED: &[&str] = &["corners::", "endings::", "composition::", "versioning::"];

fn test(args: &[String]) -> Result {
    let started = Instant::now();
    // Minimal toolchains (CI images) may lack them; a no-op when present.
    run(Command::new("rustup").args(["component", "add", "rustfmt", "clippy"]))?;
    let guests = guests()?;
    let tools = polyglot_tools()?;
    polyglot_guests(&guests, &tools)?;
    ensure_browser()?;
    step("checking formatting");
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    step("clippy (host side)");
    run(cargo().args(["clippy", "--all-targets", "--", "-D", "warnings"]))?;
    for g in GUESTS {
        step(&format!("clippy ({})", g.name));
        run(cargo()
            .args([
                "clippy",
                "--release",
                "--target",
                WASM_TARGET,
                "-p",
                g.package,
            ])
            .args(["--features", g.features, "--", "-D", "warnings"]))?;
    }
    for features in ["workflow", "activity"] {
        step(&format!("clippy (weft-sdk, {features})"));
        run(cargo()
            .args([
                "clippy",
                "--release",
                "--target",
                WASM_TARGET,
                "-p",
                "weft-sdk",
            ])
            .args(["--features", features, "--", "-D", "warnings"]))?;
    }
    let weft = build_host(false)?;
    // The suite's own PostgreSQL, for the store's unit tests and the
    // second end-to-end pass.
    let cluster = postgres::Cluster::start(&target_dir(), true)?;
    step("unit tests");
    run(cargo()
        .args(["test", "-p", "weft"])
        .env("WEFT_TEST_POSTGRES", cluster.url()))?;
    step("Python SDK unit tests (plain CPython, fake bindings)");
    run(Command::new("python3")
        .arg("guest-sdk/python/tests/test_sdk.py")
        .current_dir(root()))?;
    step("the Python test environment: the subscription example's pytest suite");
    run(Command::new(tools[0].join("pytest"))
        .args(["-q", "examples/python/subscription/tests"])
        .env("WEFT_BIN", &weft)
        .env("WEFT_GUESTS", &guests)
        .env("PYTHONPATH", root().join("guest-sdk/python"))
        .current_dir(root()))?;
    step("the JavaScript test environment: the trip-booking example's node:test suite");
    run(Command::new("node")
        .args(["--test", "examples/js/trip-booking/tests/"])
        .env("WEFT_BIN", &weft)
        .env("WEFT_GUESTS", &guests)
        .current_dir(root()))?;
    step("the Rust test environment: weft-testing's tests of the subscription example");
    run(cargo()
        .args(["test", "-p", "weft-testing"])
        .env("WEFT_BIN", &weft)
        .env("WEFT_GUESTS", &guests))?;
    step("end-to-end tests against a real host process");
    let mut e2e = cargo();
    e2e.args(["test", "-p", "weft-e2e", "--"])
        .args(args)
        .env("WEFT_BIN", &weft)
        .env("WEFT_GUESTS", &guests)
        // `weft build` finds componentize-py and componentize-js here.
        .env("PATH", path_with(&tools));
    run(&mut e2e)?;
    step("end-to-end tests again, every host on PostgreSQL");
    let mut e2e = cargo();
    e2e.args(["test", "-p", "weft-e2e", "--"])
        .args(args)
        .args(
            POSTGRES_SKIPS
                .iter()
                .flat_map(|(name, _why)| ["--skip", name]),
        )
        .env("WEFT_BIN", &weft)
        .env("WEFT_GUESTS", &guests)
        .env("WEFT_TEST_POSTGRES", cluster.url())
        .env("WEFT_TEST_PSQL", cluster.psql())
        .env(
            "WEFT_TEST_POSTGRES_TLS",
            cluster.tls_dir().unwrap_or_default(),
        )
        .env("PATH", path_with(&tools));
    run(&mut e2e)?;
    // The tests whose executions reach each other (signals, cancellations,
    // children, resets, upgrades) again on stores of four partitions, the
    // ids spread over them, one host running each.
    step("end-to-end tests of executions that reach each other, on stores of four partitions");
    let mut e2e = cargo();
    e2e.args(["test", "-p", "weft-e2e", "--test", "e2e", "--"])
        .args(PARTITIONED)
        .args(args)
        .env("WEFT_BIN", &weft)
        .env("WEFT_GUESTS", &guests)
        .env("WEFT_TEST_POSTGRES", cluster.url())
        .env("WEFT_TEST_PSQL", cluster.psql())
        .env("WEFT_PARTITIONS", "4")
        .env("PATH", path_with(&tools));
    run(&mut e2e)?;
    // Alone on the cluster: a restart ends every connection, and other
    // tests' hosts would share the pause.
    step("PostgreSQL restarted under a host, and under two hosts of four partitions");
    run(cargo()
        .args(["test", "-p", "weft-e2e", "--test", "e2e", "--"])
        .args([
            "--ignored",
            "--exact",
            "postgres::a_database_restart_under_load_loses_nothing",
            "partitions::faults::a_database_restart_under_two_hosts_of_four_partitions_loses_nothing",
            // One after the other: each restarts the cluster.
            "--test-threads=1",
        ])
        .env("WEFT_BIN", &weft)
        .env("WEFT_GUESTS", &guests)
        .env("WEFT_TEST_POSTGRES", cluster.url())
        .env("WEFT_TEST_PG_RESTART", cluster.restart_script()))?;
    drop(cluster);
    step("the demo, as the README runs it");
    let data = target_dir().join("demo-test-data");
    let _ = std::fs::remove_dir_all(&data);
    demo(&[
        "--exit".into(),
        "--debug".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--data".into(),
        data.to_string_lossy().into_owned(),
    ])?;
    eprintln!("\nall tests passed in {} s", started.elapsed().as_secs());
    Ok(())
}

fn bench(args: &[String]) -> Result {
    let guests = guests()?;
    // The language workload runs the Python and JavaScript guests too.
    let tools = polyglot_tools()?;
    polyglot_guests(&guests, &tools)?;
    let weft = build_host(true)?;
    step("building the benchmark client");
    run(cargo().args(["build", "--release", "-p", "weft-bench"]))?;
    let client = target_dir()
        .join("release")
        .join(format!("weft-bench{}", env::consts::EXE_SUFFIX));
    let mut bench = Command::new(client);
    bench
        .args(args)
        .env("WEFT_BIN", &weft)
        .env("WEFT_GUESTS", &guests);
    // Several hosts share a PostgreSQL: a throwaway one unless given. The
    // cluster workload alone uses it (`WEFT_CLUSTER_POSTGRES`); the
    // verification runner's hosts with `--hosts N` (`WEFT_TEST_POSTGRES`).
    let verify_hosts = args.first().is_some_and(|a| a == "verify")
        && args
            .iter()
            .position(|a| a == "--hosts")
            .and_then(|i| args.get(i + 1))
            .is_some_and(|n| n != "1");
    let cluster_workload = args.first().is_none_or(|a| a != "verify")
        && args
            .iter()
            .position(|a| a == "--only")
            .and_then(|i| args.get(i + 1))
            .is_none_or(|only| {
                only.split(',')
                    .any(|w| ["cluster", "cluster-workers", "partitions"].contains(&w.trim()))
            });
    let given = env::var_os("WEFT_TEST_POSTGRES").is_some();
    let _cluster = if !given && (verify_hosts || cluster_workload) {
        let cluster = postgres::Cluster::start(&target_dir(), false)?;
        let var = if verify_hosts {
            "WEFT_TEST_POSTGRES"
        } else {
            "WEFT_CLUSTER_POSTGRES"
        };
        bench.env(var, cluster.url());
        Some(cluster)
    } else {
        None
    };
    step("running the benchmarks");
    run(&mut bench)
}
