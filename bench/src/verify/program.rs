//! The programs the kitchen-sink workflow runs (tests/fixtures/kitchen-sink):
//! their Rust form, their JSON (the workflow's input) and the seeded
//! generator.

use serde_json::{json, Value};

use super::rng::Rng;

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `greet`, `shout` or `exclaim` of hello-activities.
    Act {
        activity: &'static str,
        text: String,
    },
    /// `flaky` failing `fail_times` attempts, at most `max_attempts` (0: no
    /// limit); `fatal` fails it for good at once.
    Flaky {
        fail_times: u32,
        max_attempts: u32,
        fatal: bool,
    },
    Charge {
        amount: u64,
    },
    Timer {
        ms: u64,
    },
    /// `greet` raced against a 100-year timer: the activity wins.
    SelectAct {
        text: String,
    },
    /// An activity that keeps failing raced against a timer: the timer wins.
    SelectTimer {
        ms: u64,
    },
    Child {
        program: Program,
    },
    /// Receives the next `sig` signal.
    Signal,
    /// Waits until updates brought the counter to `at_least`.
    Await {
        at_least: u64,
    },
    /// `shout` in v1; `exclaim` in v2 where `patched("p<id>")` holds.
    Patch,
    /// Flight, hotel, car; `fail`: the car fails and two bookings are undone.
    Saga {
        fail: bool,
    },
    /// The workflow fails with this kind.
    Fail {
        kind: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// Each step with its id (unique in the program tree).
    pub steps: Vec<(u64, Step)>,
    /// Continue as new after this many steps of a run (0: never).
    pub can_every: u32,
}

impl Step {
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Act { .. } => "act",
            Step::Flaky { .. } => "flaky",
            Step::Charge { .. } => "charge",
            Step::Timer { .. } => "timer",
            Step::SelectAct { .. } => "select_act",
            Step::SelectTimer { .. } => "select_timer",
            Step::Child { .. } => "child",
            Step::Signal => "signal",
            Step::Await { .. } => "await",
            Step::Patch => "patch",
            Step::Saga { .. } => "saga",
            Step::Fail { .. } => "fail",
        }
    }

    fn to_json(&self, id: u64) -> Value {
        let mut v = match self {
            Step::Act { activity, text } => json!({"activity": activity, "text": text}),
            Step::Flaky {
                fail_times,
                max_attempts,
                fatal,
            } => json!({"fail_times": fail_times, "max_attempts": max_attempts, "fatal": fatal}),
            Step::Charge { amount } => json!({ "amount": amount }),
            Step::Timer { ms } | Step::SelectTimer { ms } => json!({ "ms": ms }),
            Step::SelectAct { text } => json!({ "text": text }),
            Step::Child { program } => json!({"program": program.to_json()}),
            Step::Signal | Step::Patch => json!({}),
            Step::Saga { fail } => json!({ "fail": fail }),
            Step::Await { at_least } => json!({ "at_least": at_least }),
            Step::Fail { kind } => json!({ "kind": kind }),
        };
        v["do"] = self.kind().into();
        v["id"] = id.into();
        v
    }
}

impl Program {
    /// The workflow's input.
    pub fn to_json(&self) -> Value {
        json!({
            "steps": self.steps.iter().map(|(id, s)| s.to_json(*id)).collect::<Vec<_>>(),
            "can_every": self.can_every,
        })
    }

    /// How many `signal` steps it holds (children hold none).
    pub fn signal_steps(&self) -> usize {
        self.steps
            .iter()
            .filter(|(_, s)| matches!(s, Step::Signal))
            .count()
    }

    /// The `child` steps' ids and programs, in the order the workflow
    /// starts them.
    pub fn children(&self) -> Vec<(u64, &Program)> {
        self.steps
            .iter()
            .filter_map(|(id, s)| match s {
                Step::Child { program } => Some((*id, program)),
                _ => None,
            })
            .collect()
    }

    /// The largest `await` threshold (children hold none).
    pub fn awaits(&self) -> u64 {
        self.steps
            .iter()
            .filter_map(|(_, s)| match s {
                Step::Await { at_least } => Some(*at_least),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// Every step kind in the tree, for the summary.
    pub fn count_kinds(&self, into: &mut std::collections::BTreeMap<&'static str, usize>) {
        for (_, s) in &self.steps {
            *into.entry(s.kind()).or_default() += 1;
            if let Step::Child { program } = s {
                program.count_kinds(into);
            }
        }
    }
}

/// Draws a program: `depth` 0 is a top-level execution (it may wait for
/// signals); children go two levels deep at most.
pub fn generate(rng: &mut Rng, depth: u32, next_id: &mut u64) -> Program {
    let len = if depth == 0 {
        rng.range(2, 8)
    } else {
        rng.range(1, 3)
    };
    let mut steps = Vec::new();
    for i in 0..len {
        *next_id += 1;
        let id = *next_id;
        //  act flaky charge timer s_act s_tmr child signal patch saga fail await
        let weights = [
            14,
            12,
            6,
            12,
            6,
            6,
            if depth < 2 { 6 } else { 0 },
            if depth == 0 { 12 } else { 0 },
            6,
            5,
            // Only as the last step, now and then.
            if i + 1 == len { 4 } else { 0 },
            if depth == 0 { 5 } else { 0 },
        ];
        let step = match rng.weighted(&weights) {
            0 => Step::Act {
                activity: rng.pick(&["greet", "shout", "exclaim"]),
                text: format!("t{id}"),
            },
            1 => {
                let fatal = rng.chance(10);
                let max_attempts = rng.pick(&[0, 2, 3, 4]);
                Step::Flaky {
                    fail_times: rng.range(0, 3) as u32,
                    max_attempts,
                    fatal,
                }
            }
            2 => Step::Charge {
                amount: rng.range(1, 500),
            },
            3 => Step::Timer {
                ms: rng.pick(&[1_000, 30_000, 3_600_000, 86_400_000]),
            },
            4 => Step::SelectAct {
                text: format!("s{id}"),
            },
            5 => Step::SelectTimer {
                ms: rng.pick(&[2_000, 60_000, 3_600_000]),
            },
            6 => Step::Child {
                program: generate(rng, depth + 1, next_id),
            },
            7 => Step::Signal,
            8 => Step::Patch,
            9 => Step::Saga {
                fail: rng.chance(40),
            },
            10 => Step::Fail {
                kind: format!("Scripted{id}"),
            },
            _ => Step::Await {
                at_least: rng.range(1, 15),
            },
        };
        steps.push((id, step));
    }
    let can_every = if rng.chance(40) {
        rng.range(1, 3) as u32
    } else {
        0
    };
    Program { steps, can_every }
}
