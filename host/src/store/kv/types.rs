//! The key and value types of the store's tables, and how each is kept on
//! both backends: redb's own encodings (unchanged), and PostgreSQL columns
//! that sort as redb does. Strings are `bytea` (compared byte by byte like
//! redb's `&str`, whatever the database's collation, and free to hold the
//! NUL that some keys use as a separator); `u64` keys are `bigint` with the
//! sign bit flipped, so that their order survives the signed type.

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::store::StoreError;

/// A column's SQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Col {
    Bytes,
    Int,
}

/// A value bound to a statement, or written into one as a literal (the
/// writes a transaction buffers go to the server as one batch of text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param {
    Bytes(Vec<u8>),
    Int(i64),
}

impl Param {
    /// The value as SQL text: `'\x00ff'::bytea`, `-42`.
    pub fn literal(&self) -> String {
        match self {
            Param::Bytes(b) => format!("'\\x{}'::bytea", hex::encode(b)),
            Param::Int(i) => i.to_string(),
        }
    }
}

impl ToSql for Param {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Param::Bytes(b) => b.to_sql(ty, out),
            Param::Int(i) => i.to_sql(ty, out),
        }
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <Vec<u8> as ToSql>::accepts(ty) || <i64 as ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

/// One part of a key.
pub(crate) trait Part: redb::Key + 'static {
    type Out: Clone + std::fmt::Debug;
    const COL: Col;
    fn out(p: Self::SelfType<'_>) -> Self::Out;
    fn copy<'a>(p: &Self::SelfType<'a>) -> Self::SelfType<'a>;
    fn borrow(p: &Self::Out) -> Self::SelfType<'_>;
    fn bind(p: &Self::SelfType<'_>, out: &mut Vec<Param>);
    fn read(row: &Row, at: usize) -> Result<Self::SelfType<'_>, StoreError>;
}

/// A table's key: one part or a tuple of parts, compared in order.
pub(crate) trait KeyT: redb::Key + 'static {
    type Out: Clone + std::fmt::Debug;
    const COLS: &'static [Col];
    fn out(k: Self::SelfType<'_>) -> Self::Out;
    fn copy<'a>(k: &Self::SelfType<'a>) -> Self::SelfType<'a>;
    fn borrow(k: &Self::Out) -> Self::SelfType<'_>;
    fn bind(k: &Self::SelfType<'_>, out: &mut Vec<Param>);
    fn read(row: &Row, at: usize) -> Result<Self::SelfType<'_>, StoreError>;
}

/// A table's value.
pub(crate) trait ValT: redb::Value + 'static {
    type Out;
    /// `None`: the table keeps keys only.
    const COL: Option<Col>;
    fn out(v: Self::SelfType<'_>) -> Self::Out;
    fn bind(v: &Self::SelfType<'_>, out: &mut Vec<Param>);
    fn read(row: &Row, at: usize) -> Result<Self::SelfType<'_>, StoreError>;
    /// The value from the parts `bind` made.
    fn from_params(parts: &[Param]) -> Result<Self::Out, StoreError>;
}

fn mismatch() -> StoreError {
    StoreError::Corrupt {
        what: "a kept value",
        detail: "its parts do not match its table's type".into(),
    }
}

pub(crate) fn flip(u: u64) -> i64 {
    (u ^ (1 << 63)) as i64
}

pub(crate) fn unflip(i: i64) -> u64 {
    (i as u64) ^ (1 << 63)
}

fn column<'r, T: tokio_postgres::types::FromSql<'r>>(
    row: &'r Row,
    at: usize,
) -> Result<T, StoreError> {
    row.try_get(at).map_err(|e| StoreError::Corrupt {
        what: "database row",
        detail: e.to_string(),
    })
}

fn text(bytes: &[u8]) -> Result<&str, StoreError> {
    std::str::from_utf8(bytes).map_err(|e| StoreError::Corrupt {
        what: "database text",
        detail: e.to_string(),
    })
}

impl Part for &'static str {
    type Out = String;
    const COL: Col = Col::Bytes;
    fn out(p: &str) -> String {
        p.to_owned()
    }
    fn copy<'a>(p: &Self::SelfType<'a>) -> Self::SelfType<'a> {
        p
    }
    fn borrow(p: &String) -> &str {
        p.as_str()
    }
    fn bind(p: &&str, out: &mut Vec<Param>) {
        out.push(Param::Bytes(p.as_bytes().to_vec()));
    }
    fn read(row: &Row, at: usize) -> Result<&str, StoreError> {
        text(column::<&[u8]>(row, at)?)
    }
}

impl Part for u64 {
    type Out = u64;
    const COL: Col = Col::Int;
    fn out(p: u64) -> u64 {
        p
    }
    fn copy<'a>(p: &Self::SelfType<'a>) -> Self::SelfType<'a> {
        *p
    }
    fn borrow(p: &u64) -> u64 {
        *p
    }
    fn bind(p: &u64, out: &mut Vec<Param>) {
        out.push(Param::Int(flip(*p)));
    }
    fn read(row: &Row, at: usize) -> Result<u64, StoreError> {
        Ok(unflip(column::<i64>(row, at)?))
    }
}

impl Part for u32 {
    type Out = u32;
    const COL: Col = Col::Int;
    fn out(p: u32) -> u32 {
        p
    }
    fn copy<'a>(p: &Self::SelfType<'a>) -> Self::SelfType<'a> {
        *p
    }
    fn borrow(p: &u32) -> u32 {
        *p
    }
    fn bind(p: &u32, out: &mut Vec<Param>) {
        out.push(Param::Int(i64::from(*p)));
    }
    fn read(row: &Row, at: usize) -> Result<u32, StoreError> {
        u32::try_from(column::<i64>(row, at)?).map_err(|e| StoreError::Corrupt {
            what: "database row",
            detail: e.to_string(),
        })
    }
}

impl KeyT for &'static str {
    type Out = String;
    const COLS: &'static [Col] = &[Col::Bytes];
    fn out(k: &str) -> String {
        k.to_owned()
    }
    fn copy<'a>(k: &Self::SelfType<'a>) -> Self::SelfType<'a> {
        k
    }
    fn borrow(k: &String) -> &str {
        k.as_str()
    }
    fn bind(k: &&str, out: &mut Vec<Param>) {
        <&str as Part>::bind(k, out)
    }
    fn read(row: &Row, at: usize) -> Result<&str, StoreError> {
        <&str as Part>::read(row, at)
    }
}

macro_rules! tuple_key {
    ($($p:ident $i:tt),+) => {
        impl<$($p: Part),+> KeyT for ($($p,)+) {
            type Out = ($($p::Out,)+);
            const COLS: &'static [Col] = &[$($p::COL),+];
            fn out(k: Self::SelfType<'_>) -> Self::Out {
                ($($p::out(k.$i),)+)
            }
            fn copy<'a>(k: &Self::SelfType<'a>) -> Self::SelfType<'a> {
                ($($p::copy(&k.$i),)+)
            }
            fn borrow(k: &Self::Out) -> Self::SelfType<'_> {
                ($($p::borrow(&k.$i),)+)
            }
            fn bind(k: &Self::SelfType<'_>, out: &mut Vec<Param>) {
                $($p::bind(&k.$i, out);)+
            }
            fn read(row: &Row, at: usize) -> Result<Self::SelfType<'_>, StoreError> {
                Ok(($($p::read(row, at + $i)?,)+))
            }
        }
    };
}

tuple_key!(A 0, B 1);
tuple_key!(A 0, B 1, C 2);

impl ValT for &'static [u8] {
    type Out = Vec<u8>;
    const COL: Option<Col> = Some(Col::Bytes);
    fn out(v: &[u8]) -> Vec<u8> {
        v.to_vec()
    }
    fn bind(v: &&[u8], out: &mut Vec<Param>) {
        out.push(Param::Bytes(v.to_vec()));
    }
    fn read(row: &Row, at: usize) -> Result<&[u8], StoreError> {
        column::<&[u8]>(row, at)
    }
    fn from_params(parts: &[Param]) -> Result<Vec<u8>, StoreError> {
        match parts {
            [Param::Bytes(b)] => Ok(b.clone()),
            _ => Err(mismatch()),
        }
    }
}

impl ValT for &'static str {
    type Out = String;
    const COL: Option<Col> = Some(Col::Bytes);
    fn out(v: &str) -> String {
        v.to_owned()
    }
    fn bind(v: &&str, out: &mut Vec<Param>) {
        out.push(Param::Bytes(v.as_bytes().to_vec()));
    }
    fn read(row: &Row, at: usize) -> Result<&str, StoreError> {
        text(column::<&[u8]>(row, at)?)
    }
    fn from_params(parts: &[Param]) -> Result<String, StoreError> {
        match parts {
            [Param::Bytes(b)] => text(b).map(str::to_owned),
            _ => Err(mismatch()),
        }
    }
}

impl ValT for u64 {
    type Out = u64;
    const COL: Option<Col> = Some(Col::Int);
    fn out(v: u64) -> u64 {
        v
    }
    fn bind(v: &u64, out: &mut Vec<Param>) {
        out.push(Param::Int(flip(*v)));
    }
    fn read(row: &Row, at: usize) -> Result<u64, StoreError> {
        Ok(unflip(column::<i64>(row, at)?))
    }
    fn from_params(parts: &[Param]) -> Result<u64, StoreError> {
        match parts {
            [Param::Int(i)] => Ok(unflip(*i)),
            _ => Err(mismatch()),
        }
    }
}

impl ValT for () {
    type Out = ();
    const COL: Option<Col> = None;
    fn out(_: ()) {}
    fn bind(_: &(), _: &mut Vec<Param>) {}
    fn read(_: &Row, _: usize) -> Result<(), StoreError> {
        Ok(())
    }
    fn from_params(_: &[Param]) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_sql() {
        assert_eq!(
            Param::Bytes(vec![0, 0xff, b'\'']).literal(),
            "'\\x00ff27'::bytea"
        );
        assert_eq!(Param::Int(-42).literal(), "-42");
    }

    #[test]
    fn flipped_integers_keep_their_order() {
        let xs = [0u64, 1, 5, (1 << 63) - 1, 1 << 63, u64::MAX - 1, u64::MAX];
        for w in xs.windows(2) {
            assert!(flip(w[0]) < flip(w[1]), "{} < {}", w[0], w[1]);
        }
        for x in xs {
            assert_eq!(unflip(flip(x)), x);
        }
    }
}
