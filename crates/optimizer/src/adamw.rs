//! AdamW with one learning rate per depth, over the encoder and the active task head.
//!
//! docs/METHOD.md, "Learning-rate groups": each group has its own Adam optimiser, no weight
//! decay, and a cosine schedule with 10 % linear warm-up restarted at each training stage.
//! Here every variable sits in the tch optimiser group `optimizer_group(depth, decay)`
//! (`lrdist_model::params`); [`LayerwiseAdamW`] keeps Adam state per group and updates
//! each group at its depth's rate with PyTorch's fused AdamW kernel. Adam state is
//! per parameter, so one optimiser with per-group rates is the paper's "one Adam per
//! group". With weight decay 0 (the default, as in the paper), AdamW is Adam.
//! A training stage builds a fresh [`LayerwiseAdamW`]: fresh moments, schedule at step 0.

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};
use tch::nn;
use tch::{Kind, Tensor};

use lrdist_model::group_depth;

use crate::schedule::Schedule;

/// Optimiser settings shared by all groups.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamWConfig {
    /// Decoupled weight decay of weights; biases and LayerNorm parameters are never decayed.
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Clip the gradient norm, taken over all parameters of all var stores, to this value.
    pub clip_norm: Option<f64>,
    /// Fraction of a stage's steps spent in linear warm-up.
    pub warmup_frac: f64,
}

impl Default for AdamWConfig {
    /// The paper's setting: Adam without weight decay (docs/METHOD.md, "Learning-rate groups"), with PyTorch's default
    /// betas (0.9, 0.999) and eps 1e-8, which the authors' `optim.Adam(params, lr=...)`
    /// uses; no clipping; 10 % warm-up.
    fn default() -> Self {
        AdamWConfig {
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            clip_norm: None,
            warmup_frac: 0.1,
        }
    }
}

impl AdamWConfig {
    fn validate(&self) -> Result<()> {
        let finite_non_negative = |x: f64| x.is_finite() && x >= 0.0;
        ensure!(
            finite_non_negative(self.weight_decay),
            "weight decay is {}, expected a finite value >= 0",
            self.weight_decay
        );
        for (name, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            ensure!(
                (0.0..1.0).contains(&beta),
                "{name} is {beta}, expected 0 <= {name} < 1"
            );
        }
        ensure!(
            self.eps.is_finite() && self.eps > 0.0,
            "eps is {}, expected > 0",
            self.eps
        );
        ensure!(
            (0.0..=1.0).contains(&self.warmup_frac),
            "warm-up fraction is {}, expected 0..=1",
            self.warmup_frac
        );
        if let Some(clip) = self.clip_norm {
            ensure!(
                clip.is_finite() && clip > 0.0,
                "clip norm is {clip}, expected > 0"
            );
        }
        Ok(())
    }
}

/// The parameters of one optimiser group (one depth, decayed or not) and their Adam state.
#[derive(Debug)]
struct GroupState {
    depth: usize,
    decay: bool,
    params: Vec<Tensor>,
    exp_avg: Vec<Tensor>,
    exp_avg_sq: Vec<Tensor>,
    /// Per-parameter step counts (float scalars, as torch.optim.AdamW keeps them).
    steps: Vec<Tensor>,
}

/// AdamW over several var stores, each group at `rate[depth] * schedule factor`.
///
/// The update is PyTorch's fused AdamW kernel (`torch.optim.AdamW(fused=True)`, bound in
/// `csrc/fused_adamw.cpp`): one vectorised pass per parameter instead of the six of an
/// unfused step, which matters because the word embeddings alone hold half of MiniLM's
/// parameters and are updated at every step. Gradients are set to none before each
/// backward pass. Parameters whose gradient is undefined at a step (not in the graph) are
/// skipped for that step, as in PyTorch.
#[derive(Debug)]
pub struct LayerwiseAdamW {
    groups: Vec<GroupState>,
    per_depth_rates: Vec<f64>,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    schedule: Schedule,
    clip_norm: Option<f64>,
    steps_done: usize,
    last_grad_norm: Option<f64>,
}

impl LayerwiseAdamW {
    /// Builds the optimiser over all trainable variables of `var_stores` (typically the
    /// encoder and the active head). `per_depth_rates` has one rate per depth (`L + 2`);
    /// each variable's depth and decay come from its tch group
    /// (`lrdist_model::optimizer_group`); weight decay only on the decayed groups. Var
    /// stores not passed in are never touched.
    pub fn new(
        var_stores: &[&nn::VarStore],
        per_depth_rates: &[f64],
        cfg: &AdamWConfig,
        total_steps: usize,
    ) -> Result<Self> {
        cfg.validate().context("invalid optimiser settings")?;
        ensure!(!var_stores.is_empty(), "no var store to optimise");
        ensure!(total_steps > 0, "a training stage needs at least one step");
        check_rates(per_depth_rates)?;
        check_distinct(var_stores)?;
        let mut groups: Vec<GroupState> = Vec::new();
        for (i, vs) in var_stores.iter().enumerate() {
            let vars = vs.variables_.lock().expect("var store lock poisoned");
            for var in &vars.trainable_variables {
                let (depth, decay) = group_depth(var.group);
                ensure!(
                    depth < per_depth_rates.len(),
                    "var store #{i}: a variable is in optimiser group {} (depth {depth}), but \
                     only {} depth rates were given (a model of {} layers)",
                    var.group,
                    per_depth_rates.len(),
                    per_depth_rates.len().saturating_sub(2)
                );
                ensure!(
                    var.tensor.kind() == Kind::Float,
                    "var store #{i}: the fused AdamW needs float32 parameters, got {:?}",
                    var.tensor.kind()
                );
                let slot = match groups
                    .iter()
                    .position(|g| g.depth == depth && g.decay == decay)
                {
                    Some(slot) => slot,
                    None => {
                        groups.push(GroupState {
                            depth,
                            decay,
                            params: Vec::new(),
                            exp_avg: Vec::new(),
                            exp_avg_sq: Vec::new(),
                            steps: Vec::new(),
                        });
                        groups.len() - 1
                    }
                };
                let g = &mut groups[slot];
                g.params.push(var.tensor.shallow_clone());
                g.exp_avg.push(var.tensor.zeros_like());
                g.exp_avg_sq.push(var.tensor.zeros_like());
                g.steps
                    .push(Tensor::zeros([], (Kind::Float, var.tensor.device())));
            }
        }
        groups.sort_by_key(|g| (g.depth, !g.decay));
        Ok(LayerwiseAdamW {
            groups,
            per_depth_rates: per_depth_rates.to_vec(),
            beta1: cfg.beta1,
            beta2: cfg.beta2,
            eps: cfg.eps,
            weight_decay: cfg.weight_decay,
            schedule: Schedule {
                total_steps,
                warmup_frac: cfg.warmup_frac,
            },
            clip_norm: cfg.clip_norm,
            steps_done: 0,
            last_grad_norm: None,
        })
    }

    /// One optimiser step on `loss`: drop all gradients, back-propagate, clip the global
    /// gradient norm if configured, update every group at its scheduled rate, then advance
    /// the schedule. Fails only if libtorch rejects the update.
    pub fn step(&mut self, loss: &Tensor) -> Result<()> {
        for g in &self.groups {
            ffi::clear_grads(&g.params)?;
        }
        loss.backward();
        if let Some(max_norm) = self.clip_norm {
            let params: Vec<Tensor> = self.parameters().map(Tensor::shallow_clone).collect();
            self.last_grad_norm = Some(clip_global_norm(&params, max_norm));
        }
        let rates = self.current_rates();
        for g in &self.groups {
            let weight_decay = if g.decay { self.weight_decay } else { 0.0 };
            ffi::fused_adamw(
                &g.params,
                &g.exp_avg,
                &g.exp_avg_sq,
                &g.steps,
                rates[g.depth],
                self.beta1,
                self.beta2,
                weight_decay,
                self.eps,
            )
            .with_context(|| format!("AdamW step of depth {}", g.depth))?;
        }
        self.steps_done += 1;
        Ok(())
    }

    /// Every parameter this optimiser updates.
    pub fn parameters(&self) -> impl Iterator<Item = &Tensor> {
        self.groups.iter().flat_map(|g| g.params.iter())
    }

    /// The rate each depth will use at the next step (base rate times schedule factor).
    pub fn current_rates(&self) -> Vec<f64> {
        let factor = self.schedule.factor(self.steps_done);
        self.per_depth_rates.iter().map(|r| r * factor).collect()
    }

    pub fn steps_done(&self) -> usize {
        self.steps_done
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Gradient norm before clipping at the last step; `None` when clipping is off.
    pub fn last_grad_norm(&self) -> Option<f64> {
        self.last_grad_norm
    }
}

/// The C++ side, `csrc/fused_adamw.cpp`.
mod ffi {
    use anyhow::{bail, Result};
    use std::ffi::{c_char, c_void, CStr};
    use tch::Tensor;

    extern "C" {
        fn lrdist_fused_adamw(
            params: *const *mut c_void,
            exp_avgs: *const *mut c_void,
            exp_avg_sqs: *const *mut c_void,
            steps: *const *mut c_void,
            n: usize,
            lr: f64,
            beta1: f64,
            beta2: f64,
            weight_decay: f64,
            eps: f64,
        ) -> *mut c_char;
        fn lrdist_clear_grads(params: *const *mut c_void, n: usize) -> *mut c_char;
        fn lrdist_free_error(message: *mut c_char);
    }

    fn handles(tensors: &[Tensor]) -> Vec<*mut c_void> {
        tensors.iter().map(|t| t.as_ptr() as *mut c_void).collect()
    }

    /// Turns the C++ side's error string (NULL on success) into a `Result`.
    fn check(message: *mut c_char) -> Result<()> {
        if message.is_null() {
            return Ok(());
        }
        // SAFETY: a non-null return is a NUL-terminated malloc'd string from the C++ side,
        // read once and freed once here.
        let text = unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned();
        unsafe { lrdist_free_error(message) };
        bail!("libtorch: {text}")
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn fused_adamw(
        params: &[Tensor],
        exp_avgs: &[Tensor],
        exp_avg_sqs: &[Tensor],
        steps: &[Tensor],
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
    ) -> Result<()> {
        let n = params.len();
        assert!(exp_avgs.len() == n && exp_avg_sqs.len() == n && steps.len() == n);
        let (p, m, v, s) = (
            handles(params),
            handles(exp_avgs),
            handles(exp_avg_sqs),
            handles(steps),
        );
        // SAFETY: every handle is a live tch tensor (`torch::Tensor*`) borrowed for the
        // call; the C++ side only reads the handles and updates the tensors in place.
        check(unsafe {
            lrdist_fused_adamw(
                p.as_ptr(),
                m.as_ptr(),
                v.as_ptr(),
                s.as_ptr(),
                n,
                lr,
                beta1,
                beta2,
                weight_decay,
                eps,
            )
        })
    }

    pub(super) fn clear_grads(params: &[Tensor]) -> Result<()> {
        let p = handles(params);
        // SAFETY: as above; the C++ side resets each tensor's gradient handle.
        check(unsafe { lrdist_clear_grads(p.as_ptr(), p.len()) })
    }
}

fn check_rates(rates: &[f64]) -> Result<()> {
    ensure!(
        rates.len() >= 2,
        "need one rate per depth (L + 2 >= 2), got {}",
        rates.len()
    );
    for (d, &r) in rates.iter().enumerate() {
        ensure!(
            r.is_finite() && r > 0.0,
            "rate of depth {d} is {r}, expected finite and > 0"
        );
    }
    Ok(())
}

fn check_distinct(var_stores: &[&nn::VarStore]) -> Result<()> {
    for (i, a) in var_stores.iter().enumerate() {
        if var_stores[..i].iter().any(|b| std::ptr::eq(*a, *b)) {
            bail!("var store #{i} is passed twice and would be stepped twice");
        }
    }
    Ok(())
}

/// Scales the gradients of `params` so that their joint L2 norm is at most `max_norm`
/// (as `torch.nn.utils.clip_grad_norm_`); returns the norm before clipping. Parameters
/// without a gradient are skipped.
pub fn clip_global_norm(params: &[Tensor], max_norm: f64) -> f64 {
    tch::no_grad(|| {
        let mut grads: Vec<Tensor> = params
            .iter()
            .map(Tensor::grad)
            .filter(Tensor::defined)
            .collect();
        let Some(first) = grads.first() else {
            return 0.0;
        };
        let device = first.device();
        let norms: Vec<Tensor> = grads
            .iter()
            .map(|g| g.norm().to_kind(Kind::Double).to_device(device))
            .collect();
        let total = Tensor::stack(&norms, 0).norm().double_value(&[]);
        let coef = max_norm / (total + 1e-6);
        if coef < 1.0 {
            for g in &mut grads {
                let _ = g.g_mul_scalar_(coef);
            }
        }
        total
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lrdist_model::{is_no_decay, optimizer_group};
    use tch::nn::Init;
    use tch::Device;

    /// The parameters of one depth of a tiny network, named like BERT's.
    const PARTS: [&str; 3] = ["dense.weight", "dense.bias", "LayerNorm.weight"];

    /// Torch's random generator is global and tests run in parallel threads: seeding and
    /// drawing happen under the one lock on it so that no other test draws in between.
    fn seeded<T>(seed: i64, draw: impl FnOnce() -> T) -> T {
        let _guard = lrdist_model::torch_rng_lock();
        tch::manual_seed(seed);
        draw()
    }

    /// A var store with a 4x4 dense weight, a bias and a LayerNorm weight at each depth
    /// of `depths`, each in the optimiser group `optimizer_group(depth, decay)`, drawn
    /// uniformly in [-0.1, 0.1] from `seed`.
    fn tiny_store(depths: std::ops::RangeInclusive<usize>, seed: i64) -> nn::VarStore {
        let vs = nn::VarStore::new(Device::Cpu);
        seeded(seed, || {
            for d in depths {
                for part in PARTS {
                    let (module, leaf) = part.split_once('.').unwrap();
                    let group = optimizer_group(d, !is_no_decay(part));
                    let path = vs.root().set_group(group).sub(format!("d{d}")).sub(module);
                    let dims: &[i64] = if part == "dense.weight" {
                        &[4, 4]
                    } else {
                        &[4]
                    };
                    let _ = path.var(leaf, dims, Init::Uniform { lo: -0.1, up: 0.1 });
                }
            }
        });
        vs
    }

    /// The variables of `vs`, sorted by name (live tensors, not copies).
    fn sorted_vars(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
        let mut vars: Vec<_> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars
    }

    /// Copies of the variables of `vs`, sorted by name.
    fn snapshot(vs: &nn::VarStore) -> Vec<(String, Tensor)> {
        let vars = sorted_vars(vs).into_iter();
        vars.map(|(n, t)| (n, t.copy())).collect()
    }

    fn depth_of_var(name: &str) -> usize {
        name.split('.').next().unwrap()[1..].parse().unwrap()
    }

    /// A fixed pattern of +1 and -1 shaped like `p`.
    fn sign_pattern(p: &Tensor) -> Tensor {
        p.ones_like().cumsum(-1, Kind::Float).remainder(2.0) * 2.0 - 1.0
    }

    /// Sum over all variables of `p * sign_pattern(p)`: the gradient is the pattern.
    fn sign_loss(stores: &[&nn::VarStore]) -> Tensor {
        let mut loss = Tensor::zeros([], (Kind::Float, Device::Cpu));
        for vs in stores {
            for (_, p) in sorted_vars(vs) {
                loss += (&p * sign_pattern(&p)).sum(Kind::Float);
            }
        }
        loss
    }

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    fn no_warmup() -> AdamWConfig {
        AdamWConfig {
            warmup_frac: 0.0,
            ..AdamWConfig::default()
        }
    }

    /// Adam with a constant gradient `c` moves every element by `lr * c / (|c| + eps)` at
    /// every step (the bias-corrected moments are `c` and `c^2`), here `lr * ±1`.
    fn assert_moved(before: &[(String, Tensor)], vs: &nn::VarStore, rates: &[f64], factor: f64) {
        for ((name, old), (_, new)) in before.iter().zip(sorted_vars(vs)) {
            let lr = rates[depth_of_var(name)] * factor;
            let expected = old - sign_pattern(old) * lr;
            let err = max_abs_diff(&new, &expected);
            assert!(err < 1e-7, "{name}: moved wrongly by up to {err} (lr {lr})");
        }
    }

    #[test]
    fn each_depth_moves_by_its_own_rate() {
        let encoder = tiny_store(0..=2, 0);
        let head = tiny_store(3..=3, 1);
        let rates = [1e-2, 2e-2, 3e-2, 4e-2];
        // Clipping rescales the gradient, which Adam's first step does not see.
        let cfg = AdamWConfig {
            clip_norm: Some(0.5),
            ..no_warmup()
        };
        let mut opt = LayerwiseAdamW::new(&[&encoder, &head], &rates, &cfg, 4).unwrap();
        let (enc0, head0) = (snapshot(&encoder), snapshot(&head));
        opt.step(&sign_loss(&[&encoder, &head])).unwrap();
        assert_moved(&enc0, &encoder, &rates, 1.0);
        assert_moved(&head0, &head, &rates, 1.0);
        assert_eq!(opt.steps_done(), 1);
        // The ±1 gradient's norm over both var stores: 4 depths x 24 elements.
        let norm = opt.last_grad_norm().unwrap();
        assert!((norm - 96f64.sqrt()).abs() < 1e-9, "{norm}");
    }

    #[test]
    fn the_schedule_scales_the_rates_actually_used() {
        // 10 steps, 20 % warm-up: factors 0, 0.5, 1, then cosine.
        let encoder = tiny_store(0..=1, 0);
        let head = tiny_store(2..=2, 1);
        let rates = [1e-2, 2e-2, 3e-2];
        let cfg = AdamWConfig {
            warmup_frac: 0.2,
            ..AdamWConfig::default()
        };
        let mut opt = LayerwiseAdamW::new(&[&encoder, &head], &rates, &cfg, 10).unwrap();
        for (step, factor) in [(0, 0.0), (1, 0.5), (2, 1.0), (3, opt.schedule().factor(3))] {
            assert_eq!(
                opt.current_rates(),
                rates.map(|r| r * factor).to_vec(),
                "step {step}"
            );
            let before = snapshot(&encoder);
            opt.step(&sign_loss(&[&encoder, &head])).unwrap();
            assert_moved(&before, &encoder, &rates, factor);
        }
    }

    /// The fused update against Adam written out (Loshchilov & Hutter's AdamW, as
    /// `torch.optim.AdamW` documents it) over several steps of a loss whose gradient
    /// changes every step, with weight decay and the warm-up/cosine schedule on.
    #[test]
    fn matches_adamw_written_out_over_several_steps() {
        let encoder = tiny_store(0..=2, 3);
        let rates = [1e-2, 3e-3, 5e-2];
        let cfg = AdamWConfig {
            weight_decay: 0.1,
            warmup_frac: 0.2,
            ..AdamWConfig::default()
        };
        let steps = 6;
        let mut opt = LayerwiseAdamW::new(&[&encoder], &rates, &cfg, steps).unwrap();
        // Loss sum(p^3 / 3 + 0.5 p): gradient p^2 + 0.5, different at every step.
        let loss = |vs: &nn::VarStore| {
            let mut l = Tensor::zeros([], (Kind::Float, Device::Cpu));
            for (_, p) in sorted_vars(vs) {
                l += (p.pow_tensor_scalar(3) / 3.0 + &p * 0.5).sum(Kind::Float);
            }
            l
        };
        let mut reference: Vec<(String, Tensor, Tensor, Tensor)> = snapshot(&encoder)
            .into_iter()
            .map(|(n, p)| {
                (
                    n,
                    p.to_kind(Kind::Double),
                    p.zeros_like().to_kind(Kind::Double),
                    p.zeros_like().to_kind(Kind::Double),
                )
            })
            .collect();
        let (b1, b2, eps) = (cfg.beta1, cfg.beta2, cfg.eps);
        for t in 1..=steps {
            let lrs = opt.current_rates();
            for (name, p, m, v) in &mut reference {
                let lr = lrs[depth_of_var(name)];
                let wd = if is_no_decay(name) {
                    0.0
                } else {
                    cfg.weight_decay
                };
                let g = p.square() + 0.5;
                *p = &*p * (1.0 - lr * wd);
                *m = &*m * b1 + &g * (1.0 - b1);
                *v = &*v * b2 + g.square() * (1.0 - b2);
                let m_hat = &*m / (1.0 - b1.powi(t as i32));
                let v_hat = &*v / (1.0 - b2.powi(t as i32));
                *p = &*p - m_hat / (v_hat.sqrt() + eps) * lr;
            }
            opt.step(&loss(&encoder)).unwrap();
        }
        for ((name, expected, _, _), (_, got)) in reference.iter().zip(sorted_vars(&encoder)) {
            let err = max_abs_diff(&got.to_kind(Kind::Double), expected);
            assert!(
                err < 1e-6,
                "{name}: differs from AdamW written out by {err}"
            );
        }
    }

    #[test]
    fn weight_decay_skips_biases_and_layer_norm() {
        let encoder = tiny_store(0..=1, 0);
        let head = tiny_store(2..=2, 1);
        let rates = [1e-2, 2e-2, 4e-2];
        let cfg = AdamWConfig {
            weight_decay: 0.5,
            ..no_warmup()
        };
        let mut opt = LayerwiseAdamW::new(&[&encoder, &head], &rates, &cfg, 4).unwrap();
        let before: Vec<_> = snapshot(&encoder)
            .into_iter()
            .chain(snapshot(&head))
            .collect();
        // A zero gradient: Adam moves nothing, only the decoupled decay acts.
        let mut zero = Tensor::zeros([], (Kind::Float, Device::Cpu));
        for vs in [&encoder, &head] {
            for (_, p) in sorted_vars(vs) {
                zero += (p * 0.0).sum(Kind::Float);
            }
        }
        opt.step(&zero).unwrap();
        let after: Vec<_> = sorted_vars(&encoder)
            .into_iter()
            .chain(sorted_vars(&head))
            .collect();
        for ((name, old), (_, new)) in before.iter().zip(&after) {
            if is_no_decay(name) {
                assert!(new.equal(old), "{name} was decayed");
            } else {
                let expected = old * (1.0 - rates[depth_of_var(name)] * 0.5);
                assert!(
                    max_abs_diff(new, &expected) < 1e-7,
                    "{name} not decayed as expected"
                );
                assert!(!new.equal(old), "{name} was not decayed");
            }
        }
    }

    #[test]
    fn a_var_store_not_passed_in_is_untouched() {
        let encoder = tiny_store(0..=1, 0);
        let (head_a, head_b) = (tiny_store(2..=2, 1), tiny_store(2..=2, 2));
        let cfg = AdamWConfig {
            weight_decay: 0.1,
            ..no_warmup()
        };
        let mut opt = LayerwiseAdamW::new(&[&encoder, &head_a], &[1e-2; 3], &cfg, 3).unwrap();
        let (a0, b0) = (snapshot(&head_a), snapshot(&head_b));
        for _ in 0..3 {
            opt.step(&sign_loss(&[&encoder, &head_a, &head_b])).unwrap();
        }
        for ((name, old), (_, new)) in b0.iter().zip(sorted_vars(&head_b)) {
            assert!(new.equal(old), "inactive head's {name} changed");
        }
        for ((name, old), (_, new)) in a0.iter().zip(sorted_vars(&head_a)) {
            assert!(!new.equal(old), "active head's {name} did not change");
        }
    }

    /// Trains a small tanh network over the tiny stores for `steps` steps from `seed`.
    fn train(seed: i64, steps: usize) -> Vec<(String, Tensor)> {
        let encoder = tiny_store(0..=2, seed);
        let head = tiny_store(3..=3, seed + 1);
        let x = seeded(seed + 2, || {
            Tensor::randn([8, 4], (Kind::Float, Device::Cpu))
        });
        let cfg = AdamWConfig {
            weight_decay: 0.01,
            clip_norm: Some(0.5),
            warmup_frac: 0.2,
            ..AdamWConfig::default()
        };
        let rates = [1e-3, 2e-3, 3e-3, 5e-3];
        let mut opt = LayerwiseAdamW::new(&[&encoder, &head], &rates, &cfg, steps).unwrap();
        let vars: Vec<_> = sorted_vars(&encoder)
            .into_iter()
            .chain(sorted_vars(&head))
            .collect();
        for _ in 0..steps {
            let mut h = x.shallow_clone();
            for layer in vars.chunks(3) {
                // Sorted names: LayerNorm.weight, dense.bias, dense.weight.
                let (ln, bias, weight) = (&layer[0].1, &layer[1].1, &layer[2].1);
                h = (h.matmul(weight) + bias).tanh() * ln;
            }
            opt.step(&(h - 0.5).square().mean(Kind::Float)).unwrap();
        }
        assert!(opt.last_grad_norm().unwrap() > 0.0);
        vars.into_iter().map(|(n, t)| (n, t.copy())).collect()
    }

    #[test]
    fn same_seed_gives_identical_parameters() {
        let (a, b, c) = (train(3, 6), train(3, 6), train(4, 6));
        assert_eq!(a.len(), 12);
        for ((name, x), (_, y)) in a.iter().zip(&b) {
            assert!(
                x.equal(y),
                "{name} differs between two runs with the same seed"
            );
        }
        assert!(
            a.iter().zip(&c).any(|((_, x), (_, y))| !x.equal(y)),
            "seed has no effect"
        );
    }

    #[test]
    fn clipping_bounds_the_joint_gradient_norm() {
        let (encoder, head) = (tiny_store(0..=1, 0), tiny_store(2..=2, 1));
        let params: Vec<Tensor> = encoder
            .trainable_variables()
            .into_iter()
            .chain(head.trainable_variables())
            .collect();
        let numel: i64 = params.iter().map(|p| p.numel() as i64).sum();
        // Gradient 3 everywhere: joint norm 3 sqrt(numel).
        params
            .iter()
            .map(|p| (p * 3.0).sum(Kind::Float))
            .sum::<Tensor>()
            .backward();
        let norm = clip_global_norm(&params, 10.0 * numel as f64);
        assert!((norm - 3.0 * (numel as f64).sqrt()).abs() < 1e-4, "{norm}");
        assert!(
            params[0].grad().equal(&(params[0].ones_like() * 3.0)),
            "clipped below the limit"
        );
        clip_global_norm(&params, 1.0);
        let after = clip_global_norm(&params, f64::INFINITY);
        assert!(
            (after - 1.0).abs() < 1e-5,
            "joint norm after clipping to 1: {after}"
        );
        let ratio = params.last().unwrap().grad().double_value(&[0])
            / params[0].grad().double_value(&[0, 0]);
        assert!(
            (ratio - 1.0).abs() < 1e-6,
            "clipping is not one joint scale: {ratio}"
        );
    }

    #[test]
    fn bad_inputs_are_rejected_with_context() {
        let encoder = tiny_store(0..=3, 0);
        let err =
            LayerwiseAdamW::new(&[&encoder], &[1e-5; 3], &AdamWConfig::default(), 5).unwrap_err();
        assert!(format!("{err:#}").contains("depth 3"), "{err:#}");
        let err = LayerwiseAdamW::new(
            &[&encoder],
            &[1e-5, 0.0, 1e-5, 1e-5],
            &AdamWConfig::default(),
            5,
        )
        .unwrap_err();
        assert!(err.to_string().contains("rate of depth 1 is 0"), "{err}");
        let err = LayerwiseAdamW::new(
            &[&encoder, &encoder],
            &[1e-5; 4],
            &AdamWConfig::default(),
            5,
        )
        .unwrap_err();
        assert!(err.to_string().contains("passed twice"), "{err}");
        let cfg = AdamWConfig {
            beta2: 1.0,
            ..AdamWConfig::default()
        };
        let err = LayerwiseAdamW::new(&[&encoder], &[1e-5; 4], &cfg, 5).unwrap_err();
        assert!(format!("{err:#}").contains("beta2 is 1"), "{err:#}");
    }

    #[test]
    fn config_reads_partial_yaml_with_defaults() {
        let cfg: AdamWConfig =
            serde_yaml::from_str("weight_decay: 0.01\nclip_norm: 1.0\n").unwrap();
        assert_eq!(cfg.weight_decay, 0.01);
        assert_eq!(cfg.clip_norm, Some(1.0));
        assert_eq!(
            (cfg.beta1, cfg.beta2, cfg.eps, cfg.warmup_frac),
            (0.9, 0.999, 1e-8, 0.1)
        );
    }
}
