#!/usr/bin/python3
"""Acknowledgement latency under full load: start ringfetchd as a daemon
against a loopback nginx, keep it fetching at full speed from several
pipelining submitters, and time single submits (request sent to
{"ok":true} read) from another client. With queue.journal on (the
default) an acknowledgement waits for its journal line's fdatasync, so
this measures the group commit on the disk under the state directory
(the temporary directory is made under /var/tmp, a real disk, not a
tmpfs). Prints median and p99 in milliseconds. Only 127.0.0.1 is used.

    scripts/ack-latency.py [JOBS] [SUBMITTERS] [PROBES] [JOURNAL]

JOBS (default 1,000,000) must outlast the probes, or they time an idle
daemon: the output says the median jobs in flight while probing.

JOURNAL: true (default) or false, for the comparison.
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("RINGFETCHD", os.path.join(ROOT, "build/rel/ringfetchd"))
JOBS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
SUBMITTERS = int(sys.argv[2]) if len(sys.argv) > 2 else 4
PROBES = int(sys.argv[3]) if len(sys.argv) > 3 else 500
JOURNAL = sys.argv[4] if len(sys.argv) > 4 else "true"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def setup(w, port, sock):
    os.makedirs(w + "/www")
    os.makedirs(w + "/logs")
    with open(w + "/www/4k.bin", "wb") as f:
        f.write(os.urandom(4096))
    with open(w + "/nginx.conf", "w") as f:
        f.write("worker_processes 1; daemon off; pid %s/nginx.pid;\n"
                "error_log %s/logs/error.log warn;\n"
                "events { worker_connections 4096; }\n"
                "http { access_log off; keepalive_requests 1000000;\n"
                "server { listen 127.0.0.1:%d; root %s/www; } }\n"
                % (w, w, port, w))
    with open(w + "/rf.yaml", "w") as f:
        f.write("daemon: {socket: %s, state_dir: %s/state}\n"
                "output: {dir: %s/out}\n"
                "limits: {concurrency: 64, per_host: 64}\n"
                "queue: {capacity: 10000, journal: %s}\n"
                % (sock, w, w, JOURNAL))


def main():
    w = tempfile.mkdtemp(prefix="rfack.", dir="/var/tmp")
    os.chmod(w, 0o755)  # the nginx worker runs as nobody
    port, sock = free_port(), None
    sock = w + "/rf.sock"
    setup(w, port, sock)
    nginx = subprocess.Popen(["nginx", "-p", w, "-c", w + "/nginx.conf"])
    rf = subprocess.Popen([BIN, "-c", w + "/rf.yaml"],
                          stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        url = "http://127.0.0.1:%d/4k.bin" % port
        stop = threading.Event()

        def submit(n):
            c = socket.socket(socket.AF_UNIX)
            c.connect(sock)
            f = c.makefile("rb")
            # a reader drains the acks so the daemon never blocks on us
            t = threading.Thread(target=lambda: [f.readline()
                                                 for _ in range(n)])
            t.start()
            c.sendall(((url + "\n") * n).encode())
            t.join()
            c.close()

        subs = [threading.Thread(target=submit, args=(JOBS // SUBMITTERS,))
                for _ in range(SUBMITTERS)]
        for t in subs:
            t.start()
        time.sleep(0.5)
        p = socket.socket(socket.AF_UNIX)
        p.connect(sock)
        pf = p.makefile("rb")
        rtts, inflight = [], []
        # The probes name another host: the load's host sits at its
        # queue.host_share, and a submit for it waits for its room (fair
        # intake), which is not what this measures. Nothing listens
        # there; the acknowledgement comes before any fetch.
        probe = "http://127.0.0.2:%d/4k.bin" % port
        req = (json.dumps({"op": "submit", "url": probe}) + "\n").encode()
        for _ in range(PROBES):
            t0 = time.perf_counter()
            p.sendall(req)
            r = json.loads(pf.readline())
            rtts.append((time.perf_counter() - t0) * 1000)
            if not r.get("ok"):
                print("refused: %r" % r)
            p.sendall(b'{"op":"status"}\n')
            inflight.append(json.loads(pf.readline())["status"]["in_flight"])
            time.sleep(0.01)
        stop.set()
        for t in subs:
            t.join()
        rtts.sort()
        print("submit acknowledgement under load (queue.journal %s; %d jobs "
              "from %d submitters, %d probes, median in_flight %d):" % (
                  JOURNAL, JOBS, SUBMITTERS, PROBES,
                  statistics.median(inflight)))
        print("  median %.2f ms, p99 %.2f ms, max %.2f ms" % (
            statistics.median(rtts), rtts[int(len(rtts) * 0.99) - 1],
            rtts[-1]))
    finally:
        rf.terminate()
        nginx.terminate()
        rf.wait(30)
        nginx.wait(10)
        shutil.rmtree(w, ignore_errors=True)


main()
