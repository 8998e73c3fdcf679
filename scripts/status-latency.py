#!/usr/bin/python3
"""Control-plane latency under full load: start ringfetchd as a daemon
against a loopback nginx, keep it fetching at full speed from several
submitting clients, and time {"op":"status"} round trips from another
client. Prints median and p99 in milliseconds. Only 127.0.0.1 is contacted.

    scripts/status-latency.py [JOBS] [SUBMITTERS] [PROBES]
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
JOBS = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
SUBMITTERS = int(sys.argv[2]) if len(sys.argv) > 2 else 4
PROBES = int(sys.argv[3]) if len(sys.argv) > 3 else 500


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    w = tempfile.mkdtemp(prefix="rflat.")
    os.chmod(w, 0o755)  # the nginx worker runs as nobody
    port = free_port()
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
    sock = w + "/rf.sock"
    with open(w + "/rf.yaml", "w") as f:
        f.write("daemon: {socket: %s, state_dir: %s/state}\n"
                "output: {dir: %s/out}\n"
                "limits: {concurrency: 64, per_host: 64}\n"
                "queue: {capacity: 10000}\n" % (sock, w, w))
    nginx = subprocess.Popen(["nginx", "-p", w, "-c", w + "/nginx.conf"])
    rf = subprocess.Popen([BIN, "-c", w + "/rf.yaml"],
                          stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        url = "http://127.0.0.1:%d/4k.bin\n" % port

        def submit(n):
            c = socket.socket(socket.AF_UNIX)
            c.connect(sock)
            f = c.makefile("rb")
            # a reader drains the acks so the daemon never blocks on us
            t = threading.Thread(target=lambda: [f.readline() for _ in range(n)])
            t.start()
            c.sendall((url * n).encode())
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
        for _ in range(PROBES):
            t0 = time.perf_counter()
            p.sendall(b'{"op":"status"}\n')
            st = json.loads(pf.readline())["status"]
            rtts.append((time.perf_counter() - t0) * 1000)
            inflight.append(st["in_flight"])
            time.sleep(0.01)
        for t in subs:
            t.join()
        rtts.sort()
        print("status round trip under load (%d jobs from %d submitters, "
              "%d probes, median in_flight %d):" % (
                  JOBS, SUBMITTERS, PROBES, statistics.median(inflight)))
        print("  median %.2f ms, p99 %.2f ms, max %.2f ms" % (
            statistics.median(rtts), rtts[int(len(rtts) * 0.99) - 1], rtts[-1]))
    finally:
        rf.terminate()
        nginx.terminate()
        rf.wait(10)
        nginx.wait(10)
        shutil.rmtree(w, ignore_errors=True)


main()
