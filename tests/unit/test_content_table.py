"""README.md's included-content table is the one docs/content_table.py builds from the collection's docs."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_readme_content_table_is_current():
    run = subprocess.run([sys.executable, str(ROOT / "docs" / "content_table.py"), "--check"],
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr


def test_table_names_every_module_filter_role_and_playbook():
    sys.path.insert(0, str(ROOT / "docs"))
    import content_table  # pylint: disable=import-outside-toplevel
    table = content_table.table()
    for pattern in ("plugins/modules/*.py", "plugins/filter/*.yml", "playbooks/*.yml"):
        for path in ROOT.glob(pattern):
            assert f"`appsnap.velero.{path.stem}`" in table
    for role in (ROOT / "roles").iterdir():
        assert f"`appsnap.velero.{role.name}`" in table
