//! The config front end on any bytes: decoding, YAML, the schema, resolution and the rendered
//! report. Every input gives a platform or diagnostics, never a panic; an input that is not
//! valid has at least one error, and every diagnostic of the config file has a position.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlz_model::{diag::render_all, NoFiles};

fuzz_target!(|bytes: &[u8]| {
    let text = match mlz_model::decode("platform.yaml", bytes) {
        Ok(t) => t,
        Err(e) => {
            assert_eq!(e.0.code, "not-utf8");
            return;
        }
    };
    let loaded = mlz_model::load("platform.yaml", &text, &NoFiles);
    if loaded.platform.is_none() {
        assert!(loaded.diagnostics.iter().any(|d| d.is_error()));
    }
    for d in &loaded.diagnostics {
        if d.file == "platform.yaml" {
            assert!(d.span.is_some(), "{d:?}");
        }
    }
    let report = render_all(&loaded.diagnostics, &loaded.sources);
    // Long values are shortened: a diagnostic never echoes the input whole.
    assert!(report.len() <= 100 + 8_000 * loaded.diagnostics.len());
});
