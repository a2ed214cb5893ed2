//! SageMaker Unified Studio: the domain, its domain units, and the associated accounts with
//! the blueprints they enable, checked against accounts and governed regions.

use std::collections::HashMap;

use serde::Deserialize;

use super::Context;
use super::{Accounts, Resolver};
use crate::diag::did_you_mean;
use crate::model::*;
use crate::path::ConfigPath;

// The section as the config writes it: field for field what the schema allows (see raw.rs).

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawUnifiedStudio {
    pub domain: RawStudioDomain,
    #[serde(default)]
    pub associated_accounts: Vec<RawAssociatedAccount>,
    #[serde(default)]
    pub project_profiles: Vec<RawProjectProfile>,
    #[serde(default)]
    pub projects: Vec<RawProject>,
    #[serde(default)]
    pub metadata_forms: Vec<RawMetadataForm>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawMetadataForm {
    pub name: String,
    pub description: Option<String>,
    pub project: String,
    pub fields: Vec<RawFormField>,
    #[serde(default)]
    pub enforce_on: Vec<RawFormEnforcement>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawFormField {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub searchable: bool,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum RawFormEnforcement {
    Publishing,
    Subscription,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawProjectProfile {
    pub name: String,
    pub description: Option<String>,
    pub domain_unit: Option<String>,
    pub blueprints: Vec<String>,
    pub account: Option<String>,
    pub accounts: Option<Vec<String>>,
    pub region: Option<String>,
    #[serde(default)]
    pub creators: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawProject {
    pub name: String,
    pub description: Option<String>,
    pub domain_unit: Option<String>,
    pub profile: String,
    pub account: Option<String>,
    #[serde(default)]
    pub owners: Vec<String>,
    #[serde(default)]
    pub contributors: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawStudioDomain {
    pub name: String,
    pub account: String,
    pub description: Option<String>,
    #[serde(default)]
    pub domain_units: Vec<String>,
    #[serde(default)]
    pub unit_owners: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawAssociatedAccount {
    pub account: String,
    pub regions: Option<Vec<String>>,
    pub blueprints: Vec<String>,
    #[serde(default)]
    pub domain_units: Vec<String>,
}

impl Resolver<'_> {
    pub(super) fn unified_studio(
        &mut self,
        raw: RawUnifiedStudio,
        cx: &Context<'_>,
    ) -> Option<UnifiedStudio> {
        let (org, accounts, ic) = (cx.org, cx.accounts, cx.identity_center);
        let base = ConfigPath::root().key("unifiedStudio");
        let dp = base.key("domain");
        let account = self.account_ref(&raw.domain.account, &dp.key("account"), accounts, cx);
        let mut units: HashMap<String, ConfigPath> = HashMap::new();
        for (i, u) in raw.domain.domain_units.iter().enumerate() {
            units.insert(u.clone(), dp.key("domainUnits").index(i));
        }
        let mut associated = Vec::new();
        let mut seen: HashMap<String, ConfigPath> = HashMap::new();
        for (i, a) in raw.associated_accounts.iter().enumerate() {
            let p = base.key("associatedAccounts").index(i);
            if !self.declare_once(
                &mut seen,
                &a.account,
                p.key("account"),
                "duplicate-associated-account",
                "associated account",
            ) {
                continue;
            }
            // An account outside the organisation is not in `accounts`: the lookup reports it.
            let Some(acc) = self.account_ref(&a.account, &p.key("account"), accounts, cx) else {
                continue;
            };
            let regions = a
                .regions
                .clone()
                .unwrap_or_else(|| vec![org.home_region.clone()]);
            for (j, r) in regions.iter().enumerate() {
                if !org.governed_regions.contains(r) {
                    let d = self
                        .at("unified-studio-region", &p.key("regions").index(j), format!("blueprints would be enabled in {r}, which is not a governed region"))
                        .expected(format!("one of the governed regions: {}", org.governed_regions.join(", ")))
                        .hint("the region-deny policy would block every environment there: add the region to organization.governedRegions or remove it here");
                    self.push(d);
                }
            }
            for (j, u) in a.domain_units.iter().enumerate() {
                if !units.contains_key(u) {
                    let names: Vec<&str> = units.keys().map(String::as_str).collect();
                    let d = self
                        .at(
                            "unknown-domain-unit",
                            &p.key("domainUnits").index(j),
                            format!("no domain unit is named {u:?}"),
                        )
                        .expected("the name of an entry in unifiedStudio.domain.domainUnits")
                        .maybe_hint(did_you_mean(u, names.iter().copied()));
                    self.push(d);
                }
            }
            associated.push(AssociatedAccount {
                account: acc,
                regions,
                blueprints: a.blueprints.clone(),
                domain_units: a.domain_units.clone(),
            });
        }
        // One index of group names, so each reference is one lookup at any scale.
        let known: Option<HashMap<&str, usize>> = ic.map(|ic| {
            ic.groups
                .iter()
                .enumerate()
                .map(|(i, g)| (g.name.as_str(), i))
                .collect()
        });
        let mut unit_owners = Vec::new();
        for (u, owners) in &raw.domain.unit_owners {
            let up = dp.key("unitOwners").key(u);
            if units.contains_key(u) {
                unit_owners.push((u.clone(), group_refs(known.as_ref(), owners)));
            } else {
                self.domain_unit(&Some(u.clone()), &up, &units);
            }
            self.groups(ic, known.as_ref(), owners, &up);
        }
        for (i, pr) in raw.project_profiles.iter().enumerate() {
            self.groups(
                ic,
                known.as_ref(),
                &pr.creators,
                &base.key("projectProfiles").index(i).key("creators"),
            );
        }
        for (i, pj) in raw.projects.iter().enumerate() {
            let pp = base.key("projects").index(i);
            self.groups(ic, known.as_ref(), &pj.owners, &pp.key("owners"));
            self.groups(
                ic,
                known.as_ref(),
                &pj.contributors,
                &pp.key("contributors"),
            );
        }
        let mut profiles = self.profiles(
            &raw.project_profiles,
            &base,
            org,
            cx,
            accounts,
            &associated,
            &units,
        );
        let raw_profiles: HashMap<&str, &RawProjectProfile> = raw
            .project_profiles
            .iter()
            .map(|r| (r.name.as_str(), r))
            .collect();
        for pr in &mut profiles {
            if let Some(r) = raw_profiles.get(pr.name.as_str()) {
                pr.creators = group_refs(known.as_ref(), &r.creators);
            }
        }
        let mut projects = self.projects(&raw.projects, &base, cx, accounts, &profiles, &units);
        let raw_projects: HashMap<&str, &RawProject> =
            raw.projects.iter().map(|r| (r.name.as_str(), r)).collect();
        for pj in &mut projects {
            if let Some(r) = raw_projects.get(pj.name.as_str()) {
                pj.owners = group_refs(known.as_ref(), &r.owners);
                pj.contributors = group_refs(known.as_ref(), &r.contributors);
            }
        }
        let metadata_forms = self.metadata_forms(&raw.metadata_forms, &base, &projects);
        Some(UnifiedStudio {
            name: raw.domain.name,
            description: raw.domain.description,
            account: account?,
            domain_units: raw.domain.domain_units,
            unit_owners,
            associated,
            profiles,
            projects,
            metadata_forms,
        })
    }

    /// Metadata forms: unique names, an owning project of the config, unique field names.
    fn metadata_forms(
        &mut self,
        raw: &[RawMetadataForm],
        base: &ConfigPath,
        projects: &[Project],
    ) -> Vec<MetadataForm> {
        let mut out = Vec::new();
        let mut names: HashMap<String, ConfigPath> = HashMap::new();
        for (i, f) in raw.iter().enumerate() {
            let fp = base.key("metadataForms").index(i);
            if !self.declare_once(
                &mut names,
                &f.name,
                fp.key("name"),
                "duplicate-metadata-form",
                "metadata form",
            ) {
                continue;
            }
            let Some(project) = projects.iter().position(|p| p.name == f.project) else {
                let d = self
                    .at("unknown-project", &fp.key("project"), format!("no project is named {:?}", f.project))
                    .expected("the name of an entry in unifiedStudio.projects: a metadata form is owned by a project (DataZone CreateFormType)")
                    .maybe_hint(did_you_mean(&f.project, projects.iter().map(|p| p.name.as_str())));
                self.push(d);
                continue;
            };
            let mut field_names: HashMap<String, ConfigPath> = HashMap::new();
            let mut fields = Vec::new();
            for (j, fd) in f.fields.iter().enumerate() {
                let p = fp.key("fields").index(j);
                if self.declare_once(
                    &mut field_names,
                    &fd.name,
                    p.key("name"),
                    "duplicate-form-field",
                    "field",
                ) {
                    fields.push(FormField {
                        name: fd.name.clone(),
                        kind: fd.kind.clone().unwrap_or_else(|| "String".to_owned()),
                        required: fd.required,
                        searchable: fd.searchable,
                        description: fd.description.clone(),
                    });
                }
            }
            let mut enforce_on: Vec<FormEnforcement> = f
                .enforce_on
                .iter()
                .map(|e| match e {
                    RawFormEnforcement::Publishing => FormEnforcement::Publishing,
                    RawFormEnforcement::Subscription => FormEnforcement::Subscription,
                })
                .collect();
            enforce_on.sort();
            enforce_on.dedup();
            out.push(MetadataForm {
                name: f.name.clone(),
                description: f.description.clone(),
                project,
                fields,
                enforce_on,
            });
        }
        out
    }

    /// Groups named in the Unified Studio section must be Identity Center groups of the
    /// config when it has that section (declared groups and team groups, created by mlz or
    /// not); without it, any name is taken as given and its id becomes a parameter.
    fn groups(
        &mut self,
        ic: Option<&IdentityCenter>,
        known: Option<&HashMap<&str, usize>>,
        names: &[String],
        path: &ConfigPath,
    ) {
        let (Some(ic), Some(known)) = (ic, known) else {
            return;
        };
        for (j, g) in names.iter().enumerate() {
            if !known.contains_key(g.as_str()) {
                let d = self
                    .at("unknown-group", &path.index(j), format!("no Identity Center group is named {g:?}"))
                    .expected("the name of a group in identityCenter.groups, or a team group (from identityCenter.teamGroups)")
                    .maybe_hint(did_you_mean(g, ic.groups.iter().map(|x| x.name.as_str())));
                self.push(d);
            }
        }
    }

    fn domain_unit(
        &mut self,
        name: &Option<String>,
        path: &ConfigPath,
        units: &HashMap<String, ConfigPath>,
    ) {
        if let Some(u) = name {
            if !units.contains_key(u) {
                let names: Vec<&str> = units.keys().map(String::as_str).collect();
                let d = self
                    .at(
                        "unknown-domain-unit",
                        path,
                        format!("no domain unit is named {u:?}"),
                    )
                    .expected("the name of an entry in unifiedStudio.domain.domainUnits")
                    .maybe_hint(did_you_mean(u, names.iter().copied()));
                self.push(d);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn profiles(
        &mut self,
        raw: &[RawProjectProfile],
        base: &ConfigPath,
        org: &Organization,
        cx: &Context<'_>,
        accounts: &Accounts,
        associated: &[AssociatedAccount],
        units: &HashMap<String, ConfigPath>,
    ) -> Vec<ProjectProfile> {
        let mut out = Vec::new();
        let mut seen: HashMap<String, ConfigPath> = HashMap::new();
        for (i, pr) in raw.iter().enumerate() {
            let p = base.key("projectProfiles").index(i);
            if !self.declare_once(
                &mut seen,
                &pr.name,
                p.key("name"),
                "duplicate-project-profile",
                "project profile",
            ) {
                continue;
            }
            self.domain_unit(&pr.domain_unit, &p.key("domainUnit"), units);
            let (names, dynamic): (Vec<(String, ConfigPath)>, bool) = match (
                &pr.account,
                &pr.accounts,
            ) {
                (Some(a), None) => (vec![(a.clone(), p.key("account"))], false),
                (None, Some(list)) => (
                    list.iter()
                        .enumerate()
                        .map(|(j, a)| (a.clone(), p.key("accounts").index(j)))
                        .collect(),
                    true,
                ),
                _ => {
                    let d = self
                        .at("profile-accounts", &p.key("name"), format!("project profile {:?} needs either `account` (static) or `accounts` (dynamic)", pr.name))
                        .hint("a static profile deploys every project to one account; a dynamic one lets the creator pick");
                    self.push(d);
                    continue;
                }
            };
            let region = pr.region.clone().unwrap_or_else(|| org.home_region.clone());
            let mut refs = Vec::new();
            for (name, ap) in names {
                let Some(r) = self.account_ref(&name, &ap, accounts, cx) else {
                    continue;
                };
                let Some(assoc) = associated.iter().find(|a| a.account == r) else {
                    let d = self
                        .at("profile-account-not-associated", &ap, format!("{name:?} is not associated with the domain, so projects cannot deploy there"))
                        .hint("add it under unifiedStudio.associatedAccounts with the blueprints this profile uses");
                    self.push(d);
                    continue;
                };
                for (j, b) in pr.blueprints.iter().enumerate() {
                    if !assoc.blueprints.contains(b) {
                        let d = self
                            .at("profile-blueprint-not-enabled", &p.key("blueprints").index(j), format!("blueprint {b:?} is not enabled in {name:?}, where profile {:?} deploys", pr.name))
                            .hint(format!("enable it for {name} under unifiedStudio.associatedAccounts, or remove it from the profile"));
                        self.push(d);
                    }
                }
                if !assoc.regions.contains(&region) {
                    let at = if pr.region.is_some() {
                        p.key("region")
                    } else {
                        p.key("name")
                    };
                    let d = self
                        .at("profile-region", &at, format!("{name:?} enables its blueprints in {}, not in {region}", assoc.regions.join(", ")))
                        .hint("set the profile's region to one the account enables, or add the region to the account");
                    self.push(d);
                }
                refs.push(r);
            }
            // A dynamic profile becomes one profile per account in the emitter (CloudFormation
            // has no account pool); the manifest says so rather than a warning on valid input.
            out.push(ProjectProfile {
                name: pr.name.clone(),
                description: pr.description.clone(),
                domain_unit: pr.domain_unit.clone(),
                blueprints: pr.blueprints.clone(),
                accounts: refs,
                dynamic,
                region,
                creators: Vec::new(),
            });
        }
        out
    }

    fn projects(
        &mut self,
        raw: &[RawProject],
        base: &ConfigPath,
        cx: &Context<'_>,
        accounts: &Accounts,
        profiles: &[ProjectProfile],
        units: &HashMap<String, ConfigPath>,
    ) -> Vec<Project> {
        let mut out = Vec::new();
        let mut seen: HashMap<String, ConfigPath> = HashMap::new();
        for (i, pj) in raw.iter().enumerate() {
            let p = base.key("projects").index(i);
            if !self.declare_once(
                &mut seen,
                &pj.name,
                p.key("name"),
                "duplicate-project",
                "project",
            ) {
                continue;
            }
            self.domain_unit(&pj.domain_unit, &p.key("domainUnit"), units);
            self.project_boundary(&pj.name, &p.key("name"));
            let Some(pi) = profiles.iter().position(|pr| pr.name == pj.profile) else {
                let names: Vec<&str> = profiles.iter().map(|pr| pr.name.as_str()).collect();
                let d = self
                    .at(
                        "unknown-project-profile",
                        &p.key("profile"),
                        format!("no project profile is named {:?}", pj.profile),
                    )
                    .maybe_hint(did_you_mean(&pj.profile, names.iter().copied()));
                self.push(d);
                continue;
            };
            let profile = &profiles[pi];
            let account = match &pj.account {
                Some(a) => match self.account_ref(a, &p.key("account"), accounts, cx) {
                    Some(r) if profile.accounts.contains(&r) => r,
                    Some(_) => {
                        let d = self.at(
                            "project-account",
                            &p.key("account"),
                            format!("profile {:?} does not deploy to {a:?}", profile.name),
                        );
                        self.push(d);
                        continue;
                    }
                    None => continue,
                },
                None if profile.accounts.len() == 1 => profile.accounts[0],
                // A profile whose accounts did not resolve: each was reported where it is named.
                None if !profile.dynamic || profile.accounts.is_empty() => continue,
                None => {
                    let d = self
                        .at("project-account", &p.key("profile"), format!("{:?} is a dynamic profile: say which of its accounts the project uses", profile.name))
                        .hint("set `account` on the project");
                    self.push(d);
                    continue;
                }
            };
            out.push(Project {
                name: pj.name.clone(),
                description: pj.description.clone(),
                domain_unit: pj
                    .domain_unit
                    .clone()
                    .or_else(|| profile.domain_unit.clone()),
                profile: pi,
                account,
                owners: Vec::new(),
                contributors: Vec::new(),
            });
        }
        out
    }

    /// The advice of docs/unified-studio.md, as warnings: one project per business initiative,
    /// not one per stage, pipeline or person.
    fn project_boundary(&mut self, name: &str, path: &ConfigPath) {
        let lower = name.to_ascii_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let reason = if words.iter().any(|w| {
            matches!(
                *w,
                "dev" | "test" | "prod" | "staging" | "stage" | "qa" | "uat"
            )
        }) {
            Some("it looks like a stage: stages belong inside a project (its environments), not in separate projects")
        } else if words
            .iter()
            .any(|w| matches!(*w, "pipeline" | "etl" | "job"))
        {
            Some("it looks like a pipeline: one project holds all the pipelines of an initiative")
        } else if name.contains('@')
            || words
                .iter()
                .any(|w| matches!(*w, "sandbox" | "personal" | "my"))
        {
            Some("it looks like a person's project: projects follow business initiatives with their own budget owner")
        } else {
            None
        };
        if let Some(reason) = reason {
            let d = self
                .at("project-boundary", path, format!("project {name:?}: {reason}"))
                .warning()
                .hint("make one project per business initiative, with its own budget owner and compliance regime");
            self.push(d);
        }
    }
}

/// Group names as references: indices into the Identity Center groups when the config has
/// that section (unknown names were reported and are dropped), the names as given otherwise.
fn group_refs(known: Option<&HashMap<&str, usize>>, names: &[String]) -> Vec<GroupRef> {
    match known {
        Some(k) => names
            .iter()
            .filter_map(|n| k.get(n.as_str()).map(|&i| GroupRef::Group(i)))
            .collect(),
        None => names.iter().cloned().map(GroupRef::Named).collect(),
    }
}
