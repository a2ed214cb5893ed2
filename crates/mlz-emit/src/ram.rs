//! AWS RAM resource shares, built in one place for every emitter that shares something
//! (the Unified Studio domain today; the Transit Gateway next).
//!
//! Every share is for principals inside the organisation only (`AllowExternalPrincipals:
//! false`). Sharing with an OU or the whole organisation also needs RAM's sharing with AWS
//! Organizations turned on once, which CloudFormation cannot do: [`require_sharing`].

use mlz_cfn::Value;
use mlz_model::AccountRef;

use crate::plan::{rules, Fact, Need, Service};
use crate::stack::{Emitted, ManualStep};
use crate::types::RAM_RESOURCE_SHARE;

/// A resource share of `resources` with `principals` (account ids, OU ARNs or the
/// organisation ARN), under the given RAM permissions (the resource type's default when empty).
pub fn share(
    name: String,
    resources: Vec<Value>,
    principals: Vec<Value>,
    permissions: &[&str],
) -> mlz_cfn::Resource {
    let mut r = mlz_cfn::Resource::new(RAM_RESOURCE_SHARE)
        .prop("Name", name)
        .prop("AllowExternalPrincipals", false)
        .prop("ResourceArns", Value::List(resources))
        .prop("Principals", Value::List(principals));
    if !permissions.is_empty() {
        r = r.prop(
            "PermissionArns",
            Value::list_of_str(permissions.iter().copied()),
        );
    }
    r
}

const SHARING_STEP: &str = "ram-sharing-with-organization";

/// The one-time switch RAM needs before shares with OUs or the organisation work, and before
/// shares inside the organisation are accepted without an invitation: one step, whatever the
/// number of emitters that share. It returns the need each sharing stack declares.
pub fn require_sharing(out: &mut Emitted) -> Need {
    if !out.steps.iter().any(|s| s.id == SHARING_STEP) {
        out.steps.push(ManualStep {
            id: SHARING_STEP.into(),
            account: AccountRef::Management,
            reason: "AWS RAM must be allowed to share with AWS Organizations once: then shares inside the organisation need no invitation to accept. CloudFormation has no resource type for it.".into(),
            commands: vec!["aws ram enable-sharing-with-aws-organization".into()],
            provides: vec![Fact::TrustedAccess(Service::Ram)],
            requires: Vec::new(),
        });
    }
    Need::new(Fact::TrustedAccess(Service::Ram), &rules::RAM_ORGANIZATIONS)
}
