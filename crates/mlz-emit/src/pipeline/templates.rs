//! The pipeline's own templates: the artifact stores, the shared resources of the pipeline
//! account and the pipelines of each phase.

use super::*;

pub(super) fn export_name(p: &Platform, what: &'static str) -> Result<String, EmitError> {
    ExportKey::Pipeline(what).name(p)
}

pub(super) fn import(p: &Platform, what: &'static str) -> Result<Value, EmitError> {
    exports::import(p, &ExportKey::Pipeline(what))
}

pub(super) fn artifact_bucket_name(p: &Platform, region: &str) -> Value {
    Value::Sub(format!(
        "{}-pipeline-${{AWS::AccountId}}-{region}",
        p.organization.stack_prefix
    ))
}

pub(super) fn org_param(t: &mut Template, path: &str) -> Result<(), EmitError> {
    string_param(
        t,
        "OrganizationId",
        "The organisation's id (o-...): aws organizations describe-organization",
        "^o-[a-z0-9]{10,32}$",
        path,
    )
}

/// A statement of an artifact store's key or bucket policy: the organisation's action roles
/// (any account of the organisation, the role of that name only) may read.
fn action_roles_read(
    sid: &str,
    actions: &[&str],
    resource: Value,
    via: Option<(&'static str, &'static str)>,
    action_role: &str,
    organization: Value,
) -> Value {
    let mut condition = vec![
        (
            "StringEquals",
            Value::map([("aws:PrincipalOrgID", organization)]),
        ),
        (
            "ArnLike",
            Value::map([(
                "aws:PrincipalArn",
                Value::Sub(format!("arn:${{AWS::Partition}}:iam::*:role/{action_role}")),
            )]),
        ),
    ];
    if let Some((key, value)) = via {
        condition.push(("StringLike", Value::map([(key, Value::str(value))])));
    }
    Value::map([
        ("Sid", Value::str(sid)),
        ("Effect", Value::str("Allow")),
        ("Principal", j(json!({ "AWS": "*" }))),
        ("Action", Value::list_of_str(actions.iter().copied())),
        ("Resource", resource),
        ("Condition", Value::map(condition)),
    ])
}

/// The KMS key of an artifact store: the pipeline account administers it; the action roles
/// of the organisation's accounts use it through S3 (cross-account actions need a customer
/// managed key the target account's action role may use: CodePipeline user guide, "Create a
/// pipeline in CodePipeline that uses resources from another AWS account").
pub(super) fn artifact_key(p: &Platform) -> Resource {
    let r = role_names(&p.organization.stack_prefix);
    Resource::new(KMS_KEY)
        .prop("Description", "Encrypts the mlz pipeline's artifacts")
        .prop("EnableKeyRotation", Value::Bool(true))
        .prop(
            "KeyPolicy",
            document(vec![
                crate::common::key_admin_statement(),
                action_roles_read(
                    "ActionRolesReadThroughS3",
                    &["kms:Decrypt", "kms:DescribeKey"],
                    Value::str("*"),
                    Some(("kms:ViaService", "s3.*.amazonaws.com")),
                    &r.action,
                    Value::Ref(LogicalId::new("OrganizationId").expect("a valid logical id")),
                ),
            ]),
        )
        .retained()
}

/// An artifact store bucket (named so that the pipeline of another region can name it) and
/// its policy: TLS only, and the organisation's action roles read and write artifacts.
pub(super) fn add_store(
    t: &mut Template,
    p: &Platform,
    region: &str,
    key: Value,
    path: &str,
) -> Result<(), EmitError> {
    let r = role_names(&p.organization.stack_prefix);
    let bucket = private_bucket(
        Value::map([
            ("SSEAlgorithm", Value::str("aws:kms")),
            ("KMSMasterKeyID", key),
        ]),
        j(json!([{ "Id": "expire-artifacts", "Status": "Enabled", "ExpirationInDays": 90, "NoncurrentVersionExpiration": { "NoncurrentDays": 30 }, "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 7 } }])),
    )
    .prop("BucketName", artifact_bucket_name(p, region));
    t.add_resource(lid("ArtifactBucket", path)?, bucket)
        .map_err(|e| bug(path, e))?;
    let policy = Resource::new(S3_BUCKET_POLICY)
        .prop("Bucket", Value::Ref(lid("ArtifactBucket", path)?))
        .prop(
            "PolicyDocument",
            document(vec![
                tls_only_statement(
                    Value::GetAtt(lid("ArtifactBucket", path)?, "Arn".into()),
                    Value::Sub("${ArtifactBucket.Arn}/*".into()),
                ),
                action_roles_read(
                    "ActionRolesRead",
                    &["s3:GetObject", "s3:GetObjectVersion"],
                    Value::Sub("${ArtifactBucket.Arn}/*".into()),
                    None,
                    &r.action,
                    Value::Ref(lid("OrganizationId", path)?),
                ),
            ]),
        );
    t.add_resource(lid("ArtifactBucketPolicy", path)?, policy)
        .map_err(|e| bug(path, e))
}

/// `pipeline/artifacts-<region>.yaml`: the artifact store of a region other than the
/// pipeline's (cross-region actions need one bucket and key per region, in the pipeline's
/// account: CodePipeline user guide, "Add a cross-Region action").
pub(super) fn artifact_store(cx: &Cx<'_>, region: &str) -> Result<Stack, EmitError> {
    let p = cx.p;
    let id = StackId::new(crate::plan::Area::Pipeline, format!("artifacts-{region}"));
    let path = id.path();
    let mut t = Template::new(format!(
        "{}: the mlz pipeline's artifact store in {region}. Deploy once, by hand, in the pipeline account ({}), {region}, before pipeline/pipeline.",
        p.organization.name,
        crate::common::account_name(p, cx.home)
    ));
    org_param(&mut t, &path)?;
    t.add_resource(lid("ArtifactKey", &path)?, artifact_key(p))
        .map_err(|e| bug(&path, e))?;
    add_store(
        &mut t,
        p,
        region,
        Value::GetAtt(lid("ArtifactKey", &path)?, "Arn".into()),
        &path,
    )?;
    t.add_output(
        lid("ArtifactKeyArn", &path)?,
        Output {
            description: Some(format!("The artifact key of {region}")),
            value: Value::GetAtt(lid("ArtifactKey", &path)?, "Arn".into()),
            export: exports::export(p, &ExportKey::Pipeline("ArtifactKeyArn"))?,
            condition: None,
        },
    )
    .map_err(|e| bug(&path, e))?;
    let mut s = new_stack(p, id, t);
    s.account = cx.home;
    s.region = region.to_owned();
    Ok(s)
}

/// The accounts whose roles a phase's actions use (not the pipeline's own account).
pub(super) fn used_accounts(cx: &Cx<'_>, plans: &[PipelinePlan]) -> BTreeSet<AccountRef> {
    let mut out = BTreeSet::new();
    for pl in plans {
        for st in &pl.stages {
            for a in &st.acts {
                match *a {
                    Act::Deploy(s) => out.insert(cx.stacks[s].account),
                    Act::Step { j, automated: true } => out.insert(cx.steps[j].account),
                    // A person runs an approval's step.
                    Act::Step {
                        automated: false, ..
                    } => false,
                };
            }
        }
    }
    out.remove(&cx.home);
    out
}

/// The regions a phase's CloudFormation actions deploy to, and the pipeline's own.
pub(super) fn used_regions(cx: &Cx<'_>, plans: &[PipelinePlan]) -> BTreeSet<String> {
    let mut out = BTreeSet::from([cx.region.clone()]);
    for pl in plans {
        for st in &pl.stages {
            for a in &st.acts {
                if let Act::Deploy(s) = a {
                    out.insert(cx.stacks[*s].region.clone());
                }
            }
        }
    }
    out
}

/// The accounts a pipeline template names (each a parameter, but the pipeline's own): the
/// ones its actions use, and the ones its roles are granted. The shared roles of the first
/// template may assume the roles of every account that exists before the pipeline; the
/// second template grants the vended ones.
pub(super) fn template_accounts(
    cx: &Cx<'_>,
    plans: &[PipelinePlan],
    vended: bool,
    before: &BTreeSet<AccountRef>,
) -> (BTreeSet<AccountRef>, BTreeSet<AccountRef>) {
    let used = used_accounts(cx, plans);
    let granted: BTreeSet<AccountRef> = if vended {
        used.iter()
            .copied()
            .filter(|a| !exists_before(cx.p, *a))
            .collect()
    } else {
        before.clone()
    };
    let mut named = used;
    named.extend(granted.iter().copied());
    named.remove(&cx.home);
    (named, granted)
}

pub(super) fn assume(sid: &str, arns: Vec<Value>) -> Value {
    Value::map([
        ("Sid", Value::str(sid)),
        ("Effect", Value::str("Allow")),
        ("Action", Value::str("sts:AssumeRole")),
        ("Resource", Value::List(arns)),
    ])
}

pub(super) fn service_trust(service: &str) -> Value {
    document(vec![Value::map([
        ("Effect", Value::str("Allow")),
        ("Principal", Value::map([("Service", Value::str(service))])),
        ("Action", Value::str("sts:AssumeRole")),
        (
            "Condition",
            Value::map([(
                "StringEquals",
                Value::map([(
                    "aws:SourceAccount",
                    Value::Pseudo(mlz_cfn::Pseudo::AccountId),
                )]),
            )]),
        ),
    ])])
}

pub(super) const BUILDSPEC: &str = "version: 0.2\nphases:\n  build:\n    commands:\n      - python3 pipeline/resolve.py \"$MLZ_MODE\" \"$MLZ_TARGET\" resolved\nartifacts:\n  base-directory: resolved\n  files:\n    - '**/*'\n";

/// The shared resources of the pipeline account, made by `pipeline/pipeline.yaml`: the home
/// region's artifact store, the source bucket, CodePipeline's, CodeBuild's and EventBridge's
/// roles and the build project the resolve and step actions run.
///
/// Long but whole: one resource after another, each naming the ones before (the key, the
/// buckets, the roles' ARNs); split, the logical ids would be spelled in several places.
pub(super) fn shared_resources(
    t: &mut Template,
    cx: &Cx<'_>,
    regions: &BTreeSet<String>,
    accounts: &BTreeSet<AccountRef>,
    step_accounts: &BTreeSet<AccountRef>,
    path: &str,
) -> Result<(), EmitError> {
    let p = cx.p;
    let prefix = &p.organization.stack_prefix;
    let r = &cx.r;
    t.add_resource(lid("ArtifactKey", path)?, artifact_key(p))
        .map_err(|e| bug(path, e))?;
    t.add_resource(
        lid("ArtifactKeyAlias", path)?,
        Resource::new(crate::types::KMS_ALIAS)
            .prop("AliasName", format!("alias/{prefix}-pipeline"))
            .prop("TargetKeyId", Value::Ref(lid("ArtifactKey", path)?)),
    )
    .map_err(|e| bug(path, e))?;
    let key = Value::GetAtt(lid("ArtifactKey", path)?, "Arn".into());
    add_store(t, p, &cx.region, key.clone(), path)?;
    let source = private_bucket(
        j(json!({ "SSEAlgorithm": "AES256" })),
        j(json!([{ "Id": "expire-old-versions", "Status": "Enabled", "NoncurrentVersionExpiration": { "NoncurrentDays": 90 }, "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 7 } }])),
    )
    .prop(
        "BucketName",
        Value::Sub(format!("{prefix}-pipeline-source-${{AWS::AccountId}}-{}", cx.region)),
    );
    t.add_resource(lid("SourceBucket", path)?, source)
        .map_err(|e| bug(path, e))?;
    t.add_resource(
        lid("SourceBucketPolicy", path)?,
        Resource::new(S3_BUCKET_POLICY)
            .prop("Bucket", Value::Ref(lid("SourceBucket", path)?))
            .prop(
                "PolicyDocument",
                document(vec![tls_only_statement(
                    Value::GetAtt(lid("SourceBucket", path)?, "Arn".into()),
                    Value::Sub("${SourceBucket.Arn}/*".into()),
                )]),
            ),
    )
    .map_err(|e| bug(path, e))?;
    // Every artifact store's objects and keys.
    let mut store_objects = Vec::new();
    let mut keys = vec![key.clone()];
    for region in regions {
        store_objects.push(Value::Sub(format!(
            "arn:${{AWS::Partition}}:s3:::{prefix}-pipeline-${{AWS::AccountId}}-{region}/*"
        )));
        if *region != cx.region {
            keys.push(Value::Ref(lid(
                format!("ArtifactKey{}", region_id(region)),
                path,
            )?));
        }
    }
    let kms = [
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    ];
    let build_project_arn = Value::Sub(format!(
        "arn:${{AWS::Partition}}:codebuild:${{AWS::Region}}:${{AWS::AccountId}}:project/{prefix}-pipeline-build"
    ));
    let mut action_roles: Vec<Value> = accounts.iter().map(|a| cx.role(*a, &r.action)).collect();
    action_roles.push(cx.role(cx.home, &r.action));
    let pipeline_role = named_role(
        r.pipeline.as_str(),
        "CodePipeline's service role for the mlz pipelines.",
        service_trust("codepipeline.amazonaws.com"),
    )
    .prop(
        "Policies",
        inline_policy(
            "pipeline",
            vec![
                statement(
                    "Source",
                    &[
                        "s3:GetObject",
                        "s3:GetObjectVersion",
                        "s3:GetBucketVersioning",
                    ],
                    Value::List(vec![
                        Value::GetAtt(lid("SourceBucket", path)?, "Arn".into()),
                        Value::Sub("${SourceBucket.Arn}/*".into()),
                    ]),
                ),
                statement(
                    "Artifacts",
                    &["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
                    Value::List(store_objects.clone()),
                ),
                statement("ArtifactKeys", &kms, Value::List(keys.clone())),
                statement(
                    "Builds",
                    &["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                    build_project_arn,
                ),
                assume("ActionRoles", action_roles),
            ],
        ),
    );
    t.add_resource(lid("PipelineRole", path)?, pipeline_role)
        .map_err(|e| bug(path, e))?;
    let mut read_roles: Vec<Value> = accounts.iter().map(|a| cx.role(*a, &r.read)).collect();
    read_roles.push(cx.role(cx.home, &r.read));
    let mut build_statements = vec![
        statement("Logs", &["logs:CreateLogStream", "logs:PutLogEvents"], Value::Sub("${BuildLogs.Arn}:*".into())),
        statement("Artifacts", &["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], Value::List(store_objects)),
        statement("ArtifactKeys", &kms, Value::List(keys)),
        statement("Exports", &["cloudformation:ListExports"], Value::str("*")),
        statement("Organization", &["organizations:DescribeOrganization"], Value::str("*")),
        statement(
            "ExternalValues",
            &["ssm:GetParameter"],
            Value::Sub(format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter/{prefix}/pipeline/external/*")),
        ),
        assume("ReadRoles", read_roles),
    ];
    let steps: Vec<Value> = step_accounts
        .iter()
        .map(|a| cx.role(*a, &r.steps))
        .collect();
    if !steps.is_empty() {
        build_statements.push(assume("StepRoles", steps));
    }
    t.add_resource(
        lid("BuildLogs", path)?,
        crate::common::log_group().prop("LogGroupName", format!("/{prefix}/pipeline/build")),
    )
    .map_err(|e| bug(path, e))?;
    t.add_resource(
        lid("BuildRole", path)?,
        named_role(
            r.build.as_str(),
            "CodeBuild's role for the mlz pipeline's resolve and step actions.",
            service_trust("codebuild.amazonaws.com"),
        )
        .prop(
            "Policies",
            inline_policy("pipeline-build", build_statements),
        ),
    )
    .map_err(|e| bug(path, e))?;
    t.add_resource(
        lid("BuildProject", path)?,
        Resource::new(crate::types::CODEBUILD_PROJECT)
            .prop("Name", format!("{prefix}-pipeline-build"))
            .prop("Description", "Runs pipeline/resolve.py: the mlz pipeline's resolve and step actions.")
            .prop("ServiceRole", Value::GetAtt(lid("BuildRole", path)?, "Arn".into()))
            .prop("Artifacts", j(json!({ "Type": "CODEPIPELINE" })))
            .prop("Source", j(json!({ "Type": "CODEPIPELINE", "BuildSpec": BUILDSPEC })))
            .prop("Environment", j(json!({ "Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_SMALL", "Image": BUILD_IMAGE })))
            .prop("EncryptionKey", key)
            .prop("TimeoutInMinutes", Value::Int(60))
            .prop(
                "LogsConfig",
                Value::map([(
                    "CloudWatchLogs",
                    Value::map([
                        ("Status", Value::str("ENABLED")),
                        ("GroupName", Value::Ref(lid("BuildLogs", path)?)),
                    ]),
                )]),
            ),
    )
    .map_err(|e| bug(path, e))?;
    t.add_resource(
        lid("EventsRole", path)?,
        named_role(r.events.as_str(), "Lets EventBridge start the next mlz pipeline when one succeeds.", service_trust("events.amazonaws.com"))
            .prop(
                "Policies",
                inline_policy(
                    "start-pipelines",
                    vec![statement(
                        "StartPipelines",
                        &["codepipeline:StartPipelineExecution"],
                        Value::Sub(format!("arn:${{AWS::Partition}}:codepipeline:${{AWS::Region}}:${{AWS::AccountId}}:{prefix}-*")),
                    )],
                ),
            ),
    )
    .map_err(|e| bug(path, e))?;
    for (what, value) in [
        (
            "ArtifactKeyArn",
            Value::GetAtt(lid("ArtifactKey", path)?, "Arn".into()),
        ),
        ("SourceBucket", Value::Ref(lid("SourceBucket", path)?)),
        (
            "RoleArn",
            Value::GetAtt(lid("PipelineRole", path)?, "Arn".into()),
        ),
        ("BuildProject", Value::Ref(lid("BuildProject", path)?)),
        (
            "EventsRoleArn",
            Value::GetAtt(lid("EventsRole", path)?, "Arn".into()),
        ),
    ] {
        t.add_output(
            lid(what, path)?,
            Output {
                description: Some(format!("The pipeline's {what}")),
                value,
                export: exports::export(p, &ExportKey::Pipeline(what))?,
                condition: None,
            },
        )
        .map_err(|e| bug(path, e))?;
    }
    Ok(())
}

/// Where the second phase's pipelines come from: the last stage of the first phase looks
/// the vended accounts' ids up and deploys `pipeline/pipeline-vended`.
pub(super) struct Handover {
    pub(super) stack: StackId,
    pub(super) params: serde_json::Map<String, serde_json::Value>,
    /// The vended accounts: their roles must exist before CodePipeline accepts actions there.
    pub(super) wait_for: Vec<String>,
}

/// `pipeline/pipeline.yaml` (first phase, with the shared resources) or
/// `pipeline/pipeline-vended.yaml` (second phase).
///
/// Long but whole: the parameters it declares are the ones its pipelines' actions and its
/// grants name, in one place; the stages, stores and rules are functions of their own.
#[allow(clippy::too_many_arguments)]
pub(super) fn pipeline_template(
    cx: &Cx<'_>,
    plans: &[PipelinePlan],
    vended: bool,
    regions: &BTreeSet<String>,
    previous: Option<String>,
    handover: Option<&Handover>,
    all: &(BTreeSet<AccountRef>, BTreeSet<AccountRef>),
    bootstrap: &[&Stack],
    wiring: &mut Wiring,
    entries: &mut Vec<ActionEntry>,
) -> Result<Stack, EmitError> {
    let p = cx.p;
    let id = StackId::new(
        crate::plan::Area::Pipeline,
        if vended {
            "pipeline-vended"
        } else {
            "pipeline"
        },
    );
    let path = id.path();
    let mut t = Template::new(format!(
        "{}: {} Deploy in the pipeline account ({}), {}{}.",
        p.organization.name,
        if vended {
            "the pipelines that deploy to the accounts the first pipelines vended."
        } else {
            "the deployment pipelines (CodePipeline V2, one stage per wave of the plan), their artifact store, source bucket and build project."
        },
        crate::common::account_name(p, cx.home),
        cx.region,
        if vended {
            "; the last stage of the first pipelines deploys it"
        } else {
            "; once, by hand, after the roles and artifact stores"
        }
    ));
    if !vended {
        org_param(&mut t, &path)?;
    }
    let (before, steps_in) = all;
    let (params, granted) = template_accounts(cx, plans, vended, before);
    for a in &params {
        string_param(
            &mut t,
            &account_param(p, *a),
            &format!(
                "The 12-digit id of account {}",
                crate::common::account_name(p, *a)
            ),
            ACCOUNT_ID_PATTERN,
            &path,
        )?;
    }
    let own_regions = used_regions(cx, plans);
    // The shared roles use every region's store; a pipeline only its own regions'.
    let keyed = if vended { &own_regions } else { regions };
    for region in keyed {
        if *region != cx.region {
            string_param(
                &mut t,
                &format!("ArtifactKey{}", region_id(region)),
                &format!("The ARN of the pipeline's artifact key in {region}: output ArtifactKeyArn of pipeline/artifacts-{region}"),
                "^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-f0-9-]+$",
                &path,
            )?;
        }
    }
    let step_accounts: BTreeSet<AccountRef> = steps_in
        .iter()
        .copied()
        .filter(|a| granted.contains(a) || (!vended && *a == cx.home))
        .collect();
    let (role, project, source_bucket, home_key, events) = if vended {
        vended_grants(&mut t, cx, &granted, &step_accounts, &path)?;
        (
            import(p, "RoleArn")?,
            import(p, "BuildProject")?,
            import(p, "SourceBucket")?,
            import(p, "ArtifactKeyArn")?,
            import(p, "EventsRoleArn")?,
        )
    } else {
        shared_resources(&mut t, cx, regions, &granted, &step_accounts, &path)?;
        (
            Value::GetAtt(lid("PipelineRole", &path)?, "Arn".into()),
            Value::Ref(lid("BuildProject", &path)?),
            Value::Ref(lid("SourceBucket", &path)?),
            Value::GetAtt(lid("ArtifactKey", &path)?, "Arn".into()),
            Value::GetAtt(lid("EventsRole", &path)?, "Arn".into()),
        )
    };
    let stores = |regions: &BTreeSet<String>| -> Result<Value, EmitError> {
        let store = |region: &str| -> Result<Value, EmitError> {
            let key = if region == cx.region {
                home_key.clone()
            } else {
                Value::Ref(lid(format!("ArtifactKey{}", region_id(region)), &path)?)
            };
            Ok(Value::map([
                ("Type", Value::str("S3")),
                ("Location", artifact_bucket_name(p, region)),
                (
                    "EncryptionKey",
                    Value::map([("Id", key), ("Type", Value::str("KMS"))]),
                ),
            ]))
        };
        Ok(Value::List(
            regions
                .iter()
                .map(|r| {
                    Ok(Value::map([
                        ("Region", Value::str(r.clone())),
                        ("ArtifactStore", store(r)?),
                    ]))
                })
                .collect::<Result<Vec<_>, EmitError>>()?,
        ))
    };
    let mut previous = previous;
    for (n, pl) in plans.iter().enumerate() {
        let mut stage_values = vec![source_stage(&source_bucket)];
        if n == 0 && !vended {
            // What the self-update fills: the ids this template and the bootstrap stacks take.
            let mut own = serde_json::Map::new();
            own.insert(
                "OrganizationId".into(),
                json!({ "lookup": "organizationId" }),
            );
            own.extend(id_sources(cx, &params, keyed)?);
            stage_values.push(self_update(
                cx, &pl.name, &project, bootstrap, &id, own, wiring,
            ));
        }
        stage_values.extend(stages(cx, pl, &project, wiring, entries));
        let used_regions = used_regions(cx, std::slice::from_ref(pl));
        if let (Some(h), true) = (handover, n + 1 == plans.len()) {
            stage_values.push(handover_stage(cx, &pl.name, h, &project, wiring));
        }
        let stores_value = stores(&used_regions)?;
        let mut r = Resource::new(crate::types::CODEPIPELINE_PIPELINE)
            .prop("Name", pl.name.as_str())
            .prop("PipelineType", "V2")
            .prop("ExecutionMode", "QUEUED")
            .prop("RoleArn", role.clone())
            // The first pipeline updates itself in its first stage: CloudFormation then
            // starts it again on the new definition. The others are started in turn.
            .prop("RestartExecutionOnUpdate", Value::Bool(n == 0 && !vended))
            .prop("Stages", Value::List(stage_values));
        r = if used_regions.len() > 1 {
            r.prop("ArtifactStores", stores_value)
        } else {
            let Value::List(mut v) = stores_value else {
                return Err(bug(&path, "artifact stores are a list"));
            };
            let only = v.pop().ok_or_else(|| bug(&path, "no artifact store"))?;
            let Value::Map(m) = only else {
                return Err(bug(&path, "an artifact store is a map"));
            };
            r.prop(
                "ArtifactStore",
                m.get("ArtifactStore")
                    .cloned()
                    .ok_or_else(|| bug(&path, "no store"))?,
            )
        };
        // CodePipeline checks, when it creates a pipeline, that its role may assume every
        // action role (InvalidStructureException otherwise): the grants come first.
        if vended && !granted.is_empty() {
            r.depends_on.insert(lid("VendedActionRoles", &path)?);
            r.depends_on.insert(lid("VendedBuildRoles", &path)?);
        }
        let pid = LogicalId::derive("Pipeline", &pl.name).map_err(|e| bug(&path, e))?;
        t.add_resource(pid, r).map_err(|e| bug(&path, e))?;
        if let Some(prev) = previous.take() {
            let rid = LogicalId::derive("Start", &pl.name).map_err(|e| bug(&path, e))?;
            t.add_resource(rid, chain_rule(&prev, &pl.name, &events))
                .map_err(|e| bug(&path, e))?;
        }
        previous = Some(pl.name.clone());
    }
    let mut s = new_stack(p, id, t);
    s.account = cx.home;
    s.region = cx.region.clone();
    Ok(s)
}

/// The second phase's grants: CodePipeline's and CodeBuild's shared roles may assume the
/// vended accounts' roles (policies added to the roles of pipeline/pipeline).
fn vended_grants(
    t: &mut Template,
    cx: &Cx<'_>,
    granted: &BTreeSet<AccountRef>,
    step_accounts: &BTreeSet<AccountRef>,
    path: &str,
) -> Result<(), EmitError> {
    if granted.is_empty() {
        return Ok(());
    }
    let r = &cx.r;
    let roles = |name: &str, of: &BTreeSet<AccountRef>| -> Vec<Value> {
        of.iter().map(|a| cx.role(*a, name)).collect()
    };
    let mut build = vec![assume("VendedReadRoles", roles(&r.read, granted))];
    if !step_accounts.is_empty() {
        build.push(assume("VendedStepRoles", roles(&r.steps, step_accounts)));
    }
    for (id, role, statements) in [
        (
            "VendedActionRoles",
            &r.pipeline,
            vec![assume("VendedActionRoles", roles(&r.action, granted))],
        ),
        ("VendedBuildRoles", &r.build, build),
    ] {
        t.add_resource(
            lid(id, path)?,
            Resource::new(crate::types::IAM_ROLE_POLICY)
                .prop("RoleName", role.as_str())
                .prop("PolicyName", "vended-accounts")
                .prop("PolicyDocument", document(statements)),
        )
        .map_err(|e| bug(path, e))?;
    }
    Ok(())
}

/// The source stage: the zipped output folder in the source bucket (started by hand or by
/// the pipeline before: no polling).
fn source_stage(bucket: &Value) -> Value {
    Value::map([
        ("Name", Value::str("Source")),
        (
            "Actions",
            Value::List(vec![Value::map([
                ("Name", Value::str("Output")),
                ("ActionTypeId", action_type("Source", "S3")),
                (
                    "Configuration",
                    Value::map([
                        ("S3Bucket", bucket.clone()),
                        ("S3ObjectKey", Value::str(SOURCE_KEY)),
                        ("PollForSourceChanges", Value::str("false")),
                    ]),
                ),
                ("OutputArtifacts", artifacts(&["Source"])),
                ("RunOrder", Value::Int(1)),
            ])]),
        ),
    ])
}

/// Where a pipeline template's ids come from: each account's by e-mail, each other region's
/// artifact key from that region's store (the self-update and the handover fill them alike).
pub(super) fn id_sources<'a>(
    cx: &Cx<'_>,
    accounts: impl IntoIterator<Item = &'a AccountRef>,
    regions: impl IntoIterator<Item = &'a String>,
) -> Result<serde_json::Map<String, serde_json::Value>, EmitError> {
    let p = cx.p;
    let mut out = serde_json::Map::new();
    for a in accounts {
        out.insert(
            account_param(p, *a),
            json!({ "lookup": "accountId", "account": account_key(p, *a) }),
        );
    }
    for r in regions {
        if *r != cx.region {
            out.insert(
                format!("ArtifactKey{}", region_id(r)),
                json!({ "export": {
                    "name": export_name(p, "ArtifactKeyArn")?,
                    "account": account_key(p, cx.home),
                    "region": r,
                } }),
            );
        }
    }
    Ok(out)
}

/// The last stage of the first phase: look the vended accounts' ids up, and deploy the
/// second phase's pipelines with them.
fn handover_stage(
    cx: &Cx<'_>,
    pipeline: &str,
    h: &Handover,
    project: &Value,
    wiring: &mut Wiring,
) -> Value {
    let prefix = &cx.p.organization.stack_prefix;
    let key = Cx::stage_key(pipeline, "Pipelines");
    wiring.stages.insert(
        key.clone(),
        json!({
            "waitFor": h.wait_for,
            "stacks": [{
                "template": h.stack.file(cx.ext),
                "configuration": configuration_path(&h.stack.file(cx.ext)),
                "parameters": h.params,
            }],
        }),
    );
    let file = h.stack.file(cx.ext);
    Value::map([
        ("Name", Value::str("Pipelines")),
        (
            "Actions",
            Value::List(vec![
                build_action(
                    "Resolve",
                    project,
                    "stage",
                    &key,
                    Some("ResolvedPipelines"),
                    1,
                ),
                Value::map([
                    ("Name", Value::str(action_name(&file))),
                    ("ActionTypeId", action_type("Deploy", "CloudFormation")),
                    ("Region", Value::str(cx.region.clone())),
                    ("RoleArn", cx.role(cx.home, &cx.r.action)),
                    (
                        "Configuration",
                        Value::map([
                            ("ActionMode", Value::str("CREATE_UPDATE")),
                            ("StackName", Value::str(h.stack.stack_name(prefix))),
                            ("TemplatePath", Value::str(format!("Source::{file}"))),
                            (
                                "TemplateConfiguration",
                                Value::str(format!(
                                    "ResolvedPipelines::{}",
                                    configuration_path(&file)
                                )),
                            ),
                            ("Capabilities", Value::str("CAPABILITY_NAMED_IAM")),
                            ("RoleArn", cx.role(cx.home, &cx.r.deploy)),
                        ]),
                    ),
                    (
                        "InputArtifacts",
                        artifacts(&["Source", "ResolvedPipelines"]),
                    ),
                    ("RunOrder", Value::Int(2)),
                ]),
            ]),
        ),
    ])
}

/// Starts `name` when `prev` succeeds (EventBridge, CodePipeline's execution state events).
fn chain_rule(prev: &str, name: &str, events: &Value) -> Resource {
    Resource::new(crate::types::EVENTS_RULE)
            .prop("Description", format!("Starts {} when {prev} succeeds.", name))
            .prop(
                "EventPattern",
                j(json!({
                    "source": ["aws.codepipeline"],
                    "detail-type": ["CodePipeline Pipeline Execution State Change"],
                    "detail": { "pipeline": [prev], "state": ["SUCCEEDED"] }
                })),
            )
            .prop(
                "Targets",
                Value::List(vec![Value::map([
                    ("Id", Value::str("next-pipeline")),
                    (
                        "Arn",
                        Value::Sub(format!(
                            "arn:${{AWS::Partition}}:codepipeline:${{AWS::Region}}:${{AWS::AccountId}}:{}",
                            name
                        )),
                    ),
                    ("RoleArn", events.clone()),
                ])]),
            )
}
