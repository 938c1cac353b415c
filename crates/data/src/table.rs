//! Rows of text (and a label) from a CSV, TSV or JSONL file, told apart by its extension:
//! the files of a task of your own ([`crate::FileTask`]) and the inputs of `lrdist predict`.
//!
//! * `.csv`: RFC 4180 (quoted fields may hold commas, quotes and line breaks), a header line.
//! * `.tsv`: tab-separated and unquoted, as GLUE's files (a `"` is text), a header line.
//! * `.jsonl`: one JSON object per line; blank lines are skipped. A text must be a string;
//!   a label may be a string, a number or a boolean (`3` and `"3"` are the same label).
//!
//! Lines are 1-based and count every line of the file (the header is line 1 of a CSV or
//! TSV; a quoted CSV text spanning two lines takes two). Every error is an [`InputError`]
//! naming the file, the line and the column: `train.csv:7: column `text` is empty`.

use std::path::Path;

use serde_json::{Map, Value};

/// An error in a file the user gave (defined in `lrdist-record`, beside the file tasks
/// whose files it names).
pub use lrdist_record::InputError;

pub(crate) fn row_error(path: &Path, line: usize, reason: String) -> InputError {
    InputError::Row {
        path: path.to_path_buf(),
        line,
        reason,
    }
}

/// Which columns to read.
#[derive(Clone, Copy, Debug)]
pub struct Columns<'a> {
    /// The text column: the first of these that the file has. With more than one, a file
    /// with none of them is told to name its text column (`--text-column`).
    pub text: &'a [&'a str],
    /// The second text of a pair.
    pub text_pair: Option<&'a str>,
    /// The label.
    pub label: Option<&'a str>,
}

/// One row: its texts, its label as written (trimmed) and its line.
#[derive(Clone, Debug, PartialEq)]
pub struct TableRow {
    pub text: String,
    pub text_pair: Option<String>,
    pub label: Option<String>,
    pub line: usize,
}

/// A table file's rows and the text column they were read from.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub rows: Vec<TableRow>,
    pub text_column: String,
}

/// The formats, by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Tsv,
    Jsonl,
}

impl Format {
    /// The format of `path` by its extension (`.csv`, `.tsv`, `.jsonl`, any case).
    pub fn of(path: &Path) -> Result<Format, InputError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("tsv") => Ok(Format::Tsv),
            Some("jsonl") => Ok(Format::Jsonl),
            _ => Err(InputError::File(format!(
                "{}: unknown file format (give a .csv, .tsv or .jsonl file)",
                path.display()
            ))),
        }
    }
}

/// Whether `path` names standard output (`-`), as `--out -` and `--csv -` do.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// A buffered writer to `path`, or to standard output when `path` is `-`.
pub fn create_output(path: &Path) -> std::io::Result<Box<dyn std::io::Write>> {
    Ok(match is_stdout(path) {
        true => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
        false => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
    })
}

/// Reads the rows of `path` (see the module's documentation). A file without rows is an
/// error.
pub fn read_table(path: &Path, columns: &Columns) -> Result<Table, InputError> {
    let format = Format::of(path)?;
    let bytes = std::fs::read(path)
        .map_err(|e| InputError::File(format!("cannot read {}: {e}", path.display())))?;
    parse_table(path, format, &bytes, columns)
}

/// [`read_table`] on a file's contents, already read (`path` names it in errors).
pub(crate) fn parse_table(
    path: &Path,
    format: Format,
    bytes: &[u8],
    columns: &Columns,
) -> Result<Table, InputError> {
    let table = match format {
        Format::Csv => read_delimited(path, bytes, b',', true, columns)?,
        Format::Tsv => read_delimited(path, bytes, b'\t', false, columns)?,
        Format::Jsonl => read_jsonl(path, bytes, columns)?,
    };
    if table.rows.is_empty() {
        return Err(InputError::File(format!("{}: no rows", path.display())));
    }
    Ok(table)
}

/// The text column among the columns `present` says a row or header has, or why none is.
fn text_column<'a>(
    columns: &Columns<'a>,
    present: &dyn Fn(&str) -> bool,
) -> Result<&'a str, String> {
    if let Some(found) = columns.text.iter().find(|c| present(c)) {
        return Ok(found);
    }
    match columns.text {
        [one] => Err(format!("no column `{one}`")),
        several => Err(format!(
            "no column {} (name the text column with --text-column)",
            several
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        )),
    }
}

/// A text field's value, or why it cannot be used.
fn text_value(value: &str, column: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        Err(format!("column `{column}` is empty"))
    } else {
        Ok(value.to_string())
    }
}

/// A label field's value, trimmed, or why it cannot be used.
fn label_value(value: &str, column: &str) -> Result<String, String> {
    match value.trim() {
        "" => Err(format!("column `{column}` is empty")),
        label => Ok(label.to_string()),
    }
}

fn read_delimited(
    path: &Path,
    bytes: &[u8],
    delimiter: u8,
    quoting: bool,
    columns: &Columns,
) -> Result<Table, InputError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .quoting(quoting)
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let mut lines = LineCounter::new(bytes);
    let header = reader
        .headers()
        .map_err(|e| row_error(path, 1, format!("cannot read the header: {e}")))?
        .clone();
    let names: Vec<&str> = header
        .iter()
        .enumerate()
        .map(|(i, h)| match i {
            0 => h.trim_start_matches('\u{feff}').trim(),
            _ => h.trim(),
        })
        .collect();
    let index = |name: &str| names.iter().position(|h| *h == name);
    let known = names.join(", ");
    let missing = |why: String| row_error(path, 1, format!("{why} (the header has: {known})"));
    let text = text_column(columns, &|c| index(c).is_some()).map_err(missing)?;
    let text_at = index(text).expect("found above");
    let find = |column: Option<&str>| -> Result<Option<(String, usize)>, InputError> {
        column
            .map(|c| {
                index(c)
                    .map(|at| (c.to_string(), at))
                    .ok_or_else(|| missing(format!("no column `{c}`")))
            })
            .transpose()
    };
    let pair_at = find(columns.text_pair)?;
    let label_at = find(columns.label)?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| lines.line_of(p.byte()));
            row_error(path, line, format!("cannot read the row: {e}"))
        })?;
        let line = record.position().map_or(0, |p| lines.line_of(p.byte()));
        if record.len() != header.len() {
            return Err(row_error(
                path,
                line,
                format!("{} fields, the header has {}", record.len(), header.len()),
            ));
        }
        let fail = |why: String| row_error(path, line, why);
        rows.push(TableRow {
            text: text_value(&record[text_at], text).map_err(fail)?,
            text_pair: pair_at
                .as_ref()
                .map(|(c, at)| text_value(&record[*at], c))
                .transpose()
                .map_err(fail)?,
            label: label_at
                .as_ref()
                .map(|(c, at)| label_value(&record[*at], c))
                .transpose()
                .map_err(fail)?,
            line,
        });
    }
    Ok(Table {
        rows,
        text_column: text.to_string(),
    })
}

/// 1-based line numbers of the records of a delimited file, from their byte offsets
/// (csv's own line count of a record can be the line of the previous terminator).
struct LineCounter<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a [u8]) -> Self {
        Self {
            text,
            at: 0,
            line: 1,
        }
    }

    /// The line of the first byte at or after `byte` that is not a line break; offsets
    /// must not decrease from one call to the next.
    fn line_of(&mut self, byte: u64) -> usize {
        let mut b = (byte as usize).clamp(self.at, self.text.len());
        while b < self.text.len() && matches!(self.text[b], b'\n' | b'\r') {
            b += 1;
        }
        self.line += self.text[self.at..b]
            .iter()
            .filter(|&&c| c == b'\n')
            .count();
        self.at = b;
        self.line
    }
}

fn read_jsonl(path: &Path, bytes: &[u8], columns: &Columns) -> Result<Table, InputError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| InputError::File(format!("{}: not UTF-8 text: {e}", path.display())))?;
    let mut rows = Vec::new();
    let mut text_col = None;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = if n == 1 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        if line.trim().is_empty() {
            continue;
        }
        let fail = |why: String| row_error(path, n, why);
        let object: Map<String, Value> =
            serde_json::from_str(line).map_err(|e| fail(format!("not a JSON object: {e}")))?;
        let string = |column: &str| match object.get(column) {
            Some(Value::String(s)) => text_value(s, column),
            Some(_) => Err(format!("column `{column}` is not a string")),
            None => Err(format!("no column `{column}`")),
        };
        let label = |column: &str| match object.get(column) {
            Some(Value::String(s)) => label_value(s, column),
            Some(Value::Number(x)) => Ok(x.to_string()),
            Some(Value::Bool(b)) => Ok(b.to_string()),
            Some(_) => Err(format!(
                "column `{column}` is not a string, a number or a boolean"
            )),
            None => Err(format!("no column `{column}`")),
        };
        let text = text_column(columns, &|c| object.contains_key(c)).map_err(fail)?;
        text_col.get_or_insert(text);
        rows.push(TableRow {
            text: string(text).map_err(fail)?,
            text_pair: columns.text_pair.map(string).transpose().map_err(fail)?,
            label: columns.label.map(label).transpose().map_err(fail)?,
            line: n,
        });
    }
    Ok(Table {
        rows,
        text_column: text_col.unwrap_or(columns.text[0]).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn file(dir: &tempfile::TempDir, name: &str, content: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    const TEXT: Columns = Columns {
        text: &["text", "sentence"],
        text_pair: None,
        label: None,
    };

    fn rows(path: &Path, columns: &Columns) -> Vec<TableRow> {
        read_table(path, columns).unwrap().rows
    }

    fn err(path: &Path, columns: &Columns) -> String {
        read_table(path, columns).unwrap_err().to_string()
    }

    fn row(text: &str, pair: Option<&str>, label: Option<&str>, line: usize) -> TableRow {
        TableRow {
            text: text.into(),
            text_pair: pair.map(Into::into),
            label: label.map(Into::into),
            line,
        }
    }

    #[test]
    fn csv_tsv_and_jsonl_give_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let csv = file(
            &dir,
            "a.csv",
            "id,text,label\n1,\"good, \"\"really\"\"\",pos\n2,bad, neg \n",
        );
        let tsv = file(
            &dir,
            "a.tsv",
            "id\ttext\tlabel\n1\tgood, \"really\"\tpos\n2\tbad\t neg \n",
        );
        let jsonl = file(
            &dir,
            "a.jsonl",
            "{\"id\": 1, \"text\": \"good, \\\"really\\\"\", \"label\": \"pos\"}\n\n\
             {\"text\": \"bad\", \"label\": \"neg\"}\n",
        );
        let labelled = Columns {
            label: Some("label"),
            ..TEXT
        };
        let want = vec![
            row("good, \"really\"", None, Some("pos"), 2),
            row("bad", None, Some("neg"), 3),
        ];
        assert_eq!(rows(&csv, &labelled), want);
        assert_eq!(rows(&tsv, &labelled), want);
        // JSONL has no header: its rows are on lines 1 and 3 (line 2 is blank).
        let mut jsonl_want = want.clone();
        jsonl_want[0].line = 1;
        assert_eq!(rows(&jsonl, &labelled), jsonl_want);
        assert_eq!(read_table(&csv, &TEXT).unwrap().text_column, "text");
    }

    #[test]
    fn jsonl_labels_may_be_numbers_or_booleans() {
        let dir = tempfile::tempdir().unwrap();
        let jsonl = file(
            &dir,
            "n.jsonl",
            "{\"text\": \"a\", \"y\": 3}\n{\"text\": \"b\", \"y\": 2.5}\n{\"text\": \"c\", \"y\": true}\n",
        );
        let columns = Columns {
            text: &["text"],
            text_pair: None,
            label: Some("y"),
        };
        let labels: Vec<_> = rows(&jsonl, &columns)
            .into_iter()
            .map(|r| r.label.unwrap())
            .collect();
        assert_eq!(labels, ["3", "2.5", "true"]);
        let bad = file(&dir, "o.jsonl", "{\"text\": \"a\", \"y\": [1]}\n");
        let e = err(&bad, &columns);
        assert!(
            e.contains("o.jsonl:1:") && e.contains("column `y` is not a string"),
            "{e}"
        );
    }

    #[test]
    fn sentence_is_the_fallback_and_pairs_are_read_when_named() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = file(&dir, "p.tsv", "\u{feff}sentence\tother\tlabel\na\tb\t1\n");
        assert_eq!(rows(&tsv, &TEXT), [row("a", None, None, 2)]);
        let named = Columns {
            text: &["other"],
            text_pair: Some("sentence"),
            label: None,
        };
        assert_eq!(rows(&tsv, &named), [row("b", Some("a"), None, 2)]);
    }

    #[test]
    fn missing_columns_and_empty_fields_name_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let csv = file(&dir, "m.csv", "id,body\n1,x\n");
        let e = err(&csv, &TEXT);
        assert!(
            e.contains("m.csv:1:") && e.contains("`text` or `sentence`") && e.contains("body"),
            "{e}"
        );
        let one = |text: &'static [&'static str], pair, label| Columns {
            text,
            text_pair: pair,
            label,
        };
        let e = err(&csv, &one(&["txt"], None, None));
        assert!(e.contains("m.csv:1: no column `txt`"), "{e}");
        let e = err(&csv, &one(&["body"], Some("second"), None));
        assert!(e.contains("m.csv:1: no column `second`"), "{e}");
        let e = err(&csv, &one(&["body"], None, Some("label")));
        assert!(e.contains("m.csv:1: no column `label`"), "{e}");

        let csv = file(&dir, "e.csv", "text,label\nfine,1\n\"  \",0\n");
        let e = err(&csv, &TEXT);
        assert!(e.contains("e.csv:3: column `text` is empty"), "{e}");
        let csv = file(&dir, "l.csv", "text,label\nfine,1\nok, \n");
        let e = err(&csv, &one(&["text"], None, Some("label")));
        assert!(e.contains("l.csv:3: column `label` is empty"), "{e}");
        // Lines count the lines of a quoted multi-line text and blank lines.
        let csv = file(&dir, "f.csv", "text\r\n\"two\nlines\"\r\n\r\nok\n\"\"\n");
        let e = err(&csv, &TEXT);
        assert!(e.contains("f.csv:6:"), "{e}");

        let tsv = file(&dir, "w.tsv", "text\tlabel\nfine\t1\nno label\n");
        let e = err(&tsv, &TEXT);
        assert!(e.contains("w.tsv:3:") && e.contains("1 fields"), "{e}");

        let jsonl = file(&dir, "j.jsonl", "{\"text\": \"a\"}\n{\"txt\": \"b\"}\n");
        let e = err(&jsonl, &TEXT);
        assert!(e.contains("j.jsonl:2:") && e.contains("`text`"), "{e}");
        let jsonl = file(&dir, "k.jsonl", "{\"text\": \"a\", \"b\": 3}\n");
        let e = err(&jsonl, &one(&["text"], Some("b"), None));
        assert!(e.contains("k.jsonl:1: column `b` is not a string"), "{e}");
        let jsonl = file(&dir, "n.jsonl", "{\"text\": \"a\"}\nnot json\n");
        let e = err(&jsonl, &TEXT);
        assert!(
            e.contains("n.jsonl:2:") && e.contains("not a JSON object"),
            "{e}"
        );
    }

    #[test]
    fn unknown_formats_and_empty_files_are_input_errors() {
        let dir = tempfile::tempdir().unwrap();
        let e = err(&file(&dir, "a.txt", "text\nx\n"), &TEXT);
        assert!(e.contains("a.txt") && e.contains(".jsonl"), "{e}");
        let e = err(&file(&dir, "h.csv", "text\n"), &TEXT);
        assert!(e.contains("h.csv: no rows"), "{e}");
        let e = err(&dir.path().join("absent.csv"), &TEXT);
        assert!(e.contains("absent.csv"), "{e}");
    }
}
