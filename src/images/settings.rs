//! The images module's settings section (`SOUS_IMAGES__*`).

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::transform::{DEFAULT_QUALITY, Dimension, Preset, Quality};
use crate::config::ConfigError;
use secrecy::ExposeSecret;

/// The images module: what an upload may be, and which renditions are made ahead of requests.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImageSettings {
    /// Largest upload, in bytes.
    pub max_bytes: u64,
    /// Largest picture, width × height, checked on its header before anything is decoded.
    pub max_pixels: u64,
    /// Most frames an animated GIF or WebP may have (its first frame is what is shown).
    pub max_frames: u32,
    /// Widths made when an image is registered, that other sizes are resized from.
    pub ladder: Vec<Dimension>,
    /// Long side of what is served when a request gives neither `w` nor `h`.
    pub default_long_side: Dimension,
    /// Sizes a requested `w` (or a lone `h`) snaps up to, so that URLs cannot ask for thousands
    /// of distinct sizes; empty to serve sizes as asked.
    pub sizes: Vec<Dimension>,
    /// Qualities a requested `q` snaps to (the nearest), so that URLs cannot ask for a hundred
    /// encodings of one size; empty to take any `q` from 1 to 100.
    pub qualities: Vec<Quality>,
    /// Renditions made when an image is registered, as query strings with a format:
    /// `["w=320&format=webp", "w=2560&format=webp"]`.
    pub presets: Vec<Preset>,
    /// Largest AVIF (in pixels) made while a request waits; larger ones are made in the
    /// background while the next best format stands in. rav1e takes about half a second for
    /// 640×480 on one core, and seconds for more.
    pub inline_avif_pixels: u64,
    /// Renditions clients asked for that are kept per image version. Past them, a request is
    /// served the nearest stored rendition that satisfies it, or refused with a 429: URL
    /// variations can neither fill the store nor make the server render without end.
    pub max_derived_variants: u32,
    /// Renders made at once while requests wait (background jobs have their queue's bound).
    pub max_renders: usize,
    /// Requests that may wait for a render slot; past them, a 503 with `Retry-After`.
    pub render_queue: usize,
    /// How long a request waits for a render slot before its 503.
    #[serde(with = "humantime_serde")]
    pub render_wait: std::time::Duration,
    /// Serve transformed pictures only at URLs signed with `url_keys` (see `signing.rs`).
    pub sign_urls: bool,
    /// Keys of signed URLs, the signing one first. Environment only
    /// (`SOUS_IMAGES_URL_KEYS`, comma-separated); never read from `sous.toml`.
    #[serde(skip)]
    pub url_keys: Vec<SecretString>,
    /// How often the scheduler looks for images registered before placeholders and focus
    /// points were found, and finds them.
    #[serde(with = "humantime_serde")]
    pub backfill_every: std::time::Duration,
}

impl Default for ImageSettings {
    fn default() -> Self {
        let size = |pixels| Dimension::try_from(pixels).expect("a valid default size");
        let preset = |query: &str| Preset::try_from(query.to_string()).expect("a valid preset");
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        ImageSettings {
            max_bytes: 32 * 1024 * 1024,
            max_pixels: 50_000_000,
            max_frames: 1000,
            ladder: [320, 640, 1280, 2560].map(size).to_vec(),
            default_long_side: size(2560),
            sizes: [
                16, 32, 48, 64, 96, 128, 160, 240, 320, 480, 640, 750, 828, 960, 1080, 1280, 1600,
                1920, 2048, 2560, 3840,
            ]
            .map(size)
            .to_vec(),
            qualities: [50, 75, DEFAULT_QUALITY, 90].map(Quality::of).to_vec(),
            presets: [
                "w=320&format=webp",
                "w=320&format=avif",
                "w=2560&format=webp",
                "w=2560&format=avif",
            ]
            .map(preset)
            .to_vec(),
            inline_avif_pixels: 640 * 480,
            max_derived_variants: 50,
            max_renders: cores,
            render_queue: 2 * cores,
            render_wait: std::time::Duration::from_secs(5),
            sign_urls: false,
            url_keys: Vec::new(),
            backfill_every: std::time::Duration::from_secs(600),
        }
    }
}

impl ImageSettings {
    /// What a picture may be, beyond its byte size: for whatever decodes one.
    pub fn limits(&self) -> crate::images::codec::Limits {
        crate::images::codec::Limits {
            max_pixels: self.max_pixels,
            max_frames: self.max_frames,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for (setting, value) in [
            ("SOUS_IMAGES__MAX_RENDERS", self.max_renders as u64),
            ("SOUS_IMAGES__MAX_BYTES", self.max_bytes),
            ("SOUS_IMAGES__MAX_PIXELS", self.max_pixels),
            ("SOUS_IMAGES__MAX_FRAMES", u64::from(self.max_frames)),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(setting, "must be more than 0"));
            }
        }
        for (setting, sizes) in [
            ("SOUS_IMAGES__LADDER", &self.ladder),
            ("SOUS_IMAGES__SIZES", &self.sizes),
        ] {
            if !sizes.is_sorted_by(|a, b| a < b) {
                return Err(ConfigError::invalid(
                    setting,
                    "sizes must be in increasing order, each once",
                ));
            }
        }
        if self.sign_urls
            && (self.url_keys.is_empty()
                || self.url_keys.iter().any(|k| k.expose_secret().len() < 32))
        {
            return Err(ConfigError::invalid(
                "SOUS_IMAGES_URL_KEYS",
                "SOUS_IMAGES__SIGN_URLS needs at least one key, each of 32 characters or more (`openssl rand -hex 32`)",
            ));
        }
        if !self.qualities.is_sorted_by(|a, b| a.get() < b.get()) {
            return Err(ConfigError::invalid(
                "SOUS_IMAGES__QUALITIES",
                "qualities must be in increasing order, each once",
            ));
        }
        Ok(())
    }
}
