//! W3-W6: sleepers, recovery, the cold path, signals. Each runs its own host
//! process (release build, durable commits) so figures do not mix.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use weft_e2e::{guest, Host};

use crate::client::start_many;
use crate::scrape::{peak_rss_bytes, rss_bytes, Scrape, Window};

/// Polls the metrics until `key` reaches `target`; returns the time taken.
pub(crate) fn until_metric(host: &Host, key: &str, target: f64, limit: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let v = Scrape::of(host).value(key);
        if v >= target {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < limit,
            "{key} reached {v} of {target} within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn deploy(host: &Host, names: &[&str]) {
    for n in names {
        host.cli_ok(&["deploy", &guest(n).to_string_lossy()]);
    }
}

const COMPLETED: &str = "weft_executions_closed_total{status=\"completed\"}";

/// W3: `n` executions each blocked on a timer. Starts/s, host RSS growth per
/// blocked (evicted) execution, and the time for all to finish once the clock
/// passes their timers.
pub fn sleepers(n: usize, in_flight: usize) {
    let host = Host::launch(&["--manual-clock", "--evict-after-ms", "1000"], "warn");
    deploy(&host, &["misbehave"]);
    let pid = host.pid().expect("host pid");
    // One execution first, so the component is compiled and loaded.
    let warm = host.start_execution("misbehave", json!({"mode": "ok"}));
    host.wait_result(&warm);
    let rss0 = rss_bytes(pid);
    let starts = start_many(
        &host,
        "misbehave",
        |_| json!({"mode": "sleep"}),
        n,
        in_flight,
    );
    let started = starts.wall;
    until_metric(
        &host,
        "weft_evictions_total",
        n as f64,
        Duration::from_secs(600),
    );
    let rss1 = rss_bytes(pid);
    host.advance(61_000);
    let finished = until_metric(&host, COMPLETED, (n + 1) as f64, Duration::from_secs(3600));
    let peak = peak_rss_bytes(pid);
    let growth = rss1.saturating_sub(rss0);
    println!(
        "W3 sleepers: {n} started in {:.2} s ({:.0}/s; host {:.0} us, client {:.0} us of CPU \
         per start); host RSS {} MiB -> {} MiB once all were \
         blocked and evicted: {:.2} KiB per sleeping execution; all {n} finished {:.2} s after \
         the clock passed their timers ({:.0}/s), peak RSS {} MiB",
        started.as_secs_f64(),
        n as f64 / started.as_secs_f64(),
        starts.cpu.host_us(),
        starts.cpu.client_us(),
        rss0 >> 20,
        rss1 >> 20,
        growth as f64 / 1024.0 / n as f64,
        finished.as_secs_f64(),
        n as f64 / finished.as_secs_f64(),
        peak >> 20,
    );
}

/// W4: `n` executions run their three activities and wait on a timer; the
/// host is SIGKILLed with all of them in flight and restarted, the clock
/// passes the timer, and the time until every one has completed is
/// measured, with the replayed events per second and the events their
/// histories held at the kill per second (a replay the recovery did not
/// need counts in the first, not in the second).
pub fn recovery(n: usize, in_flight: usize) {
    let mut host = Host::launch(&["--manual-clock"], "warn");
    deploy(&host, &["hello", "hello-activities"]);
    let ids = start_many(
        &host,
        "hello",
        |i| json!({"name": format!("r{i}"), "sleep_ms": 60_000}),
        n,
        in_flight,
    )
    .ids;
    // Every one has run its activities and waits on its timer.
    until_metric(
        &host,
        "weft_activity_attempts_total",
        (3 * n) as f64,
        Duration::from_secs(1200),
    );
    // Counted before the kill, and the end watched on the restarted host's
    // counter of closed executions (it starts at zero): listing 10,000
    // running executions every 100 ms, as this did, loaded the host it
    // measured and stretched the figure by up to 100 ms.
    let running = host.list_all("status=running").len();
    // The events a recovery must bring back: every waiting history has the
    // same length (the same workflow, at the same wait).
    let waiting_events = running
        * host.get(&format!("/v1/executions/{}/history", ids[0]))["events"]
            .as_array()
            .map_or(0, Vec::len);
    let t0 = Instant::now();
    host.kill_and_restart();
    let listening = t0.elapsed();
    host.advance(61_000);
    // Every close counts (one that failed must end the wait, not stretch
    // it to the limit); that all completed is asserted below.
    while Scrape::of(&host).value("weft_executions_closed_total") < running as f64 {
        assert!(
            t0.elapsed() < Duration::from_secs(1200),
            "recovery did not finish"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = t0.elapsed();
    let after = Scrape::of(&host);
    let replayed = after.value("weft_replayed_events_total");
    assert_eq!(
        after.value("weft_executions_closed_total{status=\"completed\"}"),
        running as f64,
        "every execution running at the kill completed"
    );
    assert_eq!(
        host.list_all("status=running").len(),
        0,
        "every execution completed"
    );
    // Every execution, before or after the kill, ends with the right output.
    for (i, id) in ids.iter().enumerate().step_by((n / 100).max(1)) {
        let r = host.wait_result(id);
        assert_eq!(r["output"], format!("HELLO, R{i}!"), "{id}: {r}");
    }
    println!(
        "W4 recovery: SIGKILL with {running} of {n} executions running; the host listened again \
         {:.2} s after the kill, all completed {:.2} s after it; {replayed} events replayed \
         ({:.0} events/s); their histories held {waiting_events} events at the kill ({:.0} \
         history events recovered/s)",
        listening.as_secs_f64(),
        took.as_secs_f64(),
        replayed / took.as_secs_f64(),
        waiting_events as f64 / took.as_secs_f64()
    );
}

/// W5: deploying a module (compile), instantiating a cached component (from
/// the host's histogram over a W1-like run), and replaying a history of about
/// 10,000 events offline.
pub fn cold_path() {
    // Its own empty compile cache, so a deploy includes the compile.
    let cache = tempfile::tempdir().expect("temp dir");
    let host = Host::launch(
        &["--compile-cache", &cache.path().to_string_lossy()],
        "warn",
    );
    let mut deploys = Vec::new();
    for (name, path) in [
        ("hello", "/v1/modules?name=hello"),
        ("hello-activities", "/v1/modules"),
        ("iterate", "/v1/modules?name=iterate"),
    ] {
        let bytes = std::fs::read(guest(name)).expect("component");
        let t0 = Instant::now();
        let (code, v) = host.post_bytes(path, bytes);
        assert!(code == 200 || code == 201, "deploy {name}: {v}");
        deploys.push(format!(
            "{name} {:.0} ms",
            t0.elapsed().as_secs_f64() * 1000.0
        ));
    }
    let before = Scrape::of(&host);
    for i in 0..200 {
        let id = host.start_execution("hello", json!({"name": format!("c{i}")}));
        host.wait_result(&id);
    }
    let inst = Window::between(&before, &Scrape::of(&host), "weft_instantiate_seconds");

    // One run of 5,000 one-item chunks: 5,000 activities, ~10,000 events.
    let id = host.start_execution(
        "iterate",
        json!({"total": 5000, "chunk": 1, "ignore_suggestion": true}),
    );
    let r = host.wait_result(&id);
    assert_eq!(r["status"], "completed", "{r}");
    let dir = tempfile::tempdir().expect("temp dir");
    let history = dir.path().join("history.json");
    let export = host.cli_ok(&["history", &id, "--json"]);
    std::fs::write(&history, &export).expect("write the history");
    let events = serde_json::from_str::<Value>(&export).expect("history JSON")["events"]
        .as_array()
        .map_or(0, Vec::len);
    let replay = replay_in_process(&history, &guest("iterate"));
    println!(
        "W5 cold path: deploy (compile + inspect) {}; instantiate a cached component: mean {:.1} \
         us, p99 <= {:.0} us over {} instantiations; replay of a {events}-event history: {:.1} ms \
         (offline, module already compiled)",
        deploys.join(", "),
        inst.mean * 1e6,
        inst.quantile_le(0.99) * 1e6,
        inst.count,
        replay.as_secs_f64() * 1000.0
    );
}

/// Replays the history against the module in this process, twice: the
/// first compiles, the second is timed.
fn replay_in_process(history: &std::path::Path, module: &std::path::Path) -> Duration {
    let text = std::fs::read_to_string(history).expect("history");
    let bytes = std::fs::read(module).expect("module");
    let hash = weft::model::ModuleHash::of(&bytes);
    let cache = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let runtime =
            weft::engine::Engine::offline_runtime(cache.path().to_path_buf()).expect("runtime");
        let mut took = Duration::ZERO;
        for _ in 0..2 {
            let export = serde_json::from_str(&text).expect("history export");
            let t0 = Instant::now();
            let report = weft::engine::replay_offline(&runtime, &hash, &bytes, export).await;
            took = t0.elapsed();
            assert!(
                matches!(report, weft::engine::ReplayReport::Clean { .. }),
                "{report:?}"
            );
        }
        took
    })
}

/// W6: `signals` signals spread over `executions` subscriptions;
/// signal-to-delivery latency from the host's histogram.
pub fn signals(executions: usize, signals: usize, threads: usize) {
    let host = Host::launch(&[], "warn");
    deploy(&host, &["subscription", "hello-activities"]);
    let ids = start_many(
        &host,
        "subscription",
        |i| json!({"customer": format!("c{i}"), "plan": "basic"}),
        executions,
        threads,
    )
    .ids;
    let before = Scrape::of(&host);
    let next = AtomicUsize::new(0);
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= signals {
                    break;
                }
                let id = &ids[i % ids.len()];
                let plan = if (i / ids.len()).is_multiple_of(2) {
                    "pro"
                } else {
                    "basic"
                };
                let (code, v) = host.call(
                    "POST",
                    &format!("/v1/executions/{id}/signals"),
                    Some(json!({"name": "change-plan", "input": plan})),
                );
                assert_eq!(code, 202, "signal: {v}");
            });
        }
    });
    let sent = t0.elapsed();
    let target = before.value("weft_signal_delivery_seconds_count") + signals as f64;
    until_metric(
        &host,
        "weft_signal_delivery_seconds_count",
        target,
        Duration::from_secs(600),
    );
    let all = t0.elapsed();
    let w = Window::between(&before, &Scrape::of(&host), "weft_signal_delivery_seconds");
    println!(
        "W6 signals: {signals} signals to {executions} executions sent in {:.2} s ({:.0}/s), all \
         delivered after {:.2} s; record-to-delivery latency mean {:.1} ms, p50 <= {:.0} ms, p99 \
         <= {:.0} ms",
        sent.as_secs_f64(),
        signals as f64 / sent.as_secs_f64(),
        all.as_secs_f64(),
        w.mean * 1000.0,
        w.quantile_le(0.5) * 1000.0,
        w.quantile_le(0.99) * 1000.0
    );
}

/// Per guest language: component size, deploy (compile) time, W1 (the
/// `hello` workflow, three Rust activities) executions/s and latency, and the
/// mean instantiation of the cached workflow component.
pub fn languages(n: usize, in_flight: usize) {
    let cache = tempfile::tempdir().expect("temp dir");
    let host = Host::launch(
        &["--compile-cache", &cache.path().to_string_lossy()],
        "warn",
    );
    deploy(&host, &["hello-activities"]);
    println!(
        "{:<10} {:>9} {:>10} {:>10} {:>9} {:>9} {:>14} {:>8} {:>10}",
        "language",
        "size MB",
        "deploy s",
        "exec/s",
        "p50 ms",
        "p99 ms",
        "instantiate us",
        "host us",
        "client us"
    );
    for (lang, component) in [
        ("rust", "hello"),
        ("js", "js-hello"),
        ("python", "py-hello"),
    ] {
        let path = guest(component);
        let Ok(bytes) = std::fs::read(&path) else {
            println!("{lang:<10} (no {} built)", path.display());
            continue;
        };
        let size = bytes.len();
        let t0 = Instant::now();
        let (code, v) = host.post_bytes(&format!("/v1/modules?name={component}"), bytes);
        assert!(code == 200 || code == 201, "deploy {component}: {v}");
        let deployed = t0.elapsed();
        // Warm: the first run loads the compiled component.
        host.wait_result(&host.start_execution(component, json!({"name": "warm"})));
        let before = Scrape::of(&host);
        let f = crate::client::drive(
            &host,
            "",
            component,
            json!({"name": "bench"}),
            json!("HELLO, BENCH!"),
            n,
            in_flight,
        );
        let inst = Window::between(&before, &Scrape::of(&host), "weft_instantiate_seconds");
        println!(
            "{lang:<10} {:>9.2} {:>10.2} {:>10.0} {:>9.1} {:>9.1} {:>14.0} {:>8.0} {:>10.0}",
            size as f64 / 1e6,
            deployed.as_secs_f64(),
            f.per_sec(),
            f.percentile(0.5),
            f.percentile(0.99),
            inst.mean * 1e6,
            f.cpu.host_us(),
            f.cpu.client_us(),
        );
    }
}

/// The retention check of the operator issue: W1 without pause for
/// `minutes` minutes on a host keeping closed executions `retention_minutes`,
/// printing the store file's size each minute. The sweeper frees what ran
/// out, and redb reuses the freed pages, so the file stops growing once the
/// kept window is full: the size at the end is compared with the size at a
/// third of the run.
pub fn retention(minutes: usize, retention_minutes: usize, in_flight: usize) {
    let retention = format!("{retention_minutes}m");
    let host = Host::launch(&["--retention", &retention], "warn");
    deploy(&host, &["hello-activities", "hello"]);
    let file = host.data_dir().join("weft.redb");
    let size = || std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let done = AtomicUsize::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut sizes = Vec::new();
    println!(
        "W1 for {minutes} min at {in_flight} in flight, retention {retention_minutes} min, release host"
    );
    println!(
        "{:>4} {:>12} {:>12} {:>10}",
        "min", "file MiB", "executions", "kept"
    );
    std::thread::scope(|s| {
        for _ in 0..in_flight {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let (id, r) = host.run_execution("hello", json!({"name": "kept"}));
                    assert_eq!(r["output"], json!("HELLO, KEPT!"), "{id}: {r}");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let t0 = Instant::now();
        for minute in 1..=minutes {
            let due = Duration::from_secs(60 * minute as u64);
            std::thread::sleep(due.saturating_sub(t0.elapsed()));
            let kept = Scrape::of(&host).value("weft_executions{status=\"completed\"}");
            sizes.push(size());
            println!(
                "{minute:>4} {:>12.1} {:>12} {:>10.0}",
                size() as f64 / (1 << 20) as f64,
                done.load(Ordering::Relaxed),
                kept
            );
        }
        stop.store(true, Ordering::Relaxed);
    });
    let third = sizes[(minutes / 3).max(1) - 1];
    let last = *sizes.last().expect("at least a minute");
    println!(
        "file at {minutes} min / at {} min: {:.2} (target <= 1.10)",
        (minutes / 3).max(1),
        last as f64 / third as f64
    );
}

/// What the UI's executions page costs: `n` closed executions in the store,
/// then pages of `GET /v1/executions` timed (the first, a deep one reached
/// by cursor, and filtered ones). Target: every page < 200 ms at 100,000.
pub fn listing(n: usize, in_flight: usize) {
    let host = Host::launch(&[], "warn");
    deploy(&host, &["misbehave"]);
    let t0 = Instant::now();
    start_many(&host, "misbehave", |_| json!({"mode": "ok"}), n, in_flight);
    until_metric(&host, COMPLETED, n as f64, Duration::from_secs(600));
    println!(
        "{n} executions started and completed in {:.1} s; timing list pages (5 each):",
        t0.elapsed().as_secs_f64()
    );
    let time = |path: &str| -> (f64, f64) {
        let mut ms: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                let (code, v) = host.call("GET", path, None);
                assert_eq!(code, 200, "{path}: {v}");
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        (ms[2], ms[4])
    };
    // A deep cursor: follow pages of 1,000 most of the way down.
    let mut cursor = String::new();
    for _ in 0..(n / 1000).saturating_sub(2) {
        let v = host.get(&format!("/v1/executions?limit=1000{cursor}"));
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    for (label, path) in [
        ("first page (50)", "/v1/executions?limit=50".to_owned()),
        ("deep page (50)", format!("/v1/executions?limit=50{cursor}")),
        (
            "status=completed",
            "/v1/executions?limit=50&status=completed".to_owned(),
        ),
        (
            "workflow_type",
            "/v1/executions?limit=50&workflow_type=misbehave".to_owned(),
        ),
        (
            "id_prefix (no match)",
            "/v1/executions?limit=50&id_prefix=zz".to_owned(),
        ),
        // Not a page: the gauges of executions by status it prints.
        ("/metrics (a scrape)", "/metrics".to_owned()),
    ] {
        let (p50, max) = time(&path);
        println!("  {label:<24} p50 {p50:>7.1} ms   max {max:>7.1} ms");
    }
}

/// What the UI's execution page costs on a long history: an execution with
/// about 20,000 events (10,000 sequential activities in one run), opened in
/// the headless Chromium the UI tests use; the time until its timeline is
/// drawn and until its event list is, and how many table rows the page
/// holds (bounded by the paging). Target: < 2 s.
pub fn history_paint(activities: u64) {
    let host = Host::launch(
        &[
            "--history-warn-events",
            "1000000",
            "--history-max-events",
            "1000000",
        ],
        "warn",
    );
    host.deploy_examples();
    let t0 = Instant::now();
    let (id, r) = host.run_execution(
        "iterate",
        json!({"total": activities * 10, "chunk": 10, "ignore_suggestion": true}),
    );
    assert_eq!(r["status"], "completed", "{r}");
    let events = host.describe(&id)["history_length"].as_u64().unwrap_or(0);
    println!(
        "{events} events in one run ({activities} activities) made in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let b = weft_e2e::browser::Browser::start();
    for round in 0..3 {
        let t = Instant::now();
        b.goto(&format!("{}/#/executions/{id}?round={round}", host.url));
        b.find("#timeline-svg .timeline-row");
        let timeline = t.elapsed();
        let bars = b.eval(
            "return document.querySelectorAll('#timeline-svg rect').length;",
            vec![],
        );
        b.click("#tab-events");
        b.find("#events tr[data-index]");
        let list = t.elapsed();
        let rows = b.eval("return document.querySelectorAll('tr').length;", vec![]);
        println!(
            "  open #{round}: timeline drawn in {:.0} ms, event list in {:.0} ms; {rows} table rows, \
             {bars} timeline bars in the page",
            timeline.as_secs_f64() * 1000.0,
            list.as_secs_f64() * 1000.0
        );
    }
}

/// W1 beside `sleepers` executions blocked on long timers: closing an
/// execution must not cost in proportion to everybody else's timers.
pub fn w1_beside_sleepers(sleepers: usize, n: usize, in_flight: usize) {
    let host = Host::launch(&["--manual-clock", "--evict-after-ms", "1000"], "warn");
    host.deploy_examples();
    let alone = crate::client::drive(
        &host,
        "W1 alone",
        "hello",
        json!({"name": "bench"}),
        json!("HELLO, BENCH!"),
        n,
        in_flight,
    );
    start_many(
        &host,
        "misbehave",
        |_| json!({"mode": "sleep"}),
        sleepers,
        64,
    );
    until_metric(
        &host,
        "weft_pending_timers",
        sleepers as f64,
        Duration::from_secs(600),
    );
    let beside = crate::client::drive(
        &host,
        "W1 beside sleepers",
        "hello",
        json!({"name": "bench"}),
        json!("HELLO, BENCH!"),
        n,
        in_flight,
    );
    println!(
        "W1 alone {:.0} exec/s; beside {sleepers} sleepers {:.0} exec/s (ratio {:.2})",
        alone.per_sec(),
        beside.per_sec(),
        beside.per_sec() / alone.per_sec()
    );
}

/// Long history: the cost of one step (a signal in, the workflow's task
/// that takes it, and a query that sees it) on a cached `subscription`
/// execution whose history holds `events` events, against one that holds
/// about 50, measured alternately (`steps` each) on the same host; then the
/// same step after the long one was evicted (replayed first), for the
/// per-event replay cost.
pub fn long_history(events: usize, steps: usize, threads: usize) {
    // Past the default history limit (51,200 events) when asked for more.
    let limit = (events * 2).max(51_200).to_string();
    let host = Host::launch(
        &["--evict-after-ms", "1000", "--history-max-events", &limit],
        "warn",
    );
    deploy(&host, &["subscription", "hello-activities"]);
    let short = host.start_execution(
        "subscription",
        json!({"customer": "short", "plan": "basic"}),
    );
    let long = host.start_execution("subscription", json!({"customer": "long", "plan": "basic"}));
    let length = |id: &str| host.get(&format!("/v1/executions/{id}"))["history_length"].as_u64();
    let changes = |id: &str| {
        host.call(
            "POST",
            &format!("/v1/executions/{id}/queries"),
            Some(json!({"name": "status"})),
        )
        .1["output"]["plan_changes"]
            .as_u64()
            .unwrap_or(0)
    };
    let signal = |id: &str, plan: &str| {
        let (code, v) = host.call(
            "POST",
            &format!("/v1/executions/{id}/signals"),
            Some(json!({"name": "change-plan", "input": plan})),
        );
        assert_eq!(code, 202, "signal: {v}");
    };

    // The short one: about 50 events.
    while length(&short).unwrap_or(0) < 50 {
        signal(&short, "pro");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Grow the long one: signals from several threads, until its history
    // holds `events` events.
    let t0 = Instant::now();
    while length(&long).unwrap_or(0) < events as u64 {
        let missing = events as u64 - length(&long).unwrap_or(0);
        let batch = (missing as usize / 2).clamp(1, 10_000);
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    while next.fetch_add(1, Ordering::Relaxed) < batch {
                        signal(&long, "pro");
                    }
                });
            }
        });
        // Let the workflow take them before measuring the length again.
        std::thread::sleep(Duration::from_millis(500));
    }
    let grown = t0.elapsed();
    let long_events = length(&long).unwrap_or(0);
    let short_events = length(&short).unwrap_or(0);

    // One step: a signal, then queries until the workflow has taken it
    // (`taken` is how many it had taken before: not asked here, since a
    // query would load an evicted instance before the clock starts).
    let step = |id: &str, taken: &mut u64| -> Duration {
        let t = Instant::now();
        signal(
            id,
            if taken.is_multiple_of(2) {
                "basic"
            } else {
                "pro"
            },
        );
        while changes(id) <= *taken {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "the signal was not taken"
            );
        }
        *taken += 1;
        t.elapsed()
    };
    let (mut short_taken, mut long_taken) = (changes(&short), changes(&long));
    // Warm both, then alternate so the machine's drift falls on both.
    step(&short, &mut short_taken);
    step(&long, &mut long_taken);
    let (mut on_short, mut on_long) = (Vec::new(), Vec::new());
    for _ in 0..steps {
        on_short.push(step(&short, &mut short_taken).as_secs_f64());
        on_long.push(step(&long, &mut long_taken).as_secs_f64());
    }
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[((v.len() as f64 * p) as usize).min(v.len() - 1)] * 1000.0
    };
    let (s50, s99) = (pct(&mut on_short, 0.5), pct(&mut on_short, 0.99));
    let (l50, l99) = (pct(&mut on_long, 0.5), pct(&mut on_long, 0.99));

    // Evicted: idle past --evict-after-ms, then one step (a replay first).
    let before = Scrape::of(&host);
    let mut evicted = Vec::new();
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(2_500));
        evicted.push(step(&long, &mut long_taken).as_secs_f64());
    }
    let replayed = Scrape::of(&host).value("weft_replayed_events_total")
        - before.value("weft_replayed_events_total");
    let evicted_ms = pct(&mut evicted, 0.5);
    println!(
        "long history: {long_events} events (grown in {:.1} s) against {short_events}: a cached \
         step (signal, task, query) p50 {l50:.2} ms / p99 {l99:.2} ms against p50 {s50:.2} ms / \
         p99 {s99:.2} ms ({:.2}x / {:.2}x, {steps} steps each, alternating); after eviction a \
         step takes {evicted_ms:.1} ms (median of 5; {replayed:.0} events replayed over the 5): \
         {:.2} us per event replayed",
        grown.as_secs_f64(),
        l50 / s50,
        l99 / s99,
        (evicted_ms - l50) * 1000.0 / long_events as f64,
    );
}
