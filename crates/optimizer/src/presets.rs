//! Named learning-rate distributions, one function per concept.
//!
//! - `flat:LR`: one rate everywhere (the paper's baseline, 2e-5).
//! - `llrd:LR:DECAY`: layer-wise learning-rate decay (a related baseline).
//! - `paper-combined`: the authors' combined 10-group distribution.
//! - `paper-rounded:BASE`: its rounded variant, scaled by BASE.
//!
//! `flat` and `llrd` are defined per depth of whatever model they are applied to, so they
//! never need a depth transfer; the paper's vectors are 10-group distributions of a
//! 12-layer model and are transferred to other models like any distribution file.

use crate::distribution::Distribution;
use crate::error::{check_positive, DistributionError};
use crate::grouping::{GroupingSpec, PAPER_LAYERS};

/// The authors' combined distribution, groups 0..9 of the paper's 10-group split
/// (docs/METHOD.md, "Combination": geometric means over SST2->MRPC, MRPC->SST2, QQP->MRPC,
/// MRPC->QQP). Non-monotonic, lowest at layer 2, the head group highest.
const PAPER_COMBINED: [f64; 10] = [
    3.295e-6, 4.363e-6, 9.215e-7, 1.923e-6, 2.849e-6, 2.143e-6, 3.267e-6, 3.699e-6, 3.186e-6,
    1.119e-5,
];

/// The rounded variant's multipliers (docs/METHOD.md, "Combination": `[1, 1, 0.3, 0.7, 1, 1, 1,
/// 1, 1, 3] x base`).
const PAPER_ROUNDED: [f64; 10] = [1.0, 1.0, 0.3, 0.7, 1.0, 1.0, 1.0, 1.0, 1.0, 3.0];

/// A preset named on the command line or in an experiment config.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Preset {
    Flat { lr: f64 },
    Llrd { lr: f64, decay: f64 },
    PaperCombined,
    PaperRounded { base: f64 },
}

/// What a preset gives before it meets a grouping.
pub(crate) enum PresetRates {
    /// One rate per depth of the target model.
    PerDepth(Vec<f64>),
    /// A K-group distribution found on some model, to be transferred.
    Groups(Distribution),
}

impl Preset {
    /// Parses `flat:LR`, `llrd:LR:DECAY`, `paper-combined` or `paper-rounded:BASE`.
    pub fn parse(spec: &str) -> Result<Self, DistributionError> {
        let parts: Vec<&str> = spec.trim().split(':').collect();
        let number = |what: &'static str, value: &str| parse_positive(spec, what, value);
        match parts.as_slice() {
            ["flat", lr] => Ok(Preset::Flat {
                lr: number("learning rate", lr)?,
            }),
            ["llrd", lr, decay] => {
                let lr = number("learning rate", lr)?;
                let decay = number("decay", decay)?;
                if decay > 1.0 {
                    return Err(DistributionError::DecayAboveOne {
                        spec: spec.to_string(),
                        decay,
                    });
                }
                Ok(Preset::Llrd { lr, decay })
            }
            ["paper-combined"] => Ok(Preset::PaperCombined),
            ["paper-rounded", base] => Ok(Preset::PaperRounded {
                base: number("base rate", base)?,
            }),
            _ => Err(DistributionError::UnknownPreset {
                spec: spec.to_string(),
            }),
        }
    }

    /// The preset's rates, for a model of `num_layers` layers where they are per depth.
    pub(crate) fn rates(&self, num_layers: usize) -> PresetRates {
        match *self {
            Preset::Flat { lr } => PresetRates::PerDepth(flat(lr, num_layers)),
            Preset::Llrd { lr, decay } => PresetRates::PerDepth(llrd(lr, decay, num_layers)),
            Preset::PaperCombined => PresetRates::Groups(paper_combined()),
            Preset::PaperRounded { base } => PresetRates::Groups(paper_rounded(base)),
        }
    }
}

fn parse_positive(spec: &str, what: &'static str, value: &str) -> Result<f64, DistributionError> {
    let x: f64 = value
        .trim()
        .parse()
        .map_err(|_| DistributionError::BadNumber {
            spec: spec.to_string(),
            what,
            value: value.to_string(),
        })?;
    check_positive(&format!("`{spec}`"), what, x)
}

/// One learning rate for every depth: the paper's flat baseline (docs/METHOD.md, "Baselines":
/// flat 2e-5). Returns `L + 2` rates, one per depth.
pub fn flat(lr: f64, num_layers: usize) -> Vec<f64> {
    vec![lr; num_layers + 2]
}

/// Layer-wise learning-rate decay (docs/METHOD.md, "Baselines": ELECTRA 0.8, Sun et al.
/// 0.95 at 2e-5, BEiT 0.75): the pooler and heads (depth `L + 1`) train at `lr`, and each
/// depth below is multiplied by `decay` once more, down to the embeddings at
/// `lr * decay^(L + 1)`. Returns `L + 2` rates, one per depth.
pub fn llrd(lr: f64, decay: f64, num_layers: usize) -> Vec<f64> {
    let top = num_layers as i32 + 1;
    (0..=top).map(|d| lr * decay.powi(top - d)).collect()
}

/// The `flat-matched` baseline's rate (docs/METHOD.md, "Baselines"): the geometric mean
/// of a distribution's per-depth rates, so flat at it trains at the same overall rate as
/// that distribution and a gain of the distribution cannot come from a lower overall rate.
pub fn flat_matched(per_depth: &[f64]) -> f64 {
    let logs: f64 = per_depth.iter().map(|r| r.ln()).sum();
    (logs / per_depth.len() as f64).exp()
}

/// The authors' combined distribution over the paper's 10 groups of a 12-layer model
/// (docs/METHOD.md, "Combination").
pub fn paper_combined() -> Distribution {
    Distribution {
        name: "paper-combined".to_string(),
        grouping: GroupingSpec::Paper10,
        source_layers: PAPER_LAYERS,
        rates: PAPER_COMBINED.to_vec(),
    }
}

/// The rounded variant of the combined distribution, `[1, 1, 0.3, 0.7, 1, 1, 1, 1, 1, 3]`
/// times `base`, over the paper's 10 groups (docs/METHOD.md, "Combination").
pub fn paper_rounded(base: f64) -> Distribution {
    Distribution {
        name: format!("paper-rounded:{base}"),
        grouping: GroupingSpec::Paper10,
        source_layers: PAPER_LAYERS,
        rates: PAPER_ROUNDED.iter().map(|m| m * base).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse() {
        assert_eq!(
            Preset::parse("flat:2e-5").unwrap(),
            Preset::Flat { lr: 2e-5 }
        );
        assert_eq!(
            Preset::parse("llrd:1e-4:0.8").unwrap(),
            Preset::Llrd {
                lr: 1e-4,
                decay: 0.8
            }
        );
        assert_eq!(
            Preset::parse("paper-combined").unwrap(),
            Preset::PaperCombined
        );
        assert_eq!(
            Preset::parse("paper-rounded:3e-6").unwrap(),
            Preset::PaperRounded { base: 3e-6 }
        );
    }

    #[test]
    fn bad_presets_give_one_line_errors() {
        let cases = [
            ("flat", "unknown learning-rate distribution `flat`"),
            ("flat:1e-5:2", "unknown learning-rate distribution"),
            ("cosine:1", "unknown learning-rate distribution"),
            ("flat:abc", "learning rate `abc` is not a number"),
            (
                "flat:-1e-5",
                "learning rate is -1e-5, but it must be finite and positive",
            ),
            ("flat:0", "must be finite and positive"),
            ("flat:inf", "must be finite and positive"),
            ("llrd:1e-4:NaN", "decay is NaN"),
            ("paper-rounded:x", "base rate `x` is not a number"),
        ];
        for (spec, expected) in cases {
            let msg = Preset::parse(spec).unwrap_err().to_string();
            assert!(msg.contains(expected), "{spec}: {msg}");
            assert!(!msg.contains('\n'), "{spec}: {msg}");
        }
    }

    #[test]
    fn llrd_refuses_a_decay_above_one() {
        let msg = Preset::parse("llrd:2e-5:7").unwrap_err().to_string();
        assert!(msg.contains("decay 7 is above 1"), "{msg}");
        assert!(!msg.contains('\n'));
        assert!(Preset::parse("llrd:2e-5:1").is_ok());
    }

    #[test]
    fn flat_matched_is_the_geometric_mean() {
        assert!((flat_matched(&[1e-6, 1e-4]) - 1e-5).abs() < 1e-18);
        assert!((flat_matched(&[3e-5; 8]) - 3e-5).abs() < 1e-18);
    }

    #[test]
    fn llrd_decays_from_the_head_down() {
        let r = llrd(1e-4, 0.5, 2);
        assert_eq!(r, vec![1.25e-5, 2.5e-5, 5e-5, 1e-4]);
        assert_eq!(flat(2e-5, 6), vec![2e-5; 8]);
    }

    #[test]
    fn paper_vectors_have_ten_groups() {
        let combined = paper_combined();
        assert_eq!(combined.rates.len(), 10);
        // The paper's combined vector: lowest at layer 2 (group 2), the head group highest, all below 2e-5.
        let min = combined.rates.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = combined.rates.iter().cloned().fold(0.0, f64::max);
        assert_eq!(min, combined.rates[2]);
        assert_eq!(max, combined.rates[9]);
        assert!(max < 2e-5);
        let rounded = paper_rounded(2e-6);
        assert_eq!(rounded.rates[2], 0.3 * 2e-6);
        assert_eq!(rounded.rates[9], 3.0 * 2e-6);
    }
}
