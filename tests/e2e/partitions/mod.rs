//! A PostgreSQL store of several partitions (`--partitions`, fixed when the
//! store is made): executions spread over them by id, a host runs an engine
//! on each partition it holds, and every request reaches the partition it
//! is about, on this host or forwarded to the one holding it. Real host
//! processes; in the suite's PostgreSQL pass (without one they say so and
//! pass).

use std::time::Duration;

use weft_e2e::serde_json::{json, Value};
use weft_e2e::{guest, postgres_store as database, psql, psql_background, Host};

const PARTITIONS: u32 = 4;

mod assignment;
mod faults;
mod handover;
mod migrate;
mod routing;
mod skip;
mod workers;

/// A host on the store at `url`, made with four partitions if it is new.
fn host(url: &str, id: &str, points: &[&str]) -> Host {
    host_with(url, id, points, &[])
}

/// [`host`], with these flags besides (a `--lease` among them replaces
/// the 2 s lease).
fn host_with(url: &str, id: &str, points: &[&str], extra: &[&str]) -> Host {
    let mut args = vec!["--host-id", id, "--partitions", "4"];
    if !extra.contains(&"--lease") {
        args.extend(["--lease", "2s"]);
    }
    args.extend_from_slice(extra);
    Host::in_cluster(url, &args, points)
}

/// The partition an id is made in: weft's `home`, written out again here
/// (it is fixed forever; a change would move where new ids go, and this
/// test would see the directory disagree).
fn home(id: &str) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    ((h ^ (h >> 33)) % u64::from(PARTITIONS)) as u32
}

/// Where the directory placed `id`.
fn placed(url: &str, id: &str) -> Option<u32> {
    let v = psql(
        url,
        &format!(
            "SELECT ((v::numeric + 9223372036854775808) % 18446744073709551616)::bigint \
             FROM weft_directory WHERE k0 = convert_to('{id}', 'UTF8')"
        ),
    );
    (!v.is_empty()).then(|| v.parse().expect("a partition"))
}

/// The first id `prefix-N` whose home is (`same`) or is not `part`.
fn id_in(prefix: &str, part: u32, same: bool) -> String {
    (0..)
        .map(|n| format!("{prefix}-{n}"))
        .find(|id| (home(id) == part) == same)
        .expect("an id")
}

/// The holder of each partition, as `/v1/cluster` says.
fn holders(h: &Host) -> Vec<String> {
    h.partition_holders()
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

/// Waits until host `id` (reached at `h`) holds every partition.
fn holds_all(h: &Host, id: &str) {
    h.eventually(&format!("{id} to hold every partition"), |h| {
        holders(h) == vec![id; PARTITIONS as usize]
    });
}

/// Starts `listener` (takes a `tick` per run, three runs) and `sender`
/// (signals it when ordered) through `h`, and waits until the sender waits
/// for its order.
fn listener_and_sender(h: &Host, listener: &str, sender: &str) {
    h.start_corners(listener, json!({"mode": "signals", "runs": 3}));
    h.start_corners(sender, json!({"mode": "orders", "got": [listener]}));
    h.eventually("the sender waits for its order", |h| {
        h.event_kinds(sender).iter().any(|k| k == "signal_awaited")
    });
}

/// The table `name` of partition `part` (partition 0's are unqualified).
fn table(part: u32, name: &str) -> String {
    match part {
        0 => format!("weft_{name}"),
        p => format!("weft_p{p}.weft_{name}"),
    }
}

/// a and b on one store (with these flags besides): the assignment
/// gives b partitions 2 and 3 once it has been there a lease.
fn two_hosts(url: &str, a_points: &[&str], extra: &[&str]) -> (Host, Host) {
    let a = host_with(url, "a", a_points, extra);
    holds_all(&a, "a");
    let b = host_with(url, "b", &[], extra);
    b.eventually("a to hand b its partitions", |h| {
        holders(h) == ["a", "a", "b", "b"]
    });
    (a, b)
}
