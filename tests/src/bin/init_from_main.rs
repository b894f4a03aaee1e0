//! A service's `main` as users write it: `init(TracingConfig::from_env())?` in a `main` that
//! returns `Result<(), Box<dyn Error>>`, so an invalid environment ends the process with the
//! standard library's report of the error on stderr.

use std::error::Error;

use maestro_trace::TracingConfig;

fn main() -> Result<(), Box<dyn Error>> {
    let _tracing = maestro_trace::init(TracingConfig::from_env().service_name("init-from-main"))?;
    println!("tracing is set up");
    Ok(())
}
