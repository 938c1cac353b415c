//! Hugging Face model folders for trained classifiers: [`save_classifier`] writes a
//! trained encoder and task head (`lrdist finetune|run --save`), [`Classifier::load`]
//! reads such a folder, or any `BertForSequenceClassification` folder (weights in
//! `model.safetensors`, or in a `pytorch_model.bin` saved by `torch.save`), back.
//!
//! Two layouts, one per [`HeadKind`]:
//! - `pooler`: a `BertForSequenceClassification` folder. `model.safetensors` holds the
//!   encoder under transformers' names (`bert.embeddings.*`, `bert.encoder.layer.<i>.*`,
//!   `bert.pooler.dense.*`) and the head as `classifier.weight`/`classifier.bias`;
//!   `config.json` has `model_type`, `architectures`, `num_labels`, `id2label`/`label2id`
//!   and `problem_type`. `AutoModelForSequenceClassification` computes lrdist's logits.
//! - `cls` (the default head, which reads the raw [CLS] vector, a thing
//!   `BertForSequenceClassification` cannot express): a `BertModel` folder (architectures
//!   `["BertModel"]`, the encoder's own names) plus the head, `lrdist_head.safetensors`
//!   (`weight` `[num_labels, hidden]`, `bias` `[num_labels]`) and `lrdist_head.json`
//!   (labels, problem type, what the head reads). `python/lrdist_head.py` loads it and
//!   computes `classifier(last_hidden_state[:, 0])`.
//!
//! Both get the tokenizer files of the model folder the encoder was loaded from.

use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tch::{nn, Device, Tensor};

use crate::encoder::{Encoder, CONFIG_FILE, WEIGHTS_FILE};
use crate::head::{Head, HeadKind};
use crate::vars::InitMode;

/// The weights of a `cls` head, beside the `BertModel` folder.
pub const HEAD_WEIGHTS_FILE: &str = "lrdist_head.safetensors";
/// What a `cls` head reads and what its outputs mean.
pub const HEAD_CONFIG_FILE: &str = "lrdist_head.json";
/// The tokenizer file every saved folder needs.
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// Tokenizer files copied when the source folder has them.
pub const OPTIONAL_TOKENIZER_FILES: [&str; 3] = [
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
];
/// `format` of [`HEAD_CONFIG_FILE`].
const HEAD_FORMAT: &str = "lrdist-head";

/// What a head's outputs are: classes (names in index order) or one regression value.
#[derive(Clone, Debug, PartialEq)]
pub enum Labels {
    Classes(Vec<String>),
    Regression,
}

impl Labels {
    /// Classes named `names`, in index order.
    pub fn classes(names: &[&str]) -> Labels {
        Labels::Classes(names.iter().map(|n| n.to_string()).collect())
    }

    pub fn num_labels(&self) -> usize {
        match self {
            Labels::Classes(names) => names.len(),
            Labels::Regression => 1,
        }
    }

    pub fn is_regression(&self) -> bool {
        *self == Labels::Regression
    }

    /// transformers' `problem_type`.
    pub fn problem_type(&self) -> &'static str {
        match self {
            Labels::Classes(_) => "single_label_classification",
            Labels::Regression => "regression",
        }
    }

    /// The name of each output: the class names, `LABEL_0` for regression (transformers'
    /// default name).
    pub fn names(&self) -> Vec<String> {
        match self {
            Labels::Classes(names) => names.clone(),
            Labels::Regression => vec!["LABEL_0".to_string()],
        }
    }

    /// `id2label` and `label2id` as transformers writes them (ids as string keys).
    fn maps(&self) -> (Value, Value) {
        let names = self.names();
        let id2label: Map<String, Value> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (i.to_string(), json!(n)))
            .collect();
        let label2id: Map<String, Value> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), json!(i)))
            .collect();
        (Value::Object(id2label), Value::Object(label2id))
    }

    /// The labels a transformers config states for a head of `num_labels` outputs: its
    /// `problem_type` (absent: regression exactly when there is one output, transformers'
    /// rule) and its `id2label` (absent or of another size: `LABEL_<i>`).
    fn from_config(config: &Value, num_labels: usize, path: &Path) -> Result<Labels> {
        let regression = match config.get("problem_type").and_then(Value::as_str) {
            Some("regression") => true,
            Some("single_label_classification") => false,
            None => num_labels == 1,
            Some(other) => bail!(
                "{}: problem_type {other:?} is not supported (regression or \
                 single_label_classification)",
                path.display()
            ),
        };
        if regression {
            ensure!(
                num_labels == 1,
                "{}: a regression head has one output, this one has {num_labels}",
                path.display()
            );
            return Ok(Labels::Regression);
        }
        let given = config.get("id2label").and_then(Value::as_object);
        let names = (0..num_labels)
            .map(|i| {
                given
                    .filter(|m| m.len() == num_labels)
                    .and_then(|m| m.get(&i.to_string()))
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("LABEL_{i}"), str::to_string)
            })
            .collect();
        Ok(Labels::Classes(names))
    }
}

/// The content of [`HEAD_CONFIG_FILE`].
#[derive(Debug, Serialize, Deserialize)]
struct HeadFile {
    format: String,
    head: HeadKind,
    /// What the head reads, in transformers' terms.
    input: String,
    hidden_size: usize,
    num_labels: usize,
    id2label: Value,
    label2id: Value,
    problem_type: String,
    /// Dropout before the head in training (none in evaluation).
    classifier_dropout: f64,
    weights: String,
}

/// Writes `encoder` and the head in `head_vs` (its variables `head.weight`, `head.bias`, as
/// [`Encoder::new_head`] makes them) to `dir` as the Hugging Face folder of `kind` (see
/// the module docs), with the tokenizer files of the folder the encoder was loaded from.
/// Files of the other layout left in `dir` by an earlier save are removed.
pub fn save_classifier(
    dir: &Path,
    encoder: &Encoder,
    head_vs: &nn::VarStore,
    kind: HeadKind,
    labels: &Labels,
) -> Result<()> {
    let source = encoder
        .dir
        .as_deref()
        .context("the encoder was not loaded from a model folder: no tokenizer files to save")?;
    let (weight, bias) = head_tensors(head_vs)?;
    let hidden = encoder.config.hidden_size as i64;
    let n = labels.num_labels() as i64;
    ensure!(
        weight.size() == [n, hidden] && bias.size() == [n],
        "the head has shape {:?} + {:?}, {} labels on hidden size {hidden} need [{n}, {hidden}]",
        weight.size(),
        bias.size(),
        labels.num_labels()
    );
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut config = serde_json::to_value(&encoder.config)?;
    let fields = config.as_object_mut().expect("a config is a JSON object");
    fields.insert("model_type".into(), json!("bert"));
    let encoder_params = encoder.named_parameters();
    let weights_path = dir.join(WEIGHTS_FILE);
    match kind {
        HeadKind::Pooler => {
            ensure!(
                encoder.bert.has_pooler(),
                "a pooler head needs the encoder's pooler, and this encoder has none"
            );
            let (id2label, label2id) = labels.maps();
            fields.insert(
                "architectures".into(),
                json!(["BertForSequenceClassification"]),
            );
            fields.insert("num_labels".into(), json!(labels.num_labels()));
            fields.insert("id2label".into(), id2label);
            fields.insert("label2id".into(), label2id);
            fields.insert("problem_type".into(), json!(labels.problem_type()));
            let mut tensors: Vec<(String, Tensor)> = encoder_params
                .into_iter()
                .map(|(name, t)| (format!("bert.{name}"), t))
                .collect();
            tensors.push(("classifier.weight".into(), weight));
            tensors.push(("classifier.bias".into(), bias));
            write_tensors(&tensors, &weights_path)?;
            for stale in [HEAD_WEIGHTS_FILE, HEAD_CONFIG_FILE] {
                remove_if_present(&dir.join(stale))?;
            }
        }
        HeadKind::Cls => {
            fields.insert("architectures".into(), json!(["BertModel"]));
            write_tensors(&encoder_params, &weights_path)?;
            write_tensors(
                &[("weight".into(), weight), ("bias".into(), bias)],
                &dir.join(HEAD_WEIGHTS_FILE),
            )?;
            let (id2label, label2id) = labels.maps();
            let head = HeadFile {
                format: HEAD_FORMAT.into(),
                head: HeadKind::Cls,
                input: "last_hidden_state[:, 0]".into(),
                hidden_size: encoder.config.hidden_size,
                num_labels: labels.num_labels(),
                id2label,
                label2id,
                problem_type: labels.problem_type().into(),
                classifier_dropout: encoder.config.head_dropout(),
                weights: HEAD_WEIGHTS_FILE.into(),
            };
            write_json(&dir.join(HEAD_CONFIG_FILE), &serde_json::to_value(&head)?)?;
        }
    }
    write_json(&dir.join(CONFIG_FILE), &config)?;
    copy_tokenizer_files(source, dir)
}

/// Copies `tokenizer.json` (required) and the optional tokenizer files from `from` to `to`.
fn copy_tokenizer_files(from: &Path, to: &Path) -> Result<()> {
    let required = std::iter::once((TOKENIZER_FILE, true));
    let optional = OPTIONAL_TOKENIZER_FILES.iter().map(|f| (*f, false));
    for (name, needed) in required.chain(optional) {
        let src = from.join(name);
        if !needed && !src.is_file() {
            continue;
        }
        std::fs::copy(&src, to.join(name))
            .with_context(|| format!("cannot copy {} to {}", src.display(), to.display()))?;
    }
    Ok(())
}

/// `head.weight` and `head.bias` of a head's `VarStore`, detached copies on the CPU.
fn head_tensors(head_vs: &nn::VarStore) -> Result<(Tensor, Tensor)> {
    let vars = head_vs.variables();
    let get = |name: &str| {
        vars.get(name)
            .map(|t| t.detach().to_device(Device::Cpu))
            .with_context(|| format!("the head's VarStore has no variable {name}"))
    };
    Ok((get("head.weight")?, get("head.bias")?))
}

fn write_tensors(tensors: &[(String, Tensor)], path: &Path) -> Result<()> {
    let cpu: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.detach().to_device(Device::Cpu).contiguous()))
        .collect();
    Tensor::write_safetensors(&cpu, path).with_context(|| format!("writing {}", path.display()))
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// A trained classifier read from a model folder: an encoder, one head, what the head
/// reads and what its outputs mean.
#[derive(Debug)]
pub struct Classifier {
    pub encoder: Encoder,
    pub head_vs: nn::VarStore,
    pub head: Head,
    pub kind: HeadKind,
    pub labels: Labels,
}

impl Classifier {
    /// Reads a folder written by [`save_classifier`] (either layout) or any Hugging Face
    /// `BertForSequenceClassification` folder (`bert.*` + `classifier.*` tensors, labels
    /// from `config.json`), its weights in `model.safetensors` or, without one, in a
    /// `torch.save`d `pytorch_model.bin` ([`crate::read_weights`]). A plain `BertModel`
    /// folder without `lrdist_head.json` has no head and is an error.
    pub fn load(dir: &Path, device: Device) -> Result<Classifier> {
        ensure!(
            dir.join(CONFIG_FILE).is_file(),
            "{} is not a model folder (no {CONFIG_FILE})",
            dir.display()
        );
        let head_config = dir.join(HEAD_CONFIG_FILE);
        if head_config.is_file() {
            return Self::load_cls(dir, &head_config, device);
        }
        let (encoder, head) = Encoder::pretrained_with_head(dir, device, &["classifier."])?;
        let mut head: std::collections::BTreeMap<String, Tensor> = head.into_iter().collect();
        let (Some(weight), Some(bias)) = (
            head.remove("classifier.weight"),
            head.remove("classifier.bias"),
        ) else {
            bail!(
                "{} has no task head: neither {HEAD_CONFIG_FILE} (lrdist --save with the default \
                 --head cls) nor classifier.weight and classifier.bias \
                 (BertForSequenceClassification)",
                dir.display()
            );
        };
        ensure!(
            head.is_empty(),
            "{}: unexpected head tensors [{}] (a BertForSequenceClassification head is \
             classifier.weight and classifier.bias)",
            dir.display(),
            head.into_keys().collect::<Vec<_>>().join(", ")
        );
        ensure!(
            encoder.bert.has_pooler(),
            "{}: a BertForSequenceClassification folder needs bert.pooler.* tensors",
            dir.display()
        );
        let config_path = dir.join(CONFIG_FILE);
        let config: Value = serde_json::from_str(
            &std::fs::read_to_string(&config_path)
                .with_context(|| format!("reading {}", config_path.display()))?,
        )
        .with_context(|| format!("parsing {}", config_path.display()))?;
        let labels = Labels::from_config(&config, weight.size()[0] as usize, &config_path)?;
        Self::assemble(encoder, &weight, &bias, HeadKind::Pooler, labels, dir)
    }

    fn load_cls(dir: &Path, head_config: &Path, device: Device) -> Result<Classifier> {
        let text = std::fs::read_to_string(head_config)
            .with_context(|| format!("reading {}", head_config.display()))?;
        let file: HeadFile = serde_json::from_str(&text)
            .with_context(|| format!("parsing {}", head_config.display()))?;
        ensure!(
            file.format == HEAD_FORMAT && file.head == HeadKind::Cls,
            "{}: not an lrdist cls head (format {:?}, head {})",
            head_config.display(),
            file.format,
            file.head
        );
        let problem = json!({"problem_type": file.problem_type, "id2label": file.id2label});
        let labels = Labels::from_config(&problem, file.num_labels, head_config)?;
        let weights_path = dir.join(&file.weights);
        let tensors: std::collections::HashMap<String, Tensor> =
            Tensor::read_safetensors(&weights_path)
                .with_context(|| format!("reading {}", weights_path.display()))?
                .into_iter()
                .collect();
        let get = |name: &str| {
            tensors
                .get(name)
                .with_context(|| format!("{} has no tensor {name}", weights_path.display()))
        };
        let encoder = Encoder::pretrained(dir, device)?;
        Self::assemble(
            encoder,
            get("weight")?,
            get("bias")?,
            HeadKind::Cls,
            labels,
            dir,
        )
    }

    /// A head holding `weight` and `bias` on `encoder`.
    fn assemble(
        encoder: Encoder,
        weight: &Tensor,
        bias: &Tensor,
        kind: HeadKind,
        labels: Labels,
        dir: &Path,
    ) -> Result<Classifier> {
        let (n, h) = (
            labels.num_labels() as i64,
            encoder.config.hidden_size as i64,
        );
        ensure!(
            weight.size() == [n, h] && bias.size() == [n],
            "{}: the head has shape {:?} + {:?}, {n} labels on hidden size {h} need [{n}, {h}]",
            dir.display(),
            weight.size(),
            bias.size()
        );
        let head_vs = nn::VarStore::new(encoder.vs.device());
        let head = Head::with_init(
            &head_vs.root().sub("head"),
            &encoder.config,
            labels.num_labels(),
            InitMode::Placeholder,
        );
        let vars = head_vs.variables();
        tch::no_grad(|| {
            vars["head.weight"].shallow_clone().copy_(weight);
            vars["head.bias"].shallow_clone().copy_(bias);
        });
        Ok(Classifier {
            encoder,
            head_vs,
            head,
            kind,
            labels,
        })
    }

    /// Logits (or regression outputs) `[B, num_labels]` in evaluation mode (no dropout,
    /// no autograd), computed as lrdist trains and evaluates the head.
    pub fn logits(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
    ) -> Tensor {
        tch::no_grad(|| {
            let x = self.encoder.bert.head_input_t(
                self.kind,
                input_ids,
                token_type_ids,
                attention_mask,
                false,
            );
            self.head.forward_t(&x, false)
        })
    }
}
