"""The docs site that docs/build.sh builds (build/docs/html), as headless Chromium renders it.

Each page is loaded with ``chromium --headless --dump-dom``, which prints the DOM after the
page's JavaScript ran, and the assertions read that DOM: the index links every module, filter
and role of the collection and every guide of docs/docsite/extra-docs.yml, and the backup
module's page has its options table (the module's own options and those of the doc fragments
it extends) and its examples. What to expect is read from the collection's sources, so a page
or an option that the site lacks fails.

Needs the built site and the Debian package chromium, both of which tests/run provides. Without
either the tests are skipped, or fail when APPSNAP_REQUIRE_LAB=1 (as CI runs them).
"""
import ast
import html.parser
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
SITE = REPO / "build" / "docs" / "html"
REQUIRE = os.environ.get("APPSNAP_REQUIRE_LAB") == "1"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def _unavailable(reason):
    if REQUIRE:
        pytest.fail(f"the docs site test is required (APPSNAP_REQUIRE_LAB=1) but {reason}", pytrace=False)
    pytest.skip(reason)


class Element:
    def __init__(self, tag, attrs):
        self.tag = tag
        self.attrs = dict(attrs)
        self.children = []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self, tag=None):
        for child in self.children:
            if isinstance(child, Element):
                if tag is None or child.tag == tag:
                    yield child
                yield from child.iter(tag)

    def find_id(self, element_id):
        return next((e for e in self.iter() if e.attrs.get("id") == element_id), None)

    def hrefs(self):
        return {a.attrs["href"].split("#")[0] for a in self.iter("a") if "href" in a.attrs}


class _TreeBuilder(html.parser.HTMLParser):
    """Chromium's serialized DOM closes every element that is not void, so a stack is enough."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, attrs)
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


@pytest.fixture(scope="module")
def render():
    """render(page) -> the root Element of the DOM Chromium built for build/docs/html/<page>."""
    if not (SITE / "index.html").is_file():
        _unavailable(f"the docs site is not built: {SITE / 'index.html'} is missing (run docs/build.sh; tests/run does)")
    chromium = shutil.which("chromium")
    if not chromium:
        _unavailable("chromium is not installed (Debian package chromium; tests/run installs it)")
    profile = tempfile.TemporaryDirectory(prefix="appsnap-chromium-")

    def _render(page):
        path = SITE / page
        assert path.is_file(), f"the docs site has no {page}"
        proc = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile.name}",
             "--dump-dom", path.as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        )
        assert proc.returncode == 0 and "</html>" in proc.stdout, (
            f"chromium --dump-dom {page} exited {proc.returncode}\nstderr: {proc.stderr[-2000:]}"
        )
        builder = _TreeBuilder()
        builder.feed(proc.stdout)
        builder.close()
        return builder.root

    yield _render
    profile.cleanup()


def _python_docs(path):
    """The string constants (DOCUMENTATION, EXAMPLES, ...) assigned at the top of a module or in its classes."""
    strings = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    strings[target.id] = node.value.value
    return strings


def _section(dom, section_id, page):
    section = dom.find_id(section_id)
    assert section is not None and section.tag == "section", f"{page} has no section #{section_id}"
    return section


def test_index_lists_every_module_filter_role_and_guide(render):
    dom = render("index.html")
    expected = {
        "modules": {f"{p.stem}_module.html" for p in (REPO / "plugins" / "modules").glob("*.py")},
        "filter-plugins": {f"{p.stem}_filter.html" for p in (REPO / "plugins" / "filter").glob("*.yml")},
        "role-index": {f"{p.parents[1].name}_role.html" for p in REPO.glob("roles/*/meta/argument_specs.yml")},
    }
    extra_docs = yaml.safe_load((REPO / "docs" / "docsite" / "extra-docs.yml").read_text())
    expected["guides"] = {f"docsite/{guide}.html" for s in extra_docs["sections"] for guide in s["toctree"]}
    for section_id, pages in expected.items():
        assert pages, f"no {section_id} found in the collection's sources"
        missing = pages - _section(dom, section_id, "index.html").hrefs()
        assert not missing, f"index.html section #{section_id} does not link {sorted(missing)}"
        for page in pages:
            assert (SITE / page).is_file(), f"index.html links {page}, which the site lacks"


def test_backup_module_page_has_its_options_table_and_examples(render):
    dom = render("backup_module.html")
    module = _python_docs(REPO / "plugins" / "modules" / "backup.py")
    doc = yaml.safe_load(module["DOCUMENTATION"])
    fragments = _python_docs(REPO / "plugins" / "doc_fragments" / "velero.py")
    options = set(doc["options"])
    for fragment in doc["extends_documentation_fragment"]:
        if fragment.startswith("appsnap.velero.velero"):
            attribute = fragment.split(".")[3].upper() if fragment.count(".") == 3 else "DOCUMENTATION"
            options |= set(yaml.safe_load(fragments[attribute]).get("options") or {})
    # from kubernetes.core's k8s_auth_options fragment: that collection's fragments were resolved
    options.add("kubeconfig")
    assert {"name", "state", "included_namespaces", "wait_timeout"} <= options

    table = _section(dom, "parameters", "backup_module.html").iter("table")
    table = next(table, None)
    assert table is not None and "ansible-option-table" in table.attrs.get("class", ""), "no options table under Parameters"
    titles = {strong.text() for p in table.iter("p") if "ansible-option-title" in p.attrs.get("class", "") for strong in p.iter("strong")}
    anchors = {div.attrs.get("id") for div in table.iter("div") if "ansibleOptionAnchor" in div.attrs.get("class", "")}
    missing = sorted(o for o in options if o not in titles or f"parameter-{o}" not in anchors)
    assert not missing, f"the options table of backup_module.html lacks {missing}"

    code = "\n".join(pre.text() for pre in _section(dom, "examples", "backup_module.html").iter("pre"))
    tasks = yaml.safe_load(module["EXAMPLES"])
    assert tasks and "appsnap.velero.backup:" in code, f"the Examples of backup_module.html lack the module's task:\n{code}"
    for task in tasks:
        assert f"name: {task['name']}" in code, f"the Examples of backup_module.html lack the task {task['name']!r}"
