"""A coding reply for the code panel's browser test (tests/e2e/test_code_panel.py), which
the scripted provider gives to messages starting "show code" (RULES in conftest.py): a Python
file named in the text before its fence, a shell command, and a TSX component named in its
first line."""

from __future__ import annotations

CODE_PANEL_PY = '''import re
import unicodedata


def slugify(title: str, limit: int = 60) -> str:
    """'Héllo, World!' -> 'hello-world'"""
    text = unicodedata.normalize("NFKD", title)
    text = text.encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words)[:limit].rstrip("-")'''
CODE_PANEL_SH = """python -c 'from slugify import slugify; print(slugify("Héllo, World!"))'"""
CODE_PANEL_TSX = """// components/SlugPreview.tsx
export function SlugPreview({ title }: { title: string }) {
  const slug = title.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return <code>/posts/{slug}</code>;
}"""
CODE_PANEL_REPLY = (
    "Here is a small helper that turns any title into a URL slug. Save it as `slugify.py`:"
    f"\n\n```python\n{CODE_PANEL_PY}\n```\n\n"
    f"Try it from the shell:\n\n```bash\n{CODE_PANEL_SH}\n```\n\n"
    "It prints `hello-world`. On the front end, a preview component:"
    f"\n\n```tsx\n{CODE_PANEL_TSX}\n```\n"
)
