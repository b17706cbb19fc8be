//! Migrations apply on SQLite and PostgreSQL, and applying them again is a no-op.

use sea_orm::ConnectionTrait;

use crate::helpers::{Backend, service_url, test_settings};

#[tokio::test]
async fn migrations_apply_and_reapply() {
    let mut backends = vec![Backend::Embedded];
    if let Some(url) = service_url("SOUS_TEST_DATABASE_URL") {
        backends.push(Backend::Postgres(url));
    }
    for backend in backends {
        let dir = tempfile::tempdir().unwrap();
        let settings = test_settings(&backend, dir.path()).await;
        let db = sous::platform::db::connect(&settings).await.unwrap();
        sous::platform::db::migrate(&db).await.unwrap();
        sous::platform::db::migrate(&db).await.unwrap();
        for table in ["job_failures", "scheduler_leases", "seaql_migrations"] {
            let found = db
                .execute_unprepared(&format!("SELECT COUNT(*) FROM {table}"))
                .await;
            assert!(found.is_ok(), "{backend:?}: {table} missing: {found:?}");
        }
    }
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let settings = test_settings(&Backend::Embedded, dir.path()).await;
    let db = sous::platform::db::connect(&settings).await.unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "PRAGMA journal_mode",
        ))
        .await
        .unwrap()
        .unwrap();
    let mode: String = row.try_get_by_index(0).unwrap();
    assert_eq!(mode, "wal");
}
