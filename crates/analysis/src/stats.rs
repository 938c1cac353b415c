//! The tests used to compare a method with the flat learning rate: a paired t-test across
//! seeds within one setting, and a sign test across settings.

use statrs::distribution::{Binomial, ContinuousCDF, DiscreteCDF, StudentsT};

/// Outcome of a two-sided paired t-test on per-seed differences (method − flat).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PairedTest {
    /// Fewer than two pairs: no test is possible.
    TooFew { n: usize },
    /// All differences equal (up to float rounding, [`NO_VARIANCE_SD`]): the statistic is
    /// undefined.
    NoVariance { n: usize },
    /// A test with `n - 1` degrees of freedom.
    Tested { n: usize, t: f64, p: f64 },
}

pub use lrdist_record::stats::NO_VARIANCE_SD;

impl PairedTest {
    /// The test from the mean, sample standard deviation (ddof 1) and count of the
    /// differences; equals `scipy.stats.ttest_rel` on the paired samples.
    pub fn from_summary(mean: f64, sd: f64, n: usize) -> Self {
        if n < 2 {
            return PairedTest::TooFew { n };
        }
        if sd <= NO_VARIANCE_SD || !sd.is_finite() {
            return PairedTest::NoVariance { n };
        }
        let t = mean / (sd / (n as f64).sqrt());
        let dist = StudentsT::new(0.0, 1.0, (n - 1) as f64)
            .expect("degrees of freedom n - 1 >= 1 are valid");
        PairedTest::Tested {
            n,
            t,
            p: 2.0 * dist.sf(t.abs()),
        }
    }

    /// The test on paired differences.
    pub fn from_differences(differences: &[f64]) -> Self {
        let n = differences.len();
        let mean = differences.iter().sum::<f64>() / n.max(1) as f64;
        let sd = sample_sd(differences).unwrap_or(f64::NAN);
        Self::from_summary(mean, sd, n)
    }

    /// The number of pairs.
    pub fn n(&self) -> usize {
        match *self {
            PairedTest::TooFew { n }
            | PairedTest::NoVariance { n }
            | PairedTest::Tested { n, .. } => n,
        }
    }

    /// The p-value, if a test was possible.
    pub fn p(&self) -> Option<f64> {
        match self {
            PairedTest::Tested { p, .. } => Some(*p),
            _ => None,
        }
    }
}

/// Two-sided exact sign test across settings: the probability, if a method were as often
/// better as worse than flat (each setting 1/2, independently), of a split at least as
/// uneven as `better` vs `worse`. Ties (settings with no difference) are left out, as
/// `scipy.stats.binomtest(better, better + worse)` does. `None` when every setting is a tie.
pub fn sign_test(better: usize, worse: usize) -> Option<f64> {
    let n = better + worse;
    if n == 0 {
        return None;
    }
    let tail = Binomial::new(0.5, n as u64)
        .expect("p = 1/2 is a valid probability")
        .cdf(better.min(worse) as u64);
    Some((2.0 * tail).min(1.0))
}

pub use lrdist_record::sample_sd;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_closed_form_for_two_degrees_of_freedom() {
        // d = [.03, .02, .04]: mean .03, sd .01, t = .03 / (.01 / sqrt 3) = 5.196152.
        // With 2 df, P(T > t) = 1/2 - t / (2 sqrt(2 + t^2)) = 0.0175490, so p = 0.0350980
        // (scipy.stats.ttest_rel gives the same).
        let test = PairedTest::from_differences(&[0.03, 0.02, 0.04]);
        let PairedTest::Tested { n, t, p } = test else {
            panic!("{test:?}")
        };
        assert_eq!(n, 3);
        assert!((t - 5.196152).abs() < 1e-5, "t = {t}");
        assert!((p - 0.0350980).abs() < 1e-6, "p = {p}");
    }

    #[test]
    fn one_pair_or_no_variance_is_no_test() {
        assert_eq!(
            PairedTest::from_differences(&[0.1]),
            PairedTest::TooFew { n: 1 }
        );
        assert_eq!(
            PairedTest::from_differences(&[0.1, 0.1]),
            PairedTest::NoVariance { n: 2 }
        );
        assert_eq!(sample_sd(&[1.0, 3.0]), Some(2f64.sqrt()));
        // Equal differences as floats compute them (0.5 - 0.475, 0.5025 - 0.4775):
        // rounding leaves a spread of about 1e-17, which is no variance, not p ~ 1e-29.
        let d = [0.5 - 0.475, 0.5025 - 0.4775];
        assert!(sample_sd(&d).unwrap() > 0.0);
        assert_eq!(
            PairedTest::from_differences(&d),
            PairedTest::NoVariance { n: 2 }
        );
    }

    #[test]
    fn sign_test_is_the_two_sided_binomial_tail() {
        // 6 of 7 better: 2 (C(7,0) + C(7,1)) / 2^7 = 16 / 128.
        assert!((sign_test(6, 1).unwrap() - 0.125).abs() < 1e-12);
        assert!((sign_test(1, 6).unwrap() - 0.125).abs() < 1e-12);
        // 7 of 7: 2 / 128; an even split is capped at 1.
        assert!((sign_test(7, 0).unwrap() - 0.015_625).abs() < 1e-12);
        assert_eq!(sign_test(3, 3), Some(1.0));
        assert_eq!(sign_test(0, 0), None);
    }
}
