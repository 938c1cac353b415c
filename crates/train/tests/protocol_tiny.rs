//! The training loop and the protocol on a tiny random-initialised BERT and synthetic
//! rows: fast, no model files, no GLUE.

mod common;

use lrdist_data::{Encoded, GlueTask, Task};
use lrdist_model::{BertConfig, Encoder};
use lrdist_optimizer::AdamWConfig;
use lrdist_train::inputs::RowSet;
use lrdist_train::learner::{Decision, Learner, StageSettings};
use lrdist_train::penalty::{PenalisedModel, Penalty};
use lrdist_train::protocol::{run_plan, RunSettings, StagePlan};
use lrdist_train::PenaltySpec;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Tensor};

/// Rows of random tokens 3..100 (lengths 4..12); label 1 iff token `marker` occurs.
fn marker_rows(task: GlueTask, n: usize, marker: i64, seed: u64) -> RowSet {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rows = (0..n)
        .map(|i| {
            let len = rng.random_range(4..12);
            let mut ids: Vec<i64> = (0..len)
                .map(|_| rng.random_range(3..100))
                .filter(|&t| t != marker)
                .collect();
            let label = (i % 2) as f32;
            if label == 1.0 {
                let pos = rng.random_range(1..ids.len());
                ids[pos] = marker;
            }
            ids.insert(0, 1); // [CLS]
            ids.push(2); // [SEP]
            Encoded {
                type_ids: vec![0; ids.len()],
                ids,
                label,
            }
        })
        .collect();
    RowSet {
        task: Task::glue(task),
        name: format!("{task}/synthetic"),
        rows,
    }
}

fn tiny_learner(seed: i64) -> Learner {
    tch::manual_seed(seed);
    let mut cfg = BertConfig::tiny();
    cfg.hidden_dropout_prob = 0.0;
    cfg.attention_probs_dropout_prob = 0.0;
    Learner::new(Encoder::random(&cfg, Device::Cpu, seed), 0)
}

fn stage_settings(epochs: usize) -> StageSettings {
    StageSettings {
        epochs,
        batch_size: 16,
        eval_batch_size: 64,
        bucketing: true,
        optimizer: AdamWConfig::default(),
        seed: 3,
        progress: false,
        train_from_depth: 0,
    }
}

fn flat(learner: &Learner, lr: f64) -> Vec<f64> {
    vec![lr; learner.num_layers() + 2]
}

fn params(vs: &tch::nn::VarStore) -> Vec<Tensor> {
    let mut v: Vec<_> = vs.variables().into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.into_iter().map(|(_, t)| t.detach().copy()).collect()
}

fn max_change(a: &[Tensor], b: &[Tensor]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs().max().double_value(&[]))
        .fold(0.0, f64::max)
}

#[test]
fn training_learns_a_marker_task() {
    let _rng = common::torch_rng_lock();
    let mut learner = tiny_learner(0);
    let head = learner.add_head(GlueTask::Sst2.into(), 1);
    let train = marker_rows(GlueTask::Sst2, 256, 7, 1);
    let dev = marker_rows(GlueTask::Sst2, 128, 7, 2);
    let before = learner.evaluate(head, &dev, 64).primary;
    let rates = flat(&learner, 3e-3);
    let stats = learner
        .train_stage(
            head,
            &train,
            &rates,
            &stage_settings(6),
            None,
            &mut |_, _| Ok(Decision::Continue),
        )
        .unwrap();
    let after = learner.evaluate(head, &dev, 64).primary;
    assert_eq!(stats.epochs.len(), 6);
    assert!(
        stats.epochs[5].loss < stats.epochs[0].loss,
        "loss did not fall: {:?}",
        stats.epochs
    );
    assert!(
        after >= 0.9 && after > before + 0.2,
        "dev accuracy {before} -> {after}"
    );
    assert!(stats.padding_efficiency > 0.5 && stats.padding_efficiency <= 1.0);
}

#[test]
fn a_stage_leaves_other_heads_untouched_and_trains_its_own() {
    let _rng = common::torch_rng_lock();
    let mut learner = tiny_learner(1);
    let a = learner.add_head(GlueTask::Sst2.into(), 1);
    let b = learner.add_head(GlueTask::Mrpc.into(), 2);
    let before_a = params(&learner.head(a).vs);
    let before_b = params(&learner.head(b).vs);
    let before_enc = params(&learner.encoder().vs);
    // Decay must not reach the inactive head either.
    let cfg = AdamWConfig {
        weight_decay: 0.1,
        ..AdamWConfig::default()
    };
    let mut stage = stage_settings(1);
    stage.optimizer = cfg;
    let rates = flat(&learner, 1e-3);
    learner
        .train_stage(
            b,
            &marker_rows(GlueTask::Mrpc, 64, 9, 4),
            &rates,
            &stage,
            None,
            &mut |_, _| Ok(Decision::Continue),
        )
        .unwrap();
    assert_eq!(max_change(&before_a, &params(&learner.head(a).vs)), 0.0);
    assert!(max_change(&before_b, &params(&learner.head(b).vs)) > 0.0);
    assert!(max_change(&before_enc, &params(&learner.encoder().vs)) > 0.0);
}

#[test]
fn same_seed_same_numbers() {
    let _rng = common::torch_rng_lock();
    let run = || {
        let mut learner = tiny_learner(5);
        let head = learner.add_head(GlueTask::Sst2.into(), 1);
        let rates = flat(&learner, 1e-3);
        let mut stage = stage_settings(2);
        stage.optimizer.weight_decay = 0.01;
        let s = learner
            .train_stage(
                head,
                &marker_rows(GlueTask::Sst2, 64, 7, 1),
                &rates,
                &stage,
                None,
                &mut |_, _| Ok(Decision::Continue),
            )
            .unwrap();
        (
            s.epochs.iter().map(|e| e.loss).collect::<Vec<_>>(),
            params(&learner.encoder().vs),
        )
    };
    let (l1, p1) = run();
    let (l2, p2) = run();
    assert_eq!(l1, l2);
    assert_eq!(max_change(&p1, &p2), 0.0);
}

/// Two stages on `learner` (one new head each): an SST-2 marker task, then an RTE one.
fn two_marker_stages(learner: &mut Learner) -> Vec<StagePlan> {
    let a = learner.add_head(GlueTask::Sst2.into(), 1);
    let b = learner.add_head(GlueTask::Rte.into(), 2);
    vec![
        StagePlan {
            train: marker_rows(GlueTask::Sst2, 64, 7, 1),
            dev: marker_rows(GlueTask::Sst2, 32, 7, 2),
            head: a,
        },
        StagePlan {
            train: marker_rows(GlueTask::Rte, 64, 11, 3),
            dev: marker_rows(GlueTask::Rte, 32, 11, 4),
            head: b,
        },
    ]
}

#[test]
fn protocol_fills_the_matrix_and_can_stop_early() {
    let _rng = common::torch_rng_lock();
    let mut learner = tiny_learner(2);
    let plan = two_marker_stages(&mut learner);
    let rates = vec![flat(&learner, 1e-3); 2];
    let mut events = Vec::new();
    let settings = RunSettings {
        rates: rates.clone(),
        stage: stage_settings(2),
        penalty: None,
        train_from_depth: vec![0; 2],
    };
    let out = run_plan(&mut learner, &plan, settings, None, &mut |e| {
        events.push((e.stage, e.epoch, e.scores.len()));
        Decision::Continue
    })
    .unwrap();
    assert_eq!(events, vec![(0, 1, 1), (0, 2, 1), (1, 1, 2), (1, 2, 2)]);
    assert!(out.matrix[0][0].is_some() && out.matrix[0][1].is_none());
    assert!(out.matrix[1].iter().all(|v| v.is_some()));
    assert_eq!(out.a1(), out.matrix[0][0]);
    assert_eq!(out.p_o(), out.matrix[1][0]);
    assert_eq!(out.p_s(), out.matrix[1][1]);
    assert!(out.cl_metrics().is_some());

    // Successive halving stops the run after the first epoch of stage 2.
    let mut learner = tiny_learner(2);
    learner.add_head(GlueTask::Sst2.into(), 1);
    learner.add_head(GlueTask::Rte.into(), 2);
    let settings = RunSettings {
        rates,
        stage: stage_settings(2),
        penalty: None,
        train_from_depth: vec![0; 2],
    };
    let out = run_plan(&mut learner, &plan, settings, None, &mut |e| {
        if e.stage == 1 {
            Decision::Stop
        } else {
            Decision::Continue
        }
    })
    .unwrap();
    assert!(out.stopped_early);
    assert_eq!(out.stages[1].epochs.len(), 1);
}

#[test]
fn a_nan_loss_is_an_error_naming_where() {
    let _rng = common::torch_rng_lock();
    let mut learner = tiny_learner(3);
    let head = learner.add_head(GlueTask::Stsb.into(), 1);
    let mut rows = marker_rows(GlueTask::Stsb, 32, 7, 1);
    rows.rows[5].label = f32::NAN;
    let rates = flat(&learner, 1e-3);
    let mut stage = stage_settings(1);
    stage.bucketing = false;
    let err = learner
        .train_stage(head, &rows, &rates, &stage, None, &mut |_, _| {
            Ok(Decision::Continue)
        })
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("stsb/synthetic") && msg.contains("NaN") && msg.contains("epoch 1"),
        "{msg}"
    );
}

#[test]
fn penalties_vanish_at_their_anchor_and_grow_away_from_it() {
    let _rng = common::torch_rng_lock();
    let mut learner = tiny_learner(4);
    let head = learner.add_head(GlueTask::Sst2.into(), 1);
    let set = marker_rows(GlueTask::Sst2, 32, 7, 1);

    let mut l2sp = Penalty::new(PenaltySpec::L2sp { alpha: 0.5 });
    l2sp.before_stage(&learner);
    assert!(l2sp.is_active());
    assert!(l2sp.value().double_value(&[]).abs() < 1e-12);

    let mut ewc = Penalty::new(PenaltySpec::Ewc {
        lambda: 1000.0,
        fisher_rows: 16,
    });
    ewc.before_stage(&learner);
    assert!(
        !ewc.is_active(),
        "EWC has no anchor before the first stage ends"
    );
    ewc.after_stage(&learner, head, &set, 0);
    assert!(ewc.is_active());
    assert!(ewc.value().double_value(&[]).abs() < 1e-12);

    let rates = flat(&learner, 1e-2);
    learner
        .train_stage(head, &set, &rates, &stage_settings(1), None, &mut |_, _| {
            Ok(Decision::Continue)
        })
        .unwrap();
    assert!(l2sp.value().double_value(&[]) > 0.0);
    assert!(ewc.value().double_value(&[]) > 0.0);
}

#[test]
fn l2sp_pulls_the_encoder_toward_its_anchor() {
    let _rng = common::torch_rng_lock();
    let drift = |alpha: Option<f64>| {
        let mut learner = tiny_learner(6);
        let head = learner.add_head(GlueTask::Sst2.into(), 1);
        let start = params(&learner.encoder().vs);
        let mut penalty = alpha.map(|a| Penalty::new(PenaltySpec::L2sp { alpha: a }));
        if let Some(p) = penalty.as_mut() {
            p.before_stage(&learner);
        }
        let rates = flat(&learner, 3e-3);
        learner
            .train_stage(
                head,
                &marker_rows(GlueTask::Sst2, 128, 7, 1),
                &rates,
                &stage_settings(3),
                penalty.as_ref(),
                &mut |_, _| Ok(Decision::Continue),
            )
            .unwrap();
        let now = params(&learner.encoder().vs);
        start
            .iter()
            .zip(&now)
            .map(|(a, b)| (a - b).square().sum(tch::Kind::Float).double_value(&[]))
            .sum::<f64>()
    };
    let free = drift(None);
    let held = drift(Some(10.0));
    assert!(held < 0.5 * free, "L2-SP drift {held} vs free {free}");
}

/// `alpha / 2 * ||theta - anchor||^2` over the encoder's trainable parameters, by hand.
fn l2_to(learner: &Learner, anchor: &[Tensor], alpha: f64) -> f64 {
    let now = learner.encoder_parameters();
    assert_eq!(now.len(), anchor.len());
    let sq: f64 = now
        .iter()
        .zip(anchor)
        .map(|(p, a)| (p - a).square().sum(tch::Kind::Float).double_value(&[]))
        .sum();
    alpha / 2.0 * sq
}

#[test]
fn l2sp_anchors_where_the_first_penalised_stage_starts() {
    // Under --stage2-only stage A comes from the cache (`skip_first`) and is not penalised,
    // so L2-SP's starting point is the post-A encoder; in the both-stage protocol it is the
    // pretrained one. Either way a second `before_stage` keeps the first anchor.
    let _rng = common::torch_rng_lock();
    let alpha = 0.5;
    fn settings(rate: Vec<f64>, n: usize, penalty: Option<&mut Penalty>) -> RunSettings<'_> {
        RunSettings {
            rates: vec![rate; n],
            stage: stage_settings(1),
            penalty,
            train_from_depth: vec![0; n],
        }
    }
    let snapshot = |learner: &Learner| -> Vec<Tensor> {
        learner
            .encoder_parameters()
            .iter()
            .map(|p| p.detach().copy())
            .collect()
    };

    // Stage A alone and unpenalised, then stage B restored-and-penalised.
    let mut learner = tiny_learner(8);
    let plan = two_marker_stages(&mut learner);
    let pretrained = snapshot(&learner);
    let rate = flat(&learner, 1e-2);
    let mut first = run_plan(
        &mut learner,
        &plan[..1],
        settings(rate, 1, None),
        None,
        &mut |_| Decision::Continue,
    )
    .unwrap();
    let post_a = snapshot(&learner);
    let mut l2sp = Penalty::new(PenaltySpec::L2sp { alpha });
    let s = settings(flat(&learner, 1e-2), 2, Some(&mut l2sp));
    run_plan(
        &mut learner,
        &plan,
        s,
        Some(first.stages.remove(0)),
        &mut |_| Decision::Continue,
    )
    .unwrap();
    let value = l2sp.value().double_value(&[]);
    let to_post_a = l2_to(&learner, &post_a, alpha);
    let to_pretrained = l2_to(&learner, &pretrained, alpha);
    assert!(to_post_a > 0.0 && (value - to_post_a).abs() <= 1e-6 * to_post_a);
    assert!((value - to_pretrained).abs() > 1e-3 * to_pretrained);

    // Both stages penalised: the anchor is the pretrained encoder, through stage B too.
    let mut learner = tiny_learner(8);
    let plan = two_marker_stages(&mut learner);
    let pretrained = snapshot(&learner);
    let mut l2sp = Penalty::new(PenaltySpec::L2sp { alpha });
    let s = settings(flat(&learner, 1e-2), 2, Some(&mut l2sp));
    run_plan(&mut learner, &plan, s, None, &mut |_| Decision::Continue).unwrap();
    let value = l2sp.value().double_value(&[]);
    let to_pretrained = l2_to(&learner, &pretrained, alpha);
    assert!(to_pretrained > 0.0 && (value - to_pretrained).abs() <= 1e-6 * to_pretrained);
}

#[test]
fn rows_set_sizes_are_checked() {
    let _rng = common::torch_rng_lock();
    let mut learner = tiny_learner(7);
    let head = learner.add_head(GlueTask::Sst2.into(), 1);
    let empty = RowSet {
        task: GlueTask::Sst2.into(),
        name: "sst2/empty".into(),
        rows: vec![],
    };
    let rates = flat(&learner, 1e-3);
    let err = learner
        .train_stage(
            head,
            &empty,
            &rates,
            &stage_settings(1),
            None,
            &mut |_, _| Ok(Decision::Continue),
        )
        .unwrap_err();
    assert!(err.to_string().contains("no training rows"));
}
