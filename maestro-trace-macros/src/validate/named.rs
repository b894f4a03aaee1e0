//! `span!` and `event!`: the name literal and the attribute list.

use proc_macro2::TokenStream;
use syn::{Expr, LitStr};

use super::keys::{attr_list, AttrList};
use super::names::{check_name, NameKind};
use super::Errors;
use crate::parse;

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
