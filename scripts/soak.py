#!/usr/bin/python3
"""The soak behind scripts/soak.sh: one daemon (journal on, concurrency
256) against tests/server/rfserver.py; submitter threads pipelining a mix
of URLs (ok, 50-500 ms slow, 503-then-ok, 404, malformed, resets), a
watcher reading every record, and a canceller; once a second the daemon's
RSS and open fds (/proc), its queue (status), the journal's size and
status' memory figures (heap in use and free, buffer capacity) go to
OUT/soak.csv, and at the end gnuplot draws OUT/soak.png. Prints the first
and last minute's averages of each series: flat means no growth."""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integ"))
from harness import Server  # noqa: E402

SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
BIN = os.environ.get("RINGFETCHD", os.path.join(ROOT, "build/rel/ringfetchd"))
stop = threading.Event()


def line_client(sock, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock)
    return s


def status(sock):
    s = line_client(sock, 10)
    try:
        s.sendall(b'{"op":"status"}\n')
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                return None
            buf += chunk
        return json.loads(buf.split(b"\n", 1)[0])["status"]
    finally:
        s.close()


def submitter(sock, urls, k):
    rnd = random.Random(k)
    n = 0
    while not stop.is_set():
        try:
            s = line_client(sock)
            batch = "".join(json.dumps({"op": "submit", "id": "s%d-%d" % (
                k, n + i), "url": rnd.choice(urls)}) + "\n" for i in range(200))
            n += 200
            s.sendall(batch.encode())
            got = b""
            while got.count(b"\n") < 200 and not stop.is_set():
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            s.close()
        except OSError:
            time.sleep(0.2)


def watcher(sock):
    while not stop.is_set():
        try:
            s = line_client(sock, 5)
            s.sendall(b'{"op":"watch"}\n')
            while not stop.is_set():
                try:
                    if not s.recv(1 << 16):
                        break
                except socket.timeout:
                    continue
            s.close()
        except OSError:
            time.sleep(0.2)


def canceller(sock):
    rnd = random.Random(7)
    while not stop.is_set():
        try:
            s = line_client(sock, 5)
            s.sendall(('{"op":"cancel","id":"s%d-%d"}\n' % (
                rnd.randrange(4), rnd.randrange(100000))).encode())
            s.recv(4096)
            s.close()
        except OSError:
            pass
        time.sleep(0.05)


def proc_sample(pid):
    kib = {}
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith(("VmRSS:", "RssAnon:", "RssFile:")):
                kib[ln.split(":")[0]] = int(ln.split()[1])
    return (kib.get("VmRSS", 0), kib.get("RssAnon", 0),
            len(os.listdir("/proc/%d/fd" % pid)))


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "soak-out")
    os.makedirs(out, exist_ok=True)
    sock = os.path.join(out, "rf.sock")
    state = os.path.join(out, "state")
    cfg = os.path.join(out, "soak.yaml")
    with open(cfg, "w") as f:
        f.write("daemon:\n  socket: %s\n  state_dir: %s\n"
                "queue:\n  capacity: 5000\n  journal: true\n"
                "limits:\n  concurrency: 256\n  per_host: 256\n"
                "retry:\n  attempts: 2\n  backoff_base: 50ms\n"
                "  backoff_max: 200ms\n"
                "timeouts:\n  first_byte: 2s\n  idle: 2s\n"
                "output:\n  dir: %s/out\n  rotate_size: 64MiB\n"
                "  rotate_keep: 2\n" % (sock, state, out))
    with Server() as srv:
        urls = ([srv.url("/size/%d" % n) for n in (10, 4096, 65536)] * 4 +
                [srv.url("/delay/%d" % ms) for ms in (50, 200, 500)] +
                [srv.url("/status/404"), srv.url("/malformed/status"),
                 srv.url("/reset-mid-body/20000"),
                 srv.url("/flaky/soak/1?status=503")])
        err = open(os.path.join(out, "daemon.log"), "wb")
        d = subprocess.Popen([BIN, "-c", cfg], stderr=err,
                             stdout=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        threads = [threading.Thread(target=submitter, args=(sock, urls, k))
                   for k in range(4)]
        threads += [threading.Thread(target=watcher, args=(sock,)),
                    threading.Thread(target=canceller, args=(sock,))]
        for t in threads:
            t.daemon = True
            t.start()
        rows = []
        t0 = time.time()
        with open(os.path.join(out, "soak.csv"), "w") as csv:
            csv.write("t,rss_kib,fds,queued,in_flight,done,journal_bytes,"
                      "heap_in_use_kib,heap_free_kib,buffers_kib,rss_anon_kib\n")
            while time.time() - t0 < SECONDS and d.poll() is None:
                time.sleep(1)
                try:
                    st = status(sock)
                    rss, anon, fds = proc_sample(d.pid)
                except (OSError, ValueError):
                    continue
                if not st:
                    continue
                mem = st.get("memory", {})
                row = (int(time.time() - t0), rss, fds, st["queued"],
                       st["in_flight"], st["done"], st.get("journal_bytes", 0),
                       mem.get("heap_in_use", 0) // 1024,
                       mem.get("heap_free", 0) // 1024,
                       mem.get("buffers", 0) // 1024, anon)
                rows.append(row)
                csv.write(",".join(map(str, row)) + "\n")
                csv.flush()
        stop.set()
        alive = d.poll() is None
        d.send_signal(signal.SIGTERM)
        try:
            d.wait(30)
        except subprocess.TimeoutExpired:
            d.kill()
    plot(out)
    report(rows, alive)


def plot(out):
    gp = """set terminal png size 1000,700
set output '%(o)s/soak.png'
set datafile separator ','
set key autotitle columnhead
set multiplot layout 2,2 title 'ringfetchd soak'
set xlabel 'seconds'
plot '%(o)s/soak.csv' using 1:($2/1024) with lines title 'RSS (MiB)'
plot '%(o)s/soak.csv' using 1:3 with lines title 'open fds'
plot '%(o)s/soak.csv' using 1:4 with lines title 'queued'
plot '%(o)s/soak.csv' using 1:($7/1024) with lines title 'journal (KiB)'
unset multiplot
""" % {"o": out}
    try:
        subprocess.run(["gnuplot"], input=gp.encode(), check=True,
                       timeout=60)
    except (OSError, subprocess.SubprocessError) as e:
        print("soak: no plot: %s" % e)


def report(rows, alive):
    if len(rows) < 4:
        print("soak: too few samples")
        sys.exit(1)
    k = max(1, min(60, len(rows) // 4))
    names = ["rss_kib", "fds", "queued", "in_flight", "journal_bytes",
             "heap_in_use_kib", "heap_free_kib", "buffers_kib",
             "rss_anon_kib"]
    cols = [1, 2, 3, 4, 6, 7, 8, 9, 10]
    print("soak: %d s, %d samples, %d jobs done, daemon %s" % (
        rows[-1][0], len(rows), rows[-1][5],
        "alive" if alive else "EXITED"))
    for n, c in zip(names, cols):
        first = sum(r[c] for r in rows[:k]) / k
        last = sum(r[c] for r in rows[-k:]) / k
        print("  %-14s first %ds avg %12.1f   last %ds avg %12.1f   max %d" %
              (n, k, first, k, last, max(r[c] for r in rows)))
    if not alive:
        sys.exit(1)


if __name__ == "__main__":
    main()
