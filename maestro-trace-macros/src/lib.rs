//! The macros of [maestro-trace](https://docs.rs/maestro-trace): use them through the
//! `maestro_trace` crate, which re-exports them next to the runtime they expand against.
//!
//! Each macro runs three passes, one module each: `parse` builds a small typed AST,
//! `validate` checks names and keys and collects every error (one file per concept under
//! `validate/`: `names`, `keys`, `traced`, `named`, `span_attrs`), `expand` generates code.

mod expand;
mod parse;
mod validate;

use proc_macro::TokenStream;

/// Traces a function: a span per call, current for the body, ended on every exit.
///
/// ```
/// use maestro_trace::traced;
///
/// #[traced]                                           // span name: `load_training_dataset`
/// fn load_training_dataset(path: &str) -> usize { path.len() }
///
/// #[traced("train_model_job", kind = internal, attrs(model.id = model_id, epochs))]
/// async fn train(model_id: &str, epochs: i64) -> f64 { 0.93 }
///
/// struct Registry;
/// impl Registry {
///     #[traced("fetch_model_from_registry", kind = client, attrs(model.version = version))]
///     fn fetch(&self, version: &str) -> Vec<u8> { Vec::new() }
/// }
/// # let _ = load_training_dataset("a");
/// ```
///
/// Options, in this order: an explicit span name (checked at compile time; the function's name
/// otherwise), `kind = server | client | producer | consumer | internal`, `attrs(...)` with
/// `dotted.key = expr` entries or bare argument names, and `root` to start a new trace.
///
/// `parent = expr` starts the span under the given context instead of the current one: a
/// `&Context`, `Context`, `&Span` or `SpanContext` (see `maestro_trace::IntoParent`); it cannot
/// be combined with `root`. `links = expr` links the span to others: any iterable (array,
/// `Vec`, slice, `Option`) of `SpanContext`, `&Span` or `Link`, evaluated only when the span is
/// sampled. Both expressions capture what they name as a closure would: `links = [&context]`
/// borrows an argument the body still uses, `links = [context]` moves it. A consumer linked to
/// the producer that queued its work:
///
/// ```
/// use maestro_trace::otel::trace::SpanContext;
/// use maestro_trace::traced;
///
/// struct TrainingJob { model_id: String, queued_by: Option<SpanContext> }
///
/// #[traced("submit_training_job", kind = producer)]
/// fn submit(queue: &std::sync::mpsc::Sender<TrainingJob>, model_id: &str) {
///     let queued_by = maestro_trace::current_span_context();
///     let _ = queue.send(TrainingJob { model_id: model_id.into(), queued_by });
/// }
///
/// #[traced("run_training_job", kind = consumer, root, links = job.queued_by.clone())]
/// fn run(job: TrainingJob) -> usize { job.model_id.len() }
///
/// let (queue, jobs) = std::sync::mpsc::channel();
/// submit(&queue, "bert-base");
/// let worker = maestro_trace::thread::spawn(move || jobs.iter().map(run).sum::<usize>());
/// drop(queue);
/// assert_eq!(worker.join().ok(), Some(9));
/// ```
///
/// Arguments are never recorded unless named in `attrs(...)`; attribute expressions run only
/// when the span is sampled. Sync functions keep the span current until they return, `?` out,
/// or panic (a panic ends the span with status Error and an `exception` event). Async functions
/// and functions returning an `async` block keep it current during every poll and end it when
/// the future completes, or with a `cancelled` event when it is dropped unfinished.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::traced(args.into(), item.into()).into()
}

/// Records a returned `Err` on the current span: an `exception` event with `exception.type` and
/// `exception.message`, and status Error with the message.
///
/// ```
/// use maestro_trace::{record_errors, traced};
///
/// #[traced("predict")]
/// #[record_errors]
/// fn predict(version: &str) -> Result<f64, String> {
///     Err(format!("Model version {version} not found in registry"))
/// }
/// # let _ = predict("v2.0");
/// ```
///
/// Works on sync and async functions and on `Result` aliases (`std::io::Result`,
/// `anyhow::Result`); stacked with `#[traced]` in either order it records on that span.
#[proc_macro_attribute]
pub fn record_errors(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::record_errors(args.into(), item.into()).into()
}

/// Turns a struct into a group of span attributes, with keys built at compile time, or a
/// fieldless enum into one attribute value (its variant's name).
///
/// ```
/// use maestro_trace::{span_attrs, traced};
///
/// #[span_attrs(prefix = "model")]
/// pub struct ModelAttrs {
///     pub id: String,                                   // model.id
///     #[span_attr(rename = "type")] pub kind: String,   // model.type
///     pub version: Option<String>,                      // model.version, omitted when None
///     #[span_attr(skip)] pub weights: Vec<u8>,
/// }
///
/// #[span_attrs]
/// pub enum Framework {
///     #[span_attr(rename = "pytorch")] PyTorch,         // "pytorch"
///     Onnx,                                             // "Onnx"
/// }
///
/// #[span_attrs(prefix = "training")]
/// pub struct TrainingAttrs {
///     pub framework: Framework,                         // training.framework
///     #[span_attr(flatten)] pub model: ModelAttrs,      // model.id, model.type, ...
/// }
///
/// #[traced("deploy_model", attrs(model))]
/// fn deploy(model: &ModelAttrs) {}
///
/// #[traced("train_model_job", attrs(job, backend = framework))]
/// fn train(job: &TrainingAttrs, framework: Framework) {}
/// # deploy(&ModelAttrs { id: "m".into(), kind: "t".into(), version: None, weights: vec![] });
/// ```
///
/// Field options: `rename = "key"` (the key after the prefix), `skip`, and `flatten` (a field
/// holding another `#[span_attrs]` struct, recorded with that struct's own keys). An enum takes
/// no prefix; each unit variant records its name, or `rename = "value"`, alone or in a `Vec`.
#[proc_macro_attribute]
pub fn span_attrs(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::span_attrs(args.into(), item.into()).into()
}

/// Starts a span with a compile-time-checked name and attributes; make it current with
/// `.in_scope(|| ..)` or `future.in_span(span!(..))`.
///
/// ```
/// use maestro_trace::{span, TraceFutureExt};
///
/// # async fn save(_: &str) -> Result<(), String> { Ok(()) }
/// # async fn run() -> Result<(), String> {
/// let kind = "pytorch";
/// span!("validate_model", model_type = kind).in_scope(|| Ok::<_, String>(()))?;
/// save("models").in_span(span!("save_to_database", table = "models")).await?;
/// # Ok(()) }
/// ```
///
/// After the name, `span!` takes the options of `#[traced]` among its attributes:
/// `kind = server | client | producer | consumer | internal`, `root`, `parent = expr` and
/// `links = expr`. A one-word key with one of these names is always the option; an attribute
/// of that name needs a dotted key (`job.kind = "nightly"`).
///
/// ```
/// use maestro_trace::span;
///
/// let job = span!("train_model_job", kind = producer, job.kind = "nightly");
/// span!("run_training_epoch", parent = &job).in_scope(|| {});
/// span!("consume_training_event", kind = consumer, root, links = [&job]).in_scope(|| {});
/// ```
#[proc_macro]
pub fn span(input: TokenStream) -> TokenStream {
    expand::span(input.into()).into()
}

/// Adds an event, with attributes, to the current span.
///
/// ```
/// use maestro_trace::event;
///
/// let queue = "training";
/// event!("job_queued", queue = queue, position = 3);
/// ```
#[proc_macro]
pub fn event(input: TokenStream) -> TokenStream {
    expand::event(input.into()).into()
}
