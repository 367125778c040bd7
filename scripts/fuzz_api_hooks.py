"""Schemathesis hooks of scripts/fuzz-api.

- Path ids: a positive case about one instance is pointed at the live instance the script
  registered (DELETE at the one registered for it), so valid requests reach the real
  handlers instead of stopping at 404; negative cases keep their generated ids.
- Grant codes: a positive `POST /instances` or `/reauthorize` body gets a fresh code from
  the simulator (for the body's redirect URI, or the live instance's) and the simulator's
  app credentials, so valid registrations really register instead of ending at 422.
- Poller configurations: their CEQL URLs, SimpleDateFormat patterns and zone names are a
  grammar JSON Schema cannot express (openapi.yaml's PollerConfiguration says so), so a
  positive body's `event.poller.configuration` is replaced by a known-valid one (object or
  JSON string, as generated). Negative cases are left alone.
"""

import json
import os
import urllib.error
import urllib.parse
import urllib.request

import schemathesis
from schemathesis.core.parameters import ParameterLocation

VALID_POLLER_CONFIGURATIONS = [
    {
        "customers": {
            "url": "/hubs/finance/customers?where=lastModifiedDate>='${date:yyyy-MM-dd'T'HH:mm:ss'Z'}'",
            "idField": "id",
        }
    },
    {
        "invoices": {
            "url": "/hubs/finance/invoices?where=lastModifiedDate>='${date:yyyy-MM-dd'T'HH:mm:ss'Z'}'",
            "idField": "id",
            "datesConfiguration": {"updatedDateField": "updated_at", "updatedDateTimezone": "UTC"},
            "pageSize": "50",
            "pollDelay": 30,
        },
        "contacts": {
            "url": "/hubs/finance/contacts?where=lastModifiedDate>='${date:yyyy-MM-dd'T'HH:mm:ss'Z'}'",
            "idField": "id",
            "filterByUpdatedDate": "false",
        },
    },
]


LIVE_REDIRECT_URI = "https://mycoolapp.com"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _grant_code(redirect_uri):
    query = urllib.parse.urlencode(
        {
            "client_id": os.environ["FUZZ_SIM_CLIENT_ID"],
            "response_type": "code",
            "redirect_uri": redirect_uri,
        }
    )
    try:
        urllib.request.build_opener(_NoRedirect).open(f"{os.environ['FUZZ_SIM_AUTHORIZE']}?{query}")
    except urllib.error.HTTPError as redirect:
        location = redirect.headers.get("Location")
        if redirect.code == 302 and location:
            return urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["code"][0]
    return None


def _positive(case, location):
    meta = case.meta
    if meta is None:
        return False
    component = meta.components.get(location)
    if component is not None:
        return component.mode.is_positive
    return meta.generation.mode.is_positive


@schemathesis.hook
def map_case(context, case):
    if case.path_parameters and "id" in case.path_parameters and _positive(case, ParameterLocation.PATH):
        if case.operation.method.upper() == "DELETE" and case.operation.path == "/instances/{id}":
            case.path_parameters["id"] = int(os.environ["FUZZ_DELETE_INSTANCE"])
        else:
            case.path_parameters["id"] = int(os.environ["FUZZ_LIVE_INSTANCE"])
    body = case.body
    operation = (case.operation.method.upper(), case.operation.path)
    if (
        operation in {("POST", "/instances"), ("POST", "/instances/{id}/reauthorize")}
        and isinstance(body, dict)
        and isinstance(body.get("providerData"), dict)
        and _positive(case, ParameterLocation.BODY)
    ):
        redirect_uri = LIVE_REDIRECT_URI
        configuration = body.get("configuration")
        if isinstance(configuration, dict):
            redirect_uri = configuration.get("oauth.callback.url", LIVE_REDIRECT_URI)
            configuration["oauth.api.key"] = os.environ["FUZZ_SIM_CLIENT_ID"]
            configuration["oauth.api.secret"] = os.environ["FUZZ_SIM_CLIENT_SECRET"]
        code = _grant_code(redirect_uri)
        if code is not None:
            body["providerData"]["code"] = code
    if (
        isinstance(body, dict)
        and isinstance(body.get("configuration"), dict)
        and body["configuration"].get("event.poller.configuration") is not None
        and _positive(case, ParameterLocation.BODY)
    ):
        current = body["configuration"]["event.poller.configuration"]
        choice = VALID_POLLER_CONFIGURATIONS[len(json.dumps(current)) % len(VALID_POLLER_CONFIGURATIONS)]
        body["configuration"]["event.poller.configuration"] = (
            json.dumps(choice) if isinstance(current, str) else choice
        )
    return case
