//! Budgets: every account and every team of the reference platform has exactly one monthly
//! budget, filtered to its own accounts, with the configured amounts.

mod common;
use common::reference;

use std::collections::BTreeMap;
use std::fs;

use serde_json::Value;

/// Budget name → (amount, linked-account filter values as JSON text).
fn budgets() -> BTreeMap<String, (i64, Vec<String>)> {
    let mut out = BTreeMap::new();
    for e in fs::read_dir(reference().join("budgets"))
        .expect("budgets folder")
        .flatten()
    {
        let text = fs::read_to_string(e.path()).expect("read");
        let t = mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json();
        for r in t["Resources"].as_object().expect("resources").values() {
            assert_eq!(r["Type"], "AWS::Budgets::Budget");
            let b = &r["Properties"]["Budget"];
            assert_eq!(b["TimeUnit"], "MONTHLY");
            assert_eq!(b["FilterExpression"]["Dimensions"]["Key"], "LINKED_ACCOUNT");
            let ids = b["FilterExpression"]["Dimensions"]["Values"]
                .as_array()
                .expect("values")
                .iter()
                .map(Value::to_string)
                .collect();
            // The name ends in a hash of the notifications (a new alert replaces the budget
            // under a new name): keyed here by what comes before it.
            let full = b["BudgetName"].as_str().expect("name");
            let (name, tag) = full.rsplit_once('-').expect("a hash suffix");
            assert!(
                tag.len() == 6 && tag.chars().all(|c| c.is_ascii_hexdigit()),
                "{full}"
            );
            let name = name.to_owned();
            let amount = b["BudgetLimit"]["Amount"].as_i64().expect("amount");
            assert!(
                out.insert(name.clone(), (amount, ids)).is_none(),
                "{name} twice"
            );
        }
    }
    out
}

#[test]
fn every_account_and_team_has_one_budget() {
    let l = mlz_model::load(
        "platform.yaml",
        mlz_model::REFERENCE_CONFIG,
        &mlz_model::NoFiles,
    );
    let p = l.platform.expect("reference platform");
    let b = budgets();
    // The management account, every account, every team.
    assert_eq!(b.len(), 1 + p.accounts.len() + p.teams.len());
    for a in &p.accounts {
        let key = a.key.to_ascii_lowercase().replace(' ', "-");
        let (_, ids) = &b[&format!("mlz-account-{key}")];
        assert_eq!(ids.len(), 1, "{} filters on its own account only", a.name);
    }
    for t in &p.teams {
        let (_, ids) = &b[&format!("mlz-team-{}", t.name)];
        assert_eq!(
            ids.len(),
            t.accounts.len(),
            "team {} covers its accounts",
            t.name
        );
    }
    // Amounts from the config: an override, the default, and a team override.
    assert_eq!(b["mlz-account-data-lake"].0, 5000);
    assert_eq!(b["mlz-account-network"].0, 1000);
    assert_eq!(b["mlz-team-fraud-detection"].0, 6000);
    // Without a team amount, a team's budget is the sum of its accounts'.
    assert_eq!(b["mlz-team-churn-prediction"].0, 3000);
}
