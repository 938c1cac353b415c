//! The encoder's `VarStore`: pretrained Hugging Face weights in, task heads beside it.

use std::collections::btree_map::{BTreeMap, Entry};
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use tch::{nn, Device, Tensor};

use crate::bert::Bert;
use crate::config::BertConfig;
use crate::head::Head;
use crate::vars::InitMode;

/// File names inside a Hugging Face model directory.
pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The weights of a folder saved by PyTorch's `torch.save` (transformers'
/// `save_pretrained(..., safe_serialization=False)`), read when there is no
/// [`WEIGHTS_FILE`].
pub const TORCH_WEIGHTS_FILE: &str = "pytorch_model.bin";

/// The weights file of a Hugging Face model folder: [`WEIGHTS_FILE`] when it is there
/// (preferred, as transformers prefers it), else [`TORCH_WEIGHTS_FILE`]. A folder with
/// neither is an error naming both (and saying so when the checkpoint is sharded, which is
/// not supported).
pub fn weights_file(model_dir: &Path) -> anyhow::Result<PathBuf> {
    for name in [WEIGHTS_FILE, TORCH_WEIGHTS_FILE] {
        let path = model_dir.join(name);
        if path.is_file() {
            return Ok(path);
        }
    }
    let sharded = [WEIGHTS_FILE, TORCH_WEIGHTS_FILE]
        .iter()
        .map(|name| format!("{name}.index.json"))
        .find(|index| model_dir.join(index).is_file());
    match sharded {
        Some(index) => anyhow::bail!(
            "{} holds a sharded checkpoint ({index}), which lrdist does not read: save the \
             model as one {WEIGHTS_FILE}",
            model_dir.display()
        ),
        None => anyhow::bail!(
            "{} has no weights: neither {WEIGHTS_FILE} nor {TORCH_WEIGHTS_FILE}",
            model_dir.display()
        ),
    }
}

/// Every tensor of the weights file of `model_dir` ([`weights_file`]), on the CPU, and the
/// file's path. A `pytorch_model.bin` is read with libtorch's reader of `torch.save`d
/// files (tch's `Tensor::loadz_multi`): a dict of tensors in torch's zip format (torch 1.6
/// or later), as transformers' `save_pretrained(safe_serialization=False)` writes it. An
/// `OrderedDict` carrying `_metadata` (a bare `torch.save(model.state_dict())`) or torch's
/// legacy format is not read: the error says how to convert the folder.
pub fn read_weights(model_dir: &Path) -> anyhow::Result<(PathBuf, Vec<(String, Tensor)>)> {
    let path = weights_file(model_dir)?;
    let tensors = read_weights_file(&path)?;
    Ok((path, tensors))
}

/// Whether `path` is a `torch.save`d weights file (named [`TORCH_WEIGHTS_FILE`], or
/// ending in `.bin`) rather than a safetensors file.
fn is_torch_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "bin")
}

/// The tensors of one weights file, on the CPU, by [`is_torch_file`] (see
/// [`read_weights`]).
fn read_weights_file(path: &Path) -> anyhow::Result<Vec<(String, Tensor)>> {
    if is_torch_file(path) {
        Tensor::loadz_multi_with_device(path, Device::Cpu).map_err(|e| {
            // libtorch appends a C++ backtrace: its first line says what went wrong.
            let e = e.to_string();
            let why = e.lines().next().unwrap_or_default();
            anyhow::anyhow!(
                "reading weights {}: {why} (lrdist reads a torch.save'd dict of tensors in \
                 torch's zip format, as transformers' save_pretrained(safe_serialization=False) \
                 writes it; load the model with transformers and save_pretrained it again to \
                 write {WEIGHTS_FILE})",
                path.display()
            )
        })
    } else {
        Tensor::read_safetensors(path)
            .with_context(|| format!("reading weights {}", path.display()))
    }
}

/// A BERT encoder and the `VarStore` that owns its variables.
#[derive(Debug)]
pub struct Encoder {
    pub vs: nn::VarStore,
    pub bert: Bert,
    pub config: BertConfig,
    /// The model directory it was loaded from, if any.
    pub dir: Option<PathBuf>,
    /// Tensors of the weights file that are known not to belong to the encoder and were
    /// skipped (`embeddings.position_ids`, the `cls.*` pre-training heads), file names.
    pub ignored_tensors: Vec<String>,
}

impl Encoder {
    /// Loads `config.json` and the weights ([`read_weights`]: `model.safetensors`, else
    /// `pytorch_model.bin`) from a Hugging Face model directory.
    ///
    /// Tensor names may carry a `bert.` prefix, and LayerNorm's old `gamma`/`beta` names
    /// are accepted. Buffers and pre-training heads (see [`is_ignored`]) are skipped and
    /// listed in `ignored_tensors`. The encoder gets a pooler exactly when the file has
    /// pooler tensors (the task heads never use it). Any other difference is an error of
    /// type [`WeightsMismatch`] listing missing, unexpected and wrongly shaped tensors.
    pub fn pretrained(model_dir: &Path, device: Device) -> anyhow::Result<Encoder> {
        Ok(Encoder::pretrained_with_head(model_dir, device, &[])?.0)
    }

    /// [`Encoder::pretrained`] for a checkpoint that also holds a task head (a
    /// `BertForSequenceClassification`'s `classifier.*`): the tensors whose canonical name
    /// starts with one of `head_prefixes` are not encoder tensors but returned beside it,
    /// by canonical name, sorted.
    pub fn pretrained_with_head(
        model_dir: &Path,
        device: Device,
        head_prefixes: &[&str],
    ) -> anyhow::Result<(Encoder, Vec<(String, Tensor)>)> {
        let config = BertConfig::from_file(&model_dir.join(CONFIG_FILE))?;
        let (weights_path, tensors) = read_weights(model_dir)?;
        let mut weights = Weights::sort(tensors);
        let head_names: Vec<String> = weights
            .model
            .keys()
            .filter(|n| head_prefixes.iter().any(|p| n.starts_with(p)))
            .cloned()
            .collect();
        let head = head_names
            .into_iter()
            .filter_map(|n| weights.model.remove(&n).map(|(_, t)| (n, t)))
            .collect();
        let vs = nn::VarStore::new(device);
        let has_pooler = weights.model.keys().any(|n| n.starts_with("pooler."));
        let bert = Bert::with_options(&vs.root(), &config, has_pooler, InitMode::Placeholder);
        copy_weights(&vs, weights.model, weights.duplicates, &weights_path)?;
        let encoder = Encoder {
            vs,
            bert,
            config,
            dir: Some(model_dir.to_path_buf()),
            ignored_tensors: weights.ignored,
        };
        Ok((encoder, head))
    }

    /// Gives an encoder loaded from a checkpoint without pooler a fresh one (Hugging Face
    /// init from `seed`, as `transformers` does for a missing pooler), for a
    /// [`crate::HeadKind::Pooler`] head. Returns whether it added one.
    pub fn ensure_pooler(&mut self, seed: u64) -> bool {
        let root = self.vs.root();
        self.bert.add_pooler(&root, InitMode::Seed(seed))
    }

    /// A randomly initialised encoder (Hugging Face init, with pooler), reproducible from
    /// `seed`.
    pub fn random(cfg: &BertConfig, device: Device, seed: i64) -> Encoder {
        let vs = nn::VarStore::new(device);
        let bert = Bert::with_options(&vs.root(), cfg, true, InitMode::Seed(seed as u64));
        Encoder {
            vs,
            bert,
            config: cfg.clone(),
            dir: None,
            ignored_tensors: Vec::new(),
        }
    }

    /// A new task head in its own `VarStore` on the encoder's device, variables
    /// `head.weight` and `head.bias` (depth = number of layers + 1), reproducible from
    /// `seed`.
    pub fn new_head(&self, num_labels: usize, seed: i64) -> (nn::VarStore, Head) {
        let vs = nn::VarStore::new(self.vs.device());
        let p = vs.root().sub("head");
        let head = Head::with_init(&p, &self.config, num_labels, InitMode::Seed(seed as u64));
        (vs, head)
    }

    /// Every variable of the encoder with its Hugging Face name, sorted by name.
    pub fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut params: Vec<_> = self.vs.variables().into_iter().collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        params
    }

    /// Writes `config.json` and `model.safetensors` (Hugging Face names, no prefix) into
    /// `dir`, which [`Encoder::pretrained`] reads back.
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let config_path = dir.join(CONFIG_FILE);
        let json = serde_json::to_string_pretty(&self.config)?;
        std::fs::write(&config_path, json)
            .with_context(|| format!("writing {}", config_path.display()))?;
        let weights_path = dir.join(WEIGHTS_FILE);
        Tensor::write_safetensors(&self.named_parameters(), &weights_path)
            .with_context(|| format!("writing {}", weights_path.display()))
    }
}

/// True for tensors of a BERT checkpoint that are not encoder parameters: the
/// `position_ids`/`token_type_ids` buffers and the `cls.*` pre-training heads.
pub fn is_ignored(name: &str) -> bool {
    name.starts_with("cls.")
        || name == "embeddings.position_ids"
        || name == "embeddings.token_type_ids"
}

/// The Hugging Face names of the encoder parameters in the weights file at `path` (a
/// `model.safetensors`, or a `pytorch_model.bin`: see [`weights_file`]), sorted: canonical
/// names (no `bert.` prefix, LayerNorm `gamma`/`beta` read as `weight`/`bias`), without
/// the tensors [`is_ignored`] skips. Task-head tensors of a fine-tuned checkpoint
/// (`classifier.*`) are kept. Of a safetensors file only the header is read, not the
/// tensor data. A name given twice (`x` and `bert.x`) is an error, as in
/// [`Encoder::pretrained`].
pub fn checkpoint_parameter_names(path: &Path) -> anyhow::Result<Vec<String>> {
    let file_names: Vec<String> = if is_torch_file(path) {
        read_weights_file(path)?
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    } else {
        safetensors_names(path)?
    };
    let mut names = BTreeMap::new();
    for file_name in &file_names {
        let name = canonical_name(file_name);
        if is_ignored(&name) {
            continue;
        }
        if let Some(first) = names.insert(name, file_name) {
            anyhow::bail!(
                "{}: tensors `{first}` and `{file_name}` are the same parameter",
                path.display()
            );
        }
    }
    Ok(names.into_keys().collect())
}

/// The tensor names in the header of the safetensors file at `path`.
fn safetensors_names(path: &Path) -> anyhow::Result<Vec<String>> {
    use std::io::Read;
    /// The safetensors format caps its JSON header at 100 MB.
    const MAX_HEADER: u64 = 100_000_000;
    let what = || format!("reading the safetensors header of {}", path.display());
    let mut file = std::fs::File::open(path).with_context(what)?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len).with_context(what)?;
    let len = u64::from_le_bytes(len);
    anyhow::ensure!(
        len <= MAX_HEADER,
        "{} is not a safetensors file (header length {len})",
        path.display()
    );
    let mut header = vec![0u8; len as usize];
    file.read_exact(&mut header).with_context(what)?;
    let tensors: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&header).with_context(what)?;
    Ok(tensors
        .into_iter()
        .map(|(name, _)| name)
        .filter(|k| k != "__metadata__")
        .collect())
}

/// The Hugging Face name of a checkpoint tensor: without `bert.`, with LayerNorm
/// `gamma`/`beta` renamed `weight`/`bias` (as `transformers` does on load).
fn canonical_name(name: &str) -> String {
    let name = name.strip_prefix("bert.").unwrap_or(name);
    if let Some(stem) = name.strip_suffix("LayerNorm.gamma") {
        format!("{stem}LayerNorm.weight")
    } else if let Some(stem) = name.strip_suffix("LayerNorm.beta") {
        format!("{stem}LayerNorm.bias")
    } else {
        name.to_string()
    }
}

/// A checkpoint's tensors by canonical name, the names of those it skips, and those whose
/// canonical name was already taken (e.g. both `x` and `bert.x`).
struct Weights {
    model: BTreeMap<String, (String, Tensor)>,
    ignored: Vec<String>,
    duplicates: Vec<String>,
}

impl Weights {
    fn sort(mut tensors: Vec<(String, Tensor)>) -> Weights {
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        let mut model = BTreeMap::new();
        let (mut ignored, mut duplicates) = (Vec::new(), Vec::new());
        for (file_name, tensor) in tensors {
            let name = canonical_name(&file_name);
            if is_ignored(&name) {
                ignored.push(file_name);
            } else if let Entry::Vacant(slot) = model.entry(name) {
                slot.insert((file_name, tensor));
            } else {
                duplicates.push(file_name);
            }
        }
        Weights {
            model,
            ignored,
            duplicates,
        }
    }
}

/// The weights file and the model disagree. Names are the file's own for unexpected and
/// duplicate tensors, the model's for missing ones.
#[derive(Debug, thiserror::Error)]
pub struct WeightsMismatch {
    pub path: PathBuf,
    pub missing: Vec<String>,
    pub unexpected: Vec<String>,
    /// `(name, model shape, file shape)`.
    pub wrong_shape: Vec<(String, Vec<i64>, Vec<i64>)>,
    /// File tensors whose name, without `bert.`, another file tensor already has.
    pub duplicates: Vec<String>,
}

impl fmt::Display for WeightsMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} does not match the BERT config:", self.path.display())?;
        if !self.missing.is_empty() {
            write!(f, " missing tensors [{}];", self.missing.join(", "))?;
        }
        if !self.unexpected.is_empty() {
            write!(f, " unexpected tensors [{}];", self.unexpected.join(", "))?;
        }
        if !self.duplicates.is_empty() {
            write!(f, " tensors given twice [{}];", self.duplicates.join(", "))?;
        }
        for (name, want, got) in &self.wrong_shape {
            write!(f, " {name} has shape {got:?}, the model needs {want:?};")?;
        }
        Ok(())
    }
}

/// Copies every file tensor into the variable of the same name, after checking that the
/// two name sets and all shapes agree (`duplicates` are unexpected file tensors).
fn copy_weights(
    vs: &nn::VarStore,
    mut file: BTreeMap<String, (String, Tensor)>,
    duplicates: Vec<String>,
    path: &Path,
) -> anyhow::Result<()> {
    let mut vars: Vec<_> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let mut mismatch = WeightsMismatch {
        path: path.to_path_buf(),
        missing: Vec::new(),
        unexpected: Vec::new(),
        wrong_shape: Vec::new(),
        duplicates: Vec::new(),
    };
    let mut pairs = Vec::with_capacity(vars.len());
    for (name, var) in vars {
        match file.remove(&name) {
            None => mismatch.missing.push(name),
            Some((_, t)) if t.size() != var.size() => {
                mismatch.wrong_shape.push((name, var.size(), t.size()))
            }
            Some((_, t)) => pairs.push((var, t)),
        }
    }
    mismatch.unexpected = file.into_values().map(|(file_name, _)| file_name).collect();
    mismatch.duplicates = duplicates;
    if !(mismatch.missing.is_empty()
        && mismatch.unexpected.is_empty()
        && mismatch.wrong_shape.is_empty()
        && mismatch.duplicates.is_empty())
    {
        return Err(mismatch.into());
    }
    tch::no_grad(|| {
        for (mut var, t) in pairs {
            var.f_copy_(&t)
                .with_context(|| format!("copying a tensor of {}", path.display()))?;
        }
        Ok(())
    })
}
