//! Activity mocks: closures served on a private task queue that the host
//! routes the mocked names to.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

use crate::http::{answer, enc};
use crate::MOCK_QUEUE;

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

pub(crate) type Mock = Arc<dyn Fn(&MockCtx, Value) -> Result<Value, MockFailure> + Send + Sync>;

/// The mocks by activity name, shared with the serving thread.
pub(crate) type Mocks = Arc<Mutex<HashMap<String, Mock>>>;

/// Serves the mocks on [`MOCK_QUEUE`] from a thread until `stopping`.
pub(crate) fn serve(
    url: String,
    http: reqwest::blocking::Client,
    mocks: Mocks,
    stopping: Arc<AtomicBool>,
) -> JoinHandle<()> {
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
