"""Build README.md's included-content table from the collection's own docs.

Modules: DOCUMENTATION's short_description (read with ast, never imported); filters:
plugins/filter/<name>.yml; roles: meta/argument_specs.yml; playbooks: the first header comment.
Rewrites README.md between the markers; with --check, exits 1 when README.md is out of date.
"""
import ast
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- BEGIN CONTENT TABLE -->", "<!-- END CONTENT TABLE -->"


def _module(path):
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(node.value.value)["short_description"]
    raise SystemExit(f"{path}: no DOCUMENTATION")


def _playbook(path):
    """The first sentence of the playbook's header comment (the comment lines before its first line of YAML)."""
    lines = path.read_text().splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith("#"))
    words = []
    for line in lines[start:]:
        if not line.startswith("#") or not line.strip("# ") or line.startswith("#  "):
            break  # the end of the comment, or its usage lines (indented)
        words.append(line.lstrip("#").strip())
    text = " ".join(words)
    end = re.search(r"\.\s(?=[A-Z])", text)
    return text[:end.start() + 1] if end else text


def rows():
    groups = [
        ("module", "plugins/modules/*.py", _module),
        ("filter", "plugins/filter/*.yml", lambda p: yaml.safe_load(p.read_text())["DOCUMENTATION"]["short_description"]),
        ("role", "roles/*/meta/argument_specs.yml",
         lambda p: yaml.safe_load(p.read_text())["argument_specs"]["main"]["short_description"]),
        ("playbook", "playbooks/*.yml", _playbook),
    ]
    for kind, pattern, describe in groups:
        for path in sorted(ROOT.glob(pattern)):
            name = path.parent.parent.name if kind == "role" else path.stem
            if kind == "module" and name == "__init__":
                continue
            yield f"| {kind} | `appsnap.velero.{name}` | {describe(path).replace('|', '&#124;')} |"


def table():
    return "\n".join(["| type | name | what it does |", "|---|---|---|", *rows()])


def render(readme):
    head, sep, rest = readme.partition(BEGIN)
    _table, sep2, tail = rest.partition(END)
    if not (sep and sep2):
        raise SystemExit(f"README.md lacks the markers {BEGIN} / {END}")
    return f"{head}{BEGIN}\n{table()}\n{END}{tail}"


def main(argv):
    readme = ROOT / "README.md"
    text = readme.read_text()
    new = render(text)
    if "--check" in argv:
        if new != text:
            print("README.md's content table is out of date: run python docs/content_table.py", file=sys.stderr)
            return 1
        return 0
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
