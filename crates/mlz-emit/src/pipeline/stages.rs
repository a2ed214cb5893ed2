//! The pipeline's stages: the plan's waves packed within CodePipeline's limits, each
//! node's action, the resolve and step actions and what `pipeline/wiring.json` tells them.

use super::*;

/// A value the resolve action finds, as `pipeline/wiring.json` spells it.
pub(super) fn source_of_lookup(p: &Platform, l: &Lookup) -> serde_json::Value {
    match l {
        Lookup::PipelineDeployRoleArn => json!({
            "lookup": "roleArn",
            "account": "management",
            // CloudFormation calls Service Catalog as the stack's service role.
            "role": role_names(&p.organization.stack_prefix).deploy,
        }),
        other => other.wire(),
    }
}

/// The value sources of a step's placeholders (`<root id>`, `<Name account id>`, `<output Key
/// of path>`), or `None` when a placeholder is not one the resolve action can fill.
pub(super) fn placeholders(
    p: &Platform,
    stacks: &[Stack],
    ext: &str,
    commands: &[String],
) -> Option<BTreeMap<String, serde_json::Value>> {
    let prefix = &p.organization.stack_prefix;
    let mut out = BTreeMap::new();
    for c in commands {
        let mut rest = c.as_str();
        while let Some(start) = rest.find('<') {
            let after = &rest[start + 1..];
            let end = after.find('>')?;
            let inner = &after[..end];
            rest = &after[end + 1..];
            let source = if inner == "root id" {
                json!({ "lookup": "rootId" })
            } else if let Some(name) = inner.strip_suffix(" account id") {
                let a = if name == p.organization.management.name {
                    AccountRef::Management
                } else {
                    AccountRef::Account(mlz_model::AccountIdx(
                        p.accounts.iter().position(|a| a.name == name)?,
                    ))
                };
                json!({ "lookup": "accountId", "account": account_key(p, a) })
            } else if let Some(o) = inner.strip_prefix("output ") {
                let (key, path) = o.split_once(" of ")?;
                let s = stacks.iter().find(|s| s.id.path() == path)?;
                json!({ "output": {
                    "stack": s.id.stack_name(prefix),
                    "account": account_key(p, s.account),
                    "region": s.region,
                    "key": key,
                } })
            } else {
                return None;
            };
            let _ = ext;
            out.insert(format!("<{inner}>"), source);
        }
    }
    Some(out)
}

/// Can the pipeline run this step itself: every command an API call mlz knows, every
/// placeholder one the resolve action fills. Import steps end in a change set a person
/// reviews.
pub(super) fn automatable(p: &Platform, stacks: &[Stack], ext: &str, st: &ManualStep) -> bool {
    !st.id.starts_with("import-into-")
        && !st.commands.is_empty()
        && st.commands.iter().all(|c| command_actions(c).is_some())
        && placeholders(p, stacks, ext, &st.commands).is_some()
}

/// Which nodes run in the second phase: nodes in accounts the pipeline vends, and nodes
/// that wait for one of them.
pub(super) fn vended_phase(
    p: &Platform,
    plan: &Plan,
    stacks: &[Stack],
    steps: &[ManualStep],
) -> Vec<bool> {
    let n = stacks.len() + steps.len();
    let mut late = vec![false; n];
    for wave in &plan.waves {
        for &node in wave {
            let i = plan.index(node);
            let account = match node {
                NodeRef::Stack(s) => stacks[s].account,
                NodeRef::Step(j) => steps[j].account,
            };
            late[i] = !exists_before(p, account)
                || plan.depends_on[i].keys().any(|d| late[plan.index(*d)]);
        }
    }
    late
}

/// Splits actions (in wave order, with their wave) into stages of at most
/// [`MAX_ACTIONS_PER_STAGE`] actions, and stages into pipelines within [`MAX_STAGES`] and
/// [`MAX_ACTIONS`].
#[allow(clippy::too_many_arguments)]
pub(super) fn pack(
    p: &Platform,
    stacks: &[Stack],
    acts: &[(usize, Act)],
    vended: bool,
    first_index: usize,
    reserve_first: (usize, usize),
    reserve_last: (usize, usize),
) -> Vec<PipelinePlan> {
    let prefix = &p.organization.stack_prefix;
    let mut stages: Vec<StagePlan> = Vec::new();
    let mut waited: BTreeSet<AccountRef> = BTreeSet::new();
    let mut i = 0;
    while i < acts.len() {
        let wave = acts[i].0;
        let mut k = i;
        while k < acts.len() && acts[k].0 == wave {
            k += 1;
        }
        // One slot for the resolve action.
        let chunks: Vec<&[(usize, Act)]> = acts[i..k].chunks(MAX_ACTIONS_PER_STAGE - 1).collect();
        let many = chunks.len() > 1;
        for (c, chunk) in chunks.into_iter().enumerate() {
            let mut wait_for = Vec::new();
            let mut wired = Vec::new();
            for (_, a) in chunk {
                let account = match *a {
                    Act::Deploy(s) => {
                        if stacks[s].parameters.iter().any(|pp| pp.value.is_none()) {
                            wired.push(s);
                        }
                        Some(stacks[s].account)
                    }
                    Act::Step { .. } => None,
                };
                if let Some(acc) = account {
                    if !exists_before(p, acc) && waited.insert(acc) {
                        wait_for.push(acc);
                    }
                }
            }
            let name = if many {
                format!("Wave-{wave}-{}", c + 1)
            } else {
                format!("Wave-{wave}")
            };
            stages.push(StagePlan {
                name,
                acts: chunk.iter().map(|(_, a)| *a).collect(),
                wait_for,
                wired,
            });
        }
        i = k;
    }
    let mut pipelines: Vec<PipelinePlan> = Vec::new();
    let mut current: Vec<StagePlan> = Vec::new();
    // The source stage and its action count, and the first pipeline's reserved stage.
    let (mut stages_used, mut actions) = (1 + reserve_first.0, 1 + reserve_first.1);
    let total = stages.len();
    for (si, st) in stages.into_iter().enumerate() {
        let (xs, xa) = if si + 1 == total {
            reserve_last
        } else {
            (0, 0)
        };
        let n = st.actions();
        if !current.is_empty()
            && (stages_used + 1 + xs > MAX_STAGES || actions + n + xa > MAX_ACTIONS)
        {
            pipelines.push(PipelinePlan {
                name: String::new(),
                vended,
                stages: std::mem::take(&mut current),
            });
            (stages_used, actions) = (1, 1);
        }
        stages_used += 1;
        actions += n;
        current.push(st);
    }
    if !current.is_empty() {
        pipelines.push(PipelinePlan {
            name: String::new(),
            vended,
            stages: current,
        });
    }
    for (n, pl) in pipelines.iter_mut().enumerate() {
        pl.name = format!("{prefix}-{}", first_index + n + 1);
    }
    pipelines
}

pub(super) fn action_type(category: &str, provider: &str) -> Value {
    Value::map([
        ("Category", Value::str(category)),
        ("Owner", Value::str("AWS")),
        ("Provider", Value::str(provider)),
        ("Version", Value::str("1")),
    ])
}

pub(super) fn artifacts(names: &[&str]) -> Value {
    Value::List(
        names
            .iter()
            .map(|n| Value::map([("Name", Value::str(*n))]))
            .collect(),
    )
}

pub(super) fn build_env(mode: &str, target: &str) -> String {
    serde_json::to_string(&json!([
        { "name": "MLZ_MODE", "value": mode, "type": "PLAINTEXT" },
        { "name": "MLZ_TARGET", "value": target, "type": "PLAINTEXT" },
    ]))
    .unwrap_or_default()
}

pub(super) fn build_action(
    name: &str,
    project: &Value,
    mode: &str,
    target: &str,
    output: Option<&str>,
    run_order: i64,
) -> Value {
    let mut a = vec![
        ("Name", Value::str(name)),
        ("ActionTypeId", action_type("Build", "CodeBuild")),
        (
            "Configuration",
            Value::map([
                ("ProjectName", project.clone()),
                ("PrimarySource", Value::str("Source")),
                ("EnvironmentVariables", Value::str(build_env(mode, target))),
            ]),
        ),
        ("InputArtifacts", artifacts(&["Source"])),
        ("RunOrder", Value::Int(run_order)),
    ];
    if let Some(o) = output {
        a.push(("OutputArtifacts", artifacts(&[o])));
    }
    Value::map(a)
}

/// Approval text: the step's reason and commands, within CodePipeline's 1,000 characters.
pub(super) fn approval_text(st: &ManualStep) -> String {
    let mut text = format!("{} {}", st.reason, st.commands.join(" ; "));
    if text.len() > MAX_CONFIG_VALUE {
        let mut cut = MAX_CONFIG_VALUE - 40;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(" … (the rest in README.md)");
    }
    text
}

/// One pipeline's stages (after its source stage) as CloudFormation values, the wiring of
/// its resolve actions and steps, and where each node runs.
pub(super) fn stages(
    cx: &Cx<'_>,
    pl: &PipelinePlan,
    project: &Value,
    wiring: &mut Wiring,
    entries: &mut Vec<ActionEntry>,
) -> Vec<Value> {
    let p = cx.p;
    let mut out = Vec::new();
    for (si, st) in pl.stages.iter().enumerate() {
        let key = Cx::stage_key(&pl.name, &st.name);
        let resolved = format!("Resolved{}", si + 1);
        let mut actions = Vec::new();
        if st.resolves() {
            actions.push(build_action(
                "Resolve",
                project,
                "stage",
                &key,
                Some(&resolved),
                1,
            ));
            wiring.stage(cx, &key, st);
        }
        for act in &st.acts {
            match *act {
                Act::Deploy(s) => {
                    let stack = &cx.stacks[s];
                    let t = &cx.m.templates[s];
                    let name = action_name(&t.path);
                    let config = configuration_path(&t.path);
                    let from = if st.wired.contains(&s) {
                        resolved.as_str()
                    } else {
                        "Source"
                    };
                    let mut inputs = vec!["Source"];
                    if from != "Source" {
                        inputs.push(from);
                    }
                    let mut conf = vec![
                        ("ActionMode", Value::str("CREATE_UPDATE")),
                        (
                            "StackName",
                            Value::str(t.stack_name.clone().unwrap_or_default()),
                        ),
                        ("TemplatePath", Value::str(format!("Source::{}", t.path))),
                        (
                            "TemplateConfiguration",
                            Value::str(format!("{from}::{config}")),
                        ),
                        ("RoleArn", cx.role(stack.account, &cx.r.deploy)),
                    ];
                    if !t.capabilities.is_empty() {
                        conf.push(("Capabilities", Value::str(t.capabilities.join(","))));
                    }
                    actions.push(Value::map([
                        ("Name", Value::str(name.clone())),
                        ("ActionTypeId", action_type("Deploy", "CloudFormation")),
                        ("Region", Value::str(stack.region.clone())),
                        ("RoleArn", cx.role(stack.account, &cx.r.action)),
                        ("Configuration", Value::map(conf)),
                        ("InputArtifacts", artifacts(&inputs)),
                        ("RunOrder", Value::Int(2)),
                    ]));
                    entries.push(ActionEntry {
                        node: t.path.clone(),
                        pipeline: pl.name.clone(),
                        stage: st.name.clone(),
                        action: name.clone(),
                        kind: "cloudFormation",
                        role: Some(format!(
                            "{} ({})",
                            cx.r.action,
                            account_key(p, stack.account)
                        )),
                    });
                    // The StackSets this stack holds deploy with it.
                    for (k, other) in cx.stacks.iter().enumerate() {
                        if other
                            .stack_set
                            .as_ref()
                            .is_some_and(|ss| ss.holder == stack.id)
                        {
                            entries.push(ActionEntry {
                                node: cx.m.templates[k].path.clone(),
                                pipeline: pl.name.clone(),
                                stage: st.name.clone(),
                                action: name.clone(),
                                kind: "stackSetResource",
                                role: Some(format!(
                                    "{} ({})",
                                    cx.r.action,
                                    account_key(p, stack.account)
                                )),
                            });
                        }
                    }
                }
                Act::Step { j, automated } => {
                    let step = &cx.steps[j];
                    let name = action_name(&format!("step.{}", step.id));
                    if automated {
                        actions.push(build_action(&name, project, "step", &step.id, None, 2));
                        wiring.step(cx, step);
                    } else {
                        actions.push(Value::map([
                            ("Name", Value::str(name.clone())),
                            ("ActionTypeId", action_type("Approval", "Manual")),
                            (
                                "Configuration",
                                Value::map([("CustomData", Value::str(approval_text(step)))]),
                            ),
                            ("RunOrder", Value::Int(2)),
                        ]));
                    }
                    entries.push(ActionEntry {
                        node: format!("step {}", step.id),
                        pipeline: pl.name.clone(),
                        stage: st.name.clone(),
                        action: name,
                        kind: if automated { "codeBuild" } else { "approval" },
                        role: automated
                            .then(|| format!("{} ({})", cx.r.steps, account_key(p, step.account))),
                    });
                }
            }
        }
        out.push(Value::map([
            ("Name", Value::str(st.name.clone())),
            ("Actions", Value::List(actions)),
        ]));
    }
    out
}

/// A CloudFormation action of the pipeline's own templates (in the pipeline account, but
/// for the management account's roles), with its configuration from `Resolved`.
pub(super) fn own_action(
    cx: &Cx<'_>,
    s: &Stack,
    id: &StackId,
    caps: &str,
    run_order: i64,
) -> Value {
    let file = id.file(cx.ext);
    let mut conf = vec![
        ("ActionMode", Value::str("CREATE_UPDATE")),
        (
            "StackName",
            Value::str(id.stack_name(&cx.p.organization.stack_prefix)),
        ),
        ("TemplatePath", Value::str(format!("Source::{file}"))),
        (
            "TemplateConfiguration",
            Value::str(format!("ResolvedPipeline::{}", configuration_path(&file))),
        ),
        ("RoleArn", cx.role(s.account, &cx.r.deploy)),
    ];
    if !caps.is_empty() {
        conf.push(("Capabilities", Value::str(caps)));
    }
    Value::map([
        ("Name", Value::str(action_name(&file))),
        ("ActionTypeId", action_type("Deploy", "CloudFormation")),
        ("Region", Value::str(s.region.clone())),
        ("RoleArn", cx.role(s.account, &cx.r.action)),
        ("Configuration", Value::map(conf)),
        ("InputArtifacts", artifacts(&["Source", "ResolvedPipeline"])),
        ("RunOrder", Value::Int(run_order)),
    ])
}

/// The first stage of the first pipeline: the pipeline updates its roles, its artifact
/// stores and then itself from the new output (`RestartExecutionOnUpdate` then runs the new
/// definition), so only the first deployment is by hand.
pub(super) fn self_update(
    cx: &Cx<'_>,
    pipeline: &str,
    project: &Value,
    bootstrap: &[&Stack],
    own: &StackId,
    own_params: serde_json::Map<String, serde_json::Value>,
    wiring: &mut Wiring,
) -> Value {
    let p = cx.p;
    let key = Cx::stage_key(pipeline, "Pipeline");
    let mut actions = vec![build_action(
        "Resolve",
        project,
        "stage",
        &key,
        Some("ResolvedPipeline"),
        1,
    )];
    let mut resolved = Vec::new();
    for s in bootstrap {
        let caps = crate::plan::capabilities(&s.template).join(",");
        actions.push(own_action(cx, s, &s.id, &caps, 2));
        let params: serde_json::Map<String, serde_json::Value> = s
            .template
            .parameters
            .keys()
            .map(|k| {
                let src = match k.as_str() {
                    "RootId" => json!({ "lookup": "rootId" }),
                    "PipelineAccountId" => {
                        json!({ "lookup": "accountId", "account": account_key(p, cx.home) })
                    }
                    _ => json!({ "lookup": "organizationId" }),
                };
                (k.to_string(), src)
            })
            .collect();
        let file = s.id.file(cx.ext);
        resolved.push(json!({ "template": file, "configuration": configuration_path(&file), "parameters": params }));
    }
    let own_file = own.file(cx.ext);
    let home = Stack {
        account: cx.home,
        region: cx.region.clone(),
        ..new_stack(p, own.clone(), Template::new(String::new()))
    };
    actions.push(own_action(cx, &home, own, "CAPABILITY_NAMED_IAM", 3));
    resolved.push(json!({ "template": own_file, "configuration": configuration_path(&own_file), "parameters": own_params }));
    wiring
        .stages
        .insert(key, json!({ "waitFor": [], "stacks": resolved }));
    Value::map([
        ("Name", Value::str("Pipeline")),
        ("Actions", Value::List(actions)),
    ])
}

/// `pipeline/wiring.json`: what each resolve action looks up and each step runs.
#[derive(Default)]
pub(super) struct Wiring {
    pub(super) stages: serde_json::Map<String, serde_json::Value>,
    pub(super) steps: serde_json::Map<String, serde_json::Value>,
    pub(super) external: Vec<ExternalEntry>,
}

impl Wiring {
    fn source(
        &mut self,
        cx: &Cx<'_>,
        s: &Stack,
        pp: &crate::stack::StackParam,
    ) -> serde_json::Value {
        let p = cx.p;
        if let Some(e) = &pp.from_export {
            return json!({ "export": {
                "name": e.key.name(p).unwrap_or_default(),
                "account": account_key(p, e.account),
                "region": e.region,
            } });
        }
        match &pp.lookup {
            Some(Lookup::External) | None => {
                let stem = s.id.path();
                let ssm = format!(
                    "/{}/pipeline/external/{stem}/{}",
                    p.organization.stack_prefix, pp.name
                );
                self.external.push(ExternalEntry {
                    template: s.id.file(cx.ext),
                    parameter: pp.name.clone(),
                    parameter_store: ssm.clone(),
                    why: pp.description.clone(),
                });
                json!({ "lookup": "external", "parameterStore": ssm })
            }
            Some(l) => source_of_lookup(p, l),
        }
    }

    fn stage(&mut self, cx: &Cx<'_>, key: &str, st: &StagePlan) {
        let mut stacks = Vec::new();
        for &s in &st.wired {
            let stack = &cx.stacks[s];
            let mut params = serde_json::Map::new();
            for pp in &stack.parameters {
                if pp.value.is_none() {
                    let src = self.source(cx, stack, pp);
                    params.insert(pp.name.clone(), src);
                }
            }
            let path = &cx.m.templates[s].path;
            stacks.push(json!({
                "template": path,
                "configuration": configuration_path(path),
                "parameters": params,
            }));
        }
        self.stages.insert(
            key.to_owned(),
            json!({
                "waitFor": st.wait_for.iter().map(|a| account_key(cx.p, *a)).collect::<Vec<_>>(),
                "stacks": stacks,
            }),
        );
    }

    fn step(&mut self, cx: &Cx<'_>, st: &ManualStep) {
        let values = placeholders(cx.p, cx.stacks, cx.ext, &st.commands).unwrap_or_default();
        self.steps.insert(
            st.id.clone(),
            json!({
                "account": account_key(cx.p, st.account),
                "commands": st.commands,
                "values": values,
            }),
        );
    }
}
