"""Install the example module pack (tests/packs/logidata_example_pack) into the test environment.

A pack reaches LogiData only as an installed distribution (its ``logidata.modules`` entry point), so the
suite installs the example the real way, with pip, into ``<repo>/.test-packs/example`` (never into the
venv: ``make demo`` and the developer's own runs must not see it), and puts that folder first on
``sys.path`` and on ``PYTHONPATH``, so every process the suite starts (Airflow's api-server, scheduler and
DAG processor, ``logidata`` CLI runs) finds the pack too. Nothing is downloaded (``--no-index
--no-deps --no-build-isolation``: setuptools comes from the venv). The install is skipped when the
folder already holds a build of the same sources (a hash of the pack's files kept next to it); a lock
keeps several pytest runs of one checkout from installing at the same time.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKS = REPO / "tests" / "packs"
TARGETS = REPO / ".test-packs"
EXAMPLE = PACKS / "logidata_example_pack"
EXAMPLE_DISTRIBUTION = "logidata-example-pack"
_STAMP = ".sources-sha256"


def _sources(pack: Path) -> list[Path]:
    """What goes into the built distribution: the project file and the package (not the pack's tests)."""
    files = [pack / "pyproject.toml"]
    for package in sorted(p for p in pack.iterdir() if p.is_dir() and (p / "__init__.py").is_file()):
        files += sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return files


def sources_hash(pack: Path) -> str:
    digest = hashlib.sha256(f"{sys.version_info[:2]}".encode())
    for path in _sources(pack):
        digest.update(path.relative_to(pack).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def pip_install(pack: Path, target: Path) -> None:
    """``pip install --target`` from a copy of the sources, so the build leaves nothing in the checkout."""
    with tempfile.TemporaryDirectory(prefix="logidata-pack-build-") as scratch:
        source = Path(scratch) / pack.name
        shutil.copytree(
            pack, source, ignore=shutil.ignore_patterns("tests", "__pycache__", "build", "*.egg-info")
        )
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--no-index",
                "--disable-pip-version-check",
                "--target",
                str(target),
                str(source),
            ],
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )


def install(pack: Path, target: Path) -> Path:
    """Install ``pack`` into ``target`` unless it already holds a build of the same sources."""
    wanted = sources_hash(pack)
    stamp = target / _STAMP
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text(encoding="utf-8") == wanted:
            return target  # another run installed it while this one waited
        fresh = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        fresh.chmod(0o755)
        try:
            pip_install(pack, fresh)
        except subprocess.CalledProcessError as exc:
            shutil.rmtree(fresh, ignore_errors=True)
            raise RuntimeError(
                f"installing the module pack {pack} failed:\n{exc.stdout}{exc.stderr}"
            ) from exc
        (fresh / _STAMP).write_text(wanted, encoding="utf-8")
        old = target.with_name(f".{target.name}-old-{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            target.rename(old)
        fresh.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    return target


def on_path(folder: Path) -> None:
    """First on this process's ``sys.path`` and on ``PYTHONPATH`` (inherited by every subprocess)."""
    entry = str(folder)
    if entry not in sys.path:
        sys.path.insert(0, entry)
    current = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != entry]
    os.environ["PYTHONPATH"] = os.pathsep.join([entry, *current])


def install_example_pack() -> Path:
    """Called by tests/conftest.py at import, before anything builds the module registry."""
    folder = install(EXAMPLE, TARGETS / "example")
    on_path(folder)
    return folder
