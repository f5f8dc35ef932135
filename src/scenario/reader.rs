//! A walker over the spanned TOML document that collects every error with its position and key path.

use std::collections::HashSet;
use std::fmt;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One problem in a scenario, located precisely enough to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The scenario file, or `--set KEY=VALUE` for an override.
    pub origin: String,
    pub line: usize,
    pub column: usize,
    /// Positional key path, e.g. `deals[1].revenue_shares[0].cap`.
    pub key_path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.origin, self.line, self.column)?;
        if !self.key_path.is_empty() {
            write!(f, "{}: ", self.key_path)?;
        }
        f.write_str(&self.message)
    }
}

/// Diagnostics kept in full; past this many, the rest are counted, not listed. A file of
/// millions of unknown keys must not print millions of lines.
pub const MAX_DIAGNOSTICS: usize = 50;

/// Every problem found in a scenario, in file order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {diagnostic}")?;
        }
        Ok(())
    }
}

/// Where a value came from: a scenario file (which one, its offset tells), or the `--set` at
/// this index of the reader's overrides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    File,
    Override(usize),
}

/// A key path kept in two spellings: positional for messages, named for inputs and `--set`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPath {
    pub positional: String,
    pub named: String,
}

impl KeyPath {
    pub fn key(&self, key: &str) -> KeyPath {
        KeyPath { positional: join(&self.positional, key), named: join(&self.named, key) }
    }

    /// An element of an array: `[i]` positionally, and by its `name` when it has one.
    pub fn element(&self, index: usize, name: Option<&str>) -> KeyPath {
        let named = match name {
            Some(name) => join(&self.named, name),
            None => format!("{}[{index}]", self.named),
        };
        KeyPath { positional: format!("{}[{index}]", self.positional), named }
    }
}

fn join(base: &str, key: &str) -> String {
    if base.is_empty() { key.to_string() } else { format!("{base}.{key}") }
}

/// A value in the document (or an override) together with where it sits.
#[derive(Clone, Copy)]
pub struct Node<'a> {
    pub value: &'a DeValue<'a>,
    /// Byte offset of the value: in the files' shared address space (see [`SourceMap`]), or
    /// in the `--set` value's text.
    pub offset: usize,
    pub origin: Origin,
}

impl<'a> Node<'a> {
    fn of(spanned: &'a Spanned<DeValue<'a>>, origin: Origin) -> Node<'a> {
        Node { value: spanned.get_ref(), offset: spanned.span().start, origin }
    }

    pub fn type_name(&self) -> &'static str {
        match self.value {
            DeValue::String(_) => "a string",
            DeValue::Integer(_) => "an integer",
            DeValue::Float(_) => "a float",
            DeValue::Boolean(_) => "a boolean",
            DeValue::Datetime(_) => "a datetime",
            DeValue::Array(_) => "an array",
            DeValue::Table(_) => "a table",
        }
    }
}

/// An override of one value by key path: from a file's `[overrides]` table, or from `--set`.
pub struct ParsedOverride<'a> {
    pub key: String,
    pub value: Spanned<DeValue<'a>>,
    pub source: OverrideSource,
}

/// Where an override was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OverrideSource {
    /// An `[overrides]` entry; the key's offset in the files' address space.
    File { key_offset: usize },
    /// `--set KEY=VALUE`, with its text for messages.
    CommandLine { text: String },
}

/// The scenario's files laid end to end in one address space, so that an offset names a file,
/// a line and a column, whichever file a value of the merged document came from.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<MappedFile>,
    end: usize,
}

#[derive(Clone, Debug)]
struct MappedFile {
    origin: String,
    base: usize,
    line_starts: Vec<usize>,
}

impl SourceMap {
    /// Adds a file; returns the offset its bytes start at.
    pub fn add(&mut self, origin: &str, text: &str) -> usize {
        let base = self.end;
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        self.files.push(MappedFile { origin: origin.to_string(), base, line_starts });
        // One byte apart, so that even an empty file has an offset of its own.
        self.end = base + text.len() + 1;
        base
    }

    /// The file, line and column (both from 1) of an offset.
    fn locate(&self, offset: usize) -> (&str, usize, usize) {
        let index = self.files.partition_point(|file| file.base <= offset).max(1) - 1;
        let file = &self.files[index];
        let local = offset - file.base;
        let line = file.line_starts.partition_point(|&start| start <= local).max(1);
        (&file.origin, line, local - file.line_starts[line - 1] + 1)
    }
}

/// Collects diagnostics while the scenario is read.
pub struct Reader<'a> {
    sources: SourceMap,
    overrides: &'a [ParsedOverride<'a>],
    used_overrides: Vec<bool>,
    diagnostics: Vec<(usize, Diagnostic)>,
    /// Diagnostics beyond [`MAX_DIAGNOSTICS`], counted only.
    more: usize,
}

impl<'a> Reader<'a> {
    pub fn new(sources: SourceMap, overrides: &'a [ParsedOverride<'a>]) -> Reader<'a> {
        Reader { sources, overrides, used_overrides: vec![false; overrides.len()], diagnostics: Vec::new(), more: 0 }
    }

    fn push(&mut self, order: usize, diagnostic: Diagnostic) {
        // An inherited value is read once for its own deal and again for every deal that
        // extends it: one problem, one message.
        let repeated = self.diagnostics.iter().any(|(at, known)| {
            *at == order && known.message == diagnostic.message && known.origin == diagnostic.origin
        });
        if repeated {
            return;
        }
        if self.diagnostics.len() < MAX_DIAGNOSTICS {
            self.diagnostics.push((order, diagnostic));
        } else {
            self.more += 1;
        }
    }

    /// Records a problem at an offset of the files' address space.
    pub fn error_at(&mut self, offset: usize, path: &KeyPath, message: impl Into<String>) {
        let (origin, line, column) = self.sources.locate(offset);
        let diagnostic = Diagnostic {
            origin: origin.to_string(),
            line,
            column,
            key_path: path.positional.clone(),
            message: message.into(),
        };
        self.push(offset, diagnostic);
    }

    /// Records a problem at `offset` of a value's text: a file's, or a `--set`'s.
    fn error_in(&mut self, origin: Origin, offset: usize, path: &KeyPath, message: impl Into<String>) {
        match origin {
            Origin::File => self.error_at(offset, path, message),
            Origin::Override(index) => {
                let ParsedOverride { key, source, .. } = &self.overrides[index];
                let OverrideSource::CommandLine { text } = source else {
                    unreachable!("file overrides carry file offsets")
                };
                let diagnostic = Diagnostic {
                    origin: format!("--set {text}"),
                    line: 1,
                    column: key.len() + 2 + offset,
                    key_path: path.positional.clone(),
                    message: message.into(),
                };
                // After every file's diagnostics, in command-line order.
                self.push(usize::MAX - self.overrides.len() + index, diagnostic);
            }
        }
    }

    /// Records a problem with a value, in a file or in the `--set` it came from.
    pub fn error(&mut self, node: &Node<'_>, path: &KeyPath, message: impl Into<String>) {
        self.error_in(node.origin, node.offset, path, message);
    }

    /// Errors for overrides that named no key the scenario reads, and for a key given twice with
    /// `--set` (each must be valid, and the first would otherwise go unread).
    pub fn report_unused_overrides(&mut self) {
        for index in 0..self.overrides.len() {
            let key = self.overrides[index].key.clone();
            let path = KeyPath { positional: key.clone(), named: key.clone() };
            let node = self.override_node(index);
            let command_line = |o: &ParsedOverride<'_>| matches!(o.source, OverrideSource::CommandLine { .. });
            if command_line(&self.overrides[index])
                && self.overrides[index + 1..].iter().any(|later| later.key == key && command_line(later))
            {
                self.error(&node, &path, format!("`--set {key}` is given more than once; give each key once"));
                continue;
            }
            if self.used_overrides[index] {
                continue;
            }
            let message = format!(
                "no value at key path `{key}` in this scenario; expected a path such as `simulation.paths` or `deals.<deal>.revenue_shares.<term>.cap`"
            );
            match self.overrides[index].source {
                OverrideSource::File { key_offset } => self.error_at(key_offset, &path, message),
                OverrideSource::CommandLine { .. } => self.error(&node, &path, message),
            }
        }
    }

    pub fn finish(mut self) -> Result<(), Diagnostics> {
        if self.diagnostics.is_empty() {
            return Ok(());
        }
        self.diagnostics.sort_by_key(|(offset, _)| *offset);
        let mut diagnostics: Vec<Diagnostic> = self.diagnostics.into_iter().map(|(_, d)| d).collect();
        if self.more > 0 {
            let last = diagnostics.last().cloned().expect("diagnostics were recorded");
            diagnostics.push(Diagnostic {
                key_path: String::new(),
                message: format!("and {} more errors, not listed; fix those above first", self.more),
                ..last
            });
        }
        Err(Diagnostics(diagnostics))
    }

    pub fn has_errors(&self) -> bool {
        !self.diagnostics.is_empty()
    }

    /// Whether an override names this key path.
    pub fn is_overridden(&self, named: &str) -> bool {
        self.overrides.iter().any(|o| o.key == named)
    }

    fn override_node(&self, index: usize) -> Node<'a> {
        let origin = match self.overrides[index].source {
            OverrideSource::File { .. } => Origin::File,
            OverrideSource::CommandLine { .. } => Origin::Override(index),
        };
        Node::of(&self.overrides[index].value, origin)
    }

    /// The overrides of keys directly inside `path` that name no key of `present` (a stake given
    /// only with `--set`), marked used.
    pub fn added_keys(&mut self, path: &KeyPath, present: &[&str]) -> Vec<(String, Node<'a>)> {
        let prefix = format!("{}.", path.named);
        let mut added: Vec<(String, Node<'a>)> = Vec::new();
        for index in 0..self.overrides.len() {
            let Some(key) = self.overrides[index].key.strip_prefix(&prefix) else { continue };
            if key.contains('.') || present.contains(&key) {
                continue;
            }
            self.used_overrides[index] = true;
            let node = self.override_node(index);
            match added.iter_mut().find(|(known, _)| known == key) {
                Some(entry) => entry.1 = node,
                None => added.push((key.to_string(), node)),
            }
        }
        added
    }

    /// The override of `key` in the table at `path`, if any (marked used). The key path is only
    /// spelled out when there are overrides: a deal deep in a chain of `extends` reads each field
    /// through every layer above it.
    fn override_at(&mut self, path: &KeyPath, key: &str) -> Option<Node<'a>> {
        if self.overrides.is_empty() {
            return None;
        }
        self.override_for(&path.key(key).named)
    }

    /// The override for this named path, if any (marked used).
    fn override_for(&mut self, named: &str) -> Option<Node<'a>> {
        // The last override of a key wins: a `--set` over a file's, a file's over its base's.
        let index = self.overrides.iter().rposition(|o| o.key == named)?;
        for (used, set) in self.used_overrides.iter_mut().zip(self.overrides) {
            *used |= set.key == named;
        }
        Some(self.override_node(index))
    }

    /// Views a node as a table, or records that a table was expected.
    pub fn table(&mut self, node: Node<'a>, path: &KeyPath) -> Option<Table<'a>> {
        match node.value {
            DeValue::Table(table) => Some(Table {
                table: Some(table),
                node,
                path: path.clone(),
                base: None,
                read: Vec::new(),
                shape_unknown: false,
            }),
            _ => {
                let found = node.type_name();
                self.error(&node, path, format!("expected a table, found {found}"));
                None
            }
        }
    }

    /// Views a node as an array, or records that an array was expected.
    pub fn array(&mut self, node: Node<'a>, path: &KeyPath) -> Option<Vec<Node<'a>>> {
        match node.value {
            DeValue::Array(items) => Some(items.iter().map(|item| Node::of(item, node.origin)).collect()),
            _ => {
                let found = node.type_name();
                self.error(&node, path, format!("expected an array, found {found}"));
                None
            }
        }
    }

    pub fn string(&mut self, node: Node<'a>, path: &KeyPath) -> Option<&'a str> {
        match node.value {
            DeValue::String(text) => Some(text.as_ref()),
            _ => {
                let found = describe(&node);
                self.error(&node, path, format!("expected a string, found {found}"));
                None
            }
        }
    }
}

/// Renders a value for "found ..." in messages.
pub fn describe(node: &Node<'_>) -> String {
    match node.value {
        DeValue::String(text) => format!("\"{text}\""),
        DeValue::Integer(integer) => integer.as_str().to_string(),
        DeValue::Float(float) => float.as_str().to_string(),
        DeValue::Boolean(flag) => flag.to_string(),
        _ => node.type_name().to_string(),
    }
}

/// A table being read: remembers which keys were asked for, to report the unknown ones. A table
/// may extend another (a deal its parent; a term the parent's term of the same name): keys it
/// does not give are read from the one it extends, under that one's key path, so overrides of
/// either path apply.
pub struct Table<'a> {
    /// None for a layer that writes nothing of its own (a term a deal inherits as it is).
    table: Option<&'a DeTable<'a>>,
    pub node: Node<'a>,
    pub path: KeyPath,
    base: Option<Box<Table<'a>>>,
    read: Vec<&'static str>,
    /// Set when the table's shape is unknown (an unknown distribution name): its other keys
    /// cannot be judged, so they are not reported.
    shape_unknown: bool,
}

impl<'a> Table<'a> {
    /// This table over `base`: what this one does not give comes from `base`.
    pub fn extending(mut self, base: Table<'a>) -> Table<'a> {
        self.base = Some(Box::new(base));
        self
    }

    /// A layer at `path` that writes nothing: every key comes from `base` (or an override).
    pub fn inheriting(base: Table<'a>, path: KeyPath) -> Table<'a> {
        Table { table: None, node: base.node, path, base: Some(Box::new(base)), read: Vec::new(), shape_unknown: false }
    }

    /// The value at `key`: an override of this path, this layer's value, or the one it extends.
    pub fn get(&mut self, reader: &mut Reader<'a>, key: &'static str) -> Option<Node<'a>> {
        self.read.push(key);
        if let Some(node) = reader.override_at(&self.path, key) {
            return Some(node);
        }
        if let Some(value) = self.table.and_then(|table| table.get(key)) {
            return Some(Node::of(value, self.node.origin));
        }
        self.base.as_mut()?.get(reader, key)
    }

    /// This layer's own value at `key`, not inherited (a deal's `name`, `extends`, `remove`).
    pub fn own(&mut self, reader: &mut Reader<'a>, key: &'static str) -> Option<Node<'a>> {
        self.read.push(key);
        if let Some(node) = reader.override_at(&self.path, key) {
            return Some(node);
        }
        self.table?.get(key).map(|value| Node::of(value, self.node.origin))
    }

    /// The value at `key`, or an error saying what was expected there.
    pub fn require(&mut self, reader: &mut Reader<'a>, key: &'static str, expected: &str) -> Option<Node<'a>> {
        let node = self.get(reader, key);
        if node.is_none() {
            let path = self.path.key(key);
            reader.error(&self.node, &path, format!("missing required key `{key}`; expected {expected}"));
        }
        node
    }

    /// Records `key` as one this table takes, read elsewhere (a deal's terms and equity are read
    /// through tables of their own that layer inherited entries).
    pub fn takes(&mut self, key: &'static str) {
        self.read.push(key);
    }

    /// Stops `finish` from reporting the keys not read.
    pub fn shape_is_unknown(&mut self) {
        self.shape_unknown = true;
    }

    /// Reports every key of this layer that was never asked for.
    pub fn finish(&self, reader: &mut Reader<'a>) {
        let Some(table) = self.table.filter(|_| !self.shape_unknown) else { return };
        let known: HashSet<&str> = self.read.iter().copied().collect();
        for (key, _) in table.iter() {
            let name: &str = key.get_ref().as_ref();
            if !known.contains(name) {
                let mut expected: Vec<&str> = Vec::new();
                for key in &self.read {
                    if !expected.contains(key) {
                        expected.push(key);
                    }
                }
                let path = self.path.key(name);
                let message = if expected.is_empty() {
                    format!("unknown key `{name}`; this table takes no keys")
                } else {
                    format!("unknown key `{name}`; expected one of: {}", expected.join(", "))
                };
                reader.error_in(self.node.origin, key.span().start, &path, message);
            }
        }
    }

    /// The value at `key` as written in this table or those it extends, without recording that
    /// it was read: an entry's name is needed before the entry is read.
    pub fn peek(&self, key: &str) -> Option<Node<'a>> {
        match self.table.and_then(|table| table.get(key)) {
            Some(value) => Some(Node::of(value, self.node.origin)),
            None => self.base.as_ref()?.peek(key),
        }
    }

    /// This layer's own keys with their values, as written.
    pub fn keys(&self) -> Vec<(&'a str, Node<'a>)> {
        let origin = self.node.origin;
        self.table
            .map(|table| table.iter().map(|(key, value)| (key.get_ref().as_ref(), Node::of(value, origin))).collect())
            .unwrap_or_default()
    }

    /// Every key of this table and of those it extends, with overrides applied, including keys
    /// that only an override gives (`--set deals.d.equity.amazon=5%`): this layer's first.
    pub fn entries(&mut self, reader: &mut Reader<'a>) -> Vec<(String, Node<'a>)> {
        let mut entries: Vec<(String, Node<'a>)> = self
            .keys()
            .into_iter()
            .map(|(key, value)| (key.to_string(), reader.override_at(&self.path, key).unwrap_or(value)))
            .collect();
        let present: Vec<&str> = entries.iter().map(|(key, _)| key.as_str()).collect();
        let added = reader.added_keys(&self.path, &present);
        entries.extend(added);
        if let Some(base) = self.base.as_mut() {
            for (key, value) in base.entries(reader) {
                if !entries.iter().any(|(known, _)| *known == key) {
                    entries.push((key, value));
                }
            }
        }
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_columns_in_each_file() {
        let mut sources = SourceMap::default();
        assert_eq!(sources.add("x.toml", "a = 1\nbb = 2\n"), 0);
        let base = sources.add("base.toml", "c = 3\n");
        assert_eq!(base, 14);
        assert_eq!(sources.locate(0), ("x.toml", 1, 1));
        assert_eq!(sources.locate(6), ("x.toml", 2, 1));
        assert_eq!(sources.locate(11), ("x.toml", 2, 6));
        assert_eq!(sources.locate(base + 4), ("base.toml", 1, 5));
    }

    #[test]
    fn key_paths_have_two_spellings() {
        let deals = KeyPath::default().key("deals");
        let term = deals.element(1, Some("apr-2026")).key("revenue_shares").element(0, Some("to-ms"));
        assert_eq!(term.key("cap").positional, "deals[1].revenue_shares[0].cap");
        assert_eq!(term.key("cap").named, "deals.apr-2026.revenue_shares.to-ms.cap");
        assert_eq!(deals.element(2, None).named, "deals[2]");
    }
}
