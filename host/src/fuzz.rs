//! Entry points for the fuzz targets (`fuzz/`, run with cargo-fuzz by hand)
//! and a brief seeded run of the same entry points in the test suite.

use crate::engine::replay::{Command, Replayer};
use crate::model::{ActivityOptions, EventKind, HistoryExport, Payload};

/// Decodes bytes as an exported history and replays it with a code that
/// re-issues what it recorded and waits on everything: whatever the bytes,
/// this returns instead of panicking.
pub fn history(bytes: &[u8]) {
    let Ok(export) = serde_json::from_slice::<HistoryExport>(bytes) else {
        return;
    };
    let commands: Vec<Command> = export
        .events
        .iter()
        .filter_map(|e| match &e.event {
            EventKind::ActivityScheduled {
                name,
                input,
                options,
                ..
            } => Some(Command::Activity {
                name: name.clone(),
                input: input.clone(),
                options: options.clone(),
            }),
            EventKind::TimerStarted { duration_ms, .. } => Some(Command::Timer {
                duration_ms: *duration_ms,
            }),
            EventKind::SignalAwaited { name, .. } => {
                Some(Command::ReceiveSignal { name: name.clone() })
            }
            EventKind::PatchMarker { patch_id, .. } => Some(Command::Patch {
                id: patch_id.clone(),
            }),
            _ => None,
        })
        .collect();
    let mut r = Replayer::new(export.events);
    let mut handles = Vec::new();
    for c in commands {
        match r.issue(c) {
            Ok(h) => handles.push(h),
            Err(_) => break,
        }
    }
    let _ = r.issue(Command::Activity {
        name: "extra".into(),
        input: Payload::default(),
        options: ActivityOptions::default(),
    });
    for _ in 0..handles.len() + 2 {
        let _ = r.next_delivery(&handles);
    }
    let _ = r.check_blocking(&handles);
    let _ = r.check_finished(&Ok(Payload::default()));
    let _ = r.take_new_commands();
}

/// Inspects bytes as a module to deploy; returns instead of panicking.
pub fn module(bytes: &[u8]) {
    let _ = crate::wasm::inspect::inspect_bytes(bytes);
}

#[cfg(test)]
mod tests {
    /// A seeded mutator: flips, truncates, splices and duplicates bytes.
    struct Mutator(u64);

    impl Mutator {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }

        fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
            let mut b = seed.to_vec();
            for _ in 0..1 + self.next() % 4 {
                if b.is_empty() {
                    b.push(self.next() as u8);
                    continue;
                }
                let i = (self.next() as usize) % b.len();
                match self.next() % 5 {
                    0 => b[i] ^= 1 << (self.next() % 8),
                    1 => b.truncate(i),
                    2 => b[i] = b"{}[]\",:0123456789-eE.tfn"[(self.next() % 24) as usize],
                    3 => {
                        let j = (self.next() as usize) % b.len();
                        let chunk = b[i.min(j)..i.max(j)].to_vec();
                        b.splice(i..i, chunk);
                    }
                    _ => {
                        b.remove(i);
                    }
                }
            }
            b
        }
    }

    const HISTORY: &str = r#"{"format":"weft-history/1","execution_id":"e","workflow_type":"t","module":"m","events":[
        {"index":0,"at_ms":1,"event":{"type":"execution_started","workflow_type":"t","module":"0000000000000000000000000000000000000000000000000000000000000000","input":"null","seed":1}},
        {"index":1,"at_ms":2,"event":{"type":"activity_scheduled","handle":1,"name":"a","input":"1","options":{}}},
        {"index":2,"at_ms":3,"event":{"type":"signal_received","name":"s","input":"2"}},
        {"index":3,"at_ms":4,"event":{"type":"activity_completed","handle":1,"attempt":1,"output":"3"}},
        {"index":4,"at_ms":5,"event":{"type":"signal_awaited","handle":2,"name":"s"}},
        {"index":5,"at_ms":6,"event":{"type":"timer_started","handle":3,"duration_ms":5,"fire_at_ms":11}},
        {"index":6,"at_ms":7,"event":{"type":"update_accepted","update_id":"u","name":"n","input":"4"}},
        {"index":7,"at_ms":8,"event":{"type":"timer_fired","handle":3}},
        {"index":8,"at_ms":9,"event":{"type":"execution_completed","output":"5"}}]}"#;

    #[test]
    fn history_decoding_survives_seeded_mutations() {
        super::history(HISTORY.as_bytes());
        let mut m = Mutator(1);
        let mut decoded = 0;
        for _ in 0..3000 {
            let bytes = m.mutate(HISTORY.as_bytes());
            decoded +=
                usize::from(serde_json::from_slice::<crate::model::HistoryExport>(&bytes).is_ok());
            super::history(&bytes);
        }
        assert!(
            decoded > 0,
            "some mutations still decode, so replay is exercised"
        );
    }

    #[test]
    fn module_inspection_survives_seeded_mutations() {
        let mut m = Mutator(2);
        // A minimal valid component (the empty one) and a core module.
        let component: &[u8] = b"\0asm\x0d\0\x01\0";
        let core: &[u8] = b"\0asm\x01\0\0\0";
        assert!(
            crate::wasm::inspect::inspect_bytes(component).is_err(),
            "no world"
        );
        for _ in 0..300 {
            super::module(&m.mutate(component));
            super::module(&m.mutate(core));
        }
    }
}
