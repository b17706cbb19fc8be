//! What a client may ask of `/i/{id}/{hash}`: the query parameters, parsed once into a
//! [`TransformSpec`], then resolved against one image into the exact [`Variant`] to serve.
//!
//! `w` and `h` (1 to [`MAX_DIMENSION`]), `fit` (`contain`, the default: the whole picture inside
//! the box; `cover`: the box filled, the overflow cropped around the centre; needs `w` and `h`),
//! `format` (`auto`, the default, chosen from `Accept`; `jpeg`, `webp`, `png`) and `q` (1 to 100,
//! for JPEG and WebP). Nothing is ever enlarged. Without `w` or `h` the picture is made to fit
//! the configured default long side; a side left open never exceeds [`MAX_DIMENSION`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// Largest width or height a client may ask for, and the largest side of anything served.
pub const MAX_DIMENSION: u32 = 4096;
/// Quality of JPEG and WebP when `q` is not given.
pub const DEFAULT_QUALITY: u8 = 80;
/// Longest value an error message repeats back.
const SHOWN: usize = 24;

/// A width or height in pixels, 1 to [`MAX_DIMENSION`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Dimension(u32);

impl Dimension {
    pub fn parse(name: &'static str, value: &str) -> Result<Self, SpecError> {
        bounded(name, value, 1, MAX_DIMENSION).map(Dimension)
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Dimension {
    type Error = String;

    fn try_from(pixels: u32) -> Result<Self, String> {
        if (1..=MAX_DIMENSION).contains(&pixels) {
            Ok(Dimension(pixels))
        } else {
            Err(format!(
                "a size must be between 1 and {MAX_DIMENSION}, got {pixels}"
            ))
        }
    }
}

impl From<Dimension> for u32 {
    fn from(dimension: Dimension) -> u32 {
        dimension.0
    }
}

/// Quality of a lossy encoding, 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quality(u8);

impl Quality {
    pub fn parse(value: &str) -> Result<Self, SpecError> {
        bounded("q", value, 1, 100).map(|q| Quality(q as u8))
    }

    pub const fn of(q: u8) -> Self {
        assert!(q >= 1 && q <= 100, "quality is 1 to 100");
        Quality(q)
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

fn bounded(name: &'static str, value: &str, min: u32, max: u32) -> Result<u32, SpecError> {
    let got = || {
        let mut shown: String = value.chars().take(SHOWN).collect();
        if value.chars().count() > SHOWN {
            shown.push('…');
        }
        shown
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SpecError::NotANumber {
            name,
            min,
            max,
            got: got(),
        });
    }
    match value.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(SpecError::OutOfRange {
            name,
            min,
            max,
            got: got(),
        }),
    }
}

/// The formats sous serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    Jpeg,
    Webp,
    Png,
}

impl OutputFormat {
    pub const ALL: [OutputFormat; 3] = [OutputFormat::Jpeg, OutputFormat::Webp, OutputFormat::Png];

    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpeg",
            OutputFormat::Webp => "webp",
            OutputFormat::Png => "png",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpg",
            OutputFormat::Webp => "webp",
            OutputFormat::Png => "png",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "image/jpeg",
            OutputFormat::Webp => "image/webp",
            OutputFormat::Png => "image/png",
        }
    }

    pub fn is_lossy(self) -> bool {
        self != OutputFormat::Png
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `format=`: a fixed format, or the best one the client accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormatChoice {
    Auto,
    Fixed(OutputFormat),
}

/// How a picture meets a box given by both `w` and `h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fit {
    /// All of the picture, inside the box.
    Contain,
    /// The whole box, the picture cropped around its centre.
    Cover,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("{name} must be between {min} and {max}, got {got}")]
    OutOfRange {
        name: &'static str,
        min: u32,
        max: u32,
        got: String,
    },
    #[error("{name} must be a whole number between {min} and {max}, got `{got}`")]
    NotANumber {
        name: &'static str,
        min: u32,
        max: u32,
        got: String,
    },
    #[error("fit must be contain or cover, got `{0}`")]
    Fit(String),
    #[error("format must be auto, jpeg, webp or png, got `{0}`")]
    Format(String),
    #[error("fit=cover needs both w and h")]
    CoverNeedsBox,
    #[error("{0} is given more than once")]
    Repeated(String),
    #[error("unknown parameter `{0}`; expected w, h, fit, format or q")]
    Unknown(String),
}

impl SpecError {
    /// The parameter at fault.
    pub fn field(&self) -> String {
        match self {
            SpecError::OutOfRange { name, .. } | SpecError::NotANumber { name, .. } => {
                name.to_string()
            }
            SpecError::Fit(_) | SpecError::CoverNeedsBox => "fit".into(),
            SpecError::Format(_) => "format".into(),
            SpecError::Repeated(name) | SpecError::Unknown(name) => name.clone(),
        }
    }
}

/// A checked request for a picture; only [`TransformSpec::parse`] makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransformSpec {
    width: Option<Dimension>,
    height: Option<Dimension>,
    fit: Fit,
    format: FormatChoice,
    quality: Option<Quality>,
}

impl TransformSpec {
    /// Parses a query string (`w=320&format=webp`); the empty string asks for the defaults.
    pub fn parse(query: &str) -> Result<Self, SpecError> {
        let mut seen = Vec::new();
        let mut spec = TransformSpec {
            width: None,
            height: None,
            fit: Fit::Contain,
            format: FormatChoice::Auto,
            quality: None,
        };
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if seen.contains(&name) {
                return Err(SpecError::Repeated(name.into_owned()));
            }
            match name.as_ref() {
                "w" => spec.width = Some(Dimension::parse("w", &value)?),
                "h" => spec.height = Some(Dimension::parse("h", &value)?),
                "q" => spec.quality = Some(Quality::parse(&value)?),
                "fit" => {
                    spec.fit = match value.as_ref() {
                        "contain" => Fit::Contain,
                        "cover" => Fit::Cover,
                        other => return Err(SpecError::Fit(shown(other))),
                    }
                }
                "format" => {
                    spec.format = match value.as_ref() {
                        "auto" => FormatChoice::Auto,
                        other => FormatChoice::Fixed(
                            OutputFormat::ALL
                                .into_iter()
                                .find(|f| f.as_str() == other)
                                .ok_or_else(|| SpecError::Format(shown(other)))?,
                        ),
                    }
                }
                other => return Err(SpecError::Unknown(shown(other))),
            }
            seen.push(name);
        }
        if spec.fit == Fit::Cover && (spec.width.is_none() || spec.height.is_none()) {
            return Err(SpecError::CoverNeedsBox);
        }
        Ok(spec)
    }

    pub fn format(&self) -> FormatChoice {
        self.format
    }

    /// The variant this spec asks of a `width`×`height` picture, in `format`.
    pub fn resolve(
        &self,
        (width, height): (u32, u32),
        format: OutputFormat,
        default_long_side: Dimension,
    ) -> Variant {
        let quality = format
            .is_lossy()
            .then(|| self.quality.unwrap_or(Quality(DEFAULT_QUALITY)));
        if let (Some(w), Some(h), Fit::Cover) = (self.width, self.height, self.fit) {
            let (w, h) = (w.get(), h.get());
            // The largest centred region of the picture with the box's proportions; a box larger
            // than that region gets the region at its own size, since nothing is enlarged.
            let region = if u64::from(width) * u64::from(h) > u64::from(height) * u64::from(w) {
                (scaled(height, w, h), height)
            } else {
                (width, scaled(width, h, w))
            };
            let (out_w, out_h) = if w <= region.0 && h <= region.1 {
                (w, h)
            } else {
                region
            };
            return Variant {
                width: out_w,
                height: out_h,
                cover: region != (width, height),
                format,
                quality,
            };
        }
        let open = MAX_DIMENSION;
        let bounds = match (self.width, self.height) {
            (None, None) => (default_long_side.get(), default_long_side.get()),
            (w, h) => (
                w.map_or(open, Dimension::get),
                h.map_or(open, Dimension::get),
            ),
        };
        let (out_w, out_h) = fit_inside((width, height), bounds);
        Variant {
            width: out_w,
            height: out_h,
            cover: false,
            format,
            quality,
        }
    }
}

/// A rendition made for every image when it is registered: a transform with a fixed format,
/// written as its query string (`w=320&format=webp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Preset {
    spec: TransformSpec,
    format: OutputFormat,
}

impl Preset {
    pub fn resolve(&self, size: (u32, u32), default_long_side: Dimension) -> Variant {
        self.spec.resolve(size, self.format, default_long_side)
    }
}

impl TryFrom<String> for Preset {
    type Error = String;

    fn try_from(query: String) -> Result<Self, String> {
        let spec = TransformSpec::parse(&query).map_err(|e| format!("preset `{query}`: {e}"))?;
        match spec.format {
            FormatChoice::Fixed(format) => Ok(Preset { spec, format }),
            FormatChoice::Auto => Err(format!(
                "preset `{query}`: a preset needs a format (jpeg, webp or png), since it is made before any client asks"
            )),
        }
    }
}

impl From<Preset> for String {
    fn from(preset: Preset) -> String {
        preset.spec.to_string()
    }
}

/// The canonical query string, as presets are written in the settings.
impl fmt::Display for TransformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(w) = self.width {
            parts.push(format!("w={}", w.get()));
        }
        if let Some(h) = self.height {
            parts.push(format!("h={}", h.get()));
        }
        if self.fit == Fit::Cover {
            parts.push("fit=cover".into());
        }
        if let FormatChoice::Fixed(format) = self.format {
            parts.push(format!("format={format}"));
        }
        if let Some(q) = self.quality {
            parts.push(format!("q={}", q.get()));
        }
        f.write_str(&parts.join("&"))
    }
}

fn shown(value: &str) -> String {
    value.chars().take(SHOWN).collect()
}

/// `side * num / den`, rounded, at least 1.
fn scaled(side: u32, num: u32, den: u32) -> u32 {
    let value = (u64::from(side) * u64::from(num) * 2 + u64::from(den)) / (2 * u64::from(den));
    value.clamp(1, u64::from(u32::MAX)) as u32
}

/// The size of a `width`×`height` picture shrunk, proportions kept, to fit `bounds`; never larger.
pub fn fit_inside((width, height): (u32, u32), (bound_w, bound_h): (u32, u32)) -> (u32, u32) {
    if width <= bound_w && height <= bound_h {
        (width, height)
    } else if u64::from(width) * u64::from(bound_h) >= u64::from(height) * u64::from(bound_w) {
        (bound_w, scaled(height, bound_w, width))
    } else {
        (scaled(width, bound_h, height), bound_h)
    }
}

/// One concrete rendition of an image: what is encoded, stored and served. Requests that come
/// to the same rendition (`?w=5000` and `?` of a small picture) share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Variant {
    width: u32,
    height: u32,
    /// Cropped around the centre to `width`:`height`, rather than the whole picture.
    cover: bool,
    format: OutputFormat,
    quality: Option<Quality>,
}

/// A region of a picture as fractions of its width and height, so it applies at any size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

impl Variant {
    /// The whole picture at `width`×`height` (the ladder's renditions).
    pub fn whole(width: u32, height: u32, format: OutputFormat, quality: Quality) -> Self {
        Variant {
            width,
            height,
            cover: false,
            format,
            quality: format.is_lossy().then_some(quality),
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn format(&self) -> OutputFormat {
        self.format
    }

    pub fn quality(&self) -> Option<Quality> {
        self.quality
    }

    /// The stable name of the rendition, unique per image version: `320x213-q80.webp`,
    /// `300x300-cover-q80.jpg`, `64x64.png`.
    pub fn name(&self) -> String {
        let cover = if self.cover { "-cover" } else { "" };
        let quality = self
            .quality
            .map(|q| format!("-q{}", q.get()))
            .unwrap_or_default();
        format!(
            "{}x{}{cover}{quality}.{}",
            self.width,
            self.height,
            self.format.extension()
        )
    }

    /// The part of a `width`×`height` picture this rendition shows.
    pub fn region(&self, (width, height): (u32, u32)) -> Region {
        if !self.cover {
            return Region {
                left: 0.0,
                top: 0.0,
                width: 1.0,
                height: 1.0,
            };
        }
        let (pw, ph) = (f64::from(width), f64::from(height));
        let aspect = f64::from(self.width) / f64::from(self.height);
        if pw / ph > aspect {
            let share = (ph * aspect / pw).min(1.0);
            Region {
                left: (1.0 - share) / 2.0,
                top: 0.0,
                width: share,
                height: 1.0,
            }
        } else {
            let share = (pw / aspect / ph).min(1.0);
            Region {
                left: 0.0,
                top: (1.0 - share) / 2.0,
                width: 1.0,
                height: share,
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
            .resolve(size, format, long_side(2560))
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
        assert_eq!(parse("fit=contain&w=1").unwrap().to_string(), "w=1");
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
            parse("fit=fill").unwrap_err(),
            "fit must be contain or cover, got `fill`"
        );
        assert_eq!(
            parse("format=gif").unwrap_err(),
            "format must be auto, jpeg, webp or png, got `gif`"
        );
        assert_eq!(
            parse("format=JPEG").unwrap_err(),
            "format must be auto, jpeg, webp or png, got `JPEG`"
        );
        assert_eq!(
            parse("fit=cover&w=10").unwrap_err(),
            "fit=cover needs both w and h"
        );
        assert_eq!(parse("w=1&w=2").unwrap_err(), "w is given more than once");
        assert_eq!(
            parse("width=10").unwrap_err(),
            "unknown parameter `width`; expected w, h, fit, format or q"
        );
        assert_eq!(
            parse("w=10&v=2").unwrap_err(),
            "unknown parameter `v`; expected w, h, fit, format or q"
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
    }

    #[test]
    fn presets_need_a_fixed_format() {
        let preset = Preset::try_from("w=320&format=webp".to_string()).unwrap();
        assert_eq!(String::from(preset), "w=320&format=webp");
        assert_eq!(
            preset.resolve((4896, 3264), long_side(2560)).name(),
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
        let variant = spec.resolve((400, 200), OutputFormat::Jpeg, long_side(2560));
        let region = variant.region((400, 200));
        assert_eq!(
            (region.left, region.top, region.width, region.height),
            (0.25, 0.0, 0.5, 1.0)
        );
        let region = spec
            .resolve((200, 400), OutputFormat::Jpeg, long_side(2560))
            .region((200, 400));
        assert_eq!(
            (region.left, region.top, region.width, region.height),
            (0.0, 0.25, 1.0, 0.5)
        );
        let whole = TransformSpec::parse("w=50").unwrap();
        let region = whole
            .resolve((400, 200), OutputFormat::Jpeg, long_side(2560))
            .region((400, 200));
        assert_eq!(region.width, 1.0);
    }

    #[test]
    fn fit_inside_rounds_and_keeps_a_pixel() {
        assert_eq!(fit_inside((3000, 1), (300, 300)), (300, 1));
        assert_eq!(fit_inside((4896, 3264), (320, 4096)), (320, 213));
        assert_eq!(fit_inside((100, 100), (100, 100)), (100, 100));
    }
}
