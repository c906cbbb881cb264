"""`aipep-server`: serve results and the dashboard, and issue or revoke access tokens.

A user's mistake (a bad --db URL, a port in use, an unknown token name) is one line
on stderr and exit status 2, as everywhere in aipep.
"""

from __future__ import annotations

import argparse
import sys
import time

from aipep_core.errors import UserError
from server.database import open_database
from server.guarded_server import ConnectionLimits
from server.limits import (
    DEFAULT_REGRESSIONS_CACHE_SECONDS,
    DEFAULT_REQUESTS_PER_MINUTE,
    DEFAULT_SAMPLES_PER_TOKEN_HOUR,
    ClientLimits,
)
from server.serve import DEFAULT_THREADS, ServeOptions, make_server
from server.server_state import ServerState
from server.tokens import create_token, list_tokens, revoke_token

DEFAULT_MAX_BODY_MB = 16.0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        raise UserError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="aipep-server", description="Results server and dashboard for aipep.", allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = commands.add_parser("serve", help="serve the API and the dashboard until interrupted", allow_abbrev=False)
    _add_db(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one (default: %(default)s)")
    serve.add_argument(
        "--max_body_mb", type=float, default=DEFAULT_MAX_BODY_MB, help="largest result body, MiB (default: %(default)s)"
    )
    serve.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="request threads (default: %(default)s)")
    serve.add_argument(
        "--max_connections",
        type=int,
        default=ConnectionLimits.max_connections,
        help="open connections; at the limit the longest idle one is closed (default: %(default)s)",
    )
    serve.add_argument(
        "--requests_per_minute",
        type=int,
        default=DEFAULT_REQUESTS_PER_MINUTE,
        help="requests per client address, 0 for no limit (default: %(default)s)",
    )
    serve.add_argument(
        "--samples_per_token_hour",
        type=int,
        default=DEFAULT_SAMPLES_PER_TOKEN_HOUR,
        help="samples each token may store per hour, 0 for no limit (default: %(default)s)",
    )
    serve.add_argument(
        "--regressions_cache_seconds",
        type=float,
        default=DEFAULT_REGRESSIONS_CACHE_SECONDS,
        help="how long the open regressions are reused, 0 to compute them per request (default: %(default)s)",
    )

    token = commands.add_parser(
        "token", help="issue, revoke or list access tokens for posting results", allow_abbrev=False
    )
    actions = token.add_subparsers(dest="action", required=True, parser_class=_Parser)
    for action, help_text in (("create", "issue a token, printed once on the last line"), ("revoke", "revoke a token")):
        sub = actions.add_parser(action, help=help_text, allow_abbrev=False)
        _add_db(sub)
        sub.add_argument("--name", required=True, help="what the token is for, e.g. ci")
    _add_db(actions.add_parser("list", help="list tokens by name", allow_abbrev=False))
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        return run(build_parser().parse_args(argv))
    except UserError as error:
        print(f"aipep-server: error: {error}", file=sys.stderr)
        return error.exit_status


def run(args: argparse.Namespace) -> int:
    if args.command == "serve":
        return serve(args)
    engine = open_database(args.db)
    try:
        if args.action == "create":
            token = create_token(engine, args.name)
            print(f"token {args.name!r} created; it is shown only now, keep it secret:")
            print(token)
        elif args.action == "revoke":
            revoke_token(engine, args.name)
            print(f"token {args.name!r} revoked")
        else:
            for info in list_tokens(engine):
                state = f"revoked {_when(info.revoked_at)}" if info.revoked_at is not None else "active"
                print(f"{info.name}\tcreated {_when(info.created_at)}\t{state}")
    finally:
        engine.dispose()
    return 0


def serve(args: argparse.Namespace) -> int:
    if args.max_body_mb <= 0:
        raise UserError(f"--max_body_mb: expected a positive size in MiB, got {args.max_body_mb}")
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port: expected a port number from 0 to 65535, got {args.port}")
    if args.threads < 1:
        raise UserError(f"--threads: expected at least 1, got {args.threads}")
    if args.max_connections < 1:
        raise UserError(f"--max_connections: expected at least 1, got {args.max_connections}")
    for flag in ("requests_per_minute", "samples_per_token_hour", "regressions_cache_seconds"):
        if getattr(args, flag) < 0:
            raise UserError(f"--{flag}: expected 0 (no limit) or more, got {getattr(args, flag)}")
    limits = ClientLimits(
        requests_per_minute=args.requests_per_minute,
        samples_per_token_hour=args.samples_per_token_hour,
        regressions_cache_seconds=args.regressions_cache_seconds,
    )
    connections = ConnectionLimits(max_connections=args.max_connections)
    engine = open_database(args.db)
    options = ServeOptions(args.host, args.port, int(args.max_body_mb * 1024 * 1024), args.threads, connections)
    try:
        server = make_server(ServerState(engine, options.max_body_bytes, limits), options)
        print(f"aipep-server: serving http://{_url_host(args.host)}:{server.effective_port}/", flush=True)
        server.run()
    finally:
        engine.dispose()
    return 0


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True, help="sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))
