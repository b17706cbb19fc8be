//! Registration: limits at and past them, refusals, awkward files, HEIC and AVIF.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;
use sous::platform::storage::ObjectKey;

use super::samples::*;
use super::{CHROME, fetch, nothing_ahead, objects_under, path, photo, picture, spawn};
use crate::helpers::{Backend, eventually};

#[tokio::test]
async fn embedded_colour_profiles_are_converted_to_srgb() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    // The same numbers mean a more saturated orange in Display P3 than in sRGB.
    let orange = [200, 100, 50];
    let plain = app
        .register_image("alice", jpeg(64, 64, |_, _| orange))
        .await;
    let p3 = app
        .register_image("alice", jpeg_with_profile(64, 64, orange, &display_p3()))
        .await;
    let (_, untouched) = picture(&app, &format!("{}?format=png", path(&plain))).await;
    assert!(near(untouched.get_pixel(32, 32), orange, 3));
    for format in ["png", "jpeg", "webp"] {
        let (_, converted) = picture(&app, &format!("{}?format={format}", path(&p3))).await;
        let [r, g, b, _] = converted.get_pixel(32, 32).0;
        assert!(r > 210 && g < 100 && b < 40, "{format}: {r} {g} {b}");
    }
}

#[tokio::test]
async fn animations_are_served_animated_as_webp_and_as_their_first_frame_otherwise() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let image = app.register_image("alice", animated_gif(64, 48, 3)).await;
    let response = fetch(&app, &format!("{}?w=32", path(&image)), Some(CHROME)).await;
    assert_eq!(response.headers()[CONTENT_TYPE], "image/webp");
    let frames = webp_frames(&response.bytes().await.unwrap());
    assert_eq!(frames.len(), 3);
    for (frame, colour) in frames.iter().zip([RED, GREEN, BLUE]) {
        assert_eq!(frame.dimensions(), (32, 24));
        assert!(near(frame.get_pixel(16, 12), colour, 24));
    }
    let (content_type, still) = picture(&app, &format!("{}?w=32&format=png", path(&image))).await;
    assert_eq!(
        (content_type.as_str(), still.dimensions()),
        ("image/png", (32, 24))
    );
    assert!(near(still.get_pixel(16, 12), RED, 8));
}

#[tokio::test]
async fn upload_limits_hold_at_and_past_them() {
    let base = jpeg(8, 8, |_, _| RED);
    let limit = base.len() as u64 + 100;
    let app = spawn(&Backend::Embedded, |s| {
        nothing_ahead(s);
        s.images.max_bytes = limit;
        s.images.max_pixels = 10_000;
        s.images.max_frames = 3;
    })
    .await;
    let token = app.token("alice", &[]);
    // Bytes after the end of a JPEG are ignored by decoders: pad it to the limit, and past it.
    let padded = |len: u64| {
        let mut bytes = base.clone();
        bytes.resize(len as usize, 0);
        bytes
    };
    assert_eq!(
        app.upload_image(&token, padded(limit)).await.0,
        StatusCode::CREATED
    );
    let (status, body) = app.upload_image(&token, padded(limit + 1)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "image_too_large");
    assert_eq!(
        body["detail"],
        format!("the image is larger than the limit of {limit} bytes")
    );
    // Streamed without a length: refused while it streams.
    let chunks = vec![Ok::<_, std::io::Error>(padded(limit + 1))];
    let streamed = app
        .client
        .post(app.url("/v1/images"))
        .bearer_auth(&token)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = streamed.json().await.unwrap();
    assert_eq!(body["code"], "image_too_large");

    assert_eq!(
        app.upload_image(&token, png(100, 100)).await.0,
        StatusCode::CREATED
    );
    let (status, body) = app.upload_image(&token, png(101, 100)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "image_too_large");
    assert_eq!(
        body["detail"],
        "the image is 101×100 pixels (10100); the limit is 10000 pixels"
    );

    assert_eq!(
        app.upload_image(&token, gif(3)).await.0,
        StatusCode::CREATED
    );
    let (status, body) = app.upload_image(&token, gif(4)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "image_too_large");
    assert_eq!(
        body["detail"],
        "the animation has more than 3 frames, the limit"
    );
}

#[tokio::test]
async fn bombs_and_impostors_are_refused_before_decoding() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let token = app.token("alice", &[]);
    let (status, body) = app
        .upload_image(&token, png_header_claiming(100_000, 100_000))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "image_too_large");
    assert_eq!(
        body["detail"],
        "the image is 100000×100000 pixels (10000000000); the limit is 50000000 pixels"
    );
    // Thousands of frames against the default limit of 1000.
    let (status, body) = app.upload_image(&token, gif(5000)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "image_too_large");
    assert_eq!(
        body["detail"],
        "the animation has more than 1000 frames, the limit"
    );

    for (bytes, detail) in [
        (
            zip(),
            "the upload is a ZIP archive, not an image; sous accepts JPEG, PNG, GIF, WebP, AVIF and HEIC",
        ),
        (
            svg(),
            "the upload is SVG, which is not accepted: it can carry scripts; sous accepts JPEG, PNG, GIF, WebP, AVIF and HEIC",
        ),
        (
            Vec::new(),
            "the upload is empty; sous accepts JPEG, PNG, GIF, WebP, AVIF and HEIC",
        ),
    ] {
        let (status, body) = app.upload_image(&token, bytes).await;
        assert_eq!(
            (status, body["detail"].as_str(), body["code"].as_str()),
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some(detail),
                Some("image_unsupported")
            )
        );
    }
    let whole = jpeg(64, 64, |x, y| [x as u8 * 4, y as u8 * 4, 0]);
    let whole_png = png(64, 64);
    for truncated in [
        whole[..whole.len() / 2].to_vec(),
        whole_png[..whole_png.len() - 20].to_vec(),
    ] {
        let (status, body) = app.upload_image(&token, truncated).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["code"], "image_corrupt");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .starts_with("the image data is corrupt or truncated"),
            "{body}"
        );
    }
    let listed: Value = app
        .client
        .get(app.url("/v1/images"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 0);
    assert!(objects_under(&app, "images").await.is_empty());
}

/// Phones save HEIC, newer ones AVIF: both register at their size and are served in formats
/// browsers show, converted to sRGB and without the original's metadata.
#[tokio::test]
async fn heic_and_avif_uploads_are_served_in_web_formats() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let original = fixture("meal.heic");
    // The camera's EXIF and XMP are in the file, and must not come out.
    assert!(contains(&original, b"Canon"));
    let meal = app.register_image("alice", original).await;
    assert_eq!(
        (
            meal["format"].as_str(),
            meal["width"].as_u64(),
            meal["height"].as_u64(),
            &meal["has_alpha"]
        ),
        (Some("heic"), Some(160), Some(120), &Value::Bool(false))
    );
    for (accept, content_type) in [(None, "image/jpeg"), (Some("image/webp,*/*"), "image/webp")] {
        let response = fetch(&app, &format!("{}?w=80", path(&meal)), accept).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], content_type);
        let bytes = response.bytes().await.unwrap();
        assert!(!contains(&bytes, b"Canon") && !contains(&bytes, b"Exif"));
        assert_eq!(pixels(&bytes).dimensions(), (80, 60));
    }

    // Transparency: a PNG by default, the transparent half still transparent.
    let sticker = app.register_image("alice", fixture("sticker.avif")).await;
    assert_eq!(
        (sticker["format"].as_str(), &sticker["has_alpha"]),
        (Some("avif"), &Value::Bool(true))
    );
    let (content_type, served) = picture(&app, &path(&sticker)).await;
    assert_eq!(content_type, "image/png");
    assert_eq!(served.get_pixel(8, 24).0[3], 0);
    assert!(near(served.get_pixel(56, 24), [200, 40, 40], 4));

    // (0, 200, 0) in Display P3, said by the AVIF's nclx box: a brighter green in sRGB.
    let green = app.register_image("alice", fixture("p3-green.avif")).await;
    let (_, served) = picture(&app, &format!("{}?format=png", path(&green))).await;
    let [r, g, b, _] = served.get_pixel(16, 16).0;
    assert!(r < 5 && g > 200 && b < 5, "{r} {g} {b}");

    let heic = fixture("meal.heic");
    let (status, body) = app
        .upload_image(&app.token("alice", &[]), heic[..heic.len() / 2].to_vec())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "image_corrupt");
}

#[tokio::test]
async fn exif_orientation_is_applied() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    // Stored 40×20: red, green on top; blue, white below.
    let quadrant = |x: u16, y: u16| match (x < 20, y < 10) {
        (true, true) => RED,
        (false, true) => GREEN,
        (true, false) => BLUE,
        (false, false) => WHITE,
    };
    // What each orientation shows at top left, top right, bottom left, bottom right.
    let upright = [
        (1, [RED, GREEN, BLUE, WHITE]),
        (2, [GREEN, RED, WHITE, BLUE]),
        (3, [WHITE, BLUE, GREEN, RED]),
        (4, [BLUE, WHITE, RED, GREEN]),
        (5, [RED, BLUE, GREEN, WHITE]),
        (6, [BLUE, RED, WHITE, GREEN]),
        (7, [WHITE, GREEN, BLUE, RED]),
        (8, [GREEN, WHITE, RED, BLUE]),
    ];
    for (orientation, corners) in upright {
        let image = app
            .register_image("alice", jpeg_oriented(40, 20, orientation, quadrant))
            .await;
        let size: (u32, u32) = if orientation >= 5 { (20, 40) } else { (40, 20) };
        assert_eq!(
            (image["width"].as_u64(), image["height"].as_u64()),
            (Some(size.0.into()), Some(size.1.into()))
        );
        let (_, shown) = picture(&app, &format!("{}?format=png", path(&image))).await;
        assert_eq!(shown.dimensions(), size);
        let (w, h) = size;
        let at = [
            (w / 4, h / 4),
            (w * 3 / 4, h / 4),
            (w / 4, h * 3 / 4),
            (w * 3 / 4, h * 3 / 4),
        ];
        for ((x, y), expected) in at.into_iter().zip(corners) {
            let got = shown.get_pixel(x, y);
            assert!(
                near(got, expected, 40),
                "orientation {orientation} at {x},{y}: {got:?}"
            );
        }
        // Shrunk while decoding, the turn is the same.
        let (_, small) = picture(&app, &format!("{}?format=png&w=4", path(&image))).await;
        assert_eq!(small.width(), 4);
    }
}

#[tokio::test]
async fn cmyk_and_16_bit_transparency_come_out_right() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let cmyk = app
        .register_image("alice", cmyk_jpeg(16, 16, [0, 255, 255, 0]))
        .await;
    let (_, shown) = picture(&app, &format!("{}?format=png", path(&cmyk))).await;
    assert!(
        near(shown.get_pixel(8, 8), RED, 30),
        "{:?}",
        shown.get_pixel(8, 8)
    );

    let image = app
        .register_image("alice", png16_half_transparent(16, 8))
        .await;
    assert_eq!(image["has_alpha"], true);
    // Without WebP in Accept, transparency means PNG.
    let (content_type, png) = picture(&app, &path(&image)).await;
    assert_eq!(content_type, "image/png");
    assert_eq!(png.get_pixel(2, 4).0, [255, 0, 0, 255]);
    assert_eq!(png.get_pixel(13, 4).0[3], 0);
    let webp = fetch(&app, &path(&image), Some("image/webp,*/*"))
        .await
        .bytes()
        .await
        .unwrap();
    let webp = pixels(&webp);
    assert!(near(webp.get_pixel(2, 4), RED, 30) && webp.get_pixel(13, 4).0[3] < 10);
    // JPEG has no transparency: it shows white.
    let (_, jpeg) = picture(&app, &format!("{}?format=jpeg", path(&image))).await;
    assert!(
        near(jpeg.get_pixel(13, 4), WHITE, 30),
        "{:?}",
        jpeg.get_pixel(13, 4)
    );
}

#[tokio::test]
async fn concurrent_registrations_of_the_same_bytes_keep_one_original() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let registrations = (0..6).map(|_| {
        sous::images::register(
            &app.platform,
            "alice",
            sous::images::Source::Bytes(photo().into()),
        )
    });
    let images = futures::future::try_join_all(registrations).await.unwrap();
    assert!(images.iter().all(|image| image.id == images[0].id));
    assert!(
        eventually(Duration::from_secs(5), || async {
            objects_under(&app, "images").await.len() == 1
        })
        .await,
        "{:?}",
        objects_under(&app, "images").await
    );
}

#[tokio::test]
async fn an_original_whose_row_does_not_commit_is_removed() {
    use sea_orm::ConnectionTrait;
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    app.platform
        .db
        .execute_unprepared(
            "CREATE TRIGGER refuse_images BEFORE INSERT ON images BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .await
        .unwrap();
    let err = sous::images::register(
        &app.platform,
        "alice",
        sous::images::Source::Bytes(photo().into()),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    assert!(
        eventually(Duration::from_secs(5), || async {
            objects_under(&app, "images").await.is_empty()
        })
        .await,
        "{:?}",
        objects_under(&app, "images").await
    );
}

#[tokio::test]
async fn register_takes_an_object_already_in_the_store() {
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    let key = ObjectKey::parse("bulk/test/photo.jpg").unwrap();
    app.platform.store.put(&key, photo().into()).await.unwrap();
    let image = sous::images::register(
        &app.platform,
        "alice",
        sous::images::Source::Object(key.clone()),
    )
    .await
    .unwrap();
    assert_eq!(image.size(), (640, 480));
    assert!(
        app.platform.store.head(&key).await.unwrap().is_some(),
        "the source stays its writer's"
    );
    let missing = ObjectKey::parse("bulk/test/missing.jpg").unwrap();
    let err = sous::images::register(
        &app.platform,
        "alice",
        sous::images::Source::Object(missing),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "there is no object bulk/test/missing.jpg to register"
    );
}

/// Real photographs (`../shared/eval-photos`, next to the repository): each registers and comes
/// out at 320 px wide with its proportions.
#[tokio::test]
async fn real_photographs_register_and_resize() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/eval-photos");
    if !folder.is_dir() {
        eprintln!(
            "note: {} is absent; skipping the real photographs",
            folder.display()
        );
        return;
    }
    let app = spawn(&Backend::Embedded, nothing_ahead).await;
    for side in ["food", "nonfood"] {
        let mut files: Vec<_> = std::fs::read_dir(folder.join(side))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let image = app
                .register_image("alice", std::fs::read(&file).unwrap())
                .await;
            let (width, height) = (
                image["width"].as_u64().unwrap(),
                image["height"].as_u64().unwrap(),
            );
            let (_, shown) = picture(&app, &format!("{}?w=320&format=webp", path(&image))).await;
            let expected_height = ((height * 320 * 2 + width) / (2 * width)).max(1) as u32;
            let expected = if width > 320 {
                (320, expected_height)
            } else {
                (width as u32, height as u32)
            };
            assert_eq!(shown.dimensions(), expected, "{}", file.display());
        }
    }
}

#[tokio::test]
async fn a_registered_image_carries_its_placeholder() {
    for backend in crate::helpers::backends() {
        let app = spawn(&backend, nothing_ahead).await;
        // Mostly a warm brown, as a plate of curry: the colour and the blur say so.
        let image = app
            .register_image(
                "alice",
                jpeg(400, 300, |x, _| {
                    if x < 360 {
                        [150, 90, 40]
                    } else {
                        [250, 250, 250]
                    }
                }),
            )
            .await;
        let placeholder = &image["placeholder"];
        let blurhash = placeholder["blurhash"].as_str().unwrap();
        assert_eq!(blurhash.len(), 28, "4×3 components: {placeholder}");
        let color = placeholder["color"].as_str().unwrap();
        let channel = |i: usize| u8::from_str_radix(&color[1 + 2 * i..3 + 2 * i], 16).unwrap();
        for (i, want) in [150u8, 90, 40].into_iter().enumerate() {
            assert!(channel(i).abs_diff(want) <= 8, "{backend:?}: {color}");
        }
        let (_, again) = app
            .get_json(
                &app.token("alice", &[]),
                &format!("/v1/images/{}", image["id"].as_str().unwrap()),
            )
            .await;
        assert_eq!(
            &again["placeholder"], placeholder,
            "{backend:?}: kept with the row"
        );
    }
}
