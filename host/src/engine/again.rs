//! Asking again: the waits between tries of work that a store which could
//! not answer kept from being done (a cut connection, a disk error). Such
//! work is made again while the host runs, not left to its next start, and
//! the waits grow so that a long outage costs little.

use std::time::Duration;

/// Waits that double from a first one up to a longest one.
#[derive(Debug, Clone)]
pub(super) struct Backoff {
    next: Duration,
    first: Duration,
    most: Duration,
}

impl Backoff {
    /// Waits from `first`, doubling, never longer than `most`.
    pub(super) const fn new(first: Duration, most: Duration) -> Self {
        Self {
            next: first,
            first,
            most,
        }
    }

    /// Half a second doubling to a minute: the work a host does for an
    /// execution in the background (arming deadlines, asking children,
    /// firing a timer, delivering a request, resuming after a failure).
    pub(super) const fn background() -> Self {
        Self::new(Duration::from_millis(500), Duration::from_secs(60))
    }

    /// 50 ms doubling to two seconds: an activity waiting to begin an
    /// attempt (its caller waits for it).
    pub(super) const fn attempt() -> Self {
        Self::new(Duration::from_millis(50), Duration::from_secs(2))
    }

    /// Whether no wait was taken yet: a failure is said once, at its first
    /// try, not at every one.
    pub(super) fn is_first(&self) -> bool {
        self.next == self.first
    }

    /// The wait due now; the next one is twice as long (up to the most).
    pub(super) fn step(&mut self) -> Duration {
        let wait = self.next;
        self.next = (wait * 2).min(self.most);
        wait
    }

    /// Sleeps the wait due now.
    pub(super) async fn wait(&mut self) {
        tokio::time::sleep(self.step()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_most_and_say_their_first() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        assert!(b.is_first());
        let waits: Vec<u128> = (0..5).map(|_| b.step().as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350, 350]);
        assert!(!b.is_first());
    }
}
