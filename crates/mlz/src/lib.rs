//! The `mlz` command line: a thin shell over the model and emitter crates.
//!
//! Only this crate reads and writes the file system, prints and picks exit codes. The
//! compile step itself ([`compile`]) is pure, so the golden tests call it directly.

pub mod diff;
mod fsout;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use mlz_emit::{Format, Options, Output};
use mlz_model::diag::render_all;
use mlz_model::{FileSource, REFERENCE_CONFIG, REFERENCE_NAME};

/// Exit codes, documented in the README and in `mlz --help`.
pub mod exit {
    /// Success (warnings may have been printed).
    pub const OK: i32 = 0;
    /// The config has errors; nothing was written.
    pub const INVALID_CONFIG: i32 = 1;
    /// Bad command-line usage.
    pub const USAGE: i32 = 2;
    /// A file could not be read or written.
    pub const IO: i32 = 3;
    /// The config is valid but the output breaks a CloudFormation limit or check.
    pub const GENERATION_FAILED: i32 = 4;
    /// `generate --locked`: the lock file would change (or is missing); nothing was written.
    pub const LOCK_WOULD_CHANGE: i32 = 5;
}

const AFTER_HELP: &str = "Exit codes: 0 success, 1 invalid config, 2 bad usage, 3 file error, 4 generation failed (a CloudFormation limit or check), 5 the lock would change (generate --locked).";

#[derive(Parser, Debug)]
#[command(name = "mlz", version, about = "Compile one YAML description of a governed multi-account ML platform on AWS into CloudFormation.", after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate the config and write the templates, manifest.json and README.md to a folder.
    Generate {
        /// The platform config. Without it, the built-in reference platform is used.
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The output folder. It is replaced as a whole, and only when generation succeeds.
        #[arg(short, long, value_name = "DIR", default_value = "out")]
        out: PathBuf,
        /// Template format.
        #[arg(long, value_enum, default_value_t = FormatArg::Yaml)]
        format: FormatArg,
        /// Fail (exit 5, nothing written) if the lock file beside the config would change:
        /// what CI runs, so that no allocation moves unreviewed.
        #[arg(long)]
        locked: bool,
    },
    /// Check the config and report every problem, without writing anything.
    Validate {
        /// The platform config. Without it, the built-in reference platform is checked.
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// What deploying NEW over OLD would do: resources added, changed (and whether
    /// CloudFormation replaces them) and removed, dangerous and security changes first. Exit
    /// code 0 no change, 1 changes, 2 dangerous changes.
    Diff {
        /// The deployed (old) output folder; with -c, the folder to compare the config against.
        #[arg(value_name = "OLD")]
        old: Option<PathBuf>,
        /// The new output folder.
        #[arg(value_name = "NEW")]
        new: Option<PathBuf>,
        /// Compare what this config generates (with its lock) against --against.
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The output folder the config is compared against.
        #[arg(long, value_name = "DIR")]
        against: Option<PathBuf>,
        /// Report format.
        #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
        format: DiffFormat,
    },
    /// Print the JSON Schema of the config language (for editors and yaml-language-server).
    Schema,
    /// Write the reference platform as a commented platform.yaml to start from, with its schema.
    Init {
        /// Folder to write platform.yaml into.
        #[arg(value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// Overwrite an existing platform.yaml.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum DiffFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Yaml,
    Json,
}

/// Reads files a config refers to, relative to the config's folder.
pub struct DirFiles {
    pub base: PathBuf,
}

impl FileSource for DirFiles {
    fn read(&self, path: &str) -> Result<String, String> {
        let p = Path::new(path);
        if p.is_absolute()
            || p.components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(
                "policy files must be inside the config's folder (no absolute paths, no ..)".into(),
            );
        }
        let bytes = std::fs::read(self.base.join(p)).map_err(|e| e.to_string())?;
        mlz_model::decode(path, &bytes).map_err(|e| {
            let d = e.0;
            format!(
                "{}; {}",
                d.message,
                d.hint.as_deref().unwrap_or("save it as UTF-8")
            )
        })
    }
}

/// What compiling a config gave.
pub enum Outcome {
    /// The output folder's files, and the rendered warnings (maybe empty).
    Generated { output: Output, report: String },
    /// The config has errors: the rendered diagnostics.
    Invalid { report: String },
    /// Valid config, but the output failed a CloudFormation check.
    Failed { report: String },
}

/// Loads, validates and generates, all in memory. `file` is the name diagnostics show.
pub fn compile(file: &str, text: &str, files: &dyn FileSource, opts: Options) -> Outcome {
    compile_locked(file, text, files, None, opts)
}

/// [`compile`] with the lock file of earlier runs (its name and text).
pub fn compile_locked(
    file: &str,
    text: &str,
    files: &dyn FileSource,
    lock: Option<(&str, &str)>,
    opts: Options,
) -> Outcome {
    let loaded = mlz_model::load_locked(file, text, files, lock);
    let report = render_all(&loaded.diagnostics, &loaded.sources);
    let Some(platform) = loaded.platform else {
        return Outcome::Invalid { report };
    };
    match mlz_emit::generate(&platform, opts) {
        Ok(output) => Outcome::Generated { output, report },
        Err(errs) => {
            let mut r = report;
            for e in errs {
                r.push_str(&format!("error[generate]: {e}\n"));
            }
            Outcome::Failed { report: r }
        }
    }
}

/// Runs the CLI with these arguments and returns the exit code.
pub fn main_with_args<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    run(cli)
}

/// Reads the config named on the command line, or the built-in one.
/// The lock file of a config: `platform.yaml` → `platform.lock.json`, beside it.
pub fn lock_path(config: &Path) -> PathBuf {
    let stem = config
        .file_stem()
        .map_or_else(|| "platform".into(), |s| s.to_string_lossy().into_owned());
    config.with_file_name(format!("{stem}.lock.json"))
}

/// The lock beside `config`, if there is one: (its name, its text).
fn read_lock(config: Option<&Path>) -> Result<Option<(String, String)>, i32> {
    let Some(c) = config else { return Ok(None) };
    let path = lock_path(c);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some((
            path.display().to_string(),
            // Not UTF-8 is reported by the lock reader (it sees the replacement characters).
            String::from_utf8_lossy(&bytes).into_owned(),
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => {
            eprintln!("mlz: error: cannot read the lock {}: {e}", path.display());
            Err(exit::IO)
        }
    }
}

/// A config's text from its bytes, or the rendered error at the first byte that is not
/// UTF-8 (binary input, a Latin-1 or UTF-16 file).
pub fn config_text(file: &str, bytes: &[u8]) -> Result<String, String> {
    mlz_model::decode(file, bytes).map_err(|e| {
        let (d, lossy) = *e;
        let mut sources = mlz_model::Sources::default();
        sources.insert(file, &lossy);
        render_all(&[d], &sources)
    })
}

fn read_config(config: Option<&Path>) -> Result<(String, String, PathBuf), i32> {
    match config {
        None => {
            eprintln!("mlz: no config given (-c FILE): using the built-in reference platform");
            Ok((
                REFERENCE_NAME.to_owned(),
                REFERENCE_CONFIG.to_owned(),
                PathBuf::from("."),
            ))
        }
        Some(p) => match std::fs::read(p) {
            Ok(bytes) => {
                let name = p.display().to_string();
                let t = config_text(&name, &bytes).map_err(|report| {
                    eprint!("{report}");
                    exit::INVALID_CONFIG
                })?;
                let base = p
                    .parent()
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
                Ok((name, t, base))
            }
            Err(e) => {
                eprintln!("mlz: error: cannot read config {}: {e}", p.display());
                Err(exit::IO)
            }
        },
    }
}

/// A run's inputs: the config (its name, text and folder) and the lock beside it.
struct Inputs {
    name: String,
    text: String,
    base: PathBuf,
    lock: Option<(String, String)>,
}

impl Inputs {
    fn read(config: Option<&Path>) -> Result<Inputs, i32> {
        let (name, text, base) = read_config(config)?;
        let lock = read_lock(config)?;
        Ok(Inputs {
            name,
            text,
            base,
            lock,
        })
    }

    fn lock(&self) -> Option<(&str, &str)> {
        self.lock.as_ref().map(|(n, t)| (n.as_str(), t.as_str()))
    }

    fn compile(&self, opts: Options) -> Outcome {
        compile_locked(
            &self.name,
            &self.text,
            &DirFiles {
                base: self.base.clone(),
            },
            self.lock(),
            opts,
        )
    }
}

/// Reads an output folder's files (relative path → bytes).
fn read_folder(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> Result<(), String> {
        let entries =
            std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for e in entries {
            let e = e.map_err(|e| e.to_string())?;
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out)?;
            } else {
                let rel = p
                    .strip_prefix(root)
                    .map_err(|e| e.to_string())?
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.insert(
                    rel,
                    std::fs::read(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))?,
                );
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out)?;
    Ok(out)
}

fn run_diff(
    old: Option<PathBuf>,
    new: Option<PathBuf>,
    config: Option<PathBuf>,
    against: Option<PathBuf>,
    format: DiffFormat,
) -> i32 {
    let (old_files, new_files) = match (old, new, config, against) {
        (Some(o), Some(n), None, None) => match (read_folder(&o), read_folder(&n)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("mlz: error: {e}");
                return exit::IO;
            }
        },
        (None, None, Some(c), Some(dir)) => {
            let inputs = match Inputs::read(Some(&c)) {
                Ok(x) => x,
                Err(code) => return code,
            };
            let old = match read_folder(&dir) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("mlz: error: {e}");
                    return exit::IO;
                }
            };
            let format = if old
                .get("manifest.json")
                .is_some_and(|m| String::from_utf8_lossy(m).contains("\"format\": \"json\""))
            {
                Format::Json
            } else {
                Format::Yaml
            };
            match inputs.compile(Options { format }) {
                Outcome::Generated { output, report } => {
                    eprint!("{report}");
                    (old, output.files)
                }
                Outcome::Invalid { report } => {
                    eprint!("{report}");
                    return exit::INVALID_CONFIG;
                }
                Outcome::Failed { report } => {
                    eprint!("{report}");
                    return exit::GENERATION_FAILED;
                }
            }
        }
        _ => {
            eprintln!("mlz: error: give two output folders (mlz diff OLD NEW), or a config and a folder (mlz diff -c platform.yaml --against OUT)");
            return exit::USAGE;
        }
    };
    match diff::diff(&old_files, &new_files) {
        Ok(r) => {
            match format {
                DiffFormat::Json => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&r)
                            .expect("string-keyed JSON always serializes")
                    )
                }
                DiffFormat::Text => print!("{}", diff::render(&r)),
            }
            i32::try_from(r["exitCode"].as_i64().unwrap_or(1)).unwrap_or(1)
        }
        Err(e) => {
            eprintln!("mlz: error: {e}");
            exit::IO
        }
    }
}

pub fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Diff {
            old,
            new,
            config,
            against,
            format,
        } => run_diff(old, new, config, against, format),
        Command::Schema => {
            print!("{}", mlz_model::schema::SCHEMA_TEXT);
            exit::OK
        }
        Command::Init { dir, force } => {
            let target = dir.join("platform.yaml");
            if target.exists() && !force {
                eprintln!(
                    "mlz: error: {} already exists (use --force to overwrite it)",
                    target.display()
                );
                return exit::IO;
            }
            // The schema goes beside the config: its first lines point yaml-language-server at it.
            let schema = dir.join("platform.schema.json");
            let res = std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(&target, REFERENCE_CONFIG))
                .and_then(|()| std::fs::write(&schema, mlz_model::schema::SCHEMA_TEXT));
            match res {
                Ok(()) => {
                    eprintln!(
                        "mlz: wrote {} and {}: edit the config, then run: mlz generate -c {} -o out",
                        target.display(),
                        schema.display(),
                        target.display()
                    );
                    exit::OK
                }
                Err(e) => {
                    eprintln!("mlz: error: cannot write {}: {e}", target.display());
                    exit::IO
                }
            }
        }
        Command::Validate { config } => {
            let inputs = match Inputs::read(config.as_deref()) {
                Ok(x) => x,
                Err(code) => return code,
            };
            let name = &inputs.name;
            let loaded = mlz_model::load_locked(
                name,
                &inputs.text,
                &DirFiles {
                    base: inputs.base.clone(),
                },
                inputs.lock(),
            );
            eprint!("{}", render_all(&loaded.diagnostics, &loaded.sources));
            match loaded.platform {
                Some(p) => {
                    eprintln!(
                        "mlz: {name} is valid: {} OUs, {} accounts, {} teams, {} policies",
                        p.ous.len(),
                        p.accounts.len(),
                        p.teams.len(),
                        p.policies.len()
                    );
                    exit::OK
                }
                None => exit::INVALID_CONFIG,
            }
        }
        Command::Generate {
            config,
            out,
            format,
            locked,
        } => {
            let inputs = match Inputs::read(config.as_deref()) {
                Ok(x) => x,
                Err(code) => return code,
            };
            let lock = &inputs.lock;
            let format = match format {
                FormatArg::Yaml => Format::Yaml,
                FormatArg::Json => Format::Json,
            };
            match inputs.compile(Options { format }) {
                Outcome::Invalid { report } => {
                    eprint!("{report}");
                    eprintln!("mlz: nothing was written; {} is unchanged", out.display());
                    exit::INVALID_CONFIG
                }
                Outcome::Failed { report } => {
                    eprint!("{report}");
                    eprintln!("mlz: nothing was written; {} is unchanged", out.display());
                    exit::GENERATION_FAILED
                }
                Outcome::Generated { output, report } => {
                    eprint!("{report}");
                    let lock_file = config.as_deref().map(lock_path);
                    // Line endings do not count (a checkout may turn them into CRLF).
                    let lock_changes = lock
                        .as_ref()
                        .map(|(_, t)| t.replace("\r\n", "\n"))
                        .as_deref()
                        != Some(output.lock.as_str());
                    if let (true, true, Some(lf)) = (locked, lock_changes, &lock_file) {
                        eprintln!(
                            "mlz: error: {} {} (--locked): run mlz generate without --locked, review the lock's change and commit it",
                            lf.display(),
                            if lock.is_some() { "would change" } else { "does not exist" }
                        );
                        eprintln!("mlz: nothing was written; {} is unchanged", out.display());
                        return exit::LOCK_WOULD_CHANGE;
                    }
                    // What this run changes against the folder it replaces.
                    let before = out
                        .join("manifest.json")
                        .is_file()
                        .then(|| read_folder(&out).ok())
                        .flatten();
                    if let Err(e) = fsout::replace_dir(&out, &output.files) {
                        eprintln!("mlz: error: {e}");
                        return exit::IO;
                    }
                    if let Some(Ok(r)) = before.map(|b| diff::diff(&b, &output.files)) {
                        eprintln!(
                            "mlz: against the previous {}: {}",
                            out.display(),
                            diff::summary_line(&r)
                        );
                        for d in r["dangerous"].as_array().into_iter().flatten() {
                            eprintln!(
                                "mlz:   ! [{}] {}",
                                d["kind"].as_str().unwrap_or(""),
                                d["message"].as_str().unwrap_or("")
                            );
                        }
                    }
                    // The lock goes beside the config (the built-in reference has none).
                    if let (true, Some(lf)) = (lock_changes, &lock_file) {
                        if let Err(e) = fsout::write_file(lf, output.lock.as_bytes()) {
                            eprintln!("mlz: error: cannot write the lock {}: {e}", lf.display());
                            return exit::IO;
                        }
                        eprintln!(
                            "mlz: {} {}: commit it beside the config",
                            if lock.is_some() { "updated" } else { "wrote" },
                            lf.display()
                        );
                    }
                    for n in &output.notes {
                        eprintln!("mlz: note: {n}");
                    }
                    let vending = output
                        .files
                        .keys()
                        .filter(|k| k.starts_with("vending/"))
                        .count();
                    let mut docs = String::new();
                    if vending > 0 {
                        docs.push_str(&format!(", {vending} vending requests"));
                    }
                    if output.files.contains_key("network/address-plan.json") {
                        docs.push_str(", the address plan");
                    }
                    eprintln!(
                        "mlz: wrote {} templates{docs}, manifest.json and README.md to {}",
                        output.templates,
                        out.display()
                    );
                    exit::OK
                }
            }
        }
    }
}
