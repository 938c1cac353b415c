//! One function per `lrdist` command: each checks its input (errors marked
//! [`Failure::Input`], exit 2), does the work through the library crates and writes its
//! result and notes to a [`Console`].

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lrdist_data::{DataSpec, TaskName, TaskSpec};
use lrdist_search::SearchOptions;
use lrdist_train::requests::{DemoOptions, RunOptions, ScaleChoice};
use lrdist_train::runner::comparison_table;
use lrdist_train::{
    DistributionSpec, FinetuneOptions, GroupingSpec, RunRecord, RunRequest, Runner,
};

use crate::{input, Console, Failure, Settings};

/// What `lrdist predict` reads and writes, beside the model of the settings.
pub use lrdist_train::predict::PredictInput;

/// `lrdist finetune`: fine-tune on `task` and write its dev metrics (a summary on stderr,
/// the report as JSON on stdout).
pub fn finetune(
    settings: &Settings,
    task: TaskSpec,
    scale: &ScaleChoice,
    distribution: &DistributionSpec,
    seed: u64,
    opts: &FinetuneOptions,
    console: &mut Console,
) -> Result<(), Failure> {
    let ctx = input(settings.context_for_glue(None, task.glue().is_some()))?;
    let mut runner = Runner::new(ctx);
    let scale = input(scale.resolve_finetune())?;
    let report = runner.finetune_with(&task, &scale, distribution, seed, opts)?;
    if !settings.quiet {
        let m: Vec<String> = report
            .metrics
            .iter()
            .map(|(k, v)| format!("{k} {v:.4}"))
            .collect();
        console.err(format!(
            "{}: {} train rows, {:.1} samples/s; dev ({} rows): {}",
            report.task,
            report.train_rows,
            report.train_samples_per_s,
            report.dev_rows,
            m.join(", ")
        ));
    }
    console.out(serde_json::to_string(&report).context("serialising the report")?);
    Ok(())
}

/// The texts `lrdist encode` embeds: `--text` (with `--text-pair`) or an `--input` file.
#[derive(Clone, Debug, Default)]
pub struct EncodeInput {
    pub text: Vec<String>,
    pub text_pair: Vec<String>,
    /// One text per line; a tab separates a pair.
    pub input: Option<PathBuf>,
}

impl EncodeInput {
    /// The texts, each with its pair when given.
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

/// `lrdist encode`: the last layer's [CLS] vector of each text, one JSON array per line.
pub fn encode(
    settings: &Settings,
    texts: &EncodeInput,
    max_len: usize,
    console: &mut Console,
) -> Result<(), Failure> {
    let ctx = input(settings.context_no_data())?;
    let texts = input(texts.texts())?;
    let vectors =
        lrdist_train::embeddings::encode_texts(&ctx.model_dir, ctx.device, &texts, max_len)?;
    for v in vectors {
        console.out(serde_json::to_string(&v).context("serialising a vector")?);
    }
    Ok(())
}

/// `lrdist groups`: how the model's parameters fall into the groups of `grouping`.
pub fn groups(
    settings: &Settings,
    grouping: GroupingSpec,
    json: bool,
    console: &mut Console,
) -> Result<(), Failure> {
    let rows = input(lrdist_train::model_groups::group_rows(
        &settings.model_dir(None),
        grouping,
    ))?;
    if json {
        console.out(serde_json::to_string_pretty(&rows).context("serialising groups")?);
    } else {
        console.out_raw(&lrdist_train::model_groups::format_group_rows(&rows));
    }
    Ok(())
}

/// `lrdist export-param-groups`: `distribution` as `torch.optim.AdamW` parameter groups,
/// to `output` or stdout.
pub fn export_param_groups(
    settings: &Settings,
    distribution: &DistributionSpec,
    grouping: GroupingSpec,
    weight_decay: f64,
    output: Option<&Path>,
    console: &mut Console,
) -> Result<(), Failure> {
    let groups = input(lrdist_optimizer::export_param_groups(
        &settings.model_dir(None),
        distribution,
        grouping,
        weight_decay,
    ))?;
    let json = serde_json::to_string_pretty(&groups).context("serialising groups")?;
    match output {
        Some(path) => {
            std::fs::write(path, json + "\n")
                .with_context(|| format!("cannot write {}", path.display()))?;
            if !settings.quiet {
                console.err(format!(
                    "wrote {} parameter groups to {}",
                    groups.len(),
                    path.display()
                ));
            }
        }
        None => console.out(json),
    }
    Ok(())
}

/// `lrdist run`: the runs `opts` asks for, each record appended to `record` (default:
/// `RESULTS/runs/<config or scenario>.jsonl`); with `--all`, runs with a record are
/// skipped, and once the config's seeds are recorded the seed rule may add more
/// ([`lrdist_train::seeds`]), run after them. With `dry_run`, nothing runs: each run's
/// status goes to stdout as CSV ([`lrdist_train::pending`]) and what is left to stderr.
pub fn run(
    settings: &Settings,
    opts: &RunOptions,
    record: Option<&Path>,
    dry_run: bool,
    console: &mut Console,
) -> Result<(), Failure> {
    let (reqs, waiting) = match dry_run {
        true => input(opts.requests_and_waiting())?,
        false => (input(opts.requests())?, Vec::new()),
    };
    let glue = reqs.iter().any(|r| r.scenario.uses_glue());
    let ctx = input(
        opts.config_model()
            .and_then(|m| settings.context_for_glue(m.as_deref(), glue)),
    )?;
    let results = settings.results.clone();
    let path = move |req: &RunRequest| {
        record
            .map(Path::to_path_buf)
            .unwrap_or_else(|| lrdist_train::record::default_record_path(&results, req))
    };
    let mut runner = validated(ctx, &reqs)?;
    if dry_run {
        let template = match waiting.is_empty() {
            true => None,
            false => Some(input(opts.request())?),
        };
        let more = more_seeds(&runner, opts, &path)?;
        let mut firm = reqs;
        lrdist_train::runner::share_stage_b(&mut firm);
        let mut extra = more.runs;
        lrdist_train::runner::share_stage_b(&mut extra);
        firm.extend(extra);
        let rows = lrdist_train::pending::plan(
            &runner,
            &firm,
            &path,
            &waiting,
            template.as_ref(),
            &more.conditional,
        )?;
        return print_plan(console, &rows, settings.quiet);
    }
    let mut reqs = reqs;
    lrdist_train::runner::share_stage_b(&mut reqs);
    run_validated(settings, &mut runner, &reqs, &path, opts.all, console)?;
    let mut more = more_seeds(&runner, opts, &path)?;
    lrdist_train::runner::share_stage_b(&mut more.runs);
    if let Some(message) = more.message() {
        if !settings.quiet || !more.runs.is_empty() {
            console.err(message);
        }
    }
    for req in &more.runs {
        input(runner.validate(req))?;
    }
    run_validated(settings, &mut runner, &more.runs, &path, true, console)
}

/// The seed rule on `opts`'s batch, p_o read from the record of exactly each request.
fn more_seeds(
    runner: &Runner,
    opts: &RunOptions,
    path: &dyn Fn(&RunRequest) -> PathBuf,
) -> Result<lrdist_train::seeds::MoreSeeds, Failure> {
    Ok(lrdist_train::seeds::more_seeds(opts, &mut |req| {
        let found = lrdist_train::record::find_same(&path(req), req, &runner.per_depth(req)?)?;
        Ok(found.and_then(|r| r.p_o))
    })?)
}

/// Validates `reqs`, then prints where each of them stands instead of running it
/// ([`print_plan`]).
fn plan_batch(
    settings: &Settings,
    ctx: lrdist_train::RunContext,
    reqs: &[RunRequest],
    path: &dyn Fn(&RunRequest) -> PathBuf,
    console: &mut Console,
) -> Result<(), Failure> {
    let runner = validated(ctx, reqs)?;
    let rows = lrdist_train::pending::plan(&runner, reqs, path, &[], None, &[])?;
    print_plan(console, &rows, settings.quiet)
}

/// A batch's plan: one CSV row per run on stdout, what is left on stderr (unless quiet).
fn print_plan(
    console: &mut Console,
    rows: &[lrdist_train::pending::PlannedRun],
    quiet: bool,
) -> Result<(), Failure> {
    let mut csv = Vec::new();
    lrdist_train::pending::write_csv(rows, &mut csv)?;
    console.out_raw(&String::from_utf8(csv).context("the plan is UTF-8")?);
    if !quiet {
        console.err(lrdist_train::pending::summary(rows));
    }
    Ok(())
}

/// What `lrdist calibrate` was asked for.
#[derive(Clone, Debug)]
pub struct CalibrateOptions {
    /// The calibration config: tasks, rates, seeds and scales.
    pub config: PathBuf,
    pub scale: String,
    /// Only these tasks [default: all; with `file`, that task alone].
    pub tasks: Vec<TaskName>,
    /// A task of your own, added to the config's.
    pub file: Option<lrdist_data::FileTask>,
    /// The records' file [default: `RESULTS/calibration/<scale>-<task>.jsonl`].
    pub record: Option<PathBuf>,
    /// Run nothing; print what is left ([`run`]'s `dry_run`).
    pub dry_run: bool,
}

/// `lrdist calibrate`: every rate x seed x task of the calibration without a record (with
/// `dry_run`, only what is left, as [`run`]'s).
pub fn calibrate(
    settings: &Settings,
    opts: &CalibrateOptions,
    console: &mut Console,
) -> Result<(), Failure> {
    let reqs = input(lrdist_train::calibrate::requests_for(
        &opts.config,
        &opts.scale,
        &opts.tasks,
        opts.file.clone(),
    ))?;
    let glue = reqs.iter().any(|r| r.scenario.uses_glue());
    let ctx = input(settings.context_for_glue(None, glue))?;
    let results = settings.results.clone();
    let fixed = opts.record.clone();
    let path = move |req: &RunRequest| {
        fixed
            .clone()
            .unwrap_or_else(|| lrdist_train::calibrate::record_path(&results, req))
    };
    if opts.dry_run {
        return plan_batch(settings, ctx, &reqs, &path, console);
    }
    let mut runner = validated(ctx, &reqs)?;
    run_validated(settings, &mut runner, &reqs, &path, true, console)
}

/// A runner on `ctx`, once every request of `reqs` is checked ([`Runner::validate`]; a
/// failure is the user's input, exit 2).
fn validated(ctx: lrdist_train::RunContext, reqs: &[RunRequest]) -> Result<Runner, Failure> {
    let runner = Runner::new(ctx);
    for req in reqs {
        input(runner.validate(req))?;
    }
    Ok(runner)
}

/// Runs `reqs`, validated by the caller ([`Runner::run_batch`]), printing each record.
fn run_validated(
    settings: &Settings,
    runner: &mut Runner,
    reqs: &[RunRequest],
    path: &dyn Fn(&RunRequest) -> PathBuf,
    resume: bool,
    console: &mut Console,
) -> Result<(), Failure> {
    let quiet = settings.quiet;
    runner.run_batch(reqs, path, resume, &mut |record, path| {
        print_record(console, record, path, quiet)
    })?;
    Ok(())
}

/// A finished run: its summary on stderr (unless quiet), its record as one JSON line on stdout.
fn print_record(console: &mut Console, record: &RunRecord, path: &Path, quiet: bool) -> Result<()> {
    if !quiet {
        console.err_raw(&comparison_table(std::slice::from_ref(record)));
        console.err(format!("appended to {}", path.display()));
    }
    console.out(serde_json::to_string(record).context("serialising the record")?);
    Ok(())
}

/// What `lrdist tune` was asked for.
#[derive(Clone, Debug)]
pub struct TuneOptions {
    /// The tuning config: settings, seeds and each baseline's grid.
    pub config: PathBuf,
    /// Only these settings and baselines (all when empty).
    pub settings: Vec<String>,
    pub baselines: Vec<String>,
    /// Run nothing; write the choice from the records.
    pub only_choose: bool,
    /// Run nothing; print what is left ([`run`]'s `dry_run`).
    pub dry_run: bool,
}

/// `lrdist tune`: the baselines' tuning runs without a record (`only_choose`: none), then
/// the choice once every run has its record; with `dry_run`, only what is left (as
/// [`run`]'s).
pub fn tune(settings: &Settings, opts: &TuneOptions, console: &mut Console) -> Result<(), Failure> {
    let ctx = input(settings.context())?;
    let mut runner = Runner::new(ctx);
    if opts.dry_run {
        let rows = input(lrdist_train::tune::plan(
            &runner,
            &opts.config,
            &opts.settings,
            &opts.baselines,
        ))?;
        return print_plan(console, &rows, settings.quiet);
    }
    let quiet = settings.quiet;
    let outcome = input(lrdist_train::tune::tune(
        &mut runner,
        &opts.config,
        &opts.settings,
        &opts.baselines,
        !opts.only_choose,
        &mut |record, path| print_record(console, record, path, quiet),
    ))?;
    match (&outcome.written, &outcome.not_yet) {
        (Some((path, choice)), _) => {
            for m in &choice.methods {
                let s = choice
                    .scores
                    .iter()
                    .find(|s| s.baseline == m.name && s.chosen)
                    .expect("a chosen point per baseline");
                console.err(format!(
                    "{}: {} ({} {:.4})",
                    m.name,
                    s.candidate,
                    lrdist_train::tune::OBJECTIVE,
                    s.objective
                ));
            }
            console.err(format!(
                "{} runs now; the choice is in {}",
                outcome.ran,
                path.display()
            ));
        }
        (None, why) => console.err(format!(
            "{} runs now; no choice written yet: {}",
            outcome.ran,
            why.as_deref().unwrap_or("")
        )),
    }
    Ok(())
}

/// `lrdist demo`: the pair with flat and the paper's combined distribution, compared.
pub fn demo(settings: &Settings, opts: &DemoOptions, console: &mut Console) -> Result<(), Failure> {
    let (pair, scale) = input(opts.pair())?;
    let ctx = input(
        opts.config_model()
            .and_then(|m| settings.context_for_glue(m.as_deref(), pair.uses_glue())),
    )?;
    let path = lrdist_train::runner::demo_record_path(&ctx.results_dir);
    let mut runner = Runner::new(ctx);
    let records = runner.demo(pair, &opts.scale, &scale, opts.seed, &path)?;
    console.out(comparison_table(&records));
    console.out(format!("records appended to {}", path.display()));
    Ok(())
}

/// `lrdist search status`: the trials table of a study.
pub fn search_status(study: &str, console: &mut Console) -> Result<(), Failure> {
    let (store, name) = input(lrdist_search::open_study(study))?;
    console.out_raw(&lrdist_search::status_table(&store.trials(&name)?));
    Ok(())
}

/// `lrdist search export`: a study's trials as CSV (`csv` `-`: standard output).
pub fn search_export(study: &str, csv: &Path, console: &mut Console) -> Result<(), Failure> {
    let (store, name) = input(lrdist_search::open_study(study))?;
    let trials = store.trials(&name)?;
    if let Some(dir) = csv.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let out = lrdist_data::table::create_output(csv)
        .with_context(|| format!("cannot write {}", csv.display()))?;
    lrdist_search::export_csv(&trials, out)?;
    console.err(format!(
        "wrote {} trials of {name} to {}",
        trials.len(),
        csv.display()
    ));
    Ok(())
}

/// `lrdist search`: one worker on the study `opts` describes, until it has its trials.
pub fn search(
    settings: &Settings,
    opts: &SearchOptions,
    console: &mut Console,
) -> Result<(), Failure> {
    let model = input(opts.config_model())?;
    let mut ctx = input(settings.context_for_model(settings.model_dir(model.as_deref())))?;
    let plan = input(opts.plan(&ctx.model_dir))?;
    if plan.base.scenario.uses_glue() {
        ctx.glue_dir = input(settings.glue_dir())?;
    }
    let runner = Runner::new(ctx);
    let summary = lrdist_search::run_search(runner, plan, &mut |line| console.err(line))?;
    console.out(serde_json::to_string(&summary).context("serialising the summary")?);
    Ok(())
}

/// `lrdist combine`: the combination of `inputs`, written as a distribution file to
/// `output` when given (in `grouping` on a model of `layers` layers; see
/// [`lrdist_search::combined_distribution`]).
pub fn combine(
    settings: &Settings,
    inputs: &[String],
    output: Option<&Path>,
    grouping: Option<GroupingSpec>,
    layers: Option<usize>,
    console: &mut Console,
) -> Result<(), Failure> {
    let combined = input(lrdist_search::combine_inputs(inputs))?;
    if let Some(out) = output {
        let dist = input(lrdist_search::combined_distribution(
            inputs,
            &combined.rates,
            grouping,
            layers,
            &settings.model_dir(None),
        ))?;
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        dist.save(out).map_err(anyhow::Error::from)?;
        console.err(format!("wrote {}", out.display()));
    }
    console.out(serde_json::to_string(&combined).context("serialising the combination")?);
    Ok(())
}

/// What `lrdist analysis` writes.
#[derive(Clone, Debug)]
pub enum AnalysisWhat {
    /// Every table whose inputs exist.
    Tables,
    /// Every figure whose inputs exist.
    Figures,
    /// One table by name.
    Table(String),
    /// One figure by name.
    Figure(String),
}

/// `lrdist analysis`: tables to `out/tables`, figures to `out/figures`, from the records
/// in the results folder (and the authors' logs when `authors_logs` is a folder); prints
/// each file written.
pub fn analysis(
    settings: &Settings,
    what: &AnalysisWhat,
    out: &Path,
    authors_logs: &Path,
    console: &mut Console,
) -> Result<(), Failure> {
    let inputs = lrdist_analysis::Inputs {
        results: settings.results.clone(),
        authors_logs: authors_logs.is_dir().then(|| authors_logs.to_path_buf()),
    };
    let (tables, figures) = (out.join("tables"), out.join("figures"));
    let written = match what {
        AnalysisWhat::Tables => lrdist_analysis::write_all_tables(&inputs, &tables)?,
        AnalysisWhat::Figures => lrdist_analysis::write_all_figures(&inputs, &figures)?,
        AnalysisWhat::Table(name) => input(known(name, lrdist_analysis::table_names()))
            .and_then(|_| Ok(lrdist_analysis::write_table(name, &inputs, &tables)?))?,
        AnalysisWhat::Figure(name) => input(known(name, lrdist_analysis::figure_names()))
            .and_then(|_| Ok(lrdist_analysis::write_figure(name, &inputs, &figures)?))?,
    };
    for path in written {
        console.out(path.display());
    }
    Ok(())
}

/// Checks a table or figure name against the known ones.
fn known(name: &str, names: &[&str]) -> Result<()> {
    if names.contains(&name) {
        Ok(())
    } else {
        bail!("unknown name `{name}` (known: {})", names.join(", "))
    }
}

/// `lrdist data sample`: the train rows `spec` selects of `task`, written to `out`.
pub fn data_sample(
    settings: &Settings,
    task: &TaskSpec,
    spec: &DataSpec,
    out: &Path,
    console: &mut Console,
) -> Result<(), Failure> {
    let glue = match task.glue() {
        Some(_) => input(settings.glue_dir())?,
        None => PathBuf::new(),
    };
    let n = lrdist_train::inputs::export_sample(&glue, task, spec, out)?;
    console.err(format!("wrote {n} {task} train rows to {}", out.display()));
    Ok(())
}

/// `lrdist bench matmul`: the fp32 matmul rate of `n`x`n` matrices, best of `reps`.
pub fn bench_matmul(
    settings: &Settings,
    n: i64,
    reps: usize,
    console: &mut Console,
) -> Result<(), Failure> {
    let device = settings.device()?;
    let rate = lrdist_bench::matmul_flops_per_s(device, n, reps);
    if !settings.quiet {
        console.err(format!(
            "fp32 matmul {n}x{n}x{n} on {device:?}: {:.1} GFLOP/s",
            rate / 1e9
        ));
    }
    let json = serde_json::json!({
        "n": n,
        "flops_per_s": rate,
        "device": format!("{device:?}"),
        "threads": tch::get_num_threads(),
    });
    console.out(json);
    Ok(())
}

/// `lrdist bench speed`: what makes training fast, measured once; one JSON row per line,
/// and to `csv` when given.
pub fn bench_speed(
    settings: &Settings,
    opts: &lrdist_bench::SpeedOptions,
    csv: Option<&Path>,
    console: &mut Console,
) -> Result<(), Failure> {
    let ctx = input(settings.context_for_glue(None, opts.task.glue().is_some()))?;
    let quiet = settings.quiet;
    let rows = lrdist_bench::speed_report(&ctx, opts, &mut |line| {
        if !quiet {
            console.err(line)
        }
    })?;
    if let Some(path) = csv {
        lrdist_bench::write_speed_csv(&rows, path)?;
        console.err(format!("wrote {}", path.display()));
    }
    for row in &rows {
        console.out(serde_json::to_string(row).context("serialising a row")?);
    }
    Ok(())
}

/// `lrdist predict`: the saved model of the settings on the rows of a file.
pub fn predict(
    settings: &Settings,
    what: &PredictInput,
    console: &mut Console,
) -> Result<(), Failure> {
    let opts = lrdist_train::predict::PredictOptions {
        model_dir: settings.model_dir(None),
        rows: what.clone(),
        device: input(settings.device())?,
        progress: !settings.quiet,
    };
    let summary = lrdist_train::predict::predict_file(&opts)?;
    if let (false, Some(path)) = (settings.quiet, &summary.output) {
        console.err(format!(
            "wrote {} predictions to {}",
            summary.rows,
            path.display()
        ));
    }
    Ok(())
}
