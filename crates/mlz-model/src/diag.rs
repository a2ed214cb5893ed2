//! Diagnostics: what went wrong, where in the user's file, and what to do about it.
//!
//! Every problem carries the file, line and column, the config path, what was expected and
//! a hint. Callers collect all of them and [`render_all`] prints them sorted, so one run
//! shows every problem. The rendered text is golden-tested (fixtures/invalid-*).

use std::fmt::Write as _;

use crate::path::ConfigPath;
use crate::yaml::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable, greppable name for the rule: `unknown-ou`, `duplicate-email`.
    pub code: &'static str,
    pub file: String,
    pub span: Option<Span>,
    pub path: ConfigPath,
    pub message: String,
    pub expected: Option<String>,
    pub hint: Option<String>,
    /// False for problems that have no place in the config's structure (YAML syntax).
    pub show_path: bool,
}

impl Diagnostic {
    pub fn error(
        code: &'static str,
        file: &str,
        span: Option<Span>,
        path: ConfigPath,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            file: file.to_owned(),
            span,
            path,
            message: message.into(),
            expected: None,
            hint: None,
            show_path: true,
        }
    }

    #[must_use]
    pub fn without_path(mut self) -> Diagnostic {
        self.show_path = false;
        self
    }

    #[must_use]
    pub fn warning(mut self) -> Diagnostic {
        self.severity = Severity::Warning;
        self
    }

    #[must_use]
    pub fn expected(mut self, e: impl Into<String>) -> Diagnostic {
        self.expected = Some(e.into());
        self
    }

    #[must_use]
    pub fn hint(mut self, h: impl Into<String>) -> Diagnostic {
        self.hint = Some(h.into());
        self
    }

    #[must_use]
    pub fn maybe_hint(self, h: Option<String>) -> Diagnostic {
        match h {
            Some(h) => self.hint(h),
            None => self,
        }
    }

    fn sort_key(&self) -> (&str, usize, usize, Severity, &'static str, &str) {
        let (l, c) = self.span.map_or((0, 0), |s| (s.line, s.col));
        (&self.file, l, c, self.severity, self.code, &self.message)
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics by file, position and rule, and drops exact repeats.
pub fn sort(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diags.dedup();
}

/// Looks up the text of a source file by name, for the snippet under each diagnostic.
pub trait SourceText {
    fn text(&self, file: &str) -> Option<&str>;
}

/// How much of a long source line to show before and after the problem's column.
const SNIPPET_BEFORE: usize = 40;
const SNIPPET_AFTER: usize = 80;

/// Renders one diagnostic, rustc style, with the offending line underlined.
pub fn render(d: &Diagnostic, sources: &dyn SourceText) -> String {
    let mut out = String::new();
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let head = if d.show_path {
        format!("{level}[{}]: {}: {}", d.code, d.path, d.message)
    } else {
        format!("{level}[{}]: {}", d.code, d.message)
    };
    let _ = writeln!(out, "{}", capped(&head));
    match d.span {
        Some(s) => {
            let _ = writeln!(out, "  --> {}:{}:{}", d.file, s.line, s.col);
            if let Some(line) = sources
                .text(&d.file)
                .and_then(|t| t.lines().nth(s.line.wrapping_sub(1)))
            {
                let num = s.line.to_string();
                let gutter = " ".repeat(num.len());
                let chars: Vec<char> = line.chars().collect();
                let width = chars.len();
                let start = s.col.saturating_sub(1).min(width);
                let end = s
                    .end_col
                    .map_or(width, |e| e.saturating_sub(1))
                    .clamp(start + 1, width.max(start + 1));
                // Long lines are shown as a window around the problem.
                let (from, to) = if width <= SNIPPET_BEFORE + SNIPPET_AFTER {
                    (0, width)
                } else {
                    let from = start.saturating_sub(SNIPPET_BEFORE);
                    (from, (start + SNIPPET_AFTER).min(width).max(from))
                };
                let lead = if from > 0 { "…" } else { "" };
                let tail = if to < width { "…" } else { "" };
                let shown: String = chars[from..to].iter().collect();
                let marks = end.min(to.max(start + 1)) - start;
                let _ = writeln!(out, "{gutter} |");
                let _ = writeln!(out, "{num} | {lead}{shown}{tail}");
                let _ = writeln!(
                    out,
                    "{gutter} | {}{}",
                    " ".repeat(start - from + lead.chars().count()),
                    "^".repeat(marks)
                );
            }
        }
        None => {
            let _ = writeln!(out, "  --> {}", d.file);
        }
    }
    if let Some(e) = &d.expected {
        let _ = writeln!(out, "  = expected: {}", capped(e));
    }
    if let Some(h) = &d.hint {
        let _ = writeln!(out, "  = hint: {}", capped(h));
    }
    out
}

/// A quoted value longer than this many characters is shown shortened.
const MAX_QUOTED: usize = 80;
/// And a line of a diagnostic longer than this is cut, whatever it echoes.
const MAX_LINE: usize = 1000;

/// The text with every `"quoted"` value over [`MAX_QUOTED`] characters shortened to its start
/// and its length (`"PPPP…" (5000000 characters)`), and cut at [`MAX_LINE`]: a value pasted by
/// mistake (a whole file, a 5 MB scalar) must not be echoed whole.
fn capped(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_QUOTED {
        return text.into();
    }
    let mut out = String::with_capacity(text.len().min(2 * MAX_LINE));
    let mut rest = text;
    while let Some(q) = rest.find('"') {
        out.push_str(&rest[..=q]);
        let after = &rest[q + 1..];
        // A Debug-quoted value ends at the next `"` that is not escaped; a lone `"` in prose
        // has none, and the text is left as it is.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            if !escaped && c == '"' {
                end = Some(i);
                break;
            }
            escaped = !escaped && c == '\\';
        }
        let Some(end) = end else {
            rest = after;
            break;
        };
        let inner = &after[..end];
        let n = inner.chars().count();
        if n > MAX_QUOTED {
            let keep: String = inner.chars().take(MAX_QUOTED - 20).collect();
            let _ = write!(out, "{keep}…\" ({n} characters)");
        } else {
            out.push_str(inner);
            out.push('"');
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    let n = out.chars().count();
    if n > MAX_LINE {
        let keep: String = out.chars().take(MAX_LINE).collect();
        return format!("{keep}… ({n} characters)").into();
    }
    out.into()
}

/// Renders every diagnostic (sorted by the caller) and a closing count.
pub fn render_all(diags: &[Diagnostic], sources: &dyn SourceText) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&render(d, sources));
        out.push('\n');
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let plural = |n: usize, w: &str| {
        if n == 1 {
            format!("{n} {w}")
        } else {
            format!("{n} {w}s")
        }
    };
    if errors > 0 {
        let _ = writeln!(
            out,
            "{} and {} found",
            plural(errors, "error"),
            plural(warnings, "warning")
        );
    } else if warnings > 0 {
        let _ = writeln!(out, "{} found", plural(warnings, "warning"));
    }
    out
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let w = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (levenshtein(&w, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min()
        .map(|(_, c)| format!("did you mean {c:?}?"))
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {

    #[test]
    fn long_quoted_values_are_shortened() {
        let long = "P".repeat(5000);
        let msg = format!("no OU is named {long:?}; did you mean \"Prod\"?");
        let shown = capped(&msg);
        // A lone `"` in prose is not a value.
        let prose = format!("no spaces or \" ' ( ) before the @{}", "x".repeat(100));
        assert_eq!(capped(&prose), prose);
        assert!(shown.len() < 200, "{shown}");
        assert!(shown.contains("(5000 characters)"), "{shown}");
        assert!(shown.ends_with("did you mean \"Prod\"?"), "{shown}");
        // Escaped quotes stay inside the value; short text is untouched.
        let esc = format!("value {:?} here", format!("a\"b{}", "x".repeat(100)));
        assert!(
            capped(&esc).ends_with("(104 characters) here"),
            "{}",
            capped(&esc)
        );
        assert_eq!(capped("short \"x\""), "short \"x\"");
        // An unquoted run is cut at the line limit.
        let bare = "y".repeat(3000);
        assert!(capped(&bare).ends_with("… (3000 characters)"));
    }
    use super::*;

    struct One(&'static str);
    impl SourceText for One {
        fn text(&self, _: &str) -> Option<&str> {
            Some(self.0)
        }
    }

    #[test]
    fn renders_with_snippet() {
        let d = Diagnostic::error(
            "unknown-ou",
            "platform.yaml",
            Some(Span {
                line: 2,
                col: 9,
                end_col: Some(17),
            }),
            ConfigPath::root().key("accounts").index(0).key("ou"),
            "no OU is named \"Workload\"",
        )
        .expected("the name of an OU")
        .hint("did you mean \"Workloads\"?");
        let text = render(&d, &One("accounts:\n  - ou: Workload\n"));
        assert_eq!(
            text,
            "error[unknown-ou]: accounts[0].ou: no OU is named \"Workload\"\n  --> platform.yaml:2:9\n  |\n2 |   - ou: Workload\n  |         ^^^^^^^^\n  = expected: the name of an OU\n  = hint: did you mean \"Workloads\"?\n"
        );
    }

    #[test]
    fn long_lines_are_windowed() {
        let line = format!("a: {}x{}", "[".repeat(300), "]".repeat(300));
        let d = Diagnostic::error(
            "yaml",
            "f.yaml",
            Some(Span {
                line: 1,
                col: 304,
                end_col: None,
            }),
            ConfigPath::root(),
            "m",
        );
        let text = render(&d, &One(Box::leak(line.into_boxed_str())));
        assert!(text.lines().all(|l| l.chars().count() < 140), "{text}");
        let shown = text.lines().nth(3).unwrap();
        let marks = text.lines().nth(4).unwrap();
        let caret = marks.find('^').unwrap();
        assert_eq!(
            shown.chars().nth(marks[..caret].chars().count()),
            Some('x'),
            "{text}"
        );
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            did_you_mean("acounts", ["accounts", "teams"]).as_deref(),
            Some("did you mean \"accounts\"?")
        );
        assert_eq!(did_you_mean("zzz", ["accounts", "teams"]), None);
    }
}
