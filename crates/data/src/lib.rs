//! Task data for lrdist: the nine GLUE tasks built in and tasks of your own read from CSV,
//! TSV or JSONL files ([`TaskSpec`], loaded into a [`Task`] with its label set by
//! [`load_task`]), their metrics, seeded label-stratified subsampling, tokenisation with
//! the model's `tokenizer.json`, and batches padded to their own longest row (optionally
//! length-bucketed).
//!
//! Batches are plain `Vec` buffers; this crate does not link libtorch.
//!
//! ```no_run
//! use lrdist_data::{load_task, make_batches, resolve_glue_dir, BatchOrder, DataSpec, TaskSpec, TextTokenizer};
//! # fn main() -> anyhow::Result<()> {
//! let glue = resolve_glue_dir(None)?; // $GLUE_DIR
//! let spec = DataSpec { max_train: Some(2000), ..DataSpec::default() };
//! let data = load_task(&glue, &"sst2".parse::<TaskSpec>()?, &spec)?;
//! let tokenizer = TextTokenizer::from_model_dir("models/all-MiniLM-L6-v2".as_ref(), 256)?;
//! let encoded = tokenizer.encode(&data.train)?;
//! let batches = make_batches(&encoded, 8, BatchOrder::Bucketed { seed: 0 }, tokenizer.pad_id());
//! # Ok(()) }
//! ```

mod batch;
mod file_task;
mod glue;
pub mod metrics;
mod subset;
pub mod table;
mod task;
mod tokenize;

pub use batch::{length_split, make_batches, padding_stats, Batch, BatchOrder, BUCKET_BATCHES};
pub use file_task::FileTaskRecord;
pub use glue::{
    read_split, read_tsv, resolve_glue_dir, task_dir, Example, GlueError, Split, GLUE_DIR_ENV,
};
pub use subset::{load_task, stratified_indices, stratified_sample, DataSpec, TaskData};
pub use table::InputError;
pub use task::{
    FileDigests, FileTask, GlueTask, LabelSet, Task, TaskKind, TaskName, TaskSpec, UnknownTask,
    DEFAULT_LABEL_COLUMN, DEFAULT_TEXT_COLUMN,
};
pub use tokenize::{Encoded, TextTokenizer};

#[cfg(test)]
mod fixtures;
