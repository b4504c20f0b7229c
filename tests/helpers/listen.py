"""A TCP server for the ready=tcp tests: listens on 127.0.0.1:PORT (after
PATH exists, with --wait PATH) and then only sleeps; connections stay in
the kernel's backlog, which is enough for a connect to succeed. The
default SIGTERM ends it.

usage: listen.py PORT [--wait PATH]
"""
import argparse
import os
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("--wait")
args = ap.parse_args()

if args.wait:
    while not os.path.exists(args.wait):
        time.sleep(0.02)
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", args.port))
server.listen(64)
while True:
    time.sleep(1000)
