//! The store: redb schema and typed transactions. The only module that
//! touches redb; nothing of redb crosses its border. Reads open their own
//! read transaction; every write goes through the group committer, so each
//! `write` call is atomic and durable when it returns, and many callers share
//! one fsync.

mod apply;
mod census;
pub mod cluster;
mod committer;
mod deploys;
mod error;
mod external;
mod head;
mod history;
mod kv;
mod migrate;
mod reset;
mod retention;
mod search;
mod signal_requests;
mod slot;
mod tables;
mod timers;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kv::Txn;
use tokio::sync::{mpsc, oneshot, watch};

pub use error::{OpError, StoreError};
pub use migrate::{migrate, Copied};

use crate::model::{
    Doors, Event, EventKind, ExecutionId, ExecutionRecord, ExecutionStatus, Failure, ModuleHash,
    ModuleMeta, ParentClosePolicy, Payload, TypeName, WorkflowVersion,
};
use apply::from_json;
use committer::Request;
use tables::{
    ACTIVITIES, EXECUTIONS, HISTORY, MODULES, MODULE_META, TIMERS, TYPE_VERSIONS, WORKFLOW_TYPES,
};

/// One write. A batch of ops is all-or-nothing: applied whole, or refused
/// whole with the first refusal.
#[derive(Debug, Clone)]
pub enum Op {
    PutModule {
        meta: ModuleMeta,
        bytes: Vec<u8>,
    },
    /// Keeps an attempt's heartbeat details (the latest by `seq`), if the
    /// activity's run is still the execution's open run.
    Heartbeat {
        id: ExecutionId,
        run_start: u64,
        epoch: u32,
        handle: u64,
        seq: u64,
        details: Option<Payload>,
    },
    /// Records that a worker took an attempt of an activity from its task
    /// queue, before the worker is told: whichever host runs the execution
    /// next takes the worker's answer under the same token. Refused like an
    /// attempt failure once the run closed, moved on or was reset, or the
    /// handle has its completion.
    TaskTaken {
        id: ExecutionId,
        run_start: u64,
        epoch: u32,
        handle: u64,
        taken: TakenTask,
    },
    /// An attempt failed and another follows: its state, beside the history.
    /// Refused like an append once the run closed, moved on or was reset,
    /// or the handle has its completion.
    AttemptFailed {
        id: ExecutionId,
        run_start: u64,
        handle: u64,
        state: crate::model::AttemptState,
    },
    /// Makes `module` the type's current version, numbering it as the next
    /// version unless it already is one.
    SetWorkflowType {
        name: TypeName,
        module: ModuleHash,
        at_ms: u64,
    },
    /// Points the type at one of its existing versions.
    SetCurrent {
        name: TypeName,
        module: ModuleHash,
    },
    /// Pins a running or stalled execution to another module, if its history
    /// still has `expect_history_len` events; a stalled one runs again.
    /// Moves an open execution to `module` (an upgrade), recording
    /// `execution_upgraded` in its history, if the history still has
    /// `expect_history_len` events.
    MoveExecution {
        id: ExecutionId,
        module: ModuleHash,
        expect_history_len: u64,
        /// And still at this epoch: a reset may leave the length as it was.
        expect_resets: u32,
        at_ms: u64,
    },
    SetActivity {
        name: String,
        module: ModuleHash,
    },
    /// Deletes a closed execution and everything kept for it (refused,
    /// `NotClosed`, while it is open; `Stale` when `resets` is given and
    /// the execution is at another epoch now: started again under the id,
    /// or reset and closed again, since the deleter read it).
    DeleteExecution {
        id: ExecutionId,
        resets: Option<u32>,
    },
    /// Forgets these start request rows `(key, seen at)`, found past their
    /// window ([`Store::start_requests_past`]); one written again since is
    /// kept.
    ForgetStartRequests {
        rows: Vec<(String, u64)>,
    },
    /// Forgets a batch of the client signal request ids whose time came by
    /// `now_ms` (see `signal_requests.rs`).
    ForgetSignalRequests {
        now_ms: u64,
    },
    /// Sets (or clears) a workflow type's retention of closed executions.
    SetRetention {
        name: TypeName,
        retention_ms: Option<u64>,
    },
    /// Deletes a module and the version rows naming it.
    DeleteModule {
        hash: ModuleHash,
    },
    /// Records where the manual clock stands (kept if it is later).
    SetManualClock {
        ms: u64,
    },
    /// Records where a manual clock opened (kept if it is later) and that
    /// the store keeps where it stands from now on (`Some`), or that a host
    /// on the system clock stamped events since (`None`): the next manual
    /// clock goes on from the system time again if that is later.
    KeepManualClock {
        at_ms: Option<u64>,
    },
    /// Creates the execution row and its first event; refused if the id
    /// exists, unless `reuse` lets a new run follow a closed one in the same
    /// history. With `request`, refused if that request already started a
    /// run within its retention window (the refusal names the run).
    CreateExecution {
        record: Box<ExecutionRecord>,
        started: EventKind,
        reuse: Reuse,
        request: Option<StartRequest>,
        /// Told the record written, when the op applies.
        created: Option<Created>,
    },
    /// Closes the current run with `events` and starts the next one in the
    /// same transaction: `started` opens it, on `module`, followed by the
    /// signals the closing run did not receive (none is lost).
    ContinueAsNew {
        id: ExecutionId,
        at_ms: u64,
        events: Vec<EventKind>,
        started: EventKind,
        module: ModuleHash,
        expect_module: ModuleHash,
        expect_resets: u32,
        /// What the closing run owes its children (see `Append::owed`).
        owed: Vec<(String, ParentClosePolicy)>,
        /// The updates the closing run's code was handed. The run's other
        /// accepted updates (recorded after its last wait, or never taken
        /// by one) move to the next run; these do not, since their
        /// handlers may have started.
        delivered_updates: Vec<String>,
        /// The indices of the `signal_received` events the closing run's
        /// code was handed; the run's other signals move to the next run.
        delivered_signals: Vec<u64>,
        /// Whether the closing run's code was told of its cancellation. A
        /// cancellation it was not told of (recorded during its last task)
        /// moves to the next run.
        cancel_delivered: bool,
    },
    /// Appends events (the store numbers them), adds and removes timer rows,
    /// and optionally closes or stalls the execution: one state change.
    Append {
        id: ExecutionId,
        at_ms: u64,
        events: Vec<EventKind>,
        timers_add: Vec<(u64, u64)>,
        timers_remove: Vec<(u64, u64)>,
        close: Option<Close>,
        /// Refuse the append if the execution is no longer pinned to this
        /// module (it was upgraded since the writer loaded it).
        expect_module: Option<ModuleHash>,
        /// Refuse it if the execution was reset since the writer started.
        expect_resets: Option<u32>,
        /// Refuse it (`Stale`) unless the events would be placed at this
        /// index: the writer decided on the history up to there and nothing
        /// came in since (an update's validator).
        expect_next: Option<u64>,
        /// Refuse it unless this timer row `(due, handle)` is still pending.
        require_timer: Option<(u64, u64)>,
        /// Refuse it (`Stale`) unless the execution is the child its parent
        /// started as `(parent, epoch, handle)`: a parent's request to its
        /// child, which a reset of the parent since it decided discarded
        /// (the reset re-attached the child to its new epoch).
        expect_link: Option<(ExecutionId, u32, u64)>,
        /// Refuse it if the history already accepted an update with this id.
        unique_update: Option<String>,
        /// Record the events once per key in this execution: refused
        /// (`AlreadyRecorded`) if the key is in its inbox, else added there
        /// (a signal sent again with its request id), to be forgotten at the
        /// time given (the execution's retention after now).
        once_key: Option<(String, u64)>,
        /// Refuse it (`SignalsWaiting`) if a `signal_received` of one of
        /// these names was recorded at or after this index: a run's end,
        /// written while a signal its code asked for came in (the code must
        /// be offered it first).
        signals_since: Option<(u64, Vec<String>)>,
        /// With a close: what the run owes its children is read from its
        /// history in this transaction (`owed` is not used): a writer that
        /// is not the run's instance (a terminate) may not have read the
        /// run's latest task, which may have started a child.
        owed_from_history: bool,
        /// With a close: the children still running that the closed run
        /// owes their parent-close policy (kept until `SettleOwed`).
        owed: Vec<(String, ParentClosePolicy)>,
        /// Told the index the events were placed at, when the append
        /// applies (see [`Placed`]).
        placed: Option<Placed>,
        /// Set by a workflow task that waits once these events are
        /// recorded: the index its view of the run's history ended at. If
        /// the events are placed there (nothing was appended since the task
        /// read), the last one is marked `waits` ([`crate::model::Event`]).
        task_saw: Option<u64>,
    },
    /// Tells `child`'s parent how the child ended: `child_completed` is
    /// appended to the parent if the parent's epoch is still the one the
    /// child's record links to (read in this transaction), the parent is
    /// open and the handle has no completion yet; otherwise nothing is
    /// written and the batch goes on (a parent that closed or was reset to
    /// before the child started no longer waits for it).
    TellParent {
        child: ExecutionId,
        at_ms: u64,
        outcome: Result<Payload, Failure>,
    },
    /// The parent-close policies `id`'s closed runs owed `children` are
    /// applied (what another run of `id` owes since stays owed). Refused
    /// (`Stale`) unless `id`'s epoch and closed state are still
    /// `parent_was` (none: no execution), read before what it owed: a run
    /// that closed, continued as new or was reset since may owe a child
    /// under one of those ids (one entry for both).
    SettleOwed {
        id: ExecutionId,
        children: Vec<String>,
        parent_was: Option<(u32, bool)>,
    },
    /// Keeps requests to other executions in the outbox until delivered
    /// (in the batch of the task that made them).
    OutboxAdd {
        requests: Vec<ExternalRequest>,
    },
    /// Delivers an outbox request, in one transaction: a signal is appended
    /// to the target if it runs (once per key), the sender's handle gets its
    /// `external_completed` if its run still holds the request, and the
    /// outbox row goes. A request no longer in the outbox was delivered:
    /// nothing happens. For a cancellation the engine reads the target
    /// first: `target_found` is what it found, and `cancel` the append that
    /// asks a running target to cancel, applied in this transaction only if
    /// the request is still in the outbox (a reset that discarded it, or a
    /// delivery before, leaves nothing to ask); a refused `cancel` refuses
    /// the op (the engine reads again).
    Deliver {
        request: ExternalRequest,
        at_ms: u64,
        target_found: Option<bool>,
        cancel: Option<Box<Op>>,
    },
    /// Records a signal an execution of another partition sent (from its
    /// outbox) in its target here, once per request key, as `Deliver` does
    /// for a target in the sender's partition; refused with
    /// `NoSuchExecution` when the target does not run. The sender's
    /// partition then writes its `Deliver`, with `target_found`.
    /// Recorded only while the request is in partition `from`'s outbox
    /// (a reset of the sender since discarded it, or a delivery took it:
    /// nothing is recorded, and the op answers `Ok`); that row is locked
    /// until the write ends, so a reset waits for it.
    /// A cancellation's `cancel` is the append that asks the target, as
    /// in `Deliver` (a refused one refuses the op).
    Receive {
        request: ExternalRequest,
        at_ms: u64,
        from: u32,
        cancel: Option<Box<Op>>,
    },
    /// Writes a schedule: creates it (`expect_revision` none; refused if the
    /// name exists) or replaces the revision the writer read (refused if
    /// the stored one is another). The record carries its new revision.
    PutSchedule {
        record: Box<crate::model::schedule::ScheduleRecord>,
        expect_revision: Option<u64>,
    },
    DeleteSchedule {
        name: String,
    },
    /// Registers a search attribute name with its type (nothing happens if
    /// it has that type; refused if it has another), or with `None` removes
    /// it (values recorded under it stay on their executions).
    SetSearchType {
        name: String,
        search_type: Option<crate::model::search::SearchType>,
    },
    /// Discards the events after `to_event` of the current run (recording
    /// them in an `execution_reset` event), replaces the execution's timer
    /// rows with `timers`, and makes it run again on `module`, in a new
    /// epoch. In the same transaction: children started in the discarded
    /// part that still run are terminated; children started in the kept part
    /// and not reported there are re-attached to the new epoch, or, if they
    /// ended meanwhile, their end is recorded again after the reset; and,
    /// with `reapply_signals`, the discarded signals are recorded again.
    Reset {
        id: ExecutionId,
        to_event: u64,
        module: ModuleHash,
        at_ms: u64,
        reason: String,
        expect_history_len: u64,
        /// And still at this epoch: another reset may leave the length as
        /// it was (one event discarded, its own written).
        expect_resets: u32,
        timers: Vec<(u64, u64)>,
        reapply_signals: bool,
        /// Recorded in the `execution_reset` event (see `Engine::reset`).
        request_id: Option<String>,
    },
}

impl Op {
    pub fn append(id: &ExecutionId, at_ms: u64, events: Vec<EventKind>) -> Self {
        Self::Append {
            id: id.clone(),
            at_ms,
            events,
            timers_add: Vec::new(),
            timers_remove: Vec::new(),
            close: None,
            expect_module: None,
            expect_resets: None,
            expect_next: None,
            require_timer: None,
            expect_link: None,
            unique_update: None,
            once_key: None,
            signals_since: None,
            owed_from_history: false,
            owed: Vec::new(),
            placed: None,
            task_saw: None,
        }
    }
}

/// Where an append's events were placed, set by the store as the append
/// applies. Read after the write returned `Ok`: a group applied again
/// without a refused batch sets it again, so the last value is the
/// committed one. A writer that knows the history up to that index in
/// that run and epoch (nothing was appended in between) knows its events'
/// indices without reading them back.
pub type Placed = Slot<Position>;

/// What a write tells its writer as an op applies (see [`Placed`] and
/// [`Created`]): the last value set is the committed one.
#[derive(Debug, Clone)]
pub struct Slot<T>(Arc<std::sync::Mutex<Option<T>>>);

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<T: Clone> Slot<T> {
    fn set(&self, value: T) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(value);
    }

    /// The value, once the op applied.
    pub fn get(&self) -> Option<T> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The record a `CreateExecution` wrote (a new id's run 1, or the next run
/// of a closed execution whose id it reused), for a writer that loads the
/// execution without reading it back.
pub type Created = Slot<ExecutionRecord>;

/// See [`Placed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The index of the first event appended.
    pub first: u64,
    /// The execution's epoch (`resets`) and run it was appended in: after a
    /// reset the same indices hold other events.
    pub epoch: u32,
    pub run_start: u64,
    /// The time the events were recorded at (the writer's, or the last
    /// event's if that was later: see `apply::stamp`).
    pub at_ms: u64,
}

impl Placed {
    /// Where the events went, once the append applied.
    pub fn position(&self) -> Option<Position> {
        self.get()
    }
}

/// A workflow's request to another execution, as the outbox keeps it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExternalRequest {
    /// `<sender>/<run>/<handle>`: made when the request is, recorded in
    /// its `external_sent` event.
    pub key: String,
    pub sender: ExecutionId,
    pub handle: u64,
    pub target: String,
    /// For a signal to a child: the sender's handle that started it. The
    /// delivery checks the target is that child (a refused start's id is
    /// another execution's), else the request finds no target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<u64>,
    pub name: String,
    pub input: Payload,
    pub cancel: bool,
    /// For a signal to a child: the sender's epoch when the request was
    /// made (or made again by a reset). A target whose link names an
    /// earlier epoch is an earlier run's child (of this execution, or of
    /// one deleted under its id), not the one the handle started. Absent
    /// from requests made before 2026-12-03.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
}

impl ExternalRequest {
    /// The request an `external_sent` event of `sender`, at epoch
    /// `epoch`, records.
    pub fn from_event(sender: &ExecutionId, epoch: u32, event: &EventKind) -> Option<Self> {
        let EventKind::ExternalSent {
            handle,
            target,
            child,
            name,
            input,
            cancel,
            key,
        } = event
        else {
            return None;
        };
        Some(Self {
            key: key.clone(),
            sender: sender.clone(),
            handle: *handle,
            target: target.clone(),
            child: *child,
            name: name.clone(),
            input: input.clone(),
            cancel: *cancel,
            epoch: child.map(|_| epoch),
        })
    }
}

/// What makes a start idempotent: its request id, keyed by the workflow type
/// and the chosen id (if any), remembered for `retention_ms`.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// `<type>\0<request id>`.
    pub key: String,
    /// The key the same request had before request ids were kept by type
    /// and request id only (`<type>\0<id given or none>\0<request id>`):
    /// read too, so a request made before the change is still found.
    pub legacy_key: String,
    pub retention_ms: u64,
}

impl StartRequest {
    /// The run this request started, if it was seen within its window:
    /// the retention after the start, and as long as the execution it
    /// started is kept (open, or closed within its retention).
    fn seen(
        &self,
        table: &kv::Table<'_, &'static str, &'static [u8]>,
        execs: &kv::Table<'_, &'static str, &'static [u8]>,
        now_ms: u64,
    ) -> Result<Option<history::SeenRequest>, StoreError> {
        for key in [self.key.as_str(), self.legacy_key.as_str()] {
            if let Some(raw) = table.get(key)? {
                let seen: history::SeenRequest = from_json("start request", &raw)?;
                if now_ms < seen.at_ms.saturating_add(self.retention_ms)
                    || history::started_is_kept(execs, &seen)?
                {
                    return Ok(Some(seen));
                }
            }
        }
        Ok(None)
    }
}

const MANUAL_CLOCK: &str = "manual_clock_ms";
/// The time `MANUAL_CLOCK` held when a host that opened a manual clock
/// stored it, moved on with it by every move of this release: while the two
/// are equal, `MANUAL_CLOCK` is where the clock stands, moved or not.
/// Otherwise (no mark, or a release before this one moved the clock
/// without it, and a host on the system clock clears it) the stored time
/// is only a floor.
const MANUAL_CLOCK_KEPT: &str = "manual_clock_kept";
/// Set once `TIMERS_BY_EXECUTION` holds every row of `TIMERS`.
const TIMERS_INDEXED: &str = "timers_indexed";
/// Set once `COMPLETED` holds the completions of every open run.
const COMPLETIONS_INDEXED: &str = "completions_indexed";
/// The rows of `HOST_STATE` a store's first open writes.
const INDEX_MARKS: [&str; 2] = [TIMERS_INDEXED, COMPLETIONS_INDEXED];
/// The rows of `HOST_STATE` a host that opened a manual clock on an empty
/// store wrote (where its clock stood): a copy replaces them with the
/// source's.
const CLOCK_MARKS: [&str; 2] = [MANUAL_CLOCK, MANUAL_CLOCK_KEPT];

/// What [`Store::manual_clock`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredClock {
    /// The clock stands here: a manual clock goes on from it exactly.
    Kept(u64),
    /// The clock stands no earlier than this (nothing stored: 0).
    AtLeast(u64),
}

/// Where the clock stands as the store keeps it (see [`Store::manual_clock`]).
fn stored_clock(txn: &Txn) -> Result<StoredClock, StoreError> {
    let table = txn.open_table(tables::HOST_STATE)?;
    let ms = table.get(MANUAL_CLOCK)?;
    Ok(match (ms, table.get(MANUAL_CLOCK_KEPT)?) {
        (Some(ms), Some(kept)) if kept == ms => StoredClock::Kept(ms),
        (ms, _) => StoredClock::AtLeast(ms.unwrap_or(0)),
    })
}

#[derive(Debug, Clone)]
pub enum Close {
    Completed(Payload),
    Failed(Failure),
    Stalled(String),
    Cancelled(Failure),
    /// Ends at once: its timer rows go and its epoch moves on, so nothing
    /// started before reports back.
    Terminated(String),
}

/// Whether a start may begin a new run under the id of a closed execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// No record under the id.
    Never,
    /// No execution ever under the id: a deleted one's (its retired run)
    /// refuses it too. A schedule's action for a time: that time ran.
    Once,
    /// Any closed run.
    IfClosed,
    /// Only a run that did not complete (failed, cancelled, terminated).
    IfNotCompleted,
}

/// The fields of an execution record a listing needs.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ExecutionHead {
    pub id: ExecutionId,
    pub workflow_type: TypeName,
    pub status: ExecutionStatus,
    pub created_at_ms: u64,
    #[serde(default)]
    pub closed_at_ms: Option<u64>,
    pub module: ModuleHash,
    #[serde(default)]
    pub search_attributes: crate::model::search::SearchAttributes,
    /// Its epoch (a record from before epochs: 0).
    #[serde(default)]
    pub resets: u32,
}

/// A pending timer as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimerRow {
    pub due_ms: u64,
    pub execution: ExecutionId,
    pub handle: u64,
}

/// What [`Store::schedules`] read.
#[derive(Debug, Default)]
pub struct Schedules {
    pub read: Vec<crate::model::schedule::ScheduleRecord>,
    pub unreadable: Unreadable,
}

/// Names of records that cannot be decoded, each with why.
pub type Unreadable = Vec<(String, String)>;

/// Where a store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The embedded redb file `weft.redb` in a directory.
    Dir(std::path::PathBuf),
    /// A PostgreSQL database, by its address.
    Postgres(String),
}

impl Location {
    /// A PostgreSQL address, or else a data directory (an address of any
    /// other scheme is refused, not taken for a directory's name).
    pub fn parse_any(value: &str) -> Result<Self, StoreError> {
        match Self::parse_store(value) {
            Ok(pg) => Ok(pg),
            Err(_) if value.contains("://") => Err(StoreError::Backend(format!(
                "{value}: give a data directory or a PostgreSQL address \
                 (postgres://user@host:port/database); weft keeps no other kind of store"
            ))),
            Err(_) => Ok(Self::Dir(value.into())),
        }
    }

    /// `--store`'s value: a PostgreSQL address.
    pub fn parse_store(value: &str) -> Result<Self, StoreError> {
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            Ok(Self::Postgres(value.to_owned()))
        } else {
            Err(StoreError::Backend(format!(
                "--store {value}: give a PostgreSQL address (postgres://user@host:port/database), \
                 or leave --store out to keep the store in --data"
            )))
        }
    }
}

/// The open database under the store's ops.
#[derive(Clone)]
pub(super) enum Backend {
    Redb(Arc<slot::DbSlot>),
    Pg(Arc<kv::pg::Pg>),
}

impl Backend {
    fn begin_write(&self) -> Result<Txn, StoreError> {
        match self {
            Backend::Redb(slot) => Ok(Txn::RedbWrite(kv::RedbWrite::new(
                slot.get()?.begin_write()?,
            ))),
            Backend::Pg(pg) => Ok(Txn::Pg(pg.begin_write()?)),
        }
    }

    fn begin_read(&self) -> Result<Txn, StoreError> {
        use redb::ReadableDatabase;
        match self {
            Backend::Redb(slot) => Ok(Txn::RedbRead(slot.get()?.begin_read()?)),
            Backend::Pg(pg) => Ok(Txn::Pg(pg.begin_read()?)),
        }
    }

    /// A read whose statements each see the latest commits, with no
    /// snapshot shared between them (on redb, a read transaction: one
    /// snapshot costs nothing there).
    fn begin_latest(&self) -> Result<Txn, StoreError> {
        match self {
            Backend::Pg(pg) => Ok(Txn::Pg(pg.begin_latest()?)),
            Backend::Redb(_) => self.begin_read(),
        }
    }

    /// Gives up this process's hold on a PostgreSQL store (a copy that
    /// ended): the next host takes it at once.
    fn release(&self) {
        if let Backend::Pg(pg) = self {
            pg.release();
        }
    }

    /// After a write failed with `Io`: redb refuses everything until its
    /// file is opened again; a PostgreSQL pool replaces broken connections
    /// on its own.
    fn recover(&self) -> Result<(), StoreError> {
        match self {
            Backend::Redb(slot) => slot.reopen(),
            Backend::Pg(_) => Ok(()),
        }
    }
}

/// Opens the database at `location` (with `create`, creating it where it
/// may).
fn open_backend(location: &Location, create: bool, partitions: u32) -> Result<Backend, StoreError> {
    Ok(match location {
        Location::Dir(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Backend(format!("creating {}: {e}", dir.display())))?;
            let path = dir.join("weft.redb");
            let db = slot::open_file(&path)?;
            Backend::Redb(Arc::new(slot::DbSlot::new(path, db)))
        }
        Location::Postgres(url) => {
            // A copy holds the store while it runs: no host may write it.
            let host = format!("migrate-{}", std::process::id());
            let pg = kv::pg::Pg::connect(url, create, &host, Duration::from_secs(10), partitions)?;
            pg.refuse_newer_schema()?;
            // Every host connected is named (taking the lease would name
            // its holder alone).
            pg.refuse_connected_hosts()?;
            pg.acquire(cluster::Wait::No)?;
            Backend::Pg(pg)
        }
    })
}

/// Creates every table up front, so reads never meet a missing one (on
/// PostgreSQL the schema's migrations made them), and fills the indexes an
/// older store lacks.
/// The `host_state` row a write changing shared tables that hosts keep in
/// memory (deploys, search attribute types) sets to a new random value:
/// the other hosts of a store of several partitions read it, and forget
/// what they kept when it changed (`Store::shared_mark`).
const SHARED_MARK: &str = "shared_changed";

/// Marks the store's shared tables changed (see [`SHARED_MARK`]).
fn mark_shared_change(txn: &Txn) -> Result<(), StoreError> {
    let mark = ulid::Ulid::new().random() as u64;
    txn.open_table(tables::HOST_STATE)?
        .insert(SHARED_MARK, mark)
}

fn prepare(backend: &Backend) -> Result<(), StoreError> {
    struct Create<'a>(&'a Txn);
    impl tables::EachTable for Create<'_> {
        fn table<K: kv::KeyT, V: kv::ValT>(
            &mut self,
            def: kv::Def<K, V>,
        ) -> Result<(), StoreError> {
            self.0.open_table(def).map(drop)
        }
    }
    let txn = backend.begin_write()?;
    tables::each(&mut Create(&txn))?;
    let mut state = txn.open_table(tables::HOST_STATE)?;
    if state.get(TIMERS_INDEXED)?.is_none() {
        state.insert(TIMERS_INDEXED, 1)?;
        timers::index(&txn)?;
    }
    if state.get(COMPLETIONS_INDEXED)?.is_none() {
        state.insert(COMPLETIONS_INDEXED, 1)?;
        drop(state);
        history::index_completions(&txn)?;
    } else {
        drop(state);
    }
    txn.commit()
}

#[derive(Clone)]
pub struct Store {
    backend: Backend,
    committer: mpsc::UnboundedSender<Request>,
    failing: watch::Receiver<Option<String>>,
    deploys: Arc<deploys::Deploys>,
    census: Arc<census::Census>,
}

impl Store {
    /// Opens (or creates) the database file `dir/weft.redb`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_at(&Location::Dir(dir.to_owned()))
    }

    /// Opens (or creates) the store at `location`. A PostgreSQL store
    /// another host holds is waited for a little, then refused (a host
    /// that should wait as a standby joins through `cluster::Cluster`).
    pub fn open_at(location: &Location) -> Result<Self, StoreError> {
        match location {
            Location::Dir(_) => Self::from_backend(open_backend(location, true, 1)?),
            Location::Postgres(url) => {
                let host = format!("weft-{}", std::process::id());
                let c = cluster::Cluster::connect(url, &host, Duration::from_secs(10))?;
                c.acquire(cluster::Wait::Briefly(Duration::from_secs(10)))?;
                c.open_store()
            }
        }
    }

    /// Why this host could not write a PostgreSQL store now though no
    /// write failed yet (its lease not confirmed lately, given up).
    pub fn hold_problem(&self) -> Option<String> {
        match &self.backend {
            Backend::Redb(_) => None,
            Backend::Pg(pg) => pg.hold_problem(),
        }
    }

    /// The PostgreSQL store's cluster, if the store is on PostgreSQL.
    pub fn cluster_view(&self) -> Result<Option<cluster::ClusterView>, StoreError> {
        match &self.backend {
            Backend::Redb(_) => Ok(None),
            Backend::Pg(pg) => pg.view().map(Some),
        }
    }

    fn from_backend(backend: Backend) -> Result<Self, StoreError> {
        Self::from_backend_sharing(backend, Arc::default())
    }

    /// A store on `backend` (one partition of several) that keeps what
    /// deploys change in `deploys`, shared with the other partitions'.
    fn from_backend_sharing(
        backend: Backend,
        deploys: Arc<deploys::Deploys>,
    ) -> Result<Self, StoreError> {
        prepare(&backend)?;
        let (failing_tx, failing) = watch::channel(None);
        // Taken before the committer exists: nothing writes meanwhile.
        let census = Arc::new(census::Census::taken(&backend.begin_read()?)?);
        let committer =
            committer::spawn(backend.clone(), failing_tx, deploys.clone(), census.clone());
        Ok(Self {
            backend,
            committer,
            failing,
            deploys,
            census,
        })
    }

    /// The mark of the last change of shared tables that hosts keep in
    /// memory, made by any host (see [`SHARED_MARK`]).
    pub fn shared_mark(&self) -> Result<Option<u64>, StoreError> {
        self.reading(|txn| txn.open_table(tables::HOST_STATE)?.get(SHARED_MARK))
    }

    /// Forgets what deploys changed that this store (and its host's other
    /// partitions' stores) kept: another host changed it.
    pub fn forget_deploys(&self) {
        self.deploys.changed();
    }

    /// The partition this store is, on a store of several.
    pub fn partition(&self) -> Option<u32> {
        match &self.backend {
            Backend::Pg(pg) if pg.partitions() > 1 => Some(pg.part()),
            _ => None,
        }
    }

    /// This host's id among the hosts on a PostgreSQL store.
    pub fn host_id(&self) -> Option<&str> {
        match &self.backend {
            Backend::Pg(pg) => Some(pg.host()),
            Backend::Redb(_) => None,
        }
    }

    /// The partition execution `id` is in, on a store of several, when it
    /// is not this one: where the directory placed it, else its home.
    pub fn partition_elsewhere(&self, id: &str) -> Result<Option<u32>, StoreError> {
        let Backend::Pg(pg) = &self.backend else {
            return Ok(None);
        };
        if pg.partitions() <= 1 {
            return Ok(None);
        }
        let part = match pg.placed(id)? {
            Some(p) => p,
            None => kv::assign::home(id, pg.partitions()),
        };
        Ok((part != pg.part()).then_some(part))
    }

    /// Which kind of store this is, for messages: `redb` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Redb(_) => "redb",
            Backend::Pg(_) => "postgres",
        }
    }

    /// Why writes are failing (the disk's error), or `None` while they work.
    /// Changes when a write fails and when one succeeds again.
    pub fn write_failure(&self) -> watch::Receiver<Option<String>> {
        self.failing.clone()
    }

    /// Runs a read in its own read transaction. Between a failed write and
    /// the committer's reopen of the file, redb refuses reads too: such a
    /// read waits for the reopen (up to a second) and runs again.
    fn reading<T>(&self, f: impl Fn(&Txn) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.read_with(Backend::begin_read, f)
    }

    /// Runs a read of one statement, or of statements that need not see one
    /// snapshot (each sees what was committed when it runs). On PostgreSQL
    /// it is one statement on the server instead of three, and one round
    /// trip instead of two: the reads every step of every execution makes.
    fn reading_latest<T>(
        &self,
        f: impl Fn(&Txn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.read_with(Backend::begin_latest, f)
    }

    fn read_with<T>(
        &self,
        begin: fn(&Backend) -> Result<Txn, StoreError>,
        f: impl Fn(&Txn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut tries = 0;
        loop {
            let result = begin(&self.backend).and_then(|txn| {
                let out = f(&txn)?;
                txn.commit()?;
                Ok(out)
            });
            match result {
                Err(StoreError::Io(_)) if tries < 200 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                other => return other,
            }
        }
    }

    /// Commits `ops` atomically and durably (grouped with other callers').
    /// The outer error means nothing was written (the disk, the file); the
    /// inner one means the batch was refused, and nothing of it was written.
    pub async fn write(&self, ops: Vec<Op>) -> Result<Result<(), OpError>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.committer
            .send(Request { ops, reply })
            .map_err(|_| StoreError::CommitterGone)?;
        rx.await.map_err(|_| StoreError::CommitterGone)?
    }

    pub fn module_bytes(&self, hash: &ModuleHash) -> Result<Option<Vec<u8>>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(MODULES)?;
            table.get(hash.to_string().as_str())
        })
    }

    pub fn module_meta(&self, hash: &ModuleHash) -> Result<Option<ModuleMeta>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(MODULE_META)?;
            let found = table.get(hash.to_string().as_str())?;
            found.map(|raw| from_json("module meta", &raw)).transpose()
        })
    }

    pub fn modules(&self) -> Result<Vec<ModuleMeta>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(MODULE_META)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                out.push(from_json("module meta", &entry.1)?);
            }
            out.sort_by_key(|m: &ModuleMeta| m.deployed_at_ms);
            Ok(out)
        })
    }

    /// The module a workflow type runs on now (kept between deploys).
    pub fn workflow_type(&self, name: &TypeName) -> Result<Option<ModuleHash>, StoreError> {
        if let Some(module) = self.deploys.current(name.as_str()) {
            return Ok(Some(module));
        }
        let generation = self.deploys.generation();
        let found = self.reading(|txn| {
            let table = txn.open_table(WORKFLOW_TYPES)?;
            let found = table.get(name.as_str())?;
            found.map(|h| parse_hash(&h)).transpose()
        })?;
        if let Some(module) = found {
            self.deploys.keep_current(generation, name.as_str(), module);
        }
        Ok(found)
    }

    /// The retry states of the activities of the run of `id` that starts at
    /// `run_start`, by handle.
    pub fn attempts(
        &self,
        id: &ExecutionId,
        run_start: u64,
    ) -> Result<Vec<(u64, crate::model::AttemptState)>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(tables::ATTEMPTS)?;
            let key = id.as_str();
            let mut out = Vec::new();
            for entry in table.range((key, run_start, 0)..=(key, run_start, u64::MAX))? {
                let (k, v) = entry;
                out.push((k.2, from_json("attempt state", &v)?));
            }
            Ok(out)
        })
    }

    /// The closed executions whose retention ran out by `now_ms` (each
    /// type's own, or `default_ms`).
    pub fn expired(&self, now_ms: u64, default_ms: u64) -> Result<Vec<ExecutionHead>, StoreError> {
        self.reading(|txn| retention::expired(txn, now_ms, default_ms))
    }

    /// The start request ids past their window: seen before `before_ms`
    /// (or a workflow type's own time in `per_type`), and the execution
    /// each started no longer kept. `(key, seen at)`, for
    /// [`Op::ForgetStartRequests`].
    pub fn start_requests_past(
        &self,
        before_ms: u64,
        per_type: &[(String, u64)],
    ) -> Result<Vec<(String, u64)>, StoreError> {
        self.reading(|txn| retention::start_requests_past(txn, before_ms, per_type))
    }

    /// Each workflow type's retention, where one was set.
    pub fn retentions(&self) -> Result<Vec<(String, u64)>, StoreError> {
        self.reading(|txn| {
            let mut out = Vec::new();
            for entry in txn.open_table(tables::TYPE_RETENTION)?.iter()? {
                let (k, v) = entry;
                out.push((k, v));
            }
            Ok(out)
        })
    }

    /// Compacts the store file in `dir` (no host may have it open): redb
    /// reuses freed pages on its own; this also gives them back to the disk.
    pub fn compact(dir: &Path) -> Result<bool, StoreError> {
        let path = dir.join("weft.redb");
        if !path.is_file() {
            return Err(StoreError::Backend(format!(
                "{} holds no weft store (no weft.redb)",
                dir.display()
            )));
        }
        let mut db = match redb::Database::open(&path) {
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(StoreError::Backend(format!(
                    "{} is in use by a running weft host: stop that host first (compaction \
                     needs the file to itself)",
                    dir.display()
                )))
            }
            other => other?,
        };
        Ok(db.compact()?)
    }

    /// Durable timers armed now.
    pub fn timer_count(&self) -> Result<usize, StoreError> {
        self.reading(|txn| Ok(txn.open_table(TIMERS)?.len()? as usize))
    }

    /// Which module serves each activity name now.
    pub fn activity_routes(&self) -> Result<Vec<(String, ModuleHash)>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(ACTIVITIES)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (k, v) = entry;
                out.push((k, parse_hash(&v)?));
            }
            Ok(out)
        })
    }

    pub fn workflow_types(&self) -> Result<Vec<(TypeName, ModuleHash)>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(WORKFLOW_TYPES)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (k, v) = entry;
                let name =
                    k.parse()
                        .map_err(|e: crate::model::ModelError| StoreError::Corrupt {
                            what: "workflow type",
                            detail: e.to_string(),
                        })?;
                out.push((name, parse_hash(&v)?));
            }
            Ok(out)
        })
    }

    /// The last heartbeat details recorded for an activity.
    pub fn heartbeat(
        &self,
        id: &ExecutionId,
        epoch: u32,
        handle: u64,
    ) -> Result<Option<Payload>, StoreError> {
        self.reading(|txn| Ok(read_heartbeat(txn, id, epoch, handle)?.and_then(|b| b.details)))
    }

    /// The versions of a workflow type, oldest first.
    pub fn versions(&self, name: &TypeName) -> Result<Vec<WorkflowVersion>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(TYPE_VERSIONS)?;
            let mut out = Vec::new();
            for entry in table.range((name.as_str(), 0)..=(name.as_str(), u32::MAX))? {
                out.push(from_json("workflow version", &entry.1)?);
            }
            Ok(out)
        })
    }

    /// What one activity attempt needs: the component serving `name` with
    /// the doors opened for it (none if no deployed component serves it;
    /// kept between deploys), and the last heartbeat details of the
    /// activity, unless it is `fresh` (scheduled by a task this host just
    /// committed: nothing was recorded of it yet). At most one read.
    pub fn attempt_context(
        &self,
        name: &str,
        id: &ExecutionId,
        (epoch, handle): (u32, u64),
        fresh: bool,
    ) -> Result<AttemptContext, StoreError> {
        let kept = self.deploys.route(name);
        if let (Some(module), true) = (&kept, fresh) {
            return Ok(AttemptContext {
                module: module.clone(),
                ..AttemptContext::default()
            });
        }
        let generation = self.deploys.generation();
        let (module, beat) = self.reading(|txn| {
            let module = match &kept {
                Some(module) => module.clone(),
                None => route(txn, name)?,
            };
            let beat = if fresh {
                None
            } else {
                read_heartbeat(txn, id, epoch, handle)?
            };
            Ok((module, beat))
        })?;
        if kept.is_none() {
            self.deploys.keep_route(generation, name, &module);
        }
        let (heartbeat, taken, heartbeat_seq) =
            beat.map_or((None, None, 0), |b| (b.details, b.taken, b.seq));
        Ok(AttemptContext {
            module,
            heartbeat,
            heartbeat_seq,
            taken,
        })
    }

    /// The attempt a worker took of activity `handle` of `id` at `epoch`,
    /// if one did and the activity has no end yet.
    pub fn taken_task(
        &self,
        id: &ExecutionId,
        epoch: u32,
        handle: u64,
    ) -> Result<Option<TakenTask>, StoreError> {
        self.reading(|txn| Ok(read_heartbeat(txn, id, epoch, handle)?.and_then(|b| b.taken)))
    }

    /// Whether an attempt of activity `handle`, scheduled in the run that
    /// began at `run_start` at epoch `epoch`, may start: its execution is
    /// open, still in that run and epoch, and the activity has no end yet.
    /// Read by an activity after it is registered with its host, so a reset
    /// or close committed before the read is seen here and one committed
    /// after it reaches the activity as a stop. `history_after`: the run's
    /// history length right after the commit that scheduled it, which did
    /// not end it; while the history is that long, nothing (no end) was
    /// appended since, and the completion rows need not be read (on
    /// PostgreSQL the holder knows the length without asking).
    pub fn activity_may_start(
        &self,
        id: &ExecutionId,
        run_start: u64,
        epoch: u32,
        handle: u64,
        history_after: Option<u64>,
    ) -> Result<bool, StoreError> {
        self.reading_latest(|txn| {
            let table = txn.open_table(EXECUTIONS)?;
            let current = apply::read_head(&table, id.as_str())?.is_some_and(|r| {
                !r.status.is_closed() && r.run_start == run_start && r.resets == epoch
            });
            drop(table);
            if !current {
                return Ok(false);
            }
            if let Some(n) = history_after {
                if apply::history_len(txn, id.as_str())? == n {
                    return Ok(true);
                }
            }
            Ok(txn
                .open_table(tables::COMPLETED)?
                .get((id.as_str(), run_start, handle))?
                .is_none())
        })
    }

    /// Every search attribute name the host knows, with its type, by name.
    pub fn search_types(
        &self,
    ) -> Result<Vec<(String, crate::model::search::SearchType)>, StoreError> {
        self.reading(search::types)
    }

    pub fn execution(&self, id: &ExecutionId) -> Result<Option<ExecutionRecord>, StoreError> {
        self.reading_latest(|txn| {
            let table = txn.open_table(EXECUTIONS)?;
            apply::read_record(&table, id.as_str())
        })
    }

    /// The status of execution `id`, read without the rest of its record.
    pub fn status(&self, id: &ExecutionId) -> Result<Option<ExecutionStatus>, StoreError> {
        self.reading_latest(|txn| {
            let table = txn.open_table(EXECUTIONS)?;
            Ok(apply::read_head(&table, id.as_str())?.map(|h| h.status))
        })
    }

    /// How many of `ids` are running, read in one go.
    pub fn running_among<'a>(
        &self,
        ids: impl Iterator<Item = &'a ExecutionId> + Clone,
    ) -> Result<usize, StoreError> {
        self.reading_latest(|txn| {
            let keys: Vec<&str> = ids.clone().map(|id| id.as_str()).collect();
            txn.read_ahead(&[(EXECUTIONS, &keys)])?;
            let table = txn.open_table(EXECUTIONS)?;
            let mut running = 0;
            for id in ids.clone() {
                if apply::read_head(&table, id.as_str())?
                    .is_some_and(|h| h.status == ExecutionStatus::Running)
                {
                    running += 1;
                }
            }
            Ok(running)
        })
    }

    /// Runs the read `f` on every partition of the store (on redb and on a
    /// store of one partition: this one), each in a read transaction of
    /// its own: for what must see every execution (a module prune).
    fn reading_everywhere<T>(
        &self,
        f: impl Fn(&Txn) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let Backend::Pg(pg) = &self.backend else {
            return Ok(vec![self.reading(f)?]);
        };
        let mut out = Vec::new();
        for part in 0..pg.partitions() {
            if part == pg.part() {
                out.push(self.reading(&f)?);
                continue;
            }
            let other = Backend::Pg(pg.partition(part)?);
            let txn = other.begin_read()?;
            out.push(f(&txn)?);
            txn.commit()?;
        }
        Ok(out)
    }

    /// The modules executions of every partition run on, and the
    /// schedules of every partition (what a module prune must keep).
    pub fn module_users(&self) -> Result<(Vec<ModuleHash>, Schedules), StoreError> {
        let mut modules = Vec::new();
        let mut schedules = Schedules::default();
        for (m, s) in self.reading_everywhere(|txn| {
            let mut modules = Vec::new();
            txn.open_table(EXECUTIONS)?.scan(.., false, |_, raw| {
                let record: ExecutionHead = from_json("execution", raw)?;
                modules.push(record.module);
                Ok(true)
            })?;
            Ok((modules, schedules_in(txn)?))
        })? {
            modules.extend(m);
            schedules.read.extend(s.read);
            schedules.unreadable.extend(s.unreadable);
        }
        Ok((modules, schedules))
    }

    /// Executions matching the filters, newest first.
    pub fn executions(
        &self,
        status: Option<ExecutionStatus>,
        workflow_type: Option<&TypeName>,
    ) -> Result<Vec<ExecutionRecord>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(EXECUTIONS)?;
            let mut out = Vec::new();
            table.scan(.., false, |_, raw| {
                let record: ExecutionRecord = from_json("execution", raw)?;
                let wanted = status.is_none_or(|s| s == record.status)
                    && workflow_type.is_none_or(|t| t == &record.workflow_type);
                if wanted {
                    out.push(record);
                }
                Ok(true)
            })?;
            // Newest first; within one millisecond too (generated ids
            // grow with time).
            out.sort_by(|a, b| {
                b.created_at_ms
                    .cmp(&a.created_at_ms)
                    .then_with(|| b.id.cmp(&a.id))
            });
            Ok(out)
        })
    }

    /// How many executions the store holds in each status (every status
    /// named, with 0 where none): kept as the store is written (see
    /// `census.rs`), counted from the records only while that is not known.
    pub fn execution_counts(
        &self,
    ) -> Result<Vec<(crate::model::ExecutionStatus, u64)>, StoreError> {
        if let Some(counts) = self.census.by_status() {
            return Ok(counts);
        }
        let mut counts: Vec<(ExecutionStatus, u64)> =
            census::STATUSES.into_iter().map(|s| (s, 0)).collect();
        for head in self.execution_heads()? {
            if let Some((_, n)) = counts.iter_mut().find(|(s, _)| *s == head.status) {
                *n += 1;
            }
        }
        Ok(counts)
    }

    /// Up to `n` heads that `want` takes, in a listing's order (newest start
    /// first, then the greater id) after `after` (a start time and id; none:
    /// from the newest), of `status` and with an id that begins with
    /// `id_prefix` if they are given. The order is the census's (see
    /// `census.rs`), status and prefix are tested there, and only the heads
    /// passed over are read, by id: a page costs what it passes over, not
    /// what the store holds. While the census is not known, every head is
    /// read.
    pub fn execution_heads_page(
        &self,
        after: Option<&(u64, String)>,
        status: Option<ExecutionStatus>,
        id_prefix: Option<&str>,
        n: usize,
        mut want: impl FnMut(&ExecutionHead) -> bool,
    ) -> Result<Vec<ExecutionHead>, StoreError> {
        const CHUNK: usize = 256;
        let mut wanted = |h: &ExecutionHead| {
            status.is_none_or(|s| s == h.status)
                && id_prefix.is_none_or(|p| h.id.as_str().starts_with(p))
                && want(h)
        };
        let mut out = Vec::new();
        let mut from = after.cloned();
        while out.len() < n {
            let Some(walk) = self
                .census
                .newest_first(from.as_ref(), status, id_prefix, CHUNK)
            else {
                return self.execution_heads_page_read_whole(after, n, wanted);
            };
            let Some((ms, id)) = &walk.last else {
                break;
            };
            from = Some((*ms, id.to_string()));
            if walk.placed.is_empty() {
                continue;
            }
            let heads = self.reading(|txn| {
                // One round trip for the chunk on PostgreSQL.
                let ids: Vec<&str> = walk.placed.iter().map(|(_, id)| &**id).collect();
                txn.read_ahead(&[(EXECUTIONS, &ids)])?;
                let table = txn.open_table(EXECUTIONS)?;
                let mut heads = Vec::with_capacity(walk.placed.len());
                for (ms, id) in &walk.placed {
                    let head =
                        table.get_with(id, |raw| from_json::<ExecutionHead>("execution", raw))?;
                    // Gone since, or started again (a continue-as-new):
                    // listed at its new place, not here.
                    if let Some(head) = head.filter(|h| h.created_at_ms == *ms) {
                        heads.push(head);
                    }
                }
                Ok(heads)
            })?;
            out.extend(heads.into_iter().filter(|h| wanted(h)).take(n - out.len()));
        }
        Ok(out)
    }

    /// [`Store::execution_heads_page`] from every head, read whole.
    fn execution_heads_page_read_whole(
        &self,
        after: Option<&(u64, String)>,
        n: usize,
        mut wanted: impl FnMut(&ExecutionHead) -> bool,
    ) -> Result<Vec<ExecutionHead>, StoreError> {
        Ok(self
            .execution_heads()?
            .into_iter()
            .filter(|h| match after {
                Some((ms, id)) => {
                    h.created_at_ms < *ms || (h.created_at_ms == *ms && h.id.as_str() < id.as_str())
                }
                None => true,
            })
            .filter(|h| wanted(h))
            .take(n)
            .collect())
    }

    /// What a listing sorts and filters on, for every execution, newest
    /// first: decoded without the rest of the record (inputs and outputs
    /// may be megabytes), so a page of 100,000 executions stays cheap.
    pub fn execution_heads(&self) -> Result<Vec<ExecutionHead>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(EXECUTIONS)?;
            let mut out = Vec::new();
            table.scan(.., false, |_, raw| {
                out.push(from_json::<ExecutionHead>("execution", raw)?);
                Ok(true)
            })?;
            out.sort_by(|a, b| {
                b.created_at_ms
                    .cmp(&a.created_at_ms)
                    .then_with(|| b.id.cmp(&a.id))
            });
            Ok(out)
        })
    }

    /// The history of `id` from index `from` on.
    pub fn history(&self, id: &ExecutionId, from: u64) -> Result<Vec<Event>, StoreError> {
        self.history_between(id, from, u64::MAX)
    }

    /// The history of `id` before index `to` (the runs before the one that
    /// starts there).
    pub fn history_before(&self, id: &ExecutionId, to: u64) -> Result<Vec<Event>, StoreError> {
        match to.checked_sub(1) {
            Some(last) => self.history_between(id, 0, last),
            None => Ok(Vec::new()),
        }
    }

    /// The history of `id` from index `from` to `last`, both included.
    fn history_between(
        &self,
        id: &ExecutionId,
        from: u64,
        last: u64,
    ) -> Result<Vec<Event>, StoreError> {
        self.reading_latest(|txn| {
            let table = txn.open_table(HISTORY)?;
            let mut out = Vec::new();
            table.scan(
                (id.as_str(), from)..=(id.as_str(), last),
                false,
                |_, raw| {
                    out.push(from_json("event", raw)?);
                    Ok(true)
                },
            )?;
            Ok(out)
        })
    }

    /// Whether an execution ever held `id`: one does now, or one that did
    /// was deleted (its run retired).
    pub fn id_ever_used(&self, id: &ExecutionId) -> Result<bool, StoreError> {
        self.reading(|txn| {
            Ok(txn
                .open_table(tables::EXECUTIONS)?
                .get(id.as_str())?
                .is_some()
                || txn.open_table(tables::RETIRED)?.get(id.as_str())?.is_some())
        })
    }

    /// Whether a client signal with `request_id` was recorded in execution
    /// `id` (in any of its runs, and not forgotten yet).
    pub fn signal_request_seen(
        &self,
        id: &ExecutionId,
        request_id: &str,
    ) -> Result<bool, StoreError> {
        self.once_key_seen(id, &format!("@request/{request_id}"))
    }

    /// Whether an append with this once key (`Op::Append::once_key`) was
    /// recorded under `id`, in any execution started under it, and is
    /// still kept.
    pub fn once_key_seen(&self, id: &ExecutionId, key: &str) -> Result<bool, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(tables::INBOX)?;
            Ok(table.get((id.as_str(), key))?.is_some())
        })
    }

    /// Whether a signal request id is due to be forgotten by `now_ms`.
    pub fn signal_requests_due(&self, now_ms: u64) -> Result<bool, StoreError> {
        self.reading(|txn| signal_requests::any_due(txn, now_ms))
    }

    pub fn history_len(&self, id: &ExecutionId) -> Result<u64, StoreError> {
        self.reading_latest(|txn| apply::history_len(txn, id.as_str()))
    }

    /// Where the manual clock stands, as far as the store knows.
    pub fn manual_clock(&self) -> Result<StoredClock, StoreError> {
        self.reading(stored_clock)
    }

    /// The run a start request started, if its key was seen `retention_ms`
    /// before `now_ms` or later, or the execution it started is still kept:
    /// `(execution id, run)`.
    pub fn start_request(
        &self,
        request: &StartRequest,
        now_ms: u64,
    ) -> Result<Option<(String, u32)>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(tables::START_REQUESTS)?;
            let execs = txn.open_table(tables::EXECUTIONS)?;
            Ok(request
                .seen(&table, &execs, now_ms)?
                .map(|seen| (seen.execution, seen.run)))
        })
    }

    /// What `id`'s closed runs owe their children and was not applied yet.
    pub fn owed(&self, id: &ExecutionId) -> Result<Vec<(String, ParentClosePolicy)>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(tables::OWED_POLICIES)?;
            match table.get(id.as_str())? {
                Some(raw) => from_json("owed policy", &raw),
                None => Ok(Vec::new()),
            }
        })
    }

    /// The closed runs that still owe their children a parent-close policy.
    #[allow(clippy::type_complexity)]
    pub fn owed_policies(
        &self,
    ) -> Result<Vec<(ExecutionId, Vec<(String, ParentClosePolicy)>)>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(tables::OWED_POLICIES)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (k, v) = entry;
                let id = k
                    .parse()
                    .map_err(|e: crate::model::ModelError| StoreError::Corrupt {
                        what: "owed policy",
                        detail: e.to_string(),
                    })?;
                out.push((id, from_json("owed policy", &v)?));
            }
            Ok(out)
        })
    }

    pub fn schedule(
        &self,
        name: &str,
    ) -> Result<Option<crate::model::schedule::ScheduleRecord>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(tables::SCHEDULES)?;
            let found = table.get(name)?;
            found.map(|raw| from_json("schedule", &raw)).transpose()
        })
    }

    /// Every schedule, by name.
    /// The names of the schedules (their records not read).
    pub fn schedule_names(&self) -> Result<Vec<String>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(tables::SCHEDULES)?;
            let mut out = Vec::new();
            table.scan(.., false, |name, _| {
                out.push(name.to_owned());
                Ok(true)
            })?;
            Ok(out)
        })
    }

    /// Every schedule whose record this host can decode, and the names of
    /// those it cannot, each with why (one damaged record, or a newer
    /// weft's, hides no other).
    pub fn schedules(&self) -> Result<Schedules, StoreError> {
        self.reading(schedules_in)
    }

    /// The requests to other executions not delivered yet.
    pub fn outbox(&self) -> Result<Vec<ExternalRequest>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(tables::OUTBOX)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                out.push(from_json("outbox request", &entry.1)?);
            }
            Ok(out)
        })
    }

    /// The request under `key` while the outbox holds it (a delivery or a
    /// reset takes it).
    pub fn outbox_request(&self, key: &str) -> Result<Option<ExternalRequest>, StoreError> {
        self.reading(|txn| match txn.open_table(tables::OUTBOX)?.get(key)? {
            Some(row) => Ok(Some(from_json("outbox request", &row)?)),
            None => Ok(None),
        })
    }

    /// Every pending timer, earliest first.
    pub fn timers(&self) -> Result<Vec<TimerRow>, StoreError> {
        self.reading(|txn| {
            let table = txn.open_table(TIMERS)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (due_ms, id, handle) = entry.0;
                let execution =
                    id.parse()
                        .map_err(|e: crate::model::ModelError| StoreError::Corrupt {
                            what: "timer",
                            detail: e.to_string(),
                        })?;
                out.push(TimerRow {
                    due_ms,
                    execution,
                    handle,
                });
            }
            Ok(out)
        })
    }
}

fn parse_hash(s: &str) -> Result<ModuleHash, StoreError> {
    s.parse()
        .map_err(|e: crate::model::ModelError| StoreError::Corrupt {
            what: "module hash",
            detail: e.to_string(),
        })
}

#[cfg(test)]
pub(crate) mod tests;

/// The component serving activity `name` with the doors opened for it, if
/// one does.
/// The schedules `txn`'s partition holds (see [`Store::schedules`]).
fn schedules_in(txn: &Txn) -> Result<Schedules, StoreError> {
    let table = txn.open_table(tables::SCHEDULES)?;
    let mut out = Schedules::default();
    for (name, raw) in table.iter()? {
        match from_json("schedule", &raw) {
            Ok(record) => out.read.push(record),
            Err(e @ StoreError::Corrupt { .. }) => out.unreadable.push((name, e.to_string())),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn route(txn: &Txn, name: &str) -> Result<deploys::Route, StoreError> {
    let Some(h) = txn.open_table(ACTIVITIES)?.get(name)? else {
        return Ok(None);
    };
    let hash = parse_hash(&h)?;
    let found = txn
        .open_table(MODULE_META)?
        .get(hash.to_string().as_str())?;
    let doors = match found {
        Some(raw) => from_json::<ModuleMeta>("module meta", &raw)?.doors,
        None => Doors::default(),
    };
    Ok(Some((hash, doors)))
}

/// See [`Store::attempt_context`].
#[derive(Debug, Default)]
pub struct AttemptContext {
    pub module: Option<(ModuleHash, Doors)>,
    pub heartbeat: Option<Payload>,
    /// The number of the heartbeat kept (the attempt's beats go on above
    /// it: one run again after a crash began below it).
    pub heartbeat_seq: u64,
    /// The attempt a worker took from a task queue, if one did (see
    /// [`Op::TaskTaken`]).
    pub taken: Option<TakenTask>,
}

/// An attempt a worker took from a task queue: kept with the activity's
/// heartbeat until its end, so its token outlives the host that handed it
/// out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TakenTask {
    pub token: String,
    pub attempt: u32,
    /// When the worker took it (workflow time, ms): its start-to-close
    /// timeout counts from here.
    pub at_ms: u64,
    /// The queue it was taken from (not recorded before 2026-12-03): the
    /// queue its adoption waits on, whatever the route says then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
}

fn read_heartbeat(
    txn: &Txn,
    id: &ExecutionId,
    epoch: u32,
    handle: u64,
) -> Result<Option<apply::Beat>, StoreError> {
    let table = txn.open_table(tables::HEARTBEATS)?;
    let found = table.get((id.as_str(), epoch, handle))?;
    found.map(|raw| from_json("heartbeat", &raw)).transpose()
}
