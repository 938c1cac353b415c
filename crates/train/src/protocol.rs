//! The forgetting protocol (docs/METHOD.md "Forgetting protocol") for N stages.
//!
//! Stage i trains the shared encoder and its own head on its train rows; after every
//! epoch the dev sets of all stages trained so far are scored with their own heads. The
//! scores after the last epoch of stage i form row i of the accuracy matrix `R[i][j]`.
//! For two stages: a1 = R[0][0], p_s = R[1][1], p_o = R[1][0], forgetting = a1 - p_o, and
//! the search objective is p_o + p_s.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::{Deserialize, Serialize};

pub use lrdist_record::{cl_metrics, ClMetrics};

use crate::inputs::RowSet;
use crate::learner::{Decision, Learner, StageSettings, StageStats};
use crate::penalty::Penalty;

/// One stage of a plan: what is trained, what is scored, and with which head.
#[derive(Clone, Debug)]
pub struct StagePlan {
    pub train: RowSet,
    pub dev: RowSet,
    /// Index of the learner head this stage trains and is scored with.
    pub head: usize,
}

/// Scores reported after an epoch: stage `stage` (0-based), epoch `epoch` (1-based), and
/// the primary dev score of every stage trained so far (`scores[j]` for stage j ≤ stage).
#[derive(Clone, Debug)]
pub struct EpochEvent<'a> {
    pub stage: usize,
    pub epoch: usize,
    pub last_epoch: bool,
    pub scores: &'a [f64],
    /// `R[0][0]` once stage 0 is finished.
    pub a1: Option<f64>,
}

/// The result of running a plan.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Outcome {
    pub stages: Vec<StageStats>,
    /// `matrix[i][j]`: primary dev score of stage j after stage i (`None` for j > i).
    pub matrix: Vec<Vec<Option<f64>>>,
    /// Every official metric, same layout as `matrix`.
    pub metrics: Vec<Vec<Option<BTreeMap<String, f64>>>>,
    /// True when a caller stopped the run early (successive halving).
    pub stopped_early: bool,
}

impl Outcome {
    fn last_row(&self) -> &[Option<f64>] {
        self.matrix.last().map(|r| r.as_slice()).unwrap_or(&[])
    }

    /// Score of the first task right after training on it.
    pub fn a1(&self) -> Option<f64> {
        self.matrix.first().and_then(|r| r[0])
    }

    /// Score of the last task trained (p_s for a pair).
    pub fn p_s(&self) -> Option<f64> {
        let n = self.matrix.len();
        (n >= 2).then(|| self.last_row()[n - 1]).flatten()
    }

    /// Score of the first task after the last stage (p_o for a pair).
    pub fn p_o(&self) -> Option<f64> {
        (self.matrix.len() >= 2)
            .then(|| self.last_row()[0])
            .flatten()
    }

    pub fn cl_metrics(&self) -> Option<ClMetrics> {
        cl_metrics(&self.matrix)
    }

    /// Scores every stage's dev set again with the learner as it is now and puts them in
    /// the last row (after WiSE-FT changed the weights the last row was measured with).
    pub fn rescore_last_row(&mut self, learner: &Learner, plan: &[StagePlan], eval_batch: usize) {
        let i = self.matrix.len() - 1;
        let scores: Vec<_> = plan
            .iter()
            .map(|s| learner.evaluate(s.head, &s.dev, eval_batch))
            .collect();
        record_row(self, i, &scores);
    }
}

/// How a plan is run: one learning rate per depth for each stage, shared hyperparameters,
/// and a penalty ([`run_plan`] calls its `before_stage` before each stage it trains and its
/// `after_stage` after each stage but the last).
pub struct RunSettings<'a> {
    /// `rates[i]`: per-depth rates of stage i.
    pub rates: Vec<Vec<f64>>,
    /// The hyperparameters every stage shares (each stage reseeds them).
    pub stage: StageSettings,
    pub penalty: Option<&'a mut Penalty>,
    /// `train_from_depth[i]`: depths below it are frozen in stage i (0: all train).
    pub train_from_depth: Vec<usize>,
}

/// Runs every stage of `plan` on `learner`.
///
/// `on_epoch` sees every epoch's scores and may stop the run (successive halving);
/// `skip_first` = Some(stats) means stage 0 was restored from the stage-1 cache, so it is
/// scored but not trained.
pub fn run_plan(
    learner: &mut Learner,
    plan: &[StagePlan],
    settings: RunSettings<'_>,
    skip_first: Option<StageStats>,
    on_epoch: &mut dyn FnMut(&EpochEvent) -> Decision,
) -> Result<Outcome> {
    let RunSettings {
        rates,
        stage: settings,
        mut penalty,
        train_from_depth,
    } = settings;
    let n = plan.len();
    let mut out = Outcome {
        stages: Vec::new(),
        matrix: vec![vec![None; n]; n],
        metrics: vec![vec![None; n]; n],
        stopped_early: false,
    };
    let eval_bs = settings.eval_batch_size;
    for (i, stage) in plan.iter().enumerate() {
        let mut stage_settings = settings.clone();
        stage_settings.seed = settings.seed.wrapping_add(1000 * i as u64);
        stage_settings.train_from_depth = train_from_depth.get(i).copied().unwrap_or(0);
        // Each stage draws its dropout masks from its own seed, so a stage's numbers do not
        // depend on how the previous one was obtained (trained now, or the stage-1 cache).
        tch::manual_seed(stage_settings.seed as i64);
        let a1 = out.matrix[0][0];
        let mut stop_all = false;
        let mut score_row = |learner: &Learner, epoch: usize, last: bool| {
            let scores: Vec<_> = plan[..=i]
                .iter()
                .map(|s| learner.evaluate(s.head, &s.dev, eval_bs))
                .collect();
            let primary: Vec<f64> = scores.iter().map(|s| s.primary).collect();
            let decision = on_epoch(&EpochEvent {
                stage: i,
                epoch,
                last_epoch: last,
                scores: &primary,
                a1,
            });
            (scores, decision)
        };
        let stats = match (i, &skip_first) {
            (0, Some(cached)) => {
                let (scores, decision) = score_row(learner, cached.epochs.len(), true);
                record_row(&mut out, i, &scores);
                stop_all = decision == Decision::Stop;
                cached.clone()
            }
            _ => {
                if let Some(p) = penalty.as_deref_mut() {
                    p.before_stage(learner);
                }
                let active_penalty = penalty.as_deref().filter(|p| p.is_active());
                let epochs = stage_settings.epochs;
                let mut last_scores = Vec::new();
                let stats = learner.train_stage(
                    stage.head,
                    &stage.train,
                    &rates[i],
                    &stage_settings,
                    active_penalty,
                    &mut |l, epoch_stats| {
                        let last = epoch_stats.epoch == epochs;
                        let (scores, decision) = score_row(l, epoch_stats.epoch, last);
                        for (s, sc) in plan[..=i].iter().zip(&scores) {
                            epoch_stats.scores.insert(s.dev.name.clone(), sc.primary);
                        }
                        last_scores = scores;
                        if decision == Decision::Stop {
                            stop_all = true;
                        }
                        Ok(decision)
                    },
                )?;
                record_row(&mut out, i, &last_scores);
                stats
            }
        };
        out.stages.push(stats);
        if stop_all {
            out.stopped_early = true;
            break;
        }
        if i + 1 < n {
            if let Some(p) = penalty.as_deref_mut() {
                p.after_stage(
                    learner,
                    stage.head,
                    &stage.train,
                    settings.seed.wrapping_add(i as u64),
                );
            }
        }
    }
    Ok(out)
}

fn record_row(out: &mut Outcome, i: usize, scores: &[crate::learner::Scores]) {
    for (j, s) in scores.iter().enumerate() {
        out.matrix[i][j] = Some(s.primary);
        out.metrics[i][j] = Some(s.metrics.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_quantities_come_from_the_matrix() {
        let out = Outcome {
            stages: vec![],
            matrix: vec![vec![Some(0.92), None], vec![Some(0.81), Some(0.86)]],
            metrics: vec![vec![None, None], vec![None, None]],
            stopped_early: false,
        };
        assert_eq!(out.a1(), Some(0.92));
        assert_eq!(out.p_s(), Some(0.86));
        assert_eq!(out.p_o(), Some(0.81));
    }
}
