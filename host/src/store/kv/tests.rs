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
    let pg = Pg::connect(&url, true, "kv-test", std::time::Duration::from_secs(10)).unwrap();
    pg.acquire(super::lease::Wait::No).unwrap();
    Some(pg)
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
