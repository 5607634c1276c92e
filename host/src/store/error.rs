//! Store errors, split by what the caller does next.

/// A failure of the store as a whole: the disk, the file, the committer.
/// Callers cannot fix these; they report them (a 500) and keep the execution
/// as it was, since nothing was committed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Backend(String),
    #[error("stored record is corrupt ({what}): {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// The disk refused a write or a read (full, failing), or the
    /// database's connection failed. Nothing of the write was kept; writes
    /// work again once the disk has room or the database answers.
    #[error("the store is unavailable: {0}")]
    Io(String),
    /// Another host holds the store now (this one lost its lease): nothing
    /// of the write was kept, and this host writes nothing more.
    #[error("this host no longer holds the store: {0}")]
    Fenced(String),
    /// This host gave the store up (it is stopping): nothing more is
    /// written; the next holder goes on.
    #[error("this host gave the store up (it is stopping); the next host to hold it goes on")]
    GivenUp,
    #[error("the store's committer has stopped (the host is shutting down or a commit failed)")]
    CommitterGone,
}

impl<E: Into<redb::Error>> From<E> for StoreError {
    fn from(e: E) -> Self {
        match e.into() {
            // A database a failed write closed answers `DatabaseClosed`
            // until the committer opens it again: a disk error too.
            e @ (redb::Error::Io(_) | redb::Error::PreviousIo | redb::Error::DatabaseClosed) => {
                Self::Io(e.to_string())
            }
            e => Self::Backend(e.to_string()),
        }
    }
}

impl StoreError {
    /// A fail point for tests (`WEFT_FAIL_AT`, see [`crate::pause::fails`]):
    /// once `name` is reached while armed, the store could not answer.
    pub fn fail_point(name: &str) -> Result<(), StoreError> {
        if crate::pause::fails(name) {
            return Err(StoreError::Io(format!("injected by WEFT_FAIL_AT={name}")));
        }
        Ok(())
    }
}

/// An operation of a batch was refused: nothing of the batch was written
/// (other callers' batches in the same group commit are unaffected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("an execution with id {0} already exists")]
    ExecutionExists(String),
    #[error("no execution with id {0}")]
    NoSuchExecution(String),
    /// On a store of several partitions: the id is another partition's.
    #[error("execution {id} is in partition {part} of the store, not this one")]
    InAnotherPartition { id: String, part: u32 },
    /// The execution moved to another module since the writer loaded it.
    #[error("execution {0} moved to another module")]
    ModuleMoved(String),
    #[error("execution {id} is {status}: only running or stalled executions can move")]
    NotMovable { id: String, status: String },
    #[error("the history of execution {0} grew while it was being checked; check it again")]
    HistoryChanged(String),
    /// Work started before a reset, or a timer already fired or dropped.
    #[error("stale write for execution {0}")]
    Stale(String),
    /// A cancellation is recorded once per run: another was first.
    #[error("execution {0} was asked to cancel already")]
    CancelAlreadyRequested(String),
    #[error("update {0} was already accepted")]
    DuplicateUpdate(String),
    /// The request was recorded in this execution already (its key is in
    /// the execution's inbox).
    #[error("execution {0} recorded this request already")]
    AlreadyRecorded(String),
    /// A run's end met a signal its code asked for and was never offered.
    #[error("a signal came in for execution {0} as its run ended")]
    SignalsWaiting(String),
    /// No event may follow a close.
    #[error("execution {id} is {status}: nothing more can be recorded in it")]
    Closed { id: String, status: String },
    /// Only a closed execution may be deleted.
    #[error("execution {id} is {status}: only a closed execution can be deleted (cancel or terminate it first)")]
    NotClosed { id: String, status: String },
    /// A handle's completion is recorded once.
    #[error("handle {handle} of execution {id} already has its completion")]
    AlreadyCompleted { id: String, handle: u64 },
    #[error("a schedule named {0} already exists")]
    ScheduleExists(String),
    #[error("no schedule named {0}")]
    NoSuchSchedule(String),
    /// The schedule was written since the writer read it.
    #[error("schedule {0} changed meanwhile; read it again")]
    ScheduleChanged(String),
    /// A search attribute's value of another type than its name has.
    #[error("{0}")]
    SearchType(String),
    /// A module a write would run an execution on is no longer in the
    /// store (a prune deleted it since it was read).
    #[error("module {0} is no longer in the store (a prune deleted it meanwhile): deploy it again, or choose another version")]
    ModuleGone(String),
    /// A module chosen for deletion that something refers to now.
    #[error("module {module} is in use: {why}")]
    ModuleInUse { module: String, why: String },
    /// A start with a request id already seen: the run it started.
    #[error("request {request_id} already started run {run} of execution {id}")]
    DuplicateRequest {
        request_id: String,
        id: String,
        run: u32,
    },
}
