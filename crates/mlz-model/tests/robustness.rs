//! Never a panic: mangled configs must give diagnostics, whatever the damage.

use mlz_model::{load, NoFiles, REFERENCE_CONFIG};

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SNIPPETS: &[&str] = &[
    ":",
    "- ",
    "\n",
    "  ",
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "*a",
    "!Ref ",
    "\"",
    "'",
    "#",
    "~",
    "null",
    "0",
    "-1",
    "012345678901",
    "\t",
    "parent: Workloads",
    "ou: Nowhere",
    "{{team}",
    "{{x}}",
    "é",
    "\u{0}",
    "---\n",
];

#[test]
fn mutated_configs_never_panic_and_errors_always_have_positions() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let base: Vec<char> = REFERENCE_CONFIG.chars().collect();
    for round in 0..1500 {
        let mut text = base.clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(text.len() + 1);
            match rng.below(3) {
                0 => {
                    let end = (at + rng.below(40)).min(text.len());
                    text.drain(at..end);
                }
                1 => {
                    let s = SNIPPETS[rng.below(SNIPPETS.len())];
                    for (k, c) in s.chars().enumerate() {
                        text.insert(at + k, c);
                    }
                }
                _ => text.truncate(at),
            }
        }
        let text: String = text.into_iter().collect();
        let loaded = load("platform.yaml", &text, &NoFiles);
        let rendered = mlz_model::diag::render_all(&loaded.diagnostics, &loaded.sources);
        if loaded.platform.is_none() {
            assert!(
                loaded.diagnostics.iter().any(|d| d.is_error()),
                "round {round}: no platform and no error"
            );
        }
        for d in &loaded.diagnostics {
            assert!(
                d.span.is_some(),
                "round {round}: diagnostic without a position: {rendered}"
            );
        }
    }
}

#[test]
fn hostile_inputs_are_refused_cleanly() {
    for text in [
        "",
        "\u{feff}",
        "[]",
        "42",
        "a: *missing\n",
        "x: &a [*a]\n",
        "? [a, b]\n: c\n",
        "{\"version\": 1}",
        &"[".repeat(10_000),
    ] {
        let loaded = load("platform.yaml", text, &NoFiles);
        assert!(loaded.platform.is_none(), "{text:?} must not load");
        assert!(!loaded.diagnostics.is_empty());
    }
}

/// The same at the byte level, from every golden case's config: bytes that are not UTF-8,
/// NULs, long runs. Decoding gives text or one `not-utf8` error at a position; the report is
/// bounded by the number of diagnostics, whatever the input echoes.
#[test]
fn mutated_bytes_of_every_fixture_never_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let mut bases: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("platform.yaml")).ok())
        .collect();
    bases.sort();
    assert!(bases.len() > 20);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for round in 0..600 {
        let mut bytes = bases[round % bases.len()].clone();
        for _ in 0..=rng.below(6) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(4) {
                0 => {
                    let end = (at + rng.below(64)).min(bytes.len());
                    bytes.drain(at..end);
                }
                1 => {
                    let b = (rng.next() & 0xff) as u8;
                    bytes.insert(at, b);
                }
                2 => {
                    let s = SNIPPETS[rng.below(SNIPPETS.len())].as_bytes();
                    bytes.splice(at..at, s.iter().copied());
                }
                _ => {
                    let run = vec![b'x'; rng.below(5_000)];
                    bytes.splice(at..at, run);
                }
            }
        }
        let text = match mlz_model::decode("platform.yaml", &bytes) {
            Ok(t) => t,
            Err(e) => {
                assert_eq!(e.0.code, "not-utf8", "round {round}");
                assert!(e.0.span.is_some(), "round {round}");
                continue;
            }
        };
        let loaded = load("platform.yaml", &text, &NoFiles);
        if loaded.platform.is_none() {
            assert!(
                loaded.diagnostics.iter().any(|d| d.is_error()),
                "round {round}: no platform and no error"
            );
        }
        let report = mlz_model::diag::render_all(&loaded.diagnostics, &loaded.sources);
        assert!(
            report.len() <= 100 + 8_000 * loaded.diagnostics.len(),
            "round {round}: a report of {} bytes for {} diagnostics",
            report.len(),
            loaded.diagnostics.len()
        );
    }
}
