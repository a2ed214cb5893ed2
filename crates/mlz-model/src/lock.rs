//! The lock file: what mlz allocated in earlier runs (VPC ranges, Transit Gateway ASNs),
//! kept beside the config like `Cargo.lock` so that no later change of the config moves an
//! allocation. `mlz generate` writes it; every run reads it first.
//!
//! It is read like the config: parsed into the positioned tree (JSON is YAML), checked field
//! by field, and every problem is a diagnostic with the lock file's line and column.

use std::collections::BTreeMap;

use serde_json::json;

use crate::diag::Diagnostic;
use crate::model::Cidr;
use crate::path::ConfigPath;
use crate::yaml::{Node, NodeValue, Span};

/// The only lock version this mlz reads and writes.
pub const LOCK_VERSION: i64 = 1;

/// Private ASNs a Transit Gateway may take (EC2 API reference, CreateTransitGateway,
/// `AmazonSideAsn`: 64512–65534 or 4200000000–4294967294).
pub fn private_asn(asn: u32) -> bool {
    (64_512..=65_534).contains(&asn) || (4_200_000_000..=4_294_967_294).contains(&asn)
}

/// A lock, read and checked.
#[derive(Clone, Debug, Default)]
pub struct Lock {
    pub file: String,
    pub ranges: Vec<LockedRange>,
    pub asns: Vec<LockedAsn>,
    /// Declared accounts' keys by e-mail (lower case): an account renamed in the config keeps
    /// its key, and so its logical ids and exports, when the config gives it no `key`.
    pub accounts: Vec<(String, String)>,
    /// Vended accounts' vending stacks by account key: an account never moves to another
    /// stack (which would vend it again), even when organization.teamAccountStacks changes.
    pub vending: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
pub struct LockedRange {
    pub key: String,
    pub region: String,
    pub cidr: Cidr,
    /// Where the entry is in the lock file, for errors that name both places.
    pub at: Span,
}

#[derive(Clone, Debug)]
pub struct LockedAsn {
    pub region: String,
    pub asn: u32,
    pub at: Span,
}

impl Lock {
    /// `file:line:col` of an entry, for messages about the config that point at the lock too.
    pub fn place(&self, at: Span) -> String {
        format!("{}:{}:{}", self.file, at.line, at.col)
    }
}

/// What a run allocated, to be written back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Allocations {
    /// (account key, region, range), in-use and reserved alike.
    pub ranges: Vec<(String, String, Cidr)>,
    pub asns: Vec<(String, u32)>,
    /// (e-mail, key) of the declared accounts.
    pub accounts: Vec<(String, String)>,
    /// (account key, vending stack name) of the vended accounts.
    pub vending: Vec<(String, String)>,
}

impl Allocations {
    /// The lock file's text: sorted, so the same allocations give the same bytes.
    pub fn to_text(&self) -> String {
        let mut ranges = self.ranges.clone();
        ranges.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let mut asns = self.asns.clone();
        asns.sort();
        let mut accounts = self.accounts.clone();
        accounts.sort();
        let mut vending = self.vending.clone();
        vending.sort();
        let v = json!({
            "lockVersion": LOCK_VERSION,
            "about": "Written by mlz generate: what mlz allocated, so that later runs keep it. Commit it beside the config. A range whose account left the network stays reserved until you delete its entry.",
            "accounts": accounts.iter().map(|(e, k)| (e.clone(), json!(k))).collect::<serde_json::Map<_, _>>(),
            "vendingStacks": vending.iter().map(|(k, s)| (k.clone(), json!(s))).collect::<serde_json::Map<_, _>>(),
            "network": {
                "ranges": ranges.iter().map(|(k, r, c)| json!({ "key": k, "region": r, "cidr": c.to_string() })).collect::<Vec<_>>(),
                "transitGatewayAsns": asns.iter().map(|(r, a)| (r.clone(), json!(a))).collect::<serde_json::Map<_, _>>(),
            },
        });
        let mut s = serde_json::to_string_pretty(&v).expect("string-keyed JSON always serializes");
        s.push('\n');
        s
    }
}

/// Reads a lock file: the lock, or every problem found in it.
pub fn read(file: &str, text: &str) -> Result<Lock, Vec<Diagnostic>> {
    let root = match crate::yaml::parse(text) {
        Ok(n) => n,
        Err(e) => {
            return Err(vec![Diagnostic::error(
                "lock",
                file,
                Some(e.span),
                ConfigPath::root(),
                format!("the lock is not valid JSON: {}", e.message),
            )
            .hint("restore it from version control, or delete it to let mlz write a new one (allocations may then move)")
            .without_path()]);
        }
    };
    let mut r = Reader {
        file,
        errs: Vec::new(),
    };
    let lock = r.lock(&root);
    if r.errs.is_empty() {
        Ok(lock)
    } else {
        Err(r.errs)
    }
}

struct Reader<'a> {
    file: &'a str,
    errs: Vec<Diagnostic>,
}

fn kind(n: &Node) -> &'static str {
    match n.value {
        NodeValue::Null => "null",
        NodeValue::Bool(_) => "a boolean",
        NodeValue::Int(_) | NodeValue::Float(_) => "a number",
        NodeValue::Str(_) => "a string",
        NodeValue::Seq(_) => "a list",
        NodeValue::Map(_) => "an object",
    }
}

impl Reader<'_> {
    fn err(&mut self, at: Span, path: &ConfigPath, msg: String, expected: &str) {
        self.errs.push(
            Diagnostic::error("lock", self.file, Some(at), path.clone(), msg)
                .expected(expected)
                .hint("the lock is written by mlz generate: restore it from version control, or fix the entry by hand"),
        );
    }

    fn fields<'n>(
        &mut self,
        n: &'n Node,
        path: &ConfigPath,
        known: &[&str],
    ) -> BTreeMap<String, &'n Node> {
        let mut out = BTreeMap::new();
        let NodeValue::Map(entries) = &n.value else {
            self.err(
                n.span,
                path,
                format!("{} here, not an object", kind(n)),
                "an object",
            );
            return out;
        };
        for e in entries {
            let key = e.key.clone();
            if !known.contains(&key.as_str()) {
                self.err(
                    e.key_span,
                    &path.key(&key),
                    format!("unknown key {key:?}"),
                    &format!("one of: {}", known.join(", ")),
                );
                continue;
            }
            out.insert(key, &e.value);
        }
        out
    }

    fn string(&mut self, n: &Node, path: &ConfigPath) -> Option<String> {
        match &n.value {
            NodeValue::Str(s) => Some(s.clone()),
            _ => {
                self.err(
                    n.span,
                    path,
                    format!("{} here, not a string", kind(n)),
                    "a string",
                );
                None
            }
        }
    }

    fn lock(&mut self, root: &Node) -> Lock {
        let base = ConfigPath::root();
        let mut lock = Lock {
            file: self.file.to_owned(),
            ..Lock::default()
        };
        let top = self.fields(
            root,
            &base,
            &[
                "lockVersion",
                "about",
                "accounts",
                "vendingStacks",
                "network",
            ],
        );
        if let Some(v) = top.get("vendingStacks") {
            self.vending_stacks(v, &mut lock);
        }
        if let Some(accounts) = top.get("accounts") {
            self.account_keys(accounts, &mut lock);
        }
        match top.get("lockVersion").map(|n| &n.value) {
            Some(NodeValue::Int(LOCK_VERSION)) => {}
            Some(_) => {
                let n = top["lockVersion"];
                self.err(
                    n.span,
                    &base.key("lockVersion"),
                    "a lock version this mlz does not read".into(),
                    &format!("{LOCK_VERSION}"),
                );
            }
            None => self.err(
                root.span,
                &base,
                "the lock has no lockVersion".into(),
                &format!("\"lockVersion\": {LOCK_VERSION}"),
            ),
        }
        let Some(net) = top.get("network") else {
            return lock;
        };
        let np = base.key("network");
        let net = self.fields(net, &np, &["ranges", "transitGatewayAsns"]);
        if let Some(ranges) = net.get("ranges") {
            self.ranges(ranges, &mut lock);
        }
        if let Some(asns) = net.get("transitGatewayAsns") {
            self.asns(asns, &mut lock);
        }
        lock
    }

    /// `vendingStacks`: account key → vending stack.
    fn vending_stacks(&mut self, v: &Node, lock: &mut Lock) {
        let base = ConfigPath::root();
        let vp = base.key("vendingStacks");
        match &v.value {
            NodeValue::Map(entries) => {
                for e in entries {
                    let p = vp.key(&e.key);
                    if let Some(stack) = self.string(&e.value, &p) {
                        if stack.starts_with("vending-")
                            && stack
                                .chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                        {
                            lock.vending.push((e.key.clone(), stack));
                        } else {
                            self.err(
                                e.value.span,
                                &p,
                                format!("{stack:?} is not a vending stack name"),
                                "vending-accounts-NN or vending-team-accounts-NNN",
                            );
                        }
                    }
                }
            }
            _ => self.err(
                v.span,
                &vp,
                format!("{} here, not an object", kind(v)),
                "account key → vending stack",
            ),
        }
    }

    /// `accounts`: e-mail → account key.
    fn account_keys(&mut self, accounts: &Node, lock: &mut Lock) {
        let base = ConfigPath::root();
        let ap = base.key("accounts");
        match &accounts.value {
            NodeValue::Map(entries) => {
                for e in entries {
                    if let Some(key) = self.string(&e.value, &ap.key(&e.key)) {
                        if key.chars().any(char::is_alphanumeric) {
                            lock.accounts.push((e.key.to_ascii_lowercase(), key));
                        } else {
                            self.err(
                                e.value.span,
                                &ap.key(&e.key),
                                format!("{key:?} is not an account key"),
                                "a key with letters or digits",
                            );
                        }
                    }
                }
            }
            _ => self.err(
                accounts.span,
                &ap,
                format!("{} here, not an object", kind(accounts)),
                "e-mail → account key",
            ),
        }
    }

    /// `network.ranges`: each account's VPC range per region.
    fn ranges(&mut self, ranges: &Node, lock: &mut Lock) {
        let np = ConfigPath::root().key("network");
        let rp = np.key("ranges");
        match &ranges.value {
            NodeValue::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let ip = rp.index(i);
                    let f = self.fields(item, &ip, &["key", "region", "cidr"]);
                    let mut get = |name: &str| match f.get(name) {
                        Some(n) => self.string(n, &ip.key(name)).map(|s| (s, n.span)),
                        None => {
                            self.err(
                                item.span,
                                &ip,
                                format!("the range has no {name:?}"),
                                "key, region and cidr",
                            );
                            None
                        }
                    };
                    let (key, region, cidr) = (get("key"), get("region"), get("cidr"));
                    let (Some((key, _)), Some((region, _)), Some((cidr, at))) = (key, region, cidr)
                    else {
                        continue;
                    };
                    match Cidr::parse(&cidr) {
                        Some(c) => lock.ranges.push(LockedRange {
                            key,
                            region,
                            cidr: c,
                            at: item.span,
                        }),
                        None => self.err(
                            at,
                            &ip.key("cidr"),
                            format!("{cidr:?} is not an IPv4 range"),
                            "an address and prefix length with no host bits set, such as 10.0.16.0/20",
                        ),
                    }
                }
            }
            _ => self.err(
                ranges.span,
                &rp,
                format!("{} here, not a list", kind(ranges)),
                "a list of ranges",
            ),
        }
    }

    /// `network.transitGatewayAsns`: region → private ASN.
    fn asns(&mut self, asns: &Node, lock: &mut Lock) {
        let np = ConfigPath::root().key("network");
        let ap = np.key("transitGatewayAsns");
        match &asns.value {
            NodeValue::Map(entries) => {
                for e in entries {
                    let region = e.key.clone();
                    let p = ap.key(&region);
                    match e.value.value {
                        NodeValue::Int(n) if u32::try_from(n).is_ok_and(private_asn) => {
                            lock.asns.push(LockedAsn {
                                region,
                                asn: n as u32,
                                at: e.value.span,
                            });
                        }
                        _ => self.err(
                            e.value.span,
                            &p,
                            "not a private ASN a Transit Gateway may take".into(),
                            "64512 to 65534, or 4200000000 to 4294967294",
                        ),
                    }
                }
            }
            _ => self.err(
                asns.span,
                &ap,
                format!("{} here, not an object", kind(asns)),
                "region → ASN",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back() {
        let a = Allocations {
            ranges: vec![(
                "Data Lake".into(),
                "eu-west-1".into(),
                Cidr::parse("10.0.64.0/20").unwrap(),
            )],
            asns: vec![("eu-west-1".into(), 64512)],
            accounts: vec![("a@example.com".into(), "Data Lake".into())],
            vending: vec![("Data Lake".into(), "vending-accounts-01".into())],
        };
        let l = read("platform.lock.json", &a.to_text()).unwrap();
        assert_eq!(l.ranges.len(), 1);
        assert_eq!(l.ranges[0].cidr.to_string(), "10.0.64.0/20");
        assert_eq!(l.asns[0].asn, 64512);
        assert_eq!(
            l.accounts,
            [("a@example.com".to_owned(), "Data Lake".to_owned())]
        );
    }

    #[test]
    fn every_bad_entry_is_reported_with_its_place() {
        let text = "{\n  \"lockVersion\": 1,\n  \"network\": {\n    \"ranges\": [\n      { \"key\": \"A\", \"region\": \"eu-west-1\", \"cidr\": \"10.0.0.1/20\" },\n      { \"key\": 3, \"region\": \"eu-west-1\", \"cidr\": \"10.0.16.0/20\" }\n    ],\n    \"transitGatewayAsns\": { \"eu-west-1\": 100 },\n    \"extra\": []\n  }\n}\n";
        let errs = read("p.lock.json", text).unwrap_err();
        let at: Vec<(usize, String)> = errs
            .iter()
            .map(|d| (d.span.map(|s| s.line).unwrap_or(0), d.path.to_string()))
            .collect();
        assert_eq!(errs.len(), 4, "{at:?}");
        assert!(at.contains(&(5, "network.ranges[0].cidr".into())), "{at:?}");
        assert!(at.contains(&(6, "network.ranges[1].key".into())), "{at:?}");
        assert!(
            at.contains(&(8, "network.transitGatewayAsns[\"eu-west-1\"]".into())),
            "{at:?}"
        );
        assert!(at.contains(&(9, "network.extra".into())), "{at:?}");
        assert!(read("p.lock.json", "{ not json").is_err());
        assert!(read("p.lock.json", "\u{0}\u{1}").is_err());
    }
}
