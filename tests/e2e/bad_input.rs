//! Bad input at the doors gets a clear 4xx and changes nothing.

use weft_e2e::serde_json::json;
use weft_e2e::{guest, Host};

#[test]
fn malformed_modules_are_refused_with_the_reason() {
    let host = Host::start();
    let (status, v) = host.post_bytes("/v1/modules?name=junk", b"hello, not wasm".to_vec());
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "invalid-module");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a WebAssembly"),
        "{v}"
    );

    // A core module, not a component.
    let (status, v) = host.post_bytes("/v1/modules?name=core", b"\0asm\x01\0\0\0".to_vec());
    assert_eq!(status, 422, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("component"),
        "{v}"
    );

    // A truncated component.
    let mut bytes = std::fs::read(guest("hello")).unwrap();
    bytes.truncate(bytes.len() / 2);
    let (status, v) = host.post_bytes("/v1/modules?name=half", bytes);
    assert_eq!(status, 422, "{v}");

    // A valid component of another world: a plain WASI command.
    let bytes = std::fs::read(guest("cli-command")).unwrap();
    let (status, v) = host.post_bytes("/v1/modules?name=command", bytes);
    assert_eq!(status, 422, "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("neither weft world"), "{v}");
    assert!(
        message.contains("wasi:cli/run"),
        "the exports are listed: {v}"
    );

    // A workflow that needs an import the host does not provide, through the CLI.
    let out = host.cli(&["deploy", &guest("extra-import").to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fixture:extra/weather"),
        "the import is named: {stderr}"
    );

    // The CLI names the file it cannot read.
    let out = host.cli(&["deploy", "/nonexistent/thing.wasm"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/thing.wasm"));

    assert_eq!(host.get("/v1/modules")["modules"], json!([]));
    assert_eq!(host.get("/v1/workflow-types")["workflow_types"], json!([]));
}

#[test]
fn bad_requests_are_rejected_and_change_nothing() {
    let host = Host::start();
    host.deploy_examples();
    let id = host.start_execution("hello", json!({"name": "one"}));
    host.wait_result(&id);

    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "nope"})),
    );
    assert_eq!(status, 404, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("nope"),
        "{v}"
    );

    let (status, v) = host.call("POST", "/v1/executions", Some(json!({"input": 1})));
    assert_eq!(status, 400, "{v}");

    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(
            json!({"workflow_type": "hello", "id": id, "input": {"name": "two"},
                    "id_reuse_policy": "reject-duplicate"}),
        ),
    );
    assert_eq!(status, 409, "{v}");
    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "hello", "id": id, "id_reuse_policy": "sometimes"})),
    );
    assert_eq!(status, 400, "an unknown policy is refused: {v}");

    let (status, v) = host.call("GET", "/v1/executions/wf_nothere", None);
    assert_eq!(status, 404, "{v}");
    assert_eq!(v["error"]["code"], "not-found");

    // A workflow input of the wrong shape fails that execution, with the reason.
    let wrong = host.start_execution("hello", json!({"nom": 3}));
    let r = host.wait_result(&wrong);
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["failure"]["kind"], "InvalidInput", "{r}");

    // The CLI refuses input that is not JSON before sending anything.
    let out = host.cli(&["start", "hello", "--input", "{not json"]);
    assert!(!out.status.success());
    assert!(!out.stderr.is_empty());

    let all = host.get("/v1/executions")["executions"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(all, 2, "only the two valid starts exist");
    assert_eq!(
        host.get(&format!("/v1/executions/{id}/result"))["output"],
        "HELLO, ONE!"
    );
}

/// An instance pool with no room beside the workflow instances is refused at
/// start, with what to give instead.
#[test]
fn an_instance_pool_smaller_than_the_instance_budget_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let out = weft_e2e::output_within(
        std::process::Command::new(weft_e2e::weft_bin())
            .arg("server")
            .arg("--data")
            .arg(data.path())
            .args(["--listen", "127.0.0.1:0"])
            .args(["--max-instances", "4", "--instance-pool", "4"]),
        weft_e2e::REFUSAL_LIMIT,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--instance-pool 4 leaves no slot beside --max-instances 4"),
        "{err}"
    );
}

/// Issue 15 (compatibility): a workflow built against a newer contract than
/// the host's (weft:workflow@0.1.9, with an import this host lacks) is
/// refused at deploy, naming the version and what to do; nothing is kept.
#[test]
fn a_module_built_against_a_newer_contract_is_refused_by_name() {
    let host = Host::start();
    let out = host.cli(&["deploy", &guest("future-import").to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("weft:workflow@0.1.9")
            && stderr.contains("weft:workflow/runtime@0.1.9")
            && stderr.contains("upgrade weft"),
        "{stderr}"
    );
    assert_eq!(host.get("/v1/modules")["modules"], json!([]));
}

/// Issue 16: an unknown field in a request body was ignored (`{"inptu": 1}`
/// started an execution with input `null`). Now it is refused with the
/// field named, and nothing is started.
#[test]
fn unknown_fields_in_a_request_body_are_refused_by_name() {
    let host = Host::start();
    host.deploy_examples();
    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "hello", "id": "typo", "inptu": {"name": "x"}})),
    );
    assert_eq!(status, 400, "{v}");
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("unknown field `inptu`") && message.contains("`input`"),
        "{v}"
    );
    let (status, _) = host.call("GET", "/v1/executions/typo", None);
    assert_eq!(status, 404, "nothing started");
    let (status, v) = host.call(
        "POST",
        "/v1/clock/advance",
        Some(json!({"milliseconds": 5})),
    );
    assert_eq!(status, 400, "{v}");
}

/// A host that takes a request and never answers (paused here; a frozen VM,
/// a host cut off) fails the CLI command at its `--timeout`, naming the
/// wait and what to do, instead of holding the terminal until it wakes.
#[test]
fn a_cli_command_to_a_host_that_does_not_answer_ends_at_its_timeout() {
    let host = Host::start();
    host.signal("STOP");
    let started = std::time::Instant::now();
    let out = host.cli(&["describe", "nothing-here", "--timeout", "2s"]);
    let waited = started.elapsed();
    host.signal("CONT");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("did not answer within 2s (--timeout, WEFT_TIMEOUT)")
            && stderr.contains("paused, overloaded or cut off"),
        "{stderr}"
    );
    assert!(waited < std::time::Duration::from_secs(30), "{waited:?}");
    // Awake, it answers again (and a timeout of 0 waits as long as needed).
    let out = host.cli(&["describe", "nothing-here", "--timeout", "0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nothing-here"), "{stderr}");
    assert!(!stderr.contains("did not answer"), "{stderr}");
}
