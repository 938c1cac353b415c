//! Reading a task of your own ([`FileTask`]): its train and dev rows as [`Example`]s, its
//! label set (from the train file) and the digests of the two files, for the run record.

use std::path::Path;

use lrdist_record::sha256_hex;
pub use lrdist_record::FileTaskRecord;

use crate::glue::Example;
use crate::table::{parse_table, row_error, Columns, Format, InputError, Table};
use crate::task::{FileTask, LabelSet, Task, TaskKind};

/// A file task's rows, read and checked.
pub(crate) struct FileRows {
    pub task: Task,
    pub train: Vec<Example>,
    pub dev: Vec<Example>,
    pub record: FileTaskRecord,
}

/// At most this many labels are listed in an error.
const LISTED_LABELS: usize = 20;

/// Reads both files of `spec`. Errors ([`InputError`]s) name the file, the line and the
/// column: a missing column, an empty text or label, a non-numeric label of a regression
/// task, a dev label that the train file does not have; a classification train file
/// needs two labels or more.
pub(crate) fn read(spec: &FileTask) -> anyhow::Result<FileRows> {
    let (train, train_sha256) = read_one(&spec.train, spec)?;
    let labels = match spec.kind {
        TaskKind::Regression => LabelSet::Regression,
        TaskKind::Classification => {
            let set = LabelSet::sorted_classes(train.rows.iter().map(label_of));
            if set.num_outputs() < 2 {
                return Err(InputError::File(format!(
                    "{}: column `{}` has a single label ({}); a classification task needs two or \
                     more (a numeric target is a regression task: --regression, or `kind: \
                     regression`)",
                    spec.train.display(),
                    spec.label,
                    set.class_names().join(", ")
                ))
                .into());
            }
            set
        }
    };
    let train = examples(&spec.train, &train, spec, &labels, "")?;
    let (dev, dev_sha256) = read_one(&spec.dev, spec)?;
    let dev = examples(&spec.dev, &dev, spec, &labels, " of the train file")?;
    let record = FileTaskRecord {
        task: spec.clone(),
        labels: labels.clone(),
        train_sha256,
        dev_sha256,
    };
    Ok(FileRows {
        task: Task::file(spec.clone(), labels),
        train,
        dev,
        record,
    })
}

/// One file's rows and the SHA-256 of the bytes they were parsed from.
fn read_one(path: &Path, spec: &FileTask) -> Result<(Table, String), InputError> {
    let format = Format::of(path)?;
    let bytes = std::fs::read(path)
        .map_err(|e| InputError::File(format!("cannot read {}: {e}", path.display())))?;
    let columns = Columns {
        text: &[spec.text.as_str()],
        text_pair: spec.text_pair.as_deref(),
        label: Some(&spec.label),
    };
    let table = parse_table(path, format, &bytes, &columns)?;
    Ok((table, sha256_hex(&bytes)))
}

fn label_of(row: &crate::table::TableRow) -> &str {
    row.label.as_deref().expect("a label column was read")
}

/// The rows of `table` as examples: the label is the class index in `labels` or the
/// regression value. `whose` says whose label set a class is missing from.
fn examples(
    path: &Path,
    table: &Table,
    spec: &FileTask,
    labels: &LabelSet,
    whose: &str,
) -> Result<Vec<Example>, InputError> {
    let column = &spec.label;
    table
        .rows
        .iter()
        .map(|row| {
            let text = label_of(row);
            let label = match labels {
                LabelSet::Regression => match text.parse::<f32>() {
                    Ok(v) if v.is_finite() => v,
                    _ => {
                        return Err(row_error(
                            path,
                            row.line,
                            format!(
                                "column `{column}`: {text:?} is not a number (the labels of a \
                                 regression task are numbers)"
                            ),
                        ))
                    }
                },
                LabelSet::Classes(names) => match names.iter().position(|n| n == text) {
                    Some(index) => index as f32,
                    None => {
                        let mut listed: Vec<&str> = names
                            .iter()
                            .take(LISTED_LABELS)
                            .map(String::as_str)
                            .collect();
                        if names.len() > LISTED_LABELS {
                            listed.push("...");
                        }
                        return Err(row_error(
                            path,
                            row.line,
                            format!(
                                "column `{column}`: label {text:?} is not in the label set{whose} \
                                 ({})",
                                listed.join(", ")
                            ),
                        ));
                    }
                },
            };
            Ok(Example {
                text_a: row.text.clone(),
                text_b: row.text_pair.clone(),
                label,
                line: row.line,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn write(dir: &tempfile::TempDir, name: &str, content: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn spec(train: PathBuf, dev: PathBuf) -> FileTask {
        FileTask {
            name: "reviews".into(),
            train,
            dev,
            text: "review".into(),
            text_pair: None,
            label: "stars".into(),
            kind: TaskKind::Classification,
        }
    }

    fn err(spec: &FileTask) -> String {
        let e = read(spec).err().expect("an error");
        assert!(e.downcast_ref::<InputError>().is_some(), "{e:#}");
        e.to_string()
    }

    #[test]
    fn string_labels_are_sorted_and_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let train = write(
            &dir,
            "train.csv",
            "review,stars\nfine,good\nbad,poor\n\"so, so\",fair\nok,good\n",
        );
        let dev = write(&dir, "dev.csv", "review,stars\nmeh,fair\n");
        let rows = read(&spec(train, dev)).unwrap();
        let names = ["fair", "good", "poor"].map(String::from).to_vec();
        assert_eq!(rows.task.labels(), &LabelSet::Classes(names));
        let labels: Vec<f32> = rows.train.iter().map(|e| e.label).collect();
        assert_eq!(labels, [1.0, 2.0, 0.0, 1.0]);
        assert_eq!(rows.train[2].text_a, "so, so");
        assert_eq!(rows.train[2].line, 4);
        assert_eq!((rows.dev[0].label, rows.dev[0].line), (0.0, 2));
        assert_eq!(rows.task.metric_names(), ["accuracy", "macro_f1"]);
        assert_eq!(rows.record.labels, *rows.task.labels());
        assert_eq!(rows.record.train_sha256.len(), 64);
    }

    #[test]
    fn integer_labels_sort_by_value_and_jsonl_numbers_are_labels() {
        let dir = tempfile::tempdir().unwrap();
        let train = write(
            &dir,
            "t.jsonl",
            "{\"a\": \"x\", \"b\": \"y\", \"y\": 10}\n{\"a\": \"x\", \"b\": \"z\", \"y\": 2}\n\
             {\"a\": \"w\", \"b\": \"v\", \"y\": \"2\"}\n",
        );
        let dev = write(&dir, "d.tsv", "a\tb\ty\nq\tr\t10\n");
        let mut s = spec(train, dev);
        (s.text, s.text_pair, s.label) = ("a".into(), Some("b".into()), "y".into());
        let rows = read(&s).unwrap();
        assert_eq!(rows.task.class_names(), ["2", "10"]);
        let labels: Vec<f32> = rows.train.iter().map(|e| e.label).collect();
        assert_eq!(labels, [1.0, 0.0, 0.0]);
        assert_eq!(rows.train[0].text_b.as_deref(), Some("y"));
        assert_eq!(rows.dev[0].label, 1.0);
    }

    #[test]
    fn regression_labels_are_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let train = write(&dir, "t.tsv", "review\tstars\ngood\t4.5\nbad\t-1\n");
        let dev = write(&dir, "d.tsv", "review\tstars\nok\t3\nhm\tthree\n");
        let mut s = spec(train, dev);
        s.kind = TaskKind::Regression;
        let e = err(&s);
        assert!(
            e.contains("d.tsv:3: column `stars`: \"three\" is not a number"),
            "{e}"
        );
        s.dev = write(&dir, "d2.tsv", "review\tstars\nok\t3\n");
        let rows = read(&s).unwrap();
        assert_eq!(rows.task.labels(), &LabelSet::Regression);
        assert_eq!(rows.train[1].label, -1.0);
        assert_eq!(rows.task.metric_names(), ["pearson", "spearman"]);
        assert_eq!(rows.task.primary_metric(), "pearson");
    }

    #[test]
    fn bad_files_name_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let train = write(&dir, "train.csv", "review,stars\nfine,good\nbad,poor\n");
        let dev = write(&dir, "dev.csv", "review,stars\nmeh,good\nugh,awful\n");
        let e = err(&spec(train.clone(), dev));
        assert!(
            e.contains("dev.csv:3: column `stars`: label \"awful\" is not in the label set of the train file (good, poor)"),
            "{e}"
        );
        let dev = write(&dir, "dev2.csv", "review,score\nmeh,good\n");
        let e = err(&spec(train.clone(), dev.clone()));
        assert!(e.contains("dev2.csv:1: no column `stars`"), "{e}");
        let empty = write(&dir, "empty.csv", "review,stars\nfine,good\n ,poor\n");
        let e = err(&spec(empty, dev.clone()));
        assert!(e.contains("empty.csv:3: column `review` is empty"), "{e}");
        let one = write(&dir, "one.csv", "review,stars\nfine,good\nok,good\n");
        let e = err(&spec(one, dev));
        assert!(
            e.contains("one.csv: column `stars` has a single label (good)"),
            "{e}"
        );
        let e = err(&spec(train, dir.path().join("gone.csv")));
        assert!(e.contains("cannot read") && e.contains("gone.csv"), "{e}");
    }
}
