//! Test-only: a small GLUE folder in the official layout of every task.

use std::fmt::Write as _;
use std::path::Path;

use crate::task::GlueTask;

/// Rows per generated train file; dev files get half as many.
pub const TRAIN_ROWS: usize = 40;

/// The header line of a task's file (`None` for CoLA).
fn header(task: GlueTask, file: &str) -> Option<&'static str> {
    Some(match task {
        GlueTask::Cola => return None,
        GlueTask::Sst2 => "sentence\tlabel",
        GlueTask::Mrpc => "\u{feff}Quality\t#1 ID\t#2 ID\t#1 String\t#2 String",
        GlueTask::Stsb => "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore",
        GlueTask::Qqp => "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate",
        GlueTask::Mnli if file == "train.tsv" => {
            "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label"
        }
        GlueTask::Mnli => {
            "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label"
        }
        GlueTask::Qnli => "index\tquestion\tsentence\tlabel",
        GlueTask::Rte | GlueTask::Wnli => "index\tsentence1\tsentence2\tlabel",
    })
}

/// The label text of row `i`.
pub fn label_text(task: GlueTask, i: usize) -> String {
    match task.label_names() {
        [] => format!("{:.3}", (i % 11) as f32 * 0.5),
        names => names[i % names.len()].to_string(),
    }
}

/// The first text of row `i`, with the quote characters GLUE text contains.
pub fn text_a(i: usize) -> String {
    format!("\"Row {i}\" is what the author's text said")
}

pub fn text_b(i: usize) -> String {
    format!("second \"sentence {i}")
}

/// Row `i` of a task's file, laid out as the GLUE download writes it.
pub fn row(task: GlueTask, file: &str, i: usize) -> String {
    let (a, b, label) = (text_a(i), text_b(i), label_text(task, i));
    match task {
        GlueTask::Cola => format!("src{}\t{label}\t\t{a}", i % 3),
        GlueTask::Sst2 => format!("{a} \t{label}"),
        GlueTask::Mrpc => format!("{label}\t{}\t{}\t{a}\t{b}", 1000 + i, 2000 + i),
        GlueTask::Stsb => {
            format!("{i}\tmain-captions\tMSRvid\t2012test\t{i:04}\tnone\tnone\t{a}\t{b}\t{label}")
        }
        GlueTask::Qqp => format!("{i}\t{}\t{}\t{a}\t{b}\t{label}", 2 * i, 2 * i + 1),
        GlueTask::Mnli if file == "train.tsv" => {
            format!("{i}\t{i}\t{i}e\tfiction\t( x )\t( y )\t(ROOT x)\t(ROOT y)\t{a}\t{b}\t{label}\t{label}")
        }
        // Most official-layout MNLI dev rows here have their metadata columns empty.
        GlueTask::Mnli => format!("{i}\t\t\t\t\t\t\t\t{a}\t{b}\t\t\t\t\t\t{label}"),
        GlueTask::Qnli | GlueTask::Rte | GlueTask::Wnli => format!("{i}\t{a}\t{b}\t{label}"),
    }
}

/// The text of a whole file with `rows` rows; CoLA's dev file has no final newline.
pub fn file_text(task: GlueTask, file: &str, rows: usize) -> String {
    let mut text = String::new();
    if let Some(header) = header(task, file) {
        writeln!(text, "{header}").unwrap();
    }
    for i in 0..rows {
        writeln!(text, "{}", row(task, file, i)).unwrap();
    }
    if task == GlueTask::Cola && file == "dev.tsv" {
        text.pop();
    }
    text
}

/// The dev files of a task.
pub fn dev_files(task: GlueTask) -> &'static [&'static str] {
    match task {
        GlueTask::Mnli => &["dev_matched.tsv", "dev_mismatched.tsv"],
        _ => &["dev.tsv"],
    }
}

/// Writes every task's train and dev files under `root`.
pub fn write_glue(root: &Path) {
    for task in GlueTask::all() {
        let dir = root.join(task.dir_name());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("train.tsv"),
            file_text(task, "train.tsv", TRAIN_ROWS),
        )
        .unwrap();
        for file in dev_files(task) {
            std::fs::write(dir.join(file), file_text(task, file, TRAIN_ROWS / 2)).unwrap();
        }
    }
}
