//! The paper's combination of searched distributions (PAPER.md "Combination"): within one
//! pair, rank the trials by p_o + p_s and take the weighted geometric mean of each group's
//! rate with weights 1.8^(-rank), normalised.
//!
//! This is the one implementation of the rank weighting: `lrdist-search` (which combines
//! our studies into `results/combined/`) calls it, and the analysis uses it to redo the
//! authors' combination from their logs without linking libtorch.

/// The weight base of the rank weighting.
pub const RANK_BASE: f64 = 1.8;

/// Rank-weighted geometric mean of `(objective, rates)` pairs: the best objective gets
/// rank 0 and weight 1, the next 1.8^-1, and so on (a stable sort keeps file order on ties).
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
}
