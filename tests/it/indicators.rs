//! Indicators on a small inbox whose every figure can be checked by hand.
//! The files are written below; each test works its expected numbers out
//! in comments from these rows.
//!
//! Registry (active villages: 甲 乙 丙 丁 in 如皋市 320682, 己 in 海安市
//! 320685; 戊 is merged into 丁 in March 2024, so it counts before that):
//!   320682100001 如皋市 城北街道 甲村   households 400
//!   320682100002 如皋市 城北街道 乙村   300
//!   320682101001 如皋市 东陈镇   丙村   200
//!   320682101002 如皋市 东陈镇   丁村   100 (former name 旧丁村)
//!   320682101003 如皋市 东陈镇   戊村   merged into 320682101002 on 2024-03-01:
//!                                       in the 2023 registry, not in 2024's
//!   320685100001 海安市 城东镇   己社区 kind 社区 (counted as a village by
//!                                       default); reports only T01 (2023-12, 2024-11)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::util::{bin, Out};

const KEY: &str = "1111111111111111111111111111111111111111111111111111111111111111";

fn write(dir: &Path, name: &str, header: &str, rows: &[&str]) {
    let mut s = String::from(header);
    s.push('\n');
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    std::fs::write(dir.join(name), s).unwrap();
}

const LOC: &str = "县(市、区),镇(街道),村(社区),区划代码";
const JIA: &str = "如皋市,城北街道,甲村,320682100001";
const YI: &str = "如皋市,城北街道,乙村,320682100002";
const BING: &str = "如皋市,东陈镇,丙村,320682101001";
const DING: &str = "如皋市,东陈镇,丁村,320682101002";
const JI: &str = "海安市,城东镇,己社区,320685100001";

/// Booleans S01…S24 with the listed standards not met.
fn standards(missed: &[usize]) -> String {
    (1..=24)
        .map(|i| if missed.contains(&i) { "否" } else { "是" })
        .collect::<Vec<_>>()
        .join(",")
}

/// The inbox and registry of this module (see the module comment).
pub fn make_inbox(root: &Path) -> (PathBuf, PathBuf) {
    let inbox = root.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let registry = root.join("南通市村社区名录.csv");
    std::fs::write(
        &registry,
        "区划代码,县(市、区),镇(街道),村(社区),曾用名,类型,撤并情况,撤并时间,户籍户数\n\
         320682100001,如皋市,城北街道,甲村,,村,,,400\n\
         320682100002,如皋市,城北街道,乙村,,村,,,300\n\
         320682101001,如皋市,东陈镇,丙村,,村,,,200\n\
         320682101002,如皋市,东陈镇,丁村,旧丁村,村,,,100\n\
         320682101003,如皋市,东陈镇,戊村,,村,320682101002,2024-03-01,50\n\
         320685100001,海安市,城东镇,己社区,,社区,,,500\n",
    )
    .unwrap();
    let t01 = format!(
        "{LOC},统计期,户籍户数,党员数,村党组织类型,网格数,网格党支部数,党小组数,党员中心户数"
    );
    write(
        &inbox,
        "如皋市_村级组织架构统计表_2024年6月.csv",
        &t01,
        &[
            &format!("{JIA},2024年6月,400,40,党总支,4,2,3,8"),
            &format!("{YI},2024年6月,300,30,党支部,3,0,2,6"),
            &format!("{BING},2024年6月,200,20,党支部,2,1,1,2"),
        ],
    );
    write(
        &inbox,
        "如皋市_村级组织架构统计表_2024年12月.csv",
        &t01,
        &[
            &format!("{JIA},2024年12月,400,40,党总支,4,3,4,10"),
            &format!("{YI},2024年12月,300,30,党支部,3,1,2,6"),
            &format!("{BING},2024年12月,200,20,无,2,1,1,3"),
            &format!("{DING},2024年12月,100,10,党支部,1,1,1,1"),
        ],
    );
    // 海安市's last report of 2024 is November: its November stands for 2024
    write(
        &inbox,
        "海安市_村级组织架构统计表_2023年12月.csv",
        &t01,
        &[&format!("{JI},2023年12月,500,50,党支部,2,1,1,3")],
    );
    write(
        &inbox,
        "海安市_村级组织架构统计表_2024年11月.csv",
        &t01,
        &[&format!("{JI},2024年11月,500,50,党支部,2,2,2,5")],
    );
    let s_head = (1..=24)
        .map(|i| format!("S{i:02}"))
        .collect::<Vec<_>>()
        .join(",");
    write(
        &inbox,
        "如皋市_基层党建标准化评估表_2024.csv",
        &format!("{LOC},年度,{s_head},村党组织星级,书记星级"),
        &[
            &format!("{JIA},2024,{},5,4", standards(&[])),
            &format!("{YI},2024,{},3,3", standards(&[5])),
            &format!("{BING},2024,{},5,5", standards(&[1, 2])),
        ],
    );
    write(
        &inbox,
        "如皋市_软弱涣散村党组织整顿台账_2024.csv",
        &format!("{LOC},认定年度,组建工作班子,选派第一书记,考察研判,整顿清单,专题组织生活会,教育培训,解决突出问题,整改报告,是否转化,转化时间,书记调整,群众满意度"),
        &[
            &format!("{YI},2023,是,是,是,是,是,是,是,是,是,2024-03-01,是,96%"),
            &format!("{BING},2023,是,是,是,是,是,是,否,否,否,,否,88%"),
            &format!("{DING},2024,是,是,是,是,否,否,否,否,否,,否,"),
        ],
    );
    let t04 = format!("{LOC},年度,姓名,等级,档次,月基本报酬,年度报酬,是否专职,选聘事业编制,选聘时间,进入镇领导班子,进入时间");
    // 王五's 2023 promotion and 张三's 2023 career post are in both ledgers
    write(
        &inbox,
        "如皋市_村书记专职化管理台账_2024.csv",
        &t04,
        &[
            &format!("{JIA},2024,张三,一级,3,6500,120000,是,是,2023-09-01,否,"),
            &format!("{YI},2024,李四,二级,8,5000,90000,是,否,,是,2024-01-01"),
            &format!("{BING},2024,王五,二级,10,4000,60000,否,否,,是,2023-05-01"),
        ],
    );
    write(
        &inbox,
        "如皋市_村书记专职化管理台账_2023.csv",
        &t04,
        &[
            &format!("{JIA},2023,张三,二级,5,6000,110000,是,是,2023-09-01,否,"),
            &format!("{BING},2023,王五,二级,10,4000,58000,否,否,,是,2023-05-01"),
            &format!("{DING},2023,赵六,三级,12,3500,50000,是,是,2022-03-01,否,"),
        ],
    );
    write(
        &inbox,
        "如皋市_党群致富共同体名册_2024.csv",
        &format!("{LOC},共同体编号,名称,成员户数"),
        &[
            &format!("{JIA},GT001,甲村果蔬共同体,20"),
            &format!("{BING},GT002,丙村养殖共同体,12"),
        ],
    );
    // last year's roster: a snapshot of its own, not added to this year's
    write(
        &inbox,
        "如皋市_党群致富共同体名册_2023.csv",
        &format!("{LOC},共同体编号,名称,成员户数"),
        &[&format!("{JIA},GT001,甲村果蔬共同体,15")],
    );
    let t06 = format!("{LOC},年度,户编号,家庭年纯收入,是否共同体成员,共同体编号,加入年份,家庭人口");
    // H1 joins in 2024, H4 in 2023; H2, H3, H5 never join
    let incomes: [Household; 5] = [
        (JIA, "H1", [50000, 52000, 58000], Some(2024), "GT001"),
        (JIA, "H2", [40000, 42000, 44000], None, ""),
        (JIA, "H3", [60000, 61000, 63000], None, ""),
        (BING, "H4", [30000, 36000, 37000], Some(2023), "GT002"),
        (BING, "H5", [35000, 36000, 38000], None, ""),
    ];
    // people per household: H1 4, H2 3, H3 5, H4 2, H5 3
    let persons = |h: &str| match h {
        "H1" => 4,
        "H3" => 5,
        "H4" => 2,
        _ => 3,
    };
    for (k, year) in [2022, 2023, 2024].iter().enumerate() {
        let rows: Vec<String> = incomes
            .iter()
            .map(|(loc, h, inc, join, com)| match join {
                Some(j) if *j <= *year => {
                    format!("{loc},{year},{h},{},是,{com},{j},{}", inc[k], persons(h))
                }
                _ => format!("{loc},{year},{h},{},否,,,{}", inc[k], persons(h)),
            })
            .collect();
        let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
        write(
            &inbox,
            &format!("如皋市_农户收入监测表_{year}.csv"),
            &t06,
            &refs,
        );
    }
    let t07 = format!("{LOC},年度,集体经营性收入");
    // 2021, then no 2022: 2023 has no year-over-year figure
    write(
        &inbox,
        "如皋市_村级集体经济收入统计表_2021.csv",
        &t07,
        &[&format!("{JIA},2021,50")],
    );
    write(
        &inbox,
        "如皋市_村级集体经济收入统计表_2023.csv",
        &t07,
        &[
            &format!("{JIA},2023,60"),
            &format!("{YI},2023,25"),
            &format!("{BING},2023,8"),
            &format!("{DING},2023,40"),
            // 戊村 before its merge into 丁村 (2024-03-01), named without a code
            "如皋市,东陈镇,戊村,,2023,30",
        ],
    );
    write(
        &inbox,
        "如皋市_村级集体经济收入统计表_2024.csv",
        &format!("{t07},是否经济薄弱村"),
        &[
            &format!("{JIA},2024,120,否"),
            &format!("{YI},2024,30,是"),
            &format!("{BING},2024,9,是"),
        ],
    );
    write(
        &inbox,
        "如皋市_党员培训与双带统计表_2024.csv",
        &format!("{LOC},年度,培训人次,双带党员数,领办创办项目数"),
        &[&format!("{JIA},2024,120,5,2"), &format!("{YI},2024,80,3,1")],
    );
    write(
        &inbox,
        "如皋市_强村加油站收益台账_2024.csv",
        "加油站编号,名称,县(市、区),入股资金,年度,帮扶村,分红金额",
        &[
            "JYZ01,如皋市强村加油站1号,如皋市,100,2024,甲村,40",
            "JYZ01,如皋市强村加油站1号,如皋市,100,2024,乙村,35",
            "JYZ01,如皋市强村加油站1号,如皋市,100,2024,丙村,30",
        ],
    );
    // a file name that Excel would run as a formula if it were not quoted
    write(
        &inbox,
        "=HYPERLINK(\"x\")如皋市_千企联千村项目表_2024.csv",
        &format!("{LOC},项目编号,企业名称,项目类型"),
        &[
            &format!("{JIA},XM01,甲企业,资源共享"),
            &format!("{JIA},XM02,乙企业,产销对接"),
            &format!("{BING},XM03,丙企业,人才联培"),
        ],
    );
    write(
        &inbox,
        "如皋市_考核评价汇总表_2024.csv",
        &format!("{LOC},年度,自我评价,督导组评价,社会公众评价,党建观察员评价,发展得分,党建得分"),
        &[
            &format!("{JIA},2024,90,80,70,60,80,85"),
            &format!("{YI},2024,100,90,80,70,70,75"),
            &format!("{BING},2024,50,60,70,80,60,65"),
        ],
    );
    write(
        &inbox,
        "如皋市_新经济组织党组织覆盖表_2024.csv",
        &format!("{LOC},组织名称,类型,是否建立党组织,建立时间"),
        &[
            &format!("{JIA},甲合作社,合作社,是,2021-05-01"),
            &format!("{YI},乙企业,企业,否,"),
            &format!("{BING},丙基地,产业基地,是,2022-07-01"),
            &format!("{DING},丁合作社,合作社,是,2023-01-01"),
        ],
    );
    (inbox, registry)
}

pub fn zx_out(args: &[&str]) -> Out {
    let o = std::process::Command::new(bin())
        .args(args)
        .env("ZHENXING_KEY", KEY)
        .current_dir(super::util::repo())
        .output()
        .unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).to_string(),
        stderr: String::from_utf8_lossy(&o.stderr).to_string(),
    }
}

/// `zhenxing run --quiet` on an inbox and registry into `out`.
fn run_into(inbox: &Path, registry: &Path, out: &Path) -> Out {
    zx_out(&[
        "run",
        "--quiet",
        "--inbox",
        inbox.to_str().unwrap(),
        "--registry",
        registry.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

/// The run over the fixture inbox, once per test process: OUT folder.
fn out() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let (inbox, registry) = make_inbox(d.path());
        let out = d.path().join("out");
        let o = run_into(&inbox, &registry, &out);
        if o.code != 0 {
            let q = zx_out(&[
                "query",
                "--out",
                out.to_str().unwrap(),
                "--csv",
                "SELECT source_file, cell, code, message_en, raw_value FROM rejects",
            ]);
            panic!(
                "run: {}\n{}\nrejects:\n{}{}",
                o.stdout, o.stderr, q.stdout, q.stderr
            );
        }
        assert!(o.stdout.contains("indicators:"), "{}", o.stdout);
        d
    })
    .path()
}

pub fn out_dir() -> PathBuf {
    out().join("out")
}

type Key = (String, Option<String>, String, String, String);
/// value, numerator, denominator, villages reporting, registry villages
type Fig = (Option<f64>, Option<f64>, Option<f64>, u64, u64);
/// location, household, incomes 2022–2024, joining year, community
type Household<'a> = (&'a str, &'a str, [i64; 3], Option<i32>, &'a str);

/// (indicator, category, period, level, geo) → (value, numerator, denominator, reporting, registry)
fn table() -> &'static BTreeMap<Key, Fig> {
    static T: OnceLock<BTreeMap<Key, Fig>> = OnceLock::new();
    T.get_or_init(|| {
        let df =
            zhenxing::lake::read_parquet(&out_dir().join("indicators/indicators.parquet")).unwrap();
        let s = |n: &str| df.column(n).unwrap().str().unwrap().clone();
        let f = |n: &str| df.column(n).unwrap().f64().unwrap().clone();
        let u = |n: &str| df.column(n).unwrap().u64().unwrap().clone();
        let (id, cat, per, lev, geo) = (
            s("indicator_id"),
            s("category"),
            s("period"),
            s("level"),
            s("geo_code"),
        );
        let (val, num, den) = (f("value"), f("numerator"), f("denominator"));
        let (rep, reg) = (u("villages_reporting"), u("villages_registry"));
        let mut m = BTreeMap::new();
        for i in 0..df.height() {
            m.insert(
                (
                    id.get(i).unwrap().to_string(),
                    cat.get(i).map(str::to_string),
                    per.get(i).unwrap().to_string(),
                    lev.get(i).unwrap().to_string(),
                    geo.get(i).unwrap().to_string(),
                ),
                (
                    val.get(i),
                    num.get(i),
                    den.get(i),
                    rep.get(i).unwrap(),
                    reg.get(i).unwrap(),
                ),
            );
        }
        m
    })
}

/// `period_used` of an indicator's row without category.
fn period_used(id: &str, period: &str, level: &str, geo: &str) -> String {
    let q = format!(
        "SELECT period_used FROM indicators WHERE indicator_id = '{id}' AND period = '{period}' \
         AND level = '{level}' AND geo_code = '{geo}' AND category IS NULL"
    );
    let o = zx_out(&["query", "--out", out_dir().to_str().unwrap(), "--csv", &q]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", o.stdout);
    lines[1].trim_matches('"').to_string()
}

fn get(id: &str, cat: Option<&str>, period: &str, level: &str, geo: &str) -> Fig {
    let k = (
        id.to_string(),
        cat.map(str::to_string),
        period.to_string(),
        level.to_string(),
        geo.to_string(),
    );
    *table().get(&k).unwrap_or_else(|| panic!("no row {k:?}"))
}

fn value(id: &str, cat: Option<&str>, period: &str, level: &str, geo: &str) -> f64 {
    get(id, cat, period, level, geo)
        .0
        .unwrap_or_else(|| panic!("{id} {cat:?} {period} {geo}: no value"))
}

/// A citywide value.
fn city(id: &str, cat: Option<&str>, period: &str) -> f64 {
    value(id, cat, period, "city", CITY)
}

fn near(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

const CITY: &str = "320600";
const RUGAO: &str = "320682";
const HAIAN: &str = "320685";

#[test]
fn organisational_coverage() {
    // 2024-06: complete = 甲 (党总支, 2 branches, 3 groups, 8 households) and
    // 丙; 乙 has no grid branch; 丁 did not report. Denominator: the 5
    // active registry villages (戊 is merged away) → 2/5.
    assert_eq!(
        get("org_four_in_one", None, "2024-06", "city", CITY),
        (Some(40.0), Some(2.0), Some(5.0), 3, 5)
    );
    // 如皋市 2/4; 海安市 0/1 with no village reporting
    near(
        value("org_four_in_one", None, "2024-06", "county", RUGAO),
        50.0,
    );
    assert_eq!(
        get("org_four_in_one", None, "2024-06", "county", HAIAN),
        (Some(0.0), Some(0.0), Some(1.0), 0, 1)
    );
    // township 东陈镇 (320682101): 丙 complete, 丁 not reported → 1/2
    near(
        value("org_four_in_one", None, "2024-06", "township", "320682101"),
        50.0,
    );
    // 2024-12: 甲 乙 丁 complete, 丙 has org type 无 → 3/5
    near(city("org_four_in_one", None, "2024-12"), 60.0);
    // grid branches / grids: June (2+0+1)/(4+3+2) = 3/9, December 6/10
    near(
        city("org_grid_branch_coverage", None, "2024-06"),
        100.0 / 3.0,
    );
    near(city("org_grid_branch_coverage", None, "2024-12"), 60.0);
    // central households per 100 households: (10+6+3+1)/(400+300+200+100) × 100 = 2
    near(city("org_central_per_100_households", None, "2024-12"), 2.0);
    // per Party member: 20 / (40+30+20+10) = 0.2
    near(city("org_central_per_member", None, "2024-12"), 0.2);
    // new since June, villages in both periods (甲 乙 丙):
    // branches (3−2)+(1−0)+(1−1) = 2; groups (4−3)+0+0 = 1; central (10−8)+0+(3−2) = 3
    near(city("org_new_units", Some("网格党支部"), "2024-12"), 2.0);
    near(city("org_new_units", Some("党小组"), "2024-12"), 1.0);
    near(city("org_new_units", Some("党员中心户"), "2024-12"), 3.0);
    // each county against its own previous report: 如皋市's June has none
    // (no row), 海安市's November is measured against its 2023-12
    assert!(!table()
        .keys()
        .any(|k| k.0 == "org_new_units" && k.2 == "2024-06"));
    near(
        value(
            "org_new_units",
            Some("党员中心户"),
            "2024-11",
            "county",
            HAIAN,
        ),
        2.0,
    );
    // the year 2024 from each county's last month: 如皋市 December (甲 乙
    // 丁 complete, 丙 无 → 3/4), 海安市 November (己 complete → 1/1): 4/5
    assert_eq!(
        get("org_four_in_one", None, "2024", "city", CITY),
        (Some(80.0), Some(4.0), Some(5.0), 5, 5)
    );
    near(
        value("org_four_in_one", None, "2024", "county", HAIAN),
        100.0,
    );
    let used = |level: &str, geo: &str| period_used("org_four_in_one", "2024", level, geo);
    assert_eq!(used("city", CITY), "2024-11,2024-12");
    assert_eq!(used("county", HAIAN), "2024-11");
    assert_eq!(used("township", "320682101"), "2024-12");
    // new units in the year: last month of 2024 against last month of
    // 2023, per village; only 海安市 reported in 2023 (己: branches 2−1,
    // groups 2−1, central 5−3)
    near(city("org_new_units", Some("网格党支部"), "2024"), 1.0);
    near(city("org_new_units", Some("党员中心户"), "2024"), 2.0);
    assert!(!table()
        .keys()
        .any(|k| k.0 == "org_new_units" && k.2 == "2024" && k.3 == "county" && k.4 == RUGAO));
    // economic organisations: 3 of 4 have a Party organisation; 合作社 2/2, 企业 0/1
    near(city("org_econ_org_coverage", Some("合计"), "2024"), 75.0);
    near(city("org_econ_org_coverage", Some("合作社"), "2024"), 100.0);
    near(city("org_econ_org_coverage", Some("企业"), "2024"), 0.0);
}

#[test]
fn standardisation() {
    // only 甲 meets all 24 standards; 丁 and 己 were not assessed → 1/5
    assert_eq!(
        get("std_compliance_rate", None, "2024", "city", CITY),
        (Some(20.0), Some(1.0), Some(5.0), 3, 5)
    );
    near(
        value("std_compliance_rate", None, "2024", "county", RUGAO),
        25.0,
    );
    // 组织设置 (S01–S04): 丙 misses S01, S02 → 甲 乙 pass: 2 of the 5
    // registry villages (丁 and 己 not assessed do not pass), 2 of 3 assessed
    assert_eq!(
        get(
            "std_aspect_pass_rate",
            Some("组织设置"),
            "2024",
            "city",
            CITY
        ),
        (Some(40.0), Some(2.0), Some(5.0), 3, 5)
    );
    near(
        city("std_aspect_pass_rate_assessed", Some("组织设置"), "2024"),
        200.0 / 3.0,
    );
    // 班子建设 (S05–S08): 乙 misses S05 → 2/5; 党员队伍: all 3 assessed → 3/5
    near(city("std_aspect_pass_rate", Some("班子建设"), "2024"), 40.0);
    near(city("std_aspect_pass_rate", Some("党员队伍"), "2024"), 60.0);
    near(
        city("std_aspect_pass_rate_assessed", Some("党员队伍"), "2024"),
        100.0,
    );
    near(city("std_standard_pass_rate", Some("S01"), "2024"), 40.0);
    near(
        city("std_standard_pass_rate_assessed", Some("S01"), "2024"),
        200.0 / 3.0,
    );
    near(city("std_standard_pass_rate", Some("S03"), "2024"), 60.0);
    // stars: 甲 5, 乙 3, 丙 5, 丁 and 己 not assessed → of the 5 registry
    // villages 2 five-star (40 %), 1 three-star, 2 未评定; among the 3 rated 2/3
    // (villages_reporting of a category counts the villages in it)
    assert_eq!(
        get("std_org_stars", Some("5星"), "2024", "city", CITY),
        (Some(40.0), Some(2.0), Some(5.0), 2, 5)
    );
    near(city("std_org_stars", Some("3星"), "2024"), 20.0);
    near(city("std_org_stars", Some("未评定"), "2024"), 40.0);
    near(
        city("std_org_stars_rated", Some("5星"), "2024"),
        200.0 / 3.0,
    );
    near(
        city("std_org_stars_rated", Some("3星"), "2024"),
        100.0 / 3.0,
    );
    // secretary stars 4, 3, 5
    assert_eq!(
        get("std_secretary_stars", Some("5星"), "2024", "city", CITY).1,
        Some(1.0)
    );
    near(
        city("std_secretary_stars_rated", Some("5星"), "2024"),
        100.0 / 3.0,
    );
}

#[test]
fn rectification() {
    // identified in 2023: 乙 (transformed, 8 actions, secretary replaced, 96 %)
    // and 丙 (not transformed, 6 actions, 88 %); in 2024: 丁 (4 actions, no satisfaction)
    near(city("rect_identified", None, "2023"), 2.0);
    near(city("rect_transformed", None, "2023"), 1.0);
    near(city("rect_transformation_rate", None, "2023"), 50.0);
    // (8 + 6) / 16
    near(city("rect_actions_completion", None, "2023"), 87.5);
    near(city("rect_satisfaction", None, "2023"), 92.0);
    near(city("rect_secretaries_replaced", None, "2023"), 1.0);
    near(city("rect_transformation_rate", None, "2024"), 0.0);
    near(city("rect_actions_completion", None, "2024"), 50.0);
    // no satisfaction reported in 2024: no value, not 0
    assert_eq!(get("rect_satisfaction", None, "2024", "city", CITY).0, None);
}

#[test]
fn secretaries() {
    // levels 一级, 二级, 二级
    near(
        city("sec_level_distribution", Some("1级"), "2024"),
        100.0 / 3.0,
    );
    near(
        city("sec_level_distribution", Some("2级"), "2024"),
        200.0 / 3.0,
    );
    near(
        city("sec_grade_distribution", Some("10档"), "2024"),
        100.0 / 3.0,
    );
    // (120000 + 90000 + 60000) / 3
    near(city("sec_mean_annual_pay", None, "2024"), 90000.0);
    // monthly base pay against the monthly benchmark of 6000:
    // (6500 + 5000 + 4000) / 3 = 5166.67; 15500 / (3 × 6000) = 86.11 %
    near(
        city("sec_mean_monthly_base_pay", None, "2024"),
        15500.0 / 3.0,
    );
    assert_eq!(
        get("sec_pay_to_benchmark", None, "2024", "city", CITY).1,
        Some(15500.0)
    );
    near(
        city("sec_pay_to_benchmark", None, "2024"),
        100.0 * 15500.0 / 18000.0,
    );
    // only 张三 is at 6000 or more
    near(city("sec_pay_at_benchmark", None, "2024"), 100.0 / 3.0);
    // 1 career post among the 3 in the 2024 ledger
    near(city("sec_career_post_share", None, "2024"), 100.0 / 3.0);
    // selections in the window so far, each person once: 张三 (2023-09,
    // in both ledgers) and 赵六 (2022-03, only in the 2023 ledger) = 2;
    // the quota is 0.2 × 5 registry villages (戊 merged away) = 1 post
    near(city("sec_career_post_selected", None, "2024"), 2.0);
    assert_eq!(
        get("sec_career_post_quota_use", None, "2024", "city", CITY).0,
        Some(200.0)
    );
    assert_eq!(
        get("sec_career_post_quota_use", None, "2024", "city", CITY).2,
        Some(1.0)
    );
    // 如皋市: 2 / (0.2 × 4)
    near(
        value("sec_career_post_quota_use", None, "2024", "county", RUGAO),
        250.0,
    );
    // promotions once per person, in the year of 进入时间: 王五 in 2023
    // (again in the 2024 ledger, not counted again), 李四 in 2024
    near(city("sec_promoted", None, "2023"), 1.0);
    near(city("sec_promoted", None, "2024"), 1.0);
    near(city("sec_promoted_recent", None, "2024"), 2.0);
    near(city("sec_full_time_share", None, "2024"), 200.0 / 3.0);
}

#[test]
fn prosperity_communities_and_income_effects() {
    // each year's roster is its own snapshot: 2 communities in 2024, 1 in 2023
    near(city("comm_communities", None, "2024"), 2.0);
    near(city("comm_communities", None, "2023"), 1.0);
    near(city("comm_member_households", None, "2023"), 15.0);
    near(city("comm_member_households", None, "2024"), 32.0);
    // members among the 5 monitored households: 2022 none, 2023 H4, 2024 H1 and H4
    near(city("comm_monitored_member_share", None, "2022"), 0.0);
    near(city("comm_monitored_member_share", None, "2024"), 40.0);

    let df =
        zhenxing::lake::read_parquet(&out_dir().join("indicators/income_effects.parquet")).unwrap();
    let find = |est: &str, g: Option<i64>, t: Option<i64>| -> (Option<f64>, Option<u64>) {
        let mut hit = None;
        for i in 0..df.height() {
            let s = |n: &str| {
                df.column(n)
                    .unwrap()
                    .str()
                    .unwrap()
                    .get(i)
                    .map(str::to_string)
            };
            let n = |n: &str| df.column(n).unwrap().i64().unwrap().get(i);
            if s("scope_level").as_deref() == Some("city")
                && s("outcome").as_deref() == Some("income")
                && s("estimator").as_deref() == Some(est)
                && n("cohort") == g
                && n("year") == t
            {
                hit = Some((
                    df.column("estimate").unwrap().f64().unwrap().get(i),
                    df.column("n_treated").unwrap().u64().unwrap().get(i),
                ));
            }
        }
        hit.unwrap_or_else(|| panic!("no {est} {g:?} {t:?}"))
    };
    // before/after: H1 58000 − 51000 = 7000; H4 (36000+37000)/2 − 30000 = 6500
    let (mean, n) = find("before_after_mean", None, None);
    near(mean.unwrap(), 6750.0);
    assert_eq!(n, Some(2));
    near(
        find("before_after_share_rose", None, None).0.unwrap(),
        100.0,
    );
    // Callaway & Sant'Anna, never-members H2 H3 H5 as comparison:
    // ATT(2023,2023): H4 +6000 − mean(2000, 1000, 1000) = 4666.67
    near(
        find("cs_att_gt", Some(2023), Some(2023)).0.unwrap(),
        6000.0 - 4000.0 / 3.0,
    );
    // ATT(2023,2024) against 2022: 7000 − mean(4000, 3000, 3000)
    near(
        find("cs_att_gt", Some(2023), Some(2024)).0.unwrap(),
        7000.0 - 10000.0 / 3.0,
    );
    // ATT(2024,2023), a pre-period check: H1 +2000 − mean(2000, 1000, 1000)
    near(
        find("cs_att_gt", Some(2024), Some(2023)).0.unwrap(),
        2000.0 - 4000.0 / 3.0,
    );
    // ATT(2024,2024) against 2023: 6000 − 2000
    near(find("cs_att_gt", Some(2024), Some(2024)).0.unwrap(), 4000.0);
    // simple: both cohorts have one household, so the three post cells weigh the same
    let simple = (6000.0 - 4000.0 / 3.0 + 7000.0 - 10000.0 / 3.0 + 4000.0) / 3.0;
    near(find("cs_simple", None, None).0.unwrap(), simple);
}

#[test]
fn collective_economy() {
    // 2024: 甲 120万 is the only village at 50万 or more, of 5 → 20 %
    assert_eq!(
        get("ce_attainment_50w", None, "2024", "city", CITY),
        (Some(20.0), Some(1.0), Some(5.0), 3, 5)
    );
    // bands: 甲 ≥100万, 乙 30万 (lower bound inclusive → 30-50万元), 丙 9万 <10万,
    // 丁 and 己 did not report
    assert_eq!(
        get("ce_income_band", Some("100万元以上"), "2024", "city", CITY).1,
        Some(1.0)
    );
    assert_eq!(
        get("ce_income_band", Some("30-50万元"), "2024", "city", CITY).1,
        Some(1.0)
    );
    assert_eq!(
        get("ce_income_band", Some("不足10万元"), "2024", "city", CITY).1,
        Some(1.0)
    );
    near(city("ce_income_band", Some("未报送"), "2024"), 40.0);
    assert!(!table().contains_key(&(
        "ce_income_band".into(),
        Some("10-30万元".into()),
        "2024".into(),
        "city".into(),
        CITY.into()
    )));
    // total 120 + 30 + 9 = 159万元; median of 9, 30, 120 = 30; 2023 median
    // of 8, 25, 30 (戊), 40, 60 = 30
    near(city("ce_operating_income_total", None, "2024"), 159.0);
    near(city("ce_operating_income_median", None, "2024"), 30.0);
    near(city("ce_operating_income_median", None, "2023"), 30.0);
    // the registry as of each period: 戊村 (merged 2024-03-01) is one of the
    // 6 villages of 2023 and reported under its own code, not as a second
    // row of 丁村; 2024 has 5. 2023 at 50万+: 甲 (60) → 1/6
    assert_eq!(
        get("ce_attainment_50w", None, "2023", "city", CITY),
        (Some(100.0 / 6.0), Some(1.0), Some(6.0), 5, 6)
    );
    assert_eq!(get("ce_attainment_50w", None, "2024", "city", CITY).4, 5);
    assert_eq!(
        get("ce_attainment_50w", None, "2023", "township", "320682101").4,
        3
    );
    let o = zx_out(&[
        "query", "--csv", "--out", out_dir().to_str().unwrap(),
        "SELECT year, village_code, operating_income FROM collective_economy WHERE village_code IN ('320682101002', '320682101003') ORDER BY year, village_code",
    ]);
    assert_eq!(
        o.stdout,
        "year,village_code,operating_income\n2023,320682101002,400000.0\n2023,320682101003,300000.0\n",
        "{}",
        o.stderr
    );
    // growth over villages in both years (甲 乙 丙): (159 − 93) / 93
    near(
        city("ce_operating_income_growth", None, "2024"),
        6600.0 / 93.0,
    );
    // 2022 was not reported: 2023 is not compared with 2021
    for year in ["2021", "2023"] {
        assert!(!table().contains_key(&(
            "ce_operating_income_growth".into(),
            None,
            year.into(),
            "city".into(),
            CITY.into()
        )));
    }
    // fuel station: 105万 dividends on 100万 invested
    near(city("ce_station_return", None, "2024"), 105.0);
    // 350k floor: 甲 40万, 乙 35万 (at the floor counts), 丙 30万 → 2/3
    near(city("ce_station_floor_met", None, "2024"), 200.0 / 3.0);
    // 3 projects over 5 registry villages; 如皋市 3/4
    near(city("ce_pairing_projects_per_village", None, "2024"), 0.6);
    near(
        value(
            "ce_pairing_projects_per_village",
            None,
            "2024",
            "county",
            RUGAO,
        ),
        0.75,
    );
}

#[test]
fn evaluation_composite_and_rank() {
    // the 双百分制: development 甲 80, 乙 70, 丙 60; Party building 85, 75, 65;
    // 丁 and 己 have no evaluation
    assert_eq!(
        get("eval_development", None, "2024", "city", CITY),
        (Some(70.0), Some(210.0), Some(3.0), 3, 5)
    );
    near(city("eval_party_building", None, "2024"), 75.0);
    // the local-policy composite 0.1 self + 0.4 supervisor + 0.3 public +
    // 0.2 observer: 甲 9+32+21+12 = 74; 乙 10+36+24+14 = 84; 丙 5+24+21+16 = 66
    near(
        city("eval_composite", None, "2024"),
        (74.0 + 84.0 + 66.0) / 3.0,
    );
    near(
        value("eval_composite", None, "2024", "village", "320682100002"),
        84.0,
    );
    let ranks = |id: &str| {
        let o = zx_out(&[
            "query", "--csv", "--out", out_dir().to_str().unwrap(),
            &format!("SELECT geo_name, rank, note FROM indicators WHERE indicator_id = '{id}' AND level = 'village' AND period = '2024' ORDER BY geo_code"),
        ]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        o.stdout
    };
    let not_reported = "未排名：本期未报送（not ranked: nothing reported for the period）";
    assert_eq!(
        ranks("eval_development"),
        format!("geo_name,rank,note\n甲村,1,\n乙村,2,\n丙村,3,\n丁村,,{not_reported}\n己社区,,{not_reported}\n")
    );
    assert_eq!(
        ranks("eval_composite"),
        format!("geo_name,rank,note\n甲村,2,\n乙村,1,\n丙村,3,\n丁村,,{not_reported}\n己社区,,{not_reported}\n")
    );
}

fn workbook_path() -> PathBuf {
    let dir = out_dir().join("reports/2024");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "xlsx"))
        .unwrap()
}

#[test]
fn report_workbook_reopens_with_sheets_headers_and_values() {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let mut wb: Xlsx<_> = open_workbook(workbook_path()).unwrap();
    assert_eq!(
        wb.sheet_names(),
        [
            "主要指标",
            "组织体系覆盖",
            "党建标准化",
            "软弱涣散整顿",
            "村书记专职化",
            "党群致富共同体",
            "村级集体经济",
            "党员培训与双带",
            "考核评价",
            "分乡镇",
            "收入效应",
            "村排名",
            "报送质量",
            "表头变化",
            "说明"
        ]
    );
    let r = wb.worksheet_range("组织体系覆盖").unwrap();
    assert_eq!(header_of(&r), zhenxing::report::xlsx::FAMILY_HEADERS);
    // the 2024 report takes each county's last month: 如皋市 December, 3 of 4 complete
    let row = r
        .rows()
        .find(|row| {
            row[12] == Data::String("org_four_in_one".into())
                && row[4] == Data::String(RUGAO.into())
        })
        .unwrap();
    assert_eq!(row[2], Data::String("2024-12".into()));
    assert_eq!(row[5], Data::String("如皋市".into()));
    assert_eq!(row[6], Data::Float(75.0));
    assert_eq!(row[7], Data::String("%".into()));
    assert_eq!(
        (row[8].clone(), row[9].clone()),
        (Data::Float(3.0), Data::Float(4.0))
    );
    // village ranks: 乙村 first in 如皋市
    // village ranks: development score first, 甲村 (80) first in 如皋市;
    // 丁村 (no evaluation) after the ranked villages, with the reason
    let ranks = wb.worksheet_range("村排名").unwrap();
    let first = ranks.rows().nth(1).unwrap();
    assert_eq!(first[0], Data::String("高质量发展得分（双百分制）".into()));
    assert_eq!(first[4], Data::String("甲村".into()));
    assert_eq!(first[6], Data::Float(1.0));
    let fourth = ranks.rows().nth(4).unwrap();
    assert_eq!(fourth[4], Data::String("丁村".into()));
    assert_eq!(fourth[6], Data::Empty);
    assert_eq!(
        fourth[7],
        Data::String("未排名：本期未报送（not ranked: nothing reported for the period）".into())
    );
    // income effects sheet has the TWFE row for the city
    // townships: 东陈镇 in December, 丙 (无) not complete, 丁 complete → 50 %
    let towns = wb.worksheet_range("分乡镇").unwrap();
    let dc = towns
        .rows()
        .find(|row| {
            row[12] == Data::String("org_four_in_one".into())
                && row[4] == Data::String("320682101".into())
        })
        .unwrap();
    assert_eq!(
        (dc[5].clone(), dc[6].clone()),
        (Data::String("东陈镇".into()), Data::Float(50.0))
    );
    // only indicators without a breakdown are listed by township
    assert!(towns
        .rows()
        .skip(1)
        .all(|r| r[1] == Data::String(String::new()) || r[1] == Data::Empty));
    // the method in Chinese, its id beside it
    let eff = wb.worksheet_range("收入效应").unwrap();
    assert!(eff.rows().any(|r| r[0] == Data::String("全市".into())
        && r[5] == Data::String("双重差分（双向固定效应）".into())
        && r[6] == Data::String("twfe_did".into())));
    assert!(eff.rows().any(|r| r[5]
        == Data::String("Callaway–Sant'Anna 交错处理估计：总体效应（按组别规模加权）".into())
        && r[6] == Data::String("cs_simple".into())));
    // 主要指标: indicators down, 全市 and each county across
    let head = wb.worksheet_range("主要指标").unwrap();
    let rows: Vec<Vec<Data>> = head.rows().map(|r| r.to_vec()).collect();
    assert_eq!(
        rows[0][0],
        Data::String("南通市 2024 乡村振兴主要指标".into())
    );
    let h: Vec<String> = rows[1].iter().map(|c| c.to_string()).collect();
    assert_eq!(h, ["指标", "单位", "统计期", "全市", "如皋市", "海安市"]);
    let four = rows
        .iter()
        .find(|r| r[0] == Data::String("四位一体组织体系完整率".into()))
        .unwrap();
    assert_eq!(
        four[1..],
        [
            Data::String("%".into()),
            Data::String("2024-11,2024-12".into()),
            Data::Float(80.0),
            Data::Float(75.0),
            Data::Float(100.0)
        ]
    );
    // an indicator a county has no figure for shows —
    let pay = rows
        .iter()
        .find(|r| r[0] == Data::String("村书记平均年度报酬".into()))
        .unwrap();
    assert_eq!(pay[3], Data::Float(90000.0));
    assert_eq!(pay[5], Data::String("—".into()));
}

/// The headline sheet prints A4 landscape, one page wide, its two header
/// rows on every page, with the run id and page numbers in the footer.
#[test]
fn the_headline_sheet_is_set_up_for_print() {
    let f = std::fs::File::open(workbook_path()).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut z.by_name("xl/worksheets/sheet1.xml").unwrap(),
        &mut xml,
    )
    .unwrap();
    for part in [
        "paperSize=\"9\"",
        "orientation=\"landscape\"",
        "fitToHeight=\"0\"",
        "<pageSetUpPr fitToPage=\"1\"/>",
    ] {
        assert!(xml.contains(part), "{part}");
    }
    assert!(xml.contains("第 &amp;P 页，共 &amp;N 页"), "{xml}");
    let mut wbxml = String::new();
    std::io::Read::read_to_string(&mut z.by_name("xl/workbook.xml").unwrap(), &mut wbxml).unwrap();
    assert!(wbxml.contains("_xlnm.Print_Titles"), "{wbxml}");
    assert!(
        wbxml.contains("'主要指标'!$1:$2") || wbxml.contains("主要指标!$1:$2"),
        "{wbxml}"
    );
}

/// A file named `=HYPERLINK("x")…` is listed in the notes sheet as text:
/// the cell is a string with Excel's quote prefix, and no sheet holds a formula.
#[test]
fn text_that_looks_like_a_formula_is_never_a_formula() {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let path = workbook_path();
    let name = "=HYPERLINK(\"x\")如皋市_千企联千村项目表_2024.csv";
    let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
    let notes = wb.worksheet_range("说明").unwrap();
    assert!(notes.rows().any(|r| r[0] == Data::String(name.into())));
    let formulas = wb.worksheet_formula("说明").unwrap();
    assert!(formulas.cells().all(|(_, _, f)| f.is_empty()));
    let bytes = std::fs::read(&path).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut saw_quote_prefix = false;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut f, &mut text).unwrap();
        if name.starts_with("xl/worksheets/") {
            assert!(
                !text.contains("<f>") && !text.contains("<f "),
                "{name} has a formula"
            );
        }
        if name == "xl/styles.xml" {
            saw_quote_prefix = text.contains("quotePrefix=\"1\"");
        }
    }
    assert!(saw_quote_prefix);
    assert!(zhenxing::report::xlsx::looks_like_formula("+1"));
    assert!(zhenxing::report::xlsx::looks_like_formula("-1"));
    assert!(zhenxing::report::xlsx::looks_like_formula("@SUM(A1)"));
    assert!(!zhenxing::report::xlsx::looks_like_formula("如皋市"));
}

#[test]
fn html_report_has_the_headline_table_and_charts() {
    let dir = out_dir().join("reports/2024");
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(
        html.contains(
            "<td>四位一体组织体系完整率</td><td>2024-11,2024-12</td><td class=\"n\">80.0</td>"
        ),
        "{html}"
    );
    for chart in [
        "coverage_by_county.svg",
        "income_bands_by_county.svg",
        "event_study.svg",
    ] {
        let svg = std::fs::read_to_string(dir.join(chart)).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("Noto Sans CJK SC"),
            "{chart}"
        );
        assert!(html.contains(chart));
    }
    // coverage chart: one bar per county with its value (海安市 from its
    // November, not 0 % for a missing December)
    let cov = std::fs::read_to_string(dir.join("coverage_by_county.svg")).unwrap();
    assert!(
        cov.contains(">如皋市</text>")
            && cov.contains(">75.0%</text>")
            && cov.contains(">100.0%</text>"),
        "{cov}"
    );
}

/// The CSV part of `explain` output, as (unit, num, reported, file, sheet, row).
fn explain_rows(args: &[&str]) -> (String, Vec<Vec<String>>) {
    let out = out_dir();
    let mut a = vec!["explain"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["--csv", "--out", out.to_str().unwrap()]);
    let o = zx_out(&a);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    // stdout is the CSV alone; the definition and the figure are on stderr
    let head = o.stderr.clone();
    assert!(head.contains("rows behind the figure"), "{head}");
    let csv = o.stdout.as_str();
    let mut rd = csv::Reader::from_reader(csv.as_bytes());
    let names: Vec<String> = rd.headers().unwrap().iter().map(str::to_string).collect();
    let at = |n: &str| names.iter().position(|h| h == n).unwrap();
    let idx = [
        at("village_code"),
        at("num"),
        at("reported"),
        at("source_file"),
        at("source_sheet"),
        at("source_row"),
    ];
    let rows = rd
        .records()
        .map(|r| {
            let r = r.unwrap();
            idx.iter().map(|&i| r[i].to_string()).collect()
        })
        .collect();
    (head.to_string(), rows)
}

#[test]
fn explain_lists_the_rows_behind_a_figure() {
    let (head, rows) = explain_rows(&["org_four_in_one", "--geo", RUGAO, "--period", "2024-12"]);
    assert!(
        head.contains(
            "value 75 % = 100 × 3 / 4   numerator 3   denominator 4   villages reporting 4 of 4"
        ),
        "{head}"
    );
    assert!(head.contains("FROM villages v"), "{head}");
    let f = "如皋市_村级组织架构统计表_2024年12月.csv";
    let want: Vec<Vec<String>> = [
        ("320682100001", "1", 2),
        ("320682100002", "1", 3),
        ("320682101001", "0", 4),
        ("320682101002", "1", 5),
    ]
    .iter()
    .map(|(u, n, row)| {
        vec![
            u.to_string(),
            n.to_string(),
            "yes".into(),
            f.into(),
            "如皋市_村级组织架构统计表_2024年12月".into(),
            row.to_string(),
        ]
    })
    .collect();
    assert_eq!(rows, want);
    // the county by its name is the county of that code
    let (head, rows) = explain_rows(&["org_four_in_one", "--geo", "如皋市", "--period", "2024-12"]);
    assert!(head.contains("value 75 %"), "{head}");
    assert_eq!(rows, want);
    // a name no place has exits 2 and says which names come close
    let o = zx_out(&[
        "explain",
        "org_four_in_one",
        "--geo",
        "如皋",
        "--period",
        "2024-12",
        "--out",
        out_dir().to_str().unwrap(),
    ]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("如皋 is not the name or code of the city, a county, a township or a village here; did you mean: 如皋市 (320682)"),
        "{}",
        o.stderr
    );
    // June: 丁村 did not report and still counts in the denominator
    let (head, rows) = explain_rows(&[
        "org_four_in_one",
        "--geo",
        "320682101",
        "--period",
        "2024-06",
    ]);
    assert!(head.contains("value 50 %"), "{head}");
    assert_eq!(
        rows[1],
        vec![
            "320682101002".to_string(),
            "0".into(),
            "no (not reported)".into(),
            String::new(),
            String::new(),
            String::new()
        ]
    );
    // a breakdown needs its category
    let o = zx_out(&[
        "explain",
        "ce_income_band",
        "--geo",
        CITY,
        "--period",
        "2024",
        "--out",
        out_dir().to_str().unwrap(),
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("--category"), "{}", o.stderr);
}

#[test]
fn query_runs_sql_over_lake_and_indicator_tables() {
    let out = out_dir();
    let o = zx_out(&[
        "query",
        "--csv",
        "--out",
        out.to_str().unwrap(),
        "SELECT geo_name, value FROM indicators WHERE indicator_id = 'ce_attainment_50w' AND level = 'county' AND period = '2024' ORDER BY geo_code",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "geo_name,value\n如皋市,25.0\n海安市,0.0\n");
    let pq = out.join("q.parquet");
    let o = zx_out(&[
        "query",
        "--out",
        out.to_str().unwrap(),
        "--parquet",
        pq.to_str().unwrap(),
        "SELECT village, operating_income FROM collective_economy WHERE period = '2024'",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(zhenxing::lake::read_parquet(&pq).unwrap().height(), 3);
    let o = zx_out(&[
        "query",
        "--out",
        out.to_str().unwrap(),
        "SELECT nope FROM nowhere",
    ]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("tables:"), "{}", o.stderr);
}

/// Same lake → byte-identical indicator tables and report files.
#[test]
fn same_lake_gives_identical_tables_and_reports() {
    let out = out_dir();
    let files = [
        out.join("indicators/indicators.parquet"),
        out.join("indicators/income_effects.parquet"),
        workbook_path(),
        out.join("reports/2024/index.html"),
        out.join("reports/2024/event_study.svg"),
    ];
    let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let o = zx_out(&["indicators", "--out", out.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = zx_out(&["report", "--out", out.to_str().unwrap(), "--period", "2024"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for (f, b) in files.iter().zip(&before) {
        assert!(std::fs::read(f).unwrap() == *b, "{} changed", f.display());
    }
    let o = zx_out(&["report", "--out", out.to_str().unwrap(), "--period", "1999"]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("periods present: 2021, 2022, 2023, 2024"),
        "{}",
        o.stderr
    );
}

/// A threshold is a parameter: raising the 50万+ line to 100万 changes the
/// figure without touching code. 2023: 甲 60万 no longer counts → 0 %;
/// 2024: 甲 120万 still does → 20 %.
#[test]
fn a_threshold_is_changed_in_the_definitions_file() {
    let (p, out, _tmp) = indicators_with(&|d| {
        d.replace(
            "income_target_yuan = 500000\n",
            "income_target_yuan = 1000000\n",
        )
    });
    let o = zx_out(&[
        "query", "--csv", "--pipeline", p.to_str().unwrap(), "--out", out.to_str().unwrap(),
        "SELECT period, value FROM indicators WHERE indicator_id = 'ce_attainment_50w' AND level = 'city' ORDER BY period",
    ]);
    assert_eq!(
        o.stdout, "period,value\n2021,0.0\n2023,0.0\n2024,20.0\n",
        "{}",
        o.stderr
    );
}

/// The fixture's lake copied into a new folder with the repository's
/// pipeline files, the definitions edited by `edit`; returns (pipeline
/// file, OUT) after `zhenxing indicators` ran there.
fn indicators_with(edit: &dyn Fn(String) -> String) -> (PathBuf, PathBuf, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let pipes = tmp.path().join("pipelines");
    std::fs::create_dir_all(pipes.join("sources")).unwrap();
    let repo = super::util::repo().join("pipelines");
    for e in std::fs::read_dir(repo.join("sources")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, pipes.join("sources").join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(repo.join("nantong.toml"), pipes.join("nantong.toml")).unwrap();
    let defs = std::fs::read_to_string(repo.join("indicators.toml")).unwrap();
    let edited = edit(defs.clone());
    assert_ne!(edited, defs);
    std::fs::write(pipes.join("indicators.toml"), edited).unwrap();
    // a copy of the lake (not of the tables other tests rewrite)
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    for e in std::fs::read_dir(out_dir()).unwrap() {
        let p = e.unwrap().path();
        if !["indicators", "reports"].iter().any(|n| p.ends_with(n)) {
            let ok = std::process::Command::new("cp")
                .args(["-a", p.to_str().unwrap(), out.to_str().unwrap()])
                .status()
                .unwrap();
            assert!(ok.success());
        }
    }
    let p = pipes.join("nantong.toml");
    let o = zx_out(&[
        "indicators",
        "--pipeline",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    (p, out, tmp)
}

#[test]
fn urban_communities_are_left_out_when_the_scope_says_so() {
    let (p, out, _tmp) =
        indicators_with(&|d| d.replace("kinds = [\"村\", \"社区\"]", "kinds = [\"村\"]"));
    // without 己社区 (海安市's only entry): 2024 four-in-one is 如皋市's
    // December alone, 3 of 4; 海安市 has no row at all
    let o = zx_out(&[
        "query", "--csv", "--pipeline", p.to_str().unwrap(), "--out", out.to_str().unwrap(),
        "SELECT geo_code, value, numerator, denominator, villages_registry FROM indicators WHERE indicator_id = 'org_four_in_one' AND period = '2024' ORDER BY level, geo_code",
    ]);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[1], "320600,75.0,3.0,4.0,4", "{}", o.stdout);
    assert_eq!(lines[2], "320682,75.0,3.0,4.0,4", "{}", o.stdout);
    assert!(!o.stdout.contains("320685"), "{}", o.stdout);
}

#[test]
fn docs_cover_every_column_and_indicator() {
    let tmp = tempfile::tempdir().unwrap();
    let out = out_dir();
    let o = zx_out(&[
        "docs",
        "--out",
        out.to_str().unwrap(),
        "--dir",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // the views read this OUT's lake, in both dialects
    let lake = std::path::absolute(out.join("lake")).unwrap();
    let duck = std::fs::read_to_string(tmp.path().join("views_duckdb.sql")).unwrap();
    assert!(duck.contains(&format!(
        "CREATE OR REPLACE VIEW org_structure__lake AS SELECT * FROM read_parquet('{}/org_structure/**/*.parquet'",
        lake.display()
    )));
    for v in [
        "villages",
        "org_structure",
        "org_structure_periods",
        "org_structure_county_periods",
        "communities_periods",
    ] {
        assert!(
            duck.contains(&format!("CREATE OR REPLACE VIEW {v} AS ")),
            "{v}"
        );
    }
    let spark = std::fs::read_to_string(tmp.path().join("views_spark.sql")).unwrap();
    assert!(spark.contains("SET spark.sql.sources.partitionColumnTypeInference.enabled = false;"));
    assert!(spark.contains("CREATE OR REPLACE TEMPORARY VIEW org_structure_periods AS "));
    let md = std::fs::read_to_string(tmp.path().join("data_dictionary.md")).unwrap();
    let p = zhenxing::config::load(&super::util::repo().join("pipelines/nantong.toml")).unwrap();
    for s in &p.sources {
        assert!(
            md.contains(&format!("### {} — {}", s.dataset, s.id)),
            "{}",
            s.dataset
        );
        for f in &s.fields {
            assert!(
                md.contains(&format!("| `{}` |", zhenxing::lake::column_name(f))),
                "{}",
                f.name
            );
        }
    }
    let datasets: Vec<String> = p.sources.iter().map(|s| s.dataset.clone()).collect();
    let defs = zhenxing::analysis::indicators::defs::load(&p.indicators, &datasets).unwrap();
    for i in &defs.indicators {
        assert!(
            md.contains(&format!("#### `{}` {}", i.def.id, i.def.name_zh)),
            "{}",
            i.def.id
        );
    }
    assert!(md.contains("| `income_target_yuan` | 500000 |"));
    let sql = std::fs::read_to_string(tmp.path().join("indicators.sql")).unwrap();
    for i in &defs.indicators {
        assert!(sql.contains(&format!("-- {}", i.def.id)), "{}", i.def.id);
    }
    assert!(!sql.contains("{{"), "parameters are filled in");
    use calamine::{open_workbook, Reader, Xlsx};
    let mut wb: Xlsx<_> = open_workbook(tmp.path().join("data_dictionary.xlsx")).unwrap();
    assert_eq!(
        wb.sheet_names(),
        ["数据集字段", "指标", "输出表字段", "参数"]
    );
    let ind = wb.worksheet_range("指标").unwrap();
    assert_eq!(ind.height(), defs.indicators.len() + 1);
    // every definition in Chinese and English, side by side
    let head = header_of(&ind);
    let (zh, en) = (
        head.iter().position(|h| h == "口径说明").unwrap(),
        head.iter().position(|h| h == "Definition").unwrap(),
    );
    for r in ind.rows().skip(1) {
        assert!(
            r[zh]
                .to_string()
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{r:?}"
        );
        assert!(!r[en].to_string().is_empty(), "{r:?}");
        assert!(!r[zh].to_string().contains("{{"), "{r:?}");
    }
}

/// A second run over the same inbox recomputes nothing.
#[test]
fn an_unchanged_run_leaves_the_indicators_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let (inbox, registry) = make_inbox(tmp.path());
    let out = tmp.path().join("out");
    assert_eq!(run_into(&inbox, &registry, &out).code, 0);
    let table = out.join("indicators/indicators.parquet");
    let made = std::fs::metadata(&table).unwrap().modified().unwrap();
    let o = run_into(&inbox, &registry, &out);
    assert_eq!(o.code, 0);
    // a quiet night is one line, and the indicators are not made again
    assert_eq!(o.stdout.lines().count(), 1, "{}", o.stdout);
    assert!(
        o.stdout.contains("nothing new in the inbox"),
        "{}",
        o.stdout
    );
    assert_eq!(std::fs::metadata(&table).unwrap().modified().unwrap(), made);
}

/// Without a lake the stages say so, exit 2 and create nothing.
#[test]
fn stages_without_a_lake_exit_2_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    for cmd in ["indicators", "report"] {
        let o = zx_out(&[cmd, "--out", out.to_str().unwrap()]);
        assert_eq!(o.code, 2, "{cmd}: {}", o.stderr);
        assert!(o.stderr.contains("has no published lake"), "{}", o.stderr);
    }
    assert!(!out.exists());
}

#[test]
fn the_output_tables_have_exactly_the_columns_docs_lists() {
    let p = zhenxing::config::load(&super::util::repo().join("pipelines/nantong.toml")).unwrap();
    let datasets: Vec<String> = p.sources.iter().map(|s| s.dataset.clone()).collect();
    let defs = zhenxing::analysis::indicators::defs::load(&p.indicators, &datasets).unwrap();
    let check = |df: polars::prelude::DataFrame, schema: &[(&str, &str, &str)]| {
        let got: Vec<(String, String)> = df
            .columns()
            .iter()
            .map(|c| (c.name().to_string(), format!("{:?}", c.dtype())))
            .collect();
        let want: Vec<(String, String)> = schema
            .iter()
            .map(|(n, t, _)| (n.to_string(), t.to_string()))
            .collect();
        assert_eq!(got, want);
    };
    check(
        zhenxing::analysis::indicators::indicators_frame(&defs, &[], "r").unwrap(),
        &zhenxing::analysis::indicators::INDICATOR_COLUMNS,
    );
    check(
        zhenxing::analysis::effects::effects_frame(&[], "r").unwrap(),
        &zhenxing::analysis::effects::EFFECT_COLUMNS,
    );
}

#[test]
fn a_station_across_two_counties_counts_its_investment_once() {
    // JYZ09 (100万 invested) supports 甲村 in 如皋市 (10万 dividends) and
    // 己村 in 海安市 (20万). Each county sees the whole station: 30 / 100 =
    // 30 %; the city counts it once: 30 / 100 = 30 % (not 30 / 200 = 15 %).
    let d = tempfile::tempdir().unwrap();
    let (_, registry) = make_inbox(d.path());
    let inbox = d.path().join("stations");
    std::fs::create_dir_all(&inbox).unwrap();
    write(
        &inbox,
        "如皋市_强村加油站收益台账_2024.csv",
        "加油站编号,名称,县(市、区),入股资金,年度,帮扶村,分红金额",
        &[
            "JYZ09,跨县加油站,如皋市,100,2024,甲村,10",
            "JYZ09,跨县加油站,海安市,100,2024,己村,20",
        ],
    );
    let out = d.path().join("out");
    let o = run_into(&inbox, &registry, &out);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    assert!(!o.stdout.contains("more than once"), "{}", o.stdout);
    let q = zx_out(&[
        "query",
        "--csv",
        "--out",
        out.to_str().unwrap(),
        "SELECT level, geo_code, value, CAST(numerator AS BIGINT) AS numerator, \
         CAST(denominator AS BIGINT) AS denominator FROM indicators \
         WHERE indicator_id = 'ce_station_return' ORDER BY level, geo_code",
    ]);
    assert_eq!(q.code, 0, "{}", q.stderr);
    assert_eq!(
        q.stdout,
        "level,geo_code,value,numerator,denominator\n\
         city,320600,30.0,300000,1000000\n\
         county,320682,30.0,300000,1000000\n\
         county,320685,30.0,300000,1000000\n"
    );
}

#[test]
fn a_loss_stays_in_income_and_is_left_out_of_the_log_with_a_count() {
    let d = tempfile::tempdir().unwrap();
    let (inbox, registry) = make_inbox(d.path());
    // H6 in 丙村, never a member, lost money in 2022
    let f = inbox.join("如皋市_农户收入监测表_2022.csv");
    let mut text = std::fs::read_to_string(&f).unwrap();
    text.push_str(&format!("{BING},2022,H6,-2000,否,,,2\n"));
    text.push_str(&format!("{BING},2022,H7,0,否,,,1\n"));
    std::fs::write(&f, text).unwrap();
    let out = d.path().join("out");
    let o = run_into(&inbox, &registry, &out);
    // the negative income is a warning, not a reject
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let q = |sql: &str| {
        let o = zx_out(&["query", "--out", out.to_str().unwrap(), "--csv", sql]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        o.stdout
    };
    assert_eq!(
        q("SELECT income FROM household_income WHERE household_id IN ('H6', 'H7') ORDER BY household_id"),
        "income\n-2000.0\n0.0\n"
    );
    // 2 household-years with income ≤ 0: in the income outcome, not in the log
    let notes = q(
        "SELECT DISTINCT outcome, note FROM income_effects WHERE scope_level = 'city' AND estimator = 'twfe_did' ORDER BY outcome",
    );
    assert_eq!(
        notes,
        "outcome,note\nincome,\nlog_income,2 household-year(s) with income ≤ 0 left out of the log\n"
    );
}

#[test]
fn the_figures_the_seed_reports() {
    // central households, 2024 from each county's last month: 如皋市
    // December 10 + 6 + 3 + 1, 海安市 November 5 → 25
    near(city("org_central_households_total", None, "2024"), 25.0);
    // transformed so far: 乙 (identified 2023, transformed 2024-03) → none
    // by the end of 2023, one by the end of 2024
    assert!(!table().contains_key(&(
        "rect_transformed_cumulative".into(),
        None,
        "2023".into(),
        "city".into(),
        CITY.into()
    )));
    near(city("rect_transformed_cumulative", None, "2024"), 1.0);
    // each action of the 八个一: identified 2023, 乙 did all 8 and 丙 not
    // 解决突出问题 → 50 %; 2024, 丁 formed a team but held no 专题组织生活会
    near(
        city("rect_action_completion", Some("解决突出问题"), "2023"),
        50.0,
    );
    near(
        city("rect_action_completion", Some("组建工作班子"), "2024"),
        100.0,
    );
    near(
        city("rect_action_completion", Some("专题组织生活会"), "2024"),
        0.0,
    );
    // members whose income rose against the year before: 2023 H4 (30000 →
    // 36000, 2 people); 2024 H1 (52000 → 58000, 4) and H4 (36000 → 37000, 2)
    near(city("comm_people_income_rose", None, "2023"), 2.0);
    near(city("comm_people_income_rose", None, "2024"), 6.0);
    near(city("comm_households_income_rose", None, "2024"), 2.0);
    // JYZ01 supports exactly 甲 乙 丙; 乙 and 丙 are 经济薄弱村 on T07 2024
    near(city("ce_station_three_villages", None, "2024"), 100.0);
    near(city("ce_station_weak_villages", None, "2024"), 200.0 / 3.0);
    // the 2024 project roster: XM01–XM03
    near(city("ce_pairing_projects_total", None, "2024"), 3.0);
    // T10: person-times 120 + 80, 双带 5 + 3, projects 2 + 1
    near(city("train_person_times", None, "2024"), 200.0);
    near(city("train_dual_lead_members", None, "2024"), 8.0);
    near(city("train_member_led_projects", None, "2024"), 3.0);
}

/// The indicator table of docs/indicators.md is the one `docs` writes
/// from the definitions.
#[test]
fn the_documented_indicator_table_is_the_one_docs_writes() {
    let repo = super::util::repo();
    let p = zhenxing::config::load(&repo.join("pipelines/nantong.toml")).unwrap();
    let datasets: Vec<String> = p.sources.iter().map(|s| s.dataset.clone()).collect();
    let defs = zhenxing::analysis::indicators::defs::load(&p.indicators, &datasets).unwrap();
    let table = zhenxing::cmd::docs::indicator_table(&p, &defs);
    let readme = std::fs::read_to_string(repo.join("docs/indicators.md")).unwrap();
    let begin = "<!-- indicator table: `zhenxing docs` writes it; a test checks that this copy is the same -->\n";
    let from = readme
        .find(begin)
        .expect("docs/indicators.md has the table's begin marker")
        + begin.len();
    let to = readme[from..]
        .find("<!-- end of indicator table -->")
        .expect("docs/indicators.md has the end marker")
        + from;
    assert_eq!(
        readme[from..to],
        table,
        "the indicator table of docs/indicators.md is stale: copy the table of `zhenxing docs` (data_dictionary.md, \"Indicators at a glance\")"
    );
    assert_eq!(table.lines().count(), defs.indicators.len() + 2);
}

/// Amounts exactly at a band's lower bound belong to that band (不足10万元
/// is below 100,000; 100万元以上 includes 1,000,000), and exactly 50万 is
/// "50万+".
#[test]
fn amounts_at_a_bound_belong_to_the_band_that_starts_there() {
    let d = tempfile::tempdir().unwrap();
    let (inbox, registry) = make_inbox(d.path());
    // 2020: 甲 10万, 乙 30万, 丙 50万, 丁 100万; 戊 (merged only in 2024)
    // and 己 did not report; 99,999.99 yuan would be 不足10万元
    write(
        &inbox,
        "如皋市_村级集体经济收入统计表_2020.csv",
        &format!("{LOC},年度,集体经营性收入"),
        &[
            &format!("{JIA},2020,10"),
            &format!("{YI},2020,30"),
            &format!("{BING},2020,50"),
            &format!("{DING},2020,100"),
        ],
    );
    let out = d.path().join("out");
    let o = run_into(&inbox, &registry, &out);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let q = zx_out(&[
        "query", "--out", out.to_str().unwrap(), "--csv",
        "SELECT category, numerator, denominator FROM indicators WHERE indicator_id = 'ce_income_band' AND period = '2020' AND level = 'city' ORDER BY category",
    ]);
    // of the 6 registry villages of 2020: one in each band from 10万, 2 未报送
    assert_eq!(
        q.stdout,
        "category,numerator,denominator\n10-30万元,1.0,6.0\n100万元以上,1.0,6.0\n30-50万元,1.0,6.0\n50-100万元,1.0,6.0\n未报送,2.0,6.0\n",
        "{}",
        q.stderr
    );
    let q = zx_out(&[
        "query", "--out", out.to_str().unwrap(), "--csv",
        "SELECT numerator, denominator FROM indicators WHERE indicator_id = 'ce_attainment_50w' AND period = '2020' AND level = 'city'",
    ]);
    // 丙 at exactly 500,000 and 丁 attain it: 2 of 6
    assert_eq!(q.stdout, "numerator,denominator\n2.0,6.0\n", "{}", q.stderr);
}

/// A wide row (帮扶村1/2/3 with one 每村分红) is three supported villages
/// of one station: the investment once, the dividend to each village.
#[test]
fn a_wide_station_row_is_three_villages_of_one_station() {
    let d = tempfile::tempdir().unwrap();
    let (_, registry) = make_inbox(d.path());
    let inbox = d.path().join("wide");
    std::fs::create_dir_all(&inbox).unwrap();
    write(
        &inbox,
        "如皋市_强村加油站收益台账_2024.csv",
        "加油站编号,名称,县(市、区),入股资金,年度,帮扶村1,帮扶村2,帮扶村3,每村分红",
        &["JYZ05,如皋市强村加油站5号,如皋市,90,2024,甲村,乙村,丙村,36"],
    );
    let out = d.path().join("out");
    let o = run_into(&inbox, &registry, &out);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let q = zx_out(&[
        "query", "--csv", "--out", out.to_str().unwrap(),
        "SELECT indicator_id, value, numerator, denominator FROM indicators WHERE level = 'city' AND period = '2024' \
         AND indicator_id IN ('ce_station_return', 'ce_station_floor_met', 'ce_station_three_villages') ORDER BY indicator_id",
    ]);
    // dividends 3 × 36万 = 108万 over 90万 invested once = 120 %; each
    // village gets 36万 ≥ 35万; the station supports exactly three villages
    assert_eq!(
        q.stdout,
        "indicator_id,value,numerator,denominator\n\
         ce_station_floor_met,100.0,3.0,3.0\n\
         ce_station_return,120.0,1080000.0,900000.0\n\
         ce_station_three_villages,100.0,1.0,1.0\n",
        "{}",
        q.stderr
    );
}

/// What an analyst types: every digit of a large number in CSV and in the
/// table, `COUNT(*)` named `count`, and an SQL error in one line that says
/// what to write instead — never a query plan.
#[test]
fn query_answers_as_an_analyst_expects() {
    let out = out_dir();
    let q = |args: &[&str]| {
        let mut a = vec!["query", "--out", out.to_str().unwrap()];
        a.extend_from_slice(args);
        zx_out(&a)
    };
    // 甲村's 2024 operating income: 120 万元 = 1,200,000 yuan, not 1.2e6
    let o = q(&[
        "--csv",
        "SELECT operating_income * 1000 AS big FROM collective_economy WHERE year = 2024 AND village = '甲村'",
    ]);
    assert_eq!(o.stdout, "big\n1200000000.0\n", "{}", o.stderr);
    let o = q(&["SELECT operating_income * 1000 + 0.25 AS big FROM collective_economy WHERE year = 2024 AND village = '甲村'"]);
    assert!(o.stdout.contains("1200000000.25"), "{}", o.stdout);
    let o = q(&["--csv", "SELECT COUNT(*) FROM collective_economy"]);
    // 1 (2021) + 5 (2023) + 3 (2024)
    assert_eq!(o.stdout, "count\n9\n", "{}", o.stderr);
    let o = q(&[
        "SELECT v.village, c.operating_income FROM villages v LEFT JOIN collective_economy c \
         ON c.village_code = v.village_code AND c.year = 2024",
    ]);
    assert_eq!(o.code, 2);
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    assert!(o
        .stderr
        .contains("LEFT JOIN (SELECT * FROM collective_economy WHERE year = 2024) c"));
    assert!(!o.stderr.contains("plan"), "{}", o.stderr);
    // percentiles and window functions, as polars SQL writes them; the
    // standard WITHIN GROUP form is refused in one line that names it
    let o = q(&[
        "--csv",
        "SELECT quantile_cont(operating_income, 0.5) AS p50, median(operating_income) AS med \
         FROM collective_economy WHERE year = 2023",
    ]);
    // 2023: 60, 25, 8, 40 and 30 万元
    assert_eq!(o.stdout, "p50,med\n300000.0,300000.0\n", "{}", o.stderr);
    let o = q(&[
        "--csv",
        "SELECT village, rank() OVER (PARTITION BY county ORDER BY operating_income DESC) AS r \
         FROM collective_economy WHERE year = 2024 ORDER BY village",
    ]);
    // 甲 120, 乙 30, 丙 9 万元
    assert_eq!(
        o.stdout, "village,r\n丙村,3\n乙村,2\n甲村,1\n",
        "{}",
        o.stderr
    );
    let o = q(&["SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY operating_income) FROM collective_economy"]);
    assert_eq!(o.code, 2);
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
    assert!(o.stderr.contains("percentile_cont") && o.stderr.contains("quantile_cont(x, 0.9)"));
    // explain --csv: stdout is a CSV whose numbers have every digit
    let (head, rows) = explain_rows(&[
        "ce_operating_income_total",
        "--geo",
        RUGAO,
        "--period",
        "2024",
    ]);
    assert!(head.contains("numerator 1590000 "), "{head}");
    let nums: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(nums, ["1200000", "300000", "90000"], "{rows:?}");
    // villages is the lake's table, the merged 戊村 with its merge history
    let o = q(&[
        "--csv",
        "SELECT village, merged_into, merged_on FROM villages WHERE merged_into IS NOT NULL",
    ]);
    assert_eq!(
        o.stdout, "village,merged_into,merged_on\n戊村,320682101002,2024-03-01\n",
        "{}",
        o.stderr
    );
}

/// The first row of a sheet as text.
fn header_of(r: &calamine::Range<calamine::Data>) -> Vec<String> {
    r.rows()
        .next()
        .map(|h| h.iter().map(|c| c.to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn a_terminal_sees_the_long_stages_progress_and_cron_does_not() {
    let d = tempfile::tempdir().unwrap();
    let (inbox, registry) = make_inbox(d.path());
    let out = d.path().join("out");
    // not a terminal (a pipe, as in cron): nothing but the paragraph
    let o = zx_out(&[
        "run",
        "--inbox",
        inbox.to_str().unwrap(),
        "--registry",
        registry.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(!o.stderr.contains("indicators ["), "{}", o.stderr);
    assert!(!o.stdout.contains("/58"), "{}", o.stdout);
    // `report` on a terminal (script(1) gives it one): the indicator
    // stage counts its 58 indicators, then the report's two files
    let cmd = format!("{} report --out {}", bin().display(), out.to_str().unwrap());
    let o = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .current_dir(super::util::repo())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{screen}");
    assert!(screen.contains("/58 indicators"), "{screen}");
    assert!(screen.contains("/2 report files"), "{screen}");
}

/// Every row of `indicators.parquet` as CSV lines (run id left out), sorted.
fn indicator_lines(p: &Path, out: &Path) -> Vec<String> {
    let o = zx_out(&[
        "query",
        "--csv",
        "--pipeline",
        p.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "SELECT indicator_id, category, period, period_used, level, geo_code, geo_name, \
         value, numerator, denominator, villages_reporting, villages_registry, units, rank, note \
         FROM indicators",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let mut lines: Vec<String> = o.stdout.lines().skip(1).map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn a_lake_worked_a_county_at_a_time_gives_the_same_figures_as_one_pass() {
    let area = |a: &'static str| {
        move |d: String| {
            d.replace(
                "query_area = \"province\"",
                &format!("query_area = \"{a}\""),
            )
        }
    };
    let (p_all, out_all, _t1) = indicators_with(&area("all"));
    let (p_county, out_county, _t2) = indicators_with(&area("county"));
    let whole = indicator_lines(&p_all, &out_all);
    let parts = indicator_lines(&p_county, &out_county);
    assert_eq!(whole.len(), parts.len());
    let only = |a: &[String], b: &[String]| -> Vec<String> {
        let b: std::collections::BTreeSet<&String> = b.iter().collect();
        a.iter().filter(|l| !b.contains(l)).cloned().collect()
    };
    // two counties, each its own area: the city rows are added up over
    // both (sums, distinct villages and units), the rest is per county
    assert_eq!(whole.len(), 920);
    assert_eq!(whole.iter().filter(|l| l.contains(",city,")).count(), 219);
    assert_eq!(only(&whole, &parts), Vec::<String>::new());
    assert_eq!(only(&parts, &whole), Vec::<String>::new());
    // worked by area, the report leaves townships and villages to the table
    use calamine::{open_workbook, Reader, Xlsx};
    let sheets = |p: &Path, out: &Path| -> Vec<String> {
        let o = zx_out(&[
            "report",
            "--pipeline",
            p.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        let dir = out.join("reports").join("2024");
        let x = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "xlsx"))
            .unwrap();
        let wb: Xlsx<_> = open_workbook(x).unwrap();
        wb.sheet_names()
    };
    let (a, c) = (sheets(&p_all, &out_all), sheets(&p_county, &out_county));
    assert!(
        a.contains(&"分乡镇".to_string()) && a.contains(&"村排名".to_string()),
        "{a:?}"
    );
    assert!(c.contains(&"分乡镇及村排名".to_string()), "{c:?}");
    assert!(
        !c.contains(&"分乡镇".to_string()) && !c.contains(&"村排名".to_string()),
        "{c:?}"
    );
}
