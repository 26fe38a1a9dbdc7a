from dataclasses import replace

from fakes import grade

from gpb.handlers.grades import GradeStored
from gpb.infra.store.store import SqlStore


async def test_a_grade_is_stored_and_read_back_whole(store: SqlStore) -> None:
    stored = replace(
        grade("1201", 9.5, late=True, state_time_ms=2_000),
        student_sis_id="S1201",
        field_times={"late": 1_000},
    )
    await store.apply([GradeStored(stored)])
    assert await store.grades.grade("456", "124", "1201") == stored
    assert await store.grades.grades("456") == [stored]
    assert await store.grades.grade("456", "124", "9999") is None
    assert await store.grades.grades("789") == []


async def test_an_older_write_keeps_the_newer_fields_it_meets(store: SqlStore) -> None:
    newer = replace(grade("1201", 9.0, state_time_ms=2_000), student_sis_id="S1201")
    await store.apply([GradeStored(newer)])
    await store.apply([GradeStored(grade("1201", 5.0, late=True, state_time_ms=1_000))])
    assert await store.grades.grade("456", "124", "1201") == newer
