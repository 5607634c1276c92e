//! Payloads: the bytes that workflows, activities and callers exchange.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Opaque bytes, by convention UTF-8 JSON. In histories a payload is written
/// as its text when it is UTF-8 (so a person can read it and the bytes survive
/// exactly), else as `{"base64": "..."}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Payload(pub Vec<u8>);

impl Payload {
    pub fn from_json(value: &serde_json::Value) -> Self {
        Self(serde_json::to_vec(value).unwrap_or_default())
    }

    /// The payload as JSON, or as a JSON string of its text when it is not
    /// JSON, or `{"base64": ...}` when it is not even UTF-8.
    pub fn to_json(&self) -> serde_json::Value {
        if self.0.is_empty() {
            return serde_json::Value::Null;
        }
        match serde_json::from_slice(&self.0) {
            Ok(v) => v,
            Err(_) => match std::str::from_utf8(&self.0) {
                Ok(s) => serde_json::Value::String(s.to_owned()),
                Err(_) => {
                    serde_json::json!({ "base64": base64::engine::general_purpose::STANDARD.encode(&self.0) })
                }
            },
        }
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Short digest used when describing a command in a divergence report.
    /// The payload's JSON for a person, cut to about `max` characters; a
    /// cut one says how long it is and its digest (two that print alike may
    /// still differ past the cut).
    pub fn preview(&self, max: usize) -> String {
        let text = self.to_json().to_string();
        if text.chars().count() <= max {
            return text;
        }
        let cut: String = text.chars().take(max).collect();
        format!("{cut}… ({} bytes, sha-256 {})", self.0.len(), self.digest())
    }

    pub fn digest(&self) -> String {
        use sha2::Digest;
        hex::encode(&sha2::Sha256::digest(&self.0)[..6])
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Repr {
    Text(String),
    Bytes { base64: String },
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => Repr::Text(text.to_owned()).serialize(s),
            Err(_) => Repr::Bytes {
                base64: base64::engine::general_purpose::STANDARD.encode(&self.0),
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Text(t) => Ok(Self(t.into_bytes())),
            Repr::Bytes { base64 } => base64::engine::general_purpose::STANDARD
                .decode(base64)
                .map(Self)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_exactly() {
        for bytes in [b"{\"a\": 1}".to_vec(), vec![0xff, 0x00, 0x10], Vec::new()] {
            let p = Payload(bytes);
            let text = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<Payload>(&text).unwrap(), p);
        }
    }
}
