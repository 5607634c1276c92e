//! Requests and workflows reaching executions of other partitions:
//! forwarded to the holder, relayed between hosts, each recorded once.

use super::*;

#[test]
fn executions_spread_over_the_partitions_and_every_request_finds_its_own() {
    let Some(url) = database() else { return };
    let h = host(&url, "a", &[]);
    holds_all(&h, "a");
    let view = h.get("/v1/cluster");
    assert_eq!(view["partitions"], PARTITIONS, "{view}");
    let out = h.cli_ok(&["cluster"]);
    assert!(
        out.contains("the store has 4 partitions; 4 held now"),
        "{out}"
    );
    assert!(out.contains("0,1,2,3"), "a holds every partition: {out}");
    h.deploy_examples();
    let ids: Vec<String> = (0..24).map(|i| format!("spread-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let (status, v) = h.call(
            "POST",
            "/v1/executions",
            Some(json!({"workflow_type": "hello", "id": id,
                        "input": {"name": format!("s{i}"), "delay_ms": 0}})),
        );
        assert_eq!(status, 201, "{v}");
    }
    h.assert_hellos_completed_once(&ids, "S");
    // Each in its home partition, and only there: its rows in that
    // partition's tables.
    let mut used = std::collections::BTreeSet::new();
    for id in &ids {
        let part = home(id);
        assert_eq!(placed(&url, id), Some(part), "{id}");
        used.insert(part);
        for p in 0..PARTITIONS {
            let table = match p {
                0 => "weft_executions".to_owned(),
                p => format!("weft_p{p}.weft_executions"),
            };
            let n = psql(
                &url,
                &format!("SELECT count(*) FROM {table} WHERE k0 = convert_to('{id}', 'UTF8')"),
            );
            assert_eq!(
                n,
                if p == part { "1" } else { "0" },
                "{id} in partition {p}"
            );
        }
    }
    assert!(used.len() >= 3, "24 ids in {used:?} only");
    // A list and a count see every partition; pages follow one order.
    assert_eq!(h.get("/v1/execution-count")["count"], 24);
    assert_eq!(h.get("/v1/execution-count?status=completed")["count"], 24);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/v1/executions?limit=5&cursor={c}"),
            None => "/v1/executions?limit=5".to_owned(),
        };
        let page = h.get(&q);
        let rows = page["executions"].as_array().unwrap().clone();
        assert!(rows.len() <= 5, "{page}");
        seen.extend(rows);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let keys: Vec<(u64, String)> = seen
        .iter()
        .map(|e| {
            (
                e["created_at_ms"].as_u64().unwrap(),
                e["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(keys, sorted, "newest first across partitions");
    let mut listed: Vec<String> = keys.into_iter().map(|(_, id)| id).collect();
    listed.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(listed, want, "every execution listed once");
    // The CLI lists them too.
    let out = h.cli_ok(&["list", "--limit", "100"]);
    for id in &ids {
        assert!(out.contains(id.as_str()), "{id} in {out}");
    }
    // A start retried with its request id (no id) finds the first try's
    // execution, in whichever partition it went to.
    let start = json!({"workflow_type": "hello", "request_id": "retry-me",
                       "input": {"name": "r", "delay_ms": 0}});
    let (status, first) = h.call("POST", "/v1/executions", Some(start.clone()));
    assert_eq!(status, 201, "{first}");
    let (status, again) = h.call("POST", "/v1/executions", Some(start));
    assert!(status == 200 || status == 201, "{again}");
    assert_eq!(first["id"], again["id"], "{first} {again}");
    assert_eq!(h.get("/v1/execution-count")["count"], 25);
    // Metrics add up every partition's executions.
    h.wait_result(first["id"].as_str().unwrap());
    assert_eq!(h.metric("weft_executions{status=\"completed\"}"), 25.0);
}

/// A workflow's signal to an execution of another partition is recorded
/// there by that partition's engine, then its delivery in the sender's:
/// a host killed between the two delivers again at its restart, and the
/// target records the signal once.
#[test]
fn a_signal_to_another_partition_is_recorded_once_across_a_kill() {
    let Some(url) = database() else { return };
    let mut h = host(&url, "a", &["external-received"]);
    holds_all(&h, "a");
    h.deploy_examples_and_corners();
    let listener = id_in("listener", 0, true);
    let sender = id_in("sender", 0, false);
    listener_and_sender(&h, &listener, &sender);
    assert_ne!(placed(&url, &listener), placed(&url, &sender));
    let (status, v) = h.send_signal(&sender, "order", json!("say once"));
    assert_eq!(status, 202, "{v}");
    h.eventually("the target recorded the signal", |h| {
        h.log().contains("paused at external-received")
    });
    h.kill();
    h.clear_pause_points();
    h.spawn();
    assert_eq!(h.wait_result(&sender)["output"], "asked");
    // One run per signal taken: the signal once, then a second one sent by
    // a client reaches it too.
    h.eventually("the listener took the signal", |h| {
        h.describe(&listener)["run"] == 2
    });
    let (status, v) = h.send_signal(&listener, "tick", json!("from a client"));
    assert_eq!(status, 202, "{v}");
    h.eventually("the listener took the client's", |h| {
        h.describe(&listener)["run"] == 3
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(h.describe(&listener)["run"], 3, "no signal twice");
    // A request to no execution at all ends `not-found`, as in one
    // partition.
    let lonely = id_in("lonely", 0, false);
    let nobody = id_in("nobody", home(&lonely), false);
    h.start_corners(&lonely, json!({"mode": "orders", "got": [nobody]}));
    h.eventually("the lonely sender waits", |h| {
        h.event_kinds(&lonely).iter().any(|k| k == "signal_awaited")
    });
    h.send_signal(&lonely, "order", json!("signal"));
    assert_eq!(h.wait_result(&lonely)["output"], "not-found");
}

/// A cancellation asked by a workflow of one partition reaches its target
/// in another.
#[test]
fn a_cancellation_reaches_a_target_in_another_partition() {
    let Some(url) = database() else { return };
    let h = host(&url, "a", &[]);
    holds_all(&h, "a");
    h.deploy_examples_and_corners();
    let victim = id_in("victim", 1, true);
    let orderer = id_in("orderer", 1, false);
    cancel_across(&h, &h, &victim, &orderer);
}

/// `orderer`, started through `start_at`, asks a cancellation of `victim`
/// (started there too); both end as they should, read through `read_at`.
fn cancel_across(start_at: &Host, read_at: &Host, victim: &str, orderer: &str) {
    start_at.start_corners(victim, json!({"mode": "nap", "timeout_ms": 3_600_000}));
    start_at.start_corners(orderer, json!({"mode": "orders", "got": [victim]}));
    start_at.eventually("the orderer waits for its order", |h| {
        h.event_kinds(orderer).iter().any(|k| k == "signal_awaited")
    });
    start_at.send_signal(orderer, "order", json!("cancel"));
    assert_eq!(read_at.wait_result(orderer)["output"], "asked");
    let r = read_at.wait_result(victim);
    assert_eq!(r["status"], "cancelled", "{r}");
}

/// Versions are shared and executions are not: a module prune through
/// partition 0 keeps the version executions of the other partitions run
/// on, the versions' counts and an upgrade take in every partition.
#[test]
fn a_prune_and_the_versions_see_executions_of_every_partition() {
    let Some(url) = database() else { return };
    let h = host(&url, "a", &[]);
    holds_all(&h, "a");
    h.deploy_examples();
    h.cli_ok(&[
        "deploy",
        &guest("order-v1").to_string_lossy(),
        "--name",
        "order",
    ]);
    let id = id_in("far", 0, false);
    let (status, v) = h.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "order", "id": id, "input": {"order": "o"}})),
    );
    assert_eq!(status, 201, "{v}");
    h.cli_ok(&[
        "deploy",
        &guest("order-v2").to_string_lossy(),
        "--name",
        "order",
    ]);
    let out = h.cli_ok(&["modules", "prune"]);
    assert!(out.contains("nothing to prune"), "{out}");
    let versions = h.get("/v1/workflow-types/order/versions");
    assert_eq!(
        versions["versions"].as_array().unwrap().len(),
        2,
        "{versions}"
    );
    h.eventually("the order waits its hour on version 1", |h| {
        h.event_kinds(&id).iter().any(|k| k == "timer_started")
    });
    let running = |h: &Host, version: u64| {
        h.get("/v1/workflow-types/order/versions")["versions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["version"] == version)
            .map(|v| v["running"].clone())
            .unwrap_or_default()
    };
    assert_eq!(running(&h, 1), 1);
    assert_eq!(running(&h, 2), 0);
    let (status, report) = h.call(
        "POST",
        "/v1/workflow-types/order/upgrade",
        Some(json!({"to": 2})),
    );
    assert_eq!(status, 200, "{report}");
    let moved = report["executions"].as_array().unwrap();
    assert_eq!(moved.len(), 1, "{report}");
    assert_eq!(moved[0]["id"], id.as_str(), "{report}");
    assert_eq!(moved[0]["outcome"], "moved", "{report}");
    assert_eq!(running(&h, 2), 1);
    // Naming it: asked of its partition alone.
    let (status, report) = h.call(
        "POST",
        "/v1/workflow-types/order/upgrade",
        Some(json!({"to": 2, "ids": [id], "dry_run": true})),
    );
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["executions"][0]["outcome"], "already-there",
        "{report}"
    );
}

/// Two hosts: the second forwards each request to the host holding its
/// partition, and takes every partition over when that host is killed;
/// every execution completes once.
#[test]
fn a_second_host_forwards_by_partition_and_takes_them_over_from_a_killed_one() {
    let Some(url) = database() else { return };
    let mut a = host(&url, "a", &[]);
    holds_all(&a, "a");
    let b = host(&url, "b", &[]);
    b.deploy_examples();
    let ids: Vec<String> = (0..8)
        .map(|i| b.start_execution("hello", json!({"name": format!("f{i}"), "delay_ms": 200})))
        .collect();
    a.kill();
    b.eventually("b to hold every partition", |h| {
        holders(h) == vec!["b"; PARTITIONS as usize]
    });
    b.assert_hellos_completed_once(&ids, "F");
    // b's log says whose partitions it took, and why they were free.
    assert!(
        b.log()
            .contains("(from a, whose sessions had ended: killed, or cut off)"),
        "{}",
        b.log()
    );
    // The killed host is gone, and its last count of instances in memory
    // is not shown as what it has.
    b.eventually("a to be gone", |h| {
        h.get("/v1/cluster")["hosts"].as_array().is_some_and(|hs| {
            hs.iter()
                .any(|x| x["host_id"] == "a" && x["role"] == "gone")
        })
    });
    let out = b.cli_ok(&["cluster"]);
    let row = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some("a"))
        .unwrap_or_else(|| panic!("no row of a: {out}"));
    let after_seen: Vec<&str> = row
        .split_whitespace()
        .skip_while(|f| *f != "ago")
        .skip(1)
        .collect();
    assert_eq!(after_seen.first(), Some(&"-"), "{out}");
    let view: Value = b.get("/v1/cluster");
    assert_eq!(
        view["leases"].as_array().unwrap().len(),
        PARTITIONS as usize
    );
}

/// A request to an execution of another partition that a reset of its
/// sender discarded before it was delivered is never delivered, as in one
/// partition: the target's partition records it only while the sender's
/// outbox still holds it (checked in the same transaction).
#[test]
fn a_request_to_another_partition_a_reset_discarded_is_never_delivered() {
    for order in ["cancel", "signal"] {
        // A host each: a released pause point stays released.
        let Some(url) = database() else { return };
        let h = Host::in_cluster_logging(
            &url,
            &["--lease", "2s", "--host-id", "a", "--partitions", "4"],
            &["external-before-delivery"],
            "info,weft::engine::external=debug",
        );
        holds_all(&h, "a");
        h.deploy_examples_and_corners();
        let victim = id_in(&format!("victim-{order}"), 2, true);
        let sender = id_in(&format!("sender-{order}"), 2, false);
        h.start_corners(&victim, json!({"mode": "signals", "runs": 1}));
        h.start_corners(&sender, json!({"mode": "orders", "got": [victim]}));
        h.eventually("the sender waits for its order", |h| {
            h.event_kinds(&sender).iter().any(|k| k == "signal_awaited")
        });
        let paused_before = h
            .log()
            .matches("paused at external-before-delivery")
            .count();
        let (status, v) = h.send_signal(&sender, "order", json!(order));
        assert_eq!(status, 202, "{v}");
        h.eventually("the delivery to wait", |h| {
            h.log()
                .matches("paused at external-before-delivery")
                .count()
                > paused_before
        });
        let kinds = h.event_kinds(&sender);
        let awaited = kinds.iter().position(|k| k == "signal_awaited").unwrap();
        assert!(kinds.iter().any(|k| k == "external_sent"), "{kinds:?}");
        let (status, v) = h.call(
            "POST",
            &format!("/v1/executions/{sender}/reset"),
            Some(json!({"to_event": awaited, "reason": "test", "exclude_signals": true})),
        );
        assert_eq!(status, 200, "{v}");
        h.send_signal(&sender, "order", json!("nothing"));
        assert_eq!(h.wait_result(&sender)["output"], "nothing");
        // Every delivery of the request has reached the pause point by
        // now; released, each ends with a record in the store.
        let paused = h
            .log()
            .matches("paused at external-before-delivery")
            .count();
        h.release("external-before-delivery");
        h.wait_for_log("request delivered", paused, Duration::from_secs(30));
        let outbox = table(home(&sender), "outbox");
        assert_eq!(psql(&url, &format!("SELECT count(*) FROM {outbox}")), "0");
        let (status, v) = h.send_signal(&victim, "tick", json!("last"));
        assert_eq!(status, 202, "{order}: the victim runs on: {v}");
        let r = h.wait_result(&victim);
        assert_eq!(r["status"], "completed", "{order}: {r}");
        assert_eq!(
            r["output"],
            json!(["last"]),
            "{order}: no order reached it: {r}"
        );
        let kinds = h.event_kinds(&victim);
        assert!(
            !kinds.iter().any(|k| k == "cancel_requested"),
            "{order}: {kinds:?}"
        );
    }
}

/// A child's id taken in another partition between the parent's check and
/// its commit (the directory refuses the child there) is recorded as not
/// started, as an id taken in the parent's own partition is; the parent's
/// task was refused and written again without end.
#[test]
fn a_child_id_taken_in_another_partition_is_recorded_as_not_started() {
    let Some(url) = database() else { return };
    let h = Host::in_cluster(
        &url,
        &[
            "--lease",
            "2s",
            "--host-id",
            "a",
            "--partitions",
            "4",
            "--manual-clock",
        ],
        &["child-start-before-commit"],
    );
    holds_all(&h, "a");
    h.deploy_examples();
    let parent = (0..)
        .map(|n| format!("parent-{n}"))
        .find(|p| home(p) != home(&format!("{p}-1")))
        .unwrap();
    let child = format!("{parent}-1");
    let (status, v) = h.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "misbehave", "id": parent, "input": {"mode": "parent"}})),
    );
    assert_eq!(status, 201, "{v}");
    h.wait_for_log(
        "paused at child-start-before-commit",
        1,
        Duration::from_secs(30),
    );
    let (status, v) = h.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "misbehave", "id": child, "input": {"mode": "sleep"}})),
    );
    assert_eq!(status, 201, "{v}");
    assert_eq!(placed(&url, &child), Some(home(&child)));
    h.release("child-start-before-commit");
    let r = h.wait_result(&parent);
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["failure"]["kind"], "already-started", "{r}");
    let squatter = h.describe(&child);
    assert_eq!(squatter["status"], "running", "{squatter}");
    assert!(squatter["parent"].is_null(), "nobody's child: {squatter}");
}

/// A workflow's signal and cancellation to an execution of a partition
/// another host holds are relayed to that host, which records each once:
/// a sender killed after the target's host recorded a signal delivers it
/// again at its restart, and the target takes it once.
#[test]
fn a_signal_and_a_cancellation_reach_a_partition_another_host_holds() {
    let Some(url) = database() else { return };
    let (mut a, b) = two_hosts(&url, &["external-received"], &[]);
    a.deploy_examples_and_corners();
    let listener = id_in("far-listener", 2, true);
    let sender = id_in("far-sender", 0, true);
    listener_and_sender(&a, &listener, &sender);
    let (status, v) = a.send_signal(&sender, "order", json!("say once"));
    assert_eq!(status, 202, "{v}");
    a.eventually("b recorded the signal", |h| {
        h.log().contains("paused at external-received")
    });
    a.kill();
    a.clear_pause_points();
    a.spawn();
    assert_eq!(b.wait_result(&sender)["output"], "asked");
    b.eventually("the listener took the signal", |h| {
        h.describe(&listener)["run"] == 2
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(b.describe(&listener)["run"], 2, "no signal twice");
    // Back to a and b (a left and came back), a cancellation across them.
    b.eventually("a to hold its partitions again", |h| {
        holders(h) == ["a", "a", "b", "b"]
    });
    let victim = id_in("far-victim", 3, true);
    let orderer = id_in("far-orderer", 1, true);
    cancel_across(&b, &a, &victim, &orderer);
}

/// A signal to a partition whose host is paused (its socket takes the
/// request and nothing answers) is tried again once the try has waited
/// past the front's wait, and delivered once another host holds the
/// partition, once; the paused host wakes fenced and exits.
#[test]
fn a_signal_to_a_paused_hosts_partition_is_delivered_once_another_takes_it() {
    let Some(url) = database() else { return };
    let (a, mut b) = two_hosts(&url, &[], &[]);
    a.deploy_examples_and_corners();
    let listener = id_in("orphan-listener", 3, true);
    let sender = id_in("orphan-sender", 1, true);
    listener_and_sender(&a, &listener, &sender);
    a.eventually("the listener waits", |h| {
        h.event_kinds(&listener)
            .iter()
            .any(|k| k == "signal_awaited")
    });
    b.signal("STOP");
    let (status, v) = a.send_signal(&sender, "order", json!("say once"));
    assert_eq!(status, 202, "{v}");
    assert_eq!(a.wait_result(&sender)["output"], "asked");
    a.eventually("the listener took the signal", |h| {
        h.describe(&listener)["run"] == 2
    });
    assert_eq!(holders(&a), vec!["a"; PARTITIONS as usize]);
    // The first try waited on b, and gave up on it.
    assert!(
        a.log()
            .contains("request not delivered yet; delivered again later"),
        "{}",
        a.log()
    );
    b.signal("CONT");
    let code = b.wait_exit(Duration::from_secs(30));
    assert_eq!(code, Some(3), "{}", b.log());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(a.describe(&listener)["run"], 2, "no signal twice");
}

/// A client's request forwarded to a host paused past its lease (its
/// socket takes the request and nothing answers) does not wait for it to
/// wake: once another host holds the partition, a read is answered by the
/// new holder, and a signal is answered 503, saying it may or may not have
/// taken effect (both waited for b's SIGCONT before). The signal sent
/// again with its request id is delivered once. A lease of 6 s: the
/// requests reach a while b's lease holds (sent after it ended, a would
/// take the partition first and answer them itself).
#[test]
fn a_request_forwarded_to_a_paused_holder_is_answered_once_another_takes_its_partition() {
    let Some(url) = database() else { return };
    let (a, mut b) = two_hosts(&url, &[], &["--lease", "6s"]);
    a.deploy_examples_and_corners();
    let listener = id_in("paused-holder", 3, true);
    a.start_corners(&listener, json!({"mode": "signals", "runs": 3}));
    a.eventually("the listener waits", |h| {
        h.event_kinds(&listener)
            .iter()
            .any(|k| k == "signal_awaited")
    });
    let signal = json!({"name": "tick", "input": "once", "request_id": "tick-1"});
    let signals = format!("/v1/executions/{listener}/signals");
    b.signal("STOP");
    let answers = std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel();
        for (method, path, body) in [
            ("GET", format!("/v1/executions/{listener}"), None),
            ("POST", signals.clone(), Some(signal.clone())),
        ] {
            let (tx, a) = (tx.clone(), &a);
            s.spawn(move || tx.send((method, a.call(method, &path, body))));
        }
        let answers: Vec<_> = (0..2)
            .map(|_| rx.recv_timeout(Duration::from_secs(40)))
            .collect();
        // Woken either way, so that a request waiting on it ends.
        b.signal("CONT");
        answers
    });
    for answer in answers {
        let (method, (status, v)) = answer.expect("a's forwarded request waited on paused b");
        match method {
            "GET" => {
                assert_eq!(status, 200, "{v}");
                assert_eq!(v["id"], listener.as_str(), "{v}");
                assert_eq!(v["held_by"], "a", "the new holder answered: {v}");
            }
            _ => {
                assert_eq!(status, 503, "{v}");
                let said = v["error"]["message"].as_str().unwrap_or_default();
                for part in ["host b", "stopped answering", "may or may not", "retry"] {
                    assert!(said.contains(part), "{part}: {said}");
                }
            }
        }
    }
    assert_eq!(b.wait_exit(Duration::from_secs(30)), Some(3), "{}", b.log());
    let (status, v) = a.call("POST", &signals, Some(signal));
    assert_eq!(status, 202, "{v}");
    a.eventually("the listener took the tick", |h| {
        h.describe(&listener)["run"] == 2
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(a.describe(&listener)["run"], 2, "no signal twice");
}

/// A host given another host's address as its `--advertise`: a request
/// forwarded to it for one of its partitions reaches the other host, which
/// says so, naming both and `--advertise` (it answered "a handover is under
/// way: retry", for as long as the forwarder waited).
#[test]
fn a_host_advertising_another_hosts_address_is_named() {
    let Some(url) = database() else { return };
    let a = host(&url, "a", &[]);
    holds_all(&a, "a");
    let b = host_with(&url, "b", &[], &["--advertise", &a.url]);
    b.eventually("a to hand b its partitions", |h| {
        holders(h) == ["a", "a", "b", "b"]
    });
    let id = id_in("misdirected", 2, true);
    let (status, v) = a.call("GET", &format!("/v1/executions/{id}"), None);
    assert_eq!(status, 502, "{v}");
    let said = v["error"]["message"].as_str().unwrap_or_default();
    for part in ["host b", "reached host a", "--advertise"] {
        assert!(said.contains(part), "{part}: {said}");
    }
}

/// The route hosts relay requests through is refused on a store of one
/// partition (no host relays to it), whatever the body.
#[test]
fn the_relay_route_is_refused_on_a_store_of_one_partition() {
    let h = Host::launch(&[], "info");
    let body = json!({"from": 1, "request": {"key": "x/1/1", "sender": "x", "handle": 1,
        "target": "y", "name": "tick", "input": "null", "cancel": false}});
    let (status, v) = h.call("POST", "/v1/internal/receive", Some(body));
    assert_eq!(status, 400, "{v}");
    let said = v["error"]["message"].as_str().unwrap_or_default();
    assert!(said.contains("nothing was recorded"), "{said}");
}

/// A read forwarded to a partition's holder whose connection the holder's
/// death cut (SIGKILL) is asked again of the next holder, as one a paused
/// holder never answers is: a `result` waiting for an execution's end gets
/// its end (before, a 502 "got no answer ... may or may not have taken
/// effect" the moment the holder died, for a read that changes nothing).
/// A write so cut is still answered 502 (it may have taken effect).
#[test]
fn a_read_forwarded_to_a_holder_killed_under_it_is_asked_again_of_the_next() {
    let Some(url) = database() else { return };
    let (a, mut b) = two_hosts(&url, &[], &[]);
    a.deploy_examples();
    let id = id_in("cut-read", 3, true);
    let (status, v) = a.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "hello", "id": id,
                    "input": {"name": "cut", "delay_ms": 3000}})),
    );
    assert_eq!(status, 201, "{v}");
    let (status, v) = std::thread::scope(|s| {
        let waiting = s.spawn(|| {
            a.call(
                "GET",
                &format!("/v1/executions/{id}/result?wait=true&timeout_ms=60000"),
                None,
            )
        });
        // Forwarded to b, which holds partition 3, and waiting there.
        std::thread::sleep(Duration::from_millis(700));
        b.kill();
        waiting.join().expect("the waiting read")
    });
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["output"], "HELLO, CUT!", "{v}");
    assert_eq!(a.describe(&id)["held_by"], "a", "a took b's partitions");
}
