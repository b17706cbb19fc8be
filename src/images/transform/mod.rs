//! What a client may ask of `/i/{id}/{hash}`: the query parameters, parsed once into a
//! [`TransformSpec`], then resolved against one image into the exact [`Variant`] to serve.
//!
//! `w` and `h` (1 to [`MAX_DIMENSION`]), `dpr` (1 to 4, two decimals at most: `w` and `h` are
//! multiplied by it), `fit` (`inside`, the default: the whole picture within the box; `contain`:
//! the same, centred on a canvas of exactly the box, transparent or white in JPEG; `cover`: the
//! box filled, the overflow cropped around a focus point; `fill`: the picture stretched to the
//! box; all but `inside` need `w` and `h`), `fp` (the focus point of `cover`, `x,y` as fractions
//! of the width and height, e.g. `0.5,0.3`; else the image's own, see [`Focus`]), `format` (`auto`, the default, chosen from `Accept`;
//! `jpeg`, `webp`, `avif`, `png`) and `q` (1 to 100, for the lossy formats). The picture is
//! never enlarged. Without `w` or `h` it is made to fit the configured default long side; a side
//! left open never exceeds [`MAX_DIMENSION`].
//!
//! Requested sizes snap up to the configured list of sizes ([`TransformSpec::snapped`]), so
//! that URLs cannot make the server render thousands of distinct sizes of one picture.

use std::fmt;

use serde::{Deserialize, Serialize};

mod focus;
mod variant;

pub use focus::Focus;
pub use variant::{Region, Shape, Variant};

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
    #[error(
        "fp must be two numbers from 0 to 1 with at most two decimals, as in 0.5,0.3; got `{0}`"
    )]
    Focus(String),
    #[error("fp needs fit=cover: only a crop has a point to keep in view")]
    FocusNeedsCover,
    #[error("{0} is given more than once")]
    Repeated(String),
    #[error("unknown parameter `{0}`; expected w, h, dpr, fit, fp, format or q")]
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
            SpecError::Focus(_) | SpecError::FocusNeedsCover => "fp".into(),
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
    focus: Option<Focus>,
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
            focus: None,
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
                "fp" => spec.focus = Some(Focus::parse(&value)?),
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
        if spec.focus.is_some() && spec.fit != Fit::Cover {
            return Err(SpecError::FocusNeedsCover);
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

    /// `fp`, when the URL gives one.
    pub fn focus(&self) -> Option<Focus> {
        self.focus
    }

    /// The variant this spec asks of a `width`×`height` picture, in `format`; a crop keeps
    /// `fp` in view, else the picture's own `focus`.
    pub fn resolve(
        &self,
        (width, height): (u32, u32),
        focus: Focus,
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
            focus: (shape == Shape::Cover).then(|| self.focus.unwrap_or(focus)),
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
                // The largest region of the picture with the box's proportions; a box larger
                // than that region gets the region at its own size, since nothing is enlarged.
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

    pub fn resolve(&self, size: (u32, u32), focus: Focus, default_long_side: Dimension) -> Variant {
        self.spec
            .resolve(size, focus, self.format, default_long_side)
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
        if let Some(focus) = self.focus {
            parts.push(format!("fp={focus}"));
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

#[cfg(test)]
mod tests;
