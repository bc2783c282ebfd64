"""A client generated from poort's OpenAPI document, by a generator that is not poort's, used as
a person would use their own API (/api/v1/me): eva reads her session and asks for a grant; she
cannot sign it herself (a typed problem with its reason code); anna, hoofdbeheerder, finds it
among her approvals and approves it, lowered; eva sees it approved.

Run by tests/api_client.rs (through run.sh), which starts poort, logs eva and anna in to
Mijn poort and passes:
  argv[1]  the OpenAPI document (as poort served it)
  argv[2]  a folder to generate the client into
and in the environment POORT_URL, POORT_EVA_COOKIE and POORT_ANNA_COOKIE (each Mijn poort
session's Cookie header), POORT_EVA_CSRF and POORT_ANNA_CSRF (their CSRF tokens) and
API_SERVICE (a ServiceUUID of the catalogue). Prints the ID of the grant the approval made on
its last line.
"""

import importlib
import os
import sys
from pathlib import Path

from generate import generate

document, out = Path(sys.argv[1]), Path(sys.argv[2])
generate(document, out)

client_mod = importlib.import_module("poort_api_client")
me = {
    name: importlib.import_module(f"poort_api_client.api.me.{name}")
    for name in ["get_me", "ask", "approve", "list_approvals", "get_request"]
}
models = importlib.import_module("poort_api_client.models")


def client(cookie: str):
    return client_mod.Client(
        base_url=os.environ["POORT_URL"],
        headers={"Cookie": cookie},
        raise_on_unexpected_status=True,
    )


eva, eva_csrf = client(os.environ["POORT_EVA_COOKIE"]), os.environ["POORT_EVA_CSRF"]
anna, anna_csrf = client(os.environ["POORT_ANNA_COOKIE"]), os.environ["POORT_ANNA_CSRF"]

# eva's session, typed.
session = me["get_me"].sync(client=eva)
assert isinstance(session, models.Me), session
assert session.person == "eva" and session.level == models.Level("EH3"), session
assert session.csrf_token == eva_csrf
print("me:", session.person, session.level.value)

# She asks for one service at the Bakkerij, at EH3, for a year.
body = models.NewRequest(
    kind=models.RequestKind.GRANT,
    organisation="12345678",
    scope=models.ScopeChoice(services=[os.environ["API_SERVICE"]]),
    level=models.Level("EH3"),
    validity_years=1,
    motivation="Voor de btw-aangifte",
)
asked = me["ask"].sync_detailed(client=eva, body=body, x_csrf_token=eva_csrf)
assert asked.status_code == 201, (asked.status_code, asked.content)
request = asked.parsed
assert isinstance(request, models.Request), request
assert request.state == models.RequestState.OPEN and request.kind == models.RequestKind.GRANT, request
print("asked:", request.id)

# Signing her own is refused, with the reason as a code.
own = me["approve"].sync_detailed(request.id, client=eva, body=None, x_csrf_token=eva_csrf)
assert own.status_code == 403 and isinstance(own.parsed, models.Problem), own
assert own.parsed.reason == "own_request", own.parsed
print("refused:", own.parsed.reason)

# anna finds it among her approvals and approves it, lowered to EH2+.
page = me["list_approvals"].sync(client=anna, limit=10)
assert isinstance(page, models.ApprovalPage), page
assert [r.id for r in page.items] == [request.id] and page.total == 1, page
signed = me["approve"].sync_detailed(
    request.id, client=anna, body=models.Approval(level=models.Level("EH2+")), x_csrf_token=anna_csrf
)
assert signed.status_code == 200, (signed.status_code, signed.content)
assert isinstance(signed.parsed, models.Signed), signed.parsed
assert signed.parsed.outcome == models.SignOutcome.APPROVED, signed.parsed
assert signed.parsed.request.granted_level == models.Level("EH2+"), signed.parsed
assert len(signed.parsed.grants) == 1, signed.parsed

# eva sees it approved.
seen = me["get_request"].sync(request.id, client=eva)
assert seen.state == models.RequestState.APPROVED, seen
print("approved:", seen.id)
print(signed.parsed.grants[0])
