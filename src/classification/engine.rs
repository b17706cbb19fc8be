//! The model as a worker holds it: loaded once per process, on first need, with a batcher in
//! front so photos that are ready together go through one forward pass.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::model::{Classifier, ModelConfig, ModelError};
use super::preprocess::Preprocessed;
use crate::platform::{Platform, cpu};

/// The configuration this build was made and measured with; a `config.json` in the model
/// directory replaces it (another model version, another threshold).
const BUILT_IN_CONFIG: &str = include_str!("../../models/config.json");

/// The model configuration in effect: `{model_dir}/config.json`, else the built-in one.
pub fn config(model_dir: &Path) -> Result<ModelConfig, String> {
    let path = model_dir.join("config.json");
    if path.exists() {
        return ModelConfig::from_file(&path).map_err(|e| e.to_string());
    }
    let config: ModelConfig = serde_json::from_str(BUILT_IN_CONFIG)
        .map_err(|e| format!("the built-in models/config.json: {e}"))?;
    config
        .validate()
        .map_err(|e| format!("the built-in models/config.json: {e}"))?;
    Ok(config)
}

/// Where the weights named by `config` are expected.
pub fn weights_path(model_dir: &Path, config: &ModelConfig) -> PathBuf {
    model_dir.join(&config.weights)
}

/// One per process, in the platform's module state.
#[derive(Default)]
pub struct Engine {
    loaded: OnceLock<Result<Batcher, String>>,
    config: OnceLock<Result<ModelConfig, String>>,
}

impl Engine {
    /// The model configuration, read once.
    pub fn config(&self, model_dir: &Path) -> Result<&ModelConfig, String> {
        self.config
            .get_or_init(|| config(model_dir))
            .as_ref()
            .map_err(Clone::clone)
    }

    pub fn of(platform: &Platform) -> Arc<Engine> {
        platform.state.get_or_init(Engine::default)
    }

    /// The batcher, the model loaded the first time (a failure is kept: weights that appear
    /// later are picked up when the worker restarts). Must be called within the runtime.
    pub fn batcher(&self, platform: &Platform) -> Result<&Batcher, String> {
        self.loaded
            .get_or_init(|| {
                let settings = &platform.settings;
                let started = Instant::now();
                let classifier = load(&settings.model_dir, settings.classification.threads)?;
                tracing::info!(
                    model = %classifier.config().name,
                    version = %classifier.config().version,
                    took_ms = started.elapsed().as_millis() as u64,
                    "classifier loaded"
                );
                Ok(Batcher::start(platform.clone(), Arc::new(classifier)))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Whether the model was loaded in this process (`None` if nobody tried yet).
    pub fn loaded(&self) -> Option<Result<(), String>> {
        self.loaded
            .get()
            .map(|loaded| loaded.as_ref().map(|_| ()).map_err(Clone::clone))
    }
}

/// Loads the model of `model_dir`, forward passes on `threads` threads (0: one per core).
pub fn load(model_dir: &Path, threads: usize) -> Result<Classifier, String> {
    let config = config(model_dir)?;
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(2, usize::from),
        n => n,
    };
    Classifier::load(model_dir, config)
        .and_then(|classifier| classifier.with_threads(threads))
        .map_err(|e| {
            format!(
                "cannot load the classifier from {}: {e}",
                model_dir.display()
            )
        })
}

struct Pending {
    input: Preprocessed,
    reply: oneshot::Sender<Result<f32, String>>,
}

/// Collects photos for a forward pass: once one is ready, waits up to `linger` for more, up
/// to `batch_size`; while a pass runs, the next batch gathers.
pub struct Batcher {
    sender: mpsc::Sender<Pending>,
    config: ModelConfig,
}

impl Batcher {
    fn start(platform: Platform, classifier: Arc<Classifier>) -> Batcher {
        let settings = platform.settings.classification.clone();
        let (sender, receiver) = mpsc::channel(settings.batch_size * 4);
        let config = classifier.config().clone();
        tokio::spawn(run(platform, classifier, receiver));
        Batcher { sender, config }
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The food probability of one photo, from whichever pass it joins.
    pub async fn food_probability(&self, input: Preprocessed) -> Result<f32, String> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Pending { input, reply })
            .await
            .map_err(|_| "the classifier stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the classifier stopped".to_string())?
    }
}

/// One score per input, from one pass; if the pass fails, each input alone, so one bad input
/// does not fail the photos it was batched with.
fn scores_of(classifier: &Classifier, inputs: &[Preprocessed]) -> Vec<Result<f32, String>> {
    let fail = |error: ModelError| Err(format!("the forward pass failed: {error}"));
    match classifier.food_probabilities(inputs) {
        Ok(scores) if scores.len() == inputs.len() => scores.into_iter().map(Ok).collect(),
        Ok(_) | Err(_) if inputs.len() > 1 => inputs
            .chunks(1)
            .map(|one| match classifier.food_probabilities(one) {
                Ok(scores) => scores
                    .first()
                    .copied()
                    .ok_or_else(|| "no score".to_string()),
                Err(error) => fail(error),
            })
            .collect(),
        Ok(_) => vec![Err("the forward pass returned no score".to_string())],
        Err(error) => vec![fail(error)],
    }
}

async fn run(
    platform: Platform,
    classifier: Arc<Classifier>,
    mut receiver: mpsc::Receiver<Pending>,
) {
    let settings = platform.settings.classification.clone();
    let batch_sizes = platform.metrics.histogram(
        "classify_batch_size",
        "Photos per forward pass of the classifier",
        &[],
        &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
    );
    let pass_seconds = platform.metrics.histogram(
        "classify_forward_seconds",
        "Time of one forward pass of the classifier, whatever its batch",
        &[],
        &[0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0],
    );
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + settings.linger;
        while batch.len() < settings.batch_size {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(pending)) => batch.push(pending),
                Ok(None) | Err(_) => break,
            }
        }
        let (inputs, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|p| (p.input, p.reply)).unzip();
        batch_sizes
            .with_label_values::<&str>(&[])
            .observe(inputs.len() as f64);
        let started = Instant::now();
        let classifier = Arc::clone(&classifier);
        let scores = cpu::run(move || scores_of(&classifier, &inputs)).await;
        pass_seconds
            .with_label_values::<&str>(&[])
            .observe(started.elapsed().as_secs_f64());
        match scores {
            Ok(scores) => {
                for (reply, score) in replies.into_iter().zip(scores) {
                    reply.send(score).ok();
                }
            }
            Err(panicked) => {
                let reason = format!("the forward pass panicked: {panicked:#}");
                for reply in replies {
                    reply.send(Err(reason.clone())).ok();
                }
            }
        }
    }
}
