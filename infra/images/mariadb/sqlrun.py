"""Run an SQL script against the session's MariaDB (MYSQL_HOST and friends set by the runner),
or else against a private, empty MariaDB server started inside the sandbox.

Result sets go to the agent as JSON lines on the file descriptor named by
CODERUNNER_TABLES_FD ({"columns": [...], "rows": [[...]]}); errors go to stderr in the mysql
client's words ("ERROR 1064 (42000) at line 3: ...") with exit code 1.
"""

import datetime
import decimal
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any

import pymysql
from pymysql.constants import CLIENT

TEMPLATE = "/opt/sql/template"
DATADIR = "/tmp/.mariadb"
SOCKET = "/tmp/.mariadb.sock"
START_TIMEOUT_S = 20


def private_server(options: dict[str, Any]) -> pymysql.connections.Connection:
    """Start a private, empty server and connect to it as root over its unix socket.

    The socket file appears when the server binds it, a moment before it listens: a connect in
    between is refused (ECONNREFUSED). So the connect itself is retried until the server
    answers, exits, or START_TIMEOUT_S passes; a file's existence proves nothing.
    """
    shutil.copytree(TEMPLATE, DATADIR)
    server = subprocess.Popen(
        ["/usr/sbin/mariadbd", "--no-defaults", f"--datadir={DATADIR}", f"--socket={SOCKET}",
         "--skip-networking", "--skip-grant-tables", "--skip-log-bin", "--tmpdir=/tmp",
         f"--pid-file={DATADIR}/server.pid", "--innodb-buffer-pool-size=8M",
         "--innodb-log-file-size=4M", "--key-buffer-size=1M", "--performance-schema=OFF",
         "--skip-name-resolve", "--max-connections=20", "--log-error=/tmp/.mariadb.err"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            return pymysql.connect(unix_socket=SOCKET, user="root", **options)
        except pymysql.err.OperationalError:
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit("the database server did not start")
            time.sleep(0.01)


def connect() -> pymysql.connections.Connection:
    """The session's database when the runner gave its address, else a private empty one."""
    options: dict[str, Any] = {"charset": "utf8mb4", "client_flag": CLIENT.MULTI_STATEMENTS,
                               "autocommit": True}
    if os.environ.get("MYSQL_HOST"):
        return pymysql.connect(host=os.environ["MYSQL_HOST"], user=os.environ["MYSQL_USER"],
                               password=os.environ["MYSQL_PASSWORD"],
                               database=os.environ["MYSQL_DATABASE"], **options)
    connection = private_server(options)
    with connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE main")
        cursor.execute("USE main")
    return connection


def plain(value: object) -> object:
    if value is None or isinstance(value, (int, float, str, bool)):
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    return str(value)


def main() -> int:
    script = open(sys.argv[1], encoding="utf-8").read()
    tables = os.fdopen(int(os.environ["CODERUNNER_TABLES_FD"]), "w", buffering=1)
    cursor = connect().cursor()
    try:
        cursor.execute(script)
        while True:
            if cursor.description:
                columns = [d[0] for d in cursor.description]
                rows = [[plain(v) for v in row] for row in cursor.fetchall()]
                tables.write(json.dumps({"columns": columns, "rows": rows}) + "\n")
            if not cursor.nextset():
                break
    except pymysql.MySQLError as exc:
        code, message = (*exc.args, "")[:2] if exc.args else (0, str(exc))
        print(f"ERROR {code}: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
