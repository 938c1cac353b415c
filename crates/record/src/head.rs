//! What a task head reads (`--head`), as the CLI parses it and run records write it. The
//! heads themselves are `lrdist_model::Head`, on libtorch.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a task head reads (`--head`).
///
/// - [`HeadKind::Cls`] (the default, the paper's): the last layer's raw [CLS] vector, as
///   every committed result was trained.
/// - [`HeadKind::Pooler`]: BERT's pooler `tanh(W h_[CLS] + b)` first, then the head, as
///   Hugging Face's `BertForSequenceClassification` computes it (pooler, dropout,
///   classifier), so a model trained this way exports as exactly that class. The pooler
///   is the encoder's own (`pooler.dense.*`, from the checkpoint when it has one), shared
///   by every head of a run, and trains at the head depth L + 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    #[default]
    Cls,
    Pooler,
}

impl HeadKind {
    /// The default head, left out of run records (`skip_serializing_if`) so that records of
    /// it keep their shape.
    pub fn is_cls(&self) -> bool {
        *self == HeadKind::Cls
    }

    pub fn name(self) -> &'static str {
        match self {
            HeadKind::Cls => "cls",
            HeadKind::Pooler => "pooler",
        }
    }
}

impl fmt::Display for HeadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HeadKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cls" => Ok(HeadKind::Cls),
            "pooler" => Ok(HeadKind::Pooler),
            other => Err(format!(
                "unknown head `{other}` (cls: the raw [CLS] vector, the default; pooler: \
                 BERT's pooler first, as BertForSequenceClassification)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_kinds_parse_print_and_serialise_alike() {
        for kind in [HeadKind::Cls, HeadKind::Pooler] {
            assert_eq!(kind.name().parse::<HeadKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
        }
        assert_eq!(HeadKind::default(), HeadKind::Cls);
        assert!(HeadKind::Cls.is_cls() && !HeadKind::Pooler.is_cls());
        let err = "pool".parse::<HeadKind>().unwrap_err();
        assert!(err.contains("pool") && err.contains("cls"), "{err}");
    }
}
