"""schemathesis hooks for the order API's contract test (tests/contract/main.rs).

They make generated requests realistic where the OpenAPI document cannot say
what a valid value is, and touch only requests schemathesis means to be
valid (its negative cases are sent as generated):

- `Idempotency-Key`: a fresh UUID per request. A key reused with another body
  is a 422 by design (the document says so), and generated keys repeat.
- `items[].sku`: SKUs of the catalog the test seeded (CONTRACT_SKUS, comma
  separated), so a valid order can be placed at all; an unknown SKU is a 422
  by design. Lines beyond the catalog's size are dropped (still >= 1 line).
- `cursor`: only a `nextCursor` some response returned; a made-up cursor is a
  400 by design. Generated cursors are removed from valid requests.

Nothing here makes a check pass that the handler would fail on its own: the
status codes, media types, schemas and links are checked as generated.
"""

import os
import random
import uuid

import schemathesis
from schemathesis.core.parameters import ParameterLocation

RNG = random.Random(7)
CATALOG = [sku for sku in os.environ.get("CONTRACT_SKUS", "").split(",") if sku]
SEEN_CURSORS = set()


def _is_negative_at(case, location):
    return case.meta is not None and case.meta.is_negative_at(location)


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.headers and "Idempotency-Key" in case.headers:
        if not _is_negative_at(case, ParameterLocation.HEADER):
            case.headers["Idempotency-Key"] = str(uuid.uuid4())
    if case.query and "cursor" in case.query:
        if not _is_negative_at(case, ParameterLocation.QUERY):
            if case.query["cursor"] not in SEEN_CURSORS:
                del case.query["cursor"]
    body = case.body
    if (
        CATALOG
        and isinstance(body, dict)
        and isinstance(body.get("items"), list)
        and not _is_negative_at(case, ParameterLocation.BODY)
    ):
        lines = [line for line in body["items"] if isinstance(line, dict)]
        if len(lines) == len(body["items"]):
            lines = lines[: len(CATALOG)]
            for line, sku in zip(lines, RNG.sample(CATALOG, len(lines))):
                line["sku"] = sku
            body["items"] = lines


@schemathesis.hook
def after_call(context, case, response):
    try:
        document = response.json()
    except Exception:  # not JSON: nothing to remember
        return
    if isinstance(document, dict) and isinstance(document.get("nextCursor"), str):
        SEEN_CURSORS.add(document["nextCursor"])
