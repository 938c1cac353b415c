//! What exists only to measure lrdist, kept out of the library crates: the fixture that
//! the criterion benches (`benches/step.rs`) and the instruction count of a distribution's
//! cost (`examples/distribution_cost.rs`, `make bench-distribution`) step on, the matmul
//! ceiling (`lrdist bench matmul`) and the one-run speed report (`lrdist bench speed`).
//!
//! Nothing in the library crates depends on this one. The model FLOPs that a run records
//! are counted where it is trained, in `lrdist_train::flops`.

use std::time::Instant;

use tch::{Device, Kind, Tensor};

pub mod fixture;
pub mod speed;

pub use fixture::{dropout_shapes, minilm_config, one_rate_and_per_depth, StepFixture};
pub use speed::{speed_report, write_speed_csv, SpeedOptions, SpeedRow};

/// The machine's fp32 matrix-product rate through libtorch: FLOP/s of `[n, n] x [n, n]`
/// products on `device`, the best of `reps` timed runs after three warm-up runs (thread
/// pools and clock frequency settle; the first runs of a process are measurably slower).
pub fn matmul_flops_per_s(device: Device, n: i64, reps: usize) -> f64 {
    let opts = (Kind::Float, device);
    let a = Tensor::randn([n, n], opts);
    let b = Tensor::randn([n, n], opts);
    for _ in 0..3 {
        let _ = a.matmul(&b).sum(Kind::Float).double_value(&[]);
    }
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        let c = a.matmul(&b);
        let _ = c.sum(Kind::Float).double_value(&[]); // waits for the device
        best = best.min(start.elapsed().as_secs_f64());
    }
    2.0 * (n as f64).powi(3) / best
}
