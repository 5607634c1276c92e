//! Reliability and access: API tokens, one host per data directory, hostile
//! guests the other tests do not cover, and no 5xx for garbage at any door.

use std::process::Command;
use std::time::Duration;

use weft_e2e::serde_json::{json, Value};
use weft_e2e::{guest, output_within, weft_bin, Host, REFUSAL_LIMIT};

#[test]
fn api_tokens_guard_every_route_but_health() {
    let host = Host::with_args(&[
        "--manual-clock",
        "--token",
        "main-secret",
        "--deploy-token",
        "deploy-secret",
        "--control-token",
        "control-secret",
    ]);
    assert_eq!(host.call_as(None, "GET", "/healthz", None).0, 200);
    let (code, v) = host.call_as(None, "GET", "/v1/executions", None);
    assert_eq!(code, 401, "{v}");
    assert_eq!(v["error"]["code"], "unauthorized");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("Bearer"),
        "{v}"
    );
    assert_eq!(
        host.call_as(Some("nope"), "GET", "/v1/executions", None).0,
        401
    );
    assert_eq!(
        host.call_as(Some("main-secret"), "GET", "/v1/executions", None)
            .0,
        200
    );

    // The deploy token uploads modules but cannot start executions; the
    // control token the reverse.
    let wasm = std::fs::read(guest("misbehave")).unwrap();
    let upload = |token: &str| {
        reqwest::blocking::Client::new()
            .post(format!("{}/v1/modules?name=misbehave", host.url))
            .bearer_auth(token)
            .body(wasm.clone())
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    // A token the host knows that does not open the route: 403, saying so.
    assert_eq!(upload("control-secret"), 403);
    assert_eq!(
        host.get("/v1/modules")["modules"],
        json!([]),
        "a refusal changes nothing"
    );
    assert_eq!(upload("deploy-secret"), 201);
    let start = json!({"workflow_type": "misbehave", "input": {"mode": "ok"}});
    let (code, _) = host.call_as(
        Some("deploy-secret"),
        "POST",
        "/v1/executions",
        Some(start.clone()),
    );
    assert_eq!(code, 403);
    let (code, v) = host.call_as(
        Some("control-secret"),
        "POST",
        "/v1/executions",
        Some(start),
    );
    assert_eq!(code, 201, "{v}");
    // The CLI passes WEFT_TOKEN.
    let out = host.cli_ok(&["list"]);
    assert!(out.contains("misbehave"), "{out}");

    // Beyond loopback, a host will not start without a token.
    let data = tempfile::tempdir().unwrap();
    let out = output_within(
        Command::new(weft_bin())
            .args(["server", "--listen", "0.0.0.0:0", "--data"])
            .arg(data.path())
            .env_remove("WEFT_TOKEN"),
        REFUSAL_LIMIT,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("needs an API token"), "{stderr}");
}

#[test]
fn a_second_host_on_the_same_data_directory_is_refused() {
    let host = Host::start();
    if host.store().is_some() {
        // On PostgreSQL a second host on the same database stands by and
        // takes over when the first goes: cluster::*.
        return;
    }
    let out = output_within(
        Command::new(weft_bin())
            .args(["server", "--listen", "127.0.0.1:0", "--data"])
            .arg(host.data_dir()),
        REFUSAL_LIMIT,
    );
    assert!(!out.status.success(), "a second host started");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("in use by another"), "{stderr}");
    // The first one is unharmed.
    assert_eq!(host.get("/v1/executions")["executions"], json!([]));
}

#[test]
fn deep_recursion_stalls_alone_and_an_output_flood_is_capped() {
    // The flood prints 200,000 lines in one task: on a debug host sharing
    // two loaded cores that once outlasted the 5 s CPU deadline (the run
    // stalled instead of finishing). The deadline is not what this test is
    // about (sandbox::traps_loops_and_memory_bombs_stall_only_themselves is).
    let host = Host::with_args(&["--manual-clock", "--cpu-deadline-ms", "60000"]);
    host.deploy_examples();
    let recurse = host.start_execution("misbehave", json!({"mode": "recurse"}));
    let flood = host.start_execution("misbehave", json!({"mode": "flood"}));
    let r = host.wait_result(&recurse);
    assert_eq!(r["status"], "stalled", "{r}");
    // Rust's stack lives in linear memory: overflowing it shows as an
    // out-of-bounds access, which the reason spells out.
    let reason = r["stall_reason"].as_str().unwrap();
    assert!(reason.contains("stack"), "{reason}");
    let misuse = host.start_execution("misbehave", json!({"mode": "misuse"}));
    let r = host.wait_result(&misuse);
    assert_eq!(r["status"], "stalled", "{r}");
    let reason = r["stall_reason"].as_str().unwrap();
    assert!(
        reason.contains("handle 99, which this run never issued"),
        "{reason}"
    );
    let r = host.wait_result(&flood);
    assert_eq!(r["output"], "flooded", "{r}");
    let log = host.log();
    assert!(log.contains("dropped"), "the flood was capped");
    assert!(
        log.len() < 4 << 20,
        "the host log stayed small: {} bytes",
        log.len()
    );
}

#[test]
fn payloads_over_the_limit_are_refused_or_fail_with_the_reason() {
    let host = Host::with_args(&["--manual-clock", "--max-payload-kb", "4"]);
    host.deploy_examples();
    let big = "x".repeat(5 * 1024);
    let (code, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "misbehave", "input": {"mode": big}})),
    );
    assert_eq!(code, 413, "{v}");
    assert_eq!(v["error"]["code"], "payload-too-large");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--max-payload-kb"),
        "{v}"
    );
    let id = host.start_execution("misbehave", json!({"mode": "sleep"}));
    host.eventually("the timer", |h| h.event_kinds(&id).len() == 2);
    let (code, v) = host.call(
        "POST",
        &format!("/v1/executions/{id}/signals"),
        Some(json!({"name": "x", "input": big})),
    );
    assert_eq!(code, 413, "{v}");
    assert_eq!(host.event_kinds(&id).len(), 2, "nothing was recorded");
    // A workflow whose output is over the limit fails, saying so.
    let out = host.start_execution("misbehave", json!({"mode": "big", "fail_times": 8}));
    let r = host.wait_result(&out);
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["failure"]["kind"], "payload-too-large", "{r}");
    let fine = host.start_execution("misbehave", json!({"mode": "big", "fail_times": 1}));
    assert_eq!(host.wait_result(&fine)["status"], "completed");
}

/// A small deterministic generator, so a failure can be reproduced.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

#[test]
fn garbage_at_every_route_of_the_openapi_document_gets_no_5xx() {
    let host = Host::start();
    host.deploy_examples();
    let id = host.start_execution("misbehave", json!({"mode": "sleep"}));
    let doc = host.get("/v1/openapi.json");
    let paths = doc["paths"].as_object().unwrap().clone();
    let params = [
        "x",
        &id,
        "wf_%00",
        "../../etc",
        "9999999999999999999999",
        "",
        "%ZZ",
    ];
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{\"name\": 5, \"input\": {\"a\": [1, 2]}}".to_vec(),
        b"{\"workflow_type\": \"misbehave\", \"id\": \"\\u0000\"}".to_vec(),
        b"{\"to\": -1, \"ms\": 1e400, \"version\": {}}".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x01],
        format!("{{\"input\": \"{}\"}}", "x".repeat(5 << 20)).into_bytes(),
    ];
    let mut rng = Lcg(7);
    let mut tried = 0;
    for (path, ops) in &paths {
        for method in ops.as_object().unwrap().keys() {
            let bodies: &[Vec<u8>] = if method == "get" {
                &bodies[..1]
            } else {
                &bodies
            };
            for body in bodies {
                let mut concrete = path.clone();
                while let Some(start) = concrete.find('{') {
                    let end = concrete[start..].find('}').unwrap() + start;
                    concrete.replace_range(start..=end, rng.pick(&params));
                }
                if concrete.ends_with("/poll") {
                    concrete.push_str("?wait_ms=10");
                }
                let code = host.send_raw(&method.to_uppercase(), &concrete, body.clone());
                match code {
                    Some(code) => assert!(code < 500, "{method} {concrete} answered {code}"),
                    // Closing on an oversized body is a fine refusal; nothing else is.
                    None => assert!(body.len() > 1 << 20, "{method} {concrete}: no answer"),
                }
                tried += 1;
            }
        }
    }
    assert!(tried > 100, "only {tried} requests");
    eprintln!("{tried} garbage requests, no 5xx");
    // The execution the garbage hit (a bare cancel is a valid request) is
    // still whole.
    let v: Value = host.get(&format!("/v1/executions/{id}"));
    assert_eq!(v["workflow_type"], "misbehave");
    assert_eq!(host.event_kinds(&id)[0], "execution_started");
}

/// A stop signal (SIGTERM) that comes while the host is still starting is
/// not lost: once started, the host stops (it kept running for good).
#[test]
fn a_stop_signal_during_the_start_is_not_lost() {
    let mut host = Host::paused_at(&[], &["host-ready"]);
    host.wait_for_log("paused at host-ready", 1, Duration::from_secs(60));
    host.signal("TERM");
    host.wait_for_log("shutting down", 1, Duration::from_secs(10));
    host.release("host-ready");
    assert_eq!(
        host.wait_exit(Duration::from_secs(20)),
        Some(0),
        "{}",
        host.log()
    );
    // Its last line says it stopped (an operator reading the log knew it
    // only from the exit code).
    assert!(host.log().contains("weft host stopped"), "{}", host.log());
}
