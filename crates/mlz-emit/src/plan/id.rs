//! `StackId`: the one identity of every deployable thing. Its output path, file name and
//! CloudFormation stack (or StackSet) name derive from it here and nowhere else.

use std::fmt;

/// The platform area that owns a deployable thing: the first folder of its output path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Area {
    Organizations,
    ControlTower,
    /// AFC blueprint templates (owned by the Control Tower emitter).
    Blueprints,
    IdentityCenter,
    ServiceCatalog,
    /// Service Catalog product versions (owned by the Service Catalog emitter).
    Products,
    UnifiedStudio,
    Network,
    Security,
    Budgets,
    Artifacts,
    /// The generated CodePipeline and the roles it deploys with (deployed by hand, once).
    Pipeline,
}

impl Area {
    /// Every area folder (tidy checks each belongs to exactly one emitter in `AREAS`).
    pub const ALL: [Area; 12] = [
        Area::Organizations,
        Area::ControlTower,
        Area::Blueprints,
        Area::IdentityCenter,
        Area::ServiceCatalog,
        Area::Products,
        Area::UnifiedStudio,
        Area::Network,
        Area::Security,
        Area::Budgets,
        Area::Artifacts,
        Area::Pipeline,
    ];

    pub fn folder(self) -> &'static str {
        match self {
            Area::Organizations => "organizations",
            Area::ControlTower => "control-tower",
            Area::Blueprints => "blueprints",
            Area::IdentityCenter => "identity-center",
            Area::ServiceCatalog => "service-catalog",
            Area::Products => "products",
            Area::UnifiedStudio => "unified-studio",
            Area::Network => "network",
            Area::Security => "security",
            Area::Budgets => "budgets",
            Area::Artifacts => "artifacts",
            Area::Pipeline => "pipeline",
        }
    }
}

/// A stack, StackSet template, Service Catalog product version or AFC blueprint.
///
/// `name` is the path below the area's folder, without extension (`governance`,
/// `analytics/studio-domain`). Two ids are equal exactly when their output files are.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StackId {
    area: Area,
    name: String,
}

impl StackId {
    pub fn new(area: Area, name: impl Into<String>) -> StackId {
        StackId {
            area,
            name: name.into(),
        }
    }

    /// The Transit Gateway hub of `region` (made by the network area, named by the
    /// blueprints that attach to it).
    pub fn transit_gateway(region: &str) -> StackId {
        StackId::new(Area::Network, format!("transit-gateway-{region}"))
    }

    pub fn area(&self) -> Area {
        self.area
    }

    /// Output path without extension: `control-tower/governance`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.area.folder(), self.name)
    }

    /// Output file: `control-tower/governance.yaml`.
    pub fn file(&self, ext: &str) -> String {
        format!("{}/{}.{ext}", self.area.folder(), self.name)
    }

    /// The CloudFormation stack name, or the StackSet name, of this id:
    /// `mlz-control-tower-governance`. Blueprints and product versions are not stacks of
    /// their own; the manifest gives them no name.
    pub fn stack_name(&self, prefix: &str) -> String {
        let mut s = format!("{prefix}-{}-", self.area.folder());
        for c in self.name.chars() {
            s.push(if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            });
        }
        s
    }
}

impl fmt::Display for StackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.area.folder(), self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_file_and_stack_name_derive_from_the_id() {
        let id = StackId::new(Area::Products, "analytics/studio-domain");
        assert_eq!(id.path(), "products/analytics/studio-domain");
        assert_eq!(id.file("json"), "products/analytics/studio-domain.json");
        assert_eq!(id.stack_name("mlz"), "mlz-products-analytics-studio-domain");
    }
}
