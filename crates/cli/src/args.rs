//! Command-line arguments. `--help` on every command explains what it does.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};
use lrdist_data::{DataSpec, FileTask, GlueTask, TaskKind, TaskName, TaskSpec};
use lrdist_search::{ObjectiveKind, SamplerKind, SearchOptions, SearchSpace, StudyConfig};
use lrdist_train::requests::{DemoOptions, RunOptions, ScaleChoice, DEFAULT_SCALE};
use lrdist_train::{DistributionSpec, GroupingSpec, PenaltySpec};

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
LRDIST_MODEL (any local Hugging Face BERT folder). lrdist has glibc keep the memory libtorch frees for reuse \
(a top pad and no mmap blocks; crates/app/src/heap.rs): LRDIST_TOP_PAD sets the pad in bytes (default 1 GiB), \
`off` leaves glibc's heap as glibc sets it."
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

impl Common {
    /// The settings every command shares.
    pub fn settings(&self) -> lrdist_app::Settings {
        lrdist_app::Settings {
            model: self.model.clone(),
            glue_dir: self.glue_dir.clone(),
            results: self.results.clone(),
            device: self.device.clone(),
            threads: self.threads,
            quiet: self.quiet,
        }
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

impl ScaleArgs {
    /// The scale the flags name, with their overrides.
    pub fn choice(&self) -> ScaleChoice {
        ScaleChoice {
            scale: self.scale.clone(),
            max_train: self.max_train,
            stage_b_train: self.stage_b_train,
            max_dev: self.max_dev,
            dev_from_train: self.dev_from_train,
            epochs: self.epochs,
            batch_size: self.batch_size,
            max_len: self.max_len,
            weight_decay: self.weight_decay,
            clip_norm: self.clip_norm,
            no_bucketing: self.no_bucketing,
        }
    }
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
    pub distribution: DistributionSpec,
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
    /// What `lrdist predict` reads and writes.
    pub fn options(&self) -> lrdist_app::PredictInput {
        lrdist_app::PredictInput {
            input: self.input.clone(),
            text_column: self.text_column.clone(),
            text_pair_column: self.text_pair_column.clone(),
            output: self.output.clone(),
            batch_size: self.batch_size,
            max_len: self.max_len,
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
    /// The texts to encode, as given.
    pub fn texts(&self) -> lrdist_app::EncodeInput {
        lrdist_app::EncodeInput {
            text: self.text.clone(),
            text_pair: self.text_pair.clone(),
            input: self.input.clone(),
        }
    }
}

#[derive(Args)]
pub struct ExportParamGroupsArgs {
    /// Learning rates: flat:LR, llrd:LR:DECAY, paper-combined, paper-rounded:BASE or a
    /// YAML/JSON file, resolved for the model's layer count (from --model's config.json).
    #[arg(long)]
    pub distribution: DistributionSpec,
    /// How depths map to the distribution's groups: per-layer, paper10, even:K.
    #[arg(long, default_value_t)]
    pub grouping: GroupingSpec,
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
    pub grouping: Option<GroupingSpec>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

impl GroupsArgs {
    pub fn grouping(&self) -> GroupingSpec {
        match (self.grouping, self.groups) {
            (Some(g), _) => g,
            (None, Some(k)) => GroupingSpec::Even(k),
            (None, None) => GroupingSpec::default(),
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
    pub distribution: Option<DistributionSpec>,
    /// With --config: one of its methods (distribution + penalty; --distribution and
    /// --penalty cannot change it). Otherwise: the label of this run in records and tables
    /// (default: the distribution, and `+PENALTY` with --penalty, e.g. `flat:1e-4+l2sp:0.01`).
    #[arg(long)]
    pub method: Option<String>,
    /// How depths map to the distribution's groups: per-layer, paper10, even:K.
    #[arg(long, default_value_t)]
    pub grouping: GroupingSpec,
    /// ewc:LAMBDA[:ROWS] or l2sp:ALPHA.
    #[arg(long, value_parser = parse_penalty)]
    pub penalty: Option<PenaltySpec>,
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
    /// record file (resumable: an interrupted batch continues where it stopped). Where the
    /// config names `more_seeds` for the scale, the seed rule then adds those seeds to each
    /// method whose Δp_o to flat over the first seeds spreads wider than its mean, and to
    /// flat (docs/METHOD.md, "Seeds"); what it decided is said on stderr.
    #[arg(long, requires = "config", conflicts_with_all = ["method", "distribution", "penalty"])]
    pub all: bool,
    /// With --all: only these of the config's methods, comma-separated (e.g. the baselines,
    /// before results/combined/combined.yaml exists).
    #[arg(long, value_delimiter = ',', requires = "all")]
    pub methods: Vec<String>,
    /// Run nothing: print each run the command would make with its status against its
    /// record file (done, stale, to_run, waiting for a file such as the tuning choice, or
    /// conditional: seeds the seed rule adds if it asks once the first seeds are recorded)
    /// as CSV on stdout, and on stderr how many are left and about how long they take at
    /// the median seconds per run of that file's records (of the same method where it has
    /// some). E.g. `lrdist run --config
    /// experiments/qqp_sst2.yaml --scale forget --all --dry-run`.
    #[arg(long)]
    pub dry_run: bool,
    /// What the heads read (`--head`) and where to save the model (`--save`; one run only,
    /// not with --all).
    #[command(flatten)]
    pub head: HeadArgs,
    #[command(flatten)]
    pub scale: ScaleArgs,
}

/// `--penalty`'s value as a [`PenaltySpec`].
fn parse_penalty(s: &str) -> Result<PenaltySpec> {
    PenaltySpec::parse(s)
}

impl RunArgs {
    /// What the flags ask `run` for (the task of `--train`/`--dev` checked).
    pub fn options(&self) -> Result<RunOptions> {
        Ok(RunOptions {
            config: self.config.clone(),
            first: self.first.clone(),
            second: self.second.clone(),
            tasks: self.tasks.clone(),
            scenario: self.scenario.clone(),
            file: self.file.task()?,
            distribution: self.distribution.clone(),
            method: self.method.clone(),
            grouping: self.grouping,
            penalty: self.penalty.clone(),
            seed: self.seed,
            stage2_only: self.stage2_only,
            attribute: self.attribute,
            all: self.all,
            methods: self.methods.clone(),
            head: self.head.head,
            save: self.head.save.clone(),
            scale: self.scale.choice(),
        })
    }
}

#[derive(Args)]
pub struct CalibrateArgs {
    /// Calibration config: tasks, rates, seeds and scales.
    #[arg(long, default_value = "experiments/calibration.yaml")]
    pub config: PathBuf,
    /// Scale of the config to calibrate.
    #[arg(long, default_value = lrdist_train::calibrate::DEFAULT_SCALE)]
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
    /// Run nothing: print each calibration run with its status (done, stale, to_run) as
    /// CSV on stdout, and on stderr how many are left and about how long they take (as
    /// `run --dry-run`).
    #[arg(long)]
    pub dry_run: bool,
}

impl CalibrateArgs {
    /// What the flags ask `calibrate` for (the task of `--train`/`--dev` checked).
    pub fn options(&self) -> Result<lrdist_app::CalibrateOptions> {
        Ok(lrdist_app::CalibrateOptions {
            config: self.config.clone(),
            scale: self.scale.clone(),
            tasks: self.tasks.clone(),
            file: self.file.task()?,
            record: self.record.clone(),
            dry_run: self.dry_run,
        })
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
    /// Run nothing: print each tuning run with its status (done, stale, to_run) as CSV on
    /// stdout, and on stderr how many are left and about how long they take (as `run
    /// --dry-run`).
    #[arg(long, conflicts_with = "choose")]
    pub dry_run: bool,
}

impl TuneArgs {
    pub fn options(&self) -> lrdist_app::TuneOptions {
        lrdist_app::TuneOptions {
            config: self.config.clone(),
            settings: self.settings.clone(),
            baselines: self.baselines.clone(),
            only_choose: self.choose,
            dry_run: self.dry_run,
        }
    }
}

#[derive(Args)]
pub struct DemoArgs {
    /// A built-in scale (quick, cpu), or with --config one of its scales.
    #[arg(long, default_value = DEFAULT_SCALE)]
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

impl DemoArgs {
    /// What the flags ask `demo` for (the task of `--train`/`--dev` checked).
    pub fn options(&self) -> Result<DemoOptions> {
        Ok(DemoOptions {
            scale: self.scale.clone(),
            first: self.first.clone(),
            second: self.second.clone(),
            file: self.file.task()?,
            config: self.config.clone(),
            seed: self.seed,
        })
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
    /// File to write (`-`: standard output), with a header: .csv, .jsonl, else TSV
    /// (unquoted, as GLUE's). A GLUE task's columns are sentence (or sentence1, sentence2)
    /// and label (the class index); a task of your own keeps its columns and labels, so the
    /// file reads back as its train file.
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
        /// The CSV file to write (`-`: standard output).
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
    #[arg(long, default_value = DEFAULT_SCALE)]
    pub scale: String,
    /// Trial store: an SQLite file, or a postgres:// URL shared by workers on several machines.
    #[arg(long)]
    pub study: Option<String>,
    /// Study name inside the store (default: the config's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Trials in total (complete, pruned and failed; paper: 50).
    #[arg(long, default_value_t = StudyConfig::PAPER_TRIALS)]
    pub trials: u64,
    /// gp (the paper's), tpe or random.
    #[arg(long, default_value_t)]
    pub sampler: SamplerKind,
    /// sum (p_o + p_s, the paper's) or pareto (front over p_s, p_o).
    #[arg(long, default_value_t)]
    pub objective: ObjectiveKind,
    /// How depths map to searched groups: per-layer, paper10 (12-layer models), even:K.
    #[arg(long, default_value_t)]
    pub grouping: GroupingSpec,
    /// Lower bound of each rate (log-uniform).
    #[arg(long, default_value_t = SearchSpace::PAPER_LOW)]
    pub low: f64,
    /// Upper bound of each rate.
    #[arg(long, default_value_t = SearchSpace::PAPER_HIGH)]
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
    #[arg(long, default_value_t = lrdist_search::STALE_AFTER_SECS)]
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
    pub grouping: Option<GroupingSpec>,
    /// Encoder layers of the model the rates were found on [default: 12 for the authors'
    /// logs, else the --model's].
    #[arg(long)]
    pub layers: Option<usize>,
}

impl SearchRunArgs {
    /// What the flags ask a search worker for.
    pub fn options(&self) -> SearchOptions {
        SearchOptions {
            config: self.config.clone(),
            scale: self.scale.clone(),
            study: self.study.clone(),
            name: self.name.clone(),
            trials: self.trials,
            sampler: self.sampler,
            objective: self.objective,
            grouping: self.grouping,
            low: self.low,
            high: self.high,
            seed: self.seed,
            stage2_only: self.stage2_only,
            no_asha: self.no_asha,
            resume: self.resume,
            stale_after: std::time::Duration::from_secs(self.stale_after),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../experiments/rte_sst2.yaml"
    );

    fn parse(argv: &[&str]) -> Cmd {
        Cli::try_parse_from(argv).unwrap().cmd
    }

    fn run_options(extra: &[&str]) -> RunOptions {
        let mut argv = vec!["lrdist", "run"];
        argv.extend_from_slice(extra);
        let Cmd::Run(a) = parse(&argv) else {
            unreachable!("parsed `run`")
        };
        a.options().unwrap()
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
            let model = a.options().unwrap().config_model().unwrap();
            cli.common.settings().model_dir(model.as_deref())
        };
        assert_eq!(parse(&[]), PathBuf::from("/models/bert-base"));
        assert_eq!(parse(&["--model", "/m/x"]), PathBuf::from("/m/x"));
    }

    /// The flags reach `run`'s options typed: specs parsed where they enter, defaults
    /// the library's.
    #[test]
    fn run_flags_reach_the_options_parsed() {
        let o = run_options(&[
            "--first",
            "sst2",
            "--second",
            "mrpc",
            "--distribution",
            "llrd:1e-4:0.8",
            "--grouping",
            "even:3",
            "--penalty",
            "l2sp:0.01",
            "--head",
            "pooler",
            "--save",
            "out",
            "--max-train",
            "2000",
        ]);
        assert_eq!(o.distribution.unwrap().as_str(), "llrd:1e-4:0.8");
        assert_eq!(o.grouping, GroupingSpec::Even(3));
        assert_eq!(o.penalty, Some(PenaltySpec::L2sp { alpha: 0.01 }));
        assert_eq!(
            (o.head, o.save),
            (lrdist_model::HeadKind::Pooler, Some(PathBuf::from("out")))
        );
        assert_eq!(o.scale.max_train, Some(2000));
        let o = run_options(&["--first", "sst2", "--second", "mrpc"]);
        assert_eq!(
            (o.grouping, o.distribution, o.head),
            (GroupingSpec::PerLayer, None, lrdist_model::HeadKind::Cls)
        );
        for bad in [
            ["--distribution", "warp:3"],
            ["--grouping", "odd:3"],
            ["--penalty", "ewc"],
            ["--head", "pool"],
        ] {
            let mut argv = vec!["lrdist", "run", "--first", "sst2", "--second", "mrpc"];
            argv.extend_from_slice(&bad);
            assert!(Cli::try_parse_from(argv).is_err(), "{bad:?} accepted");
        }
        let Cmd::Finetune(a) = parse(&["lrdist", "finetune", "--task", "sst2"]) else {
            unreachable!()
        };
        assert_eq!(a.distribution.as_str(), "flat:1e-4");
        let Cmd::Search(a) = parse(&["lrdist", "search"]) else {
            unreachable!()
        };
        let o = a.run.options();
        let d = SearchOptions::default();
        assert_eq!(
            (o.trials, o.sampler, o.objective, o.grouping, o.low, o.high),
            (d.trials, d.sampler, d.objective, d.grouping, d.low, d.high)
        );
        assert_eq!((o.stale_after, o.scale), (d.stale_after, d.scale));
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
    fn demo_takes_a_task_of_your_own_or_a_config() {
        let Cmd::Demo(a) = Cli::try_parse_from(with_own(&["lrdist", "demo"]))
            .unwrap()
            .cmd
        else {
            unreachable!()
        };
        let o = a.options().unwrap();
        assert_eq!(o.file.unwrap().name, "reviews");
        assert_eq!(o.scale, DEFAULT_SCALE);
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
    fn calibrate_takes_tasks_and_a_task_of_your_own() {
        let argv = with_own(&["lrdist", "calibrate", "--tasks", "RTE,reviews"]);
        let Cmd::Calibrate(a) = Cli::try_parse_from(&argv).unwrap().cmd else {
            unreachable!()
        };
        assert_eq!(a.tasks.len(), 2);
        assert_eq!(a.file.task().unwrap().unwrap().name, "reviews");
        assert_eq!(a.scale, "forget");
    }

    #[test]
    fn methods_needs_all() {
        let argv = ["lrdist", "run", "--config", CONFIG, "--methods", "flat"];
        assert!(Cli::try_parse_from(argv).is_err());
    }
}
