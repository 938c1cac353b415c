//! Groupings: which depths of the network share one learning rate.
//!
//! docs/METHOD.md, "Learning-rate groups": the paper gives each block of layers of
//! bert-base-uncased (12 layers) its own learning rate, in 10 groups. A depth index
//! (`lrdist_model::depth_of`: embeddings 0, encoder layer `i` → `i + 1`, pooler and task
//! heads → `L + 1`) is mapped here to one of K contiguous groups. Every depth belongs to
//! exactly one group, so every trainable tensor gets exactly one rate (the authors' own
//! code broke this for K = 1 and trained their flat baseline with a frozen encoder).

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DistributionError;

/// Number of encoder layers of bert-base-uncased, the model of the paper's 10-group split.
pub const PAPER_LAYERS: usize = 12;

/// First depth of each of the paper's 10 groups (docs/METHOD.md, "Learning-rate groups"):
/// 0 embeddings | 1 layers 0-1 | 2 layer 2 | 3 layers 3-4 | 4 layer 5 | 5 layers 6-7 |
/// 6 layer 8 | 7 layers 9-10 | 8 layer 11 | 9 pooler and heads. Layer `i` is depth `i + 1`.
const PAPER10_STARTS: [usize; 10] = [0, 1, 3, 4, 6, 7, 9, 10, 12, 13];

/// How depths are split into groups, independent of the model's depth.
/// Written as `per-layer`, `paper10` or `even:K` in files and on the command line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum GroupingSpec {
    /// One group per depth: K = L + 2 (the default).
    #[default]
    PerLayer,
    /// The paper's 10 groups for a 12-layer encoder.
    Paper10,
    /// K contiguous groups of (as nearly as possible) equal numbers of depths.
    Even(usize),
}

impl GroupingSpec {
    /// The grouping a distribution file without `grouping` is read in, for `rates` rates
    /// on a model of `num_layers` layers: `per-layer` when there are L + 2 rates, else
    /// `even:K` with K the number of rates when 1 <= K <= L + 2, else none. `paper10` is
    /// never chosen by default (10 rates on a 12-layer model are read as `even:10`).
    pub fn default_for(rates: usize, num_layers: usize) -> Option<GroupingSpec> {
        let depths = num_layers + 2;
        if rates == depths {
            Some(GroupingSpec::PerLayer)
        } else {
            (1..depths)
                .contains(&rates)
                .then_some(GroupingSpec::Even(rates))
        }
    }

    /// Every grouping of a model of `num_layers` layers that has `rates` groups (where
    /// `per-layer` fits, `even:K` with the same K, which splits alike, is left out).
    pub fn fitting(rates: usize, num_layers: usize) -> Vec<GroupingSpec> {
        let mut fits: Vec<GroupingSpec> = GroupingSpec::default_for(rates, num_layers)
            .into_iter()
            .collect();
        if rates == PAPER10_STARTS.len() && num_layers == PAPER_LAYERS {
            fits.push(GroupingSpec::Paper10);
        }
        fits
    }
}

/// What each grouping of a `num_layers`-layer model takes, for error messages
/// ([`DistributionError::NoGroupingFits`], and within [`count_fit`]).
pub(crate) fn grouping_options(num_layers: usize) -> String {
    let depths = num_layers + 2;
    format!(
        "per-layer needs L + 2 = {depths} rates, even:K takes K = 1 to {depths}, \
         paper10 needs 10 rates and a {PAPER_LAYERS}-layer model"
    )
}

/// Which groupings of a `num_layers`-layer model take `rates` rates, and what each takes,
/// for error messages ([`DistributionError::GroupCount`]).
pub(crate) fn count_fit(rates: usize, num_layers: usize) -> String {
    let fits: Vec<String> = GroupingSpec::fitting(rates, num_layers)
        .iter()
        .map(|g| g.to_string())
        .collect();
    let options = grouping_options(num_layers);
    if fits.is_empty() {
        format!("{rates} rates fit no grouping of a {num_layers}-layer model ({options})")
    } else {
        format!(
            "{rates} rates fit {} on a {num_layers}-layer model ({options})",
            fits.join(" or ")
        )
    }
}

impl FromStr for GroupingSpec {
    type Err = DistributionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || DistributionError::UnknownGrouping {
            spec: s.to_string(),
        };
        match s.trim() {
            "per-layer" => Ok(GroupingSpec::PerLayer),
            "paper10" => Ok(GroupingSpec::Paper10),
            other => {
                let k = other.strip_prefix("even:").ok_or_else(unknown)?;
                k.parse().map(GroupingSpec::Even).map_err(|_| unknown())
            }
        }
    }
}

impl fmt::Display for GroupingSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupingSpec::PerLayer => f.write_str("per-layer"),
            GroupingSpec::Paper10 => f.write_str("paper10"),
            GroupingSpec::Even(k) => write!(f, "even:{k}"),
        }
    }
}

impl TryFrom<String> for GroupingSpec {
    type Error = DistributionError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<GroupingSpec> for String {
    fn from(spec: GroupingSpec) -> String {
        spec.to_string()
    }
}

/// A grouping resolved for a model of `num_layers` encoder layers: K contiguous,
/// disjoint ranges of depths that together cover `0..=num_layers + 1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grouping {
    spec: GroupingSpec,
    num_layers: usize,
    /// First depth of each group, then `num_layers + 2`: group `k` is `starts[k]..starts[k+1]`.
    starts: Vec<usize>,
}

impl Grouping {
    /// One group per depth (K = L + 2): the default grouping.
    pub fn per_layer(num_layers: usize) -> Self {
        Grouping {
            spec: GroupingSpec::PerLayer,
            num_layers,
            starts: (0..=num_layers + 2).collect(),
        }
    }

    /// The paper's 10 groups of bert-base-uncased (12 layers), docs/METHOD.md, "Learning-rate groups".
    pub fn paper10() -> Self {
        let mut starts = PAPER10_STARTS.to_vec();
        starts.push(PAPER_LAYERS + 2);
        Grouping {
            spec: GroupingSpec::Paper10,
            num_layers: PAPER_LAYERS,
            starts,
        }
    }

    /// `k` contiguous groups over the `L + 2` depths, sizes differing by at most one:
    /// group `j` starts at depth `floor(j * (L + 2) / k)`. Needs `1 <= k <= L + 2`.
    pub fn even(num_layers: usize, k: usize) -> Result<Self, DistributionError> {
        let depths = num_layers + 2;
        if k == 0 || k > depths {
            return Err(DistributionError::GroupingDoesNotFit {
                grouping: GroupingSpec::Even(k).to_string(),
                num_layers,
                reason: format!("K must be between 1 and L + 2 = {depths}"),
            });
        }
        Ok(Grouping {
            spec: GroupingSpec::Even(k),
            num_layers,
            starts: (0..=k).map(|j| j * depths / k).collect(),
        })
    }

    /// The grouping `spec` for a model of `num_layers` layers.
    pub fn new(spec: GroupingSpec, num_layers: usize) -> Result<Self, DistributionError> {
        match spec {
            GroupingSpec::PerLayer => Ok(Grouping::per_layer(num_layers)),
            GroupingSpec::Even(k) => Grouping::even(num_layers, k),
            GroupingSpec::Paper10 if num_layers == PAPER_LAYERS => Ok(Grouping::paper10()),
            GroupingSpec::Paper10 => Err(DistributionError::GroupingDoesNotFit {
                grouping: spec.to_string(),
                num_layers,
                reason: format!(
                    "it is defined for {PAPER_LAYERS} layers only; use per-layer or even:K"
                ),
            }),
        }
    }

    pub fn spec(&self) -> GroupingSpec {
        self.spec
    }

    /// Number of encoder layers L this grouping was built for.
    pub fn num_layers(&self) -> usize {
        self.num_layers
    }

    /// Number of depths, L + 2.
    pub fn num_depths(&self) -> usize {
        self.num_layers + 2
    }

    /// Number of groups K.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// Always false: a grouping has at least one group.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The group holding `depth`, or `None` past the last depth (`L + 1`).
    pub fn group_of(&self, depth: usize) -> Option<usize> {
        if depth >= self.num_depths() {
            return None;
        }
        // `starts` is strictly increasing and starts[0] == 0 <= depth.
        Some(self.starts.partition_point(|&s| s <= depth) - 1)
    }

    /// The depths of each group, in group order.
    pub fn depth_ranges(&self) -> Vec<RangeInclusive<usize>> {
        self.starts.windows(2).map(|w| w[0]..=w[1] - 1).collect()
    }

    /// Relative depth of each group: the mean of `d / (L + 1)` over the depths `d` it
    /// covers, so embeddings sit at 0, the heads at 1, and a group of several layers at
    /// the centre of its layers. This is the axis along which distributions transfer.
    pub fn relative_depths(&self) -> Vec<f64> {
        let top = (self.num_layers + 1) as f64;
        self.depth_ranges()
            .into_iter()
            .map(|r| (*r.start() + *r.end()) as f64 / 2.0 / top)
            .collect()
    }

    /// Human-readable content of `group`, e.g. `embeddings`, `layers 0-1`, `pooler + heads`.
    pub fn describe(&self, group: usize) -> String {
        let range = &self.depth_ranges()[group];
        let (lo, hi) = (*range.start(), *range.end());
        let mut parts = Vec::new();
        if lo == 0 {
            parts.push("embeddings".to_string());
        }
        let first_layer = lo.max(1);
        let last_layer = hi.min(self.num_layers);
        if first_layer == last_layer {
            parts.push(format!("layer {}", first_layer - 1));
        } else if first_layer < last_layer {
            parts.push(format!("layers {}-{}", first_layer - 1, last_layer - 1));
        }
        if hi == self.num_layers + 1 {
            parts.push("pooler + heads".to_string());
        }
        parts.join(" + ")
    }

    /// Fails unless this grouping was built for `num_layers` layers.
    pub(crate) fn check_layers(&self, num_layers: usize) -> Result<(), DistributionError> {
        if self.num_layers == num_layers {
            Ok(())
        } else {
            Err(DistributionError::LayerMismatch {
                grouping: self.spec.to_string(),
                grouping_layers: self.num_layers,
                num_layers,
            })
        }
    }
}

/// One line of `lrdist groups`: a group, the depths it covers, and what lands in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupRow {
    pub group: usize,
    pub depth_lo: usize,
    pub depth_hi: usize,
    /// Number of parameter tensors in the group.
    pub tensors: usize,
    /// Number of scalar parameters in the group.
    pub params: usize,
}

/// Counts, for every group of `grouping`, the tensors and scalars of the named parameters
/// (`(name, numel)` pairs, Hugging Face names) that land in it. Fails on a name that has
/// no depth, since such a tensor would reach no optimiser.
pub fn group_table(
    names_and_numel: &[(String, usize)],
    num_layers: usize,
    grouping: &Grouping,
) -> Result<Vec<GroupRow>, DistributionError> {
    grouping.check_layers(num_layers)?;
    let mut rows: Vec<GroupRow> = grouping
        .depth_ranges()
        .into_iter()
        .enumerate()
        .map(|(group, r)| GroupRow {
            group,
            depth_lo: *r.start(),
            depth_hi: *r.end(),
            tensors: 0,
            params: 0,
        })
        .collect();
    for (name, numel) in names_and_numel {
        let group = lrdist_model::depth_of(name, num_layers)
            .and_then(|d| grouping.group_of(d))
            .ok_or_else(|| DistributionError::UnknownParameter {
                name: name.clone(),
                num_layers,
            })?;
        rows[group].tensors += 1;
        rows[group].params += numel;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks that the ranges are contiguous, disjoint, cover every depth, and agree
    /// with `group_of`.
    fn assert_partition(g: &Grouping) {
        let ranges = g.depth_ranges();
        assert_eq!(ranges.len(), g.len());
        let mut next = 0;
        for (k, r) in ranges.iter().enumerate() {
            assert_eq!(*r.start(), next, "{:?} group {k} leaves a gap", g.spec());
            assert!(r.start() <= r.end(), "{:?} group {k} is empty", g.spec());
            for d in r.clone() {
                assert_eq!(g.group_of(d), Some(k));
            }
            next = r.end() + 1;
        }
        assert_eq!(next, g.num_depths());
        assert_eq!(g.group_of(g.num_depths()), None);
    }

    #[test]
    fn every_grouping_partitions_the_depths() {
        for layers in [0, 1, 2, 6, 12, 24] {
            assert_partition(&Grouping::per_layer(layers));
            for k in 1..=layers + 2 {
                assert_partition(&Grouping::even(layers, k).unwrap());
            }
        }
        assert_partition(&Grouping::paper10());
    }

    #[test]
    fn paper10_matches_the_papers_table() {
        let g = Grouping::paper10();
        let names: Vec<String> = (0..g.len()).map(|k| g.describe(k)).collect();
        assert_eq!(
            names,
            [
                "embeddings",
                "layers 0-1",
                "layer 2",
                "layers 3-4",
                "layer 5",
                "layers 6-7",
                "layer 8",
                "layers 9-10",
                "layer 11",
                "pooler + heads"
            ]
        );
        // Group k sits at the centre of its layers: group 1 = depths 1, 2 → 1.5 / 13.
        let rel = g.relative_depths();
        assert_eq!(rel[0], 0.0);
        assert_eq!(rel[1], 1.5 / 13.0);
        assert_eq!(rel[2], 3.0 / 13.0);
        assert_eq!(rel[9], 1.0);
    }

    #[test]
    fn even_splits_differ_by_at_most_one_depth() {
        let g = Grouping::even(6, 3).unwrap();
        assert_eq!(g.depth_ranges(), vec![0..=1, 2..=4, 5..=7]);
        assert_eq!(g.describe(0), "embeddings + layer 0");
        assert_eq!(g.describe(2), "layers 4-5 + pooler + heads");
        let one = Grouping::even(6, 1).unwrap();
        assert_eq!(one.depth_ranges(), vec![0..=7]);
        assert_eq!(
            Grouping::even(6, 8).unwrap().depth_ranges(),
            Grouping::per_layer(6).depth_ranges()
        );
    }

    #[test]
    fn default_groupings_follow_the_number_of_rates() {
        assert_eq!(
            GroupingSpec::default_for(8, 6),
            Some(GroupingSpec::PerLayer)
        );
        assert_eq!(GroupingSpec::default_for(3, 6), Some(GroupingSpec::Even(3)));
        assert_eq!(GroupingSpec::default_for(1, 6), Some(GroupingSpec::Even(1)));
        assert_eq!(
            GroupingSpec::default_for(10, 12),
            Some(GroupingSpec::Even(10))
        );
        assert_eq!(GroupingSpec::default_for(0, 6), None);
        assert_eq!(GroupingSpec::default_for(9, 6), None);
        assert_eq!(
            GroupingSpec::fitting(10, 12),
            [GroupingSpec::Even(10), GroupingSpec::Paper10]
        );
        assert_eq!(GroupingSpec::fitting(14, 12), [GroupingSpec::PerLayer]);
        assert!(GroupingSpec::fitting(10, 6).is_empty());
        // Every default is a grouping of the model with one group per rate.
        for layers in [0, 6, 12] {
            for rates in 1..=layers + 2 {
                let spec = GroupingSpec::default_for(rates, layers).unwrap();
                assert_eq!(Grouping::new(spec, layers).unwrap().len(), rates);
            }
        }
    }

    #[test]
    fn specs_parse_and_print() {
        for s in ["per-layer", "paper10", "even:4"] {
            assert_eq!(s.parse::<GroupingSpec>().unwrap().to_string(), s);
        }
        for bad in ["even", "even:x", "layers", ""] {
            let err = bad.parse::<GroupingSpec>().unwrap_err();
            assert!(
                matches!(err, DistributionError::UnknownGrouping { .. }),
                "{err}"
            );
        }
        assert!(Grouping::new(GroupingSpec::Even(9), 6).is_err());
        assert!(Grouping::new(GroupingSpec::Even(0), 6).is_err());
        let err = Grouping::new(GroupingSpec::Paper10, 6)
            .unwrap_err()
            .to_string();
        assert!(err.contains("12 layers"), "{err}");
        assert_eq!(
            Grouping::new(GroupingSpec::Paper10, 12).unwrap(),
            Grouping::paper10()
        );
    }
}
