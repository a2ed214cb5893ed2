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
];

pub const BUILTIN_NAMES: &[&str] = &[
    "studio-domain",
    "studio-user-profile",
    "model-package-group",
    "realtime-endpoint",
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
