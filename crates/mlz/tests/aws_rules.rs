//! Rules the output relies on that no linter checks, tested on every golden output
//! (docs/aws-rules.md lists each with its source).

use std::fs;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Every generated template of every valid golden case: (case/path, text).
fn templates() -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "json")
                && !p.ends_with("manifest.json")
            {
                let text = fs::read_to_string(&p).expect("read");
                if text.contains("AWSTemplateFormatVersion") {
                    let rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
                    out.push((rel, text));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&fixtures(), &fixtures(), &mut out);
    out.sort();
    assert!(out.len() > 100, "only {} golden templates", out.len());
    out
}

#[test]
fn every_managed_policy_arn_comes_from_the_checked_list() {
    let mut seen = 0;
    for (path, text) in templates() {
        for (at, _) in text.match_indices("iam::aws:policy/") {
            let rest = &text[at + "iam::aws:policy/".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "_/+=,.@-".contains(*c))
                .collect();
            seen += 1;
            assert!(
                mlz_model::managed_policies::find(&name).is_some(),
                "{path}: managed policy {name} is not in mlz_model::managed_policies"
            );
            // Partition-aware: the ARN starts with arn:${AWS::Partition}, never arn:aws.
            let start = text[..at].rfind("arn:").unwrap_or(0);
            assert!(
                text[start..at].contains("${AWS::Partition}"),
                "{path}: {} is not partition-aware",
                &text[start..at + 16 + name.len()]
            );
        }
    }
    assert!(seen > 10, "only {seen} managed-policy ARNs seen");
}
