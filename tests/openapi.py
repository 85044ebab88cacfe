"""Checking the API's answers against the OpenAPI document it serves."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator


def openapi_validator(client, path: str, status: int, method: str = "get") -> Draft202012Validator:
    """The schema the served OpenAPI document gives for METHOD PATH's answer with STATUS."""
    document = client.get("/api/schema/?format=json").json()
    response = document["paths"][path][method]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    # OpenAPI 3.0's "nullable" is JSON Schema's type union with null.
    components = json.loads(
        json.dumps(document["components"]),
        object_hook=lambda o: {"anyOf": [o, {"type": "null"}]} if o.pop("nullable", False) else o,
    )
    root = {**schema, "components": components}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_errors(client, path: str, response, method: str = "get") -> list[str]:
    validator = openapi_validator(client, path, response.status_code, method)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(response.json())]
