//! The evaluation at the forget scale (docs/METHOD.md, "Evaluation at the forget scale"):
//!
//! - `forget`: per setting and method, a1, p_s, p_o, forgetting, the share of flat's
//!   forgetting the method removes, and Δ vs flat paired by seed with its test;
//! - `forget-summary`: per method, across the held-out settings only, better / worse counts
//!   and the sign test, the mean share removed, and the position against the flat frontier;
//! - `frontier`: per setting, the flat curve's points and every method's gain over it;
//! - `sequence`: per sequence of three or more tasks, average accuracy, backward transfer,
//!   forgetting and Chaudhry's max-drop forgetting, each with Δ vs flat.
//!
//! The records are those of scale `forget` in `results/runs` (the stage-2-only protocol,
//! so a1 is shared by every method within a seed); a setting is searched when a study of
//! `results/search/forget` (or an input of `results/combined/forget.json`) ran on it, and
//! held out otherwise.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;
use polars::prelude::{Column, DataFrame};

use super::methods::{summarise, Delta, Rows};
use super::regime::FORGET;
use super::unseen::{Searched, Tally, ALPHA, TIE};
use crate::inputs::MissingInput;
use crate::measures::{
    beats_in_both, frontier_rate, share_removed, FlatCurve, FlatPoint, Frontier, SequenceMetrics,
};
use crate::regime::{flat_forgets, FORGETS};
use crate::runs::{read_runs, to_frame, Run, RunSet, FLAT};
use crate::stats::sample_sd;
use crate::table::{csv_num, md_delta, md_mean_sd, md_num, md_p, Table};

/// The metrics summarised per setting and method, in this order.
const METRICS: &[&str] = &["a1", "p_s", "p_o", "forgetting", "objective"];
const A1: usize = 0;
const P_S: usize = 1;
const P_O: usize = 2;
const FORGETTING: usize = 3;
const OBJECTIVE: usize = 4;

/// The methods of the forget-scale evaluation, in the order the tables list them; other
/// methods follow by name, then the flat-frontier points by rate.
pub(crate) const METHODS: &[&str] = &[
    FLAT,
    "flat-matched",
    "llrd",
    "ewc",
    "l2sp",
    "wise-ft",
    "freeze",
    "combined",
    "paper-combined",
];

/// Why there is nothing to compare yet.
const ONLY_FLAT: &str = "no run record at scale forget of a method other than flat or of a \
                         flat-frontier point flat@<rate> (only the survey's flat runs, if any)";

/// What a method is in the evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Role {
    /// `flat` at the calibrated rate: the reference, and a point of the flat curve.
    Reference,
    /// `flat@<rate>`: a point of the flat curve.
    Frontier(f64),
    /// Anything else.
    Method,
}

impl Role {
    fn of(method: &str) -> Self {
        if method == FLAT {
            Role::Reference
        } else if let Some(rate) = frontier_rate(method) {
            Role::Frontier(rate)
        } else {
            Role::Method
        }
    }

    fn name(self) -> &'static str {
        match self {
            Role::Reference => "reference",
            Role::Frontier(_) => "frontier",
            Role::Method => "method",
        }
    }

    /// Whether the method is a point of the flat curve.
    pub(crate) fn on_curve(self) -> bool {
        !matches!(self, Role::Method)
    }
}

/// Where a method sorts: group, position in [`METHODS`], rate (as bits), name.
pub(crate) type MethodKey = (u8, usize, u64, String);

/// Table order of methods: [`METHODS`], other methods by name, frontier points by rate.
pub(crate) fn method_order(method: &str) -> MethodKey {
    match Role::of(method) {
        Role::Frontier(rate) => (2, 0, rate.to_bits(), method.to_string()),
        _ => match METHODS.iter().position(|m| *m == method) {
            Some(i) => (0, i, 0, String::new()),
            None => (1, 0, 0, method.to_string()),
        },
    }
}

/// One method of one setting: its summary row and what is derived from it.
pub(crate) struct MethodRow {
    pub method: String,
    pub role: Role,
    /// Its row in [`Evaluation::rows`].
    pub row: usize,
    pub seeds: usize,
    pub p_s: Option<f64>,
    pub p_s_sd: Option<f64>,
    pub p_o: Option<f64>,
    pub p_o_sd: Option<f64>,
    /// Share of flat's forgetting removed ([`share_removed`]) and the seeds it pairs.
    pub share: Option<f64>,
    pub share_pairs: usize,
    /// Its means over the curve's seeds ([`CurveMeans`]): what the flat curve is drawn
    /// from (flat points) and judged against (methods).
    pub on_curve_seeds: CurveMeans,
    /// Against the setting's flat curve (methods only, and only where there is a curve).
    pub frontier: Option<Frontier>,
    /// The flat points (`flat`, `flat@<rate>`) that beat it in both p_s and p_o over the
    /// curve's seeds ([`beats_in_both`]), for methods and flat points alike.
    pub beaten_by: Vec<String>,
}

/// A method's mean (p_s, p_o) over the seeds every flat point of its setting ran (the
/// curve's seeds; docs/METHOD.md, "Seeds"): where the seed rule gave flat and a method
/// seeds the frontier rates did not run, the frontier compares all of them on the same
/// seeds. Equal to the method's own means when it ran no seed outside the curve's.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct CurveMeans {
    pub seeds: usize,
    pub p_s: Option<f64>,
    pub p_s_sd: Option<f64>,
    pub p_o: Option<f64>,
    pub p_o_sd: Option<f64>,
}

impl CurveMeans {
    /// `m`'s means over `seeds` from its runs in `members`; `m`'s own summary when all its
    /// seeds are among them (or the curve has none).
    fn of(m: &MethodRow, members: &[&Run], seeds: &BTreeSet<u64>) -> Self {
        let runs: Vec<&Run> = members
            .iter()
            .filter(|r| r.record.method == m.method)
            .copied()
            .collect();
        if seeds.is_empty() || runs.iter().all(|r| seeds.contains(&r.record.seed)) {
            return CurveMeans {
                seeds: m.seeds,
                p_s: m.p_s,
                p_s_sd: m.p_s_sd,
                p_o: m.p_o,
                p_o_sd: m.p_o_sd,
            };
        }
        let on: Vec<&Run> = runs
            .into_iter()
            .filter(|r| seeds.contains(&r.record.seed))
            .collect();
        let values =
            |f: fn(&Run) -> Option<f64>| -> Vec<f64> { on.iter().filter_map(|r| f(r)).collect() };
        let (p_s, p_o) = (values(|r| r.record.p_s), values(|r| r.record.p_o));
        CurveMeans {
            seeds: on.len(),
            p_s: mean(&p_s),
            p_s_sd: sample_sd(&p_s),
            p_o: mean(&p_o),
            p_o_sd: sample_sd(&p_o),
        }
    }
}

/// The seeds every flat point (`flat` and each `flat@<rate>`) of a setting ran.
fn curve_seeds(members: &[&Run], points: &[&str]) -> BTreeSet<u64> {
    let seeds_of = |name: &str| -> BTreeSet<u64> {
        members
            .iter()
            .filter(|r| r.record.method == name)
            .map(|r| r.record.seed)
            .collect()
    };
    let mut sets = points.iter().map(|p| seeds_of(p));
    let first = sets.next().unwrap_or_default();
    sets.fold(first, |acc, s| acc.intersection(&s).copied().collect())
}

/// One forget-scale setting: a scenario at one scale (name and spec).
pub(crate) struct Setting {
    pub scenario: String,
    /// The scale label (`forget`, or `forget~<hash>` for a second spec).
    pub scale: String,
    /// The scenario, with the scale label in brackets for a second spec.
    pub name: String,
    pub kind: String,
    /// The number of stages (rows of the accuracy matrix).
    pub stages: usize,
    pub searched: bool,
    pub methods: Vec<MethodRow>,
    pub curve: Option<FlatCurve>,
}

impl Setting {
    /// "held-out" or "searched".
    pub(crate) fn set(&self) -> &'static str {
        if self.searched {
            "searched"
        } else {
            "held-out"
        }
    }

    /// Whether anything besides flat ran on it.
    fn compared(&self) -> bool {
        self.methods.iter().any(|m| m.role != Role::Reference)
    }

    /// The flat-curve points (flat and `flat@<rate>`).
    pub(crate) fn curve_points(&self) -> impl Iterator<Item = &MethodRow> {
        self.methods.iter().filter(|m| m.role.on_curve())
    }
}

/// The forget-scale records, summarised per setting and method.
pub(crate) struct Evaluation {
    pub runs: RunSet,
    pub(super) rows: Rows,
    pub settings: Vec<Setting>,
    /// (setting, seed) whose records do not share a1 (not stage-2-only).
    pub a1_mismatch: Vec<String>,
    /// The flat rates of flat's records.
    pub flat_rates: Vec<f64>,
}

impl Evaluation {
    /// Reads the records of scale `forget` (single-task calibration runs left out). `what`
    /// names the table or figure in the error when there are none.
    pub(crate) fn load(results: &Path, what: &str) -> Result<Self> {
        let mut runs = read_runs(results)?;
        runs.retain(|r| r.record.scale == FORGET && r.record.kind != "single");
        if runs.runs.is_empty() {
            let missing = format!(
                "no run records at scale {FORGET} in {}",
                results.join("runs").join("*.jsonl").display()
            );
            return Err(MissingInput::error(what, missing));
        }
        let searched = Searched::read(results)?;
        let summary = summarise(&to_frame(&runs)?, METRICS)?;
        let rows = Rows::read(&summary, METRICS)?;
        let index: BTreeMap<(&str, &str, &str), usize> = (0..rows.method.len())
            .map(|i| {
                (
                    (
                        rows.scenario[i].as_str(),
                        rows.scale[i].as_str(),
                        rows.method[i].as_str(),
                    ),
                    i,
                )
            })
            .collect();

        let mut by_setting: BTreeMap<(String, String), Vec<&Run>> = BTreeMap::new();
        for run in &runs.runs {
            by_setting
                .entry((run.record.scenario.clone(), run.scale_label()))
                .or_default()
                .push(run);
        }
        let mut settings = Vec::new();
        let mut a1_mismatch = Vec::new();
        for ((scenario, scale), members) in &by_setting {
            let name = super::regime::setting_name(members[0]);
            a1_mismatch.extend(
                a1_differs(members)
                    .into_iter()
                    .map(|seed| format!("{name} seed {seed}")),
            );
            let flat_by_seed: BTreeMap<u64, &Run> = members
                .iter()
                .filter(|r| r.record.method == FLAT)
                .map(|r| (r.record.seed, *r))
                .collect();
            let mut names: Vec<&str> = members.iter().map(|r| r.record.method.as_str()).collect();
            names.sort_by_key(|m| method_order(m));
            names.dedup();
            let mut methods = Vec::new();
            for method in names {
                let Some(&row) = index.get(&(scenario.as_str(), scale.as_str(), method)) else {
                    continue;
                };
                let pairs: Vec<(f64, f64, f64)> = members
                    .iter()
                    .filter(|r| r.record.method == method)
                    .filter_map(|r| {
                        let flat = flat_by_seed.get(&r.record.seed)?;
                        Some((flat.record.a1?, flat.record.p_o?, r.record.p_o?))
                    })
                    .collect();
                let role = Role::of(method);
                methods.push(MethodRow {
                    method: method.to_string(),
                    role,
                    row,
                    seeds: rows.count(row),
                    p_s: rows.mean(row, P_S),
                    p_s_sd: rows.sd(row, P_S),
                    p_o: rows.mean(row, P_O),
                    p_o_sd: rows.sd(row, P_O),
                    share: if role == Role::Reference {
                        None
                    } else {
                        share_removed(&pairs)
                    },
                    share_pairs: pairs.len(),
                    on_curve_seeds: CurveMeans::default(),
                    frontier: None,
                    beaten_by: Vec::new(),
                });
            }
            let points: Vec<&str> = methods
                .iter()
                .filter(|m| m.role.on_curve())
                .map(|m| m.method.as_str())
                .collect();
            let seeds = curve_seeds(members, &points);
            for m in &mut methods {
                m.on_curve_seeds = CurveMeans::of(m, members, &seeds);
            }
            let flat_points: Vec<(String, f64, f64)> = methods
                .iter()
                .filter(|m| m.role.on_curve())
                .filter_map(|m| {
                    let c = &m.on_curve_seeds;
                    Some((m.method.clone(), c.p_s?, c.p_o?))
                })
                .collect();
            for m in &mut methods {
                if let (Some(p_s), Some(p_o)) = (m.on_curve_seeds.p_s, m.on_curve_seeds.p_o) {
                    m.beaten_by = flat_points
                        .iter()
                        .filter(|(_, q_s, q_o)| beats_in_both(*q_s, *q_o, p_s, p_o))
                        .map(|(name, ..)| name.clone())
                        .collect();
                }
            }
            let curve = FlatCurve::new(methods.iter().filter(|m| m.role.on_curve()).filter_map(
                |m| {
                    let c = &m.on_curve_seeds;
                    Some(FlatPoint {
                        p_s: c.p_s?,
                        p_o: c.p_o?,
                        se: standard_error(c.p_o_sd, c.seeds),
                    })
                },
            ));
            if let Some(curve) = &curve {
                for m in methods.iter_mut().filter(|m| m.role == Role::Method) {
                    let c = m.on_curve_seeds;
                    if let (Some(p_s), Some(p_o)) = (c.p_s, c.p_o) {
                        let se = standard_error(c.p_o_sd, c.seeds);
                        m.frontier = Some(Frontier::of(curve, p_s, p_o, se));
                    }
                }
            }
            settings.push(Setting {
                scenario: scenario.clone(),
                scale: scale.clone(),
                name,
                kind: members[0].record.kind.clone(),
                stages: members
                    .iter()
                    .map(|r| r.record.matrix.len())
                    .max()
                    .unwrap_or(0),
                searched: searched.contains(FORGET, scenario),
                methods,
                curve,
            });
        }
        // Held-out settings first, then the searched ones; by name within each.
        settings.sort_by(|a, b| (a.searched, &a.name).cmp(&(b.searched, &b.name)));
        let flat_rates: BTreeSet<u64> = runs
            .runs
            .iter()
            .filter(|r| r.record.method == FLAT)
            .filter_map(|r| r.record.distribution.rates.first().copied())
            .map(f64::to_bits)
            .collect();
        Ok(Evaluation {
            runs,
            rows,
            settings,
            a1_mismatch,
            flat_rates: flat_rates.into_iter().map(f64::from_bits).collect(),
        })
    }

    /// The settings where something besides flat ran; [`ONLY_FLAT`] when there are none.
    pub(crate) fn compared(&self, what: &str) -> Result<Vec<&Setting>> {
        let settings: Vec<&Setting> = self.settings.iter().filter(|s| s.compared()).collect();
        if settings.is_empty() {
            return Err(MissingInput::error(what, ONLY_FLAT));
        }
        Ok(settings)
    }

    fn searched_names(&self) -> Vec<&str> {
        self.settings
            .iter()
            .filter(|s| s.searched)
            .map(|s| s.name.as_str())
            .collect()
    }

    fn flat_rate_text(&self) -> String {
        match self.flat_rates.as_slice() {
            [] => "the calibrated rate".to_string(),
            rates => {
                let rates: Vec<String> = rates.iter().map(|r| format!("{r:e}")).collect();
                format!("the calibrated rate, {} in these records", rates.join(", "))
            }
        }
    }

    /// Footer lines every forget-scale table shares: the source, which settings were
    /// searched, and any seed whose methods did not share a1.
    fn footer(&self) -> Vec<String> {
        let searched = self.searched_names();
        let mut lines = vec![
            format!("Source: {}.", self.runs.provenance()),
            format!(
                "Settings: the scenarios of scale {FORGET}; searched: those a study in \
                 results/search/forget (or an input of results/combined/forget.json) ran on \
                 ({}), held-out: all others.",
                if searched.is_empty() {
                    "none".to_string()
                } else {
                    searched.join(", ")
                }
            ),
        ];
        if !self.a1_mismatch.is_empty() {
            lines.push(format!(
                "**Warning**: the methods of {} do not share a1, so these runs were not \
                 stage-2-only and Δp_o is not a difference in forgetting there.",
                self.a1_mismatch.join(", ")
            ));
        }
        lines
    }
}

/// Seeds of `runs` (one setting) whose records have different a1.
fn a1_differs(runs: &[&Run]) -> Vec<u64> {
    let mut by_seed: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for run in runs {
        if let Some(a1) = run.record.a1 {
            let e = by_seed.entry(run.record.seed).or_insert((a1, a1));
            *e = (e.0.min(a1), e.1.max(a1));
        }
    }
    by_seed
        .into_iter()
        .filter(|(_, (lo, hi))| hi - lo > TIE)
        .map(|(seed, _)| seed)
        .collect()
}

/// The standard error of a mean over `n` seeds with sample sd `sd`; `None` below two.
fn standard_error(sd: Option<f64>, n: usize) -> Option<f64> {
    sd.filter(|s| s.is_finite() && n >= 2)
        .map(|s| s / (n as f64).sqrt())
}

/// The rate column of a curve point: `flat@2e-5` → `2e-5`, flat → its records' rate.
fn rate_cell(m: &MethodRow, flat_rates: &[f64]) -> String {
    match m.role {
        Role::Frontier(rate) => format!("{rate:e}"),
        Role::Reference if flat_rates.len() == 1 => format!("{:e}", flat_rates[0]),
        _ => String::new(),
    }
}

/// A share for Markdown, as a percentage.
fn md_share(m: &MethodRow) -> String {
    match (m.role, m.share) {
        (Role::Reference, _) => "ref.".to_string(),
        (_, Some(share)) => format!("{:+.0}%", share * 100.0),
        (_, None) if m.share_pairs == 0 => "no flat pair".to_string(),
        (_, None) => "— (flat does not forget)".to_string(),
    }
}

/// `forget`: every forget-scale setting and method.
pub(crate) fn forget_table(results: &Path) -> Result<Table> {
    let what = "table forget";
    let eval = Evaluation::load(results, what)?;
    let settings = eval.compared(what)?;
    let mut table = Table {
        title: "The forget scale: per setting and method (mean ± sd over seeds; share of flat's \
                forgetting removed; Δ to flat, paired by seed)"
            .to_string(),
        ..Table::default()
    };
    table.md_header = [
        "setting",
        "set",
        "method",
        "seeds",
        "a1",
        "p_s",
        "p_o",
        "forgetting",
        "share of flat's forgetting removed",
        "Δp_s vs flat",
        "Δp_o vs flat",
        "Δ(p_o+p_s) vs flat",
    ]
    .map(String::from)
    .to_vec();
    let mut csv_header: Vec<String> = [
        "setting", "kind", "set", "scale", "method", "role", "rate", "seeds",
    ]
    .map(String::from)
    .to_vec();
    for m in METRICS {
        csv_header.push(format!("{m}_mean"));
        csv_header.push(format!("{m}_sd"));
    }
    csv_header.extend(["share_removed", "share_pairs"].map(String::from));
    for m in ["p_s", "p_o", "objective"] {
        for suffix in ["mean", "sd", "n", "t", "p"] {
            csv_header.push(format!("d_{m}_{suffix}"));
        }
    }
    table.csv_header = csv_header;
    let rows = &eval.rows;
    for setting in &settings {
        for m in &setting.methods {
            let i = m.row;
            let cell = |k: usize| md_mean_sd(rows.mean(i, k), rows.sd(i, k));
            table.md_rows.push(vec![
                setting.name.clone(),
                setting.set().to_string(),
                m.method.clone(),
                m.seeds.to_string(),
                cell(A1),
                cell(P_S),
                cell(P_O),
                cell(FORGETTING),
                md_share(m),
                rows.delta(i, P_S).markdown(),
                rows.delta(i, P_O).markdown(),
                rows.delta(i, OBJECTIVE).markdown(),
            ]);
            let mut csv = vec![
                setting.scenario.clone(),
                setting.kind.clone(),
                setting.set().to_string(),
                setting.scale.clone(),
                m.method.clone(),
                m.role.name().to_string(),
                rate_cell(m, &eval.flat_rates),
                m.seeds.to_string(),
            ];
            for k in 0..METRICS.len() {
                csv.push(csv_num(rows.mean(i, k)));
                csv.push(csv_num(rows.sd(i, k)));
            }
            csv.push(csv_num(m.share));
            csv.push(if m.role == Role::Reference {
                String::new()
            } else {
                m.share_pairs.to_string()
            });
            for k in [P_S, P_O, OBJECTIVE] {
                csv.extend(rows.delta(i, k).csv());
            }
            table.csv_rows.push(csv);
        }
    }
    table.footer = eval.footer();
    table.footer.push(format!(
        "flat: {}; flat@<rate>: flat at that rate in stage B (the points of the flat \
         frontier, table frontier). forgetting = a1 − p_o. Share of flat's forgetting \
         removed = Σ_seeds (p_o(method) − p_o(flat)) / Σ_seeds (a1 − p_o(flat)) over the seeds \
         both ran (the mean Δp_o over flat's mean forgetting; 100% = none left, negative = \
         more than flat; none where flat's mean forgetting is not positive). Δ = method − \
         {FLAT}, paired by seed; p: two-sided paired t-test with n − 1 degrees of freedom, no \
         test below n = 2. With a1 shared within a seed, Δp_o = −Δforgetting. Scores are \
         validation scores of each task's primary metric (docs/METHOD.md, \"Evaluation at the \
         forget scale\").",
        eval.flat_rate_text()
    ));
    Ok(table)
}

/// The `subset` of a `forget-summary` row: every held-out setting, or those where flat
/// forgets ([`flat_forgets`]).
const ALL_HELD_OUT: &str = "all";
const FLAT_FORGETS: &str = "flat forgets";

/// method -> (setting, method row) of each setting of `block` where the method has at
/// least two seeds paired with flat (a paired test is possible).
fn by_method<'a>(
    block: &[&'a Setting],
    rows: &Rows,
) -> BTreeMap<MethodKey, Vec<(&'a Setting, &'a MethodRow)>> {
    let mut groups: BTreeMap<MethodKey, Vec<(&Setting, &MethodRow)>> = BTreeMap::new();
    for setting in block.iter().copied() {
        for m in setting.methods.iter().filter(|m| m.role == Role::Method) {
            if let Delta::Paired { test, .. } = rows.delta(m.row, P_O) {
                if test.n() >= 2 {
                    groups
                        .entry(method_order(&m.method))
                        .or_default()
                        .push((setting, m));
                }
            }
        }
    }
    groups
}

/// `forget-summary`: each method against flat across the held-out settings, and across
/// those of them where flat forgets.
pub(crate) fn summary_table(results: &Path) -> Result<Table> {
    let what = "table forget-summary";
    let eval = Evaluation::load(results, what)?;
    let held_out: Vec<&Setting> = eval
        .compared(what)?
        .into_iter()
        .filter(|s| !s.searched)
        .collect();
    let rows = &eval.rows;
    // The held-out settings where flat forgets, by the regime criterion's bar on its own
    // runs there (its mean a1 − p_o; docs/METHOD.md, "The forget scale").
    let forgets: Vec<&Setting> = held_out
        .iter()
        .copied()
        .filter(|s| {
            s.methods
                .iter()
                .find(|m| m.role == Role::Reference)
                .and_then(|flat| rows.mean(flat.row, FORGETTING))
                .is_some_and(flat_forgets)
        })
        .collect();
    let blocks = [
        (ALL_HELD_OUT, by_method(&held_out, rows)),
        (FLAT_FORGETS, by_method(&forgets, rows)),
    ];
    if blocks[0].1.is_empty() {
        return Err(MissingInput::error(
            what,
            format!(
                "no method other than {FLAT} with two or more seeds paired with {FLAT} on a \
                 held-out setting at scale {FORGET}"
            ),
        ));
    }
    let mut table = Table {
        title: format!(
            "Each method vs {FLAT} across the held-out settings of the forget scale (one value \
             per setting: the mean over its seeds)"
        ),
        ..Table::default()
    };
    let counted = |label: &str| {
        [
            format!("mean {label}"),
            format!("{label} better / worse (p < {ALPHA})"),
            format!("{label} sign test p"),
        ]
    };
    let mut md_header: Vec<String> = ["held-out settings", "method", "settings", "seeds"]
        .map(String::from)
        .to_vec();
    md_header.extend(counted("Δp_o"));
    md_header.push("mean Δp_s".into());
    md_header.extend(counted("Δ(p_o+p_s)"));
    md_header.extend(
        [
            "mean share of flat's forgetting removed",
            "mean gain over the flat frontier",
            "frontier above / on / below (no claim)",
            "frontier sign test p",
            "settings where a flat rate beats it in both",
        ]
        .map(String::from),
    );
    table.md_header = md_header;
    let mut csv_header: Vec<String> = [
        "subset",
        "method",
        "settings",
        "seeds_min",
        "seeds_max",
        "scenarios",
    ]
    .map(String::from)
    .to_vec();
    for m in ["p_o", "p_s", "objective"] {
        for suffix in [
            "mean",
            "better",
            "worse",
            "sig_better",
            "sig_worse",
            "sign_p",
        ] {
            csv_header.push(format!("d_{m}_{suffix}"));
        }
    }
    csv_header.extend(
        [
            "share_removed_mean",
            "share_removed_settings",
            "frontier_gain_mean",
            "frontier_above",
            "frontier_on",
            "frontier_below",
            "frontier_outside",
            "frontier_no_curve",
            "frontier_sign_p",
            "beaten_by_flat",
        ]
        .map(String::from),
    );
    table.csv_header = csv_header;

    for (subset, members) in blocks
        .iter()
        .flat_map(|(subset, groups)| groups.values().map(move |m| (*subset, m)))
    {
        let method = members[0].1.method.clone();
        let seeds: Vec<usize> = members
            .iter()
            .map(|(_, m)| rows.delta(m.row, P_O))
            .filter_map(|d| match d {
                Delta::Paired { test, .. } => Some(test.n()),
                _ => None,
            })
            .collect();
        let (lo, hi) = (
            seeds.iter().copied().min().unwrap_or(0),
            seeds.iter().copied().max().unwrap_or(0),
        );
        let tally = |k: usize| Tally::of(members.iter().map(|(_, m)| rows.delta(m.row, k)));
        let (p_o, p_s, objective) = (tally(P_O), tally(P_S), tally(OBJECTIVE));
        let shares: Vec<f64> = members.iter().filter_map(|(_, m)| m.share).collect();
        let share_mean = mean(&shares);
        let frontier = Tally::of_values(
            members
                .iter()
                .filter_map(|(_, m)| m.frontier.as_ref()?.gain())
                .map(|gain| (gain, None)),
        );
        // Beaten in both outside the span: below the frontier, with no gain to average.
        let dominated = members
            .iter()
            .filter(|(_, m)| matches!(m.frontier, Some(Frontier::Dominated(_))))
            .count();
        let frontier = frontier.with_worse(dominated);
        let outside = members
            .iter()
            .filter(|(_, m)| matches!(m.frontier, Some(Frontier::Outside(_))))
            .count();
        let on = members
            .iter()
            .filter(|(_, m)| m.frontier.is_some_and(|f| f.position() == "on"))
            .count();
        let no_curve = members.iter().filter(|(_, m)| m.frontier.is_none()).count();
        let beaten = members
            .iter()
            .filter(|(_, m)| !m.beaten_by.is_empty())
            .count();
        let [p_o_mean, p_o_counts, p_o_sign] = p_o.markdown();
        let [obj_mean, obj_counts, obj_sign] = objective.markdown();
        let seeds_md = if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}-{hi}")
        };
        table.md_rows.push(vec![
            subset.to_string(),
            method.clone(),
            members.len().to_string(),
            seeds_md,
            p_o_mean,
            p_o_counts,
            p_o_sign,
            p_s.mean.map_or("—".to_string(), md_delta),
            obj_mean,
            obj_counts,
            obj_sign,
            share_mean.map_or("—".to_string(), |s| {
                let n = shares.len();
                format!(
                    "{:+.0}% ({n} setting{})",
                    s * 100.0,
                    if n == 1 { "" } else { "s" }
                )
            }),
            frontier.mean.map_or("—".to_string(), md_delta),
            format!(
                "{} / {on} / {} ({})",
                frontier.better,
                frontier.worse,
                outside + no_curve
            ),
            frontier.sign_p.map_or("—".to_string(), md_p),
            beaten.to_string(),
        ]);
        let scenarios: Vec<&str> = members.iter().map(|(s, _)| s.name.as_str()).collect();
        let mut csv = vec![
            subset.to_string(),
            method,
            members.len().to_string(),
            lo.to_string(),
            hi.to_string(),
            scenarios.join(";"),
        ];
        csv.extend(p_o.csv());
        csv.extend(p_s.csv());
        csv.extend(objective.csv());
        let [gain_mean, above, below, _, _, gain_sign] = frontier.csv();
        csv.extend([
            csv_num(share_mean),
            shares.len().to_string(),
            gain_mean,
            above,
            on.to_string(),
            below,
            outside.to_string(),
            no_curve.to_string(),
            gain_sign,
            beaten.to_string(),
        ]);
        table.csv_rows.push(csv);
    }
    table.footer = eval.footer();
    let held: Vec<&str> = held_out.iter().map(|s| s.name.as_str()).collect();
    let forgetting: Vec<&str> = forgets.iter().map(|s| s.name.as_str()).collect();
    table.footer.push(format!(
        "Held-out settings only ({}); the searched ones are left out. A setting counts for a \
         method when at least two seeds pair with {FLAT}. Rows `{ALL_HELD_OUT}` count every \
         held-out setting; rows `{FLAT_FORGETS}` only those where {FLAT}'s mean forgetting \
         a1 − p_o there is at least {FORGETS} (the regime criterion's bar; {}), the settings \
         where there is forgetting to remove.",
        held.join(", "),
        if forgetting.is_empty() {
            "none yet".to_string()
        } else {
            forgetting.join(", ")
        }
    ));
    table.footer.push(format!(
        "Per setting, Δ = mean over seeds of (method − {FLAT}), as in table forget. better / \
         worse: settings with Δ > 0 / Δ < 0 (|Δ| < {TIE:e} counts as neither); in brackets \
         those of them whose paired t-test has p < {ALPHA}, uncorrected for the number of \
         settings. mean: the unweighted mean over settings. sign test: two-sided exact \
         binomial test of better vs worse at probability 1/2, ties left out (as table \
         unseen). Share removed: as in table forget, averaged over the settings where flat \
         forgets. Frontier: the method's mean p_o minus the flat curve's p_o at its mean p_s \
         (table frontier); above / on / below count the settings with a positive / zero \
         (|gain| < {TIE:e}) / negative gain, and below also those where its p_s lies \
         outside the curve's span and a flat point beats it in both p_s and p_o (no gain \
         figure there, so not in the mean); no claim: outside the span and not beaten, or \
         no flat curve; the sign test is on above vs below. Beaten in both: the settings where some flat point's mean p_s and p_o are \
         both at least the method's, one higher (table frontier)."
    ));
    Ok(table)
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// `frontier`: every setting's flat curve and each method's gain over it.
pub(crate) fn frontier_table(results: &Path) -> Result<Table> {
    let what = "table frontier";
    let eval = Evaluation::load(results, what)?;
    let with_curve: Vec<&Setting> = eval.settings.iter().filter(|s| s.curve.is_some()).collect();
    if with_curve.is_empty() {
        return Err(MissingInput::error(
            what,
            format!(
                "no setting at scale {FORGET} has flat points at two rates or more ({FLAT} and \
                 flat@<rate>)"
            ),
        ));
    }
    let mut table = Table {
        title: "The flat frontier: per setting, flat at several stage-B rates and every method's \
                p_o gain over that curve at its own p_s (means over seeds)"
            .to_string(),
        ..Table::default()
    };
    table.md_header = [
        "setting",
        "set",
        "method",
        "seeds",
        "p_s",
        "p_o",
        "flat curve p_o at p_s",
        "gain over the flat curve",
        "position",
        "beaten in both p_s and p_o by",
    ]
    .map(String::from)
    .to_vec();
    table.csv_header = [
        "setting",
        "kind",
        "set",
        "scale",
        "method",
        "role",
        "rate",
        "seeds",
        "p_s_mean",
        "p_s_sd",
        "p_o_mean",
        "p_o_sd",
        "curve_p_s_min",
        "curve_p_s_max",
        "curve_p_o",
        "gain",
        "gain_se",
        "position",
        "beaten_by",
    ]
    .map(String::from)
    .to_vec();
    for setting in &with_curve {
        let curve = setting.curve.as_ref().expect("filtered on a curve");
        let (lo, hi) = curve.span();
        // The curve's points by p_s, then the methods.
        let mut points: Vec<&MethodRow> = setting.curve_points().collect();
        points.sort_by(|a, b| {
            let key = |m: &MethodRow| m.on_curve_seeds.p_s.unwrap_or(f64::INFINITY);
            key(a).total_cmp(&key(b))
        });
        let methods = setting.methods.iter().filter(|m| !m.role.on_curve());
        for m in points.into_iter().chain(methods) {
            let (curve_p_o, gain, se, position) = match (m.role.on_curve(), m.frontier) {
                (true, _) => {
                    let position = match m.beaten_by.is_empty() {
                        true => "curve point",
                        false => "off the curve (another flat rate beats it in both)",
                    };
                    (None, None, None, position.to_string())
                }
                (
                    false,
                    Some(Frontier::Gain {
                        curve_p_o,
                        gain,
                        se,
                    }),
                ) => (
                    Some(curve_p_o),
                    Some(gain),
                    se,
                    m.frontier
                        .map_or(String::new(), |f| f.position().to_string()),
                ),
                (false, Some(f)) => (None, None, None, f.position().to_string()),
                (false, None) => (None, None, None, "no p_s or p_o".to_string()),
            };
            // flat is named with its rate, as the flat@<rate> points are.
            let rate = rate_cell(m, &eval.flat_rates);
            let method = if m.role == Role::Reference && !rate.is_empty() {
                format!("{} ({rate})", m.method)
            } else {
                m.method.clone()
            };
            let c = &m.on_curve_seeds;
            table.md_rows.push(vec![
                setting.name.clone(),
                setting.set().to_string(),
                method,
                c.seeds.to_string(),
                md_mean_sd(c.p_s, c.p_s_sd),
                md_mean_sd(c.p_o, c.p_o_sd),
                md_num(curve_p_o),
                match (gain, se) {
                    (Some(g), Some(s)) => format!("{} ± {s:.4}", md_delta(g)),
                    (Some(g), None) => md_delta(g),
                    _ => "—".to_string(),
                },
                position.clone(),
                match m.beaten_by.is_empty() {
                    true => "—".to_string(),
                    false => m.beaten_by.join(", "),
                },
            ]);
            table.csv_rows.push(vec![
                setting.scenario.clone(),
                setting.kind.clone(),
                setting.set().to_string(),
                setting.scale.clone(),
                m.method.clone(),
                m.role.name().to_string(),
                rate_cell(m, &eval.flat_rates),
                c.seeds.to_string(),
                csv_num(c.p_s),
                csv_num(c.p_s_sd),
                csv_num(c.p_o),
                csv_num(c.p_o_sd),
                csv_num(Some(lo)),
                csv_num(Some(hi)),
                csv_num(curve_p_o),
                csv_num(gain),
                csv_num(se),
                position,
                m.beaten_by.join(";"),
            ]);
        }
    }
    table.footer = eval.footer();
    let without: Vec<&str> = eval
        .settings
        .iter()
        .filter(|s| s.curve.is_none() && s.compared())
        .map(|s| s.name.as_str())
        .collect();
    if !without.is_empty() {
        table.footer.push(format!(
            "No flat curve yet (flat points at fewer than two rates): {}.",
            without.join(", ")
        ));
    }
    table.footer.push(format!(
        "Flat curve: {FLAT} ({}) and flat@<rate> (flat at that rate in stage B), each at its \
         mean (p_s, p_o) over the curve's seeds, those every flat point ran; every method is \
         placed by its means over the same seeds (seeds the seed rule added to a method and \
         to flat are left out here, docs/METHOD.md \"Seeds\"; column seeds counts those \
         used). Points ordered by p_s, p_o interpolated linearly between \
         neighbours (equal p_s: the mean p_o), through only the flat points no other flat \
         point beats in both p_s and p_o (the others are off the curve: no rate would be \
         chosen there). Gain = the method's mean p_o − the curve's p_o at the method's mean \
         p_s: above (gain > 0) it keeps more of A than flat at the same learning of B; on or \
         below it the trade is one a flat rate makes. ± is a standard error from the seeds' \
         spread in p_o of the method and of the two neighbouring flat points (p_s taken as \
         exact). Outside the span of the curve's p_s no gain is claimed (no extrapolation), \
         but a method there that a flat point beats in both is below. Beaten in both: the \
         flat points whose mean p_s and p_o are both at least the row's, one of them higher \
         (beyond {TIE:e}). Means over three seeds: a flat point's lead of less than a seed \
         sd can put it on the curve and others off it. docs/METHOD.md, \"The flat frontier\".",
        eval.flat_rate_text()
    ));
    Ok(table)
}

/// The sequence metrics compared per method, as frame columns: (column, label, name in the
/// CSV header).
const SEQUENCE: &[(&str, &str)] = &[
    ("seq_avg_accuracy", "avg acc"),
    ("seq_backward_transfer", "BWT"),
    ("seq_forgetting", "forgetting (a1 − p_o)"),
    ("seq_max_drop_forgetting", "max-drop forgetting"),
];

/// `sequence`: the continual-learning measures of each sequence of three or more tasks.
pub(crate) fn sequence_table(results: &Path) -> Result<Table> {
    let what = "table sequence";
    let eval = Evaluation::load(results, what)?;
    let sequences: Vec<&Setting> = eval.settings.iter().filter(|s| s.stages >= 3).collect();
    let keys: BTreeSet<(&str, &str)> = sequences
        .iter()
        .map(|s| (s.scenario.as_str(), s.scale.as_str()))
        .collect();
    let runs: Vec<&Run> = eval
        .runs
        .runs
        .iter()
        .filter(|r| keys.contains(&(r.record.scenario.as_str(), r.scale_label().as_str())))
        .collect();
    let metrics: Vec<(&Run, SequenceMetrics)> = runs
        .iter()
        .filter_map(|r| Some((*r, SequenceMetrics::from_matrix(&r.record.matrix)?)))
        .collect();
    if metrics.is_empty() {
        return Err(MissingInput::error(
            what,
            format!(
                "no run record at scale {FORGET} of a sequence of three or more tasks with a \
                 complete accuracy matrix"
            ),
        ));
    }
    // The record's own `cl` (written by the train crate) must say the same.
    let disagree: Vec<&str> = metrics
        .iter()
        .filter(|(r, m)| {
            r.record.cl.as_ref().is_some_and(|cl| {
                let off = |stored: f64, ours: f64| (stored - ours).abs() > 1e-9;
                off(cl.avg_accuracy, m.avg_accuracy)
                    || off(cl.backward_transfer, m.backward_transfer)
                    || off(cl.max_drop_forgetting, m.max_drop_forgetting)
            })
        })
        .map(|(r, _)| r.record.id.as_str())
        .collect();
    let text =
        |get: &dyn Fn(&Run) -> String| metrics.iter().map(|(r, _)| get(r)).collect::<Vec<String>>();
    let number = |get: fn(&SequenceMetrics) -> f64| {
        metrics.iter().map(|(_, m)| get(m)).collect::<Vec<f64>>()
    };
    let n = metrics.len();
    let frame = DataFrame::new(
        n,
        vec![
            Column::new("scenario".into(), text(&|r| r.record.scenario.clone())),
            Column::new("method".into(), text(&|r| r.record.method.clone())),
            Column::new("scale".into(), text(&|r| r.scale_label())),
            Column::new(
                "seed".into(),
                metrics
                    .iter()
                    .map(|(r, _)| r.record.seed as i64)
                    .collect::<Vec<i64>>(),
            ),
            Column::new(SEQUENCE[0].0.into(), number(|m| m.avg_accuracy)),
            Column::new(SEQUENCE[1].0.into(), number(|m| m.backward_transfer)),
            Column::new(SEQUENCE[2].0.into(), number(|m| m.forgetting)),
            Column::new(SEQUENCE[3].0.into(), number(|m| m.max_drop_forgetting)),
        ],
    )?;
    let columns: Vec<&str> = SEQUENCE.iter().map(|(c, _)| *c).collect();
    let summary = summarise(&frame, &columns)?;
    let rows = Rows::read(&summary, &columns)?;
    let mut order: Vec<usize> = (0..rows.method.len()).collect();
    let position = |scenario: &str| sequences.iter().position(|s| s.scenario == scenario);
    order.sort_by_key(|&i| {
        (
            position(&rows.scenario[i]),
            rows.scale[i].clone(),
            method_order(&rows.method[i]),
        )
    });

    let mut table = Table {
        title: "The sequences of the forget scale: average accuracy, backward transfer and \
                forgetting after the last task (mean ± sd over seeds; Δ to flat, paired by seed)"
            .to_string(),
        ..Table::default()
    };
    let mut md_header: Vec<String> = ["sequence", "set", "method", "seeds"]
        .map(String::from)
        .to_vec();
    md_header.extend(SEQUENCE.iter().map(|(_, label)| label.to_string()));
    md_header.extend(
        SEQUENCE
            .iter()
            .take(3)
            .map(|(_, label)| format!("Δ{} vs {FLAT}", label.split(" (").next().unwrap_or(label))),
    );
    table.md_header = md_header;
    let names = [
        "avg_accuracy",
        "backward_transfer",
        "forgetting",
        "max_drop_forgetting",
    ];
    let mut csv_header: Vec<String> = ["sequence", "set", "scale", "method", "role", "seeds"]
        .map(String::from)
        .to_vec();
    for name in names {
        csv_header.push(format!("{name}_mean"));
        csv_header.push(format!("{name}_sd"));
    }
    for name in names {
        for suffix in ["mean", "sd", "n", "t", "p"] {
            csv_header.push(format!("d_{name}_{suffix}"));
        }
    }
    table.csv_header = csv_header;
    for i in order {
        let setting = sequences
            .iter()
            .find(|s| s.scenario == rows.scenario[i] && s.scale == rows.scale[i])
            .expect("rows come from the sequences' records");
        let mut md = vec![
            setting.name.clone(),
            setting.set().to_string(),
            rows.method[i].clone(),
            rows.count(i).to_string(),
        ];
        let mut csv = vec![
            setting.scenario.clone(),
            setting.set().to_string(),
            setting.scale.clone(),
            rows.method[i].clone(),
            Role::of(&rows.method[i]).name().to_string(),
            rows.count(i).to_string(),
        ];
        for k in 0..SEQUENCE.len() {
            md.push(md_mean_sd(rows.mean(i, k), rows.sd(i, k)));
            csv.push(csv_num(rows.mean(i, k)));
            csv.push(csv_num(rows.sd(i, k)));
        }
        for k in 0..3 {
            md.push(rows.delta(i, k).markdown());
        }
        for k in 0..SEQUENCE.len() {
            csv.extend(rows.delta(i, k).csv());
        }
        table.md_rows.push(md);
        table.csv_rows.push(csv);
    }
    let mut shown = eval.runs.clone();
    shown.retain(|r| keys.contains(&(r.record.scenario.as_str(), r.scale_label().as_str())));
    table.footer = vec![format!("Source: {}.", shown.provenance())];
    table.footer.push(
        "From each record's accuracy matrix R[i][j] (task j's dev score after stage i; N \
         tasks): avg acc = the mean of the last row, 1/N Σ_j R[N−1][j]; BWT (backward \
         transfer) = 1/(N−1) Σ_{j<N−1} (R[N−1][j] − R[j][j]); forgetting = a1 − p_o = R[0][0] \
         − R[N−1][0], the first task's, as in every table; max-drop forgetting (Chaudhry et \
         al. 2018) = 1/(N−1) Σ_{j<N−1} (max_{j≤l<N−1} R[l][j] − R[N−1][j]), over all earlier \
         tasks from each one's best row. Δ = method − flat, paired by seed, with a two-sided \
         paired t-test (no test below n = 2); the CSV has Δ of all four. docs/METHOD.md, \
         \"Metrics\" and \"Evaluation at the forget scale\"."
            .to_string(),
    );
    if !disagree.is_empty() {
        table.footer.push(format!(
            "**Warning**: the stored continual-learning metrics (`cl`) of {} differ from their \
             accuracy matrix.",
            disagree.join(", ")
        ));
    }
    Ok(table)
}
