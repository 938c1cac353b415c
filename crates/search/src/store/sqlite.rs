//! The SQLite trial store (rusqlite, bundled SQLite): one file, no server.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::interface::{Claim, Finish, RungRow, Store, TrialRow};
use super::sql::{self, decode_rung, decode_trial, Columns, SCHEMA_VERSION};

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
    let version: String = tx.query_row(sql::STORED_VERSION, [], |r| r.get(0))?;
    ensure!(
        version == SCHEMA_VERSION.to_string(),
        "store has schema version {version}, this build reads version {SCHEMA_VERSION}"
    );
    tx.commit()?;
    Ok(())
}

impl Columns for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.get(i)?)
    }
    fn real(&self, i: usize) -> Result<Option<f64>> {
        Ok(self.get(i)?)
    }
    fn text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.get(i)?)
    }
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
        self.study_rows(&q(&sql::trials()), study, "trials", |r| {
            decode_trial(study, r)
        })
    }

    fn rungs(&self, study: &str) -> Result<Vec<RungRow>> {
        self.study_rows(&q(sql::RUNGS), study, "rungs", |r| decode_rung(study, r))
    }
}

impl SqliteStore {
    /// Every row `query` (with `$1` = `study`) returns, decoded by `decode`.
    fn study_rows<T>(
        &self,
        query: &str,
        study: &str,
        what: &str,
        decode: impl Fn(&rusqlite::Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        let run = || -> Result<Vec<T>> {
            let conn = self.conn();
            let mut stmt = conn.prepare(query)?;
            let mut rows = stmt.query(params![study])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(decode(r)?);
            }
            Ok(out)
        };
        run().with_context(|| self.ctx(&format!("reading {what} of study {study}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::interface::TrialState;

    /// Every column written through the store reads back in its own field (the shared
    /// decoders in `store/sql.rs` pick columns by index).
    #[test]
    fn a_trial_and_its_rungs_read_back_field_by_field() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("s.sqlite")).unwrap();
        assert!(store.create_study("s", "{}").unwrap());
        let claim = store.claim("s", "w1", 5).unwrap().unwrap();
        assert_eq!((claim.number, claim.rates), (0, None));
        assert!(store.set_rates("s", 0, "w1", &[1e-5, 2e-6], "gp").unwrap());
        for (resource, p_s, p_o, seconds) in [(1, 0.7, 0.6, 30.0), (2, 0.8, 0.65, 12.5)] {
            let rung = RungRow {
                study: "s".into(),
                number: 0,
                resource,
                p_s,
                p_o,
                value: p_s + p_o,
                seconds,
                at: 0.0,
                worker: "w1".into(),
            };
            assert!(store.record_rung(&rung).unwrap());
        }
        let finish = Finish {
            state: TrialState::Complete,
            a1: Some(0.9),
            p_s: Some(0.8),
            p_o: Some(0.65),
            objective: Some(1.45),
            reason: Some("why".into()),
            extra: Some(serde_json::json!({"k": 3})),
            seconds: 42.5,
        };
        assert!(store.finish("s", 0, "w1", &finish).unwrap());

        let [t] = store.trials("s").unwrap().try_into().unwrap();
        assert_eq!((t.study.as_str(), t.number), ("s", 0));
        assert_eq!(t.state, TrialState::Complete);
        assert_eq!(t.rates, Some(vec![1e-5, 2e-6]));
        assert_eq!(t.sampled_by.as_deref(), Some("gp"));
        assert_eq!(t.worker.as_deref(), Some("w1"));
        let (start, end) = (t.started_at.unwrap(), t.finished_at.unwrap());
        assert!(start > 1.7e9 && end >= start && t.heartbeat_at.unwrap() >= start);
        assert_eq!(t.seconds, Some(42.5));
        assert_eq!((t.a1, t.p_s, t.p_o), (Some(0.9), Some(0.8), Some(0.65)));
        assert_eq!(t.objective, Some(1.45));
        assert_eq!(t.reason.as_deref(), Some("why"));
        assert_eq!(t.extra, Some(serde_json::json!({"k": 3})));
        assert_eq!(t.resource, Some(2));

        let rungs = store.rungs("s").unwrap();
        let fields: Vec<_> = rungs
            .iter()
            .map(|r| (r.number, r.resource, r.p_s, r.p_o, r.value, r.seconds))
            .collect();
        assert_eq!(
            fields,
            [
                (0, 1, 0.7, 0.6, 0.7 + 0.6, 30.0),
                (0, 2, 0.8, 0.65, 0.8 + 0.65, 12.5)
            ]
        );
        assert!(rungs.iter().all(|r| r.worker == "w1" && r.at >= start));
    }
}
