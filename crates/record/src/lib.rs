//! What lrdist writes down, defined once: the run record (one JSON object per line of
//! `results/runs/*.jsonl`, [`RunRecord`]), a study's trial row (one row of the CSV export
//! `results/search/<study>.csv`, [`StudyTrial`]), and the plain types they are written in.
//! The writers (`lrdist-train`, `lrdist-search`) and the reader (`lrdist-analysis`) go
//! through these types, so a field, its name in the file and its default live in one place.
//!
//! This crate links neither libtorch nor tokenizers (it needs serde, serde_json, csv, sha2,
//! anyhow and thiserror): it is the lowest crate of the workspace, and `data`, `model`,
//! `train` and `search` re-export its types where they used to define them
//! (`lrdist_data::TaskSpec`, `lrdist_model::HeadKind`, `lrdist_train::ScaleSpec`, ...).
//!
//! - [`input`]: the error of a file the user gave ([`InputError`]);
//! - [`task`]: GLUE tasks, tasks of your own, task names, a file task as a record keeps it;
//! - [`scale`]: a scale's sizes and hyperparameters and the data selection it makes;
//! - [`method`]: a baseline's penalty and intervention;
//! - [`head`]: what a task head reads;
//! - [`stats`]: per-stage statistics, continual-learning metrics, where forgetting lives;
//! - [`run`]: the run record and its JSONL files;
//! - [`trial`]: a study's trial row and its CSV export.

pub mod head;
pub mod input;
pub mod method;
pub mod run;
pub mod scale;
pub mod stats;
pub mod task;
pub mod trial;

pub use head::HeadKind;
pub use input::InputError;
pub use method::{
    compared_with_flat, frontier_rate, grid_point, Intervention, PenaltySpec, FLAT, FRONTIER_PREFIX,
};
pub use run::{
    append_record, parse_record_line, read_records, DistributionRecord, RunRecord, SCHEMA,
};
pub use scale::{DataSpec, ScaleSpec, PAPER_FLAT_RATE};
pub use stats::{
    cl_metrics, forgetting, needs_more_seeds, sample_sd, Attribution, ClMetrics, EpochStats,
    StageStats,
};
pub use task::{
    sha256_hex, FileDigests, FileTask, FileTaskRecord, GlueTask, LabelSet, TaskKind, TaskName,
    TaskSpec, UnknownTask, DEFAULT_LABEL_COLUMN, DEFAULT_TEXT_COLUMN,
};
pub use trial::{
    read_trials, read_trials_csv, write_trials_csv, StudyTrial, TrialState, TRIAL_CSV_COLUMNS,
};
