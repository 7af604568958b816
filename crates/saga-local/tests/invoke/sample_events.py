#!/usr/bin/env python3
"""Every sample event of one function, through the local cloud's Lambda
Invoke API with boto3 (an SDK other than the project's own).

    sample_events.py --endpoint URL --dynamodb URL --function DIR [--xtask-invoke]

For each file in events/<DIR>/ (sorted), on a fresh world:

1. every table of the stack is emptied (scan + delete with boto3 against
   DynamoDB Local) and the world the file assumes is built through public
   paths: the local stock endpoint, the Invoke API itself, and, for the two
   reservations that must already have lapsed, /local/reservations;
2. the file's situation is arranged: a `--store-unavailable` file runs during
   an outage of DynamoDB for that function (/local/faults, mode "outage");
   an API file gets the givens its case names (below);
3. the file is invoked with `LogType="Tail"`, and what came back must be what
   the file's name promises (`<outcome>[--<what it shows>].json`):
   - steps: `success`, a `release`/`refund` outcome (`released`,
     `nothing-to-refund`, ...), or a step error in kebab case
     (`insufficient-stock` means `X-Amz-Function-Error: Unhandled` with
     payload `{"errorType": "InsufficientStock", "errorMessage": ...}`);
   - ship: `success` (the task token got SendTaskSuccess), `invalid-order`
     (it got SendTaskFailure with InvalidOrder), `left-on-queue` (the record
     is in `batchItemFailures`); the tokens in the files are waited on through
     /local/task-tokens, standing in for the state machine's waiting task;
   - api: the HTTP status and problem type of API_CASES, which mirrors the
     case table of crates/order-api/tests/support/cases.rs.

Executions are not reset (an execution name stays taken, as on AWS), and
API orders have fixed ids, so run this against a fresh local cloud: the
Rust test beside it starts one per directory.

With --xtask-invoke, the Invoke API's own answers are checked too (function
names and ARNs, qualifiers, DryRun, Event, and its request errors as boto3
parses them), and the first file is run once through `cargo xtask invoke`
(the same local cloud) and its output checked.

Prints one line per file and a summary line; exits 1 when any file failed.
"""

import argparse
import base64
import json
import os
import pathlib
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = pathlib.Path(__file__).resolve().parents[4]
EVENTS = ROOT / "events"
CREDENTIALS = dict(
    region_name="us-east-1",
    aws_access_key_id="local",
    aws_secret_access_key="local",
)

# The world of the step events (as in crates/saga-lambda/tests/sample_events.rs).
STEP_CATALOG = [("SKU-TEE-M", 10, 1500), ("SKU-MUG", 5, 900), ("SKU-RARE", 1, 9900)]
# The catalog of the API events (crates/order-api/tests/support/mod.rs).
API_CATALOG = [
    ("SKU-TEE-M", 100, 1500, "EUR"),
    ("SKU-MUG", 5, 900, "EUR"),
    ("SKU-POSTER", 0, 2500, "EUR"),
    ("SKU-CAP-USD", 10, 2000, "USD"),
    ("SKU-SOCKS", 50, 500, "EUR"),
]

ACCEPTED = "post-orders--accepted"
SECOND = "post-orders--second-order"
BOB = "post-orders--bob-accepted"
# event -> (givens, status, problem type slug or None, checks on the body)
# A given is ("sent", event), ("completed", event), ("rejected", event,
# reason), ("stalled", event): its execution fails at ConfirmReservation and
# the watcher records it, ("down", services) or ("at_the_cap", event): the
# caller of event has as many orders in flight as the api function allows.
DOWN_TABLES = ("down", ["dynamodb"])
DOWN_SFN = ("down", ["sfn"])
API_CASES = {
    ACCEPTED: ([], 202, None, {"status": "PENDING"}),
    "post-orders--replay-same-body": ([("sent", ACCEPTED)], 202, None, {"same_as": ACCEPTED}),
    "post-orders--key-reused-with-other-body": ([("sent", ACCEPTED)], 422, "idempotency-key-reused", {}),
    "post-orders--missing-idempotency-key": ([], 400, "idempotency-key-missing", {}),
    "post-orders--invalid-idempotency-key": ([], 400, "invalid-request", {}),
    "post-orders--unauthenticated": ([], 401, "unauthenticated", {}),
    "post-orders--invalid-fields": ([], 400, "invalid-request", {}),
    "post-orders--unknown-fields": ([], 400, "invalid-request", {}),
    "post-orders--missing-fields": ([], 400, "invalid-request", {}),
    "post-orders--not-an-object": ([], 400, "invalid-request", {}),
    "post-orders--malformed-json": ([], 400, "malformed-body", {}),
    "post-orders--empty-body": ([], 400, "malformed-body", {}),
    "post-orders--invalid-base64": ([], 400, "malformed-body", {}),
    "post-orders--invalid-utf8": ([], 400, "malformed-body", {}),
    "post-orders--accepted-base64-body": ([], 202, None, {"status": "PENDING"}),
    "post-orders--body-too-large": ([], 413, "payload-too-large", {}),
    "post-orders--wrong-content-type": ([], 415, "unsupported-media-type", {}),
    "post-orders--unknown-sku": ([], 422, "unknown-sku", {}),
    "post-orders--mixed-currencies": ([], 422, "order-not-priceable", {}),
    "post-orders--orders-table-unavailable": ([DOWN_TABLES], 503, "service-unavailable", {}),
    "post-orders--catalog-unavailable": ([DOWN_TABLES], 503, "service-unavailable", {}),
    "post-orders--step-functions-unavailable": ([DOWN_SFN], 503, "service-unavailable", {}),
    SECOND: ([("sent", ACCEPTED)], 202, None, {"status": "PENDING"}),
    "post-orders--to-be-rejected": ([], 202, None, {"status": "PENDING"}),
    "post-orders--to-be-completed": ([], 202, None, {"status": "PENDING"}),
    "post-orders--to-be-stalled": ([], 202, None, {"status": "PENDING"}),
    BOB: ([("sent", ACCEPTED)], 202, None, {"status": "PENDING"}),
    "post-orders--too-many-in-flight": ([("at_the_cap", ACCEPTED)], 429, "too-many-orders-in-flight", {}),
    "get-order--unknown-parameter": ([("sent", ACCEPTED)], 400, "invalid-request", {}),
    "get-order--pending": ([("sent", ACCEPTED)], 200, None, {"status": "PENDING", "same_as": ACCEPTED}),
    "get-order--rejected-with-reason": (
        [("rejected", "post-orders--to-be-rejected", "InsufficientStock")],
        200, None, {"status": "REJECTED", "reason": "InsufficientStock"},
    ),
    "get-order--completed-with-shipment": (
        [("completed", "post-orders--to-be-completed")],
        200, None, {"status": "COMPLETED", "shipment": True},
    ),
    "get-order--stalled-after-a-failed-execution": (
        [("stalled", "post-orders--to-be-stalled")],
        200, None, {"status": "PAID", "stalled": True},
    ),
    "get-order--not-owner": ([("sent", ACCEPTED)], 404, "order-not-found", {}),
    "get-order--unknown-id": ([("sent", ACCEPTED)], 404, "order-not-found", {}),
    "get-order--malformed-id": ([], 404, "order-not-found", {}),
    "get-order--unauthenticated": ([("sent", ACCEPTED)], 401, "unauthenticated", {}),
    "get-order--orders-table-unavailable": ([("sent", ACCEPTED), DOWN_TABLES], 503, "service-unavailable", {}),
    "list-orders--newest-first": ([("sent", ACCEPTED), ("sent", SECOND), ("sent", BOB)], 200, None, {"orders": 2}),
    "list-orders--first-page": ([("sent", ACCEPTED), ("sent", SECOND)], 200, None, {"orders": 1, "next_cursor": True}),
    "list-orders--empty-for-new-customer": ([("sent", ACCEPTED)], 200, None, {"orders": 0}),
    "list-orders--tampered-cursor": ([], 400, "invalid-cursor", {}),
    "list-orders--invalid-limit": ([], 400, "invalid-request", {}),
    "list-orders--unknown-parameter": ([], 400, "invalid-request", {}),
    "list-orders--unauthenticated": ([], 401, "unauthenticated", {}),
    "list-orders--orders-table-unavailable": ([DOWN_TABLES], 503, "service-unavailable", {}),
    "list-products--catalog": ([], 200, None, {"products": 5}),
    "list-products--first-page": ([], 200, None, {"products": 2, "next_cursor": True}),
    "list-products--tampered-cursor": ([], 400, "invalid-cursor", {}),
    "list-products--invalid-limit": ([], 400, "invalid-request", {}),
    "list-products--unauthenticated": ([], 401, "unauthenticated", {}),
    "list-products--catalog-unavailable": ([DOWN_TABLES], 503, "service-unavailable", {}),
    "unknown-route--not-found": ([], 404, "route-not-found", {}),
    "unknown-route--trailing-slash": ([], 404, "route-not-found", {}),
    "wrong-method--delete-orders": ([], 405, "method-not-allowed", {"allow": "POST, GET"}),
    "wrong-method--put-order": ([], 405, "method-not-allowed", {"allow": "GET"}),
}


class Failed(Exception):
    """What a file gave instead of what its name promises."""


def kebab(name):
    """`InsufficientStock` -> `insufficient-stock`; `NOTHING_TO_REFUND` -> `nothing-to-refund`."""
    if "_" in name or name.isupper():
        return name.lower().replace("_", "-")
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


class Invocation:
    def __init__(self, response):
        self.status = response["StatusCode"]
        self.function_error = response.get("FunctionError")
        self.payload = json.loads(response["Payload"].read() or b"null")
        self.logs = base64.b64decode(response.get("LogResult", "")).decode()

    def describe(self):
        if self.function_error:
            return f"{self.function_error} {self.payload}"
        return json.dumps(self.payload)[:300]


class Cloud:
    def __init__(self, url, dynamodb_url):
        self.url = url.rstrip("/")
        config = Config(retries={"max_attempts": 1}, read_timeout=120)
        self.lambda_ = boto3.client("lambda", endpoint_url=self.url, config=config, **CREDENTIALS)
        self.sfn = boto3.client("stepfunctions", endpoint_url=self.url, config=config, **CREDENTIALS)
        self.dynamodb = boto3.client("dynamodb", endpoint_url=dynamodb_url, config=config, **CREDENTIALS)
        self.info = self.local("GET", "/local/info")
        reserve = next(f for f in self.info["functions"] if f["binary"] == "reserve")
        self.ttl = int(reserve["environment"].get("RESERVATION_TTL_SECONDS", "900"))

    def local(self, method, path, body=None, expect=(200, 201, 204)):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        if status not in expect:
            raise Failed(f"{method} {path} answered {status}: {text[:300]!r}")
        return json.loads(text) if text else None

    def invoke(self, function, payload):
        if not isinstance(payload, bytes):
            payload = json.dumps(payload).encode()
        response = self.lambda_.invoke(FunctionName=function, Payload=payload, LogType="Tail")
        invocation = Invocation(response)
        if invocation.status != 200:
            raise Failed(f"Invoke answered {invocation.status}")
        request_id = response["ResponseMetadata"]["RequestId"]
        # The tail is the last 4 KB: START may be cut off, REPORT never is.
        whole = len(invocation.logs.encode()) < 4000
        if (whole and not invocation.logs.startswith(f"START RequestId: {request_id} ")) or \
                f"\nREPORT RequestId: {request_id}\t" not in invocation.logs:
            raise Failed(f"the log tail of {request_id} is not framed by its START and REPORT: {invocation.logs!r}")
        return invocation

    def must_succeed(self, function, payload):
        invocation = self.invoke(function, payload)
        if invocation.function_error:
            raise Failed(f"setting up, {function} failed: {invocation.describe()}")
        return invocation.payload

    def outage(self, binary, services):
        self.local("POST", "/local/faults", {"function": binary, "mode": "outage", "services": services})

    def reset(self):
        """No running execution, no fault, every table empty."""
        for machine in self.info["stateMachines"]:
            deadline = time.monotonic() + 120
            while self.sfn.list_executions(stateMachineArn=machine["arn"], statusFilter="RUNNING")["executions"]:
                if time.monotonic() > deadline:
                    raise Failed("executions still run two minutes later")
                time.sleep(0.2)
        self.local("DELETE", "/local/faults")
        for table in self.info["tables"]:
            name = table["name"]
            keys = [k["AttributeName"] for k in self.dynamodb.describe_table(TableName=name)["Table"]["KeySchema"]]
            names = {f"#k{i}": key for i, key in enumerate(keys)}
            for page in self.dynamodb.get_paginator("scan").paginate(
                TableName=name, ProjectionExpression=", ".join(names), ExpressionAttributeNames=names
            ):
                items = page["Items"]
                for start in range(0, len(items), 25):
                    requests = [{"DeleteRequest": {"Key": item}} for item in items[start:start + 25]]
                    self.dynamodb.batch_write_item(RequestItems={name: requests})


def build_step_world(cloud):
    """Catalog; reservations ord_expired (reaped), ord_lapsed (lapsed, not
    reaped), ord_pending, ord_confirmed, ord_released; payments ord_captured,
    ord_declined, ord_refunded."""
    for sku, available, price in STEP_CATALOG:
        cloud.local("PUT", f"/local/stock/{sku}", {"available": available, "priceMinor": price})

    def line(sku):
        return [{"sku": sku, "quantity": 1}]

    lapsed = cloud.ttl + 600
    cloud.local("POST", "/local/reservations",
                {"orderId": "ord_expired", "items": line("SKU-TEE-M"), "reservedSecondsAgo": lapsed})
    cloud.must_succeed("reaper", json.loads((EVENTS / "reaper" / "success.json").read_text()))
    cloud.local("POST", "/local/reservations",
                {"orderId": "ord_lapsed", "items": line("SKU-MUG"), "reservedSecondsAgo": lapsed})
    for order, sku in [("ord_pending", "SKU-TEE-M"), ("ord_confirmed", "SKU-MUG"), ("ord_released", "SKU-TEE-M")]:
        cloud.must_succeed("reserve", {"orderId": order, "items": line(sku)})
    cloud.must_succeed("confirm", {"orderId": "ord_confirmed"})
    cloud.must_succeed("release", {"orderId": "ord_released"})
    total = {"amountMinor": 3000, "currency": "EUR"}
    for order, method in [("ord_captured", "pm_card_visa"), ("ord_declined", "pm_card_chargeDeclined"),
                          ("ord_refunded", "pm_card_visa")]:
        invocation = cloud.invoke("charge", {"orderId": order, "total": total, "paymentMethod": method})
        if method == "pm_card_visa" and invocation.function_error:
            raise Failed(f"setting up, charge failed: {invocation.describe()}")
    cloud.must_succeed("refund", {"orderId": "ord_refunded"})


def check_step(cloud, directory, path):
    stated = path.stem.split("--")[0]
    if path.stem.endswith("--store-unavailable"):
        cloud.outage(directory, ["dynamodb"])
    invocation = cloud.invoke(directory, path.read_bytes())
    if invocation.function_error:
        if invocation.function_error != "Unhandled":
            raise Failed(f"X-Amz-Function-Error is {invocation.function_error!r}, not 'Unhandled'")
        payload = invocation.payload
        if sorted(payload) != ["errorMessage", "errorType"] or not payload["errorMessage"]:
            raise Failed(f"the error payload is not {{errorType, errorMessage}}: {payload}")
        got = kebab(payload["errorType"])
        if payload["errorType"] not in invocation.logs:
            raise Failed("the log tail does not name the error")
    elif isinstance(invocation.payload, dict) and "outcome" in invocation.payload:
        got = kebab(invocation.payload["outcome"])
    else:
        got = "success"
    if got != stated:
        raise Failed(f"promised {stated}, got {got}: {invocation.describe()}")


def check_ship(cloud, path):
    stated = path.stem.split("--")[0]
    event = json.loads(path.read_text())
    tokens = []
    for record in event["Records"]:
        try:
            token = json.loads(record["body"]).get("taskToken")
        except ValueError:
            token = None
        if token:
            tokens.append(token)
            cloud.local("POST", "/local/task-tokens", {"token": token})
    if path.stem.endswith("--store-unavailable"):
        cloud.outage("ship", ["dynamodb"])
    invocation = cloud.invoke("ship", path.read_bytes())
    if invocation.function_error:
        raise Failed(f"ship failed as a whole: {invocation.describe()}")
    failures = [f["itemIdentifier"] for f in invocation.payload["batchItemFailures"]]
    callbacks = [
        cloud.local("GET", "/local/task-tokens?" + urllib.parse.urlencode({"token": token}))["callbacks"]
        for token in tokens
    ]
    kinds = [[c["type"] for c in received] for received in callbacks]
    if stated == "left-on-queue":
        if failures != [r["messageId"] for r in event["Records"]] or any(kinds):
            raise Failed(f"promised left-on-queue, got failures {failures}, callbacks {kinds}")
    elif stated == "success":
        if failures or kinds != [["SendTaskSuccess"]] * len(tokens):
            raise Failed(f"promised success, got failures {failures}, callbacks {callbacks}")
    elif stated == "invalid-order":
        errors = [[c.get("error") for c in received] for received in callbacks]
        if failures or errors != [["InvalidOrder"]] * len(tokens):
            raise Failed(f"promised invalid-order, got failures {failures}, callbacks {callbacks}")
    else:
        raise Failed(f"no rule for a ship file named {stated}")


def api_event(name):
    return (EVENTS / "api" / f"{name}.json").read_bytes()


def api_answer(cloud, name, event=None):
    invocation = cloud.invoke("ApiFunction", api_event(name) if event is None else event)
    if invocation.function_error:
        raise Failed(f"{name}: the api function failed: {invocation.describe()}")
    response = invocation.payload
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    return response["statusCode"], json.loads(body) if body else None, headers


def fill_to_the_cap(cloud, name):
    """The caller of event `name` gets as many orders in flight as the api
    function allows (MAX_ORDERS_IN_FLIGHT): copies of the event under other
    Idempotency-Keys, sent while Step Functions is down for the api, so each
    is written PENDING (answered 503) and no saga moves it on."""
    api = next(f for f in cloud.info["functions"] if f["binary"] == "api")
    cap = int(api["environment"].get("MAX_ORDERS_IN_FLIGHT", "5"))
    event = json.loads(api_event(name))
    cloud.outage("api", ["sfn"])
    for index in range(cap):
        event["headers"]["idempotency-key"] = f"in-flight-{index}"
        status, body, _ = api_answer(cloud, f"{name} #{index}", event)
        if status != 503:
            raise Failed(f"setting up, order {index} of {cap} in flight answered {status}: {body}")
    cloud.local("DELETE", "/local/faults/api")


def arrange_api(cloud, givens):
    answers = {}
    for given in givens:
        kind = given[0]
        if kind == "down":
            cloud.outage("api", given[1])
            continue
        if kind == "at_the_cap":
            fill_to_the_cap(cloud, given[1])
            continue
        if kind == "stalled":
            # ConfirmReservation fails for good: after the capture the saga
            # goes forward, so the execution fails there (order PAID).
            cloud.local("POST", "/local/faults", {"function": "confirm", "mode": "permanent"})
        status, body, _ = api_answer(cloud, given[1])
        if not 200 <= status < 300:
            raise Failed(f"setting up, {given[1]} answered {status}: {body}")
        answers[given[1]] = body
        if kind in ("completed", "rejected"):
            order_id = body["orderId"]
            done = cloud.local("GET", f"/local/executions/{order_id}/wait?timeoutSeconds=120")
            if kind == "completed" and done["status"] != "SUCCEEDED":
                raise Failed(f"setting up, the saga of {order_id} ended {done['status']}")
        if kind == "stalled":
            order_id = body["orderId"]
            done = cloud.local("GET", f"/local/executions/{order_id}/wait?timeoutSeconds=120")
            cloud.local("DELETE", "/local/faults")
            if done["status"] != "FAILED":
                raise Failed(f"setting up, the saga of {order_id} ended {done['status']}, not FAILED")
            # The status-change event reaches the watcher asynchronously.
            deadline = time.monotonic() + 30
            while "stall" not in cloud.local("GET", f"/local/orders/{order_id}")["order"]:
                if time.monotonic() > deadline:
                    raise Failed(f"setting up, the watcher never recorded the stall of {order_id}")
                time.sleep(0.2)
    return answers


def check_api(cloud, path):
    givens, status, problem, checks = API_CASES[path.stem]
    for sku, available, price, currency in API_CATALOG:
        cloud.local("PUT", f"/local/stock/{sku}",
                    {"available": available, "priceMinor": price, "currency": currency})
    answers = arrange_api(cloud, givens)
    got_status, body, headers = api_answer(cloud, path.stem)
    if got_status != status:
        raise Failed(f"promised {status}, got {got_status}: {body}")
    if problem is not None:
        if headers.get("content-type") != "application/problem+json" or not body["type"].endswith("/" + problem):
            raise Failed(f"promised problem {problem}, got {headers.get('content-type')} {body}")
        return
    if "status" in checks and body["status"] != checks["status"]:
        raise Failed(f"promised order status {checks['status']}, got {body}")
    if "reason" in checks and body.get("reason") != checks["reason"]:
        raise Failed(f"promised reason {checks['reason']}, got {body}")
    if checks.get("shipment") and not body.get("shipment"):
        raise Failed(f"promised a shipment, got {body}")
    if "stalled" in checks and bool(body.get("stalled")) != checks["stalled"]:
        raise Failed(f"promised stalled={checks['stalled']}, got {body}")
    if "same_as" in checks and body["orderId"] != answers[checks["same_as"]]["orderId"]:
        raise Failed(f"promised the order of {checks['same_as']}, got {body}")
    if "orders" in checks and len(body["orders"]) != checks["orders"]:
        raise Failed(f"promised {checks['orders']} orders, got {body}")
    if "products" in checks and len(body["products"]) != checks["products"]:
        raise Failed(f"promised {checks['products']} products, got {body}")
    if "next_cursor" in checks and not body.get("nextCursor"):
        raise Failed(f"promised a nextCursor, got {body}")
    if "allow" in checks and headers.get("allow") != checks["allow"]:
        raise Failed(f"promised Allow: {checks['allow']}, got {headers}")


def build_sweeper_world(cloud):
    """The API catalog and one order nobody started, an hour old: placed
    while Step Functions was down for the api (answered 503), never retried,
    and its createdAt moved an hour back, past the sweeper's grace period."""
    for sku, available, price, currency in API_CATALOG:
        cloud.local("PUT", f"/local/stock/{sku}",
                    {"available": available, "priceMinor": price, "currency": currency})
    cloud.outage("api", ["sfn"])
    status, body, _ = api_answer(cloud, ACCEPTED)
    if status != 503:
        raise Failed(f"setting up, the order answered {status}: {body}")
    cloud.local("DELETE", "/local/faults/api")
    orders = next(t["name"] for t in cloud.info["tables"] if t["logicalId"] == "OrdersTable")
    items = cloud.dynamodb.scan(TableName=orders)["Items"]
    if len(items) != 1 or "awaitingStart" not in items[0]:
        raise Failed(f"setting up, expected one order awaiting its start, got {items}")
    hour_ago = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 3600))
    cloud.dynamodb.update_item(
        TableName=orders, Key={"orderId": items[0]["orderId"]},
        UpdateExpression="SET createdAt = :then", ExpressionAttributeValues={":then": {"S": hour_ago}},
    )


def build_watcher_world(cloud):
    """Orders ord_unstarted (RESERVED, in flight) and ord_completed
    (COMPLETED), as the watcher's events name them; only the attributes the
    watcher's conditional write and the Stalled index read."""
    orders = next(t["name"] for t in cloud.info["tables"] if t["logicalId"] == "OrdersTable")
    for order_id, status in [("ord_unstarted", "RESERVED"), ("ord_completed", "COMPLETED")]:
        cloud.dynamodb.put_item(TableName=orders, Item={
            "orderId": {"S": order_id}, "customerId": {"S": "user-123"}, "status": {"S": status},
            "createdAt": {"S": "2026-03-01T11:00:00.000Z"},
        })
    return orders


def check_watcher(cloud, path):
    orders = build_watcher_world(cloud)
    check_step(cloud, "watcher", path)
    event = json.loads(path.read_text())
    item = cloud.dynamodb.get_item(TableName=orders, Key={"orderId": {"S": event["detail"]["name"]}},
                                   ConsistentRead=True).get("Item", {})
    recorded = path.stem.startswith("recorded")
    if recorded != ("stall" in item):
        raise Failed(f"the order's stall is {'missing' if recorded else 'there'}: {item}")
    if recorded and item["stall"]["M"]["status"]["S"] != event["detail"]["status"]:
        raise Failed(f"the stall does not carry the event's status: {item['stall']}")


def check_file(cloud, directory, path):
    cloud.reset()
    if directory == "watcher":
        check_watcher(cloud, path)
        return
    if directory == "api":
        check_api(cloud, path)
        return
    if directory == "sweeper":
        build_sweeper_world(cloud)
        check_step(cloud, directory, path)
        if path.stem == "success":
            report = cloud.invoke("sweeper", path.read_bytes()).payload
            if report != {"found": 0, "started": 0, "stalled": 0, "recovered": 0}:
                raise Failed(f"a second run found work left: {report}")
        return
    build_step_world(cloud)
    if directory == "ship":
        check_ship(cloud, path)
    else:
        check_step(cloud, directory, path)


def expect_client_error(code, status, call):
    try:
        call()
    except ClientError as error:
        got = (error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"])
        if got != (code, status) or not error.response["Error"]["Message"]:
            raise Failed(f"expected {code} ({status}), got {got}: {error}")
        return error.response["Error"]["Message"]
    raise Failed(f"expected {code}, the call succeeded")


def check_protocol(cloud):
    """The Invoke API's own answers, as boto3 parses them: names, ARNs and
    qualifiers, invocation types, and request errors."""
    cloud.reset()
    build_step_world(cloud)
    event = (EVENTS / "reserve" / "success.json").read_bytes()
    name = next(f["name"] for f in cloud.info["functions"] if f["binary"] == "reserve")
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    for function in ["ReserveFunction", name, arn, f"{arn}:$LATEST", "reserve", "reserve:$LATEST",
                     f"123456789012:function:{name}"]:
        invocation = cloud.invoke(function, b'{"orderId": "ord_x", "items": []}')
        if invocation.function_error != "Unhandled" or invocation.payload.get("errorType") != "InvalidOrder":
            raise Failed(f"{function}: expected reserve's InvalidOrder, got {invocation.describe()}")
    reserved = cloud.invoke("ReserveFunction", event)
    if reserved.function_error or not any(
            "\tINFO\tstock reserved" in line for line in reserved.logs.splitlines()):
        raise Failed(f"the tail lacks the function's own line: {reserved.logs!r}")
    cloud.reset()
    build_step_world(cloud)
    latest = cloud.lambda_.invoke(FunctionName="ReserveFunction", Qualifier="$LATEST", Payload=b"{}")
    if latest["ExecutedVersion"] != "$LATEST":
        raise Failed(f"ExecutedVersion is {latest.get('ExecutedVersion')}")
    message = expect_client_error("ResourceNotFoundException", 404,
                                  lambda: cloud.lambda_.invoke(FunctionName="NoSuchFunction", Payload=b"{}"))
    if message != "Function not found: arn:aws:lambda:us-east-1:123456789012:function:NoSuchFunction":
        raise Failed(f"unexpected message {message!r}")
    expect_client_error("ResourceNotFoundException", 404,
                        lambda: cloud.lambda_.invoke(FunctionName="ReserveFunction", Qualifier="7", Payload=b"{}"))
    expect_client_error("ResourceNotFoundException", 404,
                        lambda: cloud.lambda_.invoke(FunctionName=f"{arn}:prod", Payload=b"{}"))
    expect_client_error("ResourceNotFoundException", 404, lambda: cloud.lambda_.invoke(
        FunctionName=arn.replace("123456789012", "999999999999"), Payload=b"{}"))
    expect_client_error("InvalidParameterValueException", 400, lambda: cloud.lambda_.invoke(
        FunctionName="reserve:$LATEST", Qualifier="prod", Payload=b"{}"))
    raw_url = f"{cloud.url}/2015-03-31/functions/ReserveFunction/invocations"
    for header, value in [("X-Amz-Invocation-Type", "Later"), ("X-Amz-Log-Type", "All")]:
        request = urllib.request.Request(raw_url, data=b"{}", method="POST", headers={header: value})
        try:
            urllib.request.urlopen(request, timeout=30)
            raise Failed(f"{header}: {value} was accepted")
        except urllib.error.HTTPError as error:
            if error.code != 400 or error.headers.get("x-amzn-ErrorType") != "ValidationException":
                raise Failed(f"{header}: {value} gave {error.code} {error.headers.get('x-amzn-ErrorType')}")
    big = b'{"pad": "' + b"x" * (6 * 1024 * 1024) + b'"}'
    expect_client_error("RequestEntityTooLargeException", 413,
                        lambda: cloud.lambda_.invoke(FunctionName="ReserveFunction", Payload=big))
    big_event = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    expect_client_error("RequestEntityTooLargeException", 413, lambda: cloud.lambda_.invoke(
        FunctionName="ReserveFunction", InvocationType="Event", Payload=big_event))
    expect_client_error("InvalidRequestContentException", 400,
                        lambda: cloud.lambda_.invoke(FunctionName="ReserveFunction", Payload=b"{not json"))
    dry = cloud.lambda_.invoke(FunctionName="ReserveFunction", InvocationType="DryRun", Payload=event)
    if dry["StatusCode"] != 204:
        raise Failed(f"DryRun answered {dry['StatusCode']}")
    if cloud.local("GET", "/local/orders/ord_01JNEWORDER").get("reservation"):
        raise Failed("DryRun ran the function")
    queued = cloud.lambda_.invoke(FunctionName="ReserveFunction", InvocationType="Event", Payload=event)
    if queued["StatusCode"] != 202:
        raise Failed(f"Event answered {queued['StatusCode']}")
    deadline = time.monotonic() + 30
    while not cloud.local("GET", "/local/orders/ord_01JNEWORDER").get("reservation"):
        if time.monotonic() > deadline:
            raise Failed("the Event invocation did not reserve within 30 s")
        time.sleep(0.1)


def check_xtask_invoke(cloud, directory, path):
    """`cargo xtask invoke` against this cloud prints the response, the
    function error if any, and the log tail; it exits 0 for a success and 1
    for a function error."""
    cloud.reset()
    if directory != "api":
        build_step_world(cloud)
    relative = path.relative_to(ROOT)
    result = subprocess.run(
        ["cargo", "xtask", "invoke", directory, str(relative), "--endpoint", cloud.url],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    out = result.stdout
    if "START RequestId: " not in out or "REPORT RequestId: " not in out:
        raise Failed(f"cargo xtask invoke printed no log tail:\n{out}\n{result.stderr[-2000:]}")
    promised_error = path.stem.split("--")[0] not in ("success", "released", "refunded")
    if promised_error:
        if result.returncode != 1 or "function error: Unhandled" not in out:
            raise Failed(f"cargo xtask invoke exited {result.returncode}, expected 1 with the function error:\n{out}")
    elif result.returncode != 0 or "function error" in out:
        raise Failed(f"cargo xtask invoke exited {result.returncode}:\n{out}\n{result.stderr[-2000:]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="the local cloud, http://127.0.0.1:PORT")
    parser.add_argument("--dynamodb", required=True, help="DynamoDB Local, for emptying the tables")
    parser.add_argument("--function", required=True, help="a directory of events/")
    parser.add_argument("--xtask-invoke", action="store_true",
                        help="also check the API's own answers, and run the first file through cargo xtask invoke")
    args = parser.parse_args()

    cloud = Cloud(args.endpoint, args.dynamodb)
    files = sorted((EVENTS / args.function).glob("*.json"))
    if not files:
        print(f"no files in events/{args.function}/")
        return 1
    if args.function == "api":
        unknown = {p.stem for p in files} ^ set(API_CASES)
        if unknown:
            print(f"API_CASES and events/api/ disagree on: {sorted(unknown)}")
            return 1
    failed = 0
    for path in files:
        try:
            check_file(cloud, args.function, path)
            print(f"ok      events/{args.function}/{path.name}")
        except Exception as error:  # a crash in one file must not hide the others
            failed += 1
            print(f"FAILED  events/{args.function}/{path.name}: {type(error).__name__}: {error}")
    if args.xtask_invoke:
        try:
            check_protocol(cloud)
            print("ok      the Invoke API's own answers (names, qualifiers, DryRun, Event, errors)")
        except Exception as error:
            failed += 1
            print(f"FAILED  the Invoke API's own answers: {error}")
        try:
            check_xtask_invoke(cloud, args.function, files[0])
            print(f"ok      cargo xtask invoke {args.function} events/{args.function}/{files[0].name}")
        except Exception as error:
            failed += 1
            print(f"FAILED  cargo xtask invoke: {error}")
    total = len(files) + (2 if args.xtask_invoke else 0)
    print(f"sample events of {args.function}: {total - failed} passed; {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
