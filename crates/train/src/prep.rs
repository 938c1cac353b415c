//! Turning task rows (GLUE or file tasks) into model inputs: tokenise once, batch many times.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use lrdist_data::{
    load_task, Batch, DataSpec, Encoded, FileTaskRecord, GlueTask, Task, TaskSpec, TextTokenizer,
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

/// Writes the train rows that `spec` selects from `task` as TSV (`text_a[\ttext_b]\tlabel`)
/// with a header; returns the row count. Lets another tool train on exactly our rows.
pub fn export_sample(
    glue_dir: &Path,
    task: GlueTask,
    spec: &DataSpec,
    out: &Path,
) -> Result<usize> {
    let data = load_task(glue_dir, &task.into(), spec)?;
    let mut w = csv::WriterBuilder::new()
        .delimiter(b'\t')
        .quote_style(csv::QuoteStyle::Never)
        .from_path(out)?;
    if task.is_pair() {
        w.write_record(["sentence1", "sentence2", "label"])?;
    } else {
        w.write_record(["sentence", "label"])?;
    }
    for ex in &data.train {
        let label = if task.is_regression() {
            ex.label.to_string()
        } else {
            (ex.label as i64).to_string()
        };
        match &ex.text_b {
            Some(b) => w.write_record([ex.text_a.as_str(), b.as_str(), label.as_str()])?,
            None => w.write_record([ex.text_a.as_str(), label.as_str()])?,
        }
    }
    w.flush()?;
    Ok(data.train.len())
}
