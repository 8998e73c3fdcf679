#!/usr/bin/python3
"""Self-test of tests/server/rfserver.py and tests/integ/harness.py (no
ringfetchd involved): routes, accounting, failure modes, speed."""

import hashlib
import http.client
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403
import harness  # noqa: E402

SRV = None  # one shared server (ports=2) for most tests


def get(path, i=0, method="GET", headers=None):
    c = http.client.HTTPConnection("127.0.0.1", SRV.ports[i], timeout=10)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def raw(path, i=0, extra=b"", timeout=5):
    """Send one GET (Connection: close) on a raw socket; read to EOF."""
    s = socket.create_connection(("127.0.0.1", SRV.ports[i]), timeout=timeout)
    try:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n"
                  % (path.encode(), extra))
        data = b""
        while True:
            b = s.recv(1 << 16)
            if not b:
                return data
            data += b
    finally:
        s.close()


def split_response(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        hdrs[k.strip().lower().decode()] = v.strip().decode()
    return lines[0], hdrs, body


@test("GET /ok and HEAD /ok")
def _():
    st, h, body = get("/ok")
    check_eq((st, body), (200, b"hello"), "/ok")
    check_eq(h.get("Content-Length"), "5", "Content-Length")
    check_eq(h.get("Content-Type"), "text/plain", "Content-Type")
    st, h, body = get("/ok", method="HEAD")
    check_eq((st, body, h.get("Content-Length")), (200, b"", "5"), "HEAD")
    check_eq(get("/")[2], b"hello", "/")
    check_eq(get("/no/such/thing")[0], 404, "unknown path")
    check_eq(get("/size/abc")[0], 400, "bad argument")


@test("/size/N content and sha256 (sync and streamed sizes)")
def _():
    for n in (0, 1, 25, 26, 27, 1000, 65520, 65521, (1 << 20) + 7,
              3 * (1 << 20) + 5):
        st, h, body = get("/size/%d" % n)
        check_eq(st, 200, "status /size/%d" % n)
        check_eq(len(body), n, "length /size/%d" % n)
        check(body == content_of(n), "content /size/%d" % n)
        check_eq(hashlib.sha256(body).hexdigest(), sha256_of(n),
                 "sha256 /size/%d" % n)
    check_eq(len(get("/size/2KiB")[2]), 2048, "size suffix")


@test("/big/N streams N bytes with the pattern")
def _():
    n = 64 << 20
    c = http.client.HTTPConnection("127.0.0.1", SRV.port, timeout=20)
    c.request("GET", "/big/64MiB")
    r = c.getresponse()
    check_eq(r.getheader("Content-Length"), str(n), "Content-Length")
    h = hashlib.sha256()
    got = 0
    while True:
        b = r.read(1 << 20)
        if not b:
            break
        h.update(b)
        got += len(b)
    c.close()
    check_eq(got, n, "bytes")
    check_eq(h.hexdigest(), sha256_of(n), "sha256")


@test("chunked: N bytes in K chunks, extensions, trailer")
def _():
    st, h, body = get("/chunked/1000?chunks=7")
    check_eq(h.get("Transfer-Encoding"), "chunked", "TE")
    check("Content-Length" not in h, "no Content-Length")
    check(body == content_of(1000), "decoded body")
    data = raw("/chunked/10?chunks=3&ext=1&trailer=1")
    _, hd, body = split_response(data)
    check_eq(body, b"4;x=y\r\nabcd\r\n3;x=y\r\nefg\r\n3;x=y\r\nhij\r\n"
             b"0;x=y\r\nX-Trailer: yes\r\n\r\n", "raw chunked")
    check_eq(raw("/chunked/0").split(b"\r\n\r\n", 1)[1], b"0\r\n\r\n",
             "empty chunked")
    t0 = time.monotonic()
    st, h, body = get("/chunked/100?chunks=3&gap=100")
    check(body == content_of(100), "gapped body")
    check(time.monotonic() - t0 >= 0.3, "gaps honoured")
    st, h, body = get("/chunked/3000000?chunks=2")
    check(body == content_of(3000000), "big chunked body")


@test("a 256 MiB /chunked/N streams with the server's peak RSS flat",
      timeout=60)
def _():
    # The engine's memory tests rely on this: the server makes a large
    # chunked body as it sends it and never holds it.
    n = 256 << 20
    with Server() as srv:
        before = peak_rss_kib(srv.proc.pid)
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
        c.request("GET", "/chunked/256MiB?chunks=4096")
        r = c.getresponse()
        check_eq(r.getheader("Transfer-Encoding"), "chunked", "TE")
        check_eq(r.getheader("Content-Length"), None, "no Content-Length")
        h = hashlib.sha256()
        got = 0
        while True:
            b = r.read(1 << 20)
            if not b:
                break
            h.update(b)
            got += len(b)
        c.close()
        after = peak_rss_kib(srv.proc.pid)
    check_eq(got, n, "bytes")
    check_eq(h.hexdigest(), sha256_of(n), "sha256")
    diag("rfserver peak RSS %d KiB before, %d KiB after" % (before, after))
    check(after - before < 32 * 1024, "server peak RSS grew %d KiB" %
          (after - before))


@test("/close/N: no length, read until close; /gzip/N")
def _():
    data = raw("/close/100")
    line, h, body = split_response(data)
    check_eq(line, b"HTTP/1.1 200 OK", "status line")
    check("content-length" not in h and "transfer-encoding" not in h,
          "no framing headers")
    check_eq(h.get("connection"), "close", "Connection: close")
    check(body == content_of(100), "body")
    st, h, body = get("/gzip/5000")
    check_eq(h.get("Content-Encoding"), "gzip", "Content-Encoding")
    check_eq(hashlib.sha256(body).hexdigest(), gzip_sha256_of(5000),
             "gzip sha256")


@test("/status/CODE, 204 and 304 without body")
def _():
    for code in (200, 404, 500, 503, 418):
        st, h, body = get("/status/%d" % code)
        check_eq((st, body), (code, b"status %d" % code), "/status/%d" % code)
    for code in (204, 304):
        data = raw("/status/%d" % code)
        line, h, body = split_response(data)
        check(line.startswith(b"HTTP/1.1 %d " % code), "status line")
        check("content-length" not in h, "no Content-Length")
        check_eq(body, b"", "no body")


@test("stats: connections, requests, per-connection max, control excluded")
def _():
    SRV.reset()
    c = http.client.HTTPConnection("127.0.0.1", SRV.port, timeout=10)
    for _ in range(10):
        c.request("GET", "/ok")
        check_eq(c.getresponse().read(), b"hello", "keep-alive body")
    c.close()
    get("/size/10")
    get("/nope")
    get("/ok", i=1)
    for _ in range(2):  # control requests do not move the counters
        s = SRV.stats(0)
        check_eq(s["connections_total"], 3, "connections_total")
        check_eq(s["requests_total"], 12, "requests_total")
        check_eq(s["max_requests_per_connection"], 10, "max req per conn")
        check_eq(s["max_concurrent_requests"], 1, "max concurrent")
        check_eq(s["per_path_counts"].get("/ok"), 10, "per path /ok")
        check_eq(s["per_prefix_counts"].get("/size"), 1, "per prefix /size")
        check_eq(s["status_counts"], {"200": 11, "404": 1}, "status counts")
        check_eq(s["in_flight"], 0, "in flight")
    s1 = SRV.stats(1)
    check_eq((s1["connections_total"], s1["requests_total"]), (1, 1),
             "listener 1 separate")
    a = SRV.stats_all()
    check_eq((a["connections_total"], a["requests_total"]), (4, 13),
             "totals")
    SRV.reset(1)
    check_eq(SRV.stats(1)["requests_total"], 0, "reset one listener")
    check_eq(SRV.stats(0)["requests_total"], 12, "other listener kept")


@test("max_concurrent_requests: 4 parallel /delay/300 -> 4")
def _():
    SRV.reset()
    res = []

    def one():
        res.append(get("/delay/300")[2])
    t0 = time.monotonic()
    ts = [threading.Thread(target=one) for _ in range(4)]
    for t in ts:
        t.start()

    def all_four():
        s = SRV.stats()
        return s if s["in_flight"] == 4 else None
    mid = wait_until(all_four, 5, interval=0.01, what="4 requests in flight")
    for t in ts:
        t.join()
    el = time.monotonic() - t0
    check_eq(res, [b"ok"] * 4, "bodies")
    check(0.3 <= el < 1.5, "ran in parallel (%.2fs)" % el)
    check_eq(mid["in_flight"], 4, "in flight mid-way")
    s = SRV.stats()
    check_eq(s["max_concurrent_requests"], 4, "max_concurrent_requests")
    check_eq(s["max_concurrent_connections"], 4, "max concurrent conns")
    check_eq((s["in_flight"], s["connections_open"]), (0, 0), "drained")


@test("redirect headers: /redirect, chain, loop, relative")
def _():
    to = "http://127.0.0.1:1/x?y=1"
    st, h, _ = get("/redirect/301?to=" + urllib.parse.quote(to, safe=""))
    check_eq((st, h.get("Location")), (301, to), "/redirect/301")
    check_eq(get("/redirect/307")[1].get("Location"), "/ok", "default to")
    st, h, _ = get("/redirect-chain/3")
    check_eq((st, h.get("Location")), (302, "/redirect-chain/2"), "chain")
    st, h, body = get("/redirect-chain/0")
    check_eq((st, body), (200, b"done"), "chain end")
    st, h, _ = get("/redirect-chain/2?abs=1", headers={"Host": "h.test:99"})
    check_eq(h.get("Location"), "http://h.test:99/redirect-chain/1?abs=1",
             "absolute chain")
    check_eq(get("/redirect-loop")[1].get("Location"), "/redirect-loop",
             "loop")
    # follow /redirect-rel/3 with RFC 3986 resolution: ends at /ok, 4 hops
    url, hops = SRV.url("/redirect-rel/3"), 0
    while True:
        p = urllib.parse.urlsplit(url)
        st, h, body = get(p.path)
        if st != 302:
            break
        url = urllib.parse.urljoin(url, h["Location"])
        hops += 1
    check_eq((url, hops, body), (SRV.url("/ok"), 4, b"hello"), "relative")


@test("Retry-After seconds and HTTP-date")
def _():
    st, h, _ = get("/retry-after/429/7")
    check_eq((st, h.get("Retry-After")), (429, "7"), "seconds")
    st, h, _ = get("/retry-after-date/503/30")
    import email.utils
    when = email.utils.parsedate_to_datetime(h["Retry-After"]).timestamp()
    check_eq(st, 503, "status")
    check(25 <= when - time.time() <= 32, "date about 30 s ahead")


@test("flaky counters: 503 N times then 200; flaky-reset; reset clears")
def _():
    SRV.reset()
    got = [get("/flaky/k1/2")[0] for _ in range(4)]
    check_eq(got, [503, 503, 200, 200], "flaky k1")
    check_eq(get("/flaky/k2/1?status=500&retry-after=1")[:2][0], 500,
             "custom status")
    check_eq(get("/flaky/k1/2", i=1)[0], 503, "per-listener key")
    errs = 0
    for _ in range(3):
        try:
            st = get("/flaky-reset/r1/2")[0]
        except (ConnectionResetError, http.client.RemoteDisconnected):
            errs += 1
    check_eq((errs, st), (2, 200), "flaky-reset")
    SRV.reset()
    check_eq(get("/flaky/k1/1")[0], 503, "reset clears keys")


@test("malformed responses are emitted byte-exact")
def _():
    starts = {
        "status": b"HTTP/1.1 2x0 OK\r\n",
        "garbage": b"XTTP/1.1 200 OK\r\n",
        "header": b"HTTP/1.1 200 OK\r\nX-Bad\x01Name: v\r\n",
        "header-nocolon": b"HTTP/1.1 200 OK\r\nThis line has no colon\r\n",
        "cl": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n",
        "cl-negative": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n",
        "cl-te": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Enc",
        "chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "huge-header": b"HTTP/1.1 200 OK\r\nX-Huge: aaaa",
    }
    for kind, start in starts.items():
        data = raw("/malformed/" + kind)
        check(data.startswith(start), "%s: got %r" % (kind, data[:80]))
    data = raw("/malformed/huge-header")
    line = data.split(b"\r\n")[1]
    check_eq(len(line), len(b"X-Huge: ") + 100 * 1024, "huge header length")
    check_eq(get("/malformed/nope")[0], 400, "unknown kind")


@test("reset-mid-body gives ECONNRESET; close-mid-body a short body")
def _():
    s = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
    s.sendall(b"GET /reset-mid-body/200000 HTTP/1.1\r\nHost: x\r\n\r\n")
    got, err = b"", None
    # let the RST arrive while data is still unread: TCP_INFO's first byte
    # (tcpi_state) reads TCP_CLOSE (7) once it has, without consuming the
    # error the way SO_ERROR would
    wait_until(lambda: s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO,
                                    1)[0] == 7, 5, interval=0.01,
               what="the RST")
    try:
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            got += b
    except ConnectionResetError as e:
        err = e
    s.close()
    check(err is not None, "ECONNRESET raised (read %d bytes, EOF)" % len(got))
    # and a client reading as it goes gets the half body, then the reset
    c = http.client.HTTPConnection("127.0.0.1", SRV.port, timeout=5)
    c.request("GET", "/reset-mid-body/200000")
    r = c.getresponse()
    check_eq(r.getheader("Content-Length"), "200000", "length announced")
    try:
        r.read()
        check(False, "read should fail")
    except (ConnectionResetError, http.client.IncompleteRead):
        pass
    c.close()
    data = raw("/close-mid-body/1000")
    _, h, body = split_response(data)
    check_eq((h.get("content-length"), body), ("1000", content_of(500)),
             "close-mid-body")
    check_eq(raw("/close-before-response"), b"", "close-before-response")
    try:
        d = raw("/reset-before-response")
        check_eq(d, b"", "reset-before-response: nothing")
    except ConnectionResetError:
        pass


@test("slow-first-byte, stall, slow-headers, drip, delay timing")
def _():
    s = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
    s.sendall(b"GET /slow-first-byte/300 HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(0.15)
    try:
        s.recv(10)
        check(False, "byte before 300 ms")
    except socket.timeout:
        pass
    s.settimeout(5)
    check(s.recv(100).startswith(b"HTTP/1.1 200"), "then the response")
    s.close()
    s = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
    s.sendall(b"GET /stall/1000/400 HTTP/1.1\r\nHost: x\r\n\r\n")
    first = b""
    while b"\r\n\r\n" not in first or \
            len(first.partition(b"\r\n\r\n")[2]) < 500:
        b = s.recv(1 << 16)  # bounded by the socket's 5 s timeout
        check(b, "EOF before the first half")
        first += b
    _, h, body = split_response(first)
    check_eq((h["content-length"], body), ("1000", content_of(500)),
             "first half")
    s.settimeout(0.1)
    try:
        s.recv(10)
        check(False, "no stall")
    except socket.timeout:
        pass
    s.settimeout(5)
    rest = b""
    while len(rest) < 500:
        rest += s.recv(1000)
    check(rest == content_of(1000)[500:], "second half")
    s.close()
    t0 = time.monotonic()
    data = raw("/slow-headers/200")
    check(time.monotonic() - t0 >= 0.2, "slow headers waited")
    check(data.endswith(b"\r\n\r\nok") and b"Content-Length: 2" in data,
          "slow-headers response %r" % data)
    t0 = time.monotonic()
    data = raw("/drip/5/50")
    check(time.monotonic() - t0 >= 0.25, "drip paced")
    check(data.endswith(b"\r\n\r\nabcde"), "drip body")


@test("pipelining: answers in order on one connection")
def _():
    SRV.reset()
    s = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
    reqs = [b"/delay/100", b"/size/3", b"/status/404", b"/ok"]
    s.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p
                       for p in reqs[:-1]) +
              b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        data += b
    s.close()
    heads = re.findall(rb"HTTP/1\.1 \d+ [^\r]*", data)
    check_eq(heads, [b"HTTP/1.1 200 OK", b"HTTP/1.1 200 OK",
                     b"HTTP/1.1 404 Not Found", b"HTTP/1.1 200 OK"], "order")
    check(data.endswith(b"hello"), "last body")
    s = SRV.stats()
    check_eq((s["connections_total"], s["max_requests_per_connection"]),
             (1, 4), "one connection, 4 requests")


@test("/headers echo and /__log record request headers")
def _():
    SRV.reset()
    st, h, body = get("/headers", headers={"User-Agent": "rf-test/1",
                                           "X-Custom": "v 1"})
    d = json.loads(body)
    hd = {k.lower(): v for k, v in d["headers"]}
    check_eq((d["method"], d["target"]), ("GET", "/headers"), "request line")
    check_eq(hd.get("user-agent"), "rf-test/1", "User-Agent")
    check_eq(hd.get("x-custom"), "v 1", "custom header")
    check_eq(hd.get("host"), "127.0.0.1:%d" % SRV.port, "Host")
    get("/ok?a=1")
    log = SRV.log()
    check_eq([e["target"] for e in log], ["/headers", "/ok?a=1"], "log")
    check_eq(SRV.log(path="/ok")[0]["target"], "/ok?a=1", "log filter")


@test("bad requests: missing Host -> 400 and close; head limit -> 431")
def _():
    s = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
    s.sendall(b"GET /ok HTTP/1.1\r\n\r\n")
    check(s.recv(1000).startswith(b"HTTP/1.1 400"), "400")
    s.close()
    s = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
    s.sendall(b"GET /ok HTTP/1.1\r\nX: " + b"a" * 70000)
    check(s.recv(1000).startswith(b"HTTP/1.1 431"), "431")
    s.close()
    s = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
    s.sendall(b"GET /ok HTTP/1.0\r\n\r\n")  # 1.0: no Host needed, closes
    data = s.recv(1000)
    check(data.endswith(b"hello") and b"Connection: close" in data, "1.0")
    check_eq(s.recv(10), b"", "closed after 1.0")
    s.close()


@test("keepalive-close-idle closes the idle connection after ~50 ms")
def _():
    s = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
    s.sendall(b"GET /keepalive-close-idle HTTP/1.1\r\nHost: x\r\n\r\n")
    t0 = time.monotonic()
    data = b""
    while not data.endswith(b"ok"):
        data += s.recv(1000)
    check(b"Connection: close" not in data, "response is keep-alive")
    check_eq(s.recv(10), b"", "then EOF")
    check(time.monotonic() - t0 >= 0.04, "after the idle delay")
    s.close()


@test("20000 keep-alive requests well under a minute", timeout=60)
def _():
    nconn, per = 8, 2500
    one = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
    resp_len = len(raw_ok_response())
    SRV.reset()
    errors = []

    def client():
        try:
            s = socket.create_connection(("127.0.0.1", SRV.port), timeout=20)
            sent = got = 0
            window = 64
            while got < per * resp_len:
                while sent < per and sent * resp_len - got < window * resp_len:
                    k = min(window, per - sent)
                    s.sendall(one * k)
                    sent += k
                b = s.recv(1 << 18)
                if not b:
                    raise RuntimeError("EOF after %d bytes" % got)
                got += len(b)
            s.close()
        except Exception as e:
            errors.append(repr(e))
    t0 = time.monotonic()
    ts = [threading.Thread(target=client) for _ in range(nconn)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    el = time.monotonic() - t0
    check_eq(errors, [], "client errors")
    st = SRV.stats()
    check_eq(st["requests_total"], nconn * per, "requests_total")
    check_eq(st["max_requests_per_connection"], per, "per connection")
    diag("20000 requests in %.2f s (%.0f/s)" % (el, nconn * per / el))
    check(el < 20, "took %.1f s" % el)


def raw_ok_response():
    s = socket.create_connection(("127.0.0.1", SRV.port), timeout=5)
    s.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while not data.endswith(b"hello"):
        data += s.recv(1000)
    s.close()
    return data


@test("several listeners, IPv6 twin, robots.txt, SIGTERM exit 0")
def _():
    with Server(ports=3, bind6=True) as srv:
        check_eq(len(set(srv.ports)), 3, "3 distinct ports")
        for i in range(3):
            c = http.client.HTTPConnection("127.0.0.1", srv.ports[i],
                                           timeout=5)
            c.request("GET", "/size/%d" % i)
            check_eq(c.getresponse().read(), content_of(i), "listener %d" % i)
            c.close()
        try:
            c = http.client.HTTPConnection("::1", srv.ports[1], timeout=5)
            c.request("GET", "/ok")
            check_eq(c.getresponse().read(), b"hello", "over ::1")
            c.close()
            check_eq(srv.stats(1)["requests_total"], 2, "::1 same counters")
        except OSError as e:
            diag("no IPv6 loopback: %s" % e)
        check_eq(srv.url("/ok", 2, host="::1"),
                 "http://[::1]:%d/ok" % srv.ports[2], "url v6")
        check(srv.stats_all()["requests_total"] >= 3, "totals")
        c = http.client.HTTPConnection("127.0.0.1", srv.ports[0], timeout=5)
        c.request("GET", "/robots.txt")
        r = c.getresponse()
        r.read()
        check_eq(r.status, 404, "no robots")
        srv.robots("User-agent: *\nDisallow: /private\n")
        c.request("GET", "/robots.txt")
        r = c.getresponse()
        check_eq((r.status, r.read()),
                 (200, b"User-agent: *\nDisallow: /private\n"), "robots")
        c.close()
        srv.robots(None, status=503, i=2)
        c = http.client.HTTPConnection("127.0.0.1", srv.ports[2], timeout=5)
        c.request("GET", "/robots.txt")
        check_eq(c.getresponse().status, 503, "robots status")
        c.close()
        # a connection held open must not block shutdown
        hold = socket.create_connection(("127.0.0.1", srv.port))
        hold.sendall(b"GET /delay/10000 HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_until(lambda: srv.stats()["in_flight"] == 1, 5, interval=0.01,
                   what="the held request in flight")
        t0 = time.monotonic()
        rc = srv.stop()
        hold.close()
        check_eq(rc, 0, "exit status after SIGTERM")
        check(time.monotonic() - t0 < 2, "stopped promptly")
        check_eq(srv.server_log().strip(), "", "nothing on stderr")


@test("silent robots.txt is read and never answered; /__log times requests")
def _():
    with Server(ports=2) as srv:
        srv.robots(None, status=None, i=1, silent=True)
        c = http.client.HTTPConnection("127.0.0.1", srv.ports[1],
                                       timeout=0.5)
        c.request("GET", "/robots.txt")
        try:
            c.getresponse()
            check(False, "a silent robots.txt answered")
        except socket.timeout:
            pass
        c.close()
        check_eq(srv.stats(1)["per_path_counts"].get("/robots.txt"), 1,
                 "the request was read")
        srv.robots(None, status=None, i=1)
        c = http.client.HTTPConnection("127.0.0.1", srv.ports[1], timeout=5)
        c.request("GET", "/robots.txt")
        r = c.getresponse()
        r.read()
        check_eq(r.status, 404, "unset again")
        c.close()
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        for p in ("/ok", "/delay/200", "/ok"):
            c.request("GET", p)
            c.getresponse().read()
        c.close()
        log = srv.log()
        check_eq([e["target"] for e in log], ["/ok", "/delay/200", "/ok"],
                 "log order")
        check(log[2]["t"] - log[1]["t"] >= 0.2, "t spaces the requests: %r"
              % [e["t"] for e in log])


@test("HTTPS listener (--tls-cert/--tls-key)")
def _():
    import shutil
    if not shutil.which("openssl"):
        skip("no openssl command")
    cert, key = make_cert(scratch_dir("cert"))
    with Server(tls=(cert, key)) as srv:
        ctx = ssl.create_default_context(cafile=cert)
        c = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=5,
                                        context=ctx)
        c.request("GET", "/size/100")
        check_eq(c.getresponse().read(), content_of(100), "body over TLS")
        c.close()
        check(srv.url("/ok").startswith("https://"), "https url")
        check_eq(srv.stats()["requests_total"], 1, "stats over TLS")


@test("harness: sha256_of, records parsing, by_url duplicates, free_port")
def _():
    for n in (0, 1, 26, 65519, 65520, 65521, 200001):
        check_eq(sha256_of(n), hashlib.sha256(content_of(n)).hexdigest(),
                 "sha256_of(%d)" % n)
    d = scratch_dir("rec")
    with open(os.path.join(d, "results.jsonl"), "w") as f:
        f.write('{"url":"a","ok":true}\n{"url":"b"\n[1]\n{"url":"a"}')
    recs, probs = harness.read_records(d)
    check_eq(len(recs), 2, "whole records")
    check_eq(len(probs), 3, "problems: bad JSON, non-object, no newline")
    r = harness.BatchResult(harness.Proc([], 0, "", "", False, 0), d, recs,
                            probs, None)
    try:
        r.by_url()
        check(False, "duplicate not detected")
    except AssertionError as e:
        check("two records" in str(e), "duplicate message")
    check_eq(r.by_url(allow_dup=True)["a"], {"url": "a"}, "allow_dup")
    p = free_port()
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", p))
        check(False, "free port accepted a connection")
    except ConnectionRefusedError:
        pass
    finally:
        s.close()
    check(os.path.isabs(rf_bin()) and rf_bin().endswith("/ringfetchd"),
          "rf_bin path")


if __name__ == "__main__":
    with Server(ports=2) as SRV:
        main()
