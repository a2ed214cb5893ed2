//! Benchmark: compile synthetic platforms of 100, 1,000 and 3,000 teams in memory.
//!
//!     cargo bench -p mlz --bench generate
//!
//! Prints the median and fastest of several runs per size, and the process's peak resident
//! memory (VmHWM) at the end. No assertions: numbers are read, and recorded in docs/PERFORMANCE.md.

use std::time::{Duration, Instant};

use mlz::{compile, Outcome};
use mlz_emit::Options;
use mlz_model::NoFiles;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    for teams in [100usize, 1_000, 3_000] {
        let text = mlz_model::synth::config(teams, 3);
        let mut times: Vec<Duration> = Vec::new();
        let mut files = 0;
        let mut bytes = 0;
        for _ in 0..7 {
            let t0 = Instant::now();
            let out = compile("synth.yaml", &text, &NoFiles, Options::default());
            times.push(t0.elapsed());
            match out {
                Outcome::Generated { output, .. } => {
                    files = output.files.len();
                    bytes = output.files.values().map(Vec::len).sum::<usize>();
                }
                Outcome::Invalid { report } | Outcome::Failed { report } => {
                    eprintln!("{report}");
                    std::process::exit(1);
                }
            }
        }
        times.sort();
        println!(
            "generate {teams:>5} teams x 3 stages: median {:>7.1} ms, fastest {:>7.1} ms ({files} files, {:.1} MB)",
            times[times.len() / 2].as_secs_f64() * 1e3,
            times[0].as_secs_f64() * 1e3,
            bytes as f64 / 1e6
        );
    }
    if let Some(kib) = peak_rss_kib() {
        println!("peak resident memory: {:.1} MB", kib as f64 / 1024.0);
    }
}
