//! The activity side: plain functions exported with
//! [`export_activities!`](crate::export_activities).
//!
//! An activity is where side effects happen. It may run more than once (the
//! host retries failures and re-runs attempts a crash interrupted), so use
//! [`ActivityCtx::idempotency_key`] to make its effects idempotent.

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use crate::failure::Failure;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "weft:workflow/activity",
        pub_export_macro: true,
        export_macro_name: "__weft_export_activity_world",
        default_bindings_module: "weft_sdk::activity::bindings",
    });
}

use bindings::weft::workflow::activity_context;

/// What the host says about the attempt being run.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityCtx {
    pub execution_id: String,
    /// The handle the workflow scheduled this activity under.
    pub activity_handle: u64,
    pub name: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    idempotency_key: String,
    heartbeat_details: Option<Vec<u8>>,
}

impl ActivityCtx {
    #[doc(hidden)]
    pub fn current() -> Self {
        let i = activity_context::info();
        ActivityCtx {
            execution_id: i.execution_id,
            activity_handle: i.activity_handle,
            name: i.name,
            attempt: i.attempt,
            idempotency_key: i.idempotency_key,
            heartbeat_details: i.heartbeat_details,
        }
    }

    /// The same on every attempt of one scheduled activity
    /// (`<execution id>/<handle>`): key side effects on it.
    pub fn idempotency_key(&self) -> &str {
        &self.idempotency_key
    }

    /// Reports progress: `details` are kept durably and handed to the next
    /// attempt if this one is lost; the heartbeat also keeps a heartbeat
    /// timeout from firing. Returns true when the activity was cancelled: it
    /// should stop and return.
    pub fn heartbeat<D: Serialize + ?Sized>(&self, details: &D) -> bool {
        let bytes = serde_json::to_vec(details).ok();
        activity_context::heartbeat(bytes.as_deref())
    }

    /// The details of the last heartbeat of an earlier attempt: where to
    /// resume. None on a first attempt, or when they do not decode as `T`.
    pub fn heartbeat_details<T: DeserializeOwned>(&self) -> Option<T> {
        self.heartbeat_details
            .as_ref()
            .and_then(|d| serde_json::from_slice(d).ok())
    }
}

#[doc(hidden)]
pub fn __call<I, O, F>(ctx: &ActivityCtx, f: F, input: &[u8]) -> Result<Vec<u8>, bindings::Failure>
where
    I: DeserializeOwned,
    O: Serialize,
    F: FnOnce(&ActivityCtx, I) -> Result<O, Failure>,
{
    let bytes: &[u8] = if input.is_empty() { b"null" } else { input };
    let input: I = serde_json::from_slice(bytes).map_err(|e| {
        to_wit(Failure::bad_input(
            &format!("the input of activity `{}`", ctx.name),
            e,
        ))
    })?;
    let output = f(ctx, input).map_err(to_wit)?;
    serde_json::to_vec(&output)
        .map_err(|e| to_wit(Failure::non_retryable("InvalidOutput", e.to_string())))
}

#[doc(hidden)]
pub fn __unknown(name: &str, served: &[&str]) -> bindings::Failure {
    to_wit(Failure::non_retryable(
        "activity-not-found",
        format!(
            "this component does not serve `{name}`; it serves: {}",
            served.join(", ")
        ),
    ))
}

fn to_wit(f: Failure) -> bindings::Failure {
    bindings::Failure {
        details: f.details_bytes(),
        kind: f.kind,
        message: f.message,
        non_retryable: f.non_retryable,
    }
}

/// Exports functions as activities, named after them or as given. Each
/// takes `(&ActivityCtx, Input)` and returns `Result<Output, Failure>`,
/// where the input and output are any serde types.
///
/// ```ignore
/// weft_sdk::export_activities!(greet, shout);
/// // Activity names are global on a host: a component's names often start
/// // with its own name, which an identifier cannot hold.
/// weft_sdk::export_activities!("billing.charge" => charge, "billing.refund" => refund);
/// ```
#[macro_export]
macro_rules! export_activities {
    ($($name:ident),+ $(,)?) => {
        $crate::export_activities!($(stringify!($name) => $name),+);
    };
    ($($label:expr => $func:ident),+ $(,)?) => {
        struct __WeftActivitiesExport;

        impl $crate::activity::bindings::Guest for __WeftActivitiesExport {
            fn activities() -> ::std::vec::Vec<::std::string::String> {
                ::std::vec![$(::std::string::String::from($label)),+]
            }

            fn execute(
                name: ::std::string::String,
                input: ::std::vec::Vec<u8>,
            ) -> ::std::result::Result<::std::vec::Vec<u8>, $crate::activity::bindings::Failure>
            {
                let ctx = $crate::activity::ActivityCtx::current();
                $(
                    if name == $label {
                        return $crate::activity::__call(&ctx, $func, &input);
                    }
                )+
                ::std::result::Result::Err($crate::activity::__unknown(&name, &[$($label),+]))
            }
        }

        $crate::activity::bindings::__weft_export_activity_world!(
            __WeftActivitiesExport with_types_in $crate::activity::bindings
        );
    };
}
