use super::*;

fn parse(query: &str) -> Result<TransformSpec, String> {
    TransformSpec::parse(query).map_err(|e| e.to_string())
}

fn long_side(pixels: u32) -> Dimension {
    Dimension::try_from(pixels).unwrap()
}

fn name(query: &str, size: (u32, u32), format: OutputFormat) -> String {
    TransformSpec::parse(query)
        .unwrap()
        .resolve(size, Focus::CENTRE, format, long_side(2560))
        .name()
}

#[test]
fn the_empty_query_asks_for_the_defaults() {
    let spec = parse("").unwrap();
    assert_eq!(spec.format(), FormatChoice::Auto);
    assert_eq!(spec.to_string(), "");
}

#[test]
fn every_parameter_parses() {
    let spec = parse("w=320&h=200&fit=cover&format=webp&q=75").unwrap();
    assert_eq!(spec.to_string(), "w=320&h=200&fit=cover&format=webp&q=75");
    assert_eq!(spec.format(), FormatChoice::Fixed(OutputFormat::Webp));
    for format in OutputFormat::ALL {
        assert_eq!(
            parse(&format!("format={format}")).unwrap().format(),
            FormatChoice::Fixed(format)
        );
    }
    assert_eq!(parse("format=auto").unwrap().format(), FormatChoice::Auto);
    assert_eq!(parse("fit=inside&w=1").unwrap().to_string(), "w=1");
    assert_eq!(
        parse("w=10&h=5&fit=contain&dpr=1.5").unwrap().to_string(),
        "w=10&h=5&dpr=1.5&fit=contain"
    );
}

#[test]
fn sizes_are_checked_at_and_past_their_bounds() {
    assert!(parse("w=1").is_ok());
    assert!(parse("h=4096").is_ok());
    assert_eq!(
        parse("w=99999").unwrap_err(),
        "w must be between 1 and 4096, got 99999"
    );
    assert_eq!(
        parse("h=4097").unwrap_err(),
        "h must be between 1 and 4096, got 4097"
    );
    assert_eq!(
        parse("w=0").unwrap_err(),
        "w must be between 1 and 4096, got 0"
    );
    assert_eq!(
        parse("w=99999999999999999999").unwrap_err(),
        "w must be between 1 and 4096, got 99999999999999999999"
    );
}

#[test]
fn sizes_must_be_whole_numbers() {
    for bad in ["", "-5", "+5", "3.5", "1e3", "abc", " 5"] {
        let query = format!(
            "w={}",
            url::form_urlencoded::byte_serialize(bad.as_bytes()).collect::<String>()
        );
        assert_eq!(
            parse(&query).unwrap_err(),
            format!("w must be a whole number between 1 and 4096, got `{bad}`"),
            "{bad:?}"
        );
    }
    let long = "x".repeat(100);
    assert_eq!(
        parse(&format!("w={long}")).unwrap_err(),
        format!(
            "w must be a whole number between 1 and 4096, got `{}…`",
            "x".repeat(24)
        )
    );
}

#[test]
fn quality_is_checked_at_and_past_its_bounds() {
    assert!(parse("q=1").is_ok());
    assert!(parse("q=100").is_ok());
    assert_eq!(
        parse("q=101").unwrap_err(),
        "q must be between 1 and 100, got 101"
    );
    assert_eq!(
        parse("q=0").unwrap_err(),
        "q must be between 1 and 100, got 0"
    );
}

#[test]
fn words_are_checked() {
    assert_eq!(
        parse("fit=stretch").unwrap_err(),
        "fit must be inside, contain, cover or fill, got `stretch`"
    );
    assert_eq!(
        parse("format=bmp").unwrap_err(),
        "format must be auto, jpeg, webp, avif or png, got `bmp`"
    );
    assert_eq!(
        parse("format=JPEG").unwrap_err(),
        "format must be auto, jpeg, webp, avif or png, got `JPEG`"
    );
    for fit in ["cover", "contain", "fill"] {
        assert_eq!(
            parse(&format!("fit={fit}&w=10")).unwrap_err(),
            format!("fit={fit} needs both w and h")
        );
    }
    assert_eq!(parse("w=1&w=2").unwrap_err(), "w is given more than once");
    assert_eq!(
        parse("width=10").unwrap_err(),
        "unknown parameter `width`; expected w, h, dpr, fit, fp, format or q"
    );
    assert_eq!(
        parse("w=10&v=2").unwrap_err(),
        "unknown parameter `v`; expected w, h, dpr, fit, fp, format or q"
    );
}

#[test]
fn errors_name_their_field() {
    let field = |q: &str| TransformSpec::parse(q).unwrap_err().field();
    assert_eq!(field("w=0"), "w");
    assert_eq!(field("q=x"), "q");
    assert_eq!(field("fit=cover&h=3"), "fit");
    assert_eq!(field("format=bmp"), "format");
    assert_eq!(field("zoom=2"), "zoom");
    assert_eq!(field("dpr=5&w=1"), "dpr");
    assert_eq!(field("dpr=2"), "dpr");
}

#[test]
fn presets_need_a_fixed_format() {
    let preset = Preset::try_from("w=320&format=webp".to_string()).unwrap();
    assert_eq!(String::from(preset), "w=320&format=webp");
    assert_eq!(
        preset
            .resolve((4896, 3264), Focus::CENTRE, long_side(2560))
            .name(),
        "320x213-q80.webp"
    );
    assert!(
        Preset::try_from("w=320".to_string())
            .unwrap_err()
            .contains("a preset needs a format")
    );
    assert_eq!(
        Preset::try_from("w=0&format=png".to_string()).unwrap_err(),
        "preset `w=0&format=png`: w must be between 1 and 4096, got 0"
    );
}

#[test]
fn dimensions_convert_within_their_bounds() {
    assert_eq!(Dimension::try_from(4096).unwrap().get(), 4096);
    assert_eq!(
        Dimension::try_from(4097).unwrap_err(),
        "a size must be between 1 and 4096, got 4097"
    );
    assert!(Dimension::try_from(0).is_err());
}

#[test]
fn percent_encoding_is_decoded() {
    assert_eq!(parse("%77=32").unwrap().to_string(), "w=32");
}

#[test]
fn without_a_size_the_default_long_side_applies() {
    use OutputFormat::*;
    // At the default long side, and one past it.
    assert_eq!(name("", (2560, 1000), Jpeg), "2560x1000-q80.jpg");
    assert_eq!(name("", (2561, 1000), Jpeg), "2560x1000-q80.jpg");
    assert_eq!(name("", (10240, 5000), Webp), "2560x1250-q80.webp");
    assert_eq!(name("", (5000, 10240), Webp), "1250x2560-q80.webp");
    assert_eq!(name("", (640, 480), Png), "640x480.png");
}

#[test]
fn nothing_is_enlarged() {
    use OutputFormat::*;
    assert_eq!(name("w=4096", (640, 480), Jpeg), "640x480-q80.jpg");
    assert_eq!(name("w=320", (640, 480), Jpeg), "320x240-q80.jpg");
    assert_eq!(name("h=240", (640, 480), Jpeg), "320x240-q80.jpg");
    assert_eq!(name("w=320&h=100", (640, 480), Jpeg), "133x100-q80.jpg");
    // A side left open stays within the largest dimension.
    assert_eq!(name("w=100", (1000, 100000), Jpeg), "41x4096-q80.jpg");
    assert_eq!(name("w=100&q=55", (1000, 1000), Jpeg), "100x100-q55.jpg");
    assert_eq!(name("w=100&q=55", (1000, 1000), Png), "100x100.png");
}

#[test]
fn cover_crops_to_the_box_and_never_enlarges() {
    use OutputFormat::*;
    assert_eq!(
        name("w=300&h=300&fit=cover", (640, 480), Webp),
        "300x300-cover-q80.webp"
    );
    // A box larger than the picture: the largest region of its proportions.
    assert_eq!(
        name("w=1000&h=1000&fit=cover", (640, 480), Webp),
        "480x480-cover-q80.webp"
    );
    // Same proportions as the picture: nothing to crop, the same rendition as contain.
    assert_eq!(
        name("w=320&h=240&fit=cover", (640, 480), Webp),
        name("w=320&h=240", (640, 480), Webp)
    );
}

#[test]
fn cover_regions_are_centred() {
    let spec = TransformSpec::parse("w=100&h=100&fit=cover").unwrap();
    let variant = spec.resolve(
        (400, 200),
        Focus::CENTRE,
        OutputFormat::Jpeg,
        long_side(2560),
    );
    let region = variant.region((400, 200));
    assert_eq!(
        (region.left, region.top, region.width, region.height),
        (0.25, 0.0, 0.5, 1.0)
    );
    let region = spec
        .resolve(
            (200, 400),
            Focus::CENTRE,
            OutputFormat::Jpeg,
            long_side(2560),
        )
        .region((200, 400));
    assert_eq!(
        (region.left, region.top, region.width, region.height),
        (0.0, 0.25, 1.0, 0.5)
    );
    let whole = TransformSpec::parse("w=50").unwrap();
    let region = whole
        .resolve(
            (400, 200),
            Focus::CENTRE,
            OutputFormat::Jpeg,
            long_side(2560),
        )
        .region((400, 200));
    assert_eq!(region.width, 1.0);
}

#[test]
fn a_crop_keeps_its_focus_point_in_view_until_an_edge_stops_it() {
    let region = |query: &str, focus: Focus, size: (u32, u32)| {
        let variant =
            parse(query)
                .unwrap()
                .resolve(size, focus, OutputFormat::Jpeg, long_side(2560));
        let r = variant.region(size);
        let round = |v: f64| (v * 1e6).round() / 1e6;
        (
            variant.name(),
            (round(r.left), round(r.top), round(r.width), round(r.height)),
        )
    };
    // The image's own point, across a landscape picture.
    assert_eq!(
        region("w=100&h=100&fit=cover", Focus::at(0.3, 0.5), (400, 200)),
        (
            "100x100-cover-at30x50-q80.jpg".into(),
            (0.05, 0.0, 0.5, 1.0)
        )
    );
    // `fp` wins over the image's point; past an edge, the crop stops at it.
    assert_eq!(
        region(
            "w=100&h=100&fit=cover&fp=0.1,0.9",
            Focus::at(0.3, 0.5),
            (400, 200)
        ),
        ("100x100-cover-at10x90-q80.jpg".into(), (0.0, 0.0, 0.5, 1.0))
    );
    assert_eq!(
        region(
            "w=100&h=100&fit=cover&fp=0.5,0.9",
            Focus::CENTRE,
            (200, 400)
        ),
        ("100x100-cover-at50x90-q80.jpg".into(), (0.0, 0.5, 1.0, 0.5))
    );
    // Nothing to crop: the point changes nothing, and the rendition is the whole picture's.
    assert_eq!(
        region("w=100&h=50&fit=cover&fp=0.9,0.9", Focus::CENTRE, (400, 200)).0,
        "100x50-q80.jpg"
    );
    // The centre keeps the name renditions had before focus points existed.
    assert_eq!(
        region(
            "w=100&h=100&fit=cover&fp=0.5,0.5",
            Focus::at(0.2, 0.2),
            (400, 200)
        )
        .0,
        "100x100-cover-q80.jpg"
    );
}

#[test]
fn fp_needs_a_crop_and_says_so() {
    assert_eq!(
        parse("w=10&h=10&fp=0.5,0.5").unwrap_err(),
        "fp needs fit=cover: only a crop has a point to keep in view"
    );
    let error = TransformSpec::parse("w=10&h=10&fit=cover&fp=2,0").unwrap_err();
    assert_eq!(error.field(), "fp");
    assert_eq!(
        parse("w=10&h=10&fit=cover&fp=0.25,1").unwrap().to_string(),
        "w=10&h=10&fit=cover&fp=0.25,1"
    );
}

#[test]
fn fit_inside_rounds_and_keeps_a_pixel() {
    assert_eq!(fit_inside((3000, 1), (300, 300)), (300, 1));
    assert_eq!(fit_inside((4896, 3264), (320, 4096)), (320, 213));
    assert_eq!(fit_inside((100, 100), (100, 100)), (100, 100));
}

#[test]
fn dpr_is_checked_at_and_past_its_bounds() {
    for good in ["1", "1.5", "2.25", "4", "4.0", "4.00"] {
        assert!(parse(&format!("w=10&dpr={good}")).is_ok(), "{good}");
    }
    for bad in [
        "0.99", "4.01", "5", "0", "1.234", "", "x", "-1", "1e0", "10",
    ] {
        assert_eq!(
            parse(&format!("w=10&dpr={bad}")).unwrap_err(),
            format!("dpr must be a number from 1 to 4 with at most two decimals, got `{bad}`"),
            "{bad}"
        );
    }
    assert_eq!(parse("dpr=2").unwrap_err(), "dpr needs w or h");
}

#[test]
fn dpr_multiplies_the_box() {
    use OutputFormat::*;
    assert_eq!(name("w=320&dpr=2", (4000, 3000), Jpeg), "640x480-q80.jpg");
    assert_eq!(name("h=100&dpr=1.5", (4000, 3000), Jpeg), "200x150-q80.jpg");
    // Still never past the largest dimension, nor the picture.
    assert_eq!(name("w=4096&dpr=4", (8000, 100), Jpeg), "4096x51-q80.jpg");
    assert_eq!(name("w=320&dpr=4", (640, 480), Jpeg), "640x480-q80.jpg");
}

#[test]
fn fits_shape_the_box() {
    use OutputFormat::*;
    // inside: proportions kept, within the box.
    assert_eq!(name("w=300&h=300", (640, 480), Webp), "300x225-q80.webp");
    // contain: the same picture on a canvas of the box.
    let spec = TransformSpec::parse("w=300&h=300&fit=contain").unwrap();
    let variant = spec.resolve((640, 480), Focus::CENTRE, Webp, long_side(2560));
    assert_eq!(variant.name(), "300x300-contain-q80.webp");
    assert_eq!(variant.picture_size((640, 480)), (300, 225));
    // fill: stretched to the box, never past the picture.
    assert_eq!(
        name("w=300&h=300&fit=fill", (640, 480), Webp),
        "300x300-fill-q80.webp"
    );
    assert_eq!(
        name("w=1000&h=100&fit=fill", (640, 480), Webp),
        "640x100-fill-q80.webp"
    );
    // A box of the picture's proportions needs no canvas and no stretch.
    for fit in ["contain", "fill", "cover"] {
        assert_eq!(
            name(&format!("w=320&h=240&fit={fit}"), (640, 480), Webp),
            "320x240-q80.webp",
            "{fit}"
        );
    }
}

#[test]
fn sizes_snap_up_to_the_configured_list() {
    let sizes: Vec<Dimension> = [320, 640, 1280].map(long_side).to_vec();
    let snapped = |query: &str| parse(query).unwrap().snapped(&sizes, &[]).to_string();
    assert_eq!(snapped("w=300"), "w=320");
    assert_eq!(snapped("w=320"), "w=320");
    assert_eq!(snapped("w=321&h=100&fit=cover"), "w=640&h=199&fit=cover");
    assert_eq!(snapped("h=500"), "h=640");
    assert_eq!(snapped("w=1000&h=4000&fit=fill"), "w=1280&h=4096&fit=fill");
    assert_eq!(snapped("w=200&dpr=2"), "w=640");
    // Past the largest size: the largest dimension, so at most one more size.
    assert_eq!(snapped("w=1281"), "w=4096");
    assert_eq!(snapped("format=webp"), "format=webp");
    // No list: as asked.
    assert_eq!(
        parse("w=301").unwrap().snapped(&[], &[]).to_string(),
        "w=301"
    );
}

#[test]
fn qualities_snap_to_the_nearest_listed() {
    let qualities = [50, 75, 80, 90].map(Quality::of);
    let snapped = |query: &str| parse(query).unwrap().snapped(&[], &qualities).to_string();
    assert_eq!(snapped("q=1"), "q=50");
    assert_eq!(snapped("q=62"), "q=50");
    assert_eq!(snapped("q=63"), "q=75", "as near as 50: the higher");
    assert_eq!(snapped("q=77"), "q=75");
    assert_eq!(snapped("q=78"), "q=80");
    assert_eq!(snapped("q=100"), "q=90");
    assert_eq!(snapped("w=300"), "w=300", "no q: the default later");
    assert_eq!(parse("q=33").unwrap().snapped(&[], &[]).to_string(), "q=33");
}
