//! What the integration tests of the binary share: the checkout, the GLUE folder and the
//! default model, GLUE rows, and checks on a finished `lrdist` process.
// Each test file uses a part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

/// The checkout (the workspace root), as an absolute path without `..`.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `GLUE_DIR` (default `../shared/glue`); missing is a failure that says what to set.
pub fn glue() -> PathBuf {
    let dir = std::env::var_os("GLUE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/glue"));
    assert!(
        dir.join("SST-2").is_dir(),
        "GLUE not found at {}: set GLUE_DIR",
        dir.display()
    );
    dir
}

/// `LRDIST_MODEL` (default `models/all-MiniLM-L6-v2`), not checked.
pub fn model() -> PathBuf {
    std::env::var_os("LRDIST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("models/all-MiniLM-L6-v2"))
}

/// Rows `range` of a GLUE TSV file (header dropped), split on tabs.
pub fn glue_rows(file: &str, range: std::ops::Range<usize>) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(glue().join(file)).unwrap();
    text.lines()
        .skip(1 + range.start)
        .take(range.len())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// The process exited 0; its stderr is the failure message otherwise.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The lines of a JSONL file, parsed.
pub fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
