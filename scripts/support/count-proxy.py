#!/usr/bin/env python3
"""A TCP proxy that counts the bytes the server sends to its clients.

Usage: count-proxy.py LISTEN_PORT SERVER_PORT OUT_FILE

Listens on 127.0.0.1:LISTEN_PORT, forwards every connection to
127.0.0.1:SERVER_PORT, and keeps OUT_FILE holding the total number of
bytes sent from the server to the clients so far (rewritten as each
connection closes). The file is replaced whole (written beside it, then
renamed), so that it always holds a number, even when the proxy is
killed as it writes. Used by scripts/bench-pushdown.
"""

import os
import socket
import sys
import threading

listen_port, server_port, out_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
total = 0
lock = threading.Lock()


def record():
    """Writes the total to OUT_FILE (call with the lock held)."""
    with open(out_file + ".tmp", "w") as f:
        f.write(f"{total}\n")
    os.replace(out_file + ".tmp", out_file)


def pump(source, sink, count):
    global total
    try:
        while True:
            data = source.recv(1 << 20)
            if not data:
                break
            sink.sendall(data)
            if count:
                with lock:
                    total += len(data)
                    record()
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if count:
            with lock:
                record()


def serve(client):
    server = socket.create_connection(("127.0.0.1", server_port))
    threading.Thread(target=pump, args=(client, server, False), daemon=True).start()
    threading.Thread(target=pump, args=(server, client, True), daemon=True).start()


record()
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", listen_port))
listener.listen()
while True:
    connection, _ = listener.accept()
    serve(connection)
