//! The environment: a private host with a manual clock, its API as
//! blocking calls, and time skipping.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::http::{answer, enc};
use crate::mock::{self, Mock, MockCtx, MockFailure, Mocks};
use crate::tools::{check_contract, weft_bin};
use crate::{Result, TestError, MOCK_QUEUE};

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
            env.worker = Some(mock::serve(
                env.url.clone(),
                env.http.clone(),
                env.mocks.clone(),
                env.stopping.clone(),
            ));
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
    mocks: Mocks,
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
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // The host has a directory of its own, removed with `_dir`: nothing
        // to stop gracefully.
        let _ = self.host.kill();
        let _ = self.host.wait();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}
