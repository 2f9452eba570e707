"""The OpenAPI paths of the report endpoints (webui/api_reports.py), merged by webui.openapi."""

from __future__ import annotations

from typing import Any

JSON = "application/json"
REPORT = {"$ref": "#/components/schemas/Report"}
ERROR = {"$ref": "#/components/schemas/Error"}
FAILURES = {
    401: "No bearer token, or an unknown or expired one (WWW-Authenticate: Bearer)",
    404: "Not a report the caller may see",
    422: "An argument is invalid (unknown formasi or version, a year out of range)",
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _operation(operation_id: str, summary: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "The report's data", "content": {JSON: {"schema": REPORT}}}
    }
    for status, description in FAILURES.items():
        responses[str(status)] = {"description": description, "content": {JSON: {"schema": ERROR}}}
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "parameters": parameters,
            "responses": responses,
        }
    }


YEAR = _query("tahun", {"type": "integer"}, "the year (default: this year; performance: last year)")
REPORT_PATHS: dict[str, Any] = {
    "/api/reports/funnel": _operation(
        "reportFunnel",
        "Recruitment funnel overall, per formasi and per education",
        [_query("formasi", {"type": "string"}, "one formasi's code")],
    ),
    "/api/reports/task-times": _operation(
        "reportTaskTimes",
        "Time in stage per task, slowest open tasks, overdue tasks by unit and person",
        [_query("proses", {"type": "string"}, "one process key")],
    ),
    "/api/reports/heatmap": _operation(
        "reportHeatmap",
        "A process version's BPMN with median wait and open count per element",
        [_query("versi", {"type": "integer"}, "process version id (default: the newest)")],
    ),
    "/api/reports/training": _operation(
        "reportTraining", "JP against the yearly target, requests and feedback", [YEAR]
    ),
    "/api/reports/performance": _operation(
        "reportPerformance", "Predicate distribution per unit and promotion eligibility", [YEAR]
    ),
}
REPORT_SCHEMAS: dict[str, Any] = {
    "Report": {
        "type": "object",
        "required": ["laporan", "data"],
        "properties": {
            "laporan": {
                "type": "string",
                "enum": ["rekrutmen", "waktu", "heatmap", "pelatihan", "kinerja"],
            },
            "data": {
                "type": "object",
                "additionalProperties": True,
                "description": "The report's figures, as on its page (see docs/reports.md)",
            },
        },
    }
}
