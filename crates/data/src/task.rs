//! The nine GLUE tasks: names, folders, label sets and metrics.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A GLUE task, named as users type it (`cola sst2 mrpc stsb qqp mnli qnli rte wnli`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Cola,
    Sst2,
    Mrpc,
    Stsb,
    Qqp,
    Mnli,
    Qnli,
    Rte,
    Wnli,
}

/// Where a task's text and label sit in its TSV files.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Layout {
    /// No header line (CoLA): fixed column indices and a fixed column count.
    Positional {
        columns: usize,
        text_a: usize,
        label: usize,
    },
    /// A header line: columns are found by name, every row must have as many
    /// fields as the header.
    Named {
        text_a: &'static str,
        text_b: Option<&'static str>,
        label: &'static str,
    },
}

impl Task {
    /// All tasks, in the GLUE benchmark's order.
    pub fn all() -> [Task; 9] {
        use Task::*;
        [Cola, Sst2, Mrpc, Stsb, Qqp, Mnli, Qnli, Rte, Wnli]
    }

    /// The name users type and files record: `"sst2"`.
    pub fn name(self) -> &'static str {
        match self {
            Task::Cola => "cola",
            Task::Sst2 => "sst2",
            Task::Mrpc => "mrpc",
            Task::Stsb => "stsb",
            Task::Qqp => "qqp",
            Task::Mnli => "mnli",
            Task::Qnli => "qnli",
            Task::Rte => "rte",
            Task::Wnli => "wnli",
        }
    }

    /// The task's folder in the GLUE download: `"SST-2"`.
    pub fn dir_name(self) -> &'static str {
        match self {
            Task::Cola => "CoLA",
            Task::Sst2 => "SST-2",
            Task::Mrpc => "MRPC",
            Task::Stsb => "STS-B",
            Task::Qqp => "QQP",
            Task::Mnli => "MNLI",
            Task::Qnli => "QNLI",
            Task::Rte => "RTE",
            Task::Wnli => "WNLI",
        }
    }

    /// Width of the task head: the number of classes, 1 for STS-B (regression).
    pub fn num_labels(self) -> usize {
        match self {
            Task::Stsb => 1,
            Task::Mnli => 3,
            _ => 2,
        }
    }

    /// STS-B is scored by regression onto a similarity in 0..=5.
    pub fn is_regression(self) -> bool {
        self == Task::Stsb
    }

    /// Whether rows are sentence pairs (`text_b` present).
    pub fn is_pair(self) -> bool {
        !matches!(self, Task::Cola | Task::Sst2)
    }

    /// Label strings as they appear in the TSV files; position = class index.
    /// Empty for STS-B, whose label is a score. The orders follow the Hugging
    /// Face `glue` builder (MNLI: entailment 0, neutral 1, contradiction 2).
    pub fn label_names(self) -> &'static [&'static str] {
        match self {
            Task::Stsb => &[],
            Task::Mnli => &["entailment", "neutral", "contradiction"],
            Task::Qnli | Task::Rte => &["entailment", "not_entailment"],
            _ => &["0", "1"],
        }
    }

    /// The metric keys [`crate::metrics::compute`] returns for this task: the
    /// official GLUE metrics plus accuracy for every classification task.
    pub fn metric_names(self) -> &'static [&'static str] {
        match self {
            Task::Cola => &["matthews", "accuracy"],
            Task::Mrpc | Task::Qqp => &["accuracy", "f1"],
            Task::Stsb => &["pearson", "spearman"],
            _ => &["accuracy"],
        }
    }

    /// The score the forgetting protocol uses for this task (PAPER.md, "Forgetting
    /// protocol": validation accuracy). Tasks without a meaningful accuracy use their
    /// official metric: Matthews correlation for CoLA, Pearson for STS-B.
    pub fn primary_metric(self) -> &'static str {
        match self {
            Task::Cola => "matthews",
            Task::Stsb => "pearson",
            _ => "accuracy",
        }
    }

    pub(crate) fn layout(self) -> Layout {
        let pair = |a, b, label| Layout::Named {
            text_a: a,
            text_b: Some(b),
            label,
        };
        match self {
            Task::Cola => Layout::Positional {
                columns: 4,
                text_a: 3,
                label: 1,
            },
            Task::Sst2 => Layout::Named {
                text_a: "sentence",
                text_b: None,
                label: "label",
            },
            Task::Mrpc => pair("#1 String", "#2 String", "Quality"),
            Task::Stsb => pair("sentence1", "sentence2", "score"),
            Task::Qqp => pair("question1", "question2", "is_duplicate"),
            Task::Mnli => pair("sentence1", "sentence2", "gold_label"),
            Task::Qnli => pair("question", "sentence", "label"),
            Task::Rte | Task::Wnli => pair("sentence1", "sentence2", "label"),
        }
    }

    /// Parses a label field into a class index (as `f32`) or, for STS-B, a score.
    pub fn parse_label(self, field: &str) -> Result<f32, String> {
        let field = field.trim();
        if self.is_regression() {
            return match field.parse::<f32>() {
                Ok(score) if (0.0..=5.0).contains(&score) => Ok(score),
                _ => Err(format!("label {field:?} is not a score in 0..=5")),
            };
        }
        let names = self.label_names();
        names
            .iter()
            .position(|name| *name == field)
            .map(|index| index as f32)
            .ok_or_else(|| format!("label {field:?} is not one of {names:?}"))
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown task name.
#[derive(Debug, thiserror::Error)]
#[error("unknown GLUE task {given:?}; valid names: cola sst2 mrpc stsb qqp mnli qnli rte wnli")]
pub struct UnknownTask {
    pub given: String,
}

impl FromStr for Task {
    type Err = UnknownTask;

    /// Accepts `sst2`, `SST-2`, `sst-2`, `Sst_2`: case, `-` and `_` are ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key: String = s
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect();
        Task::all()
            .into_iter()
            .find(|task| task.name() == key)
            .ok_or_else(|| UnknownTask {
                given: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for task in Task::all() {
            assert_eq!(task.name().parse::<Task>().unwrap(), task);
            assert_eq!(task.dir_name().parse::<Task>().unwrap(), task);
            assert_eq!(task.to_string(), task.name());
            let json = serde_json::to_string(&task).unwrap();
            assert_eq!(json, format!("\"{}\"", task.name()));
            assert_eq!(serde_json::from_str::<Task>(&json).unwrap(), task);
        }
        assert_eq!("sst-2".parse::<Task>().unwrap(), Task::Sst2);
        assert_eq!("STS-B".parse::<Task>().unwrap(), Task::Stsb);
    }

    #[test]
    fn unknown_name_lists_valid_ones() {
        let err = "sst3".parse::<Task>().unwrap_err().to_string();
        assert!(
            err.contains("sst3") && err.contains("cola sst2 mrpc"),
            "{err}"
        );
    }

    #[test]
    fn label_parsing() {
        assert_eq!(Task::Mnli.parse_label("contradiction").unwrap(), 2.0);
        assert_eq!(Task::Rte.parse_label("not_entailment").unwrap(), 1.0);
        assert_eq!(Task::Cola.parse_label("1").unwrap(), 1.0);
        assert_eq!(Task::Stsb.parse_label("3.800").unwrap(), 3.8);
        assert!(Task::Stsb.parse_label("5.5").is_err());
        assert!(Task::Qnli.parse_label("entail").is_err());
        assert!(Task::Sst2.parse_label("2").is_err());
    }

    #[test]
    fn heads_match_label_sets() {
        for task in Task::all() {
            let classes = task.label_names().len();
            assert_eq!(
                task.num_labels(),
                if task.is_regression() { 1 } else { classes }
            );
            assert!(task.metric_names().contains(&task.primary_metric()));
        }
    }
}
