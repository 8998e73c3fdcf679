#!/usr/bin/python3
"""Output: result-log rotation (size, interval, keep, gzip/zstd), a full
disk that loses nothing, body files, and WARC files read back by a reader
written here from the WARC/1.1 specification."""

import base64
import glob
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403
from harness import sanitizer_errors  # noqa: E402

ROTATED = re.compile(r"^results-\d{8}T\d{6}Z(-\d+)?\.jsonl(\.gz|\.zst)?$")


def rotated(out):
    return sorted(n for n in os.listdir(out) if ROTATED.match(n))


def check_one_each(r, urls):
    """Every URL has exactly one record, across every file."""
    check_eq(len(r.records), len(urls), "records")
    nums = [rec["job"] for rec in r.records]
    check_eq(len(set(nums)), len(nums), "distinct job numbers")
    by = r.by_url()  # raises on a duplicate
    check_eq(set(by), set(urls), "one record per URL")


def lines_of(path):
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            return f.read().split(b"\n")
    with open(path, "rb") as f:
        return f.read().split(b"\n")


@test("rotation under load: 20,000 records over 50+ files, none lost or "
      "twice", timeout=240)
def _():
    with Server() as srv:
        urls = [srv.url("/size/%d?n=%d" % (i % 300, i))
                for i in range(20000)]
        r = run_batch(urls, timeout=200, args=[
            "--concurrency", 64, "--set", "output.rotate_size=64KiB",
            "--set", "output.rotate_keep=100000"])
        check_eq(r.rc, 0, "exit status")
        check_one_each(r, urls)
        files = rotated(r.out)
        diag("%d rotated files" % len(files))
        check(len(files) >= 50, "at least 50 rotations, got %d" % len(files))
        for n in files + ["results.jsonl"]:
            path = os.path.join(r.out, n)
            check(os.path.getsize(path) <= 64 * 1024, "%s within 64KiB" % n)
            lines = lines_of(path)
            check_eq(lines[-1], b"", "%s ends with a newline" % n)
            for ln in lines[:-1]:
                json.loads(ln)  # each line whole


@test("rotate_keep bounds the rotated files", timeout=120)
def _():
    with Server() as srv:
        urls = [srv.url("/size/%d?n=%d" % (i % 50, i)) for i in range(3000)]
        r = run_batch(urls, strict=False, args=[
            "--set", "output.rotate_size=8KiB",
            "--set", "output.rotate_keep=3"])
        check_eq(r.rc, 0, "exit status")
        files = rotated(r.out)
        check_eq(len(files), 3, "rotated files kept")
        # the newest are kept: their jobs finished last
        kept = [rec["job"] for n in files
                for rec in map(json.loads,
                               filter(None, lines_of(os.path.join(r.out, n))))]
        check(min(kept) > 2000, "the oldest were deleted")


@test("gzip: rotated files compressed, readable, nothing lost", timeout=120)
def _():
    with Server() as srv:
        urls = [srv.url("/size/%d?n=%d" % (i % 90, i)) for i in range(4000)]
        r = run_batch(urls, args=[
            "--set", "output.rotate_size=32KiB",
            "--set", "output.rotate_keep=1000",
            "--set", "output.compress=gzip"])
        check_eq(r.rc, 0, "exit status")
        files = rotated(r.out)
        check(len(files) >= 10, "rotations happened")
        for n in files:
            check(n.endswith(".jsonl.gz"), "%s compressed" % n)
            with gzip.open(os.path.join(r.out, n)) as f:
                data = f.read()
            check(data.endswith(b"\n"), "%s whole lines" % n)
        leftovers = [n for n in os.listdir(r.out) if n.endswith(".tmp")]
        check_eq(leftovers, [], "no temporary files")
        check_one_each(r, urls)


@test("zstd: rotated files compressed and readable", timeout=120)
def _():
    zstd = shutil.which("zstd")
    if not zstd:
        skip("no zstd command to read the files back")
    with Server() as srv:
        urls = [srv.url("/size/%d?n=%d" % (i % 90, i)) for i in range(2000)]
        r = run_batch(urls, strict=False, args=[
            "--set", "output.rotate_size=32KiB",
            "--set", "output.rotate_keep=1000",
            "--set", "output.compress=zstd"])
        check_eq(r.rc, 0, "exit status")
        files = rotated(r.out)
        check(len(files) >= 5, "rotations happened")
        recs = []
        for n in files:
            check(n.endswith(".jsonl.zst"), "%s compressed" % n)
            data = subprocess.run([zstd, "-dc", os.path.join(r.out, n)],
                                  check=True, capture_output=True).stdout
            check(data.endswith(b"\n"), "%s whole lines" % n)
            recs += [json.loads(ln) for ln in data.split(b"\n") if ln]
        recs += r.records  # results.jsonl
        check_eq(sorted(x["url"] for x in recs), sorted(urls),
                 "one record per URL")


@test("rotate_interval rotates a slow crawl by time", timeout=120)
def _():
    with Server() as srv:
        urls = [srv.url("/delay/100?n=%d" % i) for i in range(24)]
        r = run_batch(urls, args=[
            "--concurrency", 2, "--per-host", 2,
            "--set", "output.rotate_interval=300ms"])
        check_eq(r.rc, 0, "exit status")
        files = rotated(r.out)
        diag("%d rotated files in %.1f s" % (len(files), r.elapsed))
        check(len(files) >= 3, "rotated by time, got %d" % len(files))
        check_one_each(r, urls)


def fill(path):
    """Write path until the file system is full."""
    with open(path, "wb", buffering=0) as f:
        for chunk in (65536, 4096, 512, 1):
            try:
                while True:
                    f.write(b"x" * chunk)
            except OSError:
                pass


@test("full disk: fetches wait, records are kept and land when space "
      "returns", timeout=120)
def _():
    mnt = scratch_dir("tmpfs")
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs",
                        mnt], capture_output=True)
    if p.returncode != 0:
        skip("cannot mount a tmpfs: %s" % p.stderr.decode().strip())
    try:
        out = os.path.join(mnt, "out")
        os.mkdir(out)
        filler = os.path.join(mnt, "filler")
        fill(filler)
        with Server() as srv:
            urls = [srv.url("/size/%d?n=%d" % (i % 40, i))
                    for i in range(300)]
            work = scratch_dir("full")
            ufile = os.path.join(work, "urls.txt")
            with open(ufile, "w") as f:
                f.write("".join(u + "\n" for u in urls))
            with start_rf(["--batch", ufile, "--out", out], cwd=work) as d:
                d.wait_stderr("new fetches wait", 30)
                # Deliberately stay full a while: longer than the daemon's
                # 1 s write retry period, so a retry fails again while the
                # disk is full (and must not be logged a second time).
                time.sleep(1.3)
                check(d.poll() is None, "still running while the disk is full")
                os.unlink(filler)
                r = d.finish(60)
        check(not r.timed_out, "finished after the space came back")
        check_eq(sanitizer_errors(r.stderr), [], "sanitizer report")
        recs = []
        for n in rotated(out) + ["results.jsonl"]:
            recs += [json.loads(ln) for ln in lines_of(os.path.join(out, n))
                     if ln]
        check_eq(r.rc, 0, "exit status\n" + r.stderr[-2000:])
        got = sorted(x["url"] for x in recs)
        check(got == sorted(urls), "every record, once: %d of %d" % (
            len(got), len(urls)))
        check_in("new fetches wait", r.stderr, "the error was logged")
        check_eq(r.stderr.count("new fetches wait"), 1, "logged once")
        check_in("writable again", r.stderr, "the recovery was logged")
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)


@test("output.bodies files: each body once, named by its sha256",
      timeout=120)
def _():
    with Server() as srv:
        paths = ["/size/%d?n=%d" % (n, i) for i, n in
                 enumerate([0, 1, 26, 5000, 70000, 70000, 300000])]
        paths += ["/chunked/3000?chunks=7", "/close/999",
                  "/status/404", "/redirect-chain/2",
                  "/close-mid-body/5000"]
        urls = [srv.url(p) for p in paths]
        r = run_batch(urls, args=["--set", "output.bodies=files",
                                  "--set", "retry.attempts=1"])
        check_eq(r.rc, 1, "exit status (two failures)")
        by = r.by_url()
        seen = {}
        for u, rec in by.items():
            if rec["error"] in (None, "http_status"):
                bp = rec["body_path"]
                check(bp, "%s: body_path set" % u)
                h = rec["sha256"]
                check_eq(bp, "bodies/%s/%s/%s" % (h[:2], h[2:4], h), u)
                with open(os.path.join(r.out, bp), "rb") as f:
                    check_eq(sha256_of_bytes(f.read()), h, u + " content")
                seen[h] = bp
            else:
                check_eq(rec["body_path"], None, u + " failed: no body")
        check_eq(by[urls[4]]["body_path"], by[urls[5]]["body_path"],
                 "a duplicate body is one file")
        # redirect hops and error pages are stored too: more files than
        # records point at, but each under its own hash
        files = glob.glob(r.out + "/bodies/*/*/*")
        check(len(files) >= len(seen), "every distinct body stored")
        for f in files:
            with open(f, "rb") as fh:
                check_eq(sha256_of_bytes(fh.read()), os.path.basename(f),
                         f + " content matches its name")
        check_eq(os.listdir(r.out + "/bodies/.tmp"), [],
                 "no spool file left behind")


# ------------------------------------------------------------ WARC reader

def warc_members(path):
    """[(offset, bytes)] of the gzip members of path: WARC files must hold
    one record per member (WARC/1.1 annex D)."""
    with open(path, "rb") as f:
        data = f.read()
    out, off = [], 0
    while off < len(data):
        d = zlib.decompressobj(wbits=31)
        body = d.decompress(data[off:])
        check(d.eof, "member at %d complete" % off)
        used = len(data) - off - len(d.unused_data)
        out.append((off, body))
        off += used
    return out


def warc_parse(member):
    """One record: version line, named fields, a block of Content-Length
    bytes, then CRLF CRLF, and nothing else."""
    head, sep, rest = member.partition(b"\r\n\r\n")
    check(sep, "record header ends")
    lines = head.split(b"\r\n")
    check_eq(lines[0], b"WARC/1.1", "version line")
    fields = {}
    for ln in lines[1:]:
        name, colon, value = ln.partition(b":")
        check(colon, "field line %r" % ln)
        fields[name.decode().lower()] = value.strip().decode()
    n = int(fields["content-length"])
    block = rest[:n]
    check_eq(len(block), n, "block length")
    check_eq(rest[n:], b"\r\n\r\n", "record end")
    return fields, block


def b32digest(raw):
    return "sha256:" + base64.b32encode(raw).decode()


def http_body(block):
    """Entity body of a raw HTTP response block (chunking removed)."""
    head, _, body = block.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" not in head.lower():
        return head, body
    out, pos = b"", 0
    while True:
        eol = body.index(b"\r\n", pos)
        size = int(body[pos:eol].split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            return head, out
        out += body[pos:pos + size]
        pos += size + 2


@test("output.bodies warc: records read back one by one", timeout=120)
def _():
    with Server() as srv:
        paths = ["/size/%d?n=%d" % (n, i)
                 for i, n in enumerate([0, 100, 5000, 200000])]
        paths += ["/chunked/3000?chunks=5", "/status/404"]
        urls = [srv.url(p) for p in paths]
        r = run_batch(urls, args=["--set", "output.bodies=warc",
                                  "--set", "retry.attempts=1"])
        check_eq(r.rc, 1, "exit status (one 404)")
        files = sorted(glob.glob(r.out + "/warc/*.warc.gz"))
        check(files, "a WARC file")
        records, ids = {}, set()
        responses = {}
        for path in files:
            members = warc_members(path)
            first = True
            for off, m in members:
                fields, block = warc_parse(m)
                if first:
                    check_eq(fields["warc-type"], "warcinfo", "first record")
                    first = False
                rid = fields["warc-record-id"]
                check(re.match(r"^<urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]"
                               r"{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}>$", rid),
                      "record id " + rid)
                check(rid not in ids, "unique record id")
                ids.add(rid)
                check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$",
                               fields["warc-date"]), "WARC-Date")
                check_eq(fields["warc-block-digest"],
                         b32digest(hashlib.sha256(block).digest()),
                         "block digest")
                records[rid] = (fields, block)
                if fields["warc-type"] == "response":
                    key = "warc/%s#%d" % (os.path.basename(path), off)
                    responses[key] = (fields, block)
        by = r.by_url()
        for u in urls:
            rec = by[u]
            bp = rec["body_path"]
            check(bp in responses, "%s: body_path %r is a response" % (u, bp))
            fields, block = responses[bp]
            check_eq(fields["warc-target-uri"], u, "target URI")
            check_eq(fields["warc-ip-address"], "127.0.0.1", "IP address")
            check_eq(fields["content-type"],
                     "application/http;msgtype=response", "content type")
            head, body = http_body(block)
            check(head.startswith(b"HTTP/1.1 %d" % rec["status"]), "status")
            check_eq(sha256_of_bytes(body), rec["sha256"], u + " body")
            check_eq(fields["warc-payload-digest"],
                     b32digest(bytes.fromhex(rec["sha256"])),
                     "payload digest")
        reqs = [f for f, _ in records.values() if f["warc-type"] == "request"]
        meta = [f for f, _ in records.values() if f["warc-type"] == "metadata"]
        check_eq(len(reqs), len(urls), "a request record each")
        check_eq(len(meta), len(urls), "a metadata record each")
        for f in reqs:
            _, blk = records[f["warc-record-id"]]
            check(blk.startswith(b"GET /"), "request block")
            check_eq(records[f["warc-concurrent-to"]][0]["warc-type"],
                     "response", "request points at its response")
        for f in meta:
            check_eq(records[f["warc-refers-to"]][0]["warc-type"],
                     "response", "metadata refers to its response")
        check_eq(os.listdir(r.out + "/warc/.tmp"), [], "no spool left")


@test("WARC files rotate by output.rotate_size", timeout=120)
def _():
    with Server() as srv:
        urls = [srv.url("/size/20000?n=%d" % i) for i in range(60)]
        r = run_batch(urls, args=["--set", "output.bodies=warc",
                                  "--set", "output.rotate_size=8KiB"])
        check_eq(r.rc, 0, "exit status")
        files = sorted(glob.glob(r.out + "/warc/*.warc.gz"))
        check(len(files) >= 3, "several WARC files, got %d" % len(files))
        n = 0
        for path in files:
            with gzip.open(path) as f:
                n += f.read().count(b"WARC-Type: response\r\n")
        check_eq(n, 60, "every response archived once")


def daemon_submit(sock, urls):
    """Send bare URL lines on the control socket; read one ack each."""
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(sock)
    s.sendall("".join(u + "\n" for u in urls).encode())
    buf = b""
    while buf.count(b"\n") < len(urls):
        chunk = s.recv(65536)
        check(chunk, "control socket open")
        buf += chunk
    s.close()
    for ln in buf.split(b"\n")[:len(urls)]:
        check(json.loads(ln)["ok"], "submit ack %r" % ln)


def jsonl_count(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


@test("daemon: SIGHUP reopens results.jsonl for logrotate; bodies stored",
      timeout=120)
def _():
    import signal
    work = scratch_dir("daemon-out")
    sock, out = os.path.join(work, "rf.sock"), os.path.join(work, "out")
    cfg = os.path.join(work, "ringfetch.yaml")
    with open(cfg, "w") as f:
        f.write("daemon:\n  socket: %s\n  state_dir: %s\n"
                "output:\n  dir: %s\n  bodies: files\n"
                "  compress: gzip\n" % (sock, os.path.join(work, "st"),
                                          out))
    errpath = os.path.join(work, "stderr")
    with Server() as srv, open(errpath, "wb") as err:
        p = subprocess.Popen([rf_bin(), "-c", cfg], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        try:
            wait_until(lambda: os.path.exists(sock), 15, what="socket")
            first = [srv.url("/size/%d?a=%d" % (i, i)) for i in range(40)]
            daemon_submit(sock, first)
            log = os.path.join(out, "results.jsonl")
            wait_until(lambda: jsonl_count(log) == 40, 15, what="40 records")
            os.rename(log, log + ".1")      # what logrotate does
            p.send_signal(signal.SIGHUP)
            wait_until(lambda: os.path.exists(log), 10, what="reopened")
            second = [srv.url("/size/%d?b=%d" % (i, i)) for i in range(25)]
            daemon_submit(sock, second)
            wait_until(lambda: jsonl_count(log) == 25, 15, what="25 more")
            p.send_signal(signal.SIGTERM)
            check_eq(p.wait(30), 0, "exit status")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    with open(errpath, errors="replace") as f:
        stderr = f.read()
    check("Sanitizer" not in stderr and "runtime error" not in stderr,
          "sanitizers quiet:\n" + stderr[-3000:])
    recs = []
    for n in ("results.jsonl.1", "results.jsonl"):
        recs += [json.loads(ln) for ln in lines_of(os.path.join(out, n))
                 if ln]
    check_eq(sorted(r["url"] for r in recs), sorted(first + second),
             "each record once, in the file of its time")
    for r in recs:
        with open(os.path.join(out, r["body_path"]), "rb") as f:
            check_eq(sha256_of_bytes(f.read()), r["sha256"], r["url"])


main()
