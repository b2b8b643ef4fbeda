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
    # conversation page: auto notes and interaction metrics (docs/scoring.md)
    "notes": {"zh": "会话笔记", "en": "Notes"},
    "no_notes": {"zh": "这个会话没有可记的需求、异议、认可或下一步。",
                 "en": "No needs, objections, approvals or next steps to note in this conversation."},
    "no_notes_stored": {"zh": "这个会话还没有笔记（在笔记功能之前处理）。运行 `keynode rescore` 补上。",
                        "en": "No notes stored for this conversation (processed before notes existed). "
                              "Run `keynode rescore` to add them."},
    "metrics": {"zh": "会话指标", "en": "Conversation metrics"},
    "no_metrics_stored": {"zh": "这个会话还没有指标（在指标功能之前处理）。运行 `keynode rescore` 补上。",
                          "en": "No metrics stored for this conversation (processed before metrics existed). "
                                "Run `keynode rescore` to add them."},
    "metric": {"zh": "指标", "en": "Metric"},
    "value": {"zh": "数值", "en": "Value"},
    "explanation": {"zh": "说明", "en": "Explanation"},
    "not_applicable": {"zh": "不适用", "en": "not applicable"},
    "metric_talk_ratio": {"zh": "销售说话占比", "en": "Rep talk ratio"},
    "metric_longest_rep_monologue": {"zh": "销售最长独白", "en": "Longest rep monologue"},
    "metric_longest_customer_story": {"zh": "客户最长叙述", "en": "Longest customer story"},
    "metric_interactivity": {"zh": "互动频率", "en": "Interactivity"},
    "metric_rep_response_latency_s": {"zh": "销售回应时间", "en": "Rep response time"},
    "metric_rep_interruptions": {"zh": "销售打断次数", "en": "Rep interruptions"},
    "metric_wait_after_question_s": {"zh": "提问后等待", "en": "Wait after a question"},
    "metric_question_count": {"zh": "提问数", "en": "Questions asked"},
    "metric_question_rate": {"zh": "提问频率", "en": "Question rate"},
    "metric_speaking_pace": {"zh": "语速", "en": "Speaking pace"},
    "metric_filler_rate": {"zh": "语气词频率", "en": "Filler rate"},
    "unit_s": {"zh": "秒", "en": "s"},
    "unit_chars": {"zh": "字", "en": "chars"},
    "unit_words": {"zh": "词", "en": "words"},
    "unit_count": {"zh": "次", "en": ""},
    "unit_per_min": {"zh": "次/分钟", "en": "per min"},
    "unit_per_10_messages": {"zh": "次/10 条消息", "en": "per 10 messages"},
    "unit_per_10_min": {"zh": "个/10 分钟", "en": "per 10 min"},
    "unit_per_100_messages": {"zh": "个/100 条消息", "en": "per 100 messages"},
    "unit_chars_per_min": {"zh": "字/分钟", "en": "chars/min"},
    "unit_words_per_min": {"zh": "词/分钟", "en": "words/min"},
    "unit_per_100_chars": {"zh": "次/100 字", "en": "per 100 chars"},
    "unit_per_100_words": {"zh": "次/100 词", "en": "per 100 words"},
    # coaching page (pipeline/scoring/analytics.py)
    "coaching": {"zh": "辅导", "en": "Coaching"},
    "leaderboard": {"zh": "排行榜", "en": "Leaderboard"},
    "rank_by": {"zh": "排名依据", "en": "Rank by"},
    "min_conversations": {"zh": "参与排名的最少会话数", "en": "Fewest conversations to be ranked"},
    "rank": {"zh": "名次", "en": "Rank"},
    "reason": {"zh": "备注", "en": "Note"},
    "too_few_conversations": {"zh": "会话少于 {n} 个，不排名", "en": "fewer than {n} conversations: not ranked"},
    "call_total": {"zh": "会话总分", "en": "Call score"},
    "node_metric": {"zh": "节点得分：{node}", "en": "Node score: {node}"},
    "no_teams": {"zh": "会话没有团队信息，下面是全部销售的排名。",
                 "en": "No conversation has a team: this ranks every rep together."},
    "all_teams": {"zh": "全部销售", "en": "All reps"},
    "empty_leaderboard": {"zh": "这个团队还没有可排名的会话。", "en": "This team has no conversations to rank yet."},
    "rep_detail": {"zh": "销售个人辅导", "en": "One rep"},
    "no_reps": {"zh": "会话都没有销售信息，无法按销售统计。在 manifest 或 configs/reps.yaml 里填写销售。",
                "en": "No conversation names its rep, so nothing can be shown per rep. "
                      "Fill in the rep in the manifest or configs/reps.yaml."},
    "node_averages": {"zh": "各节点平均表现", "en": "Average per node"},
    "mean_total": {"zh": "平均得分（缺失计 0）", "en": "Mean score (missed = 0)"},
    "mean_total_present": {"zh": "执行时平均得分", "en": "Mean score when done"},
    "weakest_nodes": {"zh": "最弱节点（与团队对比）", "en": "Weakest nodes (against the team)"},
    "no_weakest": {"zh": "还没有节点被评分至少 2 次，暂时看不出弱项。",
                   "en": "No node was scored in at least 2 conversations yet, so there is no weak spot to show."},
    "scored_count": {"zh": "评分次数", "en": "Times scored"},
    "team_mean": {"zh": "团队平均", "en": "Team mean"},
    "gap_to_team": {"zh": "与团队差距", "en": "Gap to team"},
    "weekly_trend": {"zh": "每周趋势（节点平均得分）", "en": "Weekly trend (mean node score)"},
    "no_trend": {"zh": "没有带开始时间的会话，画不出趋势。", "en": "No conversation with a start time: no trend to draw."},
    "one_week": {"zh": "只有一周的数据，先列出数值；多于一周后显示折线图。",
                 "en": "Only one week so far, so the values are listed; a chart appears once there are more weeks."},
    "week": {"zh": "周", "en": "Week"},
    "exemplars": {"zh": "同事示范：{node}", "en": "Peer exemplars: {node}"},
    "exemplars_help": {"zh": "其他销售处理这个节点最好的会话（赢单优先），点开后看标出的话术。",
                       "en": "Other reps' best handling of this node (won deals first); open one and read "
                             "the marked utterances."},
    "no_exemplars": {"zh": "其他销售还没有执行过这个节点的会话。", "en": "No other rep has a conversation with this node yet."},
    "outcome_title": {"zh": "赢单与输单的差别", "en": "What separates won from lost deals"},
    "feature": {"zh": "指标", "en": "Feature"},
    "node_total_feature": {"zh": "{node} · 得分", "en": "{node} · score"},
    "node_presence_feature": {"zh": "{node} · 是否执行", "en": "{node} · done"},
    "won_count": {"zh": "赢单数", "en": "Won"},
    "lost_count": {"zh": "输单数", "en": "Lost"},
    "mean_won": {"zh": "赢单平均", "en": "Mean, won"},
    "mean_lost": {"zh": "输单平均", "en": "Mean, lost"},
    "difference": {"zh": "差值（赢 − 输）", "en": "Difference (won − lost)"},
    "interval": {"zh": "95% 区间", "en": "95% interval"},
    "significant": {"zh": "显著", "en": "Significant"},
    "win_rate_present": {"zh": "执行时赢单率", "en": "Win rate when done"},
    "win_rate_absent": {"zh": "未执行时赢单率", "en": "Win rate when not done"},
    "lift": {"zh": "提升倍数", "en": "Lift"},
    "coefficient": {"zh": "关联系数", "en": "Association"},
    "points": {"zh": " 个百分点", "en": " pp"},
    # login and roles (dashboards/auth.py, pipeline/access.py)
    "login": {"zh": "登录", "en": "Log in"},
    "log_in": {"zh": "登录", "en": "Log in"},
    "log_out": {"zh": "退出登录", "en": "Log out"},
    "username": {"zh": "用户名", "en": "Username"},
    "password": {"zh": "密码", "en": "Password"},
    "login_failed": {"zh": "用户名或密码不正确。", "en": "Wrong username or password."},
    "login_locked": {"zh": "连续登录失败次数过多，请 {seconds} 秒后再试。",
                     "en": "Too many failed logins; try again in {seconds} s."},
    "users_broken": {"zh": "账号文件有误，暂时无法登录。请管理员按下面的提示修复：",
                     "en": "The accounts file is broken, so nobody can log in. An admin can fix it as follows:"},
    "role": {"zh": "角色", "en": "Role"},
    "role_manager": {"zh": "经理", "en": "Manager"},
    "role_trainer": {"zh": "培训师", "en": "Trainer"},
    "role_admin": {"zh": "管理员", "en": "Admin"},
    "no_data_for_you": {"zh": "还没有您可以查看的会话（销售只看到自己的会话，经理只看到本团队的）。",
                        "en": "No conversations you may see yet (reps see their own, managers their team's)."},
    "being_written": {"zh": "正在处理第一批会话，完成后这里会显示数据（每隔几秒发布一次）。请稍后刷新。",
                      "en": "The first batch is being processed; data appears here once it is published "
                            "(every few seconds). Refresh in a moment."},
    "page_failed": {"zh": "这个页面出错了，已记录在看板日志中。请刷新重试；如果一直出错，请把日志发给管理员。",
                    "en": "This page failed; the board's log has the details. Refresh to retry, and if it keeps "
                          "failing, send the log to your admin."},
    # deal path (业务路径)
    "deal_path": {"zh": "业务路径", "en": "Deal path"},
    "no_deals": {"zh": "还没有带商机编号的会话（在 manifest.csv 的 deal 列填写）。",
                 "en": "No conversation names its deal yet (fill the deal column of manifest.csv)."},
    "stage_reached": {"zh": "到达阶段", "en": "Stage reached"},
    "reps": {"zh": "销售", "en": "Reps"},
    "nodes_per_conversation": {"zh": "每次沟通覆盖的 SOP 节点", "en": "SOP nodes covered in each conversation"},
    "deal_timeline": {"zh": "沟通时间线", "en": "Timeline"},
    "jump_to_event": {"zh": "跳转到关键事件（通话从该处播放）", "en": "Jump to a key event (calls play from there)"},
    "export_csv": {"zh": "导出 CSV", "en": "Export CSV"},
    # pages by role
    "my_page": {"zh": "我的主页", "en": "My page"},
    "my_conversations": {"zh": "我的会话", "en": "My conversations"},
    "objection_library": {"zh": "异议库", "en": "Objection library"},
    "disputes": {"zh": "评分申诉", "en": "Disputes"},
    "access_log": {"zh": "访问日志", "en": "Access log"},
    "accessed_at": {"zh": "访问时间", "en": "Opened at"},
    "page": {"zh": "页面", "en": "Page"},
    "no_access": {"zh": "还没有访问记录。", "en": "Nobody opened a conversation yet."},
    # overview
    "open_disputes": {"zh": "待处理申诉", "en": "Open disputes"},
    "weekly_team_trend": {"zh": "每周趋势（平均通话得分）", "en": "Weekly trend (mean call score)"},
    "compliance_heatmap": {"zh": "SOP 执行热力图（销售 × 节点，节点出现的会话占比）",
                           "en": "SOP compliance heatmap (reps × nodes: share of conversations with the node)"},
    # search
    "search_help": {"zh": "输入关键词（空格分隔的词都要出现），或选择关键事件、销售、团队等筛选条件。",
                    "en": "Type words (all must occur), or pick key events, reps, teams or other filters."},
    "showing_first": {"zh": "显示前", "en": "showing the first"},
    "rep_answer": {"zh": "销售的回应", "en": "The rep answered"},
    "open_in_conversation": {"zh": "打开会话", "en": "Open the conversation"},
    "outcome_accepted": {"zh": "客户接受", "en": "customer accepted"},
    "outcome_recurred": {"zh": "异议再次出现", "en": "objection came back"},
    "outcome_unresolved": {"zh": "未解决", "en": "unresolved"},
    "outcome_open": {"zh": "客户未表态", "en": "customer did not say"},
    "outcome_no_reply": {"zh": "销售未回应", "en": "rep did not answer"},
    # objection library (pipeline/scoring/objections.py)
    "objection_library_help": {"zh": "按主题归类的客户异议，以及效果最好的回应（客户接受的优先，其次按该节点得分）。",
                               "en": "Customer objections grouped by theme, with the answers that worked best "
                                     "(accepted by the customer first, then by the node's score)."},
    "no_objections": {"zh": "还没有记录到异议。", "en": "No objections recorded yet."},
    "objections_count": {"zh": "条异议", "en": "objections"},
    "accepted_share": {"zh": "回应被接受", "en": "answers accepted"},
    "typical_wording": {"zh": "典型说法", "en": "Typical wording"},
    "best_answers": {"zh": "最佳回应", "en": "Best answers"},
    "no_answers": {"zh": "这些异议都没有得到回应。", "en": "None of these objections was answered."},
    "all_wordings": {"zh": "全部 {n} 种说法", "en": "All {n} wordings"},
    "top_wordings": {"zh": "最常见的 {shown} 种说法（共 {n} 种）", "en": "The {shown} most frequent of {n} wordings"},
    "theme_competitor": {"zh": "竞品更便宜", "en": "A competitor is cheaper"},
    "theme_budget": {"zh": "超出预算", "en": "Over budget"},
    "theme_discount": {"zh": "要求优惠", "en": "Asks for a discount"},
    "theme_price": {"zh": "价格太高", "en": "Too expensive"},
    "theme_other": {"zh": "其他", "en": "Other"},
    # corrections and disputes (dashboards/actions.py, pipeline/store/review.py)
    "corrections": {"zh": "标签纠正", "en": "Label corrections"},
    "correction_help": {"zh": "给某条话术加上或去掉一个关键事件标签；`keynode train-tagger --db` 会从纠正中学习。",
                        "en": "Add or remove a key-event label on an utterance; `keynode train-tagger --db` "
                              "learns from corrections."},
    "utterance": {"zh": "话术", "en": "Utterance"},
    "correction_action": {"zh": "操作", "en": "Action"},
    "correction_add": {"zh": "添加标签", "en": "add label"},
    "correction_remove": {"zh": "去掉标签", "en": "remove label"},
    "correction_note": {"zh": "备注（可选）", "en": "Note (optional)"},
    "correction_submit": {"zh": "保存纠正", "en": "Save correction"},
    "correction_saved": {"zh": "已保存。", "en": "Saved."},
    "no_corrections": {"zh": "这个会话还没有人工纠正。", "en": "Nobody corrected this conversation yet."},
    # original texts kept before redaction (configs/privacy.yaml keep_original: true), admins only
    "original_texts": {"zh": "原文（仅管理员）", "en": "Original text (admins only)"},
    "original_texts_help": {"zh": "这些话术在入库前做了个人信息脱敏；按 configs/privacy.yaml（keep_original: true）保留了原文，"
                                  "只有管理员可见。",
                            "en": "Personal data was redacted from these utterances before they were stored; their "
                                  "original text is kept as configs/privacy.yaml says (keep_original: true) and only "
                                  "admins see it."},
    "original": {"zh": "原文", "en": "Original"},
    "redacted": {"zh": "脱敏后", "en": "Redacted"},
    "dispute": {"zh": "申诉", "en": "Dispute"},
    "dispute_comment": {"zh": "对这个评分有异议？写下理由", "en": "Disagree with this score? Say why"},
    "dispute_submit": {"zh": "提交申诉", "en": "Submit dispute"},
    "dispute_saved": {"zh": "申诉已提交，经理会看到。", "en": "Dispute submitted; your manager will see it."},
    "dispute_status": {"zh": "状态", "en": "Status"},
    "dispute_open": {"zh": "待处理", "en": "open"},
    "dispute_accepted": {"zh": "已接受", "en": "accepted"},
    "dispute_rejected": {"zh": "已驳回", "en": "rejected"},
    "dispute_accept": {"zh": "接受", "en": "Accept"},
    "dispute_reject": {"zh": "驳回", "en": "Reject"},
    "resolution": {"zh": "处理意见", "en": "Resolution"},
    "no_disputes": {"zh": "没有这个状态的申诉。", "en": "No disputes with this status."},
}


#: What a rep's answer led to (``NoteItem.outcome``), for search results and the objection library.
REACTIONS = ("accepted", "recurred", "unresolved", "open", "no_reply")


def reaction_label(outcome: str | None) -> str:
    """How an objection answer's outcome reads in the viewer's language ('' when unknown)."""
    return t(f"outcome_{outcome}") if outcome in REACTIONS else ""


def default_language() -> str:
    """The board's language before anyone picks one: ``$KEYNODE_LANG`` (zh or en), else Chinese."""
    wanted = os.environ.get("KEYNODE_LANG", "zh")
    return wanted if wanted in LANGUAGES else "zh"


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


def metric_name(name: str) -> str:
    """A conversation metric's name in the viewer's language (its id if unknown)."""
    key = f"metric_{name}"
    return t(key) if key in _STRINGS else name


def unit_label(unit: str) -> str:
    """A metric unit in the viewer's language (as stored if unknown; empty for plain counts in English)."""
    key = f"unit_{unit}"
    return t(key) if key in _STRINGS else unit
