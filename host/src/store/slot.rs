//! The open database, replaceable in place. After an I/O error (a full disk,
//! a failing device) redb refuses every later operation until the file is
//! closed and opened again; the committer does that here, so reads go on and
//! writes succeed again once the disk has room, without restarting the host.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use redb::Database;

use super::StoreError;

/// How long a reopen waits for readers still holding the old handle before it
/// gives up for now (the next failed write tries again).
const DRAIN: Duration = Duration::from_secs(2);

pub(crate) struct DbSlot {
    path: PathBuf,
    /// `None` only after a reopen failed; the next write tries again.
    db: RwLock<Option<Arc<Database>>>,
}

impl DbSlot {
    pub(super) fn new(path: PathBuf, db: Database) -> Self {
        Self {
            path,
            db: RwLock::new(Some(Arc::new(db))),
        }
    }

    /// The database as it is now; hold it only for one transaction.
    pub(super) fn get(&self) -> Result<Arc<Database>, StoreError> {
        self.db
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                StoreError::Io("the store is closed after a disk error and not yet reopened".into())
            })
    }

    /// Closes the database and opens the file again. The slot is empty
    /// meanwhile (readers get a quick `Io` error instead of waiting: the
    /// open repairs the whole file after a failed write, which takes time
    /// in proportion to its size). Readers already holding the old handle
    /// finish first.
    pub(super) fn reopen(&self) -> Result<(), StoreError> {
        let deadline = Instant::now() + DRAIN;
        let old = self.db.write().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(old) = old {
            let mut old = old;
            loop {
                match Arc::try_unwrap(old) {
                    // Dropping the last handle closes the file (an explicit
                    // close of a failed database only answers `PreviousIo`).
                    Ok(db) => break drop(db),
                    Err(shared) if Instant::now() < deadline => {
                        old = shared;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(shared) => {
                        *self.db.write().unwrap_or_else(|p| p.into_inner()) = Some(shared);
                        return Err(StoreError::Io(
                            "readers kept the database open; reopening later".into(),
                        ));
                    }
                }
            }
        }
        // A read transaction begun on the old handle keeps the file (and its
        // lock) until it ends: wait for that too.
        let db = loop {
            match Database::create(&self.path) {
                Ok(db) => break db,
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => return Err(e.into()),
            }
        };
        *self.db.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(db));
        Ok(())
    }
}

pub(super) fn open_file(path: &std::path::Path) -> Result<Database, StoreError> {
    Database::create(path).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Backend(format!(
            "the data directory {} is in use by another weft host: stop that one first (a \
             host to run beside it needs another --data)",
            path.parent().unwrap_or(path).display()
        )),
        other => other.into(),
    })
}
