use maestro_trace::record_errors;

#[record_errors]
struct RegistryError;

fn main() {}
