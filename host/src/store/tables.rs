//! The redb schema. Values are JSON so that a person (and `weft history`) can
//! read them and so that fields can be added without a migration.

use redb::TableDefinition;

/// Module bytes by sha-256 hex.
pub const MODULES: TableDefinition<&str, &[u8]> = TableDefinition::new("modules");
/// `ModuleMeta` JSON by sha-256 hex.
pub const MODULE_META: TableDefinition<&str, &[u8]> = TableDefinition::new("module_meta");
/// Workflow type name -> current module hash.
pub const WORKFLOW_TYPES: TableDefinition<&str, &str> = TableDefinition::new("workflow_types");
/// (workflow type, version) -> `WorkflowVersion` JSON. Versions count from 1
/// in deploy order; a module deployed again keeps its number.
pub const TYPE_VERSIONS: TableDefinition<(&str, u32), &[u8]> =
    TableDefinition::new("type_versions");
/// Last heartbeat details by (execution id, epoch, handle): JSON `{seq, details}`.
pub const HEARTBEATS: TableDefinition<(&str, u32, u64), &[u8]> = TableDefinition::new("heartbeats");
/// The retry state of activities whose attempts failed, by (execution id,
/// index of the run's `execution_started`, handle): JSON `AttemptState`.
/// Kept beside the history (a failed attempt is not an event), written in
/// the transaction that decides the retry, removed with the activity's end
/// and at the run's close.
pub const ATTEMPTS: TableDefinition<(&str, u64, u64), &[u8]> = TableDefinition::new("attempts");
/// Workflow type name -> how long its closed executions are kept (ms), when
/// it differs from the host's `--retention`.
pub const TYPE_RETENTION: TableDefinition<&str, u64> = TableDefinition::new("type_retention");
/// Activity name -> module hash serving it.
pub const ACTIVITIES: TableDefinition<&str, &str> = TableDefinition::new("activities");
/// `ExecutionRecord` JSON by execution id.
pub const EXECUTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("executions");
/// `Event` JSON by (execution id, index).
pub const HISTORY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("history");
/// The host's own state by name: `manual_clock_ms`, where a manual clock
/// stands (it never goes back, across restarts too).
pub const HOST_STATE: TableDefinition<&str, u64> = TableDefinition::new("host_state");
/// Pending timers by (due ms, execution id, handle): ordered by due time so a
/// restart loads them in firing order.
pub const TIMERS: TableDefinition<(u64, &str, u64), ()> = TableDefinition::new("timers");
/// The same rows by (execution id, due ms, handle): an execution's timers
/// without a scan of everyone's (see `timers.rs`).
pub const TIMERS_BY_EXECUTION: TableDefinition<(&str, u64, u64), ()> =
    TableDefinition::new("timers_by_execution");
/// The handles of the current run that have their completion, by (execution
/// id, index of the run's `execution_started`, handle): a second completion
/// of a handle is refused inside the write, whoever sends it. Rows go when
/// the run closes.
pub const COMPLETED: TableDefinition<(&str, u64, u64), ()> = TableDefinition::new("completed");
/// Executions whose closed run still owes its children their parent-close
/// policy: JSON `[[child id, policy], ...]`, written with the close and
/// removed once applied, so a crash in between is caught up at start.
pub const OWED_POLICIES: TableDefinition<&str, &[u8]> = TableDefinition::new("owed_policies");
/// Requests to other executions (signals, cancellations) a workflow made and
/// that were not delivered yet, by request key: JSON `ExternalRequest`.
/// Written with the `external_sent` event, removed in the transaction that
/// delivers the request; read at start to deliver what a crash left.
pub const OUTBOX: TableDefinition<&str, &[u8]> = TableDefinition::new("outbox");
/// The request keys each execution recorded a signal for, by (target id,
/// key): a request delivered twice records its signal once.
pub const INBOX: TableDefinition<(&str, &str), ()> = TableDefinition::new("inbox");
/// Start requests by key (workflow type, chosen id or none, request id):
/// JSON `{execution, run, at_ms}`. A start with a request id seen within the
/// retention window answers with the run it started instead of another.
pub const START_REQUESTS: TableDefinition<&str, &[u8]> = TableDefinition::new("start_requests");
/// Schedules by name: JSON `ScheduleRecord` (spec, action, policies and
/// where it stands: its cursor, waiting and running actions).
pub const SCHEDULES: TableDefinition<&str, &[u8]> = TableDefinition::new("schedules");
