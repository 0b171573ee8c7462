"""Find the DescribeDBInstances entries of given ids, right under every reading of a list of ids.

Why this is its own module: nothing public says what DescribeDBInstances does with several
comma-separated ids in ``DBInstanceId`` (its API page says "The ID of the instance"). It may honour the
list, answer only the first id, ignore the filter and page through the region, take the whole string as
one id (an empty answer), or refuse the call. A reader that marked every id missing from a batched
answer ``not_found`` would, under all but the first reading, report a whole fleet as gone.

The rules, which hold under every reading:

1. A batched answer is trusted only for the items whose ``DBInstanceId`` was asked for. An answer with
   instances nobody asked for (or a ``TotalRecordCount`` above the number of ids) shows the filter was
   ignored.
2. The first batch of a region is sent alone. Only if it comes back with two or more of its ids and
   nothing else (the list was honoured) are the region's other batches sent the same way.
3. Ids still missing are looked for again, by whichever costs fewer calls: one DescribeDBInstances per id
   when there are few (at most :data:`SINGLE_READS`) and the filter is not known to be ignored;
   DescribeDBInstanceAttribute per id when there are few and it is (the one documented single-instance
   read); otherwise by listing the region's PostgreSQL instances (``Engine=PostgreSQL``, ``PageSize=100``,
   every page up to ``TotalRecordCount``, pages after the first in parallel). After the first listing
   page the choice is made again: if fewer ids are missing than pages are left, they are read one by one.
4. ``not_found`` is only ever the answer of DescribeDBInstanceAttribute for that one id
   (``InvalidDBInstanceId.NotFound``). An id that no listing could settle (a page failed) is ``error``.

So a region of N declared instances costs at most ``ceil(N/100)`` batched calls plus the region's list
pages, and per instance at most one extra call (the attribute read of an instance that turns out to be
missing or of another engine, which then gets no SSL reads): within "2 calls per instance plus pages".

What the batched answers showed is kept as a :class:`RegionObservation`, so the CLI can tell the user
which reading it met, and ``probe`` can report it.

Every id's entry is final the moment it is found (rule 1: only asked-for ids are trusted, each id is in
one batch, and later reads only look for ids still missing), so a caller may act on it at once: the
``on_found`` hook is called once per found id, as soon as its answer is in, while the region's other
reads go on. ``read_fleet`` uses it to start an instance's SSL reads while later list pages are still in
flight. Only *found* is ever reported early; ``missing`` and ``errors`` are known only at the end.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Future, as_completed
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from typing import Protocol, TypeVar

from rdsssl_reconcile.cloud.port import MAX_PAGE_SIZE, NOT_FOUND_CODES, RawBody, ReadOnlyCloudClient
from rdsssl_reconcile.errors import CloudError

T = TypeVar("T")

#: Ids per batched DescribeDBInstances (its largest page).
BATCH = MAX_PAGE_SIZE
#: At most this many missing ids are read one by one without first trying a region listing.
SINGLE_READS = 8
#: The engine this tool manages, as DescribeDBInstances spells it.
ENGINE = "PostgreSQL"


class Submit(Protocol):
    def __call__(self, call: Callable[[], T], /) -> Future[T]: ...


#: Called once per found id with its entry, as soon as it is found (see the module docstring).
OnFound = Callable[[str, RawBody], None]


def _ignore_found(instance_id: str, item: RawBody) -> None:
    return None


def run_inline(call: Callable[[], T]) -> Future[T]:
    """A :class:`Submit` that runs the call at once (single-instance reads need no pool)."""
    future: Future[T] = Future()
    try:
        future.set_result(call())
    except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future, as a pool would
        future.set_exception(exc)
    return future


class MultiIdReading(Enum):
    """How DescribeDBInstances read a comma-separated ``DBInstanceId``, as far as the answers show."""

    ACCEPTED = "list"  # two or more ids answered, nothing else, and none of the missing ones exists
    FIRST_ONLY = "first"  # only the first id answered, and others exist
    IGNORED = "ignored"  # instances nobody asked for came back: the filter was ignored
    LITERAL = "literal"  # nothing came back, and some of the ids exist: the list was read as one id
    REFUSED = "error"  # the call with several ids failed
    SUBSET = "subset"  # some ids answered, others that exist did not
    UNDETERMINED = "undetermined"  # nothing tells: one id per call, or no other id exists


@dataclass(frozen=True, slots=True)
class RegionObservation:
    """What one region's reads showed about multi-id DescribeDBInstances, and what it cost."""

    region: str
    reading: MultiIdReading
    ids: int
    batched_calls: int = 0
    single_reads: int = 0
    list_pages: int = 0
    attribute_reads: int = 0
    first_answer_ids: int = 0
    error_code: str | None = None

    @property
    def fallback(self) -> str | None:
        parts = []
        if self.list_pages:
            parts.append(f"listed the region's PostgreSQL instances ({self.list_pages} page{_s(self.list_pages)})")
        if self.single_reads:
            parts.append(f"read {self.single_reads} id{_s(self.single_reads)} one by one")
        if self.attribute_reads:
            parts.append(f"read {self.attribute_reads} with DescribeDBInstanceAttribute")
        return "; ".join(parts) or None

    def note(self) -> str | None:
        """One line for stderr when the reading is not the plain list (None otherwise)."""
        what = {
            MultiIdReading.FIRST_ONLY: "DescribeDBInstances answered only the first of several ids",
            MultiIdReading.IGNORED: "DescribeDBInstances ignored the id list",
            MultiIdReading.LITERAL: "DescribeDBInstances found nothing for a list of existing ids "
            "(it read the list as one id)",
            MultiIdReading.REFUSED: f"DescribeDBInstances refused a list of ids ({self.error_code})",
            MultiIdReading.SUBSET: "DescribeDBInstances answered only some of several ids",
        }.get(self.reading)
        if what is None:
            return None
        return f"{what} in {self.region}; {self.fallback or 'read the others another way'} instead"

    def to_json(self) -> dict[str, object]:
        return {
            "region": self.region,
            "reading": self.reading.value,
            "ids": self.ids,
            "batched_calls": self.batched_calls,
            "single_reads": self.single_reads,
            "list_pages": self.list_pages,
            "attribute_reads": self.attribute_reads,
            "first_answer_ids": self.first_answer_ids,
            "error_code": self.error_code,
            "note": self.note(),
        }


def _s(count: int) -> str:
    return "" if count == 1 else "s"


@dataclass
class RegionDiscovery:
    """The outcome for one region: an entry per found id, confirmed-missing ids, and errors."""

    found: dict[str, RawBody] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    errors: dict[str, CloudError] = field(default_factory=dict)
    observation: RegionObservation | None = None


def items_of(body: RawBody) -> list[RawBody]:
    entries = (body.get("Items") or {}).get("DBInstance") or []
    return [dict(e) for e in entries if isinstance(e, dict)]


def total_of(body: RawBody) -> int | None:
    try:
        value = int(body.get("TotalRecordCount"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return max(0, value)


def _id(item: RawBody) -> str:
    return str(item.get("DBInstanceId", ""))


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    """One DescribeDBInstances answer to a list of ids, split into what can and cannot be trusted."""

    asked: tuple[str, ...]
    answered: dict[str, RawBody]
    extras: tuple[str, ...]
    total: int | None

    @property
    def filter_ignored(self) -> bool:
        return bool(self.extras) or (self.total is not None and self.total > len(self.asked))

    @property
    def honoured(self) -> bool:
        return not self.filter_ignored and len(self.answered) >= 2


def split_answer(asked: Sequence[str], body: RawBody) -> BatchAnswer:
    wanted = set(asked)
    answered: dict[str, RawBody] = {}
    extras: list[str] = []
    for item in items_of(body):
        instance_id = _id(item)
        if instance_id in wanted:
            answered.setdefault(instance_id, item)
        else:
            extras.append(instance_id)
    return BatchAnswer(asked=tuple(asked), answered=answered, extras=tuple(extras), total=total_of(body))


class _Region:
    """The reads of one region (see the module docstring for the rules)."""

    def __init__(
        self, client: ReadOnlyCloudClient, region: str, ids: Sequence[str], submit: Submit, on_found: OnFound
    ) -> None:
        self.client = client
        self.region = region
        self.ids = list(dict.fromkeys(ids))
        self.submit = submit
        self.on_found = on_found
        self.result = RegionDiscovery()
        self.batched = self.single = self.pages = self.attributes = 0
        self.ignored = False
        self.lacked: set[str] = set()  # ids a batched answer lacked (to tell the reading afterwards)
        self.alone: set[str] = set()  # ids already asked for alone in a DescribeDBInstances

    # -- calls ---------------------------------------------------------------------------------------

    def _batch(self, ids: Sequence[str]) -> RawBody:
        return self.client.describe_instances_page(self.region, instance_ids=ids, page_size=BATCH)

    def _list_page(self, number: int) -> RawBody:
        return self.client.describe_instances_page(
            self.region, engine=ENGINE, page_number=number, page_size=MAX_PAGE_SIZE
        )

    # -- steps ---------------------------------------------------------------------------------------

    def run(self) -> RegionDiscovery:
        chunks = [self.ids[i : i + BATCH] for i in range(0, len(self.ids), BATCH)]
        if not chunks:
            return self.result
        first = chunks[0]
        first_error: CloudError | None = None
        first_answer: BatchAnswer | None = None
        self.batched += 1
        try:
            # Through `submit` like every other call, so that the pool's size bounds all calls in flight.
            first_answer = split_answer(first, self.submit(partial(self._batch, first)).result())
        except CloudError as exc:
            first_error = exc
        if first_answer is not None:
            futures: dict[Future[RawBody], list[str]] = {}
            if first_answer.honoured and len(chunks) > 1:
                # Sent before the first answer's ids are handed on: the rest of the list comes first.
                futures = {self.submit(partial(self._batch, chunk)): chunk for chunk in chunks[1:]}
                self.batched += len(futures)
            self._take(first_answer)
            for future in as_completed(futures):
                try:
                    self._take(split_answer(futures[future], future.result()))
                except CloudError:
                    continue  # its ids are read again below
        if len(first) == 1:
            self.alone.add(first[0])
            if first_error is not None and first_error.code not in NOT_FOUND_CODES:
                # One id, asked alone, and the call failed (transient errors were retried already):
                # no other reading to rule out, so the error is the answer.
                self.result.errors[first[0]] = first_error
        missing = [i for i in self.ids if i not in self.result.found and i not in self.result.errors]
        if missing:
            self._resolve(missing, cause=first_error)
        self.result.observation = self._observe(first, first_answer, first_error)
        return self.result

    def _take(self, answer: BatchAnswer) -> None:
        self.ignored = self.ignored or answer.filter_ignored
        for instance_id, item in answer.answered.items():
            self._found(instance_id, item)
        if len(answer.asked) > 1:
            self.lacked.update(i for i in answer.asked if i not in answer.answered)

    def _found(self, instance_id: str, item: RawBody) -> None:
        """Record an id's entry (the first one found is final) and hand it on at once."""
        if instance_id in self.result.found:
            return
        self.result.found[instance_id] = item
        self.on_found(instance_id, item)

    def _resolve(self, missing: list[str], *, cause: CloudError | None) -> None:
        if len(missing) <= SINGLE_READS:
            if self.ignored:
                self._attributes(missing)
            else:
                self._singles(missing)
            return
        self._list_region(missing, cause=cause)

    def _singles(self, ids: Sequence[str]) -> None:
        """One DescribeDBInstances per id; what none of them settles goes to DescribeDBInstanceAttribute."""
        unsettled = [i for i in ids if i in self.alone]  # asked alone already: no point asking again
        futures = [(i, self.submit(partial(self._batch, [i]))) for i in ids if i not in self.alone]
        self.single += len(futures)
        self.alone.update(i for i, _ in futures)
        for instance_id, future in futures:
            try:
                answer = split_answer([instance_id], future.result())
            except CloudError:
                unsettled.append(instance_id)
                continue
            self.ignored = self.ignored or answer.filter_ignored
            if instance_id in answer.answered:
                self._found(instance_id, answer.answered[instance_id])
            else:
                unsettled.append(instance_id)
        if unsettled:
            self._attributes(unsettled)

    def _attributes(self, ids: Sequence[str]) -> None:
        """DescribeDBInstanceAttribute per id: the only answer that makes an id ``not_found``."""
        futures = [(i, self.submit(partial(self.client.describe_instance, self.region, i))) for i in ids]
        self.attributes += len(futures)
        for instance_id, future in futures:
            try:
                item = future.result()
            except CloudError as exc:
                if exc.code in NOT_FOUND_CODES:
                    self.result.missing.add(instance_id)
                else:
                    self.result.errors[instance_id] = exc
                continue
            if _id(item) == instance_id:
                self._found(instance_id, item)
            else:
                self.result.missing.add(instance_id)

    def _list_region(self, missing: list[str], *, cause: CloudError | None) -> None:
        wanted = set(missing)
        self.pages += 1
        try:
            first = self.submit(partial(self._list_page, 1)).result()
        except CloudError as exc:
            for instance_id in missing:
                self.result.errors[instance_id] = cause or exc
            return
        self._take_listed(first, wanted)
        total = total_of(first)
        page_count = math.ceil(total / MAX_PAGE_SIZE) if total is not None else 1
        left = [i for i in missing if i not in self.result.found]
        if not left:
            return
        if len(left) < page_count - 1 and not self.ignored:
            self._singles(left)  # fewer ids than pages: one by one is cheaper
            return
        if len(left) < page_count - 1:
            self._attributes(left)
            return
        futures = [self.submit(partial(self._list_page, n)) for n in range(2, page_count + 1)]
        self.pages += len(futures)
        failure: CloudError | None = None
        for future in futures:
            try:
                self._take_listed(future.result(), wanted)
            except CloudError as exc:
                failure = failure or exc
        left = [i for i in missing if i not in self.result.found]
        if failure is not None:
            for instance_id in left:
                self.result.errors[instance_id] = failure  # an incomplete listing proves nothing
            return
        # Absent from a complete listing: missing, or not PostgreSQL (the listing filters on Engine).
        self._attributes(left)

    def _take_listed(self, body: RawBody, wanted: set[str]) -> None:
        for item in items_of(body):
            instance_id = _id(item)
            if instance_id in wanted:
                self._found(instance_id, item)

    # -- what it showed ------------------------------------------------------------------------------

    def _observe(self, first: Sequence[str], answer: BatchAnswer | None, error: CloudError | None) -> RegionObservation:
        exists = set(self.result.found)
        if len(first) > 1 and error is not None:
            reading = MultiIdReading.REFUSED
        elif self.ignored and len(first) > 1:
            reading = MultiIdReading.IGNORED
        elif len(first) < 2 or answer is None:
            reading = MultiIdReading.IGNORED if self.ignored else MultiIdReading.UNDETERMINED
        elif not self.lacked & exists:
            reading = MultiIdReading.ACCEPTED if answer.honoured else MultiIdReading.UNDETERMINED
        elif not answer.answered:
            reading = MultiIdReading.LITERAL
        elif set(answer.answered) == {first[0]}:
            reading = MultiIdReading.FIRST_ONLY
        else:
            reading = MultiIdReading.SUBSET
        return RegionObservation(
            region=self.region,
            reading=reading,
            ids=len(self.ids),
            batched_calls=self.batched,
            single_reads=self.single,
            list_pages=self.pages,
            attribute_reads=self.attributes,
            first_answer_ids=len(answer.answered) if answer else 0,
            error_code=error.code if error is not None and len(first) > 1 else None,
        )


def discover_region(
    client: ReadOnlyCloudClient,
    region: str,
    ids: Sequence[str],
    *,
    submit: Submit = run_inline,
    on_found: OnFound = _ignore_found,
) -> RegionDiscovery:
    """The DescribeDBInstances (or DescribeDBInstanceAttribute) entry of every id in ``ids``.

    ``on_found`` is called (in the thread that waits for the answer) once per found id, as soon as it
    is found; the returned ``found`` holds the same entries.
    """
    return _Region(client, region, ids, submit, on_found).run()
