"""The EC2 actions the endpoint answers, behind one call: action, region and form in, XML out.

Knows nothing of HTTP; the server adds transport, faults and the call log around it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from spotter.replay import wire
from spotter.replay.catalog import Catalog, load_catalog
from spotter.replay.clock import ReplayClock
from spotter.replay.dataset import Dataset
from spotter.replay.faults import Faults
from spotter.replay.history import describe_spot_price_history
from spotter.replay.regions import describe_availability_zones, describe_regions
from spotter.replay.tokens import TokenCodec
from spotter.replay.wire import ApiError

ACTIONS = ("DescribeSpotPriceHistory", "DescribeRegions", "DescribeAvailabilityZones")
# Protocol and signing parameters, not part of any action's input.
_ENVELOPE = ("Action", "Version")


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful response body and how many price records it carries."""

    body: bytes
    records: int = 0


class ReplayService:
    """Answers EC2 calls from a dataset, as one account with the dataset's regions enabled."""

    def __init__(
        self,
        dataset: Dataset,
        *,
        clock: ReplayClock,
        faults: Faults,
        page_size: int = 1000,
        catalog: Catalog | None = None,
        tokens: TokenCodec | None = None,
    ) -> None:
        self.dataset = dataset
        self.clock = clock
        self.faults = faults
        self.page_size = page_size
        self.catalog = catalog or load_catalog()
        self.tokens = tokens or TokenCodec()
        self._zones: dict[str, dict[str, str | None]] = {}

    def enabled(self, region: str) -> bool:
        """Regions with recorded prices are enabled, unless a fault says otherwise."""
        return region in self.dataset.regions and not self.faults.not_enabled(region)

    def zones_of(self, region: str) -> dict[str, str | None]:
        """Zone name -> zone id in `region`: the catalog's zones plus any the dataset names."""
        zones = self._zones.get(region)
        if zones is None:
            zones = {z.name: z.zone_id for z in self.catalog.zones_of(region)}
            zones.update(self.dataset.zones(region))
            self._zones[region] = zones
        return zones

    def call(self, action: str, region: str, form: Mapping[str, str], request_id: str) -> Answer:
        """One EC2 call; raises ApiError for every error answer."""
        if action not in ACTIONS:
            raise ApiError("InvalidAction", f"The action {action or '(none)'} is not valid")
        if not self.enabled(region):
            raise ApiError(self.faults.snapshot()["not_enabled_code"])
        params = wire.unflatten({k: v for k, v in form.items() if k not in _ENVELOPE})
        records = 0
        if action == "DescribeSpotPriceHistory":
            body, records = describe_spot_price_history(self, region, form, params)
        elif action == "DescribeRegions":
            body = describe_regions(self, region, params)
        else:
            body = describe_availability_zones(self, region, params)
        return Answer(wire.render_response(action, request_id, body), records)
