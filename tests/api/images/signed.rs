//! Signed transform URLs: only URLs the application made render anything.

use reqwest::StatusCode;
use secrecy::SecretString;
use sous::images::Source;

use super::{fetch, nothing_ahead, path, photo, problem, spawn};
use crate::helpers::Backend;

fn key(name: &str) -> SecretString {
    SecretString::from(name.repeat(32))
}

#[tokio::test]
async fn unsigned_and_tampered_urls_are_refused_and_both_keys_of_a_rotation_work() {
    let app = spawn(&Backend::Embedded, |s| {
        nothing_ahead(s);
        s.images.sign_urls = true;
        s.images.url_keys = vec![key("new"), key("old")];
    })
    .await;
    let json = app.register_image("alice", photo()).await;
    // Registering the same bytes again is the same image.
    let image = sous::images::register(&app.platform, "alice", Source::Bytes(photo().into()))
        .await
        .unwrap();
    let base = app
        .platform
        .settings
        .public_url
        .as_str()
        .trim_end_matches('/')
        .to_string();
    let local = |url: String| url.replacen(&base, "", 1);

    let signed = local(sous::images::url(
        &app.platform,
        &image,
        "w=100&format=webp",
    ));
    assert!(signed.contains("&s="), "{signed}");
    assert_eq!(fetch(&app, &signed, None).await.status(), StatusCode::OK);

    let unsigned = format!("{}?w=100&format=webp", path(&json));
    let (status, body) = problem(fetch(&app, &unsigned, None).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["detail"].as_str().unwrap().contains("signed"),
        "{body}"
    );
    let tampered = signed.replace("w=100", "w=101");
    assert_eq!(
        fetch(&app, &tampered, None).await.status(),
        StatusCode::FORBIDDEN
    );

    // Signed with the old key, still in the list.
    let old_query = sous::images::signing::sign(&[key("old")], &path(&json), "w=100&format=webp");
    let old = format!("{}?{old_query}", path(&json));
    assert_eq!(fetch(&app, &old, None).await.status(), StatusCode::OK);
    let retired = sous::images::signing::sign(&[key("gone")], &path(&json), "w=100&format=webp");
    let retired = format!("{}?{retired}", path(&json));
    assert_eq!(
        fetch(&app, &retired, None).await.status(),
        StatusCode::FORBIDDEN
    );

    // The command line makes the same URL.
    let mut command = app.command();
    command
        .args([
            "images",
            "url",
            json["id"].as_str().unwrap(),
            "--w",
            "100",
            "--format",
            "webp",
        ])
        .env("SOUS_IMAGES__SIGN_URLS", "true")
        .env(
            "SOUS_IMAGES_URL_KEYS",
            format!("{},{}", "new".repeat(32), "old".repeat(32)),
        );
    let printed = crate::helpers::stdout_of(command);
    assert_eq!(local(printed.trim().to_string()), signed);

    // The image as registered needs no signature.
    assert_eq!(
        fetch(&app, &path(&json), None).await.status(),
        StatusCode::OK
    );
}
