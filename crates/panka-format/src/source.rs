//! Source files and positions in them.
//!
//! Every YAML node panka reads remembers the file it came from and its byte range, so that a
//! diagnostic raised long after overlays were merged and variables resolved still points at the
//! line a person has to edit.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a file in [`Sources`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// A byte range in one source file, with the 1-based line and column of its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub offset: usize,
    pub len: usize,
    pub line: u32,
    pub column: u32,
}

impl Span {
    /// A span with no file behind it (values panka makes up itself, such as defaults).
    pub const SYNTHETIC: Span = Span {
        file: FileId(u32::MAX),
        offset: 0,
        len: 0,
        line: 0,
        column: 0,
    };

    pub fn is_synthetic(&self) -> bool {
        self.file.0 == u32::MAX
    }
}

/// One file as read from disk.
#[derive(Debug)]
pub struct SourceFile {
    /// The path as shown to people (relative to the working directory when possible).
    pub path: PathBuf,
    pub text: Arc<str>,
}

/// All files read while loading a stack, indexed by [`FileId`].
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn add(&mut self, path: PathBuf, text: String) -> FileId {
        self.files.push(SourceFile {
            path,
            text: Arc::from(text),
        });
        FileId((self.files.len() - 1) as u32)
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn path(&self, id: FileId) -> &Path {
        self.get(id)
            .map(|f| f.path.as_path())
            .unwrap_or_else(|| Path::new("<panka>"))
    }

    /// The line and column (both 1-based, column counted in characters) of a byte offset.
    pub fn line_column(&self, id: FileId, offset: usize) -> (u32, u32) {
        let Some(file) = self.get(id) else {
            return (0, 0);
        };
        let text = &file.text[..offset.min(file.text.len())];
        let line = text.bytes().filter(|b| *b == b'\n').count() as u32 + 1;
        let line_start = text.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let column = text[line_start..].chars().count() as u32 + 1;
        (line, column)
    }

    /// A span for `len` bytes at `offset` in file `id`, with its line and column computed.
    pub fn span_at(&self, id: FileId, offset: usize, len: usize) -> Span {
        let (line, column) = self.line_column(id, offset);
        Span {
            file: id,
            offset,
            len,
            line,
            column,
        }
    }

    /// The source text a span covers, when it has a file.
    pub fn text_of(&self, span: Span) -> Option<&str> {
        let file = self.get(span.file)?;
        file.text.get(span.offset..span.offset + span.len)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}
