//! The renditions a spec resolves to, and the part of the picture each shows.

use serde::{Deserialize, Serialize};

use super::{Focus, OutputFormat, Quality, fit_inside};

/// One concrete rendition of an image: what is encoded, stored and served. Requests that come
/// to the same rendition (`?w=5000` and `?` of a small picture) share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Variant {
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) shape: Shape,
    /// The point a crop keeps in view; `None` for every other shape.
    #[serde(default)]
    pub(super) focus: Option<Focus>,
    pub(super) format: OutputFormat,
    pub(super) quality: Option<Quality>,
}

/// How the picture fills a rendition's `width`×`height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// All of the picture, its proportions kept.
    Whole,
    /// Cropped to the rendition's proportions around a focus point.
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

impl Region {
    /// All of the picture.
    pub const WHOLE: Region = Region {
        left: 0.0,
        top: 0.0,
        width: 1.0,
        height: 1.0,
    };
}

impl Variant {
    /// The whole picture at `width`×`height` (the ladder's renditions).
    pub fn whole(width: u32, height: u32, format: OutputFormat, quality: Quality) -> Self {
        Variant {
            width,
            height,
            shape: Shape::Whole,
            focus: None,
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
    /// `300x300-cover-q80.jpg` (a crop around the centre), `300x300-cover-at30x25-q80.jpg`
    /// (around a point 30 % across and 25 % down), `64x64.png`.
    pub fn name(&self) -> String {
        let shape = match (self.shape, self.focus.filter(|&f| f != Focus::CENTRE)) {
            (Shape::Cover, Some(focus)) => {
                let (x, y) = focus.hundredths();
                format!("-cover-at{x}x{y}")
            }
            (Shape::Cover, None) => "-cover".into(),
            (Shape::Whole, _) => String::new(),
            (Shape::Contain, _) => "-contain".into(),
            (Shape::Fill, _) => "-fill".into(),
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
            return Region::WHOLE;
        }
        let focus = self.focus.unwrap_or(Focus::CENTRE);
        let (pw, ph) = (f64::from(width), f64::from(height));
        let aspect = f64::from(self.width) / f64::from(self.height);
        if pw / ph > aspect {
            let share = (ph * aspect / pw).min(1.0);
            Region {
                left: Focus::start(focus.x(), share),
                top: 0.0,
                width: share,
                height: 1.0,
            }
        } else {
            let share = (pw / aspect / ph).min(1.0);
            Region {
                left: 0.0,
                top: Focus::start(focus.y(), share),
                width: 1.0,
                height: share,
            }
        }
    }
}
