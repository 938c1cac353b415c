//! The one error type of this crate's data side (groupings, distributions, presets).
//!
//! Every message stands alone on one line, names what was given and says what was
//! expected, so the CLI can print it as is and exit with code 2.

use std::path::PathBuf;

/// Why a grouping or a learning-rate distribution could not be built, read or applied.
#[derive(Debug, thiserror::Error)]
pub enum DistributionError {
    #[error(
        "unknown learning-rate distribution `{spec}`: expected flat:LR, llrd:LR:DECAY, \
         paper-combined, paper-rounded:BASE, flat-matched:FILE or a .yaml/.yml/.json file"
    )]
    UnknownPreset { spec: String },

    #[error(
        "`{spec}`: decay {decay} is above 1, so lower layers would train faster than the \
         head (the embeddings at LR x {decay}^(L+1)); layer-wise decay takes 0 < DECAY <= 1"
    )]
    DecayAboveOne { spec: String, decay: f64 },

    #[error("`{spec}`: {what} `{value}` is not a number")]
    BadNumber {
        spec: String,
        what: &'static str,
        value: String,
    },

    #[error("{context}: {what} is {value:?}, but it must be finite and positive")]
    NotPositive {
        context: String,
        what: String,
        value: f64,
    },

    #[error("unknown grouping `{spec}`: expected per-layer, paper10 or even:K")]
    UnknownGrouping { spec: String },

    #[error("grouping `{grouping}` does not fit a {num_layers}-layer model: {reason}")]
    GroupingDoesNotFit {
        grouping: String,
        num_layers: usize,
        reason: String,
    },

    #[error(
        "{context}: {rates} rates given, but grouping `{grouping}` has {groups} groups; {fit}"
    )]
    GroupCount {
        context: String,
        rates: usize,
        grouping: String,
        groups: usize,
        /// L of the model the grouping was built for.
        num_layers: usize,
        /// Which groupings of that model take `rates` rates, and what each takes
        /// (`grouping::count_fit`).
        fit: String,
    },

    #[error(
        "{context}: {rates} rates given, but no grouping of a {num_layers}-layer model has \
         {rates} groups ({options}); or name `grouping` and `source_layers` in the file"
    )]
    NoGroupingFits {
        context: String,
        rates: usize,
        num_layers: usize,
        /// What each grouping of that model takes (`grouping::grouping_options`).
        options: String,
    },

    #[error(
        "{context}: `source_layers` is missing, and no model is given to take it from \
         (a file without it is read for the model it is applied to)"
    )]
    MissingSourceLayers { context: String },

    #[error("weight decay is {value:?}, but it must be finite and at least 0")]
    BadWeightDecay { value: f64 },

    #[error("grouping `{grouping}` was built for {grouping_layers} layers, but the model has {num_layers}")]
    LayerMismatch {
        grouping: String,
        grouping_layers: usize,
        num_layers: usize,
    },

    #[error(
        "parameter `{name}` has no depth in a {num_layers}-layer BERT \
         (expected embeddings.*, encoder.layer.<i>.*, pooler.*, head.* or classifier.*)"
    )]
    UnknownParameter { name: String, num_layers: usize },

    #[error("{}: distribution files must end in .yaml, .yml or .json", path.display())]
    UnknownExtension { path: PathBuf },

    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
}

impl DistributionError {
    /// A parse error from serde, flattened to one line.
    pub(crate) fn parse(path: &std::path::Path, err: impl std::fmt::Display) -> Self {
        let message = err.to_string().replace('\n', " ");
        DistributionError::Parse {
            path: path.to_path_buf(),
            message,
        }
    }
}

/// Checks that `value` is a usable learning rate (or decay factor): finite and > 0.
pub(crate) fn check_positive(
    context: &str,
    what: &str,
    value: f64,
) -> Result<f64, DistributionError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(DistributionError::NotPositive {
            context: context.to_string(),
            what: what.to_string(),
            value,
        })
    }
}

/// Checks that `value` is a usable weight decay: finite and >= 0.
pub(crate) fn check_weight_decay(value: f64) -> Result<f64, DistributionError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(DistributionError::BadWeightDecay { value })
    }
}
