"""The local server's password: generated at its first start, kept beside its store, for its owner only.

Clinical data deserves authentication even on loopback, where any local user could otherwise write over Bolt;
a generated password stored like an SSH key (mode 0600) lets the CLI and the flows connect without anyone
typing it (`local_password`, like libpq's ~/.pgpass), while other accounts on the machine cannot read it.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from graph.process import HOST, ServerInfo, status
from nrskg.errors import GraphError

PASSWORD_FILE = "nrskg-neo4j.password"
PASSWORD_BYTES = 24  # 32 URL-safe characters
OWNER_ONLY = 0o600
# The URI schemes that reach the local server, which speaks plain Bolt (no TLS): direct or routed.
LOCAL_SCHEMES = frozenset({"bolt", "neo4j"})
LOOPBACK_NAMES = frozenset({HOST, "localhost"})
BOLT_PORT = 7687  # what the driver assumes when a URI names no port


def password_file(data_dir: Path) -> Path:
    """The password of the server for `data_dir`: in that folder, beside the store and the pid file."""
    return data_dir / PASSWORD_FILE


def new_password() -> SecretStr:
    return SecretStr(secrets.token_urlsafe(PASSWORD_BYTES))


def read_password(data_dir: Path) -> SecretStr | None:
    """The stored password, or None when there is none; GraphError when others could read it too."""
    path = password_file(data_dir)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise GraphError(
            f"{path} is readable by other users (mode {stat.S_IMODE(mode):o})",
            hint=f"Run `chmod 600 {path}`, and change the password if others may have read it",
        )
    text = path.read_text(encoding="utf-8").strip()
    return SecretStr(text) if text else None


def save_password(data_dir: Path, password: SecretStr) -> Path:
    """Write the password with mode 0600 from the start (never briefly world-readable), atomically."""
    path = password_file(data_dir)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(password.get_secret_value() + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def initial_password(auth: bool, data_dir: Path) -> SecretStr | None:
    """The password to start with: $NEO4J_PASSWORD, else the stored one, else a new one."""
    if not auth:
        return None
    given = os.environ.get("NEO4J_PASSWORD")
    return SecretStr(given) if given else read_password(data_dir) or new_password()


def local_password(uri: str, data_dir: Path | None = None) -> SecretStr | None:
    """The stored password of the local server at `uri`, for clients that were given none.

    Only when our launcher runs for `data_dir` with auth on and `uri` reaches it (bolt:// or neo4j://, to
    127.0.0.1 or localhost, at its port): the password is never sent to whatever else might listen on a port
    after our server stopped.
    """
    return server_password(uri, status(data_dir))


def server_password(uri: str, info: ServerInfo | None) -> SecretStr | None:
    """`local_password` for a caller that has read the server record (`info`, None where no server runs)
    already, so that it is read once."""
    address = _address(uri)
    if info is None or not info.auth or address is None or address != _address(info.uri):
        return None
    return read_password(info.data_dir)


def _address(uri: str) -> tuple[str, int] | None:
    """The loopback port a URI of plain Bolt reaches, or None for any other URI (TLS, another host, junk)."""
    parts = urlsplit(uri)
    try:
        port = parts.port or BOLT_PORT
    except ValueError:
        return None
    if parts.scheme.lower() not in LOCAL_SCHEMES or parts.hostname not in LOOPBACK_NAMES:
        return None
    return HOST, port
