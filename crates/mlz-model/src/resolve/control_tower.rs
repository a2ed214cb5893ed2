//! Control Tower: the landing zone, baselines, control sets and controls, and the AFC
//! blueprints (their hub, targets, regions and delivery), resolved against OUs and accounts.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::Value;

use serde::Deserialize;

use super::templates::{missing_stack_actions, BLUEPRINT};
use super::{Accounts, Context, Namespace, Resolver};
use crate::blueprints;
use crate::diag::did_you_mean;
use crate::model::*;
use crate::path::ConfigPath;

// The section as the config writes it: field for field what the schema allows (see raw.rs).

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawControlTower {
    pub enabled: Option<bool>,
    pub account_factory_product: Option<String>,
    pub account_factory_concurrency: Option<u32>,
    pub baseline: Option<RawBaseline>,
    #[serde(default)]
    pub control_sets: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub controls: Vec<RawControls>,
    pub blueprint_delivery: Option<RawBlueprintDelivery>,
    pub blueprint_hub: Option<RawHub>,
    #[serde(default)]
    pub blueprints: Vec<RawBlueprint>,
    pub landing_zone: Option<RawLandingZone>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawLandingZone {
    pub version: String,
    pub log_archive_account: String,
    pub audit_account: String,
    pub security_ou: Option<String>,
    pub sandbox_ou: Option<String>,
    pub log_retention_days: Option<u32>,
    pub access_log_retention_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawBaseline {
    pub version: Option<String>,
    pub identity_center_enabled_baseline_arn: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawControls {
    pub ous: Vec<String>,
    #[serde(default)]
    pub sets: Vec<String>,
    #[serde(default)]
    pub enable: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub parameters: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(super) enum RawBlueprintDelivery {
    Afc,
    StackSets,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawHub {
    pub account: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawBlueprint {
    pub name: String,
    pub file: Option<String>,
    pub description: Option<String>,
    pub regions: Option<Vec<String>>,
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub stages: Vec<String>,
    #[serde(default)]
    pub ous: Vec<String>,
    #[serde(default)]
    pub parameters: BTreeMap<String, serde_json::Value>,
    pub provisioning_policy: Option<serde_json::Map<String, serde_json::Value>>,
}

const DEFAULT_FACTORY_PRODUCT: &str = "AWS Control Tower Account Factory";
const DEFAULT_BASELINE_VERSION: &str = "4.0";
const DEFAULT_HUB: &str = "Shared Services";

/// A control identifier as written → its ARN in the home region.
fn control_arn(id: &str, home: &str) -> Option<String> {
    if id.starts_with("arn:aws:controltower:") || id.starts_with("arn:aws:controlcatalog:") {
        return Some(id.to_owned());
    }
    let ok = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    ok.then(|| format!("arn:aws:controltower:{home}::control/{id}"))
}

/// Which blueprint each account, stage and OU claims (config index, and where), and the
/// index each loaded blueprint got.
struct Claims {
    by_account: HashMap<AccountIdx, (usize, ConfigPath)>,
    by_stage: HashMap<String, (usize, ConfigPath)>,
    by_ou: HashMap<OuIdx, (usize, ConfigPath)>,
    loaded_as: HashMap<usize, usize>,
}

impl Resolver<'_> {
    pub(super) fn control_tower(
        &mut self,
        mut raw: RawControlTower,
        cx: &Context<'_>,
    ) -> Option<ControlTower> {
        let (org, accounts) = (cx.org, cx.accounts);
        let base = ConfigPath::root().key("controlTower");
        let home = org.home_region.as_str();

        let controls = self.controls(&raw, &base, home, cx);

        let delivery = match raw.blueprint_delivery {
            Some(RawBlueprintDelivery::StackSets) => BlueprintDelivery::StackSets,
            _ => BlueprintDelivery::Afc,
        };
        let stack_sets = delivery == BlueprintDelivery::StackSets;
        if stack_sets && raw.blueprint_hub.is_some() {
            let d = self
                .at(
                    "afc-setting-unused",
                    &base.key("blueprintHub"),
                    "blueprintHub is the AFC hub: with blueprintDelivery stackSets there is none",
                )
                .warning()
                .hint("remove blueprintHub, or set blueprintDelivery to afc");
            self.push(d);
        }
        let hub = if !raw.blueprints.is_empty() && !stack_sets {
            self.blueprint_hub(raw.blueprint_hub.take(), &base, home, cx, accounts)
        } else {
            None
        };

        // Blueprints: load, check, and decide which account gets which.
        let (mut blueprints_out, claims) =
            self.blueprints(&raw.blueprints, &base, org, cx, accounts, stack_sets);
        self.assign_blueprints(accounts, cx, stack_sets, &claims, &mut blueprints_out);

        let landing_zone = match &raw.landing_zone {
            Some(lz) => self.landing_zone(lz, &base.key("landingZone"), cx, accounts),
            None => None,
        };

        Some(ControlTower {
            enabled: raw.enabled.unwrap_or(true),
            landing_zone,
            account_factory_product: raw
                .account_factory_product
                .unwrap_or_else(|| DEFAULT_FACTORY_PRODUCT.to_owned()),
            account_factory_concurrency: raw
                .account_factory_concurrency
                .unwrap_or(crate::model::DEFAULT_ACCOUNT_FACTORY_CONCURRENCY),
            baseline_version: raw
                .baseline
                .as_ref()
                .and_then(|b| b.version.clone())
                .unwrap_or_else(|| DEFAULT_BASELINE_VERSION.to_owned()),
            identity_center_baseline_arn: raw
                .baseline
                .and_then(|b| b.identity_center_enabled_baseline_arn),
            controls,
            blueprint_delivery: delivery,
            hub,
            blueprints: blueprints_out,
        })
    }

    /// The blueprints: each loaded and checked (built-in or from a file), its regions and
    /// parameters, and the claims of accounts, stages and OUs on it (at most one blueprint
    /// per account at each level: AFC allows one).
    fn blueprints(
        &mut self,
        raw_blueprints: &[RawBlueprint],
        base: &ConfigPath,
        org: &Organization,
        cx: &Context<'_>,
        accounts: &Accounts,
        stack_sets: bool,
    ) -> (Vec<Blueprint>, Claims) {
        let home = org.home_region.as_str();
        let mut blueprints_out: Vec<Blueprint> = Vec::new();
        let mut claims = Claims {
            by_account: HashMap::new(),
            by_stage: HashMap::new(),
            by_ou: HashMap::new(),
            loaded_as: HashMap::new(),
        };
        let mut names_seen: HashMap<String, ConfigPath> = HashMap::new();
        for (i, b) in raw_blueprints.iter().enumerate() {
            let p = base.key("blueprints").index(i);
            if !self.declare_once(
                &mut names_seen,
                &b.name,
                p.key("name"),
                "duplicate-blueprint",
                "blueprint",
            ) {
                continue;
            }
            // Claims use the position in the config; `loaded_as` maps it to the loaded blueprint.
            self.claims_of(i, b, &p, raw_blueprints, cx, accounts, &mut claims);
            let regions = self.blueprint_regions(b, &p, org, stack_sets);
            if b.file.is_some() && blueprints::builtin(&b.name).is_some() {
                let d = self
                    .at(
                        "blueprint-name-taken",
                        &p.key("name"),
                        format!("{:?} is a built-in blueprint's name", b.name),
                    )
                    .hint("give your own blueprint another name");
                self.push(d);
            }
            let Some(loaded) = self.load_template(&BLUEPRINT, &b.name, b.file.as_deref(), &p)
            else {
                continue;
            };
            let template = match loaded {
                Ok((t, warnings)) => {
                    self.diags.extend(warnings);
                    t
                }
                Err(diags) => {
                    self.diags.extend(diags);
                    continue;
                }
            };
            let mut parameters = BTreeMap::new();
            for (k, v) in &b.parameters {
                let known = mlz_cfn::LogicalId::new(k.as_str())
                    .is_ok_and(|id| template.parameters.contains_key(&id));
                if !known {
                    let names: Vec<String> = template
                        .parameters
                        .keys()
                        .map(ToString::to_string)
                        .collect();
                    let d = self
                        .at(
                            "unknown-blueprint-parameter",
                            &p.key("parameters").key(k),
                            format!("blueprint {:?} has no parameter {k:?}", b.name),
                        )
                        .expected(format!("one of: {}", names.join(", ")))
                        .maybe_hint(did_you_mean(k, names.iter().map(String::as_str)));
                    self.push(d);
                }
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                parameters.insert(k.clone(), text);
            }
            // Account-wide resources of a blueprint in several regions are made in one: the
            // home region when it is one of them (an IAM role name is unique in the account).
            let primary = mlz_cfn::LogicalId::new("PrimaryRegion")
                .is_ok_and(|id| template.parameters.contains_key(&id));
            if primary && regions.len() > 1 && !parameters.contains_key("PrimaryRegion") {
                let r = if regions.iter().any(|r| r == home) {
                    home.to_owned()
                } else {
                    regions[0].clone()
                };
                parameters.insert("PrimaryRegion".to_owned(), r);
            }
            // EBS encryption by default is a setting of each region: the blueprint turns it
            // on in every governed region, wherever it runs (docs/aws-rules.md).
            let ebs = mlz_cfn::LogicalId::new("EbsEncryptionRegions")
                .is_ok_and(|id| template.parameters.contains_key(&id));
            if ebs && !parameters.contains_key("EbsEncryptionRegions") {
                parameters.insert(
                    "EbsEncryptionRegions".to_owned(),
                    org.governed_regions.join(","),
                );
            }
            claims.loaded_as.insert(i, blueprints_out.len());
            blueprints_out.push(Blueprint {
                name: b.name.clone(),
                description: b
                    .description
                    .clone()
                    .unwrap_or_else(|| template.description.clone()),
                builtin: b.file.is_none(),
                template,
                regions,
                parameters,
                provisioning_policy: b.provisioning_policy.clone().map(Value::Object),
                accounts: Vec::new(),
                config_index: i,
            });
        }
        (blueprints_out, claims)
    }

    /// A blueprint's regions (under AFC the home region alone, or every governed region; a
    /// StackSet deploys to any governed regions), and its provisioning policy, which only AFC
    /// uses and which must leave the stack actions allowed.
    fn blueprint_regions(
        &mut self,
        b: &RawBlueprint,
        p: &ConfigPath,
        org: &Organization,
        stack_sets: bool,
    ) -> Vec<String> {
        let home = org.home_region.as_str();
        let regions = b.regions.clone().unwrap_or_else(|| vec![home.to_owned()]);
        let set: BTreeSet<&String> = regions.iter().collect();
        let governed: BTreeSet<&String> = org.governed_regions.iter().collect();
        if stack_sets {
            for (k, r) in regions.iter().enumerate() {
                if !governed.contains(r) {
                    let d = self
                        .at("blueprint-region-not-governed", &p.key("regions").index(k), format!("blueprint {:?} deploys to {r}, which is not a governed region", b.name))
                        .expected(format!("one of {}", org.governed_regions.join(", ")))
                        .hint("the region-deny policy and Control Tower govern only organization.governedRegions: add the region there, or leave it out");
                    self.push(d);
                }
            }
        } else if !(regions.len() == 1 && regions[0] == home) && set != governed {
            let d = self
                .at("afc-blueprint-regions", &p.key("regions"), format!("blueprint {:?} deploys to {}", b.name, regions.join(", ")))
                .expected(format!("the home region alone ({home}) or every governed region ({})", org.governed_regions.join(", ")))
                .hint("AFC deploys a blueprint to the home region or to all governed regions, nothing in between");
            self.push(d);
        }
        if let (true, Some(_)) = (stack_sets, &b.provisioning_policy) {
            let d = self
                .at(
                    "afc-setting-unused",
                    &p.key("provisioningPolicy"),
                    format!("the provisioning policy of {:?} is AFC's: a StackSet deploys with its own execution role", b.name),
                )
                .warning()
                .hint("remove provisioningPolicy, or set blueprintDelivery to afc");
            self.push(d);
        } else if let Some(policy) = &b.provisioning_policy {
            let missing = missing_stack_actions(&Value::Object(policy.clone()));
            if !missing.is_empty() {
                let d = self
                    .at("afc-provisioning-policy", &p.key("provisioningPolicy"), format!("the custom provisioning policy of {:?} does not allow {}", b.name, missing.join(", ")))
                    .hint("Service Catalog deploys the blueprint as a CloudFormation stack with this policy: allow those actions (and deny none of them)");
                self.push(d);
            }
        }
        regions
    }

    /// The claims of blueprint `idx` (its position in the config), most specific first:
    /// accounts, stages, OUs. Two claims at one level is two blueprints for one account,
    /// which AFC does not allow.
    #[allow(clippy::too_many_arguments)]
    fn claims_of(
        &mut self,
        idx: usize,
        b: &RawBlueprint,
        p: &ConfigPath,
        raw_blueprints: &[RawBlueprint],
        cx: &Context<'_>,
        accounts: &Accounts,
        claims: &mut Claims,
    ) {
        for (j, a) in b.accounts.iter().enumerate() {
            let ap = p.key("accounts").index(j);
            match self.account_ref(a, &ap, accounts, cx) {
                Some(AccountRef::Account(ai)) => self.claim(
                    &mut claims.by_account,
                    ai,
                    idx,
                    &ap,
                    &format!("account {a:?}"),
                    raw_blueprints,
                ),
                Some(AccountRef::Management) => {
                    let d = self.at(
                        "afc-management-account",
                        &ap,
                        "the management account is never vended, so it takes no blueprint",
                    );
                    self.push(d);
                }
                None => {}
            }
        }
        for (j, st) in b.stages.iter().enumerate() {
            let sp = p.key("stages").index(j);
            if cx.stages.contains_key(st) {
                self.claim(
                    &mut claims.by_stage,
                    st.clone(),
                    idx,
                    &sp,
                    &format!("the accounts of stage {st:?}"),
                    raw_blueprints,
                );
            } else {
                self.unknown(
                    "unknown-stage",
                    st,
                    &sp,
                    Namespace {
                        what: "stage",
                        list: "stages",
                        known: cx.stages,
                        poisoned: cx.bad_stages,
                    },
                );
            }
        }
        for (j, o) in b.ous.iter().enumerate() {
            let op = p.key("ous").index(j);
            if let Some(ou) = self.lookup_ou(o, &op, cx.ou_names, cx.bad_ous) {
                self.claim(
                    &mut claims.by_ou,
                    ou,
                    idx,
                    &op,
                    &format!("the accounts of OU {o:?}"),
                    raw_blueprints,
                );
            }
        }
    }

    /// Controls: sets, additions and exclusions, merged per OU in OU order.
    fn controls(
        &mut self,
        raw: &RawControlTower,
        base: &ConfigPath,
        home: &str,
        cx: &Context<'_>,
    ) -> Vec<OuControls> {
        let mut per_ou: BTreeMap<OuIdx, Vec<Control>> = BTreeMap::new();
        for (i, entry) in raw.controls.iter().enumerate() {
            let p = base.key("controls").index(i);
            let ous = self.ou_list(&entry.ous, &p.key("ous"), cx);
            let mut ids: Vec<(String, ConfigPath)> = Vec::new();
            for (j, set) in entry.sets.iter().enumerate() {
                match raw.control_sets.get(set) {
                    Some(list) => ids.extend(
                        list.iter()
                            .enumerate()
                            .map(|(k, id)| (id.clone(), base.key("controlSets").key(set).index(k))),
                    ),
                    None => {
                        let d = self
                            .at(
                                "unknown-control-set",
                                &p.key("sets").index(j),
                                format!("no control set is named {set:?}"),
                            )
                            .expected("the name of an entry in controlTower.controlSets")
                            .maybe_hint(did_you_mean(
                                set,
                                raw.control_sets.keys().map(String::as_str),
                            ));
                        self.push(d);
                    }
                }
            }
            ids.extend(
                entry
                    .enable
                    .iter()
                    .enumerate()
                    .map(|(k, id)| (id.clone(), p.key("enable").index(k))),
            );
            let excluded: HashSet<&str> = entry.exclude.iter().map(String::as_str).collect();
            for (k, x) in entry.exclude.iter().enumerate() {
                if !ids.iter().any(|(id, _)| id == x) {
                    let d = self
                        .at(
                            "control-not-enabled",
                            &p.key("exclude").index(k),
                            format!("{x:?} is excluded but none of this entry's sets enables it"),
                        )
                        .warning()
                        .hint("remove it from `exclude`, or check the spelling");
                    self.push(d);
                }
            }
            let mut controls = Vec::new();
            let mut seen = HashSet::new();
            for (id, idp) in ids {
                if excluded.contains(id.as_str()) || !seen.insert(id.clone()) {
                    continue;
                }
                match control_arn(&id, home) {
                    Some(arn) => {
                        let parameters = entry
                            .parameters
                            .get(&id)
                            .map(|m| m.clone().into_iter().collect())
                            .unwrap_or_default();
                        controls.push(Control { arn, parameters });
                    }
                    None => {
                        let d = self
                            .at("bad-control-id", &idp, format!("{id:?} is not a control identifier"))
                            .expected("a control name such as AWS-GR_RESTRICT_ROOT_USER, or a control ARN");
                        self.push(d);
                    }
                }
            }
            for key in entry.parameters.keys() {
                if !seen.contains(key) {
                    let pp = p.key("parameters").key(key);
                    let d = crate::diag::Diagnostic::error(
                        "control-parameters",
                        self.file,
                        Some(self.root.key_span_of(&pp)),
                        pp.clone(),
                        format!(
                            "parameters are given for {key:?}, which this entry does not enable"
                        ),
                    );
                    self.push(d);
                }
            }
            for ou in ous {
                let list = per_ou.entry(ou).or_default();
                for c in &controls {
                    if !list.iter().any(|x| x.arn == c.arn) {
                        list.push(c.clone());
                    }
                }
            }
        }
        per_ou
            .into_iter()
            .map(|(ou, controls)| OuControls { ou, controls })
            .collect()
    }

    /// The AFC hub: a member account (AFC refuses the management account), in the home
    /// region (AFC reads blueprints there only).
    fn blueprint_hub(
        &mut self,
        raw_hub: Option<RawHub>,
        base: &ConfigPath,
        home: &str,
        cx: &Context<'_>,
        accounts: &Accounts,
    ) -> Option<AccountIdx> {
        let mut hub = None;
        {
            let hp = base.key("blueprintHub");
            let hub_raw = raw_hub.unwrap_or_default();
            let name = hub_raw.account.unwrap_or_else(|| DEFAULT_HUB.to_owned());
            let at = if self.root.find(&hp.key("account")).is_some() {
                hp.key("account")
            } else {
                base.key("blueprints")
            };
            if name == accounts.management_name {
                let d = self
                    .at("afc-hub-management", &at, "the AFC blueprint hub cannot be the management account")
                    .hint("AFC refuses the management account as hub; use Shared Services or another member account");
                self.push(d);
            } else {
                if let Some(AccountRef::Account(i)) = self.account_ref(&name, &at, accounts, cx) {
                    hub = Some(i);
                }
            }
            if let Some(r) = &hub_raw.region {
                if r != home {
                    let d = self
                        .at("afc-hub-region", &hp.key("region"), format!("the blueprint hub is in {r}, but Control Tower's home region is {home}"))
                        .hint("AFC reads blueprints from the home region only: remove `region` or set it to the home region");
                    self.push(d);
                }
            }
        }
        hub
    }

    /// Gives each vended account its blueprint (by account, then stage, then the nearest
    /// OU); with StackSets, every account the claims cover, since a StackSet reaches every
    /// account of its OUs, vended or not.
    fn assign_blueprints(
        &mut self,
        accounts: &Accounts,
        cx: &Context<'_>,
        stack_sets: bool,
        claims: &Claims,
        blueprints_out: &mut [Blueprint],
    ) {
        let Claims {
            by_account,
            by_stage,
            by_ou,
            loaded_as,
        } = claims;
        let mut claimed_at: HashMap<AccountIdx, ConfigPath> = HashMap::new();
        // Each account's blueprint (`run` writes it into the accounts afterwards).
        let mut blueprint_of: Vec<Option<usize>> = vec![None; accounts.list.len()];
        for (ai, a) in accounts.list.iter().enumerate() {
            if !stack_sets && (a.created_by != CreatedBy::Mlz || a.id.is_some()) {
                continue;
            }
            let ai = AccountIdx(ai);
            let chosen = by_account
                .get(&ai)
                .or_else(|| a.team.as_ref().and_then(|(_, st)| by_stage.get(st)))
                .or_else(|| {
                    let mut ou = Some(a.ou);
                    while let Some(o) = ou {
                        if let Some(c) = by_ou.get(&o) {
                            return Some(c);
                        }
                        ou = cx.ous[o.0].parent;
                    }
                    None
                })
                .cloned();
            if let Some((b, at)) =
                chosen.and_then(|(raw, at)| loaded_as.get(&raw).map(|&b| (b, at)))
            {
                blueprint_of[ai.0] = Some(b);
                blueprints_out[b].accounts.push(ai);
                claimed_at.insert(ai, at);
            }
        }
        if stack_sets {
            self.whole_ous(accounts, &blueprint_of, cx, blueprints_out, &claimed_at);
        }
    }

    /// A StackSet with automatic deployment reaches every account of its target OUs and of
    /// the OUs below them: each OU that holds an account of a blueprint is a target of that
    /// blueprint's StackSet, so every account in or below it must have that blueprint. One
    /// error per OU that breaks it.
    fn whole_ous(
        &mut self,
        accounts: &Accounts,
        blueprint_of: &[Option<usize>],
        cx: &Context<'_>,
        blueprints: &[Blueprint],
        claimed_at: &HashMap<AccountIdx, ConfigPath>,
    ) {
        let mut target: BTreeMap<OuIdx, (usize, AccountIdx)> = BTreeMap::new();
        for (i, a) in accounts.list.iter().enumerate() {
            if let Some(b) = blueprint_of[i] {
                target.entry(a.ou).or_insert((b, AccountIdx(i)));
            }
        }
        let mut broken: BTreeMap<OuIdx, AccountIdx> = BTreeMap::new();
        for (i, a) in accounts.list.iter().enumerate() {
            let mut ou = Some(a.ou);
            while let Some(o) = ou {
                if let Some(&(b, _)) = target.get(&o) {
                    if blueprint_of[i] != Some(b) {
                        broken.entry(o).or_insert(AccountIdx(i));
                    }
                }
                ou = cx.ous[o.0].parent;
            }
        }
        for (o, other) in broken {
            let (b, first) = target[&o];
            let Some(at) = claimed_at.get(&first) else {
                continue;
            };
            let x = &accounts.list[other.0];
            let has = match blueprint_of[other.0] {
                Some(xb) => format!("blueprint {:?}", blueprints[xb].name),
                None => "no blueprint".to_owned(),
            };
            let d = self
                .at(
                    "stacksets-whole-ou",
                    at,
                    format!(
                        "blueprint {:?} would reach all of OU {:?} by StackSet (through {:?}), but {:?} there has {has}",
                        blueprints[b].name,
                        cx.ous[o.0].path,
                        accounts.list[first.0].name,
                        x.name,
                    ),
                )
                .hint("with blueprintDelivery stackSets a blueprint deploys to whole OUs, nested ones included: give the accounts of each blueprint OUs of their own, or set blueprintDelivery to afc");
            self.push(d);
        }
    }

    fn landing_zone(
        &mut self,
        lz: &RawLandingZone,
        p: &ConfigPath,
        cx: &Context<'_>,
        accounts: &Accounts,
    ) -> Option<LandingZone> {
        let account = |me: &mut Self, name: &str, key: &str| match me.account_ref(
            name,
            &p.key(key),
            accounts,
            cx,
        ) {
            Some(AccountRef::Account(i)) => Some(i),
            Some(AccountRef::Management) => {
                let d = me.at(
                    "landing-zone-account",
                    &p.key(key),
                    "the management account cannot hold the landing zone's logs or audit role",
                );
                me.push(d);
                None
            }
            None => None,
        };
        let log_archive = account(self, &lz.log_archive_account, "logArchiveAccount");
        let audit = account(self, &lz.audit_account, "auditAccount");
        if let (Some(l), Some(a)) = (log_archive, audit) {
            if l == a {
                let d = self.at(
                    "landing-zone-account",
                    &p.key("auditAccount"),
                    "the log archive and audit accounts must be two different accounts",
                );
                self.push(d);
            }
        }
        let security_name = lz
            .security_ou
            .clone()
            .unwrap_or_else(|| "Security".to_owned());
        let security_path = if lz.security_ou.is_some() {
            p.key("securityOu")
        } else {
            p.clone()
        };
        let security_ou = self.lookup_ou(&security_name, &security_path, cx.ou_names, cx.bad_ous);
        let sandbox_ou = match &lz.sandbox_ou {
            Some(n) => Some(self.lookup_ou(n, &p.key("sandboxOu"), cx.ou_names, cx.bad_ous)?),
            None => None,
        };
        Some(LandingZone {
            version: lz.version.clone(),
            log_archive: log_archive?,
            audit: audit?,
            security_ou: security_ou?,
            sandbox_ou,
            log_retention_days: lz.log_retention_days.unwrap_or(365),
            access_log_retention_days: lz.access_log_retention_days.unwrap_or(3650),
        })
    }

    /// Records that blueprint `bp` claims `key`; a second claim on the same key is the AFC
    /// "one blueprint per account" rule broken.
    fn claim<K: std::hash::Hash + Eq>(
        &mut self,
        map: &mut HashMap<K, (usize, ConfigPath)>,
        key: K,
        bp: usize,
        path: &ConfigPath,
        what: &str,
        raw: &[RawBlueprint],
    ) {
        match map.get(&key) {
            Some((other, first)) if *other != bp => {
                let line = self.line_of(first);
                let d = self
                    .at(
                        "afc-one-blueprint",
                        path,
                        format!(
                            "{what} would get two blueprints, {:?} and {:?}",
                            raw.get(*other).map_or("?", |b| b.name.as_str()),
                            raw.get(bp).map_or("?", |b| b.name.as_str())
                        ),
                    )
                    .hint(format!(
                        "AFC applies one blueprint per account; the other claim is on line {line}"
                    ));
                self.push(d);
            }
            Some(_) => {}
            None => {
                map.insert(key, (bp, path.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_ids_become_arns() {
        assert_eq!(
            control_arn("AWS-GR_RESTRICT_ROOT_USER", "eu-west-1").unwrap(),
            "arn:aws:controltower:eu-west-1::control/AWS-GR_RESTRICT_ROOT_USER"
        );
        assert_eq!(
            control_arn("arn:aws:controlcatalog:::control/abc", "eu-west-1").unwrap(),
            "arn:aws:controlcatalog:::control/abc"
        );
        assert!(control_arn("bad id!", "eu-west-1").is_none());
    }
}
