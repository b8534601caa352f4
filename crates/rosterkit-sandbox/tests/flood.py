"""Memory of `rosterkit sandbox` under a flood of large unauthenticated requests and many
half-open connections (loopback only, bounded counts). Not run by `cargo test`; the numbers
are in the CHANGELOG and the issue #16 note.

Usage: python3 flood.py target/debug/rosterkit [lim]   (`lim`: run it with 1024 descriptors)"""
import json, socket, subprocess, sys, threading, time

BIN = sys.argv[1]
proc = subprocess.Popen((["prlimit", "--nofile=1024:1024"] if len(sys.argv) > 2 else []) + [BIN, "sandbox"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
info = json.loads(proc.stdout.readline())
host, port = "127.0.0.1", int(info["base_url"].rsplit(":", 1)[1])

def rss():
    fields = {}
    for line in open(f"/proc/{proc.pid}/status"):
        k, v = line.split(":", 1)
        fields[k] = v.strip()
    return fields["VmRSS"], fields["VmHWM"]

BODY = b"x" * (8 * 1024 * 1024 - 1024)  # just under the 8 MiB body limit

def post_large():
    s = socket.create_connection((host, port))
    s.sendall(b"POST /chert/api/v1/chats/x/participants HTTP/1.1\r\nhost: 127.0.0.1\r\n"
              b"content-type: application/json\r\nconnection: close\r\n"
              + f"content-length: {len(BODY)}\r\n\r\n".encode())
    s.sendall(BODY)
    reply = s.recv(64)
    s.close()
    return reply[:12]

def health(timeout=5.0):
  try:
    return _health(timeout)
  except Exception as e:
    return repr(e)

def _health(timeout):
    t = time.time()
    s = socket.create_connection((host, port), timeout=timeout)
    s.sendall(b"GET /_sandbox/health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
    reply = s.recv(64)
    s.close()
    return reply[:12], round(time.time() - t, 3)

print("start", rss())
# 1. 150 large unauthenticated requests, sequential.
statuses = {}
for _ in range(150):
    st = post_large()
    statuses[st] = statuses.get(st, 0) + 1
print("150 x 8 MiB sequential", statuses, rss())
# 2. 150 more, 50 at a time concurrently.
def worker(n):
    for _ in range(n):
        post_large()
threads = [threading.Thread(target=worker, args=(3,)) for _ in range(50)]
[t.start() for t in threads]; [t.join() for t in threads]
print("150 x 8 MiB, 50 concurrent", rss())
# 3. 1,100 half-open connections: silent, and with headers that never end.
half = []
for i in range(1100):
    s = socket.create_connection((host, port))
    if i % 2:
        s.sendall(b"GET /_sandbox/health HTTP/1.1\r\nhost: local")
    half.append(s)
time.sleep(0.5)
print("1100 half-open open; health:", health(15), rss())
time.sleep(11)
closed = 0
for s in half:
    s.setblocking(False)
    try:
        if s.recv(1) == b"":
            closed += 1
    except BlockingIOError:
        pass
print(f"after 11 s: {closed}/1100 half-open closed by the sandbox; health:", health(), rss())
for s in half:
    s.close()
proc.terminate(); proc.wait()
