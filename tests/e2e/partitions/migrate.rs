//! `weft store migrate` into and out of stores of several partitions.

use super::*;

/// `weft store migrate --partitions 4`: an embedded store with work in
/// flight (a timer, a retry, queued signals, a parent waiting for its
/// child, a schedule's running action, a start with a request id) moves
/// into a PostgreSQL store of four partitions, each execution where a host
/// of that store would have made it (a child with its parent, a schedule's
/// action with the schedule, a request's start in its request id's home),
/// and everything finishes there; then back to a data directory.
#[test]
fn a_store_moves_into_four_partitions_and_back_with_work_in_flight() {
    use crate::postgres::{
        assert_histories_go_on, histories, host_on_copy, migrate, migrate_ok, migrate_with,
        work_in_flight, HOUR,
    };
    let Some(url) = database() else { return };
    let mut on_redb = Host::on_store(&["--manual-clock"], None);
    on_redb.deploy_examples_and_corners();
    let mut ids = work_in_flight(&on_redb).to_vec();
    // A parent whose child's id has another home than its own.
    let parent = (0..)
        .map(|n| format!("family-{n}"))
        .find(|p| home(p) != home(&format!("{p}-c")))
        .expect("an id");
    let child = format!("{parent}-c");
    on_redb.start_corners(&parent, json!({"mode": "join-nap"}));
    // A start known by its request id alone, whose id's home is not its
    // request id's (one more try while they agree).
    let mut asked = Value::Null;
    let mut requested = String::new();
    for n in 0.. {
        asked = json!({"workflow_type": "corners", "request_id": format!("moved-request-{n}"),
                       "input": {"mode": "nap", "timeout_ms": HOUR}});
        let (status, first) = on_redb.call("POST", "/v1/executions", Some(asked.clone()));
        assert_eq!(status, 201, "{first}");
        requested = first["id"].as_str().expect("an id").to_owned();
        ids.push(requested.clone());
        if home(&requested) != home(&format!("moved-request-{n}")) {
            break;
        }
    }
    // A schedule whose action naps an hour, triggered now; again while
    // the action's id and the schedule's name have one home.
    let running =
        |h: &Host, name: &str| h.get(&format!("/v1/schedules/{name}"))["state"]["running"].clone();
    let mut schedule = String::new();
    let mut action = String::new();
    for n in 0.. {
        schedule = format!("moved-nightly-{n}");
        let (status, v) = on_redb.call(
            "POST",
            "/v1/schedules",
            Some(
                json!({"name": schedule, "spec": {"intervals": [{"every_ms": 100 * HOUR}]},
                        "action": {"workflow_type": "corners",
                                   "input": {"mode": "nap", "timeout_ms": HOUR}}}),
            ),
        );
        assert_eq!(status, 201, "{v}");
        on_redb.cli_ok(&["schedule", "trigger", &schedule]);
        on_redb.eventually("the schedule's action to start", |h| {
            running(h, &schedule)
                .as_array()
                .is_some_and(|r| r.len() == 1)
        });
        action = running(&on_redb, &schedule)[0]
            .as_str()
            .expect("an id")
            .to_owned();
        ids.push(action.clone());
        if home(&action) != home(&schedule) {
            break;
        }
    }
    on_redb.eventually("the family to nap", |h| {
        h.event_kinds(&child).contains(&"timer_started".to_string())
    });
    ids.extend([parent.clone(), child.clone()]);
    let count = on_redb.get("/v1/execution-count")["count"].clone();
    assert_eq!(count, ids.len(), "{ids:?}");
    let copied = format!("copied {count} executions");
    let before = histories(&on_redb, &ids);
    on_redb.kill();
    let data = on_redb.data_dir().to_string_lossy().into_owned();

    // --partitions is for a PostgreSQL store made by the copy.
    let scratch = tempfile::tempdir().expect("temp dir");
    let dir = scratch.path().join("store").to_string_lossy().into_owned();
    let out = migrate_with(&data, &dir, &["--partitions", "4"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("has one partition"), "{said}");

    let out = migrate_with(&data, &url, &["--partitions", "4"]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        printed.contains(&copied) && printed.contains("into 4 partitions"),
        "{printed}"
    );
    // Each execution where a host of this store would have made it.
    for id in &ids {
        assert!(placed(&url, id).is_some(), "{id} has no directory row");
    }
    assert_eq!(
        placed(&url, &child),
        placed(&url, &parent),
        "the family split"
    );
    assert_eq!(placed(&url, &parent), Some(home(&parent)));
    assert_eq!(
        placed(&url, &requested),
        Some(home(asked["request_id"].as_str().unwrap()))
    );
    assert_eq!(placed(&url, &action), Some(home(&schedule)));
    // A second copy is refused: the database holds a store (with other
    // partitions than asked, said first).
    let out = migrate_with(&data, &url, &["--partitions", "2"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("made with 4 partition(s)"), "{said}");
    let out = migrate(&data, &url);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("already holds a weft store"), "{said}");

    let mut h = host_with(&url, "a", &[], &["--manual-clock"]);
    holds_all(&h, "a");
    assert_histories_go_on(&histories(&h, &ids), &before);
    // The start sent again finds the execution it made.
    let (status, again) = h.call("POST", "/v1/executions", Some(asked));
    assert!(status == 200 || status == 201, "{again}");
    assert_eq!(again["id"], requested.as_str(), "{again}");
    assert_eq!(h.query(&ids[2], "status")["plan"], "pro");
    h.cli_ok(&[
        "update",
        "sub-moved",
        "cancel",
        "--input",
        r#"{"reason": "moved"}"#,
    ]);
    h.advance(HOUR + 1_000);
    for id in &ids[..] {
        let r = h.wait_result(id);
        assert_eq!(r["status"], "completed", "{id}: {r}");
    }
    assert_eq!(h.wait_result(&parent)["output"], "rested");
    let retried = h.wait_result(&ids[1]);
    assert_eq!(retried["output"], "succeeded on attempt 2", "{retried}");
    // The schedule's partition saw its action end.
    h.eventually("the schedule to see its action end", |h| {
        running(h, &schedule).as_array().is_some_and(Vec::is_empty)
    });
    let after = histories(&h, &ids);
    h.kill();

    // From four partitions into two, each id where the first copy put it
    // or in its family's (here: by the same rules).
    let two = database().expect("a database");
    let out = migrate_with(&url, &two, &["--partitions", "2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        placed(&two, &child),
        placed(&two, &parent),
        "the family split"
    );
    let mut on_two = host_with(&two, "b", &[], &["--manual-clock"]);
    assert_eq!(
        histories(&on_two, &ids),
        after,
        "the copy changed a history"
    );
    on_two.kill();

    // And back into one data directory: the same histories.
    let printed = migrate_ok(&two, &dir);
    assert!(printed.contains(&copied), "{printed}");
    let again = host_on_copy(std::path::Path::new(&dir));
    assert_eq!(
        histories(&again, &ids),
        after,
        "the copy back changed a history"
    );
    assert_eq!(again.get("/v1/execution-count")["count"], count);
}
