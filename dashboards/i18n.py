"""The board's words in Chinese and English; node names come from the SOP file."""

from __future__ import annotations

import os
from functools import lru_cache

import streamlit as st

from pipeline.sop import Sop, SopError, load_sop

LANGUAGES = {"zh": "中文", "en": "English"}

_STRINGS: dict[str, dict[str, str]] = {
    "app_title": {"zh": "Keynode 会话洞察", "en": "Keynode conversation insights"},
    "language": {"zh": "语言", "en": "Language"},
    "overview": {"zh": "总览", "en": "Overview"},
    "conversations": {"zh": "会话列表", "en": "Conversations"},
    "conversation": {"zh": "会话详情", "en": "Conversation"},
    "search": {"zh": "搜索", "en": "Search"},
    "no_data": {"zh": "还没有数据。先运行 `make demo`，或 `keynode process <文件夹>` 处理会话。",
                "en": "No data yet. Run `make demo`, or `keynode process <folder>` to process conversations."},
    "utterances": {"zh": "话术条数", "en": "Utterances"},
    "key_events": {"zh": "关键事件", "en": "Key events"},
    "open_failures": {"zh": "未解决的失败", "en": "Open failures"},
    "coverage_by_node": {"zh": "各节点 SOP 覆盖率与平均得分", "en": "SOP coverage and average score per node"},
    "node": {"zh": "节点", "en": "Node"},
    "coverage": {"zh": "覆盖率", "en": "Coverage"},
    "avg_score": {"zh": "平均得分", "en": "Average score"},
    "missed": {"zh": "缺失次数", "en": "Missed"},
    "failures_title": {"zh": "处理失败的文件（修复后重新运行即可）", "en": "Files that failed (fix and re-run)"},
    "no_failures": {"zh": "没有失败记录。", "en": "No failures."},
    "last_run": {"zh": "最近一次运行", "en": "Last run"},
    "processed": {"zh": "处理", "en": "processed"},
    "skipped": {"zh": "未变跳过", "en": "unchanged"},
    "failed": {"zh": "失败", "en": "failed"},
    "rep": {"zh": "销售", "en": "Rep"},
    "team": {"zh": "团队", "en": "Team"},
    "channel": {"zh": "渠道", "en": "Channel"},
    "outcome": {"zh": "结果", "en": "Outcome"},
    "date_range": {"zh": "日期范围", "en": "Date range"},
    "customer": {"zh": "客户", "en": "Customer"},
    "started_at": {"zh": "时间", "en": "Started"},
    "score": {"zh": "得分", "en": "Score"},
    "missing": {"zh": "缺失节点", "en": "Missing nodes"},
    "stage": {"zh": "阶段", "en": "Stage"},
    "deal": {"zh": "商机", "en": "Deal"},
    "industry": {"zh": "行业", "en": "Industry"},
    "open_conversation": {"zh": "选中一行查看会话详情", "en": "Select a row to open the conversation"},
    "pick_conversation": {"zh": "选择会话", "en": "Choose a conversation"},
    "not_found": {"zh": "找不到这个会话。", "en": "Conversation not found."},
    "transcript": {"zh": "对话与关键事件", "en": "Transcript and key events"},
    "tree": {"zh": "关键事件树", "en": "Key-event tree"},
    "node_scores": {"zh": "节点评分与辅导", "en": "Node scores and coaching"},
    "order_conformance": {"zh": "顺序符合度", "en": "Order conformance"},
    "no_events": {"zh": "这个会话没有识别到关键事件。", "en": "No key events were found in this conversation."},
    "tip": {"zh": "辅导建议", "en": "Coaching tip"},
    "status_present": {"zh": "已执行", "en": "present"},
    "status_missed": {"zh": "缺失", "en": "missed"},
    "status_not_applicable": {"zh": "未出现（非必需）", "en": "absent (optional)"},
    "key_points": {"zh": "要点完成", "en": "Key points"},
    "communication_skill": {"zh": "沟通技巧", "en": "Communication skill"},
    "attitude": {"zh": "沟通态度", "en": "Attitude"},
    "customer_feedback": {"zh": "客户反馈", "en": "Customer feedback"},
    "total": {"zh": "总分", "en": "Total"},
    "evidence": {"zh": "事件证据", "en": "Event evidence"},
    "search_text": {"zh": "搜索话术（支持中文子串）", "en": "Search text (Chinese substrings work)"},
    "search_events": {"zh": "关键事件", "en": "Key events"},
    "results": {"zh": "条结果", "en": "results"},
    "no_results": {"zh": "没有匹配的话术。", "en": "No matching utterances."},
    "speaker": {"zh": "说话人", "en": "Speaker"},
    "text": {"zh": "内容", "en": "Text"},
    "role_rep": {"zh": "销售", "en": "Rep"},
    "role_customer": {"zh": "客户", "en": "Customer"},
    "role_other": {"zh": "系统", "en": "System"},
    "reply": {"zh": "回应", "en": "reply"},
    "conversations_count": {"zh": "会话数", "en": "Conversations"},
    "play_from": {"zh": "从关键事件处播放录音", "en": "Play the recording from a key event"},
    "play_start": {"zh": "从头播放", "en": "From the start"},
    "role_confidence": {"zh": "角色置信度", "en": "role confidence"},
}


def language() -> str:
    """The viewer's language (sidebar choice), Chinese by default."""
    return st.session_state.get("lang", "zh")


def t(key: str) -> str:
    """The board's text for ``key`` in the viewer's language."""
    return _STRINGS[key][language()]


@lru_cache(maxsize=4)
def _sop(path: str) -> Sop | None:
    try:
        return load_sop(path)
    except SopError:
        return None


def node_label(node_id: str | None) -> str:
    """A node's name in the viewer's language, from the SOP file (its id if unknown)."""
    if not node_id:
        return t("reply")
    sop = _sop(os.environ.get("KEYNODE_SOP", "configs/sop.yaml"))
    try:
        return sop.node(node_id).label(language()) if sop else node_id
    except KeyError:
        return node_id


def node_order() -> list[str]:
    """Node ids in SOP order (empty if the SOP cannot be read)."""
    sop = _sop(os.environ.get("KEYNODE_SOP", "configs/sop.yaml"))
    return list(sop.node_ids) if sop else []
