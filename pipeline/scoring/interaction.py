"""Conversation-level interaction metrics: talk ratio, monologues, interactivity, patience,
questions, speaking pace and fillers.

Pure functions of a :class:`~pipeline.models.Conversation`: nothing is read or written. Each
metric is a :class:`Metric` carrying its value, its unit, whether it applies, a one-line
explanation in the conversation's language and the evidence behind it (utterance indexes,
the gaps that were measured). The knobs are :class:`MetricsConfig`, meant to be read from
``scoring.metrics`` of configs/sop.yaml.

Calls and chats are measured differently, and every metric says how:

- a **call** (``meta.channel`` in ``MetricsConfig.call_channels``) is measured on speech time,
  the sum of utterance durations from the transcript, never on call time (ring, hold and
  silence are not talk);
- a **chat** has no speech time: lengths are text lengths, latency uses the message times,
  interactivity is per message, and pace, fillers, interruptions and the wait after a question
  do not apply (typing is not speaking).

A metric that needs times the conversation does not have is ``applicable=False`` with value
None and an explanation saying why: never 0, never an estimate.

Text is measured in *units*: Chinese characters plus Latin/digit words (so "CRM" or "99" is
one unit, as it is one spoken word), punctuation and chat stickers ("[微笑]") left out. A
Chinese conversation reports them as ``chars``, an English one as ``words``.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace

from pipeline.models import CHANNELS, Conversation, Utterance
from pipeline.scoring.metrics import is_question, turn_of
from pipeline.text import cue_regex, has_cjk, normalize

__all__ = ["METRIC_NAMES", "Metric", "MetricsConfig", "conversation_metrics", "fillers", "interrupting_utterances",
           "question_sentences", "text_units"]

#: Every metric :func:`conversation_metrics` returns, in this order, applicable or not.
METRIC_NAMES: tuple[str, ...] = (
    "talk_ratio", "longest_rep_monologue", "longest_customer_story", "interactivity",
    "rep_response_latency_s", "rep_interruptions", "wait_after_question_s", "question_count",
    "question_rate", "speaking_pace", "filler_rate",
)

# A sentence ends after 。！？；!?; or at a full stop followed by a space ("3.5" and "v2.0"
# are not two sentences). Commas do not end one: "您好，现在方便吗？" is one question.
_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=\.)(?=\s)")
# Clauses inside a sentence: a Chinese cue is looked for clause by clause, so "您用什么系统，
# 我们都能对接" is still a question (the 都 belongs to the next clause).
_CLAUSE_BREAK = re.compile(r"[,、:]")
# A question word followed within three characters by 都/也 is indefinite, not a question:
# "什么系统都能对接", "哪个都行", "谁也不知道" (any/every, as in "whatever"). Three characters
# cover a measure word or a short noun ("什么系统都"); a wider window reached into the next
# clause of unpunctuated ASR text ("您什么时候方便我们也可以").
_INDEFINITE_AFTER = re.compile(r".{0,3}?[都也]")
# 无论/不管/不论 before a question word make it "whichever": "无论您用哪家的系统".
_INDEFINITE_BEFORE = ("无论", "不管", "不论")
# How a finished sentence ends, after normalize (ASR punctuates finished sentences): an
# utterance ending otherwise ("…销售一离职", "…when someone leaves,") was cut off.
_FINISHED = re.compile(r"[。.!?;~～][\"'”’」』)]*$")
# The pause a filler word has to be set off by: a comma, an enumeration comma, an ellipsis or a
# dash standing alone ("like-minded" is one word, "like - you know" is a pause).
_PAUSE_AFTER = re.compile(r",|、|\.\.\.|…|—|-(?!\w)")
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z0-9]+)*")

_SECONDS_PER_MINUTE = 60.0
_CALL_QUESTION_RATE_S = 600.0     # question_rate of a call: per 10 minutes of conversation time
_CHAT_QUESTION_RATE_MESSAGES = 100.0
_CHAT_SWITCH_RATE_MESSAGES = 10.0
_FILLER_RATE_UNITS = 100.0


@dataclass(frozen=True)
class MetricsConfig:
    """The knobs of :func:`conversation_metrics`; defaults are the project's choices.

    - ``call_channels``: channels measured as calls (speech time); every other channel is a chat.
    - ``min_pause_s``: the shortest silence that counts as a pause. A rep turn that starts
      sooner than this after a customer utterance cut off mid-sentence is an interruption.
    - ``zh_question_cues``: A-not-A and similar forms that make a Chinese clause a question
      wherever they stand ("是不是下周比较方便", "有没有考虑过").
    - ``zh_question_words``: question words that make a clause a question ("您用的是什么系统",
      "预算大概多少") unless they are indefinite (followed closely by 都/也, or after 无论/不管).
    - ``zh_question_endings``: clause endings that ask for confirmation ("…对吧", "…的吧"). A
      bare 吧 is not one: it closes suggestions as often ("我们周四见吧").
    - ``zh_not_question``: phrases removed before looking for cues, because they hold a
      question word without asking (没什么, 好几个, 几乎, 算了吧).
    - ``filler_sounds_zh`` / ``filler_sounds_en``: hesitation sounds, counted wherever they occur
      (whole words in English).
    - ``filler_words_zh`` / ``filler_words_en``: real words used as fillers. They count only when
      set off by a pause (a comma, an ellipsis, a dash) or another filler right after them; in
      Chinese they must also start a clause, because glued to the character before they are
      ordinary words (是啊, 这就是, 那个方案). "I'd like to" and "what I'd like." therefore
      do not count, "It's like, a mess" does.

    Lexicon entries are matched on normalised text (:func:`pipeline.text.normalize`).
    """

    call_channels: tuple[str, ...] = ("phone", "meeting")
    min_pause_s: float = 0.3
    zh_question_cues: tuple[str, ...] = (
        "是不是", "有没有", "要不要", "能不能", "可不可以", "会不会", "对不对", "好不好", "行不行",
        "用不用", "需不需要", "方不方便", "考不考虑")
    zh_question_words: tuple[str, ...] = (
        "什么", "怎么", "为什么", "为啥", "啥", "哪", "多少", "多久", "几", "谁", "如何")
    zh_question_endings: tuple[str, ...] = ("对吧", "是吧", "的吧", "了吧", "没错吧")
    zh_not_question: tuple[str, ...] = (
        "没什么", "没啥", "不怎么", "没多少", "没几", "好几", "十几", "几十", "几百", "几千", "几万",
        "几乎", "什么的", "哪里哪里", "这就是为什么", "这也是为什么", "算了吧")
    filler_sounds_zh: tuple[str, ...] = ("嗯", "呃")
    filler_sounds_en: tuple[str, ...] = ("um", "uh", "uhm", "er", "erm", "hmm")
    filler_words_zh: tuple[str, ...] = ("那个", "这个", "就是", "啊")
    filler_words_en: tuple[str, ...] = ("like", "you know", "i mean")

    def __post_init__(self) -> None:
        # Validated here rather than in from_mapping so a config built in code is checked too.
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "min_pause_s":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ValueError(f"scoring.metrics.min_pause_s must be a number of seconds ≥ 0, got {value!r}")
                continue
            if not isinstance(value, tuple) or not all(isinstance(v, str) and v.strip() for v in value):
                raise ValueError(f"scoring.metrics.{item.name} must be a list of non-empty strings, got {value!r}")
            if item.name == "call_channels":
                unknown = [v for v in value if v not in CHANNELS]
                if unknown:
                    raise ValueError(f"scoring.metrics.call_channels: unknown channel {unknown[0]!r} "
                                     f"(channels: {', '.join(CHANNELS)})")
            else:
                # Matching runs on normalised text; normalising the lexicon once keeps "Um" and "um" one entry.
                object.__setattr__(self, item.name, tuple(normalize(v) for v in value))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object] | None) -> MetricsConfig:
        """A config from the ``scoring.metrics`` mapping of sop.yaml; None or {} gives the defaults.

        Keys are the field names; lists become tuples. An unknown key or a value of the wrong
        kind raises :class:`ValueError` naming the key.
        """
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ValueError(f"scoring.metrics must be a mapping of settings, got {type(raw).__name__}")
        known = [item.name for item in fields(cls)]
        values: dict[str, object] = {}
        for key, value in raw.items():
            if key not in known:
                raise ValueError(f"scoring.metrics: unknown key {key!r} (known keys: {', '.join(known)})")
            # A bare string would be iterated character by character: refuse it instead.
            values[key] = tuple(value) if isinstance(value, list) else value
        return cls(**values)


@dataclass(frozen=True)
class Metric:
    """One interaction metric of one conversation.

    ``value`` is None exactly when ``applicable`` is False. ``unit`` is one of ``ratio``, ``s``,
    ``chars``, ``words``, ``count``, ``per_min``, ``per_10_messages``, ``per_10_min``,
    ``per_100_messages``, ``chars_per_min``, ``words_per_min``, ``per_100_chars``,
    ``per_100_words``. ``explanation`` is one short sentence in the conversation's language;
    ``evidence`` holds what the value was computed from (JSON-serialisable).
    """

    name: str
    value: float | None
    unit: str
    applicable: bool
    explanation: str
    evidence: dict = field(default_factory=dict)


def text_units(text: str) -> int:
    """Length of a text in units: Chinese characters plus Latin/digit words.

    Punctuation, white space and chat codes ("[微笑]") do not count: they are not spoken, and
    ASR punctuates more or less densely from one model to the next.
    """
    norm = normalize(text)
    return sum(1 for char in norm if has_cjk(char)) + len(_WORD.findall(norm))


def question_sentences(text: str, config: MetricsConfig = MetricsConfig()) -> tuple[str, ...]:
    """The sentences of ``text`` that ask a question, as written.

    A sentence is a question when :func:`pipeline.scoring.metrics.is_question` says so (a
    question mark, or 吗/呢/么/嘛 at the end), or, for Chinese, when a clause holds one of
    ``zh_question_cues`` (是不是, 有没有…), a non-indefinite question word (什么, 多少, 几, 哪…)
    or ends with one of ``zh_question_endings`` (对吧, 的吧…), after the ``zh_not_question``
    phrases are taken out. ASR often drops the "？" of Chinese questions; English ASR and
    chat text keep the "?", so English relies on it.
    """
    return tuple(s for s in _sentences(text) if _asks(s, config))


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _asks(sentence: str, config: MetricsConfig) -> bool:
    text = normalize(sentence)
    for phrase in config.zh_not_question:
        text = text.replace(phrase, " ")
    if is_question(text):
        return True
    if not has_cjk(text):
        return False
    for clause in _CLAUSE_BREAK.split(text):
        clause = clause.strip(" 。.!~～")
        if clause.endswith(config.zh_question_endings) or any(cue in clause for cue in config.zh_question_cues):
            return True
        for word in config.zh_question_words:
            for found in re.finditer(re.escape(word), clause):
                indefinite = (any(m in clause[:found.start()] for m in _INDEFINITE_BEFORE)
                              or _INDEFINITE_AFTER.match(clause, found.end()))
                if not indefinite:
                    return True
    return False


def fillers(text: str, config: MetricsConfig = MetricsConfig()) -> tuple[str, ...]:
    """The fillers said in ``text``, in order, as their lexicon entries.

    Both languages' lexicons are tried on every text, as sales calls code-switch. Sounds
    (嗯, 呃, um, uh) count wherever they occur; filler words (那个, 就是, 啊, like, you know) only
    when set off by a pause or another filler right after them, and, in Chinese, at the start of
    a clause (see :class:`MetricsConfig`).
    """
    norm = normalize(text)
    sounds = config.filler_sounds_zh + config.filler_sounds_en
    words = config.filler_words_zh + config.filler_words_en
    everything = sounds + words

    def filler_at_start(rest: str) -> bool:
        return any(cue_regex(f).match(rest) for f in everything)

    hits: list[tuple[int, str]] = []
    for sound in sounds:
        hits.extend((found.start(), sound) for found in cue_regex(sound).finditer(norm))
    for word in words:
        for found in cue_regex(word).finditer(norm):
            before = norm[:found.start()].rstrip()
            after = norm[found.end():].lstrip()
            set_off = bool(_PAUSE_AFTER.match(after)) or filler_at_start(after)
            starts_clause = not before or not before[-1].isalnum() or before.endswith(everything)
            if set_off and (starts_clause or not has_cjk(word)):
                hits.append((found.start(), word))
    return tuple(label for _, label in sorted(hits))


@dataclass(frozen=True)
class _View:
    """What every metric reads, worked out once per conversation."""

    language: str
    is_call: bool
    speech: tuple[Utterance, ...]          # rep and customer utterances, in transcript order
    untimed: tuple[int, ...]               # speech utterances without the times the medium needs
    floor: tuple[Utterance, ...]           # speech minus backchannels; by start time for timed calls
    backchannels: tuple[int, ...]
    turns: tuple[tuple[Utterance, ...], ...]

    @property
    def timed(self) -> bool:
        return bool(self.speech) and not self.untimed

    def say(self, zh: str, en: str) -> str:
        return zh if self.language == "zh" else en

    @property
    def length_unit(self) -> str:
        return "chars" if self.language == "zh" else "words"

    @property
    def length_word(self) -> str:
        return "字" if self.language == "zh" else "words"


def _inside_other_side(speech: tuple[Utterance, ...]) -> set[int]:
    """Indexes of utterances said entirely inside a strictly longer utterance of the other side.

    One sweep in start order (longer first on equal starts), keeping per side the latest end
    seen so far and, among utterances ending then, the earliest start: O(n log n), so a
    three-hour call with thousands of turns costs milliseconds, not minutes.
    """
    latest: dict[str, tuple[float, float]] = {}  # role → (latest end, earliest start among those)
    inside = set()
    for utterance in sorted(speech, key=lambda u: (u.start_s, -u.end_s)):
        for role, (end_s, start_s) in latest.items():
            if role != utterance.speaker_role and (
                    end_s > utterance.end_s or (end_s == utterance.end_s and start_s < utterance.start_s)):
                inside.add(utterance.index)
        end_s, start_s = latest.get(utterance.speaker_role, (float("-inf"), float("inf")))
        if utterance.end_s > end_s or (utterance.end_s == end_s and utterance.start_s < start_s):
            latest[utterance.speaker_role] = (utterance.end_s, utterance.start_s)
    return inside


def _view(conversation: Conversation, config: MetricsConfig) -> _View:
    is_call = conversation.meta.channel in config.call_channels
    speech = tuple(u for u in conversation.utterances if u.speaker_role in ("rep", "customer"))
    if is_call:
        untimed = tuple(u.index for u in speech
                        if u.start_s is None or u.end_s is None or u.end_s < u.start_s)
    else:
        untimed = tuple(u.index for u in speech if u.start_s is None)
    floor, backchannels = speech, ()
    if is_call and speech and not untimed:
        # A short "嗯"/"对" said entirely inside the other side's utterance does not take the
        # floor: it would otherwise split a customer's story in two, count as two speaker
        # switches and as an interruption, and penalise the active listening it shows.
        # "Strictly shorter" keeps two utterances with the very same times both on the floor.
        inside = _inside_other_side(speech)
        backchannels = tuple(sorted(inside))
        # Stereo transcripts are merged per channel; order by start so turns follow the talk.
        floor = tuple(sorted((u for u in speech if u.index not in inside), key=lambda u: u.start_s))
    # Turns are metrics.turn_of's turns (consecutive utterances of one role), taken over the floor.
    floor_conversation = replace(conversation, utterances=floor)
    turns = []
    for position, utterance in enumerate(floor):
        if not turns or turns[-1][0].speaker_role != utterance.speaker_role:
            turns.append(tuple(turn_of(floor_conversation, position)))
    return _View(conversation.language, is_call, speech, untimed, floor, backchannels, tuple(turns))


def conversation_metrics(conversation: Conversation,
                         config: MetricsConfig = MetricsConfig()) -> tuple[Metric, ...]:
    """Every interaction metric of a conversation, in :data:`METRIC_NAMES` order.

    Metrics that do not apply (a chat's speaking pace, a call without timestamps) are returned
    too, with value None, ``applicable=False`` and the reason. Formulas: docs/scoring.md,
    "Interaction metrics", and the docstrings of the functions below.
    """
    view = _view(conversation, config)
    return (
        _talk_ratio(view),
        _longest_turn(view, "rep", "longest_rep_monologue"),
        _longest_turn(view, "customer", "longest_customer_story"),
        _interactivity(view),
        *_response_latency_and_interruptions(view, config),
        _wait_after_question(view, config),
        *_questions(view, config),
        _speaking_pace(view),
        _filler_rate(view, config),
    )


def interrupting_utterances(metrics: Iterable[Metric]) -> frozenset[int] | None:
    """The rep utterances that interrupted the customer (from ``rep_interruptions``), or None
    when interruptions could not be measured (a chat, or a call without times)."""
    for metric in metrics:
        if metric.name == "rep_interruptions":
            return frozenset(index for index, _gap in metric.evidence["interruptions"]) if metric.applicable else None
    return None


def _na(name: str, unit: str, explanation: str, evidence: dict | None = None) -> Metric:
    return Metric(name, None, unit, False, explanation, evidence or {})


def _no_times(view: _View) -> tuple[str, dict] | None:
    """Why a time-based metric cannot be measured, or None when it can."""
    if not view.speech:
        return view.say("销售和客户都没有发言", "Neither the rep nor the customer said anything"), {}
    if view.untimed:
        n, total = len(view.untimed), len(view.speech)
        if view.is_call:
            reason = view.say(f"{n}/{total} 句没有开始或结束时间，不估算",
                              f"{n} of {total} utterances have no start or end time; not estimated")
        else:
            reason = view.say(f"{n}/{total} 条消息没有发送时间，不估算",
                              f"{n} of {total} messages have no send time; not estimated")
        return reason, {"untimed_indexes": list(view.untimed)}
    return None


def _s(seconds: float) -> str:
    """Seconds as people read them: 1.25, 1.5, 90."""
    return f"{round(seconds, 2):g}"


def _n(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _duration_s(utterances: Iterable[Utterance]) -> float:
    return sum(u.end_s - u.start_s for u in utterances)


def _span_s(utterances: Iterable[Utterance]) -> float:
    utterances = tuple(utterances)
    return max(u.end_s for u in utterances) - min(u.start_s for u in utterances)


def _talk_ratio(view: _View) -> Metric:
    """Calls: rep speech s / (rep + customer speech s), speech s = Σ utterance durations with
    overlaps counted for both sides. Chats: the same over text units."""
    name = "talk_ratio"
    if view.is_call:
        missing = _no_times(view)
        if missing:
            return _na(name, "ratio", *missing)
        rep_s = _duration_s(u for u in view.speech if u.speaker_role == "rep")
        customer_s = _duration_s(u for u in view.speech if u.speaker_role == "customer")
        if rep_s + customer_s <= 0:
            return _na(name, "ratio", view.say("语音时长为 0", "Zero seconds of speech"))
        ratio = rep_s / (rep_s + customer_s)
        return Metric(name, ratio, "ratio", True, view.say(
            f"销售说话时间占 {ratio:.0%}（按双方语音时长 {rep_s:.1f}/{rep_s + customer_s:.1f} 秒，不按通话时长）",
            f"The rep spoke {ratio:.0%} of the speech time ({rep_s:.1f} of {rep_s + customer_s:.1f} s "
            f"of speech, not of call time)"),
            {"rep_speech_s": rep_s, "customer_speech_s": customer_s})
    rep = sum(text_units(u.text) for u in view.speech if u.speaker_role == "rep")
    customer = sum(text_units(u.text) for u in view.speech if u.speaker_role == "customer")
    if rep + customer == 0:
        return _na(name, "ratio", view.say("没有文字内容", "No text from the rep or the customer"))
    ratio = rep / (rep + customer)
    word = view.length_word
    return Metric(name, ratio, "ratio", True, view.say(
        f"销售文字量占 {ratio:.0%}（按字数 {rep}/{rep + customer}，聊天没有语音时长）",
        f"The rep wrote {ratio:.0%} of the text ({rep} of {rep + customer} {word}; chats have no speech time)"),
        {f"rep_{view.length_unit}": rep, f"customer_{view.length_unit}": customer})


def _longest_turn(view: _View, role: str, name: str) -> Metric:
    """The longest turn of ``role``. Calls: seconds from its first start to its last end (pauses
    inside the turn count: nobody else took the floor). Chats: text units, with the message count."""
    unit = "s" if view.is_call else view.length_unit
    if view.is_call:
        missing = _no_times(view)
        if missing:
            return _na(name, unit, *missing)
    turns = [turn for turn in view.turns if turn[0].speaker_role == role]
    who = view.say("销售" if role == "rep" else "客户", "the rep" if role == "rep" else "the customer")
    if not turns:
        if any(u.speaker_role == role for u in view.speech):
            return _na(name, unit, view.say(f"{who}只在对方说话时附和（嗯、对），没有自己的一段话",
                                            f"{who.capitalize()} only backchannelled while the other side spoke"))
        return _na(name, unit, view.say(f"{who}没有发言", f"{who.capitalize()} never spoke"))
    measure = _span_s if view.is_call else (lambda turn: sum(text_units(u.text) for u in turn))
    longest = max(turns, key=measure)  # max keeps the first of equal turns
    value = measure(longest)
    indexes = [u.index for u in longest]
    where = str(indexes[0]) if len(indexes) == 1 else f"{indexes[0]}–{indexes[-1]}"
    if view.is_call:
        return Metric(name, value, unit, True, view.say(
            f"{who}最长一段连续说了 {_s(value)} 秒（第 {where} 句）",
            f"{who.capitalize()} held the floor for {_s(value)} s at most (utterance {where})"),
            {"utterance_indexes": indexes, "start_s": longest[0].start_s, "end_s": max(u.end_s for u in longest)})
    return Metric(name, float(value), unit, True, view.say(
        f"{who}最长一段连续发了 {len(longest)} 条消息、共 {value} 字（按文字量，不按时长）",
        f"{who.capitalize()}'s longest run: {_n(value, 'word')} in {_n(len(longest), 'message')} "
        f"(text length, not time)"),
        {"utterance_indexes": indexes, "message_count": len(longest)})


def _interactivity(view: _View) -> Metric:
    """Speaker switches (turns − 1). Calls: per minute of conversation time, first speech start
    to last speech end. Chats: per 10 rep and customer messages."""
    name = "interactivity"
    if view.is_call:
        missing = _no_times(view)
        if missing:
            return _na(name, "per_min", *missing)
        switches = len(view.turns) - 1
        minutes = _span_s(view.speech) / _SECONDS_PER_MINUTE
        if minutes <= 0:
            return _na(name, "per_min", view.say("对话时长为 0", "The conversation lasts zero seconds"))
        value = switches / minutes
        return Metric(name, value, "per_min", True, view.say(
            f"每分钟换人说话 {value:.1f} 次（{switches} 次 / {minutes:.1f} 分钟，从第一句到最后一句）",
            f"{value:.1f} speaker switches per minute ({switches} in {minutes:.1f} min, first to last word)"),
            {"switches": switches, "conversation_s": minutes * _SECONDS_PER_MINUTE,
             "backchannel_indexes": list(view.backchannels)})
    if not view.speech:
        return _na(name, "per_10_messages", view.say("没有消息", "No messages"))
    switches = len(view.turns) - 1
    value = switches / len(view.speech) * _CHAT_SWITCH_RATE_MESSAGES
    return Metric(name, value, "per_10_messages", True, view.say(
        f"每 10 条消息换人 {value:.1f} 次（{switches} 次 / {len(view.speech)} 条；聊天按消息数，不按分钟）",
        f"{value:.1f} speaker switches per 10 messages ({switches} in {_n(len(view.speech), 'message')}; "
        f"chats count messages, not minutes)"),
        {"switches": switches, "messages": len(view.speech)})


def _response_latency_and_interruptions(view: _View, config: MetricsConfig) -> tuple[Metric, Metric]:
    """Every customer turn followed by a rep turn, classified.

    Calls: gap = the rep turn's first start − the customer turn's last end. The rep
    *interrupts* when gap < 0, or when gap < ``min_pause_s`` and the customer's last utterance
    has no sentence-final mark (cut off mid-sentence); otherwise the gap is a *response*.
    Latency is the median response gap; interruptions are counted, not averaged in.
    Chats: gap = the rep's first message time − the customer's last message time; a negative
    gap (clock out of order) is left out and listed. Chats have no interruptions.
    """
    latency_name, interrupt_name = "rep_response_latency_s", "rep_interruptions"
    missing = _no_times(view)
    if view.is_call and missing:
        return _na(latency_name, "s", *missing), _na(interrupt_name, "count", *missing)
    interruptions_na = _na(interrupt_name, "count", view.say(
        "聊天消息不会互相打断", "Chat messages cannot interrupt each other"))
    if missing:
        return _na(latency_name, "s", *missing), interruptions_na

    responses: list[list] = []
    interruptions: list[list] = []
    out_of_order: list[list] = []
    for customer_turn, rep_turn in zip(view.turns, view.turns[1:]):
        if customer_turn[0].speaker_role != "customer":
            continue
        answered, answer = customer_turn[-1], rep_turn[0]
        if view.is_call:
            gap = answer.start_s - answered.end_s
            cut_off = not _FINISHED.search(normalize(answered.text))
            if gap < 0 or (gap < config.min_pause_s and cut_off):
                interruptions.append([answer.index, gap])
            else:
                responses.append([answer.index, gap])
        else:
            gap = answer.start_s - answered.start_s
            (out_of_order if gap < 0 else responses).append([answer.index, gap])

    evidence = {"responses": responses}
    if view.is_call:
        evidence["interruptions"] = interruptions
        interrupt = Metric(interrupt_name, float(len(interruptions)), "count", True, view.say(
            f"销售打断客户 {len(interruptions)} 次（客户没说完就开口：重叠，或客户话说一半后 {config.min_pause_s:g} 秒内接话）",
            f"Rep interruptions: {len(interruptions)} (started over the customer, or within "
            f"{config.min_pause_s:g} s of a sentence the customer had not finished)"),
            {"interruptions": interruptions, "min_pause_s": config.min_pause_s})
    else:
        evidence["out_of_order"] = out_of_order
        interrupt = interruptions_na
    if not responses:
        return _na(latency_name, "s", view.say("没有客户发言后由销售接话的情况",
                                               "No customer turn was answered by the rep"), evidence), interrupt
    value = statistics.median(gap for _, gap in responses)
    basis = view.say("按语音：客户说完到销售开口" if view.is_call else "按消息时间：客户发出到销售回复",
                     "from the customer's last word to the rep's first" if view.is_call
                     else "from the customer's message time to the rep's reply")
    latency = Metric(latency_name, value, "s", True, view.say(
        f"销售回应客户的时间中位数 {_s(value)} 秒（{len(responses)} 次回应，{basis}）",
        f"The rep answered after {_s(value)} s (median of {_n(len(responses), 'answer')}, {basis})"), evidence)
    return latency, interrupt


def _wait_after_question(view: _View, config: MetricsConfig) -> Metric:
    """Calls: the median silence after a rep utterance whose last sentence is a question, up to
    the next utterance on the floor, the customer's or the rep's own (answering one's own
    question leaves the customer no time); an answer starting before the question ended is 0.
    A question at the very end of the call has no wait and is left out. Chats: not applicable."""
    name = "wait_after_question_s"
    if not view.is_call:
        return _na(name, "s", view.say("聊天没有停顿可量，提问后的等待不适用",
                                       "Chats have no silences to measure: the wait after a question does not apply"))
    missing = _no_times(view)
    if missing:
        return _na(name, "s", *missing)
    waits = []
    for asked, following in zip(view.floor, view.floor[1:]):
        if asked.speaker_role != "rep":
            continue
        sentences = _sentences(asked.text)
        if sentences and _asks(sentences[-1], config):
            waits.append([asked.index, max(0.0, following.start_s - asked.end_s)])
    if not waits:
        return _na(name, "s", view.say("销售没有以提问结束的发言（或提问后通话结束）",
                                       "The rep ended no utterance with a question that anyone followed"))
    value = statistics.median(wait for _, wait in waits)
    return Metric(name, value, "s", True, view.say(
        f"销售提问后留给客户的时间中位数 {_s(value)} 秒（{len(waits)} 个问题）",
        f"After a question the rep left {_s(value)} s of silence (median of {_n(len(waits), 'question')})"),
        {"waits": waits})


def _questions(view: _View, config: MetricsConfig) -> tuple[Metric, Metric]:
    """Rep question sentences (:func:`question_sentences`) and their rate: per 10 minutes of
    conversation time for calls, per 100 rep messages for chats."""
    found = [[u.index, sentence] for u in view.speech if u.speaker_role == "rep"
             for sentence in question_sentences(u.text, config)]
    count = len(found)
    count_metric = Metric("question_count", float(count), "count", True, view.say(
        f"销售提了 {count} 个问题（含不带问号的中文问句）",
        f"The rep asked {_n(count, 'question')}"), {"questions": found})
    if view.is_call:
        missing = _no_times(view)
        if missing:
            return count_metric, _na("question_rate", "per_10_min", *missing)
        span_s = _span_s(view.speech)
        if span_s <= 0:
            return count_metric, _na("question_rate", "per_10_min",
                                     view.say("对话时长为 0", "The conversation lasts zero seconds"))
        rate = count / span_s * _CALL_QUESTION_RATE_S
        return count_metric, Metric("question_rate", rate, "per_10_min", True, view.say(
            f"每 10 分钟提问 {rate:.1f} 个（{count} 个 / {span_s / 60:.1f} 分钟）",
            f"{rate:.1f} questions per 10 minutes ({count} in {span_s / 60:.1f} min)"),
            {"question_count": count, "conversation_s": span_s})
    messages = sum(1 for u in view.speech if u.speaker_role == "rep")
    if not messages:
        return count_metric, _na("question_rate", "per_100_messages",
                                 view.say("销售没有发消息", "The rep sent no messages"))
    rate = count / messages * _CHAT_QUESTION_RATE_MESSAGES
    return count_metric, Metric("question_rate", rate, "per_100_messages", True, view.say(
        f"每 100 条销售消息提问 {rate:.1f} 个（{count} 个 / {messages} 条）",
        f"{rate:.1f} questions per 100 rep messages ({count} in {messages})"),
        {"question_count": count, "rep_messages": messages})


def _speaking_pace(view: _View) -> Metric:
    """Calls: rep text units per minute of rep speech time (chars/min zh, words/min en).
    Chats: not applicable (typing is not speaking)."""
    name = "speaking_pace"
    unit = f"{view.length_unit}_per_min"
    if not view.is_call:
        return _na(name, unit, view.say("聊天是打字，不计算语速", "Chats are typed: speaking pace does not apply"))
    missing = _no_times(view)
    if missing:
        return _na(name, unit, *missing)
    rep = [u for u in view.speech if u.speaker_role == "rep"]
    rep_s = _duration_s(rep)
    if rep_s <= 0:
        return _na(name, unit, view.say("销售没有说话", "The rep did not speak"))
    units = sum(text_units(u.text) for u in rep)
    value = units / rep_s * _SECONDS_PER_MINUTE
    return Metric(name, value, unit, True, view.say(
        f"销售语速每分钟 {value:.0f} 字（{units} 字 / {rep_s:.1f} 秒语音）",
        f"The rep spoke {value:.0f} words per minute ({units} words in {rep_s:.1f} s of speech)"),
        {f"rep_{view.length_unit}": units, "rep_speech_s": rep_s})


def _filler_rate(view: _View, config: MetricsConfig) -> Metric:
    """Calls (with or without times): rep fillers (:func:`fillers`) per 100 rep text units.
    Chats: not applicable (a typed 嗯嗯 is a reply, not a hesitation)."""
    name = "filler_rate"
    unit = f"per_100_{view.length_unit}"
    if not view.is_call:
        return _na(name, unit, view.say("语气词是口语习惯，聊天里是有意打出的，不计算",
                                        "Fillers are a speech habit; in a chat they are typed on purpose"))
    rep = [u for u in view.speech if u.speaker_role == "rep"]
    units = sum(text_units(u.text) for u in rep)
    if units == 0:
        return _na(name, unit, view.say("销售没有说话", "The rep did not speak"))
    found = [[u.index, filler] for u in rep for filler in fillers(u.text, config)]
    value = len(found) / units * _FILLER_RATE_UNITS
    return Metric(name, value, unit, True, view.say(
        f"销售每 100 字有 {value:.1f} 个口头禅（{len(found)} 个 / {units} 字）",
        f"{value:.1f} fillers per 100 words from the rep ({len(found)} in {units} words)"),
        {"fillers": found, f"rep_{view.length_unit}": units})
