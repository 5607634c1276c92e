//! Replay: matching what the code does against what the history recorded.
//!
//! Pure logic, no I/O: the live driver and the offline `weft replay` both
//! wrap a [`Replayer`]. Commands are matched by position: the n-th command
//! the code issues must be the n-th command in the history (same kind, name
//! and input). `wait` hands out the earliest unconsumed completion, in history
//! order, among the awaited handles; since the history is append-only and
//! every completion is recorded before it is delivered, a replay hands the
//! code exactly the sequence the live run saw.

use std::collections::BTreeSet;

use crate::model::{ActivityOptions, Event, EventKind, Failure, Payload};

/// A delivered completion: the handle and its outcome.
pub type Completion = (u64, Result<Payload, Failure>);

/// What a wait hands the code from the history.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivered {
    Completion(Completion),
    /// An accepted update: deliverable at any wait, in history order.
    Update {
        update_id: String,
        name: String,
        input: Payload,
    },
    /// A cancellation request: deliverable at any wait, once.
    Cancel {
        reason: String,
    },
}

/// A command as the code issues it.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Activity {
        name: String,
        input: Payload,
        options: ActivityOptions,
    },
    Timer {
        duration_ms: u64,
    },
    /// The marker of a patch's new path.
    Patch {
        id: String,
    },
    /// Wait for the next signal of a name.
    ReceiveSignal {
        name: String,
    },
    /// A non-blocking receive that found no signal of a name.
    PollSignal {
        name: String,
    },
    /// An update's handler finished.
    CompleteUpdate {
        update_id: String,
        outcome: Result<Payload, Failure>,
    },
    /// Cancel the activity, timer or child `target`.
    Cancel {
        target: u64,
    },
    /// Signal another execution, or ask it to cancel (`cancel`; the
    /// reason in `input`).
    External {
        target: String,
        /// For `signal-child`: the child's handle (the delivery checks that
        /// the target is that child).
        child: Option<u64>,
        name: String,
        input: Payload,
        cancel: bool,
    },
    /// Set or remove search attributes.
    UpsertSearch {
        changes: crate::model::search::SearchChanges,
    },
    /// Set or remove memo fields.
    UpsertMemo {
        changes: crate::model::search::MemoChanges,
    },
    /// Start a child workflow (its id is fixed by the time it is issued).
    StartChild {
        workflow_type: String,
        id: String,
        input: Payload,
        policy: crate::model::ParentClosePolicy,
        /// Whether it may take a closed execution's id (not recorded: the
        /// start's outcome is).
        reuse: crate::model::IdReusePolicy,
        /// What cancelling it does (none: wait for its end).
        cancellation: Option<crate::model::CancellationType>,
    },
}

/// How much of a payload a divergence report shows (characters of JSON).
const PREVIEW: usize = 200;

impl Command {
    fn describe(&self) -> String {
        match self {
            Self::Activity { name, input, .. } => says::activity(name, input),
            Self::Timer { duration_ms } => says::timer(*duration_ms),
            Self::Patch { id } => says::patch(id),
            Self::ReceiveSignal { name } => format!("wait for signal {name}"),
            Self::PollSignal { name } => format!("find no signal {name} waiting"),
            Self::CompleteUpdate { update_id, .. } => format!("complete update {update_id}"),
            Self::StartChild {
                workflow_type,
                id,
                input,
                ..
            } => says::child(workflow_type, id, input),
            Self::Cancel { target } => format!("cancel #{target}"),
            Self::UpsertSearch { changes } => says::search(changes),
            Self::UpsertMemo { changes } => says::memo(changes),
            Self::External {
                target,
                name,
                input,
                cancel,
                ..
            } => says::external(target, name, input, *cancel),
        }
    }

    fn matches(&self, recorded: &EventKind) -> bool {
        match (self, recorded) {
            (
                Self::Activity { name, input, .. },
                EventKind::ActivityScheduled {
                    name: n, input: i, ..
                },
            ) => name == n && input == i,
            (Self::Timer { duration_ms }, EventKind::TimerStarted { duration_ms: d, .. }) => {
                duration_ms == d
            }
            (Self::Patch { id }, EventKind::PatchMarker { patch_id, .. }) => id == patch_id,
            (
                Self::UpsertSearch { changes },
                EventKind::SearchAttributesUpserted { attributes, .. },
            ) => changes == attributes,
            (Self::UpsertMemo { changes }, EventKind::MemoUpserted { memo, .. }) => changes == memo,
            (Self::ReceiveSignal { name }, EventKind::SignalAwaited { name: n, .. }) => name == n,
            (Self::PollSignal { name }, EventKind::SignalPolled { name: n, .. }) => name == n,
            (
                Self::External {
                    target,
                    name,
                    input,
                    cancel,
                    ..
                },
                EventKind::ExternalSent {
                    target: t,
                    name: n,
                    input: i,
                    cancel: c,
                    ..
                },
            ) => target == t && name == n && input == i && cancel == c,
            (
                Self::CompleteUpdate { update_id, .. },
                EventKind::UpdateCompleted { update_id: u, .. },
            ) => update_id == u,
            (
                Self::Cancel { target },
                EventKind::ActivityCancelRequested { target: t, .. }
                | EventKind::TimerCancelRequested { target: t, .. }
                | EventKind::ChildCancelRequested { target: t, .. },
            ) => target == t,
            (
                Self::StartChild {
                    workflow_type,
                    id,
                    input,
                    ..
                },
                EventKind::ChildStarted {
                    workflow_type: t,
                    child_id,
                    input: i,
                    ..
                },
            ) => workflow_type == t.as_str() && id == child_id && input == i,
            _ => false,
        }
    }
}

fn describe_recorded(kind: &EventKind) -> String {
    match kind {
        EventKind::ActivityScheduled { name, input, .. } => says::activity(name, input),
        EventKind::ChildStarted {
            workflow_type,
            child_id,
            input,
            ..
        } => says::child(workflow_type.as_str(), child_id, input),
        EventKind::ExternalSent {
            target,
            name,
            input,
            cancel,
            ..
        } => says::external(target, name, input, *cancel),
        EventKind::TimerStarted { duration_ms, .. } => says::timer(*duration_ms),
        EventKind::PatchMarker { patch_id, .. } => says::patch(patch_id),
        EventKind::SearchAttributesUpserted { attributes, .. } => says::search(attributes),
        EventKind::MemoUpserted { memo, .. } => says::memo(memo),
        other => other.describe(),
    }
}

/// A command in words, the same for the one issued and the one recorded,
/// with its payload's JSON (cut at [`PREVIEW`] characters).
mod says {
    use super::PREVIEW;
    use crate::model::Payload;

    pub(super) fn activity(name: &str, input: &Payload) -> String {
        format!("schedule activity {name}({})", input.preview(PREVIEW))
    }

    pub(super) fn timer(duration_ms: u64) -> String {
        format!("start a timer of {duration_ms} ms")
    }

    pub(super) fn patch(id: &str) -> String {
        format!("take the new path of patch `{id}`")
    }

    pub(super) fn search(changes: &crate::model::search::SearchChanges) -> String {
        format!(
            "set search attributes {}",
            crate::model::search::describe_changes(changes)
        )
    }

    pub(super) fn memo(changes: &crate::model::search::MemoChanges) -> String {
        let fields: Vec<String> = changes
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={}", v.preview(PREVIEW)),
                None => format!("{k} removed"),
            })
            .collect();
        format!("set memo {}", fields.join(", "))
    }

    pub(super) fn child(workflow_type: &str, id: &str, input: &Payload) -> String {
        format!(
            "start child {workflow_type} {id}({})",
            input.preview(PREVIEW)
        )
    }

    pub(super) fn external(target: &str, name: &str, input: &Payload, cancel: bool) -> String {
        match cancel {
            true => format!(
                "ask execution {target} to cancel ({})",
                input.preview(PREVIEW)
            ),
            false => format!(
                "signal {name}({}) to execution {target}",
                input.preview(PREVIEW)
            ),
        }
    }
}

/// The code did something other than what the history recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("nondeterminism at event {event_index}: the history recorded `{recorded}`, but the code {issued}")]
pub struct Divergence {
    pub event_index: u64,
    pub recorded: String,
    pub issued: String,
}

/// The code used the imports in a way that is always a bug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Misuse {
    #[error("the workflow waited on handle {0}, which this run never issued")]
    UnknownHandle(u64),
    #[error("the workflow waited on handle {0}, whose completion was already delivered")]
    AlreadyDelivered(u64),
    #[error("the workflow answered a request it was not asked")]
    NoRequest,
    #[error(
        "the workflow cancelled handle {0}, {1}: only activities, timers and children can be \
         cancelled"
    )]
    NotCancellable(u64, String),
    #[error("the workflow signalled handle {0} as a child, but it did not start a child")]
    NotAChild(u64),
}

/// What a handle names, for a cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Activity,
    Timer,
    Child,
    /// A signal receive, a patch marker, an update's completion or a
    /// cancellation: nothing to cancel.
    Other(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Divergence(#[from] Divergence),
    #[error(transparent)]
    Misuse(#[from] Misuse),
}

/// The bytes an event takes in the store (its JSON), counted without
/// building the string.
fn stored_size(e: &Event) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut n = Count(0);
    let _ = serde_json::to_writer(&mut n, e);
    n.0
}

/// A set of handles (small numbers, issued from 1 up): one bit each.
#[derive(Debug, Default)]
struct HandleSet(Vec<u64>);

impl HandleSet {
    fn insert(&mut self, h: u64) {
        let (word, bit) = ((h / 64) as usize, h % 64);
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << bit;
    }

    fn contains(&self, h: u64) -> bool {
        let (word, bit) = ((h / 64) as usize, h % 64);
        self.0.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }
}

pub struct Replayer {
    history: Vec<Event>,
    /// Positions in `history` of command events, in order.
    commands: Vec<usize>,
    /// Positions of the events a wait may still take (completions, signals,
    /// accepted updates, cancel requests), in history order: a wait looks at
    /// these, not at the whole history.
    waiting: BTreeSet<usize>,
    /// The handles whose outcome the code was handed (a wait checks every
    /// handle it is given against these: a fan-out's join of n handles
    /// checks n per wait).
    delivered: HandleSet,
    /// The ids of the updates handed to the code, in order.
    delivered_updates: Vec<String>,
    /// The indices of the `signal_received` events handed to the code.
    delivered_signals: Vec<u64>,
    /// Whether the code was told the run is cancelled.
    cancel_delivered: bool,
    /// Commands the code issued so far in this instance.
    issued: u64,
    /// What each issued command (by handle - 1) started.
    targets: Vec<Target>,
    /// Issued beyond the history and not yet committed.
    new_commands: Vec<(u64, Command)>,
    now_ms: u64,
    rng: SplitMix64,
    /// The answer `patched` gave for each patch id in this run.
    patches: std::collections::HashMap<String, bool>,
    /// How many events the history held when this instance loaded it.
    loaded: usize,
    /// For each `signal_received` event (by position), its rank among the
    /// signals of its name.
    signal_rank: Vec<Option<usize>>,
    /// The execution's search attributes and memo as the code has set them
    /// so far: the run's start's, then each upsert it issued (recorded or
    /// new). Not the whole history's: a replay answers as the run did at
    /// the same point.
    search: crate::model::search::SearchAttributes,
    memo: crate::model::search::Memo,
    signal_counts: std::collections::HashMap<String, usize>,
    /// Handles of the signal receives the code issued, per name, in order.
    receives: std::collections::HashMap<String, Vec<u64>>,
    /// The signal names the code looked for without waiting and found none.
    polled: std::collections::HashSet<String>,
    /// Positions of the run's `execution_reset` events.
    resets: Vec<usize>,
    /// Loaded events the code has re-issued or been re-delivered.
    replayed: u64,
    /// Events delivered to the code so far.
    deliveries: u64,
    /// The stored size of the events known.
    bytes: u64,
    /// When the last signal delivered had been recorded, if it arrived after
    /// this instance loaded (a live delivery, not a replayed one).
    live_signal_at: Option<u64>,
    /// Activities and children issued whose end is not recorded.
    open_activities: BTreeSet<u64>,
    open_children: BTreeSet<u64>,
    /// Handles whose end is recorded (an end may be known before replay
    /// re-issues its command).
    ended: BTreeSet<u64>,
}

impl Replayer {
    /// `history` must start with `execution_started`.
    pub fn new(history: Vec<Event>) -> Self {
        let (now_ms, seed) = match history.first() {
            Some(Event {
                at_ms,
                event: EventKind::ExecutionStarted { seed, .. },
                ..
            }) => (*at_ms, *seed),
            _ => (0, 0),
        };
        let mut r = Self {
            history: Vec::new(),
            commands: Vec::new(),
            waiting: BTreeSet::new(),
            delivered: HandleSet::default(),
            delivered_updates: Vec::new(),
            delivered_signals: Vec::new(),
            cancel_delivered: false,
            issued: 0,
            targets: Vec::new(),
            new_commands: Vec::new(),
            now_ms,
            rng: SplitMix64(seed),
            patches: std::collections::HashMap::new(),
            loaded: history.len(),
            signal_rank: Vec::new(),
            search: Default::default(),
            memo: Default::default(),
            signal_counts: std::collections::HashMap::new(),
            receives: std::collections::HashMap::new(),
            polled: std::collections::HashSet::new(),
            resets: Vec::new(),
            replayed: 0,
            deliveries: 0,
            bytes: 0,
            live_signal_at: None,
            open_activities: BTreeSet::new(),
            open_children: BTreeSet::new(),
            ended: BTreeSet::new(),
        };
        r.extend(history);
        r
    }

    /// Adds events recorded after the ones already known (in order).
    pub fn extend(&mut self, events: Vec<Event>) {
        for e in events {
            if matches!(e.event, EventKind::ExecutionReset { .. }) {
                self.resets.push(self.history.len());
            }
            if e.event.command_handle().is_some() {
                self.commands.push(self.history.len());
            }
            let rank = match &e.event {
                EventKind::SignalReceived { name, .. } => {
                    let n = self.signal_counts.entry(name.clone()).or_default();
                    *n += 1;
                    Some(*n - 1)
                }
                _ => None,
            };
            self.signal_rank.push(rank);
            let deliverable = e.event.completion_handle().is_some()
                || matches!(
                    e.event,
                    EventKind::UpdateAccepted { .. }
                        | EventKind::CancelRequested { .. }
                        | EventKind::SignalReceived { .. }
                );
            if deliverable {
                self.waiting.insert(self.history.len());
            }
            if let EventKind::ActivityCompleted { handle, .. }
            | EventKind::ActivityFailed { handle, .. }
            | EventKind::ChildCompleted { handle, .. } = &e.event
            {
                self.ended.insert(*handle);
                self.open_activities.remove(handle);
                self.open_children.remove(handle);
            }
            self.bytes += stored_size(&e);
            if self.history.is_empty() {
                // The run's start: what the code starts with.
                crate::model::search::fold(&mut self.search, &mut self.memo, [&e.event]);
            }
            self.history.push(e);
        }
    }

    pub fn len(&self) -> u64 {
        self.history.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
    }

    pub fn history(&self) -> &[Event] {
        &self.history
    }

    /// True while the code has recorded commands still to re-issue.
    pub fn replaying(&self) -> bool {
        self.issued < self.commands.len() as u64
    }

    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// When the last event the replayer holds was recorded (0: none).
    pub fn last_at_ms(&self) -> u64 {
        self.history.last().map_or(0, |e| e.at_ms)
    }

    /// When the signal just delivered was recorded, if it was delivered live.
    pub fn take_live_signal_at(&mut self) -> Option<u64> {
        self.live_signal_at.take()
    }

    pub fn random(&mut self) -> u64 {
        self.rng.next()
    }

    pub fn replayed_events(&self) -> u64 {
        self.replayed
    }

    /// The run's length as the code has seen it: its start, the commands it
    /// issued and the events delivered to it. The same at the same point of
    /// the code live and in replay.
    pub fn seen_length(&self) -> u64 {
        1 + self.issued + self.deliveries
    }

    /// How many events were delivered to the code so far.
    pub fn deliveries(&self) -> u64 {
        self.deliveries
    }

    /// The indices of the signals handed to the code so far in this run: a
    /// continue-as-new moves the run's other signals into the next run
    /// (whatever receives the code had issued for them).
    pub fn delivered_signals(&self) -> &[u64] {
        &self.delivered_signals
    }

    /// The ids of the updates handed to the code so far in this run: a
    /// continue-as-new carries the run's other accepted updates (never
    /// delivered, so their handlers never started) into the next run.
    pub fn delivered_updates(&self) -> &[String] {
        &self.delivered_updates
    }

    /// Whether the code was told of the run's cancellation: a continue-as-new
    /// moves one it was not told of into the next run.
    pub fn cancel_delivered(&self) -> bool {
        self.cancel_delivered
    }

    /// The events resets of this run discarded, the latest reset first.
    pub fn discarded(&self) -> impl Iterator<Item = &[Event]> {
        self.resets
            .iter()
            .rev()
            .filter_map(|&at| match &self.history[at].event {
                EventKind::ExecutionReset { discarded, .. } => Some(discarded.as_slice()),
                _ => None,
            })
    }

    /// The signal names the code asked for so far (a receive, armed or
    /// taken, or a look without waiting): a signal of another name could
    /// not have changed what it did.
    pub fn signals_asked(&self) -> std::collections::HashSet<String> {
        self.receives.keys().chain(&self.polled).cloned().collect()
    }

    /// The run's events known now (recorded or about to be).
    pub fn known_length(&self) -> u64 {
        self.history.len() as u64 + self.new_commands.len() as u64
    }

    /// The recorded size of the run's events known now, as stored (JSON).
    pub fn known_bytes(&self) -> u64 {
        self.bytes
    }

    /// Activities issued whose end is not recorded yet.
    pub fn pending_activities(&self) -> usize {
        self.open_activities.len()
    }

    /// Children started whose end is not recorded yet.
    pub fn pending_children(&self) -> usize {
        self.open_children.len()
    }

    /// The execution's search attributes and memo as the code has set them
    /// so far (the run's start's, then each upsert it issued).
    pub fn search_state(
        &self,
    ) -> (
        &crate::model::search::SearchAttributes,
        &crate::model::search::Memo,
    ) {
        (&self.search, &self.memo)
    }

    /// The handle the next command will get.
    pub fn next_handle(&self) -> u64 {
        self.issued + 1
    }

    /// The code issues a command; returns its handle.
    pub fn issue(&mut self, command: Command) -> Result<u64, Divergence> {
        let position = usize::try_from(self.issued).unwrap_or(usize::MAX);
        let handle = self.issued + 1;
        match &command {
            Command::ReceiveSignal { name } => {
                self.receives.entry(name.clone()).or_default().push(handle)
            }
            Command::PollSignal { name } => {
                self.polled.insert(name.clone());
            }
            _ => {}
        }
        if !self.ended.contains(&handle) {
            match &command {
                Command::Activity { .. } => {
                    self.open_activities.insert(handle);
                }
                Command::StartChild { .. } => {
                    self.open_children.insert(handle);
                }
                _ => {}
            }
        }
        self.targets.push(match &command {
            Command::Activity { .. } => Target::Activity,
            Command::Timer { .. } => Target::Timer,
            Command::StartChild { .. } => Target::Child,
            Command::Patch { .. } => Target::Other("a patch marker"),
            Command::ReceiveSignal { .. } => Target::Other("a signal receive"),
            Command::PollSignal { .. } => Target::Other("a signal receive"),
            Command::CompleteUpdate { .. } => Target::Other("an update's completion"),
            Command::Cancel { .. } => Target::Other("a cancellation"),
            Command::UpsertSearch { .. } => Target::Other("a search attribute change"),
            Command::UpsertMemo { .. } => Target::Other("a memo change"),
            Command::External { .. } => Target::Other("a request to another execution"),
        });
        if let Some(&at) = self.commands.get(position) {
            let recorded = &self.history[at];
            if !command.matches(&recorded.event) {
                let (recorded_text, issued_text) =
                    (describe_recorded(&recorded.event), command.describe());
                // The same value written with other bytes (key order,
                // spacing): the two read alike, so say what differs.
                let issued = if recorded_text == issued_text {
                    format!(
                        "issued `{issued_text}`: the same JSON value, but other bytes (keys in \
                         another order, or other spacing); payloads are compared byte for byte, \
                         so encode them as the recording did"
                    )
                } else {
                    format!("issued `{issued_text}`")
                };
                return Err(Divergence {
                    event_index: recorded.index,
                    recorded: recorded_text,
                    issued,
                });
            }
            if at < self.loaded {
                self.replayed += 1;
            }
            self.note_search(&command);
        } else {
            self.note_search(&command);
            self.new_commands.push((handle, command));
        }
        self.issued = handle;
        Ok(handle)
    }

    /// What an issued command does to the attributes and memo the code sees.
    fn note_search(&mut self, command: &Command) {
        match command {
            Command::UpsertSearch { changes } => {
                crate::model::search::apply_changes(&mut self.search, changes)
            }
            Command::UpsertMemo { changes } => {
                crate::model::search::apply_memo(&mut self.memo, changes)
            }
            _ => {}
        }
    }

    /// `try-receive-signal`: the next signal named `name` if the history
    /// known now holds it (it is taken, as a receive: the command records
    /// `signal_awaited`), or `None` (recorded as `signal_polled`). A replay
    /// answers as the recording did.
    pub fn try_receive(&mut self, name: &str) -> Result<Option<Payload>, Divergence> {
        let rank = self.receives.get(name).map_or(0, Vec::len);
        let found = self.waiting.iter().copied().find(|&i| {
            self.signal_rank[i] == Some(rank)
                && matches!(&self.history[i].event, EventKind::SignalReceived { name: n, .. } if n == name)
        });
        let recorded = self
            .next_recorded_command()
            .map(|e| (e.index, e.event.clone()));
        let take = match &recorded {
            Some((_, EventKind::SignalAwaited { .. })) => true,
            Some((_, EventKind::SignalPolled { .. })) => false,
            // A divergence, reported by `issue`; or live: whatever is known.
            _ => found.is_some(),
        };
        if !take {
            self.issue(Command::PollSignal {
                name: name.to_owned(),
            })?;
            return Ok(None);
        }
        let handle = self.issue(Command::ReceiveSignal {
            name: name.to_owned(),
        })?;
        let Some(i) = found else {
            // Only a replay takes without a signal known: the recording
            // found one that this history does not hold.
            let (event_index, recorded) = recorded
                .map(|(i, e)| (i, describe_recorded(&e)))
                .unwrap_or((0, "nothing".into()));
            return Err(Divergence {
                event_index,
                recorded,
                issued: format!("found no signal {name} waiting"),
            });
        };
        self.waiting.remove(&i);
        self.delivered.insert(handle);
        self.delivered_signals.push(self.history[i].index);
        self.deliveries += 1;
        if i < self.loaded {
            self.replayed += 1;
        }
        match &self.history[i].event {
            EventKind::SignalReceived { input, .. } => Ok(Some(input.clone())),
            _ => Ok(None),
        }
    }

    /// Why activity `h` failed, once its failure was delivered to the code
    /// (`None` before, or for a handle that is no failed activity): the
    /// same live and in replay.
    pub fn activity_failure(&self, h: u64) -> Option<crate::model::ActivityFailureInfo> {
        if !self.delivered.contains(h) {
            return None;
        }
        let policy = match self.recorded_command(h) {
            Some(EventKind::ActivityScheduled { options, .. }) => {
                options.retry.clone().unwrap_or_default()
            }
            _ => return None,
        };
        self.history.iter().find_map(|e| match &e.event {
            EventKind::ActivityFailed {
                handle,
                attempts,
                failure,
                retry_state,
                ..
            } if *handle == h => Some(crate::model::ActivityFailureInfo::of(
                *attempts,
                failure,
                *retry_state,
                &policy,
            )),
            _ => None,
        })
    }

    /// How many commands the code issued so far (the last handle).
    pub fn issued(&self) -> u64 {
        self.issued
    }

    /// What handle `h` of this run names, if the code issued it.
    pub fn target(&self, h: u64) -> Option<Target> {
        let i = usize::try_from(h.checked_sub(1)?).ok()?;
        self.targets.get(i).copied()
    }

    /// The recorded event of command `h`, if it is recorded.
    pub fn recorded_command(&self, h: u64) -> Option<&EventKind> {
        self.commands
            .iter()
            .map(|&at| &self.history[at].event)
            .find(|e| e.command_handle() == Some(h))
    }

    /// Whether the history records the completion of handle `h`.
    pub fn is_completed(&self, h: u64) -> bool {
        self.history
            .iter()
            .any(|e| e.event.completion_handle() == Some(h))
    }

    /// The answer `patched(id)` already gave in this run, if any.
    pub fn known_patch(&self, id: &str) -> Option<bool> {
        self.patches.get(id).copied()
    }

    /// `patched(id)`: true on a fresh path (the marker becomes a new command)
    /// or where the history recorded the marker; false when replaying a
    /// history recorded before the patch, where the next recorded command is
    /// something else. `deprecate-patch` is the same call with the answer
    /// ignored. The answer for one id is fixed for the rest of the run.
    pub fn patched(&mut self, id: &str) -> Result<bool, Divergence> {
        if let Some(&answer) = self.patches.get(id) {
            return Ok(answer);
        }
        let answer = match self.next_recorded_command().map(|e| &e.event) {
            Some(EventKind::PatchMarker { patch_id, .. }) if patch_id == id => {
                self.issue(Command::Patch { id: id.to_owned() })?;
                true
            }
            // Replaying a history from before the patch.
            Some(_) => false,
            None => {
                self.issue(Command::Patch { id: id.to_owned() })?;
                true
            }
        };
        self.patches.insert(id.to_owned(), answer);
        Ok(answer)
    }

    /// Commands issued beyond the history, to commit; clears them.
    pub fn take_new_commands(&mut self) -> Vec<(u64, Command)> {
        std::mem::take(&mut self.new_commands)
    }

    pub fn has_new_commands(&self) -> bool {
        !self.new_commands.is_empty()
    }

    /// The earliest unconsumed completion among `handles`, if one is recorded.
    #[cfg(test)]
    pub fn next_completion(&mut self, handles: &[u64]) -> Result<Option<Completion>, Misuse> {
        Ok(match self.next_delivery(handles)? {
            Some(Delivered::Completion(c)) => Some(c),
            _ => None,
        })
    }

    /// The earliest unconsumed event, in history order, that this wait can
    /// take: a completion of one of `handles` (a signal completes the receive
    /// of its rank), or an accepted update.
    /// An empty `handles` waits only for updates (a workflow blocked on a
    /// condition its update handlers change).
    pub fn next_delivery(&mut self, handles: &[u64]) -> Result<Option<Delivered>, Misuse> {
        for &h in handles {
            if h == 0 || h > self.issued {
                return Err(Misuse::UnknownHandle(h));
            }
            if self.delivered.contains(h) {
                return Err(Misuse::AlreadyDelivered(h));
            }
        }
        // The earliest waiting event this wait can take, and for a signal or
        // a completion, the handle it completes.
        let mut found = None;
        for &i in &self.waiting {
            let e = &self.history[i];
            let handle = match &e.event {
                EventKind::UpdateAccepted { .. } | EventKind::CancelRequested { .. } => None,
                EventKind::SignalReceived { name, .. } => {
                    let rank = self.signal_rank[i].unwrap_or(usize::MAX);
                    let Some(&h) = self.receives.get(name).and_then(|r| r.get(rank)) else {
                        continue;
                    };
                    Some(h)
                }
                other => other.completion_handle(),
            };
            if let Some(h) = handle {
                if !handles.contains(&h) || self.delivered.contains(h) {
                    continue;
                }
            }
            found = Some((i, handle));
            break;
        }
        let Some((i, handle)) = found else {
            return Ok(None);
        };
        self.waiting.remove(&i);
        if let Some(h) = handle {
            self.delivered.insert(h);
        }
        let e = &self.history[i];
        let delivered = match &e.event {
            EventKind::UpdateAccepted {
                update_id,
                name,
                input,
            } => {
                self.delivered_updates.push(update_id.clone());
                Delivered::Update {
                    update_id: update_id.clone(),
                    name: name.clone(),
                    input: input.clone(),
                }
            }
            EventKind::CancelRequested { reason } => {
                self.cancel_delivered = true;
                Delivered::Cancel {
                    reason: reason.clone(),
                }
            }
            EventKind::SignalReceived { input, .. } => {
                if i >= self.loaded {
                    self.live_signal_at = Some(e.at_ms);
                }
                self.delivered_signals.push(e.index);
                Delivered::Completion((handle.unwrap_or_default(), Ok(input.clone())))
            }
            other => {
                // Every other waiting event is a completion (see `extend`).
                let Some(c) = other.completion() else {
                    return Ok(None);
                };
                Delivered::Completion(c)
            }
        };
        self.now_ms = e.at_ms;
        self.deliveries += 1;
        if i < self.loaded {
            self.replayed += 1;
        }
        Ok(Some(delivered))
    }

    /// When the code blocks with nothing to deliver while recorded commands
    /// remain, it has left the recorded path.
    pub fn check_blocking(&self, handles: &[u64]) -> Result<(), Divergence> {
        self.next_recorded_command().map_or(Ok(()), |e| {
            Err(Divergence {
                event_index: e.index,
                recorded: describe_recorded(&e.event),
                issued: format!("waited on handles {handles:?} instead"),
            })
        })
    }

    /// When `run` returns, every recorded command must have been re-issued,
    /// and a recorded end must be this one.
    pub fn check_finished(&self, outcome: &Result<Payload, Failure>) -> Result<(), Divergence> {
        let issued = || match outcome {
            Ok(o) => format!("completed with output {}", o.to_json()),
            Err(f) => format!("failed with `{f}`"),
        };
        if let Some(e) = self.next_recorded_command() {
            return Err(Divergence {
                event_index: e.index,
                recorded: describe_recorded(&e.event),
                issued: match outcome {
                    Ok(_) => "returned from run instead".to_owned(),
                    Err(f) => format!("returned the failure `{f}` instead"),
                },
            });
        }
        let Some(end) = self.recorded_end() else {
            return Ok(());
        };
        let same = match (&end.event, outcome) {
            (EventKind::ExecutionCompleted { output }, Ok(o)) => output == o,
            (EventKind::ExecutionFailed { failure }, Err(f)) => failure == f,
            // A cancelled end is a failure the code returned after a request.
            (EventKind::ExecutionCancelled { failure }, Err(f)) => failure == f,
            _ => false,
        };
        if !same {
            return Err(Divergence {
                event_index: end.index,
                recorded: end.event.describe(),
                issued: issued(),
            });
        }
        Ok(())
    }

    /// A continue-as-new ends the run like a return: every recorded command
    /// must have been re-issued (a run recorded at step 7 must not end at
    /// step 5 and abandon the rest), and a recorded end must be a
    /// continue-as-new too.
    pub fn check_continue_as_new(&self) -> Result<(), Divergence> {
        if let Some(e) = self.next_recorded_command() {
            return Err(Divergence {
                event_index: e.index,
                recorded: describe_recorded(&e.event),
                issued: "continued as new instead".to_owned(),
            });
        }
        match self.recorded_end() {
            Some(end) if !matches!(end.event, EventKind::ExecutionContinuedAsNew { .. }) => {
                Err(Divergence {
                    event_index: end.index,
                    recorded: end.event.describe(),
                    issued: "continued as new".to_owned(),
                })
            }
            _ => Ok(()),
        }
    }

    /// How the recorded run ended, if it did (the first end event: a run
    /// has one, and what follows a continue-as-new is the next run's).
    fn recorded_end(&self) -> Option<&Event> {
        self.history.iter().find(|e| {
            matches!(
                e.event,
                EventKind::ExecutionCompleted { .. }
                    | EventKind::ExecutionFailed { .. }
                    | EventKind::ExecutionCancelled { .. }
                    | EventKind::ExecutionContinuedAsNew { .. }
            )
        })
    }

    /// Whether the recorded run ended (returned, failed, was cancelled or
    /// continued as new), rather than stopping blocked (terminated, open).
    pub fn has_recorded_end(&self) -> bool {
        self.recorded_end().is_some()
    }

    /// The child id the history recorded for the next command, if that
    /// command is a child start: a replayed start keeps the id it was made
    /// with.
    /// Where a request to another execution goes: the execution id, and
    /// for a child the handle that started it.
    pub fn external_target(
        &self,
        to: crate::wasm::External,
    ) -> Result<(String, Option<u64>), Misuse> {
        match to {
            crate::wasm::External::Execution(id) => Ok((id, None)),
            crate::wasm::External::Child(h) => self
                .child_id_of(h)
                .map(|id| (id, Some(h)))
                .ok_or(Misuse::NotAChild(h)),
        }
    }

    /// The id of the child that handle `h` started, if it started one: as
    /// recorded, or as issued in this task.
    fn child_id_of(&self, h: u64) -> Option<String> {
        if let Some(EventKind::ChildStarted { child_id, .. }) = self.recorded_command(h) {
            return Some(child_id.clone());
        }
        self.new_commands.iter().find_map(|(handle, c)| match c {
            Command::StartChild { id, .. } if *handle == h => Some(id.clone()),
            _ => None,
        })
    }

    pub fn recorded_child_id(&self) -> Option<String> {
        match self.next_recorded_command().map(|e| &e.event) {
            Some(EventKind::ChildStarted { child_id, .. }) => Some(child_id.clone()),
            _ => None,
        }
    }

    fn next_recorded_command(&self) -> Option<&Event> {
        let position = usize::try_from(self.issued).ok()?;
        self.commands.get(position).map(|&at| &self.history[at])
    }
}

/// A small, fixed random stream: the same seed gives the same values on
/// every host and every version of weft.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests;
