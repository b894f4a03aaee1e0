//! What a statement's span is named and given from its text, read once per distinct statement
//! on each thread.
//!
//! A service runs the same few statements over and over, so lexing each one again, and copying
//! its text, table and span name into `String`s of every span, is work (four allocations, one
//! of them growing) repeated for nothing. Each thread keeps what it read of the statements it
//! ran ([`CACHED_STATEMENTS`] of them at most, each at most [`CACHED_TEXT_LEN`] bytes long);
//! a span then clones shared strings and allocates nothing for them. Span names are `&'static`
//! once read ([`NAMES`] distinct ones in the process at most; a statement beyond that gets a
//! name of its own per span, as an uncached one does).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry::StringValue;

use super::statement;

/// The most statements a thread remembers; past it, it forgets them all and starts again.
const CACHED_STATEMENTS: usize = 256;
/// The longest statement text remembered: longer ones (generated `IN (..)` lists, bulk inserts)
/// are read every time, and not kept alive by the cache.
const CACHED_TEXT_LEN: usize = 4096;
/// The most span names made `&'static` for the whole process.
const NAMES: usize = 1024;

/// What a statement's span gets from its text.
#[derive(Clone, Debug)]
pub(super) struct Described {
    /// `{operation} {collection}`, `{operation}`, or `None`: the span is named by the system.
    pub(super) name: Option<Cow<'static, str>>,
    /// `db.operation.name`.
    pub(super) operation: Option<&'static str>,
    /// `db.collection.name`.
    pub(super) collection: Option<StringValue>,
    /// `db.query.text`.
    pub(super) text: StringValue,
}

/// A statement as read once: its text recorded as is (it binds parameters) and, made the first
/// time a run binds none, with its literals replaced.
struct Entry {
    as_is: Described,
    sanitized: Option<StringValue>,
}

thread_local! {
    static STATEMENTS: RefCell<HashMap<Arc<str>, Entry>> = RefCell::new(HashMap::new());
}

/// What the span of `sql` gets; its text is recorded as is when `parameterised` (the values
/// are in the arguments), else with every literal replaced by `?`.
pub(super) fn describe(sql: &str, parameterised: bool) -> Described {
    if sql.len() > CACHED_TEXT_LEN {
        return read(sql, parameterised);
    }
    STATEMENTS.with(|statements| {
        // A span ended while the cache is borrowed cannot reach here again, but a thread-local
        // that is being torn down can: both read the statement without the cache.
        let Ok(mut statements) = statements.try_borrow_mut() else {
            return read(sql, parameterised);
        };
        if !statements.contains_key(sql) {
            if statements.len() >= CACHED_STATEMENTS {
                statements.clear();
            }
            let key = Arc::<str>::from(sql);
            let (name, operation, collection) = named(&key);
            let as_is = Described {
                name,
                operation,
                collection,
                text: StringValue::from(Arc::clone(&key)),
            };
            let entry = Entry {
                as_is,
                sanitized: None,
            };
            statements.insert(key, entry);
        }
        let Some(entry) = statements.get_mut(sql) else {
            return read(sql, parameterised);
        };
        let mut described = entry.as_is.clone();
        if !parameterised {
            let as_is = &entry.as_is.text;
            described.text = entry
                .sanitized
                .get_or_insert_with(|| match statement::sanitize(sql) {
                    Cow::Borrowed(_) => as_is.clone(),
                    Cow::Owned(text) => StringValue::from(Arc::<str>::from(text)),
                })
                .clone();
        }
        described
    })
}

/// Reads `sql` without the cache.
fn read(sql: &str, parameterised: bool) -> Described {
    let (name, operation, collection) = named(sql);
    let text = if parameterised {
        StringValue::from(sql.to_owned())
    } else {
        StringValue::from(statement::sanitize(sql).into_owned())
    };
    Described {
        name,
        operation,
        collection,
        text,
    }
}

/// The span name, operation and collection `sql` shows (see [`Described`]).
fn named(
    sql: &str,
) -> (
    Option<Cow<'static, str>>,
    Option<&'static str>,
    Option<StringValue>,
) {
    match statement::summarize(sql) {
        statement::Summary {
            operation: Some(operation),
            collection: Some(collection),
        } => (
            Some(static_name(format!("{operation} {collection}"))),
            Some(operation),
            Some(StringValue::from(Arc::<str>::from(collection))),
        ),
        statement::Summary {
            operation: Some(operation),
            collection: None,
        } => (Some(Cow::Borrowed(operation)), Some(operation), None),
        statement::Summary {
            operation: None, ..
        } => (None, None, None),
    }
}

/// `name` as a `&'static str` shared by every span of that name, while fewer than [`NAMES`]
/// names are; else `name` itself.
fn static_name(name: String) -> Cow<'static, str> {
    static INTERNED: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut interned = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    let interned = interned.get_or_insert_with(HashSet::new);
    if let Some(&name) = interned.get(name.as_str()) {
        return Cow::Borrowed(name);
    }
    if interned.len() >= NAMES {
        return Cow::Owned(name);
    }
    // Leaked on purpose, at most `NAMES` times per process: span names outlive every span.
    let name: &'static str = Box::leak(name.into_boxed_str());
    interned.insert(name);
    Cow::Borrowed(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_read_twice_gives_the_same_span_and_shares_its_strings() {
        let sql = "SELECT id FROM models WHERE id = $1";
        let first = describe(sql, true);
        let second = describe(sql, true);
        assert_eq!(first.name.as_deref(), Some("SELECT models"));
        assert_eq!(first.operation, Some("SELECT"));
        assert_eq!(
            first.collection.as_ref().map(StringValue::as_str),
            Some("models")
        );
        assert_eq!(first.text.as_str(), sql);
        // The second run's strings are the first run's, not copies.
        assert!(matches!(
            (&first.name, &second.name),
            (Some(Cow::Borrowed(a)), Some(Cow::Borrowed(b))) if std::ptr::eq(*a, *b)
        ));
        assert!(std::ptr::eq(first.text.as_str(), second.text.as_str()));
    }

    #[test]
    fn the_same_text_without_bound_values_is_recorded_with_its_literals_replaced() {
        let sql = "UPDATE models SET name = 'bert' WHERE id = 7";
        let bound = describe(sql, true);
        let literal = describe(sql, false);
        assert_eq!(bound.text.as_str(), sql);
        assert_eq!(
            literal.text.as_str(),
            "UPDATE models SET name = ? WHERE id = ?"
        );
        assert_eq!(literal.name.as_deref(), Some("UPDATE models"));
        // And the other way round: the replaced text is kept beside the one as written.
        assert_eq!(describe(sql, true).text.as_str(), sql);
        assert_eq!(describe(sql, false).text.as_str(), literal.text.as_str());
    }

    #[test]
    fn long_and_many_statements_are_read_right_without_the_cache() {
        let long = format!(
            "SELECT id FROM models WHERE name IN ({})",
            "'x', ".repeat(2000)
        );
        let described = describe(&long, false);
        assert_eq!(described.name.as_deref(), Some("SELECT models"));
        assert!(!described.text.as_str().contains('x'));
        // More distinct statements than the cache holds: every one still read right.
        for n in 0..CACHED_STATEMENTS * 2 {
            let sql = format!("SELECT * FROM t{} WHERE id = {n}", n % 7);
            let described = describe(&sql, false);
            assert_eq!(
                described.collection.as_ref().map(StringValue::as_str),
                Some(format!("t{}", n % 7)).as_deref()
            );
            assert_eq!(
                described.text.as_str(),
                format!("SELECT * FROM t{} WHERE id = ?", n % 7)
            );
        }
        assert!(STATEMENTS.with(|s| s.borrow().len()) <= CACHED_STATEMENTS);
    }

    #[test]
    fn a_statement_without_an_operation_has_no_name() {
        let described = describe("frobnicate the models", true);
        assert_eq!(described.name, None);
        assert_eq!(described.operation, None);
        assert_eq!(described.collection, None);
    }
}
