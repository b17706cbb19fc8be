//! Every page on a phone: nothing wider than the screen, nothing logged as an error.

use super::Console;

const PAGES: [&str; 6] = ["jobs", "labels", "images", "meal-photos", "ads", "bulk"];

#[tokio::test]
async fn every_page_fits_a_phone_screen() {
    let Some(console) = Console::start().await else {
        return;
    };
    console
        .browser
        .set_window_size(375, 812)
        .await
        .expect("window resized");
    for page in PAGES {
        console.open(&format!("#/{page}")).await;
        console
            .wait_until(
                &format!("the {page} page renders"),
                &format!(
                    "document.querySelector('#nav a[aria-current=page]')?.getAttribute('href') === '#/{page}' \
                     && !document.querySelector('main#page .loading') \
                     && document.querySelector('main#page').children.length > 0"
                ),
            )
            .await;
        let widths = console
            .browser
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .unwrap();
        let (page_width, screen) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
        console.screenshot(&format!("phone-{page}")).await;
        assert!(
            page_width <= screen,
            "the {page} page is {page_width} px wide on a {screen} px screen"
        );
    }
    console.finish("phone-last-page").await;
}
