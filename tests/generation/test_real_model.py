"""End to end with the real SmolLM2-135M-Instruct (GGUF converted once): a handful of pairs, LoRA, round trip."""

from __future__ import annotations

import pytest

from headstart.generation import Seq2SeqModel

pytestmark = [pytest.mark.slow, pytest.mark.real_model]

PAIRS = [("A man is riding a bicycle.", "Ein Mann fährt Fahrrad."),
         ("Two dogs play in the snow.", "Zwei Hunde spielen im Schnee."),
         ("A woman is reading a book.", "Eine Frau liest ein Buch."),
         ("Children are running on the beach.", "Kinder laufen am Strand."),
         ("A cat sleeps on the sofa.", "Eine Katze schläft auf dem Sofa."),
         ("The man is cooking dinner.", "Der Mann kocht das Abendessen.")]


def test_smollm2_lora_fits_generates_and_round_trips(tmp_path):
    sources, targets = [s for s, _ in PAIRS], [t for _, t in PAIRS]
    model = Seq2SeqModel(task="translate", strategy="lora", progress=False, epochs=2, batch_size=3, lr=1e-3,
                         max_new_tokens=16, device="cpu", valid_fraction=0.0)
    model.fit(sources, targets, sources[:2], targets[:2])
    history = model.fit_report_["history"]
    assert history[-1]["valid_loss"] <= history[0]["valid_loss"] + 0.5
    outputs = model.predict(sources[:3])
    assert all(o.strip() for o in outputs), outputs
    assert model.score(sources, targets) >= 0.0
    model.save(tmp_path / "smol")
    assert Seq2SeqModel.load(tmp_path / "smol").predict(sources[:3]) == outputs


def test_smollm2_zero_shot_prompt_uses_the_chat_template():
    model = Seq2SeqModel(task="summarize", strategy="zero-shot", progress=False, max_new_tokens=12, device="cpu")
    model.fit(["Please send me the Q3 budget numbers by Friday."], ["Q3 budget"])
    assert model.prompter_.chat
    [subject] = model.predict(["Hi team, the offsite meeting moves from Tuesday to Thursday at 10am. Thanks"])
    assert subject.strip()
