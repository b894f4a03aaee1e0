//! `#[span_attrs]`: structs whose fields are attributes, enums recorded as one value, the
//! `prefix`, and the `#[span_attr(...)]` options of fields and variants (`rename`, `skip`,
//! `flatten`).

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{Expr, Ident, LitStr};

use super::keys::{check_key, DeprecatedKey, KeySet};
use super::Errors;
use crate::parse::{self, RawOption};

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
