"""What the review queue is stored in (`steward.adapters.review_store.DynamoReviewStore`).

Every state change is one conditional write, so concurrent reviewers and concurrent flagged
requests are decided by the store, never by a read followed by a write: of two claims, exactly
one lands; an item and the marks of its texts are created together, and only where no live mark
exists yet; a resolution lands only while the resolver holds the claim.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from steward.review.model import Mark, ReviewItem, State


class MarkTaken(Exception):
    """A text's mark was created by another request first: nothing was written."""


class ReviewStore(Protocol):
    def create(self, item: ReviewItem, sealed: bytes, marks: Sequence[Mark], *, now: int) -> None:
        """Store ``item``, its sealed texts and ``marks`` atomically; each mark only where the
        text has no live mark (else `MarkTaken`, and nothing is stored)."""
        ...

    def marks(self, tenant_id: str, macs: Sequence[str]) -> list[Mark]:
        """The stored marks of these MACs (strongly consistent; expired ones included)."""
        ...

    def get(self, tenant_id: str, review_id: str) -> ReviewItem | None:
        """One item of the tenant (strongly consistent)."""
        ...

    def find(self, review_id: str) -> ReviewItem | None:
        """An item of any tenant, by id (operators and platform admins)."""
        ...

    def sealed(self, tenant_id: str, review_id: str) -> bytes | None:
        """The item's sealed texts."""
        ...

    def queue(
        self, tenant_id: str, state: State, *, after: str | None, newest_first: bool, page: int
    ) -> Iterator[ReviewItem]:
        """The tenant's items stored in ``state``, by ``queued_at`` (after the cursor), read
        ``page`` at a time, lazily."""
        ...

    def every_queue(self, states: Sequence[State]) -> Iterator[ReviewItem]:
        """Every tenant's items stored in one of ``states``, in no order (a full read: operators)."""
        ...

    def claim(self, tenant_id: str, review_id: str, *, by: str, until: int, now: int) -> bool:
        """Give the item to ``by`` until ``until`` if it is unexpired, not resolved, and not held
        by another reviewer's live claim; False (nothing written) otherwise."""
        ...

    def resolve(self, item: ReviewItem, marks: Sequence[Mark], *, now: int) -> bool:
        """Write ``item`` as resolved and its texts' ``marks``, atomically, if the stored item is
        unexpired and still claimed by ``item.resolved_by``; False (nothing written) otherwise."""
        ...
