//! The git commit a checkout is at, for run records: shared by `crates/train/build.rs`
//! (which stamps it into lrdist-train as `LRDIST_BUILD_COMMIT`) and that crate's tests.

use std::path::Path;
use std::process::Command;

/// What is built or read as configuration: a change here makes a build `-dirty`, and the
/// build script re-runs when anything under these paths changes. `results/`, `paper/` and
/// documentation are left out: they change under running experiments.
pub const CODE: [&str; 5] = ["crates", "build", "Cargo.toml", "Cargo.lock", "experiments"];

/// `git -C dir args...`'s trimmed stdout, if git ran and succeeded.
pub fn git(dir: &Path, args: &[&str]) -> Option<String> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// HEAD of the repository holding `dir` (12 hex digits), with `-dirty` when tracked files
/// under [`CODE`] differ from it; `unknown` when `dir` is not in a git checkout.
pub fn git_commit_in(dir: &Path) -> String {
    let Some(head) = git(dir, &["rev-parse", "--short=12", "HEAD"]).filter(|c| !c.is_empty())
    else {
        return "unknown".into();
    };
    let paths: Vec<String> = CODE.iter().map(|p| format!(":(top){p}")).collect();
    let mut args = vec!["status", "--porcelain", "--untracked-files=no", "--"];
    args.extend(paths.iter().map(String::as_str));
    let dirty = git(dir, &args).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{head}-dirty")
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `git add . && git commit` in `dir`, with an identity given on the command line.
    fn commit_all(dir: &Path) {
        let identity = [
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ];
        for step in [&["add", "."][..], &["commit", "-q", "-m", "x"][..]] {
            let args: Vec<&str> = identity.iter().chain(step).copied().collect();
            assert!(git(dir, &args).is_some(), "git {step:?}");
        }
    }

    #[test]
    fn changed_results_and_docs_leave_a_commit_clean_changed_code_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let files = [
            "crates/a/src/lib.rs",
            "results/runs.jsonl",
            "paper/REPORT.md",
            "README.md",
        ];
        for f in files {
            std::fs::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            std::fs::write(root.join(f), "a\n").unwrap();
        }
        assert!(git(root, &["init", "-q"]).is_some());
        commit_all(root);
        let clean = git_commit_in(root);
        assert_eq!(clean.len(), 12, "{clean}");
        for f in ["results/runs.jsonl", "paper/REPORT.md", "README.md"] {
            std::fs::write(root.join(f), "b\n").unwrap();
        }
        assert_eq!(git_commit_in(&root.join("results")), clean);
        std::fs::write(root.join("crates/a/src/lib.rs"), "b\n").unwrap();
        assert_eq!(git_commit_in(root), format!("{clean}-dirty"));
        commit_all(root);
        let next = git_commit_in(root);
        assert!(next != clean && !next.ends_with("-dirty"), "{next}");
        assert_eq!(git_commit_in(Path::new("/")), "unknown");
    }
}
