//! The activities the examples call. Each prints one line per attempt,
//! `effect key=<idempotency key> activity=<name> attempt=<n> output=<output>`,
//! which the host logs: the tests read those lines to check that a side effect
//! keeps its key across retries and crashes.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use weft_sdk::activity::*;

#[derive(Deserialize)]
struct Step {
    text: String,
    #[serde(default)]
    delay_ms: u64,
}

fn effect(ctx: &ActivityCtx, output: &str) {
    println!(
        "effect key={} activity={} attempt={} output={output}",
        ctx.idempotency_key(),
        ctx.name,
        ctx.attempt
    );
}

fn work(ctx: &ActivityCtx, step: &Step, output: String) -> Result<String, Failure> {
    if step.delay_ms > 0 {
        std::thread::sleep(Duration::from_millis(step.delay_ms));
    }
    effect(ctx, &output);
    Ok(output)
}

/// `"world"` -> `"Hello, world"`.
fn greet(ctx: &ActivityCtx, step: Step) -> Result<String, Failure> {
    let out = format!("Hello, {}", step.text);
    work(ctx, &step, out)
}

/// Upper-cases the text.
fn shout(ctx: &ActivityCtx, step: Step) -> Result<String, Failure> {
    let out = step.text.to_uppercase();
    work(ctx, &step, out)
}

/// Appends `!`.
fn exclaim(ctx: &ActivityCtx, step: Step) -> Result<String, Failure> {
    let out = format!("{}!", step.text);
    work(ctx, &step, out)
}

#[derive(Deserialize)]
struct Flaky {
    /// Fail this many attempts before succeeding.
    fail_times: u32,
    /// Fail with a non-retryable failure instead.
    #[serde(default)]
    fatal: bool,
}

/// Fails its first `fail_times` attempts, to show retries.
fn flaky(ctx: &ActivityCtx, input: Flaky) -> Result<u32, Failure> {
    if input.fatal {
        return Err(Failure::non_retryable("Fatal", "asked to fail for good"));
    }
    if ctx.attempt <= input.fail_times {
        return Err(Failure::new(
            "Flaky",
            format!("attempt {} fails on purpose", ctx.attempt),
        ));
    }
    effect(ctx, &ctx.attempt.to_string());
    Ok(ctx.attempt)
}

#[derive(Deserialize)]
struct Charge {
    customer: String,
    plan: String,
    amount_cents: u64,
    /// What the charge is for, e.g. `month 3` or `cancellation`.
    reason: String,
    /// A slow payment provider: take this long.
    #[serde(default)]
    delay_ms: u64,
}

#[derive(Serialize)]
struct Invoice {
    /// Derived from the idempotency key: a retried charge makes the same invoice.
    id: String,
    customer: String,
    plan: String,
    amount_cents: u64,
    reason: String,
}

/// Bills a customer (for the `subscription` example).
fn charge(ctx: &ActivityCtx, c: Charge) -> Result<Invoice, Failure> {
    if c.delay_ms > 0 {
        std::thread::sleep(Duration::from_millis(c.delay_ms));
    }
    let id = format!("inv-{}", ctx.idempotency_key().replace('/', "-"));
    effect(ctx, &format!("{} {} {}", id, c.customer, c.amount_cents));
    Ok(Invoice {
        id,
        customer: c.customer,
        plan: c.plan,
        amount_cents: c.amount_cents,
        reason: c.reason,
    })
}

#[derive(Deserialize)]
struct Trip {
    traveller: String,
    /// `unavailable` makes `book_car` fail for good.
    #[serde(default)]
    car: String,
    /// How long each cancellation takes (to kill the host in the middle).
    #[serde(default)]
    compensation_delay_ms: u64,
}

#[derive(Serialize, Deserialize)]
struct Booking {
    kind: String,
    reference: String,
    #[serde(default)]
    compensation_delay_ms: u64,
}

fn book(ctx: &ActivityCtx, kind: &str, trip: &Trip) -> Booking {
    let reference = format!(
        "{kind}-{}-{}",
        trip.traveller,
        ctx.idempotency_key().replace('/', "-")
    );
    effect(ctx, &reference);
    Booking {
        kind: kind.to_owned(),
        reference,
        compensation_delay_ms: trip.compensation_delay_ms,
    }
}

fn unbook(ctx: &ActivityCtx, booking: Booking) -> Result<String, Failure> {
    if booking.compensation_delay_ms > 0 {
        std::thread::sleep(Duration::from_millis(booking.compensation_delay_ms));
    }
    effect(ctx, &format!("cancelled {}", booking.reference));
    Ok(format!("cancelled {}", booking.reference))
}

/// Books a flight (for `trip-booking`).
fn book_flight(ctx: &ActivityCtx, trip: Trip) -> Result<Booking, Failure> {
    Ok(book(ctx, "flight", &trip))
}

fn book_hotel(ctx: &ActivityCtx, trip: Trip) -> Result<Booking, Failure> {
    Ok(book(ctx, "hotel", &trip))
}

fn book_car(ctx: &ActivityCtx, trip: Trip) -> Result<Booking, Failure> {
    if trip.car == "unavailable" {
        return Err(Failure::non_retryable(
            "NoCar",
            "no car is available for these dates",
        ));
    }
    Ok(book(ctx, "car", &trip))
}

fn cancel_flight(ctx: &ActivityCtx, booking: Booking) -> Result<String, Failure> {
    unbook(ctx, booking)
}

fn cancel_hotel(ctx: &ActivityCtx, booking: Booking) -> Result<String, Failure> {
    unbook(ctx, booking)
}

fn cancel_car(ctx: &ActivityCtx, booking: Booking) -> Result<String, Failure> {
    unbook(ctx, booking)
}

/// The sum of the squares of `items` (for `batch`).
fn square_sum(_ctx: &ActivityCtx, items: Vec<u64>) -> Result<u64, Failure> {
    Ok(items.iter().map(|i| i * i).sum())
}

#[derive(Deserialize)]
struct Range {
    from: u64,
    to: u64,
}

/// The sum of `from..to` (for `iterate`).
fn sum_range(_ctx: &ActivityCtx, r: Range) -> Result<u64, Failure> {
    Ok((r.from..r.to).sum())
}

#[derive(Deserialize)]
struct Poll {
    /// The condition holds at this check.
    ready_after: u32,
    /// On this attempt, stop heartbeating after `hang_after` checks (a lost
    /// worker), so the heartbeat timeout fires.
    #[serde(default)]
    hang_on_attempt: u32,
    #[serde(default)]
    hang_after: u32,
}

#[derive(Serialize, Deserialize)]
struct Polled {
    checks: u32,
    attempt: u32,
}

/// Frequent polling: checks in a loop inside one attempt, heartbeating the
/// count; a new attempt resumes from the last heartbeat.
fn poll_until_ready(ctx: &ActivityCtx, p: Poll) -> Result<Polled, Failure> {
    let mut checks: u32 = ctx.heartbeat_details().unwrap_or(0);
    loop {
        checks += 1;
        if ctx.heartbeat(&checks) {
            return Err(Failure::cancelled("poll_until_ready"));
        }
        if checks >= p.ready_after {
            return Ok(Polled {
                checks,
                attempt: ctx.attempt,
            });
        }
        if ctx.attempt == p.hang_on_attempt && checks == p.hang_after {
            // Lost: no more heartbeats (the host gives up on this attempt).
            std::thread::sleep(Duration::from_secs(600));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[derive(Deserialize)]
struct Check {
    ready_on_attempt: u32,
}

/// Infrequent polling: one check per attempt; the retry policy waits.
fn check_ready(ctx: &ActivityCtx, c: Check) -> Result<String, Failure> {
    if ctx.attempt < c.ready_on_attempt {
        return Err(Failure::new(
            "NotReady",
            format!("not ready at attempt {}", ctx.attempt),
        ));
    }
    Ok(format!("ready on attempt {}", ctx.attempt))
}

/// The value of an environment variable, if the deploy opened it.
fn read_env(_ctx: &ActivityCtx, key: String) -> Result<String, Failure> {
    std::env::var(&key).map_err(|_| {
        Failure::non_retryable("Denied", format!("no environment variable {key} was given"))
    })
}

/// The contents of a file, if the deploy opened a directory holding it.
fn read_file(_ctx: &ActivityCtx, path: String) -> Result<String, Failure> {
    std::fs::read_to_string(&path)
        .map_err(|e| Failure::non_retryable("Denied", format!("cannot read {path}: {e}")))
}

/// Writes a file (refused in a read-only directory).
fn write_file(_ctx: &ActivityCtx, path: String) -> Result<String, Failure> {
    std::fs::write(&path, "written")
        .map(|()| "written".to_owned())
        .map_err(|e| Failure::non_retryable("Denied", format!("cannot write {path}: {e}")))
}

/// GETs a URL over `wasi:http` (only hosts opened at deploy are reachable)
/// and returns the body.
fn http_get(_ctx: &ActivityCtx, url: String) -> Result<String, Failure> {
    use wasi::http::outgoing_handler;
    use wasi::http::types::{Fields, Method, OutgoingRequest, Scheme};
    use wasi::io::streams::StreamError;

    let bad = |what: String| Failure::non_retryable("BadUrl", what);
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad(format!("{url}: only http:// URLs")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    let _ = request.set_method(&Method::Get);
    let _ = request.set_scheme(Some(&Scheme::Http));
    let _ = request.set_authority(Some(authority));
    let _ = request.set_path_with_query(Some(path));
    let denied = |e: String| Failure::non_retryable("Denied", format!("GET {url}: {e}"));
    let pending = outgoing_handler::handle(request, None).map_err(|e| denied(format!("{e:?}")))?;
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(r))) => r,
        Some(Ok(Err(e))) => return Err(denied(format!("{e:?}"))),
        other => return Err(denied(format!("no response ({other:?})"))),
    };
    let body = response.consume().map_err(|()| denied("no body".into()))?;
    let stream = body
        .stream()
        .map_err(|()| denied("no body stream".into()))?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => bytes.extend(chunk),
            Err(StreamError::Closed) => break,
            Err(e) => return Err(denied(format!("{e:?}"))),
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[derive(Deserialize)]
struct Uses {
    /// Panic on the first attempt (the retry then runs in a fresh instance).
    #[serde(default)]
    trap: bool,
}

/// Attempts this instance has served, this one included.
static SERVED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// How many attempts the instance running it has served: the host keeps an
/// instance that returned for later attempts and drops one that trapped.
fn instance_uses(ctx: &ActivityCtx, input: Uses) -> Result<u32, Failure> {
    let n = SERVED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    if input.trap && ctx.attempt == 1 {
        panic!("asked to trap on the first attempt");
    }
    Ok(n)
}

weft_sdk::export_activities!(
    instance_uses,
    http_get,
    read_env,
    read_file,
    write_file,
    poll_until_ready,
    check_ready,
    greet,
    shout,
    exclaim,
    flaky,
    charge,
    book_flight,
    book_hotel,
    book_car,
    cancel_flight,
    cancel_hotel,
    cancel_car,
    square_sum,
    sum_range
);
