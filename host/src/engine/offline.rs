//! `weft replay`: replays an exported history against a module with no store
//! and no clock. Clean when the code re-issues every recorded command and
//! either reaches the end of the history blocked, or returns the recorded
//! result; otherwise the first divergence.

use std::future::Future;
use std::pin::Pin;

use super::replay::{Command, Delivered, Divergence, ReplayError, Replayer};
use crate::model::{ActivityOptions, EventKind, Failure, HistoryExport, ModuleHash, Payload};
use crate::wasm::{
    Delivery, External, HostStop, LogLevel, RunOutcome, Runtime, Seeding, UpdateRequest,
    WorkflowHost, WorkflowInfo,
};

#[derive(Debug)]
pub enum ReplayReport {
    /// Replayed every event without a divergence.
    Clean {
        events: usize,
    },
    Diverged(Divergence),
    /// The code used the imports wrongly, trapped, or could not be loaded.
    Broken(String),
}

#[derive(Debug, thiserror::Error)]
enum OfflineStop {
    #[error("reached the end of the history")]
    End,
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

struct OfflineHost {
    replayer: Replayer,
    info: WorkflowInfo,
    /// A query for a run whose history ends blocked at a wait (terminated,
    /// not returned): it is delivered at that last wait, as a live instance
    /// would have answered it there. A run that returned is asked after it
    /// returns instead.
    query: Option<(String, Payload)>,
    /// Its answer, once the guest responded.
    answer: Option<Result<Payload, Failure>>,
    /// Deliver the query at the wait reached after this many deliveries,
    /// before delivering more (see `replay_and_query`).
    query_after: Option<u64>,
    /// With a query: how many deliveries the code had when it continued as
    /// new in a run that did not record that (terminated first).
    unrecorded_continue_as_new: Option<u64>,
}

/// The id of the one request an offline replay may deliver.
const OFFLINE_QUERY: u64 = 1;

impl WorkflowHost for OfflineHost {
    fn start_activity(
        &mut self,
        name: String,
        input: Payload,
        options: ActivityOptions,
    ) -> Result<u64, HostStop> {
        self.issue(Command::Activity {
            name,
            input,
            options,
        })
    }

    fn start_timer(&mut self, duration_ms: u64) -> Result<u64, HostStop> {
        self.issue(Command::Timer { duration_ms })
    }

    fn cancel_activity(&mut self, target: u64) -> Result<(), HostStop> {
        self.issue(Command::Cancel { target }).map(|_| ())
    }

    fn patched(&mut self, patch_id: String) -> Result<bool, HostStop> {
        if let Some(answer) = self.replayer.known_patch(&patch_id) {
            return Ok(answer);
        }
        if self.replayer.replaying() {
            return self
                .replayer
                .patched(&patch_id)
                .map_err(|d| HostStop(Box::new(OfflineStop::Replay(d.into()))));
        }
        // A fresh path: the marker is a new command, where an open history ends.
        self.issue(Command::Patch { id: patch_id }).map(|_| true)
    }

    fn upsert_search_attributes(
        &mut self,
        changes: crate::model::search::SearchChanges,
    ) -> Result<(), HostStop> {
        self.issue(Command::UpsertSearch { changes }).map(|_| ())
    }

    fn upsert_memo(&mut self, changes: crate::model::search::MemoChanges) -> Result<(), HostStop> {
        self.issue(Command::UpsertMemo { changes }).map(|_| ())
    }

    fn search_state(
        &self,
    ) -> (
        crate::model::search::SearchAttributes,
        crate::model::search::Memo,
    ) {
        let (a, m) = self.replayer.search_state();
        (a.clone(), m.clone())
    }

    fn wait(
        &mut self,
        handles: Vec<u64>,
    ) -> Pin<Box<dyn Future<Output = Result<Delivery, HostStop>> + Send + '_>> {
        Box::pin(async move {
            if self.query_after == Some(self.replayer.deliveries()) && self.answer.is_none() {
                if let Some(query) = self.take_query() {
                    return Ok(query);
                }
            }
            let next = self
                .replayer
                .next_delivery(&handles)
                .map_err(|m| HostStop(Box::new(OfflineStop::Replay(m.into()))))?;
            match next {
                Some(Delivered::Completion(c)) => return Ok(Delivery::Completed(c)),
                Some(Delivered::Update {
                    update_id,
                    name,
                    input,
                }) => {
                    return Ok(Delivery::Update(UpdateRequest {
                        update_id,
                        name,
                        input,
                    }))
                }
                Some(Delivered::Cancel { reason }) => return Ok(Delivery::Cancelled(reason)),
                None => {}
            }
            self.replayer
                .check_blocking(&handles)
                .map_err(|d| HostStop(Box::new(OfflineStop::Replay(d.into()))))?;
            if self.answer.is_none() && !self.replayer.has_recorded_end() {
                if let Some(query) = self.take_query() {
                    return Ok(query);
                }
            }
            Err(HostStop(Box::new(OfflineStop::End)))
        })
    }

    fn receive_signal(&mut self, name: String) -> Result<u64, HostStop> {
        self.issue(Command::ReceiveSignal { name })
    }

    fn send_external(
        &mut self,
        to: External,
        name: String,
        input: Payload,
        cancel: bool,
    ) -> Result<u64, HostStop> {
        let (target, child) = self
            .replayer
            .external_target(to)
            .map_err(|m| HostStop(Box::new(OfflineStop::Replay(m.into()))))?;
        self.issue(Command::External {
            target,
            child,
            name,
            input,
            cancel,
        })
    }

    fn activity_failure(&self, handle: u64) -> Option<crate::model::ActivityFailureInfo> {
        self.replayer.activity_failure(handle)
    }

    fn try_receive_signal(&mut self, name: String) -> Result<Option<Payload>, HostStop> {
        // Past the recorded commands: as any new command (see `issue`).
        if !self.replayer.replaying() {
            self.issue(Command::PollSignal { name })?;
            return Ok(None);
        }
        self.replayer
            .try_receive(&name)
            .map_err(|d| HostStop(Box::new(OfflineStop::Replay(d.into()))))
    }

    fn start_child(
        &mut self,
        workflow_type: String,
        input: Payload,
        id: Option<String>,
        policy: crate::model::ParentClosePolicy,
        reuse: crate::model::IdReusePolicy,
        cancellation: Option<crate::model::CancellationType>,
    ) -> Result<u64, HostStop> {
        // Replay takes the recorded id (see the live driver); past the
        // recorded commands the id does not matter, the replay ends there.
        let id = id
            .or_else(|| self.replayer.recorded_child_id())
            .unwrap_or_else(|| {
                format!(
                    "{}-?-{}",
                    self.info.execution_id,
                    self.replayer.next_handle()
                )
            });
        self.issue(Command::StartChild {
            workflow_type,
            id,
            input,
            policy,
            reuse,
            cancellation,
        })
    }

    fn continue_as_new(&mut self, _input: Payload) -> HostStop {
        // The run ends here, and must end where the recorded one did.
        match self.replayer.check_continue_as_new() {
            Ok(()) => {
                if self.query.is_some() && !self.replayer.has_recorded_end() {
                    self.unrecorded_continue_as_new = Some(self.replayer.deliveries());
                }
                HostStop(Box::new(OfflineStop::End))
            }
            Err(d) => HostStop(Box::new(OfflineStop::Replay(d.into()))),
        }
    }

    fn history_info(&self) -> (u64, bool) {
        (self.replayer.seen_length(), false)
    }

    fn respond(&mut self, id: u64, answer: Result<Payload, Failure>) -> Result<(), HostStop> {
        if id == OFFLINE_QUERY && self.query.is_none() && self.answer.is_none() {
            self.answer = Some(answer);
            return Ok(());
        }
        Err(HostStop(Box::new(OfflineStop::Replay(
            super::replay::Misuse::NoRequest.into(),
        ))))
    }

    fn complete_update(
        &mut self,
        update_id: String,
        outcome: Result<Payload, Failure>,
    ) -> Result<(), HostStop> {
        self.issue(Command::CompleteUpdate { update_id, outcome })
            .map(|_| ())
    }

    fn now_ms(&self) -> u64 {
        self.replayer.now_ms()
    }

    fn random(&mut self) -> u64 {
        self.replayer.random()
    }

    fn log(&mut self, _level: LogLevel, _message: &str) {}

    fn info(&self) -> WorkflowInfo {
        self.info.clone()
    }
}

impl OfflineHost {
    fn new(replayer: Replayer, info: WorkflowInfo, query: Option<(String, Payload)>) -> Self {
        Self {
            replayer,
            info,
            query,
            answer: None,
            query_after: None,
            unrecorded_continue_as_new: None,
        }
    }

    /// The query, as the delivery that asks it (once).
    fn take_query(&mut self) -> Option<Delivery> {
        let (name, input) = self.query.take()?;
        Some(Delivery::Query(crate::wasm::Request {
            id: OFFLINE_QUERY,
            name,
            input,
        }))
    }

    fn issue(&mut self, command: Command) -> Result<u64, HostStop> {
        let replaying = self.replayer.replaying();
        let handle = self
            .replayer
            .issue(command)
            .map_err(|d| HostStop(Box::new(OfflineStop::Replay(d.into()))))?;
        if !replaying {
            // Past the recorded commands: a closed history had nothing more;
            // an open one ends here. (Looked for only here: a scan of the
            // history at every command made a replay quadratic.)
            let closed = self.replayer.history().iter().any(|e| {
                matches!(
                    e.event,
                    EventKind::ExecutionCompleted { .. } | EventKind::ExecutionFailed { .. }
                )
            });
            if closed {
                let last = self.replayer.history().last().map_or(0, |e| e.index);
                return Err(HostStop(Box::new(OfflineStop::Replay(
                    Divergence {
                        event_index: last,
                        recorded: "the end of a closed history".into(),
                        issued: format!("issued a new command (handle {handle})"),
                    }
                    .into(),
                ))));
            }
            // A run terminated while its last workflow task's commands were
            // not yet committed: a query goes on to the task's wait, where
            // the live instance would have answered it. The commands start
            // nothing here.
            if self.query.is_some() {
                return Ok(handle);
            }
            return Err(HostStop(Box::new(OfflineStop::End)));
        }
        Ok(handle)
    }
}

/// What a run's code starts from: the input and the randomness (seed and
/// generator) its `execution_started` recorded, if the run starts with one.
pub(super) fn run_start(events: &[crate::model::Event]) -> Option<(Payload, Seeding)> {
    match &events.first()?.event {
        EventKind::ExecutionStarted {
            input,
            seed,
            random,
            ..
        } => Some((
            input.clone(),
            Seeding {
                seed: *seed,
                generator: random.clone(),
            },
        )),
        _ => None,
    }
}

/// Replays `history` on the module `hash` (whose bytes are `bytes`, read
/// only when the runtime has not loaded it yet: a module replayed against
/// many histories is hashed and copied once, by the caller).
pub async fn replay(
    runtime: &Runtime,
    hash: &ModuleHash,
    bytes: &[u8],
    history: HistoryExport,
) -> ReplayReport {
    if history.format != HistoryExport::FORMAT {
        return ReplayReport::Broken(format!(
            "unknown history format {:?}: export it with `weft history ID --json`",
            history.format
        ));
    }
    let Some((input, seeding)) = run_start(&history.events) else {
        return ReplayReport::Broken("the history does not start with execution_started".into());
    };
    let count = history.events.len();
    let info = WorkflowInfo {
        workflow_type: history.workflow_type.clone(),
        execution_id: history.execution_id.clone(),
        module: history.module.clone(),
        started_at_ms: history.events[0].at_ms,
    };
    let host = OfflineHost::new(Replayer::new(history.events), info, None);
    let (outcome, host) = runtime
        .run_workflow(
            hash,
            || Ok(bytes.to_vec()),
            input.0,
            seeding,
            Box::new(host),
        )
        .await;
    let any: Box<dyn std::any::Any> = host;
    let host = any
        .downcast::<OfflineHost>()
        .expect("the host handed back is the one given");
    match outcome {
        RunOutcome::Returned(result) => match host.replayer.check_finished(&result) {
            Ok(()) => ReplayReport::Clean { events: count },
            Err(d) => ReplayReport::Diverged(d),
        },
        RunOutcome::Stopped(stop) => match stop.0.downcast::<OfflineStop>() {
            Ok(s) => match *s {
                OfflineStop::End => ReplayReport::Clean { events: count },
                OfflineStop::Replay(ReplayError::Divergence(d)) => ReplayReport::Diverged(d),
                OfflineStop::Replay(ReplayError::Misuse(m)) => ReplayReport::Broken(m.to_string()),
            },
            Err(other) => ReplayReport::Broken(other.to_string()),
        },
        RunOutcome::Trapped(reason) => ReplayReport::Broken(reason),
        RunOutcome::NotLoaded(e) => {
            ReplayReport::Broken(format!("module {hash} cannot be loaded: {e}"))
        }
    }
}

/// How long a query on a closed execution may take, waiting for an instance
/// slot, replaying the history and answering included: a long history or a
/// busy host must not hold the caller (and a slot) without end.
pub const CLOSED_QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Why a query on a closed execution got no answer from the workflow.
#[derive(Debug, thiserror::Error)]
pub enum ClosedQueryError {
    /// The history does not replay, or the query was not asked.
    #[error("{0}")]
    NotAnswered(String),
    #[error(
        "replaying the history and answering took longer than {} s",
        CLOSED_QUERY_TIMEOUT.as_secs()
    )]
    TimedOut,
}

/// Replays a closed execution's history to its end on a fresh instance, then
/// asks it the query `name` (answered from its final state), within
/// [`CLOSED_QUERY_TIMEOUT`].
pub async fn query_closed(
    runtime: &Runtime,
    module: ModuleHash,
    bytes: Vec<u8>,
    history: HistoryExport,
    name: String,
    input: Payload,
) -> Result<Result<Payload, Failure>, ClosedQueryError> {
    // Dropping the run at the deadline drops its instance and its slot.
    tokio::time::timeout(
        CLOSED_QUERY_TIMEOUT,
        replay_and_query(runtime, module, bytes, history, name, input),
    )
    .await
    .map_err(|_| ClosedQueryError::TimedOut)?
    .map_err(ClosedQueryError::NotAnswered)
}

async fn replay_and_query(
    runtime: &Runtime,
    module: ModuleHash,
    bytes: Vec<u8>,
    history: HistoryExport,
    name: String,
    input: Payload,
) -> Result<Result<Payload, Failure>, String> {
    let first = ask_closed(
        runtime,
        &module,
        bytes.clone(),
        &history,
        &name,
        &input,
        None,
    )
    .await?;
    match first {
        Asked::Answered(answer) => Ok(answer),
        // The run was terminated while its last task was continuing as new:
        // the live instance answered at the wait before that task's
        // delivery, so the query goes there on a second replay.
        Asked::ContinuedAsNew(deliveries) if deliveries > 0 => {
            let again = ask_closed(
                runtime,
                &module,
                bytes,
                &history,
                &name,
                &input,
                Some(deliveries - 1),
            )
            .await?;
            match again {
                Asked::Answered(answer) => Ok(answer),
                Asked::ContinuedAsNew(_) => Err("the query was not asked".into()),
            }
        }
        Asked::ContinuedAsNew(_) => {
            Err("the run was terminated before its first wait, where a query is answered".into())
        }
    }
}

/// How one replay of a closed run for a query ended.
enum Asked {
    Answered(Result<Payload, Failure>),
    /// The code continued as new, after this many deliveries, in a run that
    /// did not record it, before the query was asked.
    ContinuedAsNew(u64),
}

async fn ask_closed(
    runtime: &Runtime,
    module: &ModuleHash,
    bytes: Vec<u8>,
    history: &HistoryExport,
    name: &str,
    input: &Payload,
    query_after: Option<u64>,
) -> Result<Asked, String> {
    let Some((run_input, seeding)) = run_start(&history.events) else {
        return Err("the history does not start with execution_started".into());
    };
    let info = WorkflowInfo {
        workflow_type: history.workflow_type.clone(),
        execution_id: history.execution_id.clone(),
        module: history.module.clone(),
        started_at_ms: history.events[0].at_ms,
    };
    let mut host = OfflineHost::new(
        Replayer::new(history.events.clone()),
        info,
        Some((name.to_owned(), input.clone())),
    );
    host.query_after = query_after;
    let (outcome, answer, host) = runtime
        .query_closed(
            module,
            move || Ok(bytes),
            run_input.0,
            seeding,
            Box::new(host),
            (name.to_owned(), input.clone()),
        )
        .await;
    // A run that ended blocked (terminated) answered at its last wait.
    let any: Box<dyn std::any::Any> = host;
    if let Ok(host) = any.downcast::<OfflineHost>() {
        if let Some(answer) = host.answer {
            return Ok(Asked::Answered(answer));
        }
        if let Some(deliveries) = host.unrecorded_continue_as_new {
            return Ok(Asked::ContinuedAsNew(deliveries));
        }
    }
    match (outcome, answer) {
        (RunOutcome::Returned(_), Some(answer)) => answer.map(Asked::Answered),
        (RunOutcome::Returned(_), None) => Err("the query was not asked".into()),
        (RunOutcome::Stopped(s), _) => Err(format!("the history does not replay: {s}")),
        (RunOutcome::Trapped(r), _) => Err(format!("the history does not replay: {r}")),
        (RunOutcome::NotLoaded(e), _) => Err(format!("the module cannot be loaded: {e}")),
    }
}
