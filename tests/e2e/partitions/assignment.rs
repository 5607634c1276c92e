//! How the hosts share the partitions: evenly, at the cluster format of
//! the hosts that count, and the older way while a host of an older
//! release counts (a rolling upgrade).

use super::*;

/// A host on the store at `url`, made with eight partitions if it is new.
fn host_of_eight(url: &str, id: &str) -> Host {
    Host::in_cluster(
        url,
        &["--lease", "2s", "--host-id", id, "--partitions", "8"],
        &[],
    )
}

/// Issue 17: rendezvous hashing alone gave
/// hosts a, b and c of a store of eight partitions 3, 4 and 1 of them
/// (b ran four times c's executions). Each now runs its share or one
/// more (3, 3, 2), `weft cluster` says how they are assigned, and while a
/// host of a release before this one counts (its row says no format) the
/// hosts assign them as that host does, so that no partition is one that
/// each host thinks another's; once it leaves, evenly again.
#[test]
fn hosts_run_even_shares_of_the_partitions_and_the_older_way_while_an_older_host_counts() {
    let Some(url) = database() else { return };
    let a = host_of_eight(&url, "a");
    a.eventually("a to hold every partition", |h| holders(h) == vec!["a"; 8]);
    let b = host_of_eight(&url, "b");
    let c = host_of_eight(&url, "c");
    // The even assignment of a, b and c (pinned in weft's unit tests).
    let even = ["a", "a", "b", "b", "b", "c", "c", "a"];
    c.eventually("the partitions spread evenly", |h| holders(h) == even);
    let view = b.get("/v1/cluster");
    assert_eq!(
        view["assignment"],
        json!({"format": 1, "way": "even"}),
        "{view}"
    );
    assert!(
        view["hosts"]
            .as_array()
            .expect("hosts")
            .iter()
            .all(|h| h["format"] == 1),
        "{view}"
    );
    let said = a.cli_ok(&["cluster"]);
    assert!(
        said.contains("assigned evenly (cluster format 1)"),
        "{said}"
    );

    // A host of an older release (format 0: its row says none), seen now
    // and for the next hour: the hosts assign as it does, and partition 1,
    // its by rendezvous hashing, is handed to it (a real one would take
    // it).
    psql(
        &url,
        "INSERT INTO weft_hosts (host_id, address, version, started_at, seen_at) \
         VALUES ('h0', 'http://127.0.0.1:9', '0.1.0', now() - interval '1 hour', \
                 now() + interval '1 hour')",
    );
    let older = ["a", "", "b", "b", "b", "b", "c", "a"];
    c.eventually("the older host's assignment", |h| live_holders(h) == older);
    let view = a.get("/v1/cluster");
    assert_eq!(
        view["assignment"],
        json!({"format": 0, "way": "rendezvous", "held_back_by": ["h0"]}),
        "{view}"
    );
    let said = c.cli_ok(&["cluster"]);
    assert!(
        said.contains("assigned by rendezvous hashing (cluster format 0)")
            && said.contains("while h0 of an older release counts"),
        "{said}"
    );

    // Each host says so in its log (once: the older host's row stays as
    // it is), and when it is over.
    for h in [&a, &b, &c] {
        h.eventually("the older host named in the log", |h| {
            h.log()
                .matches("hosts of an older release count (h0)")
                .count()
                == 1
        });
    }

    // It leaves: evenly again.
    psql(&url, "DELETE FROM weft_hosts WHERE host_id = 'h0'");
    b.eventually("the partitions spread evenly again", |h| {
        live_holders(h) == even
    });
    b.eventually("the change logged", |h| {
        h.log().contains("no host of an older release counts now")
    });
    drop((a, b, c));
}

/// A host that stands still for less than its lease (its process paused,
/// a starved machine) keeps its partitions, and the others keep theirs.
/// It says it is live again only a lease later (its row ages past the
/// lease meanwhile), but while its leases hold it counts in the
/// assignment: before, the others shared the store as if it had gone and
/// handed a partition between them and back (a README try: pauses of half
/// a lease, with a 3 s lease).
#[test]
fn a_host_standing_still_less_than_its_lease_moves_no_partition() {
    let Some(url) = database() else { return };
    // A lease of 6 s: b's renewals every 1.5 s; a pause of 3.5 s is a
    // stall (half a lease or more) its leases outlast by a second or more.
    let lease = ["--lease", "6s"];
    let a = host_with(&url, "a", &[], &lease);
    holds_all(&a, "a");
    let mut b = host_with(&url, "b", &[], &lease);
    let c = host_with(&url, "c", &[], &lease);
    c.eventually("each host holds a share", |h| {
        let now = live_holders(h);
        ["a", "b", "c"]
            .iter()
            .all(|id| now.iter().any(|holder| holder == id))
            && now.iter().all(|holder| !holder.is_empty())
    });
    // Settled: the same holders across two of b's refreshes.
    let mut before = live_holders(&a);
    let settling = std::time::Instant::now();
    loop {
        assert!(settling.elapsed() < Duration::from_secs(60), "{before:?}");
        std::thread::sleep(Duration::from_secs(3));
        let now = live_holders(&a);
        if now == before {
            break;
        }
        before = now;
    }
    let moves = |h: &Host| h.log().matches("handing it over").count();
    let moved = (moves(&a), moves(&c));
    b.signal("STOP");
    std::thread::sleep(Duration::from_millis(3_500));
    b.signal("CONT");
    // b is quiet for a lease after it wakes: its row ages past the lease
    // (what made the others share the store without it).
    let b_seen_ms_ago = |h: &Host| {
        h.get("/v1/cluster")["hosts"]
            .as_array()
            .expect("hosts")
            .iter()
            .find(|row| row["host_id"] == "b")
            .and_then(|row| row["seen_ms_ago"].as_i64())
            .unwrap_or(i64::MAX)
    };
    let mut oldest = 0;
    let until = std::time::Instant::now() + Duration::from_secs(9);
    while std::time::Instant::now() < until {
        assert_eq!(live_holders(&a), before, "a partition moved");
        oldest = oldest.max(b_seen_ms_ago(&a));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        (6_000..i64::MAX).contains(&oldest),
        "b's row was seen at most {oldest} ms ago: the test proves nothing"
    );
    assert_eq!(
        (moves(&a), moves(&c)),
        moved,
        "a handed over:\n{}\nc handed over:\n{}",
        a.log(),
        c.log()
    );
    assert!(b.exit_within(Duration::ZERO).is_none(), "{}", b.log());
}
