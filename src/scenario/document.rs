//! A scenario as one TOML document: the file given and the files it `extends`, merged, with
//! their spans laid in one address space so that every value still names its file and line.
//!
//! A file that extends another starts from that file's whole scenario. Its `[overrides]` set
//! values by key path exactly as `--set` does (after its base's own, before any `--set`); its
//! `[[streams]]`, `[[events]]`, `[[correlations]]`, `[[deals]]` and `[parties.*]` are added;
//! its `[scenario]` name and description replace the base's. Any other section the base
//! already has is an error: its values change through `[overrides]`.

use std::borrow::Cow;
use std::path::{Component, Path, PathBuf};

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use super::reader::{OverrideSource, ParsedOverride, SourceMap};

/// Reads a file that a scenario `extends`, given its path resolved against the extending
/// file's directory. The caller decides what reading is: the file system, or memory.
pub type Loader<'l> = &'l dyn Fn(&str) -> Result<String, String>;

/// The texts of a scenario's files: the one given, then what it extends, then what that
/// extends, and so on.
pub struct SourceFiles {
    files: Vec<(String, String)>,
    /// Problems met while following `extends`: the file, a byte offset in it, the message.
    problems: Vec<(usize, usize, String)>,
}

/// A problem found while composing the document, at an offset of the shared address space.
pub struct Problem {
    pub offset: usize,
    pub key_path: String,
    pub message: String,
}

/// The merged document and what it was made of.
pub struct Document<'a> {
    pub root: DeTable<'a>,
    /// Where the given file's document starts, for problems of the whole scenario.
    pub root_offset: usize,
    pub sources: SourceMap,
    /// The files' `[overrides]`, base first.
    pub overrides: Vec<ParsedOverride<'a>>,
    pub problems: Vec<Problem>,
}

/// Follows `[scenario] extends` from the file given. `load` is None where the scenario is not
/// read from a file, and `extends` is then an error.
pub fn gather(origin: &str, text: &str, load: Option<Loader<'_>>) -> SourceFiles {
    let mut sources = SourceFiles { files: vec![(origin.to_string(), text.to_string())], problems: Vec::new() };
    loop {
        let index = sources.files.len() - 1;
        let (current, text) = &sources.files[index];
        let (document, errors) = DeTable::parse_recoverable(text);
        // A file with syntax errors is reported as such when the files are read.
        if !errors.is_empty() {
            break;
        }
        let Some((extends, offset)) = extends_of(document.get_ref()) else { break };
        let resolved = resolve(current, &extends);
        let problem = |message: String| (index, offset, message);
        if sources.files.iter().any(|(origin, _)| normalize(Path::new(origin)) == normalize(Path::new(&resolved))) {
            let chain: Vec<&str> = sources.files.iter().map(|(origin, _)| origin.as_str()).collect();
            let message = format!("`extends = \"{extends}\"` forms a cycle: {} -> {resolved}", chain.join(" -> "));
            sources.problems.push(problem(message));
            break;
        }
        let Some(load) = load else {
            let message = "`extends` names another file, and this scenario was not read from a file".to_string();
            sources.problems.push(problem(message));
            break;
        };
        match load(&resolved) {
            Ok(text) => sources.files.push((resolved, text)),
            Err(error) => {
                sources.problems.push(problem(format!("cannot read `{extends}` ({resolved}): {error}")));
                break;
            }
        }
    }
    sources
}

/// `[scenario] extends` of a parsed file, with its offset.
fn extends_of(document: &DeTable<'_>) -> Option<(String, usize)> {
    let scenario = document.get("scenario")?;
    let DeValue::Table(scenario) = scenario.get_ref() else { return None };
    let extends = scenario.get("extends")?;
    let DeValue::String(path) = extends.get_ref() else { return None };
    Some((path.to_string(), extends.span().start))
}

/// `path` as written in `origin`, relative to `origin`'s directory.
fn resolve(origin: &str, path: &str) -> String {
    let directory = Path::new(origin).parent().unwrap_or(Path::new(""));
    normalize(&directory.join(path)).display().to_string()
}

/// A path with `.` removed and `..` applied where it can be, without touching the disk.
fn normalize(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if matches!(normal.components().next_back(), Some(Component::Normal(_))) => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

/// Parses every file into the shared address space and merges them, base first. The document
/// is empty when a file has syntax errors (they are among the problems).
pub fn compose(files: &SourceFiles) -> Document<'_> {
    let mut sources = SourceMap::default();
    let bases: Vec<usize> = files.files.iter().map(|(origin, text)| sources.add(origin, text)).collect();
    let mut problems: Vec<Problem> = files
        .problems
        .iter()
        .map(|(file, offset, message)| Problem {
            offset: bases[*file] + offset,
            key_path: "scenario.extends".to_string(),
            message: message.clone(),
        })
        .collect();
    let mut documents = Vec::with_capacity(files.files.len());
    for ((_, text), &base) in files.files.iter().zip(&bases) {
        let (document, errors) = DeTable::parse_recoverable(text);
        for error in errors {
            problems.push(Problem {
                offset: base + error.span().map_or(0, |span| span.start),
                key_path: String::new(),
                message: format!("invalid TOML: {}", error.message().trim()),
            });
        }
        documents.push(shift_table(document.into_inner(), base));
    }
    let root_offset = bases[0];
    let mut document = Document { root: DeTable::new(), root_offset, sources, overrides: Vec::new(), problems };
    if !document.problems.is_empty() {
        return document;
    }
    let names: Vec<&str> = files.files.iter().map(|(origin, _)| origin.as_str()).collect();
    let mut merged = documents.pop().expect("one file at least");
    if let Some((key, _)) = merged.get_key_value("overrides") {
        document.problems.push(Problem {
            offset: key.span().start,
            key_path: "overrides".to_string(),
            message: "[overrides] change the scenario a file extends, and this file extends none: write the values in place, or add `extends` to [scenario]".to_string(),
        });
    }
    // File k extends file k + 1.
    for (index, child) in documents.into_iter().enumerate().rev() {
        merge(&mut merged, child, names[index + 1], &mut document);
    }
    document.root = merged;
    document
}

/// Adds a child file's document onto its base's, collecting its `[overrides]`.
fn merge<'a>(base: &mut DeTable<'a>, child: DeTable<'a>, base_name: &str, document: &mut Document<'a>) {
    for (key, value) in child {
        let name = key.get_ref().to_string();
        let offset = key.span().start;
        let problem = |document: &mut Document<'a>, message: String| {
            document.problems.push(Problem { offset, key_path: name.clone(), message });
        };
        match (name.as_str(), value.get_ref()) {
            ("overrides", DeValue::Table(_)) => {
                let DeValue::Table(entries) = value.into_inner() else { unreachable!("matched a table") };
                for (key, value) in entries {
                    let key_offset = key.span().start;
                    document.overrides.push(ParsedOverride {
                        key: key.into_inner().into_owned(),
                        value,
                        source: OverrideSource::File { key_offset },
                    });
                }
            }
            ("overrides", _) => {
                problem(document, "expected a table of key paths to values, e.g. \"simulation.years\" = 12".to_string())
            }
            ("scenario", DeValue::Table(_)) => match base.get_mut("scenario").map(Spanned::get_mut) {
                Some(DeValue::Table(scenario)) => {
                    let DeValue::Table(entries) = value.into_inner() else { unreachable!("matched a table") };
                    for (key, value) in entries {
                        scenario.insert(key, value);
                    }
                }
                _ => {
                    base.insert(key, value);
                }
            },
            ("parties", DeValue::Table(_)) => match base.get_mut("parties").map(Spanned::get_mut) {
                Some(DeValue::Table(parties)) => {
                    let DeValue::Table(entries) = value.into_inner() else { unreachable!("matched a table") };
                    for (party, value) in entries {
                        if parties.contains_key(party.get_ref().as_ref()) {
                            let party_name: &str = party.get_ref();
                            document.problems.push(Problem {
                                offset: party.span().start,
                                key_path: format!("parties.{party_name}"),
                                message: format!("party `{party_name}` is defined in {base_name}; change its values with [overrides], e.g. \"parties.{party_name}.discount_rate\" = 0.1"),
                            });
                        } else {
                            parties.insert(party, value);
                        }
                    }
                }
                _ => {
                    base.insert(key, value);
                }
            },
            ("streams" | "events" | "correlations" | "deals", DeValue::Array(_)) => {
                match base.get_mut(name.as_str()).map(Spanned::get_mut) {
                    Some(DeValue::Array(items)) => {
                        let DeValue::Array(added) = value.into_inner() else { unreachable!("matched an array") };
                        for item in added.iter().cloned() {
                            items.push(item);
                        }
                    }
                    _ => {
                        base.insert(key, value);
                    }
                }
            }
            _ if base.contains_key(name.as_str()) => problem(
                document,
                format!(
                    "`{name}` is defined in {base_name}; change its values with [overrides], e.g. \"{name}.<key>\" = <value>"
                ),
            ),
            _ => {
                base.insert(key, value);
            }
        }
    }
}

/// A parsed value with every span moved by `by`: into the shared address space.
fn shift(value: Spanned<DeValue<'_>>, by: usize) -> Spanned<DeValue<'_>> {
    let span = value.span();
    let span = span.start + by..span.end + by;
    let shifted = match value.into_inner() {
        DeValue::Table(table) => DeValue::Table(shift_table(table, by)),
        DeValue::Array(array) => {
            let mut items = DeArray::new();
            for item in array.iter().cloned() {
                items.push(shift(item, by));
            }
            DeValue::Array(items)
        }
        scalar => scalar,
    };
    Spanned::new(span, shifted)
}

fn shift_table(table: DeTable<'_>, by: usize) -> DeTable<'_> {
    table
        .into_iter()
        .map(|(key, value)| {
            let span = key.span();
            let key: Spanned<Cow<'_, str>> = Spanned::new(span.start + by..span.end + by, key.into_inner());
            (key, shift(value, by))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extends_resolves_against_the_extending_files_directory() {
        assert_eq!(resolve("scenarios/growth.toml", "base.toml"), "scenarios/base.toml");
        assert_eq!(resolve("scenarios/variants/a.toml", "../base.toml"), "scenarios/base.toml");
        assert_eq!(resolve("a.toml", "./b.toml"), "b.toml");
    }

    #[test]
    fn spans_move_into_the_shared_address_space() {
        let (document, _) = DeTable::parse_recoverable("a = { b = 1 }");
        let shifted = shift_table(document.into_inner(), 100);
        let (key, value) = shifted.get_key_value("a").unwrap();
        assert_eq!(key.span(), 100..101);
        let DeValue::Table(inner) = value.get_ref() else { panic!() };
        assert_eq!(inner.get("b").unwrap().span(), 110..111);
    }
}
