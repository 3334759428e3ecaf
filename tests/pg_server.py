"""The PostgreSQL server of a test session: a named one, or a throwaway one made for the session.

``REGISTRY_TEST_PG`` (a libpq DSN such as ``host=127.0.0.1 port=5432 dbname=test user=postgres``,
or a ``postgresql://`` URL) names a server to use, for instance a machine's own; its twin
``REGISTRY_TEST_PG_URL`` (a URL) may name it instead. The user must be allowed to create schemas
and databases in it. When neither is set, :func:`start_throwaway` makes a server with ``initdb`` +
``pg_ctl`` in a temp folder: on 127.0.0.1, a free port, trust auth, a database ``test``, no fsync,
run as the ``postgres`` (or ``nobody``) system user when the session runs as root (initdb refuses
root). ``scripts/setup.sh --test`` installs Debian's ``postgresql`` package when the tools are
missing; they live in ``/usr/lib/postgresql/<version>/bin``, which need not be on ``PATH``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from registry.chain.anvil import free_port

ENV_DSN = "REGISTRY_TEST_PG"
ENV_URL = "REGISTRY_TEST_PG_URL"
DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")


@dataclass(frozen=True)
class PgServer:
    """Where the session's PostgreSQL listens, and who to be there."""

    host: str
    port: int
    user: str
    dbname: str = "test"
    password: str = ""

    def dsn(self, dbname: str | None = None) -> str:
        """A libpq DSN for psycopg (``dbname`` defaults to the test database)."""
        params = {"host": self.host, "port": self.port, "user": self.user, "dbname": dbname or self.dbname}
        if self.password:
            params["password"] = self.password
        return make_conninfo(**params)

    def url(self, dbname: str | None = None, driver: str = "postgresql") -> str:
        """A URL as ``REGISTRY_DATABASE_URL`` takes it; ``driver="postgresql+psycopg"`` for SQLAlchemy."""
        auth = quote(self.user, safe="") + (":" + quote(self.password, safe="") if self.password else "")
        return f"{driver}://{auth}@{self.host}:{self.port}/{dbname or self.dbname}"


def configured_server(env: Mapping[str, str] = os.environ) -> PgServer | None:
    """The server ``REGISTRY_TEST_PG`` (or ``REGISTRY_TEST_PG_URL``) names, or None when unset."""
    raw = env.get(ENV_DSN) or env.get(ENV_URL)
    if not raw:
        return None
    if raw.startswith("postgresql+"):  # a SQLAlchemy URL: libpq reads the plain scheme
        raw = "postgresql" + raw[raw.index("://") :]
    p = conninfo_to_dict(raw)
    return PgServer(
        host=str(p.get("host") or "127.0.0.1"),
        port=int(p.get("port") or 5432),
        user=str(p.get("user") or "postgres"),
        dbname=str(p.get("dbname") or "test"),
        password=str(p.get("password") or ""),
    )


def pg_bindir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``: from PATH, else Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    found = sorted(DEBIAN_PG_ROOT.glob("*/bin/initdb"), key=lambda p: _version(p.parent.parent.name))
    if not found:
        raise RuntimeError(
            "no PostgreSQL server tools (initdb, pg_ctl): run `scripts/setup.sh --test` "
            f"(Debian's postgresql package), or set {ENV_DSN} to a server the tests may use"
        )
    return found[-1].parent


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(x) for x in name.split(".") if x.isdigit())


def _unprivileged() -> pwd.struct_passwd | None:
    """Whom to run the server as: nobody changes when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root, and neither a postgres nor a nobody user exists to run initdb as")


_WATCHDOG = 'cat >/dev/null; "$0" -D "$1" -m immediate -w stop >/dev/null 2>&1; rm -rf "$2"'


class ThrowawayPg:
    """A PostgreSQL cluster in a temp folder, alive until :meth:`stop` or the end of this process.

    A watchdog (``sh``, as the cluster's owner) holds the read end of a pipe this process keeps
    open; when the pipe closes, by :meth:`stop` or because this process died (a timeout, a kill),
    it stops the server and removes the folder, so no server outlives its test session.
    """

    def __init__(self, root: Path, bindir: Path, owner: pwd.struct_passwd | None, server: PgServer) -> None:
        self.root, self.bindir, self.owner, self.server = root, bindir, owner, server
        self.data = root / "data"
        self.log = root / "server.log"
        self.watchdog: subprocess.Popen[bytes] | None = None

    def _as_owner(self) -> dict:
        """subprocess keywords: the owner's user and group, a small environment, own session."""
        kw: dict = {
            "env": {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(self.root)},
            "start_new_session": True,  # a Ctrl-C of the test run reaches pytest, which stops the server
        }
        if self.owner is not None:
            kw.update(user=self.owner.pw_uid, group=self.owner.pw_gid, extra_groups=[])
        return kw

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a server tool as the cluster's owner; raises with its output when it fails."""
        proc = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **self._as_owner(),
        )
        if proc.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({proc.returncode}): {proc.stdout}{proc.stderr}{log}")
        return proc

    def guard(self) -> None:
        """Start the watchdog that stops the server once this process lets go of it."""
        cmd = ["/bin/sh", "-c", _WATCHDOG, str(self.bindir / "pg_ctl"), str(self.data), str(self.root)]
        self.watchdog = subprocess.Popen(cmd, cwd="/", stdin=subprocess.PIPE, **self._as_owner())

    def stop(self) -> None:
        """Stop the server (immediate: the data is thrown away) and remove its folder."""
        if self.watchdog is not None and self.watchdog.stdin is not None:
            self.watchdog.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.watchdog.wait(timeout=60)
        elif (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):  # gone: the folder still goes
                self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


_INITDB = ("-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
_SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{root}'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
"""


def start_throwaway(attempts: int = 3) -> ThrowawayPg:
    """initdb a cluster in a temp folder and start it on a free 127.0.0.1 port (trust auth)."""
    bindir, owner = pg_bindir(), _unprivileged()
    root = Path(tempfile.mkdtemp(prefix="registry-test-pg-"))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    pg = ThrowawayPg(root, bindir, owner, PgServer("127.0.0.1", 0, "postgres"))
    try:
        pg.run("initdb", "-D", str(pg.data), *_INITDB)
        conf = pg.data / "postgresql.conf"
        base = conf.read_text()
        for attempt in range(attempts):  # the free port may be taken between asking and binding
            port = free_port()
            conf.write_text(base + _SETTINGS.format(port=port, root=root))
            try:
                pg.run("pg_ctl", "-D", str(pg.data), "-l", str(pg.log), "-w", "-t", "60", "start")
                break
            except RuntimeError:
                if attempt == attempts - 1:
                    raise
        pg.guard()
        pg.server = PgServer("127.0.0.1", port, "postgres")
        with psycopg.connect(pg.server.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE test")
    except BaseException:
        pg.stop()
        raise
    return pg
