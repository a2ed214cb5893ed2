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

use crate::artifacts::bucket_export;
use crate::common::{
    account_name, account_ref_ident_in, all_ok, bug, chain, content_version, new_stack, ou_ident,
    ou_ident_in, use_ident,
};
use crate::stack::{DeployKind, Emitted, ManualStep, StackParam, Upload};
use crate::types::{
    CFN_STACK_SET, CUSTOM_ORGANIZATION_SHARE, IAM_ROLE, LAMBDA_FUNCTION, LOGS_LOG_GROUP,
    SC_LAUNCH_ROLE_CONSTRAINT, SC_PORTFOLIO, SC_PORTFOLIO_PRINCIPAL, SC_PORTFOLIO_PRODUCT,
    SC_PORTFOLIO_SHARE, SC_PRODUCT, SC_TAG_OPTION, SC_TAG_OPTION_ASSOCIATION,
};
use crate::EmitError;

const UPLOAD_FIRST: &str =
    "the product version loads this template from the artifact bucket: upload it first";
/// The role consuming accounts' cloud administrators assume to provision products.
pub const CLOUD_ADMIN_ROLE: &str = "mlz-cloud-admin";

fn j(v: serde_json::Value) -> Value {
    Value::from_json(&v)
}

fn url(p: &Platform, key: &str) -> Value {
    Value::SubWith(
        format!("https://${{Bucket}}.s3.${{AWS::Region}}.${{AWS::URLSuffix}}/{key}"),
        BTreeMap::from([(
            "Bucket".to_owned(),
            Value::ImportValue(Box::new(Value::str(bucket_export(p)))),
        )]),
    )
}

pub fn emit(p: &Platform, ext: &str, out: &mut Emitted) -> Result<(), Vec<EmitError>> {
    let mut errs = Vec::new();
    for pf in &p.portfolios {
        if let Err(e) = portfolio(p, pf, ext, out) {
            errs.push(e);
        }
    }
    if let Err(e) = consumer_roles(p, ext, out) {
        errs.push(e);
    }
    all_ok(errs)
}

fn portfolio(p: &Platform, pf: &Portfolio, ext: &str, out: &mut Emitted) -> Result<(), EmitError> {
    let path = format!("service-catalog/portfolio-{}", pf.name);
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
    let mut after = Vec::new();

    // Products: a template file uploaded under its content hash, a product whose version is
    // that hash, its association, and its launch constraint (after the association).
    for prod in &pf.products {
        let version = content_version(&prod.template);
        let key = format!("products/{}/{}/{version}.template", pf.name, prod.name);
        let tpath = format!("products/{}/{}", pf.name, prod.name);
        let mut ts = new_stack(
            p,
            &format!("product-{}-{}", pf.name, prod.name),
            &tpath,
            prod.template.clone(),
        );
        ts.name = prod.name.clone();
        ts.account = pf.account;
        ts.deploy = DeployKind::ServiceCatalogProduct;
        ts.upload = Some(Upload {
            bucket_export: bucket_export(p),
            key: key.clone(),
        });
        ts.parameters = prod
            .template
            .parameters
            .iter()
            .map(|(id, param)| StackParam {
                name: id.to_string(),
                description: param.description.clone(),
                value: param.default.clone(),
                from_export: None,
            })
            .collect();
        out.stacks.push(ts);
        after.push((tpath, UPLOAD_FIRST));

        let prod_id = LogicalId::derive("Product", &prod.name).map_err(|e| bug(&path, e))?;
        let product = Resource::new(SC_PRODUCT)
            .prop("Name", prod.name.as_str())
            .prop("Owner", prod.owner.as_str())
            .prop(
                "Description",
                prod.description.chars().take(8000).collect::<String>(),
            )
            .prop(
                "ProvisioningArtifactParameters",
                Value::List(vec![Value::map([
                    ("Name", Value::str(version.clone())),
                    (
                        "Description",
                        Value::str(format!("Template content {version}")),
                    ),
                    ("Info", Value::map([("LoadTemplateFromURL", url(p, &key))])),
                ])]),
            );
        t.add_resource(prod_id.clone(), product)
            .map_err(|e| bug(&path, e))?;
        let assoc_id =
            LogicalId::new(format!("{prod_id}InPortfolio")).map_err(|e| bug(&path, e))?;
        t.add_resource(
            assoc_id.clone(),
            Resource::new(SC_PORTFOLIO_PRODUCT)
                .prop("PortfolioId", Value::Ref(pid.clone()))
                .prop("ProductId", Value::Ref(prod_id.clone())),
        )
        .map_err(|e| bug(&path, e))?;
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
            LogicalId::new(format!("{prod_id}LaunchRole")).map_err(|e| bug(&path, e))?,
            constraint,
        )
        .map_err(|e| bug(&path, e))?;
        t.add_output(
            LogicalId::new(format!("{prod_id}Id")).map_err(|e| bug(&path, e))?,
            Output {
                description: Some(format!("Product {}", prod.name)),
                value: Value::Ref(prod_id),
                export: None,
                condition: None,
            },
        )
        .map_err(|e| bug(&path, e))?;
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

    // Tag options.
    for (k, values) in &pf.tag_options {
        for v in values {
            let id =
                LogicalId::derive("TagOption", &format!("{k} {v}")).map_err(|e| bug(&path, e))?;
            t.add_resource(
                id.clone(),
                Resource::new(SC_TAG_OPTION)
                    .prop("Key", k.as_str())
                    .prop("Value", v.as_str())
                    .prop("Active", true),
            )
            .map_err(|e| bug(&path, e))?;
            t.add_resource(
                LogicalId::new(format!("{id}OnPortfolio")).map_err(|e| bug(&path, e))?,
                Resource::new(SC_TAG_OPTION_ASSOCIATION)
                    .prop("ResourceId", Value::Ref(pid.clone()))
                    .prop("TagOptionId", Value::Ref(id)),
            )
            .map_err(|e| bug(&path, e))?;
        }
    }

    // Shares with accounts.
    let mut shares = Vec::new();
    for &a in &pf.share_accounts {
        let key = match a {
            AccountRef::Management => "management".to_owned(),
            AccountRef::Account(i) => p.account(i).key.clone(),
        };
        let id = LogicalId::derive("Share", &key).map_err(|e| bug(&path, e))?;
        let account = use_ident(account_ref_ident_in(p, a, pf.account)?, &mut t, &mut params);
        t.add_resource(
            id.clone(),
            Resource::new(SC_PORTFOLIO_SHARE)
                .prop("PortfolioId", Value::Ref(pid.clone()))
                .prop("AccountId", account)
                .prop("ShareTagOptions", true),
        )
        .map_err(|e| bug(&path, e))?;
        shares.push(id);
    }
    // Shares are made one at a time: Service Catalog processes shares of a portfolio in turn.
    chain(&mut t, &shares);
    if !pf.share_accounts.is_empty() {
        out.steps.push(ManualStep {
            id: format!("accept-portfolio-{}", pf.name),
            account: pf.share_accounts.iter().map(|a| account_name(p, *a)).collect::<Vec<_>>().join(", "),
            reason: format!(
                "An account share must be accepted in the receiving account, and principals are not shared with it: in each account, accept portfolio {} and associate the principals ({}).",
                pf.display_name,
                pf.principals.join(", ")
            ),
            commands: vec![
                "aws servicecatalog accept-portfolio-share --portfolio-id <PortfolioId output>".into(),
                "aws servicecatalog associate-principal-with-portfolio --portfolio-id <PortfolioId output> --principal-type IAM_PATTERN --principal-arn <pattern>".into(),
            ],
            before: Vec::new(),
            after: Vec::new(),
        });
    }

    // Shares with OUs, as organization nodes.
    if !pf.share_ous.is_empty() {
        organization_shares(p, pf, &pid, &mut t, &mut params, &path)?;
        let acct = account_name(p, pf.account);
        let id = match pf.account {
            AccountRef::Account(i) => p
                .account(i)
                .id
                .clone()
                .unwrap_or_else(|| format!("<{acct} account id>")),
            AccountRef::Management => p
                .organization
                .management
                .id
                .clone()
                .unwrap_or_else(|| "<management account id>".into()),
        };
        out.steps.push(ManualStep {
            id: format!("organization-sharing-{}", pf.name),
            account: p.organization.management.name.clone(),
            reason: format!(
                "Sharing with an OU needs Service Catalog's access to AWS Organizations and, because the portfolio lives in {acct}, that account as Service Catalog's delegated administrator. CloudFormation has no resource type for either."
            ),
            commands: vec![
                "aws servicecatalog enable-aws-organizations-access".into(),
                format!("aws organizations register-delegated-administrator --account-id {id} --service-principal servicecatalog.amazonaws.com"),
            ],
            before: vec![format!("{path}.{ext}")],
            after: Vec::new(),
        });
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
    let mut s = new_stack(p, &format!("portfolio-{}", pf.name), &path, t);
    s.account = pf.account;
    s.parameters = params;
    s.after = after;
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
    let log_group = LogicalId::new("OrganizationShareLogs").map_err(|e| bug(path, e))?;
    t.add_resource(
        log_group.clone(),
        Resource::new(LOGS_LOG_GROUP).prop("RetentionInDays", Value::Int(365)),
    )
    .map_err(|e| bug(path, e))?;
    let role = LogicalId::new("OrganizationShareRole").map_err(|e| bug(path, e))?;
    t.add_resource(
        role.clone(),
        Resource::new(IAM_ROLE)
            .prop("Description", "Shares this portfolio with OUs; nothing else.")
            .prop(
                "AssumeRolePolicyDocument",
                j(json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Principal": { "Service": "lambda.amazonaws.com" }, "Action": "sts:AssumeRole" }] })),
            )
            .prop(
                "Policies",
                Value::List(vec![Value::map([
                    ("PolicyName", Value::str("share-portfolio")),
                    (
                        "PolicyDocument",
                        Value::map([
                            ("Version", Value::str("2012-10-17")),
                            (
                                "Statement",
                                Value::List(vec![
                                    Value::map([
                                        ("Effect", Value::str("Allow")),
                                        (
                                            "Action",
                                            Value::list_of_str([
                                                "servicecatalog:CreatePortfolioShare",
                                                "servicecatalog:DeletePortfolioShare",
                                                "servicecatalog:UpdatePortfolioShare",
                                                "servicecatalog:DescribePortfolioShareStatus",
                                            ]),
                                        ),
                                        ("Resource", Value::str("*")),
                                    ]),
                                    Value::map([
                                        ("Effect", Value::str("Allow")),
                                        ("Action", Value::list_of_str(["organizations:DescribeOrganization", "organizations:DescribeOrganizationalUnit"])),
                                        ("Resource", Value::str("*")),
                                    ]),
                                    Value::map([
                                        ("Effect", Value::str("Allow")),
                                        ("Action", Value::list_of_str(["logs:CreateLogStream", "logs:PutLogEvents"])),
                                        ("Resource", Value::GetAtt(log_group.clone(), "Arn".into())),
                                    ]),
                                ]),
                            ),
                        ]),
                    ),
                ])]),
            ),
    )
    .map_err(|e| bug(path, e))?;
    let function = LogicalId::new("OrganizationShareFunction").map_err(|e| bug(path, e))?;
    t.add_resource(
        function.clone(),
        Resource::new(LAMBDA_FUNCTION)
            .prop(
                "Description",
                "CloudFormation's PortfolioShare takes account ids only: this shares the portfolio with an OU (organization node), with its tag options and principals.",
            )
            .prop("Runtime", "python3.13")
            .prop("Handler", "index.handler")
            .prop("Timeout", Value::Int(600))
            .prop("ReservedConcurrentExecutions", Value::Int(1))
            .prop("Role", Value::GetAtt(role.clone(), "Arn".into()))
            .prop("LoggingConfig", Value::map([("LogGroup", Value::Ref(log_group))]))
            .prop("Code", Value::map([("ZipFile", Value::str(ORGANIZATION_SHARE_CODE))])),
    )
    .map_err(|e| bug(path, e))?;
    let mut previous: Option<LogicalId> = None;
    for &ou in &pf.share_ous {
        let ou_name = &p.ou(ou).name;
        let id = LogicalId::derive("OuShare", ou_name).map_err(|e| bug(path, e))?;
        let ou_id = use_ident(ou_ident_in(p, ou, pf.account)?, t, params);
        let mut r = Resource::new(CUSTOM_ORGANIZATION_SHARE)
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


def wait(token):
    for _ in range(50):
        status = sc.describe_portfolio_share_status(PortfolioShareToken=token)["Status"]
        if status in ("COMPLETED", "COMPLETED_WITH_ERRORS", "ERROR"):
            return status
        time.sleep(10)
    return "TIMED_OUT"


def handler(event, context):
    props = event["ResourceProperties"]
    node = {"Type": "ORGANIZATIONAL_UNIT", "Value": props["OrganizationalUnitId"]}
    physical = f'{props["PortfolioId"]}/{props["OrganizationalUnitId"]}'
    try:
        if event["RequestType"] == "Delete":
            old = event["PhysicalResourceId"].split("/")
            if len(old) == 2:
                sc.delete_portfolio_share(PortfolioId=old[0], OrganizationNode={"Type": "ORGANIZATIONAL_UNIT", "Value": old[1]})
            cfnresponse.send(event, context, cfnresponse.SUCCESS, {}, physical)
            return
        token = sc.create_portfolio_share(
            PortfolioId=props["PortfolioId"], OrganizationNode=node, ShareTagOptions=True, SharePrincipals=True
        )["PortfolioShareToken"]
        status = wait(token)
        if status != "COMPLETED":
            raise RuntimeError(f"portfolio share ended {status}")
        cfnresponse.send(event, context, cfnresponse.SUCCESS, {}, physical)
    except Exception as error:  # report, never hang the stack
        cfnresponse.send(event, context, cfnresponse.FAILED, {"Error": str(error)}, physical)
"#;

/// What a launch role may do: deploy the built-in products' resources, nothing broader.
fn launch_role_policy() -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ProductStacks",
                "Effect": "Allow",
                "Action": [
                    "cloudformation:CreateStack", "cloudformation:DeleteStack", "cloudformation:UpdateStack",
                    "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents", "cloudformation:GetTemplateSummary",
                    "cloudformation:SetStackPolicy", "cloudformation:ValidateTemplate"
                ],
                "Resource": "arn:aws:cloudformation:*:*:stack/SC-*"
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
                    "sagemaker:CreateUserProfile", "sagemaker:UpdateUserProfile", "sagemaker:DeleteUserProfile", "sagemaker:DescribeUserProfile",
                    "sagemaker:CreateModelPackageGroup", "sagemaker:DeleteModelPackageGroup", "sagemaker:DescribeModelPackageGroup",
                    "sagemaker:CreateModel", "sagemaker:DeleteModel", "sagemaker:DescribeModel",
                    "sagemaker:CreateEndpointConfig", "sagemaker:DeleteEndpointConfig", "sagemaker:DescribeEndpointConfig",
                    "sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint", "sagemaker:DeleteEndpoint", "sagemaker:DescribeEndpoint",
                    "sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags"
                ],
                "Resource": "arn:aws:sagemaker:*:*:*"
            },
            {
                "Sid": "PlatformRolesOnly",
                "Effect": "Allow",
                "Action": [
                    "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRoleDescription", "iam:TagRole", "iam:UntagRole",
                    "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:GetRolePolicy", "iam:PassRole"
                ],
                "Resource": "arn:aws:iam::*:role/mlz-sagemaker-*"
            },
            {
                "Sid": "AutoscalingServiceRole",
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": "*",
                "Condition": { "StringEquals": { "iam:AWSServiceName": ["sagemaker.application-autoscaling.amazonaws.com", "sagemaker.amazonaws.com"] } }
            },
            {
                "Sid": "Keys",
                "Effect": "Allow",
                "Action": [
                    "kms:CreateKey", "kms:DescribeKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy", "kms:PutKeyPolicy",
                    "kms:GetKeyRotationStatus", "kms:TagResource", "kms:ScheduleKeyDeletion", "kms:CreateGrant",
                    "kms:Decrypt", "kms:GenerateDataKey"
                ],
                "Resource": "*"
            },
            {
                "Sid": "StudioNetworking",
                "Effect": "Allow",
                "Action": [
                    "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup", "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress",
                    "ec2:CreateTags", "ec2:Describe*"
                ],
                "Resource": "*"
            },
            {
                "Sid": "ProductBuckets",
                "Effect": "Allow",
                "Action": [
                    "s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketPolicy",
                    "s3:PutEncryptionConfiguration", "s3:GetEncryptionConfiguration", "s3:PutBucketVersioning",
                    "s3:GetBucketVersioning", "s3:PutBucketPublicAccessBlock", "s3:GetBucketPublicAccessBlock",
                    "s3:PutBucketOwnershipControls", "s3:GetBucketOwnershipControls", "s3:PutLifecycleConfiguration",
                    "s3:GetLifecycleConfiguration", "s3:PutBucketTagging", "s3:GetBucketTagging"
                ],
                "Resource": ["arn:aws:s3:::*-artefacts-*", "arn:aws:s3:::*-capture-*"]
            },
            {
                "Sid": "EndpointAutoscaling",
                "Effect": "Allow",
                "Action": [
                    "application-autoscaling:RegisterScalableTarget", "application-autoscaling:DeregisterScalableTarget",
                    "application-autoscaling:PutScalingPolicy", "application-autoscaling:DeleteScalingPolicy",
                    "application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies"
                ],
                "Resource": "*"
            }
        ]
    })
}

/// The cloud admin: provisions and manages products, and has no SageMaker rights at all
/// (the launch role does the SageMaker work).
pub fn cloud_admin_policy() -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ProvisionProducts",
                "Effect": "Allow",
                "Action": [
                    "servicecatalog:SearchProducts", "servicecatalog:DescribeProduct", "servicecatalog:DescribeProductView",
                    "servicecatalog:DescribeProvisioningParameters", "servicecatalog:DescribeProvisioningArtifact",
                    "servicecatalog:ListLaunchPaths", "servicecatalog:ListProvisioningArtifacts", "servicecatalog:ProvisionProduct",
                    "servicecatalog:UpdateProvisionedProduct", "servicecatalog:TerminateProvisionedProduct",
                    "servicecatalog:DescribeProvisionedProduct", "servicecatalog:SearchProvisionedProducts",
                    "servicecatalog:ScanProvisionedProducts", "servicecatalog:DescribeRecord", "servicecatalog:ListRecordHistory",
                    "servicecatalog:ListServiceActionsForProvisioningArtifact", "servicecatalog:ExecuteProvisionedProductServiceAction"
                ],
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
        .prop("AssumeRolePolicyDocument", j(trust))
        .prop(
            "Policies",
            Value::List(vec![Value::map([
                ("PolicyName", Value::str(policy_name)),
                ("PolicyDocument", j(policy)),
            ])]),
        )
}

/// The roles consuming accounts need, deployed by service-managed StackSets to every
/// account of the OUs the portfolios reach (and to accounts added later).
fn consumer_roles(p: &Platform, ext: &str, out: &mut Emitted) -> Result<(), EmitError> {
    let reaching: Vec<&Portfolio> = p
        .portfolios
        .iter()
        .filter(|pf| !pf.consumer_ous.is_empty())
        .collect();
    if reaching.is_empty() {
        return Ok(());
    }
    let mut sets: Vec<(String, Template, BTreeSet<OuIdx>)> = Vec::new();
    for pf in &reaching {
        let path = format!("service-catalog/launch-role-{}", pf.name);
        let mut t = Template::new(format!(
            "{}: the launch role of portfolio {} ({}), in every account the portfolio is shared with. Deployed by a StackSet.",
            p.organization.name, pf.display_name, pf.launch_role
        ));
        t.add_resource(
            LogicalId::new("LaunchRole").map_err(|e| bug(&path, e))?,
            role(
                &pf.launch_role,
                "Service Catalog launches this portfolio's products with this role, so users need no rights on the services.",
                json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Principal": { "Service": "servicecatalog.amazonaws.com" }, "Action": "sts:AssumeRole" }] }),
                "launch-products",
                launch_role_policy(),
            ),
        )
        .map_err(|e| bug(&path, e))?;
        sets.push((path, t, pf.consumer_ous.iter().copied().collect()));
    }
    let all_ous: BTreeSet<OuIdx> = reaching
        .iter()
        .flat_map(|pf| pf.consumer_ous.iter().copied())
        .collect();
    let admin_path = "service-catalog/cloud-admin-role".to_owned();
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
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Principal": { "AWS": { "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root" } },
                        "Action": "sts:AssumeRole",
                        "Condition": { "Bool": { "aws:MultiFactorAuthPresent": "true" } }
                    }]
                }),
                "provision-products",
                cloud_admin_policy(),
            )
            .prop("MaxSessionDuration", Value::Int(3600)),
        )
        .map_err(|e| bug(&admin_path, e))?;
    sets.push((admin_path, admin, all_ous));

    // The StackSets themselves, in the management account.
    let path = "service-catalog/consumer-stack-sets";
    let mut t = Template::new(format!(
        "{}: service-managed StackSets that put the launch roles and the cloud admin role into every account of the OUs portfolios are shared with. Deploy in the management account, home region.",
        p.organization.name
    ));
    let mut params = Vec::new();
    let mut after = Vec::new();
    for (tpath, template, ous) in sets {
        let version = content_version(&template);
        let key = format!("{tpath}/{version}.template");
        let name = tpath.rsplit('/').next().unwrap_or(&tpath).to_owned();
        let targets: Vec<Value> = ous
            .iter()
            .map(|&o| ou_ident(p, o).map(|i| use_ident(i, &mut t, &mut params)))
            .collect::<Result<_, _>>()?;
        let id = LogicalId::derive("StackSet", &name).map_err(|e| bug(path, e))?;
        let set = Resource::new(CFN_STACK_SET)
            .prop("StackSetName", format!("{}-{name}", p.organization.stack_prefix))
            .prop("Description", template.description.chars().take(1024).collect::<String>())
            .prop("PermissionModel", "SERVICE_MANAGED")
            .prop("AutoDeployment", j(json!({ "Enabled": true, "RetainStacksOnAccountRemoval": false })))
            .prop("Capabilities", Value::list_of_str(["CAPABILITY_NAMED_IAM"]))
            .prop("ManagedExecution", j(json!({ "Active": true })))
            .prop("OperationPreferences", j(json!({ "FailureTolerancePercentage": 10, "MaxConcurrentPercentage": 25, "RegionConcurrencyType": "PARALLEL" })))
            .prop(
                "StackInstancesGroup",
                Value::List(vec![Value::map([
                    ("DeploymentTargets", Value::map([("OrganizationalUnitIds", Value::List(targets))])),
                    ("Regions", Value::list_of_str([p.organization.home_region.clone()])),
                ])]),
            )
            .prop("TemplateURL", url(p, &key));
        t.add_resource(id, set).map_err(|e| bug(path, e))?;
        let mut ts = new_stack(p, &name, &tpath, template);
        ts.name = format!("{}-{name}", p.organization.stack_prefix);
        ts.account = AccountRef::Management;
        ts.deploy = DeployKind::StackSet;
        ts.upload = Some(Upload {
            bucket_export: bucket_export(p),
            key,
        });
        out.stacks.push(ts);
        after.push((
            tpath,
            "the StackSet loads this template from the artifact bucket: upload it first",
        ));
    }
    let mut s = new_stack(p, "service-catalog-consumer-stack-sets", path, t);
    s.parameters = params;
    s.after = after;
    out.stacks.push(s);
    out.steps.push(ManualStep {
        id: "stack-sets-trusted-access".into(),
        account: p.organization.management.name.clone(),
        reason: "Service-managed StackSets need CloudFormation's trusted access to AWS Organizations; CloudFormation cannot turn it on itself.".into(),
        commands: vec!["aws cloudformation activate-organizations-access".into()],
        before: vec![format!("{path}.{ext}")],
        after: Vec::new(),
    });
    Ok(())
}
