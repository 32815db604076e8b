//! Writes that commit together (`ecpa_server::batch`), on a real SQLite file and a real
//! PostgreSQL: all statements or none, placeholders of each statement its own, and a
//! failed batch leaves no connection of the pool inside an open transaction.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Kind, TestApp};
use ecpa_server::{
    batch::{Batch, Stmt},
    db::Db,
};

async fn counter(db: &Db, name: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT value FROM counters WHERE name = $1")
        .bind(name)
        .fetch_optional(&db.pool)
        .await
        .unwrap()
}

fn add(name: &str, by: i64) -> Stmt {
    Stmt::new(
        "UPDATE counters SET value = value + $2 WHERE name = $1",
        vec![name.into(), by.into()],
    )
}

fn insert(name: &str, value: i64) -> Stmt {
    Stmt::new(
        "INSERT INTO counters (name, value) VALUES ($1, $2)",
        vec![name.into(), value.into()],
    )
}

async fn all_or_nothing(kind: Kind) {
    let app = TestApp::new(kind).await;
    let db = &app.portal.db;
    // Each statement numbers its own placeholders from $1.
    let mut b = Batch::new();
    b.push(insert("t.a", 1))
        .push(insert("t.b", 10))
        .push(add("t.a", 5));
    b.commit(db).await.unwrap();
    assert_eq!(counter(db, "t.a").await, Some(6));
    assert_eq!(counter(db, "t.b").await, Some(10));

    // The third statement fails (the name exists): the first two are not kept.
    let mut b = Batch::new();
    b.push(add("t.a", 100))
        .push(insert("t.c", 1))
        .push(insert("t.b", 0))
        .push(add("t.b", 100));
    assert!(b.commit(db).await.is_err());
    assert_eq!(counter(db, "t.a").await, Some(6));
    assert_eq!(counter(db, "t.c").await, None);
    assert_eq!(counter(db, "t.b").await, Some(10));

    // Every connection of the pool still commits on its own: writes made through it are
    // seen by a separate connection (none was left inside the failed transaction).
    for i in 0..20 {
        add("t.a", 1).execute(&db.pool).await.unwrap();
        let mut b = Batch::new();
        b.push(add("t.b", 1)).push(add("t.b", 1));
        b.commit(db).await.unwrap();
        if i == 10 {
            let mut b = Batch::new();
            b.push(add("t.b", 1)).push(insert("t.a", 0));
            assert!(b.commit(db).await.is_err());
        }
    }
    let other = Db::connect(&app.portal.config.database_url, 1)
        .await
        .unwrap();
    assert_eq!(counter(&other, "t.a").await, Some(26));
    assert_eq!(counter(&other, "t.b").await, Some(50));
}

#[tokio::test]
async fn a_batch_commits_all_or_nothing_on_sqlite() {
    all_or_nothing(Kind::Sqlite).await;
}

#[tokio::test]
async fn a_batch_commits_all_or_nothing_on_postgres() {
    all_or_nothing(Kind::Postgres).await;
}
