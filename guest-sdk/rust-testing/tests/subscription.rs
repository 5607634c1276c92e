//! The Rust subscription actor (`examples/subscription`) under the test
//! environment: a signal, a month skipped in milliseconds, a query, mocked
//! activities, a rejected update and the replay check.
//!
//! `cargo test -p weft-testing` with `weft` on PATH (or `WEFT_BIN`); the
//! component is `WEFT_GUESTS/subscription.wasm` when `cargo xtask guests`
//! built it, else it is built here (`build_component`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use weft_testing::{json, replay, MockFailure, TestEnv, TestError, Value};

const DAY: Duration = Duration::from_secs(86_400);

fn component() -> PathBuf {
    match std::env::var_os("WEFT_GUESTS") {
        Some(dir) => Path::new(&dir).join("subscription.wasm"),
        None => {
            let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/subscription");
            weft_testing::build_component(&example).expect("build the subscription component")
        }
    }
}

/// A mock of `charge` that records the amounts it was asked for.
fn charge_into(
    log: Arc<Mutex<Vec<u64>>>,
) -> impl Fn(&weft_testing::MockCtx, Value) -> Result<Value, MockFailure> + Send + Sync {
    move |_ctx, req| {
        let amount = req["amount_cents"].as_u64().unwrap_or_default();
        log.lock().unwrap().push(amount);
        Ok(json!({
            "id": format!("inv-{amount}"),
            "customer": req["customer"],
            "plan": req["plan"],
            "amount_cents": amount,
            "reason": req["reason"],
        }))
    }
}

fn env(charged: &Arc<Mutex<Vec<u64>>>) -> TestEnv {
    TestEnv::builder()
        .module(component())
        .mock("charge", charge_into(charged.clone()))
        .start()
        .expect("start a test host")
}

#[test]
fn a_month_is_billed_at_the_plan_the_signal_chose() {
    let charged = Arc::new(Mutex::new(Vec::new()));
    let env = env(&charged);
    let id = env
        .start("subscription", json!({"customer": "ada", "plan": "basic"}))
        .unwrap();
    env.signal(&id, "change-plan", json!("pro")).unwrap();
    env.skip(30 * DAY).unwrap();
    let status = env.query(&id, "status", Value::Null).unwrap();
    assert_eq!(status["plan"], "pro", "{status}");
    assert_eq!(status["months_billed"], 1, "{status}");
    assert_eq!(*charged.lock().unwrap(), vec![3_000]);

    // A year more, in milliseconds of real time.
    env.skip(360 * DAY).unwrap();
    assert_eq!(
        env.query(&id, "status", Value::Null).unwrap()["months_billed"],
        13
    );

    let refused = env.update(&id, "cancel", json!({"reason": ""}));
    assert!(
        matches!(&refused, Err(TestError::UpdateRejected(m)) if m.contains("ReasonRequired")),
        "{refused:?}"
    );
    let last = env
        .update(&id, "cancel", json!({"reason": "moving"}))
        .unwrap();
    assert!(last["reason"]
        .as_str()
        .unwrap()
        .starts_with("cancellation after"));
    let out = env.result(&id).unwrap();
    assert_eq!(out["active"], false, "{out}");

    // The history replays against the component, as a CI check would.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ada.json");
    std::fs::write(&file, env.history(&id).unwrap().to_string()).unwrap();
    let said = replay(&component(), dir.path()).unwrap();
    assert!(said.contains("1 clean"), "{said}");
}

#[test]
fn a_declined_card_is_retried_after_its_backoff() {
    let charged = Arc::new(Mutex::new(Vec::new()));
    let env = env(&charged);
    let log = charged.clone();
    env.set_mock("charge", move |ctx, req| {
        if ctx.attempt < 3 {
            return Err(MockFailure::retryable("card-declined", "try again later"));
        }
        log.lock().unwrap().push(ctx.attempt as u64);
        Ok(
            json!({"id": "inv", "customer": req["customer"], "plan": req["plan"],
            "amount_cents": req["amount_cents"], "reason": req["reason"]}),
        )
    })
    .unwrap();
    let id = env
        .start("subscription", json!({"customer": "bo", "plan": "basic"}))
        .unwrap();
    env.skip(30 * DAY).unwrap();
    assert_eq!(
        env.query(&id, "status", Value::Null).unwrap()["months_billed"],
        0
    );
    env.skip(Duration::from_secs(60)).unwrap();
    assert_eq!(
        env.query(&id, "status", Value::Null).unwrap()["months_billed"],
        1
    );
    assert_eq!(
        *charged.lock().unwrap(),
        vec![3],
        "the third attempt succeeded"
    );
}

#[test]
fn a_terminated_subscription_bills_no_more() {
    let charged = Arc::new(Mutex::new(Vec::new()));
    let env = env(&charged);
    let id = env
        .start("subscription", json!({"customer": "cy", "plan": "basic"}))
        .unwrap();
    env.skip(30 * DAY).unwrap();
    env.terminate(&id, Some("fraud")).unwrap();
    let ended = env.result(&id);
    assert!(
        matches!(&ended, Err(TestError::Failed { status, .. }) if status == "terminated"),
        "{ended:?}"
    );
    env.skip(60 * DAY).unwrap();
    assert_eq!(charged.lock().unwrap().len(), 1);
}
