//! The store's write rules, checked on a real redb file: batches are
//! all-or-nothing, no event follows a close, a handle completes once, a run
//! that continues as new takes its unreceived signals along, and a start
//! request starts one run.

use super::*;
use crate::model::Payload;

fn record(id: &str) -> ExecutionRecord {
    ExecutionRecord {
        id: id.parse().unwrap(),
        workflow_type: "t".parse().unwrap(),
        module: ModuleHash::of(b"m"),
        status: ExecutionStatus::Running,
        created_at_ms: 1,
        closed_at_ms: None,
        input: Payload::default(),
        output: None,
        failure: None,
        stall_reason: None,
        resets: 0,
        run: 1,
        run_start: 0,
        began_at_run: Some(1),
        request_id: None,
        parent: None,
        cancel_requested: false,
        execution_deadline_ms: None,
        run_timeout_ms: None,
        search_attributes: Default::default(),
        memo: Default::default(),
    }
}

fn started() -> EventKind {
    EventKind::ExecutionStarted {
        workflow_type: "t".parse().unwrap(),
        module: ModuleHash::of(b"m"),
        input: Payload::default(),
        seed: 7,
        random: None,
        search_attributes: Default::default(),
        memo: Default::default(),
    }
}

/// Creates execution `id` (run 1, at index 0, running).
pub(crate) fn create(id: &str) -> Op {
    Op::CreateExecution {
        record: Box::new(record(id)),
        started: started(),
        reuse: Reuse::Never,
        request: None,
        created: None,
    }
}

/// The append that completes `id`'s run.
fn completing(id: &ExecutionId) -> Op {
    closing(
        id,
        vec![EventKind::ExecutionCompleted {
            output: Payload::default(),
        }],
        Close::Completed(Payload::default()),
    )
}

fn id(s: &str) -> ExecutionId {
    s.parse().unwrap()
}

fn closing(id: &ExecutionId, events: Vec<EventKind>, close: Close) -> Op {
    let mut op = Op::append(id, 9, events);
    if let Op::Append { close: c, .. } = &mut op {
        *c = Some(close);
    }
    op
}

/// Continues the first run of `id` as new.
fn continue_as_new(id: &ExecutionId) -> Op {
    Op::ContinueAsNew {
        id: id.clone(),
        at_ms: 3,
        events: vec![EventKind::ExecutionContinuedAsNew {
            input: Payload::default(),
        }],
        started: started(),
        module: ModuleHash::of(b"m"),
        expect_module: ModuleHash::of(b"m"),
        expect_resets: 0,
        owed: Vec::new(),
        delivered_updates: Vec::new(),
        delivered_signals: Vec::new(),
        cancel_delivered: false,
    }
}

fn kinds(store: &Store, id: &ExecutionId) -> Vec<&'static str> {
    store
        .history(id, 0)
        .unwrap()
        .iter()
        .map(|e| e.event.name())
        .collect()
}

/// The address of a database named after `name`, not made yet, on the
/// server `WEFT_TEST_POSTGRES` names; `None` (said) without one.
pub(super) fn fresh_postgres_url(name: &str) -> Option<String> {
    let Some(base) = std::env::var("WEFT_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!("WEFT_TEST_POSTGRES unset: cargo xtask test runs this on PostgreSQL");
        return None;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    Some(format!("{base}/{name}_{}_{nanos}", std::process::id()))
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

#[tokio::test]
async fn appends_are_numbered_and_close_updates_the_record() {
    let (_dir, store) = open();
    let e1 = id("e1");
    assert_eq!(store.write(vec![create("e1")]).await.unwrap(), Ok(()));
    assert_eq!(
        store.write(vec![create("e1")]).await.unwrap(),
        Err(OpError::ExecutionExists("e1".into()))
    );
    let mut op = Op::append(
        &e1,
        5,
        vec![EventKind::TimerStarted {
            handle: 1,
            duration_ms: 10,
            fire_at_ms: 15,
        }],
    );
    if let Op::Append { timers_add, .. } = &mut op {
        timers_add.push((15, 1));
    }
    store.write(vec![op]).await.unwrap().unwrap();
    assert_eq!(
        store.timers().unwrap(),
        vec![TimerRow {
            due_ms: 15,
            execution: e1.clone(),
            handle: 1
        }]
    );
    let mut op = closing(
        &e1,
        vec![EventKind::TimerFired { handle: 1 }],
        Close::Completed(Payload(b"1".to_vec())),
    );
    if let Op::Append { timers_remove, .. } = &mut op {
        timers_remove.push((15, 1));
    }
    store.write(vec![op]).await.unwrap().unwrap();
    assert_eq!(
        store
            .history(&e1, 0)
            .unwrap()
            .iter()
            .map(|e| e.index)
            .collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert!(store.timers().unwrap().is_empty());
    let rec = store.execution(&e1).unwrap().unwrap();
    assert_eq!(rec.status, ExecutionStatus::Completed);
    assert_eq!(rec.closed_at_ms, Some(9));
    assert_eq!(store.history_len(&e1).unwrap(), 3);
}

/// Issue 14, defect 1: a parent's `child_started` was committed while the
/// child's creation in the same batch was refused (its id taken), so the
/// parent waited for a child that never ran. Nothing of a refused batch may
/// be written, and the batches grouped with it are unaffected.
#[tokio::test]
async fn a_batch_refused_at_its_second_op_writes_nothing() {
    let (_dir, store) = open();
    let parent = id("parent");
    store
        .write(vec![create("parent"), create("taken")])
        .await
        .unwrap()
        .unwrap();
    let child_started = EventKind::ChildStarted {
        handle: 1,
        workflow_type: "t".parse().unwrap(),
        child_id: "taken".into(),
        input: Payload::default(),
        policy: crate::model::ParentClosePolicy::Terminate,
        cancellation: None,
    };
    let refused = store.write(vec![
        Op::append(&parent, 2, vec![child_started]),
        create("taken"),
    ]);
    // Grouped with it (queued together): a batch that passes.
    let other = store.write(vec![create("other")]);
    let (refused, other) = tokio::join!(refused, other);
    assert_eq!(
        refused.unwrap(),
        Err(OpError::ExecutionExists("taken".into()))
    );
    assert_eq!(other.unwrap(), Ok(()));
    assert_eq!(kinds(&store, &parent), vec!["execution_started"]);
    assert!(store.execution(&id("other")).unwrap().is_some());
}

/// Found by a review of the activity paths (issue 17 asks it of the
/// group commit: one refused request must leave the others unaffected): a
/// batch whose op met a record it cannot decode failed its whole group, and
/// every caller in it got the error (an activity's end written in the same
/// group was lost until a restart). It fails alone, and what it wrote
/// before is not kept; the group is written again without it.
#[tokio::test]
async fn a_batch_that_fails_on_its_own_record_leaves_its_group_written() {
    let (_dir, store) = open();
    {
        let txn = store.backend.begin_write().unwrap();
        txn.open_table(tables::EXECUTIONS)
            .unwrap()
            .insert("bad", b"not a record".as_slice())
            .unwrap();
        txn.commit().unwrap();
    }
    let (bad_tx, bad_rx) = tokio::sync::oneshot::channel();
    let (fine_tx, fine_rx) = tokio::sync::oneshot::channel();
    let signal = EventKind::SignalReceived {
        name: "s".into(),
        input: Payload::default(),
        request_id: None,
    };
    // The failing batch second, having written before it fails.
    let group = vec![
        committer::Request {
            ops: vec![create("fine")],
            reply: fine_tx,
        },
        committer::Request {
            ops: vec![create("half"), Op::append(&id("bad"), 2, vec![signal])],
            reply: bad_tx,
        },
    ];
    let (failing, _) = tokio::sync::watch::channel(None);
    committer::commit_group(&store.backend, &store.census, &failing, group, || {});
    let bad = bad_rx.await.unwrap();
    assert!(
        matches!(bad, Err(StoreError::Corrupt { .. })),
        "the failing batch gets its error: {bad:?}"
    );
    assert_eq!(fine_rx.await.unwrap().unwrap(), Ok(()));
    assert!(store.execution(&id("fine")).unwrap().is_some());
    assert!(
        store.execution(&id("half")).unwrap().is_none(),
        "the failing batch's first op was kept"
    );
}

/// Issue 17 asks it of the group commit on PostgreSQL: one refused request
/// must leave the others unaffected. The database refusing one batch's
/// statement (here a trigger of the operator's; a value past a limit would
/// do the same) ends the whole transaction, and the refusal surfaces at the
/// commit, naming no batch: every caller of the group got the error and
/// nothing was written. The group is written again one batch at a time, so
/// only the refused batch fails.
#[tokio::test]
async fn a_statement_postgresql_refuses_fails_only_its_own_batch() {
    let Some(url) = fresh_postgres_url("refused") else {
        return;
    };
    let store = Store::open_at(&Location::Postgres(url.clone())).unwrap();
    let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    admin
        .batch_execute(
            "CREATE FUNCTION refuse_bad() RETURNS trigger AS $$ BEGIN \
               IF NEW.k0 = convert_to('bad', 'UTF8') THEN \
                 RAISE EXCEPTION 'refused by the test'; \
               END IF; RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse_bad BEFORE INSERT OR UPDATE ON weft_executions \
               FOR EACH ROW EXECUTE FUNCTION refuse_bad();",
        )
        .await
        .unwrap();
    let (before_tx, before_rx) = tokio::sync::oneshot::channel();
    let (bad_tx, bad_rx) = tokio::sync::oneshot::channel();
    let (after_tx, after_rx) = tokio::sync::oneshot::channel();
    let group = vec![
        committer::Request {
            ops: vec![create("before")],
            reply: before_tx,
        },
        committer::Request {
            ops: vec![create("bad")],
            reply: bad_tx,
        },
        committer::Request {
            ops: vec![create("after")],
            reply: after_tx,
        },
    ];
    let (failing, _) = tokio::sync::watch::channel(None);
    committer::commit_group(&store.backend, &store.census, &failing, group, || {});
    let bad = bad_rx.await.unwrap();
    assert!(
        matches!(&bad, Err(StoreError::Backend(text)) if text.contains("refused by the test")),
        "the refused batch gets the database's refusal: {bad:?}"
    );
    assert_eq!(before_rx.await.unwrap().unwrap(), Ok(()));
    assert_eq!(after_rx.await.unwrap().unwrap(), Ok(()));
    assert!(store.execution(&id("before")).unwrap().is_some());
    assert!(store.execution(&id("after")).unwrap().is_some());
    assert!(store.execution(&id("bad")).unwrap().is_none());
}

/// Issue 14, defect 1: a child's end refused (its run was reset meanwhile)
/// while `child_completed` still reached the parent.
#[tokio::test]
async fn a_refused_close_tells_no_parent() {
    let (_dir, store) = open();
    let (parent, child) = (id("p"), id("c"));
    store
        .write(vec![create("p"), child_of("c", "p", 1)])
        .await
        .unwrap()
        .unwrap();
    let mut close = completing(&child);
    if let Op::Append { expect_resets, .. } = &mut close {
        *expect_resets = Some(3);
    }
    let tell = Op::TellParent {
        child: child.clone(),
        at_ms: 9,
        outcome: Ok(Payload::default()),
    };
    assert_eq!(
        store.write(vec![close, tell]).await.unwrap(),
        Err(OpError::Stale("c".into()))
    );
    assert_eq!(kinds(&store, &parent), vec!["execution_started"]);
    assert_eq!(kinds(&store, &child), vec!["execution_started"]);
}

/// A child's end reaches a parent only while the parent waits for it: a
/// parent that closed meanwhile is skipped and the child still closes.
#[tokio::test]
async fn a_child_closes_whether_or_not_its_parent_still_waits() {
    let (_dir, store) = open();
    let (parent, child) = (id("p"), id("c"));
    store
        .write(vec![create("p"), child_of("c", "p", 1)])
        .await
        .unwrap()
        .unwrap();
    store
        .write(vec![closing(
            &parent,
            vec![],
            Close::Completed(Payload::default()),
        )])
        .await
        .unwrap()
        .unwrap();
    let close = closing(&child, vec![], Close::Completed(Payload::default()));
    let tell = Op::TellParent {
        child: child.clone(),
        at_ms: 9,
        outcome: Ok(Payload::default()),
    };
    assert_eq!(store.write(vec![close, tell]).await.unwrap(), Ok(()));
    assert_eq!(
        store.execution(&child).unwrap().unwrap().status,
        ExecutionStatus::Completed
    );
    assert_eq!(kinds(&store, &parent), vec!["execution_started"]);
}

/// Completes `id` and deletes it.
async fn close_and_delete(store: &Store, id: &ExecutionId) {
    let close = closing(id, vec![], Close::Completed(Payload::default()));
    store.write(vec![close]).await.unwrap().unwrap();
    let delete = Op::DeleteExecution {
        id: id.clone(),
        resets: None,
    };
    store.write(vec![delete]).await.unwrap().unwrap();
}

/// An execution deleted and started again under its id goes on from the
/// run and epoch the deleted one reached (as a start reusing a closed id
/// does): the deleted one's abandoned child, whose link holds the old
/// epoch, does not report its end to the new one, whose own child does.
#[tokio::test]
async fn an_id_deleted_and_started_again_goes_on_from_its_run_and_epoch() {
    let (_dir, store) = open();
    let (parent, child) = (id("p"), id("c"));
    store
        .write(vec![create("p"), child_of("c", "p", 1)])
        .await
        .unwrap()
        .unwrap();
    let ended = |c: &str| {
        vec![
            closing(&id(c), vec![], Close::Completed(Payload::default())),
            Op::TellParent {
                child: id(c),
                at_ms: 9,
                outcome: Ok(Payload::default()),
            },
        ]
    };
    close_and_delete(&store, &parent).await;
    store.write(vec![create("p")]).await.unwrap().unwrap();
    let again = store.execution(&parent).unwrap().unwrap();
    assert_eq!(
        (again.run, again.resets, again.run_start, again.began_at_run),
        (2, 1, 0, Some(2))
    );
    store.write(ended("c")).await.unwrap().unwrap();
    assert_eq!(kinds(&store, &parent), vec!["execution_started"]);
    assert_eq!(
        store.execution(&child).unwrap().unwrap().status,
        ExecutionStatus::Completed
    );
    // Its own child (started at its epoch) reports to it.
    let mut own = child_of("d", "p", 1);
    if let Op::CreateExecution { record, .. } = &mut own {
        if let Some(link) = record.parent.as_mut() {
            link.epoch = 1;
        }
    }
    store.write(vec![own]).await.unwrap().unwrap();
    store.write(ended("d")).await.unwrap().unwrap();
    assert_eq!(
        kinds(&store, &parent),
        vec!["execution_started", "child_completed"]
    );
    // Deleted again: the next one goes on from that.
    close_and_delete(&store, &parent).await;
    store.write(vec![create("p")]).await.unwrap().unwrap();
    let third = store.execution(&parent).unwrap().unwrap();
    assert_eq!((third.run, third.resets), (3, 2));
}

/// Issue 14, defect 7: a terminate racing a child's own completion turned a
/// completed execution into a terminated one; a signal just after a close
/// was recorded and never seen. The status is checked in the write.
#[tokio::test]
async fn nothing_is_recorded_after_a_close() {
    let (_dir, store) = open();
    let e = id("e");
    store.write(vec![create("e")]).await.unwrap().unwrap();
    store.write(vec![completing(&e)]).await.unwrap().unwrap();
    let closed = Err(OpError::Closed {
        id: "e".into(),
        status: "completed".into(),
    });
    let terminate = closing(
        &e,
        vec![EventKind::ExecutionTerminated {
            reason: "late".into(),
        }],
        Close::Terminated("late".into()),
    );
    assert_eq!(store.write(vec![terminate]).await.unwrap(), closed);
    let signal = Op::append(
        &e,
        10,
        vec![EventKind::SignalReceived {
            name: "s".into(),
            input: Payload::default(),
            request_id: None,
        }],
    );
    assert_eq!(store.write(vec![signal]).await.unwrap(), closed);
    let attempt = Op::append(
        &e,
        10,
        vec![EventKind::ActivityAttemptFailed {
            handle: 1,
            attempt: 1,
            failure: Failure::new("x", "y"),
            retry_at_ms: 20,
        }],
    );
    assert_eq!(store.write(vec![attempt]).await.unwrap(), closed);
    let rec = store.execution(&e).unwrap().unwrap();
    assert_eq!(rec.status, ExecutionStatus::Completed);
    assert_eq!(
        kinds(&store, &e),
        vec!["execution_started", "execution_completed"]
    );
}

/// An event is never recorded before the one before it, whatever the
/// writer's clock read (a write sent again after an outage, a host whose
/// clock is behind the last one's): its time is the last event's then, and
/// the writer is told the time it was recorded at. So is a new run of a
/// closed execution's id.
#[tokio::test]
async fn an_event_is_never_recorded_before_the_last_one() {
    let (_dir, store) = open();
    let e = id("e");
    store.write(vec![create("e")]).await.unwrap().unwrap();
    let signal = |at| {
        Op::append(
            &e,
            at,
            vec![EventKind::SignalReceived {
                name: "s".into(),
                input: Payload::default(),
                request_id: None,
            }],
        )
    };
    store.write(vec![signal(500)]).await.unwrap().unwrap();
    let placed = Placed::default();
    let mut late = signal(200);
    if let Op::Append { placed: at, .. } = &mut late {
        *at = Some(placed.clone());
    }
    store.write(vec![late]).await.unwrap().unwrap();
    assert_eq!(placed.position().map(|p| p.at_ms), Some(500));
    store.write(vec![completing(&e)]).await.unwrap().unwrap();
    let mut again = record("e");
    again.created_at_ms = 3;
    let created = Created::default();
    let start = Op::CreateExecution {
        record: Box::new(again),
        started: started(),
        reuse: Reuse::IfClosed,
        request: None,
        created: Some(created.clone()),
    };
    store.write(vec![start]).await.unwrap().unwrap();
    assert_eq!(created.get().map(|r| r.created_at_ms), Some(500));
    let times: Vec<u64> = store
        .history(&e, 0)
        .unwrap()
        .iter()
        .map(|e| e.at_ms)
        .collect();
    assert_eq!(times, vec![1, 500, 500, 500, 500]);
}

/// A run's last task that continues as new is held to the same rule: a
/// timer that fired after the task read the history is not also recorded
/// cancelled by it (the task is refused, and run again on the fuller
/// history).
#[tokio::test]
async fn a_handle_completed_before_a_continue_as_new_is_not_completed_again_by_it() {
    let (_dir, store) = open();
    let e = id("e");
    store.write(vec![create("e")]).await.unwrap().unwrap();
    let fired = Op::append(&e, 2, vec![EventKind::TimerFired { handle: 1 }]);
    store.write(vec![fired]).await.unwrap().unwrap();
    let mut can = continue_as_new(&e);
    if let Op::ContinueAsNew { events, .. } = &mut can {
        events.insert(0, EventKind::TimerCancelled { handle: 1 });
    }
    assert!(matches!(
        store.write(vec![can]).await.unwrap(),
        Err(OpError::AlreadyCompleted { handle: 1, .. })
    ));
    assert_eq!(kinds(&store, &e), vec!["execution_started", "timer_fired"]);
}

/// Issue 14, defect 14: after a restart an activity was dispatched twice and
/// both `activity_completed` events of the one handle were committed. A
/// second completion of a handle is refused inside the write, and so is a
/// failed attempt after the completion; a reset that discards the
/// completion lets the handle complete again.
#[tokio::test]
async fn a_handle_completes_once() {
    let (_dir, store) = open();
    let e = id("e");
    store.write(vec![create("e")]).await.unwrap().unwrap();
    let done = |attempt| {
        Op::append(
            &e,
            5,
            vec![EventKind::ActivityCompleted {
                handle: 1,
                attempt,
                output: Payload::default(),
                served_by: None,
            }],
        )
    };
    store.write(vec![done(1)]).await.unwrap().unwrap();
    let twice = Err(OpError::AlreadyCompleted {
        id: "e".into(),
        handle: 1,
    });
    assert_eq!(store.write(vec![done(2)]).await.unwrap(), twice);
    let failed_after = Op::append(
        &e,
        6,
        vec![EventKind::ActivityAttemptFailed {
            handle: 1,
            attempt: 2,
            failure: Failure::new("x", "y"),
            retry_at_ms: 7,
        }],
    );
    assert_eq!(store.write(vec![failed_after]).await.unwrap(), twice);
    assert_eq!(
        kinds(&store, &e),
        vec!["execution_started", "activity_completed"]
    );
    // Two completions of one handle in one batch are refused too.
    let timer_twice = Op::append(
        &e,
        7,
        vec![
            EventKind::TimerFired { handle: 2 },
            EventKind::TimerCancelled { handle: 2 },
        ],
    );
    assert!(matches!(
        store.write(vec![timer_twice]).await.unwrap(),
        Err(OpError::AlreadyCompleted { handle: 2, .. })
    ));
    let reset = Op::Reset {
        id: e.clone(),
        to_event: 0,
        module: ModuleHash::of(b"m"),
        at_ms: 8,
        reason: "again".into(),
        expect_history_len: 2,
        expect_resets: 0,
        timers: Vec::new(),
        reapply_signals: true,
        request_id: None,
    };
    store.write(vec![reset]).await.unwrap().unwrap();
    let mut again = done(1);
    if let Op::Append { expect_resets, .. } = &mut again {
        *expect_resets = Some(1);
    }
    store.write(vec![again]).await.unwrap().unwrap();
}

/// An activity may start while its run is open in its epoch and its handle
/// has no end. The length its scheduling commit left answers that without
/// the completion rows only while nothing was appended since: an end moves
/// the length, and the rows are read.
#[tokio::test]
async fn an_activity_may_start_only_while_it_has_no_end() {
    let (_dir, store) = open();
    let e = id("e");
    store.write(vec![create("e")]).await.unwrap().unwrap();
    let scheduled = Op::append(
        &e,
        2,
        vec![EventKind::ActivityScheduled {
            handle: 1,
            name: "a".into(),
            input: Payload::default(),
            options: Default::default(),
            idempotency_key: Some("e/1".into()),
        }],
    );
    store.write(vec![scheduled]).await.unwrap().unwrap();
    let after = store.history_len(&e).unwrap();
    assert_eq!(after, 2);
    for known in [Some(after), None] {
        assert!(store.activity_may_start(&e, 0, 0, 1, known).unwrap());
    }
    let ended = Op::append(
        &e,
        3,
        vec![EventKind::ActivityCompleted {
            handle: 1,
            attempt: 1,
            output: Payload::default(),
            served_by: None,
        }],
    );
    store.write(vec![ended]).await.unwrap().unwrap();
    for known in [Some(after), None] {
        assert!(!store.activity_may_start(&e, 0, 0, 1, known).unwrap());
    }
    // Another epoch or run: not this activity's.
    assert!(!store.activity_may_start(&e, 0, 1, 1, Some(3)).unwrap());
    assert!(!store.activity_may_start(&e, 5, 0, 1, Some(3)).unwrap());
}

/// Completions recorded by a host from before the `completed` table are
/// found when the store opens, so the rule holds for running executions.
#[tokio::test]
async fn completions_of_open_runs_are_indexed_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let e = id("e");
    {
        let store = Store::open(dir.path()).unwrap();
        store.write(vec![create("e")]).await.unwrap().unwrap();
        store
            .write(vec![Op::append(
                &e,
                5,
                vec![EventKind::TimerFired { handle: 3 }],
            )])
            .await
            .unwrap()
            .unwrap();
        // Forget the index, as an older host's file would not have it.
        let super::Backend::Redb(slot) = &store.backend else {
            unreachable!("a redb store")
        };
        let db = slot.get().unwrap();
        let txn = db.begin_write().unwrap();
        txn.delete_table(redb::TableDefinition::<(&str, u64, u64), ()>::new(
            tables::COMPLETED.name,
        ))
        .unwrap();
        txn.open_table(redb::TableDefinition::<&str, u64>::new(
            tables::HOST_STATE.name,
        ))
        .unwrap()
        .remove(COMPLETIONS_INDEXED)
        .unwrap();
        txn.commit().unwrap();
    }
    // The first store's committer thread lets the file go once it sees the
    // store dropped.
    let mut tries = 0;
    let store = loop {
        match Store::open(dir.path()) {
            Ok(s) => break s,
            Err(e) if tries < 500 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                let _ = e;
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert!(matches!(
        store
            .write(vec![Op::append(
                &e,
                6,
                vec![EventKind::TimerFired { handle: 3 }]
            )])
            .await
            .unwrap(),
        Err(OpError::AlreadyCompleted { handle: 3, .. })
    ));
}

/// Issue 14, defect 13: signals recorded in a run after its last receive
/// were dropped when it continued as new. They follow the next run's
/// `execution_started`, in their order; delivered ones do not, and a
/// receive issued and never delivered (one that lost a select, issue 15)
/// takes none. So do
/// accepted updates the run's code was never handed (found by the
/// verification runner: their callers waited for a result that never
/// came); a delivered one does not, completed or not (its handler may have
/// run in part).
#[tokio::test]
async fn continue_as_new_carries_the_unreceived_signals_and_undelivered_updates() {
    let (_dir, store) = open();
    let e = id("e");
    store.write(vec![create("e")]).await.unwrap().unwrap();
    let signal = |name: &str, n: u8| EventKind::SignalReceived {
        name: name.into(),
        input: Payload(vec![b'0' + n]),
        request_id: None,
    };
    let update = |id: &str| EventKind::UpdateAccepted {
        update_id: id.into(),
        name: "bump".into(),
        input: Payload::default(),
    };
    let events = vec![
        signal("tick", 1),
        update("done"),
        signal("other", 1),
        update("pending"),
        update("running"),
        signal("tick", 2),
        EventKind::SignalAwaited {
            handle: 1,
            name: "tick".into(),
        },
        EventKind::SignalAwaited {
            handle: 3,
            name: "tick".into(),
        },
        EventKind::UpdateCompleted {
            handle: 2,
            update_id: "done".into(),
            output: None,
            failure: None,
        },
        signal("tick", 3),
    ];
    store
        .write(vec![Op::append(&e, 2, events)])
        .await
        .unwrap()
        .unwrap();
    let mut can = continue_as_new(&e);
    if let Op::ContinueAsNew {
        delivered_updates,
        delivered_signals,
        ..
    } = &mut can
    {
        *delivered_updates = vec!["done".into(), "running".into()];
        // `tick 1` (event 1) reached the code; the receive #3 never did.
        *delivered_signals = vec![1];
    }
    store.write(vec![can]).await.unwrap().unwrap();
    let rec = store.execution(&e).unwrap().unwrap();
    let next_run: Vec<EventKind> = store
        .history(&e, rec.run_start)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        next_run,
        vec![
            started(),
            signal("other", 1),
            update("pending"),
            signal("tick", 2),
            signal("tick", 3)
        ]
    );
}

/// Issue 14, defect 5: a start retried with its request id after the first
/// run closed started a second run.
#[tokio::test]
async fn a_start_request_starts_one_run() {
    let (_dir, store) = open();
    let request = || StartRequest {
        key: "t\0req-1".into(),
        legacy_key: "t\0\0req-1".into(),
        retention_ms: 100,
    };
    let start = |id: &str, at: u64| {
        let mut r = record(id);
        r.request_id = Some("req-1".into());
        r.created_at_ms = at;
        Op::CreateExecution {
            record: Box::new(r),
            started: started(),
            reuse: Reuse::IfClosed,
            request: Some(request()),
            created: None,
        }
    };
    store.write(vec![start("a", 1)]).await.unwrap().unwrap();
    let a = id("a");
    store
        .write(vec![closing(
            &a,
            vec![],
            Close::Completed(Payload::default()),
        )])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.write(vec![start("b", 50)]).await.unwrap(),
        Err(OpError::DuplicateRequest {
            request_id: "req-1".into(),
            id: "a".into(),
            run: 1
        })
    );
    assert!(store.execution(&id("b")).unwrap().is_none());
    // Past the retention after the start, the request is the execution's
    // while it is kept; once it is deleted, the request id is free again.
    assert!(matches!(
        store.write(vec![start("b", 200)]).await.unwrap(),
        Err(OpError::DuplicateRequest { .. })
    ));
    let forget = || async {
        let rows = store.start_requests_past(150, &[]).unwrap();
        store
            .write(vec![Op::ForgetStartRequests { rows }])
            .await
            .unwrap()
            .unwrap();
    };
    forget().await;
    assert!(store.start_request(&request(), 200).unwrap().is_some());
    let delete = Op::DeleteExecution {
        id: a.clone(),
        resets: None,
    };
    store.write(vec![delete]).await.unwrap().unwrap();
    assert!(store.start_request(&request(), 200).unwrap().is_none());
    forget().await;
    store.write(vec![start("b", 200)]).await.unwrap().unwrap();
}

fn child_of(id: &str, parent: &str, handle: u64) -> Op {
    let mut r = record(id);
    r.parent = Some(crate::model::ParentLink {
        id: parent.parse().unwrap(),
        handle,
        epoch: 0,
        close_policy: crate::model::ParentClosePolicy::Terminate,
    });
    Op::CreateExecution {
        record: Box::new(r),
        started: started(),
        reuse: Reuse::Never,
        request: None,
        created: None,
    }
}

fn child_started(handle: u64, id: &str) -> EventKind {
    EventKind::ChildStarted {
        handle,
        workflow_type: "t".parse().unwrap(),
        child_id: id.into(),
        input: Payload::default(),
        policy: crate::model::ParentClosePolicy::Terminate,
        cancellation: None,
    }
}

/// Issue 14, defect 8: a reset left the children it kept on the old epoch
/// (their ends refused forever, the parent hanging), lost the end of a kept
/// child that ended in the discarded part, left the children of the
/// discarded part running (colliding with their re-run), and dropped the
/// signals received after the point.
#[tokio::test]
async fn a_reset_settles_children_and_keeps_signals() {
    let (_dir, store) = open();
    let p = id("p");
    store
        .write(vec![
            create("p"),
            child_of("kept-running", "p", 1),
            child_of("kept-ended", "p", 2),
        ])
        .await
        .unwrap()
        .unwrap();
    store
        .write(vec![Op::append(
            &p,
            2,
            vec![
                child_started(1, "kept-running"),
                child_started(2, "kept-ended"),
            ],
        )])
        .await
        .unwrap()
        .unwrap();
    // Event 3 on is discarded: kept-ended's end, a new child, a signal.
    store
        .write(vec![child_of("discarded", "p", 3)])
        .await
        .unwrap()
        .unwrap();
    let ended = closing(
        &id("kept-ended"),
        vec![],
        Close::Completed(Payload(b"7".to_vec())),
    );
    let told = Op::append(
        &p,
        3,
        vec![EventKind::ChildCompleted {
            handle: 2,
            child_id: "kept-ended".into(),
            output: Some(Payload(b"7".to_vec())),
            failure: None,
        }],
    );
    store.write(vec![ended, told]).await.unwrap().unwrap();
    let signal = EventKind::SignalReceived {
        name: "s".into(),
        input: Payload(b"1".to_vec()),
        request_id: None,
    };
    store
        .write(vec![Op::append(
            &p,
            4,
            vec![child_started(3, "discarded"), signal.clone()],
        )])
        .await
        .unwrap()
        .unwrap();
    let reset = |expect_history_len| Op::Reset {
        id: p.clone(),
        to_event: 2,
        module: ModuleHash::of(b"m"),
        at_ms: 9,
        reason: "fix".into(),
        expect_history_len,
        expect_resets: 0,
        timers: Vec::new(),
        reapply_signals: true,
        request_id: None,
    };
    store.write(vec![reset(6)]).await.unwrap().unwrap();
    let after: Vec<EventKind> = store
        .history(&p, 3)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(after.len(), 3, "{after:?}");
    assert!(matches!(after[0], EventKind::ExecutionReset { .. }));
    assert!(
        matches!(&after[1], EventKind::ChildCompleted { handle: 2, output: Some(o), .. } if o.0 == b"7"),
        "{after:?}"
    );
    assert_eq!(after[2], signal);
    let running = store.execution(&id("kept-running")).unwrap().unwrap();
    assert_eq!(
        running.parent.unwrap().epoch,
        1,
        "re-attached to the new epoch"
    );
    let discarded = store.execution(&id("discarded")).unwrap().unwrap();
    assert_eq!(discarded.status, ExecutionStatus::Terminated);
    // The re-attached child's end now reaches the parent, although the
    // child loaded (and would have told) the old epoch.
    let tell = Op::TellParent {
        child: id("kept-running"),
        at_ms: 10,
        outcome: Ok(Payload::default()),
    };
    store.write(vec![tell]).await.unwrap().unwrap();
    assert_eq!(
        store.history(&p, 0).unwrap().last().unwrap().event.name(),
        "child_completed"
    );
    // kept-ended's end is noted: it cannot complete twice.
    let again = Op::append(
        &p,
        11,
        vec![EventKind::ChildCompleted {
            handle: 2,
            child_id: "kept-ended".into(),
            output: None,
            failure: None,
        }],
    );
    assert!(matches!(
        store.write(vec![again]).await.unwrap(),
        Err(OpError::AlreadyCompleted { handle: 2, .. })
    ));
}

/// Issue 14, defect 8: a reset computed on a run that continued as new
/// before it committed deleted the new run's `execution_started`. The point
/// must lie in the current run, checked in the write.
#[tokio::test]
async fn a_reset_never_reaches_into_a_closed_run() {
    let (_dir, store) = open();
    let e = id("e");
    store.write(vec![create("e")]).await.unwrap().unwrap();
    store
        .write(vec![Op::append(
            &e,
            2,
            vec![EventKind::TimerFired { handle: 1 }],
        )])
        .await
        .unwrap()
        .unwrap();
    let can = continue_as_new(&e);
    store.write(vec![can]).await.unwrap().unwrap();
    // Computed on the first run (to event 0) with the length seen after the
    // continue-as-new: still refused.
    let reset = Op::Reset {
        id: e.clone(),
        to_event: 0,
        module: ModuleHash::of(b"m"),
        at_ms: 4,
        reason: "late".into(),
        expect_history_len: 4,
        expect_resets: 0,
        timers: Vec::new(),
        reapply_signals: true,
        request_id: None,
    };
    assert_eq!(
        store.write(vec![reset]).await.unwrap(),
        Err(OpError::HistoryChanged("e".into()))
    );
    assert_eq!(store.history_len(&e).unwrap(), 4);
}

/// A read that meets the database closed by a failed write (before the
/// committer's reopen) is a disk error, which reads wait out, not a store
/// failure: it failed an activity attempt with "Database has been closed"
/// in `storage::a_full_disk_refuses_writes_keeps_reads_and_resumes_when_space_returns`
/// under load.
#[test]
fn a_database_closed_by_a_disk_error_is_a_disk_error() {
    assert!(matches!(
        StoreError::from(redb::Error::DatabaseClosed),
        StoreError::Io(_)
    ));
    assert!(matches!(
        StoreError::from(redb::StorageError::DatabaseClosed),
        StoreError::Io(_)
    ));
}

/// A close drops the closing execution's timer rows and nobody else's, by
/// its own index (not by reading every execution's rows).
#[tokio::test]
async fn a_close_drops_its_own_timer_rows_and_keeps_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for (name, due) in [("a", 100), ("b", 50), ("c", 75)] {
        store.write(vec![create(name)]).await.unwrap().unwrap();
        let mut op = Op::append(
            &id(name),
            5,
            vec![EventKind::TimerStarted {
                handle: 1,
                duration_ms: due,
                fire_at_ms: due,
            }],
        );
        if let Op::Append { timers_add, .. } = &mut op {
            timers_add.push((due, 1));
        }
        store.write(vec![op]).await.unwrap().unwrap();
    }
    // "b" closes with its timer pending: only its row goes.
    let op = closing(&id("b"), vec![], Close::Completed(Payload(b"1".to_vec())));
    store.write(vec![op]).await.unwrap().unwrap();
    let left: Vec<(u64, String)> = store
        .timers()
        .unwrap()
        .into_iter()
        .map(|t| (t.due_ms, t.execution.to_string()))
        .collect();
    assert_eq!(left, vec![(75, "c".to_owned()), (100, "a".to_owned())]);
    // And the index agrees: closing "a" leaves only "c".
    let op = closing(&id("a"), vec![], Close::Completed(Payload(b"1".to_vec())));
    store.write(vec![op]).await.unwrap().unwrap();
    assert_eq!(store.timer_count().unwrap(), 1);
    drop(dir);
}

/// Search attributes follow the history in the transaction that records
/// them: the record holds them, a name keeps the type it was first given
/// (another type is refused and nothing of the batch is written), and a
/// reset leaves what the kept events set.
#[tokio::test]
async fn search_attributes_are_kept_with_the_history_and_typed_host_wide() {
    use crate::model::search::{SearchType, SearchValue};
    let (_dir, store) = open();
    let e1 = id("e1");
    assert_eq!(store.write(vec![create("e1")]).await.unwrap(), Ok(()));
    let upsert =
        |handle, name: &str, value: Option<SearchValue>| EventKind::SearchAttributesUpserted {
            handle,
            attributes: [(name.to_owned(), value)].into_iter().collect(),
        };
    let kw = |s: &str| Some(SearchValue::Keyword(s.into()));
    let memo = EventKind::MemoUpserted {
        handle: 2,
        memo: [("note".to_owned(), Some(Payload(b"\"hi\"".to_vec())))]
            .into_iter()
            .collect(),
    };
    let op = Op::append(&e1, 5, vec![upsert(1, "CustomerId", kw("c-1")), memo]);
    assert_eq!(store.write(vec![op]).await.unwrap(), Ok(()));
    let r = store.execution(&e1).unwrap().unwrap();
    assert_eq!(
        r.search_attributes["CustomerId"],
        SearchValue::Keyword("c-1".into())
    );
    assert_eq!(r.memo["note"], Payload(b"\"hi\"".to_vec()));
    assert_eq!(
        store.search_types().unwrap(),
        vec![("CustomerId".to_owned(), SearchType::Keyword)]
    );
    // Another type for the name: refused, nothing written.
    let op = Op::append(
        &e1,
        6,
        vec![upsert(3, "CustomerId", Some(SearchValue::Int(4)))],
    );
    match store.write(vec![op]).await.unwrap() {
        Err(OpError::SearchType(message)) => {
            assert!(message.contains("CustomerId has type keyword"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(store.history_len(&e1).unwrap(), 3);
    // A change, then a reset to before it: the kept events decide.
    let op = Op::append(&e1, 7, vec![upsert(3, "CustomerId", kw("c-2"))]);
    assert_eq!(store.write(vec![op]).await.unwrap(), Ok(()));
    let r = store.execution(&e1).unwrap().unwrap();
    assert_eq!(
        r.search_attributes["CustomerId"],
        SearchValue::Keyword("c-2".into())
    );
    let reset = Op::Reset {
        id: e1.clone(),
        to_event: 1,
        module: ModuleHash::of(b"m"),
        at_ms: 8,
        reason: "test".into(),
        expect_history_len: 4,
        expect_resets: 0,
        timers: Vec::new(),
        reapply_signals: false,
        request_id: None,
    };
    assert_eq!(store.write(vec![reset]).await.unwrap(), Ok(()));
    let r = store.execution(&e1).unwrap().unwrap();
    assert_eq!(
        r.search_attributes["CustomerId"],
        SearchValue::Keyword("c-1".into())
    );
    assert!(r.memo.is_empty(), "the memo was set after the reset point");
    // Removing one.
    let op = Op::append(&e1, 9, vec![upsert(2, "CustomerId", None)]);
    assert_eq!(store.write(vec![op]).await.unwrap(), Ok(()));
    assert!(store
        .execution(&e1)
        .unwrap()
        .unwrap()
        .search_attributes
        .is_empty());
}

/// A run records one cancellation request: a second, from a canceller that
/// read the execution before the first was written, is refused (in a later
/// batch or later in the same one), and other appends go on.
#[tokio::test]
async fn a_run_records_one_cancellation_request() {
    let (_dir, store) = open();
    let e = id("e");
    store.write(vec![create("e")]).await.unwrap().unwrap();
    let cancel = || {
        Op::append(
            &e,
            5,
            vec![EventKind::CancelRequested {
                reason: "stop".into(),
            }],
        )
    };
    let other = Op::append(
        &e,
        5,
        vec![EventKind::TimerStarted {
            handle: 1,
            duration_ms: 10,
            fire_at_ms: 15,
        }],
    );
    store.write(vec![cancel()]).await.unwrap().unwrap();
    assert!(store.execution(&e).unwrap().unwrap().cancel_requested);
    assert_eq!(
        store.write(vec![cancel()]).await.unwrap(),
        Err(OpError::CancelAlreadyRequested("e".into()))
    );
    assert_eq!(
        store.write(vec![other.clone(), cancel()]).await.unwrap(),
        Err(OpError::CancelAlreadyRequested("e".into()))
    );
    store.write(vec![other]).await.unwrap().unwrap();
    assert_eq!(
        kinds(&store, &e),
        ["execution_started", "cancel_requested", "timer_started"]
    );
    let fresh = id("f");
    store.write(vec![create("f")]).await.unwrap().unwrap();
    let twice = Op::append(
        &fresh,
        5,
        vec![
            EventKind::CancelRequested { reason: "a".into() },
            EventKind::TimerStarted {
                handle: 1,
                duration_ms: 10,
                fire_at_ms: 15,
            },
        ],
    );
    let again = Op::append(
        &fresh,
        6,
        vec![EventKind::CancelRequested { reason: "b".into() }],
    );
    assert_eq!(
        store.write(vec![twice, again]).await.unwrap(),
        Err(OpError::CancelAlreadyRequested("f".into()))
    );
    assert_eq!(kinds(&store, &fresh), ["execution_started"]);
}

/// An append's check reads a record only up to the fields it needs: what
/// follows them (the input, the output: megabytes, maybe) is not read at
/// all, so a record cut right after them still gives its head.
#[test]
fn an_appends_check_reads_a_record_up_to_its_head_only() {
    let mut r = record("wf_head");
    r.resets = 3;
    r.run_start = 7;
    r.cancel_requested = true;
    r.input = Payload(b"[1,2,3]".to_vec());
    let text = String::from_utf8(serde_json::to_vec(&r).unwrap()).unwrap();
    let cut = text
        .find("\"created_at_ms\"")
        .expect("the head comes first");
    let head = super::head::Head::decode(&text.as_bytes()[..cut]).unwrap();
    assert_eq!(
        (
            head.status,
            head.resets,
            head.run_start,
            head.cancel_requested
        ),
        (ExecutionStatus::Running, 3, 7, true)
    );
}

/// Records of older releases have their input before the head's fields,
/// or lack the fields that came later: read to their end, they decode as
/// before.
#[test]
fn a_record_of_an_older_release_gives_its_head() {
    let module = serde_json::to_string(&ModuleHash::of(b"m")).unwrap();
    let old_order = format!(
        r#"{{"id":"wf_old","workflow_type":"t","module":{module},"status":"running","created_at_ms":1,"closed_at_ms":null,"input":"[1]","output":null,"failure":null,"stall_reason":null,"resets":2,"run":1,"run_start":5,"request_id":null,"parent":null,"cancel_requested":true}}"#
    );
    let head = super::head::Head::decode(old_order.as_bytes()).unwrap();
    assert_eq!(
        (head.resets, head.run_start, head.cancel_requested),
        (2, 5, true)
    );
    let oldest = format!(
        r#"{{"id":"wf_old","workflow_type":"t","module":{module},"status":"completed","created_at_ms":1,"closed_at_ms":2,"input":"[1]","output":"2","failure":null,"stall_reason":null}}"#
    );
    let head = super::head::Head::decode(oldest.as_bytes()).unwrap();
    assert_eq!(
        (
            head.status,
            head.resets,
            head.run_start,
            head.cancel_requested
        ),
        (ExecutionStatus::Completed, 0, 0, false)
    );
    let broken = format!(r#"{{"id":"wf_old","module":{module},"resets":1}}"#);
    let e = super::head::Head::decode(broken.as_bytes()).err().unwrap();
    assert!(e.to_string().contains("missing field `status`"), "{e}");
}

/// The census moves with each commit: the count by status and a listing's
/// order (newest start first, then the greater id, from a cursor, of a
/// status); a refused batch moves nothing; and a census whose last
/// commit's outcome was not known is taken again when asked (a restart's
/// census at open: the end-to-end test
/// `basics::metrics_by_status_follow_every_change_and_a_restart`).
#[tokio::test]
async fn the_census_follows_commits_and_is_taken_again_when_unknown() {
    let (_dir, store) = open();
    let count = |store: &Store, status: ExecutionStatus| {
        store
            .execution_counts()
            .unwrap()
            .into_iter()
            .find(|(s, _)| *s == status)
            .map(|(_, n)| n)
            .unwrap()
    };
    let listed = |store: &Store, after: Option<&str>, status: Option<ExecutionStatus>| {
        let after = after.map(|id| (record(id).created_at_ms, id.to_owned()));
        store
            .execution_heads_page(after.as_ref(), status, None, 10, |_| true)
            .unwrap()
            .into_iter()
            .map(|h| h.id.to_string())
            .collect::<Vec<_>>()
    };
    for i in 0..3 {
        store
            .write(vec![create(&format!("e{i}"))])
            .await
            .unwrap()
            .unwrap();
    }
    store
        .write(vec![completing(&id("e0"))])
        .await
        .unwrap()
        .unwrap();
    // Refused: the id exists. Nothing moves.
    assert!(store.write(vec![create("e1")]).await.unwrap().is_err());
    assert_eq!(count(&store, ExecutionStatus::Running), 2);
    assert_eq!(count(&store, ExecutionStatus::Completed), 1);
    assert_eq!(count(&store, ExecutionStatus::Failed), 0);
    assert_eq!(listed(&store, None, None), ["e2", "e1", "e0"]);
    assert_eq!(listed(&store, Some("e2"), None), ["e1", "e0"]);
    // A run continued as new starts anew: listed once, at its new start.
    store
        .write(vec![continue_as_new(&id("e1"))])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(listed(&store, None, None), ["e1", "e2", "e0"]);
    assert_eq!(listed(&store, Some("e2"), None), ["e0"]);
    assert_eq!(count(&store, ExecutionStatus::Running), 2);
    assert_eq!(
        listed(&store, None, Some(ExecutionStatus::Completed)),
        ["e0"]
    );
    // Not known: taken again from the records.
    store.census.unknown();
    assert!(!store.census.is_known());
    // Meanwhile every record is read.
    assert_eq!(count(&store, ExecutionStatus::Running), 2);
    assert_eq!(listed(&store, None, None), ["e1", "e2", "e0"]);
    assert_eq!(listed(&store, Some("e2"), None), ["e0"]);
    // The committer takes it again between two transactions.
    store.write(vec![create("e3")]).await.unwrap().unwrap();
    assert!(store.census.is_known());
    assert_eq!(count(&store, ExecutionStatus::Running), 3);
    assert_eq!(count(&store, ExecutionStatus::Completed), 1);
    assert_eq!(listed(&store, None, None), ["e1", "e3", "e2", "e0"]);
}

/// On a store of three partitions, an id is made in one partition and
/// refused by the others (before anything is written: the directory names
/// the partition it is in), while the partition that made it goes on with
/// it as on a store of one.
#[tokio::test(flavor = "multi_thread")]
async fn an_id_is_made_in_one_partition_and_refused_by_the_others_on_postgres() {
    let Some(url) = fresh_postgres_url("store_partitions") else {
        return;
    };
    let pg =
        super::kv::pg::Pg::connect(&url, true, "t", std::time::Duration::from_secs(10), 3).unwrap();
    let store = |part: u32| {
        let p = pg.partition(part).unwrap();
        p.acquire(super::cluster::Wait::No).unwrap();
        Store::from_backend(super::Backend::Pg(p)).unwrap()
    };
    let (one, two) = (store(1), store(2));
    assert_eq!(one.write(vec![create("x")]).await.unwrap(), Ok(()));
    assert_eq!(
        two.write(vec![create("x")]).await.unwrap(),
        Err(OpError::InAnotherPartition {
            id: "x".into(),
            part: 1
        })
    );
    assert!(
        two.execution(&id("x")).unwrap().is_none(),
        "nothing written"
    );
    assert_eq!(
        one.write(vec![create("x")]).await.unwrap(),
        Err(OpError::ExecutionExists("x".into())),
        "its own partition answers as a store of one does"
    );
    assert_eq!(two.write(vec![create("y")]).await.unwrap(), Ok(()));
    assert_eq!(
        one.write(vec![create("y")]).await.unwrap(),
        Err(OpError::InAnotherPartition {
            id: "y".into(),
            part: 2
        })
    );
    one.write(vec![completing(&id("x"))])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        kinds(&one, &id("x")),
        vec!["execution_started", "execution_completed"]
    );
}

/// Two partitions making the same id at once: the second's directory
/// claim waits for the first's transaction; once that commits, the second
/// is refused as if the id had been there all along (nothing of it
/// written), and the first's execution is the id's.
#[test]
fn two_partitions_making_one_id_at_once_make_it_once_on_postgres() {
    use super::kv::Txn;
    let Some((pg, one, two)) = super::kv::tests::partitions_1_and_2("store_claim_race", "t") else {
        return;
    };
    let first = Txn::Pg(one.begin_write().unwrap());
    assert_eq!(super::apply::apply(&first, &create("z")).unwrap(), Ok(()));
    let second = {
        let two = two.clone();
        std::thread::spawn(move || {
            let txn = Txn::Pg(two.begin_write().unwrap());
            let outcome = super::apply::apply(&txn, &create("z")).unwrap();
            txn.commit().unwrap();
            outcome
        })
    };
    super::kv::tests::until_a_session_waits_for_a_lock(&pg);
    assert!(!second.is_finished(), "the second waits for the first");
    first.commit().unwrap();
    assert_eq!(
        second.join().unwrap(),
        Err(OpError::InAnotherPartition {
            id: "z".into(),
            part: 1
        })
    );
    let read = |pg: &std::sync::Arc<super::kv::pg::Pg>| {
        let txn = Txn::Pg(pg.begin_read().unwrap());
        let found = txn
            .open_table(super::tables::EXECUTIONS)
            .unwrap()
            .get("z")
            .unwrap()
            .is_some();
        found
    };
    assert!(read(&one));
    assert!(!read(&two), "nothing of the second was written");
}

/// Two partitions registering one new search attribute name at once with
/// different types: the second's registration waits for the first's
/// transaction, and once that commits the second fails (nothing of it
/// written) instead of overwriting the type; made again, it is refused as
/// a type conflict.
#[test]
fn two_partitions_registering_one_name_with_two_types_keep_the_first_on_postgres() {
    use super::kv::Txn;
    use crate::model::search::SearchValue;
    let Some((pg, one, two)) = super::kv::tests::partitions_1_and_2("store_types_race", "t") else {
        return;
    };
    let with = |id: &str, value: SearchValue| {
        let mut op = create(id);
        if let Op::CreateExecution {
            started:
                EventKind::ExecutionStarted {
                    search_attributes, ..
                },
            ..
        } = &mut op
        {
            search_attributes.insert("Region".into(), value);
        }
        op
    };
    let first = Txn::Pg(one.begin_write().unwrap());
    let keyword = with("a", SearchValue::Keyword("eu".into()));
    assert_eq!(super::apply::apply(&first, &keyword).unwrap(), Ok(()));
    let second = {
        let two = two.clone();
        let op = with("b", SearchValue::Int(4));
        std::thread::spawn(move || {
            let txn = Txn::Pg(two.begin_write().unwrap());
            let outcome = super::apply::apply(&txn, &op);
            let failed = outcome.is_err();
            drop(txn);
            (failed, outcome.err().map(|e| e.to_string()))
        })
    };
    super::kv::tests::until_a_session_waits_for_a_lock(&pg);
    assert!(!second.is_finished(), "the second waits for the first");
    first.commit().unwrap();
    let (failed, why) = second.join().unwrap();
    assert!(failed, "the second fails");
    let why = why.unwrap();
    assert!(why.contains("Region") && why.contains("keyword"), "{why}");
    let txn = Txn::Pg(two.begin_write().unwrap());
    let again = super::apply::apply(&txn, &with("b", SearchValue::Int(4))).unwrap();
    assert!(matches!(again, Err(OpError::SearchType(_))), "{again:?}");
    drop(txn);
    let read = Txn::Pg(pg.begin_read().unwrap());
    let types = super::search::types(&read).unwrap();
    assert_eq!(
        types,
        vec![(
            "Region".to_owned(),
            crate::model::search::SearchType::Keyword
        )]
    );
}
