//! Distributions to PyTorch: the parameter groups of `torch.optim.AdamW` that train a
//! Hugging Face `BertForSequenceClassification` as lrdist trains it (`lrdist
//! export-param-groups`, read by `python/lrdist_param_groups.py`).
//!
//! The parameters are those of the model folder's `model.safetensors` (or, without one, its
//! `pytorch_model.bin`) under the names
//! `transformers` gives them in `BertForSequenceClassification`: `bert.` + the encoder's
//! name (`bert.embeddings.*`, `bert.encoder.layer.<i>.*`, `bert.pooler.*`), and the task
//! head `classifier.weight`, `classifier.bias`. The pooler and the classifier are added
//! when the file has none, since that class always has them. Each parameter gets the rate
//! of its depth ([`lrdist_model::depth_of`]: embeddings 0, layer `i` → `i + 1`, pooler
//! and classifier L + 1) under the resolved distribution, and weight decay unless it is a
//! bias or a LayerNorm parameter ([`lrdist_model::is_no_decay`]), as lrdist's own
//! optimiser groups do. Parameters with the same (rate, decay) share one group, so a
//! distribution with one rate per depth gives at most two groups per depth.

use std::path::Path;

use anyhow::{bail, Context, Result};
use lrdist_model::{checkpoint_parameter_names, depth_of, is_no_decay, BertConfig};
use serde::{Deserialize, Serialize};

use crate::distribution::ResolvedDistribution;
use crate::error::check_weight_decay;
use crate::grouping::{Grouping, GroupingSpec};
use crate::resolve::DistributionSpec;

/// One parameter group as `torch.optim.AdamW` takes it, with parameter names in place
/// of the tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TorchParamGroup {
    pub lr: f64,
    pub weight_decay: f64,
    /// `BertForSequenceClassification` parameter names, by depth, then by name.
    pub params: Vec<String>,
}

/// The `BertForSequenceClassification` parameter groups of the model in `model_dir`
/// (`config.json`, `model.safetensors` or `pytorch_model.bin`) under `distribution` (a preset or a file, as
/// `lrdist run --distribution` takes them) resolved for the model's layer count with
/// `grouping` (`per-layer`, `paper10`, `even:K`). Decayed groups get `weight_decay`,
/// the others 0 (module docs).
pub fn export_param_groups(
    model_dir: &Path,
    distribution: &DistributionSpec,
    grouping: GroupingSpec,
    weight_decay: f64,
) -> Result<Vec<TorchParamGroup>> {
    check_weight_decay(weight_decay)?;
    let config = BertConfig::from_file(&model_dir.join(lrdist_model::CONFIG_FILE))?;
    let num_layers = config.num_hidden_layers;
    let grouping = Grouping::new(grouping, num_layers)?;
    let resolved = distribution.resolve(num_layers, &grouping)?;
    let names = sequence_classification_names(model_dir, num_layers)?;
    torch_param_groups(&names, &resolved, weight_decay)
}

/// The trainable parameter names of a `BertForSequenceClassification` over the weights
/// in `model_dir` (module docs). Fails on a tensor that is no part of that model, and on
/// an encoder layer or the embeddings missing from the file.
pub fn sequence_classification_names(model_dir: &Path, num_layers: usize) -> Result<Vec<String>> {
    let weights = lrdist_model::weights_file(model_dir)?;
    let mut names = Vec::new();
    for name in checkpoint_parameter_names(&weights)? {
        let top = name.split('.').next().unwrap_or_default();
        let in_model = depth_of(&name, num_layers).is_some();
        match top {
            "classifier" => names.push(name),
            "embeddings" | "encoder" | "pooler" if in_model => names.push(format!("bert.{name}")),
            _ => bail!(
                "{}: tensor `{name}` is not a parameter of a {num_layers}-layer \
                 BertForSequenceClassification (expected embeddings.*, encoder.layer.<i>.* \
                 with i < {num_layers}, pooler.* or classifier.*)",
                weights.display()
            ),
        }
    }
    let added = ["bert.pooler.dense", "classifier"].map(|module| {
        let has_module = names.iter().any(|n| n.starts_with(&format!("{module}.")));
        (!has_module).then(|| [format!("{module}.weight"), format!("{module}.bias")])
    });
    names.extend(added.into_iter().flatten().flatten());
    for depth in 0..=num_layers {
        if !names.iter().any(|n| depth_of(n, num_layers) == Some(depth)) {
            let part = match depth {
                0 => "the embeddings".to_string(),
                d => format!("encoder layer {}", d - 1),
            };
            bail!(
                "{} has no tensor of {part}, but config.json says {num_layers} layers",
                weights.display()
            );
        }
    }
    Ok(names)
}

/// Groups `names` (of a model of `resolved.num_layers` layers) by (rate of their depth,
/// decayed or not), groups in order of their first depth, decayed before not decayed.
pub fn torch_param_groups(
    names: &[String],
    resolved: &ResolvedDistribution,
    weight_decay: f64,
) -> Result<Vec<TorchParamGroup>> {
    check_weight_decay(weight_decay)?;
    let num_layers = resolved.num_layers;
    let mut placed = Vec::with_capacity(names.len());
    for name in names {
        let depth = depth_of(name, num_layers)
            .filter(|&d| d < resolved.per_depth.len())
            .with_context(|| {
                format!("parameter `{name}` has no depth in a {num_layers}-layer BERT")
            })?;
        placed.push((depth, is_no_decay(name), name));
    }
    placed.sort();
    if let Some(pair) = placed.windows(2).find(|w| w[0].2 == w[1].2) {
        bail!("parameter `{}` is named twice", pair[0].2);
    }
    let mut keys: Vec<(u64, bool)> = Vec::new();
    let mut groups: Vec<TorchParamGroup> = Vec::new();
    for (depth, no_decay, name) in placed {
        let lr = resolved.per_depth[depth];
        let key = (lr.to_bits(), no_decay);
        let index = keys.iter().position(|k| *k == key).unwrap_or_else(|| {
            keys.push(key);
            groups.push(TorchParamGroup {
                lr,
                weight_decay: if no_decay { 0.0 } else { weight_decay },
                params: Vec::new(),
            });
            groups.len() - 1
        });
        groups[index].params.push(name.clone());
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lrdist_model::Encoder;
    use tch::{Device, Kind, Tensor};

    /// A random tiny BERT of `layers` layers saved to a fresh folder.
    fn model_dir(layers: usize) -> tempfile::TempDir {
        let mut config = BertConfig::tiny();
        config.num_hidden_layers = layers;
        let dir = tempfile::tempdir().unwrap();
        Encoder::random(&config, Device::Cpu, 0)
            .save(dir.path())
            .unwrap();
        dir
    }

    /// The depth of a `BertForSequenceClassification` name, read off it independently
    /// of `depth_of`.
    fn expected_depth(name: &str, layers: usize) -> usize {
        if name.starts_with("bert.embeddings.") {
            0
        } else if let Some(rest) = name.strip_prefix("bert.encoder.layer.") {
            rest.split('.').next().unwrap().parse::<usize>().unwrap() + 1
        } else {
            assert!(
                name.starts_with("bert.pooler.") || name.starts_with("classifier."),
                "{name}"
            );
            layers + 1
        }
    }

    /// Every parameter of the model is in exactly one group, with `rate(depth)` and weight
    /// decay `decay` except on biases and LayerNorm; returns the number of groups.
    fn check(
        groups: &[TorchParamGroup],
        layers: usize,
        rate: impl Fn(usize) -> f64,
        decay: f64,
    ) -> usize {
        // Embeddings 5, each layer 16, pooler 2, classifier 2.
        let total: usize = groups.iter().map(|g| g.params.len()).sum();
        assert_eq!(total, 5 + 16 * layers + 4);
        let mut seen = std::collections::BTreeSet::new();
        for group in groups {
            for name in &group.params {
                assert!(seen.insert(name.clone()), "{name} is in two groups");
                assert_eq!(group.lr, rate(expected_depth(name, layers)), "{name}");
                let plain = name.ends_with(".bias") || name.contains(".LayerNorm.");
                assert_eq!(
                    group.weight_decay,
                    if plain { 0.0 } else { decay },
                    "{name}"
                );
            }
        }
        for name in [
            "bert.pooler.dense.weight",
            "classifier.weight",
            "classifier.bias",
        ] {
            assert!(seen.contains(name), "{name} missing");
        }
        groups.len()
    }

    #[test]
    fn every_parameter_is_in_one_group_with_its_depths_rate() {
        let dir = model_dir(2);
        let groups = export_param_groups(
            dir.path(),
            &"llrd:1e-4:0.5".parse().unwrap(),
            GroupingSpec::PerLayer,
            0.01,
        )
        .unwrap();
        let rate = |d: usize| [1.25e-5, 2.5e-5, 5e-5, 1e-4][d];
        // One rate per depth: a decayed and a not decayed group for each of the 4 depths.
        assert_eq!(check(&groups, 2, rate, 0.01), 8);
        assert_eq!(
            groups[0].params[0],
            "bert.embeddings.position_embeddings.weight"
        );

        // One rate everywhere: two groups; lrdist's default weight decay is 0.
        let groups = export_param_groups(
            dir.path(),
            &"flat:2e-5".parse().unwrap(),
            GroupingSpec::PerLayer,
            0.0,
        )
        .unwrap();
        assert_eq!(check(&groups, 2, |_| 2e-5, 0.0), 2);

        // The paper's 10 groups on a 12-layer model: layers 0-1 share group 1's rate.
        let dir = model_dir(12);
        let groups = export_param_groups(
            dir.path(),
            &"paper-combined".parse().unwrap(),
            GroupingSpec::Paper10,
            0.1,
        )
        .unwrap();
        let paper = crate::presets::paper_combined().rates;
        let group_of = Grouping::paper10();
        let rate = |d: usize| paper[group_of.group_of(d).unwrap()];
        assert_eq!(check(&groups, 12, rate, 0.1), 20);
    }

    /// A folder whose weights are a `torch.save`d `pytorch_model.bin` (the model crate's
    /// fixture, `scripts/make_hf_bin_fixture.py`) gives the groups of its parameters, the
    /// same names as the same model's `model.safetensors` would.
    #[test]
    fn a_pytorch_model_bin_folder_has_its_parameters_grouped() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures");
        let bin = fixtures.join("hf_bin");
        let groups = export_param_groups(
            &bin,
            &"flat:1e-5".parse().unwrap(),
            GroupingSpec::PerLayer,
            0.0,
        )
        .unwrap();
        assert_eq!(check(&groups, 2, |_| 1e-5, 0.0), 2);
        let names = |groups: &[TorchParamGroup]| {
            let mut all: Vec<String> = groups.iter().flat_map(|g| g.params.clone()).collect();
            all.sort();
            all
        };
        let other = tempfile::tempdir().unwrap();
        std::fs::copy(bin.join("config.json"), other.path().join("config.json")).unwrap();
        std::fs::copy(
            fixtures.join("hf_bin_other.safetensors"),
            other.path().join(lrdist_model::WEIGHTS_FILE),
        )
        .unwrap();
        let twin = export_param_groups(
            other.path(),
            &"flat:1e-5".parse().unwrap(),
            GroupingSpec::PerLayer,
            0.0,
        )
        .unwrap();
        assert_eq!(names(&groups), names(&twin));
        assert!(names(&groups).contains(&"classifier.weight".to_string()));
    }

    #[test]
    fn fine_tuned_checkpoints_and_bad_files() {
        // A checkpoint saved from BertForSequenceClassification: `bert.` names, a classifier.
        let dir = model_dir(2);
        let weights = dir.path().join(lrdist_model::WEIGHTS_FILE);
        let encoder = Encoder::pretrained(dir.path(), Device::Cpu).unwrap();
        let mut tensors: Vec<(String, Tensor)> = encoder
            .named_parameters()
            .into_iter()
            .map(|(n, t)| (format!("bert.{n}"), t))
            .collect();
        let classifier = |dims: &[i64]| Tensor::zeros(dims, (Kind::Float, Device::Cpu));
        tensors.push(("classifier.weight".into(), classifier(&[3, 32])));
        tensors.push(("classifier.bias".into(), classifier(&[3])));
        Tensor::write_safetensors(&tensors, &weights).unwrap();
        let groups = export_param_groups(
            dir.path(),
            &"flat:1e-5".parse().unwrap(),
            GroupingSpec::Even(2),
            0.0,
        )
        .unwrap();
        assert_eq!(check(&groups, 2, |_| 1e-5, 0.0), 2);

        // lrdist's own head names are not BertForSequenceClassification's.
        tensors.push(("head.weight".into(), classifier(&[3, 32])));
        Tensor::write_safetensors(&tensors, &weights).unwrap();
        let err = export_param_groups(
            dir.path(),
            &"flat:1e-5".parse().unwrap(),
            GroupingSpec::PerLayer,
            0.0,
        )
        .unwrap_err();
        assert!(err.to_string().contains("tensor `head.weight`"), "{err}");

        // A layer missing from the file, a bad weight decay, a bad distribution.
        tensors.retain(|(n, _)| !n.starts_with("bert.encoder.layer.1.") && n != "head.weight");
        Tensor::write_safetensors(&tensors, &weights).unwrap();
        let err = export_param_groups(
            dir.path(),
            &"flat:1e-5".parse().unwrap(),
            GroupingSpec::PerLayer,
            0.0,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("no tensor of encoder layer 1"),
            "{err}"
        );
        let err = export_param_groups(
            dir.path(),
            &"flat:1e-5".parse().unwrap(),
            GroupingSpec::PerLayer,
            -1.0,
        )
        .unwrap_err();
        assert!(err.to_string().contains("weight decay is -1.0"), "{err}");
        let err = export_param_groups(
            dir.path(),
            &"paper-combined".parse().unwrap(),
            GroupingSpec::Paper10,
            0.0,
        )
        .unwrap_err();
        assert!(err.to_string().contains("12 layers"), "{err}");
    }
}
