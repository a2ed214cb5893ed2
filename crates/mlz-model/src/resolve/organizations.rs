//! The organisation core: the organisation itself, OUs (the tree AWS Organizations can hold),
//! stages and naming patterns, teams and their stage accounts, declared accounts, and the
//! Organizations policies with their builtin documents. Sections of `Resolver::run`.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::{Accounts, Declared, Namespace, Resolver};
use crate::aws;
use crate::builtin;
use crate::diag::{did_you_mean, Diagnostic};
use crate::model::*;
use crate::naming::{self, PatternError, Patterns};
use crate::path::ConfigPath;
use crate::raw::*;
use crate::yaml::Span;

impl Resolver<'_> {
    pub(super) fn organization(&mut self, o: RawOrganization, path: &ConfigPath) -> Organization {
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

    pub(super) fn bad_email(&self, email: &str, path: &ConfigPath) -> Diagnostic {
        self.at(
            "invalid-email",
            path,
            format!("{email:?} is not a valid e-mail address"),
        )
        .expected("name@domain.tld in 7-bit ASCII: no spaces or \" ' ( ) < > [ ] : ; , \\ | % & before the @, no leading dot; after it letters, digits, hyphens and dots only")
    }

    /// Each OU's depth below the root, by walking up with memoisation (linear overall); None
    /// for an OU whose chain of parents breaks (an unknown parent) or is a cycle, which is
    /// reported once, at its first OU.
    fn ou_depths(
        &mut self,
        raw: &[Option<RawOu>],
        parent: &[Result<Option<usize>, ()>],
        list: &ConfigPath,
    ) -> Vec<Option<usize>> {
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
        st.into_iter()
            .map(|x| match x {
                St::Depth(d) => Some(d),
                St::Todo | St::Broken => None,
            })
            .collect()
    }

    pub(super) fn ous(
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
        let depth_of = self.ou_depths(raw, &parent, &list);
        // Order: parents before children, siblings in file order.
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); raw.len()];
        let mut roots = Vec::new();
        for (i, p) in parent.iter().enumerate() {
            if depth_of[i].is_none() {
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
            let Some(depth) = depth_of[i] else { continue };
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

    pub(super) fn lookup_ou(
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

    pub(super) fn stages(
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
    pub(super) fn patterns_tell_accounts_apart(
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

    pub(super) fn patterns(&mut self, naming: &RawNaming) -> Option<Patterns> {
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
    pub(super) fn teams(
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
                let Some(cand) = team_account(t, &stage, tidx, ou, ous, pats, org, &p) else {
                    continue;
                };
                if let Some(a) = self.add_account(accounts, cand) {
                    team.accounts.push(a);
                }
            }
            teams.push(team);
        }
    }

    /// The teams and their stage accounts, after the naming patterns are checked (once, at
    /// the pattern, when they cannot tell accounts apart).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn all_teams(
        &mut self,
        raw_teams: &[Option<RawTeam>],
        raw_naming: &RawNaming,
        raw_stages: &[Option<RawStage>],
        stages: &HashMap<String, Declared<Option<OuIdx>>>,
        bad_stages: &HashSet<String>,
        ou_names: &HashMap<String, Declared<OuIdx>>,
        bad_ous: &HashSet<String>,
        ous: &[Ou],
        organization: &Organization,
        accounts: &mut Accounts,
        teams: &mut Vec<Team>,
    ) {
        if raw_teams.iter().any(Option::is_some) {
            let declared = raw_stages.iter().flatten().count();
            let teams_declared = raw_teams.iter().flatten().count();
            let several_stages = raw_teams
                .iter()
                .flatten()
                .any(|t| t.stages.as_ref().map_or(declared, Vec::len) > 1);
            let patterns = self.patterns(raw_naming);
            if let Some(p) = &patterns {
                self.patterns_tell_accounts_apart(p, teams_declared > 1, several_stages);
            }
            self.teams(
                raw_teams,
                stages,
                bad_stages,
                ou_names,
                bad_ous,
                ous,
                patterns.as_ref(),
                organization,
                accounts,
                teams,
            );
        } else {
            let _ = self.patterns(raw_naming);
        }
    }

    /// The accounts the config declares (not the teams'), each checked and added.
    pub(super) fn declared_accounts(
        &mut self,
        raw_accounts: &[Option<RawAccount>],
        ou_names: &HashMap<String, Declared<OuIdx>>,
        bad_ous: &HashSet<String>,
        accounts: &mut Accounts,
    ) {
        for (i, a) in raw_accounts.iter().enumerate() {
            let Some(a) = a else { continue };
            let p = ConfigPath::root().key("accounts").index(i);
            let ou = self.lookup_ou(&a.ou, &p.key("ou"), ou_names, bad_ous);
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
            self.add_account(accounts, cand);
        }
    }

    /// Checks one account against the others and adds it. Returns its index if it was added.
    /// What AWS Organizations accepts of one account's name and e-mail (their length, the
    /// address's form), with where a pattern made them.
    fn account_name_and_email_valid(&mut self, c: &Candidate) -> bool {
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
        ok
    }

    pub(super) fn add_account(&mut self, accs: &mut Accounts, c: Candidate) -> Option<AccountIdx> {
        let made = |what: &str| match &c.generated {
            Some(stage) => format!(" (the {what} made by the naming pattern for stage {stage:?})"),
            None => String::new(),
        };
        let mut ok = self.account_name_and_email_valid(&c);
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

    pub(super) fn policies(
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
        let account_names = accounts.namespace();
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
            if let (PolicyType::Tag, Some(document)) = (ptype, &document) {
                self.tag_policy(pol, document, &p);
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

    /// A tag policy's keys (for `tag-key-spelling`), and whether it does what it says: a key
    /// without `enforced_for` is only reported when non-compliant, never refused
    /// (Organizations user guide, "Tag policies": "enforcement" and "noncompliant tags").
    fn tag_policy(&mut self, pol: &RawPolicy, document: &Value, p: &ConfigPath) {
        let Some(tags) = document.get("tags").and_then(Value::as_object) else {
            return;
        };
        let mut enforced = false;
        for (key, spec) in tags {
            let assigned = spec
                .pointer("/tag_key/@@assign")
                .and_then(Value::as_str)
                .unwrap_or(key);
            self.tag_policy_keys
                .push((assigned.to_owned(), pol.name.clone()));
            enforced |= spec.get("enforced_for").is_some();
        }
        let says = pol
            .description
            .as_deref()
            .is_some_and(|d| d.to_ascii_lowercase().contains("report"));
        if !enforced && !says {
            let at = if pol.description.is_some() {
                p.key("description")
            } else {
                p.key("name")
            };
            let d = self
                .at(
                    "tag-policy-not-enforced",
                    &at,
                    format!("tag policy {:?} enforces none of its keys: AWS only reports tags that break it", pol.name),
                )
                .warning()
                .hint("give a key `enforced_for: { \"@@assign\": [\"<service>:<resource type>\"] }` to refuse non-compliant tags on those resources, or say in the description that it reports only");
            self.push(d);
        }
    }

    pub(super) fn policy_document(
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

/// The account a team gets for a stage: its name and e-mail from the naming patterns, tagged
/// with team and stage. None without an e-mail pattern (reported once, for all teams).
#[allow(clippy::too_many_arguments)]
fn team_account(
    t: &RawTeam,
    stage: &str,
    tidx: TeamIdx,
    ou: Option<OuIdx>,
    ous: &[Ou],
    pats: &Patterns,
    org: &Organization,
    p: &ConfigPath,
) -> Option<Candidate> {
    let ou_name = ou.map_or("", |o| ous[o.0].name.as_str());
    let vars: BTreeMap<&str, &str> = [
        ("team", t.name.as_str()),
        ("stage", stage),
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
        ("stage".to_owned(), stage.to_owned()),
    ]
    .into();
    tags.extend(t.tags.clone());
    (!email.is_empty()).then_some(Candidate {
        key: format!("{}-{stage}", t.name),
        name,
        email: email.clone(),
        ou,
        id: None,
        created_by: CreatedBy::Mlz,
        tags,
        team: Some((tidx, stage.to_owned())),
        name_path: p.key("name"),
        email_path: p.key("name"),
        key_path: p.key("name"),
        id_path: p.key("name"),
        generated: Some(stage.to_owned()),
    })
}

pub(super) struct Candidate {
    pub(super) key: String,
    pub(super) name: String,
    pub(super) email: String,
    pub(super) ou: Option<OuIdx>,
    pub(super) id: Option<String>,
    pub(super) created_by: CreatedBy,
    pub(super) tags: BTreeMap<String, String>,
    pub(super) team: Option<(TeamIdx, String)>,
    pub(super) name_path: ConfigPath,
    pub(super) email_path: ConfigPath,
    pub(super) key_path: ConfigPath,
    pub(super) id_path: ConfigPath,
    /// The stage, when the name and e-mail came from naming patterns.
    pub(super) generated: Option<String>,
}

/// What the builtin policy documents are made from.
#[derive(Clone, Copy)]
pub(super) struct BuiltinContext<'a> {
    pub(super) governed: &'a [String],
    pub(super) exempt: &'a builtin::Exempt,
}
