"""The OpenAPI 3.1 document served at ``/api/v1/openapi.json``; schemas come from the msgspec
types in contracts/api.py, so the document cannot drift from what the edge decodes."""

from __future__ import annotations

from typing import Any

import msgspec

from contracts.api import (
    Accepted,
    AdminMetrics,
    BatchAccepted,
    BatchRequest,
    CellRequest,
    ErrorBody,
    ExecutionList,
    ExecutionRequest,
    ExecutionResult,
    NotebookInfo,
    NotebookRequest,
    QueueStatsView,
    RuntimeInfo,
)

TYPES = (ExecutionRequest, BatchRequest, Accepted, BatchAccepted, ExecutionResult, ExecutionList,
         ErrorBody, RuntimeInfo, QueueStatsView, AdminMetrics, NotebookRequest, NotebookInfo,
         CellRequest)


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str | dict[str, Any], description: str) -> dict[str, Any]:
    schema = _ref(name) if isinstance(name, str) else name
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    words = {400: "Invalid request", 401: "No valid API key", 403: "Not an admin key",
             404: "Not found", 409: "Conflict", 413: "Body too large",
             422: "Idempotency-Key reused with another body",
             429: "Rate limit, quota or queue full (see Retry-After)", 503: "Not ready"}
    return {str(s): _json("ErrorBody", words[s]) for s in statuses}


WAIT = {"name": "wait", "in": "query", "required": False,
        "description": "Answer once the execution completed (bounded by WAIT_MAX seconds).",
        "schema": {"type": "boolean"}}
TIMEOUT = {"name": "timeout", "in": "query", "required": False,
           "description": "Seconds to wait with wait=true (at most WAIT_MAX).",
           "schema": {"type": "number", "minimum": 0}}
ID = {"name": "id", "in": "path", "required": True,
      "schema": {"type": "string", "minLength": 1, "maxLength": 64}}
NOTEBOOK = {"name": "id", "in": "path", "required": True, "description": "The notebook's id.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 64,
                       "pattern": "^[A-Za-z0-9_-]+$"}}
LIST = [
    {"name": "limit", "in": "query", "required": False,
     "description": "Executions per page (default 20).",
     "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
    {"name": "cursor", "in": "query", "required": False,
     "description": "The nextCursor of the page before.", "schema": {"type": "string"}},
    {"name": "status", "in": "query", "required": False,
     "schema": {"type": "string", "enum": ["queued", "running", "completed"]}},
    {"name": "language", "in": "query", "required": False,
     "description": "A runtime name or alias.", "schema": {"type": "string"}},
]
IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False,
               "description": "The same key and body within a day return the first execution.",
               "schema": {"type": "string", "minLength": 1, "maxLength": 255}}


def _paths() -> dict[str, Any]:
    return {
        "/api/v1/executions": {"get": {
            "summary": "The key's own executions, newest first, without their output",
            "operationId": "listExecutions",
            "parameters": LIST,
            "responses": {"200": _json("ExecutionList", "A page"),
                          **_errors(400, 401, 429, 503)},
        }, "post": {
            "summary": "Run a program",
            "operationId": "createExecution",
            "parameters": [WAIT, TIMEOUT, IDEMPOTENCY],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("ExecutionRequest")}}},
            "responses": {"200": _json("ExecutionResult", "Completed (with wait=true)"),
                          "202": _json({"oneOf": [_ref("Accepted"), _ref("ExecutionResult")]},
                                       "Queued, or still running after the wait"),
                          **_errors(400, 401, 409, 413, 422, 429, 503)},
        }},
        "/api/v1/executions/batch": {"post": {
            "summary": "Run up to 20 programs, each accepted or refused alone",
            "operationId": "createBatch",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("BatchRequest")}}},
            "responses": {"202": _json("BatchAccepted", "One entry per execution"),
                          **_errors(400, 401, 413, 429)},
        }},
        "/api/v1/executions/{id}": {
            "get": {"summary": "Status, or the result once completed",
                    "operationId": "getExecution", "parameters": [ID, WAIT, TIMEOUT],
                    "responses": {"200": _json("ExecutionResult", "The execution"),
                                  **_errors(400, 401, 404, 429)}},
            "delete": {"summary": "Cancel a queued or running execution",
                       "operationId": "cancelExecution", "parameters": [ID],
                       "responses": {"200": _json("ExecutionResult", "Ended (cancelled)"),
                                     "202": _json("ExecutionResult", "Stopping"),
                                     **_errors(401, 404, 409, 429)}},
        },
        **_notebook_paths(),
        "/api/v1/runtimes": {"get": {
            "summary": "Languages a live runner serves", "operationId": "listRuntimes",
            "responses": {"200": _json({"type": "array", "items": _ref("RuntimeInfo")},
                                       "Runtimes")}}},
        "/api/queue-stats": {"get": {
            "summary": "Queue depth per priority, counts and recent task times",
            "operationId": "queueStats",
            "responses": {"200": _json("QueueStatsView", "Queue statistics"),
                          **_errors(401, 429, 503)}}},
        "/api/admin/metrics": {"get": {
            "summary": "Runners, pools, reuse rate and creation times (admin key)",
            "operationId": "adminMetrics",
            "responses": {"200": _json("AdminMetrics", "System metrics"),
                          **_errors(401, 403, 429)}}},
    }


def _notebook_command(summary: str, operation: str) -> dict[str, Any]:
    return {"summary": summary, "operationId": operation, "parameters": [NOTEBOOK],
            "responses": {"200": _json("NotebookInfo", "The kernel's state ('none': no kernel "
                                       "was running)"), **_errors(401, 404, 429)}}


def _notebook_paths() -> dict[str, Any]:
    return {
        "/api/v1/notebooks": {"post": {
            "summary": "Open a notebook (its kernel starts with the first cell)",
            "operationId": "openNotebook",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("NotebookRequest")}}},
            "responses": {"201": _json("NotebookInfo", "Opened"),  # 404: its workspace
                          **_errors(400, 401, 404, 413, 429, 503)},
        }},
        "/api/v1/notebooks/{id}": {"delete": _notebook_command(
            "Close a notebook: its kernel and state are removed", "closeNotebook")},
        "/api/v1/notebooks/{id}/cells": {"post": {
            "summary": "Run a cell in the notebook's kernel (priority 0, after its earlier "
                       "cells); the answer is an execution",
            "operationId": "runCell",
            "parameters": [NOTEBOOK, WAIT, TIMEOUT],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("CellRequest")}}},
            "responses": {"200": _json("ExecutionResult", "Completed (with wait=true)"),
                          "202": _json({"oneOf": [_ref("Accepted"), _ref("ExecutionResult")]},
                                       "Queued, or still running after the wait"),
                          **_errors(400, 401, 404, 413, 429, 503)},
        }},
        "/api/v1/notebooks/{id}/interrupt": {"post": _notebook_command(
            "Interrupt the running cell (SIGINT); the state stays", "interruptNotebook")},
        "/api/v1/notebooks/{id}/restart": {"post": _notebook_command(
            "Restart the kernel: its state is cleared", "restartNotebook")},
    }


def _with_cross_origin_refusals(paths: dict[str, Any]) -> dict[str, Any]:
    """Every state-changing operation may be refused for a page of another site (403) and a
    body that is not JSON (415): edge/cross_origin.py, before any route."""
    for operations in paths.values():
        for method, operation in operations.items():
            if method in ("post", "delete"):
                responses = operation["responses"]
                responses.setdefault("403", _json("ErrorBody", "Not an admin key, or a request "
                                                  "from a page of another site"))
                if method == "post":
                    responses["415"] = _json("ErrorBody", "The body is not application/json")
    return paths


def openapi_document() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        TYPES, ref_template="#/components/schemas/{name}"
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "CodeRunner API", "version": "1",
                 "description": "Run untrusted code in hardened sandboxes. See docs/api.md."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {}],
        "paths": _with_cross_origin_refusals(_paths()),
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
