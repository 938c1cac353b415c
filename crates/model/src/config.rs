//! BERT hyper-parameters, read from a Hugging Face `config.json`.

use std::path::Path;

use anyhow::{bail, ensure, Context};
use serde::{Deserialize, Serialize};

/// The fields of a Hugging Face BERT `config.json` that the encoder uses. Unknown fields
/// (`architectures`, `transformers_version`, ...) are ignored; optional ones get BERT's
/// defaults.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    /// Only `"gelu"` (exact, erf-based, as in Hugging Face) is supported.
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    #[serde(default = "default_max_position_embeddings")]
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab_size")]
    pub type_vocab_size: usize,
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: usize,
    /// Standard deviation of the normal initialisation of weights and embeddings.
    #[serde(default = "default_initializer_range")]
    pub initializer_range: f64,
    /// Only `"absolute"` (learned position embeddings) is supported.
    #[serde(default = "default_position_embedding_type")]
    pub position_embedding_type: String,
    /// Dropout before a task head; `None` means `hidden_dropout_prob` (as in Hugging Face
    /// `BertForSequenceClassification`).
    #[serde(default)]
    pub classifier_dropout: Option<f64>,
}

fn default_hidden_act() -> String {
    "gelu".to_string()
}
fn default_dropout() -> f64 {
    0.1
}
fn default_max_position_embeddings() -> usize {
    512
}
fn default_type_vocab_size() -> usize {
    2
}
fn default_layer_norm_eps() -> f64 {
    1e-12
}
fn default_initializer_range() -> f64 {
    0.02
}
fn default_position_embedding_type() -> String {
    "absolute".to_string()
}

impl BertConfig {
    /// Reads and validates a Hugging Face `config.json`.
    pub fn from_file(path: &Path) -> anyhow::Result<BertConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading BERT config {}", path.display()))?;
        let cfg: BertConfig = serde_json::from_str(&text)
            .with_context(|| format!("parsing BERT config {}", path.display()))?;
        cfg.validate()
            .with_context(|| format!("unsupported BERT config {}", path.display()))?;
        Ok(cfg)
    }

    /// A tiny configuration for fast tests: vocabulary 100, hidden 32, 2 layers, 4 heads.
    pub fn tiny() -> BertConfig {
        BertConfig {
            vocab_size: 100,
            hidden_size: 32,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            intermediate_size: 64,
            hidden_act: default_hidden_act(),
            hidden_dropout_prob: 0.1,
            attention_probs_dropout_prob: 0.1,
            max_position_embeddings: 64,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            pad_token_id: 0,
            initializer_range: default_initializer_range(),
            position_embedding_type: default_position_embedding_type(),
            classifier_dropout: None,
        }
    }

    /// Checks that the encoder can run this configuration.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.hidden_act != "gelu" {
            bail!(
                "hidden_act {:?} is not supported (only \"gelu\", the exact erf GELU)",
                self.hidden_act
            );
        }
        if self.position_embedding_type != "absolute" {
            bail!(
                "position_embedding_type {:?} is not supported (only \"absolute\")",
                self.position_embedding_type
            );
        }
        ensure!(
            self.num_attention_heads > 0
                && self.hidden_size.is_multiple_of(self.num_attention_heads),
            "hidden_size {} is not a multiple of num_attention_heads {}",
            self.hidden_size,
            self.num_attention_heads
        );
        ensure!(
            self.pad_token_id < self.vocab_size,
            "pad_token_id {} is outside the vocabulary of {} tokens",
            self.pad_token_id,
            self.vocab_size
        );
        Ok(())
    }

    /// Size of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Dropout probability before a task head.
    pub fn head_dropout(&self) -> f64 {
        self.classifier_dropout.unwrap_or(self.hidden_dropout_prob)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_fields_get_bert_defaults() {
        let json = r#"{"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1,
                       "num_attention_heads": 2, "intermediate_size": 16,
                       "architectures": ["BertModel"]}"#;
        let cfg: BertConfig = serde_json::from_str(json).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.hidden_act, "gelu");
        assert_eq!(cfg.layer_norm_eps, 1e-12);
        assert_eq!(cfg.max_position_embeddings, 512);
        assert_eq!(cfg.head_dim(), 4);
        assert_eq!(cfg.head_dropout(), 0.1);
    }

    #[test]
    fn unsupported_activation_and_positions_are_rejected() {
        let mut cfg = BertConfig::tiny();
        cfg.hidden_act = "relu".into();
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("relu"), "{err}");

        let mut cfg = BertConfig::tiny();
        cfg.position_embedding_type = "relative_key".into();
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("relative_key"), "{err}");

        let mut cfg = BertConfig::tiny();
        cfg.num_attention_heads = 5;
        assert!(cfg.validate().is_err());
    }

    #[test]
    fn from_file_names_the_file_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"vocab_size": 10}"#).unwrap();
        let err = format!("{:#}", BertConfig::from_file(&path).unwrap_err());
        assert!(
            err.contains("config.json") && err.contains("hidden_size"),
            "{err}"
        );

        let mut cfg = BertConfig::tiny();
        cfg.hidden_act = "gelu_new".into();
        std::fs::write(&path, serde_json::to_string(&cfg).unwrap()).unwrap();
        let err = format!("{:#}", BertConfig::from_file(&path).unwrap_err());
        assert!(
            err.contains("gelu_new") && err.contains("config.json"),
            "{err}"
        );
    }
}
