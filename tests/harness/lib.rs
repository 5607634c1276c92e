//! Drives a real `weft` host process for the end-to-end tests and the
//! benchmarks: start it on a free port, talk to it over HTTP or through the
//! CLI, SIGKILL it, restart it on the same data directory.
//!
//! `WEFT_BIN` names the host binary and `WEFT_GUESTS` the directory of built
//! example components; `cargo xtask test` sets both. Without them the
//! workspace's `target/debug/weft` and `target/guests` are used.
//!
//! Every wait is bounded (`within.rs`), and a test that still runs past
//! the hang limit fails the run, naming itself (`watchdog.rs`).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub mod browser;
pub mod crashloop;
mod watchdog;
mod within;

pub use within::{exited_within, first_line, output_within, CLI_LIMIT, REFUSAL_LIMIT, START_LIMIT};

pub use serde_json;

/// The example components, in the order they are deployed.
pub const EXAMPLES: &[&str] = &[
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

/// One compile cache for every test host and every `weft replay` the tests
/// run: a component is compiled once per suite run (per engine
/// configuration), not once per test. Without it each replay of a Python
/// component compiled it afresh (~20 s of a debug build, a third of the
/// suite's time).
pub fn compile_cache() -> PathBuf {
    target_dir().join("compile-cache")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("tests/ sits in the workspace")
                .join("target")
        })
}

/// The `weft` binary under test.
pub fn weft_bin() -> PathBuf {
    let p = std::env::var_os("WEFT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("debug/weft"));
    assert!(
        p.exists(),
        "no weft binary at {}: run the suite with `cargo xtask test`",
        p.display()
    );
    p
}

/// A built example component.
pub fn guest(name: &str) -> PathBuf {
    let dir = std::env::var_os("WEFT_GUESTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("guests"));
    let p = dir.join(format!("{name}.wasm"));
    assert!(
        p.exists(),
        "no component at {}: run `cargo xtask guests` (or the suite with `cargo xtask test`)",
        p.display()
    );
    p
}

/// The PostgreSQL cluster the suite runs its hosts on, if it does
/// (`cargo xtask test` starts one and runs the suite a second time with it).
pub fn postgres_base() -> Option<String> {
    std::env::var("WEFT_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A fresh database on the suite's PostgreSQL, for a test of several
/// hosts on one store; `None` (said on stderr) when the run has none.
pub fn postgres_store() -> Option<String> {
    match postgres_base() {
        Some(base) => Some(format!("{base}/{}", fresh_database_name())),
        None => {
            eprintln!(
                "no PostgreSQL for this run (WEFT_TEST_POSTGRES unset): the PostgreSQL pass runs it"
            );
            None
        }
    }
}

/// The suite's `psql` (`WEFT_TEST_PSQL`, else on PATH).
fn psql_bin() -> String {
    std::env::var("WEFT_TEST_PSQL").unwrap_or_else(|_| "psql".into())
}

/// The suite's `psql`, giving up on a connection after 10 s and on a
/// statement after 120 s (one waiting on a lock that is never let go fails
/// the test that sent it instead of hanging the run).
fn psql_command() -> Command {
    let mut cmd = Command::new(psql_bin());
    cmd.env("PGCONNECT_TIMEOUT", "10")
        .env("PGOPTIONS", "-c statement_timeout=120s");
    cmd
}

/// `psql` of the suite's PostgreSQL (`WEFT_TEST_PSQL`, else on PATH).
pub fn psql(url: &str, sql: &str) -> String {
    let out = psql_command()
        .args([url, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs `sql` with psql in the background, its session named
/// `application` (as a weft host names its sessions: `weft:<host>#<pid>`).
pub fn psql_background(url: &str, application: &str, sql: &str) -> Child {
    Command::new(psql_bin())
        .args([url, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
        .env("PGAPPNAME", application)
        .stdout(Stdio::null())
        .spawn()
        .expect("run psql")
}

/// `(idempotency key, activity, attempt)` of every side effect the example
/// activities logged (`effect key=K activity=A attempt=N`), in order.
pub fn side_effects(log: &str) -> Vec<(String, String, u32)> {
    log.lines()
        .filter_map(|l| {
            let rest = &l[l.find("effect key=")? + "effect key=".len()..];
            let mut words = rest.split(' ');
            let key = words.next()?.to_string();
            let activity = words.next()?.strip_prefix("activity=")?.to_string();
            let attempt = words.next()?.strip_prefix("attempt=")?.parse().ok()?;
            Some((key, activity, attempt))
        })
        .collect()
}

/// [`psql`] with the text given on standard input, for statements too
/// long for one argument (a component's bytes, say).
pub fn psql_stdin(url: &str, sql: &str) -> String {
    let mut child = psql_command()
        .args([url, "-v", "ON_ERROR_STOP=1", "-At"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run psql");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(sql.as_bytes())
        .expect("write to psql");
    let out = child.wait_with_output().expect("wait for psql");
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A database name no other host of this suite run uses.
pub fn fresh_database_name() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("t_{}_{n}_{nanos}", std::process::id())
}

/// A host process and its data directory, which outlives restarts.
pub struct Host {
    child: Option<Child>,
    data: tempfile::TempDir,
    args: Vec<String>,
    /// Extra environment for the host process (e.g. `WEFT_PAUSE_AT`).
    env: Vec<(String, String)>,
    log_filter: String,
    log_path: PathBuf,
    /// The PostgreSQL database this host keeps its store in, when the suite
    /// runs on PostgreSQL (`WEFT_TEST_POSTGRES`); kept across restarts.
    store: Option<String>,
    /// Whether `store` is a database made afresh for this host (dropped
    /// with it, so a suite run does not leave hundreds on the disk); one a
    /// test gives is the test's.
    owns_database: bool,
    pub url: String,
    http: reqwest::blocking::Client,
    /// The API token the host requires, if started with `--token`.
    pub token: Option<String>,
    /// The authority the host was given with `--ca-cert`: the CLI trusts
    /// it too (`WEFT_CA_CERT`), for a host serving HTTPS.
    pub ca_cert: Option<String>,
    /// The client certificate and key the CLI presents
    /// (`WEFT_CLIENT_CERT`, `WEFT_CLIENT_KEY`): this host's own
    /// `--client-cert` and `--client-key`, if given.
    pub client_cert: [Option<String>; 2],
    /// Lets the watchdog show this host's log and kill it if its test
    /// hangs.
    watch: watchdog::Watch,
}

impl Host {
    /// A host with a manual clock, so tests move time themselves.
    pub fn start() -> Host {
        Host::with_args(&["--manual-clock"])
    }

    /// A host with these extra `weft server` flags.
    pub fn with_args(args: &[&str]) -> Host {
        Host::launch(args, "info,weft=debug")
    }

    /// A host with these flags and this `WEFT_LOG` filter.
    pub fn launch(args: &[&str], log_filter: &str) -> Host {
        Host::launch_prepared(args, log_filter, |_| {})
    }

    /// A host whose data directory `prepare` sets up first (for example
    /// mounts a small filesystem there).
    pub fn launch_prepared(args: &[&str], log_filter: &str, prepare: impl FnOnce(&Path)) -> Host {
        let mut host = Host::unstarted(args, log_filter, prepare);
        host.spawn();
        host
    }

    /// A host on the store given: a PostgreSQL address, or `None` for the
    /// redb file in its data directory (whatever store the suite runs on).
    pub fn on_store(args: &[&str], store: Option<String>) -> Host {
        let mut host = Host::unstarted(args, "info,weft=debug", |_| {});
        host.store = store;
        host.owns_database = false;
        host.spawn();
        host
    }

    /// One of several hosts on the PostgreSQL store `store`: its own data
    /// directory (compile cache), these flags, and the named pause points
    /// (none: it runs freely).
    pub fn in_cluster(store: &str, args: &[&str], points: &[&str]) -> Host {
        Host::in_cluster_logging(store, args, points, "info")
    }

    /// [`Host::in_cluster`], logging as `filter` says (`WEFT_LOG`).
    pub fn in_cluster_logging(store: &str, args: &[&str], points: &[&str], filter: &str) -> Host {
        let mut host = Host::unstarted(args, filter, |_| {});
        host.store = Some(store.to_owned());
        host.owns_database = false;
        if !points.is_empty() {
            host.pause_at(points);
        }
        host.spawn();
        host
    }

    /// The next start stops at the named pause points.
    pub fn pause_at(&mut self, points: &[&str]) {
        let release = self.release_dir();
        std::fs::create_dir_all(&release).expect("release dir");
        self.env = vec![
            ("WEFT_PAUSE_AT".into(), points.join(",")),
            (
                "WEFT_PAUSE_DIR".into(),
                release.to_string_lossy().into_owned(),
            ),
        ];
    }

    /// The next start runs with these extra `weft server` flags instead
    /// of the ones it was made with (an operator changing them between
    /// restarts).
    pub fn set_args(&mut self, args: &[&str]) {
        self.args = args.iter().map(|a| (*a).to_owned()).collect();
    }

    /// The next start fails once at each named fail point (`WEFT_FAIL_AT`).
    pub fn fail_at(&mut self, fails: &[&str]) {
        self.env.retain(|(k, _)| k != "WEFT_FAIL_AT");
        self.env.push(("WEFT_FAIL_AT".into(), fails.join(",")));
    }

    /// Sends signal `name` (`STOP`, `CONT`, `TERM`) to the host process.
    pub fn signal(&self, name: &str) {
        let pid = self.pid().expect("a running host");
        let out = Command::new("kill")
            .args([format!("-{name}"), pid.to_string()])
            .output()
            .expect("run kill");
        assert!(out.status.success(), "kill -{name} {pid}: {out:?}");
    }

    /// Waits for the host process to exit on its own; its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        match self.exit_within(timeout) {
            Some(code) => code,
            None => panic!("the host did not exit within {timeout:?}:\n{}", self.log()),
        }
    }

    /// The host's exit code if it exits within `timeout` (`Some(None)`:
    /// ended by a signal); `None` when it is still running then.
    pub fn exit_within(&mut self, timeout: Duration) -> Option<Option<i32>> {
        let child = self.child.as_mut().expect("a running host");
        let status = exited_within(child, timeout)?;
        self.child = None;
        self.watch.set_pid(None);
        Some(status.code())
    }

    /// A host that stops at the named pause points (see `weft::pause`): it
    /// logs `paused at NAME` there and waits until [`Host::release`] names
    /// the point, or the test kills it.
    pub fn paused_at(args: &[&str], points: &[&str]) -> Host {
        let mut host = Host::unstarted(args, "info,weft=debug", |_| {});
        host.pause_at(points);
        host.spawn();
        host
    }

    /// A host with these flags and this extra environment.
    pub fn with_env(args: &[&str], env: &[(&str, &str)]) -> Host {
        let mut host = Host::unstarted(args, "info,weft=debug", |_| {});
        host.env
            .extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        host.spawn();
        host
    }

    /// A host that stops at the named pause points and fails the first
    /// arrival at each named fail point (`WEFT_FAIL_AT`, see `weft::pause`).
    pub fn with_faults(args: &[&str], points: &[&str], fails: &[&str]) -> Host {
        let mut host = Host::unstarted(args, "info,weft=debug", |_| {});
        host.pause_at(points);
        host.env.push(("WEFT_FAIL_AT".into(), fails.join(",")));
        host.spawn();
        host
    }

    fn unstarted(args: &[&str], log_filter: &str, prepare: impl FnOnce(&Path)) -> Host {
        let data = tempfile::tempdir().expect("temp dir");
        let store = data.path().join("store");
        std::fs::create_dir_all(&store).expect("data dir");
        prepare(&store);
        let log_path = data.path().join("host.log");
        let store = postgres_base()
            .filter(|_| !args.contains(&"--store"))
            .map(|base| format!("{base}/{}", fresh_database_name()));
        Host {
            child: None,
            owns_database: store.is_some(),
            store,
            args: args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            log_filter: log_filter.to_string(),
            token: args
                .iter()
                .position(|a| *a == "--token")
                .and_then(|i| args.get(i + 1))
                .map(|t| t.to_string()),
            ca_cert: args
                .iter()
                .position(|a| *a == "--ca-cert")
                .and_then(|i| args.get(i + 1))
                .map(|t| t.to_string()),
            client_cert: ["--client-cert", "--client-key"].map(|flag| {
                args.iter()
                    .position(|a| *a == flag)
                    .and_then(|i| args.get(i + 1))
                    .map(|t| t.to_string())
            }),
            watch: watchdog::watch(Some(log_path.clone())),
            log_path,
            url: String::new(),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("http client"),
            data,
        }
    }

    fn release_dir(&self) -> PathBuf {
        self.data.path().join("released")
    }

    /// Lets a host waiting at pause point `name` go on (and every later
    /// arrival there pass).
    pub fn release(&self, name: &str) {
        std::fs::write(self.release_dir().join(name), b"").expect("release a pause point");
    }

    /// The host's next start has no pause points.
    pub fn clear_pause_points(&mut self) {
        self.env.clear();
    }

    /// The PostgreSQL address of this host's store, when it has one.
    pub fn store(&self) -> Option<&str> {
        self.store.as_deref()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data.path().join("store")
    }

    /// Starts the host process (again) on its data directory; fails the
    /// test, showing the host's log, if it has not said where it listens
    /// within [`START_LIMIT`].
    pub fn spawn(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("log file");
        let mut child = Command::new(weft_bin())
            .arg("server")
            .arg("--data")
            .arg(self.data_dir())
            .args(["--listen", "127.0.0.1:0"])
            .args(self.store.iter().flat_map(|s| ["--store", s.as_str()]))
            .args(&self.args)
            .env("WEFT_LOG", &self.log_filter)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("WEFT_COMPILE_CACHE", compile_cache())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start the weft host");
        self.watch.set_pid(Some(child.id()));
        let line = first_line(&mut child, START_LIMIT).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the host did not say where it listens within {START_LIMIT:?}:\n{}",
                self.log()
            )
        });
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the host did not start: {line:?}\n{}", self.log()));
        self.url = addr.to_string();
        self.child = Some(child);
    }

    /// The host process's id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            self.watch.set_pid(None);
            c.kill().expect("SIGKILL the host");
            c.wait().expect("reap the host");
        }
    }

    /// Kills the host with SIGKILL and starts it again on the same data.
    pub fn kill_and_restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Everything the host wrote to stderr (its log), across restarts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Waits until the host's log contains `needle` (count times).
    pub fn wait_for_log(&self, needle: &str, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.log().matches(needle).count() < count {
            assert!(
                Instant::now() < deadline,
                "the host did not log {needle:?} {count} time(s) within {timeout:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asserts that `weft replay` of execution `id`'s current run, exported
    /// with `weft history --json`, replays cleanly on guest `component`.
    pub fn assert_replays(&self, id: &str, component: &str) {
        let exported = self.cli_ok(&["history", id, "--json"]);
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("history.json");
        std::fs::write(&file, &exported).expect("write the history");
        let module = guest(component).to_string_lossy().to_string();
        let out = self.cli(&[
            "replay",
            "--history",
            &file.to_string_lossy(),
            "--module",
            &module,
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("cleanly"),
            "{id}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs the `weft` CLI against this host; fails the test if it has not
    /// ended within [`CLI_LIMIT`].
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(weft_bin());
        cmd.args(args)
            .env("WEFT_SERVER", &self.url)
            .env("WEFT_COMPILE_CACHE", compile_cache());
        self.client_env(&mut cmd);
        output_within(&mut cmd, CLI_LIMIT)
    }

    /// What a client of this host is given (the CLI, a worker): its token,
    /// and over HTTPS the authority it trusts and the certificate it
    /// presents; each one this host has not is taken out of `cmd`'s
    /// environment.
    fn client_env(&self, cmd: &mut Command) {
        let given = [
            ("WEFT_TOKEN", &self.token),
            ("WEFT_CA_CERT", &self.ca_cert),
            ("WEFT_CLIENT_CERT", &self.client_cert[0]),
            ("WEFT_CLIENT_KEY", &self.client_cert[1]),
        ];
        for (var, value) in given {
            match value {
                Some(v) => cmd.env(var, v),
                None => cmd.env_remove(var),
            };
        }
    }

    /// A request with the given bearer token (or none), whatever the host's token.
    pub fn call_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{}", self.url, path);
        let mut req = match method {
            "GET" => self.http.get(url),
            "POST" => self.http.post(url),
            "PUT" => self.http.put(url),
            "DELETE" => self.http.delete(url),
            m => panic!("unsupported method {m}"),
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().expect("response body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Raw bytes as JSON, for the bad-input tests; returns the status, or
    /// None when the host closed the connection instead (an oversized body).
    pub fn send_raw(&self, method: &str, path: &str, body: Vec<u8>) -> Option<u16> {
        let url = format!("{}{}", self.url, path);
        // A fresh connection each time: a refused oversized body closes it.
        let http = reqwest::blocking::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        let req = match method {
            "GET" => http.get(url),
            "PUT" => http.put(url),
            _ => http.post(url),
        };
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        req.header("content-type", "application/json")
            .body(body)
            .send()
            .map(|r| r.status().as_u16())
            .ok()
    }

    /// Runs the CLI and returns its stdout, failing the test on a non-zero exit.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "weft {} failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Deploys every example through the CLI.
    pub fn deploy_examples(&self) {
        for e in EXAMPLES {
            self.cli_ok(&["deploy", &guest(e).to_string_lossy()]);
        }
    }

    /// Deploys every example and the `corners` test fixture (type `corners`).
    pub fn deploy_examples_and_corners(&self) {
        self.deploy_examples();
        self.cli_ok(&[
            "deploy",
            &guest("corners").to_string_lossy(),
            "--name",
            "corners",
        ]);
    }

    /// Starts the `corners` fixture as `id` with `input`.
    pub fn start_corners(&self, id: &str, input: Value) {
        self.start_as("corners", id, input);
    }

    /// Starts `workflow_type` as execution `id` (a new run if the id is
    /// closed) with `input`.
    pub fn start_as(&self, workflow_type: &str, id: &str, input: Value) {
        let (status, v) = self.call(
            "POST",
            "/v1/executions",
            Some(json!({"workflow_type": workflow_type, "id": id, "input": input})),
        );
        assert_eq!(status, 201, "start {id}: {v}");
    }

    /// The output of query `name` on execution `id`.
    pub fn query(&self, id: &str, name: &str) -> Value {
        let (code, v) = self.call(
            "POST",
            &format!("/v1/executions/{id}/queries"),
            Some(json!({"name": name})),
        );
        assert_eq!(code, 200, "query {name} of {id}: {v}");
        v["output"].clone()
    }

    /// A request to the API; returns the status and the JSON (or text) body.
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(self.token.as_deref(), method, path, body)
    }

    /// Sends raw bytes.
    pub fn post_bytes(&self, path: &str, bytes: Vec<u8>) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}{}", self.url, path))
            .header("content-type", "application/wasm")
            .bearer_auth(self.token.as_deref().unwrap_or_default())
            .body(bytes)
            .send()
            .expect("POST");
        let status = resp.status().as_u16();
        let text = resp.text().expect("response body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn get(&self, path: &str) -> Value {
        let (status, v) = self.call("GET", path, None);
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    /// Starts an execution over HTTP and returns its id.
    pub fn start_execution(&self, workflow_type: &str, input: Value) -> String {
        let (status, v) = self.call(
            "POST",
            "/v1/executions",
            Some(json!({"workflow_type": workflow_type, "input": input})),
        );
        assert_eq!(status, 201, "start {workflow_type}: {v}");
        v["id"].as_str().expect("id").to_string()
    }

    /// Starts an execution and waits for its result in the same request
    /// (`wait_ms`), then by `wait_result` if it had not settled by then.
    pub fn run_execution(&self, workflow_type: &str, input: Value) -> (String, Value) {
        let (status, v) = self.call(
            "POST",
            "/v1/executions",
            Some(json!({"workflow_type": workflow_type, "input": input, "wait_ms": 10_000})),
        );
        assert_eq!(status, 201, "start {workflow_type}: {v}");
        let id = v["id"].as_str().expect("id").to_string();
        let r = match v["result"]["status"].as_str() {
            Some("running") | None => self.wait_result(&id),
            Some(_) => v["result"].clone(),
        };
        (id, r)
    }

    /// Waits for the execution to leave `running` and returns its result.
    pub fn wait_result(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let r = self.get(&format!(
                "/v1/executions/{id}/result?wait=true&timeout_ms=10000"
            ));
            if r["status"] != "running" {
                return r;
            }
            if Instant::now() >= deadline {
                let d = self.describe(id);
                panic!(
                    "{id} still running: {r}\ndescribe: {d}\nhistory: {:?}\nlog tail:\n{}",
                    self.event_kinds(id),
                    self.log()
                        .lines()
                        .rev()
                        .take(30)
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
        }
    }

    /// The result without waiting.
    pub fn result_now(&self, id: &str) -> Value {
        self.get(&format!("/v1/executions/{id}/result"))
    }

    /// Every execution `GET /v1/executions?QUERY` lists, page after page.
    pub fn list_all(&self, query: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/executions?limit=1000&{query}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = self.get(&path);
            out.extend(page["executions"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return out,
            }
        }
    }

    /// The ids a list query finds, every page, sorted.
    pub fn query_ids(&self, query: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .list_all(&format!("query={}", enc(query)))
            .iter()
            .map(|e| e["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        ids.sort();
        ids
    }

    pub fn describe(&self, id: &str) -> Value {
        self.get(&format!("/v1/executions/{id}"))
    }

    /// The event kinds of the execution's history, in order.
    pub fn event_kinds(&self, id: &str) -> Vec<String> {
        self.get(&format!("/v1/executions/{id}/history"))["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["event"]["type"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Moves a `--manual-clock` host's time forward.
    pub fn advance(&self, ms: u64) {
        let (status, v) = self.call("POST", "/v1/clock/advance", Some(json!({"ms": ms})));
        assert_eq!(status, 200, "advance: {v}");
    }

    /// The holder of each partition of the host's store, as `/v1/cluster`
    /// says (`""` for one no host holds).
    pub fn partition_holders(&self) -> Vec<String> {
        self.get("/v1/cluster")["leases"]
            .as_array()
            .map(|l| {
                l.iter()
                    .map(|l| l["holder"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A sample of the host's `/metrics` by its name with labels, e.g.
    /// `weft_executions_closed_total{status="completed"}`.
    /// The value of metric `key` (`name` or `name{label="v",...}`): the sum
    /// of every series of that name whose labels include the ones given.
    pub fn metric(&self, key: &str) -> f64 {
        let (_, text) = self.call("GET", "/metrics", None);
        let text = text.as_str().unwrap_or_default().to_string();
        metric_value(&text, key).unwrap_or_else(|| panic!("no metric {key} in:\n{text}"))
    }

    /// Each `hello` execution of `ids` (inputs `{prefix}0`, `{prefix}1`,
    /// ...) completed with its output, its start, end and three activities
    /// recorded once each.
    pub fn assert_hellos_completed_once(&self, ids: &[String], prefix: &str) {
        for (i, id) in ids.iter().enumerate() {
            let r = self.wait_result(id);
            assert_eq!(r["status"], "completed", "{r}");
            assert_eq!(r["output"], format!("HELLO, {prefix}{i}!"), "{r}");
            let kinds = self.event_kinds(id);
            let count = |kind: &str| kinds.iter().filter(|k| *k == kind).count();
            assert_eq!(count("execution_started"), 1, "{kinds:?}");
            assert_eq!(count("execution_completed"), 1, "{kinds:?}");
            assert_eq!(count("activity_completed"), 3, "{kinds:?}");
        }
    }

    /// Sends signal `name` with `input` to execution `id` over the API.
    pub fn send_signal(&self, id: &str, name: &str, input: Value) -> (u16, Value) {
        self.call(
            "POST",
            &format!("/v1/executions/{id}/signals"),
            Some(json!({"name": name, "input": input})),
        )
    }

    /// Polls `f` until it returns true (for state the API reports but cannot wait on).
    pub fn eventually(&self, what: &str, mut f: impl FnMut(&Host) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !f(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; host log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A blocking HTTP client with the harness's timeout, for calls a test makes
/// from another thread while the host is paused.
/// `s` percent-encoded for a query string (everything but unreserved bytes).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A worker's long poll of the `greeters` task queue (hosts started with
/// `--route-activity greet=greeters`): its status and the task.
pub fn poll_greeters(host: &Host, wait_ms: u64) -> (u16, Value) {
    host.call(
        "POST",
        &format!("/v1/task-queues/greeters/poll?wait_ms={wait_ms}"),
        None,
    )
}

/// Answers a worker's task (what its poll returned) with `output` through
/// `host`, and asserts the answer was recorded (200).
pub fn complete_task(host: &Host, task: &Value, output: Value) {
    let token = task["token"].as_str().expect("a token");
    let (status, v) = host.call(
        "POST",
        &format!("/v1/tasks/{token}/complete"),
        Some(serde_json::json!({ "output": output })),
    );
    assert_eq!(status, 200, "{v}");
}

/// Answers a worker's task with `output` from another thread (the answer
/// returns only once the host recorded it); joins to its HTTP status.
pub fn complete_in_background(
    host_url: &str,
    token: &str,
    output: Value,
) -> std::thread::JoinHandle<reqwest::Result<u16>> {
    let url = format!("{host_url}/v1/tasks/{token}/complete");
    std::thread::spawn(move || {
        http()
            .post(url)
            .json(&serde_json::json!({ "output": output }))
            .send()
            .map(|r| r.status().as_u16())
    })
}

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("http client")
}

/// Runs a command that must succeed (a build, a package tool); what it
/// printed, stdout then stderr.
pub fn run_ok(cmd: &mut Command) -> String {
    watchdog::this_test();
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{said}");
    said
}

/// The repository root (for scripts such as the Python worker example).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// An external worker process (the Python example), killed when dropped.
pub struct Worker {
    child: Child,
    /// Killed with the hosts if its test hangs.
    watch: watchdog::Watch,
}

impl Worker {
    /// Starts `examples/python-worker/worker.py` on `queue` against `host`.
    pub fn python(host: &Host, queue: &str, once: bool) -> Worker {
        let mut cmd = Command::new("python3");
        cmd.arg(repo().join("examples/python-worker/worker.py"))
            .args(["--server", &host.url, "--queue", queue]);
        // It sends, trusts and presents what the host's CLI does.
        host.client_env(&mut cmd);
        if once {
            cmd.arg("--once");
        }
        let child = cmd
            .stdout(Stdio::null())
            .spawn()
            .expect("start python3 (needed for the worker tests)");
        let watch = watchdog::watch(None);
        watch.set_pid(Some(child.id()));
        Worker { child, watch }
    }

    /// Waits for the worker to exit and returns its exit code.
    pub fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let status = exited_within(&mut self.child, timeout).expect("the worker did not exit");
        self.watch.set_pid(None);
        status.code()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill();
        if let (true, Some(url), Some(base)) = (self.owns_database, &self.store, postgres_base()) {
            drop_database(&base, url);
        }
    }
}

/// Drops the database at `url` (on the suite's cluster at `base`), whatever
/// connections it still has; a failure is left for the cluster's removal.
fn drop_database(base: &str, url: &str) {
    let Some(name) = url.rsplit('/').next().filter(|n| !n.is_empty()) else {
        return;
    };
    let _ = psql_command()
        .arg(format!("{base}/postgres"))
        .args(["-q", "-c"])
        .arg(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// In the Prometheus text `text`, the sum of the series of metric `key`
/// (`name` or `name{label="v",...}`) whose labels include the ones given;
/// none if no series matched.
pub fn metric_value(text: &str, key: &str) -> Option<f64> {
    let (name, wanted) = split_series(key);
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (n, labels) = split_series(series);
        if n == name && wanted.iter().all(|w| labels.contains(w)) {
            if let Ok(v) = value.trim().parse::<f64>() {
                *found.get_or_insert(0.0) += v;
            }
        }
    }
    found
}

/// `name{a="1",b="2"}` as its name and its label pairs.
fn split_series(series: &str) -> (&str, Vec<&str>) {
    match series.split_once('{') {
        Some((name, rest)) => (
            name,
            rest.trim_end_matches('}')
                .split(',')
                .filter(|l| !l.is_empty())
                .collect(),
        ),
        None => (series, Vec::new()),
    }
}
