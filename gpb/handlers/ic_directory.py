"""What IC knows of the classes behind a course's sections, cached for a short while.

Categories change rarely and IC asks for gentle use, so answers are kept for
`GPB_SIS_CATEGORY_CACHE_SECONDS`. Failures are not cached: the next event asks again, and until
then the rules say `CATEGORY_UNVERIFIED` rather than guess.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from gpb.handlers.eligibility import IcClassFound, IcClassMissing, IcKnowledge, IcUnverified
from gpb.handlers.errors import SisError
from gpb.handlers.ports import Sis

log = logging.getLogger("gpb.ic")


class IcDirectory:
    def __init__(
        self,
        sis: Sis,
        *,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sis = sis
        self._ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[str, tuple[float, IcKnowledge]] = {}

    async def knowledge(self, class_ids: Iterable[str]) -> dict[str, IcKnowledge]:
        return {class_id: await self._one(class_id) for class_id in dict.fromkeys(class_ids)}

    async def _one(self, class_id: str) -> IcKnowledge:
        cached = self._cache.get(class_id)
        now = self._clock()
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        known = await self._ask(class_id)
        if not isinstance(known, IcUnverified):
            self._cache[class_id] = (now, known)
        return known

    async def _ask(self, class_id: str) -> IcKnowledge:
        try:
            ic_class = await self._sis.get_class(class_id)
            if ic_class is None:
                return IcClassMissing()
            categories = await self._sis.list_categories(class_id)
        except SisError as exc:
            log.warning("IC could not be asked about class %s: %s", class_id, exc)
            return IcUnverified(exc)
        return IcClassFound(ic_class, tuple(categories))
