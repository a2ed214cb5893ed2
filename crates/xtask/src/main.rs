//! Project chores, run as `cargo xtask <task>`.
//!
//! - `cargo xtask synth --teams N [--stages S] [-o FILE]`: a valid platform config with N
//!   teams of S stages (default 3), for benchmarks and scale tests. Prints to stdout
//!   unless `-o` is given.

use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: cargo xtask synth --teams N [--stages S] [-o FILE]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        return usage();
    };
    if task != "synth" {
        return usage();
    }
    let (mut teams, mut stages, mut out) = (None, 3usize, None);
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        let v = it.next();
        match (a.as_str(), v) {
            ("--teams", Some(v)) => teams = v.parse::<usize>().ok(),
            ("--stages", Some(v)) => match v.parse() {
                Ok(s) => stages = s,
                Err(_) => return usage(),
            },
            ("-o" | "--out", Some(v)) => out = Some(v.clone()),
            _ => return usage(),
        }
    }
    let Some(teams) = teams else { return usage() };
    let text = mlz_model::synth::config(teams, stages);
    match out {
        None => print!("{text}"),
        Some(path) => {
            if let Err(e) = std::fs::write(&path, text) {
                eprintln!("xtask: cannot write {path}: {e}");
                return ExitCode::from(3);
            }
        }
    }
    ExitCode::SUCCESS
}
