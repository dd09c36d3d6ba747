"""Run docs/tutorial.md's commands and check (or refresh) the output it shows.

The tutorial is a list of ```console blocks: a line starting with ``$ `` is a
command, the lines after it are what the command prints (stdout and stderr,
in order), and ``[exit N]`` closes the output of a command that exits N != 0.
One ```diff block holds the edits to the starter spec: it must be exactly the
unified diff from what ``cdisc init`` wrote to the finished spec shipped in
mappings/tutorial/angio.yaml, which then takes the starter's place.

    python tools/tutorial.py           # check: exit 1 and a diff when the doc is stale
    python tools/tutorial.py --update  # rewrite the console blocks with the real output

Every command runs with bash in one scratch folder holding only clinic.xlsx,
so the tutorial works from any folder a reader chooses; the folder's path is
shown as ``.`` in the output.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "tutorial.md"
MATERIAL = REPO / "mappings" / "tutorial"
STARTER = "angio.yaml"
FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass
class Block:
    kind: str  # "console" or "diff"
    start: int  # index of the first line inside the fence
    lines: list[str]


def blocks(text: str) -> list[Block]:
    found: list[Block] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening and opening.group(1) in ("console", "diff"):
            end = i + 1
            while not lines[end].startswith("```"):
                end += 1
            found.append(Block(opening.group(1), i + 1, lines[i + 1:end]))
            i = end
        i += 1
    return found


def edits(starter: str, finished: str) -> list[str]:
    return [line.rstrip("\n") for line in difflib.unified_diff(
        starter.splitlines(keepends=True), finished.splitlines(keepends=True),
        fromfile=f"{STARTER} (as cdisc init wrote it)", tofile=f"{STARTER} (finished)", n=1)]


def run_command(command: str, folder: Path) -> list[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="100", NO_COLOR="1")
    env.pop("SOURCE_DATE_EPOCH", None)
    done = subprocess.run(["bash", "-c", command], cwd=folder, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    shown = done.stdout.replace(f"{folder}/", "").replace(str(folder), ".")
    out = [line.rstrip() for line in shown.rstrip("\n").split("\n")] if shown.strip() else []
    if done.returncode:
        out.append(f"[exit {done.returncode}]")
    return out


def replay(text: str, folder: Path) -> str:
    """The tutorial with every console block's output replaced by what the commands print."""
    lines = text.split("\n")
    shutil.copy(MATERIAL / "clinic.xlsx", folder / "clinic.xlsx")
    rewritten: list[str] = []
    cursor = 0
    for block in blocks(text):
        rewritten += lines[cursor:block.start]
        if block.kind == "diff":
            starter = (folder / STARTER).read_text(encoding="utf-8")
            finished = (MATERIAL / STARTER).read_text(encoding="utf-8")
            rewritten += edits(starter, finished)
            (folder / STARTER).write_text(finished, encoding="utf-8")
        else:
            for line in block.lines:
                if line.startswith("$ "):
                    rewritten.append(line)
                    rewritten += run_command(line[2:], folder)
        cursor = block.start + len(block.lines)
    rewritten += lines[cursor:]
    return "\n".join(rewritten)


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as scratch:
        fresh = replay(text, Path(scratch))
    if "--update" in argv:
        DOC.write_text(fresh, encoding="utf-8")
        return 0
    if fresh == text:
        return 0
    sys.stdout.writelines(difflib.unified_diff(text.splitlines(keepends=True),
                                               fresh.splitlines(keepends=True),
                                               "docs/tutorial.md", "as the commands run now"))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
