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

/// The host whose lease on each partition is live (`""`: none; a lease
/// given up keeps its last holder's name).
fn live_holders(h: &Host) -> Vec<String> {
    let view = h.get("/v1/cluster");
    view["leases"]
        .as_array()
        .expect("leases")
        .iter()
        .map(|l| match l["expires_in_ms"].as_i64() {
            Some(ms) if ms > 0 => l["holder"].as_str().unwrap_or_default().to_owned(),
            _ => String::new(),
        })
        .collect()
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
