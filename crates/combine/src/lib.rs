//! Combining searched learning-rate distributions into one (docs/METHOD.md "Combination"),
//! and reading the paper authors' search logs, one kind of input to a combination.
//!
//! - [`rule`]: within a study, the geometric mean of each group's rate weighted by
//!   `1.8^-rank`; across studies, the plain geometric mean;
//! - [`authors_logs`]: the one parser of the authors' `<run>.log_file.csv`.
//!
//! `lrdist-search` combines studies with it (`lrdist combine`) and `lrdist-analysis` redoes
//! the authors' combination from their logs; neither depends on the other.

pub mod authors_logs;
pub mod rule;

pub use rule::{combine, geomean_across, rank_weighted, Combined, RANK_BASE};
