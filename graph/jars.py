"""Neo4j's class path: Neo4j Community from Maven Central, and graph/java/Neo4jLauncher.java compiled with it.

No Neo4j server package exists on PyPI or Debian, so the first use resolves the jars with Maven into a cache
(`~/.cache/nrskg/neo4j/<version>/`, or `$NRSKG_CACHE/neo4j/<version>/`) and compiles the launcher there;
every later start runs plain `java` offline.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from graph.files import digest, fresh, tail
from nrskg.downloads import download_cache
from nrskg.errors import GraphError
from nrskg.files import locked

log = logging.getLogger(__name__)

JAVA_DIR = Path(__file__).resolve().parent / "java"
POM = JAVA_DIR / "pom.xml"
LAUNCHER_SOURCE = JAVA_DIR / "Neo4jLauncher.java"
LAUNCHER_CLASS = "Neo4jLauncher"
LAUNCHER_JAR = "launcher.jar"
MIN_JAVA = 17
RESOLVE_TIMEOUT_S = 1800.0  # first download of ~150 MB from Maven Central


def neo4j_version() -> str:
    """The Neo4j version pinned in graph/java/pom.xml (one place to change it)."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(POM).getroot().find("m:properties/m:neo4j.version", ns)
    if node is None or not (node.text or "").strip():
        raise GraphError(f"{POM}: no <neo4j.version> property")
    return node.text.strip()


def cache_dir() -> Path:
    """`$NRSKG_CACHE/neo4j/<version>`, else `~/.cache/nrskg/neo4j/<version>`: jars and compiled launcher."""
    return download_cache() / "neo4j" / neo4j_version()


def class_path(cache: Path) -> str:
    """The `-cp` of the launcher: Neo4j's jars and the launcher's own."""
    return f"{cache / 'lib'}/*{os.pathsep}{cache / LAUNCHER_JAR}"


def resolve() -> Path:
    """Make sure the jars are resolved and the launcher compiled; returns the cache folder.

    Calls Maven only when the jars of this pom are missing and javac only when the launcher changed, so it is
    cheap before every start.
    """
    cache = cache_dir()
    lib, jar = cache / "lib", cache / LAUNCHER_JAR
    with locked(cache / ".lock"):
        if not fresh(cache / "lib.sha256", digest(POM), lib):
            _resolve_jars(lib, cache / "lib.sha256")
        if not fresh(cache / f"{LAUNCHER_JAR}.sha256", digest(POM, LAUNCHER_SOURCE), jar):
            _compile_launcher(lib, jar)
            (cache / f"{LAUNCHER_JAR}.sha256").write_text(digest(POM, LAUNCHER_SOURCE))
    return cache


def _tool(name: str, hint: str) -> str:
    """A JDK or Maven executable, preferring $JAVA_HOME/bin for the JDK ones."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and name in ("java", "javac") and (Path(java_home) / "bin" / name).exists():
        return str(Path(java_home) / "bin" / name)
    found = shutil.which(name)
    if found is None:
        raise GraphError(f"`{name}` not found on PATH: {hint}")
    return found


def java() -> tuple[str, str]:
    """The java executable and its `-version` banner (it keys the class archive); Java 17+ or GraphError."""
    path = _tool("java", "install a Java 17+ runtime (apt-get install openjdk-17-jdk-headless)")
    banner = subprocess.run([path, "-version"], capture_output=True, text=True, check=False).stderr.strip()
    match = re.search(r'version "(\d+)(?:\.(\d+))?', banner)
    major = int(match.group(1)) if match else 0
    major = int(match.group(2)) if major == 1 and match and match.group(2) else major  # "1.8" style
    if major < MIN_JAVA:
        raise GraphError(f"Neo4j {neo4j_version()} needs Java {MIN_JAVA}+, but {path} is: {banner[:200]}")
    return path, banner


def _resolve_jars(lib: Path, marker: Path) -> None:
    """Copy Neo4j's runtime jars from Maven (Central, or the user's mirror in settings.xml) into `lib`."""
    mvn = _tool("mvn", "Maven is needed once, to download Neo4j's jars (apt-get install maven)")
    staging = lib.with_name(f"{lib.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    resolve_log = lib.parent / "resolve.log"
    cmd = [mvn, "-B", "-q", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={staging}",
           "-DincludeScope=runtime"]  # fmt: skip
    log.info("resolving Neo4j %s jars with Maven into %s (first time only, ~150 MB)", neo4j_version(), lib)
    started = time.monotonic()
    with resolve_log.open("w") as out:
        try:
            done = subprocess.run(
                cmd, stdout=out, stderr=subprocess.STDOUT, timeout=RESOLVE_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as e:
            raise GraphError(
                f"Maven did not resolve Neo4j within {RESOLVE_TIMEOUT_S:.0f} s; see {resolve_log}"
            ) from e
    if done.returncode != 0:
        raise GraphError(f"Maven could not resolve Neo4j (exit {done.returncode}):\n{tail(resolve_log)}")
    shutil.rmtree(lib, ignore_errors=True)
    staging.rename(lib)  # atomic: a half-copied lib/ is never mistaken for a complete one
    marker.write_text(digest(POM))
    jars = list(lib.glob("*.jar"))
    size_mb = sum(p.stat().st_size for p in jars) / 1e6
    log.info("resolved %d jars (%.0f MB) in %.0f s", len(jars), size_mb, time.monotonic() - started)


def _compile_launcher(lib: Path, jar: Path) -> None:
    """javac, then a jar: class-data sharing archives only classes that come from jars, not folders."""
    javac = _tool(
        "javac", "a JDK 17+ is needed to compile the launcher (apt-get install openjdk-17-jdk-headless)"
    )
    with tempfile.TemporaryDirectory(prefix="nrskg-neo4j-javac-") as classes:
        cmd = [javac, "--release", "17", "-nowarn", "-cp", f"{lib}/*", "-d", classes, str(LAUNCHER_SOURCE)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise GraphError(f"javac could not compile {LAUNCHER_SOURCE}:\n{done.stderr[-2000:]}")
        staging = jar.with_name(f"{jar.name}.partial")
        with zipfile.ZipFile(staging, "w") as archive:
            for path in sorted(Path(classes).rglob("*.class")):
                archive.write(path, path.relative_to(classes).as_posix())
    staging.replace(jar)
