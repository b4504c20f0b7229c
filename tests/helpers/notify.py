"""Sends systemd notification messages as sd_notify(3) does, for the
ready=notify tests.

usage: notify.py [--socket ADDR] [--wait PATH] [--barrier] [--stay]
                 MESSAGE...

ADDR is $NOTIFY_SOCKET unless given ('@' starts an abstract name). Each
MESSAGE is one datagram; the two characters backslash and n in it stand
for a newline, so "READY=1\\nSTATUS=up" is one message of two lines.

--wait PATH  first waits until PATH exists
--barrier    after the messages, sends BARRIER=1 with the write end of a
             pipe and waits (10 s at most) until the receiver has closed
             it, as sd_notify_barrier(3) and systemd-notify do, so that
             the messages are read before this process exits
--stay       then sleeps until a signal ends it (otherwise exits 0)

Exits 1 with a line on stderr when a message cannot be sent.
"""
import argparse
import os
import select
import socket
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--socket", default=os.environ.get("NOTIFY_SOCKET"))
ap.add_argument("--wait")
ap.add_argument("--barrier", action="store_true")
ap.add_argument("--stay", action="store_true")
ap.add_argument("messages", nargs="*")
args = ap.parse_args()

if not args.socket:
    sys.exit("notify.py: no NOTIFY_SOCKET")
addr = args.socket
if addr.startswith("@"):
    addr = "\0" + addr[1:]

if args.wait:
    while not os.path.exists(args.wait):
        time.sleep(0.02)

sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    for message in args.messages:
        sock.sendto(message.replace("\\n", "\n").encode(), addr)
    if args.barrier:
        r, w = os.pipe()
        sock.sendmsg([b"BARRIER=1"],
                     [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                       w.to_bytes(4, sys.byteorder))], 0, addr)
        os.close(w)
        poller = select.poll()
        poller.register(r, select.POLLHUP)
        if not poller.poll(10000):
            sys.exit("notify.py: the barrier was not closed within 10 s")
except OSError as e:
    sys.exit(f"notify.py: cannot send to {args.socket}: {e}")

if args.stay:
    while True:
        time.sleep(1000)
