//! The committed results read through the one definition of each file format.
//!
//! - Every line of every `results/**/*.jsonl` that is a run record (it has a `schema`)
//!   parses as a [`RunRecord`]. A record of the current layout writes back byte for byte
//!   (`serde_json::to_string` is the line: what `append_record` writes); an older one
//!   differs only in the ways listed in [`OLDER`], and is otherwise the same JSON.
//! - Every `results/search/**/*.csv` trial export reads as [`StudyTrial`] rows and writes
//!   back byte for byte through [`write_trials_csv`], the writer `lrdist search export`
//!   uses.
//!
//! Run with `--nocapture` to see the counts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use lrdist_record::{read_trials, read_trials_csv, write_trials_csv, RunRecord};
use serde_json::Value;

fn results() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results")
}

/// The files under `dir` (recursively) whose name ends in `.<ext>`, sorted.
fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == ext) {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Every key path of `v`: `cl`, `cl.forgetting`, `stages[].flops` (the elements of an
/// array share one path).
fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(path.clone());
                key_paths(v, &path, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                key_paths(v, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn paths(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    key_paths(v, "", &mut out);
    out
}

/// How a record written by an older layout differs from what the current one writes, and
/// the edit of the older line that gives the current layout: (what, edit).
type LayoutChange = (&'static str, fn(&str) -> String);

/// Every layout change since the first committed record.
const OLDER: &[LayoutChange] = &[
    // `cl.forgetting` was renamed `max_drop_forgetting` (read under its old name).
    (
        "cl.forgetting renamed cl.max_drop_forgetting",
        |line| match line.find("\"cl\":{") {
            Some(cl) => {
                let (head, tail) = line.split_at(cl);
                format!(
                    "{head}{}",
                    tail.replacen(",\"forgetting\":", ",\"max_drop_forgetting\":", 1)
                )
            }
            None => line.to_string(),
        },
    ),
    // `stages[].flops` came later (read as 0, written `0.0` after `padding_efficiency`).
    ("stages[].flops missing (written as 0.0)", |line| {
        let mut out = String::new();
        let mut rest = line;
        while let Some(at) = rest.find("\"padding_efficiency\":") {
            let value_end = at
                + rest[at..]
                    .find([',', '}'])
                    .expect("a value after padding_efficiency");
            out.push_str(&rest[..value_end]);
            rest = &rest[value_end..];
            if rest.starts_with(",\"stopped_early\":") {
                out.push_str(",\"flops\":0.0");
            }
        }
        out.push_str(rest);
        out
    }),
];

/// What reading and writing back one line gave.
#[derive(Debug, PartialEq)]
enum RoundTrip {
    /// Written back byte for byte.
    Exact,
    /// An older layout: written back with these differences of [`OLDER`], and nothing
    /// else.
    Older(Vec<&'static str>),
}

/// Reads `line` as a [`RunRecord`] and writes it back; an error says how the line does not
/// fit the current layout or an older one.
fn round_trip(line: &str) -> Result<RoundTrip, String> {
    let record: RunRecord =
        serde_json::from_str(line).map_err(|e| format!("not a run record: {e}"))?;
    let written = serde_json::to_string(&record).unwrap();
    if written == line {
        return Ok(RoundTrip::Exact);
    }
    let mut upgraded = line.to_string();
    let mut why = Vec::new();
    for (what, upgrade) in OLDER {
        let next = upgrade(&upgraded);
        if next != upgraded {
            why.push(*what);
            upgraded = next;
        }
    }
    if why.is_empty() || upgraded != written {
        let (from, to) = (
            paths(&serde_json::from_str(line).unwrap()),
            paths(&serde_json::from_str(&written).unwrap()),
        );
        return Err(format!(
            "written back differently (keys only in the line {:?}, only written {:?}):\n  \
             {line}\n  {written}",
            from.difference(&to).collect::<Vec<_>>(),
            to.difference(&from).collect::<Vec<_>>()
        ));
    }
    Ok(RoundTrip::Older(why))
}

#[test]
fn committed_run_records_parse_and_write_back_as_they_were_written() {
    let (mut exact, mut older, mut other) = (0, 0, Vec::new());
    let mut reasons: BTreeMap<Vec<&str>, usize> = BTreeMap::new();
    let mut files = 0;
    let mut failures = Vec::new();
    for path in files_under(&results(), "jsonl") {
        files += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = format!("{}:{}", path.display(), i + 1);
            let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{at}: {e}"));
            if value.get("schema").is_none() {
                other.push(at);
                continue;
            }
            match round_trip(line) {
                Ok(RoundTrip::Exact) => exact += 1,
                Ok(RoundTrip::Older(why)) => {
                    older += 1;
                    *reasons.entry(why).or_default() += 1;
                }
                Err(e) => failures.push(format!("{at}: {e}")),
            }
        }
    }
    eprintln!(
        "{} run records in {files} files: {exact} written back byte for byte; {older} of an \
         older layout {reasons:?}; {} lines are not run records (no `schema`): {other:?}",
        exact + older,
        other.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        exact > 0 && files > 0,
        "no committed run record round-trips"
    );
}

#[test]
fn committed_study_exports_write_back_byte_for_byte() {
    let files = files_under(&results().join("search"), "csv");
    assert!(!files.is_empty(), "no study export under results/search");
    let mut trials = 0;
    for path in &files {
        let rows = read_trials_csv(path).unwrap_or_else(|e| panic!("{e:#}"));
        let mut buf = Vec::new();
        write_trials_csv(&rows, &mut buf).unwrap();
        let original = std::fs::read(path).unwrap();
        assert!(
            buf == original,
            "{} is written back differently:\n{}",
            path.display(),
            String::from_utf8_lossy(&buf)
        );
        trials += rows.len();
    }
    eprintln!(
        "{} study exports ({trials} trials) written back byte for byte",
        files.len()
    );
}

/// The checks above can fail: a record with a field renamed, a record the writer would
/// write differently, an export with a column renamed or a number written another way.
#[test]
fn a_changed_record_or_export_fails_the_checks() {
    let runs = files_under(&results().join("runs"), "jsonl");
    let line = runs
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .find(|l| round_trip(l) == Ok(RoundTrip::Exact))
        .expect("a committed record of the current layout");
    // A required field renamed: not a run record.
    let e = round_trip(&line.replacen("\"scale_spec\":", "\"scale_specs\":", 1)).unwrap_err();
    assert!(e.contains("missing field `scale_spec`"), "{e}");
    // An optional field renamed: it reads (as null), but does not write back.
    let renamed = line.replacen("\"p_o\":", "\"p_0\":", 1);
    let e = round_trip(&renamed).unwrap_err();
    assert!(e.contains("\"p_0\"") && e.contains("\"p_o\""), "{e}");
    // The same keys written another way (a float as an integer).
    let retyped = line.replacen("\"seconds\":", "\"seconds\":1,\"x\":", 1);
    assert!(round_trip(&retyped).is_err());
    let stretched = line.replacen("\"stopped_early\":", "\"stopped_early\": ", 1);
    let e = round_trip(&stretched).unwrap_err();
    assert!(e.contains("written back differently"), "{e}");
    let path = &files_under(&results().join("search"), "csv")[0];
    let text = std::fs::read_to_string(path).unwrap();
    let e = read_trials(text.replacen(",p_o,", ",p_0,", 1).as_bytes(), "t.csv").unwrap_err();
    assert!(format!("{e:#}").contains("no column \"p_o\""), "{e:#}");
    // A rate not in the writer's form (`20e-5` for `2e-5` with a 0 added): it reads, but
    // writes back as `2e-4`.
    let at = text
        .as_bytes()
        .windows(3)
        .position(|w| w[0].is_ascii_digit() && w[1] == b'e' && w[2] == b'-')
        .unwrap_or_else(|| panic!("{} has no rate", path.display()));
    let exponent = format!("{}0{}", &text[..=at], &text[at + 1..]);
    let rows = read_trials(exponent.as_bytes(), "t.csv").unwrap();
    let mut buf = Vec::new();
    write_trials_csv(&rows, &mut buf).unwrap();
    assert_ne!(String::from_utf8(buf).unwrap(), exponent);
}

/// Records read back hold exactly the floats written: serde_json parses with its
/// `float_roundtrip` feature (root Cargo.toml). Its default parser reads this number of a
/// committed calibration record (results/calibration/forget-qqp.jsonl) one ULP off (as
/// 0.3732861559540034), and such a record would not write back as it was written, nor
/// match a re-run's rates when resuming.
#[test]
fn floats_are_read_exactly() {
    for text in [
        "0.37328615595400333",
        "0.1",
        "2.7755575615628914e-17",
        "1e-4",
    ] {
        let parsed: f64 = serde_json::from_str(text).unwrap();
        assert_eq!(parsed, text.parse::<f64>().unwrap(), "{text}");
    }
}
