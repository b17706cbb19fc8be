//! Rendering without printing: every template in every format, refusals, the CLI.

use super::*;

#[tokio::test]
async fn every_template_example_renders_in_every_format() {
    for backend in backends() {
        let app = spawn(&backend, free_port()).await;
        let token = app.token("designer", &[]);
        let response = app
            .client
            .get(app.url("/v1/labels/templates"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "templates are public");
        let list: Value = response.json().await.unwrap();
        let templates = list["items"].as_array().unwrap();
        assert_eq!(templates.len(), 2);
        let has_font = sous::labels::FONT_CANDIDATES
            .iter()
            .any(|path| std::path::Path::new(path).is_file());
        for template in templates {
            let name = template["name"].as_str().unwrap();
            assert!(!template["description"].as_str().unwrap().is_empty());
            let label = json!({"template": name, "data": template["example"]});
            for (format, content_type) in [
                ("escpos", "application/octet-stream"),
                ("html", "text/html; charset=utf-8"),
                ("pdf", "application/pdf"),
                ("text", "text/plain; charset=utf-8"),
            ] {
                let response = render(&app, &token, format, &label).await;
                if format == "pdf" && !has_font {
                    let (status, body) = problem(response).await;
                    assert_eq!(status, 503, "{name}: PDF without a font");
                    assert_eq!(body["code"], "pdf_font_missing");
                    continue;
                }
                assert_eq!(response.status(), 200, "{backend:?}: {name} {format}");
                assert_eq!(response.headers()["content-type"], content_type);
                assert_eq!(response.headers()["x-label-substitutions"], "0");
                let bytes = response.bytes().await.unwrap();
                match format {
                    "pdf" => assert!(bytes.starts_with(b"%PDF-")),
                    "text" => {
                        let golden =
                            std::fs::read(format!("tests/fixtures/labels/{name}.txt")).unwrap();
                        assert_eq!(bytes, golden, "{name}");
                    }
                    _ => assert!(!bytes.is_empty()),
                }
            }
        }
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn render_rejects_unknown_formats_and_bad_labels() {
    for backend in backends() {
        let app = spawn(&backend, free_port()).await;
        let token = app.token("designer", &[]);
        let (status, body) = problem(render(&app, &token, "jpeg", &tree("a")).await).await;
        assert_eq!(status, 400);
        assert_eq!(body["code"], "invalid_query");
        assert_eq!(fields(&body), ["format"]);
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("escpos, html, pdf, text")
        );
        let response = app
            .client
            .post(app.url("/v1/labels/render"))
            .bearer_auth(&token)
            .json(&tree("a"))
            .send()
            .await
            .unwrap();
        let (status, body) = problem(response).await;
        assert_eq!(
            (status.as_u16(), body["code"].as_str(), fields(&body)),
            (400, Some("invalid_query"), vec!["format"]),
            "the format is required"
        );

        let label = json!({"tree": {"type": "sheet", "width_dots": 384, "columns": 32, "children": [{"type": "blink"}]}});
        let (status, body) = problem(render(&app, &token, "text", &label).await).await;
        assert_eq!(
            (status.as_u16(), fields(&body)),
            (400, vec!["/tree/children/0"])
        );
        assert_eq!(body["code"], "label_invalid");

        let response = render(&app, &token, "text", &order_item("〜")).await;
        assert_eq!(response.headers()["x-label-substitutions"], "1");

        let response = app
            .client
            .get(app.url("/v1/labels/render"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405);
        let response = app
            .client
            .delete(app.url("/v1/print-jobs"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405);
        app.stop().await.unwrap();
    }
}

#[test]
fn the_cli_renders_a_template_to_html_without_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("order.json");
    std::fs::write(&data, order_item::example().to_string()).unwrap();
    let sous = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_sous"));
        command.current_dir(dir.path()).env("SOUS_LOG", "warn");
        command
    };

    let output = sous()
        .args([
            "labels",
            "render",
            "--template",
            "order-item",
            "--data",
            "order.json",
            "--format",
            "html",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let label =
        sous::labels::templates::render_template("order-item", order_item::example()).unwrap();
    let expected = sous::labels::render(&label, sous::labels::Format::Html)
        .unwrap()
        .bytes;
    assert_eq!(output.stdout, expected);

    std::fs::write(dir.path().join("tree.json"), tree("〜")["tree"].to_string()).unwrap();
    let output = sous()
        .args([
            "labels",
            "render",
            "--tree",
            "tree.json",
            "--format",
            "text",
            "--output",
            "label.txt",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stdout.is_empty());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("label.txt")).unwrap(),
        "～\n--- partial cut ---\n"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`〜` at /children/0 (character 0) prints as `～`"),
        "{stderr}"
    );

    let output = sous()
        .args([
            "labels",
            "render",
            "--template",
            "pallet",
            "--data",
            "order.json",
            "--format",
            "text",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown template `pallet`, expected one of: order-item, shipping-box"),
        "{stderr}"
    );

    assert!(
        !dir.path().join("data").exists(),
        "no database, no signing key"
    );
}
