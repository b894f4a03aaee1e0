#![deny(warnings)]
// Bodies of one expression on one line: the expansion must not leave a block in a position where
// rustc would call the user's braces unused.

use maestro_trace::{record_errors, traced};

#[traced]
fn lookup() -> u8 { 4 }

#[traced("count_registered_models")]
#[record_errors]
fn count_models() -> Result<u8, String> { Ok(4) }

#[record_errors]
fn parse_layers(text: &str) -> Result<u8, std::num::ParseIntError> { text.parse() }

#[traced("lookup_model_name")]
async fn model_name() -> &'static str { "bert" }

#[traced("clear_model_cache")]
fn clear_cache() {}

struct Registry;

impl Registry {
    #[traced("registry_size")]
    fn size(&self) -> usize { 3 }
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    assert_eq!(lookup(), 4);
    assert_eq!(count_models(), Ok(4));
    assert_eq!(parse_layers("12"), Ok(12));
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(runtime.block_on(model_name()), "bert");
    clear_cache();
    assert_eq!(Registry.size(), 3);
    for name in ["lookup", "count_registered_models", "lookup_model_name", "clear_model_cache", "registry_size"] {
        assert_eq!(capture.span(name).name(), name);
    }
}
