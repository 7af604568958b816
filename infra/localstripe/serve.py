"""localstripe, as the local cloud and the `payments` tier run it.

    python serve.py --port 8420

Runs localstripe's aiohttp app (the PyPI package `localstripe`, pinned in
xtask/requirements-localstripe.txt) on 127.0.0.1 only, with nothing written
to or read from disk, and adds in one middleware what Stripe documents and
localstripe lacks:

- Idempotent requests (docs.stripe.com/api/idempotent_requests): a POST with
  an `Idempotency-Key` saves its answer (2xx, and the 402 of a declined
  payment); the same key with the same parameters gets that answer again,
  marked `Idempotent-Replayed: true`, without running twice; the same key
  with other parameters or on another path is a 400 `idempotency_error`;
  while the first request still runs, a second one is a 409
  `idempotency_key_in_use` (docs.stripe.com/error-codes). Stripe forgets a
  key after about 24 hours: `POST /_shim/forget-idempotency-keys` does it now.
- Search (docs.stripe.com/api/payment_intents/search, search query
  language): `GET /v1/payment_intents/search?query=metadata['KEY']:'VALUE'`
  (single or double quotes) answers a `search_result` of the
  PaymentIntents whose metadata KEY equals VALUE, oldest first, each
  exported as a retrieve would. Other query forms are a 400: only this
  clause is implemented.
- Test cards that decline when charged (docs.stripe.com/testing, "declined
  payments"): `pm_card_chargeDeclined`, `pm_card_visa_chargeDeclined`
  (decline code `generic_decline`) and
  `pm_card_chargeDeclinedInsufficientFunds` (`insufficient_funds`) become
  cards localstripe declines at charge time (its 4000000000000341), and a
  402 from creating or confirming a PaymentIntent is given Stripe's shape
  (docs.stripe.com/api/errors): `type: card_error`, `code: card_declined`,
  `decline_code`, `charge`, `payment_method` and `payment_intent` objects.

Test controls, none of them Stripe's:

- `POST /_shim/outage` with `{"status": 503}` (any 4xx/5xx; 503 when left
  out): every /v1/ request answers that status with an `api_error` until
  `DELETE /_shim/outage`.
- `GET /_shim/calls`: `{"calls": N}`, the /v1/ requests received since
  start or the last reset, outage answers and replays included.
- `POST /_shim/reset`: empties localstripe's store and the key cache, sets
  the count to 0 and ends an outage.
"""

import argparse
import json
import logging
import re
import urllib.parse

from aiohttp import web

import localstripe.resources as resources
from localstripe.resources import PaymentMethod, store

# No persistence: localstripe pickles its whole store to
# /tmp/localstripe.pickle on every write and reloads it at start. Every run
# here starts empty, and two instances on one machine share nothing.
resources.Store.dump_to_disk = lambda self: None
resources.Store.try_load_from_disk = lambda self: None

from localstripe.server import app, get_api_key  # noqa: E402 (after the patch)

# --- test cards that decline when charged --------------------------------

# Stripe's test PaymentMethod id -> the decline_code Stripe gives for it.
DECLINE_CODES = {
    "pm_card_chargeDeclined": "generic_decline",
    "pm_card_visa_chargeDeclined": "generic_decline",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
    "pm_card_chargeCustomerFail": "generic_decline",
}
# The one card number localstripe declines when charging, not when attaching.
DECLINED_AT_CHARGE = "4000000000000341"

_canonical_test_article = PaymentMethod._try_get_canonical_test_article


def _test_article(cls, id):
    if id in DECLINE_CODES:
        card = {"number": DECLINED_AT_CHARGE, "exp_month": "12", "exp_year": "2030", "cvc": "123"}
        return PaymentMethod(type="card", card=card)
    return _canonical_test_article(id)


PaymentMethod._try_get_canonical_test_article = classmethod(_test_article)

PAYMENT_INTENT_CALL = re.compile(r"^/v1/payment_intents(/(?P<id>pi_\w+)/confirm)?$")


def stripe_decline(error, intent_id):
    """Stripe's card_error for localstripe's 402 `error` object."""
    intent = store.get("payment_intent:" + intent_id) if intent_id else None
    charge = store.get("charge:" + error["charge"]) if error.get("charge") else None
    if intent is None and charge is not None and charge.payment_intent:
        intent = store.get("payment_intent:" + charge.payment_intent)
    # The PaymentIntent keeps the id it was given (e.g. pm_card_chargeDeclined).
    used = intent.payment_method if intent is not None else None
    decline_code = DECLINE_CODES.get(used, "generic_decline")
    stripe = {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": decline_code,
        "message": error.get("message", "Your card was declined."),
    }
    if charge is not None:
        stripe["charge"] = charge.id
        method = store.get("payment_method:" + charge.payment_method)
        if method is not None:
            stripe["payment_method"] = method._export()
    if intent is not None:
        exported = intent._export()
        if exported.get("last_payment_error"):
            exported["last_payment_error"].update(type="card_error", decline_code=decline_code)
        stripe["payment_intent"] = exported
    return stripe


# --- search ---------------------------------------------------------------

SEARCH_PATH = "/v1/payment_intents/search"
METADATA_CLAUSE = re.compile(r"""^\s*metadata\[(['"])(?P<key>[^'"]+)\1\]:(['"])(?P<value>[^'"]*)\3\s*$""")


def search_payment_intents(request):
    if get_api_key(request) is None:
        return stripe_error(401, "invalid_request_error", "Unauthorized")
    clause = METADATA_CLAUSE.match(request.query.get("query", ""))
    if clause is None:
        return stripe_error(
            400,
            "invalid_request_error",
            "this local Stripe only searches `metadata['KEY']:'VALUE'`",
        )
    # `expand[]=data.latest_charge` expands inside each result.
    expand = [path.removeprefix("data.") for path in request.query.getall("expand[]", [])]
    key, value = clause["key"], clause["value"]
    # The store keeps insertion order: oldest first.
    matches = [
        intent._export(expand=expand)
        for name, intent in list(store.items())
        if name.startswith("payment_intent:") and (intent.metadata or {}).get(key) == value
    ]
    return web.json_response(
        {
            "object": "search_result",
            "data": matches,
            "has_more": False,
            "next_page": None,
            "url": SEARCH_PATH,
        }
    )


# --- idempotency keys and test controls -----------------------------------


class Shim:
    def __init__(self):
        self.calls = 0
        self.outage = None  # the status every /v1/ request answers, if any
        self.saved = {}  # key -> (method, path, parameters, status, body)
        self.in_flight = set()

    def reset(self):
        self.__init__()


shim = Shim()


def stripe_error(status, kind, message, **more):
    return web.json_response({"error": {"type": kind, "message": message, **more}}, status=status)


async def parameters(request):
    """The request's parameters, in a form that compares equal when they are."""
    body = await request.read()  # aiohttp keeps it for localstripe's handler
    if request.content_type == "application/json":
        try:
            return json.dumps(json.loads(body or b"null"), sort_keys=True)
        except ValueError:
            pass
    form = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return repr(sorted(form) + sorted(request.query.items()))


async def controls(request):
    if request.path == "/_shim/calls" and request.method == "GET":
        return web.json_response({"calls": shim.calls})
    if request.path == "/_shim/outage" and request.method == "POST":
        asked = await request.json() if request.can_read_body else {}
        status = asked.get("status", 503) if isinstance(asked, dict) else None
        if not isinstance(status, int) or not 400 <= status <= 599:
            return stripe_error(400, "invalid_request_error", "status: an HTTP error code 400-599")
        shim.outage = status
        return web.json_response({"outage": status})
    if request.path == "/_shim/outage" and request.method == "DELETE":
        shim.outage = None
        return web.json_response({"outage": None})
    if request.path == "/_shim/forget-idempotency-keys" and request.method == "POST":
        forgotten = len(shim.saved)
        shim.saved.clear()
        return web.json_response({"forgotten": forgotten})
    if request.path == "/_shim/reset" and request.method == "POST":
        store.clear()
        shim.reset()
        return web.json_response({"reset": True})
    return stripe_error(404, "invalid_request_error", "no such test control")


@web.middleware
async def stripe_shim(request, handler):
    if request.path.startswith("/_shim/"):
        return await controls(request)
    if not request.path.startswith("/v1/"):
        return await handler(request)
    shim.calls += 1
    if shim.outage is not None:
        return stripe_error(shim.outage, "api_error", "local Stripe outage (POST /_shim/outage)")
    if request.method == "GET" and request.path == SEARCH_PATH:
        return search_payment_intents(request)
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key:
        return await answer(request, handler)
    asked = (request.method, request.path, await parameters(request))
    saved = shim.saved.get(key)
    if saved is not None:
        if saved[:3] != asked:
            return stripe_error(
                400,
                "idempotency_error",
                f"Keys for idempotent requests can only be used with the same parameters "
                f"they were first used with. Try using a key other than '{key}' if you "
                f"meant to execute a different request.",
            )
        status, body = saved[3:]
        replay = web.Response(status=status, body=body, content_type="application/json")
        replay.headers["Idempotency-Key"] = key
        replay.headers["Idempotent-Replayed"] = "true"
        return replay
    if key in shim.in_flight:
        return stripe_error(
            409,
            "invalid_request_error",
            "There is currently another in-progress request using this Idempotent Key.",
            code="idempotency_key_in_use",
        )
    shim.in_flight.add(key)
    try:
        response = await answer(request, handler)
    finally:
        shim.in_flight.discard(key)
    if 200 <= response.status < 300 or response.status == 402:
        shim.saved[key] = (*asked, response.status, response.body)
    response.headers["Idempotency-Key"] = key
    return response


async def answer(request, handler):
    """localstripe's answer, a payment's decline in Stripe's shape."""
    response = await handler(request)
    call = PAYMENT_INTENT_CALL.match(request.path)
    if response.status == 402 and request.method == "POST" and call is not None:
        error = json.loads(response.body)["error"]
        return web.json_response({"error": stripe_decline(error, call["id"])}, status=402)
    return response


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    app.middlewares.insert(0, stripe_shim)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    web.run_app(app, host="127.0.0.1", port=port, access_log=logging.getLogger("aiohttp.access"))


if __name__ == "__main__":
    main()
