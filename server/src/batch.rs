//! Writes that commit together, in as few trips to the database as the back-end allows.
//!
//! On SQLite every statement is a round trip to sqlx's database thread (two thread
//! wake-ups, ~0.1 ms each on an idle server), so a sign-in's six writes cost more than
//! everything else it does. A [`Batch`] sends them as **one** multi-statement call,
//! `BEGIN IMMEDIATE; …; COMMIT;`, with the placeholders renumbered so that every statement
//! keeps its own `$1…` in the source; if any statement fails, the transaction is rolled
//! back on the same connection (or the connection is closed when even that fails). On
//! PostgreSQL (a multi-statement call cannot carry parameters there) the statements run in
//! an ordinary transaction, one after another.

use crate::db::{Backend, Db};
use crate::error::Result;
use sqlx::{any::AnyArguments, query::Query, Any, Executor};

/// A bound value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(Option<String>),
    Int(Option<i64>),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(Some(v.to_string()))
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(Some(v))
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(Some(v.clone()))
    }
}
impl From<Option<&str>> for Value {
    fn from(v: Option<&str>) -> Self {
        Value::Text(v.map(str::to_string))
    }
}
impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        Value::Text(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(Some(v))
    }
}

/// One statement with its values (`$1` is the first value).
#[derive(Debug, Clone)]
pub struct Stmt {
    sql: &'static str,
    values: Vec<Value>,
}

impl Stmt {
    pub fn new(sql: &'static str, values: Vec<Value>) -> Self {
        Self { sql, values }
    }

    /// Runs this statement alone.
    pub async fn execute<'e>(self, conn: impl Executor<'e, Database = Any>) -> Result<u64> {
        let r = bind_all(sqlx::query(self.sql), self.values)
            .execute(conn)
            .await?;
        Ok(r.rows_affected())
    }
}

/// Statements that commit together or not at all.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    stmts: Vec<Stmt>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, s: Stmt) -> &mut Self {
        self.stmts.push(s);
        self
    }

    /// Commits every statement, or none.
    pub async fn commit(self, db: &Db) -> Result<()> {
        match (self.stmts.len(), db.backend) {
            (0, _) => Ok(()),
            (1, _) => {
                let mut stmts = self.stmts;
                if let Some(s) = stmts.pop() {
                    s.execute(&db.pool).await?;
                }
                Ok(())
            }
            (_, Backend::Sqlite) => self.commit_sqlite(db).await,
            (_, Backend::Postgres) => {
                let mut tx = db.pool.begin().await?;
                for s in self.stmts {
                    s.execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    }

    async fn commit_sqlite(self, db: &Db) -> Result<()> {
        let (sql, values) = self.sqlite_text();
        let mut conn = db.pool.acquire().await?;
        let done = bind_all(sqlx::query(&sql), values)
            .execute(&mut *conn)
            .await;
        if let Err(e) = done {
            // The failed statement may have left the transaction open: end it here, or
            // never hand this connection to anyone else.
            if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
                conn.close_on_drop();
            }
            return Err(e.into());
        }
        Ok(())
    }

    /// The single SQLite call: `BEGIN IMMEDIATE` (the write lock at once, so two batches
    /// never deadlock upgrading a read lock), the statements, `COMMIT`.
    fn sqlite_text(self) -> (String, Vec<Value>) {
        let mut sql = String::from("BEGIN IMMEDIATE;\n");
        let mut values = Vec::new();
        for s in self.stmts {
            sql.push_str(&renumber(s.sql, values.len()));
            sql.push_str(";\n");
            values.extend(s.values);
        }
        sql.push_str("COMMIT;");
        (sql, values)
    }
}

fn bind_all<'q>(
    mut q: Query<'q, Any, AnyArguments<'q>>,
    values: Vec<Value>,
) -> Query<'q, Any, AnyArguments<'q>> {
    for v in values {
        q = match v {
            Value::Text(t) => q.bind(t),
            Value::Int(i) => q.bind(i),
        };
    }
    q
}

/// `sql` with every placeholder `$n` outside quotes and comments-free SQL text turned into
/// `$(n + offset)`.
fn renumber(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.char_indices().peekable();
    let mut quote: Option<char> = None;
    while let Some((_, c)) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '$' => {
                let mut digits = String::new();
                while let Some(&(_, d)) = chars.peek() {
                    if d.is_ascii_digit() {
                        digits.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                match digits.parse::<usize>() {
                    Ok(n) => {
                        out.push('$');
                        out.push_str(&(n + offset).to_string());
                    }
                    Err(_) => {
                        out.push('$');
                        out.push_str(&digits);
                    }
                }
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn renumbers_placeholders_only() {
        assert_eq!(
            renumber("UPDATE t SET a = $1, b = '$2' WHERE c = $12", 3),
            "UPDATE t SET a = $4, b = '$2' WHERE c = $15"
        );
        assert_eq!(renumber("SELECT $1", 0), "SELECT $1");
        assert_eq!(renumber("SELECT \"$1\", $", 2), "SELECT \"$1\", $");
    }

    proptest! {
        /// Renumbering by a then b is renumbering by a + b, and the text around the
        /// placeholders is untouched.
        #[test]
        fn renumber_composes(ns in proptest::collection::vec(1usize..50, 0..6), a in 0usize..40, b in 0usize..40) {
            let sql: String = ns.iter().map(|n| format!("x = ${n} AND ")).collect();
            prop_assert_eq!(renumber(&renumber(&sql, a), b), renumber(&sql, a + b));
            let expected: String = ns.iter().map(|n| format!("x = ${} AND ", n + a)).collect();
            prop_assert_eq!(renumber(&sql, a), expected);
        }
    }
}
