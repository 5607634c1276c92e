//! A typed select: each candidate maps its own outcome into one result
//! type, so the code matches on names instead of on positions.

use serde::de::DeserializeOwned;

use super::{decode, Ctx, Pending, Selectable, SignalChannel};
use crate::failure::Failure;

/// What the winner of a [`Choose`] becomes.
type Case<'a, W, R> = Box<dyn FnOnce(&mut Ctx<W>) -> Result<R, Failure> + 'a>;

/// A select whose candidates each say what their outcome means; made by
/// [`Ctx::choose`]:
///
/// ```ignore
/// enum Next { Approved(Decision), Expired }
/// match ctx
///     .choose()
///     .on_signal(&decisions, Next::Approved)
///     .on(&deadline, |_fired: Result<(), Failure>| Next::Expired)
///     .wait()?
/// {
///     Next::Approved(d) => ...,
///     Next::Expired => ...,
/// }
/// ```
///
/// The winner is taken as `receive` or `join` would take it: a signal is
/// received (the next `receive` on that channel waits for the one after),
/// and a pending value is spent (do not join it again). The losers stay as
/// they were, to be chosen among again. When the workflow's cancellation
/// ended the wait (the winner completed `cancelled` after a cancellation
/// was requested), `wait` returns that failure, as [`Ctx::try_select`] does.
pub struct Choose<'c, 'a, W: 'static, R> {
    ctx: &'c mut Ctx<W>,
    cases: Vec<(&'a dyn Selectable, Case<'a, W, R>)>,
}

impl<'c, 'a, W: 'static, R> Choose<'c, 'a, W, R> {
    pub(super) fn new(ctx: &'c mut Ctx<W>) -> Self {
        Choose {
            ctx,
            cases: Vec::new(),
        }
    }

    /// A pending activity, timer or child: `then` gets its outcome (its
    /// output, or its failure).
    pub fn on<T: DeserializeOwned + 'a>(
        mut self,
        pending: &'a Pending<T>,
        then: impl FnOnce(Result<T, Failure>) -> R + 'a,
    ) -> Self {
        let handle = pending.handle;
        self.cases.push((
            pending,
            Box::new(move |ctx: &mut Ctx<W>| Ok(then(decode(handle, ctx.take(handle))))),
        ));
        self
    }

    /// A signal channel: `then` gets the signal (a signal whose input does
    /// not decode makes `wait` return that failure).
    pub fn on_signal<T: DeserializeOwned + 'a>(
        mut self,
        channel: &'a SignalChannel<T>,
        then: impl FnOnce(T) -> R + 'a,
    ) -> Self {
        self.cases.push((
            channel,
            Box::new(move |ctx: &mut Ctx<W>| ctx.receive(channel).map(then)),
        ));
        self
    }

    /// Waits for the first candidate to complete (the one recorded first
    /// when several have) and returns what its case made of it.
    pub fn wait(self) -> Result<R, Failure> {
        let Choose { ctx, cases } = self;
        let candidates: Vec<&dyn Selectable> = cases.iter().map(|(c, _)| *c).collect();
        let winner = ctx.try_select(&candidates)?;
        let (_, then) = cases
            .into_iter()
            .nth(winner)
            .expect("select returns one of the candidates");
        then(ctx)
    }
}
