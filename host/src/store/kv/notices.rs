//! Notices between the hosts of one store, through PostgreSQL's `NOTIFY`:
//! a task waiting on a task queue of a host with no worker polling it.
//! A notice is a hint that wakes a worker's poll on another host at once;
//! one lost (the listening connection broke, the database restarted) only
//! delays that poll to its next round, which asks the other hosts anyway.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Notify;
use tokio_postgres::AsyncMessage;

use super::pg::{pg_err, pool_err, Pg};
use crate::store::StoreError;

/// The channel tasks are announced on.
const CHANNEL: &str = "weft_tasks";

/// What a host's listening connection sent last (and sends only): a host
/// taking a stalled host's lease ends it (a connection that listens and is
/// not read keeps PostgreSQL's queue of notices from shrinking).
pub(super) const LISTENING: &str = "LISTEN weft_tasks";

/// How long a broken listening connection waits before it connects again.
const RECONNECT: Duration = Duration::from_secs(1);

/// Announces tasks to the other hosts: one sender for the host, which
/// sends what queued since its last notice as one notice per queue (with
/// how many tasks), so a burst of tasks takes no more connections, and
/// holds no more memory, than one per queue.
#[derive(Clone)]
pub struct Announcer {
    pending: Arc<Mutex<BTreeMap<String, u64>>>,
    wake: Arc<Notify>,
}

impl Announcer {
    /// `tasks` tasks wait on `queue` here (see [`Pg::announcer`]).
    pub fn tasks(&self, queue: &str, tasks: u64) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        *pending.entry(queue.to_owned()).or_default() += tasks;
        drop(pending);
        self.wake.notify_one();
    }
}

impl Pg {
    /// What tells the other hosts that tasks wait here with no worker
    /// polling this host for them (sent in the background; a notice that
    /// cannot be sent is dropped: see the module documentation).
    pub fn announcer(&self) -> Announcer {
        let announcer = Announcer {
            pending: Arc::default(),
            wake: Arc::default(),
        };
        let (pending, wake) = (Arc::downgrade(&announcer.pending), announcer.wake.clone());
        let host = self.lease.host.clone();
        let pool = self.pool().clone();
        self.spawn(async move {
            loop {
                wake.notified().await;
                // Gone with the last announcer.
                let Some(pending) = pending.upgrade() else { return };
                let queued = std::mem::take(&mut *pending.lock().unwrap_or_else(|p| p.into_inner()));
                drop(pending);
                if queued.is_empty() {
                    continue;
                }
                let client = match pool.get().await {
                    Ok(client) => client,
                    Err(e) => {
                        tracing::debug!(error = %pool_err(e), "task notices to the other hosts were not sent");
                        continue;
                    }
                };
                for (queue, tasks) in queued {
                    let payload = format!("{host}\n{tasks}\n{queue}");
                    let sent = client
                        .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
                        .await;
                    if let Err(e) = sent {
                        tracing::debug!(%queue, error = %pg_err(e), "a task notice to the other hosts was not sent");
                    }
                }
            }
        });
        announcer
    }

    /// Calls `on` with the queue (and how many tasks) of every notice
    /// another host sends, for
    /// as long as the store lives, on a connection of its own (connected
    /// again a second after it breaks).
    pub fn listen_tasks(&self, on: impl Fn(&str, u64) + Send + Sync + 'static) {
        // Holds no reference to the store: the task ends with its runtime.
        let listener = Listener {
            config: self.config().clone(),
            tls: self.tls(),
            host: self.lease.host.clone(),
        };
        self.spawn(async move {
            let mut said = false;
            loop {
                if let Err(e) = listener.listen_once(&on, &mut said).await {
                    if !said {
                        tracing::warn!(
                            error = %e,
                            "the connection that listens for the other hosts' task notices \
                             failed or could not be made; it is made again every second, and \
                             meanwhile a worker's poll here finds their tasks at its next round \
                             (said once until it listens again)"
                        );
                        said = true;
                    }
                }
                tokio::time::sleep(RECONNECT).await;
            }
        });
    }
}

/// What a listening connection is made of.
struct Listener {
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    host: String,
}

impl Listener {
    /// One listening connection, until it breaks.
    async fn listen_once(
        &self,
        on: &(impl Fn(&str, u64) + Send + Sync),
        said: &mut bool,
    ) -> Result<(), StoreError> {
        let (client, mut conn) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(pg_err)?;
        let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        // The connection runs (and delivers notices) only while polled.
        let driven = tokio::spawn(async move {
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        let _ = tx.send(n.payload().to_owned());
                    }
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        });
        crate::pause::point("task-notices-listen").await;
        client.batch_execute(LISTENING).await.map_err(pg_err)?;
        if *said {
            tracing::info!("listening for the other hosts' task notices again");
            *said = false;
        }
        let me = &self.host;
        while let Some(payload) = rx.recv().await {
            let mut fields = payload.splitn(3, '\n');
            let (Some(host), Some(tasks), Some(queue)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            if host != me {
                on(queue, tasks.parse().unwrap_or(1));
            }
        }
        drop(client);
        match driven.await {
            Ok(ended) => ended.map_err(pg_err),
            Err(_) => Ok(()),
        }
    }
}
