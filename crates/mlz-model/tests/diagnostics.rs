//! Each diagnostic code, specified by a test: a YAML fragment applied to a small valid base
//! (`tests/diagnostics/base.yaml`) and the rendered diagnostics it must give, in the spirit of
//! rust-analyzer's `check_diagnostics`. A fragment's top-level sections replace the base's of
//! the same name and come first in the file, so the positions in an expectation are the
//! fragment's own lines.
//!
//! Update the expectations after a deliberate change with:
//!     UPDATE_EXPECT=1 cargo test -p mlz-model --test diagnostics
//!
//! `tidy::every_diagnostic_code_has_a_test` (crates/mlz/tests/tidy.rs) fails when a code is
//! defined or documented without a test here or a golden case.

use std::collections::BTreeMap;

use expect_test::{expect, Expect};
use mlz_model::{diag::render_all, FileSource};

const BASE: &str = include_str!("diagnostics/base.yaml");

/// The top-level sections of a YAML text: (key, lines), in order. A section runs from its
/// `key:` line to the next line that starts in the first column (comments stay with the
/// section they precede).
fn sections(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let top = !line.is_empty() && !line.starts_with([' ', '#', '-']);
        if top {
            let key = line.split(':').next().unwrap_or("").to_owned();
            out.push((key, std::mem::take(&mut pending)));
        }
        let target = match out.last_mut() {
            Some((_, body)) if !top && !line.starts_with('#') => body,
            _ => &mut pending,
        };
        target.push_str(line);
        target.push('\n');
        if top {
            let (_, body) = out.last_mut().expect("just pushed");
            body.push_str(&std::mem::take(&mut pending));
        }
    }
    out
}

/// The fragment's sections, then the base's sections the fragment does not replace.
fn apply(fragment: &str) -> String {
    let fragment = unindent(fragment);
    let ours = sections(&fragment);
    let mut text: String = ours.iter().map(|(_, body)| body.as_str()).collect();
    for (key, body) in sections(BASE) {
        if !ours.iter().any(|(k, _)| *k == key) {
            text.push_str(&body);
        }
    }
    text
}

/// Removes the indentation common to every non-empty line (fragments are indented in the
/// test source) and a leading newline.
fn unindent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    text.lines()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Files a fragment's config refers to (policy documents, blueprints, products).
struct Files(BTreeMap<String, String>);

impl FileSource for Files {
    fn read(&self, path: &str) -> Result<String, String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| "No such file or directory (os error 2)".to_owned())
    }
}

fn rendered(fragment: &str, files: &[(&str, &str)]) -> String {
    let text = apply(fragment);
    let files = Files(
        files
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    let loaded = mlz_model::load("platform.yaml", &text, &files);
    render_all(&loaded.diagnostics, &loaded.sources)
}

/// The diagnostics of the base with `fragment` applied.
fn check(fragment: &str, expected: Expect) {
    expected.assert_eq(&rendered(fragment, &[]));
}

/// [`check`] with files beside the config.
fn check_with_files(fragment: &str, files: &[(&str, &str)], expected: Expect) {
    expected.assert_eq(&rendered(fragment, files));
}

#[test]
fn the_base_is_valid() {
    check("", expect![[""]]);
}

// ---------------------------------------------------------------- organisation and teams

#[test]
fn home_region_not_governed() {
    check(
        r#"
organization:
  name: Base
  managementAccount: { name: Management, email: root@base.example.org }
  homeRegion: eu-west-1
  governedRegions: [eu-central-1]
"#,
        expect![[r#"
            error[home-region-not-governed]: organization.homeRegion: the home region eu-west-1 is not one of the governed regions
              --> platform.yaml:4:15
              |
            4 |   homeRegion: eu-west-1
              |               ^^^^^^^^^
              = hint: add eu-west-1 to organization.governedRegions

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn missing_key() {
    check(
        r#"
organization:
  name: Base
  homeRegion: eu-west-1
  governedRegions: [eu-west-1]
"#,
        expect![[r#"
            error[missing-key]: organization: missing required key `managementAccount`
              --> platform.yaml:2:3
              |
            2 |   name: Base
              |   ^^^^^^^^^^
              = hint: `managementAccount`: The organization's management account

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn invalid_by_schema() {
    check(
        r#"
teams:
  - name: fraud
    stages: [dev, dev]
  - name: churn
"#,
        expect![[r#"
            error[invalid]: teams[0].stages: ["dev","dev"] has non-unique elements
              --> platform.yaml:3:13
              |
            3 |     stages: [dev, dev]
              |             ^
              = expected: The stages this team has (default: every stage in `stages`)

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn duplicate_stage() {
    check(
        r#"
stages:
  - name: dev
    ou: NonProd
  - name: prod
    ou: Prod
  - name: dev
    ou: Prod
"#,
        expect![[r#"
            error[duplicate-stage]: stages[2].name: stage "dev" is declared twice
              --> platform.yaml:6:11
              |
            6 |   - name: dev
              |           ^^^
              = hint: first declared on line 2

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn duplicate_team() {
    check(
        r#"
teams:
  - name: fraud
  - name: churn
  - name: fraud
"#,
        expect![[r#"
            error[duplicate-team]: teams[2].name: team "fraud" is declared twice
              --> platform.yaml:4:11
              |
            4 |   - name: fraud
              |           ^^^^^
              = hint: first declared on line 2

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn no_stages() {
    check(
        r#"
stages: []
"#,
        expect![[r#"
            error[no-stages]: teams: teams are declared but `stages` is empty, so no team gets an account
              --> platform.yaml:48:3
               |
            48 |   - name: fraud
               |   ^^^^^^^^^^^^^
              = hint: declare stages, for example dev, test and prod

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn missing_email_pattern() {
    check(
        r#"
naming:
  accountName: "{{team}}-{{stage}}"
"#,
        expect![[r#"
            error[missing-email-pattern]: naming: teams need `naming.accountEmail` to give each stage account an e-mail address
              --> platform.yaml:2:3
              |
            2 |   accountName: "{{team}}-{{stage}}"
              |   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = hint: for example: naming: { accountEmail: "aws+{{team}}-{{stage}}@example.com" }

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn naming_syntax() {
    check(
        r#"
naming:
  accountEmail: "aws+{{team}-{{stage}}@base.example.org"
"#,
        expect![[r#"
            error[naming-syntax]: naming.accountEmail: the pattern is not valid handlebars: invalid handlebars syntax: expected identifier, helper_parameter, or trailing_tilde_to_omit_whitespace
              --> platform.yaml:2:17
              |
            2 |   accountEmail: "aws+{{team}-{{stage}}@base.example.org"
              |                 ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = hint: write variables as {{team}}

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn email_length() {
    check(
        r#"
naming:
  accountEmail: "aws+{{team}}-{{stage}}-and-a-suffix-that-makes-the-address-too-long@base.example.org"
"#,
        expect![[r#"
            error[email-length]: teams[0].name: e-mail "aws+fraud-dev-and-a-suffix-that-makes-the-address-too-long@base.example.org" is 75 characters (the address made by the naming pattern for stage "dev")
              --> platform.yaml:52:11
               |
            52 |   - name: fraud
               |           ^^^^^
              = expected: 6 to 64 characters

            error[email-length]: teams[0].name: e-mail "aws+fraud-prod-and-a-suffix-that-makes-the-address-too-long@base.example.org" is 76 characters (the address made by the naming pattern for stage "prod")
              --> platform.yaml:52:11
               |
            52 |   - name: fraud
               |           ^^^^^
              = expected: 6 to 64 characters

            error[email-length]: teams[1].name: e-mail "aws+churn-dev-and-a-suffix-that-makes-the-address-too-long@base.example.org" is 75 characters (the address made by the naming pattern for stage "dev")
              --> platform.yaml:53:11
               |
            53 |   - name: churn
               |           ^^^^^
              = expected: 6 to 64 characters

            error[email-length]: teams[1].name: e-mail "aws+churn-prod-and-a-suffix-that-makes-the-address-too-long@base.example.org" is 76 characters (the address made by the naming pattern for stage "prod")
              --> platform.yaml:53:11
               |
            53 |   - name: churn
               |           ^^^^^
              = expected: 6 to 64 characters

            4 errors and 0 warnings found
        "#]],
    );
}

#[test]
fn bad_account_key() {
    let fragment = format!(
        r#"
accounts:
  - name: Log Archive
    email: log-archive@base.example.org
    ou: Security
    createdBy: controlTower
    key: {}
"#,
        "k".repeat(250)
    );
    check(
        &fragment,
        expect![[r#"
        error[bad-account-key]: accounts[0].key: account key "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk…" (250 characters) makes a template id of more than 255 characters
          --> platform.yaml:6:10
          |
        6 |     key: kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk…
          |          ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
          = hint: set a shorter `key` (the id is "Account" and the key's letters and digits)

        1 error and 0 warnings found
    "#]],
    );
}

#[test]
fn id_collision_between_ous() {
    check(
        r#"
organizationalUnits:
  - name: Security
    createdBy: controlTower
  - name: Infrastructure
  - name: Workloads
  - name: Prod
    parent: Workloads
  - name: NonProd
    parent: Workloads
  - name: Non-Prod
  - name: Sandbox
"#,
        expect![[r#"
            error[id-collision]: organizationalUnits[5].name: "Non-Prod" gives the same template id (OuNonProd) as organizationalUnits[4].name
              --> platform.yaml:10:11
               |
            10 |   - name: Non-Prod
               |           ^^^^^^^^
              = hint: names may not differ only in punctuation or spaces: rename one

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn duplicate_account_id() {
    check(
        r#"
accounts:
  - name: Log Archive
    email: log-archive@base.example.org
    ou: Security
    createdBy: controlTower
    id: "111111111111"
  - name: Audit
    email: audit@base.example.org
    ou: Security
    createdBy: controlTower
    id: "111111111111"
"#,
        expect![[r#"
            error[duplicate-account-id]: accounts[1].id: account id 111111111111 is also given to accounts[0].id
              --> platform.yaml:11:9
               |
            11 |     id: "111111111111"
               |         ^^^^^^^^^^^^^^

            1 error and 0 warnings found
        "#]],
    );
}

// ---------------------------------------------------------------- policies

#[test]
fn duplicate_policy() {
    check(
        r#"
policies:
  - name: DenyLeave
    type: serviceControl
    builtin: denyLeaveOrganization
    targets: { root: true }
  - name: DenyLeave
    type: serviceControl
    builtin: denyLeaveOrganization
    targets: { root: true }
"#,
        expect![[r#"
            error[duplicate-policy]: policies[1].name: policy "DenyLeave" is declared twice
              --> platform.yaml:6:11
              |
            6 |   - name: DenyLeave
              |           ^^^^^^^^^
              = hint: first declared on line 2

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn policy_too_large() {
    check_with_files(
        r#"
policies:
  - name: Huge
    type: serviceControl
    file: huge.json
    targets: { root: true }
"#,
        &[("huge.json", &huge_policy())],
        expect![[r#"
            error[policy-too-large]: policies[0].file: policy "Huge" is 7882 characters without whitespace
              --> platform.yaml:4:11
              |
            4 |     file: huge.json
              |           ^^^^^^^^^
              = expected: at most 5120 characters for this policy type
              = hint: split it into two policies attached to the same targets

            1 error and 0 warnings found
        "#]],
    );
}

/// An SCP of more than 5,120 characters once whitespace is removed.
fn huge_policy() -> String {
    let actions: Vec<String> = (0..300)
        .map(|i| format!("\"s3:GetObjectVersion{i:04}\""))
        .collect();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":[{}],"Resource":"*"}}]}}"#,
        actions.join(",")
    )
}

// ---------------------------------------------------------------- Control Tower

/// A hub and the corporate-network blueprint on the Infrastructure and Workloads OUs.
const CORPORATE: &str = r#"
controlTower:
  blueprintHub: { account: Shared Services }
  blueprints:
    - name: corporate-network
      ous: [Infrastructure, Workloads]
"#;

#[test]
fn a_blueprint_hub_base_is_valid() {
    check(CORPORATE, expect![[""]]);
}

#[test]
fn afc_management_account() {
    check(
        r#"
controlTower:
  blueprintHub: { account: Shared Services }
  blueprints:
    - name: internet-only
      accounts: [Management]
"#,
        expect![[r#"
            error[afc-management-account]: controlTower.blueprints[0].accounts[0]: the management account is never vended, so it takes no blueprint
              --> platform.yaml:5:18
              |
            5 |       accounts: [Management]
              |                  ^^^^^^^^^^

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn afc_setting_unused() {
    check(
        r#"
controlTower:
  blueprintDelivery: stackSets
  blueprintHub: { account: Shared Services }
  blueprints:
    - name: internet-only
      ous: [Sandbox]
"#,
        expect![[r#"
            warning[afc-setting-unused]: controlTower.blueprintHub: blueprintHub is the AFC hub: with blueprintDelivery stackSets there is none
              --> platform.yaml:3:17
              |
            3 |   blueprintHub: { account: Shared Services }
              |                 ^^
              = hint: remove blueprintHub, or set blueprintDelivery to afc

            1 warning found
        "#]],
    );
}

#[test]
fn unknown_control_set_and_bad_control_id() {
    check(
        r#"
controlTower:
  controlSets:
    mine: [AWS-GR_RESTRICT_ROOT_USER, "not a control!"]
  controls:
    - ous: [Workloads]
      sets: [mine, yours]
"#,
        expect![[r#"
            error[bad-control-id]: controlTower.controlSets.mine[1]: "not a control!" is not a control identifier
              --> platform.yaml:3:39
              |
            3 |     mine: [AWS-GR_RESTRICT_ROOT_USER, "not a control!"]
              |                                       ^^^^^^^^^^^^^^^^
              = expected: a control name such as AWS-GR_RESTRICT_ROOT_USER, or a control ARN

            error[unknown-control-set]: controlTower.controls[0].sets[1]: no control set is named "yours"
              --> platform.yaml:6:20
              |
            6 |       sets: [mine, yours]
              |                    ^^^^^
              = expected: the name of an entry in controlTower.controlSets

            2 errors and 0 warnings found
        "#]],
    );
}

#[test]
fn control_not_enabled_and_control_parameters() {
    check(
        r#"
controlTower:
  controlSets:
    mine: [AWS-GR_RESTRICT_ROOT_USER]
  controls:
    - ous: [Workloads]
      sets: [mine]
      exclude: [AWS-GR_RESTRICTED_SSH]
      parameters:
        AWS-GR_ENCRYPTED_VOLUMES: { AllowedRegions: [eu-west-1] }
"#,
        expect![[r#"
            warning[control-not-enabled]: controlTower.controls[0].exclude[0]: "AWS-GR_RESTRICTED_SSH" is excluded but none of this entry's sets enables it
              --> platform.yaml:7:17
              |
            7 |       exclude: [AWS-GR_RESTRICTED_SSH]
              |                 ^^^^^^^^^^^^^^^^^^^^^
              = hint: remove it from `exclude`, or check the spelling

            error[control-parameters]: controlTower.controls[0].parameters["AWS-GR_ENCRYPTED_VOLUMES"]: parameters are given for "AWS-GR_ENCRYPTED_VOLUMES", which this entry does not enable
              --> platform.yaml:9:9
              |
            9 |         AWS-GR_ENCRYPTED_VOLUMES: { AllowedRegions: [eu-west-1] }
              |         ^^^^^^^^^^^^^^^^^^^^^^^^

            1 error and 1 warning found
        "#]],
    );
}

#[test]
fn unknown_blueprint_and_blueprint_file() {
    check(
        r#"
controlTower:
  blueprintHub: { account: Shared Services }
  blueprints:
    - name: corporate-netwrok
      ous: [Workloads]
    - name: mine
      file: missing.yaml
      ous: [Sandbox]
"#,
        expect![[r#"
            error[unknown-blueprint]: controlTower.blueprints[0].name: there is no built-in blueprint named "corporate-netwrok"
              --> platform.yaml:4:13
              |
            4 |     - name: corporate-netwrok
              |             ^^^^^^^^^^^^^^^^^
              = expected: one of corporate-network, internet-only, sandbox, or `file:` for your own
              = hint: did you mean "corporate-network"?

            error[blueprint-file]: controlTower.blueprints[1].file: cannot read blueprint file "missing.yaml": No such file or directory (os error 2)
              --> platform.yaml:7:13
              |
            7 |       file: missing.yaml
              |             ^^^^^^^^^^^^
              = hint: the path is relative to the folder of the config file

            2 errors and 0 warnings found
        "#]],
    );
}

/// The smallest blueprint template a hub accepts.
const BLUEPRINT: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Description: A custom blueprint.
Resources:
  Topic:
    Type: AWS::SNS::Topic
"#;

#[test]
fn blueprint_name_taken() {
    check_with_files(
        r#"
controlTower:
  blueprintHub: { account: Shared Services }
  blueprints:
    - name: sandbox
      file: sandbox.yaml
      ous: [Sandbox]
"#,
        &[("sandbox.yaml", BLUEPRINT)],
        expect![[r#"
            error[blueprint-name-taken]: controlTower.blueprints[0].name: "sandbox" is a built-in blueprint's name
              --> platform.yaml:4:13
              |
            4 |     - name: sandbox
              |             ^^^^^^^
              = hint: give your own blueprint another name

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn blueprint_yaml() {
    check_with_files(
        r#"
controlTower:
  blueprintHub: { account: Shared Services }
  blueprints:
    - name: mine
      file: mine.yaml
      ous: [Sandbox]
"#,
        &[("mine.yaml", "Resources: [a, b\n")],
        expect![[r#"
            error[blueprint-yaml]: this is not valid YAML: while parsing a flow sequence, expected ',' or ']'
              --> mine.yaml:2:1

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn unknown_blueprint_parameter() {
    check(
        r#"
controlTower:
  blueprintHub: { account: Shared Services }
  blueprints:
    - name: sandbox
      ous: [Sandbox]
      parameters: { BudgetAlertMail: finops@base.example.org }
"#,
        expect![[r#"
            error[unknown-blueprint-parameter]: controlTower.blueprints[0].parameters.BudgetAlertMail: blueprint "sandbox" has no parameter "BudgetAlertMail"
              --> platform.yaml:6:38
              |
            6 |       parameters: { BudgetAlertMail: finops@base.example.org }
              |                                      ^^^^^^^^^^^^^^^^^^^^^^^
              = expected: one of: AvailabilityZoneCount, BudgetAlertEmail, EbsEncryptionRegions, FlowLogRetentionDays, MonthlyBudgetUsd, PrimaryRegion, SecurityToolingAccountId, VpcCidr
              = hint: did you mean "BudgetAlertEmail"?

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn duplicate_blueprint() {
    check(
        r#"
controlTower:
  blueprintHub: { account: Shared Services }
  blueprints:
    - name: sandbox
      ous: [Sandbox]
    - name: sandbox
      ous: [Workloads]
"#,
        expect![[r#"
            error[duplicate-blueprint]: controlTower.blueprints[1].name: blueprint "sandbox" is declared twice
              --> platform.yaml:6:13
              |
            6 |     - name: sandbox
              |             ^^^^^^^
              = hint: first declared on line 4

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn blueprint_region_not_governed() {
    check(
        r#"
controlTower:
  blueprintDelivery: stackSets
  blueprints:
    - name: internet-only
      ous: [Sandbox]
      regions: [eu-west-1, us-east-1]
"#,
        expect![[r#"
            error[blueprint-region-not-governed]: controlTower.blueprints[0].regions[1]: blueprint "internet-only" deploys to us-east-1, which is not a governed region
              --> platform.yaml:6:28
              |
            6 |       regions: [eu-west-1, us-east-1]
              |                            ^^^^^^^^^
              = expected: one of eu-west-1, eu-central-1
              = hint: the region-deny policy and Control Tower govern only organization.governedRegions: add the region there, or leave it out

            1 error and 0 warnings found
        "#]],
    );
}

// ---------------------------------------------------------------- Identity Center

#[test]
fn identity_center_duplicates_and_policies() {
    check(
        r#"
identityCenter:
  permissionSets:
    - name: Admin
      managedPolicies: [AdministratorAccess]
    - name: Admin
      managedPolicies: [AdministratorAccess]
    - name: Both
      builtin: dataScientist
      inlinePolicy: { Version: "2012-10-17", Statement: [] }
    - name: Unknown
      managedPolicies: [NoSuchPolicyAnywhere]
  groups:
    - name: Admins
    - name: Admins
  teamGroups:
    - name: DataScientists
      permissionSets: [Admin]
"#,
        expect![[r#"
            error[duplicate-permission-set]: identityCenter.permissionSets[1].name: permission set "Admin" is declared twice
              --> platform.yaml:5:13
              |
            5 |     - name: Admin
              |             ^^^^^

            error[permission-set-policy]: identityCenter.permissionSets[2].inlinePolicy: give either `builtin` or `inlinePolicy`, not both
              --> platform.yaml:9:21
              |
            9 |       inlinePolicy: { Version: "2012-10-17", Statement: [] }
              |                     ^^

            warning[unchecked-managed-policy]: identityCenter.permissionSets[3].managedPolicies[0]: "NoSuchPolicyAnywhere" is not among the AWS managed policies mlz has checked
              --> platform.yaml:11:25
               |
            11 |       managedPolicies: [NoSuchPolicyAnywhere]
               |                         ^^^^^^^^^^^^^^^^^^^^
              = expected: the name (with its path, such as job-function/ViewOnlyAccess) of an AWS managed policy, or a policy ARN

            error[duplicate-group]: identityCenter.groups[1].name: group "Admins" is declared twice
              --> platform.yaml:14:13
               |
            14 |     - name: Admins
               |             ^^^^^^
              = hint: first declared on line 13

            error[team-group-name]: identityCenter.teamGroups[0].name: "DataScientists" does not use {{team}}, so every team would get the same group
              --> platform.yaml:16:13
               |
            16 |     - name: DataScientists
               |             ^^^^^^^^^^^^^^
              = hint: for example {{team}}-DataScientists

            4 errors and 1 warning found
        "#]],
    );
}

#[test]
fn too_many_managed_policies() {
    let policies: Vec<String> = (0..21)
        .map(|i| format!("arn:aws:iam::111111111111:policy/p{i}"))
        .collect();
    let fragment = format!(
        r#"
identityCenter:
  permissionSets:
    - name: Many
      managedPolicies: [{}]
"#,
        policies.join(", ")
    );
    check(
        &fragment,
        expect![[r#"
        error[too-many-managed-policies]: identityCenter.permissionSets[0].managedPolicies: 21 managed policies
          --> platform.yaml:4:24
          |
        4 |       managedPolicies: [arn:aws:iam::111111111111:policy/p0, arn:aws:iam::111111111111:policy/p1, arn:a…
          |                        ^
          = expected: at most 20, Identity Center's quota per permission set

        1 error and 0 warnings found
    "#]],
    );
}

// ---------------------------------------------------------------- network

/// A prod segment over Infrastructure and Workloads with a supernet and egress in the home
/// region (with [`CORPORATE`], its accounts attach there).
const NETWORK: &str = r#"
network:
  account: Network
  segments:
    - name: prod
      ous: [Infrastructure, Workloads]
      supernets: { eu-west-1: 10.0.0.0/14 }
  egress: { eu-west-1: 10.255.0.0/24 }
"#;

fn with_corporate(network: &str) -> String {
    format!("{CORPORATE}{network}")
}

#[test]
fn a_network_base_is_valid() {
    check(&with_corporate(NETWORK), expect![[""]]);
}

#[test]
fn network_segments() {
    check(
        &with_corporate(
            r#"
network:
  account: Network
  vpcPrefixLength: 24
  segments:
    - name: prod
      ous: [Infrastructure, Workloads]
      supernets: { eu-west-1: 10.0.0.0/14, us-east-1: 10.8.0.0/14 }
    - name: prod
      ous: [Sandbox]
      supernets: { eu-west-1: 10.16.0.0/14 }
    - name: more
      ous: [Workloads]
      supernets: { eu-west-1: 10.1.0.0/16, eu-central-1: 10.0.0.0/33 }
  egress: { eu-west-1: 10.255.0.0/24 }
"#,
        ),
        expect![[r#"
            error[vpc-prefix]: network.vpcPrefixLength: the built-in corporate-network blueprint builds a /20 VPC, not a /24
              --> platform.yaml:9:20
              |
            9 |   vpcPrefixLength: 24
              |                    ^^
              = hint: leave vpcPrefixLength out, or attach accounts with your own blueprint (file:) sized for it

            error[network-region]: network.segments[0].supernets["us-east-1"]: us-east-1 is not a governed region
              --> platform.yaml:13:55
               |
            13 |       supernets: { eu-west-1: 10.0.0.0/14, us-east-1: 10.8.0.0/14 }
               |                                                       ^^^^^^^^^^^
              = expected: one of: eu-west-1, eu-central-1

            error[duplicate-segment]: network.segments[1].name: segment "prod" is declared twice
              --> platform.yaml:14:13
               |
            14 |     - name: prod
               |             ^^^^
              = hint: first declared on line 11

            error[ou-in-two-segments]: network.segments[2].ous[0]: OU Workloads is already in segment "prod"
              --> platform.yaml:18:13
               |
            18 |       ous: [Workloads]
               |             ^^^^^^^^^
              = hint: an OU's accounts attach to one route table: list it in one segment

            error[supernet-overlap]: network.segments[2].supernets["eu-west-1"]: supernet 10.1.0.0/16 overlaps 10.0.0.0/14 of segment "prod" in eu-west-1
              --> platform.yaml:19:31
               |
            19 |       supernets: { eu-west-1: 10.1.0.0/16, eu-central-1: 10.0.0.0/33 }
               |                               ^^^^^^^^^^^
              = hint: segments route separately: give them disjoint supernets

            error[bad-cidr]: network.segments[2].supernets["eu-central-1"]: "10.0.0.0/33" is not an IPv4 range
              --> platform.yaml:19:58
               |
            19 |       supernets: { eu-west-1: 10.1.0.0/16, eu-central-1: 10.0.0.0/33 }
               |                                                          ^^^^^^^^^^^
              = expected: four decimal octets without leading zeros, a prefix length of 0 to 32 and no host bits set, such as 10.0.0.0/16

            6 errors and 0 warnings found
        "#]],
    );
}

#[test]
fn network_ranges() {
    check(
        &with_corporate(
            r#"
network:
  account: Network
  segments:
    - name: prod
      ous: [Infrastructure, Workloads]
      supernets: { eu-west-1: 10.0.0.0/14 }
  egress: { eu-west-1: 10.255.0.0/24 }
  ranges:
    Management: { eu-west-1: 10.0.0.0/20 }
    Network: { eu-central-1: 10.0.16.0/20 }
    Shared Services: { eu-west-1: 10.0.32.0/24 }
  addressPlan: old-plan.json
"#,
        ),
        expect![[r#"
            error[range-not-attached]: network.ranges.Management: the management account does not attach to the network
              --> platform.yaml:15:17
               |
            15 |     Management: { eu-west-1: 10.0.0.0/20 }
               |                 ^^

            error[range-region]: network.ranges.Network["eu-central-1"]: segment "prod" has no supernet in eu-central-1
              --> platform.yaml:16:30
               |
            16 |     Network: { eu-central-1: 10.0.16.0/20 }
               |                              ^^^^^^^^^^^^

            error[range-size]: network.ranges["Shared Services"]["eu-west-1"]: 10.0.32.0/24 is not a /20: the corporate-network blueprint builds a /20 VPC
              --> platform.yaml:17:35
               |
            17 |     Shared Services: { eu-west-1: 10.0.32.0/24 }
               |                                   ^^^^^^^^^^^^
              = hint: pin a /20

            error[address-plan]: network.addressPlan: cannot read the address plan "old-plan.json": No such file or directory (os error 2)
              --> platform.yaml:18:16
               |
            18 |   addressPlan: old-plan.json
               |                ^^^^^^^^^^^^^
              = hint: the path is relative to the folder of the config file; leave it out on the first run

            4 errors and 0 warnings found
        "#]],
    );
}

#[test]
fn network_egress() {
    check(
        &with_corporate(
            r#"
network:
  account: Network
  segments:
    - name: prod
      ous: [Infrastructure, Workloads]
      supernets: { eu-west-1: 10.0.0.0/14 }
  egress: { eu-west-1: 10.0.0.0/25, eu-central-1: 10.255.0.0/24 }
"#,
        ),
        expect![[r#"
            error[egress-size]: network.egress["eu-west-1"]: the egress VPC is a /25
              --> platform.yaml:13:24
               |
            13 |   egress: { eu-west-1: 10.0.0.0/25, eu-central-1: 10.255.0.0/24 }
               |                        ^^^^^^^^^^^
              = expected: a /16 to /24: its six subnets are /28s
              = hint: a /24 is enough: the egress VPC holds only NAT gateways and the Transit Gateway attachment

            warning[egress-unused]: network.egress["eu-central-1"]: no account attaches in eu-central-1, so it has no hub and no egress VPC
              --> platform.yaml:13:51
               |
            13 |   egress: { eu-west-1: 10.0.0.0/25, eu-central-1: 10.255.0.0/24 }
               |                                                   ^^^^^^^^^^^^^
              = hint: leave the region out of network.egress

            1 error and 1 warning found
        "#]],
    );
}

#[test]
fn egress_size_and_missing() {
    check(
        &with_corporate(
            r#"
network:
  account: Network
  segments:
    - name: prod
      ous: [Infrastructure, Workloads]
      supernets: { eu-west-1: 10.0.0.0/14 }
  egress: { eu-central-1: 10.255.0.0/28 }
"#,
        ),
        expect![[r#"
            error[egress-missing]: network: accounts attach in eu-west-1, but network.egress gives no range for its egress VPC
              --> platform.yaml:8:3
              |
            8 |   account: Network
              |   ^^^^^^^^^^^^^^^^
              = hint: add egress: { eu-west-1: 10.255.0.0/24 } (any /24 outside every supernet): attached VPCs have no internet gateway and reach AWS services through the hub's NAT gateways

            warning[egress-unused]: network.egress["eu-central-1"]: no account attaches in eu-central-1, so it has no hub and no egress VPC
              --> platform.yaml:13:27
               |
            13 |   egress: { eu-central-1: 10.255.0.0/28 }
               |                           ^^^^^^^^^^^^^
              = hint: leave the region out of network.egress

            1 error and 1 warning found
        "#]],
    );
}

#[test]
fn supernet_unused() {
    check(
        &with_corporate(
            r#"
network:
  account: Network
  segments:
    - name: prod
      ous: [Infrastructure, Workloads]
      supernets: { eu-west-1: 10.0.0.0/14, eu-central-1: 10.8.0.0/14 }
  egress: { eu-west-1: 10.255.0.0/24 }
"#,
        ),
        expect![[r#"
            warning[supernet-unused]: network.segments[0].supernets["eu-central-1"]: no account of segment "prod" has a VPC in eu-central-1 (their blueprints deploy elsewhere), so nothing attaches there
              --> platform.yaml:12:58
               |
            12 |       supernets: { eu-west-1: 10.0.0.0/14, eu-central-1: 10.8.0.0/14 }
               |                                                          ^^^^^^^^^^^
              = hint: leave the region out of the supernets, or deploy the attaching blueprint there

            1 warning found
        "#]],
    );
}

#[test]
fn attach_blueprint_regions() {
    check(
        r#"
controlTower:
  blueprintHub: { account: Shared Services }
  blueprints:
    - name: corporate-network
      ous: [Infrastructure, Workloads]
      regions: [eu-west-1, eu-central-1]
network:
  account: Network
  segments:
    - name: prod
      ous: [Infrastructure, Workloads]
      supernets: { eu-west-1: 10.0.0.0/14, eu-central-1: 10.8.0.0/14 }
  egress: { eu-west-1: 10.255.0.0/24, eu-central-1: 10.254.0.0/24 }
"#,
        expect![[r#"
            error[attach-blueprint-regions]: network.attachBlueprints: blueprint "corporate-network" attaches accounts in eu-central-1 and eu-west-1, but an AFC blueprint gets one set of parameters for all its regions: its VPC would have the same range in each
              --> platform.yaml:8:3
              |
            8 |   account: Network
              |   ^^^^^^^^^^^^^^^^
              = hint: deploy the attaching blueprint in the home region only (its regions), or give the segments a supernet in one of them

            1 error and 0 warnings found
        "#]],
    );
}

// ---------------------------------------------------------------- StackSets delivery

/// Blueprints by StackSets need the security tooling account's id for every account.
const SECURITY: &str = r#"
security:
  adminAccount: Audit
  logArchiveAccount: Log Archive
"#;

/// The corporate-network blueprint by StackSets to `ous`, in `regions`, over the segments of
/// `network`.
fn stack_sets(ous: &str, regions: &str, segments: &str) -> String {
    format!(
        r#"
controlTower:
  blueprintDelivery: stackSets
  blueprints:
    - name: corporate-network
      ous: [{ous}]
      regions: [{regions}]
network:
  account: Network
  segments:
{segments}
  egress: {{ eu-west-1: 10.255.0.0/24 }}
{SECURITY}"#
    )
}

const PROD_SEGMENT: &str =
    "    - { name: prod, ous: [Infrastructure, Workloads], supernets: { eu-west-1: 10.0.0.0/14 } }";

#[test]
fn a_stack_sets_base_is_valid() {
    check(
        &stack_sets("Infrastructure, Workloads", "eu-west-1", PROD_SEGMENT),
        expect![[""]],
    );
}

#[test]
fn stacksets_unattached() {
    check(
        &stack_sets(
            "Infrastructure, Workloads, Security",
            "eu-west-1",
            PROD_SEGMENT,
        ),
        expect![[r#"
            error[stacksets-unattached]: controlTower.blueprints[0].name: blueprint "corporate-network" attaches its VPC to the network, but 2 of its accounts ("Log Archive", "Audit") are in no segment's OU: with blueprintDelivery stackSets its VPC takes its range from a segment's IPAM pool
              --> platform.yaml:4:13
              |
            4 |     - name: corporate-network
              |             ^^^^^^^^^^^^^^^^^
              = hint: put those accounts' OUs in a network segment, or give them a blueprint that does not attach

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn stacksets_attach_region() {
    check(
        &stack_sets(
            "Infrastructure, Workloads",
            "eu-west-1, eu-central-1",
            PROD_SEGMENT,
        ),
        expect![[r#"
            error[stacksets-attach-region]: controlTower.blueprints[0].regions: blueprint "corporate-network" deploys where its accounts' segment has no supernet (segment "prod" in eu-central-1), so its VPC there would have no IPAM pool and no Transit Gateway
              --> platform.yaml:6:16
              |
            6 |       regions: [eu-west-1, eu-central-1]
              |                ^
              = hint: give the segment a supernet in that region, or deploy the blueprint in fewer regions

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn stacksets_segment_ou() {
    let segments = "    - { name: prod, ous: [Infrastructure, Prod], supernets: { eu-west-1: 10.0.0.0/14 } }\n    - { name: nonprod, ous: [NonProd, Workloads], supernets: { eu-west-1: 10.4.0.0/14 } }";
    check(
        &stack_sets("Infrastructure, Workloads", "eu-west-1", segments),
        expect![[r#"
        error[stacksets-segment-ou]: controlTower.blueprints[0].name: blueprint "corporate-network" would reach all of OU "Workloads" (through "Data Governance") with segment "nonprod"'s StackSet, but "Finance ML" below it is in segment "prod": it would get two VPCs
          --> platform.yaml:4:13
          |
        4 |     - name: corporate-network
          |             ^^^^^^^^^^^^^^^^^
          = hint: a StackSet deploys to whole OUs, nested ones included: give the segments OUs that do not nest, or set blueprintDelivery to afc

        1 error and 0 warnings found
    "#]],
    );
}

#[test]
fn range_with_ipam() {
    let segments = format!("{PROD_SEGMENT}\n  ranges:\n    Network: {{ eu-west-1: 10.0.0.0/20 }}");
    check(
        &stack_sets("Infrastructure, Workloads", "eu-west-1", &segments),
        expect![[r#"
        error[range-with-ipam]: network.ranges: with controlTower.blueprintDelivery stackSets, attached VPCs take their ranges from the segments' IPAM pools: there is nothing to pin
          --> platform.yaml:12:5
           |
        12 |     Network: { eu-west-1: 10.0.0.0/20 }
           |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
          = hint: remove network.ranges, or set blueprintDelivery to afc

        1 error and 0 warnings found
    "#]],
    );
}

/// A custom blueprint whose VPC range is written in, not a `VpcCidr` parameter.
const FIXED_VPC: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Description: A VPC with a fixed range.
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: 10.9.0.0/20
"#;

/// Asks for a value that differs per account.
const NEEDS_VALUE: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Description: A topic for a team.
Parameters:
  TeamName:
    Type: String
    Description: The team the topic is for.
    AllowedPattern: "^[a-z-]+$"
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Ref TeamName
"#;

#[test]
fn stacksets_vpc_cidr_and_blueprint_parameter() {
    let fragment = format!(
        r#"
controlTower:
  blueprintDelivery: stackSets
  blueprints:
    - name: fixed
      file: fixed.yaml
      ous: [Infrastructure, Workloads]
    - name: team-topic
      file: team-topic.yaml
      ous: [Security]
network:
  account: Network
  attachBlueprints: [fixed]
  segments:
{PROD_SEGMENT}
  egress: {{ eu-west-1: 10.255.0.0/24 }}
{SECURITY}"#
    );
    check_with_files(
        &fragment,
        &[("fixed.yaml", FIXED_VPC), ("team-topic.yaml", NEEDS_VALUE)],
        expect![[r#"
            error[stacksets-vpc-cidr]: controlTower.blueprints[0].file: blueprint "fixed" attaches, but mlz cannot have its VPC draw from an IPAM pool: it has no VpcCidr parameter
              --> platform.yaml:5:13
              |
            5 |       file: fixed.yaml
              |             ^^^^^^^^^^
              = hint: with blueprintDelivery stackSets an attached blueprint has one AWS::EC2::VPC whose CidrBlock is !Ref VpcCidr, and uses VpcCidr nowhere in Conditions

            error[stacksets-blueprint-parameter]: controlTower.blueprints[1].name: blueprint "team-topic" has no value for its parameter TeamName: a StackSet gives every account the same value, and mlz knows none
              --> platform.yaml:7:13
              |
            7 |     - name: team-topic
              |             ^^^^^^^^^^
              = hint: give one value for all its accounts in parameters: { TeamName: ... } (for an address, a team list)

            2 errors and 0 warnings found
        "#]],
    );
}

// ---------------------------------------------------------------- Service Catalog

#[test]
fn project_template_parameters() {
    // A product that declares one of the two parameters SageMaker passes, and not the other,
    // is a project template that cannot launch from Studio: one error at the product.
    check_with_files(
        r#"
serviceCatalog:
  portfolios:
    - name: building
      account: Shared Services
      principals: { roles: [mlz-cloud-admin] }
      products:
        - name: half-template
          file: half.yaml
"#,
        &[(
            "half.yaml",
            "AWSTemplateFormatVersion: \"2010-09-09\"\nDescription: half a project template\nParameters:\n  SageMakerProjectName:\n    Type: String\n    Description: set by SageMaker\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n",
        )],
        expect![[r#"
            warning[blueprint-parameter]: Parameters.SageMakerProjectName: parameter SageMakerProjectName accepts any string
              --> half.yaml:4:3
              |
            4 |   SageMakerProjectName:
              |   ^^^^^^^^^^^^^^^^^^^^
              = hint: add AllowedPattern or AllowedValues so a typo fails at vending time, not half-way through

            error[project-template-parameters]: serviceCatalog.portfolios[0].products[0]: product "half-template" declares SageMakerProjectName but not SageMakerProjectId
              --> platform.yaml:7:11
              |
            7 |         - name: half-template
              |           ^^^^^^^^^^^^^^^^^^^
              = expected: both SageMakerProjectName and SageMakerProjectId (a SageMaker project template), or neither
              = hint: SageMaker passes both when a Studio user creates a project from the product: declare the other one too, or remove this one

            1 error and 1 warning found
        "#]],
    );
}

#[test]
fn service_catalog() {
    check(
        r#"
serviceCatalog:
  portfolios:
    - name: analytics
      account: Shared Services
      principals: { roles: [mlz-cloud-admin] }
      shareWith: { accounts: [Shared Services, Finance ML] }
      products:
        - name: studio-domain
        - name: studio-domain
        - name: mine
          file: missing.yaml
    - name: analytics
      account: Shared Services
      products:
        - name: studio-user-profile
"#,
        expect![[r#"
            warning[share-with-self]: serviceCatalog.portfolios[0].shareWith.accounts[0]: "Shared Services" holds the portfolio; it needs no share
              --> platform.yaml:6:31
              |
            6 |       shareWith: { accounts: [Shared Services, Finance ML] }
              |                               ^^^^^^^^^^^^^^^

            error[duplicate-product]: serviceCatalog.portfolios[0].products[1].name: product "studio-domain" is declared twice
              --> platform.yaml:9:17
              |
            9 |         - name: studio-domain
              |                 ^^^^^^^^^^^^^
              = hint: first declared on line 8

            error[product-file]: serviceCatalog.portfolios[0].products[2].file: cannot read product file "missing.yaml": No such file or directory (os error 2)
              --> platform.yaml:11:17
               |
            11 |           file: missing.yaml
               |                 ^^^^^^^^^^^^
              = hint: the path is relative to the folder of the config file

            error[duplicate-portfolio]: serviceCatalog.portfolios[1].name: portfolio "analytics" is declared twice
              --> platform.yaml:12:13
               |
            12 |     - name: analytics
               |             ^^^^^^^^^
              = hint: first declared on line 3

            3 errors and 1 warning found
        "#]],
    );
}

// ---------------------------------------------------------------- Unified Studio

#[test]
fn metadata_forms() {
    // An owner that is no project, a form declared twice, a field declared twice: one error
    // each.
    check(
        r#"
unifiedStudio:
  domain:
    name: ml
    account: Data Governance
    domainUnits: [Finance]
  associatedAccounts:
    - account: Finance ML
      blueprints: [Tooling]
      domainUnits: [Finance]
  projectProfiles:
    - name: finance
      domainUnit: Finance
      account: Finance ML
      blueprints: [Tooling]
  projects:
    - name: stewardship
      domainUnit: Finance
      profile: finance
  metadataForms:
    - name: Ownership
      project: stewardshp
      fields: [{ name: owner }]
    - name: Quality
      project: stewardship
      fields: [{ name: score, type: Float }, { name: score }]
    - name: Quality
      project: stewardship
      fields: [{ name: owner }]
"#,
        expect![[r#"
            error[unknown-project]: unifiedStudio.metadataForms[0].project: no project is named "stewardshp"
              --> platform.yaml:21:16
               |
            21 |       project: stewardshp
               |                ^^^^^^^^^^
              = expected: the name of an entry in unifiedStudio.projects: a metadata form is owned by a project (DataZone CreateFormType)
              = hint: did you mean "stewardship"?

            error[duplicate-form-field]: unifiedStudio.metadataForms[1].fields[1].name: field "score" is declared twice
              --> platform.yaml:25:54
               |
            25 |       fields: [{ name: score, type: Float }, { name: score }]
               |                                                      ^^^^^
              = hint: first declared on line 25

            error[duplicate-metadata-form]: unifiedStudio.metadataForms[2].name: metadata form "Quality" is declared twice
              --> platform.yaml:26:13
               |
            26 |     - name: Quality
               |             ^^^^^^^
              = hint: first declared on line 23

            3 errors and 0 warnings found
        "#]],
    );
}

#[test]
fn unified_studio() {
    check(
        r#"
unifiedStudio:
  domain:
    name: ml
    account: Data Governance
    domainUnits: [Finance]
  associatedAccounts:
    - account: Finance ML
      blueprints: [Tooling]
      domainUnits: [Finance]
    - account: Finance ML
      blueprints: [Tooling]
    - account: Shared Services
      blueprints: [Tooling]
      domainUnits: [Finance]
  projectProfiles:
    - name: finance
      domainUnit: Finance
      account: Finance ML
      region: eu-central-1
      blueprints: [Tooling]
    - name: finance
      domainUnit: Finance
      account: Finance ML
      blueprints: [Tooling]
    - name: neither
      domainUnit: Finance
      blueprints: [Tooling]
    - name: dynamic
      domainUnit: Finance
      accounts: [Finance ML, Shared Services]
      blueprints: [Tooling]
  projects:
    - name: fraud-detection
      domainUnit: Finance
      profile: finance
    - name: fraud-detection
      domainUnit: Finance
      profile: finance
    - name: churn
      domainUnit: Finance
      profile: dynamic
"#,
        expect![[r#"
            error[duplicate-associated-account]: unifiedStudio.associatedAccounts[1].account: associated account "Finance ML" is declared twice
              --> platform.yaml:10:16
               |
            10 |     - account: Finance ML
               |                ^^^^^^^^^^
              = hint: first declared on line 7

            error[profile-region]: unifiedStudio.projectProfiles[0].region: "Finance ML" enables its blueprints in eu-west-1, not in eu-central-1
              --> platform.yaml:19:15
               |
            19 |       region: eu-central-1
               |               ^^^^^^^^^^^^
              = hint: set the profile's region to one the account enables, or add the region to the account

            error[duplicate-project-profile]: unifiedStudio.projectProfiles[1].name: project profile "finance" is declared twice
              --> platform.yaml:21:13
               |
            21 |     - name: finance
               |             ^^^^^^^
              = hint: first declared on line 16

            error[profile-accounts]: unifiedStudio.projectProfiles[2].name: project profile "neither" needs either `account` (static) or `accounts` (dynamic)
              --> platform.yaml:25:13
               |
            25 |     - name: neither
               |             ^^^^^^^
              = hint: a static profile deploys every project to one account; a dynamic one lets the creator pick

            error[duplicate-project]: unifiedStudio.projects[1].name: project "fraud-detection" is declared twice
              --> platform.yaml:36:13
               |
            36 |     - name: fraud-detection
               |             ^^^^^^^^^^^^^^^
              = hint: first declared on line 33

            error[project-account]: unifiedStudio.projects[2].profile: "dynamic" is a dynamic profile: say which of its accounts the project uses
              --> platform.yaml:41:16
               |
            41 |       profile: dynamic
               |                ^^^^^^^
              = hint: set `account` on the project

            6 errors and 0 warnings found
        "#]],
    );
}

// ---------------------------------------------------------------- budgets and pipeline

#[test]
fn too_many_subscribers() {
    check(
        r#"
budgets:
  amount: 100
  thresholds: [80]
  notify: [a@base.example.org, b@base.example.org, c@base.example.org, d@base.example.org, e@base.example.org, f@base.example.org, g@base.example.org, h@base.example.org, i@base.example.org, j@base.example.org]
"#,
        expect![[r#"
            error[too-many-subscribers]: budgets.notify: 10 addresses here plus up to 2 account addresses per alert; AWS Budgets allows 10
              --> platform.yaml:4:11
              |
            4 |   notify: [a@base.example.org, b@base.example.org, c@base.example.org, d@base.example.org,…
              |           ^
              = hint: use a distribution list instead of several addresses

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn pipeline_account_vended() {
    check(
        r#"
pipeline:
  account: Shared Services
"#,
        expect![[r#"
            error[pipeline-account-vended]: pipeline.account: the pipeline runs in account "Shared Services", which the pipeline itself would vend: it must exist first
              --> platform.yaml:2:12
              |
            2 |   account: Shared Services
              |            ^^^^^^^^^^^^^^^
              = hint: vend the tooling account first (Account Factory console), then mark it createdBy: external, or give its id

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn pipeline_region() {
    check(
        r#"
pipeline:
  account: Tooling
  region: us-east-1
"#,
        expect![[r#"
            error[pipeline-region]: pipeline.region: us-east-1 is not a governed region: the region-deny policy would stop the pipeline
              --> platform.yaml:3:11
              |
            3 |   region: us-east-1
              |           ^^^^^^^^^
              = hint: use the home region or another governed region

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn egress_overlap() {
    check(
        &with_corporate(
            r#"
network:
  account: Network
  segments:
    - name: prod
      ous: [Infrastructure, Workloads]
      supernets: { eu-west-1: 10.0.0.0/14 }
  egress: { eu-west-1: 10.0.0.0/24 }
"#,
        ),
        expect![[r#"
            error[egress-overlap]: network.egress["eu-west-1"]: 10.0.0.0/24 overlaps segment "prod"'s supernet 10.0.0.0/14 in eu-west-1
              --> platform.yaml:13:24
               |
            13 |   egress: { eu-west-1: 10.0.0.0/24 }
               |                        ^^^^^^^^^^^
              = hint: the egress VPC is routed like any attached VPC: give it a range outside every supernet

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn stacksets_whole_ou() {
    let fragment = format!(
        r#"
controlTower:
  blueprintDelivery: stackSets
  blueprints:
    - name: internet-only
      accounts: [Shared Services]
{SECURITY}"#
    );
    check(
        &fragment,
        expect![[r#"
        error[stacksets-whole-ou]: controlTower.blueprints[0].accounts[0]: blueprint "internet-only" would reach all of OU "Infrastructure" by StackSet (through "Shared Services"), but "Network" there has no blueprint
          --> platform.yaml:5:18
          |
        5 |       accounts: [Shared Services]
          |                  ^^^^^^^^^^^^^^^
          = hint: with blueprintDelivery stackSets a blueprint deploys to whole OUs, nested ones included: give the accounts of each blueprint OUs of their own, or set blueprintDelivery to afc

        1 error and 0 warnings found
    "#]],
    );
}

// ---------------------------------------------------------------- the lock

/// [`check`] with a lock file beside the config.
fn check_locked(fragment: &str, lock: &str, expected: Expect) {
    let text = apply(fragment);
    let loaded = mlz_model::load_locked(
        "platform.yaml",
        &text,
        &Files(BTreeMap::new()),
        Some(("platform.lock.json", lock)),
    );
    expected.assert_eq(&render_all(&loaded.diagnostics, &loaded.sources));
}

/// A lock with the Network account's range.
fn lock_with(cidr: &str) -> String {
    format!(
        r#"{{
  "lockVersion": 1,
  "network": {{
    "ranges": [
      {{ "key": "Network", "region": "eu-west-1", "cidr": "{cidr}" }}
    ]
  }}
}}
"#
    )
}

#[test]
fn a_broken_lock() {
    check_locked(
        &with_corporate(NETWORK),
        &lock_with("10.0.0.0/33"),
        expect![[r#"
        error[lock]: network.ranges[0].cidr: "10.0.0.0/33" is not an IPv4 range
          --> platform.lock.json:5:58
          |
        5 |       { "key": "Network", "region": "eu-west-1", "cidr": "10.0.0.0/33" }
          |                                                          ^^^^^^^^^^^^^^
          = expected: an address and prefix length with no host bits set, such as 10.0.16.0/20
          = hint: the lock is written by mlz generate: restore it from version control, or fix the entry by hand

        1 error and 0 warnings found
    "#]],
    );
}

#[test]
fn lock_conflict() {
    check_locked(
        &with_corporate(NETWORK),
        &lock_with("10.8.0.0/20"),
        expect![[r#"
        error[lock-conflict]: network.segments[0].supernets["eu-west-1"]: the lock (platform.lock.json:5:7) gives "Network" 10.8.0.0/20 in eu-west-1, which is outside this supernet (10.0.0.0/14)
          --> platform.yaml:12:31
           |
        12 |       supernets: { eu-west-1: 10.0.0.0/14 }
           |                               ^^^^^^^^^^^
          = hint: change the supernet or network.vpcPrefixLength back, or delete the entry from the lock to let mlz allocate a new range (CloudFormation then replaces the account's VPC)

        1 error and 0 warnings found
    "#]],
    );
}

#[test]
fn lock_pin_changed() {
    let pinned = format!("{NETWORK}  ranges:\n    Network: {{ eu-west-1: 10.0.16.0/20 }}\n");
    check_locked(
        &with_corporate(&pinned),
        &lock_with("10.0.0.0/20"),
        expect![[r#"
        warning[lock-pin-changed]: network.ranges.Network["eu-west-1"]: "Network" is pinned to 10.0.16.0/20, but the lock (platform.lock.json:5:7) has 10.0.0.0/20: its VPC will be replaced
          --> platform.yaml:15:27
           |
        15 |     Network: { eu-west-1: 10.0.16.0/20 }
           |                           ^^^^^^^^^^^^
          = hint: pin the locked range to keep the VPC

        1 warning found
    "#]],
    );
}

#[test]
fn landing_zone_account() {
    check(
        r#"
controlTower:
  landingZone:
    version: "3.3"
    logArchiveAccount: Audit
    auditAccount: Audit
"#,
        expect![[r#"
            error[landing-zone-account]: controlTower.landingZone.auditAccount: the log archive and audit accounts must be two different accounts
              --> platform.yaml:5:19
              |
            5 |     auditAccount: Audit
              |                   ^^^^^

            1 error and 0 warnings found
        "#]],
    );
    check(
        r#"
controlTower:
  landingZone:
    version: "3.3"
    logArchiveAccount: Management
    auditAccount: Audit
"#,
        expect![[r#"
            error[landing-zone-account]: controlTower.landingZone.logArchiveAccount: the management account cannot hold the landing zone's logs or audit role
              --> platform.yaml:4:24
              |
            4 |     logArchiveAccount: Management
              |                        ^^^^^^^^^^

            1 error and 0 warnings found
        "#]],
    );
}

#[test]
fn tag_policy_not_enforced() {
    check(
        r#"
policies:
  - name: CostTags
    type: tag
    description: Cost tags keep one spelling.
    targets: { root: true }
    document:
      tags:
        cost-centre:
          tag_key: { "@@assign": cost-centre }
  - name: EnforcedTags
    type: tag
    targets: { root: true }
    document:
      tags:
        team:
          tag_key: { "@@assign": team }
          enforced_for: { "@@assign": ["s3:bucket"] }
"#,
        expect![[r#"
            warning[tag-policy-not-enforced]: policies[0].description: tag policy "CostTags" enforces none of its keys: AWS only reports tags that break it
              --> platform.yaml:4:18
              |
            4 |     description: Cost tags keep one spelling.
              |                  ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
              = hint: give a key `enforced_for: { "@@assign": ["<service>:<resource type>"] }` to refuse non-compliant tags on those resources, or say in the description that it reports only

            1 warning found
        "#]],
    );
}

#[test]
fn tag_key_spelling() {
    check(
        r#"
policies:
  - name: CostTags
    type: tag
    description: Cost tags; breaches are reported.
    targets: { root: true }
    document:
      tags:
        cost-centre:
          tag_key: { "@@assign": cost-centre }
teams:
  - name: fraud
    tags: { Cost_Centre: cc-1 }
  - name: churn
    tags: { cost-centre: cc-2 }
"#,
        expect![[r#"
            warning[tag-key-spelling]: teams[0].tags.Cost_Centre: tag key "Cost_Centre" is spelled "cost-centre" in tag policy "CostTags"
              --> platform.yaml:12:13
               |
            12 |     tags: { Cost_Centre: cc-1 }
               |             ^^^^^^^^^^^
              = hint: write "cost-centre": a tag policy reports every other spelling as non-compliant

            1 warning found
        "#]],
    );
}
