//! Reading GLUE TSV files in the layout `download_glue_data.py` writes.
//!
//! Text fields may hold quote characters, so files are read with quoting off
//! (Python's `QUOTE_NONE`), tab-separated, one record per line. Rows are read
//! flexibly and their width is checked here, so a short or long row is reported
//! with its file and line instead of being mis-parsed.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::Context;
use csv::{ReaderBuilder, StringRecord};
use serde::{Deserialize, Serialize};

use crate::task::GlueTask;

/// Where a task's text and label sit in its TSV files.
#[derive(Clone, Copy, Debug)]
enum Layout {
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

/// The layout of `task`'s TSV files, as `download_glue_data.py` writes them.
fn layout(task: GlueTask) -> Layout {
    let pair = |a, b, label| Layout::Named {
        text_a: a,
        text_b: Some(b),
        label,
    };
    match task {
        GlueTask::Cola => Layout::Positional {
            columns: 4,
            text_a: 3,
            label: 1,
        },
        GlueTask::Sst2 => Layout::Named {
            text_a: "sentence",
            text_b: None,
            label: "label",
        },
        GlueTask::Mrpc => pair("#1 String", "#2 String", "Quality"),
        GlueTask::Stsb => pair("sentence1", "sentence2", "score"),
        GlueTask::Qqp => pair("question1", "question2", "is_duplicate"),
        GlueTask::Mnli => pair("sentence1", "sentence2", "gold_label"),
        GlueTask::Qnli => pair("question", "sentence", "label"),
        GlueTask::Rte | GlueTask::Wnli => pair("sentence1", "sentence2", "label"),
    }
}

/// The environment variable naming the GLUE folder (the one holding `CoLA/`, `SST-2/`, ...).
pub const GLUE_DIR_ENV: &str = "GLUE_DIR";

/// One row of a GLUE file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Example {
    pub text_a: String,
    pub text_b: Option<String>,
    /// Class index as `f32` (see [`GlueTask::label_names`]) or the STS-B score.
    pub label: f32,
    /// 1-based line of the row in its file (the header is line 1).
    pub line: usize,
}

/// Which file of a task to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    Train,
    /// `dev.tsv`; for MNLI `dev_matched.tsv`, the set the paper evaluates on.
    Dev,
    /// MNLI's `dev_mismatched.tsv` (MNLI only).
    DevMismatched,
}

impl Split {
    /// The file this split is stored in for `task`.
    pub fn file_name(self, task: GlueTask) -> anyhow::Result<&'static str> {
        match (self, task) {
            (Split::Train, _) => Ok("train.tsv"),
            (Split::Dev, GlueTask::Mnli) => Ok("dev_matched.tsv"),
            (Split::Dev, _) => Ok("dev.tsv"),
            (Split::DevMismatched, GlueTask::Mnli) => Ok("dev_mismatched.tsv"),
            (Split::DevMismatched, _) => {
                anyhow::bail!("only MNLI has a mismatched dev set, not {task}")
            }
        }
    }
}

/// Errors that name the file, line or folder involved.
#[derive(Debug, thiserror::Error)]
pub enum GlueError {
    #[error("{path}:{line}: {reason}", path = .path.display())]
    Malformed {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error(
        "no folder for task {task} at {path}: {GLUE_DIR_ENV} (or --glue-dir) must name the folder \
         that holds CoLA/, SST-2/, MRPC/, ... as written by download_glue_data.py",
        path = .path.display()
    )]
    MissingTaskDir { task: GlueTask, path: PathBuf },
    #[error("no GLUE folder given: pass --glue-dir or set {GLUE_DIR_ENV}")]
    NoGlueDir,
    #[error("GLUE folder {path} (from {origin}) does not exist or is not a folder", path = .path.display())]
    MissingGlueDir { path: PathBuf, origin: &'static str },
}

/// The GLUE folder: `cli` (from `--glue-dir`) if given, else `$GLUE_DIR`.
pub fn resolve_glue_dir(cli: Option<&Path>) -> anyhow::Result<PathBuf> {
    let (path, origin) = match cli {
        Some(path) => (path.to_path_buf(), "--glue-dir"),
        None => match std::env::var_os(GLUE_DIR_ENV) {
            Some(value) if !value.is_empty() => (PathBuf::from(value), "$GLUE_DIR"),
            _ => return Err(GlueError::NoGlueDir.into()),
        },
    };
    if !path.is_dir() {
        return Err(GlueError::MissingGlueDir { path, origin }.into());
    }
    Ok(path)
}

/// The folder of `task` under `glue_dir`, or an error naming the path tried and GLUE_DIR.
/// An empty `glue_dir` means none was given (a command whose tasks are all file tasks
/// needs none).
pub fn task_dir(glue_dir: &Path, task: GlueTask) -> anyhow::Result<PathBuf> {
    if glue_dir.as_os_str().is_empty() {
        return Err(GlueError::NoGlueDir.into());
    }
    let dir = glue_dir.join(task.dir_name());
    if !dir.is_dir() {
        return Err(GlueError::MissingTaskDir { task, path: dir }.into());
    }
    Ok(dir)
}

/// Reads one split of `task` from `glue_dir/<TASK>/<file>`.
pub fn read_split(glue_dir: &Path, task: GlueTask, split: Split) -> anyhow::Result<Vec<Example>> {
    let dir = task_dir(glue_dir, task)?;
    read_tsv(&dir.join(split.file_name(task)?), task)
}

/// Reads a TSV file laid out as `task`'s GLUE files are.
pub fn read_tsv(path: &Path, task: GlueTask) -> anyhow::Result<Vec<Example>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = ReaderBuilder::new()
        .delimiter(b'\t')
        .quoting(false)
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::new(file));
    let malformed = |line: usize, reason: String| GlueError::Malformed {
        path: path.to_path_buf(),
        line,
        reason,
    };

    let mut records = reader.records().map(|record| {
        record.map_err(|err| {
            let line = err.position().map_or(0, |pos| pos.line() as usize);
            malformed(line, err.to_string())
        })
    });
    let parser = match layout(task) {
        Layout::Positional {
            columns,
            text_a,
            label,
        } => RowParser {
            task,
            columns,
            text_a,
            text_b: None,
            label,
        },
        Layout::Named {
            text_a,
            text_b,
            label,
        } => {
            let header = records
                .next()
                .ok_or_else(|| malformed(1, "empty file, expected a header line".into()))??;
            RowParser::from_header(task, &header, text_a, text_b, label)
                .map_err(|reason| malformed(1, reason))?
        }
    };

    let mut examples = Vec::new();
    for record in records {
        let record = record?;
        let line = record.position().map_or(0, |pos| pos.line() as usize);
        let example = parser
            .parse(&record, line)
            .map_err(|reason| malformed(line, reason))?;
        examples.push(example);
    }
    Ok(examples)
}

/// Turns records into examples, knowing which column holds what.
struct RowParser {
    task: GlueTask,
    columns: usize,
    text_a: usize,
    text_b: Option<usize>,
    label: usize,
}

impl RowParser {
    fn from_header(
        task: GlueTask,
        header: &StringRecord,
        text_a: &str,
        text_b: Option<&str>,
        label: &str,
    ) -> Result<Self, String> {
        let names: Vec<&str> = header.iter().map(strip_bom).collect();
        let find = |name: &str| {
            names
                .iter()
                .position(|column| *column == name)
                .ok_or_else(|| {
                    format!(
                        "header has no column {name:?} (columns: {})",
                        names.join(", ")
                    )
                })
        };
        Ok(RowParser {
            task,
            columns: names.len(),
            text_a: find(text_a)?,
            text_b: text_b.map(find).transpose()?,
            label: find(label)?,
        })
    }

    fn parse(&self, record: &StringRecord, line: usize) -> Result<Example, String> {
        if record.len() != self.columns {
            return Err(format!(
                "expected {} tab-separated columns for {}, found {}",
                self.columns,
                self.task,
                record.len()
            ));
        }
        // Only the first line of a file can carry a byte order mark (CoLA has no header).
        let field = |index: usize| match line {
            1 => strip_bom(&record[index]),
            _ => &record[index],
        };
        Ok(Example {
            text_a: field(self.text_a).to_string(),
            text_b: self.text_b.map(|index| field(index).to_string()),
            label: self.task.parse_label(field(self.label))?,
            line,
        })
    }
}

/// MRPC files (and any file saved by some editors) start with a UTF-8 byte order mark.
fn strip_bom(field: &str) -> &str {
    field.strip_prefix('\u{feff}').unwrap_or(field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{self, label_text, text_a, text_b, write_glue, TRAIN_ROWS};

    fn glue() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write_glue(dir.path());
        dir
    }

    #[test]
    fn every_task_layout_reads() {
        let dir = glue();
        for task in GlueTask::all() {
            for (split, rows) in [(Split::Train, TRAIN_ROWS), (Split::Dev, TRAIN_ROWS / 2)] {
                let examples = read_split(dir.path(), task, split).unwrap();
                assert_eq!(examples.len(), rows, "{task} {split:?}");
                let first_line = if task == GlueTask::Cola { 1 } else { 2 };
                for (i, example) in examples.iter().enumerate() {
                    // Texts are kept verbatim, including SST-2's space before the tab.
                    let a = if task == GlueTask::Sst2 {
                        format!("{} ", text_a(i))
                    } else {
                        text_a(i)
                    };
                    assert_eq!(example.text_a, a, "{task}");
                    assert_eq!(example.text_b, task.is_pair().then(|| text_b(i)), "{task}");
                    assert_eq!(
                        example.label,
                        task.parse_label(&label_text(task, i)).unwrap()
                    );
                    assert_eq!(example.line, first_line + i);
                }
            }
        }
    }

    #[test]
    fn mrpc_bom_header_and_cola_last_line() {
        let dir = glue();
        let raw = std::fs::read(dir.path().join("MRPC/train.tsv")).unwrap();
        assert_eq!(&raw[..3], b"\xef\xbb\xbf");
        assert_eq!(
            read_split(dir.path(), GlueTask::Mrpc, Split::Train)
                .unwrap()
                .len(),
            TRAIN_ROWS
        );

        let cola_dev = std::fs::read_to_string(dir.path().join("CoLA/dev.tsv")).unwrap();
        assert!(!cola_dev.ends_with('\n'));
        let last = read_split(dir.path(), GlueTask::Cola, Split::Dev)
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(last.text_a, text_a(TRAIN_ROWS / 2 - 1));
    }

    #[test]
    fn headerless_file_with_bom() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cola.tsv");
        std::fs::write(&path, "\u{feff}gj04\t1\t\tFirst.\ngj04\t0\t*\tSecond.\n").unwrap();
        let rows = read_tsv(&path, GlueTask::Cola).unwrap();
        assert_eq!((rows[0].label, rows[1].label, rows[1].line), (1.0, 0.0, 2));
    }

    #[test]
    fn mnli_mismatched_only_for_mnli() {
        let dir = glue();
        let mismatched = read_split(dir.path(), GlueTask::Mnli, Split::DevMismatched).unwrap();
        assert_eq!(mismatched.len(), TRAIN_ROWS / 2);
        let err = read_split(dir.path(), GlueTask::Sst2, Split::DevMismatched).unwrap_err();
        assert!(err.to_string().contains("only MNLI"), "{err}");
    }

    /// Writes `task`'s train file with line `bad_line` replaced by `replacement`.
    fn broken(task: GlueTask, bad_line: usize, replacement: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let mut lines: Vec<String> = fixtures::file_text(task, "train.tsv", 10)
            .lines()
            .map(str::to_string)
            .collect();
        lines[bad_line - 1] = replacement.to_string();
        let path = dir.path().join("train.tsv");
        std::fs::write(&path, lines.join("\n")).unwrap();
        let err = read_tsv(&path, task).unwrap_err().to_string();
        (dir, err)
    }

    #[test]
    fn malformed_rows_name_file_and_line() {
        let (dir, err) = broken(GlueTask::Rte, 4, "3\tonly one sentence\tentailment");
        let path = dir.path().join("train.tsv");
        assert!(err.starts_with(&format!("{}:4:", path.display())), "{err}");
        assert!(
            err.contains("expected 4") && err.contains("found 3"),
            "{err}"
        );

        let (_dir, err) = broken(GlueTask::Qnli, 6, "5\tq?\ts.\tentail");
        assert!(
            err.contains("train.tsv:6:") && err.contains("\"entail\""),
            "{err}"
        );

        let (_dir, err) = broken(
            GlueTask::Stsb,
            3,
            &fixtures::row(GlueTask::Stsb, "train.tsv", 1).replace("0.500", "7.5"),
        );
        assert!(
            err.contains("train.tsv:3:") && err.contains("0..=5"),
            "{err}"
        );

        let (_dir, err) = broken(GlueTask::Cola, 2, "gj04\t1\tThe comment column is missing.");
        assert!(
            err.contains("train.tsv:2:") && err.contains("expected 4"),
            "{err}"
        );

        let (_dir, err) = broken(
            GlueTask::Qqp,
            1,
            "id\tqid1\tqid2\tquestion1\tquestion2\tlabel",
        );
        assert!(
            err.contains("train.tsv:1:") && err.contains("is_duplicate"),
            "{err}"
        );
    }

    #[test]
    fn missing_folders_say_what_to_set() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_split(dir.path(), GlueTask::Wnli, Split::Train)
            .unwrap_err()
            .to_string();
        let tried = dir.path().join("WNLI");
        assert!(
            err.contains(&tried.display().to_string()) && err.contains("GLUE_DIR"),
            "{err}"
        );

        assert_eq!(resolve_glue_dir(Some(dir.path())).unwrap(), dir.path());
        let gone = dir.path().join("nope");
        let err = resolve_glue_dir(Some(&gone)).unwrap_err().to_string();
        assert!(
            err.contains(&gone.display().to_string()) && err.contains("--glue-dir"),
            "{err}"
        );
    }
}
