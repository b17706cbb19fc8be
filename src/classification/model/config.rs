//! The classifier's `config.json`: which weights, how to preprocess, which classes mean food.

use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use super::ModelError;

/// The only architecture this module implements.
pub const ARCHITECTURE: &str = "mobilenet_v2";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// File name of the safetensors weights, inside the model directory.
    pub weights: String,
    pub input: InputConfig,
    /// Number of output classes of the network.
    pub classes: usize,
    /// Classes whose probabilities add up to the food probability.
    pub food_classes: ClassList,
    /// A photo is food when its food probability is at least this.
    pub threshold: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// Side of the square the network sees.
    pub size: usize,
    /// The shorter side is resized to this before the centre crop.
    pub resize_shorter: usize,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// Class indices, written in JSON as integers or inclusive ranges such as `"924-969"`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClassList(Vec<ClassRange>);

#[derive(Debug, Clone, Copy, PartialEq)]
struct ClassRange {
    first: usize,
    last: usize,
}

impl ModelConfig {
    /// Reads and validates a JSON config file.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
            path: path.to_owned(),
            source,
        })?;
        let config: Self = serde_json::from_str(&text)
            .map_err(|e| ModelError::Config(format!("{}: {e}", path.display())))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ModelError> {
        let fail = |msg: String| Err(ModelError::Config(msg));
        if self.architecture != ARCHITECTURE {
            return fail(format!(
                "architecture {:?} is not supported (only {ARCHITECTURE:?})",
                self.architecture
            ));
        }
        if self.weights.is_empty() {
            return fail("weights: empty file name".into());
        }
        if self.classes == 0 {
            return fail("classes must be positive".into());
        }
        if let Some(index) = self.food_classes.indices().find(|&i| i >= self.classes) {
            return fail(format!(
                "food class {index} is out of range (classes: {})",
                self.classes
            ));
        }
        if self.food_classes.is_empty() {
            return fail("food_classes is empty".into());
        }
        if !(self.threshold > 0.0 && self.threshold < 1.0) {
            return fail(format!("threshold {} is not in (0, 1)", self.threshold));
        }
        let input = &self.input;
        if input.size == 0 || input.resize_shorter < input.size {
            return fail(format!(
                "input: need 0 < size <= resize_shorter, got size {} and resize_shorter {}",
                input.size, input.resize_shorter
            ));
        }
        if !input.std.iter().all(|&s| s > 0.0) || !input.mean.iter().all(|m| m.is_finite()) {
            return fail("input: std must be positive and mean finite".into());
        }
        Ok(())
    }
}

impl ClassList {
    /// Every listed index in order, ranges expanded.
    pub fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().flat_map(|r| r.first..=r.last)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ClassRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ClassItem {
    One(usize),
    Range(String),
}

impl Serialize for ClassList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let items: Vec<ClassItem> = self
            .0
            .iter()
            .map(|r| match r.first == r.last {
                true => ClassItem::One(r.first),
                false => ClassItem::Range(r.to_string()),
            })
            .collect();
        items.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ClassList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = Vec::<ClassItem>::deserialize(deserializer)?;
        items
            .into_iter()
            .map(|item| match item {
                ClassItem::One(i) => Ok(ClassRange { first: i, last: i }),
                ClassItem::Range(text) => parse_range(&text).map_err(de::Error::custom),
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

fn parse_range(text: &str) -> Result<ClassRange, String> {
    let bad = || format!("class range {text:?} is not FIRST-LAST with FIRST <= LAST");
    let (first, last) = text.split_once('-').ok_or_else(bad)?;
    let first = first.trim().parse().map_err(|_| bad())?;
    let last = last.trim().parse().map_err(|_| bad())?;
    if first > last {
        return Err(bad());
    }
    Ok(ClassRange { first, last })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> serde_json::Value {
        serde_json::json!({
            "name": "mobilenet_v2",
            "version": "test-1",
            "architecture": "mobilenet_v2",
            "weights": "w.safetensors",
            "input": {"size": 224, "resize_shorter": 256,
                      "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
            "classes": 1000,
            "food_classes": [923, "924-926", 809],
            "threshold": 0.5
        })
    }

    fn parse(value: serde_json::Value) -> Result<ModelConfig, ModelError> {
        let config: ModelConfig =
            serde_json::from_value(value).map_err(|e| ModelError::Config(e.to_string()))?;
        config.validate().map(|()| config)
    }

    #[test]
    fn parses_ranges_and_single_indices() {
        let config = parse(example()).unwrap();
        let indices: Vec<_> = config.food_classes.indices().collect();
        assert_eq!(indices, [923, 924, 925, 926, 809]);
        let written = serde_json::to_value(&config).unwrap();
        assert_eq!(written["food_classes"], example()["food_classes"]);
        assert_eq!(parse(written).unwrap(), config);
    }

    #[test]
    fn rejects_invalid_configs() {
        let cases: [(&str, serde_json::Value); 8] = [
            ("architecture", serde_json::json!("resnet50")),
            ("threshold", serde_json::json!(1.0)),
            ("threshold", serde_json::json!(0.0)),
            ("food_classes", serde_json::json!([1000])),
            ("food_classes", serde_json::json!(["990-1001"])),
            ("food_classes", serde_json::json!(["969-924"])),
            ("food_classes", serde_json::json!([])),
            (
                "input",
                serde_json::json!({"size": 0, "resize_shorter": 256,
                "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}),
            ),
        ];
        for (key, value) in cases {
            let mut config = example();
            config[key] = value.clone();
            assert!(parse(config).is_err(), "{key} = {value} was accepted");
        }
        let mut config = example();
        config["input"]["std"] = serde_json::json!([0.2, 0.0, 0.2]);
        assert!(parse(config).is_err(), "zero std was accepted");
        let mut config = example();
        config["notes"] = serde_json::json!("unknown field");
        assert!(parse(config).is_err(), "unknown field was accepted");
    }

    #[test]
    fn shipped_config_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/config.json");
        let config = ModelConfig::from_file(&path).unwrap();
        assert_eq!(config.classes, 1000);
        assert_eq!(config.input.size, 224);
    }
}
