//! Benchmark: compile synthetic platforms of 100, 1,000 and 3,000 teams in memory.
//!
//!     cargo bench -p mlz --bench generate
//!
//! Prints the median and fastest of several runs per size, and the process's peak resident
//! memory (VmHWM) at the end. No assertions: numbers are read, and recorded in docs/PERFORMANCE.md.

use std::time::{Duration, Instant};

/// The allocator the binary uses (src/main.rs), so that the figures are the CLI's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use mlz::{compile, Outcome};
use mlz_emit::Options;
use mlz_model::NoFiles;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    if std::env::var_os("MLZ_BENCH_PHASES").is_some() {
        let text = mlz_model::synth::config(1_000, 3);
        let r0 = rss_kib();
        let node = mlz_model::yaml::parse(&text).expect("yaml");
        let ra = rss_kib();
        let doc = node.to_json();
        let rb = rss_kib();
        let diags = mlz_model::schema::validate("x", &node, &doc);
        let rc = rss_kib();
        println!(
            "rss KiB: yaml tree +{}, json +{}, schema +{} ({} diags)",
            ra - r0,
            rb - ra,
            rc - rb,
            diags.len()
        );
        let r0 = rss_kib();
        let loaded = mlz_model::load("synth.yaml", &text, &NoFiles);
        let r1 = rss_kib();
        let Some(platform) = loaded.platform else {
            std::process::exit(1)
        };
        drop(loaded.sources);
        let emitted = mlz_emit::emit(&platform, Options::default()).unwrap_or_default();
        let r2 = rss_kib();
        let out = mlz_emit::generate(&platform, Options::default());
        let r3 = rss_kib();
        println!(
            "rss KiB: start {r0}, after load {r1}, after emit {r2}, after generate {r3}, peak {:?}",
            peak_rss_kib()
        );
        drop((emitted, out));
        return;
    }
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
    // Where the time goes, for the 1,000-team case.
    let text = mlz_model::synth::config(1_000, 3);
    let t0 = Instant::now();
    let loaded = mlz_model::load("synth.yaml", &text, &NoFiles);
    let t1 = Instant::now();
    let Some(platform) = loaded.platform else {
        std::process::exit(1)
    };
    let emitted = mlz_emit::emit(&platform, Options::default()).unwrap_or_default();
    let t2 = Instant::now();
    let stacks = emitted.stacks.len();
    let rendered: usize = emitted
        .stacks
        .iter()
        .filter_map(|s| mlz_cfn::render(&s.template, mlz_cfn::Format::Yaml).ok())
        .map(|r| r.text.len())
        .sum();
    let t3 = Instant::now();
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
    println!(
        "phases at 1000 teams: load+validate {:.1} ms, emit {:.1} ms ({stacks} stacks), render {:.1} ms ({:.1} MB)",
        ms(t0, t1),
        ms(t1, t2),
        ms(t2, t3),
        rendered as f64 / 1e6
    );
    if let Some(kib) = peak_rss_kib() {
        println!("peak resident memory: {:.1} MB", kib as f64 / 1024.0);
    }
}
