//! Proposing the learning rates of a new trial: Gaussian-process Bayesian optimisation
//! (egobox-ego), TPE (tpe) or log-uniform random search, from all trials recorded so far.
//!
//! Conventions (docs/METHOD.md "Search"):
//! - the first trial of a study uses `StudyConfig::first_trial` (paper: all rates 1e-5);
//! - then trials are drawn at random until [`initial_points`] trials have a value, after
//!   which the GP or TPE takes over;
//! - the value of a trial given to a sampler is its objective at the highest rung it
//!   reached: the final scores of a complete trial, the scores at the rung where a pruned
//!   trial stopped (see [`observations`]);
//! - every sampler works in `log10(rate)` coordinates; random and TPE draws use
//!   [`trial_rng`], so they depend only on the study seed and the trial number.

use std::panic::{catch_unwind, AssertUnwindSafe};

use anyhow::{anyhow, ensure, Context, Result};
use egobox_ego::{EgorServiceBuilder, InfillStrategy};
use ndarray::{Array1, Array2};

use crate::objective::{ObjectiveKind, SamplerKind};
use crate::panics::panic_text;
use crate::pareto::chebyshev_costs;
use crate::space::{trial_rng, SearchSpace};
use crate::store::{TrialRow, TrialState};

/// A trial with a value, as the samplers see it.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The trial's learning rates, one per group.
    pub rates: Vec<f64>,
    /// Task B score at the highest rung reached.
    pub p_s: f64,
    /// Task A score (after stage 2) at the highest rung reached.
    pub p_o: f64,
}

/// How many trials need a value before the GP or TPE replaces random draws:
/// `max(4, groups / 2)` (the first trial included).
pub fn initial_points(groups: usize) -> usize {
    (groups / 2).max(4)
}

/// The samplers' view of a study: one [`Observation`] per complete, pruned or failed trial,
/// and the rates of trials still running (for the GP's constant liar).
///
/// A failed trial (NaN loss, divergence) gets the worst `p_s` and the worst `p_o` seen in
/// the study, so the samplers learn to avoid its region; failed trials are left out while
/// no trial has scores.
pub fn observations(trials: &[TrialRow]) -> (Vec<Observation>, Vec<Vec<f64>>) {
    let scored = |t: &TrialRow| match (t.p_s, t.p_o) {
        (Some(s), Some(o)) if s.is_finite() && o.is_finite() => Some((s, o)),
        _ => None,
    };
    let finished = |t: &TrialRow| matches!(t.state, TrialState::Complete | TrialState::Pruned);
    let worst = trials
        .iter()
        .filter(|t| finished(t))
        .filter_map(scored)
        .reduce(|a, b| (a.0.min(b.0), a.1.min(b.1)));
    let mut observed = Vec::new();
    let mut pending = Vec::new();
    for t in trials {
        let Some(rates) = t.rates.clone() else {
            continue;
        };
        let scores = match t.state {
            TrialState::Complete | TrialState::Pruned => scored(t),
            TrialState::Failed => worst,
            TrialState::Running | TrialState::Queued => {
                pending.push(rates);
                continue;
            }
        };
        if let Some((p_s, p_o)) = scores {
            observed.push(Observation { rates, p_s, p_o });
        }
    }
    (observed, pending)
}

/// What a sampler needs to know about the study.
#[derive(Clone, Copy, Debug)]
pub struct SamplerSetup<'a> {
    pub space: &'a SearchSpace,
    pub sampler: SamplerKind,
    pub objective: ObjectiveKind,
    pub seed: u64,
    /// Rates of trial 0 (paper: all 1e-5); `None` draws trial 0 like the others.
    pub first_trial: Option<&'a [f64]>,
}

/// Learning rates for a new trial and the method that chose them.
#[derive(Clone, Debug, PartialEq)]
pub struct Suggestion {
    pub rates: Vec<f64>,
    /// `first`, `random`, `gp`, `tpe`, or `random (gp failed: ...)`.
    pub sampled_by: String,
}

/// Proposes the rates of trial `number` from `observed` trials and `pending` (running) ones.
///
/// If the GP fails on degenerate data (it can panic inside egobox), the trial is drawn at
/// random and `sampled_by` says why; the search goes on.
pub fn suggest(
    setup: &SamplerSetup,
    number: u64,
    observed: &[Observation],
    pending: &[Vec<f64>],
) -> Result<Suggestion> {
    let space = setup.space;
    let mut rng = trial_rng(setup.seed, number);
    let done = |rates: Vec<f64>, by: &str| Suggestion {
        rates,
        sampled_by: by.to_string(),
    };
    if let (0, Some(first)) = (number, setup.first_trial) {
        space.check_rates(first).context("first trial rates")?;
        return Ok(done(first.to_vec(), "first"));
    }
    if setup.sampler == SamplerKind::Random || observed.len() < initial_points(space.groups) {
        return Ok(done(space.sample(&mut rng), "random"));
    }
    match setup.sampler {
        SamplerKind::Gp => {
            let seed = setup.seed.wrapping_add(number);
            let proposal =
                suggest_gp(space, setup.objective, observed, pending, seed).and_then(|rates| {
                    let seen = observed.iter().map(|o| &o.rates).chain(pending);
                    match seen.into_iter().find(|r| same_point(space, r, &rates)) {
                        Some(_) => anyhow::bail!("it proposed an already evaluated point"),
                        None => Ok(rates),
                    }
                });
            match proposal {
                Ok(rates) => Ok(done(rates, "gp")),
                Err(e) => Ok(done(
                    space.sample(&mut rng),
                    &format!("random (gp failed: {e:#})"),
                )),
            }
        }
        SamplerKind::Tpe => {
            let values = minimised_values(setup.objective, observed, &mut rng);
            Ok(done(
                suggest_tpe(space, observed, &values, &mut rng)?,
                "tpe",
            ))
        }
        SamplerKind::Random => unreachable!("handled above"),
    }
}

/// Whether two rate vectors are the same point of the search: every group within 0.001
/// decades. Re-running a point teaches the GP nothing (EI can peak on a known optimum when
/// there are few points in many dimensions), so such a proposal is replaced by a random one.
fn same_point(space: &SearchSpace, a: &[f64], b: &[f64]) -> bool {
    let (a, b) = (space.to_log(a), space.to_log(b));
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-3)
}

/// Values to minimise for the scalar TPE: `-(p_o + p_s)`, or with
/// [`ObjectiveKind::Pareto`] a Chebyshev scalarisation with a fresh random weight (ParEGO).
fn minimised_values(
    objective: ObjectiveKind,
    observed: &[Observation],
    rng: &mut rand::rngs::ChaCha8Rng,
) -> Vec<f64> {
    match objective {
        ObjectiveKind::Sum => observed
            .iter()
            .map(|o| -objective.value(o.p_s, o.p_o))
            .collect(),
        ObjectiveKind::Pareto => {
            let pts: Vec<(f64, f64)> = observed.iter().map(|o| (o.p_s, o.p_o)).collect();
            chebyshev_costs(&pts, rng)
        }
    }
}

/// GP Bayesian optimisation (egobox-ego's ask-and-tell `EgorService`): a Gaussian process
/// with constant mean and squared-exponential kernel over `log10` rates, fitted to
/// `-(p_o + p_s)`; the next point maximises the expected improvement (the paper's
/// criterion). Not egobox's LogEI: in egobox 0.42 it returned the best observed point
/// itself on real searches (test `gp_proposes_a_new_point_on_a_real_search`).
/// With [`ObjectiveKind::Pareto`] one GP per score is fitted to `(-p_s, -p_o)` and the next
/// point maximises the expected hypervolume improvement (egobox's default for 2 objectives).
///
/// Asynchronous workers: each `pending` (running) trial is added with the mean observed value
/// ("constant liar", Ginsbourger et al. 2010), so concurrent suggestions spread out instead of
/// repeating the same point.
fn suggest_gp(
    space: &SearchSpace,
    objective: ObjectiveKind,
    observed: &[Observation],
    pending: &[Vec<f64>],
    seed: u64,
) -> Result<Vec<f64>> {
    let dim = space.groups;
    let n_obj = match objective {
        ObjectiveKind::Sum => 1,
        ObjectiveKind::Pareto => 2,
    };
    let y_of = |o: &Observation| match objective {
        ObjectiveKind::Sum => vec![-objective.value(o.p_s, o.p_o)],
        ObjectiveKind::Pareto => vec![-o.p_s, -o.p_o],
    };
    let mut ys: Vec<Vec<f64>> = observed.iter().map(y_of).collect();
    let liar: Vec<f64> = (0..n_obj)
        .map(|j| ys.iter().map(|y| y[j]).sum::<f64>() / ys.len() as f64)
        .collect();
    let mut xs: Vec<Vec<f64>> = observed.iter().map(|o| space.to_log(&o.rates)).collect();
    for rates in pending {
        xs.push(space.to_log(rates));
        ys.push(liar.clone());
    }
    ensure!(
        xs.iter().all(|x| x.len() == dim),
        "a trial's rates do not have {dim} groups"
    );
    let x = Array2::from_shape_vec((xs.len(), dim), xs.concat())?;
    let y = Array2::from_shape_vec((ys.len(), n_obj), ys.concat())?;
    let (lo, hi) = space.log_bounds();
    let bounds = Array2::from_shape_fn((dim, 2), |(_, j)| if j == 0 { lo } else { hi });
    let egor = EgorServiceBuilder::optimize()
        .configure(|c| {
            c.n_obj(n_obj)
                .infill_strategy(InfillStrategy::EI)
                .seed(seed)
        })
        .min_within(&bounds)
        .map_err(|e| anyhow!("configuring the GP: {e}"))?;
    let next = catch_unwind(AssertUnwindSafe(|| egor.suggest(&x, &y)))
        .map_err(|p| anyhow!("egobox suggest panicked: {}", panic_text(&p)))?;
    let row: Array1<f64> = next.row(0).to_owned();
    ensure!(
        row.iter().all(|v| v.is_finite()),
        "GP suggested a non-finite point {row}"
    );
    Ok(space.from_log(row.as_slice().context("GP suggestion layout")?))
}

/// TPE (Bergstra et al. 2011) with the `tpe` crate: one Parzen-estimator optimiser per group
/// (independent groups, as hyperopt's default), each told every observed `log10` rate with
/// the trial's value to minimise.
fn suggest_tpe(
    space: &SearchSpace,
    observed: &[Observation],
    values: &[f64],
    rng: &mut rand::rngs::ChaCha8Rng,
) -> Result<Vec<f64>> {
    let (lo, hi) = space.log_bounds();
    // `tpe::Range` is half-open; widen it by a hair so `high` itself can be told.
    let range = tpe::range(lo, hi + 1e-9).map_err(|e| anyhow!("TPE range: {e}"))?;
    let mut x = Vec::with_capacity(space.groups);
    for g in 0..space.groups {
        let mut opt = tpe::TpeOptimizer::new(tpe::parzen_estimator(), range);
        for (o, v) in observed.iter().zip(values) {
            let param = o.rates[g].log10().clamp(lo, hi);
            opt.tell(param, *v)
                .map_err(|e| anyhow!("TPE tell (group {g}, value {v}): {e}"))?;
        }
        x.push(
            opt.ask(rng)
                .map_err(|e| anyhow!("TPE ask (group {g}): {e}"))?,
        );
    }
    Ok(space.from_log(&x))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first five trials of a real SST-2 -> MRPC search (8 groups; `p_o + p_s` split in
    /// halves). With egobox's LogEI (and WB2/WB2S) the suggestion was the best trial itself,
    /// for every seed, so the search fell back to random draws at every GP trial; EI
    /// proposes a new point.
    #[test]
    fn gp_proposes_a_new_point_on_a_real_search() {
        let space = SearchSpace::paper(8);
        let data: [(&[f64], f64); 5] = [
            (&[1e-5; 8], 1.2825),
            (
                &[
                    4.07e-6, 2.10e-7, 2.43e-5, 7.54e-7, 1.36e-6, 6.96e-5, 6.99e-6, 4.08e-7,
                ],
                1.4325,
            ),
            (
                &[
                    3.4e-4, 1.6e-5, 1.4e-4, 2.7e-4, 7.7e-7, 5.0e-5, 5.3e-4, 1.2e-7,
                ],
                1.235,
            ),
            (
                &[
                    3.1e-5, 2.1e-7, 2.0e-6, 2.2e-7, 2.4e-5, 1.7e-4, 6.6e-7, 7.5e-7,
                ],
                1.4625,
            ),
            (
                &[
                    8.0e-5, 1.9e-7, 3.3e-4, 1.1e-4, 5.7e-7, 2.8e-4, 2.0e-7, 8.4e-6,
                ],
                1.4125,
            ),
        ];
        let observed: Vec<Observation> = data
            .iter()
            .map(|(rates, v)| Observation {
                rates: rates.to_vec(),
                p_s: v / 2.0,
                p_o: v / 2.0,
            })
            .collect();
        for seed in 0..3 {
            let rates = suggest_gp(&space, ObjectiveKind::Sum, &observed, &[], seed).unwrap();
            let dup = observed
                .iter()
                .position(|o| same_point(&space, &o.rates, &rates));
            assert_eq!(dup, None, "seed {seed}: the GP re-proposed trial {dup:?}");
        }
    }

    #[test]
    fn same_point_is_judged_in_decades() {
        let space = SearchSpace::paper(3);
        let a = [1e-5, 2e-6, 3e-4];
        assert!(same_point(&space, &a, &[1.0001e-5, 2e-6, 3e-4]));
        assert!(!same_point(&space, &a, &[1.1e-5, 2e-6, 3e-4]));
    }

    /// A smooth 3-D function of the `log10` rates with its maximum 2.0 at
    /// `(-5.5, -4.0, -6.0)`, split into two "scores".
    fn smooth(space: &SearchSpace, rates: &[f64]) -> (f64, f64) {
        let x = space.to_log(rates);
        let d2 = (x[0] + 5.5).powi(2) + (x[1] + 4.0).powi(2) + (x[2] + 6.0).powi(2);
        let v = (-d2 / 4.0).exp();
        (v, v)
    }

    fn run_search(sampler: SamplerKind, budget: u64, seed: u64) -> Vec<f64> {
        let space = SearchSpace::paper(3);
        let first = vec![1e-5; 3];
        let setup = SamplerSetup {
            space: &space,
            sampler,
            objective: ObjectiveKind::Sum,
            seed,
            first_trial: Some(&first),
        };
        let mut observed: Vec<Observation> = Vec::new();
        let mut values = Vec::new();
        for n in 0..budget {
            let s = suggest(&setup, n, &observed, &[]).unwrap();
            if n >= initial_points(3) as u64 && sampler != SamplerKind::Random {
                assert_eq!(s.sampled_by, sampler.name(), "trial {n}");
            }
            let (p_s, p_o) = smooth(&space, &s.rates);
            values.push(p_s + p_o);
            observed.push(Observation {
                rates: s.rates,
                p_s,
                p_o,
            });
        }
        values
    }

    fn best(v: &[f64]) -> f64 {
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }

    #[test]
    fn gp_beats_the_first_trial_and_random_search() {
        let budget = 14;
        let gp = run_search(SamplerKind::Gp, budget, 1);
        let first = gp[0];
        let gp_best = best(&gp);
        // Random search, averaged over seeds, with the same budget and first trial.
        let random_best: f64 = (0..5)
            .map(|s| best(&run_search(SamplerKind::Random, budget, s)))
            .sum::<f64>()
            / 5.0;
        eprintln!(
            "first {first:.4}, gp best {gp_best:.4}, random best (mean of 5) {random_best:.4}"
        );
        assert!(
            gp_best > first + 0.3,
            "GP best {gp_best} vs first trial {first}"
        );
        assert!(
            gp_best > random_best,
            "GP best {gp_best} vs random {random_best}"
        );
    }

    #[test]
    fn tpe_improves_on_the_first_trial() {
        let tpe = run_search(SamplerKind::Tpe, 20, 3);
        eprintln!("first {:.4}, tpe best {:.4}", tpe[0], best(&tpe));
        assert!(best(&tpe) > tpe[0] + 0.3, "{tpe:?}");
    }

    #[test]
    fn first_trial_then_random_until_enough_points() {
        let space = SearchSpace::paper(10);
        let first = vec![1e-5; 10];
        let setup = SamplerSetup {
            space: &space,
            sampler: SamplerKind::Gp,
            objective: ObjectiveKind::Sum,
            seed: 0,
            first_trial: Some(&first),
        };
        assert_eq!(suggest(&setup, 0, &[], &[]).unwrap().rates, first);
        let s = suggest(&setup, 1, &[], &[]).unwrap();
        assert_eq!(s.sampled_by, "random");
        space.check_rates(&s.rates).unwrap();
        assert_eq!(
            s,
            suggest(&setup, 1, &[], &[]).unwrap(),
            "reproducible per trial number"
        );
        assert_ne!(s.rates, suggest(&setup, 2, &[], &[]).unwrap().rates);
        assert_eq!(initial_points(10), 5);
    }

    #[test]
    fn pareto_gp_and_tpe_suggest_in_bounds() {
        let space = SearchSpace::paper(3);
        let mut observed = Vec::new();
        for n in 0..6u64 {
            let rates = space.sample(&mut trial_rng(9, n));
            let (a, _) = smooth(&space, &rates);
            observed.push(Observation {
                rates,
                p_s: a,
                p_o: 1.0 - a * a,
            });
        }
        for sampler in [SamplerKind::Gp, SamplerKind::Tpe] {
            let setup = SamplerSetup {
                space: &space,
                sampler,
                objective: ObjectiveKind::Pareto,
                seed: 4,
                first_trial: None,
            };
            let pending = vec![observed[0].rates.clone()];
            let s = suggest(&setup, 7, &observed, &pending).unwrap();
            assert_eq!(s.sampled_by, sampler.name());
            space.check_rates(&s.rates).unwrap();
        }
    }

    #[test]
    fn failed_trials_get_the_worst_scores_and_running_ones_are_pending() {
        let row = |number, state, p: Option<(f64, f64)>| TrialRow {
            number,
            state,
            rates: Some(vec![1e-5 * (number + 1) as f64]),
            p_s: p.map(|p| p.0),
            p_o: p.map(|p| p.1),
            ..TrialRow::empty("s", number)
        };
        let trials = [
            row(0, TrialState::Complete, Some((0.8, 0.6))),
            row(1, TrialState::Pruned, Some((0.5, 0.9))),
            row(2, TrialState::Failed, None),
            row(3, TrialState::Running, None),
        ];
        let (obs, pending) = observations(&trials);
        assert_eq!(obs.len(), 3);
        assert_eq!((obs[2].p_s, obs[2].p_o), (0.5, 0.6));
        assert_eq!(pending, vec![vec![4e-5]]);
    }
}
