//! Fine-tuning, the paper's forgetting protocol, its scenarios and baselines.
//!
//! - [`learner`]: the training loop and evaluation (one encoder, one head per task);
//! - [`protocol`]: N stages in sequence, the accuracy matrix, a1 / p_s / p_o;
//! - [`scenario`]: task pairs and sequences, embedding shift, length shift;
//! - [`penalty`]: EWC and L2-SP;
//! - [`runner`]: one run end to end, producing a [`record::RunRecord`];
//! - [`config`]: the experiment YAML files under `experiments/`, the [`RunRequest`] of one
//!   run and the baselines' tuning choice;
//! - [`requests`]: which runs a command asks for (a scale with overrides, `run`'s and
//!   `demo`'s requests);
//! - [`calibrate`] and [`tune`]: the flat-rate calibration and the baselines' tuning;
//! - [`pending`]: what a resumable batch still has to run (`--dry-run`), and its cost;
//! - [`seeds`]: the seed rule, which adds seeds to a batch where three leave a comparison
//!   with flat unsettled;
//! - [`flops`]: model FLOPs of a training step (`StageStats::flops`);
//! - [`save`] and [`predict`]: trained heads as Hugging Face folders (`--save`), and
//!   predictions of such a folder on a file (`lrdist predict`).

pub mod attribution;
pub mod calibrate;
pub mod config;
pub mod embeddings;
pub mod flops;
pub mod inputs;
pub mod learner;
pub mod model_groups;
pub mod penalty;
pub mod pending;
pub mod predict;
pub mod protocol;
pub mod record;
pub mod requests;
pub mod runner;
pub mod save;
pub mod scenario;
pub mod seeds;
pub mod tune;

pub use config::{
    ExperimentConfig, Intervention, MethodSpec, PenaltySpec, RunDistribution, RunRequest,
    ScaleSpec, ScenarioSpec, PAPER_FLAT_RATE,
};
pub use learner::{Decision, Learner, StageSettings};
pub use lrdist_optimizer::{DistributionSpec, GroupingSpec};
pub use protocol::{EpochEvent, Outcome};
pub use record::{append_record, read_records, RunRecord};
pub use runner::{FinetuneOptions, FinetuneReport, RunContext, Runner};
