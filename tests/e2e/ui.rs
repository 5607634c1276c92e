//! Issue 18: the web UI, in the distribution's headless Chromium against a
//! real host. Tests assert on the page's DOM; each saves a screenshot under
//! `target/ui-screenshots/` (`WEFT_UPDATE_SCREENSHOTS=1` also writes the
//! README's `docs/ui-execution.png`).

use std::path::PathBuf;

use weft_e2e::browser::Browser;
use weft_e2e::serde_json::{json, Value};
use weft_e2e::{guest, repo, Host};

fn shot(browser: &Browser, name: &str) {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"))
        .join("ui-screenshots");
    browser.screenshot(&dir.join(format!("{name}.png")));
}

fn start_subscription(host: &Host, id: &str) {
    let (code, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "subscription", "id": id,
                    "input": {"customer": "ada", "plan": "basic"}})),
    );
    assert_eq!(code, 201, "{v}");
}

#[test]
fn an_operator_finds_an_execution_sees_its_timeline_signals_queries_and_cancels_it() {
    // Low history limits: `iterate` continues as new every ~40 events.
    let host = Host::with_args(&[
        "--manual-clock",
        "--history-warn-events",
        "40",
        "--history-max-events",
        "60",
    ]);
    host.deploy_examples();
    start_subscription(&host, "ui-sub");
    for i in 0..3 {
        host.run_execution("hello", json!({"name": format!("n{i}")}));
    }
    let sleeper = host.start_execution("misbehave", json!({"mode": "sleep"}));
    let b = Browser::start();
    b.goto(&format!("{}/", host.url));

    // Find it by filter: its type, then its id's prefix.
    b.wait_text("#executions", "ui-sub");
    b.select("#filter-type", "subscription");
    b.click("#filter-apply");
    // The filtered page, not the one before it (the API may answer slowly).
    b.wait_text_without("#executions", "ui-sub", "hello");
    b.fill("#filter-id", "nothing-like-it");
    b.click("#filter-apply");
    b.wait_text("#executions", "No execution matches");
    b.fill("#filter-id", "ui-");
    b.click("#filter-apply");
    b.wait_text("#executions", "ui-sub");

    // Open it: the summary and the timeline (its billing timer is a bar).
    b.click("a[href=\"#/executions/ui-sub\"]");
    b.wait_text("#execution-id", "ui-sub");
    b.wait_text("#summary", "subscription");
    b.find("#timeline-svg .timeline-row");
    shot(&b, "subscription");

    // Signal it, and see the new event appear in the list.
    b.click("#act-signal");
    b.select("#send-name", "change-plan");
    b.fill("#send-input", "\"pro\"");
    b.click("#dialog-ok");
    b.wait_text("#answer", "Signal recorded");
    b.click("#dialog-cancel");
    b.click("#tab-events");
    b.wait_text("#events", "signal_received");

    // Query it: the plan changed.
    b.click("#act-query");
    b.select("#send-name", "status");
    b.click("#dialog-ok");
    b.wait_text("#answer", "\"pro\"");
    b.click("#dialog-cancel");

    // Travel back: pick the event before the signal and ask there.
    let before = signal_index(&host, "ui-sub") - 1;
    b.click(&format!("#events tr[data-index=\"{before}\"] .pick"));
    b.wait_text("#act-query-at", &format!("Query at event {before}"));
    b.click("#act-query-at");
    b.select("#send-name", "status");
    b.click("#dialog-ok");
    b.wait_text("#answer", "\"basic\"");
    b.click("#dialog-cancel");

    // Cancel another one from its page: it ends cancelled.
    b.goto(&format!("{}/#/executions/{sleeper}", host.url));
    b.wait_text("#execution-id", &sleeper);
    b.click("#act-cancel");
    b.fill("#end-reason", "from the browser");
    b.click("#dialog-ok");
    b.wait_text("#answer", "Cancellation requested");
    assert_eq!(host.wait_result(&sleeper)["status"], "cancelled");
    b.click("#dialog-cancel");
    b.wait_text("#summary", "cancelled");
    shot(&b, "cancelled");

    // A finished saga with activities on its timeline: the README's picture.
    let (trip, r) = host.run_execution(
        "trip-booking",
        json!({"traveller": "ada", "car": "unavailable"}),
    );
    b.goto(&format!("{}/#/executions/{trip}", host.url));
    b.wait_text("#execution-id", &trip);
    b.find("#timeline-svg .timeline-row");
    assert!(b.exists("#timeline-svg .bar-ok"), "{r}");
    shot(&b, "execution");
    if std::env::var_os("WEFT_UPDATE_SCREENSHOTS").is_some() {
        b.screenshot(&repo().join("docs/ui-execution.png"));
    }

    // A long run continued as new: its earlier runs are linked.
    let (iter, r) = host.run_execution("iterate", json!({"total": 100_000, "chunk": 1000}));
    assert_eq!(r["status"], "completed", "{r}");
    b.goto(&format!("{}/#/executions/{iter}", host.url));
    b.wait_text("#runs", "run 1");
    b.click("#runs a");
    b.wait_text("#events", "execution_continued_as_new");

    // The other pages answer too.
    for (page, css, needle) in [
        ("#/types", "#types", "subscription"),
        ("#/types", "#types", "v1 "),
        ("#/types/hello", "#versions", "v1"),
        ("#/modules", "#modules", "workflow"),
        ("#/modules", "main", "Task queues"),
        ("#/schedules", "main", "Schedules"),
    ] {
        b.goto(&format!("{}/{page}", host.url));
        b.wait_text(css, needle);
    }
}

#[test]
fn what_a_workflow_controls_is_shown_as_text_never_as_markup() {
    let host = Host::start();
    host.deploy_examples();
    let evil = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>";
    // An input and a result (hello greets the name and logs it), a failure
    // message (a termination's reason), all carrying markup.
    let (greeted, r) = host.run_execution("hello", json!({"name": evil}));
    assert_eq!(r["status"], "completed", "{r}");
    let doomed = host.start_execution("misbehave", json!({"mode": "sleep"}));
    let (code, v) = host.call(
        "POST",
        &format!("/v1/executions/{doomed}/terminate"),
        Some(json!({"reason": evil})),
    );
    assert_eq!(code, 200, "{v}");

    let b = Browser::start();
    for id in [&greeted, &doomed] {
        b.goto(&format!("{}/#/executions/{id}", host.url));
        b.wait_text("#execution-id", id);
        b.wait_text("main", "<img src=x");
        b.click("#tab-events");
        b.click("#tab-json");
        b.wait_text("#raw", "<script>");
        let injected = b.eval(
            "return [document.querySelectorAll('main img, main script').length, window.__pwned || 0];",
            vec![],
        );
        assert_eq!(
            injected,
            json!([0, 0]),
            "markup ran or was parsed: {injected}"
        );
    }
    b.goto(&format!("{}/#/executions/{greeted}", host.url));
    b.wait_text("#log-lines", "<IMG SRC=X");
    shot(&b, "escaped");
}

#[test]
fn other_origins_foreign_host_names_and_read_tokens_cannot_act() {
    let host = Host::with_args(&[
        "--manual-clock",
        "--token",
        "main-secret",
        "--read-token",
        "reader",
    ]);
    host.cli_ok(&["deploy", &guest("misbehave").to_string_lossy()]);
    let id = host.start_execution("misbehave", json!({"mode": "sleep"}));
    let http = weft_e2e::http();
    let post = |path: &str, headers: &[(&str, &str)], token: &str| -> (u16, Value) {
        let mut req = http
            .post(format!("{}{path}", host.url))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body("{}");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().unwrap();
        let code = resp.status().as_u16();
        (code, resp.json().unwrap_or(Value::Null))
    };
    let cancel = format!("/v1/executions/{id}/cancel");
    // Another page's POST, even with the right token in hand.
    let (code, v) = post(&cancel, &[("origin", "http://evil.example")], "main-secret");
    assert_eq!(code, 403, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("origin"),
        "{v}"
    );
    // A DNS-rebinding name for the loopback host: refused, reads too.
    let (code, v) = post(&cancel, &[("host", "evil.example:7700")], "main-secret");
    assert_eq!(code, 403, "{v}");
    let got = http
        .get(format!("{}/v1/executions", host.url))
        .bearer_auth("main-secret")
        .header("host", "evil.example")
        .send()
        .unwrap();
    assert_eq!(got.status().as_u16(), 403);
    // The page itself carries the policy.
    let page = http.get(format!("{}/", host.url)).send().unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    // A read token reads and queries, and cannot act.
    let got = http
        .get(format!("{}/v1/executions/{id}", host.url))
        .bearer_auth("reader")
        .send()
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);
    let (code, v) = post(&cancel, &[], "reader");
    assert_eq!(code, 403, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("read token"),
        "{v}"
    );
    // The same origin may act.
    let own = host.url.trim_end_matches('/').to_owned();
    let (code, v) = post(&cancel, &[("origin", own.as_str())], "main-secret");
    assert_eq!(code, 202, "{v}");

    // In the browser: the UI asks for the token, keeps it for the tab, and
    // a read token shows the execution but its termination is refused.
    let id = host.start_execution("misbehave", json!({"mode": "sleep"}));
    let b = Browser::start();
    b.goto(&format!("{}/#/executions/{id}", host.url));
    b.fill("#token-input", "reader");
    b.click("#dialog-ok");
    b.wait_text("#execution-id", &id);
    b.click("#act-terminate");
    b.click("#dialog-ok");
    b.find("#dialog .error");
    assert_eq!(host.describe(&id)["status"], "running");
    let stored = b.eval("return sessionStorage.getItem('weft-token');", vec![]);
    assert_eq!(stored, json!("reader"));
    let cookies = b.eval("return document.cookie;", vec![]);
    assert_eq!(cookies, json!(""));
}

/// The index of the first `signal_received` event of `id`'s history.
fn signal_index(host: &Host, id: &str) -> u64 {
    let h = host.get(&format!("/v1/executions/{id}/history"));
    h["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"]["type"] == "signal_received")
        .and_then(|e| e["index"].as_u64())
        .expect("a signal_received event")
}

#[test]
fn a_query_at_a_past_event_answers_from_the_state_then_and_touches_nothing() {
    let host = Host::start();
    host.deploy_examples();
    start_subscription(&host, "tt");
    let (code, v) = host.call(
        "POST",
        "/v1/executions/tt/signals",
        Some(json!({"name": "change-plan", "input": "pro"})),
    );
    assert_eq!(code, 202, "{v}");
    let status = |body: Value| host.call("POST", "/v1/executions/tt/queries", Some(body));
    host.eventually("the live plan is pro", |_| {
        status(json!({"name": "status"})).1["output"]["plan"] == "pro"
    });
    let k = signal_index(&host, "tt");
    let length = host.describe("tt")["history_length"].clone();

    // Before the signal: basic; at it: pro (delivered, then the code waits).
    let (code, v) = status(json!({"name": "status", "at_event": k - 1}));
    assert_eq!((code, &v["output"]["plan"]), (200, &json!("basic")), "{v}");
    let (code, v) = status(json!({"name": "status", "at_event": k}));
    assert_eq!((code, &v["output"]["plan"]), (200, &json!("pro")), "{v}");
    // The CLI asks the same.
    let out = host.cli_ok(&["query", "tt", "status", "--at-event", &(k - 1).to_string()]);
    assert!(out.contains("\"basic\""), "{out}");
    // Out of the run: refused, naming the range.
    let (code, v) = status(json!({"name": "status", "at_event": 9_999}));
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("events 0 to"),
        "{v}"
    );

    // `weft describe` names the handlers its module declared.
    let described = host.cli_ok(&["describe", "tt"]);
    assert!(
        described.contains("signals change-plan; queries status; updates cancel"),
        "{described}"
    );

    // Nothing was written and the live execution still answers now.
    assert_eq!(host.describe("tt")["history_length"], length);
    assert_eq!(status(json!({"name": "status"})).1["output"]["plan"], "pro");
}

/// Issue 20: search attributes in the UI. The list takes a query (a bad one
/// says where it is wrong, the form stays), and an execution's page shows
/// its attributes and memo.
#[test]
fn executions_are_found_by_a_query_and_show_their_search_attributes() {
    let host = Host::with_args(&["--manual-clock"]);
    host.deploy_examples();
    host.cli_ok(&["search-attributes", "create", "Requester", "keyword"]);
    for (id, who) in [("ui-appr-ada", "ada"), ("ui-appr-bob", "bob")] {
        host.cli_ok(&[
            "start",
            "approval",
            "--id",
            id,
            "--search-attribute",
            &format!("Requester={who}"),
            "--memo",
            r#"ticket={"n": 7}"#,
        ]);
    }
    host.eventually("both wait", |h| {
        ["ui-appr-ada", "ui-appr-bob"]
            .iter()
            .all(|id| h.describe(id)["search_attributes"]["ApprovalState"]["value"] == "pending")
    });
    let b = Browser::start();
    b.goto(&format!("{}/", host.url));
    b.wait_text("#executions", "ui-appr-bob");
    b.fill(
        "#filter-query",
        "Requester = 'ada' AND ApprovalState = 'pending'",
    );
    b.click("#filter-apply");
    b.wait_text_without("#executions", "ui-appr-ada", "ui-appr-bob");
    b.fill("#filter-query", "Requester > ");
    b.click("#filter-apply");
    b.wait_text("#executions", "bad query at character");
    assert!(b.exists("#filter-query"), "the form stays to fix the query");
    b.goto(&format!("{}/#/executions/ui-appr-ada", host.url));
    b.wait_text("#search-attributes", "Requester");
    b.wait_text("#search-attributes", "pending");
    b.wait_text("#memo", "\"n\": 7");
    shot(&b, "search-attributes");
}
