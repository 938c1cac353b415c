//! Criterion benches of the training step (issue 6, "criterion benches").
//!
//! All at fixed shapes on a MiniLM-L6-shaped BERT (6 layers, hidden 384, 12 heads,
//! vocabulary 30522), randomly initialised so the bench needs no model files: the cost of a
//! step depends on shapes, not on weight values. Shapes: batch 32 x 16 tokens (a length-
//! bucketed SST-2 batch; mean 13 tokens per row) and batch 32 x 128 (run_glue's padding).
//!
//! - `train_step/*`: forward + backward + AdamW step, one rate for all depths
//!   (`one_group`) vs one rate per depth (`per_layer`): the cost of a distribution.
//! - `forward_backward/*`: the same without the optimiser step.
//! - `eval/*`: the forward pass of evaluation, with and without autograd.
//! - `dropout/*`: one step's dropout, libtorch's against lrdist's.
//!
//! Run: `make bench` (or `cargo bench -p lrdist-bench --bench step`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lrdist_bench::{dropout_shapes, minilm_config, one_rate_and_per_depth, StepFixture as Fixture};
use tch::{Device, Kind, Tensor};

const SHAPES: [(i64, i64); 2] = [(32, 16), (32, 128)];

fn train_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step");
    group.sample_size(10);
    for (batch, seq) in SHAPES {
        let fx = Fixture::new(batch, seq);
        let depths = fx.encoder.config.num_hidden_layers + 2;
        let (one, per_layer) = one_rate_and_per_depth(depths);
        group.throughput(Throughput::Elements(batch as u64));
        for (name, rates) in [("one_group", &one), ("per_layer", &per_layer)] {
            let mut opt = fx.optimizer(rates).expect("valid optimiser");
            group.bench_function(BenchmarkId::new(name, format!("{batch}x{seq}")), |b| {
                b.iter(|| opt.step(&fx.loss()).expect("optimiser step"))
            });
        }
        group.bench_function(
            BenchmarkId::new("forward_backward", format!("{batch}x{seq}")),
            |b| {
                b.iter(|| {
                    fx.encoder.vs.trainable_variables().iter().for_each(|p| {
                        let mut g = p.grad();
                        if g.defined() {
                            let _ = g.zero_();
                        }
                    });
                    fx.loss().backward()
                })
            },
        );
    }
    group.finish();
}

fn eval(c: &mut Criterion) {
    let mut group = c.benchmark_group("eval");
    group.sample_size(10);
    for (batch, seq) in [(32, 16), (128, 16), (32, 128)] {
        let fx = Fixture::new(batch, seq);
        group.throughput(Throughput::Elements(batch as u64));
        let id = format!("{batch}x{seq}");
        group.bench_function(BenchmarkId::new("no_grad", &id), |b| {
            b.iter(|| tch::no_grad(|| fx.logits(false).argmax(-1, false)))
        });
        group.bench_function(BenchmarkId::new("with_grad", &id), |b| {
            b.iter(|| fx.logits(false).argmax(-1, false))
        });
    }
    group.finish();
}

/// The tensors one 32x16 training step drops out, through libtorch's dropout and through
/// lrdist's (`lrdist_model::dropout`).
fn dropout(c: &mut Criterion) {
    let mut group = c.benchmark_group("dropout");
    let cfg = minilm_config();
    let p = cfg.hidden_dropout_prob;
    let tensors: Vec<Tensor> = dropout_shapes(&cfg, 32, 16)
        .iter()
        .map(|shape| Tensor::randn(shape.as_slice(), (Kind::Float, Device::Cpu)))
        .collect();
    group.bench_function("libtorch/32x16", |b| {
        b.iter(|| {
            tensors
                .iter()
                .map(|x| x.dropout(p, true))
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("lrdist/32x16", |b| {
        b.iter(|| {
            tensors
                .iter()
                .map(|x| lrdist_model::dropout::dropout(x, p, true))
                .collect::<Vec<_>>()
        })
    });
    group.finish();
}

criterion_group!(benches, train_step, eval, dropout);
criterion_main!(benches);
