"""Write the algorithms' declarations into the mapping spec's JSON Schema.

Each algorithm declares its arguments, phase and needs next to its function
(``@algorithm(...)`` in ``cdisc/sdtm/primitives.py`` and ``derivations.py``).
This script writes those declarations into ``schemas/mapping-spec.schema.json``:
the ``algorithm`` enum of ``$defs/mapping``, its ``allOf`` (which arguments each
algorithm takes) and one ``args_<name>`` definition per algorithm, with the
``x-phase``/``x-needs``/``x-copies``/``x-refers`` annotations the spec checker
reads (see :mod:`cdisc.spec.algorithms`). Every other part of the schema is
kept as it is. Output is deterministic, so a test regenerates it and compares.

Usage::

    python tools/build_spec_schema.py            # rewrite the schema
    python tools/build_spec_schema.py --check    # exit 1 when it is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schemas" / "mapping-spec.schema.json"

if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from cdisc.sdtm.registry import known_algorithms  # noqa: E402
from cdisc.spec.algorithms import mapping_defs  # noqa: E402


def build(text: str) -> str:
    """``text`` (the schema as it is) with the generated parts regenerated."""
    schema = json.loads(text)
    generated = mapping_defs({name: algo.declaration
                              for name, algo in known_algorithms().items()})
    defs: dict[str, Any] = schema["$defs"]
    mapping = defs["mapping"]
    mapping["properties"]["algorithm"]["enum"] = generated["enum"]
    mapping["allOf"] = generated["allOf"]
    rebuilt: dict[str, Any] = {}
    for name, definition in defs.items():
        if name.startswith("args_"):
            continue  # every args_ definition is generated, placed after the mapping's
        rebuilt[name] = definition
        if name == "mapping":
            rebuilt.update(generated["args"])
    schema["$defs"] = rebuilt
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the schema is out of date")
    args = parser.parse_args(argv)
    current = SCHEMA.read_text(encoding="utf-8")
    wanted = build(current)
    if current == wanted:
        print(f"{SCHEMA.relative_to(ROOT)} is up to date")
        return 0
    if args.check:
        print(f"out of date: {SCHEMA.relative_to(ROOT)} (run python tools/build_spec_schema.py)",
              file=sys.stderr)
        return 1
    SCHEMA.write_text(wanted, encoding="utf-8")
    print(f"{SCHEMA.relative_to(ROOT)} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
