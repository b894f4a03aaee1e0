//! The runtime crate's module graph: every `crate::` path in `maestro-trace/src` is an edge from
//! the module whose file holds it to the module it names. Imports point down: the graph has no
//! cycle, and no module reaches back up to the crate root (`lib.rs` only declares and
//! re-exports).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// Module name (`export::otlp`; the root is `""`) to the modules it names through `crate::`.
type Graph = BTreeMap<String, BTreeSet<String>>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../maestro-trace/src")
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a readable directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The module a file defines: `lib.rs` is the root, `a/mod.rs` is `a`, `a/b.rs` is `a::b`.
fn module_of(file: &Path, src: &Path) -> String {
    let relative = file.strip_prefix(src).expect("a file under src");
    let mut segments: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(segments.last().map(String::as_str), Some("mod" | "lib")) {
        segments.pop();
    }
    // `lib.rs` mounts `private.rs` as `__private`.
    if segments == ["private"] {
        return "__private".to_owned();
    }
    segments.join("::")
}

/// The `crate::...` paths of one file, as segment lists.
#[derive(Default)]
struct CratePaths(Vec<Vec<String>>);

impl CratePaths {
    fn add_use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.add_use_tree(prefix, &path.tree);
                prefix.pop();
            }
            syn::UseTree::Name(name) => self.add(prefix, Some(name.ident.to_string())),
            syn::UseTree::Rename(rename) => self.add(prefix, Some(rename.ident.to_string())),
            syn::UseTree::Glob(_) => self.add(prefix, None),
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.add_use_tree(prefix, tree);
                }
            }
        }
    }

    fn add(&mut self, prefix: &[String], last: Option<String>) {
        let mut path = prefix.to_vec();
        path.extend(last);
        if path.first().map(String::as_str) == Some("crate") && path.len() > 1 {
            self.0.push(path);
        }
    }
}

impl<'ast> Visit<'ast> for CratePaths {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.add_use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.add(&segments, None);
        syn::visit::visit_path(self, path);
    }

    // `pub(in crate::a)` says who may see an item; it is not a dependency.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}
}

/// The module a `crate::` path names: its longest prefix that is a module (the root if none).
fn target(path: &[String], modules: &BTreeSet<String>) -> String {
    (1..path.len())
        .rev()
        .map(|len| path[1..=len].join("::"))
        .find(|candidate| modules.contains(candidate))
        .unwrap_or_default()
}

fn graph_of(files: &[(String, String)]) -> Graph {
    let modules: BTreeSet<String> = files.iter().map(|(module, _)| module.clone()).collect();
    let mut graph = Graph::new();
    for (module, source) in files {
        let ast = syn::parse_file(source).unwrap_or_else(|e| panic!("{module}: {e}"));
        let mut paths = CratePaths::default();
        paths.visit_file(&ast);
        let edges = graph.entry(module.clone()).or_default();
        for path in paths.0 {
            let to = target(&path, &modules);
            if &to != module {
                edges.insert(to);
            }
        }
    }
    graph
}

fn runtime_graph() -> Graph {
    let src = src_dir();
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    let files: Vec<(String, String)> = paths
        .iter()
        .map(|file| {
            let source =
                std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            (module_of(file, &src), source)
        })
        .collect();
    assert!(files.len() > 10, "found only {} files", files.len());
    graph_of(&files)
}

/// One cycle of `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

fn display(graph: &Graph) -> String {
    let name = |module: &str| {
        if module.is_empty() {
            "crate (lib.rs)".to_owned()
        } else {
            module.to_owned()
        }
    };
    graph
        .iter()
        .map(|(module, edges)| {
            let edges: Vec<String> = edges.iter().map(|e| name(e)).collect();
            format!("{} -> {}", name(module), edges.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_runtime_modules_import_each_other_without_a_cycle() {
    let graph = runtime_graph();
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import cycle: {}\n\nthe graph:\n{}",
            cycle.join(" -> "),
            display(&graph)
        );
    }
}

#[test]
fn no_module_imports_the_crate_root() {
    let graph = runtime_graph();
    let upward: Vec<&String> = graph
        .iter()
        .filter(|(module, edges)| !module.is_empty() && edges.contains(""))
        .map(|(module, _)| module)
        .collect();
    assert!(
        upward.is_empty(),
        "these modules import from the crate root (lib.rs) instead of the module that owns the item: {upward:?}\n\nthe graph:\n{}",
        display(&graph)
    );
}

#[test]
fn the_hot_path_does_not_depend_on_configuration() {
    let graph = runtime_graph();
    let pipeline = graph.get("pipeline").expect("a pipeline module");
    assert!(
        !pipeline.contains("config"),
        "pipeline imports {pipeline:?}"
    );
}

/// The checker itself: it sees a cycle through `use` groups and expression paths, ignores
/// visibility paths, and resolves items to their module.
#[test]
fn the_checker_finds_cycles_and_root_imports() {
    let files = |a: &str, b: &str| {
        vec![
            ("".to_owned(), "mod a; mod b;".to_owned()),
            ("a".to_owned(), a.to_owned()),
            ("b".to_owned(), b.to_owned()),
        ]
    };
    let cyclic = graph_of(&files(
        "use crate::{b::{Thing}, a::Other}; pub(in crate::b) struct A;",
        "fn f() { crate::a::g(); }",
    ));
    assert_eq!(
        find_cycle(&cyclic),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
    let down = graph_of(&files(
        "pub(in crate::b) fn g() {} const X: u8 = crate::b::X;",
        "pub const X: u8 = 1; const Y: &str = crate::NAME;",
    ));
    assert_eq!(find_cycle(&down), None);
    assert!(down["b"].contains(""), "{down:?}");
    assert!(!down["a"].contains(""), "{down:?}");
}
