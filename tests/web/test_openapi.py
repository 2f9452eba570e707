"""The OpenAPI document matches the API: the same routes and methods, and answers that fit it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.web.conftest import open_task
from tests.web.test_api import Api, api_app
from webui.openapi import document

IGNORED_METHODS = {"HEAD", "OPTIONS"}
TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


@pytest.fixture
def app(db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The app with the API."""
    monkeypatch.setenv("JENJANG_INSTANCE_PATH", str(tmp_path / "instance"))
    return api_app(db_engine, tmp_path)


def resolve(doc: dict[str, Any], pointer: str) -> dict[str, Any]:
    """The schema a local `$ref` points at."""
    found: Any = doc
    for part in pointer.removeprefix("#/").split("/"):
        found = found[part]
    assert isinstance(found, dict), pointer
    return found


def problems(schema: dict[str, Any], value: Any, doc: dict[str, Any], at: str = "$") -> list[str]:
    """Where `value` breaks `schema` (type, enum, required, properties, items).

    Stricter than JSON Schema in one way: an object whose schema lists properties and says
    nothing about others may not carry undocumented keys, so the document cannot fall behind.
    """
    if "$ref" in schema:
        return problems(resolve(doc, schema["$ref"]), value, doc, at)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        is_bool = isinstance(value, bool)
        if not any(
            isinstance(value, TYPES[k]) and not (is_bool and k in ("integer", "number"))
            for k in kinds
        ):
            return [f"{at}: {value!r} is not {'/'.join(kinds)}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{at}: {value!r} not in {schema['enum']}"]
    found: list[str] = []
    if isinstance(value, dict):
        found += [f"{at}: missing {k}" for k in schema.get("required", []) if k not in value]
        properties = schema.get("properties", {})
        others = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                found += problems(properties[key], item, doc, f"{at}.{key}")
            elif isinstance(others, dict):
                found += problems(others, item, doc, f"{at}.{key}")
            elif properties and others is None:
                found.append(f"{at}: undocumented key {key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += problems(schema["items"], item, doc, f"{at}[{index}]")
    return found


def openapi_path(rule: str) -> str:
    """``/api/tasks/<int:task_id>/claim`` -> ``/api/tasks/{task_id}/claim``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def operation_of(doc: dict[str, Any], response: TestResponse, method: str, path: str) -> str:
    """Check an answer against its operation's documented status and schema; the status."""
    templates = [p for p in doc["paths"] if re.fullmatch(re.sub(r"{[^}]+}", "[^/]+", p), path)]
    assert len(templates) == 1, path
    operation = doc["paths"][templates[0]][method]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {path}: {status} is not documented"
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    assert problems(schema, response.get_json(), doc) == [], f"{method} {path} {status}"
    return status


def test_every_route_is_documented_and_every_documented_operation_is_a_route(app: Flask) -> None:
    routes = {
        (openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in (rule.methods or set()) - IGNORED_METHODS
    }
    documented = {
        (path, method) for path, operations in document()["paths"].items() for method in operations
    }
    assert routes == documented
    assert all(path.startswith("/api/") for path, _method in routes)


def test_every_operation_documents_its_answers_and_every_reference_resolves() -> None:
    doc = document()
    assert doc["openapi"].startswith("3.1")
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert any(s.startswith("2") for s in statuses), (path, method)
            public = operation.get("security") == []
            assert public or "401" in statuses, (path, method)
            for name in re.findall(r"{([^}]+)}", path):
                assert name in {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            for status, answer in operation["responses"].items():
                if status == "204":
                    assert "content" not in answer, (path, method)  # no body: nothing to type
                    continue
                schema = answer["content"]["application/json"]["schema"]
                if not status.startswith("2"):
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, method)
    references = re.findall(r"'\$ref': '([^']+)'", repr(doc))
    assert references
    for pointer in references:
        resolve(doc, pointer)


def test_the_checker_catches_what_it_should() -> None:
    doc = document()
    task = {"$ref": "#/components/schemas/Task"}
    assert problems(task, {"id": "1"}, doc)  # wrong type, missing keys
    error = {"$ref": "#/components/schemas/Error"}
    assert problems(error, {"error": "x", "errors": {"a": ["b"]}}, doc) == []
    assert problems(error, {"error": "x", "errors": {}, "extra": 1}, doc)
    assert problems(error, {"error": "x", "errors": {"a": [1]}}, doc)
    assert problems({"type": "integer"}, True, doc)


def test_answers_match_their_documented_schemas(client: FlaskClient, demo: Session) -> None:
    doc = document()
    seen: set[tuple[str, str, str]] = set()

    def check(response: TestResponse, method: str, path: str) -> None:
        seen.add((method, path, operation_of(doc, response, method, path)))

    served = client.get("/api/openapi.json")
    assert served.get_json() == doc
    check(served, "get", "/api/openapi.json")
    check(
        client.post("/api/tokens", json={"username": "x", "password": "y"}), "post", "/api/tokens"
    )
    check(client.post("/api/tokens", json={"username": "x"}), "post", "/api/tokens")
    check(client.post("/api/tokens", data="x"), "post", "/api/tokens")
    check(client.get("/api/tasks"), "get", "/api/tasks")

    api = Api(client).login("atasan1")
    check(api.get("/api/tasks"), "get", "/api/tasks")
    check(api.get("/api/tasks?due=someday"), "get", "/api/tasks")
    check(api.get("/api/processes"), "get", "/api/processes")
    task = open_task(demo, "persetujuan_atasan")
    claim = f"/api/tasks/{task.id}/claim"
    check(api.post(claim), "post", claim)
    check(api.post(f"/api/tasks/{task.id}/unclaim"), "post", f"/api/tasks/{task.id}/unclaim")
    check(api.post("/api/tasks/999999/claim"), "post", "/api/tasks/999999/claim")
    complete = f"/api/tasks/{task.id}/complete"
    check(api.post(complete, json={"data": {"disetujui": False}}), "post", complete)
    check(api.post(complete, data="x", content_type="application/json"), "post", complete)
    check(api.post(complete, json={"data": {"disetujui": True}}), "post", complete)
    check(api.post(complete, json={"data": {"disetujui": True}}), "post", complete)
    check(api.post(claim), "post", claim)  # completed meanwhile: 409

    start = "/api/processes/pelatihan/instances"
    pegawai = Api(client).login("pegawai1")
    started = pegawai.post(start, json={"data": {"pegawai": "pegawai1"}})
    check(started, "post", start)
    check(pegawai.post(start, json={"data": {"_x": 1}}), "post", start)
    check(pegawai.post(start, json={"business_key": 5}), "post", start)
    check(pegawai.post("/api/processes/nope/instances"), "post", "/api/processes/nope/instances")
    mine = f"/api/instances/{started.get_json()['id']}"  # type: ignore[index]
    check(pegawai.get(mine), "get", mine)
    check(Api(client).login("pegawai2").get(mine), "get", mine)

    statuses = {status for _m, _p, status in seen}
    assert {"200", "201", "400", "401", "404", "409", "422"} <= statuses
