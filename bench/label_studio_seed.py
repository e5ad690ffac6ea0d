"""Seeds Label Studio for the side-by-side run (bench/label_studio.sh).

Run with Label Studio's own Python, after `label-studio start` has migrated its database and
created the Owner:

    python bench/label_studio_seed.py OWNER_EMAIL MEMBERS

Adds MEMBERS users to the Owner's organization through Label Studio's own models (one shared
password hash, bulk inserts: what `org-members seed` does for this service), turns on the
organization's legacy API tokens (off by default since Label Studio 1.19; the benchmark sends
the Owner's token on every request, as label-studio-sdk scripts do) and prints the
organization's id and the Owner's token.
"""

import os
import sys

import label_studio

sys.path.insert(0, os.path.dirname(label_studio.__file__))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "label_studio.core.settings.label_studio")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import transaction  # noqa: E402
from organizations.models import OrganizationMember  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402
from users.models import User  # noqa: E402


def main(owner_email: str, members: int) -> None:
    owner = User.objects.get(email=owner_email)
    organization = owner.active_organization
    password = make_password("bench member password")
    with transaction.atomic():
        users = User.objects.bulk_create(
            User(
                email=f"member{i}@example.org",
                username=f"member{i}",
                first_name="Member",
                last_name=str(i),
                password=password,
                active_organization=organization,
            )
            for i in range(members)
        )
        OrganizationMember.objects.bulk_create(
            OrganizationMember(user=user, organization=organization) for user in users
        )
        organization.jwt.legacy_api_tokens_enabled = True
        organization.jwt.save()
    token, _ = Token.objects.get_or_create(user=owner)
    print(organization.id, token.key)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
