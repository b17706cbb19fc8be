//! Whole-network tests: the real weights against onnxruntime's logits, and a small random
//! network against plain candle ops, folded and with batch-norm tensors.

mod network;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use self::network::{CLASSES, SIZE, candle_forward, random_weights, unfold};
use super::kernels::testing::random;
use super::*;

/// Where the weights are: `SOUS_MODEL_DIR`, else `models/` in the crate.
fn model_dir() -> PathBuf {
    std::env::var_os("SOUS_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("models"))
}

#[test]
fn reproduces_the_reference_logits() {
    let dir = model_dir();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/config.json");
    let config_path = Some(dir.join("config.json"))
        .filter(|p| p.is_file())
        .unwrap_or(shipped);
    let config = ModelConfig::from_file(&config_path).unwrap();
    let weights = dir.join(&config.weights);
    if !weights.is_file() {
        let required = std::env::var("SOUS_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "SOUS_REQUIRE_SERVICES=1 but {} is missing",
            weights.display()
        );
        eprintln!(
            "skipping: {} is missing (set SOUS_MODEL_DIR)",
            weights.display()
        );
        return;
    }
    let reference = candle_core::safetensors::load(
        dir.join("mobilenet_v2_reference.safetensors"),
        &Device::Cpu,
    )
    .expect("the reference vectors belong beside the weights");
    let classifier = Classifier::load(&dir, config).unwrap();
    let size = classifier.config().input.size;
    let cases = 5;
    let tensor =
        |name: String| -> Vec<f32> { reference[&name].flatten_all().unwrap().to_vec1().unwrap() };
    let batch: Vec<_> = (0..cases)
        .map(|i| Preprocessed::from_nchw(&tensor(format!("input_{i}")), size))
        .collect();
    let logits = classifier.logits(&batch).unwrap();
    for (i, logits) in logits.iter().enumerate() {
        let expected = tensor(format!("logits_{i}"));
        let diff = logits
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        eprintln!("reference {i}: max abs diff {diff:.2e}");
        assert!(diff < 1e-3, "reference {i}: max abs diff {diff}");
    }
    // One image alone takes another path through the kernels than a batch of five.
    let single = classifier.logits(&batch[4..]).unwrap();
    let diff = single[0]
        .iter()
        .zip(&logits[4])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(diff < 1e-4, "batch of one differs by {diff}");
}

fn small_config() -> ModelConfig {
    serde_json::from_value(serde_json::json!({
        "name": "mobilenet_v2", "version": "random", "architecture": "mobilenet_v2",
        "weights": "weights.safetensors",
        "input": {"size": SIZE, "resize_shorter": SIZE, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]},
        "classes": CLASSES, "food_classes": [1, "3-4"], "threshold": 0.5
    }))
    .unwrap()
}

/// A fresh directory holding `tensors` as `weights.safetensors`.
fn write_weights(test: &str, tensors: &HashMap<String, Tensor>) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sous-classifier-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    candle_core::safetensors::save(tensors, dir.join("weights.safetensors")).unwrap();
    dir
}

fn random_batch(n: usize) -> Vec<Preprocessed> {
    (0..n)
        .map(|i| Preprocessed::from_nchw(&random(3 * SIZE * SIZE, 70 + i as u64, 2.0), SIZE))
        .collect()
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn random_network_matches_plain_candle_for_any_batch_and_thread_count() {
    let tensors = random_weights();
    let dir = write_weights("plain", &tensors);
    let classifier = Classifier::load(&dir, small_config()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    let batch = random_batch(3);
    let nchw: Vec<Tensor> = batch
        .iter()
        .map(|p| {
            Tensor::from_slice(p.data(), (SIZE, SIZE, 3), &Device::Cpu)
                .unwrap()
                .permute((2, 0, 1))
                .unwrap()
        })
        .collect();
    let expected: Vec<Vec<f32>> = candle_forward(&tensors, &Tensor::stack(&nchw, 0).unwrap())
        .to_vec2()
        .unwrap();
    let spread = expected
        .iter()
        .flatten()
        .map(|v| v.abs())
        .fold(0.0, f32::max);
    assert!(
        spread > 0.1,
        "degenerate random network (logits up to {spread})"
    );

    let mut classifier = classifier;
    for threads in [1, 2, 3] {
        classifier = classifier.with_threads(threads).unwrap();
        assert_eq!(classifier.threads(), threads);
        let logits = classifier.logits(&batch).unwrap();
        assert!(
            max_diff(&logits, &expected) < 1e-4,
            "threads {threads}: {}",
            max_diff(&logits, &expected)
        );
        let single = classifier.logits(&batch[1..2]).unwrap();
        assert!(
            max_diff(&single, &expected[1..2]) < 1e-4,
            "threads {threads}, batch of one"
        );
    }
}

#[test]
fn folds_batch_norm_at_load() {
    let folded = random_weights();
    let dir = write_weights("folded", &folded);
    let from_folded = Classifier::load(&dir, small_config()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let unfolded = unfold(&folded);
    assert!(
        !unfolded.contains_key("features.3.conv.2.bias")
            && unfolded.contains_key("features.3.conv.3.running_var")
    );
    let dir = write_weights("unfolded", &unfolded);
    let from_unfolded = Classifier::load(&dir, small_config()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    let batch = random_batch(2);
    let (a, b) = (
        from_folded.logits(&batch).unwrap(),
        from_unfolded.logits(&batch).unwrap(),
    );
    assert!(
        max_diff(&a, &b) < 1e-4,
        "folded and unfolded differ by {}",
        max_diff(&a, &b)
    );
}

#[test]
fn load_names_what_is_missing_or_wrong() {
    let mut tensors = random_weights();
    tensors.remove("features.5.conv.1.0.weight");
    let dir = write_weights("missing", &tensors);
    let err = Classifier::load(&dir, small_config()).err().unwrap();
    assert!(
        matches!(&err, ModelError::MissingTensor(n) if n == "features.5.conv.1.0.weight"),
        "{err}"
    );

    let mut tensors = random_weights();
    tensors.insert(
        "classifier.1.bias".into(),
        Tensor::zeros(CLASSES + 1, DType::F32, &Device::Cpu).unwrap(),
    );
    candle_core::safetensors::save(&tensors, dir.join("weights.safetensors")).unwrap();
    let err = Classifier::load(&dir, small_config()).err().unwrap();
    assert!(
        matches!(&err, ModelError::ShapeMismatch { name, .. } if name == "classifier.1.bias"),
        "{err}"
    );

    tensors.remove("classifier.1.bias");
    tensors.remove("features.2.conv.2.bias");
    candle_core::safetensors::save(&tensors, dir.join("weights.safetensors")).unwrap();
    let err = Classifier::load(&dir, small_config()).err().unwrap();
    assert!(err.to_string().contains("features.2.conv.2.bias"), "{err}");

    std::fs::remove_dir_all(&dir).unwrap();
    let err = Classifier::load(&dir, small_config()).err().unwrap();
    assert!(matches!(err, ModelError::MissingFile(_)), "{err}");
}

#[test]
fn food_probability_is_the_softmax_mass_of_the_food_classes() {
    let logits = [1.0, 2.0, 0.5, 3.0, -1.0];
    let exp: Vec<f64> = logits.iter().map(|&l| f64::from(l).exp()).collect();
    let expected = (exp[1] + exp[3]) / exp.iter().sum::<f64>();
    let p = food_probability(&logits, &[1, 3]);
    assert!((f64::from(p) - expected).abs() < 1e-6, "{p} != {expected}");
    assert!(
        (food_probability(&[1000.0, 0.0], &[0]) - 1.0).abs() < 1e-6,
        "overflows"
    );
}
