//! What a learning-rate distribution is named by, and its resolution against one model.
//!
//! A distribution spec (on the command line, in an experiment config, in a run record) is
//! a preset (`flat:LR`, `llrd:LR:DECAY`, `paper-combined`, `paper-rounded:BASE`; see
//! [`crate::presets`]), `flat-matched:SPEC` (docs/METHOD.md, "Baselines": flat at the
//! geometric mean of SPEC's per-depth rates), or a `.yaml`, `.yml` or `.json` distribution
//! file ([`crate::distribution`]). An experiment config may write a preset's rate as
//! `base`, the scale's base rate (`flat:base`, `llrd:base:0.9`), filled in by
//! [`DistributionSpec::with_base`]. [`DistributionSpec`] is such a spec parsed once, where
//! the text enters; [`DistributionSpec::resolve`] turns it into the rate of each group and
//! depth of a model, and [`DistributionSpec::files`] lists the files it reads.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::distribution::{names_a_file, Distribution, ResolvedDistribution};
use crate::error::DistributionError;
use crate::grouping::Grouping;
use crate::presets::{flat, flat_matched, Preset, PresetRates};

/// A distribution spec, parsed: what it names, and the text it was given as, which it
/// displays (and serialises) unchanged, so records keep the spec exactly as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DistributionSpec {
    text: String,
    kind: SpecKind,
}

/// What a [`DistributionSpec`] names.
#[derive(Clone, Debug, PartialEq)]
enum SpecKind {
    Preset(Preset),
    /// A preset with a rate written `base`, waiting for [`DistributionSpec::with_base`].
    WithBase,
    /// `flat-matched:SPEC`.
    FlatMatched(Box<DistributionSpec>),
    /// A `.yaml`, `.yml` or `.json` distribution file.
    File(PathBuf),
}

/// The word a config writes for the scale's base rate (`flat:base`).
pub const BASE_RATE_WORD: &str = "base";

impl DistributionSpec {
    /// `flat:LR`, written with the shortest exponent form of `lr` (`flat:2e-5`).
    pub fn flat(lr: f64) -> Self {
        DistributionSpec {
            text: format!("flat:{lr:e}"),
            kind: SpecKind::Preset(Preset::Flat { lr }),
        }
    }

    /// `paper-combined`, the authors' combined distribution ([`crate::paper_combined`]).
    pub fn paper_combined() -> Self {
        DistributionSpec {
            text: "paper-combined".into(),
            kind: SpecKind::Preset(Preset::PaperCombined),
        }
    }

    /// The spec as it was given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The distribution files the spec reads (for `flat-matched:FILE`, FILE): a caller can
    /// tell a spec that waits for a file not written yet (a combination) from a wrong one.
    pub fn files(&self) -> Vec<PathBuf> {
        match &self.kind {
            SpecKind::File(path) => vec![path.clone()],
            SpecKind::FlatMatched(target) => target.files(),
            SpecKind::Preset(_) | SpecKind::WithBase => Vec::new(),
        }
    }

    /// The spec with every `base` field replaced by `rate` (`flat:base` at 1e-4 is
    /// `flat:1e-4`), so a config states the rate once (a scale's `base_rate`). A spec
    /// without `base` is returned as it is.
    pub fn with_base(&self, rate: f64) -> Result<Self, DistributionError> {
        let rate = format!("{rate:e}");
        let text = self
            .text
            .split(':')
            .map(|part| if part == BASE_RATE_WORD { &rate } else { part })
            .collect::<Vec<_>>()
            .join(":");
        if text == self.text {
            return Ok(self.clone());
        }
        text.parse()
    }

    /// Resolves the spec against a model of `num_layers` layers split by `grouping`.
    ///
    /// `flat` and `llrd` are computed per depth of this model; where a group covers
    /// several depths it takes the geometric mean of their rates (for `llrd`, the rate at
    /// the group's mean depth). Distributions over groups are transferred (the
    /// [`crate::distribution`] module docs, "Depth transfer").
    pub fn resolve(
        &self,
        num_layers: usize,
        grouping: &Grouping,
    ) -> Result<ResolvedDistribution, DistributionError> {
        grouping.check_layers(num_layers)?;
        let spec = self.text.as_str();
        match &self.kind {
            SpecKind::FlatMatched(target) => {
                // Flat at the geometric mean of `target`'s per-depth rates on this model.
                let per_layer = Grouping::per_layer(num_layers);
                let matched = target.resolve(num_layers, &per_layer)?;
                let lr = flat_matched(&matched.per_depth);
                Ok(per_depth_rates(spec, &flat(lr, num_layers), grouping))
            }
            SpecKind::File(path) => Distribution::load_for(path, num_layers)?.apply(spec, grouping),
            // `base` is not a rate: the error a preset with a bad number gives.
            SpecKind::WithBase => Err(Preset::parse(spec)
                .err()
                .unwrap_or_else(|| DistributionError::UnknownPreset { spec: spec.into() })),
            SpecKind::Preset(preset) => match preset.rates(num_layers) {
                PresetRates::PerDepth(per_depth) => Ok(per_depth_rates(spec, &per_depth, grouping)),
                PresetRates::Groups(dist) => dist.apply(spec, grouping),
            },
        }
    }
}

impl FromStr for DistributionSpec {
    type Err = DistributionError;

    /// Parses a preset (see [`Preset::parse`]; a rate may be `base`), `flat-matched:SPEC`,
    /// or a path ending in .yaml, .yml or .json (the file is read when resolved).
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let kind = if let Some(target) = spec.trim().strip_prefix("flat-matched:") {
            SpecKind::FlatMatched(Box::new(target.parse()?))
        } else if names_a_file(spec) {
            SpecKind::File(PathBuf::from(spec))
        } else {
            match Preset::parse(spec) {
                Ok(preset) => SpecKind::Preset(preset),
                Err(err) => {
                    let with_rate = spec
                        .split(':')
                        .map(|p| if p.trim() == BASE_RATE_WORD { "1" } else { p })
                        .collect::<Vec<_>>()
                        .join(":");
                    if with_rate != spec && Preset::parse(&with_rate).is_ok() {
                        SpecKind::WithBase
                    } else {
                        return Err(match err {
                            DistributionError::UnknownPreset { .. }
                                if Path::new(spec).is_file() =>
                            {
                                DistributionError::UnknownExtension { path: spec.into() }
                            }
                            other => other,
                        });
                    }
                }
            }
        };
        Ok(DistributionSpec {
            text: spec.to_string(),
            kind,
        })
    }
}

impl fmt::Display for DistributionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl TryFrom<String> for DistributionSpec {
    type Error = DistributionError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<DistributionSpec> for String {
    fn from(spec: DistributionSpec) -> String {
        spec.text
    }
}

/// Geometric mean of the per-depth rates over each group's depths (exact when they are
/// all equal).
/// The distribution `spec` gives as one rate per depth, applied to `grouping` (each
/// group's rate the geometric mean of its depths').
fn per_depth_rates(spec: &str, per_depth: &[f64], grouping: &Grouping) -> ResolvedDistribution {
    let rates = group_geometric_means(per_depth, grouping);
    ResolvedDistribution::new(spec, spec.trim(), grouping, rates, None)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_displays_as_it_was_written() {
        for text in [
            "flat:2e-5",
            "flat:0.00002",
            " paper-combined",
            "llrd:base:0.9",
            "flat-matched:results/combined/forget.yaml",
            "results/combined/combined.yaml",
        ] {
            let spec: DistributionSpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
            let json = serde_json::to_string(&spec).unwrap();
            assert_eq!(
                serde_json::from_str::<DistributionSpec>(&json).unwrap(),
                spec
            );
        }
        assert_eq!(DistributionSpec::flat(2e-5).as_str(), "flat:2e-5");
        assert_eq!(DistributionSpec::flat(1e-4).as_str(), "flat:1e-4");
        assert!("nonsense".parse::<DistributionSpec>().is_err());
        assert!("flat:fast".parse::<DistributionSpec>().is_err());
    }

    #[test]
    fn base_is_the_scales_rate() {
        let spec: DistributionSpec = "llrd:base:0.9".parse().unwrap();
        assert_eq!(spec.with_base(1e-4).unwrap().as_str(), "llrd:1e-4:0.9");
        let err = spec.resolve(6, &Grouping::per_layer(6)).unwrap_err();
        assert!(err.to_string().contains("`base` is not a number"), "{err}");
        let flat: DistributionSpec = "flat:2e-5".parse().unwrap();
        assert_eq!(flat.with_base(1e-4).unwrap(), flat);
        assert_eq!(
            "flat:base"
                .parse::<DistributionSpec>()
                .unwrap()
                .with_base(2e-5)
                .unwrap(),
            DistributionSpec::flat(2e-5)
        );
    }
}
