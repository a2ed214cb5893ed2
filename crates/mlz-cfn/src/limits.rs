//! CloudFormation's template limits, one constant each.
//!
//! cfn-lint checks most of these, but not the parameter count and not the inline-body
//! size, so we check them all ourselves before anything is written.

/// Resources per template.
pub const MAX_RESOURCES: usize = 500;
/// Parameters per template (not enforced by cfn-lint 1.58.0).
pub const MAX_PARAMETERS: usize = 200;
/// Outputs per template.
pub const MAX_OUTPUTS: usize = 200;
/// A template body uploaded to S3 and passed by URL.
pub const MAX_BODY_BYTES: usize = 1_000_000;
/// A template body passed inline (`TemplateBody`); above this it must go through S3.
pub const MAX_INLINE_BODY_BYTES: usize = 51_200;
/// Template `Description`.
pub const MAX_DESCRIPTION_BYTES: usize = 1024;
/// Logical ids of resources, parameters, outputs and mappings.
pub const MAX_LOGICAL_ID_LEN: usize = 255;
