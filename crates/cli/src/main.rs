//! `lrdist`: the command-line face of the lrdist crates. Argument parsing and output only;
//! every computation lives in the library crates.

mod args;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use lrdist_train::runner::comparison_table;
use lrdist_train::{Env, Runner};

use args::{AnalysisCmd, BenchCmd, Cli, Cmd, Common, DataCmd, SearchCmd};

/// An error and whose fault it is: bad input exits 2, a failure while working exits 1.
enum Failure {
    Input(anyhow::Error),
    Runtime(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Runtime(e)
    }
}

/// Whether an error met while working was caused by the user's input files (a malformed
/// data row is found only when the data is read, after the checks of `validate`): such
/// errors exit 2 like every other bad input. A GLUE file's error, or one of a file of the
/// user's (a task's train or dev file, `predict`'s input: [`lrdist_data::InputError`]).
fn is_bad_input(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.downcast_ref::<lrdist_data::GlueError>().is_some()
            || cause.downcast_ref::<lrdist_data::InputError>().is_some()
    })
}

/// Marks errors of a step that only checks the user's input.
fn input<T>(r: Result<T>) -> Result<T, Failure> {
    r.map_err(Failure::Input)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(if is_bad_input(&e) { 2 } else { 1 })
        }
    }
}

fn dispatch(cli: Cli) -> Result<(), Failure> {
    let common = cli.common;
    if let Some(n) = common.threads {
        tch::set_num_threads(n);
    } else {
        tch::set_num_threads(std::thread::available_parallelism().map_or(1, |n| n.get() as i32));
    }
    match cli.cmd {
        Cmd::Finetune(a) => {
            let task = input(a.task_spec())?;
            let env = input(env_for_glue(&common, None, task.glue().is_some()))?;
            let mut runner = Runner::new(env);
            let scale = input(a.scale.resolve_finetune())?;
            let opts = a.head.finetune_options();
            let report = runner.finetune_with(&task, &scale, &a.distribution, a.seed, &opts)?;
            if !common.quiet {
                let m: Vec<String> = report
                    .metrics
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.4}"))
                    .collect();
                eprintln!(
                    "{}: {} train rows, {:.1} samples/s; dev ({} rows): {}",
                    report.task,
                    report.train_rows,
                    report.train_samples_per_s,
                    report.dev_rows,
                    m.join(", ")
                );
            }
            println!(
                "{}",
                serde_json::to_string(&report).context("serialising the report")?
            );
        }
        Cmd::Encode(a) => {
            let env = input(env_no_data(&common))?;
            let texts = input(a.texts())?;
            let vectors =
                lrdist_train::embed::encode_texts(&env.model_dir, env.device, &texts, a.max_len)?;
            for v in vectors {
                println!(
                    "{}",
                    serde_json::to_string(&v).context("serialising a vector")?
                );
            }
        }
        Cmd::Groups(a) => {
            let rows = input(lrdist_train::groups::group_rows(
                &common.model_dir(None),
                &a.grouping(),
            ))?;
            if a.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rows).context("serialising groups")?
                );
            } else {
                print!("{}", lrdist_train::groups::format_group_rows(&rows));
            }
        }
        Cmd::ExportParamGroups(a) => {
            let groups = input(lrdist_optimizer::export_param_groups(
                &common.model_dir(None),
                &a.distribution,
                &a.grouping,
                a.weight_decay,
            ))?;
            let json = serde_json::to_string_pretty(&groups).context("serialising groups")?;
            match &a.output {
                Some(path) => {
                    std::fs::write(path, json + "\n")
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    if !common.quiet {
                        eprintln!(
                            "wrote {} parameter groups to {}",
                            groups.len(),
                            path.display()
                        );
                    }
                }
                None => println!("{json}"),
            }
        }
        Cmd::Run(a) => {
            let reqs = input(a.requests())?;
            let glue = reqs.iter().any(|r| r.scenario.uses_glue());
            let env = input(
                a.config_model()
                    .and_then(|m| env_for_glue(&common, m.as_deref(), glue)),
            )?;
            let mut runner = Runner::new(env);
            for req in &reqs {
                input(runner.validate(req))?;
            }
            let results = common.results.clone();
            let fixed = a.record.clone();
            let path = move |req: &lrdist_train::RunRequest| {
                fixed
                    .clone()
                    .unwrap_or_else(|| lrdist_train::record::default_record_path(&results, req))
            };
            let quiet = common.quiet;
            runner.run_batch(&reqs, &path, a.all, &mut |record, path| {
                print_record(record, path, quiet)
            })?;
        }
        Cmd::Predict(a) => {
            let opts = a.options(
                common.model_dir(None),
                input(common.device())?,
                !common.quiet,
            );
            let summary = lrdist_train::predict::predict_file(&opts)?;
            if let (false, Some(path)) = (common.quiet, &summary.output) {
                eprintln!("wrote {} predictions to {}", summary.rows, path.display());
            }
        }
        Cmd::Calibrate(a) => {
            let reqs = input(a.requests())?;
            let glue = reqs.iter().any(|r| r.scenario.uses_glue());
            let env = input(env_for_glue(&common, None, glue))?;
            let mut runner = Runner::new(env);
            for req in &reqs {
                input(runner.validate(req))?;
            }
            let results = common.results.clone();
            let fixed = a.record.clone();
            let path = move |req: &lrdist_train::RunRequest| {
                fixed
                    .clone()
                    .unwrap_or_else(|| lrdist_train::calibrate::record_path(&results, req))
            };
            let quiet = common.quiet;
            runner.run_batch(&reqs, &path, true, &mut |record, path| {
                print_record(record, path, quiet)
            })?;
        }
        Cmd::Tune(a) => {
            let env = input(env(&common))?;
            let mut runner = Runner::new(env);
            let quiet = common.quiet;
            let outcome = input(lrdist_train::tune::tune(
                &mut runner,
                &a.config,
                &a.settings,
                &a.baselines,
                !a.choose,
                &mut |record, path| print_record(record, path, quiet),
            ))?;
            match (&outcome.written, &outcome.not_yet) {
                (Some((path, choice)), _) => {
                    for m in &choice.methods {
                        let s = choice
                            .scores
                            .iter()
                            .find(|s| s.baseline == m.name && s.chosen)
                            .expect("a chosen point per baseline");
                        eprintln!(
                            "{}: {} ({} {:.4})",
                            m.name,
                            s.candidate,
                            lrdist_train::tune::OBJECTIVE,
                            s.objective
                        );
                    }
                    eprintln!(
                        "{} runs now; the choice is in {}",
                        outcome.ran,
                        path.display()
                    );
                }
                (None, why) => eprintln!(
                    "{} runs now; no choice written yet: {}",
                    outcome.ran,
                    why.as_deref().unwrap_or("")
                ),
            }
        }
        Cmd::Demo(a) => {
            let (pair, scale) = input(a.pair())?;
            let env = input(
                a.config_model()
                    .and_then(|m| env_for_glue(&common, m.as_deref(), pair.uses_glue())),
            )?;
            let path = lrdist_train::runner::demo_record_path(&env.results_dir);
            let mut runner = Runner::new(env);
            let records = runner.demo(pair, &a.scale, &scale, a.seed, &path)?;
            println!("{}", comparison_table(&records));
            println!("records appended to {}", path.display());
        }
        Cmd::Search(a) => match a.cmd {
            Some(SearchCmd::Status { study }) => {
                let (store, name) = input(lrdist_search::open_study(&study))?;
                print!("{}", lrdist_search::status_table(&store.trials(&name)?));
            }
            Some(SearchCmd::Export { study, csv }) => {
                let (store, name) = input(lrdist_search::open_study(&study))?;
                let trials = store.trials(&name)?;
                if let Some(dir) = csv.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                }
                let file = std::fs::File::create(&csv)
                    .with_context(|| format!("cannot write {}", csv.display()))?;
                lrdist_search::export_csv(&trials, file)?;
                eprintln!(
                    "wrote {} trials of {name} to {}",
                    trials.len(),
                    csv.display()
                );
            }
            None => {
                let model = input(a.run.config_model())?;
                let mut env = input(env_for_model(&common, common.model_dir(model.as_deref())))?;
                let plan = input(a.run.plan(&env.model_dir))?;
                if plan.base.scenario.uses_glue() {
                    env.glue_dir =
                        input(lrdist_data::resolve_glue_dir(common.glue_dir.as_deref()))?;
                }
                let runner = Runner::new(env);
                let summary =
                    lrdist_search::run_search(runner, plan, &mut |line| eprintln!("{line}"))?;
                println!(
                    "{}",
                    serde_json::to_string(&summary).context("serialising the summary")?
                );
            }
        },
        Cmd::Combine(a) => {
            let combined = input(lrdist_search::combine_inputs(&a.inputs))?;
            if let Some(out) = &a.output {
                let dist = input(a.distribution(&combined.rates, &common.model_dir(None)))?;
                if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                }
                dist.save(out).map_err(anyhow::Error::from)?;
                eprintln!("wrote {}", out.display());
            }
            println!(
                "{}",
                serde_json::to_string(&combined).context("serialising the combination")?
            );
        }
        Cmd::Analysis(a) => {
            let inputs = lrdist_analysis::Inputs {
                results: common.results.clone(),
                authors_logs: a.authors_logs.is_dir().then(|| a.authors_logs.clone()),
            };
            let (tables, figures) = (a.out.join("tables"), a.out.join("figures"));
            let written = match &a.what {
                AnalysisCmd::Tables => lrdist_analysis::write_all_tables(&inputs, &tables)?,
                AnalysisCmd::Figures => lrdist_analysis::write_all_figures(&inputs, &figures)?,
                AnalysisCmd::Table { name } => {
                    input(known(name, lrdist_analysis::table_names()))
                        .and_then(|_| Ok(lrdist_analysis::write_table(name, &inputs, &tables)?))?
                }
                AnalysisCmd::Figure { name } => input(known(name, lrdist_analysis::figure_names()))
                    .and_then(|_| Ok(lrdist_analysis::write_figure(name, &inputs, &figures)?))?,
            };
            for path in written {
                println!("{}", path.display());
            }
        }
        Cmd::Data {
            cmd: DataCmd::Sample(a),
        } => {
            let task = input(a.task_spec())?;
            let glue = match task.glue() {
                Some(_) => input(lrdist_data::resolve_glue_dir(common.glue_dir.as_deref()))?,
                None => PathBuf::new(),
            };
            let n = lrdist_train::prep::export_sample(&glue, &task, &a.spec(), &a.out)?;
            eprintln!("wrote {n} {task} train rows to {}", a.out.display());
        }
        Cmd::Bench {
            cmd: BenchCmd::Matmul { n, reps },
        } => {
            let device = common.device()?;
            let rate = lrdist_bench::matmul_flops_per_s(device, n, reps);
            if !common.quiet {
                eprintln!(
                    "fp32 matmul {n}x{n}x{n} on {device:?}: {:.1} GFLOP/s",
                    rate / 1e9
                );
            }
            let json = serde_json::json!({
                "n": n,
                "flops_per_s": rate,
                "device": format!("{device:?}"),
                "threads": tch::get_num_threads(),
            });
            println!("{json}");
        }
        Cmd::Bench {
            cmd: BenchCmd::Speed(a),
        } => {
            let opts = input(a.options())?;
            let env = input(env_for_glue(&common, None, opts.task.glue().is_some()))?;
            let csv = a.csv;
            let quiet = common.quiet;
            let rows = lrdist_bench::speed_report(&env, &opts, &mut |line| {
                if !quiet {
                    eprintln!("{line}")
                }
            })?;
            if let Some(path) = &csv {
                lrdist_bench::write_speed_csv(&rows, path)?;
                eprintln!("wrote {}", path.display());
            }
            for row in &rows {
                println!(
                    "{}",
                    serde_json::to_string(row).context("serialising a row")?
                );
            }
        }
    }
    Ok(())
}

/// A finished run: its summary on stderr (unless quiet), its record as one JSON line on stdout.
fn print_record(
    record: &lrdist_train::RunRecord,
    path: &std::path::Path,
    quiet: bool,
) -> Result<()> {
    if !quiet {
        eprint!("{}", comparison_table(std::slice::from_ref(record)));
        eprintln!("appended to {}", path.display());
    }
    println!(
        "{}",
        serde_json::to_string(record).context("serialising the record")?
    );
    Ok(())
}

/// Checks a table or figure name against the known ones.
fn known(name: &str, names: &[&str]) -> Result<()> {
    if names.contains(&name) {
        Ok(())
    } else {
        anyhow::bail!("unknown name `{name}` (known: {})", names.join(", "))
    }
}

/// The environment a command that reads GLUE needs.
fn env(common: &Common) -> Result<Env> {
    env_for_glue(common, None, true)
}

/// The environment of a command whose config may name the model (`model:`), with the GLUE
/// folder resolved only when `glue` (a command whose tasks are all the user's own files
/// needs none, and its `glue_dir` stays empty).
fn env_for_glue(
    common: &Common,
    config_model: Option<&std::path::Path>,
    glue: bool,
) -> Result<Env> {
    let mut env = env_for_model(common, common.model_dir(config_model))?;
    if glue {
        env.glue_dir = lrdist_data::resolve_glue_dir(common.glue_dir.as_deref())?;
    }
    Ok(env)
}

/// The environment of a command that needs only the model.
fn env_no_data(common: &Common) -> Result<Env> {
    env_for_model(common, common.model_dir(None))
}

fn env_for_model(common: &Common, model_dir: PathBuf) -> Result<Env> {
    if !model_dir.join(lrdist_model::CONFIG_FILE).is_file() {
        anyhow::bail!(
            "no model at {}: pass --model DIR or set LRDIST_MODEL to a Hugging Face BERT folder (config.json, model.safetensors or pytorch_model.bin, tokenizer.json); `make model` fetches the default one",
            model_dir.display()
        );
    }
    Ok(Env {
        model_dir,
        glue_dir: PathBuf::new(),
        device: common.device()?,
        cache_dir: lrdist_train::runner::default_cache_dir(&common.results),
        results_dir: common.results.clone(),
        progress: !common.quiet,
    })
}
