"""What a correct API answer is, for a store filled by fetchers from the bundled replay data:
every price in a 200 must be the recorded price of that (region, type, zone); every 503 must
carry Retry-After and say why. Used by the load, restart and soak tests."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import requests

from support.datasets import bundled_dataset_path, latest_prices

RETRYABLE = {"redis_unavailable", "not_yet_fetched"}


class Expectations:
    def __init__(self, regions: Iterable[str], types: Iterable[str]) -> None:
        self.regions = tuple(regions)
        self.types = tuple(types)
        prices = latest_prices(bundled_dataset_path(), set(self.types))
        self.prices: dict[tuple[str, str], dict[str, float]] = {}
        for (itype, region, zone_id), price in prices.items():
            if region in self.regions:
                self.prices.setdefault((region, itype), {})[zone_id] = float(Decimal(price))

    def paths(self) -> list[str]:
        return [
            *(f"/spot-prices/{r}/{t}" for r in self.regions for t in self.types),
            *(f"/best-price/{t}" for t in self.types),
            "/regions",
            "/health",
        ]

    def check(self, path: str, answer: requests.Response) -> None:
        """Raise AssertionError unless `answer` is a correct answer or an honest 503."""
        status = answer.status_code
        assert answer.headers.get("content-type", "").startswith("application/json"), "not JSON"
        body = answer.json()
        if status == 503:
            assert int(answer.headers["Retry-After"]) > 0
            if path == "/health":
                assert body["status"] == "down"
            else:
                assert body["error"]["code"] in RETRYABLE, body
            return
        parts = path.strip("/").split("/")
        if parts[0] == "spot-prices" and (parts[1], parts[2]) not in self.prices:
            # Recorded with no zone offering it: the answer is "no offer", not a price.
            assert (status, body["error"]["code"]) == (404, "no_spot_offer"), body
            return
        assert status == 200, f"status {status}"
        if parts[0] == "spot-prices":
            region, itype = parts[1], parts[2]
            got = {z["zone_id"]: z["price"] for z in body["zones"]}
            assert got == self.prices[(region, itype)], (got, self.prices[(region, itype)])
            assert body["source"] == "replay"
        elif parts[0] == "best-price":
            itype = parts[1]
            expected = self.prices[(body["region"], itype)]
            assert expected.get(body["zone_id"]) == body["price"], body
            # The cheapest of the regions it considered: never above any region's best.
            if not body["regions_missing"]:
                cheapest = min(
                    min(zones.values()) for (_, t), zones in self.prices.items() if t == itype
                )
                assert body["price"] == cheapest, (body["price"], cheapest)
        elif parts[0] == "health":
            assert body["status"] in ("ok", "degraded")
