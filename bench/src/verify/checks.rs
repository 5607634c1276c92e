//! The checks at the end of a seed: exact, from the host's records, the
//! runner's own log of what it sent, and the pure model.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

use super::driver::{Exec, Run};
use super::model::{self, Expected, Inputs};
use super::program::Program;

/// What the checks found.
pub struct Found {
    pub executions: usize,
    pub replayed: usize,
    pub violations: Vec<String>,
}

/// One execution as the host reports it, with every run's history.
struct Recorded {
    id: String,
    status: String,
    /// The module it is on now (where its last run ended).
    module: String,
    output: Value,
    failure_kind: String,
    /// Each run's exported history (`weft history ID --run N --json`).
    runs: Vec<Value>,
}

impl Recorded {
    /// The runs of its last start: a start of an id whose last run closed
    /// (a child started again after its parent's reset) begins anew.
    fn chain(&self) -> &[Value] {
        let fresh = (1..self.runs.len())
            .rev()
            .find(|&i| {
                let previous = self.runs[i - 1]["events"].as_array();
                previous.and_then(|e| e.last()).map(kind_of) != Some("execution_continued_as_new")
            })
            .unwrap_or(0);
        &self.runs[fresh..]
    }

    /// The events of the last chain of runs.
    fn events(&self) -> impl Iterator<Item = &Value> {
        self.chain()
            .iter()
            .flat_map(|r| r["events"].as_array().into_iter().flatten())
    }

    fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> {
        self.events().filter(move |e| kind_of(e) == kind)
    }
}

fn kind_of(e: &Value) -> &str {
    e["event"]["type"].as_str().unwrap_or_default()
}

/// A payload field (the UTF-8 JSON text) as JSON.
fn payload(v: &Value) -> Value {
    match v.as_str() {
        Some(text) => serde_json::from_str(text).unwrap_or(Value::String(text.into())),
        None => v.clone(),
    }
}

const CLOSES: &[&str] = &[
    "execution_completed",
    "execution_failed",
    "execution_cancelled",
    "execution_terminated",
    "execution_continued_as_new",
];

const COMPLETIONS: &[&str] = &[
    "activity_completed",
    "activity_failed",
    "timer_fired",
    "timer_cancelled",
    "child_completed",
];

pub fn check(run: &mut Run) -> Found {
    let mut v = std::mem::take(&mut run.violations);
    let mut recorded: BTreeMap<String, Recorded> = BTreeMap::new();
    for x in run.host.list_all("") {
        let id = x["id"].as_str().unwrap_or_default().to_owned();
        let d = run.host.describe(&id);
        let runs = d["run"].as_u64().unwrap_or(1);
        let histories = (1..=runs)
            .map(|r| {
                run.host
                    .get(&format!("/v1/executions/{id}/history?run={r}"))
            })
            .collect();
        recorded.insert(
            id.clone(),
            Recorded {
                id,
                status: d["status"].as_str().unwrap_or_default().to_owned(),
                module: d["module"].as_str().unwrap_or_default().to_owned(),
                output: d["output"].clone(),
                failure_kind: d["failure"]["kind"].as_str().unwrap_or_default().to_owned(),
                runs: histories,
            },
        );
    }
    let dump: BTreeMap<&String, &Vec<Value>> = recorded.iter().map(|(k, r)| (k, &r.runs)).collect();
    let _ = std::fs::write(
        run.log_dir.join("histories.json"),
        serde_json::to_string_pretty(&dump).unwrap_or_default(),
    );
    for r in recorded.values() {
        let top = r.id.split('-').take(2).collect::<Vec<_>>().join("-");
        let reset_parent = top != r.id && run.resets.contains(&top);
        structure(r, reset_parent, &mut v);
    }
    children_reports(&recorded, &mut v);
    for e in &run.execs {
        tree(run, e, &recorded, &mut v);
    }
    effects(run, &mut v);
    let replayed = replays(run, &recorded, &mut v);
    Found {
        executions: recorded.len(),
        replayed,
        violations: v,
    }
}

/// Each run: one start, first; at most one close, last; runs before the
/// last end by continuing as new (or, for a child whose parent was reset,
/// terminated), the last by the execution's status; no handle completed
/// twice.
fn structure(r: &Recorded, reset_parent: bool, v: &mut Vec<String>) {
    let id = &r.id;
    if !matches!(
        r.status.as_str(),
        "completed" | "failed" | "cancelled" | "terminated"
    ) {
        v.push(format!("{id} did not end: {}", r.status));
    }
    for (i, h) in r.runs.iter().enumerate() {
        let n = i + 1;
        let events = h["events"].as_array().cloned().unwrap_or_default();
        let kinds: Vec<&str> = events.iter().map(kind_of).collect();
        if kinds.first() != Some(&"execution_started") {
            v.push(format!(
                "{id} run {n} does not begin with its start: {kinds:?}"
            ));
        }
        if kinds.iter().filter(|k| **k == "execution_started").count() != 1 {
            v.push(format!("{id} run {n} has more than one start: {kinds:?}"));
        }
        if let Some(p) = kinds.iter().position(|k| CLOSES.contains(k)) {
            if p + 1 != kinds.len() {
                v.push(format!(
                    "{id} run {n}: events after its close ({}): {:?}",
                    kinds[p],
                    &kinds[p..]
                ));
            }
        }
        let last = kinds.last().copied().unwrap_or_default();
        let want = if n < r.runs.len() {
            "execution_continued_as_new".to_owned()
        } else {
            format!("execution_{}", r.status)
        };
        // A reset of a parent to before it started a child terminates the
        // child (or finds it closed); the parent's re-run starts the child's
        // id again.
        let restarted = n < r.runs.len() && CLOSES.contains(&last) && reset_parent;
        // One that did not end is reported as such above.
        let open = n == r.runs.len()
            && !matches!(
                r.status.as_str(),
                "completed" | "failed" | "cancelled" | "terminated"
            );
        if last != want && !restarted && !open {
            v.push(format!(
                "{id} run {n} ends with {last}, expected {want} ({} runs, status {})",
                r.runs.len(),
                r.status
            ));
        }
        let mut done: BTreeMap<u64, usize> = BTreeMap::new();
        for e in &events {
            if COMPLETIONS.contains(&kind_of(e)) {
                *done
                    .entry(e["event"]["handle"].as_u64().unwrap_or(u64::MAX))
                    .or_default() += 1;
            }
        }
        for (handle, times) in done {
            if times > 1 {
                v.push(format!(
                    "{id} run {n}: handle {handle} completed {times} times"
                ));
            }
        }
    }
}

/// Every child's end reached its parent once, as the child ended; a run that
/// went past its children (it did not end by cancel or terminate) heard
/// from each of them.
fn children_reports(recorded: &BTreeMap<String, Recorded>, v: &mut Vec<String>) {
    for parent in recorded.values() {
        for (i, h) in parent.runs.iter().enumerate() {
            let events = h["events"].as_array().cloned().unwrap_or_default();
            let last = events.last().map(kind_of).unwrap_or_default();
            let heard_all = matches!(
                last,
                "execution_completed" | "execution_failed" | "execution_continued_as_new"
            );
            for started in events.iter().filter(|e| kind_of(e) == "child_started") {
                let handle = &started["event"]["handle"];
                let child_id = started["event"]["child_id"].as_str().unwrap_or_default();
                let reports: Vec<&Value> = events
                    .iter()
                    .filter(|e| kind_of(e) == "child_completed" && e["event"]["handle"] == *handle)
                    .collect();
                let run = i + 1;
                if reports.len() > 1 || (heard_all && reports.len() != 1) {
                    v.push(format!(
                        "{} run {run}: child {child_id} reported its end {} times",
                        parent.id,
                        reports.len()
                    ));
                }
                let Some(report) = reports.first() else {
                    continue;
                };
                let Some(child) = recorded.get(child_id) else {
                    v.push(format!("{}: child {child_id} does not exist", parent.id));
                    continue;
                };
                let told = &report["event"];
                let agrees = match child.status.as_str() {
                    "completed" => payload(&told["output"]) == child.output,
                    "failed" => told["failure"]["kind"] == child.failure_kind.as_str(),
                    other => told["failure"]["kind"] == other,
                };
                if !agrees {
                    v.push(format!(
                        "{} run {run}: child {child_id} ended {} ({} {}) but told its parent {told}",
                        parent.id, child.status, child.output, child.failure_kind
                    ));
                }
            }
        }
    }
}

/// A kitchen-sink input without what runs carry across continue-as-new
/// (the workflow writes those fields into its children's inputs too).
fn program_only(mut v: Value) -> Value {
    match &mut v {
        Value::Object(m) => {
            for carried in ["done", "counter", "charged", "run"] {
                m.remove(carried);
            }
            for x in m.values_mut() {
                *x = program_only(x.take());
            }
        }
        Value::Array(a) => {
            for x in a.iter_mut() {
                *x = program_only(x.take());
            }
        }
        _ => {}
    }
    v
}

/// An execution of a top-level program's tree.
struct Node {
    id: String,
    program: Program,
    /// Its parent's index in the tree.
    parent: Option<usize>,
    /// Its `child` steps' ids and the children they started.
    children: Vec<(u64, String)>,
}

/// The executions under `top` (itself first), found through the children
/// their histories started (the last chain of runs of each).
fn programs(top: &Exec, recorded: &BTreeMap<String, Recorded>, v: &mut Vec<String>) -> Vec<Node> {
    let mut nodes = vec![Node {
        id: top.id.clone(),
        program: top.program.clone(),
        parent: None,
        children: Vec::new(),
    }];
    let mut next = 0;
    while next < nodes.len() {
        let id = nodes[next].id.clone();
        let Some(r) = recorded.get(&id) else {
            v.push(format!("{id} is not in the host's list"));
            next += 1;
            continue;
        };
        let started: Vec<&Value> = r.of_kind("child_started").collect();
        let expected: Vec<(u64, Program)> = nodes[next]
            .program
            .children()
            .into_iter()
            .map(|(step, p)| (step, p.clone()))
            .collect();
        if started.len() > expected.len() {
            v.push(format!(
                "{id} started {} children, its program has {}",
                started.len(),
                expected.len()
            ));
        }
        for (e, (step, child)) in started.iter().zip(expected) {
            let child_id = e["event"]["child_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let input = program_only(payload(&e["event"]["input"]));
            let want = child.to_json();
            if input != want {
                v.push(format!(
                    "{id} started child {child_id} with {input}, its program is {want}"
                ));
            }
            nodes[next].children.push((step, child_id.clone()));
            nodes.push(Node {
                id: child_id,
                program: child,
                parent: Some(next),
                children: Vec::new(),
            });
        }
        next += 1;
    }
    nodes
}

/// The outcome a parent records for a child that ended this way.
fn child_outcome(r: &Recorded) -> Value {
    match r.status.as_str() {
        "completed" => serde_json::json!({ "child": r.output }),
        "failed" => format!("child:err:{}", r.failure_kind).into(),
        other => format!("child:err:{other}").into(),
    }
}

/// The ends, signals, updates and queries of a top-level execution and its
/// children, against the model. A parent's model takes each child's end as
/// the host recorded it (each child is checked against its own model).
fn tree(run: &Run, top: &Exec, recorded: &BTreeMap<String, Recorded>, v: &mut Vec<String>) {
    let nodes = programs(top, recorded, v);
    // The patch steps that took v2's path, from the markers (ids are unique
    // in the tree).
    let mut patched = BTreeSet::new();
    for node in &nodes {
        for e in recorded
            .get(&node.id)
            .into_iter()
            .flat_map(|r| r.of_kind("patch_marker"))
        {
            let p = e["event"]["patch_id"].as_str().unwrap_or_default();
            match p.strip_prefix('p').and_then(|n| n.parse::<u64>().ok()) {
                Some(n) => {
                    patched.insert(n);
                }
                None => v.push(format!(
                    "{}: a patch marker the fixture never makes: {e}",
                    node.id
                )),
            }
        }
    }
    let Some(rec) = recorded.get(&top.id) else {
        return;
    };
    let applied = updates(run, top, rec, v);
    signals(top, rec, v);
    let counter: u64 = applied.iter().map(|(_, n, _)| n).sum();
    // The cancel and terminate the host accepted for each execution (for a
    // child, in the runs of its last start).
    let ops = |id: &str| -> (bool, bool) {
        if id == top.id {
            return (top.cancelled, top.terminated);
        }
        let first = recorded
            .get(id)
            .map_or(1, |r| (r.runs.len() - r.chain().len() + 1) as u64);
        run.child_ops
            .get(id)
            .into_iter()
            .flatten()
            .filter(|(n, _, _)| *n >= first)
            .fold((false, false), |(c, t), (_, dc, dt)| (c || *dc, t || *dt))
    };
    for (i, node) in nodes.iter().enumerate() {
        let id = &node.id;
        let Some(r) = recorded.get(id) else { continue };
        let is_top = i == 0;
        let children: BTreeMap<u64, Value> = node
            .children
            .iter()
            .filter_map(|(step, c)| Some((*step, child_outcome(recorded.get(c)?))))
            .collect();
        let inputs = Inputs {
            signals: if is_top { &top.signals } else { &[] },
            counter: if is_top { counter } else { 0 },
            patched: &patched,
            children: &children,
        };
        let (outcomes, expected) = model::outcomes(&node.program, &inputs);
        let fits_model = match (&expected, r.status.as_str()) {
            (Expected::Completed(digest), "completed") => r.output == *digest,
            (Expected::Failed(kind), "failed") => r.failure_kind == *kind,
            _ => false,
        };
        let (cancelled, terminated) = ops(id);
        // Its ancestors' cancels and terminates: a cancel asks the children
        // to cancel, and a parent that closes terminates the children left.
        let mut above = (false, false);
        let mut up = node.parent;
        while let Some(p) = up {
            let (c, t) = ops(&nodes[p].id);
            above = (above.0 || c, above.1 || t);
            up = nodes[p].parent;
        }
        let allowed = match r.status.as_str() {
            "cancelled" => cancelled || above.0,
            "terminated" => terminated || above.0 || above.1,
            _ => fits_model && !terminated,
        };
        if !allowed {
            v.push(format!(
                "{id} ended {} (output {}, failure {:?}); the model says {expected:?}; operator: \
                 cancel {cancelled}, terminate {terminated}, above it cancel {}, terminate {}, \
                 {} signals, counter {counter}",
                r.status,
                r.output,
                r.failure_kind,
                above.0,
                above.1,
                if is_top { top.signals.len() } else { 0 },
            ));
        }
        if is_top {
            let outputs: BTreeSet<u64> = applied.iter().map(|(_, _, o)| *o).collect();
            // An answer from before the last reset saw a timeline the reset
            // discarded. A patch step's path is the model's only where the
            // final history reached the step: compare it modulo the path.
            let same = |a: &Value, b: &Value| {
                a == b
                    || [a, b]
                        .iter()
                        .all(|x| x.as_str().is_some_and(|s| s.starts_with("patch:")))
            };
            for (_, q) in top.queries.iter().filter(|(n, _)| *n == top.resets) {
                let got: Vec<Value> = q["outcomes"].as_array().cloned().unwrap_or_default();
                let prefix = got.len() <= outcomes.len()
                    && got.iter().zip(&outcomes).all(|(a, b)| same(a, b));
                let c = q["counter"].as_u64().unwrap_or(u64::MAX);
                if !prefix || !(c == 0 || outputs.contains(&c)) {
                    v.push(format!(
                        "{id}: query state answered {q}, not a prefix of the model's outcomes \
                         {outcomes:?} with a counter among 0 and {outputs:?}"
                    ));
                }
            }
        }
    }
}

/// The updates sent to `e`: each applied at most once, a repeated id got
/// the first answer, and the answers add up. Returns the applied ones as
/// (id, n, output).
fn updates(run: &Run, e: &Exec, r: &Recorded, v: &mut Vec<String>) -> Vec<(String, u64, u64)> {
    let id = &e.id;
    let mut applied = Vec::new();
    for u in &e.updates {
        let uid = &u.uid;
        let accepted: Vec<usize> = r
            .chain()
            .iter()
            .enumerate()
            .flat_map(|(i, h)| {
                h["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|x| kind_of(x) == "update_accepted" && x["event"]["update_id"] == *uid)
                    .map(move |_| i)
            })
            .collect();
        // The runs (of its last start) that hold its acceptance and its
        // completion: continue-as-new carries an accepted update whose
        // handler did not complete into the next run, once.
        let completed: Vec<usize> = r
            .chain()
            .iter()
            .enumerate()
            .flat_map(|(i, h)| {
                h["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|x| kind_of(x) == "update_completed" && x["event"]["update_id"] == *uid)
                    .map(move |_| i)
            })
            .collect();
        let twice_in_a_run = accepted.windows(2).any(|w| w[0] == w[1]);
        let after_completion = completed
            .first()
            .is_some_and(|c| accepted.iter().any(|a| a > c));
        let runs_in_a_row = accepted.windows(2).all(|w| w[1] == w[0] + 1);
        if completed.len() > 1 || twice_in_a_run || after_completion || !runs_in_a_row {
            v.push(format!(
                "{id}: update {uid} accepted in runs {:?} and completed in runs {:?} (of its \
                 last start)",
                accepted.iter().map(|i| i + 1).collect::<Vec<_>>(),
                completed.iter().map(|i| i + 1).collect::<Vec<_>>()
            ));
        }
        let (status, last) =
            run.host
                .call("GET", &format!("/v1/executions/{id}/updates/{uid}"), None);
        let said_yes = u.answers.iter().any(|(s, _)| *s == 200);
        match status {
            200 if last["status"] == "completed" => {
                let out = last["output"].as_u64();
                match out {
                    Some(o) if completed.len() == 1 && !accepted.is_empty() => {
                        applied.push((uid.clone(), u.n, o))
                    }
                    _ => v.push(format!(
                        "{id}: update {uid} completed with {last} but the history has {} \
                         accepted, {} completed",
                        accepted.len(),
                        completed.len()
                    )),
                }
                for (s, a) in &u.answers {
                    if *s == 200 && a["status"] == "completed" && a["output"] != last["output"] {
                        v.push(format!(
                            "{id}: update {uid} answered {a}, later {last}: one id, two results"
                        ));
                    }
                }
            }
            404 => {
                if said_yes || !accepted.is_empty() {
                    v.push(format!(
                        "{id}: update {uid} was accepted ({:?}) but is unknown now",
                        u.answers
                    ));
                }
            }
            409 => {
                // Accepted but not run before the execution closed (the
                // documented answer), unless a continue-as-new dropped it.
                match accepted.last() {
                    None => v.push(format!(
                        "{id}: update {uid} answers 409 ({last}) but was never accepted"
                    )),
                    Some(&run_index) if run_index + 1 < r.chain().len() => v.push(format!(
                        "{id}: update {uid} accepted in run {} was never run: that run \
                         continued as new without it ({last})",
                        run_index + 1
                    )),
                    Some(_) => {}
                }
            }
            _ => v.push(format!(
                "{id}: update {uid} finally answers {status} {last}"
            )),
        }
    }
    // The handler adds n to the counter and returns it: in the order they
    // ran (their outputs increase), each output is the one before plus n.
    applied.sort_by_key(|(_, _, o)| *o);
    let mut sum = 0;
    for (uid, n, o) in &applied {
        sum += n;
        if *o != sum {
            v.push(format!(
                "{id}: update {uid} (add {n}) answered {o}; the updates before it sum to {}",
                sum - n
            ));
            sum = *o;
        }
    }
    applied
}

/// The signals recorded for `e`, first copies in order, are the ones the
/// host accepted, in the order sent (continue-as-new copies the unreceived
/// ones into the next run).
fn signals(e: &Exec, r: &Recorded, v: &mut Vec<String>) {
    let mut seen = Vec::new();
    for x in r.of_kind("signal_received") {
        let s = payload(&x["event"]["input"]);
        let s = s.as_str().unwrap_or_default().to_owned();
        if !seen.contains(&s) {
            seen.push(s);
        }
    }
    if seen != e.signals {
        v.push(format!(
            "{}: signals recorded {seen:?}, accepted {:?}",
            e.id, e.signals
        ));
    }
}

/// Each activity side effect once per idempotency key, unless a kill or a
/// reset of its execution between two of them explains the repeat.
fn effects(run: &Run, v: &mut Vec<String>) {
    let log = run.host_log();
    // Each effect line with its time stamp (the line's first word): the
    // hosts' logs, one after another, ordered by time per key.
    let mut by_key: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for line in log.lines() {
        if let Some(rest) = line.split("effect key=").nth(1) {
            let at = line.split(' ').next().unwrap_or_default();
            let mut words = rest.split(' ');
            let key = words.next().unwrap_or_default();
            let activity = words
                .next()
                .and_then(|w| w.strip_prefix("activity="))
                .unwrap_or_default();
            by_key.entry(key).or_default().push((at, activity));
        }
    }
    for seen in by_key.values_mut() {
        seen.sort();
    }
    for (key, seen) in by_key {
        let execution = key.split('/').next().unwrap_or_default();
        for pair in seen.windows(2) {
            let ((a, name_a), (b, name_b)) = (pair[0], pair[1]);
            // The first copy before the action ended, the second after it
            // began.
            let between = |m: &&super::driver::Mark| {
                a < m.end.as_str()
                    && b >= m.start.as_str()
                    && m.execution.as_deref().is_none_or(|x| x == execution)
            };
            // A reset runs the rest again on a new timeline: the same handle
            // (and key) may go to another activity there.
            let reset = run
                .marks
                .iter()
                .filter(between)
                .any(|m| m.what.starts_with("reset"));
            if name_a != name_b && !reset {
                v.push(format!(
                    "effect key {key} used by {name_a} and {name_b} with no reset between"
                ));
            }
            let explained = run
                .marks
                .iter()
                .filter(between)
                .any(|m| !m.what.starts_with("upgrade"));
            if !explained {
                v.push(format!(
                    "effect key {key} ({name_a}) happened again with no kill or reset between \
                     (at {a} and {b})"
                ));
            }
        }
    }
}

/// Replays every run of every execution offline on the module it ended on:
/// the execution's module for its last run; for an earlier run the module
/// its export names (the one it started on), or the last module an upgrade
/// or a reset moved it to (when an upgrade met a continue-as-new, either of
/// the two modules for the runs it may have moved).
fn replays(run: &Run, recorded: &BTreeMap<String, Recorded>, v: &mut Vec<String>) -> usize {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let mut jobs = Vec::new();
    for r in recorded.values() {
        for (i, h) in r.runs.iter().enumerate() {
            let n = i as u64 + 1;
            let mut modules = vec![h["module"].as_str().unwrap_or_default().to_owned()];
            for (runs, module) in run.moved.get(&r.id).into_iter().flatten() {
                if runs.len() == 1 && runs.contains(&n) {
                    modules = vec![module.clone()];
                } else if runs.contains(&n) {
                    modules.push(module.clone());
                }
            }
            if i + 1 == r.runs.len() {
                modules = vec![r.module.clone()];
            }
            let mut files = Vec::new();
            for module in modules {
                match run.modules.get(&module) {
                    Some(file) => files.push(file.clone()),
                    None => v.push(format!(
                        "{} run {n}: module {module} is not one the runner deployed",
                        r.id
                    )),
                }
            }
            let path = dir.path().join(format!("{}-{n}.json", r.id));
            std::fs::write(&path, h.to_string()).expect("write a history");
            jobs.push((format!("{} run {n}", r.id), path, files));
        }
    }
    let weft = weft_e2e::weft_bin();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((what, history, modules)) = jobs.get(i) else {
                    break;
                };
                let mut tried = Vec::new();
                let clean = modules.iter().any(|module| {
                    let out = Command::new(&weft)
                        .arg("replay")
                        .arg("--history")
                        .arg(history)
                        .arg("--module")
                        .arg(module)
                        .output()
                        .expect("run weft replay");
                    tried.push(format!(
                        "on {} ({}): {}{}",
                        module.display(),
                        out.status,
                        String::from_utf8_lossy(&out.stdout).trim(),
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                    out.status.success()
                });
                if !clean {
                    failures
                        .lock()
                        .unwrap()
                        .push(format!("{what} does not replay {}", tried.join("; ")));
                }
            });
        }
    });
    v.extend(failures.into_inner().unwrap());
    jobs.len()
}
