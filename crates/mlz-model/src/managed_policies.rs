//! The AWS managed policies mlz attaches, each checked against its reference page. Every
//! `arn:…:iam::aws:policy/…` in the output comes from this list (a test checks it); a name the
//! config gives that is not here is a warning, since CloudFormation fails on one that does
//! not exist.

/// An AWS managed policy: its name with its path, and where it was checked.
#[derive(Debug, PartialEq, Eq)]
pub struct ManagedPolicy {
    pub name: &'static str,
    pub reference: &'static str,
}

const REF: &str = "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/";

macro_rules! policies {
    ($($id:ident = $name:literal, $page:literal;)*) => {
        $(pub const $id: &str = $name;)*
        /// Every managed policy mlz knows, sorted by name.
        pub const ALL: &[ManagedPolicy] = &[
            $(ManagedPolicy { name: $name, reference: $page },)*
        ];
    };
}

policies! {
    ADMINISTRATOR_ACCESS = "AdministratorAccess", "AdministratorAccess.html";
    AMAZON_DATAZONE_SAGEMAKER_MANAGE_ACCESS = "AmazonDataZoneSageMakerManageAccessRolePolicy", "AmazonDataZoneSageMakerManageAccessRolePolicy.html (and the DataZone user guide, security-iam-awsmanpol-AmazonDataZoneSageMakerManageAccessRolePolicy)";
    AMAZON_S3_READ_ONLY_ACCESS = "AmazonS3ReadOnlyAccess", "AmazonS3ReadOnlyAccess.html";
    AWS_SERVICE_CATALOG_ADMIN_FULL_ACCESS = "AWSServiceCatalogAdminFullAccess", "AWSServiceCatalogAdminFullAccess.html";
    AWS_SERVICE_CATALOG_END_USER_FULL_ACCESS = "AWSServiceCatalogEndUserFullAccess", "AWSServiceCatalogEndUserFullAccess.html";
    NETWORK_ADMINISTRATOR = "job-function/NetworkAdministrator", "NetworkAdministrator.html";
    POWER_USER_ACCESS = "PowerUserAccess", "PowerUserAccess.html";
    READ_ONLY_ACCESS = "ReadOnlyAccess", "ReadOnlyAccess.html";
    SECURITY_AUDIT = "SecurityAudit", "SecurityAudit.html";
    VIEW_ONLY_ACCESS = "job-function/ViewOnlyAccess", "ViewOnlyAccess.html";
    DATAZONE_GLUE_MANAGE_ACCESS = "service-role/AmazonDataZoneGlueManageAccessRolePolicy", "AmazonDataZoneGlueManageAccessRolePolicy.html";
    DATAZONE_REDSHIFT_MANAGE_ACCESS = "service-role/AmazonDataZoneRedshiftManageAccessRolePolicy", "AmazonDataZoneRedshiftManageAccessRolePolicy.html";
    SAGEMAKER_STUDIO_DOMAIN_EXECUTION = "service-role/SageMakerStudioDomainExecutionRolePolicy", "SageMakerStudioDomainExecutionRolePolicy.html";
    SAGEMAKER_STUDIO_DOMAIN_SERVICE = "service-role/SageMakerStudioDomainServiceRolePolicy", "SageMakerStudioDomainServiceRolePolicy.html";
    SAGEMAKER_STUDIO_PROJECT_PROVISIONING = "service-role/SageMakerStudioProjectProvisioningRolePolicy", "SageMakerStudioProjectProvisioningRolePolicy.html";
}

/// The policy of this name (with its path), if mlz knows it.
pub fn find(name: &str) -> Option<&'static ManagedPolicy> {
    ALL.iter().find(|p| p.name == name)
}

/// The policy's ARN with the partition left to CloudFormation: the text of an `Fn::Sub`.
pub fn arn_sub(name: &str) -> String {
    format!("arn:${{AWS::Partition}}:iam::aws:policy/{name}")
}

/// The reference page a policy was checked against.
pub fn reference(p: &ManagedPolicy) -> String {
    match p.reference.split_once(' ') {
        Some((page, rest)) => format!("{REF}{page} {rest}"),
        None => format!("{REF}{}", p.reference),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_the_retired_one_is_absent() {
        let mut names: Vec<&str> = ALL.iter().map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        // Not an AWS managed policy (absent from the reference and the MAMIP list).
        assert!(find("AmazonDataZoneSageMakerAccess").is_none());
        assert!(find(AMAZON_DATAZONE_SAGEMAKER_MANAGE_ACCESS).is_some());
        assert!(reference(&ALL[0]).starts_with("https://docs.aws.amazon.com/"));
    }
}
