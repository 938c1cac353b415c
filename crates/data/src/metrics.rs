//! Task metrics: GLUE's official ones (accuracy, F1 for MRPC and QQP, Matthews correlation
//! for CoLA, Pearson and Spearman correlation for STS-B), and for a task of your own
//! accuracy and macro-F1 (classification) or Pearson and Spearman (regression).
//!
//! Classification predictions are class indices as `f32`; a prediction that is not a
//! valid class index (NaN, out of range) counts as wrong. Correlations use `statrs`
//! (sample covariance and standard deviations, average ranks for ties); they are NaN
//! when either side is constant or holds a non-finite value, as in SciPy.
//! Accuracy, F1 and Matthews are computed from the confusion counts here, since no
//! small maintained crate offers them.

use std::collections::BTreeMap;

use statrs::statistics::{Data, OrderStatistics, RankTieBreaker, Statistics};

use crate::task::{GlueTask, Task, TaskSpec};

/// Every metric of `task` (keys from [`Task::metric_names`]).
///
/// Panics if `predictions` and `labels` differ in length or a classification label
/// is not a class index of `task` (caller bugs: labels come from [`crate::load_task`]).
pub fn compute(task: &Task, predictions: &[f32], labels: &[f32]) -> BTreeMap<String, f64> {
    assert_eq!(
        predictions.len(),
        labels.len(),
        "{task}: {} predictions for {} labels",
        predictions.len(),
        labels.len()
    );
    if task.is_regression() {
        let (x, y) = (to_f64(predictions), to_f64(labels));
        let mut scores = BTreeMap::new();
        scores.insert("pearson".into(), pearson(&x, &y));
        scores.insert("spearman".into(), spearman(&x, &y));
        return scores;
    }
    let confusion = Confusion::new(task.num_labels(), predictions, labels);
    let mut scores = BTreeMap::new();
    scores.insert("accuracy".into(), confusion.accuracy());
    match task.spec() {
        TaskSpec::Glue(GlueTask::Cola) => {
            scores.insert("matthews".into(), confusion.matthews());
        }
        TaskSpec::Glue(GlueTask::Mrpc | GlueTask::Qqp) => {
            scores.insert("f1".into(), confusion.f1(1));
        }
        TaskSpec::Glue(_) => {}
        TaskSpec::File(_) => {
            scores.insert("macro_f1".into(), confusion.macro_f1());
        }
    }
    scores
}

fn to_f64(values: &[f32]) -> Vec<f64> {
    values.iter().map(|&v| f64::from(v)).collect()
}

/// Pearson's correlation coefficient.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    if x.len() < 2 || x.iter().chain(y).any(|v| !v.is_finite()) {
        return f64::NAN;
    }
    x.covariance(y) / (x.std_dev() * y.std_dev())
}

/// Spearman's rank correlation: Pearson on ranks, tied values sharing their mean rank.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    if x.iter().chain(y).any(|v| !v.is_finite()) {
        return f64::NAN;
    }
    let ranks = |v: &[f64]| Data::new(v.to_vec()).ranks(RankTieBreaker::Average);
    pearson(&ranks(x), &ranks(y))
}

/// Confusion counts over `k` classes plus one bucket for invalid predictions.
struct Confusion {
    k: usize,
    /// `counts[truth][predicted]`, predicted in `0..=k` (k = invalid).
    counts: Vec<Vec<u64>>,
}

impl Confusion {
    fn new(k: usize, predictions: &[f32], labels: &[f32]) -> Self {
        let class =
            |v: f32| (v >= 0.0 && v.fract() == 0.0 && (v as usize) < k).then_some(v as usize);
        let mut counts = vec![vec![0; k + 1]; k];
        for (&p, &t) in predictions.iter().zip(labels) {
            let truth = class(t).unwrap_or_else(|| panic!("label {t} is not a class of 0..{k}"));
            counts[truth][class(p).unwrap_or(k)] += 1;
        }
        Confusion { k, counts }
    }

    fn total(&self) -> f64 {
        self.counts.iter().flatten().sum::<u64>() as f64
    }

    fn correct(&self) -> f64 {
        (0..self.k).map(|c| self.counts[c][c]).sum::<u64>() as f64
    }

    fn accuracy(&self) -> f64 {
        self.correct() / self.total()
    }

    /// F1 of class `positive` (scikit-learn's binary F1; 0 when it is never
    /// predicted nor present).
    fn f1(&self, positive: usize) -> f64 {
        let tp = self.counts[positive][positive] as f64;
        let predicted: u64 = self.counts.iter().map(|row| row[positive]).sum();
        let actual: u64 = self.counts[positive].iter().sum();
        let denominator = (predicted + actual) as f64;
        if denominator == 0.0 {
            0.0
        } else {
            2.0 * tp / denominator
        }
    }

    /// Macro-averaged F1: the mean F1 over the classes that are in the labels or the
    /// predictions, as scikit-learn's `f1_score(average="macro")`.
    fn macro_f1(&self) -> f64 {
        let seen: Vec<f64> = (0..self.k)
            .filter(|&c| {
                self.counts[c].iter().sum::<u64>() + self.counts.iter().map(|r| r[c]).sum::<u64>()
                    > 0
            })
            .map(|c| self.f1(c))
            .collect();
        seen.iter().sum::<f64>() / seen.len() as f64
    }

    /// Matthews correlation coefficient, multi-class form (Gorodkin 2004, as in
    /// scikit-learn); 0 when a marginal is constant.
    fn matthews(&self) -> f64 {
        let s = self.total();
        let c = self.correct();
        let actual: Vec<f64> = self
            .counts
            .iter()
            .map(|row| row.iter().sum::<u64>() as f64)
            .collect();
        let predicted: Vec<f64> = (0..=self.k)
            .map(|col| self.counts.iter().map(|row| row[col]).sum::<u64>() as f64)
            .collect();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        let cov_tp = c * s - dot(&actual, &predicted[..self.k]);
        let cov_pp = s * s - dot(&predicted, &predicted);
        let cov_tt = s * s - dot(&actual, &actual);
        let denominator = (cov_pp * cov_tt).sqrt();
        if denominator == 0.0 {
            0.0
        } else {
            cov_tp / denominator
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn matthews_matches_hand_computed() {
        // tp=3 tn=4 fp=1 fn=2: (3*4-1*2)/sqrt(4*5*5*6) = 10/sqrt(600)
        let labels = [1., 1., 1., 1., 1., 0., 0., 0., 0., 0.];
        let preds = [1., 1., 1., 0., 0., 0., 0., 0., 0., 1.];
        let m = compute(&GlueTask::Cola.into(), &preds, &labels);
        assert!(close(m["matthews"], 10.0 / 600f64.sqrt()), "{m:?}");
        assert!(close(m["accuracy"], 0.7));
        // Constant predictions: MCC defined as 0, as in scikit-learn.
        assert_eq!(
            compute(&GlueTask::Cola.into(), &[1.0; 10], &labels)["matthews"],
            0.0
        );
        // Perfectly inverted predictions: -1.
        let inverted: Vec<f32> = labels.iter().map(|l| 1.0 - l).collect();
        assert!(close(
            compute(&GlueTask::Cola.into(), &inverted, &labels)["matthews"],
            -1.0
        ));
    }

    #[test]
    fn f1_matches_hand_computed() {
        // tp=2 fp=1 fn=1: precision 2/3, recall 2/3, F1 2/3; accuracy 4/6.
        let labels = [1., 1., 1., 0., 0., 0.];
        let preds = [1., 1., 0., 1., 0., 0.];
        let m = compute(&GlueTask::Mrpc.into(), &preds, &labels);
        assert!(
            close(m["f1"], 2.0 / 3.0) && close(m["accuracy"], 4.0 / 6.0),
            "{m:?}"
        );
        // tp=1 fp=3 fn=0: F1 = 2/(2+3) = 0.4
        let m = compute(&GlueTask::Qqp.into(), &[1., 1., 1., 1.], &[1., 0., 0., 0.]);
        assert!(close(m["f1"], 0.4), "{m:?}");
        assert_eq!(
            compute(&GlueTask::Qqp.into(), &[0., 0.], &[0., 0.])["f1"],
            0.0
        );
    }

    fn file_task(kind: crate::TaskKind, labels: crate::LabelSet) -> Task {
        let spec = crate::FileTask {
            name: "mine".into(),
            train: "t.csv".into(),
            dev: "d.csv".into(),
            text: "text".into(),
            text_pair: None,
            label: "label".into(),
            kind,
        };
        Task::file(spec, labels)
    }

    #[test]
    fn file_tasks_get_accuracy_and_macro_f1_or_correlations() {
        let classes = crate::LabelSet::Classes(["a", "b", "c", "d"].map(String::from).to_vec());
        let task = file_task(crate::TaskKind::Classification, classes);
        // sklearn f1_score([0,0,1,1,2,2], [0,1,1,1,2,0], average="macro"):
        // class 0: tp 1, 2 predicted, 2 true -> 0.5; class 1: tp 2, 3 pred, 2 true -> 0.8;
        // class 2: tp 1, 1 pred, 2 true -> 2/3; class 3 never seen: left out.
        let m = compute(&task, &[0., 1., 1., 1., 2., 0.], &[0., 0., 1., 1., 2., 2.]);
        assert_eq!(m.keys().collect::<Vec<_>>(), ["accuracy", "macro_f1"]);
        assert!(close(m["macro_f1"], (0.5 + 0.8 + 2.0 / 3.0) / 3.0), "{m:?}");
        assert!(close(m["accuracy"], 4.0 / 6.0));
        let task = file_task(crate::TaskKind::Regression, crate::LabelSet::Regression);
        let m = compute(&task, &[1., 2., 3., 4., 5.], &[2., 4., 5., 4., 5.]);
        assert!(
            close(m["pearson"], 0.7745966692414834) && close(m["spearman"], 0.7378647873726218)
        );
    }

    #[test]
    fn invalid_predictions_count_as_wrong() {
        let m = compute(
            &GlueTask::Mnli.into(),
            &[0., f32::NAN, 7., 2.],
            &[0., 1., 2., 2.],
        );
        assert!(close(m["accuracy"], 0.5));
        assert_eq!(m.keys().collect::<Vec<_>>(), vec!["accuracy"]);
    }

    #[test]
    fn pearson_and_spearman_match_scipy() {
        // scipy.stats.pearsonr([1,2,3,4,5],[2,4,5,4,5]) = 0.7745966692414834
        let x = [1., 2., 3., 4., 5.];
        let y = [2., 4., 5., 4., 5.];
        assert!(close(pearson(&x, &y), 0.7745966692414834));
        // ranks of y with ties averaged: [1, 2.5, 4.5, 2.5, 4.5];
        // spearmanr = pearson([1..5], those) = 0.7378647873726218
        assert!(close(spearman(&x, &y), 0.7378647873726218));
        let m = compute(
            &GlueTask::Stsb.into(),
            &[1., 2., 3., 4., 5.],
            &[2., 4., 5., 4., 5.],
        );
        assert!(
            close(m["pearson"], 0.7745966692414834) && close(m["spearman"], 0.7378647873726218)
        );
        assert!(close(spearman(&[1., 2., 3.], &[30., 20., 10.]), -1.0));
    }

    #[test]
    fn degenerate_correlations_are_nan() {
        assert!(pearson(&[1., 1., 1.], &[1., 2., 3.]).is_nan());
        assert!(spearman(&[1., f64::NAN, 3.], &[1., 2., 3.]).is_nan());
        assert!(pearson(&[1.], &[2.]).is_nan());
    }
}
