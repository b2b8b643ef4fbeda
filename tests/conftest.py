"""Shared fixtures: the project's SOP, the sample exports, hand-built conversations and Prefect.

Prefect reads its settings when it is first imported, and ``pipeline.flows`` points
``PREFECT_HOME`` at ``./.keynode/prefect`` relative to the working directory unless the
environment says otherwise. The environment is therefore set here, at import time, before any
test module imports ``pipeline.flows``: tests never write Prefect state into the checkout or
the user's home, and send nothing anywhere.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

_PREFECT_HOME = tempfile.mkdtemp(prefix="keynode-test-prefect-")
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ.setdefault("PREFECT_HOME", _PREFECT_HOME)
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Flow, store and board tests state their expectations (events, scores) for the SOP rule
# tagger; the learned tagger the pipeline uses by default has its own tests
# (tests/pipeline/events/test_learned.py), which load it explicitly.
os.environ["KEYNODE_TAGGER"] = "rules"

from collections.abc import Callable, Iterable  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from pipeline.models import Conversation, ConversationMeta, Utterance  # noqa: E402
from pipeline.sop import Sop, load_sop  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOP_PATH = ROOT / "configs" / "sop.yaml"
REPS_PATH = ROOT / "configs" / "reps.yaml"
SAMPLES = ROOT / "data" / "samples"

#: Speaker names used by :func:`make_conversation` when a pair gives only the role.
DEFAULT_NAMES = {"rep": "王磊", "customer": "李女士", "other": "系统消息"}


@pytest.fixture(scope="session")
def sop_path() -> Path:
    """``configs/sop.yaml`` of this checkout."""
    return SOP_PATH


@pytest.fixture(scope="session")
def reps_path() -> Path:
    """``configs/reps.yaml`` of this checkout."""
    return REPS_PATH


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """``data/samples`` (read only: copy it before writing anything beside it)."""
    return SAMPLES


@pytest.fixture(scope="session")
def sop() -> Sop:
    """The project's SOP, loaded once."""
    return load_sop(SOP_PATH)


def build_conversation(pairs: Iterable[tuple[str, str] | tuple[str, str, str]], language: str | None = "zh",
                       conversation_id: str = "conv-test", source_path: str = "test.json",
                       source_key: str | None = None, **meta: object) -> Conversation:
    """A conversation from ``(role, text)`` (or ``(role, name, text)``) pairs, indexed from 0."""
    utterances = []
    for index, pair in enumerate(pairs):
        role, name, text = (pair[0], DEFAULT_NAMES[pair[0]], pair[1]) if len(pair) == 2 else pair
        utterances.append(Utterance(index=index, speaker_role=role, speaker_name=name, text=text))
    return Conversation(conversation_id=conversation_id, source_path=source_path, source_key=source_key,
                        source_format="json", meta=ConversationMeta(language=language, **meta),
                        utterances=tuple(utterances))


@pytest.fixture(scope="session")
def make_conversation() -> Callable[..., Conversation]:
    """``make_conversation([("rep", "您好"), ("customer", "你好")], language="zh", **meta)``."""
    return build_conversation


@pytest.fixture
def text_samples(tmp_path) -> Path:
    """A writable copy of the 26 text sample conversations (``data/samples`` without the
    ``calls/`` recordings, which need the speech model and are tested in tests/pipeline/transcribe)."""
    target = tmp_path / "samples"
    shutil.copytree(SAMPLES, target, ignore=shutil.ignore_patterns("calls"))
    return target


@pytest.fixture(scope="session")
def prefect_harness():
    """Prefect's temporary API server on a temporary SQLite database, started once per session
    (about ten seconds). Only tests that run a flow request it."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


#: A short Chinese sales chat touching every SOP node once, in SOP order. The node scores and the
#: conversation score it gets are worked out by hand in tests/pipeline/scoring/.
SALES_CHAT: tuple[tuple[str, str], ...] = (
    ("rep", "李总您好，我是云启科技的王磊，想跟您聊聊客户管理，您现在方便吗？"),  # 0 opening
    ("customer", "方便，你说。"),                                                # 1
    ("rep", "您目前是怎么管理客户资料的？"),                                      # 2 customer_needs
    ("customer", "现在都用Excel，销售一离职客户就带走了，很头疼。"),              # 3 customer_needs
    ("rep", "我们的系统可以自动分配客户，不用再靠Excel，离职交接一键完成。"),      # 4 product_intro
    ("customer", "听起来不错，多少钱？"),                                        # 5 customer_approval
    ("rep", "标准版每人每月99元。"),                                             # 6
    ("customer", "太贵了，隔壁才69。"),                                          # 7 price_objection
    ("rep", "理解，算下来每天才三块钱，可以先从基础版开始，您看可以吗？"),        # 8
    ("customer", "好的，那先试试。"),                                            # 9
    ("rep", "那就周四下午三点给您演示，我来安排。"),                              # 10 next_step
    ("customer", "好的，周四见。"),                                              # 11
)


#: The customer's reaction in :data:`SALES_CHAT` (P(positive) − P(negative)), set by hand so
#: that customer-feedback scores can be worked out on paper; the sentiment model is tested on its own.
SALES_CHAT_REACTIONS = {1: 0.0, 3: 0.0, 5: 0.5, 7: -0.5, 9: 0.6, 11: 0.6}


@pytest.fixture(scope="session")
def sales_chat_reactions(sales_chat) -> tuple[float | None, ...]:
    """:data:`SALES_CHAT_REACTIONS` per utterance (None for the rep's)."""
    return tuple(SALES_CHAT_REACTIONS.get(u.index) for u in sales_chat.utterances)


@pytest.fixture(scope="session")
def sales_chat() -> Conversation:
    """:data:`SALES_CHAT` as a Chinese conversation."""
    return build_conversation(SALES_CHAT, language="zh", conversation_id="sales-chat")
