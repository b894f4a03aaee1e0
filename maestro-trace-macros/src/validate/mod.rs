//! Validation: span and event names, attribute keys, options, the items the macros go on. Every
//! check adds to one combined error so the user sees all problems in one build; what passes is a
//! checked model ([`Traced`], [`Named`](named::Named), [`AttrGroup`]) that expansion only renders.
//!
//! One file per concept: `names` (span and event names), `keys` (attribute keys and lists),
//! `traced` (`#[traced]`, `#[record_errors]`), `named` (`span!`, `event!`), `span_options`
//! (what places a span among others: `kind`, `root`, `parent`, `links`) and `span_attrs`
//! (`#[span_attrs]`); this file holds the error collector and re-exports what expansion reads.

mod keys;
mod named;
mod names;
mod span_attrs;
mod span_options;
mod traced;

use quote::ToTokens;

pub(crate) use keys::DeprecatedKey;
pub(crate) use named::named;
pub(crate) use names::NameKind;
pub(crate) use span_attrs::{span_attrs, AttrGroup, AttrType, AttrVariants, GroupField};
pub(crate) use span_options::{span, Relations, SpanMacro};
pub(crate) use traced::{record_errors, traced, Kind, Traced};

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
