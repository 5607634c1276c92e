//! The event history: what an execution's run has seen and done, in order.

use serde::{Deserialize, Serialize};

use super::{ModuleHash, Payload, TypeName};

/// One entry of an execution's history. `index` counts from 0; the order of
/// the history is the order events are delivered in on every replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub index: u64,
    /// Host time the event was recorded at; the workflow sees it as its time
    /// while it processes the event.
    pub at_ms: u64,
    pub event: EventKind,
    /// Set on the last event of a workflow task that had seen every event
    /// before its own and then waited for something still to come (an
    /// activity's or child's end, a timer, a signal): a host that starts
    /// leaves such a run asleep until that comes, instead of replaying it.
    /// Any event after it (another writer's) means the run has something
    /// to take. Absent from histories written before 2026-12.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub waits: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    ExecutionStarted {
        workflow_type: TypeName,
        module: ModuleHash,
        input: Payload,
        /// Seeds the run's random stream and its WASI randomness.
        seed: u64,
        /// The generator of the run's WASI randomness (`weft::wasm::RANDOM_GENERATOR`
        /// when it started). Absent in runs recorded before the field existed:
        /// they used the generator this host pins as `chacha12-v1`, the same
        /// stream. The sandbox refuses (a stall) a run whose generator it lacks
        /// when it is given the id (`weft::wasm::Seeding`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        random: Option<String>,
        /// The search attributes the run starts with: given by the start
        /// request, or carried over from the run before (continue-as-new).
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        search_attributes: super::search::SearchAttributes,
        /// The memo the run starts with, given or carried over the same way.
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        memo: super::search::Memo,
    },
    ActivityScheduled {
        handle: u64,
        name: String,
        input: Payload,
        options: ActivityOptions,
        /// The key every attempt carries (`<execution>/<run>/<handle>`), made
        /// when the activity is scheduled and never recomputed. Absent in
        /// events recorded before keys were recorded: those attempts keep
        /// the key they had then, `<execution>/<handle>`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idempotency_key: Option<String>,
    },
    /// An attempt failed and another is due at `retry_at_ms`. Not delivered to
    /// the workflow; recorded so that a restart neither loses nor repeats the
    /// schedule.
    ActivityAttemptFailed {
        handle: u64,
        attempt: u32,
        failure: Failure,
        retry_at_ms: u64,
    },
    ActivityCompleted {
        handle: u64,
        attempt: u32,
        output: Payload,
        /// What ran the attempt: `module:<sha-256>` (an activity
        /// component) or `queue:<name>` (an external worker). Absent in
        /// events recorded before it was, and for an attempt that never
        /// started (a cancellation, a timeout while queued).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        served_by: Option<String>,
    },
    ActivityFailed {
        handle: u64,
        attempts: u32,
        failure: Failure,
        /// What ran the last attempt (see `activity_completed`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        served_by: Option<String>,
        /// Why no attempt follows (recorded since contract 0.1.1; derived
        /// for events recorded before, see [`RetryState::of`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_state: Option<RetryState>,
    },
    TimerStarted {
        handle: u64,
        duration_ms: u64,
        fire_at_ms: u64,
    },
    TimerFired {
        handle: u64,
    },
    /// The code took the new path of a patch (`patched` or `deprecate-patch`
    /// on a fresh path). A command position, never delivered.
    PatchMarker {
        handle: u64,
        patch_id: String,
    },
    /// The code set or removed search attributes (`None` removes one). A
    /// command position, never delivered; the execution's record holds the
    /// result. Since contract 0.1.3.
    SearchAttributesUpserted {
        handle: u64,
        attributes: super::search::SearchChanges,
    },
    /// The code set or removed memo fields, like search attributes.
    /// Since contract 0.1.3.
    MemoUpserted {
        handle: u64,
        memo: super::search::MemoChanges,
    },
    /// A signal sent to the execution, recorded when the send returns.
    SignalReceived {
        name: String,
        input: Payload,
        /// The sender's request id (a client's `request_id`), when it gave
        /// one: the signal sent again with it is recorded once.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
    /// The code waits for the next signal named `name` (a command); the n-th
    /// of these for a name is completed by the n-th `signal_received` of it.
    /// A `try-receive-signal` that found one records this too.
    SignalAwaited {
        handle: u64,
        name: String,
    },
    /// A `try-receive-signal` found no signal named `name` (a command).
    SignalPolled {
        handle: u64,
        name: String,
    },
    /// An update passed validation and will run; delivered at a wait.
    UpdateAccepted {
        update_id: String,
        name: String,
        input: Payload,
    },
    /// The update's handler finished (a command).
    UpdateCompleted {
        handle: u64,
        update_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<Payload>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<Failure>,
    },
    /// A child workflow was started (a command); `child_id` is its execution.
    ChildStarted {
        handle: u64,
        workflow_type: TypeName,
        child_id: String,
        input: Payload,
        policy: super::ParentClosePolicy,
        /// What cancelling it does (none: `wait-cancellation-completed`, as
        /// before the choice existed). Since contract 0.1.2.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cancellation: Option<super::CancellationType>,
    },
    /// The child ended: its output, or why it failed, was cancelled or
    /// terminated.
    ChildCompleted {
        handle: u64,
        child_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<Payload>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<Failure>,
    },
    /// The workflow sent a signal (`signal-execution`, `signal-child`) or a
    /// cancellation request (`cancel-execution`, with `name` empty and the
    /// reason as `input`) to execution `target` (a command). It is delivered
    /// after the commit, once: the target's record and this handle's
    /// `external_completed` are written in one transaction. `key` is the
    /// request's identity, made from this run and handle and kept as made.
    ExternalSent {
        handle: u64,
        target: String,
        /// For `signal-child`: the handle that started the child.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        child: Option<u64>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        name: String,
        input: Payload,
        cancel: bool,
        key: String,
    },
    /// An `external_sent` reached its target (no failure) or found no
    /// running execution of that id (`not-found`).
    ExternalCompleted {
        handle: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<Failure>,
    },
    /// The workflow cancelled a pending activity (a command); the activity
    /// then completes with a `cancelled` failure.
    ActivityCancelRequested {
        handle: u64,
        target: u64,
    },
    /// How the attempt of an activity whose handle a `try-cancel` or
    /// `abandon` cancellation completed ended afterwards (the first of its
    /// end or its grace period's expiry; nothing later is recorded). Never
    /// delivered: the workflow saw `cancelled` already.
    ActivityCancelEnded {
        handle: u64,
        attempt: u32,
        ended: AttemptEnd,
        /// The attempt's failure (`failed`, `acknowledged`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<Failure>,
    },
    /// A timer dropped by a cancellation; waiting on it yields `cancelled`.
    TimerCancelled {
        handle: u64,
    },
    /// The workflow cancelled timer `target` (a command). If the timer was
    /// pending, its `timer_cancelled` follows in the same write.
    TimerCancelRequested {
        handle: u64,
        target: u64,
    },
    /// The workflow asked child `target` to cancel (a command); the child's
    /// end completes the child's handle as usual.
    ChildCancelRequested {
        handle: u64,
        target: u64,
    },
    /// `weft cancel`: delivered at the workflow's next wait.
    CancelRequested {
        reason: String,
    },
    /// The run closed and the next one starts with `input` (its
    /// `execution_started` follows).
    ExecutionContinuedAsNew {
        input: Payload,
    },
    /// The workflow ended after a cancellation request.
    ExecutionCancelled {
        failure: Failure,
    },
    /// Ended at once, no workflow code ran.
    ExecutionTerminated {
        reason: String,
    },
    /// `weft upgrade` moved the run from module `from` to module `to`, after
    /// replaying its history up to `after_event` on `to` cleanly: the steps
    /// before this event ran on `from`, the ones after on `to`. Never
    /// delivered, and no command: a replay passes over it.
    ExecutionUpgraded {
        from: ModuleHash,
        to: ModuleHash,
        after_event: u64,
    },
    /// `weft reset`: the events after `to_event` were discarded (kept here)
    /// and the execution runs again from there. Never delivered.
    ExecutionReset {
        to_event: u64,
        reason: String,
        discarded: Vec<Event>,
        /// The operator's request id, when one was given: the reset asked
        /// again with it is not done again.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
    ExecutionCompleted {
        output: Payload,
    },
    ExecutionFailed {
        failure: Failure,
    },
}

/// The children started in `history` and not reported back there:
/// `(handle, child id, parent-close policy)`, in start order.
pub fn pending_children(history: &[Event]) -> Vec<(u64, String, super::ParentClosePolicy)> {
    let mut out: Vec<(u64, String, super::ParentClosePolicy)> = Vec::new();
    for e in history {
        match &e.event {
            EventKind::ChildStarted {
                handle,
                child_id,
                policy,
                ..
            } => out.push((*handle, child_id.clone(), *policy)),
            EventKind::ChildCompleted { handle, .. } => out.retain(|(h, _, _)| h != handle),
            _ => {}
        }
    }
    out
}

/// The children `history` started, ended or not, but for starts refused at
/// once (`already-started`, `child-not-started`: their id names another
/// execution). `(handle, child id)`.
pub fn started_children(history: &[Event]) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = Vec::new();
    for e in history {
        match &e.event {
            EventKind::ChildStarted {
                handle, child_id, ..
            } => out.push((*handle, child_id.clone())),
            EventKind::ChildCompleted {
                handle,
                failure: Some(f),
                ..
            } if f.start_refused() => out.retain(|(h, _)| h != handle),
            _ => {}
        }
    }
    out
}

/// The children a run with `history` asked to cancel (`child_cancel_requested`)
/// whose cancellation type asks the child, as the driver asked them: not a
/// child whose handle had its completion before the request (a start
/// refused for a taken id, a child that had ended). `(handle, child id)`.
pub fn children_asked_to_cancel(history: &[Event]) -> Vec<(u64, String)> {
    let mut started: Vec<(u64, String)> = Vec::new();
    let mut completed: Vec<u64> = Vec::new();
    let mut asked = Vec::new();
    for e in history {
        match &e.event {
            EventKind::ChildStarted {
                handle, child_id, ..
            } => started.push((*handle, child_id.clone())),
            EventKind::ChildCancelRequested { target, .. } if !completed.contains(target) => {
                let Some((_, child)) = started.iter().find(|(h, _)| h == target) else {
                    continue;
                };
                let cancellation = child_cancellation(history, *target);
                if super::CancellationType::child_steps(cancellation).0 {
                    asked.push((*target, child.clone()));
                }
            }
            other => completed.extend(other.completion_handle()),
        }
    }
    asked
}

/// Whether the execution `history` (every run of an execution id) ends
/// with holds a cancellation request, recorded or discarded by a reset
/// since. An execution that ended before under the id (a start reusing it
/// began this one) was asked for itself.
pub fn ever_asked_to_cancel(history: &[Event]) -> bool {
    let (mut asked, mut ended) = (false, false);
    for e in history {
        if ended && matches!(e.event, EventKind::ExecutionStarted { .. }) {
            asked = false;
        }
        ended = e.event.ends_execution();
        asked |= match &e.event {
            EventKind::CancelRequested { .. } => true,
            EventKind::ExecutionReset { discarded, .. } => ever_asked_to_cancel(discarded),
            _ => false,
        };
    }
    asked
}

/// The module a run's code is on after `history` (a run's events): the
/// last `execution_upgraded` moved it there, or it started there.
pub fn run_module(history: &[Event]) -> Option<ModuleHash> {
    history.iter().rev().find_map(|e| match &e.event {
        EventKind::ExecutionUpgraded { to, .. } => Some(*to),
        EventKind::ExecutionStarted { module, .. } => Some(*module),
        _ => None,
    })
}

/// The cancellation type child `handle` was started with in `history`.
pub fn child_cancellation(history: &[Event], handle: u64) -> Option<super::CancellationType> {
    history.iter().find_map(|e| match &e.event {
        EventKind::ChildStarted {
            handle: h,
            cancellation,
            ..
        } if *h == handle => *cancellation,
        _ => None,
    })
}

/// What a run that closes with `history` owes its children: the pending
/// ones whose policy is not to abandon them.
pub fn owed_policies(history: &[Event]) -> Vec<(String, super::ParentClosePolicy)> {
    pending_children(history)
        .into_iter()
        .filter(|(_, _, p)| *p != super::ParentClosePolicy::Abandon)
        .map(|(_, id, p)| (id, p))
        .collect()
}

impl Event {
    /// The event as the store gives it back (its JSON form read again): an
    /// event handed to an instance from memory must be exactly what a
    /// replay from the store would see (a failure's `details: null` reads
    /// back as none, floats as the parser reads them). Only the kinds JSON
    /// can bend are written and read ([`EventKind::reads_back_as_written`]).
    pub fn as_stored(self) -> Self {
        if self.event.reads_back_as_written() {
            return self;
        }
        serde_json::to_vec(&self)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or(self)
    }

    /// The `at_ms` of a stored event's JSON, read from its head (`index`
    /// and `at_ms` come before the event, which may be megabytes); the
    /// whole event is decoded only if the head does not hold it.
    pub fn stored_at_ms(bytes: &[u8]) -> Option<u64> {
        #[derive(Deserialize)]
        struct At {
            at_ms: u64,
        }
        let head = &bytes[..bytes.len().min(64)];
        let head = match std::str::from_utf8(head) {
            Ok(text) => Some(text),
            // Cut inside a character: the part before it.
            Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        };
        let from_head = head.and_then(|text| {
            let rest = &text[text.find("\"at_ms\":")? + "\"at_ms\":".len()..];
            let digits = rest.find(|c: char| !c.is_ascii_digit())?;
            rest[..digits].parse().ok()
        });
        from_head.or_else(|| serde_json::from_slice::<At>(bytes).ok().map(|a| a.at_ms))
    }
}

/// Whether `x`, written as JSON, is read back to the same bits (the parser
/// is not exact for every float; a value it cannot write is not either).
fn float_reads_back(x: f64) -> bool {
    serde_json::to_string(&x)
        .ok()
        .and_then(|text| serde_json::from_str::<f64>(&text).ok())
        .is_some_and(|read| read.to_bits() == x.to_bits())
}

impl EventKind {
    /// Whether the store gives this event back exactly as it is, so that
    /// [`Event::as_stored`] need not write and read it (that was 4 % of a
    /// host's CPU per start, bench/README.md "W3: what a start spends"): true where every field is an integer, a flag, a string,
    /// a payload (kept as its text or bytes), an id or a unit enum, all of
    /// which JSON carries exactly, and where an activity's retry policy has
    /// a backoff that the parser reads back to the same bits. A failure
    /// (`details` is any JSON: `null` reads back as none, a float as the
    /// parser reads it), search attributes (floats) and a reset's
    /// discarded events are written and read. Every kind is named, so a
    /// new one must be decided on.
    pub fn reads_back_as_written(&self) -> bool {
        match self {
            Self::ExecutionStarted {
                search_attributes, ..
            } => search_attributes.is_empty(),
            Self::ActivityScheduled { options, .. } => options
                .retry
                .as_ref()
                .is_none_or(|r| float_reads_back(r.backoff_coefficient)),
            Self::UpdateCompleted { failure, .. }
            | Self::ChildCompleted { failure, .. }
            | Self::ExternalCompleted { failure, .. }
            | Self::ActivityCancelEnded { failure, .. } => failure.is_none(),
            Self::ActivityCompleted { .. }
            | Self::TimerStarted { .. }
            | Self::TimerFired { .. }
            | Self::PatchMarker { .. }
            | Self::SignalReceived { .. }
            | Self::SignalAwaited { .. }
            | Self::SignalPolled { .. }
            | Self::UpdateAccepted { .. }
            | Self::ChildStarted { .. }
            | Self::ExternalSent { .. }
            | Self::ActivityCancelRequested { .. }
            | Self::TimerCancelled { .. }
            | Self::TimerCancelRequested { .. }
            | Self::ChildCancelRequested { .. }
            | Self::CancelRequested { .. }
            | Self::ExecutionContinuedAsNew { .. }
            | Self::ExecutionTerminated { .. }
            | Self::ExecutionUpgraded { .. }
            | Self::ExecutionCompleted { .. } => true,
            Self::ActivityAttemptFailed { .. }
            | Self::ActivityFailed { .. }
            | Self::SearchAttributesUpserted { .. }
            | Self::MemoUpserted { .. }
            | Self::ExecutionCancelled { .. }
            | Self::ExecutionReset { .. }
            | Self::ExecutionFailed { .. } => false,
        }
    }

    /// The handle of a command this event records, if it records one.
    pub fn command_handle(&self) -> Option<u64> {
        match self {
            Self::ActivityScheduled { handle, .. }
            | Self::TimerStarted { handle, .. }
            | Self::PatchMarker { handle, .. }
            | Self::SearchAttributesUpserted { handle, .. }
            | Self::MemoUpserted { handle, .. }
            | Self::SignalAwaited { handle, .. }
            | Self::SignalPolled { handle, .. }
            | Self::UpdateCompleted { handle, .. }
            | Self::ChildStarted { handle, .. }
            | Self::ActivityCancelRequested { handle, .. }
            | Self::TimerCancelRequested { handle, .. }
            | Self::ChildCancelRequested { handle, .. }
            | Self::ExternalSent { handle, .. } => Some(*handle),
            _ => None,
        }
    }

    /// The handle this event completes, if it delivers an outcome (see
    /// [`EventKind::completion`], without copying the outcome).
    pub fn completion_handle(&self) -> Option<u64> {
        match self {
            Self::ActivityCompleted { handle, .. }
            | Self::ActivityFailed { handle, .. }
            | Self::TimerFired { handle }
            | Self::TimerCancelled { handle }
            | Self::ExternalCompleted { handle, .. }
            | Self::ChildCompleted { handle, .. } => Some(*handle),
            _ => None,
        }
    }

    /// The outcome this event delivers to the workflow, if it delivers one.
    pub fn completion(&self) -> Option<(u64, Result<Payload, Failure>)> {
        match self {
            Self::ActivityCompleted { handle, output, .. } => Some((*handle, Ok(output.clone()))),
            Self::ActivityFailed {
                handle, failure, ..
            } => Some((*handle, Err(failure.clone()))),
            Self::TimerFired { handle } => Some((*handle, Ok(Payload::default()))),
            Self::TimerCancelled { handle } => {
                Some((*handle, Err(Failure::cancelled("the timer"))))
            }
            Self::ExternalCompleted { handle, failure } => {
                Some((*handle, failure.clone().map_or(Ok(Payload::default()), Err)))
            }
            Self::ChildCompleted {
                handle,
                output,
                failure,
                ..
            } => Some((
                *handle,
                match failure {
                    Some(f) => Err(f.clone()),
                    None => Ok(output.clone().unwrap_or_default()),
                },
            )),
            _ => None,
        }
    }

    /// Whether this event ends the execution (not only its run: a
    /// continue-as-new goes on in the next run). An `execution_started`
    /// after it begins another execution under the same id.
    pub fn ends_execution(&self) -> bool {
        matches!(
            self,
            Self::ExecutionCompleted { .. }
                | Self::ExecutionFailed { .. }
                | Self::ExecutionCancelled { .. }
                | Self::ExecutionTerminated { .. }
        )
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::ExecutionStarted { .. } => "execution_started",
            Self::ActivityScheduled { .. } => "activity_scheduled",
            Self::ActivityAttemptFailed { .. } => "activity_attempt_failed",
            Self::ActivityCompleted { .. } => "activity_completed",
            Self::ActivityFailed { .. } => "activity_failed",
            Self::TimerStarted { .. } => "timer_started",
            Self::TimerFired { .. } => "timer_fired",
            Self::PatchMarker { .. } => "patch_marker",
            Self::SearchAttributesUpserted { .. } => "search_attributes_upserted",
            Self::MemoUpserted { .. } => "memo_upserted",
            Self::ExecutionReset { .. } => "execution_reset",
            Self::ExecutionUpgraded { .. } => "execution_upgraded",
            Self::SignalReceived { .. } => "signal_received",
            Self::ChildStarted { .. } => "child_started",
            Self::ActivityCancelRequested { .. } => "activity_cancel_requested",
            Self::ActivityCancelEnded { .. } => "activity_cancel_ended",
            Self::ChildCompleted { .. } => "child_completed",
            Self::TimerCancelled { .. } => "timer_cancelled",
            Self::TimerCancelRequested { .. } => "timer_cancel_requested",
            Self::ExternalSent { .. } => "external_sent",
            Self::ExternalCompleted { .. } => "external_completed",
            Self::ChildCancelRequested { .. } => "child_cancel_requested",
            Self::CancelRequested { .. } => "cancel_requested",
            Self::ExecutionContinuedAsNew { .. } => "execution_continued_as_new",
            Self::ExecutionCancelled { .. } => "execution_cancelled",
            Self::ExecutionTerminated { .. } => "execution_terminated",
            Self::SignalAwaited { .. } => "signal_awaited",
            Self::SignalPolled { .. } => "signal_polled",
            Self::UpdateAccepted { .. } => "update_accepted",
            Self::UpdateCompleted { .. } => "update_completed",
            Self::ExecutionCompleted { .. } => "execution_completed",
            Self::ExecutionFailed { .. } => "execution_failed",
        }
    }

    /// One line for a person: the kind and its main fields.
    pub fn describe(&self) -> String {
        match self {
            Self::ExecutionStarted { workflow_type, module, input, seed, random, search_attributes, memo } => format!(
                "execution_started type={workflow_type} module={} input={} seed={seed}{}{}{}",
                module.short(),
                input.to_json(),
                random.as_ref().map(|r| format!(" random={r}")).unwrap_or_default(),
                if search_attributes.is_empty() {
                    String::new()
                } else {
                    let set = search_attributes.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
                    format!(" search: {}", super::search::describe_changes(&set))
                },
                if memo.is_empty() {
                    String::new()
                } else {
                    format!(" memo: {}", memo.keys().cloned().collect::<Vec<_>>().join(", "))
                }
            ),
            Self::ActivityScheduled { handle, name, input, idempotency_key, options } => format!(
                "activity_scheduled #{handle} {name}({}){}{}",
                input.to_json(),
                idempotency_key.as_ref().map(|k| format!(" key={k}")).unwrap_or_default(),
                options.cancellation.map(|c| format!(" on cancel: {c:?}")).unwrap_or_default()
            ),
            Self::ActivityAttemptFailed { handle, attempt, failure, retry_at_ms } => format!(
                "activity_attempt_failed #{handle} attempt={attempt} {failure} retry_at_ms={retry_at_ms}"
            ),
            Self::ActivityCompleted { handle, attempt, output, served_by } => format!(
                "activity_completed #{handle} attempt={attempt} output={}{}",
                output.to_json(),
                served(served_by)
            ),
            Self::ActivityFailed { handle, attempts, failure, served_by, .. } => {
                format!("activity_failed #{handle} attempts={attempts} {failure}{}", served(served_by))
            }
            Self::TimerStarted { handle, duration_ms, fire_at_ms } => {
                format!("timer_started #{handle} duration_ms={duration_ms} fire_at_ms={fire_at_ms}")
            }
            Self::TimerFired { handle } => format!("timer_fired #{handle}"),
            Self::PatchMarker { handle, patch_id } => format!("patch_marker #{handle} {patch_id}"),
            Self::SearchAttributesUpserted { handle, attributes } => {
                format!("search_attributes_upserted #{handle} {}", super::search::describe_changes(attributes))
            }
            Self::MemoUpserted { handle, memo } => format!(
                "memo_upserted #{handle} {}",
                memo.iter()
                    .map(|(k, v)| match v {
                        Some(v) => format!("{k}={}", v.preview(80)),
                        None => format!("{k} removed"),
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::ChildStarted { handle, workflow_type, child_id, input, policy, cancellation } => format!(
                "child_started #{handle} {workflow_type} {child_id}({}) on parent close: {policy:?}{}",
                input.to_json(),
                cancellation.map(|c| format!(", on cancel: {c:?}")).unwrap_or_default()
            ),
            Self::ChildCompleted { handle, child_id, output, failure } => match failure {
                Some(f) => format!("child_completed #{handle} {child_id} {f}"),
                None => format!(
                    "child_completed #{handle} {child_id} output={}",
                    output.as_ref().map(Payload::to_json).unwrap_or_default()
                ),
            },
            Self::TimerCancelled { handle } => format!("timer_cancelled #{handle}"),
            Self::ActivityCancelEnded { handle, attempt, ended, failure } => format!(
                "activity_cancel_ended #{handle} attempt={attempt} {}{}",
                ended.describe(),
                failure.as_ref().map(|f| format!(": {f}")).unwrap_or_default()
            ),
            Self::ActivityCancelRequested { handle, target } => {
                format!("activity_cancel_requested #{handle} of #{target}")
            }
            Self::ExternalSent { handle, target, name, input, cancel, .. } => match cancel {
                true => format!("external_sent #{handle} cancel {target}: {}", input.to_json()),
                false => format!("external_sent #{handle} signal {target} {name}({})", input.to_json()),
            },
            Self::ExternalCompleted { handle, failure } => match failure {
                Some(f) => format!("external_completed #{handle} {f}"),
                None => format!("external_completed #{handle}"),
            },
            Self::TimerCancelRequested { handle, target } => {
                format!("timer_cancel_requested #{handle} of #{target}")
            }
            Self::ChildCancelRequested { handle, target } => {
                format!("child_cancel_requested #{handle} of #{target}")
            }
            Self::CancelRequested { reason } => format!("cancel_requested {reason}"),
            Self::ExecutionContinuedAsNew { input } => {
                format!("execution_continued_as_new input={}", input.to_json())
            }
            Self::ExecutionCancelled { failure } => format!("execution_cancelled {failure}"),
            Self::ExecutionTerminated { reason } => format!("execution_terminated {reason}"),
            Self::SignalReceived {
                name,
                input,
                request_id,
            } => match request_id {
                Some(r) => format!("signal_received {name}({}) request {r}", input.to_json()),
                None => format!("signal_received {name}({})", input.to_json()),
            },
            Self::SignalAwaited { handle, name } => format!("signal_awaited #{handle} {name}"),
            Self::SignalPolled { handle, name } => {
                format!("signal_polled #{handle} {name}: none waiting")
            }
            Self::UpdateAccepted { update_id, name, input } => {
                format!("update_accepted {update_id} {name}({})", input.to_json())
            }
            Self::UpdateCompleted { handle, update_id, output, failure } => match (output, failure) {
                (_, Some(f)) => format!("update_completed #{handle} {update_id} {f}"),
                (o, None) => format!(
                    "update_completed #{handle} {update_id} output={}",
                    o.as_ref().map(Payload::to_json).unwrap_or_default()
                ),
            },
            Self::ExecutionUpgraded { from, to, after_event } => format!(
                "execution_upgraded from module {} to module {} after event {after_event}",
                from.short(),
                to.short()
            ),
            Self::ExecutionReset { to_event, reason, discarded, .. } => format!(
                "execution_reset to_event={to_event} discarded={} reason={reason}",
                discarded.len()
            ),
            Self::ExecutionCompleted { output } => format!("execution_completed output={}", output.to_json()),
            Self::ExecutionFailed { failure } => format!("execution_failed {failure}"),
        }
    }
}

/// ` by module abcd1234` (or ` by queue q`) for a history line.
fn served(by: &Option<String>) -> String {
    match by.as_deref().and_then(|b| b.split_once(':')) {
        Some(("module", hash)) => format!(" by module {}", &hash[..hash.len().min(12)]),
        Some((what, name)) => format!(" by {what} {name}"),
        None => String::new(),
    }
}

/// How a cancelled activity's attempt ended (see
/// [`EventKind::ActivityCancelEnded`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttemptEnd {
    /// It returned its output anyway (dropped: the handle was done).
    Completed,
    /// It returned the `cancelled` failure: it saw the request and stopped.
    Acknowledged,
    /// It returned another failure (not retried).
    Failed,
    /// It ran past its grace period and was stopped.
    GraceExpired,
}

impl AttemptEnd {
    fn describe(self) -> &'static str {
        match self {
            Self::Completed => "completed anyway (output dropped)",
            Self::Acknowledged => "acknowledged the cancellation",
            Self::Failed => "failed",
            Self::GraceExpired => "stopped when its grace period ran out",
        }
    }
}

/// A failure as guests report it and as the host reports it back to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Failure {
    pub kind: String,
    pub message: String,
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub details: Option<serde_json::Value>,
    #[serde(default)]
    pub non_retryable: bool,
}

impl Failure {
    /// A child start refused at once (its id names another execution).
    pub fn start_refused(&self) -> bool {
        self.kind == "already-started" || self.kind == "child-not-started"
    }

    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            message: message.into(),
            details: None,
            non_retryable: false,
        }
    }

    /// The failure a cancelled operation completes with (kind `cancelled`).
    pub fn cancelled(what: &str) -> Self {
        Self {
            non_retryable: true,
            ..Self::new("cancelled", format!("{what} was cancelled"))
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.kind == "cancelled"
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// Why an activity's retries stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryState {
    MaximumAttemptsReached,
    NonRetryable,
    Timeout,
    Cancelled,
}

impl RetryState {
    /// Why `failure`, after `attempts` attempts under `policy`, ended the
    /// activity.
    pub fn of(failure: &Failure, attempts: u32, policy: &RetryPolicy) -> Self {
        if failure.is_cancelled() {
            Self::Cancelled
        } else if failure.kind == "timeout" && failure.non_retryable {
            Self::Timeout
        } else if failure.non_retryable || policy.non_retryable_kinds.contains(&failure.kind) {
            Self::NonRetryable
        } else if policy.maximum_attempts != 0 && attempts >= policy.maximum_attempts {
            Self::MaximumAttemptsReached
        } else if failure.kind == "timeout" {
            Self::Timeout
        } else {
            Self::NonRetryable
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MaximumAttemptsReached => "maximum-attempts-reached",
            Self::NonRetryable => "non-retryable",
            Self::Timeout => "timeout",
            Self::Cancelled => "cancelled",
        }
    }
}

/// What a workflow learns of an activity's failure besides the failure
/// itself: how many attempts ran, why no other follows, and the last
/// attempt's own failure (for a timeout, the one before it fired; for a
/// cancellation, none).
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityFailureInfo {
    pub attempts: u32,
    pub retry_state: RetryState,
    pub cause: Option<Failure>,
}

impl ActivityFailureInfo {
    /// From an `activity_failed` event and the activity's retry policy.
    pub fn of(
        attempts: u32,
        failure: &Failure,
        retry_state: Option<RetryState>,
        policy: &RetryPolicy,
    ) -> Self {
        let retry_state = retry_state.unwrap_or_else(|| RetryState::of(failure, attempts, policy));
        let cause = match retry_state {
            RetryState::Cancelled => None,
            RetryState::Timeout => failure
                .details
                .as_ref()
                .and_then(|d| d.get("last_failure"))
                .and_then(|f| serde_json::from_value(f.clone()).ok()),
            _ => Some(failure.clone()),
        };
        Self {
            attempts,
            retry_state,
            cause,
        }
    }
}

/// How an activity is retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetryPolicy {
    pub initial_interval_ms: u64,
    pub backoff_coefficient: f64,
    pub maximum_interval_ms: u64,
    /// 0: no limit.
    pub maximum_attempts: u32,
    #[serde(default)]
    pub non_retryable_kinds: Vec<String>,
}

impl Default for RetryPolicy {
    /// Temporal's defaults: 1 s, doubling, capped at 100 s, no attempt limit.
    fn default() -> Self {
        Self {
            initial_interval_ms: 1_000,
            backoff_coefficient: 2.0,
            maximum_interval_ms: 100_000,
            maximum_attempts: 0,
            non_retryable_kinds: Vec::new(),
        }
    }
}

impl RetryPolicy {
    /// Delay before attempt `attempt + 1`, after attempt `attempt` (from 1) failed.
    pub fn delay_after(&self, attempt: u32) -> u64 {
        let exp = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let raw = self.initial_interval_ms as f64 * self.backoff_coefficient.max(1.0).powi(exp);
        let capped = raw.min(self.maximum_interval_ms.max(self.initial_interval_ms) as f64);
        // `as` on a finite, non-negative, capped f64 saturates; this is the one
        // float-to-int conversion and it cannot wrap.
        capped.max(0.0) as u64
    }

    /// Whether another attempt may follow attempt `attempt` that failed with `failure`.
    pub fn allows_retry(&self, attempt: u32, failure: &Failure) -> bool {
        !failure.non_retryable
            && !self.non_retryable_kinds.iter().any(|k| k == &failure.kind)
            && (self.maximum_attempts == 0 || attempt < self.maximum_attempts)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivityOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_to_close_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_to_close_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_to_start_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_timeout_ms: Option<u64>,
    /// External workers polling this queue run it (none: the host does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_queue: Option<String>,
    /// What cancelling it does (none: `try-cancel`, as before the choice
    /// existed). Since contract 0.1.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<super::CancellationType>,
}

impl ActivityOptions {
    /// The cancellation type its cancel follows.
    pub fn cancellation_type(&self) -> super::CancellationType {
        self.cancellation
            .unwrap_or(super::CancellationType::TryCancel)
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn a_stored_events_time_is_read_from_its_head() {
        let event = Event {
            index: 12,
            at_ms: 1_796_000_000_123,
            event: EventKind::TimerFired { handle: 1 },
            waits: false,
        };
        let bytes = serde_json::to_vec(&event).unwrap();
        assert_eq!(Event::stored_at_ms(&bytes), Some(1_796_000_000_123));
        // Another order of the fields: the whole event is read.
        let other = br#"{"event":{"type":"timer_fired","handle":1},"index":3,"at_ms":7}"#;
        assert_eq!(Event::stored_at_ms(other), Some(7));
        assert_eq!(Event::stored_at_ms(b"not json"), None);
    }

    /// An event handed over from memory is the one the store gives back:
    /// a failure's `details: null` reads back as none (found by a review:
    /// live and replayed, a workflow would have seen two different
    /// failures).
    #[test]
    fn an_event_as_stored_is_what_the_store_reads_back() {
        let failure = Failure {
            details: Some(serde_json::Value::Null),
            ..Failure::new("boom", "it failed")
        };
        let event = Event {
            index: 7,
            at_ms: 1,
            event: EventKind::ActivityFailed {
                handle: 1,
                attempts: 1,
                served_by: None,
                retry_state: None,
                failure,
            },
            waits: false,
        };
        let bytes = serde_json::to_vec(&event).unwrap();
        let read: Event = serde_json::from_slice(&bytes).unwrap();
        assert_ne!(event, read, "details null does not survive the store");
        assert_eq!(event.as_stored(), read);
    }

    /// The kinds `as_stored` hands over without writing and reading them
    /// are given back by the store exactly: tried with the values JSON
    /// could bend (bytes that are not UTF-8, quotes and escapes, text
    /// outside ASCII, the largest integers, empty strings, a payload whose
    /// text is `null`).
    #[test]
    fn the_kinds_handed_over_unread_read_back_as_written() {
        let odd = "q\"uote\\ \u{0} \u{1F600} é\n";
        let bytes = Payload(vec![0xff, 0x00, 0xc3]);
        let null = Payload(b"null".to_vec());
        let hash = ModuleHash::of(b"m");
        let kinds = vec![
            EventKind::ExecutionStarted {
                workflow_type: "a.b-c_d".parse().unwrap(),
                module: hash,
                input: bytes.clone(),
                seed: u64::MAX,
                random: Some(String::new()),
                search_attributes: Default::default(),
                memo: [
                    (odd.to_owned(), null.clone()),
                    (String::new(), bytes.clone()),
                ]
                .into(),
            },
            EventKind::ActivityCompleted {
                handle: u64::MAX,
                attempt: u32::MAX,
                output: null.clone(),
                served_by: Some(odd.into()),
            },
            EventKind::TimerStarted {
                handle: 1,
                duration_ms: u64::MAX,
                fire_at_ms: 0,
            },
            EventKind::TimerFired { handle: 0 },
            EventKind::ActivityScheduled {
                handle: 10,
                name: odd.into(),
                input: bytes.clone(),
                options: ActivityOptions::default(),
                idempotency_key: Some(odd.into()),
            },
            EventKind::ActivityScheduled {
                handle: 11,
                name: String::new(),
                input: null.clone(),
                options: ActivityOptions {
                    retry: Some(RetryPolicy {
                        backoff_coefficient: 0.1 + 0.2,
                        non_retryable_kinds: vec![odd.into(), String::new()],
                        ..RetryPolicy::default()
                    }),
                    start_to_close_timeout_ms: Some(u64::MAX),
                    task_queue: Some(odd.into()),
                    cancellation: Some(crate::model::CancellationType::WaitCancellationCompleted),
                    ..ActivityOptions::default()
                },
                idempotency_key: None,
            },
            EventKind::PatchMarker {
                handle: 2,
                patch_id: odd.into(),
            },
            EventKind::SignalReceived {
                name: odd.into(),
                input: Payload(Vec::new()),
                request_id: Some(String::new()),
            },
            EventKind::SignalAwaited {
                handle: 3,
                name: String::new(),
            },
            EventKind::SignalPolled {
                handle: 3,
                name: odd.into(),
            },
            EventKind::UpdateAccepted {
                update_id: odd.into(),
                name: "u".into(),
                input: bytes.clone(),
            },
            EventKind::UpdateCompleted {
                handle: 4,
                update_id: String::new(),
                output: Some(Payload(b"1.0000000000000002e-308".to_vec())),
                failure: None,
            },
            EventKind::ChildStarted {
                handle: 5,
                workflow_type: "child".parse().unwrap(),
                child_id: odd.into(),
                input: null.clone(),
                policy: crate::model::ParentClosePolicy::Abandon,
                cancellation: Some(crate::model::CancellationType::Abandon),
            },
            EventKind::ChildCompleted {
                handle: 5,
                child_id: odd.into(),
                output: Some(bytes.clone()),
                failure: None,
            },
            EventKind::ExternalSent {
                handle: 6,
                target: odd.into(),
                child: Some(u64::MAX),
                name: String::new(),
                input: bytes.clone(),
                cancel: true,
                key: odd.into(),
            },
            EventKind::ExternalCompleted {
                handle: 6,
                failure: None,
            },
            EventKind::ActivityCancelRequested {
                handle: 7,
                target: 1,
            },
            EventKind::ActivityCancelEnded {
                handle: 7,
                attempt: 2,
                ended: AttemptEnd::GraceExpired,
                failure: None,
            },
            EventKind::TimerCancelled { handle: 8 },
            EventKind::TimerCancelRequested {
                handle: 8,
                target: 1,
            },
            EventKind::ChildCancelRequested {
                handle: 9,
                target: 5,
            },
            EventKind::CancelRequested { reason: odd.into() },
            EventKind::ExecutionContinuedAsNew {
                input: null.clone(),
            },
            EventKind::ExecutionTerminated {
                reason: String::new(),
            },
            EventKind::ExecutionUpgraded {
                from: hash,
                to: ModuleHash::of(b"n"),
                after_event: u64::MAX,
            },
            EventKind::ExecutionCompleted { output: bytes },
        ];
        for (i, kind) in kinds.into_iter().enumerate() {
            assert!(kind.reads_back_as_written(), "{kind:?}");
            let event = Event {
                index: i as u64,
                at_ms: u64::MAX - i as u64,
                event: kind,
                waits: i % 2 == 0,
            };
            let read: Event = serde_json::from_slice(&serde_json::to_vec(&event).unwrap()).unwrap();
            assert_eq!(read, event);
            assert_eq!(event.clone().as_stored(), read);
        }
    }

    /// An `activity_scheduled` is handed over as it is only where the
    /// store gives the same event back, whatever its backoff; one it cannot
    /// write (NaN, infinities) is never handed over unread.
    #[test]
    fn a_backoff_is_handed_over_unread_only_where_it_reads_back() {
        let scheduled = |backoff_coefficient| Event {
            index: 1,
            at_ms: 2,
            event: EventKind::ActivityScheduled {
                handle: 1,
                name: "a".into(),
                input: Payload(b"1".to_vec()),
                options: ActivityOptions {
                    retry: Some(RetryPolicy {
                        backoff_coefficient,
                        ..RetryPolicy::default()
                    }),
                    ..ActivityOptions::default()
                },
                idempotency_key: None,
            },
            waits: false,
        };
        for x in [
            2.0,
            1.5,
            0.1 + 0.2,
            1e-308,
            5e-324,
            f64::MAX,
            -0.0,
            1.0 / 3.0,
        ] {
            let event = scheduled(x);
            let read: Event = serde_json::from_slice(&serde_json::to_vec(&event).unwrap()).unwrap();
            assert_eq!(event.clone().as_stored(), read, "{x}");
        }
        assert!(scheduled(2.0).event.reads_back_as_written());
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(!scheduled(x).event.reads_back_as_written(), "{x}");
        }
    }

    #[test]
    fn backoff_grows_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay_after(1), 1_000);
        assert_eq!(p.delay_after(2), 2_000);
        assert_eq!(p.delay_after(3), 4_000);
        assert_eq!(p.delay_after(30), 100_000);
    }

    #[test]
    fn retry_respects_limits_and_kinds() {
        let p = RetryPolicy {
            maximum_attempts: 2,
            non_retryable_kinds: vec!["Fatal".into()],
            ..Default::default()
        };
        let f = Failure::new("Flaky", "x");
        assert!(p.allows_retry(1, &f));
        assert!(!p.allows_retry(2, &f));
        assert!(!p.allows_retry(1, &Failure::new("Fatal", "x")));
        let mut nr = Failure::new("Flaky", "x");
        nr.non_retryable = true;
        assert!(!p.allows_retry(1, &nr));
    }
}

/// An execution's history as `weft history --json` exports it and
/// `weft replay` reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryExport {
    /// Always `weft-history/1`.
    pub format: String,
    pub execution_id: String,
    pub workflow_type: String,
    pub module: String,
    pub events: Vec<Event>,
}

impl HistoryExport {
    pub const FORMAT: &'static str = "weft-history/1";
}
