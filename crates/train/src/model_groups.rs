//! `lrdist groups`: how a model's parameters fall into learning-rate groups.

use std::path::Path;

use anyhow::Result;
use lrdist_model::{Bert, BertConfig, Head, InitMode, CONFIG_FILE};
use lrdist_optimizer::{group_table, GroupRow, Grouping, GroupingSpec};
use tch::{nn, Device};

/// The group table of the model in `model_dir` (read from its config; weights are not
/// loaded) with one task head, under `grouping`.
pub fn group_rows(model_dir: &Path, grouping: GroupingSpec) -> Result<Vec<GroupRow>> {
    let cfg = BertConfig::from_file(&model_dir.join(CONFIG_FILE))?;
    let grouping = Grouping::new(grouping, cfg.num_hidden_layers)?;
    // Placeholder init: only names and shapes are needed, not 22M random draws.
    let vs = nn::VarStore::new(Device::Cpu);
    let _bert = Bert::with_options(&vs.root(), &cfg, true, InitMode::Placeholder);
    let _head = Head::with_init(&vs.root().sub("head"), &cfg, 2, InitMode::Placeholder);
    let names: Vec<(String, usize)> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.numel()))
        .collect();
    Ok(group_table(&names, cfg.num_hidden_layers, &grouping)?)
}

/// The number of encoder layers of the model in `model_dir` (from its config) and the
/// number of groups `grouping` splits its depths into.
pub fn layers_and_groups(model_dir: &Path, grouping: GroupingSpec) -> Result<(usize, usize)> {
    let layers = num_layers(model_dir)?;
    Ok((layers, Grouping::new(grouping, layers)?.len()))
}

/// The number of encoder layers of the model in `model_dir` (from its config).
pub fn num_layers(model_dir: &Path) -> Result<usize> {
    Ok(BertConfig::from_file(&model_dir.join(CONFIG_FILE))?.num_hidden_layers)
}

/// A plain-text table of group rows.
pub fn format_group_rows(rows: &[GroupRow]) -> String {
    let mut out = format!(
        "{:>5}  {:>11}  {:>7}  {:>12}\n",
        "group", "depths", "tensors", "parameters"
    );
    for r in rows {
        let depths = if r.depth_lo == r.depth_hi {
            format!("{}", r.depth_lo)
        } else {
            format!("{}-{}", r.depth_lo, r.depth_hi)
        };
        out.push_str(&format!(
            "{:>5}  {:>11}  {:>7}  {:>12}\n",
            r.group, depths, r.tensors, r.params
        ));
    }
    let total: usize = rows.iter().map(|r| r.params).sum();
    out.push_str(&format!(
        "{:>5}  {:>11}  {:>7}  {:>12}\n",
        "all",
        "",
        rows.iter().map(|r| r.tensors).sum::<usize>(),
        total
    ));
    out
}
