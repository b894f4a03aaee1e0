#![deny(deprecated)]

use maestro_trace::span;

fn main() {
    let query = "SELECT * FROM models";
    span!("save_to_database", db.statement = query).in_scope(|| {});
}
