"""The guide's model registry as a Python FastAPI service, instrumented the guide's way.

`opentelemetry-instrumentation-fastapi` traces incoming requests, `opentelemetry-instrumentation-httpx`
outgoing ones, and the OTLP gRPC exporter sends to Jaeger. The cross-service test runs it beside
Rust services to check that one trace spans both languages, in both directions.

Environment: OTEL_SERVICE_NAME, OTLP_ENDPOINT (e.g. http://127.0.0.1:4317), ML_API_URL (the Rust
service /score calls).
"""

import os

import httpx
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

provider = TracerProvider(
    resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "model-registry")})
)
provider.add_span_processor(
    SimpleSpanProcessor(OTLPSpanExporter(endpoint=os.environ["OTLP_ENDPOINT"], insecure=True))
)
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("model_registry")

app = FastAPI()


@app.get("/ready")
def ready():
    return {"ready": True}


@app.get("/registry/models/{model_id}")
def fetch_model(model_id: str):
    with tracer.start_as_current_span("load_model_weights") as span:
        span.set_attribute("model.id", model_id)
        span.add_event("weights_loaded", {"bytes": 438000000})
    return {"model_id": model_id, "bytes": 438000000}


@app.get("/score/{model_id}")
def score(model_id: str):
    """Python calling Rust: the traced httpx request carries `traceparent` to the Rust service."""
    response = httpx.post(
        f"{os.environ['ML_API_URL']}/predictions",
        json={"model_id": model_id, "features": [0.5, 0.25]},
        timeout=10,
    )
    return {"status": response.status_code, "body": response.json()}


FastAPIInstrumentor.instrument_app(app, excluded_urls="ready")
HTTPXClientInstrumentor().instrument()
