"""`livetalk themes` lists and validates the theme files."""
import subprocess

from conftest import binary


def test_themes_lists_the_four_builtins():
    p = subprocess.run([binary(), "themes"], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    for name in ("dark", "light", "high-contrast", "monochrome"):
        assert f"ok    {name}" in p.stdout


def test_a_broken_theme_is_named_with_file_line_and_key(tmp_path):
    d = tmp_path / "themes"
    d.mkdir()
    (d / "broken.toml").write_text('name = "broken"\nascii = false\n[roles]\ntext = {}\nborder = { blink = true }\n')
    p = subprocess.run([binary(), "themes"], capture_output=True, text=True, env={"LIVETALK_THEMES": str(d), "PATH": "/usr/bin:/bin"})
    assert p.returncode == 64
    assert f"{d}/broken.toml:5: roles.border.blink: unknown attribute" in p.stdout
