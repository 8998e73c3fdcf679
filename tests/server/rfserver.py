#!/usr/bin/python3
"""rfserver -- the scriptable HTTP/1.1 test server of ringfetch.

Python 3 standard library only; asyncio Protocol based (tens of thousands of
keep-alive requests per second on one core).  Behaviour is scripted by the
request path, so a URL list is the whole test script.

Start:
    /usr/bin/python3 tests/server/rfserver.py --port 0 [--host 127.0.0.1]
        [--ports N] [--port-file FILE] [--bind6] [--also-host ADDR]...
        [--tls-cert F --tls-key F]

  --port P      first port (0: the OS picks; with --ports N and P != 0 the
                listeners use P, P+1, ... P+N-1)
  --ports N     N listeners = N distinct "hosts", each with its own counters
  --port-file F once every listener listens, F gets the ports space separated
                and a final newline (written in one write)
  --bind6       every listener also listens on [::1] at the same port number
                (same counters); host 127.0.0.1 and [::1] both work
  --also-host A every listener also listens on address A (e.g. 127.0.0.7;
                repeatable) at the same port number, same counters: many
                host names for a client that keys per-host limits on them
                (see per_host in /__stats)
  --tls-cert/--tls-key  serve HTTPS instead of HTTP on every listener
Prints "listening P1 [P2 ...]" on stdout.  SIGTERM/SIGINT: clean exit 0.
Writes nothing to disk but the port file.

Sizes N below are a decimal byte count, optionally with a suffix
k/K/KiB (1024), M/MiB (1024^2), G/GiB (1024^3).  MS = milliseconds.
Body content is deterministic: byte i of a body is
b"abcdefghijklmnopqrstuvwxyz"[i % 26]  (harness.content_of / sha256_of).

Routes (any method; HEAD gets headers only; responses are keep-alive unless
the request says otherwise or the route closes; every route accepts the query
flag ?close=1 to answer with "Connection: close" and close):
  /  and /ok                 200 "hello" (5 bytes), text/plain
  /size/N                    200, N pattern bytes, Content-Length
  /big/N                     200, Content-Length N, streamed in 65520-byte
                             writes with flow control (N may be 1GiB)
  /chunked/N?chunks=K        200, Transfer-Encoding: chunked, N bytes in K
                             chunks (default K=1; K>N gives N 1-byte chunks);
                             &gap=MS sleeps between chunks, &ext=1 adds a
                             chunk extension ";x=y", &trailer=1 a trailer
  /encoded/N?enc=E[&chunked=1]  200, pattern(0, N) with Content-Encoding E:
                             gzip, deflate (zlib), rawdeflate (sent as
                             deflate), br, zstd (br and zstd by the brotli
                             and zstd tools), identity (no header); a
                             request whose Accept-Encoding lacks E gets
                             identity, as a server that honours it would,
                             unless force=1; label=L names L instead
  /bomb/N                    200, gzip of N zero bytes, chunked, compressed
                             as it streams (a decompression bomb)
  /validators?etag=T&lm=DATE 200 with ETag and Last-Modified; 304 when
                             If-None-Match or If-Modified-Since matches
  /gzip/N                    200, Content-Encoding: gzip, the gzip (mtime 0,
                             level 6) of N pattern bytes; Content-Length
  /close/N                   200, no Content-Length, not chunked,
                             "Connection: close", N bytes then FIN
  /status/CODE               CODE (200..999) with body "status CODE";
                             204 and 304 carry no body and no Content-Length
  /slow-first-byte/MS        sleep MS before any byte, then 200 "ok"
  /slow-headers/MS           send "HTTP/1.1 200 OK\r\nContent-Type: ..\r\n",
                             sleep MS, then the rest of the head and "ok"
  /stall/N/MS                head (Content-Length N) + first N//2 bytes,
                             sleep MS, then the rest
  /drip/N/MS                 Content-Length N, then one byte every MS
  /delay/MS                  200 "ok" after MS
  /close-mid-body/N          Content-Length N, N//2 bytes, then FIN
  /reset-mid-body/N          Content-Length N, N//2 bytes, waits until they
                             left the socket (+20 ms, ?ms=M), then RST
  /reset-before-response     RST as soon as the request is read
  /close-before-response     FIN without a byte
  /malformed/KIND            a broken response, then FIN.  KIND:
       status          "HTTP/1.1 2x0 OK"
       garbage         "XTTP/1.1 200 OK"
       header          a header name with a control char (\x01)
       header-nocolon  a header line without a colon
       cl              two different Content-Length headers (5 and 7)
       cl-negative     "Content-Length: -1"
       cl-te           both Content-Length and Transfer-Encoding: chunked
       chunk           chunked with invalid chunk size "zz"
       huge-header     one 100 KiB header line (X-Huge: aaaa...)
  /redirect/CODE?to=URLENC   CODE with "Location: <to, url-decoded>"
                             (default to=/ok), body "redirect"
  /redirect-chain/N          N>0: 302 "Location: /redirect-chain/N-1";
                             N=0: 200 "done".  So N redirects in all.
                             ?abs=1: absolute Location http://HOST/... using
                             the request's Host header
  /redirect-loop             302 "Location: /redirect-loop" (forever)
  /redirect-rel/N            N>0: 302 "Location: ../redirect-rel/N-1"
                             (RFC 3986 resolution against /redirect-rel/N
                             gives /redirect-rel/N-1);
                             N=0: 302 "Location: x/../../ok" (resolves to
                             /ok).  So: final /ok, N+1 redirects, body hello
  /retry-after/CODE/SECS     CODE with "Retry-After: SECS", body "retry"
  /retry-after-date/CODE/SECS  same, Retry-After as an HTTP-date SECS ahead
  /flaky/KEY/N               the first N requests for KEY (per listener
                             counter, cleared by /__reset) get 503 "flaky"
                             (?status=CODE, ?retry-after=SECS), later 200 "ok"
  /flaky-reset/KEY/N         the first N requests for KEY: RST at once
  /flaky-close/KEY/N         the first N requests for KEY: FIN at once
  /headers                   200 application/json
                             {"method","target","version","headers":[[n,v]..]}
  /keepalive-close-idle      200 "ok" (keep-alive), then the server closes
                             the connection if it is still idle 50 ms later
                             (?ms=M)
  /robots.txt                what /__robots set for this listener, else 404;
                             after /__robots?silent=1 the request is read
                             and never answered (the connection stays open)
  anything else              404 "not found"
A bad argument (e.g. /size/x) gets 400.  A request without Host (HTTP/1.1),
with a bad request line or header gets 400 and the connection is closed
(counted in "bad_requests"); a request head over 64 KiB gets 431.

Control endpoints (never counted in any statistic; GET):
  /__stats[?all=1]    JSON counters of this listener (all=1: the whole
                      server; live in_flight/connections_open included):
        accepts_total              TCP accepts (including control-only ones)
        connections_total          connections that sent >= 1 counted
                                   request since the last reset
        connections_open, max_concurrent_connections   (of those)
        requests_total, in_flight, max_concurrent_requests
        max_requests_per_connection
        per_path_counts            path (no query) -> count
        per_prefix_counts          first path segment ("/size") -> count
        status_counts              "200" -> count (of responses sent)
        bad_requests, port(s)
        per_host                   "ADDR:PORT" (the local address the
                                   connection came in on) -> {"requests",
                                   "in_flight", "max_concurrent_requests"}
  /__reset[?all=1]    zero the counters (and flaky keys, request log)
  /__log[?n=N][&path=PREFIX][&all=1]   {"requests":[{"port","conn","method",
                      "target","headers":[[n,v]..],"t"}...]} last N (default
                      100, at most 10000 kept), oldest first; t: when the
                      request head was read, in seconds of the server's
                      monotonic clock (for spacing between requests)
  /__robots?body=URLENC[&status=CODE][&all=1]   set /robots.txt content
                      (status default 200); no body and no status: unset (404);
                      silent=1: /robots.txt is never answered
"""

import argparse
import asyncio
import collections
import email.utils
import gzip
import json
import os
import signal
import socket
import ssl
import struct
import sys
import time
import traceback
import urllib.parse
from http import HTTPStatus

ALPHA = b"abcdefghijklmnopqrstuvwxyz"
CHUNK = 26 * 2520  # 65520: pattern-aligned ~64 KiB writes
SYNC_MAX = 1 << 20  # bodies up to this are built in one write
BIG = ALPHA * (SYNC_MAX // 26 + 2)
BIGMV = memoryview(BIG)
MAX_HEAD = 64 * 1024
LOG_KEEP = 10000

REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}
NOBODY = (204, 304)


def pattern(offset, length):
    """length (<= SYNC_MAX) pattern bytes starting at body offset."""
    s = offset % 26
    return BIGMV[s:s + length]


class BadArgs(Exception):
    pass


_SUFFIX = {"": 1, "k": 1024, "K": 1024, "KiB": 1024, "M": 1 << 20,
           "MiB": 1 << 20, "G": 1 << 30, "GiB": 1 << 30}


def size_arg(a, i):
    try:
        s = a[i]
    except IndexError:
        raise BadArgs("missing argument")
    j = 0
    while j < len(s) and s[j].isdigit():
        j += 1
    if j == 0 or s[j:] not in _SUFFIX:
        raise BadArgs("bad number %r" % s)
    return int(s[:j]) * _SUFFIX[s[j:]]


def int_arg(a, i, lo=0, hi=1 << 62):
    try:
        v = int(a[i])
    except (IndexError, ValueError):
        raise BadArgs("bad number")
    if not lo <= v <= hi:
        raise BadArgs("out of range")
    return v


def str_arg(a, i):
    try:
        return a[i]
    except IndexError:
        raise BadArgs("missing argument")


# ---------------------------------------------------------------- statistics

class Stats:
    def __init__(self):
        self.epoch = 0
        self.in_flight = 0
        self.connections_open = 0
        self.accepts_total = 0
        self.host_in_flight = collections.Counter()  # live, like in_flight
        self.zero()

    def zero(self):
        self.epoch += 1
        self.connections_total = 0
        self.connections_open = 0  # re-counted as connections make requests
        self.max_concurrent_connections = 0
        self.requests_total = 0
        self.max_concurrent_requests = self.in_flight
        self.max_requests_per_connection = 0
        self.per_path = collections.Counter()
        self.per_prefix = collections.Counter()
        self.status = collections.Counter()
        self.bad_requests = 0
        self.host_requests = collections.Counter()
        self.host_max = collections.Counter(
            {k: v for k, v in self.host_in_flight.items() if v > 0})

    def as_dict(self):
        return {
            "accepts_total": self.accepts_total,
            "connections_total": self.connections_total,
            "connections_open": self.connections_open,
            "max_concurrent_connections": self.max_concurrent_connections,
            "requests_total": self.requests_total,
            "in_flight": self.in_flight,
            "max_concurrent_requests": self.max_concurrent_requests,
            "max_requests_per_connection": self.max_requests_per_connection,
            "per_path_counts": dict(self.per_path),
            "per_prefix_counts": dict(self.per_prefix),
            "status_counts": {str(k): v for k, v in self.status.items()},
            "bad_requests": self.bad_requests,
            "per_host": {k: {"requests": self.host_requests[k],
                             "in_flight": self.host_in_flight[k],
                             "max_concurrent_requests": self.host_max[k]}
                         for k in set(self.host_requests) | set(self.host_max)},
        }


class Listener:
    def __init__(self, index, stats_all):
        self.index = index
        self.port = 0
        self.stats = Stats()
        self.both = (self.stats, stats_all)
        self.flaky = collections.Counter()
        self.log = collections.deque(maxlen=LOG_KEEP)
        self.robots = None  # (status, body)

    def reset(self):
        self.stats.zero()
        self.flaky.clear()
        self.log.clear()


class Request:
    __slots__ = ("method", "target", "version", "path", "query", "headers",
                 "hdr", "keep_alive", "done", "_q", "force_close")

    def q(self, name, default=None):
        if self._q is None:
            self._q = urllib.parse.parse_qs(self.query, keep_blank_values=True)
        v = self._q.get(name)
        return v[-1] if v else default

    def qint(self, name, default, lo=0, hi=1 << 62):
        v = self.q(name)
        if v is None:
            return default
        try:
            v = int(v)
        except ValueError:
            raise BadArgs("bad %s" % name)
        if not lo <= v <= hi:
            raise BadArgs("bad %s" % name)
        return v


def parse_head(head):
    """Request head (bytes, without the final CRLFCRLF) -> Request or None."""
    lines = head.split(b"\r\n")
    rl = lines[0].split(b" ")
    if len(rl) != 3:
        return None
    method, target, version = rl
    if version != b"HTTP/1.1" and version != b"HTTP/1.0":
        return None
    if not method or not target:
        return None
    r = Request()
    r.method = method.decode("latin-1")
    r.target = target = target.decode("latin-1")
    r.version = version
    headers = []
    hdr = {}
    for ln in lines[1:]:
        i = ln.find(b":")
        if i <= 0:
            return None
        name = ln[:i].decode("latin-1")
        if " " in name or "\t" in name:
            return None
        value = ln[i + 1:].strip(b" \t").decode("latin-1")
        headers.append((name, value))
        hdr[name.lower()] = value
    r.headers = headers
    r.hdr = hdr
    if target.startswith("http://") or target.startswith("https://"):
        k = target.find("/", target.find("//") + 2)
        target = target[k:] if k >= 0 else "/"
    q = target.find("?")
    if q >= 0:
        r.path = target[:q]
        r.query = target[q + 1:]
    else:
        r.path = target
        r.query = ""
    conn = hdr.get("connection", "").lower()
    if version == b"HTTP/1.1":
        r.keep_alive = "close" not in conn
    else:
        r.keep_alive = "keep-alive" in conn
    r.force_close = False
    r.done = False
    r._q = None
    return r


# ---------------------------------------------------------------- connection

ROUTES = {}


def route(name):
    def deco(fn):
        ROUTES[name] = fn
        return fn
    return deco


class Conn(asyncio.Protocol):
    next_id = 0

    def __init__(self, server, lst):
        self.server = server
        self.lst = lst
        self.st = lst.both
        self.ep = [0, 0]
        self.buf = bytearray()
        self.busy = False
        self.closing = False
        self.lost = False
        self.eof = False
        self.paused = False
        self.waiter = None
        self.task = None
        self.transport = None
        self.nreq = 0
        self.seq = 0
        Conn.next_id += 1
        self.id = Conn.next_id

    # -- asyncio callbacks
    def connection_made(self, transport):
        self.transport = transport
        transport.set_write_buffer_limits(high=256 * 1024)
        sn = transport.get_extra_info("sockname") or ("?", 0)
        self.hostkey = ("[%s]:%d" if ":" in sn[0] else "%s:%d") % (
            sn[0], sn[1])
        self.server.conns.add(self)
        for s in self.st:
            s.accepts_total += 1

    def connection_lost(self, exc):
        self.lost = True
        self.closing = True
        self.server.conns.discard(self)
        for i, s in enumerate(self.st):
            if self.ep[i] == s.epoch:
                s.connections_open -= 1
        if self.task is not None:
            self.task.cancel()
        w = self.waiter
        if w is not None and not w.done():
            w.set_exception(ConnectionResetError("peer gone"))

    def pause_writing(self):
        self.paused = True

    def resume_writing(self):
        self.paused = False
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def data_received(self, data):
        if self.closing:
            return
        self.buf += data
        if not self.busy:
            self.process()
        elif len(self.buf) > 4 * MAX_HEAD:
            self.transport.pause_reading()

    def eof_received(self):
        self.eof = True
        if self.busy and not self.closing:
            return True  # keep the transport open to finish the answer
        return False

    # -- helpers for handlers
    def write(self, data):
        # is_closing(): the transport saw an error (the peer reset) before
        # connection_lost() ran; a streaming route must stop there instead
        # of writing the rest of a large body into nothing.
        if self.lost or self.transport.is_closing():
            raise ConnectionResetError("peer gone")
        self.transport.write(data)

    async def drain(self):
        if self.lost:
            raise ConnectionResetError("peer gone")
        if self.paused:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None

    async def flushed(self):
        while self.transport.get_write_buffer_size() > 0:
            if self.lost:
                raise ConnectionResetError("peer gone")
            await asyncio.sleep(0.002)

    def close(self):
        self.closing = True
        if not self.lost:
            self.transport.close()

    def rst(self):
        self.closing = True
        if self.lost:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.transport.abort()

    def head(self, req, status, fields=b"", close=False):
        """Status line + headers (fields: b"Name: v\r\n"...). -> keep-alive?"""
        ka = req.keep_alive and not close and not req.force_close
        h = b"HTTP/1.1 %d %s\r\nServer: rfserver\r\n%s%s\r\n" % (
            status, REASONS.get(status, b"Unknown"), fields,
            b"" if ka else b"Connection: close\r\n")
        return h, ka

    def respond(self, req, status, body=b"", ctype=b"text/plain",
                extra=b"", close=False):
        if status in NOBODY:
            fields = extra
            body = b""
        else:
            fields = b"Content-Type: %s\r\nContent-Length: %d\r\n%s" % (
                ctype, len(body), extra)
        h, ka = self.head(req, status, fields, close)
        if req.method == "HEAD" or not body:
            self.write(h)
        else:
            self.write(b"".join((h, body)))
        self.end(req, status)
        if not ka:
            self.close()

    def end(self, req, status):
        if req.done:
            return
        req.done = True
        for s in self.st:
            s.in_flight -= 1
            s.host_in_flight[self.hostkey] -= 1
            if status is not None:
                s.status[status] += 1

    # -- request processing
    def process(self):
        buf = self.buf
        while not self.busy and not self.closing and buf:
            while buf[:2] == b"\r\n":
                del buf[:2]
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self.reject(431, b"request head too large")
                return
            if end > MAX_HEAD:
                self.reject(431, b"request head too large")
                return
            req = parse_head(bytes(buf[:end]))
            if req is None:
                self.reject(400, b"bad request")
                return
            if req.version == b"HTTP/1.1" and "host" not in req.hdr:
                self.reject(400, b"missing Host")
                return
            if "transfer-encoding" in req.hdr:
                self.reject(501, b"request bodies must use Content-Length")
                return
            blen = 0
            cl = req.hdr.get("content-length")
            if cl is not None:
                if not cl.isdigit():
                    self.reject(400, b"bad Content-Length")
                    return
                blen = int(cl)
            total = end + 4 + blen
            if len(buf) < total:
                return
            del buf[:total]
            self.dispatch(req)
        if not self.busy and not self.closing and self.eof:
            self.close()

    def reject(self, status, msg):
        for s in self.st:
            s.bad_requests += 1
        self.buf.clear()
        self.closing = True
        if not self.lost:
            self.transport.write(
                b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (
                    status, REASONS.get(status, b"Error"), len(msg), msg))
            self.transport.close()

    def dispatch(self, req):
        path = req.path
        if path.startswith("/__"):
            return self.control(req)
        self.seq += 1
        lst = self.lst
        parts = path.split("/")
        prefix = "/" + parts[1] if len(parts) > 1 else path
        for i, s in enumerate(self.st):
            if self.ep[i] != s.epoch:
                self.ep[i] = s.epoch
                if i == 0:
                    self.nreq = 0
                s.connections_total += 1
                s.connections_open += 1
                if s.connections_open > s.max_concurrent_connections:
                    s.max_concurrent_connections = s.connections_open
            s.requests_total += 1
            s.in_flight += 1
            if s.in_flight > s.max_concurrent_requests:
                s.max_concurrent_requests = s.in_flight
            s.per_path[path] += 1
            s.per_prefix[prefix] += 1
            hk = self.hostkey
            s.host_requests[hk] += 1
            s.host_in_flight[hk] += 1
            if s.host_in_flight[hk] > s.host_max[hk]:
                s.host_max[hk] = s.host_in_flight[hk]
        self.nreq += 1
        for s in self.st:
            if self.nreq > s.max_requests_per_connection:
                s.max_requests_per_connection = self.nreq
        lst.log.append((lst.port, self.id, req.method, req.target,
                        req.headers, time.monotonic()))
        if req.query and "close=1" in req.query:
            req.force_close = req.q("close") == "1"
        h = ROUTES.get(parts[1] if len(parts) > 1 else "", not_found)
        try:
            r = h(self, req, parts[2:])
        except BadArgs as e:
            r = None
            self.respond(req, 400, ("bad arguments: %s\n" % e).encode())
        except Exception:
            traceback.print_exc()
            r = None
            self.respond(req, 500, b"server error\n", close=True)
        if r is None:
            self.end(req, None)
        else:
            self.busy = True
            self.task = asyncio.get_running_loop().create_task(
                self.run(r, req))

    async def run(self, coro, req):
        try:
            await coro
        except (ConnectionError, asyncio.CancelledError):
            self.closing = True
            if not self.lost:
                self.transport.abort()
        except BadArgs as e:
            if not self.lost:
                self.respond(req, 400, ("bad arguments: %s\n" % e).encode(),
                             close=True)
        except Exception:
            traceback.print_exc()
            self.closing = True
            if not self.lost:
                self.transport.abort()
        finally:
            self.end(req, None)
            self.busy = False
            self.task = None
        if not self.closing:
            if self.buf:
                self.transport.resume_reading()
                self.process()
            elif self.eof:
                self.close()

    # -- control endpoints (not counted)
    def control(self, req):
        srv = self.server
        everything = req.q("all") == "1"
        p = req.path
        if p == "/__stats":
            if everything:
                d = srv.stats_all.as_dict()
                d["ports"] = [l.port for l in srv.listeners]
            else:
                d = self.lst.stats.as_dict()
                d["port"] = self.lst.port
            body = json.dumps(d).encode()
        elif p == "/__reset":
            if everything:
                for l in srv.listeners:
                    l.reset()
                srv.stats_all.zero()
            else:
                self.lst.reset()
            body = b'{"ok":true}'
        elif p == "/__log":
            try:
                n = req.qint("n", 100, 0, LOG_KEEP)
            except BadArgs:
                n = 100
            prefix = req.q("path", "")
            ls = srv.listeners if everything else [self.lst]
            entries = []
            for l in ls:
                entries.extend(l.log)
            if everything:
                entries.sort(key=lambda e: e[1])
            if prefix:
                entries = [e for e in entries if e[3].startswith(prefix)]
            entries = entries[-n:] if n else []
            body = json.dumps({"requests": [
                {"port": e[0], "conn": e[1], "method": e[2], "target": e[3],
                 "headers": [list(h) for h in e[4]], "t": e[5]}
                for e in entries]}
            ).encode()
        elif p == "/__robots":
            rb = req.q("body")
            try:
                st = req.qint("status", 200, 100, 999)
            except BadArgs:
                st = 200
            val = None if rb is None and req.q("status") is None else (
                st, (rb or "").encode())
            if req.q("silent") == "1":
                val = "silent"
            for l in (srv.listeners if everything else [self.lst]):
                l.robots = val
            body = b'{"ok":true}'
        else:
            body = b'{"ok":false,"error":"unknown control endpoint"}'
            h, ka = self.head(req, 404, b"Content-Type: application/json\r\n"
                              b"Content-Length: %d\r\n" % len(body))
            self.write(h + body)
            if not ka:
                self.close()
            return
        h, ka = self.head(req, 200, b"Content-Type: application/json\r\n"
                          b"Content-Length: %d\r\n" % len(body))
        self.write(h + body)
        if not ka:
            self.close()


# ---------------------------------------------------------------- routes

def not_found(c, req, a):
    c.respond(req, 404, b"not found\n")


@route("")
@route("ok")
def r_ok(c, req, a):
    if req.path not in ("/", "/ok"):
        return not_found(c, req, a)
    c.respond(req, 200, b"hello")


async def stream(c, req, n, offset=0):
    """Write pattern bytes [offset, offset+n) in CHUNK writes."""
    if req.method == "HEAD":
        return
    while n > 0:
        k = min(CHUNK, n)
        c.write(pattern(offset, k))
        offset += k
        n -= k
        await c.drain()


async def stream_response(c, req, n):
    h, ka = c.head(req, 200, b"Content-Type: application/octet-stream\r\n"
                   b"Content-Length: %d\r\n" % n)
    c.write(h)
    await stream(c, req, n)
    c.end(req, 200)
    if not ka:
        c.close()


@route("size")
def r_size(c, req, a):
    n = size_arg(a, 0)
    if n <= SYNC_MAX:
        c.respond(req, 200, pattern(0, n))
    else:
        return stream_response(c, req, n)


@route("big")
def r_big(c, req, a):
    return stream_response(c, req, size_arg(a, 0))


@route("chunked")
def r_chunked(c, req, a):
    n = size_arg(a, 0)
    k = req.qint("chunks", 1, 1, 1 << 40)
    gap = req.qint("gap", 0, 0, 3600000)
    ext = b";x=y" if req.q("ext") == "1" else b""
    trailer = b"X-Trailer: yes\r\n" if req.q("trailer") == "1" else b""
    k = max(1, min(k, n)) if n else 0
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)] if k else []
    fields = b"Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
    if trailer:
        fields += b"Trailer: X-Trailer\r\n"
    h, ka = c.head(req, 200, fields)
    if req.method == "HEAD":
        c.write(h)
        c.end(req, 200)
        if not ka:
            c.close()
        return None
    tail = b"0%s\r\n%s\r\n" % (ext, trailer)
    if not gap and n <= SYNC_MAX:
        out = [h]
        off = 0
        for s in sizes:
            out.append(b"%x%s\r\n" % (s, ext))
            out.append(pattern(off, s))
            out.append(b"\r\n")
            off += s
        out.append(tail)
        c.write(b"".join(out))
        c.end(req, 200)
        if not ka:
            c.close()
        return None

    async def slow():
        c.write(h)
        off = 0
        for i, s in enumerate(sizes):
            if gap and i:
                await asyncio.sleep(gap / 1000)
            c.write(b"%x%s\r\n" % (s, ext))
            await stream(c, req, s, off)
            c.write(b"\r\n")
            off += s
            await c.drain()
        if gap:
            await asyncio.sleep(gap / 1000)
        c.write(tail)
        c.end(req, 200)
        if not ka:
            c.close()
    return slow()


@route("gzip")
def r_gzip(c, req, a):
    n = size_arg(a, 0)
    if n > 64 << 20:
        raise BadArgs("gzip body limited to 64 MiB")
    if n <= SYNC_MAX:
        raw = bytes(pattern(0, n))
    else:
        raw = (ALPHA * (n // 26 + 1))[:n]
    c.respond(req, 200, gzip.compress(raw, compresslevel=6, mtime=0),
              extra=b"Content-Encoding: gzip\r\n")


_ENCODED = {}


def encode_body(raw, enc):
    """raw compressed with enc, by zlib or the brotli/zstd tools."""
    import subprocess
    import zlib
    key = (len(raw), enc)
    if key in _ENCODED:
        return _ENCODED[key]
    if enc == "gzip":
        out = gzip.compress(raw, compresslevel=6, mtime=0)
    elif enc == "deflate":
        out = zlib.compress(raw, 6)
    elif enc == "rawdeflate":
        co = zlib.compressobj(6, zlib.DEFLATED, -15)
        out = co.compress(raw) + co.flush()
    elif enc in ("br", "zstd"):
        tool = ["brotli", "-c"] if enc == "br" else ["zstd", "-q", "-c"]
        out = subprocess.run(tool, input=raw, capture_output=True,
                             check=True, timeout=60).stdout
    else:
        raise BadArgs("unknown enc %r" % enc)
    _ENCODED[key] = out
    return out


@route("encoded")
def r_encoded(c, req, a):
    n = size_arg(a, 0)
    if n > SYNC_MAX * 8:
        raise BadArgs("encoded body limited to 8 MiB")
    enc = req.q("enc") or "identity"
    raw = bytes(pattern(0, n))
    accept = req.hdr.get("accept-encoding", "")
    wire = "deflate" if enc == "rawdeflate" else enc
    if enc == "identity" or (wire not in accept and req.q("force") != "1"):
        return c.respond(req, 200, raw)
    body = encode_body(raw, enc)
    extra = b"Content-Encoding: %s\r\n" % (req.q("label") or wire).encode()
    if req.q("chunked") != "1":
        return c.respond(req, 200, body, extra=extra)
    h, ka = c.head(req, 200, b"Content-Type: text/plain\r\n" + extra +
                   b"Transfer-Encoding: chunked\r\n")
    step = max(1, len(body) // 7)
    parts = [h]
    for i in range(0, len(body), step):
        parts.append(b"%x\r\n%s\r\n" % (len(body[i:i + step]),
                                          body[i:i + step]))
    parts.append(b"0\r\n\r\n")
    c.write(b"".join(parts))
    c.end(req, 200)
    if not ka:
        c.close()


@route("bomb")
def r_bomb(c, req, a):
    import zlib
    n = size_arg(a, 0)
    h, ka = c.head(req, 200, b"Content-Type: application/octet-stream\r\n"
                   b"Content-Encoding: gzip\r\n"
                   b"Transfer-Encoding: chunked\r\n")

    async def go():
        co = zlib.compressobj(9, zlib.DEFLATED, 16 + 15)
        zeros = bytes(1 << 20)
        left = n
        c.write(h)
        while left > 0:
            k = min(left, len(zeros))
            piece = co.compress(zeros[:k])
            left -= k
            if piece:
                c.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await c.drain()
        piece = co.flush()
        c.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(piece), piece))
        c.end(req, 200)
        if not ka:
            c.close()
    return go()


@route("validators")
def r_validators(c, req, a):
    etag = req.q("etag") or '"v1"'
    lm = req.q("lm") or "Sun, 06 Nov 1994 08:49:37 GMT"
    extra = b"ETag: %s\r\nLast-Modified: %s\r\n" % (etag.encode(),
                                                       lm.encode())
    inm = req.hdr.get("if-none-match")
    ims = req.hdr.get("if-modified-since")
    if (inm is not None and inm == etag) or (inm is None and ims == lm):
        return c.respond(req, 304, extra=extra)
    c.respond(req, 200, b"validated body", extra=extra)


@route("close")
def r_close(c, req, a):
    n = size_arg(a, 0)
    h, _ = c.head(req, 200, b"Content-Type: text/plain\r\n", close=True)
    if n <= SYNC_MAX or req.method == "HEAD":
        c.write(h if req.method == "HEAD" else b"".join((h, pattern(0, n))))
        c.end(req, 200)
        c.close()
        return None

    async def go():
        c.write(h)
        await stream(c, req, n)
        c.end(req, 200)
        c.close()
    return go()


@route("status")
def r_status(c, req, a):
    code = int_arg(a, 0, 200, 999)
    c.respond(req, code, b"status %d" % code)


@route("slow-first-byte")
def r_slow_first_byte(c, req, a):
    ms = int_arg(a, 0, 0, 3600000)

    async def go():
        await asyncio.sleep(ms / 1000)
        c.respond(req, 200, b"ok")
    return go()


@route("delay")
def r_delay(c, req, a):
    return r_slow_first_byte(c, req, a)


@route("slow-headers")
def r_slow_headers(c, req, a):
    ms = int_arg(a, 0, 0, 3600000)

    async def go():
        c.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")
        await asyncio.sleep(ms / 1000)
        h, ka = c.head(req, 200, b"Content-Length: 2\r\n")
        rest = h[h.index(b"\r\n") + 2:]  # drop the status line already sent
        c.write(rest if req.method == "HEAD" else rest + b"ok")
        c.end(req, 200)
        if not ka:
            c.close()
    return go()


@route("stall")
def r_stall(c, req, a):
    n = size_arg(a, 0)
    ms = int_arg(a, 1, 0, 3600000)

    async def go():
        h, ka = c.head(req, 200, b"Content-Type: text/plain\r\n"
                       b"Content-Length: %d\r\n" % n)
        c.write(h)
        half = n // 2
        await stream(c, req, half)
        await asyncio.sleep(ms / 1000)
        await stream(c, req, n - half, half)
        c.end(req, 200)
        if not ka:
            c.close()
    return go()


@route("drip")
def r_drip(c, req, a):
    n = size_arg(a, 0)
    ms = int_arg(a, 1, 0, 3600000)

    async def go():
        h, ka = c.head(req, 200, b"Content-Type: text/plain\r\n"
                       b"Content-Length: %d\r\n" % n)
        c.write(h)
        if req.method != "HEAD":
            for i in range(n):
                await asyncio.sleep(ms / 1000)
                c.write(ALPHA[i % 26:i % 26 + 1])
        c.end(req, 200)
        if not ka:
            c.close()
    return go()


@route("close-mid-body")
def r_close_mid_body(c, req, a):
    n = size_arg(a, 0)
    h, _ = c.head(req, 200, b"Content-Type: text/plain\r\n"
                  b"Content-Length: %d\r\n" % n)
    half = n // 2
    if half <= SYNC_MAX:
        c.write(b"".join((h, pattern(0, half))))
        c.end(req, 200)
        c.close()
        return None

    async def go():
        c.write(h)
        await stream(c, req, half)
        c.end(req, 200)
        c.close()
    return go()


@route("reset-mid-body")
def r_reset_mid_body(c, req, a):
    n = size_arg(a, 0)
    ms = req.qint("ms", 20, 0, 3600000)

    async def go():
        h, _ = c.head(req, 200, b"Content-Type: text/plain\r\n"
                      b"Content-Length: %d\r\n" % n)
        c.write(h)
        await stream(c, req, n // 2)
        await c.flushed()
        if ms:
            await asyncio.sleep(ms / 1000)
        c.end(req, 200)
        c.rst()
    return go()


@route("reset-before-response")
def r_reset_before(c, req, a):
    c.rst()


@route("close-before-response")
def r_close_before(c, req, a):
    c.close()


MALFORMED = {
    "status": b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok",
    "garbage": b"XTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "header": b"HTTP/1.1 200 OK\r\nX-Bad\x01Name: v\r\n"
              b"Content-Length: 2\r\n\r\nok",
    "header-nocolon": b"HTTP/1.1 200 OK\r\nThis line has no colon\r\n"
                      b"Content-Length: 2\r\n\r\nok",
    "cl": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n"
          b"\r\nhello",
    "cl-negative": b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello",
    "cl-te": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"zz\r\nhello\r\n0\r\n\r\n",
    "huge-header": b"HTTP/1.1 200 OK\r\nX-Huge: " + b"a" * (100 * 1024) +
                   b"\r\nContent-Length: 2\r\n\r\nok",
}


@route("malformed")
def r_malformed(c, req, a):
    kind = str_arg(a, 0)
    if kind not in MALFORMED:
        raise BadArgs("unknown kind %r" % kind)
    c.write(MALFORMED[kind])
    c.end(req, None)
    c.close()


def _location(v):
    if "\r" in v or "\n" in v:
        raise BadArgs("CR/LF in Location")
    return b"Location: %s\r\n" % v.encode("utf-8")


@route("redirect")
def r_redirect(c, req, a):
    code = int_arg(a, 0, 200, 999)
    c.respond(req, code, b"redirect", extra=_location(req.q("to", "/ok")))


@route("redirect-chain")
def r_redirect_chain(c, req, a):
    n = int_arg(a, 0)
    if n == 0:
        c.respond(req, 200, b"done")
        return
    loc = "/redirect-chain/%d" % (n - 1)
    if req.q("abs") == "1":
        loc = "http://%s%s?abs=1" % (req.hdr.get("host", ""), loc)
    c.respond(req, 302, b"redirect", extra=_location(loc))


@route("redirect-loop")
def r_redirect_loop(c, req, a):
    c.respond(req, 302, b"redirect", extra=b"Location: /redirect-loop\r\n")


@route("redirect-rel")
def r_redirect_rel(c, req, a):
    n = int_arg(a, 0)
    loc = "../redirect-rel/%d" % (n - 1) if n else "x/../../ok"
    c.respond(req, 302, b"redirect", extra=_location(loc))


@route("retry-after")
def r_retry_after(c, req, a):
    code = int_arg(a, 0, 200, 999)
    secs = int_arg(a, 1)
    c.respond(req, code, b"retry", extra=b"Retry-After: %d\r\n" % secs)


@route("retry-after-date")
def r_retry_after_date(c, req, a):
    code = int_arg(a, 0, 200, 999)
    secs = int_arg(a, 1)
    d = email.utils.formatdate(time.time() + secs, usegmt=True)
    c.respond(req, code, b"retry", extra=b"Retry-After: %s\r\n" % d.encode())


def _flaky_hit(c, a):
    key = str_arg(a, 0)
    n = int_arg(a, 1)
    c.lst.flaky[key] += 1
    return c.lst.flaky[key] <= n


@route("flaky")
def r_flaky(c, req, a):
    if _flaky_hit(c, a):
        code = req.qint("status", 503, 200, 999)
        ra = req.q("retry-after")
        extra = b"Retry-After: %s\r\n" % ra.encode() if ra else b""
        c.respond(req, code, b"flaky", extra=extra)
    else:
        c.respond(req, 200, b"ok")


@route("flaky-reset")
def r_flaky_reset(c, req, a):
    if _flaky_hit(c, a):
        c.rst()
    else:
        c.respond(req, 200, b"ok")


@route("flaky-close")
def r_flaky_close(c, req, a):
    if _flaky_hit(c, a):
        c.close()
    else:
        c.respond(req, 200, b"ok")


@route("headers")
def r_headers(c, req, a):
    body = json.dumps({"method": req.method, "target": req.target,
                       "version": req.version.decode(),
                       "headers": [list(h) for h in req.headers]}).encode()
    c.respond(req, 200, body, ctype=b"application/json")


@route("keepalive-close-idle")
def r_keepalive_close_idle(c, req, a):
    ms = req.qint("ms", 50, 0, 3600000)
    c.respond(req, 200, b"ok")
    if c.closing:
        return
    seq = c.seq

    def maybe_close():
        if c.seq == seq and not c.busy and not c.closing:
            c.close()
    asyncio.get_running_loop().call_later(ms / 1000, maybe_close)


@route("robots.txt")
def r_robots(c, req, a):
    if req.path != "/robots.txt" or c.lst.robots is None:
        return not_found(c, req, a)
    if c.lst.robots == "silent":
        return asyncio.sleep(24 * 3600)  # read, never answered
    st, body = c.lst.robots
    c.respond(req, st, body)


# ---------------------------------------------------------------- main

class Server:
    def __init__(self):
        self.conns = set()
        self.stats_all = Stats()
        self.listeners = []
        self.servers = []


def exception_handler(loop, context):
    exc = context.get("exception")
    if isinstance(exc, (ConnectionError, ssl.SSLError, BrokenPipeError,
                        asyncio.CancelledError)):
        return
    msg = context.get("message", "")
    if "SSL" in msg or "handshake" in msg.lower():
        return
    loop.default_exception_handler(context)


async def amain(opts):
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(exception_handler)
    sslctx = None
    if opts.tls_cert:
        sslctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sslctx.load_cert_chain(opts.tls_cert, opts.tls_key)
    srv = Server()
    for i in range(opts.ports):
        lst = Listener(i, srv.stats_all)
        want = opts.port + i if opts.port else 0
        for attempt in range(50):
            made = []
            try:
                s = await loop.create_server(
                    lambda lst=lst: Conn(srv, lst), opts.host, want,
                    backlog=4096, reuse_address=True, ssl=sslctx)
                made.append(s)
                port = s.sockets[0].getsockname()[1]
                for extra in opts.also_host:
                    sx = await loop.create_server(
                        lambda lst=lst: Conn(srv, lst), extra, port,
                        backlog=4096, reuse_address=True, ssl=sslctx)
                    made.append(sx)
                if opts.bind6:
                    s6 = await loop.create_server(
                        lambda lst=lst: Conn(srv, lst), "::1", port,
                        backlog=4096, reuse_address=True, ssl=sslctx)
                    made.append(s6)
                break
            except OSError:
                for s in made:
                    s.close()
                if want or attempt == 49:
                    raise
        lst.port = port
        srv.listeners.append(lst)
        srv.servers.extend(made)
    ports = " ".join(str(l.port) for l in srv.listeners)
    if opts.port_file:
        with open(opts.port_file, "w") as f:
            f.write(ports + "\n")
    sys.stdout.write("listening %s\n" % ports)
    sys.stdout.flush()

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for s in srv.servers:
        s.close()
    for c in list(srv.conns):
        if c.task is not None:
            c.task.cancel()
        if c.transport is not None:
            c.transport.abort()
    await asyncio.sleep(0)


def main():
    ap = argparse.ArgumentParser(description="ringfetch test HTTP server")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ports", type=int, default=1)
    ap.add_argument("--port-file")
    ap.add_argument("--bind6", action="store_true")
    ap.add_argument("--also-host", action="append", default=[])
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    opts = ap.parse_args()
    if opts.ports < 1:
        ap.error("--ports must be >= 1")
    if bool(opts.tls_cert) != bool(opts.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    try:
        asyncio.run(amain(opts))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
