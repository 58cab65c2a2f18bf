"""The OpenAPI document and the code agree: patterns, products and every error code."""

from __future__ import annotations

import re
from pathlib import Path

import falcon.testing
import pytest

from spotter.api import openapi, params
from spotter.api.errors import ERROR_CODES
from spotter.model import INSTANCE_TYPE_RE, REGION_RE

API_SOURCES = Path(params.__file__).parent


def test_document_is_a_valid_openapi_31_document() -> None:
    from openapi_spec_validator import validate

    validate(openapi.document())


def test_component_schemas_are_valid_json_schemas() -> None:
    import jsonschema

    for schema in openapi.SCHEMAS.values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_path_patterns_are_the_validators_patterns() -> None:
    parameters = openapi.document()["components"]["parameters"]
    assert parameters["Region"]["schema"]["pattern"] == REGION_RE.pattern
    assert parameters["InstanceType"]["schema"]["pattern"] == INSTANCE_TYPE_RE.pattern
    assert parameters["Product"]["schema"]["enum"] == list(params.PRODUCT_FORMS)
    assert parameters["MaxAge"]["schema"]["pattern"] == params.DURATION_PATTERN


def test_every_error_code_raised_in_the_api_is_documented() -> None:
    raised: set[str] = set()
    for source in API_SOURCES.glob("*.py"):
        text = source.read_text()
        raised |= set(re.findall(r'(?:bad_request|not_found|unavailable)\(\s*"([a-z_]+)"', text))
        raised |= set(re.findall(r'ApiError\(\s*\d+,\s*"([a-z_]+)"', text))
        raised |= set(re.findall(r'_answer\(resp, \d+, "([a-z_]+)"', text))
    assert {"invalid_region", "no_spot_offer", "region_not_enabled"} <= raised
    assert raised <= set(ERROR_CODES)


def test_documented_error_statuses_of_each_route() -> None:
    paths = openapi.document()["paths"]
    prices = paths["/spot-prices/{region}/{instance_type}"]["get"]["responses"]
    assert set(prices) == {"200", "400", "403", "404", "414", "500", "503"}
    assert "Retry-After" in prices["503"]["headers"]
    assert set(paths["/best-price/{instance_type}"]["get"]["responses"]) == {
        "200", "400", "403", "404", "414", "500", "503"}


def test_document_is_served_as_json() -> None:
    from spotter.api.app import create_app
    from spotter.config import Settings

    app = create_app(lambda: pytest.fail("the document needs no store"), Settings())
    result = falcon.testing.TestClient(app).simulate_get("/openapi.json")
    assert result.status_code == 200 and result.json == openapi.document()


def test_documented_query_parameters_are_the_ones_each_route_takes() -> None:
    from spotter.api.app import create_app
    from spotter.config import Settings

    app = create_app(lambda: pytest.fail("no store needed"), Settings())
    doc = openapi.document()
    components = doc["components"]["parameters"]
    for template, item in doc["paths"].items():
        path = template.replace("{region}", "us-east-1").replace("{instance_type}", "t3.micro")
        resource = app._router.find(path)[0]
        documented = [components[p["$ref"].rsplit("/", 1)[1]] for p in item["get"]["parameters"]]
        query = tuple(p["name"] for p in documented if p["in"] == "query")
        assert query == resource.QUERY, template
