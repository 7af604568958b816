"""schemathesis hooks for the order API's contract test (tests/contract/main.rs).

They make generated requests realistic where the OpenAPI document cannot say
what a valid value is, and leave alone whatever schemathesis broke on
purpose in its negative cases:

- `Idempotency-Key`: a fresh UUID per request. A key reused with another body
  is a 422 by design (the document says so), and generated keys repeat.
- `items[].sku`: SKUs of the catalog the test seeded (CONTRACT_SKUS, comma
  separated) in place of well-formed generated ones, so a valid order can be
  placed at all (an unknown SKU is a 422 by design), and an invalid one is
  rejected for what schemathesis broke, not for its SKU. Valid bodies drop
  the lines beyond the catalog's size (still >= 1 line).
- `cursor`: only a `nextCursor` a response of the same list returned (a
  made-up cursor is a 400 by design): valid requests page with one of those
  when there is one, and generated cursors are removed.

Nothing here makes a check pass that the handler would fail on its own: the
status codes, media types, schemas and links are checked as generated.
"""

import os
import random
import re
import uuid

import schemathesis
from schemathesis.core.parameters import ParameterLocation

RNG = random.Random(7)
CATALOG = [sku for sku in os.environ.get("CONTRACT_SKUS", "").split(",") if sku]
# The `nextCursor`s responses returned, by path template (one list each).
SEEN_CURSORS = {}
# The document's Sku pattern.
SKU = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _is_negative_at(case, location):
    return case.meta is not None and case.meta.is_negative_at(location)


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.headers and "Idempotency-Key" in case.headers:
        if not _is_negative_at(case, ParameterLocation.HEADER):
            case.headers["Idempotency-Key"] = str(uuid.uuid4())
    if case.query and "cursor" in case.query:
        # Valid or not, a made-up cursor would be rejected for itself (400
        # invalid-cursor) and hide what else the request got wrong; a valid
        # request pages with a cursor this list really returned, if any.
        seen = sorted(SEEN_CURSORS.get(case.path, ()))
        if seen and not _is_negative_at(case, ParameterLocation.QUERY):
            case.query["cursor"] = RNG.choice(seen)
        elif case.query["cursor"] not in seen:
            del case.query["cursor"]
    body = case.body
    if CATALOG and isinstance(body, dict) and isinstance(body.get("items"), list):
        _use_catalog_skus(body, negative=_is_negative_at(case, ParameterLocation.BODY))


def _use_catalog_skus(body, negative):
    """Puts catalog SKUs on the lines whose SKU is well-formed.

    A valid body also loses the lines the catalog cannot fill with distinct
    SKUs. An invalid body keeps its lines and every malformed SKU, so what
    made it invalid stays, and an unknown SKU never hides it behind a 422.
    """
    lines = body["items"]
    if not negative:
        lines = lines[: len(CATALOG)]
        body["items"] = lines
    well_formed = [
        line
        for line in lines
        if isinstance(line, dict)
        and isinstance(line.get("sku"), str)
        and SKU.fullmatch(line["sku"])
    ]
    for line, sku in zip(well_formed, RNG.sample(CATALOG, min(len(well_formed), len(CATALOG)))):
        line["sku"] = sku


@schemathesis.hook
def after_call(context, case, response):
    try:
        document = response.json()
    except Exception:  # not JSON: nothing to remember
        return
    if isinstance(document, dict) and isinstance(document.get("nextCursor"), str):
        SEEN_CURSORS.setdefault(case.path, set()).add(document["nextCursor"])
