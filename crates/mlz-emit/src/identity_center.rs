//! IAM Identity Center: permission sets, groups and account assignments.
//!
//! An assignment targets one account, so a group given an OU was already expanded to every
//! account in it by the model. Assignments are spread over stacks by a fixed hash (of the
//! account key for platform groups, of the team name for team groups), so adding an
//! account or a team touches only the stacks that hold it.

use std::collections::{BTreeMap, BTreeSet};

use mlz_cfn::{LogicalId, Output, Resource, Template, Value};
use mlz_model::identity_policies::STUDIO_USER_TAG;
use mlz_model::{Assignment, CreatedBy, Group, IdentityCenter, Platform};

use crate::common::{
    account_key, account_ref_ident, all_ok, bucket_label, bucket_of, bug, chain_lanes,
    managed_policy, new_stack, use_ident, Ident, GROUP_ID_PATTERN,
};
use crate::plan::{exports, Area, ExportKey, Fact, StackId};
use crate::stack::{Emitted, Lookup, Stack, StackParam};
use crate::types::{IDENTITY_STORE_GROUP, SSO_ABAC, SSO_ASSIGNMENT, SSO_PERMISSION_SET};
use crate::EmitError;

/// Identity Center applies assignments slowly and refuses too many at once on one
/// permission set: at most this many are created in parallel.
const ASSIGNMENT_LANES: usize = 10;
pub(crate) use crate::common::INSTANCE_ARN_PATTERN;
const STORE_ID_PATTERN: &str =
    "^d-[0-9a-f]{10}$|^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

fn instance(
    p: &Platform,
    ic: &IdentityCenter,
    t: &mut Template,
    params: &mut Vec<StackParam>,
    path: &str,
) -> Result<Value, EmitError> {
    Ok(match &ic.instance_arn {
        Some(a) => Value::str(a.clone()),
        None => {
            let ident = Ident::Param {
                id: LogicalId::new("InstanceArn").map_err(|e| bug(path, e))?,
                description: "The IAM Identity Center instance ARN: aws sso-admin list-instances"
                    .into(),
                pattern: INSTANCE_ARN_PATTERN,
                lookup: Lookup::IdentityCenterInstanceArn,
            };
            use_ident(p, ident, t, params)?
        }
    })
}

fn store(
    p: &Platform,
    ic: &IdentityCenter,
    t: &mut Template,
    params: &mut Vec<StackParam>,
    path: &str,
) -> Result<Value, EmitError> {
    Ok(match &ic.identity_store_id {
        Some(s) => Value::str(s.clone()),
        None => {
            let ident = Ident::Param {
                id: LogicalId::new("IdentityStoreId").map_err(|e| bug(path, e))?,
                description: "The identity store id (d-...): aws sso-admin list-instances".into(),
                pattern: STORE_ID_PATTERN,
                lookup: Lookup::IdentityStoreId,
            };
            use_ident(p, ident, t, params)?
        }
    })
}

fn group_resource(g: &Group, store: Value) -> Resource {
    let mut r = Resource::new(IDENTITY_STORE_GROUP)
        .prop("DisplayName", g.name.as_str())
        .prop("IdentityStoreId", store);
    if let Some(d) = &g.description {
        r = r.prop("Description", d.as_str());
    }
    r
}

pub fn emit(p: &Platform, out: &mut Emitted) -> Result<(), Vec<EmitError>> {
    let Some(ic) = &p.identity_center else {
        return Ok(());
    };
    let mut errs = Vec::new();
    match permission_sets(p, ic) {
        Ok(s) => out.stacks.push(s),
        Err(e) => errs.push(e),
    }
    match access(p, ic) {
        Ok(stacks) => out.stacks.extend(stacks),
        Err(e) => errs.push(e),
    }
    all_ok(errs)
}

fn ps_id(name: &str, path: &str) -> Result<LogicalId, EmitError> {
    LogicalId::derive("PermissionSet", name).map_err(|e| bug(path, e))
}

fn group_id(name: &str, path: &str) -> Result<LogicalId, EmitError> {
    LogicalId::derive("Group", name).map_err(|e| bug(path, e))
}

/// A permission set's inline policy: its own, plus the Service Catalog end-user statements
/// when a portfolio names it as principal, and the right to assume the cloud admin role when
/// it is a cloud-admin permission set.
fn inline_policy(p: &Platform, ps: &mlz_model::PermissionSet) -> Option<serde_json::Value> {
    // A permission set a portfolio names as principal (its Identity Center role matches
    // the portfolio's IAM_PATTERN) may launch that portfolio's products: the Service
    // Catalog end-user actions, on top of its own policy.
    let launches = p.portfolios.iter().any(|pf| {
        pf.principals
            .iter()
            .any(|pat| pat.contains(&format!("AWSReservedSSO_{}_", ps.name)))
    });
    let mut inline = ps.inline_policy.clone();
    if launches {
        // Find and launch; manage their own provisioned products only
        // (servicecatalog:userLevel self, as AWS's end-user examples; IfExists because not
        // every action carries the key): no one updates or terminates a colleague's.
        let launch = serde_json::json!({
            "Sid": "LaunchPortfolioProducts",
            "Effect": "Allow",
            "Action": crate::common::SERVICE_CATALOG_LAUNCH_ACTIONS,
            "Resource": "*"
        });
        let manage = serde_json::json!({
            "Sid": "ManageOwnProvisionedProducts",
            "Effect": "Allow",
            "Action": crate::common::SERVICE_CATALOG_MANAGE_ACTIONS,
            "Resource": "*",
            "Condition": { "StringEqualsIfExists": { "servicecatalog:userLevel": "self" } }
        });
        let doc = inline.get_or_insert_with(
            || serde_json::json!({ "Version": mlz_model::aws::IAM_POLICY_VERSION, "Statement": [] }),
        );
        if let Some(list) = doc["Statement"].as_array_mut() {
            list.push(launch);
            list.push(manage);
        }
    }
    // A cloud-admin permission set may assume the cloud admin role in the accounts that
    // receive portfolios (which trusts these Identity Center roles only).
    if p.cloud_admins
        .as_ref()
        .is_some_and(|c| c.contains(&ps.name))
    {
        let assume = serde_json::json!({
            "Sid": "AssumeCloudAdmin",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": format!("arn:aws:iam::*:role/{}", crate::common::CLOUD_ADMIN_ROLE)
        });
        let doc = inline.get_or_insert_with(
            || serde_json::json!({ "Version": mlz_model::aws::IAM_POLICY_VERSION, "Statement": [] }),
        );
        if let Some(list) = doc["Statement"].as_array_mut() {
            list.push(assume);
        }
    }
    inline
}

fn permission_sets(p: &Platform, ic: &IdentityCenter) -> Result<Stack, EmitError> {
    let id = StackId::new(Area::IdentityCenter, "permission-sets");
    let path = id.path();
    let path = path.as_str();
    let mut t = Template::new(format!(
        "{}: IAM Identity Center permission sets, attributes for access control, and platform groups. Deploy in the management account, home region.",
        p.organization.name
    ));
    let mut params = Vec::new();
    let inst = instance(p, ic, &mut t, &mut params, path)?;
    for (pi, ps) in ic.permission_sets.iter().enumerate() {
        let lid = ps_id(&ps.name, path)?;
        let mut r = Resource::new(SSO_PERMISSION_SET)
            .prop("Name", ps.name.as_str())
            .prop("InstanceArn", inst.clone())
            .prop("SessionDuration", ps.session_duration.as_str());
        if let Some(d) = &ps.description {
            r = r.prop("Description", d.as_str());
        }
        if !ps.managed_policies.is_empty() {
            r = r.prop(
                "ManagedPolicies",
                Value::List(
                    ps.managed_policies
                        .iter()
                        .map(|m| managed_policy(m))
                        .collect(),
                ),
            );
        }
        let inline = inline_policy(p, ps);
        if let Some(doc) = &inline {
            let doc = Value::from_json(doc).map_err(|e| {
                bug(
                    path,
                    format!("the inline policy of permission set {}: {e}", ps.name),
                )
            })?;
            r = r.prop("InlinePolicy", doc);
        }
        t.add_resource(lid.clone(), r).map_err(|e| bug(path, e))?;
        t.add_output(
            LogicalId::new(format!("{lid}Arn")).map_err(|e| bug(path, e))?,
            Output {
                description: Some(format!("Permission set {}", ps.name)),
                value: Value::GetAtt(lid.clone(), "PermissionSetArn".into()),
                export: exports::export(p, &ExportKey::PermissionSetArn(pi))?,
                condition: None,
            },
        )
        .map_err(|e| bug(path, e))?;
    }
    // Sessions carry the user name as a tag, so a policy can match "your own" resources
    // (a SageMaker Studio profile tagged with its owner).
    let abac = Resource::new(SSO_ABAC).prop("InstanceArn", inst).prop(
        "AccessControlAttributes",
        Value::List(vec![Value::map([
            ("Key", Value::str(STUDIO_USER_TAG)),
            (
                "Value",
                Value::map([("Source", Value::list_of_str(["${path:userName}"]))]),
            ),
        ])]),
    );
    t.add_resource(
        LogicalId::new("AccessControlAttributes").map_err(|e| bug(path, e))?,
        abac,
    )
    .map_err(|e| bug(path, e))?;
    let platform_groups: Vec<(usize, &Group)> = ic
        .groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.team.is_none() && g.created_by == CreatedBy::Mlz && g.id.is_none())
        .collect();
    let mut created = Vec::new();
    if !platform_groups.is_empty() {
        let st = store(p, ic, &mut t, &mut params, path)?;
        for (gi, g) in platform_groups {
            created.push(Fact::GroupExists(gi));
            let lid = group_id(&g.name, path)?;
            t.add_resource(lid.clone(), group_resource(g, st.clone()))
                .map_err(|e| bug(path, e))?;
            t.add_output(
                LogicalId::new(format!("{lid}Id")).map_err(|e| bug(path, e))?,
                Output {
                    description: Some(format!("Group {}", g.name)),
                    value: Value::GetAtt(lid.clone(), "GroupId".into()),
                    export: exports::export(p, &ExportKey::GroupId(gi))?,
                    condition: None,
                },
            )
            .map_err(|e| bug(path, e))?;
        }
    }
    let mut s = new_stack(p, id, t);
    s.parameters = params;
    s.provides = created;
    Ok(s)
}

/// Where a platform group's id comes from: its own stack's export, the config, or a parameter.
fn platform_group_ident(g: &Group, gi: usize, path: &str) -> Result<Ident, EmitError> {
    let lid = group_id(&g.name, path)?;
    Ok(match (&g.id, g.created_by) {
        (Some(id), _) => Ident::Literal(id.clone()),
        (None, CreatedBy::Mlz) => Ident::Import(ExportKey::GroupId(gi)),
        (None, _) => Ident::Param {
            id: LogicalId::new(format!("{lid}Id")).map_err(|e| bug(path, e))?,
            description: format!(
                "The id of group {} in the identity store (aws identitystore list-groups)",
                g.name
            ),
            pattern: GROUP_ID_PATTERN,
            lookup: Lookup::GroupId(g.name.clone()),
        },
    })
}

/// A group (with its index) to create (no assignment), or one of its assignments.
type Item<'a> = (usize, &'a Group, Option<&'a Assignment>);

/// The stacks that hold assignments (and team groups), by bucket.
fn access(p: &Platform, ic: &IdentityCenter) -> Result<Vec<Stack>, EmitError> {
    // (is a team stack, bucket) → (group, assignment) in model order.
    let mut buckets: BTreeMap<(bool, usize), Vec<Item<'_>>> = BTreeMap::new();
    for (gi, g) in ic.groups.iter().enumerate() {
        match g.team {
            Some(team) => {
                let b = bucket_of(&p.team(team).name, ic.team_stacks);
                let list = buckets.entry((true, b)).or_default();
                list.push((gi, g, None));
                list.extend(g.assignments.iter().map(|a| (gi, g, Some(a))));
            }
            None => {
                for a in &g.assignments {
                    let b = bucket_of(&account_key(p, a.account), ic.platform_stacks);
                    buckets
                        .entry((false, b))
                        .or_default()
                        .push((gi, g, Some(a)));
                }
            }
        }
    }
    // Each permission set's ARN import, made once rather than once per assignment.
    let ps_arns: Vec<Value> = (0..ic.permission_sets.len())
        .map(|i| exports::import(p, &ExportKey::PermissionSetArn(i)))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for ((team, b), items) in buckets {
        let (label, n) = if team {
            (bucket_label(b, ic.team_stacks), ic.team_stacks)
        } else {
            (bucket_label(b, ic.platform_stacks), ic.platform_stacks)
        };
        let kind = if team {
            "team-access"
        } else {
            "platform-access"
        };
        let id = StackId::new(Area::IdentityCenter, format!("{kind}-{label}"));
        let path = id.path();
        let mut t = Template::new(format!(
            "{}: Identity Center {} group {label} of {n} (grouped by a fixed hash of the {}). Deploy in the management account, home region.",
            p.organization.name,
            if team { "team groups and their assignments," } else { "assignments of platform groups," },
            if team { "team name" } else { "account key" },
        ));
        let mut params = Vec::new();
        let inst = instance(p, ic, &mut t, &mut params, &path)?;
        let mut order = Vec::new();
        let mut created = Vec::new();
        let mut held: BTreeSet<String> = BTreeSet::new();
        for (_, g, a) in &items {
            let (g, a) = (*g, *a);
            held.insert(match (team, g.team, a) {
                (true, Some(t), _) => p.team(t).name.clone(),
                (_, _, Some(a)) => crate::common::account_name(p, a.account),
                _ => continue,
            });
        }
        for (gi, g, a) in items {
            let gid = group_id(&g.name, &path)?;
            let Some(a) = a else {
                // A team group, created in this stack.
                created.push(Fact::GroupExists(gi));
                let st = store(p, ic, &mut t, &mut params, &path)?;
                t.add_resource(gid, group_resource(g, st))
                    .map_err(|e| bug(&path, e))?;
                continue;
            };
            let principal = if g.team.is_some() {
                Value::GetAtt(gid.clone(), "GroupId".into())
            } else {
                use_ident(p, platform_group_ident(g, gi, &path)?, &mut t, &mut params)?
            };
            let ps = &ic.permission_sets[a.permission_set];
            let target = use_ident(p, account_ref_ident(p, a.account)?, &mut t, &mut params)?;
            let lid = LogicalId::derive(
                "Assign",
                &format!("{} {} {}", g.name, ps.name, account_key(p, a.account)),
            )
            .map_err(|e| bug(&path, e))?;
            let r = Resource::new(SSO_ASSIGNMENT)
                .prop("InstanceArn", inst.clone())
                .prop("PermissionSetArn", ps_arns[a.permission_set].clone())
                .prop("PrincipalType", "GROUP")
                .prop("PrincipalId", principal)
                .prop("TargetType", "AWS_ACCOUNT")
                .prop("TargetId", target);
            t.add_resource(lid.clone(), r).map_err(|e| bug(&path, e))?;
            order.push(lid);
        }
        chain_lanes(&mut t, &order, ASSIGNMENT_LANES);
        let mut s = new_stack(p, id, t);
        s.limit_hint = if team {
            "raise identityCenter.teamStacks (assignments move between stacks: access pauses briefly while they are recreated)"
        } else {
            "raise identityCenter.platformStacks (assignments move between stacks: access pauses briefly while they are recreated)"
        };
        s.parameters = params;
        s.provides = created;
        s.contents = Some((
            if team { "teams" } else { "accounts" },
            held.into_iter().collect(),
        ));
        out.push(s);
    }
    Ok(out)
}
