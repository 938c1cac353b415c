//! The search space and the successive-halving schedule (docs/METHOD.md "Search").

use anyhow::{bail, ensure, Result};
use lrdist_train::Decision;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// One learning rate per parameter group, each log-uniform in `[low, high]`
/// (docs/METHOD.md "Search": `[1e-7, 1e-3]`; the paper searched 10 groups).
///
/// Samplers work in `log10` space: a point is the vector of `log10(rate)` per group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchSpace {
    /// Number of learning-rate groups (one rate each).
    pub groups: usize,
    /// Smallest rate.
    pub low: f64,
    /// Largest rate.
    pub high: f64,
}

impl SearchSpace {
    /// The paper's lower bound of each rate (docs/METHOD.md "Search").
    pub const PAPER_LOW: f64 = 1e-7;
    /// The paper's upper bound of each rate (docs/METHOD.md "Search").
    pub const PAPER_HIGH: f64 = 1e-3;

    /// The paper's bounds `[1e-7, 1e-3]` for `groups` groups.
    pub fn paper(groups: usize) -> Self {
        Self {
            groups,
            low: Self::PAPER_LOW,
            high: Self::PAPER_HIGH,
        }
    }

    /// Checks that there is at least one group and `0 < low < high`, all finite.
    pub fn validate(&self) -> Result<()> {
        ensure!(self.groups > 0, "search space needs at least one group");
        ensure!(
            self.low.is_finite() && self.high.is_finite() && 0.0 < self.low && self.low < self.high,
            "search space bounds must satisfy 0 < low < high, got [{}, {}]",
            self.low,
            self.high
        );
        Ok(())
    }

    /// `(log10(low), log10(high))`.
    pub fn log_bounds(&self) -> (f64, f64) {
        (self.low.log10(), self.high.log10())
    }

    /// Rates to `log10` coordinates.
    pub fn to_log(&self, rates: &[f64]) -> Vec<f64> {
        rates.iter().map(|r| r.log10()).collect()
    }

    /// `log10` coordinates to rates, clamped into `[low, high]`.
    pub fn from_log(&self, x: &[f64]) -> Vec<f64> {
        x.iter()
            .map(|v| 10f64.powf(*v).clamp(self.low, self.high))
            .collect()
    }

    /// Checks that `rates` has one finite rate per group within the bounds.
    pub fn check_rates(&self, rates: &[f64]) -> Result<()> {
        ensure!(
            rates.len() == self.groups,
            "expected {} learning rates (one per group), got {}",
            self.groups,
            rates.len()
        );
        for (g, r) in rates.iter().enumerate() {
            if !(r.is_finite() && self.low <= *r && *r <= self.high) {
                bail!(
                    "learning rate of group {g} is {r}, outside [{}, {}]",
                    self.low,
                    self.high
                );
            }
        }
        Ok(())
    }

    /// One point drawn log-uniformly in every group.
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        let (lo, hi) = self.log_bounds();
        let x: Vec<f64> = (0..self.groups)
            .map(|_| rng.random_range(lo..=hi))
            .collect();
        self.from_log(&x)
    }
}

/// The random generator of trial `number`: ChaCha8 seeded with `seed + number`, so a study's
/// random and TPE suggestions are reproducible whichever worker draws them.
pub fn trial_rng(seed: u64, number: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed.wrapping_add(number))
}

/// Asynchronous successive halving (ASHA, Li et al. 2020) over stage-2 epochs.
///
/// Rungs sit at `grace * reduction^k <= max_resource` stage-2 epochs (docs/METHOD.md "Search":
/// grace period 1 epoch, reduction factor 2, one bracket). Unlike the authors, whose rungs
/// measured task A during stage 1, our rung values are `p_o + p_s` after each stage-2 epoch,
/// so pruning sees forgetting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AshaConfig {
    /// Stage-2 epochs before the first rung (paper: 1).
    pub grace: usize,
    /// Keep the top `1/reduction` at each rung (paper: 2).
    pub reduction: usize,
    /// Stage-2 epochs of a complete trial.
    pub max_resource: usize,
}

impl AshaConfig {
    /// The paper's schedule (grace 1, reduction 2) over `max_resource` stage-2 epochs.
    pub fn paper(max_resource: usize) -> Self {
        Self {
            grace: 1,
            reduction: 2,
            max_resource,
        }
    }

    /// Checks `grace >= 1`, `reduction >= 2` and `max_resource >= grace`.
    pub fn validate(&self) -> Result<()> {
        ensure!(self.grace >= 1, "ASHA grace period must be >= 1 epoch");
        ensure!(self.reduction >= 2, "ASHA reduction factor must be >= 2");
        ensure!(
            self.max_resource >= self.grace,
            "ASHA max resource ({}) is below the grace period ({})",
            self.max_resource,
            self.grace
        );
        Ok(())
    }

    /// The rung resources `grace * reduction^k <= max_resource`, ascending.
    pub fn rungs(&self) -> Vec<usize> {
        let mut rungs = Vec::new();
        let mut r = self.grace;
        while r <= self.max_resource {
            rungs.push(r);
            r = r.saturating_mul(self.reduction.max(2));
        }
        rungs
    }

    /// Whether a report at `resource` epochs is a promotion decision: a rung below
    /// `max_resource` (at `max_resource` the trial is complete anyway).
    pub fn decides_at(&self, resource: usize) -> bool {
        resource < self.max_resource && self.rungs().contains(&resource)
    }
}

/// The ASHA promotion rule: a trial that reports `value` at a rung continues iff `value` is
/// within the top `1/reduction` of `rung_values`, all values recorded at that rung so far by
/// any trial *including this one*.
///
/// Precisely, with `n = rung_values.len()`: when `n < reduction` the trial continues;
/// otherwise it continues iff fewer than `floor(n / reduction)` values are strictly greater
/// than `value` (ties favour continuing). Non-finite values never continue once the rung has
/// `reduction` values.
pub fn asha_decision(value: f64, rung_values: &[f64], reduction: usize) -> Decision {
    let n = rung_values.len();
    if n < reduction {
        return Decision::Continue;
    }
    if !value.is_finite() {
        return Decision::Stop;
    }
    let keep = n / reduction;
    let better = rung_values.iter().filter(|v| **v > value).count();
    if better < keep {
        Decision::Continue
    } else {
        Decision::Stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_follow_grace_and_reduction() {
        assert_eq!(AshaConfig::paper(4).rungs(), vec![1, 2, 4]);
        assert_eq!(AshaConfig::paper(5).rungs(), vec![1, 2, 4]);
        let c = AshaConfig {
            grace: 1,
            reduction: 3,
            max_resource: 10,
        };
        assert_eq!(c.rungs(), vec![1, 3, 9]);
        assert!(c.decides_at(3));
        assert!(!c.decides_at(2));
        assert!(!AshaConfig::paper(4).decides_at(4));
    }

    #[test]
    fn asha_keeps_the_top_half() {
        // Fewer than `reduction` values at the rung: always continue, even the worst.
        assert_eq!(asha_decision(0.1, &[0.1], 2), Decision::Continue);
        // Two values: top 1 continues, the other stops.
        assert_eq!(asha_decision(0.9, &[0.5, 0.9], 2), Decision::Continue);
        assert_eq!(asha_decision(0.5, &[0.5, 0.9], 2), Decision::Stop);
        // Five values: floor(5/2) = 2 continue.
        let rung = [1.2, 1.7, 1.5, 1.6, 1.1];
        assert_eq!(asha_decision(1.6, &rung, 2), Decision::Continue);
        assert_eq!(asha_decision(1.7, &rung, 2), Decision::Continue);
        assert_eq!(asha_decision(1.5, &rung, 2), Decision::Stop);
        assert_eq!(asha_decision(1.1, &rung, 2), Decision::Stop);
        // Ties favour continuing.
        assert_eq!(asha_decision(1.0, &[1.0, 1.0], 2), Decision::Continue);
        // Reduction 3 on six values keeps two.
        let rung = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
        assert_eq!(asha_decision(0.5, &rung, 3), Decision::Continue);
        assert_eq!(asha_decision(0.4, &rung, 3), Decision::Stop);
        // NaN never continues once the rung is populated.
        assert_eq!(asha_decision(f64::NAN, &[f64::NAN, 0.3], 2), Decision::Stop);
    }

    #[test]
    fn space_maps_log_coordinates_and_samples_in_bounds() {
        let s = SearchSpace::paper(10);
        s.validate().unwrap();
        assert_eq!(s.log_bounds(), (-7.0, -3.0));
        let back = s.from_log(&s.to_log(&[1e-5; 10]));
        assert!(back.iter().all(|r| (r / 1e-5 - 1.0).abs() < 1e-12));
        let mut rng = trial_rng(7, 3);
        let x = s.sample(&mut rng);
        s.check_rates(&x).unwrap();
        assert_eq!(
            x,
            s.sample(&mut trial_rng(7, 3)),
            "seeded sampling is reproducible"
        );
        assert!(s.check_rates(&[1e-2; 10]).is_err());
        assert!(SearchSpace {
            groups: 2,
            low: 1e-3,
            high: 1e-7
        }
        .validate()
        .is_err());
    }
}
