//! The seed rule applied to a config's batch (docs/METHOD.md, "Seeds"): once a config's
//! `seeds` are recorded, each method compared with flat whose per-seed Δp_o to flat spreads
//! wider than its mean ([`lrdist_record::needs_more_seeds`]) gets the config's
//! `more_seeds` at that scale, and flat gets them too so that every seed stays paired.
//! `run --all` runs them after the first seeds; `--dry-run` lists them, and those not
//! decided yet as conditional.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use lrdist_record::{compared_with_flat, needs_more_seeds, FLAT};

use crate::config::{ExperimentConfig, RunRequest};
use crate::requests::RunOptions;

/// What the rule says for one config at one scale.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeedDecision {
    /// Methods that get the more seeds; flat is among them when any other method is.
    pub more: BTreeSet<String>,
    /// Methods compared with flat whose rule is applied and says no.
    pub settled: BTreeSet<String>,
    /// Methods the rule cannot decide yet: a first seed of theirs or of flat has no
    /// record. Flat is among them when no method needs more seeds and some are undecided.
    pub undecided: BTreeSet<String>,
}

/// The rule on `methods` (those of the config, flat included) given the recorded p_o of
/// (method, seed) over the first `seeds`. Flat-frontier points and flat itself are not
/// compared ([`compared_with_flat`]); a config without flat has nothing to pair with and
/// asks for nothing.
pub fn decide(p_o: &BTreeMap<(String, u64), f64>, methods: &[&str], seeds: &[u64]) -> SeedDecision {
    let mut d = SeedDecision::default();
    if !methods.contains(&FLAT) {
        return d;
    }
    for &m in methods.iter().filter(|m| compared_with_flat(m)) {
        let differences: Option<Vec<f64>> = seeds
            .iter()
            .map(|&s| {
                let method = p_o.get(&(m.to_string(), s))?;
                let flat = p_o.get(&(FLAT.to_string(), s))?;
                Some(method - flat)
            })
            .collect();
        let set = match differences.as_deref().and_then(needs_more_seeds) {
            Some(true) => &mut d.more,
            Some(false) => &mut d.settled,
            None => &mut d.undecided,
        };
        set.insert(m.to_string());
    }
    if !d.more.is_empty() {
        d.more.insert(FLAT.to_string());
    } else if !d.undecided.is_empty() {
        d.undecided.insert(FLAT.to_string());
    }
    d
}

/// The runs the rule adds to a `run --all` batch.
#[derive(Clone, Debug, Default)]
pub struct MoreSeeds {
    /// The config's first seeds and the seeds it may add, at the batch's scale.
    pub seeds: Vec<u64>,
    pub extra: Vec<u64>,
    pub decision: SeedDecision,
    /// The added runs of the methods that need them (limited to `--methods` if given).
    pub runs: Vec<RunRequest>,
    /// The runs added if the rule asks once the first seeds are recorded.
    pub conditional: Vec<RunRequest>,
}

impl MoreSeeds {
    /// The rule's outcome in one line for stderr; `None` when the config adds no seeds.
    pub fn message(&self) -> Option<String> {
        if self.extra.is_empty() {
            return None;
        }
        let list = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
        let seeds = |s: &[u64]| s.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        let mut parts = Vec::new();
        if !self.decision.more.is_empty() {
            parts.push(format!(
                "seeds {} for {} (sd of Δp_o to flat over seeds {} above its mean's magnitude)",
                seeds(&self.extra),
                list(&self.decision.more),
                seeds(&self.seeds)
            ));
        }
        if !self.decision.settled.is_empty() {
            parts.push(format!("none for {}", list(&self.decision.settled)));
        }
        if !self.decision.undecided.is_empty() {
            parts.push(format!(
                "undecided for {} (seeds {} of theirs or of flat not all recorded)",
                list(&self.decision.undecided),
                seeds(&self.seeds)
            ));
        }
        Some(format!(
            "seed rule (docs/METHOD.md, \"Seeds\"): {}",
            parts.join("; ")
        ))
    }
}

/// The rule on `opts`'s `--all` batch: `p_o` gives the recorded p_o of a request of the
/// first seeds (`None` without a record of exactly it). Every method of the config is
/// decided; the runs are those of `opts.methods` when it names any.
pub fn more_seeds(
    opts: &RunOptions,
    p_o: &mut dyn FnMut(&RunRequest) -> Result<Option<f64>>,
) -> Result<MoreSeeds> {
    if !opts.all {
        return Ok(MoreSeeds::default());
    }
    let path = opts
        .config
        .as_deref()
        .context("--all runs the methods of a config: give --config FILE")?;
    let config = ExperimentConfig::from_file(path)?;
    let extra = config.more_seeds_at(opts.scale.name()).to_vec();
    if extra.is_empty() {
        return Ok(MoreSeeds::default());
    }
    // Every method's first seeds, whatever `--methods` names: a method is paired with flat.
    let mut every = opts.clone();
    every.methods.clear();
    let (first, _waiting) = every.requests_and_waiting()?;
    let mut recorded = BTreeMap::new();
    let mut template: BTreeMap<&str, &RunRequest> = BTreeMap::new();
    for req in &first {
        template.entry(req.method.as_str()).or_insert(req);
        if let Some(v) = p_o(req)? {
            recorded.insert((req.method.clone(), req.seed), v);
        }
    }
    let methods: Vec<&str> = template.keys().copied().collect();
    let decision = decide(&recorded, &methods, &config.seeds);
    let chosen = |m: &String| opts.methods.is_empty() || opts.methods.contains(m);
    let expand = |set: &BTreeSet<String>| -> Vec<RunRequest> {
        let mut out = Vec::new();
        for m in set.iter().filter(|m| chosen(m)) {
            for &seed in &extra {
                let mut req = template[m.as_str()].clone();
                req.seed = seed;
                out.push(req);
            }
        }
        out
    };
    Ok(MoreSeeds {
        runs: expand(&decision.more),
        conditional: expand(&decision.undecided),
        seeds: config.seeds.clone(),
        extra,
        decision,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(rows: &[(&str, u64, f64)]) -> BTreeMap<(String, u64), f64> {
        rows.iter()
            .map(|&(m, s, v)| ((m.to_string(), s), v))
            .collect()
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    const METHODS: [&str; 4] = ["flat", "flat@2e-5", "ewc", "freeze"];

    #[test]
    fn a_spread_wider_than_the_difference_adds_seeds_to_the_method_and_flat() {
        let p = recorded(&[
            ("flat", 0, 0.80),
            ("flat", 1, 0.70),
            ("flat", 2, 0.75),
            // Δ .02, -.02, .01: sd .021 > |mean| .0033
            ("ewc", 0, 0.82),
            ("ewc", 1, 0.68),
            ("ewc", 2, 0.76),
            // Δ .05, .04, .06: settled
            ("freeze", 0, 0.85),
            ("freeze", 1, 0.74),
            ("freeze", 2, 0.81),
            // a frontier point is never compared, whatever its spread
            ("flat@2e-5", 0, 0.9),
            ("flat@2e-5", 1, 0.6),
            ("flat@2e-5", 2, 0.75),
        ]);
        let d = decide(&p, &METHODS, &[0, 1, 2]);
        assert_eq!(d.more, set(&["ewc", "flat"]));
        assert_eq!(d.settled, set(&["freeze"]));
        assert!(d.undecided.is_empty());
    }

    #[test]
    fn a_missing_first_seed_leaves_the_method_and_flat_undecided() {
        let p = recorded(&[
            ("flat", 0, 0.80),
            ("flat", 1, 0.70),
            ("flat", 2, 0.75),
            ("ewc", 0, 0.85),
            ("ewc", 1, 0.75),
            ("freeze", 0, 0.85),
            ("freeze", 1, 0.74),
            ("freeze", 2, 0.81),
        ]);
        let d = decide(&p, &METHODS, &[0, 1, 2]);
        assert!(d.more.is_empty());
        assert_eq!(d.undecided, set(&["ewc", "flat"]));
        // Flat's own seed missing: nothing can be decided.
        let mut p = p;
        p.remove(&("flat".to_string(), 2));
        p.insert(("ewc".to_string(), 2), 0.8);
        let d = decide(&p, &METHODS, &[0, 1, 2]);
        assert_eq!(d.undecided, set(&["ewc", "freeze", "flat"]));
        // Without flat in the config there is no pairing and no rule.
        assert_eq!(
            decide(&p, &["ewc", "freeze"], &[0, 1, 2]),
            SeedDecision::default()
        );
    }

    const CONFIG: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../experiments/stsb_mrpc.yaml"
    );

    fn forget_all(methods: &[&str]) -> RunOptions {
        let mut opts = RunOptions {
            config: Some(CONFIG.into()),
            all: true,
            methods: methods.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        opts.scale.scale = Some("forget".into());
        opts
    }

    #[test]
    fn the_batch_gets_the_configs_more_seeds_for_the_methods_the_rule_names() {
        let config = ExperimentConfig::from_file(CONFIG.as_ref()).unwrap();
        let extra = config.more_seeds_at("forget").to_vec();
        assert!(
            !extra.is_empty(),
            "{CONFIG} has more_seeds at the forget scale"
        );
        // flat at .80, every other method .80 + .01 * (seed - 1): a spread, no difference
        let mut p_o = |r: &RunRequest| -> Result<Option<f64>> {
            let spread = if r.method == "flat" { 0.0 } else { 0.01 };
            Ok(Some(0.80 + spread * (r.seed as f64 - 1.0)))
        };
        let more = more_seeds(&forget_all(&[]), &mut p_o).unwrap();
        assert!(more.decision.more.contains("flat"));
        // (run from this crate's folder, the methods reading results/ files wait for them)
        assert!(more.decision.more.contains("paper-combined"));
        assert!(!more.decision.more.contains("flat@2e-5"));
        let seeds: BTreeSet<u64> = more.runs.iter().map(|r| r.seed).collect();
        assert_eq!(seeds, extra.iter().copied().collect());
        assert_eq!(more.runs.len(), more.decision.more.len() * extra.len());
        assert!(more.conditional.is_empty());
        assert!(more.message().unwrap().contains("seed rule"));
        // --methods limits the runs, not the decision (flat is still paired).
        let only = more_seeds(&forget_all(&["paper-combined"]), &mut p_o).unwrap();
        assert_eq!(only.decision, more.decision);
        assert!(only.runs.iter().all(|r| r.method == "paper-combined"));
        assert_eq!(only.runs.len(), extra.len());
        // Nothing recorded: every compared method and flat are conditional.
        let none = more_seeds(&forget_all(&[]), &mut |_| Ok(None)).unwrap();
        assert!(none.runs.is_empty());
        assert_eq!(
            none.conditional.len(),
            none.decision.undecided.len() * extra.len()
        );
        // The quick scale adds none.
        let mut quick = forget_all(&[]);
        quick.scale.scale = Some("quick".into());
        assert!(more_seeds(&quick, &mut p_o).unwrap().message().is_none());
    }
}
