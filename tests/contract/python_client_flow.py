"""The main flow driven by a Python client generated from openapi/openapi.json with
openapi-python-client (tests/contract/clients.sh generates it into a temporary folder): what an
integrator scripting against the document would write.

Usage: python3 python_client_flow.py BASE_URL   (with the generated package `client` importable)
The instance must be empty. Exits non-zero on the first failure.
"""

import sys

from client import AuthenticatedClient, Client
from client.api.accounts import login, signup, whoami
from client.api.invitations import list_invitations, revoke_invitation, send_invites
from client.api.invite_link import get_invite_link, lookup_invite, reset_invite_link
from client.api.members import list_memberships, update_membership
from client.api.tokens import refresh
from client.models import (
    AddressStatus, InviteKind, InviteLookup, LoginRequest, MemberPageBody, Problem,
    RefreshRequest, Role, RoleAssignment, SendInvitesRequest, SignupRequest,
)

PASSWORD = "correct horse battery"
passed = 0


def check(what, condition, detail=""):
    global passed
    if not condition:
        sys.exit(f"FAIL: {what} {detail}")
    passed += 1
    print(f"ok   {what}")


def main(base):
    anonymous = Client(base_url=base, raise_on_unexpected_status=True)
    founded = signup.sync(client=anonymous, body=SignupRequest(
        email="owner@example.org", password=PASSWORD, organization_title="Acme"))
    check("signup founds the organization", founded is not None and not isinstance(founded, Problem), founded)
    tokens = login.sync(client=anonymous, body=LoginRequest(email="owner@example.org", password=PASSWORD))
    check("login", tokens is not None and tokens.expires_in > 0, tokens)
    owner = AuthenticatedClient(base_url=base, token=tokens.access, raise_on_unexpected_status=True)
    me = whoami.sync(client=owner)
    org = me.active_organization

    renewed = refresh.sync(client=anonymous, body=RefreshRequest(refresh=tokens.refresh))
    check("refresh gives expires_in", renewed.expires_in == tokens.expires_in, renewed)

    link = get_invite_link.sync(client=owner)
    found = lookup_invite.sync(client=anonymous, token=link.token)
    check("lookup of the link", isinstance(found, InviteLookup) and found.kind == InviteKind.LINK
          and found.organization.id == org, found)
    joined = signup.sync(client=anonymous, body=SignupRequest(
        email="pending@example.org", password=PASSWORD, token=link.token))
    check("signup through the link", not isinstance(joined, Problem), joined)

    pending = list_memberships.sync(org, client=owner, role="NO")
    check("the pending list shows the new person", isinstance(pending, MemberPageBody)
          and [m.user.email for m in pending.results] == ["pending@example.org"], pending)
    assigned = update_membership.sync(org, client=owner, body=RoleAssignment(
        user_id=pending.results[0].user.id, role=Role.AN))
    check("role assignment", not isinstance(assigned, Problem) and assigned.role == Role.AN, assigned)

    sent = send_invites.sync(client=owner, body=SendInvitesRequest(
        emails=["ann@example.org", "bob@example.org", "not an address"], role=Role.MA, send_email=False))
    statuses = [result.status for result in sent.results]
    check("bulk invite, one result per address", statuses == [
        AddressStatus.INVITED, AddressStatus.INVITED, AddressStatus.INVALID_EMAIL], statuses)
    first = sent.results[0]
    revoked = revoke_invitation.sync(first.invitation_id, client=owner)
    check("revoke", not isinstance(revoked, Problem) and revoked.status.value == "revoked", revoked)
    listed = list_invitations.sync(client=owner)
    check("invitations list", listed.count == 2, listed)

    reset = reset_invite_link.sync(client=owner)
    check("reset gives a new link", reset.token != link.token)
    dead = lookup_invite.sync_detailed(client=anonymous, token=link.token)
    check("the old link is dead, as a problem with a code",
          isinstance(dead.parsed, Problem) and dead.parsed.code == "invite_token_unknown", dead.parsed)
    print(f"python client: {passed} passed")


if __name__ == "__main__":
    main(sys.argv[1])
