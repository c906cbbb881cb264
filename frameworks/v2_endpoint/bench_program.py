"""Time requests to a serving endpoint (Open Inference Protocol, KServe v2 REST); print AIPEP observer lines.

This script is the `{program}`-side of the v2_endpoint framework: it runs under whatever
interpreter the benchmark names, so it imports nothing but tritonclient (a maintained client
of the protocol), numpy, the standard library and, in load mode, `mlperf_loadgen`.

What is timed is what a client of the server waits for: each request from the moment it is
sent until its whole answer is read (`NET latency`, single stream: one request at a time).
The inputs are made from the model's metadata as the server describes it (names, shapes,
datatypes; a dynamic dimension is 1), with the onnxruntime program's seed, so a model served
here is fed the same bytes as the same model run in-process.

`--cold_start` first unloads the model through the server's repository API, then times its
load request up to the first answer of an inference (`NET cold_start`): what a scale-up costs
the first user. The warm requests follow.

With `--scenario NAME` (and its settings) MLPerf LoadGen issues the requests instead (see
frameworks/load_program/loadgen_runner.py): each of the `workers` threads has a request path
of its own (`RequestPath.infer(batch)`; tritonclient's HTTP client is not thread-safe) and
sends one request per sample of a batch, so the endpoint meets as many requests at once as
there are workers. An endpoint that fails under load ends the run at once with one line.

Exit status: 0 on success, 2 for a usage mistake, 1 when the endpoint cannot be reached,
refuses, answers an error or does not know the model, or LoadGen is missing (each one line
on stderr).
"""

from __future__ import annotations

import argparse
import http.client
import io
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The shared modules live in folders of their own, so no client library is shadowed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "load_program"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "program_parts"))
import loadgen_runner  # noqa: E402
from program_parts import (  # noqa: E402
    INPUT_SEED,
    InputSpec,
    OneLineParser,
    UsageError,
    non_negative,
    observer_line,
    parse_shape,
    positive,
    random_array,
    refuse_unknown_inputs,
)

DEFAULT_REQUEST_TIMEOUT_S = 60.0
# How often a cold start asks whether the unloaded model is gone.
UNLOAD_POLL_S = 0.05
NOT_FOUND = "404"
# Distinct ready-made requests per worker in load mode; LoadGen's sample indices wrap onto them.
LOAD_SAMPLES = 8


class EndpointError(Exception):
    """The endpoint was unreachable, refused, answered an error or does not know the model; exit status 1."""


@dataclass(frozen=True)
class Endpoint:
    """A model on a server; `version` "" is the server's default version."""

    url: str
    model: str
    version: str = ""
    timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S

    def describe(self) -> str:
        return f"v2 endpoint {self.url}"

    def model_name(self) -> str:
        return f"{self.model!r}" + (f" version {self.version!r}" if self.version else "")

    def connect(self):
        """A new client: tritonclient takes the address without its scheme (https turns on TLS)."""
        import tritonclient.http as httpclient

        parts = urllib.parse.urlsplit(self.url)
        return httpclient.InferenceServerClient(
            parts.netloc + parts.path.rstrip("/"),
            ssl=parts.scheme == "https",
            connection_timeout=self.timeout_s,
            network_timeout=self.timeout_s,
        )

    @contextmanager
    def asking(self, action: str) -> Iterator[None]:
        """Whatever goes wrong while the endpoint is asked for `action` becomes one EndpointError line."""
        from tritonclient.utils import InferenceServerException

        try:
            yield
        except InferenceServerException as exc:
            message = " ".join(str(exc.message()).split())
            if exc.status() == NOT_FOUND:
                raise EndpointError(
                    f"{self.describe()}: model {self.model_name()} not found ({action} answered 404: {message})"
                ) from None
            status = exc.status() or "an error"
            raise EndpointError(f"{self.describe()}: {action} answered {status}: {message}") from None
        except ConnectionRefusedError:
            raise EndpointError(f"{self.describe()}: {action}: connection refused (is the server running?)") from None
        except http.client.HTTPException as exc:  # the HTTP library's own: a server that hung up mid-answer
            raise EndpointError(f"{self.describe()}: {action}: {' '.join(str(exc).split())}") from None
        except OSError as exc:
            raise EndpointError(f"{self.describe()}: {action}: {exc.strerror or exc}") from None


class RequestPath:
    """One client's way to the model: a connection and each sample's request, made once.

    `infer(batch)` sends one request per sample index (modulo the samples made) and returns
    when every answer has arrived; any failure is an EndpointError. The samples are ready-made
    so that what a request costs is the protocol, not the making of its data.

    tritonclient's HTTP client runs on gevent, whose connections belong to the thread that made
    them: a load generator probes a path from its own thread, then a worker thread drives it. So
    each thread that sends gets a client of its own; `client` is the opening thread's.
    """

    def __init__(self, endpoint: Endpoint, feeds: list[dict[str, np.ndarray]], outputs: list[str]):
        import tritonclient.http as httpclient
        from tritonclient.utils import np_to_triton_dtype

        self.endpoint = endpoint
        self.client = endpoint.connect()
        self._per_thread = threading.local()
        self._per_thread.client = self.client
        self._clients = [self.client]
        self._clients_lock = threading.Lock()
        self.requests = []
        for feed in feeds:
            inputs = []
            for name, array in feed.items():
                request_input = httpclient.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
                # JSON tensors: every v2 server reads them; the binary extension is Triton's own.
                request_input.set_data_from_numpy(array, binary_data=False)
                inputs.append(request_input)
            self.requests.append(inputs)
        self.outputs = [httpclient.InferRequestedOutput(name, binary_data=False) for name in outputs] or None

    def infer(self, batch: list[int]) -> None:
        with self.endpoint.asking("inference"):
            client = self._thread_client()
            for index in batch:
                client.infer(
                    self.endpoint.model,
                    self.requests[index % len(self.requests)],
                    model_version=self.endpoint.version,
                    outputs=self.outputs,
                )

    def _thread_client(self):
        client = getattr(self._per_thread, "client", None)
        if client is None:
            client = self._per_thread.client = self.endpoint.connect()
            with self._clients_lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()


def parse_input_flag(text: str) -> InputSpec:
    """`name:d0,d1,...:dtype` (a numpy dtype name); split from the right because names may hold colons."""
    parts = text.rsplit(":", 2)
    if len(parts) != 3 or not parts[0]:
        raise UsageError(f"--input {text}: expected name:d0,d1,...:dtype")
    name, dims, dtype = parts
    try:
        np.dtype(dtype)
    except TypeError:
        raise UsageError(f"--input {text}: unknown dtype {dtype!r}") from None
    return InputSpec(name, parse_shape(text, dims), dtype)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text}")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    # "resolve": this program's --cold_start (the endpoint's model load) replaces the load flags' own
    # (a process start), which means nothing for a server.
    parser = OneLineParser(
        prog="bench_program.py",
        description=__doc__.splitlines()[0],
        allow_abbrev=False,
        conflict_handler="resolve",
    )
    loadgen_runner.add_load_arguments(parser)
    parser.add_argument("--url", required=True, help="the server, such as http://127.0.0.1:8080")
    parser.add_argument("--model", required=True, help="the model's name on the server")
    parser.add_argument("--model_version", default="", help="the model's version; empty = the server's default")
    parser.add_argument("--warmup", type=non_negative, default=0, help="untimed requests first (per worker)")
    parser.add_argument("--iter", type=positive, default=10, help="timed requests (single stream without --scenario)")
    parser.add_argument("--cold_start", action="store_true", help="unload the model, then time load + first answer")
    parser.add_argument("--request_timeout", type=_seconds, default=DEFAULT_REQUEST_TIMEOUT_S, help="seconds")
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        type=parse_input_flag,
        metavar="NAME:D0,D1,...:DTYPE",
        help="shape and numpy dtype of one input (repeatable); others as the metadata says, dynamic dims = 1",
    )
    args = parser.parse_args(argv)
    parts = urllib.parse.urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise UsageError(f"--url {args.url}: expected http(s)://HOST[:PORT][/PATH]")
    return args


def open_request_path(
    endpoint: Endpoint, requested: list[InputSpec] | None = None, samples: int = 1, load_if_absent: bool = False
) -> RequestPath:
    """A request path to the model, its `samples` made from the metadata the server gives (`requested`
    overrides an input's shape and dtype): what a load generator opens once per worker thread."""
    client = endpoint.connect()
    try:
        metadata = model_metadata(endpoint, client, load_if_absent)
    finally:
        client.close()
    outputs = [entry["name"] for entry in metadata.get("outputs", [])]
    return RequestPath(endpoint, model_feeds(metadata, requested or [], samples), outputs)


def model_metadata(endpoint: Endpoint, client, load_if_absent: bool) -> dict:
    """The model's v2 metadata; a model the server has unloaded is loaded first when a cold start
    will unload it anyway (a name the server does not know fails the load request, naming it)."""
    try:
        with endpoint.asking("the metadata request"):
            return client.get_model_metadata(endpoint.model, endpoint.version)
    except EndpointError:
        if not load_if_absent:
            raise
    with endpoint.asking("the load request"):
        client.load_model(endpoint.model)
    with endpoint.asking("the metadata request"):
        return client.get_model_metadata(endpoint.model, endpoint.version)


def model_feeds(metadata: dict, requested: list[InputSpec], samples: int = 1) -> list[dict[str, np.ndarray]]:
    """Seeded random feeds, one per sample, the first one drawn as the onnxruntime program draws its feeds."""
    from tritonclient.utils import triton_to_np_dtype

    declared = metadata.get("inputs", [])
    by_name = {spec.name: spec for spec in requested}
    refuse_unknown_inputs(requested, [entry["name"] for entry in declared])
    if not declared:
        raise UsageError(f"model {metadata.get('name')!r}: its metadata declares no inputs to generate")
    specs = []
    for entry in declared:
        spec = by_name.get(entry["name"])
        if spec is None:
            dtype = triton_to_np_dtype(entry["datatype"])
            if dtype is None or dtype is np.object_:
                datatype = entry["datatype"]
                raise UsageError(f"--input {entry['name']}: the model's datatype {datatype} cannot be generated")
            shape = tuple(dim if dim > 0 else 1 for dim in entry["shape"])
            spec = InputSpec(entry["name"], shape, np.dtype(dtype).name)
        specs.append(spec)
    rng = np.random.default_rng(INPUT_SEED)
    return [{spec.name: random_array(rng, spec.shape, spec.dtype) for spec in specs} for _ in range(samples)]


def cold_start_us(path: RequestPath) -> float:
    """Microseconds from the load request of an unloaded model to the first answer of an inference."""
    endpoint, client = path.endpoint, path.client
    with endpoint.asking("the unload request"):
        client.unload_model(endpoint.model)
    deadline = time.monotonic() + endpoint.timeout_s
    with endpoint.asking("the readiness request"):
        # Some servers answer an unload before the model is gone; a load request then does nothing.
        while client.is_model_ready(endpoint.model, endpoint.version):
            if time.monotonic() > deadline:
                raise EndpointError(
                    f"{endpoint.describe()}: model {endpoint.model_name()} still ready "
                    f"{endpoint.timeout_s:g} s after its unload request"
                )
            time.sleep(UNLOAD_POLL_S)
    start = time.perf_counter_ns()
    with endpoint.asking("the load request"):
        client.load_model(endpoint.model)
    path.infer([0])
    return (time.perf_counter_ns() - start) / 1000.0


def time_requests(path: RequestPath, warmup: int, iterations: int) -> list[float]:
    """Per-request latency in microseconds, one request at a time."""
    for index in range(warmup):
        path.infer([index])
    latencies = []
    for index in range(iterations):
        start = time.perf_counter_ns()
        path.infer([index])
        latencies.append((time.perf_counter_ns() - start) / 1000.0)
    return latencies


def measure(args: argparse.Namespace) -> list[str]:
    """The observer lines of one run: the cold start first (it must find the model loaded by nobody else)."""
    endpoint = Endpoint(args.url, args.model, args.model_version, args.request_timeout)
    settings = loadgen_runner.load_settings(args)
    if settings is not None:
        return measure_load(endpoint, args, settings)
    path = open_request_path(endpoint, args.input, load_if_absent=args.cold_start)
    try:
        cold_start = [observer_line("NET", [cold_start_us(path)], metric="cold_start")] if args.cold_start else []
        return [observer_line("NET", time_requests(path, args.warmup, args.iter)), *cold_start]
    finally:
        path.close()


def measure_load(endpoint: Endpoint, args: argparse.Namespace, settings: loadgen_runner.LoadSettings) -> list[str]:
    """LoadGen's lines for one scenario against one request path per worker. The first path is
    opened alone, so that a cold start unloads and loads the model before anyone else asks it."""
    paths = [open_request_path(endpoint, args.input, LOAD_SAMPLES, load_if_absent=args.cold_start)]
    try:
        cold_start = [observer_line("NET", [cold_start_us(paths[0])], metric="cold_start")] if args.cold_start else []
        paths += [open_request_path(endpoint, args.input, LOAD_SAMPLES) for _ in range(settings.workers - 1)]
        for path in paths:
            for index in range(args.warmup):
                path.infer([index])
        try:
            result = loadgen_runner.run_scenario(settings, [path.infer for path in paths])
        except loadgen_runner.WorkerFailure as exc:
            if isinstance(exc.__cause__, EndpointError):
                raise exc.__cause__ from None
            raise EndpointError(f"{endpoint.describe()}: inference under load: {exc}") from None
        lines = io.StringIO()
        loadgen_runner.print_results(result, stdout=lines)
        return [*cold_start, *lines.getvalue().splitlines()]
    finally:
        for path in paths:
            path.close()


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        try:
            import tritonclient.http  # noqa: F401
        except ImportError as exc:
            print(f"bench_program.py: this interpreter cannot import tritonclient[http] ({exc})", file=sys.stderr)
            return 1
        try:
            lines = measure(args)
        except (EndpointError, loadgen_runner.LoadGenMissing) as exc:
            print(f"bench_program.py: {exc}", file=sys.stderr)
            return 1
    except UsageError as exc:
        print(f"bench_program.py: error: {exc}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
