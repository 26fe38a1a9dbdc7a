"""A second SIS: gpb reaches its SIS only through the `Sis` port (gpb/handlers/ports.py), so
another one is an adapter handed to `create_app` / `build_services` in place of the OneRoster
client. Here a gradebook kept in memory takes the sync that IC would have got."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from running_gpb import grade, sandboxed_gpb, start

from gpb.handlers.model import IcCategory, IcClass, IcRecord, IcTerm, LineItem, RecordKind, Result

YEAR = IcTerm("Y-2027", "2026-27", date(2026, 8, 1), date(2027, 7, 1), "schoolYear")
SEMESTERS = (
    IcTerm("S1", "Semester 1", date(2026, 8, 1), date(2027, 1, 16), "gradingPeriod"),
    IcTerm("S2", "Semester 2", date(2027, 1, 16), date(2027, 7, 1), "gradingPeriod"),
)


class MemoryGradebook:
    """The sandbox course's two sections (SEC-7, SEC-8) with their categories; keeps what gpb
    writes. Every method of the port, nothing else."""

    def __init__(self) -> None:
        self.records: dict[str, IcRecord] = {}

    async def get_class(self, class_id: str) -> IcClass | None:
        if class_id not in ("SEC-7", "SEC-8"):
            return None
        return IcClass(class_id, f"Algebra I {class_id}", "SCH-1", (YEAR,), SEMESTERS)

    async def list_categories(self, class_id: str) -> list[IcCategory]:
        names = ("Homework", "Tests", "Quizzes")
        return [IcCategory(f"{class_id}-{name}", name) for name in names]

    async def put_line_item(self, line_item: LineItem) -> None:
        self.records[line_item.sourced_id] = IcRecord(
            "lineItem", line_item.sourced_id, {}, line_item
        )

    async def put_result(self, result: Result) -> None:
        self.records[result.sourced_id] = IcRecord("result", result.sourced_id, {}, result)

    async def delete_result(self, sourced_id: str) -> None:
        self.records.pop(sourced_id, None)

    async def get_result(self, sourced_id: str) -> Result | None:
        record = self.records.get(sourced_id)
        return record.value if record and isinstance(record.value, Result) else None

    async def read_record(self, kind: RecordKind, sourced_id: str) -> IcRecord | None:
        return self.records.get(sourced_id)

    async def read_results_of(self, class_id: str, line_item_id: str) -> list[IcRecord]:
        return [
            r
            for r in self.records.values()
            if isinstance(r.value, Result) and r.value.line_item_id == line_item_id
        ]

    async def restore_record(self, record: IcRecord) -> None:
        self.records[record.sourced_id] = record

    async def delete_line_item(self, sourced_id: str) -> None:
        self.records.pop(sourced_id, None)


async def test_a_sync_reaches_a_second_sis_given_to_the_bootstrap(tmp_path: Path) -> None:
    gradebook = MemoryGradebook()
    async with sandboxed_gpb(tmp_path, sis=gradebook) as env:
        await env.handled(await env.post("assignment_created", assignment_id="10000000000124"))
        await grade(env, "124", "1201", 9.5, "2026-11-02T10:00:00.000Z")
        run = await start(env, kind="sync", assignment_ids=["124"])
        assert run["status"] == "succeeded", run["errors"]
        result = gradebook.records["canvas-a124-s7-u1201"].value
        assert isinstance(result, Result)
        assert (result.score, result.student_sis_id) == (9.5, "S-102938")
        line_item = gradebook.records["canvas-a124-s7"].value
        assert isinstance(line_item, LineItem)
        assert (line_item.class_id, line_item.category_id) == ("SEC-7", "SEC-7-Homework")
        assert env.sandbox.state.ic.writes == []  # the sandbox's IC was never written to
