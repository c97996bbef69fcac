"""How far ``relaygate.core.tokens.estimate_tokens`` is from real tokenizers.

Run: ``.venv/bin/python -m bench.token_estimate`` (needs Node.js and npm; the two
tokenizer packages are installed pinned into ``.cache/tokenizers`` on first use).

The corpus is cut at random, with a fixed seed, from what this repository holds: its
documentation (English Markdown), its Python source, the TypeScript declarations shipped
with the tokenizer package, the stream-event spec extract (JSON), and the multilingual
samples in ``bench/data/multilingual.txt`` (Chinese, Japanese, Korean, Russian). Each
sample is counted by OpenAI's o200k_base and cl100k_base (npm ``gpt-tokenizer``) and by
Anthropic's published tokenizer (npm ``@anthropic-ai/tokenizer``, the pre-Claude-3
vocabulary, the closest public one), then by the estimate: of the whole text, and summed
over the text cut as a stream delivers it (o200k's own tokens, one to three an event, as
the gateway estimates a stream batch by batch). The table printed is the one in
docs/billing.md.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

from relaygate.core.tokens import estimate_tokens

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "tokenizers"
PACKAGES = ("gpt-tokenizer@3.4.0", "@anthropic-ai/tokenizer@0.0.4")
TARGETS = ("o200k", "cl100k", "claude")
_COUNTER = """
const o200k = require('gpt-tokenizer/cjs/encoding/o200k_base');
const cl100k = require('gpt-tokenizer/cjs/encoding/cl100k_base');
const { countTokens } = require('@anthropic-ai/tokenizer');
const lines = require('fs').readFileSync(0, 'utf8').split('\\n').filter(Boolean);
for (const line of lines) {
  const t = JSON.parse(line);
  const ids = o200k.encode(t);
  console.log(JSON.stringify({o200k: ids.length, cl100k: cl100k.encode(t).length,
    claude: countTokens(t), pieces: ids.map((id) => o200k.decode([id]))}));
}
"""


def _install() -> None:
    if not (CACHE / "node_modules" / "@anthropic-ai" / "tokenizer").is_dir():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--silent", "--prefix", str(CACHE), *PACKAGES], check=True
        )


def _cut(text: str, kind: str, count: int, sizes: tuple[int, ...], rng: random.Random) -> list[
    tuple[str, str]
]:  # fmt: skip
    samples = []
    for _ in range(count):
        size = rng.choice(sizes)
        start = rng.randrange(0, max(1, len(text) - size))
        samples.append((kind, text[start : start + size]))
    return samples


def corpus() -> list[tuple[str, str]]:
    rng = random.Random(7)
    docs = "".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))
    code = "".join(p.read_text() for p in sorted((ROOT / "src").rglob("*.py")))
    types = "".join(p.read_text() for p in sorted((CACHE / "node_modules").rglob("*.d.ts"))[:60])
    spec = (ROOT / "tests" / "spec" / "stream-events.json").read_text()
    prose = (1000, 200, 600, 2000)
    samples = _cut(docs, "english-markdown", 150, prose, rng)
    samples += _cut(code, "python", 120, prose, rng)
    samples += _cut(types, "typescript", 60, prose, rng)
    samples += _cut(spec, "json", 60, prose, rng)
    languages = (ROOT / "bench" / "data" / "multilingual.txt").read_text().split("## ")[1:]
    for block in languages:
        name, _, text = block.partition("\n")
        samples += _cut(text, name.strip(), 40, (30, 100, 300, 800), rng)
    return [(kind, text) for kind, text in samples if text.strip()]


def _real_counts(texts: list[str]) -> list[dict[str, Any]]:
    lines = "\n".join(json.dumps(t) for t in texts)
    out = subprocess.run(
        ["node", "-e", _COUNTER], input=lines, capture_output=True, text=True, check=True,
        cwd=CACHE,
    )  # fmt: skip
    return [json.loads(line) for line in out.stdout.splitlines()]


def _streamed(pieces: list[str], rng: random.Random) -> int:
    """The estimate summed over events of one to three real tokens each."""
    total, at = 0, 0
    while at < len(pieces):
        step = rng.randint(1, 3)
        total += estimate_tokens("".join(pieces[at : at + step]))
        at += step
    return total


def main() -> None:
    _install()
    samples = corpus()
    real = _real_counts([text for _, text in samples])
    rng = random.Random(3)
    errors: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (kind, text), counts in zip(samples, real, strict=True):
        whole, streamed = estimate_tokens(text), _streamed(counts["pieces"], rng)
        for target in TARGETS:
            errors[(kind, target)].append((whole - counts[target]) / counts[target])
        errors[(kind, "streamed")].append((streamed - counts["o200k"]) / counts["o200k"])
    print("| text | samples | " + " | ".join(f"vs {t}: bias, mean abs" for t in TARGETS) + " |")
    print("|---|---|" + "---|" * len(TARGETS))
    for kind in dict.fromkeys(k for k, _ in samples):
        cells = []
        for target in TARGETS:
            errs = errors[(kind, target)]
            bias, mean_abs = statistics.mean(errs), statistics.mean(abs(e) for e in errs)
            cells.append(f"{bias:+.1%}, {mean_abs:.1%}")
        print(f"| {kind} | {len(errors[(kind, 'o200k')])} | " + " | ".join(cells) + " |")
    print("\nsummed over stream events of 1-3 o200k tokens, vs o200k:")
    for kind in dict.fromkeys(k for k, _ in samples):
        errs = errors[(kind, "streamed")]
        print(
            f"  {kind}: bias {statistics.mean(errs):+.1%}, mean abs "
            f"{statistics.mean(abs(e) for e in errs):.1%}"
        )


if __name__ == "__main__":
    main()
