//! Service Catalog: portfolios with their products, launch constraints, IAM_PATTERN
//! principals, tag options and shares; the product templates themselves; and, through
//! service-managed StackSets, the roles every consuming account needs (the launch roles and
//! the cloud admin role).
//!
//! Sharing with an OU: CloudFormation's `PortfolioShare` takes a 12-digit account id only.
//! In `organization` mode (the default) a small custom resource calls CreatePortfolioShare
//! with the OU as organization node, sharing tag options and principals: one share that
//! reaches every account in the OU, now and later. In `accounts` mode there is one
//! `PortfolioShare` per account, which needs every account's id in the config.

use std::collections::{BTreeMap, BTreeSet};

use mlz_cfn::{LogicalId, Output, Resource, Template, Value};
use mlz_model::{AccountRef, OuIdx, Platform, Portfolio};
use serde_json::json;

use crate::common::{
    account_name, account_ref_ident, account_ref_ident_in, all_ok, bug, chain, content_version,
    custom_function, new_stack, ou_ident, ou_ident_in, template_url, use_ident, CustomFunction,
};
use crate::plan::{exports, rules, Area, DeployAs, ExportKey, Fact, Need, Service, StackId};
use crate::stack::{DeployKind, Emitted, ManualStep, Stack, StackParam, StackSetTargets, Upload};
use crate::types::{
    CFN_STACK_SET, CUSTOM_ORGANIZATION_SHARE, IAM_ROLE, SC_LAUNCH_ROLE_CONSTRAINT, SC_PORTFOLIO,
    SC_PORTFOLIO_PRINCIPAL, SC_PORTFOLIO_PRODUCT, SC_PORTFOLIO_SHARE, SC_PRODUCT, SC_TAG_OPTION,
    SC_TAG_OPTION_ASSOCIATION,
};
use crate::EmitError;

/// The role consuming accounts' cloud administrators assume to provision products.
pub use crate::common::CLOUD_ADMIN_ROLE;

use crate::common::plain as j;

/// mlz's own JSON that holds intrinsic functions, read as typed values.
fn jx(v: serde_json::Value) -> Value {
    mlz_cfn::parse_value(&v).expect("mlz's own intrinsics are well formed")
}

/// Whether an account lies in one of the OUs (or below them), and which.
fn covering_ou(p: &Platform, a: AccountRef, ous: &[OuIdx]) -> Option<OuIdx> {
    let AccountRef::Account(i) = a else {
        return None;
    };
    let mut cur = Some(p.account(i).ou);
    while let Some(o) = cur {
        if ous.contains(&o) {
            return Some(o);
        }
        cur = p.ou(o).parent;
    }
    None
}

/// The fact that the portfolio's launch role is in account `a`: through the StackSet that
/// covers its OU, or the one aimed at the account itself.
fn launch_role_fact(p: &Platform, pf: &Portfolio, a: AccountRef) -> Fact {
    match covering_ou(p, a, &pf.consumer_ous) {
        Some(ou) => Fact::RoleInOu {
            ou,
            name: pf.launch_role.clone(),
        },
        None => Fact::Role {
            account: a,
            name: pf.launch_role.clone(),
        },
    }
}

/// Accounts that need the launch role but no consumer OU gives it to them: the portfolio's
/// own account and accounts it is shared with one by one.
fn launch_role_accounts(p: &Platform, pf: &Portfolio) -> Vec<AccountRef> {
    let mut out = Vec::new();
    for a in std::iter::once(pf.account).chain(pf.share_accounts.iter().copied()) {
        if covering_ou(p, a, &pf.consumer_ous).is_none() && !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

pub fn emit(p: &Platform, out: &mut Emitted) -> Result<(), Vec<EmitError>> {
    let mut errs = Vec::new();
    for (i, pf) in p.portfolios.iter().enumerate() {
        if let Err(e) = portfolio(p, i, pf, out) {
            errs.push(e);
        }
    }
    if let Err(e) = tag_option_stacks(p, out) {
        errs.push(e);
    }
    organizations_access(p, out);
    if let Err(e) = consumer_roles(p, out) {
        errs.push(e);
    }
    all_ok(errs)
}

/// Sharing with OUs needs Service Catalog's access to AWS Organizations and, for portfolios
/// outside the management account, their account as Service Catalog's delegated
/// administrator: one step for the whole platform.
fn organizations_access(p: &Platform, out: &mut Emitted) {
    let mut admins: Vec<AccountRef> = Vec::new();
    for pf in p.portfolios.iter().filter(|pf| !pf.share_ous.is_empty()) {
        if pf.account != AccountRef::Management && !admins.contains(&pf.account) {
            admins.push(pf.account);
        }
    }
    if !p.portfolios.iter().any(|pf| !pf.share_ous.is_empty()) {
        return;
    }
    let mut commands = vec!["aws servicecatalog enable-aws-organizations-access".to_owned()];
    let mut provides = vec![Fact::TrustedAccess(Service::ServiceCatalog)];
    let mut requires = Vec::new();
    for &a in &admins {
        let id = match a {
            AccountRef::Account(i) => p
                .account(i)
                .id
                .clone()
                .unwrap_or_else(|| format!("<{} account id>", account_name(p, a))),
            AccountRef::Management => String::new(),
        };
        commands.push(format!("aws organizations register-delegated-administrator --account-id {id} --service-principal servicecatalog.amazonaws.com"));
        provides.push(Fact::DelegatedAdmin {
            service: Service::ServiceCatalog,
            account: a,
        });
        requires.push(Need::new(Fact::AccountExists(a), &rules::ACCOUNT_FIRST));
    }
    out.steps.push(ManualStep {
        id: "service-catalog-organizations-access".into(),
        account: AccountRef::Management,
        reason: "Sharing a portfolio with an OU needs Service Catalog's access to AWS Organizations and, for a portfolio outside the management account, that account as Service Catalog's delegated administrator. CloudFormation has no resource type for either.".into(),
        commands,
        provides,
        requires,
    });
}

/// The portfolio's shares with accounts, and for each the step that accepts it in the
/// receiving account and associates the principals (they are not shared with it).
#[allow(clippy::too_many_arguments)]
fn account_shares(
    p: &Platform,
    index: usize,
    pf: &Portfolio,
    pid: &LogicalId,
    t: &mut Template,
    params: &mut Vec<StackParam>,
    provides: &mut Vec<Fact>,
    path: &str,
    out: &mut Emitted,
) -> Result<Vec<LogicalId>, EmitError> {
    let mut shares = Vec::new();
    for &a in &pf.share_accounts {
        let key = match a {
            AccountRef::Management => "management".to_owned(),
            AccountRef::Account(i) => p.account(i).key.clone(),
        };
        let id = LogicalId::derive("Share", &key).map_err(|e| bug(path, e))?;
        let account = use_ident(p, account_ref_ident_in(p, a, pf.account)?, t, params)?;
        t.add_resource(
            id.clone(),
            Resource::new(SC_PORTFOLIO_SHARE)
                .prop("PortfolioId", Value::Ref(pid.clone()))
                .prop("AccountId", account)
                .prop("ShareTagOptions", true),
        )
        .map_err(|e| bug(path, e))?;
        shares.push(id);
        provides.push(Fact::PortfolioShared {
            portfolio: index,
            account: a,
        });
        // An account share must be accepted in the receiving account, and principals are not
        // shared with it.
        let key = match a {
            AccountRef::Management => "management".to_owned(),
            AccountRef::Account(i) => crate::common::slug(&p.account(i).key),
        };
        out.steps.push(ManualStep {
            id: format!("accept-portfolio-{}-{key}", pf.name),
            account: a,
            reason: format!(
                "An account share must be accepted in the receiving account, and principals are not shared with it: accept portfolio {} and associate the principals ({}).",
                pf.display_name,
                pf.principals.join(", ")
            ),
            commands: vec![
                "aws servicecatalog accept-portfolio-share --portfolio-id <PortfolioId output>".into(),
                "aws servicecatalog associate-principal-with-portfolio --portfolio-id <PortfolioId output> --principal-type IAM_PATTERN --principal-arn <pattern>".into(),
            ],
            provides: Vec::new(),
            requires: vec![Need::new(
                Fact::PortfolioShared {
                    portfolio: index,
                    account: a,
                },
                &rules::OUTPUTS_FIRST,
            )],
        });
    }
    Ok(shares)
}

/// One product of a portfolio: its template (the `mlz:` imports named) as a stack that is
/// uploaded under its content hash, the product whose version is that hash, its association,
/// and its launch constraint (after the association). Returns the template's stack id.
fn product(
    p: &Platform,
    pf: &Portfolio,
    prod: &mlz_model::Product,
    pid: &LogicalId,
    t: &mut Template,
    path: &str,
    out: &mut Emitted,
) -> Result<StackId, EmitError> {
    // The product's `mlz:` imports (the platform VPC its account's blueprint exports) named.
    let mut template = prod.template.clone();
    crate::plan::exports::resolve_symbols(p, &mut template, &format!("products/{}", prod.name))?;
    let version = content_version(&template);
    let key = format!("products/{}/{}/{version}.template", pf.name, prod.name);
    let tid = StackId::new(Area::Products, format!("{}/{}", pf.name, prod.name));
    let mut ts = new_stack(p, tid.clone(), template);
    ts.account = pf.account;
    ts.deploy = DeployKind::ServiceCatalogProduct;
    ts.deploy_as = Some(DeployAs::LaunchRole(pf.launch_role.clone()));
    ts.upload = Some(Upload { key: key.clone() });
    ts.parameters = prod
        .template
        .parameters
        .iter()
        .map(|(id, param)| StackParam {
            name: id.to_string(),
            description: param.description.clone(),
            value: param.default.clone(),
            from_export: None,
            lookup: None,
        })
        .collect();
    out.stacks.push(ts);

    let prod_id = LogicalId::derive("Product", &prod.name).map_err(|e| bug(path, e))?;
    let mut product = Resource::new(SC_PRODUCT)
        .prop("Name", prod.name.as_str())
        .prop("Owner", prod.owner.as_str())
        .prop(
            "Description",
            prod.description.chars().take(8000).collect::<String>(),
        )
        .prop(
            "ProvisioningArtifactParameters",
            crate::common::artifact_parameters(p, &version, &key)?,
        );
    if prod.project_template {
        // Studio lists a product with this tag under its organisation's project templates
        // (docs/aws-rules.md, `project-templates`).
        product = product.prop(
            "Tags",
            Value::tags([(
                &"sagemaker:studio-visibility".to_owned(),
                &"true".to_owned(),
            )]),
        );
    }
    t.add_resource(prod_id.clone(), product)
        .map_err(|e| bug(path, e))?;
    let assoc_id = LogicalId::new(format!("{prod_id}InPortfolio")).map_err(|e| bug(path, e))?;
    t.add_resource(
        assoc_id.clone(),
        Resource::new(SC_PORTFOLIO_PRODUCT)
            .prop("PortfolioId", Value::Ref(pid.clone()))
            .prop("ProductId", Value::Ref(prod_id.clone())),
    )
    .map_err(|e| bug(path, e))?;
    let mut constraint = Resource::new(SC_LAUNCH_ROLE_CONSTRAINT)
        .prop("PortfolioId", Value::Ref(pid.clone()))
        .prop("ProductId", Value::Ref(prod_id.clone()))
        // A local role name resolves in each consuming account; an ARN would not.
        .prop("LocalRoleName", pf.launch_role.as_str())
        .prop(
            "Description",
            format!("Launch {} as {}", prod.name, pf.launch_role),
        );
    // Service Catalog refuses a constraint on a product not yet in the portfolio.
    constraint.depends_on.insert(assoc_id);
    t.add_resource(
        LogicalId::new(format!("{prod_id}LaunchRole")).map_err(|e| bug(path, e))?,
        constraint,
    )
    .map_err(|e| bug(path, e))?;
    t.add_output(
        LogicalId::new(format!("{prod_id}Id")).map_err(|e| bug(path, e))?,
        Output {
            description: Some(format!("Product {}", prod.name)),
            value: Value::Ref(prod_id),
            export: None,
            condition: None,
        },
    )
    .map_err(|e| bug(path, e))?;
    Ok(tid)
}

/// A TagOption's logical id, in its stack and in the associations that name it.
fn tag_option_id(key: &str, value: &str) -> Result<LogicalId, mlz_cfn::LogicalIdError> {
    LogicalId::derive("TagOption", &format!("{key} {value}"))
}

/// The TagOptions of each account that holds portfolios, in a stack of their own
/// (`service-catalog/tag-options-<account>`): CreateTagOption refuses a key and value the
/// account already has, so portfolios that share a TagOption cannot each make it, and a
/// stack of their own means no portfolio owns another's (removing a value from one
/// portfolio, or reordering them, moves nothing).
fn tag_option_stacks(p: &Platform, out: &mut Emitted) -> Result<(), EmitError> {
    let mut by_account: BTreeMap<AccountRef, BTreeSet<(&str, &str)>> = BTreeMap::new();
    for pf in &p.portfolios {
        for (k, values) in &pf.tag_options {
            for v in values {
                by_account
                    .entry(pf.account)
                    .or_default()
                    .insert((k.as_str(), v.as_str()));
            }
        }
    }
    for (account, options) in by_account {
        let (name, label) = crate::common::account_label(p, account);
        let id = StackId::new(Area::ServiceCatalog, format!("tag-options-{label}"));
        let path = id.path();
        let mut t = Template::new(format!(
            "{}: the Service Catalog TagOptions of the portfolios in {name}, which their portfolios import (an account holds each key and value once). Deploy in {name}, home region.",
            p.organization.name
        ));
        for (k, v) in options {
            let lid = tag_option_id(k, v).map_err(|e| bug(&path, e))?;
            t.add_resource(
                lid.clone(),
                Resource::new(SC_TAG_OPTION)
                    .prop("Key", k)
                    .prop("Value", v)
                    .prop("Active", true),
            )
            .map_err(|e| bug(&path, e))?;
            t.add_output(
                LogicalId::new(format!("{lid}Id")).map_err(|e| bug(&path, e))?,
                Output {
                    description: Some(format!("TagOption {k}={v}")),
                    value: Value::Ref(lid),
                    export: exports::export(p, &ExportKey::TagOption(k.to_owned(), v.to_owned()))?,
                    condition: None,
                },
            )
            .map_err(|e| bug(&path, e))?;
        }
        let mut s = new_stack(p, id, t);
        s.account = account;
        out.stacks.push(s);
    }
    Ok(())
}

/// A portfolio's tag options: associations with the account's TagOptions
/// ([`tag_option_stacks`]).
fn tag_options(
    p: &Platform,
    pf: &Portfolio,
    pid: &LogicalId,
    t: &mut Template,
    path: &str,
) -> Result<(), EmitError> {
    for (k, values) in &pf.tag_options {
        for v in values {
            let id = tag_option_id(k, v).map_err(|e| bug(path, e))?;
            t.add_resource(
                LogicalId::new(format!("{id}OnPortfolio")).map_err(|e| bug(path, e))?,
                Resource::new(SC_TAG_OPTION_ASSOCIATION)
                    .prop("ResourceId", Value::Ref(pid.clone()))
                    .prop(
                        "TagOptionId",
                        exports::import(p, &ExportKey::TagOption(k.clone(), v.clone()))?,
                    ),
            )
            .map_err(|e| bug(path, e))?;
        }
    }
    Ok(())
}

fn portfolio(
    p: &Platform,
    index: usize,
    pf: &Portfolio,
    out: &mut Emitted,
) -> Result<(), EmitError> {
    let id = StackId::new(Area::ServiceCatalog, format!("portfolio-{}", pf.name));
    let path = id.path();
    let mut t = Template::new(format!(
        "{}: Service Catalog portfolio {} (products, launch constraints, principals, tag options, shares). Deploy in {}, home region.",
        p.organization.name,
        pf.display_name,
        account_name(p, pf.account)
    ));
    let mut params: Vec<StackParam> = Vec::new();
    let pid = LogicalId::new("Portfolio").map_err(|e| bug(&path, e))?;
    let mut portfolio = Resource::new(SC_PORTFOLIO)
        .prop("DisplayName", pf.display_name.as_str())
        .prop("ProviderName", pf.provider.as_str());
    if let Some(d) = &pf.description {
        portfolio = portfolio.prop("Description", d.as_str());
    }
    if !pf.tags.is_empty() {
        portfolio = portfolio.prop("Tags", Value::tags(&pf.tags));
    }
    t.add_resource(pid.clone(), portfolio)
        .map_err(|e| bug(&path, e))?;
    // The launch role must exist here (where the constraint is made) and in every account
    // that launches.
    let mut requires = vec![Need::new(
        launch_role_fact(p, pf, pf.account),
        &rules::LAUNCH_ROLE_LOCAL,
    )];
    for &ou in &pf.consumer_ous {
        requires.push(Need::new(
            Fact::RoleInOu {
                ou,
                name: pf.launch_role.clone(),
            },
            &rules::LAUNCH_ROLE_LOCAL,
        ));
    }
    for &a in &pf.share_accounts {
        let need = Need::new(launch_role_fact(p, pf, a), &rules::LAUNCH_ROLE_LOCAL);
        if !requires.contains(&need) {
            requires.push(need);
        }
    }
    let mut provides = Vec::new();

    // Products: a template file uploaded under its content hash, a product whose version is
    // that hash, its association, and its launch constraint (after the association).
    for prod in &pf.products {
        let tid = product(p, pf, prod, &pid, &mut t, &path, out)?;
        requires.push(Need::new(Fact::Uploaded(tid), &rules::UPLOAD_FIRST));
    }

    // Principals: patterns, so that they match in every account the portfolio reaches.
    for pattern in &pf.principals {
        let short = pattern.rsplit('/').next().unwrap_or(pattern);
        let id = LogicalId::derive("Principal", short).map_err(|e| bug(&path, e))?;
        t.add_resource(
            id,
            Resource::new(SC_PORTFOLIO_PRINCIPAL)
                .prop("PortfolioId", Value::Ref(pid.clone()))
                .prop("PrincipalType", "IAM_PATTERN")
                .prop("PrincipalARN", pattern.as_str()),
        )
        .map_err(|e| bug(&path, e))?;
    }

    tag_options(p, pf, &pid, &mut t, &path)?;

    // Shares with accounts.
    let shares = account_shares(
        p,
        index,
        pf,
        &pid,
        &mut t,
        &mut params,
        &mut provides,
        &path,
        out,
    )?;
    // Shares are made one at a time: Service Catalog processes shares of a portfolio in turn.
    chain(&mut t, &shares);

    // Shares with OUs, as organization nodes.
    if !pf.share_ous.is_empty() {
        organization_shares(p, pf, &pid, &mut t, &mut params, &path)?;
        requires.push(Need::new(
            Fact::TrustedAccess(Service::ServiceCatalog),
            &rules::SERVICE_CATALOG_ORGANIZATIONS,
        ));
        if pf.account != AccountRef::Management {
            requires.push(Need::new(
                Fact::DelegatedAdmin {
                    service: Service::ServiceCatalog,
                    account: pf.account,
                },
                &rules::SERVICE_CATALOG_ORGANIZATIONS,
            ));
        }
    }

    t.add_output(
        LogicalId::new("PortfolioId").map_err(|e| bug(&path, e))?,
        Output {
            description: Some(format!("Portfolio {}", pf.display_name)),
            value: Value::Ref(pid),
            export: None,
            condition: None,
        },
    )
    .map_err(|e| bug(&path, e))?;
    let mut s = new_stack(p, id, t);
    s.account = pf.account;
    s.parameters = params;
    s.requires = requires;
    s.provides = provides;
    s.limit_hint = "split the portfolio's products or shares over two portfolios";
    out.stacks.push(s);
    Ok(())
}

/// The Lambda-backed custom resource that shares a portfolio with OUs (organization nodes).
fn organization_shares(
    p: &Platform,
    pf: &Portfolio,
    pid: &LogicalId,
    t: &mut Template,
    params: &mut Vec<StackParam>,
    path: &str,
) -> Result<(), EmitError> {
    let statement = |actions: &[&str]| {
        Value::map([
            ("Effect", Value::str("Allow")),
            ("Action", Value::list_of_str(actions.iter().copied())),
            ("Resource", Value::str("*")),
        ])
    };
    let function = custom_function(
        t,
        CustomFunction {
            name: "OrganizationShare",
            function_id: None,
            role_description: "Shares this portfolio with OUs; nothing else.",
            policy_name: "share-portfolio",
            statements: vec![
                statement(&[
                    "servicecatalog:CreatePortfolioShare",
                    "servicecatalog:DeletePortfolioShare",
                    "servicecatalog:UpdatePortfolioShare",
                    "servicecatalog:DescribePortfolioShareStatus",
                    "servicecatalog:DescribePortfolioShares",
                ]),
                statement(&[
                    "organizations:DescribeOrganization",
                    "organizations:DescribeOrganizationalUnit",
                ]),
            ],
            description: "CloudFormation's PortfolioShare takes account ids only: this shares the portfolio with an OU (organization node), with its tag options and principals.",
            timeout: 600,
            code: ORGANIZATION_SHARE_CODE,
        },
        path,
    )?;
    let mut previous: Option<LogicalId> = None;
    for &ou in &pf.share_ous {
        let ou_name = &p.ou(ou).name;
        let id = LogicalId::derive("OuShare", ou_name).map_err(|e| bug(path, e))?;
        let ou_id = use_ident(p, ou_ident_in(p, ou, pf.account)?, t, params)?;
        let mut r = Resource::new(CUSTOM_ORGANIZATION_SHARE)
            .prop("ServiceTimeout", crate::common::service_timeout(600))
            .prop(
                "ServiceToken",
                Value::GetAtt(function.clone(), "Arn".into()),
            )
            .prop("PortfolioId", Value::Ref(pid.clone()))
            .prop("OrganizationalUnitId", ou_id);
        if let Some(prev) = previous.replace(id.clone()) {
            r.depends_on.insert(prev);
        }
        t.add_resource(id, r).map_err(|e| bug(path, e))?;
    }
    Ok(())
}

const ORGANIZATION_SHARE_CODE: &str = r#"import time

import boto3
import cfnresponse

sc = boto3.client("servicecatalog")
BUSY = ("InvalidStateException", "ThrottlingException", "LimitExceededException")


def code(error):
    return getattr(error, "response", {}).get("Error", {}).get("Code", "")


def node(ou):
    return {"Type": "ORGANIZATIONAL_UNIT", "Value": ou}


def call(deadline, operation, **args):
    # A share operation refuses to start while another on the portfolio runs
    # (InvalidStateException): wait and try again until the deadline.
    pause = 5
    while True:
        try:
            return operation(**args)
        except Exception as error:
            if code(error) not in BUSY or time.time() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 30)


def settle(response, what, deadline):
    # Sharing with an OU is asynchronous: wait on its token (DescribePortfolioShareStatus).
    token = response.get("PortfolioShareToken")
    while token:
        status = sc.describe_portfolio_share_status(PortfolioShareToken=token)
        state = status["Status"]
        if state == "COMPLETED":
            return
        if state in ("COMPLETED_WITH_ERRORS", "ERROR"):
            errors = status.get("ShareDetails", {}).get("ShareErrors", [])
            detail = "; ".join(f'{e.get("Error")}: {e.get("Message")} ({", ".join(e.get("Accounts", []))})' for e in errors)
            raise RuntimeError(f"{what} ended {state}: {detail or 'no details'}"[:900])
        if time.time() > deadline:
            raise RuntimeError(f"{what} still {state}; see DescribePortfolioShareStatus {token}")
        time.sleep(10)


def shared(portfolio, ou):
    pages, token = [], None
    while True:
        args = {"PortfolioId": portfolio, "Type": "ORGANIZATIONAL_UNIT"}
        if token:
            args["PageToken"] = token
        page = sc.describe_portfolio_shares(**args)
        pages.extend(page.get("PortfolioShareDetails", []))
        token = page.get("NextPageToken")
        if not token:
            return any(d.get("PrincipalId") == ou for d in pages)


def handler(event, context):
    kind = event["RequestType"]
    old = event.get("PhysicalResourceId", "")
    physical = old
    # Leave half a minute of the function's time to answer.
    deadline = time.time() + context.get_remaining_time_in_millis() / 1000 - 30
    try:
        if kind == "Delete":
            # PORTFOLIO/OU names a share this resource made; anything else (a Create that
            # failed before sharing) has nothing to undo.
            parts = old.split("/")
            if len(parts) == 2:
                try:
                    response = call(deadline, sc.delete_portfolio_share, PortfolioId=parts[0], OrganizationNode=node(parts[1]))
                    settle(response, f"unsharing {parts[0]} from {parts[1]}", deadline)
                except Exception as error:
                    if code(error) != "ResourceNotFoundException":  # already gone: done
                        raise
            cfnresponse.send(event, context, cfnresponse.SUCCESS, {}, old)
            return
        props = event["ResourceProperties"]
        portfolio, ou = props["PortfolioId"], props["OrganizationalUnitId"]
        physical = f"{portfolio}/{ou}"
        flags = {"ShareTagOptions": True, "SharePrincipals": True}
        if kind == "Update" and old == physical:
            # The same share: keep it, and its settings.
            response = call(deadline, sc.update_portfolio_share, PortfolioId=portfolio, OrganizationNode=node(ou), **flags)
        else:
            # A new share (on Update, CloudFormation then deletes the old one). Until it
            # exists, a failure leaves nothing for Delete to undo. CreatePortfolioShare of a
            # share that exists does nothing: then its settings are made ours.
            physical = f"failed/{portfolio}/{ou}" if kind == "Create" else old
            existed = shared(portfolio, ou)
            operation = sc.update_portfolio_share if existed else sc.create_portfolio_share
            response = call(deadline, operation, PortfolioId=portfolio, OrganizationNode=node(ou), **flags)
            physical = f"{portfolio}/{ou}"
        settle(response, f"sharing {portfolio} with {ou}", deadline)
        cfnresponse.send(event, context, cfnresponse.SUCCESS, {}, physical)
    except Exception as error:  # report, never hang the stack
        cfnresponse.send(event, context, cfnresponse.FAILED, {}, physical or "failed", reason=str(error)[:1000])
"#;

/// The Identity Center roles that may assume the cloud admin role, as `aws:PrincipalArn`
/// patterns of the account the role is in.
fn cloud_admin_principals(p: &Platform) -> serde_json::Value {
    // Identity Center roles live under aws-reserved/sso.amazonaws.com/, with the region in
    // the path except for roles made in us-east-1: one pattern for each, anchored on the path.
    let role = |name: String| {
        ["", "*/"].map(|region| {
            json!({ "Fn::Sub": format!("arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/aws-reserved/sso.amazonaws.com/{region}{name}") })
        })
    };
    let names: Vec<String> = match &p.cloud_admins {
        Some(names) => names
            .iter()
            .map(|n| format!("AWSReservedSSO_{n}_*"))
            .collect(),
        None => vec!["AWSReservedSSO_*".to_owned()],
    };
    serde_json::Value::Array(names.into_iter().flat_map(role).collect())
}

/// What a launch role may do: what CloudFormation's resource handlers need for the resource
/// types of the built-in products (their schemas' `handlers.*.permissions`, less what only
/// properties no product sets call for), nothing broader. One policy document, better
/// whole: it is read (and reviewed) statement by statement against the products, and the
/// test `service_catalog::every_launch_role_covers_its_products_handlers` checks it against
/// the schemas.
fn launch_role_policy() -> serde_json::Value {
    let platform_parameters = [
        crate::common::PLATFORM_VPC_PARAMETER,
        crate::common::PLATFORM_SUBNETS_PARAMETER,
        crate::common::PLATFORM_CIDR_PARAMETER,
    ]
    .map(|n| format!("arn:aws:ssm:*:*:parameter{n}"));
    // This account's resources only: the launch role is in every consuming account and builds
    // there.
    let own = |service: &str, rest: &str| json!({ "Fn::Sub": format!("arn:aws:{service}:*:${{AWS::AccountId}}:{rest}") });
    let platform_roles = format!("arn:aws:iam::*:role/{}*", mlz_model::products::ROLE_PREFIX);
    json!({
        "Version": mlz_model::aws::IAM_POLICY_VERSION,
        "Statement": [
            {
                "Sid": "ProductStacks",
                "Effect": "Allow",
                "Action": [
                    "cloudformation:CreateStack", "cloudformation:DeleteStack", "cloudformation:UpdateStack",
                    "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents",
                    "cloudformation:SetStackPolicy"
                ],
                "Resource": "arn:aws:cloudformation:*:*:stack/SC-*"
            },
            {
                "Sid": "ReadTemplates",
                "Effect": "Allow",
                "Action": ["cloudformation:ValidateTemplate", "cloudformation:GetTemplateSummary"],
                "Resource": "*"
            },
            {
                "Sid": "ReadProductTemplates",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": { "StringEquals": { "s3:ExistingObjectTag/servicecatalog:provisioning": "true" } }
            },
            {
                "Sid": "SageMakerResources",
                "Effect": "Allow",
                "Action": [
                    "sagemaker:CreateDomain", "sagemaker:UpdateDomain", "sagemaker:DeleteDomain", "sagemaker:DescribeDomain",
                    "sagemaker:CreateApp", "sagemaker:DeleteApp", "sagemaker:DescribeApp",
                    "sagemaker:CreateUserProfile", "sagemaker:UpdateUserProfile", "sagemaker:DeleteUserProfile", "sagemaker:DescribeUserProfile",
                    "sagemaker:CreateModelPackageGroup", "sagemaker:DeleteModelPackageGroup", "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:GetModelPackageGroupPolicy", "sagemaker:PutModelPackageGroupPolicy", "sagemaker:DeleteModelPackageGroupPolicy",
                    "sagemaker:CreatePipeline", "sagemaker:UpdatePipeline", "sagemaker:DeletePipeline", "sagemaker:DescribePipeline",
                    "sagemaker:CreateModel", "sagemaker:DeleteModel", "sagemaker:DescribeModel",
                    "sagemaker:CreateEndpointConfig", "sagemaker:DeleteEndpointConfig", "sagemaker:DescribeEndpointConfig",
                    "sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint", "sagemaker:DeleteEndpoint", "sagemaker:DescribeEndpoint",
                    "sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags"
                ],
                "Resource": own("sagemaker", "*")
            },
            {
                // The Domain and UserProfile handlers read the images their settings name,
                // which may be SageMaker's own (in AWS's accounts).
                "Sid": "StudioImages",
                "Effect": "Allow",
                "Action": ["sagemaker:DescribeImage", "sagemaker:DescribeImageVersion"],
                "Resource": ["arn:aws:sagemaker:*:*:image/*", "arn:aws:sagemaker:*:*:image-version/*"]
            },
            {
                "Sid": "PlatformRolesOnly",
                "Effect": "Allow",
                "Action": [
                    "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRoleDescription", "iam:TagRole", "iam:UntagRole",
                    "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:GetRolePolicy",
                    "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole"
                ],
                "Resource": platform_roles
            },
            {
                // Only platform roles, and only to the services the products' roles trust.
                "Sid": "PassPlatformRoles",
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": platform_roles,
                "Condition": { "StringEquals": { "iam:PassedToService": PASSED_TO_SERVICES } }
            },
            {
                "Sid": "AutoscalingServiceRole",
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": "*",
                "Condition": { "StringEquals": { "iam:AWSServiceName": ["sagemaker.application-autoscaling.amazonaws.com", "sagemaker.amazonaws.com", "redshift.amazonaws.com"] } }
            },
            {
                // CreateKey names no key yet: its resource can only be "*".
                "Sid": "CreateKeys",
                "Effect": "Allow",
                "Action": "kms:CreateKey",
                "Resource": "*"
            },
            {
                // The products' keys (KMS::Key handlers) and the keys the Domain, EndpointConfig
                // and RedshiftServerless::Namespace handlers use: this account's keys only.
                "Sid": "AccountKeys",
                "Effect": "Allow",
                "Action": [
                    "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus", "kms:EnableKeyRotation",
                    "kms:DisableKeyRotation", "kms:EnableKey", "kms:DisableKey", "kms:UpdateKeyDescription",
                    "kms:TagResource", "kms:UntagResource", "kms:ListResourceTags", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
                    "kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant", "kms:RetireGrant",
                    "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyPair", "kms:GenerateDataKeyWithoutPlaintext"
                ],
                "Resource": own("kms", "key/*")
            },
            {
                // The Domain handler has SageMaker make the home file system, as the caller.
                "Sid": "StudioFileSystems",
                "Effect": "Allow",
                "Action": [
                    "elasticfilesystem:CreateFileSystem", "elasticfilesystem:DescribeMountTargets",
                    "elasticfilesystem:DeleteMountTarget", "elasticfilesystem:DeleteFileSystem"
                ],
                "Resource": own("elasticfilesystem", "file-system/*")
            },
            {
                // The UserProfile handler looks up the Identity Center user of an SSO domain.
                "Sid": "StudioUsers",
                "Effect": "Allow",
                "Action": ["sso:DescribeInstance", "sso:ListInstances", "identitystore:DescribeUser", "identitystore:ListUsers"],
                "Resource": "*"
            },
            {
                "Sid": "PlatformVpcParameters",
                "Effect": "Allow",
                "Action": ["ssm:GetParameters", "ssm:GetParameter"],
                "Resource": platform_parameters
            },
            {
                "Sid": "StudioNetworking",
                "Effect": "Allow",
                "Action": [
                    "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup", "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
                    "ec2:UpdateSecurityGroupRuleDescriptionsIngress", "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
                    "ec2:CreateTags", "ec2:DeleteTags", "ec2:Describe*"
                ],
                "Resource": "*"
            },
            {
                "Sid": "ProductBuckets",
                "Effect": "Allow",
                "Action": [
                    "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket", "s3:GetBucketAcl",
                    "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketPolicy",
                    "s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration",
                    "s3:PutBucketVersioning", "s3:GetBucketVersioning",
                    "s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock",
                    "s3:PutBucketOwnershipControls", "s3:GetBucketOwnershipControls",
                    "s3:PutLifecycleConfiguration", "s3:GetLifecycleConfiguration",
                    "s3:PutBucketTagging", "s3:GetBucketTagging", "s3:TagResource", "s3:UntagResource", "s3:ListTagsForResource",
                    // The read handler reads every configuration a bucket can have.
                    "s3:GetAccelerateConfiguration", "s3:GetAnalyticsConfiguration", "s3:GetBucketCORS",
                    "s3:GetInventoryConfiguration", "s3:GetBucketLogging", "s3:GetMetricsConfiguration",
                    "s3:GetBucketNotification", "s3:GetReplicationConfiguration", "s3:GetBucketWebsite",
                    "s3:GetBucketObjectLockConfiguration", "s3:GetIntelligentTieringConfiguration",
                    "s3:GetBucketMetadataTableConfiguration", "s3:GetBucketAbac",
                    // The create handler's list names it (objects of the products' buckets only).
                    "s3:DeleteObject"
                ],
                "Resource": mlz_model::products::BUCKET_MARKS.iter().map(|m| format!("arn:aws:s3:::*{m}*")).collect::<Vec<_>>()
            },
            {
                // The batch-transform product's schedule (AWS::Scheduler::Schedule handlers).
                "Sid": "ProductSchedules",
                "Effect": "Allow",
                "Action": ["scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule", "scheduler:GetSchedule"],
                "Resource": "arn:aws:scheduler:*:*:schedule/default/mlz-*"
            },
            {
                // The redshift-serverless product (AWS::RedshiftServerless::Namespace and
                // ::Workgroup handlers); the admin secret Redshift manages is named redshift!….
                "Sid": "Warehouses",
                "Effect": "Allow",
                "Action": [
                    "redshift-serverless:CreateNamespace", "redshift-serverless:UpdateNamespace", "redshift-serverless:DeleteNamespace",
                    "redshift-serverless:GetNamespace", "redshift-serverless:CreateWorkgroup", "redshift-serverless:UpdateWorkgroup",
                    "redshift-serverless:DeleteWorkgroup", "redshift-serverless:GetWorkgroup", "redshift-serverless:ListSnapshotCopyConfigurations",
                    "redshift-serverless:ListTagsForResource", "redshift-serverless:TagResource", "redshift-serverless:UntagResource",
                    "redshift:GetResourcePolicy", "redshift:PutResourcePolicy", "redshift:DeleteResourcePolicy"
                ],
                "Resource": "*"
            },
            {
                "Sid": "WarehouseAdminSecrets",
                "Effect": "Allow",
                "Action": [
                    "secretsmanager:CreateSecret", "secretsmanager:TagResource", "secretsmanager:RotateSecret",
                    "secretsmanager:DescribeSecret", "secretsmanager:UpdateSecret", "secretsmanager:DeleteSecret"
                ],
                "Resource": "arn:aws:secretsmanager:*:*:secret:redshift!*"
            },
            {
                "Sid": "EndpointAutoscaling",
                "Effect": "Allow",
                "Action": [
                    "application-autoscaling:RegisterScalableTarget", "application-autoscaling:DeregisterScalableTarget",
                    "application-autoscaling:PutScalingPolicy", "application-autoscaling:DeleteScalingPolicy",
                    "application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies",
                    "application-autoscaling:DescribeScheduledActions", "application-autoscaling:TagResource",
                    "application-autoscaling:UntagResource", "application-autoscaling:ListTagsForResource",
                    "sagemaker:UpdateEndpointWeightsAndCapacities"
                ],
                "Resource": "*"
            },
            {
                // Target tracking makes and removes its CloudWatch alarms as the caller
                // (AWS::ApplicationAutoScaling::ScalableTarget and ::ScalingPolicy handlers).
                "Sid": "EndpointAutoscalingAlarms",
                "Effect": "Allow",
                "Action": ["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms", "cloudwatch:GetMetricData"],
                "Resource": "*"
            }
        ]
    })
}

/// The services a launch role may pass platform roles to: those the products' roles trust
/// (SageMaker for the execution, model and pipeline roles, EventBridge Scheduler for the
/// schedule role, Redshift for the warehouse role, which trusts both Redshift principals).
/// The launch-role test checks it equals the trust principals of the products' roles.
pub const PASSED_TO_SERVICES: &[&str] = &[
    "redshift-serverless.amazonaws.com",
    "redshift.amazonaws.com",
    "sagemaker.amazonaws.com",
    "scheduler.amazonaws.com",
];

/// The cloud admin: provisions and manages products, and has no SageMaker rights at all
/// (the launch role does the SageMaker work).
pub fn cloud_admin_policy() -> serde_json::Value {
    json!({
        "Version": mlz_model::aws::IAM_POLICY_VERSION,
        "Statement": [
            {
                "Sid": "ProvisionProducts",
                "Effect": "Allow",
                "Action": crate::common::SERVICE_CATALOG_LAUNCH_ACTIONS,
                "Resource": "*"
            },
            {
                // The cloud admin manages every provisioned product of the account.
                "Sid": "ManageProvisionedProducts",
                "Effect": "Allow",
                "Action": crate::common::SERVICE_CATALOG_MANAGE_ACTIONS,
                "Resource": "*"
            },
            {
                "Sid": "SeeProductStacks",
                "Effect": "Allow",
                "Action": ["cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents", "cloudformation:GetTemplateSummary"],
                "Resource": "arn:aws:cloudformation:*:*:stack/SC-*"
            },
            {
                "Sid": "ChooseNetworkParameters",
                "Effect": "Allow",
                "Action": ["ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups"],
                "Resource": "*"
            }
        ]
    })
}

fn role(
    name: &str,
    description: &str,
    trust: serde_json::Value,
    policy_name: &str,
    policy: serde_json::Value,
) -> Resource {
    Resource::new(IAM_ROLE)
        .prop("RoleName", name)
        .prop("Description", description)
        .prop("AssumeRolePolicyDocument", jx(trust))
        .prop(
            "Policies",
            Value::List(vec![Value::map([
                ("PolicyName", Value::str(policy_name)),
                ("PolicyDocument", jx(policy)),
            ])]),
        )
}

/// A StackSet's template and where it goes.
struct Set {
    id: StackId,
    template: Template,
    ous: Vec<OuIdx>,
    accounts: Vec<AccountRef>,
    /// The facts its instances make true.
    provides: Vec<Fact>,
}

/// The StackSets themselves, in the management account: one per set, its template uploaded
/// (content-versioned), aimed at its OUs (with auto-deployment) or at its accounts.
fn consumer_stack_sets(p: &Platform, sets: Vec<Set>, out: &mut Emitted) -> Result<(), EmitError> {
    let holder = StackId::new(Area::ServiceCatalog, "consumer-stack-sets");
    let path = holder.path();
    let path = path.as_str();
    let mut t = Template::new(format!(
        "{}: service-managed StackSets that put the launch roles and the cloud admin role into every account of the OUs portfolios are shared with, and into the portfolios' own accounts. Deploy in the management account, home region.",
        p.organization.name
    ));
    let mut params = Vec::new();
    let mut requires = vec![Need::new(
        Fact::TrustedAccess(Service::StackSets),
        &rules::STACKSETS_TRUSTED_ACCESS,
    )];
    let mut provides = Vec::new();
    for set in sets {
        let version = content_version(&set.template);
        let tpath = set.id.path();
        let key = format!("{tpath}/{version}.template");
        let name = tpath.rsplit('/').next().unwrap_or(&tpath).to_owned();
        let ou_targets: Vec<Value> = set
            .ous
            .iter()
            .map(|&o| ou_ident(p, o).and_then(|i| use_ident(p, i, &mut t, &mut params)))
            .collect::<Result<_, _>>()?;
        let mut targets = vec![("OrganizationalUnitIds", Value::List(ou_targets))];
        if !set.accounts.is_empty() {
            let accounts: Vec<Value> = set
                .accounts
                .iter()
                .map(|&a| {
                    account_ref_ident(p, a).and_then(|i| use_ident(p, i, &mut t, &mut params))
                })
                .collect::<Result<_, _>>()?;
            targets.push(("Accounts", Value::List(accounts)));
            targets.push(("AccountFilterType", Value::str("INTERSECTION")));
        }
        let auto = set.accounts.is_empty();
        let lid = LogicalId::derive("StackSet", &name).map_err(|e| bug(path, e))?;
        let auto_deployment = if auto {
            json!({ "Enabled": true, "RetainStacksOnAccountRemoval": false })
        } else {
            json!({ "Enabled": false })
        };
        let resource = Resource::new(CFN_STACK_SET)
            .prop("StackSetName", set.id.stack_name(&p.organization.stack_prefix))
            .prop("Description", set.template.description.chars().take(1024).collect::<String>())
            .prop("PermissionModel", "SERVICE_MANAGED")
            .prop("AutoDeployment", j(auto_deployment))
            .prop("Capabilities", Value::list_of_str(["CAPABILITY_NAMED_IAM"]))
            .prop("ManagedExecution", j(json!({ "Active": true })))
            .prop("OperationPreferences", j(json!({ "FailureTolerancePercentage": 10, "MaxConcurrentPercentage": 25, "RegionConcurrencyType": "PARALLEL" })))
            .prop(
                "StackInstancesGroup",
                Value::List(vec![Value::map([
                    ("DeploymentTargets", Value::map(targets)),
                    ("Regions", Value::list_of_str([p.organization.home_region.clone()])),
                ])]),
            )
            .prop("TemplateURL", template_url(p, &key)?);
        t.add_resource(lid.clone(), resource)
            .map_err(|e| bug(path, e))?;
        requires.push(Need::new(
            Fact::Uploaded(set.id.clone()),
            &rules::UPLOAD_FIRST,
        ));
        for a in &set.accounts {
            requires.push(Need::new(Fact::AccountExists(*a), &rules::ACCOUNT_FIRST));
        }
        provides.extend(set.provides);
        let mut ts: Stack = new_stack(p, set.id, set.template);
        ts.deploy = DeployKind::StackSet;
        ts.upload = Some(Upload { key });
        ts.stack_set = Some(StackSetTargets {
            holder: holder.clone(),
            resource: lid,
            ous: set.ous,
            accounts: set.accounts,
            regions: vec![p.organization.home_region.clone()],
            auto_deployment: auto,
        });
        out.stacks.push(ts);
    }
    let mut s = new_stack(p, holder, t);
    s.parameters = params;
    s.requires = requires;
    s.provides = provides;
    out.stacks.push(s);
    Ok(())
}

/// The roles consuming accounts need, deployed by service-managed StackSets to every
/// account of the OUs the portfolios reach (and to accounts added later), and to the
/// portfolio's own account and accounts shared one by one (a StackSet aimed at those
/// accounts only: service-managed StackSets never deploy to the management account).
fn consumer_roles(p: &Platform, out: &mut Emitted) -> Result<(), EmitError> {
    let reaching: Vec<&Portfolio> = p
        .portfolios
        .iter()
        .filter(|pf| !pf.consumer_ous.is_empty() || !launch_role_accounts(p, pf).is_empty())
        .collect();
    if reaching.is_empty() {
        return Ok(());
    }
    let mut sets: Vec<Set> = Vec::new();
    for pf in &reaching {
        let launch_role = |id: &StackId| -> Result<Template, EmitError> {
            let path = id.path();
            let mut t = Template::new(format!(
                "{}: the launch role of portfolio {} ({}), in every account the portfolio is shared with and in its own. Deployed by a StackSet.",
                p.organization.name, pf.display_name, pf.launch_role
            ));
            t.add_resource(
                LogicalId::new("LaunchRole").map_err(|e| bug(&path, e))?,
                role(
                    &pf.launch_role,
                    "Service Catalog launches this portfolio's products with this role, so users need no rights on the services.",
                    json!({ "Version": mlz_model::aws::IAM_POLICY_VERSION, "Statement": [{ "Effect": "Allow", "Principal": { "Service": "servicecatalog.amazonaws.com" }, "Action": "sts:AssumeRole" }] }),
                    "launch-products",
                    launch_role_policy(),
                ),
            )
            .map_err(|e| bug(&path, e))?;
            Ok(t)
        };
        if !pf.consumer_ous.is_empty() {
            let id = StackId::new(Area::ServiceCatalog, format!("launch-role-{}", pf.name));
            sets.push(Set {
                template: launch_role(&id)?,
                id,
                ous: pf.consumer_ous.clone(),
                accounts: Vec::new(),
                provides: pf
                    .consumer_ous
                    .iter()
                    .map(|&ou| Fact::RoleInOu {
                        ou,
                        name: pf.launch_role.clone(),
                    })
                    .collect(),
            });
        }
        let accounts: Vec<AccountRef> = launch_role_accounts(p, pf)
            .into_iter()
            .filter(|a| *a != AccountRef::Management)
            .collect();
        if !accounts.is_empty() {
            let id = StackId::new(
                Area::ServiceCatalog,
                format!("launch-role-{}-accounts", pf.name),
            );
            let mut ous: Vec<OuIdx> = Vec::new();
            for a in &accounts {
                if let AccountRef::Account(i) = a {
                    if !ous.contains(&p.account(*i).ou) {
                        ous.push(p.account(*i).ou);
                    }
                }
            }
            sets.push(Set {
                template: launch_role(&id)?,
                id,
                ous,
                provides: accounts
                    .iter()
                    .map(|&account| Fact::Role {
                        account,
                        name: pf.launch_role.clone(),
                    })
                    .collect(),
                accounts,
            });
        }
    }
    let all_ous: BTreeSet<OuIdx> = reaching
        .iter()
        .flat_map(|pf| pf.consumer_ous.iter().copied())
        .collect();
    if !all_ous.is_empty() {
        let admin_id = StackId::new(Area::ServiceCatalog, "cloud-admin-role");
        let admin_path = admin_id.path();
        let mut admin = Template::new(format!(
            "{}: the cloud admin role ({CLOUD_ADMIN_ROLE}) in every account that receives portfolios: provisions products, no SageMaker rights. Deployed by a StackSet.",
            p.organization.name
        ));
        admin
            .add_resource(
                LogicalId::new("CloudAdminRole").map_err(|e| bug(&admin_path, e))?,
                role(
                    CLOUD_ADMIN_ROLE,
                    "Provisions Service Catalog products; has no SageMaker permissions (the launch role does that work).",
                    json!({
                        "Version": mlz_model::aws::IAM_POLICY_VERSION,
                        "Statement": [{
                            "Effect": "Allow",
                            "Principal": { "AWS": { "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root" } },
                            "Action": "sts:AssumeRole",
                            // Identity Center roles of this account only: those of the
                        // cloud-admin permission sets when the config names them. Not
                        // aws:MultiFactorAuthPresent: a federated (Identity Center) session never
                        // carries it, so that trust could never be met; MFA is enforced at
                        // Identity Center sign-in, and a role may assume this one only if its own
                        // policy allows it too.
                        "Condition": { "ArnLike": { "aws:PrincipalArn": cloud_admin_principals(p) } }
                        }]
                    }),
                    "provision-products",
                    cloud_admin_policy(),
                )
                .prop("MaxSessionDuration", Value::Int(3600)),
            )
            .map_err(|e| bug(&admin_path, e))?;
        sets.push(Set {
            id: admin_id,
            template: admin,
            provides: all_ous
                .iter()
                .map(|&ou| Fact::RoleInOu {
                    ou,
                    name: CLOUD_ADMIN_ROLE.to_owned(),
                })
                .collect(),
            ous: all_ous.into_iter().collect(),
            accounts: Vec::new(),
        });
    }

    consumer_stack_sets(p, sets, out)?;
    crate::common::require_stack_sets(out);
    Ok(())
}
