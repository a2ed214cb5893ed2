//! The YAML reader on any text: a value or an error with a position, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match mlz_model::yaml::parse(text) {
        Ok(node) => {
            let _ = node.to_json();
        }
        Err(e) => {
            assert!(e.span.line >= 1 && e.span.col >= 1, "{e:?}");
        }
    }
    let _ = mlz_model::yaml::parse_cfn(text);
});
