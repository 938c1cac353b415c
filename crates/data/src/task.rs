//! Tasks. What a user names is a [`TaskSpec`]: one of the nine GLUE tasks built in
//! ([`GlueTask`]) or a task of their own read from two files ([`FileTask`]: train and dev,
//! CSV, TSV or JSONL, with its columns and kind). It is parsed once, at the edge (the
//! command line or an experiment file). Loading a spec ([`crate::load_task`]) gives a
//! [`Task`]: the spec with its label set, which for a file task is read from its train
//! file. Training, scoring and saving see only [`Task`], so GLUE and file tasks go through
//! one loading and metric path; GLUE is the case whose files, labels and metrics are
//! known in advance.
//!
//! The specs, names and label sets are plain data that run records are written in: they
//! are defined in `lrdist-record` ([`lrdist_record::task`]) and re-exported here.

use std::fmt;

pub use lrdist_record::task::{
    FileDigests, FileTask, GlueTask, LabelSet, TaskKind, TaskName, TaskSpec, UnknownTask,
    DEFAULT_LABEL_COLUMN, DEFAULT_TEXT_COLUMN,
};

/// A loaded task: its spec and its label set. What training (the head's width, the loss),
/// scoring (the metrics) and saving (the label names) need.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    spec: TaskSpec,
    labels: LabelSet,
}

impl Task {
    /// A GLUE task, whose label set is fixed ([`GlueTask::label_names`]).
    pub fn glue(task: GlueTask) -> Task {
        let labels = if task.is_regression() {
            LabelSet::Regression
        } else {
            LabelSet::Classes(task.label_names().iter().map(|l| l.to_string()).collect())
        };
        Task {
            spec: TaskSpec::Glue(task),
            labels,
        }
    }

    /// A file task with the label set read from its train file. Panics when `labels` does
    /// not fit the task's kind (a caller bug: [`crate::load_task`] builds both).
    pub fn file(task: FileTask, labels: LabelSet) -> Task {
        assert_eq!(
            task.kind == TaskKind::Regression,
            labels == LabelSet::Regression,
            "file task {}: label set {labels:?} for a {} task",
            task.name,
            task.kind
        );
        Task {
            spec: TaskSpec::File(task),
            labels,
        }
    }

    pub fn spec(&self) -> &TaskSpec {
        &self.spec
    }

    pub fn name(&self) -> &str {
        self.spec.name()
    }

    pub fn labels(&self) -> &LabelSet {
        &self.labels
    }

    /// Class names in class order; empty for regression.
    pub fn class_names(&self) -> &[String] {
        self.labels.class_names()
    }

    pub fn is_regression(&self) -> bool {
        self.labels == LabelSet::Regression
    }

    /// Width of the task head: the number of classes, 1 for regression.
    pub fn num_labels(&self) -> usize {
        self.labels.num_outputs()
    }

    /// The metric keys [`crate::metrics::compute`] returns: a GLUE task's official metrics
    /// ([`GlueTask::metric_names`]); for a file task accuracy and macro-F1, or Pearson and
    /// Spearman correlation.
    pub fn metric_names(&self) -> &'static [&'static str] {
        match (&self.spec, self.spec.kind()) {
            (TaskSpec::Glue(t), _) => t.metric_names(),
            (TaskSpec::File(_), TaskKind::Classification) => &["accuracy", "macro_f1"],
            (TaskSpec::File(_), TaskKind::Regression) => &["pearson", "spearman"],
        }
    }

    /// The score the protocol uses: [`GlueTask::primary_metric`]; accuracy or Pearson for
    /// a file task.
    pub fn primary_metric(&self) -> &'static str {
        match (&self.spec, self.spec.kind()) {
            (TaskSpec::Glue(t), _) => t.primary_metric(),
            (TaskSpec::File(_), TaskKind::Classification) => "accuracy",
            (TaskSpec::File(_), TaskKind::Regression) => "pearson",
        }
    }
}

impl From<GlueTask> for Task {
    fn from(task: GlueTask) -> Self {
        Task::glue(task)
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glue_tasks_load_with_their_label_sets() {
        let task = Task::glue(GlueTask::Mnli);
        assert_eq!(
            task.class_names(),
            ["entailment", "neutral", "contradiction"]
        );
        assert_eq!((task.num_labels(), task.primary_metric()), (3, "accuracy"));
        assert!(Task::glue(GlueTask::Stsb).is_regression());
    }
}
