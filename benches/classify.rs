//! Forward pass of the meal-photo classifier at batch 1 and 8, on the reference inputs.
//! Needs the weights: `SOUS_MODEL_DIR` (default `models/`) holding them and their reference
//! vectors; skipped with a message when they are absent.

use std::path::PathBuf;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sous::classification::model::{Classifier, ModelConfig};
use sous::classification::preprocess::Preprocessed;

fn classify(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("SOUS_MODEL_DIR").map_or_else(|| root.join("models"), PathBuf::from);
    let config =
        ModelConfig::from_file(&root.join("models/config.json")).expect("models/config.json");
    let reference = dir.join("mobilenet_v2_reference.safetensors");
    if !dir.join(&config.weights).is_file() || !reference.is_file() {
        eprintln!(
            "skipping classify bench: no weights in {} (set SOUS_MODEL_DIR)",
            dir.display()
        );
        return;
    }
    let size = config.input.size;
    let classifier = Classifier::load(&dir, config).expect("load the classifier");
    let tensors =
        candle_core::safetensors::load(&reference, &candle_core::Device::Cpu).expect("reference");
    let images: Vec<Preprocessed> = (0..5)
        .map(|i| {
            let input = tensors[&format!("input_{i}")]
                .flatten_all()
                .and_then(|t| t.to_vec1());
            Preprocessed::from_nchw(&input.expect("reference input"), size)
        })
        .collect();

    let mut group = c.benchmark_group("classify");
    for batch in [1, 8] {
        let inputs: Vec<Preprocessed> = images.iter().cycle().take(batch).cloned().collect();
        group.bench_with_input(BenchmarkId::new("forward", batch), &inputs, |b, inputs| {
            b.iter(|| classifier.logits(inputs).expect("forward pass"));
        });
    }
    group.finish();
}

criterion_group!(benches, classify);
criterion_main!(benches);
