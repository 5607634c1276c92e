//! The replayer's unit tests: matching, deliveries, patches, signals.

use super::*;
use crate::model::ModuleHash;

fn ev(index: u64, at_ms: u64, event: EventKind) -> Event {
    Event {
        index,
        at_ms,
        event,
        waits: false,
    }
}

fn started() -> Event {
    ev(
        0,
        100,
        EventKind::ExecutionStarted {
            workflow_type: "t".parse().unwrap(),
            module: ModuleHash::of(b"m"),
            input: Payload::default(),
            seed: 42,
            random: None,
            search_attributes: Default::default(),
            memo: Default::default(),
        },
    )
}

fn act(name: &str) -> Command {
    Command::Activity {
        name: name.into(),
        input: Payload(b"1".to_vec()),
        options: ActivityOptions::default(),
    }
}

fn scheduled(index: u64, handle: u64, name: &str) -> Event {
    ev(
        index,
        100,
        EventKind::ActivityScheduled {
            handle,
            name: name.into(),
            input: Payload(b"1".to_vec()),
            options: ActivityOptions::default(),
            idempotency_key: None,
        },
    )
}

fn completed(index: u64, at: u64, handle: u64) -> Event {
    ev(
        index,
        at,
        EventKind::ActivityCompleted {
            handle,
            attempt: 1,
            output: Payload(vec![b'0' + handle as u8]),
            served_by: None,
        },
    )
}

/// History: started, a and b scheduled, b completes before a.
fn two_activities() -> Vec<Event> {
    vec![
        started(),
        scheduled(1, 1, "a"),
        scheduled(2, 2, "b"),
        completed(3, 200, 2),
        completed(4, 300, 1),
    ]
}

#[test]
fn replay_delivers_in_history_order_and_moves_time() {
    let mut r = Replayer::new(two_activities());
    assert_eq!(r.issue(act("a")), Ok(1));
    assert_eq!(r.issue(act("b")), Ok(2));
    assert!(!r.replaying());
    let (h, _) = r.next_completion(&[1, 2]).unwrap().unwrap();
    assert_eq!((h, r.now_ms()), (2, 200));
    let (h, _) = r.next_completion(&[1]).unwrap().unwrap();
    assert_eq!((h, r.now_ms()), (1, 300));
    assert_eq!(r.next_completion(&[1]), Err(Misuse::AlreadyDelivered(1)));
    assert_eq!(r.next_completion(&[3]), Err(Misuse::UnknownHandle(3)));
}

#[test]
fn waiting_on_one_handle_skips_other_completions() {
    let mut r = Replayer::new(two_activities());
    r.issue(act("a")).unwrap();
    r.issue(act("b")).unwrap();
    let (h, _) = r.next_completion(&[1]).unwrap().unwrap();
    assert_eq!(h, 1);
    let (h, _) = r.next_completion(&[2]).unwrap().unwrap();
    assert_eq!(h, 2);
}

#[test]
fn a_different_command_is_a_divergence_naming_the_event() {
    let mut r = Replayer::new(two_activities());
    r.issue(act("a")).unwrap();
    let d = r.issue(act("c")).unwrap_err();
    assert_eq!(d.event_index, 2);
    assert!(d.recorded.contains("activity b"), "{d}");
    assert!(d.issued.contains("activity c"), "{d}");
    let d = Replayer::new(two_activities())
        .issue(Command::Timer { duration_ms: 5 })
        .unwrap_err();
    assert_eq!(d.event_index, 1);
}

#[test]
fn blocking_or_returning_early_is_a_divergence() {
    let mut r = Replayer::new(two_activities());
    r.issue(act("a")).unwrap();
    assert!(r.replaying());
    assert_eq!(r.check_blocking(&[1]).unwrap_err().event_index, 2);
    assert_eq!(
        r.check_finished(&Ok(Payload::default()))
            .unwrap_err()
            .event_index,
        2
    );
}

#[test]
fn commands_beyond_the_history_are_new() {
    let mut r = Replayer::new(vec![started()]);
    assert_eq!(r.issue(Command::Timer { duration_ms: 10 }), Ok(1));
    assert!(r.has_new_commands());
    assert_eq!(r.take_new_commands().len(), 1);
    assert_eq!(r.next_completion(&[1]), Ok(None));
    r.extend(vec![ev(
        1,
        150,
        EventKind::TimerStarted {
            handle: 1,
            duration_ms: 10,
            fire_at_ms: 160,
        },
    )]);
    r.extend(vec![ev(2, 160, EventKind::TimerFired { handle: 1 })]);
    assert!(!r.replaying());
    assert_eq!(r.next_completion(&[1]).unwrap().unwrap().0, 1);
    assert_eq!(r.now_ms(), 160);
}

#[test]
fn random_stream_is_seeded_by_the_history() {
    let mut a = Replayer::new(vec![started()]);
    let mut b = Replayer::new(vec![started()]);
    assert_eq!((a.random(), a.random()), (b.random(), b.random()));
}

#[test]
fn a_changed_result_is_a_divergence() {
    let mut h = vec![started()];
    h.push(ev(
        1,
        100,
        EventKind::ExecutionCompleted {
            output: Payload(b"1".to_vec()),
        },
    ));
    let r = Replayer::new(h);
    assert!(r.check_finished(&Ok(Payload(b"1".to_vec()))).is_ok());
    assert_eq!(
        r.check_finished(&Ok(Payload(b"2".to_vec())))
            .unwrap_err()
            .event_index,
        1
    );
}

#[test]
fn patched_is_true_on_a_fresh_path_and_records_a_marker_once() {
    let mut r = Replayer::new(vec![started()]);
    assert!(r.patched("p").unwrap());
    assert!(r.patched("p").unwrap(), "the answer is fixed for the run");
    let cmds = r.take_new_commands();
    assert_eq!(cmds.len(), 1);
    assert!(matches!(&cmds[0], (1, Command::Patch { id }) if id == "p"));
}

#[test]
fn patched_is_false_over_a_history_from_before_the_patch() {
    // Recorded by code without the patch: `a` then `b`.
    let mut r = Replayer::new(vec![started(), scheduled(1, 1, "a"), scheduled(2, 2, "b")]);
    assert_eq!(r.issue(act("a")), Ok(1));
    assert!(!r.patched("p").unwrap());
    assert_eq!(
        r.issue(act("b")),
        Ok(2),
        "no handle was used by the old path"
    );
    assert!(!r.patched("p").unwrap(), "still false later in the run");
    assert!(r.take_new_commands().is_empty());
}

#[test]
fn patched_replays_its_own_marker_as_true() {
    let marker = ev(
        2,
        100,
        EventKind::PatchMarker {
            handle: 2,
            patch_id: "p".into(),
        },
    );
    let mut r = Replayer::new(vec![
        started(),
        scheduled(1, 1, "a"),
        marker,
        scheduled(3, 3, "b"),
    ]);
    assert_eq!(r.issue(act("a")), Ok(1));
    assert!(r.patched("p").unwrap());
    assert_eq!(r.issue(act("b")), Ok(3));
    assert!(r.take_new_commands().is_empty());
    // Code that dropped the patch call altogether diverges at the marker.
    let mut r = Replayer::new(r.history().to_vec());
    assert_eq!(r.issue(act("a")), Ok(1));
    let d = r.issue(act("b")).unwrap_err();
    assert_eq!(d.event_index, 2);
    assert!(d.recorded.contains("patch `p`"), "{d}");
}

fn signal(index: u64, name: &str, input: &str) -> Event {
    ev(
        index,
        200 + index,
        EventKind::SignalReceived {
            name: name.into(),
            input: Payload(input.as_bytes().to_vec()),
            request_id: None,
        },
    )
}

#[test]
fn the_nth_receive_of_a_name_gets_the_nth_signal_of_it() {
    // Two signals of `a`, one of `b`, recorded before any receive.
    let mut r = Replayer::new(vec![
        started(),
        signal(1, "a", "1"),
        signal(2, "b", "x"),
        signal(3, "a", "2"),
    ]);
    let rb = r
        .issue(Command::ReceiveSignal { name: "b".into() })
        .unwrap();
    let ra1 = r
        .issue(Command::ReceiveSignal { name: "a".into() })
        .unwrap();
    let ra2 = r
        .issue(Command::ReceiveSignal { name: "a".into() })
        .unwrap();
    // Waiting on the second receive of `a` skips the first signal of `a`.
    assert_eq!(
        r.next_delivery(&[ra2]).unwrap(),
        Some(Delivered::Completion((ra2, Ok(Payload(b"2".to_vec())))))
    );
    assert_eq!(
        r.next_delivery(&[ra1, rb]).unwrap(),
        Some(Delivered::Completion((ra1, Ok(Payload(b"1".to_vec())))))
    );
    assert_eq!(
        r.next_delivery(&[rb]).unwrap(),
        Some(Delivered::Completion((rb, Ok(Payload(b"x".to_vec())))))
    );
    // A third receive of `a` has no signal yet.
    let ra3 = r
        .issue(Command::ReceiveSignal { name: "a".into() })
        .unwrap();
    assert_eq!(r.next_delivery(&[ra3]).unwrap(), None);
}

#[test]
fn accepted_updates_are_delivered_at_any_wait_in_history_order() {
    let update = ev(
        2,
        300,
        EventKind::UpdateAccepted {
            update_id: "u1".into(),
            name: "cancel".into(),
            input: Payload::default(),
        },
    );
    let mut r = Replayer::new(vec![
        started(),
        scheduled(1, 1, "a"),
        update,
        completed(3, 400, 1),
    ]);
    assert_eq!(r.issue(act("a")), Ok(1));
    assert!(matches!(
        r.next_delivery(&[1]).unwrap(),
        Some(Delivered::Update { update_id, .. }) if update_id == "u1"
    ));
    assert_eq!(r.now_ms(), 300, "time moves to the update's event");
    assert!(matches!(
        r.next_delivery(&[1]).unwrap(),
        Some(Delivered::Completion((1, Ok(_))))
    ));
    // With nothing awaited, only updates can end a wait.
    assert_eq!(r.next_delivery(&[]).unwrap(), None);
}

/// Issue 14, defect 2: a continue-as-new while recorded commands remained
/// was taken as a clean end (by the upgrade check and `weft replay` too), so
/// a v2 that continues as new at step 1 of a run recorded at step 2 moved
/// "cleanly" and the recorded steps were abandoned.
#[test]
fn continuing_as_new_early_is_a_divergence() {
    let mut r = Replayer::new(two_activities());
    r.issue(act("a")).unwrap();
    let d = r.check_continue_as_new().unwrap_err();
    assert_eq!(d.event_index, 2);
    assert!(d.issued.contains("continued as new"), "{d}");
    r.issue(act("b")).unwrap();
    assert_eq!(r.check_continue_as_new(), Ok(()));
}

/// The recorded run's end must be the code's: a run that continued as new
/// cannot replay into a return, nor a completed one into a continue-as-new.
#[test]
fn the_recorded_end_decides_how_a_replay_may_end() {
    let mut history = two_activities();
    history.push(ev(
        5,
        400,
        EventKind::ExecutionContinuedAsNew {
            input: Payload::default(),
        },
    ));
    let mut r = Replayer::new(history.clone());
    r.issue(act("a")).unwrap();
    r.issue(act("b")).unwrap();
    assert_eq!(r.check_continue_as_new(), Ok(()));
    let d = r.check_finished(&Ok(Payload::default())).unwrap_err();
    assert_eq!(d.event_index, 5);

    history.pop();
    history.push(ev(
        5,
        400,
        EventKind::ExecutionCompleted {
            output: Payload::default(),
        },
    ));
    let mut r = Replayer::new(history);
    r.issue(act("a")).unwrap();
    r.issue(act("b")).unwrap();
    assert_eq!(r.check_continue_as_new().unwrap_err().event_index, 5);
    assert_eq!(r.check_finished(&Ok(Payload::default())), Ok(()));
}

/// Issue 14, defect 3: a child's id is the one recorded when it started;
/// replay takes it instead of computing one.
#[test]
fn a_replayed_child_start_keeps_its_recorded_id() {
    let child = |index, handle, id: &str| {
        ev(
            index,
            100,
            EventKind::ChildStarted {
                handle,
                workflow_type: "t".parse().unwrap(),
                child_id: id.into(),
                input: Payload::default(),
                policy: crate::model::ParentClosePolicy::Terminate,
                cancellation: None,
            },
        )
    };
    let r = Replayer::new(vec![started(), child(1, 1, "p-1")]);
    assert_eq!(r.recorded_child_id().as_deref(), Some("p-1"));
    let r = Replayer::new(vec![started(), scheduled(1, 1, "a")]);
    assert_eq!(r.recorded_child_id(), None);
}

/// Issue 15, item 1: a cancel of a timer is recorded as
/// `timer_cancel_requested` with the timer's `timer_cancelled` after it, and
/// replays; a history from before (where any cancel was recorded as
/// `activity_cancel_requested`, and the timer fired later) replays too.
#[test]
fn a_timer_cancel_replays_in_both_recordings() {
    let timer = |index| {
        ev(
            index,
            100,
            EventKind::TimerStarted {
                handle: 1,
                duration_ms: 1_000,
                fire_at_ms: 1_100,
            },
        )
    };
    let now = vec![
        started(),
        timer(1),
        ev(
            2,
            100,
            EventKind::TimerCancelRequested {
                handle: 2,
                target: 1,
            },
        ),
        ev(3, 100, EventKind::TimerCancelled { handle: 1 }),
    ];
    let before = vec![
        started(),
        timer(1),
        ev(
            2,
            100,
            EventKind::ActivityCancelRequested {
                handle: 2,
                target: 1,
            },
        ),
        ev(3, 1_100, EventKind::TimerFired { handle: 1 }),
    ];
    for (history, outcome) in [
        (now, Err(Failure::cancelled("the timer"))),
        (before, Ok(Payload::default())),
    ] {
        let mut r = Replayer::new(history);
        assert_eq!(r.issue(Command::Timer { duration_ms: 1_000 }), Ok(1));
        assert_eq!(r.target(1), Some(Target::Timer));
        assert_eq!(r.issue(Command::Cancel { target: 1 }), Ok(2));
        assert_eq!(r.target(2), Some(Target::Other("a cancellation")));
        assert!(r.is_completed(1));
        assert_eq!(r.next_completion(&[1]).unwrap(), Some((1, outcome)));
        assert!(!r.replaying());
    }
}

/// A trial by a new user: a TypeScript port of a Rust workflow forwarded its
/// input with its keys in another order, and the divergence printed the same
/// text twice. It now says that only the bytes differ.
#[test]
fn the_same_value_in_other_bytes_is_named_as_such() {
    let mut history = vec![started(), scheduled(1, 1, "a")];
    if let EventKind::ActivityScheduled { input, .. } = &mut history[1].event {
        *input = Payload(br#"{"b":1,"a":2}"#.to_vec());
    }
    let mut r = Replayer::new(history);
    let d = r
        .issue(Command::Activity {
            name: "a".into(),
            input: Payload(br#"{"a":2,"b":1}"#.to_vec()),
            options: ActivityOptions::default(),
        })
        .unwrap_err();
    assert!(
        d.issued.contains("the same JSON value, but other bytes"),
        "{d}"
    );
}

/// The attributes the code sees are those it set so far, in replay as live:
/// not the whole history's (an upsert recorded later is not seen early).
#[test]
fn the_search_attributes_seen_are_those_set_so_far() {
    use crate::model::search::SearchValue;
    let set = |v: &str| -> crate::model::search::SearchChanges {
        [("Stage".to_owned(), Some(SearchValue::Keyword(v.into())))]
            .into_iter()
            .collect()
    };
    let history = vec![
        started(),
        ev(
            1,
            100,
            EventKind::SearchAttributesUpserted {
                handle: 1,
                attributes: set("one"),
            },
        ),
        ev(
            2,
            100,
            EventKind::SearchAttributesUpserted {
                handle: 2,
                attributes: set("two"),
            },
        ),
    ];
    let mut r = Replayer::new(history);
    assert!(r.search_state().0.is_empty(), "nothing set yet");
    r.issue(Command::UpsertSearch {
        changes: set("one"),
    })
    .unwrap();
    assert_eq!(
        r.search_state().0["Stage"],
        SearchValue::Keyword("one".into())
    );
    r.issue(Command::UpsertSearch {
        changes: set("two"),
    })
    .unwrap();
    assert_eq!(
        r.search_state().0["Stage"],
        SearchValue::Keyword("two".into())
    );
}
