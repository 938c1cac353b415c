//! Scenarios (docs/METHOD.md "Scenarios"): task pairs and sequences, the embedding
//! shift and the length shift, each turned into a list of stages.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use lrdist_data::length_split;

use crate::config::{ScaleSpec, ScenarioSpec};
use crate::embeddings::{cls_embeddings, kmeans_two_clusters, pca2};
use crate::inputs::{DataCache, PreparedTask, RowSet};
use crate::learner::Learner;
use crate::protocol::StagePlan;

/// Builds the stages of `scenario` and adds the heads they need to `learner` (which must
/// still hold the pretrained encoder: the embedding shift clusters its embeddings).
/// `embeddings_out`: where the embedding shift writes its 2-D projection CSV.
pub fn build_plan(
    scenario: &ScenarioSpec,
    scale: &ScaleSpec,
    seed: u64,
    data: &mut DataCache,
    learner: &mut Learner,
    embeddings_out: Option<&Path>,
) -> Result<Vec<StagePlan>> {
    let head_seed = |i: usize| (seed as i64).wrapping_mul(7919).wrapping_add(i as i64);
    match scenario {
        ScenarioSpec::Single { .. } | ScenarioSpec::Pair { .. } | ScenarioSpec::Sequence { .. } => {
            let mut plan = Vec::new();
            for (i, task) in scenario.tasks().iter().enumerate() {
                let p = data.task(task, &scale.stage_data_spec(task, i))?;
                let head = learner.add_head(p.task.clone(), head_seed(i));
                plan.push(StagePlan {
                    train: p.train.clone(),
                    dev: p.dev.clone(),
                    head,
                });
            }
            Ok(plan)
        }
        ScenarioSpec::LengthShift { task } => {
            let p = data.task(task, &scale.data_spec(task))?;
            let head = learner.add_head(p.task.clone(), head_seed(0));
            let (train_short, train_long) = length_split(&p.train.rows);
            let (dev_short, dev_long) = length_split(&p.dev.rows);
            Ok(vec![
                StagePlan {
                    train: p.train.select(&train_short, format!("{task}/train short")),
                    dev: p.dev.select(&dev_short, format!("{task}/dev short")),
                    head,
                },
                StagePlan {
                    train: p.train.select(&train_long, format!("{task}/train long")),
                    dev: p.dev.select(&dev_long, format!("{task}/dev long")),
                    head,
                },
            ])
        }
        ScenarioSpec::EmbeddingShift { task } => {
            let p = data.task(task, &scale.data_spec(task))?;
            let split = embedding_split(
                &p,
                learner,
                scale.eval_batch_size,
                data.tokenizer().pad_id(),
                embeddings_out,
            )?;
            let head = learner.add_head(p.task.clone(), head_seed(0));
            // The authors train on cluster 1 first, then cluster 0.
            let stage = |c: usize| StagePlan {
                train: p
                    .train
                    .select(&split.train[c], format!("{task}/train cluster {c}")),
                dev: p
                    .dev
                    .select(&split.dev[c], format!("{task}/dev cluster {c}")),
                head,
            };
            Ok(vec![stage(1), stage(0)])
        }
    }
}

/// Row indices of each k-means cluster, in train and dev.
struct ClusterSplit {
    train: [Vec<usize>; 2],
    dev: [Vec<usize>; 2],
}

/// The embedding shift: k-means (k = 2) fitted on the pretrained [CLS] embeddings of the
/// dev rows and applied to the train rows.
fn embedding_split(
    p: &PreparedTask,
    learner: &Learner,
    batch_size: usize,
    pad_id: i64,
    out: Option<&Path>,
) -> Result<ClusterSplit> {
    let dev_emb = cls_embeddings(learner.encoder(), &p.dev.rows, batch_size, pad_id);
    let train_emb = cls_embeddings(learner.encoder(), &p.train.rows, batch_size, pad_id);
    let (dev_c, train_c) = kmeans_two_clusters(&dev_emb, &train_emb)?;
    let by_cluster = |labels: &[usize]| -> [Vec<usize>; 2] {
        let mut s = [Vec::new(), Vec::new()];
        for (i, &c) in labels.iter().enumerate() {
            s[c].push(i);
        }
        s
    };
    let split = ClusterSplit {
        train: by_cluster(&train_c),
        dev: by_cluster(&dev_c),
    };
    for (name, part) in [("train", &split.train), ("dev", &split.dev)] {
        if part[0].is_empty() || part[1].is_empty() {
            anyhow::bail!(
                "embedding shift on {}: k-means left a {name} cluster empty",
                p.task
            );
        }
    }
    if let Some(path) = out {
        write_projection(path, &p.dev, &dev_emb, &dev_c)?;
    }
    Ok(split)
}

/// Writes `x,y,cluster,label,split` for the dev rows (2-D PCA of their embeddings).
fn write_projection(
    path: &Path,
    dev: &RowSet,
    emb: &tch::Tensor,
    clusters: &[usize],
) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let xy = pca2(emb)?;
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
    );
    writeln!(f, "x,y,cluster,label,split")?;
    for ((x, y), (c, row)) in xy.iter().zip(clusters.iter().zip(&dev.rows)) {
        writeln!(f, "{x:.6},{y:.6},{c},{},dev", row.label)?;
    }
    f.flush()?;
    Ok(())
}
