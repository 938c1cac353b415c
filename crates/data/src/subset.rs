//! Seeded, label-stratified subsampling and the train/dev sets of one task.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::ensure;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::file_task::{self, FileTaskRecord};
use crate::glue::{read_split, Example, Split};
use crate::task::{Task, TaskSpec};

/// How much of a task to use (`--max-train`, `--max-dev`, `--dev-from-train`, `--seed`);
/// defined in `lrdist-record`, beside the scale that makes it.
pub use lrdist_record::DataSpec;

/// A task's training and evaluation rows, with where they came from.
#[derive(Clone, Debug)]
pub struct TaskData {
    /// The task with its label set (a file task's read from its train file).
    pub task: Task,
    pub train: Vec<Example>,
    pub dev: Vec<Example>,
    /// e.g. `"dev.tsv"` or `"train.tsv held-out 1000 rows (label-stratified, seed 0)"`.
    pub dev_source: String,
    /// e.g. `"train.tsv"` or `"train.tsv, 2000 of 67349 rows (label-stratified, seed 0)"`.
    pub train_source: String,
    /// What a run record keeps of a file task (its label set, the digests of its files);
    /// `None` for GLUE.
    pub file: Option<FileTaskRecord>,
}

/// Loads `task` (a GLUE task from `glue_dir`, or a file task from its files) and applies
/// `spec`. Both kinds of task go through the same steps.
///
/// Order of steps, each with `spec.seed`: (1) with `dev_from_train = Some(n)`, a
/// label-stratified sample of n rows of the whole train file becomes the dev set and
/// the remaining rows the training pool, so the held-out rows depend only on n and the
/// seed, never on `max_train`; otherwise the dev set is the task's dev file
/// (`dev_matched.tsv` for MNLI). (2) `max_train` caps the training pool and (3)
/// `max_dev` the dev set, both by [`stratified_sample`].
pub fn load_task(glue_dir: &Path, task: &TaskSpec, spec: &DataSpec) -> anyhow::Result<TaskData> {
    match task {
        TaskSpec::Glue(glue) => {
            let glue = *glue;
            let all_train = read_split(glue_dir, glue, Split::Train)?;
            let dev = || -> anyhow::Result<(Vec<Example>, String)> {
                let rows = read_split(glue_dir, glue, Split::Dev)?;
                Ok((rows, Split::Dev.file_name(glue)?.to_string()))
            };
            let train_file = Split::Train.file_name(glue)?;
            select(Task::glue(glue), all_train, train_file, dev, spec, None)
        }
        TaskSpec::File(file) => {
            let rows = file_task::read(file)?;
            let train_file = file.train.display().to_string();
            let dev_file = file.dev.display().to_string();
            let dev = || Ok((rows.dev, dev_file));
            select(
                rows.task,
                rows.train,
                &train_file,
                dev,
                spec,
                Some(rows.record),
            )
        }
    }
}

/// Steps (1) to (3) of [`load_task`] on a task's train rows (`train_file` names them) and
/// its dev file's rows (read only when needed).
fn select(
    task: Task,
    all_train: Vec<Example>,
    train_file: &str,
    dev_file: impl FnOnce() -> anyhow::Result<(Vec<Example>, String)>,
    spec: &DataSpec,
    file: Option<FileTaskRecord>,
) -> anyhow::Result<TaskData> {
    let regression = task.is_regression();
    let (pool, dev, dev_source) = match spec.dev_from_train {
        Some(n) => {
            // A GLUE task's train file is named within its folder, a file task's by its path.
            let whose = match task.spec() {
                TaskSpec::Glue(_) => format!("{task}/{train_file}"),
                TaskSpec::File(_) => format!("{train_file}, the train file of {task}"),
            };
            ensure!(
                n > 0 && n < all_train.len(),
                "--dev-from-train {n} must be between 1 and {} (the rows of {whose})",
                all_train.len().saturating_sub(1)
            );
            let held = stratified_indices(&all_train, n, spec.seed, regression);
            let (dev, pool) = partition(all_train, &held);
            let source = format!(
                "{train_file} held-out {n} rows (label-stratified, seed {})",
                spec.seed
            );
            (pool, dev, source)
        }
        None => {
            let (dev, source) = dev_file()?;
            (all_train, dev, source)
        }
    };
    let train_source = match spec.dev_from_train {
        Some(n) => format!("{train_file} without the {n} held-out rows"),
        None => train_file.to_string(),
    };
    let (train, train_source) = cap(pool, spec.max_train, spec.seed, regression, train_source);
    let (dev, dev_source) = cap(dev, spec.max_dev, spec.seed, regression, dev_source);
    Ok(TaskData {
        task,
        train,
        dev,
        dev_source,
        train_source,
        file,
    })
}

/// Applies an optional row cap, extending the description when it cuts.
fn cap(
    rows: Vec<Example>,
    max: Option<usize>,
    seed: u64,
    regression: bool,
    source: String,
) -> (Vec<Example>, String) {
    match max {
        Some(n) if n < rows.len() => {
            let kept = stratified_sample(&rows, n, seed, regression);
            let source = format!(
                "{source}, {n} of {} rows (label-stratified, seed {seed})",
                rows.len()
            );
            (kept, source)
        }
        _ => (rows, source),
    }
}

/// Splits `rows` into (the rows at `chosen`, the others), both in file order.
/// `chosen` must be sorted.
fn partition(rows: Vec<Example>, chosen: &[usize]) -> (Vec<Example>, Vec<Example>) {
    let mut picked = Vec::with_capacity(chosen.len());
    let mut rest = Vec::with_capacity(rows.len() - chosen.len());
    let mut next = chosen.iter().peekable();
    for (index, row) in rows.into_iter().enumerate() {
        if next.peek() == Some(&&index) {
            next.next();
            picked.push(row);
        } else {
            rest.push(row);
        }
    }
    (picked, rest)
}

/// A deterministic, seeded sample of `n` rows with the label proportions of
/// `examples` (largest-remainder rounding per label), in file order. For
/// regression (STS-B) the strata are the scores rounded to the nearest integer.
/// Returns every row when `n >= examples.len()`.
pub fn stratified_sample(
    examples: &[Example],
    n: usize,
    seed: u64,
    regression: bool,
) -> Vec<Example> {
    stratified_indices(examples, n, seed, regression)
        .into_iter()
        .map(|index| examples[index].clone())
        .collect()
}

/// The sorted row indices [`stratified_sample`] keeps.
pub fn stratified_indices(
    examples: &[Example],
    n: usize,
    seed: u64,
    regression: bool,
) -> Vec<usize> {
    if n >= examples.len() {
        return (0..examples.len()).collect();
    }
    let mut strata: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for (index, example) in examples.iter().enumerate() {
        strata
            .entry(stratum(example.label, regression))
            .or_default()
            .push(index);
    }
    let sizes: Vec<usize> = strata.values().map(Vec::len).collect();
    let quotas = largest_remainder(&sizes, n);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut chosen = Vec::with_capacity(n);
    for (mut members, quota) in strata.into_values().zip(quotas) {
        members.shuffle(&mut rng);
        chosen.extend_from_slice(&members[..quota]);
    }
    chosen.sort_unstable();
    chosen
}

fn stratum(label: f32, regression: bool) -> i64 {
    if regression {
        label.round() as i64
    } else {
        label as i64
    }
}

/// Splits `n` over groups of the given sizes in proportion to them: each group
/// gets the floor of its share, and the rows left over go to the largest
/// fractional remainders (earlier group first on ties).
fn largest_remainder(sizes: &[usize], n: usize) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    let share = |size: usize| (n as u128 * size as u128, total as u128);
    let mut quotas: Vec<usize> = sizes
        .iter()
        .map(|&size| {
            let (num, den) = share(size);
            (num / den) as usize
        })
        .collect();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&group| {
        let (num, den) = share(sizes[group]);
        std::cmp::Reverse(num % den)
    });
    let missing = n - quotas.iter().sum::<usize>();
    for &group in order.iter().take(missing) {
        quotas[group] += 1;
    }
    quotas
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(labels: &[f32]) -> Vec<Example> {
        labels
            .iter()
            .enumerate()
            .map(|(i, &label)| Example {
                text_a: format!("row {i}"),
                text_b: None,
                label,
                line: i + 2,
            })
            .collect()
    }

    fn count(examples: &[Example], label: f32) -> usize {
        examples.iter().filter(|e| e.label == label).count()
    }

    #[test]
    fn largest_remainder_splits_exactly() {
        assert_eq!(largest_remainder(&[700, 300], 10), vec![7, 3]);
        assert_eq!(largest_remainder(&[1, 1, 1], 2), vec![1, 1, 0]);
        assert_eq!(largest_remainder(&[5, 3, 2], 5), vec![3, 1, 1]);
        assert_eq!(largest_remainder(&[2, 6], 8), vec![2, 6]);
    }

    #[test]
    fn keeps_proportions_and_file_order() {
        // 600 of label 0, 300 of label 1, 100 of label 2, interleaved.
        let labels: Vec<f32> = (0..1000)
            .map(|i| [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 2.0][i % 10])
            .collect();
        let all = rows(&labels);
        let sample = stratified_sample(&all, 200, 7, false);
        assert_eq!(sample.len(), 200);
        assert_eq!(
            (
                count(&sample, 0.0),
                count(&sample, 1.0),
                count(&sample, 2.0)
            ),
            (120, 60, 20)
        );
        assert!(
            sample.windows(2).all(|w| w[0].line < w[1].line),
            "file order kept"
        );
    }

    #[test]
    fn deterministic_and_seed_dependent() {
        let all = rows(&(0..500).map(|i| (i % 2) as f32).collect::<Vec<_>>());
        let a = stratified_indices(&all, 50, 1, false);
        assert_eq!(a, stratified_indices(&all, 50, 1, false));
        assert_ne!(a, stratified_indices(&all, 50, 2, false));
    }

    #[test]
    fn regression_strata_are_rounded_scores() {
        let labels: Vec<f32> = (0..400)
            .map(|i| {
                if i < 300 {
                    0.2 + (i % 3) as f32 * 0.1
                } else {
                    4.6
                }
            })
            .collect();
        let sample = stratified_sample(&rows(&labels), 40, 3, true);
        assert_eq!(sample.iter().filter(|e| e.label > 4.0).count(), 10);
    }

    #[test]
    fn small_caps_and_no_cap() {
        let all = rows(&[0.0, 1.0, 1.0]);
        assert_eq!(stratified_sample(&all, 10, 0, false), all);
        assert!(stratified_sample(&all, 0, 0, false).is_empty());
    }

    #[test]
    fn partition_is_exact() {
        let all = rows(&[0.0; 10]);
        let (picked, rest) = partition(all, &[1, 4, 9]);
        assert_eq!(
            picked.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![3, 6, 11]
        );
        assert_eq!(rest.len(), 7);
        assert!(rest.iter().all(|e| ![3, 6, 11].contains(&e.line)));
    }

    mod load {
        use super::*;
        use crate::fixtures::{write_glue, TRAIN_ROWS};
        use crate::task::GlueTask;

        #[test]
        fn dev_file_by_default() {
            let dir = tempfile::tempdir().unwrap();
            write_glue(dir.path());
            let data = load_task(dir.path(), &GlueTask::Mnli.into(), &DataSpec::default()).unwrap();
            assert_eq!(
                (data.train.len(), data.dev.len()),
                (TRAIN_ROWS, TRAIN_ROWS / 2)
            );
            assert_eq!(
                (data.dev_source.as_str(), data.train_source.as_str()),
                ("dev_matched.tsv", "train.tsv")
            );
        }

        #[test]
        fn dev_from_train_never_overlaps() {
            let dir = tempfile::tempdir().unwrap();
            write_glue(dir.path());
            for task in GlueTask::all() {
                let spec = DataSpec {
                    dev_from_train: Some(10),
                    max_train: Some(21),
                    max_dev: None,
                    seed: 5,
                };
                let data = load_task(dir.path(), &task.into(), &spec).unwrap();
                assert_eq!((data.train.len(), data.dev.len()), (21, 10), "{task}");
                assert!(
                    data.dev
                        .iter()
                        .all(|d| data.train.iter().all(|t| t.line != d.line)),
                    "{task}"
                );
                assert_eq!(
                    data.dev_source,
                    "train.tsv held-out 10 rows (label-stratified, seed 5)"
                );
                assert!(
                    data.train_source.contains("21 of 30 rows"),
                    "{}",
                    data.train_source
                );
                // The held-out rows depend on the seed only, not on the training cap.
                let uncapped = load_task(
                    dir.path(),
                    &task.into(),
                    &DataSpec {
                        max_train: None,
                        ..spec.clone()
                    },
                )
                .unwrap();
                assert_eq!(uncapped.dev, data.dev);
                assert_eq!(uncapped.train.len(), TRAIN_ROWS - 10);
            }
        }

        #[test]
        fn bad_dev_from_train_is_an_error() {
            let dir = tempfile::tempdir().unwrap();
            write_glue(dir.path());
            let spec = DataSpec {
                dev_from_train: Some(TRAIN_ROWS),
                ..DataSpec::default()
            };
            let err = load_task(dir.path(), &GlueTask::Rte.into(), &spec)
                .unwrap_err()
                .to_string();
            assert!(err.contains("--dev-from-train 40"), "{err}");
        }

        /// `dev_from_train` on a task of your own carves its dev rows out of its train
        /// file, as for a GLUE task: stratified, never trained on, its dev file unused.
        #[test]
        fn a_file_task_holds_dev_rows_out_of_its_train_file() {
            let dir = tempfile::tempdir().unwrap();
            let train = dir.path().join("train.csv");
            let mut text = String::from("review,stars\n");
            for i in 0..30 {
                text.push_str(&format!(
                    "row {i},{}\n",
                    if i % 3 == 0 { "bad" } else { "good" }
                ));
            }
            std::fs::write(&train, text).unwrap();
            let dev = dir.path().join("dev.csv");
            std::fs::write(&dev, "review,stars\nonly dev row,good\n").unwrap();
            let task = TaskSpec::File(crate::FileTask {
                name: "reviews".into(),
                train: train.clone(),
                dev,
                text: "review".into(),
                text_pair: None,
                label: "stars".into(),
                kind: crate::TaskKind::Classification,
            });
            let spec = DataSpec {
                dev_from_train: Some(9),
                seed: 3,
                ..DataSpec::default()
            };
            let data = load_task(dir.path(), &task, &spec).unwrap();
            assert_eq!((data.train.len(), data.dev.len()), (21, 9));
            assert!(data
                .dev
                .iter()
                .all(|d| data.train.iter().all(|t| t.line != d.line)));
            assert!(data.dev.iter().all(|d| d.text_a.starts_with("row ")));
            // Labels: "bad" is class 0, "good" class 1; a third of the rows are bad.
            assert_eq!((count(&data.dev, 0.0), count(&data.dev, 1.0)), (3, 6));
            assert_eq!(
                data.dev_source,
                format!(
                    "{} held-out 9 rows (label-stratified, seed 3)",
                    train.display()
                )
            );
            let too_many = DataSpec {
                dev_from_train: Some(30),
                ..spec
            };
            let err = load_task(dir.path(), &task, &too_many)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("between 1 and 29")
                    && err.contains(&format!("{}, the train file of reviews", train.display())),
                "{err}"
            );
        }

        #[test]
        fn dev_cap_is_stratified() {
            let dir = tempfile::tempdir().unwrap();
            write_glue(dir.path());
            let spec = DataSpec {
                max_dev: Some(9),
                ..DataSpec::default()
            };
            let data = load_task(dir.path(), &GlueTask::Mnli.into(), &spec).unwrap();
            assert_eq!(data.dev.len(), 9);
            assert_eq!(
                (
                    count(&data.dev, 0.0),
                    count(&data.dev, 1.0),
                    count(&data.dev, 2.0)
                ),
                (3, 3, 3)
            );
            assert_eq!(
                data.dev_source,
                "dev_matched.tsv, 9 of 20 rows (label-stratified, seed 0)"
            );
        }
    }
}
