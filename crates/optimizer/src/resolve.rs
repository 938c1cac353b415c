//! What a learning-rate distribution is named by, and its resolution against one model.
//!
//! A distribution spec (on the command line, in an experiment config, in a run record) is
//! a preset (`flat:LR`, `llrd:LR:DECAY`, `paper-combined`, `paper-rounded:BASE`; see
//! [`crate::presets`]), `flat-matched:SPEC` (docs/METHOD.md, "Baselines": flat at the
//! geometric mean of SPEC's per-depth rates), or a `.yaml`, `.yml` or `.json` distribution
//! file ([`crate::distribution`]). [`Distribution::resolve`] turns one into the rate of each
//! group and depth of a model; [`Distribution::files_of`] lists the files it reads.

use std::path::{Path, PathBuf};

use crate::distribution::{names_a_file, Distribution, ResolvedDistribution};
use crate::error::DistributionError;
use crate::grouping::Grouping;
use crate::presets::{flat, flat_matched, Preset, PresetRates};

impl Distribution {
    /// The distribution files `spec` reads (for `flat-matched:FILE`, FILE's): a
    /// caller can tell a spec that waits for a file not written yet (a combination) from
    /// a wrong one.
    pub fn files_of(spec: &str) -> Vec<PathBuf> {
        let spec = spec.trim();
        if let Some(target) = spec.strip_prefix("flat-matched:") {
            return Self::files_of(target);
        }
        if names_a_file(spec) {
            vec![spec.into()]
        } else {
            Vec::new()
        }
    }

    /// Resolves `spec` (a preset, see [`Preset::parse`], or a path ending in .yaml, .yml or
    /// .json) against a model of `num_layers` layers split by `grouping`.
    ///
    /// `flat` and `llrd` are computed per depth of this model; where a group covers
    /// several depths it takes the geometric mean of their rates (for `llrd`, the rate at
    /// the group's mean depth). Distributions over groups are transferred (the
    /// [`crate::distribution`] module docs, "Depth transfer").
    pub fn resolve(
        spec: &str,
        num_layers: usize,
        grouping: &Grouping,
    ) -> Result<ResolvedDistribution, DistributionError> {
        grouping.check_layers(num_layers)?;
        if let Some(target) = spec.trim().strip_prefix("flat-matched:") {
            // Flat at the geometric mean of `target`'s per-depth rates on this model.
            let per_layer = Grouping::per_layer(num_layers);
            let matched = Distribution::resolve(target, num_layers, &per_layer)?;
            let lr = flat_matched(&matched.per_depth);
            let per_depth = flat(lr, num_layers);
            let rates = group_geometric_means(&per_depth, grouping);
            return Ok(ResolvedDistribution::new(
                spec,
                spec.trim(),
                grouping,
                rates,
                None,
            ));
        }
        if names_a_file(spec) {
            return Distribution::load_for(Path::new(spec), num_layers)?.apply(spec, grouping);
        }
        let preset = Preset::parse(spec).map_err(|err| match err {
            DistributionError::UnknownPreset { .. } if Path::new(spec).is_file() => {
                DistributionError::UnknownExtension { path: spec.into() }
            }
            other => other,
        })?;
        match preset.rates(num_layers) {
            PresetRates::PerDepth(per_depth) => {
                let rates = group_geometric_means(&per_depth, grouping);
                Ok(ResolvedDistribution::new(
                    spec,
                    spec.trim(),
                    grouping,
                    rates,
                    None,
                ))
            }
            PresetRates::Groups(dist) => dist.apply(spec, grouping),
        }
    }
}

/// Geometric mean of the per-depth rates over each group's depths (exact when they are
/// all equal).
fn group_geometric_means(per_depth: &[f64], grouping: &Grouping) -> Vec<f64> {
    grouping
        .depth_ranges()
        .into_iter()
        .map(|range| {
            let rates = &per_depth[range];
            if rates.iter().all(|&r| r == rates[0]) {
                return rates[0];
            }
            let mean_log = rates.iter().map(|r| r.ln()).sum::<f64>() / rates.len() as f64;
            mean_log.exp()
        })
        .collect()
}
