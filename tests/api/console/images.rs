//! The images page: an upload through the file input, its stored renditions, and the transform
//! playground's URL, size, format and time.

use super::Console;
use crate::images::samples;

#[tokio::test]
async fn an_upload_shows_its_renditions_and_transforms_can_be_tried() {
    let Some(console) = Console::start().await else {
        return;
    };
    console.open("#/images").await;
    console
        .wait_for_text("[data-testid=images-empty]", "No images yet")
        .await;

    // A 400×300 JPEG, red on the left and blue on the right: small, so that its AVIF (what
    // format=auto gives Chromium) is made quickly even on a busy machine.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("トマト.jpg");
    let jpeg = samples::jpeg(
        400,
        300,
        |x, _| {
            if x < 200 { samples::RED } else { samples::BLUE }
        },
    );
    std::fs::write(&path, jpeg).unwrap();
    console.choose_files("#image-file", &[path]).await;

    let upload = console
        .wait_for_text("[data-testid=image-upload]", "registered")
        .await;
    assert!(upload.contains("トマト.jpg"), "{upload}");
    console
        .wait_for_text("[data-testid=image-pixels]", "400×300")
        .await;
    console
        .wait_for_text("[data-testid=image-format]", "jpeg")
        .await;
    console.find("[data-testid=image-tile]").await;
    // The presets and the ladder are made in the background; the page follows them.
    let renditions = console
        .wait_for_text("[data-testid=image-variants]", "preset")
        .await;
    assert!(renditions.contains("webp"), "{renditions}");
    // The picture itself is shown (a decoded image has a width).
    console
        .wait_until(
            "the original is shown",
            "document.querySelector('[data-testid=image-original]')?.naturalWidth > 0",
        )
        .await;

    // The playground asked for the default rendition already.
    console
        .wait_for_text("[data-testid=tf-status]", "200")
        .await;

    // A width: snapped up to the configured sizes (200 → 240), as the URL asked.
    console.type_into("#tf-w", "200").await;
    console
        .wait_for_text("[data-testid=tf-url]", "?w=200")
        .await;
    console.set_value("#tf-format", "webp").await;
    console
        .wait_for_text("[data-testid=tf-url]", "?w=200&format=webp")
        .await;
    console
        .wait_for_text("[data-testid=tf-type]", "image/webp")
        .await;
    console
        .wait_for_text("[data-testid=tf-rendition]", "240x180")
        .await;
    console
        .wait_for_text("[data-testid=tf-dims]", "240×180")
        .await;
    let size = console.text("[data-testid=tf-size]").await;
    assert!(size.ends_with('B'), "a size in bytes: {size}");
    let time = console.text("[data-testid=tf-time]").await;
    assert!(time.contains("ms"), "{time}");

    // A crop in another format.
    console.type_into("#tf-h", "240").await;
    console.set_value("#tf-fit", "cover").await;
    console.set_value("#tf-format", "png").await;
    console
        .wait_for_text("[data-testid=tf-url]", "w=200&h=240&fit=cover&format=png")
        .await;
    console
        .wait_for_text("[data-testid=tf-type]", "image/png")
        .await;
    console
        .wait_for_text("[data-testid=tf-dims]", "240×288")
        .await;
    console
        .browser
        .execute(
            "document.querySelector('[data-testid=tf-result]').scrollIntoView({block: 'center'});",
            vec![],
        )
        .await
        .expect("scrolls to the result");
    console.finish("images").await;
}
