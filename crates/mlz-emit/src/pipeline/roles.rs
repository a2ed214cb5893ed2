//! The roles the pipeline deploys with, in the management account and (by a StackSet) in
//! every member account, and the API calls its step actions may make.

use super::*;

/// The API calls a step may make, and the IAM actions each needs. The organisation
/// integrations (delegated administrators, trusted access) also enable service access,
/// register the administrator and create the service-linked role, as the services'
/// "Permissions required to designate a delegated administrator" sections list. A step with
/// a call not in this table becomes an approval action: a person runs it.
pub(super) const STEP_APIS: &[(&str, &[&str])] = &[
    (
        "organizations enable-policy-type",
        &[
            "organizations:EnablePolicyType",
            "organizations:DescribeOrganization",
        ],
    ),
    (
        "organizations enable-aws-service-access",
        &[
            "organizations:EnableAWSServiceAccess",
            "organizations:DescribeOrganization",
        ],
    ),
    (
        "organizations register-delegated-administrator",
        &[
            "organizations:RegisterDelegatedAdministrator",
            "organizations:ListDelegatedAdministrators",
            "organizations:DescribeOrganization",
        ],
    ),
    (
        "cloudformation activate-organizations-access",
        &[
            "cloudformation:ActivateOrganizationsAccess",
            "organizations:EnableAWSServiceAccess",
            "organizations:DescribeOrganization",
            "organizations:ListAWSServiceAccessForOrganization",
            "iam:CreateServiceLinkedRole",
        ],
    ),
    (
        "servicecatalog enable-aws-organizations-access",
        &[
            "servicecatalog:EnableAWSOrganizationsAccess",
            "organizations:EnableAWSServiceAccess",
            "organizations:DescribeOrganization",
            "organizations:ListAWSServiceAccessForOrganization",
        ],
    ),
    (
        "ram enable-sharing-with-aws-organization",
        &[
            "ram:EnableSharingWithAwsOrganization",
            "organizations:EnableAWSServiceAccess",
            "organizations:DescribeOrganization",
            "iam:CreateServiceLinkedRole",
        ],
    ),
    (
        "guardduty enable-organization-admin-account",
        &[
            "guardduty:EnableOrganizationAdminAccount",
            "guardduty:ListOrganizationAdminAccounts",
            "organizations:EnableAWSServiceAccess",
            "organizations:RegisterDelegatedAdministrator",
            "organizations:ListDelegatedAdministrators",
            "organizations:ListAWSServiceAccessForOrganization",
            "organizations:DescribeOrganization",
            "iam:CreateServiceLinkedRole",
        ],
    ),
    (
        "macie2 enable-organization-admin-account",
        &[
            "macie2:EnableOrganizationAdminAccount",
            "macie2:ListOrganizationAdminAccounts",
            "organizations:EnableAWSServiceAccess",
            "organizations:RegisterDelegatedAdministrator",
            "organizations:ListDelegatedAdministrators",
            "organizations:ListAWSServiceAccessForOrganization",
            "organizations:DescribeOrganization",
            "iam:CreateServiceLinkedRole",
        ],
    ),
    (
        // VPC IPAM user guide, "Integrate IPAM with accounts in an AWS Organization": the
        // policy the management account's caller needs.
        "ec2 enable-ipam-organization-admin-account",
        &[
            "ec2:EnableIpamOrganizationAdminAccount",
            "organizations:EnableAWSServiceAccess",
            "organizations:RegisterDelegatedAdministrator",
            "organizations:ListDelegatedAdministrators",
            "organizations:ListAWSServiceAccessForOrganization",
            "organizations:DescribeOrganization",
            "iam:CreateServiceLinkedRole",
        ],
    ),
    (
        "guardduty update-organization-configuration",
        &["guardduty:UpdateOrganizationConfiguration"],
    ),
    (
        "macie2 update-organization-configuration",
        &["macie2:UpdateOrganizationConfiguration"],
    ),
    (
        "cloudformation list-exports",
        &["cloudformation:ListExports"],
    ),
    ("s3 cp", &["s3:PutObject"]),
];

/// The IAM actions a command needs, or `None` when it is not an API call mlz knows.
pub(super) fn command_actions(command: &str) -> Option<&'static [&'static str]> {
    let call = command
        .split("$(")
        .nth(1)
        .map_or(command, |inner| inner)
        .trim_start_matches(|c: char| c != 'a')
        .trim_start();
    let mut words = call.split_whitespace();
    if words.next() != Some("aws") {
        return None;
    }
    let svc = words.next()?;
    let op = words.next()?;
    let key = format!("{svc} {op}");
    STEP_APIS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, actions)| *actions)
}

/// Trust in one role of the pipeline account. The principal is the account and the role a
/// condition: IAM rejects a trust policy that names a role that does not exist yet, and these
/// roles are made before the pipeline's (IAM user guide, "IAM JSON policy elements:
/// Principal", role principals).
pub(super) fn trust_role(principal: Value) -> Value {
    document(vec![Value::map([
        ("Effect", Value::str("Allow")),
        (
            "Principal",
            Value::map([(
                "AWS",
                Value::Sub("arn:${AWS::Partition}:iam::${PipelineAccountId}:root".into()),
            )]),
        ),
        ("Action", Value::str("sts:AssumeRole")),
        (
            "Condition",
            Value::map([("ArnEquals", Value::map([("aws:PrincipalArn", principal)]))]),
        ),
    ])])
}

/// The roles one account gets: the action role the pipeline assumes, CloudFormation's service
/// role, the read role the resolve actions assume and (when the account has steps) the steps
/// role, with the IAM actions of `step_actions`.
pub(super) fn account_roles(
    t: &mut Template,
    p: &Platform,
    step_actions: &BTreeSet<&'static str>,
    management: bool,
    path: &str,
) -> Result<(), EmitError> {
    let r = role_names(&p.organization.stack_prefix);
    string_param(
        t,
        "PipelineAccountId",
        "The 12-digit id of the account the pipeline runs in (pipeline.account)",
        ACCOUNT_ID_PATTERN,
        path,
    )?;
    let roles = [
        ("PipelineActionRole", Some(action_role(p, &r))),
        ("PipelineDeployRole", Some(deploy_role(&r))),
        ("PipelineReadRole", Some(read_role(&r, management))),
        (
            "PipelineStepsRole",
            (!step_actions.is_empty()).then(|| steps_role(p, &r, step_actions)),
        ),
    ];
    for (id, role) in roles {
        if let Some(role) = role {
            t.add_resource(lid(id, path)?, role)
                .map_err(|e| bug(path, e))?;
        }
    }
    Ok(())
}

fn action_role(p: &Platform, r: &RoleNames) -> Resource {
    let prefix = &p.organization.stack_prefix;
    let pipeline_role = role_arn("PipelineAccountId", &r.pipeline);
    // The action role: what CodePipeline's CloudFormation action calls in the account (the
    // stack operations, passing the deploy role), and the artifacts it reads and writes in
    // the pipeline account's stores (CodePipeline user guide, "Create a pipeline that uses
    // resources from another AWS account").
    named_role(r.action.as_str(), "Assumed by the mlz pipeline for its CloudFormation actions in this account.", trust_role(pipeline_role))
        .prop(
            "Policies",
            inline_policy(
                "pipeline-action",
                vec![
                    statement(
                        "Stacks",
                        &[
                            "cloudformation:CreateStack",
                            "cloudformation:UpdateStack",
                            "cloudformation:DescribeStacks",
                            "cloudformation:DescribeStackEvents",
                            "cloudformation:GetTemplate",
                            "cloudformation:SetStackPolicy",
                            "cloudformation:CreateChangeSet",
                            "cloudformation:DescribeChangeSet",
                            "cloudformation:ExecuteChangeSet",
                            "cloudformation:DeleteChangeSet",
                        ],
                        Value::Sub(format!(
                            "arn:${{AWS::Partition}}:cloudformation:*:${{AWS::AccountId}}:stack/{prefix}-*/*"
                        )),
                    ),
                    statement(
                        "Templates",
                        &["cloudformation:ValidateTemplate", "cloudformation:GetTemplateSummary"],
                        Value::str("*"),
                    ),
                    Value::map([
                        ("Sid", Value::str("PassDeployRole")),
                        ("Effect", Value::str("Allow")),
                        ("Action", Value::str("iam:PassRole")),
                        (
                            "Resource",
                            Value::Sub(format!(
                                "arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{}",
                                r.deploy
                            )),
                        ),
                        (
                            "Condition",
                            j(json!({ "StringEquals": { "iam:PassedToService": CLOUDFORMATION } })),
                        ),
                    ]),
                    // The actions write no output artifacts (no OutputFileName): read only.
                    statement(
                        "Artifacts",
                        &["s3:GetObject", "s3:GetObjectVersion"],
                        Value::Sub(format!(
                            "arn:${{AWS::Partition}}:s3:::{prefix}-pipeline-${{PipelineAccountId}}-*/*"
                        )),
                    ),
                    Value::map([
                        ("Sid", Value::str("ArtifactKeys")),
                        ("Effect", Value::str("Allow")),
                        (
                            "Action",
                            Value::list_of_str(["kms:Decrypt", "kms:DescribeKey"]),
                        ),
                        (
                            "Resource",
                            Value::Sub("arn:${AWS::Partition}:kms:*:${PipelineAccountId}:key/*".into()),
                        ),
                        (
                            "Condition",
                            j(json!({ "StringLike": { "kms:ViaService": "s3.*.amazonaws.com" } })),
                        ),
                    ]),
                ],
            ),
        )
}

fn deploy_role(r: &RoleNames) -> Resource {
    // CloudFormation's service role for the account's stacks: only CloudFormation can use it,
    // and only the action role may pass it. The stacks create IAM roles, accounts, SCPs and
    // Identity Center assignments: AWS's AdministratorAccess, as CDK's bootstrap execution role
    // and Control Tower's AWSControlTowerExecution have.
    named_role(
        r.deploy.as_str(),
        "CloudFormation's service role for the mlz pipeline's stacks in this account.",
        document(vec![Value::map([
            ("Effect", Value::str("Allow")),
            (
                "Principal",
                Value::map([("Service", Value::str(CLOUDFORMATION))]),
            ),
            // No aws:SourceAccount condition: no AWS document says CloudFormation sends it
            // when it assumes a stack's service role (review finding).
            ("Action", Value::str("sts:AssumeRole")),
        ])]),
    )
    .prop(
        "ManagedPolicyArns",
        Value::List(vec![crate::common::managed_policy("AdministratorAccess")]),
    )
}

fn read_role(r: &RoleNames, management: bool) -> Resource {
    let build_role = role_arn("PipelineAccountId", &r.build);
    named_role(r.read.as_str(), "Assumed by the mlz pipeline's resolve actions to read stack outputs (and, in the management account, the organisation).", trust_role(build_role))
        .prop(
            "Policies",
            inline_policy("pipeline-read", {
                let mut v = vec![statement(
                    "Outputs",
                    &["cloudformation:DescribeStacks", "cloudformation:ListExports"],
                    Value::str("*"),
                )];
                if management {
                    // What pipeline/resolve.py looks up: the root, OUs and accounts, the
                    // Identity Center instance and groups, Control Tower's baselines.
                    v.push(statement(
                        "Lookups",
                        &[
                            "organizations:DescribeOrganization",
                            "organizations:ListRoots",
                            "organizations:ListOrganizationalUnitsForParent",
                            "organizations:ListAccounts",
                            "sso:ListInstances",
                            "identitystore:GetGroupId",
                            "controltower:ListBaselines",
                            "controltower:ListEnabledBaselines",
                        ],
                        Value::str("*"),
                    ));
                }
                v
            }),
        )
}

fn steps_role(p: &Platform, r: &RoleNames, step_actions: &BTreeSet<&'static str>) -> Resource {
    let prefix = &p.organization.stack_prefix;
    let build_role = role_arn("PipelineAccountId", &r.build);
    let mut by_service: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for a in step_actions {
        by_service
            .entry(a.split(':').next().unwrap_or(a))
            .or_default()
            .push(a);
    }
    let mut statements = Vec::new();
    for (svc, actions) in by_service {
        let resource = match svc {
            // Uploads go to mlz's own artifact buckets only.
            "s3" => Value::Sub(format!(
                "arn:${{AWS::Partition}}:s3:::{prefix}-artifacts-*/*"
            )),
            // Only the service-linked roles the integrations create.
            "iam" => Value::Sub(
                "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/*".into(),
            ),
            _ => Value::str("*"),
        };
        let sid: String = svc.chars().filter(char::is_ascii_alphanumeric).collect();
        statements.push(statement(&sid, &actions, resource));
    }
    named_role(
        r.steps.as_str(),
        "Assumed by the mlz pipeline's step actions: the API calls of this account's manual steps.",
        trust_role(build_role),
    )
    .prop("Policies", inline_policy("pipeline-steps", statements))
}

/// The IAM actions of the automated steps, by the account they run in.
pub(super) fn step_actions(
    cx: &Cx<'_>,
    acts: &[(usize, Act)],
) -> BTreeMap<AccountRef, BTreeSet<&'static str>> {
    let mut out: BTreeMap<AccountRef, BTreeSet<&'static str>> = BTreeMap::new();
    for (_, a) in acts {
        if let Act::Step { j, automated: true } = *a {
            let st = &cx.steps[j];
            let set = out.entry(st.account).or_default();
            for c in &st.commands {
                set.extend(command_actions(c).unwrap_or_default().iter().copied());
            }
        }
    }
    out
}

/// `pipeline/roles-member.yaml`: the roles of every member account, deployed by a
/// service-managed StackSet with automatic deployment to the whole organisation, so an
/// account the pipeline vends gets them when it joins (StackSets user guide, "Enable or
/// disable automatic deployments").
pub(super) fn roles_member(
    cx: &Cx<'_>,
    actions: &BTreeSet<&'static str>,
) -> Result<Stack, EmitError> {
    let p = cx.p;
    let id = StackId::new(crate::plan::Area::Pipeline, "roles-member");
    let path = id.path();
    let mut t = Template::new(format!(
        "{}: the roles the mlz pipeline deploys with in a member account. pipeline/roles-management deploys it to every member account as a StackSet.",
        p.organization.name
    ));
    account_roles(&mut t, p, actions, false, &path)?;
    let mut s = new_stack(p, id, t);
    s.deploy = DeployKind::StackSet;
    Ok(s)
}

/// `pipeline/roles-management.yaml`: the management account's roles, and the StackSet of
/// `roles-member` to the organisation root (a service-managed StackSet never deploys to the
/// management account: StackSets user guide, concepts).
pub(super) fn roles_management(
    cx: &Cx<'_>,
    actions: &BTreeSet<&'static str>,
    member: &Template,
) -> Result<Stack, EmitError> {
    let p = cx.p;
    let id = StackId::new(crate::plan::Area::Pipeline, "roles-management");
    let path = id.path();
    let mut t = Template::new(format!(
        "{}: the roles the mlz pipeline deploys with in the management account, and the StackSet that puts them in every member account. Deploy once, by hand, in the management account, {}.",
        p.organization.name, p.organization.home_region
    ));
    account_roles(&mut t, p, actions, true, &path)?;
    string_param(
        &mut t,
        "RootId",
        "The organization root id (r-...): aws organizations list-roots",
        "^r-[0-9a-z]{4,32}$",
        &path,
    )?;
    let body = mlz_cfn::render(member, mlz_cfn::Format::Json)
        .map_err(|e| bug(&path, e))?
        .text;
    let set = Resource::new(crate::types::CFN_STACK_SET)
        .prop("StackSetName", format!("{}-pipeline-roles", p.organization.stack_prefix))
        .prop("Description", "The roles the mlz pipeline deploys with, in every member account.")
        .prop("PermissionModel", "SERVICE_MANAGED")
        .prop("CallAs", "SELF")
        .prop(
            "AutoDeployment",
            j(json!({ "Enabled": true, "RetainStacksOnAccountRemoval": false })),
        )
        .prop("Capabilities", Value::list_of_str(["CAPABILITY_NAMED_IAM"]))
        .prop("ManagedExecution", j(json!({ "Active": true })))
        .prop(
            "OperationPreferences",
            j(json!({ "FailureTolerancePercentage": 0, "MaxConcurrentPercentage": 100, "RegionConcurrencyType": "PARALLEL" })),
        )
        .prop(
            "Parameters",
            Value::List(vec![Value::map([
                ("ParameterKey", Value::str("PipelineAccountId")),
                ("ParameterValue", Value::Ref(lid("PipelineAccountId", &path)?)),
            ])]),
        )
        .prop(
            "StackInstancesGroup",
            Value::List(vec![Value::map([
                (
                    "DeploymentTargets",
                    Value::map([(
                        "OrganizationalUnitIds",
                        Value::List(vec![Value::Ref(lid("RootId", &path)?)]),
                    )]),
                ),
                ("Regions", Value::list_of_str([p.organization.home_region.as_str()])),
            ])]),
        )
        .prop("TemplateBody", Value::str(body));
    t.add_resource(lid("MemberRoles", &path)?, set)
        .map_err(|e| bug(&path, e))?;
    Ok(new_stack(p, id, t))
}
