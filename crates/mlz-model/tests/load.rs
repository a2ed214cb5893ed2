//! Loading configs: the reference platform resolves, and mistakes are all reported.

use mlz_model::{load, NoFiles, REFERENCE_CONFIG};

#[test]
fn reference_platform_resolves_cleanly() {
    let l = load("platform.yaml", REFERENCE_CONFIG, &NoFiles);
    let text = mlz_model::diag::render_all(&l.diagnostics, &l.sources);
    assert!(l.diagnostics.is_empty(), "{text}");
    let p = l.platform.expect("platform");
    assert_eq!(p.ous.len(), 7);
    assert_eq!(p.teams.len(), 2);
    // 11 declared accounts and 2 teams x 3 stages
    assert_eq!(p.accounts.len(), 17);
    let prod = p
        .accounts
        .iter()
        .find(|a| a.name == "fraud-detection-prod")
        .expect("team account");
    assert_eq!(p.ou(prod.ou).path, "Workloads/Prod");
    assert_eq!(prod.email, "aws+fraud-detection-prod@example.com");
    assert_eq!(prod.tags.get("stage").map(String::as_str), Some("prod"));
    assert_eq!(p.policies.len(), 6);
}
