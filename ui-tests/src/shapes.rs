//! The ui pass cases once more, as modules of this crate's tests: `cargo clippy --workspace
//! --all-targets -- -D warnings` lints them with `clippy::pedantic` denied, so generated code that
//! would make a user's crate warn under the strictest lint set fails CI.
#![deny(warnings, clippy::pedantic)]

#[path = "../tests/pass/async-fn.rs"]
mod async_fn;
#[path = "../tests/pass/async-trait-both-orders.rs"]
mod async_trait_both_orders;
#[path = "../tests/pass/attr-bare-pattern-bound-names.rs"]
mod attr_bare_pattern_bound_names;
#[path = "../tests/pass/deprecated-key-allowed.rs"]
mod deprecated_key_allowed;
// The case's own code has `pub` items, as a library would write them.
#[path = "../tests/pass/derive-and-span-attrs-order.rs"]
#[allow(unreachable_pub)]
mod derive_and_span_attrs_order;
#[path = "../tests/pass/destructured-and-pattern-args.rs"]
mod destructured_and_pattern_args;
// The case's own code has an `unsafe fn`, inner attributes and a float assertion of its own.
#[path = "../tests/pass/fn-qualifiers-and-attributes.rs"]
#[allow(unsafe_code, clippy::mixed_attributes_style, clippy::float_cmp)]
mod fn_qualifiers_and_attributes;
#[path = "../tests/pass/fn-returning-async-block.rs"]
mod fn_returning_async_block;
// The case's own code has an `async fn` without `.await` on purpose.
#[path = "../tests/pass/fn-returning-boxed-future.rs"]
#[allow(clippy::unused_async)]
mod fn_returning_boxed_future;
#[path = "../tests/pass/free-fn.rs"]
mod free_fn;
// The case's own code has a float assertion of its own.
#[path = "../tests/pass/generics-lifetimes-where.rs"]
#[allow(clippy::float_cmp)]
mod generics_lifetimes_where;
// The case's own code has locals named like the expansion's, bound and returned on purpose.
#[path = "../tests/pass/hygiene-and-shadowing.rs"]
#[allow(clippy::cast_possible_wrap, clippy::let_and_return)]
mod hygiene_and_shadowing;
// The case's own code has a local named like the expansion's static, bound and returned on purpose.
#[path = "../tests/pass/hygiene-static-name.rs"]
#[allow(clippy::let_and_return)]
mod hygiene_static_name;
// The case's own code has a `self: Box<Self>` receiver on purpose.
#[path = "../tests/pass/methods-self-receivers.rs"]
#[allow(clippy::boxed_local)]
mod methods_self_receivers;
// The case's own code has a cast of its own.
#[path = "../tests/pass/name-kind-attrs-root.rs"]
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
mod name_kind_attrs_root;
// One-line bodies are the point of the case: rustfmt leaves them as written.
#[rustfmt::skip]
#[path = "../tests/pass/one-line-bodies.rs"]
mod one_line_bodies;
#[path = "../tests/pass/raw-identifier-keys.rs"]
mod raw_identifier_keys;
#[path = "../tests/pass/record-errors-result-aliases.rs"]
mod record_errors_result_aliases;
#[path = "../tests/pass/record-errors-returns-borrow-of-mut-arg.rs"]
mod record_errors_returns_borrow_of_mut_arg;
#[path = "../tests/pass/record-errors-returns-borrow-of-mut-self.rs"]
mod record_errors_returns_borrow_of_mut_self;
// The case's own code has a `Result` the case returns to use `?`.
#[path = "../tests/pass/span-and-event-macros.rs"]
#[allow(clippy::unnecessary_wraps)]
mod span_and_event_macros;
#[path = "../tests/pass/span-attrs-enum-and-flatten.rs"]
mod span_attrs_enum_and_flatten;
#[path = "../tests/pass/span-attrs-struct.rs"]
mod span_attrs_struct;
#[path = "../tests/pass/span-macro-kind-root-parent-links.rs"]
mod span_macro_kind_root_parent_links;
#[path = "../tests/pass/tokio-main-both-orders.rs"]
mod tokio_main_both_orders;

#[test]
fn every_pass_case_runs() {
    async_fn::main();
    async_trait_both_orders::main();
    attr_bare_pattern_bound_names::main();
    deprecated_key_allowed::main();
    derive_and_span_attrs_order::main();
    destructured_and_pattern_args::main();
    fn_qualifiers_and_attributes::main();
    fn_returning_async_block::main();
    fn_returning_boxed_future::main();
    free_fn::main();
    generics_lifetimes_where::main();
    hygiene_and_shadowing::main();
    hygiene_static_name::main();
    methods_self_receivers::main();
    name_kind_attrs_root::main();
    one_line_bodies::main();
    raw_identifier_keys::main();
    record_errors_result_aliases::main();
    record_errors_returns_borrow_of_mut_arg::main();
    record_errors_returns_borrow_of_mut_self::main();
    span_and_event_macros::main();
    span_attrs_enum_and_flatten::main();
    span_attrs_struct::main();
    span_macro_kind_root_parent_links::main();
    tokio_main_both_orders::main();
}

#[test]
fn every_pass_case_is_linted_here() {
    let this = include_str!("shapes.rs");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pass");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            this.contains(&format!("\"../tests/pass/{name}\"")),
            "tests/pass/{name} needs a `mod` line in src/shapes.rs"
        );
    }
}
