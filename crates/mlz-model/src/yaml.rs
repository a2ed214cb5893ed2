//! YAML text → a tree that remembers where every key and value came from.
//!
//! We read saphyr-parser's event stream ourselves (see docs/adr/0001-yaml-parser.md):
//! serde_yaml is deprecated and drops positions, and positions are what make an error
//! message point at the user's line. Scalars are resolved with the YAML 1.2 core schema,
//! so `yes` is a string and `012345678901` is a number (which the schema then rejects
//! with a hint to quote it).

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YSpan};

use crate::path::{ConfigPath, Segment};

/// A position in a source file: 1-based line and column, and the column just past the end
/// of the token when it ends on the same line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub line: usize,
    pub col: usize,
    pub end_col: Option<usize>,
}

impl Span {
    fn from_yaml(s: YSpan) -> Span {
        let line = s.start.line();
        let col = s.start.col() + 1;
        let end_col =
            (s.end.line() == line && s.end.col() > s.start.col()).then(|| s.end.col() + 1);
        Span { line, col, end_col }
    }

    pub fn point(line: usize, col: usize) -> Span {
        Span {
            line,
            col,
            end_col: Some(col + 1),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: NodeValue,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Node,
}

/// A problem with the YAML itself, before any meaning is given to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
}

/// Upper bound on nodes, counting alias expansions, so a hostile file cannot exhaust memory.
const MAX_NODES: usize = 1_000_000;

/// Parses one YAML document of the config language. An empty document is `Null`.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    parse_with(text, false)
}

/// Parses a CloudFormation template written in YAML: the short-form tags (`!Ref x`,
/// `!GetAtt a.b`, `!Sub …`) become their long form (`{Ref: x}`, `{Fn::GetAtt: a.b}`), so the
/// result is the template's JSON form.
pub fn parse_cfn(text: &str) -> Result<Node, YamlError> {
    parse_with(text, true)
}

/// The long-form key for a CloudFormation short-form tag.
fn cfn_tag(suffix: &str) -> Option<String> {
    const FNS: &[&str] = &[
        "Base64",
        "Cidr",
        "FindInMap",
        "GetAtt",
        "GetAZs",
        "ImportValue",
        "Join",
        "Select",
        "Split",
        "Sub",
        "If",
        "Equals",
        "Not",
        "And",
        "Or",
        "Length",
        "ToJsonString",
        // Rule functions (the Rules section, passed through as written).
        "Contains",
        "EachMemberEquals",
        "EachMemberIn",
        "RefAll",
        "ValueOf",
        "ValueOfAll",
    ];
    match suffix {
        "Ref" | "Condition" => Some(suffix.to_owned()),
        s if FNS.contains(&s) => Some(format!("Fn::{s}")),
        _ => None,
    }
}

fn wrap_tag(key: String, span: Span, inner: Node) -> Node {
    Node {
        span,
        value: NodeValue::Map(vec![Entry {
            key,
            key_span: span,
            value: inner,
        }]),
    }
}

fn parse_with(text: &str, cfn_tags: bool) -> Result<Node, YamlError> {
    let mut b = Builder {
        anchors: HashMap::new(),
        nodes: 0,
        docs: 0,
    };
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    while let Some(ev) = parser.next_event() {
        let (ev, yspan) = ev.map_err(|e| {
            let (line, col) = (e.marker().line(), e.marker().col() + 1);
            YamlError {
                span: Span::point(line, col),
                message: format!("this is not valid YAML: {}", e.info()),
                hint: syntax_hint(e.info(), text.lines().nth(line.wrapping_sub(1)), col),
            }
        })?;
        let span = Span::from_yaml(yspan);
        let is_map = matches!(ev, Event::MappingStart(..));
        let done = match ev {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                b.docs += 1;
                if b.docs > 1 {
                    return Err(YamlError {
                        span,
                        message: "the file holds more than one YAML document".into(),
                        hint: Some(
                            "keep the whole platform in one document: remove the extra `---`"
                                .into(),
                        ),
                    });
                }
                None
            }
            Event::Alias(id) => match b.anchors.get(&id) {
                Some(n) => {
                    let n = n.clone();
                    b.count(&n, span)?;
                    Some(Node {
                        span,
                        value: n.value,
                    })
                }
                None => {
                    return Err(YamlError {
                        span,
                        message: "alias to an unknown anchor".into(),
                        hint: None,
                    })
                }
            },
            Event::Scalar(text, style, anchor, tag) => {
                let wrap = match &tag {
                    Some(t) if cfn_tags && t.handle == "!" => cfn_tag(&t.suffix),
                    _ => None,
                };
                let value = match tag {
                    _ if wrap.is_some() => NodeValue::Str(text.into_owned()),
                    Some(t) if t.handle == "!!" && t.suffix == "str" => NodeValue::Str(text.into_owned()),
                    Some(t) => {
                        return Err(YamlError {
                            span,
                            message: format!("YAML tag `{}{}` is not part of the mlz config language", t.handle, t.suffix),
                            hint: Some("write the plain value; CloudFormation functions such as !Ref belong in templates, not here".into()),
                        })
                    }
                    None if style == ScalarStyle::Plain => resolve_plain(&text),
                    None => NodeValue::Str(text.into_owned()),
                };
                b.bump(span)?;
                let mut n = Node { span, value };
                if let Some(key) = wrap {
                    n = wrap_tag(key, span, n);
                }
                if anchor > 0 {
                    b.anchors.insert(anchor, n.clone());
                }
                Some(n)
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) => {
                let wrap = match &tag {
                    Some(t) if cfn_tags && t.handle == "!" => cfn_tag(&t.suffix),
                    _ => None,
                };
                if let (Some(t), None) = (tag, &wrap) {
                    return Err(YamlError {
                        span,
                        message: format!(
                            "YAML tag `{}{}` is not part of the mlz config language",
                            t.handle, t.suffix
                        ),
                        hint: None,
                    });
                }
                b.bump(span)?;
                stack.push(Frame {
                    span,
                    anchor,
                    value: if is_map {
                        NodeValue::Map(Vec::new())
                    } else {
                        NodeValue::Seq(Vec::new())
                    },
                    pending_key: None,
                    keys: HashSet::new(),
                    wrap,
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let f = stack.pop().ok_or_else(|| YamlError {
                    span,
                    message: "unbalanced YAML structure".into(),
                    hint: None,
                })?;
                let mut n = Node {
                    span: f.span,
                    value: f.value,
                };
                if let Some(key) = f.wrap {
                    n = wrap_tag(key, f.span, n);
                }
                if f.anchor > 0 {
                    b.anchors.insert(f.anchor, n.clone());
                }
                Some(n)
            }
        };
        if let Some(n) = done {
            match stack.last_mut() {
                None => root = Some(n),
                Some(top) => top.push(n)?,
            }
        }
    }
    Ok(root.unwrap_or(Node {
        span: Span::point(1, 1),
        value: NodeValue::Null,
    }))
}

/// What most likely went wrong, from the parser's message and the line it stopped on: a
/// tab, a key indented out of line, a `: ` inside a plain value, an unclosed flow collection.
fn syntax_hint(info: &str, line: Option<&str>, col: usize) -> Option<String> {
    let line = line.unwrap_or("");
    let before: String = line.chars().take(col.saturating_sub(1)).collect();
    let hint = if info.contains("tab") || line.starts_with('\t') {
        "YAML indents with spaces only: replace the tabs at the start of the line with spaces"
    } else if info.contains("mapping values are not allowed") {
        // A `: ` before the column on the same line: the value itself holds a colon.
        if before.trim_start().trim_start_matches("- ").contains(": ") {
            "a value that contains \": \" must be quoted, for example name: \"a: b\""
        } else {
            "this key is indented further than the keys above it: keys of one mapping start in the same column"
        }
    } else if info.contains("did not find expected key")
        || info.contains("did not find expected '-'")
    {
        "the indentation of this line does not match the lines above: keys of one mapping, and the `- ` items of one list, start in the same column"
    } else if info.contains("expected ',' or '}'") || info.contains("expected ',' or ']'") {
        "a flow collection ({ … } or [ … ]) is not closed before this point: check for a missing `}`, `]` or `,` on the lines above"
    } else if info.contains("cannot start any token") || info.contains("unexpected character") {
        "a plain value cannot start with @ or `: quote it"
    } else {
        return None;
    };
    Some(hint.to_owned())
}

struct Builder {
    anchors: HashMap<usize, Node>,
    nodes: usize,
    docs: usize,
}

impl Builder {
    fn bump(&mut self, span: Span) -> Result<(), YamlError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(YamlError {
                span,
                message: format!("the document expands to more than {MAX_NODES} values"),
                hint: Some("check for aliases that refer to each other".into()),
            });
        }
        Ok(())
    }

    fn count(&mut self, n: &Node, span: Span) -> Result<(), YamlError> {
        self.bump(span)?;
        match &n.value {
            NodeValue::Seq(items) => items.iter().try_for_each(|c| self.count(c, span)),
            NodeValue::Map(entries) => entries.iter().try_for_each(|e| self.count(&e.value, span)),
            _ => Ok(()),
        }
    }
}

/// From this many entries on, a mapping keeps a set of its keys.
const KEY_SET_FROM: usize = 16;

struct Frame {
    span: Span,
    anchor: usize,
    value: NodeValue,
    pending_key: Option<(String, Span)>,
    /// The keys of a large mapping, for the duplicate check (a scan of the entries would be
    /// quadratic: the lock's maps have an entry per account). Empty below `KEY_SET_FROM`.
    keys: HashSet<String>,
    /// A CloudFormation short-form tag on this collection: wrap it when it ends.
    wrap: Option<String>,
}

impl Frame {
    fn push(&mut self, n: Node) -> Result<(), YamlError> {
        match &mut self.value {
            NodeValue::Seq(items) => items.push(n),
            NodeValue::Map(entries) => match self.pending_key.take() {
                None => {
                    let key = match n.value {
                        NodeValue::Str(s) => s,
                        NodeValue::Bool(b) => b.to_string(),
                        NodeValue::Int(i) => i.to_string(),
                        NodeValue::Null => "null".into(),
                        NodeValue::Float(_) | NodeValue::Seq(_) | NodeValue::Map(_) => {
                            return Err(YamlError {
                                span: n.span,
                                message: "a mapping key must be a plain string".into(),
                                hint: None,
                            })
                        }
                    };
                    if entries.len() == KEY_SET_FROM {
                        self.keys = entries.iter().map(|e| e.key.clone()).collect();
                    }
                    let duplicate = if entries.len() < KEY_SET_FROM {
                        entries.iter().any(|e| e.key == key)
                    } else {
                        !self.keys.insert(key.clone())
                    };
                    if duplicate {
                        return Err(YamlError {
                            span: n.span,
                            message: format!("duplicate key `{key}`"),
                            hint: Some("YAML would silently keep only one of them: remove or rename the other".into()),
                        });
                    }
                    self.pending_key = Some((key, n.span));
                }
                Some((key, key_span)) => entries.push(Entry {
                    key,
                    key_span,
                    value: n,
                }),
            },
            _ => {}
        }
        Ok(())
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn resolve_plain(s: &str) -> NodeValue {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return NodeValue::Null,
        "true" | "True" | "TRUE" => return NodeValue::Bool(true),
        "false" | "False" | "FALSE" => return NodeValue::Bool(false),
        _ => {}
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = s.parse::<i64>() {
            return NodeValue::Int(i);
        }
        if let Ok(f) = s.parse::<f64>() {
            return NodeValue::Float(f);
        }
    }
    if let Some(hex) = s.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return NodeValue::Int(i);
        }
    }
    if let Some(oct) = s.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return NodeValue::Int(i);
        }
    }
    let looks_numeric = digits.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    if looks_numeric && !s.contains(['_', ':']) {
        if let Ok(f) = s.parse::<f64>() {
            if !s.eq_ignore_ascii_case("inf") && !s.eq_ignore_ascii_case("nan") {
                return NodeValue::Float(f);
            }
        }
    }
    NodeValue::Str(s.to_owned())
}

impl Node {
    /// The JSON form, for schema validation and typed deserialization.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            NodeValue::Null => J::Null,
            NodeValue::Bool(b) => J::Bool(*b),
            NodeValue::Int(i) => J::from(*i),
            NodeValue::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            NodeValue::Str(s) => J::String(s.clone()),
            NodeValue::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// The value at `path`, and the span of its key when the last step is a key.
    pub fn find(&self, path: &ConfigPath) -> Option<(&Node, Option<Span>)> {
        let mut node = self;
        let mut key_span = None;
        for seg in path.segments() {
            match (seg, &node.value) {
                (Segment::Key(k), NodeValue::Map(entries)) => {
                    let e = entries.iter().find(|e| &e.key == k)?;
                    key_span = Some(e.key_span);
                    node = &e.value;
                }
                (Segment::Index(i), NodeValue::Seq(items)) => {
                    node = items.get(*i)?;
                    key_span = None;
                }
                _ => return None,
            }
        }
        Some((node, key_span))
    }

    /// The best span for `path`: the value's own, or the deepest ancestor that exists.
    pub fn span_of(&self, path: &ConfigPath) -> Span {
        let mut p = path.clone();
        loop {
            if let Some((n, _)) = self.find(&p) {
                return n.span;
            }
            if !p.pop() {
                return self.span;
            }
        }
    }

    /// The span of the key that names `path` (for unknown-key errors), else the value's.
    pub fn key_span_of(&self, path: &ConfigPath) -> Span {
        match self.find(path) {
            Some((_, Some(k))) => k,
            Some((n, None)) => n.span,
            None => self.span_of(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_and_core_schema() {
        let n = parse("a:\n  b: 012345678901\n  c: 'x'\n  d: yes\n  e: [1, 2.5, null]\n").unwrap();
        let p = ConfigPath::root().key("a").key("b");
        let (b, ks) = n.find(&p).unwrap();
        assert_eq!(b.value, NodeValue::Int(12345678901));
        assert_eq!(
            b.span,
            Span {
                line: 2,
                col: 6,
                end_col: Some(18)
            }
        );
        assert_eq!(ks.unwrap().col, 3);
        assert_eq!(n.to_json()["a"]["d"], serde_json::json!("yes"));
        assert_eq!(n.to_json()["a"]["e"], serde_json::json!([1, 2.5, null]));
    }

    #[test]
    fn syntax_errors_say_what_probably_went_wrong() {
        let hint = |text: &str| parse(text).unwrap_err().hint.unwrap_or_default();
        assert!(hint("a:\n\tb: 1\n").contains("spaces only"));
        assert!(hint("a:\n  b: x\n   c: y\n").contains("indented further"));
        assert!(hint("a:\n  name: a: b\n").contains("must be quoted"));
        assert!(hint("- name: a: b\n").contains("must be quoted"));
        assert!(hint("a:\n  b: x\n c: y\n").contains("does not match"));
        assert!(hint("a: { b: 1\nc: 2\n").contains("not closed"));
        assert!(hint("a: @x\n").contains("quote it"));
    }

    #[test]
    fn finds_duplicates_in_large_mappings() {
        let keys: String = (0..40).map(|i| format!("k{i}: {i}\n")).collect();
        assert!(parse(&keys).is_ok());
        for dup in ["k3", "k15", "k16", "k39"] {
            let e = parse(&format!("{keys}{dup}: x\n")).unwrap_err();
            assert_eq!(e.message, format!("duplicate key `{dup}`"));
            assert_eq!(e.span.line, 41);
        }
    }

    #[test]
    fn rejects_duplicates_tags_and_garbage() {
        assert!(parse("a: 1\na: 2\n")
            .unwrap_err()
            .message
            .contains("duplicate key"));
        assert!(parse("a: !Ref x\n").unwrap_err().message.contains("tag"));
        let e = parse("a: [1,\n").unwrap_err();
        assert!(e.message.contains("not valid YAML"), "{e:?}");
        assert!(parse("a: 1\n---\nb: 2\n")
            .unwrap_err()
            .message
            .contains("more than one"));
    }

    #[test]
    fn expands_cloudformation_short_tags() {
        let n = parse_cfn("a: !Ref X\nb: !GetAtt R.Arn\nc: !Sub [\"${x}\", {x: !Ref Y}]\nd: !If [C, 1, !Ref AWS::NoValue]\n").unwrap();
        assert_eq!(
            n.to_json(),
            serde_json::json!({
                "a": {"Ref": "X"},
                "b": {"Fn::GetAtt": "R.Arn"},
                "c": {"Fn::Sub": ["${x}", {"x": {"Ref": "Y"}}]},
                "d": {"Fn::If": ["C", 1, {"Ref": "AWS::NoValue"}]}
            })
        );
        assert!(parse("a: !Ref X\n").is_err(), "configs never take tags");
        assert!(parse_cfn("a: !Bogus X\n").is_err());
    }

    #[test]
    fn expands_aliases_with_a_bound() {
        let n = parse("x: &a [1, 2]\ny: *a\n").unwrap();
        assert_eq!(n.to_json()["y"], serde_json::json!([1, 2]));
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            bomb.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n", p = i - 1));
        }
        assert!(parse(&bomb).is_err());
    }
}
