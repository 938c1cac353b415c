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

/// For tests: serialise use of libtorch's global generator. Tests run on parallel threads,
/// and another test's draws between a `tch::manual_seed` and the draws it fixes change the
/// numbers (a seeded dropout mask compared with itself failed so, and the stage-1 cache test
/// saw a different p_s). Every test that seeds, trains, draws dropout masks or initialises
/// weights holds this guard for its whole body. This is the one lock of the process: the unit
/// tests of this crate and of lrdist-optimizer and the integration tests of lrdist-train
/// all take it here. A poisoned lock (a test panicked holding it) is taken over.
#[doc(hidden)]
pub fn torch_rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
