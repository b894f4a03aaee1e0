//! `#[traced]` and `#[record_errors]`: their options, span kinds, the items they go on, and the
//! argument names a bare `attrs(name)` may refer to.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{Expr, FnArg, Ident, ItemFn, LitStr, Pat};

use super::keys::{attr_list, AttrList};
use super::names::{check_name, NameKind};
use super::span_options::{self, Relations};
use super::Errors;
use crate::parse::{self, AttrSpec, RawOption, TracedItem};

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
