//! Raw config → resolved [`Platform`], with every semantic check.
//!
//! Checks never stop at the first problem: each one records a diagnostic and resolution
//! goes on with what is usable, so a single run reports everything. Names that belong to
//! items the schema already rejected are "poisoned": references to them are not reported
//! again as unknown.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::aws;
use crate::builtin;
use crate::diag::{did_you_mean, Diagnostic, Severity};
use crate::model::*;
use crate::naming::{self, PatternError, Patterns};
use crate::path::ConfigPath;
use crate::raw::*;
use crate::yaml::{Node, Span};
use crate::{FileSource, Sources};

mod access;
mod budgets;
mod catalog;
mod network;
mod pipeline;
mod security;
mod stack_sets;
mod studio;

pub(crate) struct Resolver<'a> {
    file: &'a str,
    root: &'a Node,
    files: &'a dyn FileSource,
    sources: &'a mut Sources,
    /// What earlier runs allocated (the lock file), when there is one.
    pub lock: Option<&'a crate::lock::Lock>,
    pub diags: Vec<Diagnostic>,
    /// Duplicate checks already answered by one error at a naming pattern that cannot tell
    /// accounts apart (`naming-not-unique`): the accounts it makes say nothing more.
    silenced: Vec<&'static str>,
}

/// A kind of name that references point at, for "no X is named Y" errors.
struct Namespace<'n, T> {
    what: &'static str,
    list: &'static str,
    known: &'n HashMap<String, Declared<T>>,
    poisoned: &'n HashSet<String>,
}

/// A name in a namespace (OUs, accounts, stages): who declared it first, and what it resolves to.
struct Declared<T> {
    path: ConfigPath,
    target: Option<T>,
}

impl<'a> Resolver<'a> {
    pub fn new(
        file: &'a str,
        root: &'a Node,
        files: &'a dyn FileSource,
        sources: &'a mut Sources,
    ) -> Resolver<'a> {
        Resolver {
            file,
            root,
            files,
            sources,
            lock: None,
            diags: Vec::new(),
            silenced: Vec::new(),
        }
    }

    fn at(&self, code: &'static str, path: &ConfigPath, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::error(
            code,
            self.file,
            Some(self.root.span_of(path)),
            path.clone(),
            msg,
        )
    }

    fn line_of(&self, path: &ConfigPath) -> usize {
        self.root.span_of(path).line
    }

    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Whether an error has been reported: a warning that something is unused would then
    /// often be the error's echo (a team with no accounts leaves its segment empty).
    fn has_errors(&self) -> bool {
        self.diags.iter().any(|d| d.severity == Severity::Error)
    }

    fn decode<T: DeserializeOwned>(&mut self, v: &Value, path: &ConfigPath) -> Option<T> {
        match serde_json::from_value(v.clone()) {
            Ok(t) => Some(t),
            Err(e) => {
                let d = self
                    .at(
                        "internal",
                        path,
                        format!("the schema accepted this but mlz cannot read it: {e}"),
                    )
                    .hint("this is a bug in mlz: please report it with this file");
                self.push(d);
                None
            }
        }
    }

    /// Decodes the items of a top-level list, leaving out (as `None`) the ones the schema
    /// rejected, and returns the names those rejected items declared.
    fn items<T: DeserializeOwned>(
        &mut self,
        doc: &Value,
        list: &str,
        bad: &BTreeSet<(String, usize)>,
    ) -> (Vec<Option<T>>, HashSet<String>) {
        let mut out = Vec::new();
        let mut poisoned = HashSet::new();
        for (i, v) in doc
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if bad.contains(&(list.to_owned(), i)) {
                if let Some(n) = v.get("name").and_then(Value::as_str) {
                    poisoned.insert(n.to_owned());
                }
                out.push(None);
            } else {
                let p = ConfigPath::root().key(list).index(i);
                out.push(self.decode(v, &p));
            }
        }
        (out, poisoned)
    }

    /// Reports a reference to a name that is not declared (unless it is poisoned).
    fn unknown<T>(
        &mut self,
        code: &'static str,
        name: &str,
        path: &ConfigPath,
        ns: Namespace<'_, T>,
    ) {
        let Namespace {
            what,
            list,
            known,
            poisoned,
        } = ns;
        if poisoned.contains(name) {
            return;
        }
        let mut names: Vec<&str> = known.keys().map(String::as_str).collect();
        names.sort_unstable();
        let d = self
            .at(code, path, format!("no {what} is named {name:?}"))
            .expected(format!("the name of an entry in `{list}`"))
            .maybe_hint(did_you_mean(name, names.iter().copied()));
        self.push(d);
    }

    /// Records the first declaration of `name`; a second one is reported (`code`) and
    /// makes this return false so the caller skips the item.
    fn declare_once(
        &mut self,
        seen: &mut HashMap<String, ConfigPath>,
        name: &str,
        path: ConfigPath,
        code: &'static str,
        what: &str,
    ) -> bool {
        if let Some(first) = seen.get(name) {
            let line = self.line_of(first);
            let d = self
                .at(code, &path, format!("{what} {name:?} is declared twice"))
                .hint(format!("first declared on line {line}"));
            self.push(d);
            return false;
        }
        seen.insert(name.to_owned(), path);
        true
    }

    /// Template ids derive from names; two names that differ only in punctuation would
    /// give one id, so that is reported here, against the user's file.
    fn check_id_collision(
        &mut self,
        ids: &mut HashMap<String, ConfigPath>,
        prefix: &str,
        name: &str,
        path: &ConfigPath,
    ) {
        let Ok(id) = mlz_cfn::LogicalId::derive(prefix, name) else {
            return;
        };
        if let Some(first) = ids.get(id.as_str()) {
            let first = first.clone();
            let d = self
                .at(
                    "id-collision",
                    path,
                    format!("{name:?} gives the same template id ({id}) as {first}"),
                )
                .hint("names may not differ only in punctuation or spaces: rename one");
            self.push(d);
        } else {
            ids.insert(id.as_str().to_owned(), path.clone());
        }
    }

    fn check_tags(&mut self, tags: &BTreeMap<String, String>, path: &ConfigPath) {
        for k in tags.keys() {
            if k.to_ascii_lowercase().starts_with(aws::RESERVED_TAG_PREFIX) {
                let p = path.key(k);
                let d = Diagnostic::error(
                    "reserved-tag",
                    self.file,
                    Some(self.root.key_span_of(&p)),
                    p,
                    format!("tag key {k:?} uses the reserved prefix `aws:`"),
                )
                .hint("AWS reserves tag keys that start with `aws:`; choose another key");
                self.push(d);
            }
        }
    }

    pub fn run(&mut self, doc: &Value, bad: &BTreeSet<(String, usize)>) -> Option<Platform> {
        let org_path = ConfigPath::root().key("organization");
        let raw_org: RawOrganization = self.decode(doc.get("organization")?, &org_path)?;
        let raw_naming: RawNaming = match doc.get("naming") {
            Some(v) => self.decode(v, &ConfigPath::root().key("naming"))?,
            None => RawNaming::default(),
        };
        let organization = self.organization(raw_org, &org_path);

        let (raw_ous, bad_ous) = self.items::<RawOu>(doc, "organizationalUnits", bad);
        let (ous, ou_names) = self.ous(&raw_ous, &bad_ous);

        let (raw_stages, bad_stages) = self.items::<RawStage>(doc, "stages", bad);
        let (raw_accounts, bad_accounts) = self.items::<RawAccount>(doc, "accounts", bad);
        let (raw_teams, _) = self.items::<RawTeam>(doc, "teams", bad);
        let (raw_policies, _) = self.items::<RawPolicy>(doc, "policies", bad);

        let mut accounts = Accounts::new(&organization.management);
        for (i, a) in raw_accounts.iter().enumerate() {
            let Some(a) = a else { continue };
            let p = ConfigPath::root().key("accounts").index(i);
            let ou = self.lookup_ou(&a.ou, &p.key("ou"), &ou_names, &bad_ous);
            self.check_tags(&a.tags, &p.key("tags"));
            let cand = Candidate {
                // The key: given, or the one the lock remembers for this e-mail (so that a
                // renamed account keeps its identity), or the name.
                key: a.key.clone().unwrap_or_else(|| {
                    self.lock
                        .and_then(|l| {
                            let email = a.email.to_ascii_lowercase();
                            l.accounts
                                .iter()
                                .find(|(e, _)| *e == email)
                                .map(|(_, k)| k.clone())
                        })
                        .unwrap_or_else(|| a.name.clone())
                }),
                name: a.name.clone(),
                email: a.email.clone(),
                ou,
                id: a.id.clone(),
                created_by: a.created_by,
                tags: a.tags.clone(),
                team: None,
                name_path: p.key("name"),
                email_path: p.key("email"),
                key_path: if a.key.is_some() {
                    p.key("key")
                } else {
                    p.key("name")
                },
                id_path: p.key("id"),
                generated: None,
            };
            self.add_account(&mut accounts, cand);
        }

        let stages = self.stages(&raw_stages, &ou_names, &bad_ous);
        let mut teams = Vec::new();
        if raw_teams.iter().any(Option::is_some) {
            let declared = raw_stages.iter().flatten().count();
            let teams_declared = raw_teams.iter().flatten().count();
            let several_stages = raw_teams
                .iter()
                .flatten()
                .any(|t| t.stages.as_ref().map_or(declared, Vec::len) > 1);
            let patterns = self.patterns(&raw_naming);
            if let Some(p) = &patterns {
                self.patterns_tell_accounts_apart(p, teams_declared > 1, several_stages);
            }
            self.teams(
                &raw_teams,
                &stages,
                &bad_stages,
                &ou_names,
                &bad_ous,
                &ous,
                patterns.as_ref(),
                &organization,
                &mut accounts,
                &mut teams,
            );
        } else {
            let _ = self.patterns(&raw_naming);
        }

        // The builtin SCPs exempt the roles that deploy the platform's stacks in member
        // accounts: AWSControlTowerExecution under Control Tower, OrganizationAccountAccessRole
        // without it (and StackSet instances either way). The plan checks that they agree.
        let control_tower_on = doc
            .get("controlTower")
            .is_some_and(|c| c.get("enabled").and_then(|e| e.as_bool()) != Some(false));
        let policies = self.policies(
            &raw_policies,
            &ou_names,
            &bad_ous,
            &accounts,
            &bad_accounts,
            BuiltinContext {
                governed: &organization.governed_regions,
                exempt: &builtin::exempt_roles(
                    control_tower_on,
                    doc.get("pipeline")
                        .map(|_| crate::model::pipeline_deploy_role(&organization.stack_prefix))
                        .as_deref(),
                ),
            },
        );

        // What the Control Tower, Identity Center and Service Catalog sections refer to.
        let cx = access::Names {
            ous: &ous,
            ou_names: &ou_names,
            bad_ous: &bad_ous,
            stages: &stages,
            bad_stages: &bad_stages,
            bad_accounts: &bad_accounts,
        };
        let control_tower = match doc.get("controlTower") {
            Some(v) => {
                let raw: RawControlTower =
                    self.decode(v, &ConfigPath::root().key("controlTower"))?;
                Some(self.control_tower(raw, &organization, &cx, &mut accounts))
            }
            None => None,
        };
        let identity_center = match doc.get("identityCenter") {
            Some(v) => {
                let raw: RawIdentityCenter =
                    self.decode(v, &ConfigPath::root().key("identityCenter"))?;
                Some(self.identity_center(raw, &organization, &cx, &accounts, &teams))
            }
            None => None,
        };

        let (portfolios, cloud_admins) = match doc.get("serviceCatalog") {
            Some(v) => {
                let raw: RawServiceCatalog =
                    self.decode(v, &ConfigPath::root().key("serviceCatalog"))?;
                let admins =
                    self.cloud_admins(raw.cloud_admins.as_deref(), identity_center.as_ref());
                (
                    self.service_catalog(raw, &cx, &accounts, identity_center.as_ref()),
                    admins,
                )
            }
            None => (Vec::new(), None),
        };

        let unified_studio = match doc.get("unifiedStudio") {
            Some(v) => {
                let raw: RawUnifiedStudio =
                    self.decode(v, &ConfigPath::root().key("unifiedStudio"))?;
                self.unified_studio(raw, &organization, &cx, &accounts, identity_center.as_ref())
            }
            None => None,
        };

        let budgets = match doc.get("budgets") {
            Some(v) => {
                let raw: RawBudgets = self.decode(v, &ConfigPath::root().key("budgets"))?;
                Some(self.budgets(raw, &organization, &cx, &accounts, &teams))
            }
            None => None,
        };

        let security = match doc.get("security") {
            Some(v) => {
                let raw: RawSecurity = self.decode(v, &ConfigPath::root().key("security"))?;
                self.security(raw, &cx, &accounts)
            }
            None => None,
        };

        let network = match doc.get("network") {
            Some(v) => {
                let raw: RawNetwork = self.decode(v, &ConfigPath::root().key("network"))?;
                self.network(raw, &organization, &cx, &accounts, control_tower.as_ref())
            }
            None => None,
        };

        let mut control_tower = control_tower;
        if let Some(ct) = control_tower
            .as_mut()
            .filter(|c| c.enabled && c.blueprint_delivery == BlueprintDelivery::StackSets)
        {
            self.stack_set_blueprints(ct, network.as_ref(), security.is_some(), &accounts, &ous);
        }

        let pipeline = match doc.get("pipeline") {
            Some(v) => {
                let raw: RawPipeline = self.decode(v, &ConfigPath::root().key("pipeline"))?;
                self.pipeline(raw, &organization, &cx, &accounts)
            }
            None => None,
        };

        Some(Platform {
            organization,
            ous,
            accounts: accounts.list,
            teams,
            policies,
            control_tower,
            identity_center,
            portfolios,
            cloud_admins,
            locked_vending: self
                .lock
                .map(|l| l.vending.iter().cloned().collect())
                .unwrap_or_default(),
            unified_studio,
            budgets,
            security,
            network,
            pipeline,
        })
    }

    fn organization(&mut self, o: RawOrganization, path: &ConfigPath) -> Organization {
        let home_path = path.key("homeRegion");
        self.check_region(&o.home_region, &home_path);
        for (i, r) in o.governed_regions.iter().enumerate() {
            self.check_region(r, &path.key("governedRegions").index(i));
        }
        if !o.governed_regions.contains(&o.home_region) {
            let d = self
                .at(
                    "home-region-not-governed",
                    &home_path,
                    format!(
                        "the home region {} is not one of the governed regions",
                        o.home_region
                    ),
                )
                .hint(format!(
                    "add {} to organization.governedRegions",
                    o.home_region
                ));
            self.push(d);
        }
        let m = &o.management_account;
        if !aws::is_valid_email(&m.email) {
            let d = self.bad_email(&m.email, &path.key("managementAccount").key("email"));
            self.push(d);
        }
        Organization {
            name: o.name,
            stack_prefix: o.stack_prefix.unwrap_or_else(|| "mlz".to_owned()),
            management: ManagementAccount {
                name: m.name.clone(),
                email: m.email.clone(),
                id: m.id.clone(),
            },
            home_region: o.home_region,
            governed_regions: o.governed_regions,
            root_id: o.root_id,
            team_account_stacks: o.team_account_stacks.unwrap_or(DEFAULT_TEAM_ACCOUNT_STACKS),
        }
    }

    pub(super) fn check_region(&mut self, r: &str, path: &ConfigPath) {
        if !aws::is_known_region(r) {
            let d = self
                .at(
                    "unknown-region",
                    path,
                    format!("{r:?} is not an AWS region mlz knows"),
                )
                .expected("a region code such as eu-west-1")
                .maybe_hint(did_you_mean(r, aws::REGIONS.iter().copied()));
            self.push(d);
        }
    }

    fn bad_email(&self, email: &str, path: &ConfigPath) -> Diagnostic {
        self.at(
            "invalid-email",
            path,
            format!("{email:?} is not a valid e-mail address"),
        )
        .expected("name@domain.tld in 7-bit ASCII: no spaces or \" ' ( ) < > [ ] : ; , \\ | % & before the @, no leading dot; after it letters, digits, hyphens and dots only")
    }

    fn ous(
        &mut self,
        raw: &[Option<RawOu>],
        poisoned: &HashSet<String>,
    ) -> (Vec<Ou>, HashMap<String, Declared<OuIdx>>) {
        let list = ConfigPath::root().key("organizationalUnits");
        let mut by_name: HashMap<String, Declared<usize>> = HashMap::new();
        let mut ids = HashMap::new();
        for (i, ou) in raw.iter().enumerate() {
            let Some(ou) = ou else { continue };
            let p = list.index(i).key("name");
            if let Some(first) = by_name.get(&ou.name) {
                let line = self.line_of(&first.path);
                let d = self
                    .at(
                        "duplicate-ou",
                        &p,
                        format!("an OU named {:?} is already declared", ou.name),
                    )
                    .hint(format!(
                        "first declared on line {line}; OU names must be unique in the config"
                    ));
                self.push(d);
            } else {
                self.check_id_collision(&mut ids, "Ou", &ou.name, &p);
                by_name.insert(
                    ou.name.clone(),
                    Declared {
                        path: p,
                        target: Some(i),
                    },
                );
            }
        }
        // parent[i]: Ok(None) root, Ok(Some(j)) an OU, Err(()) unknown or poisoned.
        let mut parent: Vec<Result<Option<usize>, ()>> = vec![Err(()); raw.len()];
        for (i, ou) in raw.iter().enumerate() {
            let Some(ou) = ou else { continue };
            parent[i] = match &ou.parent {
                None => Ok(None),
                Some(pn) => match by_name.get(pn).and_then(|d| d.target) {
                    Some(j) => Ok(Some(j)),
                    None => {
                        let p = list.index(i).key("parent");
                        self.unknown(
                            "unknown-ou",
                            pn,
                            &p,
                            Namespace {
                                what: "organizational unit",
                                list: "organizationalUnits",
                                known: &by_name,
                                poisoned,
                            },
                        );
                        Err(())
                    }
                },
            };
        }
        // Depths by walking up with memoisation: linear overall, and finds cycles.
        #[derive(Clone, Copy, PartialEq)]
        enum St {
            Todo,
            Depth(usize),
            Broken,
        }
        let mut st = vec![St::Todo; raw.len()];
        for start in 0..raw.len() {
            if raw[start].is_none() || st[start] != St::Todo {
                continue;
            }
            let mut chain: Vec<usize> = Vec::new();
            let mut on_chain: HashMap<usize, usize> = HashMap::new();
            let mut cur = start;
            let base = loop {
                match st[cur] {
                    St::Depth(d) => break Some(d),
                    St::Broken => break None,
                    St::Todo => {}
                }
                if let Some(&pos) = on_chain.get(&cur) {
                    let cycle = &chain[pos..];
                    let first = cycle.iter().copied().min().unwrap_or(cur);
                    let mut names: Vec<&str> = Vec::new();
                    let at = cycle.iter().position(|&c| c == first).unwrap_or(0);
                    for k in 0..=cycle.len() {
                        let idx = cycle[(at + k) % cycle.len()];
                        names.push(raw[idx].as_ref().map_or("?", |o| o.name.as_str()));
                    }
                    let d = self
                        .at("ou-cycle", &list.index(first).key("parent"), format!("OU parents form a cycle: {}", names.join(" → ")))
                        .hint("every chain of parents must end at the root: remove `parent` from one of these OUs");
                    self.push(d);
                    for &c in cycle {
                        st[c] = St::Broken;
                    }
                    break None;
                }
                on_chain.insert(cur, chain.len());
                chain.push(cur);
                match parent[cur] {
                    Ok(None) => break Some(0),
                    Ok(Some(p)) => cur = p,
                    Err(()) => break None,
                }
            };
            let mut depth = base;
            for &c in chain.iter().rev() {
                if st[c] == St::Broken {
                    depth = None;
                    continue;
                }
                depth = depth.map(|d| d + 1);
                st[c] = depth.map_or(St::Broken, St::Depth);
            }
        }
        // Order: parents before children, siblings in file order.
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); raw.len()];
        let mut roots = Vec::new();
        for (i, p) in parent.iter().enumerate() {
            if !matches!(st[i], St::Depth(_)) {
                continue;
            }
            match p {
                Ok(None) => roots.push(i),
                Ok(Some(j)) => children[*j].push(i),
                Err(()) => {}
            }
        }
        let mut ous = Vec::new();
        let mut idx_of: Vec<Option<OuIdx>> = vec![None; raw.len()];
        let mut stack: Vec<usize> = roots.into_iter().rev().collect();
        while let Some(i) = stack.pop() {
            let Some(ou) = &raw[i] else { continue };
            let St::Depth(depth) = st[i] else { continue };
            let parent_idx = match parent[i] {
                Ok(Some(j)) => idx_of[j],
                _ => None,
            };
            let path = match parent_idx {
                Some(p) => format!("{}/{}", ous_path(&ous, p), ou.name),
                None => ou.name.clone(),
            };
            if depth == aws::MAX_OU_DEPTH + 1 {
                let d = self
                    .at(
                        "ou-too-deep",
                        &list.index(i).key("parent"),
                        format!(
                            "OU {:?} is {depth} levels below the root (Root/{path})",
                            ou.name
                        ),
                    )
                    .expected(format!(
                        "at most {} levels of OUs below the root, as AWS Organizations allows",
                        aws::MAX_OU_DEPTH
                    ))
                    .hint("attach this OU higher up the tree");
                self.push(d);
            }
            idx_of[i] = Some(OuIdx(ous.len()));
            ous.push(Ou {
                name: ou.name.clone(),
                parent: parent_idx,
                depth,
                path,
                created_by: ou.created_by,
                id: ou.id.clone(),
            });
            stack.extend(children[i].iter().rev());
        }
        let names = by_name
            .into_iter()
            .map(|(n, d)| {
                let target = d.target.and_then(|i| idx_of[i]);
                (
                    n,
                    Declared {
                        path: d.path,
                        target,
                    },
                )
            })
            .collect();
        (ous, names)
    }

    fn lookup_ou(
        &mut self,
        name: &str,
        path: &ConfigPath,
        ous: &HashMap<String, Declared<OuIdx>>,
        poisoned: &HashSet<String>,
    ) -> Option<OuIdx> {
        match ous.get(name) {
            Some(d) => d.target,
            None => {
                self.unknown(
                    "unknown-ou",
                    name,
                    path,
                    Namespace {
                        what: "organizational unit",
                        list: "organizationalUnits",
                        known: ous,
                        poisoned,
                    },
                );
                None
            }
        }
    }

    fn stages(
        &mut self,
        raw: &[Option<RawStage>],
        ous: &HashMap<String, Declared<OuIdx>>,
        bad_ous: &HashSet<String>,
    ) -> HashMap<String, Declared<Option<OuIdx>>> {
        let list = ConfigPath::root().key("stages");
        let mut out: HashMap<String, Declared<Option<OuIdx>>> = HashMap::new();
        for (i, s) in raw.iter().enumerate() {
            let Some(s) = s else { continue };
            let p = list.index(i);
            // Some(None): the stage names no OU; None: it names one that is unknown or broken,
            // which is reported there (once), so its teams say nothing more.
            let target = match &s.ou {
                None => Some(None),
                Some(o) => self.lookup_ou(o, &p.key("ou"), ous, bad_ous).map(Some),
            };
            if let Some(first) = out.get(&s.name) {
                let line = self.line_of(&first.path);
                let d = self
                    .at(
                        "duplicate-stage",
                        &p.key("name"),
                        format!("stage {:?} is declared twice", s.name),
                    )
                    .hint(format!("first declared on line {line}"));
                self.push(d);
            } else {
                out.insert(
                    s.name.clone(),
                    Declared {
                        path: p.key("name"),
                        target,
                    },
                );
            }
        }
        out
    }

    /// A pattern that does not use `{{team}}` (or `{{stage}}`) names every team's (or stage's)
    /// account alike: one error at the pattern, instead of one per colliding account.
    fn patterns_tell_accounts_apart(
        &mut self,
        pats: &Patterns,
        several_teams: bool,
        several_stages: bool,
    ) {
        for (key, what, plural, duplicate) in [
            ("accountName", "name", "names", "duplicate-account-name"),
            (
                "accountEmail",
                "e-mail address",
                "e-mail addresses",
                "duplicate-email",
            ),
        ] {
            if !pats.has(key) {
                continue;
            }
            for (var, several, whose) in [
                ("team", several_teams, "every team's accounts"),
                ("stage", several_stages, "every stage's account of a team"),
            ] {
                if several && !pats.depends_on(key, var) {
                    let example = if key == "accountName" {
                        "\"{{team}}-{{stage}}\""
                    } else {
                        "\"aws+{{team}}-{{stage}}@example.com\""
                    };
                    let d = self
                        .at(
                            "naming-not-unique",
                            &ConfigPath::root().key("naming").key(key),
                            format!("the pattern does not use {{{{{var}}}}}, so {whose} would get the same {what}"),
                        )
                        .hint(format!("account {plural} must be unique: use {{{{{var}}}}} in the pattern, for example {example}"));
                    self.push(d);
                    if !self.silenced.contains(&duplicate) {
                        self.silenced.push(duplicate);
                    }
                }
            }
        }
    }

    fn patterns(&mut self, naming: &RawNaming) -> Option<Patterns> {
        let mut pats = Patterns::new();
        let mut ok = true;
        let specs = [
            (
                "accountName",
                naming
                    .account_name
                    .as_deref()
                    .or_else(|| naming::default_pattern("accountName")),
            ),
            ("accountEmail", naming.account_email.as_deref()),
        ];
        for (key, pattern) in specs {
            let Some(pattern) = pattern else { continue };
            let p = ConfigPath::root().key("naming").key(key);
            match pats.add(key, pattern) {
                Ok(()) => {}
                Err(PatternError::UnknownVariable(v)) => {
                    let d = self
                        .at(
                            "unknown-naming-variable",
                            &p,
                            format!("the pattern uses {{{{{v}}}}}, which is not a naming variable"),
                        )
                        .expected(format!(
                            "variables among: {}",
                            naming::VARIABLES
                                .iter()
                                .map(|v| format!("{{{{{v}}}}}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                        .maybe_hint(did_you_mean(&v, naming::VARIABLES.iter().copied()));
                    self.push(d);
                    ok = false;
                }
                Err(PatternError::Syntax(e)) => {
                    let d = self
                        .at(
                            "naming-syntax",
                            &p,
                            format!("the pattern is not valid handlebars: {e}"),
                        )
                        .hint("write variables as {{team}}");
                    self.push(d);
                    ok = false;
                }
            }
        }
        ok.then_some(pats)
    }

    #[allow(clippy::too_many_arguments)]
    fn teams(
        &mut self,
        raw: &[Option<RawTeam>],
        stages: &HashMap<String, Declared<Option<OuIdx>>>,
        bad_stages: &HashSet<String>,
        ou_names: &HashMap<String, Declared<OuIdx>>,
        bad_ous: &HashSet<String>,
        ous: &[Ou],
        patterns: Option<&Patterns>,
        org: &Organization,
        accounts: &mut Accounts,
        teams: &mut Vec<Team>,
    ) {
        let list = ConfigPath::root().key("teams");
        if patterns.is_some_and(|p| !p.has("accountEmail")) {
            let at = if self.root.find(&ConfigPath::root().key("naming")).is_some() {
                ConfigPath::root().key("naming")
            } else {
                list.clone()
            };
            let d = self
                .at(
                    "missing-email-pattern",
                    &at,
                    "teams need `naming.accountEmail` to give each stage account an e-mail address",
                )
                .hint(
                    "for example: naming: { accountEmail: \"aws+{{team}}-{{stage}}@example.com\" }",
                );
            self.push(d);
        }
        if stages.is_empty() && bad_stages.is_empty() {
            let d = self
                .at(
                    "no-stages",
                    &list,
                    "teams are declared but `stages` is empty, so no team gets an account",
                )
                .hint("declare stages, for example dev, test and prod");
            self.push(d);
        }
        let mut stage_order: Vec<(&String, &Declared<Option<OuIdx>>)> = stages.iter().collect();
        stage_order.sort_by_key(|(_, d)| d.path.clone());
        let mut seen: HashMap<String, ConfigPath> = HashMap::new();
        for (i, t) in raw.iter().enumerate() {
            let Some(t) = t else { continue };
            let p = list.index(i);
            if !self.declare_once(&mut seen, &t.name, p.key("name"), "duplicate-team", "team") {
                continue;
            }
            self.check_tags(&t.tags, &p.key("tags"));
            let team_ou =
                t.ou.as_ref()
                    .map(|o| self.lookup_ou(o, &p.key("ou"), ou_names, bad_ous));
            if t.stages.as_ref().is_some_and(Vec::is_empty) {
                let d = self
                    .at(
                        "team-no-stages",
                        &p.key("stages"),
                        format!("team {:?} lists no stages, so it would get no account", t.name),
                    )
                    .hint("list the stages it needs, or leave `stages` out to give it every stage; to retire a team, remove it from `teams`");
                self.push(d);
                // The team is still declared (with no accounts), so what names it resolves.
            }
            let wanted: Vec<(String, ConfigPath)> = match &t.stages {
                Some(list) => list
                    .iter()
                    .enumerate()
                    .map(|(j, s)| (s.clone(), p.key("stages").index(j)))
                    .collect(),
                None => stage_order
                    .iter()
                    .map(|(n, _)| ((*n).clone(), p.key("name")))
                    .collect(),
            };
            let tidx = TeamIdx(teams.len());
            let mut team = Team {
                name: t.name.clone(),
                accounts: Vec::new(),
            };
            for (stage, spath) in wanted {
                let Some(decl) = stages.get(&stage) else {
                    self.unknown(
                        "unknown-stage",
                        &stage,
                        &spath,
                        Namespace {
                            what: "stage",
                            list: "stages",
                            known: stages,
                            poisoned: bad_stages,
                        },
                    );
                    continue;
                };
                let ou = match team_ou {
                    Some(o) => o,
                    None => {
                        match decl.target {
                            Some(Some(o)) => Some(o),
                            Some(None) => {
                                let d = self
                                .at("no-ou", &p.key("name"), format!("team {:?} has no OU for stage {stage:?}", t.name))
                                .hint(format!("set `ou` on the team, or on stage {stage:?} under `stages`"));
                                self.push(d);
                                None
                            }
                            None => None,
                        }
                    }
                };
                let Some(pats) = patterns else { continue };
                let ou_name = ou.map_or("", |o| ous[o.0].name.as_str());
                let vars: BTreeMap<&str, &str> = [
                    ("team", t.name.as_str()),
                    ("stage", stage.as_str()),
                    ("ou", ou_name),
                    ("prefix", org.stack_prefix.as_str()),
                ]
                .into();
                let name = pats.render("accountName", &vars);
                let email = if pats.has("accountEmail") {
                    pats.render("accountEmail", &vars)
                } else {
                    String::new()
                };
                let mut tags: BTreeMap<String, String> = [
                    ("team".to_owned(), t.name.clone()),
                    ("stage".to_owned(), stage.clone()),
                ]
                .into();
                tags.extend(t.tags.clone());
                let cand = Candidate {
                    key: format!("{}-{stage}", t.name),
                    name,
                    email: email.clone(),
                    ou,
                    id: None,
                    created_by: CreatedBy::Mlz,
                    tags,
                    team: Some((tidx, stage.clone())),
                    name_path: p.key("name"),
                    email_path: p.key("name"),
                    key_path: p.key("name"),
                    id_path: p.key("name"),
                    generated: Some(stage),
                };
                if email.is_empty() {
                    continue;
                }
                if let Some(a) = self.add_account(accounts, cand) {
                    team.accounts.push(a);
                }
            }
            teams.push(team);
        }
    }

    /// Checks one account against the others and adds it. Returns its index if it was added.
    fn add_account(&mut self, accs: &mut Accounts, c: Candidate) -> Option<AccountIdx> {
        let made = |what: &str| match &c.generated {
            Some(stage) => format!(" (the {what} made by the naming pattern for stage {stage:?})"),
            None => String::new(),
        };
        let mut ok = true;
        if c.name.chars().count() > aws::MAX_ACCOUNT_NAME {
            let d = self
                .at(
                    "name-too-long",
                    &c.name_path,
                    format!(
                        "account name {:?} is {} characters{}",
                        c.name,
                        c.name.chars().count(),
                        made("name")
                    ),
                )
                .expected(format!(
                    "at most {} characters, as AWS Organizations allows",
                    aws::MAX_ACCOUNT_NAME
                ))
                .hint(if c.generated.is_some() {
                    "shorten the team name or naming.accountName"
                } else {
                    "shorten the name"
                });
            self.push(d);
            ok = false;
        }
        if !aws::is_valid_email(&c.email) {
            let d = self.bad_email(&c.email, &c.email_path);
            let d = if c.generated.is_some() {
                d.hint(format!(
                    "the address was made by naming.accountEmail{}",
                    made("address")
                ))
            } else {
                d
            };
            self.push(d);
            ok = false;
        } else if c.email.len() > aws::MAX_EMAIL || c.email.len() < aws::MIN_EMAIL {
            let d = self
                .at(
                    "email-length",
                    &c.email_path,
                    format!(
                        "e-mail {:?} is {} characters{}",
                        c.email,
                        c.email.len(),
                        made("address")
                    ),
                )
                .expected(format!(
                    "{} to {} characters",
                    aws::MIN_EMAIL,
                    aws::MAX_EMAIL
                ));
            self.push(d);
            ok = false;
        }
        let label = match (&c.generated, &c.team) {
            (Some(stage), Some(_)) => {
                format!("the {stage:?} account of {}", c.name_path.parent_display())
            }
            _ => c.name_path.to_string(),
        };
        let checks: [(&'static str, &str, String, &ConfigPath); 2] = [
            (
                "duplicate-account-name",
                "account name",
                c.name.clone(),
                &c.name_path,
            ),
            (
                "duplicate-email",
                "e-mail address",
                c.email.to_ascii_lowercase(),
                &c.email_path,
            ),
        ];
        for (code, what, value, path) in checks {
            let seen = if code == "duplicate-email" {
                &mut accs.emails
            } else {
                &mut accs.names
            };
            if let Some((first, first_label)) = seen.get(&value) {
                if c.generated.is_some() && self.silenced.contains(&code) {
                    ok = false;
                    continue;
                }
                let (first, first_label) = (first.clone(), first_label.clone());
                let line = self.line_of(&first);
                let d = self
                    .at(
                        code,
                        path,
                        format!(
                            "{what} {value:?} is already used by {first_label}{}",
                            made(what)
                        ),
                    )
                    .hint(format!(
                        "see line {line}; every account needs its own {what}"
                    ));
                self.push(d);
                ok = false;
            } else {
                seen.insert(value, (path.clone(), label.clone()));
            }
        }
        let mut logical_id = String::new();
        match mlz_cfn::LogicalId::derive("Account", &c.key) {
            Ok(id) => {
                logical_id = id.as_str().to_owned();
                if let Some(first) = accs.ids.get(id.as_str()) {
                    let first = first.clone();
                    let d = self
                        .at("duplicate-account-key", &c.key_path, format!("account key {:?} gives the same template id ({id}) as {first}", c.key))
                        .hint("keys may differ only in letters and digits, not punctuation: set a distinct `key`");
                    self.push(d);
                    ok = false;
                } else {
                    accs.ids.insert(id.as_str().to_owned(), c.key_path.clone());
                }
            }
            Err(_) => {
                let d = self
                    .at(
                        "bad-account-key",
                        &c.key_path,
                        format!("account key {:?} makes a template id of more than {} characters", c.key, mlz_cfn::limits::MAX_LOGICAL_ID_LEN),
                    )
                    .hint("set a shorter `key` (the id is \"Account\" and the key's letters and digits)");
                self.push(d);
                ok = false;
            }
        }
        if let Some(id) = &c.id {
            if let Some(first) = accs.account_ids.get(id) {
                let first = first.clone();
                let d = self.at(
                    "duplicate-account-id",
                    &c.id_path,
                    format!("account id {id} is also given to {first}"),
                );
                self.push(d);
                ok = false;
            } else {
                accs.account_ids.insert(id.clone(), c.id_path.clone());
            }
        }
        let ou = c.ou?;
        if !ok {
            return None;
        }
        let idx = AccountIdx(accs.list.len());
        accs.by_name.insert(c.name.clone(), idx);
        accs.list.push(Account {
            logical_id,
            key: c.key,
            name: c.name,
            email: c.email,
            ou,
            id: c.id,
            created_by: c.created_by,
            tags: c.tags,
            team: c.team,
            blueprint: None,
        });
        Some(idx)
    }

    fn policies(
        &mut self,
        raw: &[Option<RawPolicy>],
        ous: &HashMap<String, Declared<OuIdx>>,
        bad_ous: &HashSet<String>,
        accounts: &Accounts,
        bad_accounts: &HashSet<String>,
        builtins: BuiltinContext<'_>,
    ) -> Vec<Policy> {
        let (governed, exempt) = (builtins.governed, builtins.exempt);
        let list = ConfigPath::root().key("policies");
        let mut out = Vec::new();
        let mut seen: HashMap<String, ConfigPath> = HashMap::new();
        let mut ids = HashMap::new();
        let account_names: HashMap<String, Declared<()>> = accounts
            .names
            .iter()
            .map(|(n, (p, _))| {
                (
                    n.clone(),
                    Declared {
                        path: p.clone(),
                        target: Some(()),
                    },
                )
            })
            .collect();
        for (i, pol) in raw.iter().enumerate() {
            let Some(pol) = pol else { continue };
            let p = list.index(i);
            if !self.declare_once(
                &mut seen,
                &pol.name,
                p.key("name"),
                "duplicate-policy",
                "policy",
            ) {
                continue;
            }
            self.check_id_collision(&mut ids, "Policy", &pol.name, &p.key("name"));
            self.check_tags(&pol.tags, &p.key("tags"));
            let ptype = match pol.policy_type {
                RawPolicyType::ServiceControl => PolicyType::ServiceControl,
                RawPolicyType::ResourceControl => PolicyType::ResourceControl,
                RawPolicyType::Tag => PolicyType::Tag,
            };
            let document = self.policy_document(pol, ptype, &p, governed, exempt);
            let mut targets = Targets {
                root: pol.targets.root,
                ..Targets::default()
            };
            for (j, o) in pol.targets.ous.iter().enumerate() {
                if let Some(idx) =
                    self.lookup_ou(o, &p.key("targets").key("ous").index(j), ous, bad_ous)
                {
                    targets.ous.push(idx);
                }
            }
            for (j, a) in pol.targets.accounts.iter().enumerate() {
                let ap = p.key("targets").key("accounts").index(j);
                if a == &accounts.management_name {
                    if ptype.is_authorization() {
                        let d = self
                            .at("policy-on-management", &ap, format!("{a:?} is the management account, which service and resource control policies never restrict"))
                            .warning()
                            .hint("remove it from the targets; protect the management account with tight IAM instead");
                        self.push(d);
                    }
                    continue;
                }
                match accounts.by_name.get(a) {
                    Some(idx) => targets.accounts.push(*idx),
                    None if accounts.names.contains_key(a) => {}
                    None => self.unknown(
                        "unknown-account",
                        a,
                        &ap,
                        Namespace {
                            what: "account",
                            list: "accounts",
                            known: &account_names,
                            poisoned: bad_accounts,
                        },
                    ),
                }
            }
            if !targets.root
                && targets.ous.is_empty()
                && targets.accounts.is_empty()
                && pol.targets.ous.is_empty()
                && pol.targets.accounts.is_empty()
            {
                let d = self
                    .at(
                        "policy-unattached",
                        &p.key("targets"),
                        format!("policy {:?} is attached nowhere", pol.name),
                    )
                    .warning()
                    .hint("set targets.root, targets.ous or targets.accounts");
                self.push(d);
            }
            if let Some(document) = document {
                out.push(Policy {
                    name: pol.name.clone(),
                    policy_type: ptype,
                    description: pol.description.clone(),
                    document,
                    targets,
                    tags: pol.tags.clone(),
                });
            }
        }
        out
    }

    fn policy_document(
        &mut self,
        pol: &RawPolicy,
        ptype: PolicyType,
        p: &ConfigPath,
        governed: &[String],
        exempt: &builtin::Exempt,
    ) -> Option<Value> {
        let sources = [
            pol.document.is_some(),
            pol.file.is_some(),
            pol.builtin.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            let (at, msg) = if sources.contains(&true) {
                (
                    p.key("name"),
                    format!(
                        "policy {:?} gives more than one of `document`, `file` and `builtin`",
                        pol.name
                    ),
                )
            } else {
                (
                    p.key("name"),
                    format!("policy {:?} has no document", pol.name),
                )
            };
            let d = self.at("policy-document", &at, msg).hint("give exactly one: `document:` (inline), `file:` (a JSON file beside the config) or `builtin:`");
            self.push(d);
            return None;
        }
        let (doc, doc_path) = if let Some(d) = &pol.document {
            (Value::Object(d.clone()), p.key("document"))
        } else if let Some(b) = pol.builtin {
            let bp = p.key("builtin");
            let want = builtin::policy_type(b);
            if want != ptype {
                let d = self
                    .at(
                        "policy-type-mismatch",
                        &p.key("type"),
                        format!(
                            "builtin policy {b:?} is a {} policy, but `type` says {}",
                            want.cfn_name(),
                            ptype.cfn_name()
                        ),
                    )
                    .hint("set `type` to match the builtin document");
                self.push(d);
            }
            (builtin::document(b, governed, exempt), bp)
        } else {
            let f = pol.file.as_deref().unwrap_or_default();
            let fp = p.key("file");
            let shown = match self.file.rsplit_once('/') {
                Some((dir, _)) => format!("{dir}/{f}"),
                None => f.to_owned(),
            };
            let text = match self.files.read(f) {
                Ok(t) => t,
                Err(e) => {
                    let d = self
                        .at(
                            "policy-file",
                            &fp,
                            format!("cannot read policy file {f:?}: {e}"),
                        )
                        .hint("the path is relative to the folder of the config file");
                    self.push(d);
                    return None;
                }
            };
            self.sources.insert(&shown, &text);
            match serde_json::from_str::<Value>(&text) {
                Ok(v) if v.is_object() => (v, fp),
                Ok(_) => {
                    let d = Diagnostic::error(
                        "policy-document",
                        &shown,
                        Some(Span::point(1, 1)),
                        fp,
                        "a policy document must be a JSON object",
                    );
                    self.push(d);
                    return None;
                }
                Err(e) => {
                    let d = Diagnostic::error(
                        "policy-json",
                        &shown,
                        Some(Span::point(e.line(), e.column().max(1))),
                        fp,
                        format!("policy file is not valid JSON: {e}"),
                    );
                    self.push(d);
                    return None;
                }
            }
        };
        if ptype.is_authorization()
            && (doc.get("Version").is_none() || doc.get("Statement").is_none())
        {
            let d = self
                .at(
                    "policy-document",
                    &doc_path,
                    "a service or resource control policy needs `Version` and `Statement`",
                )
                .expected("an IAM-style policy: { Version: \"2012-10-17\", Statement: [...] }");
            self.push(d);
        }
        let size = serde_json::to_string(&doc).map_or(0, |s| s.chars().count());
        if size > ptype.max_document_chars() {
            let d = self
                .at(
                    "policy-too-large",
                    &doc_path,
                    format!(
                        "policy {:?} is {size} characters without whitespace",
                        pol.name
                    ),
                )
                .expected(format!(
                    "at most {} characters for this policy type",
                    ptype.max_document_chars()
                ))
                .hint("split it into two policies attached to the same targets");
            self.push(d);
        }
        Some(doc)
    }
}

fn ous_path(ous: &[Ou], i: OuIdx) -> &str {
    &ous[i.0].path
}

struct Candidate {
    key: String,
    name: String,
    email: String,
    ou: Option<OuIdx>,
    id: Option<String>,
    created_by: CreatedBy,
    tags: BTreeMap<String, String>,
    team: Option<(TeamIdx, String)>,
    name_path: ConfigPath,
    email_path: ConfigPath,
    key_path: ConfigPath,
    id_path: ConfigPath,
    /// The stage, when the name and e-mail came from naming patterns.
    generated: Option<String>,
}

/// Accounts as they are resolved, with the indexes that keep every check linear.
struct Accounts {
    list: Vec<Account>,
    management_name: String,
    by_name: HashMap<String, AccountIdx>,
    /// Name (and lower-cased e-mail) → where it was first used, and how to name that place.
    names: HashMap<String, (ConfigPath, String)>,
    emails: HashMap<String, (ConfigPath, String)>,
    ids: HashMap<String, ConfigPath>,
    account_ids: HashMap<String, ConfigPath>,
}

impl Accounts {
    fn new(m: &ManagementAccount) -> Accounts {
        let mp = ConfigPath::root()
            .key("organization")
            .key("managementAccount");
        let mut a = Accounts {
            list: Vec::new(),
            management_name: m.name.clone(),
            by_name: HashMap::new(),
            names: HashMap::new(),
            emails: HashMap::new(),
            ids: HashMap::new(),
            account_ids: HashMap::new(),
        };
        a.names.insert(
            m.name.clone(),
            (mp.key("name"), "the management account".to_owned()),
        );
        a.emails.insert(
            m.email.to_ascii_lowercase(),
            (mp.key("email"), "the management account".to_owned()),
        );
        if let Some(id) = &m.id {
            a.account_ids.insert(id.clone(), mp.key("id"));
        }
        a
    }
}

/// What the builtin policy documents are made from.
#[derive(Clone, Copy)]
struct BuiltinContext<'a> {
    governed: &'a [String],
    exempt: &'a builtin::Exempt,
}
