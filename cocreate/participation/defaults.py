"""The decision rules the law and the seeds name, as data a county can change afterwards.

Each rule: (code, name, default electorate, legal basis, thresholds). A threshold is
(stage, group, measure, base, numerator, denominator, strict): strict means "more than".
Installed by migration ``0002_default_rules``; ``install_rules`` takes the model classes so the
migration can pass its historical ones.
"""

from typing import Any

Q, P = "quorum", "pass"
HEAD, AREA = "headcount", "area"
ALL, PRESENT = "electorate", "participants"

RULES = [
    (
        "simple_poll",
        "简单多数（一人一票）",
        "residents",
        "",
        [(P, 1, HEAD, PRESENT, 1, 2, True)],
    ),
    (
        "simple_poll_households",
        "简单多数（一户一票）",
        "households",
        "",
        [(P, 1, HEAD, PRESENT, 1, 2, True)],
    ),
    (
        "villagers_meeting",
        "村民会议（本村18周岁以上村民过半数参加）",
        "adults",
        "《村民委员会组织法》第二十二条",
        [(Q, 1, HEAD, ALL, 1, 2, True), (P, 1, HEAD, PRESENT, 1, 2, True)],
    ),
    (
        "villagers_meeting_households",
        "村民会议（本村三分之二以上的户的代表参加）",
        "households",
        "《村民委员会组织法》第二十二条",
        [(Q, 1, HEAD, ALL, 2, 3, False), (P, 1, HEAD, PRESENT, 1, 2, True)],
    ),
    (
        "representatives_meeting",
        "村民代表会议",
        "representatives",
        "《村民委员会组织法》第二十六条",
        [(Q, 1, HEAD, ALL, 2, 3, False), (P, 1, HEAD, PRESENT, 1, 2, True)],
    ),
    (
        "party_members_meeting",
        "党员大会审议（四议两公开）",
        "party_members",
        "",
        [(Q, 1, HEAD, ALL, 2, 3, False), (P, 1, HEAD, ALL, 1, 2, True)],
    ),
    (
        "owners_major",
        "业主共同决定（筹集、使用维修资金，改建、重建，改变共有部分用途等）",
        "owners",
        "《民法典》第二百七十八条",
        [
            (Q, 1, AREA, ALL, 2, 3, False),
            (Q, 1, HEAD, ALL, 2, 3, False),
            (P, 1, AREA, PRESENT, 3, 4, False),
            (P, 1, HEAD, PRESENT, 3, 4, False),
        ],
    ),
    (
        "owners_ordinary",
        "业主共同决定（其他事项）",
        "owners",
        "《民法典》第二百七十八条",
        [
            (Q, 1, AREA, ALL, 2, 3, False),
            (Q, 1, HEAD, ALL, 2, 3, False),
            (P, 1, AREA, PRESENT, 1, 2, True),
            (P, 1, HEAD, PRESENT, 1, 2, True),
        ],
    ),
    (
        "renovation_willingness",
        "老旧小区改造意愿征询（三分之二以上业主同意）",
        "owners",
        "",
        [(P, 1, HEAD, ALL, 2, 3, False)],
    ),
]


def install_rules(vote_rule: Any, rule_threshold: Any) -> int:
    """Creates the rules that are missing (an existing code is left as the county set it)."""
    created_count = 0
    for code, name, electorate, basis, thresholds in RULES:
        rule, created = vote_rule.objects.get_or_create(
            code=code, defaults={"name": name, "electorate": electorate, "legal_basis": basis}
        )
        if not created:
            continue
        created_count += 1
        for stage, group, measure, base, num, den, strict in thresholds:
            rule_threshold.objects.create(
                rule=rule,
                stage=stage,
                group=group,
                measure=measure,
                base=base,
                numerator=num,
                denominator=den,
                strict=strict,
            )
    return created_count
