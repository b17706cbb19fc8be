//! The classification module's settings section (`SOUS_CLASSIFICATION__*`). Where the model's
//! weights are is the top-level `SOUS_MODEL_DIR`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassificationSettings {
    /// Largest photo a device may upload.
    pub max_photo_bytes: u64,
    /// Most photos asked for in one `POST /v1/meal-photos`.
    pub max_photos_per_request: usize,
    /// Most photos classified in one forward pass.
    pub batch_size: usize,
    /// How long a forward pass waits for more photos once one is ready.
    #[serde(with = "humantime_serde")]
    pub linger: Duration,
    /// Threads one forward pass uses; 0 means one per core.
    pub threads: usize,
}

impl Default for ClassificationSettings {
    fn default() -> Self {
        ClassificationSettings {
            max_photo_bytes: 10_000_000,
            max_photos_per_request: 100,
            batch_size: 8,
            linger: Duration::from_millis(10),
            threads: 0,
        }
    }
}

impl ClassificationSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for (setting, value) in [
            ("SOUS_CLASSIFICATION__MAX_PHOTO_BYTES", self.max_photo_bytes),
            (
                "SOUS_CLASSIFICATION__MAX_PHOTOS_PER_REQUEST",
                self.max_photos_per_request as u64,
            ),
            ("SOUS_CLASSIFICATION__BATCH_SIZE", self.batch_size as u64),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(setting, "must be more than 0"));
            }
        }
        Ok(())
    }
}
