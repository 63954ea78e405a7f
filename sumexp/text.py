"""One spelling for text that looks the same: what scoring and the data's ids compare."""

from __future__ import annotations

import re
import unicodedata

# Characters that print as nothing: zero-width space, non-joiner and joiner, word joiner, BOM, soft hyphen.
INVISIBLE_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


def visible_form(text: str) -> str:
    """`text` composed (NFC: Korean typed on some systems, or copied from file names, arrives decomposed into
    jamo, and would share no token with the same words composed) and without characters that print as nothing."""
    return INVISIBLE_RE.sub("", unicodedata.normalize("NFC", text))
