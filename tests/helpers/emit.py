"""A supervised program that writes known output, for the output tests.
The content of every line is a function of its number, so that a test can
rebuild what was written and see any loss, duplication, cut or mix.

usage: emit.py MODE ARGS...

interleave NAME COUNT    COUNT lines on stdout and COUNT on stderr, each
                         written in 1 to 5 pieces, back to back; then exits
bulk NBYTES              NBYTES of 64-byte lines on stdout in 64 KiB
                         writes, then exits at once (os._exit)
lines COUNT FD           COUNT numbered lines of 30 to 130 bytes on FD,
                         7 lines a write; then exits
steady COUNT SECONDS     COUNT numbered lines on stdout over about SECONDS,
                         in 1000-byte writes that cut lines anywhere
tick FD SECONDS          a numbered line on FD every SECONDS, forever
long NBYTES              one line of about NBYTES of UTF-8 text with
                         2, 3 and 4-byte characters, then exits
stderr COUNT [LONG]      COUNT numbered lines on stderr in one write (the
                         6th from the end LONG bytes long, if given), then
                         exits 3
json                     JSON_LINES on stdout, then on stderr; then exits
"""
import os
import random
import sys
import time


def interleave_line(name, stream, i):
    """The i-th line of program name on stream (out or err), without its
    newline: 'NAME-STREAM-NNNNN-' then NAME repeated, then '-NNNNN'."""
    return f"{name}-{stream}-{i:05d}-{name * (i % 97 + 1)}-{i:05d}"


def bulk_line(i):
    """The i-th line of bulk, 64 bytes with its newline."""
    return f"{i:08d} " + "abcdefghijklmnopqrstuvwxyz" * 2 + "01\n"


def numbered_line(i):
    """The i-th line of lines and tick, with its newline: 30 to 130 bytes."""
    return f"{i:05d} " + chr(ord("a") + i % 26) * (23 + (i * 37) % 101) + "\n"


def long_text(nbytes):
    """About nbytes of UTF-8 text in which 2, 3 and 4-byte characters
    follow one another with a period of 10 bytes (nothing aligned on 4096
    or on the prefix lengths)."""
    unit = "é€😀a"          # 2 + 3 + 4 + 1 bytes
    return unit * (nbytes // len(unit.encode()))


# Characters that JSON must escape, others it may leave, and an empty line.
JSON_LINES = ['say "hi" \\ back\ttab\rcr\x01\x1f\x7f é€😀 end', ""]


def stderr_line(i, count, long=0):
    """The i-th line of stderr, with its newline."""
    if long and i == count - 6:
        return f"long line {i:05d} " + "L" * (long - 18) + "\n"
    return f"stderr line {i:05d} of the doomed program\n"


def write_all(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "interleave":
        name, count = args[0], int(args[1])
        rnd = random.Random(name)
        for i in range(count):
            for fd, stream in ((1, "out"), (2, "err")):
                data = (interleave_line(name, stream, i) + "\n").encode()
                cuts = sorted(rnd.sample(range(1, len(data)),
                                         rnd.randint(0, 4)))
                for a, b in zip([0, *cuts], [*cuts, len(data)]):
                    write_all(fd, data[a:b])
    elif mode == "bulk":
        nbytes = int(args[0])
        data = "".join(bulk_line(i) for i in range(nbytes // 64)).encode()
        for off in range(0, len(data), 65536):
            write_all(1, data[off:off + 65536])
        os._exit(0)
    elif mode == "lines":
        count, fd = int(args[0]), int(args[1])
        for start in range(0, count, 7):
            chunk = "".join(numbered_line(i)
                            for i in range(start, min(count, start + 7)))
            write_all(fd, chunk.encode())
    elif mode == "steady":
        count, seconds = int(args[0]), float(args[1])
        data = "".join(numbered_line(i) for i in range(count)).encode()
        writes = range(0, len(data), 1000)
        for off in writes:
            write_all(1, data[off:off + 1000])
            time.sleep(seconds / len(writes))
    elif mode == "tick":
        fd, seconds = int(args[0]), float(args[1])
        i = 0
        while True:
            write_all(fd, numbered_line(i).encode())
            i += 1
            time.sleep(seconds)
    elif mode == "long":
        write_all(1, (long_text(int(args[0])) + "\n").encode())
    elif mode == "stderr":
        count = int(args[0])
        long = int(args[1]) if len(args) > 1 else 0
        write_all(2, "".join(stderr_line(i, count, long)
                             for i in range(count)).encode())
        sys.exit(3)
    elif mode == "json":
        for fd in (1, 2):
            write_all(fd, "".join(x + "\n" for x in JSON_LINES).encode())
    else:
        sys.exit(f"emit.py: unknown mode {mode}")


if __name__ == "__main__":
    main()
