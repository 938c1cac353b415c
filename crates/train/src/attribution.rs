//! Where forgetting lives, and the two baselines that reuse the post-A weights.
//!
//! docs/METHOD.md, "Where forgetting lives": after stage B, for each depth d (embeddings,
//! each encoder layer, heads), task A's dev score is measured with d's post-A weights put
//! back and every other depth left post-B. The gain over p_o is the part of the
//! forgetting that depth d holds. The same snapshot of the post-A weights serves WiSE-FT
//! ([`interpolate`]), which blends the encoder's post-A and post-B weights.

use anyhow::{bail, Result};
use lrdist_model::depth_of;
use tch::Tensor;

pub use lrdist_record::Attribution;

use crate::inputs::RowSet;
use crate::learner::Learner;

/// Deep copies of the encoder's weights and of one head's, each with its depth.
pub struct Snapshot {
    /// `(name, depth, copy)`; head tensors are named `head/<name>`.
    tensors: Vec<(String, usize, Tensor)>,
    head: usize,
}

impl Snapshot {
    /// Copies the encoder and head `head` of `learner` as they are now.
    pub fn take(learner: &Learner, head: usize) -> Self {
        let top = learner.num_layers() + 1;
        let mut tensors = Vec::new();
        tch::no_grad(|| {
            for (name, t) in learner.encoder().named_parameters() {
                let depth = depth_of(&name, learner.num_layers()).unwrap_or(top);
                tensors.push((name, depth, t.detach().copy()));
            }
            let mut head_vars: Vec<_> = learner.head(head).vs.variables().into_iter().collect();
            head_vars.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, t) in head_vars {
                tensors.push((format!("head/{name}"), top, t.detach().copy()));
            }
        });
        Self { tensors, head }
    }

    /// The live tensors of `learner` in this snapshot's order (shallow: same storage).
    fn live(&self, learner: &Learner) -> Vec<Tensor> {
        let encoder = learner.encoder().vs.variables();
        let head = learner.head(self.head).vs.variables();
        self.tensors
            .iter()
            .map(|(name, _, _)| match name.strip_prefix("head/") {
                Some(h) => head[h].shallow_clone(),
                None => encoder[name.as_str()].shallow_clone(),
            })
            .collect()
    }
}

/// The depth names of an encoder of `num_layers` layers: `embeddings`, `layer 0`, ...,
/// `heads` (the depth indexing of lrdist_model::params).
pub fn depth_names(num_layers: usize) -> Vec<String> {
    std::iter::once("embeddings".to_string())
        .chain((0..num_layers).map(|i| format!("layer {i}")))
        .chain(std::iter::once("heads".to_string()))
        .collect()
}

/// Where forgetting lives: for each depth, task A's dev score with that depth's post-A
/// weights (`post_a`) put back and everything else as it is now (post-B). The learner is
/// left exactly as it was.
pub fn where_forgetting_lives(
    learner: &Learner,
    post_a: &Snapshot,
    dev_a: &RowSet,
    eval_batch: usize,
) -> Attribution {
    let live = post_a.live(learner);
    let depths = depth_names(learner.num_layers());
    let p_o = learner.evaluate(post_a.head, dev_a, eval_batch).primary;
    let mut scores = Vec::with_capacity(depths.len());
    for d in 0..depths.len() {
        let saved: Vec<(usize, Tensor)> = tch::no_grad(|| {
            post_a
                .tensors
                .iter()
                .enumerate()
                .filter(|(_, (_, depth, _))| *depth == d)
                .map(|(i, (_, _, a))| {
                    let now = live[i].detach().copy();
                    live[i].shallow_clone().copy_(a);
                    (i, now)
                })
                .collect()
        });
        scores.push(learner.evaluate(post_a.head, dev_a, eval_batch).primary);
        tch::no_grad(|| {
            for (i, b) in &saved {
                live[*i].shallow_clone().copy_(b);
            }
        });
    }
    Attribution {
        depths,
        scores,
        p_o,
    }
}

/// WiSE-FT between tasks: sets every encoder weight to `(1 - alpha) * post-A + alpha *
/// post-B` (its value now). The heads are left as they are (docs/METHOD.md, "Baselines").
pub fn interpolate(learner: &Learner, post_a: &Snapshot, alpha: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&alpha) {
        bail!("wise-ft alpha must lie in [0, 1], got {alpha}");
    }
    let live = post_a.live(learner);
    tch::no_grad(|| {
        for ((name, _, a), t) in post_a.tensors.iter().zip(&live) {
            if name.starts_with("head/") {
                continue;
            }
            let mixed = a * (1.0 - alpha) + t * alpha;
            t.shallow_clone().copy_(&mixed);
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_names_cover_every_depth() {
        assert_eq!(
            depth_names(2),
            ["embeddings", "layer 0", "layer 1", "heads"]
        );
    }
}
