//! Command-line arguments. `--help` on every command explains what it does.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use lrdist_data::{DataSpec, FileTask, GlueTask, TaskKind, TaskName, TaskSpec};
use lrdist_train::{ExperimentConfig, PenaltySpec, RunRequest, ScaleSpec, ScenarioSpec};

#[derive(Parser)]
#[command(
    name = "lrdist",
    version,
    about = "Learning-rate distributions against catastrophic forgetting in transformers",
    long_about = "Reproduces and extends Kenneweg et al., \"Intelligent Learning Rate Distribution to \
reduce Catastrophic Forgetting in Transformers\" (IDEAL 2022): fine-tune a BERT encoder with one \
learning rate per layer group on two GLUE tasks in sequence, and measure what the first task forgot.\n\n\
Typical use:\n  lrdist finetune --task sst2 --max-train 2000 --epochs 1\n  lrdist run --first sst2 --second mrpc \
--distribution paper-combined --scale quick\n  lrdist groups --grouping paper10 --model path/to/bert-base\n\n\
Data comes from --glue-dir or GLUE_DIR (the standard GLUE TSV layout); the model from --model or \
LRDIST_MODEL (any local Hugging Face BERT folder)."
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Args)]
pub struct Common {
    /// Model folder: config.json, model.safetensors (or pytorch_model.bin), tokenizer.json
    /// (HF BERT layout)
    /// [default: the --config's `model:`, else $LRDIST_MODEL, else models/all-MiniLM-L6-v2].
    #[arg(long, global = true)]
    pub model: Option<PathBuf>,
    /// GLUE folder (one sub-folder per task, GLUE TSV layout).
    #[arg(long, global = true, env = "GLUE_DIR")]
    pub glue_dir: Option<PathBuf>,
    /// Results folder: run records go to RESULTS/runs/*.jsonl.
    #[arg(long, global = true, default_value = "results")]
    pub results: PathBuf,
    /// auto (CUDA when available), cpu, or cuda[:N].
    #[arg(long, global = true, default_value = "auto")]
    pub device: String,
    /// Intra-op threads (default: all cores).
    #[arg(long, global = true)]
    pub threads: Option<i32>,
    /// No progress bars or summaries on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// The model folder when neither --model, a config's `model:` nor $LRDIST_MODEL names one.
pub const DEFAULT_MODEL: &str = "models/all-MiniLM-L6-v2";

impl Common {
    /// The model folder: --model, else the config's `model:` (`config_model`), else
    /// $LRDIST_MODEL, else [`DEFAULT_MODEL`].
    pub fn model_dir(&self, config_model: Option<&std::path::Path>) -> PathBuf {
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
}

// One value per process, parsed once: the size of its largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum Cmd {
    /// Fine-tune on one task, a GLUE task (--task) or one of your own (--train, --dev), and
    /// print its dev metrics (last stdout line: JSON).
    Finetune(FinetuneArgs),
    /// Print the last layer's [CLS] vector of texts as JSON arrays, one line per input.
    Encode(EncodeArgs),
    /// Show how the model's parameters fall into learning-rate groups.
    Groups(GroupsArgs),
    /// Write a distribution as torch.optim.AdamW parameter groups of a Hugging Face
    /// BertForSequenceClassification: JSON `[{"lr", "weight_decay", "params": [names]}]`.
    ///
    /// Names are transformers' (`bert.embeddings.*`, `bert.encoder.layer.<i>.*`,
    /// `bert.pooler.*`, `classifier.*`), read from --model's model.safetensors; each gets
    /// the rate of its depth as lrdist trains it (pooler and classifier at the top depth),
    /// and weight decay except on biases and LayerNorm. python/lrdist_param_groups.py
    /// turns the file into AdamW groups of a model.
    ExportParamGroups(ExportParamGroupsArgs),
    /// Run the forgetting protocol once: train on A, then B; report a1, p_s, p_o.
    Run(RunArgs),
    /// Classify the texts of a CSV, TSV or JSONL file with a saved model (--model DIR: a
    /// folder written by --save, or any Hugging Face BertForSequenceClassification
    /// folder). Writes one JSON object per input row, in input order:
    /// {"label", "probabilities": {label: p}}, or {"value"} for a regression head.
    Predict(PredictArgs),
    /// The main job: quick SST-2 -> MRPC, flat 2e-5 against the paper's combined distribution
    /// (another pair with --first/--second, a task of your own with --train/--dev, or an
    /// experiment file's pair with --config).
    Demo(DemoArgs),
    /// Calibrate a scale's flat rate: fine-tune each task alone over a grid of flat rates
    /// and seeds (experiments/calibration.yaml; a task of your own with --train/--dev), one
    /// record per run, resumable.
    ///
    /// Records go to RESULTS/calibration/<scale>-<task>.jsonl; `lrdist analysis table calibration`
    /// (make table-calibration) picks the best mean dev score per task. The runs go
    /// through the stage-1 cache, so a later --stage2-only run whose task A, seed and
    /// rate match restores its stage 1 instead of training it.
    Calibrate(CalibrateArgs),
    /// Tune the baselines' hyperparameters on the searched settings (experiments/tuning.yaml):
    /// every grid point x setting x seed without a record is run, then the choice is written.
    ///
    /// Records go to RESULTS/tuning/<scale>/<setting>.jsonl (one file per setting, so two
    /// workers given different --settings never share a file). Once every run of the
    /// tuning has its record, RESULTS/tuning/<scale>.yaml gets, per baseline, the grid point
    /// with the highest mean p_o + p_s (the search's objective); the experiment configs'
    /// `{name: ewc, tuned: results/tuning/forget.yaml}` methods read it. Example, two workers
    /// then the choice: `lrdist tune --settings sst2_mrpc,mrpc_sst2 & lrdist tune --settings
    /// qqp_mrpc,mrpc_qqp; wait; lrdist tune --choose`.
    Tune(TuneArgs),
    /// Search learning-rate distributions: GP Bayesian optimisation under successive halving.
    Search(SearchArgs),
    /// Combine searches: 1.8^-rank weighted geometric mean within, plain geometric mean across.
    Combine(CombineArgs),
    /// Tables (Markdown + CSV) and figures (PNG + SVG) from the records in RESULTS.
    Analysis(AnalysisArgs),
    /// Inspect data selections.
    Data {
        #[command(subcommand)]
        cmd: DataCmd,
    },
    /// Measure speed: the matmul ceiling, or each thing that makes training fast.
    Bench {
        #[command(subcommand)]
        cmd: BenchCmd,
    },
}

#[derive(Subcommand)]
pub enum BenchCmd {
    /// The machine's fp32 matmul rate through libtorch (the ceiling of a training step).
    /// Last stdout line: JSON {"n", "flops_per_s", "device", "threads"}.
    Matmul {
        /// Size of the square matrices.
        #[arg(long, default_value_t = 2048)]
        n: i64,
        /// Timed repetitions after 3 warm-up runs (the best counts).
        #[arg(long, default_value_t = 20)]
        reps: usize,
    },
    /// Measure, in one run on the real model and rows, tokenisation caching, length
    /// bucketing, intra-op threads, no-autograd evaluation, evaluation batch size and the
    /// training step's share of the matmul ceiling. Prints a table; one JSON row per line
    /// goes to stdout, and to --csv when given.
    Speed(SpeedArgs),
}

#[derive(Args)]
pub struct SpeedArgs {
    /// The GLUE task whose rows are measured [default: sst2], or give a task of your own
    /// with --train and --dev.
    #[arg(long, conflicts_with = "train")]
    pub task: Option<GlueTask>,
    #[command(flatten)]
    pub file: FileTaskArgs,
    /// Train rows per measured epoch.
    #[arg(long, default_value_t = 1024)]
    pub train_rows: usize,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 128)]
    pub max_len: usize,
    /// Also write the rows as CSV.
    #[arg(long)]
    pub csv: Option<PathBuf>,
}

/// The task of `bench speed` when none is given.
pub const SPEED_TASK: GlueTask = GlueTask::Sst2;

impl SpeedArgs {
    pub fn options(&self) -> Result<lrdist_bench::SpeedOptions> {
        Ok(lrdist_bench::SpeedOptions {
            task: self.file.one_task(self.task, Some(SPEED_TASK))?,
            train_rows: self.train_rows,
            batch_size: self.batch_size,
            max_len: self.max_len,
        })
    }
}

#[derive(Subcommand)]
pub enum DataCmd {
    /// Write the train rows a selection picks, of a GLUE task or of a task of your own, as TSV
    /// (or CSV, JSONL by --out's extension; e.g. to feed another tool the same rows).
    Sample(DataArgs),
}

/// Sizes and hyperparameters: a scale (built-in or from --config) with overrides.
#[derive(Args, Clone)]
pub struct ScaleArgs {
    /// Scale: `quick` (minutes), `cpu` (3x its compute) or, from --config, `forget` (the
    /// calibrated regime where flat forgets; docs/METHOD.md) [default: quick; finetune:
    /// all rows, 3 epochs]. Flags below override its fields, and a run with overrides is
    /// recorded under the scale `NAME+FLAG=VALUE,...`, never pooled with NAME itself.
    #[arg(long)]
    pub scale: Option<String>,
    /// Train rows per task (label-stratified, seeded sample).
    #[arg(long)]
    pub max_train: Option<usize>,
    /// Train rows of every stage after the first (task B; each later task of a sequence);
    /// task A keeps --max-train, so its cached stage 1 is reused (docs/METHOD.md, "The
    /// forget scale"). The shifts split one sample and ignore it.
    #[arg(long)]
    pub stage_b_train: Option<usize>,
    /// Dev rows per task (same sampling).
    #[arg(long)]
    pub max_dev: Option<usize>,
    /// Use N held-out train rows of each GLUE task as its dev set (for tasks whose dev file is
    /// partial; a task of your own is scored on its --dev file unless a scale's
    /// `dev_from_train` names it).
    #[arg(long)]
    pub dev_from_train: Option<usize>,
    /// Epochs per training stage.
    #[arg(long)]
    pub epochs: Option<usize>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Max tokens per row (rows are padded per batch, never to this length).
    #[arg(long)]
    pub max_len: Option<usize>,
    /// AdamW weight decay (never on biases and LayerNorm; paper: 0).
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Clip the global gradient norm.
    #[arg(long)]
    pub clip_norm: Option<f64>,
    /// Shuffle without length bucketing.
    #[arg(long)]
    pub no_bucketing: bool,
}

/// The scale of `run` and `search` when none is named.
pub const DEFAULT_SCALE: &str = "quick";

impl ScaleArgs {
    /// The named scale (`--scale`, else [`DEFAULT_SCALE`]).
    pub fn name(&self) -> &str {
        self.scale.as_deref().unwrap_or(DEFAULT_SCALE)
    }

    /// The scale before overrides: from `config`, else built in.
    fn base(&self, config: Option<&ExperimentConfig>) -> Result<ScaleSpec> {
        match config {
            Some(c) => c.scale(self.name()),
            None => ScaleSpec::builtin(self.name()),
        }
    }

    /// The scale and the name it is recorded under: the named one with the overrides
    /// applied; `NAME+flag=value,...` when they change it.
    pub fn resolve_named(&self, config: Option<&ExperimentConfig>) -> Result<(String, ScaleSpec)> {
        let base = self.base(config)?;
        let resolved = self.apply(base.clone());
        let name = if resolved == base {
            self.name().to_string()
        } else {
            format!("{}+{}", self.name(), self.overrides().join(","))
        };
        Ok((name, resolved))
    }

    /// `finetune`'s scale: the named one if `--scale` is given, else [`finetune_base`];
    /// then the overrides.
    pub fn resolve_finetune(&self) -> Result<ScaleSpec> {
        let base = match &self.scale {
            Some(_) => self.base(None)?,
            None => finetune_base(),
        };
        Ok(self.apply(base))
    }

    /// The override flags given, as `flag=value`.
    fn overrides(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut add = |flag: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push(format!("{flag}={v}"));
            }
        };
        add("max-train", self.max_train.map(|v| v.to_string()));
        add("stage-b-train", self.stage_b_train.map(|v| v.to_string()));
        add("max-dev", self.max_dev.map(|v| v.to_string()));
        add("dev-from-train", self.dev_from_train.map(|v| v.to_string()));
        add("epochs", self.epochs.map(|v| v.to_string()));
        add("batch-size", self.batch_size.map(|v| v.to_string()));
        add("max-len", self.max_len.map(|v| v.to_string()));
        add("weight-decay", self.weight_decay.map(|v| v.to_string()));
        add("clip-norm", self.clip_norm.map(|v| v.to_string()));
        add(
            "no-bucketing",
            self.no_bucketing.then(|| "true".to_string()),
        );
        out
    }

    /// `s` with the override flags applied.
    fn apply(&self, mut s: ScaleSpec) -> ScaleSpec {
        if self.max_train.is_some() {
            s.max_train = self.max_train;
        }
        if self.stage_b_train.is_some() {
            s.stage_b_train = self.stage_b_train;
        }
        if self.max_dev.is_some() {
            s.max_dev = self.max_dev;
        }
        if let Some(n) = self.dev_from_train {
            for t in GlueTask::all() {
                s.dev_from_train.insert(t.into(), n);
            }
        }
        s.epochs = self.epochs.unwrap_or(s.epochs);
        s.batch_size = self.batch_size.unwrap_or(s.batch_size);
        s.max_len = self.max_len.unwrap_or(s.max_len);
        s.weight_decay = self.weight_decay.unwrap_or(s.weight_decay);
        if self.clip_norm.is_some() {
            s.clip_norm = self.clip_norm;
        }
        if self.no_bucketing {
            s.bucketing = false;
        }
        s
    }
}

/// `finetune`'s base when no `--scale` is given: all rows, 3 epochs, batch 8.
/// Measured on SST-2, 2000 rows, 1 epoch, flat 1e-4: batch 8 → 0.813 dev accuracy,
/// batch 16 → 0.795, batch 32 → 0.798 (few steps for MiniLM's untrained [CLS] head).
pub fn finetune_base() -> ScaleSpec {
    let mut s = ScaleSpec::builtin("quick").expect("built-in scale");
    s.max_train = None;
    s.max_dev = None;
    s.epochs = 3;
    s.batch_size = 8;
    s
}

#[derive(Args)]
pub struct FinetuneArgs {
    /// A GLUE task: cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte or wnli (or give a task of
    /// your own with --train and --dev).
    #[arg(long, required_unless_present = "train", conflicts_with = "train")]
    pub task: Option<GlueTask>,
    #[command(flatten)]
    pub file: FileTaskArgs,
    /// Learning rates: flat:LR, llrd:LR:DECAY, paper-combined, paper-rounded:BASE or a YAML/JSON file.
    /// The default 1e-4 suits MiniLM-L6 (its [CLS] vector was never trained for
    /// classification; at 2e-5 it barely learns SST-2 from 2000 rows in one epoch).
    #[arg(long, default_value = "flat:1e-4")]
    pub distribution: String,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub head: HeadArgs,
    #[command(flatten)]
    pub scale: ScaleArgs,
}

impl FinetuneArgs {
    /// The task: `--task`, or the one `--train`/`--dev` give.
    pub fn task_spec(&self) -> Result<TaskSpec> {
        self.file.one_task(self.task, None)
    }
}

/// A task of your own, the same flags on every command that takes a task (`finetune`,
/// `run`, `calibrate`, `demo`, `data sample`, `bench speed`): two files, CSV, TSV
/// (unquoted) or JSONL, told apart by extension, with a header line (or keys) naming their
/// columns.
#[derive(Args, Clone, Default)]
pub struct FileTaskArgs {
    /// Train file of a task of your own: .csv, .tsv (unquoted, as GLUE's) or .jsonl (one
    /// object per line). A classification task's label set is this file's labels (strings
    /// or integers), sorted, integers by value; it is kept in records and saved models.
    #[arg(long, value_name = "FILE", requires = "dev")]
    pub train: Option<PathBuf>,
    /// Dev file of that task (its scores); every label must be one of the train file's.
    #[arg(long, value_name = "FILE", requires = "train")]
    pub dev: Option<PathBuf>,
    /// Column of the text [default: text].
    #[arg(long, requires = "train")]
    pub text_column: Option<String>,
    /// Column of the second text, for a task on sentence pairs.
    #[arg(long, requires = "train")]
    pub text_pair_column: Option<String>,
    /// Column of the label [default: label].
    #[arg(long, requires = "train")]
    pub label_column: Option<String>,
    /// The label is a number, scored by Pearson and Spearman correlation (without it, a
    /// class, scored by accuracy and macro-F1).
    #[arg(long, requires = "train")]
    pub regression: bool,
    /// The task's name in records, tables and saved folders and in a scale's `train_rows`
    /// and `dev_from_train`; `run` names it in --first, --second, --tasks or --scenario,
    /// `demo` in --first or --second, `calibrate` in --tasks [default: the train file's name
    /// without extension].
    #[arg(long, requires = "train")]
    pub task_name: Option<String>,
}

impl FileTaskArgs {
    /// The task the flags give, checked (name, columns), or `None` without `--train`.
    pub fn task(&self) -> Result<Option<FileTask>> {
        let (Some(train), Some(dev)) = (&self.train, &self.dev) else {
            return Ok(None);
        };
        let name = match &self.task_name {
            Some(name) => name.clone(),
            None => train
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let task = FileTask {
            name,
            train: train.clone(),
            dev: dev.clone(),
            text: self
                .text_column
                .clone()
                .unwrap_or_else(|| lrdist_data::DEFAULT_TEXT_COLUMN.into()),
            text_pair: self.text_pair_column.clone(),
            label: self
                .label_column
                .clone()
                .unwrap_or_else(|| lrdist_data::DEFAULT_LABEL_COLUMN.into()),
            kind: if self.regression {
                TaskKind::Regression
            } else {
                TaskKind::Classification
            },
        };
        task.validate().map_err(|e| match &self.task_name {
            None => anyhow::anyhow!("{e} (name the task with --task-name)"),
            Some(_) => anyhow::anyhow!("{e}"),
        })?;
        Ok(Some(task))
    }

    /// The one task of a command that takes one (`finetune`, `data sample`, `bench speed`):
    /// the GLUE task of `--task` (`glue`), else the one `--train`/`--dev` give, else
    /// `default`.
    pub fn one_task(&self, glue: Option<GlueTask>, default: Option<GlueTask>) -> Result<TaskSpec> {
        match (glue, self.task()?, default) {
            (Some(glue), ..) => Ok(TaskSpec::Glue(glue)),
            (None, Some(file), _) => Ok(TaskSpec::File(file)),
            (None, None, Some(glue)) => Ok(TaskSpec::Glue(glue)),
            (None, None, None) => {
                bail!("give --task NAME (a GLUE task) or --train FILE --dev FILE")
            }
        }
    }
}

/// Fails when the task of `--train`/`--dev` (`file`) is none of `tasks`, the tasks that
/// `what` (`the run`) trains on: a task given but never named is a mistake. `flags` says
/// where to name it.
pub fn require_named(
    file: Option<&FileTask>,
    tasks: &[TaskSpec],
    what: &str,
    flags: &str,
) -> Result<()> {
    if let Some(f) = file {
        if !tasks.iter().any(|t| t.file() == Some(f)) {
            bail!(
                "--train {} gives the task `{}`, which {what} does not name: name it in {flags}",
                f.train.display(),
                f.name
            );
        }
    }
    Ok(())
}

/// What the task heads read, and where to save the trained model (`finetune`, `run`).
#[derive(Args, Clone)]
pub struct HeadArgs {
    /// What the task heads read: `cls`, the last layer's raw [CLS] vector (the paper's
    /// head, and every committed result's), or `pooler`, BERT's pooler first (pooler,
    /// dropout, classifier: Hugging Face's BertForSequenceClassification, which is what
    /// --save then writes; the pooler trains at the head depth).
    #[arg(long, default_value = "cls")]
    pub head: lrdist_model::HeadKind,
    /// Write the trained model as a Hugging Face folder: model.safetensors, config.json
    /// and the tokenizer files (`run`: one folder DIR/<task>/ per head, each loadable
    /// alone). A `pooler` head is a BertForSequenceClassification folder; a `cls` head a
    /// BertModel folder plus lrdist_head.safetensors/.json (python/lrdist_head.py loads it).
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
}

impl HeadArgs {
    pub fn finetune_options(&self) -> lrdist_train::FinetuneOptions {
        lrdist_train::FinetuneOptions {
            head: self.head,
            save: self.save.clone(),
        }
    }
}

#[derive(Args)]
pub struct PredictArgs {
    /// Texts to classify: .csv, .tsv (no quoting) or .jsonl (one object per line), with a
    /// header (or keys) naming the columns.
    #[arg(long)]
    pub input: PathBuf,
    /// Column of the text [default: `text`, else `sentence`].
    #[arg(long)]
    pub text_column: Option<String>,
    /// Column of the second text, for sentence-pair heads (MRPC, STS-B, ...).
    #[arg(long)]
    pub text_pair_column: Option<String>,
    /// JSONL file to write, one object per input row in input order [default: stdout].
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Rows per batch (rows are sorted by length and padded per batch).
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Max tokens per row (lrdist trains at 128 unless a scale says otherwise).
    #[arg(long, default_value_t = 128)]
    pub max_len: usize,
}

impl PredictArgs {
    /// The options of `lrdist predict` on model folder `model_dir`.
    pub fn options(
        &self,
        model_dir: PathBuf,
        device: tch::Device,
        progress: bool,
    ) -> lrdist_train::predict::PredictOptions {
        lrdist_train::predict::PredictOptions {
            model_dir,
            input: self.input.clone(),
            text_column: self.text_column.clone(),
            text_pair_column: self.text_pair_column.clone(),
            output: self.output.clone(),
            batch_size: self.batch_size,
            max_len: self.max_len,
            device,
            progress,
        }
    }
}

#[derive(Args)]
pub struct EncodeArgs {
    /// A text (repeat for several).
    #[arg(long)]
    pub text: Vec<String>,
    /// Second sentence for each --text (sentence pairs).
    #[arg(long)]
    pub text_pair: Vec<String>,
    /// File with one text per line; a tab separates a pair.
    #[arg(long, conflicts_with = "text")]
    pub input: Option<PathBuf>,
    #[arg(long, default_value_t = 128)]
    pub max_len: usize,
}

impl EncodeArgs {
    pub fn texts(&self) -> Result<Vec<(String, Option<String>)>> {
        if let Some(path) = &self.input {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            return Ok(text
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| match l.split_once('\t') {
                    Some((a, b)) => (a.to_string(), Some(b.to_string())),
                    None => (l.to_string(), None),
                })
                .collect());
        }
        if self.text.is_empty() {
            bail!("give --text \"...\" (and optionally --text-pair \"...\") or --input FILE");
        }
        if !self.text_pair.is_empty() && self.text_pair.len() != self.text.len() {
            bail!(
                "{} --text but {} --text-pair: give one pair per text",
                self.text.len(),
                self.text_pair.len()
            );
        }
        Ok(self
            .text
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), self.text_pair.get(i).cloned()))
            .collect())
    }
}

#[derive(Args)]
pub struct ExportParamGroupsArgs {
    /// Learning rates: flat:LR, llrd:LR:DECAY, paper-combined, paper-rounded:BASE or a
    /// YAML/JSON file, resolved for the model's layer count (from --model's config.json).
    #[arg(long)]
    pub distribution: String,
    /// How depths map to the distribution's groups: per-layer, paper10, even:K.
    #[arg(long, default_value = "per-layer")]
    pub grouping: String,
    /// Weight decay of the decayed groups (biases and LayerNorm always get 0); lrdist's
    /// default is 0.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// Write the JSON here instead of to stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

#[derive(Args)]
pub struct GroupsArgs {
    /// Number of groups K (split depths as evenly as possible); default: one per depth.
    #[arg(long, conflicts_with = "grouping")]
    pub groups: Option<usize>,
    /// per-layer, paper10 (the paper's 10-group split of a 12-layer model) or even:K.
    #[arg(long)]
    pub grouping: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

impl GroupsArgs {
    pub fn grouping(&self) -> String {
        match (&self.grouping, self.groups) {
            (Some(g), _) => g.clone(),
            (None, Some(k)) => format!("even:{k}"),
            (None, None) => "per-layer".into(),
        }
    }
}

#[derive(Args)]
pub struct RunArgs {
    /// Experiment config (experiments/*.yaml): scenario, scales, methods.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// First task (task A): a GLUE task, or the --task-name of the --train/--dev task.
    #[arg(long, requires = "second")]
    pub first: Option<String>,
    /// Second task (task B), named as --first.
    #[arg(long, requires = "first")]
    pub second: Option<String>,
    /// A sequence of N tasks, comma-separated (continual-learning metrics), named as --first.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["first", "scenario"])]
    pub tasks: Vec<String>,
    /// embedding-shift:TASK or length-shift:TASK (TASK named as --first).
    #[arg(long, conflicts_with = "first")]
    pub scenario: Option<String>,
    /// A task of your own, named in --first, --second, --tasks or --scenario by its
    /// --task-name (several of your own: an experiment file, --config).
    #[command(flatten)]
    pub file: FileTaskArgs,
    /// Learning rates: flat:LR, llrd:LR:DECAY, paper-combined, paper-rounded:BASE or a YAML/JSON file
    /// [default: flat:2e-5, or the --method's distribution].
    #[arg(long)]
    pub distribution: Option<String>,
    /// With --config: one of its methods (distribution + penalty). Otherwise: the label of
    /// this run in records and tables (default: the distribution).
    #[arg(long)]
    pub method: Option<String>,
    /// How depths map to the distribution's groups: per-layer, paper10, even:K.
    #[arg(long, default_value = "per-layer")]
    pub grouping: String,
    /// ewc:LAMBDA[:ROWS] or l2sp:ALPHA.
    #[arg(long)]
    pub penalty: Option<String>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Apply the distribution to the second stage only (the first is flat at the scale's
    /// base rate, trained once per seed and cached). Implied at the `forget` scale.
    #[arg(long)]
    pub stage2_only: bool,
    /// Measure where forgetting lives: after the last stage, task A's dev score with each
    /// depth's post-A weights put back (embeddings, each layer, heads), in the record's
    /// `attribution` field. Costs one dev evaluation per depth.
    #[arg(long)]
    pub attribute: bool,
    /// JSONL file to append the record to (default: RESULTS/runs/<config or scenario>.jsonl).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// With --config: run every method x seed of the config that has no record yet in the
    /// record file (resumable: an interrupted batch continues where it stopped).
    #[arg(long, requires = "config", conflicts_with_all = ["method", "distribution", "penalty"])]
    pub all: bool,
    /// With --all: only these of the config's methods, comma-separated (e.g. the baselines,
    /// before results/combined/combined.yaml exists).
    #[arg(long, value_delimiter = ',', requires = "all")]
    pub methods: Vec<String>,
    /// What the heads read (`--head`) and where to save the model (`--save`; one run only,
    /// not with --all).
    #[command(flatten)]
    pub head: HeadArgs,
    #[command(flatten)]
    pub scale: ScaleArgs,
}

impl RunArgs {
    /// The `model:` field of --config, if any.
    pub fn config_model(&self) -> Result<Option<PathBuf>> {
        Ok(match &self.config {
            Some(path) => ExperimentConfig::from_file(path)?.model,
            None => None,
        })
    }

    /// With `--all`: one request per method x seed of the config.
    pub fn requests(&self) -> Result<Vec<RunRequest>> {
        if self.all && self.head.save.is_some() {
            bail!("--save writes the model of one run: give it without --all");
        }
        if !self.all {
            return Ok(vec![self.request()?]);
        }
        let config = ExperimentConfig::from_file(
            self.config
                .as_deref()
                .expect("clap: --all requires --config"),
        )?;
        let seeds = if config.seeds.is_empty() {
            vec![self.seed]
        } else {
            config.seeds.clone()
        };
        let scale = self.scale.name();
        if let Some(unknown) = self
            .methods
            .iter()
            .find(|m| config.method(scale, m).is_none())
        {
            bail!(no_such_method(&config, scale, unknown));
        }
        if self.methods.is_empty() {
            for (m, file) in config.pending_at(scale) {
                eprintln!(
                    "{}: method {m} skipped: its tuning file {} does not exist yet (`make tune`)",
                    config.name,
                    file.display()
                );
            }
        }
        // Without --methods, a method whose distribution file is not written yet (the
        // combination before the searches end) waits, said, rather than failing the batch.
        let waiting = |m: &&lrdist_train::MethodSpec| {
            let missing: Vec<_> = lrdist_optimizer::Distribution::files_of(&m.distribution)
                .into_iter()
                .filter(|f| !f.exists())
                .collect();
            let wait = self.methods.is_empty() && !missing.is_empty();
            if wait {
                eprintln!(
                    "{}: method {} skipped: {} does not exist yet",
                    config.name,
                    m.name,
                    missing[0].display()
                );
            }
            wait
        };
        let chosen = config
            .methods_at(scale)
            .iter()
            .filter(|m| self.methods.is_empty() || self.methods.contains(&m.name))
            .filter(|m| !waiting(m));
        let mut out = Vec::new();
        for m in chosen {
            for &seed in &seeds {
                let mut req = self.request()?;
                req.method = m.name.clone();
                req.distribution = req.scale.expand(&m.distribution);
                req.penalty = m.penalty.clone();
                req.intervention = m.intervention.clone();
                req.seed = seed;
                out.push(req);
            }
        }
        Ok(out)
    }

    pub fn request(&self) -> Result<RunRequest> {
        let config = self
            .config
            .as_deref()
            .map(ExperimentConfig::from_file)
            .transpose()?;
        let file = self.file.task()?;
        let task = |name: &str| resolve_task(name, file.as_ref());
        let scenario = match (&config, &self.first, &self.second, &self.scenario) {
            (_, Some(a), Some(b), _) => ScenarioSpec::Pair { first: task(a)?, second: task(b)? },
            _ if !self.tasks.is_empty() => ScenarioSpec::Sequence {
                tasks: self.tasks.iter().map(|t| task(t)).collect::<Result<_>>()?,
            },
            (_, _, _, Some(s)) => parse_scenario(s, file.as_ref())?,
            (Some(c), ..) => c.scenario.clone(),
            _ => bail!("say what to run: --first A --second B, --tasks a,b,c, --scenario KIND:TASK or --config FILE"),
        };
        require_named(
            file.as_ref(),
            &scenario.tasks(),
            "the run",
            "--first, --second, --tasks or --scenario",
        )?;
        scenario.validate()?;
        let (scale_name, scale) = self.scale.resolve_named(config.as_ref())?;
        let method_spec = match (&config, &self.method) {
            (Some(c), Some(m)) => Some(
                c.method(self.scale.name(), m)
                    .cloned()
                    .with_context(|| no_such_method(c, self.scale.name(), m))?,
            ),
            _ => None,
        };
        let (method, mut distribution, penalty, intervention) = match method_spec {
            Some(m) => (m.name, m.distribution, m.penalty, m.intervention),
            None => {
                let d = self
                    .distribution
                    .clone()
                    .unwrap_or_else(|| scale.flat_spec());
                (
                    self.method.clone().unwrap_or_else(|| d.clone()),
                    d,
                    None,
                    None,
                )
            }
        };
        if let Some(d) = &self.distribution {
            distribution = d.clone();
        }
        let distribution = scale.expand(&distribution);
        let penalty = match &self.penalty {
            Some(p) => Some(PenaltySpec::parse(p)?),
            None => penalty,
        };
        let mut req = RunRequest::new(
            scenario,
            &scale_name,
            scale,
            &method,
            &distribution,
            self.seed,
        );
        req.grouping = self.grouping.clone();
        req.penalty = penalty;
        req.intervention = intervention;
        req.stage2_only |= self.stage2_only;
        req.attribute = self.attribute;
        req.head = self.head.head;
        req.save = self.head.save.clone();
        req.config_file = self.config.as_ref().map(|p| p.display().to_string());
        Ok(req)
    }
}

/// `name` as a task: the task of `--train`/`--dev` (`file`) when it has that name, else the
/// GLUE task of that name.
pub fn resolve_task(name: &str, file: Option<&FileTask>) -> Result<TaskSpec> {
    if let Some(f) = file.filter(|f| f.name == name) {
        return Ok(TaskSpec::File(f.clone()));
    }
    name.parse::<GlueTask>()
        .map(TaskSpec::Glue)
        .map_err(|e| match file {
            Some(f) => anyhow::anyhow!("{e}, or `{}` (the --train task)", f.name),
            None => e.into(),
        })
}

/// `embedding-shift:TASK` or `length-shift:TASK` (TASK as [`resolve_task`] reads it).
pub fn parse_scenario(s: &str, file: Option<&FileTask>) -> Result<ScenarioSpec> {
    let (kind, task) = s
        .split_once(':')
        .context("scenario must look like embedding-shift:TASK or length-shift:TASK")?;
    let task = resolve_task(task, file)?;
    match kind {
        "embedding-shift" => Ok(ScenarioSpec::EmbeddingShift { task }),
        "length-shift" => Ok(ScenarioSpec::LengthShift { task }),
        other => bail!("unknown scenario kind `{other}` (embedding-shift, length-shift)"),
    }
}

#[derive(Args)]
pub struct CalibrateArgs {
    /// Calibration config: tasks, rates, seeds and scales.
    #[arg(long, default_value = "experiments/calibration.yaml")]
    pub config: PathBuf,
    /// Scale of the config to calibrate.
    #[arg(long, default_value = "forget")]
    pub scale: String,
    /// Only these of the config's tasks, comma-separated (e.g. one per parallel worker): GLUE
    /// tasks, or tasks of your own by name [default: all; with --train, that task alone].
    #[arg(long, value_delimiter = ',')]
    pub tasks: Vec<TaskName>,
    /// A task of your own to calibrate with the config's rates, seeds and scale, beside its
    /// tasks (named in --tasks by its --task-name).
    #[command(flatten)]
    pub file: FileTaskArgs,
    /// JSONL file for the records (default: RESULTS/calibration/<scale>-<task>.jsonl).
    #[arg(long)]
    pub record: Option<PathBuf>,
}

impl CalibrateArgs {
    /// The calibration's requests: the config with the task of `--train`/`--dev` added, for
    /// the tasks of `--tasks` (without it: every task of the config, or the added task
    /// alone).
    pub fn requests(&self) -> Result<Vec<RunRequest>> {
        let mut cfg = lrdist_train::calibrate::CalibrationConfig::from_file(&self.config)?;
        let mut only = self.tasks.clone();
        if let Some(file) = self.file.task()? {
            if only.is_empty() {
                only.push(TaskName::of(&TaskSpec::File(file.clone())));
            }
            cfg.add_task(file)?;
        }
        cfg.requests(&self.scale, &only, &self.config)
    }
}

#[derive(Args)]
pub struct TuneArgs {
    /// Tuning config: the settings, seeds and each baseline's grid.
    #[arg(long, default_value = "experiments/tuning.yaml")]
    pub config: PathBuf,
    /// Only these settings (config names, comma-separated), e.g. one share per worker.
    #[arg(long, value_delimiter = ',')]
    pub settings: Vec<String>,
    /// Only these baselines, comma-separated (llrd, ewc, l2sp, wise-ft, freeze).
    #[arg(long, value_delimiter = ',')]
    pub baselines: Vec<String>,
    /// Run nothing: write the choice from the records, or fail naming the missing runs.
    #[arg(long, conflicts_with_all = ["settings", "baselines"])]
    pub choose: bool,
}

#[derive(Args)]
pub struct DemoArgs {
    /// A built-in scale (quick, cpu), or with --config one of its scales.
    #[arg(long, default_value = "quick")]
    pub scale: String,
    /// Task A: a GLUE task, or the --task-name of the --train/--dev task [default: sst2].
    #[arg(long)]
    pub first: Option<String>,
    /// Task B, named as --first [default: mrpc].
    #[arg(long)]
    pub second: Option<String>,
    /// A task of your own, named in --first or --second by its --task-name.
    #[command(flatten)]
    pub file: FileTaskArgs,
    /// An experiment file whose pair (GLUE tasks or tasks of your own, e.g. two of your
    /// own) and scales the demo runs, instead of --first and --second.
    #[arg(long, conflicts_with_all = ["first", "second", "train"])]
    pub config: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// The pair of `demo` when neither --first, --second nor --config names one.
pub const DEMO_PAIR: [&str; 2] = ["sst2", "mrpc"];

impl DemoArgs {
    /// The `model:` field of --config, if any.
    pub fn config_model(&self) -> Result<Option<PathBuf>> {
        Ok(match &self.config {
            Some(path) => ExperimentConfig::from_file(path)?.model,
            None => None,
        })
    }

    /// The pair the demo runs and its scale: the --config's pair and scale --scale, else
    /// --first and --second (tasks named as `run --first` names them) at the built-in scale.
    pub fn pair(&self) -> Result<(ScenarioSpec, ScaleSpec)> {
        if let Some(path) = &self.config {
            let config = ExperimentConfig::from_file(path)?;
            let ScenarioSpec::Pair { .. } = &config.scenario else {
                bail!(
                    "the demo runs a pair, and config {} has a {} scenario ({})",
                    path.display(),
                    config.scenario.kind(),
                    config.scenario.label()
                );
            };
            return Ok((config.scenario.clone(), config.scale(&self.scale)?));
        }
        let file = self.file.task()?;
        let task = |name: &Option<String>, default: &str| {
            resolve_task(name.as_deref().unwrap_or(default), file.as_ref())
        };
        let pair = ScenarioSpec::Pair {
            first: task(&self.first, DEMO_PAIR[0])?,
            second: task(&self.second, DEMO_PAIR[1])?,
        };
        require_named(
            file.as_ref(),
            &pair.tasks(),
            "the demo",
            "--first or --second",
        )?;
        pair.validate()?;
        Ok((pair, ScaleSpec::builtin(&self.scale)?))
    }
}

#[derive(Args)]
pub struct DataArgs {
    /// A GLUE task (or give a task of your own with --train and --dev).
    #[arg(long, required_unless_present = "train", conflicts_with = "train")]
    pub task: Option<GlueTask>,
    #[command(flatten)]
    pub file: FileTaskArgs,
    #[arg(long)]
    pub max_train: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// File to write, with a header: .csv, .jsonl, else TSV (unquoted, as GLUE's). A GLUE
    /// task's columns are sentence (or sentence1, sentence2) and label (the class index); a
    /// task of your own keeps its columns and labels, so the file reads back as its train
    /// file.
    #[arg(long)]
    pub out: PathBuf,
}

impl DataArgs {
    /// The task: `--task`, or the one `--train`/`--dev` give.
    pub fn task_spec(&self) -> Result<TaskSpec> {
        self.file.one_task(self.task, None)
    }

    pub fn spec(&self) -> DataSpec {
        DataSpec {
            max_train: self.max_train,
            max_dev: None,
            dev_from_train: None,
            seed: self.seed,
        }
    }
}

#[derive(Args)]
pub struct AnalysisArgs {
    #[command(subcommand)]
    pub what: AnalysisCmd,
    /// Output folder (tables go to OUT/tables, figures to OUT/figures).
    #[arg(long, default_value = "paper")]
    pub out: PathBuf,
    /// The authors' raw search logs (for the comparison table and figure).
    #[arg(
        long,
        env = "LRDIST_AUTHORS_LOGS",
        default_value = "../shared/reference/authors-logs"
    )]
    pub authors_logs: PathBuf,
}

#[derive(Subcommand)]
pub enum AnalysisCmd {
    /// Every table whose inputs exist.
    Tables,
    /// Every figure whose inputs exist.
    Figures,
    /// One table: main, cl, unseen, search, authors, calibration, regime, attribution,
    /// forget, forget-summary, frontier, sequence, tuning or search-forget.
    Table { name: String },
    /// One figure: combined, best-distributions, search-progress, pareto, embedding-shift,
    /// authors, attribution, tradeoff, search-progress-forget, pareto-forget or
    /// best-distributions-forget.
    Figure { name: String },
}

/// `lrdist search [OPTIONS]` runs a worker; `status` and `export` inspect a study.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SearchArgs {
    #[command(subcommand)]
    pub cmd: Option<SearchCmd>,
    #[command(flatten)]
    pub run: SearchRunArgs,
}

#[derive(Subcommand)]
pub enum SearchCmd {
    /// Print the trials table of a study (STORE or STORE#STUDY).
    Status { study: String },
    /// Write a study's trials as CSV.
    Export {
        study: String,
        #[arg(long)]
        csv: PathBuf,
    },
}

#[derive(Args)]
pub struct SearchRunArgs {
    /// Experiment config naming the scenario (must have two stages; its tasks GLUE tasks or
    /// tasks of your own, `{name, train, dev, text, text_pair, label, kind}`) and its scales.
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long, default_value = "quick")]
    pub scale: String,
    /// Trial store: an SQLite file, or a postgres:// URL shared by workers on several machines.
    #[arg(long)]
    pub study: Option<String>,
    /// Study name inside the store (default: the config's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Trials in total (complete, pruned and failed; paper: 50).
    #[arg(long, default_value_t = 50)]
    pub trials: u64,
    /// gp (the paper's), tpe or random.
    #[arg(long, default_value = "gp")]
    pub sampler: String,
    /// sum (p_o + p_s, the paper's) or pareto (front over p_s, p_o).
    #[arg(long, default_value = "sum")]
    pub objective: String,
    /// How depths map to searched groups: per-layer, paper10 (12-layer models), even:K.
    #[arg(long, default_value = "per-layer")]
    pub grouping: String,
    /// Lower bound of each rate (log-uniform).
    #[arg(long, default_value_t = 1e-7)]
    pub low: f64,
    /// Upper bound of each rate.
    #[arg(long, default_value_t = 1e-3)]
    pub high: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Search the stage-2 rates only; stage 1 is flat at the scale's base rate (2e-5
    /// where it states none), trained once and cached. Implied at the `forget` scale.
    #[arg(long)]
    pub stage2_only: bool,
    /// Switch successive halving off: every trial runs all its stage-2 epochs (to measure
    /// what ASHA saves; the paper's search prunes).
    #[arg(long)]
    pub no_asha: bool,
    /// Continue an existing study (re-queues trials of dead workers).
    #[arg(long)]
    pub resume: bool,
    /// Re-queue a running trial whose worker sent no heartbeat for this many seconds.
    #[arg(long, default_value_t = 120)]
    pub stale_after: u64,
}

#[derive(Args)]
pub struct CombineArgs {
    /// Studies (STORE or STORE#STUDY) or the authors' log_file.csv logs.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Write the combined distribution here (.yaml or .json).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Grouping of the combined rates [default: paper10 for the authors' logs, else per-layer].
    #[arg(long)]
    pub grouping: Option<String>,
    /// Encoder layers of the model the rates were found on [default: 12 for the authors'
    /// logs, else the --model's].
    #[arg(long)]
    pub layers: Option<usize>,
}

impl SearchRunArgs {
    /// The `model:` field of --config, if any.
    pub fn config_model(&self) -> Result<Option<PathBuf>> {
        Ok(match &self.config {
            Some(path) => ExperimentConfig::from_file(path)?.model,
            None => None,
        })
    }

    /// The study and the base run of its trials.
    pub fn plan(&self, model_dir: &std::path::Path) -> Result<lrdist_search::SearchPlan> {
        let config_path = self
            .config
            .as_deref()
            .context("give --config experiments/PAIR.yaml (the scenario to search)")?;
        let config = ExperimentConfig::from_file(config_path)?;
        let store = self
            .study
            .clone()
            .context("give --study FILE.sqlite (or a postgres:// URL)")?;
        let scale = config.scale(&self.scale)?;
        let layers =
            lrdist_model::BertConfig::from_file(&model_dir.join(lrdist_model::CONFIG_FILE))?
                .num_hidden_layers;
        let groups = lrdist_optimizer::Grouping::parse(&self.grouping, layers)?.len();
        let mut study = lrdist_search::StudyConfig::paper(
            self.name.as_deref().unwrap_or(&config.name),
            groups,
            scale.epochs,
        );
        study.space.low = self.low;
        study.space.high = self.high;
        if self.no_asha {
            // A single rung at the full resource: no promotion decision is ever taken.
            study.asha.grace = study.asha.max_resource;
        }
        study.sampler = self.sampler.parse()?;
        study.objective = self.objective.parse()?;
        study.n_trials = self.trials;
        study.seed = self.seed;
        study.meta = serde_json::json!({
            "scenario": config.scenario.label(),
            "config": config_path.display().to_string(),
            "scale": self.scale,
            "scale_spec": scale,
            "grouping": self.grouping,
            "num_layers": layers,
            "model": model_dir.display().to_string(),
            "stage2_only": self.stage2_only || scale.stage2_only,
            "asha": !self.no_asha,
            "command": lrdist_train::record::command_line(),
        });
        let mut base = RunRequest::new(
            config.scenario.clone(),
            &self.scale,
            scale,
            "search",
            "search",
            self.seed,
        );
        base.grouping = self.grouping.clone();
        base.stage2_only |= self.stage2_only;
        base.config_file = Some(config_path.display().to_string());
        // Each trial sets its own rates; these (the paper's first trial) make the base valid.
        base.rates = Some(vec![1e-5; groups]);
        let worker = lrdist_search::WorkerOptions {
            stale_after: std::time::Duration::from_secs(self.stale_after),
            ..Default::default()
        };
        Ok(lrdist_search::SearchPlan {
            store,
            study,
            base,
            resume: self.resume,
            worker,
        })
    }
}

impl CombineArgs {
    /// The combined rates as a distribution file's content.
    pub fn distribution(
        &self,
        rates: &[f64],
        model_dir: &std::path::Path,
    ) -> Result<lrdist_optimizer::Distribution> {
        let authors = self.inputs.iter().all(|i| i.ends_with(".csv"));
        let grouping = self.grouping.clone().unwrap_or_else(|| {
            if authors {
                "paper10".into()
            } else {
                "per-layer".into()
            }
        });
        let layers = match self.layers {
            Some(l) => l,
            None if authors => 12,
            None => {
                lrdist_model::BertConfig::from_file(&model_dir.join(lrdist_model::CONFIG_FILE))?
                    .num_hidden_layers
            }
        };
        Ok(lrdist_optimizer::Distribution::new(
            "combined",
            grouping.parse()?,
            layers,
            rates.to_vec(),
        )?)
    }
}

/// The error for a method name `config` does not define, listing the ones it does.
fn no_such_method(config: &ExperimentConfig, scale: &str, name: &str) -> String {
    if let Some((_, file)) = config.pending_at(scale).iter().find(|(m, _)| m == name) {
        return format!(
            "method `{name}` of config {} at scale {scale} takes its hyperparameters from {}, which does not exist yet: run the tuning first (`make tune`, or `lrdist tune`)",
            config.name,
            file.display()
        );
    }
    let names: Vec<&str> = config
        .methods_at(scale)
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    format!(
        "config {} has no method `{name}` at scale {scale} (it has: {})",
        config.name,
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../experiments/rte_sst2.yaml"
    );

    fn run_args(extra: &[&str]) -> Result<RunArgs> {
        let mut argv = vec!["lrdist", "run", "--config", CONFIG, "--all"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv)?.cmd {
            Cmd::Run(a) => Ok(a),
            _ => unreachable!("parsed `run`"),
        }
    }

    #[test]
    fn all_runs_every_method_and_seed_of_the_config() {
        let reqs = run_args(&[]).unwrap().requests().unwrap();
        let config = ExperimentConfig::from_file(CONFIG.as_ref()).unwrap();
        // Distribution files are relative to the working directory (the repository root
        // when make runs lrdist); from this crate's directory `combined`'s file is
        // missing, so `--all` skips it, said, instead of failing the batch.
        let waiting = config
            .methods
            .iter()
            .filter(|m| {
                lrdist_optimizer::Distribution::files_of(&m.distribution)
                    .iter()
                    .any(|f| !f.exists())
            })
            .count();
        assert!(config.methods.iter().any(|m| m.name == "combined"));
        assert_eq!(waiting, 1);
        assert_eq!(
            reqs.len(),
            (config.methods.len() - waiting) * config.seeds.len()
        );
        assert!(reqs.iter().all(|r| r.method != "combined"));
        // Named with --methods, it is not skipped: the run itself reports the missing file.
        let named = run_args(&["--methods", "combined"])
            .unwrap()
            .requests()
            .unwrap();
        assert_eq!(named.len(), config.seeds.len());
    }

    #[test]
    fn methods_restricts_all_to_the_named_methods_in_config_order() {
        let reqs = run_args(&["--methods", "l2sp,flat"])
            .unwrap()
            .requests()
            .unwrap();
        let got: Vec<(&str, u64)> = reqs.iter().map(|r| (r.method.as_str(), r.seed)).collect();
        assert_eq!(
            got,
            [
                ("flat", 0),
                ("flat", 1),
                ("flat", 2),
                ("l2sp", 0),
                ("l2sp", 1),
                ("l2sp", 2)
            ]
        );
        assert_eq!(reqs[3].penalty, Some(PenaltySpec::L2sp { alpha: 0.01 }));
    }

    #[test]
    fn methods_names_an_unknown_method_with_the_known_ones() {
        let err = run_args(&["--methods", "flat,nope"])
            .unwrap()
            .requests()
            .unwrap_err()
            .to_string();
        assert!(err.contains("no method `nope`"), "{err}");
        assert!(err.contains("paper-combined"), "{err}");
    }

    #[test]
    fn the_configs_model_is_used_unless_a_flag_names_one() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.yaml");
        let text = std::fs::read_to_string(CONFIG).unwrap();
        std::fs::write(&cfg, format!("model: /models/bert-base\n{text}")).unwrap();
        let cfg = cfg.to_str().unwrap();
        let parse = |extra: &[&str]| {
            let mut argv = vec!["lrdist", "run", "--config", cfg];
            argv.extend_from_slice(extra);
            let cli = Cli::try_parse_from(argv).unwrap();
            let Cmd::Run(a) = &cli.cmd else {
                unreachable!()
            };
            cli.common.model_dir(a.config_model().unwrap().as_deref())
        };
        assert_eq!(parse(&[]), PathBuf::from("/models/bert-base"));
        assert_eq!(parse(&["--model", "/m/x"]), PathBuf::from("/m/x"));
    }

    #[test]
    fn a_scale_override_is_recorded_under_its_own_scale_name() {
        let a = run_args(&["--max-train", "2000"]).unwrap();
        let reqs = a.requests().unwrap();
        assert_eq!(reqs[0].scale_name, "quick+max-train=2000");
        assert_eq!(reqs[0].scale.max_train, Some(2000));
        let same = run_args(&["--max-train", "1000"])
            .unwrap()
            .requests()
            .unwrap();
        assert_eq!(
            same[0].scale_name, "quick",
            "an override equal to the scale changes nothing"
        );
        let b = run_args(&["--stage-b-train", "4000"])
            .unwrap()
            .requests()
            .unwrap();
        assert_eq!(b[0].scale_name, "quick+stage-b-train=4000");
        assert_eq!(b[0].scale.stage_b_train, Some(4000));
        assert_eq!(b[0].scale.max_train, Some(1000), "task A keeps its rows");
    }

    #[test]
    fn finetune_honours_scale() {
        let cli = Cli::try_parse_from(["lrdist", "finetune", "--task", "sst2", "--scale", "quick"])
            .unwrap();
        let Cmd::Finetune(a) = cli.cmd else {
            unreachable!()
        };
        assert_eq!(
            a.scale.resolve_finetune().unwrap(),
            ScaleSpec::builtin("quick").unwrap()
        );
        let cli = Cli::try_parse_from(["lrdist", "finetune", "--task", "sst2"]).unwrap();
        let Cmd::Finetune(a) = cli.cmd else {
            unreachable!()
        };
        assert_eq!(a.scale.resolve_finetune().unwrap(), finetune_base());
    }

    #[test]
    fn head_and_save_reach_the_request_and_save_takes_one_run() {
        let parse = |extra: &[&str]| {
            let mut argv = vec!["lrdist", "run", "--first", "sst2", "--second", "mrpc"];
            argv.extend_from_slice(extra);
            let Cmd::Run(a) = Cli::try_parse_from(argv).unwrap().cmd else {
                unreachable!()
            };
            a.request().unwrap()
        };
        let req = parse(&["--head", "pooler", "--save", "out"]);
        assert_eq!(
            (req.head, req.save),
            (lrdist_model::HeadKind::Pooler, Some(PathBuf::from("out")))
        );
        let req = parse(&[]);
        assert_eq!((req.head, req.save), (lrdist_model::HeadKind::Cls, None));
        let bad = ["lrdist", "finetune", "--task", "sst2", "--head", "pool"];
        assert!(Cli::try_parse_from(bad).is_err());
        let err = run_args(&["--save", "out"])
            .unwrap()
            .requests()
            .unwrap_err()
            .to_string();
        assert!(err.contains("--all"), "{err}");
    }

    fn parse(argv: &[&str]) -> Cmd {
        Cli::try_parse_from(argv).unwrap().cmd
    }

    const OWN: [&str; 6] = [
        "--train",
        "r/train.csv",
        "--dev",
        "r/dev.csv",
        "--task-name",
        "reviews",
    ];

    fn with_own(argv: &[&str]) -> Vec<String> {
        argv.iter()
            .chain(OWN.iter())
            .map(|a| a.to_string())
            .collect()
    }

    #[test]
    fn demo_runs_sst2_mrpc_unless_told_and_takes_a_pair_of_your_own() {
        let pair = |argv: &[String]| {
            let Cmd::Demo(a) = Cli::try_parse_from(argv).unwrap().cmd else {
                unreachable!()
            };
            a.pair()
        };
        let (scenario, scale) = pair(&["lrdist".into(), "demo".into()]).unwrap();
        assert_eq!(
            scenario,
            ScenarioSpec::Pair {
                first: GlueTask::Sst2.into(),
                second: GlueTask::Mrpc.into()
            }
        );
        assert_eq!(scale, ScaleSpec::builtin("quick").unwrap());
        let (scenario, _) = pair(&with_own(&["lrdist", "demo", "--second", "reviews"])).unwrap();
        assert_eq!(scenario.label(), "sst2->reviews");
        assert_eq!(
            scenario.tasks()[1].file().unwrap().train,
            PathBuf::from("r/train.csv")
        );
        let err = pair(&with_own(&["lrdist", "demo", "--first", "rte"])).unwrap_err();
        assert!(
            err.to_string().contains("which the demo does not name"),
            "{err}"
        );
        // An experiment file's pair and scale.
        let argv = ["lrdist", "demo", "--config", CONFIG, "--scale", "cpu"].map(String::from);
        let (scenario, scale) = pair(&argv).unwrap();
        let config = ExperimentConfig::from_file(CONFIG.as_ref()).unwrap();
        assert_eq!(
            (scenario, scale),
            (config.scenario.clone(), config.scale("cpu").unwrap())
        );
        assert!(
            Cli::try_parse_from(["lrdist", "demo", "--config", CONFIG, "--first", "rte"]).is_err()
        );
    }

    #[test]
    fn data_sample_and_bench_speed_take_a_task_of_your_own() {
        let Cmd::Data {
            cmd: DataCmd::Sample(a),
        } = parse(&[
            "lrdist", "data", "sample", "--task", "mnli", "--out", "s.tsv",
        ])
        else {
            unreachable!()
        };
        assert_eq!(a.task_spec().unwrap(), GlueTask::Mnli.into());
        let argv = with_own(&["lrdist", "data", "sample", "--out", "s.tsv"]);
        let Cmd::Data {
            cmd: DataCmd::Sample(a),
        } = Cli::try_parse_from(&argv).unwrap().cmd
        else {
            unreachable!()
        };
        assert_eq!(a.task_spec().unwrap().name(), "reviews");
        assert!(Cli::try_parse_from(["lrdist", "data", "sample", "--out", "s.tsv"]).is_err());
        let both = with_own(&["lrdist", "data", "sample", "--task", "rte", "--out", "s"]);
        assert!(Cli::try_parse_from(&both).is_err());

        let speed = |argv: &[String]| {
            let Cmd::Bench {
                cmd: BenchCmd::Speed(a),
            } = Cli::try_parse_from(argv).unwrap().cmd
            else {
                unreachable!()
            };
            a.options().unwrap().task
        };
        let argv = |extra: &[&str]| {
            ["lrdist", "bench", "speed"]
                .iter()
                .chain(extra)
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(speed(&argv(&[])), GlueTask::Sst2.into());
        assert_eq!(speed(&argv(&["--task", "qnli"])), GlueTask::Qnli.into());
        let own = speed(&with_own(&["lrdist", "bench", "speed"]));
        assert_eq!(own.file().unwrap().dev, PathBuf::from("r/dev.csv"));
    }

    #[test]
    fn calibrate_adds_a_task_of_your_own_and_runs_it_alone_unless_told() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("cal.yaml");
        std::fs::write(
            &config,
            "name: cal\nscales:\n  tiny: {max_train: 8, max_dev: 8, epochs: 1, batch_size: 4}\n\
             tasks: [sst2, rte]\nrates: [1.0e-4, 2.0e-4]\nseeds: [0]\n",
        )
        .unwrap();
        let config = config.to_str().unwrap();
        let tasks = |extra: &[&str], own: bool| {
            let mut argv = vec!["lrdist", "calibrate", "--config", config, "--scale", "tiny"];
            argv.extend_from_slice(extra);
            let argv = if own {
                with_own(&argv)
            } else {
                argv.iter().map(|a| a.to_string()).collect()
            };
            let Cmd::Calibrate(a) = Cli::try_parse_from(&argv).unwrap().cmd else {
                unreachable!()
            };
            let mut names: Vec<String> = a
                .requests()
                .unwrap()
                .iter()
                .map(|r| r.scenario.label())
                .collect();
            names.dedup();
            names
        };
        assert_eq!(tasks(&[], false), ["sst2", "rte"]);
        assert_eq!(tasks(&["--tasks", "RTE"], false), ["rte"]);
        assert_eq!(tasks(&[], true), ["reviews"]);
        assert_eq!(
            tasks(&["--tasks", "reviews,sst2"], true),
            ["sst2", "reviews"]
        );
    }

    #[test]
    fn methods_needs_all() {
        let argv = ["lrdist", "run", "--config", CONFIG, "--methods", "flat"];
        assert!(Cli::try_parse_from(argv).is_err());
    }
}
