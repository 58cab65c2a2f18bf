"""Every query of the shipped Grafana dashboard and every alert of the chart's PrometheusRule names
only series that Spotter really exports: the names come from live scrapes of a real API under
Gunicorn and a real fetcher that met throttling and a refusal, not from a list in this file."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.apiserver import ApiServer
from support.controlplane import REPO_ROOT
from support.fetchers import FetcherProcess, scrape
from support.redisserver import free_port

CHART = REPO_ROOT / "charts" / "spotter"
DASHBOARD = CHART / "dashboards" / "spotter.json"
PROMETHEUS_RULE = CHART / "templates" / "monitoring" / "prometheusrule.yaml"
SPH = "DescribeSpotPriceHistory"

# PromQL's functions and aggregations (followed by "(") and keywords: never metric names.
FUNCTIONS = frozenset({
    "abs", "absent", "absent_over_time", "avg", "avg_over_time", "bottomk", "ceil", "changes",
    "clamp", "clamp_max", "clamp_min", "count", "count_over_time", "count_values", "day_of_month",
    "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp", "floor", "group",
    "histogram_avg", "histogram_count", "histogram_fraction", "histogram_quantile",
    "histogram_stddev", "histogram_stdvar", "histogram_sum", "hour", "idelta", "increase",
    "irate", "label_join", "label_replace", "last_over_time", "limitk", "limit_ratio", "ln",
    "log10", "log2", "max", "max_over_time", "min", "min_over_time", "minute", "month",
    "predict_linear", "present_over_time", "quantile", "quantile_over_time", "rate", "resets",
    "round", "scalar", "sgn", "sort", "sort_by_label", "sort_by_label_desc", "sort_desc", "sqrt",
    "stddev", "stddev_over_time", "stdvar", "stdvar_over_time", "sum", "sum_over_time", "time",
    "timestamp", "topk", "vector", "year",
})
KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2", "by",
                      "without", "on", "ignoring", "group_left", "group_right"})


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or Grafana's label_values query) selects."""
    text = re.sub(r"label_values\(\s*(.*?)\s*,\s*\w+\s*\)\s*$", r"\1", expr.strip())
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', text)
    text = re.sub(r"\{[^{}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges and subqueries
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\$\{?\w+\}?", "0", text)  # Grafana variables
    names: set[str] = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        if text[match.end():].lstrip().startswith("("):
            assert word in FUNCTIONS, f"{word}() is not a PromQL function in {expr!r}"
        elif word.lower() not in KEYWORDS:
            names.add(word)
    return names


def dashboard_queries(node: Any) -> Iterator[str]:
    """Every `expr` of every panel (rows included) and every templating query."""
    if isinstance(node, dict):
        for key, value in node.items():
            is_query = key == "expr" or (key == "query" and "label_values" in str(value))
            if is_query and isinstance(value, str):
                yield value
            else:
                yield from dashboard_queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from dashboard_queries(item)


def rule_expressions(template: str) -> list[str]:
    """The `expr:` of each rule in the PrometheusRule template, template actions blanked."""
    exprs: list[str] = []
    lines = template.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*)expr:\s*(.*)$", line)
        if not match:
            continue
        indent, rest = len(match.group(1)), match.group(2).strip()
        if rest and not rest.startswith((">", "|")):
            body = [rest]
        else:
            body = []
            for following in lines[i + 1:]:
                if following.strip() and len(following) - len(following.lstrip()) <= indent:
                    break
                body.append(following.strip())
        exprs.append(re.sub(r"\{\{.*?\}\}", "1", " ".join(body)))
    return exprs


def test_the_promql_reader_finds_names_and_only_names() -> None:
    assert metric_names(
        'histogram_quantile(0.9, sum by (le, region) (rate(a_bucket{region=~"$region"}'
        '[$__rate_interval]))) / on (region) group_left b offset 5m > bool 1e3'
    ) == {"a_bucket", "b"}
    assert metric_names('label_values(c{product=~"$product"}, region)') == {"c"}
    assert metric_names('time() - max(d{x="sum(y)"}) by (z)') == {"d"}
    assert rule_expressions("  - alert: A\n    expr: >-\n      e > {{ $x | default 3 }}\n"
                            "      or f\n    for: 5m\n") == ["e > 1 or f"]


@pytest.fixture
def exported(
    redis_url: str, api_server: Callable[..., ApiServer], replay_server_factory,
    fetchers: Callable[..., FetcherProcess],
) -> set[str]:
    """Sample names of live scrapes: the API after real traffic over prices a real fetcher
    stored, and that fetcher after a throttled call and a refused region."""
    replay = replay_server_factory(
        throttle_next=1, throttle_regions={"us-east-1"},
        unauthorized_regions={"eu-west-1"}, unauthorized_actions={SPH},
    )
    fetcher = fetchers({"REDIS_URL": redis_url, "SPOTTER_AWS_ENDPOINT_URL": replay.url},
                       ["us-east-1", "eu-west-1"], ["m5.large", "c5.large"],
                       metrics_port=free_port())
    server = api_server({"REDIS_URL": redis_url}, workers=2, threads=2)
    for path in ("/spot-prices/us-east-1/m5.large", "/best-price/m5.large", "/nope"):
        server.get(path)
    names = {name for name, _ in scrape(server.url + "/metrics")}
    names |= {name for name, _ in scrape(fetcher.metrics_url)}
    return names


def test_every_dashboard_query_names_an_exported_series(exported: set[str]) -> None:
    queries = list(dashboard_queries(json.loads(DASHBOARD.read_text())))
    assert len(queries) >= 20
    used: set[str] = set()
    for query in queries:
        names = metric_names(query)
        assert names, f"no metric in {query!r}"
        assert names <= exported, f"{query!r} names {sorted(names - exported)}, not exported"
        used |= names
    # The panels the issue asks for are there: prices, data age, fetch errors, API latency.
    assert {"spotter_spot_price_usd_per_hour", "spotter_region_last_success_timestamp_seconds",
            "spotter_fetch_errors_total", "spotter_http_request_duration_seconds_bucket"} <= used
    print(f"\n{len(queries)} dashboard queries over {len(used)} exported series names")


def test_every_alert_of_the_prometheus_rule_names_an_exported_series(
    exported: set[str],
) -> None:
    exprs = rule_expressions(Path(PROMETHEUS_RULE).read_text())
    assert len(exprs) >= 3
    for expr in exprs:
        names = metric_names(expr)
        assert names, f"no metric in {expr!r}"
        assert names <= exported, f"{expr!r} names {sorted(names - exported)}, not exported"
