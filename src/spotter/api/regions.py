"""`/regions`: every watched region's fetch status, and the account's region catalog."""

from __future__ import annotations

import falcon

from spotter.api import render
from spotter.api.deps import Resource


class RegionsResource(Resource):
    """Watched regions, sorted, with state, freshness and last error; the catalog if known."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        store = self.deps.store
        now, expiry = self.deps.clock(), self.deps.settings.cache_expiry
        statuses = store.region_statuses(store.watched_regions())
        catalog = store.catalog()
        resp.media = {
            "regions": [
                render.region_status(status, catalog.get(region), now, expiry)
                for region, status in sorted(statuses.items())
            ],
            "catalog": dict(sorted(catalog.items())) if catalog else None,
        }
