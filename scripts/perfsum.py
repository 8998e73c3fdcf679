#!/usr/bin/python3
"""Summarise a cpu-clock profile as CPU per request or per MB (profile.sh).

    perf report --no-children --sort sym --stdio -g none \
        -F overhead,sample,sym | perfsum.py OK UNIT_BYTES UNIT_NAME TOP

OK is the number of requests that succeeded. UNIT_BYTES 0: costs per
request; otherwise per UNIT_BYTES of body (1000000 for MB), each request
having carried BODY bytes (environment, default 1048576). The total is the
event count perf prints (cpu-clock: nanoseconds); the TOP symbols by self
time follow with their share and cost per unit, then groups: kernel,
SHA-256, TLS, HTTP parsing (llhttp), libc, the rest of ringfetchd.
"""
import os
import re
import sys

ok, unit, uname, top = (int(sys.argv[1]), float(sys.argv[2]), sys.argv[3],
                        int(sys.argv[4]))
body = float(os.environ.get("BODY", 1048576))
total_ns = None
rows = []
for line in sys.stdin:
    m = re.match(r"# Event count \(approx\.\): (\d+)", line)
    if m:
        total_ns = int(m.group(1))
        continue
    m = re.match(r"\s+([\d.]+)%\s+(\d+)\s+\[(.)\]\s+(.*\S)", line)
    if m:
        rows.append((float(m.group(1)), m.group(3), m.group(4)))
if not total_ns or not ok:
    sys.exit("perfsum: no profile (%s samples, %d ok)" % (total_ns, ok))
units = ok if unit == 0 else ok * body / unit
per = total_ns / 1e3 / units  # us per unit
print("CPU in all: %.1f ms, %.2f us per %s" % (total_ns / 1e6, per, uname))
print()
print("| symbol | share | us per %s |" % uname)
print("| --- | ---: | ---: |")
rows.sort(key=lambda r: -r[0])
for pct, kind, sym in rows[:top]:
    print("| %s%s | %.1f%% | %.2f |" % ("[k] " if kind == "k" else "", sym,
                                        pct, per * pct / 100))

groups = [
    # blocks_portable: sha256.c's C compression (RINGFETCH_SHA256=portable)
    ("SHA-256", re.compile(r"sha256|sha_?ni|^blocks_portable$", re.I)),
    ("TLS (wolfSSL, AES-GCM)", re.compile(
        r"wolf|aes|gcm|ghash|gmult|chacha|poly1305|tls|ssl|x25519|curve|"
        r"ecc|sp_256|sp_\w+|fe_", re.I)),
    ("HTTP parsing (llhttp)", re.compile(r"llhttp", re.I)),
    ("libc (memcpy, malloc, ...)", re.compile(
        r"^(__)?(mem|str|malloc|free|_int_|cfree|calloc|realloc|__libc|"
        r"__GI|_IO|sn?printf|vfprintf|__vfprintf|clock_gettime)", re.I)),
]
sums = {}
for pct, kind, sym in rows:
    if kind == "k":
        g = "kernel"
    else:
        g = "rest of ringfetchd (user)"
        for name, rx in groups:
            if rx.search(sym):
                g = name
                break
    sums[g] = sums.get(g, 0) + pct
print()
print("| group | share | us per %s |" % uname)
print("| --- | ---: | ---: |")
for g, pct in sorted(sums.items(), key=lambda x: -x[1]):
    print("| %s | %.1f%% | %.2f |" % (g, pct, per * pct / 100))
