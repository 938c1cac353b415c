//! `lrdist predict` input errors exit 2 with one line naming the file, the line and the
//! column (or what is wrong with the model folder). No training: these fail before it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn model() -> PathBuf {
    std::env::var_os("LRDIST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2")
        })
}

fn predict(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lrdist"))
        .args(["predict", "--threads", "1", "-q"])
        .args(args)
        .output()
        .unwrap()
}

fn assert_input_error(out: &Output, wants: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    for want in wants {
        assert!(stderr.contains(want), "{want:?} not in {stderr}");
    }
    assert!(
        out.stdout.is_empty(),
        "nothing is written on an input error"
    );
}

#[test]
fn a_missing_column_or_an_empty_text_exits_2_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let model = model();
    let model = model.to_str().unwrap();
    let csv = dir.path().join("reviews.csv");
    std::fs::write(&csv, "id,review\n1,fine\n").unwrap();
    let out = predict(&["--model", model, "--input", csv.to_str().unwrap()]);
    assert_input_error(&out, &["reviews.csv:1:", "`text`", "review"]);

    std::fs::write(&csv, "text\nfine\n\n\"\"\n").unwrap();
    let out = predict(&["--model", model, "--input", csv.to_str().unwrap()]);
    assert_input_error(&out, &["reviews.csv:4: column `text` is empty"]);

    let jsonl = dir.path().join("pairs.jsonl");
    std::fs::write(
        &jsonl,
        "{\"text\": \"a\", \"b\": \"x\"}\n{\"text\": \"c\"}\n",
    )
    .unwrap();
    let args = [
        "--model",
        model,
        "--input",
        jsonl.to_str().unwrap(),
        "--text-pair-column",
        "b",
    ];
    assert_input_error(&predict(&args), &["pairs.jsonl:2: no column `b`"]);
}

#[test]
fn a_model_folder_without_a_head_exits_2_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("ok.csv");
    std::fs::write(&csv, "text\nfine\n").unwrap();
    let model = model();
    let out = predict(&[
        "--model",
        model.to_str().unwrap(),
        "--input",
        csv.to_str().unwrap(),
    ]);
    assert_input_error(&out, &["no task head", "lrdist_head.json"]);
}
