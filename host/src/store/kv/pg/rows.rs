//! The row writes a PostgreSQL transaction has not sent yet, kept by table
//! and key, so that each table's go to the server as one statement of many
//! rows instead of one statement per row (a group commit writes tens of
//! rows: the server parses and plans each statement it is sent).
//!
//! Writes of one key are not reordered: the last one wins. Writes of
//! different keys commute, so a table's upserts go as one `INSERT` and its
//! deletes as one `DELETE`, tables in name order and keys in the order of
//! their SQL text (not the key order: integers sort as text; one order all
//! the same, and the store has one writer). A write that is not of one row
//! (a range delete), and every read, sends these first.

use std::collections::BTreeMap;

use super::super::types::Param;

/// The rows of one table.
struct TableRows {
    /// The table's key columns.
    keys: usize,
    /// Whether it has a value column (key-only tables do not).
    valued: bool,
    /// By key (its parts' literals, comma-separated): the value's literal
    /// to upsert (empty for a key-only table), or `None` to delete.
    rows: BTreeMap<String, Option<String>>,
}

/// The pending row writes of one transaction.
#[derive(Default)]
pub(super) struct Rows {
    tables: BTreeMap<String, TableRows>,
    /// About how long their SQL text will be.
    bytes: usize,
}

impl Rows {
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Keeps an upsert (`value`: `Some`, its literal parts; empty for a
    /// key-only table) or a delete (`None`) of `key` in `table`.
    pub fn put(&mut self, table: String, key: &[Param], valued: bool, value: Option<&[Param]>) {
        let keys = key.len();
        let key = literals(key);
        let value = value.map(literals);
        self.bytes += key.len() + value.as_ref().map_or(0, String::len) + 8;
        self.tables
            .entry(table)
            .or_insert_with(|| TableRows {
                keys,
                valued,
                rows: BTreeMap::new(),
            })
            .rows
            .insert(key, value);
    }

    /// The SQL of the writes kept (each statement ends with `;`), and
    /// forgets them.
    pub fn take_sql(&mut self) -> String {
        let mut sql = String::with_capacity(self.bytes + 256 * self.tables.len());
        for (table, t) in std::mem::take(&mut self.tables) {
            t.write_sql(&table, &mut sql);
        }
        self.bytes = 0;
        sql
    }
}

impl TableRows {
    fn write_sql(&self, table: &str, sql: &mut String) {
        let cols = (0..self.keys)
            .map(|i| format!("k{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        // `(k0) IN ((a), (b))` is `k0 IN (a, b)`: one form for any number
        // of key columns.
        let deletes = tuples(
            self.rows
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| k.clone()),
        );
        if !deletes.is_empty() {
            sql.push_str(&format!(
                "DELETE FROM {table} WHERE ({cols}) IN ({deletes});"
            ));
        }
        let upserts = tuples(self.rows.iter().filter_map(|(k, v)| {
            v.as_ref().map(|v| {
                if self.valued {
                    format!("{k}, {v}")
                } else {
                    k.clone()
                }
            })
        }));
        if upserts.is_empty() {
            return;
        }
        let value_col = if self.valued { ", v" } else { "" };
        sql.push_str(&format!(
            "INSERT INTO {table} ({cols}{value_col}) VALUES {upserts}"
        ));
        if self.valued {
            sql.push_str(&format!(
                " ON CONFLICT ({cols}) DO UPDATE SET v = EXCLUDED.v;"
            ));
        } else {
            sql.push_str(" ON CONFLICT DO NOTHING;");
        }
    }
}

/// `(a), (b)`: each item in parentheses, comma-separated.
fn tuples(items: impl Iterator<Item = String>) -> String {
    items
        .map(|item| format!("({item})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn literals(parts: &[Param]) -> String {
    parts
        .iter()
        .map(Param::literal)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> Param {
        Param::Bytes(s.as_bytes().to_vec())
    }

    #[test]
    fn the_last_write_of_a_key_wins_and_each_table_is_one_statement_per_kind() {
        let mut rows = Rows::default();
        let v = |s: &str| vec![bytes(s)];
        rows.put(
            "weft_t".into(),
            &[bytes("b"), Param::Int(2)],
            true,
            Some(&v("x")),
        );
        rows.put(
            "weft_t".into(),
            &[bytes("a"), Param::Int(1)],
            true,
            Some(&v("y")),
        );
        rows.put("weft_t".into(), &[bytes("b"), Param::Int(2)], true, None);
        rows.put("weft_t".into(), &[bytes("c"), Param::Int(3)], true, None);
        rows.put(
            "weft_t".into(),
            &[bytes("c"), Param::Int(3)],
            true,
            Some(&v("z")),
        );
        rows.put("weft_k".into(), &[bytes("q")], false, Some(&[]));
        assert!(rows.bytes() > 0);
        let sql = rows.take_sql();
        assert_eq!(rows.take_sql(), "");
        assert_eq!(rows.bytes(), 0);
        let (a, b, c, q) = (
            bytes("a").literal(),
            bytes("b").literal(),
            bytes("c").literal(),
            bytes("q").literal(),
        );
        let (y, z) = (bytes("y").literal(), bytes("z").literal());
        assert_eq!(
            sql,
            format!(
                "INSERT INTO weft_k (k0) VALUES ({q}) ON CONFLICT DO NOTHING;\
                 DELETE FROM weft_t WHERE (k0, k1) IN (({b}, 2));\
                 INSERT INTO weft_t (k0, k1, v) VALUES ({a}, 1, {y}), ({c}, 3, {z}) \
                 ON CONFLICT (k0, k1) DO UPDATE SET v = EXCLUDED.v;"
            )
        );
    }
}
