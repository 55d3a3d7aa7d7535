"""Python under a8: files, a loopback socket with selectors, a subprocess, randomness and time.
Prints only what is the same on every run."""
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time

work = sys.argv[1]
path = os.path.join(work, "f.txt")
with open(path, "w") as f:
    f.write("hello\n" * 100)
with open(path) as f:
    print("file bytes:", len(f.read()))
print("listing:", sorted(os.listdir(work)))

server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
client = socket.create_connection(server.getsockname())
conn, _ = server.accept()
client.sendall(b"ping")
print("socket:", conn.recv(10))
sel = selectors.DefaultSelector()
sel.register(conn, selectors.EVENT_READ)
client.sendall(b"x")
print("selector events:", len(sel.select(1)))

print("subprocess:", subprocess.run(["echo", "sub"], capture_output=True).stdout)
print("urandom bytes:", len(os.urandom(16)))
print("json:", json.dumps({"a": [1, 2]}))
print("time moves forward:", time.time() <= time.time())
with tempfile.TemporaryDirectory(dir=work) as d:
    print("tempdir exists:", os.path.isdir(d))
print("python: done")
