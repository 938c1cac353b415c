//! The bars a setting must clear to test the paper's question (docs/METHOD.md, "The
//! forget scale"): task A is learned, and flat forgets.

/// How far above its majority score task A must end stage 1 to count as learned
/// (accuracy tasks).
pub const LEARNED_MARGIN: f64 = 0.10;
/// CoLA's bar: Matthews correlation (its majority score is 0).
pub const LEARNED_MATTHEWS: f64 = 0.25;
/// STS-B's bar: Pearson correlation (a constant has none).
pub const LEARNED_PEARSON: f64 = 0.6;
/// How much of task A flat must forget, `a1 - p_o` (mean over seeds).
pub const FORGETS: f64 = 0.05;

/// Whether task `task` (GLUE name) scoring `a1` after stage 1 counts as learned, given the
/// score of always predicting its most frequent dev label (`majority`, `None` where it has
/// none). CoLA needs Matthews >= 0.25, STS-B Pearson >= 0.6, every other task an `a1` at
/// least 0.10 above its majority score.
pub fn task_a_learned(task: &str, a1: f64, majority: Option<f64>) -> bool {
    match task {
        "cola" => a1 >= LEARNED_MATTHEWS,
        "stsb" => a1 >= LEARNED_PEARSON,
        _ => majority.is_some_and(|m| a1 >= m + LEARNED_MARGIN - 1e-12),
    }
}

/// Whether a mean forgetting `a1 - p_o` is real forgetting.
pub fn flat_forgets(forgetting: f64) -> bool {
    forgetting >= FORGETS - 1e-12
}

/// The bar of `task` in words, for table footers.
pub fn learned_bar(task: &str) -> &'static str {
    match task {
        "cola" => "Matthews >= 0.25",
        "stsb" => "Pearson >= 0.6",
        _ => "a1 >= majority + 0.10",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_task_kind_has_its_bar() {
        assert!(task_a_learned("sst2", 0.61, Some(0.51)));
        assert!(!task_a_learned("sst2", 0.60, Some(0.51)));
        assert!(!task_a_learned("rte", 0.9, None));
        assert!(task_a_learned("cola", 0.25, Some(0.0)));
        assert!(!task_a_learned("cola", 0.24, Some(0.0)));
        assert!(task_a_learned("stsb", 0.6, None));
        assert!(!task_a_learned("stsb", 0.59, None));
        assert!(flat_forgets(0.05) && !flat_forgets(0.049));
    }
}
