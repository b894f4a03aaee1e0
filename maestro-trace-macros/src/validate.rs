//! Validation: span and event names, attribute keys, options, the items the macros go on. Every
//! check adds to one combined error so the user sees all problems in one build; what passes is a
//! checked model ([`Traced`], [`Named`], [`AttrGroup`]) that expansion only renders.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{Expr, FnArg, Ident, ItemFn, LitStr, Pat};

use crate::parse::{self, AttrSpec, RawOption, TracedItem};

mod span_options;

pub(crate) use span_options::{span, Relations, SpanMacro};

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

    /// `first`, followed by every error found so far.
    fn led_by(self, mut first: syn::Error) -> syn::Error {
        if let Some(rest) = self.combined {
            first.combine(rest);
        }
        first
    }

    /// Whether any error was found.
    pub(crate) fn any(&self) -> bool {
        self.combined.is_some()
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
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            // `TrainModel` -> `train_model`, but `Model.Id` -> `model.id`: a word boundary only
            // after a lowercase letter or a digit, never right after a separator.
            if out.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
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

/// The nearest valid spelling of an attribute key: [`suggest`], with name-only separators as `_`.
fn suggest_key(key: &str) -> String {
    suggest(key).replace(['/', ':', '-'], "_")
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
                suggest_key(key)
            ));
        }
        if let Some(bad) = segment
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
        {
            return Err(format!(
                "attribute key `{key}` contains `{}`; use dot-separated segments of a-z, 0-9 and `_`, e.g. `{}`",
                bad.escape_debug(),
                suggest_key(key)
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
    /// The key as written (a dotted key, a bare name, a `rename` literal), for the warning.
    pub(crate) at: TokenStream,
}

/// The keys of one attribute list or one `#[span_attrs]` type: the one owner of the key rules,
/// the repeat rule and the deprecation list for every macro.
#[derive(Default)]
pub(crate) struct KeySet {
    seen: Vec<String>,
    deprecated: Vec<DeprecatedKey>,
}

impl KeySet {
    /// Checks `key`, written at `at`: its shape (the message goes through `invalid`, so a caller
    /// can say what to write in its own syntax), whether it was already seen (`repeated` says
    /// what to do about it), and whether it is deprecated. Returns whether the key is valid and
    /// new, i.e. whether it is recorded.
    pub(crate) fn add(
        &mut self,
        key: String,
        at: TokenStream,
        errors: &mut Errors,
        invalid: impl FnOnce(String) -> String,
        repeated: impl FnOnce(&str) -> String,
    ) -> bool {
        let valid = match check_key(&key) {
            Err(message) => {
                errors.at(&at, invalid(message));
                false
            }
            Ok(replacement) => {
                if let Some(new) = replacement {
                    self.deprecated.push(DeprecatedKey {
                        old: key.clone(),
                        new,
                        at: at.clone(),
                    });
                }
                true
            }
        };
        if self.seen.contains(&key) {
            errors.at(&at, repeated(&key));
            return false;
        }
        self.seen.push(key);
        valid
    }

    /// The deprecated keys seen, for their warnings.
    pub(crate) fn into_deprecated(self) -> Vec<DeprecatedKey> {
        self.deprecated
    }
}

/// An attribute list of `#[traced(attrs(...))]`, `span!` or `event!` after validation.
pub(crate) struct AttrList {
    pub(crate) specs: Vec<AttrSpec>,
    pub(crate) deprecated: Vec<DeprecatedKey>,
}

/// Checks one attribute list: keys, repeats, and (for `#[traced]`) that bare names are
/// arguments of the function.
fn attr_list(
    specs: Vec<AttrSpec>,
    arguments: Option<(&[String], &Ident)>,
    errors: &mut Errors,
) -> AttrList {
    let mut keys = KeySet::default();
    for spec in &specs {
        let key = spec.key_text();
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
        let invalid = |message: String| {
            match spec {
            // A bare name's only fix is to give the value a key of its own.
            AttrSpec::Bare(ident) => format!(
                "`{key}` cannot be an attribute key (keys are dot-separated a-z, 0-9 and `_`, starting with a letter); give the value a key: `{} = {ident}`",
                suggest_key(&key),
            ),
            AttrSpec::Keyed { .. } => message,
        }
        };
        keys.add(key.clone(), spec.key_tokens(), errors, invalid, |key| {
            format!("attribute key `{key}` is set twice in this list; keep one")
        });
    }
    AttrList {
        specs,
        deprecated: keys.into_deprecated(),
    }
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

/// The options of `#[traced(...)]`, each checked on its own.
struct TracedOptions {
    name: Option<LitStr>,
    kind: Kind,
    root: bool,
    attrs: Vec<AttrSpec>,
    relations: Relations,
}

const TRACED_OPTIONS: &str =
    "expected a span name (`\"load_training_dataset\"`) first, then `kind = ...`, `attrs(...)`, `root`, `parent = ...` or `links = ...`";

/// Turns raw options into `TracedOptions`, reporting unknown, misplaced and repeated options.
fn traced_options(raw: Vec<RawOption>, errors: &mut Errors) -> TracedOptions {
    let mut options = TracedOptions {
        name: None,
        kind: Kind::Internal,
        root: false,
        attrs: Vec::new(),
        relations: Relations::default(),
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
            RawOption::Assign(ident, value)
                if options.relations.assign(&label, ident.to_token_stream(), &value) => {}
            RawOption::Flag(ident) | RawOption::List(ident, ..)
                if ident == "parent" || ident == "links" =>
            {
                errors.at(tokens, span_options::needs_value(&label));
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
    options.relations.check_root(options.root, errors);
    options
}

pub(crate) fn parse_kind(value: &Expr, errors: &mut Errors) -> Kind {
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

/// The name literal of `span!` / `event!`: it must be a literal so it can be checked. A name
/// that is a literal but breaks a naming rule is reported into `errors` and still returned.
fn name_literal(name: &Expr, kind: NameKind, errors: &mut Errors) -> syn::Result<LitStr> {
    match name {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        }) => {
            if let Err(message) = check_name(&lit.value(), kind, None) {
                errors.at(lit, message);
            }
            Ok(lit.clone())
        }
        other => Err(syn::Error::new_spanned(
            other,
            format!(
                "the {} must be a string literal, so it can be checked at compile time; put variable parts in attributes",
                kind.noun()
            ),
        )),
    }
}

/// `span!(...)` or `event!(...)` after validation: one path for both.
pub(crate) struct Named {
    pub(crate) name: LitStr,
    pub(crate) attrs: AttrList,
}

/// Checks the input of `span!` (`kind` [`NameKind::Span`]) or `event!` ([`NameKind::Event`]).
pub(crate) fn named(input: TokenStream, kind: NameKind) -> syn::Result<Named> {
    let input = syn::parse2::<parse::NamedAttrs>(input)?;
    named_attrs(input, kind, Errors::default())
}

/// [`named`] for parsed input, after the errors already found in it (`span!`'s options).
pub(crate) fn named_attrs(
    input: parse::NamedAttrs,
    kind: NameKind,
    mut errors: Errors,
) -> syn::Result<Named> {
    let name = name_literal(&input.name, kind, &mut errors);
    let attrs = attr_list(input.attrs, None, &mut errors);
    let name = match name {
        Ok(name) => name,
        Err(error) => return Err(errors.led_by(error)),
    };
    errors.finish()?;
    Ok(Named { name, attrs })
}

/// `#[traced(...)]` on a function, after validation.
pub(crate) struct Traced {
    pub(crate) function: ItemFn,
    pub(crate) name: LitStr,
    pub(crate) kind: Kind,
    pub(crate) root: bool,
    pub(crate) attrs: AttrList,
    pub(crate) relations: Relations,
}

/// Checks `#[traced(args)]` on `item`. On `Err` the item is to be emitted unchanged beside the
/// errors (there may be none: a body that does not parse is left for rustc to report).
pub(crate) fn traced(args: TokenStream, item: TokenStream) -> Result<Traced, Errors> {
    let mut errors = Errors::default();
    let raw = parse::options(args).unwrap_or_else(|error| {
        errors.push(error);
        Vec::new()
    });
    let options = traced_options(raw, &mut errors);
    let Some(function) = instrumentable("traced", item, &mut errors) else {
        return Err(errors);
    };
    let name = match options.name {
        Some(name) => name,
        None => {
            let default = function.sig.ident.unraw().to_string();
            if let Err(message) = check_name(&default, NameKind::Span, Some(&default)) {
                errors.at(&function.sig.ident, message);
            }
            LitStr::new(&default, function.sig.ident.span())
        }
    };
    let arguments = argument_names(&function);
    let attrs = attr_list(
        options.attrs,
        Some((&arguments, &function.sig.ident)),
        &mut errors,
    );
    if errors.any() {
        return Err(errors);
    }
    Ok(Traced {
        function,
        name,
        kind: options.kind,
        root: options.root,
        attrs,
        relations: options.relations,
    })
}

/// Checks `#[record_errors(args)]` on `item`; `Err` as for [`traced`].
pub(crate) fn record_errors(args: &TokenStream, item: TokenStream) -> Result<ItemFn, Errors> {
    let mut errors = Errors::default();
    if !args.is_empty() {
        errors.at(
            args,
            "`#[record_errors]` takes no options; write `#[record_errors]`",
        );
    }
    match instrumentable("record_errors", item, &mut errors) {
        Some(function) if !errors.any() => Ok(function),
        _ => Err(errors),
    }
}

/// The function under `#[macro_name]`, if it is one that can be instrumented.
fn instrumentable(macro_name: &str, item: TokenStream, errors: &mut Errors) -> Option<ItemFn> {
    match parse::traced_item(item) {
        TracedItem::Fn(function) => {
            if let Some(constness) = &function.sig.constness {
                errors.at(
                    constness,
                    format!(
                        "`#[{macro_name}]` cannot instrument a `const fn`: spans exist only at run time; remove `const` or the attribute"
                    ),
                );
            }
            Some(function)
        }
        TracedItem::UnparsedBody | TracedItem::Garbage => None,
        TracedItem::Bodiless(declaration) => {
            errors.at(
                &declaration.sig,
                format!(
                    "a method without a body has nothing to trace; put `#[{macro_name}]` on its implementations, or give it a default body"
                ),
            );
            None
        }
        TracedItem::Other(other) => {
            let what = match &other {
                syn::Item::Struct(_) => "a struct; it goes on functions and methods",
                syn::Item::Enum(_) => "an enum; it goes on functions and methods",
                syn::Item::Impl(_) => "an impl block; put it on each method to trace",
                syn::Item::Trait(_) => "a trait; put it on the methods of an impl",
                syn::Item::Mod(_) => "a module; it goes on functions and methods",
                syn::Item::Const(_) | syn::Item::Static(_) => {
                    "a constant or static; it goes on functions and methods"
                }
                _ => "this item; it goes on functions and methods",
            };
            let first = other.to_token_stream().into_iter().next();
            errors.at(
                first,
                format!("`#[{macro_name}]` cannot be applied to {what}"),
            );
            None
        }
    }
}

/// Argument names a bare `attrs(name)` may refer to.
fn argument_names(function: &ItemFn) -> Vec<String> {
    let mut names = Vec::new();
    for input in &function.sig.inputs {
        match input {
            FnArg::Receiver(_) => names.push("self".to_owned()),
            FnArg::Typed(typed) => bound_names(&typed.pat, &mut names),
        }
    }
    names
}

/// Every name a pattern binds: `(rows, cols): (usize, usize)` binds `rows` and `cols`.
fn bound_names(pat: &Pat, names: &mut Vec<String>) {
    match pat {
        Pat::Ident(pat) => {
            names.push(pat.ident.unraw().to_string());
            if let Some((_, sub)) = &pat.subpat {
                bound_names(sub, names);
            }
        }
        Pat::Tuple(tuple) => tuple.elems.iter().for_each(|p| bound_names(p, names)),
        Pat::TupleStruct(tuple) => tuple.elems.iter().for_each(|p| bound_names(p, names)),
        Pat::Struct(structure) => structure
            .fields
            .iter()
            .for_each(|field| bound_names(&field.pat, names)),
        Pat::Slice(slice) => slice.elems.iter().for_each(|p| bound_names(p, names)),
        Pat::Reference(reference) => bound_names(&reference.pat, names),
        Pat::Type(typed) => bound_names(&typed.pat, names),
        Pat::Paren(paren) => bound_names(&paren.pat, names),
        _ => {}
    }
}

/// `#[span_attrs]` after validation: a struct whose fields are attributes, or an enum recorded
/// as one value.
pub(crate) enum AttrType {
    Group(AttrGroup),
    Variants(AttrVariants),
}

/// `#[span_attrs]` on a struct, after validation: the fields that record, with their keys.
pub(crate) struct AttrGroup {
    /// The struct, with its `#[span_attr(...)]` field attributes removed.
    pub(crate) item: syn::ItemStruct,
    pub(crate) fields: Vec<GroupField>,
    pub(crate) deprecated: Vec<DeprecatedKey>,
}

/// One recorded field of an [`AttrGroup`].
pub(crate) enum GroupField {
    /// A value recorded under `key`.
    Attr {
        ident: Ident,
        ty: syn::Type,
        key: String,
    },
    /// A `#[span_attrs]` struct whose attributes are recorded with its own keys.
    Flatten { ident: Ident, ty: syn::Type },
}

/// `#[span_attrs]` on an enum of unit variants, after validation: each variant with the value
/// it records.
pub(crate) struct AttrVariants {
    /// The enum, with its `#[span_attr(...)]` variant attributes removed.
    pub(crate) item: syn::ItemEnum,
    pub(crate) variants: Vec<Variant>,
}

/// One variant of an [`AttrVariants`] enum and the value it records.
pub(crate) struct Variant {
    pub(crate) ident: Ident,
    pub(crate) value: String,
    /// A variant with fields is an error, but it still gets a match arm, so the enum's impl
    /// adds no "non-exhaustive patterns" error to the real one.
    pub(crate) has_fields: bool,
}

const SPAN_ATTRS_ITEMS: &str = "`#[span_attrs]` goes on a struct with named fields (each field becomes an attribute) or on an enum of unit variants (recorded as the variant's name)";

/// Checks `#[span_attrs(args)]` on `item`. `Err`: not an item it can implement, to be emitted
/// unchanged beside the errors. `Ok` carries the model and the errors found in it: the model is
/// rendered even then, so each use of the type does not add an error of its own.
pub(crate) fn span_attrs(
    args: TokenStream,
    item: TokenStream,
) -> Result<(AttrType, Errors), Errors> {
    let mut errors = Errors::default();
    match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(structure)) => {
            let prefix = span_attrs_prefix(args, &mut errors);
            match attr_group(structure, &prefix, &mut errors) {
                Some(group) => Ok((AttrType::Group(group), errors)),
                None => Err(errors),
            }
        }
        Ok(syn::Item::Enum(enumeration)) => {
            if !args.is_empty() {
                errors.at(
                    &args,
                    "an enum is recorded as one value, under the key of the field or argument that holds it, so it takes no prefix; remove the options",
                );
            }
            let variants = attr_variants(enumeration, &mut errors);
            Ok((AttrType::Variants(variants), errors))
        }
        _ => {
            errors.at(item.into_iter().next(), SPAN_ATTRS_ITEMS);
            Err(errors)
        }
    }
}

/// The fields of a `#[span_attrs]` struct; `None` when it has no named fields.
fn attr_group(
    mut structure: syn::ItemStruct,
    prefix: &Prefix,
    errors: &mut Errors,
) -> Option<AttrGroup> {
    let syn::Fields::Named(named) = &mut structure.fields else {
        errors.at(
            &structure.fields,
            "`#[span_attrs]` needs named fields (they become the attribute keys); write `struct Name { field: Type }`",
        );
        return None;
    };
    let mut fields = Vec::new();
    let mut keys = KeySet::default();
    for field in &mut named.named {
        let options = span_attr_options(&mut field.attrs, errors);
        let Some(ident) = field.ident.clone() else {
            continue;
        };
        if let Some(skip) = &options.skip {
            let others = [
                (
                    "rename",
                    options.rename.as_ref().map(ToTokens::to_token_stream),
                ),
                (
                    "flatten",
                    options.flatten.as_ref().map(ToTokens::to_token_stream),
                ),
            ];
            for (name, tokens) in others {
                if let Some(tokens) = tokens {
                    errors.at(
                        tokens,
                        format!("this field is skipped (`{skip}`), so `{name}` has no effect; remove one of them"),
                    );
                }
            }
            continue;
        }
        if let Some(flatten) = &options.flatten {
            if let Some(rename) = &options.rename {
                errors.at(
                    rename,
                    format!("a flattened field (`{flatten}`) records the attributes of its type under that type's own keys, so `rename` has no effect; remove one of them"),
                );
            }
            fields.push(GroupField::Flatten {
                ident,
                ty: field.ty.clone(),
            });
            continue;
        }
        let leaf = options
            .rename
            .as_ref()
            .map_or_else(|| ident.unraw().to_string(), LitStr::value);
        let at = options
            .rename
            .as_ref()
            .map_or_else(|| ident.to_token_stream(), ToTokens::to_token_stream);
        let key = match prefix {
            Prefix::None => leaf,
            Prefix::Valid(prefix) => format!("{}.{leaf}", prefix.value()),
            // The prefix has its own error; checking each key again would repeat it per field.
            Prefix::Invalid => continue,
        };
        let recorded = keys.add(
            key.clone(),
            at,
            errors,
            |message| message,
            |key| format!("two fields record the attribute key `{key}`; rename or skip one"),
        );
        if recorded {
            fields.push(GroupField::Attr {
                ident,
                ty: field.ty.clone(),
                key,
            });
        }
    }
    Some(AttrGroup {
        item: structure,
        fields,
        deprecated: keys.into_deprecated(),
    })
}

/// The variants of a `#[span_attrs]` enum with the value each records: its name, or `rename`.
fn attr_variants(mut enumeration: syn::ItemEnum, errors: &mut Errors) -> AttrVariants {
    let mut variants: Vec<Variant> = Vec::new();
    for variant in &mut enumeration.variants {
        let options = span_attr_options(&mut variant.attrs, errors);
        for (given, option) in [(&options.skip, "skip"), (&options.flatten, "flatten")] {
            if let Some(given) = given {
                errors.at(
                    given,
                    format!("`{option}` does not apply to a variant: the value is its name; remove it, or `rename = \"...\"` the value"),
                );
            }
        }
        let has_fields = !matches!(variant.fields, syn::Fields::Unit);
        if has_fields {
            errors.at(
                &variant.fields,
                format!(
                    "a `#[span_attrs]` enum records the name of its variant, so variant `{}` cannot have fields; remove them, or record the data with a `#[span_attrs]` struct",
                    variant.ident
                ),
            );
        }
        let value = options
            .rename
            .as_ref()
            .map_or_else(|| variant.ident.unraw().to_string(), LitStr::value);
        if value.is_empty() {
            if let Some(rename) = &options.rename {
                errors.at(rename, "the recorded value is empty; write the value this variant records, e.g. `rename = \"pytorch\"`");
            }
        }
        if let Some(other) = variants.iter().find(|seen| seen.value == value) {
            let other = &other.ident;
            let at = options.rename.as_ref().map_or_else(
                || variant.ident.to_token_stream(),
                ToTokens::to_token_stream,
            );
            errors.at(
                at,
                format!(
                    "variants `{other}` and `{}` both record the value `{value}`; rename one",
                    variant.ident
                ),
            );
        }
        variants.push(Variant {
            ident: variant.ident.clone(),
            value,
            has_fields,
        });
    }
    AttrVariants {
        item: enumeration,
        variants,
    }
}

/// The `prefix` of `#[span_attrs]`, once validated.
enum Prefix {
    None,
    Valid(LitStr),
    Invalid,
}

fn span_attrs_prefix(args: TokenStream, errors: &mut Errors) -> Prefix {
    let options = match parse::options(args) {
        Ok(options) => options,
        Err(error) => {
            errors.push(error);
            return Prefix::Invalid;
        }
    };
    let mut prefix = Prefix::None;
    for option in options {
        let tokens = option.tokens();
        match option {
            RawOption::Assign(ident, value) if ident == "prefix" => {
                if !matches!(prefix, Prefix::None) {
                    errors.at(tokens, "`prefix` is given twice; keep one");
                    continue;
                }
                prefix = match string_value(&value) {
                    Some(value) if value.value().is_empty() => {
                        errors.at(
                            &value,
                            "the prefix is empty; remove `prefix = \"\"` or write a namespace such as `prefix = \"model\"`",
                        );
                        Prefix::Invalid
                    }
                    Some(value) => match check_key(&value.value()) {
                        Err(message) => {
                            errors.at(&value, message.replacen("attribute key", "prefix", 1));
                            Prefix::Invalid
                        }
                        Ok(_) => Prefix::Valid(value),
                    },
                    None => {
                        errors.at(&value, "the prefix is a string: `prefix = \"model\"`");
                        Prefix::Invalid
                    }
                };
            }
            _ => errors.at(
                tokens,
                "unknown option for `#[span_attrs]`; the only option is `prefix = \"...\"`",
            ),
        }
    }
    prefix
}

fn string_value(value: &Expr) -> Option<LitStr> {
    match value {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        }) => Some(lit.clone()),
        _ => None,
    }
}

/// What `#[span_attr(...)]` says about one field or variant, before the rules of its place.
#[derive(Default)]
struct SpanAttrOptions {
    rename: Option<LitStr>,
    skip: Option<Ident>,
    flatten: Option<Ident>,
}

/// Reads and removes the `#[span_attr(...)]` attributes of a field or variant.
fn span_attr_options(attrs: &mut Vec<syn::Attribute>, errors: &mut Errors) -> SpanAttrOptions {
    let mut options = SpanAttrOptions::default();
    let mut kept = Vec::new();
    for attr in std::mem::take(attrs) {
        if !attr.path().is_ident("span_attr") {
            kept.push(attr);
            continue;
        }
        let raw = match parse::field_options(&attr) {
            Ok(raw) => raw,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        for option in raw {
            let tokens = option.tokens();
            match option {
                RawOption::Flag(ident) if ident == "skip" || ident == "flatten" => {
                    let slot = if ident == "skip" {
                        &mut options.skip
                    } else {
                        &mut options.flatten
                    };
                    if slot.is_some() {
                        errors.at(tokens, format!("`{ident}` is given twice; keep one"));
                    }
                    *slot = Some(ident);
                }
                RawOption::Assign(ident, value) if ident == "rename" => {
                    match string_value(&value) {
                        Some(_) if options.rename.is_some() => {
                            errors.at(tokens, "`rename` is given twice; keep one");
                        }
                        Some(value) => options.rename = Some(value),
                        None => errors.at(
                            &value,
                            "the new key is a string: `rename = \"type\"`",
                        ),
                    }
                }
                _ => errors.at(
                    tokens,
                    "unknown field option; write `#[span_attr(rename = \"key\")]`, `#[span_attr(skip)]` or `#[span_attr(flatten)]`",
                ),
            }
        }
    }
    *attrs = kept;
    options
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
        assert_eq!(suggest_key("Model.Id"), "model.id");
        assert_eq!(suggest_key("Model.modelVersion"), "model.model_version");
    }

    #[test]
    fn deprecated_keys_spell_macro_paths() {
        // Their warning calls a macro at `old::key::segments!()`: each segment must be an
        // identifier that is not a keyword.
        for (old, new) in DEPRECATED_KEYS {
            for segment in old.split('.') {
                assert!(syn::parse_str::<Ident>(segment).is_ok(), "{old}: {segment}");
            }
            assert_eq!(check_key(new), Ok(None), "{new} is valid and current");
        }
    }
}
