//! A MobileNetV2 with random weights, in both layouts, and its forward pass from candle's plain
//! ops, for testing the classifier without the real weights.

use std::collections::HashMap;

use candle_core::{Device, Tensor};

use super::super::kernels::testing::random;
use super::super::weights::{HEAD_CHANNELS, STAGES, STEM_CHANNELS};

/// Every conv of MobileNetV2: torchvision's conv and batch-norm names, weight shape, stride,
/// groups and whether ReLU6 follows.
pub struct Conv {
    pub name: String,
    pub bn: String,
    pub shape: [usize; 4],
    pub stride: usize,
    pub groups: usize,
    pub relu6: bool,
}

fn conv(
    name: String,
    bn: String,
    shape: [usize; 4],
    stride: usize,
    groups: usize,
    relu6: bool,
) -> Conv {
    Conv {
        name,
        bn,
        shape,
        stride,
        groups,
        relu6,
    }
}

/// Per block (stem and head included), its convs and whether it adds its input.
pub fn architecture() -> Vec<(Vec<Conv>, bool)> {
    let f = |i: usize, rest: &str| format!("features.{i}.{rest}");
    let mut blocks = vec![(
        vec![conv(
            f(0, "0"),
            f(0, "1"),
            [STEM_CHANNELS, 3, 3, 3],
            2,
            1,
            true,
        )],
        false,
    )];
    let mut cin = STEM_CHANNELS;
    for (t, cout, repeats, first_stride) in STAGES {
        for r in 0..repeats {
            let (i, stride, hidden) =
                (blocks.len(), if r == 0 { first_stride } else { 1 }, cin * t);
            let mut convs = Vec::new();
            let first = usize::from(t != 1);
            if t != 1 {
                convs.push(conv(
                    f(i, "conv.0.0"),
                    f(i, "conv.0.1"),
                    [hidden, cin, 1, 1],
                    1,
                    1,
                    true,
                ));
            }
            let dw = |rest: usize| f(i, &format!("conv.{first}.{rest}"));
            convs.push(conv(dw(0), dw(1), [hidden, 1, 3, 3], stride, hidden, true));
            let project = |k: usize| f(i, &format!("conv.{}", first + k));
            convs.push(conv(
                project(1),
                project(2),
                [cout, hidden, 1, 1],
                1,
                1,
                false,
            ));
            blocks.push((convs, stride == 1 && cin == cout));
            cin = cout;
        }
    }
    let i = blocks.len();
    blocks.push((
        vec![conv(
            f(i, "0"),
            f(i, "1"),
            [HEAD_CHANNELS, cin, 1, 1],
            1,
            1,
            true,
        )],
        false,
    ));
    blocks
}

pub const CLASSES: usize = 10;
pub const SIZE: usize = 64;

/// Random folded weights, scaled so activations stay in a useful range.
pub fn random_weights() -> HashMap<String, Tensor> {
    let dev = &Device::Cpu;
    let mut tensors = HashMap::new();
    for (seed, conv) in architecture()
        .into_iter()
        .flat_map(|(convs, _)| convs)
        .enumerate()
    {
        let fan_in = conv.shape[1..].iter().product::<usize>() as f32;
        let len = conv.shape.iter().product();
        let weight = random(len, 100 + seed as u64, 2.0 / fan_in.sqrt());
        tensors.insert(
            format!("{}.weight", conv.name),
            Tensor::from_vec(weight, &conv.shape, dev).unwrap(),
        );
        let bias = random(conv.shape[0], 500 + seed as u64, 0.2);
        tensors.insert(
            format!("{}.bias", conv.name),
            Tensor::from_vec(bias, conv.shape[0], dev).unwrap(),
        );
    }
    let weight = random(CLASSES * HEAD_CHANNELS, 7, 0.1);
    tensors.insert(
        "classifier.1.weight".into(),
        Tensor::from_vec(weight, (CLASSES, HEAD_CHANNELS), dev).unwrap(),
    );
    tensors.insert(
        "classifier.1.bias".into(),
        Tensor::from_vec(random(CLASSES, 8, 1.0), CLASSES, dev).unwrap(),
    );
    tensors
}

/// The same network in torchvision's layout: bias-free convs followed by batch norm with random
/// statistics, chosen so that folding gives back `folded`.
pub fn unfold(folded: &HashMap<String, Tensor>) -> HashMap<String, Tensor> {
    let dev = &Device::Cpu;
    let mut tensors = folded.clone();
    for (seed, conv) in architecture()
        .into_iter()
        .flat_map(|(convs, _)| convs)
        .enumerate()
    {
        let n = conv.shape[0];
        let seed = 1000 + 10 * seed as u64;
        let gamma: Vec<f32> = random(n, seed, 0.5).iter().map(|v| v + 1.0).collect();
        let var: Vec<f32> = random(n, seed + 1, 0.9).iter().map(|v| v + 1.0).collect();
        let mean = random(n, seed + 2, 1.0);
        let scale: Vec<f32> = gamma
            .iter()
            .zip(&var)
            .map(|(g, v)| g / (v + 1e-5).sqrt())
            .collect();
        let bias: Vec<f32> = tensors
            .remove(&format!("{}.bias", conv.name))
            .unwrap()
            .to_vec1()
            .unwrap();
        let beta: Vec<f32> = (0..n).map(|o| bias[o] + mean[o] * scale[o]).collect();
        let weight = &folded[&format!("{}.weight", conv.name)];
        let scale_t = Tensor::from_slice(&scale, (n, 1, 1, 1), dev).unwrap();
        tensors.insert(
            format!("{}.weight", conv.name),
            weight.broadcast_div(&scale_t).unwrap(),
        );
        for (field, values) in [
            ("weight", gamma),
            ("bias", beta),
            ("running_mean", mean),
            ("running_var", var),
        ] {
            tensors.insert(
                format!("{}.{field}", conv.bn),
                Tensor::from_vec(values, n, dev).unwrap(),
            );
        }
        let tracked = Tensor::new(&[10i64], dev).unwrap().squeeze(0).unwrap();
        tensors.insert(format!("{}.num_batches_tracked", conv.bn), tracked);
    }
    tensors
}

/// MobileNetV2 from candle's plain NCHW ops, on folded weights.
pub fn candle_forward(t: &HashMap<String, Tensor>, x: &Tensor) -> Tensor {
    let mut x = x.clone();
    for (convs, residual) in architecture() {
        let input = x.clone();
        for c in convs {
            let w = &t[&format!("{}.weight", c.name)];
            let b = t[&format!("{}.bias", c.name)]
                .reshape((1, c.shape[0], 1, 1))
                .unwrap();
            let pad = c.shape[2] / 2;
            x = x
                .conv2d(w, pad, c.stride, 1, c.groups)
                .unwrap()
                .broadcast_add(&b)
                .unwrap();
            if c.relu6 {
                x = x.clamp(0f32, 6f32).unwrap();
            }
        }
        if residual {
            x = (x + input).unwrap();
        }
    }
    let pooled = x.mean((2, 3)).unwrap();
    let logits = pooled
        .matmul(&t["classifier.1.weight"].t().unwrap())
        .unwrap();
    logits.broadcast_add(&t["classifier.1.bias"]).unwrap()
}
