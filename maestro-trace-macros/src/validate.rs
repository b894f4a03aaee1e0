//! Validation: span and event names, attribute keys, options. Every check adds to one combined
//! error so the user sees all problems in one build; expansion only runs on what passed.

use proc_macro2::Span;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{Expr, Ident, LitStr};

use crate::parse::{AttrSpec, RawOption};

/// Every error found so far, combined.
#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
}

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    pub(crate) fn at(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        match self.combined {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// What a name names, for messages.
#[derive(Clone, Copy)]
pub(crate) enum NameKind {
    Span,
    Event,
}

impl NameKind {
    fn noun(self) -> &'static str {
        match self {
            NameKind::Span => "span name",
            NameKind::Event => "event name",
        }
    }

    fn example(self) -> &'static str {
        match self {
            NameKind::Span => "load_training_dataset",
            NameKind::Event => "model_checkpoint_saved",
        }
    }
}

pub(crate) const MAX_NAME_BYTES: usize = 128;
pub(crate) const MAX_KEY_BYTES: usize = 255;

/// Words that say nothing about what an operation does; a name made only of them is rejected.
const GENERIC_WORDS: &[&str] = &[
    "step",
    "stage",
    "phase",
    "part",
    "span",
    "task",
    "job",
    "op",
    "operation",
    "func",
    "function",
    "fn",
    "method",
    "process",
    "processing",
    "handle",
    "handler",
    "do",
    "run",
    "work",
    "data",
    "stuff",
    "thing",
    "test",
    "tmp",
    "temp",
    "foo",
    "bar",
    "baz",
    "misc",
];

/// Checks a span or event name; the error message says what to write instead.
/// `default_for` is the function whose name is being used as the default span name.
pub(crate) fn check_name(
    name: &str,
    kind: NameKind,
    default_for: Option<&str>,
) -> Result<(), String> {
    let noun = kind.noun();
    let fix = match default_for {
        Some(_) => format!(
            "; give the span an explicit name: `#[traced(\"{}\")]`",
            kind.example()
        ),
        None => String::new(),
    };
    let subject = match default_for {
        Some(_) => format!("the default {noun} `{name}` (the function's name)"),
        None => format!("{noun} `{name}`"),
    };
    if name.is_empty() {
        return Err(format!(
            "{noun} is empty; name the operation, e.g. `{}`",
            kind.example()
        ));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "{subject} is {} bytes long, over the limit of {MAX_NAME_BYTES}; shorten it and move details into attributes{fix}",
            name.len()
        ));
    }
    if name.contains('{') || name.contains('}') {
        return Err(format!(
            "{subject} contains a `{{...}}` placeholder; span and event names must have low cardinality: \
             put the variable part in an attribute instead, e.g. `attrs(model.id = id)`"
        ));
    }
    let first = name.chars().next().unwrap_or('a');
    if !first.is_ascii_lowercase() {
        return Err(format!(
            "{subject} must start with a lowercase letter (a-z); write `{}`{fix}",
            suggest(name)
        ));
    }
    if let Some(bad) = name.chars().find(|c| !is_name_char(*c)) {
        return Err(format!(
            "{subject} contains `{}`; use only a-z, 0-9, `_`, `.`, `-`, `/` and `:`, e.g. `{}`{fix}",
            bad.escape_debug(),
            suggest(name)
        ));
    }
    if is_generic(name) {
        return Err(match default_for {
            Some(_) => format!(
                "{subject} is too generic to find in a trace view; give the span an explicit name that says what the code does: `#[traced(\"{}\")]`",
                kind.example()
            ),
            None => format!(
                "{subject} is too generic to find in a trace view; name what the code does, e.g. `{}`",
                kind.example()
            ),
        });
    }
    Ok(())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-' | '/' | ':')
}

/// A name made only of generic words, once split on separators and stripped of trailing digits.
fn is_generic(name: &str) -> bool {
    name.split(['_', '.', '-', '/', ':'])
        .map(|word| word.trim_end_matches(|c: char| c.is_ascii_digit()))
        .filter(|word| !word.is_empty())
        .all(|word| GENERIC_WORDS.contains(&word))
}

/// The nearest valid spelling of `name`: lowercase, other characters turned into `_`.
fn suggest(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if is_name_char(c) {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_start_matches(|c: char| !c.is_ascii_lowercase());
    if trimmed.is_empty() {
        "load_training_dataset".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// Semantic-convention keys that were renamed, with the key to use now.
const DEPRECATED_KEYS: &[(&str, &str)] = &[
    ("http.method", "http.request.method"),
    ("http.url", "url.full"),
    ("http.target", "url.path"),
    ("http.scheme", "url.scheme"),
    ("http.host", "server.address"),
    ("http.status_code", "http.response.status_code"),
    ("http.user_agent", "user_agent.original"),
    ("http.client_ip", "client.address"),
    ("http.flavor", "network.protocol.version"),
    ("http.request_content_length", "http.request.body.size"),
    ("http.response_content_length", "http.response.body.size"),
    ("db.statement", "db.query.text"),
    ("db.operation", "db.operation.name"),
    ("db.name", "db.namespace"),
    ("db.system", "db.system.name"),
    ("net.peer.name", "server.address"),
    ("net.peer.port", "server.port"),
    ("net.host.name", "server.address"),
    ("net.host.port", "server.port"),
    ("net.sock.peer.addr", "network.peer.address"),
    ("net.sock.peer.port", "network.peer.port"),
    ("net.protocol.name", "network.protocol.name"),
    ("net.protocol.version", "network.protocol.version"),
    ("net.transport", "network.transport"),
    ("code.function", "code.function.name"),
    ("code.filepath", "code.file.path"),
    ("code.lineno", "code.line.number"),
    ("enduser.id", "user.id"),
    ("deployment.environment", "deployment.environment.name"),
];

/// Checks an attribute key. `Ok(Some(new))` means the key is valid but deprecated in favour
/// of `new`.
pub(crate) fn check_key(key: &str) -> Result<Option<&'static str>, String> {
    if key.is_empty() {
        return Err("attribute key is empty; write e.g. `model.id = id`".to_owned());
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(format!(
            "attribute key `{key}` is {} bytes long, over the limit of {MAX_KEY_BYTES}",
            key.len()
        ));
    }
    for segment in key.split('.') {
        let Some(first) = segment.chars().next() else {
            return Err(format!(
                "attribute key `{key}` has an empty segment; write dot-separated words such as `model.id`"
            ));
        };
        if !first.is_ascii_lowercase() {
            return Err(format!(
                "attribute key `{key}`: segment `{segment}` must start with a lowercase letter; write `{}`",
                suggest(key).replace(['/', ':', '-'], "_")
            ));
        }
        if let Some(bad) = segment
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
        {
            return Err(format!(
                "attribute key `{key}` contains `{}`; use dot-separated segments of a-z, 0-9 and `_`, e.g. `{}`",
                bad.escape_debug(),
                suggest(key).replace(['/', ':', '-'], "_")
            ));
        }
    }
    if key == "otel" || key.starts_with("otel.") {
        return Err(format!(
            "attribute key `{key}` is reserved: `otel.*` keys belong to OpenTelemetry itself; choose a key in your own namespace"
        ));
    }
    Ok(DEPRECATED_KEYS
        .iter()
        .find(|(old, _)| *old == key)
        .map(|(_, new)| *new))
}

/// A deprecated key found during validation: expansion turns it into a compiler warning.
pub(crate) struct DeprecatedKey {
    pub(crate) old: String,
    pub(crate) new: &'static str,
    pub(crate) span: Span,
}

/// Checks one attribute list: keys, duplicates, and (for `#[traced]`) that bare names are
/// arguments of the function.
pub(crate) fn attr_list(
    specs: &[AttrSpec],
    arguments: Option<(&[String], &Ident)>,
    errors: &mut Errors,
) -> Vec<DeprecatedKey> {
    let mut deprecated = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for spec in specs {
        let key = spec.key_text();
        let tokens = spec.key_tokens();
        if let (AttrSpec::Bare(ident), Some((args, function))) = (spec, arguments) {
            if !args.contains(&key) {
                errors.at(
                    ident,
                    format!(
                        "`{key}` is not an argument of `{function}`; record another value with `key = expression`, e.g. `{key} = ...`"
                    ),
                );
                continue;
            }
        }
        match check_key(&key) {
            Err(message) => match spec {
                // A bare name's only fix is to give the value a key of its own.
                AttrSpec::Bare(ident) => errors.at(
                    ident,
                    format!(
                        "`{key}` cannot be an attribute key (keys are dot-separated a-z, 0-9 and `_`, starting with a letter); give the value a key: `{} = {ident}`",
                        suggest(&key).replace(['/', ':', '-'], "_"),
                    ),
                ),
                AttrSpec::Keyed { .. } => errors.at(&tokens, message),
            },
            Ok(replacement) => {
                if let Some(new) = replacement {
                    let span = match spec {
                        AttrSpec::Keyed { key, .. } => key.span,
                        AttrSpec::Bare(ident) => ident.span(),
                    };
                    deprecated.push(DeprecatedKey {
                        old: key.clone(),
                        new,
                        span,
                    });
                }
            }
        }
        if seen.contains(&key) {
            errors.at(
                &tokens,
                format!("attribute key `{key}` is set twice in this list; keep one"),
            );
        } else {
            seen.push(key);
        }
    }
    deprecated
}

/// Span kinds `kind = ...` accepts.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl Kind {
    pub(crate) fn variant(self) -> Ident {
        let name = match self {
            Kind::Internal => "Internal",
            Kind::Server => "Server",
            Kind::Client => "Client",
            Kind::Producer => "Producer",
            Kind::Consumer => "Consumer",
        };
        Ident::new(name, Span::call_site())
    }
}

/// `#[traced(...)]` after validation.
pub(crate) struct TracedOptions {
    pub(crate) name: Option<LitStr>,
    pub(crate) kind: Kind,
    pub(crate) root: bool,
    pub(crate) attrs: Vec<AttrSpec>,
}

const TRACED_OPTIONS: &str =
    "expected a span name (`\"load_training_dataset\"`) first, then `kind = ...`, `attrs(...)` or `root`";

/// Turns raw options into `TracedOptions`, reporting unknown, misplaced and repeated options.
pub(crate) fn traced_options(raw: Vec<RawOption>, errors: &mut Errors) -> TracedOptions {
    let mut options = TracedOptions {
        name: None,
        kind: Kind::Internal,
        root: false,
        attrs: Vec::new(),
    };
    let mut seen: Vec<String> = Vec::new();
    for (position, option) in raw.into_iter().enumerate() {
        let label = match &option {
            RawOption::Name(_) | RawOption::OtherLit(_) => "name".to_owned(),
            RawOption::Flag(i) | RawOption::Assign(i, _) | RawOption::List(i, ..) => {
                i.unraw().to_string()
            }
        };
        if seen.contains(&label) {
            let what = if label == "name" {
                "the span name is given twice; keep one".to_owned()
            } else {
                format!("`{label}` is given twice; keep one")
            };
            errors.at(option.tokens(), what);
            continue;
        }
        seen.push(label.clone());
        let tokens = option.tokens();
        match option {
            RawOption::Name(lit) => {
                if position != 0 {
                    errors.at(
                        &lit,
                        "the span name must come first: `#[traced(\"name\", ...)]`",
                    );
                }
                if let Err(message) = check_name(&lit.value(), NameKind::Span, None) {
                    errors.at(&lit, message);
                }
                options.name = Some(lit);
            }
            RawOption::OtherLit(lit) => errors.at(
                &lit,
                "the span name must be a string literal: `#[traced(\"load_training_dataset\")]`",
            ),
            RawOption::Flag(ident) if ident == "root" => options.root = true,
            RawOption::Assign(ident, value) if ident == "kind" => {
                options.kind = parse_kind(&value, errors);
            }
            RawOption::List(ident, _, list) if ident == "attrs" => {
                match crate::parse::attr_specs(list) {
                    Ok(specs) => options.attrs = specs,
                    Err(error) => errors.push(error),
                }
            }
            RawOption::Assign(ident, _) if ident == "name" => errors.at(
                &ident,
                "write the span name as the first argument: `#[traced(\"load_training_dataset\")]`",
            ),
            RawOption::Flag(ident) | RawOption::List(ident, ..) if ident == "kind" => errors.at(
                tokens,
                "`kind` takes a value: `kind = client` (or `server`, `producer`, `consumer`, `internal`)",
            ),
            RawOption::Assign(ident, _) | RawOption::List(ident, ..) if ident == "root" => {
                errors.at(tokens, "`root` is a flag: write `root` to start a new trace")
            }
            RawOption::Flag(ident) | RawOption::Assign(ident, _) if ident == "attrs" => errors.at(
                tokens,
                "`attrs` takes a list: `attrs(model.id = id, config)`",
            ),
            RawOption::Flag(ident) if position == 0 => errors.at(
                &ident,
                format!(
                    "unknown option `{name}` for `#[traced]`; to name the span, quote it: `#[traced(\"{name}\")]`",
                    name = ident.unraw()
                ),
            ),
            RawOption::Flag(ident) | RawOption::Assign(ident, _) | RawOption::List(ident, ..) => {
                errors.at(
                    &ident,
                    format!(
                        "unknown option `{}` for `#[traced]`; {TRACED_OPTIONS}",
                        ident.unraw()
                    ),
                );
            }
        }
    }
    options
}

fn parse_kind(value: &Expr, errors: &mut Errors) -> Kind {
    const EXPECTED: &str = "expected one of `server`, `client`, `producer`, `consumer`, `internal`";
    let Expr::Path(path) = value else {
        errors.at(value, format!("span kind must be a bare word; {EXPECTED}"));
        return Kind::Internal;
    };
    let Some(ident) = path.path.get_ident() else {
        errors.at(value, format!("span kind must be a bare word; {EXPECTED}"));
        return Kind::Internal;
    };
    match ident.to_string().as_str() {
        "internal" => Kind::Internal,
        "server" => Kind::Server,
        "client" => Kind::Client,
        "producer" => Kind::Producer,
        "consumer" => Kind::Consumer,
        other => {
            errors.at(ident, format!("unknown span kind `{other}`; {EXPECTED}"));
            Kind::Internal
        }
    }
}

/// The name literal of `span!` / `event!`.
pub(crate) fn name_literal(name: &Expr, kind: NameKind, errors: &mut Errors) -> Option<LitStr> {
    match name {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        }) => {
            if let Err(message) = check_name(&lit.value(), kind, None) {
                errors.at(lit, message);
            }
            Some(lit.clone())
        }
        other => {
            errors.at(
                other,
                format!(
                    "the {} must be a string literal, so it can be checked at compile time; put variable parts in attributes",
                    kind.noun()
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_names_are_rejected_meaningful_ones_pass() {
        for bad in [
            "step1",
            "process_data",
            "do_work",
            "handler",
            "run",
            "task-2",
            "fn",
        ] {
            assert!(
                check_name(bad, NameKind::Span, None).is_err(),
                "{bad} should fail"
            );
        }
        for good in [
            "train_model_job",
            "load_training_dataset",
            "validate_model",
            "data_preprocessing",
            "model_training",
            "grpc:predict/v2",
        ] {
            assert_eq!(check_name(good, NameKind::Span, None), Ok(()), "{good}");
        }
    }

    #[test]
    fn names_are_checked_for_shape() {
        assert!(check_name("", NameKind::Span, None).is_err());
        assert!(check_name("Train", NameKind::Span, None).is_err());
        assert!(check_name("load data", NameKind::Span, None).is_err());
        assert!(check_name("get_model_{id}", NameKind::Span, None)
            .unwrap_err()
            .contains("placeholder"));
        assert!(check_name(&"a".repeat(129), NameKind::Span, None).is_err());
        assert_eq!(check_name(&"a".repeat(128), NameKind::Span, None), Ok(()));
    }

    #[test]
    fn keys_follow_the_rules() {
        assert_eq!(check_key("model.id"), Ok(None));
        assert_eq!(check_key("http.method"), Ok(Some("http.request.method")));
        assert!(check_key("otel.status_code").is_err());
        assert!(check_key("model..id").is_err());
        assert!(check_key("Model.id").is_err());
        assert!(check_key("model.2x").is_err());
        assert!(check_key("model-id").is_err());
    }

    #[test]
    fn suggestions_are_valid_names() {
        assert_eq!(suggest("TrainModel"), "train_model");
        assert_eq!(suggest("load data"), "load_data");
    }
}
