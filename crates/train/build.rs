//! lrdist-train's build script: the libtorch rpath every libtorch crate embeds
//! (`build/rpath.rs`), and the commit the crate is built from, stamped in as
//! `LRDIST_BUILD_COMMIT` for run records (`record::git_commit`).

use std::path::Path;

#[path = "../../build/git_commit.rs"]
mod git_commit;
#[path = "../../build/rpath.rs"]
mod rpath;

fn main() {
    rpath::main();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Re-run when the code changes (dirty or not) and when HEAD moves (a commit, a checkout).
    for path in git_commit::CODE {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    if let Some(git_dir) = git_commit::git(&root, &["rev-parse", "--absolute-git-dir"]) {
        for file in ["HEAD", "logs/HEAD"] {
            let path = Path::new(&git_dir).join(file);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    println!(
        "cargo:rustc-env=LRDIST_BUILD_COMMIT={}",
        git_commit::git_commit_in(&root)
    );
}
