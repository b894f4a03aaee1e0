//! Validation of the options that place a span among others, shared by `#[traced]` and
//! `span!`: `kind = ..`, `root`, `parent = ..` and `links = ..`. In `span!` they sit among the
//! attributes, so a one-word key with one of these names is the option, never an attribute.

use proc_macro2::TokenStream;
use syn::Expr;

use super::named::{named_attrs, Named};
use super::traced::{parse_kind, Kind};
use super::{Errors, NameKind};
use crate::parse::{self, AttrSpec};

/// Where a span starts and what it links to, beyond its kind.
#[derive(Default)]
pub(crate) struct Relations {
    /// `parent = expr`: the option's name as written (for errors) and the expression.
    pub(crate) parent: Option<(TokenStream, Expr)>,
    /// `links = expr`.
    pub(crate) links: Option<(TokenStream, Expr)>,
}

impl Relations {
    /// Takes `name = value` if `name` is `parent` or `links`; `false` for any other option.
    pub(crate) fn assign(&mut self, name: &str, written: TokenStream, value: &Expr) -> bool {
        let slot = match name {
            "parent" => &mut self.parent,
            "links" => &mut self.links,
            _ => return false,
        };
        *slot = Some((written, value.clone()));
        true
    }

    /// Reports `parent = ..` beside `root`, which starts a span with no parent at all.
    pub(crate) fn check_root(&self, root: bool, errors: &mut Errors) {
        if let (true, Some((name, _))) = (root, &self.parent) {
            errors.at(
                name,
                "`parent = ..` and `root` contradict each other: `root` starts a new trace with no parent; keep one",
            );
        }
    }
}

/// The message for `parent` or `links` written without a value.
pub(crate) fn needs_value(name: &str) -> String {
    if name == "parent" {
        "`parent` takes a value: `parent = &span` (a `&Span`, `&Context` or `SpanContext`)".into()
    } else {
        "`links` takes a value: `links = [span_context]` (items: `SpanContext`, `&Span` or `Link`)"
            .into()
    }
}

/// The options of `span!` besides its name and attributes.
pub(crate) struct SpanOptions {
    pub(crate) kind: Kind,
    pub(crate) root: bool,
    pub(crate) relations: Relations,
}

/// `span!(...)` after validation.
pub(crate) struct SpanMacro {
    pub(crate) named: Named,
    pub(crate) options: SpanOptions,
}

/// The names `span!` reads as options rather than attribute keys.
const SPAN_OPTIONS: [&str; 4] = ["kind", "root", "parent", "links"];

/// Checks the input of `span!`: its options, then its name and attributes as `event!` has them.
pub(crate) fn span(input: TokenStream) -> syn::Result<SpanMacro> {
    let mut input = syn::parse2::<parse::NamedAttrs>(input)?;
    let mut errors = Errors::default();
    let mut options = SpanOptions {
        kind: Kind::Internal,
        root: false,
        relations: Relations::default(),
    };
    let mut seen: Vec<String> = Vec::new();
    let mut attrs = Vec::with_capacity(input.attrs.len());
    for spec in input.attrs {
        let name = spec.key_text();
        if !SPAN_OPTIONS.contains(&name.as_str()) {
            attrs.push(spec);
            continue;
        }
        if seen.contains(&name) {
            errors.at(
                spec.key_tokens(),
                format!("`{name}` is given twice; keep one"),
            );
            continue;
        }
        seen.push(name.clone());
        span_option(&name, spec, &mut options, &mut errors);
    }
    options.relations.check_root(options.root, &mut errors);
    input.attrs = attrs;
    let named = named_attrs(input, NameKind::Span, errors)?;
    Ok(SpanMacro { named, options })
}

/// `name`, one of [`SPAN_OPTIONS`], written as `spec` in `span!`, into `options`.
fn span_option(name: &str, spec: AttrSpec, options: &mut SpanOptions, errors: &mut Errors) {
    let dotted =
        format!("to record an attribute instead, give it a dotted key: `job.{name} = ...`");
    match (name, spec) {
        ("root", AttrSpec::Bare(_)) => options.root = true,
        ("root", AttrSpec::Keyed { key, .. }) => errors.at(
            &key.tokens,
            format!("`root` is a flag: write `root` to start a new trace; {dotted}"),
        ),
        ("kind", AttrSpec::Bare(ident)) => errors.at(
            &ident,
            format!("`kind` takes a value in `span!`: `kind = client` (or `server`, `producer`, `consumer`, `internal`); {dotted}"),
        ),
        ("kind", AttrSpec::Keyed { value, .. }) if matches!(*value, Expr::Lit(_)) => errors.at(
            &value,
            format!("`kind` sets the span kind in `span!`, as a bare word: `kind = client` (or `server`, `producer`, `consumer`, `internal`); {dotted}"),
        ),
        ("kind", AttrSpec::Keyed { value, .. }) => options.kind = parse_kind(&value, errors),
        (_, AttrSpec::Bare(ident)) => errors.at(&ident, format!("{}; {dotted}", needs_value(name))),
        (_, AttrSpec::Keyed { key, value }) => {
            options.relations.assign(name, key.tokens, &value);
        }
    }
}
