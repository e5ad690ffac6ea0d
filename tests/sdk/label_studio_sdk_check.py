"""Label Studio's official Python client against a running org-members, unchanged.

Usage: python label_studio_sdk_check.py BASE_URL
The instance must be empty: the script signs up its Owner, then drives the SDK with a personal
access token exactly as a Label Studio script would. Exits non-zero on the first failure.
"""

import json
import sys
import urllib.request

from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

PASSWORD = "correct horse battery"


def call(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"null")


def main(base):
    owner = call(base, "POST", "/api/signup", {"email": "owner@example.org", "password": PASSWORD, "organization_title": "SDK"})
    org_id = owner["organization_membership"]["organization_id"]
    personal = call(base, "POST", "/api/token/", {}, owner["access"])["token"]

    ls = LabelStudio(base_url=base, api_key=personal)

    me = ls.users.whoami()
    assert me.email == "owner@example.org", me

    link = ls.organizations.invites.get_invite_link()
    assert link.token and link.invite_url.endswith(link.token), link

    for i in range(25):
        call(base, "POST", "/api/signup", {"email": f"pending{i}@example.org", "password": PASSWORD, "token": link.token})

    pending = list(ls.organizations.members.list(org_id, role="NO", page_size=10))
    assert len(pending) == 25, len(pending)

    target = pending[0].user.id
    updated = ls.organizations.members.update(org_id, user_id=target, role="AN")
    assert updated.role == "AN", updated

    reset = ls.organizations.reset_token()
    assert reset.token != link.token, reset
    try:
        call(base, "POST", "/api/signup", {"email": "late@example.org", "password": PASSWORD, "token": link.token})
        raise AssertionError("the old link still works after reset")
    except urllib.error.HTTPError as error:
        problem = json.loads(error.read())
        assert error.code == 404 and problem["code"] == "invite_token_unknown", problem

    everyone = list(ls.organizations.members.list(org_id))
    assert len(everyone) == 26, len(everyone)

    try:
        ls.organizations.members.update(org_id, user_id=me.id, role="AN")
        raise AssertionError("the Owner changed their own role")
    except ApiError as error:
        assert error.status_code == 403, error

    ls.organizations.invites.send_email(emails=["invitee@example.org", "second@example.org"], role="RE")
    invitations = call(base, "GET", "/api/invitations?status=pending", token=owner["access"])
    assert invitations["count"] == 2, invitations
    ls.organizations.invites.revoke_invite(email="second@example.org")
    revoked = call(base, "GET", "/api/invitations?status=revoked", token=owner["access"])
    assert [i["email"] for i in revoked["results"]] == ["second@example.org"], revoked

    profile = ls.users.update_current_user(first_name="Ada", last_name="Lovelace")
    assert profile.first_name == "Ada", profile
    current = ls.users.get_current_user()
    assert current.last_name == "Lovelace" and current.active_organization == org_id, current
    renamed = ls.organizations.update(org_id, title="SDK Research")
    assert renamed.title == "SDK Research", renamed

    print("label-studio-sdk: whoami, get_invite_link, members.list, members.update, reset_token, "
          "invites.send_email, invites.revoke_invite, users.get_current_user, "
          "users.update_current_user, organizations.update: ok")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"))
