"""The transformers tagger's real training and inference code, on a tiny random BERT built here.

No checkpoint can be downloaded, so the test makes its own: a 2-layer BERT with a character
vocabulary taken from the corpus. It proves the code path (tokenise, fine-tune one step, save,
load, predict, respect the SOP's speakers), not an accuracy.
"""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from pipeline.events import load_tagger  # noqa: E402
from pipeline.events.corpus import EVENTS, is_dev, load_corpus  # noqa: E402
from pipeline.events.transformer import TransformerTagger, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny-bert")
    corpus = load_corpus(sorted(glob.glob(str(ROOT / "data" / "labelled" / "raw" / "*.jsonl"))))
    characters = sorted({c for d in corpus[:20] for u in d.conversation.utterances for c in u.text.lower()
                         if not c.isspace()})
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *characters]
    (directory / "vocab.txt").write_text("\n".join(vocabulary), encoding="utf-8")
    tokenizer = transformers.BertTokenizer(str(directory / "vocab.txt"))
    config = transformers.BertConfig(vocab_size=len(vocabulary), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=160)
    torch.manual_seed(0)
    transformers.BertForSequenceClassification(config).save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return directory, [d for d in corpus[:20] if not is_dev(d.dialogue_id)][:2]


def test_one_training_step_changes_the_weights_and_the_result_predicts(tiny_bert, tmp_path, sop):
    base, dialogues = tiny_bert
    before = transformers.AutoModelForSequenceClassification.from_pretrained(
        str(base), num_labels=len(EVENTS), problem_type="multi_label_classification", ignore_mismatched_sizes=True)
    out = train(dialogues, base, tmp_path / "tuned", epochs=1, batch_size=8, max_steps=1)
    after = transformers.AutoModelForSequenceClassification.from_pretrained(str(out))
    assert not torch.equal(before.bert.embeddings.word_embeddings.weight, after.bert.embeddings.word_embeddings.weight)
    assert after.config.id2label == dict(enumerate(EVENTS))

    tagger = load_tagger(f"transformer:{out}")
    assert isinstance(tagger, TransformerTagger) and tagger.name == "transformer:tuned"
    conversation = dialogues[0].conversation
    probabilities = tagger.probabilities(conversation)
    assert probabilities.shape == (len(conversation.utterances), len(EVENTS))
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    for event in tagger.tag(conversation, sop):
        speaker = sop.node(event.node_id).speaker
        assert speaker == "any" or conversation.utterances[event.utterance_index].speaker_role == speaker


def test_a_missing_model_directory_says_what_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv("KEYNODE_TRANSFORMER_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="KEYNODE_TRANSFORMER_DIR"):
        TransformerTagger(tmp_path / "nothing")
