"""The project's version, 0.2.0, with the commit apart: both binaries'
--version, the default User-Agent, the daemon's status, the metrics'
ringfetch_build_info; and --print-config does not pin the version by writing
the default User-Agent out."""
import json
import os
import re
import socket
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

VERSION = "0.2.0"
COMMIT_RE = r"(?:[0-9a-f]{7,40}(?:-dirty)?|unknown)"


@test("ringfetchd --version prints 'ringfetchd 0.2.0 (COMMIT)'")
def _():
    p = run_rf(["--version"])
    check_eq(p.rc, 0, "exit status")
    check(re.fullmatch(r"ringfetchd %s \(%s\)\n" % (re.escape(VERSION),
                                                    COMMIT_RE), p.stdout),
          "version line: %r" % p.stdout)


@test("ringfetch --version prints 'ringfetch 0.2.0 (COMMIT)'")
def _():
    client = rf_bin("ringfetch")
    if not os.path.exists(client):
        skip("no client binary in this build")
    p = run_rf(["--version"], binary=client)
    check_eq(p.rc, 0, "exit status")
    check(re.fullmatch(r"ringfetch %s \(%s\)\n" % (re.escape(VERSION),
                                                   COMMIT_RE), p.stdout),
          "version line: %r" % p.stdout)


@test("the default User-Agent is ringfetch/0.2.0")
def _():
    with Server() as srv:
        r = run_batch([srv.url("/ok")])
        check_eq(r.rc, 0, "exit status\n" + r.stderr[-2000:])
        reqs = srv.log(path="/ok")
        check_eq(len(reqs), 1, "one request")
        ua = [v for n, v in reqs[0]["headers"] if n.lower() == "user-agent"]
        check_eq(ua, ["ringfetch/" + VERSION], "User-Agent")


@test("--print-config leaves the default User-Agent out, and keeps a set one")
def _():
    p = run_rf(["--print-config"])
    check_eq(p.rc, 0, "exit status")
    check("user_agent" not in p.stdout, "no user_agent line:\n" + p.stdout)
    check(VERSION not in p.stdout, "the version is not pinned")
    work = scratch_dir("ua")
    saved = os.path.join(work, "saved.yaml")
    with open(saved, "w") as f:
        f.write(p.stdout)
    again = run_rf(["-c", saved, "--print-config"])
    check_eq(again.stdout, p.stdout, "the saved config prints the same")
    p = run_rf(["--print-config", "--set", "http.user_agent=examplebot/1.0"])
    check_eq(p.rc, 0, "exit status")
    check_in('user_agent: "examplebot/1.0"', p.stdout, "a set User-Agent")


@test("metrics: ringfetch_build_info{version=\"0.2.0\",commit=...} 1")
def _():
    with Server() as srv:
        tf = os.path.join(scratch_dir("m"), "ringfetch.prom")
        r = run_batch([srv.url("/ok")],
                      args=["--set", "metrics.textfile=" + tf])
        check_eq(r.rc, 0, "exit status\n" + r.stderr[-2000:])
        with open(tf) as f:
            text = f.read()
        check(re.search(r'^ringfetch_build_info\{version="%s",commit="%s"\} 1$'
                        % (re.escape(VERSION), COMMIT_RE), text, re.M),
              "build_info line in:\n" +
              "\n".join(ln for ln in text.splitlines() if "build" in ln))


@test("the daemon's status says version 0.2.0 and the commit")
def _():
    work = scratch_dir("d")
    sock = os.path.join(work, "rf.sock")
    cfg = os.path.join(work, "rf.yaml")
    with open(cfg, "w") as f:
        f.write("daemon:\n  socket: %s\n  state_dir: %s\noutput:\n  dir: %s\n"
                % (sock, os.path.join(work, "state"),
                   os.path.join(work, "out")))

    def ask_status():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(sock)
            s.sendall(b'{"op":"status"}\n')
            buf = b""
            while b"\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            return json.loads(buf.split(b"\n", 1)[0])
        finally:
            s.close()

    with start_rf(["-c", cfg]) as p:
        def up():
            if p.poll() is not None:
                raise AssertionError("daemon exited:\n" + p.stderr_text())
            try:
                ask_status()
                return True
            except OSError:
                return False
        wait_until(up, 15, what="the daemon's socket")
        st = ask_status()
        check(st.get("ok"), "status answered: %r" % st)
        check_eq(st["status"].get("version"), VERSION, "status version")
        check(re.fullmatch(COMMIT_RE, st["status"].get("commit", "")),
              "status commit: %r" % st["status"].get("commit"))


main()
