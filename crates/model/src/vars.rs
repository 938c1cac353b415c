//! Creating parameters: Hugging Face initial values, and the optimiser group each
//! variable is put in (from [`depth_of`] and [`is_no_decay`], see `params.rs`).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use tch::{nn, Device, Kind, Tensor};

use crate::params::{depth_of, is_no_decay, optimizer_group};

/// Where the first values of new parameters come from. Every mode gives biases zeros and
/// LayerNorm weights ones; they differ in the weights and embeddings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitMode {
    /// Hugging Face's init (normal, std `initializer_range`, padding embedding row zero)
    /// drawn from a ChaCha8 generator with this seed: reproducible whatever other threads
    /// do with torch's global generator.
    Seed(u64),
    /// Like [`InitMode::Seed`], with the seed drawn from torch's global generator, so
    /// `tch::manual_seed` makes it reproducible.
    TorchSeed,
    /// Zero weights: placeholders that are about to be overwritten by loaded weights.
    Placeholder,
}

/// Draws initial values in the order parameters are created.
pub(crate) struct Initializer {
    rng: Option<ChaCha8Rng>,
    normal: Normal<f32>,
    device: Device,
}

impl Initializer {
    pub(crate) fn new(mode: InitMode, std: f64, device: Device) -> Initializer {
        let seed = match mode {
            InitMode::Seed(seed) => Some(seed),
            InitMode::TorchSeed => Some(torch_drawn_seed()),
            InitMode::Placeholder => None,
        };
        let normal = Normal::new(0.0, std as f32)
            .unwrap_or_else(|e| panic!("initializer_range {std} is not a valid std: {e}"));
        Initializer {
            rng: seed.map(ChaCha8Rng::seed_from_u64),
            normal,
            device,
        }
    }

    /// Normal(0, std) values, with row `zero_row` (a padding embedding) set to zero.
    pub(crate) fn normal(&mut self, dims: &[i64], zero_row: Option<i64>) -> Tensor {
        let Some(rng) = self.rng.as_mut() else {
            return self.zeros(dims);
        };
        let numel: i64 = dims.iter().product();
        let mut values: Vec<f32> = (0..numel).map(|_| self.normal.sample(rng)).collect();
        if let Some(row) = zero_row {
            let width = (numel / dims[0]) as usize;
            let start = row as usize * width;
            values[start..start + width].fill(0.0);
        }
        Tensor::from_slice(&values)
            .view(dims)
            .to_device(self.device)
    }

    pub(crate) fn zeros(&self, dims: &[i64]) -> Tensor {
        Tensor::zeros(dims, (Kind::Float, self.device))
    }

    pub(crate) fn ones(&self, dims: &[i64]) -> Tensor {
        Tensor::ones(dims, (Kind::Float, self.device))
    }
}

fn torch_drawn_seed() -> u64 {
    Tensor::randint(i64::MAX, [1], (Kind::Int64, Device::Cpu)).int64_value(&[0]) as u64
}

/// A place in the variable tree, remembering where the model's own names start so that
/// a parameter's depth is read from its Hugging Face name (`encoder.layer.3.…`) whatever
/// prefix the caller's path adds.
#[derive(Clone)]
pub(crate) struct Scope<'a> {
    path: nn::Path<'a>,
    name: Vec<String>,
    num_layers: usize,
}

impl<'a> Scope<'a> {
    pub(crate) fn new(path: &nn::Path<'a>, num_layers: usize) -> Scope<'a> {
        Scope {
            path: path.clone(),
            name: Vec::new(),
            num_layers,
        }
    }

    /// A scope whose variables are named `model_name.<leaf>` for their depth, wherever
    /// `path` puts them in the `VarStore` (task heads: `head.weight` is at depth L + 1).
    pub(crate) fn named(path: &nn::Path<'a>, model_name: &str, num_layers: usize) -> Scope<'a> {
        Scope {
            path: path.clone(),
            name: vec![model_name.to_string()],
            num_layers,
        }
    }

    pub(crate) fn sub(&self, part: impl ToString) -> Scope<'a> {
        let part = part.to_string();
        let mut name = self.name.clone();
        name.push(part.clone());
        Scope {
            path: self.path.sub(part),
            name,
            num_layers: self.num_layers,
        }
    }

    /// The model-relative name of variable `leaf` in this scope.
    pub(crate) fn name_of(&self, leaf: &str) -> String {
        let mut parts = self.name.clone();
        parts.push(leaf.to_string());
        parts.join(".")
    }

    /// Adds trainable variable `leaf` with the given value, in the optimiser group of its
    /// depth (from its model-relative name) and decay class.
    pub(crate) fn param(&self, leaf: &str, value: Tensor) -> Tensor {
        let name = self.name_of(leaf);
        let depth = depth_of(&name, self.num_layers)
            .unwrap_or_else(|| panic!("parameter {name} has no depth in the network"));
        let group = optimizer_group(depth, !is_no_decay(&name));
        self.path.set_group(group).add(leaf, value, true)
    }
}

/// The optimiser group of every trainable variable of `vs`, sorted by name: what an
/// optimiser built from `vs` will actually see (read from the `VarStore` itself).
pub fn variable_groups(vs: &nn::VarStore) -> Vec<(String, usize)> {
    let vars = vs.variables_.lock().unwrap_or_else(|e| e.into_inner());
    let mut groups: Vec<(String, usize)> = vars
        .trainable_variables
        .iter()
        .map(|var| {
            let ptr = var.tensor.data_ptr();
            let name = vars
                .named_variables
                .iter()
                .find(|(_, t)| t.data_ptr() == ptr)
                .map_or_else(|| format!("<unnamed {ptr:?}>"), |(n, _)| n.clone());
            (name, var.group)
        })
        .collect();
    groups.sort();
    groups
}
