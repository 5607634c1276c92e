//! Notices between the hosts of one store, through PostgreSQL's `NOTIFY`:
//! a task waiting on a task queue of a host with no worker polling it.
//! A notice is a hint that wakes a worker's poll on another host at once;
//! one lost (the listening connection broke, the database restarted) only
//! delays that poll to its next round, which asks the other hosts anyway.

use std::time::Duration;

use futures::StreamExt;
use tokio_postgres::AsyncMessage;

use super::pg::Pg;

/// The channel tasks are announced on.
const CHANNEL: &str = "weft_tasks";

/// How long a broken listening connection waits before it connects again.
const RECONNECT: Duration = Duration::from_secs(1);

/// Announces tasks to the other hosts: one sender for the host, which
/// sends what queued since its last notice as one notice per queue (with
/// how many tasks), so a burst of tasks takes no more connections than one.
#[derive(Clone)]
pub struct Announcer(tokio::sync::mpsc::UnboundedSender<String>);

impl Announcer {
    /// A task waits on `queue` here (see [`Pg::announcer`]).
    pub fn task(&self, queue: &str) {
        let _ = self.0.send(queue.to_owned());
    }
}

impl Pg {
    /// What tells the other hosts that tasks wait here with no worker
    /// polling this host for them (sent in the background; a notice that
    /// cannot be sent is dropped: see the module documentation).
    pub fn announcer(&self) -> Announcer {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let host = self.lease.host.clone();
        let pool = self.pool().clone();
        self.spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut queued: std::collections::BTreeMap<String, u64> = Default::default();
                *queued.entry(first).or_default() += 1;
                while let Ok(more) = rx.try_recv() {
                    *queued.entry(more).or_default() += 1;
                }
                let Ok(client) = pool.get().await else { continue };
                for (queue, tasks) in queued {
                    let payload = format!("{host}\n{tasks}\n{queue}");
                    let sent = client
                        .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
                        .await;
                    if let Err(e) = sent {
                        tracing::debug!(error = %e, "a task's notice to the other hosts was not sent");
                        break;
                    }
                }
            }
        });
        Announcer(tx)
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
    ) -> Result<(), tokio_postgres::Error> {
        let (client, mut conn) = self.config.connect(self.tls.clone()).await?;
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
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
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
            Ok(ended) => ended,
            Err(_) => Ok(()),
        }
    }
}
