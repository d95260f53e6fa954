"""/openapi.json tells an integrator what they need (API.md, Operations): every operation names the
roles that may call it, and every input field, in a body or the query, has a description.

New endpoints must pass this too: roles come from `requires` (or `no_credential`), shared field
descriptions from loyalty/api/descriptions.py, particular ones from the field's own metadata."""
import re

import pytest

from loyalty.api.security import ROLE_ORDER
from tests.helpers import allowed_roles

METHODS = ("get", "post", "put", "patch", "delete")


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def resolve(spec, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return {**resolve(spec, schema["allOf"][0]), **{k: v for k, v in schema.items() if k != "allOf"}}
    return schema


def undescribed_fields(spec, schema: dict, where: str):
    """Input fields (not readOnly) without a description, nested objects and lists of them included."""
    schema = resolve(spec, schema)
    for name, prop in schema.get("properties", {}).items():
        if prop.get("readOnly"):
            continue
        field = f"{where}.{name}"
        if not (prop.get("description") or resolve(spec, prop).get("description")):
            yield field
        inner = resolve(spec, prop)
        if inner.get("type") == "array" and isinstance(inner.get("items"), dict):
            inner = resolve(spec, inner["items"])
        if "properties" in inner:
            yield from undescribed_fields(spec, inner, field)


def roles_named(description: str) -> set[str] | None:
    """The roles a description's `Roles: ...` line names; set() for `Roles: none`; None without one."""
    found = re.search(r"^Roles: (.+?)[.;]", description, re.MULTILINE)
    if not found:
        return None
    named = {role.strip() for role in found.group(1).split(",")}
    return set() if named == {"none"} else named


def test_every_operation_names_the_roles_that_may_call_it(app, spec):
    problems = []
    for name, operation in operations(spec):
        method, path = name.split(" ", 1)
        named = roles_named(operation.get("description", ""))
        if named is None:
            problems.append(f"{name}: no 'Roles:' line in its description")
            continue
        assert named <= set(ROLE_ORDER), (name, named)
        public = operation.get("security") == []
        if public != (named == set()):
            problems.append(f"{name}: security {operation.get('security')} but description names {named or 'none'}")
        enforced = allowed_roles(app, path, method.lower())
        if enforced is not None and named != enforced:
            problems.append(f"{name}: description names {sorted(named)}, requires lets in {sorted(enforced)}")
    assert problems == []


def test_every_input_field_has_a_description(spec):
    missing = []
    for name, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and not parameter.get("description"):
                missing.append(f"{name} ?{parameter['name']}")
        body = operation.get("requestBody", {}).get("content", {}).get("application/json")
        if body:
            missing += undescribed_fields(spec, body["schema"], name)
    assert missing == []


def test_the_checks_see_what_they_look_for(spec):
    """The walk reaches nested input objects and query parameters (so an empty result means something)."""
    patch = spec["paths"]["/v1/program"]["patch"]
    body = resolve(spec, patch["requestBody"]["content"]["application/json"]["schema"])
    point_value = resolve(spec, body["properties"]["point_value"])
    assert {"amount", "currency"} <= point_value["properties"].keys()
    assert list(undescribed_fields(spec, {"properties": {"x": {"type": "string"}}}, "probe")) == ["probe.x"]
    limits = [p for p in spec["paths"]["/v1/members"]["get"]["parameters"] if p["name"] == "limit"]
    assert "1–100" in limits[0]["description"]
    assert roles_named("Summary\n\nRoles: admin, manager.") == {"admin", "manager"}
    assert roles_named("Roles: none; no credential needed (why).") == set()
