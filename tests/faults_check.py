"""The release binary against a PostgreSQL that freezes and one that restarts, on a cluster of its
own (initdb into a temporary folder, its own port), never the shared one:

- frozen (every server process stopped with SIGSTOP): requests are answered 503 with
  `Retry-After` within REQUEST_TIMEOUT and a little, `/ready` within its own short deadline, and
  everything works again once the database thaws;
- restarted: every request succeeds; the first read on a connection the restart broke is tried
  again on a checked one, and the other broken connections are replaced before use.

Usage: python3 tests/faults_check.py BINARY
Runs as root (CI does): the cluster belongs to the `postgres` user. Exits non-zero on the first
failure.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

PASSWORD = "correct horse battery"
METRICS_TOKEN = "faults-check-metrics-token"
PG_PORT = 18532
APP_PORT = 18533
REQUEST_TIMEOUT = 2
passed = 0


def ok(what):
    global passed
    passed += 1
    print(f"ok   {what}")


def fail(what):
    sys.exit(f"FAIL: {what}")


def call(method, path, body=None, token=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{APP_PORT}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, headers_of(response), json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, headers_of(error), json.loads(error.read() or b"null")


def headers_of(response):
    return {name.lower(): value for name, value in response.headers.items()}


def pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        fail(f"no PostgreSQL {name} under /usr/lib/postgresql")
    return found[-1]


def as_postgres(*command):
    return subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Cluster:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="om-faults-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        shutil.chown(self.dir, "postgres", "postgres")
        as_postgres(pg_bin("initdb"), "-D", self.data, "-A", "trust", "-U", "postgres")
        self.start()

    def ctl(self, *args):
        as_postgres(pg_bin("pg_ctl"), "-D", self.data, "-w", "-l", os.path.join(self.dir, "log"),
                    "-o", f"-p {PG_PORT} -k {self.dir} -c listen_addresses=127.0.0.1", *args)

    def start(self):
        self.ctl("start")

    def restart(self):
        self.ctl("restart", "-m", "fast")

    def stop(self):
        self.ctl("stop", "-m", "immediate")

    def processes(self):
        with open(os.path.join(self.data, "postmaster.pid")) as pid_file:
            postmaster = int(pid_file.readline())
        children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True)
        return [postmaster] + [int(pid) for pid in children.stdout.split()]

    def signal_all(self, sig):
        for pid in self.processes():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass


def scrape_metrics():
    """`GET /metrics` parsed: series (name with labels) -> value; fails on a malformed line."""
    request = urllib.request.Request(f"http://127.0.0.1:{APP_PORT}/metrics")
    request.add_header("Authorization", "Bearer " + METRICS_TOKEN)
    with urllib.request.urlopen(request, timeout=10) as response:
        if not response.headers["content-type"].startswith("text/plain"):
            fail(f"/metrics content type {response.headers['content-type']}")
        text = response.read().decode()
    series = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            series[name] = float(value)
        except ValueError:
            fail(f"/metrics: not a sample line: {line!r}")
    return series


def wait_ready(deadline=20):
    end = time.time() + deadline
    while time.time() < end:
        try:
            if call("GET", "/ready", timeout=5)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    fail("the service never became ready")


def main(binary):
    cluster = Cluster()
    server = None
    try:
        env = dict(os.environ, PORT=str(APP_PORT), RUST_LOG="warn",
                   DATABASE_URL=f"postgres://postgres@127.0.0.1:{PG_PORT}/postgres",
                   REQUEST_TIMEOUT=f"{REQUEST_TIMEOUT}s", DATABASE_MAX_CONNECTIONS="4",
                   METRICS_TOKEN=METRICS_TOKEN)
        server = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL)
        wait_ready()
        status, _, body = call("POST", "/api/signup", {
            "email": "owner@example.org", "password": PASSWORD, "organization_title": "Acme"})
        if status != 201:
            fail(f"signup: {status} {body}")
        token = body["access"]
        org = body["organization_membership"]["organization_id"]
        members = f"/api/organizations/{org}/memberships"
        # Fill the pool, so the restart below breaks every pooled connection.
        for _ in range(8):
            call("GET", members, token=token)
        ok("the service runs on its own cluster")

        cluster.signal_all(signal.SIGSTOP)
        try:
            for path, limit in ((members, REQUEST_TIMEOUT + 1.5), ("/ready", 3.5)):
                started = time.time()
                status, headers, body = call("GET", path, token=token)
                took = time.time() - started
                if status != 503 or "retry-after" not in headers or took > limit:
                    fail(f"frozen database, {path}: {status} {body} after {took:.1f} s")
                ok(f"frozen database: {path} answers 503 {body['code']} with Retry-After in {took:.1f} s")
        finally:
            cluster.signal_all(signal.SIGCONT)
        end = time.time() + 15
        while call("GET", members, token=token)[0] != 200:
            if time.time() > end:
                fail("the service did not recover after the database thawed")
            time.sleep(0.2)
        ok("thawed: requests succeed again")

        for _ in range(8):
            call("GET", members, token=token)
        cluster.restart()
        statuses = [call("GET", members, token=token)[0] for _ in range(12)]
        # The first read on a connection the restart broke is tried again on a checked one.
        if statuses != [200] * 12:
            fail(f"after a database restart: {statuses}")
        ok("restarted database: every request answered 200, none 500 or 503")

        metrics = scrape_metrics()
        if metrics.get("org_members_request_deadline_exceeded_total", 0) < 1:
            fail(f"the frozen request is not counted: {sorted(metrics)[:20]}")
        ok(f"/metrics parses ({len(metrics)} series) and counts the requests the freeze timed out")
    finally:
        if server:
            server.terminate()
            server.wait(timeout=10)
        cluster.stop()
        shutil.rmtree(cluster.dir, ignore_errors=True)
    print(f"{passed} passed")


if __name__ == "__main__":
    main(sys.argv[1])
