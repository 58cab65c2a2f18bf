"""Fixtures shared by every test: real servers started once per session."""

pytest_plugins = [
    "support.redisserver",
    "support.replayserver",
    "support.apiserver",
    "support.fetchers",
    "support.controlplane",
]
