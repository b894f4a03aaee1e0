//! Parsing: macro input into a small typed AST, as lenient as possible so that validation can
//! report every problem at once.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{
    braced, parenthesized, Attribute, Expr, Ident, ItemFn, LitStr, Signature, Token, Visibility,
};

/// One option of `#[traced(...)]` or a field option of `#[span_attr(...)]`, before validation
/// decides whether it is known.
pub(crate) enum RawOption {
    /// `"span_name"`
    Name(LitStr),
    /// Any other literal where a name was expected (`42`, `b"name"`).
    OtherLit(syn::Lit),
    /// `root`, `skip`
    Flag(Ident),
    /// `kind = client`, `prefix = "model"`
    Assign(Ident, Expr),
    /// `attrs(...)`
    List(Ident, syn::token::Paren, TokenStream),
}

impl RawOption {
    /// The token to point at when this option is wrong.
    pub(crate) fn tokens(&self) -> TokenStream {
        match self {
            RawOption::Name(lit) => lit.to_token_stream(),
            RawOption::OtherLit(lit) => lit.to_token_stream(),
            RawOption::Flag(ident) => ident.to_token_stream(),
            RawOption::Assign(ident, expr) => quote::quote!(#ident = #expr),
            RawOption::List(ident, paren, tokens) => {
                // Rebuild the parentheses with their own span so an error covers `name(...)`.
                let mut out = ident.to_token_stream();
                paren.surround(&mut out, |inner| inner.extend(tokens.clone()));
                out
            }
        }
    }
}

impl Parse for RawOption {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return Ok(RawOption::Name(input.parse()?));
        }
        if input.peek(syn::Lit) {
            return Ok(RawOption::OtherLit(input.parse()?));
        }
        let ident = Ident::parse_any(input)?;
        if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Ok(RawOption::Assign(ident, input.parse()?))
        } else if input.peek(syn::token::Paren) {
            let content;
            let paren = parenthesized!(content in input);
            Ok(RawOption::List(ident, paren, content.parse()?))
        } else {
            Ok(RawOption::Flag(ident))
        }
    }
}

/// A comma-separated option list.
pub(crate) fn options(tokens: TokenStream) -> syn::Result<Vec<RawOption>> {
    let parsed =
        syn::parse::Parser::parse2(Punctuated::<RawOption, Token![,]>::parse_terminated, tokens)?;
    Ok(parsed.into_iter().collect())
}

/// A dotted attribute key as written: `model.id`, `training.epochs`.
#[derive(Clone)]
pub(crate) struct AttrKey {
    /// The key text, segments joined by `.`.
    pub(crate) text: String,
    /// The tokens of the key, for error and warning spans.
    pub(crate) tokens: TokenStream,
}

impl Parse for AttrKey {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let first = Ident::parse_any(input)?;
        let mut text = first.unraw().to_string();
        let mut tokens = first.to_token_stream();
        loop {
            // `model..id` lexes as `model`, `..`, `id`: keep the empty segment so validation
            // reports it with the whole key rather than a bare "expected ident".
            if input.peek(Token![..]) && !input.peek(Token![..=]) && !input.peek(Token![...]) {
                let dots: Token![..] = input.parse()?;
                text.push_str("..");
                dots.to_tokens(&mut tokens);
            } else if input.peek(Token![.]) {
                let dot: Token![.] = input.parse()?;
                text.push('.');
                dot.to_tokens(&mut tokens);
            } else {
                break;
            }
            let segment = Ident::parse_any(input)?;
            text.push_str(&segment.unraw().to_string());
            segment.to_tokens(&mut tokens);
        }
        Ok(AttrKey { text, tokens })
    }
}

/// One entry of `attrs(...)`, `span!` or `event!`.
pub(crate) enum AttrSpec {
    /// `key.path = expr`
    Keyed { key: AttrKey, value: Box<Expr> },
    /// `name`: a function argument or local; its type decides what is recorded.
    Bare(Ident),
}

impl AttrSpec {
    /// The key this entry writes, when it is known at compile time.
    pub(crate) fn key_text(&self) -> String {
        match self {
            AttrSpec::Keyed { key, .. } => key.text.clone(),
            AttrSpec::Bare(ident) => ident.unraw().to_string(),
        }
    }

    pub(crate) fn key_tokens(&self) -> TokenStream {
        match self {
            AttrSpec::Keyed { key, .. } => key.tokens.clone(),
            AttrSpec::Bare(ident) => ident.to_token_stream(),
        }
    }
}

impl Parse for AttrSpec {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let fork = input.fork();
        let is_bare =
            fork.call(Ident::parse_any).is_ok() && (fork.is_empty() || fork.peek(Token![,]));
        if is_bare {
            return Ok(AttrSpec::Bare(Ident::parse_any(input)?));
        }
        let key: AttrKey = input.parse()?;
        if !input.peek(Token![=]) {
            return Err(syn::Error::new_spanned(
                &key.tokens,
                format!(
                    "`{}` needs a value: write `key = expression` (e.g. `{} = ...`), or name a bare argument",
                    key.text, key.text
                ),
            ));
        }
        input.parse::<Token![=]>()?;
        Ok(AttrSpec::Keyed {
            key,
            value: Box::new(input.parse()?),
        })
    }
}

/// A comma-separated attribute list.
pub(crate) fn attr_specs(tokens: TokenStream) -> syn::Result<Vec<AttrSpec>> {
    let parsed =
        syn::parse::Parser::parse2(Punctuated::<AttrSpec, Token![,]>::parse_terminated, tokens)?;
    Ok(parsed.into_iter().collect())
}

/// The input of `span!` and `event!`: a name literal, then attributes.
pub(crate) struct NamedAttrs {
    pub(crate) name: Expr,
    pub(crate) attrs: Vec<AttrSpec>,
}

impl Parse for NamedAttrs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(input.error(
                "expected a name: write `span!(\"load_training_dataset\")` or `event!(\"job_queued\")`",
            ));
        }
        let name: Expr = input.parse()?;
        let mut attrs = Vec::new();
        while input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            attrs.push(input.parse()?);
        }
        if !input.is_empty() {
            return Err(input.error("expected `,` between the name and each `key = value`"));
        }
        Ok(NamedAttrs { name, attrs })
    }
}

/// The item under `#[traced]` / `#[record_errors]`.
pub(crate) enum TracedItem {
    /// A function that parsed completely.
    Fn(ItemFn),
    /// A function whose body does not parse: emitted unchanged so rustc reports the body's own
    /// error at the user's line and rust-analyzer still sees the function.
    UnparsedBody,
    /// A method declaration without a body (in a trait).
    Bodiless(syn::TraitItemFn),
    /// Something that is not a function.
    Other(syn::Item),
    /// Not even an item.
    Garbage,
}

/// A function signature followed by a body we do not try to understand.
struct FnWithRawBody;

impl Parse for FnWithRawBody {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        input.call(Attribute::parse_outer)?;
        input.parse::<Visibility>()?;
        input.parse::<Signature>()?;
        let body;
        braced!(body in input);
        body.parse::<TokenStream>()?;
        Ok(FnWithRawBody)
    }
}

pub(crate) fn traced_item(tokens: TokenStream) -> TracedItem {
    if let Ok(function) = syn::parse2::<ItemFn>(tokens.clone()) {
        return TracedItem::Fn(function);
    }
    if syn::parse2::<FnWithRawBody>(tokens.clone()).is_ok() {
        return TracedItem::UnparsedBody;
    }
    if let Ok(declaration) = syn::parse2::<syn::TraitItemFn>(tokens.clone()) {
        if declaration.default.is_none() {
            return TracedItem::Bodiless(declaration);
        }
    }
    match syn::parse2::<syn::Item>(tokens) {
        Ok(item) => TracedItem::Other(item),
        Err(_) => TracedItem::Garbage,
    }
}

/// The options inside `#[span_attr(...)]` on a field or variant.
pub(crate) fn field_options(attr: &Attribute) -> syn::Result<Vec<RawOption>> {
    match &attr.meta {
        syn::Meta::List(list) => options(list.tokens.clone()),
        other => Err(syn::Error::new_spanned(
            other,
            "expected `#[span_attr(rename = \"...\")]`, `#[span_attr(skip)]` or `#[span_attr(flatten)]`",
        )),
    }
}
