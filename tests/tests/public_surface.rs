//! The runtime crate's public surface as a user meets it: its manifest (read through
//! `cargo metadata`) and the names it exports (read from its sources).

use std::path::Path;

use serde_json::Value;
use syn::visit::Visit;

/// `cargo metadata` of the workspace (no dependencies resolved: only its own manifests).
fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

fn package<'a>(metadata: &'a Value, name: &str) -> &'a Value {
    metadata["packages"]
        .as_array()
        .and_then(|packages| packages.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no package {name} in the workspace"))
}

#[test]
fn the_runtime_pins_the_macro_crate_to_its_exact_version() {
    let metadata = metadata();
    let macros_version = package(&metadata, "maestro-trace-macros")["version"]
        .as_str()
        .expect("a version");
    let runtime = package(&metadata, "maestro-trace");
    let requirement = runtime["dependencies"]
        .as_array()
        .and_then(|deps| deps.iter().find(|d| d["name"] == "maestro-trace-macros"))
        .and_then(|dep| dep["req"].as_str())
        .expect("the runtime depends on the macros");
    assert_eq!(requirement, format!("={macros_version}"));
}

#[test]
fn testing_is_a_cargo_feature_off_by_default_and_the_sdk_testing_feature_is_never_on() {
    let metadata = metadata();
    let runtime = package(&metadata, "maestro-trace");
    let features = &runtime["features"];
    // The capture records spans itself: the SDK's in-memory exporters are not needed.
    assert_eq!(features["testing"], serde_json::json!([]));
    let default = features["default"].as_array().expect("default features");
    assert!(!default.contains(&Value::from("testing")), "{default:?}");
    let sdk = runtime["dependencies"]
        .as_array()
        .and_then(|deps| {
            deps.iter()
                .find(|d| d["name"] == "opentelemetry_sdk" && d["kind"].is_null())
        })
        .expect("the runtime depends on opentelemetry_sdk");
    let sdk_features = sdk["features"].as_array().expect("features");
    assert!(
        !sdk_features.contains(&Value::from("testing")),
        "the SDK's `testing` feature is always on: {sdk_features:?}"
    );
}

/// Every `pub const NAME: &str = "VALUE";` of one file.
#[derive(Default)]
struct StrConsts(Vec<(String, String)>);

impl<'ast> Visit<'ast> for StrConsts {
    fn visit_item_const(&mut self, item: &'ast syn::ItemConst) {
        if let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(value),
            ..
        }) = &*item.expr
        {
            self.0.push((item.ident.to_string(), value.value()));
        }
    }
}

fn runtime_source(file: &str) -> syn::File {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../maestro-trace/src")
        .join(file);
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    syn::parse_file(&source).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn every_environment_variable_constant_is_named_after_its_variable() {
    let mut consts = StrConsts::default();
    consts.visit_file(&runtime_source("env_vars.rs"));
    assert!(consts.0.len() >= 30, "only {:?}", consts.0);
    for (name, value) in &consts.0 {
        assert_eq!(name, value, "env_vars::{name} names the variable {value}");
    }
    // And they are reachable under that name, in one module.
    assert_eq!(
        maestro_trace::env_vars::OTEL_EXPORTER_OTLP_ENDPOINT,
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    );
}

/// The names of public items (and public re-exports) in one file.
#[derive(Default)]
struct PublicNames(Vec<String>);

impl<'ast> Visit<'ast> for PublicNames {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let (vis, ident) = match item {
            syn::Item::Const(i) => (&i.vis, Some(&i.ident)),
            syn::Item::Static(i) => (&i.vis, Some(&i.ident)),
            syn::Item::Fn(i) => (&i.vis, Some(&i.sig.ident)),
            syn::Item::Struct(i) => (&i.vis, Some(&i.ident)),
            syn::Item::Enum(i) => (&i.vis, Some(&i.ident)),
            syn::Item::Type(i) => (&i.vis, Some(&i.ident)),
            syn::Item::Trait(i) => (&i.vis, Some(&i.ident)),
            syn::Item::Mod(i) => (&i.vis, Some(&i.ident)),
            syn::Item::Use(i) => (&i.vis, None),
            _ => return syn::visit::visit_item(self, item),
        };
        if matches!(vis, syn::Visibility::Public(_)) {
            match (item, ident) {
                (_, Some(ident)) => self.0.push(ident.to_string()),
                (syn::Item::Use(use_item), None) => {
                    self.0.push(quote::quote!(#use_item).to_string());
                }
                _ => {}
            }
        }
        syn::visit::visit_item(self, item);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        if matches!(item.vis, syn::Visibility::Public(_)) {
            self.0.push(item.sig.ident.to_string());
        }
    }
}

#[test]
fn no_public_name_refers_to_a_document_and_env_names_are_not_at_the_root() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../maestro-trace/src");
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path.strip_prefix(&src).expect("under src").to_owned());
            }
        }
    }
    for file in &files {
        let mut names = PublicNames::default();
        names.visit_file(&runtime_source(&file.to_string_lossy()));
        for name in &names.0 {
            assert!(
                !name.to_ascii_lowercase().contains("guide"),
                "{}: public name `{name}` refers to a document, not a concept",
                file.display()
            );
        }
    }
    let mut root = PublicNames::default();
    root.visit_file(&runtime_source("lib.rs"));
    let globs: Vec<&String> = root.0.iter().filter(|n| n.contains('*')).collect();
    assert!(globs.is_empty(), "glob re-exports at the root: {globs:?}");
}

#[test]
fn docs_rs_builds_every_feature_and_marks_what_each_item_needs() {
    let metadata = metadata();
    let docs_rs = &package(&metadata, "maestro-trace")["metadata"]["docs"]["rs"];
    assert_eq!(docs_rs["all-features"], Value::Bool(true), "{docs_rs}");
    assert_eq!(
        docs_rs["rustdoc-args"],
        serde_json::json!(["--cfg", "docsrs"])
    );

    let lib = runtime_source("lib.rs");
    let attr = |a: &syn::Attribute| quote::quote!(#a).to_string();
    assert!(
        lib.attrs
            .iter()
            .any(|a| attr(a) == "# ! [cfg_attr (docsrs , feature (doc_cfg))]"),
        "lib.rs lacks #![cfg_attr(docsrs, feature(doc_cfg))]"
    );
    let mut gated = 0;
    let mut items: Vec<&syn::Item> = lib.items.iter().collect();
    for item in &lib.items {
        if let syn::Item::Mod(syn::ItemMod {
            content: Some((_, inner)),
            ..
        }) = item
        {
            items.extend(inner);
        }
    }
    for item in items {
        let (attrs, public) = match item {
            syn::Item::Mod(m) => (&m.attrs, matches!(m.vis, syn::Visibility::Public(_))),
            syn::Item::Use(u) => (&u.attrs, matches!(u.vis, syn::Visibility::Public(_))),
            _ => continue,
        };
        for cfg in attrs.iter().filter(|a| a.path().is_ident("cfg")) {
            let syn::Meta::List(list) = &cfg.meta else {
                continue;
            };
            if !public || !list.tokens.to_string().contains("feature") {
                continue;
            }
            gated += 1;
            let wanted = format!("# [cfg_attr (docsrs , doc (cfg ({})))]", list.tokens);
            assert!(
                attrs.iter().any(|a| attr(a) == wanted),
                "`{}` is behind `{}` but not marked for docs.rs: add `#[cfg_attr(docsrs, doc(cfg({})))]`",
                quote::quote!(#item).to_string().chars().take(60).collect::<String>(),
                attr(cfg),
                list.tokens
            );
        }
    }
    assert!(
        gated >= 5,
        "only {gated} feature-gated public items in lib.rs"
    );
}
