"""http.decode: Accept-Encoding is sent, gzip, deflate, br and zstd bodies
are decoded as they stream (same sha256 and bytes as the identity body,
wire_bytes and content_encoding from the wire), a decompression bomb ends
in body_too_large with flat memory, a corrupt stream in protocol, and with
http.decode false bodies are kept as received."""
import hashlib
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403

N = 300000


def by_url(records):
    return {r["url"]: r for r in records}


@test("gzip, deflate, raw deflate, br and zstd give the identity body's "
      "sha256 and bytes")
def _():
    with Server() as srv:
        # deflate is not asked for; a server may send it all the same
        encs = ["identity", "gzip", "deflate&force=1",
                "rawdeflate&force=1", "br", "zstd"]
        urls = [srv.url("/encoded/%d?enc=%s" % (N, e)) for e in encs]
        urls += [srv.url("/encoded/%d?enc=%s&chunked=1" % (N, e))
                 for e in encs[1:]]
        r = run_batch(urls)
        recs = by_url(r.records)
        ident = recs[urls[0]]
        check(ident["ok"], "identity ok: %r" % ident)
        check_eq(ident["content_encoding"], None, "identity: no coding")
        check_eq(ident["wire_bytes"], N, "identity wire bytes")
        for u in urls[1:]:
            x = recs[u]
            check(x["ok"], "%s ok: %r" % (u, x))
            check_eq(x["sha256"], ident["sha256"], "sha256 of " + u)
            check_eq(x["bytes"], N, "decoded bytes of " + u)
            check(0 < x["wire_bytes"] < N, "wire bytes of %s: %r" % (
                u, x["wire_bytes"]))
            want = "deflate" if "rawdeflate" in u else u.split("enc=")[1]
            check_eq(x["content_encoding"], want.split("&")[0],
                     "content_encoding of " + u)


@test("Accept-Encoding: gzip, br, zstd is sent, and none with "
      "http.decode false")
def _():
    with Server() as srv:
        run_batch([srv.url("/headers")])
        heads = srv.log()[-1]["headers"]
        ae = [v for k, v in heads if k.lower() == "accept-encoding"]
        check_eq(ae, ["gzip, br, zstd"], "sent by default")
        run_batch([srv.url("/headers")], args=["--set", "http.decode=false"])
        heads = srv.log()[-1]["headers"]
        check(not [v for k, v in heads if k.lower() == "accept-encoding"],
              "none with decode off")


@test("with http.decode false a coded body is kept as received")
def _():
    with Server() as srv:
        u = srv.url("/encoded/%d?enc=gzip&force=1" % N)
        r = run_batch([u], args=["--set", "http.decode=false"])
        x = r.records[0]
        check(x["ok"], "ok: %r" % x)
        check_eq(x["content_encoding"], "gzip", "coding named")
        check_eq(x["bytes"], x["wire_bytes"], "bytes as received")
        check(x["bytes"] < N, "not decoded")


@test("a server that ignores Accept-Encoding still works")
def _():
    with Server() as srv:
        r = run_batch([srv.url("/size/1000")])
        check(r.records[0]["ok"], "ok")
        check_eq(r.records[0]["content_encoding"], None, "no coding")
        check_eq(r.records[0]["bytes"], 1000, "bytes")


@test("a gzip bomb (1 GiB of zeros) ends body_too_large at http.max_body "
      "with peak RSS under 64 MiB")
def _():
    with Server() as srv:
        r = run_batch([srv.url("/bomb/1GiB")], peak_rss=True,
                      args=["--set", "http.max_body=64MiB",
                            "--set", "retry.attempts=1"], timeout=120)
        x = r.records[0]
        check_eq(x["error"], "body_too_large", "class: %r" % x)
        check_in("decoded", x["error_detail"], "detail says decoded")
        check(r.peak_rss_kib < 64 * 1024, "peak RSS %d KiB" % r.peak_rss_kib)


@test("a corrupt gzip body ends in protocol")
def _():
    with Server() as srv:
        # a zstd body labelled gzip is not gzip
        r = run_batch([srv.url("/encoded/5000?enc=zstd&force=1&label=gzip")],
                      args=["--set", "retry.attempts=1"])
        x = r.records[0]
        check_eq(x["error"], "protocol", "class: %r" % x)
        check_in("gzip body does not decode", x["error_detail"], "detail")


main()
