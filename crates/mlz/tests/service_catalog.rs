//! Service Catalog: product versions follow content, persona policies keep their separation,
//! and OU shares reach every account.

mod common;
use common::{actions, fixtures, resources, template, tree};

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use mlz::{compile, Outcome};
use mlz_emit::Options;
use mlz_model::NoFiles;
use serde_json::Value;

use common::action_matches as matches;

#[test]
fn changing_one_product_template_changes_only_its_version() {
    let before = tree(&fixtures().join("product-version-before/expected"));
    let after = tree(&fixtures().join("product-version-after/expected"));
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "same files"
    );
    let changed: BTreeSet<&str> = before
        .keys()
        .filter(|k| before[*k] != after[*k])
        .map(String::as_str)
        .collect();
    assert_eq!(
        changed,
        BTreeSet::from([
            "README.md",
            "manifest.json",
            "products/storage/team-bucket.yaml",
            "service-catalog/portfolio-storage.yaml"
        ])
    );
    // In the portfolio stack only the version of that product changed.
    let (b, a) = (
        String::from_utf8_lossy(&before["service-catalog/portfolio-storage.yaml"]),
        String::from_utf8_lossy(&after["service-catalog/portfolio-storage.yaml"]),
    );
    let differing: Vec<(&str, &str)> = b.lines().zip(a.lines()).filter(|(x, y)| x != y).collect();
    assert_eq!(b.lines().count(), a.lines().count());
    assert!(!differing.is_empty());
    for (x, y) in &differing {
        assert!(x.contains("team-bucket") || x.contains("v-"), "{x}");
        assert!(
            y.contains("v-") && !y.contains("model-package-group"),
            "{y}"
        );
    }
    // The other product of the portfolio keeps its version.
    assert_eq!(
        before["products/storage/model-package-group.yaml"],
        after["products/storage/model-package-group.yaml"]
    );
}

#[test]
fn the_cloud_admin_provisions_without_any_sagemaker_right() {
    let t = template("reference", "service-catalog/cloud-admin-role.yaml");
    let role = &t["Resources"]["CloudAdminRole"]["Properties"];
    let stmts: Vec<&Value> = role["Policies"]
        .as_array()
        .expect("policies")
        .iter()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_array()
                .expect("statements")
        })
        .collect();
    let all: Vec<String> = stmts.iter().flat_map(|s| actions(s)).collect();
    assert!(
        all.iter().any(|a| a == "servicecatalog:ProvisionProduct"),
        "the cloud admin provisions products"
    );
    for a in &all {
        assert!(
            !a.to_ascii_lowercase().starts_with("sagemaker:"),
            "cloud admin has {a}"
        );
        assert!(
            a != "*" && !a.ends_with(":*"),
            "cloud admin has a wildcard action {a}"
        );
    }
    assert!(
        role["ManagedPolicyArns"].is_null(),
        "no managed policies that could carry SageMaker rights"
    );
}

#[test]
fn the_data_scientist_opens_only_their_own_profile() {
    let t = template("reference", "identity-center/permission-sets.yaml");
    let ds = &t["Resources"]["PermissionSetDataScientist"]["Properties"];
    let stmts = ds["InlinePolicy"]["Statement"]
        .as_array()
        .expect("inline policy");
    let presign: Vec<&Value> = stmts
        .iter()
        .filter(|s| {
            actions(s)
                .iter()
                .any(|a| matches(a, "sagemaker:CreatePresignedDomainUrl"))
        })
        .collect();
    assert_eq!(presign.len(), 1, "one statement allows the presigned URL");
    assert_eq!(
        presign[0]["Condition"]["StringEquals"]["sagemaker:ResourceTag/studio-user"],
        Value::String("${aws:PrincipalTag/studio-user}".into()),
        "only for the profile tagged with the caller's own user name"
    );
    for forbidden in [
        "sagemaker:CreateDomain",
        "sagemaker:DeleteDomain",
        "sagemaker:CreateUserProfile",
        "sagemaker:DeleteUserProfile",
    ] {
        for s in stmts.iter().filter(|s| s["Effect"] == "Allow") {
            for a in actions(s) {
                assert!(
                    !matches(&a, forbidden),
                    "the data scientist may {forbidden} through {a}"
                );
            }
        }
    }
    // The tag the condition reads is set: Identity Center passes the user name as studio-user,
    // and the profile product tags each profile with its user's name.
    let abac =
        &t["Resources"]["AccessControlAttributes"]["Properties"]["AccessControlAttributes"][0];
    assert_eq!(abac["Key"], "studio-user");
    assert_eq!(abac["Value"]["Source"][0], "${path:userName}");
    let profile = template("reference", "products/analytics/studio-user-profile.yaml");
    let tags = profile["Resources"]["UserProfile"]["Properties"]["Tags"]
        .as_array()
        .expect("tags");
    assert!(tags
        .iter()
        .any(|t| t["Key"] == "studio-user" && t["Value"]["Ref"] == "UserName"));
}

fn forty(mode: &str, drop_one_id: bool) -> String {
    let mut s = String::from(
        "version: 1\norganization:\n  name: Forty\n  managementAccount: { name: Management, email: root@forty.example.org }\n  \
homeRegion: eu-west-1\n  governedRegions: [eu-west-1]\norganizationalUnits:\n  - name: Platform\n  - name: Teams\n  - name: Squads\n    parent: Teams\naccounts:\n  \
- { name: ML Shared Services, email: ml@forty.example.org, ou: Platform, id: \"100000000000\" }\n",
    );
    for i in 0..40 {
        // Half of them in a nested OU: an OU share reaches nested OUs too.
        let ou = if i % 2 == 0 { "Teams" } else { "Squads" };
        let id = if drop_one_id && i == 17 {
            String::new()
        } else {
            format!(", id: \"{:012}\"", 200_000_000_000u64 + i)
        };
        s.push_str(&format!(
            "  - {{ name: team-{i:02}, email: team-{i:02}@forty.example.org, ou: {ou}{id} }}\n"
        ));
    }
    s.push_str(&format!(
        "serviceCatalog:\n  portfolios:\n    - name: analytics\n      account: ML Shared Services\n      shareWith: {{ ous: [Teams], ouShareMode: {mode} }}\n      products:\n        - name: studio-domain\n"
    ));
    s
}

fn generate(text: &str) -> Result<BTreeMap<String, Vec<u8>>, String> {
    match compile("forty.yaml", text, &NoFiles, Options::default()) {
        Outcome::Generated { output, .. } => Ok(output.files),
        Outcome::Invalid { report } | Outcome::Failed { report } => Err(report),
    }
}

#[test]
fn an_ou_of_forty_accounts_is_shared_with_all_forty() {
    let files = generate(&forty("accounts", false)).expect("valid");
    let text =
        String::from_utf8_lossy(&files["service-catalog/portfolio-analytics.yaml"]).into_owned();
    let t = mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json();
    let ids: BTreeSet<String> = t["Resources"]
        .as_object()
        .expect("resources")
        .values()
        .filter(|r| r["Type"] == "AWS::ServiceCatalog::PortfolioShare")
        .map(|r| {
            r["Properties"]["AccountId"]
                .as_str()
                .expect("literal account id")
                .to_owned()
        })
        .collect();
    let expected: BTreeSet<String> = (0..40)
        .map(|i| format!("{:012}", 200_000_000_000u64 + i))
        .collect();
    assert_eq!(
        ids, expected,
        "one share per account of the OU, nested OU included"
    );

    // The default mode shares the OU itself: one organization-node share reaches all forty.
    let files = generate(&forty("organization", true)).expect("valid without every id");
    let text =
        String::from_utf8_lossy(&files["service-catalog/portfolio-analytics.yaml"]).into_owned();
    assert_eq!(
        text.matches("Type: Custom::OrganizationPortfolioShare")
            .count(),
        1
    );
    assert_eq!(
        text.matches("Type: AWS::ServiceCatalog::PortfolioShare")
            .count(),
        0
    );

    // Per-account shares cannot be complete without every id: the error names the account.
    let report = generate(&forty("accounts", true)).expect_err("an account without id");
    assert!(
        report.contains("error[share-needs-account-ids]") && report.contains("team-17"),
        "{report}"
    );
}

/// Every product template of the reference output, by path.
fn products() -> Vec<(String, Value)> {
    let dir = fixtures().join("reference/expected");
    let mut out: Vec<(String, Value)> = tree(&dir.join("products"))
        .into_keys()
        .filter(|k| k.ends_with(".yaml"))
        .map(|k| {
            let path = format!("products/{k}");
            let t = template("reference", &path);
            (path, t)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The body of an `Fn::Sub`, its `${…}` replaced by 0 (valid in and out of JSON strings).
fn substituted(sub: &Value) -> String {
    let body = match sub {
        Value::String(s) => s.clone(),
        Value::Array(a) => a[0].as_str().expect("sub body").to_owned(),
        other => panic!("not a Sub body: {other}"),
    };
    let mut out = String::new();
    let mut rest = body.as_str();
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}').expect("closed ${") + i;
        out.push('0');
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Instance families with local NVMe storage, which take no KMS key for their volumes
/// (CreateEndpointConfig, CreateTrainingJob and CreateTransformJob: "You can't request a
/// KmsKeyId when using an instance type with local storage").
fn local_storage(instance: &str) -> bool {
    let family = instance
        .trim_start_matches("ml.")
        .split('.')
        .next()
        .unwrap_or("");
    [
        "g4dn", "g5", "g6", "p3dn", "p4d", "p4de", "p5", "inf2", "trn1",
    ]
    .contains(&family)
        || (family.len() > 2 && family.ends_with('d'))
}

#[test]
fn every_product_is_encrypted_private_and_without_wildcard_admin() {
    let products = products();
    assert!(products.len() >= 8, "{} products", products.len());
    for (path, t) in &products {
        // Buckets: a customer key, no public access, TLS only.
        for (id, b) in resources(t, "AWS::S3::Bucket") {
            let p = &b["Properties"];
            let sse = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
                ["ServerSideEncryptionByDefault"];
            assert_eq!(sse["SSEAlgorithm"], "aws:kms", "{path} {id}");
            assert!(!sse["KMSMasterKeyID"].is_null(), "{path} {id}");
            let pab = &p["PublicAccessBlockConfiguration"];
            for k in [
                "BlockPublicAcls",
                "BlockPublicPolicy",
                "IgnorePublicAcls",
                "RestrictPublicBuckets",
            ] {
                assert_eq!(pab[k], true, "{path} {id} {k}");
            }
            let tls = resources(t, "AWS::S3::BucketPolicy")
                .into_iter()
                .any(|(_, bp)| {
                    bp["Properties"]["Bucket"]["Ref"] == id.as_str()
                    && bp["Properties"]["PolicyDocument"].to_string().contains(
                        r#""Condition":{"Bool":{"aws:SecureTransport":"false"}},"Effect":"Deny""#,
                    )
                });
            assert!(tls, "{path} {id}: no TLS-only bucket policy");
        }
        for (id, k) in resources(t, "AWS::KMS::Key") {
            assert_eq!(k["Properties"]["EnableKeyRotation"], true, "{path} {id}");
        }
        // Roles: no wildcard action, no admin policy.
        for (id, r) in resources(t, "AWS::IAM::Role") {
            let p = &r["Properties"];
            assert!(
                !p["ManagedPolicyArns"]
                    .to_string()
                    .contains("AdministratorAccess"),
                "{path} {id}"
            );
            for pol in p["Policies"].as_array().into_iter().flatten() {
                for s in pol["PolicyDocument"]["Statement"]
                    .as_array()
                    .expect("statements")
                {
                    for a in actions(s) {
                        assert!(a != "*" && !a.ends_with(":*"), "{path} {id}: {a}");
                    }
                }
            }
        }
        // Models and endpoints: in the VPC; a key only where the instance types allow one.
        for (id, m) in resources(t, "AWS::SageMaker::Model") {
            assert!(!m["Properties"]["VpcConfig"].is_null(), "{path} {id}");
        }
        for (id, c) in resources(t, "AWS::SageMaker::EndpointConfig") {
            assert!(!c["Properties"]["KmsKeyId"].is_null(), "{path} {id}");
            let ty = &c["Properties"]["ProductionVariants"][0]["InstanceType"]["Ref"];
            let allowed =
                &t["Parameters"][ty.as_str().expect("instance parameter")]["AllowedValues"];
            for i in allowed.as_array().expect("allowed instance types") {
                let i = i.as_str().expect("type");
                assert!(!local_storage(i), "{path}: {i} cannot take KmsKeyId");
            }
        }
        // Redshift: private, encrypted, the password in Secrets Manager.
        for (id, n) in resources(t, "AWS::RedshiftServerless::Namespace") {
            assert_eq!(n["Properties"]["ManageAdminPassword"], true, "{path} {id}");
            assert!(!n["Properties"]["KmsKeyId"].is_null(), "{path} {id}");
            assert!(
                n["Properties"]["AdminUserPassword"].is_null(),
                "{path} {id}"
            );
        }
        for (id, w) in resources(t, "AWS::RedshiftServerless::Workgroup") {
            let p = &w["Properties"];
            assert_eq!(p["PubliclyAccessible"], false, "{path} {id}");
            assert_eq!(p["EnhancedVpcRouting"], true, "{path} {id}");
            // Three subnets in three Availability Zones, as Redshift Serverless requires.
            assert_eq!(
                p["SubnetIds"].as_array().map(Vec::len),
                Some(3),
                "{path} {id}"
            );
        }
        // Pipelines: valid JSON; every job in the VPC, isolated, its output and volumes
        // encrypted; container arguments within the API's 256 characters.
        for (id, pl) in resources(t, "AWS::SageMaker::Pipeline") {
            let body = substituted(
                &pl["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"],
            );
            let def: Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("{path} {id}: not JSON: {e}\n{body}"));
            assert_eq!(def["Version"], "2020-12-01", "{path} {id}");
            let mut steps: Vec<&Value> = def["Steps"].as_array().expect("steps").iter().collect();
            let mut i = 0;
            while i < steps.len() {
                let s = steps[i];
                for branch in ["IfSteps", "ElseSteps"] {
                    steps.extend(s["Arguments"][branch].as_array().into_iter().flatten());
                }
                i += 1;
            }
            for s in steps {
                let a = &s["Arguments"];
                let name = &s["Name"];
                match s["Type"].as_str().expect("type") {
                    "Training" => {
                        assert_eq!(a["EnableNetworkIsolation"], true, "{path} {name}");
                        assert!(!a["VpcConfig"]["Subnets"].is_null(), "{path} {name}");
                        assert!(
                            !a["OutputDataConfig"]["KmsKeyId"].is_null(),
                            "{path} {name}"
                        );
                        assert!(
                            !a["ResourceConfig"]["VolumeKmsKeyId"].is_null(),
                            "{path} {name}"
                        );
                    }
                    "Processing" => {
                        let n = &a["NetworkConfig"];
                        assert_eq!(n["EnableNetworkIsolation"], true, "{path} {name}");
                        assert!(!n["VpcConfig"]["Subnets"].is_null(), "{path} {name}");
                        assert!(
                            !a["ProcessingOutputConfig"]["KmsKeyId"].is_null(),
                            "{path} {name}"
                        );
                        let app = &a["AppSpecification"];
                        for k in ["ContainerEntrypoint", "ContainerArguments"] {
                            for arg in app[k].as_array().into_iter().flatten() {
                                let arg = arg.as_str().expect("argument");
                                assert!(
                                    arg.len() <= 256,
                                    "{path} {name}: {k} entry of {}",
                                    arg.len()
                                );
                            }
                        }
                    }
                    "Transform" => {
                        assert!(!a["TransformOutput"]["KmsKeyId"].is_null(), "{path} {name}");
                        assert!(
                            !a["TransformResources"]["VolumeKmsKeyId"].is_null(),
                            "{path} {name}"
                        );
                    }
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn model_products_are_project_templates_studio_lists() {
    // SageMaker developer guide, "Create custom project templates": the product carries the
    // tag sagemaker:studio-visibility=true, its template declares SageMakerProjectName and
    // SageMakerProjectId, and the portfolio is associated with the Studio execution role.
    for pf in ["model-building", "model-deployment"] {
        let t = template("reference", &format!("service-catalog/portfolio-{pf}.yaml"));
        let principals: Vec<&str> =
            resources(&t, "AWS::ServiceCatalog::PortfolioPrincipalAssociation")
                .filter_map(|(_, r)| r["Properties"]["PrincipalARN"]["Fn::Sub"].as_str())
                .collect();
        assert!(
            principals.contains(&"arn:${AWS::Partition}:iam:::role/mlz-sagemaker-*-studio"),
            "{pf}: {principals:?}"
        );
        let products: Vec<_> =
            resources(&t, "AWS::ServiceCatalog::CloudFormationProduct").collect();
        assert!(products.len() >= 2, "{pf}");
        for (id, prod) in products {
            let name = prod["Properties"]["Name"].as_str().expect("name");
            let tmpl = template("reference", &format!("products/{pf}/{name}.yaml"));
            for param in ["SageMakerProjectName", "SageMakerProjectId"] {
                assert!(!tmpl["Parameters"][param].is_null(), "{pf}/{name}: {param}");
            }
            assert!(
                prod["Properties"]["Tags"]
                    .as_array()
                    .expect("tags")
                    .iter()
                    .any(|t| t["Key"] == "sagemaker:studio-visibility" && t["Value"] == "true"),
                "{pf} {id}"
            );
        }
    }
    // A portfolio with no project template is not opened to the Studio roles.
    let analytics = template("reference", "service-catalog/portfolio-analytics.yaml");
    assert!(!analytics.to_string().contains("mlz-sagemaker-*-studio"));
    assert!(!analytics
        .to_string()
        .contains("sagemaker:studio-visibility"));
    // The Studio execution role may create projects and launch the products they use.
    let studio = template("reference", "products/analytics/studio-domain.yaml");
    let role = studio["Resources"]["ExecutionRole"]["Properties"]["Policies"].to_string();
    for a in [
        "sagemaker:CreateProject",
        "servicecatalog:ProvisionProduct",
        "servicecatalog:SearchProducts",
    ] {
        assert!(role.contains(a), "{a}");
    }
}

#[test]
fn a_tag_option_is_made_once_per_account() {
    // CreateTagOption refuses a key and value the account already has: each account's
    // TagOptions are made once, in a stack of their own, and every portfolio imports them.
    let dir = fixtures().join("reference/expected");
    let manifest: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("manifest.json")).expect("manifest"))
            .expect("json");
    let mut made: BTreeMap<(String, String, String), String> = BTreeMap::new();
    let mut associations = 0;
    for entry in manifest["templates"].as_array().expect("templates") {
        let path = entry["path"].as_str().expect("path");
        if !path.starts_with("service-catalog/") || !path.ends_with(".yaml") {
            continue;
        }
        let account = entry["account"]["name"]
            .as_str()
            .expect("account")
            .to_owned();
        let t = template("reference", path);
        for (_, r) in resources(&t, "AWS::ServiceCatalog::TagOption") {
            assert!(path.starts_with("service-catalog/tag-options-"), "{path}");
            let p = &r["Properties"];
            let key = (
                account.clone(),
                p["Key"].as_str().expect("key").to_owned(),
                p["Value"].as_str().expect("value").to_owned(),
            );
            if let Some(first) = made.insert(key.clone(), path.to_owned()) {
                panic!("{key:?} made by {first} and {path}");
            }
        }
        for (id, a) in resources(&t, "AWS::ServiceCatalog::TagOptionAssociation") {
            associations += 1;
            let import = a["Properties"]["TagOptionId"]["Fn::ImportValue"]
                .as_str()
                .unwrap_or_else(|| panic!("{path} {id}: not an import"));
            assert!(import.contains("-ServiceCatalog-TagOption"), "{path} {id}");
        }
    }
    // The three portfolios of ML Shared Services share cost-centre cc-1001 and cc-1002.
    assert!(made.len() >= 4, "{made:?}");
    assert!(associations > made.len(), "{associations}");
}

/// The longest value `Fn::Sub` body `body` can take in `t`: each `${Param}` at its
/// `MaxLength` (or its longest allowed value), the account id at 12 and the region at the
/// longest region name; a parameter with neither has no bound (`None`).
fn longest(t: &Value, body: &str) -> Result<usize, String> {
    let mut len = 0;
    let mut rest = body;
    while let Some(i) = rest.find("${") {
        len += i;
        let end = rest[i..].find('}').ok_or("unclosed ${")? + i;
        let name = &rest[i + 2..end];
        len += match name {
            "AWS::AccountId" => 12,
            "AWS::Region" => "ap-southeast-2".len(),
            "AWS::Partition" => "aws-us-gov".len(),
            other => {
                let p = &t["Parameters"][other];
                if let Some(n) = p["MaxLength"].as_u64() {
                    n as usize
                } else if let Some(vs) = p["AllowedValues"].as_array() {
                    vs.iter()
                        .filter_map(Value::as_str)
                        .map(str::len)
                        .max()
                        .unwrap_or(0)
                } else {
                    return Err(format!("parameter {other} has no MaxLength"));
                }
            }
        };
        rest = &rest[end + 1..];
    }
    Ok(len + rest.len())
}

#[test]
fn no_product_name_can_exceed_its_limit() {
    // IAM role names are at most 64 characters; bucket names at most 63, lower case (IAM user
    // guide, "IAM and AWS STS quotas"; S3 user guide, "Bucket naming rules"). Every name a
    // product builds from its parameters stays within them for the longest values the
    // parameters allow.
    let mut checked = 0;
    for (path, t) in products() {
        for (kind, key, limit) in [
            ("AWS::IAM::Role", "RoleName", 64),
            ("AWS::S3::Bucket", "BucketName", 63),
        ] {
            for (id, r) in resources(&t, kind) {
                let name = &r["Properties"][key];
                let body = match name {
                    Value::Object(o) => o["Fn::Sub"].as_str().expect("a Sub name").to_owned(),
                    Value::String(s) => s.clone(),
                    _ => continue,
                };
                let n = longest(&t, &body).unwrap_or_else(|e| panic!("{path} {id}: {e}"));
                assert!(
                    n <= limit,
                    "{path} {id}: {key} can be {n} characters (limit {limit})"
                );
                if kind == "AWS::S3::Bucket" {
                    // Lower case: every parameter in it allows lower case only.
                    for part in body.split("${").skip(1) {
                        let param = part.split('}').next().unwrap_or("");
                        if let Some(pat) = t["Parameters"][param]["AllowedPattern"].as_str() {
                            assert!(
                                !pat.contains("A-Z"),
                                "{path} {id}: {param} allows upper case"
                            );
                        }
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 14, "{checked} names checked");
}

/// When a handler action the schemas list is needed: only with one of these properties set
/// (or, for `Equals`, with that property at that value). Every other listed action is needed
/// always. Each entry is a property no built-in product sets today; the test fails when one
/// starts to, so its actions join the launch role.
enum When {
    Set(&'static [&'static str]),
    Equals(&'static str, &'static str),
}

/// Handler actions only some properties call for, per resource type (from each type's user
/// guide page: the API the property maps to).
const ONLY_WITH: &[(&str, &[&str], When)] = &[
    (
        "AWS::ApplicationAutoScaling::ScalableTarget",
        &[
            "lambda:GetProvisionedConcurrencyConfig",
            "lambda:PutProvisionedConcurrencyConfig",
            "lambda:DeleteProvisionedConcurrencyConfig",
        ],
        When::Equals("ServiceNamespace", "lambda"),
    ),
    (
        "AWS::ApplicationAutoScaling::ScalableTarget",
        &[
            "application-autoscaling:PutScheduledAction",
            "application-autoscaling:DeleteScheduledAction",
        ],
        When::Set(&["ScheduledActions"]),
    ),
    (
        "AWS::ApplicationAutoScaling::ScalableTarget",
        &["iam:PassRole"],
        When::Set(&["RoleARN"]),
    ),
    (
        "AWS::IAM::Role",
        &["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
        When::Set(&["ManagedPolicyArns"]),
    ),
    (
        "AWS::IAM::Role",
        &[
            "iam:PutRolePermissionsBoundary",
            "iam:DeleteRolePermissionsBoundary",
        ],
        When::Set(&["PermissionsBoundary"]),
    ),
    (
        "AWS::RedshiftServerless::Namespace",
        &[
            "redshift-serverless:CreateSnapshotCopyConfiguration",
            "redshift-serverless:UpdateSnapshotCopyConfiguration",
            "redshift-serverless:DeleteSnapshotCopyConfiguration",
        ],
        When::Set(&["SnapshotCopyConfigurations"]),
    ),
    (
        "AWS::RedshiftServerless::Workgroup",
        &[
            "redshift-serverless:RestoreFromSnapshot",
            "redshift-serverless:RestoreFromRecoveryPoint",
        ],
        When::Set(&["SnapshotArn", "SnapshotName", "RecoveryPointId"]),
    ),
    (
        "AWS::SageMaker::Pipeline",
        &["s3:GetObject"],
        When::Set(&["PipelineDefinition.PipelineDefinitionS3Location"]),
    ),
    (
        "AWS::S3::Bucket",
        &[
            "s3:CreateBucketMetadataTableConfiguration",
            "s3:DeleteBucketMetadataTableConfiguration",
            "s3:UpdateBucketMetadataJournalTableConfiguration",
            "s3:UpdateBucketMetadataInventoryTableConfiguration",
            "s3:UpdateBucketMetadataAnnotationTableConfiguration",
            "s3tables:CreateNamespace",
            "s3tables:CreateTable",
            "s3tables:CreateTableBucket",
            "s3tables:GetTable",
            "s3tables:PutTableBucketPolicy",
            "s3tables:PutTableEncryption",
            "s3tables:PutTablePolicy",
            "s3tables:GetTableMetadataLocation",
            "s3tables:UpdateTableMetadataLocation",
        ],
        When::Set(&["MetadataConfiguration", "MetadataTableConfiguration"]),
    ),
    (
        "AWS::S3::Bucket",
        &["s3:PutBucketAbac"],
        When::Set(&["AbacStatus"]),
    ),
    (
        "AWS::S3::Bucket",
        &["s3:PutAccelerateConfiguration"],
        When::Set(&["AccelerateConfiguration"]),
    ),
    (
        "AWS::S3::Bucket",
        &["s3:PutBucketAcl", "s3:PutObjectAcl"],
        When::Set(&["AccessControl"]),
    ),
    (
        "AWS::S3::Bucket",
        &[
            "s3:PutAnalyticsConfiguration",
            "s3:DeleteBucketAnalyticsConfiguration",
        ],
        When::Set(&["AnalyticsConfigurations"]),
    ),
    (
        "AWS::S3::Bucket",
        &["s3:PutBucketCORS", "s3:DeleteBucketCors"],
        When::Set(&["CorsConfiguration"]),
    ),
    (
        "AWS::S3::Bucket",
        &["s3:PutIntelligentTieringConfiguration"],
        When::Set(&["IntelligentTieringConfigurations"]),
    ),
    (
        "AWS::S3::Bucket",
        &["s3:PutInventoryConfiguration"],
        When::Set(&["InventoryConfigurations"]),
    ),
    (
        "AWS::S3::Bucket",
        &["s3:PutBucketLogging"],
        When::Set(&["LoggingConfiguration"]),
    ),
    (
        "AWS::S3::Bucket",
        &[
            "s3:PutMetricsConfiguration",
            "s3:DeleteBucketMetricsConfiguration",
        ],
        When::Set(&["MetricsConfigurations"]),
    ),
    (
        "AWS::S3::Bucket",
        &["s3:PutBucketNotification"],
        When::Set(&["NotificationConfiguration"]),
    ),
    (
        "AWS::S3::Bucket",
        &[
            "s3:PutBucketObjectLockConfiguration",
            "s3:PutObjectLockConfiguration",
        ],
        When::Set(&["ObjectLockConfiguration", "ObjectLockEnabled"]),
    ),
    (
        "AWS::S3::Bucket",
        &[
            "s3:PutBucketReplication",
            "s3:PutReplicationConfiguration",
            "s3:DeleteBucketReplication",
            "iam:PassRole",
        ],
        When::Set(&["ReplicationConfiguration"]),
    ),
    (
        "AWS::S3::Bucket",
        &["s3:PutBucketWebsite", "s3:DeleteBucketWebsite"],
        When::Set(&["WebsiteConfiguration"]),
    ),
];

/// The IAM action that authorizes a name a schema lists but IAM does not know (the table's
/// `notIamActions`). The SageMaker Domain schema lists `efs:` actions, and EFS's IAM service
/// prefix is `elasticfilesystem` (Service Authorization Reference, "Actions, resources, and
/// condition keys for Amazon Elastic File System"). The S3 Bucket schema lists API operations
/// that IAM authorizes as another action (each operation's "Permissions" in the Amazon S3 API
/// Reference: DeleteBucketLifecycle needs s3:PutLifecycleConfiguration, and so on).
const IAM_NAME: &[(&str, &str)] = &[
    ("efs:CreateFileSystem", "elasticfilesystem:CreateFileSystem"),
    ("efs:DeleteFileSystem", "elasticfilesystem:DeleteFileSystem"),
    (
        "efs:DeleteMountTarget",
        "elasticfilesystem:DeleteMountTarget",
    ),
    (
        "efs:DescribeMountTargets",
        "elasticfilesystem:DescribeMountTargets",
    ),
    (
        "s3:DeleteBucketAnalyticsConfiguration",
        "s3:PutAnalyticsConfiguration",
    ),
    ("s3:DeleteBucketCors", "s3:PutBucketCORS"),
    ("s3:DeleteBucketEncryption", "s3:PutEncryptionConfiguration"),
    ("s3:DeleteBucketLifecycle", "s3:PutLifecycleConfiguration"),
    (
        "s3:DeleteBucketMetricsConfiguration",
        "s3:PutMetricsConfiguration",
    ),
    (
        "s3:DeleteBucketReplication",
        "s3:PutReplicationConfiguration",
    ),
    ("s3:PutBucketReplication", "s3:PutReplicationConfiguration"),
    (
        "s3:PutObjectLockConfiguration",
        "s3:PutBucketObjectLockConfiguration",
    ),
];

fn iam_action(schema_action: &str, not_iam: &BTreeSet<&str>) -> String {
    if !not_iam.contains(schema_action) {
        return schema_action.to_owned();
    }
    IAM_NAME
        .iter()
        .find(|(name, _)| *name == schema_action)
        .map(|(_, iam)| (*iam).to_owned())
        .unwrap_or_else(|| {
            panic!("{schema_action} is not an IAM action: add the action that authorizes it to IAM_NAME, with its source")
        })
}

fn property<'a>(props: &'a Value, dotted: &str) -> &'a Value {
    dotted.split('.').fold(props, |v, k| &v[k])
}

/// Condition keys an allow may carry and still count as covering the products' calls: the
/// launch-role test checks what each of them admits.
const COVERING_CONDITIONS: &[&str] = &["iam:PassedToService", "iam:AWSServiceName"];

#[test]
fn every_launch_role_covers_its_products_handlers() {
    let table: Value = serde_json::from_str(include_str!("../data/handler-permissions.json"))
        .expect("handler-permissions.json");
    let table = &table["types"];
    // Every exclusion names actions the schemas list for its type, so a schema change that
    // renames one is noticed here.
    for (ty, list, _) in ONLY_WITH {
        let listed: BTreeSet<&str> = ["create", "read", "update", "delete"]
            .iter()
            .flat_map(|h| table[ty][h].as_array().expect("handler list"))
            .filter_map(Value::as_str)
            .collect();
        for a in *list {
            assert!(
                listed.contains(a),
                "{ty}: {a} is no longer in the schema: drop it"
            );
        }
    }
    // What the products' resources need, from the schemas, with where each need comes from.
    let mut needed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut trusted: BTreeSet<String> = BTreeSet::new();
    let mut seen_types = 0;
    for (path, t) in products() {
        for (id, r) in t["Resources"].as_object().expect("resources") {
            let ty = r["Type"].as_str().expect("type");
            let handlers = &table[ty];
            assert!(
                handlers.is_object(),
                "{path} {id}: {ty} is not in crates/mlz/data/handler-permissions.json: run scripts/create-only"
            );
            seen_types += 1;
            let props = &r["Properties"];
            let not_iam: BTreeSet<&str> = handlers["notIamActions"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for h in ["create", "read", "update", "delete"] {
                for a in handlers[h].as_array().expect("handler list") {
                    let a = a.as_str().expect("action");
                    let only = ONLY_WITH
                        .iter()
                        .find(|(t2, list, _)| *t2 == ty && list.contains(&a));
                    let applies = match only {
                        None => true,
                        Some((_, _, When::Set(names))) => {
                            names.iter().any(|n| !property(props, n).is_null())
                        }
                        Some((_, _, When::Equals(name, value))) => props[*name] == *value,
                    };
                    if applies {
                        needed
                            .entry(iam_action(a, &not_iam))
                            .or_default()
                            .insert(format!("{path} {id} ({ty} {h})"));
                    }
                }
            }
            if ty == "AWS::IAM::Role" {
                let name = match &props["RoleName"] {
                    Value::String(s) => s.clone(),
                    other => substituted(&other["Fn::Sub"]),
                };
                assert!(
                    name.starts_with(mlz_model::products::ROLE_PREFIX),
                    "{path} {id}: role {name} is outside the launch role's reach"
                );
                for st in props["AssumeRolePolicyDocument"]["Statement"]
                    .as_array()
                    .expect("trust")
                {
                    match &st["Principal"]["Service"] {
                        Value::String(s) => {
                            trusted.insert(s.clone());
                        }
                        Value::Array(a) => {
                            trusted.extend(a.iter().filter_map(Value::as_str).map(str::to_owned))
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    assert!(seen_types > 40, "{seen_types} product resources");
    // Known failures this guards: the model package group's create ends with
    // GetModelPackageGroupPolicy, and the endpoint's autoscaling needs the alarm actions.
    for a in [
        "sagemaker:GetModelPackageGroupPolicy",
        "cloudwatch:PutMetricAlarm",
        "elasticfilesystem:CreateFileSystem",
    ] {
        assert!(needed.contains_key(a), "{a} is no longer needed?");
    }

    let roles: Vec<String> = tree(&fixtures().join("reference/expected/service-catalog"))
        .into_keys()
        .filter(|k| k.starts_with("launch-role-") && k.ends_with(".yaml"))
        .collect();
    assert!(roles.len() >= 3, "{roles:?}");
    for file in &roles {
        let t = template("reference", &format!("service-catalog/{file}"));
        let (_, role) = resources(&t, "AWS::IAM::Role")
            .next()
            .expect("the launch role");
        let statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .expect("statements");
        for st in statements {
            assert_eq!(st["Effect"], "Allow", "{file}: {st}");
            for a in actions(st) {
                assert!(
                    a != "*" && !a.ends_with(":*"),
                    "{file} {}: {a} is a whole service",
                    st["Sid"]
                );
                // Key use is never on every key: only CreateKey (which names none) is.
                if a.starts_with("kms:") && a != "kms:CreateKey" {
                    assert_ne!(
                        st["Resource"], "*",
                        "{file} {}: {a} on every key",
                        st["Sid"]
                    );
                }
                if a == "iam:PassRole" {
                    let to: BTreeSet<String> = st["Condition"]["StringEquals"]
                        ["iam:PassedToService"]
                        .as_array()
                        .expect("PassRole is limited by iam:PassedToService")
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect();
                    assert_eq!(
                        to, trusted,
                        "{file}: PassRole goes to exactly the services the products' roles trust"
                    );
                    assert_eq!(
                        st["Resource"]["Fn::Sub"],
                        format!(
                            "arn:${{AWS::Partition}}:iam::*:role/{}*",
                            mlz_model::products::ROLE_PREFIX
                        ),
                        "{file}: PassRole on platform roles only"
                    );
                }
            }
        }
        let covering: Vec<&Value> = statements
            .iter()
            .filter(|st| {
                st["Condition"].as_object().is_none_or(|ops| {
                    ops.values().all(|m| {
                        m.as_object()
                            .expect("keys")
                            .keys()
                            .all(|k| COVERING_CONDITIONS.contains(&k.as_str()))
                    })
                })
            })
            .collect();
        let missing: Vec<String> = needed
            .iter()
            .filter(|(a, _)| {
                !covering
                    .iter()
                    .any(|st| actions(st).iter().any(|p| matches(p, a)))
            })
            .map(|(a, from)| format!("{a} (for {})", from.iter().next().expect("a source")))
            .collect();
        assert!(
            missing.is_empty(),
            "{file} lacks what its products' handlers need:\n  {}",
            missing.join("\n  ")
        );
    }
}

/// A CloudFormation rule assertion, evaluated with parameter values as strings (as rules see
/// them, Number parameters included).
fn assert_holds(v: &Value, params: &BTreeMap<&str, String>) -> Value {
    let o = match v {
        Value::Object(o) => o,
        other => return other.clone(),
    };
    let (f, args) = o.iter().next().expect("a function");
    let arg = |i: usize| assert_holds(&args[i], params);
    match f.as_str() {
        "Ref" => Value::String(params[args.as_str().expect("name")].clone()),
        "Fn::Not" => Value::Bool(arg(0) != Value::Bool(true)),
        "Fn::Or" => Value::Bool(
            (0..args.as_array().expect("or").len()).any(|i| arg(i) == Value::Bool(true)),
        ),
        "Fn::And" => Value::Bool(
            (0..args.as_array().expect("and").len()).all(|i| arg(i) == Value::Bool(true)),
        ),
        "Fn::Equals" => Value::Bool(arg(0) == arg(1)),
        "Fn::Contains" => Value::Bool(arg(0).as_array().expect("list").contains(&arg(1))),
        other => panic!("rule function {other} is not evaluated here"),
    }
}

/// Every product with MinInstances and MaxInstances refuses, through its rules, exactly the
/// pairs where Max is below Min, for every value the parameters allow.
#[test]
fn autoscaling_bounds_refuse_max_below_min() {
    let mut seen = 0;
    for (path, t) in products() {
        let (Some(min), Some(max)) = (
            t["Parameters"].get("MinInstances"),
            t["Parameters"].get("MaxInstances"),
        ) else {
            continue;
        };
        // Whole numbers only (AllowedValues), so the rules' text comparison is exact.
        let range = |p: &Value| -> Vec<u64> {
            p["AllowedValues"]
                .as_array()
                .expect("AllowedValues")
                .iter()
                .map(|v| v.as_str().expect("text").parse().expect("a whole number"))
                .collect()
        };
        let rules: Vec<&Value> = t["Rules"]
            .as_object()
            .expect("rules")
            .values()
            .filter(|r| r["Assertions"].to_string().contains("MaxInstances"))
            .flat_map(|r| r["Assertions"].as_array().expect("assertions"))
            .map(|a| &a["Assert"])
            .collect();
        assert!(
            !rules.is_empty(),
            "{path}: nothing checks MinInstances <= MaxInstances"
        );
        for lo in range(min) {
            for &hi in &range(max) {
                let params: BTreeMap<&str, String> = [
                    ("MinInstances", lo.to_string()),
                    ("MaxInstances", hi.to_string()),
                ]
                .into();
                let ok = rules
                    .iter()
                    .all(|a| assert_holds(a, &params) == Value::Bool(true));
                assert_eq!(ok, lo <= hi, "{path}: MinInstances {lo}, MaxInstances {hi}");
            }
        }
        seen += 1;
    }
    assert_eq!(seen, 2, "the real-time and multi-model endpoints");
}

/// Only the Studio execution roles match the portfolios' Studio principal pattern
/// (`mlz-sagemaker-*-studio`): every other product role's name ends in a fixed suffix that is
/// not `-studio`, so no parameter value (an endpoint named `…studio`, say) lets a model role
/// take the Studio role's name or its portfolio access.
#[test]
fn no_product_role_can_pass_for_a_studio_role() {
    let mut seen = 0;
    for (path, t) in products() {
        for (id, r) in resources(&t, "AWS::IAM::Role") {
            let name = match &r["Properties"]["RoleName"] {
                Value::String(s) => s.clone(),
                other => other["Fn::Sub"].as_str().expect("a Sub name").to_owned(),
            };
            let suffix = name.rsplit('}').next().unwrap_or(&name);
            let studio = path.ends_with("/studio-domain.yaml") && id == "ExecutionRole";
            if studio {
                assert_eq!(suffix, "-studio", "{path} {id}");
            } else {
                assert!(
                    suffix.len() > 1 && suffix.starts_with('-') && !suffix.ends_with("studio"),
                    "{path} {id}: {name} can end as any parameter value, or as -studio"
                );
            }
            seen += 1;
        }
    }
    assert!(seen >= 9, "{seen} roles");
}

/// No pipeline role approves a model: registering is the pipeline's, approving a person's
/// (sagemaker:ModelApprovalStatus on CreateModelPackage and UpdateModelPackage).
#[test]
fn pipelines_register_models_but_never_approve_them() {
    let mut seen = 0;
    for (path, t) in products() {
        for (id, r) in resources(&t, "AWS::IAM::Role") {
            let statements = common::identity_statements(r);
            let registers = statements.iter().any(|s| {
                s["Effect"] == "Allow"
                    && actions(s)
                        .iter()
                        .any(|a| a == "sagemaker:CreateModelPackage")
            });
            if !registers {
                continue;
            }
            let denies = statements.iter().any(|s| {
                s["Effect"] == "Deny"
                    && actions(s)
                        .iter()
                        .any(|a| a == "sagemaker:CreateModelPackage")
                    && actions(s)
                        .iter()
                        .any(|a| a == "sagemaker:UpdateModelPackage")
                    && s["Condition"]["StringEquals"]["sagemaker:ModelApprovalStatus"] == "Approved"
            });
            assert!(denies, "{path} {id} registers models and may approve them");
            seen += 1;
        }
    }
    assert!(seen >= 2, "{seen} registering roles");
}
