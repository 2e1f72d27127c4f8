"""The one DynamoDB paging loop (`steward.adapters.aws.DynamoTable._pages`), as the stores use it:
every page is read, and the audit query stops once its page is full (a filter thins pages out)."""

from __future__ import annotations

from typing import Any

from steward.adapters.audit_store import DynamoAuditStore
from steward.adapters.policy_store import DynamoPolicyStore
from steward.audit.chain import AuditChain

CHAIN = AuditChain(lambda: b"pages-test-pepper-0123456789abcdef")


class PagedClient:
    """A DynamoDB client answering ``query`` with canned pages, recording each request."""

    def __init__(self, pages: list[list[dict[str, Any]]]) -> None:
        self.pages = pages
        self.requests: list[dict[str, Any]] = []

    def query(self, **request: Any) -> dict[str, Any]:
        self.requests.append(dict(request))
        n = len(self.requests) - 1
        page: dict[str, Any] = {"Items": self.pages[n]}
        if n + 1 < len(self.pages):
            page["LastEvaluatedKey"] = {"tenant_id": {"S": "acme"}, "sk": {"S": f"after-{n}"}}
        return page


def audit_item(sk: str) -> dict[str, Any]:
    return {"tenant_id": {"S": "acme"}, "sk": {"S": sk}, "key_id": {"S": "k1"}}


def test_an_audit_page_reads_on_through_thinned_pages_and_asks_only_for_what_is_missing() -> None:
    client = PagedClient([[audit_item("s1")], [], [audit_item("s2"), audit_item("s3")], [audit_item("s4")]])
    store = DynamoAuditStore("audit", region="us-east-1", chain=CHAIN, client=client)

    records, next_sk = store.query("acme", limit=3, after_sk=None, key_id="k1")

    assert [r["sk"] for r in records] == ["s1", "s2", "s3"] and next_sk == "s3"
    assert [r["Limit"] for r in client.requests] == [3, 2, 2]  # the fourth page is never read
    assert "ExclusiveStartKey" not in client.requests[0]
    assert client.requests[2]["ExclusiveStartKey"]["sk"] == {"S": "after-1"}


def test_the_last_page_ends_the_trail_without_a_cursor() -> None:
    client = PagedClient([[audit_item("s1")], [audit_item("s2")]])
    store = DynamoAuditStore("audit", region="us-east-1", chain=CHAIN, client=client)

    records, next_sk = store.query("acme", limit=5, after_sk=None, key_id=None)

    assert [r["sk"] for r in records] == ["s1", "s2"] and next_sk is None and len(client.requests) == 2


def test_a_listing_reads_every_page() -> None:
    document = '{"version": 1, "tenant_id": "acme", "entities": {}}'
    client = PagedClient([[{"document": {"S": document}}], [], [{"document": {"S": document}}]])
    store = DynamoPolicyStore("policies", region="us-east-1", client=client)

    assert len(store.list_policies("acme")) == 2 and len(client.requests) == 3
