//! [CLS] embeddings, their k-means split and 2-D projection (docs/METHOD.md "Scenarios").

use anyhow::{Context, Result};
use linfa::prelude::*;
use linfa_clustering::KMeans;
use lrdist_data::{make_batches, BatchOrder, Encoded};
use lrdist_model::Encoder;
use ndarray::Array2;
use tch::{Device, Kind, Tensor};

use crate::inputs::BatchTensors;

/// The last layer's [CLS] vector of every row, in row order, as an `[n, hidden]` tensor
/// on the CPU (evaluation mode, no autograd).
pub fn cls_embeddings(
    encoder: &Encoder,
    rows: &[Encoded],
    batch_size: usize,
    pad_id: i64,
) -> Tensor {
    let device = encoder.vs.device();
    let hidden = encoder.config.hidden_size as i64;
    let mut out = Tensor::zeros([rows.len() as i64, hidden], (Kind::Float, Device::Cpu));
    tch::no_grad(|| {
        for batch in make_batches(rows, batch_size, BatchOrder::ByLength, pad_id) {
            let t = BatchTensors::new(&batch, device);
            let cls = encoder
                .bert
                .cls_t(&t.input_ids, &t.token_type_ids, &t.attention_mask, false);
            let idx: Vec<i64> = batch.rows.iter().map(|&r| r as i64).collect();
            let _ = out.index_copy_(0, &Tensor::from_slice(&idx), &cls.to_device(Device::Cpu));
        }
    });
    out
}

fn to_array(x: &Tensor) -> Result<Array2<f64>> {
    let (n, h) = x.size2()?;
    let flat = Vec::<f64>::try_from(x.to_kind(Kind::Double).reshape([-1]))?;
    Ok(Array2::from_shape_vec((n as usize, h as usize), flat)?)
}

/// k-means with k = 2 (linfa-clustering, its fixed default RNG, so the split is
/// deterministic) fitted on `fit` and applied to `fit` and `apply`.
/// Returns the cluster of every row of each.
pub fn kmeans_two_clusters(fit: &Tensor, apply: &Tensor) -> Result<(Vec<usize>, Vec<usize>)> {
    let fit_a = to_array(fit)?;
    let dataset = DatasetBase::from(fit_a.clone());
    let model = KMeans::params(2)
        .max_n_iterations(300)
        .tolerance(1e-6)
        .fit(&dataset)
        .context("k-means on [CLS] embeddings failed")?;
    let fit_labels = model.predict(&fit_a).to_vec();
    let apply_labels = model.predict(&to_array(apply)?).to_vec();
    Ok((fit_labels, apply_labels))
}

/// The first two principal components of the rows of `x` (centred, via SVD).
pub fn pca2(x: &Tensor) -> Result<Vec<(f64, f64)>> {
    let centred = x - x.mean_dim(0, true, Kind::Float);
    let (u, s, _v) = centred.f_svd(true, true)?;
    let proj = u.narrow(1, 0, 2) * s.narrow(0, 0, 2);
    let flat = Vec::<f64>::try_from(proj.to_kind(Kind::Double).reshape([-1]))?;
    Ok(flat.chunks(2).map(|c| (c[0], c[1])).collect())
}

/// [CLS] vectors of texts (or text pairs) with the pretrained model in `model_dir`.
pub fn encode_texts(
    model_dir: &std::path::Path,
    device: Device,
    texts: &[(String, Option<String>)],
    max_len: usize,
) -> Result<Vec<Vec<f32>>> {
    let tokenizer = lrdist_data::TextTokenizer::from_model_dir(model_dir, max_len)?;
    let rows = texts
        .iter()
        .map(|(a, b)| tokenizer.encode_text(a, b.as_deref()))
        .collect::<Result<Vec<_>>>()?;
    let encoder = Encoder::pretrained(model_dir, device)?;
    let emb = cls_embeddings(&encoder, &rows, 64, tokenizer.pad_id());
    (0..rows.len() as i64)
        .map(|i| Ok(Vec::<f32>::try_from(emb.get(i))?))
        .collect()
}
