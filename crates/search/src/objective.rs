//! What a search optimises: the [`Objective`] trait that runs one trial, and the choice of
//! sampler and objective.

use std::fmt;
use std::str::FromStr;

use anyhow::{bail, Result};
use lrdist_train::Decision;
use serde::{Deserialize, Serialize};

/// One report of a running trial, after a stage-2 epoch (docs/METHOD.md "Forgetting
/// protocol").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RungReport {
    /// Stage-2 epochs done (stage 1 always runs in full before the first report).
    pub resource: usize,
    /// Score on the new task B.
    pub p_s: f64,
    /// Score on the old task A, measured after these stage-2 epochs.
    pub p_o: f64,
    /// Score on task A after stage 1.
    pub a1: f64,
}

/// The result of a trial that ran to its end or stopped on [`Decision::Stop`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialOutcome {
    /// Task A score after stage 1.
    pub a1: f64,
    /// Task B score at the end (or at the rung where the trial stopped).
    pub p_s: f64,
    /// Task A score at the end (or at the rung where the trial stopped).
    pub p_o: f64,
    /// Anything else worth keeping with the trial, e.g. the full run record.
    pub extra: serde_json::Value,
}

/// A trial runner: the forgetting protocol (docs/METHOD.md "Forgetting protocol") for given
/// per-group learning rates.
pub trait Objective: Send + Sync {
    /// Runs trial `number` with one learning rate per group. After each stage-2 epoch it calls
    /// `report` and stops early when that returns [`Decision::Stop`] (successive halving's
    /// verdict; the trial is then "pruned" at that rung) and goes on after
    /// [`Decision::Continue`]. `Err(..)` marks the trial "failed" with the error text as its
    /// reason (a NaN loss or a diverged run is an `Err`).
    fn run(
        &self,
        number: u64,
        rates: &[f64],
        report: &mut dyn FnMut(&RungReport) -> Decision,
    ) -> Result<TrialOutcome>;
}

/// Which sampler proposes the learning rates of a new trial (`--sampler gp|tpe|random`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SamplerKind {
    /// Gaussian-process Bayesian optimisation with expected improvement (the paper's).
    #[default]
    Gp,
    /// Tree-structured Parzen estimator, one per group.
    Tpe,
    /// Log-uniform random search.
    Random,
}

/// What the search maximises (`--objective sum|pareto`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectiveKind {
    /// `p_o + p_s`, the paper's objective (docs/METHOD.md "Forgetting protocol").
    #[default]
    Sum,
    /// The Pareto front over `(p_s, p_o)`; rung pruning and rankings still use `p_o + p_s`.
    Pareto,
}

impl ObjectiveKind {
    /// The scalar recorded as a trial's (and a rung's) `objective`: `p_o + p_s` for both
    /// kinds. With [`ObjectiveKind::Pareto`] it drives successive halving and the "best"
    /// column, while samplers and reports use both scores.
    pub fn value(self, p_s: f64, p_o: f64) -> f64 {
        p_o + p_s
    }
}

macro_rules! lowercase_enum {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The lowercase name used on the command line and in stored configs.
            pub fn name(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
        impl FromStr for $ty {
            type Err = anyhow::Error;
            fn from_str(s: &str) -> Result<Self> {
                match s.to_ascii_lowercase().as_str() {
                    $($name => Ok($ty::$variant),)+
                    other => bail!(
                        "unknown {} {other:?}, expected one of: {}",
                        stringify!($ty),
                        [$($name),+].join(", ")
                    ),
                }
            }
        }
    };
}

lowercase_enum!(SamplerKind { Gp => "gp", Tpe => "tpe", Random => "random" });
lowercase_enum!(ObjectiveKind { Sum => "sum", Pareto => "pareto" });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_their_names() {
        assert_eq!("gp".parse::<SamplerKind>().unwrap(), SamplerKind::Gp);
        assert_eq!("TPE".parse::<SamplerKind>().unwrap(), SamplerKind::Tpe);
        assert_eq!(SamplerKind::Random.to_string(), "random");
        assert_eq!(
            "pareto".parse::<ObjectiveKind>().unwrap(),
            ObjectiveKind::Pareto
        );
        let err = "bo".parse::<SamplerKind>().unwrap_err().to_string();
        assert!(err.contains("gp, tpe, random"), "{err}");
        let json = serde_json::to_string(&ObjectiveKind::Sum).unwrap();
        assert_eq!(json, "\"sum\"");
    }
}
