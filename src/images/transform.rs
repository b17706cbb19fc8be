//! What a client may ask of `/i/{id}/{hash}`: the query parameters, parsed once into a
//! [`TransformSpec`], then resolved against one image into the exact [`Variant`] to serve.
//!
//! `w` and `h` (1 to [`MAX_DIMENSION`]), `dpr` (1 to 4, two decimals at most: `w` and `h` are
//! multiplied by it), `fit` (`inside`, the default: the whole picture within the box; `contain`:
//! the same, centred on a canvas of exactly the box, transparent or white in JPEG; `cover`: the
//! box filled, the overflow cropped around the centre; `fill`: the picture stretched to the box;
//! all but `inside` need `w` and `h`), `format` (`auto`, the default, chosen from `Accept`;
//! `jpeg`, `webp`, `avif`, `png`) and `q` (1 to 100, for the lossy formats). The picture is
//! never enlarged. Without `w` or `h` it is made to fit the configured default long side; a side
//! left open never exceeds [`MAX_DIMENSION`].
//!
//! Requested sizes snap up to the configured list of sizes ([`TransformSpec::snapped`]), so
//! that URLs cannot make the server render thousands of distinct sizes of one picture.

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Quality(u8);

impl TryFrom<u8> for Quality {
    type Error = String;

    fn try_from(q: u8) -> Result<Self, String> {
        if (1..=100).contains(&q) {
            Ok(Quality(q))
        } else {
            Err(format!("a quality must be between 1 and 100, got {q}"))
        }
    }
}

impl From<Quality> for u8 {
    fn from(quality: Quality) -> u8 {
        quality.0
    }
}

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Jpeg,
    Webp,
    Avif,
    Png,
}

impl OutputFormat {
    pub const ALL: [OutputFormat; 4] = [
        OutputFormat::Jpeg,
        OutputFormat::Webp,
        OutputFormat::Avif,
        OutputFormat::Png,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpeg",
            OutputFormat::Webp => "webp",
            OutputFormat::Avif => "avif",
            OutputFormat::Png => "png",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpg",
            OutputFormat::Webp => "webp",
            OutputFormat::Avif => "avif",
            OutputFormat::Png => "png",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "image/jpeg",
            OutputFormat::Webp => "image/webp",
            OutputFormat::Avif => "image/avif",
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
    Inside,
    /// All of the picture, centred on a canvas the size of the box.
    Contain,
    /// The whole box, the picture cropped around its centre.
    Cover,
    /// The whole box, the picture stretched to it.
    Fill,
}

impl Fit {
    const ALL: [Fit; 4] = [Fit::Inside, Fit::Contain, Fit::Cover, Fit::Fill];

    fn as_str(self) -> &'static str {
        match self {
            Fit::Inside => "inside",
            Fit::Contain => "contain",
            Fit::Cover => "cover",
            Fit::Fill => "fill",
        }
    }
}

/// Device pixel ratio in hundredths, 100 to 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dpr(u32);

impl Dpr {
    const ONE: Dpr = Dpr(100);

    fn parse(value: &str) -> Result<Self, SpecError> {
        let error = || SpecError::Dpr(shown(value));
        let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
        let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || whole.len() > 1
            || fraction.len() > 2
            || !digits(whole)
            || !digits(fraction)
        {
            return Err(error());
        }
        let hundredths = whole.parse::<u32>().map_err(|_| error())? * 100
            + format!("{fraction:0<2}")
                .parse::<u32>()
                .map_err(|_| error())?;
        if !(100..=400).contains(&hundredths) {
            return Err(error());
        }
        Ok(Dpr(hundredths))
    }

    /// `side` at this ratio, at most [`MAX_DIMENSION`].
    fn apply(self, side: Dimension) -> u32 {
        (side.get() * self.0).div_ceil(100).min(MAX_DIMENSION)
    }
}

impl fmt::Display for Dpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, fraction) = (self.0 / 100, self.0 % 100);
        match fraction {
            0 => write!(f, "{whole}"),
            n if n % 10 == 0 => write!(f, "{whole}.{}", n / 10),
            n => write!(f, "{whole}.{n:02}"),
        }
    }
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
    #[error("fit must be inside, contain, cover or fill, got `{0}`")]
    Fit(String),
    #[error("format must be auto, jpeg, webp, avif or png, got `{0}`")]
    Format(String),
    #[error("fit={0} needs both w and h")]
    NeedsBox(&'static str),
    #[error("dpr must be a number from 1 to 4 with at most two decimals, got `{0}`")]
    Dpr(String),
    #[error("dpr needs w or h")]
    DprNeedsSize,
    #[error("{0} is given more than once")]
    Repeated(String),
    #[error("unknown parameter `{0}`; expected w, h, dpr, fit, format or q")]
    Unknown(String),
}

impl SpecError {
    /// The parameter at fault.
    pub fn field(&self) -> String {
        match self {
            SpecError::OutOfRange { name, .. } | SpecError::NotANumber { name, .. } => {
                name.to_string()
            }
            SpecError::Fit(_) | SpecError::NeedsBox(_) => "fit".into(),
            SpecError::Dpr(_) | SpecError::DprNeedsSize => "dpr".into(),
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
    dpr: Dpr,
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
            dpr: Dpr::ONE,
            fit: Fit::Inside,
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
                "dpr" => spec.dpr = Dpr::parse(&value)?,
                "fit" => {
                    spec.fit = Fit::ALL
                        .into_iter()
                        .find(|fit| fit.as_str() == value)
                        .ok_or_else(|| SpecError::Fit(shown(&value)))?;
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
        if spec.fit != Fit::Inside && (spec.width.is_none() || spec.height.is_none()) {
            return Err(SpecError::NeedsBox(spec.fit.as_str()));
        }
        if spec.dpr != Dpr::ONE && spec.width.is_none() && spec.height.is_none() {
            return Err(SpecError::DprNeedsSize);
        }
        Ok(spec)
    }

    /// The box in pixels: `w` and `h` at the `dpr`.
    fn bounds(&self) -> (Option<u32>, Option<u32>) {
        (
            self.width.map(|w| self.dpr.apply(w)),
            self.height.map(|h| self.dpr.apply(h)),
        )
    }

    /// The spec with its box (at its `dpr`) snapped up to the nearest of `sizes` (beyond the
    /// largest size, to [`MAX_DIMENSION`]), and its quality to the nearest of `qualities` (the
    /// higher of two as near); each as it is when its list is empty. The width snaps, or the
    /// height when alone; a height given with the width scales with it, so that a crop keeps
    /// the proportions asked for.
    pub fn snapped(&self, sizes: &[Dimension], qualities: &[Quality]) -> TransformSpec {
        let quality = match (self.quality, qualities.is_empty()) {
            (Some(asked), false) => qualities
                .iter()
                .copied()
                .min_by_key(|q| (asked.0.abs_diff(q.0), std::cmp::Reverse(q.0))),
            (quality, _) => quality,
        };
        let spec = TransformSpec { quality, ..*self };
        if sizes.is_empty() {
            return spec;
        }
        let snap = |side: u32| {
            let size = sizes
                .iter()
                .map(|s| s.get())
                .filter(|&s| s >= side)
                .min()
                .unwrap_or(MAX_DIMENSION);
            Dimension(size)
        };
        let (width, height) = match spec.bounds() {
            (Some(w), h) => {
                let snapped = snap(w);
                let h = h.map(|h| Dimension(scaled(h, snapped.get(), w).min(MAX_DIMENSION)));
                (Some(snapped), h)
            }
            (None, h) => (None, h.map(snap)),
        };
        TransformSpec {
            width,
            height,
            dpr: Dpr::ONE,
            ..spec
        }
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
        let (bound_w, bound_h) = self.bounds();
        let variant = |(width, height), shape| Variant {
            width,
            height,
            shape,
            format,
            quality,
        };
        let (w, h) = match (bound_w, bound_h, self.fit) {
            (Some(w), Some(h), fit) if fit != Fit::Inside => (w, h),
            _ => {
                let open = MAX_DIMENSION;
                let bounds = match (bound_w, bound_h) {
                    (None, None) => (default_long_side.get(), default_long_side.get()),
                    (w, h) => (w.unwrap_or(open), h.unwrap_or(open)),
                };
                return variant(fit_inside((width, height), bounds), Shape::Whole);
            }
        };
        match self.fit {
            Fit::Cover => {
                // The largest centred region of the picture with the box's proportions; a box
                // larger than that region gets the region at its own size, since nothing is
                // enlarged.
                let region = if u64::from(width) * u64::from(h) > u64::from(height) * u64::from(w) {
                    (scaled(height, w, h), height)
                } else {
                    (width, scaled(width, h, w))
                };
                let size = if w <= region.0 && h <= region.1 {
                    (w, h)
                } else {
                    region
                };
                let shape = if region == (width, height) {
                    Shape::Whole
                } else {
                    Shape::Cover
                };
                variant(size, shape)
            }
            Fit::Contain => {
                if fit_inside((width, height), (w, h)) == (w, h) {
                    variant((w, h), Shape::Whole)
                } else {
                    variant((w, h), Shape::Contain)
                }
            }
            Fit::Fill => {
                let size = (w.min(width), h.min(height));
                if fit_inside((width, height), size) == size {
                    variant(size, Shape::Whole)
                } else {
                    variant(size, Shape::Fill)
                }
            }
            Fit::Inside => unreachable!("handled above"),
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
    pub fn format(&self) -> OutputFormat {
        self.format
    }

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
                "preset `{query}`: a preset needs a format (jpeg, webp, avif or png), since it is made before any client asks"
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
        if self.dpr != Dpr::ONE {
            parts.push(format!("dpr={}", self.dpr));
        }
        if self.fit != Fit::Inside {
            parts.push(format!("fit={}", self.fit.as_str()));
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Variant {
    width: u32,
    height: u32,
    shape: Shape,
    format: OutputFormat,
    quality: Option<Quality>,
}

/// How the picture fills a rendition's `width`×`height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// All of the picture, its proportions kept.
    Whole,
    /// Cropped around the centre to the rendition's proportions.
    Cover,
    /// All of the picture, centred on a canvas of the rendition's size.
    Contain,
    /// All of the picture, stretched to the rendition's proportions.
    Fill,
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
            shape: Shape::Whole,
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

    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    pub fn format(&self) -> OutputFormat {
        self.format
    }

    pub fn quality(&self) -> Option<Quality> {
        self.quality
    }

    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The size the picture (of `full` size) is resized to: the rendition's, except on the
    /// canvas of `contain`.
    pub fn picture_size(&self, full: (u32, u32)) -> (u32, u32) {
        match self.shape {
            Shape::Contain => fit_inside(full, (self.width, self.height)),
            Shape::Whole | Shape::Cover | Shape::Fill => (self.width, self.height),
        }
    }

    /// The stable name of the rendition, unique per image version: `320x213-q80.webp`,
    /// `300x300-cover-q80.jpg`, `64x64.png`.
    pub fn name(&self) -> String {
        let shape = match self.shape {
            Shape::Whole => "",
            Shape::Cover => "-cover",
            Shape::Contain => "-contain",
            Shape::Fill => "-fill",
        };
        let quality = self
            .quality
            .map(|q| format!("-q{}", q.get()))
            .unwrap_or_default();
        format!(
            "{}x{}{shape}{quality}.{}",
            self.width,
            self.height,
            self.format.extension()
        )
    }

    /// The part of a `width`×`height` picture this rendition shows.
    pub fn region(&self, (width, height): (u32, u32)) -> Region {
        if self.shape != Shape::Cover {
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
            "unknown parameter `width`; expected w, h, dpr, fit, format or q"
        );
        assert_eq!(
            parse("w=10&v=2").unwrap_err(),
            "unknown parameter `v`; expected w, h, dpr, fit, format or q"
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
        let variant = spec.resolve((640, 480), Webp, long_side(2560));
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
}
