//! Bad input exits 2 with one line naming the file and line, wherever it is found
//! (issue 17: a malformed GLUE row exited 1 while other bad input exited 2).

use std::path::PathBuf;
use std::process::Command;

fn model() -> PathBuf {
    std::env::var_os("LRDIST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2")
        })
}

#[test]
fn a_malformed_glue_row_exits_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let sst2 = dir.path().join("SST-2");
    std::fs::create_dir_all(&sst2).unwrap();
    std::fs::write(
        sst2.join("train.tsv"),
        "sentence\tlabel\na fine film\t1\na dull one\t0\nno label column here\n",
    )
    .unwrap();
    std::fs::write(sst2.join("dev.tsv"), "sentence\tlabel\ngood\t1\nbad\t0\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lrdist"))
        .args([
            "finetune",
            "--task",
            "sst2",
            "--epochs",
            "1",
            "--threads",
            "1",
            "-q",
        ])
        .arg("--glue-dir")
        .arg(dir.path())
        .arg("--model")
        .arg(model())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("train.tsv:4:"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
