//! The platform areas: the one list a new area joins. What is per area elsewhere is derived
//! from it or checked against it: the thread each emitter runs on and the output order
//! (`lib.rs`), the folders each emitter may write and the module, test and doc each area must
//! have (`crates/mlz/tests/tidy.rs`), the config sections each area owns (the schema's
//! top-level keys, tidy-checked).

use mlz_model::Platform;

use crate::{stack::Emitted, EmitError};

/// An area's emitter: the resolved platform in, its stacks, documents and steps out.
pub type AreaEmitter = fn(&Platform, &mut Emitted) -> Result<(), Vec<EmitError>>;

/// When an area's output is built.
#[derive(Clone, Copy, Debug)]
pub enum Emit {
    /// With the others, on the main thread.
    Main(AreaEmitter),
    /// With the others, on the second thread: the areas that are largest at scale (the
    /// vending and assignment stacks), so that the two threads take about as long.
    Side(AreaEmitter),
    /// After the plan, from the manifest (the pipeline deploys what the plan ordered).
    AfterPlan,
}

/// One platform area. Its `name` is the one the stages share:
/// `crates/mlz-model/src/resolve/<name>.rs`, `crates/mlz-emit/src/<name>.rs` (or
/// `<name>/mod.rs`), `crates/mlz/tests/<name>.rs` and `docs/<name>.md` with `-` for `_`.
#[derive(Debug)]
pub struct AreaSpec {
    pub name: &'static str,
    /// The config's top-level keys it reads.
    pub sections: &'static [&'static str],
    /// The output folders (first path segment) its emitter writes.
    pub folders: &'static [&'static str],
    pub emit: Emit,
}

/// Every area, in output order (the manifest, the waves' tie-breaks and the golden files
/// follow it).
pub const AREAS: &[AreaSpec] = &[
    AreaSpec {
        name: "organizations",
        sections: &[
            "version",
            "organization",
            "naming",
            "organizationalUnits",
            "accounts",
            "stages",
            "teams",
            "policies",
        ],
        folders: &["organizations"],
        emit: Emit::Main(crate::organizations::emit),
    },
    AreaSpec {
        name: "control_tower",
        sections: &["controlTower"],
        folders: &["control-tower", "blueprints", "vending"],
        emit: Emit::Side(crate::control_tower::emit),
    },
    AreaSpec {
        name: "identity_center",
        sections: &["identityCenter"],
        folders: &["identity-center"],
        emit: Emit::Side(crate::identity_center::emit),
    },
    AreaSpec {
        name: "service_catalog",
        sections: &["serviceCatalog"],
        folders: &["service-catalog", "products"],
        emit: Emit::Main(crate::service_catalog::emit),
    },
    AreaSpec {
        name: "unified_studio",
        sections: &["unifiedStudio"],
        folders: &["unified-studio"],
        emit: Emit::Main(crate::unified_studio::emit),
    },
    AreaSpec {
        name: "budgets",
        sections: &["budgets"],
        folders: &["budgets"],
        emit: Emit::Main(crate::budgets::emit),
    },
    AreaSpec {
        name: "security",
        sections: &["security"],
        folders: &["security"],
        emit: Emit::Main(crate::security::emit),
    },
    AreaSpec {
        name: "network",
        sections: &["network"],
        folders: &["network"],
        emit: Emit::Main(crate::network::emit),
    },
    AreaSpec {
        name: "pipeline",
        sections: &["pipeline"],
        folders: &["pipeline"],
        emit: Emit::AfterPlan,
    },
];
