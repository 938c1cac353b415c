//! Combining the authors' four logs reproduces their combined distribution (docs/METHOD.md
//! "Combination") within 1 % per group.
//!
//! Reads the logs from `$LRDIST_AUTHORS_LOGS`, else `<workspace>/../shared/reference/authors-logs`.

use std::path::PathBuf;

use lrdist_search::combine_inputs;

/// The authors' combined vector, groups 0..9 (docs/METHOD.md "Combination").
const AUTHORS_VECTOR: [f64; 10] = [
    3.295e-6, 4.363e-6, 9.215e-7, 1.923e-6, 2.849e-6, 2.143e-6, 3.267e-6, 3.699e-6, 3.186e-6,
    1.119e-5,
];

fn logs_dir() -> PathBuf {
    let dir = std::env::var("LRDIST_AUTHORS_LOGS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/reference/authors-logs"
            ))
        });
    assert!(
        dir.join("sst2mrpc.log_file.csv").exists(),
        "authors' logs not found in {}: set LRDIST_AUTHORS_LOGS to the folder holding <run>.log_file.csv",
        dir.display()
    );
    dir
}

#[test]
fn authors_vector_is_reproduced() {
    let dir = logs_dir();
    let inputs: Vec<String> = ["sst2mrpc", "mrpcsst2", "qqpmrpc", "mrpcqqp"]
        .iter()
        .map(|run| {
            dir.join(format!("{run}.log_file.csv"))
                .display()
                .to_string()
        })
        .collect();
    let combined = combine_inputs(&inputs).unwrap();
    assert_eq!(combined.per_input.len(), 4);
    let mut worst: f64 = 0.0;
    for (g, (got, want)) in combined.rates.iter().zip(AUTHORS_VECTOR).enumerate() {
        let rel = (got / want - 1.0).abs();
        eprintln!(
            "group {g}: {got:.4e} vs {want:.4e} ({:+.3} %)",
            100.0 * (got / want - 1.0)
        );
        assert!(rel < 0.01, "group {g}: {got:e} vs the authors' {want:e}");
        worst = worst.max(rel);
    }
    eprintln!("largest deviation {:.3} %", 100.0 * worst);
    let json = serde_json::to_string(&combined).unwrap();
    assert!(json.contains("\"rates\""));
}
