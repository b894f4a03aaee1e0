//! Expansion: generated code for validated input. Every path into the runtime is absolute
//! (`::maestro_trace::__private`), and every local the expansion introduces is hygienic
//! (`Span::mixed_site`), so nothing the user names or imports can collide with it.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Attribute, Block, Expr, ExprLit, Ident, ItemFn, Lit, LitStr, ReturnType, Stmt};

use crate::parse::AttrSpec;
use crate::validate::{
    self, AttrGroup, AttrType, AttrVariants, DeprecatedKey, GroupField, Kind, NameKind, Relations,
    Traced,
};

fn private() -> TokenStream {
    quote!(::maestro_trace::__private)
}

fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// The original item followed by the errors: the item still exists for the rest of the crate
/// (and rust-analyzer), and the user sees every problem at once.
fn unchanged_with(item: TokenStream, result: syn::Result<()>) -> TokenStream {
    match result {
        Ok(()) => item,
        Err(error) => {
            let errors = error.to_compile_error();
            quote!(#item #errors)
        }
    }
}

/// How a function's body runs, which decides how its span is kept current.
#[derive(Clone, Copy)]
enum Shape {
    /// A plain function: the span is current for the body and ends on every exit.
    Sync,
    /// `async fn`: the span starts on the first poll and is current during every poll.
    AsyncFn,
    /// A sync function returning a future: a tail `async` block, bare or boxed
    /// (`Box::pin(async move { .. })`, as `#[async_trait]` writes), or any tail of a
    /// `-> impl Future` function. The span starts at the call and covers every poll.
    ReturnsAsyncBlock,
}

fn shape(function: &ItemFn) -> Shape {
    if function.sig.asyncness.is_some() {
        Shape::AsyncFn
    } else if tail_future(&function.block, returned_future(&function.sig.output)).is_some() {
        Shape::ReturnsAsyncBlock
    } else {
        Shape::Sync
    }
}

/// What a sync function's return type says about its tail expression.
#[derive(Clone, Copy, PartialEq)]
enum ReturnedFuture {
    /// Not a future type: only a tail `async` block (or `Box::pin(async ..)`) is a future.
    Unknown,
    /// `impl Future<..>`: whatever the tail is, it is the future to instrument.
    Opaque,
    /// `Pin<Box<dyn Future<..>>>` or `BoxFuture<..>`: the tail is a boxed future, to instrument
    /// and box again.
    Boxed,
}

fn returned_future(output: &ReturnType) -> ReturnedFuture {
    let ReturnType::Type(_, ty) = output else {
        return ReturnedFuture::Unknown;
    };
    match &**ty {
        syn::Type::ImplTrait(imp) if bounds_name_future(&imp.bounds) => ReturnedFuture::Opaque,
        syn::Type::Path(path) => {
            let Some(last) = path.path.segments.last() else {
                return ReturnedFuture::Unknown;
            };
            if last.ident == "BoxFuture" || last.ident == "LocalBoxFuture" {
                return ReturnedFuture::Boxed;
            }
            // `Pin<Box<dyn Future<..> + ..>>`
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return ReturnedFuture::Unknown;
            };
            let boxed_dyn_future = last.ident == "Pin"
                && args.args.iter().any(|arg| match arg {
                    syn::GenericArgument::Type(syn::Type::Path(inner)) => {
                        inner.path.segments.last().is_some_and(|seg| {
                            seg.ident == "Box"
                                && matches!(&seg.arguments, syn::PathArguments::AngleBracketed(b)
                                    if b.args.iter().any(|a| matches!(a,
                                        syn::GenericArgument::Type(syn::Type::TraitObject(obj))
                                            if bounds_name_future(&obj.bounds))))
                        })
                    }
                    _ => false,
                });
            if boxed_dyn_future {
                ReturnedFuture::Boxed
            } else {
                ReturnedFuture::Unknown
            }
        }
        _ => ReturnedFuture::Unknown,
    }
}

fn bounds_name_future(
    bounds: &syn::punctuated::Punctuated<syn::TypeParamBound, syn::Token![+]>,
) -> bool {
    bounds.iter().any(|bound| match bound {
        syn::TypeParamBound::Trait(t) => t
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "Future"),
        _ => false,
    })
}

/// The future a function returns: an `async` block, bare or inside `Box::pin(..)` (as
/// `#[async_trait]` writes), or any tail expression of an `impl Future` function.
fn tail_future(block: &Block, returned: ReturnedFuture) -> Option<&Expr> {
    let any_tail = returned != ReturnedFuture::Unknown;
    let Some(Stmt::Expr(tail, None)) = block.stmts.last() else {
        return None;
    };
    match tail {
        Expr::Async(_) => Some(tail),
        Expr::Call(call) if call.args.len() == 1 && is_pin_call(&call.func) => {
            match call.args.first() {
                Some(arg @ Expr::Async(_)) => Some(arg),
                _ => any_tail.then_some(tail),
            }
        }
        _ => any_tail.then_some(tail),
    }
}

fn is_pin_call(func: &Expr) -> bool {
    let Expr::Path(path) = func else {
        return false;
    };
    path.path
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "pin")
}

/// Replaces the returned future (see [`tail_future`]) of `block` with `rewrite(future)`.
fn rewrite_tail_future(
    block: &mut Block,
    returned: ReturnedFuture,
    rewrite: impl FnOnce(TokenStream) -> TokenStream,
) {
    let any_tail = returned != ReturnedFuture::Unknown;
    let Some(Stmt::Expr(tail, None)) = block.stmts.last_mut() else {
        return;
    };
    let boxed_async = matches!(tail, Expr::Call(call) if call.args.len() == 1
        && is_pin_call(&call.func)
        && matches!(call.args.first(), Some(Expr::Async(_))));
    let slot = if boxed_async {
        match tail {
            Expr::Call(call) => match call.args.first_mut() {
                Some(arg) => arg,
                None => return,
            },
            _ => return,
        }
    } else if matches!(tail, Expr::Async(_)) || any_tail {
        tail
    } else {
        return;
    };
    let original = std::mem::replace(slot, Expr::Verbatim(TokenStream::new()));
    let rewritten = rewrite(original.into_token_stream());
    // A whole boxed tail (`fut.boxed()`) was unboxed by the rewrite: box it again.
    *slot = Expr::Verbatim(if returned == ReturnedFuture::Boxed && !boxed_async {
        quote!(::std::boxed::Box::pin(#rewritten))
    } else {
        rewritten
    });
}

/// Splits outer attributes (kept on the function) from inner ones (kept at the top of the body).
fn split_attrs(attrs: Vec<Attribute>) -> (Vec<Attribute>, Vec<Attribute>) {
    attrs
        .into_iter()
        .partition(|attr| matches!(attr.style, syn::AttrStyle::Outer))
}

/// Removes `#[record_errors]` (any path ending in it) from `attrs`, returning its path: the
/// expansion refers to it so the user's `use maestro_trace::record_errors` still counts as used.
fn take_record_errors(attrs: &mut Vec<Attribute>) -> Option<syn::Path> {
    let position = attrs.iter().position(|attr| {
        attr.path()
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "record_errors")
    })?;
    Some(attrs.remove(position).path().clone())
}

/// Where an error about the return type should point.
fn return_span(function: &ItemFn) -> Span {
    match &function.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => function.sig.ident.span(),
    }
}

/// `result` recorded on the current span if it is an `Err`; the trait bound's message names the
/// return type when it cannot carry an error.
fn record_result(result: &Ident, span: Span) -> TokenStream {
    let p = private();
    // The argument's span decides where rustc points when the bound fails: the return type.
    let located = Ident::new(&result.to_string(), Span::mixed_site().located_at(span));
    quote_spanned!(span=> {
        #[allow(unused_imports)]
        use #p::{RecordChained as _, RecordDisplayed as _};
        (&#p::Outcome(&#located)).record();
    })
}

/// The type of the value `#[record_errors]` inspects, as a `let` annotation: the recording picks
/// its path by the error type, which must be known when it is looked at (a body ending in
/// `Err("..".into())` or `?` leaves it to the return type). `impl Trait` parts become `_`.
fn result_type(shape: Shape, output: &ReturnType) -> Option<TokenStream> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let mut ty = match shape {
        Shape::Sync | Shape::AsyncFn => (**ty).clone(),
        Shape::ReturnsAsyncBlock => future_output(ty)?,
    };
    syn::visit_mut::VisitMut::visit_type_mut(&mut ImplTraitToInfer, &mut ty);
    Some(quote!(: #ty))
}

/// `T` of `impl Future<Output = T>`, `Pin<Box<dyn Future<Output = T> + ..>>` or
/// `BoxFuture<'_, T>`.
fn future_output(ty: &syn::Type) -> Option<syn::Type> {
    let from_bounds =
        |bounds: &syn::punctuated::Punctuated<syn::TypeParamBound, syn::Token![+]>| {
            bounds.iter().find_map(|bound| {
                let syn::TypeParamBound::Trait(t) = bound else {
                    return None;
                };
                let last = t.path.segments.last()?;
                let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                    return None;
                };
                args.args.iter().find_map(|arg| match arg {
                    syn::GenericArgument::AssocType(assoc) if assoc.ident == "Output" => {
                        Some(assoc.ty.clone())
                    }
                    _ => None,
                })
            })
        };
    match ty {
        syn::Type::ImplTrait(imp) => from_bounds(&imp.bounds),
        syn::Type::TraitObject(obj) => from_bounds(&obj.bounds),
        syn::Type::Path(path) => {
            let last = path.path.segments.last()?;
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            let mut types = args.args.iter().filter_map(|arg| match arg {
                syn::GenericArgument::Type(ty) => Some(ty),
                _ => None,
            });
            if last.ident == "BoxFuture" || last.ident == "LocalBoxFuture" {
                types.next().cloned()
            } else {
                // `Pin<Box<..>>`: look inside.
                types.next().and_then(future_output)
            }
        }
        _ => None,
    }
}

/// Replaces every `impl Trait` of a type by `_`, which a `let` annotation accepts.
struct ImplTraitToInfer;

impl syn::visit_mut::VisitMut for ImplTraitToInfer {
    fn visit_type_mut(&mut self, ty: &mut syn::Type) {
        if let syn::Type::ImplTrait(imp) = ty {
            *ty = syn::Type::Infer(syn::TypeInfer {
                underscore_token: syn::Token![_](imp.impl_token.span),
            });
            return;
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

/// A future that records its output's error: `async move { let r = inner.await; record; r }`.
fn async_recording(inner: TokenStream, span: Span, ty: Option<&TokenStream>) -> TokenStream {
    let result = local("__mt_result");
    let record = record_result(&result, span);
    quote! {
        async move {
            let #result #ty = #inner.await;
            #record
            #result
        }
    }
}

/// The body of a sync function that records its `Err`: the body runs in a closure so that
/// `return` and `?` inside it still produce the value we inspect.
fn sync_recording(block: &Block, span: Span, ty: Option<&TokenStream>) -> TokenStream {
    let result = local("__mt_result");
    let record = record_result(&result, span);
    let p = private();
    // `call_once` pins the closure to `FnOnce`: inferred as `FnMut`, a body returning a borrow
    // of a `&mut` argument would not compile ("captured variable cannot escape").
    quote! {
        let #result #ty = #p::call_once(move || #block);
        #record
        #result
    }
}

/// The static description of a span.
/// The static is declared inside its own block: items are not hygienic, so at function scope
/// its name could clash with a binding in the user's body.
fn span_meta(name: &LitStr, kind: Kind, root: bool, attrs: &[AttrSpec]) -> (Ident, TokenStream) {
    let p = private();
    let meta = local("__mt_meta");
    let kind = kind.variant();
    let keyed = attrs
        .iter()
        .filter(|spec| matches!(spec, AttrSpec::Keyed { .. }))
        .count();
    let attrs = attrs.len();
    let tokens = quote! {
        let #meta: &'static #p::SpanMeta = {
            static SPAN: #p::SpanMeta = #p::SpanMeta {
                name: #name,
                kind: #p::SpanKind::#kind,
                root: #root,
                attrs: #attrs,
                keyed: #keyed,
            };
            &SPAN
        };
    };
    (meta, tokens)
}

/// The call that starts a span described by `meta`: `start_with` when it has a `parent = ..`
/// (evaluated while tracing is on) or `links = ..` (evaluated only when sampled).
fn start(meta: &Ident, record: TokenStream, relations: &Relations) -> TokenStream {
    let p = private();
    if relations.parent.is_none() && relations.links.is_none() {
        return quote!(#p::start(#meta, #record));
    }
    // The calls spanned at the expression, so a type error points there, not at the macro.
    let parent = match &relations.parent {
        Some((_, expr)) => {
            quote_spanned!(expr.span()=> || ::maestro_trace::__private::parent(#expr))
        }
        None => quote!(|| ::core::option::Option::None),
    };
    let out = local("__mt_links");
    let links = match &relations.links {
        Some((_, expr)) => quote_spanned! {expr.span()=>
            |#out: &mut ::std::vec::Vec<#p::Link>| ::maestro_trace::__private::links(#out, #expr)
        },
        None => quote!(|_: &mut ::std::vec::Vec<#p::Link>| {}),
    };
    quote!(#p::start_with(#meta, #parent, #links, #record))
}

/// A closure that records `attrs`; it runs only when the span is sampled.
fn recorder(attrs: &[AttrSpec]) -> TokenStream {
    let p = private();
    let recorder = local("__mt_recorder");
    let lines = attrs.iter().map(|spec| {
        let key = LitStr::new(&spec.key_text(), Span::call_site());
        match spec {
            // A string literal is `'static`: recorded without copying it.
            AttrSpec::Keyed { value, .. } if is_str_literal(value) => {
                quote_spanned!(value.span()=> #p::attr_static(#recorder, #key, #value);)
            }
            AttrSpec::Keyed { value, .. } => {
                quote_spanned!(value.span()=> #p::attr(#recorder, #key, &(#value));)
            }
            AttrSpec::Bare(ident) => {
                quote_spanned!(ident.span()=> #p::arg(#recorder, #key, &#ident);)
            }
        }
    });
    quote!(|#recorder: &mut #p::Recorder<'_>| { #(#lines)* })
}

/// Whether `expr` is a plain string literal (`"resnet50"`).
fn is_str_literal(expr: &Expr) -> bool {
    matches!(expr, Expr::Lit(ExprLit { lit: Lit::Str(_), attrs }) if attrs.is_empty())
}

/// Each deprecated key becomes a call of a `#[deprecated]` macro whose path spells the key
/// (`http::method!()` for `http.method`), spanned over the key as written, so rustc warns there
/// with our note. Stable Rust has no other way for a proc macro to emit a warning, and a macro
/// is the one item rustc names by the path as written rather than by where it is defined.
fn deprecation_warnings(keys: &[DeprecatedKey], lint_levels: &[&Attribute]) -> TokenStream {
    keys.iter()
        .map(|key| {
            let note = format!(
                "`{}` is a deprecated semantic-convention attribute key; use `{}` instead",
                key.old, key.new
            );
            let mut spans = key.at.clone().into_iter().map(|token| token.span());
            let first = spans.next().unwrap_or_else(Span::call_site);
            let last = spans.last().unwrap_or(first);
            let segments: Vec<&str> = key.old.split('.').collect();
            let Some((leaf, modules)) = segments.split_last() else {
                return TokenStream::new();
            };
            let leaf = Ident::new(leaf, Span::call_site());
            let mut definition = quote! {
                #[deprecated(note = #note)]
                macro_rules! #leaf { () => {}; }
                #[allow(deprecated)]
                pub(crate) use #leaf;
            };
            for module in modules.iter().rev() {
                let module = Ident::new(module, Span::call_site());
                definition = quote!(pub(crate) mod #module { #definition });
            }
            // The first segment at the key's first token, the others at its last: the path, and
            // so the warning, covers the whole key.
            let path = segments
                .iter()
                .enumerate()
                .map(|(i, segment)| Ident::new(segment, if i == 0 { first } else { last }));
            quote! {
                #(#lint_levels)*
                const _: () = {
                    #definition
                    #(#path)::*!();
                };
            }
        })
        .collect()
}

/// A function taken apart for instrumentation, and put back together around a new body.
struct FnParts {
    outer: Vec<Attribute>,
    inner: Vec<Attribute>,
    vis: syn::Visibility,
    sig: syn::Signature,
    block: Box<Block>,
    shape: Shape,
    returned: ReturnedFuture,
    /// Where errors about the return type point.
    error_span: Span,
    /// The annotation of the value `#[record_errors]` inspects (see [`result_type`]).
    result_type: Option<TokenStream>,
}

impl FnParts {
    fn new(function: ItemFn) -> Self {
        let shape = shape(&function);
        let returned = returned_future(&function.sig.output);
        let error_span = return_span(&function);
        let result_type = result_type(shape, &function.sig.output);
        let (outer, inner) = split_attrs(function.attrs);
        FnParts {
            outer,
            inner,
            vis: function.vis,
            sig: function.sig,
            block: function.block,
            shape,
            returned,
            error_span,
            result_type,
        }
    }

    /// The function with `body` in place of its own (inner attributes stay first).
    fn emit(self, body: TokenStream) -> TokenStream {
        let FnParts {
            outer,
            inner,
            vis,
            sig,
            ..
        } = self;
        quote! {
            #(#outer)*
            #vis #sig {
                #(#inner)*
                #body
            }
        }
    }
}

/// `#[traced(...)]`.
pub(crate) fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    match validate::traced(args, item.clone()) {
        Ok(traced) => expand_traced(traced),
        Err(errors) => unchanged_with(item, errors.finish()),
    }
}

fn expand_traced(traced: Traced) -> TokenStream {
    let p = private();
    let mut parts = FnParts::new(traced.function);
    let (shape, returned, error_span) = (parts.shape, parts.returned, parts.error_span);
    let result_type = parts.result_type.clone();
    let result_type = result_type.as_ref();
    let record_errors_path = take_record_errors(&mut parts.outer);
    let record_errors = record_errors_path.is_some();
    let uses = record_errors_path.map(|path| quote!(#[allow(unused_imports)] use #path as _;));
    let (meta, meta_item) = span_meta(&traced.name, traced.kind, traced.root, &traced.attrs.specs);
    let start = start(&meta, recorder(&traced.attrs.specs), &traced.relations);
    let warnings = deprecation_warnings(&traced.attrs.deprecated, &[]);
    let span = local("__mt_span");
    let block = &mut parts.block;

    let body = match shape {
        Shape::Sync => {
            let scope = local("__mt_scope");
            // The body's statements, not the block: a block after our `let` would be a block in
            // tail position, which rustc flags as `unused_braces` at the user's braces.
            let run = if record_errors {
                sync_recording(block, error_span, result_type)
            } else {
                let stmts = &block.stmts;
                quote!(#(#stmts)*)
            };
            quote! {
                let #scope = #p::SpanScope::enter(#start);
                #run
            }
        }
        Shape::AsyncFn => {
            let inner_future = if record_errors {
                async_recording(quote!(async move #block), error_span, result_type)
            } else {
                quote!(async move #block)
            };
            // With tracing off the body is awaited as it is: no wrapper future to poll through.
            let inner = local("__mt_inner");
            // The span (and its attribute expressions) before the body's future, which takes
            // the arguments by move.
            quote! {
                let #span = #start;
                let #inner = #inner_future;
                match #p::started(#span) {
                    ::core::option::Option::Some(#span) => #p::instrument(#inner, #span).await,
                    ::core::option::Option::None => #inner.await,
                }
            }
        }
        Shape::ReturnsAsyncBlock => {
            let setup = local("__mt_setup");
            let has_setup = block.stmts.len() > 1;
            rewrite_tail_future(block, returned, |future| {
                let future = if record_errors {
                    async_recording(future, error_span, result_type)
                } else {
                    future
                };
                quote!(#p::instrument(#future, #span))
            });
            let stmts = &block.stmts;
            // Statements before the returned block run at call time, with the span current.
            let enter = has_setup.then(|| quote!(let #setup = #p::attach(&#span);));
            quote! {
                let #span = #start;
                #enter
                #(#stmts)*
            }
        }
    };

    parts.emit(quote! {
        #uses
        #warnings
        #meta_item
        #body
    })
}

/// `#[record_errors]`.
pub(crate) fn record_errors(args: TokenStream, item: TokenStream) -> TokenStream {
    let function = match validate::record_errors(&args, item.clone()) {
        Ok(function) => function,
        Err(errors) => return unchanged_with(item, errors.finish()),
    };
    let mut parts = FnParts::new(function);
    let error_span = parts.error_span;
    let result_type = parts.result_type.clone();
    let result_type = result_type.as_ref();
    let body = match parts.shape {
        Shape::Sync => sync_recording(&parts.block, error_span, result_type),
        Shape::AsyncFn => {
            let block = &parts.block;
            let future = async_recording(quote!(async move #block), error_span, result_type);
            quote!(#future.await)
        }
        Shape::ReturnsAsyncBlock => {
            rewrite_tail_future(&mut parts.block, parts.returned, |future| {
                async_recording(future, error_span, result_type)
            });
            let stmts = &parts.block.stmts;
            quote!(#(#stmts)*)
        }
    };
    parts.emit(body)
}

/// `span!("name", key = value, ...)`.
pub(crate) fn span(input: TokenStream) -> TokenStream {
    let p = private();
    let validate::SpanMacro {
        named: span,
        options,
    } = match validate::span(input) {
        Ok(span) => span,
        // A span that records nothing keeps `.in_scope(..)` after a bad `span!` from adding a
        // second, confusing error to the real one.
        Err(error) => {
            let error = error.to_compile_error();
            return quote!({ #error #p::Span::none() });
        }
    };
    let (meta, meta_item) = span_meta(&span.name, options.kind, options.root, &span.attrs.specs);
    let start = start(&meta, recorder(&span.attrs.specs), &options.relations);
    let warnings = deprecation_warnings(&span.attrs.deprecated, &[]);
    quote! {
        {
            #warnings
            #meta_item
            #start
        }
    }
}

/// `event!("name", key = value, ...)`.
pub(crate) fn event(input: TokenStream) -> TokenStream {
    let event = match validate::named(input, NameKind::Event) {
        Ok(event) => event,
        Err(error) => {
            let error = error.to_compile_error();
            return quote!({ #error });
        }
    };
    let p = private();
    let name = &event.name;
    let count = event.attrs.specs.len();
    let record = recorder(&event.attrs.specs);
    let warnings = deprecation_warnings(&event.attrs.deprecated, &[]);
    quote! {
        {
            #warnings
            #p::event(#name, #count, #record)
        }
    }
}

/// `#[span_attrs]` on a struct or an enum. A type with errors still gets its impls (a struct
/// for the fields that passed), so each use of it does not add an error of its own.
pub(crate) fn span_attrs(args: TokenStream, item: TokenStream) -> TokenStream {
    let (model, errors) = match validate::span_attrs(args, item.clone()) {
        Ok(checked) => checked,
        Err(errors) => return unchanged_with(item, errors.finish()),
    };
    let errors = errors.finish().err().map(|error| error.to_compile_error());
    let rendered = match model {
        AttrType::Group(group) => attr_group(&group),
        AttrType::Variants(variants) => attr_variants(&variants),
    };
    quote!(#rendered #errors)
}

/// A `#[span_attrs]` struct and its `SpanAttributes` / `RecordArg` impls.
fn attr_group(group: &AttrGroup) -> TokenStream {
    let p = private();
    let recorder_ident = local("__mt_recorder");
    let structure = &group.item;
    let name = &structure.ident;
    let (impl_generics, ty_generics, where_clause) = structure.generics.split_for_impl();
    let lines = group.fields.iter().map(|field| match field {
        GroupField::Attr { ident, ty, key } => {
            quote_spanned!(ty.span()=> #p::attr(#recorder_ident, #key, &self.#ident);)
        }
        GroupField::Flatten { ident, ty } => {
            let group = flattened(ident, ty);
            quote!(#recorder_ident.attrs(#group);)
        }
    });
    let own = group
        .fields
        .iter()
        .filter(|field| matches!(field, GroupField::Attr { .. }))
        .count();
    let flattened = group.fields.iter().filter_map(|field| match field {
        GroupField::Flatten { ident, ty } => {
            let group = flattened(ident, ty);
            Some(quote!(+ #p::SpanAttributes::attribute_count(#group)))
        }
        GroupField::Attr { .. } => None,
    });
    // The struct's own lint levels (`#[allow(deprecated)]`) apply to its warnings too.
    let lint_levels: Vec<&Attribute> = structure
        .attrs
        .iter()
        .filter(|attr| {
            ["allow", "expect", "warn", "deny", "forbid"]
                .iter()
                .any(|level| attr.path().is_ident(level))
        })
        .collect();
    let warnings = deprecation_warnings(&group.deprecated, &lint_levels);
    quote! {
        #structure
        #warnings
        #[automatically_derived]
        impl #impl_generics #p::SpanAttributes for #name #ty_generics #where_clause {
            fn record_attributes(&self, #recorder_ident: &mut #p::Recorder<'_>) {
                #(#lines)*
            }
            fn attribute_count(&self) -> usize {
                #own #(#flattened)*
            }
        }
        #[automatically_derived]
        impl #impl_generics #p::RecordArg for #name #ty_generics #where_clause {
            fn record_arg(&self, _: &'static str, #recorder_ident: &mut #p::Recorder<'_>) {
                #recorder_ident.attrs(self);
            }
        }
    }
}

/// A `#[span_attr(flatten)]` field as a group. Both uses of it are spelled and spanned alike,
/// so a field type that is no group gets one error, not one per use.
fn flattened(ident: &Ident, ty: &syn::Type) -> TokenStream {
    let p = private();
    quote_spanned!(ty.span()=> #p::flatten(&self.#ident))
}

/// A `#[span_attrs]` enum, recorded as the `'static` name of its variant (alone, or as an
/// element of a string array).
fn attr_variants(variants: &AttrVariants) -> TokenStream {
    let p = private();
    let enumeration = &variants.item;
    let name = &enumeration.ident;
    let (impl_generics, ty_generics, where_clause) = enumeration.generics.split_for_impl();
    let arms = variants.variants.iter().map(|variant| {
        let (ident, value) = (&variant.ident, &variant.value);
        if variant.has_fields {
            quote!(Self::#ident { .. } => #value,)
        } else {
            quote!(Self::#ident => #value,)
        }
    });
    let recorder_ident = local("__mt_recorder");
    let name_ident = local("__mt_name");
    let items = local("__mt_items");
    quote! {
        #enumeration
        #[automatically_derived]
        impl #impl_generics #p::VariantName for #name #ty_generics #where_clause {
            fn variant_name(&self) -> &'static str {
                match self {
                    #(#arms)*
                }
            }
        }
        #[automatically_derived]
        impl #impl_generics #p::AttributeValue for #name #ty_generics #where_clause {
            fn to_value(&self) -> ::core::option::Option<#p::Value> {
                #p::variant_value(self)
            }
        }
        #[automatically_derived]
        impl #impl_generics #p::ArrayElement for #name #ty_generics #where_clause {
            fn to_array(#items: &[Self]) -> #p::Array {
                #p::variant_array(#items)
            }
        }
        #[automatically_derived]
        impl #impl_generics #p::RecordArg for #name #ty_generics #where_clause {
            fn record_arg(&self, #name_ident: &'static str, #recorder_ident: &mut #p::Recorder<'_>) {
                #recorder_ident.attr(#name_ident, self);
            }
        }
    }
}
