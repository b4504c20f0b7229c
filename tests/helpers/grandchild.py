"""A grandchild that handles SIGTERM slowly: writes 'started' to the file
argv[1], and on SIGTERM waits argv[2] seconds (cleanup work), writes
'handled' and exits 0."""
import os
import signal
import sys
import time

path, cleanup = sys.argv[1], float(sys.argv[2])


def on_term(sig, frame):
    time.sleep(cleanup)
    with open(path, "a") as f:
        f.write("handled\n")
    os._exit(0)


signal.signal(signal.SIGTERM, on_term)
with open(path, "a") as f:
    f.write(f"started {os.getpid()}\n")
while True:
    signal.pause()
