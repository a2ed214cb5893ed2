//! Benchmark: `mlz diff` of two 1,000-team outputs, in memory: one team added (the everyday
//! case: only the templates that hold it are parsed), and every template different (the worst
//! case: a format switch, so every file is parsed on both sides).
//!
//!     cargo bench -p mlz --bench diff
//!
//! Prints the median and fastest of several runs per case and the peak resident memory. No
//! assertions: numbers are read, and recorded in docs/PERFORMANCE.md.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mlz::{compile, Outcome};
use mlz_cfn::Format;
use mlz_emit::Options;
use mlz_model::NoFiles;

fn files(text: &str, format: Format) -> BTreeMap<String, Vec<u8>> {
    match compile("synth.yaml", text, &NoFiles, Options { format }) {
        Outcome::Generated { output, .. } => output.files,
        _ => std::process::exit(1),
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn time(name: &str, a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) {
    let mut runs: Vec<Duration> = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let r = mlz::diff::diff(a, b).expect("diff");
        runs.push(t.elapsed());
        std::hint::black_box(r);
    }
    runs.sort();
    println!(
        "{name}: median {:.3} s, fastest {:.3} s",
        runs[runs.len() / 2].as_secs_f64(),
        runs[0].as_secs_f64()
    );
}

fn main() {
    let base = mlz_model::synth::config(1_000, 3);
    let i = base
        .find("  - { name: team-00500")
        .expect("synthetic teams");
    let more = format!("{}  - {{ name: team-new-one }}\n{}", &base[..i], &base[i..]);
    let a = files(&base, Format::Yaml);
    let b = files(&more, Format::Yaml);
    time("1,000 teams, one team added", &a, &b);
    let c = files(&more, Format::Json);
    time("1,000 teams, every template different", &b, &c);
    println!(
        "peak RSS {:?} KiB (the three outputs held in memory too)",
        peak_rss_kib()
    );
}
