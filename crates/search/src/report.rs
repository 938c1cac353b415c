//! Seeing a study: the events a worker reports and their live lines, the trials table of
//! `lrdist search status`, the CSV of `lrdist search export`, and the study summary (best
//! trial, Pareto front).

use std::fmt::Write as _;
use std::io::Write;

use anyhow::Result;
use lrdist_record::StudyTrial;
use lrdist_train::Decision;
use serde::{Deserialize, Serialize};

use crate::objective::RungReport;
use crate::pareto::{hypervolume_2d, pareto_front};
use crate::store::{TrialRow, TrialState};

/// What a worker tells its caller as it goes (`worker::run_worker`), one line each with
/// [`live_line`].
#[derive(Clone, Debug, PartialEq)]
pub enum SearchEvent {
    /// Running trials whose worker stopped heartbeating were put back in the queue.
    Requeued { numbers: Vec<u64> },
    /// This worker starts a trial.
    Started {
        number: u64,
        rates: Vec<f64>,
        sampled_by: String,
    },
    /// A trial reported after a stage-2 epoch; `rung` tells whether successive halving
    /// decided there (else the decision is always to continue).
    Rung {
        number: u64,
        report: RungReport,
        value: f64,
        rung: bool,
        decision: Decision,
    },
    /// A trial of this worker ended; `summary` covers the whole study at that moment, which
    /// will have `n_trials` trials.
    Finished {
        trial: Box<TrialRow>,
        summary: StudySummary,
        n_trials: u64,
    },
    /// A trial of this worker was re-queued by another worker (missed heartbeats); its
    /// result was dropped.
    Lost { number: u64 },
    /// Nothing to claim; these trials of other workers still run.
    Waiting { running: Vec<u64> },
}

/// The state of a study at a glance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StudySummary {
    pub queued: usize,
    pub running: usize,
    pub complete: usize,
    pub pruned: usize,
    pub failed: usize,
    /// The complete trial with the highest objective (`p_o + p_s`): `(number, objective)`.
    pub best: Option<(u64, f64)>,
    /// Numbers of the complete trials on the Pareto front over `(p_s, p_o)`.
    pub front: Vec<u64>,
    /// Area dominated by that front, reference point `(0, 0)`.
    pub hypervolume: f64,
}

/// Summarises `trials`. Best trial and Pareto front are taken over complete trials only:
/// a pruned trial's scores are from fewer stage-2 epochs, so not comparable.
pub fn summarize(trials: &[TrialRow]) -> StudySummary {
    let mut s = StudySummary::default();
    for t in trials {
        *match t.state {
            TrialState::Queued => &mut s.queued,
            TrialState::Running => &mut s.running,
            TrialState::Complete => &mut s.complete,
            TrialState::Pruned => &mut s.pruned,
            TrialState::Failed => &mut s.failed,
        } += 1;
    }
    let complete: Vec<(u64, f64, f64, f64)> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| Some((t.number, t.objective?, t.p_s?, t.p_o?)))
        .collect();
    s.best = complete
        .iter()
        .map(|c| (c.0, c.1))
        .reduce(|a, b| if b.1 > a.1 { b } else { a });
    let points: Vec<(f64, f64)> = complete.iter().map(|c| (c.2, c.3)).collect();
    let front = pareto_front(&points);
    s.hypervolume = hypervolume_2d(
        &front.iter().map(|&i| points[i]).collect::<Vec<_>>(),
        (0.0, 0.0),
    );
    s.front = front.iter().map(|&i| complete[i].0).collect();
    s
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.4}"))
}

fn numbers(ns: &[u64]) -> String {
    ns.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}

/// One line for a worker event (`None` for none); trial ends carry the best trial so far
/// and the Pareto front.
pub fn live_line(event: &SearchEvent) -> Option<String> {
    Some(match event {
        SearchEvent::Requeued { numbers: ns } => {
            format!(
                "re-queued trials {} (their worker stopped heartbeating)",
                numbers(ns)
            )
        }
        SearchEvent::Started {
            number,
            rates,
            sampled_by,
        } => {
            let lrs: Vec<String> = rates.iter().map(|r| format!("{r:.2e}")).collect();
            format!(
                "trial {number} started ({sampled_by}): lr [{}]",
                lrs.join(", ")
            )
        }
        SearchEvent::Rung {
            number,
            report,
            value,
            rung,
            decision,
        } => {
            let mut line = format!(
                "trial {number} rung {} p_s {:.4} p_o {:.4} objective {value:.4}",
                report.resource, report.p_s, report.p_o
            );
            if *rung {
                line += match decision {
                    Decision::Continue => " -> continue",
                    Decision::Stop => " -> stop",
                };
            }
            line
        }
        SearchEvent::Finished {
            trial: t,
            summary,
            n_trials,
        } => {
            let mut line = format!(
                "trial {} {} rung {} p_s {} p_o {} objective {} ({:.1} s)",
                t.number,
                t.state.as_str(),
                t.resource.map_or("-".to_string(), |r| r.to_string()),
                opt(t.p_s),
                opt(t.p_o),
                opt(t.objective),
                t.seconds.unwrap_or(0.0)
            );
            if let Some(reason) = t.reason.as_ref().filter(|_| t.state == TrialState::Failed) {
                let _ = write!(line, " reason: {reason}");
            }
            let _ = match summary.best {
                Some((n, v)) => write!(line, " | best {v:.4} (trial {n})"),
                None => write!(line, " | best -"),
            };
            let _ = write!(
                line,
                " | front {} hypervolume {:.4} | {}/{n_trials} done",
                summary.front.len(),
                summary.hypervolume,
                summary.complete + summary.pruned + summary.failed,
            );
            line
        }
        SearchEvent::Lost { number } => {
            format!("trial {number} lost: another worker re-queued it (missed heartbeats)")
        }
        SearchEvent::Waiting { running } => {
            format!(
                "nothing to claim; waiting for running trials {}",
                numbers(running)
            )
        }
    })
}

/// The trials table of `lrdist search status`, with a summary line at the end.
pub fn status_table(trials: &[TrialRow]) -> String {
    let header = [
        "trial",
        "state",
        "rung",
        "a1",
        "p_s",
        "p_o",
        "objective",
        "seconds",
        "sampler",
        "worker",
        "reason",
    ];
    let rows: Vec<Vec<String>> = trials
        .iter()
        .map(|t| {
            vec![
                t.number.to_string(),
                t.state.as_str().to_string(),
                t.resource.map_or("-".to_string(), |r| r.to_string()),
                opt(t.a1),
                opt(t.p_s),
                opt(t.p_o),
                opt(t.objective),
                t.seconds.map_or("-".to_string(), |s| format!("{s:.1}")),
                t.sampled_by.clone().unwrap_or_else(|| "-".into()),
                t.worker.clone().unwrap_or_else(|| "-".into()),
                t.reason.as_deref().map_or("-".to_string(), shorten),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].len())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for r in &rows {
        line(r.iter().map(String::as_str).collect());
    }
    let s = summarize(trials);
    let _ = write!(
        out,
        "{} trials: {} complete, {} pruned, {} failed, {} running, {} queued",
        trials.len(),
        s.complete,
        s.pruned,
        s.failed,
        s.running,
        s.queued
    );
    if let Some((n, v)) = s.best {
        let _ = write!(out, "; best objective {v:.4} (trial {n})");
    }
    let _ = writeln!(
        out,
        "; Pareto front (p_s, p_o) trials [{}], hypervolume {:.4}",
        numbers(&s.front),
        s.hypervolume
    );
    out
}

/// A reason cut to one line of at most 60 characters.
fn shorten(reason: &str) -> String {
    let line = reason.lines().next().unwrap_or("");
    if line.chars().count() > 60 {
        format!("{}...", line.chars().take(57).collect::<String>())
    } else {
        line.to_string()
    }
}

/// The columns of [`export_csv`] before the learning rates, in order.
pub use lrdist_record::TRIAL_CSV_COLUMNS as CSV_COLUMNS;

/// Writes `trials` as CSV: [`CSV_COLUMNS`] then `lr_g0, lr_g1, ...` (one per group, as many
/// as the widest trial). `resource` is the highest stage-2 epoch count reported; timestamps
/// are Unix seconds (UTC); missing values are empty. Each trial is written as its row of
/// the export, [`StudyTrial`], by the one writer of that format
/// ([`lrdist_record::write_trials_csv`]), which `lrdist-analysis` reads back.
pub fn export_csv(trials: &[TrialRow], w: impl Write) -> Result<()> {
    let rows: Vec<StudyTrial> = trials.iter().map(export_row).collect();
    lrdist_record::write_trials_csv(&rows, w)
}

/// The row of the export of `t`: what the store holds of it except the sampler, the
/// heartbeat and the extra JSON; no rates while it has none.
fn export_row(t: &TrialRow) -> StudyTrial {
    StudyTrial {
        study: t.study.clone(),
        trial: t.number,
        state: t.state,
        resource: t.resource,
        a1: t.a1,
        p_s: t.p_s,
        p_o: t.p_o,
        objective: t.objective,
        seconds: t.seconds,
        worker: t.worker.clone(),
        started_at: t.started_at,
        finished_at: t.finished_at,
        reason: t.reason.clone(),
        rates: t.rates.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(number: u64, state: TrialState, scores: Option<(f64, f64)>) -> TrialRow {
        TrialRow {
            state,
            rates: Some(vec![1e-5, 2e-6]),
            a1: scores.map(|_| 0.9),
            p_s: scores.map(|s| s.0),
            p_o: scores.map(|s| s.1),
            objective: scores.map(|s| s.0 + s.1),
            seconds: Some(12.5),
            worker: Some("host:1".into()),
            started_at: Some(1_700_000_000.25),
            finished_at: Some(1_700_000_012.75),
            resource: scores.map(|_| 2),
            ..TrialRow::empty("st", number)
        }
    }

    fn trials() -> Vec<TrialRow> {
        let mut failed = trial(3, TrialState::Failed, None);
        failed.reason = Some("NaN loss at step 12, epoch 1\nmore".into());
        vec![
            trial(0, TrialState::Complete, Some((0.85, 0.90))),
            trial(1, TrialState::Complete, Some((0.90, 0.80))),
            trial(2, TrialState::Pruned, Some((0.99, 0.99))),
            failed,
            trial(4, TrialState::Complete, Some((0.80, 0.80))),
        ]
    }

    #[test]
    fn summary_uses_complete_trials() {
        let s = summarize(&trials());
        assert_eq!((s.complete, s.pruned, s.failed), (3, 1, 1));
        assert_eq!(s.best.map(|b| b.0), Some(0));
        assert_eq!(s.front, vec![0, 1]);
        // 0.90*0.80 + 0.85*(0.90-0.80)
        assert!((s.hypervolume - (0.72 + 0.085)).abs() < 1e-12);
    }

    #[test]
    fn status_table_lists_every_trial() {
        let table = status_table(&trials());
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 1 + 5 + 1, "{table}");
        assert!(lines[0].starts_with("trial  state"));
        assert!(
            lines[4].contains("failed") && lines[4].contains("NaN loss at step 12"),
            "{table}"
        );
        assert!(!table.contains("more"));
        assert!(
            lines[6].contains("best objective 1.7500 (trial 0)"),
            "{table}"
        );
    }

    #[test]
    fn live_lines_name_trial_rung_scores_and_best() {
        let trials = trials();
        let event = SearchEvent::Finished {
            trial: Box::new(trials[1].clone()),
            summary: summarize(&trials),
            n_trials: 50,
        };
        assert_eq!(
            live_line(&event).unwrap(),
            "trial 1 complete rung 2 p_s 0.9000 p_o 0.8000 objective 1.7000 (12.5 s) \
             | best 1.7500 (trial 0) | front 2 hypervolume 0.8050 | 5/50 done"
        );
        let rung = |rung, decision| SearchEvent::Rung {
            number: 7,
            report: RungReport {
                resource: 2,
                p_s: 0.5,
                p_o: 0.25,
                a1: 0.9,
            },
            value: 0.75,
            rung,
            decision,
        };
        assert_eq!(
            live_line(&rung(true, Decision::Stop)).unwrap(),
            "trial 7 rung 2 p_s 0.5000 p_o 0.2500 objective 0.7500 -> stop"
        );
        assert!(!live_line(&rung(false, Decision::Continue))
            .unwrap()
            .contains("->"));
    }

    #[test]
    fn csv_has_the_agreed_columns() {
        let mut buf = Vec::new();
        export_csv(&trials(), &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "study,trial,state,resource,a1,p_s,p_o,objective,seconds,worker,started_at,finished_at,reason,lr_g0,lr_g1"
        );
        assert_eq!(
            lines.next().unwrap(),
            "st,0,complete,2,0.9,0.85,0.9,1.75,12.5,host:1,1700000000.250,1700000012.750,,1e-5,2e-6"
        );
        let records: Vec<csv::StringRecord> = csv::Reader::from_reader(text.as_bytes())
            .records()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(records.len(), 5);
        let failed: Vec<&str> = records[3].iter().collect();
        assert_eq!(
            &failed[..9],
            ["st", "3", "failed", "", "", "", "", "", "12.5"]
        );
        assert_eq!(failed[12], "NaN loss at step 12, epoch 1\nmore");
    }
}
