//! The error of a file the user gave (a task's train or dev file, `lrdist predict`'s
//! input): one type, so the CLI can tell bad input (exit 2) from a failure while working.

use std::path::PathBuf;

/// An error in a file the user gave: a row of it (naming its line and column), or the file
/// as a whole. The CLI exits 2 on it.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{path}:{line}: {reason}", path = .path.display())]
    Row {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{0}")]
    File(String),
}
