//! The address plan: stable under insertion once the previous plan is given back, pinned
//! ranges respected, and no two attached VPCs overlap.

mod common;
use common::resources;

use std::collections::BTreeMap;

use mlz::{compile, Outcome};
use mlz_emit::Options;
use mlz_model::{FileSource, REFERENCE_CONFIG};
use serde_json::Value;

struct OneFile(String);

impl FileSource for OneFile {
    fn read(&self, path: &str) -> Result<String, String> {
        if path == "address-plan.json" {
            Ok(self.0.clone())
        } else {
            Err(format!("no file {path}"))
        }
    }
}

fn plan(text: &str, files: &dyn FileSource) -> (String, BTreeMap<(String, String), String>) {
    let files = match compile("platform.yaml", text, files, Options::default()) {
        Outcome::Generated { output, .. } => output.files,
        Outcome::Invalid { report } | Outcome::Failed { report } => panic!("{report}"),
    };
    let raw = String::from_utf8(files["network/address-plan.json"].clone()).expect("utf-8");
    let v: Value = serde_json::from_str(&raw).expect("json");
    let ranges = v["ranges"]
        .as_array()
        .expect("ranges")
        .iter()
        .map(|r| {
            (
                (
                    r["key"].as_str().expect("key").to_owned(),
                    r["region"].as_str().expect("region").to_owned(),
                ),
                r["cidr"].as_str().expect("cidr").to_owned(),
            )
        })
        .collect();
    (raw, ranges)
}

/// The reference with one more team, inserted before the others, whose prod account attaches.
fn with_new_team(base: &str) -> String {
    let out = base.replacen(
        "  - name: fraud-detection\n",
        "  - name: anomaly-scoring\n  - name: fraud-detection\n",
        1,
    );
    assert_ne!(out, base, "the reference must list fraud-detection");
    out
}

fn overlapping(ranges: &BTreeMap<(String, String), String>) -> Option<(String, String)> {
    let parse = |c: &str| mlz_model::Cidr::parse(c).expect("cidr");
    let all: Vec<(&(String, String), mlz_model::Cidr)> =
        ranges.iter().map(|(k, c)| (k, parse(c))).collect();
    for (i, (ka, a)) in all.iter().enumerate() {
        for (kb, b) in &all[i + 1..] {
            if ka.1 == kb.1 && a.overlaps(*b) {
                return Some((format!("{ka:?} {a}"), format!("{kb:?} {b}")));
            }
        }
    }
    None
}

#[test]
fn adding_a_team_in_the_middle_keeps_every_existing_range() {
    let (raw, before) = plan(REFERENCE_CONFIG, &mlz_model::NoFiles);
    assert!(!before.is_empty());
    let config = with_new_team(REFERENCE_CONFIG).replacen(
        "  ranges:\n    Data Lake:",
        "  addressPlan: address-plan.json\n  ranges:\n    Data Lake:",
        1,
    );
    let (_, after) = plan(&config, &OneFile(raw));
    for (k, cidr) in &before {
        assert_eq!(after.get(k), Some(cidr), "{k:?} moved");
    }
    let new: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert!(!new.is_empty(), "the new team's prod account attaches");
    assert!(
        new.iter()
            .all(|(key, _)| key.starts_with("anomaly-scoring")),
        "{new:?}"
    );
    assert_eq!(overlapping(&after), None);
}

#[test]
fn without_the_previous_plan_insertion_order_decides() {
    // What addressPlan protects against: allocated in config order, a team inserted first
    // moves later accounts. (Documented: commit the plan and point addressPlan at it.)
    let (_, before) = plan(REFERENCE_CONFIG, &mlz_model::NoFiles);
    let (_, after) = plan(&with_new_team(REFERENCE_CONFIG), &mlz_model::NoFiles);
    assert!(before.iter().any(|(k, c)| after.get(k) != Some(c)));
    assert_eq!(overlapping(&after), None);
}

#[test]
fn pinned_ranges_are_kept_and_others_avoid_them() {
    let (_, ranges) = plan(REFERENCE_CONFIG, &mlz_model::NoFiles);
    assert_eq!(
        ranges[&("Data Lake".to_owned(), "eu-west-1".to_owned())],
        "10.0.64.0/20"
    );
    assert_eq!(overlapping(&ranges), None);
}

#[test]
fn each_region_has_a_hub_with_separate_segment_route_tables() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/reference/expected/network");
    // The attaching blueprint deploys in the home region only: no hub elsewhere.
    assert!(!dir.join("transit-gateway-eu-central-1.yaml").exists());
    for region in ["eu-west-1"] {
        let text = std::fs::read_to_string(dir.join(format!("transit-gateway-{region}.yaml")))
            .expect("hub template");
        let t = mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json();
        let tgw = &t["Resources"]["TransitGateway"]["Properties"];
        // Segments stay apart: nothing lands in a default route table.
        assert_eq!(tgw["DefaultRouteTableAssociation"], "disable");
        assert_eq!(tgw["DefaultRouteTablePropagation"], "disable");
        assert_eq!(tgw["AutoAcceptSharedAttachments"], "enable");
        for seg in ["RouteTableProd", "RouteTableNonprod"] {
            assert_eq!(
                t["Resources"][seg]["Type"], "AWS::EC2::TransitGatewayRouteTable",
                "{region} {seg}"
            );
        }
        let share = &t["Resources"]["HubShare"]["Properties"];
        assert_eq!(share["AllowExternalPrincipals"], false);
        // The OUs of the attaching accounts: Infrastructure, Workloads, Prod, NonProd (test
        // accounts), Deployments.
        assert_eq!(
            share["Principals"].as_array().map(Vec::len),
            Some(5),
            "the attaching accounts' OUs"
        );
    }
}

#[test]
fn exactly_the_corporate_accounts_attach() {
    let l = mlz_model::load("platform.yaml", REFERENCE_CONFIG, &mlz_model::NoFiles);
    let p = l.platform.expect("reference");
    let ct = p.control_tower.as_ref().expect("control tower");
    let corporate: std::collections::BTreeSet<String> = p
        .accounts
        .iter()
        .filter(|a| {
            a.blueprint
                .is_some_and(|b| ct.blueprints[b].name == "corporate-network")
        })
        .map(|a| a.key.clone())
        .collect();
    let (_, ranges) = plan(REFERENCE_CONFIG, &mlz_model::NoFiles);
    let attached: std::collections::BTreeSet<String> = ranges
        .keys()
        .filter(|(_, region)| region == "eu-west-1")
        .map(|(key, _)| key.clone())
        .collect();
    assert!(!corporate.is_empty());
    assert_eq!(attached, corporate);
    // Dev accounts (internet-only) keep direct internet access; test (pre-production)
    // accounts attach, in the nonprod segment.
    assert!(attached.iter().all(|k| !k.ends_with("-dev")));
    assert!(attached.iter().any(|k| k.ends_with("-test")));
    // Their vending requests carry their planned range.
    let files = reference_files();
    for a in &p.accounts {
        let Some(doc) = files.get(&format!(
            "vending/{}.json",
            a.key.to_ascii_lowercase().replace(' ', "-")
        )) else {
            continue;
        };
        let v: Value = serde_json::from_slice(doc).expect("json");
        let cidr = v["blueprint"]["parameters"]["VpcCidr"].as_str();
        let planned = ranges
            .get(&(a.key.clone(), "eu-west-1".to_owned()))
            .map(String::as_str);
        if corporate.contains(&a.key) {
            assert_eq!(cidr, planned, "{} gets its planned range", a.name);
        } else {
            // Others get no planned range (a sandbox keeps its blueprint's default).
            assert!(planned.is_none(), "{}", a.name);
        }
    }
}

#[test]
fn an_attaching_blueprint_in_two_regions_with_supernets_is_an_error() {
    // AFC gives a blueprint one set of parameters for all its regions: one VpcCidr for two
    // regions would build the same range in both.
    let text = REFERENCE_CONFIG
        .replace(
            "    - name: corporate-network\n      ous: [Infrastructure, Workloads, Deployments]\n",
            "    - name: corporate-network\n      ous: [Infrastructure, Workloads, Deployments]\n      regions: [eu-west-1, eu-central-1]\n",
        )
        .replace(
            "supernets: { eu-west-1: 10.0.0.0/14 }",
            "supernets: { eu-west-1: 10.0.0.0/14, eu-central-1: 10.8.0.0/14 }",
        );
    assert_ne!(text, REFERENCE_CONFIG);
    let l = mlz_model::load("platform.yaml", &text, &mlz_model::NoFiles);
    let codes: Vec<&str> = l.diagnostics.iter().map(|d| d.code).collect();
    assert!(codes.contains(&"attach-blueprint-regions"), "{codes:?}");
    assert!(l.platform.is_none());
}

/// The reference output's files, by path.
fn reference_files() -> BTreeMap<String, Vec<u8>> {
    match compile(
        "platform.yaml",
        REFERENCE_CONFIG,
        &mlz_model::NoFiles,
        Options::default(),
    ) {
        Outcome::Generated { output, .. } => output.files.into_iter().collect(),
        Outcome::Invalid { report } | Outcome::Failed { report } => panic!("{report}"),
    }
}

/// The reference output, each template as JSON, by path.
fn reference_templates() -> BTreeMap<String, Value> {
    reference_files()
        .iter()
        .filter(|(k, _)| k.ends_with(".yaml"))
        .map(|(k, v)| {
            let text = String::from_utf8(v.clone()).expect("utf-8");
            (
                k.clone(),
                mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json(),
            )
        })
        .collect()
}

fn routes_to<'a>(t: &'a Value, table: &str, target: &str) -> Vec<&'a Value> {
    resources(t, "AWS::EC2::Route")
        .map(|(_, r)| &r["Properties"])
        .filter(|p| p["RouteTableId"]["Ref"] == table && !p[target].is_null())
        .collect()
}

/// Studio (VpcOnly) reaches the SageMaker API and runtime, STS, ECR, CloudWatch Logs and KMS
/// through NAT, and S3 through a gateway endpoint (SageMaker developer guide, "Connect Studio
/// in a VPC to external resources"): follow each blueprint VPC's default route to the
/// internet gateway.
#[test]
fn every_blueprint_vpc_has_a_path_to_aws_services() {
    let t = reference_templates();
    let s3_endpoint_on = |t: &Value, table: &str| {
        resources(t, "AWS::EC2::VPCEndpoint").any(|(_, r)| {
            r["Properties"]["VpcEndpointType"] == "Gateway"
                && r["Properties"]["ServiceName"]["Fn::Sub"]
                    .as_str()
                    .is_some_and(|s| s.ends_with(".s3"))
                && r["Properties"]["RouteTableIds"]
                    .as_array()
                    .is_some_and(|ids| ids.iter().any(|i| i["Ref"] == table))
        })
    };
    // Internet-only blueprints: private subnets → their own NAT gateway → internet gateway.
    for name in ["internet-only", "sandbox"] {
        let b = &t[&format!("blueprints/{name}.yaml")];
        assert_eq!(
            routes_to(b, "PrivateRouteTable", "NatGatewayId").len(),
            1,
            "{name}"
        );
        assert_eq!(
            routes_to(b, "PublicRouteTable", "GatewayId").len(),
            1,
            "{name}"
        );
        assert!(
            s3_endpoint_on(b, "PrivateRouteTable"),
            "{name}: S3 gateway endpoint"
        );
    }
    // Corporate network: private subnets → Transit Gateway.
    let b = &t["blueprints/corporate-network.yaml"];
    let default = routes_to(b, "PrivateRouteTable", "TransitGatewayId");
    assert_eq!(default.len(), 1);
    assert_eq!(default[0]["DestinationCidrBlock"], "0.0.0.0/0");
    assert!(s3_endpoint_on(b, "PrivateRouteTable"));
    // ... → every segment's table sends 0.0.0.0/0 to the egress VPC's attachment ...
    let hub = &t["network/transit-gateway-eu-west-1.yaml"];
    let egress = &t["network/egress-eu-west-1.yaml"];
    let segment_tables: Vec<String> = resources(hub, "AWS::EC2::TransitGatewayRouteTable")
        .map(|(id, _)| id.clone())
        .filter(|id| id.starts_with("RouteTable"))
        .collect();
    assert_eq!(segment_tables.len(), 2);
    for rt in &segment_tables {
        let export = format!("mlz-Network-{rt}");
        let defaults: Vec<&Value> = resources(egress, "AWS::EC2::TransitGatewayRoute")
            .map(|(_, r)| &r["Properties"])
            .filter(|p| {
                p["TransitGatewayRouteTableId"]["Fn::ImportValue"] == export.as_str()
                    && p["DestinationCidrBlock"] == "0.0.0.0/0"
            })
            .collect();
        assert_eq!(defaults.len(), 1, "{rt}: one default route");
        assert_eq!(
            defaults[0]["TransitGatewayAttachmentId"]["Ref"],
            "Attachment"
        );
    }
    // ... whose attachment subnets send it to a NAT gateway in their zone, and the NAT
    // gateways' subnets to the internet gateway, with the way back to every supernet.
    for az in ["A", "B"] {
        let nat = routes_to(egress, &format!("AttachmentRouteTable{az}"), "NatGatewayId");
        assert_eq!(nat.len(), 1, "zone {az}");
        assert_eq!(nat[0]["NatGatewayId"]["Ref"], format!("NatGateway{az}"));
        assert_eq!(
            egress["Resources"][format!("NatGateway{az}")]["Properties"]["SubnetId"]["Ref"],
            format!("PublicSubnet{az}")
        );
    }
    assert_eq!(routes_to(egress, "PublicRouteTable", "GatewayId").len(), 1);
    let back: Vec<&str> = routes_to(egress, "PublicRouteTable", "TransitGatewayId")
        .iter()
        .filter_map(|p| p["DestinationCidrBlock"].as_str())
        .collect();
    assert_eq!(back, ["10.4.0.0/14", "10.0.0.0/14"]);
    // The egress attachment is associated with the egress table, which every attachment
    // propagates into.
    assert_eq!(
        egress["Resources"]["AttachmentAssociation"]["Properties"]["TransitGatewayRouteTableId"]
            ["Fn::ImportValue"],
        "mlz-Network-EgressRouteTable"
    );
    // Studio's security group lets HTTPS out to the AWS endpoints, and its apps reach each
    // other and their EFS.
    let d = &t["products/analytics/studio-domain.yaml"];
    let sg = &d["Resources"]["DomainSecurityGroup"]["Properties"]["SecurityGroupEgress"];
    assert!(sg
        .as_array()
        .expect("egress")
        .iter()
        .any(|r| r["CidrIp"] == "0.0.0.0/0" && r["FromPort"] == 443 && r["ToPort"] == 443));
    assert_eq!(
        d["Resources"]["DomainSecurityGroupSelfEgress"]["Properties"]["DestinationSecurityGroupId"]
            ["Ref"],
        "DomainSecurityGroup"
    );
}

/// No segment reaches another through the egress VPC: each segment's table blackholes the
/// other segments' supernets (more specific than its default route).
#[test]
fn segments_stay_apart_through_the_egress_vpc() {
    let t = reference_templates();
    let egress = &t["network/egress-eu-west-1.yaml"];
    let blackholes: Vec<(String, String)> = resources(egress, "AWS::EC2::TransitGatewayRoute")
        .map(|(_, r)| &r["Properties"])
        .filter(|p| p["Blackhole"] == true)
        .map(|p| {
            (
                p["TransitGatewayRouteTableId"]["Fn::ImportValue"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                p["DestinationCidrBlock"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        blackholes,
        [
            (
                "mlz-Network-RouteTableNonprod".to_owned(),
                "10.0.0.0/14".to_owned()
            ),
            (
                "mlz-Network-RouteTableProd".to_owned(),
                "10.4.0.0/14".to_owned()
            ),
        ]
    );
}

/// Every planned range's attachment is associated with its segment's table and propagated
/// there and into the egress table, by a stack in the hub account: no manual step.
#[test]
fn every_attachment_is_associated_and_propagated_by_the_hub() {
    let t = reference_templates();
    let l = mlz_model::load("platform.yaml", REFERENCE_CONFIG, &mlz_model::NoFiles);
    let p = l.platform.expect("reference");
    let n = p.network.as_ref().expect("network");
    let stacks: Vec<&Value> = t
        .iter()
        .filter(|(k, _)| k.starts_with("network/attachments-eu-west-1"))
        .map(|(_, v)| v)
        .collect();
    assert!(!stacks.is_empty());
    for r in &n.ranges {
        let a = p.account(r.account);
        let seg = format!(
            "mlz-Network-RouteTable{}",
            mlz_cfn::LogicalId::derive("", &n.segments[r.segment].name).expect("id")
        );
        let found = stacks.iter().find_map(|s| {
            let res = &s["Resources"];
            (res[format!("{}Attachment", a.logical_id)]["Type"]
                == "Custom::TransitGatewayAttachment")
                .then_some(res)
        });
        let res = found.unwrap_or_else(|| panic!("{}: no attachment lookup", a.name));
        let table = |suffix: &str| {
            let r = &res[format!("{}{suffix}", a.logical_id)];
            assert_eq!(
                r["Properties"]["TransitGatewayAttachmentId"]["Ref"],
                format!("{}Attachment", a.logical_id)
            );
            (
                r["Type"].as_str().unwrap_or_default().to_owned(),
                r["Properties"]["TransitGatewayRouteTableId"]["Fn::ImportValue"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        };
        assert_eq!(
            table("Association"),
            (
                "AWS::EC2::TransitGatewayRouteTableAssociation".into(),
                seg.clone()
            )
        );
        assert_eq!(
            table("Propagation"),
            ("AWS::EC2::TransitGatewayRouteTablePropagation".into(), seg)
        );
        assert_eq!(
            table("Return"),
            (
                "AWS::EC2::TransitGatewayRouteTablePropagation".into(),
                "mlz-Network-EgressRouteTable".into()
            )
        );
    }
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../fixtures/reference/expected/manifest.json"),
        )
        .expect("manifest"),
    )
    .expect("json");
    assert!(manifest["manualSteps"]
        .as_array()
        .expect("steps")
        .iter()
        .all(|s| s["id"] != "transit-gateway-associations"));
}

/// The products and the Unified Studio blueprint configurations read the platform VPC from
/// the SSM parameters the account's blueprint writes (a weak reference: an export would block
/// every later change of the blueprint's subnets while anything imports it): no VPC or subnet
/// left to fill.
#[test]
fn studio_and_unified_studio_use_the_platform_vpc() {
    let t = reference_templates();
    let ssm = |params: &Value, name: &str, default: &str| {
        let ty = params[name]["Type"].as_str().unwrap_or_default();
        assert!(
            ty == "AWS::SSM::Parameter::Value<String>"
                || ty == "AWS::SSM::Parameter::Value<AWS::EC2::VPC::Id>",
            "{name}: {ty}"
        );
        assert_eq!(params[name]["Default"], default, "{name}");
    };
    for path in [
        "products/analytics/studio-domain.yaml",
        "products/model-deployment/realtime-endpoint.yaml",
    ] {
        let params = &t[path]["Parameters"];
        ssm(params, "VpcId", "/mlz/platform-vpc/id");
        ssm(params, "SubnetIds", "/mlz/platform-vpc/private-subnet-ids");
        assert!(!t[path].to_string().contains("Fn::ImportValue"), "{path}");
    }
    // The launch roles may read those parameters (CloudFormation resolves them as the caller).
    for pf in ["analytics", "model-deployment"] {
        let role = t[&format!("service-catalog/launch-role-{pf}.yaml")].to_string();
        assert!(
            role.contains("ssm:GetParameters")
                && role.contains("parameter/mlz/platform-vpc/id")
                && role.contains("parameter/mlz/platform-vpc/private-subnet-ids")
                && !role.contains("parameter/mlz/platform-vpc/*"),
            "{pf}"
        );
    }
    for b in ["corporate-network", "internet-only", "sandbox"] {
        let res = &t[&format!("blueprints/{b}.yaml")]["Resources"];
        assert_eq!(
            res["PlatformVpcIdParameter"]["Properties"]["Name"], "/mlz/platform-vpc/id",
            "{b}"
        );
        assert_eq!(
            res["PlatformVpcIdParameter"]["Properties"]["Value"]["Ref"], "Vpc",
            "{b}"
        );
        assert_eq!(
            res["PlatformSubnetIdsParameter"]["Properties"]["Name"],
            "/mlz/platform-vpc/private-subnet-ids",
            "{b}"
        );
        assert!(
            t[&format!("blueprints/{b}.yaml")]["Outputs"]
                .as_object()
                .expect("outputs")
                .values()
                .all(|o| o["Export"].is_null()),
            "{b}: no export to lock the VPC"
        );
    }
    let us = &t["unified-studio/blueprints-finance-ml.yaml"];
    ssm(&us["Parameters"], "EuWest1VpcId", "/mlz/platform-vpc/id");
    ssm(
        &us["Parameters"],
        "EuWest1Subnets",
        "/mlz/platform-vpc/private-subnet-ids",
    );
    for (_, r) in resources(us, "AWS::DataZone::EnvironmentBlueprintConfiguration") {
        let rp = &r["Properties"]["RegionalParameters"][0]["Parameters"];
        assert_eq!(rp["VpcId"]["Ref"], "EuWest1VpcId");
        assert_eq!(rp["Subnets"]["Ref"], "EuWest1Subnets");
    }
}

/// The hub account's own spoke attachment is told apart from its egress VPC's.
#[test]
fn the_hub_accounts_lookup_leaves_the_egress_attachment_out() {
    let t = reference_templates();
    let egress = &t["network/egress-eu-west-1.yaml"];
    assert_eq!(
        egress["Outputs"]["AttachmentId"]["Export"]["Name"],
        "mlz-Network-EgressAttachmentId"
    );
    let platform = &t["network/attachments-eu-west-1.yaml"]["Resources"];
    let lookups: Vec<(&String, &Value)> = resources(
        &t["network/attachments-eu-west-1.yaml"],
        "Custom::TransitGatewayAttachment",
    )
    .collect();
    assert!(lookups.len() > 1);
    for (id, r) in lookups {
        let exclude = &r["Properties"]["ExcludeAttachmentIds"];
        if id == "AccountNetworkAttachment" {
            assert_eq!(
                exclude[0]["Fn::ImportValue"],
                "mlz-Network-EgressAttachmentId"
            );
        } else {
            assert!(exclude.is_null(), "{id}");
        }
    }
    assert!(!platform["AccountNetworkAttachment"].is_null());
}

#[test]
fn the_egress_range_is_checked() {
    let cases = [
        (
            "egress: { eu-west-1: 10.255.0.0/24 }",
            "egress: { eu-west-1: 10.255.0.0/24 }",
            None,
        ),
        (
            "egress: { eu-west-1: 10.255.0.0/24 }",
            "egress: { eu-west-1: 10.1.0.0/24 }",
            Some("egress-overlap"),
        ),
        (
            "egress: { eu-west-1: 10.255.0.0/24 }",
            "egress: { eu-west-1: 10.255.0.0/26 }",
            Some("egress-size"),
        ),
        (
            "  egress: { eu-west-1: 10.255.0.0/24 }\n",
            "",
            Some("egress-missing"),
        ),
        (
            "egress: { eu-west-1: 10.255.0.0/24 }",
            "egress: { eu-west-1: 10.255.0.0/24, eu-central-1: 10.254.0.0/24 }",
            Some("egress-unused"),
        ),
    ];
    for (from, to, code) in cases {
        let text = REFERENCE_CONFIG.replacen(from, to, 1);
        if code.is_some() {
            assert_ne!(text, REFERENCE_CONFIG);
        }
        let l = mlz_model::load("platform.yaml", &text, &mlz_model::NoFiles);
        let codes: Vec<&str> = l.diagnostics.iter().map(|d| d.code).collect();
        match code {
            Some(c) => {
                assert_eq!(codes, [c], "{to}");
                let d = &l.diagnostics[0];
                assert!(
                    d.span.is_some() && d.hint.is_some(),
                    "{c}: position and hint"
                );
                assert_eq!(l.platform.is_some(), c == "egress-unused", "{c}");
            }
            None => assert!(codes.is_empty(), "{codes:?}"),
        }
    }
}

#[test]
fn every_zone_of_the_internet_only_blueprint_has_its_own_nat_gateway() {
    // A NAT gateway per Availability Zone, each private subnet routed to its own zone's
    // (VPC user guide, "NAT gateways": zone-independent egress); the public subnets cover
    // every zone the private ones use.
    let t = common::template("reference", "blueprints/internet-only.yaml");
    let r = &t["Resources"];
    let zone = |subnet: &str| r[subnet]["Properties"]["AvailabilityZone"].to_string();
    let mut private = 0;
    for (id, assoc) in r.as_object().expect("resources") {
        if assoc["Type"] != "AWS::EC2::SubnetRouteTableAssociation" {
            continue;
        }
        let subnet = assoc["Properties"]["SubnetId"]["Ref"]
            .as_str()
            .expect("subnet");
        if !subnet.starts_with("PrivateSubnet") {
            continue;
        }
        private += 1;
        let table = assoc["Properties"]["RouteTableId"]["Ref"]
            .as_str()
            .expect("table");
        let route = r
            .as_object()
            .expect("resources")
            .values()
            .find(|x| {
                x["Type"] == "AWS::EC2::Route"
                    && x["Properties"]["RouteTableId"]["Ref"] == table
                    && x["Properties"]["DestinationCidrBlock"] == "0.0.0.0/0"
            })
            .unwrap_or_else(|| panic!("{id}: no default route"));
        let nat = route["Properties"]["NatGatewayId"]["Ref"]
            .as_str()
            .expect("via a NAT gateway");
        let public = r[nat]["Properties"]["SubnetId"]["Ref"]
            .as_str()
            .expect("public subnet");
        assert_eq!(
            zone(public),
            zone(subnet),
            "{subnet} leaves its zone through {nat}"
        );
        // Same condition: no NAT gateway for a zone the VPC does not use, none missing.
        assert_eq!(r[nat]["Condition"], r[subnet]["Condition"], "{nat}");
    }
    assert_eq!(private, 3);
}
