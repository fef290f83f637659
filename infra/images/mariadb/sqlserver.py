"""A session's MariaDB server (host ``mysql`` on the session's private network).

Started by the runner with this file as the entrypoint, as the sandbox user, on a read-only
root: the data directory is a copy of the image's template in /tmp (a tmpfs), so the data
lives exactly as long as the container. One account, ``coderunner`` with the password the
runner made for this session (MYSQL_PASSWORD), owns the database ``main``; root can log in
only through the server's own unix socket, which no other container can reach.
"""

import os
import shutil
import socket
import subprocess
import sys
import time

TEMPLATE = "/opt/sql/template"
DATADIR = "/tmp/db"
SOCKET = "/tmp/db.sock"
INIT = "/tmp/init.sql"


def quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def main() -> int:
    password = os.environ.pop("MYSQL_PASSWORD")
    shutil.copytree(TEMPLATE, DATADIR)
    with open(INIT, "w", encoding="utf-8") as init:
        init.write(
            "CREATE DATABASE IF NOT EXISTS main;\n"
            f"CREATE USER IF NOT EXISTS 'coderunner'@'%' IDENTIFIED BY {quoted(password)};\n"
            "GRANT ALL PRIVILEGES ON main.* TO 'coderunner'@'%';\n"
            "FLUSH PRIVILEGES;\n"
        )
    os.chmod(INIT, 0o600)
    server = subprocess.Popen(
        ["/usr/sbin/mariadbd", "--no-defaults", f"--datadir={DATADIR}", f"--socket={SOCKET}",
         "--bind-address=0.0.0.0", "--port=3306", f"--init-file={INIT}", "--skip-log-bin",
         "--tmpdir=/tmp", f"--pid-file={DATADIR}/server.pid", "--innodb-buffer-pool-size=16M",
         "--innodb-log-file-size=4M", "--key-buffer-size=1M", "--performance-schema=OFF",
         "--skip-name-resolve", "--max-connections=40", "--log-error=/tmp/db.err"],
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and server.poll() is None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", 3306)) == 0:
                print("coderunner: database ready", flush=True)
                return server.wait()
        time.sleep(0.05)
    sys.stderr.write(open("/tmp/db.err", encoding="utf-8", errors="replace").read()[-2000:])
    return 1


if __name__ == "__main__":
    sys.exit(main())
