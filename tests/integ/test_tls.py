"""HTTPS with wolfSSL over the ring, against TLS servers on loopback with
certificates generated per run: verification and its failures, handshake
timeout and reset, session resumption, keep-alive reuse, close without
close_notify."""
import os
import socket
import ssl
import struct
import subprocess
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

ONE = ["--set", "retry.attempts=1"]
from pki import make_ca, make_leaf, openssl, pki, trust  # noqa: E402,F401


def one(url, args=()):
    r = run_batch([url], args=list(ONE) + trust() + list(args))
    check_eq(len(r.records), 1, "one record")
    return r, r.by_url()[url]


def failed(rec, cls, words):
    check(not rec["ok"], "record not ok: %r" % rec)
    check_eq(rec["error"], cls, "error class (detail %r)" % rec["error_detail"])
    check(words in (rec["error_detail"] or ""),
          "%r in detail %r" % (words, rec["error_detail"]))
    check_eq(rec["tls"], None, "no tls field without a handshake")


def check_tls(rec, resumed=None):
    t = rec["tls"]
    check(isinstance(t, dict), "tls field is an object: %r" % t)
    check_in(t["version"], ("TLSv1.2", "TLSv1.3"), "tls version")
    check(t["cipher"], "cipher named")
    if resumed is not None:
        check_eq(t["resumed"], resumed, "tls.resumed")


class RawServer:
    """A TCP listener on 127.0.0.1 whose every connection runs fn(sock)
    in a thread (for servers that misbehave below HTTP)."""

    def __init__(self, fn):
        self.fn = fn
        self.lst = socket.socket()
        self.lst.bind(("127.0.0.1", 0))
        self.lst.listen(64)
        self.port = self.lst.getsockname()[1]
        self.socks = []
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while True:
            try:
                s, _ = self.lst.accept()
            except OSError:
                return
            self.socks.append(s)
            threading.Thread(target=self.serve, args=(s,), daemon=True).start()

    def serve(self, s):
        try:
            self.fn(s)
        except OSError:
            pass

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.port, path)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.lst.close()
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        return False


@test("https crawl: every record ok with the tls field, bodies intact")
def _():
    with Server(tls=pki()["good"]) as srv, Server() as plain:
        paths = ["/size/5000", "/chunked/70000?chunks=7", "/close/30000",
                 "/size/100000?close=1", "/big/1MiB", "/ok"]
        urls = [srv.url(p) for p in paths]
        urls.append(srv.url("/ok", host="localhost"))
        urls.append(plain.url("/ok"))
        r = run_batch(urls, args=trust())
        check_eq(r.rc, 0, "exit status\n" + r.describe())
        recs = r.by_url()
        for u in urls[:-1]:
            rec = recs[u]
            check(rec["ok"], "ok: %r" % rec)
            check_tls(rec)
            check("tls" in rec["timings_ms"], "timings_ms.tls")
        check_eq(recs[urls[0]]["sha256"], sha256_of(5000), "sha256 5000")
        check_eq(recs[urls[1]]["sha256"], sha256_of(70000), "sha256 chunked")
        check_eq(recs[urls[2]]["sha256"], sha256_of(30000), "sha256 close")
        check_eq(recs[urls[4]]["bytes"], 1 << 20, "1 MiB body")
        check_eq(recs[urls[4]]["sha256"], sha256_of(1 << 20), "sha256 1 MiB")
        check_eq(recs[urls[-1]]["tls"], None, "plain http: tls null")


@test("first connection is a full handshake (resumed false)")
def _():
    with Server(tls=pki()["good"]) as srv:
        r, rec = one(srv.url("/ok"))
        check(rec["ok"], "ok: %r" % rec)
        check_tls(rec, resumed=False)


@test("IPv6 literal verified against the IP SAN")
def _():
    with Server(tls=pki()["good"], host="::1") as srv:
        r, rec = one(srv.url("/ok"))
        check(rec["ok"], "ok: %r" % rec)
        check_tls(rec)


@test("unknown CA ends in tls_verify, not retried")
def _():
    with Server(tls=pki()["unknown"]) as srv:
        r = run_batch([srv.url("/ok")], args=trust())
        rec = r.by_url()[srv.url("/ok")]
        failed(rec, "tls_verify", "unknown issuer")
        check_eq(rec["attempts"], 1, "verification failures are final")


@test("tls.verify=false accepts an unknown CA")
def _():
    with Server(tls=pki()["unknown"]) as srv:
        r, rec = one(srv.url("/ok"), ["--set", "tls.verify=false"])
        check(rec["ok"], "ok: %r" % rec)
        check_tls(rec)


@test("wrong name ends in tls_verify with a name mismatch")
def _():
    with Server(tls=pki()["wrongname"]) as srv:
        r, rec = one(srv.url("/ok"))
        failed(rec, "tls_verify", "host name mismatch")
        check("'127.0.0.1'" in rec["error_detail"], "names the host")
        url = srv.url("/ok", host="localhost")
        r, rec = one(url)
        failed(rec, "tls_verify", "not valid for 'localhost'")


@test("expired certificate ends in tls_verify")
def _():
    with Server(tls=pki()["expired"]) as srv:
        r, rec = one(srv.url("/ok"))
        failed(rec, "tls_verify", "expired")


@test("server silent after accept: tls_handshake after timeouts.tls")
def _():
    def silent(s):
        s.recv(65536)
        threading.Event().wait(10)
    with RawServer(silent) as srv:
        r, rec = one(srv.url("/ok"), ["--set", "timeouts.tls=300ms"])
        failed(rec, "tls_handshake", "timeouts.tls")
        check(r.elapsed < 5, "ended quickly (%.1f s)" % r.elapsed)


@test("server resets mid-handshake: tls_handshake")
def _():
    def reset(s):
        s.recv(65536)  # the ClientHello
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
        s.close()
    with RawServer(reset) as srv:
        r, rec = one(srv.url("/ok"))
        failed(rec, "tls_handshake", "handshake")


@test("server closes mid-handshake: tls_handshake, retried")
def _():
    def close(s):
        s.recv(65536)
        s.close()
    with RawServer(close) as srv:
        r = run_batch([srv.url("/ok")], args=trust() + [
            "--set", "retry.attempts=2", "--set", "retry.backoff_base=10ms",
            "--set", "retry.backoff_max=20ms"])
        rec = r.by_url()[srv.url("/ok")]
        failed(rec, "tls_handshake", "handshake")
        check_eq(rec["attempts"], 2, "a handshake failure is retried")


@test("later connections to a host resume the session")
def _():
    with Server(tls=pki()["good"]) as srv:
        urls = [srv.url("/ok?close=1&n=%d" % i) for i in range(5)]
        r = run_batch(urls, args=trust() + ["--concurrency", "1",
                                            "--per-host", "1"])
        check_eq(r.rc, 0, "exit status\n" + r.describe())
        recs = [r.by_url()[u] for u in urls]
        for rec in recs:
            check(rec["ok"], "ok: %r" % rec)
        check_tls(recs[0], resumed=False)
        for rec in recs[1:]:
            check_tls(rec, resumed=True)
        check_eq(srv.stats()["connections_total"], 5, "one conn each")


@test("concurrent new connections resume without a handshake failure")
def _():
    with Server(tls=pki()["good"]) as srv:
        urls = [srv.url("/size/%d?close=1" % (100 + i)) for i in range(80)]
        r = run_batch(urls, args=trust() + ONE + ["--concurrency", "8",
                                                  "--per-host", "8"])
        check_eq(r.rc, 0, "exit status\n" + r.describe())
        recs = r.by_url()
        resumed = sum(1 for u in urls if recs[u]["tls"]["resumed"])
        # the first connection fetches the session and the other 7 opening
        # at the same time wait for it: only that one is a full handshake
        check_eq(resumed, 79, "resumed of 80")


@test("TLS 1.2 server: version, session resumption")
def _():
    def answer(ss):
        ss.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                   b"Connection: close\r\n\r\nhello")
    with tls_raw(answer, ssl.TLSVersion.TLSv1_2) as srv:
        urls = [srv.url("/x?n=%d" % i) for i in range(3)]
        r = run_batch(urls, args=trust() + ONE + ["--concurrency", "1",
                                                  "--per-host", "1"])
        recs = [r.by_url()[u] for u in urls]
        for rec in recs:
            check(rec["ok"], "ok: %r" % rec)
            check_eq(rec["tls"]["version"], "TLSv1.2", "version")
            check(rec["tls"]["cipher"].startswith("TLS_ECDHE_"),
                  "ECDHE suite: %s" % rec["tls"]["cipher"])
        check_tls(recs[0], resumed=False)
        check_tls(recs[2], resumed=True)


@test("tls.session_resumption=false: every handshake is full")
def _():
    with Server(tls=pki()["good"]) as srv:
        urls = [srv.url("/ok?close=1&n=%d" % i) for i in range(3)]
        r = run_batch(urls, args=trust() + [
            "--concurrency", "1", "--per-host", "1",
            "--set", "tls.session_resumption=false"])
        for u in urls:
            check_tls(r.by_url()[u], resumed=False)


@test("keep-alive reuse over TLS: many requests, few connections")
def _():
    with Server(tls=pki()["good"]) as srv:
        urls = [srv.url("/size/%d" % (1000 + i)) for i in range(300)]
        r = run_batch(urls, args=trust() + ["--concurrency", "4",
                                            "--per-host", "4"], summary=True)
        check_eq(r.rc, 0, "exit status\n" + r.describe())
        recs = r.by_url()
        for i, u in enumerate(urls):
            check(recs[u]["ok"], "ok: %r" % recs[u])
            check_eq(recs[u]["sha256"], sha256_of(1000 + i), "sha256")
            check_tls(recs[u])
        conns = srv.stats()["connections_total"]
        check(conns <= 4, "connections %d <= 4" % conns)


def tls_raw(body_fn, max_version=None):
    """A TLS server (good cert) that answers one request via body_fn(ssock)
    then closes the TCP connection without close_notify."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*pki()["good"])
    if max_version:
        ctx.maximum_version = max_version

    def serve(s):
        ss = ctx.wrap_socket(s, server_side=True)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = ss.recv(65536)
            if not chunk:
                return
            data += chunk
        body_fn(ss)
        # Close the socket under TLS: FIN with no close_notify.
        raw = socket.socket(fileno=ss.detach())
        raw.shutdown(socket.SHUT_RDWR)
        raw.close()
    return RawServer(serve)


@test("peer closing without close_notify after a complete body is ok")
def _():
    body = b"x" * 3000

    def with_length(ss):
        ss.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                   b"Connection: close\r\n\r\n%s" % (len(body), body))

    def until_close(ss):
        ss.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body)
    for fn in (with_length, until_close):
        with tls_raw(fn) as srv:
            r, rec = one(srv.url("/x"))
            check(rec["ok"], "%s: ok: %r" % (fn.__name__, rec))
            check_eq(rec["bytes"], len(body), "bytes")
            check_eq(rec["sha256"], sha256_of_bytes(body), "sha256")


@test("truncated body without close_notify is still an error")
def _():
    def short(ss):
        ss.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" +
                   b"x" * 100)
    with tls_raw(short) as srv:
        r, rec = one(srv.url("/x"))
        check(not rec["ok"], "not ok")
        check_eq(rec["error"], "reset", "error class")



@test("an unreadable tls.ca_file is a configuration error: exit 2, nothing fetched")
def _():
    for args in (["--check-config"], ["--batch", "/dev/null", "--out", scratch_dir("o")]):
        p = run_rf(args + ["--set", "tls.ca_file=/nonexistent/ca.pem"])
        check_eq(p.rc, 2, "exit status of %r" % args)
        check_in("tls.ca_file", p.stderr, "message names the key")


main()
