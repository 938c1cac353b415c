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

mod interface;
mod pg;
mod sql;
mod sqlite;

use anyhow::Result;

pub use self::interface::{Claim, Finish, RungRow, Store, TrialRow, TrialState};
pub use self::pg::PgStore;
pub use self::sql::SCHEMA_VERSION;
pub use self::sqlite::SqliteStore;

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
