# Runs one Synapse for rosterkit's tests and stops it when the process that started it exits.
#
# argv: <homeserver.yaml> <signing key path> <run dir>. Writes the signing key, starts Synapse,
# and waits for EOF on stdin: the test process holds the other end, so EOF means it exited
# (however it exited). Then Synapse is stopped and the run directory removed. If Synapse dies
# first, this exits with its status and keeps the logs for the harness to report.
import os
import shutil
import subprocess
import sys
import threading

config, key_path, run_dir = sys.argv[1], sys.argv[2], sys.argv[3]

from signedjson.key import generate_signing_key, write_signing_keys  # noqa: E402

with open(key_path, "w") as f:
    write_signing_keys(f, [generate_signing_key("a_rk")])

server = subprocess.Popen(
    [sys.executable, "-m", "synapse.app.homeserver", "-c", config],
    stdout=open(os.path.join(run_dir, "stdout.log"), "w"),
    stderr=subprocess.STDOUT,
)


stopped = threading.Event()


def stop_on_eof():
    sys.stdin.read()
    stopped.set()
    server.terminate()


threading.Thread(target=stop_on_eof, daemon=True).start()
try:
    code = server.wait()
except KeyboardInterrupt:
    server.terminate()
    code = server.wait()
# Keep the logs of a Synapse that died on its own: the harness reports them.
if stopped.is_set():
    shutil.rmtree(run_dir, ignore_errors=True)
sys.exit(code)
