"""Fleet: many daemons share one crawl through Redis Streams (SPEC "Fleet",
issue 15).  A real redis-server (Debian's, 7.0) is started by each test on a
free loopback port and stopped by PID; daemons (tests/integ/test_daemon.py's
Daemon, one state dir, socket and output dir each) take their jobs from the
partitioned job streams; tests/server/rfserver.py serves 16 loopback
addresses (127.0.0.x, chosen so that every partition has one) on one port
and counts requests and peak concurrency per address.

Without /usr/bin/redis-server or python3-redis the Redis tests are skipped
(never passed).  Assumed names beyond SPEC's wording: status has
"redis": {"connected": bool, "partitions": [int, ...] (owned), "pending":
int, "last_error": str or null}; metrics have ringfetch_redis_connected and
ringfetch_redis_pending.

    RF_BUILD=build/asan /usr/bin/python3 tests/integ/test_fleet.py [NAME]
"""
import sys, os
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: F401,F403
from harness import _pdeathsig, _stop_proc

import contextlib
import json
import math
import re
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import harness
_n_tests = len(harness._TESTS)
from test_daemon import Daemon  # noqa: E402
del harness._TESTS[_n_tests:]   # its helpers, not its tests

try:
    import redis   # python3-redis
except ImportError:
    redis = None

REDIS_SERVER = "/usr/bin/redis-server"
PREFIX = "ringfetch:jobs"        # source.redis.stream default
PARTITIONS = 16                  # source.redis.partitions default
GROUP = "ringfetch"              # source.redis.group default
RESULTS = "ringfetch:results"    # output.redis.stream default


# ------------------------------------------------------------ partitioning
# The producer's half of SPEC "Fleet" (the README's example producer has
# the same two functions): a job goes to PREFIX:P, P = FNV-1a-32 of the
# lower-cased host name (no port) mod the number of partitions.

def fnv1a32(data):
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def partition_of(url, partitions=PARTITIONS):
    host = urllib.parse.urlsplit(url).hostname or ""   # lower-cased, no port
    return fnv1a32(host.lower().encode()) % partitions


def stream_of(url):
    return "%s:%d" % (PREFIX, partition_of(url))


def pick_hosts(partitions=PARTITIONS):
    """One 127.0.0.x per partition (the first x that lands there)."""
    by_p = {}
    for x in range(1, 255):
        h = "127.0.0.%d" % x
        by_p.setdefault(fnv1a32(h.encode()) % partitions, h)
        if len(by_p) == partitions:
            break
    return [by_p[p] for p in sorted(by_p)]


HOSTS = pick_hosts()


def need_redis():
    if not os.access(REDIS_SERVER, os.X_OK):
        skip("%s is missing (apt-get install redis-server)" % REDIS_SERVER)
    if redis is None:
        skip("python3-redis is missing (apt-get install python3-redis)")


# ------------------------------------------------------------ redis-server

class RedisServer:
    """redis-server on 127.0.0.1:free port, its own dir, stopped by PID.
    aof: --appendonly yes (a restart keeps the streams)."""

    def __init__(self, aof=False):
        self.aof = aof
        self.dir = scratch_dir("redis")
        self.port = free_port()
        self.proc = None
        self.logpath = os.path.join(self.dir, "redis.log")

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def start(self):
        cmd = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "yes" if self.aof else "no",
               "--dir", self.dir, "--daemonize", "no",
               "--logfile", self.logpath, "--protected-mode", "yes"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL,
                                     preexec_fn=_pdeathsig)
        c = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2,
                        socket_connect_timeout=2)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited %s:\n%s" % (
                    self.proc.returncode, self.log()[-2000:]))
            try:
                return c.ping()
            except redis.exceptions.RedisError:
                return False
        wait_until(up, 15, 0.05, "redis-server to answer PING")
        c.close()
        return self

    def stop(self):
        """SIGTERM by PID (redis writes its AOF and exits), SIGKILL after
        10 s."""
        if self.proc is not None:
            _stop_proc(self.proc, 10)
            self.proc = None

    def log(self):
        try:
            with open(self.logpath, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def client(self):
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10,
                           socket_connect_timeout=5, decode_responses=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def push_jobs(r, jobs):
    """XADD each job (a dict of fields; "url" picks the partition, none:
    partition 0) in pipelined batches -> list of "STREAM/ENTRY-ID", the
    source that the job's record must carry."""
    out = []
    pipe = r.pipeline(transaction=False)
    streams = []
    for j in jobs:
        s = stream_of(j["url"]) if "url" in j else "%s:0" % PREFIX
        pipe.xadd(s, j)
        streams.append(s)
        if len(streams) - len(out) >= 1000:
            out += ["%s/%s" % x for x in zip(streams[len(out):], pipe.execute())]
    rest = pipe.execute()
    out += ["%s/%s" % x for x in zip(streams[len(out):], rest)]
    return out


def pending_total(r):
    """Entries delivered and not acknowledged, over every job stream."""
    n = 0
    for p in range(PARTITIONS):
        try:
            n += r.xpending("%s:%d" % (PREFIX, p), GROUP)["pending"]
        except redis.exceptions.ResponseError:
            pass   # no stream or no group: nothing pending there
    return n


def wait_acked(r, timeout=15):
    wait_until(lambda: pending_total(r) == 0, timeout, 0.2,
               "every job stream's pending list to empty (XACK after the "
               "record is synced)")


# ------------------------------------------------------------ daemons

class FleetDaemon(Daemon):
    """A daemon of the fleet: Daemon's paths, plus source.redis (consumer
    NAME, claim_idle), output.sync batch, limits and extras."""

    def __init__(self, rds, name, per_host=6, concurrency=64, capacity=None,
                 claim_idle="2s", rate=None, out_redis=None, metrics=None,
                 extra=""):
        self.rds, self.name = rds, name
        self.opts = dict(per_host=per_host, concurrency=concurrency,
                         capacity=capacity, claim_idle=claim_idle, rate=rate,
                         out_redis=out_redis, metrics=metrics)
        self.killed = False
        Daemon.__init__(self, extra=extra)

    def write_config(self, extra="", daemon=""):
        o = self.opts
        y = ["daemon:", "  socket: %s" % self.sock,
             "  state_dir: %s" % self.state, "  shutdown_grace: 2s",
             "output:", "  dir: %s" % self.out, "  sync: batch"]
        if o["out_redis"]:
            y += ["  redis:", "    url: %s" % o["out_redis"],
                  "    stream: %s" % RESULTS]
        y += ["retry:", "  attempts: 1",
              "limits:", "  concurrency: %d" % o["concurrency"],
              "  per_host: %d" % o["per_host"]]
        if o["rate"] is not None:
            y.append("  per_host_rate: %s" % o["rate"])
        if o["capacity"]:
            y += ["queue:", "  capacity: %d" % o["capacity"]]
        y += ["source:", "  redis:", "    url: %s" % self.rds.url,
              "    stream: %s" % PREFIX, "    partitions: %d" % PARTITIONS,
              "    group: %s" % GROUP, "    consumer: %s" % self.name,
              "    claim_idle: %s" % o["claim_idle"]]
        if o["metrics"]:
            y += ["metrics:", "  listen: %s" % o["metrics"]]
        with open(self.cfg, "w") as f:
            f.write("\n".join(y) + "\n" + extra)

    def redis_status(self):
        st = self.status()
        r = st.get("redis")
        check(isinstance(r, dict), "%s: status has a redis object: %r" % (
            self.name, st))
        return r

    def owned(self):
        p = self.redis_status().get("partitions")
        check(isinstance(p, list), "%s: redis.partitions is a list: %r" % (
            self.name, p))
        return set(p)

    def kill9(self):
        """SIGKILL by PID and reap."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None
        self.killed = True

    def result_files(self):
        if not os.path.isdir(self.out):
            return []
        return [os.path.join(self.out, n) for n in sorted(os.listdir(self.out))
                if n.startswith("results") and n.endswith(".jsonl")]

    def nlines(self):
        n = 0
        for p in self.result_files():
            try:
                with open(p, "rb") as f:
                    n += f.read().count(b"\n")
            except OSError:
                pass
        return n

    def recs(self):
        """Every record this daemon wrote; a daemon killed with SIGKILL may
        leave a torn last line, which is left out (and said)."""
        if not self.killed:
            return Daemon.records(self)
        out = []
        for p in self.result_files():
            with open(p, "rb") as f:
                data = f.read()
            lines = data.split(b"\n")
            if lines and lines[-1]:
                diag("%s: torn last line left out: %r" % (p, lines[-1][:100]))
            for ln in lines[:-1]:
                if ln:
                    out.append(json.loads(ln))
        return out

    def alive(self):
        if self.killed:
            return
        if self.proc is None or self.proc.poll() is not None:
            raise AssertionError("daemon %s exited %s:\n%s" % (
                self.name, None if self.proc is None else self.proc.returncode,
                self.log()[-3000:]))


def start_fleet(stack, rds, n, **kw):
    ds = []
    for i in range(n):
        ds.append(stack.enter_context(FleetDaemon(rds, "d%d" % i, **kw)))
    return ds


def settled(daemons, what="partitions spread over the fleet", timeout=40):
    """Wait until the live daemons own every partition, each partition one
    daemon, each daemon at least one and at most its share rounded up.
    -> list of sets."""
    live = [d for d in daemons if not d.killed]
    share = math.ceil(PARTITIONS / len(live))
    last = [None]

    def ok():
        for d in live:
            d.alive()
        sets = [d.owned() for d in live]
        last[0] = sets
        allp = [p for s in sets for p in s]
        return (sorted(allp) == list(range(PARTITIONS)) and
                all(1 <= len(s) <= share for s in sets)) and sets
    try:
        return wait_until(ok, timeout, 0.2, what)
    except AssertionError as e:
        raise AssertionError("%s; last partitions owned: %s" % (
            e, [sorted(s) for s in last[0] or []]))


def all_records(daemons):
    """[(daemon, record)] over the fleet."""
    return [(d, r) for d in daemons for r in d.recs()]


def wait_done(daemons, keys, keyf, timeout=120):
    """Poll the fleet's result files until every key in keys has a record
    (keyf(record) -> key) -> [(daemon, record)]; fails at once when a daemon
    that was not killed has exited."""
    keys = set(keys)
    deadline = time.monotonic() + timeout
    seen = set()
    while True:
        for d in daemons:
            d.alive()
        if sum(d.nlines() for d in daemons) >= len(keys):
            pairs = all_records(daemons)
            seen = {keyf(r) for _, r in pairs}
            if keys <= seen:
                return pairs
        if time.monotonic() > deadline:
            missing = keys - seen
            raise AssertionError(
                "timed out after %ss: %d of %d jobs have no record (e.g. %s); "
                "records per daemon %s\n%s" % (
                    timeout, len(missing), len(keys), sorted(missing)[:5],
                    {d.name: d.nlines() for d in daemons},
                    "\n".join("--- %s:\n%s" % (d.name, d.log()[-1500:])
                              for d in daemons)))
        time.sleep(0.3)


def group_by(pairs, keyf):
    g = {}
    for d, r in pairs:
        g.setdefault(keyf(r), []).append((d, r))
    return g


def check_exactly_one(pairs, keyf, expect):
    g = group_by(pairs, keyf)
    dups = {k: [(d.name, r.get("source")) for d, r in v]
            for k, v in g.items() if len(v) > 1}
    check(not dups, "%d jobs have more than one record, e.g. %s" % (
        len(dups), list(dups.items())[:3]))
    extra = set(g) - set(expect)
    check(not extra, "records of jobs never pushed: %s" % sorted(extra)[:5])
    return g


def check_sources(g, src_of):
    """Each job's record carries source "STREAM/ENTRY-ID" of its entry."""
    bad = [(k, v[0][1].get("source"), src_of[k]) for k, v in g.items()
           if v[0][1].get("source") != src_of[k]]
    check(not bad, "%d records whose source is not their entry's, e.g. %s"
          % (len(bad), bad[:3]))


def fleet_server(stack, extra=()):
    return stack.enter_context(Server(host=HOSTS[0], args=[
        a for h in HOSTS[1:] for a in ("--also-host", h)] + list(extra)))


def make_jobs(srv, n, path="/ok", tag="j"):
    """n jobs spread round-robin over the 16 hosts: {"url", "id"}."""
    jobs = []
    for i in range(n):
        h = HOSTS[i % len(HOSTS)]
        sep = "&" if "?" in path else "?"
        jobs.append({"url": srv.url("%s%sn=%d" % (path, sep, i), host=h),
                     "id": "%s%d" % (tag, i)})
    return jobs


def by_id_key(r):
    return r.get("id")


# ------------------------------------------------------------ tests

@test("rfserver --also-host counts requests and peak concurrency per address",
      timeout=30)
def _():
    with Server(host=HOSTS[0], args=["--also-host", HOSTS[1]]) as srv:
        def get(h, path):
            with urllib.request.urlopen(srv.url(path, host=h), timeout=10) as f:
                f.read()
        ts = [threading.Thread(target=get, args=(HOSTS[1], "/delay/400"))
              for _ in range(3)]
        ts.append(threading.Thread(target=get, args=(HOSTS[0], "/ok")))
        for t in ts:
            t.start()
        for t in ts:
            t.join(15)
        ph = srv.stats()["per_host"]
        k0 = "%s:%d" % (HOSTS[0], srv.port)
        k1 = "%s:%d" % (HOSTS[1], srv.port)
        check_eq(ph[k1]["requests"], 3, "requests at %s" % k1)
        check_eq(ph[k1]["max_concurrent_requests"], 3, "peak at %s" % k1)
        check_eq(ph[k0]["requests"], 1, "requests at %s" % k0)
        check_eq(ph[k1]["in_flight"], 0, "in flight afterwards")
        srv.reset()
        check_eq(srv.stats()["per_host"], {}, "per_host after reset")


def share_test(ndaemons, njobs, via_submit=False):
    need_redis()
    with contextlib.ExitStack() as st:
        rds = st.enter_context(RedisServer())
        srv = fleet_server(st)
        ds = start_fleet(st, rds, ndaemons)
        sets = settled(ds)
        diag("partitions: %s" % {d.name: sorted(s) for d, s in zip(ds, sets)})
        r = rds.client()
        jobs = make_jobs(srv, njobs)
        t0 = time.monotonic()
        if via_submit:
            # ringfetch submit --redis: the client partitions as SPEC says
            p = run_rf(["-c", ds[0].cfg, "submit", "--redis", rds.url],
                       input="".join(j["url"] + "\n" for j in jobs),
                       timeout=90, binary=rf_bin("ringfetch"))
            check_eq(p.rc, 0, "ringfetch submit --redis exit status "
                     "(stderr: %s)" % p.stderr[-500:])
            keyf, expect = (lambda rec: rec.get("url")), [j["url"] for j in jobs]
        else:
            srcs = push_jobs(r, jobs)
            keyf, expect = by_id_key, [j["id"] for j in jobs]
        pairs = wait_done(ds, expect, keyf, timeout=150)
        el = time.monotonic() - t0
        g = check_exactly_one(pairs, keyf, expect)
        if via_submit:
            # the client put each job in its host's partition
            bad = [(k, v[0][1].get("source")) for k, v in g.items()
                   if not str(v[0][1].get("source", "")).startswith(
                       stream_of(k) + "/")]
            check(not bad, "%d records from the wrong partition, e.g. %s" % (
                len(bad), bad[:3]))
        else:
            check_sources(g, dict(zip(expect, srcs)))
        notok = [r_ for _, r_ in pairs if not r_.get("ok")]
        check(not notok, "%d records not ok, e.g. %s" % (
            len(notok), notok[:2]))
        per = {d.name: sum(1 for x, _ in pairs if x is d) for d in ds}
        diag("%d jobs in %.1fs (%.0f/s); records per daemon %s" % (
            njobs, el, njobs / el, per))
        for d in ds:
            check(per[d.name] >= njobs / (4 * ndaemons),
                  "%s fetched its share (%d of %d)" % (
                      d.name, per[d.name], njobs))
        wait_acked(r)
        check_eq(srv.stats()["requests_total"], njobs,
                 "requests at the server (each job fetched once)")


@test("two daemons share a 20,000-job crawl (XADD): one record each, "
      "source = its entry, each daemon fetched its share, all acked",
      timeout=200)
def _():
    share_test(2, 20000)


@test("three daemons share a 20,000-job crawl pushed by ringfetch submit "
      "--redis: one record each, right partition, each daemon fetched",
      timeout=200)
def _():
    share_test(3, 20000, via_submit=True)


@test("one of three daemons SIGKILLed mid-crawl: its partitions move after "
      "claim_idle, its pending jobs finish elsewhere, none lost, a duplicate "
      "only of a record the dead daemon wrote", timeout=150)
def _():
    need_redis()
    with contextlib.ExitStack() as st:
        rds = st.enter_context(RedisServer())
        srv = fleet_server(st)
        ds = start_fleet(st, rds, 3, per_host=2, capacity=300)
        settled(ds)
        r = rds.client()
        jobs = make_jobs(srv, 3000, "/delay/100")
        ids = [j["id"] for j in jobs]
        srcs = dict(zip(ids, push_jobs(r, jobs)))
        victim = ds[1]
        wait_until(lambda: victim.nlines() >= 100 and
                   sum(d.nlines() for d in ds) >= 500, 60, 0.1,
                   "the victim to write 100 records")
        vst = victim.redis_status()
        held = r.xpending("%s:%d" % (PREFIX, sorted(vst["partitions"])[0]),
                          GROUP)
        victim.kill9()
        t_kill = time.monotonic()
        diag("killed %s owning %s, pending %s; records then %s" % (
            victim.name, sorted(vst["partitions"]), vst.get("pending"),
            {d.name: d.nlines() for d in ds}))
        check(vst.get("pending", 0) > 0 or held["pending"] > 0,
              "the victim held pending jobs when killed: %r" % vst)
        live = [ds[0], ds[2]]
        settled(ds, "the survivors to own every partition",
                timeout=2 + 30)
        diag("partitions moved %.1fs after the kill" % (
            time.monotonic() - t_kill))
        pairs = wait_done(ds, ids, by_id_key, timeout=90)
        g = group_by(pairs, by_id_key)
        check(set(g) == set(ids), "records of jobs never pushed: %s" %
              sorted(set(g) - set(ids))[:5])
        victim_srcs = {rec.get("source") for rec in victim.recs()}
        dups = 0
        for k, v in g.items():
            if len(v) == 1:
                continue
            dups += 1
            names = [d.name for d, _ in v]
            check(len(v) == 2 and names.count(victim.name) == 1,
                  "job %s: records from %s (a second record only when the "
                  "dead daemon wrote one)" % (k, names))
            check_in(srcs[k], victim_srcs,
                     "duplicate %s's source in the killed daemon's results" % k)
        for k, v in g.items():
            for d, rec in v:
                check_eq(rec.get("source"), srcs[k], "source of %s" % k)
        later = sum(1 for d, _ in pairs if d in live)
        diag("%d duplicates (dead daemon wrote, did not ack); survivors wrote "
             "%d records" % (dups, later))
        wait_acked(r)


@test("redis-server restarted mid-crawl (AOF): redis.connected false while "
      "down, fetching goes on, intake resumes, none lost, no duplicate",
      timeout=150)
def _():
    need_redis()
    with contextlib.ExitStack() as st:
        rds = st.enter_context(RedisServer(aof=True))
        srv = fleet_server(st)
        # claim_idle 5s: the outage (~2 s) is shorter, so no lease lapses
        ds = start_fleet(st, rds, 2, per_host=2, capacity=200, claim_idle="5s")
        settled(ds)
        r = rds.client()
        jobs = make_jobs(srv, 3000, "/delay/100")
        ids = [j["id"] for j in jobs]
        srcs = dict(zip(ids, push_jobs(r, jobs)))
        r.close()
        wait_until(lambda: sum(d.nlines() for d in ds) >= 500, 60, 0.1,
                   "500 records")
        req0 = srv.stats()["requests_total"]
        t_down = time.monotonic()
        rds.stop()
        for d in ds:
            wait_until(lambda d=d: d.redis_status().get("connected") is False,
                       10, 0.1, "%s: status redis.connected false" % d.name)
        rs = ds[0].redis_status()
        check(isinstance(rs.get("last_error"), str) and rs["last_error"],
              "redis.last_error says why while down: %r" % rs)
        time.sleep(max(0, 1.5 - (time.monotonic() - t_down)))
        req1 = srv.stats()["requests_total"]
        check(req1 > req0, "fetching went on while Redis was down "
              "(server requests %d -> %d)" % (req0, req1))
        rds.start()
        diag("Redis down %.1fs; server saw %d requests meanwhile" % (
            time.monotonic() - t_down, req1 - req0))
        for d in ds:
            wait_until(lambda d=d: d.redis_status().get("connected") is True,
                       30, 0.2, "%s: status redis.connected true again"
                       % d.name)
        n_back = sum(d.nlines() for d in ds)
        pairs = wait_done(ds, ids, by_id_key, timeout=90)
        check(len(pairs) > n_back, "intake resumed after the restart")
        g = check_exactly_one(pairs, by_id_key, ids)
        check_sources(g, srcs)
        wait_acked(rds.client())


@test("limits.per_host 2 holds fleet-wide across three daemons (peak "
      "concurrency per host at the server <= 2; each job fetched once)",
      timeout=120)
def _():
    need_redis()
    with contextlib.ExitStack() as st:
        rds = st.enter_context(RedisServer())
        srv = fleet_server(st)
        ds = start_fleet(st, rds, 3, per_host=2)
        settled(ds)
        srv.reset()
        r = rds.client()
        jobs = make_jobs(srv, 3000, "/delay/20")
        ids = [j["id"] for j in jobs]
        push_jobs(r, jobs)
        pairs = wait_done(ds, ids, by_id_key, timeout=90)
        check_exactly_one(pairs, by_id_key, ids)
        stats = srv.stats()
        ph = stats["per_host"]
        peaks = {k: v["max_concurrent_requests"] for k, v in ph.items()}
        diag("peak concurrency per host: %s" % peaks)
        check_eq(len(ph), len(HOSTS), "hosts the server saw")
        over = {k: v for k, v in peaks.items() if v > 2}
        check(not over, "per_host 2 exceeded at %s" % over)
        check(max(peaks.values()) == 2, "the limit was reached (the test "
              "measures something)")
        check_eq(stats["requests_total"], len(jobs), "requests at the server")


@test("limits.per_host_rate holds fleet-wide across three daemons "
      "(request starts per host at the server)", timeout=120)
def _():
    need_redis()
    rate, per = 10, 40
    with contextlib.ExitStack() as st:
        rds = st.enter_context(RedisServer())
        srv = fleet_server(st)
        ds = start_fleet(st, rds, 3, rate=rate)
        settled(ds)
        srv.reset()
        hosts = HOSTS[:4]
        jobs = []
        for i in range(per * len(hosts)):
            h = i % len(hosts)
            jobs.append({"url": srv.url("/ok?h=%d&n=%d" % (h, i),
                                        host=hosts[h]), "id": "r%d" % i})
        ids = [j["id"] for j in jobs]
        push_jobs(rds.client(), jobs)
        pairs = wait_done(ds, ids, by_id_key, timeout=60)
        check_exactly_one(pairs, by_id_key, ids)
        log = srv.log(n=10000, path="/ok")
        for h in range(len(hosts)):
            ts = sorted(e["t"] for e in log
                        if re.search(r"[?&]h=%d&" % h, e["target"]))
            check_eq(len(ts), per, "requests for host %s" % hosts[h])
            span = ts[-1] - ts[0]
            # a token bucket: at most rate per second plus a burst of <= rate
            check(len(ts) <= rate * span + rate + 1,
                  "host %s: %d requests in %.2fs at per_host_rate %d" % (
                      hosts[h], len(ts), span, rate))
            diag("host %s: %d requests in %.2fs" % (hosts[h], len(ts), span))


@test("a daemon joining mid-crawl takes partitions and fetches jobs; "
      "one record per job", timeout=150)
def _():
    need_redis()
    with contextlib.ExitStack() as st:
        rds = st.enter_context(RedisServer())
        srv = fleet_server(st)
        ds = start_fleet(st, rds, 2, per_host=2, capacity=300)
        settled(ds)
        r = rds.client()
        jobs = make_jobs(srv, 4000, "/delay/100")
        ids = [j["id"] for j in jobs]
        srcs = dict(zip(ids, push_jobs(r, jobs)))
        wait_until(lambda: sum(d.nlines() for d in ds) >= 600, 60, 0.1,
                   "600 records")
        t_join = time.monotonic()
        newd = st.enter_context(FleetDaemon(rds, "d2", per_host=2,
                                            capacity=300))
        ds.append(newd)
        wait_until(lambda: newd.owned(), 30, 0.2,
                   "the new daemon to own a partition")
        diag("d2 owned %s %.1fs after it started" % (
            sorted(newd.owned()), time.monotonic() - t_join))
        settled(ds, "the three daemons to share the partitions", timeout=30)
        pairs = wait_done(ds, ids, by_id_key, timeout=90)
        g = check_exactly_one(pairs, by_id_key, ids)
        check_sources(g, srcs)
        n_new = sum(1 for d, _ in pairs if d is newd)
        diag("records per daemon: %s" % {
            d.name: sum(1 for x, _ in pairs if x is d) for d in ds})
        check(n_new > 0, "the daemon that joined fetched some jobs")
        wait_acked(r)


@test("a daemon stopped with SIGTERM hands its partitions over at once "
      "(long before claim_idle); every job once", timeout=150)
def _():
    need_redis()
    with contextlib.ExitStack() as st:
        rds = st.enter_context(RedisServer())
        srv = fleet_server(st)
        ds = start_fleet(st, rds, 2, per_host=2, capacity=300,
                         claim_idle="60s")
        settled(ds)
        r = rds.client()
        jobs = make_jobs(srv, 3000, "/delay/50")
        ids = [j["id"] for j in jobs]
        srcs = dict(zip(ids, push_jobs(r, jobs)))
        wait_until(lambda: sum(d.nlines() for d in ds) >= 500, 60, 0.1,
                   "500 records")
        t0 = time.monotonic()
        check_eq(ds[0].stop(), 0, "exit after SIGTERM")
        ds[0].killed = True     # gone on purpose: read its files as left
        wait_until(lambda: len(ds[1].owned()) == PARTITIONS, 30, 0.2,
                   "the other daemon to own every partition")
        took = time.monotonic() - t0
        diag("all %d partitions moved %.1fs after SIGTERM (claim_idle "
             "60s)" % (PARTITIONS, took))
        check(took < 30, "handed over, not waited out: %.1fs" % took)
        pairs = wait_done(ds, ids, by_id_key, timeout=90)
        g = check_exactly_one(pairs, by_id_key, ids)
        check_sources(g, srcs)
        wait_acked(r)


@test("invalid entries (no url, bad URLs, headers not a JSON object) end "
      "with one record each (invalid_url) and are acked, never retried",
      timeout=90)
def _():
    need_redis()
    with contextlib.ExitStack() as st:
        rds = st.enter_context(RedisServer())
        srv = fleet_server(st)
        d = st.enter_context(FleetDaemon(rds, "d0"))
        settled([d])
        r = rds.client()
        good = srv.url("/ok", host=HOSTS[3])
        jobs = [
            {"id": "no-url"},
            {"id": "empty-host", "url": "http://"},
            {"id": "not-http", "url": "ftp://%s/x" % HOSTS[2]},
            {"id": "garbage", "url": "::not a url::"},
            {"id": "bad-headers", "url": good + "?h", "headers": "{not json"},
            {"url": good + "?noid"},
            {"id": "good", "url": good},
        ]
        srcs = push_jobs(r, jobs)
        src = lambda rec: rec.get("source")   # noqa: E731
        pairs = wait_done([d], srcs, src, timeout=30)
        g = check_exactly_one(pairs, src, srcs)
        rec = {j.get("id", "noid"): g[s][0][1] for j, s in zip(jobs, srcs)}
        for k in ("no-url", "empty-host", "not-http", "garbage"):
            check_eq(rec[k].get("ok"), False, "%s: ok" % k)
            check_eq(rec[k].get("error"), "invalid_url", "%s: error" % k)
            check_eq(rec[k].get("id"), k, "%s: id" % k)
        check_eq(rec["bad-headers"].get("ok"), False, "bad-headers: ok")
        check(isinstance(rec["bad-headers"].get("error"), str),
              "bad-headers: an error class: %r" % rec["bad-headers"])
        diag("bad-headers ended %s" % rec["bad-headers"].get("error"))
        check(rec["good"].get("ok"), "good: ok %r" % rec["good"])
        check(rec["noid"].get("ok") and rec["noid"].get("id") is None,
              "an entry without id: ok, id null: %r" % rec["noid"])
        wait_acked(r, 10)
        time.sleep(5)   # > 2 x claim_idle: nothing comes back
        check_eq(len(d.recs()), len(jobs), "records after 5 s more")
        check_eq(pending_total(r), 0, "pending after 5 s more")


def results_stream(r, want, timeout=20):
    wait_until(lambda: r.xlen(RESULTS) >= want, timeout, 0.1,
               "%d entries in %s (XLEN %s)" % (want, RESULTS,
                                                 r.exists(RESULTS) and
                                                 r.xlen(RESULTS)))
    out = []
    for _, fields in r.xrange(RESULTS, "-", "+"):
        check(set(fields) >= {"record"}, "entry has field record: %r"
              % fields)
        out.append(json.loads(fields["record"]))
    return out


@test("output.redis (daemon): every record is also in the results stream, "
      "field record, the same JSON", timeout=90)
def _():
    need_redis()
    with contextlib.ExitStack() as st:
        rds = st.enter_context(RedisServer())
        srv = fleet_server(st)
        d = st.enter_context(FleetDaemon(rds, "d0", out_redis=rds.url))
        settled([d])
        r = rds.client()
        jobs = make_jobs(srv, 300)
        ids = [j["id"] for j in jobs]
        push_jobs(r, jobs)
        pairs = wait_done([d], ids, by_id_key, timeout=60)
        file_recs = {rec["source"]: rec for _, rec in pairs}
        got = results_stream(r, len(file_recs))
        check_eq(len(got), len(file_recs), "entries in the results stream")
        sr = {x.get("source"): x for x in got}
        check_eq(set(sr), set(file_recs), "sources in the results stream")
        diff = [s for s in sr if sr[s] != file_recs[s]]
        check(not diff, "%d stream records differ from the file's, e.g. "
              "%s vs %s" % (len(diff), diff and sr[diff[0]],
                            diff and file_recs[diff[0]]))


@test("output.redis (batch): ringfetchd --batch --set output.redis.url "
      "XADDs every record", timeout=90)
def _():
    need_redis()
    with contextlib.ExitStack() as st:
        rds = st.enter_context(RedisServer())
        srv = fleet_server(st)
        urls = [srv.url("/ok?n=%d" % i, host=HOSTS[i % len(HOSTS)])
                for i in range(200)]
        res = run_batch(urls, args=["--set", "output.redis.url=" + rds.url,
                                    "--set", "output.sync=batch"], timeout=60)
        check_eq(res.rc, 0, "exit status\n" + res.describe())
        check_eq(len(res.records), len(urls), "records in the file")
        got = results_stream(rds.client(), len(urls))
        check_eq(len(got), len(urls), "entries in the results stream")
        fj = {x["job"]: x for x in res.records}
        sj = {x.get("job"): x for x in got}
        check_eq(set(sj), set(fj), "job numbers in the results stream")
        diff = [j for j in sj if sj[j] != fj[j]]
        check(not diff, "%d stream records differ from the file's, e.g. %s"
              % (len(diff), diff[:3]))


@test("status has the redis object and metrics the ringfetch_redis_ names "
      "(daemon mode)", timeout=60)
def _():
    need_redis()
    with contextlib.ExitStack() as st:
        rds = st.enter_context(RedisServer())
        mport = free_port()
        d = st.enter_context(FleetDaemon(rds, "d0",
                                         metrics="127.0.0.1:%d" % mport))
        settled([d])
        rs = d.redis_status()
        check_eq(rs.get("connected"), True, "redis.connected")
        check_eq(sorted(rs.get("partitions")), list(range(PARTITIONS)),
                 "redis.partitions of the only daemon")
        check(isinstance(rs.get("pending"), int) and rs["pending"] >= 0,
              "redis.pending an int: %r" % rs)
        check(rs.get("last_error") is None or
              isinstance(rs.get("last_error"), str),
              "redis.last_error a string or null: %r" % rs)
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport,
                                    timeout=10) as f:
            text = f.read().decode()
        names = sorted({m.group(1) for m in re.finditer(
            r"^(ringfetch_redis_[a-z0-9_]+)", text, re.M)})
        diag("metrics: %s" % names)
        check("ringfetch_redis_connected" in names, "ringfetch_redis_connected")
        check("ringfetch_redis_pending" in names, "ringfetch_redis_pending")
        m = re.search(r"^ringfetch_redis_connected(\{[^}]*\})? (\S+)$", text,
                      re.M)
        check(m and float(m.group(2)) == 1, "ringfetch_redis_connected 1")
        # the consumer group exists on every job stream (XGROUP CREATE
        # ... MKSTREAM at start)
        r = rds.client()
        for p in range(PARTITIONS):
            groups = [x["name"] for x in r.xinfo_groups("%s:%d" % (PREFIX, p))]
            check_in(GROUP, groups, "group on %s:%d" % (PREFIX, p))


if __name__ == "__main__":
    main()
