//! Options of an activity call.

use std::time::Duration;

use super::bindings::weft::workflow::runtime;

/// The host's default retry policy is Temporal's: 1 s, doubling, capped at
/// 100 s, unlimited attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub initial_interval: Duration,
    pub backoff_coefficient: f64,
    pub maximum_interval: Duration,
    /// 0 means no limit.
    pub maximum_attempts: u32,
    /// Failure kinds that end the activity at once.
    pub non_retryable_kinds: Vec<String>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_interval: Duration::from_secs(1),
            backoff_coefficient: 2.0,
            maximum_interval: Duration::from_secs(100),
            maximum_attempts: 0,
            non_retryable_kinds: Vec::new(),
        }
    }
}

impl RetryPolicy {
    /// At most `n` attempts, otherwise the defaults.
    pub fn attempts(n: u32) -> Self {
        RetryPolicy {
            maximum_attempts: n,
            ..RetryPolicy::default()
        }
    }

    pub fn initial_interval(mut self, d: Duration) -> Self {
        self.initial_interval = d;
        self
    }

    pub fn non_retryable(mut self, kind: impl Into<String>) -> Self {
        self.non_retryable_kinds.push(kind.into());
        self
    }
}

/// Options for one activity call; `Default` takes the host's defaults
/// (retry forever with backoff, 5 minutes per attempt, no other limit, run by
/// the host's activity components).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActivityOptions {
    pub retry: Option<RetryPolicy>,
    /// Limit on one attempt; a timed-out attempt is retried.
    pub start_to_close_timeout: Option<Duration>,
    /// Limit on the whole activity, all attempts and backoffs; ends it.
    pub schedule_to_close_timeout: Option<Duration>,
    /// Limit on the wait for a worker to take it (task queues); ends it.
    pub schedule_to_start_timeout: Option<Duration>,
    /// An attempt silent for this long is lost and retried.
    pub heartbeat_timeout: Option<Duration>,
    /// Run it on the external workers polling this queue.
    pub task_queue: Option<String>,
    /// What [`Ctx::cancel`](super::Ctx::cancel) does to it; `None` is
    /// [`CancellationType::TryCancel`].
    pub cancellation_type: Option<CancellationType>,
}

impl ActivityOptions {
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    pub fn start_to_close_timeout(mut self, d: Duration) -> Self {
        self.start_to_close_timeout = Some(d);
        self
    }

    pub fn schedule_to_close_timeout(mut self, d: Duration) -> Self {
        self.schedule_to_close_timeout = Some(d);
        self
    }

    pub fn schedule_to_start_timeout(mut self, d: Duration) -> Self {
        self.schedule_to_start_timeout = Some(d);
        self
    }

    pub fn heartbeat_timeout(mut self, d: Duration) -> Self {
        self.heartbeat_timeout = Some(d);
        self
    }

    pub fn task_queue(mut self, queue: impl Into<String>) -> Self {
        self.task_queue = Some(queue.into());
        self
    }

    pub fn cancellation_type(mut self, cancellation: CancellationType) -> Self {
        self.cancellation_type = Some(cancellation);
        self
    }

    pub(super) fn to_wit(&self) -> runtime::ActivityOptions {
        runtime::ActivityOptions {
            retry: self.retry.as_ref().map(|r| runtime::RetryPolicy {
                initial_interval_ms: millis(r.initial_interval),
                backoff_coefficient: r.backoff_coefficient,
                maximum_interval_ms: millis(r.maximum_interval),
                maximum_attempts: r.maximum_attempts,
                non_retryable_kinds: r.non_retryable_kinds.clone(),
            }),
            start_to_close_timeout_ms: self.start_to_close_timeout.map(millis),
            schedule_to_close_timeout_ms: self.schedule_to_close_timeout.map(millis),
            schedule_to_start_timeout_ms: self.schedule_to_start_timeout.map(millis),
            heartbeat_timeout_ms: self.heartbeat_timeout.map(millis),
            task_queue: self.task_queue.clone(),
        }
    }
}

pub(super) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// What happens to a child still running when its parent closes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ParentClosePolicy {
    /// The child is terminated (the default).
    #[default]
    Terminate,
    /// The child is asked to cancel.
    RequestCancel,
    /// The child runs on.
    Abandon,
}

/// Whether a child may take the id of a closed execution (an id a running
/// execution holds is never taken: the start fails `already-started`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IdReusePolicy {
    /// Yes (the default).
    #[default]
    AllowDuplicate,
    /// Only if that execution's last run did not complete.
    AllowDuplicateFailedOnly,
    /// Never: a start the policy refuses fails `already-started`.
    RejectDuplicate,
}

/// What cancelling an activity or a child (with [`Ctx::cancel`], or by
/// cancelling the workflow) does to the code waiting on it. Temporal's
/// cancellation types.
///
/// [`Ctx::cancel`]: super::Ctx::cancel
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancellationType {
    /// Joining it yields `cancelled` at once. The activity learns of the
    /// request at its next heartbeat and gets a grace period (its heartbeat
    /// timeout, or 10 s) to clean up; the history records how it ended
    /// (`activity_cancel_ended`). A child is asked to cancel. The activity
    /// default.
    TryCancel,
    /// The activity learns of the request at its next heartbeat (a child
    /// is asked to cancel), and joining it waits until it has ended: its
    /// output if it completed anyway, its failure (`cancelled` when it
    /// acknowledged), or `cancelled` when its grace period ran out. Use it
    /// to await an activity's cleanup. The child default.
    WaitCancellationCompleted,
    /// Joining it yields `cancelled` at once; the activity is not told and
    /// runs on until it ends or the run closes; a child is not asked and
    /// runs on (no parent-close policy applies to it any more).
    Abandon,
}

impl CancellationType {
    pub(super) fn to_wit(self) -> runtime::CancellationType {
        match self {
            Self::TryCancel => runtime::CancellationType::TryCancel,
            Self::WaitCancellationCompleted => runtime::CancellationType::WaitCancellationCompleted,
            Self::Abandon => runtime::CancellationType::Abandon,
        }
    }
}

/// Options of a child workflow.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChildOptions {
    /// Its execution id; default `<parent id>-<handle>`, the same on replay.
    pub id: Option<String>,
    pub parent_close_policy: ParentClosePolicy,
    pub id_reuse_policy: IdReusePolicy,
    /// What [`Ctx::cancel`](super::Ctx::cancel) does to it; `None` is
    /// [`CancellationType::WaitCancellationCompleted`].
    pub cancellation_type: Option<CancellationType>,
}

impl ChildOptions {
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    pub fn parent_close_policy(mut self, policy: ParentClosePolicy) -> Self {
        self.parent_close_policy = policy;
        self
    }

    pub fn id_reuse_policy(mut self, policy: IdReusePolicy) -> Self {
        self.id_reuse_policy = policy;
        self
    }

    pub fn cancellation_type(mut self, cancellation: CancellationType) -> Self {
        self.cancellation_type = Some(cancellation);
        self
    }

    pub(super) fn to_wit(&self) -> runtime::ChildOptions {
        runtime::ChildOptions {
            id: self.id.clone(),
            parent_close_policy: match self.parent_close_policy {
                ParentClosePolicy::Terminate => runtime::ParentClosePolicy::Terminate,
                ParentClosePolicy::RequestCancel => runtime::ParentClosePolicy::RequestCancel,
                ParentClosePolicy::Abandon => runtime::ParentClosePolicy::Abandon,
            },
        }
    }
}
