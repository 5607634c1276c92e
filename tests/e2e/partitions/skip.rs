//! A time skip on a store of several partitions, across its hosts.

use super::*;

/// `weft clock skip` sent to one host waits for every host to be idle and
/// moves the clock to the next time something waits for on any host: an
/// activity attempt running on the other host holds it, and a timer of a
/// partition the other host holds is where it moves.
#[test]
fn a_time_skip_sent_to_one_host_waits_for_and_moves_to_every_hosts_work() {
    let Some(url) = database() else { return };
    let flags = ["--manual-clock", "--route-activity", "greet=mocks"];
    let a = host_with(&url, "a", &[], &flags);
    holds_all(&a, "a");
    a.deploy_examples();
    let b = host_with(&url, "b", &[], &flags);
    b.eventually("a to hand b its partitions", |h| {
        holders(h) == ["a", "a", "b", "b"]
    });
    let t0 = a.get("/v1/clock")["now_ms"].as_u64().unwrap();
    // In a partition b holds: its first activity waits on the queue,
    // served by nobody yet.
    let id = id_in("skip", 2, true);
    a.start_as("hello", &id, json!({"name": "mock", "sleep_ms": 3_600_000}));
    b.eventually("the attempt to wait on its queue", |h| {
        h.describe(&id)["pending_activities"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    });
    let said = a.cli_ok(&["clock", "skip"]);
    assert!(
        said.contains("did not skip") && said.contains("activity attempt"),
        "{said}"
    );
    assert_eq!(a.get("/v1/clock")["now_ms"].as_u64().unwrap(), t0);
    // A worker polling a takes b's task.
    crate::testing::answer_the_mock_and_wait_for_the_timer(&a, &id);
    // A limit short of b's timer, then b's timer: a has none.
    let limit = t0 + 60_000;
    let (status, v) = a.call("POST", "/v1/clock/skip", Some(json!({"limit_ms": limit})));
    assert_eq!((status, v["now_ms"].as_u64()), (200, Some(limit)), "{v}");
    let said = a.cli_ok(&["clock", "skip"]);
    assert!(said.contains("skipped 59m"), "{said}");
    let result = a.wait_result(&id);
    assert_eq!(result["output"], "MOCKED, MOCK!", "{result}");
    crate::testing::assert_the_timer_fired_on_time(&a, &id);
    // b follows the stored clock; nothing waits for time any more.
    b.eventually("b to follow the clock", |h| {
        h.get("/v1/clock")["now_ms"].as_u64() == a.get("/v1/clock")["now_ms"].as_u64()
    });
    let (_, v) = b.call("POST", "/v1/clock/skip", Some(json!({})));
    assert_eq!(v["held"], "nothing-waits", "{v}");
}
