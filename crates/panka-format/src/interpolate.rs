//! Variables: `${NAME}` in any string value, `$${` for a literal `${`.
//!
//! Lookup order: `--var`, the environment's `variables`, the stack's `variables`, then the
//! built-ins `stack`, `environment`, `region`, `service` and `component`.

use indexmap::IndexMap;

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::source::{Sources, Span};
use crate::yaml::{Node, Value};

/// Variables in scope for one document.
pub struct Scope<'a> {
    pub variables: &'a IndexMap<String, String>,
    pub builtins: &'a [(&'static str, &'a str)],
}

impl Scope<'_> {
    fn lookup(&self, name: &str) -> Option<&str> {
        self.variables.get(name).map(String::as_str).or_else(|| {
            self.builtins
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| *v)
        })
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.variables
            .keys()
            .map(String::as_str)
            .chain(self.builtins.iter().map(|(k, _)| *k))
    }
}

/// Resolves every `${...}` in the string values of `node`, reporting each one that cannot be.
pub fn interpolate(
    node: &mut Node,
    scope: &Scope<'_>,
    sources: &Sources,
    out: &mut Vec<Diagnostic>,
) {
    match &mut node.value {
        Value::Str(text) => {
            if !text.contains('$') {
                return;
            }
            match expand(text, scope) {
                Ok(Some(expanded)) => {
                    *text = expanded;
                    node.interpolated = true;
                }
                Ok(None) => {}
                Err(problem) => out.push(problem.into_diagnostic(node.span, scope, sources)),
            }
        }
        Value::Seq(items) => items
            .iter_mut()
            .for_each(|i| interpolate(i, scope, sources, out)),
        Value::Map(entries) => entries
            .iter_mut()
            .for_each(|(_, v)| interpolate(v, scope, sources, out)),
        _ => {}
    }
}

enum Problem {
    Unresolved(String),
    Unterminated,
    BadName(String),
}

impl Problem {
    fn into_diagnostic(self, span: Span, scope: &Scope<'_>, sources: &Sources) -> Diagnostic {
        match self {
            Problem::Unresolved(name) => {
                let span = locate(sources, span, &format!("${{{name}}}"));
                let help = match did_you_mean(&name, scope.names()) {
                    Some(s) => format!(
                        "did you mean `${{{s}}}`? Otherwise define `{name}` in the stack's or the environment's `variables`, or pass `--var {name}=VALUE`"
                    ),
                    None => format!(
                        "define `{name}` in the stack's or the environment's `variables`, or pass `--var {name}=VALUE`"
                    ),
                };
                Diagnostic::error(
                    "unresolved-variable",
                    span,
                    format!("variable `{name}` is not defined"),
                )
                .with_label("used here")
                .with_help(help)
            }
            Problem::Unterminated => {
                Diagnostic::error("bad-interpolation", span, "`${` is not closed by `}`")
                    .with_help("write `$${` for a literal `${`")
            }
            Problem::BadName(name) => {
                let span = locate(sources, span, &format!("${{{name}}}"));
                Diagnostic::error("bad-interpolation", span, format!("`${{{name}}}` is not a valid variable reference"))
                    .with_help("variable names are letters, digits, `_`, `-` and `.`, starting with a letter or `_`")
            }
        }
    }
}

/// Narrows a value's span to where `needle` is written inside it, when it can be found.
fn locate(sources: &Sources, span: Span, needle: &str) -> Span {
    match sources.text_of(span).and_then(|t| t.find(needle)) {
        Some(i) => sources.span_at(span.file, span.offset + i, needle.len()),
        None => span,
    }
}

/// `Ok(None)` when nothing changes.
fn expand(text: &str, scope: &Scope<'_>) -> Result<Option<String>, Problem> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(escaped) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = escaped;
            changed = true;
        } else if let Some(body) = after.strip_prefix("${") {
            let end = body.find('}').ok_or(Problem::Unterminated)?;
            let name = &body[..end];
            if !valid_name(name) {
                return Err(Problem::BadName(name.to_string()));
            }
            let value = scope
                .lookup(name)
                .ok_or_else(|| Problem::Unresolved(name.to_string()))?;
            out.push_str(value);
            rest = &body[end + 1..];
            changed = true;
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(changed.then_some(out))
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope_expand(text: &str) -> Result<Option<String>, &'static str> {
        let mut vars = IndexMap::new();
        vars.insert("VERSION".to_string(), "v1".to_string());
        let builtins = [("stack", "shop")];
        let scope = Scope {
            variables: &vars,
            builtins: &builtins,
        };
        expand(text, &scope).map_err(|p| match p {
            Problem::Unresolved(_) => "unresolved",
            Problem::Unterminated => "unterminated",
            Problem::BadName(_) => "bad name",
        })
    }

    #[test]
    fn expands_variables_and_builtins() {
        assert_eq!(
            scope_expand("img:${VERSION}-${stack}"),
            Ok(Some("img:v1-shop".into()))
        );
        assert_eq!(scope_expand("no vars $5"), Ok(None));
    }

    #[test]
    fn double_dollar_escapes() {
        assert_eq!(
            scope_expand("$${VERSION} ${VERSION}"),
            Ok(Some("${VERSION} v1".into()))
        );
    }

    #[test]
    fn reports_problems() {
        assert_eq!(scope_expand("${NOPE}"), Err("unresolved"));
        assert_eq!(scope_expand("${VERSION"), Err("unterminated"));
        assert_eq!(scope_expand("${1x}"), Err("bad name"));
    }
}
