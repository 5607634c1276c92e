//! Identifiers, parsed at the edge and carried as newtypes everywhere else.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ModelError;

/// Names one execution. Generated ids read `wf_<ulid>`; a user may choose any
/// id made of ASCII letters, digits, `-`, `_`, `.` and `:` (at most 200 bytes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExecutionId(String);

impl ExecutionId {
    pub fn generate() -> Self {
        Self(format!(
            "wf_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ExecutionId {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = !s.is_empty()
            && s.len() <= 200
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(ModelError::InvalidExecutionId(s.to_owned()))
        }
    }
}

impl TryFrom<String> for ExecutionId {
    type Error = ModelError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ExecutionId> for String {
    fn from(id: ExecutionId) -> String {
        id.0
    }
}

impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The sha-256 of a module's bytes, shown as 64 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModuleHash([u8; 32]);

impl ModuleHash {
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::Digest;
        Self(sha2::Sha256::digest(bytes).into())
    }

    /// The first 12 hex digits, for people.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..6])
    }
}

impl FromStr for ModuleHash {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.strip_prefix("sha256:").unwrap_or(s);
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)
            .map_err(|_| ModelError::InvalidModuleHash(s.to_owned()))?;
        Ok(Self(out))
    }
}

impl TryFrom<String> for ModuleHash {
    type Error = ModelError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ModuleHash> for String {
    fn from(h: ModuleHash) -> String {
        h.to_string()
    }
}

impl fmt::Display for ModuleHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A workflow type's name, as given at deploy time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TypeName(String);

impl TypeName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for TypeName {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = !s.is_empty()
            && s.len() <= 100
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(ModelError::InvalidTypeName(s.to_owned()))
        }
    }
}

impl TryFrom<String> for TypeName {
    type Error = ModelError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<TypeName> for String {
    fn from(n: TypeName) -> String {
        n.0
    }
}

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_display() {
        let id = ExecutionId::generate();
        assert!(id.as_str().starts_with("wf_"));
        assert_eq!(id.to_string().parse::<ExecutionId>().unwrap(), id);
        let h = ModuleHash::of(b"abc");
        assert_eq!(h.to_string().parse::<ModuleHash>().unwrap(), h);
        assert_eq!(format!("sha256:{h}").parse::<ModuleHash>().unwrap(), h);
    }

    #[test]
    fn bad_ids_are_rejected() {
        assert!("".parse::<ExecutionId>().is_err());
        assert!("has space".parse::<ExecutionId>().is_err());
        assert!("zz".parse::<ModuleHash>().is_err());
        assert!("a/b".parse::<TypeName>().is_err());
    }
}
