//! What `lrdist combine` combines (docs/METHOD.md "Combination"): each input is a study in
//! a trial store, given as `STORE[#STUDY]`, or an authors' `log_file.csv`, read as
//! `(objective, rates)` trials and combined by the rule of `lrdist_combine::rule`.
//!
//! Within our own studies the complete trials count (a pruned trial's scores come from fewer
//! stage-2 epochs; a failed trial has none); in an authors' log every trial counts, as in
//! the authors' own combination.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use lrdist_combine::{combine, rank_weighted, Combined};
use lrdist_optimizer::grouping::PAPER_LAYERS;
use lrdist_optimizer::{Distribution, GroupingSpec};

use crate::store::{is_postgres_url, open_study, TrialState};
use crate::study::load_study;

/// Combines `inputs`: each is an authors' `log_file.csv` (path ending in `.csv`) or a study
/// given as `STORE[#STUDY]`, STORE being an SQLite file or a `postgres://` URL; the study name
/// may be left out when the store holds exactly one study.
pub fn combine_inputs(inputs: &[String]) -> Result<Combined> {
    let mut per_input = Vec::new();
    for input in inputs {
        let trials = input_trials(input).with_context(|| format!("combining input {input}"))?;
        ensure!(!trials.is_empty(), "input {input} has no usable trial");
        let scored: Vec<(f64, &[f64])> = trials.iter().map(|(o, r)| (*o, r.as_slice())).collect();
        per_input.push((input.clone(), rank_weighted(&scored)));
    }
    combine(per_input)
}

/// The combined `rates` of `inputs` as a distribution file's content, named `combined`:
/// in `grouping` on a model of `layers` layers, by default the paper's 10 groups of a
/// 12-layer model when every input is an authors' log, else per layer on the model in
/// `model_dir`.
pub fn combined_distribution(
    inputs: &[String],
    rates: &[f64],
    grouping: Option<GroupingSpec>,
    layers: Option<usize>,
    model_dir: &Path,
) -> Result<Distribution> {
    let authors = inputs.iter().all(|i| i.ends_with(".csv"));
    let grouping = grouping.unwrap_or(if authors {
        GroupingSpec::Paper10
    } else {
        GroupingSpec::default()
    });
    let layers = match layers {
        Some(l) => l,
        None if authors => PAPER_LAYERS,
        None => lrdist_train::model_groups::num_layers(model_dir)?,
    };
    Ok(Distribution::new(
        "combined",
        grouping,
        layers,
        rates.to_vec(),
    )?)
}

/// `(objective, rates)` of the trials of one input.
fn input_trials(input: &str) -> Result<Vec<(f64, Vec<f64>)>> {
    if !is_postgres_url(input) && input.ends_with(".csv") {
        let log = lrdist_combine::authors_logs::read_log(Path::new(input))?;
        return Ok(log.into_iter().map(|t| (t.objective(), t.rates)).collect());
    }
    let (store, study) = open_study(input)?;
    load_study(store.as_ref(), &study)?;
    Ok(store
        .trials(&study)?
        .into_iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| Some((t.objective?, t.rates?)))
        .collect())
}
