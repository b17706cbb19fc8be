//! Configuration errors stop the binary at start, naming the setting.

use std::process::Command;

fn sous(envs: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_sous"));
    command
        .current_dir(dir.path())
        .args(args)
        .env_remove("SOUS_REDIS_URL")
        .env_remove("SOUS_DATABASE_URL");
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().unwrap()
}

#[test]
fn bad_settings_fail_at_start_naming_the_setting() {
    for (key, value, expected) in [
        ("SOUS_BIND", "not-an-address", "SOUS_BIND"),
        ("SOUS_STORE_URL", "ftp://nowhere", "SOUS_STORE_URL"),
        ("SOUS_DATABASE_URL", "mysql://x", "SOUS_DATABASE_URL"),
        ("SOUS_REDIS_URL", "http://x", "SOUS_REDIS_URL"),
        (
            "SOUS_JOBS__POLL_INTERVAL",
            "soon",
            "SOUS_JOBS__POLL_INTERVAL",
        ),
        (
            "SOUS_JOBS__QUEUES__PRINT__CONCURRENCY",
            "0",
            "queue `print`",
        ),
        ("SOUS_IMAGES__SIGN_URLS", "true", "SOUS_IMAGES_URL_KEYS"),
        (
            "SOUS_IMAGES__QUALITIES",
            "[90,50]",
            "SOUS_IMAGES__QUALITIES",
        ),
        ("SOUS_ADS__SLOTS", "[]", "SOUS_ADS__SLOTS"),
    ] {
        let output = sous(&[(key, value)], &["serve"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{key}={value} should fail");
        assert!(stderr.contains(expected), "{key}={value}: {stderr}");
    }
}

#[test]
fn roles_flag_refuses_unknown_roles() {
    let output = sous(&[], &["serve", "--roles", "api,chef"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("chef"));
}

#[test]
fn sous_toml_is_read_and_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sous.toml"), "bind = \"nonsense\"\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sous"))
        .current_dir(dir.path())
        .arg("serve")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("SOUS_BIND") && stderr.contains("sous.toml"),
        "{stderr}"
    );

    // The environment overrides the file: a valid bind there makes the same file harmless, so
    // `token` (which reads settings) succeeds.
    let output = Command::new(env!("CARGO_BIN_EXE_sous"))
        .current_dir(dir.path())
        .env("SOUS_BIND", "127.0.0.1:0")
        .args(["token", "--sub", "alice", "--scope", "admin", "--ttl", "5m"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        token.trim().split('.').count(),
        3,
        "a JWT has three parts: {token}"
    );
}

#[test]
fn outside_embedded_mode_the_signing_key_is_required() {
    let output = sous(
        &[("SOUS_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")],
        &["token", "--sub", "a"],
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("SOUS_SIGNING_KEY"));
}

#[test]
fn flat_and_nested_environment_forms_are_understood() {
    let output = sous(
        &[
            ("SOUS_S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("SOUS_S3_PATH_STYLE", "true"),
            ("SOUS_JOBS__QUEUES__IMAGE_VARIANTS__CONCURRENCY", "3"),
            ("SOUS_LABELS__PRINTERS__DOCK_1", "127.0.0.1"),
        ],
        &["token", "--sub", "alice"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Errors are one readable line, not a backtrace.
    let output = sous(
        &[("SOUS_S3_PATH_STYLE", "sometimes")],
        &["token", "--sub", "alice"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: invalid setting SOUS_S3__PATH_STYLE"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// Setting errors stop `serve` before a connection changes anything: the fresh database given
/// gets no tables.
#[tokio::test]
async fn setting_errors_stop_serve_before_the_database_is_touched() {
    let Some(base) = crate::helpers::service_url("SOUS_TEST_DATABASE_URL") else {
        return;
    };
    for (envs, expected) in [
        (vec![], "SOUS_SIGNING_KEY"),
        (
            vec![
                ("SOUS_SIGNING_KEY", crate::helpers::TEST_SIGNING_KEY),
                ("SOUS_JOBS__QUEUES__DISHES__CONCURRENCY", "2"),
            ],
            "unknown queue `dishes`",
        ),
    ] {
        let url = crate::helpers::fresh_postgres_database(&base).await;
        let mut envs = envs;
        envs.extend([
            ("SOUS_DATABASE_URL", url.as_str()),
            ("SOUS_BIND", "127.0.0.1:0"),
        ]);
        let output = sous(&envs, &["serve"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains(expected),
            "{expected}: {stderr}"
        );
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let tables: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(tables, 0, "{expected}: the database was changed");
    }
}
