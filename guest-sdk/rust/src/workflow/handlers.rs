//! Signals, queries and updates: the [`Handlers`] a workflow registers, the
//! typed [`SignalChannel`], and the component's exports.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::rc::Rc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::bindings::weft::workflow::runtime;
use super::{bindings, to_wit, Ctx, Outcome, Selectable, Workflow};
use crate::failure::Failure;

type QueryFn<W> = Rc<dyn Fn(&W, &[u8]) -> Outcome>;
type ValidateFn<W> = Rc<dyn Fn(&W, &[u8]) -> Result<(), Failure>>;
type UpdateFn<W> = Rc<dyn Fn(&mut Ctx<W>, &[u8]) -> Outcome>;
type SignalFn<W> = Rc<dyn Fn(&mut Ctx<W>, &[u8]) -> Result<(), Failure>>;

/// A query handler: a function of the state (borrowed for `'s`) and the
/// query's input whose answer serializes, and may borrow from the state.
/// Implemented for every such `Fn`; see [`Handlers::query`].
pub trait QueryHandler<'s, W: 's, I> {
    /// The answer, serialized as the query's JSON output.
    type Answer: Serialize;
    fn answer(&self, state: &'s W, input: I) -> Result<Self::Answer, Failure>;
}

impl<'s, W: 's, I, O, F> QueryHandler<'s, W, I> for F
where
    F: Fn(&'s W, I) -> Result<O, Failure>,
    O: Serialize,
{
    type Answer = O;
    fn answer(&self, state: &'s W, input: I) -> Result<O, Failure> {
        self(state, input)
    }
}

/// What a workflow answers to besides its input: the signal names it
/// receives, its queries (read-only, answered from the state) and its
/// updates (they change the state and return a result; an optional validator
/// can reject one before it is recorded).
///
/// ```ignore
/// fn handlers(h: &mut Handlers<Self>) {
///     h.signal("change-plan")
///         .query("status", |s: &Self, _: ()| Ok(s.status()))
///         .update_validated("cancel", Self::check_cancel, Self::cancel);
/// }
/// ```
pub struct Handlers<W: 'static> {
    signals: Vec<String>,
    /// Signal names handled by a function (see [`Handlers::on_signal`]).
    signal_handlers: BTreeMap<String, SignalFn<W>>,
    queries: BTreeMap<String, QueryFn<W>>,
    updates: BTreeMap<String, (UpdateFn<W>, Option<ValidateFn<W>>)>,
}

fn decode_input<I: DeserializeOwned>(what: &str, name: &str, bytes: &[u8]) -> Result<I, Failure> {
    let bytes: &[u8] = if bytes.is_empty() { b"null" } else { bytes };
    serde_json::from_slice(bytes)
        .map_err(|e| Failure::bad_input(&format!("the input of {what} `{name}`"), e))
}

fn encode_output<O: Serialize>(out: O) -> Outcome {
    serde_json::to_vec(&out).map_err(|e| Failure::new("InvalidOutput", e.to_string()))
}

impl<W: 'static> Handlers<W> {
    fn new() -> Self {
        Handlers {
            signals: Vec::new(),
            signal_handlers: BTreeMap::new(),
            queries: BTreeMap::new(),
            updates: BTreeMap::new(),
        }
    }

    /// Declares a signal name, received with [`Ctx::signal_channel`]. The host
    /// records a signal to an undeclared name but tells the sender it is
    /// unknown.
    pub fn signal(&mut self, name: &str) -> &mut Self {
        self.signals.push(name.to_owned());
        self
    }

    /// A signal handler: `f` runs for every signal named `name`, in the
    /// order they were sent, at the main flow's next wait and before it
    /// resumes (Temporal's signal handlers). It may run activities and
    /// timers through the `Ctx` it gets; while it waits on them no other
    /// signal handler runs, so handlers run one after another. A signal sent before the first
    /// wait waits for it; a payload that does not decode, or a `Failure`
    /// the handler returns, is logged and the signal dropped. A name with a
    /// handler has no [`SignalChannel`]: [`Ctx::signal_channel`] refuses it.
    pub fn on_signal<I, F>(&mut self, name: &str, f: F) -> &mut Self
    where
        I: DeserializeOwned,
        F: Fn(&mut Ctx<W>, I) -> Result<(), Failure> + 'static,
    {
        let owned = name.to_owned();
        self.signals.push(name.to_owned());
        self.signal_handlers.insert(
            name.to_owned(),
            Rc::new(move |ctx: &mut Ctx<W>, bytes: &[u8]| {
                let input = decode_input("signal", &owned, bytes)?;
                f(ctx, input)
            }),
        );
        self
    }

    /// The signal names handled by a function.
    pub(super) fn handled_signals(&self) -> impl Iterator<Item = &String> {
        self.signal_handlers.keys()
    }

    pub(super) fn has_signal_handler(&self, name: &str) -> bool {
        self.signal_handlers.contains_key(name)
    }

    pub(super) fn run_signal(&self, ctx: &mut Ctx<W>, name: &str, input: &[u8]) {
        let Some(f) = self.signal_handlers.get(name) else {
            return;
        };
        if let Err(failure) = f(ctx, input) {
            runtime::log(
                runtime::LogLevel::Warn,
                &format!("signal `{name}` dropped by its handler: {failure}"),
            );
        }
    }

    /// A query: read-only, never recorded. It runs at one of the main flow's
    /// waits (or on the final state once the execution closed).
    ///
    /// The answer may borrow the state: a method such as
    /// `fn plan(&self, _: ()) -> Result<&str, Failure>` is a handler as it
    /// stands (`.query("plan", Self::plan)`), and so is a closure returning
    /// an owned value (`|s: &Self, _: ()| Ok(s.plan.clone())`).
    pub fn query<I, F>(&mut self, name: &str, f: F) -> &mut Self
    where
        I: DeserializeOwned,
        F: for<'s> QueryHandler<'s, W, I> + 'static,
    {
        let owned = name.to_owned();
        self.queries.insert(
            name.to_owned(),
            Rc::new(move |state: &W, bytes: &[u8]| {
                let input = decode_input("query", &owned, bytes)?;
                encode_output(f.answer(state, input)?)
            }),
        );
        self
    }

    /// An update with no validator: every call is accepted and recorded, then
    /// `f` runs at one of the main flow's waits. It may run activities and
    /// timers through the `Ctx` it gets, and its result goes to the caller.
    pub fn update<I, O, F>(&mut self, name: &str, f: F) -> &mut Self
    where
        I: DeserializeOwned,
        O: Serialize,
        F: Fn(&mut Ctx<W>, I) -> Result<O, Failure> + 'static,
    {
        self.insert_update(name, f, None);
        self
    }

    /// An update whose validator runs first, read-only: an error rejects
    /// the call, which then leaves no trace in the history.
    pub fn update_validated<I, O, V, F>(&mut self, name: &str, validate: V, f: F) -> &mut Self
    where
        I: DeserializeOwned,
        O: Serialize,
        V: Fn(&W, &I) -> Result<(), Failure> + 'static,
        F: Fn(&mut Ctx<W>, I) -> Result<O, Failure> + 'static,
    {
        let owned = name.to_owned();
        let validator: ValidateFn<W> = Rc::new(move |state: &W, bytes: &[u8]| {
            let input: I = decode_input("update", &owned, bytes)?;
            validate(state, &input)
        });
        self.insert_update(name, f, Some(validator));
        self
    }

    fn insert_update<I, O, F>(&mut self, name: &str, f: F, validator: Option<ValidateFn<W>>)
    where
        I: DeserializeOwned,
        O: Serialize,
        F: Fn(&mut Ctx<W>, I) -> Result<O, Failure> + 'static,
    {
        let owned = name.to_owned();
        let run: UpdateFn<W> = Rc::new(move |ctx: &mut Ctx<W>, bytes: &[u8]| {
            let input = decode_input("update", &owned, bytes)?;
            encode_output(f(ctx, input)?)
        });
        self.updates.insert(name.to_owned(), (run, validator));
    }

    pub(super) fn answer_query(&self, state: &W, name: &str, input: &[u8]) -> Outcome {
        match self.queries.get(name) {
            Some(q) => q(state, input),
            None => Err(Failure::non_retryable(
                "unknown-query",
                format!("this workflow has no query named `{name}`"),
            )),
        }
    }

    pub(super) fn validate(&self, state: &W, name: &str, input: &[u8]) -> Result<(), Failure> {
        match self.updates.get(name) {
            Some((_, Some(v))) => v(state, input),
            Some((_, None)) => Ok(()),
            None => Err(Failure::non_retryable(
                "unknown-update",
                format!("this workflow has no update named `{name}`"),
            )),
        }
    }

    pub(super) fn run_update(&self, ctx: &mut Ctx<W>, name: &str, input: &[u8]) -> Outcome {
        match self.updates.get(name) {
            Some((run, _)) => run(ctx, input),
            None => Err(Failure::non_retryable(
                "unknown-update",
                format!("this workflow has no update named `{name}`"),
            )),
        }
    }
}

/// The signals of one name, in the order they were sent. Receive with
/// [`Ctx::receive`]; race with timers and activities in [`Ctx::select`]. A
/// receive that loses a select stays armed, so the next signal is not lost.
pub struct SignalChannel<T> {
    name: String,
    /// The handle of the receive waiting for the next signal, once armed.
    armed: Cell<Option<u64>>,
    _t: PhantomData<fn() -> T>,
}

impl<T> SignalChannel<T> {
    pub(super) fn new(name: &str) -> Self {
        SignalChannel {
            name: name.to_owned(),
            armed: Cell::new(None),
            _t: PhantomData,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The armed receive's handle, if a receive is armed.
    pub(super) fn armed(&self) -> Option<u64> {
        self.armed.get()
    }

    /// The armed receive's handle, consumed: the next receive arms anew.
    pub(super) fn take(&self) -> u64 {
        let h = self.handle();
        self.armed.set(None);
        h
    }
}

impl<T> Selectable for SignalChannel<T> {
    fn handle(&self) -> u64 {
        match self.armed.get() {
            Some(h) => h,
            None => {
                let h = runtime::receive_signal(&self.name);
                self.armed.set(Some(h));
                RECEIVES.with(|r| r.borrow_mut().insert(h));
                h
            }
        }
    }
}

/// Whether every handle is a signal receive: a wait on those alone ends at a
/// cancellation (the host cancels timers, activities and children itself).
pub(super) fn only_receives(handles: &[u64]) -> bool {
    RECEIVES.with(|r| {
        let r = r.borrow();
        handles.iter().all(|h| r.contains(h))
    })
}

thread_local! {
    /// The handles of the signal receives issued in this run.
    static RECEIVES: RefCell<std::collections::HashSet<u64>> = RefCell::new(Default::default());
    /// The state and handlers of a run that returned, for `query` on a
    /// closed execution.
    static FINAL: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

struct Final<W: 'static> {
    state: W,
    handlers: Rc<Handlers<W>>,
}

fn registry<W: Workflow>() -> Rc<Handlers<W>> {
    let mut h = Handlers::new();
    W::handlers(&mut h);
    Rc::new(h)
}

#[doc(hidden)]
pub fn __run<W: Workflow>(input: Vec<u8>) -> Result<Vec<u8>, bindings::Failure> {
    let bytes: &[u8] = if input.is_empty() { b"null" } else { &input };
    let input: W::Input = match serde_json::from_slice(bytes) {
        Ok(input) => input,
        // No input (`weft start TYPE`): a struct whose fields all have
        // defaults (`#[serde(default)]`) takes them.
        Err(e) if bytes == b"null" => serde_json::from_slice(b"{}")
            .map_err(|_| to_wit(Failure::bad_input("the workflow input", e)))?,
        Err(e) => return Err(to_wit(Failure::bad_input("the workflow input", e))),
    };
    let handlers = registry::<W>();
    let mut ctx = Ctx::new(W::default(), handlers);
    let output = W::run(&mut ctx, input);
    FINAL.with(|f| {
        *f.borrow_mut() = Some(Box::new(Final {
            state: ctx.state,
            handlers: ctx.handlers,
        }))
    });
    let output = output.map_err(to_wit)?;
    serde_json::to_vec(&output).map_err(|e| to_wit(Failure::new("InvalidOutput", e.to_string())))
}

#[doc(hidden)]
pub fn __handlers<W: Workflow>() -> bindings::HandlerNames {
    let h = registry::<W>();
    bindings::HandlerNames {
        signals: h.signals.clone(),
        queries: h.queries.keys().cloned().collect(),
        updates: h.updates.keys().cloned().collect(),
    }
}

#[doc(hidden)]
pub fn __query<W: Workflow>(name: String, input: Vec<u8>) -> Result<Vec<u8>, bindings::Failure> {
    FINAL.with(|f| {
        let f = f.borrow();
        let Some(done) = f.as_ref().and_then(|b| b.downcast_ref::<Final<W>>()) else {
            return Err(to_wit(Failure::new(
                "not-finished",
                "the workflow has not returned: queries go through its waits",
            )));
        };
        done.handlers
            .answer_query(&done.state, &name, &input)
            .map_err(to_wit)
    })
}

/// Exports a [`Workflow`] as the component's `run`, `handlers` and `query`.
///
/// ```ignore
/// weft_sdk::export_workflow!(Hello);
/// ```
#[macro_export]
macro_rules! export_workflow {
    ($ty:ty) => {
        struct __WeftWorkflowExport;

        impl $crate::workflow::bindings::Guest for __WeftWorkflowExport {
            fn run(
                input: ::std::vec::Vec<u8>,
            ) -> ::std::result::Result<::std::vec::Vec<u8>, $crate::workflow::bindings::Failure>
            {
                $crate::workflow::__run::<$ty>(input)
            }

            fn handlers() -> $crate::workflow::bindings::HandlerNames {
                $crate::workflow::__handlers::<$ty>()
            }

            fn query(
                name: ::std::string::String,
                input: ::std::vec::Vec<u8>,
            ) -> ::std::result::Result<::std::vec::Vec<u8>, $crate::workflow::bindings::Failure>
            {
                $crate::workflow::__query::<$ty>(name, input)
            }
        }

        $crate::workflow::bindings::__weft_export_workflow_world!(
            __WeftWorkflowExport with_types_in $crate::workflow::bindings
        );
    };
}
