"""Load every YAML template of mlz's output with a YAML 1.1 loader (PyYAML, the loader of
cfn-lint, CfCT's deploy stages and many pipelines) and make sure it reads what mlz meant.

Usage: yaml11_check.py DIR...   (each DIR an output folder, or any folder of YAML files)

mlz writes YAML that YAML 1.2 readers (CloudFormation, the golden suite) read as intended.
A YAML 1.1 reader resolves more plain scalars: `yes`/`on` are booleans, `=` is a value key
PyYAML cannot construct, `<<` merges, `1:30` is a base-60 number, `2010-09-09` a date. So for
each file: `yaml.safe_load` must succeed, and every plain scalar must resolve to a string, or
to what mlz writes plainly: an integer written in decimal, `true`/`false`, `null`, or a JSON
number. CfCT's `manifest.yaml` is left to cfct_check.py: its `version` is meant to be a date.
Then it makes sure the check can fail, on a text with each kind of misread.
"""
import os
import re
import sys

import yaml

STR = "tag:yaml.org,2002:str"
DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)\Z")
JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?\Z")
ALLOWED = {
    "tag:yaml.org,2002:int": DECIMAL,
    "tag:yaml.org,2002:bool": re.compile(r"(true|false)\Z"),
    "tag:yaml.org,2002:null": re.compile(r"null\Z"),
    "tag:yaml.org,2002:float": JSON_NUMBER,
}


def misreads(text):
    """What a YAML 1.1 loader would read differently in this text."""
    found = []
    try:
        yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        return [f"PyYAML cannot load it: {str(e).splitlines()[0]}"]
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.tag == "tag:yaml.org,2002:merge":
                    found.append(f"line {k.start_mark.line + 1}: `<<` is a merge key in YAML 1.1")
                stack.extend([k, v])
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.ScalarNode) and node.style is None and node.tag != STR:
            pattern = ALLOWED.get(node.tag)
            if pattern is None or not pattern.match(node.value):
                kind = node.tag.rsplit(":", 1)[-1]
                found.append(f"line {node.start_mark.line + 1}: `{node.value}` reads as {kind}")
    return found


def yaml_files(folder):
    for base, _, names in os.walk(folder):
        for n in sorted(names):
            path = os.path.join(base, n)
            rel = os.path.relpath(path, folder)
            if n.endswith(".yaml") and rel != os.path.join("cfct", "manifest.yaml"):
                yield path


def main(folders):
    # The check must be able to fail: each kind of misread in one text.
    sample = "a: yes\nb: '='\nc: 1:30\nd: 2010-09-09\ne: 012\nf: ok\ng: 'yes'\nh: 12\n"
    got = misreads(sample)
    if len(got) != 4:
        print(f"yaml11_check: the self-test found {got}", file=sys.stderr)
        return 1
    if not misreads("a: =\n") or not misreads("<<: {a: 1}\n"):
        print("yaml11_check: the self-test missed `=` or `<<`", file=sys.stderr)
        return 1
    bad = 0
    count = 0
    for folder in folders:
        for path in yaml_files(folder):
            count += 1
            with open(path, encoding="utf-8") as f:
                for m in misreads(f.read()):
                    print(f"{path}: {m}")
                    bad += 1
    if bad:
        print(f"yaml 1.1: {bad} misreads in {count} files", file=sys.stderr)
        return 1
    print(f"yaml 1.1: {count} files, read as meant")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
