"""Identity term lists: which groups a text mentions, and counterfactual copies with the terms swapped.

The shipped list (resources/terms/identity_terms.json) maps categories -> groups -> terms. A user file
with the same shape extends it: new groups are added, terms of existing groups are appended.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError, expected
from ..resources import RESOURCES

DEFAULT_TERMS = RESOURCES / "terms" / "identity_terms.json"


@dataclass
class TermList:
    """categories -> groups -> terms, with compiled whole-word matchers."""

    categories: dict[str, dict[str, list[str]]]
    sources: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._patterns: dict[tuple[str, str], re.Pattern[str]] = {}
        for category, groups in self.categories.items():
            for group, terms in groups.items():
                # longest first so 'african american' wins over 'african'
                alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
                self._patterns[(category, group)] = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.I)

    def groups(self) -> list[tuple[str, str]]:
        return list(self._patterns)

    def find(self, text: str) -> list[tuple[str, str]]:
        """(category, group) pairs whose terms occur in `text` as whole words (case-insensitive)."""
        return [key for key, pattern in self._patterns.items() if pattern.search(text)]

    def swap(self, text: str, category: str, source: str, target: str) -> str:
        """`text` with every term of group `source` replaced by the aligned term of group `target`."""
        src, dst = self.categories[category][source], self.categories[category][target]
        index: dict[str, int] = {}
        for i, t in enumerate(src):
            index.setdefault(t.lower(), i)  # the first position wins: 'her' -> 'him' (a term may repeat)

        def replace(match: re.Match[str]) -> str:
            i = index.get(match.group(0).lower(), 0)
            new = dst[i] if i < len(dst) else dst[0]
            return _match_case(match.group(0), new)

        return self._patterns[(category, source)].sub(replace, text)

    def counterfactuals(self, text: str, max_per_text: int = 0) -> list[dict[str, str]]:
        """Every single-group swap of the identity terms in `text` (0: no limit per text).

        A text mentioning two groups of one category (e.g. 'he' and 'her') is skipped for that
        category: swapping one side only would change the meaning, not just the identity.
        """
        variants: list[dict[str, str]] = []
        found = self.find(text)
        groups_in = Counter(category for category, _ in found)
        for category, source in found:
            if groups_in[category] != 1:
                continue
            for target in self.categories[category]:
                if target == source:
                    continue
                new = self.swap(text, category, source, target)
                if new != text:
                    variants.append({"category": category, "source": source, "target": target, "text": new})
        if max_per_text and len(variants) > max_per_text:
            step = len(variants) / max_per_text  # spread over targets rather than taking the first few
            variants = [variants[int(i * step)] for i in range(max_per_text)]
        return variants


def _match_case(original: str, new: str) -> str:
    if original.isupper() and len(original) > 1:
        return new.upper()
    if original[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


def load_terms(extra: str | Path | None = None, include_default: bool = True) -> TermList:
    """The shipped term list, extended by the JSON file `extra` (same shape) if given."""
    categories: dict[str, dict[str, list[str]]] = {}
    sources: list[str] = []
    paths = ([DEFAULT_TERMS] if include_default else []) + ([Path(extra)] if extra else [])
    for path in paths:
        for category, groups in _read_terms(path).items():
            merged = categories.setdefault(category, {})
            for group, terms in groups.items():
                known = merged.setdefault(group, [])
                before = set(known)  # repeats inside one file are kept: they keep swap positions aligned
                known.extend(t for t in terms if t not in before)
        sources.append(str(path))
    if not categories:
        raise DataError(expected("at least one category of identity terms", "none",
                                 "Pass a --terms file or keep the shipped list."))
    return TermList(categories, sources)


def _read_terms(path: Path) -> dict[str, dict[str, list[str]]]:
    shape = '{"categories": {"gender": {"female": ["she", ...], "male": ["he", ...]}}}'
    if not path.is_file():
        raise DataError(expected("a JSON term list file", f"no file at {path}", f"Create one shaped like {shape}."))
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(expected("a JSON term list", f"unreadable JSON in {path} ({exc})",
                                 f"Fix the file; its shape is {shape}.")) from None
    categories = raw.get("categories") if isinstance(raw, dict) else None
    ok = isinstance(categories, dict) and all(
        isinstance(groups, dict) and all(isinstance(terms, list) and terms and all(isinstance(t, str) and t.strip()
                                                                                  for t in terms)
                                         for terms in groups.values())
        for groups in categories.values())
    if not ok:
        raise DataError(expected(f"a term list shaped like {shape}", f"something else in {path}",
                                 "Put groups of non-empty string terms under 'categories'."))
    return {c: {g: [t.strip().lower() for t in terms] for g, terms in groups.items()}
            for c, groups in categories.items()}
