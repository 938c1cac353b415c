//! What each `lrdist` command does, one function per command ([`commands`]), on options
//! already parsed into types by the CLI (`crates/cli`), which only parses and calls one of
//! them. Shared by every command: the global settings ([`Settings`]: model, GLUE folder,
//! results folder, device, quiet), where text goes ([`Console`]) and whose fault an error
//! is ([`Failure`]: bad input exits 2, a failure while working 1). The process's heap is
//! set up once at start ([`heap`]).

pub mod commands;
pub mod heap;

use std::fmt::Display;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use lrdist_train::RunContext;

pub use commands::*;

/// An error and whose fault it is: bad input exits 2, a failure while working exits 1.
#[derive(Debug)]
pub enum Failure {
    Input(anyhow::Error),
    Runtime(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Runtime(e)
    }
}

impl Failure {
    /// The error, whoever caused it.
    pub fn error(&self) -> &anyhow::Error {
        match self {
            Failure::Input(e) | Failure::Runtime(e) => e,
        }
    }

    /// Whether the error comes from writing to a pipe whose reader has gone (`--out -`
    /// into `head`, say): not a failure of the command, which then ends quietly.
    pub fn is_broken_pipe(&self) -> bool {
        self.error().chain().any(|cause| {
            let io = cause.downcast_ref::<std::io::Error>().or_else(|| {
                match cause.downcast_ref::<csv::Error>().map(csv::Error::kind) {
                    Some(csv::ErrorKind::Io(e)) => Some(e),
                    _ => None,
                }
            });
            io.is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
        })
    }

    /// The process's exit code: 2 for bad input (also an error met while working that the
    /// user's input caused, [`is_bad_input`]), else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Input(_) => 2,
            Failure::Runtime(e) if is_bad_input(e) => 2,
            Failure::Runtime(_) => 1,
        }
    }
}

/// Whether an error met while working was caused by the user's input files (a malformed
/// data row is found only when the data is read, after the checks of `validate`): such
/// errors exit 2 like every other bad input. A GLUE file's error, or one of a file of the
/// user's (a task's train or dev file, `predict`'s input: [`lrdist_data::InputError`]).
pub fn is_bad_input(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.downcast_ref::<lrdist_data::GlueError>().is_some()
            || cause.downcast_ref::<lrdist_data::InputError>().is_some()
    })
}

/// Marks errors of a step that only checks the user's input.
pub fn input<T>(r: Result<T>) -> Result<T, Failure> {
    r.map_err(Failure::Input)
}

/// Which stream a text goes to: a command's result (stdout) or progress, summaries and
/// notes (stderr).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

/// Where a command writes: every text goes through one callback, which the CLI points at
/// stdout and stderr.
pub struct Console<'a> {
    write: &'a mut dyn FnMut(Stream, &str),
}

impl<'a> Console<'a> {
    pub fn new(write: &'a mut dyn FnMut(Stream, &str)) -> Self {
        Self { write }
    }

    /// `text` and a newline on stdout.
    pub fn out(&mut self, text: impl Display) {
        (self.write)(Stream::Out, &format!("{text}\n"));
    }

    /// `text` as it is on stdout.
    pub fn out_raw(&mut self, text: &str) {
        (self.write)(Stream::Out, text);
    }

    /// `text` and a newline on stderr.
    pub fn err(&mut self, text: impl Display) {
        (self.write)(Stream::Err, &format!("{text}\n"));
    }

    /// `text` as it is on stderr.
    pub fn err_raw(&mut self, text: &str) {
        (self.write)(Stream::Err, text);
    }
}

/// The model folder when neither --model, a config's `model:` nor $LRDIST_MODEL names one.
pub const DEFAULT_MODEL: &str = "models/all-MiniLM-L6-v2";

/// The options every command shares.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `--model`.
    pub model: Option<PathBuf>,
    /// `--glue-dir` (or $GLUE_DIR).
    pub glue_dir: Option<PathBuf>,
    /// Results folder.
    pub results: PathBuf,
    /// `auto`, `cpu`, `cuda` or `cuda:N`.
    pub device: String,
    /// Intra-op threads [default: every core].
    pub threads: Option<i32>,
    /// No progress bars or summaries on stderr.
    pub quiet: bool,
}

impl Settings {
    /// Sets libtorch's intra-op threads: `threads`, else one per core.
    pub fn apply_threads(&self) {
        match self.threads {
            Some(n) => tch::set_num_threads(n),
            None => tch::set_num_threads(
                std::thread::available_parallelism().map_or(1, |n| n.get() as i32),
            ),
        }
    }

    /// The model folder: --model, else the config's `model:` (`config_model`), else
    /// $LRDIST_MODEL, else [`DEFAULT_MODEL`].
    pub fn model_dir(&self, config_model: Option<&Path>) -> PathBuf {
        self.model
            .clone()
            .or_else(|| config_model.map(PathBuf::from))
            .or_else(|| {
                std::env::var_os("LRDIST_MODEL")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL))
    }

    pub fn device(&self) -> Result<tch::Device> {
        Ok(match self.device.as_str() {
            "auto" => tch::Device::cuda_if_available(),
            "cpu" => tch::Device::Cpu,
            "cuda" => tch::Device::Cuda(0),
            other => match other.strip_prefix("cuda:").and_then(|n| n.parse().ok()) {
                Some(n) => tch::Device::Cuda(n),
                None => bail!("unknown device `{other}` (auto, cpu, cuda, cuda:N)"),
            },
        })
    }

    /// The GLUE folder ($GLUE_DIR, --glue-dir or the default), checked.
    pub fn glue_dir(&self) -> Result<PathBuf> {
        lrdist_data::resolve_glue_dir(self.glue_dir.as_deref())
    }

    /// The context of a command that reads GLUE.
    pub fn context(&self) -> Result<RunContext> {
        self.context_for_glue(None, true)
    }

    /// The context of a command whose config may name the model (`model:`), with the
    /// GLUE folder resolved only when `glue` (a command whose tasks are all the user's own
    /// files needs none, and its `glue_dir` stays empty).
    pub fn context_for_glue(&self, config_model: Option<&Path>, glue: bool) -> Result<RunContext> {
        let mut ctx = self.context_for_model(self.model_dir(config_model))?;
        if glue {
            ctx.glue_dir = self.glue_dir()?;
        }
        Ok(ctx)
    }

    /// The context of a command that needs only the model.
    pub fn context_no_data(&self) -> Result<RunContext> {
        self.context_for_model(self.model_dir(None))
    }

    /// The context of the model in `model_dir`, which must hold a model; no GLUE folder.
    pub fn context_for_model(&self, model_dir: PathBuf) -> Result<RunContext> {
        if !model_dir.join(lrdist_model::CONFIG_FILE).is_file() {
            bail!(
                "no model at {}: pass --model DIR or set LRDIST_MODEL to a Hugging Face BERT folder (config.json, model.safetensors or pytorch_model.bin, tokenizer.json); `make model` fetches the default one",
                model_dir.display()
            );
        }
        Ok(RunContext {
            model_dir,
            glue_dir: PathBuf::new(),
            device: self.device()?,
            cache_dir: lrdist_train::runner::default_cache_dir(&self.results),
            results_dir: self.results.clone(),
            progress: !self.quiet,
        })
    }
}
