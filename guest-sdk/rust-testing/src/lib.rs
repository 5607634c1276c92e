//! A test environment for weft workflows, for `cargo test`.
//!
//! Each [`TestEnv`] starts its own `weft` host (`WEFT_BIN`, else `weft` on
//! PATH) on a temporary directory with the manual clock, deploys the
//! components under test, serves activities with mocks written as Rust
//! closures, and skips time: a month of workflow time takes milliseconds.
//! Tests running in parallel each have their own host and their own clock.
//!
//! ```no_run
//! use std::time::Duration;
//! use weft_testing::{json, MockFailure, TestEnv};
//!
//! let env = TestEnv::builder()
//!     .module_as("target/guests/subscription.wasm", "subscription")
//!     .mock("charge", |_ctx, req| Ok(json!({"id": "inv-1", "amount_cents": req["amount_cents"]})))
//!     .start()
//!     .unwrap();
//! let id = env.start("subscription", json!({"customer": "ada", "plan": "basic"})).unwrap();
//! env.signal(&id, "change-plan", json!("pro")).unwrap();
//! env.skip(Duration::from_secs(30 * 86_400)).unwrap(); // a month
//! assert_eq!(env.query(&id, "status", json!(null)).unwrap()["plan"], "pro");
//! # let _ = MockFailure::retryable("k", "m");
//! ```
//!
//! - Mocks run on a private task queue that the host routes their activity
//!   names to (`weft server --route-activity NAME=QUEUE`): the component
//!   under test is the one you ship, unchanged.
//! - [`TestEnv::skip`] moves time timer by timer and returns once the host
//!   is idle; [`TestEnv::result`] skips to each next timer while the host is
//!   idle. Time never skips while an activity attempt (a mock included) or a
//!   workflow task runs.
//! - [`replay`] checks a history (or a directory of them) against a
//!   component, as `weft replay` does, and fails with each divergence.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use serde_json::{json, Value};

/// The `weft:workflow` contract this environment speaks.
pub const CONTRACT: &str = "0.1.2";

/// The task queue the mocks poll.
pub const MOCK_QUEUE: &str = "weft-test-mocks";

/// What went wrong in a test environment.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("{0}")]
    Setup(String),
    #[error("the host answered {status}: {message}")]
    Api { status: u16, message: String },
    #[error("the update was rejected: {0}")]
    UpdateRejected(String),
    #[error("execution {id} ended {status}: {reason}")]
    Failed {
        id: String,
        status: String,
        reason: String,
        /// The failure as the host reports it (`kind`, `message`, ...).
        failure: Value,
    },
    #[error("{0}")]
    Timeout(String),
    #[error("cannot reach the host: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = TestError> = std::result::Result<T, E>;

/// What a mock knows about its attempt.
#[derive(Debug, Clone)]
pub struct MockCtx {
    pub name: String,
    pub execution_id: String,
    pub attempt: u32,
    pub idempotency_key: String,
}

/// A mock's failure: retried under the workflow's policy unless
/// non-retryable.
#[derive(Debug, Clone)]
pub struct MockFailure {
    pub kind: String,
    pub message: String,
    pub non_retryable: bool,
}

impl MockFailure {
    pub fn retryable(kind: &str, message: &str) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
            non_retryable: false,
        }
    }

    pub fn non_retryable(kind: &str, message: &str) -> Self {
        Self {
            non_retryable: true,
            ..Self::retryable(kind, message)
        }
    }
}

type Mock = Arc<dyn Fn(&MockCtx, Value) -> Result<Value, MockFailure> + Send + Sync>;

/// Sets a [`TestEnv`] up.
#[derive(Default)]
pub struct Builder {
    modules: Vec<(PathBuf, Option<String>)>,
    mocks: HashMap<String, Mock>,
    args: Vec<String>,
    weft_bin: Option<PathBuf>,
    timeout: Option<Duration>,
}

impl Builder {
    /// A component to deploy; a workflow's type is the file name without
    /// `.wasm`.
    pub fn module(mut self, path: impl Into<PathBuf>) -> Self {
        self.modules.push((path.into(), None));
        self
    }

    /// A workflow component deployed under `workflow_type`.
    pub fn module_as(mut self, path: impl Into<PathBuf>, workflow_type: &str) -> Self {
        self.modules.push((path.into(), Some(workflow_type.into())));
        self
    }

    /// Serves activity `name` with `f` instead of a component.
    pub fn mock(
        mut self,
        name: &str,
        f: impl Fn(&MockCtx, Value) -> Result<Value, MockFailure> + Send + Sync + 'static,
    ) -> Self {
        self.mocks.insert(name.into(), Arc::new(f));
        self
    }

    /// More `weft server` flags.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.into());
        self
    }

    /// The `weft` binary (default: `WEFT_BIN`, else `weft` on PATH).
    pub fn weft_bin(mut self, path: impl Into<PathBuf>) -> Self {
        self.weft_bin = Some(path.into());
        self
    }

    /// How long `result`, `skip` and the start wait in real time (default
    /// 60 s).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Starts the host, deploys the modules, starts serving the mocks.
    pub fn start(self) -> Result<TestEnv> {
        let binary = self.weft_bin.unwrap_or_else(weft_bin);
        check_contract(&binary)?;
        let dir = tempfile::Builder::new().prefix("weft-test-").tempdir()?;
        let cache = std::env::var_os("WEFT_COMPILE_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("weft-test-compile-cache"));
        let mut command = Command::new(&binary);
        command
            .arg("server")
            .arg("--data")
            .arg(dir.path().join("data"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--manual-clock",
                "--compile-cache",
            ])
            .arg(&cache)
            .args(&self.args);
        for name in self.mocks.keys() {
            command
                .arg("--route-activity")
                .arg(format!("{name}={MOCK_QUEUE}"));
        }
        let log = dir.path().join("host.log");
        let mut host = command
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .map_err(|e| TestError::Setup(format!("cannot run {}: {e}", binary.display())))?;
        let mut line = String::new();
        let stdout = host.stdout.take().expect("piped");
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(url) = line.trim().strip_prefix("listening on ").map(str::to_owned) else {
            let _ = host.kill();
            let _ = host.wait();
            return Err(TestError::Setup(format!(
                "the weft host did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default().trim()
            )));
        };
        let http = reqwest::blocking::Client::builder()
            .timeout(self.timeout.unwrap_or(Duration::from_secs(60)) + Duration::from_secs(600))
            .build()?;
        let mut env = TestEnv {
            url,
            http,
            host,
            _dir: dir,
            log,
            timeout: self.timeout.unwrap_or(Duration::from_secs(60)),
            mocks: Arc::new(Mutex::new(self.mocks)),
            stopping: Arc::new(AtomicBool::new(false)),
            worker: None,
        };
        for (path, name) in &self.modules {
            env.deploy(path, name.as_deref())?;
        }
        if !env.mocks.lock().expect("mocks").is_empty() {
            env.worker = Some(env.serve_mocks());
        }
        Ok(env)
    }
}

/// A private weft host with a manual clock; stopped when dropped.
pub struct TestEnv {
    url: String,
    http: reqwest::blocking::Client,
    host: Child,
    /// The host's directory, removed after `drop` stopped the host.
    _dir: tempfile::TempDir,
    log: PathBuf,
    timeout: Duration,
    mocks: Arc<Mutex<HashMap<String, Mock>>>,
    stopping: Arc<AtomicBool>,
    worker: Option<JoinHandle<()>>,
}

impl TestEnv {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The host's address (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What the host wrote to stderr so far.
    pub fn host_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}{path}", self.url);
        let req = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url),
        };
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        answer(req.send()?)
    }

    /// Deploys a component (a workflow under `workflow_type`, default its
    /// file name).
    pub fn deploy(&self, path: &Path, workflow_type: Option<&str>) -> Result<Value> {
        let bytes = std::fs::read(path).map_err(|e| {
            TestError::Setup(format!(
                "cannot read the component {}: {e} (build it first: `weft build`, or \
                 weft_testing::build_component)",
                path.display()
            ))
        })?;
        let name = workflow_type.map(str::to_owned).unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let resp = self
            .http
            .post(format!("{}/v1/modules", self.url))
            .query(&[("name", name)])
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()?;
        answer(resp)
    }

    /// Starts an execution; its id.
    pub fn start(&self, workflow_type: &str, input: Value) -> Result<String> {
        self.start_with_id(workflow_type, None, input)
    }

    /// Starts an execution under a chosen id.
    pub fn start_with_id(
        &self,
        workflow_type: &str,
        id: Option<&str>,
        input: Value,
    ) -> Result<String> {
        let mut body = json!({"workflow_type": workflow_type, "input": input});
        if let Some(id) = id {
            body["id"] = json!(id);
        }
        let v = self.call("POST", "/v1/executions", Some(body))?;
        Ok(v["id"].as_str().unwrap_or_default().to_owned())
    }

    pub fn signal(&self, id: &str, name: &str, input: Value) -> Result<()> {
        let path = format!("/v1/executions/{}/signals", enc(id));
        self.call("POST", &path, Some(json!({"name": name, "input": input})))
            .map(|_| ())
    }

    pub fn query(&self, id: &str, name: &str, input: Value) -> Result<Value> {
        let path = format!("/v1/executions/{}/queries", enc(id));
        let v = self.call("POST", &path, Some(json!({"name": name, "input": input})))?;
        Ok(v["output"].clone())
    }

    /// Runs an update to its end; [`TestError::UpdateRejected`] when its
    /// validator rejected it, [`TestError::Failed`] when its handler failed.
    pub fn update(&self, id: &str, name: &str, input: Value) -> Result<Value> {
        let path = format!("/v1/executions/{}/updates", enc(id));
        let v = match self.call("POST", &path, Some(json!({"name": name, "input": input}))) {
            Err(TestError::Api {
                status: 422,
                message,
            }) => return Err(TestError::UpdateRejected(message)),
            other => other?,
        };
        if !v["failure"].is_null() {
            return Err(TestError::Failed {
                id: id.into(),
                status: v["status"].as_str().unwrap_or_default().into(),
                reason: v["failure"]["message"].as_str().unwrap_or_default().into(),
                failure: v["failure"].clone(),
            });
        }
        Ok(v["output"].clone())
    }

    /// Asks the execution to cancel (its code sees the cancellation at its
    /// next wait).
    pub fn cancel(&self, id: &str, reason: Option<&str>) -> Result<()> {
        let path = format!("/v1/executions/{}/cancel", enc(id));
        self.call("POST", &path, Some(json!({"reason": reason})))
            .map(|_| ())
    }

    /// Ends the execution at once; its code runs no more.
    pub fn terminate(&self, id: &str, reason: Option<&str>) -> Result<()> {
        let path = format!("/v1/executions/{}/terminate", enc(id));
        self.call("POST", &path, Some(json!({"reason": reason})))
            .map(|_| ())
    }

    pub fn describe(&self, id: &str) -> Result<Value> {
        self.call("GET", &format!("/v1/executions/{}", enc(id)), None)
    }

    /// The history as `weft history ID --json` exports it: save it as a
    /// fixture for [`replay`].
    pub fn history(&self, id: &str) -> Result<Value> {
        self.call("GET", &format!("/v1/executions/{}/history", enc(id)), None)
    }

    /// The host's clock, ms since the Unix epoch.
    pub fn now_ms(&self) -> Result<u64> {
        Ok(self.call("GET", "/v1/clock", None)?["now_ms"]
            .as_u64()
            .unwrap_or_default())
    }

    /// Moves time forward by `by`, timer by timer (what each timer starts
    /// runs before time moves on); returns once the host is idle there.
    pub fn skip(&self, by: Duration) -> Result<u64> {
        let target = self.now_ms()? + by.as_millis() as u64;
        let deadline = Instant::now() + self.timeout;
        loop {
            let done = self.call(
                "POST",
                "/v1/clock/skip",
                Some(json!({"limit_ms": target, "wait_ms": 2000})),
            )?;
            match done["held"].as_str() {
                Some("limit") => return Ok(done["now_ms"].as_u64().unwrap_or(target)),
                Some("nothing-waits") => {
                    let now = done["now_ms"].as_u64().unwrap_or(target);
                    self.call(
                        "POST",
                        "/v1/clock/advance",
                        Some(json!({"ms": target.saturating_sub(now)})),
                    )?;
                }
                Some("busy") if Instant::now() > deadline => {
                    return Err(TestError::Timeout(format!(
                        "could not skip time for {:?}: {}",
                        self.timeout, done["reason"]
                    )))
                }
                _ => {}
            }
        }
    }

    /// Waits for the execution to end, skipping to each next timer while
    /// the host is idle; its output, or [`TestError::Failed`].
    pub fn result(&self, id: &str) -> Result<Value> {
        let deadline = Instant::now() + self.timeout;
        let path = format!("/v1/executions/{}/result?wait=true&timeout_ms=50", enc(id));
        loop {
            let v = self.call("GET", &path, None)?;
            match v["status"].as_str() {
                Some("completed") => return Ok(v["output"].clone()),
                Some("running") => {}
                other => {
                    let reason = v["stall_reason"]
                        .as_str()
                        .or(v["failure"]["message"].as_str())
                        .unwrap_or_default();
                    return Err(TestError::Failed {
                        id: id.into(),
                        status: other.unwrap_or_default().into(),
                        reason: reason.into(),
                        failure: v["failure"].clone(),
                    });
                }
            }
            let unserved: Vec<String> = self.describe(id)?["pending_activities"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["unserved"] == true)
                .filter_map(|a| a["name"].as_str().map(str::to_owned))
                .collect();
            if !unserved.is_empty() {
                return Err(TestError::Setup(format!(
                    "execution {id} waits for activity {}, which no deployed component and no \
                     mock serves: give the builder a mock or deploy the activity component",
                    unserved.join(", ")
                )));
            }
            if Instant::now() > deadline {
                return Err(TestError::Timeout(format!(
                    "execution {id} still runs after {:?}: {}",
                    self.timeout,
                    self.describe(id).unwrap_or_default()
                )));
            }
            self.call("POST", "/v1/clock/skip", Some(json!({"wait_ms": 100})))?;
        }
    }

    /// Replaces the mock of `name` (one given to the builder: the host
    /// routes mocked names at its start).
    pub fn set_mock(
        &self,
        name: &str,
        f: impl Fn(&MockCtx, Value) -> Result<Value, MockFailure> + Send + Sync + 'static,
    ) -> Result<()> {
        let mut mocks = self.mocks.lock().expect("mocks");
        match mocks.get_mut(name) {
            Some(m) => {
                *m = Arc::new(f);
                Ok(())
            }
            None => Err(TestError::Setup(format!(
                "{name:?} was not mocked when the environment started: give it to the builder"
            ))),
        }
    }

    fn serve_mocks(&self) -> JoinHandle<()> {
        let (url, http) = (self.url.clone(), self.http.clone());
        let (mocks, stopping) = (self.mocks.clone(), self.stopping.clone());
        std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                let poll = format!("{url}/v1/task-queues/{MOCK_QUEUE}/poll?wait_ms=300");
                let task = match http.post(poll).json(&json!({})).send().map(answer) {
                    Ok(Ok(t)) if !t.is_null() => t,
                    Ok(_) => continue,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                };
                let ctx = MockCtx {
                    name: task["name"].as_str().unwrap_or_default().into(),
                    execution_id: task["execution_id"].as_str().unwrap_or_default().into(),
                    attempt: task["attempt"].as_u64().unwrap_or(1) as u32,
                    idempotency_key: task["idempotency_key"].as_str().unwrap_or_default().into(),
                };
                let mock = mocks.lock().expect("mocks").get(&ctx.name).cloned();
                let outcome = match mock {
                    Some(f) => f(&ctx, task["input"].clone()),
                    None => Err(MockFailure::non_retryable(
                        "activity-not-found",
                        &format!("no mock for {}", ctx.name),
                    )),
                };
                let token = enc(task["token"].as_str().unwrap_or_default());
                let (path, body) = match outcome {
                    Ok(output) => ("complete", json!({"output": output})),
                    Err(f) => (
                        "fail",
                        json!({"failure": {"kind": f.kind, "message": f.message,
                            "details": null, "non_retryable": f.non_retryable}}),
                    ),
                };
                let _ = http
                    .post(format!("{url}/v1/tasks/{token}/{path}"))
                    .json(&body)
                    .send();
            }
        })
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // SIGTERM is a graceful stop; the process has its own directory.
        #[cfg(unix)]
        {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.host.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.host.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.host.kill();
        let _ = self.host.wait();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

fn answer(resp: reqwest::blocking::Response) -> Result<Value> {
    let status = resp.status().as_u16();
    let text = resp.text()?;
    if !(200..300).contains(&status) {
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or(text);
        return Err(TestError::Api { status, message });
    }
    if text.is_empty() {
        return Ok(Value::Null);
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `WEFT_BIN`, else `weft` on PATH.
pub fn weft_bin() -> PathBuf {
    std::env::var_os("WEFT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("weft"))
}

fn check_contract(binary: &Path) -> Result<()> {
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
