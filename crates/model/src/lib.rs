//! BERT encoder on libtorch (tch) for lrdist: Hugging Face compatible weights, task heads,
//! and the depth index / optimiser group of every parameter.
mod bert;
mod config;
pub mod dropout;
mod encoder;
pub mod export;
mod head;
mod layers;
pub mod params;
mod vars;

pub use bert::Bert;
pub use config::BertConfig;
pub use encoder::{
    checkpoint_parameter_names, is_ignored, read_weights, weights_file, Encoder, WeightsMismatch,
    CONFIG_FILE, TORCH_WEIGHTS_FILE, WEIGHTS_FILE,
};
pub use export::{save_classifier, Classifier, Labels};
pub use head::{Head, HeadKind};
pub use params::{depth_of, group_depth, is_no_decay, num_optimizer_groups, optimizer_group};
pub use vars::{variable_groups, InitMode};

/// The CUDA device when one is available, else the CPU.
pub fn default_device() -> tch::Device {
    tch::Device::cuda_if_available()
}

/// Unit tests that draw from libtorch's global generator hold this lock: tests run on
/// parallel threads, and another test's draws between a `tch::manual_seed` and the draw it
/// fixes would change the numbers (a seeded dropout mask compared with itself failed so).
#[cfg(test)]
pub(crate) fn torch_rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
