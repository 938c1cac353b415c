//! Tests on the real GLUE files and the real MiniLM tokenizer.
//!
//! GLUE is found at `$GLUE_DIR`, else `<workspace>/../shared/glue`; the model at
//! `$LRDIST_MODEL`, else `<workspace>/models/all-MiniLM-L6-v2`. Missing data fails.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lrdist_data::{
    load_task, make_batches, padding_stats, read_split, stratified_sample, BatchOrder, DataSpec,
    Example, FileTask, GlueTask, Split, TaskKind, TaskSpec, TextTokenizer,
};

fn glue_dir() -> PathBuf {
    let dir = std::env::var_os("GLUE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/glue"))
        });
    assert!(
        dir.join("CoLA").is_dir(),
        "no GLUE data at {}: set GLUE_DIR",
        dir.display()
    );
    dir
}

fn model_dir() -> PathBuf {
    let dir = std::env::var_os("LRDIST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../models/all-MiniLM-L6-v2"
            ))
        });
    assert!(
        dir.join("tokenizer.json").is_file(),
        "no model at {}: set LRDIST_MODEL",
        dir.display()
    );
    dir
}

fn read(task: GlueTask, split: Split) -> Vec<Example> {
    read_split(&glue_dir(), task, split).unwrap_or_else(|e| panic!("{task} {split:?}: {e:#}"))
}

/// Rows per class index (STS-B: per rounded score).
fn label_counts(rows: &[Example]) -> BTreeMap<i64, usize> {
    let mut counts = BTreeMap::new();
    for row in rows {
        *counts.entry(row.label.round() as i64).or_default() += 1;
    }
    counts
}

#[test]
fn complete_files_have_official_row_counts() {
    let official = [
        (GlueTask::Cola, Split::Train, 8551),
        (GlueTask::Cola, Split::Dev, 1043),
        (GlueTask::Sst2, Split::Train, 67349),
        (GlueTask::Sst2, Split::Dev, 872),
        (GlueTask::Mrpc, Split::Train, 3668),
        (GlueTask::Mrpc, Split::Dev, 408),
        (GlueTask::Stsb, Split::Train, 5749),
        (GlueTask::Stsb, Split::Dev, 1500),
        (GlueTask::Qnli, Split::Dev, 5463),
        (GlueTask::Rte, Split::Train, 2490),
        (GlueTask::Rte, Split::Dev, 277),
        (GlueTask::Wnli, Split::Train, 635),
        (GlueTask::Wnli, Split::Dev, 71),
        (GlueTask::Mnli, Split::Dev, 9815),
        (GlueTask::Mnli, Split::DevMismatched, 9832),
    ];
    for (task, split, rows) in official {
        assert_eq!(read(task, split).len(), rows, "{task} {split:?}");
    }
}

#[test]
fn partial_files_load_within_official_size() {
    for (task, split, official) in [
        (GlueTask::Qqp, Split::Train, 363846),
        (GlueTask::Qqp, Split::Dev, 40430),
        (GlueTask::Mnli, Split::Train, 392702),
        (GlueTask::Qnli, Split::Train, 104743),
    ] {
        let rows = read(task, split).len();
        assert!(
            rows >= 1000 && rows <= official,
            "{task} {split:?}: {rows} rows"
        );
    }
}

#[test]
fn label_sets_and_known_label_counts() {
    for task in GlueTask::all() {
        for split in [Split::Train, Split::Dev] {
            let rows = read(task, split);
            let counts = label_counts(&rows);
            if task.is_regression() {
                assert_eq!(
                    counts.keys().copied().collect::<Vec<_>>(),
                    (0..=5).collect::<Vec<_>>(),
                    "{task}"
                );
            } else {
                let classes: Vec<i64> = (0..task.num_labels() as i64).collect();
                assert_eq!(
                    counts.keys().copied().collect::<Vec<_>>(),
                    classes,
                    "{task} {split:?}"
                );
            }
            assert!(
                rows.iter().all(|r| r.text_b.is_some() == task.is_pair()),
                "{task}"
            );
            assert!(rows.iter().all(|r| !r.text_a.is_empty()), "{task}");
        }
    }
    // Known statistics (SOURCES.md): class 0 first, in the Hugging Face label order.
    let expect = |task, split, counts: &[usize]| {
        let got: Vec<usize> = label_counts(&read(task, split)).into_values().collect();
        assert_eq!(got, counts, "{task} {split:?}");
    };
    expect(GlueTask::Sst2, Split::Train, &[29780, 37569]);
    expect(GlueTask::Sst2, Split::Dev, &[428, 444]);
    expect(GlueTask::Mnli, Split::Dev, &[3479, 3123, 3213]);
    expect(GlueTask::Mnli, Split::DevMismatched, &[3463, 3129, 3240]);
    expect(GlueTask::Qnli, Split::Dev, &[2702, 2761]);
}

#[test]
fn mrpc_text_has_no_bom_and_mnli_dev_text_is_filled() {
    let mrpc = read(GlueTask::Mrpc, Split::Train);
    assert!(
        mrpc[0].text_a.starts_with("Amrozi accused his brother"),
        "{:?}",
        mrpc[0].text_a
    );
    assert_eq!(mrpc[0].line, 2);
    let mnli = read(GlueTask::Mnli, Split::DevMismatched);
    assert!(mnli
        .iter()
        .all(|r| !r.text_a.is_empty() && !r.text_b.as_deref().unwrap_or("").is_empty()));
}

#[test]
fn qqp_dev_from_train() {
    let all = read(GlueTask::Qqp, Split::Train);
    let spec = DataSpec {
        dev_from_train: Some(2000),
        seed: 0,
        ..DataSpec::default()
    };
    let data = load_task(&glue_dir(), &GlueTask::Qqp.into(), &spec).unwrap();
    assert_eq!((data.dev.len(), data.train.len()), (2000, all.len() - 2000));
    let train_lines: std::collections::HashSet<usize> = data.train.iter().map(|r| r.line).collect();
    assert!(data.dev.iter().all(|r| !train_lines.contains(&r.line)));
    assert_eq!(
        data.dev_source,
        "train.tsv held-out 2000 rows (label-stratified, seed 0)"
    );
    // Duplicate rate of the held-out rows equals the file's, to one row.
    let duplicates = |rows: &[Example]| rows.iter().filter(|r| r.label == 1.0).count() as f64;
    let expected = duplicates(&all) / all.len() as f64 * 2000.0;
    assert!((duplicates(&data.dev) - expected).abs() <= 1.0);
    let other_seed = load_task(
        &glue_dir(),
        &GlueTask::Qqp.into(),
        &DataSpec { seed: 1, ..spec },
    )
    .unwrap();
    assert_ne!(other_seed.dev, data.dev);
}

/// Mean tokens per row (special tokens included) with the MiniLM tokenizer on a
/// 2000-row train sample, against means measured with the Python tokenizer.
#[test]
fn minilm_token_counts() {
    let tokenizer = TextTokenizer::from_model_dir(&model_dir(), 512).unwrap();
    assert_eq!(tokenizer.pad_id(), 0);
    for (task, measured) in [
        (GlueTask::Sst2, 13.0),
        (GlueTask::Cola, 12.0),
        (GlueTask::Stsb, 28.0),
        (GlueTask::Mrpc, 53.0),
        (GlueTask::Rte, 70.0),
    ] {
        let rows = stratified_sample(&read(task, Split::Train), 2000, 0, task.is_regression());
        let encoded = tokenizer.encode(&rows).unwrap();
        let mean = encoded.iter().map(|e| e.ids.len()).sum::<usize>() as f64 / encoded.len() as f64;
        eprintln!("{task}: {mean:.2} tokens per row");
        assert!(
            (mean - measured).abs() <= 0.15 * measured,
            "{task}: mean {mean:.2}, measured {measured}"
        );
        assert!(encoded
            .iter()
            .all(|e| e.ids[0] == 101 && e.ids.last() == Some(&102)));
    }
}

#[test]
fn minilm_truncates_to_our_length_and_pads_per_batch() {
    let tokenizer = TextTokenizer::from_model_dir(&model_dir(), 64).unwrap();
    let rows = stratified_sample(&read(GlueTask::Rte, Split::Train), 500, 0, false);
    let encoded = tokenizer.encode(&rows).unwrap();
    let longest = encoded.iter().map(|e| e.ids.len()).max().unwrap();
    let shortest = encoded.iter().map(|e| e.ids.len()).min().unwrap();
    assert_eq!(longest, 64);
    assert!(shortest < 64, "no fixed padding from tokenizer.json");
    assert!(encoded
        .iter()
        .all(|e| e.type_ids.contains(&1) && e.type_ids[0] == 0));

    let sst2 = stratified_sample(&read(GlueTask::Sst2, Split::Train), 2000, 0, false);
    let encoded = TextTokenizer::from_model_dir(&model_dir(), 128)
        .unwrap()
        .encode(&sst2)
        .unwrap();
    let shuffled = padding_stats(&make_batches(
        &encoded,
        32,
        BatchOrder::Shuffled { seed: 0 },
        0,
    ));
    let bucketed = padding_stats(&make_batches(
        &encoded,
        32,
        BatchOrder::Bucketed { seed: 0 },
        0,
    ));
    eprintln!("SST-2 padding: shuffled {shuffled:?}, bucketed {bucketed:?}");
    assert_eq!(shuffled.0, bucketed.0);
    assert!(bucketed.1 * 4 < shuffled.1);
}

/// GLUE is the built-in case of file tasks: SST-2's and STS-B's own TSV files named as file
/// tasks load the rows the GLUE tasks load, with the same labels (SST-2's `0`/`1` sort into
/// GLUE's class order) and the same seeded selection.
#[test]
fn glue_files_as_file_tasks_load_what_the_glue_tasks_load() {
    let glue = glue_dir();
    let spec = DataSpec {
        max_train: Some(500),
        max_dev: Some(200),
        dev_from_train: None,
        seed: 3,
    };
    for (task, text, pair, label, kind) in [
        (
            GlueTask::Sst2,
            "sentence",
            None,
            "label",
            TaskKind::Classification,
        ),
        (
            GlueTask::Stsb,
            "sentence1",
            Some("sentence2"),
            "score",
            TaskKind::Regression,
        ),
    ] {
        let dir = glue.join(task.dir_name());
        let file = TaskSpec::File(FileTask {
            name: format!("my-{task}"),
            train: dir.join("train.tsv"),
            dev: dir.join("dev.tsv"),
            text: text.into(),
            text_pair: pair.map(Into::into),
            label: label.into(),
            kind,
        });
        let built_in = load_task(&glue, &task.into(), &spec).unwrap();
        let own = load_task(&glue, &file, &spec).unwrap();
        assert_eq!(own.train, built_in.train, "{task}");
        assert_eq!(own.dev, built_in.dev, "{task}");
        assert_eq!(own.task.labels(), built_in.task.labels(), "{task}");
        assert!(own.file.is_some() && built_in.file.is_none());
    }
}
