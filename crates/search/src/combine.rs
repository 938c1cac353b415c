//! Combining searched distributions into one (PAPER.md "Combination"): within a study, the
//! rank-weighted geometric mean of each group's rate with weights `1.8^-rank` by the
//! objective; across studies, the plain geometric mean.
//!
//! The ranking convention, found by reproducing the authors' combined vector from their four
//! logs (sst2mrpc, mrpcsst2, qqpmrpc, mrpcqqp; test `authors_vector_is_reproduced`):
//! - every trial in the log counts, diverged ones included;
//! - ranks are ordinal, by `p_o + p_s` descending: each trial gets its own rank even when
//!   scores tie, ties broken by trial order (earlier trial ranks higher). The authors sorted
//!   with numpy's `argsort` then reversed it; "shared rank for ties" conventions
//!   (min or dense rank) miss their vector by 1.1-1.4 % on some groups, ordinal ranks by 0.15 %;
//! - whether the best trial has rank 0 or 1 does not matter: the weights are normalised, so
//!   a common factor cancels. We use rank 0.
//!
//! Within our own studies the complete trials count (a pruned trial's scores come from fewer
//! stage-2 epochs; a failed trial has none).

use std::path::Path;

use anyhow::{ensure, Context, Result};
use serde::{Deserialize, Serialize};

use crate::store::{is_postgres_url, open_study, TrialState};

/// The paper's weight base: trial of rank `k` weighs `1.8^-k`.
pub const PAPER_BASE: f64 = lrdist_analysis::combine::RANK_BASE;

/// Weighted geometric mean of each group's rate over `trials` (`(objective, rates)`), with
/// weight `1.8^-rank`, rank 0 for the highest objective, ordinal ranks with ties broken by
/// input order (see the module doc), weights normalised to sum to 1. The formula lives in
/// one place, `lrdist_analysis::combine::rank_weighted` (analysis needs it without
/// libtorch); this adapts owned rate vectors to it.
pub fn rank_weighted_geomean(trials: &[(f64, Vec<f64>)]) -> Vec<f64> {
    let scored: Vec<(f64, &[f64])> = trials.iter().map(|(o, r)| (*o, r.as_slice())).collect();
    lrdist_analysis::combine::rank_weighted(&scored)
}

/// Plain geometric mean of each group's rate across distributions.
///
/// Panics if the distributions differ in length; returns an empty vector for none.
pub fn geomean_across(dists: &[Vec<f64>]) -> Vec<f64> {
    let Some(groups) = dists.first().map(Vec::len) else {
        return Vec::new();
    };
    assert!(
        dists.iter().all(|d| d.len() == groups),
        "all distributions need {groups} rates"
    );
    (0..groups)
        .map(|g| (dists.iter().map(|d| d[g].ln()).sum::<f64>() / dists.len() as f64).exp())
        .collect()
}

/// The authors' log format has one parser, in the analysis crate (see its docs).
pub use lrdist_analysis::authors_logs::AuthorsTrial;

/// Reads an authors' `log_file.csv` (13 floats per trial; an incomplete last record is
/// dropped) with `lrdist_analysis::authors_logs::read_log`.
pub fn read_authors_log(path: impl AsRef<Path>) -> Result<Vec<AuthorsTrial>> {
    lrdist_analysis::authors_logs::read_log(path.as_ref())
}

/// A combined distribution and how it was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Combined {
    /// One rate per group.
    pub rates: Vec<f64>,
    /// Each input and its within-study distribution.
    pub per_input: Vec<(String, Vec<f64>)>,
    /// The combination rule, in words.
    pub method: String,
}

/// Combines `inputs`: each is an authors' `log_file.csv` (path ending in `.csv`) or a study
/// given as `STORE[#STUDY]`, STORE being an SQLite file or a `postgres://` URL; the study name
/// may be left out when the store holds exactly one study.
pub fn combine_inputs(inputs: &[String]) -> Result<Combined> {
    ensure!(
        !inputs.is_empty(),
        "nothing to combine: give at least one study or log"
    );
    let mut per_input = Vec::new();
    for input in inputs {
        let trials = input_trials(input).with_context(|| format!("combining input {input}"))?;
        ensure!(!trials.is_empty(), "input {input} has no usable trial");
        per_input.push((input.clone(), rank_weighted_geomean(&trials)));
    }
    let groups = per_input[0].1.len();
    for (input, d) in &per_input {
        ensure!(
            d.len() == groups,
            "input {input} has {} groups, {} has {groups}",
            d.len(),
            per_input[0].0
        );
    }
    let dists: Vec<Vec<f64>> = per_input.iter().map(|p| p.1.clone()).collect();
    Ok(Combined {
        rates: geomean_across(&dists),
        method: format!(
            "within each input: geometric mean of each group's rate weighted by {PAPER_BASE}^-rank \
             (ordinal rank by p_o + p_s, 0 = best, ties by trial order); across the {} inputs: \
             plain geometric mean",
            per_input.len()
        ),
        per_input,
    })
}

/// `(objective, rates)` of the trials of one input.
fn input_trials(input: &str) -> Result<Vec<(f64, Vec<f64>)>> {
    if !is_postgres_url(input) && input.ends_with(".csv") {
        let log = read_authors_log(input)?;
        return Ok(log.into_iter().map(|t| (t.a2 + t.a3, t.rates)).collect());
    }
    let (store, study) = open_study(input)?;
    crate::study::load_study(store.as_ref(), &study)?;
    Ok(store
        .trials(&study)?
        .into_iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| Some((t.objective?, t.rates?)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_the_rank() {
        // Objectives 1.0 > 0.5 > 0.2 get weights 1, 1/1.8, 1/1.8^2 (normalised).
        let trials = vec![
            (0.5, vec![1e-4, 1e-6]),
            (1.0, vec![1e-6, 1e-6]),
            (0.2, vec![1e-2, 1e-6]),
        ];
        let w = [1.0, 1.0 / 1.8, 1.0 / (1.8 * 1.8)];
        let total: f64 = w.iter().sum();
        let log10 = (w[0] * -6.0 + w[1] * -4.0 + w[2] * -2.0) / total;
        let got = rank_weighted_geomean(&trials);
        assert!((got[0].log10() - log10).abs() < 1e-12, "{got:?}");
        assert!((got[1] / 1e-6 - 1.0).abs() < 1e-12);
        // Ties: the earlier trial ranks first.
        let tied = vec![(1.0, vec![1e-6]), (1.0, vec![1e-4])];
        let expect = 10f64.powf((-6.0 - 4.0 / 1.8) / (1.0 + 1.0 / 1.8));
        assert!((rank_weighted_geomean(&tied)[0] / expect - 1.0).abs() < 1e-12);
        assert!(rank_weighted_geomean(&[]).is_empty());
    }

    #[test]
    fn geomean_across_is_plain() {
        let got = geomean_across(&[vec![1e-6, 4.0], vec![1e-4, 1.0]]);
        assert!((got[0] / 1e-5 - 1.0).abs() < 1e-12 && (got[1] - 2.0).abs() < 1e-12);
    }
}
