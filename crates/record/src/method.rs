//! What a method changes besides its learning rates (docs/METHOD.md, "Baselines"): a
//! penalty added to the loss after the first stage ([`PenaltySpec`]) and a change to stage
//! B ([`Intervention`]), as experiment files and run records write them.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

/// What a baseline does to stage B besides rates and a penalty (docs/METHOD.md,
/// "Baselines"). Applies to every stage after the first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Intervention {
    /// WiSE-FT (Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022),
    /// applied between tasks: after stage B every encoder weight is set to
    /// `(1 - alpha) * post-A + alpha * post-B`; the heads keep their trained values.
    /// `alpha = 1` is plain fine-tuning, `alpha = 0` undoes stage B in the encoder.
    WiseFt { alpha: f64 },
    /// Partial freezing (as in Lee et al., "What would Elsa do? Freezing layers during
    /// transformer fine-tuning", 2019): in stage B only the top `top` encoder layers and
    /// the heads train; the embeddings and the layers below keep their post-A weights.
    Freeze { top: usize },
}

/// A method label split into its baseline and value, `BASELINE@VALUE`: the tuning's grid
/// points (`ewc@1e6` -> (`ewc`, `1e6`); docs/METHOD.md, "Baselines") and the flat
/// frontier's rates (`flat@2e-5`). Split at the last `@`; `None` for a plain name.
pub fn grid_point(method: &str) -> Option<(&str, &str)> {
    method
        .rsplit_once('@')
        .filter(|(b, v)| !b.is_empty() && !v.is_empty())
}

/// The method label of the flat learning-rate baseline (docs/METHOD.md "Baselines"), the
/// reference every other method is paired with by seed ("Comparing a method with flat").
pub const FLAT: &str = "flat";

/// Method names of the flat-frontier points: `flat@2e-5` is flat at rate 2e-5 in stage B
/// (docs/METHOD.md "The flat frontier"); `flat` itself, at the calibrated rate, is a point
/// of the curve too.
pub const FRONTIER_PREFIX: &str = "flat@";

/// The rate of a flat-frontier method name (`flat@2e-5` → 2e-5); `None` for any other name.
pub fn frontier_rate(method: &str) -> Option<f64> {
    method
        .strip_prefix(FRONTIER_PREFIX)?
        .parse()
        .ok()
        .filter(|r: &f64| r.is_finite() && *r > 0.0)
}

/// Whether a method is one the evaluation tests against flat: neither [`FLAT`] itself nor
/// a flat-frontier point ([`frontier_rate`]), which trace the curve methods are judged by.
/// The seed rule (docs/METHOD.md, "Seeds") is about these methods.
pub fn compared_with_flat(method: &str) -> bool {
    method != FLAT && frontier_rate(method).is_none()
}

/// A regulariser added to the loss after the first stage (docs/METHOD.md "Baselines").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PenaltySpec {
    /// Elastic weight consolidation: `lambda / 2 * sum F_i (theta_i - theta*_i)^2`, with a
    /// diagonal empirical Fisher `F` from the previous task's loss.
    Ewc {
        lambda: f64,
        #[serde(default = "default_fisher_rows")]
        fisher_rows: usize,
    },
    /// L2-SP: `alpha / 2 * ||theta - theta_start||^2` over the encoder, `theta_start` the
    /// weights the first penalised stage starts from (pretrained in the both-stage
    /// protocol, post-A under `--stage2-only`; docs/METHOD.md, "Baselines").
    L2sp { alpha: f64 },
}

fn default_fisher_rows() -> usize {
    256
}

impl PenaltySpec {
    /// Parses `ewc:LAMBDA[:ROWS]` or `l2sp:ALPHA`.
    pub fn parse(spec: &str) -> Result<Self> {
        let parts: Vec<&str> = spec.split(':').collect();
        let num = |s: &str| -> Result<f64> {
            let v: f64 = s
                .parse()
                .with_context(|| format!("bad number `{s}` in penalty `{spec}`"))?;
            if !v.is_finite() || v < 0.0 {
                bail!("penalty strength must be finite and >= 0, got `{s}`");
            }
            Ok(v)
        };
        match parts.as_slice() {
            ["ewc", l] => Ok(Self::Ewc {
                lambda: num(l)?,
                fisher_rows: default_fisher_rows(),
            }),
            ["ewc", l, rows] => Ok(Self::Ewc {
                lambda: num(l)?,
                fisher_rows: rows
                    .parse()
                    .with_context(|| format!("bad row count in `{spec}`"))?,
            }),
            ["l2sp", a] => Ok(Self::L2sp { alpha: num(a)? }),
            _ => bail!("unknown penalty `{spec}` (expected ewc:LAMBDA[:ROWS] or l2sp:ALPHA)"),
        }
    }
}

/// The spec [`PenaltySpec::parse`] reads back: `ewc:LAMBDA` (`:ROWS` when not the default)
/// or `l2sp:ALPHA`; a run's label when `--penalty` is given without a method.
impl std::fmt::Display for PenaltySpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ewc {
                lambda,
                fisher_rows,
            } if *fisher_rows == default_fisher_rows() => write!(f, "ewc:{lambda}"),
            Self::Ewc {
                lambda,
                fisher_rows,
            } => write!(f, "ewc:{lambda}:{fisher_rows}"),
            Self::L2sp { alpha } => write!(f, "l2sp:{alpha}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontier_names_carry_their_rate() {
        assert_eq!(frontier_rate("flat@2e-5"), Some(2e-5));
        assert_eq!(frontier_rate("flat@1e-4"), Some(1e-4));
        assert_eq!(frontier_rate("flat"), None);
        assert_eq!(frontier_rate("flat-matched"), None);
        assert_eq!(frontier_rate("flat@x"), None);
        assert_eq!(frontier_rate("flat@-1"), None);
    }

    #[test]
    fn methods_compared_with_flat_are_neither_flat_nor_its_frontier() {
        assert!(!compared_with_flat("flat"));
        assert!(!compared_with_flat("flat@2e-5"));
        assert!(compared_with_flat("flat-matched"));
        assert!(compared_with_flat("combined"));
        assert!(compared_with_flat("ewc@1e5"));
    }

    #[test]
    fn grid_points_split_at_the_last_at() {
        assert_eq!(grid_point("ewc@1e6"), Some(("ewc", "1e6")));
        assert_eq!(grid_point("wise-ft@0.5"), Some(("wise-ft", "0.5")));
        assert_eq!(grid_point("flat@2e-5"), Some(("flat", "2e-5")));
        assert_eq!(grid_point("ewc"), None);
        assert_eq!(grid_point("@1"), None);
        assert_eq!(grid_point("ewc@"), None);
    }

    #[test]
    fn penalties_parse_and_reject() {
        assert_eq!(
            PenaltySpec::parse("l2sp:0.01").unwrap(),
            PenaltySpec::L2sp { alpha: 0.01 }
        );
        assert_eq!(
            PenaltySpec::parse("ewc:1000:64").unwrap(),
            PenaltySpec::Ewc {
                lambda: 1000.0,
                fisher_rows: 64
            }
        );
        for spec in ["l2sp:0.01", "ewc:1000", "ewc:100000:64"] {
            let p = PenaltySpec::parse(spec).unwrap();
            assert_eq!(p.to_string(), spec);
            assert_eq!(PenaltySpec::parse(&p.to_string()).unwrap(), p);
        }
        assert!(PenaltySpec::parse("ewc:-1").is_err());
        assert!(PenaltySpec::parse("dropout:0.1").is_err());
    }
}
