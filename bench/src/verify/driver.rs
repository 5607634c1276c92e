//! The driver: a real host, the programs started on it, and the random
//! operator actions between their steps, each logged.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use weft_e2e::{guest, Host};

use super::program::{self, Program};
use super::rng::Rng;
use super::{Config, SeedReport};

pub const TYPE: &str = "kitchen-sink";
const DAY: u64 = 86_400_000;

/// An update the runner sent, and every answer it got for its id.
pub struct UpdateSent {
    pub uid: String,
    pub n: u64,
    pub answers: Vec<(u16, Value)>,
}

/// A top-level execution and what the operator did to it.
pub struct Exec {
    pub id: String,
    pub program: Program,
    /// The request id of its start (none: started by signal-with-start)
    /// and the run that start answered.
    pub request_id: Option<String>,
    pub first_run: Value,
    /// The `sig` signals the host accepted (202), in order.
    pub signals: Vec<String>,
    pub updates: Vec<UpdateSent>,
    /// A cancel the host accepted (202).
    pub cancelled: bool,
    /// A terminate the host accepted (200).
    pub terminated: bool,
    /// Answers to query `state`, each with the number of resets accepted
    /// for the execution before it.
    pub queries: Vec<(usize, Value)>,
    /// Resets accepted for it.
    pub resets: usize,
}

/// When an action that may repeat a side effect (a kill, a reset, an
/// upgrade) began and ended, as the hosts' log lines stamp time
/// (`2026-11-30T15:54:31.035625Z`: they compare as strings).
pub struct Mark {
    pub start: String,
    pub end: String,
    /// The execution it concerns; `None`: all of them (a kill, an upgrade).
    pub execution: Option<String>,
    pub what: String,
}

pub struct Run {
    pub seed: u64,
    pub config: Config,
    /// The host every request goes to (with several hosts: it forwards
    /// them to the holder while it stands by).
    pub host: Host,
    /// The other hosts on the same store.
    pub others: Vec<Host>,
    /// Where the action log, the histories and (after a violation) the host
    /// log go.
    pub log_dir: PathBuf,
    rng: Rng,
    log: std::fs::File,
    pub execs: Vec<Exec>,
    /// Programs not started yet.
    waiting: Vec<Program>,
    /// Module hash -> the component file, for offline replays.
    pub modules: BTreeMap<String, PathBuf>,
    /// The first build's module.
    pub v1: String,
    /// The second build's module, once deployed.
    pub v2: Option<String>,
    /// Executions an upgrade or a reset moved to another module, in order:
    /// the runs that may have been current then (one, unless it continued
    /// as new while an upgrade ran) and the module.
    pub moved: BTreeMap<String, Vec<(std::collections::BTreeSet<u64>, String)>>,
    pub marks: Vec<Mark>,
    /// The cancels (202) and terminates (200) the host accepted for
    /// children: (the child's run then, cancel, terminate). A parent's reset
    /// may start the child's id again: an action on an earlier run does not
    /// reach the later ones.
    pub child_ops: BTreeMap<String, Vec<(u64, bool, bool)>>,
    /// The executions a reset was accepted for.
    pub resets: std::collections::BTreeSet<String>,
    pub kills: usize,
    /// Instances evicted by the host lifetimes before the last one.
    evicted_before: u64,
    pub actions: BTreeMap<&'static str, usize>,
    pub steps: BTreeMap<&'static str, usize>,
    /// What an action itself found wrong (an upgrade that diverged, an
    /// answer out of the API's contract).
    pub violations: Vec<String>,
    next_signal: u64,
    next_update: u64,
}

/// The operator actions and their weights.
const ACTIONS: &[(&str, u64)] = &[
    ("signal", 14),
    ("update", 10),
    ("update-again", 5),
    ("query", 8),
    ("cancel", 2),
    ("terminate", 2),
    ("cancel-child", 2),
    ("terminate-child", 2),
    ("reset", 4),
    ("upgrade", 2),
    ("kill", 4),
    ("clock", 16),
    ("pause", 6),
    ("start", 5),
    ("start-again", 2),
];

impl Run {
    /// Draws the programs, starts a host and deploys the components.
    pub fn start(config: &Config, log_dir: &Path) -> Run {
        let seed = config.seed;
        let mut rng = Rng::new(seed);
        let mut next_id = 0;
        let mut programs: Vec<Program> = (0..config.programs)
            .map(|_| program::generate(&mut rng, 0, &mut next_id))
            .collect();
        let mut steps = BTreeMap::new();
        for p in &programs {
            p.count_kinds(&mut steps);
        }
        let evict = rng.pick(&["25", "250", "10000"]);
        // Two instances in memory at most: loads wait and idle ones are
        // evicted early (parents wait for children meanwhile).
        let instances = rng.pick(&["2", "2000"]);
        let evict_flag = ["--evict-after-ms", evict, "--max-instances", instances];
        // The checks read every execution at the end, however far the
        // clock moved: nothing may expire before.
        let mut args = vec!["--manual-clock", "--retention", "36500d"];
        args.extend_from_slice(&evict_flag);
        let (host, others) = if config.hosts > 1 {
            let base = weft_e2e::postgres_base()
                .expect("--hosts > 1 needs WEFT_TEST_POSTGRES (the hosts share a database)");
            let url = format!("{base}/{}", weft_e2e::fresh_database_name());
            let ids: Vec<String> = (0..config.hosts).map(|i| format!("h{i}")).collect();
            let partitions = config.partitions.max(1).to_string();
            let with = |i: usize| {
                let mut a = args.clone();
                a.extend_from_slice(&["--host-id", &ids[i], "--lease", "2s"]);
                a.extend_from_slice(&["--partitions", &partitions]);
                Host::in_cluster(&url, &a, &[])
            };
            let first = with(0);
            first.eventually("h0 to hold the store", |h| {
                let held = holders(h);
                !held.is_empty() && held.iter().all(|p| p == "h0")
            });
            let others = (1..config.hosts).map(with).collect();
            (first, others)
        } else {
            (Host::launch(&args, "info"), Vec::new())
        };
        let log = std::fs::File::create(log_dir.join("actions.log")).expect("the action log");
        let later = programs.split_off(config.programs.div_ceil(2));
        let mut run = Run {
            seed,
            config: config.clone(),
            host,
            others,
            log_dir: log_dir.to_path_buf(),
            rng,
            log,
            execs: Vec::new(),
            waiting: later.into_iter().rev().collect(),
            modules: BTreeMap::new(),
            v1: String::new(),
            v2: None,
            moved: BTreeMap::new(),
            marks: Vec::new(),
            resets: Default::default(),
            child_ops: BTreeMap::new(),
            kills: 0,
            evicted_before: 0,
            actions: BTreeMap::new(),
            steps,
            violations: Vec::new(),
            next_signal: 0,
            next_update: 0,
        };
        run.note(format!(
            "seed {seed}: {} host(s) ({}) with --evict-after-ms {evict} --max-instances {instances}",
            config.hosts.max(1),
            run.hosts().map(|h| h.url.as_str()).collect::<Vec<_>>().join(", ")
        ));
        run.deploy("hello-activities");
        run.v1 = run.deploy(TYPE);
        for p in programs {
            run.start_program(p, false);
        }
        run
    }

    pub fn report(&self) -> SeedReport {
        SeedReport {
            seed: self.seed,
            programs: self.config.programs,
            ops: self.config.ops,
            actions: self.actions.clone(),
            steps: self.steps.clone(),
            kills: self.kills,
            hosts: self.config.hosts.max(1),
            partitions: self.config.partitions.max(1),
            evictions: self.evictions(),
            ..SeedReport::default()
        }
    }

    /// Every host's log, one after another.
    pub fn host_log(&self) -> String {
        self.hosts().map(Host::log).collect()
    }

    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        std::iter::once(&self.host).chain(self.others.iter())
    }

    /// How much the hosts have logged (it grows while they work).
    fn logged(&self) -> usize {
        self.hosts().map(|h| h.log().len()).sum()
    }

    /// Logs an action (and prints it with `--verbose`).
    pub fn note(&mut self, line: String) {
        let _ = writeln!(self.log, "{line}");
        if self.config.verbose {
            println!("  {line}");
        }
    }

    fn deploy(&mut self, name: &str) -> String {
        let file = guest(name);
        let bytes = std::fs::read(&file).expect("a built component");
        let (status, v) = self
            .host
            .post_bytes(&format!("/v1/modules?name={TYPE}"), bytes);
        assert_eq!(status, 201, "deploy {name}: {v}");
        let hash = v["hash"].as_str().expect("a module hash").to_string();
        self.note(format!("deploy {name} -> {hash}"));
        self.modules.insert(hash.clone(), file);
        hash
    }

    /// Starts the next program, by a start with a request id or, when
    /// `with_signal`, by signal-with-start (its signal is its first).
    fn start_program(&mut self, program: Program, with_signal: bool) {
        let id = format!("v{}-p{}", self.seed, self.execs.len());
        let mut signals = Vec::new();
        let request_id = (!with_signal).then(|| format!("req-{id}"));
        let mut first_run = Value::Null;
        if with_signal {
            self.next_signal += 1;
            let value = format!("x{}", self.next_signal);
            let (status, v) = self.host.call(
                "POST",
                "/v1/signal-with-start",
                Some(
                    json!({"workflow_type": TYPE, "id": id, "input": program.to_json(),
                            "signal": "sig", "signal_input": value}),
                ),
            );
            assert_eq!(status, 202, "signal-with-start {id}: {v}");
            if v["started"] != true {
                self.violations
                    .push(format!("signal-with-start {id} did not start it: {v}"));
            }
            self.note(format!(
                "signal-with-start {id} {value} {}",
                program.to_json()
            ));
            signals.push(value);
        } else {
            let (status, v) = self.host.call(
                "POST",
                "/v1/executions",
                Some(
                    json!({"workflow_type": TYPE, "id": id, "input": program.to_json(),
                            "request_id": request_id}),
                ),
            );
            assert_eq!(status, 201, "start {id}: {v}");
            first_run = v["run"].clone();
            self.note(format!("start {id} {}", program.to_json()));
        }
        self.execs.push(Exec {
            id,
            program,
            request_id,
            first_run,
            signals,
            updates: Vec::new(),
            cancelled: false,
            terminated: false,
            queries: Vec::new(),
            resets: 0,
        });
    }

    /// Sends `e`'s start again with the same request id: the host must
    /// answer as it did the first time ("a repeated request id answers
    /// exactly as the first request did"), and start nothing.
    fn start_again(&mut self, e: usize) -> String {
        let x = &self.execs[e];
        let Some(request_id) = x.request_id.clone() else {
            return format!("{}: started by signal-with-start", x.id);
        };
        let id = x.id.clone();
        let (status, v) = self.host.call(
            "POST",
            "/v1/executions",
            Some(
                json!({"workflow_type": TYPE, "id": id, "input": x.program.to_json(),
                        "request_id": request_id}),
            ),
        );
        if status != 201 || v["id"] != id.as_str() || v["run"] != x.first_run {
            self.violations.push(format!(
                "start {id} again with its request id answered {status}: {v}; the first start \
                 answered 201 run {}",
                x.first_run
            ));
        }
        format!("{id} -> {status} {v}")
    }

    /// The operator actions.
    pub fn operate(&mut self) {
        let weights: Vec<u64> = ACTIONS.iter().map(|(_, w)| *w).collect();
        for n in 0..self.config.ops {
            let kind = ACTIONS[self.rng.weighted(&weights)].0;
            *self.actions.entry(kind).or_default() += 1;
            let target = self.rng.below(self.execs.len() as u64) as usize;
            // Every action draws the same numbers whatever the host answers,
            // so a seed always makes the same actions in the same order.
            let arg = self.rng.next_u64();
            let line = self.act(kind, target, arg);
            self.note(format!("#{n} {kind} {line}"));
        }
    }

    fn act(&mut self, kind: &str, e: usize, arg: u64) -> String {
        let id = self.execs[e].id.clone();
        match kind {
            "signal" => self.signal(e),
            "update" => {
                self.next_update += 1;
                let uid = format!("u{}", self.next_update);
                let n = 1 + arg % 9;
                self.execs[e].updates.push(UpdateSent {
                    uid: uid.clone(),
                    n,
                    answers: Vec::new(),
                });
                let i = self.execs[e].updates.len() - 1;
                self.update(e, i)
            }
            "update-again" => {
                if self.execs[e].updates.is_empty() {
                    return format!("{id}: no update sent to it yet");
                }
                let i = (arg % self.execs[e].updates.len() as u64) as usize;
                self.update(e, i)
            }
            "query" => {
                let (status, v) = self.host.call(
                    "POST",
                    &format!("/v1/executions/{id}/queries"),
                    Some(json!({"name": "state"})),
                );
                if status == 200 {
                    let resets = self.execs[e].resets;
                    self.execs[e].queries.push((resets, v["output"].clone()));
                } else if status != 503 {
                    // The README: "a closed one is replayed to its end and
                    // answers from its final state".
                    let now = self.host.describe(&id)["status"].clone();
                    self.violations.push(format!(
                        "query state of {id} ({now}) answered {status}: {v}"
                    ));
                }
                format!("{id} -> {status} {v}")
            }
            "cancel" | "terminate" => {
                let (status, v) = self.host.call(
                    "POST",
                    &format!("/v1/executions/{id}/{kind}"),
                    Some(json!({"reason": "verify"})),
                );
                match (kind, status) {
                    ("cancel", 202) => self.execs[e].cancelled = true,
                    ("terminate", 200) => self.execs[e].terminated = true,
                    (_, 409) => {}
                    _ => self
                        .violations
                        .push(format!("{kind} {id} answered {status}: {v}")),
                }
                format!("{id} -> {status} {v}")
            }
            "cancel-child" | "terminate-child" => self.end_child(kind, e, arg),
            "reset" => self.reset(e, arg),
            "upgrade" => self.upgrade(arg),
            "start-again" => self.start_again(e),
            "kill" => self.kill(arg),
            "clock" => {
                // Small steps mostly: an hour now and then, a day only in
                // the drain, so executions live through the actions.
                let steps = [500, 1_000, 4_000, 30_000, 60_000, 600_000, 3_600_000];
                let ms = steps[(arg % steps.len() as u64) as usize];
                self.host.advance(ms);
                format!("+{ms} ms")
            }
            "pause" => {
                let ms = 10 + arg % 140;
                std::thread::sleep(Duration::from_millis(ms));
                format!("{ms} ms")
            }
            "start" => match self.waiting.pop() {
                Some(p) => {
                    self.start_program(p, arg.is_multiple_of(3));
                    format!("{} started", self.execs.last().map_or("", |x| &x.id))
                }
                None => "every program runs already".into(),
            },
            other => unreachable!("action {other}"),
        }
    }

    /// Cancels or terminates a running child (or grandchild) of `e`.
    fn end_child(&mut self, kind: &str, e: usize, arg: u64) -> String {
        let mut running = Vec::new();
        let mut look = vec![self.execs[e].id.clone()];
        while let Some(id) = look.pop() {
            let d = self.host.describe(&id);
            for c in d["children"].as_array().cloned().unwrap_or_default() {
                let cid = c["id"].as_str().unwrap_or_default().to_owned();
                if c["status"] == "running" {
                    running.push(cid.clone());
                }
                look.push(cid);
            }
        }
        if running.is_empty() {
            return format!("{}: no running child", self.execs[e].id);
        }
        running.sort();
        let id = running[(arg % running.len() as u64) as usize].clone();
        let verb = kind.trim_end_matches("-child");
        let run = self.host.describe(&id)["run"].as_u64().unwrap_or(1);
        let (status, v) = self.host.call(
            "POST",
            &format!("/v1/executions/{id}/{verb}"),
            Some(json!({"reason": "verify"})),
        );
        let ops = self.child_ops.entry(id.clone()).or_default();
        match (verb, status) {
            ("cancel", 202) => ops.push((run, true, false)),
            ("terminate", 200) => ops.push((run, false, true)),
            (_, 409) => {}
            _ => self
                .violations
                .push(format!("{verb} {id} answered {status}: {v}")),
        }
        format!("{id} -> {status} {v}")
    }

    fn signal(&mut self, e: usize) -> String {
        let id = self.execs[e].id.clone();
        self.next_signal += 1;
        let value = format!("x{}", self.next_signal);
        let (status, v) = self.host.call(
            "POST",
            &format!("/v1/executions/{id}/signals"),
            Some(json!({"name": "sig", "input": value})),
        );
        match status {
            202 => self.execs[e].signals.push(value.clone()),
            409 => {}
            _ => self
                .violations
                .push(format!("signal {value} to {id} answered {status}: {v}")),
        }
        format!("{id} {value} -> {status} {v}")
    }

    fn update(&mut self, e: usize, i: usize) -> String {
        let id = self.execs[e].id.clone();
        let (uid, n) = {
            let u = &self.execs[e].updates[i];
            (u.uid.clone(), u.n)
        };
        let (status, v) = self.host.call(
            "POST",
            &format!("/v1/executions/{id}/updates"),
            Some(json!({"name": "add", "input": n, "update_id": uid, "wait_ms": 3000})),
        );
        // 503: the instance could not take it in time ("try again"); what
        // became of it is read at the end.
        if !matches!(status, 200 | 409 | 503) {
            self.violations.push(format!(
                "update {uid} (add {n}) to {id} answered {status}: {v}"
            ));
        }
        self.execs[e].updates[i].answers.push((status, v.clone()));
        format!("{id} {uid} add {n} -> {status} {v}")
    }

    /// Resets a running execution to an event of its current run after its
    /// last update and cancel request (a reset discards those for good; it
    /// records discarded signals again and settles discarded children),
    /// before its last event.
    fn reset(&mut self, e: usize, arg: u64) -> String {
        let id = self.execs[e].id.clone();
        let (status, h) = self
            .host
            .call("GET", &format!("/v1/executions/{id}/history"), None);
        if status != 200 {
            return format!("{id}: history answered {status}");
        }
        let events = h["events"].as_array().cloned().unwrap_or_default();
        let kind = |e: &Value| e["event"]["type"].as_str().unwrap_or_default().to_owned();
        let closes = |k: &str| {
            k.starts_with("execution_")
                && !matches!(
                    k,
                    "execution_started" | "execution_reset" | "execution_upgraded"
                )
        };
        if events.iter().any(|e| closes(&kind(e))) {
            return format!("{id}: closed, not reset");
        }
        let index = |e: &Value| e["index"].as_u64().unwrap_or_default();
        let Some(first) = events.first().map(index) else {
            return format!("{id}: no events");
        };
        let last = events.last().map(index).unwrap_or(first);
        let lo = events
            .iter()
            .filter(|e| {
                matches!(
                    kind(e).as_str(),
                    "update_accepted" | "update_completed" | "cancel_requested"
                )
            })
            .map(index)
            .max()
            .unwrap_or(first)
            .max(first);
        if last < 1 || lo > last - 1 {
            return format!("{id}: nothing to reset (events {first}..={last}, kept from {lo})");
        }
        let to = lo + arg % (last - lo);
        // Now and then onto a chosen version (once there are two): the kept
        // part must replay on it, which on v1 fails only past a patch's new
        // path.
        let version = match (&self.v2, (arg >> 32) % 4) {
            (Some(_), 1) => Some(1),
            (Some(_), 2) => Some(2),
            _ => None,
        };
        let marker_kept = events
            .iter()
            .any(|e| index(e) <= to && kind(e) == "patch_marker");
        let run = self.host.describe(&id)["run"].as_u64().unwrap_or(1);
        let offset = stamp();
        let (status, v) = self.host.call(
            "POST",
            &format!("/v1/executions/{id}/reset"),
            Some(json!({"to_event": to, "reason": "verify", "version": version})),
        );
        let refused = v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("do not replay"));
        if status == 200 {
            self.resets.insert(id.clone());
            self.execs[e].resets += 1;
            self.marks.push(Mark {
                start: offset,
                end: stamp(),
                execution: Some(id.clone()),
                what: format!("reset of {id} to event {to}"),
            });
            if let Some(n) = version {
                let module = if n == 1 {
                    &self.v1
                } else {
                    self.v2.as_ref().unwrap()
                };
                let moves = self.moved.entry(id.clone()).or_default();
                moves.push(([run].into(), module.clone()));
            }
        } else if refused && !(version == Some(1) && marker_kept) {
            self.violations.push(format!(
                "reset {id} to {to} on {version:?} refused, yet events up to {to} hold no \
                 patch marker v1 lacks: {status} {v}"
            ));
        } else if !matches!(status, 400 | 409) {
            self.violations
                .push(format!("reset {id} to {to} answered {status}: {v}"));
        }
        format!("{id} to event {to} on {version:?} (events {first}..={last}) -> {status} {v}")
    }

    /// The first time, deploys the second build (it becomes the current
    /// version) and upgrades every running execution to it; later, makes v1
    /// or v2 current and moves the running executions there. v2 replays
    /// every history v1 records, so none may diverge on the way to v2; on
    /// the way back to v1 only a run that took a patch's new path may.
    fn upgrade(&mut self, arg: u64) -> String {
        let to = match self.v2 {
            None => {
                self.v2 = Some(self.deploy("kitchen-sink-v2"));
                2
            }
            Some(_) => {
                let to = 1 + arg % 2;
                let (status, v) = self.host.call(
                    "PUT",
                    &format!("/v1/workflow-types/{TYPE}/current"),
                    Some(json!({ "version": to })),
                );
                if status != 200 {
                    self.violations
                        .push(format!("make v{to} current answered {status}: {v}"));
                }
                to
            }
        };
        // Each running execution's run before the upgrade: a move lands in
        // that run unless the execution continued as new meanwhile.
        let before: BTreeMap<String, u64> = self.host.get("/v1/executions?status=running")
            ["executions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| Some((x["id"].as_str()?.to_owned(), x["run"].as_u64()?)))
            .collect();
        let offset = stamp();
        let (status, v) = self.host.call(
            "POST",
            &format!("/v1/workflow-types/{TYPE}/upgrade"),
            Some(json!({ "to": to })),
        );
        self.marks.push(Mark {
            start: offset,
            end: stamp(),
            execution: None,
            what: format!("upgrade to v{to}"),
        });
        if status != 200 {
            self.violations
                .push(format!("upgrade to v{to} answered {status}: {v}"));
            return format!("-> {status} {v}");
        }
        let module = v["to_module"].as_str().unwrap_or_default().to_owned();
        let mut moved = BTreeMap::<String, usize>::new();
        for x in v["executions"].as_array().cloned().unwrap_or_default() {
            let outcome = x["outcome"].as_str().unwrap_or_default().to_owned();
            // Giving up on a history that kept growing while it was checked
            // ("run the upgrade again"), or finding the execution closed
            // meanwhile, are honest answers.
            let busy = outcome == "failed"
                && x["reason"].as_str().is_some_and(|r| {
                    r.starts_with("its history kept growing")
                        || r.contains("only running or stalled executions")
                });
            let patch_path = outcome == "diverged"
                && to == 1
                && x["divergence"]["recorded"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("take the new path of patch"));
            if !matches!(outcome.as_str(), "moved" | "already-there") && !busy && !patch_path {
                self.violations
                    .push(format!("upgrade to v{to}: {} {outcome}: {x}", x["id"]));
            }
            if outcome == "moved" {
                let id = x["id"].as_str().unwrap_or_default().to_owned();
                let after = self.host.describe(&id)["run"].as_u64().unwrap_or(1);
                let first = before.get(&id).copied().unwrap_or(after).min(after);
                self.moved
                    .entry(id)
                    .or_default()
                    .push(((first..=after).collect(), module.clone()));
            }
            *moved.entry(outcome).or_default() += 1;
        }
        format!("to v{to} -> {moved:?}")
    }

    /// Instances the hosts evicted from memory, across their restarts.
    pub fn evictions(&self) -> u64 {
        self.evicted_before
            + self
                .hosts()
                .map(|h| h.metric("weft_evictions_total") as u64)
                .sum::<u64>()
    }

    pub fn kill(&mut self, arg: u64) -> String {
        if self.others.is_empty() {
            self.evicted_before += self.host.metric("weft_evictions_total") as u64;
            let start = stamp();
            self.host.kill();
            // Lines the host wrote just before it died are in the file now.
            self.marks.push(Mark {
                start,
                end: stamp(),
                execution: None,
                what: format!("kill {}", self.kills + 1),
            });
            self.kills += 1;
            self.host.kill_and_restart();
            return "SIGKILL, restarted".into();
        }
        self.disturb_holder(arg)
    }

    /// With several hosts: the one holding the store is killed, paused
    /// past its lease, or stopped gracefully, and started again (it stands
    /// by then). A graceful stop is not marked: it must run no activity
    /// twice (it lets running attempts finish before it hands over).
    fn disturb_holder(&mut self, arg: u64) -> String {
        // On a store of several partitions: one of the hosts holding some.
        let mut holding = holders(&self.host);
        holding.sort();
        holding.dedup();
        holding.retain(|h| !h.is_empty());
        let held = match holding.len() {
            0 => String::new(),
            n => holding[(arg / 3) as usize % n].clone(),
        };
        let i: usize = held
            .strip_prefix('h')
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let before = self.host_at(i).metric("weft_evictions_total") as u64;
        self.evicted_before += before;
        let start = stamp();
        self.kills += 1;
        // Another host takes the store before this one starts again (it
        // would take it back itself, else, after a kill or a stop).
        let taken = |run: &Run| {
            let watcher = if i == 0 { &run.others[0] } else { &run.host };
            watcher.eventually("other hosts to take its partitions", |h| {
                let now = holders(h);
                !now.is_empty() && now.iter().all(|n| !n.is_empty() && *n != held)
            });
        };
        let pid = self.host_at(i).pid();
        self.note(format!(
            "{} disturb {held} (pid {pid:?}, holders {holding:?}) by {}",
            stamp(),
            ["SIGKILL", "SIGSTOP", "SIGTERM"][(arg % 3) as usize]
        ));
        let how = match arg % 3 {
            0 => {
                self.host_at(i).kill();
                taken(self);
                self.host_at(i).spawn();
                "SIGKILL"
            }
            1 => {
                self.host_at(i).signal("STOP");
                // On a store of several partitions it may have handed its
                // partitions over between the read and the pause: then it
                // holds nothing to be fenced from, and runs on.
                let watcher = if i == 0 { &self.others[0] } else { &self.host };
                let holds = holders(watcher).contains(&held);
                self.note(format!("{} {held} stopped, holding some: {holds}", stamp()));
                taken(self);
                let now = holders(if i == 0 { &self.others[0] } else { &self.host });
                self.note(format!("{} taken from {held}: {now:?}; SIGCONT", stamp()));
                let h = self.host_at(i);
                h.signal("CONT");
                if !holds {
                    return format!("SIGSTOP {held} (holding nothing by then), SIGCONT");
                }
                // It finds its lease gone and exits (3), writing nothing.
                let code = h.wait_exit(Duration::from_secs(60));
                self.note(format!("{} {held} exited {code:?}", stamp()));
                if code != Some(3) {
                    self.violations.push(format!(
                        "{held} paused past its lease exited with {code:?}, not 3"
                    ));
                }
                self.host_at(i).spawn();
                "SIGSTOP past the lease, then SIGCONT"
            }
            _ => {
                self.host_at(i).signal("TERM");
                let code = self.host_at(i).wait_exit(Duration::from_secs(120));
                if code != Some(0) {
                    self.violations.push(format!(
                        "{held} stopped gracefully exited with {code:?}, not 0"
                    ));
                }
                taken(self);
                self.host_at(i).spawn();
                return format!("SIGTERM {held} (graceful, not marked), restarted");
            }
        };
        self.marks.push(Mark {
            start,
            end: stamp(),
            execution: None,
            what: format!("kill {} ({how} {held})", self.kills),
        });
        format!("{how} {held}, restarted")
    }

    fn host_at(&mut self, i: usize) -> &mut Host {
        match i {
            0 => &mut self.host,
            i => &mut self.others[i - 1],
        }
    }

    /// Waits until the host looks idle: no execution ended and nothing was
    /// logged for 150 ms (at most 3 s).
    fn settle(&self) {
        let until = Instant::now() + Duration::from_secs(3);
        let mut last = (usize::MAX, usize::MAX);
        let mut same = 0;
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
            let now = (self.running().len(), self.logged());
            if now.0 == 0 {
                return;
            }
            if now == last {
                same += 1;
                if same == 3 {
                    return;
                }
            } else {
                same = 0;
                last = now;
            }
        }
    }

    /// The ids of the running executions, children included.
    pub fn running(&self) -> Vec<String> {
        let v = self.host.get("/v1/executions?status=running");
        v["executions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Starts the programs still waiting, then moves the clock a day at a
    /// time and sends each top-level execution the signals its program still
    /// needs, until every execution has ended (or 40 rounds passed).
    pub fn drain(&mut self) {
        while let Some(p) = self.waiting.pop() {
            self.start_program(p, false);
        }
        self.note("drain".into());
        for round in 0..40 {
            let running = self.running();
            if running.is_empty() {
                self.note(format!("drain: all ended after {round} rounds"));
                return;
            }
            for e in 0..self.execs.len() {
                let x = &self.execs[e];
                if !running.contains(&x.id) {
                    continue;
                }
                let missing = x.program.signal_steps().saturating_sub(x.signals.len());
                let awaits = x.program.awaits();
                let uid = format!("d-{}", x.id);
                let sent = x.updates.iter().any(|u| u.uid == uid);
                for _ in 0..missing {
                    let line = self.signal(e);
                    self.note(format!("drain signal {line}"));
                }
                // One update large enough for every `await` step.
                if awaits > 0 && !sent {
                    self.execs[e].updates.push(UpdateSent {
                        uid,
                        n: awaits,
                        answers: Vec::new(),
                    });
                    let i = self.execs[e].updates.len() - 1;
                    let line = self.update(e, i);
                    self.note(format!("drain update {line}"));
                }
            }
            self.host.advance(DAY);
            self.settle();
        }
        let running = self.running();
        self.note(format!("drain: still running after 40 rounds: {running:?}"));
    }
}

/// Now, as the hosts' log lines stamp it (UTC, microseconds).
pub fn stamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60,
        now.subsec_micros()
    )
}

/// The host holding each partition of the store (one on a store of one
/// partition), as `/v1/cluster` says; "" for one nobody holds (a lease
/// given up or expired keeps its last holder's name).
fn holders(h: &Host) -> Vec<String> {
    let view = h.get("/v1/cluster");
    let name = |l: &Value| match l["expires_in_ms"].as_i64() {
        Some(ms) if ms > 0 => l["holder"].as_str().unwrap_or_default().to_owned(),
        _ => String::new(),
    };
    match view["leases"].as_array() {
        Some(leases) => leases.iter().map(name).collect(),
        None => vec![name(&view["lease"])],
    }
}
