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
use crate::path::ConfigPath;
use crate::raw::*;
use crate::yaml::Node;
use crate::{FileSource, Sources};

mod budgets;
mod control_tower;
mod identity_center;
mod network;
mod organizations;
mod pipeline;
mod security;
mod service_catalog;
mod stack_sets;
mod templates;
mod unified_studio;

use organizations::BuiltinContext;

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
    /// Every tag key of the config, where it is written (for `tag-key-spelling`).
    tag_keys: Vec<(String, ConfigPath)>,
    /// Every key a tag policy of the config assigns, with the policy's name.
    tag_policy_keys: Vec<(String, String)>,
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
            tag_keys: Vec::new(),
            tag_policy_keys: Vec::new(),
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

    /// A top-level section decoded into its raw type: `Some(None)` when the config has no
    /// such section, `None` when it does not decode (reported; resolution stops there).
    fn section<R: DeserializeOwned>(&mut self, doc: &Value, key: &str) -> Option<Option<R>> {
        match doc.get(key) {
            None => Some(None),
            Some(v) => self.decode(v, &ConfigPath::root().key(key)).map(Some),
        }
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
            self.tag_keys.push((k.clone(), path.key(k)));
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

    /// A tag key of the config that a tag policy spells otherwise (case, `-`, `_`, spaces) is
    /// non-compliant wherever it is applied: say so where it is written.
    fn check_tag_spelling(&mut self) {
        fn folded(k: &str) -> String {
            k.chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_lowercase())
                .collect()
        }
        let policy: HashMap<String, &(String, String)> = self
            .tag_policy_keys
            .iter()
            .map(|kp| (folded(&kp.0), kp))
            .collect();
        let mut found = Vec::new();
        for (k, at) in &self.tag_keys {
            if let Some((want, name)) = policy.get(&folded(k)) {
                if want != k {
                    found.push((k.clone(), at.clone(), want.clone(), name.clone()));
                }
            }
        }
        for (k, at, want, name) in found {
            let d = Diagnostic::error(
                "tag-key-spelling",
                self.file,
                Some(self.root.key_span_of(&at)),
                at,
                format!("tag key {k:?} is spelled {want:?} in tag policy {name:?}"),
            )
            .warning()
            .hint(format!(
                "write {want:?}: a tag policy reports every other spelling as non-compliant"
            ));
            self.push(d);
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
        self.declared_accounts(&raw_accounts, &ou_names, &bad_ous, &mut accounts);

        let stages = self.stages(&raw_stages, &ou_names, &bad_ous);
        let mut teams = Vec::new();
        self.all_teams(
            &raw_teams,
            &raw_naming,
            &raw_stages,
            &stages,
            &bad_stages,
            &ou_names,
            &bad_ous,
            &ous,
            &organization,
            &mut accounts,
            &mut teams,
        );

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
                        .map(|_| organization.stack_prefix.as_str()),
                ),
            },
        );

        // Each section after the core, in the order of what it refers to.
        // (A macro, not a closure: the accounts change between two contexts.)
        macro_rules! context {
            ($control_tower:expr, $identity_center:expr) => {
                Context {
                    org: &organization,
                    ous: &ous,
                    ou_names: &ou_names,
                    bad_ous: &bad_ous,
                    stages: &stages,
                    bad_stages: &bad_stages,
                    bad_accounts: &bad_accounts,
                    accounts: &accounts,
                    teams: &teams,
                    control_tower: $control_tower,
                    identity_center: $identity_center,
                }
            };
        }
        let cx = context!(None, None);
        let mut control_tower = self
            .section(doc, "controlTower")?
            .and_then(|raw| self.control_tower(raw, &cx));
        // The vended accounts learn their blueprint.
        for (b, bp) in control_tower
            .iter()
            .flat_map(|ct| ct.blueprints.iter().enumerate())
        {
            for &ai in &bp.accounts {
                accounts.list[ai.0].blueprint = Some(b);
            }
        }
        let cx = context!(control_tower.as_ref(), None);
        let identity_center = self
            .section(doc, "identityCenter")?
            .and_then(|raw| self.identity_center(raw, &cx));
        let cx = context!(control_tower.as_ref(), identity_center.as_ref());
        let (portfolios, cloud_admins) = self
            .section(doc, "serviceCatalog")?
            .and_then(|raw| self.service_catalog(raw, &cx))
            .unwrap_or_default();
        let unified_studio = self
            .section(doc, "unifiedStudio")?
            .and_then(|raw| self.unified_studio(raw, &cx));
        let budgets = self
            .section(doc, "budgets")?
            .and_then(|raw| self.budgets(raw, &cx));
        let security = self
            .section(doc, "security")?
            .and_then(|raw| self.security(raw, &cx));
        let network = self
            .section(doc, "network")?
            .and_then(|raw| self.network(raw, &cx));
        let pipeline = self
            .section(doc, "pipeline")?
            .and_then(|raw| self.pipeline(raw, &cx));

        self.check_tag_spelling();

        // With StackSet delivery, the blueprints learn the network and security they carry.
        if let Some(ct) = control_tower
            .as_mut()
            .filter(|c| c.enabled && c.blueprint_delivery == BlueprintDelivery::StackSets)
        {
            self.stack_set_blueprints(ct, network.as_ref(), security.is_some(), &accounts, &ous);
        }

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
    /// The account names as a namespace for "no account is named …" errors.
    fn namespace(&self) -> HashMap<String, Declared<()>> {
        self.names
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
            .collect()
    }

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

/// What the organisation core (and, once resolved, Control Tower and Identity Center)
/// gives the sections after it: every section is `fn(&mut Resolver, Raw…, &Context) ->
/// Option<T>`. The `bad_*` sets hold names the schema already rejected (poisoned).
#[derive(Clone, Copy)]
struct Context<'a> {
    org: &'a Organization,
    ous: &'a [Ou],
    ou_names: &'a HashMap<String, Declared<OuIdx>>,
    bad_ous: &'a HashSet<String>,
    stages: &'a HashMap<String, Declared<Option<OuIdx>>>,
    bad_stages: &'a HashSet<String>,
    bad_accounts: &'a HashSet<String>,
    accounts: &'a Accounts,
    teams: &'a [Team],
    control_tower: Option<&'a ControlTower>,
    identity_center: Option<&'a IdentityCenter>,
}

impl Resolver<'_> {
    /// The OU and everything nested in it.
    fn subtree(ous: &[Ou], root: OuIdx) -> HashSet<OuIdx> {
        // Parents come before children in `ous`, so one pass finds every descendant.
        let mut set = HashSet::from([root]);
        for (i, ou) in ous.iter().enumerate() {
            if ou.parent.is_some_and(|p| set.contains(&p)) {
                set.insert(OuIdx(i));
            }
        }
        set
    }

    fn ou_list(&mut self, names: &[String], path: &ConfigPath, cx: &Context<'_>) -> Vec<OuIdx> {
        let mut out = Vec::new();
        for (i, n) in names.iter().enumerate() {
            if let Some(o) = self.lookup_ou(n, &path.index(i), cx.ou_names, cx.bad_ous) {
                out.push(o);
            }
        }
        out
    }

    fn account_ref(
        &mut self,
        name: &str,
        path: &ConfigPath,
        accounts: &Accounts,
        cx: &Context<'_>,
    ) -> Option<AccountRef> {
        if name == accounts.management_name {
            return Some(AccountRef::Management);
        }
        if let Some(i) = accounts.by_name.get(name) {
            return Some(AccountRef::Account(*i));
        }
        if !accounts.names.contains_key(name) {
            let known = accounts.namespace();
            self.unknown(
                "unknown-account",
                name,
                path,
                Namespace {
                    what: "account",
                    list: "accounts",
                    known: &known,
                    poisoned: cx.bad_accounts,
                },
            );
        }
        None
    }
}
