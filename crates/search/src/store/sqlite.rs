//! The SQLite trial store (rusqlite, bundled SQLite): one file, no server.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{anyhow, ensure, Context, Result};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{sql, Claim, Finish, RawTrial, RungRow, Store, TrialRow, SCHEMA_VERSION};

/// The database clock in Unix seconds, with sub-second precision.
const NOW: &str = "((julianday('now') - 2440587.5) * 86400.0)";

/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// A study store in one SQLite file. WAL journal mode and a busy timeout let several worker
/// processes on one machine share it; `synchronous = NORMAL` keeps every committed
/// transaction across a killed process (only a power loss can undo the last ones).
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

/// `$n` placeholders to SQLite's `?n`, and the `{now}` / `{lock}` tokens.
fn q(text: &str) -> String {
    text.replace('$', "?")
        .replace("{now}", NOW)
        .replace("{lock}", "")
}

impl SqliteStore {
    /// Opens or creates the store at `path` (and its parent directories).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating directory {}", dir.display()))?;
        }
        let ctx = || format!("opening SQLite trial store {}", path.display());
        let mut conn = Connection::open(&path).with_context(ctx)?;
        conn.busy_timeout(BUSY_TIMEOUT).with_context(ctx)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .with_context(ctx)?;
        ensure!(
            mode.eq_ignore_ascii_case("wal"),
            "{}: journal mode is {mode}, not WAL",
            ctx()
        );
        conn.pragma_update(None, "synchronous", "NORMAL")
            .with_context(ctx)?;
        init_schema(&mut conn).with_context(ctx)?;
        Ok(Self {
            path,
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction half-applied
        // (rusqlite rolls back on drop), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ctx(&self, what: &str) -> String {
        format!("{what} in {}", self.path.display())
    }
}

fn init_schema(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for stmt in sql::SCHEMA {
        tx.execute(stmt, [])?;
    }
    let version: String = tx.query_row(sql::SCHEMA_VERSION, [], |r| r.get(0))?;
    ensure!(
        version == SCHEMA_VERSION.to_string(),
        "store has schema version {version}, this build reads version {SCHEMA_VERSION}"
    );
    tx.commit()?;
    Ok(())
}

fn decode_trial(study: &str, r: &rusqlite::Row) -> Result<TrialRow> {
    let raw = RawTrial {
        number: r.get(0)?,
        state: r.get(1)?,
        rates_json: r.get(2)?,
        extra_json: r.get(14)?,
        resource: r.get(15)?,
    };
    let mut row = raw.decode(study)?;
    row.sampled_by = r.get(3)?;
    row.worker = r.get(4)?;
    row.heartbeat_at = r.get(5)?;
    row.started_at = r.get(6)?;
    row.finished_at = r.get(7)?;
    row.seconds = r.get(8)?;
    row.a1 = r.get(9)?;
    row.p_s = r.get(10)?;
    row.p_o = r.get(11)?;
    row.objective = r.get(12)?;
    row.reason = r.get(13)?;
    Ok(row)
}

impl Store for SqliteStore {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn create_study(&self, name: &str, config_json: &str) -> Result<bool> {
        let n = self
            .conn()
            .execute(&q(sql::CREATE_STUDY), params![name, config_json])
            .with_context(|| self.ctx(&format!("creating study {name}")))?;
        Ok(n == 1)
    }

    fn study_config(&self, name: &str) -> Result<Option<String>> {
        self.conn()
            .query_row(&q(sql::STUDY_CONFIG), params![name], |r| r.get(0))
            .optional()
            .with_context(|| self.ctx(&format!("reading study {name}")))
    }

    fn update_study_config(&self, name: &str, config_json: &str) -> Result<()> {
        let n = self
            .conn()
            .execute(&q(sql::UPDATE_STUDY), params![name, config_json])
            .with_context(|| self.ctx(&format!("updating study {name}")))?;
        ensure!(n == 1, "{}", self.ctx(&format!("no study {name}")));
        Ok(())
    }

    fn studies(&self) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(sql::STUDIES)?;
        let names = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>();
        names.with_context(|| self.ctx("listing studies"))
    }

    fn requeue_stale(&self, study: &str, stale_after_secs: f64) -> Result<Vec<u64>> {
        let run = || -> Result<Vec<u64>> {
            let mut conn = self.conn();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let stale: Vec<i64> = {
                let mut stmt = tx.prepare(&q(sql::STALE))?;
                let rows = stmt.query_map(params![study, stale_after_secs], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            for number in &stale {
                tx.execute(&q(sql::REQUEUE), params![study, number])?;
                tx.execute(&q(sql::DELETE_RUNGS), params![study, number])?;
            }
            tx.commit()?;
            Ok(stale.into_iter().map(|n| n as u64).collect())
        };
        run().with_context(|| self.ctx(&format!("re-queueing stale trials of study {study}")))
    }

    fn claim(&self, study: &str, worker: &str, n_trials: u64) -> Result<Option<Claim>> {
        let run = || -> Result<Option<Claim>> {
            let mut conn = self.conn();
            // IMMEDIATE takes the write lock first: claims from all processes are serialised.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let queued: Option<(i64, Option<String>)> = tx
                .query_row(&q(sql::QUEUED), params![study], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let claim = if let Some((number, rates_json)) = queued {
                tx.execute(&q(sql::START), params![study, number, worker])?;
                let rates = rates_json.map(|j| serde_json::from_str(&j)).transpose()?;
                Some(Claim {
                    number: number as u64,
                    rates,
                })
            } else {
                let (count, next): (i64, i64) =
                    tx.query_row(&q(sql::COUNT), params![study], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?;
                if (count as u64) < n_trials {
                    tx.execute(&q(sql::INSERT_TRIAL), params![study, next, worker])?;
                    Some(Claim {
                        number: next as u64,
                        rates: None,
                    })
                } else {
                    None
                }
            };
            tx.commit()?;
            Ok(claim)
        };
        run().with_context(|| self.ctx(&format!("claiming a trial of study {study}")))
    }

    fn set_rates(
        &self,
        study: &str,
        number: u64,
        worker: &str,
        rates: &[f64],
        sampled_by: &str,
    ) -> Result<bool> {
        let json = serde_json::to_string(rates)?;
        let n = self
            .conn()
            .execute(
                &q(&sql::set_rates()),
                params![study, number as i64, worker, json, sampled_by],
            )
            .with_context(|| self.ctx(&format!("storing rates of trial {number} of {study}")))?;
        Ok(n == 1)
    }

    fn heartbeat(&self, study: &str, number: u64, worker: &str) -> Result<bool> {
        let n = self
            .conn()
            .execute(&q(&sql::heartbeat()), params![study, number as i64, worker])
            .with_context(|| self.ctx(&format!("heartbeat of trial {number} of {study}")))?;
        Ok(n == 1)
    }

    fn record_rung(&self, rung: &RungRow) -> Result<bool> {
        let r = rung;
        let n = self
            .conn()
            .execute(
                &q(&sql::record_rung()),
                params![
                    r.study,
                    r.number as i64,
                    r.worker,
                    r.resource as i64,
                    r.p_s,
                    r.p_o,
                    r.value,
                    r.seconds
                ],
            )
            .with_context(|| {
                self.ctx(&format!(
                    "recording rung {} of trial {}",
                    r.resource, r.number
                ))
            })?;
        Ok(n == 1)
    }

    fn rung_values(&self, study: &str, resource: usize) -> Result<Vec<f64>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&q(sql::RUNG_VALUES))?;
        let values = stmt
            .query_map(params![study, resource as i64], |r| r.get(0))?
            .collect::<Result<_, _>>();
        values.with_context(|| self.ctx(&format!("reading rung {resource} of study {study}")))
    }

    fn finish(&self, study: &str, number: u64, worker: &str, f: &Finish) -> Result<bool> {
        let extra = f.extra.as_ref().map(serde_json::to_string).transpose()?;
        let n = self
            .conn()
            .execute(
                &q(&sql::finish()),
                params![
                    study,
                    number as i64,
                    worker,
                    f.state.as_str(),
                    f.a1,
                    f.p_s,
                    f.p_o,
                    f.objective,
                    f.reason,
                    extra,
                    f.seconds
                ],
            )
            .with_context(|| self.ctx(&format!("finishing trial {number} of {study}")))?;
        Ok(n == 1)
    }

    fn trials(&self, study: &str) -> Result<Vec<TrialRow>> {
        let run = || -> Result<Vec<TrialRow>> {
            let conn = self.conn();
            let mut stmt = conn.prepare(&q(&sql::trials()))?;
            let mut rows = stmt.query(params![study])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(decode_trial(study, r)?);
            }
            Ok(out)
        };
        run().with_context(|| self.ctx(&format!("reading trials of study {study}")))
    }

    fn rungs(&self, study: &str) -> Result<Vec<RungRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&q(sql::RUNGS))?;
        let rows = stmt.query_map(params![study], |r| {
            Ok(RungRow {
                study: study.to_string(),
                number: r.get::<_, i64>(0)? as u64,
                resource: r.get::<_, i64>(1)? as usize,
                p_s: r.get(2)?,
                p_o: r.get(3)?,
                value: r.get(4)?,
                seconds: r.get(5)?,
                at: r.get(6)?,
                worker: r.get(7)?,
            })
        })?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| anyhow!(e))
            .with_context(|| self.ctx(&format!("reading rungs of study {study}")))
    }
}
