//! Emitters: the resolved platform → typed CloudFormation stacks → an output folder's files.
//!
//! Each area of the platform has one module that turns the [`Platform`] into [`Stack`]s and
//! manual steps that declare the facts they provide and require. The plan ([`plan`]) links
//! those, orders them into deployment waves and checks what no single template shows; then
//! every template is checked and rendered and the manifest written. It returns the files in
//! memory; writing them is the caller's job.

mod artifacts;
mod blueprint_sets;
mod budgets;
mod cfct;
mod common;
mod control_tower;
mod docs;
mod identity_center;
mod ipam;
mod manifest;
mod network;
mod organizations;
mod pipeline;
pub mod plan;
mod ram;
mod security;
mod service_catalog;
mod stack;
pub mod types;
mod unified_studio;

use std::collections::BTreeMap;

pub use mlz_cfn::Format;
use mlz_model::Platform;
pub use stack::{
    AccountRef, DeployKind, Document, Emitted, Import, ManualStep, Stack, StackParam,
    StackSetTargets, Upload,
};

/// Generation options.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub format: Format,
}

/// The files of an output folder, by relative path with `/` separators, and notes for the user.
#[derive(Debug, Default)]
pub struct Output {
    pub files: BTreeMap<String, Vec<u8>>,
    /// How many of the files are CloudFormation templates.
    pub templates: usize,
    pub notes: Vec<String>,
    /// The lock file's text: what this run allocated (written beside the config).
    pub lock: String,
}

/// A generated template that failed its checks: a bug in an emitter, or a config that
/// goes past a CloudFormation limit mlz cannot split around.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmitError {
    pub template: String,
    pub message: String,
    pub hint: Option<String>,
}

impl std::fmt::Display for EmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.template, self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  = hint: {h}")?;
        }
        Ok(())
    }
}

/// Every stack, document and manual step of the platform, before checks and rendering.
pub fn emit(p: &Platform, opts: Options) -> Result<Emitted, Vec<EmitError>> {
    let mut out = Emitted::default();
    let mut errs = Vec::new();
    let ext = opts.format.extension();
    for r in [
        organizations::emit(p, &mut out),
        control_tower::emit(p, &mut out),
        identity_center::emit(p, &mut out),
        service_catalog::emit(p, &mut out),
        unified_studio::emit(p, &mut out),
        budgets::emit(p, &mut out),
        security::emit(p, &mut out),
    ] {
        if let Err(e) = r {
            errs.extend(e);
        }
    }
    network::emit(p, &mut out);
    if let Err(e) = network::hubs(p, &mut out) {
        errs.extend(e);
    }
    if let Err(e) = ipam::emit(p, &mut out) {
        errs.push(e);
    }
    if let Err(e) = artifacts::finish(p, ext, &mut out) {
        errs.push(e);
    }
    require_groups(p, &mut out);
    // No literal `arn:aws:` in any template, ours or the user's: the partition is
    // CloudFormation's to fill.
    for s in &mut out.stacks {
        common::partition_aware(&mut s.template);
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

/// A stack that looks a group's id up by name (a parameter the pipeline fills) needs the group
/// to exist: when mlz creates it, the stack waits for the stack that does.
fn require_groups(p: &Platform, out: &mut Emitted) {
    let Some(ic) = &p.identity_center else {
        return;
    };
    let created: std::collections::HashMap<&str, usize> = ic
        .groups
        .iter()
        .enumerate()
        .filter(|(_, g)| g.created_by == mlz_model::CreatedBy::Mlz && g.id.is_none())
        .map(|(i, g)| (g.name.as_str(), i))
        .collect();
    for s in &mut out.stacks {
        let needs: Vec<plan::Need> = s
            .parameters
            .iter()
            .filter_map(|pp| match &pp.lookup {
                Some(stack::Lookup::GroupId(name)) => created.get(name.as_str()),
                _ => None,
            })
            .map(|&gi| plan::Need::new(plan::Fact::GroupExists(gi), &plan::rules::GROUP_FIRST))
            .collect();
        s.requires.extend(needs);
    }
}

/// Builds the whole output folder in memory.
pub fn generate(p: &Platform, opts: Options) -> Result<Output, Vec<EmitError>> {
    let emitted = emit(p, opts)?;
    manifest::build(p, emitted, opts)
}

/// Builds the output from stacks and steps already emitted (and perhaps changed by the
/// caller): what the plan tests use to take a provider away.
pub fn generate_from(
    p: &Platform,
    emitted: Emitted,
    opts: Options,
) -> Result<Output, Vec<EmitError>> {
    manifest::build(p, emitted, opts)
}
