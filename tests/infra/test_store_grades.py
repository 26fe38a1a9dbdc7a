from datetime import UTC, datetime

from gpb.handlers.grades import Grade, GradeStored, GradeValue
from gpb.infra.store.store import SqlStore

GRADED = datetime(2024, 10, 22, 9, 31, 18, 7000, tzinfo=UTC)


def grade(value: GradeValue, at: int, **fields: object) -> Grade:
    return Grade("456", "123", "1201", value, state_time_ms=at, **fields)  # type: ignore[arg-type]


async def test_a_grade_is_stored_and_read_back_whole(store: SqlStore) -> None:
    stored = grade(
        GradeValue(9.5, "9.5", late=True, posted=True),
        2_000,
        student_sis_id="S1201",
        graded_at=GRADED,
        field_times={"late": 1_000},
    )
    await store.apply([GradeStored(stored)])
    assert await store.grades.grade("456", "123", "1201") == stored
    assert await store.grades.grades("456") == [stored]
    assert await store.grades.grade("456", "123", "9999") is None
    assert await store.grades.grades("789") == []


async def test_an_older_write_keeps_the_newer_fields_it_meets(store: SqlStore) -> None:
    await store.apply([GradeStored(grade(GradeValue(9.0, "9"), 2_000, student_sis_id="S1201"))])
    await store.apply([GradeStored(grade(GradeValue(5.0, "5", late=True), 1_000))])
    held = await store.grades.grade("456", "123", "1201")
    assert held is not None
    assert (held.value.score, held.value.grade, held.student_sis_id) == (9.0, "9", "S1201")
