//! The README section "Use it on your data", run as written: its shell blocks, in order, in a
//! scratch folder that sees the checkout's `target/` and `models/`, holds the reviews and
//! paraphrase files the section describes (made of SST-2 and MRPC rows) and has no GLUE
//! folder. Then what they wrote is checked: the study's trials, the rates each command
//! used, the label sets in the record and the saved models, and the predictions.
//! `make test-own-data` runs this test alone.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

mod common;
use common::{assert_success, glue_rows, read_jsonl as jsonl, workspace};

const SECTION: &str = "Use it on your data";

/// The ```sh blocks of the README section `title`, in order.
fn shell_blocks(title: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let start = readme
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("README has no section {title:?}"));
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    section
        .split("```sh\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap().to_string())
        .collect()
}

/// `reviews/<name>.csv`: SST-2 rows as `text,label` with labels `negative` / `positive`.
fn write_reviews(dir: &Path, name: &str, range: std::ops::Range<usize>) {
    std::fs::create_dir_all(dir.join("reviews")).unwrap();
    let mut w = csv::Writer::from_path(dir.join("reviews").join(format!("{name}.csv"))).unwrap();
    w.write_record(["text", "label"]).unwrap();
    for row in glue_rows("SST-2/train.tsv", range) {
        let label = if row[1] == "1" {
            "positive"
        } else {
            "negative"
        };
        w.write_record([row[0].trim(), label]).unwrap();
    }
    w.flush().unwrap();
}

/// `para/<name>.jsonl`: MRPC rows as `{"s1", "s2", "same"}` with integer labels.
fn write_pairs(dir: &Path, name: &str, range: std::ops::Range<usize>) {
    std::fs::create_dir_all(dir.join("para")).unwrap();
    let lines: Vec<String> = glue_rows("MRPC/train.tsv", range)
        .iter()
        .map(|r| {
            let same: i64 = r[0].parse().unwrap();
            serde_json::json!({"s1": r[3], "s2": r[4], "same": same}).to_string()
        })
        .collect();
    std::fs::write(
        dir.join("para").join(format!("{name}.jsonl")),
        lines.join("\n") + "\n",
    )
    .unwrap();
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_readme_commands_on_your_own_data_run_as_written() {
    let blocks = shell_blocks(SECTION);
    let all = blocks.join("\n");
    for command in [
        "search ",
        "combine ",
        "run ",
        "finetune ",
        "export-param-groups ",
        "predict ",
    ] {
        assert!(
            all.contains(&format!("target/release/lrdist {command}")),
            "the section runs no `lrdist {command}`"
        );
    }
    // The README's commands run target/release/lrdist: it must be the binary under test.
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_lrdist"))
        .canonicalize()
        .unwrap();
    assert_eq!(binary, workspace().join("target/release/lrdist"));

    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for part in ["target", "models"] {
        std::os::unix::fs::symlink(workspace().join(part), d.join(part)).unwrap();
    }
    write_reviews(d, "train", 0..96);
    write_reviews(d, "dev", 96..144);
    write_pairs(d, "train", 0..96);
    write_pairs(d, "dev", 96..144);
    for block in &blocks {
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", block])
            .current_dir(d)
            .env_remove("GLUE_DIR")
            .env_remove("LRDIST_MODEL")
            .env_remove("LRDIST_CACHE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README block failed:\n{block}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // The search: two trials, both complete.
    let export = Command::new(&binary)
        .current_dir(d)
        .args(["search", "export", "my_pair.sqlite", "--csv", "trials.csv"])
        .output()
        .unwrap();
    assert_success(&export);
    let mut trials = csv::Reader::from_path(d.join("trials.csv")).unwrap();
    let states: Vec<String> = trials
        .records()
        .map(|r| r.unwrap()[2].to_string())
        .collect();
    assert_eq!(states, ["complete", "complete"]);

    // The combined rates, one per depth of MiniLM-L6, are what run and export used.
    let rates_file: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(d.join("my_pair_rates.yaml")).unwrap())
            .unwrap();
    let rates: Vec<f64> = rates_file["rates"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| r.as_f64().unwrap())
        .collect();
    assert_eq!(rates.len(), 8);
    let records = jsonl(&d.join("my_pair_runs.jsonl"));
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record["scenario"], "reviews->para");
    let per_depth: Vec<f64> = record["distribution"]["per_depth"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_f64().unwrap())
        .collect();
    assert_eq!(per_depth, rates);
    assert_eq!(record["stages"][0]["train_rows"], 64);
    let files = record["file_tasks"].as_array().unwrap();
    assert_eq!(
        files[0]["labels"]["classes"],
        serde_json::json!(["negative", "positive"])
    );
    assert_eq!(files[1]["labels"]["classes"], serde_json::json!(["0", "1"]));
    assert_eq!(files[1]["task"]["text_pair"], "s2");
    let groups = json(&d.join("my_pair_groups.json"));
    for g in groups.as_array().unwrap() {
        let lr = g["lr"].as_f64().unwrap();
        assert!(
            rates.contains(&lr),
            "group rate {lr} is not one of {rates:?}"
        );
    }

    // The saved models carry the label sets; the predictions are labels of them.
    let head = json(&d.join("saved/my_pair/reviews/lrdist_head.json"));
    assert_eq!(
        head["id2label"],
        serde_json::json!({"0": "negative", "1": "positive"}),
        "{head}"
    );
    let head = json(&d.join("saved/my_pair/para/lrdist_head.json"));
    assert_eq!(
        head["id2label"],
        serde_json::json!({"0": "0", "1": "1"}),
        "{head}"
    );
    let config = json(&d.join("saved/reviews/config.json"));
    assert_eq!(
        config["id2label"],
        serde_json::json!({"0": "negative", "1": "positive"})
    );
    let reviews = jsonl(&d.join("saved/reviews.jsonl"));
    assert_eq!(reviews.len(), 2);
    for p in &reviews {
        assert!(
            ["negative", "positive"].contains(&p["label"].as_str().unwrap()),
            "{p}"
        );
    }
    let pairs = jsonl(&d.join("saved/para.jsonl"));
    assert_eq!(pairs.len(), 1);
    let probabilities = pairs[0]["probabilities"].as_object().unwrap();
    assert_eq!(probabilities.keys().collect::<Vec<_>>(), ["0", "1"]);
}
