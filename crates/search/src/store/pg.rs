//! The PostgreSQL trial store (`postgres` crate, synchronous): one study shared by workers on
//! several machines.

use std::sync::{Mutex, MutexGuard};

use anyhow::{ensure, Context, Result};
use postgres::{Client, NoTls, Row};

use super::interface::{Claim, Finish, RungRow, Store, TrialRow};
use super::sql::{self, decode_rung, decode_trial, Columns, SCHEMA_VERSION};

/// The database clock in Unix seconds (`clock_timestamp`, not the transaction start).
const NOW: &str = "extract(epoch from clock_timestamp())::double precision";

/// Key of the advisory lock that serialises schema creation by concurrent workers.
const SCHEMA_LOCK: i64 = 0x6c72_6469_7374; // "lrdist"

/// A study store in a PostgreSQL database. New trial numbers are handed out under a row lock
/// on the study; queued trials are claimed with `FOR UPDATE SKIP LOCKED`.
pub struct PgStore {
    url: String,
    client: Mutex<Client>,
}

/// Substitutes the `{now}` and `{lock}` tokens.
fn q(text: &str) -> String {
    text.replace("{now}", NOW)
        .replace("{lock}", " FOR UPDATE SKIP LOCKED")
}

/// `url` with its password, if any, masked.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    match (rest.find('@'), rest.find(':')) {
        (Some(at), Some(colon)) if colon < at => {
            format!(
                "{}{}:***{}",
                &url[..scheme_end],
                &rest[..colon],
                &rest[at..]
            )
        }
        _ => url.to_string(),
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/db`, no TLS) and creates
    /// or checks the schema.
    pub fn connect(url: &str) -> Result<Self> {
        let shown = redact(url);
        let ctx = || format!("opening PostgreSQL trial store {shown}");
        let mut client = Client::connect(url, NoTls).with_context(ctx)?;
        init_schema(&mut client).with_context(ctx)?;
        Ok(Self {
            url: shown,
            client: Mutex::new(client),
        })
    }

    fn client(&self) -> MutexGuard<'_, Client> {
        // An open transaction is rolled back when dropped, so a poisoned lock is safe to reuse.
        self.client.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ctx(&self, what: &str) -> String {
        format!("{what} in {}", self.url)
    }
}

fn init_schema(client: &mut Client) -> Result<()> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
    for stmt in sql::SCHEMA {
        tx.execute(*stmt, &[])?;
    }
    let version: String = tx.query_one(sql::STORED_VERSION, &[])?.get(0);
    ensure!(
        version == SCHEMA_VERSION.to_string(),
        "store has schema version {version}, this build reads version {SCHEMA_VERSION}"
    );
    tx.commit()?;
    Ok(())
}

impl Columns for Row {
    fn int(&self, i: usize) -> Result<Option<i64>> {
        Ok(self.try_get(i)?)
    }
    fn real(&self, i: usize) -> Result<Option<f64>> {
        Ok(self.try_get(i)?)
    }
    fn text(&self, i: usize) -> Result<Option<String>> {
        Ok(self.try_get(i)?)
    }
}

impl Store for PgStore {
    fn describe(&self) -> String {
        self.url.clone()
    }

    fn create_study(&self, name: &str, config_json: &str) -> Result<bool> {
        let n = self
            .client()
            .execute(&q(sql::CREATE_STUDY), &[&name, &config_json])
            .with_context(|| self.ctx(&format!("creating study {name}")))?;
        Ok(n == 1)
    }

    fn study_config(&self, name: &str) -> Result<Option<String>> {
        let row = self
            .client()
            .query_opt(sql::STUDY_CONFIG, &[&name])
            .with_context(|| self.ctx(&format!("reading study {name}")))?;
        Ok(row.map(|r| r.get(0)))
    }

    fn update_study_config(&self, name: &str, config_json: &str) -> Result<()> {
        let n = self
            .client()
            .execute(sql::UPDATE_STUDY, &[&name, &config_json])
            .with_context(|| self.ctx(&format!("updating study {name}")))?;
        ensure!(n == 1, "{}", self.ctx(&format!("no study {name}")));
        Ok(())
    }

    fn studies(&self) -> Result<Vec<String>> {
        let rows = self
            .client()
            .query(sql::STUDIES, &[])
            .with_context(|| self.ctx("listing studies"))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn requeue_stale(&self, study: &str, stale_after_secs: f64) -> Result<Vec<u64>> {
        let run = || -> Result<Vec<u64>> {
            let mut client = self.client();
            let mut tx = client.transaction()?;
            let stale: Vec<i64> = tx
                .query(&q(sql::STALE), &[&study, &stale_after_secs])?
                .iter()
                .map(|r| r.get(0))
                .collect();
            for number in &stale {
                tx.execute(sql::REQUEUE, &[&study, number])?;
                tx.execute(sql::DELETE_RUNGS, &[&study, number])?;
            }
            tx.commit()?;
            Ok(stale.into_iter().map(|n| n as u64).collect())
        };
        run().with_context(|| self.ctx(&format!("re-queueing stale trials of study {study}")))
    }

    fn claim(&self, study: &str, worker: &str, n_trials: u64) -> Result<Option<Claim>> {
        let run = || -> Result<Option<Claim>> {
            let mut client = self.client();
            let mut tx = client.transaction()?;
            if let Some(row) = tx.query_opt(&q(sql::QUEUED), &[&study])? {
                let number: i64 = row.get(0);
                let rates_json: Option<String> = row.get(1);
                tx.execute(&q(sql::START), &[&study, &number, &worker])?;
                let rates = rates_json.map(|j| serde_json::from_str(&j)).transpose()?;
                tx.commit()?;
                return Ok(Some(Claim {
                    number: number as u64,
                    rates,
                }));
            }
            // New numbers: the study row lock makes count-then-insert atomic across workers.
            let locked = tx.query_opt(sql::LOCK_STUDY, &[&study])?;
            ensure!(locked.is_some(), "no study {study}");
            let row = tx.query_one(sql::COUNT, &[&study])?;
            let (count, next): (i64, i64) = (row.get(0), row.get(1));
            let claim = if (count as u64) < n_trials {
                tx.execute(&q(sql::INSERT_TRIAL), &[&study, &next, &worker])?;
                Some(Claim {
                    number: next as u64,
                    rates: None,
                })
            } else {
                None
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
            .client()
            .execute(
                &sql::set_rates(),
                &[&study, &(number as i64), &worker, &json, &sampled_by],
            )
            .with_context(|| self.ctx(&format!("storing rates of trial {number} of {study}")))?;
        Ok(n == 1)
    }

    fn heartbeat(&self, study: &str, number: u64, worker: &str) -> Result<bool> {
        let n = self
            .client()
            .execute(&q(&sql::heartbeat()), &[&study, &(number as i64), &worker])
            .with_context(|| self.ctx(&format!("heartbeat of trial {number} of {study}")))?;
        Ok(n == 1)
    }

    fn record_rung(&self, r: &RungRow) -> Result<bool> {
        let n = self
            .client()
            .execute(
                &q(&sql::record_rung()),
                &[
                    &r.study,
                    &(r.number as i64),
                    &r.worker,
                    &(r.resource as i64),
                    &r.p_s,
                    &r.p_o,
                    &r.value,
                    &r.seconds,
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
        let rows = self
            .client()
            .query(sql::RUNG_VALUES, &[&study, &(resource as i64)])
            .with_context(|| self.ctx(&format!("reading rung {resource} of study {study}")))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn finish(&self, study: &str, number: u64, worker: &str, f: &Finish) -> Result<bool> {
        let extra = f.extra.as_ref().map(serde_json::to_string).transpose()?;
        let n = self
            .client()
            .execute(
                &q(&sql::finish()),
                &[
                    &study,
                    &(number as i64),
                    &worker,
                    &f.state.as_str(),
                    &f.a1,
                    &f.p_s,
                    &f.p_o,
                    &f.objective,
                    &f.reason,
                    &extra,
                    &f.seconds,
                ],
            )
            .with_context(|| self.ctx(&format!("finishing trial {number} of {study}")))?;
        Ok(n == 1)
    }

    fn trials(&self, study: &str) -> Result<Vec<TrialRow>> {
        let rows = self
            .client()
            .query(&sql::trials(), &[&study])
            .with_context(|| self.ctx(&format!("reading trials of study {study}")))?;
        rows.iter()
            .map(|r| decode_trial(study, r))
            .collect::<Result<_>>()
            .with_context(|| self.ctx(&format!("decoding trials of study {study}")))
    }

    fn rungs(&self, study: &str) -> Result<Vec<RungRow>> {
        let rows = self
            .client()
            .query(sql::RUNGS, &[&study])
            .with_context(|| self.ctx(&format!("reading rungs of study {study}")))?;
        rows.iter()
            .map(|r| decode_rung(study, r))
            .collect::<Result<_>>()
            .with_context(|| self.ctx(&format!("decoding rungs of study {study}")))
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h:5432/db"), "postgres://u@h:5432/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }
}
