//! A YAML tree in which every node and every key knows where it was written.
//!
//! Files are parsed with serde-saphyr into [`Node`]s. Overlays are merged and variables resolved
//! on this tree, and only then is it turned into the typed model, so that every later
//! diagnostic can point at the file, line and column the value came from, even when that is an
//! environment file rather than the component's own.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Budget, Options, Spanned};

use crate::source::{FileId, Sources, Span};

/// Largest YAML file panka reads. A stack's files are small; anything larger is a mistake or an
/// attack, and is refused before parsing.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// Most nodes one file may expand to, aliases included. Guards against "billion laughs".
pub const MAX_NODES_PER_FILE: usize = 200_000;

/// Deepest nesting accepted in one file.
pub const MAX_DEPTH: usize = 64;

/// A YAML value with its location.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
    /// Set when the value was produced by `${...}` interpolation; such a string may stand for a
    /// number or a boolean where the schema expects one.
    pub interpolated: bool,
}

/// A mapping key with its location.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

impl Value {
    /// The YAML type name used in diagnostics.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "list",
            Value::Map(_) => "mapping",
        }
    }
}

impl Node {
    pub fn new(value: Value, span: Span) -> Self {
        Node {
            value,
            span,
            interpolated: false,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key`, when this node is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.value {
            Value::Map(m) => m.iter_mut().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key entry for `key`, to point a diagnostic at the key rather than its value.
    pub fn key(&self, key: &str) -> Option<&Key> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(k, _)| k)
    }

    /// Follows a path of keys and list indices.
    pub fn at(&self, path: &[PathSeg]) -> Option<&Node> {
        let mut node = self;
        for seg in path {
            node = match seg {
                PathSeg::Key(k) => node.get(k)?,
                PathSeg::Index(i) => node.as_seq()?.get(*i)?,
            };
        }
        Some(node)
    }

    /// The span of the deepest node along `path` that exists: a diagnostic about a missing
    /// field points at the mapping that lacks it.
    pub fn span_of(&self, path: &[PathSeg]) -> Span {
        let mut node = self;
        for seg in path {
            let next = match seg {
                PathSeg::Key(k) => node.get(k),
                PathSeg::Index(i) => node.as_seq().and_then(|s| s.get(*i)),
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        node.span
    }

    /// Converts to JSON for typed deserialization. Interpolated strings become numbers or
    /// booleans when they read as one; `hints` is the schema's wish for those positions.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or(J::Null),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Counts nodes in this tree (for size limits after merging).
    pub fn count(&self) -> usize {
        1 + match &self.value {
            Value::Seq(items) => items.iter().map(Node::count).sum(),
            Value::Map(entries) => entries.iter().map(|(_, v)| v.count()).sum(),
            _ => 0,
        }
    }
}

/// One step of a path into a document.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

impl From<&str> for PathSeg {
    fn from(k: &str) -> Self {
        PathSeg::Key(k.to_string())
    }
}

impl From<usize> for PathSeg {
    fn from(i: usize) -> Self {
        PathSeg::Index(i)
    }
}

/// Renders a path the way people write it: `spec.ports[0].port`.
pub fn display_path(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSeg::Index(i) => {
                out.push_str(&format!("[{i}]"));
            }
        }
    }
    out
}

/// A file that could not be read as YAML at all.
#[derive(Debug, Clone)]
pub struct ParseError {
    pub message: String,
    pub span: Span,
}

/// Parses every document of one file.
///
/// # Errors
/// A [`ParseError`] pointing at the offending position for malformed YAML, a file over
/// [`MAX_FILE_BYTES`], or a document that expands beyond [`MAX_NODES_PER_FILE`] nodes or
/// [`MAX_DEPTH`] levels (an alias bomb).
pub fn parse_file(sources: &Sources, file: FileId) -> Result<Vec<Node>, ParseError> {
    let text = match sources.get(file) {
        Some(f) => f.text.clone(),
        None => return Ok(Vec::new()),
    };
    if text.len() > MAX_FILE_BYTES {
        return Err(ParseError {
            message: format!(
                "file is {} bytes; panka reads YAML files of at most {} bytes",
                text.len(),
                MAX_FILE_BYTES
            ),
            span: sources.span_at(file, 0, 0),
        });
    }
    let mut budget = Budget::default();
    budget.max_nodes = MAX_NODES_PER_FILE;
    budget.max_depth = MAX_DEPTH;
    let mut options = Options::default();
    options.budget = Some(budget);
    options.with_snippet = false;
    // YAML 1.2 booleans only: `y`, `no` and `on` stay strings (the "Norway problem").
    options.strict_booleans = true;
    let docs: Vec<Spanned<Raw>> = serde_saphyr::from_multiple_with_options(&text, options)
        .map_err(|e| {
            let (offset, line, column) = match e.location() {
                Some(loc) => {
                    let off = loc.span().byte_offset().map(|o| o as usize);
                    (off, loc.line() as u32, loc.column() as u32)
                }
                None => (None, 0, 0),
            };
            let span = match offset {
                Some(o) => sources.span_at(file, o.min(text.len()), 0),
                None if line > 0 => {
                    let o = offset_of_line_column(&text, line, column);
                    sources.span_at(file, o, 0)
                }
                None => sources.span_at(file, 0, 0),
            };
            let raw = e.to_string();
            let message = if raw.contains("budget breached") {
                format!(
                    "YAML expands beyond panka's limits ({MAX_NODES_PER_FILE} nodes, {MAX_DEPTH} levels of \
                     nesting); refused to guard against alias bombs"
                )
            } else {
                clean_parser_message(&raw)
            };
            ParseError { message, span }
        })?;
    Ok(docs
        .into_iter()
        .filter(|d| !matches!(d.value, Raw::Null))
        .map(|d| convert(d, file))
        .collect())
}

fn offset_of_line_column(text: &str, line: u32, column: u32) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            let col: usize = l
                .chars()
                .take(column.saturating_sub(1) as usize)
                .map(char::len_utf8)
                .sum();
            return offset + col;
        }
        offset += l.len();
    }
    text.len()
}

/// serde-saphyr prefixes its messages with "error: line N column M: " and may append a
/// rendered snippet; panka renders its own, so only the message is kept.
fn clean_parser_message(raw: &str) -> String {
    let first = raw.lines().next().unwrap_or(raw);
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let rest = if first.starts_with("line ") {
        first.split_once(": ").map(|(_, m)| m).unwrap_or(first)
    } else {
        first
    };
    let rest = rest
        .split(", set DuplicateKeyPolicy")
        .next()
        .unwrap_or(rest);
    rest.trim().to_string()
}

fn to_span(loc: &serde_saphyr::Location, file: FileId) -> Span {
    let span = loc.span();
    let (offset, len) = match (span.byte_offset(), span.byte_len()) {
        (Some(o), Some(l)) => (o as usize, l as usize),
        _ => (span.offset() as usize, span.len() as usize),
    };
    Span {
        file,
        offset,
        len,
        line: loc.line() as u32,
        column: loc.column() as u32,
    }
}

fn convert(raw: Spanned<Raw>, file: FileId) -> Node {
    let span = to_span(&raw.referenced, file);
    let value = match raw.value {
        Raw::Null => Value::Null,
        Raw::Bool(b) => Value::Bool(b),
        Raw::Int(i) => Value::Int(i),
        Raw::Float(f) => Value::Float(f),
        Raw::Str(s) => Value::Str(s),
        Raw::Seq(items) => Value::Seq(items.into_iter().map(|n| convert(n, file)).collect()),
        Raw::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = Key {
                        span: to_span(&k.referenced, file),
                        name: k.value.0,
                    };
                    (key, convert(v, file))
                })
                .collect(),
        ),
    };
    Node::new(value, span)
}

/// The shape serde-saphyr deserializes into; converted to [`Node`] with the file id attached.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<KeyText>, Spanned<Raw>)>),
}

/// A mapping key as text, whatever scalar type YAML gave it (`80: x` has the key "80").
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Str(s) => Ok(KeyText(s)),
            Raw::Int(i) => Ok(KeyText(i.to_string())),
            Raw::Float(f) => Ok(KeyText(f.to_string())),
            Raw::Bool(b) => Ok(KeyText(b.to_string())),
            Raw::Null => Ok(KeyText("null".into())),
            Raw::Seq(_) | Raw::Map(_) => {
                Err(de::Error::custom("mapping keys must be plain scalars"))
            }
        }
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_none<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
                Raw::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
                Ok(Raw::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
                Ok(Raw::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
                i64::try_from(v).map(Raw::Int).or(Ok(Raw::Float(v as f64)))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw, E> {
                i64::try_from(v).map(Raw::Int).or(Ok(Raw::Float(v as f64)))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
                i64::try_from(v).map(Raw::Int).or(Ok(Raw::Float(v as f64)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
                Ok(Raw::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
                Ok(Raw::Str(v.to_string()))
            }
            fn visit_string<E>(self, v: String) -> Result<Raw, E> {
                Ok(Raw::Str(v))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
                Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
                let mut items = Vec::with_capacity(a.size_hint().unwrap_or(0));
                while let Some(item) = a.next_element()? {
                    items.push(item);
                }
                Ok(Raw::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Raw, A::Error> {
                let mut entries = Vec::with_capacity(a.size_hint().unwrap_or(0));
                while let Some(entry) = a.next_entry()? {
                    entries.push(entry);
                }
                Ok(Raw::Map(entries))
            }
        }
        d.deserialize_any(RawVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn parse(text: &str) -> Result<Vec<Node>, ParseError> {
        let mut sources = Sources::default();
        let id = sources.add(PathBuf::from("t.yaml"), text.to_string());
        parse_file(&sources, id)
    }

    #[test]
    fn nodes_carry_line_and_column() {
        let docs = parse("a: 1\nb:\n  c: hé\n  d: [x, 2]\n").unwrap();
        let c = docs[0].get("b").unwrap().get("c").unwrap();
        assert_eq!((c.span.line, c.span.column), (3, 6));
        assert_eq!(c.as_str(), Some("hé"));
        let key = docs[0].get("b").unwrap().key("d").unwrap();
        assert_eq!((key.span.line, key.span.column), (4, 3));
    }

    #[test]
    fn several_documents() {
        let docs = parse("a: 1\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h"])
        {
            let refs = vec![format!("*{prev}"); 10].join(",");
            text.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("alias bombs"), "{}", err.message);
    }

    #[test]
    fn malformed_yaml_points_at_line() {
        let err = parse("a: [1\nb: 2\n").unwrap_err();
        assert_eq!(err.span.line, 2);
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert!(err.message.contains("duplicate"), "{}", err.message);
        assert_eq!(err.span.line, 2);
    }
}
