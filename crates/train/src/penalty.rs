//! Regularisation baselines (docs/METHOD.md "Baselines"): EWC and L2-SP.
//!
//! Both pull the encoder toward an anchor. They differ from the authors' code as follows:
//! the authors' EWC estimated its Fisher from a masked-LM loss on Wikipedia, anchored at the
//! pretrained weights (and, through a grouping bug, trained with a frozen encoder). Ours is
//! the classic form (Kirkpatrick et al. 2017): the diagonal *empirical* Fisher of the
//! previous task's own loss, computed from single-row gradients at the end of that task's
//! stage, anchored at the weights reached there. MiniLM has no MLM head, so the authors'
//! variant is not available for the default model.

use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

use crate::config::PenaltySpec;
use crate::inputs::RowSet;

/// What a penalty reads of the model it regularises: the encoder's trainable parameters
/// (what it anchors) and the task loss's gradients for single rows (EWC's Fisher).
/// `Learner` implements it. The trait lives here, with the penalty, so that the penalty
/// depends on no more than it reads while the training loop adds its value to the loss.
pub trait PenalisedModel {
    /// The encoder's trainable parameters, in a fixed order.
    fn encoder_parameters(&self) -> Vec<Tensor>;

    /// Gradients of head `head`'s task loss for the single rows `rows` of `set`: calls
    /// `visit` after each row's backward pass with [`Self::encoder_parameters`], whose
    /// gradients are zeroed before each row and after the last.
    fn per_row_gradients(
        &self,
        head: usize,
        set: &RowSet,
        rows: &[usize],
        visit: impl FnMut(&[Tensor]),
    );
}

/// One anchor: encoder parameters, their anchor values and (for EWC) their importance.
struct Anchor {
    params: Vec<Tensor>,
    values: Vec<Tensor>,
    fisher: Option<Vec<Tensor>>,
}

/// A penalty added to the task loss during later stages.
pub struct Penalty {
    spec: PenaltySpec,
    anchors: Vec<Anchor>,
}

impl Penalty {
    pub fn new(spec: PenaltySpec) -> Self {
        Self {
            spec,
            anchors: Vec::new(),
        }
    }

    pub fn spec(&self) -> &PenaltySpec {
        &self.spec
    }

    /// Called before each stage the penalty regularises. L2-SP anchors at the weights the
    /// first of them starts from, the starting point of the regularised fine-tuning
    /// (docs/METHOD.md, "Baselines"): the pretrained weights when stage A is penalised (the
    /// both-stage protocol), the post-A weights under `--stage2-only`, whose cached stage A
    /// trains without the penalty. Later calls keep that anchor; EWC anchors in
    /// [`Self::after_stage`] instead.
    pub fn before_stage(&mut self, model: &impl PenalisedModel) {
        if let PenaltySpec::L2sp { .. } = self.spec {
            if self.anchors.is_empty() {
                self.anchors.push(snapshot(model, None));
            }
        }
    }

    /// Called after each stage but the last: EWC adds the Fisher of the stage just
    /// trained (one term per finished task, as in the original multi-task EWC).
    pub fn after_stage(
        &mut self,
        model: &impl PenalisedModel,
        head: usize,
        set: &RowSet,
        seed: u64,
    ) {
        if let PenaltySpec::Ewc { fisher_rows, .. } = self.spec {
            let fisher = diagonal_fisher(model, head, set, fisher_rows, seed);
            self.anchors.push(snapshot(model, Some(fisher)));
        }
    }

    /// Whether the penalty is active yet (EWC only after the first stage).
    pub fn is_active(&self) -> bool {
        !self.anchors.is_empty()
    }

    /// The penalty term: `lambda/2 * sum_t sum_i F_t,i (theta_i - theta*_t,i)^2` for EWC,
    /// `alpha/2 * ||theta - theta_0||^2` for L2-SP.
    pub fn value(&self) -> Tensor {
        let strength = match self.spec {
            PenaltySpec::Ewc { lambda, .. } => lambda,
            PenaltySpec::L2sp { alpha } => alpha,
        };
        let mut terms = Vec::new();
        for anchor in &self.anchors {
            for (i, (p, v)) in anchor.params.iter().zip(&anchor.values).enumerate() {
                let sq = (p - v).square();
                let term = match &anchor.fisher {
                    Some(f) => (sq * &f[i]).sum(Kind::Float),
                    None => sq.sum(Kind::Float),
                };
                terms.push(term);
            }
        }
        Tensor::stack(&terms, 0).sum(Kind::Float) * (strength / 2.0)
    }
}

/// The encoder's trainable parameters and a detached copy of their current values.
fn snapshot(model: &impl PenalisedModel, fisher: Option<Vec<Tensor>>) -> Anchor {
    let params = model.encoder_parameters();
    let values = tch::no_grad(|| params.iter().map(|p| p.detach().copy()).collect());
    Anchor {
        params,
        values,
        fisher,
    }
}

/// Diagonal empirical Fisher of the task loss: the mean over `rows` seeded train rows of
/// each parameter's squared single-row gradient.
pub fn diagonal_fisher(
    model: &impl PenalisedModel,
    head: usize,
    set: &RowSet,
    rows: usize,
    seed: u64,
) -> Vec<Tensor> {
    let n = rows.min(set.len()).max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xF15E);
    let mut picked = sample(&mut rng, set.len(), n).into_vec();
    picked.sort_unstable();
    let mut fisher: Option<Vec<Tensor>> = None;
    model.per_row_gradients(head, set, &picked, |params| {
        tch::no_grad(|| {
            let sq: Vec<Tensor> = params
                .iter()
                .map(|p| {
                    let g = p.grad();
                    if g.defined() {
                        g.square()
                    } else {
                        p.zeros_like()
                    }
                })
                .collect();
            match &mut fisher {
                None => fisher = Some(sq),
                Some(acc) => acc.iter_mut().zip(sq).for_each(|(a, s)| {
                    let _ = a.g_add_(&s);
                }),
            }
        })
    });
    let mut fisher = fisher.expect("at least one row");
    for f in &mut fisher {
        let _ = f.g_div_scalar_(n as f64);
    }
    fisher
}
