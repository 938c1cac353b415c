//! `--save` folders give Hugging Face `transformers` lrdist's logits (issue 16, item 2):
//! a `pooler` head through `AutoModelForSequenceClassification`, a `cls` head through
//! `python/lrdist_head.py`, each within 1e-4 of lrdist on 32 fixed GLUE rows (the first
//! 16 SST-2 dev sentences and the first 16 MRPC dev pairs, each folder's own tokenizer,
//! padded together). Needs the real model and GLUE, no Python: transformers' logits are
//! in `tests/fixtures/save_logits.safetensors`.
//!
//! The folders are made deterministically, so this test makes them again: on one thread
//! (dropout masks depend on the thread count), seed 0, flat 1e-4, 32 train and 32 dev rows
//! per task, one epoch, batch 8:
//! - `pooler_sst2`, `pooler_stsb`: `lrdist run --tasks sst2,stsb --head pooler --save
//!   DIR/pooler` (two BertForSequenceClassification folders, the second a regression);
//! - `cls_mrpc`: `lrdist finetune --task mrpc --save DIR/cls_mrpc` (a BertModel folder
//!   plus lrdist_head.*).
//!
//! How the fixture was made (once, from the workspace root, with transformers in .venv):
//!
//! ```sh
//! LRDIST_SAVE_FIXTURE_OUT=/tmp/lrdist-save-fixture nice cargo test --release \
//!     -p lrdist-train --test save_fixture
//! .venv/bin/python scripts/make_save_fixture.py --saved /tmp/lrdist-save-fixture
//! ```
//!
//! The first command (this test with `LRDIST_SAVE_FIXTURE_OUT` set) writes the folders,
//! the rows, `folders.json` and lrdist's logits (`lrdist_logits.safetensors`) there and
//! compares nothing; the script loads each folder with transformers, checks its logits
//! against lrdist's and writes the fixture (its metadata holds the command, the versions
//! and the differences it measured).

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::{context, small_scale};
use lrdist_data::{make_batches, read_split, BatchOrder, Example, GlueTask, Split, TextTokenizer};
use lrdist_model::{Classifier, Encoder, HeadKind, Labels};
use lrdist_train::inputs::BatchTensors;
use lrdist_train::{
    Decision, FinetuneOptions, RunContext, RunRequest, Runner, ScaleSpec, ScenarioSpec,
};
use tch::{Device, Tensor};

const TOLERANCE: f64 = 1e-4;
const ROWS_PER_TASK: usize = 16;
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/save_logits.safetensors"
);

/// 32 train and 32 dev rows per task, one epoch, batch 8.
fn tiny_scale() -> ScaleSpec {
    small_scale(32, 32, 1)
}

/// A saved folder: its name in the fixture, where it is, its head and labels.
struct Saved {
    name: &'static str,
    dir: PathBuf,
    kind: HeadKind,
    labels: Labels,
}

/// Trains and saves the three folders under `out` (see the module docs).
fn make_folders(ctx: RunContext, out: &Path) -> Vec<Saved> {
    tch::set_num_threads(1);
    let mut runner = Runner::new(ctx);
    let scenario = ScenarioSpec::Sequence {
        tasks: vec![GlueTask::Sst2.into(), GlueTask::Stsb.into()],
    };
    let flat = lrdist_optimizer::DistributionSpec::flat(1e-4);
    let mut req = RunRequest::new(scenario, "fixture", tiny_scale(), "flat", flat.clone(), 0);
    req.head = HeadKind::Pooler;
    req.save = Some(out.join("pooler"));
    let record = runner.run(&req, &mut |_| Decision::Continue).unwrap();
    assert_eq!(record.head, HeadKind::Pooler);
    let opts = FinetuneOptions {
        head: HeadKind::Cls,
        save: Some(out.join("cls_mrpc")),
    };
    let report = runner
        .finetune_with(&GlueTask::Mrpc.into(), &tiny_scale(), &flat, 0, &opts)
        .unwrap();
    assert_eq!(
        report.saved.as_deref(),
        Some(out.join("cls_mrpc").to_str().unwrap())
    );
    let two = Labels::classes(&["0", "1"]);
    vec![
        Saved {
            name: "pooler_sst2",
            dir: out.join("pooler/sst2"),
            kind: HeadKind::Pooler,
            labels: two.clone(),
        },
        Saved {
            name: "pooler_stsb",
            dir: out.join("pooler/stsb"),
            kind: HeadKind::Pooler,
            labels: Labels::Regression,
        },
        Saved {
            name: "cls_mrpc",
            dir: out.join("cls_mrpc"),
            kind: HeadKind::Cls,
            labels: two,
        },
    ]
}

/// The 32 rows: SST-2 dev sentences 1-16, MRPC dev pairs 1-16.
fn rows(glue: &Path) -> Vec<Example> {
    let sst2 = read_split(glue, GlueTask::Sst2, Split::Dev).unwrap();
    let mrpc = read_split(glue, GlueTask::Mrpc, Split::Dev).unwrap();
    sst2.into_iter()
        .take(ROWS_PER_TASK)
        .chain(mrpc.into_iter().take(ROWS_PER_TASK))
        .collect()
}

/// `rows` tokenised by the tokenizer of `dir`, padded together to the longest row.
fn batch(dir: &Path, rows: &[Example]) -> BatchTensors {
    let tokenizer = TextTokenizer::from_model_dir(dir, 128).unwrap();
    let encoded = tokenizer.encode(rows).unwrap();
    let batch = make_batches(
        &encoded,
        rows.len(),
        BatchOrder::Sequential,
        tokenizer.pad_id(),
    )
    .pop()
    .unwrap();
    BatchTensors::new(&batch, Device::Cpu)
}

fn logits(c: &Classifier, t: &BatchTensors) -> Tensor {
    c.logits(&t.input_ids, &t.token_type_ids, &t.attention_mask)
}

/// Writes what `scripts/make_save_fixture.py` reads: the rows, the folders, lrdist's ids
/// and logits.
fn write_generation_inputs(out: &Path, saved: &[Saved], rows: &[Example]) {
    let lines: Vec<String> = rows
        .iter()
        .map(|r| serde_json::json!({"text": r.text_a, "text_pair": r.text_b}).to_string())
        .collect();
    std::fs::write(out.join("rows.jsonl"), lines.join("\n") + "\n").unwrap();
    let t = batch(&saved[0].dir, rows);
    let mut tensors = vec![
        ("input_ids".to_string(), t.input_ids.shallow_clone()),
        (
            "token_type_ids".to_string(),
            t.token_type_ids.shallow_clone(),
        ),
        (
            "attention_mask".to_string(),
            t.attention_mask.shallow_clone(),
        ),
    ];
    let mut folders = Vec::new();
    for s in saved {
        let c = Classifier::load(&s.dir, Device::Cpu).unwrap();
        tensors.push((s.name.to_string(), logits(&c, &batch(&s.dir, rows))));
        folders.push(serde_json::json!({
            "name": s.name,
            "path": s.dir.strip_prefix(out).unwrap(),
            "head": s.kind,
            "labels": s.labels.names(),
            "problem_type": s.labels.problem_type(),
        }));
    }
    Tensor::write_safetensors(&tensors, out.join("lrdist_logits.safetensors")).unwrap();
    let json = serde_json::to_string_pretty(&folders).unwrap();
    std::fs::write(out.join("folders.json"), json + "\n").unwrap();
    eprintln!(
        "wrote the folders and lrdist's logits to {}; now run\n  \
         .venv/bin/python scripts/make_save_fixture.py --saved {}",
        out.display(),
        out.display()
    );
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

#[test]
fn saved_folders_give_transformers_the_logits_of_lrdist() {
    let _rng = common::torch_rng_lock();
    if let Some(out) = std::env::var_os("LRDIST_SAVE_FIXTURE_OUT") {
        let out = PathBuf::from(out);
        std::fs::create_dir_all(&out).unwrap();
        let ctx = context(&out);
        let glue = ctx.glue_dir.clone();
        let saved = make_folders(ctx, &out);
        write_generation_inputs(&out, &saved, &rows(&glue));
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path());
    let (glue, model) = (ctx.glue_dir.clone(), ctx.model_dir.clone());
    let saved = make_folders(ctx, tmp.path());
    let rows = rows(&glue);
    let want: HashMap<String, Tensor> = Tensor::read_safetensors(FIXTURE)
        .unwrap_or_else(|e| panic!("reading {FIXTURE}: {e}"))
        .into_iter()
        .collect();
    let pretrained = Encoder::pretrained(&model, Device::Cpu).unwrap();
    let query = "encoder.layer.0.attention.self.query.weight";
    for s in &saved {
        let t = batch(&s.dir, &rows);
        // The folder's tokenizer files tokenise as transformers' AutoTokenizer did.
        for key in ["input_ids", "token_type_ids", "attention_mask"] {
            let got = match key {
                "input_ids" => &t.input_ids,
                "token_type_ids" => &t.token_type_ids,
                _ => &t.attention_mask,
            };
            assert!(
                got.equal(&want[key]),
                "{}: {key} differ from AutoTokenizer's",
                s.name
            );
        }
        let c = Classifier::load(&s.dir, Device::Cpu).unwrap();
        assert_eq!((c.kind, &c.labels), (s.kind, &s.labels), "{}", s.name);
        let diff = max_abs_diff(&logits(&c, &t), &want[s.name]);
        eprintln!("{}: max |lrdist - transformers| = {diff:.2e}", s.name);
        assert!(diff <= TOLERANCE, "{}: logits differ by {diff}", s.name);
        // The folder holds the trained encoder, not the pretrained one.
        let moved = max_abs_diff(
            &c.encoder.vs.variables()[query],
            &pretrained.vs.variables()[query],
        );
        assert!(moved > 1e-5, "{}: {query} moved by {moved} only", s.name);
    }
}
