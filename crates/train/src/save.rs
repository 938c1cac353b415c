//! `--save DIR`: trained task heads as Hugging Face model folders
//! ([`lrdist_model::export`]: a `BertForSequenceClassification` folder for `--head pooler`,
//! a `BertModel` folder plus `lrdist_head.*` for the default `--head cls`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lrdist_data::{LabelSet, Task};
use lrdist_model::{save_classifier, Labels};

use crate::learner::Learner;

/// A task's outputs: its label names in class order (GLUE's, or a file task's label set
/// from its train file), or one regression value (STS-B, a regression file task).
pub fn task_labels(task: &Task) -> Labels {
    match task.labels() {
        LabelSet::Classes(names) => Labels::Classes(names.clone()),
        LabelSet::Regression => Labels::Regression,
    }
}

/// Writes the encoder and head `head` of `learner` to `dir`, loadable alone.
pub fn save_head(learner: &Learner, head: usize, dir: &Path) -> Result<()> {
    let h = learner.head(head);
    save_classifier(
        dir,
        learner.encoder(),
        &h.vs,
        learner.head_kind(),
        &task_labels(&h.task),
    )
    .with_context(|| format!("saving the {} head to {}", h.task, dir.display()))
}

/// Writes every head of `learner` with the encoder as it is now, one folder per head:
/// `dir/<task>/` (`dir/<task>-<k>/` for the k-th head of a task that has several).
/// Returns the folders, in head order.
pub fn save_heads(learner: &Learner, dir: &Path) -> Result<Vec<PathBuf>> {
    let tasks: Vec<&str> = learner.heads().iter().map(|h| h.task.name()).collect();
    let mut out = Vec::new();
    for (head, name) in head_folder_names(&tasks).into_iter().enumerate() {
        let folder = dir.join(name);
        save_head(learner, head, &folder)?;
        out.push(folder);
    }
    Ok(out)
}

/// `sst2`, `mrpc`, ...; a task's second and later heads get `-2`, `-3`, ...
fn head_folder_names(tasks: &[&str]) -> Vec<String> {
    tasks
        .iter()
        .enumerate()
        .map(
            |(i, task)| match tasks[..i].iter().filter(|t| *t == task).count() {
                0 => task.to_string(),
                k => format!("{task}-{}", k + 1),
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lrdist_data::GlueTask;

    #[test]
    fn folders_are_named_by_task_and_repeats_numbered() {
        assert_eq!(head_folder_names(&["sst2", "reviews"]), ["sst2", "reviews"]);
        assert_eq!(
            head_folder_names(&["sst2", "mrpc", "sst2", "sst2"]),
            ["sst2", "mrpc", "sst2-2", "sst2-3"]
        );
    }

    #[test]
    fn the_default_head_leaves_requests_as_they_were() {
        use crate::{RunRequest, ScaleSpec, ScenarioSpec};
        use lrdist_model::HeadKind;
        let scenario = ScenarioSpec::Pair {
            first: GlueTask::Sst2.into(),
            second: GlueTask::Mrpc.into(),
        };
        let scale = ScaleSpec::builtin("quick").unwrap();
        let dist = lrdist_optimizer::DistributionSpec::flat(2e-5);
        let mut req = RunRequest::new(scenario, "quick", scale, "flat", dist, 0);
        let json = serde_json::to_value(&req).unwrap();
        assert!(
            json.get("head").is_none() && json.get("save").is_none(),
            "{json}"
        );
        let back: RunRequest = serde_json::from_value(json).unwrap();
        assert_eq!((back.head, back.save), (HeadKind::Cls, None));
        req.head = HeadKind::Pooler;
        assert_eq!(serde_json::to_value(&req).unwrap()["head"], "pooler");
    }

    #[test]
    fn labels_are_the_label_set_or_one_regression_value() {
        let glue = |t: GlueTask| task_labels(&Task::glue(t));
        assert_eq!(
            glue(GlueTask::Mnli),
            Labels::classes(&["entailment", "neutral", "contradiction"])
        );
        assert_eq!(glue(GlueTask::Stsb), Labels::Regression);
        assert_eq!(glue(GlueTask::Stsb).problem_type(), "regression");
        assert_eq!(
            glue(GlueTask::Sst2).problem_type(),
            "single_label_classification"
        );
        let file = lrdist_data::FileTask {
            name: "reviews".into(),
            train: "t.csv".into(),
            dev: "d.csv".into(),
            text: "text".into(),
            text_pair: None,
            label: "label".into(),
            kind: lrdist_data::TaskKind::Classification,
        };
        let classes = LabelSet::Classes(vec!["negative".into(), "positive".into()]);
        assert_eq!(
            task_labels(&Task::file(file, classes)),
            Labels::classes(&["negative", "positive"])
        );
    }
}
