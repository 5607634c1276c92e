//! The redb schema. Values are JSON so that a person (and `weft history`) can
//! read them and so that fields can be added without a migration.
//!
//! A table made by `Def::shared` has one copy in a store; one made by
//! `Def::new` has a copy per partition (a PostgreSQL store made with
//! several partitions; see `kv/pg.rs`): every row of such a table belongs
//! to one execution, or to one schedule, and lives in its partition.

use super::kv::Def;

/// Module bytes by sha-256 hex.
pub const MODULES: Def<&str, &[u8]> = Def::shared("modules");
/// `ModuleMeta` JSON by sha-256 hex.
pub const MODULE_META: Def<&str, &[u8]> = Def::shared("module_meta");
/// Workflow type name -> current module hash.
pub const WORKFLOW_TYPES: Def<&str, &str> = Def::shared("workflow_types");
/// (workflow type, version) -> `WorkflowVersion` JSON. Versions count from 1
/// in deploy order; a module deployed again keeps its number.
pub const TYPE_VERSIONS: Def<(&str, u32), &[u8]> = Def::shared("type_versions");
/// Last heartbeat details by (execution id, epoch, handle): JSON `{seq, details}`.
pub const HEARTBEATS: Def<(&str, u32, u64), &[u8]> = Def::new("heartbeats");
/// The retry state of activities whose attempts failed, by (execution id,
/// index of the run's `execution_started`, handle): JSON `AttemptState`.
/// Kept beside the history (a failed attempt is not an event), written in
/// the transaction that decides the retry, removed with the activity's end
/// and at the run's close.
pub const ATTEMPTS: Def<(&str, u64, u64), &[u8]> = Def::new("attempts");
/// Workflow type name -> how long its closed executions are kept (ms), when
/// it differs from the host's `--retention`.
pub const TYPE_RETENTION: Def<&str, u64> = Def::shared("type_retention");
/// Activity name -> module hash serving it.
pub const ACTIVITIES: Def<&str, &str> = Def::shared("activities");
/// `ExecutionRecord` JSON by execution id.
pub const EXECUTIONS: Def<&str, &[u8]> = Def::new("executions");
/// `Event` JSON by (execution id, index).
pub const HISTORY: Def<(&str, u64), &[u8]> = Def::new("history");
/// The host's own state by name: `manual_clock_ms`, where a manual clock
/// stands (it never goes back, across restarts too).
pub const HOST_STATE: Def<&str, u64> = Def::shared("host_state");
/// Pending timers by (due ms, execution id, handle): ordered by due time so a
/// restart loads them in firing order.
pub const TIMERS: Def<(u64, &str, u64), ()> = Def::new("timers");
/// The same rows by (execution id, due ms, handle): an execution's timers
/// without a scan of everyone's (see `timers.rs`).
pub const TIMERS_BY_EXECUTION: Def<(&str, u64, u64), ()> = Def::new("timers_by_execution");
/// The handles of the current run that have their completion, by (execution
/// id, index of the run's `execution_started`, handle): a second completion
/// of a handle is refused inside the write, whoever sends it. Rows go when
/// the run closes.
pub const COMPLETED: Def<(&str, u64, u64), ()> = Def::new("completed");
/// Executions whose closed run still owes its children their parent-close
/// policy: JSON `[[child id, policy], ...]`, written with the close and
/// removed once applied, so a crash in between is caught up at start.
pub const OWED_POLICIES: Def<&str, &[u8]> = Def::new("owed_policies");
/// Requests to other executions (signals, cancellations) a workflow made and
/// that were not delivered yet, by request key: JSON `ExternalRequest`.
/// Written with the `external_sent` event, removed in the transaction that
/// delivers the request; read at start to deliver what a crash left.
pub const OUTBOX: Def<&str, &[u8]> = Def::new("outbox");
/// The request keys each execution recorded a signal for, by (target id,
/// key): a request delivered twice records its signal once.
pub const INBOX: Def<(&str, &str), ()> = Def::new("inbox");
/// When each client signal request id (an inbox key `@request/...`) is to
/// be forgotten, by (forget at ms, target id, its inbox key): the retention
/// sweep forgets the inbox rows whose time passed (the target's retention
/// after the signal was recorded, as start request ids are kept). Inbox rows
/// without one (requests of other executions, which their sender's outbox
/// sends once; request ids recorded by releases before this table) are kept
/// as long as the target. Every write goes through `signal_requests.rs`.
pub const SIGNAL_REQUESTS: Def<(u64, &str, &str), ()> = Def::new("signal_requests");
/// The same rows by (target id, inbox key) -> forget at ms: a target's rows
/// without a scan of everyone's (a deleted execution takes its rows along,
/// so none is left to forget an inbox row of a later execution under its
/// id).
pub const SIGNAL_REQUESTS_BY_TARGET: Def<(&str, &str), u64> = Def::new("signal_requests_by_target");
/// Start requests by key (workflow type, chosen id or none, request id):
/// JSON `{execution, run, at_ms}`. A start with a request id seen within the
/// retention window answers with the run it started instead of another.
pub const START_REQUESTS: Def<&str, &[u8]> = Def::new("start_requests");
/// The run and epoch (`resets`) each deleted execution reached, by its id:
/// JSON `{run, resets}`, written in the transaction that deletes it. A
/// later execution under the id goes on from them (as a start reusing a
/// closed id does) and takes the row away: nothing derived from (id, run,
/// handle) or (id, epoch) repeats, so no idempotency key, child id or
/// signal key of the deleted one, and no end of its abandoned children,
/// reaches the new one. Rows of ids never started again stay (a few dozen
/// bytes each).
pub const RETIRED: Def<&str, &[u8]> = Def::new("retired");
/// Schedules by name: JSON `ScheduleRecord` (spec, action, policies and
/// where it stands: its cursor, waiting and running actions).
pub const SCHEDULES: Def<&str, &[u8]> = Def::new("schedules");
/// Execution id -> the partition its history is in, on a store of several
/// partitions (none on a store of one): written with the id's first run by
/// the partition that made it (a top-level start in its id's partition, a
/// child in its parent's), so that every request for the id finds it.
/// Never removed: a deleted id's retired row is in that partition, and the
/// next execution under the id goes on from it there.
pub const DIRECTORY: Def<&str, u64> = Def::shared("directory");
/// Search attribute name -> its type (`keyword`, `int`, ...): one type per
/// name on a host, set by the first value recorded.
pub const SEARCH_TYPES: Def<&str, &str> = Def::shared("search_types");

/// Something done to every table (creating them, copying them).
pub(super) trait EachTable {
    fn table<K: super::kv::KeyT, V: super::kv::ValT>(
        &mut self,
        def: Def<K, V>,
    ) -> Result<(), super::StoreError>;
}

/// Calls `f` with every table of the store.
pub(super) fn each(f: &mut impl EachTable) -> Result<(), super::StoreError> {
    f.table(MODULES)?;
    f.table(MODULE_META)?;
    f.table(WORKFLOW_TYPES)?;
    f.table(TYPE_VERSIONS)?;
    f.table(HEARTBEATS)?;
    f.table(ATTEMPTS)?;
    f.table(TYPE_RETENTION)?;
    f.table(ACTIVITIES)?;
    f.table(EXECUTIONS)?;
    f.table(HISTORY)?;
    f.table(HOST_STATE)?;
    f.table(TIMERS)?;
    f.table(TIMERS_BY_EXECUTION)?;
    f.table(COMPLETED)?;
    f.table(OWED_POLICIES)?;
    f.table(OUTBOX)?;
    f.table(INBOX)?;
    f.table(SIGNAL_REQUESTS)?;
    f.table(SIGNAL_REQUESTS_BY_TARGET)?;
    f.table(START_REQUESTS)?;
    f.table(SCHEDULES)?;
    f.table(SEARCH_TYPES)?;
    f.table(RETIRED)?;
    f.table(DIRECTORY)?;
    Ok(())
}
