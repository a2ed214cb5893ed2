//! Hygiene checks that keep the architecture's invariants (docs/ARCHITECTURE.md) true.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn sources(krate: &str) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(&root().join("crates").join(krate).join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).expect("read source");
            (p, text)
        })
        .collect()
}

/// The text before the first `#[cfg(test)]`: the code that ships.
fn shipped(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or(text)
}

#[test]
fn every_module_says_what_it_owns() {
    for krate in ["mlz-cfn", "mlz-model", "mlz-emit", "mlz", "xtask"] {
        for (p, text) in sources(krate) {
            assert!(
                text.starts_with("//!"),
                "{} must start with a //! line saying what it owns",
                p.display()
            );
        }
    }
}

#[test]
fn only_the_cli_does_io_prints_or_exits() {
    let forbidden = [
        "std::fs",
        "fs::",
        "println!",
        "eprintln!",
        "print!(",
        "eprint!(",
        "std::process",
        "std::env::var",
    ];
    for krate in ["mlz-cfn", "mlz-model", "mlz-emit"] {
        for (p, text) in sources(krate) {
            for f in forbidden {
                assert!(
                    !shipped(&text).contains(f),
                    "{} uses {f}: only the mlz crate does I/O",
                    p.display()
                );
            }
        }
    }
}

#[test]
fn the_cloudformation_crate_knows_nothing_of_organisations() {
    let toml = fs::read_to_string(root().join("crates/mlz-cfn/Cargo.toml")).expect("Cargo.toml");
    assert!(
        !toml.contains("mlz-model") && !toml.contains("mlz-emit"),
        "mlz-cfn must not depend on the model or emitters"
    );
    for (p, text) in sources("mlz-cfn") {
        for line in shipped(&text)
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
        {
            assert!(
                !line.contains("Organizations") && !line.contains("Platform"),
                "{} mentions the platform: {line}",
                p.display()
            );
            // Resource type names (`AWS::Service::Type`) belong to the emitters; pseudo
            // parameters (`AWS::Region`) are CloudFormation's own.
            let names_a_type = line
                .split("\"AWS::")
                .skip(1)
                .any(|rest| rest.split('"').next().is_some_and(|n| n.contains("::")));
            assert!(
                !names_a_type,
                "{} names a resource type: {line}",
                p.display()
            );
        }
    }
}

#[test]
fn resource_types_are_named_in_one_place() {
    for (p, text) in sources("mlz-emit") {
        if p.ends_with("types.rs") {
            continue;
        }
        for line in shipped(&text).lines() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            assert!(
                !line.contains("\"AWS::"),
                "{}: resource type string outside types.rs: {line}",
                p.display()
            );
        }
    }
}

/// The emitter modules (an area's, from `mlz_emit::AREAS`, and the artifacts bucket, which
/// is no area: it takes what every stack uploads), and the output folders (first path
/// segment) each may name.
fn emitters() -> Vec<(&'static str, &'static [&'static str])> {
    let mut out: Vec<_> = mlz_emit::AREAS
        .iter()
        .map(|a| (a.name, a.folders))
        .collect();
    out.push(("artifacts", &["artifacts"]));
    out
}

/// The module an emitter source file belongs to: `network` for `network.rs` and for
/// `network/ipam.rs`.
fn emitter_module(p: &Path) -> Option<String> {
    let rel = p.strip_prefix(root().join("crates/mlz-emit/src")).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_owned())
}

/// Each emitter module's source (its files joined), by module name.
fn emitter_sources() -> Vec<(String, String)> {
    let modules = emitters();
    let mut out: Vec<(String, String)> = Vec::new();
    for (p, text) in sources("mlz-emit") {
        let Some(m) = emitter_module(&p) else {
            continue;
        };
        if !modules.iter().any(|(n, _)| *n == m) {
            continue;
        }
        match out.iter_mut().find(|(n, _)| *n == m) {
            Some((_, all)) => all.push_str(shipped(&text)),
            None => out.push((m, shipped(&text).to_owned())),
        }
    }
    out
}

#[test]
fn emitters_do_not_import_each_other() {
    let emitters = emitters();
    let sources = emitter_sources();
    assert_eq!(
        sources.len(),
        emitters.len(),
        "an area in mlz_emit::AREAS has no module crates/mlz-emit/src/<name>.rs or <name>/"
    );
    for (module, text) in &sources {
        for (other, _) in &emitters {
            if other == module {
                continue;
            }
            assert!(
                !text.contains(&format!("crate::{other}")),
                "{module} uses crate::{other}: emitters speak through the plan (crate::plan) and common.rs"
            );
        }
    }
}

/// The names line up across the stages: each area has its resolver, its emitter (checked
/// above), its tests and its doc, named alike, and owns the config sections it reads.
#[test]
fn every_area_has_its_resolver_tests_and_doc() {
    let root = root();
    for a in mlz_emit::AREAS {
        for path in [
            format!("crates/mlz-model/src/resolve/{}.rs", a.name),
            format!("crates/mlz/tests/{}.rs", a.name),
            format!("docs/{}.md", a.name.replace('_', "-")),
        ] {
            assert!(
                root.join(&path).is_file(),
                "area {}: {path} is missing (docs/ARCHITECTURE.md, \"Adding a platform area\")",
                a.name
            );
        }
    }
    let schema: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(root.join("crates/mlz-model/schema/platform.schema.json"))
            .expect("schema"),
    )
    .expect("schema is JSON");
    let keys: Vec<&str> = schema["properties"]
        .as_object()
        .expect("schema properties")
        .keys()
        .map(String::as_str)
        .collect();
    for k in &keys {
        let owners: Vec<&str> = mlz_emit::AREAS
            .iter()
            .filter(|a| a.sections.contains(k))
            .map(|a| a.name)
            .collect();
        assert_eq!(owners.len(), 1, "config section {k} is owned by {owners:?}: exactly one area in mlz_emit::AREAS must list it");
    }
    for a in mlz_emit::AREAS {
        for s in a.sections {
            assert!(
                keys.contains(s),
                "area {} lists section {s}, which the schema has not",
                a.name
            );
        }
    }
    // Every output folder of the plan is one emitter's (an emitter may also write document
    // folders, such as vending/, that hold no stacks).
    let emitters = emitters();
    let folders: Vec<&str> = mlz_emit::plan::Area::ALL
        .iter()
        .map(|a| a.folder())
        .collect();
    for f in &folders {
        let owners: Vec<&str> = emitters
            .iter()
            .filter(|(_, fs)| fs.contains(f))
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(owners.len(), 1, "output folder {f}/ (plan::Area) is written by {owners:?}: list it in exactly one area's folders");
    }
    // Every resolver module is an area's, or the resolver's own (templates, stack sets).
    for (p, _) in sources("mlz-model") {
        let Ok(rel) = p.strip_prefix(root.join("crates/mlz-model/src/resolve")) else {
            continue;
        };
        let name = rel.to_str().unwrap_or_default().trim_end_matches(".rs");
        assert!(
            mlz_emit::AREAS.iter().any(|a| a.name == name)
                || ["templates", "stack_sets"].contains(&name),
            "resolve/{name}.rs is no area's: name it after one in mlz_emit::AREAS"
        );
    }
}

#[test]
fn no_emitter_builds_another_areas_export_path_or_role_name() {
    // Export names are made from typed keys in plan/exports.rs only.
    for (p, text) in sources("mlz-emit") {
        let in_exports = p.ends_with("plan/exports.rs");
        for line in shipped(&text).lines() {
            if line.trim_start().starts_with("//") || in_exports {
                continue;
            }
            assert!(
                !line.contains("ImportValue(Box::new") && !line.contains("export: Some("),
                "{}: an import or export made outside plan/exports.rs: {line}",
                p.display()
            );
        }
    }
    // Output paths: an emitter names only its own folders; stack names come from StackId.
    let emitters = emitters();
    let all: Vec<&str> = emitters
        .iter()
        .flat_map(|(_, f)| f.iter().copied())
        .collect();
    for (file, text) in emitter_sources() {
        let own = emitters
            .iter()
            .find(|(f, _)| *f == file)
            .map(|(_, o)| *o)
            .unwrap_or_default();
        for folder in all.iter().filter(|f| !own.contains(f)) {
            assert!(
                !text.contains(&format!("\"{folder}/")),
                "{file} names another area's folder {folder}/: take the StackId from the plan"
            );
        }
    }
    // Checked per file: a Name tag in one file and a prefix in another is no stack name.
    for (p, text) in sources("mlz-emit") {
        let Some(m) = emitter_module(&p) else {
            continue;
        };
        if !emitters.iter().any(|(n, _)| *n == m) {
            continue;
        }
        let text = shipped(&text);
        assert!(
            !text.contains("stack_prefix, ") || !text.contains("\"{}-{}\""),
            "{} formats a stack name: use StackId::stack_name",
            p.display()
        );
    }
    // Role names belong to the module that creates the role, or to the plan (deployers).
    // Owners are paths under crates/mlz-emit/src, so a module moved into a folder keeps its
    // entry honest (a bare "mod.rs" would let any folder module name the role).
    let roles: &[(&str, &[&str])] = &[
        (
            "AWSControlTowerBlueprintAccess",
            &["control_tower/mod.rs", "plan/rules.rs"],
        ),
        ("mlz-cloud-admin", &["common.rs"]),
        (
            "AWSControlTowerExecution",
            &["plan/mod.rs", "plan/rules.rs", "plan/scp.rs"],
        ),
        ("OrganizationAccountAccessRole", &["plan/mod.rs"]),
        (
            "stacksets-exec-",
            &["plan/mod.rs", "plan/rules.rs", "plan/scp.rs"],
        ),
    ];
    let src = root().join("crates/mlz-emit/src");
    for (p, text) in sources("mlz-emit") {
        let name = p
            .strip_prefix(&src)
            .ok()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .replace('\\', "/");
        let code: String = shipped(&text)
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for (role, owners) in roles {
            assert!(
                owners.contains(&name.as_str()) || !code.contains(&format!("\"{role}")),
                "{} names role {role}, which another module owns",
                p.display()
            );
        }
    }
}

#[test]
fn every_rule_is_needed_somewhere() {
    // A rule nobody cites is a precondition nobody enforces.
    let rules =
        fs::read_to_string(root().join("crates/mlz-emit/src/plan/rules.rs")).expect("rules");
    let code: String = sources("mlz-emit")
        .into_iter()
        .filter(|(p, _)| !p.ends_with("plan/rules.rs"))
        .map(|(_, t)| t)
        .collect();
    for line in rules.lines() {
        let Some(rest) = line.strip_prefix("pub const ") else {
            continue;
        };
        let name = rest.split(':').next().unwrap_or_default();
        assert!(
            code.contains(&format!("rules::{name}")),
            "rule {name} is defined but no emitter or check uses it"
        );
    }
}

/// The project's documents: README, docs/ (with the ADRs) and the READMEs beside the sources.
fn documents() -> Vec<(PathBuf, String)> {
    let mut paths = vec![
        root().join("README.md"),
        root().join("blueprints/README.md"),
    ];
    for dir in ["docs", "docs/adr"] {
        let mut more: Vec<PathBuf> = fs::read_dir(root().join(dir))
            .expect("docs")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect();
        more.sort();
        paths.extend(more);
    }
    paths
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).expect("read doc");
            (p, text)
        })
        .collect()
}

/// GitHub's anchor for a heading: lower case, spaces to hyphens, punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

/// `[text](target)` links in a markdown text.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        if let Some(end) = after.find(')') {
            out.push(after[..end].to_owned());
        }
        rest = after;
    }
    out
}

#[test]
fn every_relative_link_in_the_docs_exists() {
    let mut broken = Vec::new();
    for (doc, text) in documents() {
        let dir = doc.parent().expect("doc folder");
        for target in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") || target.contains(' ') {
                continue;
            }
            let (file, frag) = target.split_once('#').unwrap_or((&target, ""));
            let path = if file.is_empty() {
                doc.clone()
            } else {
                dir.join(file)
            };
            let name = doc
                .strip_prefix(root())
                .unwrap_or(&doc)
                .display()
                .to_string();
            if !path.exists() {
                broken.push(format!("{name}: {target}: no such file"));
            } else if !frag.is_empty() && path.extension().is_some_and(|x| x == "md") {
                let t = fs::read_to_string(&path).expect("read linked doc");
                if !anchors(&t).iter().any(|a| a == frag) {
                    broken.push(format!("{name}: {target}: no such heading"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// Whether `text` defines a function called `name`.
fn defines_fn(text: &str, name: &str) -> bool {
    text.match_indices(&format!("fn {name}"))
        .any(|(i, m)| !text[i + m.len()..].starts_with(|c: char| c == '_' || c.is_alphanumeric()))
}

#[test]
fn every_test_and_function_the_docs_name_exists() {
    // A guard cited as `module::name` is the test that fails if the rule is broken: a cited
    // test that was renamed or moved guards nothing. `module` is a test file of crates/mlz, a
    // source module (`module.rs` or `module/mod.rs`) or a crate (`mlz_model`).
    let mut files: Vec<PathBuf> = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    let texts: Vec<(PathBuf, String)> = files
        .into_iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "target"))
        .map(|p| {
            let t = fs::read_to_string(&p).expect("read source");
            (p, t)
        })
        .collect();
    let tests_dir = root().join("crates/mlz/tests");
    let mut missing = Vec::new();
    let mut cited = 0;
    for (doc, text) in documents() {
        let pieces = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("```"))
            .flat_map(|l| l.split('`').skip(1).step_by(2));
        for piece in pieces {
            let Some((module, name)) = piece.split_once("::") else {
                continue;
            };
            let ident = |s: &str| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c == '_' || c.is_ascii_lowercase() || c.is_ascii_digit())
            };
            if !ident(module) || !ident(name) {
                continue;
            }
            cited += 1;
            let krate = root().join("crates").join(module.replace('_', "-"));
            let found = texts.iter().any(|(p, t)| {
                let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
                let parent = p
                    .parent()
                    .and_then(|d| d.file_name())
                    .and_then(|s| s.to_str())
                    .unwrap_or_default();
                let here = if p.starts_with(&tests_dir) {
                    p.parent() == Some(tests_dir.as_path()) && stem == module
                } else {
                    stem == module || (stem == "mod" && parent == module) || p.starts_with(&krate)
                };
                here && defines_fn(t, name)
            });
            if !found {
                let d = doc
                    .strip_prefix(root())
                    .unwrap_or(&doc)
                    .display()
                    .to_string();
                missing.push(format!("{d}: `{module}::{name}`"));
            }
        }
    }
    assert!(
        cited > 50,
        "only {cited} citations found: is the scan broken?"
    );
    assert!(
        missing.is_empty(),
        "the docs name functions that do not exist (moved or renamed?):\n{}",
        missing.join("\n")
    );
}

/// Every file of every golden output, by its path in the output folder.
fn output_paths() -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(dir).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.display().to_string().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    for case in fs::read_dir(root().join("fixtures"))
        .expect("fixtures")
        .flatten()
    {
        let expected = case.path().join("expected");
        if expected.is_dir() {
            walk(&expected, &expected, &mut out);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A path as the docs write it (`network/attachments-<region>[-teams-NN]`,
/// `budgets/teams-NN`, `pipeline/…`) as globs: placeholders match anything, an optional part
/// gives a pattern with and one without it.
fn path_globs(written: &str) -> Vec<String> {
    let mut variants = vec![written.to_owned()];
    while let Some(v) = variants.iter().position(|v| v.contains('[')) {
        let v = variants.remove(v);
        let (head, tail) = v.split_once('[').expect("[");
        let (inner, rest) = tail.split_once(']').unwrap_or((tail, ""));
        variants.push(format!("{head}{inner}{rest}"));
        variants.push(format!("{head}{rest}"));
    }
    variants
        .into_iter()
        .map(|v| {
            let mut g = String::new();
            let mut in_angle = false;
            for part in v.split_inclusive(['-', '/', '.']) {
                let (word, sep) = part
                    .strip_suffix(['-', '/', '.'])
                    .map_or((part, ""), |w| (w, &part[w.len()..]));
                let placeholder = !word.is_empty() && word.chars().all(|c| c == 'N');
                if placeholder {
                    g.push('*');
                    g.push_str(sep);
                    continue;
                }
                for c in part.chars() {
                    match c {
                        '<' => in_angle = true,
                        '>' => {
                            in_angle = false;
                            g.push('*');
                        }
                        _ if in_angle => {}
                        '…' => g.push('*'),
                        c => g.push(c),
                    }
                }
            }
            if g.ends_with('/') {
                g.push('*');
            }
            g
        })
        .collect()
}

#[test]
fn every_output_path_the_docs_name_exists() {
    const AREAS: &[&str] = &[
        "organizations/",
        "control-tower/",
        "identity-center/",
        "service-catalog/",
        "unified-studio/",
        "network/",
        "security/",
        "budgets/",
        "pipeline/",
        "cfct/",
        "vending/",
        "config/",
        "artifacts/",
        "blueprints/",
    ];
    let outputs = output_paths();
    assert!(outputs.len() > 100, "{} output paths", outputs.len());
    let mut missing = Vec::new();
    for (doc, text) in documents() {
        let name = doc
            .strip_prefix(root())
            .unwrap_or(&doc)
            .display()
            .to_string();
        for written in text.split('`').skip(1).step_by(2) {
            if !AREAS.iter().any(|a| written.starts_with(a)) || written.contains(' ') {
                continue;
            }
            let found = path_globs(written).iter().any(|g| {
                outputs.iter().any(|o| {
                    mlz_model::aws::glob(g, o)
                        || mlz_model::aws::glob(&format!("{g}.*"), o)
                        || mlz_model::aws::glob(&format!("{g}/*"), o)
                })
            }) || root().join(written).exists();
            if !found {
                missing.push(format!("{name}: `{written}`"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "output paths the docs name but no golden output has:\n{}",
        missing.join("\n")
    );
}

/// The string literal at the start of `text` (after whitespace), if there is one.
fn literal_at(text: &str) -> Option<&str> {
    let t = text.trim_start();
    let rest = t.strip_prefix('"')?;
    rest.find('"').map(|end| &rest[..end])
}

/// The diagnostic codes the model's code can report: the first argument of `at(`,
/// `Diagnostic::error(` and `unknown(`, the code argument of `declare_once(` and the
/// `*_code:` fields of the template kinds.
fn codes_in_source() -> std::collections::BTreeSet<String> {
    let mut codes = std::collections::BTreeSet::new();
    for (_, text) in sources("mlz-model") {
        let text = shipped(&text);
        for needle in [".at(", "Diagnostic::error(", ".unknown(", "_code: "] {
            for (i, _) in text.match_indices(needle) {
                if let Some(code) = literal_at(&text[i + needle.len()..]) {
                    codes.insert(code.to_owned());
                }
            }
        }
        // The duplicate checks of one account, a table of (code, what, value, path).
        if let Some(i) = text.find("let checks: [(&'static str") {
            let table = &text[i..text[i..].find("];").map_or(text.len(), |e| i + e)];
            for (j, _) in table.match_indices('(') {
                if let Some(code) = literal_at(&table[j + 1..]) {
                    codes.insert(code.to_owned());
                }
            }
        }
        for (i, _) in text.match_indices("declare_once(") {
            let args = &text[i + "declare_once(".len()..];
            // The fourth argument, at depth 0.
            let (mut depth, mut arg, mut start) = (0i32, 0, 0);
            for (j, c) in args.char_indices() {
                match c {
                    '(' | '[' | '{' => depth += 1,
                    ')' | ']' | '}' if depth == 0 => break,
                    ')' | ']' | '}' => depth -= 1,
                    ',' if depth == 0 => {
                        arg += 1;
                        if arg == 3 {
                            start = j + 1;
                        } else if arg == 4 {
                            if let Some(code) = literal_at(&args[start..j]) {
                                codes.insert(code.to_owned());
                            }
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    codes
}

/// The codes of docs/config.md's table of what validation checks.
fn documented_codes() -> std::collections::BTreeSet<String> {
    let doc = fs::read_to_string(root().join("docs/config.md")).expect("config.md");
    let table = doc
        .split("## What validation checks")
        .nth(1)
        .expect("the section")
        .split("\n## ")
        .next()
        .unwrap_or("");
    table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('|').nth(1))
        .flat_map(|cell| {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The codes some test or golden case renders (`error[code]`, `warning[code]`).
fn tested_codes() -> std::collections::BTreeSet<String> {
    let mut texts = Vec::new();
    for krate in ["mlz", "mlz-model", "mlz-emit", "mlz-cfn"] {
        let mut files = Vec::new();
        let dir = root().join("crates").join(krate).join("tests");
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        }
        texts.extend(
            files
                .iter()
                .map(|p| fs::read_to_string(p).expect("test source")),
        );
    }
    for case in fs::read_dir(root().join("fixtures"))
        .expect("fixtures")
        .flatten()
    {
        for name in ["errors.txt", "diagnostics.txt"] {
            if let Ok(t) = fs::read_to_string(case.path().join("expected").join(name)) {
                texts.push(t);
            }
        }
    }
    let mut codes = std::collections::BTreeSet::new();
    for t in &texts {
        for level in ["error[", "warning["] {
            for (i, _) in t.match_indices(level) {
                let rest = &t[i + level.len()..];
                if let Some(end) = rest.find(']') {
                    codes.insert(rest[..end].to_owned());
                }
            }
        }
    }
    codes
}

#[test]
fn every_diagnostic_code_is_documented_and_has_a_test() {
    let source = codes_in_source();
    let documented = documented_codes();
    let tested = tested_codes();
    assert!(
        source.len() > 100,
        "found only {} codes in the source",
        source.len()
    );
    let undocumented: Vec<&String> = source.difference(&documented).collect();
    let stale: Vec<&String> = documented.difference(&source).collect();
    // Codes only a bug in mlz can raise: no config reaches them (each has a unit test).
    const BUG_CODES: &[&str] = &["internal", "blueprint-standard"];
    let untested: Vec<&String> = documented
        .difference(&tested)
        .filter(|c| !BUG_CODES.contains(&c.as_str()))
        .collect();
    assert!(
        undocumented.is_empty() && stale.is_empty() && untested.is_empty(),
        "codes the model reports but docs/config.md does not list: {undocumented:?}\n\
         codes docs/config.md lists that nothing reports: {stale:?}\n\
         documented codes no test or golden case renders (add one to \
         crates/mlz-model/tests/diagnostics.rs): {untested:?}"
    );
}

/// Functions of mlz-model and mlz-emit longer than 150 lines, as (file, name, lines), with
/// whether the lines just above them say why they are better whole (a comment with "whole").
fn long_functions() -> Vec<(String, String, usize, bool)> {
    let mut out = Vec::new();
    for krate in ["mlz-model", "mlz-emit"] {
        for (path, text) in sources(krate) {
            let lines: Vec<&str> = shipped(&text).lines().collect();
            let mut i = 0;
            while i < lines.len() {
                let l = lines[i];
                let t = l.trim_start();
                let indent = l.len() - t.len();
                let is_fn = ["fn ", "pub fn ", "pub(crate) fn ", "pub(super) fn "]
                    .iter()
                    .any(|p| t.starts_with(p))
                    && !t.ends_with(';');
                if !is_fn {
                    i += 1;
                    continue;
                }
                let close = " ".repeat(indent) + "}";
                let end = (i + 1..lines.len())
                    .find(|&j| lines[j] == close)
                    .unwrap_or(lines.len() - 1);
                let len = end - i + 1;
                if len > 150 {
                    let name = t
                        .split("fn ")
                        .nth(1)
                        .unwrap_or("")
                        .split(['(', '<'])
                        .next()
                        .unwrap_or("");
                    let said = lines[..i]
                        .iter()
                        .rev()
                        .take_while(|l| {
                            let l = l.trim_start();
                            l.starts_with("///") || l.starts_with("//") || l.starts_with("#[")
                        })
                        .any(|l| l.contains("whole"));
                    let file = path
                        .strip_prefix(root())
                        .unwrap_or(&path)
                        .display()
                        .to_string();
                    out.push((file, name.to_owned(), len, said));
                }
                i = end + 1;
            }
        }
    }
    out
}

#[test]
fn a_function_over_150_lines_says_why_it_is_better_whole() {
    let unexplained: Vec<String> = long_functions()
        .into_iter()
        .filter(|(_, _, _, said)| !said)
        .map(|(file, name, len, _)| format!("{file}: {name} ({len} lines)"))
        .collect();
    assert!(
        unexplained.is_empty(),
        "split these, or say above them why each is better whole:\n{}",
        unexplained.join("\n")
    );
}
