"""Run cfn-lint over mlz output folders, each template against the region it deploys to.

Usage: lint_outputs.py CFN_LINT DIR...   (a DIR without manifest.json is skipped: an
invalid-config case). Exits non-zero on any cfn-lint error or warning, or when a template
file on disk is missing from its manifest (nothing goes unlinted).
"""
import json
import os
import subprocess
import sys


def main() -> int:
    cfn_lint, dirs = sys.argv[1], sys.argv[2:]
    by_region: dict[str, list[str]] = {}
    problems = 0
    for d in dirs:
        manifest_path = os.path.join(d, "manifest.json")
        if not os.path.isfile(manifest_path):
            continue
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
        listed = set()
        for t in manifest["templates"]:
            for path in [t["path"]] + ([t["importTemplate"]] if t.get("importTemplate") else []):
                listed.add(path)
                by_region.setdefault(t["region"], []).append(os.path.join(d, path))
            if t.get("configuration"):
                listed.add(t["configuration"])  # a stack's parameters and policy: not a template
        listed.update(manifest.get("documents", []))  # vending requests and the like: not templates
        pipeline = manifest.get("pipeline") or {}
        for t in pipeline.get("templates", []):
            listed.add(t["path"])
            by_region.setdefault(t["region"], []).append(os.path.join(d, t["path"]))
        listed.update(pipeline.get("files", []))  # what the resolve actions read: not templates
        listed.update((manifest.get("cfct") or {}).get("files", []))  # CfCT's manifest and policies
        for root, _, files in os.walk(d):
            for name in files:
                rel = os.path.relpath(os.path.join(root, name), d)
                if rel.endswith((".yaml", ".json")) and rel != "manifest.json" and rel not in listed:
                    print(f"lint: {os.path.join(d, rel)} is not listed in its manifest", file=sys.stderr)
                    problems += 1
    count = 0
    for region in sorted(by_region):
        files = sorted(by_region[region])
        count += len(files)
        # --non-zero-exit-code warning: warnings fail too, informational notes do not.
        r = subprocess.run(
            [cfn_lint, "--non-zero-exit-code", "warning", "--regions", region, "--", *files],
            check=False,
        )
        if r.returncode != 0:
            problems += 1
    print(f"cfn-lint: {count} templates in {len(dirs)} folders, {'clean' if problems == 0 else 'FAILED'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
