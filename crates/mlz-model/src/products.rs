//! The built-in Service Catalog product templates (`products/`, embedded). They are read
//! and checked exactly like blueprints (see `blueprints::load`).

const BUILTIN: &[(&str, &str)] = &[
    (
        "studio-domain",
        include_str!("../products/studio-domain.yaml"),
    ),
    (
        "studio-user-profile",
        include_str!("../products/studio-user-profile.yaml"),
    ),
    (
        "model-package-group",
        include_str!("../products/model-package-group.yaml"),
    ),
    (
        "realtime-endpoint",
        include_str!("../products/realtime-endpoint.yaml"),
    ),
    (
        "mlops-pipeline",
        include_str!("../products/mlops-pipeline.yaml"),
    ),
    (
        "batch-transform",
        include_str!("../products/batch-transform.yaml"),
    ),
    (
        "multi-model-endpoint",
        include_str!("../products/multi-model-endpoint.yaml"),
    ),
    (
        "redshift-serverless",
        include_str!("../products/redshift-serverless.yaml"),
    ),
];

pub const BUILTIN_NAMES: &[&str] = &[
    "studio-domain",
    "studio-user-profile",
    "model-package-group",
    "realtime-endpoint",
    "mlops-pipeline",
    "batch-transform",
    "multi-model-endpoint",
    "redshift-serverless",
];

/// Every IAM role a built-in product creates is named with this prefix (`RoleName` in
/// `products/*.yaml`): the launch role may create and pass these only, and people may pass
/// them to SageMaker. Tested against the templates.
pub const ROLE_PREFIX: &str = "mlz-sagemaker-";
/// The suffix of the Studio execution roles (`mlz-sagemaker-<team>-studio`): the one role a
/// data scientist may pass.
pub const STUDIO_ROLE_SUFFIX: &str = "-studio";
/// Every bucket a built-in product creates has one of these in its name (`BucketName`): the
/// launch role's S3 rights are limited to them. Tested against the templates.
pub const BUCKET_MARKS: &[&str] = &[
    "-artefacts-",
    "-capture-",
    "-pipeline-",
    "-batch-",
    "-models-",
];

pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_load_without_errors_or_warnings() {
        for name in BUILTIN_NAMES {
            let (t, warnings) = crate::blueprints::load(
                &format!("products/{name}.yaml"),
                builtin(name).unwrap(),
                false,
            )
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert!(warnings.is_empty(), "{name}: {warnings:?}");
            assert!(!t.resources.is_empty());
        }
    }

    /// The names the emitters' policies match (ROLE_PREFIX, BUCKET_MARKS) are the names the
    /// templates give.
    #[test]
    fn product_roles_and_buckets_are_named_as_the_policies_expect() {
        for name in BUILTIN_NAMES {
            let text = builtin(name).unwrap();
            for line in text.lines().map(str::trim) {
                if let Some(v) = line.strip_prefix("RoleName:") {
                    let v = v.trim().trim_start_matches("!Sub ").trim_matches('"');
                    assert!(v.starts_with(ROLE_PREFIX), "{name}: role {v}");
                    if *name == "studio-domain" {
                        assert!(v.ends_with(STUDIO_ROLE_SUFFIX), "{name}: role {v}");
                    }
                }
                if let Some(v) = line.strip_prefix("BucketName:") {
                    assert!(
                        BUCKET_MARKS.iter().any(|m| v.contains(m)),
                        "{name}: bucket {v}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_studio_domain_is_vpc_only_and_encrypted() {
        let (t, _) =
            crate::blueprints::load("d", builtin("studio-domain").unwrap(), false).unwrap();
        let domain = t
            .resources
            .values()
            .find(|r| r.resource_type == "AWS::SageMaker::Domain")
            .unwrap();
        assert_eq!(
            domain.properties.get("AppNetworkAccessType"),
            Some(&mlz_cfn::Value::str("VpcOnly"))
        );
        assert!(domain.properties.get("KmsKeyId").is_some());
        let key = t
            .resources
            .values()
            .find(|r| r.resource_type == "AWS::KMS::Key")
            .unwrap();
        assert_eq!(
            key.properties.get("EnableKeyRotation"),
            Some(&mlz_cfn::Value::Bool(true))
        );
    }
}
