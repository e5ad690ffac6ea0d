"""Two separate org-members processes on one database, no proxy: what one instance changes holds
on the other at the next request, each queued email goes out once across both senders, and
SIGTERM during a burst of requests cuts none off and loses or duplicates no email.

Usage: python3 tests/scale_out_check.py BINARY DATABASE_URL
The database must be empty. Exits non-zero with a message on the first failure.
"""

import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PASSWORD = "correct horse battery"
passed = 0


def ok(what):
    global passed
    passed += 1
    print(f"ok   {what}")


def call(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def expect(what, got, status, code=None):
    got_status, body = got
    if got_status != status or (code and body.get("code") != code):
        sys.exit(f"FAIL: {what}: expected {status} {code or ''}, got {got_status} {body}")
    ok(what)
    return body


def wait_ready(base, deadline=20):
    end = time.time() + deadline
    while time.time() < end:
        try:
            if call(base, "GET", "/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"FAIL: {base} never became ready")


def main(binary, database_url):
    work = tempfile.mkdtemp()
    smtp_port = 18491
    count_file, recipients_file = os.path.join(work, "count"), os.path.join(work, "recipients")
    sink = subprocess.Popen([sys.executable, os.path.join(HERE, "..", "bench", "smtp_sink.py"),
                             str(smtp_port), count_file, recipients_file], stderr=subprocess.DEVNULL)
    env = dict(os.environ, DATABASE_URL=database_url, RUST_LOG="warn",
               JWT_SECRET="scale-out-secret-scale-out-secret-0123456789",
               SMTP_URL=f"smtp://127.0.0.1:{smtp_port}", EMAIL_POLL_INTERVAL="1s",
               PUBLIC_URL="http://members.test")
    ports = (18481, 18482)
    subprocess.run([binary, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    servers = [subprocess.Popen([binary], env=dict(env, PORT=str(port)),
                                stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, f"{port}.log"), "w"))
               for port in ports]
    a, b = (f"http://127.0.0.1:{port}" for port in ports)
    try:
        for base in (a, b):
            wait_ready(base)
        owner = expect("signup on A", call(a, "POST", "/api/signup", {"email": "owner@example.org", "password": PASSWORD}), 201)
        org = owner["organization_membership"]["organization_id"]
        old = expect("invite link on A", call(a, "GET", "/api/invite", token=owner["access"]), 200)["token"]
        new = expect("reset on A", call(a, "POST", "/api/invite/reset-token", {}, owner["access"]), 200)["token"]
        expect("the old link is refused on B", call(b, "POST", "/api/signup", {"email": "x@example.org", "password": PASSWORD, "token": old}), 404, "invite_token_unknown")

        member = expect("signup through the new link on B", call(b, "POST", "/api/signup", {"email": "m@example.org", "password": PASSWORD, "token": new}), 201)
        members = f"/api/organizations/{org}/memberships"
        expect("assign AD on A", call(a, "PATCH", members, {"user_id": member["user"]["id"], "role": "AD"}, owner["access"]), 200)
        expect("B honours AD at once", call(b, "GET", "/api/invite", token=member["access"]), 200)
        expect("demote to AN on A", call(a, "PATCH", members, {"user_id": member["user"]["id"], "role": "AN"}, owner["access"]), 200)
        expect("B refuses the same token at once", call(b, "GET", "/api/invite", token=member["access"]), 403, "permission_denied")

        personal = expect("personal token on A", call(a, "POST", "/api/token/", {}, owner["access"]), 201)["token"]
        expect("revoked on A", call(a, "POST", "/api/token/blacklist/", {"refresh": personal}), 204)
        expect("B refuses it", call(b, "POST", "/api/token/refresh/", {"refresh": personal}), 401, "token_revoked")

        emails = [f"invitee{i}@example.org" for i in range(60)]
        expect("60 invitations on A", call(a, "POST", "/api/invite/send-email", {"emails": emails, "role": "AN"}, owner["access"]), 200)
        deadline = time.time() + 60
        while time.time() < deadline and sent(count_file) < 60:
            time.sleep(0.2)
        time.sleep(2.5)  # two more polls of both senders: nothing may go out twice
        recipients = open(recipients_file).read().split()
        if len(recipients) != 60 or len(set(recipients)) != 60:
            sys.exit(f"FAIL: expected 60 distinct emails once each, got {len(recipients)} ({len(set(recipients))} distinct)")
        ok("each of 60 emails sent exactly once across both senders")

        burst = sigterm_during_burst(a, b, servers[0], owner["access"])
        total = 60 + burst
        deadline = time.time() + 90
        while time.time() < deadline and sent(count_file) < total:
            time.sleep(0.2)
        time.sleep(2.5)
        recipients = open(recipients_file).read().split()
        if len(recipients) != total or len(set(recipients)) != total:
            sys.exit(f"FAIL: expected {total} distinct emails once each, got {len(recipients)} ({len(set(recipients))} distinct)")
        ok(f"after SIGTERM: all {total} emails sent exactly once, none lost or duplicated")
        # Sent and recorded as sent: a message left "sending" would go out again after its lease.
        unrecorded = [row["id"] for row in invitations(b, owner["access"])
                      if row["delivery"]["state"] != "sent"]
        if unrecorded:
            sys.exit(f"FAIL: {len(unrecorded)} invitations not recorded as sent: {unrecorded[:10]}")
        ok("every invitation is recorded as sent")
        expect("B still serves", call(b, "GET", "/api/current-user/whoami", token=owner["access"]), 200)
        print(f"scale-out: {passed} passed, 0 failed")
    finally:
        for server in servers:
            if server.poll() is None:
                server.kill()
        sink.kill()


def invitations(base, token, query=""):
    """Every invitation the list returns, page after page (a burst can create over a page's
    1,000)."""
    rows, page = [], 1
    while True:
        _, body = call(base, "GET", f"/api/invitations?{query}page_size=1000&page={page}", token=token)
        rows += body["results"]
        if not body["next"]:
            return rows
        page += 1


def sigterm_during_burst(a, b, server_a, token, threads=8):
    """Invites one new address per request on A from several threads, sends SIGTERM to A in the
    middle, and checks that every request the service acted on was answered (none cut off), that
    A exits 0, and returns how many invitations the burst created."""
    outcomes = {}  # address -> ("ok", started, ended) | ("refused", ...) | ("cut", ...)
    lock = threading.Lock()
    stop = threading.Event()

    def worker(n):
        i = 0
        refused_in_a_row = 0
        while not stop.is_set() and refused_in_a_row < 3:
            address = f"burst-{n}-{i}@example.org"
            i += 1
            started = time.time()
            try:
                status, _ = call(a, "POST", "/api/invite/send-email", {"emails": [address], "role": "AN"}, token)
                outcome = "ok" if status == 200 else f"status {status}"
                refused_in_a_row = 0
            except urllib.error.URLError as error:
                refused = isinstance(error.reason, ConnectionRefusedError)
                outcome = "refused" if refused else f"cut ({error.reason!r})"
                refused_in_a_row += refused
                time.sleep(0.01)
            except (ConnectionError, http.client.HTTPException) as error:
                outcome = f"cut ({error!r})"
            with lock:
                outcomes[address] = (outcome, started, time.time())

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    time.sleep(0.8)
    signalled = time.time()
    server_a.send_signal(signal.SIGTERM)
    code = server_a.wait(timeout=30)
    stop.set()
    for thread in pool:
        thread.join()
    if code != 0:
        sys.exit(f"FAIL: A exited {code} after SIGTERM during a burst")
    ok("A exited 0 on SIGTERM during a burst of requests")

    created = {row["email"] for row in invitations(b, token, "email=burst-&")}
    answered = {address for address, (outcome, _, _) in outcomes.items() if outcome == "ok"}
    cut = sorted(address for address in created if address not in answered)
    if cut:
        sys.exit(f"FAIL: {len(cut)} requests acted on but cut off: {[(c, outcomes.get(c)) for c in cut[:5]]}")
    lost = sorted(answered - created)
    if lost:
        sys.exit(f"FAIL: {len(lost)} answered 200 but not stored: {lost[:5]}")
    straddling = sum(1 for outcome, started, ended in outcomes.values()
                     if outcome == "ok" and started < signalled < ended)
    if straddling == 0:
        sys.exit("FAIL: no request was in flight at SIGTERM; the burst proved nothing")
    refused = sum(1 for outcome, _, _ in outcomes.values() if outcome != "ok")
    ok(f"burst: {len(answered)} answered ({straddling} in flight at SIGTERM), {refused} refused once "
       f"A stopped accepting, none acted on without an answer")
    return len(created)


def sent(count_file):
    try:
        return int(open(count_file).read() or 0)
    except (OSError, ValueError):
        return 0


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
