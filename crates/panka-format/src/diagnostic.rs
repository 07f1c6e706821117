//! Diagnostics: what is wrong with a stack, where, and how to fix it.
//!
//! Validation collects every problem it finds instead of stopping at the first. Each
//! [`Diagnostic`] names a file, line and column through its [`Span`], and renders either as a
//! miette report with a snippet (for people) or as JSON (for tools).

use std::fmt;

use miette::{LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

use crate::source::{Sources, Span};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a stack.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable identifier for the class of problem, such as `unknown-field`.
    pub code: &'static str,
    pub message: String,
    pub span: Span,
    /// Text under the snippet's marker.
    pub label: Option<String>,
    pub help: Option<String>,
    /// Other places that explain this one (the other end of a duplicate, the edges of a cycle).
    pub related: Vec<(Span, String)>,
}

impl Diagnostic {
    pub fn error(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            label: None,
            help: None,
            related: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, span, message)
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_related(mut self, span: Span, message: impl Into<String>) -> Self {
        self.related.push((span, message.into()));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A list of diagnostics with the sources they point into.
#[derive(Debug, Default)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    /// Orders diagnostics by file, then position, so output is stable and reads top to bottom.
    pub fn sort(&mut self, sources: &Sources) {
        self.items.sort_by(|a, b| {
            let pa = sources.path(a.span.file);
            let pb = sources.path(b.span.file);
            (pa, a.span.offset, a.code, &a.message).cmp(&(pb, b.span.offset, b.code, &b.message))
        });
        self.items
            .dedup_by(|a, b| a.span == b.span && a.message == b.message);
    }
}

/// The JSON form of a diagnostic, part of `panka validate --output json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonDiagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<JsonRelated>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JsonRelated {
    pub message: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

fn location(sources: &Sources, span: Span) -> (Option<String>, Option<u32>, Option<u32>) {
    if span.is_synthetic() {
        (None, None, None)
    } else {
        (
            Some(sources.path(span.file).display().to_string()),
            Some(span.line),
            Some(span.column),
        )
    }
}

impl Diagnostic {
    pub fn to_json(&self, sources: &Sources) -> JsonDiagnostic {
        let (file, line, column) = location(sources, self.span);
        JsonDiagnostic {
            severity: self.severity,
            code: self.code,
            message: self.message.clone(),
            file,
            line,
            column,
            help: self.help.clone(),
            related: self
                .related
                .iter()
                .map(|(span, message)| {
                    let (file, line, column) = location(sources, *span);
                    JsonRelated {
                        message: message.clone(),
                        file,
                        line,
                        column,
                    }
                })
                .collect(),
        }
    }

    /// A miette report of this diagnostic with its snippet.
    pub fn to_report(&self, sources: &Sources) -> miette::Report {
        miette::Report::new(Rendered::new(self, sources))
    }
}

/// Adapter from [`Diagnostic`] to miette's trait, carrying the snippet's source.
#[derive(Debug)]
struct Rendered {
    severity: Severity,
    code: &'static str,
    message: String,
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
    help: Option<String>,
    related: Vec<Rendered>,
}

impl Rendered {
    fn new(d: &Diagnostic, sources: &Sources) -> Self {
        let mut labels = Vec::new();
        let mut related = Vec::new();
        let source = sources
            .get(d.span.file)
            .filter(|_| !d.span.is_synthetic())
            .map(|f| {
                NamedSource::new(f.path.display().to_string(), f.text.to_string())
                    .with_language("yaml")
            });
        let at = |span: Span| -> String {
            if span.is_synthetic() {
                String::new()
            } else {
                format!(
                    "{}:{}:{}",
                    sources.path(span.file).display(),
                    span.line,
                    span.column
                )
            }
        };
        let message = if d.span.is_synthetic() {
            d.message.clone()
        } else {
            format!("{} ({})", d.message, at(d.span))
        };
        if source.is_some() {
            labels.push(LabeledSpan::new_primary_with_span(
                Some(d.label.clone().unwrap_or_else(|| "here".into())),
                SourceSpan::new(d.span.offset.into(), d.span.len),
            ));
        }
        for (span, msg) in &d.related {
            if span.file == d.span.file && source.is_some() {
                labels.push(LabeledSpan::new_with_span(
                    Some(msg.clone()),
                    SourceSpan::new(span.offset.into(), span.len),
                ));
            } else {
                let inner = Diagnostic {
                    severity: d.severity,
                    code: d.code,
                    message: msg.clone(),
                    span: *span,
                    label: None,
                    help: None,
                    related: Vec::new(),
                };
                related.push(Rendered::new(&inner, sources));
            }
        }
        Rendered {
            severity: d.severity,
            code: d.code,
            message,
            source,
            labels,
            help: d.help.clone(),
            related,
        }
    }
}

impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rendered {}

impl miette::Diagnostic for Rendered {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("panka::{}", self.code)))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
}

/// Renders diagnostics as plain text without colours (stable for snapshots and logs).
pub fn render_plain(diags: &[Diagnostic], sources: &Sources) -> String {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .with_links(false);
    let mut out = String::new();
    for d in diags {
        let report = Rendered::new(d, sources);
        let _ = handler.render_report(&mut out, &report);
        out.push('\n');
    }
    out
}

/// The "did you mean" candidate closest to `word`, when one is close enough to be a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
