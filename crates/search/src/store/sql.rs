//! The SQL shared by both backends: `$n` placeholders (SQLite reads them as `?n`), `{now}`
//! for the database clock in Unix seconds and `{lock}` for PostgreSQL's row locking clause.
//! Type names are PostgreSQL's; SQLite maps them to REAL / INTEGER affinities.
//!
//! Also the columns both backends select for a trial and a rung, decoded into rows in one
//! place.

use anyhow::Result;

use super::interface::{RungRow, TrialRow, TrialState};

/// Version of [`SCHEMA`] (described in the `store` module doc); a store written by another
/// version is refused.
pub const SCHEMA_VERSION: i64 = 1;

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
pub const STORED_VERSION: &str = "SELECT value FROM meta WHERE key = 'schema_version'";
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
        TRIAL_COLUMNS
    )
}
pub const RUNGS: &str = "SELECT number, resource, p_s, p_o, value, seconds, at, worker \
    FROM rungs WHERE study = $1 ORDER BY number, resource, at";

/// Columns selected for a [`TrialRow`], in the order both backends decode them.
pub const TRIAL_COLUMNS: &str = "t.number, t.state, t.rates_json, t.sampled_by, t.worker, \
     t.heartbeat_at, t.started_at, t.finished_at, t.seconds, t.a1, t.p_s, t.p_o, t.objective, \
     t.reason, t.extra_json, (SELECT MAX(r.resource) FROM rungs r WHERE r.study = t.study AND r.number = t.number)";

/// A result row read by column index: implemented by both backends' rows, so the column
/// layouts of [`TRIAL_COLUMNS`] and [`RUNGS`] are decoded in one place
/// ([`decode_trial`], [`decode_rung`]). `None` is SQL `NULL`.
pub trait Columns {
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
pub fn decode_trial(study: &str, r: &impl Columns) -> Result<TrialRow> {
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

/// A [`RungRow`] from a row selected with [`RUNGS`].
pub fn decode_rung(study: &str, r: &impl Columns) -> Result<RungRow> {
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
