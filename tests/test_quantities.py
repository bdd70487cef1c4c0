"""Table-driven tests for `pipeline.facts.quantities` (quantity extraction, DOMAIN.md §3)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from pipeline.cli import run
from pipeline.facts.quantities import CANONICAL_UNITS, extract_quantities, report_quantities, to_base

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "reports" / "000_82892d5cb8a93b68.txt"

# (text, [(span text, value, unit, kind, masked, approx), ...]); value None when masked
C = "count"
M = "money"
P = "percent"
R = "rank"

POSITIVE: list[tuple[str, list[tuple[str, str | None, str, str, bool, bool]]]] = [
    # --- real-report misses (issue 11): acronyms, quoted data, units outside the first list, masks, 大写
    ("全县GDP19.92亿元，同比增长", [("19.92亿元", "19.92", "亿元", M, False, False)]),
    ("确立“大镇10万元、小镇8万元”的标准", [("10万元", "10", "万元", M, False, False),
                                          ("8万元", "8", "万元", M, False, False)]),
    ("新建器材架32组", [("32组", "32", "组", C, False, False)]),
    ("争取资金300万美元", [("300万美元", "300", "万美元", M, False, False)]),
    ("制作牌匾一块。", [("一块", "1", "块", C, False, False)]),
    ("亩产xxxx斤", [("xxxx斤", None, "斤", "other", True, False)]),
    ("共有民兵** 名", [("** 名", None, "名", C, True, False)]),
    ("下辖×村", [("×村", None, "村", C, True, False)]),
    ("拨付壹佰贰拾万元", [("壹佰贰拾万元", "120", "万元", M, False, False)]),
    ("廿二人参加", [("廿二人", "22", "人", C, False, False)]),
    ("共一百十六人", [("一百十六人", "116", "人", C, False, False)]),
    ("大学生入伍五人", [("五人", "5", "人", C, False, False)]),
    ("奖励壹拾壹元整", [("壹拾壹元整", "11", "元", M, False, False)]),
    ("计玖仟陆佰陆拾伍圆壹角捌分", [("玖仟陆佰陆拾伍圆壹角捌分", "9665.18", "元", M, False, False)]),
    ("新增装备两辆、巡逻艇3艘", [("两辆", "2", "辆", C, False, False), ("3艘", "3", "艘", C, False, False)]),
    # --- Arabic counts
    ("输送合格青年215人。", [("215人", "215", "人", C, False, False)]),
    ("妥善安置退役士兵士官36名", [("36名", "36", "名", C, False, False)]),
    ("召开常委会专题研究武装工作4次", [("4次", "4", "次", C, False, False)]),
    ("协调解决实际问题12个", [("12个", "12", "个", C, False, False)]),
    ("在3所高中设立征兵工作站", [("3所", "3", "所", C, False, False)]),
    ("分5批参加集中轮训", [("5批", "5", "批", C, False, False)]),
    ("请领到8件退役装备", [("8件", "8", "件", C, False, False)]),
    ("开展国防教育活动26场次", [("26场次", "26", "场次", C, False, False)]),
    ("受教育群众达1.2万人次", [("1.2万人次", "12000", "人次", C, False, True)]),
    ("走访慰问困难家庭120户", [("120户", "120", "户", C, False, False)]),
    ("帮扶企业15家", [("15家", "15", "家", C, False, False)]),
    ("配发无人机4台", [("4台", "4", "台", C, False, False)]),
    ("新建器材库2处", [("2处", "2", "处", C, False, False)]),
    ("完成项目7项", [("7项", "7", "项", C, False, False)]),
    ("组建应急分队3支", [("3支", "3", "支", C, False, False)]),
    ("修缮营房1座", [("1座", "1", "座", C, False, False)]),
    ("举办培训班6期", [("6期", "6", "期", C, False, False)]),
    ("出动车辆40辆", [("40辆", "40", "辆", C, False, False)]),
    ("印发宣传册3000册", [("3000册", "3000", "册", C, False, False)]),
    ("累计授课48课时", [("48课时", "48", "课时", C, False, False)]),
    ("实现7连冠", [("7连冠", "7", "连冠", C, False, False)]),
    ("覆盖12村", [("12村", "12", "村", C, False, False)]),
    ("民兵1,250人", [("1,250人", "1250", "人", C, False, False)]),
    ("出台措施20条", [("20条", "20", "条", C, False, False)]),
    ("张贴标语300余幅", [("300余幅", "300", "幅", C, False, True)]),
    ("发放资料500多份", [("500多份", "500", "份", C, False, True)]),
    # --- full-width digits and odd spaces (spans index the original string)
    ("选派１２人参加集训", [("１２人", "12", "人", C, False, False)]),
    ("合格率９８％", [("９８％", "98", "%", P, False, False)]),
    ("投入２．５万元", [("２．５万元", "2.5", "万元", M, False, False)]),
    ("共\u00a0215\u00a0人参加", [("215\u00a0人", "215", "人", C, False, False)]),
    ("民兵\u3000３０名集结", [("３０名", "30", "名", C, False, False)]),
    ("出动 20 人次", [("20 人次", "20", "人次", C, False, False)]),
    # --- Chinese numerals
    ("分三批组织轮训", [("三批", "3", "批", C, False, False)]),
    ("先后三次召开常委会", [("三次", "3", "次", C, False, False)]),
    ("共有一千二百三十四名民兵", [("一千二百三十四名", "1234", "名", C, False, False)]),
    ("组织两千人参加", [("两千人", "2000", "人", C, False, False)]),
    ("选派十五人", [("十五人", "15", "人", C, False, False)]),
    ("编组三百零五人", [("三百零五人", "305", "人", C, False, False)]),
    ("召开议军会两次", [("两次", "2", "次", C, False, False)]),
    ("召开一次专题会议", [("一次", "1", "次", C, False, False)]),
    ("走访慰问二十三户", [("二十三户", "23", "户", C, False, False)]),
    ("连续实现“全国双拥模范城”七连冠", [("七连冠", "7", "连冠", C, False, False)]),
    ("建成四个民兵哨所", [("四个", "4", "个", C, False, False)]),
    ("新建三处训练场", [("三处", "3", "处", C, False, False)]),
    ("表彰一名先进个人", [("一名", "1", "名", C, False, False)]),
    ("投入资金一百二十万元", [("一百二十万元", "120", "万元", M, False, False)]),
    ("组织民兵一万二千人", [("一万二千人", "12000", "人", C, False, False)]),
    ("累计两万人参训", [("两万人", "20000", "人", C, False, True)]),
    # --- money
    ("投入45万元", [("45万元", "45", "万元", M, False, False)]),
    ("总投资1.5亿元", [("1.5亿元", "1.5", "亿元", M, False, False)]),
    ("发放补助3000元", [("3000元", "3000", "元", M, False, False)]),
    ("拨付两千万元", [("两千万元", "2000", "万元", M, False, False)]),
    ("筹措资金三亿元", [("三亿元", "3", "亿元", M, False, False)]),
    ("慰问金12.5万元", [("12.5万元", "12.5", "万元", M, False, False)]),
    ("投入经费近百万元", [("近百万元", "100", "万元", M, False, True)]),
    ("落实经费80余万元", [("80余万元", "80", "万元", M, False, True)]),
    ("发放慰问金约5万元", [("约5万元", "5", "万元", M, False, True)]),
    # --- scaled counts
    ("普通民兵精简到2.1万人", [("2.1万人", "21000", "人", C, False, True)]),
    ("受教育群众3万多名", [("3万多名", "30000", "名", C, False, True)]),
    ("覆盖十余万人", [("十余万人", "100000", "人", C, False, True)]),
    ("惠及近万户", [("近万户", "10000", "户", C, False, True)]),
    # --- percent
    ("参训率98％", [("98％", "98", "%", P, False, False)]),
    ("合格率100%", [("100%", "100", "%", P, False, False)]),
    ("大学生征集比例98.5%", [("98.5%", "98.5", "%", P, False, False)]),
    ("合格率达到百分之九十八", [("百分之九十八", "98", "%", P, False, False)]),
    ("参训率达百分之百", [("百分之百", "100", "%", P, False, False)]),
    ("满意率95%以上", [("95%以上", "95", "%", P, False, True)]),
    ("同比提高5个百分点", [("5个百分点", "5", "个百分点", P, False, False)]),
    ("占比百分之三十五", [("百分之三十五", "35", "%", P, False, False)]),
    ("合格率90%—95%", [("90%—95%", "90", "%", P, False, False)]),
    # --- approximate
    ("组织两千余人参加", [("两千余人", "2000", "人", C, False, True)]),
    ("开展活动近百次", [("近百次", "100", "次", C, False, True)]),
    ("约300人参加", [("约300人", "300", "人", C, False, True)]),
    ("超过500人", [("超过500人", "500", "人", C, False, True)]),
    ("逾千人次观展", [("逾千人次", "1000", "人次", C, False, True)]),
    ("参加人数在200人左右", [("200人左右", "200", "人", C, False, True)]),
    ("不足10人", [("不足10人", "10", "人", C, False, True)]),
    ("百余人参加", [("百余人", "100", "人", C, False, True)]),
    ("千余人", [("千余人", "1000", "人", C, False, True)]),
    ("将近三十名", [("将近三十名", "30", "名", C, False, True)]),
    # --- ranges
    ("18—35周岁的适龄青年", [("18—35周岁", "18", "周岁", "other", False, False)]),
    ("每村3至5个", [("3至5个", "3", "个", C, False, False)]),
    ("每次三至五个", [("三至五个", "3", "个", C, False, False)]),
    ("培训3-5天", [("3-5天", "3", "天", "duration", False, False)]),
    # --- ranks
    ("考评排名全市第一", [("第一", "1", "", R, False, False)]),
    ("排名全市第3", [("第3", "3", "", R, False, False)]),
    ("位列全省第二", [("第二", "2", "", R, False, False)]),
    ("排名第三", [("第三", "3", "", R, False, False)]),
    ("获第一名", [("第一名", "1", "名", R, False, False)]),
    ("排在军分区第2位", [("第2位", "2", "位", R, False, False)]),
    ("考核位居全市第一，", [("第一", "1", "", R, False, False)]),
    ("全国第一的好成绩", [("第一", "1", "", R, False, False)]),
    ("名次在第xx位", [("第xx位", None, "位", R, True, False)]),
    ("考评获第*名", [("第*名", None, "名", R, True, False)]),
    ("排名全市第*，", [("第*", None, "", R, True, False)]),
    # --- ordinals
    ("第三季度完成", [("第三季度", "3", "季度", "ordinal", False, False)]),
    ("第二批试点", [("第二批", "2", "批", "ordinal", False, False)]),
    ("全省第一批试点", [("第一批", "1", "批", "ordinal", False, False)]),
    ("第3次会议", [("第3次", "3", "次", "ordinal", False, False)]),
    ("第五届全国文明城市", [("第五届", "5", "届", "ordinal", False, False)]),
    # --- years and dates
    ("2022年以来", [("2022年", "2022", "年", "year", False, False)]),
    ("二〇二三年工作", [("二〇二三年", "2023", "年", "year", False, False)]),
    ("２０２３年", [("２０２３年", "2023", "年", "year", False, False)]),
    ("20XX年度", [("20XX年", None, "年", "year", True, False)]),
    ("2021—2023年", [("2021—2023年", "2021", "年", "year", False, False)]),
    ("8月27日召开", [("8月27日", "827", "月日", "date", False, False)]),
    ("1-6月份完成", [("1-6月份", "1", "月", "date", False, False)]),
    ("9月份", [("9月份", "9", "月", "date", False, False)]),
    ("十月一日", [("十月一日", "1001", "月日", "date", False, False)]),
    ("于15日前上报", [("15日", "15", "日", "date", False, False)]),
    ("2023年8月27日", [("2023年", "2023", "年", "year", False, False),
                      ("8月27日", "827", "月日", "date", False, False)]),
    # --- durations and other measures
    ("三年来", [("三年", "3", "年", "duration", False, False)]),
    ("近三年", [("三年", "3", "年", "duration", False, False)]),
    ("集训5个月", [("5个月", "5", "个月", "duration", False, False)]),
    ("驻训15天", [("15天", "15", "天", "duration", False, False)]),
    ("服役满2年", [("2年", "2", "年", "duration", False, False)]),
    ("射击训练48小时", [("48小时", "48", "小时", "duration", False, False)]),
    ("建成面积1200平方米", [("1200平方米", "1200", "平方米", "other", False, False)]),
    ("徒步行军30公里", [("30公里", "30", "公里", "other", False, False)]),
    ("建党100周年", [("100周年", "100", "周年", "other", False, False)]),
    ("年满18周岁", [("18周岁", "18", "周岁", "other", False, False)]),
    # --- masks
    ("对**个乡镇进行编组", [("**个", None, "个", C, True, False)]),
    ("普通民兵精简到*万人", [("*万人", None, "人", C, True, False)]),
    ("基干民兵精简至****人", [("****人", None, "人", C, True, False)]),
    ("参训率达到**％", [("**％", None, "%", P, True, False)]),
    ("拨付***万元", [("***万元", None, "万元", M, True, False)]),
    ("投入x.x万元", [("x.x万元", None, "万元", M, True, False)]),
    ("占比xx%", [("xx%", None, "%", P, True, False)]),
    ("民兵XX人", [("XX人", None, "人", C, True, False)]),
    ("出动×名", [("×名", None, "名", C, True, False)]),
    ("选派1*人", [("1*人", None, "人", C, True, False)]),
    ("在*所高中", [("*所", None, "所", C, True, False)]),
    ("分*批参加", [("*批", None, "批", C, True, False)]),
    ("＊＊名退役士兵", [("＊＊名", None, "名", C, True, False)]),
    # --- cases found on the held-out set and on the corpus
    ("完成营区改造二期工程", [("二期", "2", "期", "ordinal", False, False)]),
    ("新建民兵之家一个。", [("一个", "1", "个", C, False, False)]),
    ("力争进入全市前两名", [("前两名", "2", "名", R, False, True)]),
    ("大学生比例不低于80%", [("不低于80%", "80", "%", P, False, True)]),
    ("连续三届获评模范县", [("三届", "3", "届", C, False, False)]),
    ("出动车辆90余台次", [("90余台次", "90", "台次", C, False, True)]),
    ("身高160厘米以上", [("160厘米以上", "160", "厘米", "other", False, True)]),
    ("二〇XX年，镇党委", [("二〇XX年", None, "年", "year", True, False)]),
    ("每季度听取一次汇报", [("一次", "1", "次", C, False, False)]),
    ("上万人次参加", [("上万人次", "10000", "人次", C, False, True)]),
    ("线上培训3次", [("3次", "3", "次", C, False, False)]),
    ("第1、2批民兵", [("2批", "2", "批", "ordinal", False, False)]),
    ("一百多名", [("一百多名", "100", "名", C, False, True)]),
    ("3月至5月", [("3月至5月", "3", "月", "date", False, False)]),
    ("5000余元", [("5000余元", "5000", "元", M, False, True)]),
    ("**%以上", [("**%以上", None, "%", P, True, True)]),
    ("考核得分98.5分", [("98.5分", "98.5", "分", "other", False, False)]),
    ("集训两个多月", [("两个多月", "2", "个月", "duration", False, True)]),
    ("一季度完成整组", [("一季度", "1", "季度", "ordinal", False, False)]),
    ("8月27号报到", [("8月27号", "827", "月日", "date", False, False)]),
    ("解决随军家属就业十一人", [("十一人", "11", "人", C, False, False)]),
    ("报名青年*,***人", [("*,***人", None, "人", C, True, False)]),
    ("合格率百分之九十八点五", [("百分之九十八点五", "98.5", "%", P, False, False)]),
    ("占比百分之98", [("百分之98", "98", "%", P, False, False)]),
    ("覆盖一点五万人", [("一点五万人", "15000", "人", C, False, True)]),
    ("提高二点五个百分点", [("二点五个百分点", "2.5", "个百分点", P, False, False)]),
    ("规模扩大两倍", [("两倍", "2", "倍", "other", False, False)]),
    ('他说"好，投入45万元，"八一"期间', [("45万元", "45", "万元", M, False, False)]),
    ("被评为“参训率95%先进单位”", []),
    # --- traditional characters: units come out simplified, spans stay as written
    ("輸送新兵兩百餘人", [("兩百餘人", "200", "人", C, False, True)]),
    ("投入資金45萬元", [("45萬元", "45", "万元", M, False, False)]),
    ("組建分隊3個", [("3個", "3", "个", C, False, False)]),
    ("受教育群眾2.1萬人次", [("2.1萬人次", "21000", "人次", C, False, True)]),
    # --- several figures in one sentence
    ("投入45万元，慰问**户，合格率100％。", [
        ("45万元", "45", "万元", M, False, False),
        ("**户", None, "户", C, True, False),
        ("100％", "100", "%", P, False, False),
    ]),
    ("2022年，拨付***万元补助***名退役士兵自谋职业，**名退役士兵实现岗位安置。", [
        ("2022年", "2022", "年", "year", False, False),
        ("***万元", None, "万元", M, True, False),
        ("***名", None, "名", C, True, False),
        ("**名", None, "名", C, True, False),
    ]),
    ("一是召开常委会3次，二是走访慰问驻军部队12次、发放慰问金8.6万元。", [
        ("3次", "3", "次", C, False, False),
        ("12次", "12", "次", C, False, False),
        ("8.6万元", "8.6", "万元", M, False, False),
    ]),
    ("征兵工作“五率”考评排名全市第一，输送青年215人，其中大学生占68%。", [
        ("第一", "1", "", R, False, False),
        ("215人", "215", "人", C, False, False),
        ("68%", "68", "%", P, False, False),
    ]),
    ("“八一”期间走访慰问部队3次，发放慰问金两万元。", [
        ("3次", "3", "次", C, False, False),
        ("两万元", "2", "万元", M, False, False),
    ]),
    ("第一书记带头，全年开展活动二十余场次，受教育群众1.5万人次。", [
        ("二十余场次", "20", "场次", C, False, True),
        ("1.5万人次", "15000", "人次", C, False, True),
    ]),
    ("《**县征兵工作20条措施》出台后，在*所高中设站。", [("*所", None, "所", C, True, False)]),
    ("（一）加强领导。2023年召开议军会2次。", [
        ("2023年", "2023", "年", "year", False, False),
        ("2次", "2", "次", C, False, False),
    ]),
    ("1.强化训练，组织民兵300人。", [("300人", "300", "人", C, False, False)]),
    ("一、立足岗位\n全年集训３批、９６０人次", [
        ("３批", "3", "批", C, False, False),
        ("９６０人次", "960", "人次", C, False, False),
    ]),
    # --- N成: tenths as a percent (三成 = 30 %), always approximate
    ("退役军人中党员占四成", [("四成", "40", "%", P, False, True)]),
    ("参训人员接近六成以上来自农村", [("接近六成以上", "60", "%", P, False, True)]),
    ("返乡大学生约两成报名", [("约两成", "20", "%", P, False, True)]),
    ("合格率占比*成", [("*成", None, "%", P, True, False)]),
    # --- an inner 一十 in a Chinese numeral must not be read as an idiom like 一村一品
    ("全年接收退役士兵二百一十七名。", [("二百一十七名", "217", "名", C, False, False)]),
    ("区财政安排优抚资金三百一十二万元", [("三百一十二万元", "312", "万元", M, False, False)]),
    ("编组普通民兵五万一千一百一十人", [("五万一千一百一十人", "51110", "人", C, False, False)]),
    ("登记应征青年一千零一十人", [("一千零一十人", "1010", "人", C, False, False)]),
    # --- a change from one level to another: both levels are figures
    ("应急分队由去年的七百四十人增至八百一十人", [
        ("七百四十人", "740", "人", C, False, False),
        ("八百一十人", "810", "人", C, False, False),
    ]),
    ("专武干部从43名增加到51名", [("43名", "43", "名", C, False, False), ("51名", "51", "名", C, False, False)]),
    ("参训人数由一千一百人提高到一千三百一十人", [
        ("一千一百人", "1100", "人", C, False, False),
        ("一千三百一十人", "1310", "人", C, False, False),
    ]),
    # --- numeral-only stop words (万一, 八一) do not cut a number that goes on with a place unit
    ("全县普通民兵二万一千人", [("二万一千人", "21000", "人", C, False, False)]),
]

TRAPS: list[str] = [
    "作为县人武部党委第一书记", "书记是第一责任人", "一把手亲自抓", "县委一班人", "进一步加强", "统一规划、统一部署",
    "一系列措施", "确保万无一失", "一年来，我始终坚持", "今年以来", "深入一线", "高度一致", "同一时间", "唯一标准",
    "一起研究", "一同走访", "一道参加", "逐一落实", "军地一体化", "取得了一定成绩", "增强四个意识", "做到两个维护",
    "落实三个亲自", "坚定四个自信", "征兵“五率”考评", "“八一”“春节”期间", "“一园二馆三区”建设", "党的二十大精神",
    "十九届六中全会精神", "十四五规划", "八一建军节", "五四青年节", "四川籍战士", "赴三亚训练", "零售企业", "服务百姓",
    "千方百计解决", "三令五申", "一心一意谋发展", "来自五湖四海", "一是推进民兵改革训练", "二是圆满完成任务",
    "（一）加强组织领导", "(二)强化训练", "第一章 总则", "1、加强领导", "2.严格考核", "***镇", "**镇**村", "×市",
    "驻x部队", "XX精神", "**县武装部", "一次性补助", "有了一个更加清晰的认识", "作为一项长期的战略任务",
    "涌现出一批先进典型", "打造一支过硬队伍", "在一年的工作中", "第一时间赶到", "位居全省第一方阵", "放在第一位",
    "摆在第一位的", "力争排在全省前列", "在县委十五届第二十二次全体会议上", "十五届县委全体会议", "千家万户", "万众一心", "一岗双责", "一村一品", "两学一做", "三会一课",
    "两不愁三保障", "一带一路", "统一思想", "十九大以来", "百年未有之大变局", "数十人", "几百次", "一线民兵",
    "学习贯彻二十届三中全会精神", "十三届人大", "三个“亲自”", "XX同志", "一个个难题", "一件件实事", "四面八方",
    "一如既往", "一以贯之", "其一", "之一", "初三学生", "周一例会", "星期五", "唯一性", "同一个目标", "两个确立",
    "四个全面", "五位一体", "一张蓝图绘到底", "一把尺子量到底", "我带领四套班子成员走访", "从四个方面持续用力",
    "新的一年，我将", "过去一年，在市委领导下", "国防教育三年行动", "专武干部一人多岗", "二十届三中全会",
    "两三次", "十几人", "数百人", "上级要求", "十分重要", "澄政发〔2023〕12号文件", "3号楼", "每季度召开", "“十一”期间", "十一期间走访", "十一黄金周", "提出三点要求", "还有一点差距", "抓好重点工作",
    # 成 after a numeral that starts another word, or 成 inside a verb
    "四成员单位联合检查", "取得三成效", "一成不变的老办法", "按期完成", "逐步形成合力", "营区已建成使用", "组成联合小组",
    "统一成立应急分队", "五成群结队", "七成熟的方案",
    # nobody left out: idioms of completeness, not counts
    "帮扶政策落实到位、不落一人", "困难军属一人不落全部走访", "参训对象不漏一人", "适龄青年一个不少完成登记",
    "为退役军人建立一人一档", "困难家庭一户不落", "万一发生险情",
    # false hits on real reports (issue 11)
    "这是提高的一件大事", "狠抓三项创建", "坚持“三个转移”", "特殊三类力量", "市委第二十二次全体会议",
    "军队大陆建设", "加强队伍建设", "被评为“参训率95%先进单位”", "2020年07月30日 17:57  来源：县融媒体中心",
]


def _check(text: str, expected: list[tuple[str, str | None, str, str, bool, bool]]) -> None:
    found = extract_quantities(text)
    got = [(q.text, None if q.value is None else json.loads(json.dumps(q.to_json()))["value"],
            q.unit, q.kind, q.masked, q.approx) for q in found]
    assert got == expected
    for q in found:
        assert text[q.start:q.end] == q.text


@pytest.mark.parametrize(("text", "expected"), POSITIVE, ids=[t for t, _ in POSITIVE])
def test_positive(text, expected):
    _check(text, expected)


@pytest.mark.parametrize("text", TRAPS)
def test_trap(text):
    assert extract_quantities(text) == []


def test_case_counts():
    # the brief asks for at least 200 table cases, a third of them traps
    assert len(POSITIVE) + len(TRAPS) >= 200
    assert len(TRAPS) * 3 >= len(POSITIVE) + len(TRAPS)


# --------------------------------------------------------------------------- bounds and scope

@pytest.mark.parametrize(
    ("text", "lower", "upper"),
    [
        ("2.1万人", "20500", "21500"),
        ("2万人", "15000", "25000"),
        ("两千余人", "2000", None),
        ("近百次", None, "100"),
        ("约300人", "270", "330"),
        ("超过500人", "500", None),
        ("95%以上", "95", None),
        ("不足10人", None, "10"),
        ("18—35周岁", "18", "35"),
        ("三至五个", "3", "5"),
        ("1-6月份", "1", "6"),
        ("2021—2023年", "2021", "2023"),
        ("215人", None, None),
        ("一点五万人", "14500", "15500"),
        ("80余万元", "80", None),
        ("三成", "25", "35"),          # a bare tenth is itself rounded: ±5 points
        ("超过七成", "70", None),
        ("近九成", None, "90"),
    ],
)
def test_bounds(text, lower, upper):
    (q,) = extract_quantities(text)
    assert q.lower == (None if lower is None else Decimal(lower))
    assert q.upper == (None if upper is None else Decimal(upper))


@pytest.mark.parametrize(
    ("text", "scope"),
    [("排名全市第一", "全市"), ("位列全省第二", "全省"), ("军分区第3名", "军分区"), ("排名第三", None),
     ("全市考核排名第一", "全市"), ("在全省比武中获得第二名", "全省"), ("全市，排名第三", None),
     ("力争进入全省前10名", "全省")],
)
def test_rank_scope(text, scope):
    (q,) = extract_quantities(text)
    assert q.kind == "rank" and q.scope == scope


@pytest.mark.parametrize(
    ("text", "expected"),
    [("全民国防教育工作保持全省前列。", [("前列", None, "全省")]),
     ("力争征兵考评进入全市前三名，保持全县的前列", [("前三名", "3", "全市"), ("前列", None, "全县")]),
     ("考评排名全市第4名，保持前列", [("第4名", "4", "全市")]),        # 前列 without a scope: a word
     ("人武部建设进入全省第一方阵", [])],
)
def test_report_quantities_add_qualitative_ranks(text, expected):
    found = [q for q in report_quantities(text) if q.kind == "rank"]
    assert [(q.text, q.to_json()["value"], q.scope) for q in found] == expected
    assert all(text[q.start:q.end] == q.text for q in found)


def test_offsets_index_original_text():
    text = "\ufeff一、\u00a0总体情况\r\n全年集训\u3000３批、共计\u00a0９６０人次，投入２．５万元。"
    found = extract_quantities(text)
    assert [text[q.start:q.end] for q in found] == ["３批", "９６０人次", "２．５万元"]
    assert [q.start for q in found] == [text.index("３批"), text.index("９６０"), text.index("２．５")]


def test_sorted_and_never_overlapping():
    text = SEED.read_text(encoding="utf-8") * 2
    found = extract_quantities(text)
    assert found == sorted(found, key=lambda q: q.start)
    for a, b in zip(found, found[1:], strict=False):
        assert a.end <= b.start


def test_empty_text():
    assert extract_quantities("") == []


# --------------------------------------------------------------------------- seed report

def test_seed_masked_figures_all_masked():
    text = SEED.read_text(encoding="utf-8")
    found = extract_quantities(text)
    masked_texts = [q.text for q in found if q.masked]
    assert masked_texts == ["第*", "**个", "**个", "*万人", "****人", "*批", "**％", "*所", "***人", "**％",
                            "***万元", "***名", "**名", "***名", "*件"]
    plain = [(q.text, q.kind) for q in found if not q.masked]
    assert plain == [("2022年", "year"), ("第一", "rank"), ("100％", "percent"), ("2022年", "year"),
                     ("45万元", "money")]


@pytest.mark.parametrize("word", ["二十大", "第一书记", "一是", "“五率”", "“八一”", "一园二馆三区", "**镇", "20条"])
def test_seed_traps_not_extracted(word):
    text = SEED.read_text(encoding="utf-8")
    assert word in text
    for q in extract_quantities(text):
        start = text.find(word)
        while start != -1:
            assert not (q.start < start + len(word) and start < q.end), (word, q.text)
            start = text.find(word, start + 1)


# --------------------------------------------------------------------------- units

@pytest.mark.parametrize(
    ("value", "unit", "base_value", "base_unit"),
    [
        ("45", "万元", "450000", "元"),
        ("1.5", "亿元", "150000000", "元"),
        ("2.1", "万人", "21000", "人"),
        ("3", "万人次", "30000", "人次"),
        ("98", "％", "98", "%"),
        ("215", "人", "215", "人"),
        ("36", "名", "36", "名"),
        ("3", "公里", "3000", "米"),
        ("10", "斤", "5", "公斤"),
        ("300", "万美元", "3000000", "美元"),
        ("2", "吨", "2000", "公斤"),
    ],
)
def test_to_base(value, unit, base_value, base_unit):
    assert to_base(Decimal(value), unit) == (Decimal(base_value), base_unit)


def test_canonical_units_keep_people_units_distinct():
    assert CANONICAL_UNITS["％"] == "%"
    assert CANONICAL_UNITS["人"] == "人" and CANONICAL_UNITS["名"] == "名"
    assert CANONICAL_UNITS["万元"] == "万元" and CANONICAL_UNITS["亿元"] == "亿元"


# --------------------------------------------------------------------------- CLI

def test_facts_cli_json(tmp_path, capsys):
    report = tmp_path / "r.txt"
    report.write_text("2023年，召开议军会3次，投入**万元，参训率98％。\n", encoding="utf-8")
    assert run(["facts", str(report), "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert items == [
        {"text": "2023年", "start": 0, "end": 5, "value": "2023", "unit": "年", "kind": "year",
         "masked": False, "approx": False},
        {"text": "3次", "start": 11, "end": 13, "value": "3", "unit": "次", "kind": "count",
         "masked": False, "approx": False},
        {"text": "**万元", "start": 16, "end": 20, "value": None, "unit": "万元", "kind": "money",
         "masked": True, "approx": False},
        {"text": "98％", "start": 24, "end": 27, "value": "98", "unit": "%", "kind": "percent",
         "masked": False, "approx": False},
    ]


def test_facts_cli_table(tmp_path, capsys):
    report = tmp_path / "r.txt"
    report.write_text("组织两千余人参加，排名全市第一。", encoding="utf-8")
    assert run(["facts", str(report)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("2-6\t数量\t两千余人\t2000 人\t约数（≥2000）")
    assert lines[1] == "13-15\t排名\t第一\t1 -\t范围：全市"
    assert lines[-1] == "共 2 个数字，其中遮盖 0 个。"


def test_facts_cli_out_file(tmp_path, capsys):
    report = tmp_path / "r.txt"
    report.write_text("输送青年215人。", encoding="utf-8")
    out = tmp_path / "sub" / "facts.json"
    assert run(["facts", str(report), "--out", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))[0]["value"] == "215"
    assert "1 个数字" in capsys.readouterr().out


def test_facts_cli_missing_file(tmp_path, capsys):
    assert run(["facts", str(tmp_path / "nope.txt")]) == 2      # a path that does not exist: usage
    err = capsys.readouterr().err
    assert "nope.txt" in err and "找不到" in err


def test_facts_cli_seed(capsys):
    assert run(["facts", str(SEED), "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert sum(item["masked"] for item in items) == 15
    assert all(item["value"] is None for item in items if item["masked"])


# --------------------------------------------------------------------------- text tables

TABLE_CASES = [
    # (text, expected (text, value, unit) of every figure)
    ("项目\u3000\u3000单位\u3000\u3000本年\u3000\u3000上年\n民兵连\u3000\u3000个\u3000\u300014\u3000\u300012",
     [("14", "14", "个"), ("12", "12", "个")]),
    ("合格率\t%\t97.5\t95", [("97.5", "97.5", "%"), ("95", "95", "%")]),
    ("专项经费  万元  18.6  —", [("18.6", "18.6", "万元")]),
    ("参训人数  万人  1.2  0.9", [("1.2", "12000", "人"), ("0.9", "9000", "人")]),
    ("退役军人\u3000人\u3000***", [("***", None, "人")]),
]


@pytest.mark.parametrize(("text", "expected"), TABLE_CASES)
def test_text_table_row_takes_its_unit_cell(text, expected):
    """A figure in a typed table row has its unit in a cell of its own, to the left."""
    from pipeline.facts.quantities import table_cell

    found = [q for q in extract_quantities(text) if q.kind != "year"]
    assert [(q.text, None if q.value is None else str(q.value), q.unit) for q in found] == expected
    assert all(table_cell(text, q) is not None for q in found)


@pytest.mark.parametrize("text", [
    "民兵连  个",                       # two cells only
    "民兵连 个 14",                     # single spaces are not cell separators
    "新建  民兵连  14个",               # no unit cell: left to the prose passes
    "人员\u3000\u3000人\u3000\u3000若干",  # a word after the unit cell: not a row of figures
])
def test_text_table_needs_three_cells_and_a_unit_cell(text):
    from pipeline.facts.quantities import table_cell

    assert all(table_cell(text, q) is None for q in extract_quantities(text))


@pytest.mark.parametrize(("header", "year", "previous"), [
    ("上年", None, True), ("去年", None, True), ("上年度", 2024, True), ("2023年", 2024, True),
    ("本年", 2024, False), ("2024年", 2024, False), ("", 2024, False),
])
def test_previous_year_column_header(header, year, previous):
    from pipeline.facts.quantities import previous_year_header

    assert previous_year_header(header, year) is previous


def test_unit_table_is_data():
    from pipeline.facts import quantities

    rows = [line.split("\t") for line in quantities.UNITS_FILE.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    written = {r[0] for r in rows}
    assert {"美元", "亩", "斤", "公里", "艘", "组", "块", "辆"} <= written
    assert written == set(quantities._UNIT_TABLE)


def test_unit_table_rejects_a_bad_row(tmp_path):
    from pipeline.facts import quantities

    bad = tmp_path / "units.tsv"
    bad.write_text("人\t人\tpeople\n", encoding="utf-8")
    with pytest.raises(ValueError, match="units.tsv:1"):
        quantities._load_units(bad)
