"""Run bench/peer/measure_peer.py as on a fresh machine: what only this machine has installed is hidden.

Run with the peer venv's interpreter (bench/peer/setup_peer_env.sh does, after installing)::

    .venv-peer/bin/python bench/peer/check_peer_env.py                  # measure_peer.py --check
    .venv-peer/bin/python bench/peer/check_peer_env.py --only codec_encode_10s,codec_decode_10s

The venv sees the system site-packages (for torch), so a package that someone happened to install system-wide
(``vector-quantize-pytorch``, ``loguru``, ...) hides a gap in setup_peer_env.sh here and fails on a fresh
machine. Before anything else is imported, this script replaces the system site-packages folders on
``sys.path`` by a temporary folder of links to only the distributions a fresh machine is guaranteed to have:
torch, audiolm_lib and the closure of their base requirements (what ``pip install torch audiolm_lib`` brings,
extras excluded). Imports and ``importlib.metadata`` then see what a fresh machine would: optional imports take
their fresh-machine branch, and a package setup_peer_env.sh forgot fails with ``ModuleNotFoundError``.
"""
from __future__ import annotations

import importlib.metadata as metadata
import re
import site
import sys
import tempfile
from pathlib import Path

BASES = ("torch", "audiolm_lib")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def guaranteed_distributions(bases=BASES) -> dict[str, metadata.Distribution]:
    """``{canonical name: distribution}`` of ``bases`` and everything their (marker-satisfied, extra-free)
    requirements pull in, as installed here."""
    from packaging.requirements import Requirement

    found: dict[str, metadata.Distribution] = {}
    pending = list(bases)
    while pending:
        name = _canonical(pending.pop())
        if name in found:
            continue
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found[name] = distribution
        for text in distribution.requires or []:
            requirement = Requirement(text)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue  # an extra's requirement, or one for another platform / Python
            pending.append(requirement.name)
    return found


def fresh_site_packages(prefix: Path, folder: Path) -> list[str]:
    """Swap the system site-packages on ``sys.path`` for ``folder``, holding links to the guaranteed
    distributions' top-level files; returns the folders taken off ``sys.path``."""
    system = {str(Path(p).resolve()) for p in site.getsitepackages() + [site.getusersitepackages()]}
    system = {p for p in system if not Path(p).is_relative_to(prefix)}
    for distribution in guaranteed_distributions().values():
        root = Path(str(distribution.locate_file(""))).resolve()
        if str(root) not in system:
            continue  # in the venv already, or an editable checkout (found through its own finder)
        for file in distribution.files or []:
            parts = Path(str(file)).parts
            if not parts or parts[0] == "..":
                continue  # scripts installed into bin/
            link = folder / parts[0]
            if not link.exists() and (root / parts[0]).exists():
                link.symlink_to(root / parts[0])
    removed = [p for p in sys.path if p and str(Path(p).resolve()) in system]
    sys.path[:] = [p for p in sys.path if p not in removed]
    sys.path.append(str(folder))
    return removed


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv) or ["--check"]
    with tempfile.TemporaryDirectory(prefix="fresh_site_") as folder:
        removed = fresh_site_packages(Path(sys.prefix).resolve(), Path(folder))
        print(f"check_peer_env: hid {', '.join(removed)}; guaranteed distributions linked from {folder}",
              file=sys.stderr)
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import measure_peer

        measure_peer.main(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
