"""Check mlz's CfCT manifests the way CfCT's build stage does, plus what its deploy stages need.

Usage: cfct_check.py PYKWALIFY DIR...   (each DIR an output folder; one without cfct/ is skipped)

For each cfct/manifest.yaml: pykwalify 1.8.0 (the version CfCT pins) against
scripts/cfct-manifest.schema.yaml; every `*_file:` path found the way CfCT's run-validation.sh
finds them (grep, cut) exists; every policy file is JSON within the 5,120-character SCP/RCP
limit; and a YAML 1.1 load (PyYAML, as CfCT's deploy stages read it) sees the date version,
string account ids and string parameter values. Then it makes sure the checks can fail: a
copy with a quoted version, a wrong deploy method or a missing file must be rejected.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cfct-manifest.schema.yaml")


def file_paths(text):
    """The paths run-validation.sh checks:
    grep '_file:' | grep -v '^ *#' | tr -s ' ' | cut -d ' ' -f 3."""
    out = []
    for line in text.splitlines():
        if "_file:" not in line or line.lstrip().startswith("#"):
            continue
        # tr -s ' ' leaves one leading space (an empty first field for cut).
        fields = ([""] if line.startswith(" ") else []) + [f for f in line.split(" ") if f]
        if len(fields) >= 3:
            out.append(fields[2])
    return out


def problems(pykwalify, folder):
    found = []
    manifest = os.path.join(folder, "manifest.yaml")
    with open(manifest, encoding="utf-8") as f:
        text = f.read()
    r = subprocess.run([pykwalify, "-d", manifest, "-s", SCHEMA], capture_output=True, text=True)
    if r.returncode != 0:
        found.append("pykwalify: " + (r.stdout + r.stderr).strip().splitlines()[-1])
    for path in file_paths(text):
        if path.startswith(("s3", "http", '"', "'")) or not os.path.isfile(os.path.join(folder, path)):
            found.append(f"{path}: not a file CfCT finds")
    doc = yaml.safe_load(text)
    if str(doc.get("version")) != "2021-03-15" or isinstance(doc.get("version"), str):
        found.append("version is not the date 2021-03-15 for PyYAML")
    for res in doc.get("resources") or []:
        for a in (res.get("deployment_targets") or {}).get("accounts") or []:
            if not isinstance(a, str):
                found.append(f"{res['name']}: account {a!r} is not a string for PyYAML")
        for p in res.get("parameters") or []:
            if not isinstance(p.get("parameter_value"), str):
                found.append(f"{res['name']}: parameter {p.get('parameter_key')} is not a string")
        if res.get("deploy_method") in ("scp", "rcp"):
            path = os.path.join(folder, res["resource_file"])
            try:
                with open(path, encoding="utf-8") as f:
                    policy = f.read()
                json.loads(policy)
                if len(json.dumps(json.loads(policy), separators=(",", ":"))) > 5120:
                    found.append(f"{res['resource_file']}: over 5,120 characters")
            except (OSError, ValueError) as e:
                found.append(f"{res['resource_file']}: {e}")
    return found


def self_test(pykwalify, folder):
    """The checks reject what CfCT rejects."""
    with open(os.path.join(folder, "manifest.yaml"), encoding="utf-8") as f:
        text = f.read()
    broken = {
        "a quoted version": text.replace("version: 2021-03-15", 'version: "2021-03-15"'),
        "an unknown deploy method": text.replace("deploy_method: scp", "deploy_method: SCP", 1),
        "a missing file": text.replace("resource_file: policies/", "resource_file: policies/missing-", 1),
    }
    failed = []
    for what, t in broken.items():
        if t == text:
            continue
        with tempfile.TemporaryDirectory() as d:
            shutil.copytree(folder, d, dirs_exist_ok=True)
            with open(os.path.join(d, "manifest.yaml"), "w", encoding="utf-8") as f:
                f.write(t)
            if not problems(pykwalify, d):
                failed.append(f"a manifest with {what} passed")
    return failed


def main():
    pykwalify, dirs = sys.argv[1], sys.argv[2:]
    checked, bad = 0, 0
    for d in dirs:
        folder = os.path.join(d, "cfct")
        if not os.path.isfile(os.path.join(folder, "manifest.yaml")):
            continue
        checked += 1
        for p in problems(pykwalify, folder) + self_test(pykwalify, folder):
            print(f"cfct: {folder}: {p}", file=sys.stderr)
            bad += 1
    print(f"cfct: {checked} manifests, {'valid' if bad == 0 else 'INVALID'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
