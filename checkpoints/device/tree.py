"""The working tree that the ``device`` tool sends, made small enough to travel, and put back.

The tool sends the tracked files, the untracked files that git does not ignore and the paths named in ``carry``,
at most 64 MiB in all. The shipped weights (``checkpoints/speech``, ``checkpoints/piano``: ~78 MB) and the committed
bench results (~17 MB) are over that by themselves, and a training leg needs neither. So, in the checkout the session
started in, with nothing uncommitted:

    python3 checkpoints/device/tree.py slim       # a local branch that tracks neither, both ignored: they stay on disk
    python3 checkpoints/device/tree.py size --carry .device/speech   # what would travel, against the limit
    ... the device calls ...
    python3 checkpoints/device/tree.py restore    # back to the branch you were on; the slim branch is deleted

``slim`` commits the untracking on a branch of its own (so the tree is small whether the tool reads the index or
the commit) and lists the paths in ``.git/info/exclude`` between two marker lines (so the files, still on disk, are
ignored rather than untracked). ``restore`` switches back (git replaces ignored files freely, and these are the same
bytes), removes the marker block and the branch, and checks that nothing is left changed.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

LIMIT_BYTES = 64 * 2 ** 20
HEAVY_PATHS = ("checkpoints/speech", "checkpoints/piano", "bench/results")
BRANCH = "device-slim"
BEGIN, END = "# >>> device tree slim (checkpoints/device/tree.py)", "# <<< device tree slim"
STATE = "device_slim.json"  # in .git: the branch to go back to


class TreeError(RuntimeError):
    pass


def git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise TreeError(f"git {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def git_dir(root: Path) -> Path:
    return Path(git(root, "rev-parse", "--absolute-git-dir").strip())


def travelling_files(root: Path) -> list[Path]:
    """Tracked files and untracked files that git does not ignore, as the tool counts them (those on disk)."""
    names = git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    return [root / name for name in dict.fromkeys(names) if name and (root / name).is_file()]


def travelling_bytes(root: Path, carry: list[Path] = ()) -> int:
    total = sum(path.stat().st_size for path in travelling_files(root))
    for path in carry:
        path = path if path.is_absolute() else root / path
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        total += sum(p.stat().st_size for p in files)
    return total


def slim(root: Path, paths: tuple[str, ...] = HEAVY_PATHS) -> int:
    """Untrack ``paths`` on branch ``device-slim`` (committed there) and ignore them; returns the travelling bytes."""
    if git(root, "status", "--porcelain"):
        raise TreeError("the checkout has uncommitted changes: commit or stash them first (slim commits on a branch)")
    state = git_dir(root) / STATE
    if state.exists():
        raise TreeError(f"{state} exists: the tree is slim already (run restore)")
    branch = git(root, "rev-parse", "--abbrev-ref", "HEAD").strip()
    if branch == "HEAD":
        raise TreeError("HEAD is detached: check out a branch first")
    present = [path for path in paths if git(root, "ls-files", "--", path).strip()]
    exclude = git_dir(root) / "info" / "exclude"
    git(root, "switch", "-q", "-c", BRANCH)
    state.write_text(json.dumps({"branch": branch, "exclude_existed": exclude.exists()}))
    if present:
        git(root, "rm", "-r", "-q", "--cached", "--", *present)
        git(root, "-c", "user.name=device-slim", "-c", "user.email=device-slim@localhost", "-c", "commit.gpgsign=false",
            "commit", "-q", "--no-verify", "-m", "device: travel without the shipped weights and results")
    exclude.parent.mkdir(parents=True, exist_ok=True)
    kept = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    block = "\n".join([BEGIN, *(f"/{path}/" for path in present), END])
    exclude.write_text(kept.rstrip("\n") + ("\n" if kept.strip() else "") + block + "\n", encoding="utf-8")
    return travelling_bytes(root)


def restore(root: Path) -> str:
    """Back to the branch ``slim`` left, the marker block and the slim branch removed; returns that branch."""
    state = git_dir(root) / STATE
    if not state.exists():
        raise TreeError("the tree is not slim (no .git/device_slim.json)")
    record = json.loads(state.read_text())
    branch = record["branch"]
    git(root, "switch", "-q", branch)
    exclude = git_dir(root) / "info" / "exclude"
    if exclude.exists():
        lines, kept, inside = exclude.read_text(encoding="utf-8").splitlines(), [], False
        for line in lines:
            if line == BEGIN:
                inside = True
            elif line == END:
                inside = False
            elif not inside:
                kept.append(line)
        if kept or record.get("exclude_existed", True):
            exclude.write_text("\n".join(kept) + ("\n" if kept else ""), encoding="utf-8")
        else:  # slim made the file: none again
            exclude.unlink()
    git(root, "branch", "-q", "-D", BRANCH)
    state.unlink()
    changed = git(root, "status", "--porcelain")
    if changed:
        raise TreeError(f"restored to {branch}, but these paths differ from it:\n{changed}")
    return branch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("size", "slim", "restore"))
    parser.add_argument("--root", type=Path, default=None, help="the checkout (default: the one holding this file)")
    parser.add_argument("--carry", type=Path, action="append", default=[], help="size: a path named in carry")
    args = parser.parse_args(argv)
    args.root = args.root or Path(__file__).resolve().parents[2]
    try:
        if args.action == "slim":
            print(f"slim: {slim(args.root) / 2 ** 20:.1f} MiB travel (limit {LIMIT_BYTES / 2 ** 20:.0f} MiB)")
        elif args.action == "restore":
            print(f"restored: on {restore(args.root)}, nothing changed")
        else:
            size = travelling_bytes(args.root, args.carry)
            print(json.dumps({"travelling_mib": round(size / 2 ** 20, 2), "limit_mib": LIMIT_BYTES / 2 ** 20,
                              "fits": size <= LIMIT_BYTES}))
            return 0 if size <= LIMIT_BYTES else 1
    except TreeError as exc:
        print(f"device tree: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
