//! Searching learning-rate distributions (PAPER.md "Search" and "Combination").
//!
//! One learning rate per parameter group, log-uniform in `[1e-7, 1e-3]` ([`SearchSpace`]);
//! proposals by Gaussian-process Bayesian optimisation with expected improvement, TPE or
//! random search ([`sampler`]); trials run under asynchronous successive halving over
//! stage-2 epochs ([`AshaConfig`], [`asha_decision`]), maximising `p_o + p_s` or keeping the
//! Pareto front over `(p_s, p_o)` ([`ObjectiveKind`]). A study lives in a trial store
//! ([`store`]: SQLite file or PostgreSQL) shared by any number of workers ([`run_worker`]).
//! [`combine`] turns studies (ours or the authors' logs) into one distribution.
//!
//! The crate is generic over the trial runner: anything implementing [`Objective`].

pub mod combine;
pub mod objective;
pub mod pareto;
pub mod protocol;
pub mod report;
pub mod sampler;
pub mod space;
pub mod store;
pub mod study;
pub mod worker;

pub use objective::{Decision, Objective, ObjectiveKind, RungReport, SamplerKind, TrialOutcome};
pub use pareto::{hypervolume_2d, pareto_front};
pub use report::{export_csv, live_line, status_table, summarize, StudySummary};
pub use space::{asha_decision, AshaConfig, SearchSpace};
pub use store::{open_store, open_study, RungRow, Store, TrialRow, TrialState};
pub use study::{create_study, load_study, StudyConfig};
pub use worker::{run_worker, SearchEvent, WorkerOptions, WorkerSummary};
