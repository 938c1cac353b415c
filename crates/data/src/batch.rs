//! Dynamic padding, batch orders with length bucketing, and the sentence-length split.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::tokenize::Encoded;

/// Bucketed batching sorts by length within windows of this many batches.
pub const BUCKET_BATCHES: usize = 50;

/// A padded batch as plain row-major `[batch_size, seq_len]` buffers.
#[derive(Clone, Debug)]
pub struct Batch {
    pub input_ids: Vec<i64>,
    pub token_type_ids: Vec<i64>,
    /// 1 on real tokens, 0 on padding.
    pub attention_mask: Vec<i64>,
    pub labels: Vec<f32>,
    /// Index into the encoded slice of each row, so predictions can be put back in order.
    pub rows: Vec<usize>,
    pub batch_size: usize,
    /// The longest row of this batch.
    pub seq_len: usize,
}

/// The order rows are grouped into batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchOrder {
    /// File order.
    Sequential,
    /// Sorted by token count (ties by index): least padding, for evaluation.
    ByLength,
    /// A seeded shuffle.
    Shuffled { seed: u64 },
    /// The usual bucket iterator: a seeded shuffle, sorted by length within windows
    /// of [`BUCKET_BATCHES`] batches, cut into batches, batch order shuffled.
    Bucketed { seed: u64 },
}

/// Groups `encoded` into batches of `batch_size` rows (the last may be smaller), each
/// padded with `pad_id` (segment id 0) to its own longest row.
pub fn make_batches(
    encoded: &[Encoded],
    batch_size: usize,
    order: BatchOrder,
    pad_id: i64,
) -> Vec<Batch> {
    assert!(batch_size > 0, "batch size must be positive");
    let len = |i: &usize| encoded[*i].ids.len();
    let mut indices: Vec<usize> = (0..encoded.len()).collect();
    let groups: Vec<Vec<usize>> = match order {
        BatchOrder::Sequential => chunk(&indices, batch_size),
        BatchOrder::ByLength => {
            indices.sort_by_key(|i| (len(i), *i));
            chunk(&indices, batch_size)
        }
        BatchOrder::Shuffled { seed } => {
            indices.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
            chunk(&indices, batch_size)
        }
        BatchOrder::Bucketed { seed } => {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            indices.shuffle(&mut rng);
            let mut groups = Vec::new();
            for window in indices.chunks_mut(batch_size * BUCKET_BATCHES) {
                window.sort_by_key(len);
                groups.extend(chunk(window, batch_size));
            }
            groups.shuffle(&mut rng);
            groups
        }
    };
    groups
        .into_iter()
        .map(|rows| pad(encoded, rows, pad_id))
        .collect()
}

fn chunk(indices: &[usize], size: usize) -> Vec<Vec<usize>> {
    indices.chunks(size).map(<[usize]>::to_vec).collect()
}

fn pad(encoded: &[Encoded], rows: Vec<usize>, pad_id: i64) -> Batch {
    let seq_len = rows
        .iter()
        .map(|&i| encoded[i].ids.len())
        .max()
        .unwrap_or(0);
    let size = rows.len() * seq_len;
    let mut batch = Batch {
        input_ids: Vec::with_capacity(size),
        token_type_ids: Vec::with_capacity(size),
        attention_mask: Vec::with_capacity(size),
        labels: Vec::with_capacity(rows.len()),
        batch_size: rows.len(),
        seq_len,
        rows: Vec::new(),
    };
    for &i in &rows {
        let row = &encoded[i];
        let padding = seq_len - row.ids.len();
        batch.input_ids.extend(
            row.ids
                .iter()
                .copied()
                .chain(std::iter::repeat_n(pad_id, padding)),
        );
        batch.token_type_ids.extend(
            row.type_ids
                .iter()
                .copied()
                .chain(std::iter::repeat_n(0, padding)),
        );
        batch
            .attention_mask
            .extend(std::iter::repeat_n(1, row.ids.len()).chain(std::iter::repeat_n(0, padding)));
        batch.labels.push(row.label);
    }
    batch.rows = rows;
    batch
}

/// The sentence-length split of docs/METHOD.md ("Scenarios", length-shift), done as
/// intended: row indices of the shorter half and of the longer half by token count, ties
/// broken by index; each half in index order. With an odd count the long half has one more.
pub fn length_split(encoded: &[Encoded]) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..encoded.len()).collect();
    order.sort_by_key(|&i| (encoded[i].ids.len(), i));
    let mut long = order.split_off(encoded.len() / 2);
    order.sort_unstable();
    long.sort_unstable();
    (order, long)
}

/// (real tokens, padding tokens) over `batches`: positions with attention mask 1,
/// and positions filled with the pad id.
pub fn padding_stats(batches: &[Batch]) -> (usize, usize) {
    let real: usize = batches
        .iter()
        .map(|b| b.attention_mask.iter().filter(|&&m| m == 1).count())
        .sum();
    let slots: usize = batches.iter().map(|b| b.batch_size * b.seq_len).sum();
    (real, slots - real)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(lengths: &[usize]) -> Vec<Encoded> {
        lengths
            .iter()
            .enumerate()
            .map(|(i, &n)| Encoded {
                ids: vec![i as i64 + 10; n],
                type_ids: vec![1; n],
                label: i as f32,
            })
            .collect()
    }

    #[test]
    fn pads_to_batch_max_only() {
        let encoded = rows(&[3, 5, 2, 9, 4]);
        let batches = make_batches(&encoded, 2, BatchOrder::Sequential, 0);
        assert_eq!(
            batches
                .iter()
                .map(|b| (b.batch_size, b.seq_len))
                .collect::<Vec<_>>(),
            vec![(2, 5), (2, 9), (1, 4)]
        );
        let first = &batches[0];
        assert_eq!(first.input_ids, vec![10, 10, 10, 0, 0, 11, 11, 11, 11, 11]);
        assert_eq!(first.token_type_ids, vec![1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
        assert_eq!(first.attention_mask, vec![1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
        assert_eq!(first.labels, vec![0.0, 1.0]);
        assert_eq!(batches[2].rows, vec![4]);
        assert_eq!(padding_stats(&batches), (23, 2 + 7));
    }

    #[test]
    fn every_order_covers_each_row_once() {
        let encoded = rows(&(0..203).map(|i| 1 + (i * 37) % 50).collect::<Vec<_>>());
        for order in [
            BatchOrder::Sequential,
            BatchOrder::ByLength,
            BatchOrder::Shuffled { seed: 1 },
            BatchOrder::Bucketed { seed: 1 },
        ] {
            let batches = make_batches(&encoded, 8, order, 0);
            let mut seen: Vec<usize> = batches.iter().flat_map(|b| b.rows.clone()).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..203).collect::<Vec<_>>(), "{order:?}");
            for b in &batches {
                assert_eq!(
                    b.seq_len,
                    b.rows.iter().map(|&i| encoded[i].ids.len()).max().unwrap()
                );
                assert_eq!(
                    b.labels,
                    b.rows.iter().map(|&i| i as f32).collect::<Vec<_>>()
                );
            }
        }
    }

    #[test]
    fn bucketing_reduces_padding_and_is_seeded() {
        let encoded = rows(&(0..2000).map(|i| 5 + (i * 7919) % 120).collect::<Vec<_>>());
        let shuffled = padding_stats(&make_batches(
            &encoded,
            16,
            BatchOrder::Shuffled { seed: 3 },
            0,
        ));
        let bucketed = padding_stats(&make_batches(
            &encoded,
            16,
            BatchOrder::Bucketed { seed: 3 },
            0,
        ));
        assert_eq!(shuffled.0, bucketed.0);
        assert!(
            bucketed.1 * 5 < shuffled.1,
            "bucketed {bucketed:?} vs shuffled {shuffled:?}"
        );
        let order = |seed| {
            make_batches(&encoded, 16, BatchOrder::Bucketed { seed }, 0)
                .into_iter()
                .map(|b| b.rows)
                .collect::<Vec<_>>()
        };
        assert_eq!(order(3), order(3));
        assert_ne!(order(3), order(4));
    }

    #[test]
    fn length_split_halves_by_length() {
        let encoded = rows(&[5, 1, 5, 3, 9, 2, 5]);
        let (short, long) = length_split(&encoded);
        // Sorted by (length, index): 1(1) 5(2) 3(3) 0(5) 2(5) 6(5) 4(9).
        assert_eq!(short, vec![1, 3, 5]);
        assert_eq!(long, vec![0, 2, 4, 6]);
    }
}
