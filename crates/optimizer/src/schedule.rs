//! The learning-rate schedule of one training stage.
//!
//! docs/METHOD.md, "Learning-rate groups": "a cosine schedule with 10 % linear warm-up,
//! restarted at each training stage". We use the Hugging Face form
//! (`get_cosine_schedule_with_warmup`, warm-up steps = `ceil(warmup_frac * total)` as in
//! `TrainingArguments.get_warmup_steps`): a linear ramp 0 → 1 over the warm-up steps, then
//! a half cosine 1 → 0 over the remaining steps. The factor scales every group's rate.
//!
//! The authors' `CosineWarmupScheduler` (embedder.py) differs slightly: it multiplies a
//! cosine over the whole stage by the warm-up ramp, so its peak is 0.5 (1 + cos 0.1π) ≈
//! 0.976 and it is ≈ 0.5 at mid-stage where this schedule is ≈ 0.59.

/// Linear warm-up then cosine decay over `total_steps` optimiser steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    pub total_steps: usize,
    pub warmup_frac: f64,
}

impl Schedule {
    /// Number of warm-up steps, `ceil(warmup_frac * total_steps)`.
    pub fn warmup_steps(&self) -> usize {
        (self.warmup_frac * self.total_steps as f64).ceil() as usize
    }

    /// The factor applied to every rate for the optimiser step numbered `step` (0-based).
    /// Step 0 of a stage with warm-up has factor 0, as in Hugging Face; from
    /// `total_steps` on the factor stays 0.
    pub fn factor(&self, step: usize) -> f64 {
        let warmup = self.warmup_steps();
        if step < warmup {
            return step as f64 / warmup.max(1) as f64;
        }
        if step >= self.total_steps {
            return 0.0;
        }
        let progress = (step - warmup) as f64 / (self.total_steps - warmup).max(1) as f64;
        0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_follow_the_hugging_face_formula() {
        // 100 steps, 10 warm-up steps; cosine part: 0.5 (1 + cos(pi (s - 10) / 90)).
        let s = Schedule {
            total_steps: 100,
            warmup_frac: 0.1,
        };
        assert_eq!(s.warmup_steps(), 10);
        let expected = [
            (0, 0.0),
            (5, 0.5),
            (10, 1.0),
            (25, 0.5 * (1.0 + 3f64.sqrt() / 2.0)), // progress 1/6
            (55, 0.5),                             // progress 1/2
            (85, 0.5 * (1.0 - 3f64.sqrt() / 2.0)), // progress 5/6
            (100, 0.0),
        ];
        for (step, want) in expected {
            assert!(
                (s.factor(step) - want).abs() < 1e-12,
                "step {step}: {}",
                s.factor(step)
            );
        }
    }

    #[test]
    fn without_warmup_the_first_step_has_the_full_rate() {
        let s = Schedule {
            total_steps: 7,
            warmup_frac: 0.0,
        };
        assert_eq!(s.warmup_steps(), 0);
        assert_eq!(s.factor(0), 1.0);
        assert!(s.factor(6) > 0.0 && s.factor(6) < 0.1);
        // A tiny stage still warms up for one step (ceil), like Hugging Face.
        let tiny = Schedule {
            total_steps: 3,
            warmup_frac: 0.1,
        };
        assert_eq!(
            (tiny.warmup_steps(), tiny.factor(0), tiny.factor(1)),
            (1, 0.0, 1.0)
        );
    }
}
