//! The combination rule (docs/METHOD.md "Combination"): within a study, the geometric mean of
//! each group's rate with weights `1.8^-rank` by the objective, normalised; across studies,
//! the plain geometric mean.
//!
//! The ranking convention, found by reproducing the authors' combined vector from their four
//! logs (sst2mrpc, mrpcsst2, qqpmrpc, mrpcqqp; tests `authors_vector_is_reproduced` in
//! lrdist-search and `rank_weighted_combination_reproduces_the_authors_combined_distribution`
//! here):
//! - every trial in the log counts, diverged ones included;
//! - ranks are ordinal, by `p_o + p_s` descending: each trial gets its own rank even when
//!   scores tie, ties broken by trial order (earlier trial ranks higher). The authors sorted
//!   with numpy's `argsort` then reversed it; "shared rank for ties" conventions
//!   (min or dense rank) miss their vector by 1.1-1.4 % on some groups, ordinal ranks by 0.15 %;
//! - whether the best trial has rank 0 or 1 does not matter: the weights are normalised, so
//!   a common factor cancels. We use rank 0.
//!
//! Which trials of a study count is the caller's choice (`lrdist-search`: the complete ones).

use anyhow::{ensure, Result};
use serde::{Deserialize, Serialize};

/// The paper's weight base: the trial of rank `k` weighs `1.8^-k`.
pub const RANK_BASE: f64 = 1.8;

/// Rank-weighted geometric mean of each group's rate over `scored` trials
/// (`(objective, rates)`): rank 0 and weight 1 for the highest objective, the next
/// `1.8^-1`, and so on, ordinal ranks with ties in input order (a stable sort), weights
/// normalised to sum to 1. Empty for no trials.
pub fn rank_weighted(scored: &[(f64, &[f64])]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..scored.len()).collect();
    order.sort_by(|&a, &b| scored[b].0.total_cmp(&scored[a].0));
    let groups = scored.first().map_or(0, |(_, rates)| rates.len());
    let weights: Vec<f64> = (0..order.len())
        .map(|rank| RANK_BASE.powi(-(rank as i32)))
        .collect();
    let total: f64 = weights.iter().sum();
    (0..groups)
        .map(|g| {
            let log_mean: f64 = order
                .iter()
                .zip(&weights)
                .map(|(&i, w)| w * scored[i].1[g].ln())
                .sum::<f64>()
                / total;
            log_mean.exp()
        })
        .collect()
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

/// Combines the within-study distributions `per_input` (`(input, rates)`, each from
/// [`rank_weighted`]) across inputs with [`geomean_across`]. Every input needs the same
/// number of groups.
pub fn combine(per_input: Vec<(String, Vec<f64>)>) -> Result<Combined> {
    ensure!(
        !per_input.is_empty(),
        "nothing to combine: give at least one study or log"
    );
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
            "within each input: geometric mean of each group's rate weighted by {RANK_BASE}^-rank \
             (ordinal rank by p_o + p_s, 0 = best, ties by trial order); across the {} inputs: \
             plain geometric mean",
            per_input.len()
        ),
        per_input,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_rank() {
        // Ranks: b (objective 2) 0, a (1) 1. Weights 1 and 1/1.8, normalised 0.642857 and
        // 0.357143; log-mean of group 0 = 0.642857 ln 1e-4 + 0.357143 ln 1e-6 → 1.930698e-5.
        let a = [1e-6, 1.0];
        let b = [1e-4, 1.0];
        let combined = rank_weighted(&[(1.0, &a), (2.0, &b)]);
        assert!(
            (combined[0] / 1.930698e-5 - 1.0).abs() < 1e-6,
            "{combined:?}"
        );
        assert!((combined[1] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn weights_follow_the_rank_and_ties_keep_input_order() {
        // Objectives 1.0 > 0.5 > 0.2 get weights 1, 1/1.8, 1/1.8^2 (normalised).
        let trials: [(f64, &[f64]); 3] = [
            (0.5, &[1e-4, 1e-6]),
            (1.0, &[1e-6, 1e-6]),
            (0.2, &[1e-2, 1e-6]),
        ];
        let w = [1.0, 1.0 / 1.8, 1.0 / (1.8 * 1.8)];
        let total: f64 = w.iter().sum();
        let log10 = (w[0] * -6.0 + w[1] * -4.0 + w[2] * -2.0) / total;
        let got = rank_weighted(&trials);
        assert!((got[0].log10() - log10).abs() < 1e-12, "{got:?}");
        assert!((got[1] / 1e-6 - 1.0).abs() < 1e-12);
        // Ties: the earlier trial ranks first.
        let tied: [(f64, &[f64]); 2] = [(1.0, &[1e-6]), (1.0, &[1e-4])];
        let expect = 10f64.powf((-6.0 - 4.0 / 1.8) / (1.0 + 1.0 / 1.8));
        assert!((rank_weighted(&tied)[0] / expect - 1.0).abs() < 1e-12);
        assert!(rank_weighted(&[]).is_empty());
    }

    #[test]
    fn geomean_across_is_plain() {
        let got = geomean_across(&[vec![1e-6, 4.0], vec![1e-4, 1.0]]);
        assert!((got[0] / 1e-5 - 1.0).abs() < 1e-12 && (got[1] - 2.0).abs() < 1e-12);
    }

    #[test]
    fn combine_takes_the_plain_mean_of_inputs_with_equal_groups() {
        let per_input = vec![
            ("a".to_string(), vec![1e-6, 4.0]),
            ("b".into(), vec![1e-4, 1.0]),
        ];
        let combined = combine(per_input.clone()).unwrap();
        assert_eq!(
            combined.rates,
            geomean_across(&[vec![1e-6, 4.0], vec![1e-4, 1.0]])
        );
        assert_eq!(combined.per_input, per_input);
        assert!(combined.method.contains("1.8^-rank") && combined.method.contains("the 2 inputs"));
        let err = combine(vec![("a".into(), vec![1.0]), ("b".into(), vec![1.0, 2.0])])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "input b has 2 groups, a has 1");
        let err = combine(Vec::new()).unwrap_err().to_string();
        assert!(err.starts_with("nothing to combine"), "{err}");
    }
}
