//! The key-value layer's contract, checked the same way on both backends
//! against a model (a `BTreeMap`): key order (u64 past 2^63, strings with
//! NUL and the last code point), ranges with included and excluded bounds,
//! backwards scans and `last`, deletes by key and by range, `retain_in`,
//! and reads that see the transaction's own writes before and after the
//! commit. PostgreSQL runs when `WEFT_TEST_POSTGRES` names a server (`cargo
//! xtask test` starts one); redb always.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::pg::Pg;
use super::Txn;
use crate::store::tables::{HISTORY, HOST_STATE, INBOX, TIMERS};
use crate::store::StoreError;

const BIG: u64 = 1 << 63;

fn ids() -> Vec<String> {
    vec![
        "a".into(),
        "a\0b".into(),
        "a\0".into(),
        "\u{10FFFF}".into(),
        "b".into(),
        String::new(),
        "é".into(),
    ]
}

fn indices() -> Vec<u64> {
    vec![0, 1, 2, BIG - 1, BIG, BIG + 1, u64::MAX - 1, u64::MAX]
}

/// Writes and checks inside one write transaction, then commits.
fn write_and_check(txn: &Txn) -> Result<(), StoreError> {
    let mut model: BTreeMap<(String, u64), Vec<u8>> = BTreeMap::new();
    {
        let mut history = txn.open_table(HISTORY)?;
        // Inserted in an order that is not the key order.
        for (n, id) in ids().iter().enumerate().rev() {
            for i in indices() {
                let value = format!("{n}:{i}").into_bytes();
                history.insert((id.as_str(), i), value.as_slice())?;
                model.insert((id.clone(), i), value);
            }
        }
        // Overwritten: the last value wins.
        history.insert(("a", 1), b"again".as_slice())?;
        model.insert(("a".into(), 1), b"again".to_vec());
    }
    check_history(txn, &model)?;
    {
        let mut history = txn.open_table(HISTORY)?;
        // Deletes by key, by range, and by a predicate, and a remove that
        // answers what was there.
        history.delete(("b", BIG))?;
        model.remove(&("b".into(), BIG));
        let removed = history.remove(("a", 1))?;
        assert_eq!(removed, Some(b"again".to_vec()));
        model.remove(&("a".into(), 1));
        assert_eq!(history.remove(("a", 1))?, None);
        history.delete_range(("a\0", BIG)..=("a\0", u64::MAX))?;
        model.retain(|(id, i), _| !(id == "a\0" && *i >= BIG));
        history.retain_in(("é", 0)..("é", u64::MAX), |(_, i), _| i % 2 == 0)?;
        model.retain(|(id, i), _| !(id == "é" && *i != u64::MAX && i % 2 == 1));
    }
    check_history(txn, &model)?;

    let mut timers = txn.open_table(TIMERS)?;
    for due in indices() {
        for id in ids() {
            timers.insert((due, id.as_str(), due ^ 1), ())?;
        }
    }
    let mut state = txn.open_table(HOST_STATE)?;
    state.insert("max", u64::MAX)?;
    state.insert("big", BIG)?;
    let mut inbox = txn.open_table(INBOX)?;
    for id in ids() {
        inbox.insert(("t", id.as_str()), ())?;
    }
    drop((timers, state, inbox));
    check_others(txn)
}

fn check_history(txn: &Txn, model: &BTreeMap<(String, u64), Vec<u8>>) -> Result<(), StoreError> {
    let history = txn.open_table(HISTORY)?;
    let all: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(history.iter()?, all, "every row, in key order");
    assert_eq!(history.len()?, model.len() as u64);
    for id in ids() {
        let id = id.as_str();
        let mine: Vec<_> = all.iter().filter(|((i, _), _)| i == id).cloned().collect();
        assert_eq!(history.range((id, 0)..=(id, u64::MAX))?, mine, "{id:?}");
        assert_eq!(
            history.last_with((id, 0)..=(id, u64::MAX), |(i, index), v| {
                ((i.to_owned(), index), v.to_vec())
            })?,
            mine.last().cloned(),
            "{id:?}"
        );
        // Excluded bounds on both ends.
        let inner: Vec<_> = mine
            .iter()
            .filter(|((_, i), _)| *i > 1 && *i < BIG + 1)
            .cloned()
            .collect();
        assert_eq!(
            history.range((Bound::Excluded((id, 1)), Bound::Excluded((id, BIG + 1))))?,
            inner,
            "{id:?}"
        );
        // Backwards, stopping after two rows.
        let mut back = Vec::new();
        history.scan((id, 0)..=(id, u64::MAX), true, |(_, i), _| {
            back.push(i);
            Ok(back.len() < 2)
        })?;
        let expected: Vec<u64> = mine.iter().rev().take(2).map(|((_, i), _)| *i).collect();
        assert_eq!(back, expected, "{id:?}");
        for ((_, i), v) in &mine {
            assert_eq!(history.get((id, *i))?.as_ref(), Some(v));
        }
    }
    assert_eq!(history.get(("nobody", 0))?, None);
    Ok(())
}

fn check_others(txn: &Txn) -> Result<(), StoreError> {
    let timers = txn.open_table(TIMERS)?;
    let dues: Vec<u64> = timers
        .iter()?
        .into_iter()
        .map(|((d, _, _), ())| d)
        .collect();
    let mut sorted = dues.clone();
    sorted.sort();
    assert_eq!(dues, sorted, "u64 keys in numeric order");
    assert_eq!(dues.len(), indices().len() * ids().len());
    let past_big = timers.range((BIG, "", 0)..)?;
    assert_eq!(past_big.len(), 4 * ids().len(), "{past_big:?}");
    let state = txn.open_table(HOST_STATE)?;
    assert_eq!(state.get("max")?, Some(u64::MAX));
    assert_eq!(state.get("big")?, Some(BIG));
    let inbox = txn.open_table(INBOX)?;
    let mut expected: Vec<String> = ids();
    expected.sort();
    let got: Vec<String> = inbox
        .range(("t", "")..=("t", "\u{10FFFF}"))?
        .into_iter()
        .map(|((_, k), ())| k)
        .collect();
    assert_eq!(got, expected, "strings in byte order");
    Ok(())
}

fn run(write: Txn, read: impl Fn() -> Result<Txn, StoreError>) {
    write_and_check(&write).unwrap();
    write.commit().unwrap();
    // The same answers from a fresh transaction after the commit.
    let txn = read().unwrap();
    check_others(&txn).unwrap();
    let history = txn.open_table(HISTORY).unwrap();
    let rows = history.iter().unwrap();
    assert!(
        rows.windows(2).all(|w| w[0].0 < w[1].0),
        "sorted after the commit"
    );
    assert!(
        !rows.iter().any(|((id, i), _)| id == "b" && *i == BIG),
        "a delete was committed"
    );
    drop(history);
    txn.commit().unwrap();
}

#[test]
fn the_layer_keeps_its_contract_on_redb() {
    use redb::ReadableDatabase;
    let dir = tempfile::tempdir().unwrap();
    let db = redb::Database::create(dir.path().join("kv.redb")).unwrap();
    let write = Txn::RedbWrite(super::RedbWrite::new(db.begin_write().unwrap()));
    run(write, || Ok(Txn::RedbRead(db.begin_read()?)));
}

/// A fresh database named after `name` on the server `WEFT_TEST_POSTGRES`
/// names, held by this test; `None` (said) without one.
fn postgres(name: &str) -> Option<std::sync::Arc<Pg>> {
    let url = crate::store::tests::fresh_postgres_url(name)?;
    let pg = Pg::connect(&url, true, "kv-test", std::time::Duration::from_secs(10), 1).unwrap();
    pg.acquire(super::lease::Wait::No).unwrap();
    Some(pg)
}

/// A fresh store of three partitions on the server `WEFT_TEST_POSTGRES`
/// names, as host `host`, holding partitions 1 and 2: the store's handle
/// and the two partitions' (`None`, said, without a server).
pub(crate) fn partitions_1_and_2(
    name: &str,
    host: &str,
) -> Option<(std::sync::Arc<Pg>, std::sync::Arc<Pg>, std::sync::Arc<Pg>)> {
    let url = crate::store::tests::fresh_postgres_url(name)?;
    let pg = Pg::connect(&url, true, host, std::time::Duration::from_secs(10), 3).unwrap();
    let (one, two) = (pg.partition(1).unwrap(), pg.partition(2).unwrap());
    one.acquire(super::lease::Wait::No).unwrap();
    two.acquire(super::lease::Wait::No).unwrap();
    Some((pg, one, two))
}

/// Returns once a session of `pg`'s database waits for a lock (a claim
/// waiting for another transaction's insert of its key): the race a test
/// sets up is under way, not assumed to be after a pause.
pub(crate) fn until_a_session_waits_for_a_lock(pg: &Pg) {
    let client = pg.block(pg.pool().get()).unwrap();
    for _ in 0..500 {
        let waiting: i64 = pg
            .block(client.query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            ))
            .unwrap()
            .get(0);
        if waiting > 0 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("no session waited for a lock within 5 s");
}

#[test]
fn the_layer_keeps_its_contract_on_postgres() {
    let Some(pg) = postgres("kv") else { return };
    let write = Txn::Pg(pg.begin_write().unwrap());
    run(write, || Ok(Txn::Pg(pg.begin_read()?)));
}

/// Rows read ahead answer what the database would: the completion rows a
/// group checks, present and absent (u64 parts past 2^63, strings with
/// NUL), and the timer rows under an execution, none or some.
#[test]
fn rows_read_ahead_answer_as_the_database_would_on_postgres() {
    use crate::store::tables::{COMPLETED, TIMERS_BY_EXECUTION};
    let Some(pg) = postgres("kv_ahead") else {
        return;
    };
    let present = [
        ("a", BIG, 1),
        ("a\0", 0, u64::MAX),
        ("a", u64::MAX, BIG + 1),
    ];
    let write = Txn::Pg(pg.begin_write().unwrap());
    {
        let mut completed = write.open_table(COMPLETED).unwrap();
        for key in present {
            completed.insert(key, ()).unwrap();
        }
        let mut timers = write.open_table(TIMERS_BY_EXECUTION).unwrap();
        timers.insert(("a", 5, 1), ()).unwrap();
    }
    write.commit().unwrap();

    let txn = Txn::Pg(pg.begin_write().unwrap());
    let absent = [("a", BIG, 2), ("a", 0, 1), ("a\0", 0, 0), ("b", BIG, 1)];
    let wanted: Vec<(&str, u64, u64)> = present.iter().chain(&absent).copied().collect();
    txn.read_ahead_keys(COMPLETED, &wanted).unwrap();
    txn.read_ahead_first(TIMERS_BY_EXECUTION, &["a", "b"])
        .unwrap();
    {
        let completed = txn.open_table(COMPLETED).unwrap();
        for key in present {
            assert_eq!(completed.get(key).unwrap(), Some(()), "{key:?} is there");
        }
        for key in absent {
            assert_eq!(completed.get(key).unwrap(), None, "{key:?} is not");
        }
    }
    assert!(!txn.known_none_under(TIMERS_BY_EXECUTION, "a"));
    assert!(txn.known_none_under(TIMERS_BY_EXECUTION, "b"));
    assert!(
        !txn.known_none_under(TIMERS_BY_EXECUTION, "c"),
        "not read: unknown"
    );
    // The transaction's writes keep what it knows true.
    {
        let mut completed = txn.open_table(COMPLETED).unwrap();
        completed.insert(("b", BIG, 1), ()).unwrap();
        assert_eq!(completed.get(("b", BIG, 1)).unwrap(), Some(()));
        let mut timers = txn.open_table(TIMERS_BY_EXECUTION).unwrap();
        timers.insert(("b", 1, 1), ()).unwrap();
    }
    assert!(!txn.known_none_under(TIMERS_BY_EXECUTION, "b"));
    txn.commit().unwrap();
}

/// A store made with three partitions: each keeps its own copy of the
/// partitioned tables (history here) and shares the others (modules); each
/// has its own lease, taken by whichever host, and fenced on its own in the
/// database (a write at partition 1's old generation is refused while
/// partition 2's holder writes on); each commit's token names its
/// partition. The count is fixed when the store is made: a host asking
/// for another count later gets the store's.
#[test]
fn partitions_keep_their_own_rows_share_the_rest_and_are_fenced_each_on_postgres() {
    use crate::store::tables::MODULES;
    use std::time::Duration;
    let Some(url) = crate::store::tests::fresh_postgres_url("kv_partitions") else {
        return;
    };
    let a = Pg::connect(&url, true, "host-a", Duration::from_secs(10), 3).unwrap();
    assert_eq!(a.partitions(), 3);
    assert_eq!(
        hosts_from(&a),
        7,
        "hosts that know no partitions stay off it"
    );
    let a1 = a.partition(1).unwrap();
    let err = a.partition(3).err().expect("no partition 3").to_string();
    assert!(err.contains("3 partition(s)"), "{err}");
    a.acquire(super::lease::Wait::No).unwrap();
    let a1_generation = a1.acquire(super::lease::Wait::No).unwrap();

    // Another host, asking for one partition: the store has three.
    let b = Pg::connect(&url, true, "host-b", Duration::from_secs(10), 1).unwrap();
    assert_eq!(b.partitions(), 3);
    let b1 = b.partition(1).unwrap();
    let held = b1.acquire(super::lease::Wait::No).expect_err("held by a");
    assert!(held.to_string().contains("host-a"), "{held}");
    let b2 = b.partition(2).unwrap();
    let b2_generation = b2.acquire(super::lease::Wait::No).unwrap();

    let write = |pg: &std::sync::Arc<Pg>, value: &[u8], module: Option<&str>| {
        let txn = Txn::Pg(pg.begin_write().unwrap());
        {
            let mut history = txn.open_table(HISTORY).unwrap();
            history.insert(("x", 0), value).unwrap();
            if let Some(m) = module {
                let mut modules = txn.open_table(MODULES).unwrap();
                modules.insert(m, value).unwrap();
            }
        }
        txn.commit().unwrap();
    };
    write(&a1, b"one", Some("m1"));
    write(&b2, b"two", Some("m2"));
    let read = |pg: &std::sync::Arc<Pg>| {
        let txn = Txn::Pg(pg.begin_read().unwrap());
        let history = txn.open_table(HISTORY).unwrap().get(("x", 0)).unwrap();
        let modules: Vec<String> = txn
            .open_table(MODULES)
            .unwrap()
            .iter()
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        (history, modules)
    };
    let both = vec!["m1".to_owned(), "m2".to_owned()];
    assert_eq!(read(&a1), (Some(b"one".to_vec()), both.clone()));
    assert_eq!(read(&b2), (Some(b"two".to_vec()), both.clone()));
    assert_eq!(read(&a), (None, both), "partition 0 has its own history");

    // Host a gives partition 1 up; host b takes it at the next generation.
    a1.release();
    let b1_generation = b1
        .acquire(super::lease::Wait::Briefly(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(b1_generation, a1_generation + 1);
    write(&b1, b"one again", None);
    write(&b2, b"two again", None);
    let fence = |part: i32, host: &str, generation: i64| -> Result<(), String> {
        let client = a.block(a.pool().get()).unwrap();
        a.block(client.batch_execute(&format!(
            "SELECT weft_fence({part}, '{host}', {generation})"
        )))
        .map_err(|e| super::pg::pg_err(e).to_string())
    };
    let refused = fence(1, "host-a", a1_generation).unwrap_err();
    assert!(
        refused.contains("partition 1") && refused.contains("host-b"),
        "{refused}"
    );
    fence(1, "host-b", b1_generation).unwrap();
    fence(2, "host-b", b2_generation).unwrap();
    fence(0, "host-a", a.lease.generation()).unwrap();

    // Each commit's token names the partition it wrote, and the lease log
    // each partition's generations.
    let client = a.block(a.pool().get()).unwrap();
    let tokens: Vec<(i32, String, i64)> = a
        .block(client.query(
            "SELECT DISTINCT part, host, generation FROM weft_commit_tokens ORDER BY 1, 2, 3",
            &[],
        ))
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        tokens,
        vec![
            (1, "host-a".to_owned(), a1_generation),
            (1, "host-b".to_owned(), b1_generation),
            (2, "host-b".to_owned(), b2_generation),
        ]
    );
    let log: Vec<(i32, i64, String)> = a
        .block(client.query(
            "SELECT part, generation, owner FROM weft_lease_log ORDER BY 1, 2",
            &[],
        ))
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        log,
        vec![
            (0, 1, "host-a".to_owned()),
            (1, 1, "host-a".to_owned()),
            (1, 2, "host-b".to_owned()),
            (2, 1, "host-b".to_owned()),
        ]
    );
    assert_eq!(read(&a), (None, vec!["m1".to_owned(), "m2".to_owned()]));
    assert_eq!(read(&b1).0, Some(b"one again".to_vec()));
}

/// A store made with one partition keeps one, whatever a later host asks.
#[test]
fn a_store_made_with_one_partition_keeps_one_on_postgres() {
    let Some(url) = crate::store::tests::fresh_postgres_url("kv_one_partition") else {
        return;
    };
    let first = Pg::connect(&url, true, "host-a", std::time::Duration::from_secs(10), 1).unwrap();
    assert_eq!(first.partitions(), 1);
    let later = Pg::connect(&url, true, "host-b", std::time::Duration::from_secs(10), 4).unwrap();
    assert_eq!(later.partitions(), 1);
    assert!(later.partition(1).is_err());
    assert_eq!(
        hosts_from(&later),
        3,
        "hosts of versions 3 to 6 still run on it"
    );
}

/// The oldest schema version whose hosts run on the store.
fn hosts_from(pg: &Pg) -> i32 {
    let client = pg.block(pg.pool().get()).unwrap();
    pg.block(client.query_one("SELECT hosts_from FROM weft_schema", &[]))
        .unwrap()
        .get(0)
}

/// A claim of a key another partition's transaction is inserting waits
/// for that transaction: committed, its row is answered (and nothing is
/// inserted); rolled back, the claim inserts.
#[test]
fn a_claim_waits_for_a_claim_in_flight_and_answers_its_row_on_postgres() {
    use crate::store::tables::DIRECTORY;
    let Some((pg, one, two)) = partitions_1_and_2("kv_claim", "host") else {
        return;
    };
    for commit_first in [true, false] {
        let key = if commit_first { "kept" } else { "dropped" };
        let first = Txn::Pg(one.begin_write().unwrap());
        assert_eq!(
            first.open_table(DIRECTORY).unwrap().claim(key, 1).unwrap(),
            None
        );
        let second = {
            let two = two.clone();
            std::thread::spawn(move || {
                let txn = Txn::Pg(two.begin_write().unwrap());
                let had = txn.open_table(DIRECTORY).unwrap().claim(key, 2).unwrap();
                txn.commit().unwrap();
                had
            })
        };
        until_a_session_waits_for_a_lock(&pg);
        assert!(!second.is_finished(), "the second claim waits");
        if commit_first {
            first.commit().unwrap();
            assert_eq!(second.join().unwrap(), Some(1));
        } else {
            first.abort().unwrap();
            assert_eq!(second.join().unwrap(), None);
        }
        let read = Txn::Pg(pg.begin_read().unwrap());
        let now = read.open_table(DIRECTORY).unwrap().get(key).unwrap();
        assert_eq!(now, Some(if commit_first { 1 } else { 2 }));
    }
}

/// A commit forgets the commit tokens of its partition written more than
/// an hour ago (by the database's clock), and no other: a token another
/// host wrote a moment ago stays however its value was made (a host that
/// has run for hours numbered its tokens from its start), so that host can
/// still learn whether its commit was made.
#[test]
fn a_commit_forgets_only_tokens_an_hour_old_on_postgres() {
    let Some(pg) = postgres("kv_tokens") else {
        return;
    };
    let client = pg.block(pg.pool().get()).unwrap();
    pg.block(client.batch_execute(
        "INSERT INTO weft_commit_tokens (token, host, generation, part, committed_at) VALUES \
         (1, 'long-running', 7, 0, now()), \
         (9000000000000000000, 'clock-ahead', 7, 0, now() - interval '2 hours'), \
         (8000000000000000000, 'other-part', 7, 1, now() - interval '2 hours')",
    ))
    .unwrap();
    let txn = Txn::Pg(pg.begin_write().unwrap());
    txn.open_table(HOST_STATE).unwrap().insert("k", 1).unwrap();
    txn.commit().unwrap();
    let left: Vec<String> = pg
        .block(client.query(
            "SELECT host FROM weft_commit_tokens WHERE host <> 'kv-test' ORDER BY host",
            &[],
        ))
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        left,
        vec!["long-running".to_owned(), "other-part".to_owned()],
        "a fresh token stays; an hour-old one of this partition goes; another partition's \
         is that partition's to forget"
    );
}

/// A host taking one partition from a holder that stopped renewing it ends
/// that holder's write transaction on that partition only: the holder's
/// transaction on another partition, whose lease it still holds, commits.
#[test]
fn taking_a_partition_ends_only_that_partitions_writes_on_postgres() {
    use std::time::Duration;
    let Some(url) = crate::store::tests::fresh_postgres_url("kv_take_one") else {
        return;
    };
    let a = Pg::connect(&url, true, "host-a", Duration::from_secs(10), 3).unwrap();
    let (a1, a2) = (a.partition(1).unwrap(), a.partition(2).unwrap());
    a1.acquire(super::lease::Wait::No).unwrap();
    a2.acquire(super::lease::Wait::No).unwrap();
    let write = |pg: &std::sync::Arc<Pg>, key: &str| {
        let txn = Txn::Pg(pg.begin_write().unwrap());
        txn.open_table(HISTORY)
            .unwrap()
            .insert((key, 0), b"v".as_slice())
            .unwrap();
        // Sent (the fence and the write), not committed: the session is
        // inside a transaction.
        txn.open_table(HISTORY).unwrap().get((key, 0)).unwrap();
        txn
    };
    let (open1, open2) = (write(&a1, "one"), write(&a2, "two"));
    // Host a stops renewing partition 1 (as if paused): its lease expires.
    let client = a.block(a.pool().get()).unwrap();
    a.block(client.batch_execute(
        "UPDATE weft_leases SET expires_at = now() - interval '1 second' WHERE part = 1",
    ))
    .unwrap();
    let b = Pg::connect(&url, true, "host-b", Duration::from_secs(10), 3).unwrap();
    let b1 = b.partition(1).unwrap();
    let mut taken = None;
    for _ in 0..50 {
        taken = b1.try_acquire().unwrap();
        if taken.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(taken.is_some(), "host b takes the expired partition");
    assert!(open1.commit().is_err(), "partition 1's old write is ended");
    open2
        .commit()
        .expect("partition 2's write, whose lease host a holds, commits");
}
