//! `lrdist`: the command-line face of the lrdist crates. It parses the arguments into typed
//! options ([`args`]) and hands each command to one function of `lrdist-app`; every
//! computation, and every line a command prints, lives in the library crates.

mod args;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use lrdist_app::{input, Console, Failure, Stream};

use args::{AnalysisCmd, BenchCmd, Cli, Cmd, DataCmd, SearchCmd};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut write = |stream: Stream, text: &str| {
        let written = match stream {
            Stream::Out => std::io::stdout().write_all(text.as_bytes()),
            Stream::Err => std::io::stderr().write_all(text.as_bytes()),
        };
        // A reader that stopped reading (`lrdist ... | head`) ends the command quietly.
        if written.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
            std::process::exit(0);
        }
    };
    match dispatch(cli, &mut Console::new(&mut write)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) if failure.is_broken_pipe() => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {:#}", failure.error());
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Runs the command `cli` names: its flags as typed options, then one library call.
fn dispatch(cli: Cli, console: &mut Console) -> Result<(), Failure> {
    input(lrdist_app::heap::configure())?;
    let settings = cli.common.settings();
    settings.apply_threads();
    let s = &settings;
    match cli.cmd {
        Cmd::Finetune(a) => {
            let task = input(a.task_spec())?;
            let opts = a.head.finetune_options();
            lrdist_app::finetune(
                s,
                task,
                &a.scale.choice(),
                &a.distribution,
                a.seed,
                &opts,
                console,
            )
        }
        Cmd::Encode(a) => lrdist_app::encode(s, &a.texts(), a.max_len, console),
        Cmd::Groups(a) => lrdist_app::groups(s, a.grouping(), a.json, console),
        Cmd::ExportParamGroups(a) => lrdist_app::export_param_groups(
            s,
            &a.distribution,
            a.grouping,
            a.weight_decay,
            a.output.as_deref(),
            console,
        ),
        Cmd::Run(a) => {
            let opts = input(a.options())?;
            lrdist_app::run(s, &opts, a.record.as_deref(), a.dry_run, console)
        }
        Cmd::Predict(a) => lrdist_app::predict(s, &a.options(), console),
        Cmd::Calibrate(a) => lrdist_app::calibrate(s, &input(a.options())?, console),
        Cmd::Tune(a) => lrdist_app::tune(s, &a.options(), console),
        Cmd::Demo(a) => lrdist_app::demo(s, &input(a.options())?, console),
        Cmd::Search(a) => match a.cmd {
            Some(SearchCmd::Status { study }) => lrdist_app::search_status(&study, console),
            Some(SearchCmd::Export { study, csv }) => {
                lrdist_app::search_export(&study, &csv, console)
            }
            None => lrdist_app::search(s, &a.run.options(), console),
        },
        Cmd::Combine(a) => lrdist_app::combine(
            s,
            &a.inputs,
            a.output.as_deref(),
            a.grouping,
            a.layers,
            console,
        ),
        Cmd::Analysis(a) => {
            let what = match a.what {
                AnalysisCmd::Tables => lrdist_app::AnalysisWhat::Tables,
                AnalysisCmd::Figures => lrdist_app::AnalysisWhat::Figures,
                AnalysisCmd::Table { name } => lrdist_app::AnalysisWhat::Table(name),
                AnalysisCmd::Figure { name } => lrdist_app::AnalysisWhat::Figure(name),
            };
            lrdist_app::analysis(s, &what, &a.out, &a.authors_logs, console)
        }
        Cmd::Data {
            cmd: DataCmd::Sample(a),
        } => lrdist_app::data_sample(s, &input(a.task_spec())?, &a.spec(), &a.out, console),
        Cmd::Bench {
            cmd: BenchCmd::Matmul { n, reps },
        } => lrdist_app::bench_matmul(s, n, reps, console),
        Cmd::Bench {
            cmd: BenchCmd::Speed(a),
        } => lrdist_app::bench_speed(s, &input(a.options())?, a.csv.as_deref(), console),
    }
}
