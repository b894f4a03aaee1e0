#![deny(warnings)]
use maestro_trace::traced;

#[traced("load_training_dataset", attrs(dataset.path = path))]
async fn load(path: &str) -> usize {
    tokio::task::yield_now().await;
    normalize(path.len()).await
}

#[traced("normalize_features")]
async fn normalize(rows: usize) -> usize {
    rows * 2
}

struct Trainer {
    epochs: u32,
}

impl Trainer {
    #[traced("run_training_epochs", attrs(training.epochs = self.epochs))]
    async fn run(&mut self) -> u32 {
        self.epochs += 1;
        self.epochs
    }
}

// Native `async fn` in traits (no `#[async_trait]`).
trait Checkpointer {
    async fn save(&self, step: u32) -> u32;
}

impl Checkpointer for Trainer {
    #[traced("save_checkpoint", attrs(training.step = step))]
    async fn save(&self, step: u32) -> u32 {
        self.epochs + step
    }
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

pub(crate) fn main() {
    let capture = maestro_trace::testing::capture();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // A traced future stays `Send`, so it can be `tokio::spawn`ed.
    assert_eq!(runtime.block_on(assert_send(load("data.csv"))), 16);
    let mut trainer = Trainer { epochs: 1 };
    assert_eq!(runtime.block_on(trainer.run()), 2);
    assert_eq!(runtime.block_on(trainer.save(3)), 5);
    let outer = capture.span("load_training_dataset");
    assert_eq!(outer.name(), "load_training_dataset");
    assert!(capture.span("normalize_features").is_child_of(&outer));
    assert_eq!(
        capture.span("save_checkpoint").attr_i64("training.step"),
        Some(3)
    );
    assert_eq!(
        capture
            .span("run_training_epochs")
            .attr_i64("training.epochs"),
        Some(1)
    );
}
