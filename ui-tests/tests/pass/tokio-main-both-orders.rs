#![deny(warnings)]
use maestro_trace::traced;

#[tokio::main(flavor = "current_thread")]
#[traced("run_training_pipeline")]
async fn run_pipeline() -> u32 {
    tokio::task::yield_now().await;
    3
}

#[traced("run_inference_server")]
#[tokio::main(flavor = "current_thread")]
async fn run_server() -> u32 {
    tokio::task::yield_now().await;
    4
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    assert_eq!(run_pipeline(), 3);
    assert_eq!(run_server(), 4);
    assert_eq!(
        capture.span("run_training_pipeline").name(),
        "run_training_pipeline"
    );
    assert_eq!(
        capture.span("run_inference_server").name(),
        "run_inference_server"
    );
}
