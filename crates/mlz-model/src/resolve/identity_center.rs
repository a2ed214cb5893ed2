//! IAM Identity Center: permission sets (managed, builtin and inline policies), groups, team
//! groups and their assignments to accounts, OUs and teams.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::Value;

use serde::Deserialize;

use super::{Accounts, Context, Namespace, Resolver};
use crate::diag::did_you_mean;
use crate::identity_policies;
use crate::model::*;
use crate::naming::{PatternError, Patterns};
use crate::path::ConfigPath;
use crate::raw::*;

// The section as the config writes it: field for field what the schema allows (see raw.rs).

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawIdentityCenter {
    pub instance_arn: Option<String>,
    pub identity_store_id: Option<String>,
    pub platform_stacks: Option<u32>,
    pub team_stacks: Option<u32>,
    #[serde(default)]
    pub permission_sets: Vec<RawPermissionSet>,
    #[serde(default)]
    pub groups: Vec<RawGroup>,
    #[serde(default)]
    pub team_groups: Vec<RawTeamGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawPermissionSet {
    pub name: String,
    pub description: Option<String>,
    pub session_duration: Option<String>,
    #[serde(default)]
    pub managed_policies: Vec<String>,
    pub builtin: Option<RawInlineBuiltin>,
    pub inline_policy: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawGroup {
    pub name: String,
    pub description: Option<String>,
    #[serde(default)]
    pub created_by: RawCreatedBy,
    pub id: Option<String>,
    #[serde(default)]
    pub access: Vec<RawAccess>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawAccess {
    pub permission_sets: Vec<String>,
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub ous: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawTeamGroup {
    pub name: String,
    pub description: Option<String>,
    pub permission_sets: Vec<String>,
    #[serde(default)]
    pub stages: Vec<String>,
}

const DEFAULT_SESSION: &str = "PT4H";
/// Identity Center's quota of managed policies per permission set.
const MAX_MANAGED_POLICIES: usize = 20;

/// What team groups are made from.
#[derive(Clone, Copy)]
struct TeamContext<'x> {
    org: &'x Organization,
    cx: &'x Context<'x>,
    accounts: &'x Accounts,
    teams: &'x [Team],
}

/// The permission sets as resolved, and their names for lookups.
struct PermissionSets {
    list: Vec<PermissionSet>,
    index: HashMap<String, usize>,
    names: Vec<String>,
    /// The built-in permission sets that write data (`dataScientist`, `dataEngineering`):
    /// a team group gives them in production stages only when it lists those stages.
    writes_data: HashSet<usize>,
}

/// A production stage, by name: where people who explore and move data get no write access
/// unless the config says so (a team group's `stages`).
pub fn production_stage(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "prod" | "production" | "prd"
    )
}

impl Resolver<'_> {
    pub(super) fn identity_center(
        &mut self,
        raw: RawIdentityCenter,
        cx: &Context<'_>,
    ) -> Option<IdentityCenter> {
        let (org, accounts, teams) = (cx.org, cx.accounts, cx.teams);
        let base = ConfigPath::root().key("identityCenter");
        let sets = self.permission_sets(&raw.permission_sets, &base);
        // Accounts per OU (nested OUs included), computed once.
        let mut direct: HashMap<OuIdx, Vec<AccountIdx>> = HashMap::new();
        for (i, a) in accounts.list.iter().enumerate() {
            direct.entry(a.ou).or_default().push(AccountIdx(i));
        }

        let (mut groups, mut group_names) =
            self.platform_groups(&raw.groups, &base, cx, accounts, &sets, &direct);
        let team = TeamContext {
            org,
            cx,
            accounts,
            teams,
        };
        self.team_groups(
            &raw.team_groups,
            &base,
            &team,
            &sets,
            &mut groups,
            &mut group_names,
        );

        Some(IdentityCenter {
            instance_arn: raw.instance_arn,
            identity_store_id: raw.identity_store_id,
            platform_stacks: raw
                .platform_stacks
                .unwrap_or(DEFAULT_PLATFORM_ACCESS_STACKS),
            team_stacks: raw.team_stacks.unwrap_or(DEFAULT_TEAM_ACCESS_STACKS),
            permission_sets: sets.list,
            groups,
        })
    }

    /// The permission sets: each once, within Identity Center's quota of managed policies,
    /// with one of `builtin` or `inlinePolicy`.
    fn permission_sets(
        &mut self,
        raw_sets: &[RawPermissionSet],
        base: &ConfigPath,
    ) -> PermissionSets {
        let mut sets = Vec::new();
        let mut set_index: HashMap<String, usize> = HashMap::new();
        let mut writes_data: HashSet<usize> = HashSet::new();
        for (i, ps) in raw_sets.iter().enumerate() {
            let p = base.key("permissionSets").index(i);
            if set_index.contains_key(&ps.name) {
                let d = self.at(
                    "duplicate-permission-set",
                    &p.key("name"),
                    format!("permission set {:?} is declared twice", ps.name),
                );
                self.push(d);
                continue;
            }
            if ps.managed_policies.len() > MAX_MANAGED_POLICIES {
                let d = self
                    .at("too-many-managed-policies", &p.key("managedPolicies"), format!("{} managed policies", ps.managed_policies.len()))
                    .expected(format!("at most {MAX_MANAGED_POLICIES}, Identity Center's quota per permission set"));
                self.push(d);
            }
            if ps.builtin.is_some() && ps.inline_policy.is_some() {
                let d = self.at(
                    "permission-set-policy",
                    &p.key("inlinePolicy"),
                    "give either `builtin` or `inlinePolicy`, not both",
                );
                self.push(d);
            }
            if ps.managed_policies.is_empty() && ps.builtin.is_none() && ps.inline_policy.is_none()
            {
                let d = self
                    .at(
                        "permission-set-policy",
                        &p.key("name"),
                        format!("permission set {:?} grants nothing", ps.name),
                    )
                    .hint("add managedPolicies, builtin or inlinePolicy");
                self.push(d);
            }
            // AWS managed policies by name (with their path), customer ones by ARN. A name mlz
            // has not checked is a warning: CloudFormation fails if it does not exist.
            for (j, m) in ps.managed_policies.iter().enumerate() {
                if !m.starts_with("arn:") && crate::managed_policies::find(m).is_none() {
                    let d = self
                        .at(
                            "unchecked-managed-policy",
                            &p.key("managedPolicies").index(j),
                            format!("{m:?} is not among the AWS managed policies mlz has checked"),
                        )
                        .warning()
                        .expected("the name (with its path, such as job-function/ViewOnlyAccess) of an AWS managed policy, or a policy ARN")
                        .maybe_hint(crate::diag::did_you_mean(
                            m,
                            crate::managed_policies::ALL.iter().map(|x| x.name),
                        ));
                    self.push(d);
                }
            }
            let managed = ps.managed_policies.clone();
            let inline_policy = match (ps.builtin, &ps.inline_policy) {
                (Some(b), _) => Some(identity_policies::document(b)),
                (None, Some(doc)) => Some(Value::Object(doc.clone())),
                (None, None) => None,
            };
            if matches!(
                ps.builtin,
                Some(RawInlineBuiltin::DataScientist | RawInlineBuiltin::DataEngineering)
            ) {
                writes_data.insert(sets.len());
            }
            set_index.insert(ps.name.clone(), sets.len());
            sets.push(PermissionSet {
                name: ps.name.clone(),
                description: ps.description.clone(),
                session_duration: ps
                    .session_duration
                    .clone()
                    .unwrap_or_else(|| DEFAULT_SESSION.to_owned()),
                managed_policies: managed,
                inline_policy,
            });
        }
        let names = raw_sets.iter().map(|p| p.name.clone()).collect();
        PermissionSets {
            list: sets,
            index: set_index,
            names,
            writes_data,
        }
    }

    /// The indices of the permission sets named at `path`; each unknown name is reported.
    fn set_refs(
        &mut self,
        sets: &PermissionSets,
        names: &[String],
        path: &ConfigPath,
    ) -> Vec<usize> {
        let mut out = Vec::new();
        for (k, n) in names.iter().enumerate() {
            match sets.index.get(n) {
                Some(i) => out.push(*i),
                None => {
                    let d = self
                        .at(
                            "unknown-permission-set",
                            &path.index(k),
                            format!("no permission set is named {n:?}"),
                        )
                        .expected("the name of an entry in identityCenter.permissionSets")
                        .maybe_hint(did_you_mean(n, sets.names.iter().map(String::as_str)));
                    self.push(d);
                }
            }
        }
        out
    }

    /// The groups and their access: permission sets on accounts, OUs (their accounts,
    /// nested OUs included) and teams.
    fn platform_groups(
        &mut self,
        raw_groups: &[RawGroup],
        base: &ConfigPath,
        cx: &Context<'_>,
        accounts: &Accounts,
        sets: &PermissionSets,
        direct: &HashMap<OuIdx, Vec<AccountIdx>>,
    ) -> (Vec<Group>, HashMap<String, ConfigPath>) {
        let mut groups = Vec::new();
        let mut group_names: HashMap<String, ConfigPath> = HashMap::new();
        for (i, g) in raw_groups.iter().enumerate() {
            let p = base.key("groups").index(i);
            if !self.declare_once(
                &mut group_names,
                &g.name,
                p.key("name"),
                "duplicate-group",
                "group",
            ) {
                continue;
            }
            let mut assignments = BTreeSet::new();
            for (j, acc) in g.access.iter().enumerate() {
                let ap = p.key("access").index(j);
                let ps = self.set_refs(sets, &acc.permission_sets, &ap.key("permissionSets"));
                let mut targets: BTreeSet<AccountRef> = BTreeSet::new();
                for (k, a) in acc.accounts.iter().enumerate() {
                    if let Some(r) = self.account_ref(a, &ap.key("accounts").index(k), accounts, cx)
                    {
                        targets.insert(r);
                    }
                }
                for ou in self.ou_list(&acc.ous, &ap.key("ous"), cx) {
                    // An assignment targets one account: an OU is every account in it.
                    for o in Self::subtree(cx.ous, ou) {
                        targets.extend(
                            direct
                                .get(&o)
                                .into_iter()
                                .flatten()
                                .map(|a| AccountRef::Account(*a)),
                        );
                    }
                }
                for t in targets {
                    for &s in &ps {
                        assignments.insert(Assignment {
                            account: t,
                            permission_set: s,
                        });
                    }
                }
            }
            groups.push(Group {
                name: g.name.clone(),
                description: g.description.clone(),
                created_by: g.created_by,
                id: g.id.clone(),
                team: None,
                assignments: assignments.into_iter().collect(),
            });
        }

        (groups, group_names)
    }

    /// Team groups: one per team and pattern, given access to that team's accounts.
    fn team_groups(
        &mut self,
        raw_team_groups: &[RawTeamGroup],
        base: &ConfigPath,
        team: &TeamContext<'_>,
        sets: &PermissionSets,
        groups: &mut Vec<Group>,
        group_names: &mut HashMap<String, ConfigPath>,
    ) {
        let TeamContext {
            org,
            cx,
            accounts,
            teams,
        } = *team;
        let mut patterns = Patterns::new();
        for (i, tg) in raw_team_groups.iter().enumerate() {
            let p = base.key("teamGroups").index(i);
            let key = format!("teamGroup{i}");
            match patterns.add(&key, &tg.name) {
                Ok(()) if !tg.name.contains("{{team}}") => {
                    let d = self
                        .at("team-group-name", &p.key("name"), format!("{:?} does not use {{{{team}}}}, so every team would get the same group", tg.name))
                        .hint("for example {{team}}-DataScientists");
                    self.push(d);
                    continue;
                }
                Ok(()) => {}
                Err(PatternError::UnknownVariable(v)) => {
                    let d = self.at(
                        "unknown-naming-variable",
                        &p.key("name"),
                        format!("the pattern uses {{{{{v}}}}}, which is not a naming variable"),
                    );
                    self.push(d);
                    continue;
                }
                Err(PatternError::Syntax(e)) => {
                    let d = self.at(
                        "naming-syntax",
                        &p.key("name"),
                        format!("the pattern is not valid handlebars: {e}"),
                    );
                    self.push(d);
                    continue;
                }
            }
            let ps = self.set_refs(sets, &tg.permission_sets, &p.key("permissionSets"));
            for (k, st) in tg.stages.iter().enumerate() {
                if !cx.stages.contains_key(st) {
                    self.unknown(
                        "unknown-stage",
                        st,
                        &p.key("stages").index(k),
                        Namespace {
                            what: "stage",
                            list: "stages",
                            known: cx.stages,
                            poisoned: cx.bad_stages,
                        },
                    );
                }
            }
            for (ti, team) in teams.iter().enumerate() {
                let vars: BTreeMap<&str, &str> = [
                    ("team", team.name.as_str()),
                    ("stage", ""),
                    ("ou", ""),
                    ("prefix", org.stack_prefix.as_str()),
                ]
                .into();
                let name = patterns.render(&key, &vars);
                if let Some(first) = group_names.get(&name) {
                    let first = first.clone();
                    let d = self
                        .at(
                            "duplicate-group",
                            &p.key("name"),
                            format!(
                                "team {:?} gets a group named {name:?}, which {} also makes",
                                team.name, first
                            ),
                        )
                        .hint("group names must be unique in the identity store");
                    self.push(d);
                    continue;
                }
                group_names.insert(name.clone(), p.key("name"));
                let mut assignments = BTreeSet::new();
                for &ai in &team.accounts {
                    let stage = accounts.list[ai.0].team.as_ref().map(|(_, st)| st);
                    let stage_ok =
                        tg.stages.is_empty() || stage.is_some_and(|st| tg.stages.contains(st));
                    // Left to its default (every stage), a group gets no data-writing
                    // built-in permission set in a production stage.
                    let prod_by_default =
                        tg.stages.is_empty() && stage.is_some_and(|st| production_stage(st));
                    if stage_ok {
                        for &s in ps
                            .iter()
                            .filter(|s| !(prod_by_default && sets.writes_data.contains(s)))
                        {
                            assignments.insert(Assignment {
                                account: AccountRef::Account(ai),
                                permission_set: s,
                            });
                        }
                    }
                }
                groups.push(Group {
                    name,
                    description: tg.description.clone(),
                    created_by: CreatedBy::Mlz,
                    id: None,
                    team: Some(TeamIdx(ti)),
                    assignments: assignments.into_iter().collect(),
                });
            }
        }
    }
}
