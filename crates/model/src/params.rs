//! Where every parameter sits in the network's depth, and which optimiser group holds it.
//!
//! docs/METHOD.md, "Learning-rate groups": the paper gives each block of layers its own learning
//! rate. We index depth once, here, for any number of layers L:
//! embeddings → 0, encoder layer `i` → `i + 1`, pooler and every task head → `L + 1`.
//! A grouping (lrdist-optimizer) then maps depths to the K groups of a distribution.

/// Depth of a parameter from its (Hugging Face style) name, for an encoder of
/// `num_layers` layers. Names may carry a `bert.` prefix. Returns `None` for a name
/// that belongs to no known part of the network.
///
/// - `embeddings.*` → 0
/// - `encoder.layer.{i}.*` → `i + 1`
/// - `pooler.*`, `head.*`, `heads.*`, `classifier.*` → `num_layers + 1`
pub fn depth_of(name: &str, num_layers: usize) -> Option<usize> {
    let name = name.strip_prefix("bert.").unwrap_or(name);
    if name.starts_with("embeddings.") {
        return Some(0);
    }
    if let Some(rest) = name.strip_prefix("encoder.layer.") {
        let idx: usize = rest.split('.').next()?.parse().ok()?;
        return (idx < num_layers).then_some(idx + 1);
    }
    let top = name.split('.').next()?;
    matches!(top, "pooler" | "head" | "heads" | "classifier").then_some(num_layers + 1)
}

/// True for parameters that are never weight-decayed: biases and LayerNorm parameters
/// (the usual BERT fine-tuning convention, docs/METHOD.md, "Learning-rate groups").
pub fn is_no_decay(name: &str) -> bool {
    name.ends_with(".bias") || name.contains("LayerNorm.") || name.contains("layer_norm.")
}

/// The tch optimiser group of a parameter: `2 * depth` for decayed weights,
/// `2 * depth + 1` for biases and LayerNorm parameters. Two groups per depth let the
/// optimizer set one learning rate per depth and weight decay only where it belongs.
pub fn optimizer_group(depth: usize, decay: bool) -> usize {
    2 * depth + usize::from(!decay)
}

/// Inverse of [`optimizer_group`]: `(depth, decay)`.
pub fn group_depth(group: usize) -> (usize, bool) {
    (group / 2, group.is_multiple_of(2))
}

/// Number of optimiser groups used by an encoder of `num_layers` layers (with heads).
pub fn num_optimizer_groups(num_layers: usize) -> usize {
    2 * (num_layers + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depths_follow_the_layer_index() {
        assert_eq!(depth_of("embeddings.word_embeddings.weight", 6), Some(0));
        assert_eq!(depth_of("bert.embeddings.LayerNorm.bias", 6), Some(0));
        assert_eq!(
            depth_of("encoder.layer.0.attention.self.query.weight", 6),
            Some(1)
        );
        assert_eq!(depth_of("encoder.layer.5.output.dense.bias", 6), Some(6));
        assert_eq!(depth_of("encoder.layer.6.output.dense.bias", 6), None);
        assert_eq!(depth_of("pooler.dense.weight", 6), Some(7));
        assert_eq!(depth_of("head.weight", 12), Some(13));
        assert_eq!(depth_of("cls.predictions.bias", 12), None);
    }

    #[test]
    fn groups_round_trip_and_split_decay() {
        for depth in 0..14 {
            for decay in [true, false] {
                assert_eq!(group_depth(optimizer_group(depth, decay)), (depth, decay));
            }
        }
        assert!(is_no_decay("encoder.layer.0.output.LayerNorm.weight"));
        assert!(is_no_decay("head.bias"));
        assert!(!is_no_decay("encoder.layer.0.output.dense.weight"));
        assert_eq!(num_optimizer_groups(6), 16);
    }
}
