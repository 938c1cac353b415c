//! Layer-wise learning rates for lrdist (docs/METHOD.md, "Learning-rate groups", "Search",
//! "Combination").
//!
//! - [`grouping`]: which depths share a rate (per-layer, the paper's 10 groups, even:K).
//! - [`distribution`]: one rate per group as data (YAML/JSON), depth transfer.
//! - [`presets`]: the named distributions (flat, LLRD, the paper's vectors).
//! - [`resolve`]: a distribution spec (preset, `flat-matched:`, file) applied to one model.
//! - [`schedule`]: cosine schedule with linear warm-up, restarted per stage.
//! - [`adamw`]: AdamW with one rate per depth over the encoder and the active head.
//! - [`param_groups`]: the same rates as `torch.optim.AdamW` parameter groups of a
//!   Hugging Face `BertForSequenceClassification` (`lrdist export-param-groups`).

pub mod adamw;
pub mod distribution;
pub mod error;
pub mod grouping;
pub mod param_groups;
pub mod presets;
pub mod resolve;
pub mod schedule;

pub use adamw::{clip_global_norm, AdamWConfig, LayerwiseAdamW};
pub use distribution::{Distribution, ResolvedDistribution};
pub use error::DistributionError;
pub use grouping::{group_table, GroupRow, Grouping, GroupingSpec};
pub use param_groups::{export_param_groups, TorchParamGroup};
pub use presets::{flat, llrd, paper_combined, paper_rounded, Preset};
pub use resolve::DistributionSpec;
pub use schedule::Schedule;
