//! Learning-rate distributions as data: one rate per group, read and written as YAML or
//! JSON, and transferred between models of different depth.
//!
//! docs/METHOD.md, "Search" and "Combination": the paper searches one learning rate per group
//! and combines the rates found on several task pairs into one distribution. A file looks
//! like
//!
//! ```yaml
//! name: paper-combined
//! grouping: paper10        # or per-layer, or even:K
//! source_layers: 12        # L of the model the rates were found on
//! rates: [3.295e-6, 4.363e-6, 9.215e-7, 1.923e-6, 2.849e-6, 2.143e-6, 3.267e-6, 3.699e-6, 3.186e-6, 1.119e-5]
//! ```
//!
//! # Simple files
//!
//! Only `rates` is required; a file may be just `rates: [1e-5, 2e-5, 3e-5]`. The other
//! fields default as follows (see [`Distribution::load_for`]):
//!
//! - `name`: the file name without its extension (`my-rates.yaml` → `my-rates`).
//! - `source_layers`: 12 when `grouping` is `paper10` (the only depth it is defined for),
//!   else the L of the model the file is applied to (the rates are read as that model's).
//! - `grouping`: `per-layer` when there are `source_layers + 2` rates (one per depth),
//!   else `even:K` with K the number of rates, which needs 1 <= K <= `source_layers + 2`.
//!   `paper10` is never the default: name it. A count that fits no grouping is an error
//!   naming the file, the count, the L + 2 rates of `per-layer` and the groupings that fit.
//!
//! # Depth transfer
//!
//! A distribution found on a model of L layers in K groups is applied to a model of L'
//! layers in K' groups by placing both on a relative-depth axis and interpolating
//! linearly in log(rate). Depth `d` of a model of L layers sits at `d / (L + 1)`
//! (embeddings at 0, pooler and heads at 1), and a group sits at the mean relative depth
//! of the depths it covers; for the paper's split this is the centre of the group's
//! layers (group 1, layers 0-1 = depths 1-2, sits at 1.5/13). Each target group takes the
//! rate interpolated at its own relative depth; beyond the outermost source groups the
//! nearest one's rate is held. Consequences: a flat or one-group distribution transfers to
//! flat exactly, a distribution applied to its own grouping and depth is unchanged, and
//! going to a finer model whose groups include the source positions and back returns the
//! original rates.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{check_positive, DistributionError};
use crate::grouping::{count_fit, grouping_options, Grouping, GroupingSpec, PAPER_LAYERS};

/// A learning-rate distribution: one rate per group of `grouping` on a model of
/// `source_layers` encoder layers. Files may leave out every field but `rates` (module
/// docs, "Simple files"); a loaded distribution has them all.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Distribution {
    pub name: String,
    pub grouping: GroupingSpec,
    /// L of the model the rates were found on.
    pub source_layers: usize,
    pub rates: Vec<f64>,
}

/// A distribution applied to one model: the rate of each of its groups and of each depth.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolvedDistribution {
    /// What was asked for: a preset string or a file path.
    pub spec: String,
    pub name: String,
    pub num_layers: usize,
    pub grouping: GroupingSpec,
    /// One rate per group of `grouping`.
    pub rates: Vec<f64>,
    /// One rate per depth (`num_layers + 2`): `per_depth[d] = rates[group_of(d)]`.
    pub per_depth: Vec<f64>,
    /// `Some(K)` when the rates were resampled from a K-group distribution of another
    /// grouping or depth (see the module docs), `None` when used as given.
    pub transferred_from: Option<usize>,
}

impl Distribution {
    /// A validated distribution.
    pub fn new(
        name: impl Into<String>,
        grouping: GroupingSpec,
        source_layers: usize,
        rates: Vec<f64>,
    ) -> Result<Self, DistributionError> {
        let dist = Distribution {
            name: name.into(),
            grouping,
            source_layers,
            rates,
        };
        dist.source_grouping()?;
        Ok(dist)
    }

    /// The grouping the rates are given in, after checking that it fits `source_layers`,
    /// that there is one rate per group and that every rate is finite and positive.
    pub fn source_grouping(&self) -> Result<Grouping, DistributionError> {
        let grouping = Grouping::new(self.grouping, self.source_layers)?;
        if grouping.len() != self.rates.len() {
            return Err(DistributionError::GroupCount {
                context: self.name.clone(),
                rates: self.rates.len(),
                grouping: self.grouping.to_string(),
                groups: grouping.len(),
                num_layers: self.source_layers,
                fit: count_fit(self.rates.len(), self.source_layers),
            });
        }
        for (k, &rate) in self.rates.iter().enumerate() {
            check_positive(&self.name, &format!("rate {k}"), rate)?;
        }
        Ok(grouping)
    }

    /// Reads and validates a `.yaml`, `.yml` or `.json` distribution file with no model
    /// at hand: a missing `source_layers` is an error unless `grouping` is `paper10`
    /// (module docs, "Simple files"). [`Distribution::load_for`] fills it in.
    pub fn load(path: &Path) -> Result<Self, DistributionError> {
        Distribution::read(path, None)
    }

    /// Reads and validates a distribution file for a model of `num_layers` layers, which
    /// a missing `source_layers` defaults to; a missing `name` is the file stem, and a
    /// missing `grouping` is `per-layer` for `source_layers + 2` rates, else `even:K` for
    /// K rates (module docs, "Simple files").
    pub fn load_for(path: &Path, num_layers: usize) -> Result<Self, DistributionError> {
        Distribution::read(path, Some(num_layers))
    }

    fn read(path: &Path, model_layers: Option<usize>) -> Result<Self, DistributionError> {
        let format = Format::of(path)?;
        let text = std::fs::read_to_string(path).map_err(|source| DistributionError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let file: DistributionFile = match format {
            Format::Yaml => {
                serde_yaml::from_str(&text).map_err(|e| DistributionError::parse(path, e))?
            }
            Format::Json => {
                serde_json::from_str(&text).map_err(|e| DistributionError::parse(path, e))?
            }
        };
        let dist = file
            .complete(path, model_layers)
            .map_err(|e| DistributionError::parse(path, e))?;
        dist.source_grouping()
            .map_err(|e| DistributionError::parse(path, e))?;
        Ok(dist)
    }

    /// Writes the distribution as YAML or JSON, chosen by the extension of `path`.
    pub fn save(&self, path: &Path) -> Result<(), DistributionError> {
        let text = match Format::of(path)? {
            Format::Yaml => {
                serde_yaml::to_string(self).map_err(|e| DistributionError::parse(path, e))?
            }
            Format::Json => {
                serde_json::to_string_pretty(self).map_err(|e| DistributionError::parse(path, e))?
                    + "\n"
            }
        };
        std::fs::write(path, text).map_err(|source| DistributionError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The rates for each group of `target`, transferred by log-linear interpolation over
    /// relative depth unless `target` is the distribution's own grouping (module docs).
    /// Also returns whether a transfer happened.
    pub fn rates_for(&self, target: &Grouping) -> Result<(Vec<f64>, bool), DistributionError> {
        let source = self.source_grouping()?;
        if source.num_layers() == target.num_layers()
            && source.depth_ranges() == target.depth_ranges()
        {
            return Ok((self.rates.clone(), false));
        }
        let rates = resample_log_linear(
            &source.relative_depths(),
            &self.rates,
            &target.relative_depths(),
        );
        Ok((rates, true))
    }

    /// Applies this distribution to the model `target` was built for.
    pub fn apply(
        &self,
        spec: &str,
        target: &Grouping,
    ) -> Result<ResolvedDistribution, DistributionError> {
        let (rates, transferred) = self.rates_for(target)?;
        let transferred_from = transferred.then_some(self.rates.len());
        Ok(ResolvedDistribution::new(
            spec,
            &self.name,
            target,
            rates,
            transferred_from,
        ))
    }
}

impl ResolvedDistribution {
    pub(crate) fn new(
        spec: &str,
        name: &str,
        grouping: &Grouping,
        rates: Vec<f64>,
        transferred_from: Option<usize>,
    ) -> Self {
        let per_depth = grouping
            .depth_ranges()
            .iter()
            .zip(&rates)
            .flat_map(|(range, &rate)| range.clone().map(move |_| rate))
            .collect();
        ResolvedDistribution {
            spec: spec.to_string(),
            name: name.to_string(),
            num_layers: grouping.num_layers(),
            grouping: grouping.spec(),
            rates,
            per_depth,
            transferred_from,
        }
    }

    /// The resolved rates as a distribution of this model, e.g. to save beside a run.
    pub fn to_distribution(&self) -> Distribution {
        Distribution {
            name: self.name.clone(),
            grouping: self.grouping,
            source_layers: self.num_layers,
            rates: self.rates.clone(),
        }
    }
}

/// A distribution file as written: every field but `rates` may be missing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DistributionFile {
    name: Option<String>,
    grouping: Option<GroupingSpec>,
    source_layers: Option<usize>,
    rates: Vec<f64>,
}

impl DistributionFile {
    /// The distribution with the defaults of the module docs ("Simple files") filled in,
    /// for a model of `model_layers` layers when one is given.
    fn complete(
        self,
        path: &Path,
        model_layers: Option<usize>,
    ) -> Result<Distribution, DistributionError> {
        let name = self.name.unwrap_or_else(|| {
            path.file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
        });
        let source_layers = match (self.source_layers, self.grouping, model_layers) {
            (Some(layers), _, _) => layers,
            (None, Some(GroupingSpec::Paper10), _) => PAPER_LAYERS,
            (None, _, Some(layers)) => layers,
            (None, _, None) => {
                return Err(DistributionError::MissingSourceLayers { context: name })
            }
        };
        let grouping = match self.grouping {
            Some(grouping) => grouping,
            None => {
                GroupingSpec::default_for(self.rates.len(), source_layers).ok_or_else(|| {
                    DistributionError::NoGroupingFits {
                        context: name.clone(),
                        rates: self.rates.len(),
                        num_layers: source_layers,
                        options: grouping_options(source_layers),
                    }
                })?
            }
        };
        Ok(Distribution {
            name,
            grouping,
            source_layers,
            rates: self.rates,
        })
    }
}

/// Whether `spec` names a distribution file: a path ending in .yaml, .yml or .json.
pub(crate) fn names_a_file(spec: &str) -> bool {
    Format::of(Path::new(spec)).is_ok()
}

#[derive(Clone, Copy)]
enum Format {
    Yaml,
    Json,
}

impl Format {
    fn of(path: &Path) -> Result<Self, DistributionError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("yaml" | "yml") => Ok(Format::Yaml),
            Some("json") => Ok(Format::Json),
            _ => Err(DistributionError::UnknownExtension {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// Resamples `rates`, given at the increasing positions `from`, at the positions `to`,
/// linearly in log(rate); outside `from`'s span the nearest end's rate is held.
fn resample_log_linear(from: &[f64], rates: &[f64], to: &[f64]) -> Vec<f64> {
    to.iter()
        .map(|&x| {
            let above = from.partition_point(|&p| p <= x);
            if above == 0 {
                return rates[0];
            }
            if above == from.len() {
                return rates[from.len() - 1];
            }
            let (lo, hi) = (above - 1, above);
            let t = (x - from[lo]) / (from[hi] - from[lo]);
            geometric_lerp(rates[lo], rates[hi], t)
        })
        .collect()
}

/// `a^(1-t) * b^t`, exact at t = 0, t = 1 and when `a == b`.
fn geometric_lerp(a: f64, b: f64, t: f64) -> f64 {
    if a == b || t <= 0.0 {
        a
    } else if t >= 1.0 {
        b
    } else {
        a.powf(1.0 - t) * b.powf(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::paper_combined;

    /// Parses `spec` and resolves it (the two steps the CLI and the runner take apart).
    fn resolve(
        spec: &str,
        num_layers: usize,
        grouping: &Grouping,
    ) -> Result<ResolvedDistribution, DistributionError> {
        spec.parse::<crate::resolve::DistributionSpec>()?
            .resolve(num_layers, grouping)
    }

    /// The authors' combined rates, groups 0..9 (docs/METHOD.md, "Combination").
    const PAPER: [f64; 10] = [
        3.295e-6, 4.363e-6, 9.215e-7, 1.923e-6, 2.849e-6, 2.143e-6, 3.267e-6, 3.699e-6, 3.186e-6,
        1.119e-5,
    ];

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
    }

    #[test]
    fn flat_matched_is_flat_at_the_geometric_mean_of_the_targets_rates() {
        let r = resolve("flat-matched:paper-combined", 6, &Grouping::per_layer(6)).unwrap();
        let target = resolve("paper-combined", 6, &Grouping::per_layer(6)).unwrap();
        let mean = crate::presets::flat_matched(&target.per_depth);
        assert!(
            r.per_depth.iter().all(|&x| close(x, mean)),
            "{:?}",
            r.per_depth
        );
        assert!(mean < 2e-5 && mean > 9e-7);
        assert!(resolve("flat-matched:nope", 6, &Grouping::per_layer(6)).is_err());
        assert_eq!(
            "flat-matched:results/combined/forget.yaml"
                .parse::<crate::resolve::DistributionSpec>()
                .unwrap()
                .files(),
            vec![std::path::PathBuf::from("results/combined/forget.yaml")]
        );
        assert_eq!(
            "x.json"
                .parse::<crate::resolve::DistributionSpec>()
                .unwrap()
                .files(),
            vec![std::path::PathBuf::from("x.json")]
        );
        assert!("flat-matched:paper-combined"
            .parse::<crate::resolve::DistributionSpec>()
            .unwrap()
            .files()
            .is_empty());
        assert!("llrd:1e-4:0.8"
            .parse::<crate::resolve::DistributionSpec>()
            .unwrap()
            .files()
            .is_empty());
    }

    #[test]
    fn paper_combined_on_its_own_model_is_used_as_given() {
        let r = resolve("paper-combined", 12, &Grouping::paper10()).unwrap();
        assert_eq!(r.rates, PAPER.to_vec());
        assert_eq!(r.transferred_from, None);
        assert_eq!(r.per_depth.len(), 14);
        // Layers 0-1 (depths 1, 2) share group 1; layer 11 (depth 12) is group 8.
        assert_eq!(r.per_depth[1], PAPER[1]);
        assert_eq!(r.per_depth[2], PAPER[1]);
        assert_eq!(r.per_depth[12], PAPER[8]);
        assert_eq!(r.per_depth[13], PAPER[9]);
    }

    #[test]
    fn transfer_is_log_linear_in_relative_depth() {
        // Two depths (L = 0) at relative depths 0 and 1, resampled at d / 4.
        let d = Distribution::new("two", GroupingSpec::PerLayer, 0, vec![1e-6, 1e-4]).unwrap();
        let (rates, transferred) = d.rates_for(&Grouping::per_layer(3)).unwrap();
        assert!(transferred);
        let expected = [1e-6, 10f64.powf(-5.5), 1e-5, 10f64.powf(-4.5), 1e-4];
        for (r, e) in rates.iter().zip(expected) {
            assert!(close(*r, e), "{rates:?}");
        }
    }

    #[test]
    fn paper_combined_transfers_to_twelve_single_layers() {
        let r = resolve("paper-combined", 12, &Grouping::per_layer(12)).unwrap();
        assert_eq!(r.transferred_from, Some(10));
        assert_eq!(r.rates, r.per_depth);
        // Single-depth groups sit exactly on a target depth and keep their rate.
        for (depth, group) in [(0, 0), (3, 2), (6, 4), (9, 6), (12, 8), (13, 9)] {
            assert_eq!(r.per_depth[depth], PAPER[group], "depth {depth}");
        }
        // Layer 0 (depth 1) lies a third of the way from group 1 (1.5/13) back to group 0.
        let expected = PAPER[0].powf(1.0 / 3.0) * PAPER[1].powf(2.0 / 3.0);
        assert!(close(r.per_depth[1], expected));
    }

    #[test]
    fn paper_combined_transfers_to_six_layers() {
        let r = resolve("paper-combined", 6, &Grouping::per_layer(6)).unwrap();
        assert_eq!(r.transferred_from, Some(10));
        assert_eq!(r.per_depth.len(), 8);
        assert_eq!(r.per_depth[0], PAPER[0]);
        assert_eq!(r.per_depth[7], PAPER[9]);
        let (lo, hi) = (PAPER[2], PAPER[9]);
        assert!(
            r.per_depth.iter().all(|&x| lo <= x && x <= hi),
            "{:?}",
            r.per_depth
        );
    }

    #[test]
    fn transfer_round_trips_through_a_finer_model() {
        // Depth d / 7 of a 6-layer model is depth 2d / 14 of a 13-layer one.
        let rates = vec![3e-6, 1e-5, 2e-6, 4e-5, 7e-6, 1e-6, 5e-6, 2e-5];
        let six = Distribution::new("six", GroupingSpec::PerLayer, 6, rates.clone()).unwrap();
        let fine = six
            .apply("six", &Grouping::per_layer(13))
            .unwrap()
            .to_distribution();
        assert_eq!(fine.rates.len(), 15);
        let back = fine.apply("fine", &Grouping::per_layer(6)).unwrap();
        assert_eq!(back.transferred_from, Some(15));
        for (a, b) in back.rates.iter().zip(&rates) {
            assert!(close(*a, *b), "{:?} vs {rates:?}", back.rates);
        }
        // And the identity: a distribution applied to its own grouping is untouched.
        let same = fine.apply("fine", &Grouping::per_layer(13)).unwrap();
        assert_eq!((same.rates, same.transferred_from), (fine.rates, None));
    }

    #[test]
    fn flat_and_single_group_distributions_transfer_to_flat() {
        let one = Distribution::new("one", GroupingSpec::Even(1), 12, vec![3e-5]).unwrap();
        let r = one.apply("one", &Grouping::per_layer(6)).unwrap();
        assert_eq!(r.per_depth, vec![3e-5; 8]);
        let flat = Distribution::new("flat", GroupingSpec::PerLayer, 6, vec![2e-5; 8]).unwrap();
        let r = flat.apply("flat", &Grouping::paper10()).unwrap();
        assert_eq!(r.rates, vec![2e-5; 10]);
    }

    #[test]
    fn per_depth_presets_need_no_transfer() {
        let r = resolve(
            "flat:2e-5",
            6,
            &Grouping::new("even:3".parse().unwrap(), 6).unwrap(),
        )
        .unwrap();
        assert_eq!((r.rates.clone(), r.transferred_from), (vec![2e-5; 3], None));
        assert_eq!(r.per_depth, vec![2e-5; 8]);

        let r = resolve("llrd:1e-4:0.5", 2, &Grouping::per_layer(2)).unwrap();
        assert_eq!(r.per_depth, vec![1.25e-5, 2.5e-5, 5e-5, 1e-4]);
        // Depths 0-1 grouped: the geometric mean, i.e. llrd at depth 0.5.
        let r = resolve("llrd:1e-4:0.5", 2, &Grouping::even(2, 2).unwrap()).unwrap();
        assert!(close(r.rates[0], 1e-4 * 0.5f64.powf(2.5)));
        assert!(close(r.rates[1], 1e-4 * 0.5f64.powf(0.5)));
    }

    #[test]
    fn files_round_trip_in_yaml_and_json() {
        let dir = tempfile::tempdir().unwrap();
        let dist = paper_combined();
        for file in ["d.yaml", "d.yml", "d.json"] {
            let path = dir.path().join(file);
            dist.save(&path).unwrap();
            assert_eq!(Distribution::load(&path).unwrap(), dist);
            let r = resolve(path.to_str().unwrap(), 12, &Grouping::paper10()).unwrap();
            assert_eq!(r.rates, dist.rates);
            assert_eq!(r.spec, path.to_str().unwrap());
        }
        let yaml = std::fs::read_to_string(dir.path().join("d.yaml")).unwrap();
        assert!(yaml.contains("grouping: paper10"), "{yaml}");
        assert!(yaml.contains("source_layers: 12"), "{yaml}");
    }

    #[test]
    fn bad_files_give_one_line_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "count.yaml",
                "name: x\ngrouping: paper10\nsource_layers: 12\nrates: [1e-5, 1e-5]\n",
                "2 rates given, but grouping `paper10` has 10 groups; 2 rates fit even:2 on a \
                 12-layer model (per-layer needs L + 2 = 14 rates",
            ),
            (
                "neg.yaml",
                "name: x\ngrouping: even:2\nsource_layers: 6\nrates: [1e-5, -1e-5]\n",
                "rate 1 is -1e-5",
            ),
            (
                "fit.yaml",
                "name: x\ngrouping: paper10\nsource_layers: 6\nrates: [1e-5]\n",
                "does not fit a 6-layer model",
            ),
            (
                "group.json",
                r#"{"name": "x", "grouping": "layers", "source_layers": 6, "rates": [1e-5]}"#,
                "unknown grouping `layers`",
            ),
            (
                "typo.yaml",
                "name: x\ngrouping: per-layer\nsource_layer: 6\nrates: [1e-5]\n",
                "unknown field `source_layer`",
            ),
            (
                "nan.json",
                r#"{"name": "x", "grouping": "even:1", "source_layers": 6, "rates": ["a"]}"#,
                "invalid type",
            ),
        ];
        for (file, text, expected) in cases {
            let path = dir.path().join(file);
            std::fs::write(&path, text).unwrap();
            let msg = resolve(path.to_str().unwrap(), 6, &Grouping::per_layer(6))
                .unwrap_err()
                .to_string();
            assert!(msg.contains(expected), "{file}: {msg}");
            assert!(msg.contains(file), "{file}: {msg}");
            assert!(!msg.contains('\n'), "{file}: {msg}");
        }
        let missing = dir.path().join("missing.yaml");
        let msg = resolve(missing.to_str().unwrap(), 6, &Grouping::per_layer(6)).unwrap_err();
        assert!(matches!(msg, DistributionError::Read { .. }), "{msg}");
        let txt = dir.path().join("rates.txt");
        std::fs::write(&txt, "1e-5").unwrap();
        let msg = resolve(txt.to_str().unwrap(), 6, &Grouping::per_layer(6)).unwrap_err();
        assert!(
            matches!(msg, DistributionError::UnknownExtension { .. }),
            "{msg}"
        );
    }

    #[test]
    fn simple_files_need_only_rates() {
        let dir = tempfile::tempdir().unwrap();
        let write = |file: &str, text: &str| {
            let path = dir.path().join(file);
            std::fs::write(&path, text).unwrap();
            path
        };
        // L + 2 = 8 rates on a 6-layer model: per-layer, named after the file, used as given.
        let eight = [1e-6, 2e-6, 3e-6, 4e-6, 5e-6, 6e-6, 7e-6, 8e-6];
        let path = write("my-rates.yaml", &format!("rates: {eight:?}\n"));
        let d = Distribution::load_for(&path, 6).unwrap();
        let expected = Distribution::new("my-rates", GroupingSpec::PerLayer, 6, eight.to_vec());
        assert_eq!(d, expected.unwrap());
        let r = resolve(path.to_str().unwrap(), 6, &Grouping::per_layer(6)).unwrap();
        assert_eq!((r.per_depth, r.transferred_from), (eight.to_vec(), None));
        assert_eq!(r.name, "my-rates");

        // Another count K is even:K of the model; JSON alike, and a name is kept.
        let path = write(
            "three.json",
            r#"{"name": "mine", "rates": [1e-6, 1e-5, 1e-4]}"#,
        );
        let d = Distribution::load_for(&path, 6).unwrap();
        assert_eq!(
            (d.name.as_str(), d.grouping, d.source_layers),
            ("mine", GroupingSpec::Even(3), 6)
        );
        let even3 = Grouping::even(6, 3).unwrap();
        let r = resolve(path.to_str().unwrap(), 6, &even3).unwrap();
        assert_eq!(
            r.per_depth,
            [1e-6, 1e-6, 1e-5, 1e-5, 1e-5, 1e-4, 1e-4, 1e-4]
        );
        // One rate is flat, on any model.
        let path = write("one.yml", "rates: [3e-5]\n");
        let r = resolve(path.to_str().unwrap(), 12, &Grouping::paper10()).unwrap();
        assert_eq!(r.per_depth, vec![3e-5; 14]);

        // paper10 without source_layers is the paper's 12-layer split, transferred to 6.
        let path = write(
            "p10.yaml",
            &format!("grouping: paper10\nrates: {PAPER:?}\n"),
        );
        let r = resolve(path.to_str().unwrap(), 6, &Grouping::per_layer(6)).unwrap();
        let preset = resolve("paper-combined", 6, &Grouping::per_layer(6)).unwrap();
        assert_eq!(
            (r.per_depth, r.transferred_from),
            (preset.per_depth, Some(10))
        );

        // Without a model, source_layers (or paper10) must be in the file.
        let path = write("bare.yaml", "rates: [1e-5, 2e-5]\n");
        let err = Distribution::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("bare.yaml") && err.contains("`source_layers` is missing"),
            "{err}"
        );
        let path = write(
            "with-layers.yaml",
            "source_layers: 2\nrates: [1e-5, 2e-5, 3e-5, 4e-5]\n",
        );
        assert_eq!(
            Distribution::load(&path).unwrap().grouping,
            GroupingSpec::PerLayer
        );
    }

    #[test]
    fn a_count_that_fits_no_grouping_says_what_fits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("twenty.yaml");
        std::fs::write(&path, format!("rates: {:?}\n", vec![1e-5; 20])).unwrap();
        let msg = resolve(path.to_str().unwrap(), 6, &Grouping::per_layer(6))
            .unwrap_err()
            .to_string();
        for expected in [
            "twenty.yaml",
            "20 rates given",
            "6-layer model",
            "per-layer needs L + 2 = 8 rates",
            "even:K takes K = 1 to 8",
            "paper10 needs 10 rates and a 12-layer model",
        ] {
            assert!(msg.contains(expected), "{expected}: {msg}");
        }
        assert!(!msg.contains('\n'), "{msg}");
        // The same count is fine for a model deep enough (and per-layer for L = 18).
        let d = Distribution::load_for(&path, 18).unwrap();
        assert_eq!(d.grouping, GroupingSpec::PerLayer);
        // A wrong count for a named grouping says which groupings the count fits.
        let err = Distribution::new("x", GroupingSpec::PerLayer, 12, vec![1e-5; 10]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("10 rates given, but grouping `per-layer` has 14 groups")
                && msg.contains("10 rates fit even:10 or paper10 on a 12-layer model"),
            "{msg}"
        );
    }

    #[test]
    fn grouping_must_match_the_model() {
        let err = resolve("flat:1e-5", 6, &Grouping::paper10()).unwrap_err();
        assert!(
            err.to_string()
                .contains("built for 12 layers, but the model has 6"),
            "{err}"
        );
        let err = resolve("nonsense", 6, &Grouping::per_layer(6)).unwrap_err();
        assert!(
            matches!(err, DistributionError::UnknownPreset { .. }),
            "{err}"
        );
    }
}
