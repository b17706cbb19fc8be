//! Signing in to the console: a pasted token, a one-time link, and a token without the admin
//! scope; and the console's own files and headers.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use serde_json::json;

use super::Console;

#[tokio::test]
async fn a_pasted_token_signs_in_and_admin_pages_say_when_the_scope_is_missing() {
    let Some(console) = Console::unsigned(|_| {}, |b| b).await else {
        return;
    };
    console.find("form.signin").await;
    let token = console.app.token("佐藤", &["print"]);
    console.type_into("#token", &token).await;
    console.click("form.signin button[type=submit]").await;
    console.wait_for_text("#who", "佐藤").await;
    assert!(console.text("#who").await.contains("print"));

    console.open("#/jobs").await;
    let denied = console.wait_for_text(".denied", "admin").await;
    assert!(denied.contains("佐藤"), "{denied}");
    console.finish("signin-without-admin").await;
}

#[tokio::test]
async fn a_one_time_link_signs_in_once_and_leaves_no_code_in_the_address() {
    let Some(console) = Console::unsigned(|_| {}, |b| b).await else {
        return;
    };
    let link = login_link(&console.app, "ops", "admin");
    let code = link
        .fragment()
        .unwrap()
        .strip_prefix("login=")
        .unwrap()
        .to_string();
    console.goto(&format!("{}#login={code}", link.path())).await;
    console.wait_for_text("#who", "ops").await;
    assert!(console.text("#who").await.contains("admin"));
    let address = console.browser.current_url().await.unwrap();
    assert!(!address.as_str().contains(&code), "{address}");
    // The jobs page opens: the token has the admin scope.
    console.find("[data-testid=queues]").await;

    // The same link again, after signing out, is refused with a reason.
    console.click("#sign-out").await;
    console.find("form.signin").await;
    console.goto(&format!("/admin/#login={code}")).await;
    console
        .wait_for_text("form.signin .problem", "expired or was already used")
        .await;
    console.finish("signin-link-used-twice").await;
}

/// What `sous token --login` prints for the app's deployment.
fn login_link(app: &crate::helpers::TestApp, subject: &str, scope: &str) -> url::Url {
    let mut command = app.command();
    command.args(["token", "--sub", subject, "--scope", scope, "--login"]);
    let printed = crate::helpers::stdout_of(command);
    let link = url::Url::parse(printed.trim()).expect("a link");
    assert_eq!(
        link.as_str().split('#').next(),
        Some(app.url("/admin/").as_str())
    );
    link
}

#[tokio::test]
async fn console_files_carry_a_strict_policy_and_revalidate() {
    let Some(console) = Console::unsigned(|_| {}, |b| b).await else {
        return;
    };
    let client = &console.app.client;
    for path in ["/admin/", "/admin/app.js", "/admin/style.css"] {
        let response = client.get(console.app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let policy = response.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(policy.contains("script-src 'self'"), "{path}: {policy}");
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        let etag = response.headers()[ETAG].clone();
        let again = client
            .get(console.app.url(path))
            .header(IF_NONE_MATCH, etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
    let script = client
        .get(console.app.url("/admin/app.js"))
        .send()
        .await
        .unwrap();
    assert!(
        script.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let missing = client
        .get(console.app.url("/admin/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(console.app.url("/admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::PERMANENT_REDIRECT);
    console.finish("signin-page").await;
}

#[tokio::test]
async fn a_code_trades_for_a_token_once() {
    let app = crate::helpers::TestApp::spawn(&crate::helpers::Backend::Embedded).await;
    let code = sous::platform::auth::login::create(
        &app.platform.db,
        "ops",
        &["admin".to_string(), "print".to_string()],
        Duration::from_secs(600),
    )
    .await
    .unwrap();
    let exchange = || {
        app.client
            .post(app.url("/v1/auth/login"))
            .json(&json!({ "code": code }))
            .send()
    };
    let first = exchange().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let signed_in: serde_json::Value = first.json().await.unwrap();
    assert_eq!(signed_in["scopes"], json!(["admin", "print"]));
    let token = signed_in["token"].as_str().unwrap();
    let (status, me) = app.get_json(token, "/v1/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["subject"], "ops");
    assert_eq!(me["admin"], true);

    let second = exchange().await.unwrap();
    assert_eq!(second.status(), StatusCode::UNAUTHORIZED);
    let problem: serde_json::Value = second.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("already used"),
        "{problem}"
    );
    // A code past its five minutes is refused like a used one.
    let stale = sous::platform::auth::login::create(
        &app.platform.db,
        "ops",
        &["admin".to_string()],
        Duration::from_secs(600),
    )
    .await
    .unwrap();
    {
        use sea_orm::{EntityTrait, sea_query::Expr};
        use sous::platform::auth::login::entity;
        entity::Entity::update_many()
            .col_expr(
                entity::Column::ExpiresAt,
                Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
            )
            .exec(&app.platform.db)
            .await
            .unwrap();
    }
    let expired = app
        .client
        .post(app.url("/v1/auth/login"))
        .json(&json!({ "code": stale }))
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
    let missing = app
        .client
        .post(app.url("/v1/auth/login"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let (status, _) = app.get_json("not-a-token", "/v1/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.stop().await.unwrap();
}
