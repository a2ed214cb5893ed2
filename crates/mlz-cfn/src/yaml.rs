//! A small block-style YAML writer for JSON values.
//!
//! We write YAML ourselves instead of pulling in a YAML serializer: the input is always a
//! JSON tree, the output rules fit on one screen, and owning them means the bytes cannot
//! change under us with a dependency upgrade. Strings are quoted whenever a YAML 1.1 or 1.2
//! reader could take them for anything but a string (`yes`, `012345678901`, `2010-09-09`).

use std::fmt::Write as _;

use serde_json::Value as J;

pub(crate) fn to_yaml(v: &J) -> String {
    let mut out = String::new();
    match v {
        J::Object(m) if !m.is_empty() => write_map(m, 0, &mut out),
        J::Array(a) if !a.is_empty() => write_list(a, 0, &mut out),
        other => {
            scalar(other, &mut out);
            out.push('\n');
        }
    }
    out
}

fn is_block(v: &J) -> bool {
    match v {
        J::Object(m) => !m.is_empty(),
        J::Array(a) => !a.is_empty(),
        _ => false,
    }
}

use crate::write::pad;

fn write_map(m: &serde_json::Map<String, J>, indent: usize, out: &mut String) {
    let mut first = true;
    for (k, v) in m {
        if !first {
            pad(out, indent);
        }
        first = false;
        write_entry(k, v, indent, out);
    }
}

/// Writes `key: value` starting at the current column (the caller wrote the indent).
fn write_entry(k: &str, v: &J, indent: usize, out: &mut String) {
    string(k, out);
    out.push(':');
    match v {
        J::Object(m) if !m.is_empty() => {
            out.push('\n');
            pad(out, indent + 2);
            write_map(m, indent + 2, out);
        }
        J::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_list(a, indent + 2, out);
        }
        other => {
            out.push(' ');
            scalar(other, out);
            out.push('\n');
        }
    }
}

fn write_list(a: &[J], indent: usize, out: &mut String) {
    for item in a {
        pad(out, indent);
        out.push_str("- ");
        match item {
            J::Object(m) if !m.is_empty() => write_map(m, indent + 2, out),
            J::Array(inner) if !inner.is_empty() => {
                out.pop();
                out.push('\n');
                write_list(inner, indent + 2, out);
            }
            other => {
                debug_assert!(!is_block(other));
                scalar(other, out);
                out.push('\n');
            }
        }
    }
}

fn scalar(v: &J, out: &mut String) {
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Number(n) => {
            let _ = write!(out, "{n}");
        }
        J::String(s) => string(s, out),
        J::Object(_) => out.push_str("{}"),
        J::Array(_) => out.push_str("[]"),
    }
}

/// Writes a string as a YAML scalar: plain when that is unambiguous, quoted otherwise.
/// (Written into the output rather than returned: one allocation per scalar was a tenth of
/// the run time at 1,000 teams.)
pub(crate) fn string(s: &str, out: &mut String) {
    if is_plain_safe(s) {
        out.push_str(s);
    } else if s.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
        out.push('\'');
        for (i, part) in s.split('\'').enumerate() {
            if i > 0 {
                out.push_str("''");
            }
            out.push_str(part);
        }
        out.push('\'');
    } else {
        // JSON string escapes are valid in YAML double-quoted scalars.
        crate::write::json_str(s, out);
    }
}

/// Plain scalars that YAML 1.1 or 1.2 resolves to something other than a string: booleans,
/// nulls, and YAML 1.1's value (`=`) and merge (`<<`) keys, which PyYAML (the loader of
/// cfn-lint and many pipelines) refuses or merges. Numbers, dates and `.inf` start with a
/// digit, a sign or a dot, which `is_plain_safe` quotes anyway.
const RESERVED: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false",
    "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL", "~", "=",
    "<<",
];

fn is_plain_safe(s: &str) -> bool {
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return false;
    };
    // The reserved words are all five bytes or fewer.
    if (bytes.len() <= 5 && RESERVED.contains(&s)) || first == b' ' {
        return false;
    }
    let last = bytes[bytes.len() - 1];
    if last == b' ' || last == b':' {
        return false;
    }
    // Anything that starts like a number, a date or a special float is quoted.
    if first.is_ascii_digit() || matches!(first, b'+' | b'.') || (first == b'-' && bytes.len() > 1)
    {
        return false;
    }
    if matches!(
        first,
        b'-' | b'?'
            | b':'
            | b','
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'#'
            | b'&'
            | b'*'
            | b'!'
            | b'|'
            | b'>'
            | b'\''
            | b'"'
            | b'%'
            | b'@'
            | b'`'
    ) {
        return false;
    }
    // One pass: printable ASCII or spaces, no flow indicators, no ": " or " #". (By table:
    // this runs on every key and string of every template.)
    let mut prev = 0u8;
    for &b in bytes {
        match PLAIN_BYTE[usize::from(b)] {
            OK => {}
            SPACE if prev != b':' => {}
            HASH if prev != b' ' => {}
            _ => return false,
        }
        prev = b;
    }
    true
}

const BAD: u8 = 0;
const OK: u8 = 1;
const SPACE: u8 = 2;
const HASH: u8 = 3;

/// What each byte may be in a plain scalar: printable ASCII but the flow indicators
/// `{ } [ ] ,`; a space not after `:`; a `#` not after a space.
const PLAIN_BYTE: [u8; 256] = {
    let mut t = [BAD; 256];
    let mut b = 0x20;
    while b < 0x7f {
        t[b] = match b as u8 {
            b'{' | b'}' | b'[' | b']' | b',' => BAD,
            b' ' => SPACE,
            b'#' => HASH,
            _ => OK,
        };
        b += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn string(s: &str) -> String {
        let mut out = String::new();
        super::string(s, &mut out);
        out
    }

    #[test]
    fn quotes_what_could_be_misread() {
        for s in [
            "yes",
            "012345678901",
            "2010-09-09",
            "",
            " lead",
            "a: b",
            "x #y",
            "-1",
            ".5",
            "*",
            "a,b",
            "ON",
            // YAML 1.1's value and merge keys: PyYAML fails on a plain `=` and merges on `<<`.
            "=",
            "<<",
        ] {
            assert_ne!(string(s), s, "{s:?} must be quoted");
        }
        for s in [
            "Workloads",
            "arn:aws:iam::aws:policy/X",
            "a-b_c.d/e",
            "AWS::Organizations::Account",
            "s3:*",
        ] {
            assert_eq!(string(s), s);
        }
        assert_eq!(string("'lead"), "'''lead'");
        assert_eq!(string("line\nbreak"), "\"line\\nbreak\"");
    }

    #[test]
    fn writes_nested_blocks() {
        let v = json!({"a": {"b": [1, {"c": "d", "e": []}, ["x"]]}, "f": {}});
        assert_eq!(
            to_yaml(&v),
            "a:\n  b:\n    - 1\n    - c: d\n      e: []\n    -\n      - x\nf: {}\n"
        );
    }
}
