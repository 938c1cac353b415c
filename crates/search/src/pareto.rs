//! The Pareto front over `(p_s, p_o)` of `--objective pareto`, its hypervolume, and the
//! random Chebyshev scalarisation (ParEGO, Knowles 2006) that lets scalar samplers (TPE)
//! search for it.

use rand::rngs::ChaCha8Rng;
use rand::RngExt;

/// Indices (ascending) of the points that no other point dominates, both coordinates being
/// maximised. `a` dominates `b` when `a >= b` in both coordinates and `a > b` in one, so
/// duplicates of a front point are all kept. Points with a NaN coordinate are never on it.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<usize> {
    let dominates =
        |a: (f64, f64), b: (f64, f64)| a.0 >= b.0 && a.1 >= b.1 && (a.0 > b.0 || a.1 > b.1);
    (0..points.len())
        .filter(|&i| {
            let p = points[i];
            !p.0.is_nan() && !p.1.is_nan() && !points.iter().any(|q| dominates(*q, p))
        })
        .collect()
}

/// The area dominated by `points` and bounded below by `reference` (both coordinates
/// maximised); points not above the reference in both coordinates add nothing. Takes any
/// point set, front or not: dominated points add nothing either.
pub fn hypervolume_2d(points: &[(f64, f64)], reference: (f64, f64)) -> f64 {
    let mut above: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.0 > reference.0 && p.1 > reference.1)
        .collect();
    above.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut area = 0.0;
    let mut best_y = reference.1;
    for (x, y) in above {
        if y > best_y {
            area += (x - reference.0) * (y - best_y);
            best_y = y;
        }
    }
    area
}

/// ParEGO's augmentation coefficient.
const RHO: f64 = 0.05;

/// Augmented Chebyshev costs (to minimise) of `points` under one random weight: each
/// coordinate is normalised by its observed range to `[0, 1]` (1 = best), then
/// `cost = max_j w_j (1 - f_j) + 0.05 * sum_j w_j (1 - f_j)` with `w = (u, 1 - u)`, `u`
/// uniform from `rng`. Minimising it for a fresh `w` at every suggestion spreads the
/// search along the front.
pub fn chebyshev_costs(points: &[(f64, f64)], rng: &mut ChaCha8Rng) -> Vec<f64> {
    let u: f64 = rng.random();
    let w = [u, 1.0 - u];
    let range = |f: fn(&(f64, f64)) -> f64| {
        let lo = points.iter().map(f).fold(f64::INFINITY, f64::min);
        let hi = points.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
        (lo, (hi - lo).max(1e-12))
    };
    let (lo0, span0) = range(|p| p.0);
    let (lo1, span1) = range(|p| p.1);
    points
        .iter()
        .map(|p| {
            let d = [
                w[0] * (1.0 - (p.0 - lo0) / span0),
                w[1] * (1.0 - (p.1 - lo1) / span1),
            ];
            d[0].max(d[1]) + RHO * (d[0] + d[1])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::trial_rng;

    #[test]
    fn front_keeps_non_dominated_points() {
        let pts = [
            (0.9, 0.5),
            (0.8, 0.8),
            (0.5, 0.9),
            (0.7, 0.7),
            (0.8, 0.8),
            (0.4, 0.4),
        ];
        assert_eq!(pareto_front(&pts), vec![0, 1, 2, 4]);
        assert_eq!(pareto_front(&[]), Vec::<usize>::new());
        assert_eq!(pareto_front(&[(f64::NAN, 1.0), (0.1, 0.1)]), vec![1]);
    }

    #[test]
    fn hypervolume_of_a_staircase() {
        // Front (0.9, 0.5), (0.8, 0.8), (0.5, 0.9) against (0, 0):
        // 0.9*0.5 + 0.8*(0.8-0.5) + 0.5*(0.9-0.8) = 0.45 + 0.24 + 0.05 = 0.74.
        let pts = [(0.9, 0.5), (0.8, 0.8), (0.5, 0.9), (0.7, 0.7)];
        assert!((hypervolume_2d(&pts, (0.0, 0.0)) - 0.74).abs() < 1e-12);
        // Reference (0.6, 0.6) cuts off the points not above it.
        // (0.8-0.6)*(0.8-0.6) + (0.7 - ...) dominated -> 0.04.
        assert!((hypervolume_2d(&pts, (0.6, 0.6)) - 0.04).abs() < 1e-12);
        assert_eq!(hypervolume_2d(&[], (0.0, 0.0)), 0.0);
    }

    #[test]
    fn chebyshev_costs_rank_a_dominating_point_first() {
        let pts = [(0.5, 0.5), (0.9, 0.9), (0.6, 0.8)];
        for seed in 0..20 {
            let c = chebyshev_costs(&pts, &mut trial_rng(seed, 0));
            assert!(c[1] < c[0] && c[1] < c[2], "seed {seed}: {c:?}");
        }
    }
}
