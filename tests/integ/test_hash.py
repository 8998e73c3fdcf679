"""output.hash: none skips hashing (sha256 null in every record, bytes
unchanged), is refused with output.bodies: files, and leaves WARC responses
without a payload digest."""
import glob
import gzip
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403


@test("output.hash: none gives records with sha256 null and the same bytes")
def _():
    with Server() as srv:
        urls = [srv.url("/size/%d" % n) for n in (0, 1, 5000, 300000)]
        r = run_batch(urls, args=["--set", "output.hash=none"])
        check_eq(len(r.records), 4, "records")
        for x in r.records:
            check(x["ok"], "ok: %r" % x)
            check_eq(x["sha256"], None, "no digest")
        check_eq(sorted(x["bytes"] for x in r.records),
                 [0, 1, 5000, 300000], "bytes")


@test("output.hash: none with output.bodies: files is a configuration error")
def _():
    r = run_rf(["--check-config", "--set", "output.bodies=files",
                "--set", "output.hash=none"])
    check_eq(r.rc, 2, "exit status")
    check_in("output.hash", r.stderr, "names the key")


@test("with output.hash: none a WARC response record has no payload digest")
def _():
    with Server() as srv:
        r = run_batch([srv.url("/size/100")], args=[
            "--set", "output.hash=none", "--set", "output.bodies=warc"])
        check(r.records[0]["ok"], "ok")
        files = glob.glob(os.path.join(r.out, "warc", "*.warc.gz"))
        check(files, "a WARC file")
        text = gzip.open(files[0]).read().decode("latin-1")
        check_in("WARC-Type: response", text, "a response record")
        check("WARC-Payload-Digest" not in text, "no payload digest")


main()
