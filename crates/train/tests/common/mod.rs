//! What the real-data tests of this crate share: the default model and GLUE (missing either
//! is a failure that says what to set), an `RunContext` on the CPU writing under a scratch folder,
//! small scales, and the lock on libtorch's global generator.
// Each test file uses a part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use lrdist_train::{RunContext, ScaleSpec};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `GLUE_DIR` (default `../shared/glue`) and `LRDIST_MODEL` (default
/// `models/all-MiniLM-L6-v2`), results and the stage-1 cache under `results`, no progress.
pub fn context(results: &Path) -> RunContext {
    let glue = std::env::var_os("GLUE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/glue"));
    let model = std::env::var_os("LRDIST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("models/all-MiniLM-L6-v2"));
    assert!(
        glue.join("SST-2").is_dir(),
        "GLUE not found at {}: set GLUE_DIR",
        glue.display()
    );
    assert!(
        model.join("model.safetensors").is_file(),
        "model not found at {}: run `make model` or set LRDIST_MODEL",
        model.display()
    );
    RunContext {
        model_dir: model,
        glue_dir: glue,
        device: tch::Device::Cpu,
        results_dir: results.to_path_buf(),
        cache_dir: results.join("cache"),
        progress: false,
    }
}

/// The quick scale with `train` / `dev` rows per task and `epochs` epochs.
pub fn small_scale(train: usize, dev: usize, epochs: usize) -> ScaleSpec {
    let mut s = ScaleSpec::builtin("quick").unwrap();
    s.max_train = Some(train);
    s.max_dev = Some(dev);
    s.epochs = epochs;
    s
}

/// Tests that train or seed draw from libtorch's global generator, and the tests of one
/// file run on parallel threads: every such test holds the one lock on it (lrdist-model's)
/// for its whole body.
pub use lrdist_model::torch_rng_lock;
