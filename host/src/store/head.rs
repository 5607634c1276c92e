//! The head of an execution's record: the fields every append checks
//! (status, module, epoch, run start, whether a cancellation was asked),
//! decoded without reading the rest of the record, whose input and output
//! may be megabytes.

use crate::model::{ExecutionRecord, ExecutionStatus, ModuleHash};

pub(super) struct Head {
    pub(super) status: ExecutionStatus,
    pub(super) module: ModuleHash,
    pub(super) resets: u32,
    pub(super) run_start: u64,
    pub(super) cancel_requested: bool,
}

impl Head {
    /// Decodes the head of a record's JSON. A record writes these fields
    /// before its input and output, so the decoding stops once it has all
    /// of them (serde_json reads to the end of any value it is asked for,
    /// so the stop is an error the visitor raises after it kept the head).
    /// A record written before they came first, or without the fields that
    /// have defaults, is read to its end.
    pub(super) fn decode(bytes: &[u8]) -> Result<Head, serde_json::Error> {
        let mut stopped = None;
        let mut de = serde_json::Deserializer::from_slice(bytes);
        match serde::Deserializer::deserialize_map(&mut de, HeadVisitor(&mut stopped)) {
            Ok(head) => Ok(head),
            Err(e) => stopped.ok_or(e),
        }
    }
}

impl From<&ExecutionRecord> for Head {
    fn from(r: &ExecutionRecord) -> Self {
        Self {
            status: r.status,
            module: r.module,
            resets: r.resets,
            run_start: r.run_start,
            cancel_requested: r.cancel_requested,
        }
    }
}

/// The stop [`Head::decode`] raises once it has the head.
const HEAD_READ: &str = "the head is read";

#[derive(serde::Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum HeadField {
    Status,
    Module,
    Resets,
    RunStart,
    CancelRequested,
    #[serde(other)]
    Other,
}

/// Keeps the head in its slot when it stops early.
struct HeadVisitor<'a>(&'a mut Option<Head>);

impl<'de> serde::de::Visitor<'de> for HeadVisitor<'_> {
    type Value = Head;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an execution record")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Head, A::Error> {
        use serde::de::Error;
        let (mut status, mut module) = (None, None);
        let (mut resets, mut run_start, mut cancel_requested) = (None, None, None);
        let mut whole = false;
        while let Some(field) = map.next_key()? {
            match field {
                HeadField::Status => status = Some(map.next_value()?),
                HeadField::Module => module = Some(map.next_value()?),
                HeadField::Resets => resets = Some(map.next_value()?),
                HeadField::RunStart => run_start = Some(map.next_value()?),
                HeadField::CancelRequested => cancel_requested = Some(map.next_value()?),
                HeadField::Other => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
            whole = status.is_some()
                && module.is_some()
                && resets.is_some()
                && run_start.is_some()
                && cancel_requested.is_some();
            if whole {
                break;
            }
        }
        let head = Head {
            status: status.ok_or_else(|| A::Error::missing_field("status"))?,
            module: module.ok_or_else(|| A::Error::missing_field("module"))?,
            resets: resets.unwrap_or_default(),
            run_start: run_start.unwrap_or_default(),
            cancel_requested: cancel_requested.unwrap_or_default(),
        };
        if !whole {
            return Ok(head);
        }
        *self.0 = Some(head);
        Err(A::Error::custom(HEAD_READ))
    }
}
