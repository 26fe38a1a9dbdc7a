"""`gpb sandbox canvas ...`: change the sandbox's Canvas as a teacher would, from the command line.

Each command makes the change through the sandbox's Canvas REST API (or its control API, where
Canvas has no REST call for it), so the sandbox sends gpb the signed Live Event real Canvas would.
It prints what changed and what gpb answered to the event.

    gpb sandbox canvas rename 123 "HW 3.2: Linear Equations"
    gpb sandbox canvas publish 126
    gpb sandbox canvas due 124 2026-10-22T23:59:00-05:00 [--section 8]
    gpb sandbox canvas group 127 311
    gpb sandbox canvas grade 123 1201 9.5
    gpb sandbox canvas excuse 123 1202
    gpb sandbox canvas post-grades 123
    gpb sandbox canvas enroll 8 --name "Jo Newcomer" --sis-id S-200001   (or --user 1213)
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import httpx

from gpb.infra.sandbox.settings import CANVAS_PREFIX, SandboxSettings

SANDBOX_URL_VARIABLE = "GPB_SANDBOX_URL"
DEFAULT_SANDBOX_URL = "http://127.0.0.1:8900"
DEFAULT_COURSE = "456"  # the seeded course
TIMEOUT_SECONDS = 30.0


class Failed(Exception):
    """The sandbox refused or could not be reached; the message says which, in words."""


def add_commands(parent: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    canvas = parent.add_parser(
        "canvas", help="change the sandbox's Canvas; it sends gpb the matching Live Event"
    )
    canvas.add_argument(
        "--sandbox",
        default=os.environ.get(SANDBOX_URL_VARIABLE, DEFAULT_SANDBOX_URL),
        help=f"the sandbox's URL (default: ${SANDBOX_URL_VARIABLE} or {DEFAULT_SANDBOX_URL})",
    )
    canvas.add_argument("--course", default=DEFAULT_COURSE, help="the Canvas course id")
    actions = canvas.add_subparsers(dest="canvas_command", required=True)
    rename = actions.add_parser("rename", help="rename an assignment")
    rename.add_argument("assignment_id")
    rename.add_argument("title")
    actions.add_parser("publish", help="publish an assignment").add_argument("assignment_id")
    due = actions.add_parser("due", help="set an assignment's due date (ISO-8601 with offset)")
    due.add_argument("assignment_id")
    due.add_argument("due_at")
    due.add_argument("--section", help="only for this section (through its override)")
    group = actions.add_parser("group", help="move an assignment to another assignment group")
    group.add_argument("assignment_id")
    group.add_argument("group_id")
    grade = actions.add_parser("grade", help="grade a student (points, or a percentage: 85%%)")
    grade.add_argument("assignment_id")
    grade.add_argument("user_id")
    grade.add_argument("grade")
    excuse = actions.add_parser("excuse", help="excuse a student from an assignment")
    excuse.add_argument("assignment_id")
    excuse.add_argument("user_id")
    post = actions.add_parser("post-grades", help="show an assignment's hidden grades")
    post.add_argument("assignment_id")
    enroll = actions.add_parser("enroll", help="add a student to a section")
    enroll.add_argument("section_id")
    enroll.add_argument("--user", help="an existing user's id")
    enroll.add_argument("--name", help="a new student's name")
    enroll.add_argument("--sis-id", help="a new student's SIS id")


def run(args: argparse.Namespace) -> int:
    """Runs one `gpb sandbox canvas` command; 0 when the change was made, 1 when not."""
    with httpx.Client(base_url=args.sandbox.rstrip("/"), timeout=TIMEOUT_SECONDS) as client:
        try:
            sent_before = len(_deliveries(client))
            print(_change(client, args))
            for delivery in _deliveries(client)[sent_before:]:
                print(_delivery_line(delivery))
        except Failed as failed:
            print(str(failed), file=sys.stderr)
            return 1
        except httpx.HTTPError as error:
            print(
                f"the sandbox at {args.sandbox} could not be reached ({type(error).__name__}):"
                " is `gpb sandbox` running? (--sandbox or GPB_SANDBOX_URL)",
                file=sys.stderr,
            )
            return 1
    return 0


def _change(client: httpx.Client, args: argparse.Namespace) -> str:
    course = args.course
    base = f"{CANVAS_PREFIX}/courses/{course}/assignments"
    match args.canvas_command:
        case "rename":
            _canvas(client, "PUT", f"{base}/{args.assignment_id}", {"assignment[name]": args.title})
            return f"Renamed assignment {args.assignment_id} to '{args.title}'."
        case "publish":
            _canvas(
                client, "PUT", f"{base}/{args.assignment_id}", {"assignment[published]": "true"}
            )
            return f"Published assignment {args.assignment_id}."
        case "due":
            return _due(client, base, args)
        case "group":
            form = {"assignment[assignment_group_id]": args.group_id}
            moved = _canvas(client, "PUT", f"{base}/{args.assignment_id}", form)
            if str(moved.get("assignment_group_id")) != args.group_id:
                raise Failed(
                    f"Canvas left the assignment in group {moved.get('assignment_group_id')}"
                )
            return f"Moved assignment {args.assignment_id} to group {args.group_id}."
        case "grade":
            path = f"{base}/{args.assignment_id}/submissions/{args.user_id}"
            graded = _canvas(client, "PUT", path, {"submission[posted_grade]": args.grade})
            return (
                f"Graded student {args.user_id} on assignment {args.assignment_id}: "
                f"{graded.get('score')} ({graded.get('grade')})."
            )
        case "excuse":
            path = f"{base}/{args.assignment_id}/submissions/{args.user_id}"
            _canvas(client, "PUT", path, {"submission[excuse]": "true"})
            return f"Excused student {args.user_id} from assignment {args.assignment_id}."
        case "post-grades":
            path = f"/_sandbox/canvas/post_grades/{course}/{args.assignment_id}"
            posted = _control(client, path, {})
            return f"Posted {posted['posted']} hidden grade(s) of assignment {args.assignment_id}."
        case "enroll":
            body: dict[str, Any] = {"user_id": args.user} if args.user else {}
            if not args.user:
                body = {"name": args.name or "New Student", "sis_user_id": args.sis_id}
            added = _control(client, f"/_sandbox/canvas/enroll/{course}/{args.section_id}", body)
            return f"Enrolled user {added['user_id']} in section {args.section_id}."
    raise Failed(f"unknown command {args.canvas_command}")


def _due(client: httpx.Client, base: str, args: argparse.Namespace) -> str:
    if args.section is None:
        path = f"{base}/{args.assignment_id}"
        _canvas(client, "PUT", path, {"assignment[due_at]": args.due_at})
        return f"Set the due date of assignment {args.assignment_id} to {args.due_at}."
    path = f"{base}/{args.assignment_id}/overrides"
    overrides = _canvas(client, "GET", path, None)
    existing = next(
        (o for o in overrides["items"] if str(o.get("course_section_id")) == args.section), None
    )
    form = {"assignment_override[due_at]": args.due_at}
    if existing is None:
        form["assignment_override[course_section_id]"] = args.section
        _canvas(client, "POST", path, form)
    else:
        _canvas(client, "PUT", f"{path}/{existing['id']}", form)
    return (
        f"Set the due date of assignment {args.assignment_id} for section {args.section} "
        f"to {args.due_at}."
    )


def _canvas(
    client: httpx.Client, method: str, path: str, form: dict[str, str] | None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {SandboxSettings().canvas_token}"}
    params = {"per_page": "100"} if method == "GET" else None
    response = client.request(method, path, data=form, headers=headers, params=params)
    if not response.is_success:
        raise Failed(f"Canvas refused ({response.status_code}): {response.text[:300]}")
    body = response.json()
    return {"items": body} if isinstance(body, list) else body


def _control(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    if not response.is_success:
        raise Failed(f"the sandbox refused ({response.status_code}): {response.text[:300]}")
    answer: dict[str, Any] = response.json()
    return answer


def _deliveries(client: httpx.Client) -> list[dict[str, Any]]:
    response = client.get("/_sandbox/live_events")
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()["deliveries"]
    return found


def _delivery_line(delivery: dict[str, Any]) -> str:
    name, to, status = delivery["event_name"], delivery["to"], delivery["status"]
    if to is None:
        return f"  {name}: {delivery['answer']} (gpb sandbox --gpb-url)"
    if status is None:
        return f"  {name} -> {to}: {delivery['answer']}"
    return f"  {name} -> {to}: gpb answered {status}"
