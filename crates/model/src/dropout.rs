//! Inverted dropout whose mask is drawn in Rust on the CPU.
//!
//! libtorch's CPU dropout draws its Bernoulli mask one element at a time on one thread
//! (`bernoulli_scalar_kernel` takes its parallel MKL path on Intel CPUs only), which made
//! it about 6 % of a MiniLM-L6 training step on this project's 2-core AMD machine (22 of
//! 343 ms at batch 32, `lrdist bench speed`, factor `dropout`). Here the mask comes from xoshiro256++ (two
//! 32-bit draws per 64-bit output), seeded from libtorch's generator so `tch::manual_seed`
//! still fixes every mask. The distribution is the same as `Tensor::dropout`'s: each element
//! is kept with probability `1 - p` (to within 2^-32) and scaled by `1 / (1 - p)`; the
//! random stream differs, so runs are reproducible but not bit-identical to libtorch's
//! dropout. Other devices use libtorch's dropout.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use tch::{Device, Kind, Tensor};

/// `x` with each element zeroed with probability `p` and the rest scaled by `1 / (1 - p)`
/// when `train`; `x` itself otherwise. Gradients flow through the kept elements, scaled
/// like the forward pass.
pub fn dropout(x: &Tensor, p: f64, train: bool) -> Tensor {
    assert!(
        (0.0..=1.0).contains(&p),
        "dropout probability {p} is outside [0, 1]"
    );
    if !train || p == 0.0 {
        return x.shallow_clone();
    }
    if p == 1.0 {
        return x.zeros_like() * x; // keeps the graph: the gradient is zero too
    }
    if x.device() != Device::Cpu || x.kind() != Kind::Float {
        return x.dropout(p, train);
    }
    x * dropout_mask(&x.size(), p)
}

/// A `[size]` float mask of zeros (probability `p`) and `1 / (1 - p)`, from a stream
/// seeded by libtorch's default CPU generator. Large masks are filled by up to
/// `tch::get_num_threads()` threads, each on its own xoshiro256++ stream (`jump()`: 2^128
/// draws apart), so a mask depends on the seed and the thread count.
pub fn dropout_mask(size: &[i64], p: f64) -> Tensor {
    mask_on_threads(size, p, tch::get_num_threads().max(1) as usize)
}

fn mask_on_threads(size: &[i64], p: f64, threads: usize) -> Tensor {
    let seed = Tensor::randint(i64::MAX, [1], (Kind::Int64, Device::Cpu)).int64_value(&[0]);
    let mask = Tensor::empty(size, (Kind::Float, Device::Cpu));
    let numel = mask.numel();
    if numel == 0 {
        return mask;
    }
    // SAFETY: `mask` is a fresh contiguous CPU float tensor of `numel` elements that
    // nothing else references until this function returns it.
    let values = unsafe { std::slice::from_raw_parts_mut(mask.data_ptr() as *mut f32, numel) };
    let threads = threads.min(numel.div_ceil(MIN_PER_THREAD));
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed as u64);
    if threads <= 1 {
        fill_mask(values, p, rng);
        return mask;
    }
    // Even chunk lengths keep every pair of elements on one 64-bit draw.
    let chunk = numel.div_ceil(threads).next_multiple_of(2);
    std::thread::scope(|scope| {
        for part in values.chunks_mut(chunk) {
            let stream = rng.clone();
            rng.jump();
            scope.spawn(move || fill_mask(part, p, stream));
        }
    });
    mask
}

/// Below this many elements per thread, threads cost more than they save.
const MIN_PER_THREAD: usize = 1 << 16;

/// Fills `values` with 0 (probability `p`, to within 2^-32) or `1 / (1 - p)`, two elements
/// per 64-bit draw (low and high halves).
fn fill_mask(values: &mut [f32], p: f64, mut rng: Xoshiro256PlusPlus) {
    let threshold = (p * 4_294_967_296.0).round() as u64;
    let scale = (1.0 / (1.0 - p)) as f32;
    // Branch-free: a dropped element is `scale * 0`.
    let pick = |bits: u64| scale * f32::from(u8::from(bits >= threshold));
    let mut pairs = values.chunks_exact_mut(2);
    for pair in &mut pairs {
        let r = rng.next_u64();
        pair[0] = pick(r & 0xffff_ffff);
        pair[1] = pick(r >> 32);
    }
    if let [last] = pairs.into_remainder() {
        *last = pick(rng.next_u64() & 0xffff_ffff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept_fraction(mask: &Tensor) -> f64 {
        mask.ne(0.0)
            .to_kind(Kind::Float)
            .mean(Kind::Float)
            .double_value(&[])
    }

    #[test]
    fn keeps_one_minus_p_of_the_elements_scaled_by_its_inverse() {
        let _rng = crate::torch_rng_lock();
        tch::manual_seed(0);
        for p in [0.1, 0.5, 0.9] {
            let mask = dropout_mask(&[1000, 1000], p);
            // 1e6 Bernoulli draws: sd of the kept fraction <= 5e-4, so 3e-3 is > 6 sd.
            assert!((kept_fraction(&mask) - (1.0 - p)).abs() < 3e-3, "p = {p}");
            let kept = mask.masked_select(&mask.ne(0.0));
            let scale = 1.0 / (1.0 - p);
            assert!((kept.min().double_value(&[]) - scale).abs() < 1e-5);
            assert!((kept.max().double_value(&[]) - scale).abs() < 1e-5);
        }
    }

    #[test]
    fn both_halves_of_each_draw_are_used_independently() {
        let _rng = crate::torch_rng_lock();
        // Even and odd positions come from the low and high 32 bits of one draw.
        tch::manual_seed(1);
        let mask = dropout_mask(&[500_000, 2], 0.5)
            .ne(0.0)
            .to_kind(Kind::Float);
        let (even, odd) = (mask.select(1, 0), mask.select(1, 1));
        for half in [&even, &odd] {
            let f = half.mean(Kind::Float).double_value(&[]);
            assert!((f - 0.5).abs() < 5e-3, "kept fraction {f}");
        }
        // Independent halves agree half the time.
        let agree = even.eq_tensor(&odd).to_kind(Kind::Float).mean(Kind::Float);
        assert!((agree.double_value(&[]) - 0.5).abs() < 5e-3);
    }

    #[test]
    fn odd_sizes_fill_every_element() {
        let _rng = crate::torch_rng_lock();
        tch::manual_seed(2);
        let mask = dropout_mask(&[7, 3, 5], 0.0001);
        assert_eq!(mask.size(), vec![7, 3, 5]);
        assert!(kept_fraction(&mask) > 0.99);
    }

    #[test]
    fn manual_seed_fixes_the_mask_and_successive_masks_differ() {
        let _rng = crate::torch_rng_lock();
        tch::manual_seed(7);
        let a = dropout_mask(&[64, 64], 0.1);
        let b = dropout_mask(&[64, 64], 0.1);
        tch::manual_seed(7);
        let a2 = dropout_mask(&[64, 64], 0.1);
        assert!(a.equal(&a2));
        assert!(!a.equal(&b));
    }

    #[test]
    fn every_thread_count_fills_the_whole_mask_with_the_right_rate() {
        let _rng = crate::torch_rng_lock();
        for threads in [1, 2, 3] {
            tch::manual_seed(5);
            // Odd length: the last thread's chunk ends on a half-used draw.
            let mask = mask_on_threads(&[400_001], 0.3, threads);
            assert!(
                (kept_fraction(&mask) - 0.7).abs() < 5e-3,
                "{threads} threads"
            );
            // Every element was written: only 0 and 1/0.7 occur.
            let other = mask
                .ne(0.0)
                .logical_and(&(&mask - 1.0 / 0.7).abs().gt(1e-5));
            assert_eq!(
                other.sum(Kind::Int64).int64_value(&[]),
                0,
                "{threads} threads"
            );
            // The thread streams differ: the two halves are not copies of each other.
            let half = 200_000;
            assert!(!mask.narrow(0, 0, half).equal(&mask.narrow(0, half, half)));
            // Same seed, same thread count: same mask.
            tch::manual_seed(5);
            assert!(mask.equal(&mask_on_threads(&[400_001], 0.3, threads)));
        }
    }

    #[test]
    fn gradient_is_the_mask() {
        let _rng = crate::torch_rng_lock();
        tch::manual_seed(3);
        let x = Tensor::randn([32, 48], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let y = dropout(&x, 0.25, true);
        y.sum(Kind::Float).backward();
        let grad = x.grad();
        // Where an element was kept, y = x / 0.75 and its gradient is 1 / 0.75; else both 0.
        let kept = y.ne(0.0);
        let expected = kept.to_kind(Kind::Float) / 0.75;
        assert!(grad.allclose(&expected, 1e-6, 1e-6, false));
        assert!(y.allclose(&(&x * &expected), 1e-6, 1e-6, false));
    }

    #[test]
    fn identity_outside_training_and_at_zero() {
        let _rng = crate::torch_rng_lock();
        let x = Tensor::randn([4, 5], (Kind::Float, Device::Cpu));
        assert!(dropout(&x, 0.5, false).equal(&x));
        assert!(dropout(&x, 0.0, true).equal(&x));
        assert_eq!(
            dropout(&x, 1.0, true)
                .abs()
                .sum(Kind::Float)
                .double_value(&[]),
            0.0
        );
    }
}
