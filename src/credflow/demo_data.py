"""Demo data for `make run`: a few hundred workers with credentials in every status, loaded
through the public APIs as a customer would (directory users, two bulk imports, review
decisions, a revocation and a suspension), so every view has something to show.

Loaded once: an organisation that already has imports is left as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

from credflow.demo import DemoError, DemoOrganisation

WORKERS = 300
FIRST_NAMES = ("Alex", "Bea", "Cal", "Dee", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kit",
               "Lou", "Max", "Noa", "Oli", "Pia", "Quin", "Rae", "Sol", "Tia")  # fmt: skip
LAST_NAMES = ("Archer", "Brooks", "Chen", "Diaz", "Evans", "Fox", "Gray", "Hill", "Ito", "Jones",
              "Khan", "Lee", "Moore", "Ng", "Owen")  # fmt: skip
HEADER = "email,credential_type,issued_on,expires_on,certification_number,issuer,notes,media_file"


@dataclass(frozen=True)
class DemoUrls:
    directory: str
    importer: str
    review: str
    submission: str


@dataclass(frozen=True)
class DemoData:
    workers: int
    credentials: int
    loaded_now: bool


class _Api:
    def __init__(self, client: httpx.Client, urls: DemoUrls, demo: DemoOrganisation) -> None:
        self.client, self.urls, self.token = client, urls, demo.token("admin")
        self.org = f"/organisations/{demo.organisation_id}"

    def call(self, method: str, base: str, path: str, key: str | None = None,
             **kwargs: Any) -> Any:  # fmt: skip
        headers = {"Authorization": f"Bearer {self.token}"}
        if key is not None:
            headers["Idempotency-Key"] = f"demo:{key}"
        response = self.client.request(method, base + self.org + path, headers=headers, **kwargs)
        if response.status_code >= 400:
            raise DemoError(f"{method} {path} -> {response.status_code}: {response.text}")
        return response.json() if response.content else None


def _until(check: Callable[[], bool], what: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise DemoError(f"gave up waiting: {what}")
        time.sleep(0.3)


def load_demo_data(
    urls: DemoUrls, demo: DemoOrganisation, today: date, say: Callable[[str], None] = print
) -> DemoData:
    with httpx.Client(timeout=60) as client:
        api = _Api(client, urls, demo)
        if api.call("GET", urls.importer, "/imports")["items"]:
            return DemoData(WORKERS, 0, loaded_now=False)
        say(f"demo data: creating {WORKERS} workers")
        workers = _workers(api, demo)
        approved_rows, review_rows = _rows(workers, today)
        say(f"demo data: importing {len(approved_rows) + len(review_rows)} credentials")
        approved = _import(api, "demo-approved.csv", approved_rows)
        for_review = _import(api, "demo-for-review.csv", review_rows)
        say("demo data: reviewing (bulk approval, rejections, a revocation, a suspension)")
        _review(api, approved, for_review, today)
    return DemoData(WORKERS, len(approved_rows) + len(review_rows), loaded_now=True)


def _workers(api: _Api, demo: DemoOrganisation) -> list[dict[str, Any]]:
    """Northwind workers (Mia's team, half in the site crew) and Southbank ones (Sam's)."""
    northwind = demo.people["manager"]
    southbank = demo.people["manager_south"]
    crew = demo.people["worker"]["group_ids"]
    workers = []
    for index in range(WORKERS):
        name = f"{FIRST_NAMES[index % 20]} {LAST_NAMES[index // 20 % 15]}"
        boss = northwind if index % 2 == 0 else southbank
        body = {
            "email": f"{name.lower().replace(' ', '.')}.{index}@demo.credflow.test",
            "name": name,
            "roles": ["worker"],
            "company_id": boss["company_id"],
            "manager_id": boss["user_id"],
            "group_ids": crew if index % 4 == 0 else [],
        }
        workers.append(api.call("POST", api.urls.directory, "/users", f"crew-{index}", json=body))
    return workers


def _rows(workers: list[dict[str, Any]], today: date) -> tuple[list[str], list[str]]:
    """CSV rows: the first import is approved in bulk, the second waits for reviewers.

    - white card: everyone but every tenth worker (those show `required`), no review needed
      (`submitted`);
    - first aid: valid for most (`verified`), expiring within 30, 60 or 90 days for every
      seventh, thirteenth or seventeenth, expired for every eleventh, missing for every fifth
      (`required`);
    - working at heights: the site crew;
    - electrical licence: Southbank's workers, in the import left to reviewers (who validate
      a third, reject a sixth and leave the rest in the queue).
    """

    def day(value: date) -> str:
        return value.strftime("%d/%m/%Y")

    approved, for_review = [], []
    for index, worker in enumerate(workers):
        email = worker["email"]
        if index % 10:
            approved.append(f"{email},White card (construction induction),"
                            f"{day(today - timedelta(days=500))},,WC-{index:04},,,")  # fmt: skip
        if index % 5 != 4:
            issued, expires = today - timedelta(days=400), ""
            for every, days in ((7, 12), (13, 45), (17, 80)):
                if index % every == 0:
                    issued, expires = today - timedelta(days=700), day(today + timedelta(days=days))
            if index % 11 == 0:
                issued, expires = today - timedelta(days=1200), day(today - timedelta(days=20))
            approved.append(f"{email},First aid certificate,{day(issued)},{expires},"
                            f"FA-{index:04},St John,,")  # fmt: skip
        if worker["group_ids"]:
            approved.append(f"{email},Working at heights,{day(today - timedelta(days=90))},,"
                            f"WH-{index:04},,,")  # fmt: skip
        if index % 2:
            for_review.append(f"{email},Electrical licence,{day(today - timedelta(days=20))},,"
                              f"EL-{index:04},Energy Safe,,")  # fmt: skip
    return approved, for_review


def _import(api: _Api, name: str, rows: list[str]) -> dict[str, Any]:
    raw = "\n".join([HEADER, *rows]).encode()
    upload = [("file", (name, raw, "text/csv"))]
    report: dict[str, Any] = api.call("POST", api.urls.importer, "/imports", files=upload)
    path = f"/imports/{report['import_id']}"

    def clean() -> bool:
        # Until the importer's replica has the new workers it reports them unknown: upload the
        # same file again, as a user would.
        report.update(api.call("PUT", api.urls.importer, f"{path}/file", files=upload))
        return not report["problems"]

    _until(clean, f"{name} without problems")
    api.call("POST", api.urls.importer, f"{path}/finish")

    def completed() -> bool:
        report.update(api.call("GET", api.urls.importer, path))
        return bool(report["status"] == "completed")

    _until(completed, f"{name} completed", timeout_s=180)
    return report


def _open_items(api: _Api, import_id: str) -> list[dict[str, Any]]:
    params = {"everyone": "true", "import_id": import_id, "limit": 1000}
    items: list[dict[str, Any]] = api.call("GET", api.urls.review, "/reviews", params=params)[
        "items"
    ]
    return items


def _review(api: _Api, approved: dict[str, Any], for_review: dict[str, Any], today: date) -> None:
    _settled(api, approved["import_id"])
    api.call("POST", api.urls.review, "/reviews/bulk-approve", "bulk-approve",
             json={"import_id": approved["import_id"],
                   "comment": "Checked against the training register."})  # fmt: skip
    items = _settled(api, for_review["import_id"])
    for index, item in enumerate(items):
        review = f"/reviews/{item['review_id']}"
        if index % 6 == 0:
            api.call("POST", api.urls.review, f"{review}/claim", f"claim-{index}")
            api.call(
                "POST",
                api.urls.review,
                f"{review}/reject",
                f"reject-{index}",
                json={"comment": "The licence number does not match the regulator's register."},
            )
        elif index % 3 == 1:
            api.call("POST", api.urls.review, f"{review}/validate", f"validate-{index}",
                     json={"comment": "Matches the regulator's register."})  # fmt: skip
    credential_ids = [item["credential_id"] for item in items[1:3]]
    api.call("POST", api.urls.submission, f"/credentials/{credential_ids[0]}/revoke", "revoke",
             json={"reason": "Licence cancelled by the regulator."})  # fmt: skip
    api.call("POST", api.urls.submission, f"/credentials/{credential_ids[1]}/suspend",
             "suspend", json={"reason": "Under investigation.",
                              "until": str(today + timedelta(days=30))})  # fmt: skip


def _settled(api: _Api, import_id: str) -> list[dict[str, Any]]:
    """The import's open review items, once their number has stopped growing."""
    seen: list[int] = []

    def stopped_growing() -> bool:
        seen.append(len(_open_items(api, import_id)))
        return len(seen) >= 4 and seen[-1] > 0 and seen[-1] == seen[-4]

    _until(stopped_growing, "review items of the import")
    return _open_items(api, import_id)
