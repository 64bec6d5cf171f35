"""Instructions per client_credentials request, by layer and by function, from one callgrind
dump of bench/instructions.sh (a build with symbols: bench/profile.sh).

    python3 bench/callgrind_layers.py TOKEN.callgrind REQUESTS

Costs are inclusive (a function with everything it calls) and divided by REQUESTS. A middleware
layer's own cost is its future's cost less that of the layer it wraps: it includes the inner
layer's `call` (building its future, and for TracingLogger the root span and request id).
"""

import re
import subprocess
import sys

dump, requests = sys.argv[1], int(sys.argv[2])
annotated = subprocess.run(
    ["callgrind_annotate", "--inclusive=yes", "--threshold=100", dump],
    check=True,
    capture_output=True,
    text=True,
).stdout
inclusive = {}
for line in annotated.splitlines():
    match = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+(?:\S*?:)?(.+?) \[", line)
    if match:
        name = match.group(2)
        inclusive.setdefault(name, int(match.group(1).replace(",", "")))
total = next(
    int(line.split()[1]) for line in open(dump) if line.startswith("totals:")
)


def cost(pattern):
    """The inclusive cost of the costliest function whose name matches `pattern`, or None when
    no function does (the compiler inlined it into its caller, or it was renamed)."""
    found = [ir for name, ir in inclusive.items() if re.search(pattern, name)]
    return max(found) if found else None


def per_request(ir):
    return ir / requests


# The request's path through the app, outermost first: (label, the future that layer polls).
# Each row is the first future less the next one: what that layer does around the request, and
# the `call` of the layer inside it (which builds that layer's future).
LAYERS = [
    ("resolve_client_address", r"^<actix_service::map_err::MapErrFuture"),
    ("strict_transport_security", r"middleware::strict_transport_security::\{\{closure\}\}$"),
    ("TracingLogger (span closed, status) + set_request_id_header", r"^<tracing_actix_web::middleware::TracingResponse<"),
    ("carry_request_origin (task-local origin)", r"client_address::carry_request_origin::\{\{closure\}\}$"),
    ("observe_request (log line, metrics)", r"middleware::observe_request::\{\{closure\}\}$"),
    ("read_own_admin_changes", r"middleware::read_own_admin_changes::\{\{closure\}\}$"),
    ("bound_request_bodies + the route lookup (AppRouting::call)", r"limits::bound_request_bodies::\{\{closure\}\}$"),
    ("the resource's service", r"^<actix_web::resource::Resource<T> as actix_web::service::HttpServiceFactory>::register::\{\{closure\}\}::\{\{closure\}\}$"),
    ("CORS (actix-cors), response side", r"^<actix_cors::middleware::CorsMiddleware<S> as actix_service::Service<actix_web::service::ServiceRequest>>::call::\{\{closure\}\}$"),
    ("handler (post_token)", r"^actix_web::handler::handler_service::\{\{closure\}\}::\{\{closure\}\}$"),
]

# Pieces of those layers that run elsewhere (in an inner `call`, or while the handler reads
# the body), by function.
PIECES = [
    ("route lookup (AppRouting::call)", [r"^<actix_web::app_service::AppRouting as "]),
    ("CORS, request side (CorsMiddleware::call)", [r"^<actix_cors::middleware::CorsMiddleware<S> as actix_service::Service<actix_web::service::ServiceRequest>>::call$"]),
    ("TracingLogger::call: request id, root span", [r"^<tracing_actix_web::middleware::TracingLoggerMiddleware<"]),
    ("  of which RequestSpan::on_request_start", [r"^<gatehouse::http::request_span::RequestSpan as "]),
    ("request id formatted (uuid Display, each time)", [r"^uuid::fmt::<impl core::fmt::Display for uuid::Uuid>::fmt$"]),
    ("metrics: Metrics::observe_request", [r"^gatehouse::telemetry::metrics::Metrics::observe_request$"]),
    ("body timer: tokio Sleep created, polled, dropped", [
        r"^tokio::time::sleep::sleep$",
        r"^<tokio::time::sleep::Sleep as core::future::future::Future>::poll$",
        r"^core::ptr::drop_in_place<core::pin::Pin<alloc::boxed::Box<tokio::time::sleep::Sleep>>>$",
    ]),
]

WORK = [
    ("the whole request (HTTP/1.1 dispatcher)", r"^<actix_http::h1::dispatcher::Dispatcher<.* as core::future::future::Future>::poll$"),
    ("  parsing the request head (actix-http)", r"InnerDispatcher<T,S,B,X,U>::poll_request$"),
    ("  reading and parsing the form", r"^gatehouse::http::oauth::read_form::\{\{closure\}\}$"),
    ("  client authentication (Basic, secret check)", r"^gatehouse::oauth::client_auth::authenticate_client::\{\{closure\}\}$"),
    ("  issuing the access token (claims, JWS)", r"^gatehouse::oauth::tokens::issue_access_token$"),
    ("    ECDSA P-256 signature (aws-lc)", r"^ecdsa_sign_impl$"),
    ("    SHA-256 of the signing input (aws-lc)", r"^aws_lc_\w+_EVP_DigestSignUpdate$"),
    ("    base64url (base64)", r"^base64::engine::Engine::encode::inner$"),
    ("  the JSON response (serde_json, headers)", r"^gatehouse::http::oauth::no_store_json$"),
    ("  writing the response head (actix-http)", r"InnerDispatcher<T,S,B,X,U>::send_response$"),
    ("allocator: malloc, free, realloc, calloc (everywhere)", None),
]


def row(label, ir):
    if ir is None:
        print(f"{'—':>10}  {'':>6}  {label}: inlined into its caller in this build")
        return
    print(f"{per_request(ir):>10,.0f}  {ir * 100 / total:5.1f}%  {label}")


print(f"client_credentials: instructions per request (callgrind, {requests} requests)")
print(f"{per_request(total):>10,.0f}  100.0%  everything counted (the request, the runtime, background)")
print()
print("where the work goes (inclusive)")
for label, pattern in WORK:
    if pattern is None:
        ir = sum(
            inclusive.get(name, 0)
            for name in inclusive
            if name in ("malloc", "free", "realloc", "calloc")
        )
    else:
        ir = cost(pattern)
    row(label, ir)
print()
print("each layer's own cost (its future less the layer it wraps), outermost first")
layers = [(label, cost(pattern)) for label, pattern in LAYERS]
for label, ir in layers:
    if ir is None:
        row(label, None)
layers = [(label, ir) for label, ir in layers if ir is not None]
for (label, outer), (_, inner) in zip(layers, layers[1:]):
    row(label, outer - inner)
row("middleware and routing together", layers[0][1] - layers[-1][1])
print()
print("pieces of the layers, by function (inclusive)")
for label, patterns in PIECES:
    costs = [c for c in (cost(pattern) for pattern in patterns) if c is not None]
    row(label, sum(costs) if costs else None)
print()
print("costliest functions (inclusive, over 1%)")
for name, ir in sorted(inclusive.items(), key=lambda item: -item[1]):
    if ir * 100 / total < 1:
        break
    row(name[:150], ir)
