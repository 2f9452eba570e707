"""The OpenAPI 3.1 description of the JSON API (webui/api.py), as plain data.

tests/web/test_openapi.py keeps it honest: every route of the API is here with its method,
everything here is a route, and answers the tests receive match the schema of their status.
"""

from __future__ import annotations

from typing import Any

from webui.openapi_reports import REPORT_PATHS, REPORT_SCHEMAS

JSON = "application/json"
NULLABLE_STRING = {"type": ["string", "null"]}
MOMENT = {"type": ["string", "null"], "format": "date-time", "description": "UTC, no offset"}


def ref(name: str) -> dict[str, str]:
    """A reference to a schema under components."""
    return {"$ref": f"#/components/schemas/{name}"}


def body(schema: str, description: str) -> dict[str, Any]:
    """A JSON response (or request body) of the named schema."""
    return {"description": description, "content": {JSON: {"schema": ref(schema)}}}


ERRORS = {
    400: "Malformed request: the body is not a JSON object, or a parameter is invalid",
    401: "No bearer token, or an unknown or expired one (WWW-Authenticate: Bearer)",
    403: "The caller does not take part in this process (holds none of its lanes' roles)",
    404: "Unknown, or not the caller's to see",
    409: "Stale: the task was completed or claimed by someone else meanwhile",
    422: "The data does not pass the task's form; messages per field",
    429: "Too many failed logins for this username (Retry-After)",
}


def responses(success: int, schema: str, description: str, *errors: int) -> dict[str, Any]:
    """The success answer and the listed error answers, all JSON."""
    out: dict[str, Any] = {str(success): body(schema, description)}
    for status in errors:
        out[str(status)] = body("Error", ERRORS[status])
    return out


TASK_ID = {
    "name": "task_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer"},
}


def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """An optional query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


TASK_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer"},
    "instance_id": {"type": "integer"},
    "process": {"type": "string", "description": "process key"},
    "business_key": NULLABLE_STRING,
    "element_id": {"type": "string", "description": "BPMN task id"},
    "name": {"type": "string"},
    "role": NULLABLE_STRING,
    "assignee": NULLABLE_STRING,
    "form_key": NULLABLE_STRING,
    "due_at": MOMENT,
    "created_at": MOMENT,
    "claimed_by": NULLABLE_STRING,
    "completed_by": NULLABLE_STRING,
    "completed_at": MOMENT,
    "outcome": NULLABLE_STRING,
}

PROCESS_PROPERTIES: dict[str, Any] = {
    "kind": {"type": "string", "enum": ["process"]},
    "key": {"type": "string"},
    "name": {"type": "string"},
    "version": {"type": "integer", "description": "the latest version"},
    "versions": {"type": "array", "items": {"type": "integer"}},
    "dialect": {"type": "string", "enum": ["spiff", "camunda"]},
    "deployed_by": {"type": "string"},
    "deployed_at": MOMENT,
    "active_instances": {"type": "integer"},
    "warnings": {"type": "array"},
}

DECISION_PROPERTIES: dict[str, Any] = {
    "kind": {"type": "string", "enum": ["decision"]},
    "key": {"type": "string"},
    "name": {"type": "string"},
    "version": {"type": "integer"},
    "deployed_by": {"type": "string"},
    "deployed_at": MOMENT,
}

HISTORY_PROPERTIES: dict[str, Any] = {
    "at": MOMENT,
    "actor": {"type": "string"},
    "action": {"type": "string"},
    "element": NULLABLE_STRING,
    "task_id": {"type": ["integer", "null"]},
    "detail": {"description": "what the step recorded, e.g. the submitted data"},
}

INSTANCE_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer"},
    "process": {"type": "string"},
    "version": {"type": "integer"},
    "business_key": NULLABLE_STRING,
    "state": {"type": "string", "enum": ["running", "waiting", "completed", "error", "cancelled"]},
    "started_by": NULLABLE_STRING,
    "started_at": MOMENT,
    "updated_at": MOMENT,
    "ended_at": MOMENT,
    "error": {
        "type": ["object", "null"],
        "required": ["element", "message"],
        "properties": {"element": NULLABLE_STRING, "message": NULLABLE_STRING},
    },
    "open_tasks": {"type": "array", "items": ref("Task")},
    "history": {"type": "array", "items": ref("HistoryEntry")},
}


def strict(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    """An object schema whose listed properties are all required."""
    schema: dict[str, Any] = {
        "type": "object",
        "required": list(properties),
        "properties": properties,
    }
    if description:
        schema["description"] = description
    return schema


SCHEMAS: dict[str, Any] = {
    "Error": strict(
        {
            "error": {"type": "string", "description": "one sentence, in the asked language"},
            "errors": {
                "type": "object",
                "description": "messages per field or parameter (`_form`: the whole form)",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        }
    ),
    "TokenRequest": strict({"username": {"type": "string"}, "password": {"type": "string"}}),
    "Token": strict(
        {
            "token": {"type": "string"},
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "expires_at": {"type": "string", "format": "date-time"},
            "expires_in": {"type": "integer", "description": "seconds"},
            "username": {"type": "string"},
        }
    ),
    "Task": strict(TASK_PROPERTIES),
    "TaskList": strict(
        {
            "tasks": {"type": "array", "items": ref("Task")},
            "total": {
                "type": "integer",
                "description": "matching tasks, counted up to the server's cap (1,000 by default)",
            },
            "total_capped": {
                "type": "boolean",
                "description": "true when more tasks match than `total` says",
            },
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "pages": {"type": "integer"},
        }
    ),
    "TaskResult": strict({"task": ref("Task")}),
    "Completion": strict({"task": ref("Task"), "instance": ref("InstanceState")}),
    "Document": strict(
        {
            "filename": {"type": "string"},
            "content_base64": {"type": "string", "contentEncoding": "base64"},
        }
    ),
    "CompleteRequest": {
        "type": "object",
        "properties": {
            "data": {"type": "object", "description": "field name -> value, as the form takes it"},
            "files": {
                "type": "object",
                "description": "documents for the form's document fields",
                "additionalProperties": ref("Document"),
            },
        },
    },
    "StartRequest": {
        "type": "object",
        "properties": {
            "data": {"type": "object", "description": "the instance's initial data"},
            "business_key": NULLABLE_STRING,
        },
    },
    "HistoryEntry": strict(HISTORY_PROPERTIES),
    "Instance": strict(INSTANCE_PROPERTIES),
    "InstanceState": strict(
        {k: v for k, v in INSTANCE_PROPERTIES.items() if k != "history"},
        "An instance without its history (GET /api/instances/{instance_id} has it)",
    ),
    "Process": strict(PROCESS_PROPERTIES),
    "Decision": strict(DECISION_PROPERTIES),
    "ProcessList": strict(
        {
            "processes": {"type": "array", "items": ref("Process")},
            "decisions": {"type": "array", "items": ref("Decision")},
        }
    ),
    "Problem": strict(
        {
            "file": {"type": "string"},
            "element": {"type": "string", "description": "BPMN/DMN element id, or -"},
            "message": {"type": "string"},
            "severity": {"type": "string", "enum": ["error", "warning"]},
        }
    ),
    "Deployment": strict(
        {
            "deployed": {
                "type": "array",
                "items": strict(
                    {
                        "kind": {"type": "string", "enum": ["process", "decision"]},
                        "key": {"type": "string"},
                        "version": {"type": "integer"},
                        "changed": {"type": "boolean", "description": "false: identical, kept"},
                    }
                ),
            },
            "problems": {"type": "array", "items": ref("Problem"), "description": "warnings"},
        }
    ),
    "Validation": strict(
        {
            "valid": {"type": "boolean"},
            "problems": {"type": "array", "items": ref("Problem"), "description": "warnings"},
        }
    ),
    "VersionList": strict(
        {
            "key": {"type": "string"},
            "versions": {
                "type": "array",
                "items": strict(
                    {
                        "key": {"type": "string"},
                        "version": {"type": "integer"},
                        "name": {"type": "string"},
                        "dialect": {"type": "string", "enum": ["spiff", "camunda"]},
                        "deployed_by": {"type": "string"},
                        "deployed_at": MOMENT,
                        "instances": {
                            "type": "object",
                            "description": "instances of this version by state",
                            "additionalProperties": {"type": "integer"},
                        },
                        "active_instances": {"type": "integer"},
                    }
                ),
            },
        }
    ),
    "VersionXml": strict(
        {"key": {"type": "string"}, "version": {"type": "integer"}, "xml": {"type": "string"}}
    ),
}
# A rejected deployment (POST /api/processes, /api/processes/validate) also lists its problems.
SCHEMAS["Error"]["properties"]["problems"] = {
    "type": "array",
    "items": ref("Problem"),
    "description": "deployment problems, each with its file, element and severity",
}

TASK_FILTERS = [
    query(
        "scope",
        {"type": "string", "enum": ["all", "mine", "team"], "default": "all"},
        "mine: claimed by or assigned to me; team: my roles' unclaimed tasks; all: both",
    ),
    query("process", {"type": "string"}, "process key"),
    query("task", {"type": "string"}, "BPMN task (element) id"),
    query(
        "due",
        {"type": "string", "enum": ["overdue", "today", "week", "none"]},
        "overdue; due by the end of today (agency time zone); within 7 days; no due date",
    ),
    query("q", {"type": "string", "maxLength": 100}, "part of the business key"),
    query(
        "sort",
        {
            "type": "string",
            "enum": ["due", "-due", "created", "-created", "updated"],
            "default": "due",
        },
        "`-` for descending; `updated`: the most recently changed instance first",
    ),
    query("page", {"type": "integer", "minimum": 1, "default": 1}, "page number"),
    query(
        "per_page",
        {"type": "integer", "minimum": 1, "maximum": 100},
        "tasks per page (default: the inbox's page size)",
    ),
]

KEY = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
DEPLOY_FILES = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "description": "one or more .bpmn/.dmn files, under any field name",
                "additionalProperties": {"type": "string", "format": "binary"},
            }
        }
    },
}


def deploy_responses(base: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Answers of deploying or validating files: 422 lists every problem."""
    invalid = body("Error", "Invalid files: every problem in `problems`; nothing stored")
    return {**base, **(extra or {}), "422": invalid}


PATHS: dict[str, Any] = {
    "/api/tokens": {
        "post": {
            "operationId": "createToken",
            "summary": "Exchange a username and password for a bearer token",
            "security": [],
            "requestBody": {"required": True, "content": {JSON: {"schema": ref("TokenRequest")}}},
            "responses": responses(201, "Token", "A new token", 400, 401, 422, 429),
        }
    },
    "/api/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1",
                    "content": {JSON: {"schema": {"type": "object"}}},
                }
            },
        }
    },
    "/api/tasks": {
        "get": {
            "operationId": "listTasks",
            "summary": "Open tasks the caller may act on, as in the inbox",
            "parameters": TASK_FILTERS,
            "responses": responses(200, "TaskList", "One page of tasks", 400, 401),
        }
    },
    "/api/tasks/{task_id}/claim": {
        "post": {
            "operationId": "claimTask",
            "summary": "Claim a task",
            "parameters": [TASK_ID],
            "responses": responses(200, "TaskResult", "The claimed task", 401, 404, 409),
        }
    },
    "/api/tasks/{task_id}/unclaim": {
        "post": {
            "operationId": "unclaimTask",
            "summary": "Give a claimed task back to its role",
            "parameters": [TASK_ID],
            "responses": responses(200, "TaskResult", "The task, unclaimed", 401, 404, 409),
        }
    },
    "/api/tasks/{task_id}/complete": {
        "post": {
            "operationId": "completeTask",
            "summary": "Complete a task with data checked by its form",
            "parameters": [TASK_ID],
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": ref("CompleteRequest")}},
            },
            "responses": responses(
                200,
                "Completion",
                "The completed task, and its instance's state and open tasks (no history)",
                400,
                401,
                404,
                409,
                422,
            ),
        }
    },
    "/api/processes": {
        "get": {
            "operationId": "listProcesses",
            "summary": "Deployed processes with their versions, and decisions",
            "responses": responses(200, "ProcessList", "Processes and decisions", 401),
        },
        "post": {
            "operationId": "deployProcesses",
            "summary": "Validate and deploy BPMN/DMN files (process owners and admins)",
            "requestBody": DEPLOY_FILES,
            "responses": deploy_responses(
                responses(201, "Deployment", "New versions stored", 400, 401, 403),
                {"200": body("Deployment", "Nothing changed: identical content, no new version")},
            ),
        },
    },
    "/api/processes/validate": {
        "post": {
            "operationId": "validateProcesses",
            "summary": "Run the deployment's validation without storing anything",
            "requestBody": DEPLOY_FILES,
            "responses": deploy_responses(
                responses(200, "Validation", "Valid (warnings listed)", 400, 401, 403)
            ),
        }
    },
    "/api/processes/{key}/versions": {
        "get": {
            "operationId": "listVersions",
            "summary": "Every version of a process, newest first (process owners and admins)",
            "parameters": [KEY],
            "responses": responses(200, "VersionList", "The versions", 401, 403, 404),
        }
    },
    "/api/processes/{key}/versions/{number}/xml": {
        "get": {
            "operationId": "getVersionXml",
            "summary": "The BPMN XML of a version (JSON with `xml` when Accept asks for JSON)",
            "parameters": [
                KEY,
                {"name": "number", "in": "path", "required": True, "schema": {"type": "integer"}},
            ],
            "responses": {
                **responses(200, "VersionXml", "The XML", 401, 403, 404),
                "200": {
                    "description": "The XML (application/xml unless JSON is asked for)",
                    "content": {
                        "application/xml": {"schema": {"type": "string"}},
                        JSON: {"schema": ref("VersionXml")},
                    },
                },
            },
        }
    },
    "/api/processes/{key}/instances": {
        "post": {
            "operationId": "startInstance",
            "summary": "Start the latest version of a process",
            "parameters": [
                {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "requestBody": {"required": False, "content": {JSON: {"schema": ref("StartRequest")}}},
            "responses": responses(
                201, "Instance", "The new instance (Location header)", 400, 401, 403, 404, 422
            ),
        }
    },
    "/api/instances/{instance_id}": {
        "get": {
            "operationId": "getInstance",
            "summary": "An instance the caller started or has a task in",
            "parameters": [
                {
                    "name": "instance_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer"},
                }
            ],
            "responses": responses(200, "Instance", "State, open tasks and history", 401, 404),
        }
    },
}

PATHS["/api/tokens/current"] = {
    "delete": {
        "operationId": "revokeToken",
        "summary": "End the token of this request (log out); later calls with it get 401",
        "responses": {
            "204": {"description": "The token no longer works"},
            "401": body("Error", ERRORS[401]),
        },
    }
}
PATHS["/api/messages/{name}"] = {  # webui/api_messages.py
    "post": {
        "operationId": "sendMessage",
        "summary": "A message from outside (admin or role integrasi): delivered or kept",
        "parameters": [
            {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
        ],
        "requestBody": {"required": True, "content": {JSON: {"schema": ref("MessageRequest")}}},
        "responses": {
            **responses(
                200, "MessageSent", "Caught by `delivered` waiting instances", 400, 401, 403, 422
            ),
            "202": body("MessageSent", "Nothing waits for it yet: kept until `kept_until` (UTC)"),
        },
    }
}
SCHEMAS["MessageRequest"] = {
    "type": "object",
    "properties": {
        "correlation": {
            "type": "object",
            "description": 'values of the message\'s correlation properties, e.g. {"nip": "…"}',
        },
        "data": {"type": "object", "description": "the payload the catching instance receives"},
    },
}
SCHEMAS["MessageSent"] = strict(
    {
        "message": {"type": "string"},
        "delivered": {"type": "integer", "minimum": 0},
        "kept_until": MOMENT,
    }
)
PATHS.update(REPORT_PATHS)  # webui/api_reports.py
SCHEMAS.update(REPORT_SCHEMAS)

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Jenjang API",
        "version": "1",
        "description": (
            "Tasks and instances of the ASN career processes. Same rules as the web pages. "
            "Messages are in Indonesian unless Accept-Language asks for English (en)."
        ),
    },
    "security": [{"bearer": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": SCHEMAS,
    },
}


def document() -> dict[str, Any]:
    """The OpenAPI document served at /api/openapi.json."""
    return DOCUMENT
