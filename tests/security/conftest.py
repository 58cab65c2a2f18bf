"""Security tests: the API's surface (methods, paths, headers), Redis keys built from input,
secrets in logs and error bodies."""

from __future__ import annotations

from support.figures import figures  # noqa: F401  (fixture)
