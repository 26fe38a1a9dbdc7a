"""Automatic syncs: per course off, after each change, or nightly, within the district's rules.

After each change: the pending delta goes once grading has paused for the delay, so a grading
session goes as one run. Nightly: at the teacher's time inside the district's window. Either way
the run is an ordinary sync of the assignments with pending grades (kind `auto` or `nightly`),
queued behind the runs people started, and run under IC's load rules: one automatic run at a time
across the district in school hours, at most `max_runs` off-peak, and calls in flight shared so
that together they stay within IC's limit.

Every replica runs the rounds. A round fires a course only by moving the course's mark (the change
it covers, the nightly slot it took) from what it read, in the transaction that queues the run:
two replicas never queue the same round twice, and a replica that dies after queuing leaves a
queued run that any replica claims. A course with a run already under way keeps its mark, and the
next round tries again, covering every change made meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import ClassVar, Literal, Protocol, get_args

from gpb.handlers.ports import AutoSyncStore, CourseStateStore
from gpb.handlers.refusals import Refused
from gpb.handlers.school_hours import SchoolHours
from gpb.handlers.signals import Wakeup, drain_forever
from gpb.handlers.syncs import Outcome, RunInProgress, RunKind, SyncRequest, SyncRun
from gpb.handlers.timefmt import utcnow

log = logging.getLogger("gpb.sync")

REQUESTED_BY = "automatic"


class AutoMode(StrEnum):
    OFF = "off"
    AFTER_CHANGE = "after_change"
    NIGHTLY = "nightly"


@dataclass(frozen=True)
class NightlyWindow:
    """When nightly runs may happen, in the district's zone; it may cross midnight."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> NightlyWindow:
        start, dash, end = text.partition("-")
        if not dash:
            raise ValueError(f"a nightly window is HH:MM-HH:MM, not {text!r}")
        window = cls(time.fromisoformat(start.strip()), time.fromisoformat(end.strip()))
        if window.start == window.end:
            raise ValueError(f"a nightly window has a length: {text!r}")
        return window

    def contains(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class AutoSyncPolicy:
    allowed: frozenset[AutoMode]
    default: AutoMode
    delay: timedelta
    window: NightlyWindow
    zone: tzinfo
    school: SchoolHours
    max_runs: int  # automatic runs at once across the district, off-peak
    sis_concurrency: int  # IC's limit of calls in flight, off-peak
    max_failures: int

    def effective(self, chosen: AutoMode | None) -> AutoMode:
        """The course's mode: the teacher's choice while the district allows it."""
        return chosen if chosen is not None and chosen in self.allowed else self.default

    def run_limit(self, now: datetime) -> int:
        """Automatic runs at once across the district: IC asks for serial calls in school hours."""
        return 1 if self.school.contains(now) else self.max_runs

    def concurrency(self, now: datetime) -> int:
        """Calls in flight for one automatic run: together they stay within IC's limit."""
        if self.school.contains(now):
            return 1
        return max(1, self.sis_concurrency // self.max_runs)

    def nightly_time(self, chosen: time | None) -> time:
        return chosen if chosen is not None else self.window.start

    def last_slot(self, at: time, now: datetime) -> datetime:
        """The latest moment at or before `now` when the local clock read `at`."""
        local = now.astimezone(self.zone)
        slot = datetime.combine(local.date(), at, self.zone)
        if slot > local:
            slot = datetime.combine(local.date() - timedelta(days=1), at, self.zone)
        return slot.astimezone(UTC)

    def nightly_due(self, at: time, taken: datetime | None, now: datetime) -> datetime | None:
        """The nightly slot to fire now, if any: the latest one, not taken yet, in the window
        still open (a slot missed while gpb was down fires later in the same night)."""
        if not self.window.contains(now.astimezone(self.zone).time()):
            return None
        slot = self.last_slot(at, now)
        if slot < self.last_slot(self.window.start, now):
            return None  # the slot belongs to an earlier night
        if taken is not None and taken >= slot:
            return None
        return slot


@dataclass(frozen=True)
class CourseAutoSync:
    course_id: str
    mode: AutoMode | None = None  # None: the district's default
    nightly_at: time | None = None
    changed_at: datetime | None = None  # the last grade change seen
    covered_at: datetime | None = None  # the change the last automatic run covered
    nightly_slot: datetime | None = None  # the last nightly slot taken

    @property
    def settled_change(self) -> datetime | None:
        """The last change, when no automatic run covered it yet."""
        if self.changed_at is None:
            return None
        if self.covered_at is not None and self.covered_at >= self.changed_at:
            return None
        return self.changed_at


@dataclass(frozen=True)
class Covered:
    """The mark of an after-change round: the change it covers."""

    changed_at: datetime


@dataclass(frozen=True)
class NightlySlot:
    slot: datetime


Mark = Covered | NightlySlot


ChoiceCode = Literal["INVALID_BODY", "AUTO_SYNC_MODE_NOT_ALLOWED", "NIGHTLY_OUTSIDE_WINDOW"]


class InvalidChoice(Refused):
    """A teacher's choice that is no choice, or that the district's policy does not allow."""

    codes: ClassVar[tuple[str, ...]] = get_args(ChoiceCode)

    def __init__(self, code: ChoiceCode, message: str) -> None:
        super().__init__(code, message)


@dataclass(frozen=True)
class CourseChoice:
    """A course's automatic syncs as the teacher sees them."""

    setting: CourseAutoSync
    mode: AutoMode  # in effect
    nightly_at: time
    paused: dict[str, int]  # assignments left out, with their failed runs in a row


class PendingView(Protocol):
    async def counts(self, course_id: str) -> dict[str, int]:
        """Pending grades by assignment."""
        ...


@dataclass
class AutoSyncScheduler:
    store: AutoSyncStore
    pending: PendingView
    courses: CourseStateStore
    policy: AutoSyncPolicy
    on_queued: Callable[[], None] = lambda: None  # wakes the process's runner
    clock: Callable[[], datetime] = utcnow
    round_seconds: float = 30.0
    _wakeup: Wakeup = field(default_factory=Wakeup)

    async def run_forever(self) -> None:
        await drain_forever(self._round_or_idle, self._wakeup, self.round_seconds, "auto syncs")

    async def _round_or_idle(self) -> int:
        await self.round()
        return 0  # a round does all that is due; the next one comes after the pause

    async def round(self) -> list[SyncRun]:
        """Queues every automatic run due now; returns them."""
        now = self.clock()
        queued: list[SyncRun] = []
        if AutoMode.AFTER_CHANGE in self.policy.allowed:
            for course in await self.store.settled(now - self.policy.delay):
                if self.policy.effective(course.mode) is not AutoMode.AFTER_CHANGE:
                    continue
                change = course.settled_change
                if change is not None:
                    queued += await self._start(course.course_id, RunKind.AUTO, Covered(change))
        if AutoMode.NIGHTLY in self.policy.allowed:
            for course in await self.store.every_course():
                if self.policy.effective(course.mode) is not AutoMode.NIGHTLY:
                    continue
                at = self.policy.nightly_time(course.nightly_at)
                slot = self.policy.nightly_due(at, course.nightly_slot, now)
                if slot is not None:
                    queued += await self._start(
                        course.course_id, RunKind.NIGHTLY, NightlySlot(slot)
                    )
        if queued:
            self.on_queued()
        return queued

    async def _start(self, course_id: str, kind: RunKind, mark: Mark) -> list[SyncRun]:
        assignment_ids = await self.assignments_to_send(course_id)
        if not assignment_ids:
            await self.store.take(course_id, mark)
            return []
        request = SyncRequest(course_id, kind, False, tuple(assignment_ids), REQUESTED_BY)
        try:
            run = await self.store.queue(request, mark, self.clock())
        except RunInProgress:
            return []  # the mark stays: the next round covers this change too
        if run is None:
            return []
        log.info("%s run %s queued for course %s", kind.value, run.id, course_id)
        return [run]

    async def assignments_to_send(self, course_id: str) -> list[str]:
        """The assignments with pending grades, when at least one of them is eligible: blocked
        ones go along so that the run reports them; paused ones stay out until the teacher acts."""
        counts = await self.pending.counts(course_id)
        if not counts:
            return []
        paused = await self.paused(course_id)
        state = await self.courses.course_state(course_id)
        wanted = [a for a in sorted(counts, key=int) if a not in paused]
        if not any(a in state.assignments and state.assignments[a].eligible for a in wanted):
            return []
        return wanted

    async def choice(self, course_id: str) -> CourseChoice:
        setting = await self.store.course_setting(course_id)
        failures = await self.store.failures(course_id)
        return CourseChoice(
            setting,
            self.policy.effective(setting.mode),
            self.policy.nightly_time(setting.nightly_at),
            {a: n for a, n in failures.items() if n >= self.policy.max_failures},
        )

    async def choose_as_written(
        self, course_id: str, mode: str | None, nightly_at: str | None
    ) -> CourseChoice:
        """The choice as the API's body or the sync page's form writes it: a mode's name, a
        time of day as HH:MM (None: the district's default); raises InvalidChoice."""
        if mode is not None and mode not in AutoMode._value2member_map_:
            raise InvalidChoice("INVALID_BODY", "choose off, after each change or nightly")
        try:
            at = time.fromisoformat(nightly_at) if nightly_at else None
        except ValueError:
            raise InvalidChoice("INVALID_BODY", "nightly_at is a time of day, HH:MM") from None
        return await self.choose(course_id, AutoMode(mode) if mode else None, at)

    async def choose(
        self, course_id: str, mode: AutoMode | None, nightly_at: time | None
    ) -> CourseChoice:
        """The teacher's choice (None: the district's default); raises InvalidChoice."""
        if mode is not None and mode not in self.policy.allowed:
            allowed = ", ".join(sorted(m.value for m in self.policy.allowed))
            raise InvalidChoice(
                "AUTO_SYNC_MODE_NOT_ALLOWED", f"the district allows only these modes: {allowed}"
            )
        if nightly_at is not None and not self.policy.window.contains(nightly_at):
            raise InvalidChoice(
                "NIGHTLY_OUTSIDE_WINDOW",
                f"a nightly time falls in the district's window {self.policy.window}",
            )
        await self.store.choose(course_id, mode, nightly_at, self.clock())
        return await self.choice(course_id)

    async def courses_by_mode(self) -> dict[AutoMode, list[str]]:
        """Which courses use which mode, as the district's admins see it."""
        by_mode: dict[AutoMode, list[str]] = {mode: [] for mode in AutoMode}
        for course_id, chosen in await self.store.modes():
            by_mode[self.policy.effective(chosen)].append(course_id)
        return by_mode

    async def paused(self, course_id: str) -> set[str]:
        failures = await self.store.failures(course_id)
        return {a for a, count in failures.items() if count >= self.policy.max_failures}

    async def after_run(self, run: SyncRun) -> None:
        """Counts automatic runs' failures per assignment; a run a person started that sends an
        assignment without failure is the teacher acting: its count starts again."""
        if run.dry_run or run.kind is RunKind.UNDO or run.report is None:
            return
        failed: set[str] = set()
        sent: set[str] = set()
        for grade in run.report.get("grades", []):
            if grade["outcome"] == Outcome.FAILED.value:
                failed.add(grade["assignment_id"])
            elif grade["outcome"] in (Outcome.SENT.value, Outcome.DELETED.value):
                sent.add(grade["assignment_id"])
        succeeded = sorted(sent - failed)
        if not run.kind.automatic:
            failed = set()
        if failed or succeeded:
            await self.store.count_failures(run.course_id, sorted(failed), succeeded)
