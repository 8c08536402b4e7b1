"""Merging segments: which to merge (a tiered policy, as Lucene's) and the merge itself.

Segments are sorted into tiers by their live chunks (tier ``t`` holds sizes in
``[floor * factor**t, floor * factor**(t + 1))``). When a tier holds ``factor`` segments,
those are merged into one of the next tier, as long as the result stays within
``largest`` chunks. A segment that has lost more than a third of its chunks to deletions is
rewritten alone. One merge at a time: a write never does more than its own size in merging,
plus one bounded merge. :func:`merge` runs the policy on a write's draft and rewrites the
chosen segments as one, without their deleted documents (Tantivy's ``merger``).

Example:
    >>> policy = MergePolicy(factor=3, floor=10, largest=1000)
    >>> policy.plan({"s1": 12, "s2": 15, "s3": 11, "s4": 500}, {})
    ['s1', 's2', 's3']
    >>> policy.plan({"s1": 12, "s2": 15}, {})
    []
    >>> MergePolicy(factor=3, floor=10, largest=30).plan({"a": 12, "b": 15, "c": 11}, {})
    ['a', 'c']
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from indexer.draft import Draft
from indexer.report import BuildReport

# A segment with more than this share of its chunks deleted is rewritten without them.
DELETED_SHARE = 1 / 3


@dataclass(frozen=True)
class MergePolicy:
    factor: int = 10
    floor: int = 1000
    largest: int = 250_000

    def tier(self, chunks: int) -> int:
        """The tier of a segment of ``chunks`` live chunks (0 for the smallest)."""
        if chunks < self.floor:
            return 0
        return int(math.log(chunks / self.floor, self.factor) + 1e-9)

    def plan(self, live: dict[str, int], deleted: dict[str, int]) -> list[str]:
        """The segments to merge next (by name, in the order given), or none.

        ``live`` gives each segment's live chunks, ``deleted`` its deleted ones.
        """
        tiers: dict[int, list[str]] = {}
        for name, chunks in live.items():
            tiers.setdefault(self.tier(chunks), []).append(name)
        for tier in sorted(tiers):
            if len(tiers[tier]) < self.factor:
                continue
            # The smallest first, as many as fit in the largest size (flushes run a little
            # over their size, so ten of them may not fit: then nine are merged).
            names: list[str] = []
            total = 0
            for name in sorted(tiers[tier], key=lambda n: live[n])[: self.factor]:
                if total + live[name] > self.largest:
                    break
                names.append(name)
                total += live[name]
            if len(names) >= 2:
                return [n for n in live if n in names]
        for name, chunks in live.items():
            gone = deleted.get(name, 0)
            if gone and gone > DELETED_SHARE * (chunks + gone) and chunks <= self.largest:
                return [name]
        return []


def merge(draft: Draft, report: BuildReport, policy: MergePolicy, shards: int) -> None:
    """Run the one merge the policy asks for in each shard, if any."""
    for shard in range(shards):
        entries = [e for e in draft.segments.values() if e.shard == shard]
        live = {e.name: e.live_chunks for e in entries}
        deleted = {e.name: e.deleted_chunks for e in entries}
        names = policy.plan(live, deleted)
        if names:
            merge_segments(draft, report, names, shard)


def merge_segments(draft: Draft, report: BuildReport, names: list[str], shard: int) -> None:
    """Rewrite segments of one shard as one, without their deleted documents."""
    started = time.perf_counter()
    builder = draft.new_builder()
    for name in names:
        entry = draft.segments[name]
        segment = draft.segment(draft.folder(name))
        segment.load_vectors()
        gone = set(entry.deleted)
        for row, doc_id in enumerate(segment.doc_ids):
            if doc_id not in gone:
                builder.add(*segment.processed(row))
        # Done with it: unmapping its files keeps a merge's memory to one segment's.
        draft.release(name)
    stats = draft.stats
    for name in names:
        del draft.segments[name]
    if builder.doc_ids:
        draft.add_segment(builder, shard)
    else:  # every document was deleted: the segments just go
        builder.discard()
    # A merge moves live chunks, it does not change the corpus: keep the statistics.
    draft.stats = stats
    report.merged += len(names)
    report.timed("merge", started)
