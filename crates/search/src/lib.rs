//! Searching learning-rate distributions (docs/METHOD.md "Search" and "Combination").
//!
//! One learning rate per parameter group, log-uniform in `[1e-7, 1e-3]` ([`SearchSpace`]);
//! proposals by Gaussian-process Bayesian optimisation with expected improvement, TPE or
//! random search ([`sampler`]); trials run under asynchronous successive halving over
//! stage-2 epochs ([`AshaConfig`], [`asha_decision`]), maximising `p_o + p_s` or keeping the
//! Pareto front over `(p_s, p_o)` ([`ObjectiveKind`]). A study lives in a trial store
//! ([`store`]: SQLite file or PostgreSQL) shared by any number of workers ([`run_worker`]).
//! [`plan`] turns `lrdist search`'s options into a study and the base run of its trials;
//! [`run`] runs trials on lrdist-train (`lrdist search`); [`sources`] reads studies (ours or
//! the authors' logs) and combines them into one distribution with `lrdist-combine`.
//!
//! The crate is generic over the trial runner: anything implementing [`Objective`].

pub mod objective;
mod panics;
pub mod pareto;
pub mod plan;
pub mod report;
pub mod run;
pub mod sampler;
pub mod sources;
pub mod space;
pub mod store;
pub mod study;
pub mod worker;

/// What successive halving tells a running trial after a report: lrdist-train's decision
/// after an epoch, one type from the training loop to the worker.
pub use lrdist_train::Decision;
pub use objective::{Objective, ObjectiveKind, RungReport, SamplerKind, TrialOutcome};
pub use pareto::{hypervolume_2d, pareto_front};
pub use plan::SearchOptions;
pub use report::{export_csv, live_line, status_table, summarize, SearchEvent, StudySummary};
pub use run::{run_search, SearchPlan};
pub use sources::{combine_inputs, combined_distribution};
pub use space::{asha_decision, AshaConfig, SearchSpace};
pub use store::{open_store, open_study, RungRow, Store, TrialRow, TrialState};
pub use study::{create_study, load_study, StudyConfig};
pub use worker::{run_worker, WorkerOptions, WorkerSummary, STALE_AFTER_SECS};
