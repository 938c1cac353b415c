//! `-` as a file name is standard output (`data sample --out -`, `search export --csv -`),
//! and a reader that stops early (`| head`) ends the command quietly with status 0 instead
//! of a panic ("failed printing to stdout: Broken pipe"). Before, `--out -` wrote a file
//! named `-`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;
use common::{model, workspace};

/// A GLUE folder with a synthetic SST-2 of `rows` train rows (a few dev rows).
fn synthetic_glue(dir: &Path, rows: usize) -> PathBuf {
    let sst2 = dir.join("glue/SST-2");
    std::fs::create_dir_all(&sst2).unwrap();
    let mut train = String::from("sentence\tlabel\n");
    for i in 0..rows {
        train.push_str(&format!("a film numbered {i} that some liked\t{}\n", i % 2));
    }
    std::fs::write(sst2.join("train.tsv"), train).unwrap();
    std::fs::write(sst2.join("dev.tsv"), "sentence\tlabel\ngood\t1\nbad\t0\n").unwrap();
    dir.join("glue")
}

fn sample(dir: &Path, rows: usize) -> Command {
    let glue = synthetic_glue(dir, rows);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lrdist"));
    cmd.current_dir(dir)
        .args(["data", "sample", "--task", "sst2", "--out", "-", "-q"])
        .args(["--max-train", &rows.to_string()])
        .arg("--glue-dir")
        .arg(glue)
        .arg("--model")
        .arg(model());
    cmd
}

#[test]
fn data_sample_out_dash_writes_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let out = sample(dir.path(), 50).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("sentence\tlabel"));
    assert_eq!(lines.count(), 50);
    assert!(!dir.path().join("-").exists(), "wrote a file named `-`");
}

#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    // ~1 MB of rows: far more than a pipe holds, so writing meets the closed pipe.
    let mut child = sample(dir.path(), 25_000)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 15];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // read a little, then close
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(status.success(), "{status:?}: {stderr}");
    assert_eq!(&first, b"sentence\tlabel\n");
}

#[test]
fn search_export_csv_dash_writes_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("study.sqlite");
    std::fs::copy(
        workspace().join("results/search/forget/sst2_mrpc.sqlite"),
        &study,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lrdist"))
        .current_dir(dir.path())
        .args(["search", "export"])
        .arg(&study)
        .args(["--csv", "-"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    assert!(rows.headers().unwrap().iter().any(|h| h == "trial"));
    assert_eq!(rows.records().count(), 30, "the study's 30 trials");
    assert!(!dir.path().join("-").exists(), "wrote a file named `-`");
}
