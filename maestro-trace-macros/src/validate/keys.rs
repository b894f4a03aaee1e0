//! Attribute keys: the key rules, deprecated semantic-convention keys, repeats within one list
//! or type ([`KeySet`]), and the attribute lists of `#[traced]`, `span!` and `event!`.

use proc_macro2::TokenStream;
use syn::Ident;

use super::names::suggest_key;
use super::Errors;
use crate::parse::AttrSpec;

const MAX_KEY_BYTES: usize = 255;

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
pub(super) fn check_key(key: &str) -> Result<Option<&'static str>, String> {
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
pub(super) struct KeySet {
    seen: Vec<String>,
    deprecated: Vec<DeprecatedKey>,
}

impl KeySet {
    /// Checks `key`, written at `at`: its shape (the message goes through `invalid`, so a caller
    /// can say what to write in its own syntax), whether it was already seen (`repeated` says
    /// what to do about it), and whether it is deprecated. Returns whether the key is valid and
    /// new, i.e. whether it is recorded.
    pub(super) fn add(
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
    pub(super) fn into_deprecated(self) -> Vec<DeprecatedKey> {
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
pub(super) fn attr_list(
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

#[cfg(test)]
mod tests {
    use super::*;

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
