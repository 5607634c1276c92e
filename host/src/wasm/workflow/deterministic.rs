//! The WASI interfaces a workflow gets from weft rather than from
//! wasmtime-wasi, linked over wasmtime-wasi's in the workflow linker only
//! (activities keep real WASI):
//!
//! - `wasi:random/{random,insecure,insecure-seed}` draw from the run's pinned
//!   streams ([`crate::wasm::random`]), or from a throwaway stream while a
//!   request is being answered, so a query never moves what the run draws.
//! - `wasi:clocks/monotonic-clock` answers workflow time, and its pollables
//!   are deadlines on workflow time: ready if and only if the deadline is at
//!   or before it. wasmtime-wasi's are real-time sleeps, which a replay
//!   cannot reproduce and which block outside the CPU deadline.
//! - `wasi:io/poll` decides clock pollables by that rule. Workflow time stands
//!   still inside a workflow task, so blocking on a deadline that has not
//!   passed could never end: it traps with [`BlockedOnClock`] (the execution
//!   stalls) instead. Other pollables (output streams) are polled as
//!   wasmtime-wasi does.

use std::collections::HashMap;
use std::time::Duration;

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::bindings::io::poll;
use wasmtime_wasi::p2::bindings::random::{insecure, insecure_seed, random};
use wasmtime_wasi::p2::{subscribe, DynPollable, Pollable};

use super::WfState;
use crate::wasm::random::Streams;
use crate::wasm::wasi::WorkflowClock;

/// The guest blocked on a clock deadline that workflow time has not reached.
#[derive(Debug, thiserror::Error)]
#[error(
    "the workflow blocked on the clock for {remaining:?} (a sleep such as `std::thread::sleep`, or \
     a poll with a timeout): time does not pass inside a workflow task, so it would wait forever. \
     Wait with a durable timer instead (`ctx.sleep(duration)` or `ctx.timer(duration)` in the Rust \
     SDK): it is recorded and survives restarts"
)]
pub struct BlockedOnClock {
    pub remaining: Duration,
}

/// The clock pollables alive in an instance: pollable handle -> deadline in
/// ns of workflow time. Every pollable is dropped through this module's
/// `wasi:io/poll`, which forgets it here before the table reuses its handle.
#[derive(Default)]
pub struct Deadlines(HashMap<u32, u64>);

impl Deadlines {
    /// `Some(ready)` for a clock pollable, `None` for any other pollable.
    fn ready(&self, pollable: u32, now_ns: u64) -> Option<bool> {
        self.0.get(&pollable).map(|at| *at <= now_ns)
    }

    /// The wait left on a clock pollable that is not ready.
    fn remaining(&self, pollable: u32, now_ns: u64) -> Duration {
        Duration::from_nanos(
            self.0
                .get(&pollable)
                .map_or(0, |at| at.saturating_sub(now_ns)),
        )
    }
}

/// What `wasi:io/poll` and `wasi:clocks/monotonic-clock` of a workflow see.
pub struct WfIo<'a> {
    table: &'a mut ResourceTable,
    clock: &'a WorkflowClock,
    deadlines: &'a mut Deadlines,
}

struct HasIo;

impl HasData for HasIo {
    type Data<'a> = WfIo<'a>;
}

struct HasRandom;

impl HasData for HasRandom {
    type Data<'a> = &'a mut Streams;
}

fn io(s: &mut WfState) -> WfIo<'_> {
    WfIo {
        table: &mut s.table,
        clock: &s.clock,
        deadlines: &mut s.deadlines,
    }
}

/// Links these interfaces over the ones `wasmtime_wasi::p2::add_to_linker_async`
/// put in `linker`.
pub(super) fn shadow_wasi(linker: &mut Linker<WfState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    random::add_to_linker::<_, HasRandom>(linker, |s| &mut s.random)?;
    insecure::add_to_linker::<_, HasRandom>(linker, |s| &mut s.random)?;
    insecure_seed::add_to_linker::<_, HasRandom>(linker, |s| &mut s.random)?;
    monotonic_clock::add_to_linker::<_, HasIo>(linker, io)?;
    poll::add_to_linker::<_, HasIo>(linker, io)?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The largest `get-random-bytes` a guest may ask for: wasmtime-wasi's limit,
/// beyond which it trapped (kept, so old runs behave the same).
const MAX_RANDOM_BYTES: u64 = wasmtime_wasi::random::DEFAULT_MAX_SIZE;

fn random_len(len: u64) -> wasmtime::Result<usize> {
    if len > MAX_RANDOM_BYTES {
        wasmtime::bail!("requested len {len} exceeds limit {MAX_RANDOM_BYTES}");
    }
    Ok(len as usize)
}

impl random::Host for Streams {
    fn get_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        Ok(self.secure().bytes(random_len(len)?))
    }

    fn get_random_u64(&mut self) -> wasmtime::Result<u64> {
        Ok(self.secure().next_u64())
    }
}

impl insecure::Host for Streams {
    fn get_insecure_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        Ok(self.insecure().bytes(random_len(len)?))
    }

    fn get_insecure_random_u64(&mut self) -> wasmtime::Result<u64> {
        Ok(self.insecure().next_u64())
    }
}

impl insecure_seed::Host for Streams {
    fn insecure_seed(&mut self) -> wasmtime::Result<(u64, u64)> {
        Ok(Streams::insecure_seed(self))
    }
}

/// The table entry behind a clock pollable. Readiness is decided from
/// [`Deadlines`] before any future is made; this future only serves a
/// caller that polls it some other way, and never completes on real time.
struct ClockDeadline {
    at_ns: u64,
    clock: WorkflowClock,
}

#[wasmtime_wasi::async_trait]
impl Pollable for ClockDeadline {
    async fn ready(&mut self) {
        if self.clock.now_ns() < self.at_ns {
            std::future::pending::<()>().await;
        }
    }
}

impl WfIo<'_> {
    fn subscribe(&mut self, at_ns: u64) -> wasmtime::Result<Resource<DynPollable>> {
        let deadline = self.table.push(ClockDeadline {
            at_ns,
            clock: self.clock.clone(),
        })?;
        let pollable = subscribe(self.table, deadline)?;
        self.deadlines.0.insert(pollable.rep(), at_ns);
        Ok(pollable)
    }
}

impl monotonic_clock::Host for WfIo<'_> {
    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(self.clock.now_ns())
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        Ok(1_000_000)
    }

    fn subscribe_instant(&mut self, when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        self.subscribe(when)
    }

    fn subscribe_duration(&mut self, duration: u64) -> wasmtime::Result<Resource<DynPollable>> {
        let at = self.clock.now_ns().saturating_add(duration);
        self.subscribe(at)
    }
}

fn borrow(p: &Resource<DynPollable>) -> Resource<DynPollable> {
    Resource::new_borrow(p.rep())
}

impl poll::Host for WfIo<'_> {
    async fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        if pollables.is_empty() {
            // wasmtime-wasi's answer (a trap), kept.
            return poll::Host::poll(self.table, pollables).await;
        }
        let now = self.clock.now_ns();
        let mut ready = Vec::new();
        let mut others = Vec::new();
        let mut waiting_on_clock = None;
        for (i, p) in pollables.iter().enumerate() {
            let i = u32::try_from(i)?;
            match self.deadlines.ready(p.rep(), now) {
                Some(true) => ready.push(i),
                Some(false) => waiting_on_clock = Some(p.rep()),
                None => {
                    if poll::HostPollable::ready(&mut *self.table, borrow(p)).await? {
                        ready.push(i);
                    } else {
                        others.push(i);
                    }
                }
            }
        }
        if !ready.is_empty() {
            return Ok(ready);
        }
        if others.is_empty() {
            let p = waiting_on_clock.expect("a non-empty list with nothing ready");
            return Err(BlockedOnClock {
                remaining: self.deadlines.remaining(p, now),
            }
            .into());
        }
        // Only the other pollables can end this wait: the clock ones cannot
        // become ready before the task ends.
        let subset = others
            .iter()
            .map(|i| borrow(&pollables[*i as usize]))
            .collect();
        let got = poll::Host::poll(self.table, subset).await?;
        Ok(got.into_iter().map(|j| others[j as usize]).collect())
    }
}

impl poll::HostPollable for WfIo<'_> {
    async fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        let now = self.clock.now_ns();
        match self.deadlines.ready(pollable.rep(), now) {
            Some(true) => Ok(()),
            Some(false) => Err(BlockedOnClock {
                remaining: self.deadlines.remaining(pollable.rep(), now),
            }
            .into()),
            None => poll::HostPollable::block(&mut *self.table, pollable).await,
        }
    }

    async fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        match self.deadlines.ready(pollable.rep(), self.clock.now_ns()) {
            Some(ready) => Ok(ready),
            None => poll::HostPollable::ready(&mut *self.table, pollable).await,
        }
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        self.deadlines.0.remove(&pollable.rep());
        poll::HostPollable::drop(&mut *self.table, pollable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use monotonic_clock::Host as _;
    use poll::{Host as _, HostPollable as _};

    /// A pollable that is not a clock: ready after `after` of real time.
    struct Io {
        after: Duration,
    }

    #[wasmtime_wasi::async_trait]
    impl Pollable for Io {
        async fn ready(&mut self) {
            if !self.after.is_zero() {
                tokio::time::sleep(self.after).await;
            }
        }
    }

    struct Fixture {
        table: ResourceTable,
        clock: WorkflowClock,
        deadlines: Deadlines,
    }

    impl Fixture {
        fn at_ms(ms: u64) -> Self {
            let clock = WorkflowClock::default();
            clock.set_ms(ms);
            Self {
                table: ResourceTable::new(),
                clock,
                deadlines: Deadlines::default(),
            }
        }

        fn io(&mut self) -> WfIo<'_> {
            WfIo {
                table: &mut self.table,
                clock: &self.clock,
                deadlines: &mut self.deadlines,
            }
        }

        fn other(&mut self, after: Duration) -> Resource<DynPollable> {
            let r = self.table.push(Io { after }).expect("push");
            subscribe(&mut self.table, r).expect("subscribe")
        }
    }

    const MS: u64 = 1_000_000;

    fn blocked(e: wasmtime::Error) -> Duration {
        e.downcast_ref::<BlockedOnClock>()
            .unwrap_or_else(|| panic!("not a BlockedOnClock: {e}"))
            .remaining
    }

    #[tokio::test]
    async fn a_clock_pollable_is_ready_when_workflow_time_reaches_its_deadline() {
        let mut f = Fixture::at_ms(1_000);
        let mut io = f.io();
        assert_eq!(io.now().unwrap(), 1_000 * MS);
        let p = io.subscribe_duration(5 * MS).unwrap();
        assert!(!io.ready(borrow(&p)).await.unwrap());
        let e = io.block(borrow(&p)).await.unwrap_err();
        assert_eq!(blocked(e), Duration::from_millis(5));
        let zero = io.subscribe_duration(0).unwrap();
        assert!(io.ready(borrow(&zero)).await.unwrap());
        let past = io.subscribe_instant(999 * MS).unwrap();
        io.block(borrow(&past)).await.unwrap();
        let exact = io.subscribe_instant(1_000 * MS).unwrap();
        assert!(io.ready(borrow(&exact)).await.unwrap());
        let never = io.subscribe_duration(u64::MAX).unwrap();
        assert!(!io.ready(borrow(&never)).await.unwrap());
        // The next workflow task sees a later time; real time plays no part.
        f.clock.set_ms(1_005);
        let mut io = f.io();
        assert!(io.ready(borrow(&p)).await.unwrap());
        io.block(p).await.unwrap();
        assert!(!io.ready(borrow(&never)).await.unwrap());
    }

    #[tokio::test]
    async fn poll_answers_from_workflow_time_and_refuses_to_block_on_it() {
        let mut f = Fixture::at_ms(10);
        let soon = f.other(Duration::from_millis(20));
        let mut io = f.io();
        let hour = io.subscribe_duration(3_600_000 * MS).unwrap();
        let due = io.subscribe_instant(10 * MS).unwrap();
        let list = |ps: &[&Resource<DynPollable>]| ps.iter().map(|p| borrow(p)).collect();
        assert_eq!(io.poll(list(&[&hour, &due])).await.unwrap(), vec![1]);
        // Only clocks that have not passed: the wait could never end.
        let e = io.poll(list(&[&hour])).await.unwrap_err();
        assert_eq!(blocked(e), Duration::from_secs(3_600));
        // Another pollable can end it: wait for that one alone.
        assert_eq!(io.poll(list(&[&hour, &soon])).await.unwrap(), vec![1]);
        assert!(io.poll(Vec::new()).await.is_err(), "an empty list traps");
    }

    #[tokio::test]
    async fn a_dropped_clock_pollable_is_forgotten() {
        let mut f = Fixture::at_ms(0);
        let p = f.io().subscribe_duration(MS).unwrap();
        let rep = p.rep();
        f.io().drop(p).unwrap();
        assert!(f.deadlines.0.is_empty());
        // The table may hand the handle to another pollable, which is then
        // polled for what it is.
        let other = f.other(Duration::ZERO);
        if other.rep() == rep {
            assert!(f.io().ready(borrow(&other)).await.unwrap());
        }
        f.io().block(other).await.unwrap();
    }
}
