"""What every benchmark here shares: a sample repository made from
examples/hello, HTTP on loopback, waiting on conditions, cleaning up the
processes a run started, and the Markdown section appended to RESULTS.md."""
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import time
import urllib.request
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read().decode())


def wait_for(pred, timeout=60.0, every=0.005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(every)
    raise SystemExit("bench: condition not met within %.0f s" % timeout)


def parse_time(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def git(repo, *args):
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *args],
                   cwd=repo, check=True, stdout=subprocess.DEVNULL)


def sample_repo(path):
    """A git repository at path holding examples/hello, one commit on main."""
    os.makedirs(path)
    for f in ("hello.c", "Makefile"):
        shutil.copy(os.path.join(ROOT, "examples", "hello", f), path)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "first")
    return path


def hello_config(work, api, app, repo, poll, extra=""):
    """Writes work/anthill.toml: project hello from repo (examples/hello),
    built with make, serving on port app, health-checked on /healthz, and the
    API on port api; extra: more keys for the project. Returns its path."""
    config = os.path.join(work, "anthill.toml")
    with open(config, "w") as f:
        f.write(f"""[server]
listen = "127.0.0.1:{api}"
data_dir = "data"
[[project]]
name = "hello"
repo = "{repo}"
poll = "{poll}"
build = "make"
run = "./hello --port {app}"
health = {{ http = "http://127.0.0.1:{app}/healthz", timeout = "10s", interval = "10ms" }}
{extra}""")
    return config


def serve(binary, config):
    """Starts `anthill serve -c config`, its output appended to anthill.log
    beside the config. The caller waits for it (inside the try that stops it)."""
    log = open(os.path.join(os.path.dirname(config), "anthill.log"), "ab")
    return subprocess.Popen([binary, "serve", "-c", config], stdout=log, stderr=log)


def commit_change(repo, text):
    """Commits a change to CHANGES; returns the new commit."""
    with open(os.path.join(repo, "CHANGES"), "w") as f:
        f.write(text + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", text)
    return subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=repo).decode().strip()


def finished_deployment(api_port, pred, limit=5):
    """Waits for a finished deployment matching pred among the newest ones."""
    url = f"http://127.0.0.1:{api_port}/api/v1/deployments?limit={limit}"
    return wait_for(lambda: next((d for d in json.loads(get(url) or '{"deployments":[]}')
                                  ["deployments"] if pred(d) and d["finished_at"]), None))


def stop(daemon, work):
    """Stops anthill, kills every process still working under `work` (the
    deployed programs), and removes it."""
    daemon.terminate()
    daemon.wait()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.readlink(f"/proc/{pid}/cwd").startswith(work):
                    os.kill(int(pid), 9)
            except OSError:
                pass
    shutil.rmtree(work, ignore_errors=True)


def summary(rows):
    """A Markdown table of median, min and max for each key of rows."""
    out = ["| seconds | median | min | max |", "| --- | --- | --- | --- |"]
    for key in rows[0]:
        v = [r[key] for r in rows]
        out.append(f"| {key} | {statistics.median(v):.3f} | {min(v):.3f} | {max(v):.3f} |")
    return out


def header(name, script, binary, args, setup):
    """The section's heading, command, machine and setup lines."""
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return [f"## {name}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", "",
            f"Command: `bench/{script} {os.path.relpath(binary, ROOT)} {args}`  ",
            f"Machine: {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.platform()}  ",
            f"Setup: {setup}", ""]


def publish(lines):
    """Prints the section and appends it to RESULTS.md."""
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(ROOT, "bench", "RESULTS.md"), "a") as f:
        f.write(text + "\n")
