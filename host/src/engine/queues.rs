//! Task queues for external workers: an activity scheduled with a task queue
//! waits here until a worker long-polls it, then runs under a task token
//! until the worker completes, fails or stops heartbeating it. The queues
//! are in memory; a task a worker takes is recorded in the store before the
//! worker gets it (`Op::TaskTaken`), so after a restart or a handover the
//! host that runs the execution next adopts the task under the same token
//! instead of queueing it again. A worker answering with a token of an
//! attempt that ended is told it is stale and changes nothing.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, watch, OwnedSemaphorePermit, Semaphore};

use super::unpolled::{PollStop, Unpolled};
use crate::model::{ExecutionId, Failure, Payload};

/// What a worker receives from a poll.
#[derive(Debug, Clone)]
pub struct WorkerTask {
    pub token: String,
    pub execution_id: String,
    pub activity_handle: u64,
    pub name: String,
    pub input: Payload,
    pub attempt: u32,
    pub idempotency_key: String,
    pub heartbeat_details: Option<Payload>,
    pub heartbeat_timeout_ms: Option<u64>,
    pub start_to_close_timeout_ms: u64,
}

/// Where an activity's task stands, as `describe` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPlace {
    /// The queue it waits on (or was taken from).
    pub queue: String,
    /// A worker has it (its answer is awaited).
    pub taken: bool,
}

/// A task's lifecycle on the host side, held by the activity runner. The
/// queue forgets the task when this is dropped: an attempt that ends on the
/// host side (a timeout, a cancellation that drops it) leaves nothing
/// behind, and a worker answering later is told its token is stale.
pub(super) struct Dispatch<'a> {
    /// Fires when a worker takes the task, with a permit to hold until the
    /// task's end is written (a host handing its store over waits for it).
    pub taken: oneshot::Receiver<OwnedSemaphorePermit>,
    /// The worker's answer.
    pub done: oneshot::Receiver<Answer>,
    pub forget: Forget<'a>,
}

/// Forgets a task when dropped (see [`Dispatch`]).
pub(super) struct Forget<'a> {
    queues: &'a TaskQueues,
    token: String,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.queues.forget(&self.token);
    }
}

/// A worker's answer, and who waits for its record: the worker is told
/// only once the attempt's end is written (or the host gave up on it), so a
/// host that dies between an answer and its record leaves the worker
/// without a reply, and the worker sends it again to the next one.
pub(super) struct Answer {
    pub result: Result<Payload, Failure>,
    /// Dropped once the end is written (see [`Held`]).
    pub recorded: oneshot::Sender<()>,
    /// Set when the attempt takes the answer: one dropped untaken (its
    /// attempt ended another way first: a timeout, a cancellation, its
    /// run's end) was never recorded.
    pub taken: Arc<std::sync::atomic::AtomicBool>,
}

/// What a worker's answer handed to its attempt waits on.
pub(super) struct Receipt {
    /// Resolves once the attempt's end is written or given up.
    pub written: oneshot::Receiver<()>,
    /// Whether the attempt took the answer (see [`Answer::taken`]).
    pub taken: Arc<std::sync::atomic::AtomicBool>,
}

/// What an attempt on a worker holds until its end is written: a permit
/// of the queues' (a host handing its store over waits for it) and the
/// worker's answer waiting for its record.
#[derive(Default)]
pub(super) struct Held {
    pub permit: Option<OwnedSemaphorePermit>,
    pub recorded: Option<oneshot::Sender<()>>,
}

struct InFlight {
    queue: String,
    /// The execution and the activity handle it runs for.
    execution: String,
    handle: u64,
    /// Handed to a worker (or adopted from one).
    handed: bool,
    /// Its attempt stopped before a worker had it: never handed out.
    stopped: bool,
    done: Option<oneshot::Sender<Answer>>,
    heartbeat: Arc<dyn Fn(Option<Payload>) -> bool + Send + Sync>,
}

struct Waiting {
    task: WorkerTask,
    key: TaskKey,
    taken: oneshot::Sender<OwnedSemaphorePermit>,
}

/// The activity attempt a task runs, as the store knows it.
#[derive(Debug, Clone)]
pub(super) struct TaskKey {
    pub execution: ExecutionId,
    pub run_start: u64,
    pub epoch: u32,
    pub handle: u64,
}

/// A task a poll took from its queue and has not handed to its worker yet:
/// the host records it first, then [`hand_over`](Claimed::hand_over)s it,
/// or [`discard`](Claimed::discard)s one whose attempt is no longer
/// current. Dropped otherwise (the record failed, or the poll was dropped
/// meanwhile: its client went away), it goes back to the head of its queue.
/// Holds its permit (see [`TaskQueues::taken_ended`]) from the moment it
/// left the queue.
pub(super) struct Claimed<'a> {
    pub task: WorkerTask,
    pub key: TaskKey,
    queues: &'a TaskQueues,
    parts: Option<ClaimedParts>,
}

struct ClaimedParts {
    queue: String,
    taken: oneshot::Sender<OwnedSemaphorePermit>,
    permit: OwnedSemaphorePermit,
}

impl Claimed<'_> {
    /// Hands the task, now recorded, to its worker: its attempt learns it
    /// was taken. `None` when the attempt ended meanwhile.
    pub(super) fn hand_over(mut self) -> Option<WorkerTask> {
        let parts = self.parts.take()?;
        // Under the lock its attempt's stop takes (`stop_unless_taken`):
        // one stopped before this is not handed out.
        let mut state = self.queues.lock();
        match state.in_flight.get_mut(&self.task.token) {
            Some(f) if !f.stopped => f.handed = true,
            _ => return None,
        }
        parts.taken.send(parts.permit).ok()?;
        Some(self.task.clone())
    }

    /// Drops a task whose attempt is no longer current (its run closed,
    /// moved on or was reset): nobody gets it, and its attempt is stopped.
    pub(super) fn discard(mut self) {
        self.parts = None;
    }
}

impl Drop for Claimed<'_> {
    fn drop(&mut self) {
        let Some(ClaimedParts {
            queue,
            taken,
            permit,
        }) = self.parts.take()
        else {
            return;
        };
        drop(permit);
        let waiting = Waiting {
            task: self.task.clone(),
            key: self.key.clone(),
            taken,
        };
        // Not announced to other hosts: a poll that could not record it
        // (the store refusing) would be asked again at once, and again. A
        // poll here waiting, or the next to end its wait, finds it.
        self.queues
            .lock()
            .queues
            .entry(queue)
            .or_default()
            .push_front(waiting);
        self.queues.version.send_modify(|v| *v += 1);
    }
}

impl State {
    /// How many of `queue`'s tasks no poll here waits for (none once the
    /// queues are closed: the next holder queues them).
    fn unpolled(&self, queue: &str) -> u64 {
        if self.closed {
            return 0;
        }
        let backlog = self.queues.get(queue).map_or(0, VecDeque::len);
        let waiting = self.pollers.get(queue).map_or(0, |p| p.waiting);
        backlog.saturating_sub(waiting) as u64
    }
}

#[derive(Default)]
struct State {
    /// Set when the host hands its store over: no task is handed out.
    closed: bool,
    queues: HashMap<String, VecDeque<Waiting>>,
    in_flight: HashMap<String, InFlight>,
    /// Who polled each queue, and when last.
    pollers: HashMap<String, Pollers>,
}

#[derive(Default, Clone, Copy)]
struct Pollers {
    /// Polls waiting now.
    waiting: usize,
    /// When a worker last polled (ms since the Unix epoch, system time).
    last_ms: u64,
}

/// A queue as `GET /v1/task-queues` shows it.
#[derive(Debug, Clone)]
pub struct QueueStats {
    pub name: String,
    /// Tasks waiting for a worker.
    pub backlog: usize,
    /// Tasks a worker took and has not answered.
    pub running: usize,
    /// Workers polling it now (long polls waiting for a task).
    pub pollers: usize,
    /// When a worker last polled it (system time), if one ever did.
    pub last_poll_ms: Option<u64>,
}

fn system_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Counts a poll as waiting until dropped.
struct Polling<'a> {
    queues: &'a TaskQueues,
    queue: String,
    /// It waited (a poll that waits for nothing, another host's ask,
    /// leaves nothing to announce: see `drop`).
    waits: bool,
}

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        let mut state = self.queues.lock();
        if let Some(p) = state.pollers.get_mut(&self.queue) {
            p.waiting = p.waiting.saturating_sub(1);
            p.last_ms = system_ms();
        }
        // The last poll waiting here leaves tasks queued (it took one of
        // another engine's, or its wait ended as a task came): the other
        // hosts are told of them.
        let unpolled = if self.waits {
            state.unpolled(&self.queue)
        } else {
            0
        };
        drop(state);
        if unpolled > 0 {
            self.queues.unpolled.tell(&self.queue, unpolled);
        }
    }
}

/// Why a worker's answer was refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown or stale task token {0:?}: its attempt ended (answered already, timed out or \
     cancelled, or its run ended or was reset); nothing was changed"
)]
pub struct StaleToken(pub String);

pub struct TaskQueues {
    state: Mutex<State>,
    /// One permit per task a worker took whose end is not written yet.
    taken: Arc<Semaphore>,
    /// Bumped on every arrival and adoption, so a poller (or an answer
    /// waiting for its task's adoption) does not miss one between checking
    /// and waiting.
    version: watch::Sender<u64>,
    /// Told of tasks queued that no poll here waits for (a host of
    /// several tells the others).
    unpolled: Unpolled,
}

/// More tasks than workers could hold at once.
const TAKEN_PERMITS: u32 = 1 << 24;

impl Default for TaskQueues {
    fn default() -> Self {
        Self::new(Unpolled::default())
    }
}

impl TaskQueues {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues that tell `unpolled` of the tasks no poll here waits for.
    pub(super) fn new(unpolled: Unpolled) -> Self {
        Self {
            state: Mutex::default(),
            taken: Arc::new(Semaphore::new(TAKEN_PERMITS as usize)),
            version: watch::Sender::default(),
            unpolled,
        }
    }

    /// Queues a task; `heartbeat` records the worker's heartbeats.
    pub(super) fn push(
        &self,
        queue: &str,
        task: WorkerTask,
        key: TaskKey,
        heartbeat: Arc<dyn Fn(Option<Payload>) -> bool + Send + Sync>,
    ) -> Dispatch<'_> {
        let (taken_tx, taken) = oneshot::channel();
        let token = task.token.clone();
        let of = (task.execution_id.as_str(), task.activity_handle);
        let done = self.track(queue, &token, of, heartbeat, false);
        let mut state = self.lock();
        state
            .queues
            .entry(queue.to_owned())
            .or_default()
            .push_back(Waiting {
                task,
                key,
                taken: taken_tx,
            });
        // More tasks than polls waiting here: this one is told of.
        let unpolled = state.unpolled(queue) > 0;
        drop(state);
        let dispatch = self.dispatch(taken, done, token);
        if unpolled {
            self.unpolled.tell(queue, 1);
        }
        dispatch
    }

    /// Takes back a task a worker took under `token` before this host ran
    /// its execution (the host that handed it out crashed or handed its
    /// store over): taken at once, answered under the same token.
    pub(super) fn adopt(
        &self,
        queue: &str,
        token: &str,
        key: &TaskKey,
        heartbeat: Arc<dyn Fn(Option<Payload>) -> bool + Send + Sync>,
    ) -> Dispatch<'_> {
        let (taken_tx, taken) = oneshot::channel();
        let execution = key.execution.to_string();
        let done = self.track(queue, token, (&execution, key.handle), heartbeat, true);
        if let Ok(permit) = self.taken.clone().try_acquire_owned() {
            let _ = taken_tx.send(permit);
        }
        self.dispatch(taken, done, token.to_owned())
    }

    /// The dispatch of a task just queued or adopted; pollers (and answers
    /// waiting for an adoption) look again.
    fn dispatch(
        &self,
        taken: oneshot::Receiver<OwnedSemaphorePermit>,
        done: oneshot::Receiver<Answer>,
        token: String,
    ) -> Dispatch<'_> {
        self.version.send_modify(|v| *v += 1);
        Dispatch {
            taken,
            done,
            forget: Forget {
                queues: self,
                token,
            },
        }
    }

    /// Knows `token` until its answer or [`forget`](Self::forget);
    /// `handed`: a worker has it already (adopted).
    fn track(
        &self,
        queue: &str,
        token: &str,
        (execution, handle): (&str, u64),
        heartbeat: Arc<dyn Fn(Option<Payload>) -> bool + Send + Sync>,
        handed: bool,
    ) -> oneshot::Receiver<Answer> {
        let (done_tx, done) = oneshot::channel();
        self.lock().in_flight.insert(
            token.to_owned(),
            InFlight {
                queue: queue.to_owned(),
                execution: execution.to_owned(),
                handle,
                handed,
                stopped: false,
                done: Some(done_tx),
                heartbeat,
            },
        );
        done
    }

    /// Where each activity of `execution` (by handle) stands with the
    /// workers, for those that wait on a queue here.
    pub(super) fn places(&self, execution: &str) -> HashMap<u64, TaskPlace> {
        let state = self.lock();
        state
            .in_flight
            .values()
            .filter(|f| f.execution == execution && !f.stopped)
            .map(|f| {
                let place = TaskPlace {
                    queue: f.queue.clone(),
                    taken: f.handed,
                };
                (f.handle, place)
            })
            .collect()
    }

    /// Whether a task runs under `token` here.
    pub(super) fn knows(&self, token: &str) -> bool {
        self.lock().in_flight.contains_key(token)
    }

    /// Waits up to `wait` for a task under `token` (one this host is about
    /// to adopt); whether there is one.
    pub(super) async fn wait_known(&self, token: &str, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        let mut version = self.version.subscribe();
        loop {
            version.borrow_and_update();
            if self.knows(token) {
                return true;
            }
            if tokio::time::timeout_at(deadline, version.changed())
                .await
                .is_err()
            {
                return false;
            }
        }
    }

    /// Tasks the queues know of, queued or taken (for tests).
    #[cfg(test)]
    fn known(&self) -> usize {
        let state = self.lock();
        state.in_flight.len() + state.queues.values().map(VecDeque::len).sum::<usize>()
    }

    /// Whether a worker has the task under `token`; if not, it never gets
    /// it (its attempt stopped: a cancel, a deadline), even one whose poll
    /// recorded it as taken and is about to hand it over.
    pub(super) fn stop_unless_taken(&self, token: &str) -> bool {
        let mut state = self.lock();
        match state.in_flight.get_mut(token) {
            Some(f) if f.handed => return true,
            Some(f) => f.stopped = true,
            None => {}
        }
        for q in state.queues.values_mut() {
            q.retain(|w| w.task.token != token);
        }
        false
    }

    /// Forgets a task (its attempt ended on the host side: timeout, cancel).
    fn forget(&self, token: &str) {
        let mut state = self.lock();
        state.in_flight.remove(token);
        for q in state.queues.values_mut() {
            q.retain(|w| w.task.token != token);
        }
    }

    /// Hands out no more tasks (the host hands its store over; the next
    /// holder queues them again): polls wait out their time and get none.
    pub(super) fn close(&self) {
        self.lock().closed = true;
    }

    /// Waits until every task a worker took has its end written (those
    /// taken before [`close`](Self::close): none is taken after it).
    pub(super) async fn taken_ended(&self) {
        let _all = self.taken.acquire_many(TAKEN_PERMITS).await;
    }

    /// Tasks workers took whose end is not written yet.
    pub(super) fn taken_now(&self) -> usize {
        TAKEN_PERMITS as usize - self.taken.available_permits()
    }

    /// A task of `queue`, taken; `Err` when another engine of the same poll
    /// (`poll`: its stop and this claim's name) may take one instead.
    fn take(&self, queue: &str, poll: Option<(&PollStop, u64)>) -> Result<Option<Claimed<'_>>, ()> {
        let mut state = self.lock();
        // Checked under the lock `close` takes: a task taken here holds its
        // permit before the drain counts them.
        if state.closed {
            return Ok(None);
        }
        let Some(q) = state.queues.get_mut(queue).filter(|q| !q.is_empty()) else {
            return Ok(None);
        };
        if poll.is_some_and(|(stop, id)| !stop.may_take(id)) {
            return Err(());
        }
        Ok(self.take_from(queue, q))
    }

    /// The first task of `q` (queue `queue`) whose attempt is current.
    fn take_from(&self, queue: &str, q: &mut VecDeque<Waiting>) -> Option<Claimed<'_>> {
        loop {
            let permit = self.taken.clone().try_acquire_owned().ok()?;
            let w = q.pop_front()?;
            // Its attempt ended meanwhile (its dispatch is dropped).
            if w.taken.is_closed() {
                continue;
            }
            return Some(Claimed {
                task: w.task,
                key: w.key,
                queues: self,
                parts: Some(ClaimedParts {
                    queue: queue.to_owned(),
                    taken: w.taken,
                    permit,
                }),
            });
        }
    }

    /// Waits up to `wait` for a task on `queue`, or until `poll`'s stop,
    /// or until another engine of the same poll may take one (`poll`: the
    /// poll's stop and this engine's name in it, see
    /// [`PollStop::may_take`]).
    pub(super) async fn claim(
        &self,
        queue: &str,
        wait: Duration,
        poll: Option<(&PollStop, u64)>,
    ) -> Option<Claimed<'_>> {
        let deadline = tokio::time::Instant::now() + wait;
        {
            let mut state = self.lock();
            let p = state.pollers.entry(queue.to_owned()).or_default();
            p.waiting += 1;
            p.last_ms = system_ms();
        }
        let _polling = Polling {
            queues: self,
            queue: queue.to_owned(),
            waits: !wait.is_zero(),
        };
        let stopped = async {
            match poll {
                Some((stop, _)) => stop.stopped().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(stopped);
        let mut version = self.version.subscribe();
        loop {
            version.borrow_and_update();
            match self.take(queue, poll) {
                Ok(Some(t)) => return Some(t),
                Ok(None) => {}
                // Another partition's engine takes this poll's task.
                Err(()) => return None,
            }
            tokio::select! {
                changed = tokio::time::timeout_at(deadline, version.changed()) => {
                    if changed.is_err() {
                        return None;
                    }
                }
                () = &mut stopped => return None,
            }
        }
    }

    /// Every queue that has tasks or was polled, by name.
    pub fn stats(&self) -> Vec<QueueStats> {
        let state = self.lock();
        let mut names: Vec<&String> = state.queues.keys().chain(state.pollers.keys()).collect();
        for f in state.in_flight.values() {
            names.push(&f.queue);
        }
        names.sort();
        names.dedup();
        names
            .into_iter()
            .map(|name| {
                let backlog = state.queues.get(name).map_or(0, VecDeque::len);
                let queued: usize = backlog;
                let known = state
                    .in_flight
                    .values()
                    .filter(|f| &f.queue == name)
                    .count();
                let pollers = state.pollers.get(name).copied().unwrap_or_default();
                QueueStats {
                    name: name.clone(),
                    backlog,
                    running: known.saturating_sub(queued),
                    pollers: pollers.waiting,
                    last_poll_ms: (pollers.last_ms > 0).then_some(pollers.last_ms),
                }
            })
            .collect()
    }

    /// A worker's heartbeat: true when the activity was cancelled.
    pub fn heartbeat(&self, token: &str, details: Option<Payload>) -> Result<bool, StaleToken> {
        let beat = self
            .lock()
            .in_flight
            .get(token)
            .map(|f| f.heartbeat.clone())
            .ok_or_else(|| StaleToken(token.to_owned()))?;
        Ok(beat(details))
    }

    /// A worker's answer: the output, or the failure. Resolves once the
    /// attempt's end is written.
    pub fn finish(
        &self,
        token: &str,
        result: Result<Payload, Failure>,
    ) -> Result<Receipt, StaleToken> {
        let done = self
            .lock()
            .in_flight
            .remove(token)
            .and_then(|mut f| f.done.take())
            .ok_or_else(|| StaleToken(token.to_owned()))?;
        let (recorded, written) = oneshot::channel();
        let taken = Arc::default();
        done.send(Answer {
            result,
            recorded,
            taken: Arc::clone(&taken),
        })
        .map_err(|_| StaleToken(token.to_owned()))?;
        Ok(Receipt { written, taken })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(token: &str) -> WorkerTask {
        WorkerTask {
            token: token.into(),
            execution_id: "e".into(),
            activity_handle: 1,
            name: "a".into(),
            input: Payload::default(),
            attempt: 1,
            idempotency_key: "e/1".into(),
            heartbeat_details: None,
            heartbeat_timeout_ms: None,
            start_to_close_timeout_ms: 1_000,
        }
    }

    fn key() -> TaskKey {
        TaskKey {
            execution: "e".parse().unwrap(),
            run_start: 0,
            epoch: 0,
            handle: 1,
        }
    }

    /// Issue 14, defect 12: an attempt dropped by a cancel or a
    /// schedule-to-close timeout left its task queued and in flight
    /// forever. Dropping the dispatch forgets it, queued or taken.
    #[tokio::test]
    async fn a_dropped_dispatch_leaves_nothing_behind() {
        let queues = TaskQueues::default();
        let beat: Arc<dyn Fn(Option<Payload>) -> bool + Send + Sync> = Arc::new(|_| false);
        let queued = queues.push("q", task("t1"), key(), beat.clone());
        assert_eq!(queues.known(), 2);
        drop(queued);
        assert_eq!(queues.known(), 0);
        assert!(queues.claim("q", Duration::ZERO, None).await.is_none());

        let taken = queues.push("q", task("t2"), key(), beat.clone());
        let claimed = queues.claim("q", Duration::ZERO, None).await.expect("t2");
        assert!(claimed.hand_over().is_some());
        drop(taken);
        assert_eq!(queues.known(), 0);
        assert!(queues.heartbeat("t2", None).is_err(), "the token is stale");
        assert!(queues.finish("t2", Ok(Payload::default())).is_err());

        // A claim whose attempt ended before the hand-over hands nothing.
        let ended = queues.push("q", task("t3"), key(), beat.clone());
        let claimed = queues.claim("q", Duration::ZERO, None).await.expect("t3");
        drop(ended);
        assert!(claimed.hand_over().is_none());

        // A claim dropped before its hand-over (its record failed, its poll
        // went away) goes back to the head of the queue.
        let _second = queues.push("q", task("t5"), key(), beat.clone());
        let _first = {
            let d = queues.push("q", task("t4"), key(), beat.clone());
            let claimed = queues.claim("q", Duration::ZERO, None).await.expect("t5");
            assert_eq!(claimed.task.token, "t5");
            drop(claimed);
            d
        };
        let again = queues
            .claim("q", Duration::ZERO, None)
            .await
            .expect("t5 again");
        assert_eq!(again.task.token, "t5");
        again.discard();
        let next = queues.claim("q", Duration::ZERO, None).await.expect("t4");
        assert_eq!(next.task.token, "t4");
    }

    /// Two engines' queues in one poll: the first to find a task takes it,
    /// and the other takes none of its own (its task stays queued).
    #[tokio::test]
    async fn one_poll_takes_one_task_of_several_queues() {
        let beat: Arc<dyn Fn(Option<Payload>) -> bool + Send + Sync> = Arc::new(|_| false);
        let (first, second) = (TaskQueues::default(), TaskQueues::default());
        let _a = first.push("q", task("a"), key(), beat.clone());
        let _b = second.push("q", task("b"), key(), beat.clone());
        let stop = PollStop::default();
        let (one, two) = (
            crate::engine::unpolled::claim_id(),
            crate::engine::unpolled::claim_id(),
        );
        let got = first.claim("q", Duration::ZERO, Some((&stop, one))).await;
        let got = got.expect("a task");
        assert_eq!(got.task.token, "a");
        let lost = second.claim("q", Duration::ZERO, Some((&stop, two))).await;
        assert!(lost.is_none(), "a second task taken for one poll");
        assert_eq!(second.stats()[0].backlog, 1, "b stays queued");
        // The engine that took may take again (its task was no longer current).
        got.discard();
        let _c = first.push("q", task("c"), key(), beat.clone());
        let again = first.claim("q", Duration::ZERO, Some((&stop, one))).await;
        assert_eq!(again.expect("c").task.token, "c");
        let again = second.claim("q", Duration::ZERO, None).await;
        assert_eq!(again.expect("b").task.token, "b");
    }
}
