//! Run records: one JSON object per run, appended as one line to a JSONL file under
//! `results/runs/`. These files are the raw data every table in `paper/` is computed from.
//! The record itself ([`RunRecord`]) and its JSONL files are defined in `lrdist-record`,
//! which `lrdist-analysis` reads them with; here is what the runner does with them: which
//! request a record stands for ([`compare`], [`find_record`]), where it goes, and the
//! commit, command line and time it states.

use std::path::Path;

use anyhow::Result;

use crate::config::RunRequest;

pub use lrdist_record::{append_record, read_records, DistributionRecord, RunRecord, SCHEMA};

/// What a finished record says about a request it might stand for.
#[derive(Clone, Debug, PartialEq)]
pub enum Done {
    /// A record of exactly this run: same scenario, method, seed, scale spec, resolved
    /// rates (both stages), penalty and intervention.
    Same,
    /// A record of the same scenario, method, scale name and seed that ran something else
    /// (the reason says what differs): it does not count.
    Stale(String),
    /// No record of this scenario, method, scale name and seed.
    None,
}

/// Whether `r` is a record of `req` run with per-depth rates `per_depth`.
pub fn compare(r: &RunRecord, req: &RunRequest, per_depth: &[f64]) -> Done {
    if r.scenario != req.scenario.label()
        || r.method != req.method
        || r.scale != req.scale_name
        || r.seed != req.seed
    {
        return Done::None;
    }
    let stage1 = req.stage2_only.then(|| req.stage1_distribution.to_string());
    let why = if r.scale_spec != req.scale {
        "its scale spec differs"
    } else if r.distribution.per_depth != per_depth {
        "its rates differ"
    } else if r.stage1_distribution_spec != stage1 {
        "its stage-1 distribution differs"
    } else if r.penalty != req.penalty {
        "its penalty differs"
    } else if r.intervention != req.intervention {
        "its intervention differs"
    } else if r.head != req.head {
        "its head differs"
    } else if r.attribution.is_none() && req.attribute {
        "it has no attribution"
    } else if !same_files(r, req) {
        "its task files differ"
    } else {
        return Done::Same;
    };
    Done::Stale(format!("{} ({})", why, r.id))
}

/// Whether the record `r` read the file tasks of `req` as they are now: the same specs and
/// the same file contents (SHA-256). Always true for GLUE tasks (no files to compare); a
/// file that cannot be read now differs.
fn same_files(r: &RunRecord, req: &RunRequest) -> bool {
    let tasks = req.scenario.file_tasks();
    if tasks.is_empty() {
        return true;
    }
    let Ok(digests) = req.scenario.file_digests() else {
        return false;
    };
    tasks.len() == r.file_tasks.len()
        && tasks.iter().zip(&digests).all(|(task, (_, d))| {
            r.file_tasks.iter().any(|f| {
                f.task == *task && f.train_sha256 == d.train_sha256 && f.dev_sha256 == d.dev_sha256
            })
        })
}

/// Whether `path` already holds a record of `req` (so a batch of runs can resume), or
/// only stale ones, or none.
pub fn find_record(path: &Path, req: &RunRequest, per_depth: &[f64]) -> Result<Done> {
    let mut found = Done::None;
    for r in read_records(path)? {
        match compare(&r, req, per_depth) {
            Done::Same => return Ok(Done::Same),
            stale @ Done::Stale(_) => found = stale,
            Done::None => {}
        }
    }
    Ok(found)
}

/// The record in `path` of exactly `req` (see [`compare`]), if there is one.
pub fn find_same(path: &Path, req: &RunRequest, per_depth: &[f64]) -> Result<Option<RunRecord>> {
    Ok(read_records(path)?
        .into_iter()
        .find(|r| compare(r, req, per_depth) == Done::Same))
}

/// Where a run's record goes by default: `RESULTS/runs/<config stem>.jsonl`, or the
/// scenario's name (`sst2_mrpc.jsonl`) when the run has no config.
pub fn default_record_path(results: &Path, req: &RunRequest) -> std::path::PathBuf {
    let stem = req
        .config_file
        .as_deref()
        .and_then(|c| Path::new(c).file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| req.scenario.label().replace("->", "_").replace(':', "_"));
    results.join("runs").join(format!("{stem}.jsonl"))
}

/// The commit this binary was built from, with `-dirty` when the code it was built from
/// (`crates/`, `build/`, `Cargo.toml`, `Cargo.lock`, `experiments/`) differed from that
/// commit, or `unknown` outside a git checkout. Set at build time by `build.rs`
/// (`build/git_commit.rs`), so a long run records the code it runs even when the checkout
/// moves on under it.
pub fn git_commit() -> String {
    env!("LRDIST_BUILD_COMMIT").to_string()
}

#[cfg(test)]
#[path = "../../../build/git_commit.rs"]
mod build_commit;

/// The command line of this process, quoted for a POSIX shell (`shlex`), so it can be
/// pasted back as is: `$`, `*`, `;`, `&`, quotes and spaces are all quoted.
pub fn command_line() -> String {
    quote_args(std::env::args())
}

/// `args` joined into one POSIX-shell command line.
pub fn quote_args(args: impl IntoIterator<Item = String>) -> String {
    let args: Vec<String> = args.into_iter().collect();
    shlex::try_join(args.iter().map(String::as_str))
        // try_join refuses only NUL bytes, which no argument of a real process holds.
        .unwrap_or_else(|_| args.join(" "))
}

/// The current time as an RFC 3339 UTC timestamp (seconds).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod quoting_tests {
    use super::quote_args;

    #[test]
    fn shell_metacharacters_are_quoted() {
        let args = [
            "lrdist",
            "run",
            "--record",
            "a b.jsonl",
            "$HOME",
            "x*",
            "a;b",
            "c&d",
            "it's",
        ];
        let line = quote_args(args.iter().map(|s| s.to_string()));
        assert_eq!(shlex::split(&line).unwrap(), args);
        for bare in ["$HOME", "x*", "a;b", "c&d"] {
            assert!(
                !line.contains(&format!(" {bare}")),
                "{bare} unquoted in {line}"
            );
        }
        assert_eq!(
            quote_args(["lrdist", "run"].map(String::from)),
            "lrdist run"
        );
    }
}
