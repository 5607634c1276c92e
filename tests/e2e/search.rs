//! Search attributes and list queries end to end (issue 20): the approval
//! example keeps its state in `ApprovalState`, starts add their own, and
//! `weft list --query` finds executions by them, across a crash of the
//! host; a query pages through ten thousand matches.

use std::time::Instant;

use weft_e2e::serde_json::{json, Value};
use weft_e2e::{enc, Host};

#[test]
fn approvals_are_found_by_their_state_from_the_cli_across_a_crash() {
    let mut host = Host::with_args(&["--manual-clock"]);
    host.deploy_examples();
    // The names the starts give, with their types (a workflow's own names
    // take the type of their first value).
    host.cli_ok(&["search-attributes", "create", "Requester", "keyword"]);
    let out = host.cli_ok(&["search-attributes", "create", "Amount", "double"]);
    assert!(out.contains("Amount: double"), "{out}");
    host.cli_ok(&[
        "start",
        "approval",
        "--id",
        "appr-ada",
        "--search-attribute",
        "Requester=ada",
        "--search-attribute",
        "Amount=1250.5",
        "--memo",
        r#"ticket={"n": 7}"#,
    ]);
    host.cli_ok(&[
        "start",
        "approval",
        "--id",
        "appr-bob",
        "--search-attribute",
        "Requester=bob",
        "--search-attribute",
        "Amount=80",
    ]);
    host.cli_ok(&["start", "approval", "--id", "appr-eve"]);
    // A number given for a keyword is its text; a name the host does not
    // know is refused, naming the command that creates it.
    host.cli_ok(&[
        "start",
        "approval",
        "--id",
        "appr-42",
        "--search-attribute",
        "Requester=42",
    ]);
    assert_eq!(
        host.describe("appr-42")["search_attributes"]["Requester"],
        json!({"type": "keyword", "value": "42"})
    );
    host.cli_ok(&["terminate", "appr-42"]);
    host.cli_ok(&["delete", "appr-42"]);
    // Signal-with-start gives them to the execution it starts.
    host.cli_ok(&[
        "signal",
        "appr-sws",
        "decision",
        "--input",
        r#"{"approved": true, "by": "zoe"}"#,
        "--start",
        "approval",
        "--search-attribute",
        "Requester=zoe",
    ]);
    assert_eq!(host.wait_result("appr-sws")["output"], "approved by zoe");
    assert_eq!(
        host.describe("appr-sws")["search_attributes"]["Requester"]["value"],
        "zoe"
    );
    host.cli_ok(&["delete", "appr-sws"]);
    let out = host.cli(&["start", "approval", "--search-attribute", "Requestor=ada"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("no search attribute named Requestor")
            && said.contains("weft search-attributes create Requestor"),
        "{said}"
    );
    for id in ["appr-ada", "appr-bob", "appr-eve"] {
        host.eventually("the approval waits", |h| {
            h.describe(id)["search_attributes"]["ApprovalState"]["value"] == "pending"
        });
    }
    host.cli_ok(&[
        "signal",
        "appr-ada",
        "decision",
        "--input",
        r#"{"approved": true, "by": "grace", "note": "within budget"}"#,
    ]);
    assert_eq!(host.wait_result("appr-ada")["output"], "approved by grace");

    // `Amount` is a double: 80 is one too.
    let d = host.describe("appr-bob");
    assert_eq!(
        d["search_attributes"]["Amount"],
        json!({"type": "double", "value": 80.0}),
        "{d}"
    );
    let shown = host.cli_ok(&["describe", "appr-ada"]);
    for line in [
        "search:         ApprovalState = approved (keyword)",
        "search:         DecidedBy = grace (keyword)",
        "search:         Requester = ada (keyword)",
        "search:         Amount = 1250.5 (double)",
        "memo:           note = \"within budget\"",
        "memo:           ticket = {\"n\":7}",
    ] {
        assert!(shown.contains(line), "no {line:?} in:\n{shown}");
    }
    assert!(shown.contains("search:         DecidedAt = "), "{shown}");

    let listed = host.cli_ok(&["list", "--query", "ApprovalState = 'pending'"]);
    assert!(
        listed.contains("appr-bob") && listed.contains("appr-eve") && !listed.contains("appr-ada"),
        "{listed}"
    );
    let listed = host.cli_ok(&[
        "list",
        "--query",
        "Requester IN ('ada', 'bob') AND Amount > 100",
        "--json",
    ]);
    let page: Value = weft_e2e::serde_json::from_str(&listed).expect("JSON");
    let found: Vec<&str> = page["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .map(|e| e["id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(found, vec!["appr-ada"], "{listed}");
    assert_eq!(
        page["executions"][0]["search_attributes"]["DecidedBy"]["value"], "grace",
        "{listed}"
    );

    let types = host.cli_ok(&["search-attributes"]);
    for (name, ty) in [
        ("ApprovalState", "keyword"),
        ("DecidedAt", "datetime"),
        ("Amount", "double"),
        ("ExecutionStatus", "keyword"),
    ] {
        assert!(
            types
                .lines()
                .any(|l| l.contains(&format!(" {name} ")) && l.contains(ty)),
            "{name} {ty} in:\n{types}"
        );
    }

    // A bad query: the CLI says where, and fails.
    let out = host.cli(&["list", "--query", "Amount > 'lots'"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("bad query at character 10")
            && said.contains("Amount has type double: expected a number")
            && said.contains("Amount > 'lots'\n")
            && said.contains("         ^"),
        "{said}"
    );
    let (status, v) = host.call("GET", "/v1/executions?query=Nope%20%3D%201", None);
    assert_eq!(status, 400, "{v}");
    assert!(
        v.to_string().contains("no search attribute named Nope"),
        "{v}"
    );

    // A crash: the index is the records, the types are in the store.
    host.kill_and_restart();
    assert_eq!(
        host.query_ids("ApprovalState = 'pending'"),
        vec!["appr-bob", "appr-eve"]
    );
    assert_eq!(host.query_ids("DecidedAt > '2000-01-01'"), vec!["appr-ada"]);
    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "approval", "input": {},
                    "search_attributes": {"DecidedAt": "yesterday"}})),
    );
    assert_eq!(status, 400, "the type survived the restart: {v}");
    host.advance(72 * 3_600_000);
    for id in ["appr-bob", "appr-eve"] {
        assert_eq!(host.wait_result(id)["output"], "timed out", "{id}");
    }
    assert_eq!(
        host.query_ids("ApprovalState = 'timed-out'"),
        vec!["appr-bob", "appr-eve"]
    );
    host.assert_replays("appr-ada", "approval");
}

/// Issue 20: "paging through 10,000 matches and a query that matches
/// nothing". Ten thousand executions carry `Batch = "b-1"` among five
/// hundred others; a query pages through exactly them, a page of a
/// thousand at a time, each once.
#[test]
fn a_query_pages_through_ten_thousand_matches() {
    let host = Host::start();
    host.deploy_examples_and_corners();
    host.cli_ok(&["search-attributes", "create", "Batch", "keyword"]);
    host.cli_ok(&["search-attributes", "create", "N", "int"]);
    let started = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let url = format!("{}/v1/executions", host.url);
            std::thread::spawn(move || {
                let client = weft_e2e::http();
                for n in (t..10_500).step_by(8) {
                    let batch = if n < 10_000 { "b-1" } else { "b-2" };
                    let body = json!({
                        "workflow_type": "corners", "id": format!("page-{n:05}"),
                        "input": {"mode": "fanout", "runs": 0},
                        "search_attributes": {"Batch": batch, "N": n},
                    });
                    let r = client.post(&url).json(&body).send().expect("start");
                    assert_eq!(r.status().as_u16(), 201, "start {n}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a starting thread");
    }
    eprintln!("10,500 started in {:.1} s", started.elapsed().as_secs_f64());
    let paging = Instant::now();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/v1/executions?limit=1000&query={}", enc("Batch = 'b-1'"));
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", enc(c)));
        }
        let page = host.get(&path);
        pages += 1;
        for e in page["executions"].as_array().expect("executions") {
            assert_eq!(e["search_attributes"]["Batch"]["value"], "b-1", "{e}");
            seen.push(e["id"].as_str().unwrap_or_default().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    eprintln!(
        "paged through {} matches in {pages} pages in {:.2} s",
        seen.len(),
        paging.elapsed().as_secs_f64()
    );
    assert_eq!(pages, 10, "a thousand a page");
    let count = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!((count, seen.len()), (10_000, 10_000), "each match once");
    assert_eq!(seen.first().map(String::as_str), Some("page-00000"));
    assert_eq!(seen.last().map(String::as_str), Some("page-09999"));
    // Numbers order as numbers, and a query can match nothing.
    assert_eq!(
        host.query_ids("Batch = 'b-2' AND N >= 10490"),
        (10_490..10_500)
            .map(|n| format!("page-{n:05}"))
            .collect::<Vec<_>>()
    );
    // Counted, over every page.
    assert_eq!(
        host.get(&format!(
            "/v1/execution-count?query={}",
            enc("Batch = 'b-1'")
        ))["count"],
        10_000
    );
    let counted = host.cli_ok(&[
        "list",
        "--count",
        "--query",
        "Batch = 'b-2'",
        "--type",
        "corners",
    ]);
    assert_eq!(counted.trim(), "500", "{counted}");
    let page = host.get(&format!(
        "/v1/executions?query={}",
        enc("Batch = 'b-3' OR N < 0")
    ));
    assert_eq!(page["executions"], json!([]), "{page}");
    assert!(page.get("next_cursor").is_none(), "{page}");
    assert_eq!(
        host.get(&format!(
            "/v1/execution-count?query={}",
            enc("Batch = 'b-3'")
        ))["count"],
        0
    );
}
