//! Synthetic configs of any size, for benchmarks and for scale tests of stack splitting.
//!
//! `synth::config(1000, 3)` is the reference organisation with 1,000 teams of three stages
//! (3,000 team accounts). The text is built deterministically, so the same numbers always
//! give the same file.

use std::fmt::Write as _;

/// A valid config with `teams` teams, each with the first `stages` of dev/test/prod/...
pub fn config(teams: usize, stages: usize) -> String {
    const STAGES: &[(&str, &str)] = &[
        ("dev", "NonProd"),
        ("test", "NonProd"),
        ("prod", "Prod"),
        ("staging", "NonProd"),
        ("perf", "NonProd"),
    ];
    let stages = stages.clamp(1, STAGES.len());
    // Room for the team accounts: CloudFormation allows 200 outputs (one per account) per
    // stack, and the hash spread is uneven, so aim for about 100 accounts per stack.
    let stacks = (teams * stages).div_ceil(100).clamp(32, 256);
    let mut s = String::with_capacity(200 + teams * 80);
    let _ = write!(
        s,
        "# Synthetic platform: {teams} teams x {stages} stages (made by `cargo xtask synth`).\n\
version: 1\n\
organization:\n  name: Synthetic {teams}\n  managementAccount: {{ name: Management, email: management@synth.example.com }}\n  \
homeRegion: eu-west-1\n  governedRegions: [eu-west-1, eu-central-1]\n  teamAccountStacks: {stacks}\n\
naming:\n  accountEmail: \"aws+{{{{team}}}}-{{{{stage}}}}@synth.example.com\"\n\
organizationalUnits:\n  - {{ name: Security, createdBy: controlTower }}\n  - {{ name: Infrastructure }}\n  - {{ name: Workloads }}\n  \
- {{ name: Prod, parent: Workloads }}\n  - {{ name: NonProd, parent: Workloads }}\n  - {{ name: Deployments }}\n  - {{ name: Sandbox, createdBy: controlTower }}\n\
accounts:\n  - {{ name: Log Archive, email: log@synth.example.com, ou: Security, createdBy: controlTower }}\n  \
- {{ name: Security Tooling, email: audit@synth.example.com, ou: Security, createdBy: controlTower }}\n  \
- {{ name: Network, email: network@synth.example.com, ou: Infrastructure }}\n  \
- {{ name: Shared Services, email: shared@synth.example.com, ou: Infrastructure }}\n  \
- {{ name: ML Shared Services, email: mlshared@synth.example.com, ou: Deployments }}\n  \
- {{ name: DevOps, email: devops@synth.example.com, ou: Deployments, createdBy: external }}\n\
stages:\n"
    );
    for (name, ou) in &STAGES[..stages] {
        let _ = writeln!(s, "  - {{ name: {name}, ou: {ou} }}");
    }
    s.push_str("teams:\n");
    for t in 0..teams {
        let _ = writeln!(
            s,
            "  - {{ name: team-{t:05}, tags: {{ cost-centre: cc-{:04} }} }}",
            t % 500
        );
    }
    s.push_str(
        "policies:\n  - { name: DenyLeaveOrganization, type: serviceControl, builtin: denyLeaveOrganization, targets: { root: true } }\n  \
- { name: DenyOutsideGovernedRegions, type: serviceControl, builtin: denyOutsideGovernedRegions, targets: { root: true } }\n",
    );
    // Control Tower and Identity Center as in the reference platform, so that the scale
    // runs exercise vending, blueprints and the assignment fan-out too.
    let _ = write!(
        s,
        "controlTower:\n  controlSets:\n    baseline: [AWS-GR_RESTRICT_ROOT_USER, AWS-GR_ENCRYPTED_VOLUMES, AWS-GR_RESTRICTED_SSH]\n  \
controls:\n    - {{ ous: [Infrastructure, Workloads, Prod, NonProd, Deployments], sets: [baseline] }}\n  \
blueprintHub: {{ account: Shared Services }}\n  blueprints:\n    - {{ name: corporate-network, ous: [Infrastructure, Workloads, Deployments] }}\n    \
- {{ name: internet-only, stages: [dev, test] }}\n\
identityCenter:\n  teamStacks: {team_stacks}\n  platformStacks: {platform_stacks}\n  permissionSets:\n    - {{ name: AdministratorAccess, managedPolicies: [AdministratorAccess] }}\n    \
- {{ name: DataScientist, builtin: dataScientist }}\n    - {{ name: MLEngineering, builtin: mlEngineering }}\n    \
- {{ name: DataEngineering, builtin: dataEngineering }}\n    - {{ name: SecurityAuditor, managedPolicies: [SecurityAudit] }}\n  \
groups:\n    - {{ name: Auditors, access: [{{ permissionSets: [SecurityAuditor], ous: [Workloads] }}] }}\n  \
teamGroups:\n    - {{ name: \"{{{{team}}}}-TeamLead\", permissionSets: [AdministratorAccess] }}\n    \
- {{ name: \"{{{{team}}}}-DataScientists\", permissionSets: [DataScientist] }}\n    \
- {{ name: \"{{{{team}}}}-MLEngineers\", permissionSets: [MLEngineering] }}\n    \
- {{ name: \"{{{{team}}}}-DataEngineers\", permissionSets: [DataEngineering] }}\n",
        team_stacks = (teams * stages * 4 + teams * 4).div_ceil(300).clamp(64, 256),
        platform_stacks = (teams * stages).div_ceil(250).clamp(16, 256),
    );
    // A budget on every account and team.
    s.push_str("budgets:\n  notify: [finops@synth.example.com]\n  teamAmount: 5000\n");
    // The generated pipeline, in a tooling account that exists before it.
    s.push_str("pipeline:\n  account: DevOps\n");
    // Security services, and the hub-and-spoke network: prod accounts attach (dev and test
    // use the internet-only blueprint); 10.0.0.0/8 holds 4,096 /20 VPCs.
    s.push_str(
        "security:\n  adminAccount: Security Tooling\n  logArchiveAccount: Log Archive\n\
network:\n  account: Network\n  segments:\n    \
- { name: prod, ous: [Infrastructure, Prod, Deployments], supernets: { eu-west-1: 10.0.0.0/8 } }\n    \
- { name: nonprod, ous: [NonProd], supernets: { eu-west-1: 172.16.0.0/12 } }\n  \
egress: { eu-west-1: 192.168.0.0/24 }\n",
    );
    s
}
