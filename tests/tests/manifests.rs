//! What the runtime crate's manifest promises its users, read through `cargo metadata`.

use serde_json::Value;

/// `cargo metadata` of the workspace (no dependencies resolved: only its own manifests).
fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
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
