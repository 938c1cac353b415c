mod common;

use std::fs;

use common::*;
use lrdist_analysis::{figure_names, is_missing_input, write_all_figures, write_figure, Inputs};

#[test]
fn every_figure_renders_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = full_fixture(dir.path());
    let out = dir.path().join("figures");
    for name in figure_names() {
        let written = write_figure(name, &inputs, &out).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(written.len(), 2, "{name}: {written:?}");
        for path in written {
            let bytes = fs::read(&path).unwrap();
            match path.extension().and_then(|e| e.to_str()) {
                Some("png") => {
                    assert!(bytes.starts_with(b"\x89PNG"), "{path:?} is not a PNG");
                    assert!(bytes.len() > 5_000, "{path:?} is almost empty");
                }
                Some("svg") => {
                    let text = String::from_utf8(bytes).unwrap();
                    assert!(text.contains("<svg") && text.contains("<text"), "{path:?}");
                    assert!(
                        text.matches("<circle").count()
                            + text.matches("<polyline").count()
                            + text.matches("<rect").count()
                            > 3,
                        "{path:?} draws nothing"
                    );
                }
                other => panic!("unexpected file {path:?} ({other:?})"),
            }
        }
    }
    assert!(out.join("embedding_shift_sst2.png").is_file());
}

#[test]
fn figures_without_inputs_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = Inputs {
        results: dir.path().join("results"),
        authors_logs: None,
    };
    let out = dir.path().join("figures");
    for name in figure_names() {
        let err = write_figure(name, &inputs, &out).unwrap_err();
        assert!(is_missing_input(&err), "{name}: {err:#}");
    }
    assert!(write_all_figures(&inputs, &out).unwrap().is_empty());
    assert!(
        fs::read_dir(&out).map_or(true, |mut d| d.next().is_none()),
        "nothing is drawn"
    );
}

#[test]
fn authors_figure_draws_without_our_studies() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("authors-logs");
    write_authors_log(&logs);
    let inputs = Inputs {
        results: dir.path().join("results"),
        authors_logs: Some(logs),
    };
    let written = write_figure("authors", &inputs, &dir.path().join("figures")).unwrap();
    assert_eq!(written.len(), 2);
}
