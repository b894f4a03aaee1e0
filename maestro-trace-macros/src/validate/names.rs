//! Span and event names: the naming rules, generic-name detection, and the suggestions an
//! error message offers.

/// What a name names, for messages.
#[derive(Clone, Copy)]
pub(crate) enum NameKind {
    Span,
    Event,
}

impl NameKind {
    pub(super) fn noun(self) -> &'static str {
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

const MAX_NAME_BYTES: usize = 128;

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
pub(super) fn check_name(
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
pub(super) fn suggest_key(key: &str) -> String {
    suggest(key).replace(['/', ':', '-'], "_")
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
    fn suggestions_are_valid_names() {
        assert_eq!(suggest("TrainModel"), "train_model");
        assert_eq!(suggest("load data"), "load_data");
        assert_eq!(suggest_key("Model.Id"), "model.id");
        assert_eq!(suggest_key("Model.modelVersion"), "model.model_version");
    }
}
