"""The `gpb` command (docs/api.md, "The command line")."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import os
import socket
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import ValidationError

from gpb.handlers import replay as replays
from gpb.handlers.envelope import parse_canvas_time
from gpb.handlers.eventlog import EventQuery
from gpb.handlers.ids import local_id_or_none
from gpb.handlers.reconcile import ReconcileStatus, Reconciliation
from gpb.handlers.timefmt import iso, utcnow
from gpb.handlers.tokens import Role, first_admin_token, new_token
from gpb.infra.sandbox import canvas_cli
from gpb.infra.settings import Settings
from gpb.infra.store.sqlite_backup import BackupError, backup_database, restore_database
from gpb.infra.store.sqlite_lock import DatabaseInUse, serving_lock
from gpb.infra.store.store import SqlStore, open_database

T = TypeVar("T")


def _with_store(settings: Settings, work: Callable[[SqlStore], Awaitable[T]]) -> T:
    async def run() -> T:
        from gpb.bootstrap import open_store

        store = open_store(settings)
        store.start()
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serves, after the checks that can fail in one line: the port first (a busy one must not
    leave a new database behind), then the database's lock, then the migrations."""
    import uvicorn

    from gpb.bootstrap import create_app, open_store

    try:
        listening = _listen(args.host, args.port)
    except OSError as exc:
        print(
            f"gpb serve: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr
        )
        return 1
    with listening:
        if not settings.is_postgres:
            try:  # the lock itself is taken again, and held, once the server starts
                with serving_lock(settings.sqlite_path, "gpb serve (starting)"):
                    pass
            except DatabaseInUse as exc:
                print(f"gpb serve: the database is in use: {exc}", file=sys.stderr)
                return 1
        open_store(settings)  # migrate before the first request
        if settings.admin_token is None:
            token = _with_store(settings, lambda store: first_admin_token(store.tokens, utcnow()))
            if token is not None:
                print(
                    "No admin token existed, so gpb made one. It is shown only this once; keep it"
                    f" (log in with it, or send it as Authorization: Bearer):\n\n    {token}\n",
                    flush=True,
                )
        config = uvicorn.Config(create_app(settings), log_level="info")
        uvicorn.Server(config).run(sockets=[listening])
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, as uvicorn would bind it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
    except OSError:
        listening.close()
        raise
    return listening


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    applied = open_database(settings.database_url).migrate()
    print(f"applied {len(applied)} migrations" + (f": {', '.join(applied)}" if applied else ""))
    return 0


def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    role = Role(args.role)
    courses = []
    for value in args.course or []:
        local = local_id_or_none(value)
        if local is None:
            print(f"not a Canvas course id: {value}", file=sys.stderr)
            return 2
        courses.append(local)
    if role is Role.INSTRUCTOR and not courses:
        print("an instructor token needs at least one --course", file=sys.stderr)
        return 2
    expires = utcnow() + timedelta(days=args.expires) if args.expires else None
    canvas_user = local_id_or_none(args.canvas_user) if args.canvas_user else None
    if args.canvas_user and canvas_user is None:
        print(f"not a Canvas user id: {args.canvas_user}", file=sys.stderr)
        return 2
    token = new_token()
    _with_store(
        settings,
        lambda store: store.tokens.add(
            token, role, tuple(courses), args.name, expires, canvas_user
        ),
    )
    print(token)
    return 0


def cmd_token_list(args: argparse.Namespace, settings: Settings) -> int:
    for info in _with_store(settings, lambda store: store.tokens.list()):
        state = "revoked" if info.revoked_at else "active"
        if info.expires_at and info.expires_at <= utcnow() and not info.revoked_at:
            state = "expired"
        courses = ",".join(info.course_ids) or "-"
        print(
            f"{info.prefix}  {info.role.value:<10} {state:<8} courses={courses}"
            f"  expires={iso(info.expires_at) or 'never'}  name={info.name or '-'}"
        )
    return 0


def cmd_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    count = _with_store(settings, lambda store: store.tokens.revoke(args.prefix, utcnow()))
    print(f"revoked {count} token(s)")
    return 0 if count else 1


def cmd_events_replay(args: argparse.Namespace, settings: Settings) -> int:
    async def replay(store: SqlStore) -> tuple[bool, str]:
        try:
            event = await replays.replay(store.events, args.event_id)
        except replays.ReplayRefused as refused:
            return False, f"event {args.event_id}: {refused.message}"
        return True, f"event {event.id} queued; the running gpb handles it within a second"

    queued, message = _with_store(settings, replay)
    print(message, file=sys.stdout if queued else sys.stderr)
    return 0 if queued else 1


def cmd_events_export(args: argparse.Namespace, settings: Settings) -> int:
    from gpb.listener.api_events import CSV_COLUMNS, csv_row, event_detail

    query = EventQuery(
        course_id=local_id_or_none(args.course) if args.course else None,
        since=parse_canvas_time(args.since) if args.since else None,
    )

    async def export(store: SqlStore) -> None:
        writer = csv.writer(sys.stdout) if args.format == "csv" else None
        if writer:
            writer.writerow(CSV_COLUMNS)
        async for event in store.events.export(query):
            if writer is None:
                sys.stdout.write(json.dumps(event_detail(event), ensure_ascii=False) + "\n")
            else:
                writer.writerow(csv_row(event))

    try:
        _with_store(settings, export)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader stopped reading (`| head`): a way to end, not a failure worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush
        print("gpb events export: the reader closed the output; export stopped", file=sys.stderr)
        return 1
    return 0


def cmd_events_purge(args: argparse.Namespace, settings: Settings) -> int:
    try:
        before = parse_canvas_time(args.before)
    except ValueError:
        print(f"not a date: {args.before} (say 2025-07-01)", file=sys.stderr)
        return 2
    result = _with_store(settings, lambda store: store.retention.purge_events(before))
    print(
        f"purged {result.purged} events received before {iso(before)}; kept {result.kept} older"
        " ones still needed (waiting to be handled or retried, or first copies of newer duplicates)"
    )
    return 0


CHECK_MARKS = {True: "PASS", False: "FAIL", None: "SKIP"}


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from gpb.bootstrap import connection_checks
    from gpb.infra.checks import all_ok

    course_id = local_id_or_none(args.course) if args.course else None
    if args.course and course_id is None:
        print(f"not a Canvas course id: {args.course}", file=sys.stderr)
        return 2
    checks = asyncio.run(connection_checks(settings).run(course_id, args.class_id))
    for check in checks:
        line = f"{CHECK_MARKS[check.ok]}  {check.name}: {check.detail}"
        if check.fix:
            line += f" -- {'fix' if check.ok is False else 'to check it'}: {check.fix}"
        print(line)
    return 0 if all_ok(checks) else 1


def _sqlite_path(settings: Settings) -> str | None:
    try:
        return settings.sqlite_path
    except ValueError as exc:
        print(f"{exc}; for PostgreSQL use pg_dump and pg_restore (README)", file=sys.stderr)
        return None


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    database = _sqlite_path(settings)
    if database is None:
        return 2
    try:
        copied = backup_database(database, args.path)
    except (BackupError, sqlite3.Error, OSError) as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"backed up {database} to {copied.path}: {copied.events} events,"
        f" {copied.size_bytes} bytes, integrity ok"
    )
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    database = _sqlite_path(settings)
    if database is None:
        return 2
    try:
        restored = restore_database(args.path, database)
    except DatabaseInUse as exc:
        print(f"refusing to restore: {exc}; stop gpb first", file=sys.stderr)
        return 1
    except (BackupError, sqlite3.Error, OSError) as exc:
        print(f"restore failed: {exc}", file=sys.stderr)
        return 1
    print(f"restored {database} from {args.path}: {restored.events} events, integrity ok")
    if restored.replaced:
        print(f"the database it replaced is kept at {restored.replaced}")
    return 0


def _value_text(value: dict[str, Any] | None) -> str:
    if value is None:
        return "nothing"
    if value["excused"]:
        return "excused"
    text = "no score" if value["score"] is None else f"{value['score']:g}"
    flags = [flag for flag in ("missing", "late") if value[flag]]
    return text + (f" ({', '.join(flags)})" if flags else "")


def cmd_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from gpb.bootstrap import reconciling

    course_ids = [local_id_or_none(value) for value in args.course or []]
    if None in course_ids:
        print("not a Canvas course id: " + " ".join(args.course), file=sys.stderr)
        return 2

    async def reconcile() -> list[Reconciliation]:
        async with reconciling(settings) as reconciler:
            return await reconciler.run("command", [c for c in course_ids if c] or None)

    reconciled = asyncio.run(reconcile())
    for done in reconciled:
        report = done.report
        print(
            f"course {done.course_id}: {done.status.value}, {done.repaired_grades} grades repaired"
            f" from Canvas, {done.drift_count} drifted in IC ({report['ic_checked']} IC results"
            f" read) -- reconciliation {done.id}"
        )
        for drift in report["drift"]:
            print(
                f"  {drift['kind'].replace('_', ' ')}: assignment {drift['assignment_id']},"
                f" section {drift['section_id']}, student {drift['student_id']}:"
                f" IC confirmed {_value_text(drift['confirmed'])}, holds"
                f" {_value_text(drift['ic'])}; Canvas has {_value_text(drift['canvas'])}"
            )
        for error in report["errors"]:
            print(f"  {error['code']}: {error['message']} -- fix: {error['fix']}")
    if not reconciled:
        print("no course to reconcile: gpb has heard of none lately")
    return 0 if all(r.status is ReconcileStatus.SUCCEEDED for r in reconciled) else 1


def cmd_reconcile_opt_in(args: argparse.Namespace, settings: Settings) -> int:
    course_id = local_id_or_none(args.course_id)
    if course_id is None:
        print(f"not a Canvas course id: {args.course_id}", file=sys.stderr)
        return 2
    enabled = args.state == "on"
    known = _with_store(
        settings, lambda store: store.reconciliations.set_nightly_remaster(course_id, enabled)
    )
    if not known:
        print(f"gpb knows no course {course_id}", file=sys.stderr)
        return 1
    print(f"course {course_id}: nightly remaster {args.state}")
    return 0


# What `pip install 'gpb[sandbox]'` adds, by the name it is imported under.
SANDBOX_EXTRA = frozenset({"yaml", "jsonschema", "referencing"})


def cmd_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    # The sandbox is an extra: a production install runs without it.
    try:
        from gpb.infra.sandbox import cli as sandbox_cli
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in SANDBOX_EXTRA:
            raise
        print(
            f"gpb sandbox: the sandbox is not installed ({exc.name} is missing): "
            "pip install 'gpb[sandbox]', or '.[sandbox]' in the project folder",
            file=sys.stderr,
        )
        return 1
    if args.sandbox_command == "post":
        return sandbox_cli.post(args.file, args.to, args.key)
    if args.sandbox_command == "canvas":
        return canvas_cli.run(args)
    sandbox_cli.serve(args.host, args.port, args.seed, args.key, args.gpb_url)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gpb", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the listener, pages, API and workers")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(run=cmd_serve)

    commands.add_parser("migrate", help="create or upgrade the schema").set_defaults(
        run=cmd_migrate
    )

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="token_command", required=True
    )
    create = token.add_parser("create", help="print a new token once")
    create.add_argument("--role", choices=[r.value for r in Role], required=True)
    create.add_argument("--course", action="append", help="a course the instructor may see")
    create.add_argument("--name")
    create.add_argument("--expires", type=int, metavar="DAYS")
    create.add_argument(
        "--canvas-user", help="the holder's Canvas user id (fixes act as it, see the README)"
    )
    create.set_defaults(run=cmd_token_create)
    token.add_parser("list", help="list tokens (prefixes only)").set_defaults(run=cmd_token_list)
    revoke = token.add_parser("revoke", help="revoke the token with this prefix")
    revoke.add_argument("prefix", metavar="TOKEN_PREFIX")
    revoke.set_defaults(run=cmd_token_revoke)

    events = commands.add_parser("events", help="admin tools over the event log").add_subparsers(
        dest="events_command", required=True
    )
    replay = events.add_parser("replay", help="handle a stored event again")
    replay.add_argument("event_id")
    replay.set_defaults(run=cmd_events_replay)
    export = events.add_parser("export", help="write the event log to stdout")
    export.add_argument("--course")
    export.add_argument("--since")
    export.add_argument("--format", choices=["ndjson", "csv"], default="ndjson")
    export.set_defaults(run=cmd_events_export)
    purge = events.add_parser("purge", help="delete old events that are no longer needed")
    purge.add_argument("--before", required=True, metavar="DATE", help="received before (UTC)")
    purge.set_defaults(run=cmd_events_purge)

    check = commands.add_parser("check", help="try every outside connection, one line each")
    check.add_argument("--course", help="a Canvas course to read assignments and SIS ids of")
    check.add_argument("--class", dest="class_id", metavar="SIS_SECTION_ID", help="an IC class")
    check.set_defaults(run=cmd_check)
    backup = commands.add_parser("backup", help="copy the live SQLite database and verify it")
    backup.add_argument("path", help="the backup file, or a folder for a dated one")
    backup.set_defaults(run=cmd_backup)
    restore = commands.add_parser("restore", help="put a backup in place while gpb is stopped")
    restore.add_argument("path", help="the backup file")
    restore.set_defaults(run=cmd_restore)

    reconcile = commands.add_parser(
        "reconcile", help="repair from Canvas what events missed, report what drifted in IC"
    )
    reconcile.add_argument(
        "--course", action="append", help="this course (default: those active lately)"
    )
    reconcile.set_defaults(run=cmd_reconcile)
    opt_in = reconcile.add_subparsers(dest="reconcile_command").add_parser(
        "nightly-remaster", help="turn a course's remaster after the nightly run on or off"
    )
    opt_in.add_argument("course_id")
    opt_in.add_argument("state", choices=["on", "off"])
    opt_in.set_defaults(run=cmd_reconcile_opt_in)

    sandbox = commands.add_parser("sandbox", help="stand-ins for Canvas and IC on one port")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8900)
    sandbox.add_argument("--seed", help="a seed JSON file (default: the one shipped)")
    sandbox.add_argument(
        "--key",
        help="the signing key file (default: ./.gpb-sandbox-key.json if there is one, else"
        " ~/.config/gpb/sandbox-key.json)",
    )
    sandbox.add_argument(
        "--gpb-url",
        default="http://127.0.0.1:8000",
        help="where gpb runs: launches go there, and Canvas changes send their Live Events to"
        " its /events/canvas",
    )
    sandbox.set_defaults(run=cmd_sandbox, sandbox_command=None)
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command")
    canvas_cli.add_commands(sandbox_commands)
    post = sandbox_commands.add_parser("post", help="sign an event with the sandbox key, post it")
    post.add_argument("file")
    post.add_argument("--to", default="http://127.0.0.1:8000/events/canvas")
    post.add_argument("--key", help="the sandbox key file (default: the sandbox's)")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # gpb logs what its calls to Canvas and IC mean: failures, checks, run reports. A line per
    # request would bury those (a remaster makes thousands) and costs time on every call.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "GPB_" + "_".join(str(part) for part in error["loc"]).upper()
            print(f"{name}: {error['msg']}", file=sys.stderr)
        return 2
    result: int = args.run(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
