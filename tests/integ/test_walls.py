"""scripts/walls.sh, the layer check of make check: a clean tree passes, and
an include across a wall (a parser including the ring, the engine
including output, the client including the daemon) fails, naming the file,
the line and the wall."""
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import *  # noqa: E402,F401,F403


def tree_copy():
    root = repo_root()
    d = scratch_dir("walls")
    shutil.copytree(os.path.join(root, "daemon"), os.path.join(d, "daemon"))
    shutil.copytree(os.path.join(root, "client"), os.path.join(d, "client"))
    os.makedirs(os.path.join(d, "scripts"))
    os.makedirs(os.path.join(d, "build"))
    shutil.copy(os.path.join(root, "scripts", "walls.sh"),
                os.path.join(d, "scripts", "walls.sh"))
    return d


def walls(d):
    return subprocess.run(["sh", os.path.join(d, "scripts", "walls.sh")],
                          capture_output=True, text=True, timeout=60)


def inject(d, path, include):
    p = os.path.join(d, path)
    with open(p) as f:
        text = f.read()
    first = text.index("#include")
    with open(p, "w") as f:
        f.write(text[:first] + '#include "%s"\n' % include + text[first:])


@test("the tree as it is keeps every wall")
def _():
    r = walls(tree_copy())
    check_eq(r.returncode, 0, "exit status: " + r.stdout + r.stderr)


for path, inc, layer in [("daemon/http/url.c", "event/loop.h", "http"),
                         ("daemon/engine/sched.c", "output/results.h", "engine"),
                         ("daemon/base/json.c", "net/conn.h", "base"),
                         ("daemon/config/config.c", "engine/sched.h", "config"),
                         ("client/client.c", "app/daemon.h", "client")]:
    @test("%s including %s fails the check" % (path, inc))
    def _(path=path, inc=inc, layer=layer):
        d = tree_copy()
        inject(d, path, inc)
        r = walls(d)
        check_eq(r.returncode, 1, "exit status")
        check_in("%s:" % path, r.stdout, "names the file")
        check_in("%s/ may not include %s" % (layer, inc), r.stdout,
                 "names the wall")
        check_in("1 includes cross a layer wall", r.stdout, "counts")


main()
