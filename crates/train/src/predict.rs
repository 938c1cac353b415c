//! `lrdist predict`: a saved classifier ([`lrdist_model::Classifier`]: a folder written by
//! `--save`, or any Hugging Face `BertForSequenceClassification` folder, with
//! `model.safetensors` or a `torch.save`d `pytorch_model.bin`) on the texts of a
//! CSV, TSV or JSONL file, one JSON line per input row, in input order:
//! `{"label": "...", "probabilities": {"<label>": p, ...}}` (labels in class order), or
//! `{"value": x}` for a regression head.
//!
//! Rows are tokenised by the folder's own `tokenizer.json`, sorted by length and batched,
//! each batch padded to its own longest row, as lrdist evaluates dev sets, so a dev set
//! written to a file gets the predictions lrdist's evaluation makes.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lrdist_data::{make_batches, BatchOrder, Encoded, Example, TextTokenizer};
use lrdist_model::{Classifier, Labels};
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use tch::{Device, Kind};

use crate::inputs::BatchTensors;

/// The text column used when none is named, then the one tried when it is missing.
pub const DEFAULT_TEXT_COLUMNS: [&str; 2] = ["text", "sentence"];

/// The rows `lrdist predict` classifies and where it writes them: what a user gives.
#[derive(Clone, Debug)]
pub struct PredictInput {
    /// `.csv`, `.tsv` (no quoting, as GLUE) or `.jsonl` (one object per line).
    pub input: PathBuf,
    /// Column of the text [default: `text`, else `sentence`].
    pub text_column: Option<String>,
    /// Column of the second text of a pair, if any.
    pub text_pair_column: Option<String>,
    /// JSONL file to write (its folder is created); `None`: stdout.
    pub output: Option<PathBuf>,
    pub batch_size: usize,
    /// Longest row in tokens (capped at the model's `max_position_embeddings`).
    pub max_len: usize,
}

/// What `lrdist predict` reads and writes, and with which model on which device.
#[derive(Clone, Debug)]
pub struct PredictOptions {
    /// The model folder (config.json, model.safetensors or pytorch_model.bin,
    /// tokenizer.json and a head).
    pub model_dir: PathBuf,
    pub rows: PredictInput,
    pub device: Device,
    pub progress: bool,
}

/// What a prediction run did.
#[derive(Clone, Debug)]
pub struct PredictSummary {
    pub rows: usize,
    pub labels: Labels,
    pub output: Option<PathBuf>,
}

/// An error in what the user gave `predict`: the input file (naming its line and column)
/// or the model folder. The CLI exits 2 on it. The same error as a task file's.
pub use lrdist_data::InputError;

/// One input row: the text (and pair), and its 1-based line in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct TextRow {
    pub text: String,
    pub pair: Option<String>,
    pub line: usize,
}

/// The prediction for one row.
#[derive(Clone, Debug, PartialEq)]
pub enum Prediction {
    /// The most probable class and every class's softmax probability, in class order.
    Class {
        label: String,
        probabilities: Vec<(String, f64)>,
    },
    /// A regression head's output.
    Value(f64),
}

impl Serialize for Prediction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// Entries as a JSON object, in their own order.
        struct InOrder<'a>(&'a [(String, f64)]);
        impl Serialize for InOrder<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
        let mut map = s.serialize_map(None)?;
        match self {
            Prediction::Class {
                label,
                probabilities,
            } => {
                map.serialize_entry("label", label)?;
                map.serialize_entry("probabilities", &InOrder(probabilities))?;
            }
            Prediction::Value(v) => map.serialize_entry("value", v)?,
        }
        map.end()
    }
}

impl Prediction {
    /// The prediction a head's outputs `logits` (one row) make under `labels`.
    fn from_logits(logits: &[f32], labels: &Labels) -> Prediction {
        let Labels::Classes(names) = labels else {
            return Prediction::Value(f64::from(logits[0]));
        };
        // The first highest logit, as `argmax` in lrdist's evaluation.
        let best = (0..logits.len()).fold(0, |b, i| if logits[i] > logits[b] { i } else { b });
        let top = f64::from(logits[best]);
        let exp: Vec<f64> = logits.iter().map(|&l| (f64::from(l) - top).exp()).collect();
        let sum: f64 = exp.iter().sum();
        Prediction::Class {
            label: names[best].clone(),
            probabilities: names
                .iter()
                .cloned()
                .zip(exp.iter().map(|e| e / sum))
                .collect(),
        }
    }
}

/// Predicts every row of `opts.rows.input` and writes one JSON line per row. Input errors (the
/// file, a row, the model folder) are [`InputError`]s; the input is read and checked
/// before the model is loaded.
pub fn predict_file(opts: &PredictOptions) -> Result<PredictSummary> {
    let rows = read_rows(
        &opts.rows.input,
        opts.rows.text_column.as_deref(),
        opts.rows.text_pair_column.as_deref(),
    )?;
    let classifier = Classifier::load(&opts.model_dir, opts.device)
        .map_err(|e| InputError::File(format!("{e:#}")))?;
    let max_len = opts
        .rows
        .max_len
        .min(classifier.encoder.config.max_position_embeddings);
    let tokenizer = TextTokenizer::from_model_dir(&opts.model_dir, max_len)
        .map_err(|e| InputError::File(format!("{e:#}")))?;
    let encoded = tokenizer
        .encode(&examples(&rows))
        .map_err(|e| InputError::File(format!("{}: {e:#}", opts.rows.input.display())))?;
    let predictions = predict_encoded(
        &classifier,
        &encoded,
        tokenizer.pad_id(),
        opts.rows.batch_size,
        opts.progress,
    )?;
    match &opts.rows.output {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            write_predictions(&predictions, file)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        None => write_predictions(&predictions, std::io::stdout().lock())?,
    }
    Ok(PredictSummary {
        rows: rows.len(),
        labels: classifier.labels.clone(),
        output: opts.rows.output.clone(),
    })
}

fn write_predictions(predictions: &[Prediction], out: impl Write) -> Result<()> {
    let mut out = BufWriter::new(out);
    for p in predictions {
        serde_json::to_writer(&mut out, p)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// `rows` as unlabelled examples (label 0), for the tokenizer.
fn examples(rows: &[TextRow]) -> Vec<Example> {
    rows.iter()
        .map(|r| Example {
            text_a: r.text.clone(),
            text_b: r.pair.clone(),
            label: 0.0,
            line: r.line,
        })
        .collect()
}

/// The predictions of `classifier` for tokenised rows, in row order: sorted by length,
/// in batches of `batch_size` padded with `pad_id` to their longest row.
pub fn predict_encoded(
    classifier: &Classifier,
    encoded: &[Encoded],
    pad_id: i64,
    batch_size: usize,
    progress: bool,
) -> Result<Vec<Prediction>> {
    let device = classifier.encoder.vs.device();
    let batches = make_batches(encoded, batch_size.max(1), BatchOrder::ByLength, pad_id);
    let bar = crate::learner::progress_bar(progress, batches.len() as u64, "predict");
    let mut out = vec![None; encoded.len()];
    for batch in &batches {
        let t = BatchTensors::new(batch, device);
        let logits = classifier.logits(&t.input_ids, &t.token_type_ids, &t.attention_mask);
        let width = logits.size()[1] as usize;
        let values = Vec::<f32>::try_from(
            logits
                .to_kind(Kind::Float)
                .to_device(Device::Cpu)
                .reshape([-1]),
        )?;
        for (row, chunk) in batch.rows.iter().zip(values.chunks(width)) {
            out[*row] = Some(Prediction::from_logits(chunk, &classifier.labels));
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out
        .into_iter()
        .map(|p| p.expect("every row is in one batch"))
        .collect())
}

/// The rows of a `.csv`, `.tsv` or `.jsonl` file (told apart by extension; read by
/// [`lrdist_data::table`], as the files of a task of your own). The text column is
/// `text_column`, else `text`, else `sentence`; the pair column only when named. A missing
/// column, a text that is empty (or only spaces) or a malformed row is an [`InputError`]
/// naming the file, the line and the column.
pub fn read_rows(
    path: &Path,
    text_column: Option<&str>,
    pair_column: Option<&str>,
) -> Result<Vec<TextRow>> {
    let named;
    let text: &[&str] = match text_column {
        Some(c) => {
            named = [c];
            &named
        }
        None => &DEFAULT_TEXT_COLUMNS,
    };
    let columns = lrdist_data::table::Columns {
        text,
        text_pair: pair_column,
        label: None,
    };
    let table = lrdist_data::table::read_table(path, &columns)?;
    Ok(table
        .rows
        .into_iter()
        .map(|r| TextRow {
            text: r.text,
            pair: r.text_pair,
            line: r.line,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &tempfile::TempDir, name: &str, content: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn err(r: Result<Vec<TextRow>>) -> String {
        let e = r.unwrap_err();
        assert!(e.downcast_ref::<InputError>().is_some(), "{e:#}");
        e.to_string()
    }

    fn row(text: &str, pair: Option<&str>, line: usize) -> TextRow {
        TextRow {
            text: text.into(),
            pair: pair.map(Into::into),
            line,
        }
    }

    #[test]
    fn csv_tsv_and_jsonl_give_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let csv = file(
            &dir,
            "a.csv",
            "id,text\n1,\"good, \"\"really\"\"\"\n2,bad\n",
        );
        let tsv = file(&dir, "a.tsv", "id\ttext\n1\tgood, \"really\"\n2\tbad\n");
        let jsonl = file(
            &dir,
            "a.jsonl",
            "{\"id\": 1, \"text\": \"good, \\\"really\\\"\"}\n\n{\"text\": \"bad\"}\n",
        );
        let want = vec![row("good, \"really\"", None, 2), row("bad", None, 3)];
        assert_eq!(read_rows(&csv, None, None).unwrap(), want);
        assert_eq!(read_rows(&tsv, None, None).unwrap(), want);
        // JSONL has no header: its rows are on lines 1 and 3 (line 2 is blank).
        let mut jsonl_want = want.clone();
        jsonl_want[0].line = 1;
        assert_eq!(read_rows(&jsonl, None, None).unwrap(), jsonl_want);
    }

    #[test]
    fn sentence_is_the_fallback_and_pairs_are_read_when_named() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = file(&dir, "p.tsv", "sentence\tother\tlabel\na\tb\t1\n");
        assert_eq!(read_rows(&tsv, None, None).unwrap(), [row("a", None, 2)]);
        assert_eq!(
            read_rows(&tsv, Some("other"), Some("sentence")).unwrap(),
            [row("b", Some("a"), 2)]
        );
        let jsonl = file(&dir, "p.jsonl", "{\"sentence\": \"x\", \"q\": \"y\"}\n");
        assert_eq!(
            read_rows(&jsonl, None, Some("q")).unwrap(),
            [row("x", Some("y"), 1)]
        );
    }

    #[test]
    fn missing_columns_and_empty_texts_name_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let csv = file(&dir, "m.csv", "id,body\n1,x\n");
        let e = err(read_rows(&csv, None, None));
        assert!(
            e.contains("m.csv:1:") && e.contains("`text` or `sentence`") && e.contains("body"),
            "{e}"
        );
        let e = err(read_rows(&csv, Some("txt"), None));
        assert!(e.contains("m.csv:1: no column `txt`"), "{e}");
        let e = err(read_rows(&csv, Some("body"), Some("second")));
        assert!(e.contains("m.csv:1: no column `second`"), "{e}");

        let csv = file(&dir, "e.csv", "text\nfine\n\"  \"\n");
        let e = err(read_rows(&csv, None, None));
        assert!(e.contains("e.csv:3: column `text` is empty"), "{e}");
        // Lines count the lines of a quoted multi-line text and blank lines.
        let csv = file(&dir, "f.csv", "text\r\n\"two\nlines\"\r\n\r\nok\n\"\"\n");
        let e = err(read_rows(&csv, None, None));
        assert!(e.contains("f.csv:6:"), "{e}");

        let tsv = file(&dir, "w.tsv", "text\tlabel\nfine\t1\nno label\n");
        let e = err(read_rows(&tsv, None, None));
        assert!(e.contains("w.tsv:3:") && e.contains("1 fields"), "{e}");

        let jsonl = file(&dir, "j.jsonl", "{\"text\": \"a\"}\n{\"txt\": \"b\"}\n");
        let e = err(read_rows(&jsonl, None, None));
        assert!(e.contains("j.jsonl:2:") && e.contains("`text`"), "{e}");
        let jsonl = file(&dir, "k.jsonl", "{\"text\": \"a\", \"b\": 3}\n");
        let e = err(read_rows(&jsonl, None, Some("b")));
        assert!(e.contains("k.jsonl:1: column `b` is not a string"), "{e}");
        let jsonl = file(&dir, "l.jsonl", "{\"text\": \"a\"}\nnot json\n");
        let e = err(read_rows(&jsonl, None, None));
        assert!(
            e.contains("l.jsonl:2:") && e.contains("not a JSON object"),
            "{e}"
        );
    }

    #[test]
    fn unknown_formats_and_empty_files_are_input_errors() {
        let dir = tempfile::tempdir().unwrap();
        let e = err(read_rows(&file(&dir, "a.txt", "text\nx\n"), None, None));
        assert!(e.contains("a.txt") && e.contains(".jsonl"), "{e}");
        let e = err(read_rows(&file(&dir, "h.csv", "text\n"), None, None));
        assert!(e.contains("no rows"), "{e}");
        let e = err(read_rows(&dir.path().join("absent.csv"), None, None));
        assert!(e.contains("absent.csv"), "{e}");
    }

    #[test]
    fn predictions_serialise_labels_in_class_order() {
        let labels = Labels::classes(&["entailment", "neutral", "contradiction"]);
        let p = Prediction::from_logits(&[0.0, 2.0, 2.0], &labels);
        let Prediction::Class {
            label,
            probabilities,
        } = &p
        else {
            panic!("{p:?}")
        };
        assert_eq!(label, "neutral", "ties go to the first class, as argmax");
        let sum: f64 = probabilities.iter().map(|(_, q)| q).sum();
        assert!((sum - 1.0).abs() < 1e-12);
        let json = serde_json::to_string(&p).unwrap();
        assert!(
            json.starts_with("{\"label\":\"neutral\",\"probabilities\":{\"entailment\":"),
            "{json}"
        );
        assert!(json.find("neutral\":").unwrap() < json.find("contradiction").unwrap());
        let v = Prediction::from_logits(&[3.25], &Labels::Regression);
        assert_eq!(serde_json::to_string(&v).unwrap(), "{\"value\":3.25}");
    }
}
