"""The ports: what the handlers need from the outside, as protocols the adapters implement.

All of them are here, by what they serve: Canvas and IC, the event log, courses, grades and runs,
alerts and notices, access. The adapters are in `gpb.infra` (the store's repositories in
`gpb.infra.store`); the tests' stand-ins in `tests/fakes.py`. A protocol one handler implements
for another (`PendingView`, `RemasterQueue`) is no port: it stays beside the handler that needs it.

Every method may raise the errors of `gpb.handlers.errors`; adapters retry before they do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime, time
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from gpb.handlers.model import (
    Assignment,
    AssignmentChange,
    AssignmentGroup,
    Course,
    Enrollment,
    IcCategory,
    IcClass,
    IcRecord,
    LineItem,
    RecordKind,
    Result,
    Section,
    Submission,
)

# The values the ports speak of live beside the logic that makes them, and those modules import
# their ports from here: for the type checker only, so that neither waits on the other at import.
if TYPE_CHECKING:
    from gpb.handlers.alerts import Alert, FeedEntry
    from gpb.handlers.auto_sync import AutoMode, CourseAutoSync, Mark
    from gpb.handlers.changes import Change
    from gpb.handlers.claims import Claim
    from gpb.handlers.course_state import CourseState
    from gpb.handlers.courses import CourseSummary
    from gpb.handlers.delta import Confirmed
    from gpb.handlers.envelope import CanvasEvent
    from gpb.handlers.eventlog import (
        Appended,
        BucketCount,
        EventPage,
        EventQuery,
        Finish,
        LaunchEntry,
        Rejection,
        StoredEvent,
        TimeBucket,
    )
    from gpb.handlers.grades import Grade
    from gpb.handlers.health import AdminAlert, FinishedRun
    from gpb.handlers.reconcile import ReconcileCourse, Reconciliation
    from gpb.handlers.retention import Purge
    from gpb.handlers.syncs import LineItemConfirmed, RunStatus, SyncRequest, SyncRun, WriteRecord
    from gpb.handlers.tokens import Role, TokenInfo


# Canvas and Infinite Campus.


class Canvas(Protocol):
    """The Canvas REST API, read for what live events do not carry."""

    async def get_course(self, course_id: str) -> Course | None: ...

    async def get_assignment(self, course_id: str, assignment_id: str) -> Assignment | None:
        """The assignment with its overrides; None when Canvas no longer has it (deleted)."""
        ...

    async def list_assignments(self, course_id: str) -> list[Assignment]: ...

    async def list_assignment_groups(self, course_id: str) -> list[AssignmentGroup]: ...

    async def list_sections(self, course_id: str) -> list[Section]: ...

    async def list_student_enrollments(self, course_id: str) -> list[Enrollment]: ...

    async def list_teacher_ids(self, course_id: str) -> list[str]: ...

    async def get_sortable_name(self, user_id: str) -> str | None:
        """The user's "Last, First"; None when Canvas has no such user."""
        ...

    async def get_submission(
        self, course_id: str, assignment_id: str, user_id: str
    ) -> Submission | None: ...

    async def list_submissions(
        self, course_id: str, assignment_ids: Sequence[str]
    ) -> list[Submission]: ...

    async def send_conversation(
        self, course_id: str | None, recipient_ids: Sequence[str], subject: str, body: str
    ) -> None:
        """A private message to each recipient, in the course's context when one is given."""
        ...


class CanvasWriter(Protocol):
    """The Canvas REST writes a fix makes. `as_user_id` masquerades as that user (None: gpb's own
    token user). Raises `CanvasRefused` with Canvas's reason, or `CanvasUnavailable` when it cannot
    tell whether the change was made; a change is never retried blindly."""

    async def update_assignment(
        self, course_id: str, assignment_id: str, change: AssignmentChange, as_user_id: str | None
    ) -> Assignment: ...

    async def set_section_due_at(
        self,
        course_id: str,
        assignment_id: str,
        section_id: str,
        override_id: str | None,
        due_at: datetime,
        as_user_id: str | None,
    ) -> None:
        """The section's due date, in its override (made when `override_id` is None)."""
        ...

    async def rename_assignment_group(
        self, course_id: str, group_id: str, name: str, as_user_id: str | None
    ) -> AssignmentGroup: ...


class Sis(Protocol):
    """Infinite Campus through OneRoster 1.2 (rostering reads, gradebook reads and writes)."""

    async def get_class(self, class_id: str) -> IcClass | None:
        """The class with its school and terms; None when IC has no such class."""
        ...

    async def list_categories(self, class_id: str) -> list[IcCategory]: ...

    async def put_line_item(self, line_item: LineItem) -> None: ...

    async def put_result(self, result: Result) -> None: ...

    async def delete_result(self, sourced_id: str) -> None:
        """Deletes a result; one IC does not have counts as deleted."""
        ...

    async def get_result(self, sourced_id: str) -> Result | None: ...

    async def read_record(self, kind: RecordKind, sourced_id: str) -> IcRecord | None:
        """The line item or result as IC holds it; None when IC has none."""
        ...

    async def read_results_of(self, class_id: str, line_item_id: str) -> list[IcRecord]:
        """The results IC holds on a line item of a class, as IC holds them."""
        ...

    async def restore_record(self, record: IcRecord) -> None:
        """Puts a record read by `read_record` back as it was."""
        ...

    async def delete_line_item(self, sourced_id: str) -> None:
        """Deletes a line item; one IC does not have counts as deleted."""
        ...


# The event log, and the jobs replicas take turns at.


class EventDecoder(Protocol):
    """Turns a raw body into the claimed event: verifies a JWS, or parses plain JSON."""

    async def decode(self, raw: bytes) -> object:
        """Raises Refusal (INVALID_BODY, BAD_SIGNATURE, UNKNOWN_KEY, KEYS_UNAVAILABLE)."""
        ...


class EventLog(Protocol):
    async def append(self, event: CanvasEvent, source_ip: str | None) -> Appended:
        """Stores the event durably (or records it as a duplicate); returns once committed."""
        ...

    async def append_rejected(self, rejection: Rejection) -> str: ...

    async def append_launch(self, entry: LaunchEntry) -> str:
        """Records a launch from Canvas as a `lti_launch` entry, already final (`processed` or
        `rejected`): no handler ever picks it up."""
        ...

    async def claim_due(self, claim: Claim, limit: int) -> list[StoredEvent]:
        """Events waiting for their handler, and failed ones due for a retry, oldest first,
        claimed for `claim.holder` until `claim.until`. Until then no other holder gets them,
        nor any other event of their courses, so one course's events are handled in order even
        by several replicas. `finish` ends the claim; a holder that dies lets it run out."""
        ...

    async def release_claims(self, holder: str | None) -> int:
        """Ends the claims of `holder` (of every holder: None), as a process that starts knows
        its earlier self is gone; returns how many it ended."""
        ...

    async def finish(self, event_id: str, finish: Finish) -> None: ...

    async def get(self, event_id: str) -> StoredEvent | None: ...

    async def search(self, query: EventQuery) -> EventPage: ...

    def export(self, query: EventQuery) -> AsyncIterator[StoredEvent]: ...

    async def requeue(self, event_id: str) -> StoredEvent | None:
        """Marks a stored event to be handled again; None if there is none. Only for an event
        `replay.replayable` accepts (replay.replay checks it)."""
        ...

    async def counts_by_time(self, since: datetime, bucket: TimeBucket) -> list[BucketCount]:
        """Events received since `since`, counted per calendar `bucket` of received_at and per
        status; buckets without events are left out."""
        ...


class ChangeSink(Protocol):
    async def apply(self, changes: Sequence[Change], *, linger: float = 0.0) -> None:
        """Applies state changes in one transaction (the same writers as event handling). With
        `linger`, its commit may wait up to that many seconds for other writes to share it."""
        ...


class EventPurge(Protocol):
    async def purge_events(self, before: datetime) -> Purge:
        """Deletes the events received before `before` that are no longer needed: not waiting for
        their handler or a retry, and not the first copy of a duplicate that is kept."""
        ...

    async def purge_rejected(self, before: datetime) -> int:
        """Deletes the refused deliveries received before `before`; how many."""
        ...

    async def remove_request_fields(self, before: datetime) -> int:
        """Removes REQUEST_FIELDS from the metadata of the events received before `before`;
        how many events were changed."""
        ...


class JobSlots(Protocol):
    async def take(self, job: str, slot: str, holder: str, now: datetime) -> bool:
        """True for the one caller that takes (job, slot) first; False for every other."""
        ...


# Courses as gpb holds them.


class CourseDirectory(Protocol):
    async def summaries(self, only: Collection[str] | None) -> list[CourseSummary]:
        """Every known course (only=None), or those of `only` that gpb knows of."""
        ...


class CourseStateStore(Protocol):
    async def course_state(self, course_id: str) -> CourseState:
        """The stored state; an empty, not loaded one for a course gpb has not read yet."""
        ...


class StudentDirectory(Protocol):
    async def is_student(self, user_id: str) -> bool:
        """Whether the user is a student of a course gpb holds."""
        ...


# Grades, what IC confirmed, and the runs that send them.


class GradeStore(Protocol):
    async def grade(self, course_id: str, assignment_id: str, user_id: str) -> Grade | None: ...

    async def grades(self, course_id: str) -> list[Grade]: ...


class ConfirmedStore(Protocol):
    async def confirmed(self, course_id: str) -> list[Confirmed]: ...


class WrittenLineItems(Protocol):
    async def written_line_items(self, course_id: str) -> list[LineItemConfirmed]: ...


class SyncStore(Protocol):
    async def create_run(self, request: SyncRequest, now: datetime) -> SyncRun:
        """Queues a run; raises RunInProgress for a real run while another is queued or running."""
        ...

    async def run(self, sync_id: str) -> SyncRun | None: ...

    async def runs(self, course_id: str, before_id: str | None, limit: int) -> list[SyncRun]: ...

    async def set_status(self, sync_id: str, status: RunStatus, now: datetime) -> None: ...

    async def resume(self, sync_id: str) -> SyncRun | None:
        """Queues an interrupted run again; RunInProgress while another real run is active."""
        ...

    async def interrupt_unfinished(self, now: datetime) -> list[str]:
        """At the start of the only process on the database: runs a stopped process left running
        (and dry runs it left queued) become `interrupted`; real runs it had claimed and not yet
        started stay queued, free to claim at once."""
        ...

    async def end_claims(self, holder: str, now: datetime) -> int:
        """At the start of a replica: the runs its earlier self had claimed become claimable at
        once, as if those claims had run out; returns how many."""
        ...

    async def claim_next_run(self, claim: Claim, auto_limit: int | None = None) -> SyncRun | None:
        """The oldest real run that is queued, or still running under a claim that ran out (its
        holder died: the run is resumed), claimed for `claim.holder`; runs people started come
        before automatic ones, and an automatic one only while fewer than `auto_limit` are under
        way across all processes. Dry runs whose holder's claim ran out become `interrupted`:
        nobody will finish them."""
        ...

    async def renew_claim(self, sync_id: str, claim: Claim) -> None:
        """Claims the run for `claim.holder` until `claim.until` (again, while it runs)."""
        ...

    async def progress(self, sync_id: str, done: int, total: int) -> None: ...

    async def finish(
        self, sync_id: str, status: RunStatus, report: dict[str, Any], now: datetime
    ) -> None: ...

    async def confirmed_in_run(self, sync_id: str) -> dict[str, str]:
        """sourcedId -> the value (as text) IC confirmed for it earlier in this run."""
        ...

    async def written_line_items(self, course_id: str) -> list[LineItemConfirmed]: ...

    async def record_writes(self, writes: Sequence[WriteRecord]) -> None:
        """Keeps what IC held before writes; a run's first record of an IC record stays (a
        resumed run reads IC again after its own writes)."""
        ...

    async def writes_of(self, sync_id: str) -> list[WriteRecord]: ...

    async def newer_runs_touching(self, run: SyncRun) -> list[str]:
        """Real runs of the course after `run` that wrote some record it wrote and that no
        succeeded undo took back, newest first."""
        ...

    async def undone_by(self, sync_id: str) -> str | None:
        """The real undo of the run that succeeded, if any."""
        ...

    async def last_synced(self, course_id: str) -> dict[str, datetime]:
        """When IC last confirmed a result of each assignment of the course."""
        ...


class AutoSyncStore(Protocol):
    async def course_setting(self, course_id: str) -> CourseAutoSync: ...

    async def choose(
        self, course_id: str, mode: AutoMode | None, nightly_at: time | None, now: datetime
    ) -> None:
        """Keeps the teacher's choice; changes and nightly slots before `now` are not fired."""
        ...

    async def settled(self, before: datetime) -> list[CourseAutoSync]:
        """Courses with a change at or before `before` that no automatic run covered, oldest
        change first."""
        ...

    async def every_course(self) -> list[CourseAutoSync]:
        """Every course gpb knows, with its choice (the default when it has none)."""
        ...

    async def queue(self, request: SyncRequest, mark: Mark, now: datetime) -> SyncRun | None:
        """Moves the course's mark and queues the run, in one transaction. None when another
        round moved the mark first; RunInProgress (and the mark unmoved) when the course has a
        real run queued or running."""
        ...

    async def take(self, course_id: str, mark: Mark) -> bool:
        """Moves the mark without a run (nothing to send); False when another round did."""
        ...

    async def failures(self, course_id: str) -> dict[str, int]:
        """Failed automatic runs in a row, by assignment."""
        ...

    async def count_failures(
        self, course_id: str, failed: Sequence[str], succeeded: Sequence[str]
    ) -> None:
        """One more failure for `failed`; the count starts again for `succeeded`."""
        ...

    async def modes(self) -> list[tuple[str, AutoMode | None]]:
        """Every known course with the mode its teacher chose (None: none)."""
        ...


class ReconcileStore(Protocol):
    async def courses_to_reconcile(self, active_since: datetime | None) -> list[ReconcileCourse]:
        """Known courses with an event or a run since `active_since` (all of them for None), and
        those that opted in to a nightly remaster."""
        ...

    async def reconcile_course(self, course_id: str) -> ReconcileCourse | None:
        """The course with its opt-in; None when gpb knows no such course."""
        ...

    async def set_nightly_remaster(self, course_id: str, enabled: bool) -> bool:
        """False when gpb knows no such course."""
        ...

    async def save_reconciliation(self, reconciliation: Reconciliation) -> Reconciliation: ...

    async def reconciliations(
        self, course_id: str | None, before_id: str | None, limit: int
    ) -> list[Reconciliation]:
        """Newest first."""
        ...

    async def reconciliation(self, reconciliation_id: str) -> Reconciliation | None: ...


# Alerts, health, and the notices that tell people.


class AlertStore(Protocol):
    async def alerts(self, course_id: str, state: str | None = None) -> list[Alert]: ...

    async def feed_after(self, course_id: str, after_seq: int, limit: int = 500) -> list[FeedEntry]:
        """Feed entries of the course newer than `after_seq`, oldest first."""
        ...

    async def feed_position(self, course_id: str, event_id: str | None) -> int:
        """The seq a client that last saw `event_id` resumes after; the newest without one."""
        ...


class AdminAlertStore(Protocol):
    async def admin_alerts(self, state: str | None = None, limit: int = 100) -> list[AdminAlert]:
        """Newest first."""
        ...


class HealthReadings(Protocol):
    async def last_event_received(self) -> datetime | None:
        """When the newest delivery that was not refused arrived."""
        ...

    async def failed_event_count(self, since: datetime) -> int:
        """Deliveries refused, and events whose handling is failing, received since `since`."""
        ...

    async def failing_event_codes(self, since: datetime) -> dict[str, int]:
        """The error codes of events failing now, counted: those received since `since`, and
        older ones still waiting for a retry."""
        ...

    async def finished_runs(self, since: datetime) -> list[FinishedRun]:
        """Real (not dry) runs that finished since `since`, oldest first."""
        ...

    async def auth_failure_count(self, since: datetime) -> int:
        """Failed logins and bearer checks since `since`, from any address."""
        ...


class Outgoing(Protocol):
    """A notice waiting in an outbox, as the dispatcher handles it."""

    @property
    def id(self) -> str: ...

    @property
    def channel(self) -> str: ...

    @property
    def attempts(self) -> int: ...

    def as_json(self) -> dict[str, Any]: ...


N = TypeVar("N", bound=Outgoing)
N_contra = TypeVar("N_contra", bound=Outgoing, contravariant=True)


class NoticeStore(Protocol[N]):
    async def due_notices(self, now: datetime, limit: int) -> list[N]:
        """Notices due now, each taken for the caller for a while (NOTICE_CLAIM): no other
        process gets it before it is sent or failed, or before that while runs out (its sender
        died)."""
        ...

    async def notice_sent(self, notice_id: str, sent: dict[str, Any], now: datetime) -> None: ...

    async def notice_failed(
        self, notice_id: str, error: str, retry_at: datetime | None, now: datetime
    ) -> None:
        """Records a failed attempt; `retry_at` None means it failed for good."""
        ...


class Sender(Protocol[N_contra]):
    async def send(self, notice: N_contra) -> None:
        """Delivers the notice or raises; its own retries, if any, are spent."""
        ...


# Access: tokens, LTI launches, failed attempts.


class TokenStore(Protocol):
    async def add(
        self,
        token: str,
        role: Role,
        course_ids: tuple[str, ...],
        name: str | None,
        expires_at: datetime | None,
        canvas_user_id: str | None = None,
    ) -> TokenInfo: ...

    async def find_by_hash(self, digest: str, now: datetime) -> TokenInfo | None:
        """The live token (not revoked, not expired) whose `token_hash` this is, if any: bearer
        calls hash the token they carry, page sessions keep only the hash."""
        ...

    async def revoke(self, prefix: str, now: datetime) -> int:
        """Revokes the tokens whose prefix this is; returns how many."""
        ...

    async def list(self) -> list[TokenInfo]: ...


class TokenVerifier(Protocol):
    async def verify(self, raw: bytes) -> dict[str, Any]:
        """The claims of an RS256 token signed by a key of the platform's JWKS; raises Refusal
        (INVALID_BODY, BAD_SIGNATURE, UNKNOWN_KEY, KEYS_UNAVAILABLE)."""
        ...


class NonceLedger(Protocol):
    async def use(self, nonce: str, now: datetime) -> bool:
        """Records the nonce as used; False when it was used already (on any replica)."""
        ...


class FailedAttempts(Protocol):
    """Where failed logins and bearer checks are counted for the admin alert, across replicas."""

    async def record(self, address: str, at: datetime) -> None: ...
