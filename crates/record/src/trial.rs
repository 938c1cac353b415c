//! A study's trial rows: one row per trial of a search, as `lrdist search export` writes
//! them to `results/search/<study>.csv` (the forget scale's to
//! `results/search/forget/<setting>.csv`) and `lrdist-analysis` reads them back
//! ([`StudyTrial`], [`write_trials_csv`], [`read_trials_csv`]).
//!
//! Columns: [`TRIAL_CSV_COLUMNS`], then `lr_g0, lr_g1, ...` (one per group, as many as the
//! widest trial). `objective` is p_o + p_s at the highest rung the trial reached
//! (docs/METHOD.md "Search") and `resource` that rung (stage-2 epochs); timestamps are Unix
//! seconds (UTC) with three decimals, rates are in exponent form (`2e-5`), other numbers
//! as Rust prints them (shortest form that reads back the same); a missing value is an
//! empty cell. So a file written here reads back and writes out again byte for byte.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

/// Where a trial is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialState {
    /// Waiting for a worker (a re-queued trial keeps its rates).
    Queued,
    /// Claimed by a worker that heartbeats it.
    Running,
    /// Ran all stage-2 epochs.
    Complete,
    /// Stopped by successive halving at a rung.
    Pruned,
    /// Ended with an error (NaN loss, divergence, ...); `reason` says which.
    Failed,
}

impl TrialState {
    /// The name stored in a store's `state` column and in an export's `state` cell.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialState::Queued => "queued",
            TrialState::Running => "running",
            TrialState::Complete => "complete",
            TrialState::Pruned => "pruned",
            TrialState::Failed => "failed",
        }
    }

    /// Parses a stored or exported `state`.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "queued" => TrialState::Queued,
            "running" => TrialState::Running,
            "complete" => TrialState::Complete,
            "pruned" => TrialState::Pruned,
            "failed" => TrialState::Failed,
            other => bail!(
                "unknown trial state {other:?} (expected queued, running, complete, pruned or \
                 failed)"
            ),
        })
    }

    /// Complete, pruned or failed: the trial will not run again.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TrialState::Complete | TrialState::Pruned | TrialState::Failed
        )
    }
}

/// The columns of a trial export before the learning rates, in order.
pub const TRIAL_CSV_COLUMNS: [&str; 13] = [
    "study",
    "trial",
    "state",
    "resource",
    "a1",
    "p_s",
    "p_o",
    "objective",
    "seconds",
    "worker",
    "started_at",
    "finished_at",
    "reason",
];

/// One trial of a study: one row of its CSV export.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyTrial {
    /// The study's name.
    pub study: String,
    /// The trial's number in its study.
    pub trial: u64,
    pub state: TrialState,
    /// Highest stage-2 epoch count reported to successive halving (the rung reached).
    pub resource: Option<usize>,
    pub a1: Option<f64>,
    pub p_s: Option<f64>,
    pub p_o: Option<f64>,
    /// `p_o + p_s` at the highest rung reached.
    pub objective: Option<f64>,
    /// Wall-clock seconds of the trial's last (successful) run.
    pub seconds: Option<f64>,
    /// The worker that ran it last.
    pub worker: Option<String>,
    /// Unix seconds (UTC).
    pub started_at: Option<f64>,
    /// Unix seconds (UTC).
    pub finished_at: Option<f64>,
    /// Why a trial failed (or was pruned).
    pub reason: Option<String>,
    /// One learning rate per group (`lr_g0, lr_g1, ...`); empty while the trial has none.
    pub rates: Vec<f64>,
}

impl StudyTrial {
    /// Whether the trial ran all its stage-2 epochs.
    pub fn is_complete(&self) -> bool {
        self.state == TrialState::Complete
    }

    /// Whether every group has the same rate (a flat learning rate).
    pub fn is_flat(&self) -> bool {
        !self.rates.is_empty() && self.rates.iter().all(|&r| r == self.rates[0])
    }
}

/// Writes `trials` as CSV, in the given order: [`TRIAL_CSV_COLUMNS`] then `lr_g0, lr_g1,
/// ...` (one per group, as many as the widest trial; a trial with fewer rates leaves the
/// rest empty).
pub fn write_trials_csv(trials: &[StudyTrial], w: impl Write) -> Result<()> {
    let groups = trials.iter().map(|t| t.rates.len()).max().unwrap_or(0);
    let mut out = csv::Writer::from_writer(w);
    let mut header: Vec<String> = TRIAL_CSV_COLUMNS.iter().map(|c| c.to_string()).collect();
    header.extend((0..groups).map(|g| format!("lr_g{g}")));
    out.write_record(&header).context("writing CSV header")?;
    let num = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let time = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.3}"));
    for t in trials {
        let mut rec = vec![
            t.study.clone(),
            t.trial.to_string(),
            t.state.as_str().to_string(),
            t.resource.map_or(String::new(), |r| r.to_string()),
            num(t.a1),
            num(t.p_s),
            num(t.p_o),
            num(t.objective),
            num(t.seconds),
            t.worker.clone().unwrap_or_default(),
            time(t.started_at),
            time(t.finished_at),
            t.reason.clone().unwrap_or_default(),
        ];
        rec.extend((0..groups).map(|g| t.rates.get(g).map_or(String::new(), |r| format!("{r:e}"))));
        out.write_record(&rec)
            .with_context(|| format!("writing CSV row of trial {}", t.trial))?;
    }
    out.flush().context("flushing CSV")?;
    Ok(())
}

/// Reads the trial export at `path`, rows in file order; errors name the file and line.
pub fn read_trials_csv(path: &Path) -> Result<Vec<StudyTrial>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    read_trials(file, &path.display().to_string())
}

/// Reads a trial export from `r`, rows in file order. Columns are found by name (every
/// one of [`TRIAL_CSV_COLUMNS`] must be there; the rates are `lr_g0, lr_g1, ...` up to
/// the first missing one); `source` names the input in errors (`source:line: ...`).
pub fn read_trials(r: impl Read, source: &str) -> Result<Vec<StudyTrial>> {
    let mut reader = csv::Reader::from_reader(r);
    let header = reader
        .headers()
        .with_context(|| format!("reading {source}"))?
        .clone();
    let columns = Columns::new(&header).with_context(|| format!("header of {source}"))?;
    let mut trials = Vec::new();
    for row in reader.records() {
        let row = row.with_context(|| format!("reading {source}"))?;
        let line = row.position().map_or(0, |p| p.line());
        let trial = columns
            .trial(&row)
            .with_context(|| format!("{source}:{line}: malformed trial"))?;
        trials.push(trial);
    }
    Ok(trials)
}

/// Column positions in a trial export: [`TRIAL_CSV_COLUMNS`] in order, then the rates.
struct Columns {
    fixed: [usize; TRIAL_CSV_COLUMNS.len()],
    rates: Vec<usize>,
}

impl Columns {
    fn new(header: &csv::StringRecord) -> Result<Self> {
        let find = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| anyhow!("no column {name:?}"))
        };
        let mut fixed = [0; TRIAL_CSV_COLUMNS.len()];
        for (i, name) in TRIAL_CSV_COLUMNS.iter().enumerate() {
            fixed[i] = find(name)?;
        }
        let mut rates = Vec::new();
        while let Ok(i) = find(&format!("lr_g{}", rates.len())) {
            rates.push(i);
        }
        Ok(Columns { fixed, rates })
    }

    /// The cell of `row` in column `name` of [`TRIAL_CSV_COLUMNS`].
    fn cell<'r>(&self, row: &'r csv::StringRecord, name: &str) -> &'r str {
        let i = TRIAL_CSV_COLUMNS
            .iter()
            .position(|c| *c == name)
            .expect("a column of TRIAL_CSV_COLUMNS");
        row.get(self.fixed[i]).unwrap_or("")
    }

    fn trial(&self, row: &csv::StringRecord) -> Result<StudyTrial> {
        let cell = |name: &str| self.cell(row, name);
        let text = |name: &str| Some(cell(name).to_string()).filter(|s| !s.is_empty());
        let number = |name: &str| parse_number(name, cell(name));
        let mut rates = Vec::new();
        for (g, &i) in self.rates.iter().enumerate() {
            let name = format!("lr_g{g}");
            match parse_number(&name, row.get(i).unwrap_or(""))? {
                Some(rate) if rates.len() == g => rates.push(rate),
                Some(_) => bail!("{name} is set but lr_g{} is empty", rates.len()),
                None => {}
            }
        }
        let trial = cell("trial").trim();
        let resource = cell("resource").trim();
        Ok(StudyTrial {
            study: cell("study").to_string(),
            trial: trial
                .parse()
                .with_context(|| format!("trial number {trial:?}"))?,
            state: TrialState::parse(cell("state").trim())?,
            resource: match resource {
                "" => None,
                r => Some(
                    r.parse()
                        .with_context(|| format!("resource {r:?} is not an epoch count"))?,
                ),
            },
            a1: number("a1")?,
            p_s: number("p_s")?,
            p_o: number("p_o")?,
            objective: number("objective")?,
            seconds: number("seconds")?,
            worker: text("worker"),
            started_at: number("started_at")?,
            finished_at: number("finished_at")?,
            reason: text("reason"),
            rates,
        })
    }
}

/// The number in `cell` of column `name`; `None` when the cell is empty.
fn parse_number(name: &str, cell: &str) -> Result<Option<f64>> {
    let cell = cell.trim();
    if cell.is_empty() {
        return Ok(None);
    }
    cell.parse()
        .map(Some)
        .with_context(|| format!("{name}: not a number: {cell:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(number: u64, state: TrialState) -> StudyTrial {
        StudyTrial {
            study: "st".into(),
            trial: number,
            state,
            resource: Some(2),
            a1: Some(0.9),
            p_s: Some(0.85),
            p_o: Some(0.1 + 0.2),
            objective: Some(1.15),
            seconds: Some(12.5),
            worker: Some("host:1".into()),
            started_at: Some(1_700_000_000.25),
            finished_at: Some(1_700_000_012.75),
            reason: None,
            rates: vec![1e-5, 2.5e-6, 3e-4],
        }
    }

    fn written(trials: &[StudyTrial]) -> String {
        let mut buf = Vec::new();
        write_trials_csv(trials, &mut buf).unwrap();
        String::from_utf8(buf).unwrap()
    }

    /// Every kind of cell reads back as it was written: empty cells, a reason with a comma,
    /// a quote and a line break, a trial without rates, a number with 17 digits.
    #[test]
    fn rows_read_back_as_written() {
        let mut failed = trial(1, TrialState::Failed);
        failed.reason = Some("NaN loss, \"step\" 12\nmore".into());
        (failed.a1, failed.p_s, failed.p_o, failed.objective) = (None, None, None, None);
        let mut queued = trial(2, TrialState::Queued);
        queued.rates.clear();
        (queued.worker, queued.started_at, queued.resource) = (None, None, None);
        let trials = vec![trial(0, TrialState::Complete), failed, queued];
        let text = written(&trials);
        assert!(text.starts_with(
            "study,trial,state,resource,a1,p_s,p_o,objective,seconds,worker,started_at,\
             finished_at,reason,lr_g0,lr_g1,lr_g2\n\
             st,0,complete,2,0.9,0.85,0.30000000000000004,1.15,12.5,host:1,1700000000.250,\
             1700000012.750,,1e-5,2.5e-6,3e-4\n"
        ));
        let back = read_trials(text.as_bytes(), "t.csv").unwrap();
        assert_eq!(back, trials);
        assert_eq!(written(&back), text);
        assert!(back[0].is_complete() && !back[0].is_flat());
    }

    /// A row that does not fit is an error naming the input, its line and the cell.
    #[test]
    fn bad_rows_name_file_line_and_cell() {
        let text = written(&[trial(0, TrialState::Complete), trial(1, TrialState::Pruned)]);
        let err = |text: &str| format!("{:#}", read_trials(text.as_bytes(), "t.csv").unwrap_err());
        let e = err(&text.replace(",pruned,", ",stopped,"));
        assert!(
            e.contains("t.csv:3: malformed trial") && e.contains("\"stopped\""),
            "{e}"
        );
        let e = err(&text.replace(",1e-5,2.5e-6,", ",,2.5e-6,"));
        assert!(e.contains("lr_g1 is set but lr_g0 is empty"), "{e}");
        let e = err(&text.replace("0.85", "0.8x"));
        assert!(e.contains("p_s: not a number: \"0.8x\""), "{e}");
        let e = err(&text.replacen("objective", "value", 1));
        assert!(
            e.contains("header of t.csv: no column \"objective\""),
            "{e}"
        );
    }
}
