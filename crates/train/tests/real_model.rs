//! Integration tests on the real default model (MiniLM-L6) and real GLUE rows, sized to
//! stay fast. They need the model (`make model`) and GLUE (`GLUE_DIR`, default
//! `../shared/glue`); missing either is a failure that says what to set.

mod common;

use common::{context, small_scale};
use lrdist_data::GlueTask;
use lrdist_optimizer::{DistributionSpec, GroupingSpec};
use lrdist_train::{Decision, Intervention, RunRequest, Runner, ScenarioSpec};

#[test]
fn finetuning_on_a_few_hundred_sst2_rows_learns() {
    let _rng = common::torch_rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let mut runner = Runner::new(context(tmp.path()));
    let report = runner
        .finetune(
            &GlueTask::Sst2.into(),
            &small_scale(400, 200, 2),
            &"flat:1e-4".parse().unwrap(),
            0,
        )
        .unwrap();
    let acc = report.metrics["accuracy"];
    eprintln!(
        "sst2 400 rows x 2 epochs: accuracy {acc:.4}, {:.1} samples/s",
        report.train_samples_per_s
    );
    assert_eq!(report.train_rows, 400);
    assert_eq!(report.dev_rows, 200);
    assert!(
        acc >= 0.70,
        "SST-2 accuracy {acc} after 400 rows x 2 epochs: no learning signal"
    );
    assert!(report.train_samples_per_s > 0.0 && report.padding_efficiency > 0.8);
}

#[test]
fn a_pair_run_produces_a_complete_record_and_the_stage1_cache_reproduces_it() {
    let _rng = common::torch_rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let mut runner = Runner::new(context(tmp.path()));
    let scenario = ScenarioSpec::Pair {
        first: GlueTask::Rte.into(),
        second: GlueTask::Mrpc.into(),
    };
    let mut req = RunRequest::new(
        scenario,
        "test",
        small_scale(64, 48, 1),
        "combined",
        DistributionSpec::paper_combined(),
        3,
    );
    req.stage2_only = true;
    runner.validate(&req).unwrap();
    let mut events = 0;
    let first = runner
        .run(&req, &mut |_| {
            events += 1;
            Decision::Continue
        })
        .unwrap();
    assert!(events >= 2);
    assert!(!first.stage1_cached);
    assert_eq!(first.scenario, "rte->mrpc");
    assert_eq!(
        first.distribution.per_depth.len(),
        8,
        "MiniLM-L6: embeddings, 6 layers, heads"
    );
    assert_eq!(first.distribution.transferred_from, Some(10));
    let (a1, p_o, p_s) = (first.a1.unwrap(), first.p_o.unwrap(), first.p_s.unwrap());
    assert!((first.forgetting.unwrap() - (a1 - p_o)).abs() < 1e-12);
    assert!((first.objective.unwrap() - (p_o + p_s)).abs() < 1e-12);
    assert_eq!(first.matrix.len(), 2);
    assert!(
        first.metrics[1][1].as_ref().unwrap().contains_key("f1"),
        "MRPC reports F1 too"
    );

    // Second run: stage 1 comes from the cache, and everything after it is identical.
    let second = runner.run(&req, &mut |_| Decision::Continue).unwrap();
    assert!(second.stage1_cached);
    assert_eq!(second.a1, first.a1);
    assert_eq!(second.p_s, first.p_s);
    assert_eq!(second.p_o, first.p_o);
}

#[test]
fn wise_ft_alphas_share_one_stage_b_and_match_a_trained_one() {
    let _rng = common::torch_rng_lock();
    let scenario = ScenarioSpec::Pair {
        first: GlueTask::Rte.into(),
        second: GlueTask::Mrpc.into(),
    };
    let wise_ft = |alpha: f64| {
        let mut req = RunRequest::new(
            scenario.clone(),
            "test",
            small_scale(48, 32, 1),
            &format!("wise-ft@{alpha}"),
            DistributionSpec::flat(1e-4),
            5,
        );
        req.stage2_only = true;
        req.intervention = Some(Intervention::WiseFt { alpha });
        req
    };
    let shared = tempfile::tempdir().unwrap();
    let mut runner = Runner::new(context(shared.path()));
    let first = runner
        .run(&wise_ft(0.5), &mut |_| Decision::Continue)
        .unwrap();
    assert!(!first.stage2_cached, "the first alpha trains stage B");
    let restored = runner
        .run(&wise_ft(0.25), &mut |_| Decision::Continue)
        .unwrap();
    assert!(restored.stage1_cached && restored.stage2_cached);
    assert_eq!(restored.a1, first.a1);
    let stages = |r: &lrdist_train::RunRecord| serde_json::to_value(&r.stages).unwrap();
    assert_eq!(
        stages(&restored),
        stages(&first),
        "the same stage B, epoch by epoch"
    );

    // The same alpha with empty caches trains both stages: identical numbers.
    let fresh = tempfile::tempdir().unwrap();
    let trained = Runner::new(context(fresh.path()))
        .run(&wise_ft(0.25), &mut |_| Decision::Continue)
        .unwrap();
    assert!(!trained.stage1_cached && !trained.stage2_cached);
    assert_eq!(restored.matrix, trained.matrix);
    assert_eq!(restored.metrics, trained.metrics);
    assert_ne!(
        restored.p_o, first.p_o,
        "another alpha, another interpolation"
    );
}

#[test]
fn wise_ft_restores_the_stage_b_its_batchs_flat_run_stored_with_identical_scores() {
    let _rng = common::torch_rng_lock();
    let pair = ScenarioSpec::Pair {
        first: GlueTask::Rte.into(),
        second: GlueTask::Mrpc.into(),
    };
    wise_ft_restores_flats_stage_b(pair);
}

#[test]
fn in_a_sequence_wise_ft_restores_every_stage_after_a_and_its_heads_from_flats_run() {
    let _rng = common::torch_rng_lock();
    // STS-B in the middle: its Pearson score moves with any change to its head, so a head
    // left unrestored shows (a classifier's accuracy on a few dev rows may not).
    let sequence = ScenarioSpec::Sequence {
        tasks: vec![
            GlueTask::Rte.into(),
            GlueTask::Stsb.into(),
            GlueTask::Sst2.into(),
        ],
    };
    wise_ft_restores_flats_stage_b(sequence);
}

/// Flat, then WiSE-FT restoring flat's stage B, against WiSE-FT trained from empty caches
/// on `scenario`: the same stages, loss for loss, and the same scores (every head's, as
/// WiSE-FT rescores every task after interpolating).
fn wise_ft_restores_flats_stage_b(scenario: ScenarioSpec) {
    let req = |method: &str| {
        let mut req = RunRequest::new(
            scenario.clone(),
            "test",
            small_scale(48, 32, 1),
            method,
            DistributionSpec::flat(1e-4),
            6,
        );
        req.stage2_only = true;
        if method == "wise-ft" {
            req.intervention = Some(Intervention::WiseFt { alpha: 0.5 });
        }
        req
    };
    let mut batch = vec![req("flat"), req("wise-ft")];
    assert_eq!(lrdist_train::runner::share_stage_b(&mut batch), 1);
    let shared = tempfile::tempdir().unwrap();
    let mut runner = Runner::new(context(shared.path()));
    let flat = runner.run(&batch[0], &mut |_| Decision::Continue).unwrap();
    assert!(!flat.stage2_cached, "flat trains stage B and stores it");
    let restored = runner.run(&batch[1], &mut |_| Decision::Continue).unwrap();
    assert!(restored.stage2_cached, "WiSE-FT restores flat's stage B");

    // WiSE-FT alone, from empty caches, trains stage B itself: the same numbers.
    let fresh = tempfile::tempdir().unwrap();
    let trained = Runner::new(context(fresh.path()))
        .run(&req("wise-ft"), &mut |_| Decision::Continue)
        .unwrap();
    assert!(!trained.stage2_cached);
    let stages = |r: &lrdist_train::RunRecord| {
        let mut v = serde_json::to_value(&r.stages).unwrap();
        for stage in v.as_array_mut().unwrap() {
            for key in ["seconds", "samples_per_s", "tokens_per_s"] {
                stage.as_object_mut().unwrap().remove(key);
            }
            for epoch in stage["epochs"].as_array_mut().unwrap() {
                epoch.as_object_mut().unwrap().remove("seconds");
            }
        }
        v
    };
    assert_eq!(
        stages(&flat),
        stages(&trained),
        "flat's stage B is WiSE-FT's, loss for loss"
    );
    assert_eq!(restored.matrix, trained.matrix);
    assert_eq!(restored.metrics, trained.metrics);
    assert_eq!((restored.p_o, restored.p_s), (trained.p_o, trained.p_s));
}

#[test]
fn invalid_requests_are_rejected_before_any_work() {
    let _rng = common::torch_rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let runner = Runner::new(context(tmp.path()));
    let pair = ScenarioSpec::Pair {
        first: GlueTask::Sst2.into(),
        second: GlueTask::Mrpc.into(),
    };
    // A bad distribution is refused where its text is parsed, before any request exists.
    for dist in ["flat:-1e-5", "flat:nan", "warp:3", "llrd:2e-5"] {
        assert!(dist.parse::<DistributionSpec>().is_err(), "{dist} accepted");
    }
    let mut req = RunRequest::new(
        pair.clone(),
        "test",
        small_scale(8, 8, 1),
        "x",
        DistributionSpec::paper_combined(),
        0,
    );
    req.grouping = GroupingSpec::Paper10; // the paper's split needs 12 layers; MiniLM has 6
    let msg = format!("{:#}", runner.validate(&req).unwrap_err());
    assert!(msg.contains("12"), "{msg}");
}

#[test]
fn embedding_and_length_shift_split_one_task_in_two() {
    let _rng = common::torch_rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let mut runner = Runner::new(context(tmp.path()));
    for scenario in [
        ScenarioSpec::EmbeddingShift {
            task: GlueTask::Mrpc.into(),
        },
        ScenarioSpec::LengthShift {
            task: GlueTask::Sst2.into(),
        },
    ] {
        let req = RunRequest::new(
            scenario.clone(),
            "test",
            small_scale(64, 64, 1),
            "flat",
            DistributionSpec::flat(1e-4),
            0,
        );
        let rec = runner.run(&req, &mut |_| Decision::Continue).unwrap();
        let rows: Vec<usize> = rec.stages.iter().map(|s| s.train_rows).collect();
        assert_eq!(
            rows.iter().sum::<usize>(),
            64,
            "{}: the two parts cover the rows",
            rec.scenario
        );
        assert!(rows.iter().all(|&r| r > 0));
        assert!(rec.p_o.is_some() && rec.p_s.is_some());
    }
    // the projection of a run at a scale other than quick is named after its scale
    let path = lrdist_train::runner::embeddings_path(tmp.path(), "mrpc", "test");
    let csv = std::fs::read_to_string(&path).unwrap();
    assert!(csv.starts_with("x,y,cluster,label,split\n"));
    assert_eq!(csv.lines().count(), 65);
}

#[test]
fn a_stage_checkpoint_of_several_heads_restores_each_of_them() {
    let _rng = common::torch_rng_lock();
    let model = context(std::path::Path::new("unused")).model_dir;
    let learner = |seed: i64| {
        let encoder = lrdist_model::Encoder::pretrained(&model, tch::Device::Cpu).unwrap();
        let mut l = lrdist_train::Learner::new(encoder, 0);
        l.add_head(GlueTask::Rte.into(), seed);
        l.add_head(GlueTask::Mrpc.into(), seed + 1);
        l.add_head(GlueTask::Stsb.into(), seed + 2);
        l
    };
    let weights = |l: &lrdist_train::Learner, head: usize| {
        let mut v: Vec<(String, Vec<f32>)> = l.heads()[head]
            .vs
            .variables()
            .into_iter()
            .map(|(name, t)| (name, Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let saved = learner(1);
    let dir = tempfile::tempdir().unwrap();
    saved.save_stage(&[2, 1], dir.path()).unwrap();
    let mut restored = learner(100);
    assert_ne!(
        weights(&restored, 1),
        weights(&saved, 1),
        "other seeds, other heads"
    );
    restored.load_stage(&[2, 1], dir.path()).unwrap();
    assert_eq!(weights(&restored, 2), weights(&saved, 2));
    assert_eq!(weights(&restored, 1), weights(&saved, 1));
    assert_ne!(
        weights(&restored, 0),
        weights(&saved, 0),
        "head 0 was not saved"
    );
}
