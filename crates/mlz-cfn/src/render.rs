//! Bytes: the one place a template becomes text.

use crate::check::{CheckError, CheckErrorKind};
use crate::limits::{MAX_BODY_BYTES, MAX_INLINE_BODY_BYTES};
use crate::template::Template;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Yaml,
    Json,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Yaml => "yaml",
            Format::Json => "json",
        }
    }
}

/// The body is over the inline limit: deploy it from S3 (`TemplateURL`), not `TemplateBody`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeNote {
    pub bytes: usize,
}

pub struct Rendered {
    pub text: String,
    pub size_note: Option<SizeNote>,
}

/// Serializes a template. Fails when the body is over CloudFormation's 1,000,000-byte limit.
pub fn render(t: &Template, format: Format) -> Result<Rendered, CheckError> {
    let doc = crate::write::template(t);
    let text = match format {
        Format::Yaml => crate::write::yaml(&doc),
        Format::Json => crate::write::json(&doc),
    };
    let bytes = text.len();
    if bytes > MAX_BODY_BYTES {
        return Err(CheckError {
            at: "template".into(),
            kind: CheckErrorKind::TooMany {
                what: "bytes",
                count: bytes,
                limit: MAX_BODY_BYTES,
            },
        });
    }
    let size_note = (bytes > MAX_INLINE_BODY_BYTES).then_some(SizeNote { bytes });
    Ok(Rendered { text, size_note })
}
