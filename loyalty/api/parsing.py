"""How requests are read, for every endpoint at once: JSON bodies and query strings.

Flask's `request.get_json()` and flask-smorest's argument parser (webargs) both read bodies
through loyalty.strict_json, so a malformed body is one 422 validation_error that says why,
whichever reads it. Query strings are strict: a parameter an endpoint does not take is a 422,
not silently ignored (an ignored `?phone=` once listed every member).
"""
import marshmallow as ma
from flask import Request
from flask.json.provider import DefaultJSONProvider
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from loyalty import strict_json
from loyalty.errors import ValidationFailed

NOT_JSON = "Send the body as JSON, with the header Content-Type: application/json."


def malformed(error: strict_json.MalformedJson) -> ValidationFailed:
    return ValidationFailed(str(error), fields={"_body": [str(error)]})


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, with bodies parsed by strict_json (app.json; used by request.get_json)."""

    def loads(self, s, **kwargs):
        return strict_json.loads(s)


class ApiRequest(Request):
    def on_json_loading_failed(self, e):
        if isinstance(e, strict_json.MalformedJson):
            raise malformed(e)
        if e is None:  # get_json() on a body sent without a JSON Content-Type
            raise ValidationFailed(NOT_JSON, fields={"_body": [NOT_JSON]})
        return super().on_json_loading_failed(e)


class ApiParser(FlaskParser):
    """webargs, reading bodies with strict_json and refusing unknown query parameters."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
                                   "query": ma.RAISE, "querystring": ma.RAISE}

    def load_json(self, req, schema):
        body = req.get_data(cache=True)
        if not body.strip():
            return core.missing  # no body at all: each required field says it is missing
        if not is_json_request(req):
            # Not "missing field" for a body sent as a form (curl -d without -H, say).
            raise ValidationFailed(NOT_JSON, fields={"_body": [NOT_JSON]})
        try:
            return strict_json.loads(body)
        except strict_json.MalformedJson as error:
            raise malformed(error) from None


def unknown_query_parameters(args) -> ValidationFailed:
    """The error for query parameters an endpoint does not take (the webargs message, per name)."""
    return ValidationFailed("Unknown query parameters: " + ", ".join(sorted(args)) + ".",
                            fields={name: ["Unknown field."] for name in sorted(args)})
