//! Each method against flat across the settings no search used: in how many settings it is
//! ahead, in how many significantly, and a sign test across settings. This is the paper's
//! headline claim in one row per method: a combined distribution beats one flat rate on
//! settings it was not searched on ("up to about 5 points on unseen settings",
//! docs/METHOD.md "What the paper and the authors' logs report"; the comparison:
//! "Comparing a method with flat"; REPORT 3.3b).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;

use super::methods::{no_runs, summarise, Delta, Rows};
use crate::inputs::MissingInput;
use crate::runs::{read_runs, to_frame, FLAT};
use crate::stats::sign_test;
use crate::studies::{pair_key, study_names_in, SearchDir};
use crate::table::{csv_num, csv_p, md_delta, md_p, Table};

/// The metrics compared across settings: (column of the run-record frame, label).
const METRICS: &[(&str, &str)] = &[("objective", "p_o+p_s"), ("p_o", "p_o")];

/// A per-setting difference counts as significant below this paired-test p-value.
pub(super) const ALPHA: f64 = 0.05;

/// A per-setting Δ closer to 0 than this is a tie. Scores are sums and differences of
/// fractions like 0.725, so a method whose seeds trade p_o for p_s point for point shows
/// a Δ(p_o + p_s) of about 1e-17, not 0; real differences are far larger (one dev row in
/// 400 is 2.5e-3).
pub(super) const TIE: f64 = crate::measures::TIE;

pub(crate) fn unseen_table(results: &Path) -> Result<Table> {
    let mut runs = read_runs(results)?;
    if runs.runs.is_empty() {
        return Err(MissingInput::error("table unseen", no_runs(results)));
    }
    let searched = Searched::read(results)?;
    let mut excluded: BTreeSet<String> = BTreeSet::new();
    runs.retain(|r| {
        let scenario = &r.record.scenario;
        // The studies of results/search count at every scale (as this table always did);
        // at the forget scale its own studies count too.
        let by_top = searched.contains_top(scenario);
        let by_forget = !by_top && searched.contains(&r.record.scale, scenario);
        if by_top {
            excluded.insert(scenario.clone());
        } else if by_forget {
            excluded.insert(format!("{scenario} ({})", r.record.scale));
        }
        !(by_top || by_forget)
    });
    let columns: Vec<&str> = METRICS.iter().map(|(column, _)| *column).collect();
    let summary = summarise(&to_frame(&runs)?, &columns)?;
    let rows = Rows::read(&summary, &columns)?;

    // (method, scale) -> (summary row, seeds paired with flat) of each of its settings with
    // at least two such seeds (a paired test is possible).
    let mut groups: BTreeMap<(String, String), Vec<(usize, usize)>> = BTreeMap::new();
    for i in 0..rows.method.len() {
        if let Delta::Paired { test, .. } = rows.delta(i, 0) {
            if test.n() >= 2 {
                groups
                    .entry((rows.method[i].clone(), rows.scale[i].clone()))
                    .or_default()
                    .push((i, test.n()));
            }
        }
    }
    if groups.is_empty() {
        return Err(MissingInput::error(
            "table unseen",
            format!(
                "no method other than {FLAT} with two or more seeds paired with {FLAT} on a \
                 setting no search used"
            ),
        ));
    }

    let mut table = Table {
        title: format!(
            "Each method vs {FLAT} across the settings no search used (one Δ per setting: the \
             mean over its seeds)"
        ),
        md_header: md_header(),
        csv_header: csv_header(),
        ..Table::default()
    };
    for ((method, scale), members) in &groups {
        let lo = members.iter().map(|&(_, n)| n).min().unwrap_or(0);
        let hi = members.iter().map(|&(_, n)| n).max().unwrap_or(0);
        let seeds_md = if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}-{hi}")
        };
        let tallies: Vec<Tally> = (0..METRICS.len())
            .map(|m| Tally::of(members.iter().map(|&(i, _)| rows.delta(i, m))))
            .collect();
        let scenarios: Vec<&str> = members
            .iter()
            .map(|&(i, _)| rows.scenario[i].as_str())
            .collect();

        let mut md = vec![
            method.clone(),
            scale.clone(),
            members.len().to_string(),
            seeds_md,
        ];
        let mut csv = vec![
            method.clone(),
            scale.clone(),
            members.len().to_string(),
            lo.to_string(),
            hi.to_string(),
            scenarios.join(";"),
        ];
        for tally in &tallies {
            md.extend(tally.markdown());
            csv.extend(tally.csv());
        }
        table.md_rows.push(md);
        table.csv_rows.push(csv);
    }
    let excluded: Vec<&str> = excluded.iter().map(String::as_str).collect();
    table.footer = vec![
        format!("Source: {}.", runs.provenance()),
        format!(
            "Settings: every scenario of those records except the searched ones (a scenario \
             whose name matches a study in results/search; left out here: {}). A setting \
             counts for a method when at least two seeds pair with {FLAT}.",
            if excluded.is_empty() {
                "none".to_string()
            } else {
                excluded.join(", ")
            }
        ),
        format!(
            "Per setting, Δ = mean over seeds of (method − {FLAT}), as in table main. \
             better / worse: settings with Δ > 0 / Δ < 0 (|Δ| < {TIE:e}, floating-point \
             noise, counts as neither); in \
             brackets those of them whose paired t-test in table main has p < {ALPHA}, \
             uncorrected for the number of settings. mean Δ: the unweighted mean over \
             settings (the scores differ by task: accuracy, Matthews correlation, Pearson \
             correlation). sign test: two-sided exact binomial test of better vs worse at \
             probability 1/2, ties left out."
        ),
    ];
    if groups
        .keys()
        .any(|(_, scale)| SearchDir::of_scale(scale) == SearchDir::Forget)
    {
        table.footer.push(
            "At the forget scale the settings of the studies in results/search/forget (and of \
             the inputs of results/combined/forget.json) are left out too, marked (forget); \
             table forget-summary compares the forget scale's methods on the settings none \
             of those studies used, whatever results/search holds."
                .to_string(),
        );
    }
    Ok(table)
}

/// The studies each scale's searches ran: a scenario of scale `forget` is searched when
/// its name matches a study in `results/search/forget` (or an input of the forget scale's
/// combination), a scenario of any other scale when it matches one in `results/search`;
/// `sst2->mrpc` matches the study `sst2_mrpc` (both reduce to `sst2mrpc`). (docs/METHOD.md,
/// "Comparing a method with flat" and "Evaluation at the forget scale".)
pub(crate) struct Searched {
    top: BTreeSet<String>,
    forget: BTreeSet<String>,
}

impl Searched {
    pub(crate) fn read(results: &Path) -> Result<Self> {
        let keys = |dir| -> Result<BTreeSet<String>> {
            Ok(study_names_in(results, dir)?
                .iter()
                .map(|s| pair_key(s))
                .collect())
        };
        let mut forget = keys(SearchDir::Forget)?;
        if let Some(combined) =
            crate::combined::read_combined_of(results, crate::combined::FORGET_COMBINED)?
        {
            forget.extend(combined.per_input.iter().filter_map(|(input, _)| {
                Path::new(input)
                    .file_stem()
                    .map(|s| pair_key(&s.to_string_lossy()))
            }));
        }
        Ok(Searched {
            top: keys(SearchDir::Top)?,
            forget,
        })
    }

    /// Whether a search of scale `scale` (a scale name) ran on `scenario`.
    pub(crate) fn contains(&self, scale: &str, scenario: &str) -> bool {
        let keys = match SearchDir::of_scale(scale) {
            SearchDir::Top => &self.top,
            SearchDir::Forget => &self.forget,
        };
        keys.contains(&pair_key(scenario))
    }

    /// Whether a study of `results/search` ran on `scenario`.
    fn contains_top(&self, scenario: &str) -> bool {
        self.top.contains(&pair_key(scenario))
    }
}

/// One metric's per-setting differences, counted.
pub(super) struct Tally {
    pub(super) mean: Option<f64>,
    pub(super) better: usize,
    pub(super) worse: usize,
    significantly_better: usize,
    significantly_worse: usize,
    pub(super) sign_p: Option<f64>,
}

impl Tally {
    /// The paired differences of a method's settings (settings without one left out).
    pub(super) fn of(deltas: impl Iterator<Item = Delta>) -> Self {
        Self::of_values(deltas.filter_map(|delta| match delta {
            Delta::Paired { mean, test, .. } => Some((mean, test.p())),
            _ => None,
        }))
    }

    /// Per setting a difference and, where there is one, its test's p-value.
    pub(super) fn of_values(values: impl Iterator<Item = (f64, Option<f64>)>) -> Self {
        let mut means = Vec::new();
        let (mut better, mut worse, mut sig_better, mut sig_worse) = (0, 0, 0, 0);
        for (mean, p) in values {
            means.push(mean);
            let significant = p.is_some_and(|p| p < ALPHA);
            if mean > TIE {
                better += 1;
                sig_better += usize::from(significant);
            } else if mean < -TIE {
                worse += 1;
                sig_worse += usize::from(significant);
            }
        }
        Tally {
            mean: (!means.is_empty()).then(|| means.iter().sum::<f64>() / means.len() as f64),
            better,
            worse,
            significantly_better: sig_better,
            significantly_worse: sig_worse,
            sign_p: sign_test(better, worse),
        }
    }

    /// The tally with `extra` more settings worse, without a value to add to the mean (a
    /// method a flat point beats in both outside the flat curve's span,
    /// [`crate::measures::Frontier::Dominated`]); the sign test counts them.
    pub(super) fn with_worse(mut self, extra: usize) -> Self {
        self.worse += extra;
        self.sign_p = sign_test(self.better, self.worse);
        self
    }

    /// mean Δ, "better / worse (significant better / worse)", sign test p.
    pub(super) fn markdown(&self) -> [String; 3] {
        [
            self.mean.map_or("—".to_string(), md_delta),
            format!(
                "{} / {} ({} / {})",
                self.better, self.worse, self.significantly_better, self.significantly_worse
            ),
            self.sign_p.map_or("—".to_string(), md_p),
        ]
    }

    /// mean, better, worse, significantly better, significantly worse, sign test p.
    pub(super) fn csv(&self) -> [String; 6] {
        [
            csv_num(self.mean),
            self.better.to_string(),
            self.worse.to_string(),
            self.significantly_better.to_string(),
            self.significantly_worse.to_string(),
            csv_p(self.sign_p),
        ]
    }
}

fn md_header() -> Vec<String> {
    let mut header: Vec<String> = ["method", "scale", "settings", "seeds"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (_, label) in METRICS {
        let delta = if label.contains('+') {
            format!("Δ({label})")
        } else {
            format!("Δ{label}")
        };
        header.push(format!("mean {delta}"));
        header.push(format!("{delta} better / worse (p < {ALPHA})"));
        header.push(format!("{delta} sign test p"));
    }
    header
}

fn csv_header() -> Vec<String> {
    let mut header: Vec<String> = [
        "method",
        "scale",
        "settings",
        "seeds_min",
        "seeds_max",
        "scenarios",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (column, _) in METRICS {
        for suffix in [
            "mean",
            "better",
            "worse",
            "sig_better",
            "sig_worse",
            "sign_p",
        ] {
            header.push(format!("d_{column}_{suffix}"));
        }
    }
    header
}
