//! MobileNetV2 (ImageNet) on the CPU, for telling food photos from the rest.
//!
//! The network runs as a chain of candle custom ops over NHWC tensors (see `ops`), on a rayon
//! pool of fixed size that the classifier owns, so the forward pass never asks for the CPU count
//! and never competes with other work for the global pool.

mod config;
mod kernels;
mod ops;
#[cfg(test)]
mod tests;
mod weights;

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

pub use self::config::{ClassList, InputConfig, ModelConfig};
use self::kernels::Isa;
use self::weights::Network;
use super::preprocess::Preprocessed;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad model config: {0}")]
    Config(String),
    #[error("weights lack tensor {0}")]
    MissingTensor(String),
    #[error("tensor {name}: {reason}")]
    BadTensor { name: String, reason: String },
    #[error("tensor {name} has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("input image is {found}×{found}, the model takes {expected}×{expected}")]
    InputSize { expected: usize, found: usize },
    #[error("thread pool: {0}")]
    ThreadPool(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

pub struct Classifier {
    config: ModelConfig,
    network: Network,
    /// Sorted, without duplicates.
    food_classes: Vec<usize>,
    pool: rayon::ThreadPool,
}

impl Classifier {
    /// Loads `dir.join(&config.weights)`, folded or with batch-norm tensors, and checks every
    /// tensor the network needs. The forward pass uses as many threads as the machine has.
    pub fn load(dir: &Path, config: ModelConfig) -> Result<Classifier, ModelError> {
        config.validate()?;
        let network =
            weights::load_network(&dir.join(&config.weights), config.classes, Isa::detect())?;
        let mut food_classes: Vec<usize> = config.food_classes.indices().collect();
        food_classes.sort_unstable();
        food_classes.dedup();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Classifier {
            config,
            network,
            food_classes,
            pool: thread_pool(threads)?,
        })
    }

    /// The same classifier running its forward passes on `threads` threads.
    pub fn with_threads(self, threads: usize) -> Result<Classifier, ModelError> {
        Ok(Classifier {
            pool: thread_pool(threads)?,
            ..self
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The number of threads a forward pass uses.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Raw class scores, one vector of `config().classes` per image, in one forward pass.
    pub fn logits(&self, batch: &[Preprocessed]) -> Result<Vec<Vec<f32>>, ModelError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let size = self.config.input.size;
        if let Some(bad) = batch.iter().find(|p| p.size() != size) {
            return Err(ModelError::InputSize {
                expected: size,
                found: bad.size(),
            });
        }
        let mut data = Vec::with_capacity(batch.len() * size * size * 3);
        batch.iter().for_each(|p| data.extend_from_slice(p.data()));
        let input = Tensor::from_vec(data, (batch.len(), size, size, 3), &Device::Cpu)?;
        let logits = self.pool.install(|| -> candle_core::Result<Tensor> {
            let mut x = input.apply_op1_no_bwd(&self.network.stem)?;
            for block in &self.network.blocks {
                x = x.apply_op1_no_bwd(block)?;
            }
            x.apply_op1_no_bwd(&self.network.head)
        })?;
        Ok(logits.to_vec2()?)
    }

    /// Per image, the probability (softmax over all classes) that it shows one of the food
    /// classes.
    pub fn food_probabilities(&self, batch: &[Preprocessed]) -> Result<Vec<f32>, ModelError> {
        let logits = self.logits(batch)?;
        Ok(logits
            .iter()
            .map(|l| food_probability(l, &self.food_classes))
            .collect())
    }
}

fn thread_pool(threads: usize) -> Result<rayon::ThreadPool, ModelError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("classifier-{i}"))
        .build()
        .map_err(|e| ModelError::ThreadPool(e.to_string()))
}

/// Softmax of `logits`, summed over `classes`.
fn food_probability(logits: &[f32], classes: &[usize]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp = |l: f32| f64::from(l - max).exp();
    let total: f64 = logits.iter().map(|&l| exp(l)).sum();
    let food: f64 = classes.iter().map(|&c| exp(logits[c])).sum();
    (food / total) as f32
}
