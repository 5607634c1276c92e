//! Several hosts on one PostgreSQL store: one holds it (its lease) and runs
//! the executions, the others stand by, forward requests to it, and take
//! over when it dies (at once), stops renewing (after its lease) or hands
//! the store over (a graceful stop). Real host processes, real signals. In
//! the suite's PostgreSQL pass (`cargo xtask test` starts the cluster);
//! without one they say so and pass.

use std::time::{Duration, Instant};

use weft_e2e::serde_json::{json, Value};
use weft_e2e::{postgres_store as database, psql, psql_background, psql_stdin, Host};

const LEASE: &str = "2s";

fn host(url: &str, id: &str, points: &[&str]) -> Host {
    Host::in_cluster(url, &["--lease", LEASE, "--host-id", id], points)
}

/// A host whose `greet` activity is routed to the `greeters` task queue,
/// for tests that act as its worker.
fn routed(url: &str, id: &str, points: &[&str]) -> Host {
    routed_with(url, id, points, &[])
}

/// [`routed`], with these flags besides.
fn routed_with(url: &str, id: &str, points: &[&str], extra: &[&str]) -> Host {
    let mut args = vec![
        "--lease",
        LEASE,
        "--host-id",
        id,
        "--route-activity",
        "greet=greeters",
    ];
    args.extend_from_slice(extra);
    Host::in_cluster(url, &args, points)
}

/// A host with the default lease (10 s).
fn host_long_lease(url: &str, id: &str) -> Host {
    Host::in_cluster(url, &["--host-id", id], &[])
}

fn view(h: &Host) -> Value {
    h.get("/v1/cluster")
}

fn holder(h: &Host) -> String {
    view(h)["lease"]["holder"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `generation owner` per taking of the store, in order.
fn lease_log(url: &str) -> Vec<String> {
    psql(
        url,
        "SELECT string_agg(generation || ' ' || owner, ',' ORDER BY generation) FROM weft_lease_log",
    )
    .split(',')
    .map(str::to_owned)
    .collect()
}

/// Every commit carries its writer, partition and lease generation: each
/// was made by the generation's holder of its partition, and none after
/// the partition's next generation was taken (no history has a write from
/// a fenced host). A store of one partition has partition 0 alone.
pub(crate) fn no_write_from_a_fenced_host(url: &str) {
    let foreign = psql(
        url,
        "SELECT count(*) FROM weft_commit_tokens t \
         LEFT JOIN weft_lease_log l ON l.part = t.part AND l.generation = t.generation \
         WHERE t.host IS DISTINCT FROM l.owner",
    );
    assert_eq!(
        foreign, "0",
        "commits by a host not holding their generation"
    );
    let late = psql(
        url,
        "SELECT count(*) FROM weft_commit_tokens t \
         JOIN weft_lease_log n ON n.part = t.part AND n.generation > t.generation \
         WHERE t.committed_at > n.taken_at",
    );
    assert_eq!(
        late, "0",
        "commits of a generation after a later one took the store"
    );
    let commits = psql(url, "SELECT count(*) FROM weft_commit_tokens");
    assert_ne!(
        commits, "0",
        "no commit was recorded: the check proves nothing"
    );
}

/// How many times each activity of `ids` started, over these hosts' logs.
pub(crate) fn attempts_started(hosts: &[&Host], ids: &[String]) -> Vec<usize> {
    let logs: String = hosts.iter().map(|h| h.log()).collect();
    let mut counts = Vec::new();
    for id in ids {
        for handle in 1..=3 {
            let needle = format!("activity started execution={id} activity=");
            let n = logs
                .lines()
                .filter(|l| l.contains(&needle) && l.contains(&format!(" handle={handle} ")))
                .count();
            counts.push(n);
        }
    }
    counts
}

fn start_hellos(h: &Host, prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            h.start_execution(
                "hello",
                json!({"name": format!("{prefix}{i}"), "delay_ms": 300}),
            )
        })
        .collect()
}

#[test]
fn any_host_answers_and_a_killed_holder_is_replaced_at_once() {
    let Some(url) = database() else { return };
    let mut a = host_long_lease(&url, "a");
    a.eventually("a to hold the store", |h| holder(h) == "a");
    let b = host_long_lease(&url, "b");
    let c = host_long_lease(&url, "c");
    // b and c stand by and forward: a client may talk to any host.
    b.deploy_examples();
    let v = view(&c);
    let roles: Vec<(String, String)> = v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["host_id"].as_str().unwrap().to_owned(),
                h["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (id, role) in [("a", "holder"), ("b", "standby"), ("c", "standby")] {
        assert!(
            roles.contains(&(id.to_owned(), role.to_owned())),
            "{id} should be {role}: {v}"
        );
    }
    assert_eq!(b.cli_ok(&["cluster"]).matches("standby").count(), 2);
    let ids = start_hellos(&c, "k", 12);
    // Activities are in flight when the holder dies.
    std::thread::sleep(Duration::from_millis(200));
    a.kill();
    let killed = Instant::now();
    b.eventually("a standby to take the store", |h| {
        matches!(holder(h).as_str(), "b" | "c")
    });
    // Its sessions ended with it: a standby waits a renewal's time (2.5 s,
    // and a second) for it to come back, not the lease (10 s).
    assert!(
        killed.elapsed() < Duration::from_secs(6),
        "took {:?}",
        killed.elapsed()
    );
    b.assert_hellos_completed_once(&ids, "K");
    let log = lease_log(&url);
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0], "1 a");
    assert!(log[1] == "2 b" || log[1] == "2 c", "{log:?}");
    // Every activity ran, at least once (an attempt the dead host was
    // running runs again on the next holder, as after a crash of one host).
    assert!(attempts_started(&[&a, &b, &c], &ids)
        .iter()
        .all(|n| *n >= 1));
    no_write_from_a_fenced_host(&url);
}

/// A read a standby forwarded to the holder, cut under way by the holder's
/// death (SIGKILL), is asked again of the next holder: a `result` waiting
/// for an execution's end gets it (before: a 502 "got no answer", for a
/// read that changes nothing). The twin of
/// `partitions::routing::a_read_forwarded_to_a_holder_killed_under_it_...`.
#[test]
fn a_read_a_standby_forwarded_to_a_holder_killed_under_it_is_asked_again() {
    let Some(url) = database() else { return };
    let mut a = host(&url, "a", &[]);
    a.eventually("a to hold the store", |h| holder(h) == "a");
    let b = host(&url, "b", &[]);
    b.deploy_examples();
    let (status, v) = b.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "hello", "id": "cut-read",
                    "input": {"name": "cut", "delay_ms": 3000}})),
    );
    assert_eq!(status, 201, "{v}");
    let (status, v) = std::thread::scope(|s| {
        let waiting = s.spawn(|| {
            b.call(
                "GET",
                "/v1/executions/cut-read/result?wait=true&timeout_ms=60000",
                None,
            )
        });
        // Forwarded to a, and waiting there.
        std::thread::sleep(Duration::from_millis(700));
        a.kill();
        waiting.join().expect("the waiting read")
    });
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["output"], "HELLO, CUT!", "{v}");
    assert_eq!(holder(&b), "b");
}

/// A write that meets the holder's hold unconfirmed for most of its lease
/// (its renewal late: a pause shorter than the lease, woken) waits for the
/// renewal instead of failing: the host stops writing by its own clock a
/// fifth of a lease before the database could give the store away, and a
/// renewal that comes a moment later lets the write go on (before, it was
/// refused with 503 "nothing was changed", and a client had to retry,
/// though the store was still this host's: a README try, 4 s pauses of a
/// 6 s lease).
#[test]
fn a_write_meeting_an_unconfirmed_hold_waits_for_the_renewal() {
    let Some(url) = database() else { return };
    // A lease of 10 s: renewed every 2.5 s; writes stop by the host's own
    // clock 8 s after the last renewal, the lease ends after 10.
    let a = Host::in_cluster(
        &url,
        &["--lease", "10s", "--host-id", "a"],
        &["lease-renewing#2"],
    );
    a.eventually("a to hold the store", |h| holder(h) == "a");
    a.deploy_examples();
    // The second renewal is held: the last was a quarter lease ago.
    a.wait_for_log("paused at lease-renewing", 1, Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(5_900));
    let (status, v) = std::thread::scope(|s| {
        let start = s.spawn(|| {
            a.call(
                "POST",
                "/v1/executions",
                Some(json!({"workflow_type": "hello", "id": "late-renewal",
                            "input": {"name": "late", "delay_ms": 0}})),
            )
        });
        std::thread::sleep(Duration::from_millis(400));
        a.release("lease-renewing");
        start.join().expect("the start")
    });
    assert_eq!(status, 201, "{v}\n{}", a.log());
    assert_eq!(a.wait_result("late-renewal")["output"], "HELLO, LATE!");
    assert!(
        a.log()
            .contains("a write waits for this host's renewal of its lease"),
        "the write met the unconfirmed hold (else the test proves nothing): {}",
        a.log()
    );
}

/// A host's row in `weft_hosts` is what a standby forwards by: a row the
/// others forgot (they delete rows not seen for an hour: a host cut off
/// for that long) comes back with the host's next refresh, so once that
/// host holds the store the standbys still reach it.
#[test]
fn a_host_whose_row_was_forgotten_is_reached_again_when_it_holds_the_store() {
    let Some(url) = database() else { return };
    let mut a = host(&url, "a", &[]);
    a.eventually("a to hold the store", |h| holder(h) == "a");
    let b = host(&url, "b", &[]);
    let c = host(&url, "c", &[]);
    c.deploy_examples();
    // Both standbys' rows go: whichever takes the store must be reached
    // by the other.
    psql(&url, "DELETE FROM weft_hosts WHERE host_id IN ('b', 'c')");
    a.kill();
    c.eventually("a standby to take the store", |h| {
        matches!(holder(h).as_str(), "b" | "c")
    });
    for h in [&b, &c] {
        let (_, out) = h.run_execution("hello", json!({"name": "found"}));
        assert_eq!(out["status"], "completed", "{out}");
    }
}

/// A holder advertised at an address that reaches nothing: a standby
/// says so, naming the holder, the address and `--advertise` (it waited,
/// then said no host had held the store: retry, for good).
#[test]
fn a_holder_advertised_at_an_address_that_reaches_nothing_is_named() {
    let Some(url) = database() else { return };
    let a = Host::in_cluster(
        &url,
        &[
            "--lease",
            LEASE,
            "--host-id",
            "a",
            "--advertise",
            "http://127.0.0.1:9",
        ],
        &[],
    );
    a.eventually("a to hold the store", |h| holder(h) == "a");
    let b = host(&url, "b", &[]);
    let (status, v) = b.call("GET", "/v1/executions", None);
    assert_eq!(status, 502, "{v}");
    let said = v["error"]["message"].as_str().unwrap_or_default();
    for part in ["host a", "http://127.0.0.1:9", "--advertise"] {
        assert!(said.contains(part), "{part}: {said}");
    }
}

/// A host advertising another host's address (here c gives b's): once c
/// holds the store, b's forwards reach b itself. Said as such, naming
/// `--advertise` (it was "a handover is under way: retry", for good).
#[test]
fn a_holder_advertising_another_hosts_address_is_named() {
    let Some(url) = database() else { return };
    let mut a = host(&url, "a", &[]);
    a.eventually("a to hold the store", |h| holder(h) == "a");
    let b = host(&url, "b", &[]);
    let c = Host::in_cluster(
        &url,
        &["--lease", LEASE, "--host-id", "c", "--advertise", &b.url],
        &[],
    );
    b.signal("STOP");
    a.kill();
    c.eventually("c to take the store", |h| holder(h) == "c");
    b.signal("CONT");
    let (status, v) = b.call("GET", "/v1/executions", None);
    assert_eq!(status, 502, "{v}");
    let said = v["error"]["message"].as_str().unwrap_or_default();
    for part in ["host c", "reached host b", "--advertise"] {
        assert!(said.contains(part), "{part}: {said}");
    }
}

/// The holder stops (SIGSTOP) after its own check that it holds the store
/// and before its write is sent; its lease expires; a standby ends its
/// lease session and takes the store. Resumed (SIGCONT), the old holder
/// sends its write: the database refuses it (the fence), and the host
/// exits. The write is nowhere; the new holder runs on.
#[test]
fn a_holder_paused_past_its_lease_is_fenced_and_its_late_write_refused() {
    let Some(url) = database() else { return };
    let mut a = host(&url, "a", &["write-begun"]);
    // a's first group commit after its start (the retention sweep's) began.
    a.wait_for_log("paused at write-begun", 1, Duration::from_secs(60));
    a.signal("STOP");
    let b = host(&url, "b", &[]);
    b.eventually("b to take the store once a's lease expired", |h| {
        holder(h) == "b"
    });
    assert!(
        b.log()
            .contains("the store's lease expired; ended its holder's sessions"),
        "{}",
        b.log()
    );
    b.deploy_examples();
    let (_, out) = b.run_execution("hello", json!({"name": "b"}));
    assert_eq!(out["output"], "HELLO, B!", "{out}");
    a.release("write-begun");
    a.signal("CONT");
    assert_eq!(a.wait_exit(Duration::from_secs(30)), Some(3), "{}", a.log());
    let log = a.log();
    // Refused by the database's fence (a test where the paused host never
    // wrote would prove nothing).
    assert!(
        log.contains("the database refused a write of this host"),
        "{log}"
    );
    assert!(log.contains("generation 2 is held by b"), "{log}");
    assert_eq!(lease_log(&url), ["1 a", "2 b"]);
    no_write_from_a_fenced_host(&url);
    // The new holder runs on, and a restarted a stands by.
    a.spawn();
    let ids = start_hellos(&a, "p", 3);
    b.assert_hellos_completed_once(&ids, "P");
    assert_eq!(holder(&a), "b");
}

/// A tiny HTTP server on loopback that counts the requests it answered
/// (`pong` to each), one connection at a time in the order they came; a
/// request for `/barrier` is answered and not counted (see `barrier`).
fn counting_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("127.0.0.1:{}", server.local_addr().unwrap().port());
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for conn in server.incoming() {
            let Ok(mut conn) = conn else { break };
            let mut buf = [0u8; 4096];
            let n = conn.read(&mut buf).unwrap_or(0);
            if n == 0 {
                continue;
            }
            if !buf[..n].starts_with(b"GET /barrier ") {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npong",
            );
        }
    });
    (address, served)
}

/// Returns once `counting_server` at `address` has handled every
/// connection made before this call: it answers them in order.
fn barrier(address: &str) {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(address).unwrap();
    conn.write_all(b"GET /barrier HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.ends_with("pong"), "{answer}");
}

/// A holder paused (SIGSTOP) past its lease while an activity's request
/// was about to go out, and resumed once another host took the store and
/// ran the attempt again: the paused host holds the request (it cannot
/// confirm that it holds the store) and exits fenced without sending it,
/// so the side effect happens once.
#[test]
fn a_holder_paused_past_its_lease_sends_no_request_its_successor_sends_again() {
    let Some(url) = database() else { return };
    let (address, served) = counting_server();
    let mut a = host(&url, "a", &["activity-http"]);
    a.eventually("a to hold the store", |h| holder(h) == "a");
    a.cli_ok(&[
        "deploy",
        &weft_e2e::guest("hello-activities").to_string_lossy(),
        "--allow-http",
        &address,
    ]);
    a.cli_ok(&["deploy", &weft_e2e::guest("polling").to_string_lossy()]);
    let id = a.start_execution(
        "polling",
        json!({"mode": "call", "activity": "http_get", "args": format!("http://{address}/charge")}),
    );
    a.wait_for_log("paused at activity-http", 1, Duration::from_secs(60));
    a.signal("STOP");
    let b = host(&url, "b", &[]);
    b.eventually("b to take the store once a's lease expired", |h| {
        holder(h) == "b"
    });
    let r = b.wait_result(&id);
    assert_eq!(r["output"], "pong", "{r}");
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
    // a goes on from where it stopped: its request is about to go out.
    a.release("activity-http");
    a.signal("CONT");
    assert_eq!(a.wait_exit(Duration::from_secs(30)), Some(3), "{}", a.log());
    let log = a.log();
    // It reached the request (a test where it never did proves nothing).
    assert!(
        log.contains("released at activity-http"),
        "a stopped before its activity went on: {log}"
    );
    // a is gone: whatever it sent is handled before the barrier is.
    barrier(&address);
    assert_eq!(
        served.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the paused host's request went out after another host ran the attempt"
    );
    assert!(
        log.contains("outgoing HTTP held: this host may not act now"),
        "{log}"
    );
    no_write_from_a_fenced_host(&url);
}

/// Each host in turn is stopped gracefully (SIGTERM) and started again: a
/// stopping holder lets its running activity attempts finish, starts no
/// more, and hands the store over at once. No activity runs twice.
#[test]
fn a_rolling_restart_hands_the_store_over_and_runs_no_activity_twice() {
    let Some(url) = database() else { return };
    let mut hosts = vec![host(&url, "a", &[])];
    hosts[0].eventually("a to hold the store", |h| holder(h) == "a");
    hosts.push(host(&url, "b", &[]));
    hosts.push(host(&url, "c", &[]));
    hosts[1].deploy_examples();
    let mut ids = Vec::new();
    for round in 0..3 {
        let held = holder(&hosts[0]);
        let i = ["a", "b", "c"].iter().position(|h| *h == held).unwrap();
        let other = (i + 1) % 3;
        let batch = start_hellos(&hosts[other], &format!("r{round}-"), 8);
        std::thread::sleep(Duration::from_millis(150));
        hosts[i].signal("TERM");
        let stopped = Instant::now();
        assert_eq!(hosts[i].wait_exit(Duration::from_secs(60)), Some(0));
        hosts[other].eventually("another host to take the store", |h| {
            let now = holder(h);
            !now.is_empty() && now != held
        });
        // Handed over, not waited out: well within a lease of the stop's end.
        assert!(
            stopped.elapsed() < Duration::from_secs(30),
            "{:?}",
            stopped.elapsed()
        );
        hosts[i].spawn();
        ids.push((round, batch));
    }
    for (round, batch) in &ids {
        hosts[0].assert_hellos_completed_once(batch, &format!("R{round}-"));
    }
    let all: Vec<String> = ids.into_iter().flat_map(|(_, b)| b).collect();
    let hosts_ref: Vec<&Host> = hosts.iter().collect();
    let counts = attempts_started(&hosts_ref, &all);
    assert!(
        counts.iter().all(|n| *n == 1),
        "an activity started more than once (or never): {counts:?}"
    );
    assert_eq!(lease_log(&url).len(), 4);
    no_write_from_a_fenced_host(&url);
}

/// Found by the suite's PostgreSQL pass (the rolling restart above: one
/// activity of 72 started twice): a stopping holder waited for the activity
/// slots, which an attempt gave back when it ended, before its end was
/// written; the stop could hand the store over while that write was still to
/// come, the write was refused, and the next holder ran the attempt again.
/// The holder is paused between an attempt's end and its record while it
/// stops: it must wait for the record before it gives the store up.
#[test]
fn a_graceful_stop_writes_an_ended_attempt_before_it_hands_the_store_over() {
    let Some(url) = database() else { return };
    let mut a = host(&url, "a", &["activity-ended"]);
    a.eventually("a to hold the store", |h| holder(h) == "a");
    let b = host(&url, "b", &[]);
    a.deploy_examples();
    let id = a.start_execution("hello", json!({"name": "drain"}));
    a.wait_for_log("paused at activity-ended", 1, Duration::from_secs(30));
    a.signal("TERM");
    a.wait_for_log("handing the store over", 1, Duration::from_secs(30));
    // A stop that does not wait for the record is over by now.
    let early = a.exit_within(Duration::from_secs(3));
    a.release("activity-ended");
    let code = early.unwrap_or_else(|| a.wait_exit(Duration::from_secs(60)));
    assert_eq!(code, Some(0));
    b.eventually("b to hold the store", |h| holder(h) == "b");
    let r = b.wait_result(&id);
    assert_eq!(r["status"], "completed", "{r}");
    let counts = attempts_started(&[&a, &b], std::slice::from_ref(&id));
    assert_eq!(counts, [1, 1, 1], "greet, shout, exclaim each started once");
    assert_eq!(
        early, None,
        "a gave the store up before its attempt was written"
    );
}

/// Holder `a` (held before it accepts an update) and standby `b` on the
/// store at `url`, and an update sent through `b` (a subscription's
/// `cancel`), held at `a`: the thread joins to its answer, or why there
/// was none.
#[allow(clippy::type_complexity)]
fn an_update_held_by_the_holder(
    url: &str,
) -> (
    Host,
    Host,
    std::thread::JoinHandle<Result<(u16, Value), String>>,
) {
    let a = host(url, "a", &["update-before-accept"]);
    a.eventually("a to hold the store", |h| holder(h) == "a");
    let b = host(url, "b", &[]);
    a.deploy_examples();
    let id = a.start_execution("subscription", json!({"customer": "ada", "plan": "basic"}));
    a.eventually("the period's timer", |h| {
        h.event_kinds(&id).iter().any(|k| k == "timer_started")
    });
    let update = {
        let url = format!("{}/v1/executions/{id}/updates", b.url);
        std::thread::spawn(move || {
            weft_e2e::http()
                .post(url)
                .json(&json!({"name": "cancel", "input": {"reason": "moving"}, "update_id": "c1", "wait_ms": 30_000}))
                .send()
                .map(|r| (r.status().as_u16(), r.json::<Value>().unwrap_or_default()))
                .map_err(|e| e.to_string())
        })
    };
    a.wait_for_log("paused at update-before-accept", 1, Duration::from_secs(30));
    (a, b, update)
}

/// Found by a review of the stop paths: a standby stopped (SIGTERM, a
/// rolling restart) exited at once, cutting the requests it was forwarding
/// to the holder: their clients got a reset connection instead of the
/// answer (an update applied, its client not told). It answers them first.
#[test]
fn a_stopping_standby_answers_the_requests_it_forwards() {
    let Some(url) = database() else { return };
    let (a, mut b, update) = an_update_held_by_the_holder(&url);
    b.signal("TERM");
    // A standby that does not wait for the request has exited by now.
    let early = b.exit_within(Duration::from_secs(2));
    a.release("update-before-accept");
    let answer = update.join().expect("the update call");
    assert_eq!(early, None, "b exited before answering: {answer:?}");
    let (status, v) = answer.expect("an answer, not a cut connection");
    assert_eq!((status, &v["status"]), (200, &json!("completed")), "{v}");
    assert_eq!(b.wait_exit(Duration::from_secs(30)), Some(0));
}

/// Found by a review of the stopping standby: while it answered the
/// requests it forwarded, its wait for the store went on, and a holder
/// handing the store over then (the whole cluster stopped) gave it to the
/// stopping standby, which held it with no engine and then exited. A host
/// that is stopping takes nothing.
#[test]
fn a_stopping_standby_does_not_take_the_store() {
    let Some(url) = database() else { return };
    // b forwards an update a holds: b's stop waits for its answer.
    let (mut a, mut b, update) = an_update_held_by_the_holder(&url);
    b.signal("TERM");
    b.wait_for_log(
        "stopping: answering the requests",
        1,
        Duration::from_secs(30),
    );
    a.signal("TERM");
    a.wait_for_log("gave the store up", 1, Duration::from_secs(30));
    // A host that joins now takes the store next (a stopping standby that
    // took it first held it until it exited).
    let c = host(&url, "c", &[]);
    c.eventually("c to hold the store", |h| holder(h) == "c");
    a.release("update-before-accept");
    let _ = update.join();
    let _ = a.exit_within(Duration::from_secs(30));
    let _ = b.exit_within(Duration::from_secs(30));
    assert_eq!(
        lease_log(&url),
        ["1 a", "2 c"],
        "a stopping standby took the store"
    );
}

/// Issue 17: "a graceful stop drains its attempts before releasing a lease"
/// held for component attempts only. A task a worker had taken from the
/// stopping holder was not waited for: the store was handed over at once,
/// the worker's answer found no host that knew its token, and the next
/// holder queued the activity again (a worker ran it twice). Now a stopping
/// holder hands out no task, waits for those taken to be answered and
/// written, then hands the store over.
#[test]
fn a_graceful_stop_waits_for_a_task_a_worker_has_taken() {
    let Some(url) = database() else { return };
    let mut a = routed(&url, "a", &[]);
    a.eventually("a to hold the store", |h| holder(h) == "a");
    let b = routed(&url, "b", &[]);
    a.deploy_examples();
    let id = a.start_execution("hello", json!({"name": "worker"}));
    let (status, task) = weft_e2e::poll_greeters(&a, 30_000);
    assert_eq!(status, 200, "{task}");
    let token = task["token"].as_str().expect("a token").to_owned();
    a.signal("TERM");
    a.wait_for_log("handing the store over", 1, Duration::from_secs(30));
    // A stop that does not wait for the worker is over by now.
    let early = a.exit_within(Duration::from_secs(3));
    let answer_to = if early.is_none() { &a } else { &b };
    let (status, v) = answer_to.call(
        "POST",
        &format!("/v1/tasks/{token}/complete"),
        Some(json!({"output": "Hello, worker"})),
    );
    let code = early.unwrap_or_else(|| a.wait_exit(Duration::from_secs(60)));
    assert_eq!(code, Some(0));
    assert_eq!(
        early, None,
        "a gave the store up while a worker held its task"
    );
    assert_eq!(status, 200, "the worker's answer: {v}");
    b.eventually("b to hold the store", |h| holder(h) == "b");
    let r = b.wait_result(&id);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["output"], "HELLO, WORKER!", "{r}");
    // Nobody queued greet again.
    assert_eq!(weft_e2e::poll_greeters(&b, 200).0, 204);
}

/// Found by a review of the handover paths: a holder handing its store
/// over (SIGTERM) hands out no task while it waits for those workers hold,
/// but a queued task's schedule-to-start kept counting there, and its
/// timeout (which retries nothing) was recorded: the activity failed for
/// good though workers polled, as the stop outlasted it. The task is left
/// to the next holder, which queues it afresh.
#[test]
fn a_stopping_holder_does_not_time_out_a_task_no_worker_took() {
    let Some(url) = database() else { return };
    let mut a = routed_with(&url, "a", &[], &["--manual-clock"]);
    a.eventually("a to hold the store", |h| holder(h) == "a");
    let b = routed_with(&url, "b", &[], &["--manual-clock"]);
    a.deploy_examples();
    // A worker holds a greet task: the stop waits for its answer.
    a.start_execution("hello", json!({"name": "worker"}));
    let (status, task) = weft_e2e::poll_greeters(&a, 30_000);
    assert_eq!(status, 200, "{task}");
    let token = task["token"].as_str().expect("a token").to_owned();
    let id = a.start_execution("polling", json!({"mode": "schedule-to-start"}));
    a.eventually("its task is queued", |h| {
        h.event_kinds(&id).iter().any(|k| k == "activity_scheduled")
    });
    a.signal("TERM");
    a.wait_for_log("handing the store over", 1, Duration::from_secs(30));
    a.advance(6_000);
    a.eventually("the schedule-to-start passed", |h| {
        h.log().contains("the task is left to the next holder")
            || h.event_kinds(&id).iter().any(|k| k == "activity_failed")
    });
    let (status, v) = a.call(
        "POST",
        &format!("/v1/tasks/{token}/complete"),
        Some(json!({"output": "Hello, worker"})),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(a.wait_exit(Duration::from_secs(60)), Some(0));
    b.eventually("b to hold the store", |h| holder(h) == "b");
    the_next_holder_queues_it_afresh(&b, &id);
}

/// `polling` execution `id`'s task (schedule-to-start mode), left by a
/// stopping holder, is queued afresh by `b`, the next holder: a worker
/// polling `b` gets it, answers, and the execution completes.
pub(crate) fn the_next_holder_queues_it_afresh(b: &Host, id: &str) {
    let (status, task) = b.call(
        "POST",
        "/v1/task-queues/nobody-polls-this/poll?wait_ms=30000",
        None,
    );
    assert_eq!(status, 200, "the next holder queued it: {task}");
    assert_eq!(task["execution_id"], id, "{task}");
    let token = task["token"].as_str().expect("a token");
    let (status, v) = b.call(
        "POST",
        &format!("/v1/tasks/{token}/complete"),
        Some(json!({"output": {"square": 1}})),
    );
    assert_eq!(status, 200, "{v}");
    let r = b.wait_result(id);
    assert_eq!(r["status"], "completed", "{r}");
}

/// A task a worker took survives the death of the host that handed it out:
/// the holder is SIGKILLed while the worker holds the task, and the worker's
/// heartbeat and answer reach the new holder (through any host) under the
/// same token; nobody else is given the task. Before, the new holder queued
/// it again at once and refused the first worker's answer as stale.
#[test]
fn a_task_a_worker_took_outlives_the_holder_that_handed_it_out() {
    let Some(url) = database() else { return };
    let mut a = routed(&url, "a", &[]);
    a.eventually("a to hold the store", |h| holder(h) == "a");
    let b = routed(&url, "b", &[]);
    a.deploy_examples();
    let id = a.start_execution("hello", json!({"name": "worker"}));
    let (status, task) = weft_e2e::poll_greeters(&b, 30_000);
    assert_eq!(status, 200, "{task}");
    let token = task["token"].as_str().expect("a token").to_owned();
    a.kill();
    b.eventually("b to hold the store", |h| holder(h) == "b");
    let (status, v) = b.call(
        "POST",
        &format!("/v1/tasks/{token}/heartbeat"),
        Some(json!({"details": "half"})),
    );
    assert_eq!(
        status, 200,
        "the worker's heartbeat after the takeover: {v}"
    );
    assert_eq!(
        weft_e2e::poll_greeters(&b, 200).0,
        204,
        "greet was queued again"
    );
    let (status, v) = b.call(
        "POST",
        &format!("/v1/tasks/{token}/complete"),
        Some(json!({"output": "Hello, worker"})),
    );
    assert_eq!(status, 200, "the worker's answer after the takeover: {v}");
    let r = b.wait_result(&id);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["output"], "HELLO, WORKER!", "{r}");
    assert_eq!(weft_e2e::poll_greeters(&b, 200).0, 204);
}

/// An answer a holder took and could not record (it lost the store while
/// paused past its lease) is not acknowledged: the worker gets no 200 and
/// sends it again, to the new holder, which adopted the task under the same
/// token; the activity's end is recorded once. (The old holder exits as it
/// finds itself fenced; before, it also answered 200 when it gave the
/// attempt up, in a race with that exit, and the answer was lost.)
#[test]
fn an_answer_a_fenced_holder_could_not_record_is_not_acknowledged() {
    let Some(url) = database() else { return };
    let mut a = routed(&url, "a", &["activity-ended"]);
    a.eventually("a to hold the store", |h| holder(h) == "a");
    a.deploy_examples();
    let id = a.start_execution("hello", json!({"name": "worker"}));
    let (status, task) = weft_e2e::poll_greeters(&a, 30_000);
    assert_eq!(status, 200, "{task}");
    let token = task["token"].as_str().expect("a token").to_owned();
    let answer = weft_e2e::complete_in_background(&a.url, &token, json!("Hello, worker"));
    a.wait_for_log("paused at activity-ended", 1, Duration::from_secs(30));
    a.signal("STOP");
    let b = routed(&url, "b", &[]);
    b.eventually("b to take the store once a's lease expired", |h| {
        holder(h) == "b"
    });
    a.release("activity-ended");
    a.signal("CONT");
    let first = answer.join().expect("the answer's thread");
    assert!(
        first.as_ref().map_or(true, |code| *code != 200),
        "a acknowledged an answer it could not record: {first:?}\n{}",
        a.log()
    );
    assert_eq!(a.wait_exit(Duration::from_secs(30)), Some(3), "{}", a.log());
    let (status, v) = b.call(
        "POST",
        &format!("/v1/tasks/{token}/complete"),
        Some(json!({"output": "Hello, worker"})),
    );
    assert_eq!(status, 200, "the answer sent again, to b: {v}");
    let r = b.wait_result(&id);
    assert_eq!(r["output"], "HELLO, WORKER!", "{r}");
    let kinds = b.event_kinds(&id);
    assert!(
        !kinds.contains(&"activity_attempt_failed".to_owned()),
        "one attempt: {kinds:?}"
    );
}

/// A `weft server` on the store at `url` with these flags exits before it
/// serves anything, saying `said`.
/// (One that still runs after 30 s is stopped, and the test fails.)
fn refused(url: &str, args: &[&str], said: &str) {
    let data = tempfile::tempdir().unwrap();
    let log = data.path().join("stderr");
    let mut child = std::process::Command::new(weft_e2e::weft_bin())
        .args(["server", "--store", url, "--data"])
        .arg(data.path())
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let status = weft_e2e::exited_within(&mut child, Duration::from_secs(30));
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        status.is_some_and(|s| !s.success()),
        "{args:?} started: {stderr}"
    );
    assert!(stderr.contains(said), "{args:?}: {stderr}");
}

/// Hosts started at the same moment on a database that does not exist yet
/// all start: one creates it, the others find it made. One was refused
/// ("the database ... does not exist and could not be created (duplicate key
/// value violates unique constraint ...): create it ... or give a user that
/// may": a README try started the README's hosts with `&`), as PostgreSQL
/// answers a creation racing another with a unique violation, not with
/// "duplicate database".
#[test]
fn hosts_started_together_on_a_new_database_all_start() {
    let Some(base) = weft_e2e::postgres_base() else {
        return;
    };
    let url = format!("{base}/{}", weft_e2e::fresh_database_name());
    let dirs: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut hosts: Vec<_> = dirs
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            std::process::Command::new(weft_e2e::weft_bin())
                .args([
                    "server",
                    "--listen",
                    "127.0.0.1:0",
                    "--lease",
                    LEASE,
                    "--store",
                    &url,
                ])
                .args(["--host-id", &format!("t{i}"), "--data"])
                .arg(dir.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::fs::File::create(dir.path().join("log")).unwrap())
                .spawn()
                .unwrap()
        })
        .collect();
    let said: Vec<Option<String>> = hosts
        .iter_mut()
        .map(|host| weft_e2e::first_line(host, weft_e2e::START_LIMIT))
        .collect();
    for mut host in hosts {
        let _ = host.kill();
        let _ = host.wait();
    }
    for (i, line) in said.iter().enumerate() {
        let log = std::fs::read_to_string(dirs[i].path().join("log")).unwrap_or_default();
        assert!(
            line.as_deref()
                .is_some_and(|l| l.starts_with("listening on")),
            "host t{i}: {line:?}\n{log}"
        );
    }
}

/// Hosts of one store run on one clock. A host started without
/// `--manual-clock` beside a live host started with it is refused by name
/// before it joins (it cleared the manual clock the other ran on, and
/// executions saw two times: a README try's finding), and the reverse;
/// with the same clock it joins.
#[test]
fn a_host_whose_clock_is_not_the_live_hosts_is_refused_by_name() {
    for manual in [true, false] {
        let Some(url) = database() else { return };
        let flags = |id: &'static str, manual: bool| {
            let mut args = vec!["--listen", "127.0.0.1:0", "--lease", LEASE, "--host-id", id];
            if manual {
                args.push("--manual-clock");
            }
            args
        };
        let a = Host::in_cluster(&url, &flags("a", manual)[2..], &[]);
        a.eventually("a to hold the store", |h| holder(h) == "a");
        let said = if manual {
            "weft host a on this store runs on a manual clock (--manual-clock), and this host \
             would run on the system clock"
        } else {
            "weft host a on this store runs on the system clock, and this host would run on a \
             manual clock (--manual-clock)"
        };
        refused(&url, &flags("b", !manual), said);
        let b = Host::in_cluster(&url, &flags("b", manual)[2..], &[]);
        a.eventually("b to join", |h| {
            view(h)["hosts"].as_array().is_some_and(|v| v.len() == 2)
        });
        assert_eq!(holder(&b), "a");
        assert_eq!(a.get("/v1/clock")["manual"], manual);
    }
}

/// Flags a host on a shared store cannot work with are refused by name,
/// before the host serves anything.
#[test]
fn cluster_flags_that_cannot_work_are_refused_by_name() {
    let Some(url) = database() else { return };
    let a = host(&url, "a", &[]);
    a.eventually("a to hold the store", |h| holder(h) == "a");
    let refused = |args: &[&str], said: &str| refused(&url, args, said);
    // A second live host under a's name would be taken for it.
    refused(
        &["--listen", "127.0.0.1:0", "--host-id", "a"],
        "another live weft host is named a",
    );
    refused(
        &["--listen", "127.0.0.1:0", "--host-id", "a b"],
        "give 1 to 40 letters",
    );
    refused(
        &["--listen", "0.0.0.0:0", "--token", "t"],
        "give --advertise",
    );
    // a is unharmed.
    assert_eq!(holder(&a), "a");
}

/// A host started again the moment its last process ended is not refused
/// as its own twin: a session of the ended process still running a
/// statement (PostgreSQL ends it when the statement ends: a lock wait
/// within the lock timeout) is waited for. It was refused ("another live
/// weft host is named h1") by the verification runner's seed 410, started
/// again at once after a fenced exit.
#[test]
fn a_host_started_again_while_its_ended_process_session_ends_is_not_its_twin() {
    let Some(url) = database() else { return };
    let mut a = host(&url, "a", &[]);
    a.eventually("a to hold the store", |h| holder(h) == "a");
    a.kill();
    let mut lingering = psql_background(&url, "weft:a#4194305", "SELECT pg_sleep(4)");
    let t0 = Instant::now();
    while psql(
        &url,
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'weft:a#4194305'",
    ) != "1"
    {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "psql's session never showed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    a.spawn();
    a.eventually("a to hold the store again", |h| holder(h) == "a");
    assert!(lingering.wait().unwrap().success());
    // It met the session (a test where the session had ended first would
    // prove nothing).
    assert!(a.log().contains("waiting for it to end"), "{}", a.log());
}

/// A standby compiles what is deployed into its own compile cache while it
/// stands by; after it takes the store, its engine loads those entries (no
/// second entry per module: the keys agree) instead of compiling inside
/// the failover.
#[test]
fn a_standby_compiles_deployed_modules_ahead() {
    let Some(url) = database() else { return };
    let caches = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let cache = |i: usize| caches[i].path().to_string_lossy().into_owned();
    let in_cache = |i: usize| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(caches[i].path())
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".cwasm"))
            .collect();
        names.sort();
        names
    };
    let mut a = Host::in_cluster(
        &url,
        &[
            "--lease",
            LEASE,
            "--host-id",
            "a",
            "--compile-cache",
            &cache(0),
        ],
        &[],
    );
    a.eventually("a to hold the store", |h| holder(h) == "a");
    let b = Host::in_cluster(
        &url,
        &[
            "--lease",
            LEASE,
            "--host-id",
            "b",
            "--compile-cache",
            &cache(1),
        ],
        &[],
    );
    a.deploy_examples();
    let modules = a.get("/v1/modules")["modules"].as_array().unwrap().len();
    b.wait_for_log("compiled a module ahead", modules, Duration::from_secs(300));
    assert_eq!(in_cache(1).len(), modules, "{:?}", in_cache(1));
    a.kill();
    b.eventually("b to take the store", |h| holder(h) == "b");
    let (_, out) = b.run_execution("hello", json!({"name": "warm"}));
    assert_eq!(out["output"], "HELLO, WARM!", "{out}");
    // The engine's keys are the warmer's: nothing compiled twice.
    assert_eq!(in_cache(1).len(), modules, "{:?}", in_cache(1));
}

/// A rolling upgrade's guard: a newer weft that migrates the database past
/// what these hosts run on (its step's hosts-from above their schema
/// version) stops them writing. The holder finds it at its next renewal and
/// exits saying to upgrade it; the standby refuses to take the store it
/// leaves. Before, both went on: the holder wrote as its release does into a
/// schema it did not know, and the standby took over when the holder
/// stopped. Twice: the step only raising the schema's version, and also
/// ending the holder's generation as a contract step does (its next write
/// or renewal finds the lease lost; it still says to upgrade, not to
/// rejoin as a standby).
#[test]
fn hosts_stop_writing_once_a_newer_weft_migrates_the_database_past_them() {
    for ends_generation in [false, true] {
        let Some(url) = database() else { return };
        outdated_hosts_stop(&url, ends_generation);
    }
}

fn outdated_hosts_stop(url: &str, ends_generation: bool) {
    let mut a = host(url, "old-a", &[]);
    a.eventually("a to hold the store", |h| holder(h) == "old-a");
    let mut b = host(url, "old-b", &[]);
    a.eventually("b to stand by", |h| {
        view(h)["hosts"].as_array().is_some_and(|v| v.len() == 2)
    });
    a.deploy_examples();
    let (_, r) = a.run_execution("hello", json!({"name": "before"}));
    assert_eq!(r["status"], "completed", "{r}");
    let ours: i32 = psql(url, "SELECT version FROM weft_schema")
        .trim()
        .parse()
        .expect("a schema version");
    let next = ours + 1;
    let mut step = format!("UPDATE weft_schema SET version = {next}, hosts_from = {next};");
    if ends_generation {
        step.push_str("UPDATE weft_leases SET generation = generation + 1, owner = NULL;");
    }
    psql(url, &step);
    let code = a.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(3), "{}", a.log());
    let said = a.log();
    assert!(
        said.contains(&format!("weft schema version {next}"))
            && said.contains("upgrade this host")
            && !said.contains("rejoin"),
        "{said}"
    );
    let code = b.wait_exit(Duration::from_secs(15));
    assert!(matches!(code, Some(c) if c != 0), "{code:?}\n{}", b.log());
    let said = b.log();
    assert!(
        said.contains(&format!("weft schema version {next}")) && said.contains("upgrade this host"),
        "{said}"
    );
    assert_eq!(lease_log(url), ["1 old-a"], "nobody took the store after a");
}

/// A rolling upgrade to a release with a newer `weft:workflow` contract: a
/// component that imports it is refused while a live host provides an
/// older one (that host could not run it once it held the store, and its
/// executions would stall), naming the host; it is deployed once that host
/// is gone. The older host is its row, as a release of that contract
/// writes it (no such release exists to run). A host of a release before
/// the column, rejoining under an id whose row a newer one wrote, reads as
/// the oldest contract such a release provides, not as the newer one.
#[test]
fn a_component_a_live_host_could_not_run_is_refused_until_that_host_is_gone() {
    let Some(url) = database() else { return };
    let h1 = host_long_lease(&url, "h1");
    h1.eventually("h1 to hold the store", |h| holder(h) == "h1");
    // Seen an hour from now: live for the whole test.
    psql(
        &url,
        "INSERT INTO weft_hosts (host_id, address, version, contract, contract_started, \
         started_at, seen_at) VALUES ('h0', 'http://127.0.0.1:9', '0.1.0', '0.1.2', \
         now(), now(), now() + interval '1 hour')",
    );
    let contracts = |h: &Host| -> Vec<(String, String)> {
        view(h)["hosts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| {
                (
                    x["host_id"].as_str().unwrap_or_default().to_owned(),
                    x["contract"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let seen = contracts(&h1);
    assert!(seen.contains(&("h0".into(), "0.1.2".into())), "{seen:?}");
    assert!(
        seen.iter().any(|(id, c)| id == "h1" && c != "0.1.2"),
        "{seen:?}"
    );
    let hello = weft_e2e::guest("hello").to_string_lossy().into_owned();
    let out = h1.cli(&["deploy", &hello]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        said.contains("h0 (weft 0.1.0, contract 0.1.2)") && said.contains("Upgrade those hosts"),
        "{said}"
    );
    assert!(
        !h1.cli_ok(&["modules"]).contains("hello"),
        "a refused deploy stored the module"
    );
    // A release before the column rejoins as h0: its start moves, the
    // contract a newer release wrote for h0 no longer holds.
    psql(
        &url,
        "UPDATE weft_hosts SET contract = '9.9.9', started_at = now() WHERE host_id = 'h0'",
    );
    let seen = contracts(&h1);
    assert!(seen.contains(&("h0".into(), "0.1.3".into())), "{seen:?}");
    // Back at its old contract, then not seen for two minutes (killed,
    // say): gone, and the component is deployed.
    psql(
        &url,
        "UPDATE weft_hosts SET contract = '0.1.2', contract_started = started_at \
         WHERE host_id = 'h0'",
    );
    assert!(!h1.cli(&["deploy", &hello]).status.success());
    psql(
        &url,
        "UPDATE weft_hosts SET seen_at = now() - interval '2 minutes' WHERE host_id = 'h0'",
    );
    h1.cli_ok(&["deploy", &hello]);
}

/// `bytes` with the version of every `weft:workflow/...@X.Y.Z` name made
/// 9.9.9 (each digit a 9: the same length, so the component stays
/// well-formed, imports and the names that wire them alike).
fn built_for_a_newer_contract(mut bytes: Vec<u8>) -> Vec<u8> {
    let needle = b"weft:workflow/";
    let mut patched = 0;
    let mut i = 0;
    while let Some(at) = bytes[i..].windows(needle.len()).position(|w| w == needle) {
        let mut j = i + at + needle.len();
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'-') {
            j += 1;
        }
        if bytes.get(j) == Some(&b'@') {
            j += 1;
            while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b'.') {
                if bytes[j].is_ascii_digit() {
                    bytes[j] = b'9';
                }
                j += 1;
            }
            patched += 1;
        }
        i = j;
    }
    assert!(patched > 0, "no weft:workflow import found");
    bytes
}

/// Found by reading the load path: a host whose contract is older than a
/// component's (one host rolled back, say) stalled that component's
/// executions as soon as it loaded them. A stall is recorded: a host that
/// provides the contract did not run them either, until a reset. Now such
/// a host leaves them running for one that can. No release of an older
/// contract exists to run: the component in the store is made newer
/// instead (the approval example's contract raised to 9.9.9), and put back
/// as it was for the host that "provides" it. The host has its own compile
/// cache, so the suite's shared one never holds the changed component.
#[test]
fn a_host_that_cannot_run_a_component_leaves_its_executions_for_one_that_can() {
    let Some(url) = database() else { return };
    let mut h1 = host(&url, "h1", &[]);
    h1.eventually("h1 to hold the store", |h| holder(h) == "h1");
    let path = weft_e2e::guest("approval");
    h1.cli_ok(&["deploy", &path.to_string_lossy()]);
    let id = h1.start_execution("approval", json!({}));
    h1.eventually("the deadline timer", |h| {
        h.event_kinds(&id).contains(&"timer_started".to_string())
    });
    h1.kill();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let original = std::fs::read(&path).expect("read the component");
    let put = |bytes: &[u8]| {
        // The store holds this one module.
        psql_stdin(
            &url,
            &format!(
                "UPDATE weft_modules SET v = decode('{}', 'hex')",
                hex(bytes)
            ),
        )
    };
    put(&built_for_a_newer_contract(original.clone()));
    let caches = tempfile::tempdir().expect("temp dir");
    let cache = caches
        .path()
        .join("compiled")
        .to_string_lossy()
        .into_owned();
    let mut h2 = Host::in_cluster(
        &url,
        &[
            "--lease",
            LEASE,
            "--host-id",
            "h2",
            "--compile-cache",
            &cache,
        ],
        &[],
    );
    h2.eventually("h2 to hold the store", |h| holder(h) == "h2");
    let (code, v) = h2.send_signal(&id, "decision", json!({"approved": true, "by": "grace"}));
    assert_eq!(code, 202, "{v}");
    h2.wait_for_log("weft:workflow@9.9.9", 1, Duration::from_secs(60));
    h2.wait_for_log(
        "this host cannot run the execution",
        1,
        Duration::from_secs(10),
    );
    let d = h2.describe(&id);
    assert_eq!(d["status"], "running", "{d}");
    assert!(h2.metric("weft_executions_not_runnable_total") >= 1.0);
    // A host that provides the contract: the component as built, compiled
    // afresh.
    h2.kill();
    put(&original);
    std::fs::remove_dir_all(&cache).expect("empty the compile cache");
    h2.spawn();
    h2.eventually("h2 to hold the store again", |h| holder(h) == "h2");
    let r = h2.wait_result(&id);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["output"], "approved by grace");
}

/// Found by reading the activity path: an activity component this host
/// cannot run (built for a newer contract, the host rolled back) failed
/// every attempt as a trap, and under a bounded policy the activity failed
/// for good although it never ran. Its attempts now wait for a host that
/// provides the contract, and use none of the activity's attempts. The
/// kitchen-sink's `flaky` step here allows one attempt.
#[test]
fn an_activity_this_host_cannot_run_waits_for_a_host_that_can() {
    let Some(url) = database() else { return };
    let mut h1 = host(&url, "h1", &[]);
    h1.eventually("h1 to hold the store", |h| holder(h) == "h1");
    let activities = weft_e2e::guest("hello-activities");
    for path in [&activities, &weft_e2e::guest("kitchen-sink")] {
        h1.cli_ok(&["deploy", &path.to_string_lossy()]);
    }
    h1.kill();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let original = std::fs::read(&activities).expect("read the component");
    let newer = built_for_a_newer_contract(original.clone());
    let swap = |from: &[u8], to: &[u8]| {
        let done = psql_stdin(
            &url,
            &format!(
                "UPDATE weft_modules SET v = decode('{}', 'hex') WHERE v = decode('{}', 'hex')",
                hex(to),
                hex(from)
            ),
        );
        assert!(done.contains("UPDATE 1"), "{done}");
    };
    swap(&original, &newer);
    let caches = tempfile::tempdir().expect("temp dir");
    let cache = caches
        .path()
        .join("compiled")
        .to_string_lossy()
        .into_owned();
    let mut h2 = Host::in_cluster(
        &url,
        &[
            "--lease",
            LEASE,
            "--host-id",
            "h2",
            "--compile-cache",
            &cache,
        ],
        &[],
    );
    h2.eventually("h2 to hold the store", |h| holder(h) == "h2");
    let program = json!({"steps": [{"do": "flaky", "id": 1, "fail_times": 0, "max_attempts": 1}]});
    let id = h2.start_execution("kitchen-sink", program);
    h2.wait_for_log(
        "this host cannot run the activity",
        1,
        Duration::from_secs(60),
    );
    let d = h2.describe(&id);
    assert_eq!(d["status"], "running", "{d}");
    assert!(h2.metric("weft_activities_not_runnable_total") >= 1.0);
    // A host that provides the contract: the component as built, compiled
    // afresh.
    h2.kill();
    swap(&newer, &original);
    std::fs::remove_dir_all(&cache).expect("empty the compile cache");
    h2.spawn();
    h2.eventually("h2 to hold the store again", |h| holder(h) == "h2");
    let r = h2.wait_result(&id);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["output"]["outcomes"], json!(["flaky:ok:1"]), "{r}");
}
