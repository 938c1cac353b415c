//! What a run measured, as its record keeps it: each training stage's statistics
//! ([`StageStats`], one [`EpochStats`] per epoch), the continual-learning metrics of the
//! accuracy matrix ([`ClMetrics`], [`cl_metrics`]) and where forgetting lives
//! ([`Attribution`], docs/METHOD.md "Where forgetting lives"). The training loop and the
//! attribution pass that fill them are in `lrdist-train`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One finished epoch.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochStats {
    pub epoch: usize,
    pub loss: f64,
    /// Training seconds of this epoch (evaluation excluded).
    pub seconds: f64,
    /// Primary score of each evaluated set after this epoch, by set name.
    pub scores: BTreeMap<String, f64>,
}

/// One finished training stage.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StageStats {
    pub name: String,
    /// The task's name (`sst2`, or a file task's).
    pub task: String,
    pub train_rows: usize,
    pub epochs: Vec<EpochStats>,
    /// Training seconds (evaluation excluded).
    pub seconds: f64,
    pub samples_per_s: f64,
    pub tokens_per_s: f64,
    /// Real tokens / padded tokens of the training batches.
    pub padding_efficiency: f64,
    /// Model FLOPs of the training steps run (`lrdist_train::flops::training_step_flops`
    /// of each batch shape); divided by `seconds` it is the achieved FLOP/s.
    #[serde(default)]
    pub flops: f64,
    pub stopped_early: bool,
}

/// Forgetting, the one meaning of every record and table (docs/METHOD.md, "Metrics"):
/// task A's dev score right after it was trained, `a1`, minus its score after the last
/// stage, `p_o`. Chaudhry et al.'s measure is [`ClMetrics::max_drop_forgetting`].
pub fn forgetting(a1: f64, p_o: f64) -> f64 {
    a1 - p_o
}

/// Below this standard deviation the differences count as all equal: scores are dev-set
/// fractions (steps of 1/400 at the forget scale), so a real spread is above 1e-4, while
/// equal differences computed in floating point leave a spread near 1e-17 that would give
/// a t statistic in the billions and p near 1e-29.
pub const NO_VARIANCE_SD: f64 = 1e-12;

/// Sample standard deviation (ddof 1); `None` for fewer than two values.
pub fn sample_sd(values: &[f64]) -> Option<f64> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let ss: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
    Some((ss / (n - 1) as f64).sqrt())
}

/// The seed rule (docs/METHOD.md, "Seeds"): whether a comparison with flat needs more
/// seeds than the config's first ones. `differences` are a method's per-seed Δp_o to flat
/// (method − flat, paired by seed) over those seeds; more seeds are needed when their
/// sample sd is larger than the magnitude of their mean, the difference being tested
/// (then the paired t statistic is below sqrt(n), 1.73 at three seeds: far from any
/// conclusion). Equal differences ([`NO_VARIANCE_SD`]) need none. `None` below two
/// differences: the rule cannot be applied yet.
pub fn needs_more_seeds(differences: &[f64]) -> Option<bool> {
    let sd = sample_sd(differences)?;
    let mean = differences.iter().sum::<f64>() / differences.len() as f64;
    Some(sd > mean.abs().max(NO_VARIANCE_SD))
}

/// Continual-learning metrics over N tasks (Chaudhry et al. 2018).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClMetrics {
    /// Mean of the last row: `1/N sum_j R[N-1][j]`.
    pub avg_accuracy: f64,
    /// Backward transfer: `1/(N-1) sum_{j<N-1} (R[N-1][j] - R[j][j])`.
    pub backward_transfer: f64,
    /// Max-drop forgetting (Chaudhry's "forgetting"; docs/METHOD.md, "Metrics"):
    /// `1/(N-1) sum_{j<N-1} max_{j <= l < N-1} (R[l][j] - R[N-1][j])`. Not the forgetting
    /// of every table, `a1 - p_o`. Records written before the rename call it `forgetting`.
    #[serde(alias = "forgetting")]
    pub max_drop_forgetting: f64,
}

/// Average accuracy, backward transfer and max-drop forgetting of a complete accuracy matrix.
/// `None` when the matrix has fewer than two complete rows.
pub fn cl_metrics(r: &[Vec<Option<f64>>]) -> Option<ClMetrics> {
    let n = r.len();
    if n < 2 {
        return None;
    }
    let at = |i: usize, j: usize| r[i].get(j).copied().flatten();
    let last: Vec<f64> = (0..n).map(|j| at(n - 1, j)).collect::<Option<_>>()?;
    let diag: Vec<f64> = (0..n).map(|j| at(j, j)).collect::<Option<_>>()?;
    let avg_accuracy = last.iter().sum::<f64>() / n as f64;
    let backward_transfer = (0..n - 1).map(|j| last[j] - diag[j]).sum::<f64>() / (n - 1) as f64;
    let mut max_drop = 0.0;
    for (j, last_j) in last.iter().enumerate().take(n - 1) {
        let best = (j..n - 1)
            .filter_map(|l| at(l, j))
            .fold(f64::NEG_INFINITY, f64::max);
        max_drop += best - last_j;
    }
    Some(ClMetrics {
        avg_accuracy,
        backward_transfer,
        max_drop_forgetting: max_drop / (n - 1) as f64,
    })
}

/// Task A's dev score after stage B with one depth's post-A weights put back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    /// `embeddings`, `layer 0`, ..., `heads`.
    pub depths: Vec<String>,
    /// `scores[d]`: A's primary dev score with depth `d` post-A, the rest post-B.
    pub scores: Vec<f64>,
    /// A's primary dev score with every depth post-B (p_o), measured in the same pass.
    pub p_o: f64,
}

impl Attribution {
    /// p_o recovered by putting back depth `d`: `scores[d] - p_o`.
    pub fn recovered(&self) -> Vec<f64> {
        self.scores.iter().map(|s| s - self.p_o).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_sd_has_ddof_one() {
        assert_eq!(sample_sd(&[1.0]), None);
        let sd = sample_sd(&[1.0, 2.0, 3.0]).unwrap();
        assert!((sd - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_seed_rule_asks_for_more_seeds_when_the_spread_exceeds_the_difference() {
        // mean 0, sd .02: combined vs flat on the length shift of SST-2 looks like this
        assert_eq!(needs_more_seeds(&[0.02, -0.02, 0.0]), Some(true));
        // mean .01, sd .005: freeze there
        assert_eq!(needs_more_seeds(&[0.01, 0.015, 0.005]), Some(false));
        // a clear loss is as settled as a clear gain
        assert_eq!(needs_more_seeds(&[-0.05, -0.04, -0.06]), Some(false));
        // equal differences: sd 0 is not above |mean| 0
        assert_eq!(needs_more_seeds(&[0.0, 0.0, 0.0]), Some(false));
        assert_eq!(needs_more_seeds(&[0.1]), None);
        assert_eq!(needs_more_seeds(&[]), None);
    }

    #[test]
    fn chaudhry_metrics_on_a_hand_matrix() {
        // R = [[.9, -, -], [.7, .8, -], [.6, .75, .85]]
        let r = vec![
            vec![Some(0.9), None, None],
            vec![Some(0.7), Some(0.8), None],
            vec![Some(0.6), Some(0.75), Some(0.85)],
        ];
        let m = cl_metrics(&r).unwrap();
        assert!((m.avg_accuracy - (0.6 + 0.75 + 0.85) / 3.0).abs() < 1e-12);
        // BWT = ((.6-.9) + (.75-.8)) / 2 = -0.175
        assert!((m.backward_transfer + 0.175).abs() < 1e-12);
        // max-drop forgetting: task0 max(.9,.7)-.6 = .3 ; task1 .8-.75 = .05 → .175
        assert!((m.max_drop_forgetting - 0.175).abs() < 1e-12);
        assert!(cl_metrics(&r[..1]).is_none());
    }

    #[test]
    fn max_drop_forgetting_reads_records_written_before_its_rename() {
        let old: ClMetrics = serde_json::from_str(
            r#"{"avg_accuracy": 0.7, "backward_transfer": -0.1, "forgetting": 0.1}"#,
        )
        .unwrap();
        assert_eq!(old.max_drop_forgetting, 0.1);
        let written = serde_json::to_string(&old).unwrap();
        assert!(written.contains("\"max_drop_forgetting\":0.1"), "{written}");
        assert!(!written.contains("\"forgetting\""), "{written}");
    }

    #[test]
    fn recovered_is_the_gain_over_p_o() {
        let a = Attribution {
            depths: vec!["embeddings".into(), "layer 0".into(), "heads".into()],
            scores: vec![0.7, 0.75, 0.7],
            p_o: 0.7,
        };
        let r = a.recovered();
        assert!(r[0].abs() < 1e-12 && (r[1] - 0.05).abs() < 1e-12);
    }
}
