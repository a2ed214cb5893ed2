//! The inline policies of the ML personas' permission sets: least privilege, scoped to the
//! account the session is in (every team has its own accounts, so the account is the
//! team boundary).

use serde_json::{json, Value};

use crate::raw::RawInlineBuiltin;

/// The ABAC attribute Identity Center passes as a session tag (the user name), which
/// SageMaker Studio user profiles carry as the tag of the same name.
pub const STUDIO_USER_TAG: &str = "studio-user";

/// Read access to the data in this account's buckets, and write access for results.
fn data_in_this_account() -> Value {
    json!({
        "Sid": "DataInThisAccount",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation"],
        "Resource": "*",
        "Condition": { "StringEquals": { "s3:ResourceAccount": "${aws:PrincipalAccount}" } }
    })
}

/// The keys of this account's SSE-KMS buckets, used through S3 only: reading an object
/// decrypts its data key, writing one makes a data key (Amazon S3 user guide, "Using
/// server-side encryption with AWS KMS keys": kms:Decrypt and kms:GenerateDataKey), in the
/// region of the request and for keys of this account.
fn bucket_keys_in_this_account() -> Value {
    json!({
        "Sid": "BucketKeysThroughS3",
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "arn:aws:kms:*:*:key/*",
        "Condition": { "StringEquals": {
            "kms:ViaService": "s3.${aws:RequestedRegion}.amazonaws.com",
            "aws:ResourceAccount": "${aws:PrincipalAccount}"
        } }
    })
}

/// The isolation tag (`studio-user`, which binds a Studio profile to its person) is never a
/// person's to set or remove, at creation or after, whatever else their set may tag: someone
/// who could retag a colleague's profile could open it.
fn never_the_isolation_tag() -> Value {
    json!({
        "Sid": "NeverTheIsolationTag",
        "Effect": "Deny",
        "Action": ["sagemaker:AddTags", "sagemaker:DeleteTags"],
        "Resource": "*",
        "Condition": { "ForAnyValue:StringEquals": { "aws:TagKeys": [STUDIO_USER_TAG] } }
    })
}

/// Registered model artefacts and captured inference data are written by the pipelines and
/// endpoints that own them, never by people: an approved model package points at its
/// artefact by key, so an overwrite would serve a model no one reviewed.
fn never_model_artefacts() -> Value {
    json!({
        "Sid": "NeverWriteModelArtefacts",
        "Effect": "Deny",
        "Action": ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
        "Resource": ["arn:aws:s3:::*-artefacts-*/*", "arn:aws:s3:::*-pipeline-*/*", "arn:aws:s3:::*-models-*/*", "arn:aws:s3:::*-capture-*/*"]
    })
}

/// A job's volume key needs a grant for SageMaker (CreateTrainingJob with VolumeKmsKeyId):
/// for AWS resources only, through SageMaker, on this account's keys.
fn job_volume_keys() -> Value {
    json!({
        "Sid": "JobVolumeKeys",
        "Effect": "Allow",
        "Action": "kms:CreateGrant",
        "Resource": "arn:aws:kms:*:*:key/*",
        "Condition": {
            "Bool": { "kms:GrantIsForAWSResource": "true" },
            "StringEquals": { "aws:ResourceAccount": "${aws:PrincipalAccount}" },
            "StringLike": { "kms:ViaService": "sagemaker.*.amazonaws.com" }
        }
    })
}

fn read_logs(prefix: &str) -> Value {
    json!({
        "Sid": "ReadJobLogs",
        "Effect": "Allow",
        "Action": ["logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents"],
        "Resource": format!("arn:aws:logs:*:*:log-group:{prefix}*")
    })
}

fn pass_role(pattern: &str, service: &str) -> Value {
    json!({
        "Sid": "PassPlatformRoles",
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": format!("arn:aws:iam::*:role/{pattern}"),
        "Condition": { "StringEquals": { "iam:PassedToService": service } }
    })
}

pub fn document(b: RawInlineBuiltin) -> Value {
    match b {
        RawInlineBuiltin::DataScientist => json!({
            "Version": crate::aws::IAM_POLICY_VERSION,
            "Statement": [
                {
                    "Sid": "SeeSageMaker",
                    "Effect": "Allow",
                    "Action": ["sagemaker:Describe*", "sagemaker:List*", "sagemaker:Search", "sagemaker:GetSearchSuggestions"],
                    "Resource": "*"
                },
                {
                    "Sid": "OpenOwnStudioProfile",
                    "Effect": "Allow",
                    "Action": "sagemaker:CreatePresignedDomainUrl",
                    "Resource": "arn:aws:sagemaker:*:*:user-profile/*/*",
                    "Condition": { "StringEquals": { format!("sagemaker:ResourceTag/{STUDIO_USER_TAG}"): format!("${{aws:PrincipalTag/{STUDIO_USER_TAG}}}") } }
                },
                {
                    "Sid": "RunJobsInsideTheVpc",
                    "Effect": "Allow",
                    "Action": ["sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob", "sagemaker:CreateHyperParameterTuningJob"],
                    "Resource": "arn:aws:sagemaker:*:*:*",
                    "Condition": { "Null": { "sagemaker:VpcSubnets": "false", "sagemaker:VolumeKmsKey": "false" } }
                },
                {
                    // The VPC and volume-key condition keys exist on the Create actions only: on
                    // Stop they are absent, so the same condition would deny every Stop.
                    "Sid": "StopOwnJobs",
                    "Effect": "Allow",
                    "Action": ["sagemaker:StopTrainingJob", "sagemaker:StopProcessingJob", "sagemaker:StopHyperParameterTuningJob"],
                    "Resource": "arn:aws:sagemaker:*:*:*"
                },
                {
                    "Sid": "TrackExperiments",
                    "Effect": "Allow",
                    "Action": ["sagemaker:CreateExperiment", "sagemaker:CreateTrial", "sagemaker:CreateTrialComponent"],
                    "Resource": "arn:aws:sagemaker:*:*:*"
                },
                {
                    // Tags only as part of a Create call (SageMaker tags what Studio and jobs
                    // create): AddTags on an existing resource, a colleague's user profile
                    // among them, is not allowed.
                    "Sid": "TagOnlyOnCreate",
                    "Effect": "Allow",
                    "Action": "sagemaker:AddTags",
                    "Resource": "arn:aws:sagemaker:*:*:*",
                    "Condition": { "Null": { "sagemaker:TaggingAction": "false" } }
                },
                never_the_isolation_tag(),
                // Only the teams' Studio execution roles: the pipeline and endpoint roles
                // (which approve and serve models) are not theirs to borrow.
                pass_role(&format!("{}*{}", crate::products::ROLE_PREFIX, crate::products::STUDIO_ROLE_SUFFIX), "sagemaker.amazonaws.com"),
                data_in_this_account(),
                bucket_keys_in_this_account(),
                job_volume_keys(),
                never_model_artefacts(),
                {
                    "Sid": "QueryTheCatalog",
                    "Effect": "Allow",
                    "Action": [
                        "athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution",
                        "athena:GetWorkGroup", "glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables",
                        "glue:GetPartition", "glue:GetPartitions"
                    ],
                    "Resource": "*"
                },
                read_logs("/aws/sagemaker/")
            ]
        }),
        RawInlineBuiltin::MlEngineering => json!({
            "Version": crate::aws::IAM_POLICY_VERSION,
            "Statement": [
                {
                    "Sid": "SeeSageMaker",
                    "Effect": "Allow",
                    "Action": ["sagemaker:Describe*", "sagemaker:List*", "sagemaker:Search", "sagemaker:GetSearchSuggestions"],
                    "Resource": "*"
                },
                {
                    "Sid": "BuildAndDeployModels",
                    "Effect": "Allow",
                    "Action": [
                        "sagemaker:CreatePipeline", "sagemaker:UpdatePipeline", "sagemaker:StartPipelineExecution", "sagemaker:StopPipelineExecution",
                        "sagemaker:CreateModelPackageGroup", "sagemaker:CreateModelPackage", "sagemaker:UpdateModelPackage",
                        "sagemaker:CreateModel", "sagemaker:CreateEndpointConfig", "sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint",
                        "sagemaker:DeleteEndpoint", "sagemaker:InvokeEndpoint", "sagemaker:AddTags"
                    ],
                    "Resource": "arn:aws:sagemaker:*:*:*"
                },
                {
                    "Sid": "ContainerImagesInThisAccount",
                    "Effect": "Allow",
                    "Action": [
                        "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "ecr:PutImage",
                        "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:DescribeRepositories", "ecr:DescribeImages"
                    ],
                    "Resource": "arn:aws:ecr:*:*:repository/*"
                },
                { "Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*" },
                pass_role(&format!("{}*", crate::products::ROLE_PREFIX), "sagemaker.amazonaws.com"),
                data_in_this_account(),
                bucket_keys_in_this_account(),
                never_the_isolation_tag(),
                {
                    "Sid": "WatchModels",
                    "Effect": "Allow",
                    "Action": ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics", "cloudwatch:DescribeAlarms"],
                    "Resource": "*"
                },
                read_logs("/aws/sagemaker/")
            ]
        }),
        RawInlineBuiltin::DataEngineering => json!({
            "Version": crate::aws::IAM_POLICY_VERSION,
            "Statement": [
                {
                    "Sid": "BuildPipelines",
                    "Effect": "Allow",
                    "Action": [
                        "glue:Get*", "glue:List*", "glue:BatchGet*", "glue:CreateJob", "glue:UpdateJob", "glue:StartJobRun",
                        "glue:BatchStopJobRun", "glue:CreateCrawler", "glue:UpdateCrawler", "glue:StartCrawler", "glue:StopCrawler",
                        "glue:CreateDatabase", "glue:UpdateDatabase", "glue:CreateTable", "glue:UpdateTable", "glue:CreatePartition",
                        "glue:BatchCreatePartition", "glue:UpdatePartition", "glue:TagResource"
                    ],
                    "Resource": "*",
                    "Condition": { "StringEquals": { "aws:ResourceAccount": "${aws:PrincipalAccount}" } }
                },
                {
                    "Sid": "QueryAndGovern",
                    "Effect": "Allow",
                    "Action": [
                        "athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution",
                        "athena:GetWorkGroup", "lakeformation:GetDataAccess", "lakeformation:GetResourceLFTags", "lakeformation:ListPermissions"
                    ],
                    "Resource": "*"
                },
                pass_role("mlz-glue-*", "glue.amazonaws.com"),
                data_in_this_account(),
                bucket_keys_in_this_account(),
                never_model_artefacts(),
                never_the_isolation_tag(),
                read_logs("/aws-glue/")
            ]
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_wildcard_admin_and_within_size() {
        for b in [
            RawInlineBuiltin::DataScientist,
            RawInlineBuiltin::MlEngineering,
            RawInlineBuiltin::DataEngineering,
        ] {
            let d = document(b);
            let text = serde_json::to_string(&d).unwrap();
            // Identity Center's inline policy limit.
            assert!(text.len() <= 32_768);
            for s in d["Statement"].as_array().unwrap() {
                let actions: Vec<&str> = match &s["Action"] {
                    Value::String(a) => vec![a.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => vec![],
                };
                assert!(
                    !actions.iter().any(|a| *a == "*" || a.ends_with(":*")),
                    "{b:?}: {actions:?}"
                );
                assert!(
                    !actions
                        .iter()
                        .any(|a| a.starts_with("iam:") && *a != "iam:PassRole"),
                    "{b:?} touches IAM"
                );
            }
        }
    }
}
