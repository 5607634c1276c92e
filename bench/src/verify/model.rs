//! The pure model of the kitchen-sink workflow: what an execution of a
//! program returns, from the program, its scripted failures and the operator
//! actions that reached it. No host, no I/O.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::program::{Program, Step};

/// How an execution left alone (no cancel, no terminate) ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// `completed` with this digest.
    Completed(Value),
    /// `failed` with this failure kind.
    Failed(String),
    /// It waits for a signal that never reached it: it cannot end by itself.
    Blocked,
}

/// What reached an execution from outside its program.
pub struct Inputs<'a> {
    /// The `sig` signals accepted for it, in the order they were sent.
    pub signals: &'a [String],
    /// The sum of the `add` updates it completed.
    pub counter: u64,
    /// The ids of the `patch` steps that ran v2's new path.
    pub patched: &'a BTreeSet<u64>,
    /// The outcome of each `child` step whose child ended, as it ended (a
    /// child is checked against its own model; a cancel or terminate may
    /// have ended it). A child not in here is modelled.
    pub children: &'a BTreeMap<u64, Value>,
}

/// The outcome of one activity-like step, as the workflow records it.
fn act(activity: &str, text: &str) -> String {
    match activity {
        "greet" => format!("Hello, {text}"),
        "shout" => text.to_uppercase(),
        _ => format!("{text}!"),
    }
}

/// The result of `program` given `inputs`.
pub fn expect(program: &Program, inputs: &Inputs) -> Expected {
    outcomes(program, inputs).1
}

/// The outcomes of the steps it gets through (a query answers a prefix of
/// them), and its result.
pub fn outcomes(program: &Program, inputs: &Inputs) -> (Vec<Value>, Expected) {
    let mut outcomes: Vec<Value> = Vec::new();
    let mut charged = 0u64;
    let mut runs = 1u32;
    let mut signals = inputs.signals.iter();
    for (i, (id, step)) in program.steps.iter().enumerate() {
        if program.can_every > 0 && i > 0 && i % program.can_every as usize == 0 {
            runs += 1;
        }
        let outcome: Value = match step {
            Step::Act { activity, text } => format!("{activity}:{}", act(activity, text)).into(),
            Step::Flaky {
                fail_times,
                max_attempts,
                fatal,
            } => {
                if *fatal {
                    "flaky:err:Fatal".into()
                } else if *max_attempts > 0 && fail_times >= max_attempts {
                    "flaky:err:Flaky".into()
                } else {
                    format!("flaky:ok:{}", fail_times + 1).into()
                }
            }
            Step::Charge { amount } => {
                charged += amount;
                format!("charge:{amount}").into()
            }
            Step::Timer { .. } => "timer".into(),
            Step::SelectAct { text } => format!("select:act:{}", act("greet", text)).into(),
            Step::SelectTimer { .. } => "select:timer".into(),
            Step::Child { program } => {
                let child = Inputs {
                    signals: &[],
                    counter: 0,
                    patched: inputs.patched,
                    children: inputs.children,
                };
                if let Some(ended) = inputs.children.get(id) {
                    outcomes.push(ended.clone());
                    continue;
                }
                match expect(program, &child) {
                    Expected::Completed(digest) => json!({ "child": digest }),
                    Expected::Failed(kind) => format!("child:err:{kind}").into(),
                    Expected::Blocked => return (outcomes, Expected::Blocked),
                }
            }
            Step::Signal => match signals.next() {
                Some(s) => format!("signal:{s}").into(),
                None => return (outcomes, Expected::Blocked),
            },
            // It passes once the counter reaches the threshold: the updates
            // applied by the end must have brought it there.
            Step::Await { at_least } => {
                if inputs.counter < *at_least {
                    return (outcomes, Expected::Blocked);
                }
                format!("await:{at_least}").into()
            }
            Step::Patch => {
                if inputs.patched.contains(id) {
                    format!("patch:new:{}", act("exclaim", &format!("patch{id}"))).into()
                } else {
                    format!("patch:old:{}", act("shout", &format!("patch{id}"))).into()
                }
            }
            Step::Saga { fail: false } => "saga:ok".into(),
            // Flight and hotel booked, the car refused (non-retryable
            // `NoCar`), both undone, none of the undoing failed.
            Step::Saga { fail: true } => "saga:compensated:2:0:NoCar".into(),
            Step::Fail { kind } => return (outcomes, Expected::Failed(kind.clone())),
        };
        outcomes.push(outcome);
    }
    let digest = json!({
        "outcomes": outcomes,
        "counter": inputs.counter,
        "charged": charged,
        "runs": runs,
    });
    (outcomes, Expected::Completed(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_as_new_counts_runs_and_signals_come_in_order() {
        let program = Program {
            steps: vec![
                (
                    1,
                    Step::Act {
                        activity: "greet",
                        text: "a".into(),
                    },
                ),
                (2, Step::Signal),
                (
                    3,
                    Step::Flaky {
                        fail_times: 2,
                        max_attempts: 2,
                        fatal: false,
                    },
                ),
                (4, Step::Signal),
                (5, Step::Patch),
            ],
            can_every: 2,
        };
        let patched = BTreeSet::from([5]);
        let signals = ["x".to_string(), "y".to_string()];
        let inputs = Inputs {
            signals: &signals,
            counter: 7,
            patched: &patched,
            children: &BTreeMap::new(),
        };
        assert_eq!(
            expect(&program, &inputs),
            Expected::Completed(json!({
                "outcomes": ["greet:Hello, a", "signal:x", "flaky:err:Flaky", "signal:y",
                             "patch:new:patch5!"],
                "counter": 7,
                "charged": 0,
                "runs": 3,
            }))
        );
        let one = Inputs {
            signals: &signals[..1],
            counter: 0,
            patched: &patched,
            children: &BTreeMap::new(),
        };
        assert_eq!(expect(&program, &one), Expected::Blocked);
    }
}
