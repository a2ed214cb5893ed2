//! Artifact buckets: every account that holds templates loaded from S3 (blueprints, product
//! versions, stack set templates) gets one bucket stack, made after the emitters ran from
//! the uploads they asked for, and one manual step that uploads its files.

use std::collections::BTreeMap;

use mlz_cfn::{LogicalId, Output, Resource, Template, Value};
use mlz_model::{AccountRef, Platform};
use serde_json::json;

use crate::common::{account_label, bug, new_stack, private_bucket, tls_only_statement};
use crate::plan::{exports, rules, Area, ExportKey, Fact, Need, StackId};
use crate::stack::{Emitted, ManualStep};
use crate::types::S3_BUCKET_POLICY;
use crate::EmitError;

fn bucket_template(p: &Platform, account_name: &str, path: &str) -> Result<Template, EmitError> {
    let mut t = Template::new(format!(
        "{}: the artifact bucket for templates loaded from S3 (blueprints, product versions, stack set templates). Deploy in {account_name}, home region.",
        p.organization.name
    ));
    let id = LogicalId::new("ArtifactBucket").map_err(|e| bug(path, e))?;
    let j = crate::common::plain;
    let bucket = private_bucket(
        j(json!({ "SSEAlgorithm": "AES256" })),
        j(
            json!([{ "Id": "expire-old-versions", "Status": "Enabled", "NoncurrentVersionExpiration": { "NoncurrentDays": 365 }, "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 7 } }]),
        ),
    );
    t.add_resource(id.clone(), bucket)
        .map_err(|e| bug(path, e))?;
    let policy = Resource::new(S3_BUCKET_POLICY)
        .prop("Bucket", Value::Ref(id.clone()))
        .prop(
            "PolicyDocument",
            Value::map([
                ("Version", Value::str(mlz_model::aws::IAM_POLICY_VERSION)),
                (
                    "Statement",
                    Value::List(vec![tls_only_statement(
                        Value::GetAtt(id.clone(), "Arn".into()),
                        Value::Sub("${ArtifactBucket.Arn}/*".into()),
                    )]),
                ),
            ]),
        );
    t.add_resource(
        LogicalId::new("ArtifactBucketPolicy").map_err(|e| bug(path, e))?,
        policy,
    )
    .map_err(|e| bug(path, e))?;
    t.add_output(
        LogicalId::new("ArtifactBucketName").map_err(|e| bug(path, e))?,
        Output {
            description: Some("The artifact bucket".into()),
            value: Value::Ref(id),
            export: exports::export(p, &ExportKey::ArtifactBucket)?,
            condition: None,
        },
    )
    .map_err(|e| bug(path, e))?;
    Ok(t)
}

/// Adds a bucket stack and an upload step for every account with uploads: the step needs
/// the bucket and provides the uploaded templates to whatever loads them.
pub fn finish(p: &Platform, ext: &str, out: &mut Emitted) -> Result<(), EmitError> {
    let mut by_account: BTreeMap<AccountRef, Vec<usize>> = BTreeMap::new();
    for (i, s) in out.stacks.iter().enumerate() {
        if s.upload.is_some() {
            by_account.entry(s.account).or_default().push(i);
        }
    }
    let region = p.organization.home_region.clone();
    let bucket_export = ExportKey::ArtifactBucket.name(p)?;
    for (account, uploads) in by_account {
        let (name, label) = account_label(p, account);
        let id = StackId::new(Area::Artifacts, format!("bucket-{label}"));
        let path = id.path();
        let mut stack = new_stack(p, id, bucket_template(p, &name, &path)?);
        stack.account = account;
        let mut commands = vec![format!(
            "bucket=$(aws cloudformation list-exports --region {region} --query \"Exports[?Name=='{bucket_export}'].Value\" --output text)"
        )];
        let mut provides = Vec::new();
        for &i in &uploads {
            let s = &out.stacks[i];
            if let Some(u) = &s.upload {
                commands.push(format!(
                    "aws s3 cp {} \"s3://$bucket/{}\"",
                    s.id.file(ext),
                    u.key
                ));
            }
            provides.push(Fact::Uploaded(s.id.clone()));
        }
        out.steps.push(ManualStep {
            id: format!("upload-templates-{label}"),
            account,
            reason: "Templates that Service Catalog or StackSets load from S3: upload each one to this account's artifact bucket, under the key the manifest gives, after the bucket stack and before the stacks that use them.".into(),
            commands,
            provides,
            requires: vec![Need::new(
                Fact::Export {
                    name: bucket_export.clone(),
                    account,
                    region: region.clone(),
                },
                &rules::UPLOAD_FIRST,
            )],
        });
        out.stacks.push(stack);
    }
    Ok(())
}
