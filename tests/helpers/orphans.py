"""Makes N orphans that exit all at once, then waits until every one of
them has been reaped by the init above. Exit 0 when all were reaped, 1 if
any was still there (a zombie) after the timeout, 2 if an orphan was not
re-parented to the init.

usage: orphans.py N [TIMEOUT]"""
import os
import sys
import time

count = int(sys.argv[1])
timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
init = os.getppid()
release_r, release_w = os.pipe()
report_r, report_w = os.pipe()

for _ in range(count):
    if os.fork() == 0:
        if os.fork() == 0:
            os.close(release_w)
            os.read(release_r, 1)   # blocks until the release
            os._exit(0)
        os._exit(0)                 # the grandchild is now an orphan
os.close(release_r)
for _ in range(count):
    os.waitpid(-1, 0)               # the intermediate parents
orphans = set()
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    with open(f"/proc/{init}/task/{init}/children") as f:
        kids = {int(p) for p in f.read().split()} - {os.getpid()}
    if len(kids) >= count:
        orphans = kids
        break
    time.sleep(0.01)
if len(orphans) < count:
    print(f"only {len(orphans)} of {count} orphans re-parented to {init}",
          file=sys.stderr)
    sys.exit(2)
os.close(release_w)                 # every orphan exits at once
while time.monotonic() < deadline:
    left = [p for p in orphans if os.path.exists(f"/proc/{p}")]
    if not left:
        print(f"reaped {count}")
        sys.exit(0)
    time.sleep(0.01)
print(f"{len(left)} orphans left unreaped", file=sys.stderr)
sys.exit(1)
