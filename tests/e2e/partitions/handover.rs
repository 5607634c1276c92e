//! Partitions changing hands: hosts killed, paused past their lease,
//! stopped gracefully, joining, rolled one by one, or outdated by a newer
//! weft; nothing lost, nothing run twice, no write from a fenced host.

use super::*;

/// A killed host's partitions are spread over the hosts left, and what
/// every partition shares, written through partition 0's holder, moves on
/// every host: a manual clock moved through any host (the timers of
/// partitions held by another host fire), a version made current, a new
/// search attribute.
#[test]
fn a_killed_hosts_partitions_are_spread_and_what_all_share_moves_on_every_host() {
    let Some(url) = database() else { return };
    let clocked = |id: &str| {
        Host::in_cluster(
            &url,
            &[
                "--lease",
                "2s",
                "--host-id",
                id,
                "--partitions",
                "4",
                "--manual-clock",
            ],
            &[],
        )
    };
    let mut a = clocked("a");
    holds_all(&a, "a");
    // Of hosts d and c, the even assignment gives d partitions 0 and 2,
    // c partitions 1 and 3.
    let b = clocked("d");
    let c = clocked("c");
    b.deploy_examples();
    // A host counts in the others' assignment once it has been registered
    // for a lease (2 s): before, the first host to look takes everything.
    std::thread::sleep(Duration::from_millis(2_500));
    a.kill();
    b.eventually("d and c to hold every partition between them", |h| {
        holders(h) == ["d", "c", "d", "c"]
    });
    let held = holders(&b);
    let on_c: Vec<String> = (0..)
        .map(|n| format!("sleeper-{n}"))
        .filter(|id| held[home(id) as usize] == "c")
        .take(3)
        .collect();
    for id in &on_c {
        let (status, v) = b.call(
            "POST",
            "/v1/executions",
            Some(json!({"workflow_type": "timer-fanout", "id": id,
                        "input": {"items": ["x"], "sleep_ms": 3_600_000}})),
        );
        assert_eq!(status, 201, "{v}");
    }
    for id in &on_c {
        c.eventually("the timer to start", |h| {
            h.event_kinds(id).iter().any(|k| k == "timer_started")
        });
    }
    // Through c, which forwards it to d (partition 0's holder, which
    // stores it); c follows the stored clock.
    c.advance(3_600_000);
    for id in &on_c {
        let r = b.wait_result(id);
        assert_eq!(r["status"], "completed", "{r}");
    }

    // What every partition shares is written through d, and c follows it:
    // a version change and a new search attribute (c kept the current
    // version of `order`, and knew no `Region`).
    for v in ["v1", "v2"] {
        b.cli_ok(&[
            "deploy",
            &guest(&format!("order-{v}")).to_string_lossy(),
            "--name",
            "order",
        ]);
    }
    let orders: Vec<String> = (0..)
        .map(|n| format!("order-{n}"))
        .filter(|id| held[home(id) as usize] == "c")
        .take(2)
        .collect();
    let start_order = |id: &str| {
        let (status, v) = c.call(
            "POST",
            "/v1/executions",
            Some(json!({"workflow_type": "order", "id": id, "input": {"order": "o"}})),
        );
        assert_eq!(status, 201, "{v}");
        c.describe(id)["version"].clone()
    };
    assert_eq!(start_order(&orders[0]), 2);
    b.cli_ok(&["set-current", "order", "1"]);
    let (status, v) = b.call(
        "POST",
        "/v1/search-attributes",
        Some(json!({"name": "Region", "type": "keyword"})),
    );
    assert_eq!(status, 201, "{v}");
    // Hosts read what the others changed every 100 ms.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(start_order(&orders[1]), 1, "the version d made current");
    let (status, v) = c.call("GET", "/v1/executions?query=Region%20%3D%20'eu'", None);
    assert_eq!(status, 200, "every partition knows Region: {v}");
    // A name a workflow registers (the approval's `ApprovalState`, on one
    // of d's partitions) is known on c too.
    let on_d = (0..)
        .map(|n| format!("approval-{n}"))
        .find(|id| held[home(id) as usize] == "d")
        .unwrap();
    let (status, v) = b.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "approval", "id": on_d, "input": {"timeout_hours": 1}})),
    );
    assert_eq!(status, 201, "{v}");
    b.eventually("the approval waits", |h| {
        h.describe(&on_d)["search_attributes"]["ApprovalState"]["value"] == "pending"
    });
    std::thread::sleep(Duration::from_millis(500));
    let (status, v) = c.call(
        "GET",
        "/v1/executions?query=ApprovalState%20%3D%20'pending'",
        None,
    );
    assert_eq!(status, 200, "every partition knows ApprovalState: {v}");
    assert_eq!(v["executions"].as_array().map(Vec::len), Some(1), "{v}");
}

/// A host joining takes the partitions the assignment gives it: their
/// holder hands each over once its running activity attempts ended and
/// were written, so none runs twice; requests go on meanwhile.
#[test]
fn a_joining_host_is_handed_its_partitions_and_no_activity_runs_twice() {
    let Some(url) = database() else { return };
    let a = host(&url, "a", &[]);
    holds_all(&a, "a");
    a.deploy_examples();
    let start = |h: &Host, prefix: &str, i: usize| {
        h.start_execution(
            "hello",
            json!({"name": format!("{prefix}{i}"), "delay_ms": 300}),
        )
    };
    let mut ids: Vec<String> = (0..12).map(|i| start(&a, "j", i)).collect();
    // The assignment over a and b gives b partitions 2 and 3.
    let b = host(&url, "b", &[]);
    ids.extend((12..20).map(|i| start(&b, "j", i)));
    b.eventually("a to hand b its partitions", |h| {
        holders(h) == ["a", "a", "b", "b"]
    });
    a.assert_hellos_completed_once(&ids, "J");
    // The view names each lease's partition and each host's partitions.
    let view = b.get("/v1/cluster");
    let parts: Vec<Value> = view["leases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["partition"].clone())
        .collect();
    assert_eq!(parts, [json!(0), json!(1), json!(2), json!(3)], "{view}");
    let of = |id: &str| {
        view["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["host_id"] == id)
            .map(|h| h["partitions"].clone())
    };
    assert_eq!(of("a"), Some(json!([0, 1])), "{view}");
    assert_eq!(of("b"), Some(json!([2, 3])), "{view}");
    // A module deployed while both run partitions is compiled ahead on
    // the host it was not deployed through.
    let ahead = b.log().matches("compiled a module ahead").count();
    a.cli_ok(&[
        "deploy",
        &guest("corners").to_string_lossy(),
        "--name",
        "corners",
    ]);
    b.wait_for_log(
        "compiled a module ahead",
        ahead + 1,
        Duration::from_secs(120),
    );
    // Each host's figures: what it runs now, what it handed over.
    assert_eq!(a.metric("weft_partitions_held"), 2.0);
    assert_eq!(b.metric("weft_partitions_held"), 2.0);
    assert_eq!(a.metric("weft_partitions_handed_over_total"), 2.0);
    assert_eq!(b.metric("weft_partitions_handed_over_total"), 0.0);
    assert_eq!(b.metric("weft_holds_store"), 1.0);
    assert_eq!(b.metric("weft_store_takeovers_total"), 2.0);
    let logs = format!("{}{}", a.log(), b.log());
    assert!(logs.contains("handed over"), "a handed nothing over");
    for id in &ids {
        for handle in 1..=3 {
            let needle = format!("activity started execution={id} activity=");
            let n = logs
                .lines()
                .filter(|l| l.contains(&needle) && l.contains(&format!(" handle={handle} ")))
                .count();
            assert_eq!(n, 1, "{id} handle {handle} started {n} times");
        }
    }
}

/// Found by the verification runner on four partitions (seed 101, three
/// hosts): a host paused past its lease woke to its lease session ended by
/// the host that took its partitions, and the round that ran before its
/// renewal found them taken saw them assigned elsewhere: it "handed them
/// over" (releasing nothing: they were not its any more) and ran on
/// holding none, instead of exiting as a fenced host must. A partition
/// whose hold this host cannot confirm now is neither handed over nor kept:
/// the renewal decides, and a taken one ends the host.
#[test]
fn a_host_paused_past_its_lease_finds_its_partitions_taken_and_exits() {
    let Some(url) = database() else { return };
    let mut a = host(&url, "a", &[]);
    holds_all(&a, "a");
    a.deploy_examples();
    let ids: Vec<String> = (0..6)
        .map(|i| a.start_execution("hello", json!({"name": format!("p{i}"), "delay_ms": 300})))
        .collect();
    // b joins, and a is paused before b counts: a wakes holding (it
    // believes) partitions that are assigned to b now.
    let b = host(&url, "b", &[]);
    a.signal("STOP");
    b.eventually("b to hold every partition", |h| {
        holders(h) == vec!["b"; PARTITIONS as usize]
    });
    a.signal("CONT");
    let code = a.wait_exit(Duration::from_secs(30));
    let log = a.log();
    assert_eq!(code, Some(3), "a paused past its lease: {log}");
    assert!(
        !log.contains("handed over part="),
        "a handed over partitions it no longer held: {log}"
    );
    b.assert_hellos_completed_once(&ids, "P");
}

/// A host that wakes to find its partitions taken exits (3) holding no
/// lease, and draws none back on its way out. It took, in the round that
/// found them lost, the partitions the others handed back to it (awake, it
/// was live to them again), and exited holding them: the others waited a
/// lease for them, and a restart of it a moment later was taken for their
/// holder by the verification runner (seed 410), which paused a process
/// that held nothing. Now that round takes nothing, and a fenced host no
/// longer says it is live (see the test below): held in that round for
/// three of b's rounds, it is handed nothing and takes nothing.
#[test]
fn a_host_that_finds_its_partitions_taken_exits_holding_none() {
    let Some(url) = database() else { return };
    let mut a = host(&url, "a", &["assign-found-lost"]);
    holds_all(&a, "a");
    let b = host(&url, "b", &[]);
    a.signal("STOP");
    b.eventually("b to hold every partition", |h| {
        holders(h) == vec!["b"; PARTITIONS as usize]
    });
    let handing = |h: &Host| h.log().matches("now: handing it over").count();
    let before = handing(&b);
    a.signal("CONT");
    a.eventually("a to find its partitions taken", |h| {
        h.log().contains("paused at assign-found-lost")
    });
    // Three of b's rounds (a quarter lease each: leases are real time).
    rounds_pass(&b, 3);
    a.release("assign-found-lost");
    let code = a.wait_exit(Duration::from_secs(30));
    assert_eq!(code, Some(3), "a fenced: {}", a.log());
    let said = a.log();
    assert!(
        said.contains("error: another host took partition") && said.contains("restart it"),
        "{said}"
    );
    // It took nothing after its partitions were found taken (taken, and
    // given up at its exit, they would be in the lease log all the same).
    let taken = psql(
        &url,
        "SELECT count(*) FROM weft_lease_log WHERE owner = 'a' AND generation > 1",
    );
    assert_eq!(taken, "0", "a took partitions as it exited: {}", a.log());
    assert_eq!(handing(&b), before, "b handed partitions to a: {}", b.log());
    holds_all(&b, "b");
}

/// A host woken after a pause past its lease, whose partitions the other
/// host took, is not counted live again on its way out: the other host
/// keeps every partition (it handed those assigned to the woken host over
/// to it, which exited taking none, and they stood unheld until they were
/// taken again at a later generation: a README try saw it twice).
#[test]
fn a_woken_fenced_host_draws_no_partition_back_on_its_way_out() {
    let Some(url) = database() else { return };
    let (mut a, b) = two_hosts(&url, &[], &[]);
    a.signal("STOP");
    holds_all(&b, "b");
    let handing = |h: &Host| h.log().matches("now: handing it over").count();
    let before = (
        handing(&b),
        psql(&url, "SELECT count(*) FROM weft_lease_log"),
    );
    a.signal("CONT");
    assert_eq!(a.wait_exit(Duration::from_secs(30)), Some(3), "{}", a.log());
    // Past the time it took to hand them over (a round), and more.
    rounds_pass(&b, 3);
    assert_eq!(holders(&b), vec!["b"; PARTITIONS as usize], "{}", b.log());
    let after = (
        handing(&b),
        psql(&url, "SELECT count(*) FROM weft_lease_log"),
    );
    assert_eq!(
        after,
        before,
        "b handed partitions to a fenced host: {}\n---- a:\n{}",
        b.log(),
        a.log()
    );
}

/// [`a_woken_fenced_host_draws_no_partition_back_on_its_way_out`], with
/// one of the woken host's partitions not taken yet when it wakes (a
/// session holds that partition's writer lock, as a slow taker would): its
/// overdue renewal of that one finds it still its own, so it holds a live
/// lease again on its way out, and a host holding a live lease counts in
/// the assignment (so that a pause shorter than a lease moves nothing). A
/// host renewing late (past its lease) settles anew first, and a fenced
/// host leaves the hosts at once: the other one hands it nothing. The
/// woken host is held between the renewal that finds partition 0 lost and
/// its fence (a renewal cut by the ended session finds it only a quarter
/// lease later: a run saw the other host hand it partition 0 meanwhile).
#[test]
fn a_woken_fenced_host_still_holding_a_partition_draws_none_back() {
    let Some(url) = database() else { return };
    let (mut a, b) = two_hosts(&url, &["lease-lost"], &[]);
    // Partition 1's writer lock (`lease.rs`: WRITER_LOCK + part * 0x1_0000).
    let lock = 0x7765_6674_0002_i64 + 0x1_0000;
    let taker = Lingering(
        psql_background(
            &url,
            "slow-taker",
            &format!("SELECT pg_advisory_lock({lock}); SELECT pg_sleep(600)"),
        ),
        url.clone(),
    );
    a.signal("STOP");
    b.eventually("b to hold every partition but 1", |h| {
        holders(h) == ["b", "a", "b", "b"] && live_holders(h)[1].is_empty()
    });
    let handing = |h: &Host| h.log().matches("now: handing it over").count();
    let a_took = || {
        psql(
            &url,
            "SELECT count(*) FROM weft_lease_log WHERE owner = 'a'",
        )
    };
    let before = (handing(&b), a_took());
    let woken = psql(&url, "SELECT now()");
    a.signal("CONT");
    a.wait_for_log("paused at lease-lost", 1, Duration::from_secs(30));
    a.eventually("a to renew partition 1", |_| {
        psql(
            &url,
            &format!("SELECT renewed_at > '{woken}' FROM weft_leases WHERE part = 1"),
        ) == "t"
    });
    rounds_pass(&b, 4);
    a.release("lease-lost");
    assert_eq!(a.wait_exit(Duration::from_secs(30)), Some(3), "{}", a.log());
    assert!(
        a.log().contains("took partition 0 of the store over"),
        "{}",
        a.log()
    );
    let renewed = psql(
        &url,
        &format!("SELECT renewed_at > '{woken}' FROM weft_leases WHERE part = 1"),
    );
    assert_eq!(
        renewed, "t",
        "a did not renew partition 1 once woken: the test proves nothing"
    );
    drop(taker);
    b.eventually("b to take partition 1", |h| {
        live_holders(h) == ["b", "b", "b", "b"]
    });
    rounds_pass(&b, 3);
    assert_eq!(
        (handing(&b), a_took()),
        before,
        "b handed partitions to a fenced host, or a took one: {}\n---- a:\n{}",
        b.log(),
        a.log()
    );
}

/// A background psql session (named `slow-taker`) on the database at the
/// url, ended with the test: its server session too (one sleeping does
/// not notice its client gone).
struct Lingering(std::process::Child, String);

impl Drop for Lingering {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        psql(
            &self.1,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = 'slow-taker'",
        );
    }
}

/// A partition handed over is taken without ending the giver's sessions:
/// its release frees the writer's lock before it marks the lease expired,
/// so a taker that looks between the two sees a live lease (and waits a
/// look), never an expired one whose lock is still held (before, it took
/// the giver for a holder that stopped renewing and ended its sessions,
/// its task-notice connection among them: "the store's lease expired;
/// ended its holder's sessions", about one handover in 25).
#[test]
fn a_partition_handed_over_is_taken_without_ending_the_givers_sessions() {
    let Some(url) = database() else { return };
    let a = host(&url, "a", &["lease-release-half#1"]);
    holds_all(&a, "a");
    let b = host(&url, "b", &[]);
    a.wait_for_log("paused at lease-release-half", 1, Duration::from_secs(60));
    // b looks at the partition it is assigned, a round and more.
    rounds_pass(&b, 4);
    a.release("lease-release-half");
    b.eventually("a to hand b its partitions", |h| {
        holders(h) == ["a", "a", "b", "b"]
    });
    no_session_ended(&[("a", &a), ("b", &b)]);
}

/// Neither host ended a session of the other (nor had one ended).
fn no_session_ended(hosts: &[(&str, &Host)]) {
    for (id, h) in hosts {
        let log = h.log();
        assert!(
            !log.contains("ended its holder's sessions")
                && !log.contains("terminating connection due to administrator command"),
            "{id}'s log:\n{log}"
        );
    }
}

/// A host started again at once under its id, taking a partition its
/// ended process gave up, is not taken by another host for that process:
/// the other, finding the partition's lease ended and its lock held, ends
/// only sessions of the holder's process (none: its lease session is gone)
/// or begun before its lease ended (before, it ended
/// every session under the host's name: the new process's lease session in
/// the middle of its take, and its task-notice connection; a README try
/// saw it once in 16 quick restarts).
#[test]
fn a_host_restarted_at_once_is_not_taken_for_its_ended_process() {
    let Some(url) = database() else { return };
    let (a, mut b) = two_hosts(&url, &[], &["--lease", "6s"]);
    // a looks again only once b's new process holds partition 2's lock.
    a.signal("STOP");
    b.signal("TERM");
    assert_eq!(b.wait_exit(Duration::from_secs(30)), Some(0), "{}", b.log());
    b.pause_at(&["lease-taking#1"]);
    b.spawn();
    b.wait_for_log("paused at lease-taking", 1, Duration::from_secs(60));
    a.signal("CONT");
    // a looks at the partitions b gave up (b's new process has not settled:
    // they are a's to take), a round and more.
    rounds_pass(&a, 4);
    b.release("lease-taking");
    a.eventually("b to hold partitions 2 and 3 again", |h| {
        holders(h) == ["a", "a", "b", "b"]
    });
    no_session_ended(&[("a", &a), ("b", &b)]);
}

/// A host paused in the middle of a write, past its lease, on a store of
/// several partitions: the other host takes every partition, and the
/// paused host's write, sent once it wakes, is refused by the database's
/// fence (a test where the paused host never wrote would prove nothing);
/// no partition's history has a write of a generation that did not hold
/// it. The twin of `cluster::a_holder_paused_past_its_lease_is_fenced_...`.
#[test]
fn a_host_paused_mid_write_past_its_lease_has_its_late_write_refused() {
    let Some(url) = database() else { return };
    let mut a = host(&url, "a", &["write-begun"]);
    // A group commit of one of a's partitions began.
    a.wait_for_log("paused at write-begun", 1, Duration::from_secs(60));
    holds_all(&a, "a");
    a.signal("STOP");
    let b = host(&url, "b", &[]);
    holds_all(&b, "b");
    b.deploy_examples();
    let ids: Vec<String> = (0..4).map(|p| id_in("late", p, true)).collect();
    for id in &ids {
        b.start_as("hello", id, json!({"name": id}));
    }
    let upper: Vec<String> = ids.iter().map(|id| id.to_uppercase()).collect();
    for (id, name) in ids.iter().zip(&upper) {
        let r = b.wait_result(id);
        assert_eq!(r["output"], format!("HELLO, {name}!"), "{r}");
    }
    a.release("write-begun");
    a.signal("CONT");
    assert_eq!(a.wait_exit(Duration::from_secs(30)), Some(3), "{}", a.log());
    let log = a.log();
    assert!(
        log.contains("the database refused a write of this host"),
        "{log}"
    );
    for part in 0..PARTITIONS {
        let taken = psql(
            &url,
            &format!(
                "SELECT string_agg(generation || ' ' || owner, ',' ORDER BY generation) \
                 FROM weft_lease_log WHERE part = {part}"
            ),
        );
        assert_eq!(taken, "1 a,2 b", "partition {part}");
    }
    crate::cluster::no_write_from_a_fenced_host(&url);
    let b_wrote = psql(
        &url,
        "SELECT count(DISTINCT part) FROM weft_commit_tokens WHERE host = 'b'",
    );
    assert_eq!(
        b_wrote, "4",
        "b's commits in every partition: the check proves nothing else"
    );
    // a, restarted, is handed its partitions, and the work goes on.
    a.clear_pause_points();
    a.spawn();
    b.eventually("b to hand a its partitions", |h| {
        holders(h) == ["a", "a", "b", "b"]
    });
    let again: Vec<String> = (0..4).map(|p| id_in("again", p, true)).collect();
    for id in &again {
        a.start_as("hello", id, json!({"name": "x"}));
    }
    for id in &again {
        assert_eq!(b.wait_result(id)["output"], "HELLO, X!");
    }
}

/// A rolling upgrade's guard on a store of several partitions: a newer
/// weft that migrates the database past what these hosts run on stops
/// every host holding partitions; each says to upgrade it (not that
/// another host took its partitions, nor to restart it), and nobody takes
/// a partition after them. Twice, as in `cluster::hosts_stop_writing_...`:
/// the step only raising the schema's version, and also ending every
/// partition's generation.
#[test]
fn hosts_of_several_partitions_stop_once_a_newer_weft_migrates_the_database_past_them() {
    for ends_generation in [false, true] {
        let Some(url) = database() else { return };
        let (mut a, mut b) = two_hosts(&url, &[], &[]);
        a.deploy_examples();
        for part in 0..PARTITIONS {
            let id = id_in("before", part, true);
            a.start_as("hello", &id, json!({"name": "x"}));
            assert_eq!(a.wait_result(&id)["output"], "HELLO, X!");
        }
        let taken = || {
            psql(
                &url,
                "SELECT string_agg(part || ':' || generation || ' ' || owner, ',' \
                 ORDER BY part, generation) FROM weft_lease_log",
            )
        };
        let before = taken();
        let ours: i32 = psql(&url, "SELECT version FROM weft_schema")
            .parse()
            .expect("a schema version");
        let next = ours + 1;
        let mut step = format!("UPDATE weft_schema SET version = {next}, hosts_from = {next};");
        if ends_generation {
            step.push_str("UPDATE weft_leases SET generation = generation + 1, owner = NULL;");
        }
        psql(&url, &step);
        for h in [&mut a, &mut b] {
            let code = h.wait_exit(Duration::from_secs(15));
            let said = h.log();
            assert_eq!(code, Some(3), "{said}");
            let last = said
                .lines()
                .rev()
                .find(|l| l.contains("error:"))
                .unwrap_or("");
            assert!(
                said.contains(&format!("weft schema version {next}"))
                    && last.contains("upgrade this host")
                    && !said.contains("another host took partition"),
                "ends_generation {ends_generation}: {said}"
            );
        }
        assert_eq!(taken(), before, "a partition was taken after the step");
    }
}

/// A graceful stop of a host of a store of several partitions, paused
/// between an activity attempt's end and its record: it writes the record
/// before it gives the partition up, and nobody runs the attempt again.
/// The twin of `cluster::a_graceful_stop_writes_an_ended_attempt_...`.
#[test]
fn a_graceful_stop_writes_an_ended_attempt_before_it_gives_its_partition_up() {
    let Some(url) = database() else { return };
    let mut a = host(&url, "a", &["activity-ended"]);
    holds_all(&a, "a");
    let b = host(&url, "b", &[]);
    a.deploy_examples();
    let id = id_in("drain", 0, true);
    a.start_as("hello", &id, json!({"name": "drain"}));
    a.wait_for_log("paused at activity-ended", 1, Duration::from_secs(30));
    a.signal("TERM");
    a.wait_for_log("handing the partitions over", 1, Duration::from_secs(30));
    // A stop that does not wait for the record is over by now.
    let early = a.exit_within(Duration::from_secs(3));
    a.release("activity-ended");
    let code = early.unwrap_or_else(|| a.wait_exit(Duration::from_secs(60)));
    assert_eq!(code, Some(0), "{}", a.log());
    holds_all(&b, "b");
    let r = b.wait_result(&id);
    assert_eq!(r["status"], "completed", "{r}");
    let counts = crate::cluster::attempts_started(&[&a, &b], std::slice::from_ref(&id));
    assert_eq!(counts, [1, 1, 1], "greet, shout, exclaim each started once");
    assert_eq!(
        early, None,
        "a gave its partition up before its attempt was written"
    );
}

/// Each of three hosts in turn is stopped gracefully (SIGTERM) while
/// executions run in every partition, and started again: a stopping host
/// lets its running attempts finish, starts no more, and hands its
/// partitions over at once (well within a lease). No activity runs twice,
/// and no partition has a write of a generation that did not hold it. The
/// twin of `cluster::a_rolling_restart_hands_the_store_over_...`.
#[test]
fn a_rolling_restart_of_three_hosts_runs_no_activity_twice() {
    let Some(url) = database() else { return };
    let mut hosts = vec![host(&url, "a", &[])];
    holds_all(&hosts[0], "a");
    hosts.push(host(&url, "b", &[]));
    hosts.push(host(&url, "c", &[]));
    // A host counts in the assignment once it has been there a lease (2 s),
    // and the assignment need not give each host a partition: wait that
    // long, then until every partition is held and stays so for a round.
    let settled = |h: &Host| {
        std::thread::sleep(Duration::from_millis(2_500));
        h.eventually("the partitions to settle", |h| {
            let before = holders(h);
            std::thread::sleep(Duration::from_millis(600));
            before.iter().all(|x| !x.is_empty()) && holders(h) == before
        });
    };
    settled(&hosts[0]);
    hosts[1].deploy_examples();
    let mut batches = Vec::new();
    for (i, name) in ["a", "b", "c"].into_iter().enumerate() {
        let other = (i + 1) % 3;
        let batch: Vec<String> = (0..8)
            .map(|n| id_in(&format!("r{i}-{n}"), n % PARTITIONS, true))
            .collect();
        for id in &batch {
            hosts[other].start_as("hello", id, json!({"name": id, "delay_ms": 100}));
        }
        std::thread::sleep(Duration::from_millis(150));
        let held = holders(&hosts[other]).iter().any(|x| x == name);
        let gave = |h: &Host| h.log().matches("this host gave partition").count();
        let gave_before = gave(&hosts[i]);
        hosts[i].signal("TERM");
        let stopped = std::time::Instant::now();
        assert_eq!(
            hosts[i].wait_exit(Duration::from_secs(60)),
            Some(0),
            "{}",
            hosts[i].log()
        );
        assert!(
            hosts[i].log().contains("weft host stopped"),
            "{}",
            hosts[i].log()
        );
        hosts[other].eventually(&format!("the others to take {name}'s partitions"), |h| {
            let held = holders(h);
            held.iter().all(|x| !x.is_empty() && x != name)
        });
        // Handed over, not waited out: it gave up what it held.
        assert!(
            stopped.elapsed() < Duration::from_secs(30),
            "{:?}",
            stopped.elapsed()
        );
        if held {
            assert!(gave(&hosts[i]) > gave_before, "{}", hosts[i].log());
        }
        hosts[i].spawn();
        settled(&hosts[other]);
        batches.push(batch);
    }
    for batch in &batches {
        for id in batch {
            let r = hosts[0].wait_result(id);
            assert_eq!(r["output"], format!("HELLO, {}!", id.to_uppercase()), "{r}");
        }
    }
    let all: Vec<String> = batches.into_iter().flatten().collect();
    let refs: Vec<&Host> = hosts.iter().collect();
    let counts = crate::cluster::attempts_started(&refs, &all);
    assert!(
        counts.iter().all(|n| *n == 1),
        "an activity started more than once (or never): {counts:?}"
    );
    crate::cluster::no_write_from_a_fenced_host(&url);
}

/// Waits until host `h` has played `n` more rounds of the partitions'
/// assignment (`weft_partition_rounds_total`).
fn rounds_pass(h: &Host, n: u32) {
    let rounds = |h: &Host| h.metric("weft_partition_rounds_total");
    let until = rounds(h) + f64::from(n);
    h.eventually(&format!("{n} rounds of the assignment"), |h| {
        rounds(h) >= until
    });
}

/// A request under way in a partition's engine when its host hands the
/// partition over (its write refused: the partition given up, nothing
/// written) is asked again of the next holder: a signal forwarded through
/// the host that takes the partition is recorded once and answered 202
/// (before: 503 "this host no longer holds the store ... retry"; the
/// verification runner met it with an upgrade on three hosts).
#[test]
fn a_request_under_way_when_its_partition_is_handed_over_is_asked_of_the_next_holder() {
    let Some(url) = database() else { return };
    let a = host(&url, "a", &["signal-before-write#1"]);
    holds_all(&a, "a");
    a.deploy_examples_and_corners();
    let listener = id_in("handed-mid-signal", 3, true);
    a.start_corners(&listener, json!({"mode": "signals", "runs": 3}));
    a.eventually("the listener waits", |h| {
        h.event_kinds(&listener)
            .iter()
            .any(|k| k == "signal_awaited")
    });
    let b = host(&url, "b", &[]);
    let signals = format!("/v1/executions/{listener}/signals");
    let (status, v) = std::thread::scope(|s| {
        // Through b, before it counts: forwarded to a, held before its write.
        let sent = s.spawn(|| {
            b.call(
                "POST",
                &signals,
                Some(json!({"name": "tick", "input": "once", "request_id": "tick-1"})),
            )
        });
        a.wait_for_log("paused at signal-before-write", 1, Duration::from_secs(30));
        a.wait_for_log("partition 3 handed over", 1, Duration::from_secs(30));
        a.release("signal-before-write");
        sent.join().expect("the signal")
    });
    assert_eq!(
        status,
        202,
        "{v}\n---- a:\n{}\n---- b:\n{}",
        a.log(),
        b.log()
    );
    b.eventually("the listener took the tick", |h| {
        h.describe(&listener)["run"] == 2
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(b.describe(&listener)["run"], 2, "no signal twice");
}
