"""Holds infra/template.yaml against the rest of the repository (CI runs it):

- every route of functions/openapi.json served by a function is an HttpApi event of the
  function whose tag owns it, and no event is a route the functions do not serve;
- every table and stream of localstack/resources.json is in the template, named
  stratus-<stage>-<name>, tables with TTL on the TTL attribute and point-in-time recovery;
- every function builds with cargo-lambda, for arm64, from a binary that exists.

Usage: python3 infra/check_template.py
"""

import json
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


class Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, …) read as plain values."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}


Loader.add_multi_constructor("!", _tag)

OWNERS = {
    "auth": "AuthFunction",
    "account": "AccountFunction",
    "orders": "OrdersFunction",
    "strategies": "OrdersFunction",
    "reports": "ReportsFunction",
    "market": "MarketFunction",
    "research": "ResearchFunction",
    "admin": "AdminFunction",
}
CORE_ROUTES = {"/health", "/ws"}  # served by the streaming core, not by API Gateway
BINARIES = {
    "AuthFunction": "stratus-auth",
    "AccountFunction": "stratus-account",
    "OrdersFunction": "stratus-orders",
    "ReportsFunction": "stratus-reports",
    "MarketFunction": "stratus-market",
    "ResearchFunction": "stratus-research",
    "AdminFunction": "stratus-admin",
    "PortalFunction": "stratus-portal",
    "ResearchWorkerFunction": "stratus-research-worker",
    "ReportsEventsFunction": "stratus-reports-events",
}


def main() -> int:
    template = yaml.load((ROOT / "infra/template.yaml").read_text(), Loader=Loader)
    resources = template["Resources"]
    problems = []

    wanted = {}
    openapi = json.loads((ROOT / "functions/openapi.json").read_text())
    for path, item in openapi["paths"].items():
        if path in CORE_ROUTES:
            continue
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            owner = "AuthFunction" if path == "/openapi.json" else OWNERS[op["tags"][0]]
            wanted.setdefault(owner, set()).add((method.upper(), path))
    for name, routes in wanted.items():
        events = resources[name]["Properties"].get("Events", {})
        have = {
            (e["Properties"]["Method"], e["Properties"]["Path"])
            for e in events.values()
            if e["Type"] == "HttpApi"
        }
        for missing in sorted(routes - have):
            problems.append(f"{name}: no HttpApi event for {missing[0]} {missing[1]}")
        for extra in sorted(have - routes):
            problems.append(f"{name}: HttpApi event {extra[0]} {extra[1]} is not a route it serves")

    # The portal's page and files (not API routes: they are not in the OpenAPI document).
    portal = {
        (e["Properties"]["Method"], e["Properties"]["Path"])
        for e in resources["PortalFunction"]["Properties"].get("Events", {}).values()
        if e["Type"] == "HttpApi"
    }
    if portal != {("GET", "/"), ("GET", "/portal/{proxy+}")}:
        problems.append(f"PortalFunction: serves {sorted(portal)}, not GET / and GET /portal/{{proxy+}}")

    definitions = json.loads((ROOT / "localstack/resources.json").read_text())
    names = []
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::DynamoDB::Table":
            names.append(props["TableName"]["Sub"])
            ttl = props.get("TimeToLiveSpecification", {})
            if ttl.get("AttributeName") != definitions["ttl_attribute"] or not ttl.get("Enabled"):
                problems.append(f"{props['TableName']['Sub']}: TTL on {definitions['ttl_attribute']} missing")
            if not props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
                problems.append(f"{props['TableName']['Sub']}: point-in-time recovery off")
        if resource["Type"] == "AWS::Kinesis::Stream":
            names.append(props["Name"]["Sub"])
    for kind in ("tables", "streams"):
        for entry in definitions[kind]:
            expected = f"stratus-${{Stage}}-{entry['name']}"
            if expected not in names:
                problems.append(f"{kind[:-1]} {entry['name']}: not in the template as {expected}")

    for name, binary in BINARIES.items():
        resource = resources[name]
        if resource.get("Metadata", {}).get("BuildMethod") != "rust-cargolambda":
            problems.append(f"{name}: not built with rust-cargolambda")
        if resource["Metadata"].get("BuildProperties", {}).get("Binary") != binary:
            problems.append(f"{name}: builds the wrong binary")
    if template["Globals"]["Function"].get("Architectures") != ["arm64"]:
        problems.append("functions are not arm64")
    if template["Globals"]["Function"].get("Runtime") != "provided.al2023":
        problems.append("functions do not run on provided.al2023")

    for p in problems:
        print(f"infra/template.yaml: {p}", file=sys.stderr)
    if not problems:
        print("infra/template.yaml agrees with functions/openapi.json and localstack/resources.json")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
