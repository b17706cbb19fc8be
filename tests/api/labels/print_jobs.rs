//! The print log: refused print jobs name their field; owners see only their own.

use super::*;

#[tokio::test]
async fn bad_print_jobs_are_400s_naming_the_field() {
    for backend in backends() {
        let app = spawn(&backend, free_port()).await;
        let alice = app.token("alice", &[]);
        let dry = json!({"dry_run": true});

        let mut data = order_item::example();
        data["delivery_slot"]["start"] = json!("ten");
        let body = with(json!({"template": "order-item", "data": data}), dry.clone());
        let problem = rejected(&app, &alice, &body).await;
        assert_eq!(
            fields(&problem),
            ["/data/delivery_slot/start"],
            "{backend:?}"
        );
        assert_eq!(problem["code"], "label_invalid");

        let bad_tree = json!({"tree": {"type": "sheet", "width_dots": 384, "columns": 32, "children": [
            {"type": "rule"}, {"type": "size", "width": 0, "height": 1, "children": []}
        ]}});
        let problem = rejected(&app, &alice, &with(bad_tree.clone(), dry.clone())).await;
        assert_eq!(fields(&problem), ["/tree/children/1"]);
        assert_eq!(problem["code"], "label_invalid");
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("between 1 and 8")
        );

        let mut zero = order_item::example();
        zero["quantity"] = json!(0);
        let labels = json!([tree("ok"), bad_tree, {"template": "order-item", "data": zero}]);
        let problem = rejected(&app, &alice, &json!({"labels": labels, "dry_run": true})).await;
        assert_eq!(
            fields(&problem),
            ["/labels/1/tree/children/1", "/labels/2/data/quantity"]
        );
        assert_eq!(problem["code"], "label_invalid");

        let problem = rejected(&app, &alice, &with(tree("a"), json!({"printer": "office"}))).await;
        assert_eq!(fields(&problem), ["/printer"]);
        assert_eq!(problem["code"], "printer_unknown");
        assert!(
            problem["detail"].as_str().unwrap().contains("`dock`"),
            "{problem}"
        );
        let problem = rejected(&app, &alice, &tree("a")).await;
        assert_eq!(fields(&problem), ["/printer"], "printing needs a printer");
        assert_eq!(problem["code"], "invalid_request");

        let batch = |n: usize| json!({"labels": vec![tree("a"); n], "dry_run": true});
        let problem = rejected(&app, &alice, &batch(501)).await;
        assert_eq!(fields(&problem), ["/labels"]);
        assert_eq!(problem["code"], "invalid_request");
        assert!(problem["detail"].as_str().unwrap().contains("1 to 500"));
        let (status, job, _) = post_print_job(&app, &alice, &batch(500)).await;
        assert_eq!(status, StatusCode::CREATED, "{backend:?}: {job}");
        assert_eq!(job["label_count"], 500);

        let problem = rejected(&app, &alice, &with(tree("a"), json!({"copies": 2}))).await;
        assert_eq!(problem["code"], "invalid_json");
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn print_jobs_belong_to_their_owner() {
    for backend in backends() {
        let app = spawn(&backend, free_port()).await;
        let (alice, bob, admin) = (
            app.token("alice", &[]),
            app.token("bob", &[]),
            app.admin_token(),
        );
        let dry_run = with(tree("a"), json!({"dry_run": true}));
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(
                post_print_job(&app, &alice, &dry_run).await.1["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        let (_, bobs, _) = post_print_job(&app, &bob, &dry_run).await;

        let alices = format!("/v1/print-jobs/{}", ids[0]);
        assert_eq!(app.get_json(&alice, &alices).await.0, 200, "{backend:?}");
        assert_eq!(app.get_json(&admin, &alices).await.0, 200);
        let (status, body) = app.get_json(&bob, &alices).await;
        assert_eq!(status, 404, "{backend:?}: someone else's job looks missing");
        assert_eq!(body["detail"], format!("no print job with id {}", ids[0]));
        assert_eq!(
            app.get_json(&bob, &format!("{alices}/preview")).await.0,
            404
        );
        assert_eq!(app.get_json(&bob, "/v1/print-jobs/nope").await.0, 404);

        // Newest first, a page at a time.
        let (_, page) = app.get_json(&alice, "/v1/print-jobs?limit=2").await;
        let page_ids: Vec<_> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap())
            .collect();
        assert_eq!(page_ids, [ids[2].as_str(), ids[1].as_str()], "{backend:?}");
        let next = page["next"].as_str().unwrap();
        let (_, page) = app
            .get_json(&alice, &format!("/v1/print-jobs?limit=2&after={next}"))
            .await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1);
        assert_eq!(page["items"][0]["id"], ids[0].as_str());
        assert_eq!(page["next"], Value::Null);

        let (status, _) = app.get_json(&bob, "/v1/print-jobs?owner=alice").await;
        assert_eq!(status, 403);
        let (_, all) = app.get_json(&admin, "/v1/print-jobs").await;
        assert_eq!(all["items"].as_array().unwrap().len(), 4);
        let (_, only_bob) = app.get_json(&admin, "/v1/print-jobs?owner=bob").await;
        assert_eq!(only_bob["items"][0]["id"], bobs["id"]);
        assert_eq!(only_bob["items"].as_array().unwrap().len(), 1);
        let (status, body) = app.get_json(&alice, "/v1/print-jobs?after=yesterday").await;
        assert_eq!(
            (status.as_u16(), body["code"].as_str()),
            (400, Some("invalid_query"))
        );
        assert!(
            body["detail"].as_str().unwrap().contains("not a cursor"),
            "{body}"
        );

        for (method, path) in [
            ("POST", "/v1/print-jobs"),
            ("GET", "/v1/print-jobs"),
            ("GET", alices.as_str()),
            ("GET", &format!("{alices}/preview")),
            ("POST", "/v1/labels/render?format=text"),
        ] {
            let response = app
                .client
                .request(method.parse().unwrap(), app.url(path))
                .json(&tree("a"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401, "{method} {path}");
        }
        app.stop().await.unwrap();
    }
}

#[tokio::test]
async fn printers_are_listed_by_name_without_their_addresses() {
    let app = spawn(&Backend::Embedded, free_port()).await;
    let (status, body) = app
        .get_json(&app.token("alice", &[]), "/v1/labels/printers")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"items": ["dock"]}));
    let (status, _) = app.get_json("", "/v1/labels/printers").await;
    assert_eq!(status, 401);
}
