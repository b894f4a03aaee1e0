#![deny(warnings)]
use std::future::Future;
use std::pin::Pin;

use maestro_trace::{record_errors, span, traced};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

async fn download(shard: u32) -> u32 {
    span!("download_shard").in_scope(|| ());
    shard
}

// The tail is an already-boxed future, not an `async` block: the span still covers its polls.
#[traced("fetch_shard", attrs(shard))]
fn fetch(shard: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(download(shard))
}

#[traced("fetch_checked_shard")]
#[record_errors]
fn fetch_checked(shard: u32) -> BoxFuture<'static, Result<u32, String>> {
    let fut = async move {
        if shard == 0 {
            Err("shard 0 is reserved".to_owned())
        } else {
            Ok(download(shard).await)
        }
    };
    Box::pin(fut)
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    assert_eq!(runtime.block_on(fetch(3)), 3);
    assert!(runtime.block_on(fetch_checked(0)).is_err());
    assert_eq!(runtime.block_on(fetch_checked(1)), Ok(1));

    let downloads = capture.spans_named("download_shard");
    assert!(downloads[0].is_child_of(&capture.span("fetch_shard")));
    let checked = capture.spans_named("fetch_checked_shard");
    assert!(checked[0].is_error());
    assert!(downloads[1].is_child_of(&checked[1]));
}
