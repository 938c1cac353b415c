//! Turning task rows (GLUE or file tasks) into model inputs: tokenise once, batch many times.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use lrdist_data::{
    load_task, Batch, DataSpec, Encoded, FileTaskRecord, Task, TaskSpec, TextTokenizer,
};
use tch::{Device, Tensor};

/// A set of tokenised rows of one task (a train or dev set, or a part of one).
#[derive(Clone, Debug)]
pub struct RowSet {
    pub task: Task,
    /// Human-readable name: `sst2/train`, `sst2/dev cluster 1`, ...
    pub name: String,
    pub rows: Vec<Encoded>,
}

impl RowSet {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize], name: String) -> RowSet {
        RowSet {
            task: self.task.clone(),
            name,
            rows: indices.iter().map(|&i| self.rows[i].clone()).collect(),
        }
    }

    pub fn labels(&self) -> Vec<f32> {
        self.rows.iter().map(|r| r.label).collect()
    }

    /// The primary score of always predicting this set's most frequent label: its
    /// majority rate for accuracy, 0 for Matthews correlation; `None` for regression or an
    /// empty set (a constant has no Pearson correlation). The "learned" bar of the regime
    /// table (docs/METHOD.md, "The forget scale").
    pub fn majority_score(&self) -> Option<f64> {
        if self.task.is_regression() || self.is_empty() {
            return None;
        }
        let labels = self.labels();
        let mut counts: Vec<(f32, usize)> = Vec::new();
        for &l in &labels {
            match counts.iter_mut().find(|(v, _)| *v == l) {
                Some((_, n)) => *n += 1,
                None => counts.push((l, 1)),
            }
        }
        // Ties go to the smallest label, so the result does not depend on row order.
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.total_cmp(&b.0)));
        let preds = vec![counts[0].0; labels.len()];
        let metrics = lrdist_data::metrics::compute(&self.task, &preds, &labels);
        metrics.get(self.task.primary_metric()).copied()
    }
}

/// A task's train and dev rows, tokenised.
#[derive(Clone, Debug)]
pub struct PreparedTask {
    /// The task with its label set.
    pub task: Task,
    pub train: RowSet,
    pub dev: RowSet,
    pub dev_source: String,
    /// What a record keeps of a file task (label set, file digests); `None` for GLUE.
    pub file: Option<FileTaskRecord>,
}

/// Loads and tokenises tasks, caching each (task, data spec, max length) once per
/// process, so a search's trials and a run's stages never tokenise the same rows twice.
pub struct DataCache {
    glue_dir: PathBuf,
    tokenizer: TextTokenizer,
    cache: HashMap<String, Arc<PreparedTask>>,
}

impl DataCache {
    pub fn new(glue_dir: &Path, model_dir: &Path, max_len: usize) -> Result<Self> {
        Ok(Self {
            glue_dir: glue_dir.to_path_buf(),
            tokenizer: TextTokenizer::from_model_dir(model_dir, max_len)?,
            cache: HashMap::new(),
        })
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    pub fn glue_dir(&self) -> &Path {
        &self.glue_dir
    }

    /// The tokenised train and dev rows of `task` under `spec`. A file task is read once
    /// per process, so a search's trials see the files as they were at its first trial.
    pub fn task(&mut self, task: &TaskSpec, spec: &DataSpec) -> Result<Arc<PreparedTask>> {
        let id = match task {
            TaskSpec::Glue(t) => t.to_string(),
            TaskSpec::File(f) => format!("{f:?}"),
        };
        let key = format!("{id}|{spec:?}|{}", self.tokenizer.max_len());
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit.clone());
        }
        let data = load_task(&self.glue_dir, task, spec)?;
        let name = data.task.name().to_string();
        let encode = |rows: &[lrdist_data::Example], file: &str| {
            self.tokenizer
                .encode(rows)
                .with_context(|| format!("{name}: tokenising {file}"))
        };
        let train = encode(&data.train, &data.train_source)?;
        let dev = encode(&data.dev, &data.dev_source)?;
        let prepared = Arc::new(PreparedTask {
            train: RowSet {
                task: data.task.clone(),
                name: format!("{name}/train"),
                rows: train,
            },
            dev: RowSet {
                task: data.task.clone(),
                name: format!("{name}/dev"),
                rows: dev,
            },
            task: data.task,
            dev_source: data.dev_source,
            file: data.file,
        });
        self.cache.insert(key, prepared.clone());
        Ok(prepared)
    }
}

/// A batch as tensors on a device.
pub struct BatchTensors {
    pub input_ids: Tensor,
    pub token_type_ids: Tensor,
    pub attention_mask: Tensor,
}

impl BatchTensors {
    pub fn new(batch: &Batch, device: Device) -> Self {
        let shape = [batch.batch_size as i64, batch.seq_len as i64];
        let t = |v: &[i64]| Tensor::from_slice(v).view(shape).to_device(device);
        Self {
            input_ids: t(&batch.input_ids),
            token_type_ids: t(&batch.token_type_ids),
            attention_mask: t(&batch.attention_mask),
        }
    }
}

/// Writes the train rows that `spec` selects from `task` with a header; returns the row
/// count. Lets another tool train on exactly our rows. `out` `-` is standard output. The
/// format follows `out`'s extension: `.csv` (quoted where needed) or `.jsonl` (one object
/// per row), else TSV,
/// tab-separated and unquoted as GLUE's files. A GLUE task's columns are `sentence` (or
/// `sentence1`, `sentence2`) and `label`, its label the class index (the STS-B score); a
/// task of your own keeps its own column names and labels (a class by its name), so the
/// file reads back as its train file. A text holding a tab or a line break, which an
/// unquoted TSV cannot hold, is an [`lrdist_data::InputError`] naming the row it came
/// from.
pub fn export_sample(
    glue_dir: &Path,
    task: &TaskSpec,
    spec: &DataSpec,
    out: &Path,
) -> Result<usize> {
    let data = load_task(glue_dir, task, spec)?;
    let (columns, source): (Vec<&str>, Option<&Path>) = match task {
        TaskSpec::Glue(t) if t.is_pair() => (vec!["sentence1", "sentence2", "label"], None),
        TaskSpec::Glue(_) => (vec!["sentence", "label"], None),
        TaskSpec::File(f) => {
            let mut c = vec![f.text.as_str()];
            c.extend(f.text_pair.as_deref());
            c.push(f.label.as_str());
            (c, Some(f.train.as_path()))
        }
    };
    let format = lrdist_data::table::Format::of(out).unwrap_or(lrdist_data::table::Format::Tsv);
    let label_of = |ex: &lrdist_data::Example| -> String {
        match (task, data.task.labels()) {
            (_, lrdist_data::LabelSet::Regression) => ex.label.to_string(),
            (TaskSpec::Glue(_), _) => (ex.label as i64).to_string(),
            (TaskSpec::File(_), labels) => labels.class_names()[ex.label as usize].clone(),
        }
    };
    let write_err = || format!("cannot write {}", out.display());
    if format == lrdist_data::table::Format::Jsonl {
        let mut w = lrdist_data::table::create_output(out).with_context(write_err)?;
        for ex in &data.train {
            let label = match data.task.labels() {
                lrdist_data::LabelSet::Regression => serde_json::json!(ex.label),
                _ => serde_json::json!(label_of(ex)),
            };
            let mut row = serde_json::Map::new();
            let texts = std::iter::once(&ex.text_a).chain(ex.text_b.as_ref());
            for (column, text) in columns.iter().zip(texts) {
                row.insert(column.to_string(), serde_json::json!(text));
            }
            row.insert(columns[columns.len() - 1].to_string(), label);
            serde_json::to_writer(&mut w, &row).with_context(write_err)?;
            std::io::Write::write_all(&mut w, b"\n").with_context(write_err)?;
        }
        std::io::Write::flush(&mut w).with_context(write_err)?;
        return Ok(data.train.len());
    }
    let tsv = format == lrdist_data::table::Format::Tsv;
    // Checked before the file is created, so a refused sample writes nothing.
    if tsv {
        for ex in &data.train {
            let texts = std::iter::once(&ex.text_a).chain(ex.text_b.as_ref());
            for (column, text) in columns.iter().zip(texts) {
                if text.contains(['\t', '\n', '\r']) {
                    return Err(lrdist_data::InputError::Row {
                        path: source.unwrap_or(out).to_path_buf(),
                        line: ex.line,
                        reason: format!(
                            "column `{column}` holds a tab or a line break, which the unquoted \
                             TSV that `data sample` writes cannot hold: give --out a .csv or \
                             .jsonl name"
                        ),
                    }
                    .into());
                }
            }
        }
    }
    let mut w = csv::WriterBuilder::new()
        .delimiter(if tsv { b'\t' } else { b',' })
        .quote_style(if tsv {
            csv::QuoteStyle::Never
        } else {
            csv::QuoteStyle::Necessary
        })
        .from_writer(lrdist_data::table::create_output(out).with_context(write_err)?);
    w.write_record(&columns)?;
    for ex in &data.train {
        let label = label_of(ex);
        match &ex.text_b {
            Some(b) => w.write_record([ex.text_a.as_str(), b.as_str(), label.as_str()])?,
            None => w.write_record([ex.text_a.as_str(), label.as_str()])?,
        }
    }
    w.flush()?;
    Ok(data.train.len())
}
