//! Compile-pass and compile-fail cases for the maestro-trace macros (see tests/ui.rs).

#[cfg(test)]
mod shapes;
