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

/// Where a value came from: the file, or the n-th `--set` override.
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
    /// Byte offset of the value in its origin.
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

/// A `--set KEY=VALUE` override, parsed.
pub struct ParsedOverride<'a> {
    pub key: String,
    pub text: String,
    pub value: Spanned<DeValue<'a>>,
}

/// Collects diagnostics while the scenario is read.
pub struct Reader<'a> {
    origin: String,
    line_starts: Vec<usize>,
    overrides: &'a [ParsedOverride<'a>],
    used_overrides: Vec<bool>,
    diagnostics: Vec<(usize, Diagnostic)>,
}

impl<'a> Reader<'a> {
    pub fn new(origin: &str, source: &str, overrides: &'a [ParsedOverride<'a>]) -> Reader<'a> {
        let line_starts = std::iter::once(0).chain(source.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Reader {
            origin: origin.to_string(),
            line_starts,
            overrides,
            used_overrides: vec![false; overrides.len()],
            diagnostics: Vec::new(),
        }
    }

    fn line_column(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&start| start <= offset).max(1);
        (line, offset - self.line_starts[line - 1] + 1)
    }

    /// Records a problem at a byte offset of the file.
    pub fn error_at(&mut self, offset: usize, path: &KeyPath, message: impl Into<String>) {
        let (line, column) = self.line_column(offset);
        let diagnostic = Diagnostic {
            origin: self.origin.clone(),
            line,
            column,
            key_path: path.positional.clone(),
            message: message.into(),
        };
        self.diagnostics.push((offset, diagnostic));
    }

    /// Records a problem with a value, in the file or in the override it came from.
    pub fn error(&mut self, node: &Node<'_>, path: &KeyPath, message: impl Into<String>) {
        match node.origin {
            Origin::File => self.error_at(node.offset, path, message),
            Origin::Override(index) => {
                let text = &self.overrides[index].text;
                let diagnostic = Diagnostic {
                    origin: format!("--set {text}"),
                    line: 1,
                    column: self.overrides[index].key.len() + 2 + node.offset,
                    key_path: path.positional.clone(),
                    message: message.into(),
                };
                self.diagnostics.push((usize::MAX - self.overrides.len() + index, diagnostic));
            }
        }
    }

    /// Errors for overrides that named no key the scenario reads.
    pub fn report_unused_overrides(&mut self) {
        for index in 0..self.overrides.len() {
            if !self.used_overrides[index] {
                let key = self.overrides[index].key.clone();
                let node = Node::of(&self.overrides[index].value, Origin::Override(index));
                let path = KeyPath { positional: key.clone(), named: key.clone() };
                self.error(
                    &node,
                    &path,
                    format!("no scalar at key path `{key}` in this scenario; expected a path such as `simulation.paths` or `deals.<deal>.revenue_shares.<term>.cap`"),
                );
            }
        }
    }

    pub fn finish(mut self) -> Result<(), Diagnostics> {
        if self.diagnostics.is_empty() {
            return Ok(());
        }
        self.diagnostics.sort_by_key(|(offset, _)| *offset);
        Err(Diagnostics(self.diagnostics.into_iter().map(|(_, d)| d).collect()))
    }

    pub fn has_errors(&self) -> bool {
        !self.diagnostics.is_empty()
    }

    /// Whether a `--set` names this key path.
    pub fn is_overridden(&self, named: &str) -> bool {
        self.overrides.iter().any(|o| o.key == named)
    }

    /// The override for this named path, if any (marked used).
    fn override_for(&mut self, named: &str) -> Option<Node<'a>> {
        // The last override of a key wins, as on most command lines.
        let index = self.overrides.iter().rposition(|o| o.key == named)?;
        for (used, set) in self.used_overrides.iter_mut().zip(self.overrides) {
            *used |= set.key == named;
        }
        Some(Node::of(&self.overrides[index].value, Origin::Override(index)))
    }

    /// Views a node as a table, or records that a table was expected.
    pub fn table(&mut self, node: Node<'a>, path: &KeyPath) -> Option<Table<'a>> {
        match node.value {
            DeValue::Table(table) => {
                Some(Table { table, node, path: path.clone(), read: Vec::new(), shape_unknown: false })
            }
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

/// A table being read: remembers which keys were asked for, to report the unknown ones.
pub struct Table<'a> {
    table: &'a DeTable<'a>,
    pub node: Node<'a>,
    pub path: KeyPath,
    read: Vec<&'static str>,
    /// Set when the table's shape is unknown (an unknown distribution name): its other keys
    /// cannot be judged, so they are not reported.
    shape_unknown: bool,
}

impl<'a> Table<'a> {
    /// The value at `key`, or its `--set` override.
    pub fn get(&mut self, reader: &mut Reader<'a>, key: &'static str) -> Option<Node<'a>> {
        self.read.push(key);
        let named = self.path.key(key).named;
        if let Some(node) = reader.override_for(&named) {
            return Some(node);
        }
        self.table.get(key).map(|value| Node::of(value, self.node.origin))
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

    /// Stops `finish` from reporting the keys not read.
    pub fn shape_is_unknown(&mut self) {
        self.shape_unknown = true;
    }

    /// Reports every key that was never asked for.
    pub fn finish(&self, reader: &mut Reader<'a>) {
        if self.shape_unknown {
            return;
        }
        let known: HashSet<&str> = self.read.iter().copied().collect();
        for (key, _) in self.table.iter() {
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
                if self.node.origin == Origin::File {
                    reader.error_at(key.span().start, &path, message);
                }
            }
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = (&'a str, Node<'a>)> + '_ {
        let origin = self.node.origin;
        self.table.iter().map(move |(key, value)| (key.get_ref().as_ref(), Node::of(value, origin)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        let source = "a = 1\nbb = 2\n";
        let reader = Reader::new("x.toml", source, &[]);
        assert_eq!(reader.line_column(0), (1, 1));
        assert_eq!(reader.line_column(6), (2, 1));
        assert_eq!(reader.line_column(11), (2, 6));
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
