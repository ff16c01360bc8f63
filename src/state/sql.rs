//! One way to run the state store's SQL on either backend: statements are
//! written once with SQLite's `?N` placeholders (PostgreSQL gets `$N`),
//! values are [`SqlValue`]s both ways, and the few places where the two
//! dialects differ ask [`Tx::backend`]. This module and `mod.rs` are the
//! only ones that touch rusqlite; the rest of `state` speaks [`Tx`].

use anyhow::{Context as _, anyhow};
use chrono::{DateTime, Utc};
use rusqlite::types::{ToSqlOutput, ValueRef};

use super::{Tx, TxConn, parse_time};
pub use crate::pg::SqlValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A value that can be bound to a statement.
pub trait Arg {
    fn value(&self) -> SqlValue;
}

impl Arg for SqlValue {
    fn value(&self) -> SqlValue {
        self.clone()
    }
}
impl Arg for str {
    fn value(&self) -> SqlValue {
        SqlValue::Text(self.to_owned())
    }
}
impl Arg for String {
    fn value(&self) -> SqlValue {
        SqlValue::Text(self.clone())
    }
}
impl Arg for i64 {
    fn value(&self) -> SqlValue {
        SqlValue::Int(*self)
    }
}
impl Arg for u32 {
    fn value(&self) -> SqlValue {
        SqlValue::Int(i64::from(*self))
    }
}
impl Arg for bool {
    fn value(&self) -> SqlValue {
        SqlValue::Int(i64::from(*self))
    }
}
impl Arg for f64 {
    fn value(&self) -> SqlValue {
        SqlValue::Real(*self)
    }
}
impl Arg for Vec<u8> {
    fn value(&self) -> SqlValue {
        SqlValue::Bytes(self.clone())
    }
}
impl<T: Arg + ?Sized> Arg for &T {
    fn value(&self) -> SqlValue {
        (**self).value()
    }
}
impl<T: Arg> Arg for Option<T> {
    fn value(&self) -> SqlValue {
        self.as_ref().map_or(SqlValue::Null, Arg::value)
    }
}

/// The values of a statement's `?1`, `?2`, …
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::state::sql::Arg::value(&$value)),*]
    };
}
pub(crate) use args;

impl rusqlite::ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            SqlValue::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            SqlValue::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            SqlValue::Real(x) => ToSqlOutput::Borrowed(ValueRef::Real(*x)),
            SqlValue::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            SqlValue::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

fn from_sqlite(value: ValueRef<'_>) -> anyhow::Result<SqlValue> {
    Ok(match value {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(n) => SqlValue::Int(n),
        ValueRef::Real(x) => SqlValue::Real(x),
        ValueRef::Text(t) => SqlValue::Text(std::str::from_utf8(t)?.to_owned()),
        ValueRef::Blob(b) => SqlValue::Bytes(b.to_vec()),
    })
}

/// One row read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(Vec<SqlValue>);

impl Row {
    fn at(&self, index: usize) -> anyhow::Result<&SqlValue> {
        self.0
            .get(index)
            .ok_or_else(|| anyhow!("the state store returned no column {index}"))
    }

    pub fn text(&self, index: usize) -> anyhow::Result<String> {
        self.opt_text(index)?
            .ok_or_else(|| anyhow!("the state store returned NULL in column {index}"))
    }

    pub fn opt_text(&self, index: usize) -> anyhow::Result<Option<String>> {
        match self.at(index)? {
            SqlValue::Null => Ok(None),
            SqlValue::Text(t) => Ok(Some(t.clone())),
            other => Err(anyhow!("column {index}: expected text, found {other:?}")),
        }
    }

    pub fn int(&self, index: usize) -> anyhow::Result<i64> {
        self.opt_int(index)?
            .ok_or_else(|| anyhow!("the state store returned NULL in column {index}"))
    }

    pub fn opt_int(&self, index: usize) -> anyhow::Result<Option<i64>> {
        match self.at(index)? {
            SqlValue::Null => Ok(None),
            SqlValue::Int(n) => Ok(Some(*n)),
            other => Err(anyhow!(
                "column {index}: expected an integer, found {other:?}"
            )),
        }
    }

    pub fn count(&self, index: usize) -> anyhow::Result<u32> {
        u32::try_from(self.int(index)?).context("a count out of range in the state store")
    }

    pub fn bool(&self, index: usize) -> anyhow::Result<bool> {
        Ok(self.int(index)? != 0)
    }

    pub fn opt_real(&self, index: usize) -> anyhow::Result<Option<f64>> {
        match self.at(index)? {
            SqlValue::Null => Ok(None),
            SqlValue::Real(x) => Ok(Some(*x)),
            SqlValue::Int(n) => Ok(Some(*n as f64)),
            other => Err(anyhow!(
                "column {index}: expected a number, found {other:?}"
            )),
        }
    }

    pub fn real(&self, index: usize) -> anyhow::Result<f64> {
        self.opt_real(index)?
            .ok_or_else(|| anyhow!("the state store returned NULL in column {index}"))
    }

    pub fn opt_bytes(&self, index: usize) -> anyhow::Result<Option<Vec<u8>>> {
        match self.at(index)? {
            SqlValue::Null => Ok(None),
            SqlValue::Bytes(b) => Ok(Some(b.clone())),
            other => Err(anyhow!("column {index}: expected bytes, found {other:?}")),
        }
    }

    /// A time column: `None` for NULL or text that is not a time.
    pub fn time(&self, index: usize) -> anyhow::Result<Option<DateTime<Utc>>> {
        Ok(self.opt_text(index)?.as_deref().and_then(parse_time))
    }
}

/// `?N` → `$N` for PostgreSQL. The state store's statements hold no `?`
/// inside a string literal.
pub fn dollar_placeholders(sql: &str) -> String {
    sql.replace('?', "$")
}

impl Tx<'_> {
    pub fn backend(&self) -> Backend {
        match &self.conn {
            TxConn::Sqlite(_) => Backend::Sqlite,
            TxConn::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs `sql`; the number of rows it changed.
    pub fn exec(&self, sql: &str, args: Vec<SqlValue>) -> anyhow::Result<usize> {
        match &self.conn {
            TxConn::Sqlite(tx) => Ok(tx
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(args.iter()))?),
            TxConn::Postgres(client) => {
                let (_, changed) = client.query(&dollar_placeholders(sql), args)?;
                Ok(changed as usize)
            }
        }
    }

    /// Every row `sql` returns.
    pub fn rows(&self, sql: &str, args: Vec<SqlValue>) -> anyhow::Result<Vec<Row>> {
        match &self.conn {
            TxConn::Sqlite(tx) => {
                let mut statement = tx.prepare_cached(sql)?;
                let width = statement.column_count();
                let mut rows = statement.query(rusqlite::params_from_iter(args.iter()))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let values = (0..width)
                        .map(|i| from_sqlite(row.get_ref(i)?))
                        .collect::<anyhow::Result<_>>()?;
                    out.push(Row(values));
                }
                Ok(out)
            }
            TxConn::Postgres(client) => {
                let (rows, _) = client.query(&dollar_placeholders(sql), args)?;
                Ok(rows.into_iter().map(Row).collect())
            }
        }
    }

    /// The first row `sql` returns, if any.
    pub fn row(&self, sql: &str, args: Vec<SqlValue>) -> anyhow::Result<Option<Row>> {
        Ok(self.rows(sql, args)?.into_iter().next())
    }

    /// The first row of a statement that always returns one (an aggregate).
    pub fn one(&self, sql: &str, args: Vec<SqlValue>) -> anyhow::Result<Row> {
        self.row(sql, args)?
            .ok_or_else(|| anyhow!("the state store returned no row"))
    }

    /// Runs an `INSERT` into a table with an `id` key; the new row's id.
    pub fn insert(&self, sql: &str, args: Vec<SqlValue>) -> anyhow::Result<i64> {
        match &self.conn {
            TxConn::Sqlite(tx) => {
                tx.prepare_cached(sql)?
                    .execute(rusqlite::params_from_iter(args.iter()))?;
                Ok(tx.last_insert_rowid())
            }
            TxConn::Postgres(_) => self.one(&format!("{sql} RETURNING id"), args)?.int(0),
        }
    }
}
