//! What the text of a SQL statement says, for its span: the operation (`SELECT`), the first
//! collection it names (`models`), and the text to record with literal values replaced by `?`.
//!
//! A small lexer, not a parser: it knows comments, quoted strings and identifiers (`'..'`, `".."`,
//! `` `..` ``, `[..]`, PostgreSQL's `E'..'` and `$tag$..$tag$`), numbers and placeholders (`$1`,
//! `?`, `?1`), which is what finding keywords at the top level and replacing literals needs.
//! A statement it cannot make sense of has no operation: its span is named by the system.

use std::borrow::Cow;

/// What a statement's text says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Summary<'a> {
    /// The operation, upper case (`SELECT`, `INSERT`, `BEGIN`), if the statement starts with one.
    pub(crate) operation: Option<&'static str>,
    /// The first table the operation names, as written (schema prefix included, quotes of a
    /// single quoted name removed).
    pub(crate) collection: Option<&'a str>,
}

/// The operations a statement may start with, as span names spell them.
const OPERATIONS: [&str; 36] = [
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "REPLACE",
    "MERGE",
    "UPSERT",
    "WITH",
    "CREATE",
    "DROP",
    "ALTER",
    "TRUNCATE",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
    "START",
    "END",
    "SET",
    "SHOW",
    "EXPLAIN",
    "ANALYZE",
    "VACUUM",
    "PRAGMA",
    "COPY",
    "CALL",
    "GRANT",
    "REVOKE",
    "LOCK",
    "LISTEN",
    "NOTIFY",
    "VALUES",
    "ATTACH",
    "DETACH",
    "REINDEX",
];

/// The operations a `WITH` clause may lead to.
const MAIN_OPERATIONS: [&str; 5] = ["SELECT", "INSERT", "UPDATE", "DELETE", "MERGE"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A keyword or bare identifier.
    Word,
    /// A quoted identifier; the range holds the quotes.
    Quoted,
    /// A string, blob or dollar-quoted literal.
    Text,
    /// A numeric literal.
    Number,
    /// `(`
    Open,
    /// `)`
    Close,
    /// `.`
    Dot,
    /// Anything else: operators, commas, placeholders, `;`.
    Other,
}

#[derive(Clone, Copy, Debug)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

/// The tokens of `sql`, comments and whitespace left out.
struct Lexer<'a> {
    sql: &'a str,
    at: usize,
}

impl<'a> Lexer<'a> {
    fn new(sql: &'a str) -> Self {
        Lexer { sql, at: 0 }
    }

    fn byte(&self, i: usize) -> Option<u8> {
        self.sql.as_bytes().get(i).copied()
    }

    /// The index just past the quote that closes a quoted run opened at `open` (a doubled quote
    /// is an escaped one), or the end of the text.
    fn close_quote(&self, open: usize, quote: u8) -> usize {
        let bytes = self.sql.as_bytes();
        let mut i = open + 1;
        while i < bytes.len() {
            if bytes[i] == quote {
                if bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            i += 1;
        }
        bytes.len()
    }

    /// `$tag$ .. $tag$` starting at `open`: the index past the closing tag, if `open` starts one.
    fn dollar_quote(&self, open: usize) -> Option<usize> {
        let rest = &self.sql[open + 1..];
        let tag_len = rest.find('$')?;
        let tag = &rest[..tag_len];
        if !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            || tag.bytes().next().is_some_and(|b| b.is_ascii_digit())
        {
            return None;
        }
        let delimiter = &self.sql[open..open + tag_len + 2];
        let body = open + delimiter.len();
        Some(
            self.sql[body..]
                .find(delimiter)
                .map_or(self.sql.len(), |i| body + i + delimiter.len()),
        )
    }

    fn word_end(&self, from: usize) -> usize {
        let bytes = self.sql.as_bytes();
        let mut i = from;
        while i < bytes.len()
            && (bytes[i].is_ascii_alphanumeric()
                || bytes[i] == b'_'
                || bytes[i] == b'$'
                || bytes[i] >= 0x80)
        {
            i += 1;
        }
        i
    }

    fn number_end(&self, from: usize) -> usize {
        let bytes = self.sql.as_bytes();
        let mut i = from;
        if bytes.get(i) == Some(&b'0') && matches!(bytes.get(i + 1), Some(b'x' | b'X')) {
            i += 2;
            while i < bytes.len() && bytes[i].is_ascii_hexdigit() {
                i += 1;
            }
            return i;
        }
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.' || bytes[i] == b'_')
        {
            i += 1;
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(bytes.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if bytes.get(j).is_some_and(u8::is_ascii_digit) {
                i = j;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
            }
        }
        i
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let bytes = self.sql.as_bytes();
        loop {
            let start = self.at;
            let b = self.byte(start)?;
            let (kind, end) = match b {
                b if b.is_ascii_whitespace() => {
                    self.at += 1;
                    continue;
                }
                b'-' if self.byte(start + 1) == Some(b'-') => {
                    self.at = self.sql[start..]
                        .find('\n')
                        .map_or(bytes.len(), |i| start + i + 1);
                    continue;
                }
                b'/' if self.byte(start + 1) == Some(b'*') => {
                    self.at = self.sql[start + 2..]
                        .find("*/")
                        .map_or(bytes.len(), |i| start + 2 + i + 2);
                    continue;
                }
                b'\'' => (Kind::Text, self.close_quote(start, b'\'')),
                b'"' => (Kind::Quoted, self.close_quote(start, b'"')),
                b'`' => (Kind::Quoted, self.close_quote(start, b'`')),
                b'[' => (
                    Kind::Quoted,
                    self.sql[start..]
                        .find(']')
                        .map_or(bytes.len(), |i| start + i + 1),
                ),
                b'$' if self.byte(start + 1).is_some_and(|b| b.is_ascii_digit()) => {
                    (Kind::Other, self.word_end(start + 1))
                }
                b'$' => match self.dollar_quote(start) {
                    Some(end) => (Kind::Text, end),
                    None => (Kind::Other, start + 1),
                },
                b'?' => {
                    let mut end = start + 1;
                    while self.byte(end).is_some_and(|b| b.is_ascii_digit()) {
                        end += 1;
                    }
                    (Kind::Other, end)
                }
                b'0'..=b'9' => (Kind::Number, self.number_end(start)),
                b'.' if self.byte(start + 1).is_some_and(|b| b.is_ascii_digit()) => {
                    (Kind::Number, self.number_end(start))
                }
                b'.' => (Kind::Dot, start + 1),
                b'(' => (Kind::Open, start + 1),
                b')' => (Kind::Close, start + 1),
                b if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => {
                    let end = self.word_end(start);
                    // E'..', X'..', B'..', N'..': a prefixed string or blob literal.
                    if end == start + 1 && self.byte(end) == Some(b'\'') {
                        (Kind::Text, self.close_quote(end, b'\''))
                    } else {
                        (Kind::Word, end)
                    }
                }
                _ => {
                    let width = self.sql[start..].chars().next().map_or(1, char::len_utf8);
                    (Kind::Other, start + width)
                }
            };
            self.at = end;
            return Some(Token { kind, start, end });
        }
    }
}

/// `sql` with every string, blob and numeric literal replaced by `?`; borrowed when it has none.
pub(crate) fn sanitize(sql: &str) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut copied = 0;
    for token in Lexer::new(sql) {
        if matches!(token.kind, Kind::Text | Kind::Number) {
            let out = out.get_or_insert_with(|| String::with_capacity(sql.len()));
            out.push_str(&sql[copied..token.start]);
            out.push('?');
            copied = token.end;
        }
    }
    match out {
        Some(mut out) => {
            out.push_str(&sql[copied..]);
            Cow::Owned(out)
        }
        None => Cow::Borrowed(sql),
    }
}

/// The operation and first collection of `sql` (see [`Summary`]).
pub(crate) fn summarize(sql: &str) -> Summary<'_> {
    let tokens: Vec<Token> = Lexer::new(sql).collect();
    let word = |t: &Token| (t.kind == Kind::Word).then(|| &sql[t.start..t.end]);
    let is = |t: &Token, keyword: &str| word(t).is_some_and(|w| w.eq_ignore_ascii_case(keyword));
    let none = Summary {
        operation: None,
        collection: None,
    };
    let Some(first) = tokens.first().and_then(word) else {
        return none;
    };
    let Some(mut operation) = OPERATIONS
        .into_iter()
        .find(|op| op.eq_ignore_ascii_case(first))
    else {
        return none;
    };
    // The tokens at the top level (outside parentheses), each with its index.
    let mut depth = 0_usize;
    let top: Vec<usize> = (0..tokens.len())
        .filter(|&i| {
            let at_top = depth == 0;
            match tokens[i].kind {
                Kind::Open => depth += 1,
                Kind::Close => depth = depth.saturating_sub(1),
                _ => {}
            }
            at_top
        })
        .collect();
    let mut from = 1;
    if operation == "WITH" {
        // `WITH name AS (..), .. SELECT ..`: the statement's operation is the one after the CTEs.
        match top.iter().enumerate().skip(1).find_map(|(k, &i)| {
            MAIN_OPERATIONS
                .into_iter()
                .find(|op| is(&tokens[i], op))
                .map(|op| (k, op))
        }) {
            Some((k, op)) => {
                operation = op;
                from = k + 1;
            }
            None => return none,
        }
    }
    let top = &top[from..];
    // The name right after the first top-level keyword of `after` (skipping `skip` words).
    let name_after = |after: &[&str], skip: &[&str]| -> Option<&str> {
        let k = top
            .iter()
            .position(|&i| after.iter().any(|keyword| is(&tokens[i], keyword)))?;
        let mut i = top[k] + 1;
        while tokens.get(i).is_some_and(|t| skip.iter().any(|s| is(t, s))) {
            i += 1;
        }
        qualified_name(sql, &tokens[i..])
    };
    let collection = match operation {
        "SELECT" | "DELETE" => name_after(&["FROM"], &["ONLY"]),
        "INSERT" | "REPLACE" | "UPSERT" | "MERGE" => name_after(&["INTO"], &[]),
        "UPDATE" => {
            let mut i = top.first().copied().unwrap_or(tokens.len());
            // `UPDATE OR IGNORE t` (SQLite), `UPDATE ONLY t` (PostgreSQL).
            if tokens.get(i).is_some_and(|t| is(t, "OR")) {
                i += 2;
            }
            if tokens.get(i).is_some_and(|t| is(t, "ONLY")) {
                i += 1;
            }
            qualified_name(sql, tokens.get(i..).unwrap_or_default())
        }
        "CREATE" | "DROP" | "ALTER" | "TRUNCATE" => {
            let skip = ["IF", "NOT", "EXISTS", "ONLY"];
            if top.iter().any(|&i| is(&tokens[i], "INDEX")) {
                name_after(&["ON"], &["ONLY"])
            } else if operation == "TRUNCATE" {
                name_after(&["TRUNCATE", "TABLE"], &skip)
                    .or_else(|| qualified_name(sql, tokens.get(1..).unwrap_or_default()))
            } else {
                name_after(&["TABLE"], &skip)
            }
        }
        _ => None,
    };
    Summary {
        operation: Some(operation),
        collection,
    }
}

/// The (possibly schema-qualified) name `tokens` start with: a single quoted name without its
/// quotes, a dotted one as written. `None` for anything else (a subquery, a keyword-less end).
fn qualified_name<'a>(sql: &'a str, tokens: &[Token]) -> Option<&'a str> {
    let first = tokens
        .first()
        .filter(|t| matches!(t.kind, Kind::Word | Kind::Quoted))?;
    let mut end = first.end;
    let mut parts = 1;
    let mut rest = &tokens[1..];
    while let [dot, part, more @ ..] = rest {
        if dot.kind != Kind::Dot || !matches!(part.kind, Kind::Word | Kind::Quoted) {
            break;
        }
        end = part.end;
        parts += 1;
        rest = more;
    }
    let name = &sql[first.start..end];
    if parts == 1 && first.kind == Kind::Quoted && name.len() >= 2 {
        return Some(&name[1..name.len() - 1]);
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(sql: &str) -> (Option<&'static str>, Option<&str>) {
        let s = summarize(sql);
        (s.operation, s.collection)
    }

    #[test]
    fn operations_and_collections() {
        let cases = [
            ("SELECT id, name FROM models WHERE id = $1", (Some("SELECT"), Some("models"))),
            ("select * from public.models m join runs r on r.model = m.id", (Some("SELECT"), Some("public.models"))),
            ("SELECT count(*) FROM (SELECT * FROM runs) AS r", (Some("SELECT"), None)),
            ("SELECT (SELECT max(x) FROM inner_t) FROM outer_t", (Some("SELECT"), Some("outer_t"))),
            ("SELECT 1", (Some("SELECT"), None)),
            ("INSERT INTO models (id, name) VALUES ($1, $2)", (Some("INSERT"), Some("models"))),
            ("INSERT OR REPLACE INTO \"Model Runs\" VALUES (?1)", (Some("INSERT"), Some("Model Runs"))),
            ("UPDATE models SET name = ?1 WHERE id = ?2", (Some("UPDATE"), Some("models"))),
            ("UPDATE OR IGNORE models SET x = 1", (Some("UPDATE"), Some("models"))),
            ("DELETE FROM models WHERE id = 4", (Some("DELETE"), Some("models"))),
            ("CREATE TABLE IF NOT EXISTS models (id TEXT PRIMARY KEY)", (Some("CREATE"), Some("models"))),
            ("CREATE UNIQUE INDEX models_name ON models (name)", (Some("CREATE"), Some("models"))),
            ("DROP TABLE IF EXISTS models", (Some("DROP"), Some("models"))),
            ("TRUNCATE models", (Some("TRUNCATE"), Some("models"))),
            ("WITH recent AS (SELECT * FROM runs) SELECT * FROM recent", (Some("SELECT"), Some("recent"))),
            ("WITH gone AS (DELETE FROM runs RETURNING *) INSERT INTO archive SELECT * FROM gone", (Some("INSERT"), Some("archive"))),
            ("  -- lookup\n /* by id */ SELECT * FROM models", (Some("SELECT"), Some("models"))),
            ("BEGIN", (Some("BEGIN"), None)),
            ("commit", (Some("COMMIT"), None)),
        ];
        for (sql, expected) in cases {
            assert_eq!(summary(sql), expected, "{sql}");
        }
    }

    #[test]
    fn statements_that_cannot_be_read_have_no_operation() {
        for sql in [
            "",
            "   ",
            "-- only a comment",
            "SELEC * FROM t",
            "(SELECT 1)",
            "42",
            "'text'",
            "WITH x AS (SELECT 1)",
        ] {
            assert_eq!(summary(sql), (None, None), "{sql:?}");
        }
    }

    #[test]
    fn literals_become_placeholders() {
        let cases = [
            (
                "SELECT * FROM users WHERE email = 'a@b.c' AND age > 42",
                "SELECT * FROM users WHERE email = ? AND age > ?",
            ),
            (
                "INSERT INTO t VALUES ('it''s', -1.5e3, 0xFF, X'00ff', E'\\n')",
                "INSERT INTO t VALUES (?, -?, ?, ?, ?)",
            ),
            ("SELECT $body$ secret ' text $body$, $$x$$", "SELECT ?, ?"),
            (
                "SELECT t1.c2 FROM t1 WHERE c3 = $1 AND c4 = ?2",
                "SELECT t1.c2 FROM t1 WHERE c3 = $1 AND c4 = ?2",
            ),
            (
                "SELECT \"col'1\" FROM t -- it's 5\n",
                "SELECT \"col'1\" FROM t -- it's 5\n",
            ),
            ("SELECT 'unterminated", "SELECT ?"),
            (
                "SELECT 'é', 'ü' || name FROM t",
                "SELECT ?, ? || name FROM t",
            ),
        ];
        for (sql, expected) in cases {
            assert_eq!(sanitize(sql), expected, "{sql}");
        }
        assert!(matches!(
            sanitize("SELECT * FROM t WHERE id = $1"),
            Cow::Borrowed(_)
        ));
    }
}
