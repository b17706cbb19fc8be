//! The bulk module's settings section (`SOUS_BULK__*`).

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BulkSettings {
    /// Largest archive a seller may upload.
    pub max_archive_bytes: u64,
    /// Most images in one archive (folders and system files not counted).
    pub max_images: u32,
    /// Largest image in an archive, as declared and as inflated.
    pub max_image_bytes: u64,
    /// Largest read of neighbouring entries at once: what a worker holds of an archive.
    pub max_read_bytes: u64,
    /// Bytes of entries not wanted (done already) read through rather than split a read on.
    pub max_read_gap: u64,
    /// Largest product CSV, and most rows in one.
    pub max_csv_bytes: u64,
    pub max_csv_rows: usize,
    /// How often a running ingest writes its counts.
    #[serde(with = "humantime_serde")]
    pub progress_every: std::time::Duration,
}

impl Default for BulkSettings {
    fn default() -> Self {
        BulkSettings {
            max_archive_bytes: 1 << 30,
            max_images: 1000,
            max_image_bytes: 8 << 20,
            max_read_bytes: 8 << 20,
            max_read_gap: 64 << 10,
            progress_every: std::time::Duration::from_secs(2),
            max_csv_bytes: 10 * 1024 * 1024,
            max_csv_rows: 10_000,
        }
    }
}

impl BulkSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for (setting, value) in [
            ("SOUS_BULK__MAX_ARCHIVE_BYTES", self.max_archive_bytes),
            ("SOUS_BULK__MAX_IMAGES", u64::from(self.max_images)),
            ("SOUS_BULK__MAX_IMAGE_BYTES", self.max_image_bytes),
            ("SOUS_BULK__MAX_READ_BYTES", self.max_read_bytes),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(setting, "must be more than 0"));
            }
        }
        Ok(())
    }
}
