//! The measures of the forget-scale evaluation (docs/METHOD.md, "Evaluation at the forget
//! scale"): the flat frontier and a method's gain over it, the share of flat's forgetting a
//! method removes, and the sequence metrics computed from a record's accuracy matrix.

/// Differences closer to 0 than this are ties (floating-point noise; one dev row in 400
/// is 2.5e-3), as in the `unseen` table.
pub const TIE: f64 = 1e-9;

pub use lrdist_record::frontier_rate;

/// One point of the flat curve: a flat rate's mean p_s and p_o over its seeds, and the
/// standard error of its mean p_o (`None` below two seeds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlatPoint {
    pub p_s: f64,
    pub p_o: f64,
    pub se: Option<f64>,
}

/// The flat curve of one setting: p_o as a function of p_s, piecewise linear between
/// neighbouring flat points ordered by mean p_s (docs/METHOD.md "The flat frontier").
/// Points with equal mean p_s are merged into one with their mean p_o. Only the points no
/// other flat point beats in both p_s and p_o are on it ([`beats_in_both`]): a rate that
/// learns less of B *and* keeps less of A than another is no trade on offer.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatCurve {
    points: Vec<FlatPoint>,
}

/// What the curve says at a method's p_s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CurveAt {
    /// Inside the span of the flat points: the curve's p_o there and its standard error.
    Inside { p_o: f64, se: Option<f64> },
    /// Below the lowest flat p_s: no flat point learns B this little, no claim.
    BelowSpan,
    /// Above the highest flat p_s: no flat point learns B this much, no claim.
    AboveSpan,
}

impl FlatCurve {
    /// The curve through the unbeaten `points`; `None` with fewer than two distinct p_s
    /// among all of them (no curve). When one flat point beats every other, the curve is
    /// that point alone: no span to interpolate in, but it still beats what it beats.
    pub fn new(points: impl IntoIterator<Item = FlatPoint>) -> Option<Self> {
        let mut points: Vec<FlatPoint> = points
            .into_iter()
            .filter(|p| p.p_s.is_finite() && p.p_o.is_finite())
            .collect();
        points.sort_by(|a, b| a.p_s.total_cmp(&b.p_s).then(a.p_o.total_cmp(&b.p_o)));
        let mut groups: Vec<Vec<FlatPoint>> = Vec::new();
        for p in points {
            match groups.last_mut() {
                Some(group) if (p.p_s - group[0].p_s).abs() <= TIE => group.push(p),
                _ => groups.push(vec![p]),
            }
        }
        // Equal p_s: the mean of the p_o's, with the standard error of a mean of
        // independent estimates, sqrt(sum se^2) / k.
        let points: Vec<FlatPoint> = groups
            .into_iter()
            .map(|group| {
                let k = group.len() as f64;
                let variance: Option<f64> = group.iter().map(|p| p.se.map(|s| s * s)).sum();
                FlatPoint {
                    p_s: group[0].p_s,
                    p_o: group.iter().map(|p| p.p_o).sum::<f64>() / k,
                    se: variance.map(|v| v.sqrt() / k),
                }
            })
            .collect();
        if points.len() < 2 {
            return None;
        }
        let unbeaten = points
            .iter()
            .filter(|p| {
                !points
                    .iter()
                    .any(|q| beats_in_both(q.p_s, q.p_o, p.p_s, p.p_o))
            })
            .copied()
            .collect();
        Some(FlatCurve { points: unbeaten })
    }

    /// The point of the curve that beats `(p_s, p_o)` in both p_s and p_o, the one with
    /// the highest p_o if several do; `None` for a point on the curve or above it. A flat
    /// point it returns one for is off the curve.
    pub fn beaten_by(&self, p_s: f64, p_o: f64) -> Option<FlatPoint> {
        self.points
            .iter()
            .filter(|q| beats_in_both(q.p_s, q.p_o, p_s, p_o))
            .max_by(|a, b| a.p_o.total_cmp(&b.p_o))
            .copied()
    }

    /// The points, ordered by p_s.
    pub fn points(&self) -> &[FlatPoint] {
        &self.points
    }

    /// The lowest and highest p_s of the flat points.
    pub fn span(&self) -> (f64, f64) {
        (self.points[0].p_s, self.points[self.points.len() - 1].p_s)
    }

    /// The curve at `p_s`: linear interpolation between the two neighbouring flat points,
    /// with standard error `sqrt((1 - w)^2 se_0^2 + w^2 se_1^2)` at weight `w` of the upper
    /// neighbour (the two points' seeds are independent); no extrapolation.
    pub fn at(&self, p_s: f64) -> CurveAt {
        let (lo, hi) = self.span();
        if p_s < lo - TIE {
            return CurveAt::BelowSpan;
        }
        if p_s > hi + TIE {
            return CurveAt::AboveSpan;
        }
        if let [only] = self.points.as_slice() {
            return CurveAt::Inside {
                p_o: only.p_o,
                se: only.se,
            };
        }
        let p_s = p_s.clamp(lo, hi);
        let upper = self
            .points
            .iter()
            .position(|p| p.p_s >= p_s)
            .unwrap_or(self.points.len() - 1)
            .max(1);
        let (a, b) = (self.points[upper - 1], self.points[upper]);
        let w = (p_s - a.p_s) / (b.p_s - a.p_s);
        let se = match (a.se, b.se) {
            (Some(sa), Some(sb)) => Some(((1.0 - w).powi(2) * sa * sa + w * w * sb * sb).sqrt()),
            _ => None,
        };
        CurveAt::Inside {
            p_o: a.p_o + w * (b.p_o - a.p_o),
            se,
        }
    }
}

/// Whether a point at (`q_s`, `q_o`) beats (`p_s`, `p_o`) in both p_s and p_o: at least as
/// high in each and higher in one, beyond [`TIE`]. A flat rate that beats a method in both
/// makes a better trade than the method outright, wherever the curve between the flat
/// points runs (docs/METHOD.md, "The flat frontier"). Means over seeds: a guide, not a
/// test.
pub fn beats_in_both(q_s: f64, q_o: f64, p_s: f64, p_o: f64) -> bool {
    q_s >= p_s - TIE && q_o >= p_o - TIE && (q_s > p_s + TIE || q_o > p_o + TIE)
}

/// A method against the flat curve of its setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Frontier {
    /// The method's p_s lies in the curve's span: `gain` = its mean p_o minus the curve's
    /// p_o at its mean p_s, with a standard error from the seeds of the method and of the
    /// two neighbouring flat points (p_s taken as exact).
    Gain {
        curve_p_o: f64,
        gain: f64,
        se: Option<f64>,
    },
    /// Outside the span, and a flat point beats it in both p_s and p_o (that point): below
    /// the frontier, with no gain figure (no curve there to measure it from).
    Dominated(FlatPoint),
    /// Outside the span and not beaten: no gain is claimed.
    Outside(CurveAt),
}

impl Frontier {
    /// Where `(p_s, p_o)`, means over seeds with `p_o_se` the standard error of the mean
    /// p_o, lies against `curve`.
    pub fn of(curve: &FlatCurve, p_s: f64, p_o: f64, p_o_se: Option<f64>) -> Self {
        match curve.at(p_s) {
            CurveAt::Inside { p_o: on, se } => Frontier::Gain {
                curve_p_o: on,
                gain: p_o - on,
                se: match (se, p_o_se) {
                    (Some(a), Some(b)) => Some((a * a + b * b).sqrt()),
                    _ => None,
                },
            },
            outside => match curve.beaten_by(p_s, p_o) {
                Some(q) => Frontier::Dominated(q),
                None => Frontier::Outside(outside),
            },
        }
    }

    /// The gain, when one is claimed.
    pub fn gain(&self) -> Option<f64> {
        match self {
            Frontier::Gain { gain, .. } => Some(*gain),
            Frontier::Dominated(_) | Frontier::Outside(_) => None,
        }
    }

    /// `above` (keeps more of A than flat at the same learning of B), `below`, `on`
    /// (|gain| < [`TIE`]), `below (a flat rate beats it in both)` outside the span, or why
    /// there is no gain: `outside (p_s below the flat points)`, `outside (p_s above the
    /// flat points)`.
    pub fn position(&self) -> &'static str {
        match self {
            Frontier::Gain { gain, .. } if *gain > TIE => "above",
            Frontier::Gain { gain, .. } if *gain < -TIE => "below",
            Frontier::Gain { .. } => "on",
            Frontier::Dominated(_) => "below (a flat rate beats it in both)",
            Frontier::Outside(CurveAt::BelowSpan) => "outside (p_s below the flat points)",
            Frontier::Outside(_) => "outside (p_s above the flat points)",
        }
    }
}

/// The share of flat's forgetting a method removes, from the seeds both ran: with per seed
/// `a1` (shared under stage-2-only), flat's p_o and the method's p_o,
/// `sum (p_o(m) - p_o(flat)) / sum (a1 - p_o(flat))`, the mean Δp_o over the mean
/// forgetting of flat (a ratio of means, so a seed where flat hardly forgets does not blow
/// it up). 1 means all of flat's forgetting is gone, 0 none, negative more forgetting.
/// `None` without pairs or when flat's mean forgetting is not positive.
pub fn share_removed(pairs: &[(f64, f64, f64)]) -> Option<f64> {
    let removed: f64 = pairs.iter().map(|&(_, flat, m)| m - flat).sum();
    let forgotten: f64 = pairs
        .iter()
        .map(|&(a1, flat, _)| lrdist_record::forgetting(a1, flat))
        .sum();
    (!pairs.is_empty() && forgotten > TIE * pairs.len() as f64).then(|| removed / forgotten)
}

/// What an N-task sequence leaves, from its accuracy matrix `R[i][j]` (task j's dev score
/// after stage i; docs/METHOD.md "Metrics" and "Evaluation at the forget scale").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SequenceMetrics {
    /// Average accuracy after the last task: `1/N sum_j R[N-1][j]`.
    pub avg_accuracy: f64,
    /// Backward transfer: `1/(N-1) sum_{j<N-1} (R[N-1][j] - R[j][j])`.
    pub backward_transfer: f64,
    /// Forgetting, the one meaning of every table: `a1 - p_o = R[0][0] - R[N-1][0]`, the
    /// first task's loss from right after it was trained to the end.
    pub forgetting: f64,
    /// Chaudhry et al.'s forgetting, named apart: `1/(N-1) sum_{j<N-1} max_{j<=l<N-1}
    /// R[l][j] - R[N-1][j]`, over every earlier task and from each one's best row.
    pub max_drop_forgetting: f64,
}

impl SequenceMetrics {
    /// The metrics of `matrix`; `None` with fewer than two rows or an empty cell on the
    /// diagonal or the last row. Equal to the record's `cl` field
    /// (`lrdist_train::protocol::cl_metrics`) for average accuracy, backward transfer and
    /// max-drop forgetting.
    pub fn from_matrix(matrix: &[Vec<Option<f64>>]) -> Option<Self> {
        let n = matrix.len();
        if n < 2 {
            return None;
        }
        let at = |i: usize, j: usize| matrix[i].get(j).copied().flatten();
        let last: Vec<f64> = (0..n).map(|j| at(n - 1, j)).collect::<Option<_>>()?;
        let diag: Vec<f64> = (0..n).map(|j| at(j, j)).collect::<Option<_>>()?;
        let earlier = (n - 1) as f64;
        let backward_transfer = (0..n - 1).map(|j| last[j] - diag[j]).sum::<f64>() / earlier;
        let max_drop = (0..n - 1)
            .map(|j| {
                let best = (j..n - 1)
                    .filter_map(|l| at(l, j))
                    .fold(f64::NEG_INFINITY, f64::max);
                best - last[j]
            })
            .sum::<f64>()
            / earlier;
        Some(SequenceMetrics {
            avg_accuracy: last.iter().sum::<f64>() / n as f64,
            backward_transfer,
            forgetting: lrdist_record::forgetting(diag[0], last[0]),
            max_drop_forgetting: max_drop,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(p_s: f64, p_o: f64, se: f64) -> FlatPoint {
        FlatPoint {
            p_s,
            p_o,
            se: Some(se),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn the_curve_interpolates_between_neighbours_by_p_s() {
        // Given out of order: sorted by p_s to (.70, .78), (.74, .76), (.78, .72), (.80, .66).
        let curve = FlatCurve::new([
            point(0.78, 0.72, 0.02),
            point(0.70, 0.78, 0.01),
            point(0.80, 0.66, 0.0),
            point(0.74, 0.76, 0.01),
        ])
        .unwrap();
        assert_eq!(curve.span(), (0.70, 0.80));
        // .77 is 3/4 of the way from .74 to .78: .76 - .75 * .04 = .73; se: sqrt((1/4 .01)^2
        // + (3/4 .02)^2) = sqrt(6.25e-6 + 2.25e-4) = .0152069.
        let CurveAt::Inside { p_o, se } = curve.at(0.77) else {
            panic!()
        };
        assert!(close(p_o, 0.73), "{p_o}");
        assert!((se.unwrap() - 0.015_206_9).abs() < 1e-7, "{se:?}");
        // On a flat point the curve is that point, at both ends too.
        let on = |x| match curve.at(x) {
            CurveAt::Inside { p_o, .. } => p_o,
            other => panic!("{other:?}"),
        };
        assert!(close(on(0.74), 0.76));
        assert!(close(on(0.70), 0.78));
        assert!(close(on(0.80), 0.66));
        assert!(close(on(0.79), 0.69));
        // No extrapolation.
        assert_eq!(curve.at(0.69), CurveAt::BelowSpan);
        assert_eq!(curve.at(0.81), CurveAt::AboveSpan);
    }

    #[test]
    fn a_curve_needs_two_distinct_rates_and_merges_equal_p_s() {
        assert!(FlatCurve::new([point(0.7, 0.8, 0.01)]).is_none());
        assert!(FlatCurve::new([point(0.7, 0.8, 0.01), point(0.7, 0.6, 0.01)]).is_none());
        let curve = FlatCurve::new([
            point(0.7, 0.8, 0.02),
            point(0.7, 0.6, 0.02),
            point(0.9, 0.5, 0.01),
        ])
        .unwrap();
        assert_eq!(curve.points().len(), 2);
        assert!(close(curve.points()[0].p_o, 0.7));
        // The mean of two independent estimates: sqrt(.02^2 + .02^2) / 2.
        assert!(close(curve.points()[0].se.unwrap(), 0.0008f64.sqrt() / 2.0));
    }

    #[test]
    fn gain_is_p_o_above_the_curve_and_none_outside_it() {
        let curve = FlatCurve::new([point(0.76, 0.74, 0.0), point(0.78, 0.72, 0.0)]).unwrap();
        let f = Frontier::of(&curve, 0.77, 0.76, Some(0.01));
        let Frontier::Gain {
            curve_p_o,
            gain,
            se,
        } = f
        else {
            panic!("{f:?}")
        };
        assert!(close(curve_p_o, 0.73) && close(gain, 0.03), "{f:?}");
        assert!(close(se.unwrap(), 0.01));
        assert_eq!(f.position(), "above");
        assert_eq!(Frontier::of(&curve, 0.77, 0.72, None).position(), "below");
        assert_eq!(Frontier::of(&curve, 0.77, 0.73, None).position(), "on");
        let outside = Frontier::of(&curve, 0.80, 0.9, None);
        assert_eq!(outside.gain(), None);
        assert_eq!(outside.position(), "outside (p_s above the flat points)");
        assert_eq!(
            Frontier::of(&curve, 0.5, 0.9, None).position(),
            "outside (p_s below the flat points)"
        );
    }

    #[test]
    fn a_flat_point_another_beats_in_both_is_off_the_curve() {
        // QQP -> SST-2's shape: 2e-4 (.821, .657) and 1e-4 (.8275, .728) learn less of B
        // and keep less of A than 5e-5 (.829, .7425); 2e-5 and 1e-5 trade B for A.
        let curve = FlatCurve::new([
            point(0.7825, 0.7742, 0.0),
            point(0.81, 0.7633, 0.0),
            point(0.821, 0.6567, 0.0),
            point(0.8275, 0.7283, 0.0),
            point(0.829, 0.7425, 0.0),
        ])
        .unwrap();
        let on: Vec<(f64, f64)> = curve.points().iter().map(|p| (p.p_s, p.p_o)).collect();
        assert_eq!(on, [(0.7825, 0.7742), (0.81, 0.7633), (0.829, 0.7425)]);
        assert_eq!(curve.beaten_by(0.821, 0.6567).unwrap().p_s, 0.829);
        assert_eq!(curve.beaten_by(0.81, 0.7633), None, "on the curve");
        // A method at (.8267, .7367): a curve through every point would dip to .7195
        // there (between 2e-4 and 1e-4) and put it above; 5e-5 beats it in both.
        let f = Frontier::of(&curve, 0.8267, 0.7367, None);
        assert_eq!(f.position(), "below");
        let at = 0.7633 + (0.8267 - 0.81) / (0.829 - 0.81) * (0.7425 - 0.7633);
        assert!(close(f.gain().unwrap(), 0.7367 - at), "{f:?}");
        // Below the span: beaten by 1e-5 and 2e-5, or no claim when it keeps more of A
        // than any flat rate.
        let below = Frontier::of(&curve, 0.77, 0.76, None);
        assert_eq!(below.position(), "below (a flat rate beats it in both)");
        assert_eq!(below.gain(), None);
        assert_eq!(
            Frontier::of(&curve, 0.77, 0.78, None).position(),
            "outside (p_s below the flat points)"
        );
    }

    #[test]
    fn a_flat_point_that_beats_all_others_is_the_whole_curve() {
        let curve = FlatCurve::new([point(0.80, 0.75, 0.01), point(0.78, 0.70, 0.01)]).unwrap();
        assert_eq!(curve.points().len(), 1);
        assert_eq!(curve.span(), (0.80, 0.80));
        let f = Frontier::of(&curve, 0.80, 0.76, None);
        assert!(close(f.gain().unwrap(), 0.01), "{f:?}");
        assert_eq!(
            Frontier::of(&curve, 0.79, 0.74, None).position(),
            "below (a flat rate beats it in both)"
        );
        assert_eq!(
            Frontier::of(&curve, 0.79, 0.77, None).position(),
            "outside (p_s below the flat points)"
        );
        assert_eq!(
            Frontier::of(&curve, 0.81, 0.70, None).position(),
            "outside (p_s above the flat points)"
        );
    }

    #[test]
    fn beaten_in_both_needs_one_strictly_higher_and_neither_lower() {
        assert!(beats_in_both(0.829, 0.7425, 0.8267, 0.7367));
        assert!(
            beats_in_both(0.80, 0.75, 0.80, 0.74),
            "equal p_s, higher p_o"
        );
        assert!(!beats_in_both(0.80, 0.74, 0.80, 0.74), "itself");
        assert!(!beats_in_both(0.81, 0.73, 0.80, 0.74), "a trade, not a win");
        assert!(!beats_in_both(0.80 + 1e-10, 0.74, 0.80, 0.74), "within TIE");
    }

    #[test]
    fn share_removed_is_the_mean_gain_over_flats_mean_forgetting() {
        // a1 .80 both seeds, flat p_o .70 / .74 (forgetting .10 / .06), method .75 / .77:
        // (.05 + .03) / (.10 + .06) = .5.
        let share = share_removed(&[(0.80, 0.70, 0.75), (0.80, 0.74, 0.77)]).unwrap();
        assert!((share - 0.5).abs() < 1e-12, "{share}");
        // All of it, none of it, more than none.
        assert!(close(share_removed(&[(0.8, 0.7, 0.8)]).unwrap(), 1.0));
        assert!(close(share_removed(&[(0.8, 0.7, 0.7)]).unwrap(), 0.0));
        assert!(close(share_removed(&[(0.8, 0.7, 0.65)]).unwrap(), -0.5));
        // Flat that does not forget leaves nothing to remove.
        assert_eq!(share_removed(&[(0.8, 0.8, 0.85)]), None);
        assert_eq!(share_removed(&[(0.8, 0.82, 0.85)]), None);
        assert_eq!(share_removed(&[]), None);
    }

    #[test]
    fn sequence_metrics_on_a_hand_computed_matrix() {
        // Four tasks; task 0 rises after stage 1 (.66 -> .72) before it falls to .60.
        let r = vec![
            vec![Some(0.70), None, None, None],
            vec![Some(0.66), Some(0.80), None, None],
            vec![Some(0.72), Some(0.76), Some(0.40), None],
            vec![Some(0.60), Some(0.74), Some(0.30), Some(0.90)],
        ];
        let m = SequenceMetrics::from_matrix(&r).unwrap();
        // (.60 + .74 + .30 + .90) / 4 = .635.
        assert!((m.avg_accuracy - 0.635).abs() < 1e-12, "{m:?}");
        // ((.60 - .70) + (.74 - .80) + (.30 - .40)) / 3 = -.26 / 3.
        assert!((m.backward_transfer + 0.26 / 3.0).abs() < 1e-12, "{m:?}");
        // a1 - p_o = .70 - .60.
        assert!((m.forgetting - 0.10).abs() < 1e-12, "{m:?}");
        // Chaudhry: task 0 from its best row (.72): .12; task 1 .80 - .74 = .06; task 2
        // .40 - .30 = .10; mean .28 / 3 — not the negative of backward transfer here.
        assert!((m.max_drop_forgetting - 0.28 / 3.0).abs() < 1e-12, "{m:?}");
        // A pair: all three forgettings agree and BWT is their negative.
        let pair = vec![vec![Some(0.9), None], vec![Some(0.8), Some(0.7)]];
        let p = SequenceMetrics::from_matrix(&pair).unwrap();
        assert!(close(p.forgetting, 0.1) && close(p.max_drop_forgetting, 0.1));
        assert!(close(p.backward_transfer, -0.1) && close(p.avg_accuracy, 0.75));
        // Incomplete or single-stage matrices have none.
        assert_eq!(SequenceMetrics::from_matrix(&pair[..1]), None);
        let holed = vec![vec![Some(0.9), None], vec![None, Some(0.7)]];
        assert_eq!(SequenceMetrics::from_matrix(&holed), None);
    }
}
