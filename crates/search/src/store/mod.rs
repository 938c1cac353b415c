//! The trial store: where a study, its trials and their rung values live.
//!
//! An SQLite file by default (embedded, no server; several local workers share it through
//! WAL mode and a busy timeout), or a PostgreSQL database (`postgres://...` URL) so workers on
//! several machines share one study. Every state change is its own transaction, so killing a
//! worker (`kill -9`) loses at most its running trial, which a heartbeat timeout re-queues.
//!
//! Schema (version [`SCHEMA_VERSION`], checked on open):
//! - `meta(key, value)`: `schema_version`;
//! - `studies(name, config_json, created_at)`;
//! - `trials(study, number, state, rates_json, sampled_by, worker, heartbeat_at, started_at,
//!   finished_at, seconds, a1, p_s, p_o, objective, reason, extra_json)`,
//!   `UNIQUE(study, number)`; `state` is one of `queued|running|complete|pruned|failed`;
//! - `rungs(study, number, resource, p_s, p_o, value, seconds, at, worker)`: one row per
//!   stage-2 epoch reported.
//!
//! Timestamps are seconds since the Unix epoch (UTC) read from the database's clock, so
//! heartbeats compare on one clock even when workers' clocks differ.

mod pg;
mod sqlite;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

pub use self::pg::PgStore;
pub use self::sqlite::SqliteStore;

/// Version of the schema above; a store written by another version is refused.
pub const SCHEMA_VERSION: i64 = 1;

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
    /// The name stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialState::Queued => "queued",
            TrialState::Running => "running",
            TrialState::Complete => "complete",
            TrialState::Pruned => "pruned",
            TrialState::Failed => "failed",
        }
    }

    /// Parses a stored `state`.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "queued" => TrialState::Queued,
            "running" => TrialState::Running,
            "complete" => TrialState::Complete,
            "pruned" => TrialState::Pruned,
            "failed" => TrialState::Failed,
            other => bail!("unknown trial state {other:?} in the store"),
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

/// One row of `trials`, plus the highest stage-2 resource it reported (from `rungs`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialRow {
    pub study: String,
    pub number: u64,
    pub state: TrialState,
    /// One rate per group; `None` while a freshly claimed trial is being sampled.
    pub rates: Option<Vec<f64>>,
    /// Which sampler chose the rates (`first`, `random`, `gp`, `tpe`, ...).
    pub sampled_by: Option<String>,
    pub worker: Option<String>,
    pub heartbeat_at: Option<f64>,
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
    /// Wall-clock seconds of the trial's last (successful) run.
    pub seconds: Option<f64>,
    pub a1: Option<f64>,
    pub p_s: Option<f64>,
    pub p_o: Option<f64>,
    /// `p_o + p_s` (see `ObjectiveKind::value`).
    pub objective: Option<f64>,
    /// Why a trial failed (or was pruned).
    pub reason: Option<String>,
    pub extra: Option<serde_json::Value>,
    /// Highest stage-2 epoch count reported to successive halving.
    pub resource: Option<usize>,
}

impl TrialRow {
    /// A queued row with nothing filled in.
    pub fn empty(study: &str, number: u64) -> Self {
        Self {
            study: study.to_string(),
            number,
            state: TrialState::Queued,
            rates: None,
            sampled_by: None,
            worker: None,
            heartbeat_at: None,
            started_at: None,
            finished_at: None,
            seconds: None,
            a1: None,
            p_s: None,
            p_o: None,
            objective: None,
            reason: None,
            extra: None,
            resource: None,
        }
    }
}

/// One row of `rungs`: a report after a stage-2 epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RungRow {
    pub study: String,
    pub number: u64,
    /// Stage-2 epochs done.
    pub resource: usize,
    pub p_s: f64,
    pub p_o: f64,
    /// The objective value compared by successive halving (`p_o + p_s`).
    pub value: f64,
    /// Wall-clock seconds since the previous report (the first includes stage 1).
    pub seconds: f64,
    /// When it was recorded (database clock, Unix seconds).
    pub at: f64,
    pub worker: String,
}

/// A trial handed to a worker by [`Store::claim`].
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    pub number: u64,
    /// The rates of a re-queued trial; `None` for a new trial (the worker samples them).
    pub rates: Option<Vec<f64>>,
}

/// The end of a trial, written by [`Store::finish`].
#[derive(Clone, Debug, PartialEq)]
pub struct Finish {
    /// Complete, pruned or failed.
    pub state: TrialState,
    pub a1: Option<f64>,
    pub p_s: Option<f64>,
    pub p_o: Option<f64>,
    pub objective: Option<f64>,
    pub reason: Option<String>,
    pub extra: Option<serde_json::Value>,
    pub seconds: f64,
}

/// A trial store shared by workers. Every method is one transaction.
pub trait Store: Send + Sync {
    /// The store's location (file path or URL without password), for messages.
    fn describe(&self) -> String;
    /// Inserts study `name` unless it exists; returns whether it was created.
    fn create_study(&self, name: &str, config_json: &str) -> Result<bool>;
    /// The stored config of study `name`, if any.
    fn study_config(&self, name: &str) -> Result<Option<String>>;
    /// Replaces the stored config of study `name`.
    fn update_study_config(&self, name: &str, config_json: &str) -> Result<()>;
    /// Names of all studies, sorted.
    fn studies(&self) -> Result<Vec<String>>;
    /// Re-queues the running trials whose last heartbeat is older than `stale_after_secs`
    /// (their worker died) and deletes their rung rows; returns their numbers.
    fn requeue_stale(&self, study: &str, stale_after_secs: f64) -> Result<Vec<u64>>;
    /// Atomically hands `worker` the lowest queued trial, or else a new trial numbered one
    /// past the highest (unique across workers) while the study has fewer than `n_trials`
    /// trials; `None` when neither exists. The trial is `running` with a fresh heartbeat.
    fn claim(&self, study: &str, worker: &str, n_trials: u64) -> Result<Option<Claim>>;
    /// Stores the sampled rates of a trial `worker` runs; false if it no longer runs it.
    fn set_rates(
        &self,
        study: &str,
        number: u64,
        worker: &str,
        rates: &[f64],
        sampled_by: &str,
    ) -> Result<bool>;
    /// Refreshes the heartbeat of a trial `worker` runs; false if it no longer runs it.
    fn heartbeat(&self, study: &str, number: u64, worker: &str) -> Result<bool>;
    /// Appends a rung report of a trial `rung.worker` runs (`rung.at` is ignored: the
    /// database clock is used); false (and nothing written) if it no longer runs it.
    fn record_rung(&self, rung: &RungRow) -> Result<bool>;
    /// All values recorded at `resource` in `study`.
    fn rung_values(&self, study: &str, resource: usize) -> Result<Vec<f64>>;
    /// Records the end of a trial `worker` runs; false (and nothing written) if it no longer
    /// runs it (it was re-queued meanwhile).
    fn finish(&self, study: &str, number: u64, worker: &str, finish: &Finish) -> Result<bool>;
    /// All trials of `study`, by number.
    fn trials(&self, study: &str) -> Result<Vec<TrialRow>>;
    /// All rung rows of `study`, by trial then resource.
    fn rungs(&self, study: &str) -> Result<Vec<RungRow>>;
}

/// Opens `STORE[#STUDY]` and names the study: the part after `#`, or the store's only
/// study. A missing SQLite file is an error here (nothing to inspect).
pub fn open_study(input: &str) -> Result<(Box<dyn Store>, String)> {
    let (spec, study) = match input.rsplit_once('#') {
        Some((spec, study)) => (spec, Some(study)),
        None => (input, None),
    };
    if !is_postgres_url(spec) && !std::path::Path::new(spec).exists() {
        anyhow::bail!(
            "no such file {spec} (expected a study store: an SQLite file or a postgres:// URL)"
        );
    }
    let store = open_store(spec)?;
    let study = match study {
        Some(s) => s.to_string(),
        None => match store.studies()?.as_slice() {
            [only] => only.clone(),
            names => anyhow::bail!("{spec} holds studies {names:?}: name one as {spec}#STUDY"),
        },
    };
    Ok((store, study))
}

/// Opens (creating if needed) the store at `spec`: a `postgres://` / `postgresql://` URL, or
/// else an SQLite file path (parent directories are created).
pub fn open_store(spec: &str) -> Result<Box<dyn Store>> {
    if is_postgres_url(spec) {
        Ok(Box::new(PgStore::connect(spec)?))
    } else {
        Ok(Box::new(SqliteStore::open(spec)?))
    }
}

/// Whether `spec` names a PostgreSQL database rather than an SQLite file.
pub fn is_postgres_url(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

/// The SQL shared by both backends: `$n` placeholders (SQLite reads them as `?n`), `{now}`
/// for the database clock in Unix seconds and `{lock}` for PostgreSQL's row locking clause.
/// Type names are PostgreSQL's; SQLite maps them to REAL / INTEGER affinities.
pub(crate) mod sql {
    pub const SCHEMA: &[&str] = &[
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS studies (name TEXT PRIMARY KEY, config_json TEXT NOT NULL, \
         created_at DOUBLE PRECISION NOT NULL)",
        "CREATE TABLE IF NOT EXISTS trials (study TEXT NOT NULL REFERENCES studies(name), \
         number BIGINT NOT NULL, \
         state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'complete', 'pruned', 'failed')), \
         rates_json TEXT, sampled_by TEXT, worker TEXT, heartbeat_at DOUBLE PRECISION, \
         started_at DOUBLE PRECISION, finished_at DOUBLE PRECISION, seconds DOUBLE PRECISION, \
         a1 DOUBLE PRECISION, p_s DOUBLE PRECISION, p_o DOUBLE PRECISION, \
         objective DOUBLE PRECISION, reason TEXT, extra_json TEXT, UNIQUE (study, number))",
        "CREATE TABLE IF NOT EXISTS rungs (study TEXT NOT NULL, number BIGINT NOT NULL, \
         resource BIGINT NOT NULL, p_s DOUBLE PRECISION NOT NULL, p_o DOUBLE PRECISION NOT NULL, \
         value DOUBLE PRECISION NOT NULL, seconds DOUBLE PRECISION NOT NULL, \
         at DOUBLE PRECISION NOT NULL, worker TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS rungs_by_resource ON rungs (study, resource)",
        "CREATE INDEX IF NOT EXISTS rungs_by_trial ON rungs (study, number)",
        "INSERT INTO meta (key, value) VALUES ('schema_version', '1') ON CONFLICT (key) DO NOTHING",
    ];
    pub const SCHEMA_VERSION: &str = "SELECT value FROM meta WHERE key = 'schema_version'";
    pub const CREATE_STUDY: &str = "INSERT INTO studies (name, config_json, created_at) \
        VALUES ($1, $2, {now}) ON CONFLICT (name) DO NOTHING";
    pub const STUDY_CONFIG: &str = "SELECT config_json FROM studies WHERE name = $1";
    pub const UPDATE_STUDY: &str = "UPDATE studies SET config_json = $2 WHERE name = $1";
    pub const STUDIES: &str = "SELECT name FROM studies ORDER BY name";
    pub const STALE: &str = "SELECT number FROM trials WHERE study = $1 AND state = 'running' \
        AND (heartbeat_at IS NULL OR heartbeat_at < {now} - $2) ORDER BY number{lock}";
    pub const REQUEUE: &str = "UPDATE trials SET state = 'queued', worker = NULL, \
        heartbeat_at = NULL WHERE study = $1 AND number = $2";
    pub const DELETE_RUNGS: &str = "DELETE FROM rungs WHERE study = $1 AND number = $2";
    pub const QUEUED: &str = "SELECT number, rates_json FROM trials WHERE study = $1 \
        AND state = 'queued' ORDER BY number LIMIT 1{lock}";
    pub const LOCK_STUDY: &str = "SELECT name FROM studies WHERE name = $1 FOR UPDATE";
    pub const COUNT: &str =
        "SELECT COUNT(*), COALESCE(MAX(number) + 1, 0) FROM trials WHERE study = $1";
    pub const START: &str = "UPDATE trials SET state = 'running', worker = $3, \
        heartbeat_at = {now}, started_at = {now}, finished_at = NULL, seconds = NULL \
        WHERE study = $1 AND number = $2";
    pub const INSERT_TRIAL: &str = "INSERT INTO trials (study, number, state, worker, \
        heartbeat_at, started_at) VALUES ($1, $2, 'running', $3, {now}, {now})";
    /// Conditions that `worker` still runs trial `$2` of study `$1`.
    const OWNED: &str = "study = $1 AND number = $2 AND worker = $3 AND state = 'running'";
    pub fn set_rates() -> String {
        format!("UPDATE trials SET rates_json = $4, sampled_by = $5 WHERE {OWNED}")
    }
    pub fn heartbeat() -> String {
        format!("UPDATE trials SET heartbeat_at = {{now}} WHERE {OWNED}")
    }
    pub fn record_rung() -> String {
        format!(
            "INSERT INTO rungs (study, number, resource, p_s, p_o, value, seconds, at, worker) \
             SELECT CAST($1 AS TEXT), CAST($2 AS BIGINT), CAST($4 AS BIGINT), CAST($5 AS DOUBLE PRECISION), \
             CAST($6 AS DOUBLE PRECISION), CAST($7 AS DOUBLE PRECISION), \
             CAST($8 AS DOUBLE PRECISION), {{now}}, CAST($3 AS TEXT) \
             WHERE EXISTS (SELECT 1 FROM trials WHERE {OWNED})"
        )
    }
    pub const RUNG_VALUES: &str = "SELECT value FROM rungs WHERE study = $1 AND resource = $2";
    pub fn finish() -> String {
        format!(
            "UPDATE trials SET state = $4, a1 = $5, p_s = $6, p_o = $7, objective = $8, \
             reason = $9, extra_json = $10, seconds = $11, finished_at = {{now}}, \
             heartbeat_at = {{now}} WHERE {OWNED}"
        )
    }
    pub fn trials() -> String {
        format!(
            "SELECT {} FROM trials t WHERE t.study = $1 ORDER BY t.number",
            super::TRIAL_COLUMNS
        )
    }
    pub const RUNGS: &str = "SELECT number, resource, p_s, p_o, value, seconds, at, worker \
        FROM rungs WHERE study = $1 ORDER BY number, resource, at";
}

/// Columns selected for a [`TrialRow`], in the order both backends decode them.
pub(crate) const TRIAL_COLUMNS: &str = "t.number, t.state, t.rates_json, t.sampled_by, t.worker, \
     t.heartbeat_at, t.started_at, t.finished_at, t.seconds, t.a1, t.p_s, t.p_o, t.objective, \
     t.reason, t.extra_json, (SELECT MAX(r.resource) FROM rungs r WHERE r.study = t.study AND r.number = t.number)";

/// A result row read by column index: implemented by both backends' rows, so the column
/// layouts of [`TRIAL_COLUMNS`] and [`sql::RUNGS`] are decoded in one place
/// ([`decode_trial`], [`decode_rung`]). `None` is SQL `NULL`.
pub(crate) trait Columns {
    fn int(&self, i: usize) -> Result<Option<i64>>;
    fn real(&self, i: usize) -> Result<Option<f64>>;
    fn text(&self, i: usize) -> Result<Option<String>>;
}

/// Column `i`'s value, which the schema declares `NOT NULL`.
fn required<T>(value: Result<Option<T>>, i: usize) -> Result<T> {
    value?.ok_or_else(|| anyhow::anyhow!("column {i} is NULL"))
}

/// Column `i` parsed as JSON, `None` when NULL.
fn json_column<T: serde::de::DeserializeOwned>(r: &impl Columns, i: usize) -> Result<Option<T>> {
    Ok(r.text(i)?.map(|j| serde_json::from_str(&j)).transpose()?)
}

/// A [`TrialRow`] from a row selected with [`TRIAL_COLUMNS`].
pub(crate) fn decode_trial(study: &str, r: &impl Columns) -> Result<TrialRow> {
    use anyhow::Context;
    let number = required(r.int(0), 0)?;
    let column_of_trial = |column: &str| format!("{column} of trial {number} of study {study}");
    Ok(TrialRow {
        study: study.to_string(),
        number: number as u64,
        state: TrialState::parse(&required(r.text(1), 1)?)?,
        rates: json_column(r, 2).with_context(|| column_of_trial("rates_json"))?,
        sampled_by: r.text(3)?,
        worker: r.text(4)?,
        heartbeat_at: r.real(5)?,
        started_at: r.real(6)?,
        finished_at: r.real(7)?,
        seconds: r.real(8)?,
        a1: r.real(9)?,
        p_s: r.real(10)?,
        p_o: r.real(11)?,
        objective: r.real(12)?,
        reason: r.text(13)?,
        extra: json_column(r, 14).with_context(|| column_of_trial("extra_json"))?,
        resource: r.int(15)?.map(|v| v as usize),
    })
}

/// A [`RungRow`] from a row selected with [`sql::RUNGS`].
pub(crate) fn decode_rung(study: &str, r: &impl Columns) -> Result<RungRow> {
    Ok(RungRow {
        study: study.to_string(),
        number: required(r.int(0), 0)? as u64,
        resource: required(r.int(1), 1)? as usize,
        p_s: required(r.real(2), 2)?,
        p_o: required(r.real(3), 3)?,
        value: required(r.real(4), 4)?,
        seconds: required(r.real(5), 5)?,
        at: required(r.real(6), 6)?,
        worker: required(r.text(7), 7)?,
    })
}
