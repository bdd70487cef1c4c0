"""Small wording rules shared by the drafters: joining a plan measure and the user's target."""

from __future__ import annotations

import re

_CLAUSE_SPLIT_RE = re.compile(r"[，；]")
_PLAN_VERBS = frozenset({"推动", "推进", "加强", "加大", "完善", "提高", "提升", "确保", "做好", "抓好", "落实",
                         "健全", "深化", "强化", "力争", "持续", "积极", "全面", "扎实", "切实", "进一"})
# Other openings of a target the user may write: kept as written.
_PLAN_STARTS = frozenset({"完成", "建成", "建立", "开展", "组织", "实现", "争取", "保持", "新建", "改造", "打造",
                          "创建", "举办", "召开", "出台", "制定", "启动", "继续", "坚持", "用好", "依托", "配齐",
                          "加快", "巩固", "争创", "全力", "努力", "建设", "开通", "优化", "规范", "拓展", "探索",
                          "创新", "落细", "筹建", "组建", "新增", "增加", "提早", "严格", "着力", "大力", "不断",
                          "年内", "全年", "明年", "同时"})


def join_plan(lead: str, plan: str) -> str:
    """The bank's measure sentence and the user's own target as one sentence: `措施，目标。`

    When the target uses a verb the measure's last clause already uses (`…，推动A。` + `推动B`), that
    clause gives way to the target instead of reading `推动A，推动B`; a one-clause measure then stands
    as its own sentence before the target. A bare result (`达标率全面提升`) is introduced with 确保.
    """
    plan = plan.strip().rstrip("。；;，,")
    lead = lead.strip().rstrip("。；;，,")
    if not lead:
        return plan + "。"
    if not plan:
        return lead + "。"
    if plan[:2] not in _PLAN_VERBS and plan[:2] not in _PLAN_STARTS and "争" not in plan:
        plan = "确保" + plan        # a bare result (`训练达标率全面提升`) reads as a target with 确保
    clauses = _CLAUSE_SPLIT_RE.split(lead)
    # The target's own verbs (`推动…`, `…全面提升`) already in the measure's last clause: it gives way.
    if any(v in clauses[-1] and v in plan for v in _PLAN_VERBS - {"进一", "全面"}):
        if len(clauses) > 1:
            cut = max(lead.rfind("，"), lead.rfind("；"))
            return lead[:cut] + "，" + plan + "。"
        return lead + "。" + plan + "。"
    return lead + "，" + plan + "。"
