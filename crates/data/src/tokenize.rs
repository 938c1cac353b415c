//! Tokenisation with the model's own `tokenizer.json` (Hugging Face `tokenizers`).
//!
//! The model's file may ask for fixed padding and its own truncation length
//! (all-MiniLM-L6-v2 pads and truncates every row to 128); both are replaced:
//! padding is switched off, because [`crate::make_batches`] pads each batch only to
//! its longest row, and truncation is `LongestFirst` to our own `max_len`, counted
//! with the special tokens.

use std::path::Path;

use anyhow::{anyhow, ensure, Context};
use tokenizers::{
    EncodeInput, PostProcessor, Tokenizer, TruncationDirection, TruncationParams,
    TruncationStrategy,
};

use crate::glue::Example;

/// One tokenised row: token ids, segment ids (0 for the first text, 1 for the
/// second) and the row's label, unpadded.
#[derive(Clone, Debug)]
pub struct Encoded {
    pub ids: Vec<i64>,
    pub type_ids: Vec<i64>,
    pub label: f32,
}

/// A `tokenizers::Tokenizer` set up for our batching: no padding, truncation to `max_len`.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    max_len: usize,
    pad_id: i64,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("max_len", &self.max_len)
            .field("pad_id", &self.pad_id)
            .finish_non_exhaustive()
    }
}

impl TextTokenizer {
    /// Loads `dir/tokenizer.json`.
    pub fn from_model_dir(dir: &Path, max_len: usize) -> anyhow::Result<Self> {
        Self::from_file(&dir.join("tokenizer.json"), max_len)
    }

    /// Loads a `tokenizer.json` file.
    pub fn from_file(tokenizer_json: &Path, max_len: usize) -> anyhow::Result<Self> {
        let bytes = std::fs::read(tokenizer_json)
            .with_context(|| format!("cannot read tokenizer {}", tokenizer_json.display()))?;
        Self::from_bytes(&bytes, max_len)
            .with_context(|| format!("tokenizer {}", tokenizer_json.display()))
    }

    /// Builds from the contents of a `tokenizer.json`.
    pub fn from_bytes(bytes: &[u8], max_len: usize) -> anyhow::Result<Self> {
        let mut inner =
            Tokenizer::from_bytes(bytes).map_err(|e| anyhow!("invalid tokenizer.json: {e}"))?;
        let pad_id = pad_id(&inner)?;
        let special = inner
            .get_post_processor()
            .map_or(0, |p| p.added_tokens(true));
        ensure!(
            max_len > special,
            "max length {max_len} leaves no room for text next to {special} special tokens"
        );
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| anyhow!("cannot truncate to {max_len}: {e}"))?;
        Ok(TextTokenizer {
            inner,
            max_len,
            pad_id,
        })
    }

    /// Tokenises every example (in parallel), in order.
    pub fn encode(&self, examples: &[Example]) -> anyhow::Result<Vec<Encoded>> {
        let inputs: Vec<EncodeInput> = examples.iter().map(input).collect();
        match self.inner.encode_batch(inputs, true) {
            Ok(encodings) => Ok(examples
                .iter()
                .zip(encodings)
                .map(|(example, encoding)| encoded(&encoding, example.label))
                .collect()),
            Err(batch_error) => Err(self
                .first_failure(examples)
                .unwrap_or_else(|| anyhow!("{batch_error}"))),
        }
    }

    /// Finds the first example that fails alone, naming its line.
    fn first_failure(&self, examples: &[Example]) -> Option<anyhow::Error> {
        examples.iter().find_map(|example| {
            self.inner
                .encode(input(example), true)
                .err()
                .map(|e| anyhow!("cannot tokenise the row at line {}: {e}", example.line))
        })
    }

    /// Tokenises one text or text pair; the label of the result is 0.
    pub fn encode_text(&self, a: &str, b: Option<&str>) -> anyhow::Result<Encoded> {
        let input: EncodeInput = match b {
            Some(b) => (a, b).into(),
            None => a.into(),
        };
        let encoding = self
            .inner
            .encode(input, true)
            .map_err(|e| anyhow!("cannot tokenise {a:?}: {e}"))?;
        Ok(encoded(&encoding, 0.0))
    }

    /// Longest row in tokens, special tokens included.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The id batches are padded with.
    pub fn pad_id(&self) -> i64 {
        self.pad_id
    }
}

fn input(example: &Example) -> EncodeInput<'_> {
    match &example.text_b {
        Some(b) => (example.text_a.as_str(), b.as_str()).into(),
        None => example.text_a.as_str().into(),
    }
}

fn encoded(encoding: &tokenizers::Encoding, label: f32) -> Encoded {
    let widen = |v: &[u32]| v.iter().map(|&x| i64::from(x)).collect();
    Encoded {
        ids: widen(encoding.get_ids()),
        type_ids: widen(encoding.get_type_ids()),
        label,
    }
}

/// The pad id the file declares in its padding section, else the id of `[PAD]` or `<pad>`.
fn pad_id(tokenizer: &Tokenizer) -> anyhow::Result<i64> {
    if let Some(padding) = tokenizer.get_padding() {
        return Ok(i64::from(padding.pad_id));
    }
    ["[PAD]", "<pad>"]
        .iter()
        .find_map(|token| tokenizer.token_to_id(token))
        .map(i64::from)
        .ok_or_else(|| anyhow!("tokenizer has no padding section and no [PAD] or <pad> token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BERT-style tokenizer.json with a tiny vocabulary and, like the MiniLM file,
    /// fixed padding to 128 and truncation at 128 (which must both be overridden).
    fn tiny_json() -> String {
        let words = [
            "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[PAD]", "the", "cat", "sat", "on", "mat", "a",
            "dog", "##s", ".",
        ];
        let vocab: serde_json::Map<String, serde_json::Value> = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.to_string(), i.into()))
            .collect();
        let special = |id: usize, content: &str| {
            serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                               "rstrip": false, "normalized": false, "special": true})
        };
        serde_json::json!({
            "version": "1.0",
            "truncation": {"max_length": 128, "strategy": "LongestFirst", "stride": 0},
            "padding": {"strategy": {"Fixed": 128}, "direction": "Right", "pad_to_multiple_of": null,
                        "pad_id": 4, "pad_type_id": 0, "pad_token": "[PAD]"},
            "added_tokens": [special(0, "[UNK]"), special(1, "[CLS]"), special(2, "[SEP]"), special(4, "[PAD]")],
            "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                           "strip_accents": null, "lowercase": true},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                           {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                         {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
                "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [1], "tokens": ["[CLS]"]},
                                   "[SEP]": {"id": "[SEP]", "ids": [2], "tokens": ["[SEP]"]}}},
            "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "max_input_chars_per_word": 100, "vocab": vocab}
        })
        .to_string()
    }

    fn tiny(max_len: usize) -> TextTokenizer {
        TextTokenizer::from_bytes(tiny_json().as_bytes(), max_len).unwrap()
    }

    fn example(a: &str, b: Option<&str>, label: f32) -> Example {
        Example {
            text_a: a.into(),
            text_b: b.map(Into::into),
            label,
            line: 2,
        }
    }

    #[test]
    fn single_text_is_unpadded() {
        let tok = tiny(64);
        let e = tok.encode_text("The cats sat.", None).unwrap();
        assert_eq!(e.ids, vec![1, 5, 6, 12, 7, 13, 2]);
        assert_eq!(e.type_ids, vec![0; 7]);
        assert_eq!((tok.pad_id(), tok.max_len()), (4, 64));
        assert_eq!(tok.encode_text("zebra", None).unwrap().ids, vec![1, 0, 2]);
    }

    #[test]
    fn pairs_get_segment_ids() {
        let e = tiny(64).encode_text("the cat", Some("a dog sat")).unwrap();
        assert_eq!(e.ids, vec![1, 5, 6, 2, 10, 11, 7, 2]);
        assert_eq!(e.type_ids, vec![0, 0, 0, 0, 1, 1, 1, 1]);
    }

    #[test]
    fn truncates_longest_first_to_max_len() {
        let tok = tiny(9);
        let long = "the cat sat on the mat the cat sat on the mat";
        let single = tok.encode_text(long, None).unwrap();
        assert_eq!(single.ids.len(), 9);
        assert_eq!(single.ids[8], 2, "[SEP] kept at the end");
        let pair = tok.encode_text(long, Some("a dog")).unwrap();
        // 6 text tokens fit next to 3 special ones; the longer text gives way.
        assert_eq!(pair.ids, vec![1, 5, 6, 7, 8, 2, 10, 11, 2]);
        assert_eq!(pair.type_ids, vec![0, 0, 0, 0, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn batch_encoding_matches_single_rows() {
        let tok = tiny(32);
        let rows = [
            example("the cat", None, 1.0),
            example("a dog", Some("the mat"), 0.0),
        ];
        let encoded = tok.encode(&rows).unwrap();
        for (row, enc) in rows.iter().zip(&encoded) {
            let alone = tok.encode_text(&row.text_a, row.text_b.as_deref()).unwrap();
            assert_eq!(
                (&enc.ids, &enc.type_ids, enc.label),
                (&alone.ids, &alone.type_ids, row.label)
            );
        }
    }

    #[test]
    fn too_short_max_len_and_bad_files_are_errors() {
        assert!(TextTokenizer::from_bytes(tiny_json().as_bytes(), 3).is_err());
        let err =
            TextTokenizer::from_file(Path::new("/nonexistent/tokenizer.json"), 64).unwrap_err();
        assert!(
            format!("{err:#}").contains("/nonexistent/tokenizer.json"),
            "{err:#}"
        );
    }
}
