//! Reads MobileNetV2 weights from safetensors, with batch norm either already folded into conv
//! biases or as separate tensors (torchvision's state dict), and packs them for the kernels.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use super::ModelError;
use super::kernels::{Depthwise, Isa, Pointwise, Stem};
use super::ops::{Head, InvertedResidual, StemOp};

/// torchvision's batch norm epsilon.
const BN_EPS: f64 = 1e-5;
pub(super) const STEM_CHANNELS: usize = 32;
pub(super) const HEAD_CHANNELS: usize = 1280;
/// MobileNetV2 1.0: (expansion, output channels, repeats, stride of the first repeat).
pub(super) const STAGES: [(usize, usize, usize, usize); 7] = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
];

/// The network as the forward pass runs it.
pub(super) struct Network {
    pub stem: StemOp,
    pub blocks: Vec<InvertedResidual>,
    pub head: Head,
}

pub(super) fn load_network(path: &Path, classes: usize, isa: Isa) -> Result<Network, ModelError> {
    if !path.is_file() {
        return Err(ModelError::MissingFile(path.to_owned()));
    }
    let tensors = Tensors(candle_core::safetensors::load(path, &Device::Cpu)?);

    let (weight, bias) = tensors.conv("features.0.0", "features.0.1", &[STEM_CHANNELS, 3, 3, 3])?;
    let stem = StemOp::new(Stem::new(&weight, bias), isa);

    let mut blocks = Vec::new();
    let mut inputs = STEM_CHANNELS;
    for (expansion, outputs, repeats, first_stride) in STAGES {
        for repeat in 0..repeats {
            let stride = if repeat == 0 { first_stride } else { 1 };
            let name = format!("features.{}.conv", blocks.len() + 1);
            blocks.push(tensors.block(&name, inputs, outputs, expansion, stride, isa)?);
            inputs = outputs;
        }
    }

    let (weight, bias) = tensors.conv(
        &format!("features.{}.0", blocks.len() + 1),
        &format!("features.{}.1", blocks.len() + 1),
        &[HEAD_CHANNELS, inputs, 1, 1],
    )?;
    let conv = Pointwise::new(&weight, bias, true);
    let weight = tensors.get("classifier.1.weight", &[classes, HEAD_CHANNELS])?;
    let bias = tensors.get("classifier.1.bias", &[classes])?;
    let head = Head::new(conv, Pointwise::new(&weight, bias, false), isa);
    Ok(Network { stem, blocks, head })
}

struct Tensors(HashMap<String, Tensor>);

impl Tensors {
    fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The named tensor's values, if it is there, of a float type and of shape `shape`.
    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, ModelError> {
        let tensor = self
            .0
            .get(name)
            .ok_or_else(|| ModelError::MissingTensor(name.into()))?;
        if tensor.dims() != shape {
            return Err(ModelError::ShapeMismatch {
                name: name.into(),
                expected: shape.to_vec(),
                found: tensor.dims().to_vec(),
            });
        }
        if !tensor.dtype().is_float() {
            return Err(ModelError::BadTensor {
                name: name.into(),
                reason: format!("dtype {:?} is not a float type", tensor.dtype()),
            });
        }
        let values: Vec<f32> = tensor.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(ModelError::BadTensor {
                name: name.into(),
                reason: format!("holds {bad}"),
            });
        }
        Ok(values)
    }

    /// Weight and bias of conv `conv`, with batch norm `bn` folded in when the file has it.
    fn conv(
        &self,
        conv: &str,
        bn: &str,
        shape: &[usize],
    ) -> Result<(Vec<f32>, Vec<f32>), ModelError> {
        let mut weight = self.get(&format!("{conv}.weight"), shape)?;
        let outputs = shape[0];
        let bias_name = format!("{conv}.bias");
        let mut bias = match self.has(&bias_name) {
            true => self.get(&bias_name, &[outputs])?,
            false => vec![0.0; outputs],
        };
        if !self.has(&format!("{bn}.weight")) {
            return match self.has(&bias_name) {
                true => Ok((weight, bias)),
                false => Err(ModelError::MissingTensor(format!(
                    "{bias_name} (folded) or {bn}.weight (batch norm)"
                ))),
            };
        }
        let [gamma, beta, mean, var] = ["weight", "bias", "running_mean", "running_var"]
            .map(|field| self.get(&format!("{bn}.{field}"), &[outputs]));
        let (gamma, beta, mean, var) = (gamma?, beta?, mean?, var?);
        let per_output = weight.len() / outputs;
        for (o, w) in weight.chunks_exact_mut(per_output).enumerate() {
            let scale = (f64::from(gamma[o]) / (f64::from(var[o]) + BN_EPS).sqrt()) as f32;
            w.iter_mut().for_each(|w| *w *= scale);
            bias[o] = (bias[o] - mean[o]) * scale + beta[o];
        }
        Ok((weight, bias))
    }

    /// One inverted residual block, named as torchvision names it.
    fn block(
        &self,
        name: &str,
        inputs: usize,
        outputs: usize,
        expansion: usize,
        stride: usize,
        isa: Isa,
    ) -> Result<InvertedResidual, ModelError> {
        let hidden = inputs * expansion;
        // Without expansion the layers shift down by one: conv.0 is the depthwise conv.
        let (expand, first) = if expansion == 1 {
            (None, 0)
        } else {
            let (w, b) = self.conv(
                &format!("{name}.0.0"),
                &format!("{name}.0.1"),
                &[hidden, inputs, 1, 1],
            )?;
            (Some(Pointwise::new(&w, b, true)), 1)
        };
        let (w, b) = self.conv(
            &format!("{name}.{first}.0"),
            &format!("{name}.{first}.1"),
            &[hidden, 1, 3, 3],
        )?;
        let depthwise = Depthwise::new(&w, b, stride);
        let (w, b) = self.conv(
            &format!("{name}.{}", first + 1),
            &format!("{name}.{}", first + 2),
            &[outputs, hidden, 1, 1],
        )?;
        let project = Pointwise::new(&w, b, false);
        Ok(InvertedResidual::new(expand, depthwise, project, isa))
    }
}
