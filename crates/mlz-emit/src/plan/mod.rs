//! The deployment plan: the stage between the emitters and the manifest.
//!
//! Emitters speak to each other only through it. Every deployable thing has a [`StackId`];
//! every cross-stack value an [`ExportKey`]; every stack and manual step declares the
//! [`Fact`]s it provides and requires. [`link`] matches requirements to providers, orders
//! nodes into waves, chooses who deploys each node ([`DeployAs`]), checks the rules no
//! single template shows (an SCP that would deny the deployer, a role Control Tower's own
//! SCP protects, a StackSet without the capability its template needs), and measures the
//! critical path of every resource that runs a limited number of operations at once.
//! A requirement nobody provides is an [`EmitError`] naming the requirement, the node that
//! needs it and the AWS rule. docs/adr/0004-deployment-plan.md records the design.

pub mod exports;
pub mod facts;
pub mod id;
pub mod lanes;
pub mod rules;
mod scp;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use mlz_cfn::Value;
use mlz_model::{AccountRef, CreatedBy, OuIdx, Platform};

pub use exports::{ExportKey, ExportRef};
pub use facts::{Fact, Limited, Need, Rule, Service};
pub use id::{Area, StackId};
pub use scp::glob;

use crate::stack::{DeployKind, ManualStep, Stack};
use crate::EmitError;

/// The role Control Tower creates in every account it enrols or vends, trusted by the
/// management account: the default deployer of stacks in enrolled member accounts.
pub const CONTROL_TOWER_EXECUTION_ROLE: &str = "AWSControlTowerExecution";
/// The role AWS Organizations creates in accounts it creates (outside Control Tower).
pub const ORGANIZATION_ACCESS_ROLE: &str = "OrganizationAccountAccessRole";
/// The role name pattern of service-managed StackSet instances.
pub const STACK_SET_EXECUTION_ROLE: &str = "stacksets-exec-*";

/// Who deploys a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeployAs {
    /// The principal that runs the deployment in the management account (a pipeline role or
    /// an administrator). SCPs do not apply to the management account.
    Management,
    /// `AWSControlTowerExecution` in an enrolled member account, assumed from the
    /// management account. It has AdministratorAccess and is exempt from Control Tower's
    /// mandatory SCPs: what LZA uses; AFT uses roles of its own instead.
    ControlTowerExecution,
    /// `OrganizationAccountAccessRole` in an account AWS Organizations created outside
    /// Control Tower, assumed from the management account.
    OrganizationAccountAccess,
    /// The `stacksets-exec-*` role of a service-managed StackSet instance.
    StackSetExecution,
    /// Control Tower applies an AFC blueprint while it provisions or updates an account,
    /// with the blueprint's provisioning policy.
    AccountFactory,
    /// End users launch product versions; Service Catalog deploys them with the
    /// portfolio's launch role.
    LaunchRole(String),
    /// The generated pipeline's CloudFormation action: CloudFormation runs as this role of
    /// the target account (pipeline/roles-*).
    Pipeline(String),
}

impl DeployAs {
    pub fn principal(&self) -> String {
        match self {
            DeployAs::Management => "management".into(),
            DeployAs::ControlTowerExecution => CONTROL_TOWER_EXECUTION_ROLE.into(),
            DeployAs::OrganizationAccountAccess => ORGANIZATION_ACCESS_ROLE.into(),
            DeployAs::StackSetExecution => STACK_SET_EXECUTION_ROLE.into(),
            DeployAs::AccountFactory => "controlTowerAccountFactory".into(),
            DeployAs::LaunchRole(r) | DeployAs::Pipeline(r) => r.clone(),
        }
    }

    /// The role the deployment runs as in the target account, when it is a role of
    /// known name.
    pub fn role_name(&self) -> Option<&str> {
        match self {
            DeployAs::ControlTowerExecution => Some(CONTROL_TOWER_EXECUTION_ROLE),
            DeployAs::OrganizationAccountAccess => Some(ORGANIZATION_ACCESS_ROLE),
            DeployAs::StackSetExecution => Some(STACK_SET_EXECUTION_ROLE),
            DeployAs::LaunchRole(r) | DeployAs::Pipeline(r) => Some(r),
            DeployAs::Management | DeployAs::AccountFactory => None,
        }
    }

    pub fn how(&self) -> &'static str {
        match self {
            DeployAs::Management => "the deploying principal of the management account (pipeline role or administrator)",
            DeployAs::ControlTowerExecution => "assume role AWSControlTowerExecution in the target account from the management account",
            DeployAs::OrganizationAccountAccess => "assume role OrganizationAccountAccessRole in the target account from the management account",
            DeployAs::StackSetExecution => "a service-managed StackSet in the management account creates the instances (role stacksets-exec-* in each target)",
            DeployAs::AccountFactory => "Control Tower applies the blueprint when an account is provisioned or updated with it",
            DeployAs::LaunchRole(_) => "users launch it from Service Catalog; the portfolio's launch role deploys it",
            DeployAs::Pipeline(_) => "the pipeline's CloudFormation action (pipeline/), with this role of the target account as CloudFormation's service role",
        }
    }
}

/// A node of the plan: a template or a manual step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeRef {
    Stack(usize),
    Step(usize),
}

/// A fact the plan takes as given, and why.
#[derive(Clone, Debug)]
pub struct Precondition {
    pub fact: Fact,
    pub why: String,
}

/// One limited resource's schedule.
#[derive(Clone, Debug)]
pub struct LimitReport {
    pub resource: Limited,
    pub limit: u32,
    pub operations: u32,
    /// The most operations any chain of dependent nodes runs one after another.
    pub critical_path: u32,
    /// The nodes on that chain, in order.
    pub chain: Vec<NodeRef>,
}

/// The linked plan: per node its dependencies (with the facts that cause them), its wave
/// and its deployer.
#[derive(Debug)]
pub struct Plan {
    /// Stacks then steps: node `i < stacks` is stack `i`. Per node, the nodes it waits for,
    /// each with the indices (into `needs[i]`) of the facts it needs from it.
    pub depends_on: Vec<BTreeMap<NodeRef, Vec<u32>>>,
    /// Every need of every node, the implicit ones included.
    pub needs: Vec<Vec<Need>>,
    pub wave_of: Vec<usize>,
    pub waves: Vec<Vec<NodeRef>>,
    pub deploy_as: Vec<DeployAs>,
    pub preconditions: Vec<Precondition>,
    pub limits: Vec<LimitReport>,
    stacks: usize,
}

impl Plan {
    pub fn index(&self, n: NodeRef) -> usize {
        match n {
            NodeRef::Stack(i) => i,
            NodeRef::Step(i) => self.stacks + i,
        }
    }
}

/// Node `i` of a plan with `stacks` stacks: stacks first, then steps.
fn node_ref(stacks: usize, i: usize) -> NodeRef {
    if i < stacks {
        NodeRef::Stack(i)
    } else {
        NodeRef::Step(i - stacks)
    }
}

/// Control Tower enrols an account when it vends it, when it created it, or when its OU is
/// registered (mlz registers every OU it creates).
pub fn enrolled(p: &Platform, a: AccountRef) -> bool {
    let Some(_) = p.control_tower.as_ref().filter(|c| c.enabled) else {
        return false;
    };
    match a {
        AccountRef::Management => false,
        AccountRef::Account(i) => {
            let acc = p.account(i);
            acc.created_by != CreatedBy::External || p.ou(acc.ou).created_by != CreatedBy::External
        }
    }
}

/// The default deployer of a node of this kind in this account.
pub fn default_deploy_as(p: &Platform, s: &Stack) -> DeployAs {
    match s.deploy {
        DeployKind::StackSet => DeployAs::StackSetExecution,
        DeployKind::AfcBlueprint => DeployAs::AccountFactory,
        // The Service Catalog emitter names the portfolio's launch role.
        DeployKind::ServiceCatalogProduct => DeployAs::LaunchRole("launch role".into()),
        DeployKind::Stack => match s.account {
            AccountRef::Management => DeployAs::Management,
            _ if p.pipeline.is_some() => DeployAs::Pipeline(mlz_model::pipeline_deploy_role(
                &p.organization.stack_prefix,
            )),
            a if enrolled(p, a) => DeployAs::ControlTowerExecution,
            _ => DeployAs::OrganizationAccountAccess,
        },
    }
}

/// Facts that hold before anything mlz generates deploys, and why mlz may assume them.
fn preconditions(p: &Platform) -> HashMap<Fact, String> {
    let mut pre = HashMap::new();
    pre.insert(
        Fact::AccountExists(AccountRef::Management),
        "the management account exists before everything".to_owned(),
    );
    let ct = p.control_tower.as_ref().filter(|c| c.enabled);
    let lz_by_mlz = ct.is_some_and(|c| c.landing_zone.is_some());
    if ct.is_some() && !lz_by_mlz {
        pre.insert(
            Fact::LandingZone,
            "Control Tower's landing zone is set up before mlz's stacks (controlTower.landingZone is not given)".to_owned(),
        );
        pre.insert(
            Fact::ControlTowerRegions,
            "the config's homeRegion and governedRegions are the landing zone's home and governed regions (check them in the Control Tower console, Landing zone settings)".to_owned(),
        );
        pre.insert(
            Fact::PolicyTypeEnabled("SERVICE_CONTROL_POLICY"),
            "Control Tower enables service control policies when it sets up the landing zone"
                .to_owned(),
        );
    }
    for (i, ou) in p.ous.iter().enumerate() {
        let o = OuIdx(i);
        match ou.created_by {
            CreatedBy::Mlz => {}
            CreatedBy::ControlTower => {
                pre.insert(
                    Fact::OuExists(o),
                    "Control Tower created it (createdBy: controlTower)".to_owned(),
                );
                if !lz_by_mlz {
                    pre.insert(
                        Fact::OuRegistered(o),
                        "Control Tower registers the OUs it creates".to_owned(),
                    );
                }
            }
            CreatedBy::External => {
                pre.insert(
                    Fact::OuExists(o),
                    "the config says it was created outside mlz (createdBy: external)".to_owned(),
                );
            }
        }
    }
    for (i, a) in p.accounts.iter().enumerate() {
        let r = AccountRef::Account(mlz_model::AccountIdx(i));
        let exists = match a.created_by {
            CreatedBy::Mlz => a.id.is_some(),
            // With the landing zone set up by mlz, its log archive and audit accounts exist
            // before it: its manifest takes their ids (Control Tower guide, "Getting started
            // with AWS Control Tower using APIs": create the shared accounts with
            // Organizations first).
            CreatedBy::ControlTower | CreatedBy::External => true,
        };
        if !exists {
            continue;
        }
        let how = match a.created_by {
            CreatedBy::ControlTower if lz_by_mlz => {
                "created with AWS Organizations before the landing zone, which takes its id"
            }
            CreatedBy::ControlTower => "Control Tower created it with the landing zone",
            CreatedBy::External => {
                "the config says it was created outside mlz (createdBy: external)"
            }
            CreatedBy::Mlz => "the config gives its id, so it exists already",
        };
        pre.insert(Fact::AccountExists(r), how.to_owned());
        let role = if enrolled(p, r) {
            CONTROL_TOWER_EXECUTION_ROLE
        } else {
            ORGANIZATION_ACCESS_ROLE
        };
        let why = match a.created_by {
            CreatedBy::ControlTower => "Control Tower creates it in the accounts it creates".to_owned(),
            _ => format!(
                "Control Tower and Organizations create {role} in the accounts they create; in an account invited into the organisation, create it by hand before deploying"
            ),
        };
        pre.insert(
            Fact::Role {
                account: r,
                name: role.to_owned(),
            },
            why,
        );
    }
    // The pipeline's bootstrap installs its CloudFormation role in every member account, and
    // in accounts vended later by automatic deployment (its resolve action waits for it).
    if p.pipeline.is_some() {
        let role = mlz_model::pipeline_deploy_role(&p.organization.stack_prefix);
        for i in 0..p.accounts.len() {
            pre.insert(
                Fact::Role {
                    account: AccountRef::Account(mlz_model::AccountIdx(i)),
                    name: role.clone(),
                },
                "pipeline/roles-management (deployed by hand before the pipeline) puts it in every member account with a service-managed StackSet that also deploys to accounts that join later".to_owned(),
            );
        }
    }
    pre
}

/// Every import, parameter and document reference as an export fact, with the node's
/// declared needs, the account and deployer needs.
fn needs_of(p: &Platform, s: &Stack, deploy_as: &DeployAs) -> Result<Vec<Need>, EmitError> {
    let mut needs = s.requires.clone();
    if s.account != AccountRef::Management && s.deploy != DeployKind::StackSet {
        needs.push(Need::new(
            Fact::AccountExists(s.account),
            &rules::ACCOUNT_FIRST,
        ));
        if let (DeployKind::Stack, Some(role)) = (s.deploy, deploy_as.role_name()) {
            needs.push(Need::new(
                Fact::Role {
                    account: s.account,
                    name: role.to_owned(),
                },
                &rules::ACCOUNT_FIRST,
            ));
        }
    }
    let mut imported = BTreeSet::new();
    for r in s.template.resources.values() {
        for v in r.properties.values() {
            v.walk(&mut |v| {
                if let Value::ImportValue(inner) = v {
                    if let Value::Str(name) = inner.as_ref() {
                        imported.insert(name.clone());
                    }
                }
            });
        }
    }
    for o in s.template.outputs.values() {
        o.value.walk(&mut |v| {
            if let Value::ImportValue(inner) = v {
                if let Value::Str(name) = inner.as_ref() {
                    imported.insert(name.clone());
                }
            }
        });
    }
    // A product version or an AFC blueprint is not deployed where it is declared: its imports
    // are read when it is launched in a consumer account (the platform VPC its blueprint
    // exports there), so they are launch-time needs, documented per product, not plan edges.
    if matches!(
        s.deploy,
        DeployKind::ServiceCatalogProduct | DeployKind::AfcBlueprint
    ) {
        imported.clear();
    }
    for name in imported {
        needs.push(Need::new(
            Fact::Export {
                name,
                account: s.account,
                region: s.region.clone(),
            },
            &rules::EXPORT_FIRST,
        ));
    }
    for prm in &s.parameters {
        if let Some(e) = &prm.from_export {
            needs.push(Need::new(export_fact(p, e)?, &rules::EXPORT_FIRST));
        }
    }
    if s.upload.is_some() {
        needs.push(Need::new(
            Fact::Uploaded(s.id.clone()),
            &rules::UPLOAD_FIRST,
        ));
    }
    if !s.imports.is_empty() {
        needs.push(Need::new(
            Fact::Imported(s.id.clone()),
            &rules::IMPORT_FIRST,
        ));
    }
    Ok(needs)
}

pub fn export_fact(p: &Platform, e: &ExportRef) -> Result<Fact, EmitError> {
    Ok(Fact::Export {
        name: e.key.name(p)?,
        account: e.account,
        region: e.region.clone(),
    })
}

/// What a stack provides: its declared facts and the exports of its outputs.
fn provides_of(s: &Stack) -> Vec<Fact> {
    let mut out = s.provides.clone();
    if s.deploy == DeployKind::Stack {
        for o in s.template.outputs.values() {
            if let Some(Value::Str(name)) = &o.export {
                out.push(Fact::Export {
                    name: name.clone(),
                    account: s.account,
                    region: s.region.clone(),
                });
            }
        }
    }
    out
}

/// The providers of every fact (stacks by index, then steps after them), each export's
/// stack wherever it is, and an error for an export made twice in one account and region.
#[allow(clippy::type_complexity)]
fn providers(
    stacks: &[Stack],
    steps: &[ManualStep],
    files: &[String],
    errs: &mut Vec<EmitError>,
) -> (HashMap<Fact, Vec<usize>>, HashMap<String, usize>) {
    let n_stacks = stacks.len();
    let mut providers: HashMap<Fact, Vec<usize>> = HashMap::new();
    let mut export_anywhere: HashMap<String, usize> = HashMap::new();
    for (i, s) in stacks.iter().enumerate() {
        for f in provides_of(s) {
            if let Fact::Export { name, .. } = &f {
                export_anywhere.insert(name.clone(), i);
                if let Some(prev) = providers.get(&f).and_then(|v| v.first()) {
                    errs.push(EmitError {
                        template: files[i].clone(),
                        message: format!(
                            "export {name} is also exported by {} in the same account and region",
                            files[*prev]
                        ),
                        hint: None,
                    });
                }
            }
            providers.entry(f).or_default().push(i);
        }
    }
    for (j, st) in steps.iter().enumerate() {
        for f in &st.provides {
            providers.entry(f.clone()).or_default().push(n_stacks + j);
        }
    }
    (providers, export_anywhere)
}

/// Links the plan: needs to providers, waves, deployers, checks and critical paths.
pub fn link(
    p: &Platform,
    stacks: &[Stack],
    steps: &[ManualStep],
    files: &[String],
    ext: &str,
) -> Result<Plan, Vec<EmitError>> {
    let n_stacks = stacks.len();
    let n = n_stacks + steps.len();
    let name_of = |i: usize| -> String {
        if i < n_stacks {
            files[i].clone()
        } else {
            format!("manual step {}", steps[i - n_stacks].id)
        }
    };
    let mut errs = Vec::new();
    let deploy_as: Vec<DeployAs> = stacks
        .iter()
        .map(|s| {
            s.deploy_as
                .clone()
                .unwrap_or_else(|| default_deploy_as(p, s))
        })
        .collect();
    let (providers, export_anywhere) = providers(stacks, steps, files, &mut errs);
    let assumed = preconditions(p);
    let mut used_pre: BTreeMap<Fact, String> = BTreeMap::new();
    let mut depends_on: Vec<BTreeMap<NodeRef, Vec<u32>>> = vec![BTreeMap::new(); n];
    let mut deps_idx: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    let mut all_needs: Vec<Vec<Need>> = Vec::with_capacity(n);
    // One error per missing fact and rule, naming every node that needs it.
    #[allow(clippy::type_complexity)]
    let mut unmet: BTreeMap<(Fact, &'static str), (&'static Rule, Vec<usize>)> = BTreeMap::new();
    let mut resolve = |i: usize, mut needs: Vec<Need>| {
        // The same need twice (two products of one launch role) is one need.
        needs.sort_by(|a, b| a.fact.cmp(&b.fact));
        needs.dedup_by(|a, b| a.fact == b.fact);
        for (k, need) in needs.iter().enumerate() {
            match providers.get(&need.fact) {
                Some(list) => {
                    for &j in list {
                        if j != i {
                            deps_idx[i].insert(j);
                            depends_on[i]
                                .entry(node_ref(n_stacks, j))
                                .or_default()
                                .push(k as u32);
                        }
                    }
                }
                None => match assumed.get(&need.fact) {
                    Some(why) => {
                        used_pre.insert(need.fact.clone(), why.clone());
                    }
                    None => unmet
                        .entry((need.fact.clone(), need.rule.id))
                        .or_insert_with(|| (need.rule, Vec::new()))
                        .1
                        .push(i),
                },
            }
        }
        all_needs.push(needs);
    };
    // Each stack's needs (a walk of its whole template) on every core; resolved in order.
    let indices: Vec<usize> = (0..stacks.len()).collect();
    let stack_needs =
        crate::common::parallel_map(&indices, |&i| needs_of(p, &stacks[i], &deploy_as[i]));
    for (i, found) in stack_needs.into_iter().enumerate() {
        match found {
            Ok(needs) => resolve(i, needs),
            Err(e) => {
                errs.push(e);
                resolve(i, Vec::new());
            }
        }
    }
    for (j, st) in steps.iter().enumerate() {
        let mut needs = st.requires.clone();
        if st.account != AccountRef::Management {
            needs.push(Need::new(
                Fact::AccountExists(st.account),
                &rules::ACCOUNT_FIRST,
            ));
        }
        resolve(n_stacks + j, needs);
    }
    for ((fact, _), (rule, nodes)) in &unmet {
        let names: Vec<String> = nodes.iter().map(|&i| name_of(i)).collect();
        errs.push(missing(
            p,
            &names.join(", "),
            fact,
            rule,
            &export_anywhere,
            files,
            ext,
        ));
    }
    scp::check(p, stacks, &deploy_as, files, &mut errs);
    check_stack_sets(stacks, files, &mut errs);
    check_lambdas(stacks, files, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }
    let (waves_idx, wave_of) = match waves(n, &deps_idx, &name_of) {
        Ok(w) => w,
        Err(e) => return Err(vec![e]),
    };
    let limits = critical_paths(p, stacks, &deps_idx, &waves_idx);
    let waves = waves_idx
        .iter()
        .map(|w| w.iter().map(|&i| node_ref(n_stacks, i)).collect())
        .collect();
    Ok(Plan {
        depends_on,
        needs: all_needs,
        wave_of,
        waves,
        deploy_as,
        preconditions: used_pre
            .into_iter()
            .map(|(fact, why)| Precondition { fact, why })
            .collect(),
        limits,
        stacks: n_stacks,
    })
}

fn missing(
    p: &Platform,
    node: &str,
    fact: &Fact,
    rule: &Rule,
    export_anywhere: &HashMap<String, usize>,
    files: &[String],
    ext: &str,
) -> EmitError {
    let mut message = format!(
        "requires that {}, but nothing provides it [{}]: {} (source: {})",
        fact.describe(p, ext),
        rule.id,
        rule.text,
        rule.source
    );
    if let Fact::Export { name, .. } = fact {
        if let Some(&j) = export_anywhere.get(name) {
            message.push_str(&format!(
                "; {} exports it in another account or region",
                files[j]
            ));
        }
    }
    EmitError {
        template: node.to_owned(),
        message,
        hint: Some(rule.hint.to_owned()),
    }
}

/// Deployment waves: every node in a wave depends only on nodes of earlier waves.
#[allow(clippy::type_complexity)]
fn waves(
    n: usize,
    deps: &[BTreeSet<usize>],
    name_of: &dyn Fn(usize) -> String,
) -> Result<(Vec<Vec<usize>>, Vec<usize>), EmitError> {
    let mut indeg = vec![0usize; n];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, d) in deps.iter().enumerate() {
        indeg[i] = d.len();
        for &j in d {
            users[j].push(i);
        }
    }
    let mut wave: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    let mut out = Vec::new();
    let mut wave_of = vec![0usize; n];
    let mut placed = 0;
    let names: Vec<String> = (0..n).map(name_of).collect();
    while !wave.is_empty() {
        wave.sort_by(|&a, &b| names[a].cmp(&names[b]));
        let mut next = Vec::new();
        for &i in &wave {
            wave_of[i] = out.len() + 1;
            for &u in &users[i] {
                indeg[u] -= 1;
                if indeg[u] == 0 {
                    next.push(u);
                }
            }
        }
        placed += wave.len();
        out.push(std::mem::replace(&mut wave, next));
    }
    if placed < n {
        let stuck: Vec<String> = (0..n)
            .filter(|&i| indeg[i] > 0)
            .map(|i| names[i].clone())
            .collect();
        return Err(EmitError {
            template: stuck.join(", "),
            message: "these nodes need facts from each other in a cycle: each would have to deploy before the other".into(),
            hint: Some("this is a bug in mlz: please report it with your config".into()),
        });
    }
    Ok((out, wave_of))
}

/// For each limited resource: the longest chain of operations along dependencies.
fn critical_paths(
    p: &Platform,
    stacks: &[Stack],
    deps: &[BTreeSet<usize>],
    waves: &[Vec<usize>],
) -> Vec<LimitReport> {
    let mut out = Vec::new();
    for resource in [Limited::AccountFactory, Limited::OrganizationsAccounts] {
        let weight = |i: usize| -> u32 {
            stacks
                .get(i)
                .and_then(|s| s.operations)
                .filter(|(r, _)| *r == resource)
                .map_or(0, |(_, w)| w)
        };
        let total: u32 = (0..stacks.len()).map(weight).sum();
        if total == 0 {
            continue;
        }
        let n = deps.len();
        let mut best = vec![0u32; n];
        let mut from: Vec<Option<usize>> = vec![None; n];
        for w in waves {
            for &i in w {
                let (b, f) = deps[i]
                    .iter()
                    .map(|&d| (best[d], Some(d)))
                    .max_by_key(|(b, _)| *b)
                    .unwrap_or((0, None));
                best[i] = b + weight(i);
                from[i] = if b > 0 { f } else { None };
            }
        }
        let Some(end) = (0..n).max_by_key(|&i| (best[i], std::cmp::Reverse(i))) else {
            continue;
        };
        let mut chain = Vec::new();
        let mut cur = Some(end);
        while let Some(i) = cur {
            if weight(i) > 0 {
                chain.push(node_ref(stacks.len(), i));
            }
            cur = from[i];
        }
        chain.reverse();
        let limit = match resource {
            Limited::AccountFactory => p
                .control_tower
                .as_ref()
                .map_or(1, |c| c.account_factory_concurrency),
            Limited::OrganizationsAccounts => 1,
        };
        out.push(LimitReport {
            resource,
            limit,
            operations: total,
            critical_path: best[end],
            chain,
        });
    }
    out
}

/// No function reserves concurrency: mlz's templates (and the user's blueprints and products)
/// deploy into accounts that Control Tower has just vended.
fn check_lambdas(stacks: &[Stack], files: &[String], errs: &mut Vec<EmitError>) {
    for (i, s) in stacks.iter().enumerate() {
        for (id, r) in &s.template.resources {
            if r.resource_type == crate::types::LAMBDA_FUNCTION
                && r.properties.get("ReservedConcurrentExecutions").is_some()
            {
                let rule = &rules::LAMBDA_RESERVED_CONCURRENCY;
                errs.push(EmitError {
                    template: files[i].clone(),
                    message: format!(
                        "function {id} sets ReservedConcurrentExecutions [{}]: {} (source: {})",
                        rule.id, rule.text, rule.source
                    ),
                    hint: Some(rule.hint.into()),
                });
            }
        }
    }
}

/// A StackSet's template must get the capabilities it needs from the StackSet resource.
fn check_stack_sets(stacks: &[Stack], files: &[String], errs: &mut Vec<EmitError>) {
    let by_id: HashMap<&StackId, usize> =
        stacks.iter().enumerate().map(|(i, s)| (&s.id, i)).collect();
    for (i, s) in stacks.iter().enumerate() {
        let Some(t) = &s.stack_set else { continue };
        let needed = capabilities(&s.template);
        let granted: Vec<String> = by_id
            .get(&t.holder)
            .and_then(|&h| stacks[h].template.resources.get(&t.resource))
            .and_then(|r| r.properties.get("Capabilities"))
            .map(|v| match v {
                Value::List(l) => l
                    .iter()
                    .filter_map(|x| match x {
                        Value::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            })
            .unwrap_or_default();
        for c in needed {
            // CAPABILITY_NAMED_IAM covers CAPABILITY_IAM.
            let ok = granted.iter().any(|g| g == c)
                || (c == "CAPABILITY_IAM" && granted.iter().any(|g| g == "CAPABILITY_NAMED_IAM"));
            if !ok {
                errs.push(EmitError {
                    template: files[i].clone(),
                    message: format!(
                        "needs {c}, which its StackSet in {} does not list [{}]: {} (source: {})",
                        t.holder.path(),
                        rules::STACK_SET_CAPABILITIES.id,
                        rules::STACK_SET_CAPABILITIES.text,
                        rules::STACK_SET_CAPABILITIES.source
                    ),
                    hint: Some(rules::STACK_SET_CAPABILITIES.hint.into()),
                });
            }
        }
    }
}

/// The capabilities CloudFormation demands to deploy a template: CAPABILITY_NAMED_IAM when
/// an IAM resource has a custom name, CAPABILITY_IAM for other IAM resources, and
/// CAPABILITY_AUTO_EXPAND for macros (`Transform`) and nested stacks.
pub fn capabilities(t: &mlz_cfn::Template) -> Vec<&'static str> {
    const NAMES: &[&str] = &[
        "RoleName",
        "ManagedPolicyName",
        "UserName",
        "GroupName",
        "InstanceProfileName",
    ];
    let mut iam = false;
    let mut named = false;
    let mut expand = t.extra_sections.contains_key("Transform");
    for r in t.resources.values() {
        if r.resource_type.starts_with(crate::types::IAM_TYPE_PREFIX) {
            iam = true;
            if NAMES.iter().any(|n| r.properties.get(n).is_some()) {
                named = true;
            }
        }
        if r.resource_type == crate::types::CFN_STACK {
            expand = true;
        }
    }
    let mut out = Vec::new();
    if named {
        out.push("CAPABILITY_NAMED_IAM");
    } else if iam {
        out.push("CAPABILITY_IAM");
    }
    if expand {
        out.push("CAPABILITY_AUTO_EXPAND");
    }
    out
}
