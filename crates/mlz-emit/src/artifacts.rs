//! Artifact buckets: every account that holds templates loaded from S3 (blueprints, product
//! versions, stack set templates) gets one bucket stack, made after the emitters ran from
//! the uploads they asked for, and one manual step that uploads its files.

use std::collections::BTreeMap;

use mlz_cfn::{LogicalId, Output, Resource, Template, Value};
use mlz_model::{AccountRef, Platform};
use serde_json::json;

use crate::common::{bug, new_stack, private_bucket, slug, tls_only_statement};
use crate::stack::{Emitted, ManualStep};
use crate::types::S3_BUCKET_POLICY;
use crate::EmitError;

const BUCKET_FIRST: &str = "the template is uploaded to the artifact bucket that stack creates";

/// The export that names an account's artifact bucket (export names are per account and
/// region, so every account uses the same one).
pub fn bucket_export(p: &Platform) -> String {
    format!("{}-ArtifactBucket-Name", p.organization.stack_prefix)
}

fn account_label(p: &Platform, a: AccountRef) -> (String, String) {
    match a {
        AccountRef::Management => (
            p.organization.management.name.clone(),
            "management".to_owned(),
        ),
        AccountRef::Account(i) => (p.account(i).name.clone(), slug(&p.account(i).key)),
    }
}

fn bucket_template(p: &Platform, account_name: &str, path: &str) -> Result<Template, EmitError> {
    let mut t = Template::new(format!(
        "{}: the artifact bucket for templates loaded from S3 (blueprints, product versions, stack set templates). Deploy in {account_name}, home region.",
        p.organization.name
    ));
    let id = LogicalId::new("ArtifactBucket").map_err(|e| bug(path, e))?;
    let j = |v: serde_json::Value| Value::from_json(&v);
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
                ("Version", Value::str("2012-10-17")),
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
            export: Some(Value::str(bucket_export(p))),
            condition: None,
        },
    )
    .map_err(|e| bug(path, e))?;
    Ok(t)
}

/// Adds a bucket stack and an upload step for every account with uploads, and orders the
/// uploads after their bucket and before whatever uses them.
pub fn finish(p: &Platform, ext: &str, out: &mut Emitted) -> Result<(), EmitError> {
    let mut by_account: BTreeMap<AccountRef, Vec<usize>> = BTreeMap::new();
    for (i, s) in out.stacks.iter().enumerate() {
        if s.upload.is_some() {
            by_account.entry(s.account).or_default().push(i);
        }
    }
    let region = p.organization.home_region.clone();
    for (account, uploads) in by_account {
        let (name, label) = account_label(p, account);
        let path = format!("artifacts/bucket-{label}");
        let mut stack = new_stack(p, "artifacts", &path, bucket_template(p, &name, &path)?);
        stack.account = account;
        let upload_paths: Vec<String> = uploads
            .iter()
            .map(|&i| out.stacks[i].path.clone())
            .collect();
        let mut commands = vec![format!(
            "bucket=$(aws cloudformation list-exports --region {region} --query \"Exports[?Name=='{}'].Value\" --output text)",
            bucket_export(p)
        )];
        for &i in &uploads {
            let s = &mut out.stacks[i];
            s.after.push((path.clone(), BUCKET_FIRST));
            if let Some(u) = &s.upload {
                commands.push(format!(
                    "aws s3 cp {}.{ext} \"s3://$bucket/{}\"",
                    s.path, u.key
                ));
            }
        }
        // Whatever waits for an upload waits for this step too.
        let before: Vec<String> = out
            .stacks
            .iter()
            .filter(|s| s.after.iter().any(|(a, _)| upload_paths.contains(a)))
            .map(|s| format!("{}.{ext}", s.path))
            .collect();
        out.steps.push(ManualStep {
            id: format!("upload-templates-{label}"),
            account: name,
            reason: "Templates that Service Catalog or StackSets load from S3: upload each one to this account's artifact bucket, under the key the manifest gives, after the bucket stack and before the stacks that use them.".into(),
            after: vec![format!("{path}.{ext}")],
            commands,
            before,
        });
        out.stacks.push(stack);
    }
    Ok(())
}
