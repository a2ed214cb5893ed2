//! Emitters: the resolved platform → typed CloudFormation stacks → an output folder's files.
//!
//! Each area of the platform has one module that turns the [`Platform`] into [`Stack`]s and
//! manual steps that declare the facts they provide and require. The plan ([`plan`]) links
//! those, orders them into deployment waves and checks what no single template shows; then
//! every template is checked and rendered and the manifest written. It returns the files in
//! memory; writing them is the caller's job.

pub mod areas;
mod artifacts;
mod budgets;
mod cfct;
mod common;
mod control_tower;
mod docs;
mod identity_center;
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

use areas::{AreaEmitter, Emit};
pub use areas::{AreaSpec, AREAS};
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
///
/// The areas emit on two threads ([`areas::Emit`]): Control Tower and Identity Center (the
/// vending and assignment stacks, the largest at scale) beside the others. Each area fills
/// its own `Emitted`, and they are joined in [`AREAS`] order, so the output is the same bytes
/// as one thread would give (`emit_sequential`, tested).
pub fn emit(p: &Platform, opts: Options) -> Result<Emitted, Vec<EmitError>> {
    let (main, side) = std::thread::scope(|scope| {
        let side = scope.spawn(|| emit_each(p, |e| matches!(e, Emit::Side(_))));
        let main = emit_each(p, |e| matches!(e, Emit::Main(_)));
        let side = side.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        (main, side)
    });
    let mut parts: Vec<(usize, Emitted, Vec<EmitError>)> = main.into_iter().chain(side).collect();
    parts.sort_by_key(|(i, _, _)| *i);
    finish(p, opts, parts.into_iter().map(|(_, e, errs)| (e, errs)))
}

/// [`emit`] on one thread: every area into one `Emitted`, in order, so that a shared step
/// is kept once by the emitters themselves rather than by the join.
pub fn emit_sequential(p: &Platform, opts: Options) -> Result<Emitted, Vec<EmitError>> {
    let mut out = Emitted::default();
    let mut errs = Vec::new();
    for f in AREAS.iter().filter_map(|a| emitter(a.emit)) {
        errs.extend(f(p, &mut out).err().into_iter().flatten());
    }
    partition_aware(&mut out);
    finish(p, opts, [(out, errs)])
}

fn emitter(e: Emit) -> Option<AreaEmitter> {
    match e {
        Emit::Main(f) | Emit::Side(f) => Some(f),
        Emit::AfterPlan => None,
    }
}

/// The areas `on` picks, each into its own `Emitted`, with its index in [`AREAS`].
fn emit_each(p: &Platform, on: fn(&Emit) -> bool) -> Vec<(usize, Emitted, Vec<EmitError>)> {
    AREAS
        .iter()
        .enumerate()
        .filter(|(_, a)| on(&a.emit))
        .filter_map(|(i, a)| Some((i, emitter(a.emit)?)))
        .map(|(i, f)| {
            let mut out = Emitted::default();
            let errs = f(p, &mut out).err().unwrap_or_default();
            partition_aware(&mut out);
            (i, out, errs)
        })
        .collect()
}

/// No literal `arn:aws:` in any template, ours or the user's: the partition is
/// CloudFormation's to fill. (Here, on the area's thread.)
fn partition_aware(out: &mut Emitted) {
    for s in &mut out.stacks {
        common::partition_aware(&mut s.template);
    }
}

/// Joins the areas in order (a step that several areas require, such as RAM's sharing with
/// the organisation, is kept once, where it first appears), then what needs every stack.
fn finish(
    p: &Platform,
    opts: Options,
    parts: impl IntoIterator<Item = (Emitted, Vec<EmitError>)>,
) -> Result<Emitted, Vec<EmitError>> {
    let mut out = Emitted::default();
    let mut errs = Vec::new();
    for (g, e) in parts {
        out.stacks.extend(g.stacks);
        out.documents.extend(g.documents);
        let earlier = out.steps.len();
        for step in g.steps {
            if !out.steps[..earlier].iter().any(|s| s.id == step.id) {
                out.steps.push(step);
            }
        }
        errs.extend(e);
    }
    let emitted = out.stacks.len();
    if let Err(e) = artifacts::finish(p, opts.format.extension(), &mut out) {
        errs.push(e);
    }
    for s in &mut out.stacks[emitted..] {
        common::partition_aware(&mut s.template);
    }
    require_groups(p, &mut out);
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
