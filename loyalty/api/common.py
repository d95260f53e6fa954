"""Pieces every resource module uses: the blueprint, the error docs and computed nested fields."""
from functools import wraps

import flask_smorest
import marshmallow as ma
from flask import request
from flask.views import MethodView

from loyalty import errors
from loyalty.api.errors import ErrorSchema
from loyalty.api.parsing import ApiParser, unknown_query_parameters

QUERY_LOCATIONS = ("query", "querystring")


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, with argument schemas made once instead of on every request, and
    strict parsing: bodies through strict_json, and a 422 for any query parameter a view does not
    take (its query schema raises on unknown ones; a view without one takes none)."""

    ARGUMENTS_PARSER = ApiParser()

    def arguments(self, schema, *args, **kwargs):
        # Given a class, webargs builds a new schema (deep-copying its fields) for each request.
        if isinstance(schema, type):
            schema = schema()
        decorator = super().arguments(schema, *args, **kwargs)
        if kwargs.get("location") not in QUERY_LOCATIONS:
            return decorator

        def marked(view):
            view = decorator(view)
            view.takes_query = True  # carried outwards by functools.wraps
            return view

        return marked

    def route(self, rule, **kwargs):
        register = super().route(rule, **kwargs)

        def decorator(view):
            if isinstance(view, type) and issubclass(view, MethodView):
                for method in view.methods:
                    handler = getattr(view, method.lower())
                    setattr(view, method.lower(), self._without_unknown_query(handler))
            else:
                view = self._without_unknown_query(view)
            return register(view)

        return decorator

    def _without_unknown_query(self, view):
        """Refuse query parameters when the view declares no query schema (and document the 422)."""
        if getattr(view, "takes_query", False):
            return view

        @wraps(view)
        def wrapper(*args, **kwargs):
            if request.args:
                raise unknown_query_parameters(request.args)
            return view(*args, **kwargs)

        if 422 in getattr(view, "documented_statuses", ()):
            return wrapper
        return self.doc(responses={422: error_response("validation_error (a query parameter it does not take)")})(wrapper)


class Computed(ma.fields.Nested):
    """A dump-only nested value computed from the object by `getter` (documented by its schema).

    A dict value is written by the nested schema's fields themselves, without a nested
    `Schema.dump`: its general machinery (hooks, accessors, missing values) costs more than the
    few fields it writes, three times on every member read. So a nested schema used with dicts
    must be plain: no dump hooks, and every field's key in the dict (tests/test_members.py).
    """

    def __init__(self, nested, getter, **kwargs):
        super().__init__(nested, dump_only=True, **kwargs)
        self.getter = getter
        self._plain_fields = None

    def get_value(self, obj, attr, accessor=None, default=ma.missing):
        return self.getter(obj)

    def _serialize(self, nested_obj, attr, obj, **kwargs):
        if not isinstance(nested_obj, dict):
            return super()._serialize(nested_obj, attr, obj, **kwargs)
        if self._plain_fields is None:
            self._plain_fields = [(field.data_key or name, field.attribute or name, field)
                                  for name, field in self.schema.dump_fields.items()]
        return {key: None if (value := nested_obj[source]) is None else field._serialize(value, key, nested_obj)
                for key, source, field in self._plain_fields}


def documents_errors(blp, *error_classes: type[errors.LoyaltyError]):
    """Document, on one endpoint, the error responses it can give, grouped by status."""
    by_status: dict[int, list[str]] = {}
    for error_class in error_classes:
        by_status.setdefault(error_class.status, []).append(error_class.code)

    def decorator(view):
        # One doc decorator for them all: each decorator is a call more on every request.
        view = blp.doc(responses={status: error_response(", ".join(sorted(set(codes))))
                                  for status, codes in sorted(by_status.items())})(view)
        view.documented_statuses = {*getattr(view, "documented_statuses", ()), *by_status}
        return view

    return decorator


def error_response(codes: str) -> dict:
    """An error response in /openapi.json: `codes` are the error codes it may carry."""
    return {"description": f"Error codes: {codes}", "content": {"application/json": {"schema": ErrorSchema}}}


AUTH_ERRORS = (errors.Unauthenticated, errors.Forbidden)
