"""A client generated from poort's OpenAPI document, by a generator that is not poort's, used as
any API user would: list the members, add a grant, and read a refusal as a problem.

Run by tests/api_client.rs (through run.sh), which starts poort, logs anna in and passes:
  argv[1]  the OpenAPI document (as poort served it)
  argv[2]  a folder to generate the client into
and in the environment POORT_URL, POORT_COOKIE (the admin session's Cookie header),
POORT_CSRF (the session's CSRF token) and API_SERVICE (a ServiceUUID of the catalogue).
Prints the ID of the grant it made on its last line.
"""

import importlib
import os
import sys
from pathlib import Path

from generate import generate

document, out = Path(sys.argv[1]), Path(sys.argv[2])
generate(document, out)

client_mod = importlib.import_module("poort_api_client")
list_members = importlib.import_module("poort_api_client.api.members.list_members")
list_grants = importlib.import_module("poort_api_client.api.grants.list_grants")
add_grants = importlib.import_module("poort_api_client.api.grants.add_grants")
models = importlib.import_module("poort_api_client.models")

client = client_mod.Client(
    base_url=os.environ["POORT_URL"],
    headers={"Cookie": os.environ["POORT_COOKIE"]},
    raise_on_unexpected_status=True,
)
csrf = os.environ["POORT_CSRF"]

# The members, as typed models.
page = list_members.sync(client=client, per_page=50)
assert isinstance(page, models.MemberPage), page
people = sorted(m.person for m in page.items)
assert page.total == 2 and people == ["anna", "eva"], (page.total, people)
assert all(isinstance(m.status, models.MemberStatus) for m in page.items)
print("members:", people)

# A grant for eva on one service, at EH3, for a year.
body = models.NewGrant(
    person="eva",
    scope=models.ScopeChoice(services=[os.environ["API_SERVICE"]]),
    level=models.Level("EH3"),
    years=1,
)
made = add_grants.sync_detailed(client=client, body=body, x_csrf_token=csrf)
assert made.status_code == 201, (made.status_code, made.content)
grants = made.parsed
assert isinstance(grants, models.Grants), grants
assert len(grants.items) == 1, grants
grant = grants.items[0]
assert grant.holder.to_dict() == {"person": "eva"}, grant.holder
assert grant.status == models.GrantStatus.ACTIVE and grant.level == models.Level("EH3"), grant
print("added:", grant.id)

# A refusal is a problem, typed too: without the CSRF token, and with a bad page size.
refused = add_grants.sync_detailed(client=client, body=body, x_csrf_token="forged")
assert refused.status_code == 403 and isinstance(refused.parsed, models.Problem), refused
bad = list_grants.sync_detailed(client=client, per_page=0)
assert bad.status_code == 400 and isinstance(bad.parsed, models.Problem), bad
assert bad.parsed.type_ == "/api/v1/problems/invalid" and bad.parsed.reference, bad.parsed
print("problems:", refused.parsed.type_, bad.parsed.type_)
print(grant.id)
