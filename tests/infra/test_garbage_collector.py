import gc

from gpb.infra.garbage_collector import YOUNG_THRESHOLD, tuned_for_serving


def test_serving_freezes_start_up_objects_and_collects_the_young_less_often() -> None:
    before = gc.get_threshold()
    with tuned_for_serving():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cyclic_garbage_made_while_serving_is_still_collected() -> None:
    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    with tuned_for_serving():
        first, second = Node(), Node()
        first.other, second.other = second, first
        ids = {id(first), id(second)}
        del first, second
        gc.collect()
        assert not ids & {id(o) for o in gc.get_objects() if isinstance(o, Node)}
