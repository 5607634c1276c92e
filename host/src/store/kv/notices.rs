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

impl Pg {
    /// Tells the other hosts that a task waits on `queue` here (sent in the
    /// background; a notice that cannot be sent is dropped: see the module
    /// documentation).
    pub fn announce_task(&self, queue: &str) {
        let payload = format!("{}\n{queue}", self.lease.host);
        let pool = self.pool().clone();
        self.spawn(async move {
            let Ok(client) = pool.get().await else { return };
            let sent = client
                .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
                .await;
            if let Err(e) = sent {
                tracing::debug!(error = %e, "a task's notice to the other hosts was not sent");
            }
        });
    }

    /// Calls `on` with the queue of every task another host announces, for
    /// as long as the store lives, on a connection of its own (connected
    /// again a second after it breaks).
    pub fn listen_tasks(self: &std::sync::Arc<Self>, on: impl Fn(&str) + Send + Sync + 'static) {
        let pg = std::sync::Arc::downgrade(self);
        self.spawn(async move {
            let mut said = false;
            loop {
                let Some(store) = pg.upgrade() else { return };
                let listened = store.listen_once(&on, &mut said).await;
                drop(store);
                if let Err(e) = listened {
                    if !said {
                        tracing::warn!(
                            error = %e,
                            "could not listen for the other hosts' task notices: a worker's \
                             poll here finds their tasks at its next round instead (said once)"
                        );
                        said = true;
                    }
                }
                tokio::time::sleep(RECONNECT).await;
            }
        });
    }

    /// One listening connection, until it breaks.
    async fn listen_once(
        &self,
        on: &(impl Fn(&str) + Send + Sync),
        said: &mut bool,
    ) -> Result<(), tokio_postgres::Error> {
        let (client, mut conn) = self.config().connect(self.tls()).await?;
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
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        if *said {
            tracing::info!("listening for the other hosts' task notices again");
            *said = false;
        }
        let me = &self.lease.host;
        while let Some(payload) = rx.recv().await {
            if let Some((host, queue)) = payload.split_once('\n') {
                if host != me {
                    on(queue);
                }
            }
        }
        drop(client);
        match driven.await {
            Ok(ended) => ended,
            Err(_) => Ok(()),
        }
    }
}
