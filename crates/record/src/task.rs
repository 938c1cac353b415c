//! Tasks as configs and records name them. What a user names is a [`TaskSpec`]: one of the
//! nine GLUE tasks built in ([`GlueTask`]) or a task of their own read from two files
//! ([`FileTask`]: train and dev, CSV, TSV or JSONL, with its columns and kind). It is
//! parsed once, at the edge (the command line or an experiment file). A scale's per-task
//! fields are keyed by a [`TaskName`]; a run record keeps each file task it read as a
//! [`FileTaskRecord`].
//!
//! Loading a spec (`lrdist_data::load_task`) gives a `lrdist_data::Task`: the spec with
//! its label set ([`LabelSet`]), which for a file task is read from its train file. That
//! and everything else that reads rows stays in `lrdist-data`, which re-exports these
//! types.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::input::InputError;

/// A GLUE task, named as users type it (`cola sst2 mrpc stsb qqp mnli qnli rte wnli`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GlueTask {
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

impl GlueTask {
    /// All tasks, in the GLUE benchmark's order.
    pub fn all() -> [GlueTask; 9] {
        use GlueTask::*;
        [Cola, Sst2, Mrpc, Stsb, Qqp, Mnli, Qnli, Rte, Wnli]
    }

    /// The name users type and files record: `"sst2"`.
    pub fn name(self) -> &'static str {
        match self {
            GlueTask::Cola => "cola",
            GlueTask::Sst2 => "sst2",
            GlueTask::Mrpc => "mrpc",
            GlueTask::Stsb => "stsb",
            GlueTask::Qqp => "qqp",
            GlueTask::Mnli => "mnli",
            GlueTask::Qnli => "qnli",
            GlueTask::Rte => "rte",
            GlueTask::Wnli => "wnli",
        }
    }

    /// The task's folder in the GLUE download: `"SST-2"`.
    pub fn dir_name(self) -> &'static str {
        match self {
            GlueTask::Cola => "CoLA",
            GlueTask::Sst2 => "SST-2",
            GlueTask::Mrpc => "MRPC",
            GlueTask::Stsb => "STS-B",
            GlueTask::Qqp => "QQP",
            GlueTask::Mnli => "MNLI",
            GlueTask::Qnli => "QNLI",
            GlueTask::Rte => "RTE",
            GlueTask::Wnli => "WNLI",
        }
    }

    /// Width of the task head: the number of classes, 1 for STS-B (regression).
    pub fn num_labels(self) -> usize {
        match self {
            GlueTask::Stsb => 1,
            GlueTask::Mnli => 3,
            _ => 2,
        }
    }

    /// STS-B is scored by regression onto a similarity in 0..=5.
    pub fn is_regression(self) -> bool {
        self == GlueTask::Stsb
    }

    /// Whether rows are sentence pairs (`text_b` present).
    pub fn is_pair(self) -> bool {
        !matches!(self, GlueTask::Cola | GlueTask::Sst2)
    }

    /// Label strings as they appear in the TSV files; position = class index.
    /// Empty for STS-B, whose label is a score. The orders follow the Hugging
    /// Face `glue` builder (MNLI: entailment 0, neutral 1, contradiction 2).
    pub fn label_names(self) -> &'static [&'static str] {
        match self {
            GlueTask::Stsb => &[],
            GlueTask::Mnli => &["entailment", "neutral", "contradiction"],
            GlueTask::Qnli | GlueTask::Rte => &["entailment", "not_entailment"],
            _ => &["0", "1"],
        }
    }

    /// The metric keys `lrdist_data::metrics::compute` returns for this task: the
    /// official GLUE metrics plus accuracy for every classification task.
    pub fn metric_names(self) -> &'static [&'static str] {
        match self {
            GlueTask::Cola => &["matthews", "accuracy"],
            GlueTask::Mrpc | GlueTask::Qqp => &["accuracy", "f1"],
            GlueTask::Stsb => &["pearson", "spearman"],
            _ => &["accuracy"],
        }
    }

    /// The score the forgetting protocol uses for this task (docs/METHOD.md, "Forgetting
    /// protocol": validation accuracy). Tasks without a meaningful accuracy use their
    /// official metric: Matthews correlation for CoLA, Pearson for STS-B.
    pub fn primary_metric(self) -> &'static str {
        match self {
            GlueTask::Cola => "matthews",
            GlueTask::Stsb => "pearson",
            _ => "accuracy",
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

impl fmt::Display for GlueTask {
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

impl FromStr for GlueTask {
    type Err = UnknownTask;

    /// Accepts `sst2`, `SST-2`, `sst-2`, `Sst_2`: case, `-` and `_` are ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key: String = s
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect();
        GlueTask::all()
            .into_iter()
            .find(|task| task.name() == key)
            .ok_or_else(|| UnknownTask {
                given: s.to_string(),
            })
    }
}

/// What a task's label is: a class (accuracy and macro-F1) or a number (Pearson and
/// Spearman correlation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    #[default]
    Classification,
    Regression,
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskKind::Classification => "classification",
            TaskKind::Regression => "regression",
        })
    }
}

/// What a task head predicts: one of its classes (their names in class order, class `i`
/// being `names[i]`), or one regression value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelSet {
    Classes(Vec<String>),
    Regression,
}

impl LabelSet {
    /// The label set of a classification file task: the distinct labels of its train file,
    /// sorted, numerically when every label is an integer (`2` before `10`), else by their
    /// text (byte order). Sorted rather than first-seen, so the class indices do not depend
    /// on the order of the train rows.
    pub fn sorted_classes<'a>(labels: impl IntoIterator<Item = &'a str>) -> LabelSet {
        let distinct: std::collections::BTreeSet<&str> = labels.into_iter().collect();
        let mut names: Vec<&str> = distinct.into_iter().collect();
        let integers: Option<Vec<i64>> = names.iter().map(|l| l.parse::<i64>().ok()).collect();
        if let Some(values) = integers {
            let mut keyed: Vec<(i64, &str)> = values.into_iter().zip(names).collect();
            keyed.sort();
            names = keyed.into_iter().map(|(_, name)| name).collect();
        }
        LabelSet::Classes(names.into_iter().map(str::to_string).collect())
    }

    /// The class names in class order; empty for regression.
    pub fn class_names(&self) -> &[String] {
        match self {
            LabelSet::Classes(names) => names,
            LabelSet::Regression => &[],
        }
    }

    /// Width of a head over this set: the number of classes, 1 for regression.
    pub fn num_outputs(&self) -> usize {
        match self {
            LabelSet::Classes(names) => names.len(),
            LabelSet::Regression => 1,
        }
    }
}

/// The text column of a file task when none is named.
pub const DEFAULT_TEXT_COLUMN: &str = "text";
/// The label column of a file task when none is named.
pub const DEFAULT_LABEL_COLUMN: &str = "label";

fn default_text_column() -> String {
    DEFAULT_TEXT_COLUMN.to_string()
}

fn default_label_column() -> String {
    DEFAULT_LABEL_COLUMN.to_string()
}

/// A task of your own: a train file and a dev file in one of the formats of
/// `lrdist_data::table` (`.csv`, `.tsv` unquoted, `.jsonl`), the columns holding the text,
/// the optional second text of a pair and the label, and whether the label is a class or
/// a number. In an experiment file: `{name, train, dev, text, text_pair, label, kind}`
/// (`text` defaults to `text`, `label` to `label`, `kind` to `classification`); relative
/// paths are relative to the working directory, like distribution files.
///
/// A classification task's label set is read from its train file
/// ([`LabelSet::sorted_classes`]); every dev label must be one of it. A regression task's
/// labels are numbers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTask {
    /// The task's name in records, tables and saved folders (letters, digits, `_`, `-`,
    /// `.`; not a GLUE task's name).
    pub name: String,
    pub train: PathBuf,
    pub dev: PathBuf,
    #[serde(default = "default_text_column")]
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_pair: Option<String>,
    #[serde(default = "default_label_column")]
    pub label: String,
    #[serde(default)]
    pub kind: TaskKind,
}

/// SHA-256 (lower-case hex) of the contents of a file task's two files.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileDigests {
    pub train_sha256: String,
    pub dev_sha256: String,
}

/// SHA-256 of `bytes` as lower-case hex (a file task's digests, [`FileDigests`]).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `name` can name a file task's records and folders: letters, digits, `_`, `-`
/// or `.`, not empty and not starting with `.`.
fn is_usable_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.')
}

impl FileTask {
    /// Checks what can be checked without reading the files: a usable name (it names
    /// records and folders, and must not be taken for a GLUE task) and distinct columns.
    pub fn validate(&self) -> Result<(), String> {
        let name = &self.name;
        if !is_usable_name(name) {
            return Err(format!(
                "file task name {name:?} must be letters, digits, `_`, `-` or `.` (and not start with `.`)"
            ));
        }
        if name.parse::<GlueTask>().is_ok() {
            return Err(format!(
                "file task name {name:?} is the name of a GLUE task: give the task of {} another name",
                self.train.display()
            ));
        }
        let mut columns = vec![("text", &self.text), ("label", &self.label)];
        if let Some(pair) = &self.text_pair {
            columns.push(("text_pair", pair));
        }
        for (i, (role, column)) in columns.iter().enumerate() {
            if column.trim().is_empty() {
                return Err(format!("file task {name}: the {role} column has no name"));
            }
            if let Some((other, _)) = columns[..i].iter().find(|(_, c)| c == column) {
                return Err(format!(
                    "file task {name}: column `{column}` cannot be both the {other} and the {role} column"
                ));
            }
        }
        Ok(())
    }

    /// The SHA-256 of the train and dev files as they are now. An unreadable file is an
    /// [`InputError`].
    pub fn digests(&self) -> anyhow::Result<FileDigests> {
        let read = |path: &Path| -> anyhow::Result<String> {
            let bytes = std::fs::read(path)
                .map_err(|e| InputError::File(format!("cannot read {}: {e}", path.display())))?;
            Ok(sha256_hex(&bytes))
        };
        Ok(FileDigests {
            train_sha256: read(&self.train)?,
            dev_sha256: read(&self.dev)?,
        })
    }

    /// What identifies this task's data: its name, then a hash of the contents of both files
    /// and of the columns and kind it reads them with (not of the paths, nor of the files'
    /// times): `reviews@1f0c...` (16 hex digits). Editing a file changes it.
    pub fn identity(&self) -> anyhow::Result<String> {
        Ok(self.identity_from(&self.digests()?))
    }

    /// [`Self::identity`] for files whose digests are `digests`.
    pub fn identity_from(&self, digests: &FileDigests) -> String {
        let mut hash = Sha256::new();
        for part in [
            self.text.as_str(),
            self.text_pair.as_deref().unwrap_or(""),
            self.label.as_str(),
            &self.kind.to_string(),
            &digests.train_sha256,
            &digests.dev_sha256,
        ] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        format!("{}@{}", self.name, &hex(&hash.finalize())[..16])
    }
}

/// A task as a user names it: a GLUE task or a task of their own. Serialised as the GLUE
/// name (`"sst2"`, so configs and records of GLUE runs read as before) or as the file task's
/// fields.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TaskSpec {
    Glue(GlueTask),
    File(FileTask),
}

impl TaskSpec {
    /// The name users type and records carry: `sst2`, or the file task's name.
    pub fn name(&self) -> &str {
        match self {
            TaskSpec::Glue(t) => t.name(),
            TaskSpec::File(f) => &f.name,
        }
    }

    pub fn kind(&self) -> TaskKind {
        match self {
            TaskSpec::Glue(t) if t.is_regression() => TaskKind::Regression,
            TaskSpec::Glue(_) => TaskKind::Classification,
            TaskSpec::File(f) => f.kind,
        }
    }

    pub fn glue(&self) -> Option<GlueTask> {
        match self {
            TaskSpec::Glue(t) => Some(*t),
            TaskSpec::File(_) => None,
        }
    }

    pub fn file(&self) -> Option<&FileTask> {
        match self {
            TaskSpec::Glue(_) => None,
            TaskSpec::File(f) => Some(f),
        }
    }

    /// What identifies the task's data: a GLUE task's name, or [`FileTask::identity`]
    /// (which reads the files).
    pub fn identity(&self) -> anyhow::Result<String> {
        match self {
            TaskSpec::Glue(t) => Ok(t.name().to_string()),
            TaskSpec::File(f) => f.identity(),
        }
    }
}

impl From<GlueTask> for TaskSpec {
    fn from(task: GlueTask) -> Self {
        TaskSpec::Glue(task)
    }
}

impl fmt::Display for TaskSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TaskSpec {
    type Err = UnknownTask;

    /// A GLUE task's name (a file task is given by its fields, not a name).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(TaskSpec::Glue)
    }
}

impl Serialize for TaskSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TaskSpec::Glue(t) => t.serialize(s),
            TaskSpec::File(f) => f.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for TaskSpec {
    /// A string is a GLUE task's name; a map is a file task (checked with
    /// [`FileTask::validate`]).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SpecVisitor;
        impl<'de> Visitor<'de> for SpecVisitor {
            type Value = TaskSpec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a GLUE task's name (cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli) or a \
                     file task {name, train, dev, text, text_pair, label, kind}",
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<TaskSpec, E> {
                v.parse().map(TaskSpec::Glue).map_err(E::custom)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TaskSpec, A::Error> {
                let task = FileTask::deserialize(de::value::MapAccessDeserializer::new(map))?;
                task.validate().map_err(de::Error::custom)?;
                Ok(TaskSpec::File(task))
            }
        }
        d.deserialize_any(SpecVisitor)
    }
}

/// A task named by its name alone: a GLUE task, or a task of your own by its
/// [`FileTask::name`]. What the per-task fields of a scale are keyed by (`train_rows`,
/// `dev_from_train`), and what `lrdist calibrate --tasks` selects by.
///
/// Written as the name (`qqp`, `reviews`). A GLUE name is read as [`GlueTask`] reads it
/// (`QQP` and `qqp` are one task); any other name is a file task's, which can never be
/// taken for a GLUE task ([`FileTask::validate`]). GLUE tasks sort first, in GLUE order,
/// then the other names by their text, so a map keyed by GLUE tasks alone reads, sorts and
/// writes exactly as one keyed by [`GlueTask`]; `Debug` of a GLUE task is its
/// [`GlueTask`]'s (`Qqp`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TaskName {
    Glue(GlueTask),
    File(String),
}

impl TaskName {
    /// The name of `task`.
    pub fn of(task: &TaskSpec) -> TaskName {
        match task {
            TaskSpec::Glue(t) => TaskName::Glue(*t),
            TaskSpec::File(f) => TaskName::File(f.name.clone()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            TaskName::Glue(t) => t.name(),
            TaskName::File(name) => name,
        }
    }

    /// Whether this names `task`.
    pub fn names(&self, task: &TaskSpec) -> bool {
        *self == TaskName::of(task)
    }
}

impl From<GlueTask> for TaskName {
    fn from(task: GlueTask) -> Self {
        TaskName::Glue(task)
    }
}

impl fmt::Display for TaskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TaskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskName::Glue(t) => fmt::Debug::fmt(t, f),
            TaskName::File(name) => fmt::Debug::fmt(name, f),
        }
    }
}

impl FromStr for TaskName {
    type Err = String;

    /// A GLUE task's name (as [`GlueTask`] parses it), else a file task's name (letters,
    /// digits, `_`, `-`, `.`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(t) = s.parse::<GlueTask>() {
            return Ok(TaskName::Glue(t));
        }
        if is_usable_name(s) {
            Ok(TaskName::File(s.to_string()))
        } else {
            Err(format!(
                "{s:?} is neither a GLUE task (cola sst2 mrpc stsb qqp mnli qnli rte wnli) nor \
                 the name of a task of your own (letters, digits, `_`, `-` or `.`)"
            ))
        }
    }
}

impl Serialize for TaskName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TaskName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(de::Error::custom)
    }
}

/// A file task as a run record keeps it: what was asked for, the label set its train file
/// gave (class `i` is `labels.classes[i]`), and the SHA-256 of the two files it read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileTaskRecord {
    pub task: FileTask,
    pub labels: LabelSet,
    pub train_sha256: String,
    pub dev_sha256: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for task in GlueTask::all() {
            assert_eq!(task.name().parse::<GlueTask>().unwrap(), task);
            assert_eq!(task.dir_name().parse::<GlueTask>().unwrap(), task);
            assert_eq!(task.to_string(), task.name());
            let json = serde_json::to_string(&task).unwrap();
            assert_eq!(json, format!("\"{}\"", task.name()));
            assert_eq!(serde_json::from_str::<GlueTask>(&json).unwrap(), task);
        }
        assert_eq!("sst-2".parse::<GlueTask>().unwrap(), GlueTask::Sst2);
        assert_eq!("STS-B".parse::<GlueTask>().unwrap(), GlueTask::Stsb);
    }

    #[test]
    fn unknown_name_lists_valid_ones() {
        let err = "sst3".parse::<GlueTask>().unwrap_err().to_string();
        assert!(
            err.contains("sst3") && err.contains("cola sst2 mrpc"),
            "{err}"
        );
    }

    #[test]
    fn label_parsing() {
        assert_eq!(GlueTask::Mnli.parse_label("contradiction").unwrap(), 2.0);
        assert_eq!(GlueTask::Rte.parse_label("not_entailment").unwrap(), 1.0);
        assert_eq!(GlueTask::Cola.parse_label("1").unwrap(), 1.0);
        assert_eq!(GlueTask::Stsb.parse_label("3.800").unwrap(), 3.8);
        assert!(GlueTask::Stsb.parse_label("5.5").is_err());
        assert!(GlueTask::Qnli.parse_label("entail").is_err());
        assert!(GlueTask::Sst2.parse_label("2").is_err());
    }

    #[test]
    fn heads_match_label_sets() {
        for task in GlueTask::all() {
            let classes = task.label_names().len();
            assert_eq!(
                task.num_labels(),
                if task.is_regression() { 1 } else { classes }
            );
            assert!(task.metric_names().contains(&task.primary_metric()));
        }
    }

    fn file_task(dir: &Path) -> FileTask {
        FileTask {
            name: "reviews".into(),
            train: dir.join("train.csv"),
            dev: dir.join("dev.csv"),
            text: "review".into(),
            text_pair: None,
            label: "stars".into(),
            kind: TaskKind::Classification,
        }
    }

    #[test]
    fn specs_read_glue_names_and_file_tasks() {
        let glue: TaskSpec = serde_yaml::from_str("SST-2").unwrap();
        assert_eq!(glue, TaskSpec::Glue(GlueTask::Sst2));
        assert_eq!(serde_json::to_string(&glue).unwrap(), "\"sst2\"");
        let yaml = "{name: reviews, train: t.csv, dev: d.jsonl, text: review, label: stars}";
        let file: TaskSpec = serde_yaml::from_str(yaml).unwrap();
        let TaskSpec::File(f) = &file else {
            panic!("{file:?}")
        };
        assert_eq!(
            (f.text_pair.as_deref(), f.kind, file.name()),
            (None, TaskKind::Classification, "reviews")
        );
        let back: TaskSpec = serde_json::from_str(&serde_json::to_string(&file).unwrap()).unwrap();
        assert_eq!(back, file);
        let defaults: TaskSpec =
            serde_yaml::from_str("{name: x, train: t.csv, dev: d.csv, kind: regression}").unwrap();
        let f = defaults.file().unwrap();
        assert_eq!((f.text.as_str(), f.label.as_str()), ("text", "label"));
        assert_eq!(defaults.kind(), TaskKind::Regression);

        let err = |yaml: &str| {
            serde_yaml::from_str::<TaskSpec>(yaml)
                .unwrap_err()
                .to_string()
        };
        assert!(
            err("sst3").contains("unknown GLUE task \"sst3\""),
            "{}",
            err("sst3")
        );
        let e = err("{name: x, train: t.csv, dev: d.csv, txt: a}");
        assert!(e.contains("unknown field `txt`"), "{e}");
        let e = err("{name: mrpc, train: t.csv, dev: d.csv}");
        assert!(e.contains("is the name of a GLUE task"), "{e}");
        let e = err("{name: a/b, train: t.csv, dev: d.csv}");
        assert!(e.contains("letters, digits"), "{e}");
        let e = err("{name: x, train: t.csv, dev: d.csv, text: y, label: y}");
        assert!(e.contains("column `y` cannot be both"), "{e}");
    }

    /// Task names key a scale's per-task fields: a map of GLUE tasks alone sorts, writes
    /// and prints as one keyed by `GlueTask` did (records and stage-1 keys stay as they
    /// were); a file task's name sorts after them.
    #[test]
    fn task_names_write_glue_keys_as_glue_tasks_did() {
        use std::collections::BTreeMap;
        let mut old: BTreeMap<GlueTask, usize> = BTreeMap::new();
        let mut new: BTreeMap<TaskName, usize> = BTreeMap::new();
        for (i, t) in GlueTask::all().into_iter().rev().enumerate() {
            old.insert(t, i);
            new.insert(t.into(), i);
        }
        assert_eq!(
            serde_json::to_string(&new).unwrap(),
            serde_json::to_string(&old).unwrap()
        );
        assert_eq!(
            serde_yaml::to_string(&new).unwrap(),
            serde_yaml::to_string(&old).unwrap()
        );
        assert_eq!(format!("{new:?}"), format!("{old:?}"));
        let back: BTreeMap<TaskName, usize> =
            serde_json::from_str(&serde_json::to_string(&old).unwrap()).unwrap();
        assert_eq!(back, new);

        new.insert("reviews".parse().unwrap(), 7);
        new.insert("QQP".parse().unwrap(), 400);
        let json = serde_json::to_string(&new).unwrap();
        assert!(
            json.starts_with("{\"cola\":8,") && json.ends_with("\"wnli\":0,\"reviews\":7}"),
            "{json}"
        );
        assert!(json.contains("\"qqp\":400"), "{json}");
        let reviews = TaskSpec::File(file_task(Path::new("/d")));
        assert_eq!(new[&TaskName::of(&reviews)], 7);
        assert!(TaskName::File("reviews".into()).names(&reviews));
        assert!(!TaskName::Glue(GlueTask::Sst2).names(&reviews));
        assert!("SST-2"
            .parse::<TaskName>()
            .unwrap()
            .names(&GlueTask::Sst2.into()));
        let e = "a/b".parse::<TaskName>().unwrap_err();
        assert!(e.contains("\"a/b\" is neither a GLUE task"), "{e}");
        let e = serde_yaml::from_str::<BTreeMap<TaskName, usize>>("{.x: 1}").unwrap_err();
        assert!(e.to_string().contains("neither a GLUE task"), "{e}");
    }

    #[test]
    fn label_sets_sort_integers_by_value_and_text_by_bytes() {
        let names = |set: LabelSet| set.class_names().to_vec();
        assert_eq!(
            names(LabelSet::sorted_classes(["10", "2", "-1", "2"])),
            ["-1", "2", "10"]
        );
        assert_eq!(
            names(LabelSet::sorted_classes(["b", "a", "B", "10", "2"])),
            ["10", "2", "B", "a", "b"]
        );
        assert_eq!(LabelSet::Regression.num_outputs(), 1);
    }

    #[test]
    fn a_file_tasks_identity_follows_its_contents_and_columns() {
        let dir = tempfile::tempdir().unwrap();
        let spec = file_task(dir.path());
        std::fs::write(&spec.train, "review,stars\ngood,5\nbad,1\n").unwrap();
        std::fs::write(&spec.dev, "review,stars\nok,5\n").unwrap();
        let first = spec.identity().unwrap();
        assert!(
            first.starts_with("reviews@") && first.len() == "reviews@".len() + 16,
            "{first}"
        );
        assert_eq!(
            spec.identity().unwrap(),
            first,
            "the same contents, the same identity"
        );
        // A copy elsewhere, touched later: same contents, same identity.
        let other = tempfile::tempdir().unwrap();
        let mut moved = file_task(other.path());
        std::fs::copy(&spec.train, &moved.train).unwrap();
        std::fs::copy(&spec.dev, &moved.dev).unwrap();
        assert_eq!(moved.identity().unwrap(), first);
        moved.text_pair = Some("extra".into());
        assert_ne!(
            moved.identity().unwrap(),
            first,
            "other columns, another identity"
        );
        std::fs::write(&spec.train, "review,stars\ngood,5\nbad,2\n").unwrap();
        assert_ne!(
            spec.identity().unwrap(),
            first,
            "edited train file, another identity"
        );
        std::fs::remove_file(&spec.dev).unwrap();
        let e = spec.identity().unwrap_err();
        assert!(
            e.downcast_ref::<InputError>().is_some() && e.to_string().contains("dev.csv"),
            "{e}"
        );
        assert_eq!(TaskSpec::Glue(GlueTask::Rte).identity().unwrap(), "rte");
    }
}
