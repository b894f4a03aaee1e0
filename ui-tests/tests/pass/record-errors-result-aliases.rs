#![deny(warnings)]
use std::fmt;
use std::num::ParseIntError;

use maestro_trace::{record_errors, traced};

#[traced("read_model_manifest")]
#[record_errors]
fn read_manifest(path: &str) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

#[traced("parse_model_config")]
#[record_errors]
fn parse_config(text: &str) -> anyhow::Result<u32> {
    let layers: u32 = text.parse()?;
    anyhow::ensure!(layers > 0, "a model needs at least one layer");
    Ok(layers)
}

#[derive(Debug)]
struct ConfigError(ParseIntError);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid config: {}", self.0)
    }
}

impl From<ParseIntError> for ConfigError {
    fn from(error: ParseIntError) -> Self {
        ConfigError(error)
    }
}

// `?` converting through `From` inside the recorded body.
#[traced("parse_epoch_count")]
#[record_errors]
fn parse_epochs(text: &str) -> Result<u32, ConfigError> {
    let epochs: u32 = text.parse()?;
    Ok(epochs)
}

#[traced("load_checkpoint")]
#[record_errors]
async fn load_checkpoint(path: &str) -> anyhow::Result<usize> {
    let size: usize = path.parse()?;
    Ok(size)
}

// `#[record_errors]` above `#[traced]` on an `async fn`.
#[record_errors]
#[traced("upload_checkpoint")]
async fn upload_checkpoint(size: usize) -> Result<(), String> {
    Err(format!("checkpoint of {size} bytes exceeds the quota"))
}

// A function returning an `async` block.
#[traced("download_weights")]
#[record_errors]
fn download_weights(url: String) -> impl std::future::Future<Output = Result<usize, String>> {
    async move {
        if url.starts_with("s3://") {
            Ok(url.len())
        } else {
            Err(format!("unsupported weights url {url}"))
        }
    }
}

// Without `#[traced]`: recorded on whatever span is current.
#[record_errors]
fn validate_schema(columns: usize) -> Result<usize, Box<dyn std::error::Error>> {
    let expected: usize = "3".parse()?;
    if columns != expected {
        return Err(format!("expected {expected} columns, got {columns}").into());
    }
    Ok(columns)
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    assert!(read_manifest("/definitely/not/here/manifest.json").is_err());
    assert!(parse_config("0").is_err());
    assert!(parse_epochs("ten").is_err());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(runtime.block_on(load_checkpoint("big")).is_err());
    assert!(runtime.block_on(upload_checkpoint(10)).is_err());
    assert!(runtime
        .block_on(download_weights("http://weights".into()))
        .is_err());
    assert!(maestro_trace::span!("validate_dataset")
        .in_scope(|| validate_schema(2))
        .is_err());
    assert!(capture.span("upload_checkpoint").is_error());
    assert!(capture.span("download_weights").is_error());
    assert!(capture.span("validate_dataset").is_error());
    assert!(capture.span("read_model_manifest").is_error());
    assert!(capture.span("parse_model_config").is_error());
    assert!(capture.span("parse_epoch_count").is_error());
    assert!(capture.span("load_checkpoint").is_error());
}
