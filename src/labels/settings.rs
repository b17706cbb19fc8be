//! The labels module's settings section (`SOUS_LABELS__*`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabelSettings {
    /// Network printers by name: `host:port` (port 9100 when left out), e.g.
    /// `SOUS_LABELS__PRINTERS__DOCK_1=10.0.0.31`.
    pub printers: BTreeMap<String, String>,
    /// A Japanese TrueType/OpenType font for PDF labels; by default the IPAGothic or Noto Sans
    /// CJK font of the system is found.
    pub font_path: Option<PathBuf>,
}

impl LabelSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for (name, address) in &self.printers {
            if address.trim().is_empty() || address.contains(char::is_whitespace) {
                return Err(ConfigError::invalid(
                    "SOUS_LABELS__PRINTERS",
                    format!("printer `{name}`: expected host or host:port, got `{address}`"),
                ));
            }
        }
        if let Some(font) = &self.font_path
            && !font.is_file()
        {
            return Err(ConfigError::invalid(
                "SOUS_LABELS__FONT_PATH",
                format!("{} is not a file", font.display()),
            ));
        }
        Ok(())
    }
}
